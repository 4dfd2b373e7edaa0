"""How workers take connections (issue 13): only when they can serve them at
once, without the master in the path of a connection per request."""
import re
import socket
import threading
import time

import requests

from conftest import APPS, recv_all, url, wait_until


def _get(path_or_port, unix=False):
    s = socket.socket(socket.AF_UNIX) if unix else socket.socket()
    s.settimeout(10)
    s.connect(path_or_port if unix else ("127.0.0.1", path_or_port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = recv_all(s)
    s.close()
    return data


def test_a_silent_unix_client_does_not_stop_a_worker_taking_others(start_drover, tmp_path):
    """A unix listener has no deferred accept: a worker takes a connection
    before its request comes. A silent client must not hold its accepting
    (for header_timeout) from the clients that do send."""
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


def test_a_kept_connection_does_not_wait_behind_a_long_request_once_a_worker_is_idle(sup, tmp_path):
    """At saturation a worker keeps its idle kept connections through a
    request (passing them would buy nothing and cost a pass each). If that
    request runs long and another worker turns idle, the master asks for
    them: a request on one is answered by the idle worker at once, not after
    the long request."""
    d = sup(workers=2)
    kept = requests.Session()
    holder = int(kept.get(url(d.port, "/pid"), timeout=10).text)

    def gated(tag):
        gate, marker = tmp_path / ("gate-" + tag), tmp_path / ("marker-" + tag)
        result = {}

        def run():
            r = requests.get(url(d.port, "/gate?gate=%s&marker=%s&limit=15" % (gate, marker)),
                             headers={"Connection": "close"}, timeout=30)
            result["status"] = r.status_code
        t = threading.Thread(target=run, daemon=True)
        t.start()
        pid = int(wait_until(lambda: marker.exists() and marker.read_text().split(), 10,
                             what="gated request %s in a worker" % tag)[0])
        return pid, gate, t, result

    # The other worker busy first (a try that lands on the holder is let go).
    for attempt in range(10):
        other, gate1, t1, r1 = gated("first-%d" % attempt)
        if other != holder:
            break
        gate1.write_text("open")
        t1.join(10)
    else:
        raise AssertionError("every first request landed on the holder")
    # Now the holder starts a long request with nobody idle: it keeps the
    # kept connection.
    pid2, gate2, t2, r2 = gated("long")
    assert pid2 == holder
    gate1.write_text("open")  # the other worker turns idle
    t1.join(10)
    # The holder would answer itself once its long request ended; the other
    # worker answering means the connection was handed on while it was held.
    answer = kept.get(url(d.port, "/pid"), timeout=20)
    gate2.write_text("open")
    t2.join(20)
    assert answer.status_code == 200 and int(answer.text) == other, (answer.text, holder, other)
    assert r1.get("status") == 200 and r2.get("status") == 200


def test_a_request_sent_while_its_worker_was_busy_is_served_though_keepalive_ran_out(sup, tmp_path):
    """A kept connection's keepalive runs out while its worker is in a long
    request, and its client, seeing no close, sends its next request: when
    the worker comes back, timer and request are both due. The request is
    served; closing the connection under it would reset it unread."""
    d = sup(ready=1, workers=1, keepalive=1)
    kept = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    ask = b"GET /pid HTTP/1.1\r\nHost: x\r\n\r\n"

    def answer_on_kept():
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = kept.recv(4096)
            assert chunk, "the kept connection was closed: %r" % head
            head += chunk
        head, body = head.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(body) < length:
            body += kept.recv(4096)
        return head, body

    try:
        kept.sendall(ask)
        head, pid = answer_on_kept()
        assert head.startswith(b"HTTP/1.1 200 ")
        gate, marker = tmp_path / "gate", tmp_path / "marker"
        long = threading.Thread(target=lambda: requests.get(
            url(d.port, "/gate?gate=%s&marker=%s&limit=15" % (gate, marker)),
            headers={"Connection": "close"}, timeout=30), daemon=True)
        long.start()
        wait_until(marker.exists, 10, what="the long request in the worker")
        time.sleep(1.5)  # past keepalive, the worker still in the app
        kept.sendall(ask)
        gate.write_text("open")
        head, again = answer_on_kept()
        assert head.startswith(b"HTTP/1.1 200 ") and again == pid, (head, again, pid)
        long.join(20)
    finally:
        kept.close()
