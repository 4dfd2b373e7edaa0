"""Process supervision against real processes: crashes, request timeouts,
recycling limits, crash-loop backoff, reloads (and their rollback), scaling
by signal and by pm mode, graceful stop with a full listen queue, log
reopening and the access log.

Every test waits on a condition (a log line, /proc, an answer), never a fixed
sleep; every client load is bounded in request count and in time."""
import os
import re
import signal
import socket
from pathlib import Path

import pytest
import requests

from conftest import (Gated, Load, alive, config_text, get_pid, hup_every_second_under_wrk, marks, recv_all, url,
                      wait_until)

APP = "sup_app:application"


# ---------------------------------------------------------------- 1. kill -9

def test_kill_9_of_a_busy_worker_fails_only_its_requests(sup):
    d = sup(workers=2)
    before = set(d.live_worker_pids())
    load = Load(d.port, concurrency=8, total=2000, seconds=60, keep_alive=True)
    wait_until(lambda: load.ok >= 300 or load.done(), 30, what="300 requests served")
    victim = max(load.pids(), key=lambda p: sum(1 for _, b in load.answers if int(b) == p))
    assert victim in before
    os.kill(victim, signal.SIGKILL)

    def replacement():
        live = set(d.live_worker_pids())
        new = (live - before) & set(d.ready_pids())
        return victim not in live and new and next(iter(new))
    new_pid = wait_until(replacement, 2, what="a ready replacement within 2 s of the kill")
    load.join()
    assert load.issued == 2000
    # Only what the dead worker held can fail: at most one request per client
    # connection (8), and each of those is a reset, not an error status.
    assert len(load.failures) <= 8, load.failures
    assert load.ok == 2000 - len(load.failures)
    assert all("status" not in f for _, f in load.failures), load.failures
    d.wait_log(r"worker %d \(slot \d+, generation 1\) killed by signal 9 \(SIGKILL\) after [0-9.]+ s; replacing it"
               % victim)
    # and the replacement serves
    wait_until(lambda: get_pid(d.port) == new_pid, 10, what="the replacement %d to answer" % new_pid)
    assert not alive(victim)


# ---------------------------------------------------------------- 2. timeout

def test_request_timeout_logs_traceback_and_replaces_the_worker(sup):
    d = sup(ready=1, workers=1, timeout=1)
    victim = get_pid(d.port)
    with pytest.raises(requests.ConnectionError):
        requests.get(url(d.port, "/hang?s=30"), timeout=20)
    summary = (r"request timeout: worker %d \(slot \d+, generation 1\) has been busy for [0-9.]+ s "
               r"\(timeout 1\.000 s\) on 'http GET /hang\?s=30'; its traceback follows" % victim)
    d.wait_log(summary)
    trace = r'File "[^"]*sup_app\.py", line \d+ in sleepy_handler'
    d.wait_log(trace)
    log = d.log()
    assert re.search(summary, log).start() < re.search(trace, log).start(), log[-3000:]
    d.wait_log(r"worker %d \(slot \d+, generation 1\) killed by signal 9 \(SIGKILL\)" % victim)
    assert not alive(victim)
    new_pid = wait_until(lambda: (lambda p: p != victim and p)(get_pid(d.port)), 10, what="a new worker to answer")
    assert new_pid in d.live_worker_pids()


# ---------------------------------------------------------------- 3. slow request

def test_slow_request_logs_traceback_once_and_completes(sup):
    d = sup(ready=1, workers=1, slow_request_timeout=0.3, timeout=30)
    pid = get_pid(d.port)
    slow = r"slow request: worker %d \(slot \d+, generation 1\) has been busy for [0-9.]+ s on '(http GET /slow\?s=[0-9.]+)'; its traceback follows" % pid
    trace = r'File "[^"]*sup_app\.py", line \d+ in slow_handler'

    r = requests.get(url(d.port, "/slow?s=1.5"), timeout=20)
    assert r.status_code == 200 and r.text == "slow done %d\n" % pid
    d.wait_log(trace)
    assert re.findall(slow, d.log()) == ["http GET /slow?s=1.5"], d.log()[-3000:]

    r = requests.get(url(d.port, "/slow?s=1.2"), timeout=20)
    assert r.status_code == 200
    d.wait_log(trace, count=2)
    # once per request: the second request adds exactly one line
    assert re.findall(slow, d.log()) == ["http GET /slow?s=1.5", "http GET /slow?s=1.2"], d.log()[-3000:]
    assert get_pid(d.port) == pid  # logged, not killed
    assert "request timeout" not in d.log()


