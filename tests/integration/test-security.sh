#!/bin/bash
# Security of the generated units on a real systemd:
# - `systemd-analyze security` rates the worker service of a default config (no User=,
#   so a dynamic user) at an overall exposure of 2.5 or lower, and the apps still serve,
#   swap and restart inside that sandbox, with a dynamic user, a static user and root;
# - every config in tests/bad-configs/ beside good ones at daemon-reload: the good apps
#   keep running, a new good app starts and serves, no unit of a bad app exists, and
#   the journal has one message per bad file with its file:line.
#
# Usage: test-security.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-security.sh BUILD_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

max_exposure=2.5
apps=(secdefault secstatic secroot)

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"

ct useradd --system --no-create-home --shell /usr/sbin/nologin secapp

# A default config: nothing but the program and one worker.
ct_write /etc/sockd/secdefault.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/app.py
Workers=1
EOF
ct_write /etc/sockd/secstatic.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/app.py
User=secapp
Workers=1
EOF
ct_write /etc/sockd/secroot.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/app.py
User=root
Workers=1
EOF
ct systemctl daemon-reload

# get APP: one request on APP's worker 0 socket.
get() { ct curl -sf --unix-socket "/run/$1/$1.0.sock" http://localhost/ || true; }
# serves APP GEN: the first answer from generation GEN (an old one may still accept for
# a moment after a swap), else the last answer.
serves() {
	local out="" i
	for ((i = 0; i < 50; i++)); do
		out=$(get "$1")
		[[ $out == *" generation=$2 "* ]] && break
		sleep 0.1
	done
	echo "$out"
}

# ---- the apps, sandboxed ----
ct systemctl start secdefault@0 secstatic@0 secroot@0
for app in "${apps[@]}"; do
	ct_wait_active "$app@0.service" 30 || ct_dump_unit "$app@0.service"
	assert_match "$(get "$app")" "^app=$app worker=0 generation=1 " "$app: serves on its socket inside the sandbox"
done
assert_eq "$(ct systemctl show -P DynamicUser secdefault@0.service) $(ct systemctl show -P User secdefault@0.service)" \
	"yes secdefault" "the default config runs as a dynamic user"

# systemd-analyze security APP@0.service -> "2.4"
exposure() {
	ct systemd-analyze security --no-pager "$1" 2>&1 |
		sed -n 's/.*Overall exposure level for [^ ]*: \([0-9][0-9.]*\).*/\1/p'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }
declare -A score
for app in "${apps[@]}"; do
	score[$app]=$(exposure "$app@0.service")
	echo "# systemd-analyze security $app@0.service: overall exposure ${score[$app]:-?}"
done
if le "${score[secdefault]}" "$max_exposure"; then
	ok "default config (dynamic user): exposure ${score[secdefault]} <= $max_exposure"
else
	fail "default config (dynamic user): exposure ${score[secdefault]:-?} <= $max_exposure"
	ct systemd-analyze security --no-pager secdefault@0.service 2>&1 | grep '✗' | sed 's/^/#   /' || true
fi
if le "${score[secstatic]}" "$max_exposure"; then
	ok "static User=: exposure ${score[secstatic]} <= $max_exposure"
else
	fail "static User=: exposure ${score[secstatic]:-?} <= $max_exposure"
fi
assert_match "${score[secroot]:-}" '^[0-9]+\.[0-9]$' "User=root is rated too (${score[secroot]:-?})"

# What the sandbox looks like from the app's side (the app is the shim's child).
app_pid() { ct systemctl show -P StatusText "$1@0.service" | sed -n 's/.*pid \([0-9]*\).*/\1/p'; }
# cap_has HEXMASK BIT
cap_has() { (((16#$1 >> $2) & 1)); }
pid=$(app_pid secdefault)
bnd=$(ct sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$pid/status")
if ! cap_has "$bnd" 21 && ! cap_has "$bnd" 19 && ! cap_has "$bnd" 12; then
	ok "no CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN in the app's bounding set ($bnd)"
else
	fail "no CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN in the app's bounding set ($bnd)"
fi
assert_eq "$(ct sed -n 's/^NoNewPrivs:[[:space:]]*//p' "/proc/$pid/status")" 1 "NoNewPrivs is set"
assert_match "$(ct nsenter -t "$pid" -m findmnt -n -o OPTIONS /proc)" 'hidepid=invisible' "/proc is mounted hidepid=invisible for the app"
uid=$(ct stat -c %u "/proc/$pid")
# shellcheck disable=SC2016 # expanded inside the container
seen=$(ct nsenter -t "$pid" -m setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
	sh -c 'for p in 1 "$1"; do if [ -d /proc/$p ]; then printf "%s:seen " $p; else printf "%s:hidden " $p; fi; done' sh "$pid")
assert_eq "$seen" "1:hidden $pid:seen " "the app's user sees its own processes in /proc, not PID 1"
if [[ $(ct readlink "/proc/$pid/ns/ipc") != "$(ct readlink /proc/1/ns/ipc)" ]]; then ok "the app has its own IPC namespace"; else fail "the app has its own IPC namespace"; fi
# User=root keeps root's powers over files and identities, not the machine's.
bnd=$(ct sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$(app_pid secroot)/status")
if cap_has "$bnd" 1 && cap_has "$bnd" 7 && ! cap_has "$bnd" 21 && ! cap_has "$bnd" 16; then
	ok "User=root: CAP_DAC_OVERRIDE and CAP_SETUID kept, CAP_SYS_ADMIN and CAP_SYS_MODULE dropped ($bnd)"
else
	fail "User=root: CAP_DAC_OVERRIDE and CAP_SETUID kept, CAP_SYS_ADMIN and CAP_SYS_MODULE dropped ($bnd)"
fi

# Swaps and restarts work inside the sandbox.
for app in "${apps[@]}"; do
	if ct systemctl reload "$app@0"; then ok "$app: systemctl reload"; else fail "$app: systemctl reload"; fi
	assert_match "$(serves "$app" 2)" "^app=$app worker=0 generation=2 " "$app: generation 2 serves after the reload"
	out=$(ct sockdctl restart "$app" 2>&1) || true
	assert_match "$out" "$app@0.service: generation 2 -> 3" "$app: sockdctl restart"
	assert_match "$(serves "$app" 3)" "^app=$app worker=0 generation=3 " "$app: generation 3 serves after sockdctl restart"
done

# ---- the bad configs: reported, skipped, one message each ----
# Every bad config, and one more good app, beside the running apps. Those marked
# "; at boot: generated" name what only the running system can tell (a user, an
# EnvironmentFile=): the generator writes their units and leaves them to the worker.
bad=() at_boot=()
# Some of them collide with units and tmpfiles.d lines of other packages: install those.
(cd "$src/tests/claims-root" && find . -type f) | while read -r f; do
	ct_write "${f#.}" <"$src/tests/claims-root/$f"
done
for f in "$src"/tests/bad-configs/*.conf; do
	name=$(basename "$f" .conf)
	if sed -n 2p "$f" | grep -q '^; at boot: generated'; then
		at_boot+=("$name")
	else
		bad+=("$name")
	fi
	ct_write "/etc/sockd/$name.conf" <"$f"
done
ct_write /etc/sockd/secgood.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/app.py
User=www-data
Group=nogroup
EOF
echo "# ${#bad[@]} bad configs in /etc/sockd"
cursor=$(ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
t0=$(ct__now_us)
ct systemctl daemon-reload
secs=$((($(ct__now_us) - t0) / 1000000))
# systemd kills a generator that hangs after 90 s, and then has none of its units.
if ((secs < 30)); then ok "daemon-reload with the bad configs takes ${secs}s"; else fail "daemon-reload with the bad configs takes ${secs}s: the generator hung"; fi

if ct systemctl start secgood@0; then ok "a new good app starts beside the bad configs"; else fail "a new good app starts beside the bad configs"; fi
assert_match "$(get secgood)" '^app=secgood worker=0 generation=1 ' "and serves"
for app in "${apps[@]}"; do
	assert_eq "$(ct systemctl show -P LoadState "$app@0.service") $(ct systemctl show -P ActiveState "$app@0.service")" \
		"loaded active" "$app@0 is still loaded and active"
done
missing=""
for app in "${apps[@]}" secgood; do
	for u in "$app@.service" "$app@.socket" "$app.target"; do
		ct test -e "/run/systemd/generator/$u" || missing+="$u "
	done
done
assert_eq "$missing" "" "the good apps' units are generated"

ct_journal_sync
# (Not `journalctl --after-cursor=C -t sockd-generator`: systemd 252 then skips the
# first matching entry.)
journal=$(ct journalctl --no-pager -o json --after-cursor="$cursor" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("SYSLOG_IDENTIFIER") == "sockd-generator":
        print(e.get("MESSAGE"))')
present="" wrong=""
for name in "${bad[@]}"; do
	for u in "$name@0.service" "$name@0.socket" "$name.target"; do
		# (default.target exists, it is the system's: what matters is where it is from.)
		from=$(ct systemctl show -P FragmentPath "$u")
		[[ $from != /run/systemd/generator* ]] || present+="$u=$from "
	done
	for u in "$name@.service" "$name@.socket" "$name.target"; do
		! ct test -e "/run/systemd/generator/$u" || present+="generated:$u "
	done

	first=$(head -n 1 "$src/tests/bad-configs/$name.conf")
	first=${first#$'\xEF\xBB\xBF'}
	expect=${first#'; expect: '}
	expect=${expect/"'FILE'"/"'/etc/sockd/$name.conf'"}
	n=$(grep -cF "'/etc/sockd/$name.conf':" <<<"$journal" || true)
	if [[ $n != 1 ]] || ! grep -qF -- "$expect" <<<"$journal"; then
		wrong+="$name "
		printf '#   %s: %s message(s), expected: %s\n' "$name" "$n" "$expect"
		grep -F "'/etc/sockd/$name.conf':" <<<"$journal" | sed 's/^/#     got: /' || true
	fi
done
assert_eq "$present" "" "no unit of any bad app is generated or loaded"
unexpected=""
for name in "${at_boot[@]}"; do
	ct test -e "/run/systemd/generator/$name@.service" || unexpected+="missing:$name "
	! grep -qF "'/etc/sockd/$name.conf':" <<<"$journal" || unexpected+="reported:$name "
done
assert_eq "$unexpected" "" "the ${#at_boot[@]} apps only the running system can judge are generated, without a message"
assert_eq "$wrong" "" "the journal has one message per bad file, with its file:line and message"
assert_eq "$(grep -c . <<<"$journal" || true)" "${#bad[@]}" "and nothing else from sockd-generator"

if ct systemctl restart secdefault@0; then ok "a running app restarts from its regenerated units"; else fail "a running app restarts from its regenerated units"; fi
assert_match "$(get secdefault)" '^app=secdefault worker=0 ' "and serves"

ct systemctl stop secdefault@0 secstatic@0 secroot@0 secgood@0 || true
sockd_assert_no_sanitizer_reports
ct_finish
