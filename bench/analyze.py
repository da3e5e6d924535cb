#!/usr/bin/python3
"""Helpers of bench/run.sh: cut loadgen logs into windows, parse wrk, sum CPU times,
and turn the raw measurements (one TSV line each) into the tables of bench/RESULTS.md.

  analyze.py cpu PID...                       utime+stime of the pids, in microseconds
  analyze.py window LOG T0_US T1_US WARMUP_US TAIL_US [TIMELINE [SAMPLES]]
  analyze.py pooled SAMPLES...
  analyze.py burst LOG T_RESUME_US
  analyze.py wrk FILE
  analyze.py reading RAW.tsv META.json READING.md
  analyze.py report RAW.tsv META.json RESULTS.md

window: steady = requests due in [first + WARMUP, T0), during = due in [T0, T1 + TAIL];
errors are counted over the whole log. Prints KEY=VALUE lines (ms, counts).
SAMPLES gets the latencies of both windows ("s US" / "d US" lines), which pooled reads
back from several runs (the rounds of one contender) to print the p99 of all their
steady and of all their during requests together."""
import json
import os
import statistics
import sys


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def read_log(path):
    recs = []
    with open(path) as f:
        for line in f:
            due, lat, code = line.split()
            recs.append((int(due), int(lat), int(code)))
    recs.sort()
    return recs


def cmd_cpu(pids):
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    print(total * 1000000 // tck)


def stats(prefix, recs):
    lats = sorted(r[1] for r in recs)
    out = {prefix + "_n": len(lats)}
    if lats:
        out[prefix + "_p50_ms"] = pct(lats, 50) / 1000.0
        out[prefix + "_p99_ms"] = pct(lats, 99) / 1000.0
        out[prefix + "_max_ms"] = lats[-1] / 1000.0
    return out


def cmd_window(path, t0, t1, warmup, tail, timeline=None, samples=None):
    recs = read_log(path)
    t0, t1, warmup, tail = int(t0), int(t1), int(warmup), int(tail)
    first = recs[0][0] if recs else 0
    steady = [r for r in recs if first + warmup <= r[0] < t0]
    during = [r for r in recs if t0 <= r[0] <= t1 + tail]
    out = {}
    out.update(stats("steady", steady))
    out.update(stats("during", during))
    def errs(rs):
        return sum(1 for r in rs if not 200 <= r[2] < 300)
    out["steady_err"] = errs(steady)
    out["during_err"] = errs(during)
    out["other_err"] = errs(recs) - out["steady_err"] - out["during_err"]
    out["total"] = len(recs)
    out["non2xx"] = sum(1 for r in recs if r[2] > 0 and not 200 <= r[2] < 300)
    out["sockerr"] = sum(1 for r in recs if r[2] < 0)
    out["timeouts"] = sum(1 for r in recs if r[2] == -3)
    out["resets"] = out["sockerr"] - out["timeouts"]
    out["max_ms"] = max((r[1] for r in recs), default=0) / 1000.0
    for k, v in out.items():
        print("%s=%s" % (k, round(v, 3) if isinstance(v, float) else v))
    if samples:
        with open(samples, "w") as f:
            for tag, rs in (("s", steady), ("d", during)):
                f.writelines("%s %d\n" % (tag, r[1]) for r in rs)
    if timeline:
        # 100 ms buckets around the restart, for looking at one run by hand
        with open(timeline, "w") as f:
            f.write("# t_ms_from_restart n p50_ms p99_ms max_ms errors\n")
            buckets = {}
            for r in recs:
                buckets.setdefault((r[0] - t0) // 100000, []).append(r)
            for b in sorted(buckets):
                lats = sorted(r[1] for r in buckets[b])
                f.write("%d %d %.1f %.1f %.1f %d\n" % (b * 100, len(lats), pct(lats, 50) / 1e3, pct(lats, 99) / 1e3,
                                                       lats[-1] / 1e3, sum(1 for r in buckets[b] if not 200 <= r[2] < 300)))


def cmd_pooled(paths):
    """One p99 over the steady requests of all the runs, one over their during requests.
    A single round's steady p99 rests on its ~80 slowest requests, so one stall of the
    machine moves it, and the per-round ratio with it; pooled, each p99 rests on
    rounds x that many."""
    lats = {"s": [], "d": []}
    for path in paths:
        with open(path) as f:
            for line in f:
                tag, lat = line.split()
                lats[tag].append(int(lat))
    for tag, name in (("s", "steady"), ("d", "during")):
        v = sorted(lats[tag])
        print("pooled_%s_n=%d" % (name, len(v)))
        if v:
            print("pooled_%s_p99_ms=%.3f" % (name, pct(v, 99) / 1000.0))


def cmd_burst(path, t_resume):
    recs = read_log(path)
    t_resume = int(t_resume)
    answered = sorted(r[0] + r[1] for r in recs if 200 <= r[2] < 300)
    print("n=%d" % len(recs))
    print("ok=%d" % len(answered))
    print("early=%d" % sum(1 for a in answered if a < t_resume))
    if answered:
        print("first_ms=%.1f" % ((answered[0] - t_resume) / 1000.0))
        print("last_ms=%.1f" % ((answered[-1] - t_resume) / 1000.0))


def wrk_ms(s):
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)


def cmd_wrk(path):
    out = {"non2xx": 0, "sockerr": 0}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) > 2 and w[1] == "requests" and w[2] == "in":
                out["requests"] = int(w[0])
            elif line.startswith("Requests/sec:"):
                out["rps"] = float(w[1])
            elif len(w) == 2 and w[0] in ("50%", "99%"):
                out["p" + w[0][:-1] + "_ms"] = wrk_ms(w[1])
            elif line.strip().startswith("Non-2xx"):
                out["non2xx"] = int(w[-1])
            elif line.strip().startswith("Socket errors:"):
                out["sockerr"] = sum(int(x.strip(",")) for x in w[1:] if x.strip(",").isdigit())
    for k, v in out.items():
        print("%s=%s" % (k, v))


