"""PEP 3333 over real HTTP, continued: wsgi.file_wrapper (sendfile and its
fallbacks) and max_body_size."""
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess

import requests

from conftest import wait_until
from pep3333_support import MiB, NO_METRICS, get_raw, pattern_bytes, recv_all, split_response, url, write_config
from pep3333_support import server, srv  # noqa: F401,F811  (fixtures)


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


