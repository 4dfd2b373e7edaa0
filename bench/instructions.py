#!/usr/bin/python3
"""User-space instructions per request of one worker, under callgrind:
drover against uWSGI and gunicorn, the same app, the same requests.

    bench/instructions.py [--requests 2000] [--drover build-release/supervisor/drover]

Instruction counts do not depend on what else the machine is doing (a noisy
shared machine changes times, not counts), so this is the one figure that
compares the servers' own code exactly. It leaves the kernel out: the
syscalls per request (accept, read, write, close, epoll_wait) are counted by
the benchmark harness instead. Each server runs one worker under
`valgrind --tool=callgrind --trace-children=yes`; after a warm-up the
worker's counters are zeroed, `ab -c2 -n N` sends N requests (a connection
each, as nginx's default upstream mode does), and the worker's counters are
dumped and divided by N.
"""
import argparse
import os
import re
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    try:
        return [int(p) for p in Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()]
    except OSError:
        return []


def wait_answering(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("nothing answers on port %d" % port)


def measure(name, command, port, requests, work):
    out = work / name
    out.mkdir()
    log = open(out / "valgrind.log", "wb")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes",
                             "--callgrind-out-file=%s/callgrind.%%p" % out] + command,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_answering(port)
        kids = children(proc.pid)
        # The worker: the (only) child serving requests (gunicorn and uWSGI
        # fork theirs from a master too).
        worker = kids[0] if kids else proc.pid
        subprocess.run(["ab", "-q", "-n", "200", "-c", "2", "http://127.0.0.1:%d/" % port],
                       capture_output=True, check=True)
        subprocess.run(["callgrind_control", "-z", str(worker)], capture_output=True)
        ab = subprocess.run(["ab", "-n", str(requests), "-c", "2", "http://127.0.0.1:%d/" % port],
                            capture_output=True, text=True, check=True).stdout
        failed = int(re.search(r"Failed requests:\s+(\d+)", ab).group(1))
        subprocess.run(["callgrind_control", "-d", str(worker)], capture_output=True)
        time.sleep(1)
        dumps = sorted(out.glob("callgrind.%d.*" % worker))
        if not dumps:
            raise RuntimeError("%s: no callgrind dump of worker %d" % (name, worker))
        text = subprocess.run(["callgrind_annotate", str(dumps[-1])], capture_output=True, text=True).stdout
        total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text).group(1).replace(",", ""))
        return total / requests, failed
    finally:
        try:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--drover", default=os.environ.get("DROVER_BIN", str(ROOT / "build" / "supervisor" / "drover")))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drover-instructions-"))
    rows = []
    port = free_port()
    conf = work / "drover.toml"
    conf.write_text('app = "hello:application"\npythonpath = ["%s"]\nworkers = 1\nbind = ["127.0.0.1:%d"]\n'
                    '[metrics]\naddress = ""\n' % (APPS, port))
    rows.append(("drover", measure("drover", [args.drover, "-c", str(conf)], port, args.requests, work)))
    port = free_port()
    rows.append(("uWSGI --http-socket", measure(
        "uwsgi", ["uwsgi", "--plugin", "python3", "--http-socket", "127.0.0.1:%d" % port, "--master", "--processes", "1",
                  "--pythonpath", str(APPS), "--module", "hello:application", "--disable-logging"],
        port, args.requests, work)))
    port = free_port()
    rows.append(("gunicorn (sync)", measure(
        "gunicorn", ["gunicorn", "-w", "1", "-b", "127.0.0.1:%d" % port, "--chdir", str(APPS), "hello:application"],
        port, args.requests, work)))
    base = rows[0][1][0]
    print("| server | user-space instructions per request | drover / server | failed |")
    print("|---|---:|---:|---:|")
    for name, (per_request, failed) in rows:
        print("| %s | %s | %.2f | %d |" % (name, format(round(per_request), ","), base / per_request, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
