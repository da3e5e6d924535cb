#!/bin/bash
# Faults, end to end on a real systemd with nginx in front: the app killed under load,
# the shim itself killed, a crash loop, an app that ignores SIGTERM, a suspended app
# with more clients than its backlog holds, sockd-spawn under valgrind, the app killed
# during a swap, and sockdctl restart right after a failed reload.
#
# Assertions are on errors and on the order of events, never on throughput. Measured
# numbers are printed as '# ...' lines.
#
# Usage: test-faults.sh BUILD_DIR   (as root; exits 77 otherwise)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: test-faults.sh BUILD_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$here/sockd-lib.sh"

ct_require_root_or_skip
ct_boot
sockd_install "$build" "$src"
# Test apps that sockd_install does not copy.
for f in pyapp.py stubborn.py; do
	ct_write "/usr/local/share/sockd-test/$f" 0755 <"$src/tests/apps/$f"
done

# ------------------------------------------------------------------ helpers

T=/run/sockd-test
MIXED=/usr/local/share/sockd-test/mixed.lua

# The serving generation's pid / number, from the unit's StatusText.
app_pid() { ct systemctl show -P StatusText "$1" | sed -n 's/^serving: generation [0-9]*, pid \([0-9]*\).*/\1/p'; }
app_gen() { ct systemctl show -P StatusText "$1" | sed -n 's/^serving: generation \([0-9]*\), pid.*/\1/p'; }
nrestarts() { ct systemctl show -P NRestarts "$1"; }

# Journal windows. A mark is the container's clock; a query returns what a unit logged
# after it: systemd's lines about the unit, the app's output, and the shim's own
# messages, matched by the SOCKD_APP=/SOCKD_WORKER= fields the shim adds itself (its
# last words before it exits reach journald after it is gone, without _SYSTEMD_UNIT=,
# so `-u UNIT` alone misses them). Cursors are not used: `--after-cursor` combined
# with `-u` skipped entries here.
jmark() { ct date +%s.%N; }
# jlog_unix MARK UNIT: "EPOCH.USEC ident[pid]: message" lines.
jlog_unix() {
	local mark=$1 unit=$2 app worker
	app=${unit%%@*} worker=${unit#*@}
	worker=${worker%.service}
	ct_journal_sync
	if [[ $unit == *@* ]]; then
		ct journalctl -b -q --no-pager -o short-unix "SOCKD_APP=$app" "SOCKD_WORKER=$worker" + \
			"_SYSTEMD_UNIT=$unit" + "UNIT=$unit" _PID=1 || true
	else
		ct journalctl -b -q --no-pager -o short-unix -u "$unit" || true
	fi | awk -v t="$mark" '$1 + 0 > t + 0'
}
# jlog MARK UNIT: the messages alone.
jlog() { jlog_unix "$@" | sed -E 's/^[0-9.]+ [^ ]+ [^ ]+: //'; }

# assert_order TEXT DESC ERE...: every ERE matches a line of TEXT, each on a later line
# than the one before.
assert_order() {
	local text=$1 desc=$2 pat line n=0 from=1 found
	shift 2
	for pat in "$@"; do
		found=""
		while IFS= read -r line; do
			n=$((n + 1))
			if ((n >= from)) && [[ $line =~ $pat ]]; then
				found=$n
				break
			fi
		done <<<"$text"
		if [[ -z $found ]]; then
			fail "$desc"
			printf '#   not found in order: %s\n' "$pat"
			printf '%s\n' "$text" | tail -n 30 | sed 's/^/#   | /'
			return 0
		fi
		from=$((found + 1))
		n=0
	done
	ok "$desc"
}

# The line mixed.lua's done() prints, and its fields.
wrk_line() { ct grep '^sockd: ' "$1" || true; }
wrk_field() { sed -n "s/.* $2=\\([0-9]*\\).*/\\1/p" <<<" $1"; }
wrk_failures() { # failed requests of every kind but connect
	local l=$1
	echo $(($(wrk_field "$l" non2xx) + $(wrk_field "$l" read) + $(wrk_field "$l" write) + $(wrk_field "$l" timeout)))
}
# assert_wrk_bounded FILE CONNECTIONS DESC: wrk ran, never failed to connect, and
# failed at most CONNECTIONS requests (at most one in flight per connection).
assert_wrk_bounded() {
	local file=$1 c=$2 desc=$3 line failed
	line=$(wrk_line "$file")
	echo "# $desc: $line"
	assert_match "$line" '^sockd: requests=[1-9][0-9]* non2xx=[0-9]+ connect=0 read=[0-9]+ write=[0-9]+ timeout=[0-9]+ ' \
		"$desc: requests went through and not one connect error"
	if [[ -n $line ]]; then
		failed=$(wrk_failures "$line")
		echo "# $desc: $failed failed requests (limit: $c, the requests in flight on wrk -c$c)"
		if ((failed <= c)); then ok "$desc: $failed failed requests <= $c connections"; else fail "$desc: $failed failed requests <= $c connections"; fi
	else
		fail "$desc: wrk printed its summary"
	fi
}
# shellcheck disable=SC2016 # expanded inside the container
wait_wrk() { ct_sh 'for i in $(seq 600); do pgrep -x wrk >/dev/null || exit 0; sleep 0.1; done; exit 1'; }

# nginx_connect_errors MARK SOCKET: nginx's error lines about connecting to SOCKET since MARK.
nginx_connect_errors() { jlog "$1" "$CT_NGINX_UNIT" | grep -F "connect() to unix:$2 failed" || true; }

# pid_gone PID TENTHS: the process is gone within TENTHS tenths of a second.
pid_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		ct test -e "/proc/$1" || return 0
		sleep 0.1
	done
	return 1
}

