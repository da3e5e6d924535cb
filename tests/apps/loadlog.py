#!/usr/bin/python3
"""Sends requests through nginx from several threads for a while and logs every one:
when it was sent, when it was answered, the status, and the generation and time at
which the app served it (its body: '... generation=N pid=P served=T').

  loadlog.py run URL SECONDS THREADS OUT.jsonl
  loadlog.py check OUT.jsonl OLD_GENS SUSPENDED_AT RESUME_AT RESUMED_AT

OLD_GENS is each worker's generation before the restart: "6,6,1" for workers 0, 1, 2.

check asserts the suspended-restart guarantees and prints one line per guarantee
('ok - ...' / 'not ok - ...')."""
import http.client
import json
import re
import sys
import threading
import time


def run(url, seconds, threads, out):
    m = re.match(r"http://([^/:]+):(\d+)(/.*)", url)
    host, port, path = m.group(1), int(m.group(2)), m.group(3)
    stop = time.time() + seconds
    lock = threading.Lock()
    records = []

    def worker(n):
        conn = None
        i = 0
        while time.time() < stop:
            i += 1
            sent = time.time()
            rec = {"sent": sent}
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=60)
                if i % 2:
                    conn.request("GET", path)
                else:
                    conn.request("POST", path, body="payload %d" % i)
                resp = conn.getresponse()
                body = resp.read().decode()
                rec["status"] = resp.status
                g = re.search(r"worker=(\d+) generation=(\d+) pid=(\d+) served=([0-9.]+)", body)
                if g:
                    rec["worker"] = int(g.group(1))
                    rec["generation"] = int(g.group(2))
                    rec["served"] = float(g.group(4))
            except Exception as e:  # a refused or reset request is what we look for
                rec["error"] = repr(e)
                conn = None
            rec["answered"] = time.time()
            with lock:
                records.append(rec)

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(out, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def check(out, old_gens, suspended_at, resume_at, resumed_at):
    recs = [json.loads(l) for l in open(out)]
    bad = [r for r in recs if r.get("status") != 200]
    is_new = lambda r: r.get("generation", 0) > old_gens[r["worker"]]
    old = [r for r in recs if "served" in r and not is_new(r)]
    new = [r for r in recs if "served" in r and is_new(r)]
    # Sent before resume, answered after it: these were held (by the app or in the
    # socket's backlog) across the suspension.
    held = [r for r in recs if r["sent"] < resume_at <= r["answered"]]
    results = [
        (len(recs) > 0 and len(old) > 0 and len(new) > 0,
         "requests were served before and after (%d old, %d new, %d in all)" % (len(old), len(new), len(recs))),
        (not bad, "no request refused, reset or failed (%d bad%s)" % (len(bad), (": " + str(bad[:3])) if bad else "")),
        (all(r["served"] < suspended_at for r in old),
         "no request was served by the old generation after restart --suspended returned"),
        (all(r["served"] >= resume_at for r in new),
         "no request was served by the new generation before resume was called"),
        (len(held) > 0 and all(r.get("status") == 200 and "served" in r and is_new(r) for r in held),
         "every request held over the suspension (%d) was then served by the new generation" % len(held)),
    ]
    failed = 0
    for ok, desc in results:
        print(("ok - " if ok else "not ok - ") + desc)
        failed += not ok
    latest = max((r["answered"] for r in held), default=0)
    print("# held requests: %d, last one answered %.3f s after resume returned" % (len(held), latest - resumed_at))
    return failed


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(1 if check(sys.argv[2], [int(g) for g in sys.argv[3].split(",")], float(sys.argv[4]),
                            float(sys.argv[5]), float(sys.argv[6])) else 0)
