"""The WSGI bridge runs PEP 3333 apps unchanged: environ, wsgi.input,
start_response, write(), iterables and close(), wsgi.file_wrapper,
wsgi.errors, virtualenvs and import failures, all over real HTTP against the
real binary. The app (apps/validator_app.py) runs inside
wsgiref.validate.validator, so a bridge that breaks the spec fails requests.
"""
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest
import requests

from conftest import APPS, Drover, app_args, free_port, wait_until

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


# ---------------------------------------------------------------- methods and bodies

def test_get_post_head(srv, tmp_path):
    r = requests.get(url(srv.port, "/pid"), timeout=10)
    assert r.status_code == 200 and r.text.isdigit()
    r = requests.post(url(srv.port, "/echo"), data=b"posted", timeout=10)
    assert r.content == b"posted"
    # HEAD: the GET's head, no body bytes on the wire. The next response on
    # the same connection must start right after the head.
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"HEAD /raw/one HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /raw/one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = recv_all(s)
    first, second = data.split(b"HTTP/1.1 ", 2)[1:]
    assert first.startswith(b"200 ") and first.endswith(b"\r\n\r\n")
    assert b"Content-Length: 17\r\n" in first
    assert second.startswith(b"200 ") and second.endswith(b"\r\n\r\nexactly one item\n")
    # HEAD of a streamed response: head only, and the iterable was closed.
    log = tmp_path / "close.log"
    status, headers, body = get_raw(srv.port, "/close?mode=normal&log=%s" % log, method="HEAD")
    assert (status, body) == (200, b"")
    wait_until(lambda: log.exists() and log.read_text().endswith("close\n"), 10, what="close() after HEAD")


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 8 * MiB])
def test_body_sizes_echoed(srv, size):
    body = os.urandom(size)
    r = requests.post(url(srv.port, "/echo?method=read"), data=body, timeout=60)
    assert r.status_code == 200
    assert r.headers["X-Body-Length"] == str(size)
    assert r.content == body


LINES = (b"first line\n\n" + b"x" * 70000 + b"\nshort\n" + b"".join(b"%d\n" % i for i in range(500))
         + b"no newline at the end")


@pytest.mark.parametrize("method", ["read", "read_none", "read_n", "read_length", "readline", "readline_n",
                                    "readlines", "readlines_hint", "iter"])
