"""drover's monitoring endpoints end to end (issue: Prometheus metrics).

The real binary serves HTTP, FastCGI and SCGI (driven here by small clients
written in this file, so no web server is needed); the tests read /metrics,
/healthz and /status from the master and hold the exposition against
promtool, prometheus_client's parser and a real Prometheus server."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import APPS, app_args, free_port, wait_until
from metrics_clients import fastcgi_request, http_request, scgi_request

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
PROTOCOLS = ("http", "fastcgi", "scgi")
MONOTONIC_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


# ---------------------------------------------------------------- helpers

def url(port, path="/"):
    return "http://127.0.0.1:%d%s" % (port, path)


def scrape(mport):
    r = requests.get(url(mport, "/metrics"), timeout=10)
    assert r.status_code == 200, r.text
    return r


def samples(text):
    """{(sample name, frozenset(labels)): value} for every sample, via prometheus_client."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, "duplicate sample %s" % (key,)
            out[key] = s.value
    return out


def metrics(mport):
    return samples(scrape(mport).text)


def value(m, name, **labels):
    return m[(name, frozenset(labels.items()))]


def requests_by_class(m, protocol):
    return {cls: value(m, "drover_requests_total", protocol=protocol, status_class=cls)
            for cls in ("1xx", "2xx", "3xx", "4xx", "5xx")}


def requests_sum(m, protocol):
    return sum(requests_by_class(m, protocol).values())


def wait_requests(mport, protocol, total, timeout=10):
    """A worker records a request just after its last byte went out, so the
    client can see the answer a moment before the counter: wait for it."""
    return wait_until(lambda: (lambda m: requests_sum(m, protocol) >= total and m)(metrics(mport)),
                      timeout, what="drover_requests_total{protocol=%r} to reach %d" % (protocol, total))


def start_metrics_drover(start_drover, *binds, workers=2, app="basic_app", extra=(), **kw):
    mport = free_port()
    args = []
    for b in binds:
        args += ["-b", b]
    args += ["-w", str(workers), "--metrics", "127.0.0.1:%d" % mport, *extra, *app_args(app)]
    d = start_drover(*args, workers=workers, **kw)
    return d, mport


def healthz(mport):
    try:
        r = requests.get(url(mport, "/healthz"), timeout=5)
    except requests.ConnectionError:
        return None
    return r.status_code, r.text


# ---------------------------------------------------------------- the exposition format

def test_metrics_format_promtool_and_parser(start_drover, http_port):
    d, mport = start_metrics_drover(start_drover, "127.0.0.1:%d" % http_port)
    for path in ("/", "/nope", "/error"):
        requests.get(url(http_port, path), timeout=10)
    wait_requests(mport, "http", 3)
    r = scrape(mport)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    text = r.text
    assert text.endswith("\n")

    # HELP and TYPE before the samples of every family, each family in one group
    helps, types, seen_families, current = {}, {}, [], None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helps, "second HELP for " + name
            helps[name] = line
            current = name
            seen_families.append(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current, "TYPE %s not right after its HELP" % name
            types[name] = kind
        else:
            sample_name = line.split("{")[0].split(" ")[0]
            base = current
            assert base is not None and (sample_name == base or (
                types[base] == "histogram" and sample_name in (base + "_bucket", base + "_sum", base + "_count"))), \
                "sample %s outside its family (current %s)" % (sample_name, current)
    assert set(helps) == set(types)
    assert len(seen_families) == len(set(seen_families))

    lint = subprocess.run([PROMTOOL, "check", "metrics"], input=r.content, capture_output=True, timeout=30)
    assert lint.returncode == 0 and lint.stdout == b"" and lint.stderr == b"", (lint.stdout, lint.stderr)

    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind in types.items():
        parsed = name[:-len("_total")] if kind == "counter" and name.endswith("_total") else name
        assert parsed in families and families[parsed].type == kind, name

    m = samples(text)
    build = [labels for (name, labels) in m if name == "drover_build_info"]
    assert len(build) == 1
    build_labels = dict(build[0])
    assert build_labels["version"] and build_labels["python"].startswith("3."), build_labels
    assert value(m, "drover_build_info", **build_labels) == 1
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                 "process_start_time_seconds", "process_open_fds", "process_max_fds"):
        assert (name, frozenset()) in m, name
    assert value(m, "process_resident_memory_bytes") > 0
    assert abs(value(m, "process_start_time_seconds") - time.time()) < 600
    assert value(m, "drover_workers", state="idle") + value(m, "drover_workers", state="busy") == 2
    worker_pids = {dict(labels)["pid"] for (name, labels) in m if name == "drover_worker_resident_memory_bytes"}
    assert worker_pids == {str(p) for p in d.live_worker_pids()}

    # HEAD answers the same headers with no body; other methods are refused
    head = requests.head(url(mport, "/metrics"), timeout=10)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) > 0
    assert requests.post(url(mport, "/metrics"), timeout=10).status_code == 405
    assert requests.get(url(mport, "/nothing"), timeout=10).status_code == 404


