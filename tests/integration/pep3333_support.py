"""What the PEP 3333 tests share: one drover serving apps/validator_app.py
(wrapped in wsgiref.validate) and helpers to speak raw HTTP to it."""
import http.client
import json
import random
import re
import socket

import pytest

from conftest import APPS, Drover, app_args, free_port

MiB = 1024 * 1024
# Leave the default metrics port to tests that are about it.
NO_METRICS = ("--metrics", "")


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One drover (2 workers) serving validator_app for the tests that need
    no special settings; each test checks the log it caused."""
    port = free_port()
    d = Drover([*NO_METRICS, "-b", "127.0.0.1:%d" % port, "-w", "2", *app_args("validator_app")],
               tmp_path_factory.mktemp("pep3333"))
    try:
        d.wait_ready(2)
        d.port = port
        yield d
    finally:
        d.stop()


@pytest.fixture
def srv(server):
    """The shared server; after the test, the log it wrote must hold no
    complaint from wsgiref.validate (an assertion in the validator becomes
    a 500 with its traceback in the log)."""
    start = len(server.log())
    yield server
    new = server.log()[start:]
    # (tracebacks pass through validate.py's wrappers; its checks fail in
    # assert_ or a check_* function)
    complaint = re.compile(r'validate\.py", line \d+, in (assert_|check_\w+)$|WSGIWarning'
                           r'|garbage collected without being closed', re.M)
    assert not complaint.search(new), "the validator complained:\n%s" % new


def url(port, path="/"):
    return "http://127.0.0.1:%d%s" % (port, path)


def recv_all(sock):
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def raw_exchange(port, request, timeout=30):
    """Sends request bytes, returns everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        return recv_all(s)


def split_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, "no complete response head in %r" % data[:500]
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower().decode(), []).append(value.strip().decode("latin-1"))
    return status, headers, body


def dechunk(body):
    """(payload, complete): complete only when the last-chunk arrived."""
    out = b""
    while True:
        line, sep, rest = body.partition(b"\r\n")
        if not sep:
            return out, False
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return out, rest.startswith(b"\r\n")
        if len(rest) < size + 2:
            return out + rest[:size], False
        out += rest[:size]
        body = rest[size + 2:]


def get_raw(port, target, method="GET", version="HTTP/1.1", headers=(), body=b""):
    head = "%s %s %s\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (method, target, version, port)
    head += "".join("%s: %s\r\n" % h for h in headers)
    return split_response(raw_exchange(port, head.encode("latin-1") + b"\r\n" + body))


def environ_of(port, target, headers=(), method="GET", body=None):
    """The environ the app saw, through http.client (sends the target and
    repeated headers exactly as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True,
                        skip_host=any(name.lower() == "host" for name, _ in headers))
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        client_port = conn.sock.getsockname()[1]
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data
        env = json.loads(data)
        env["_client_port"] = client_port
        return env
    finally:
        conn.close()


def pattern_bytes(size, seed=1):
    return random.Random(seed).randbytes(size)


def write_config(tmp_path, port, extra):
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "validator_app:application"\npythonpath = ["%s"]\nworkers = 1\n'
                   'bind = ["127.0.0.1:%d"]\n%s' % (APPS, port, extra))
    return cfg


def log_line(pid, text):
    """A wsgi.errors or traceback line of worker pid, as the error log has it."""
    return re.compile(r"^\S+ \[%d\] \w+: worker: app: %s$" % (pid, re.escape(text)), re.M)


