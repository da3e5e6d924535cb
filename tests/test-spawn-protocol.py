#!/usr/bin/python3
"""sockd-spawn's protocol with the apps it runs and with sockdctl, run by hand (no root,
no systemd): the harness passes the socket (LISTEN_FDS), a runtime directory of its own
($RUNTIME_DIRECTORY, kept across runs as systemd keeps it) and a notify socket, on which
it reads the StatusText sockdctl would see. Control requests are the signals sockdctl
sends through KillUnit.

Usage: test-spawn-protocol.py SOCKD_SPAWN SOURCE_DIR PRELOAD   (no root needed)"""
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

spawn, src, preload = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
protoapp = os.path.join(src, "tests/apps/protoapp.py")
tcpapp = os.path.join(src, "tests/apps/tcpapp.py")
keepalive = os.path.join(src, "tests/apps/keepalive.py")
passed = failed = 0

PREPARE, COMMIT, ABORT, PREPARE_HELD, SUSPEND, RESUME = (signal.SIGRTMIN + n for n in range(1, 7))
PIPE_BUF = 4096


def check(cond, desc, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + desc)
    else:
        failed += 1
        print("not ok - " + desc)
        if detail:
            print("#   " + str(detail).replace("\n", "\n#   "))
    return cond


def parse_status(text):
    """The items of a StatusText, as sockdctl's worker_status_parse() reads them."""
    items = {"draining": []}
    for item in text.split("; "):
        state, _, rest = item.partition(": ")
        if item == "suspended: queueing":
            items["queueing"] = True
        elif state == "draining" and rest.startswith("generation "):
            items["draining"].append(rest)
        elif state in ("serving", "suspended", "starting", "ready", "failed"):
            items[state] = rest
        else:
            items[item] = True
    return items


class Shim:
    """One run of sockd-spawn on the test's socket and runtime directory."""

    def __init__(self, t, args, extra_fds=(), env=None):
        self.t = t
        self.lines = []
        self.statuses = []
        self.notifications = []
        self.lock = threading.Condition()
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = os.path.join(t.dir, "notify-%d" % len(t.runs))
        self.notify.bind(npath)
        self.notify.settimeout(0.2)
        e = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET", "RUNTIME_DIRECTORY", "JOURNAL_STREAM"))}
        e.update({"LISTEN_FDS": "1", "NOTIFY_SOCKET": npath, "PROTO_DIR": t.flags,
                  "RUNTIME_DIRECTORY": "%s:%s" % (t.app_dir, t.worker_dir)})
        e.update(env or {})
        listen = t.listener.fileno()
        for fd in extra_fds:  # what a careless parent leaves open
            os.set_inheritable(fd, True)

        def child():
            os.dup2(os.dup(listen), 3)

        cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", spawn, "--app=ptest"] + args
        self.p = subprocess.Popen(cmd, env=e, preexec_fn=child, close_fds=False,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t.runs.append(self)
        self.reader = threading.Thread(target=self._read_output, daemon=True)
        self.reader.start()
        threading.Thread(target=self._read_notify, daemon=True).start()

    def _read_output(self):
        for line in self.p.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                self.lock.notify_all()

    def _read_notify(self):
        while True:
            try:
                data = self.notify.recv(65536)
            except socket.timeout:
                if self.p.poll() is not None:
                    return
                continue
            except OSError:
                return
            with self.lock:
                self.notifications.append(data)
                for line in data.decode(errors="replace").split("\n"):
                    if line.startswith("STATUS="):
                        self.statuses.append(line[7:])
                self.lock.notify_all()

    @property
    def status(self):
        with self.lock:
            return self.statuses[-1] if self.statuses else ""

    def wait(self, pred, timeout=15, what="condition"):
        """Waits (on output and notifications, no sleeping) until pred() holds."""
        deadline = time.time() + timeout
        with self.lock:
            while not pred():
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 0.5))
            return True

    def wait_status(self, pred, timeout=15):
        return self.wait(lambda: bool(self.statuses) and pred(parse_status(self.statuses[-1])), timeout)

    def wait_log(self, text, timeout=15, start=0):
        return self.wait(lambda: any(text in l for l in self.lines[start:]), timeout)

    def log(self):
        with self.lock:
            return "\n".join(self.lines)

    def kill(self, sig):
        os.kill(self.p.pid, sig)

    def exit_status(self, timeout=30):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = None
        # Its last lines may still be in the pipe: read them before anyone looks.
        self.reader.join(5)
        return rc

    def stop(self):
        if self.p.poll() is None:
            self.kill(signal.SIGTERM)
        return self.exit_status()


