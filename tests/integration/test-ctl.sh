#!/bin/bash
# sockdctl on a real systemd: list, status, start/stop, the all-or-nothing restart under
# load through nginx, failed releases, suspended restarts in both modes, resume, and
# the errors a user meets.
#
# Usage: test-ctl.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-ctl.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"

ct useradd --system --no-create-home --shell /usr/sbin/nologin webapp
ct useradd --create-home --shell /bin/bash outsider
ct mkdir -p /run/sockd-test
node=$(command -v node)

# Suspend=queue, Ready=notify; {worker} in the flags lets one worker fail alone.
ct_write /etc/sockd/web.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=webapp
Environment=PYAPP_FAIL_FLAG=/run/sockd-test/web-fail-{worker}
Environment=PYAPP_HANG_FLAG=/run/sockd-test/web-hang-{worker}
Workers=3
ReadyTimeoutSec=3s
StopTimeoutSec=20s
Suspend=queue
EOF
# Suspend=hold with Ready=notify: held with SOCKD_SUSPENDED=1, released by SIGUSR2.
ct_write /etc/sockd/held.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=webapp
Workers=2
Suspend=hold
StopTimeoutSec=20s
EOF
# Suspend=hold with Ready=node-ipc: released by the 'resume' message.
ct_write /etc/sockd/nodehold.conf <<EOF
[App]
Exec=$node /usr/local/share/sockd-test/nodeapp.js
Workers=2
Ready=node-ipc
Suspend=hold
StopTimeoutSec=20s
EOF
ct systemctl daemon-reload
# nginx uses the upstreams `sockdctl nginx APP` prints
snippet=$(ct sockdctl nginx web)
assert_match "$snippet" $'upstream web \\{\n    server unix:/run/web/web.0.sock max_fails=0;\n    server unix:/run/web/web.1.sock max_fails=0;\n    server unix:/run/web/web.2.sock max_fails=0;\n' \
	"sockdctl nginx web: an upstream of the three worker sockets with max_fails=0"
assert_match "$snippet" 'keepalive_timeout 4s;' "with keep-alive settings"
assert_match "$snippet" 'keepalive_time 750ms;' "renewing connections, for the handover after a swap"
ct_nginx_start "$(sockd_nginx_conf_apps web:3 held:2 nodehold:2)"

# ---- start, list, status ----
out=$(ct sockdctl start web)
assert_match "$out" '^Started web: 3 workers' "sockdctl start web"
for i in 0 1 2; do
	assert_eq "$(ct systemctl is-active "web@$i.service")" active "web@$i is active after sockdctl start"
done
ct sockdctl -q start held
ct sockdctl -q start nodehold

list=$(ct sockdctl list)
assert_match "$list" $'\nweb +3  /run/web/web.0.sock ... +/etc/sockd/web.conf' "sockdctl list shows web"
assert_match "$list" $'\nheld +2 ' "sockdctl list shows held"
json=$(ct sockdctl list --json)
assert_eq "$(python3 -c 'import json,sys; a={x["app"]: x for x in json.load(sys.stdin)}; w=a["web"]; print(w["workers"], w["sockets"][2], w["config"], sorted(a))' <<<"$json")" \
	"3 /run/web/web.2.sock /etc/sockd/web.conf ['held', 'nodehold', 'web']" "sockdctl list --json: workers, sockets, config of every app"

