"""The WSGI app behind the nginx/Apache/cgi-fcgi and raw FastCGI/SCGI tests.

Routes on PATH_INFO, so it answers the same whether drover mounted it under
script_name or not."""
import json
import os
import time
from urllib.parse import parse_qs


def _qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _touch(path, text):
    # Written then renamed: a test polling for the file never reads it half-written.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class _Stream:
    """A response iterable that records its close() in a marker file."""

    def __init__(self, n, delay, marker, gate):
        self.n = n
        self.delay = delay
        self.marker = marker
        self.gate = gate
        self.sent = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.sent >= self.n:
            raise StopIteration
        if self.sent and self.delay:
            time.sleep(self.delay)
        if self.sent == 1 and self.gate:
            # The test opens the gate once it has read chunk 0, which proves
            # the frontend passed it on before the response was complete.
            deadline = time.monotonic() + 30
            while not os.path.exists(self.gate):
                if time.monotonic() > deadline:
                    self.sent = self.n  # ends the stream: the test sees it cut short
                    return b"gate never opened\n"
                time.sleep(0.01)
        self.sent += 1
        return ("chunk %d\n" % (self.sent - 1)).encode()

    def close(self):
        if self.marker:
            _touch(self.marker, "closed after %d chunks" % self.sent)


def application(environ, start_response):
    # The last segment routes, so a frontend location such as /tls/ or a
    # mount such as /app/ reaches the same handlers.
    path = "/" + environ["PATH_INFO"].rsplit("/", 1)[-1]
    q = _qs(environ)

    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]

    if path == "/environ":
        env = {k: v for k, v in environ.items() if isinstance(v, str)}
        env["wsgi.url_scheme"] = environ["wsgi.url_scheme"]
        body = json.dumps(env, sort_keys=True).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("X-Body-Length", str(len(body)))])
        return [body]

    if path == "/error":
        raise RuntimeError("boom from fe_app")

    if path == "/bodyless":
        # A conditional GET's answer: the length the 200 would have, no body.
        status = q.get("status", "304")
        headers = [("ETag", '"v1"'), ("Content-Length", q.get("length", "120"))]
        start_response({"304": "304 Not Modified", "204": "204 No Content"}[status], headers)
        return []

    if path == "/stream":
        # No Content-Length: the frontend gets the body as it is produced.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _Stream(int(q.get("n", "5")), float(q.get("delay", "0")), q.get("marker"), q.get("gate"))

    if path == "/sleep":
        started = q.get("started")
        if started:
            _touch(started, str(os.getpid()))
        time.sleep(float(q.get("s", "1")))
        done = q.get("done")
        if done:
            _touch(done, str(os.getpid()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("slept %s\n" % os.getpid()).encode()]

    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
