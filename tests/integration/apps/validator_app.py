"""The PEP 3333 conformance app: every route runs inside
wsgiref.validate.validator (with its warnings turned into errors), so a
bridge that hands the app a wrong environ, input or start_response fails the
request instead of passing unnoticed.

Routes under /raw/ bypass the validator on purpose, each for a reason the
validator itself causes: it wraps the returned iterable (which hides a list's
length and a wsgi.file_wrapper from the server, so the Content-Length fast
path and sendfile cannot be observed through it) and it refuses CR/LF in
header values itself (so the server's own header validation would never be
reached).

Query parameters: `log=PATH` makes the response iterable append what happens
to it ("exhausted", "close") to PATH, so a test can assert close() was called
exactly once; `dump=environ` on any path answers the environ as JSON.
"""
import hashlib
import io
import json
import os
import random
import sys
import time
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

# A warning from the validator is a failed request, not a line nobody reads.
warnings.simplefilter("error", WSGIWarning)

CHUNK = 64 * 1024


def _qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _record(path, text):
    if path:
        with open(path, "a") as f:
            f.write(text)


def pattern_bytes(size, seed):
    """Deterministic bytes the test can compute too."""
    return random.Random(seed).randbytes(size)


class RecordedBody:
    """An iterable whose end and close() are appended to a file."""

    def __init__(self, chunks, log_path, fail_at=None):
        self.chunks = chunks
        self.log_path = log_path
        self.fail_at = fail_at

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failing mid-iteration on purpose")
            yield chunk
        _record(self.log_path, "exhausted\n")

    def close(self):
        _record(self.log_path, "close\n")


class CountingFile:
    """A real file (fileno() works) that counts reads done through Python."""

    def __init__(self, path, log_path):
        self.file = open(path, "rb")
        self.log_path = log_path
        self.reads = 0

    def fileno(self):
        return self.file.fileno()

    def tell(self):
        return self.file.tell()

    def seek(self, *args):
        return self.file.seek(*args)

    def read(self, *args):
        self.reads += 1
        return self.file.read(*args)

    def close(self):
        _record(self.log_path, "python reads: %d\nclose\n" % self.reads)
        self.file.close()


def raw_input(environ):
    """The server's wsgi.input (the validator's wrapper allows only read(n))."""
    stream = environ["wsgi.input"]
    return getattr(stream, "input", stream)


def read_body(environ, method):
    stream = environ["wsgi.input"]
    if method == "read":
        return raw_input(environ).read()
    if method == "read_none":
        return raw_input(environ).read(None)
    if method == "read_n":
        parts = []
        while True:
            part = stream.read(1000)
            if not part:
                return b"".join(parts)
            parts.append(part)
    if method == "read_length":
        return stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    if method == "readline":
        parts = []
        while True:
            line = stream.readline()
            if not line:
                return b"".join(parts)
            assert line.endswith(b"\n") or not stream.readline(), "readline() returned a partial line mid-body"
            parts.append(line)
    if method == "readline_n":
        parts = []
        while True:
            line = stream.readline(7)
            if not line:
                return b"".join(parts)
            assert len(line) <= 7, "readline(7) returned %d bytes" % len(line)
            parts.append(line)
    if method == "readlines":
        return b"".join(stream.readlines())
    if method == "readlines_hint":
        lines = stream.readlines(10)
        return b"".join(lines + list(stream))
    if method == "iter":
        return b"".join(line for line in stream)
    raise ValueError("unknown read method %r" % method)


