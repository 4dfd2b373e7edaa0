#!/usr/bin/python3
"""drover against uWSGI and gunicorn, in the same run, as ratios.

  bench/compare.py http        HTTP straight at each server (wrk)
  bench/compare.py fastcgi     nginx -> FastCGI: drover with and without kept
                               connections (fastcgi_keep_conn + keepalive 16), uWSGI
  bench/compare.py preload     PSS of 4 workers of a Django app, preload on vs off
  bench/compare.py all

Every server listens on 127.0.0.1 on a free port, every load is bounded
(wrk -d), every process is stopped by its pid. Results go to stdout and to
bench/results/. Numbers from a shared 2-core machine are noisy: compare the
ratios within one run, not runs with each other.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APPS = HERE / "apps"
DROVER = os.environ.get("DROVER_BIN", str(ROOT / "build" / "supervisor" / "drover"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
RESULTS = HERE / "results"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30, path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if path is None:
                    return
                s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
                if s.recv(12).startswith(b"HTTP/1.1 200") or True:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


class Proc:
    def __init__(self, args, log, env=None, cwd=None):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


def wrk(url, connections=CONNECTIONS, duration=DURATION):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%s" % duration, "--latency", url],
                         capture_output=True, text=True, timeout=600).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(r"%s\s+([\d.]+)(us|ms|s)\b" % label, out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"),
            "errors": (errors.group(1) if errors else "none"), "non2xx": int(non2xx.group(1)) if non2xx else 0}


def row(name, r, base=None):
    ratio = " %5.2fx" % (r["rps"] / base["rps"]) if base else "      "
    return "%-38s %9.0f req/s%s  p50 %7.2f ms  p99 %7.2f ms  errors: %s, non-2xx: %d" % (
        name, r["rps"], ratio, r["p50"], r["p99"], r["errors"], r["non2xx"])


def start_drover(tmp, binds, extra=(), app="hello"):
    args = [DROVER, "-w", str(WORKERS), "--metrics", "", "--pythonpath", str(APPS)]
    for b in binds:
        args += ["-b", b]
    args += list(extra) + [app]
    p = Proc(args, tmp / ("drover-%d.log" % time.monotonic_ns()))
    return p


def bench_http(tmp):
    lines = ["## HTTP straight at the server: %d workers, wrk -c%d -d%s" % (WORKERS, CONNECTIONS, DURATION)]
    results = {}
    port = free_port()
    d = start_drover(tmp, ["127.0.0.1:%d" % port])
    wait_port(port)
    time.sleep(0.5)
    results["drover"] = wrk("http://127.0.0.1:%d/" % port)
    d.stop()

    port = free_port()
    g = Proc(["gunicorn", "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port, "--chdir", str(APPS), "hello:application"],
             tmp / "gunicorn.log")
    wait_port(port)
    time.sleep(0.5)
    results["gunicorn (sync)"] = wrk("http://127.0.0.1:%d/" % port)
    g.stop()

    port = free_port()
    u = Proc(["uwsgi", "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port, "--processes", str(WORKERS),
              "--master", "--disable-logging", "--chdir", str(APPS), "--module", "hello:application",
              "--die-on-term"], tmp / "uwsgi.log")
    wait_port(port)
    time.sleep(0.5)
    results["uWSGI (http-socket)"] = wrk("http://127.0.0.1:%d/" % port)
    u.stop(signal.SIGINT)

    base = results["drover"]
    lines.append(row("drover", base))
    for name in ("gunicorn (sync)", "uWSGI (http-socket)"):
        lines.append(row(name, results[name]))
    lines.append("drover / gunicorn: %.2fx   drover / uWSGI: %.2fx (requests/s)" % (
        base["rps"] / results["gunicorn (sync)"]["rps"], base["rps"] / results["uWSGI (http-socket)"]["rps"]))
    return lines


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    upstream kept {{ server 127.0.0.1:{fcgi}; keepalive 16; }}
    upstream fresh {{ server 127.0.0.1:{fcgi}; }}
    upstream uwsgi_fcgi {{ server 127.0.0.1:{ufcgi}; }}
    server {{
        listen 127.0.0.1:{port};
        location /kept/ {{ include /etc/nginx/fastcgi_params; fastcgi_pass kept; fastcgi_keep_conn on; }}
        location /fresh/ {{ include /etc/nginx/fastcgi_params; fastcgi_pass fresh; }}
        location /uwsgi/ {{ include /etc/nginx/fastcgi_params; fastcgi_pass uwsgi_fcgi; }}
    }}
}}
"""


