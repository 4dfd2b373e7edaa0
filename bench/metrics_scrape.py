#!/usr/bin/python3
"""Master CPU time per /metrics scrape with many workers.

Starts drover with WORKERS (default 64) workers of a trivial app and metrics
on, waits until every worker is ready (from /status), does SCRAPES (default
1000) GETs of /metrics over one kept-alive connection, and reports the
master's own CPU time (utime + stime from /proc/PID/stat) per scrape. The
issue's budget is 5 ms of master CPU per scrape at 64 workers. With
--rounds N it does that N times against the same master and ends with the
median and the min..max (the machine is noisy: one round is one sample).

    bench/metrics_scrape.py [--workers N] [--scrapes N] [--rounds N] [--drover PATH]

Prints one result line per round (and a summary); exits 0 whatever the
number (no threshold here).
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
from processes import stop_process  # noqa: E402
APPS = ROOT / "tests" / "integration" / "apps"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    text = Path("/proc/%d/stat" % pid).read_text()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--scrapes", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--drover", default=os.environ.get("DROVER_BIN", str(ROOT / "build" / "supervisor" / "drover")))
    args = ap.parse_args()

    port, mport = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="drover-bench-")
    log = open(os.path.join(workdir, "drover.log"), "wb")
    proc = subprocess.Popen([args.drover, "-b", "127.0.0.1:%d" % port, "-w", str(args.workers),
                             "--metrics", "127.0.0.1:%d" % mport, "--pythonpath", str(APPS),
                             "basic_app:application"],
                            stdout=log, stderr=log, cwd=workdir, start_new_session=True)
    try:
        conn = None
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                sys.exit("drover exited early; see %s/drover.log" % workdir)
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
                status, body = get(conn, "/status")
                pool = json.loads(body)["pool"]
                if pool["idle_processes"] >= args.workers:
                    break
            except (OSError, http.client.HTTPException, ValueError):
                conn = None
            if time.monotonic() > deadline:
                sys.exit("workers not ready within 120 s; see %s/drover.log" % workdir)
            time.sleep(0.2)

        # A few requests so the histograms and counters are not all zero.
        for _ in range(50):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()

        status, body = get(conn, "/metrics")
        size = len(body)
        tck = os.sysconf("SC_CLK_TCK")
        cpu, walls = [], []
        for _ in range(args.rounds):
            before = cpu_ticks(proc.pid)
            t0 = time.monotonic()
            for _ in range(args.scrapes):
                status, body = get(conn, "/metrics")
                if status != 200:
                    sys.exit("scrape answered %d" % status)
            wall = time.monotonic() - t0
            after = cpu_ticks(proc.pid)
            cpu.append((after - before) * 1000.0 / tck / args.scrapes)
            walls.append(wall * 1000.0 / args.scrapes)
            print("metrics_scrape: workers=%d scrapes=%d body=%d bytes master_cpu=%.3f ms/scrape "
                  "(clock tick %.0f ms, %d ticks) wall=%.3f ms/scrape"
                  % (args.workers, args.scrapes, size, cpu[-1], 1000.0 / tck, after - before, walls[-1]))
        if args.rounds > 1:
            print("metrics_scrape: %d rounds: master_cpu median %.3f (%.3f..%.3f) ms/scrape, "
                  "wall median %.3f (%.3f..%.3f) ms/scrape"
                  % (args.rounds, statistics.median(cpu), min(cpu), max(cpu),
                     statistics.median(walls), min(walls), max(walls)))
    finally:
        stop_process(proc, timeout=30)
        log.close()


if __name__ == "__main__":
    main()