# ---------------------------------------------------------------- 4. recycling

def recycled(d, reason, pid=None, count=1):
    """Waits for `count` workers to be recycled for `reason`: the log line,
    then their clean exit. Returns the recycled pids."""
    who = r"worker (%s) \(slot \d+, generation \d+\)" % (pid or r"\d+")
    d.wait_log(who + r" reached %s: replacing it once a new worker is ready" % reason, timeout=30, count=count)
    pids = [int(p) for p in re.findall(who + " reached %s" % reason, d.log())]
    for p in pids[:count]:
        d.wait_log(r"worker %d \(slot \d+, generation \d+\) exited with code 0 after [0-9.]+ s \(%s\)" % (p, reason),
                   timeout=30)
    return pids[:count]


def assert_clean_recycling(d, load, old_pids, recycled_pids):
    try:
        wait_until(lambda: load.pids() - old_pids, 10, what="a new worker to serve under the load")
    except AssertionError as e:
        raise AssertionError("%s; failures %r\n%s" % (e, load.failures[:5], d.log()[-4000:]))
    load.stop()
    assert load.failures == [], load.failures[:10]
    assert load.ok > 0
    new = load.pids() - old_pids
    assert new, "no new worker served"
    for p in recycled_pids:
        assert not alive(p)


# Each load once with a new connection per request, once with kept-alive
# sessions (a stopping worker's idle kept connections must not be reset).
KEEP_ALIVE = pytest.mark.parametrize("keep_alive", [False, True], ids=["close", "keepalive"])


@KEEP_ALIVE
def test_max_requests_recycles_without_failures(sup, keep_alive):
    d = sup(workers=2, max_requests=25, max_requests_jitter=0)
    before = set(d.live_worker_pids())
    load = Load(d.port, concurrency=4, total=3000, seconds=60, keep_alive=keep_alive)
    pids = recycled(d, "max_requests", count=2)
    assert_clean_recycling(d, load, before, pids)
    assert pids[0] in before
    # The load is the only client: a worker recycled for max_requests served
    # at least 25 of its requests (more while its replacement started).
    for p in pids:
        assert sum(1 for _, body in load.answers if int(body) == p) >= 25, p


@KEEP_ALIVE
def test_max_rss_recycles_without_failures(sup, keep_alive):
    d = sup(workers=2, max_rss=60)
    before = set(d.live_worker_pids())
    load = Load(d.port, concurrency=4, total=5000, seconds=60, keep_alive=keep_alive)
    r = requests.get(url(d.port, "/alloc?mib=80"), headers={"Connection": "close"}, timeout=20)
    assert r.status_code == 200
    fat = int(r.text)
    pids = recycled(d, "max_rss", pid=fat)
    assert pids == [fat]
    assert_clean_recycling(d, load, before, pids)


@KEEP_ALIVE
def test_max_lifetime_recycles_without_failures(sup, keep_alive):
    d = sup(workers=2, max_lifetime=2)
    before = set(d.live_worker_pids())
    load = Load(d.port, concurrency=4, total=5000, seconds=60, keep_alive=keep_alive)
    pids = recycled(d, "max_lifetime", count=2)
    assert set(pids) == before
    assert_clean_recycling(d, load, before, pids)


# ---------------------------------------------------------------- 5. crash loop

FIXABLE_BROKEN = 'raise ImportError("fixable_app is broken on purpose")\n'
FIXABLE_FIXED = '''import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fixed %d" % os.getpid()]
'''


def timestamp(line):
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z", line)
    assert m, line
    h, mi, s, ms = (int(x) for x in m.groups()[3:])
    return ((h * 60 + mi) * 60 + s) + ms / 1000