class Test:
    """A socket, a runtime directory and flag files for the test app."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="sockd-proto-%s." % name)
        os.chmod(self.dir, 0o755)
        self.flags = os.path.join(self.dir, "flags")
        self.app_dir = os.path.join(self.dir, "rt", "ptest")
        self.worker_dir = os.path.join(self.app_dir, "0")
        os.makedirs(self.flags)
        os.makedirs(self.worker_dir, mode=0o700)
        self.sock = os.path.join(self.dir, "app.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.sock)
        self.listener.listen(64)
        self.runs = []

    def set_flag(self, name, value=""):
        with open(os.path.join(self.flags, name), "w") as f:
            f.write(str(value))

    def clear_flag(self, name):
        try:
            os.unlink(os.path.join(self.flags, name))
        except FileNotFoundError:
            pass

    def shim(self, extra=(), ready="notify", app=None, with_preload=False, **kw):
        # --handover=0: these checks follow one generation's drain at a time; the
        # handover block runs with one.
        args = ["--ready=" + ready, "--ready-timeout=3s", "--stop-timeout=4s", "--handover=0"] + list(extra) + \
               (["--socket=" + self.sock, "--preload=" + preload] if with_preload else []) + \
               ["--", *(app or [sys.executable, protoapp])]
        return Shim(self, args, **kw)

    def get(self, timeout=10):
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(timeout)
        try:
            c.connect(self.sock)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return b"".join(iter(lambda: c.recv(4096), b"")).decode()
        except OSError as e:
            return "error: %s" % e
        finally:
            c.close()

    def done(self):
        for r in self.runs:
            if r.p.poll() is None:
                r.p.kill()
                r.p.wait()
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def serving_gen(items):
    return int(items["serving"].split(",")[0].split()[1]) if "serving" in items else 0


# ---- 7: an app's STATUS= never makes the shim's own too long for systemd ----
t = Test("status")
t.set_flag("big-status", 5000)
s = t.shim()
check(s.wait_status(lambda i: "serving" in i), "a generation with a 5000-byte STATUS= becomes ready", s.log())
with s.lock:
    sizes = [len(n) for n in s.notifications]
check(max(sizes) < PIPE_BUF, "every notification the shim sends stays below PIPE_BUF (largest %d bytes)" % max(sizes),
      sizes)
check(s.wait_status(lambda i: "serving" in i and i["serving"].endswith("...)")),
      "the app's status is relayed, cut to a bound and marked as cut", s.status[:300])
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 2), "and the shim's own status still gets through: the next swap shows",
      s.status[:300])
check(s.stop() == 0, "stops cleanly", s.log())
t.done()

# ---- WatchdogSec= on the worker: the app sees a watchdog meant for it, its pings go on ----
t = Test("watchdog")
s = t.shim(env={"WATCHDOG_USEC": "30000000"})
check(s.wait_log("watchdog usec="), "with WATCHDOG_USEC on the worker, the app is told of the watchdog", s.log())
m = re.search(r"protoapp\[gen 1 pid (\d+)\]: watchdog usec=(\d+) pid=(\S+)", s.log())
check(m and m.group(2) == "30000000" and m.group(3) == m.group(1),
      "WATCHDOG_USEC passes through and WATCHDOG_PID is the app's own pid (sd_watchdog_enabled(3) says yes)", s.log())
check(s.wait(lambda: any(b"WATCHDOG=1" in n for n in s.notifications)),
      "the serving generation's WATCHDOG=1 is relayed to the worker's NOTIFY_SOCKET", repr(s.notifications[-5:]))
check(s.stop() == 0, "stops cleanly", s.log())
t.done()

# ---- 8: a generation cannot make the next one look ready ----
t = Test("spoof")
t.set_flag("spoof.1", 8)
t.set_flag("hang.2")
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: "failed" in i and "ReadyTimeoutSec" in i["failed"], timeout=12),
      "generation 2, which never says READY=1, fails its swap although generation 1 sends READY=1 to its socket",
      s.status + "\n" + s.log())
check(serving_gen(parse_status(s.status)) == 1, "generation 1 keeps serving", s.status)
check(s.wait_log("Ignoring a notification on the socket of generation 2 from pid"), "the foreign sender is logged",
      s.log())
check(s.wait_log("spoofer sent", timeout=10) and "spoofer sent 0 " not in s.log(),
      "(the spoofer did reach generation 2's socket)", s.log())
s.stop()
t.done()

# ---- 9: an accept() error does not kill the control socket ----
t = Test("emfile")
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.log())
control = os.path.join(t.worker_dir, "control")
if not os.path.exists(control) and os.environ.get("OLD"): control = os.path.join(t.app_dir, "control")
check(os.path.exists(control), "the control socket is in the worker's own runtime directory (the last of $RUNTIME_DIRECTORY)")
nfds = len(os.listdir("/proc/%d/fd" % s.p.pid))
old = resource.prlimit(s.p.pid, resource.RLIMIT_NOFILE)
resource.prlimit(s.p.pid, resource.RLIMIT_NOFILE, (nfds, old[1]))
held = []
mark = len(s.lines)
for _ in range(4):
    c = socket.socket(socket.AF_UNIX)
    c.connect(control)
    held.append(c)
check(s.wait_log("Failed to accept a control connection", start=mark), "with no fd left, accept() fails and says so",
      s.log())
resource.prlimit(s.p.pid, resource.RLIMIT_NOFILE, old)
for c in held:
    c.close()
try:
    r = subprocess.run([spawn, "--reload", "--control=" + control], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "is serving" in r.stderr, "then a reload over the control socket works again", r.stderr)
except subprocess.TimeoutExpired:
    check(False, "then a reload over the control socket works again", "no answer within 20s")
check(s.wait_status(lambda i: serving_gen(i) == 2), "and generation 2 serves", s.status)
s.stop()
t.done()

# ---- 10: sockdctl's abort does not touch a reload's generation ----
t = Test("abort")
t.set_flag("slow.2", 2)
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: "starting" in i), "a reload starts generation 2", s.status)
s.kill(ABORT)
check(s.wait_log("Not aborting generation 2: it belongs to a reload"), "an abort meant for a prepared restart leaves it",
      s.log())
check(s.wait_status(lambda i: serving_gen(i) == 2), "and the reload completes: generation 2 serves", s.status)
s.kill(COMMIT)
check(s.wait_status(lambda i: "failed" in i and "commit refused: nothing was prepared" in i["failed"]),
      "a commit with nothing prepared is refused where sockdctl sees it", s.status)
check(serving_gen(parse_status(s.status)) == 2, "and changes nothing", s.status)
s.kill(PREPARE)
check(s.wait_status(lambda i: "ready" in i), "a prepared generation 3 is ready", s.status)
s.kill(ABORT)
check(s.wait_status(lambda i: "failed" in i and "was aborted" in i["failed"] and "ready" not in i),
      "an abort takes a prepared generation back", s.status)
check(s.wait_log("gen 3 pid") and s.wait_log("got SIGTERM"), "gracefully (SIGTERM)", s.log())
s.stop()
t.done()

# ---- 12: the old generation is gone only when its whole process group is ----
t = Test("group")
t.set_flag("helper.1", 3)
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 (with a helper on the socket) serves", s.log())
s.kill(SUSPEND)  # Suspend=queue (the default): generation 1 drains
check(s.wait_status(lambda i: i.get("queueing") and i["draining"]), "suspended: generation 1 drains",
      s.status)
check(s.wait_log("gen 1 pid") and s.wait_log("stopped accepting, exiting"), "its main process exits on SIGTERM",
      s.log())
check(s.wait_log("left processes behind in its group"), "the shim sees it leave a helper behind", s.log())
items = parse_status(s.status)
check(items["draining"], "while its helper lives on, the StatusText still shows it draining", s.status)
check(s.wait_status(lambda i: not i["draining"], timeout=10), "once the helper is gone, nothing drains any more",
      s.status + "\n" + s.log())
# Its last line comes through a pipe, the status through the notify socket: either first.
check(s.wait_log("helper exiting", timeout=5), "(the helper exited)", s.log())
s.kill(RESUME)
check(s.wait_status(lambda i: serving_gen(i) == 2), "resume starts generation 2", s.status)
s.stop()
t.done()

t = Test("group-kill")
t.set_flag("helper.1", 60)
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 with a helper that would live 60s serves", s.log())
s.kill(SUSPEND)
check(s.wait_log("left processes behind in its group"), "the group left behind is asked to go", s.log())
check(s.wait_log("are still there after StopTimeoutSec=", timeout=10), "and killed after StopTimeoutSec=", s.log())
check(s.wait_status(lambda i: not i["draining"], timeout=5), "then nothing drains", s.status)
r = t.get(timeout=2)
check(r.startswith("error"), "nobody answers on the suspended socket any more (the request waits in the backlog)", r)
s.stop()
t.done()

# ---- 14: 'shutdown' that cannot be sent: SIGTERM at once ----
node = shutil.which("node")
if node:
    t = Test("ipc")
    app = os.path.join(t.dir, "closes-ipc.js")
    with open(app, "w") as f:
        f.write("""
