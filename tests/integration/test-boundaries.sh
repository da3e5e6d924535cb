#!/bin/bash
# The boundaries of sockd on a real systemd, with systemd-logind masked, so that nothing
# but sockdctl itself subscribes to systemd's signals:
#   - what the generator refuses at boot (system names, directories others own) and what
#     it leaves to the workers (users, EnvironmentFile=s that appear late);
#   - inline comments and quoted ';' in the config, as systemd then runs them;
#   - sockdctl's waits end on the failures the shims report, at once: a prepared
#     generation that dies before the commit reaches it, a suspension a shim refuses;
#   - suspensions survive a crash of the held generation and hold a worker that a
#     request starts; the old generation's process group is gone before
#     restart --suspended returns; a resume that fails.
#
# Usage: test-boundaries.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-boundaries.sh BUILD_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip

T=/run/sockd-test
A='Exec=/usr/bin/python3 /usr/local/share/sockd-test/protoapp.py'

# Configs that are there when systemd boots, so that the generator meets them at boot,
# as it would after a reboot: system names, and an app whose user and EnvironmentFile=
# the running system does not have yet.
ct_pre_boot() {
	local root=$1
	mkdir -p "$root/etc/sockd" "$root/etc/tmpfiles.d"
	printf '[App]\n%s\nUser=www-data\n' "$A" >"$root/etc/sockd/default.conf"
	printf '[App]\n%s\nUser=www-data\n' "$A" >"$root/etc/sockd/multi-user.conf"
	printf '[App]\n%s\nUser=www-data\n' "$A" >"$root/etc/sockd/log.conf"
	printf '[App]\n%s\nUser=www-data\n' "$A" >"$root/etc/sockd/user.conf"
	# Another package's runtime directory, created by its tmpfiles.d line.
	printf 'd /run/otherpkg 0755 daemon daemon -\n' >"$root/etc/tmpfiles.d/otherpkg.conf"
	printf '[App]\n%s\nUser=www-data\n' "$A" >"$root/etc/sockd/otherpkg.conf"
	printf '[App]\n%s\nUser=www-data\n[Socket]\nDirectory=/run/postgresql\n' "$A" >"$root/etc/sockd/pgsock.conf"
	cat >"$root/etc/sockd/late.conf" <<EOF
[App]
$A
User=lateuser
EnvironmentFile=/srv/late/env
Environment=PROTO_DIR=$T/flags-late
ReadyTimeoutSec=5s
[Socket]
User=root
EOF
}
CT_MASK_UNITS="nginx.service postgresql.service systemd-logind.service" ct_boot
sockd_install "$build" "$src"

assert_eq "$(ct systemctl is-active systemd-logind.service || true)" inactive "systemd-logind does not run (masked)"

# wait_status UNIT ERE [TENTHS]: until the unit's StatusText matches.
wait_status() {
	local i
	for ((i = 0; i < ${3:-150}; i++)); do
		[[ $(ct systemctl show -P StatusText "$1") =~ $2 ]] && return 0
		sleep 0.1
	done
	return 1
}

# ======== the generator at boot ========
assert_eq "$(ct systemctl get-default)" graphical.target "default.target is still the system's own"
assert_eq "$(ct systemctl show -P FragmentPath default.target multi-user.target | grep -c /generator || true)" 0 \
	"default.conf and multi-user.conf generated neither default.target nor multi-user.target"
ct_journal_sync
gen_log=$(ct journalctl -b --no-pager -o cat -t sockd-generator)
echo "$gen_log" | sed 's/^/# generator: /'
assert_match "$gen_log" "'/etc/sockd/default.conf': the app name 'default' would generate default.target, which is systemd's own special unit" \
	"default.conf is refused at boot, and the journal says why"
assert_match "$gen_log" "'/etc/sockd/user.conf': the app's units would shadow the existing unit user@.service" \
	"user.conf would shadow user@.service: refused"
assert_match "$gen_log" "'/etc/sockd/log.conf': the default socket directory of app 'log' is not the app's own: '/run/log' is /run/log" \
	"log.conf would take over /run/log: refused"
