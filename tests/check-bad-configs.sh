#!/bin/bash
# Every file in tests/bad-configs/ is a config with one mistake. Its first line says
# what the generator must report:
#
#   ; expect: 'FILE':LINE: Key: message prefix      (FILE stands for the file's path)
#   ; expect: 'FILE': message prefix                (errors that belong to no line)
#
# (a UTF-8 byte order mark may come before the ';'). For each file, `sockd-generator
# --dry-run APP` must exit non-zero, print that message on stderr (one line) and no
# unit on stdout. Then the generator runs for real over all the bad files plus one
# good app: it writes exactly the good app's units, nothing of any bad app, exits
# non-zero and reports every bad file once.
#
# Usage: check-bad-configs.sh SOURCE_DIR GENERATOR
set -euo pipefail

src=${1:?usage: check-bad-configs.sh SOURCE_DIR GENERATOR}
gen=${2:?usage: check-bad-configs.sh SOURCE_DIR GENERATOR}
bad_dir=$src/tests/bad-configs

passed=0 failed=0 num=0
ok() {
	num=$((num + 1)) passed=$((passed + 1))
	printf 'ok %d - %s\n' "$num" "$*"
}
fail() {
	num=$((num + 1)) failed=$((failed + 1))
	printf 'not ok %d - %s\n' "$num" "$*"
}
# Indented, '#'-prefixed dump of a text for a failed check.
show() {
	printf '%s\n' "$2" | sed "s/^/#   $1: /"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-bad-configs.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
confs=$tmp/conf
mkdir -p "$confs"

# The generator logs to stderr only when no service manager runs it.
run_gen() {
	env -u SYSTEMD_SCOPE -u JOURNAL_STREAM -u NOTIFY_SOCKET SOCKD_CONFIG_PATH="$confs" "$gen" "$@"
}

# A good app beside the bad ones: real users and groups of a Debian system, and a line
# of 198 bytes, the longest allowed.
long=$(printf 'x%.0s' $(seq 1 181))
cat >"$confs/good.conf" <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/app.py
User=www-data
Group=nogroup
Environment=LONG=$long
EnvironmentFile=-/etc/sockd-test-no-such-dir/env
Workers=2

[Socket]
Group=nogroup
Mode=0660
EOF
if [[ $(sed -n 5p "$confs/good.conf" | wc -c) == 199 ]]; then ok "good.conf has a line of 198 bytes"; else fail "good.conf has a line of 198 bytes"; fi

shopt -s nullglob
files=("$bad_dir"/*.conf)
if ((${#files[@]} >= 30)); then ok "${#files[@]} bad configs (at least 30)"; else fail "${#files[@]} bad configs (at least 30)"; fi

names=()
for f in "${files[@]}"; do
	name=$(basename "$f" .conf)
	names+=("$name")
	cp -- "$f" "$confs/"
done

out=$(run_gen --dry-run good 2>"$tmp/err") && rc=0 || rc=$?
if [[ $rc == 0 && $out == *"ListenStream=/run/good/good.%i.sock"* && ! -s $tmp/err ]]; then
	ok "--dry-run good: the good app is valid next to the bad ones"
else
	fail "--dry-run good: the good app is valid next to the bad ones (exit status $rc)"
	show stderr "$(cat "$tmp/err")"
fi

# ---- each bad file alone, with --dry-run ----
for name in "${names[@]}"; do
	path=$confs/$name.conf
	first=$(head -n 1 "$path")
	first=${first#$'\xEF\xBB\xBF'}
	if [[ $first != '; expect: '* ]]; then
		fail "$name: first line is '; expect: ...'"
		continue
	fi
	expect=${first#'; expect: '}
	expect=${expect/"'FILE'"/"'$path'"}

	out=$(run_gen --dry-run "$name" 2>"$tmp/err") && rc=0 || rc=$?
	err=$(cat "$tmp/err")
	lines=$(grep -c '' "$tmp/err" || true)
	if [[ $rc != 0 && $err == *"$expect"* && $lines == 1 && -z $out ]]; then
		ok "$name: ${first#'; expect: '}"
	else
		fail "$name: ${first#'; expect: '}"
		printf '#   exit status %s, %s stderr lines, %s bytes on stdout\n' "$rc" "$lines" "${#out}"
		show expected "$expect"
		show stderr "$err"
		[[ -z $out ]] || show stdout "$(head -n 5 <<<"$out")"
	fi
done

# ---- all of them at once, as at boot ----
outdir=$tmp/generator
mkdir -p "$outdir"
run_gen "$outdir" 2>"$tmp/err" && rc=0 || rc=$?
if [[ $rc != 0 ]]; then ok "the generator exits non-zero when a config is bad"; else fail "the generator exits non-zero when a config is bad"; fi

written=$(cd "$outdir" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | tr '\n' ' ')
expected="good.target good@.service good@.socket multi-user.target.wants multi-user.target.wants/good.target sockd sockd/good.tmpfiles.conf "
if [[ $written == "$expected" ]]; then
	ok "exactly the good app's units are written"
else
	fail "exactly the good app's units are written"
	show expected "$expected"
	show written "$written"
fi
if [[ -f $outdir/good@.service ]] && grep -q '^User=www-data$' "$outdir/good@.service" &&
	grep -q '^ListenStream=/run/good/good.%i.sock$' "$outdir/good@.socket" &&
	grep -q '^Wants=good@0.service good@1.service$' "$outdir/good.target"; then
	ok "the good app's units are complete"
else
	fail "the good app's units are complete"
fi

err=$(cat "$tmp/err")
total=$(grep -c '' "$tmp/err" || true)
if [[ $total == "${#names[@]}" ]]; then
	ok "one error line per bad file (${#names[@]})"
else
	fail "one error line per bad file (${#names[@]}, got $total)"
	show stderr "$err"
fi
missing=""
for name in "${names[@]}"; do
	n=$(grep -cF "'$confs/$name.conf':" "$tmp/err" || true)
	[[ $n == 1 ]] || missing+="$name($n) "
done
if [[ -z $missing ]]; then
	ok "every bad file is reported exactly once, by its path"
else
	fail "every bad file is reported exactly once, by its path: $missing"
fi
if grep -qF "good.conf" "$tmp/err"; then
	fail "nothing is reported about the good app"
	show stderr "$(grep -F good.conf "$tmp/err")"
else
	ok "nothing is reported about the good app"
fi

printf '1..%d\n%d passed, %d failed\n' "$num" "$passed" "$failed"
((failed == 0))
