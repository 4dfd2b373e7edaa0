"""drover serving a WSGI app over HTTP/1.1 from supervised workers (issue: the foundation)."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import APPS, app_args, drover_binary, free_port, recv_all, wait_until


def url(port, path="/"):
    return "http://127.0.0.1:%d%s" % (port, path)


def test_get_round_trip(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    r = requests.get(url(http_port), timeout=10)
    assert r.status_code == 200
    assert r.text == "hello from drover\n"
    assert r.headers["Content-Length"] == str(len("hello from drover\n"))
    assert "Date" in r.headers


def test_post_round_trip_sizes(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    for size in (0, 1, 65536, 3 * 1024 * 1024 + 7):
        body = os.urandom(size)
        r = requests.post(url(http_port, "/echo"), data=body, timeout=30)
        assert r.status_code == 200, size
        assert r.headers["X-Body-Length"] == str(size)
        assert r.content == body


def test_chunked_request_body(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    parts = [b"a" * 10, b"b" * 70000, b"c"]
    r = requests.post(url(http_port, "/echo"), data=iter(parts), timeout=30)
    assert r.status_code == 200
    assert r.content == b"".join(parts)


def test_keep_alive_reuses_the_connection(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    with requests.Session() as s:
        answers = [s.get(url(http_port, "/conn"), timeout=10).text for _ in range(5)]
    # same worker pid and same client port: one TCP connection served all five
    assert len(set(answers)) == 1, answers


def test_streamed_response_is_chunked(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    r = requests.get(url(http_port, "/stream?n=4"), timeout=10)
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.text == "".join("chunk %d\n" % i for i in range(4))


def test_http10_response_without_length_closes(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    with socket.create_connection(("127.0.0.1", http_port), timeout=10) as s:
        s.sendall(b"GET /stream?n=2 HTTP/1.0\r\nHost: x\r\n\r\n")
        data = recv_all(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    assert b"Connection: close" in head
    assert body == b"chunk 0\nchunk 1\n"


def test_app_exception_gives_500_and_worker_goes_on(start_drover, http_port):
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    pid_before = requests.get(url(http_port, "/pid"), timeout=10).text
    r = requests.get(url(http_port, "/error"), timeout=10)
    assert r.status_code == 500
    d.wait_log(r"RuntimeError: boom from the test app")
    assert "Traceback" in d.log()
    r2 = requests.get(url(http_port, "/pid"), timeout=10)
    assert r2.status_code == 200
    assert r2.text == pid_before  # the same worker served it: nothing died


def test_malformed_request_gets_400_and_worker_lives(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    pid_before = requests.get(url(http_port, "/pid"), timeout=10).text
    with socket.create_connection(("127.0.0.1", http_port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert requests.get(url(http_port, "/pid"), timeout=10).text == pid_before


def test_oversized_headers_get_431(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    r = requests.get(url(http_port), headers={"X-Big": "x" * 100000}, timeout=10)
    assert r.status_code == 431


def test_kill_9_worker_is_replaced_and_logged(start_drover, http_port):
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    victim = int(requests.get(url(http_port, "/pid"), timeout=10).text)
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    d.wait_log(r"worker %d \(slot \d+, generation \d+\) killed by signal 9 \(SIGKILL\)" % victim, timeout=2)

    def replaced():
        live = set(d.live_worker_pids())
        ready = set(d.ready_pids())
        return victim not in live and len(live & ready) == 2
    # the bound: a replacement serves within 2 s of the kill
    wait_until(replaced, max(0.1, 2 - (time.monotonic() - t0)), what="a replacement worker within 2 s")
    # and the pool serves
    for _ in range(10):
        assert requests.get(url(http_port, "/pid"), timeout=5).status_code == 200


def test_sigterm_lets_inflight_request_finish(start_drover, http_port, tmp_path):
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    marker = tmp_path / "started"
    result = {}

    def slow():
        result["r"] = requests.get(url(http_port, "/sleep?s=1&marker=%s" % marker), timeout=30)

    t = threading.Thread(target=slow)
    t.start()
    wait_until(marker.exists, 10, what="the slow request to start")
    d.signal(signal.SIGTERM)
    t.join(30)
    assert result["r"].status_code == 200
    assert result["r"].text == "slept\n"
    assert d.wait_exit(30) == 0
    assert "SIGTERM: stopping gracefully" in d.log()


def test_sigquit_stops_immediately(start_drover, http_port):
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    workers = d.live_worker_pids()
    d.signal(signal.SIGQUIT)
    assert d.wait_exit(10) == 0
    for pid in workers:
        assert not os.path.exists("/proc/%d" % pid) or "Z" in open("/proc/%d/stat" % pid).read().split()[2]


def test_several_listeners_tcp_v6_and_unix(start_drover, tmp_path):
    p4 = free_port()
    p6 = free_port(socket.AF_INET6, "::1")
    sock = tmp_path / "drover.sock"
    d = start_drover("-b", "127.0.0.1:%d" % p4, "-b", "http://[::1]:%d" % p6, "-b", "unix:%s" % sock,
                     "-w", "2", *app_args())
    assert requests.get(url(p4), timeout=10).status_code == 200
    assert requests.get("http://[::1]:%d/" % p6, timeout=10).text == "hello from drover\n"
    out = subprocess.run(["curl", "-sS", "--unix-socket", str(sock), "http://localhost/"],
                         capture_output=True, timeout=10)
    assert out.stdout == b"hello from drover\n", out.stderr
    assert oct(os.stat(sock).st_mode & 0o777) == oct(0o660)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    assert not sock.exists()  # the socket file goes with the master


def test_unix_socket_mode_from_config(start_drover, tmp_path):
    sock = tmp_path / "app.sock"
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "basic_app"\npythonpath = ["%s"]\nworkers = 1\n'
                   'bind = [{ address = "unix:%s", mode = "0600" }]\n' % (APPS, sock))
    start_drover("-c", str(cfg), workers=1)
    assert oct(os.stat(sock).st_mode & 0o777) == oct(0o600)


def test_config_file_and_flags_override(start_drover, tmp_path):
    port_file, port_flag = free_port(), free_port()
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "basic_app:application"\npythonpath = ["%s"]\nworkers = 3\nbind = ["127.0.0.1:%d"]\n'
                   % (APPS, port_file))
    d = start_drover("-c", str(cfg), "-b", "127.0.0.1:%d" % port_flag, "-w", "1", workers=1)
    assert requests.get(url(port_flag), timeout=10).status_code == 200
    # -b replaced the file's bind list, -w its worker count
    assert len(d.live_worker_pids()) == 1
    try:
        requests.get(url(port_file), timeout=2)
        raise AssertionError("the file's bind address should not be served")
    except requests.ConnectionError:
        pass


def test_bad_config_exits_2_with_position(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('app = "basic_app"\nworkers = "many"\n')
    p = subprocess.run([drover_binary(), "-c", str(cfg)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert re.search(r"bad\.toml:2:11: workers: ", p.stderr), p.stderr


def test_check_validates_and_exits(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('app = "basic_app"\nworkers = 4\n')
    p = subprocess.run([drover_binary(), "--check", "-c", str(good)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('app = "basic_app"\n[log]\nlevel = "loud"\n')
    p = subprocess.run([drover_binary(), "--check", "-c", str(bad)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert re.search(r"bad\.toml:3:9: log\.level: ", p.stderr), p.stderr


def test_bad_flag_exits_2(tmp_path):
    p = subprocess.run([drover_binary(), "-w", "zero", "basic_app"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "command line: -w:" in p.stderr


def test_address_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([drover_binary(), "-b", "127.0.0.1:%d" % port, *app_args()],
                           capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert "cannot listen on 127.0.0.1:%d: bind() failed: Address already in use" % port in p.stderr


def test_app_that_fails_to_import_backs_off(start_drover, http_port):
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", "--pythonpath", str(APPS), "broken_app",
                     wait=False)
    d.wait_log(r"before it was ready \(the application failed to load\); failure 3, next attempt in", timeout=15)
    assert "ImportError: broken_app is broken on purpose" in d.log()
    delays = [float(x) for x in re.findall(r"next attempt in ([0-9.]+) s", d.log())]
    assert delays[:3] == sorted(delays[:3]) and delays[2] > delays[0], delays
    assert d.proc.poll() is None  # the master stays up


def _kept_connection(port):
    """A raw HTTP/1.1 connection that does GET /conn and returns (sock, 'pid port')."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s, _get_on(s, "/conn")