def bench_fastcgi(tmp):
    lines = ["## nginx -> FastCGI: %d workers, nginx upstream keepalive 16, wrk -c%d -d%s" % (
        WORKERS, CONNECTIONS, DURATION)]
    fcgi, ufcgi, port = free_port(), free_port(), free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, fcgi=fcgi, ufcgi=ufcgi, port=port))
    d = start_drover(tmp, ["fastcgi://127.0.0.1:%d" % fcgi])
    u = Proc(["uwsgi", "--plugin", "python3", "--fastcgi-socket", "127.0.0.1:%d" % ufcgi, "--processes",
              str(WORKERS), "--master", "--disable-logging", "--chdir", str(APPS), "--module", "hello:application",
              "--die-on-term"], tmp / "uwsgi-fcgi.log")
    n = Proc(["nginx", "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"], tmp / "nginx.log")
    try:
        wait_port(fcgi)
        wait_port(ufcgi)
        wait_port(port)
        time.sleep(0.5)
        # warm up the pool, then measure each way twice, interleaved
        wrk("http://127.0.0.1:%d/kept/" % port, duration="2s")
        runs = {"kept": [], "fresh": [], "uwsgi": []}
        for _ in range(2):
            for k in runs:
                runs[k].append(wrk("http://127.0.0.1:%d/%s/" % (port, k)))
        best = {k: max(v, key=lambda r: r["rps"]) for k, v in runs.items()}
        lines.append(row("drover, kept connections (keep_conn)", best["kept"]))
        lines.append(row("drover, a connection per request", best["fresh"]))
        lines.append(row("uWSGI fastcgi-socket (no keep-alive)", best["uwsgi"]))
        lines.append("kept / per-request: throughput %.2fx, p99 %.2fx (lower is better)" % (
            best["kept"]["rps"] / best["fresh"]["rps"], best["kept"]["p99"] / best["fresh"]["p99"]))
        lines.append("drover kept / uWSGI: %.2fx (requests/s)" % (best["kept"]["rps"] / best["uwsgi"]["rps"]))
    finally:
        n.stop(signal.SIGQUIT)
        u.stop(signal.SIGINT)
        d.stop()
    return lines


def pss_kib(pid):
    try:
        text = Path("/proc/%d/smaps_rollup" % pid).read_text()
    except OSError:
        return 0
    return int(re.search(r"^Pss:\s+(\d+) kB", text, re.M).group(1))


def children(pid):
    try:
        return [int(c) for c in Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()]
    except OSError:
        return []


def bench_preload(tmp):
    lines = ["## Memory: 4 workers of a Django app (admin), PSS summed over the workers"]
    site = ROOT / "tests" / "integration" / "apps" / "django_site"
    if not site.exists():
        return lines + ["(no Django project at %s)" % site]
    env = dict(os.environ, DROVER_TEST_DB_DIR=str(tmp), DJANGO_SETTINGS_MODULE="dsite.settings")
    subprocess.run(["/usr/bin/python3", "manage.py", "migrate", "-v", "0"], cwd=str(site), env=env, check=True,
                   timeout=300)
    result = {}
    for preload in (False, True):
        port = free_port()
        args = [DROVER, "-w", "4", "--metrics", "", "-b", "127.0.0.1:%d" % port, "--pythonpath", str(site)]
        if preload:
            args.append("--preload")
        args.append(os.environ.get("BENCH_DJANGO_APP", "dsite.wsgi:application"))
        p = Proc(args, tmp / ("django-%s.log" % preload), env=env, cwd=str(site))
        try:
            wait_port(port)
            for _ in range(20):  # every worker serves a few admin pages
                subprocess.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:%d/admin/login/" % port],
                               timeout=30)
            time.sleep(1)
            workers = children(p.p.pid)  # with preload, the zygote is one of them
            total = sum(pss_kib(w) for w in workers)
            result[preload] = (total, len(workers))
        finally:
            p.stop()
    off, on = result[False], result[True]
    lines.append("preload off: %6.1f MiB over %d processes" % (off[0] / 1024, off[1]))
    lines.append("preload on:  %6.1f MiB over %d processes (workers + zygote)" % (on[0] / 1024, on[1]))
    if off[0]:
        lines.append("saved: %.1f MiB (%.0f%%)" % ((off[0] - on[0]) / 1024, 100 * (off[0] - on[0]) / off[0]))
    return lines


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    for tool in ("wrk", "nginx", "uwsgi", "gunicorn"):
        if not shutil.which(tool):
            sys.exit("bench: %s is missing (bench/run.sh installs it)" % tool)
    RESULTS.mkdir(exist_ok=True)
    out = []
    with tempfile.TemporaryDirectory(prefix="drover-bench-") as t:
        tmp = Path(t)
        for name, fn in (("http", bench_http), ("fastcgi", bench_fastcgi), ("preload", bench_preload)):
            if which in (name, "all"):
                section = fn(tmp)
                print("\n".join(section) + "\n", flush=True)
                out += section + [""]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / ("compare-%s-%s.txt" % (which, stamp))).write_text("\n".join(out))


if __name__ == "__main__":
    main()
