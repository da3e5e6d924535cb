#!/usr/bin/python3
"""A sockd app in Python, standard library only (Ready=notify).

- serves HTTP on fd 3, the listening socket sockd-spawn passes (LISTEN_FDS=1);
- says READY=1 on $NOTIFY_SOCKET once it can serve;
- on SIGTERM drains: stops accepting (the next generation accepts on the same socket),
  answers what is in flight with "Connection: close", leaves idle keep-alive
  connections for nginx to close, and exits when the last one is gone;
- started held (SOCKD_SUSPENDED=1, Suspend=hold) it accepts requests but answers them
  only after SIGUSR2 (sockdctl resume).
Every answer names the app, worker, generation and pid that served it."""
import http.server
import os
import signal
import socket
import sys
import threading
import time

def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.sendall(msg.encode())

if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    sys.exit("app.py: expected exactly one socket on fd 3 for this pid")

draining = threading.Event()
# Started held (Suspend=hold, SOCKD_SUSPENDED=1): accept, but answer nothing until
# SIGUSR2 says the migration is done. A held request is not handled: it waits here.
resumed = threading.Event()
if os.environ.get("SOCKD_SUSPENDED") != "1":
    resumed.set()
signal.signal(signal.SIGUSR2, lambda signum, frame: resumed.set())
connections = threading.Condition()
open_connections = 0
ident = "app=%s worker=%s generation=%s pid=%d" % (
    os.environ["SOCKD_APP"], os.environ["SOCKD_WORKER"], os.environ["SOCKD_GENERATION"], os.getpid())

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global open_connections
        with connections:
            open_connections += 1
        super().setup()

    def finish(self):
        global open_connections
        super().finish()
        with connections:
            open_connections -= 1
            connections.notify_all()

    def reply(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        resumed.wait()
        # served= is when this code handled it: the tests compare it with when
        # sockdctl's suspend and resume returned.
        body = ("%s served=%.6f\n" % (ident, time.time())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        # While draining, tell the client (nginx) not to reuse this connection: it
        # must not race us closing an idle keep-alive connection.
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    do_GET = reply
    do_POST = reply

    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

server = Server(("", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)

def on_term(signum, frame):
    draining.set()
    notify("STOPPING=1")
    # shutdown() waits for serve_forever(): call it from another thread.
    threading.Thread(target=server.shutdown).start()

signal.signal(signal.SIGTERM, on_term)

notify("READY=1\nSTATUS=serving")
print("app.py: %s ready" % ident, flush=True)
server.serve_forever(poll_interval=0.2)
# Drain: in-flight requests finish and are answered with Connection: close; idle
# keep-alive connections are left for nginx to close (its upstream keepalive_timeout),
# never closed from here, so nginx cannot race us reusing one.
with connections:
    connections.wait_for(lambda: open_connections == 0)
print("app.py: %s drained, exiting" % ident, flush=True)
