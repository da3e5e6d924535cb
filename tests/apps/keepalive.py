#!/usr/bin/python3
"""An HTTP/1.1 keep-alive server that knows nothing of sockd, and stops the way uvicorn,
Puma and Node >= 19 do: on SIGTERM it closes its listening socket, closes every
connection it holds idle at once, lets the busy ones finish their answer, then exits.

  KEEPALIVE_BIND=HOST:PORT   bind that TCP address (with Listen=); else serve fd 3
  KEEPALIVE_SLOW=SECONDS     take that long over an answer whose path is /slow; with
                             "until-stop", hold it until SIGTERM (an answer in flight when
                             the stop comes, however slowly the stop comes)
  KEEPALIVE_BOOT=SECONDS     answer 503 for that long after it listens, then say READY=1
                             on $NOTIFY_SOCKET if there is one (an app that warms up)
  KEEPALIVE_STOP_STALL=SECONDS on SIGTERM, block that long before it closes its idle
                             connections: requests sent meanwhile are closed unread, and it
                             exits right after

Every answer: "pid=PID path=PATH body=N", with Content-Length, keep-alive."""
import asyncio
import os
import signal
import socket
import sys
import time

idle = set()
busy = set()
stopping = False
booting = False
stop_requested = None  # asyncio.Event, set on SIGTERM


async def serve(reader, writer):
    idle.add(writer)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            idle.discard(writer)
            busy.add(writer)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if path == "/slow":
                # For tests that must know the request was read before they go on.
                print("keepalive[pid %d]: slow answer started" % os.getpid(), flush=True)
                slow = os.environ.get("KEEPALIVE_SLOW", "1")
                if slow == "until-stop":
                    await stop_requested.wait()
                else:
                    await asyncio.sleep(float(slow))
            text = ("pid=%d path=%s body=%d%s\n" % (os.getpid(), path, len(body), " booting" if booting else "")).encode()
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (
                b"503 Service Unavailable" if booting else b"200 OK", len(text), text))
            await writer.drain()
            busy.discard(writer)
            if stopping:
                break  # a busy connection, done: closed after its answer
            idle.add(writer)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        idle.discard(writer)
        busy.discard(writer)
        writer.close()


async def main():
    global stopping, booting, stop_requested
    stop_requested = asyncio.Event()
    bind = os.environ.get("KEEPALIVE_BIND")
    if bind:
        host, port = bind.rsplit(":", 1)
        server = await asyncio.start_server(serve, host, int(port))
    else:
        server = await asyncio.start_server(serve, sock=socket.socket(fileno=3))
    print("keepalive[pid %d]: serving" % os.getpid(), flush=True)
    boot = float(os.environ.get("KEEPALIVE_BOOT", "0"))
    if boot > 0:
        booting = True
        await asyncio.sleep(boot)
        booting = False
        if os.environ.get("NOTIFY_SOCKET"):
            n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            n.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
            n.close()

    def on_sigterm():
        global stopping
        stopping = True  # before any answer held for the stop goes out
        stop_requested.set()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    await stop_requested.wait()
    stall = float(os.environ.get("KEEPALIVE_STOP_STALL", "0"))
    if stall > 0:
        print("keepalive[pid %d]: stalling for %g s" % (os.getpid(), stall), flush=True)
        time.sleep(stall)  # blocks the loop: nothing is read meanwhile
    server.close()
    for w in list(idle):
        w.close()  # what uvicorn and Node do: idle ones go at once
    print("keepalive[pid %d]: closed %d idle connections" % (os.getpid(), len(idle)), flush=True)
    while busy:
        await asyncio.sleep(0.05)
    print("keepalive[pid %d]: stopped" % os.getpid(), flush=True)


asyncio.run(main())
sys.exit(0)