# ---------------------------------------------------------------- report

def load_raw(path):
    """{(scenario, case, contender, metric): [values by round]}"""
    data = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            scen, case, cont, metric, rnd, value = line.rstrip("\n").split("\t")
            try:
                v = float(value)
            except ValueError:
                continue
            data.setdefault((scen, case, cont, metric), {})[int(rnd)] = v
    return data


class Report:
    def __init__(self, raw, meta):
        self.d = raw
        self.meta = meta
        self.lines = []

    def vals(self, scen, case, cont, metric):
        return self.d.get((scen, case, cont, metric), {})

    def med(self, scen, case, cont, metric):
        v = list(self.vals(scen, case, cont, metric).values())
        return statistics.median(v) if v else None

    def spread(self, scen, case, cont, metric):
        v = list(self.vals(scen, case, cont, metric).values())
        return (min(v), max(v)) if v else (None, None)

    def ratio(self, scen, case, num, den, metric):
        """Median over rounds of the per-round ratio (both measured in the same round,
        minutes apart at most), and its range."""
        a, b = self.vals(scen, case, num, metric), self.vals(scen, case, den, metric)
        rs = [a[r] / b[r] for r in a if r in b and b[r]]
        if not rs:
            return None, None, None
        return statistics.median(rs), min(rs), max(rs)

    def ratio_of(self, scen, case, cont, num, den):
        """Median over rounds of one contender's per-round ratio of two metrics (both from
        the same run), and its range."""
        a, b = self.vals(scen, case, cont, num), self.vals(scen, case, cont, den)
        rs = [a[r] / b[r] for r in a if r in b and b[r]]
        if not rs:
            return None, None, None
        return statistics.median(rs), min(rs), max(rs)

    def out(self, s=""):
        self.lines.append(s)

    def table(self, header, rows):
        self.out("| " + " | ".join(header) + " |")
        self.out("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        for r in rows:
            self.out("| " + " | ".join(r) + " |")
        self.out()


def f(v, fmt="%.1f", none="–"):
    return none if v is None else fmt % v


def fr(t, fmt="%.3f"):
    m, lo, hi = t
    if m is None:
        return "–"
    return (fmt + " (" + fmt + "–" + fmt + ")") % (m, lo, hi)


def build_report(raw_path, meta_path, md_path):
    raw = load_raw(raw_path)
    with open(meta_path) as fh:
        meta = json.load(fh)
    R = Report(raw, meta)
    o = R.out
    o("# sockd benchmarks")
    o()
    o("Generated by `bench/run.sh`; numbers of one full run. Every scenario runs its contenders "
      "in the same container (a real systemd %s booted with systemd-nspawn on an overlay of /), "
      "one after another in each round; the table shows medians over the rounds, and ratios are "
      "the median of the per-round ratios with their range in brackets." % meta.get("systemd", "?"))
    o()
    o("- date: %s" % meta.get("date"))
    o("- command: `%s` (%s)" % (meta.get("command"), meta.get("settings")))
    o("- machine: %s CPUs (`nproc`), %s, kernel %s, %s" % (meta.get("nproc"), meta.get("cpu"), meta.get("kernel"), meta.get("mem")))
    o("- versions: %s" % meta.get("versions"))
    o("- load on the machine (other users' test runs share it): loadavg %s before, %s after the run; "
      "wall time of the run %s" % (meta.get("load_before"), meta.get("load_after"), meta.get("wall")))
    o()

    # ---- 1. request path
    S = "s1"
    names = meta.get("s1_names", {})
    conts = [c for c in ("a", "a_sb", "b", "c", "d") if R.vals(S, "http", c, "rps")]
    if conts:
        o("## 1. Request path: nginx -> 3 Node workers")
        o()
        o(meta.get("s1_desc", ""))
        o()
        rows = []
        for c in conts:
            lo, hi = R.spread(S, "http", c, "rps")
            rows.append([names.get(c, c), f(R.med(S, "http", c, "rps"), "%.0f"), "%.0f–%.0f" % (lo, hi),
                         f(R.med(S, "http", c, "p50_ms"), "%.2f"), f(R.med(S, "http", c, "p99_ms"), "%.2f"),
                         f(R.med(S, "http", c, "cpu_us_per_req"), "%.1f"),
                         f(R.med(S, "http", c, "errors"), "%.0f")])
        R.table(["contender", "req/s", "range", "p50 ms", "p99 ms", "CPU µs/req (app+nginx)", "errors"], rows)
        rat = [("**b/a** req/s (target >= 0.98)", "b", "a", "rps"),
               ("b/a CPU per request", "b", "a", "cpu_us_per_req"),
               ("b/a' req/s (same sandbox on both)", "b", "a_sb", "rps"),
               ("a'/a req/s (the worker sandbox alone)", "a_sb", "a", "rps"),
               ("**a/c** req/s (UNIX vs TCP)", "a", "c", "rps"),
               ("a/c CPU per request", "a", "c", "cpu_us_per_req"),
               ("**d/b** req/s (Listen= vs fd 3: the preload adopting the bind)", "d", "b", "rps"),
               ("d/b CPU per request", "d", "b", "cpu_us_per_req"),
               ("**d/a** req/s (Listen= vs the app on its own socket)", "d", "a", "rps"),
               ("d/a CPU per request", "d", "a", "cpu_us_per_req")]
        rows = [[n, fr(R.ratio(S, "http", x, y, m))] for n, x, y, m in rat if R.vals(S, "http", x, m) and R.vals(S, "http", y, m)]
        R.table(["ratio", "median (range over rounds)"], rows)
        shim = R.med(S, "http", "b", "shim_cpu_ms")
        if shim is not None:
            o("CPU time of the three sockd-spawn shims during a (b) wrk run: median %.0f ms in total "
              "(tick resolution 10 ms): the shim is not on the request path." % shim)
            o()
        rss = R.vals(S, "preload", "d", "rss_kib")
        if rss:
            v = sorted(rss.values())
            o("The preload library's added RSS per app process (d): %s KiB (resident pages of its own "
              "mappings and of the retirement flag it maps, from /proc/PID/smaps, each of the %d "
              "workers; target <= 64 KiB). In (b) and (d) the preload is loaded; it wraps no read or "
              "write: what it wraps runs once per connection (accept, socket options) or per close." % (
                  ", ".join("%d" % x for x in v), len(v)))
            o()
    if R.vals(S, "echo1", "unix", "lps"):
        o("### Line echo without nginx")
        o()
        o(meta.get("echo_desc", ""))
        o()
        rows = []
        for c, n in (("unix", "UNIX socket, bound by the server"), ("sockd", "UNIX socket under sockd (systemd socket, sockd-spawn, fd 3)"),
                     ("tcp", "loopback TCP")):
            rows.append([n, f(R.med(S, "echo1", c, "lps"), "%.0f"), f(R.med(S, "echo10", c, "lps"), "%.0f")])
        R.table(["transport", "1 client lines/s", "10 clients lines/s"], rows)
        rows = []
        for case, n in (("echo1", "1 client"), ("echo10", "10 clients")):
            rows.append([n, fr(R.ratio(S, case, "unix", "tcp", "lps")), fr(R.ratio(S, case, "sockd", "unix", "lps"))])
        R.table(["", "UNIX/TCP", "sockd/UNIX"], rows)

    # ---- 2. restart under load
    S = "s2"
    cases = [c for c in ("fast", "slow") if any(R.vals(S, c, x, "during_p99_ms") for x in ("sockdctl", "systemctl", "pm2"))]
    if cases:
        o("## 2. Restart under load")
        o()
        o(meta.get("s2_desc", ""))
        o()
        rows = []
        for case in cases:
            for c in ("sockdctl", "systemctl", "pm2", "none"):
                if not R.vals(S, case, c, "during_p99_ms"):
                    continue
                tot = lambda m: sum(R.vals(S, case, c, m).values())
                rows.append(["%s (ready %s)" % (meta.get("s2_names", {}).get(c, c), "~0 s" if case == "fast" else "~1 s"),
                             f(R.med(S, case, c, "restart_s"), "%.2f"),
                             f(R.med(S, case, c, "steady_p99_ms"), "%.1f"), f(R.med(S, case, c, "during_p50_ms"), "%.1f"),
                             f(R.med(S, case, c, "during_p99_ms"), "%.1f"), f(R.med(S, case, c, "during_max_ms"), "%.0f"),
                             "%d" % tot("during_err"), "%d" % (tot("steady_err") + tot("other_err")),
                             "%d / %d / %d" % (tot("non2xx"), tot("resets"), tot("timeouts")), "%d" % tot("total")])
        R.table(["contender", "restart wall s", "steady p99 ms", "during p50 ms", "during p99 ms", "during max ms",
                 "failed requests during restart", "failed outside it",
                 "all failures: non-2xx / reset, refused / no answer in 10 s", "requests"], rows)
        o("Failed-request counts are sums over all rounds; latencies are medians over rounds of each run's "
          "percentile. Per-run lines (and 100 ms timelines around each restart) are in bench/out/.")
        o()
        rows = []
        for case in cases:
            for c in ("sockdctl", "systemctl", "pm2", "none"):
                if R.vals(S, case, c, "during_p99_ms"):
                    vs_pm2 = c not in ("pm2", "none")
                    pooled = R.ratio_of(S, case, c, "pooled_during_p99_ms", "pooled_steady_p99_ms")[0]
                    rows.append(["%s (ready %s)" % (meta.get("s2_names", {}).get(c, c), "~0 s" if case == "fast" else "~1 s"),
                                 fr(R.ratio_of(S, case, c, "during_p99_ms", "steady_p99_ms"), "%.2f"),
                                 f(pooled, "%.2f") if pooled is not None else "–",
                                 fr(R.ratio(S, case, c, "pm2", "during_p99_ms"), "%.2f") if vs_pm2 else "",
                                 fr(R.ratio(S, case, c, "pm2", "restart_s"), "%.2f") if vs_pm2 else ""])
        R.table(["contender", "**during p99 / steady p99** (target <= 1.5)", "the same, pooled over the rounds",
                 "during p99 / pm2's (target <= 1)", "wall time / pm2's (target <= 0.5)"], rows)
        o("Ratios: the median over rounds of the per-round ratio, both figures from the same round, with the range "
          "over rounds in brackets. Pooled: the p99 of all rounds' during requests over the p99 of all rounds' "
          "steady requests. A round's steady p99 rests on its ~80 slowest requests, so one stall of the machine "
          "moves it and the per-round ratio with it; pooled, each p99 rests on rounds x as many.")
        ctl = [R.ratio_of(S, case, "none", "during_p99_ms", "steady_p99_ms") for case in cases]
        if all(x[0] is not None for x in ctl):
            o()
            o("The control (no restart) is what chance gives on this machine: its ratio spans %s over the rounds. "
              "A single round's ratio says little; the medians, side by side with the control's, are what to read." %
              " and ".join("%.2f–%.2f" % (x[1], x[2]) for x in ctl))
        o()
        if R.vals(S, "high", "sockd", "steady_p99_ms"):
            hr = int(meta.get("s2_rate", 0) * 3 / 2)
            o("Steady state without a restart at %d req/s (1.5 x the rate above), same app, same nginx; "
              "each run starts after nginx has closed its idle upstream connections:" % hr)
            o()
            rows = []
            for c, n in (("sockd", "sockd (3 workers, UNIX sockets)"), ("pm2", "pm2 cluster mode (3 workers, one TCP port)")):
                if R.vals(S, "high", c, "steady_p99_ms"):
                    lo, hi = R.spread(S, "high", c, "steady_p99_ms")
                    rows.append([n, f(R.med(S, "high", c, "steady_p50_ms"), "%.1f"), f(R.med(S, "high", c, "steady_p99_ms"), "%.1f"),
                                 "%.0f–%.0f" % (lo, hi), f(R.med(S, "high", c, "steady_max_ms"), "%.0f"),
                                 "%d" % sum(R.vals(S, "high", c, "steady_err").values())])
            R.table(["%d req/s" % hr, "p50 ms", "p99 ms", "p99 range", "max ms", "failed (sum)"], rows)

    # ---- 3. footprint
    S = "s3"
    if any(k[0] == S for k in raw):
        o("## 3. Footprint")
        o()
        o(meta.get("s3_desc", ""))
        o()
        rows = []
        for c, n in meta.get("s3_rows", []):
            rss, pss = R.med(S, "mem", c, "rss_kb"), R.med(S, "mem", c, "pss_kb")
            rows.append([n, f(rss and rss / 1024.0, "%.1f"), f(pss and pss / 1024.0, "%.1f")])
        R.table(["process(es)", "RSS MiB", "PSS MiB"], rows)
        rows = []
        for c, n in meta.get("s3_sizes", []):
            size, stripped = R.med(S, "size", c, "bytes"), R.med(S, "size", c, "stripped")
            rows.append([n, f(size and size / 1024.0, "%.0f"), f(stripped and stripped / 1024.0, "%.0f")])
        R.table(["file", "KiB", "KiB stripped"], rows)

    # ---- 4. scale
    S = "s4"
    ws = sorted({int(k[1][1:]) for k in raw if k[0] == S and k[1].startswith("w")})
    if ws:
        o("## 4. Scale")
        o()
        o(meta.get("s4_desc", ""))
        o()
        mets = [("gen_ms", "generator ms", "%.1f"), ("reload_ms", "daemon-reload ms", "%.0f"),
                ("start_ms", "sockdctl start ms", "%.0f"), ("status_ms", "sockdctl status ms", "%.1f"),
                ("restart_ms", "sockdctl restart ms", "%.0f"), ("reload_workers_ms", "systemctl reload, all workers in turn, ms", "%.0f"),
                ("stop_ms", "sockdctl stop ms", "%.0f")]
        mets = [m for m in mets if any(R.vals(S, "w%d" % w, "sockd", m[0]) for w in ws)]
        rows = []
        for w in ws:
            rows.append([str(w)] + [f(R.med(S, "w%d" % w, "sockd", m), fmt) for m, _, fmt in mets])
        if len(ws) > 1:
            lo, hi = ws[0], ws[-1]
            row = ["per added worker (%d->%d)" % (lo, hi)]
            for m, _, fmt in mets:
                a, b = R.med(S, "w%d" % lo, "sockd", m), R.med(S, "w%d" % hi, "sockd", m)
                row.append("–" if a is None or b is None else "%.2f" % ((b - a) / (hi - lo)))
            rows.append(row)
        R.table(["workers"] + [n for _, n, _ in mets], rows)
        if R.vals(S, "start16", "sockd", "sockets_ms"):
            o("Where the start time goes, 16 workers (median of %d):" % len(R.vals(S, "start16", "sockd", "sockets_ms")))
            o()
            rows = [["systemctl start of the 16 socket units (each runs systemd-tmpfiles as ExecStartPre)",
                     f(R.med(S, "start16", "sockd", "sockets_ms"), "%.0f")],
                    ["then of the 16 worker services (sandbox, sockd-spawn, app)", f(R.med(S, "start16", "sockd", "services_ms"), "%.0f")],
                    ["16 units running `sleep infinity`, no sandbox", f(R.med(S, "start16", "plain", "units_ms"), "%.0f")],
                    ["16 units running `sleep infinity` in the worker sandbox", f(R.med(S, "start16", "sandboxed", "units_ms"), "%.0f")]]
            R.table(["16 at once", "ms"], rows)
        apps = [("gen_ms", "generator (all configs)", "ms"), ("reload_ms", "systemctl daemon-reload", "ms"),
                ("list_ms", "sockdctl list", "ms"), ("start_all_s", "sockdctl start, app after app", "s"),
                ("status_all_ms", "sockdctl status (every app)", "ms"), ("stop_all_s", "sockdctl stop, app after app", "s")]
        rows = [[n, f(R.med(S, "apps", "sockd", m), "%.1f"), u] for m, n, u in apps if R.vals(S, "apps", "sockd", m)]
        if rows:
            o(meta.get("s4_apps_desc", ""))
            o()
            R.table(["with %s apps" % meta.get("s4_napps", "?"), "median", "unit"], rows)

    # ---- 5. suspended
    S = "s5"
    cases = [c for c in ("hold", "queue", "hold1", "queue1") if R.vals(S, c, "sockd", "last_ms")]
    if cases:
        o("## 5. Suspended restart")
        o()
        o(meta.get("s5_desc", ""))
        o()
        rows = []
        for c in cases:
            lo, hi = R.spread(S, c, "sockd", "last_ms")
            rows.append(["Suspend=%s, ready %s" % (c.rstrip("1"), "~1 s" if c.endswith("1") else "~0 s"),
                         f(R.med(S, c, "sockd", "suspend_s"), "%.2f"), f(R.med(S, c, "sockd", "resume_cmd_ms"), "%.0f"),
                         f(R.med(S, c, "sockd", "first_ms"), "%.0f"), f(R.med(S, c, "sockd", "last_ms"), "%.0f"),
                         "%.0f–%.0f" % (lo, hi),
                         "%d/%d" % (sum(R.vals(S, c, "sockd", "ok").values()), sum(R.vals(S, c, "sockd", "n").values())),
                         "%d" % sum(R.vals(S, c, "sockd", "early").values())])
        R.table(["mode", "restart --suspended s", "sockdctl resume ms", "resume -> first answer ms",
                 "resume -> last answer ms", "range", "answered 200 (all rounds)", "answered before resume"], rows)

    # ---- 6. crash failover
    S = "s6"
    conts = [c for c in ("crash", "crashsb", "crashsv") if R.vals(S, "crash", c, "during_max_ms")]
    if conts:
        o("## 6. Crash failover")
        o()
        o(meta.get("s6_desc", ""))
        o()
        names = {"crash": "Standby=no (default)", "crashsb": "Standby=yes (parked spare)",
                 "crashsv": "Standby=serving (spare serves beside)"}
        rows = []
        for c in conts:
            lo, hi = R.spread(S, "crash", c, "during_max_ms")
            d_max, s_max = R.vals(S, "crash", c, "during_max_ms"), R.vals(S, "crash", c, "steady_max_ms")
            diffs = sorted(d_max[r] - s_max[r] for r in d_max if r in s_max)
            rows.append([names[c], f(R.med(S, "crash", c, "steady_max_ms")), f(R.med(S, "crash", c, "during_max_ms")),
                         "%.0f–%.0f" % (lo, hi),
                         f(statistics.median(diffs)) + (" (%.0f–%.0f)" % (diffs[0], diffs[-1]) if diffs else ""),
                         f(R.med(S, "crash", c, "during_p99_ms")), f(R.med(S, "crash", c, "steady_p99_ms")),
                         "%d" % sum(R.vals(S, "crash", c, "during_err").values()),
                         "%d" % sum(R.vals(S, "crash", c, "total").values())])
        R.table(["contender", "steady max ms", "max ms after kill -9", "range", "added to the slowest request, ms "
                 "(target <= 50)", "p99 ms after kill -9", "steady p99 ms", "failed requests (all rounds)",
                 "requests"], rows)
        costs = [("standby", "The cost of Standby=yes: one more idle app process per worker; each spare of this Node "
                  "app has RSS %.1f MiB, PSS %.1f MiB (median of the 3 spares, /proc/PID/smaps_rollup), and its "
                  "start's CPU after every takeover and restart."),
                 ("standby_serving", "The cost of Standby=serving: the same one more app process per worker, but one "
                  "that serves, so its heap grows as the serving one's: each spare has RSS %.1f MiB, PSS %.1f MiB "
                  "after the rounds (median of the 3 spares), and the same start's CPU.")]
        for key, text in costs:
            rss, pss = R.med(S, "mem", key, "rss_kib"), R.med(S, "mem", key, "pss_kib")
            if rss:
                o(text % (rss / 1024.0, pss / 1024.0))
                o()

    reading = meta.get("reading_file")
    if reading and os.path.exists(reading):
        o("## Reading")
        o()
        with open(reading) as fh:
            o(fh.read().rstrip())
        o()
    text = "\n".join(R.lines).rstrip() + "\n"
    with open(md_path, "w") as fh:
        fh.write(text)
    sys.stdout.write(text)


# ---------------------------------------------------------------- reading

def build_reading(raw_path, meta_path, out_path):
    """A short reading of the numbers, written from the numbers, so that it stays true
    for whatever run produced them. Says so where a difference is inside the noise."""
    raw = load_raw(raw_path)
    with open(meta_path) as fh:
        meta = json.load(fh)
    R = Report(raw, meta)
    L = []

    def pr(t):
        return "%.3f (%.3f–%.3f)" % t

    # 1. request path
    ba, ba_cpu, bas = R.ratio("s1", "http", "b", "a", "rps"), R.ratio("s1", "http", "b", "a", "cpu_us_per_req"), \
        R.ratio("s1", "http", "b", "a_sb", "rps")
    ac, ac_cpu = R.ratio("s1", "http", "a", "c", "rps"), R.ratio("s1", "http", "a", "c", "cpu_us_per_req")
    sba = R.ratio("s1", "http", "a_sb", "a", "rps")
    if ba[0] is not None:
        spread = ba[2] - ba[1]
        verdict = "meets the 0.98 target" if ba[0] >= 0.98 else "is below the 0.98 target"
        t = "**Request path.** b/a = %s %s. " % (pr(ba), verdict)
        if spread > 0.04:
            t += ("But one round differs from the next by up to %.0f%%: the per-round ratios span "
                  "%.2f–%.2f, far wider than the 2%% the target is about, because other jobs share the two "
                  "cores (see the load average above); read the throughput ratio as \"no difference "
                  "measurable at this noise\" rather than as a precise number. " % (spread * 100, ba[1], ba[2]))
        if ba_cpu[0] is not None:
            t += ("CPU time per request (app workers + nginx), which noise disturbs much less, gives "
                  "b/a = %s" % pr(ba_cpu))
            if ba_cpu[1] <= 1.0 <= ba_cpu[2]:
                t += ": the range includes 1, no extra work per request measurable. "
            else:
                t += ": %.0f%% %s CPU per request, outside the per-round range. " % (
                    abs(ba_cpu[0] - 1) * 100, "more" if ba_cpu[0] > 1 else "less")
        shim = R.med("s1", "http", "b", "shim_cpu_ms")
        if shim is not None:
            t += ("The three sockd-spawn shims used %.0f ms of CPU per run (median) while nginx and the "
                  "apps used seconds: nothing of sockd is on the request path, by construction (nginx "
                  "connects to the socket systemd bound, the app accepts on it). " % shim)
        if sba[0] is not None:
            t += ("For scale: (a) and (a'), which differ only by the worker sandbox, differ by %.2f–%.2f from "
                  "round to round; that is the noise floor of these throughput ratios on this machine. " % (sba[1], sba[2]))
        if bas[0] is not None and sba[0] is not None:
            within = lambda r: r[1] <= 1.0 <= r[2]
            t += "The worker sandbox alone: a'/a = %s%s; sockd against the same sandbox: b/a' = %s%s. " % (
                pr(sba), " (the range includes 1: no effect measurable)" if within(sba) else "",
                pr(bas), " (the range includes 1)" if within(bas) else "")
        L.append(t)
    if ac[0] is not None:
        t = "**UNIX vs TCP.** a/c = %s in throughput" % pr(ac)
        if ac_cpu[0] is not None:
            t += ", %s in CPU per request" % pr(ac_cpu)
        if ac[1] > 1.0:
            t += ". The UNIX socket is faster in every round"
        elif ac[2] < 1.0:
            t += ". TCP is faster in every round"
        else:
            t += (". The per-round range includes 1: through nginx the transport is a small part of each request "
                  "(HTTP parsing in nginx and Node dominates), so a difference of this size is hard to separate "
                  "from the noise here")
        t += "; the echo test below isolates the transport. "
        L.append(t)
    e1, e10 = R.ratio("s1", "echo1", "unix", "tcp", "lps"), R.ratio("s1", "echo10", "unix", "tcp", "lps")
    s1_, s10 = R.ratio("s1", "echo1", "sockd", "unix", "lps"), R.ratio("s1", "echo10", "sockd", "unix", "lps")
    if e1[0] is not None:
        t = ("**Echo.** Line by line, a UNIX socket carries %.2fx the lines of loopback TCP with one client "
             "and %.2fx with ten (ranges %.2f–%.2f and %.2f–%.2f). " % (e1[0], e10[0] if e10[0] else float("nan"),
                                                                       e1[1], e1[2], e10[1] or 0, e10[2] or 0))
        if s1_[0] is not None:
            t += ("The same server under sockd (socket from systemd, fd 3) vs binding the socket itself: "
                  "%s with one client, %s with ten%s. " % (pr(s1_), pr(s10),
                                                           " — the same, within noise" if s1_[1] <= 1.0 <= s1_[2] or abs(s1_[0] - 1) < 0.05 else ""))
        L.append(t)
    eff, conf = R.med("s1", "backlog", "b", "effective"), R.med("s1", "backlog", "b", "configured")
    ceff = R.med("s1", "backlog", "echo", "effective")
    if eff is not None and conf is not None and eff < conf:
        L.append("**Backlog.** The socket units ask for Backlog=%d, but `ss` shows %d on the Node workers' "
                 "sockets: Node's `server.listen({fd: 3})` calls listen() again with its default backlog of "
                 "511 and shrinks the queue systemd set up%s. When a worker stalls, a longer queue is what "
                 "keeps connections waiting instead of failing: once it is full, connect() gets EAGAIN and nginx "
                 "answers 502 (or retries a GET elsewhere). Apps should pass `backlog` to listen (Node: "
                 "`listen({fd: 3, backlog: 4096})`); the README's Node example does not. "
                 % (conf, eff, " (the C echo app, which does not call listen(), keeps %d)" % ceff if ceff else ""))

    # 2. restarts
    for case, ready in (("fast", "~0 s"), ("slow", "~1 s")):
        rows = {}
        for c in ("sockdctl", "systemctl", "pm2"):
            if R.vals("s2", case, c, "during_p99_ms"):
                rows[c] = dict(during_err=sum(R.vals("s2", case, c, "during_err").values()),
                               outside=sum(R.vals("s2", case, c, "steady_err").values()) + sum(R.vals("s2", case, c, "other_err").values()),
                               p99=R.med("s2", case, c, "during_p99_ms"), mx=R.med("s2", case, c, "during_max_ms"),
                               steady=R.med("s2", case, c, "steady_p99_ms"), wall=R.med("s2", case, c, "restart_s"),
                               steady_max=max(R.vals("s2", case, c, "steady_p99_ms").values()))
        if not rows:
            continue
        n = len(R.vals("s2", case, next(iter(rows)), "during_p99_ms"))
        t = "**Restarts, app ready in %s** (%d rounds). Failed requests during the restart: %s" % (
            ready, n, ", ".join("%s %d" % (c, r["during_err"]) for c, r in rows.items()))
        kinds = []
        for c in rows:
            nx, rs_, to = (sum(R.vals("s2", case, c, m).values()) for m in ("non2xx", "resets", "timeouts"))
            if nx or rs_ or to:
                kinds.append("%s: %d non-2xx, %d reset or refused, %d without an answer within 10 s" % (c, nx, rs_, to))
        t += (" (over the whole runs, %s). " % "; ".join(kinds)) if kinds else ". "
        t += "p99 during the restart (median over rounds): %s; max %s; restart wall time %s. " % (
            ", ".join("%s %.0f ms" % (c, r["p99"]) for c, r in rows.items()),
            ", ".join("%s %.0f ms" % (c, r["mx"]) for c, r in rows.items()),
            ", ".join("%s %.1f s" % (c, r["wall"]) for c, r in rows.items()))
        noisy = [c for c, r in rows.items() if r["steady_max"] > 50]
        if noisy:
            t += ("Steady-state p99, before anything restarted, was above 50 ms in at least one round of %s "
                  "(worst %.0f ms): those rounds ran while the machine was busy with other jobs, and their "
                  "latencies say more about the neighbours%s than about the restart. " % (
                      ", ".join(noisy), max(rows[c]["steady_max"] for c in noisy),
                      " (and, for pm2, about how its master handles a burst of new connections; see the "
                      "steady-state check)" if "pm2" in noisy else ""))
        outside = {c: r["outside"] for c, r in rows.items() if r["outside"]}
        if outside:
            t += ("Failures outside the restart windows (%s) happened while nothing was restarting: stalls "
                  "under load, not restarts. " % ", ".join("%s %d" % kv for kv in outside.items()))
        L.append(t)
    hs, hp = R.med("s2", "high", "sockd", "steady_p99_ms"), R.med("s2", "high", "pm2", "steady_p99_ms")
    if hs is not None and hp is not None:
        hr = int(meta.get("s2_rate", 0) * 3 / 2)
        los, his = R.spread("s2", "high", "sockd", "steady_p99_ms")
        lop, hip = R.spread("s2", "high", "pm2", "steady_p99_ms")
        t = ("**Steady state at %d req/s.** p99 %.0f ms under sockd (%.0f–%.0f ms over the rounds), %.0f ms "
             "under pm2 (%.0f–%.0f ms). " % (hr, hs, los, his, hp, lop, hip))
        bad_s = [v for v in R.vals("s2", "high", "sockd", "steady_p99_ms").values() if v > 10 * max(hs, 1)]
        bad_p = [v for v in R.vals("s2", "high", "pm2", "steady_p99_ms").values() if v > 10 * max(hp, 1)]
        if bad_s:
            t += ("%d sockd round%s had a p99 of %s ms: a stall of the whole machine, which hits whichever "
                  "contender is running. " % (len(bad_s), "" if len(bad_s) == 1 else "s",
                                              ", ".join("%.0f" % v for v in bad_s)))
        if hip > 10 * max(his, 1) and bad_p:
            t += ("In pm2's bad rounds the latency runs away to seconds and stays there. The likely mechanism: "
                  "in cluster mode the master (pm2's God daemon) accepts every TCP connection and hands it to a "
                  "worker over IPC, one handoff per worker at a time; when a stall makes nginx open many new "
                  "upstream connections at once, the handoffs queue up, requests wait longer and nginx opens "
                  "still more connections (4000 were seen established to pm2's port, with an empty accept "
                  "queue, while debugging this). Under sockd every worker accepts directly on its own socket. "
                  "This is also why the restart rate above "
                  "is %d req/s: at 1.5 times that, pm2's baseline is not always steady on this machine. " % meta.get("s2_rate", 0))
        elif not bad_s:
            t += "Neither ran away at this rate in this run. "
        else:
            t += "pm2 did not run away at this rate in this run. "
        L.append(t)
    if R.vals("s2", "fast", "sockdctl", "during_p99_ms"):
        g = lambda case, c, m: R.med("s2", case, c, m)
        t = ("How the three differ: `sockdctl restart` starts the three new generations together and "
             "commits all workers at once, then each old generation hands over for HandoverSec= (1 s, 1.5 s, 2 s: "
             "it keeps its connections and takes no new ones, so the traffic moves to the new one as nginx renews "
             "its connections, over keepalive_time, 750 ms); it is the quickest (%.1f s / %.1f s wall time for the two apps). "
             "`systemctl restart`, worker after worker, is a stop and a start: the requests that reach that "
             "worker's socket meanwhile wait in its backlog%s, but they wait the whole start (p99 "
             "%.0f ms / %.0f ms). `pm2 reload` replaces one cluster worker after another behind its master, "
             "which only hands new connections to workers that are up; it takes longest (%.1f s / %.1f s) " % (
                 g("fast", "sockdctl", "restart_s"), g("slow", "sockdctl", "restart_s"),
                 ", none fails" if not any(sum(R.vals("s2", cs, "systemctl", "during_err").values()) for cs in ("fast", "slow")) else "",
                 g("fast", "systemctl", "during_p99_ms"), g("slow", "systemctl", "during_p99_ms"),
                 g("fast", "pm2", "restart_s") or 0, g("slow", "pm2", "restart_s") or 0))
        pw = list(R.vals("s2", "fast", "pm2", "restart_s").values()) + list(R.vals("s2", "slow", "pm2", "restart_s").values())
        if pw:
            t = t.rstrip() + ", varying from %.1f to %.1f s between rounds, " % (min(pw), max(pw))
        sp, pp = g("fast", "sockdctl", "during_p99_ms"), g("fast", "pm2", "during_p99_ms")
        if pp is not None and sp is not None and pp < sp:
            ss = g("slow", "sockdctl", "during_p99_ms")
            t += "and disturbs latency least (p99 %.0f ms against sockd's %.0f ms with the instantly ready app). " % (pp, sp)
            if ss is not None and ss < 0.6 * sp:
                t += ("sockd's cost is the moment all traffic moves to three just-started Node processes while their "
                      "start-up still loads both cores: with the app that is ready after 1 s, whose start-up work is "
                      "over by the switch, its p99 is %.0f ms. " % ss)
            else:
                t += ("With the app that is ready after 1 s sockd's p99 is much the same (%.0f ms), so the cost is the "
                      "switch itself: at commit every worker's traffic moves at the same moment to a process that "
                      "has served little or nothing yet (cold code paths, new connections from nginx); the 100 ms "
                      "timelines in bench/out/ show the spike right at the switch. pm2 moves one worker at a time. "
                      % ss)
            t += ("(While this bench was written, runs on a busier machine put sockd's spike at 100-500 ms for the "
                  "instantly ready app.) ")
        else:
            pm2_ran_away = max(R.vals("s2", "fast", "pm2", "steady_p99_ms").values(), default=0) > 50
            t += ("and here disturbed latency more than sockd (p99 %s ms against %.0f ms with the instantly ready "
                  "app)%s. " % (f(pp, "%.0f"), sp, ", in rounds where its latency had already run away before "
                                "the reload (see the steady-state check)" if pm2_ran_away else ""))
        L.append(t)

    # 3. footprint
    shim, god, shims3 = R.med("s3", "mem", "shim", "rss_kb"), R.med("s3", "mem", "god", "rss_kb"), R.med("s3", "mem", "shims3", "rss_kb")
    spss, gpss = R.med("s3", "mem", "shim", "pss_kb"), R.med("s3", "mem", "god", "pss_kb")
    if shim and god:
        L.append("**Footprint.** One sockd-spawn: %.1f MiB RSS, %.1f MiB PSS (most of its RSS is shared "
                 "libc/libsystemd pages). sockd's whole resident control path for three workers: %.1f MiB RSS; "
                 "pm2's God daemon for the same three workers: %.1f MiB RSS, %.1f MiB PSS, %.0fx the three "
                 "shims' RSS. sockdctl and the generator are not resident (they run and exit); systemd itself "
                 "is there either way." % (shim / 1024, spss / 1024, shims3 / 1024, god / 1024, gpss / 1024, god / shims3))

    # 4. scale
    ws = sorted({int(k[1][1:]) for k in raw if k[0] == "s4" and k[1].startswith("w")})
    if len(ws) > 1:
        lo, hi = ws[0], ws[-1]
        def slope(m):
            a, b = R.med("s4", "w%d" % lo, "sockd", m), R.med("s4", "w%d" % hi, "sockd", m)
            return None if a is None or b is None else (b - a) / (hi - lo), a, b
        rs, st, start, rl = slope("restart_ms"), slope("status_ms"), slope("start_ms"), slope("reload_workers_ms")
        t = "**Scale.** "
        if rs[0] is not None:
            t += ("`sockdctl restart` of an instantly ready app took %.0f ms with %d worker and %.0f ms with %d: "
                  "%.1f ms per added worker (signals through systemd, a new process, READY=1, PropertiesChanged "
                  "back), against %.0f ms per worker for `systemctl reload` of each worker in turn. " % (
                      rs[1], lo, rs[2], hi, rs[0], rl[0] if rl[0] is not None else float("nan")))
        if st[0] is not None:
            t += "`sockdctl status`: %.0f ms -> %.0f ms (%.1f ms per worker). " % (st[1], st[2], st[0])
        if start[0] is not None:
            t += "Starting workers is the expensive part: %.0f ms per worker for `sockdctl start`" % start[0]
            so, sv = R.med("s4", "start16", "sockd", "sockets_ms"), R.med("s4", "start16", "sockd", "services_ms")
            pl, sb = R.med("s4", "start16", "plain", "units_ms"), R.med("s4", "start16", "sandboxed", "units_ms")
            if None not in (so, sv, pl, sb):
                t += ("; for 16 workers, the socket units take %.0f ms (%.0f ms each: a systemd-tmpfiles run as "
                      "ExecStartPre per socket, for a directory that one run would create), the services %.0f ms "
                      "(%.0f ms each), and the worker sandbox alone accounts for %.0f ms of it (16 `sleep` units: "
                      "%.0f ms plain, %.0f ms sandboxed). " % (so, so / 16, sv, sv / 16, sb - pl, pl, sb))
            else:
                t += ". "
        gen1, gen64 = R.med("s4", "w%d" % lo, "sockd", "gen_ms"), R.med("s4", "w%d" % hi, "sockd", "gen_ms")
        gapps = R.med("s4", "apps", "sockd", "gen_ms")
        if gen1 is not None:
            t += ("The generator needs a few ms whatever the worker count (%.1f / %.1f ms; unit files are "
                  "templates, so 64 workers write no more files than 1)%s; daemon-reload is systemd's own "
                  "cost. " % (gen1, gen64, ", and %.0f ms for 100 apps" % gapps if gapps else ""))
        L.append(t)

    # 5. suspended
    h, q = R.med("s5", "hold", "sockd", "last_ms"), R.med("s5", "queue", "sockd", "last_ms")
    h1, q1 = R.med("s5", "hold1", "sockd", "last_ms"), R.med("s5", "queue1", "sockd", "last_ms")
    if h is not None and q is not None:
        ok = sum(sum(R.vals("s5", c, "sockd", "ok").values()) for c in ("hold", "queue", "hold1", "queue1"))
        n = sum(sum(R.vals("s5", c, "sockd", "n").values()) for c in ("hold", "queue", "hold1", "queue1"))
        early = sum(sum(R.vals("s5", c, "sockd", "early").values()) for c in ("hold", "queue", "hold1", "queue1"))
        t = ("**Suspended restarts.** From `sockdctl resume` to the last of 100 held requests answered: "
             "Suspend=hold %.0f ms, Suspend=queue %.0f ms with the instantly ready app" % (h, q))
        if h1 is not None and q1 is not None:
            t += "; %.0f ms and %.0f ms with the app that needs 1 s to become ready" % (h1, q1)
        t += (". hold pays the start-up before the migration (the new generation is already running and only "
              "releases what it holds), queue after it (nothing runs while suspended; the new generation "
              "starts at resume, so the held requests wait for its start-up too). %d of %d held requests were "
              "answered with 200, %d before the resume. 'restart --suspended' itself returns once the old "
              "generation has exited, which can take up to nginx's keepalive_timeout (4 s) while nginx keeps "
              "idle connections to it open." % (ok, n, early))
        L.append(t)

    with open(out_path, "w") as fh:
        fh.write("\n\n".join(L) + "\n")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "cpu":
        cmd_cpu(args)
    elif cmd == "window":
        cmd_window(*args)
    elif cmd == "pooled":
        cmd_pooled(args)
    elif cmd == "burst":
        cmd_burst(*args)
    elif cmd == "wrk":
        cmd_wrk(args[0])
    elif cmd == "report":
        build_report(*args)
    elif cmd == "reading":
        build_reading(*args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