const http = require('http');
const server = http.createServer((q, r) => r.end('gen=' + process.env.SOCKD_GENERATION + '\\n'));
server.listen({ fd: 3 }, () => { process.send('online'); process.disconnect(); });
process.on('disconnect', () => console.log('node: online, channel closed'));
process.on('SIGTERM', () => { console.log('node: got SIGTERM'); process.exit(0); });
""")
    s = t.shim(ready="node-ipc", app=[node, app], extra=["--stop-timeout=20s"])
    check(s.wait_log("node: online, channel closed"), "a Node app that closes its IPC channel serves", s.log())
    check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.status)
    start = time.time()
    rc = s.stop()
    took = time.time() - start
    check("sent SIGTERM, as 'shutdown' could not be sent" in s.log() and "node: got SIGTERM" in s.log(),
          "stopping it sends SIGTERM when 'shutdown' cannot be sent", s.log())
    check(rc == 0 and "SIGKILL" not in s.log(), "it exits on that, long before StopTimeoutSec=20s (%.1fs)" % took, s.log())
    t.done()
else:
    print("# SKIP: node not installed")

# ---- ReadyMessage=: a Node app that says it is ready with an object of its own ----
if node:
    t = Test("readymsg")
    app = os.path.join(t.dir, "own-message.js")
    with open(app, "w") as f:
        f.write("""
