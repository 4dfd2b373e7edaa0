"""drover's SCGI responder, driven by a raw-socket client written here from
the SCGI specification: a netstring of NUL-separated headers, CONTENT_LENGTH
first and SCGI=1 among them, then the body; the answer is a CGI head and
the body, ended by closing the connection. Bad requests close the
connection with a log line and the worker goes on serving.

drover serves apps/fe_app.py."""
import json
import os
import socket

import pytest

from conftest import free_port, recv_all
from frontends import drover_config, split_cgi_response


def netstring_request(headers, body=b""):
    """headers: (name, value) pairs in order, sent as given."""
    block = b"".join(n.encode("latin-1") + b"\0" + v.encode("latin-1") + b"\0" for n, v in headers)
    return b"%d:" % len(block) + block + b"," + body


def scgi_request(path, query="", body=b"", method=None, extra=()):
    headers = [("CONTENT_LENGTH", str(len(body))), ("SCGI", "1"),
               ("REQUEST_METHOD", method or ("POST" if body else "GET")),
               ("REQUEST_URI", path + ("?" + query if query else "")), ("QUERY_STRING", query)]
    return netstring_request(headers + list(extra), body)


def connect(address, source=None, timeout=30):
    if isinstance(address, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(address)
    return s


def exchange(address, data, source=None):
    """Sends one request; everything the server sent before it closed."""
    with connect(address, source) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return recv_all(s)


@pytest.fixture
def scgi(start_drover, tmp_path):
    """scgi(workers=1, allowed=None, unix=False) -> (Drover, address)."""

    def start(workers=1, allowed=None, unix=False):
        if unix:
            address = str(tmp_path / "scgi.sock")
            bind = '"scgi://unix:%s"' % address
        else:
            port = free_port()
            address = ("127.0.0.1", port)
            bind = '{ address = "scgi://127.0.0.1:%d"%s }' % (
                port, "" if allowed is None else ", allowed_clients = [%s]" % ", ".join('"%s"' % a for a in allowed))
        conf = drover_config(tmp_path / "drover.toml", bind, workers=workers)
        return start_drover("-c", str(conf), workers=workers), address

    return start


def worker_pid(address):
    status, _, body = split_cgi_response(exchange(address, scgi_request("/pid")))
    assert status == 200
    return int(body)


def test_get_and_post_round_trip(scgi):
    _, address = scgi()
    status, headers, body = split_cgi_response(exchange(address, scgi_request("/environ", "a=1&b=%20")))
    assert status == 200
    env = json.loads(body)
    assert (env["QUERY_STRING"], env["PATH_INFO"], env["SCRIPT_NAME"], env["REQUEST_URI"]) == (
        "a=1&b=%20", "/environ", "", "/environ?a=1&b=%20")
    for size in (0, 1, 64 * 1024, 8 * 1024 * 1024):
        data = os.urandom(size)
        status, headers, body = split_cgi_response(exchange(address, scgi_request("/echo", body=data)))
        assert (status, headers["x-body-length"]) == (200, str(size))
        assert body == data


def test_mount_from_request_uri(scgi):
    # nginx's scgi_params carry no SCRIPT_NAME or PATH_INFO, only REQUEST_URI;
    # drover takes the path from it (decoded) and strips script_name = "/app".
    _, address = scgi()
    env = json.loads(split_cgi_response(exchange(address, scgi_request("/app/a%20b/environ", "x=1")))[2])
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/a b/environ")


def test_streamed_response_is_sent_as_it_is_produced(scgi, tmp_path):
    _, address = scgi()
    gate = tmp_path / "gate"
    with connect(address) as s:
        s.sendall(scgi_request("/stream", "n=5&gate=%s" % gate))
        got = b""
        while b"chunk 0\n" not in got:
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        gate.write_text("open")
        got += recv_all(s)
    status, headers, body = split_cgi_response(got)
    assert body == b"".join(b"chunk %d\n" % i for i in range(5))


def test_app_exception_gives_500(scgi):
    d, address = scgi()
    status, _, body = split_cgi_response(exchange(address, scgi_request("/error")))
    assert status == 500 and body == b"Internal Server Error\n"
    d.wait_log(r"RuntimeError: boom from fe_app")


BAD = {
    "no SCGI header": (netstring_request([("CONTENT_LENGTH", "0"), ("REQUEST_METHOD", "GET")]),
                       r"SCGI request has no SCGI header"),
    "SCGI is not 1": (netstring_request([("CONTENT_LENGTH", "0"), ("SCGI", "2")]),
                      r"SCGI header is '2', expected '1'"),
    "CONTENT_LENGTH not first": (netstring_request([("SCGI", "1"), ("CONTENT_LENGTH", "0")]),
                                 r"first SCGI header must be CONTENT_LENGTH, not 'SCGI'"),
    "CONTENT_LENGTH not a number": (netstring_request([("CONTENT_LENGTH", "-1"), ("SCGI", "1")]),
                                    r"SCGI CONTENT_LENGTH '-1' is not a non-negative integer"),
    "length not digits": (b"1x:", r"SCGI netstring length has a non-digit byte 'x'"),
    "no comma": (b"4:A\0b\0;", r"SCGI netstring of 4 bytes is not followed by ','"),
    "header without value": (b"3:A\0b,", r"SCGI header 'A' has no NUL-terminated value"),
    "two content lengths": (netstring_request([("CONTENT_LENGTH", "0"), ("SCGI", "1"), ("CONTENT_LENGTH", "5")]),
                            r"CONTENT_LENGTH given twice with different values"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_request_closes_the_connection_and_the_worker_goes_on(scgi, case):
    d, address = scgi()
    pid = worker_pid(address)
    data, log = BAD[case]
    assert exchange(address, data) == b""
    d.wait_log(r"\[%d\] info: worker: scgi request from 127\.0\.0\.1 rejected: %s" % (pid, log))
    assert worker_pid(address) == pid


def test_oversized_headers_get_431(scgi):
    _, address = scgi()
    answer = exchange(address, scgi_request("/pid", extra=[("HTTP_X_BIG", "x" * 70000)]))
    assert split_cgi_response(answer)[0] == 431


def test_truncated_request_then_hang_up_leaves_the_worker_serving(scgi):
    d, address = scgi()
    pid = worker_pid(address)
    for data in (b"12", scgi_request("/pid")[:20], scgi_request("/echo", body=b"x" * 100)[:-10]):
        with connect(address) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            recv_all(s)  # an error answer may come (the app's body read failed); then the close
    assert worker_pid(address) == pid
    assert d.live_worker_pids() == [pid]


def test_unix_socket(scgi):
    _, path = scgi(unix=True)
    status, _, body = split_cgi_response(exchange(path, scgi_request("/pid")))
    assert status == 200 and int(body) > 0


def test_allowed_clients_closes_other_addresses_unserved(scgi):
    d, address = scgi(allowed=["127.0.0.2"])
    assert exchange(address, scgi_request("/pid")) == b""
    d.wait_log(r"connection from 127\.0\.0\.1 refused: not in allowed_clients")
    status, _, _ = split_cgi_response(exchange(address, scgi_request("/pid"), source="127.0.0.2"))
    assert status == 200


def test_nginx_with_a_copied_content_length_param(tmp_path):
    """Issue 9, defect 9: `scgi_param CONTENT_LENGTH $content_length;` (a line
    copied from FastCGI params) makes nginx send CONTENT_LENGTH twice; every
    request used to get 502."""
    import requests
    from frontends import Nginx, render_nginx_site
    from conftest import Drover
    port = free_port()
    conf = drover_config(tmp_path / "drover.toml", '"scgi://127.0.0.1:%d"' % port, workers=1)
    d = Drover(["-c", str(conf)], tmp_path)
    nginx = None
    try:
        d.wait_ready(1)
        web = free_port()
        site = render_nginx_site("scgi", web, "127.0.0.1:%d" % port, tmp_path, https_location=None)
        site = site.replace("include scgi_params;", "include scgi_params;\n        scgi_param CONTENT_LENGTH $content_length;")
        nginx = Nginx(tmp_path / "nginx", web, site)
        r = requests.post("http://127.0.0.1:%d/app/echo" % web, data=b"x" * 1000, timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["X-Body-Length"] == "1000"
        assert requests.get("http://127.0.0.1:%d/app/pid" % web, timeout=10).status_code == 200
    finally:
        if nginx:
            nginx.stop()
        d.stop()
