"""Fixtures that start the real drover binary (and, for the protocol tests,
real nginx and Apache) on free loopback ports, wait for readiness instead of
sleeping, and stop every process they started by its pid."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
ROOT = HERE.parent.parent

sys.path.insert(0, str(ROOT / "tests" / "support"))
from processes import stop_process, wait_until  # noqa: E402,F401  (the tests import them from here)


def drover_binary():
    path = os.path.abspath(os.environ.get("DROVER_BIN") or str(ROOT / "build" / "supervisor" / "drover"))
    if not os.access(path, os.X_OK):
        pytest.exit("drover binary not found at %s: build first (make test)" % path, returncode=1)
    return path


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def recv_all(sock, timeout=30):
    """Everything the peer sends until it closes (a reset or a timeout ends
    it too)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


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


# ---------------------------------------------------------------- supervision helpers

SUP_APP = "sup_app:application"


def url(port, path="/"):
    return "http://127.0.0.1:%d%s" % (port, path)


# ---------------------------------------------------------------- config

def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def config_text(port, app=SUP_APP, pythonpath=(APPS,), log=None, raw=(), bind="", **settings):
    """A drover.toml; raw lines go verbatim after the settings. The metrics
    listener is off: these tests do not read it, and tests running at the
    same time may want its default port. bind=None leaves `bind` to raw."""
    lines = ["app = %s" % toml_value(app), "pythonpath = %s" % toml_value(list(pythonpath))]
    if bind is not None:
        lines.append("bind = [%s]" % toml_value(bind or "127.0.0.1:%d" % port))
    lines += ["%s = %s" % (k, toml_value(v)) for k, v in settings.items()]
    lines += list(raw)
    for table, values in (("log", log), ("metrics", {"address": ""})):
        if values:
            lines.append("[%s]" % table)
            lines += ["%s = %s" % (k, toml_value(v)) for k, v in values.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def sup(start_drover, tmp_path, http_port):
    """sup(ready=N, wait=True, **config) -> Drover serving on d.port, with its
    configuration file at d.cfg."""
    def start(ready=2, wait=True, **config):
        cfg = tmp_path / "drover.toml"
        cfg.write_text(config_text(http_port, **config))
        d = start_drover("-c", str(cfg), workers=ready, wait=wait)
        d.cfg = cfg
        d.port = http_port
        return d
    return start


def get_pid(port, timeout=10):
    r = requests.get(url(port, "/pid"), headers={"Connection": "close"}, timeout=timeout)
    assert r.status_code == 200, r.text
    return int(r.text)


def alive(pid):
    """True for a live process (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- load

class Load:
    """A bounded client load: `concurrency` threads issue at most `total`
    requests in all, for at most `seconds`, until stop(). Each request is a
    new connection (Connection: close) unless keep_alive, where each thread
    keeps one session."""

    def __init__(self, port, path="/pid", concurrency=4, total=2000, seconds=30, keep_alive=False):
        self.url = url(port, path)
        self.total = total
        self.deadline = time.monotonic() + seconds
        self.keep_alive = keep_alive
        self.lock = threading.Lock()
        self.issued = 0
        self.ok = 0
        self.failures = []   # (monotonic time, what went wrong)
        self.answers = []    # (monotonic time, body) of the 200s
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(concurrency)]
        for t in self.threads:
            t.start()

    def _take(self):
        with self.lock:
            if self._stop.is_set() or self.issued >= self.total or time.monotonic() > self.deadline:
                return False
            self.issued += 1
            return True

    def _run(self):
        session = requests.Session() if self.keep_alive else None
        headers = {} if self.keep_alive else {"Connection": "close"}
        while self._take():
            try:
                r = (session or requests).get(self.url, headers=headers, timeout=15)
                with self.lock:
                    if r.status_code == 200:
                        self.ok += 1
                        self.answers.append((time.monotonic(), r.text))
                    else:
                        self.failures.append((time.monotonic(), "status %d: %r" % (r.status_code, r.text[:200])))
            except requests.RequestException as e:
                with self.lock:
                    self.failures.append((time.monotonic(), repr(e)))
        if session:
            session.close()

    def done(self):
        return not any(t.is_alive() for t in self.threads)

    def stop(self):
        self._stop.set()
        return self.join()

    def join(self):
        for t in self.threads:
            t.join(max(1.0, self.deadline - time.monotonic() + 20))
        assert self.done(), "load threads did not finish"
        return self

    def pids(self, since=0.0):
        with self.lock:
            return {int(body) for t, body in self.answers if t >= since}


def marks(marker):
    try:
        return marker.read_text().split()
    except FileNotFoundError:
        return []


class Gated:
    """Requests that block in the app until the gate file exists. start()
    sends one; with busy=True it returns once a worker is in it, so no two
    are ever in flight unaccepted at once (a worker may take two connections
    before either sends its request, then serve them one after the other:
    see test_two_early_connections_are_served_at_once_by_two_workers)."""

    def __init__(self, port, tmp_path):
        self.port = port
        self.gate = tmp_path / "gate"
        self.marker = tmp_path / "marker"
        self.results = []
        self.threads = []
        self.sent = 0

    def _one(self):
        try:
            r = requests.get(url(self.port, "/gate?gate=%s&marker=%s" % (self.gate, self.marker)), timeout=30)
            self.results.append(r.status_code)
        except requests.RequestException as e:
            self.results.append(repr(e))

    def busy(self):
        return len(marks(self.marker))

    def start(self, busy=True):
        t = threading.Thread(target=self._one, daemon=True)
        t.start()
        self.threads.append(t)
        self.sent += 1
        if busy:
            n = self.sent
            wait_until(lambda: self.busy() >= n, 15, what="gated request %d to be busy in a worker" % n)

    def open(self):
        self.gate.write_text("open")
        for t in self.threads:
            t.join(30)
        return self.results