const http = require('http');
const server = http.createServer((q, r) => r.end('gen=' + process.env.SOCKD_GENERATION + '\\n'));
server.listen({ fd: 3 }, () => {
  process.send('online');                       // not what this app means by ready
  process.send({ ready: false, step: 'db' });
  console.log('node: sent online and not ready yet');
  setTimeout(() => process.send({ step: 'all', ready: true }), 1000);
});
process.on('message', (m) => { if (m === 'shutdown') server.close(() => process.exit(0)); });
""")
    s = t.shim(ready="node-ipc", app=[node, app], extra=['--ready-message={ "ready" : true, "step":"all" }'])
    check(s.wait_status(lambda i: serving_gen(i) == 1), "with --ready-message, generation 1 becomes ready", s.log())
    check(s.wait_log("is ready.") and s.wait_log("node: sent online and not ready yet") and
          s.log().find("node: sent online and not ready yet") < s.log().find("is ready."),
          "only on the message equal to it (key order and blanks aside), not on 'online' or another object", s.log())
    check(s.stop() == 0, "and stops on 'shutdown'", s.log())
    t.done()

# ---- 15: the crash back-off starts over only after a healthy uptime ----
t = Test("backoff")
t.set_flag("crash", 0.5)
delays = []
for run in range(3):
    s = t.shim()
    rc = s.exit_status(timeout=30)
    text = s.log()
    check(rc == 5, "run %d: the app crashes after it is ready, the worker exits with its status" % (run + 1), text)
    for line in text.splitlines():
        if "in a row; waiting" in line:
            delays.append(line.split("failed ")[1].split(" time")[0])
check(delays == ["1", "2"], "the crash count grows across restarts although each generation became ready (%s)" % delays,
      delays)
t.done()

# ---- 16: by hand, fds the shim inherited do not reach the app ----
t = Test("fds")
r, w = os.pipe()
s = t.shim(extra_fds=(r, w))
check(s.wait_status(lambda i: serving_gen(i) == 1), "an app run by a shim that inherited two extra fds serves", s.log())
reply = t.get()
check(reply.rstrip().endswith("fds=3"), "the app has fd 3 and nothing else above 2", reply)
os.close(r)
os.close(w)
s.stop()
t.done()

# ---- 20: a generation that misses ReadyTimeoutSec= is stopped gracefully ----
t = Test("readytimeout")
t.set_flag("hang.2")
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.log())
s.kill(SIGHUP := signal.SIGHUP)
check(s.wait_status(lambda i: "failed" in i and "ReadyTimeoutSec=3s" in i["failed"], timeout=10),
      "generation 2 misses ReadyTimeoutSec=, the swap fails at once", s.status)
check(s.wait_log("protoapp[gen 2", timeout=5) and s.wait_log("got SIGTERM"), "generation 2 gets SIGTERM, not SIGKILL",
      s.log())
check(s.wait_log("Generation 2 (pid", timeout=10) and "was killed by SIGKILL" not in s.log(),
      "and exits by itself", s.log())
s.stop()
t.done()

# ---- StopSignal=: the graceful stop of an app that is not on Node IPC ----
t = Test("stopsignal")
s = t.shim(extra=["--stop-signal=SIGUSR1"])
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves (--stop-signal=SIGUSR1)", s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 2), "a reload swaps to generation 2", s.status)
check(s.wait_log("Stopping generation 1 (pid") and s.wait_log("sent SIGUSR1.") and s.wait_log("got SIGUSR1"),
      "the old generation is asked to stop with SIGUSR1", s.log())
check(s.stop() == 0 and "got SIGTERM" not in s.log(), "and so is the last one; no SIGTERM reaches the app", s.log())
t.done()

# ---- 11 and 13: a suspension survives the shim; a failed resume ends it ----
t = Test("suspend-queue")
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.log())
s.kill(SUSPEND)
check(s.wait_status(lambda i: i.get("queueing") and not i["draining"]), "suspended (queue)", s.status)
s.kill(signal.SIGKILL)
s.exit_status()
s = t.shim()
check(s.wait_status(lambda i: i.get("queueing")), "a shim started again (a crash, a stop, a request) is suspended",
      s.status + "\n" + s.log())
with s.lock:
    ready = any(b"READY=1" in n for n in s.notifications)
check(ready and "starting" not in parse_status(s.status), "it is ready for systemd but starts no generation", s.status)
t.set_flag("fail.2")
s.kill(RESUME)
rc = s.exit_status()
check(rc == 3, "a resume whose generation fails exits the worker (status %s), for systemd to restart" % rc, s.log())
check("No generation serves after generation 2 failed" in s.log(), "and says why", s.log())
t.clear_flag("fail.2")
s = t.shim()
check(s.wait_status(lambda i: serving_gen(i) == 3, timeout=20), "restarted (after the back-off) it is not suspended: it serves",
      s.status + "\n" + s.log())
s.stop()
t.done()

t = Test("suspend-hold")
s = t.shim(extra=["--suspend=hold"])
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves (Suspend=hold)", s.log())
s.kill(PREPARE_HELD)
check(s.wait_status(lambda i: "ready" in i), "a held generation 2 is prepared", s.status)
s.kill(SUSPEND)
check(s.wait_status(lambda i: "suspended" in i and not i["draining"]), "committed: generation 2 holds requests",
      s.status)
pid2 = int(parse_status(s.status)["suspended"].split("pid ")[1].split()[0].rstrip(")"))
os.kill(pid2, signal.SIGKILL)  # crashes mid-migration
rc = s.exit_status()
check(rc not in (0, None), "the held generation crashes: the worker exits (status %s)" % rc, s.log())
s = t.shim(extra=["--suspend=hold"])
check(s.wait_status(lambda i: "suspended" in i and i["suspended"].startswith("generation 3"), timeout=20),
      "started again, its new generation is held too", s.status + "\n" + s.log())
result = {}
th = threading.Thread(target=lambda: result.update(reply=t.get(timeout=20)))
th.start()
time.sleep(1)
check(th.is_alive(), "a request is held, not answered")
s.kill(RESUME)
th.join()
check("generation=3 " in result.get("reply", ""), "after resume it is answered by the new generation",
      result.get("reply"))
check(s.wait_status(lambda i: serving_gen(i) == 3), "which serves", s.status)
check(not os.path.exists(os.path.join(t.app_dir, "suspended")), "and the suspension is no longer recorded")
s.stop()
t.done()

# ==== the preload library: apps as they are ====

def free_port():
    with socket.socket() as p:
        p.bind(("127.0.0.1", 0))
        return p.getsockname()[1]


def tcp_refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


# ---- Listen=tcp: the app binds 127.0.0.1:PORT itself and gets the worker's socket ----
t = Test("listen-tcp")
port, admin = free_port(), free_port()
s = t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port, "--backlog=200"], ready="listen", app=[sys.executable, tcpapp],
           with_preload=True, env={"TCPAPP_BIND": "127.0.0.1:%d" % port, "TCPAPP_ADMIN": "127.0.0.1:%d" % admin,
                                   "TCPAPP_BACKLOG": "5"})
check(s.wait_status(lambda i: serving_gen(i) == 1), "an app that binds 127.0.0.1:%d itself serves (Ready=listen)" % port,
      s.log())
check(s.wait_log("bound tcp:127.0.0.1:%d (Listen=) and got the worker's socket" % port), "the shim says it adopted the bind",
      s.log())
reply = t.get()
check("status=ready" in reply, "a request on the worker's socket reaches it", reply)
check("server=('127.0.0.1', %d)" % port in reply, "getsockname() says what it bound", reply)
check("client=('127.0.0.1'," in reply, "its connections come from a loopback peer", reply)
check("nodelay=ok" in reply, "TCP_NODELAY on them succeeds", reply)
check(tcp_refused(port), "nothing listens on 127.0.0.1:%d itself" % port)
check(not tcp_refused(admin), "its second, different bind (the admin port) is its own, left alone")
ss = subprocess.run(["ss", "-xlnH", "src", t.sock], capture_output=True, text=True).stdout
check(" 200 " in ss, "its listen(5) keeps the socket's larger backlog (200)", ss)
s.stop()
# (The admin port is the app's own: two generations of it cannot run at once.)
s = t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port], ready="listen", app=[sys.executable, tcpapp], with_preload=True,
           env={"TCPAPP_BIND": "127.0.0.1:%d" % port})
check(s.wait_status(lambda i: serving_gen(i) > 0), "run again", s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: not i["draining"] and serving_gen(i) > 1 and "starting" not in i),
      "a swap: the next generation adopts the same socket and serves", s.status)
pid2 = int(parse_status(s.status)["serving"].split("pid ")[1].split()[0].rstrip(")"))
check(any("pid=%d" % pid2 in t.get() for _ in range(50)), "and answers", s.log())
s.stop()
t.done()

# ---- Listen= through a wrapper that does not pass fd 3 on (npm start does not) ----
# The wrapper puts a socket of its own at fd 3 and passes only that to the app: the app
# must neither take it for the worker's socket nor go without: it gets the worker's socket
# from the gate, for its process group only.
t = Test("listen-wrapper")
port = free_port()
wrapper = ("import os, socket, subprocess, sys\n"
           "decoy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
           "decoy.bind(sys.argv[1]); decoy.listen(1)\n"
           "os.dup2(decoy.fileno(), 3)\n"
           "sys.exit(subprocess.call(sys.argv[2:], pass_fds=(3,)))\n")
decoy = os.path.join(t.dir, "decoy.sock")
s = t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port], ready="listen",
           app=[sys.executable, "-c", wrapper, decoy, sys.executable, tcpapp], with_preload=True,
           env={"TCPAPP_BIND": "127.0.0.1:%d" % port})
check(s.wait_status(lambda i: serving_gen(i) == 1),
      "an app whose wrapper passes another socket as fd 3 binds Listen= and serves", s.log())
reply = t.get()
check("status=ready" in reply and "server=('127.0.0.1', %d)" % port in reply, "on the worker's socket", reply + s.log())
d = socket.socket(socket.AF_UNIX)
d.settimeout(0.5)
d.connect(decoy)
try:
    d.recv(1)
    decoy_untouched = False  # the app's server never accepts there: a timeout is right
except socket.timeout:
    decoy_untouched = True
d.close()
check(decoy_untouched and tcp_refused(port), "the wrapper's own fd 3 is left alone, nothing listens on the port")
gate = os.path.join(t.worker_dir, "gate.1")
g = socket.socket(socket.AF_UNIX)
g.settimeout(5)
g.connect(gate)
msg, fds, _, _ = socket.recv_fds(g, 1, 4)
g.close()
check(msg == b"" and not fds and s.wait_log("Refused the socket to pid %d, which is not in generation 1" % os.getpid()),
      "a process outside the generation's process group gets no socket from the gate", s.log())
s.stop()
t.done()

# ---- relays: the connections a retired generation closes as idle stay open ----
def ka_connect(t):
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(10)
    c.connect(t.sock)
    return c


def ka_request(c, path="/", body=b""):
    """One request on a keep-alive connection; its answer's body, or 'error: ...'."""
    try:
        c.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
    except OSError as e:
        return "error: %s" % e
    return ka_answer(c)


