"""Fixtures that start the real drover binary (and, for the protocol tests,
real nginx and Apache) on free loopback ports, wait for readiness instead of
sleeping, and stop every process they started by its pid."""
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
ROOT = HERE.parent.parent


def drover_binary():
    path = os.path.abspath(os.environ.get("DROVER_BIN") or str(ROOT / "build" / "supervisor" / "drover"))
    if not os.access(path, os.X_OK):
        pytest.exit("drover binary not found at %s: build first (make test)" % path, returncode=1)
    return path


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


READY_RE = re.compile(r"\[(\d+)\] info: worker: ready \(generation (\d+)")


class Drover:
    """One drover master started by a test, with its error log in a file."""

    def __init__(self, args, workdir, env=None):
        self.args = [drover_binary()] + list(args)
        self.workdir = Path(workdir)
        self.log_path = self.workdir / ("drover-%d.log" % id(self))
        self.stdout_path = self.workdir / ("drover-%d.out" % id(self))
        self._log = open(self.log_path, "wb")
        self._out = open(self.stdout_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            self.args, stdout=self._out, stderr=self._log, cwd=str(self.workdir), env=full_env,
            start_new_session=True)
        self.pid = self.proc.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def ready_pids(self, generation=None):
        pids = []
        for m in READY_RE.finditer(self.log()):
            if generation is None or int(m.group(2)) == generation:
                pids.append(int(m.group(1)))
        return pids

    def live_worker_pids(self):
        """The master's children, read from /proc (not from the log)."""
        out = []
        try:
            children = Path("/proc/%d/task/%d/children" % (self.pid, self.pid)).read_text().split()
        except OSError:
            return out
        return [int(c) for c in children]

    def wait_ready(self, workers, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("drover exited with %s before it was ready:\n%s" % (self.proc.returncode, self.log()))
            live = set(self.live_worker_pids())
            return len([p for p in set(self.ready_pids()) if p in live]) >= workers
        wait_until(ready, timeout, what="%d ready workers" % workers)
        return self

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        return wait_until(lambda: len(rx.findall(self.log())) >= count and rx.findall(self.log()),
                          timeout, what="log line /%s/ (log so far:\n%s)" % (pattern, self.log()[-3000:]))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("drover did not exit within %s s:\n%s" % (timeout, self.log()[-3000:]))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        # Workers are in the master's session: anything left behind by a
        # killed master goes with the session's process group.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        self._out.close()


def hup_every_second_under_wrk(url, send_hup, max_hups=9):
    """Runs `wrk -t2 -c32 -d10s url` and calls send_hup() once a second while
    it runs. Returns (wrk's output, the number of SIGHUPs sent)."""
    wrk = subprocess.Popen(["wrk", "-t2", "-c32", "-d10s", url],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    hups = 0
    try:
        while hups < max_hups:
            try:
                wrk.wait(1)  # paces the reloads: one a second while wrk runs
                break
            except subprocess.TimeoutExpired:
                send_hup()
                hups += 1
        out, _ = wrk.communicate(timeout=30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    assert wrk.returncode == 0, out
    return out, hups


@pytest.fixture
def start_drover(tmp_path):
    """start_drover(*args, workers=2, wait=True, env=None) -> Drover, stopped at teardown."""
    started = []

    def start(*args, workers=2, wait=True, env=None, ready_timeout=30):
        d = Drover(args, tmp_path, env=env)
        started.append(d)
        if wait:
            d.wait_ready(workers, timeout=ready_timeout)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def http_port():
    return free_port()


def app_args(module="basic_app", callable_="application"):
    return ["--pythonpath", str(APPS), "%s:%s" % (module, callable_)]
