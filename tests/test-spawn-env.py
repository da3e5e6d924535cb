#!/usr/bin/python3
"""sockd-spawn outside systemd: it refuses every environment that is not one listening
UNIX stream socket passed for this very process, each time saying what is wrong, and it
runs an app when run by hand under systemd-socket-activate-like conditions.

Usage: test-spawn-env.py SOCKD_SPAWN APP.py   (no root needed)"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

spawn, app = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(cond, desc, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + desc)
    else:
        failed += 1
        print("not ok - " + desc)
        if detail:
            print("#   " + detail.replace("\n", "\n#   "))


def run(fds, env_extra, listen_pid="self", args=None):
    """Runs sockd-spawn with @fds placed at 3, 4, ...; LISTEN_PID is its own pid
    unless @listen_pid says otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET", "RUNTIME_DIRECTORY"))}
    env.update(env_extra)
    fd_nums = [f.fileno() for f in fds]

    def child():
        # Move the fds to 3.. in the child, as systemd does.
        dups = [os.dup(n) for n in fd_nums]
        for i, d in enumerate(dups):
            os.dup2(d, 3 + i)

    cmd = [spawn, "--app=envtest"] + (args or ["--", sys.executable, app])
    if listen_pid == "self":
        # exec keeps the shell's pid: LISTEN_PID is sockd-spawn's own.
        cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + cmd
    p = subprocess.Popen(cmd, env=env, preexec_fn=child, close_fds=False,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return p.returncode, out


def listening_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


tmp = tempfile.mkdtemp(prefix="sockd-spawn-env.")

# No LISTEN_FDS at all: run by hand.
rc, out = run([], {})
check(rc != 0 and "No socket was passed ($LISTEN_FDS is not set)" in out,
      "refuses to run without LISTEN_FDS and says how to run it", out)
check("systemd-socket-activate" in out, "the message points at systemd-socket-activate", out)

# LISTEN_FDS without LISTEN_PID.
rc, out = run([], {"LISTEN_FDS": "1"}, listen_pid="unset")
check(rc != 0 and "$LISTEN_PID is not set" in out, "refuses LISTEN_FDS without LISTEN_PID", out)

# LISTEN_PID of another process.
s = listening_unix(os.path.join(tmp, "a.sock"))
rc, out = run([s], {"LISTEN_FDS": "1", "LISTEN_PID": "1"}, listen_pid="given")
check(rc != 0 and "$LISTEN_PID=1 is not this process" in out, "refuses sockets meant for another pid", out)

# A TCP socket.
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind(("127.0.0.1", 0))
t.listen(4)
rc, out = run([t], {"LISTEN_FDS": "1"})
check(rc != 0 and "is not a UNIX socket" in out and "TCP/IPv4" in out, "refuses a TCP socket", out)

# A datagram socket.
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d.bind(os.path.join(tmp, "d.sock"))
rc, out = run([d], {"LISTEN_FDS": "1"})
check(rc != 0 and "is not a stream socket (datagram)" in out, "refuses a datagram socket", out)

# A stream socket that is not listening.
n = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
n.bind(os.path.join(tmp, "n.sock"))
rc, out = run([n], {"LISTEN_FDS": "1"})
check(rc != 0 and "is not listening" in out, "refuses a socket that is not listening", out)

# Not a socket at all.
with open(os.devnull) as f:
    rc, out = run([f], {"LISTEN_FDS": "1"})
check(rc != 0 and "is not a socket" in out, "refuses an fd that is not a socket", out)

# Two sockets.
s2 = listening_unix(os.path.join(tmp, "b.sock"))
rc, out = run([s, s2], {"LISTEN_FDS": "2"})
check(rc != 0 and "Got 2 sockets" in out and "expected exactly one" in out, "refuses two sockets", out)

# A worker index beyond Workers=.
rc, out = run([s], {"LISTEN_FDS": "1"}, args=["--worker=3", "--workers=3", "--", sys.executable, app])
check(rc != 0 and "Worker 3 does not exist: the app has 3 workers (0..2)" in out, "refuses a worker beyond --workers", out)

# A relative command.
rc, out = run([s], {"LISTEN_FDS": "1"}, args=["--", "python3", app])
check(rc != 0 and "must be an absolute path" in out, "refuses a relative command", out)

# A command that cannot be executed: the worker fails with a reason.
rc, out = run([s], {"LISTEN_FDS": "1"}, args=["--", "/nonexistent/app"])
check(rc != 0 and "Failed to execute '/nonexistent/app': No such file or directory" in out,
      "an app that cannot be executed fails the worker with the reason", out)

# By hand, properly: one listening socket; the app serves, SIGTERM stops everything.
env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET", "RUNTIME_DIRECTORY"))}
env["LISTEN_FDS"] = "1"
env["XDG_RUNTIME_DIR"] = tmp


def child():
    os.dup2(os.dup(s.fileno()), 3)


p = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", spawn, "--app=byhand", "--", sys.executable, app],
                     env=env, preexec_fn=child, close_fds=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
reply = ""
for _ in range(100):
    try:
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(5)
        c.connect(os.path.join(tmp, "a.sock"))
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while True:  # Connection: close: read to the end
            chunk = c.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
        c.close()
        break
    except OSError:
        time.sleep(0.05)
check("app=byhand worker=0 generation=1" in reply, "run by hand, the app serves on the passed socket", reply)
p.send_signal(signal.SIGTERM)
out, _ = p.communicate(timeout=20)
check(p.returncode == 0 and "All generations are gone, exiting with status 0" in out, "SIGTERM stops it cleanly", out)
leftover = [e for e in os.listdir(tmp) if e.startswith("sockd-spawn.")]
check(leftover == [], "its private runtime directory is removed", str(leftover))

# Local development as README shows it: systemd-socket-activate binds the socket.
activate = shutil.which("systemd-socket-activate")
if activate:
    path = os.path.join(tmp, "dev.sock")
    p = subprocess.Popen([activate, "-l", path, spawn, "--app=dev", "--", sys.executable, app], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reply = ""
    for _ in range(100):
        try:
            c = socket.socket(socket.AF_UNIX)
            c.settimeout(5)
            c.connect(path)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b"".join(iter(lambda: c.recv(4096), b"")).decode()
            c.close()
            if reply:
                break
        except OSError:
            time.sleep(0.05)
    check("app=dev worker=0 generation=1" in reply, "under systemd-socket-activate (local development) the app serves", reply)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    check(p.returncode == 0, "and stops cleanly on SIGTERM", out)
else:
    print("# SKIP: systemd-socket-activate not installed")

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