def ka_answer(c):
    """The body of the next answer on a keep-alive connection, or 'error: ...'."""
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                return "error: EOF"
            data += d
        head, rest = data.split(b"\r\n\r\n", 1)
        length = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0])
        while len(rest) < length:
            d = c.recv(4096)
            if not d:
                return "error: EOF in body"
            rest += d
        return rest.decode()
    except OSError as e:
        return "error: %s" % e


def sockd_pid(answer):
    return answer.split()[0][4:] if answer.startswith("pid=") else None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def ka_shim(t, **env):
    """keepalive.py binding a TCP port of its own, adopted with Listen=, ready at listen()."""
    port = free_port()
    env["KEEPALIVE_BIND"] = "127.0.0.1:%d" % port
    return t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port], ready="listen", app=[sys.executable, keepalive],
                  with_preload=True, env=env)


t = Test("relay")
s = ka_shim(t)
check(s.wait_status(lambda i: serving_gen(i) == 1), "a keep-alive app that closes idle connections when it stops serves",
      s.log())
fds_before = fd_count(s.p.pid)
a, b = ka_connect(t), ka_connect(t)
first = ka_request(a)
pid1 = sockd_pid(first)
check(pid1 and ka_request(b, "/", b"x").startswith("pid=%s " % pid1), "two keep-alive connections to generation 1", first)
# b is busy with a slow answer across the swap, a idle.
mark = len(s.lines)
b.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
# Busy only once generation 1 has read it; a machine under load may take its time.
check(s.wait_log("keepalive[pid %s]: slow answer started" % pid1, start=mark), "generation 1 reads the slow request",
      s.log())
s.kill(signal.SIGHUP)
check(s.wait_log("closed 1 idle connections") and s.wait_log("Generation 1 (pid %s) exited" % pid1),
      "a swap: generation 1 closes its idle connection at once, finishes the busy one, exits", s.log())
slow = b.recv(4096).decode()
check("pid=%s path=/slow" % pid1 in slow, "the busy connection gets its answer from generation 1", slow)
after_a, after_b = ka_request(a, "/", b"after"), ka_request(b, "/", b"after")
pid2 = sockd_pid(after_a)
check(pid2 and pid2 != pid1 and after_a.startswith("pid=%s path=/ body=5" % pid2) and after_b.startswith("pid=%s " % pid2),
      "both connections it closed stay open: their next requests are answered by generation 2", after_a + after_b + s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 3 and not i["draining"]), "another swap, to generation 3", s.status)
again = ka_request(a, "/", b"again")
pid3 = sockd_pid(again)
check(pid3 and pid3 not in (pid1, pid2) and "body=5" in again,
      "generation 2 closed the relayed connection as idle too: the next request reaches generation 3", again + s.log())
a.close()
b.close()
deadline = time.time() + 10
while fd_count(s.p.pid) > fds_before and time.time() < deadline:
    time.sleep(0.1)
check(fd_count(s.p.pid) <= fds_before, "when the client closes them, the relays are gone, no fd left behind",
      "%d fds, %d before" % (fd_count(s.p.pid), fds_before))
s.stop()
t.done()

# ---- handover: after a swap the old generation keeps its connections for a while ----
t = Test("handover")
port = free_port()
s = t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port, "--handover=3s"], ready="listen", app=[sys.executable, keepalive],
           with_preload=True, env={"KEEPALIVE_BIND": "127.0.0.1:%d" % port})
check(s.wait_status(lambda i: serving_gen(i) == 1), "with --handover=3s, generation 1 serves", s.log())
a = ka_connect(t)
pid1 = sockd_pid(ka_request(a))
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 2 and len(i["draining"]) == 1),
      "a swap is done when generation 2 is ready: it serves, generation 1 is listed as draining", s.status)
during = ka_request(a, "/", b"during")
news = []
for _ in range(20):
    c = ka_connect(t)
    news.append(sockd_pid(ka_request(c)))
    c.close()
log = s.log()
check("keeps the connections it has for HandoverSec=3s" in log and "Stopping generation 1" not in log,
      "generation 1 keeps its connections for HandoverSec= and is not asked to stop yet", log)
check(during.startswith("pid=%s " % pid1), "its keep-alive connection is still answered by generation 1", during)
check(all(p and p != pid1 for p in news), "every connection opened meanwhile reaches generation 2 (%d of 20): generation 1 "
      "accepts none" % sum(1 for p in news if p and p != pid1), news)
check(s.wait_log("Stopping generation 1") and s.wait_log("Generation 1 (pid %s) exited" % pid1),
      "then generation 1 is asked to stop, and exits", s.log())
after = ka_request(a, "/", b"after")
check(sockd_pid(after) not in (None, pid1), "the connection it closed as idle goes on with generation 2", after + s.log())
a.close()
mark = len(s.lines)
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 3 and len(i["draining"]) == 1), "another swap: generation 2 hands over",
      s.status)
s.kill(SUSPEND)
check(s.wait_status(lambda i: i.get("queueing") and not i["draining"]), "a suspension during the handover", s.status)
# The status comes on the notify socket, the log on a pipe: wait for the lines too.
s.wait(lambda: all(re.search(r"Generation %d \(pid \d+\) (exited|was killed)" % n, "\n".join(s.lines[mark:])) for n in (2, 3)))
tail = "\n".join(s.lines[mark:])
exit3 = re.search(r"Generation 3 \(pid \d+\) (exited|was killed)", tail)
check(exit3 and 0 <= tail.find("Stopping generation 2") < exit3.start(),
      "cuts it short: generation 2 is asked to stop with generation 3, before that one has even exited", tail)
s.kill(RESUME)
check(s.wait_status(lambda i: serving_gen(i) == 4), "resumed, generation 4 serves", s.status)
mark = len(s.lines)
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 5 and len(i["draining"]) == 1), "a swap: generation 4 hands over",
      s.status)
rc = s.stop()
tail = "\n".join(s.lines[mark:])
exit5 = re.search(r"Generation 5 \(pid \d+\) (exited|was killed)", tail)
check(rc == 0 and exit5 and 0 <= tail.find("Stopping generation 4") < exit5.start(),
      "a worker that stops cuts the handover short too, and exits 0", "rc %s\n%s" % (rc, tail))
