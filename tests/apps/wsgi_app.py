# A WSGI app for gunicorn, as gunicorn's docs write one. Nothing in it knows about
# sockd: the test runs `gunicorn -b 127.0.0.1:8001` with Listen=.
import os


def app(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    text = "app=gunicorn pid=%d ip=%s port=%s method=%s body=%d\n" % (
        os.getpid(), environ.get("REMOTE_ADDR", "-"), environ.get("SERVER_PORT", "-"),
        environ["REQUEST_METHOD"], len(body))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]