def test_app_failing_to_import_backs_off_then_serves_after_fix(sup, tmp_path):
    appdir = tmp_path / "app"
    appdir.mkdir()
    module = appdir / "fixable_app.py"
    module.write_text(FIXABLE_BROKEN)
    d = sup(wait=False, app="fixable_app:application", pythonpath=[appdir], workers=2)
    d.wait_log(r"before it was ready \(the application failed to load\); failure 4, next attempt in", timeout=30)
    assert d.proc.poll() is None  # the master stays up
    assert "ImportError: fixable_app is broken on purpose" in d.log()
    delays = [float(x) for x in re.findall(r"failure \d+, next attempt in ([0-9.]+) s", d.log())]
    assert all(b > a for a, b in zip(delays[:4], delays[1:4])), delays
    # The attempts themselves are spaced further and further apart, and each
    # comes no earlier than the delay the master announced before it. (The
    # first attempt starts both workers at once: spawns within 0.1 s are one.)
    attempts, waited_for, delay = [], [], 0.0
    for line in d.log().splitlines():
        if "info: master: spawned worker" in line:
            t = timestamp(line)
            if not attempts or t - attempts[-1] > 0.1:
                attempts.append(t)
                waited_for.append(delay)
        m = re.search(r"next attempt in ([0-9.]+) s", line)
        if m:
            delay = float(m.group(1))
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert len(gaps) >= 2 and gaps[0] < gaps[1], (attempts, gaps)
    assert all(g >= w - 0.05 for g, w in zip(gaps, waited_for[1:])), (gaps, waited_for)

    module.write_text(FIXABLE_FIXED)
    d.signal(signal.SIGHUP)

    def served():
        try:
            r = requests.get(url(d.port, "/"), timeout=2)
            return r.status_code == 200 and r.text.startswith("fixed ")
        except requests.RequestException:
            return False
    wait_until(served, 15, what="the fixed app to serve")
    d.wait_log(r"reload: generation 2 is ready")


# ---------------------------------------------------------------- 6. reload

def test_sighup_every_second_under_wrk_loses_nothing(sup):
    d = sup(workers=2)
    out, hups = hup_every_second_under_wrk(url(d.port, "/pid"), lambda: d.signal(signal.SIGHUP))
    assert hups >= 5, out
    assert re.search(r"(\d+) requests in", out) and int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
    assert "Non-2xx or 3xx responses" not in out, out
    assert "Socket errors" not in out, out
    ok = re.findall(r"reload: generation (\d+) is ready; retiring generation (\d+)", d.log())
    assert len(ok) >= 3, d.log()[-3000:]
    assert "reload failed" not in d.log()


APP_V = '''import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s %%d" %% os.getpid()]
'''


def test_reload_serves_the_changed_app(sup, tmp_path):
    appdir = tmp_path / "app"
    appdir.mkdir()
    module = appdir / "versioned_app.py"
    module.write_text(APP_V % "v1")
    d = sup(app="versioned_app:application", pythonpath=[appdir], workers=2)
    old = set(d.live_worker_pids())
    r = requests.get(url(d.port), timeout=10)
    assert r.text.startswith("v1 ")
    # a different length too, so a cached .pyc of the same second never passes for it
    module.write_text(APP_V % "version-two")
    d.signal(signal.SIGHUP)
    wait_until(lambda: requests.get(url(d.port), headers={"Connection": "close"}, timeout=10)
               .text.startswith("version-two "), 15, what="v2 to answer")
    d.wait_log(r"reload: generation 2 is ready; retiring generation 1")
    wait_until(lambda: not (set(d.live_worker_pids()) & old), 15, what="generation 1 to exit")
    answers = [requests.get(url(d.port), headers={"Connection": "close"}, timeout=10).text for _ in range(10)]
    assert all(a.startswith("version-two ") for a in answers), answers


