#!/usr/bin/python3
"""Soak: drover under mixed load and constant faults, for a bounded time.

    bench/soak.py [--minutes 10] [--clients 12] [--drover build-asan/supervisor/drover]

One drover (4 workers, recycling on: max_requests 300 + jitter 100) serves
tests/integration/apps/fe_app.py over FastCGI, SCGI and HTTP. One nginx in
front speaks FastCGI with a kept upstream pool, SCGI, and HTTP (proxy_pass
with a kept pool). While good clients send GETs and POSTs (bodies checked
byte for byte) through all three and straight at drover's HTTP listener:

- SIGHUP to the master every 2 s;
- SIGKILL of a random worker every 3 s;
- hostile clients that stall mid-head, vanish mid-body, or send garbage to
  each of drover's listeners.

It reports requests sent, answered, failed, and which failures fall within
a second after a worker was killed (in flight on it: nginx answers 502 for
those, as any backend would). Any other failure is unexplained. On a
sanitizer build (`meson setup build-asan -Db_sanitize=address,undefined`),
ASan and UBSan reports go to a directory that is counted at the end.
Processes are stopped by pid; every loop is bounded by the duration.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import requests  # noqa: E402

from conftest import APPS, Drover, free_port, wait_until  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KILL_WINDOW = 1.0  # a failure this soon after a kill was in flight on the killed worker


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.ok = 0
        self.failures = []  # (monotonic time, route, what)
        self.kills = []     # monotonic times
        self.hups = 0
        self.hostile = 0

    def record(self, route, ok, what=None):
        with self.lock:
            self.sent += 1
            if ok:
                self.ok += 1
            else:
                self.failures.append((time.monotonic(), route, what))


def nginx_config(d, ports, fastcgi, scgi, http):
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    upstream fcgi {{ server {fastcgi}; keepalive 8; keepalive_timeout 4s; }}
    upstream web {{ server {http}; keepalive 8; keepalive_timeout 4s; }}
    server {{
        listen 127.0.0.1:{ports[0]};
        location / {{ include /etc/nginx/fastcgi_params; fastcgi_pass fcgi; fastcgi_keep_conn on; }}
    }}
    server {{
        listen 127.0.0.1:{ports[1]};
        location / {{ include /etc/nginx/scgi_params; scgi_pass {scgi}; }}
    }}
    server {{
        listen 127.0.0.1:{ports[2]};
        location / {{ proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
}}
"""


def good_client(routes, stats, deadline, stop):
    session = requests.Session()
    rng = random.Random()
    while time.monotonic() < deadline and not stop.is_set():
        name, base = rng.choice(routes)
        try:
            if rng.random() < 0.5:
                r = session.get(base + "/app/pid", timeout=20)
                ok = r.status_code == 200 and r.text.isdigit()
                what = None if ok else "GET %d %r" % (r.status_code, r.text[:80])
            else:
                body = os.urandom(rng.choice((0, 10, 3000, 70000)))
                r = session.post(base + "/app/echo", data=body, timeout=20,
                                 headers={"Content-Type": "application/octet-stream"})
                ok = r.status_code == 200 and r.content == body
                what = None if ok else "POST %d (%d of %d bytes back)" % (r.status_code, len(r.content), len(body))
        except requests.RequestException as e:
            ok, what = False, repr(e)[:160]
            session = requests.Session()
        stats.record(name, ok, what)


