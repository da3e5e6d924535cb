#!/bin/bash
# A fleet: three hosts (web1, web2, web3: a container each, with its own systemd, sshd and
# nginx in front of the app) on a private network, and a fourth, lb, with the load
# balancer (nginx, upstreams to the three hosts' nginx) and the operator's ssh key, where
# sockdctl runs: 'sockdctl -H web1 -H web2 -H web3' and '--hosts FILE' reach each host
# over ssh and systemd-stdio-bridge, as real hosts are reached.
# Under wrk GET+POST load through the load balancer: a fleet restart with no failed
# request and every worker on every host on a new generation; a release broken on one
# host leaves every host on its old generation and names that host; an unreachable host,
# or one without the app, changes nothing; a suspended restart holds requests on every
# host until resume; --one-host-at-a-time; status, list, start and stop with a HOST column.
#
# Usage: test-fleet.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-fleet.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
for tool in ip sshd ssh; do
	if ! command -v "$tool" >/dev/null; then
		printf '\n***** SKIP: %s: %s missing (scripts/install-deps.sh installs it) *****\n\n' "${0##*/}" "$tool" >&2
		exit 77
	fi
done

hosts=(web1 web2 web3)
H=(-H web1 -H web2 -H web3)

# Each host: the app (two workers of the test app, which fails at start while
# /run/sockd-test/web-fail exists) and nginx in front of it.
sockd_fleet_host() {
	ct_write /etc/sockd/web.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
Environment=PYAPP_FAIL_FLAG=/run/sockd-test/web-fail
Environment=PYAPP_SLOW_FLAG=/run/sockd-test/web-slow
Workers=2
StopTimeoutSec=20s
EOF
	ct systemctl daemon-reload
	ct sockdctl -q start web
	sockd_fleet_host_nginx web
}
sockd_fleet_boot "$build" "$src" "${hosts[@]}"
sockd_fleet_lb "${hosts[@]}"
ct_write /etc/sockd-fleet.hosts <<'EOF'
# the fleet, as an operator keeps it
web1
web2   # the middle one
root@web3
EOF
declare -n addr=SOCKD_FLEET_ADDR
ct_write /usr/local/share/sockd-test/mixed.lua <"$src/tests/apps/mixed.lua"

