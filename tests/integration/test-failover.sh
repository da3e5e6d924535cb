#!/bin/bash
# Standby=yes on a real systemd, through nginx: the spare generation takes no request
# while the serving one lives; when the serving app is killed (kill -9) under wrk
# GET+POST load, the spare takes over without the worker restarting, and no request
# fails beyond those the killed process had; the next spare boots; a restart replaces
# the spare with one of the new release and is not held up by it; a spare that dies is
# started again. Standby=serving: the spare answers requests beside the serving
# generation; a restart under load stops it losing nothing; after a kill -9 it takes
# over the same way; with Listen= (an app that binds its own port) the spare's bind is
# adopted as the serving one's.
#
# Usage: test-failover.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-failover.sh BUILD_DIR}
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"

ct mkdir -p /run/sockd-test
# Every generation needs a second to start, as real apps do.
ct_write /run/sockd-test/slow <<<'1'
ct_write /etc/sockd/web.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
Environment=PYAPP_SLOW_FLAG=/run/sockd-test/slow
Workers=2
Standby=yes
StopTimeoutSec=20s
EOF
ct systemctl daemon-reload
ct_nginx_start "$(sockd_nginx_conf_apps web:2)"
ct sockdctl -q start web

app=web # the app status, gen_of and wait_status look at
status() { ct systemctl show -P StatusText "$app@$1.service"; }
# gen_of ITEM WORKER: "N P" of "ITEM: generation N, pid P" in the worker's status
gen_of() { status "$2" | grep -o "\\(^\\|; \\)$1: generation [0-9]*, pid [0-9]*" | sed 's/.*generation \([0-9]*\), pid \([0-9]*\)/\1 \2/'; }
# wait_status WORKER ITEM: until the worker's status has a ready ITEM
wait_status() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -n $(gen_of "$2" "$1") ]] && return 0
		sleep 0.1
	done
	echo "# $app@$1: $(status "$1")"
	return 1
}

# kill_serving_under_load WRK_OUT WHAT: under wrk GET+POST load, kill -9 of web@0's
# serving app ($serving_pid); its standby ($standby_gen $standby_pid) must take over
# without the worker's service restarting.
kill_serving_under_load() {
	local main_pid i
	main_pid=$(ct systemctl show -P MainPID web@0.service)
	ct_sh "wrk -t2 -c8 -d5s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >$1 2>&1 &"
	sleep 1.5
	ct kill -KILL "$serving_pid"
	for ((i = 0; i < 50; i++)); do
		[[ $(gen_of serving 0) == "$standby_gen $standby_pid" ]] && break
		sleep 0.02
	done
	assert_eq "$(gen_of serving 0)" "$standby_gen $standby_pid" "$2"
	assert_eq "$(ct systemctl show -P MainPID web@0.service)" "$main_pid" "the worker did not restart"
}
# assert_wrk_failures_at_most_in_flight WRK_OUT: once wrk is done, it failed no more
# requests than one per connection (8), those in flight on the killed process.
assert_wrk_failures_at_most_in_flight() {
	local line failed
	ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
	line=$(ct grep '^sockd: ' "$1")
	echo "# $line"
	failed=$(sed 's/.*non2xx=\([0-9]*\) connect=\([0-9]*\) read=\([0-9]*\) write=\([0-9]*\) timeout=\([0-9]*\).*/\1 \2 \3 \4 \5/' <<<"$line" | awk '{ print $1 + $2 + $3 + $4 + $5 }')
	assert_match "$line" '^sockd: requests=[1-9]' "wrk ran"
	assert_eq "$((failed <= 8))" 1 "no failed request beyond those in flight on the killed process ($failed, at most 8)"
}

wait_status 0 standby || fail "web@0 boots a standby generation"
wait_status 1 standby || fail "web@1 boots a standby generation"
read -r serving_gen serving_pid <<<"$(gen_of serving 0)"
read -r standby_gen standby_pid <<<"$(gen_of standby 0)"
echo "# web@0: $(status 0)"
assert_eq "$((standby_gen > serving_gen))" 1 "web@0: the standby is a later generation than the serving one"
# socket_pids: the pids that answer 40 connections at once to web@0's socket (through
# nginx, its kept-alive upstream connections would go to one process whatever the gate).
socket_pids() {
	ct_sh 'for i in $(seq 40); do curl -sf --unix-socket /run/web/web.0.sock http://localhost/ & done; wait' |
		grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | paste -sd' '
}
assert_eq "$(socket_pids)" "$serving_pid" "40 connections at once to web@0's socket reach the serving generation only, never the standby"
rc=0; out=$(ct sockdctl status web 2>&1) || rc=$?
assert_eq "$rc" 0 "sockdctl status with standbys"
assert_eq "$(echo "$out" | grep -c ' serving ')" 2 "shows both workers serving"

