"""The WSGI app most integration tests drive; one path per behaviour."""
import os
import time
from urllib.parse import parse_qs


def _qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = _qs(environ)

    if path == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello from drover\n"]

    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]

    if path == "/conn":
        # The client's port identifies the TCP connection: equal ports across
        # requests mean a kept-alive connection was reused.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%s %s" % (os.getpid(), environ.get("REMOTE_PORT", ""))).encode()]

    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("X-Body-Length", str(len(body)))])
        return [body]

    if path == "/error":
        raise RuntimeError("boom from the test app")

    if path == "/sleep":
        marker = q.get("marker")
        if marker:
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
        time.sleep(float(q.get("s", "1")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept\n"]

    if path == "/stream":
        n = int(q.get("n", "5"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (("chunk %d\n" % i).encode() for i in range(n))

    if path == "/environ":
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return ["\n".join("%s=%s" % (k, v) for k, v in sorted(environ.items()) if isinstance(v, str)).encode("utf-8", "surrogateescape")]

    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


def whoami(environ, start_response):
    """Reports the worker's uid and gid."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%d %d" % (os.getuid(), os.getgid())).encode()]