def _get_on(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += s.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    return body.decode()


def test_idle_kept_connection_of_a_busy_worker_is_served_by_another(start_drover, http_port, tmp_path):
    """A worker about to block in the app hands its idle kept connections to
    the master, which passes the one that turns readable to an idle worker:
    without that, the request would wait for the busy worker that held it."""
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", *app_args())
    # Open kept connections until two were served by the same worker P.
    conns = []
    pair = None
    for _ in range(40):
        conns.append(_kept_connection(http_port))
        newest_sock, newest_answer = conns[-1]
        pid = newest_answer.split()[0]
        earlier = [c for c in conns[:-1] if c[1].split()[0] == pid]
        if earlier:
            pair = (earlier[0], conns[-1])
            break
    assert pair, "could not get two connections served by one worker"
    (x, x_answer), (y, _) = pair
    busy_pid = y_pid = pair[1][1].split()[0]
    marker = tmp_path / "slow-started"
    done = threading.Event()

    def slow():
        # y was the last connection P served, so P still holds it.
        _get_on(y, "/sleep?s=3&marker=%s" % marker)
        done.set()

    t = threading.Thread(target=slow)
    t.start()
    wait_until(marker.exists, 10, what="the slow request to start")
    assert marker.read_text() == y_pid
    # x was served by P too. The next request on x is answered by the other
    # worker, on the same TCP connection (same client port), while P is busy.
    answer = _get_on(x, "/conn")
    assert not done.is_set(), "the request on the kept connection waited for the busy worker"
    pid, port = answer.split()
    assert pid != busy_pid
    assert port == x_answer.split()[1]
    t.join(20)
    assert done.is_set()
    for s, _ in conns:
        s.close()


def test_user_and_group_drop_root_before_workers_start(start_drover, http_port, tmp_path):
    import grp
    import pwd
    import shutil
    import tempfile
    import pytest
    if os.getuid() != 0:
        pytest.skip("needs root to switch users")
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrnam("nogroup")
    # The workers run as nobody: the app must be readable to it, wherever the
    # checkout lives (a clone under /root is not).
    app_dir = tempfile.mkdtemp(prefix="drover-nobody-", dir="/tmp")
    try:
        os.chmod(app_dir, 0o755)
        shutil.copy(APPS / "basic_app.py", app_dir)
        os.chmod(os.path.join(app_dir, "basic_app.py"), 0o644)
        cfg = tmp_path / "drover.toml"
        cfg.write_text('app = "basic_app:whoami"\npythonpath = ["%s"]\nworkers = 1\nbind = ["127.0.0.1:%d"]\n'
                       'user = "nobody"\ngroup = "nogroup"\n[metrics]\naddress = ""\n' % (app_dir, http_port))
        d = start_drover("-c", str(cfg), workers=1)
        assert requests.get(url(http_port), timeout=10).text == "%d %d" % (nobody.pw_uid, nogroup.gr_gid)
        status = open("/proc/%d/status" % d.pid).read()
        assert re.search(r"^Uid:\s+%d\b" % nobody.pw_uid, status, re.M)
    finally:
        shutil.rmtree(app_dir, ignore_errors=True)


def test_unknown_user_is_a_clear_error(tmp_path, http_port):
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "basic_app"\nbind = ["127.0.0.1:%d"]\nuser = "no-such-user-here"\n' % http_port)
    p = subprocess.run([drover_binary(), "-c", str(cfg)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert "cannot switch to user no-such-user-here: no such user" in p.stderr


def test_413_reaches_a_client_still_sending_its_body(start_drover, http_port, tmp_path):
    """drover answers 413 before reading an 8 MiB body over max_body_size and
    closes; a lingering close (shut down writing, drop input) keeps the kernel
    from resetting the connection under the answer."""
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "basic_app"\npythonpath = ["%s"]\nworkers = 1\nbind = ["127.0.0.1:%d"]\n'
                   'max_body_size = "1M"\n[metrics]\naddress = ""\n' % (APPS, http_port))
    start_drover("-c", str(cfg), workers=1)
    body = os.urandom(8 * 1024 * 1024)
    statuses = [requests.post(url(http_port, "/echo"), data=body, timeout=30).status_code for _ in range(10)]
    assert statuses == [413] * 10
    r = requests.post(url(http_port, "/echo"), data=b"x" * 1000, timeout=10)
    assert r.status_code == 200 and r.content == b"x" * 1000


def _exchange(port, data, timeout=10):
    """Sends data on a fresh connection and reads until drover closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out


# RFC 9112 rules (issue 10): what a lenient parser let through, each refused
# before the app runs, on a fresh connection that is then closed.
HEAD_VIOLATIONS = [
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc", 400),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n", 400),
    (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
]


def test_rfc9112_violations_in_the_head_are_refused(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    pid_before = requests.get(url(http_port, "/pid"), timeout=10).text
    for data, status in HEAD_VIOLATIONS:
        # A second request rides along: it must never be answered.
        answer = _exchange(http_port, data + b"GET /pid HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 %d " % status), (data, answer)
        assert answer.count(b"HTTP/1.1 ") == 1, (data, answer)
        assert b"Connection: close\r\n" in answer
    assert requests.get(url(http_port, "/pid"), timeout=10).text == pid_before


def test_chunk_framing_violations_hide_no_request(start_drover, http_port):
    """Bytes other than CRLF after chunk data, LF in a chunk extension, a bare
    LF after the last chunk: the app may see the body fail, but the request
    hidden behind it is never served."""
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    smuggled = b"GET /pid HTTP/1.1\r\nHost: x\r\n\r\n"
    for body in (b"3\r\nabcXX0\r\n\r\n", b"3;a=b\nc\r\nabc\r\n0\r\n\r\n", b"3\r\nabc\r\n0\r\n\n",
                 b"3\rxabc\r\n0\r\n\r\n"):
        answer = _exchange(http_port, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
                           smuggled)
        assert answer.count(b"HTTP/1.1 ") == 1, (body, answer)
        assert not answer.startswith(b"HTTP/1.1 200 "), (body, answer)


def test_field_values_reach_the_app_without_surrounding_whitespace(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    answer = _exchange(http_port, b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Pad: \t padded value \t \r\n"
                                  b"Connection: close\r\n\r\n")
    assert b"\nHTTP_X_PAD=padded value\n" in answer, answer


def test_absolute_form_target_names_the_host(start_drover, http_port):
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    answer = _exchange(http_port, b"GET http://app.example.org:8443/environ?a=1 HTTP/1.1\r\nHost: backend\r\n"
                                  b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    for line in (b"HTTP_HOST=app.example.org:8443", b"SERVER_NAME=app.example.org", b"SERVER_PORT=8443",
                 b"PATH_INFO=/environ", b"QUERY_STRING=a=1", b"REQUEST_URI=/environ?a=1"):
        assert b"\n" + line + b"\n" in answer, (line, answer)


def test_error_answer_to_a_head_has_no_body(start_drover, http_port):
    """Issue 9, defect 10: a 400 to a HEAD has no content (RFC 9110 §9.3.2)."""
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    answer = _exchange(http_port, b"HEAD / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.endswith(b"\r\n\r\n"), answer
    answer = _exchange(http_port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.endswith(b"\r\n\r\n400 Bad Request\n"), answer


def test_error_answer_after_a_head_on_a_kept_connection_has_its_body(start_drover, http_port):
    """Issue 9, defect 10: the codec's part is unit-tested (Http.ErrorAfterAHeadRequestHasItsBody)."""
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    answer = _exchange(http_port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    first, _, rest = answer.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 "), answer
    assert rest.startswith(b"HTTP/1.1 400 ") and rest.endswith(b"\r\n\r\n400 Bad Request\n"), answer


def test_thousands_of_tiny_headers_are_431_at_once(start_drover, http_port):
    """Issue 9, defect 5: 13 000 tiny fields within max_header_size are refused
    at the 101st, in far less than the second the quadratic merge took."""
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", *app_args(), workers=1)
    t0 = time.monotonic()
    answer = _exchange(http_port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"a:\r\n" * 13000 + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert time.monotonic() - t0 < 5  # the quadratic merge took a second of CPU per such request
    hundred = b"Host: x\r\nConnection: close\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(98))
    assert _exchange(http_port, b"GET / HTTP/1.1\r\n" + hundred + b"\r\n").startswith(b"HTTP/1.1 200 ")


def test_max_header_size_above_80k_is_honoured(start_drover, http_port, tmp_path):
    """http-parser capped a head at 80 KiB whatever max_header_size said."""
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "basic_app"\npythonpath = ["%s"]\nworkers = 1\nbind = ["127.0.0.1:%d"]\n'
                   'max_header_size = "256K"\n[metrics]\naddress = ""\n' % (APPS, http_port))
    start_drover("-c", str(cfg), workers=1)
    assert requests.get(url(http_port), headers={"X-Big": "x" * 200000}, timeout=10).status_code == 200
    assert requests.get(url(http_port), headers={"X-Big": "x" * 270000}, timeout=10).status_code == 431
