"""KEPT-CONNECTION HAND-OFF (DESIGN.md, "Processes"): an idle kept FastCGI
connection held by a busy worker must not make a request wait while another
worker is idle.

This test proves the hand-off of idle kept connections from a busy worker to
the master and on to an idle worker: without it (as at f9d24ea~1) it fails,
the quick requests waiting behind the slow one.

nginx (etc/nginx/drover-fastcgi.conf: upstream keepalive 16 and
fastcgi_keep_conn on) keeps an upstream pool. The pool is arranged so that the
connections nginx will pick first are idle connections of the worker that
then becomes busy with a 2 s request: nginx's pool is last-in first-out, and
a worker busy in the application accepts nothing, so which worker a new
connection lands on can be steered. Then 20 quick requests go through nginx;
they must all be answered while the slow request is still running (the slow
request's app writes a marker file when it ends; the marker must still be
absent when the quick ones have all returned). No timing threshold."""
import threading

import requests

from conftest import wait_until
from frontends import make_stack  # noqa: F401,F811  (fixture)
from test_fastcgi import Client, request  # raw FastCGI client


def _busy_directly(address, gate, streaming):
    """A request straight to drover (not through nginx) that keeps its
    worker busy until the gate file exists: its app sends one chunk, then
    waits for the gate."""
    host, port = address.split(":")
    with Client((host, int(port)), timeout=60) as c:
        c.send(request(1, {"SCRIPT_NAME": "/stream", "QUERY_STRING": "n=2&gate=%s" % gate}))
        c.read_record()
        streaming.set()
        c.read_response(1)


def _concurrently(url, n, params):
    results = [None] * n

    def one(i):
        try:
            results[i] = requests.get(url, params=params, timeout=60)
        except Exception as e:  # checked in the caller's thread
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for r in results:
        assert isinstance(r, requests.Response) and r.status_code == 200, r
    return results


def test_quick_requests_are_not_held_behind_a_busy_workers_idle_kept_connections(make_stack, tmp_path):  # noqa: F811
    stack = make_stack("nginx-fastcgi-tcp-keepconn", workers=2)
    url = stack.url

    # 1. Worker X is busy with a direct request; meanwhile nginx opens four
    #    pooled connections, which only worker Y can accept.
    gate = tmp_path / "gate"
    streaming = threading.Event()
    direct = threading.Thread(target=_busy_directly, args=(stack.upstream, gate, streaming))
    direct.start()
    try:
        assert streaming.wait(30), "the direct request did not start"
        answers = _concurrently(url("/app/sleep"), 4, {"s": "0.1"})
    finally:
        gate.write_text("open")
        direct.join(60)
    y = {int(r.text.split()[1]) for r in answers}
    assert len(y) == 1, y
    y = y.pop()
    assert len(stack.drover.live_worker_pids()) == 2 and y in stack.drover.live_worker_pids()

    # 2. Five concurrent requests: four take Y's pooled connections (Y serves
    #    them in turn), the fifth needs a new connection, which idle X
    #    accepts and finishes first. Last in, first out, the pool then holds
    #    Y's four connections on top of X's one.
    _concurrently(url("/app/sleep"), 5, {"s": "0.3"})

    # 3. The slow request takes the connection on top of the pool: Y's.
    slow_started, slow_done = tmp_path / "slow-started", tmp_path / "slow-done"
    slow = {}
    slow_thread = threading.Thread(target=lambda: slow.update(r=requests.get(
        url("/app/sleep"), params={"s": "2", "started": str(slow_started), "done": str(slow_done)}, timeout=60)))
    slow_thread.start()
    wait_until(slow_started.exists, 30, what="the slow request to start")
    busy = int(slow_started.read_text())

    # 4. The next connections in the pool are idle ones of the busy worker.
    pids = []
    with requests.Session() as s:
        for i in range(20):
            r = s.get(url("/app/pid"), params={"i": str(i)}, timeout=60)
            assert r.status_code == 200
            pids.append(int(r.text))
    still_running = not slow_done.exists()
    slow_thread.join(60)
    assert slow["r"].status_code == 200
    assert still_running, ("the quick requests waited for the slow one: the busy worker %d held them "
                           "(quick ones served by %s)" % (busy, sorted(set(pids))))
    assert busy not in pids