# "web1:0:5 web1:1:5 web2:0:7 ...": HOST:WORKER:GENERATION of every worker, from lb
fleet_gens() {
	ct sockdctl "${H[@]}" status web --json | python3 -c '
import json, sys
print(" ".join("%s:%d:%d" % (w["host"], w["worker"], w["generation"]) for w in json.load(sys.stdin)))'
}
# "a:1:5 b:0:7" -> "a:1:6 b:0:8": one generation on
gens_plus_one() {
	local g out=()
	for g in $1; do out+=("${g%:*}:$((${g##*:} + 1))"); done
	echo "${out[*]}"
}
# gens_newer OLD NEW: "yes" if every worker of OLD is on a later generation in NEW
gens_newer() {
	local o n
	paste -d ' ' <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") | while read -r o n; do
		if [[ ${o%:*} != "${n%:*}" || ${n##*:} -le ${o##*:} ]]; then
			echo "no: $o -> $n"
			return
		fi
	done | head -n1 | grep . || echo yes
}
# wrk through the load balancer, in the background inside lb: wrk_start NAME SECONDS
wrk_start() {
	ct_sh "wrk -t2 -c16 -d$2s --timeout 30s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/ >/run/sockd-test/wrk-$1.txt 2>&1 &"
	sleep 1
}
wrk_wait() {
	ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
}

# ---- who is there ----
assert_match "$(ct curl -sf http://127.0.0.1:8080/)" '^app=web worker=[01] generation=1 ' "the load balancer reaches the fleet"
out=$(ct sockdctl "${H[@]}" status web)
assert_eq "$(grep -cE '^web[123] +web@[01]\.service +serving ' <<<"$out")" 6 \
	"status across hosts: a HOST column, both workers serving on each of the three"
gens=$(fleet_gens)
assert_eq "$(wc -w <<<"$gens")" 6 "--json names the host of every worker"
out=$(ct sockdctl --hosts /etc/sockd-fleet.hosts list)
assert_eq "$(grep -cE '^(web1|web2|root@web3) +web +2 ' <<<"$out")" 3 "list over --hosts FILE: the app on every host"

# ---- a fleet restart under load ----
wrk_start good 8
rc=0; out=$(ct sockdctl --hosts /etc/sockd-fleet.hosts restart web 2>&1) || rc=$?
assert_eq "$rc" 0 "sockdctl --hosts FILE restart web: one restart of the whole fleet"
echo "$out" | sed 's/^/# /'
assert_eq "$(grep -cE '^(web1|web2|root@web3): web@[01]\.service: generation [0-9]+ -> [0-9]+ ' <<<"$out")" 6 \
	"it says what happened on each host"
gens=$(ct sockdctl --hosts /etc/sockd-fleet.hosts status web --json | python3 -c '
import json, sys
print(" ".join("%s:%d:%d" % (w["host"].replace("root@", ""), w["worker"], w["generation"]) for w in json.load(sys.stdin)))')
assert_eq "$gens" "web1:0:2 web1:1:2 web2:0:2 web2:1:2 web3:0:2 web3:1:2" "every worker on every host is on a new generation"
wrk_wait
sockd_assert_wrk_clean /run/sockd-test/wrk-good.txt "fleet restart under load"

# ---- a release broken on one host only ----
ct_use web2
ct touch /run/sockd-test/web-fail
ct_use lb
gens=$(fleet_gens)
wrk_start broken 6
rc=0; err=$(ct sockdctl "${H[@]}" restart web 2>&1) || rc=$?
assert_eq "$rc" 1 "a release that fails on web2 only: exit 1"
assert_match "$err" 'restart of web failed on web2:' "the failure names the host"
assert_match "$err" 'web@[01]\.service: generation [0-9]+ \(pid [0-9]+\) exited with status 3 before it was ready' \
	"and the worker and cause"
if grep -qE 'failed on web[13]' <<<"$err"; then fail "no other host is named"; else ok "no other host is named"; fi
assert_eq "$(fleet_gens)" "$gens" "every host keeps serving its old generation, web1 and web3 included"
wrk_wait
sockd_assert_wrk_clean /run/sockd-test/wrk-broken.txt "fleet restart aborted under load"
ct_use web2
ct rm -f /run/sockd-test/web-fail
ct_use lb

# ---- a host that cannot be reached, a host without the app ----
ct_use web3
ct systemctl stop ssh.service
ct_use lb
rc=0; err=$(ct sockdctl "${H[@]}" restart web 2>&1) || rc=$?
assert_eq "$rc" 1 "web3 unreachable: exit 1"
assert_match "$err" 'Failed to reach systemd on web3' "naming web3"
ct_use web3
ct systemctl start ssh.service
ct mv /etc/sockd/web.conf /etc/sockd/web.conf.off
ct systemctl daemon-reload
ct_use lb
rc=0; ct sockdctl "${H[@]}" status web >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "status of an app one host lacks: exit 2"
rc=0; err=$(ct sockdctl "${H[@]}" restart web 2>&1) || rc=$?
assert_eq "$rc" 2 "web3 without the app: exit 2"
assert_match "$err" "web3: No such app 'web'" "naming web3"
ct_use web3
ct mv /etc/sockd/web.conf.off /etc/sockd/web.conf
ct systemctl daemon-reload
ct_use lb
assert_eq "$(fleet_gens)" "$gens" "neither changed anything on any host"

# ---- suspended restart and resume across hosts ----
gens=$(fleet_gens)
wrk_start suspended 8
rc=0; out=$(ct sockdctl "${H[@]}" restart --suspended web 2>&1) || rc=$?
assert_eq "$rc" 0 "restart --suspended across the fleet"
for h in "${hosts[@]}"; do
	ct_sh 'curl -s -o /run/sockd-test/held-$1.txt -w "%{http_code}\n" --max-time 60 http://$2:8080/ >/run/sockd-test/held-$1.code 2>&1 &' \
		"$h" "${addr[$h]}"
done
sleep 2
held=$(ct cat /run/sockd-test/held-web1.code /run/sockd-test/held-web2.code /run/sockd-test/held-web3.code | tr -d '\n')
assert_eq "$held" "" "a request to each host waits while suspended: none answered"
assert_eq "$(ct sockdctl "${H[@]}" status web | grep -cE '^web[123] +web@[01]\.service +suspended ')" 6 \
	"status shows every worker on every host suspended"
rc=0; out=$(ct sockdctl "${H[@]}" resume web 2>&1) || rc=$?
assert_eq "$rc" 0 "resume across the fleet"
ct_sh 'for i in $(seq 100); do [ "$(cat /run/sockd-test/held-web*.code | wc -l)" = 3 ] && break; sleep 0.1; done'
assert_eq "$(ct cat /run/sockd-test/held-web1.code /run/sockd-test/held-web2.code /run/sockd-test/held-web3.code | tr '\n' ' ')" \
	"200 200 200 " "then each held request is answered"
reply=$(ct cat /run/sockd-test/held-web2.txt)
now=$(fleet_gens)
assert_match " $now " " web2:$(sockd_field worker "$reply"):$(sockd_field generation "$reply") " \
	"by the generation that serves now"
wrk_wait
sockd_assert_wrk_clean /run/sockd-test/wrk-suspended.txt "suspended fleet restart and resume under load (held, then answered)"
assert_eq "$(gens_newer "$gens" "$now")" yes "every worker on every host is on a newer generation"

# ---- one host at a time ----
gens=$(fleet_gens)
rc=0; out=$(ct sockdctl "${H[@]}" restart --one-host-at-a-time web 2>&1) || rc=$?
assert_eq "$rc" 0 "--one-host-at-a-time"
assert_eq "$(grep -o '^Restarting web on web[123]' <<<"$out" | tr '\n' ' ')" \
	"Restarting web on web1 Restarting web on web2 Restarting web on web3 " "one host after the other"
assert_eq "$(fleet_gens)" "$(gens_plus_one "$gens")" "every worker one generation on"
ct_use web3
ct touch /run/sockd-test/web-fail
ct_use lb
gens=$(fleet_gens)
rc=0; err=$(ct sockdctl "${H[@]}" restart --one-host-at-a-time web 2>&1) || rc=$?
assert_eq "$rc" 1 "--one-host-at-a-time, broken on web3: exit 1"
assert_match "$err" 'The hosts before web3 serve the new generation: web1 web2\. Their previous generations are gone' \
	"it says web1 and web2 run the new release and cannot be taken back"
assert_eq "$(fleet_gens)" "$(gens_plus_one "${gens% web3:0:*}") web3:0:${gens#* web3:0:}" \
	"web1 and web2 moved on, web3 did not"
ct_use web3
ct rm -f /run/sockd-test/web-fail
ct_use lb

# ---- a host lost in the middle: its ssh session ends while its new generations start ----
# ready_count_becomes N: waits (10 s at most) until N workers of the current host show a
# prepared generation ("ready:"), then prints how many do.
ready_count_becomes() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(ct systemctl show -P StatusText web@0.service web@1.service | grep -c 'ready:' || true)
		[[ $n == "$1" ]] && break
		sleep 0.1
	done
	echo "$n"
}
ct_use web3
echo 4 | ct_write /run/sockd-test/web-slow
ct_use lb
gens=$(fleet_gens)
ct_sh 'sockdctl "$@" restart web >/run/sockd-test/lost.out 2>&1; echo $? >/run/sockd-test/lost.rc' "${H[@]}" &
lost_pid=$!
ct_use web3
for ((i = 0; i < 100; i++)); do
	[[ $(ct systemctl show -P StatusText web@0.service web@1.service | grep -c 'starting:') == 2 ]] && break
	sleep 0.1
done
ct pkill -f '^systemd-stdio-bridge'
ct_use lb
wait "$lost_pid" || true
assert_eq "$(ct cat /run/sockd-test/lost.rc)" 1 "the ssh session to web3 ends during the prepare: exit 1"
assert_match "$(ct cat /run/sockd-test/lost.out)" 'Lost the connection to systemd on web3' "naming web3"
assert_eq "$(fleet_gens | sed 's/ web3:.*//')" "${gens% web3:0:*}" "web1 and web2 were aborted: their old generations serve"
ct_use web3
assert_eq "$(ready_count_becomes 2)" 2 "on web3 the new generations wait, ready, for a commit that does not come"
ct rm -f /run/sockd-test/web-slow
ct systemctl kill --kill-whom=main --signal=SIGRTMIN+3 web@0.service web@1.service
assert_eq "$(ready_count_becomes 0)" 0 "the abort sockdctl(1) gives takes them back"
ct_use lb
assert_eq "$(fleet_gens)" "$gens" "every host serves what it served before"
rc=0; ct sockdctl -q "${H[@]}" restart web || rc=$?
assert_eq "$rc" 0 "and the next fleet restart goes through"

# ---- stop and start across hosts ----
rc=0; out=$(ct sockdctl "${H[@]}" stop web 2>&1) || rc=$?
assert_eq "$rc" 0 "stop across the fleet"
assert_eq "$(grep -c '^web[123]: Stopped web: 2 workers' <<<"$out")" 3 "on every host"
assert_eq "$(ct sockdctl "${H[@]}" status web | grep -cE ' stopped ')" 6 "every worker stopped"
rc=0; out=$(ct sockdctl "${H[@]}" start web 2>&1) || rc=$?
assert_eq "$rc" 0 "start across the fleet"
if [[ $rc != 0 ]]; then
	echo "$out" | sed 's/^/#   /'
	for h in "${hosts[@]}"; do
		ct_use "$h"
		ct journalctl -b --no-pager -o short-precise -u 'web@*' -n 15 | sed "s/^/#   $h: /"
	done
	ct_use lb
fi
assert_eq "$(ct sockdctl "${H[@]}" status web | grep -cE ' serving ')" 6 "every worker serving again"
assert_match "$(ct curl -sf http://127.0.0.1:8080/)" '^app=web ' "the load balancer reaches the fleet again"

for h in "${hosts[@]}" lb; do
	ct_use "$h"
	sockd_assert_no_sanitizer_reports
done
ct_finish
