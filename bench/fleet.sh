#!/bin/bash
# Fleet restarts: what 'sockdctl -H ... restart' costs per host, and what users behind
# the load balancer feel during it. Boots four containers on a private network (as
# tests/integration/test-fleet.sh does): web1..web3, each with systemd, sshd, nginx and
# two workers of bench/app.js (the Node app of bench/run.sh, ready at once), and lb with
# the load balancer, the open-loop load generator and sockdctl. Each round restarts the
# app on 1, 2 and 3 hosts (in a rotating order) under load through the load balancer,
# and records the command's wall time and the latency before and during it. Writes
# bench/FLEET.md (unless --no-results) and the raw figures to bench/out/fleet.tsv.
#
#   bash bench/fleet.sh (as root) [--rounds N] [--rate RPS] [--no-results]
#
#   --rounds N    rounds (default 5)
#   --rate RPS    open-loop requests per second through the load balancer, GET and
#                 POST (default 1000: four nginx, six Node workers and the load
#                 generator share the machine's cores)
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$bench/.." && pwd)
rounds=5 rate=1000 write_results=1
while (($#)); do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--no-results) write_results=0; shift ;;
	-h | --help) sed -n '2,/^$/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fleet.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "fleet.sh: run as root (it boots containers)" >&2; exit 2; }

say() { printf '\n== %s\n' "$*" >&2; }
note() { printf '   %s\n' "$*" >&2; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

build=$src/build-bench
say "Building sockd (release) in build-bench"
[[ -f $build/build.ninja ]] || meson setup "$build" "$src" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null
mkdir -p "$build/bench" "$bench/out"
gcc -O2 -Wall -Wextra -Wno-unused-parameter -o "$build/bench/loadgen" "$bench/loadgen.c"
raw=$bench/out/fleet.tsv
printf '# hosts\tround\tmetric\tvalue\n' >"$raw"

# shellcheck source=tests/integration/lib.sh
. "$src/tests/integration/lib.sh"
# shellcheck source=tests/integration/sockd-lib.sh
. "$src/tests/integration/sockd-lib.sh"

node=$(command -v node)
lib=/usr/local/lib/sockd-bench share=/usr/local/share/sockd-bench
hosts=(web1 web2 web3)
sockd_fleet_host() {
	ct_write $share/app.js 0644 <"$bench/app.js"
	ct_write /etc/sockd/fast.conf <<EOF
[App]
Exec=$node $share/app.js
Environment=BENCH_READY_DELAY_MS=0
Workers=2
Ready=node-ipc
StopTimeoutSec=10s
EOF
	ct systemctl daemon-reload
	ct sockdctl -q start fast
	sockd_fleet_host_nginx fast
}
say "Booting lb, ${hosts[*]}"
sockd_fleet_boot "$build" "$src" "${hosts[@]}"
sockd_fleet_lb "${hosts[@]}"
ct_write $lib/loadgen 0755 <"$build/bench/loadgen"
ct_write $share/analyze.py 0755 <"$bench/analyze.py"
ct mkdir -p /run/bench
for ((i = 0; i < 100; i++)); do
	ct curl -sf -o /dev/null http://127.0.0.1:8080/ && break
	sleep 0.1
done

# settle: every host back to two app processes (the old generations are gone)
settle() {
	local h n i
	for h in "${hosts[@]}"; do
		ct_use "$h"
		for ((i = 0; i < 300; i++)); do
			n=$(ct pgrep -c -f "^($node|node) $share/app\\.js\$" || true)
			[[ $n == 2 ]] && break
			sleep 0.1
		done
	done
	ct_use lb
}

# One connection's cost alone: 'sockdctl -H HOST status' (ssh, the bridge, D-Bus).
for ((r = 1; r <= rounds; r++)); do
	# shellcheck disable=SC2016 # expanded inside
	t=$(ct bash -c 's=${EPOCHREALTIME/[.,]/}; sockdctl -H web1 status fast >/dev/null; e=${EPOCHREALTIME/[.,]/}; echo $((e - s))')
	printf '0\t%d\tstatus_s\t%s\n' "$r" "$(awk -v t="$t" 'BEGIN { printf "%.3f", t / 1e6 }')" >>"$raw"
done

say "Fleet restarts under open-loop load, $rate req/s through the load balancer; 1, 2, 3 hosts; $rounds rounds"
warm_us=1000000 tail_us=2500000
order=(1 2 3)
for ((r = 1; r <= rounds; r++)); do
	for n in "${order[@]}"; do
		args=()
		for ((i = 0; i < n; i++)); do args+=(-H "${hosts[i]}"); done
		ct bash -c "$lib/loadgen -r $rate -R 1 -c 4000 -d 600 -t 10 -P /run/bench/lg.pid -o /run/bench/lg.txt 127.0.0.1:8080 / 2>/run/bench/lg.err & echo \$! >/run/bench/lg.bg"
		sleep 4
		# shellcheck disable=SC2016 # expanded inside
		marks=$(ct bash -c 's=${EPOCHREALTIME/[.,]/}; sockdctl -q "$@" restart fast >>/run/bench/cmd.log 2>&1 || echo "FAILED: $*" >>/run/bench/cmd.log; e=${EPOCHREALTIME/[.,]/}; echo $s $e' x "${args[@]}")
		read -r t0 t1 <<<"$marks"
		sleep 3.5
		ct bash -c 'kill -INT $(cat /run/bench/lg.pid); while kill -0 $(cat /run/bench/lg.pid) 2>/dev/null; do sleep 0.05; done'
		res=$(ct python3 $share/analyze.py window /run/bench/lg.txt "$t0" "$t1" $warm_us $tail_us | tr '\n' ' ')
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
		printf '%d\t%d\twall_s\t%s\n' "$n" "$r" "$wall" >>"$raw"
		for kv in $res; do printf '%d\t%d\t%s\t%s\n' "$n" "$r" "${kv%%=*}" "${kv#*=}" >>"$raw"; done
		note "$n host(s), round $r: restart ${wall} s; p99 steady $(sed -n 's/.*\bsteady_p99_ms=\([^ ]*\).*/\1/p' <<<"$res") ms, during $(sed -n 's/.*\bduring_p99_ms=\([^ ]*\).*/\1/p' <<<"$res") ms; failed $(sed -n 's/.*\bduring_err=\([^ ]*\).*/\1/p' <<<"$res")"
		settle
		sleep 1
	done
	order=("${order[@]:1}" "${order[0]}")
done
ct cat /run/bench/cmd.log >"$bench/out/fleet-cmd.log" 2>/dev/null || true
if grep -q FAILED "$bench/out/fleet-cmd.log"; then
	note "a restart failed: see bench/out/fleet-cmd.log"
fi
ct_finish >/dev/null || true
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

((write_results)) || exit 0
python3 - "$raw" "$bench/FLEET.md" "$rate" "$rounds" "$load_before" "$load_after" <<'EOF'
import statistics, sys
raw, md, rate, rounds, load_before, load_after = sys.argv[1:]
vals = {}
for line in open(raw):
    if line.startswith("#"):
        continue
    n, r, k, v = line.rstrip("\n").split("\t")
    vals.setdefault((int(n), k), []).append(float(v))
def med(n, k):
    v = vals.get((n, k), [])
    return statistics.median(v) if v else float("nan")
def rng(n, k):
    v = vals.get((n, k), [])
    return "%g–%g" % (min(v), max(v)) if v else "–"
walls = {n: med(n, "wall_s") for n in (1, 2, 3)}
per_host = (walls[3] - walls[1]) / 2
out = []
out.append("# Fleet restarts\n")
out.append("`bash bench/fleet.sh`: three hosts (containers with systemd, sshd, nginx and two workers of "
           "bench/app.js each, ready at once) behind a load balancer (nginx) on a private network; "
           "sockdctl on the load balancer's host reaches them over ssh and systemd-stdio-bridge. "
           "Open-loop load through the load balancer, %s req/s GET/POST, to all three hosts; each round "
           "restarts the app on 1, 2 and 3 hosts (rotating order); %s rounds. Medians over rounds, "
           "with the range. Load average before/after: %s / %s (everything shares the machine's "
           "cores).\n" % (rate, rounds, load_before, load_after))
out.append("| hosts restarted | wall time s | p99 ms before | p99 ms during | max ms during | failed requests (all rounds) |")
out.append("|---:|---:|---:|---:|---:|---:|")
for n in (1, 2, 3):
    out.append("| %d | %.2f (%s) | %.1f | %.1f (%s) | %.1f | %d |" % (
        n, walls[n], rng(n, "wall_s"), med(n, "steady_p99_ms"), med(n, "during_p99_ms"), rng(n, "during_p99_ms"),
        med(n, "during_max_ms"), int(sum(vals.get((n, "during_err"), [])) + sum(vals.get((n, "other_err"), [])))))
out.append("")
out.append("Each added host adds %.0f ms to the restart (median wall time, 3 hosts against 1, per host). "
           "Connecting alone (`sockdctl -H web1 status`: ssh with its login session, which starts root's "
           "user manager on the host, the bridge, D-Bus) takes %.0f ms (median). sockdctl starts the ssh "
           "sessions together and waits on all hosts at once, but here the four \"machines\" share two cores: "
           "every host's login, new Node generations and nginx run on the same CPUs, so the added cost per host "
           "measured here is an upper bound for hosts that are separate machines. The commit goes out only "
           "when every host's new generations are ready.\n" % (per_host * 1000, med(0, "status_s") * 1000))
open(md, "w").write("\n".join(out))
print("\n".join(out))
EOF