app1=$(ct curl -sf http://127.0.0.1:8080/web/w1/)
json=$(ct sockdctl status web --json)
# Memory is known only where the cgroup memory controller is there (not in every
# container): then a number, else null.
if ct grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then memory=number; else memory=null; fi
fields=$(python3 -c '
import json, sys
w = json.load(sys.stdin)[1]
m = w["memory_bytes"]
print(w["app"], w["worker"], w["unit"], w["state"], w["active_state"], w["generation"], w["pid"],
      w["restarts"], "null" if m is None else "number" if m > 0 else m, w["socket"], w["since_usec"] > 0,
      w["shim_pid"] > 0, w["failure"])' <<<"$json")
assert_eq "$fields" "web 1 web@1.service serving active 1 $(sockd_field pid "$app1") 0 $memory /run/web/web.1.sock True True None" \
	"status --json: every field of worker 1 (pid as the app reports it)"
status=$(ct sockdctl status web)
assert_match "$status" '^WORKER +STATE +GEN +PID +SINCE +RESTARTS +MEMORY +SOCKET' "status has a header"
assert_match "$status" $'\nweb@2.service +serving +1 +[0-9]+  [0-9-]+ [0-9:]+ +0 +([0-9.]+[KMG]|-)  /run/web/web.2.sock' "status: one row per worker"

# ---- zero-downtime restart under load ----
ct_sh 'wrk -t2 -c16 -d8s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >/run/sockd-test/wrk-restart.txt 2>&1 &'
sleep 2
before=$(for i in 0 1 2; do ct curl -sf "http://127.0.0.1:8080/web/w$i/"; done)
if out=$(ct sockdctl restart web); then ok "sockdctl restart web succeeds"; else fail "sockdctl restart web succeeds"; fi
echo "$out" | sed 's/^/# /'
assert_match "$out" 'web@0.service: generation 1 -> 2 \(pid [0-9]+ -> [0-9]+\)' "restart reports generation and pid per worker"
# Worker 2's old generation hands over for 2 s (HandoverSec=1s x (1 + 2/2)): it is still
# there, and a new connection goes to generation 2 all the same.
assert_match "$(ct systemctl show -P StatusText web@2.service)" 'draining: generation 1' \
	"right after the restart, worker 2's old generation hands over (listed as draining)"
assert_match "$(ct curl -sf --unix-socket /run/web/web.2.sock http://localhost/)" 'worker=2 generation=2 ' \
	"and a new connection to its socket reaches generation 2, not the old one"
sockd_wait_handed_over web@0.service web@1.service web@2.service && ok "then the old generations stop" ||
	fail "then the old generations stop"
for i in 0 1 2; do
	new=$(sockd_wait_generation 2 "http://127.0.0.1:8080/web/w$i/")
	old_pid=$(sockd_field pid "$(sed -n "$((i + 1))p" <<<"$before")")
	assert_match "$new" "worker=$i generation=2 " "worker $i serves generation 2"
	if [[ $(sockd_field pid "$new") != "$old_pid" ]]; then ok "worker $i has a new pid"; else fail "worker $i has a new pid"; fi
done
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-restart.txt "sockdctl restart under load"

# ---- a release whose new generation exits at start: all-or-nothing ----
ct touch /run/sockd-test/web-fail-1
ct_sh 'wrk -t2 -c16 -d6s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >/run/sockd-test/wrk-fail.txt 2>&1 &'
sleep 1
pids_before=$(ct sockdctl status web --json | python3 -c 'import json,sys; print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)))')
err=$(ct sockdctl restart web 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "restart with a crashing release exits 1"
echo "$err" | sed 's/^/# /'
assert_match "$err" 'web@1.service: generation 3 \(pid [0-9]+\) exited with status 3 before it was ready' "the error names the worker and the cause"
assert_match "$err" 'pyapp: failing at start on purpose' "and shows the failed generation's last log lines"
assert_match "$err" 'Every worker keeps serving its previous generation' "and says nothing changed"
ct rm -f /run/sockd-test/web-fail-1
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-fail.txt "failed restart under load"
json=$(ct sockdctl status web --json)
assert_eq "$(python3 -c 'import json,sys; print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)))' <<<"$json")" "$pids_before" \
	"the old pids still serve every worker"
assert_eq "$(python3 -c 'import json,sys; print(" ".join("%s/%d" % (w["state"], w["generation"]) for w in json.load(sys.stdin)))' <<<"$json")" \
	"serving/2 serving/2 serving/2" "status after the failed restart: all serving generation 2"
for i in 0 1 2; do
	assert_match "$(ct curl -sf "http://127.0.0.1:8080/web/w$i/")" "generation=2 " "worker $i still answers from generation 2"
done
ct_sh 'pgrep -u webapp -f "[p]yapp.py" | wc -l' >/dev/null

# ---- a release that never becomes ready ----
ct touch /run/sockd-test/web-hang-2
err=$(ct sockdctl restart web 2>&1) && rc=0 || rc=$?
ct rm -f /run/sockd-test/web-hang-2
assert_eq "$rc" 1 "restart with a release that never gets ready exits 1"
assert_match "$err" 'web@2.service: generation [0-9]+ \(pid [0-9]+\) did not become ready within ReadyTimeoutSec=3s' "the error names the ready timeout"
assert_match "$(ct sockdctl status web)" $'\nweb@2.service +serving +2 ' "worker 2 still serves generation 2"

# ---- the next good restart works ----
if out=$(ct sockdctl restart web); then ok "a good restart after failed ones works"; else fail "a good restart after failed ones works"; fi
assert_match "$out" 'web@2.service: generation 2 -> [0-9]+' "and moves every worker on"

# ---- stopped workers are simply started ----
ct systemctl stop web@2.service
out=$(ct sockdctl restart web)
assert_match "$out" 'web@2.service: started' "restart starts a stopped worker"
assert_eq "$(ct systemctl is-active web@2.service)" active "web@2 runs again"

# ---- suspended restarts: queue, hold with SIGUSR2, hold with node-ipc ----
suspended_case() { # APP OLD_GEN_URL
	local app=$1 oldgen t_suspended t_resume t_resumed out
	oldgen=$(ct sockdctl status "$app" --json | python3 -c 'import json,sys; print(",".join(str(w["generation"]) for w in json.load(sys.stdin)))')
	ct_sh "python3 /usr/local/share/sockd-test/loadlog.py run http://127.0.0.1:8080/$app/ 14 8 /run/sockd-test/load-$app.jsonl &"
	sleep 2
	out=$(ct sockdctl restart --suspended "$app") || fail "$app: restart --suspended exits 0"
	t_suspended=$(ct date +%s.%N)
	echo "$out" | sed 's/^/# /'
	assert_match "$(ct sockdctl status "$app")" $'\n'"$app@0.service +suspended " "$app: status shows suspended workers"
	sleep 3 # the "migration"
	t_resume=$(ct date +%s.%N)
	out=$(ct sockdctl resume "$app") || fail "$app: resume exits 0"
	t_resumed=$(ct date +%s.%N)
	echo "$out" | sed 's/^/# /'
	ct_sh 'while pgrep -f "[l]oadlog.py run" >/dev/null; do sleep 0.2; done'
	while IFS= read -r line; do
		case $line in
		ok\ -\ *) ok "$app: ${line#ok - }" ;;
		not\ ok\ -\ *) fail "$app: ${line#not ok - }" ;;
		*) echo "$line" ;;
		esac
	done < <(ct python3 /usr/local/share/sockd-test/loadlog.py check "/run/sockd-test/load-$app.jsonl" "$oldgen" \
		"$t_suspended" "$t_resume" "$t_resumed" || true)
	assert_match "$(ct sockdctl status "$app")" $'\n'"$app@1.service +serving " "$app: serving again after resume"
}
suspended_case web
suspended_case held
suspended_case nodehold

