"""The app of the supervision tests: each path drives one limit or signal.

The functions that block have distinctive names, so a test can find them in
the Python traceback the master asks for (faulthandler on SIGUSR2)."""
import os
import time
from urllib.parse import parse_qs

# /alloc keeps what it allocates here: the worker's RSS stays high until the
# master recycles it.
_kept = []


def _qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _mark(marker):
    if marker:
        with open(marker, "a") as f:
            f.write("%d\n" % os.getpid())


def sleepy_handler(seconds):
    time.sleep(seconds)


def slow_handler(seconds):
    time.sleep(seconds)


def gated_handler(gate, limit):
    # Blocks until the test creates the gate file (bounded by limit seconds).
    deadline = time.monotonic() + limit
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)


def _text(start_response, body, status="200 OK"):
    start_response(status, [("Content-Type", "text/plain")])
    return [body.encode()]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = _qs(environ)

    if path == "/pid":
        return _text(start_response, str(os.getpid()))

    if path == "/hang":
        _mark(q.get("marker"))
        sleepy_handler(float(q.get("s", "30")))
        return _text(start_response, "woke up\n")

    if path == "/slow":
        _mark(q.get("marker"))
        slow_handler(float(q.get("s", "1")))
        return _text(start_response, "slow done %d\n" % os.getpid())

    if path == "/gate":
        _mark(q.get("marker"))
        gated_handler(q["gate"], float(q.get("limit", "20")))
        return _text(start_response, "gate passed %d\n" % os.getpid())

    if path == "/alloc":
        mib = int(q.get("mib", "80"))
        # Written byte by byte (not calloc'd zero pages), so it is resident.
        _kept.append(bytearray(b"\x01") * (mib << 20))
        return _text(start_response, str(os.getpid()))

    if path == "/crash":
        # Dies the way a segfaulting extension would: no answer, no cleanup.
        os._exit(70)

    if path == "/error":
        raise RuntimeError("boom from sup_app")

    return _text(start_response, "not found\n", "404 Not Found")
