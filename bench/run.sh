#!/bin/bash
# bench/run.sh: the sockd benchmarks, one command. Builds sockd (release) into
# build-bench, installs pm2 from the npm registry into a cache under /var/tmp (reused),
# boots a throwaway systemd 252 in a container (tests/integration/lib.sh), runs every
# scenario's contenders there one after another for several rounds, prints a table and
# writes bench/RESULTS.md. Raw numbers and logs: bench/out/ (not in git).
#
#   bash bench/run.sh (as root) [--rounds N] [--duration SEC] [--rate RPS] [--only 1,2,...]
#                          [--quick] [--no-results]
#
#   --rounds N      rounds of every scenario (default: 10 for the request path, 5 for the
#                   echo test and suspended restarts, 4 for restarts under load and crashes,
#                   3 for scale)
#   --duration SEC  seconds of each wrk run in scenario 1 (default 4) and of the steady
#                   window before each restart in scenario 2 (default 4)
#   --rate RPS      open-loop request rate during restarts (default 2000; the steady-state
#                   check of pm2 vs sockd runs at 1.5 x RPS)
#   --echo-lines N  lines each echo client sends (default 30000)
#   --only LIST     scenarios to run, e.g. 1,2 (default 1,2,3,4,5,6)
#   --quick         1 round, 2 s runs: checks that everything works (~4 min)
#   --no-results    do not overwrite bench/RESULTS.md (the table is still printed)
#
# Needs root (overlay mount + systemd-nspawn), nginx, wrk, node, npm, meson, ninja, gcc.
# Defaults take ~15 minutes on 2 cores.

# Pid lists are split into words on purpose (SC2086); single-quoted scripts are expanded
# by the shell inside the container (SC2016).
# shellcheck disable=SC2086,SC2016
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$bench")
cmdline="bench/run.sh${*:+ $*}"

