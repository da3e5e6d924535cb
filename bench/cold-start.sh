#!/bin/bash
# How much a cold app process costs the first requests it takes: the cause of the
# latency spike of a restart (issue 10). Two fresh processes of bench/app.js on loopback
# TCP; one serves RATE req/s for 4 s first (warm), then each gets RATE req/s for 2 s from
# bench/loadgen; the 100 ms timelines of their first 700 ms are printed side by side.
# Host only (no container, no nginx, no sockd), a few seconds, as any user.
#
#   bash bench/cold-start.sh [RATE]   (default 1500)
set -euo pipefail
rate=${1:-1500}
bench=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/sockd-cold.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
cc -O2 -o "$tmp/loadgen" "$bench/loadgen.c"
port=$((20000 + RANDOM % 20000))
for p in $port $((port + 1)); do
	BENCH_LISTEN=tcp:127.0.0.1:$p node "$bench/app.js" & pids+=($!)
done
sleep 1
"$tmp/loadgen" -r "$rate" -R 0 -c 100 -d 4 -t 10 -o "$tmp/warmup.txt" 127.0.0.1:$port / 2>/dev/null
for which in warm cold; do
	p=$port
	[[ $which == cold ]] && p=$((port + 1))
	t0=${EPOCHREALTIME/[.,]/}
	"$tmp/loadgen" -r "$rate" -R 0 -c 100 -d 2 -t 10 -o "$tmp/$which.txt" 127.0.0.1:$p / 2>/dev/null
	python3 "$bench/analyze.py" window "$tmp/$which.txt" "$t0" "$t0" 0 0 "$tmp/$which.tl" >/dev/null
done
printf '# %s req/s on one Node process: its first 700 ms, 100 ms buckets\n' "$rate"
printf '%-8s %22s %22s\n' "t_ms" "warm p50/p99/max ms" "cold p50/p99/max ms"
join <(awk '$1 >= 0 && $1 <= 700 { print $1, $3 "/" $4 "/" $5 }' "$tmp/warm.tl") \
	<(awk '$1 >= 0 && $1 <= 700 { print $1, $3 "/" $4 "/" $5 }' "$tmp/cold.tl") |
	awk '{ printf "%-8s %22s %22s\n", $1, $2, $3 }'