def test_reload_with_broken_config_keeps_the_old_workers(sup):
    d = sup(workers=2)
    old = set(d.live_worker_pids())
    assert len(old) == 2
    d.cfg.write_text(config_text(d.port, raw=['workers = "x"']))  # line 4, value at column 11
    d.signal(signal.SIGHUP)
    d.wait_log(r"SIGHUP: the configuration is invalid, the running generation keeps serving: "
               r"%s:4:11: workers: " % re.escape(str(d.cfg)))
    assert "reloading: starting generation" not in d.log()
    seen = {get_pid(d.port) for _ in range(20)}
    assert seen <= old, (seen, old)
    assert set(d.live_worker_pids()) == old


# ---------------------------------------------------------------- 7. scaling

def test_ttin_ttou_change_the_worker_count_by_one(sup):
    d = sup(workers=2)
    before = set(d.live_worker_pids())
    d.signal(signal.SIGTTIN)
    d.wait_log(r"SIGTTIN: 3 workers")
    wait_until(lambda: len(d.live_worker_pids()) == 3, 10, what="3 workers")
    added = set(d.live_worker_pids()) - before
    assert len(added) == 1
    d.wait_ready(3)

    d.signal(signal.SIGTTOU)
    d.wait_log(r"SIGTTOU: 2 workers")
    wait_until(lambda: len(d.live_worker_pids()) == 2, 10, what="2 workers")
    d.signal(signal.SIGTTOU)
    d.wait_log(r"SIGTTOU: 1 workers")
    wait_until(lambda: len(d.live_worker_pids()) == 1, 10, what="1 worker")
    assert get_pid(d.port) in d.live_worker_pids()


def test_dynamic_keeps_spare_workers_grows_to_max_and_shrinks(sup, tmp_path):
    d = sup(pm="dynamic", workers=2, min_spare=1, max_spare=2, max_workers=4)
    gated = Gated(d.port, tmp_path)
    assert len(d.live_worker_pids()) == 2
    peak = [0]

    def count(n):
        live = len(d.live_worker_pids())
        peak[0] = max(peak[0], live)
        return live == n

    # Two busy workers leave no spare: a third one is started.
    gated.start()
    gated.start()
    wait_until(lambda: count(3), 10, what="a spare worker next to the 2 busy ones")
    # The spare takes the third request and a fourth worker is started for
    # the fourth; the fifth and sixth wait in the listen queue: the pool stops
    # at max_workers.
    gated.start()
    gated.start()
    gated.start(busy=False)
    gated.start(busy=False)
    wait_until(lambda: count(4), 10, what="max_workers (4) workers")
    assert len(set(marks(gated.marker))) == 4
    assert gated.open() == [200] * 6
    # Four idle is above max_spare (2): back to 2.
    wait_until(lambda: count(2), 15, what="the pool to shrink to 2")
    assert peak[0] <= 4, peak
    assert len(re.findall(r"spawned worker", d.log())) == 4


def test_ondemand_spawns_on_first_request_and_reaps_idle(sup):
    d = sup(wait=False, pm="ondemand", max_workers=2, idle_timeout=1)
    d.wait_log(r"serving sup_app:application \(pm ondemand, 2 workers at most\)")
    assert d.live_worker_pids() == []
    assert "spawned worker" not in d.log()
    r = requests.get(url(d.port, "/pid"), timeout=30)
    assert r.status_code == 200
    pid = int(r.text)
    d.wait_log(r"worker %d \(slot \d+, generation 1\) idle for 1\.000 s: stopping it" % pid)
    wait_until(lambda: d.live_worker_pids() == [], 10, what="the idle worker to exit")
    assert not alive(pid)
    # and it comes back on demand
    assert requests.get(url(d.port, "/pid"), timeout=30).status_code == 200


