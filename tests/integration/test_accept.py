"""How workers take connections (issue 13): only when they can serve them at
once, without the master in the path of a connection per request."""
import socket
import time

from conftest import APPS, recv_all


def _get(path_or_port, unix=False):
    s = socket.socket(socket.AF_UNIX) if unix else socket.socket()
    s.settimeout(10)
    s.connect(path_or_port if unix else ("127.0.0.1", path_or_port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = recv_all(s)
    s.close()
    return data


def test_a_silent_unix_client_does_not_stop_a_worker_taking_others(start_drover, tmp_path):
    """A unix listener has no deferred accept: a worker that took a connection
    before its request came takes no more from there for a moment, but only a
    moment: a silent client must not hold its accepting for header_timeout."""
    sock = tmp_path / "http.sock"
    start_drover("-b", "unix:%s" % sock, "-w", "1", "--metrics", "", "--pythonpath", str(APPS), "basic_app",
                 workers=1)
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(str(sock))
    try:
        started = time.monotonic()
        answer = _get(str(sock), unix=True)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
        assert time.monotonic() - started < 5, "the silent client held the worker's accepting"
        silent.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        silent.settimeout(10)
        assert silent.recv(100).startswith(b"HTTP/1.1 200 ")
    finally:
        silent.close()


def test_requests_on_unix_and_tcp_listeners_under_a_connection_per_request_load(start_drover, tmp_path, http_port):
    sock = tmp_path / "http.sock"
    start_drover("-b", "unix:%s" % sock, "-b", "127.0.0.1:%d" % http_port, "-w", "2", "--metrics", "",
                 "--pythonpath", str(APPS), "basic_app", workers=2)
    for i in range(300):
        unix = i % 2 == 0
        assert _get(str(sock) if unix else http_port, unix=unix).startswith(b"HTTP/1.1 200 ")