t.done()

# ---- handover: an app that polls before it accepts takes no new connection either ----
t = Test("handover-poll")
s = t.shim(extra=["--handover=3s"], with_preload=True)
check(s.wait_status(lambda i: serving_gen(i) == 1), "with --handover=3s, generation 1 of an app on poll() serves", s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 2 and len(i["draining"]) == 1), "a swap: generation 1 hands over",
      s.status)
answers = [t.get() for _ in range(10)]
check(all("generation=2 " in a for a in answers) and "Stopping generation 1" not in s.log(),
      "every request on a new connection reaches generation 2 while generation 1 hands over", answers)
s.stop()
t.done()

# ---- handover: an app that polls, then accepts on its blocking socket ----
# Python's socketserver, Ruby's IO.select: every generation polling the socket wakes for
# a connection, and the one that hands over must not wait in accept() for the next.
t = Test("handover-poll-accept")
t.set_flag("poll-accept")
t.set_flag("poll-accept.1", 0.5)  # generation 1 lets the other take the connection first
s = t.shim(extra=["--handover=3s"], with_preload=True)
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 of an app on poll() and a blocking accept() serves",
      s.log())
first = t.get()
check("generation=1 " in first, "it answers", first + s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 2 and len(i["draining"]) == 1), "a swap: generation 1 hands over",
      s.status)
taken = t.get()
check("generation=2 " in taken, "a new connection: generation 2 takes it, generation 1 woke for it too", taken)
time.sleep(0.7)  # generation 1 is past its pause and in accept()
answers = [t.get() for _ in range(10)]
check(all("generation=2 " in a for a in answers), "every later connection reaches generation 2", answers)
check(s.wait_log("accept: Software caused connection abort"),
      "generation 1's accept() after its poll() said the connection was gone instead of waiting for the next one",
      s.log())
check(s.wait(lambda: any("Generation 1 (pid " in l and " after " in l for l in s.lines), timeout=10) and
      "Generation 1 (pid " in s.log() and "exited with status 0 after draining" in s.log(),
      "generation 1 exits on its stop when the handover ends, not killed after StopTimeoutSec=", s.log())
s.stop()
t.done()

# ---- relays: what a generation hands over right before it exits is kept too ----
t = Test("relay-exit")
s = ka_shim(t, KEEPALIVE_STOP_STALL="1")
check(s.wait_status(lambda i: serving_gen(i) == 1), "an app that exits as soon as it closed its idle connections", s.log())
conns = [ka_connect(t) for _ in range(40)]
first = [ka_request(c) for c in conns]
pid1 = sockd_pid(first[0])
check(pid1 and all(a.startswith("pid=%s " % pid1) for a in first), "40 keep-alive connections to generation 1", first[0])
s.kill(signal.SIGHUP)
check(s.wait_log("keepalive[pid %s]: stalling" % pid1), "a swap: generation 1 is asked to stop, and stalls for 1 s",
      s.log())
# Sent while it stalls: it closes all 40 unread, hands them over and exits at once, with
# the last of them still queued on its notify socket.
for c in conns:
    c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nlast")
answers = [ka_answer(c) for c in conns]
for c in conns:
    c.close()
pids = {sockd_pid(a) for a in answers}
check(all(a.startswith("pid=") and "body=4" in a for a in answers) and pid1 not in pids,
      "every request is answered by generation 2: none of the connections it handed over on its way out is lost",
      "\n".join(sorted(set(answers)))[:2000] + s.log())
s.stop()
t.done()

# ---- relays: an answer the app wrote just before it handed a relayed connection back ----
t = Test("relay-answer")
# /slow is answered only once SIGTERM came: however slowly generation 3 boots, the answer
# is in flight when generation 2 is told to stop.
s = ka_shim(t, KEEPALIVE_SLOW="until-stop")
check(s.wait_status(lambda i: serving_gen(i) == 1), "a keep-alive app serves", s.log())
conns = [ka_connect(t) for _ in range(20)]
pid1 = sockd_pid(ka_request(conns[0]))
for c in conns[1:]:
    ka_request(c)
s.kill(signal.SIGHUP)
check(s.wait_log("Generation 1 (pid %s) exited" % pid1), "a swap: generation 1 hands its 20 idle connections over", s.log())
second = [ka_request(c) for c in conns]
pid2 = sockd_pid(second[0])
check(pid2 and pid2 != pid1 and all(a.startswith("pid=%s " % pid2) for a in second),
      "all 20 are relayed to generation 2", "\n".join(second[:3]))
mark = len(s.lines)
for c in conns:
    c.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
started = "keepalive[pid %s]: slow answer started" % pid2
check(s.wait(lambda: sum(started in l for l in s.lines[mark:]) == len(conns)),
      "generation 2 reads all 20 slow requests", s.log())
s.kill(signal.SIGHUP)
# Generation 2 finishes each slow answer, then closes the connection at once: the answer
# and the hand-over reach the shim together, in either order.
slow = [ka_answer(c) for c in conns]
check(all(a.startswith("pid=%s path=/slow" % pid2) for a in slow),
      "every answer generation 2 wrote right before it handed its relayed connection back reaches the client",
      "\n".join(sorted(set(slow)))[:2000] + s.log())
third = [ka_request(c, "/", b"3") for c in conns]
check(all(a.startswith("pid=") and sockd_pid(a) not in (pid1, pid2) for a in third),
      "and every connection goes on: the next requests reach generation 3", "\n".join(sorted(set(third)))[:2000])
for c in conns:
    c.close()
s.stop()
t.done()

# ---- the gate: an app that answers 503 while it boots never serves one ----
t = Test("gate")
port = free_port()
s = t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port], app=[sys.executable, tcpapp], with_preload=True,
           env={"TCPAPP_BIND": "127.0.0.1:%d" % port, "TCPAPP_BOOT": "2"})
check(s.wait_log("listening on"), "the app listens at once and boots for 2 s", s.log())
early = t.get(timeout=15)
check("status=ready" in early, "a request made while it boots waits, and is answered once it is ready: not 503",
      early + s.log())
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: "starting" in i), "a reload starts generation 2, which boots for 2 s", s.status)
replies = [t.get() for _ in range(10)]
check(all("status=ready" in r for r in replies), "meanwhile generation 1 answers every request, none gets a 503",
      "\n".join(replies))
check(s.wait_status(lambda i: serving_gen(i) == 2), "then generation 2 serves", s.status)
s.stop()
t.done()