# wait_serving UNIT SECONDS: the unit is active and a generation serves.
wait_serving() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -n $(app_pid "$1") && $(ct systemctl is-active "$1") == active ]] && return 0
		sleep 0.1
	done
	return 1
}

now() { ct date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

# ------------------------------------------------------------------ the apps

ct useradd --system --no-create-home --shell /usr/sbin/nologin fapp
ct mkdir -p "$T"
ct chmod 0755 "$T"

# Cases 1, 2, 7, 8: two workers; a flag file per worker makes a new generation slow.
ct_write /etc/sockd/fa.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=fapp
Environment=PYAPP_SLOW_FLAG=$T/fa-slow-{worker}
Workers=2
ReadyTimeoutSec=10s
StopTimeoutSec=20s
EOF
# Case 3: exits at once while the flag exists.
ct_write /etc/sockd/loop.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=fapp
Environment=PYAPP_FAIL_FLAG=$T/loop-fail
Workers=1
EOF
# Case 4: ignores SIGTERM.
ct_write /etc/sockd/stub.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/stubborn.py
User=fapp
Workers=1
StopTimeoutSec=3s
EOF
# Case 5: Suspend=queue with a small backlog.
ct_write /etc/sockd/q.conf <<'EOF'
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=fapp
Workers=1
Suspend=queue
StopTimeoutSec=20s

[Socket]
Backlog=8
EOF
# Case 6: the shim under valgrind.
ct_write /etc/sockd/vg.conf <<EOF
[App]
Exec=/usr/bin/python3 /usr/local/share/sockd-test/pyapp.py
User=fapp
Environment=PYAPP_FAIL_FLAG=$T/vg-fail
Workers=1
ReadyTimeoutSec=20s
StopTimeoutSec=10s
EOF
ct systemctl daemon-reload
ct systemctl start fa.target stub@0 q@0
for u in fa@0 fa@1 stub@0 q@0; do
	assert_eq "$(ct systemctl is-active "$u.service")" active "$u is active"
done
ct_nginx_start "$(sockd_nginx_conf_apps fa:2 loop:1 stub:1 q:1)"
nginx_pid=$(ct systemctl show -P MainPID "$CT_NGINX_UNIT")
for i in 0 1; do
	assert_match "$(ct curl -sf "http://127.0.0.1:8080/fa/w$i/")" "^app=fa worker=$i generation=1 " "nginx reaches fa worker $i"
done

# ======== 3 (starts here, checked after a minute): a crash loop ========
# The app exits at once on every try; meanwhile the other cases run.
ct touch "$T/loop-fail"
c3=$(jmark)
t3=$(now)
ct systemctl start --no-block loop@0.service
# sockdctl restart while the app still crashes: the worker is activating (backing off
# or in auto-restart), so sockdctl does not count it as running and starts it; its
# StartUnit joins systemd's start job, which fails with the next crash.
sleep 1.5
state=$(ct systemctl show -P ActiveState,SubState,StatusText loop@0.service | paste -sd/)
t0=$(now)
out=$(ct sockdctl --timeout=60 restart loop 2>&1) && rc=0 || rc=$?
echo "# case 3: sockdctl restart loop while it still crashes (worker: $state): exit $rc after $(elapsed "$t0" "$(now)") s:"
echo "$out" | sed 's/^/#   /'
assert_eq "$rc" 1 "case 3: sockdctl restart of a worker that still crashes exits 1"
assert_match "$out" 'Start of loop@0\.service failed' "case 3: and says that its start failed"
assert_eq "$(ct systemctl is-active loop@0.socket)" active "case 3: the socket stays active"

# ======== 1. kill -9 of the app under load ========
c1=$(jmark)
victim=$(app_pid fa@0.service)
nr=$(nrestarts fa@0.service)
ct_sh "wrk -t1 -c8 -d8s --timeout 10s -s $MIXED http://127.0.0.1:8080/fa/w0/ >$T/wrk1-w0.txt 2>&1 &
wrk -t1 -c8 -d8s --timeout 10s -s $MIXED http://127.0.0.1:8080/fa/ >$T/wrk1-all.txt 2>&1 &"
sleep 3
# The connections the app holds when it dies (in flight or idle keep-alive): each can
# fail at most one request, the one in flight or one nginx sends on it before it
# notices the close. Counted right before the kill, for the record.
# shellcheck disable=SC2016 # expanded inside the container
held=$(ct_sh 'n=$(ss -xpH state established | grep -c "pid=$1,"); kill -9 "$1"; echo "$n"' "$victim")
back=$(sockd_wait_pid_change "$victim" http://127.0.0.1:8080/fa/w0/) || true
wait_wrk || fail "case 1: wrk finished"
assert_match "$back" '^app=fa worker=0 generation=2 ' "case 1: worker 0 serves again after kill -9 of its app, with generation 2"
assert_eq "$(nrestarts fa@0.service)" "$((nr + 1))" "case 1: systemd restarted worker 0 once"
assert_wrk_bounded "$T/wrk1-w0.txt" 8 "case 1: wrk -c8 on worker 0's own upstream"
assert_wrk_bounded "$T/wrk1-all.txt" 8 "case 1: wrk -c8 on the app's upstream"
echo "# case 1: the killed app held $held connections from nginx; failed requests: $(wrk_failures "$(wrk_line "$T/wrk1-w0.txt")") on /fa/w0/, $(wrk_failures "$(wrk_line "$T/wrk1-all.txt")") on /fa/"
assert_eq "$(nginx_connect_errors "$c1" /run/fa/fa.0.sock)" "" "case 1: nginx never failed to connect to fa.0.sock"
echo "# case 1: nginx's error lines for fa.0.sock (error, request):"
jlog "$c1" "$CT_NGINX_UNIT" | grep -F 'unix:/run/fa/fa.0.sock' |
	sed -E 's/^.*\*[0-9]+ (.*), client: .*, request: "([A-Z]+ [^ ]*) .*$/\1, \2/' | sort | uniq -c | sed 's/^/#   /' || true
j=$(jlog "$c1" fa@0.service)
assert_order "$j" "case 1: the journal tells kill, exit, restart, back-off, new generation, ready, in that order" \
	"^The serving generation 1 \\(pid $victim\\) was killed by SIGKILL; exiting so that systemd restarts the worker\\.$" \
	'Scheduled restart job, restart counter is at' \
	'^The app failed 1 time in a row; waiting 250ms before starting it again\.$' \
	'^Started generation 2 \(pid [0-9]+\)' \
	'^Generation 2 \(pid [0-9]+\) is ready\.$'

# ======== 2. kill -9 of sockd-spawn itself ========
c2=$(jmark)
shim=$(ct systemctl show -P MainPID fa@1.service)
victim=$(app_pid fa@1.service)
gen=$(app_gen fa@1.service)
nr=$(nrestarts fa@1.service)
assert_eq "$(ct ps -o ppid= -p "$victim" | tr -d ' ')" "$shim" "case 2: the app (pid $victim) is the shim's (pid $shim) child"
ct_sh "wrk -t1 -c4 -d5s --timeout 10s -s $MIXED http://127.0.0.1:8080/fa/w1/ >$T/wrk2.txt 2>&1 &"
sleep 1.5
ct kill -9 "$shim"
if pid_gone "$victim" 20; then ok "case 2: the app generation died with its shim (no orphan)"; else fail "case 2: the app generation died with its shim (pid $victim still alive)"; fi
wait_serving fa@1.service 15 || true
assert_eq "$(nrestarts fa@1.service)" "$((nr + 1))" "case 2: systemd restarted worker 1 (NRestarts $nr -> $((nr + 1)))"
new=$(sockd_wait_pid_change "$victim" http://127.0.0.1:8080/fa/w1/) || true
assert_match "$new" "^app=fa worker=1 generation=$((gen + 1)) " "case 2: worker 1 serves again, generation $gen -> $((gen + 1))"
wait_wrk || fail "case 2: wrk finished"
assert_wrk_bounded "$T/wrk2.txt" 4 "case 2: wrk -c4 on worker 1"
# shellcheck disable=SC2016 # expanded inside the container
orphans=$(ct_sh 'ps -eo pid=,ppid=,args= | awk "\$2 == 1 && \$3 ~ /python/ {print}"')
assert_eq "$orphans" "" "case 2: no app process was reparented to PID 1"
j=$(jlog "$c2" fa@1.service)
assert_order "$j" "case 2: the journal tells: shim killed, cgroup cleaned, restart, new generation ready" \
	'Main process exited, code=killed, status=9/KILL' \
	'Scheduled restart job, restart counter is at' \
	"^Started generation $((gen + 1)) \\(pid [0-9]+\\)" \
	"^Generation $((gen + 1)) \\(pid [0-9]+\\) is ready\\.$"

# ======== 7. kill -9 of the app while a swap is in progress ========
# (a) The serving generation dies while the new one is still starting (slow start).
c7=$(jmark)
old=$(app_pid fa@1.service)
gen=$(app_gen fa@1.service)
nr=$(nrestarts fa@1.service)
ct_sh "echo 3 >$T/fa-slow-1"
ct_sh "wrk -t1 -c4 -d6s --timeout 10s -s $MIXED http://127.0.0.1:8080/fa/w1/ >$T/wrk7.txt 2>&1 &"
ct_sh "systemctl reload fa@1.service >$T/reload7a.out 2>&1; echo \$? >$T/reload7a.rc" &
reload_pid=$!
st=""
for ((i = 0; i < 50; i++)); do
	st=$(ct systemctl show -P StatusText fa@1.service)
	[[ $st == *"starting: generation $((gen + 1))"* ]] && break
	sleep 0.1
done
assert_match "$st" "^serving: generation $gen, pid $old .*; starting: generation $((gen + 1)), pid [0-9]+" \
	"case 7a: a swap is in progress (generation $((gen + 1)) starting beside $gen)"
incoming=$(sed -n 's/.*starting: generation [0-9]*, pid \([0-9]*\).*/\1/p' <<<"$st")
ct kill -9 "$old"
wait "$reload_pid" || true
ct rm -f "$T/fa-slow-1"
assert_eq "$(ct cat "$T/reload7a.rc")" 1 "case 7a: systemctl reload fails"
if pid_gone "$incoming" 50; then ok "case 7a: the half-started generation is stopped too"; else fail "case 7a: the half-started generation (pid $incoming) is stopped too"; fi
wait_serving fa@1.service 15 || true
assert_eq "$(nrestarts fa@1.service)" "$((nr + 1))" "case 7a: systemd restarted the worker"
new=$(sockd_wait_pid_change "$old" http://127.0.0.1:8080/fa/w1/) || true
assert_match "$new" '^app=fa worker=1 generation=[0-9]+ ' "case 7a: the worker ends up serving"
wait_wrk || fail "case 7a: wrk finished"
assert_wrk_bounded "$T/wrk7.txt" 4 "case 7a: wrk -c4 on worker 1 during the swap"
j=$(jlog "$c7" fa@1.service)
echo "$j" | grep -E 'generation|Generation|Swap|Reload|Scheduled' | sed 's/^/# 7a journal: /'
assert_order "$j" "case 7a: the journal tells what happened, in order" \
	"^Swapping: starting a generation beside generation $gen " \
	"^The serving generation $gen \\(pid $old\\) was killed by SIGKILL; exiting so that systemd restarts the worker\\.$" \
	"^Generation $((gen + 1)) \\(pid $incoming\\) was stopped: the serving generation died during the swap\\.$" \
	'Scheduled restart job, restart counter is at' \
	'^Generation [0-9]+ \(pid [0-9]+\) is ready\.$'

# (b) The new generation is killed while it starts: the swap fails, the old one serves.
c7=$(jmark)
old=$(app_pid fa@1.service)
gen=$(app_gen fa@1.service)
nr=$(nrestarts fa@1.service)
ct_sh "echo 3 >$T/fa-slow-1"
ct_sh "systemctl reload fa@1.service >$T/reload7b.out 2>&1; echo \$? >$T/reload7b.rc" &
reload_pid=$!
incoming=""
for ((i = 0; i < 50; i++)); do
	incoming=$(ct systemctl show -P StatusText fa@1.service | sed -n 's/.*starting: generation [0-9]*, pid \([0-9]*\).*/\1/p')
	[[ -n $incoming ]] && break
	sleep 0.1
done
if [[ -n $incoming ]]; then ct kill -9 "$incoming"; fi
wait "$reload_pid" || true
ct rm -f "$T/fa-slow-1"
assert_eq "$(ct cat "$T/reload7b.rc")" 1 "case 7b: systemctl reload fails when the new generation is killed"
assert_match "$(ct curl -sf http://127.0.0.1:8080/fa/w1/)" "^app=fa worker=1 generation=$gen pid=$old " "case 7b: the old generation keeps serving"
assert_eq "$(nrestarts fa@1.service)" "$nr" "case 7b: no restart of the worker"
assert_match "$(jlog "$c7" fa@1.service | grep -F 'Swap failed' | tail -n1)" \
	"^Swap failed: generation $((gen + 1)) \\(pid $incoming\\) was killed by SIGKILL before it was ready; generation $gen keeps serving\\.$" \
	"case 7b: the journal says why the swap failed"
assert_eq "$(nginx_connect_errors "$c1" /run/fa/fa.1.sock)$(nginx_connect_errors "$c1" /run/fa/fa.0.sock)" "" \
	"cases 1, 2, 7: nginx never failed to connect to a fa socket"

# ======== 4. an app that ignores SIGTERM, StopTimeoutSec=3s ========
c4=$(jmark)
old=$(app_pid stub@0.service)
t0=$(now)
if ct systemctl reload stub@0.service; then ok "case 4: systemctl reload completes"; else fail "case 4: systemctl reload completes"; fi
t1=$(now)
echo "# case 4: systemctl reload took $(elapsed "$t0" "$t1") s"
new=$(sockd_wait_pid_change "$old" http://127.0.0.1:8080/stub/) || true
assert_match "$new" '^app=stub worker=0 generation=2 ' "case 4: the new generation serves"
if pid_gone "$old" 80; then ok "case 4: the old generation is gone"; else fail "case 4: the old generation (pid $old) is gone"; fi
j=$(jlog_unix "$c4" stub@0.service)
assert_order "$j" "case 4: asked to stop, SIGKILL after StopTimeoutSec=, killed" \
	"Stopping generation 1 \\(pid $old\\): sent SIGTERM\\.$" \
	"Generation 1 \\(pid $old\\) did not exit within StopTimeoutSec=, sending SIGKILL\\.$" \
	"Generation 1 \\(pid $old\\) was killed by SIGKILL after StopTimeoutSec= ran out\\.$"
t_term=$(sed -n "s/^\\([0-9.]*\\) .*Stopping generation 1 (pid $old): sent SIGTERM\\.$/\\1/p" <<<"$j" | head -n1)
t_kill=$(sed -n "s/^\\([0-9.]*\\) .*Generation 1 (pid $old) did not exit within StopTimeoutSec=, sending SIGKILL\\.$/\\1/p" <<<"$j" | head -n1)
if [[ -n $t_term && -n $t_kill ]]; then
	d=$(elapsed "$t_term" "$t_kill")
	echo "# case 4: SIGKILL came $d s after SIGTERM (StopTimeoutSec=3s); reload returned $(elapsed "$t1" "$t_kill") s before it"
	if python3 -c 'import sys; sys.exit(not 2.9 <= float(sys.argv[1]) <= 4.5)' "$d"; then
		ok "case 4: SIGKILL about 3 s after SIGTERM ($d s)"
	else
		fail "case 4: SIGKILL about 3 s after SIGTERM ($d s)"
	fi
	if python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$t1" "$t_kill"; then
		ok "case 4: systemctl reload returned before the old generation was killed"
	else
		fail "case 4: systemctl reload returned before the old generation was killed"
	fi
else
	fail "case 4: the journal has the SIGTERM and SIGKILL times"
fi
# A stop has to kill it as well: it takes StopTimeoutSec=, not TimeoutStopSec=.
stub=$(app_pid stub@0.service)
t0=$(now)
ct systemctl -q stop stub@0.service
d=$(elapsed "$t0" "$(now)")
echo "# case 4: systemctl stop took $d s"
assert_eq "$(ct systemctl show -P Result stub@0.service)" success "case 4: the stop succeeds"
if ! ct test -e "/proc/$stub"; then ok "case 4: stop killed the stubborn app"; else fail "case 4: stop killed the stubborn app (pid $stub)"; fi
if python3 -c 'import sys; sys.exit(not 2.9 <= float(sys.argv[1]) <= 6)' "$d"; then ok "case 4: stop took StopTimeoutSec= ($d s)"; else fail "case 4: stop took StopTimeoutSec= ($d s)"; fi

# ======== 5. Suspend=queue, Backlog=8, 40 clients ========
c5=$(jmark)
out=$(ct sockdctl restart --suspended q) || fail "case 5: restart --suspended exits 0"
echo "$out" | sed 's/^/# /'
assert_match "$(ct sockdctl status q)" $'\nq@0.service +suspended ' "case 5: q is suspended, no generation runs"
# shellcheck disable=SC2016 # expanded inside the container
assert_eq "$(ct_sh 'ss -xlH src /run/q/q.0.sock | awk "{print \$4}"')" 8 "case 5: the socket's backlog is 8"
ct_write "$T/q-clients.sh" 0755 <<EOF
#!/bin/bash
rm -rf $T/q; mkdir -p $T/q
for i in \$(seq 40); do
	curl -s -m 20 -o $T/q/\$i.body -w '%{http_code} %{time_total}\n' http://127.0.0.1:8080/q/w0/ >$T/q/\$i.code 2>/dev/null &
done
wait
touch $T/q/done
EOF
ct_sh "$T/q-clients.sh >/dev/null 2>&1 &"
sleep 5
early=$(ct_sh "cat $T/q/*.code 2>/dev/null | cut -d' ' -f1 | sort | uniq -c | tr -s ' ' | tr '\n' ';'")
early_other=$(ct_sh "cat $T/q/*.code 2>/dev/null | grep -vc '^502 ' || true")
# shellcheck disable=SC2016 # expanded inside the container
queued=$(ct_sh 'ss -xlH src /run/q/q.0.sock | awk "{print \$3}"')
echo "# case 5: after 5 s suspended: answered: ${early:-none}; waiting in the socket's backlog: $queued"
t_resume=$(now)
out=$(ct sockdctl resume q) || fail "case 5: resume exits 0"
echo "$out" | sed 's/^/# /'
ct_sh "for i in \$(seq 250); do [ -e $T/q/done ] && exit 0; sleep 0.1; done; exit 1" || fail "case 5: every client finished"
codes=$(ct_sh "cat $T/q/*.code | cut -d' ' -f1 | sort | uniq -c | tr -s ' ' | tr '\n' ';'")
n200=$(ct_sh "cat $T/q/*.code | grep -c '^200 ' || true")
n502=$(ct_sh "cat $T/q/*.code | grep -c '^502 ' || true")
slow502=$(ct_sh "cat $T/q/*.code | awk '\$1 == 502 && \$2 > 4' | wc -l")
served_after=$(ct_sh "cat $T/q/*.body" | python3 -c '
import sys
t = float(sys.argv[1]); n = 0
for line in sys.stdin:
    if line.startswith("app=q ") and float(line.split("served=")[1]) >= t:
        n += 1
print(n)' "$t_resume")
nginx_lines=$(jlog "$c5" "$CT_NGINX_UNIT" | grep -F '"GET /q/' || true)
eagain=$(grep -c 'connect() to unix:/run/q/q.0.sock failed (11: Resource temporarily unavailable) while connecting to upstream' <<<"$nginx_lines" || true)
echo "# case 5: 40 clients through nginx with Backlog=8 while suspended: $n200 served after resume, $n502 got 502 at once (http codes: $codes)"
echo "# case 5: nginx's error lines for q (one per 502; $eagain of them EAGAIN):"
sed -E 's/^[0-9\/]+ [0-9:]+ \[error\] [0-9#]+: \*[0-9]+ //' <<<"$nginx_lines" | sort | uniq -c | sed 's/^/#   /'
assert_eq "$early_other" 0 "case 5: before resume no request was answered (but for the 502s)"
if ((n200 >= 8)); then ok "case 5: at least Backlog=8 requests were held and served ($n200)"; else fail "case 5: at least Backlog=8 requests were held and served ($n200)"; fi
assert_eq "$served_after" "$n200" "case 5: every one of them was served by the new generation after resume"
assert_eq "$((n200 + n502))" 40 "case 5: the rest got 502 (measured: beyond backlog+1, connect() fails with EAGAIN)"
assert_eq "$eagain" "$n502" "case 5: each 502 is nginx's connect() EAGAIN on the full backlog"
if [[ $eagain != "$n502" ]]; then jlog "$c5" "$CT_NGINX_UNIT" | sed 's/^/#   nginx: /'; fi
assert_eq "$slow502" 0 "case 5: the 502s came at once, not after a wait"
assert_match "$(ct curl -sf http://127.0.0.1:8080/q/)" '^app=q worker=0 generation=2 ' "case 5: q serves generation 2 after resume"

# ======== 3 (continued): a minute of crash loop ========
left=$(python3 -c 'import sys; print(max(0.0, 60 - (float(sys.argv[2]) - float(sys.argv[1]))))' "$t3" "$(now)")
echo "# case 3: waiting ${left} s more for a full minute of crash loop"
sleep "$left"
restarts=$(nrestarts loop@0.service)
echo "# case 3: restarts of the crashing worker in a minute: $restarts ($(ct systemctl show -P ActiveState,SubState,StatusText loop@0.service | tr '\n' ' '))"
if ((restarts >= 5 && restarts <= 12)); then ok "case 3: $restarts restarts in a minute: backed off (250 ms doubling), not 600"; else fail "case 3: 5..12 restarts in a minute with the back-off (saw $restarts)"; fi
assert_eq "$(ct systemctl is-active loop@0.socket)" active "case 3: the socket unit is still active"
probe='import socket,sys
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print(e.strerror)'
assert_eq "$(ct python3 -c "$probe" /run/loop/loop.0.sock)" connected "case 3: its socket accepts connections"
code=$(ct curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/loop/w0/) && rc=0 || rc=$?
assert_eq "$rc/$code" "28/000" "case 3: a request through nginx waits (curl times out after 2 s), it is not refused"
delays=$(jlog "$c3" loop@0.service | sed -n 's/^The app failed [0-9]* times\? in a row; waiting \([0-9a-z]*\) before starting it again\.$/\1/p' | tr '\n' ' ')
echo "# case 3: back-off delays: $delays"
expect="250ms 500ms 1s 2s 4s 8s 16s 30s 30s 30s "
if [[ -n $delays && $expect == "$delays"* ]]; then ok "case 3: the back-off doubles from 250ms up to 30s"; else fail "case 3: the back-off doubles from 250ms up to 30s (saw: $delays)"; fi
# The fix, then one sockdctl restart. The worker is activating (backing off, a start
# job pending): sockdctl counts it as not running and starts it, i.e. its StartUnit
# joins that job and returns when the back-off ends and the fixed app is ready.
ct rm -f "$T/loop-fail"
state=$(ct systemctl show -P ActiveState,SubState loop@0.service | paste -sd/)
t0=$(now)
out=$(ct sockdctl --timeout=60 restart loop 2>&1) && rc=0 || rc=$?
d=$(elapsed "$t0" "$(now)")
echo "# case 3: sockdctl restart loop on a worker in state $state: exit $rc after $d s: $out"
assert_eq "$rc" 0 "case 3: sockdctl restart loop recovers it"
assert_match "$out" '^loop@0\.service: started$' "case 3: sockdctl says it started the worker"
if python3 -c 'import sys; sys.exit(not float(sys.argv[1]) <= 35)' "$d"; then ok "case 3: within the 30 s back-off cap ($d s)"; else fail "case 3: within the 30 s back-off cap ($d s)"; fi
assert_match "$(ct curl -sf -m 10 http://127.0.0.1:8080/loop/)" '^app=loop worker=0 ' "case 3: requests through nginx succeed again"
assert_match "$(ct curl -sf -m 10 http://127.0.0.1:8080/loop/w0/)" '^app=loop worker=0 ' "case 3: on the worker's own upstream too"
assert_eq "$(ct systemctl show -P MainPID "$CT_NGINX_UNIT")" "$nginx_pid" "case 3: with no change to nginx (same master, never reloaded)"
assert_eq "$(nginx_connect_errors "$c3" /run/loop/loop.0.sock)" "" "case 3: nginx never failed to connect to loop.0.sock"

# ======== 6. sockd-spawn under valgrind ========
if ! ct test -x /usr/bin/valgrind; then
	echo "# SKIP case 6: valgrind is not installed"
elif [[ $(sockd_build_option "$build" b_sanitize) != none ]]; then
	echo "# SKIP case 6: a sanitizer build ($(sockd_build_option "$build" b_sanitize)) cannot run under valgrind"
else
	orig=$(ct sed -n 's/^ExecStart=//p' /run/systemd/generator/vg@.service)
	assert_match "$orig" '^/[^ ]*/sockd-spawn .* -- /usr/bin/python3 ' "case 6: the generated ExecStart= is a sockd-spawn command line"
	vg="/usr/bin/valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible"
	vg+=" --errors-for-leak-kinds=definite,indirect,possible --trace-children=no --child-silent-after-fork=yes"
	ct install -d -o fapp -m 0755 /run/sockd-valgrind
	# Valgrind keeps the pid, so NotifyAccess=main and LISTEN_PID stay right. No
	# sandboxing had to be relaxed: the @system-service filter admits what valgrind
	# 3.19 needs and the unit sets no MemoryDenyWriteExecute=. (valgrind 3.19 does not
	# know pidfd_open, "unhandled syscall: 434" in the log: sd-event falls back to
	# waitid(), so this run exercises that path.)
	spawn=${orig%% *}
	ct_write /run/systemd/system/vg@.service.d/valgrind.conf <<EOF
[Service]
ExecStart=
ExecStart=$vg --log-file=/run/sockd-valgrind/spawn.%%p.log $orig
ExecReload=
ExecReload=$vg --log-file=/run/sockd-valgrind/reload.%%p.log $spawn --reload
EOF
	ct systemctl daemon-reload
	ct systemctl start vg@0.service
	shim=$(ct systemctl show -P MainPID vg@0.service)
	assert_match "$(ct cat "/proc/$shim/cmdline" | tr '\0' ' ')" '^/usr/bin/valgrind\.bin .*/sockd-spawn ' "case 6: the shim runs under valgrind"
	assert_match "$(ct curl -sf --unix-socket /run/vg/vg.0.sock http://localhost/)" '^app=vg worker=0 generation=1 ' "case 6: it serves"
	if ct systemctl reload vg@0.service; then ok "case 6: reload under valgrind"; else fail "case 6: reload under valgrind"; fi
	for ((i = 0; i < 50; i++)); do
		out=$(ct curl -sf --unix-socket /run/vg/vg.0.sock http://localhost/) || true
		[[ $out == *" generation=2 "* ]] && break
		sleep 0.1
	done
	assert_match "$out" '^app=vg worker=0 generation=2 ' "case 6: generation 2 serves"
	out=$(ct sockdctl restart vg 2>&1) && rc=0 || rc=$?
	assert_eq "$rc" 0 "case 6: sockdctl restart (prepare and commit signals) under valgrind"
	ct touch "$T/vg-fail"
	if ct systemctl reload vg@0.service 2>/dev/null; then fail "case 6: a failed reload under valgrind fails"; else ok "case 6: a failed reload under valgrind fails"; fi
	ct rm -f "$T/vg-fail"
	out=$(ct curl -sf --unix-socket /run/vg/vg.0.sock http://localhost/) || true
	assert_match "$out" '^app=vg worker=0 generation=3 ' "case 6: generation 3 still serves"
	[[ $out == *" generation=3 "* ]] || ct journalctl -q -u vg@0.service -o short-monotonic --no-pager | tail -n 60 | sed 's/^/#   | /'
	ct systemctl -q stop vg@0.service
	assert_eq "$(ct systemctl show -P Result,ExecMainStatus vg@0.service | tr '\n' ' ')" "success 0 " \
		"case 6: the shim exited 0 under valgrind (99 would be valgrind's error exit)"
	# shellcheck disable=SC2016 # expanded inside the container
	logs=$(ct_sh 'for f in /run/sockd-valgrind/*.log; do echo "== $f"; cat "$f"; done')
	main_log=$(ct cat "/run/sockd-valgrind/spawn.$shim.log" 2>/dev/null || true)
	assert_match "$main_log" 'ERROR SUMMARY: 0 errors from 0 contexts' "case 6: the shim's valgrind log: ERROR SUMMARY: 0 errors"
	assert_match "$main_log" 'definitely lost: 0 bytes|All heap blocks were freed' "case 6: the shim's valgrind log has its leak summary"
	n_reload=$(grep -c '^== /run/sockd-valgrind/reload\.' <<<"$logs" || true)
	# two systemctl reloads, and the one that brought sockdctl restart's settings
	if ((n_reload == 3)); then ok "case 6: all three ExecReload= clients ran under valgrind"; else fail "case 6: all three ExecReload= clients ran under valgrind ($n_reload logs)"; fi
	summaries=$(grep -c 'ERROR SUMMARY:' <<<"$logs" || true)
	bad=$(grep -E 'ERROR SUMMARY: [1-9]|(definitely|indirectly|possibly) lost: [1-9]|Invalid (read|write|free)|uninitialised|Mismatched free' <<<"$logs" || true)
	echo "# case 6: $summaries valgrind summaries; shim: $(grep -E 'in use at exit|total heap usage' <<<"$main_log" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')"
	assert_eq "$bad" "" "case 6: no valgrind error and no definitely/indirectly/possibly lost bytes in any log"
	if [[ -n $bad ]]; then echo "$logs" | sed 's/^/#   | /' | head -n 200; fi
fi

# ======== 8. sockdctl restart right after a failed reload ========
# A failed `systemctl reload` leaves "failed: generation N, ..." in the worker's
# StatusText until its next swap. sockdctl restart sends the prepare signal and reads
# the status; here the shim of fa@1 is stopped for a second, as a busy one would be,
# so sockdctl's first look sees the status from before its request. Expected: the
# restart succeeds, and nothing is left prepared.
st=$(ct systemctl show -P StatusText fa@1.service)
assert_match "$st" '; failed: generation [0-9]+, pid [0-9]+: was killed by SIGKILL before it was ready$' \
	"case 8: fa@1's status still names the failed reload of case 7b"
gens=$(app_gen fa@0.service)/$(app_gen fa@1.service)
shim=$(ct systemctl show -P MainPID fa@1.service)
ct kill -STOP "$shim"
ct_sh "sockdctl --timeout=30 restart fa >$T/restart8.out 2>&1; echo \$? >$T/restart8.rc" &
restart_pid=$!
sleep 1
ct kill -CONT "$shim"
wait "$restart_pid" || true
rc=$(ct cat "$T/restart8.rc")
ct cat "$T/restart8.out" | sed 's/^/# case 8: /'
assert_eq "$rc" 0 "case 8: sockdctl restart fa succeeds although fa@1's last reload had failed"
sleep 2
leftover=$(ct systemctl show -P StatusText fa@0.service fa@1.service | grep -E '(starting|ready): generation' || true)
assert_eq "$leftover" "" "case 8: no new generation is left starting or prepared after sockdctl returned"
echo "# case 8: generations before: $gens, after: $(app_gen fa@0.service)/$(app_gen fa@1.service)"

sockd_assert_no_sanitizer_reports
ct_finish