def test_metrics_on_ipv6_loopback(start_drover, http_port):
    mport = free_port(socket.AF_INET6, "::1")
    start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", "--metrics", "[::1]:%d" % mport, *app_args(), workers=1)
    r = requests.get("http://[::1]:%d/metrics" % mport, timeout=10)
    assert r.status_code == 200 and "drover_build_info{" in r.text
    assert requests.get("http://[::1]:%d/healthz" % mport, timeout=10).status_code == 200


# ---------------------------------------------------------------- exact counters, per protocol

# (method, path, query, body, expected status class). Every body is one the
# app reads whole: drover counts the body bytes it read, and over HTTP and SCGI
# it closes rather than reads a body the app ignored, so how much of an
# ignored body was counted depends on how the client's packets fell.
WORKLOAD = [
    ("GET", "/", "", b"", "2xx"),
    ("GET", "/", "", b"", "2xx"),
    ("POST", "/echo", "", b"x" * 1000, "2xx"),
    ("POST", "/echo", "", os.urandom(70000), "2xx"),
    ("GET", "/stream", "n=3", b"", "2xx"),
    ("GET", "/missing", "", b"", "4xx"),
    ("GET", "/missing", "", b"", "4xx"),
    ("GET", "/missing", "a=b", b"", "4xx"),
    ("POST", "/echo", "", b"", "2xx"),
    ("GET", "/error", "", b"", "5xx"),
    ("GET", "/pid", "", b"", "2xx"),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_request_counters_are_exact(start_drover, tmp_path, protocol):
    if protocol == "http":
        port = free_port()
        bind, client = "127.0.0.1:%d" % port, lambda *a: http_request(port, *a)
    elif protocol == "fastcgi":
        sock = str(tmp_path / "fcgi.sock")
        bind, client = "fastcgi://unix:%s" % sock, lambda *a: fastcgi_request(sock, *a)
    else:
        port = free_port()
        bind, client = "scgi://127.0.0.1:%d" % port, lambda *a: scgi_request(("127.0.0.1", port), *a)
    d, mport = start_metrics_drover(start_drover, bind)

    before = metrics(mport)
    sent = received = 0
    classes = {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
    for method, path, query, body, cls in WORKLOAD:
        status, answer = client(method, path, query, body)
        assert "%dxx" % (status // 100) == cls, (method, path, status, answer[:200])
        if path == "/echo":
            assert answer == body
        sent += len(body)
        received += len(answer)
        classes[cls] += 1
    n = len(WORKLOAD)

    wait_requests(mport, protocol, requests_sum(before, protocol) + n)
    after = metrics(mport)
    assert requests_sum(after, protocol) - requests_sum(before, protocol) == n
    rb, ra = requests_by_class(before, protocol), requests_by_class(after, protocol)
    assert {c: ra[c] - rb[c] for c in ra} == classes
    for other in PROTOCOLS:
        if other != protocol:
            assert requests_sum(after, other) == requests_sum(before, other) == 0

    count = value(after, "drover_request_duration_seconds_count", protocol=protocol)
    assert count == requests_sum(after, protocol)
    assert value(after, "drover_request_duration_seconds_bucket", protocol=protocol, le="+Inf") == count
    assert value(after, "drover_request_duration_seconds_sum", protocol=protocol) > 0
    assert value(after, "drover_request_bytes_total", protocol=protocol) - \
        value(before, "drover_request_bytes_total", protocol=protocol) == sent
    assert value(after, "drover_response_bytes_total", protocol=protocol) - \
        value(before, "drover_response_bytes_total", protocol=protocol) == received
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in after.items()
                     if name == "drover_request_duration_seconds_bucket" and dict(labels)["protocol"] == protocol)
    assert len(buckets) == 16 and buckets[-1] == (float("inf"), count)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    # one connection per request here (no keep-alive), each accepted once
    assert value(after, "drover_accepted_connections_total") - value(before, "drover_accepted_connections_total") == n
    assert value(after, "drover_requests_in_flight") == 0

    # and it stays exact: nothing is counted late or twice
    again = metrics(mport)
    assert requests_by_class(again, protocol) == ra
    assert value(again, "drover_request_duration_seconds_count", protocol=protocol) == count


# ---------------------------------------------------------------- monotonic across a crash

def monotonic_samples(m):
    return {k: v for k, v in m.items() if k[0].endswith(MONOTONIC_SUFFIXES)}


def test_kill_9_counts_one_crash_and_no_counter_goes_down(start_drover, tmp_path):
    port = free_port()
    sock = str(tmp_path / "scgi.sock")
    d, mport = start_metrics_drover(start_drover, "127.0.0.1:%d" % port, "scgi://unix:%s" % sock)
    for method, path, query, body, _ in WORKLOAD:
        http_request(port, method, path, query, body)
        scgi_request(sock, method, path, query, body)
    victim = int(http_request(port, "GET", "/pid")[1])
    wait_requests(mport, "http", len(WORKLOAD) + 1)
    wait_requests(mport, "scgi", len(WORKLOAD))
    status = requests.get(url(mport, "/status"), timeout=10).json()
    victim_row = [w for w in status["workers"] if w["pid"] == victim]
    assert victim_row and victim_row[0]["requests"] >= 1  # its counts are in the slot the crash folds

    before = metrics(mport)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: value(metrics(mport), "drover_worker_restarts_total", reason="crash") >= 1, 10,
               what="the crash to be counted")

    def replaced():
        live = set(d.live_worker_pids())
        return victim not in live and len(live) == 2 and (healthz(mport) or (0,))[0] == 200
    wait_until(replaced, 15, what="a replacement worker")
    after = metrics(mport)

    assert value(after, "drover_worker_restarts_total", reason="crash") - \
        value(before, "drover_worker_restarts_total", reason="crash") == 1
    for reason in ("timeout", "max_requests", "max_rss", "max_lifetime", "reload", "scale_down"):
        assert value(after, "drover_worker_restarts_total", reason=reason) == \
            value(before, "drover_worker_restarts_total", reason=reason)

    went_down = {k: (v, after[k]) for k, v in monotonic_samples(before).items() if k in after and after[k] < v}
    assert not went_down, went_down
    # Only the dead worker's own series may vanish; every pool-wide one is still there.
    vanished = [k for k in monotonic_samples(before) if k not in after]
    assert all(dict(labels).get("pid") == str(victim) for _, labels in vanished), vanished
    # The reaped worker's requests were folded, not lost: nothing was served
    # in between, so the request counters are exactly where they were.
    for protocol in PROTOCOLS:
        assert requests_by_class(after, protocol) == requests_by_class(before, protocol)
        for name in ("drover_request_bytes_total", "drover_response_bytes_total",
                     "drover_request_duration_seconds_count", "drover_request_duration_seconds_sum"):
            assert value(after, name, protocol=protocol) == value(before, name, protocol=protocol), name
    assert value(after, "drover_accepted_connections_total") == value(before, "drover_accepted_connections_total")


def test_reload_keeps_counters_monotonic(start_drover, http_port):
    d, mport = start_metrics_drover(start_drover, "127.0.0.1:%d" % http_port)
    for method, path, query, body, _ in WORKLOAD:
        http_request(http_port, method, path, query, body)
    wait_requests(mport, "http", len(WORKLOAD))
    before = metrics(mport)
    old_pids = set(d.live_worker_pids())

    d.signal(signal.SIGHUP)

    def reloaded():
        status = requests.get(url(mport, "/status"), timeout=10).json()
        workers = status["workers"]
        return (status["pool"]["generation"] == 2 and len(workers) == 2 and
                all(w["generation"] == 2 and w["state"] == "idle" for w in workers) and
                not old_pids & set(d.live_worker_pids()))
    wait_until(reloaded, 30, interval=0.1, what="generation 2 to replace generation 1")
    after = metrics(mport)

    assert value(after, "drover_generation") == 2
    assert value(after, "drover_reloads_total", result="success") == 1
    assert value(after, "drover_reloads_total", result="failure") == 0
    assert value(after, "drover_worker_restarts_total", reason="reload") - \
        value(before, "drover_worker_restarts_total", reason="reload") == 2
    assert value(after, "drover_worker_restarts_total", reason="crash") == 0
    went_down = {k: (v, after[k]) for k, v in monotonic_samples(before).items() if k in after and after[k] < v}
    assert not went_down, went_down
    assert requests_by_class(after, "http") == requests_by_class(before, "http")
    assert value(after, "drover_response_bytes_total", protocol="http") == \
        value(before, "drover_response_bytes_total", protocol="http")


# ---------------------------------------------------------------- a real Prometheus server

def test_prometheus_scrapes_drover(start_drover, http_port, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus is not installed (scripts/install-deps.sh)")
    d, mport = start_metrics_drover(start_drover, "127.0.0.1:%d" % http_port)
    for _ in range(5):
        requests.get(url(http_port), timeout=10)
    wait_requests(mport, "http", 5)

    pport = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: drover\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % mport)
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([PROMETHEUS, "--config.file=%s" % config, "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"],
                            stdout=log, stderr=log, cwd=str(tmp_path), start_new_session=True)
    try:
        def query(q):
            if prom.poll() is not None:
                raise AssertionError("prometheus exited: %s" % (tmp_path / "prometheus.log").read_text()[-3000:])
            try:
                r = requests.get("http://127.0.0.1:%d/api/v1/query" % pport, params={"query": q}, timeout=5)
            except requests.ConnectionError:
                return None
            if r.status_code != 200:
                return None
            body = r.json()
            assert body["status"] == "success", body
            return body["data"]["result"]

        build = wait_until(lambda: query("drover_build_info"), 60, interval=0.25,
                           what="Prometheus to have scraped drover_build_info")
        assert build[0]["metric"]["job"] == "drover"
        assert build[0]["metric"]["instance"] == "127.0.0.1:%d" % mport
        assert build[0]["value"][1] == "1"
        up = query('up{job="drover"}')
        assert len(up) == 1 and up[0]["value"][1] == "1", up
        got = query('drover_requests_total{protocol="http",status_class="2xx"}')
        assert len(got) == 1 and float(got[0]["value"][1]) >= 5, got
        assert query("drover_request_duration_seconds_bucket")
        assert query("process_resident_memory_bytes")
        # Prometheus found nothing wrong with the target.
        targets = requests.get("http://127.0.0.1:%d/api/v1/targets" % pport, timeout=5).json()
        active = [t for t in targets["data"]["activeTargets"] if t["labels"]["job"] == "drover"]
        assert len(active) == 1 and active[0]["health"] == "up" and active[0]["lastError"] == "", active
    finally:
        prom.terminate()
        try:
            prom.wait(15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(5)
        log.close()


# ---------------------------------------------------------------- /healthz

def test_healthz_ok_then_503_during_graceful_stop(start_drover, http_port, tmp_path):
    d, mport = start_metrics_drover(start_drover, "127.0.0.1:%d" % http_port, workers=1, app="metrics_app")
    status, body = healthz(mport)
    assert status == 200 and body.startswith("ok"), body

    marker, release = tmp_path / "started", tmp_path / "release"
    result = {}

    def slow():
        result["r"] = requests.get(url(http_port, "/block"), params={"marker": str(marker), "release": str(release)},
                                   timeout=60)

    t = threading.Thread(target=slow)
    t.start()
    try:
        wait_until(marker.exists, 15, what="the slow request to start")
        assert healthz(mport)[0] == 200  # a busy worker still counts as serving
        d.signal(signal.SIGTERM)
        answer = wait_until(lambda: (lambda h: h and h[0] == 503 and h)(healthz(mport)), 10,
                            what="/healthz to answer 503 while stopping")
        assert "stopping" in answer[1], answer
        assert d.proc.poll() is None  # the master is still draining the slow request
    finally:
        release.write_text("")
        t.join(60)
    assert result["r"].status_code == 200 and result["r"].text == "released\n"
    assert d.wait_exit(30) == 0


def test_healthz_503_during_crash_loop_backoff(start_drover):
    mport = free_port()
    d = start_drover("-b", "127.0.0.1:%d" % free_port(), "-w", "2", "--metrics", "127.0.0.1:%d" % mport,
                     "--pythonpath", str(APPS), "broken_app", wait=False)
    d.wait_log(r"before it was ready \(the application failed to load\); failure 2", timeout=15)
    status, body = wait_until(lambda: healthz(mport), 10, what="/healthz to answer")
    assert status == 503 and body.startswith("crash loop"), body
    m = metrics(mport)
    assert value(m, "drover_crash_loop_backoff_seconds") > 0
    assert value(m, "drover_workers", state="idle") == 0
    assert d.proc.poll() is None


# ---------------------------------------------------------------- /status

def test_status_json_has_pool_and_one_row_per_worker(start_drover, http_port):
    d, mport = start_metrics_drover(start_drover, "127.0.0.1:%d" % http_port, workers=3)
    for _ in range(4):
        requests.get(url(http_port), timeout=10)
    wait_requests(mport, "http", 4)
    r = requests.get(url(mport, "/status"), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    status = json.loads(r.text)
    pool = status["pool"]
    for key in ("start_time", "start_since", "accepted_conn", "listen_queue", "max_listen_queue",
                "listen_queue_len", "idle_processes", "active_processes", "total_processes",
                "max_active_processes", "max_children_reached", "slow_requests", "generation", "pm"):
        assert key in pool, key
    assert pool["pm"] == "static" and pool["generation"] == 1
    assert pool["total_processes"] == 3 and pool["idle_processes"] + pool["active_processes"] == 3
    assert pool["accepted_conn"] >= 4
    assert abs(pool["start_time"] - time.time()) < 600 and pool["start_since"] >= 0
    workers = status["workers"]
    assert sorted(w["pid"] for w in workers) == sorted(d.live_worker_pids())
    assert len({w["slot"] for w in workers}) == 3
    assert sum(w["requests"] for w in workers) == 4
    for w in workers:
        assert w["state"] in ("idle", "busy") and w["generation"] == 1
        assert w["rss"] > 0 and w["cpu"] >= 0
    assert any(w["request"] == "http GET /" for w in workers)


# ---------------------------------------------------------------- listener queues

def test_listener_queue_length_and_backlog(start_drover, tmp_path):
    port, mport = free_port(), free_port()
    sock = tmp_path / "app.sock"
    cfg = tmp_path / "drover.toml"
    cfg.write_text('app = "metrics_app:application"\npythonpath = ["%s"]\nworkers = 1\nbacklog = 64\n'
                   'bind = ["127.0.0.1:%d", "unix:%s"]\n[metrics]\naddress = "127.0.0.1:%d"\n'
                   % (APPS, port, sock, mport))
    d = start_drover("-c", str(cfg), workers=1)
    tcp_name, unix_name = "127.0.0.1:%d" % port, "unix:%s" % sock

    def queue(m, name, proto="http"):
        return value(m, "drover_listener_queue_length", listener=name, protocol=proto)

    m = metrics(mport)
    assert value(m, "drover_listener_backlog", listener=tcp_name, protocol="http") == 64
    assert value(m, "drover_listener_backlog", listener=unix_name, protocol="http") == 64
    assert queue(m, tcp_name) == 0 and queue(m, unix_name) == 0

    marker, release = tmp_path / "started", tmp_path / "release"
    result = {}

    def slow():
        result["r"] = requests.get(url(port, "/block"), params={"marker": str(marker), "release": str(release)},
                                   timeout=60)

    t = threading.Thread(target=slow)
    t.start()
    waiting = []
    try:
        busy = wait_until(lambda: marker.exists() and marker.read_text(), 15, what="the slow request to start")
        assert d.live_worker_pids() == [int(busy)]  # the one worker is the busy one
        k_tcp, k_unix = 3, 2
        for _ in range(k_tcp):
            waiting.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for _ in range(k_unix):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(sock))
            waiting.append(s)
        m = wait_until(lambda: (lambda m: queue(m, tcp_name) >= k_tcp and queue(m, unix_name) >= k_unix and m)(
            metrics(mport)), 10, what="the queued connections to show")
        assert queue(m, tcp_name) == k_tcp
        assert queue(m, unix_name) == k_unix
        assert value(m, "drover_requests_in_flight") == 1
        assert value(m, "drover_workers", state="busy") == 1
        status = requests.get(url(mport, "/status"), timeout=10).json()["pool"]
        assert status["listen_queue"] == k_tcp + k_unix and status["max_listen_queue"] >= k_tcp + k_unix
        assert status["listen_queue_len"] == 128 and status["active_processes"] == 1
    finally:
        for s in waiting:
            s.close()
        release.write_text("")
        t.join(60)
    assert result["r"].status_code == 200
    # the worker drains what was queued (closed by the clients) and the queue empties
    wait_until(lambda: (lambda m: queue(m, tcp_name) == 0 and queue(m, unix_name) == 0)(metrics(mport)), 10,
               what="the queues to drain")