def hostile_client(targets, stats, deadline, stop):
    rng = random.Random()
    garbage = [b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\xff" * 64, b"999999999:",
               b"\x01\x01\x00\x01\x00\x08\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x01\x04\x00\x01\xff\xff\x00\x00"]
    while time.monotonic() < deadline and not stop.is_set():
        host, port = rng.choice(targets)
        kind = rng.choice(("stall", "vanish", "garbage"))
        try:
            s = socket.create_connection((host, port), timeout=5)
            if kind == "stall":
                s.sendall(b"GET /app/pid HTTP/1.1\r\nHost: x\r\n")
                time.sleep(rng.uniform(0.5, 3))
            elif kind == "vanish":
                s.sendall(b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
            else:
                s.sendall(rng.choice(garbage))
                s.settimeout(2)
                try:
                    s.recv(4096)
                except OSError:
                    pass
            s.close()
        except OSError:
            pass
        with stats.lock:
            stats.hostile += 1
        time.sleep(rng.uniform(0, 0.2))


def chaos(d, stats, deadline, stop):
    next_hup = time.monotonic() + 2
    next_kill = time.monotonic() + 3
    rng = random.Random()
    while time.monotonic() < deadline and not stop.is_set():
        now = time.monotonic()
        if now >= next_hup:
            d.signal(signal.SIGHUP)
            stats.hups += 1
            next_hup += 2
        if now >= next_kill:
            workers = [p for p in d.live_worker_pids() if p != d.pid]
            if workers:
                victim = rng.choice(workers)
                try:
                    os.kill(victim, signal.SIGKILL)
                    with stats.lock:
                        stats.kills.append(time.monotonic())
                except ProcessLookupError:
                    pass
            next_kill += 3
        time.sleep(0.05)


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def sanitizer_reports(directory):
    reports = []
    for f in sorted(Path(directory).glob("*")):
        text = f.read_text(errors="replace")
        if text.strip():
            reports.append((f.name, text[:2000]))
    return reports


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--hostile", type=int, default=3)
    ap.add_argument("--drover", default=os.environ.get("DROVER_BIN", str(ROOT / "build" / "supervisor" / "drover")))
    args = ap.parse_args()
    os.environ["DROVER_BIN"] = os.path.abspath(args.drover)

    work = Path(tempfile.mkdtemp(prefix="drover-soak-"))
    sanitizer_dir = work / "sanitizer"
    sanitizer_dir.mkdir()
    env = {
        "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=%s/asan" % sanitizer_dir,
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:log_path=%s/ubsan" % sanitizer_dir,
    }
    fcgi_port, scgi_port, http_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    (work / "drover.toml").write_text(f"""app = "fe_app:application"
pythonpath = ["{APPS}"]
script_name = "/app"
workers = 4
max_requests = 300
max_requests_jitter = 100
graceful_timeout = 10
timeout = 20
header_timeout = 5
bind = ["fastcgi://127.0.0.1:{fcgi_port}", "scgi://127.0.0.1:{scgi_port}", "127.0.0.1:{http_port}"]
[metrics]
address = "127.0.0.1:{metrics_port}"
""")
    d = Drover(["-c", str(work / "drover.toml")], work, env=env)
    nginx = None
    stats = Stats()
    stop = threading.Event()
    started = time.monotonic()
    try:
        d.wait_ready(4, timeout=60)
        ngx = work / "nginx"
        (ngx / "tmp").mkdir(parents=True)
        front = [free_port() for _ in range(3)]
        (ngx / "nginx.conf").write_text(nginx_config(ngx, front, "127.0.0.1:%d" % fcgi_port,
                                                     "127.0.0.1:%d" % scgi_port, "127.0.0.1:%d" % http_port))
        nginx = subprocess.Popen([NGINX, "-p", str(ngx) + "/", "-e", str(ngx / "error.log"), "-c", str(ngx / "nginx.conf"),
                                  "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        wait_until(lambda: all(listening(p) for p in front), 10, what="nginx")
        routes = [("nginx-fastcgi", "http://127.0.0.1:%d" % front[0]), ("nginx-scgi", "http://127.0.0.1:%d" % front[1]),
                  ("nginx-http", "http://127.0.0.1:%d" % front[2]), ("http", "http://127.0.0.1:%d" % http_port)]
        targets = [("127.0.0.1", p) for p in (fcgi_port, scgi_port, http_port)]
        deadline = time.monotonic() + args.minutes * 60
        threads = [threading.Thread(target=good_client, args=(routes, stats, deadline, stop)) for _ in range(args.clients)]
        threads += [threading.Thread(target=hostile_client, args=(targets, stats, deadline, stop))
                    for _ in range(args.hostile)]
        threads.append(threading.Thread(target=chaos, args=(d, stats, deadline, stop)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.minutes * 60 + 120)
        d.signal(signal.SIGTERM)
        exit_status = d.proc.wait(60)
    finally:
        stop.set()
        if nginx:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        d.stop()

    in_flight, unexplained = [], []
    for t, route, what in stats.failures:
        near_kill = any(0 <= t - k <= KILL_WINDOW for k in stats.kills)
        (in_flight if near_kill else unexplained).append((round(t - started, 2), route, what))
    reports = sanitizer_reports(sanitizer_dir)
    crash_lines = re.findall(r".*(?:killed by signal (?!9 )|AddressSanitizer|runtime error).*", d.log())
    result = {
        "minutes": args.minutes, "drover": args.drover, "requests_sent": stats.sent, "answered": stats.ok,
        "failed": len(stats.failures), "failed_within_1s_of_a_kill": len(in_flight), "failed_otherwise": len(unexplained),
        "sighups": stats.hups, "workers_killed": len(stats.kills), "hostile_connections": stats.hostile,
        "master_exit_status": exit_status, "sanitizer_reports": len(reports),
        "unexpected_worker_deaths": len(crash_lines),
    }
    print(json.dumps(result, indent=2))
    for item in unexplained[:20]:
        print("unexplained failure:", item)
    for name, text in reports[:5]:
        print("---- sanitizer report", name)
        print(text)
    for line in crash_lines[:10]:
        print("unexpected:", line)
    print("work directory (logs):", work)
    return 0 if not unexplained and not reports and not crash_lines and exit_status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
