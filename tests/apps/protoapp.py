#!/usr/bin/python3
"""A Ready=notify app for the shim's protocol tests, standard library only, that
misbehaves on request. Flag files in $PROTO_DIR switch behaviours on, named FLAG (every
generation), FLAG.GEN (generation GEN only), FLAG.wN (worker N only) or FLAG.wN.GEN; a
file's content is its argument:

  fail           exit 3 at start
  hang           serve, but never say READY=1
  slow           wait ARG seconds (default 2) before READY=1
  big-status     send a STATUS= of ARG bytes (default 5000) after READY=1
  spoof          once ready, send READY=1 to the notify socket of the next generation
                 until it exists, for ARG seconds (default 5)
  helper         fork a helper that keeps serving on fd 3 for ARG seconds (default 3)
                 and ignores SIGTERM; the app itself exits at once on SIGTERM
  crash          exit 5 ARG seconds (default 1) after READY=1
  poll-accept    serve as Python's socketserver does, on the blocking socket: poll()
                 until a connection waits, then accept(); ARG seconds (default 0)
                 between the two, for another generation to take the connection first

Answers every request with "generation=N pid=P fds=LIST", LIST being the fds open
above 2. SIGTERM, SIGINT, SIGQUIT or SIGUSR1: stop accepting and exit. Started held (SOCKD_SUSPENDED=1): accept, but
answer only after SIGUSR2."""
import os
import select
import signal
import socket
import sys
import threading
import time

gen = os.environ.get("SOCKD_GENERATION", "0")
flags_dir = os.environ.get("PROTO_DIR", "/nonexistent")


def flag(name, default=None):
    w = "w" + os.environ.get("SOCKD_WORKER", "0")
    for f in ("%s.%s.%s" % (name, w, gen), "%s.%s" % (name, gen), "%s.%s" % (name, w), name):
        path = os.path.join(flags_dir, f)
        if os.path.exists(path):
            with open(path) as fh:
                text = fh.read().strip()
            return float(text) if text else default
    return None


def log(msg):
    print("protoapp[gen %s pid %d]: %s" % (gen, os.getpid(), msg), flush=True)


def notify(msg, path=None):
    path = path or os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.sendall(msg.encode())


def open_fds():
    fds = []
    for fd in range(3, 256):
        try:
            os.fstat(fd)
            fds.append(str(fd))
        except OSError:
            pass
    return ",".join(fds)


if flag("fail", 0) is not None:
    # with a terminal escape in it: whoever shows this line must not obey it
    log("failing at start on purpose \x1b]0;retitled\x07")
    sys.exit(3)

fds_at_start = open_fds()
listener = socket.socket(fileno=3)
resumed = threading.Event()
if os.environ.get("SOCKD_SUSPENDED") != "1":
    resumed.set()
signal.signal(signal.SIGUSR2, lambda *a: resumed.set())
stopping = threading.Event()
me = "generation=%s pid=%d" % (gen, os.getpid())


def answer(conn, who):
    try:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        resumed.wait()
        body = ("%s fds=%s\n" % (who, fds_at_start)).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    finally:
        conn.close()


def serve(who, until=None):
    listener.settimeout(0.2)
    while not stopping.is_set() and (until is None or time.time() < until):
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        threading.Thread(target=answer, args=(conn, who), daemon=True).start()


def serve_polled(who, pause):
    listener.setblocking(True)
    # A signal ends the poll() below (Python would retry it): what the handler
    # writes here wakes it.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while not stopping.is_set():
        ready = [fd for fd, _ in poller.poll()]
        if wake_r in ready:
            os.read(wake_r, 64)
        if listener.fileno() not in ready:
            continue
        time.sleep(pause)
        try:
            conn, _ = listener.accept()
        except OSError as e:
            log("accept: %s" % e.strerror)
            continue
        threading.Thread(target=answer, args=(conn, who), daemon=True).start()


helper_for = flag("helper", 3)
if helper_for is not None and os.fork() == 0:
    # The helper: same process group, same socket, deaf to SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    me = "helper of generation=%s pid=%d" % (gen, os.getpid())
    log("helper serving for %gs" % helper_for)
    serve(me, time.time() + helper_for)
    log("helper exiting")
    os._exit(0)


def on_term(signum, frame):
    log("got %s" % signal.Signals(signum).name)
    stopping.set()


# Whichever the shim stops it with (--stop-signal): a graceful stop.
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1):
    signal.signal(sig, on_term)

slow = flag("slow", 2)
if slow is not None:
    time.sleep(slow)
if "PROTO_GREETING" in os.environ:
    # What a reload with settings gave it (the config-edit checks).
    log("settings greeting=%s cwd=%s argv1=%s journal=%s" % (
        os.environ["PROTO_GREETING"], os.getcwd(), sys.argv[1] if len(sys.argv) > 1 else "-",
        os.environ.get("JOURNAL_STREAM", "-")))
if flag("hang", 0) is None:
    notify("READY=1\nSTATUS=protoapp ready")
    log("ready")
    if os.environ.get("WATCHDOG_USEC"):
        # What sd_watchdog_enabled(3) reads, then one ping.
        log("watchdog usec=%s pid=%s" % (os.environ["WATCHDOG_USEC"], os.environ.get("WATCHDOG_PID")))
        notify("WATCHDOG=1")
else:
    log("serving, but never ready on purpose")
big = flag("big-status", 5000)
if big is not None:
    notify("STATUS=" + "x" * int(big))

spoof = flag("spoof", 5)
if spoof is not None:
    def spoofer():
        target = os.environ["NOTIFY_SOCKET"].rsplit(".", 1)[0] + ".%d" % (int(gen) + 1)
        deadline = time.time() + spoof
        sent = 0
        while time.time() < deadline:
            try:
                notify("READY=1", target)
                sent += 1
            except OSError:
                pass
            time.sleep(0.05)
        log("spoofer sent %d READY=1 to %s" % (sent, target))
    threading.Thread(target=spoofer, daemon=True).start()

crash = flag("crash", 1)
if crash is not None:
    def crasher():
        time.sleep(crash)
        log("crashing on purpose")
        os._exit(5)
    threading.Thread(target=crasher, daemon=True).start()

poll_pause = flag("poll-accept", 0)
if poll_pause is not None:
    serve_polled(me, poll_pause)
else:
    serve(me)
log("stopped accepting, exiting")