# ---- kill -9 of the serving app under load: the standby takes over ----
kill_serving_under_load /run/sockd-test/wrk-failover.txt "the standby generation serves web@0 after its app was killed"
assert_eq "$(ct systemctl show -P NRestarts web@0.service)" 0 "systemd restarted nothing"
assert_match "$(ct journalctl -q -u web@0.service -o cat)" "The serving generation $serving_gen \\(pid $serving_pid\\) was killed by SIGKILL; standby generation $standby_gen \\(pid $standby_pid\\) takes over" \
	"the journal says what happened"
assert_wrk_failures_at_most_in_flight /run/sockd-test/wrk-failover.txt

wait_status 0 standby || fail "web@0 boots the next standby"
read -r next_gen next_pid <<<"$(gen_of standby 0)"
assert_eq "$((next_gen > standby_gen))" 1 "a new standby generation after the takeover"

# ---- a restart: not held up by the standbys, which run the new release after it ----
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "sockdctl restart with standbys"
read -r serving_gen serving_pid <<<"$(gen_of serving 0)"
assert_eq "$((serving_gen > next_gen))" 1 "a new generation serves, not the old standby promoted"
wait_status 0 standby || fail "web@0 boots a standby of the new release"
read -r standby_gen standby_pid <<<"$(gen_of standby 0)"
assert_eq "$((standby_gen > serving_gen))" 1 "the standby after the restart is younger than the new serving generation"
ct test -e "/proc/$next_pid" && fail "the old release's standby is gone" || ok "the old release's standby is gone"

# ---- a standby that dies is started again; the serving one goes on ----
ct kill -KILL "$standby_pid"
for ((i = 0; i < 100; i++)); do
	read -r g _ <<<"$(gen_of standby 0)"
	[[ -n $g && $g != "$standby_gen" ]] && break
	sleep 0.1
done
assert_eq "$(( ${g:-0} > standby_gen ))" 1 "a killed standby is replaced by a new one"
assert_eq "$(gen_of serving 0)" "$serving_gen $serving_pid" "the serving generation is untouched"
assert_match "$(ct journalctl -q -u web@0.service -o cat)" "Standby generation $standby_gen \\(pid $standby_pid\\) was killed by SIGKILL; another starts after the back-off" \
	"the journal says so"

# ---- Standby=serving: the spare serves beside the serving generation ----
ct sed -i 's/^Standby=yes$/Standby=serving/' /etc/sockd/web.conf
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
assert_eq "$rc" 0 "sockdctl restart applies Standby=serving"
wait_status 0 standby || fail "web@0 boots a serving standby"
read -r serving_gen serving_pid <<<"$(gen_of serving 0)"
read -r standby_gen standby_pid <<<"$(gen_of standby 0)"
assert_match "$(ct journalctl -q -u web@0.service -o cat)" "Standby generation $standby_gen \\(pid $standby_pid\\) is ready and serves beside generation $serving_gen: it takes over if that one dies" \
	"the journal says the standby serves"
# Either process accepts, whichever is free.
assert_eq "$(socket_pids)" "$(printf '%s\n' "$serving_pid" "$standby_pid" | sort -u | paste -sd' ')" \
	"40 connections at once to web@0's socket reach both the serving generation and the standby"

# A restart stops a serving standby as it does an old generation: nothing it had is lost.
ct_sh 'wrk -t2 -c8 -d5s -s /usr/local/share/sockd-test/mixed.lua http://127.0.0.1:8080/web/ >/run/sockd-test/wrk-serving-restart.txt 2>&1 &'
sleep 1.5
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
assert_eq "$rc" 0 "sockdctl restart under load with serving standbys"
ct_sh 'while pgrep -x wrk >/dev/null; do sleep 0.2; done'
sockd_assert_wrk_clean /run/sockd-test/wrk-serving-restart.txt "a restart that stops serving standbys under load"
ct test -e "/proc/$standby_pid" && fail "the serving standby of the old release is gone" ||
	ok "the serving standby of the old release is gone"