assert_match "$gen_log" "'/etc/sockd/otherpkg.conf': the default socket directory of app 'otherpkg' is not the app's own: '/run/otherpkg' belongs to someone else: /etc/tmpfiles.d/otherpkg.conf:1 names '/run/otherpkg'" \
	"otherpkg.conf would take over another package's tmpfiles.d directory: refused"
refused="default multi-user log user otherpkg"
if ct test -e /usr/lib/tmpfiles.d/postgresql-common.conf; then
	assert_match "$gen_log" "'/etc/sockd/pgsock.conf':5: Directory: '/run/postgresql' belongs to someone else: /usr/lib/tmpfiles.d/postgresql-common.conf" \
		"Directory=/run/postgresql is refused with file:line, as postgresql-common's tmpfiles.d names it"
	refused+=" pgsock"
else
	echo "# postgresql-common is not installed here: Directory=/run/postgresql belongs to nobody"
fi
for app in $refused; do
	if ct systemctl cat "$app@.socket" >/dev/null 2>&1; then fail "no units for $app"; else ok "no units for $app"; fi
done
assert_eq "$(ct stat -c '%a %U:%G' /run/otherpkg)" "755 daemon:daemon" "/run/otherpkg keeps its owner and mode"
assert_eq "$(ct stat -c '%a %U:%G' /run/log)" "755 root:root" "/run/log keeps its owner and mode"