# ---- the gate in asyncio's event loop (epoll), on fd 3 ----
t = Test("gate-asyncio")
s = t.shim(app=[sys.executable, keepalive], with_preload=True, env={"KEEPALIVE_BOOT": "1.5"})
check(s.wait_log("keepalive[pid"), "an asyncio app on fd 3 listens at once and answers 503 for 1.5 s", s.log())
c = ka_connect(t)
early = ka_request(c)
c.close()
check(early.startswith("pid=") and "booting" not in early,
      "asyncio: a request made while it boots is answered once it is ready, not with a 503", early + s.log())
s.stop()
t.done()

# ---- the gate in Node's event loop (epoll), on fd 3, and Listen= with a port ----
if node:
    t = Test("gate-node")
    app = os.path.join(t.dir, "boots.js")
    with open(app, "w") as f:
        f.write("""
const http = require('http');
let booting = true;
const server = http.createServer((q, r) => {
  r.writeHead(booting ? 503 : 200, { Connection: 'close' });
  r.end(`${booting ? 'booting' : 'ready'} gen=${process.env.SOCKD_GENERATION} peer=${q.socket.remoteAddress}` +
        ` port=${server.address() && server.address().port}\\n`);
});
const where = process.env.BOOTS_PORT ? { port: +process.env.BOOTS_PORT, host: '127.0.0.1' } : { fd: 3 };
server.listen(where, () => {
  console.log('node: listening, booting');
  setTimeout(() => { booting = false; process.send({ ready: true }); }, 1500);
});
process.on('message', (m) => { if (m === 'shutdown') server.close(() => process.exit(0)); });
""")
    for how, extra, env in (("on fd 3", [], {}),
                            ("with Listen=tcp", ["--listen=tcp:127.0.0.1:%d" % free_port()], None)):
        if env is None:
            env = {"BOOTS_PORT": extra[0].rsplit(":", 1)[1]}
        s = t.shim(ready="node-ipc", app=[node, app], with_preload=True,
                   extra=['--ready-message={"ready":true}', "--ready-timeout=10s"] + extra, env=env)
        check(s.wait_log("node: listening, booting"), "Node %s: the app listens at once and boots for 1.5 s" % how, s.log())
        reply = t.get(timeout=15)
        check("200 OK" in reply and "ready gen=" in reply,
              "Node %s: a request made while it boots is answered once it is ready, not with a 503" % how, reply)
        if how != "on fd 3":
            check("peer=127.0.0.1" in reply and "port=%s" % env["BOOTS_PORT"] in reply,
                  "Node with Listen=tcp: remoteAddress is loopback, server.address().port the port it asked for", reply)
        s.stop()
    t.done()

# ---- nodesockd's envelopes: {type: 'online', data}, answered with {type: 'shutdown'} ----
if node:
    t = Test("nodesockd")
    app = os.path.join(t.dir, "nsd.js")
    with open(app, "w") as f:
        f.write("""
const http = require('http');
const server = http.createServer((q, r) => r.end(`pid=${process.pid} id=${process.env.NODESOCKD_WORKER_ID} ` +
                                                 `app=${process.env.NODESOCKD_APP_NAME} path=${process.env.NODESOCKD_SOCKET_PATH}\\n`));
process.on('message', (m) => {
  console.log('nsd: got ' + JSON.stringify(m));
  if (m && m.type === 'shutdown') { process.channel.unref(); server.close(); }
});
server.listen(process.env.NODESOCKD_SOCKET_PATH, () =>
  process.send({ type: 'online', data: { id: process.env.NODESOCKD_WORKER_ID, pid: process.pid, suspended: false } }));
""")
    path = os.path.join(t.dir, "nsd.sock")
    s = t.shim(ready="node-ipc", app=[node, app], with_preload=True, extra=["--listen=unix:" + path, "--worker=0"])
    check(s.wait_status(lambda i: serving_gen(i) == 1), "an app that says {type: 'online', data: {...}} is ready", s.log())
    reply = t.get()
    check("id=0 app=ptest path=%s" % path in reply, "and got nodesockd's environment, its socket path adopted", reply)
    s.kill(signal.SIGHUP)
    check(s.wait_log('nsd: got {"type":"shutdown"}') and s.wait_log("Generation 1 (pid") and
          s.wait_status(lambda i: serving_gen(i) == 2 and not i["draining"]),
          "a swap sends the old generation {type: 'shutdown'}, which it understands, and it exits", s.log())
    s.stop()
    t.done()

# ---- Listen=auto; Listen=unix with chmod, stat and unlink of the path ----
t = Test("listen-auto")
port = free_port()
s = t.shim(extra=["--listen=auto"], ready="listen", app=[sys.executable, tcpapp], with_preload=True,
           env={"TCPAPP_BIND": "127.0.0.1:%d" % port})
check(s.wait_status(lambda i: serving_gen(i) == 1), "Listen=auto: the first socket the app listens on is adopted", s.log())
check("server=('127.0.0.1', %d)" % port in t.get() and tcp_refused(port), "and it serves on the worker's socket only")
s.stop()
t.done()

t = Test("listen-unix")
path = os.path.join(t.dir, "own", "app.sock")
os.makedirs(os.path.dirname(path))
s = t.shim(extra=["--listen=unix:" + path], ready="listen", app=[sys.executable, tcpapp], with_preload=True,
           env={"TCPAPP_BIND": path})
check(s.wait_status(lambda i: serving_gen(i) == 1), "Listen=unix: an app that binds %s serves" % path, s.log())
check(s.wait_log("bound %s, mode %o" % (path, os.stat(t.sock).st_mode & 0o777)),
      "its chmod() succeeds without touching the worker's socket, its stat() sees that socket", s.log())
check(not os.path.exists(path), "without a socket of its own there")
check("status=ready" in t.get(), "on the worker's socket")
rc = s.stop()
check(rc == 0 and "unlinked %s" % path in s.log() and os.path.exists(t.sock),
      "its unlink() of the path at exit works, and the worker's socket stays", s.log())
t.done()

# ---- refusals ----
t = Test("listen-never")
port, other = free_port(), free_port()
s = t.shim(extra=["--listen=tcp:127.0.0.1:%d" % port], ready="listen", app=[sys.executable, tcpapp], with_preload=True,
           env={"TCPAPP_BIND": "127.0.0.1:%d" % other})
rc = s.exit_status()
check(rc not in (0, None) and "did not bind Listen=tcp:127.0.0.1:%d within ReadyTimeoutSec=3s (it bound tcp:127.0.0.1:%d)"
      % (port, other) in s.log(), "an app that binds another port fails, and the message names what it bound", s.log())
