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
# good app, as at boot: it writes exactly the good app's units, nothing of any bad app,
# exits non-zero and reports every bad file once. A second line
#
#   ; at boot: generated (why)
#
# marks a mistake only the running system can show (an unknown user, a missing
# EnvironmentFile=): --dry-run reports it, but the generator at boot must not depend on
# NSS or late mounts, so it writes that app's units and says nothing.
#
# Usage: check-bad-configs.sh SOURCE_DIR GENERATOR
set -euo pipefail

src=$(cd "${1:?usage: check-bad-configs.sh SOURCE_DIR GENERATOR}" && pwd)
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

# The generator logs to stderr only when no service manager runs it. The units and
# tmpfiles.d lines that exist are those of tests/claims-root, the same on every machine.
run_gen() {
	env -u SYSTEMD_SCOPE -u JOURNAL_STREAM -u NOTIFY_SOCKET SOCKD_CONFIG_PATH="$confs" \
		SOCKD_CLAIMS_ROOT="$src/tests/claims-root" "$gen" "$@"
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

names=() at_boot=()
for f in "${files[@]}"; do
	name=$(basename "$f" .conf)
	names+=("$name")
	if sed -n 2p "$f" | grep -q '^; at boot: generated'; then at_boot+=("$name"); fi
	cp -- "$f" "$confs/"
done
if ((${#at_boot[@]} >= 5)); then ok "${#at_boot[@]} of them only the running system can show"; else fail "${#at_boot[@]} of them only the running system can show (at least 5)"; fi
is_at_boot() {
	local n
	for n in "${at_boot[@]}"; do [[ $n == "$1" ]] && return 0; done
	return 1
}

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
expected=$(for n in good "${at_boot[@]}"; do
	printf '%s\n' "$n.target" "$n@.service" "$n@.socket" "multi-user.target.wants/$n.target" "sockd/$n.tmpfiles.conf"
done | { cat; printf '%s\n' multi-user.target.wants sockd; } | LC_ALL=C sort | tr '\n' ' ')
if [[ $written == "$expected" ]]; then
	ok "exactly the units of the good app and of those checked at start are written"
else
	fail "exactly the units of the good app and of those checked at start are written"
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
if [[ $total == "$((${#names[@]} - ${#at_boot[@]}))" ]]; then
	ok "one error line per bad file that boot can tell ($total)"
else
	fail "one error line per bad file that boot can tell ($((${#names[@]} - ${#at_boot[@]})), got $total)"
	show stderr "$err"
fi
missing=""
for name in "${names[@]}"; do
	n=$(grep -cF "'$confs/$name.conf':" "$tmp/err" || true)
	if is_at_boot "$name"; then
		[[ $n == 0 ]] || missing+="$name($n, expected 0) "
	else
		[[ $n == 1 ]] || missing+="$name($n) "
	fi
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
