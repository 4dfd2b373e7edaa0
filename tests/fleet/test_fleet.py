"""The fleet drill (issue 14): three drover hosts behind HAProxy (HTTP, with
drover's /healthz as its health check) and nginx (FastCGI, with
fastcgi_next_upstream), scraped by Prometheus, under a bounded client load
through both balancers in every scenario:

1. rolling reload: SIGHUP each host in turn, 1 s apart: no failed request;
2. rolling restart with drain: POST /drain (and `down` in nginx's upstream),
   wait until HAProxy marks the host down and nothing is in flight on it,
   SIGTERM, start it again, wait until it is back: no failed request;
3. a host lost: SIGKILL of its master and workers, then another host frozen
   (SIGSTOP of all its processes, SIGCONT 5 s later): only requests in
   flight on that host may fail, HAProxy marks it down within its checks;
4. saturation: one host reloaded with a slow app: its listen queue grows
   (drover_listener_queue_length), the DroverListenQueueSaturated rule of
   etc/prometheus fires in Prometheus, /healthz answers 503 above
   healthz_max_queue, and HAProxy moves the load to the other hosts.

The scenarios run in this order on one fleet (conftest.py), and each starts
by restoring it. The figures are printed as a table at the end.
"""
import os
import signal
import time

from conftest import fmt_seconds, note, record
from fleet import BACKLOG, HEALTHZ_MAX_QUEUE, WORKERS, wait_until
from fleet_load import Load

# The client load: fixed threads, a fixed rate each, bounded in time.
HTTP_THREADS = 16
FASTCGI_THREADS = 6
RATE = 20            # requests a second per thread, at most
# One request in ten takes 0.1 s (/slow): at any moment about one is in
# flight on each host, for a reload, a stop or a kill to find.
PATHS = ("/",) * 9 + ("/slow",)
MAX_SECONDS = 120    # no scenario's load runs longer than this

# HAProxy: `inter 1s fall 2`, `timeout check 1s` (etc/haproxy/drover.cfg):
# a dead or frozen host is down after at most two checks and their timeouts;
# the rest is slack for a loaded machine.
MARK_DOWN_BOUND = 6.0

HTTP = "HAProxy → HTTP"
FASTCGI = "nginx → FastCGI"


def start_loads(fleet, http_threads=HTTP_THREADS, fastcgi_threads=FASTCGI_THREADS):
    http = Load("http", fleet.haproxy.url("/"), http_threads, RATE, MAX_SECONDS, PATHS).start()
    # A new connection to nginx per request: the drain reloads nginx, whose
    # old worker closes idle client connections, and a client racing that
    # close would count nginx's reload as a failure of drover's.
    fcgi = Load("fastcgi", fleet.nginx.url("/"), fastcgi_threads, RATE, MAX_SECONDS, PATHS, keepalive=False).start()
    return http, fcgi


def stop_loads(*loads):
    for load in loads:
        load.stop()


def describe_failures(load, limit=8, t0=0.0):
    return "\n".join("  start %+.3f s, latency %.3f s, status %d %s" % (r[0] - t0, r[1], r[2], r[3].splitlines()[0][:80])
                     for r in load.failures()[:limit])


def test_0_prometheus_scrapes_every_host(fleet):
    prom = fleet.prometheus
    want = {h.metrics_address for h in fleet.hosts}
    up = wait_until(lambda: (lambda u: u if set(u) == want and all(v == 1 for v in u.values()) else None)(
        prom.query('up{job="drover"}')), 30, interval=0.25, what="up == 1 for every host in Prometheus")
    assert set(up) == want
    idle = wait_until(lambda: (lambda q: q if set(q) == want else None)(prom.query('drover_workers{state="idle"}')),
                      30, interval=0.25, what="drover_workers of every host in Prometheus")
    assert set(idle) == want
    draining = prom.query("drover_draining")
    assert draining == {a: 0 for a in want}, draining


