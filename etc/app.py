"""The example WSGI application served by `make run`.

It needs nothing but the standard library; see tests/integration/apps for
the applications the tests use.
"""
import html
import os


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        body = (
            "<!doctype html><title>drover</title>"
            "<h1>Hello from drover</h1>"
            "<p>Served by worker pid {pid} over {proto}.</p>"
            "<p>Try <a href=\"/environ\">/environ</a>.</p>"
        ).format(pid=os.getpid(), proto=html.escape(environ.get("SERVER_PROTOCOL", "")))
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]
    if path == "/environ":
        lines = ["{} = {!r}".format(k, v) for k, v in sorted(environ.items())]
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return ["\n".join(lines).encode() + b"\n"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