rounds="" duration=4 rate=2000 echo_lines=30000 only="1,2,3,4,5,6" quick=0 write_results=1
while (($#)); do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--echo-lines) echo_lines=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--no-results) write_results=0; shift ;;
	-h | --help) sed -n '2,/^$/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if ((quick)); then
	rounds=${rounds:-1} duration=2 echo_lines=5000
fi
r_http=${rounds:-10} r_echo=${rounds:-5} r_restart=${rounds:-4} r_scale=${rounds:-3} r_susp=${rounds:-5} r_crash=${rounds:-4}
want() { [[ ,$only, == *,$1,* ]]; }

if [[ $(id -u) != 0 ]]; then
	echo "run.sh: run as root (it boots systemd in a container): sudo bash bench/run.sh" >&2
	exit 2
fi
for tool in meson ninja gcc nginx wrk node npm curl systemd-nspawn nsenter; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (bash scripts/install-deps.sh installs most)" >&2; exit 2; }
done

say() { printf '\n== %s\n' "$*" >&2; }
note() { printf '   %s\n' "$*" >&2; }
t_start=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ build, pm2
build=$src/build-bench
say "Building sockd (release) in build-bench"
[[ -f $build/build.ninja ]] || meson setup "$build" "$src" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null
mkdir -p "$build/bench"
gcc -O2 -Wall -Wextra -Wno-unused-parameter -o "$build/bench/loadgen" "$bench/loadgen.c"
gcc -O2 -Wall -Wextra -Wno-unused-parameter -pthread -o "$build/bench/echo" "$bench/echo.c"

cache=/var/tmp/sockd-bench-cache
pm2=$cache/node_modules/.bin/pm2
if [[ ! -x $pm2 ]]; then
	say "Installing pm2 from the npm registry into $cache (once)"
	mkdir -p "$cache"
	[[ -f $cache/package.json ]] || echo '{ "name": "sockd-bench-cache", "private": true }' >"$cache/package.json"
	(cd "$cache" && npm install --no-audit --no-fund --loglevel=error pm2@latest >/dev/null)
fi
pm2_version=$(node -p "require('$cache/node_modules/pm2/package.json').version")

out=$bench/out
rm -rf "$out/run"
mkdir -p "$out/run"
raw=$out/raw.tsv
printf '# scenario\tcase\tcontender\tmetric\tround\tvalue\n' >"$raw"
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$raw"; }
# rec_kv SCEN CASE CONT ROUND "k=v k=v ...": one raw line per pair
rec_kv() {
	local kv
	for kv in $5; do rec "$1" "$2" "$3" "${kv%%=*}" "$4" "${kv#*=}"; done
}

# ------------------------------------------------------------------ container
# shellcheck source=tests/integration/lib.sh
. "$src/tests/integration/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$src/tests/integration/sockd-lib.sh"

say "Booting systemd in a container"
ct_boot
sockd_install "$build" "$src"
lib=/usr/local/lib/sockd-bench share=/usr/local/share/sockd-bench
ct_write $lib/loadgen 0755 <"$build/bench/loadgen"
ct_write $lib/echo 0755 <"$build/bench/echo"
ct_write $share/app.js 0644 <"$bench/app.js"
ct_write $share/analyze.py 0755 <"$bench/analyze.py"
ct mkdir -p /run/bench
node=$(command -v node)
gen=$(meson introspect "$build" --installed | python3 -c 'import json,sys; print(next(v for k, v in json.load(sys.stdin).items() if k.endswith("src/generator/sockd-generator")))')
A="ct python3 $share/analyze.py"

# ct_time CMD...: run CMD inside, print its wall time in µs (its output goes to
# bench/out/run/cmd.log); fails if CMD fails.
ct_time() {
	# shellcheck disable=SC2016 # expanded inside
	ct bash -c 's=${EPOCHREALTIME/[.,]/}; "$@" >>/run/bench/cmd.log 2>&1; rc=$?; e=${EPOCHREALTIME/[.,]/}; echo $((e - s)); exit $rc' ct_time "$@"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# kv KEY "k=v ...": the value of KEY
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<" $2"; }
save_cmd_log() { ct cat /run/bench/cmd.log >>"$out/run/cmd.log" 2>/dev/null || true; ct truncate -s0 /run/bench/cmd.log 2>/dev/null || true; }

# settle N: wait (up to 30 s) until exactly N Node app processes run: the old
# generations of a restart have drained and exited.
settle() {
	local want=$1 n i
	for ((i = 0; i < 300; i++)); do
		n=$(ct pgrep -c -f "^($node|node) $share/app\\.js\$" || true)
		[[ $n == "$want" ]] && return 0
		sleep 0.1
	done
	note "settle: $n Node app processes, expected $want"
}

# ------------------------------------------------------------------ apps
# sockd apps; the Node app is the same file for every contender.
sockd_app() { # NAME WORKERS READY_DELAY_MS SUSPEND [LINE]
	ct_write "/etc/sockd/$1.conf" <<EOF
[App]
Exec=$node $share/app.js
Environment=BENCH_READY_DELAY_MS=$3
Workers=$2
Ready=node-ipc
StopTimeoutSec=10s
Suspend=$4
${5:-}
EOF
}
sockd_app fast 3 0 queue
# 6. crash failover: the app that needs 1 s to start, without and with a spare
sockd_app crash 3 1000 queue
sockd_app crashsb 3 1000 queue Standby=yes
sockd_app crashsv 3 1000 queue Standby=serving
# (d) the same app binding its own TCP port, adopted by sockd (Listen=, the preload)
ct_write /etc/sockd/listen.conf <<EOF
[App]
Exec=$node $share/app.js
Environment=BENCH_LISTEN=tcp:127.0.0.1:9200
Listen=tcp:127.0.0.1:9200
Workers=3
Ready=node-ipc
StopTimeoutSec=10s
EOF
sockd_app slow 3 1000 queue
sockd_app hold 3 0 hold
sockd_app queue 3 0 queue
sockd_app hold1 3 1000 hold
sockd_app queue1 3 1000 queue
ct_write /etc/sockd/echo.conf <<EOF
[App]
Exec=$lib/echo server --fd
Workers=1
Ready=notify
EOF
ct systemctl daemon-reload

# (a) the app binds its own UNIX socket; (a') the same inside the sandbox of sockd's
# worker units (copied from the generated unit); (c) loopback TCP. Plain services in
# sockd.slice like the sockd workers: no shim, no socket activation.
sandbox=$(ct systemctl cat fast@0.service | sed -n '/^\[Service\]/,$p' | grep -E '^(DynamicUser|NoNewPrivileges|Private|Protect|Restrict|Lock|SystemCall|UMask)')
ct_write /etc/systemd/system/bench-a@.service <<EOF
[Service]
Type=exec
Slice=sockd.slice
Environment=BENCH_LISTEN=unix:/run/bench-a/%i/app.sock
RuntimeDirectory=bench-a/%i
RuntimeDirectoryMode=0755
ExecStart=$node $share/app.js
EOF
ct_write /etc/systemd/system/bench-s@.service <<EOF
[Service]
Type=exec
Slice=sockd.slice
Environment=BENCH_LISTEN=unix:/run/bench-s/%i/app.sock
RuntimeDirectory=bench-s/%i
RuntimeDirectoryMode=0755
ExecStart=$node $share/app.js
$sandbox
EOF
ct_write /etc/systemd/system/bench-c@.service <<EOF
[Service]
Type=exec
Slice=sockd.slice
Environment=BENCH_LISTEN=tcp:127.0.0.1:910%i
ExecStart=$node $share/app.js
EOF
# 16 of these, plain and inside the worker sandbox: what the sandbox costs a start
ct_write /etc/systemd/system/bench-plain@.service <<EOF
[Service]
Type=exec
ExecStart=/usr/bin/sleep infinity
EOF
ct_write /etc/systemd/system/bench-sandboxed@.service <<EOF
[Service]
Type=exec
ExecStart=/usr/bin/sleep infinity
$sandbox
EOF
ct_write /etc/systemd/system/bench-echo-unix.service <<EOF
[Service]
RuntimeDirectory=bench-echo
ExecStart=$lib/echo server --unix /run/bench-echo/echo.sock
EOF
ct_write /etc/systemd/system/bench-echo-tcp.service <<EOF
[Service]
ExecStart=$lib/echo server --tcp 9400
EOF
ct systemctl daemon-reload

# pm2: cluster mode, 3 instances per app on a TCP port, graceful reload settings
# (wait_ready + process.send('ready'), SIGINT drain, kill_timeout = StopTimeoutSec).
pm2ct() { ct env PM2_HOME=/run/pm2 HOME=/root "$pm2" "$@"; }
ct_write /run/bench/ecosystem.config.js <<EOF
const app = (name, port, delay) => ({
  name, script: '$share/app.js', exec_mode: 'cluster', instances: 3,
  env: { BENCH_LISTEN: 'tcp:127.0.0.1:' + port, BENCH_READY_DELAY_MS: String(delay) },
  wait_ready: true, listen_timeout: 30000, kill_timeout: 10000,
});
module.exports = { apps: [app('pm2fast', 9300, 0), app('pm2slow', 9301, 1000)] };
EOF

# nginx: one server, one location per contender, the same upstream settings for all
# (those 'sockdctl nginx' prints for 3 workers: max_fails=0, keepalive 24, 4 s keepalive
# timeout, connections renewed after 750 ms, retry idempotent requests on error/502; pm2's
# one port gets the same pool).
{
	printf '%s\n' 'user www-data;' 'worker_processes 2;' 'error_log stderr warn;' \
		'events { worker_connections 8192; }' 'worker_rlimit_nofile 20000;' 'http {' '    access_log off;' \
		'    proxy_http_version 1.1;' '    proxy_set_header Connection "";' '    proxy_read_timeout 120s;' \
		'    proxy_next_upstream error timeout http_502;'
	for app in fast slow hold queue hold1 queue1 listen crash crashsb crashsv; do
		ct sockdctl nginx "$app" | grep -v '^ *#'
	done
	up() { # NAME SERVER...
		local name=$1 s
		shift
		printf '    upstream %s {\n' "$name"
		for s; do printf '        server %s max_fails=0;\n' "$s"; done
		printf '        keepalive 24;\n        keepalive_timeout 4s;\n        keepalive_time 750ms;\n    }\n' # = sockdctl's: 8 per worker x 3
	}
	up a unix:/run/bench-a/{0,1,2}/app.sock
	up a_sb unix:/run/bench-s/{0,1,2}/app.sock
	up c 127.0.0.1:9100 127.0.0.1:9101 127.0.0.1:9102
	up pm2fast 127.0.0.1:9300
	up pm2slow 127.0.0.1:9301
	printf '    server {\n        listen 127.0.0.1:8080 backlog=4096;\n'
	for l in fast slow hold queue hold1 queue1 listen crash crashsb crashsv a a_sb c pm2fast pm2slow; do
		printf '        location /%s/ { proxy_pass http://%s; proxy_next_upstream_tries 3; }\n' "$l" "$l"
	done
	printf '    }\n}\n'
} >"$out/run/nginx.conf"
ct_write /run/bench/nginx.conf <"$out/run/nginx.conf"
ct_nginx_start /run/bench/nginx.conf
ct sockdctl -q start fast

# wait_http URL...: until every URL answers 200 (30 s at most)
wait_http() {
	local u i
	for u; do
		for ((i = 0; i < 300; i++)); do
			ct curl -sf -o /dev/null "$u" && break
			sleep 0.1
		done
		ct curl -sf -o /dev/null "$u" || { echo "run.sh: $u does not answer" >&2; return 1; }
	done
}
pids_of() { # UNIT...: main pids
	local u
	for u; do ct systemctl show -P MainPID "$u"; done | tr '\n' ' '
}
sockd_app_pids() { # APP: the pids of the apps' serving generations
	ct sockdctl status "$1" --json | python3 -c 'import json,sys; print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)))'
}
nginx_pids() { ct pgrep -x nginx | tr '\n' ' '; }

# ================================================================== 1. request path
if want 1; then
	say "1. Request path: wrk through nginx to (a) own UNIX socket, (a') same + worker sandbox, (b) sockd, (c) TCP, (d) sockd Listen=; $r_http rounds of ${duration}s"
	ct systemctl start bench-a@{0,1,2} bench-s@{0,1,2} bench-c@{0,1,2}
	ct sockdctl -q start listen
	wait_http http://127.0.0.1:8080/{a,a_sb,fast,c,listen}/
	declare -A apids
	apids[a]=$(pids_of bench-a@{0,1,2}) apids[a_sb]=$(pids_of bench-s@{0,1,2}) apids[c]=$(pids_of bench-c@{0,1,2})
	apids[b]=$(sockd_app_pids fast) apids[d]=$(sockd_app_pids listen)
	shims=$(pids_of fast@{0,1,2})
	ngx=$(nginx_pids)
	declare -A loc=([a]=a [a_sb]=a_sb [b]=fast [c]=c [d]=listen)
	# What the preload adds to each app process: the resident pages of its own mappings
	# (code, data) and of the one-byte retirement flag it maps, from smaps.
	for p in ${apids[d]}; do
		rec s1 preload d rss_kib "$p" "$(ct awk '/^[0-9a-f]+-[0-9a-f]+ / { m = ($6 ~ /libsockd-preload|\/retired\./) } m && /^Rss:/ { s += $2 } END { print s + 0 }' /proc/$p/smaps)"
	done
	# listen backlog (ss: Send-Q of a listening socket) vs Backlog= of the socket unit
	rec s1 backlog b configured 1 "$(ct systemctl show -P Backlog fast@0.socket)"
	rec s1 backlog b effective 1 "$(ct ss -xlH | awk '$5 == "/run/fast/fast.0.sock" { print $4 }')"
	rec s1 backlog a effective 1 "$(ct ss -xlH | awk '$5 == "/run/bench-a/0/app.sock" { print $4 }')"
	# warm-up: JIT, connection pools
	for c in a a_sb b c d; do ct wrk -t2 -c32 -d1s "http://127.0.0.1:8080/${loc[$c]}/" >/dev/null; done
	order=(a a_sb b c d)
	for ((r = 1; r <= r_http; r++)); do
		line=""
		for c in "${order[@]}"; do
			cpu0=$($A cpu ${apids[$c]} $ngx)
			shim0=$($A cpu $shims)
			ct wrk -t2 -c32 -d"${duration}s" --latency "http://127.0.0.1:8080/${loc[$c]}/" >"$out/run/wrk-$c-$r.txt"
			cpu1=$($A cpu ${apids[$c]} $ngx)
			shim1=$($A cpu $shims)
			res=$(python3 "$bench/analyze.py" wrk "$out/run/wrk-$c-$r.txt" | tr '\n' ' ')
			reqs=$(kv requests "$res")
			rec_kv s1 http "$c" "$r" "rps=$(kv rps "$res") p50_ms=$(kv p50_ms "$res") p99_ms=$(kv p99_ms "$res") errors=$(($(kv non2xx "$res") + $(kv sockerr "$res")))"
			rec s1 http "$c" cpu_us_per_req "$r" "$(awk -v a="$cpu0" -v b="$cpu1" -v n="$reqs" 'BEGIN { printf "%.2f", (b - a) / n }')"
			[[ $c == b ]] && rec s1 http b shim_cpu_ms "$r" $(((shim1 - shim0) / 1000))
			line+="$c $(kv rps "$res") req/s  "
		done
		note "round $r: $line"
		order=("${order[@]:1}" "${order[0]}") # rotate who goes first
	done
	ct systemctl stop bench-a@{0,1,2} bench-s@{0,1,2} bench-c@{0,1,2}
	ct sockdctl -q stop listen

	say "1b. Line echo, no nginx: UNIX vs UNIX under sockd vs TCP, 1 and 10 clients, $echo_lines lines each, $r_echo rounds"
	ct systemctl start bench-echo-unix bench-echo-tcp
	ct sockdctl -q start echo
	declare -A eargs=([unix]="--unix /run/bench-echo/echo.sock" [sockd]="--unix /run/echo/echo.0.sock" [tcp]="--tcp 9400")
	for ((i = 0; i < 50; i++)); do ct test -S /run/bench-echo/echo.sock && break; sleep 0.1; done
	rec s1 backlog echo effective 1 "$(ct ss -xlH | awk '$5 == "/run/echo/echo.0.sock" { print $4 }')"
	order=(unix sockd tcp)
	for ((r = 1; r <= r_echo; r++)); do
		line=""
		for n in 1 10; do
			for c in "${order[@]}"; do
				# shellcheck disable=SC2086 # split the args
				res=$(ct $lib/echo client ${eargs[$c]} --lines "$echo_lines" --clients $n)
				rec s1 "echo$n" "$c" lps "$r" "$(kv lines_per_s "$res")"
				line+="$c/$n $(kv lines_per_s "$res")  "
			done
		done
		note "round $r: $line"
		order=("${order[@]:1}" "${order[0]}")
	done
	ct sockdctl -q stop echo
	ct systemctl stop bench-echo-unix bench-echo-tcp
fi

# ================================================================== 2. restart under load
running_apps=3 # node processes: fast
start_pm2() {
	ct systemd-run --quiet --unit=bench-pm2 -p Type=forking -p PIDFile=/run/pm2/pm2.pid -p Slice=sockd.slice \
		-E PM2_HOME=/run/pm2 -E HOME=/root -- "$pm2" start /run/bench/ecosystem.config.js >/dev/null
}
if want 2 || want 3; then
	ct sockdctl -q start slow
	start_pm2
	running_apps=12
	wait_http http://127.0.0.1:8080/{fast,slow,pm2fast,pm2slow}/
	settle $running_apps
fi
if want 2; then
	say "2. Restart under load: open loop, $rate req/s (GET/POST) through nginx; sockdctl restart vs systemctl restart of each worker in turn vs pm2 reload; $r_restart rounds"
	# 1 s ramp-up + 2 s (in the control, 2 to 4 s after the start of the load was still
	# noisier than what followed); the window ends 2.5 s after the command returned: sockd's
	# old generations hand over for up to 2 x HandoverSec= (2 s) after it, and their last
	# connections move when they stop. The same window for every contender.
	warm_us=3000000 tail_us=2500000
	# restart_run CASE CONTENDER PATH CMD...: load, steady window, CMD, 2 s more, stop
	restart_run() {
		local case=$1 cont=$2 path=$3 r=$4 marks t0 t1 res
		shift 4
		ct bash -c "$lib/loadgen -r $rate -R 1 -c 4000 -d 600 -t 10 -P /run/bench/lg.pid -o /run/bench/lg.txt 127.0.0.1:8080 $path 2>/run/bench/lg.err & echo \$! >/run/bench/lg.bg"
		sleep $((3 + duration))
		# shellcheck disable=SC2016 # expanded inside
		marks=$(ct bash -c 's=${EPOCHREALTIME/[.,]/}; "$@" >>/run/bench/cmd.log 2>&1 || echo "FAILED: $*" >>/run/bench/cmd.log; e=${EPOCHREALTIME/[.,]/}; echo $s $e' x "$@")
		read -r t0 t1 <<<"$marks"
		sleep 3.5
		ct bash -c 'kill -INT $(cat /run/bench/lg.pid); while kill -0 $(cat /run/bench/lg.pid) 2>/dev/null; do sleep 0.05; done'
		res=$($A window /run/bench/lg.txt "$t0" "$t1" $warm_us $tail_us /run/bench/timeline.txt \
			/run/bench/samples-$case-$cont-$r.txt | tr '\n' ' ')
		ct cat /run/bench/timeline.txt >"$out/run/timeline-$case-$cont-$r.txt"
		ct cat /run/bench/lg.err >>"$out/run/loadgen.log"
		rec_kv s2 "$case" "$cont" "$r" "$res"
		rec s2 "$case" "$cont" restart_s "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')"
		note "$case $cont round $r: restart $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }') s, steady p99 $(kv steady_p99_ms "$res") ms, during p99 $(kv during_p99_ms "$res") max $(kv during_max_ms "$res") ms, non2xx $(kv non2xx "$res"), socket errors $(kv sockerr "$res")"
		save_cmd_log
		settle $running_apps
		sleep 1
	}
	# 'none' is the control: the same load and windows, and a command that does nothing. Its
	# during/steady ratio is what chance alone gives, the floor the restarts are read against.
	order=(sockdctl systemctl pm2 none)
	for ((r = 1; r <= r_restart; r++)); do
		for case in fast slow; do
			for c in "${order[@]}"; do
				case $c in
				sockdctl) restart_run $case $c /$case/ $r sockdctl restart $case ;;
				systemctl) restart_run $case $c /$case/ $r bash -c "for i in 0 1 2; do systemctl restart $case@\$i.service; done" ;;
				pm2) restart_run $case $c /pm2$case/ $r env PM2_HOME=/run/pm2 HOME=/root "$pm2" reload pm2$case ;;
				none) restart_run $case $c /$case/ $r true ;;
				esac
			done
		done
		order=("${order[@]:1}" "${order[0]}")
	done
	# The p99s of all rounds' requests pooled, per contender (round 0 in raw.tsv)
	for case in fast slow; do
		for c in "${order[@]}"; do
			rec_kv s2 "$case" "$c" 0 "$(ct bash -c "python3 $share/analyze.py pooled /run/bench/samples-$case-$c-*.txt" | tr '\n' ' ')"
		done
	done

	# The same load, 1.5 times as fast and without a restart: does the steady state hold?
	high=$((rate * 3 / 2))
	note "steady state at $high req/s, no restart: sockd vs pm2"
	order=(sockd pm2)
	for ((r = 1; r <= r_restart; r++)); do
		for c in "${order[@]}"; do
			path=/fast/
			[[ $c == pm2 ]] && path=/pm2fast/
			sleep 6 # nginx closes the idle upstream connections of the run before: a cold start for everyone
			ct $lib/loadgen -r $high -R 1 -c 4000 -d $((2 + 2 * duration)) -t 10 -o /run/bench/hi.txt 127.0.0.1:8080 $path 2>>"$out/run/loadgen.log"
			res=$($A window /run/bench/hi.txt 9999999999999999 9999999999999999 $warm_us 0 | tr '\n' ' ')
			rec_kv s2 high "$c" "$r" "$res"
			note "$high req/s, $c round $r: p50 $(kv steady_p50_ms "$res") ms, p99 $(kv steady_p99_ms "$res") ms, max $(kv steady_max_ms "$res") ms, failed $(kv steady_err "$res")"
		done
		order=("${order[@]:1}" "${order[0]}")
	done
