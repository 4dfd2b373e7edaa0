"""Processes, ports and /proc: starting servers in their own session,
stopping them by pid, and reading their CPU time and memory."""
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A server started in its own session (so its children share its process
    group), stopped by its pid with `stop_signal`, then its group killed."""

    def __init__(self, args, log, env=None, cwd=None, stop_signal=signal.SIGTERM):
        self.args = [str(a) for a in args]
        self.log_path = Path(log)
        self._log = open(self.log_path, "wb")
        self.stop_signal = stop_signal
        self.p = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                  cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        self.returncode = None

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=20):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, self.stop_signal)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self.returncode = self.p.returncode
        # Whatever it left behind in its session (workers of a killed master).
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        return self.returncode

    def tail(self, n=2000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"


def connectable(address):
    """address: ("127.0.0.1", port) or a unix socket path."""
    try:
        if isinstance(address, tuple):
            s = socket.create_connection(address, timeout=1)
        else:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(1)
            s.connect(str(address))
        s.close()
        return True
    except OSError:
        return False


def wait_until(cond, timeout, what, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise RuntimeError("%s: %s exited (status %s) before it was ready:\n%s"
                                   % (what, p.args[0], p.p.returncode, p.tail()))
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError("%s: not ready after %ss" % (what, timeout))


# ---------------------------------------------------------------- /proc

def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                out += [int(c) for c in Path("/proc/%d/task/%s/children" % (pid, tid)).read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children(p):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def cpu_ticks(pid):
    """utime + stime of the whole process (all its threads), in clock ticks;
    None if it is gone."""
    try:
        text = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])   # fields 14 and 15 of proc(5)


def cpu_snapshot(pids):
    return {p: cpu_ticks(p) for p in pids}


def cpu_seconds(before, after, pids):
    """CPU seconds the processes `pids` used between two snapshots; a process
    missing from either snapshot counts what it is known to have used."""
    total = 0
    for p in pids:
        a, b = before.get(p), after.get(p)
        if a is not None and b is not None:
            total += b - a
    return total / CLK_TCK


def memory_kib(pid):
    """(Rss, Pss) of a process from /proc/PID/smaps_rollup, in KiB."""
    try:
        text = Path("/proc/%d/smaps_rollup" % pid).read_text()
    except OSError:
        return (0, 0)

    def field(name):
        m = re.search(r"^%s:\s+(\d+) kB" % name, text, re.M)
        return int(m.group(1)) if m else 0
    return (field("Rss"), field("Pss"))
