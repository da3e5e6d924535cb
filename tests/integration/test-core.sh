#!/bin/bash
# Core runtime, end to end on a real systemd: generator, socket units, tmpfiles,
# sockd-spawn with both readiness protocols, reloads under load through nginx,
# failed swaps, crashes, and a bad config beside good ones.
#
# Usage: test-core.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-core.sh BUILD_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"

ct useradd --system --no-create-home --shell /usr/sbin/nologin myapp
ct useradd --system --no-create-home --shell /usr/sbin/nologin outsider
ct mkdir -p /run/sockd-test

ct_write /etc/sockd/myapp.conf <<'EOF'
; the Python test app, Ready=notify
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=myapp
Group=myapp
Environment=PYAPP_FAIL_FLAG=/run/sockd-test/fail
Environment=PYAPP_HANG_FLAG=/run/sockd-test/hang
Workers=3
ReadyTimeoutSec=3s
StopTimeoutSec=20s

[Socket]
Directory=/run/myapp
Name=myapp.{worker}.sock
Group=www-data
Mode=0660
Backlog=1024
EOF

node=$(command -v node)
ct_write /etc/sockd/nodeapp.conf <<EOF
[App]
Exec=$node /usr/local/share/sockd-test/nodeapp.js
Workers=2
Ready=node-ipc
StopTimeoutSec=20s
EOF

# Workers=0 on line 3: must be reported and skipped, the others still generated.
ct_write /etc/sockd/broken.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
Workers=0
EOF

ct systemctl daemon-reload

# ---- generator ----
gen=/run/systemd/generator
for f in myapp@.socket myapp@.service myapp.target nodeapp@.service; do
	if ct test -f "$gen/$f"; then ok "generator wrote $f"; else fail "generator wrote $f"; fi
done
if ct test -e "$gen/broken@.service"; then fail "no units for the broken app"; else ok "no units for the broken app"; fi
assert_match "$(ct systemctl show -P SourcePath myapp@0.service)" '^/etc/sockd/myapp.conf$' "SourcePath= points at the config"
ct_journal_sync
assert_match "$(ct journalctl -b --no-pager -o cat 2>&1 | grep -F broken.conf || true)" \
	"'/etc/sockd/broken.conf':3: Workers: must be a number from 1 to 1024" "the broken config is reported with file:line and key"