fi

# ================================================================== 3. footprint
if want 3; then
	say "3. Footprint: RSS/PSS of sockd-spawn and the pm2 daemon, binary sizes"
	pm2ct delete pm2slow >/dev/null
	ct sockdctl -q stop slow
	running_apps=6
	settle $running_apps
	# mem PIDS: "rss_kb pss_kb" summed
	mem() { ct bash -c 'r=0; p=0; for pid; do read -r a < <(awk "/^VmRSS/ {print \$2}" /proc/$pid/status); read -r b < <(awk "/^Pss:/ {print \$2}" /proc/$pid/smaps_rollup); r=$((r + a)); p=$((p + b)); done; echo $r $p' mem "$@"; }
	shims=$(pids_of fast@{0,1,2})
	god=$(ct cat /run/pm2/pm2.pid)
	appb=$(sockd_app_pids fast)
	appp=$(pm2ct jlist | python3 -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(sys.stdin) if p["name"] == "pm2fast"))')
	for ((r = 1; r <= 3; r++)); do
		for shim in $shims; do read -r rss pss < <(mem "$shim"); rec s3 mem shim rss_kb "$r$shim" "$rss"; rec s3 mem shim pss_kb "$r$shim" "$pss"; done
		# shellcheck disable=SC2086
		read -r rss pss < <(mem $shims); rec s3 mem shims3 rss_kb "$r" "$rss"; rec s3 mem shims3 pss_kb "$r" "$pss"
		read -r rss pss < <(mem "$god"); rec s3 mem god rss_kb "$r" "$rss"; rec s3 mem god pss_kb "$r" "$pss"
		# shellcheck disable=SC2086
		read -r rss pss < <(mem $appb); rec s3 mem appb rss_kb "$r" $((rss / 3)); rec s3 mem appb pss_kb "$r" $((pss / 3))
		# shellcheck disable=SC2086
		read -r rss pss < <(mem $appp); rec s3 mem appp rss_kb "$r" $((rss / 3)); rec s3 mem appp pss_kb "$r" $((pss / 3))
		sleep 1
	done
	note "shims: $(ct bash -c 'for p; do grep VmRSS /proc/$p/status; done' x $shims | tr -s ' \n' ' '); pm2 God daemon: $(ct grep VmRSS /proc/"$god"/status | tr -s ' ')"
	for f in spawn/sockd-spawn ctl/sockdctl generator/sockd-generator; do
		b=${f#*/}
		strip -o "$out/run/$b.stripped" "$build/src/$f"
		rec s3 size "$b" bytes 1 "$(stat -c %s "$build/src/$f")"
		rec s3 size "$b" stripped 1 "$(stat -c %s "$out/run/$b.stripped")"
	done
	rec s3 size pm2 bytes 1 "$(du -sb "$cache/node_modules" | cut -f1)"
	pm2ct kill >/dev/null 2>&1 || true
	ct systemctl stop bench-pm2 2>/dev/null || true
	running_apps=3
elif want 2; then
	pm2ct kill >/dev/null 2>&1 || true
	ct systemctl stop bench-pm2 2>/dev/null || true
	ct sockdctl -q stop slow
	running_apps=3
fi

# ================================================================== 4. scale
if want 4; then
	say "4. Scale: generator, daemon-reload, sockdctl start/status/restart/stop with 1..64 workers of an instantly ready C app; then 100 apps"
	scale_conf() { # NAME WORKERS
		ct_write "/etc/sockd/$1.conf" <<EOF
[App]
Exec=$lib/echo server --fd
Workers=$2
Ready=notify
StopTimeoutSec=5s
EOF
	}
	gen_time() { # median of 5 generator runs, µs
		local i t=""
		for ((i = 0; i < 5; i++)); do
			ct rm -rf /run/bench/gen
			ct mkdir -p /run/bench/gen/{n,e,l}
			t+="$(ct_time "$gen" /run/bench/gen/n /run/bench/gen/e /run/bench/gen/l) "
		done
		median <<<"$t"
	}
	for w in 1 4 16 64; do
		scale_conf scale $w
		rec s4 w$w sockd gen_ms 1 "$(awk -v t="$(gen_time)" 'BEGIN { print t / 1000 }')"
		for ((r = 1; r <= r_scale; r++)); do rec s4 w$w sockd reload_ms "$r" $(($(ct_time systemctl daemon-reload) / 1000)); done
		rec s4 w$w sockd start_ms 1 $(($(ct_time sockdctl start scale) / 1000))
		for ((r = 1; r <= 5; r++)); do rec s4 w$w sockd status_ms "$r" "$(awk -v t="$(ct_time sockdctl status scale)" 'BEGIN { print t / 1000 }')"; done
		for ((r = 1; r <= r_scale; r++)); do
			rec s4 w$w sockd restart_ms "$r" $(($(ct_time sockdctl restart scale) / 1000))
			sleep 0.5
		done
		# for comparison: the systemd-native swap, one worker after another
		rec s4 w$w sockd reload_workers_ms 1 $(($(ct_time bash -c "for ((i = 0; i < $w; i++)); do systemctl reload scale@\$i.service; done") / 1000))
		rec s4 w$w sockd stop_ms 1 $(($(ct_time sockdctl stop scale) / 1000))
		note "$w workers: $(grep -P "^s4\tw$w\t" "$raw" | awk -F'\t' '{ v[$4] = v[$4] " " $6 } END { for (k in v) printf "%s:%s  ", k, v[k] }')"
	done
	# Where the start time of 16 workers goes: the socket units (each runs systemd-tmpfiles
	# as ExecStartPre), the services (sandbox, shim, app); and 16 units running `sleep`,
	# plain and inside the worker sandbox.
	scale_conf scale 16
	ct systemctl daemon-reload
	for ((r = 1; r <= r_scale; r++)); do
		# shellcheck disable=SC2016
		rec s4 start16 sockd sockets_ms "$r" $(($(ct_time bash -c 'systemctl start scale@{0..15}.socket') / 1000))
		# shellcheck disable=SC2016
		rec s4 start16 sockd services_ms "$r" $(($(ct_time bash -c 'systemctl start scale@{0..15}.service') / 1000))
		ct bash -c 'systemctl stop scale@{0..15}.service scale@{0..15}.socket'
		# shellcheck disable=SC2016
		rec s4 start16 plain units_ms "$r" $(($(ct_time bash -c 'systemctl start bench-plain@{0..15}.service') / 1000))
		# shellcheck disable=SC2016
		rec s4 start16 sandboxed units_ms "$r" $(($(ct_time bash -c 'systemctl start bench-sandboxed@{0..15}.service') / 1000))
		ct bash -c 'systemctl stop bench-plain@{0..15}.service bench-sandboxed@{0..15}.service'
	done
	note "16 workers' start: $(grep -P "^s4\tstart16\t" "$raw" | awk -F'\t' '{ v[$3 "/" $4] = v[$3 "/" $4] " " $6 } END { for (k in v) printf "%s:%s  ", k, v[k] }')"
	ct rm -f /etc/sockd/scale.conf
	napps=100
	for ((i = 0; i < napps; i++)); do scale_conf "$(printf 'app%03d' $i)" 1; done
	rec s4 apps sockd gen_ms 1 "$(awk -v t="$(gen_time)" 'BEGIN { print t / 1000 }')"
	for ((r = 1; r <= r_scale; r++)); do rec s4 apps sockd reload_ms "$r" $(($(ct_time systemctl daemon-reload) / 1000)); done
	for ((r = 1; r <= r_scale; r++)); do rec s4 apps sockd list_ms "$r" $(($(ct_time sockdctl list) / 1000)); done
	# shellcheck disable=SC2016
	rec s4 apps sockd start_all_s 1 "$(awk -v t="$(ct_time bash -c 'for a in $(seq -f "app%03g" 0 99); do sockdctl -q start $a; done')" 'BEGIN { print t / 1e6 }')"
	for ((r = 1; r <= r_scale; r++)); do rec s4 apps sockd status_all_ms "$r" $(($(ct_time sockdctl status) / 1000)); done
	# shellcheck disable=SC2016
	rec s4 apps sockd stop_all_s 1 "$(awk -v t="$(ct_time bash -c 'for a in $(seq -f "app%03g" 0 99); do sockdctl -q stop $a; done')" 'BEGIN { print t / 1e6 }')"
	note "100 apps: $(grep -P "^s4\tapps\t" "$raw" | awk -F'\t' '{ v[$4] = v[$4] " " $6 } END { for (k in v) printf "%s:%s  ", k, v[k] }')"
	ct bash -c 'rm -f /etc/sockd/app0*.conf'
	ct systemctl daemon-reload
	save_cmd_log
fi

# ================================================================== 5. suspended restart
if want 5; then
	say "5. Suspended restart: 100 requests held, time from 'sockdctl resume' to the last answer; $r_susp rounds"
	apps5=(hold queue hold1 queue1)
	for app in "${apps5[@]}"; do ct sockdctl -q start "$app"; done
	running_apps=$((running_apps + 12))
	wait_http http://127.0.0.1:8080/{hold,queue,hold1,queue1}/
	settle $running_apps
	for ((r = 1; r <= r_susp; r++)); do
		for app in "${apps5[@]}"; do
			sus=$(ct_time sockdctl restart --suspended "$app")
			ct bash -c "$lib/loadgen -r 0 -c 100 -n 100 -t 60 -o /run/bench/burst.txt 127.0.0.1:8080 /$app/ 2>/run/bench/burst.err & echo \$! >/run/bench/burst.pid"
			sleep 1.5 # the "migration"; the 100 requests are in by now
			# shellcheck disable=SC2016
			marks=$(ct bash -c 's=${EPOCHREALTIME/[.,]/}; sockdctl resume "$1" >>/run/bench/cmd.log 2>&1; e=${EPOCHREALTIME/[.,]/}; echo $s $e' x "$app")
			read -r t0 t1 <<<"$marks"
			ct bash -c 'while kill -0 $(cat /run/bench/burst.pid) 2>/dev/null; do sleep 0.05; done'
			res=$($A burst /run/bench/burst.txt "$t0" | tr '\n' ' ')
			rec_kv s5 "$app" sockd "$r" "$res"
			rec s5 "$app" sockd suspend_s "$r" "$(awk -v t="$sus" 'BEGIN { printf "%.3f", t / 1e6 }')"
			rec s5 "$app" sockd resume_cmd_ms "$r" $(((t1 - t0) / 1000))
			note "$app round $r: restart --suspended $(awk -v t="$sus" 'BEGIN { printf "%.2f", t / 1e6 }') s, resume cmd $(((t1 - t0) / 1000)) ms, first $(kv first_ms "$res") ms, last $(kv last_ms "$res") ms after resume, $(kv ok "$res")/$(kv n "$res") answered, $(kv early "$res") before resume"
			settle $running_apps
		done
		apps5=("${apps5[@]:1}" "${apps5[0]}")
	done
	save_cmd_log
fi

# ================================================================== 6. crash failover
if want 6; then
	say "6. Crash failover: kill -9 of one worker's app under open-loop load, $rate req/s through nginx; app ready after 1 s; Standby=no vs yes vs serving; $r_crash rounds"
	# status_pid APP N ITEM: the pid P of the worker's "ITEM: generation G, pid P"
	status_pid() {
		ct systemctl show -P StatusText "$1@$2.service" | tr ';' '\n' | sed -n "s/^ *$3: generation [0-9]*, pid \([0-9]*\).*/\1/p"
	}
	# crash_ready APP: every worker serves and, with a Standby=, has its spare ready
	crash_ready() {
		local i w ok
		for ((i = 0; i < 300; i++)); do
			ok=1
			for w in 0 1 2; do
				[[ -n $(status_pid "$1" $w serving) ]] || ok=0
				[[ $1 == crash || -n $(status_pid "$1" $w standby) ]] || ok=0
			done
			((ok)) && return 0
			sleep 0.1
		done
		note "crash: $1 is not ready: $(ct systemctl show -P StatusText "$1@1.service")"
	}
	ct sockdctl -q start crash
	ct sockdctl -q start crashsb
	ct sockdctl -q start crashsv
	crash_ready crash
	crash_ready crashsb
	crash_ready crashsv
	# The cost: each spare is one more idle app process.
	for w in 0 1 2; do
		p=$(status_pid crashsb $w standby)
		rec s6 mem standby rss_kib "$((w + 1))" "$(ct awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup")"
		rec s6 mem standby pss_kib "$((w + 1))" "$(ct awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")"
	done
	warm_us=2000000 crash_tail_us=3000000
	order=(crash crashsb crashsv)
	for ((r = 1; r <= r_crash; r++)); do
		for app in "${order[@]}"; do
			ct bash -c "$lib/loadgen -r $rate -R 1 -c 4000 -d 600 -t 10 -P /run/bench/lg.pid -o /run/bench/lg.txt 127.0.0.1:8080 /$app/ 2>/run/bench/lg.err & echo \$! >/run/bench/lg.bg"
			sleep $((2 + duration))
			pid=$(status_pid "$app" 1 serving)
			# shellcheck disable=SC2016 # expanded inside
			t0=$(ct bash -c 'echo ${EPOCHREALTIME/[.,]/}; kill -KILL "$1"' x "$pid")
			sleep $((crash_tail_us / 1000000 + 1))
			ct bash -c 'kill -INT $(cat /run/bench/lg.pid); while kill -0 $(cat /run/bench/lg.pid) 2>/dev/null; do sleep 0.05; done'
			res=$($A window /run/bench/lg.txt "$t0" "$t0" $warm_us $crash_tail_us /run/bench/timeline.txt | tr '\n' ' ')
			ct cat /run/bench/timeline.txt >"$out/run/timeline-crash-$app-$r.txt"
			ct cat /run/bench/lg.err >>"$out/run/loadgen.log"
			rec_kv s6 crash "$app" "$r" "$res"
			note "$app round $r: steady max $(kv steady_max_ms "$res") ms, p99 $(kv steady_p99_ms "$res") ms; after kill -9: max $(kv during_max_ms "$res") ms, p99 $(kv during_p99_ms "$res") ms, failed $(kv during_err "$res")"
			# A stop resets the crash back-off: every round starts from a worker that never crashed.
			ct systemctl restart "$app@1.service"
			crash_ready "$app"
			sleep 1
		done
		order=("${order[@]:1}" "${order[0]}")
	done
	# The cost of a serving spare: it has served its share, its heap grew as the serving one's.
	for w in 0 1 2; do
		p=$(status_pid crashsv $w standby)
		[[ -n $p ]] || continue
		rec s6 mem standby_serving rss_kib "$((w + 1))" "$(ct awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup")"
		rec s6 mem standby_serving pss_kib "$((w + 1))" "$(ct awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")"
	done
	ct sockdctl -q stop crash
	ct sockdctl -q stop crashsb
	ct sockdctl -q stop crashsv
