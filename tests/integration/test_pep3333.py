"""The WSGI bridge runs PEP 3333 apps unchanged: environ, wsgi.input,
start_response, write(), iterables and close(), wsgi.file_wrapper,
wsgi.errors, virtualenvs and import failures, all over real HTTP against the
real binary. The app (apps/validator_app.py) runs inside
wsgiref.validate.validator, so a bridge that breaks the spec fails requests.
"""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import requests

from conftest import APPS, app_args, wait_until
from pep3333_support import MiB, NO_METRICS, dechunk, environ_of, get_raw, log_line, raw_exchange, recv_all, split_response, url, write_config
from pep3333_support import server, srv  # noqa: F401,F811  (fixtures)


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