# late.conf names a user and an EnvironmentFile= that do not exist at boot: generated all
# the same, the worker reports them when it starts.
if ct systemctl cat late@.service >/dev/null 2>&1; then ok "late.conf is generated at boot although its user and EnvironmentFile= are missing"; else fail "late.conf is generated at boot although its user and EnvironmentFile= are missing"; fi
err=$(ct /lib/systemd/system-generators/sockd-generator --dry-run late 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "sockd-generator --dry-run late checks the running system and fails"
assert_match "$err" "'/etc/sockd/late.conf':3: User: unknown user 'lateuser'" "and names the unknown user with file:line"
ct mkdir -p "$T/flags-late"
ct systemctl start late@0.service 2>/dev/null || true
ct_journal_sync
assert_match "$(ct journalctl -b --no-pager -o cat -u late@0.service | grep -m1 'user credentials' || true)" \
	'Failed to determine user credentials' "without its user the worker fails, and systemd says why"
assert_eq "$(ct systemctl is-active late@0.service || true)" failed "and stays failed, not restarted every 100 ms"
ct useradd --system --no-create-home --shell /usr/sbin/nologin lateuser
ct systemctl reset-failed late@0.service 2>/dev/null || true
ct systemctl start --no-block late@0.service
for ((i = 0; i < 100; i++)); do
	ct journalctl -b --no-pager -o cat -u late@0.service | grep -q 'EnvironmentFile=/srv/late/env does not exist' && break
	sleep 0.1
done
ct_journal_sync
assert_match "$(ct journalctl -b --no-pager -o cat -u late@0.service | grep -m1 'EnvironmentFile=/srv/late/env' || true)" \
	"EnvironmentFile=/srv/late/env does not exist .*Create it, or write EnvironmentFile=-/srv/late/env" \
	"with its user but without its EnvironmentFile=, the worker names the missing file"
if wait_status late@0.service '^backing off after [0-9]+ crash'; then ok "and backs off, the socket kept"; else fail "and backs off, the socket kept"; fi
ct mkdir -p /srv/late
echo 'LATE_GREETING=hello' | ct_write /srv/late/env
out=""
for ((i = 0; i < 150; i++)); do
	out=$(ct curl -sf --max-time 2 --unix-socket /run/late/late.0.sock http://x/) && break
	sleep 0.2
done
assert_match "$out" '^generation=[0-9]+ pid=[0-9]+ ' "once the file is there, the next attempt serves, with no daemon-reload"

# ======== inline comments and quoted ';' ========
ct useradd --system --no-create-home --shell /usr/sbin/nologin webapp
ct mkdir -p "$T/flags"
ct_write /etc/sockd/semi.conf <<EOF
[App]
Exec=/bin/sh -c "exec /usr/bin/python3 /usr/local/share/sockd-test/protoapp.py ; echo never"   ; comment
User=webapp
Environment=PROTO_DIR=$T/flags
Environment=SEMI=x ;y
Environment=COMMENTED=1 ; a comment
StopSignal=SIGINT
EOF
ct systemctl daemon-reload
verify=$(ct_sh 'cp /run/systemd/generator/semi@.service /run/semi@0.service && systemd-analyze verify /run/semi@0.service 2>&1 | grep -v -e "Documentation=" -e "man " -e "semi@0.socket" || true')
assert_eq "$verify" "" "a ';' inside Exec='s quotes stays there: systemd-analyze verify finds nothing wrong"
assert_match "$(ct systemctl show -P Environment semi@0.service)" 'SEMI=x ;y' "'x ;y' is kept whole: not a comment"
assert_match "$(ct systemctl show -P Environment semi@0.service)" 'COMMENTED=1( |$)' "' ; a comment' is one"
ct systemctl start semi@0.service
assert_match "$(ct curl -sf --unix-socket /run/semi/semi.0.sock http://x/)" '^generation=1 ' "and the app serves"
ct systemctl stop semi@0.service
ct_journal_sync
assert_match "$(ct journalctl -b --no-pager -o cat -u semi@0.service)" $'sent SIGINT\\.\n(.*\n)*protoapp\\[gen 1 pid [0-9]+\\]: got SIGINT' \
	"StopSignal=SIGINT: the app is asked to stop with SIGINT"

# ======== sockdctl: waits that end on the failure they can see ========
ct_write /etc/sockd/web.conf <<EOF
[App]
$A
User=webapp
Environment=PROTO_DIR=$T/flags
Workers=2
ReadyTimeoutSec=10s
StopTimeoutSec=8s
EOF
ct systemctl daemon-reload
ct sockdctl -q start web
assert_match "$(ct sockdctl status web)" $'\nweb@1.service +serving +1 ' "web serves"

# A restart on a bus where only sockdctl subscribes.
if out=$(ct timeout 60 sockdctl --timeout=40 restart web 2>&1); then ok "sockdctl restart works with logind masked (it subscribes itself)"; else fail "sockdctl restart works with logind masked (it subscribes itself)"; fi
echo "$out" | sed 's/^/# /'
assert_match "$out" 'web@1.service: generation 1 -> 2' "and moves every worker on"

# A prepared generation that dies before the commit reaches it. web@0's new generation
# takes 3 s; web@1's is ready at once, its shim is frozen, and its prepared generation
# killed: the commit meets a dead generation.
ct_sh "echo 3 >$T/flags/slow.w0.3"
ct_sh "sockdctl --timeout=120 restart web >$T/r5.out 2>&1; echo \$? >$T/r5.rc" &
rpid=$!
prepared=""
for ((i = 0; i < 100; i++)); do
	prepared=$(ct systemctl show -P StatusText web@1.service | sed -n 's/.*ready: generation 3, pid \([0-9]*\).*/\1/p')
	[[ -n $prepared ]] && break
	sleep 0.05
done
shim1=$(ct systemctl show -P MainPID web@1.service)
ct kill -STOP "$shim1"
[[ -n $prepared ]] && ct kill -9 "$prepared"
for ((i = 0; i < 100; i++)); do
	ct systemctl show -P StatusText web@0.service | grep -q '^serving: generation 3' && break
	sleep 0.1
done
ct kill -CONT "$shim1"
t0=$(ct date +%s)
wait "$rpid" || true
t1=$(ct date +%s)
ct rm -f "$T/flags/slow.w0.3"
err=$(ct cat "$T/r5.out")
echo "$err" | sed 's/^/# /'
assert_eq "$(ct cat "$T/r5.rc")" 1 "a prepared generation that died before the commit: sockdctl restart exits 1"
if ((t1 - t0 < 60)); then ok "at once, not after --timeout=120s ($((t1 - t0)) s after the shim went on)"; else fail "at once, not after --timeout=120s ($((t1 - t0)) s)"; fi
assert_match "$err" "web@1.service: generation 3 \\(pid $prepared\\) was killed by SIGKILL while it waited for the swap to be committed" \
	"and names the worker and the cause"
assert_match "$err" "The other workers switched to the new generation" "and says what holds"
assert_match "$(ct sockdctl status web)" $'\nweb@0.service +serving +3 .*\nweb@1.service +serving +2 ' \
	"web@0 serves the new generation, web@1 its previous one"
out=$(ct sockdctl restart web 2>&1) || fail "a restart after that works"
assert_match "$out" 'web@1.service: generation 2 -> 4' "and brings every worker to one release"

# A Suspend=queue suspension that a shim refuses: a reload runs there (it arrives while
# that shim is frozen, after sockdctl has looked at its status).
ct_sh "echo 3 >$T/flags/slow.w1"
shim1=$(ct systemctl show -P MainPID web@1.service)
ct kill -STOP "$shim1"
ct_sh "sockdctl --timeout=120 restart --suspended web >$T/r5b.out 2>&1; echo \$? >$T/r5b.rc" &
rpid=$!
for ((i = 0; i < 100; i++)); do
	ct systemctl show -P StatusText web@0.service | grep -q 'suspended: queueing' && break
	sleep 0.1
done
ct kill -HUP "$shim1"
ct kill -CONT "$shim1"
t0=$(ct date +%s)
wait "$rpid" || true
t1=$(ct date +%s)
ct rm -f "$T/flags/slow.w1"
err=$(ct cat "$T/r5b.out")
echo "$err" | sed 's/^/# /'
assert_eq "$(ct cat "$T/r5b.rc")" 1 "a suspension the shim refuses: exit 1"
if ((t1 - t0 < 60)); then ok "at once ($((t1 - t0)) s)"; else fail "at once ($((t1 - t0)) s)"; fi
assert_match "$err" 'web@1.service: suspend refused: a swap to generation [0-9]+ is in progress \(a reload\)' \
	"naming the worker and why"
assert_match "$err" "The other workers are suspended: 'sockdctl resume web' serves requests again" "and what to do"
wait_status web@1.service '^serving: ' || true
out=$(ct sockdctl resume web 2>&1) || fail "resume after the refused suspension"
assert_match "$(ct sockdctl status web)" $'\nweb@0.service +serving .*\nweb@1.service +serving ' "every worker serves again"

# ======== suspensions that survive ========
# (a) Suspend=hold: the held generation crashes during the migration.
ct_write /etc/sockd/held.conf <<EOF
[App]
$A
User=webapp
Environment=PROTO_DIR=$T/flags
Workers=2
Suspend=hold
StopTimeoutSec=8s
EOF
ct systemctl daemon-reload
ct sockdctl -q start held
out=$(ct sockdctl restart --suspended held 2>&1) || fail "restart --suspended held"
echo "$out" | sed 's/^/# /'
held0=$(ct systemctl show -P StatusText held@0.service | sed -n 's/^suspended: generation [0-9]*, pid \([0-9]*\).*/\1/p')
nr=$(ct systemctl show -P NRestarts held@0.service)
ct kill -9 "$held0"
for ((i = 0; i < 100; i++)); do
	[[ $(ct systemctl show -P NRestarts held@0.service) != "$nr" ]] &&
		ct systemctl show -P StatusText held@0.service | grep -q '^suspended: generation' && break
	sleep 0.1
done
assert_match "$(ct systemctl show -P StatusText held@0.service)" '^suspended: generation [0-9]+, pid [0-9]+' \
	"the held generation crashed: the worker was restarted, and its new generation is held too"
ct_sh "curl -s --max-time 30 --unix-socket /run/held/held.0.sock http://x/ >$T/held-reply 2>&1 &"
sleep 2
assert_eq "$(ct cat "$T/held-reply")" "" "a request to it is held, not answered"
out=$(ct sockdctl resume held 2>&1) || fail "resume held"
for ((i = 0; i < 100; i++)); do [[ -n $(ct cat "$T/held-reply") ]] && break; sleep 0.1; done
assert_match "$(ct cat "$T/held-reply")" '^generation=[0-9]+ ' "after resume it is answered"

# (b) Suspend=queue: a worker that was stopped is started by a request.
ct systemctl stop web@1.service
out=$(ct sockdctl restart --suspended web 2>&1) || fail "restart --suspended web with web@1 stopped"
echo "$out" | sed 's/^/# /'
ct_sh "curl -s --max-time 30 --unix-socket /run/web/web.1.sock http://x/ >$T/act-reply 2>&1 &"
for ((i = 0; i < 100; i++)); do
	[[ $(ct systemctl is-active web@1.service) == active ]] && break
	sleep 0.1
done
assert_eq "$(ct systemctl is-active web@1.service)" active "a request starts the stopped worker (socket activation)"
assert_match "$(ct systemctl show -P StatusText web@1.service)" '^suspended: queueing$' "and it comes up suspended"
sleep 1
assert_eq "$(ct cat "$T/act-reply")" "" "the request waits"
out=$(ct sockdctl resume web 2>&1) || fail "resume web"
echo "$out" | sed 's/^/# /'
for ((i = 0; i < 100; i++)); do [[ -n $(ct cat "$T/act-reply") ]] && break; sleep 0.1; done
assert_match "$(ct cat "$T/act-reply")" '^generation=[0-9]+ ' "after resume it is answered by a new generation"

# ======== restart --suspended waits for the old generation's whole process group ========
gen=$(ct systemctl show -P StatusText web@0.service | sed -n 's/^serving: generation \([0-9]*\).*/\1/p')
ct_sh "echo 5 >$T/flags/helper.w0.$((gen + 1))"
out=$(ct sockdctl restart web 2>&1) || fail "a restart to a generation with a helper"
pgid=$(ct systemctl show -P StatusText web@0.service | sed -n 's/^serving: generation [0-9]*, pid \([0-9]*\).*/\1/p')
ct rm -f "$T/flags/helper.w0.$((gen + 1))"
assert_match "$(ct pgrep -g "$pgid" | wc -l)" '^[2-9]' "the serving generation has a helper in its process group"
out=$(ct sockdctl restart --suspended web 2>&1) || fail "restart --suspended web"
left=$(ct pgrep -a -g "$pgid" || true)
assert_eq "$left" "" "when restart --suspended returns, no process of the old generation's group is left"
ct sockdctl -q resume web

# ======== a resume that fails ========
out=$(ct sockdctl restart --suspended web 2>&1) || fail "restart --suspended web"
ct_sh "touch $T/flags/fail"
nr=$(ct systemctl show -P NRestarts web@0.service)
err=$(ct sockdctl resume web 2>&1) && rc=0 || rc=$?
echo "$err" | sed 's/^/# /'
assert_eq "$rc" 1 "a resume whose new generation fails exits 1"
assert_match "$err" 'web@0.service: generation [0-9]+ \(pid [0-9]+\) exited with status 3 before it was ready' \
	"naming the worker and the cause"
assert_match "$err" 'protoapp\[gen [0-9]+ pid [0-9]+\]: failing at start on purpose \\x1b\]0;retitled\\x07' \
	"with its last log lines, the app's terminal escape shown as text"
if [[ $err == *$'\x1b'* ]]; then fail "no raw escape character reaches the terminal"; else ok "no raw escape character reaches the terminal"; fi
for ((i = 0; i < 100; i++)); do
	[[ $(ct systemctl show -P NRestarts web@0.service) != "$nr" ]] && break
	sleep 0.1
done
if [[ $(ct systemctl show -P NRestarts web@0.service) != "$nr" ]]; then ok "systemd restarts the worker"; else fail "systemd restarts the worker"; fi
ct rm -f "$T/flags/fail"
if wait_status web@0.service '^serving: generation' 300; then ok "with the app fixed it serves after the back-off, no longer suspended"; else fail "with the app fixed it serves after the back-off, no longer suspended"; fi

sockd_assert_no_sanitizer_reports
ct_finish