# old generations are gone when restart --suspended returns (checked by pid)
old_pids=$(ct sockdctl status held --json | python3 -c 'import json,sys; print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)))')
ct sockdctl -q restart --suspended held
alive=""
for p in $old_pids; do ct kill -0 "$p" 2>/dev/null && alive+="$p "; done
assert_eq "$alive" "" "no old-generation process is alive when restart --suspended returns"
err=$(ct sockdctl restart held 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "restart of a suspended app is refused"
assert_match "$err" "is suspended: 'sockdctl resume held' first" "and says to resume first"
ct sockdctl -q resume held

# ---- remotely: -H root@localhost over ssh and systemd-stdio-bridge ----
ct_sh 'set -e; mkdir -p /root/.ssh; chmod 700 /root/.ssh
ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_sockd_test
cat /root/.ssh/id_sockd_test.pub >>/root/.ssh/authorized_keys
printf "Host localhost\n  IdentityFile /root/.ssh/id_sockd_test\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n" >/root/.ssh/config'
ct systemctl start ssh.service
remote=$(ct sockdctl -H root@localhost status web 2>&1) || true
assert_match "$remote" $'\nweb@0.service +serving ' "status over -H root@localhost"
gens=$(ct sockdctl status web --json | python3 -c 'import json,sys; print(" ".join(str(w["generation"]) for w in json.load(sys.stdin)))')
ct_sh 'wrk -t2 -c16 -d6s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >/run/sockd-test/wrk-remote.txt 2>&1 &'
sleep 1
if out=$(ct sockdctl -H root@localhost restart web 2>&1); then ok "restart over -H root@localhost succeeds"; else fail "restart over -H root@localhost succeeds"; fi
echo "$out" | sed 's/^/# /'
new_gens=$(ct sockdctl status web --json | python3 -c 'import json,sys; print(" ".join(str(w["generation"]) for w in json.load(sys.stdin)))')
read -r -a g0 <<<"$gens"
read -r -a g1 <<<"$new_gens"
assert_eq "${g1[0]} ${g1[1]} ${g1[2]}" "$((g0[0] + 1)) $((g0[1] + 1)) $((g0[2] + 1))" "every worker moved one generation on, remotely"
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-remote.txt "remote restart under load"
ct touch /run/sockd-test/web-fail-0
err=$(ct sockdctl -H root@localhost restart web 2>&1) && rc=0 || rc=$?
ct rm -f /run/sockd-test/web-fail-0
assert_eq "$rc" 1 "a failing release over -H exits 1 too"
assert_match "$err" 'web@0.service: generation [0-9]+ \(pid [0-9]+\) exited with status 3 before it was ready' "and names the worker and cause"

# ---- --user: a lingering user's own manager, configs in ~/.config/sockd ----
ct useradd --create-home --shell /bin/bash devuser
uid=$(ct id -u devuser)
ct_write /home/devuser/.config/sockd/mine.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
Environment=PYAPP_FAIL_FLAG=/run/sockd-test/mine-fail-{worker}
Workers=2
ReadyTimeoutSec=3s
EOF
ct chown -R devuser: /home/devuser/.config
ct loginctl enable-linger devuser
ct_wait_active "user@$uid.service" 30 || ct_dump_unit "user@$uid.service"
as_dev=(runuser -u devuser -- env "XDG_RUNTIME_DIR=/run/user/$uid")
ct "${as_dev[@]}" systemctl --user daemon-reload
out=$(ct "${as_dev[@]}" sockdctl --user start mine 2>&1) || true
assert_match "$out" '^Started mine: 2 workers' "sockdctl --user start mine"
st=$(ct "${as_dev[@]}" sockdctl --user status mine --json 2>&1)
assert_eq "$(python3 -c 'import json,sys; print(" ".join("%s/%d" % (w["state"], w["generation"]) for w in json.load(sys.stdin)))' <<<"$st" 2>&1)" \
	"serving/1 serving/1" "sockdctl --user status: both workers serve generation 1"
assert_match "$(ct "${as_dev[@]}" curl -sf --unix-socket "/run/user/$uid/mine/mine.1.sock" http://localhost/)" '^app=mine worker=1 generation=1 ' \
	"the user's app serves on \$XDG_RUNTIME_DIR/mine/mine.1.sock"
out=$(ct "${as_dev[@]}" sockdctl --user restart mine 2>&1) || fail "sockdctl --user restart mine exits 0"
assert_match "$out" 'mine@1.service: generation 1 -> 2' "sockdctl --user restart moves the user's workers on"
ct touch /run/sockd-test/mine-fail-0
err=$(ct "${as_dev[@]}" sockdctl --user restart mine 2>&1) && rc=0 || rc=$?
ct rm -f /run/sockd-test/mine-fail-0
assert_eq "$rc" 1 "a failing release under --user exits 1"
assert_match "$err" 'mine@0.service: generation 3 \(pid [0-9]+\) exited with status 3 before it was ready' "and names the worker and cause"
assert_match "$(ct "${as_dev[@]}" curl -sf --unix-socket "/run/user/$uid/mine/mine.0.sock" http://localhost/)" 'generation=2 ' \
	"the user's old generation still serves"

# ---- errors ----
err=$(ct sockdctl resume web 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "resume with nothing suspended exits 1"
assert_match "$err" "Nothing of web is suspended" "and says so"
err=$(ct sockdctl status nosuch 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "an unknown app exits 2"
assert_match "$err" "No such app 'nosuch'" "and names it"
err=$(ct sockdctl restart 'bad/name' 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "an invalid app name exits 2"
err=$(ct sockdctl --bogus status 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "a bad option exits 2"
err=$(ct sockdctl frobnicate 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "an unknown command exits 2"
assert_match "$err" "Unknown command 'frobnicate'" "and names it"
err=$(ct sockdctl restart 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "restart without an app exits 2"
gen_before=$(ct sockdctl status web --json | python3 -c 'import json,sys; print([w["generation"] for w in json.load(sys.stdin)])')
err=$(ct runuser -u outsider -- sockdctl restart web 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "restart by a non-root user exits 1"
assert_match "$err" "permission denied: run sockdctl as root" "with a clear permission error"
assert_eq "$(ct sockdctl status web --json | python3 -c 'import json,sys; print([w["generation"] for w in json.load(sys.stdin)])')" "$gen_before" \
	"and changes nothing"
assert_match "$(ct runuser -u outsider -- sockdctl status web)" $'\nweb@0.service +serving ' "a non-root user may read the status"

# ---- stop ----
out=$(ct sockdctl stop web)
assert_match "$out" '^Stopped web: 3 workers' "sockdctl stop web"
assert_eq "$(ct systemctl is-active web@0.service web@0.socket | sort -u)" inactive "services and sockets are stopped"
assert_match "$(ct sockdctl status web)" $'\nweb@0.service +stopped ' "status shows stopped workers"

# ---- the nginx snippet follows Workers= ----
ct sed -i 's/^Workers=3$/Workers=4/' /etc/sockd/web.conf
ct systemctl daemon-reload
assert_eq "$(ct sockdctl nginx web | grep -c '^    server unix:/run/web/web\.[0-3]\.sock max_fails=0;$')" 4 "after Workers=4 and daemon-reload the snippet lists 4 sockets"

sockd_assert_no_sanitizer_reports
ct_finish
