#!/usr/bin/python3
"""An app that knows nothing of sockd: it binds its own address, as most apps do, with the
standard library's HTTP server, and answers with what it sees of its world.

  TCPAPP_BIND=HOST:PORT   bind that TCP address (default 127.0.0.1:8000)
  TCPAPP_BIND=/PATH       bind a UNIX socket at PATH; then chmod, stat and, at exit,
                          unlink it, as servers do
  TCPAPP_ADMIN=HOST:PORT  also bind a second, different address (an admin port)
  TCPAPP_BACKLOG=N        the backlog it asks listen() for (default 5)
  TCPAPP_BOOT=SECONDS     answer 503 for that long after it listens, then say READY=1 on
                          $NOTIFY_SOCKET if there is one (an app that boots slowly)

Every answer: "status=booting|ready server=ADDRESS client=ADDRESS nodelay=ok|error"."""
import http.server
import os
import socket
import sys
import threading
import time

bind = os.environ.get("TCPAPP_BIND", "127.0.0.1:8000")
booting = threading.Event()
boot = float(os.environ.get("TCPAPP_BOOT", "0"))
if boot > 0:
    booting.set()


def log(msg):
    print("tcpapp[pid %d]: %s" % (os.getpid(), msg), flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            nodelay = "ok"
        except OSError as e:
            nodelay = "error:%s" % e.errno
        status = 503 if booting.is_set() else 200
        body = ("status=%s server=%s client=%s nodelay=%s pid=%d\n" % (
            "booting" if status == 503 else "ready", self.server.server_address, self.client_address, nodelay,
            os.getpid())).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = int(os.environ.get("TCPAPP_BACKLOG", "5"))

    def server_bind(self):
        if self.address_family == socket.AF_UNIX:
            if os.path.exists(self.server_address):
                os.unlink(self.server_address)
            self.socket.bind(self.server_address)
            os.chmod(self.server_address, 0o660)
            log("bound %s, mode %o" % (self.server_address, os.stat(self.server_address).st_mode & 0o777))
        else:
            super().server_bind()
            log("bound %s" % (self.socket.getsockname(),))


class UnixServer(Server):
    address_family = socket.AF_UNIX


if bind.startswith("/"):
    server = UnixServer(bind, Handler)
else:
    host, port = bind.rsplit(":", 1)
    server = Server((host, int(port)), Handler)

admin = os.environ.get("TCPAPP_ADMIN")
if admin:
    host, port = admin.rsplit(":", 1)
    admin_server = Server((host, int(port)), Handler)
    threading.Thread(target=admin_server.serve_forever, daemon=True).start()

threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
log("listening on %s" % (server.server_address,))
if boot > 0:
    time.sleep(boot)
    booting.clear()
    if os.environ.get("NOTIFY_SOCKET"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(os.environ["NOTIFY_SOCKET"])
            s.sendall(b"READY=1")
    log("booted")

stop = threading.Event()
import signal  # noqa: E402
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
server.shutdown()
if bind.startswith("/"):
    os.unlink(bind)
    log("unlinked %s" % bind)
log("stopped")