def server_inode(port, client_port):
    """The socket inode of the server end of the connection from client_port
    (0 while it waits in the listen queue, unaccepted)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and int(f[2].split(":")[1], 16) == client_port:
            return int(f[9])
    return 0


def socket_owners(pids):
    """socket inode -> pid, over the open fds of pids."""
    owners = {}
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                m = re.match(r"socket:\[(\d+)\]$", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                continue
            if m:
                owners[int(m.group(1))] = pid
    return owners


def test_two_early_connections_are_served_at_once_by_two_workers(sup, tmp_path):
    """Two clients connect, and only once drover has accepted both do they
    send their (slow) requests. With two idle workers both run at once,
    whichever worker accepted which connection. Several rounds: the two land
    in one worker most of the time."""
    d = sup(workers=2)
    workers = d.live_worker_pids()
    for n in range(5):
        gate, marker = tmp_path / ("gate%d" % n), tmp_path / ("marker%d" % n)
        socks = [socket.create_connection(("127.0.0.1", d.port), timeout=30) for _ in range(2)]
        try:
            def accepted():
                owners = socket_owners(workers)
                inodes = [server_inode(d.port, s.getsockname()[1]) for s in socks]
                return all(i in owners for i in inodes) and [owners[i] for i in inodes]
            holders = wait_until(accepted, 10, what="both connections accepted by workers")
            for s in socks:
                s.sendall(b"GET /gate?gate=%s&marker=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          % (str(gate).encode(), str(marker).encode()))
            wait_until(lambda: len(marks(marker)) == 2, 5,
                       what="round %d: both requests running at once (connections held by workers %s)"
                       % (n, holders))
        finally:
            gate.write_text("open")
            answers = []
            for s in socks:
                answers.append(recv_all(s)[:12])
                s.close()
        assert answers == [b"HTTP/1.1 200"] * 2, answers


# ---------------------------------------------------------------- 8. rollback

def test_reload_whose_app_fails_to_import_rolls_back(sup, tmp_path):
    appdir = tmp_path / "app"
    appdir.mkdir()
    module = appdir / "versioned_app.py"
    module.write_text(APP_V % "v1")
    d = sup(app="versioned_app:application", pythonpath=[appdir], workers=2)
    old = set(d.live_worker_pids())
    load = Load(d.port, path="/", concurrency=4, total=5000, seconds=60, keep_alive=True)
    wait_until(lambda: load.ok >= 20, 10, what="the load to start")
    module.write_text('raise ImportError("the new version is broken")\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload failed: .*; generation 2 is rolled back and generation 1 keeps serving", timeout=30)
    served_at = load.ok
    wait_until(lambda: load.ok >= served_at + 20, 10, what="more requests after the rollback")
    load.stop()
    assert load.failures == [], load.failures[:10]
    assert all(body.startswith("v1 ") for _, body in load.answers)
    assert {int(body.split()[1]) for _, body in load.answers} <= old
    assert set(d.live_worker_pids()) == old
    assert "ImportError: the new version is broken" in d.log()
    # The generation went back to 1: the next reload is generation 2 again.
    module.write_text(APP_V % "version-three")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 is ready; retiring generation 1", timeout=30)
    wait_until(lambda: requests.get(url(d.port), headers={"Connection": "close"}, timeout=10)
               .text.startswith("version-three "), 15, what="the fixed version to answer")


# ---------------------------------------------------------------- 9. graceful stop drains

def test_sigterm_answers_every_queued_connection(sup, tmp_path):
    d = sup(workers=2)
    gated = Gated(d.port, tmp_path)
    gated.start()
    gated.start()  # both workers busy
    queued = []
    try:
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            queued.append(s)
            s.sendall(b"GET /pid?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i)
        d.signal(signal.SIGTERM)
        d.wait_log(r"SIGTERM: stopping gracefully")
        results = gated.open()
        answers = []
        for s in queued:
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            answers.append(data)
    finally:
        for s in queued:
            s.close()
    bad = [a[:80] for a in answers if not a.startswith(b"HTTP/1.1 200 ")]
    assert bad == [], "%d of 200 queued connections got no 200: %r" % (len(bad), bad[:5])
    assert results == [200, 200]
    assert d.wait_exit(30) == 0
    assert "killing" not in d.log()


# ---------------------------------------------------------------- 10. USR1

def test_sigusr1_reopens_error_and_access_logs(sup, tmp_path):
    err, acc = tmp_path / "error.log", tmp_path / "access.log"
    d = sup(wait=False, workers=2, log={"error": err, "access": acc})

    def text(p):
        try:
            return p.read_text()
        except FileNotFoundError:
            return ""

    def ready_workers():
        live = set(d.live_worker_pids())
        return len({int(p) for p in re.findall(r"\[(\d+)\] info: worker: ready", text(err))} & live) == 2
    wait_until(ready_workers, 30, what="2 ready workers in %s" % err)
    workers = set(d.live_worker_pids())
    assert requests.get(url(d.port, "/pid?before"), timeout=10).status_code == 200
    wait_until(lambda: "GET /pid?before " in text(acc), 5, what="the access log line")

    err.rename(tmp_path / "error.log.1")
    acc.rename(tmp_path / "access.log.1")
    d.signal(signal.SIGUSR1)
    wait_until(lambda: "SIGUSR1: log files reopened" in text(err), 10, what="the master's line in the new error log")
    assert "SIGUSR1" not in text(tmp_path / "error.log.1")

    # Each worker reopens when it gets the master's SIGUSR1: poll until both
    # write to the new access log.
    n = [0]

    def both_reopened():
        n[0] += 1
        assert n[0] < 500, "workers did not reopen the access log"
        requests.get(url(d.port, "/pid?poll"), headers={"Connection": "close"}, timeout=10)
        return {int(p) for p in re.findall(r" (\d+) http\n", text(acc))} == workers
    wait_until(both_reopened, 10, what="both workers in the new access log")
    old_acc = text(tmp_path / "access.log.1")
    for i in range(20):
        assert requests.get(url(d.port, "/pid?after=%d" % i), headers={"Connection": "close"}, timeout=10).ok
    wait_until(lambda: all("GET /pid?after=%d " % i in text(acc) for i in range(20)), 5, what="20 lines")
    assert text(tmp_path / "access.log.1") == old_acc
    # a worker's error-log line lands in the new file too
    assert requests.get(url(d.port, "/error"), timeout=10).status_code == 500
    wait_until(lambda: "RuntimeError: boom from sup_app" in text(err), 5, what="the worker's traceback")
    assert "boom from sup_app" not in text(tmp_path / "error.log.1")


# ---------------------------------------------------------------- 11. access log

ACCESS_RE = re.compile(
    r'^(?P<remote>\S+) - - \[(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] '
    r'"(?P<method>[A-Z]+) (?P<uri>\S+) (?P<proto_version>HTTP/1\.[01])" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<ms>\d+\.\d{3}) (?P<pid>\d+) (?P<protocol>http|fastcgi|scgi)$')


def test_access_log_has_one_line_per_request(sup, tmp_path):
    acc = tmp_path / "access.log"
    d = sup(workers=2, log={"access": acc})
    sent = [
        ("GET", "/pid?q=1", 200),
        ("GET", "/nope", 404),
        ("POST", "/pid", 200),
        ("GET", "/slow?s=0.2", 200),
        ("GET", "/error", 500),
    ]
    bodies = {}
    for method, path, status in sent:
        r = requests.request(method, url(d.port, path), headers={"User-Agent": "sup-test/1",
                                                                "Connection": "close"}, timeout=10)
        assert r.status_code == status
        bodies[path] = r.content
    wait_until(lambda: acc.exists() and acc.read_text().count("\n") >= len(sent), 5, what="5 access lines")
    lines = acc.read_text().splitlines()
    assert len(lines) == len(sent), lines
    parsed = {}
    for line in lines:
        m = ACCESS_RE.match(line)
        assert m, line
        parsed[m["uri"]] = m
    workers = set(d.live_worker_pids())
    for method, path, status in sent:
        m = parsed[path]
        assert m["method"] == method
        assert int(m["status"]) == status
        assert m["remote"] == "127.0.0.1"
        assert m["proto_version"] == "HTTP/1.1"
        assert m["protocol"] == "http"
        assert m["agent"] == "sup-test/1"
        assert int(m["pid"]) in workers
        if status == 200:
            assert int(m["bytes"]) == len(bodies[path]), (line, bodies[path])
    assert int(parsed["/pid?q=1"]["pid"]) == int(bodies["/pid?q=1"])
    # duration in milliseconds: the 0.2 s request took at least 200 ms
    assert float(parsed["/slow?s=0.2"]["ms"]) >= 200.0
    assert float(parsed["/pid?q=1"]["ms"]) < float(parsed["/slow?s=0.2"]["ms"])