def test_input_methods(srv, method):
    r = requests.post(url(srv.port, "/echo?method=%s" % method), data=LINES, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == LINES


@pytest.mark.parametrize("method", ["read", "read_n", "readline", "iter"])
def test_chunked_upload_from_a_generator(srv, method):
    # (no empty part: requests would send it as the last-chunk)
    parts = [b"a" * 10, b"b\n" * 35000, b"c", os.urandom(200000)]
    r = requests.post(url(srv.port, "/echo?method=%s" % method), data=iter(parts), timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"".join(parts)


def test_chunked_upload_with_odd_chunk_sizes(srv):
    payload = os.urandom(1 + 3 + 0x1fff + 7 + 65537 + 2)
    sizes = [1, 3, 0x1fff, 7, 65537, 2]
    body, pos = b"", 0
    for i, n in enumerate(sizes):
        ext = b";name=value" if i == 2 else b""
        body += b"%x%s\r\n%s\r\n" % (n, ext, payload[pos:pos + n])
        pos += n
    body += b"0\r\nX-Trailer: ignored\r\n\r\n"
    head = ("POST /echo?method=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as s:
        s.sendall(head)
        # Dribbled in pieces that cut chunk-size lines and CRLFs in two.
        for i in range(0, len(body), 4093):
            s.sendall(body[i:i + 4093])
        status, headers, out = split_response(recv_all(s))
    assert status == 200
    assert headers["x-body-length"] == [str(len(payload))]
    assert dechunk(out) == (payload, True)
    env = environ_of(srv.port, "/echo?dump=environ", headers=[("Transfer-Encoding", "chunked")], method="POST")
    assert "CONTENT_LENGTH" not in env
    assert env["wsgi.input_terminated"] is True


# ---------------------------------------------------------------- the response

def test_generator_is_streamed(srv, tmp_path):
    marker = tmp_path / "client-saw-first-part"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall(b"GET /stream_wait?marker=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  % str(marker).encode())
        data = b""
        # The generator is still running (waiting for the marker): the
        # first part must already be on the wire.
        while b"first part\n" not in data:
            chunk = s.recv(65536)
            assert chunk, "connection closed before the first part: %r" % data
            data += chunk
        marker.touch()
        data += recv_all(s)
    status, headers, body = split_response(data)
    assert status == 200
    assert headers["transfer-encoding"] == ["chunked"]
    assert dechunk(body) == (b"first part\nsecond part\n", True)


def test_write_callable(srv):
    r = requests.get(url(srv.port, "/write?n=3"), timeout=10)
    assert r.text == "written 0\nwritten 1\nwritten 2\n"
    assert r.headers["Transfer-Encoding"] == "chunked"
    r = requests.get(url(srv.port, "/write?n=2&tail=1"), timeout=10)
    assert r.text == "written 0\nwritten 1\nreturned\n"


def test_framing(srv):
    # one item: Content-Length, no chunking
    status, h, body = get_raw(srv.port, "/raw/one")
    assert h["content-length"] == ["17"] and "transfer-encoding" not in h and body == b"exactly one item\n"
    # a list of bytes: the sum
    status, h, body = get_raw(srv.port, "/raw/many")
    assert h["content-length"] == ["30"] and body == b"a" * 10 + b"b" * 20
    # a generator with the app's Content-Length: that, once
    status, h, body = get_raw(srv.port, "/raw/declared")
    assert h["content-length"] == ["12"] and "transfer-encoding" not in h and body == b"hello world!"
    # a generator on HTTP/1.1: chunked
    status, h, body = get_raw(srv.port, "/stream?n=3")
    assert h["transfer-encoding"] == ["chunked"] and "content-length" not in h
    assert dechunk(body) == (b"part 0\npart 1\npart 2\n", True)
    # a generator on HTTP/1.0: delimited by the close
    status, h, body = get_raw(srv.port, "/stream?n=3", version="HTTP/1.0")
    assert "transfer-encoding" not in h and "content-length" not in h
    assert h["connection"] == ["close"]
    assert body == b"part 0\npart 1\npart 2\n"


def test_short_body_is_not_passed_off_as_complete(srv):
    # A keep-alive request: the server must close, since the framing is
    # unfinished (raw_exchange reads until it does).
    status, h, body = split_response(raw_exchange(srv.port, b"GET /raw/short HTTP/1.1\r\nHost: x\r\n\r\n",
                                                  timeout=10))
    assert h["content-length"] == ["100"]
    assert body == b"only twenty bytes..."
    srv.wait_log(r"GET /raw/short: response body is shorter than its Content-Length \(20 < 100\)")


def test_exc_info_before_the_head_replaces_it(srv):
    r = requests.get(url(srv.port, "/exc_before"), timeout=10)
    assert r.status_code == 503
    assert r.headers["X-Handled"] == "yes"
    assert "X-First-Call" not in r.headers
    assert r.text == "handled by exc_info\n"


def test_exc_info_after_the_head_cuts_the_connection(srv, tmp_path):
    log = tmp_path / "close.log"
    status, h, body = get_raw(srv.port, "/exc_after?log=%s" % log)
    assert status == 200
    payload, complete = dechunk(body)
    assert payload == b"first part\n"
    assert not complete, "a failed response must not end with the last-chunk"
    srv.wait_log(r"app: ValueError: late failure after the head went out")
    assert re.search(r"GET /exc_after\?log=\S+: request failed\n.*app: Traceback \(most recent call last\):",
                     srv.log()), srv.log()[-3000:]
    wait_until(lambda: log.exists() and log.read_text() == "close\n", 10, what="close() exactly once")


def test_close_called_at_the_normal_end(srv, tmp_path):
    log = tmp_path / "close.log"
    r = requests.get(url(srv.port, "/close?mode=normal&log=%s" % log), timeout=10)
    assert r.content == b"one\ntwo\n"
    wait_until(lambda: log.exists() and "close" in log.read_text(), 10, what="close()")
    assert log.read_text() == "exhausted\nclose\n"


def test_close_called_when_the_app_raises_mid_iteration(srv, tmp_path):
    log = tmp_path / "close.log"
    status, h, body = get_raw(srv.port, "/close?mode=raise&log=%s" % log)
    assert status == 200
    assert dechunk(body) == (b"one\n", False)
    srv.wait_log(r"app: RuntimeError: failing mid-iteration on purpose")
    wait_until(lambda: log.exists() and log.read_text() == "close\n", 10, what="close() exactly once")


def test_close_called_when_the_client_disconnects(srv, tmp_path):
    log = tmp_path / "close.log"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /close?mode=disconnect&log=%s HTTP/1.1\r\nHost: x\r\n\r\n" % str(log).encode())
        data = b""
        while len(data) < 100000:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 ")
        # unread data in the receive queue: close() sends a reset
    wait_until(lambda: log.exists() and log.read_text() == "close\n", 20,
               what="exactly close() in %s after the client left" % log)
    # and the worker serves on
    assert requests.get(url(srv.port, "/pid"), timeout=10).status_code == 200


# ---------------------------------------------------------------- start_response and headers

@pytest.mark.parametrize("kind", ["crlf", "lf", "cr", "nul", "name"])
def test_header_with_cr_lf_or_nul_is_a_500_never_a_split_response(srv, kind):
    data = raw_exchange(srv.port, b"GET /raw/bad_header?kind=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        % kind.encode())
    status, headers, body = split_response(data)
    assert status == 500
    assert b"X-Injected" not in data and b"X-Bad" not in data
    assert b"must never be sent" not in data
    assert data.count(b"HTTP/1.1 ") == 1
    expected = r"invalid header name 'X-Bad\\r\\nX-Injected'" if kind == "name" \
        else r"ValueError: header 'X-Bad' has CR, LF or NUL in its value"
    srv.wait_log(r"GET /raw/bad_header\?kind=%s: request failed" % kind)
    srv.wait_log(expected)


def test_start_response_misuse_is_a_500(srv):
    r = requests.get(url(srv.port, "/raw/twice"), timeout=10)
    assert r.status_code == 500 and "never" not in r.text
    srv.wait_log(r"AssertionError: start_response\(\) called a second time without exc_info")
    r = requests.get(url(srv.port, "/raw/no_start"), timeout=10)
    assert r.status_code == 500
    srv.wait_log(r"AssertionError: the application produced body bytes before start_response\(\)")


# ---------------------------------------------------------------- wsgi.file_wrapper

class SendfileTrace:
    """strace -e trace=sendfile on the workers, when strace exists and may
    attach; None otherwise (the content assertions never depend on it)."""

    @classmethod
    def start(cls, pids, tmp_path):
        if not shutil.which("strace"):
            return None
        self = cls()
        self.out = tmp_path / "strace.out"
        self.err = tmp_path / "strace.err"
        args = ["strace", "-f", "-e", "trace=sendfile", "-o", str(self.out)]
        for pid in pids:
            args += ["-p", str(pid)]
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)

        def attached():
            err = self.err.read_text()
            if self.proc.poll() is not None or "not permitted" in err:
                return "refused"
            return err.count("attached") >= len(pids) and "attached"
        if wait_until(attached, 10, what="strace to attach") == "refused":
            self.halt()
            return None  # ptrace is restricted here
        return self

    def halt(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # detaches from the workers
            self.proc.wait(10)

    def stop(self):
        """Bytes the workers sent with sendfile(2) while traced."""
        self.halt()
        # (a call strace shows split, "<unfinished ...>" then "<... sendfile
        # resumed>", has its result on the second line)
        return sum(int(m) for m in re.findall(r"^.*sendfile.*\) = (\d+)$", self.out.read_text(), re.M))


def test_file_wrapper_uses_sendfile(srv, tmp_path):
    data = os.urandom(3 * MiB + 123)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    log = tmp_path / "close.log"
    trace = SendfileTrace.start(srv.live_worker_pids(), tmp_path)
    try:
        r = requests.get(url(srv.port, "/raw/file?path=%s&log=%s" % (path, log)), timeout=30)
    finally:
        sent = trace.stop() if trace else None
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(data))
    assert "Transfer-Encoding" not in r.headers
    assert r.content == data
    # Not one read() went through Python, and the file was closed.
    wait_until(lambda: log.exists() and "close" in log.read_text(), 10, what="close() of the file")
    assert log.read_text() == "python reads: 0\nclose\n"
    if sent is not None:
        assert sent == len(data), "sendfile(2) sent %d of %d bytes" % (sent, len(data))


def test_file_wrapper_client_gone_mid_sendfile(srv, tmp_path):
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(512 * MiB)  # sparse: costs no disk
    log = tmp_path / "close.log"
    workers = sorted(srv.live_worker_pids())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /raw/file?path=%s&log=%s HTTP/1.1\r\nHost: x\r\n\r\n" % (str(path).encode(),
                                                                                  str(log).encode()))
        data = b""
        while len(data) < 200000:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        assert b"Content-Length: %d\r\n" % (512 * MiB) in data
    wait_until(lambda: log.exists() and log.read_text() == "python reads: 0\nclose\n", 20,
               what="close() of the file after the client left")
    # a broken pipe in sendfile(2) is an error return, not a dead worker
    assert requests.get(url(srv.port, "/pid"), timeout=10).status_code == 200
    assert sorted(srv.live_worker_pids()) == workers


def test_file_wrapper_from_an_offset_over_http10_and_head(srv, tmp_path):
    data = os.urandom(300000)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    status, h, body = get_raw(srv.port, "/raw/file?path=%s&offset=1000" % path, version="HTTP/1.0")
    assert status == 200 and h["content-length"] == [str(len(data) - 1000)]
    assert body == data[1000:]
    status, h, body = get_raw(srv.port, "/raw/file?path=%s" % path, method="HEAD")
    assert status == 200 and h["content-length"] == [str(len(data))] and body == b""


def test_file_wrapper_without_fileno_falls_back_to_reads(srv):
    size = 200003
    r = requests.get(url(srv.port, "/raw/bytesio?size=%d&seed=7&blksize=5000" % size), timeout=20)
    assert r.status_code == 200
    assert r.content == pattern_bytes(size, 7)


def test_file_wrapper_behind_middleware_is_iterated(srv, tmp_path):
    # The validator wraps the response, so the bridge sees no file_wrapper.
    data = os.urandom(100000)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    r = requests.get(url(srv.port, "/file?path=%s" % path), timeout=20)
    assert r.content == data


# ---------------------------------------------------------------- environ

def test_environ_has_every_required_key(srv):
    env = environ_of(srv.port, "/some/path?dump=environ&x=1", headers=[("Host", "127.0.0.1:%d" % srv.port),
                                                                       ("X-Custom", "yes")])
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "dump=environ&x=1"
    assert "CONTENT_TYPE" not in env and "CONTENT_LENGTH" not in env  # no body
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(env["_client_port"])
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % srv.port
    assert env["HTTP_X_CUSTOM"] == "yes"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.input"] == ["__iter__", "read", "readline", "readlines"]
    assert env["wsgi.errors"] == ["flush", "write", "writelines"]
    assert env["wsgi.multithread"] is False
    assert env["wsgi.multiprocess"] is True
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.file_wrapper"] is True

    env = environ_of(srv.port, "/echo?dump=environ", method="POST", body=b"hello",
                     headers=[("Content-Type", "text/plain; charset=utf-8")])
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "text/plain; charset=utf-8"
    assert env["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env


def test_environ_path_is_percent_decoded_latin1(srv):
    env = environ_of(srv.port, "/caf%C3%A9/a%2Fb%20c/%41?dump=environ&q=%C3%A9")
    assert env["PATH_INFO"] == "/café/a/b c/A".encode("utf-8").decode("latin-1")
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/a/b c/A"
    assert env["QUERY_STRING"] == "dump=environ&q=%C3%A9"  # the query stays encoded
    assert env["REQUEST_URI"] == "/caf%C3%A9/a%2Fb%20c/%41?dump=environ&q=%C3%A9"


def test_environ_joins_repeated_headers(srv):
    env = environ_of(srv.port, "/?dump=environ", headers=[
        ("X-Dup", "first"), ("X-Dup", "second"), ("Accept", "text/html"), ("Accept", "text/plain"),
        ("Cookie", "a=1"), ("Cookie", "b=2"), ("X_Underscored", "dropped")])
    assert env["HTTP_X_DUP"] == "first, second"
    assert env["HTTP_ACCEPT"] == "text/html, text/plain"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert "HTTP_X_UNDERSCORED" not in env


def test_two_host_headers_are_refused(srv):
    # Joined like other headers they would make SERVER_NAME "a:1, b".
    data = raw_exchange(srv.port, b"GET /?dump=environ HTTP/1.1\r\nHost: a.example:1\r\nHost: b.example\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 "), data[:200]


def test_environ_http10_without_host(srv):
    # SERVER_NAME and SERVER_PORT then come from the listening socket.
    status, h, body = split_response(raw_exchange(srv.port, b"GET /?dump=environ HTTP/1.0\r\n\r\n"))
    env = json.loads(body)
    assert "HTTP_HOST" not in env
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)


def test_script_name_mount(start_drover, tmp_path, http_port):
    cfg = write_config(tmp_path, http_port, 'script_name = "/mount"\n')
    start_drover(*NO_METRICS, "-c", str(cfg), workers=1)
    env = environ_of(http_port, "/mount/x/y?dump=environ")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/mount", "/x/y")
    env = environ_of(http_port, "/mount?dump=environ")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/mount", "")
    env = environ_of(http_port, "/mount/caf%C3%A9?dump=environ")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/mount", "/caf\xc3\xa9")
    # only a whole path segment is a mount
    env = environ_of(http_port, "/mountain?dump=environ")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/mountain")
    r = requests.get(url(http_port, "/mount/pid"), timeout=10)
    assert r.status_code == 200 and r.text.isdigit()


# ---------------------------------------------------------------- max_body_size

def send_then_read(sock, data):
    """Sends what the server lets us send, then reads its answer: a server
    that refuses a body answers and closes while the client is still sending
    (the answer is in our receive queue before the reset)."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return recv_all(sock)


def chunked(parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_max_body_size_refuses_with_413(start_drover, tmp_path, http_port):
    cfg = write_config(tmp_path, http_port, 'max_body_size = "1M"\n')
    d = start_drover(*NO_METRICS, "-c", str(cfg), workers=1)
    ran, started = tmp_path / "app-ran", tmp_path / "app-started"
    target = "/sha256?log=%s&started=%s" % (ran, started)
    # at the limit: served
    body = os.urandom(MiB)
    r = requests.post(url(http_port, target), data=body, timeout=30)
    assert r.text == "%d %s" % (MiB, hashlib.sha256(body).hexdigest())
    assert ran.read_text() == "app ran\n"
    ran.unlink()
    started.unlink()
    head = ("POST %s HTTP/1.1\r\nHost: x\r\n%%s\r\n" % target).encode()

    # A Content-Length over it: 413 from the head alone, before the app.
    with socket.create_connection(("127.0.0.1", http_port), timeout=20) as s:
        status, h, out = split_response(send_then_read(s, head % b"Content-Length: %d\r\n" % (MiB + 1)))
    assert status == 413
    assert not started.exists(), "the app ran for a Content-Length over max_body_size"

    # A chunked body that is over it once it has all arrived.
    with socket.create_connection(("127.0.0.1", http_port), timeout=20) as s:
        data = head % b"Transfer-Encoding: chunked\r\n" + chunked([os.urandom(300000)] * 4)
        status, h, out = split_response(send_then_read(s, data))
    assert status == 413
    started.unlink(missing_ok=True)  # whether the app saw the head depends on how the bytes arrived

    # A chunked body that goes over it while the app reads: still 413.
    with socket.create_connection(("127.0.0.1", http_port), timeout=20) as s:
        s.sendall(head % b"Transfer-Encoding: chunked\r\n" + b"3e8\r\n" + b"x" * 1000 + b"\r\n")
        wait_until(started.exists, 10, what="the app to start reading")
        status, h, out = split_response(send_then_read(s, chunked([os.urandom(300000)] * 4)))
    assert status == 413  # (and the server closed: send_then_read read to the end)
    d.wait_log(r"app: POST /sha256\S*: request body larger than max_body_size \(OSError: ")

    assert not ran.exists(), "the app finished a request whose body was over max_body_size"
    # and the worker serves on
    assert requests.post(url(http_port, target), data=b"small", timeout=10).status_code == 200


# ---------------------------------------------------------------- wsgi.errors

def test_wsgi_errors_lines_reach_the_log_with_the_worker_pid(srv):
    pid = int(requests.get(url(srv.port, "/errors"), timeout=10).text)
    for line in ("wsgi.errors line one", "wsgi.errors line two", "wsgi.errors line three, finished later",
                 "wsgi.errors unterminated"):
        wait_until(lambda: log_line(pid, line).search(srv.log()), 10, what="log line %r" % line)


# ---------------------------------------------------------------- virtualenv and import failures

def make_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site = venv / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    assert site.is_dir(), site
    (site / "only_in_venv.py").write_text('WHERE = "the venv"\n')
    return venv


@pytest.mark.parametrize("how", ["flag", "config"])
def test_virtualenv_site_packages_are_used(start_drover, tmp_path, http_port, how):
    venv = make_venv(tmp_path)
    if how == "flag":
        start_drover(*NO_METRICS, "-b", "127.0.0.1:%d" % http_port, "-w", "1", "--virtualenv", str(venv),
                     *app_args("pep_venv_app"), workers=1)
    else:
        cfg = tmp_path / "drover.toml"
        cfg.write_text('app = "pep_venv_app"\npythonpath = ["%s"]\nworkers = 1\nbind = ["127.0.0.1:%d"]\n'
                       'virtualenv = "%s"\n' % (APPS, http_port, venv))
        start_drover(*NO_METRICS, "-c", str(cfg), workers=1)
    r = requests.get(url(http_port), timeout=10)
    assert r.status_code == 200
    prefix, where = r.text.split("\n")
    assert os.path.realpath(prefix) == os.path.realpath(venv)
    assert where == "the venv"


def test_without_the_virtualenv_the_worker_does_not_boot(start_drover, tmp_path, http_port):
    make_venv(tmp_path)
    d = start_drover(*NO_METRICS, "-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args("pep_venv_app"),
                     wait=False)
    d.wait_log(r"ModuleNotFoundError: No module named 'only_in_venv'", timeout=15)
    log = d.log()
    assert re.search(r"cannot import application module pep_venv_app \(sys\.path: \[.*'%s'.*\]\)"
                     % re.escape(str(APPS)), log), log
    # the traceback points at the import that failed
    assert re.search(r"app: Traceback \(most recent call last\):\n.*app:   File \"%s\", line \d+, in <module>\n"
                     r".*app:     import only_in_venv\n" % re.escape(str(APPS / "pep_venv_app.py")), log), log
    assert d.ready_pids() == []


def test_missing_application_module_names_it_and_sys_path(start_drover, tmp_path, http_port):
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "no_such_module"\npythonpath = ["%s"]\nworkers = 1\nbind = ["127.0.0.1:%d"]\n'
                   % (APPS, http_port))
    d = start_drover(*NO_METRICS, "-c", str(cfg), wait=False)
    d.wait_log(r"ModuleNotFoundError: No module named 'no_such_module'", timeout=15)
    log = d.log()
    m = re.search(r"cannot import application module no_such_module \(sys\.path: (\[.*\])\)", log)
    assert m, log
    assert repr(str(APPS)) in m.group(1)
    assert d.ready_pids() == []