def test_1_rolling_reload(fleet):
    fleet.restore()
    before = {h.name: h.metric("drover_reloads_total", '{result="success"}') for h in fleet.hosts}
    http, fcgi = start_loads(fleet)
    try:
        time.sleep(1)
        for h in fleet.hosts:
            h.signal(signal.SIGHUP)
            time.sleep(1)
        for h in fleet.hosts:
            wait_until(lambda: h.metric("drover_reloads_total", '{result="success"}') > before[h.name], 30,
                       interval=0.1, what="%s to finish its reload" % h.name)
        time.sleep(1)
    finally:
        stop_loads(http, fcgi)
    name = "1. rolling reload (SIGHUP each host, 1 s apart)"
    record(name, HTTP, http)
    record(name, FASTCGI, fcgi)
    assert not http.failures(), describe_failures(http)
    assert not fcgi.failures(), describe_failures(fcgi)


def test_2_rolling_restart_with_drain(fleet):
    fleet.restore()
    haproxy, nginx = fleet.haproxy, fleet.nginx
    marked = []
    http, fcgi = start_loads(fleet)
    try:
        time.sleep(1)
        for h in fleet.hosts:
            # The drain procedure (README, "Many hosts").
            t0 = time.monotonic()
            assert h.drain().startswith("draining")
            nginx.set_down(h.name, True)
            haproxy.wait_state(h.name, "DOWN", 15)
            marked.append(time.monotonic() - t0)
            # Nothing in flight: not in HAProxy's sessions, not in drover's busy workers.
            wait_until(lambda: haproxy.sessions(h.name) == 0 and h.status()["pool"]["active_processes"] == 0,
                       20, interval=0.05, what="%s to have nothing in flight" % h.name)
            assert h.healthz()[0] == 503
            assert h.terminate() == 0
            h.start()
            haproxy.wait_state(h.name, "UP", 20)
            nginx.set_down(h.name, False)
        time.sleep(1)
    finally:
        stop_loads(http, fcgi)
    name = "2. rolling restart with drain (POST /drain, down, SIGTERM, start)"
    record(name, HTTP, http, max(marked))
    record(name, FASTCGI, fcgi)
    note("2: HAProxy marked each drained host down after %s" % ", ".join(fmt_seconds(m) for m in marked))
    assert not http.failures(), describe_failures(http)
    assert not fcgi.failures(), describe_failures(fcgi)


def test_3a_host_lost_sigkill(fleet):
    fleet.restore()
    haproxy, prom = fleet.haproxy, fleet.prometheus
    h = fleet.hosts[1]
    http, fcgi = start_loads(fleet)
    try:
        time.sleep(2)
        t_signal = time.monotonic()
        killed = h.signal_all(signal.SIGKILL)
        h.wait_dead(killed)
        # Every process of the host is dead: no request that starts later may fail.
        t_kill = time.monotonic()
        assert len(killed) == 1 + WORKERS, killed  # the master and its workers
        down = haproxy.wait_state(h.name, "DOWN", 15)
        h.proc.wait(5)
        # Prometheus sees it too: the scrape fails.
        wait_until(lambda: prom.query('up{job="drover"}').get(h.metrics_address) == 0, 15, interval=0.2,
                   what="Prometheus to see %s down" % h.name)
        t_prom = time.monotonic() - t_kill
        time.sleep(1)
        h.start()
        haproxy.wait_state(h.name, "UP", 20)
        time.sleep(1)
    finally:
        stop_loads(http, fcgi)
    name = "3a. host lost (SIGKILL of master and workers)"
    record(name, HTTP, http, down)
    record(name, FASTCGI, fcgi)
    for load in (http, fcgi):
        late = [r for r in load.failures() if r[0] > t_kill]
        in_flight = [r for r in load.records if r[0] < t_kill and r[0] + r[1] > t_signal]
        note("3a (%s): failed %d, all started before the host was dead: %s; in flight on any host while the "
             "SIGKILLs took effect (%.0f ms): %d"
             % (load.name, len(load.failures()), "yes" if not late else "no", (t_kill - t_signal) * 1e3,
                len(in_flight)))
        if load.failures():
            note("3a (%s) failures, relative to the kill:\n%s" % (load.name, describe_failures(load, t0=t_kill)))
        # Only requests in flight on that host at the kill may fail: each
        # client thread has at most one request in flight.
        assert not late, describe_failures(load)
        assert len(load.failures()) <= load.threads
    note("3a: Prometheus had up == 0 for the killed host %.1f s after the kill" % t_prom)
    assert down <= MARK_DOWN_BOUND, down