dry=$(ct /lib/systemd/system-generators/sockd-generator --dry-run broken 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "--dry-run on a bad config exits non-zero"
assert_match "$dry" "broken.conf':3: Workers:" "--dry-run names file, line and key"
dry=$(ct /lib/systemd/system-generators/sockd-generator --dry-run myapp 2>&1)
assert_match "$dry" 'ListenStream=/run/myapp/myapp.%i.sock' "--dry-run prints the socket unit"

assert_eq "$(ct stat -c '%U %G %a' /run/sockd)" "root root 755" "tmpfiles.d/sockd.conf made /run/sockd at install"

# ---- systemd-analyze verify on instantiated copies ----
ct_sh 'set -e; d=/run/sockd-test/verify; mkdir -p $d
for a in myapp nodeapp; do
  cp /run/systemd/generator/$a@.service $d/$a@0.service
  cp /run/systemd/generator/$a@.socket $d/$a@0.socket
  cp /run/systemd/generator/$a.target $d/$a.target
done'
verify=$(ct_sh 'cd /run/sockd-test/verify && systemd-analyze verify --man=no ./*' 2>&1) || true
assert_eq "$verify" "" "systemd-analyze verify prints nothing for the generated units"

# ---- start, sockets, permissions ----
ct systemctl start myapp@0 myapp@1 myapp@2
for i in 0 1 2; do
	assert_eq "$(ct systemctl is-active myapp@$i.service)" active "myapp@$i is active"
done
assert_eq "$(ct stat -c '%U %G %a' /run/myapp)" "myapp www-data 2750" "socket dir: owner, group, setgid mode from tmpfiles"
for i in 0 1 2; do
	assert_eq "$(ct stat -c '%F %U %G %a' /run/myapp/myapp.$i.sock)" "socket myapp www-data 660" "myapp.$i.sock: owner, group, mode"
done
probe='import socket,sys
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print(e.strerror)'
assert_eq "$(ct runuser -u outsider -- python3 -c "$probe" /run/myapp/myapp.0.sock)" "Permission denied" \
	"a user outside the socket group gets EACCES"
assert_eq "$(ct runuser -u www-data -- python3 -c "$probe" /run/myapp/myapp.0.sock)" "connected" \
	"the socket's group (www-data) is admitted"
assert_match "$(ct systemctl show -P StatusText myapp@1.service)" '^serving: generation 1, pid [0-9]+' \
	"systemctl status shows generation, pid and state"
assert_match "$(ct systemctl show -P User myapp@1.service)" '^myapp$' "the app runs as the configured user"
assert_eq "$(ct systemctl show -P Slice myapp@1.service)" sockd.slice "workers run in sockd.slice"

# ---- through nginx, to the right worker ----
ct_nginx_start "$(sockd_nginx_conf)"
for i in 0 1 2; do
	assert_match "$(ct curl -sf "http://127.0.0.1:8080/w$i/")" "^app=myapp worker=$i generation=1 " \
		"nginx reaches worker $i (SOCKD_WORKER=$i)"
done
seen=$(for _ in 1 2 3 4 5 6; do ct curl -sf http://127.0.0.1:8080/; done | awk '{print $2}' | sort -u | tr '\n' ' ')
assert_eq "$seen" "worker=0 worker=1 worker=2 " "the round-robin upstream reaches all three workers"

# ---- Node app, Ready=node-ipc, started through its target ----
ct systemctl start nodeapp.target
for i in 0 1; do
	ct_wait_active "nodeapp@$i.service" 30 || ct_dump_unit "nodeapp@$i.service"
	assert_eq "$(ct systemctl is-active "nodeapp@$i.service")" active "nodeapp@$i started by nodeapp.target"
done
assert_match "$(ct curl -sf http://127.0.0.1:8080/node/)" '^app=nodeapp worker=[01] generation=1 ' "nginx serves the Node app"
assert_match "$(ct systemctl show -P User nodeapp@0.service)" '^nodeapp$' "no User=: runs as a dynamic user, not root"
assert_match "$(ct ps -o user= -p "$(ct systemctl show -P MainPID nodeapp@0.service)")" '^nodeapp$|^[0-9]+$' "the shim is not root"

# ---- reload under load ----
before=$(ct curl -sf http://127.0.0.1:8080/w1/)
pid_before=$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' <<<"$before")
ct_sh 'wrk -t2 -c16 -d6s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/w1/ >/run/sockd-test/wrk-reload.txt 2>&1 &'
sleep 2
if ct systemctl reload myapp@1; then ok "systemctl reload myapp@1 succeeds"; else fail "systemctl reload myapp@1 succeeds"; fi
after=$(sockd_wait_generation 2 http://127.0.0.1:8080/w1/)
assert_match "$after" '^app=myapp worker=1 generation=2 ' "after the reload worker 1 serves generation 2"
assert_match "$(ct systemctl show -P StatusText myapp@1.service)" '^serving: generation 2' "status shows generation 2"
pid_after=$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' <<<"$after")
if [[ -n $pid_after && $pid_after != "$pid_before" ]]; then ok "the app pid changed ($pid_before -> $pid_after)"; else fail "the app pid changed ($pid_before -> $pid_after)"; fi
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-reload.txt "reload under load"

# Node: reload through node-ipc ('shutdown' to the old one)
ct systemctl reload nodeapp@0
assert_match "$(ct systemctl show -P StatusText nodeapp@0.service)" '^serving: generation 2' "Node app reloaded to generation 2"

# ---- a new generation that exits at start: reload fails, old keeps serving ----
ct touch /run/sockd-test/fail
if ct systemctl reload myapp@1 2>/dev/null; then fail "reload fails when the new generation exits"; else ok "reload fails when the new generation exits"; fi
ct rm -f /run/sockd-test/fail
assert_eq "$(ct systemctl is-active myapp@1.service)" active "worker 1 still active after the failed reload"
now=$(ct curl -sf http://127.0.0.1:8080/w1/)
assert_match "$now" "pid=$pid_after " "the old generation still serves after the failed reload"
ct_journal_sync
assert_match "$(ct journalctl -b -u myapp@1.service --no-pager -o cat | grep -F 'Swap failed' | tail -n1)" \
	'generation 3 \(pid [0-9]+\) exited with status 3 before it was ready' "the journal says why the swap failed"

# ---- a new generation that never becomes ready: killed after ReadyTimeoutSec ----
ct touch /run/sockd-test/hang
if ct systemctl reload myapp@1 2>/dev/null; then fail "reload fails when the new generation never gets ready"; else ok "reload fails when the new generation never gets ready"; fi
ct rm -f /run/sockd-test/hang
assert_match "$(ct curl -sf http://127.0.0.1:8080/w1/)" "pid=$pid_after " "the old generation still serves after the timeout"
ct_journal_sync
assert_match "$(ct journalctl -b -u myapp@1.service --no-pager -o cat | grep -F 'Swap failed' | tail -n1)" \
	'did not become ready within ReadyTimeoutSec=3s' "the journal names the ready timeout"
ct_journal_sync
failed_pids=$(ct journalctl -b -u myapp@1.service --no-pager -o cat | sed -n 's/^Started generation [34] (pid \([0-9]*\)).*/\1/p' | tr '\n' ' ')
alive=""
for p in $failed_pids; do ct kill -0 "$p" 2>/dev/null && alive+="$p "; done
assert_match "$failed_pids" '^[0-9]+ [0-9]+ $' "the journal has the pids of the two failed generations"
assert_eq "$alive" "" "no process of a failed generation is left"
# and the next good reload works
if ct systemctl reload myapp@1; then ok "a good reload after failed ones works"; else fail "a good reload after failed ones works"; fi

# ---- journal fields ----
ct_journal_sync
n=$(ct journalctl -b --no-pager -o cat SOCKD_APP=myapp SOCKD_WORKER=1 SOCKD_GENERATION=2 | grep -c 'Generation 2' || true)
if ((n > 0)); then ok "journal entries carry SOCKD_APP, SOCKD_WORKER, SOCKD_GENERATION"; else fail "journal entries carry SOCKD_APP, SOCKD_WORKER, SOCKD_GENERATION"; fi
n=$(ct journalctl -b --no-pager -o cat SOCKD_APP=myapp | grep -c '^app.py: ' || true)
if ((n > 0)); then ok "the app's own output reaches the journal, tagged SOCKD_APP"; else fail "the app's own output reaches the journal, tagged SOCKD_APP"; fi

# ---- a killed app is restarted by systemd ----
victim=$(ct curl -sf http://127.0.0.1:8080/w2/ | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
ct kill -9 "$victim"
back=$(sockd_wait_pid_change "$victim" http://127.0.0.1:8080/w2/)
assert_match "$back" '^app=myapp worker=2 ' "worker 2 serves again after its app was killed"
assert_eq "$(ct systemctl show -P NRestarts myapp@2.service)" 1 "systemd restarted worker 2 once"
assert_eq "$(ct systemctl is-active myapp@2.socket)" active "the socket stayed active"

# ---- a bad config never stops a good app ----
ct_write /etc/sockd/broken2.conf <<'EOF'
[App]
Exec=relative/path
EOF
ct systemctl daemon-reload
assert_eq "$(ct systemctl is-active myapp@0.service myapp@1.service myapp@2.service | sort -u)" active \
	"the good app keeps running after daemon-reload with bad configs"
assert_match "$(ct curl -sf http://127.0.0.1:8080/w0/)" '^app=myapp worker=0 ' "and keeps serving"

# ---- an instance beyond Workers= is refused ----
if ct systemctl start myapp@7.service 2>/dev/null; then fail "myapp@7 (Workers=3) is refused"; else ok "myapp@7 (Workers=3) is refused"; fi
ct_journal_sync
assert_match "$(ct journalctl -b -u myapp@7.service --no-pager -o cat | grep -F 'does not exist' | head -n1)" \
	'Worker 7 does not exist: the app has 3 workers' "and the journal says why"
ct systemctl stop myapp@7.socket 2>/dev/null || true

# ---- no zombies under the shim ----
shim_pid=$(ct systemctl show -P MainPID myapp@0.service)
# shellcheck disable=SC2016 # expanded inside the container
assert_eq "$(ct_sh 'ps -o stat= --ppid $1 | grep -c Z || true' "$shim_pid")" 0 "no zombie children under the shim"

# ---- crash loop: back-off, and the socket is never given up (systemd#15633) ----
ct touch /run/sockd-test/crashloop
ct_write /etc/sockd/crashy.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=myapp
Environment=PYAPP_FAIL_FLAG=/run/sockd-test/crashloop
EOF
ct systemctl daemon-reload
ct systemctl start --no-block crashy@0.service
restarts=0
for ((i = 0; i < 60; i++)); do
	restarts=$(ct systemctl show -P NRestarts crashy@0.service)
	((restarts >= 6)) && break
	sleep 0.5
done
if ((restarts >= 6)); then ok "the crashing worker was restarted $restarts times (more than StartLimitBurst=5)"; else fail "the crashing worker was restarted 6 times (saw $restarts)"; fi
assert_eq "$(ct systemctl is-active crashy@0.socket)" active "the socket unit is still active during the crash loop"
assert_eq "$(ct python3 -c "$probe" /run/crashy/crashy.0.sock)" "connected" "the socket still accepts connections into its backlog"
ct_journal_sync
assert_match "$(ct journalctl -b -u crashy@0.service --no-pager -o cat | grep -F 'in a row; waiting' | tail -n1)" \
	'^The app failed [0-9]+ times? in a row; waiting [0-9]+m?s before starting it again' "the shim backs off between crashes"
ct rm -f /run/sockd-test/crashloop
if ct_wait_active crashy@0.service 60; then ok "the worker recovers once the app is fixed"; else fail "the worker recovers once the app is fixed"; fi
# fd hygiene, checked before any connection reaches this app: it inherits stdio and
# its socket on fd 3, nothing of the shim's.
app_pid=$(ct systemctl show -P StatusText crashy@0.service | sed -n 's/.*pid \([0-9]*\).*/\1/p')
# shellcheck disable=SC2016 # expanded inside the container
assert_eq "$(ct_sh 'cd /proc/$1/fd && ls | sort -n | tr "\n" " "' "$app_pid")" "0 1 2 3 " "the app's fds are 0 1 2 and the socket on 3"
assert_match "$(ct readlink "/proc/$app_pid/fd/3")" '^socket:' "fd 3 is the socket"
assert_match "$(ct curl -sf --unix-socket /run/crashy/crashy.0.sock http://localhost/)" '^app=crashy worker=0 ' "and serves on the same socket"

# ---- stop is graceful ----
ct systemctl stop myapp.target nodeapp.target crashy.target myapp@0 myapp@1 myapp@2 crashy@0
assert_eq "$(ct_sh "pgrep -f '[p]yapp.py' | wc -l")" 0 "stopping the workers leaves no app process"

sockd_assert_no_sanitizer_reports
ct_finish
