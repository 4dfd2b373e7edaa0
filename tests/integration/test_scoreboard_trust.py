"""The master does not trust the scoreboard its workers write (issue 9,
defect 7).

A test app overwrites the whole shared scoreboard from inside a worker,
header and every slot, with random bytes and with patterns chosen to hit
each check (zeros: counters that go down and a slot count of 0; 0xff:
counters past any real count; 0xdeadbeef: state words outside the enum).
After each, the master is alive, /metrics answers and passes promtool with
no counter lower than before, /healthz and /status answer, and after a
worker is killed and reaped the counters still have not gone down. The pool
keeps serving throughout."""
import json
import os
import signal
import subprocess

import pytest
import requests

from conftest import app_args, free_port, wait_until

PROMTOOL = "/usr/bin/promtool"
MONOTONIC_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
ROUNDS = [("random", 1), ("zero", 0), ("random", 2), ("ones", 0), ("states", 0), ("random", 3)]


def get(port, path):
    return requests.get("http://127.0.0.1:%d%s" % (port, path), timeout=10)


def counters(text):
    """The monotonic pool-wide samples: {(name, labels): value}. Per-worker
    series (pid labels) come and go with their worker and are left out."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("drover_") and s.name.endswith(MONOTONIC_SUFFIXES) and "pid" not in s.labels:
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def check_master(d, mport, last):
    """The master is alive and every endpoint answers sanely; returns the counters."""
    assert d.proc.poll() is None, "the master died:\n" + d.log()[-3000:]
    try:
        r = get(mport, "/metrics")
    except requests.ConnectionError as e:
        try:
            status = d.proc.wait(2)
        except subprocess.TimeoutExpired:
            status = None
        raise AssertionError("/metrics failed (%s); master exit status %s" % (e, status))
    assert r.status_code == 200, r.text
    if os.access(PROMTOOL, os.X_OK):
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=r.content, capture_output=True, timeout=30)
        assert lint.returncode == 0 and lint.stdout == b"" and lint.stderr == b"", (lint.stdout, lint.stderr)
    now = counters(r.text)
    went_down = {k: (v, now.get(k)) for k, v in last.items() if now.get(k, -1) < v}
    assert not went_down, went_down
    h = get(mport, "/healthz")
    assert h.status_code in (200, 503), h.text
    s = get(mport, "/status")
    assert s.status_code == 200
    for w in json.loads(s.text)["workers"]:
        assert w["state"] in ("starting", "idle", "busy", "stopping", "unknown"), w
        assert len(w["request"]) < 96 and w["request_duration"] >= 0, w
    return now


def serves(port):
    try:
        r = get(port, "/")
    except requests.RequestException:
        return False
    return r.status_code == 200 and r.text == "hello from drover\n"


def test_a_worker_scribbling_on_the_scoreboard_cannot_crash_or_mislead_the_master(start_drover, http_port):
    mport = free_port()
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "2", "--metrics", "127.0.0.1:%d" % mport,
                     *app_args("scribble_app"), workers=2)
    found = get(http_port, "/scoreboard").json()
    assert len(found["mappings"]) == 1 and found["magic"], found  # the test scribbles on the right thing

    for _ in range(10):
        assert serves(http_port)
    wait_until(lambda: sum(v for (n, _), v in counters(get(mport, "/metrics").text).items()
                           if n == "drover_requests_total") >= 11, 10, what="the requests to be counted")
    last = check_master(d, mport, {})

    for mode, seed in ROUNDS:
        r = get(http_port, "/scribble?mode=%s&seed=%d" % (mode, seed))
        assert r.status_code == 200 and r.text.startswith("scribbled"), r.text
        last = check_master(d, mport, last)
        if mode == "states":
            # The master saw the scribble: a worker that has not served since
            # has a state word outside the enum, shown as such.
            states = [w["state"] for w in get(mport, "/status").json()["workers"]]
            assert "unknown" in states, states
        # The workers write their own slots again as they serve.
        wait_until(lambda: serves(http_port), 10, what="the pool to serve after scribbling (%s)" % mode)
        last = check_master(d, mport, last)

    # A reaped worker's counters are folded as checked, never below what
    # /metrics showed.
    get(http_port, "/scribble?mode=zero")
    victim = int(get(http_port, "/pid").text)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in d.live_worker_pids() and len(d.live_worker_pids()) == 2, 15,
               what="the killed worker to be replaced")
    last = check_master(d, mport, last)

    for _ in range(20):
        assert wait_until(lambda: serves(http_port), 10, what="the pool to serve")
    wait_until(lambda: get(mport, "/healthz").status_code == 200, 15, what="/healthz 200 again")
    check_master(d, mport, last)
    assert d.proc.poll() is None