def test_3b_host_frozen_sigstop(fleet):
    fleet.restore()
    haproxy = fleet.haproxy
    h = fleet.hosts[2]
    frozen_for = 5.0
    http, fcgi = start_loads(fleet)
    try:
        time.sleep(2)
        t_stop = time.monotonic()
        frozen = h.signal_all(signal.SIGSTOP)
        try:
            down = haproxy.wait_state(h.name, "DOWN", 15)
            t_down = t_stop + down
            time.sleep(max(0.0, t_stop + frozen_for - time.monotonic()))
        finally:
            for pid in frozen:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        t_cont = time.monotonic()
        haproxy.wait_state(h.name, "UP", 20)
        time.sleep(1)
    finally:
        stop_loads(http, fcgi)
    name = "3b. host frozen (SIGSTOP of all its processes, SIGCONT after 5 s)"
    record(name, HTTP, http, down)
    record(name, FASTCGI, fcgi)
    # HAProxy sent it nothing new once it had marked it down.
    after_down = http.served_by(h.name, after=t_down + 0.05, before=t_cont)
    stuck = [r for r in http.records if r[0] < t_cont and r[0] + r[1] > t_cont - 0.05 and r[1] > 1.0]
    note("3b (http): requests that waited on the frozen host and were answered after SIGCONT: %d; sent to it "
         "after HAProxy marked it down: %d" % (len(stuck), len(after_down)))
    fstuck = [r for r in fcgi.records if r[1] > 1.0]
    note("3b (fastcgi): nginx has no active check; requests that waited on the frozen host until SIGCONT: %d"
         % len(fstuck))
    assert not after_down, after_down[:5]
    for load in (http, fcgi):
        assert len(load.failures()) <= load.threads, describe_failures(load)
    assert down <= MARK_DOWN_BOUND, down


def queue_length(metrics, protocol="http"):
    for (name, labels), value in metrics.items():
        if name == "drover_listener_queue_length" and 'protocol="%s"' % protocol in labels:
            return value
    return None


def test_4_saturation(fleet):
    fleet.restore()
    haproxy, prom = fleet.haproxy, fleet.prometheus
    h = fleet.hosts[2]
    # More clients than the slow host can hold: each ends up waiting on it.
    http, fcgi = start_loads(fleet, http_threads=28, fastcgi_threads=4)
    seen = {}
    peak = 0
    try:
        time.sleep(1)
        h.reload(app="fleet_app:slow_application")
        t_slow = time.monotonic()
        deadline = t_slow + 45
        while len(seen) < 4 and time.monotonic() < deadline:
            now = time.monotonic() - t_slow
            q = queue_length(h.metrics())
            peak = max(peak, q or 0)
            if q is not None and q > BACKLOG / 2:
                seen.setdefault("queue over half the backlog", now)
            code, body = h.healthz()
            if code == 503 and body.startswith("saturated"):
                seen.setdefault("healthz 503", now)
            if haproxy.state(h.name) == "DOWN":
                seen.setdefault("haproxy down", now)
            if prom.alerts("DroverListenQueueSaturated").get(h.metrics_address) == "firing":
                seen.setdefault("alert firing", now)
            time.sleep(0.1)
        # The app is fast again: the queue drains, the host comes back.
        h.reload(app="fleet_app:application")
        haproxy.wait_state(h.name, "UP", 30)
        time.sleep(1)
    finally:
        stop_loads(http, fcgi)
    name = "4. saturation (one host reloaded with a 2 s app)"
    record(name, HTTP, http, seen.get("haproxy down"))
    record(name, FASTCGI, fcgi)
    note("4: listen queue peak %d of backlog %d (healthz_max_queue %d); after the slow app was live: %s"
         % (peak, BACKLOG, HEALTHZ_MAX_QUEUE,
            ", ".join("%s %.1f s" % (k, v) for k, v in sorted(seen.items(), key=lambda kv: kv[1]))))
    for what in ("queue over half the backlog", "healthz 503", "haproxy down", "alert firing"):
        assert what in seen, (what, seen, peak)
    assert not http.failures(), describe_failures(http)
    assert not fcgi.failures(), describe_failures(fcgi)