t.done()

for program, why in (("/sbin/ldconfig", "is a static program"), ("/usr/bin/passwd", "is setuid")):
    if not os.path.exists(program):
        print("# SKIP: no %s here" % program)
        continue
    t = Test("refuse")
    s = t.shim(extra=["--listen=tcp:127.0.0.1:1"], ready="listen", app=[program], with_preload=True)
    rc = s.exit_status()
    check(rc == 78 and "Listen= needs sockd's preload library in the app, and '%s' %s" % (program, why) in s.log() and
          "accept on fd 3 instead" in s.log(), "Listen= with %s is refused (exit 78): %s" % (program, why), s.log())
    t.done()

# ---- a reload with settings: the unit as systemd has it loaded (config edits) ----
EXPECT_SETTINGS = signal.SIGURG
t = Test("settings")
s = t.shim(env={"PROTO_GREETING": "hello", "JOURNAL_STREAM": "8:1"})
check(s.wait_status(lambda i: serving_gen(i) == 1), "generation 1 serves", s.log())
check(s.wait_log("settings greeting=hello cwd=%s argv1=- journal=8:1" % os.getcwd()),
      "the first generation runs the shim's own environment and directory", s.log())
control = os.path.join(t.worker_dir, "control")
base = [os.path.abspath(spawn), "--reload", "--control=" + control, "--app=ptest", "--ready=notify", "--ready-timeout=3s",
        "--stop-timeout=4s", "--"]
workdir = os.path.join(t.dir, "elsewhere")
os.makedirs(workdir)


def reload_with(args, env, cwd, expect_rc=0):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET"))}
    e.update(env)
    r = subprocess.run(base[:3] + args, env=e, cwd=cwd, capture_output=True, text=True, timeout=30)
    return r


r = reload_with(base[3:] + [sys.executable, protoapp, "v2"],
                {"PROTO_GREETING": "bonjour", "PROTO_DIR": t.flags, "JOURNAL_STREAM": "9:9", "MAINPID": "1"}, workdir)
check(r.returncode == 0 and "is serving" in r.stderr, "sockd-spawn --reload with a command line swaps", r.stderr)
check(s.wait_status(lambda i: serving_gen(i) == 2), "and generation 2 serves", s.status)
check(s.wait_log("settings greeting=bonjour cwd=%s argv1=v2 journal=8:1" % workdir),
      "it runs the reload's command line, environment and directory; JOURNAL_STREAM stays the shim's", s.log())

# sockdctl's way: SIGURG, then the reload only hands over its settings; the prepare runs them.
mark = len(s.lines)
s.kill(EXPECT_SETTINGS)
r = reload_with(base[3:] + [sys.executable, protoapp, "v3"], {"PROTO_GREETING": "hallo", "PROTO_DIR": t.flags}, t.dir)
check(r.returncode == 0, "after SIGURG the reload returns at once", r.stderr)
check(s.wait_log("Got the unit's settings", start=mark) and serving_gen(parse_status(s.status)) == 2 and
      "Swapping:" not in "\n".join(s.lines[mark:]), "and swaps nothing: generation 2 still serves",
      s.status + "\n" + s.log())
s.kill(PREPARE)
check(s.wait_status(lambda i: "ready" in i), "a prepare then starts generation 3", s.status)
s.kill(COMMIT)
check(s.wait_status(lambda i: serving_gen(i) == 3), "which serves after the commit", s.status)
check(s.wait_log("settings greeting=hallo cwd=%s argv1=v3" % t.dir), "with the settings the reload brought", s.log())
# What the serving generation runs is what a crashed one restarts with: SIGHUP reuses it.
s.kill(signal.SIGHUP)
check(s.wait_status(lambda i: serving_gen(i) == 4), "a plain SIGHUP swap", s.status)
check(s.wait(lambda: s.log().count("settings greeting=hallo cwd=%s argv1=v3" % t.dir) == 2),
      "runs the serving generation's settings", s.log())

# What a new generation cannot apply is refused, and nothing swaps.
r = reload_with(["--app=ptest", "--backlog=17", "--"] + [sys.executable, protoapp], {"PROTO_DIR": t.flags}, t.dir)
check(r.returncode != 0 and "[Socket] Backlog= changed: a new generation cannot apply it, only a new socket does" in r.stderr,
      "a reload whose --backlog differs is refused, naming the config key", r.stderr)
check(s.wait_status(lambda i: "Backlog=" in i.get("failed", "")) and serving_gen(parse_status(s.status)) == 4,
      "generation 4 keeps serving, and the status says why", s.status)
# A refused reload after SIGURG ends the wait: the next reload swaps again.
s.kill(EXPECT_SETTINGS)
r = reload_with(["--app=ptest", "--socket=/elsewhere", "--"] + [sys.executable, protoapp], {"PROTO_DIR": t.flags}, t.dir)
check(r.returncode != 0 and "Directory= or Name= changed" in r.stderr, "an expected reload with another --socket is refused",
      r.stderr)
r = reload_with(base[3:] + [sys.executable, protoapp, "v5"], {"PROTO_GREETING": "ciao", "PROTO_DIR": t.flags}, t.dir)
check(r.returncode == 0 and s.wait_status(lambda i: serving_gen(i) == 5), "and the next reload swaps", r.stderr + s.status)
# A bare reload (a drop-in's ExecReload= without arguments) where settings are expected
# swaps nothing either.
mark = len(s.lines)
s.kill(EXPECT_SETTINGS)
r = subprocess.run(base[:3], capture_output=True, text=True, timeout=30)
check(r.returncode == 0 and s.wait_log("brings no settings", start=mark) and serving_gen(parse_status(s.status)) == 5 and
      "Swapping:" not in "\n".join(s.lines[mark:]), "a bare reload after SIGURG returns at once and swaps nothing",
      r.stderr + s.status)
# A SIGURG that no reload follows expires.
s.kill(EXPECT_SETTINGS)
check(s.wait_log("No settings came within 10s", timeout=15), "an expectation no reload meets ends after 10 s", s.log())
r = reload_with(base[3:] + [sys.executable, protoapp, "v6"], {"PROTO_GREETING": "hej", "PROTO_DIR": t.flags}, t.dir)
check(r.returncode == 0 and s.wait_status(lambda i: serving_gen(i) == 6), "then a reload swaps again", r.stderr)
check(s.stop() == 0, "stops cleanly", s.log())
t.done()

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