def environ_json(environ):
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    out["wsgi.version"] = list(environ["wsgi.version"])
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated"):
        out[key] = environ.get(key, "missing")
    out["wsgi.file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    for key in ("wsgi.input", "wsgi.errors"):
        stream = environ[key]
        stream = getattr(stream, "input", getattr(stream, "errors", stream))
        out[key] = sorted(m for m in ("read", "readline", "readlines", "__iter__", "write", "writelines", "flush")
                          if hasattr(stream, m))
    # ensure_ascii keeps latin-1 "bytes as str" exact across the JSON.
    return json.dumps(out, sort_keys=True).encode("ascii")


def text(start_response, body, status="200 OK", extra=()):
    body = body if isinstance(body, bytes) else body.encode()
    start_response(status, [("Content-Type", "text/plain")] + list(extra))
    return [body]


def checked_app(environ, start_response):
    path = environ["PATH_INFO"]
    q = _qs(environ)
    log_path = q.get("log")

    if q.get("dump") == "environ":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [environ_json(environ)]

    if path == "/pid":
        return text(start_response, str(os.getpid()))

    if path == "/echo":
        body = read_body(environ, q.get("method", "read"))
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("X-Body-Length", str(len(body))),
                                  ("X-Body-Sha256", hashlib.sha256(body).hexdigest())])
        return [body]

    if path == "/sha256":
        # For large uploads: only the digest comes back.
        _record(q.get("started"), "reading\n")
        digest = hashlib.sha256()
        stream = environ["wsgi.input"]
        size = 0
        while True:
            part = stream.read(CHUNK)
            if not part:
                break
            size += len(part)
            digest.update(part)
        _record(log_path, "app ran\n")
        return text(start_response, "%d %s" % (size, digest.hexdigest()))

    if path == "/stream":
        n = int(q.get("n", "3"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (("part %d\n" % i).encode() for i in range(n))

    if path == "/stream_wait":
        # Proves streaming: the second part is produced only once the client,
        # having received the first, creates the marker file.
        marker = q["marker"]

        def parts():
            yield b"first part\n"
            deadline = time.monotonic() + 20
            while not os.path.exists(marker):
                if time.monotonic() > deadline:
                    yield b"the client never saw the first part\n"
                    return
                time.sleep(0.01)
            yield b"second part\n"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return parts()

    if path == "/write":
        n = int(q.get("n", "3"))
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        for i in range(n):
            write(("written %d\n" % i).encode())
        return [b"returned\n"] if q.get("tail") else []

    if path == "/exc_before":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First-Call", "yes")])
        try:
            raise ValueError("failure before any body byte")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("X-Handled", "yes")],
                           sys.exc_info())
        return [b"handled by exc_info\n"]

    if path == "/exc_after":
        def parts():
            yield b"first part\n"
            try:
                raise ValueError("late failure after the head went out")
            except ValueError:
                # PEP 3333: with the head out, this re-raises.
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
            yield b"never sent\n"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return RecordedBody(parts(), log_path)

    if path == "/close":
        mode = q.get("mode", "normal")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        if mode == "normal":
            return RecordedBody([b"one\n", b"two\n"], log_path)
        if mode == "raise":
            return RecordedBody([b"one\n", b"two\n", b"three\n"], log_path, fail_at=1)
        if mode == "disconnect":
            # Far more than socket buffers hold: the server must notice the
            # client left long before the end.
            return RecordedBody((b"x" * CHUNK for _ in range(16 * 1024)), log_path)

    if path == "/errors":
        errors = environ["wsgi.errors"]
        errors.write("wsgi.errors line one\n")
        errors.writelines(["wsgi.errors line two\n", "wsgi.errors line three, "])
        errors.write("finished later\n")
        errors.write("wsgi.errors unterminated")
        errors.flush()
        return text(start_response, str(os.getpid()))

    if path == "/file":
        # Through the validator: the wrapper is hidden, so this is iterated.
        wrapper = environ["wsgi.file_wrapper"]
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper(open(q["path"], "rb"), 32 * 1024)

    if path == "/upload_form":
        # A multipart body parsed by the standard library's email parser.
        import email.parser
        import email.policy
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        head = "Content-Type: %s\r\n\r\n" % environ["CONTENT_TYPE"]
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head.encode() + body)
        parts = ["%s %d %s" % (p.get_param("name", header="content-disposition"),
                               len(p.get_payload(decode=True)),
                               hashlib.sha256(p.get_payload(decode=True)).hexdigest())
                 for p in msg.iter_parts()]
        return text(start_response, "\n".join(parts))

    return text(start_response, "not found\n", "404 Not Found")


def raw_app(environ, start_response):
    path = environ["PATH_INFO"]
    q = _qs(environ)
    log_path = q.get("log")

    if path == "/raw/one":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"exactly one item\n"]

    if path == "/raw/many":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"a" * 10, b"", b"b" * 20]

    if path == "/raw/declared":
        # A generator, but the app says how long it is.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
        return (p for p in (b"hello ", b"world!"))

    if path == "/raw/short":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return (p for p in (b"only twenty bytes...",))

    if path == "/raw/bad_header":
        kind = q.get("kind", "crlf")
        value = {"crlf": "a\r\nX-Injected: yes", "lf": "a\nX-Injected: yes", "cr": "a\rX-Injected: yes",
                 "nul": "a\x00b"}.get(kind)
        headers = [("Content-Type", "text/plain")]
        if kind == "name":
            headers.append(("X-Bad\r\nX-Injected", "yes"))
        else:
            headers.append(("X-Bad", value))
        start_response("200 OK", headers)
        return [b"this body must never be sent\n"]

    if path == "/raw/twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"never\n"]

    if path == "/raw/no_start":
        return [b"body without start_response\n"]

    if path == "/raw/file":
        f = CountingFile(q["path"], log_path)
        if "offset" in q:
            f.seek(int(q["offset"]))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 64 * 1024)

    if path == "/raw/bytesio":
        data = pattern_bytes(int(q["size"]), int(q.get("seed", "1")))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](io.BytesIO(data), int(q.get("blksize", "8192")))

    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such raw route\n"]


_checked = validator(checked_app)


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/raw/"):
        return raw_app(environ, start_response)
    return _checked(environ, start_response)
