# An ASGI app for uvicorn, as any uvicorn tutorial writes one. Nothing in it knows
# about sockd: the test runs it with `uvicorn --fd 3` and with `uvicorn --port`.
import os


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    client = scope.get("client") or ("-", 0)
    server = scope.get("server") or ("-", 0)
    text = "app=uvicorn pid=%d ip=%s port=%s method=%s body=%d\n" % (
        os.getpid(), client[0], server[1] if len(server) > 1 else "-", scope["method"], len(body))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})