fi

# ================================================================== results
ct journalctl -b --no-pager -o short-monotonic >"$out/run/journal.txt" 2>/dev/null || true
ct_shutdown
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
wall=$((SECONDS - t_start))

say "Results"
python3 - "$out/meta.json" <<EOF
import json, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
meta = {
    "date": sh("date -u '+%Y-%m-%d %H:%M UTC'"),
    "command": "sudo $cmdline",
    "settings": "rounds: request path $r_http, echo $r_echo, restarts $r_restart, scale $r_scale, suspended $r_susp, crash $r_crash; wrk/steady window ${duration} s; restart load $rate req/s; echo $echo_lines lines",
    "nproc": sh("nproc"),
    "cpu": sh("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1"),
    "kernel": sh("uname -r"),
    "mem": sh("free -g | awk '/^Mem:/ {print \$2 \" GiB RAM\"}'"),
    "systemd": sh("systemctl --version | head -n1 | cut -d' ' -f2"),
    "versions": "sockd %s (release build), systemd %s, nginx %s, wrk %s, Node %s, pm2 %s, %s" % (
        sh("$build/src/ctl/sockdctl --version"), sh("systemctl --version | head -n1 | cut -d' ' -f2-3"),
        sh("nginx -v 2>&1 | cut -d/ -f2"), sh("wrk -v 2>&1 | head -n1 | cut -d' ' -f2"), sh("node --version"),
        "$pm2_version", sh("gcc --version | head -n1")),
    "load_before": "$load_before", "load_after": "$load_after",
    "wall": "%d min %d s" % ($wall // 60, $wall % 60),
    "s1_names": {"a": "(a) own UNIX socket, no supervisor", "a_sb": "(a') own UNIX socket, sockd's worker sandbox",
                 "b": "(b) sockd: systemd socket + sockd-spawn, app on fd 3", "c": "(c) loopback TCP",
                 "d": "(d) sockd Listen=: the app binds tcp:127.0.0.1:9200 itself, the preload gives it the socket"},
    "s1_desc": "The same Node app (bench/app.js: plain http, ~20-byte body), 3 workers on 2 CPUs, behind one nginx "
               "(2 workers, upstream keep-alive as 'sockdctl nginx' prints it). wrk -t2 -c32 -d${duration}s --latency "
               "inside the container, $r_http rounds, contenders in rotating order. (a) and (c) run as plain "
               "services in sockd.slice; (a') adds the sandbox of sockd's worker units (DynamicUser, seccomp "
               "@system-service, Protect*=...) to (a), to tell the cost of the sandbox from the cost of sockd. "
               "CPU µs/req: utime+stime of the app workers and nginx over the run / requests.",
    "echo_desc": "bench/echo.c: a threaded C echo server; each client sends $echo_lines lines (40-119 bytes) one "
                 "at a time and waits for each to come back. 1 client, then 10 at once; $r_echo rounds. 'sockd' is "
                 "the same server as a sockd app (Ready=notify) taking its socket as fd 3.",
    "s2_names": {"sockdctl": "sockdctl restart (3 workers)", "systemctl": "systemctl restart, each worker in turn",
                 "pm2": "pm2 reload (cluster mode, TCP)", "none": "no restart (control: same windows, the command is true)"},
    "s2_rate": $rate,
    "s2_desc": "Open-loop load (bench/loadgen.c, wrk2-style: a request is due every 1/$rate s whatever happens, "
               "latency counts from when it was due, up to 4000 connections; 1 s ramp-up from 5 %), GET and POST "
               "alternating, through nginx ($rate req/s rather than more: in trial runs at 3000 req/s pm2's cluster master "
               "was not always steady on this machine; see the steady-state check below). Steady window: the ${duration} s before the restart command; during: requests due from "
               "its start to 2.5 s after it returned (sockd's old generations keep their connections for up to "
               "2 x HandoverSec= = 2 s after the restart returned, and stop then; the same window for every contender). Errors: non-2xx answers / requests that failed on the "
               "socket (reset, closed, timeout 10 s), summed over $r_restart rounds. Same Node app everywhere; "
               "'ready ~1 s' waits 1 s before it listens and says ready. sockd: Ready=node-ipc, "
               "StopTimeoutSec=10s; pm2 $pm2_version: cluster mode, 3 instances on one TCP port, wait_ready "
               "(process.send('ready')), kill_timeout 10 s, the app drains on SIGINT exactly as it does on "
               "sockd's 'shutdown'.",
    "s3_desc": "VmRSS and PSS (smaps_rollup) inside the container, medians of 3 samples. sockd has no daemon: "
               "its whole resident control path is one sockd-spawn per worker (sockdctl and the generator run "
               "and exit). pm2's resident control path is its God daemon, which is also the cluster master "
               "(here managing the same 3 workers). Sizes: meson --buildtype=release (-O3), as built and installed (not stripped), and stripped.",
    "s3_rows": [["shim", "one sockd-spawn (per worker)"], ["shims3", "sockd control path: 3 sockd-spawn (3 workers)"],
                ["god", "pm2 God daemon (3 workers)"], ["appb", "for scale: one Node app worker under sockd"],
                ["appp", "for scale: one Node app worker under pm2"]],
    "s3_sizes": [["sockd-spawn", "sockd-spawn"], ["sockdctl", "sockdctl"], ["sockd-generator", "sockd-generator"],
                 ["pm2", "pm2 with its node_modules (npm install pm2)"]],
    "s4_desc": "An instantly ready app (bench/echo.c server --fd: READY=1 right after start, exits on SIGTERM), "
               "so the times are what sockd and systemd add. Generator: sockd-generator run by hand over "
               "every config in /etc/sockd (median of 5). daemon-reload, restart: median of $r_scale; status: median of 5.",
    "s4_napps": 100,
    "s4_apps_desc": "100 apps of 1 worker each (plus the bench's own configs), started and stopped one app after another.",
    "s5_desc": "3 workers per app. 'sockdctl restart --suspended', then 100 concurrent requests (one per "
               "connection, GET/POST) through nginx, 1.5 s of 'migration', then 'sockdctl resume'. Times from "
               "the start of 'sockdctl resume' to the first and last of the 100 answers; $r_susp rounds. hold: the "
               "new generation is already running and holds the requests; queue: no process runs, the "
               "requests wait in the socket backlog and the new generation starts at resume.",
    "s6_desc": "3 workers of the Node app that needs 1 s before it listens (as 'ready ~1 s' in 2), open-loop load as in 2 "
               "($rate req/s, GET/POST, through nginx with the upstream 'sockdctl nginx' prints). After the steady window, "
               "kill -9 of worker 1's serving app process; the crash window is the 3 s from the kill. Without a spare, "
               "the worker exits, systemd starts it again (RestartSec=100ms) after the shim's crash back-off (250 ms) "
               "and the app's 1 s start, while that socket queues; with Standby=yes the parked spare takes over; with "
               "Standby=serving the spare has been serving beside it and takes the rest. Failed: requests "
               "due in the window that got no 2xx (the ones the killed process had taken; nginx retries a GET on another "
               "worker, never a POST). Every round starts from a worker that never crashed (systemctl restart resets the "
               "back-off); $r_crash rounds. nodesockd's README lists 'standby workers for fast failover' and publishes no "
               "figures; nodesockd itself is not run here.",
    "reading_file": "$out/reading.md",
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF
python3 "$bench/analyze.py" reading "$raw" "$out/meta.json" "$out/reading.md" || true
md=$out/RESULTS.md
python3 "$bench/analyze.py" report "$raw" "$out/meta.json" "$md"
if ((write_results)); then
	cp "$md" "$bench/RESULTS.md"
	echo "run.sh: wrote bench/RESULTS.md (raw data in bench/out/)" >&2
fi