# kill -9 of the serving app under load: the standby, serving already, takes everything.
wait_status 0 standby || fail "web@0 boots a serving standby of the new release"
read -r serving_gen serving_pid <<<"$(gen_of serving 0)"
read -r standby_gen standby_pid <<<"$(gen_of standby 0)"
kill_serving_under_load /run/sockd-test/wrk-serving-kill.txt "the serving standby takes over web@0 after its app was killed"
assert_wrk_failures_at_most_in_flight /run/sockd-test/wrk-serving-kill.txt
wait_status 0 standby || fail "web@0 boots the next serving standby"

# ---- a config without Standby=: a restart applies it and the spares stop ----
ct sed -i '/^Standby=/d' /etc/sockd/web.conf
rc=0; out=$(ct sockdctl restart web 2>&1) || rc=$?
assert_eq "$rc" 0 "sockdctl restart applies Standby=no"
sleep 1.5
assert_eq "$(gen_of standby 0)$(gen_of 'standby starting' 0)" "" "and web@0 runs no standby any more"

# ---- Standby=serving with Listen=: the app binds its own port, and so does its spare ----
# Each generation's bind of 127.0.0.1:8710 is adopted by the preload (it gets the
# worker's socket instead): both answer on the worker's socket, nothing listens on the
# port itself, and after a kill -9 of the serving one the spare serves alone, then the
# next spare adopts its bind in turn.
ct_write /etc/sockd/own.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/tcpapp.py
Environment=TCPAPP_BIND=127.0.0.1:8710
Listen=tcp:127.0.0.1:8710
Ready=listen
Workers=1
Standby=serving
EOF
ct systemctl daemon-reload
ct sockdctl -q start own
app=own
own_pids() {
	ct_sh 'for i in $(seq 40); do curl -sf --unix-socket /run/own/own.0.sock http://localhost/ & done; wait' |
		grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | paste -sd' '
}
adopted() { # GEN PID: the journal says that generation adopted its bind
	ct journalctl -q -u own@0.service -o cat | grep -c "Generation $1 (pid $2) bound .* (Listen=) and got the worker's socket" || true
}
wait_status 0 standby || fail "own@0 boots a serving standby"
read -r serving_gen serving_pid <<<"$(gen_of serving 0)"
read -r standby_gen standby_pid <<<"$(gen_of standby 0)"
echo "# own@0: $(status 0)"
assert_eq "$(adopted "$serving_gen" "$serving_pid")" 1 "own@0: the serving generation adopted its bind"
assert_eq "$(adopted "$standby_gen" "$standby_pid")" 1 "own@0: so did the standby"
assert_eq "$(own_pids)" "$(printf '%s\n' "$serving_pid" "$standby_pid" | sort -u | paste -sd' ')" \
	"40 connections at once to own@0's socket reach both the serving generation and the standby"
assert_eq "$(ct ss -Hltn 'sport = :8710' | wc -l)" 0 "nothing listens on the port the apps bound"
ct kill -KILL "$serving_pid"
for ((i = 0; i < 50; i++)); do
	[[ $(gen_of serving 0) == "$standby_gen $standby_pid" ]] && break
	sleep 0.02
done
assert_eq "$(gen_of serving 0)" "$standby_gen $standby_pid" "own@0: the standby serves alone after a kill -9 of the serving app"
assert_eq "$(ct curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/own/own.0.sock http://localhost/)" 200 \
	"own@0's socket answers"
wait_status 0 standby || fail "own@0 boots the next serving standby"
read -r next_gen next_pid <<<"$(gen_of standby 0)"
assert_eq "$(adopted "$next_gen" "$next_pid")" 1 "own@0: the next standby adopted its bind too"
assert_eq "$(own_pids)" "$(printf '%s\n' "$standby_pid" "$next_pid" | sort -u | paste -sd' ')" \
	"and both answer on own@0's socket"
ct sockdctl -q stop own
app=web

sockd_assert_no_sanitizer_reports
ct_finish
