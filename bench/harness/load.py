"""The load generators (wrk, ab) and the syscall counters (perf, strace)."""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .servers import POST_SIZE

WRK = shutil.which("wrk") or "/usr/bin/wrk"
AB = shutil.which("ab") or "/usr/bin/ab"
PERF = shutil.which("perf") or "/usr/bin/perf"
STRACE = shutil.which("strace") or "/usr/bin/strace"


def post_files(workdir):
    """(wrk lua script, ab body file) for the 64 KiB POST."""
    workdir = Path(workdir)
    body = workdir / "post64k.bin"
    body.write_bytes(b"a" * POST_SIZE)
    lua = workdir / "post64k.lua"
    lua.write_text('wrk.method = "POST"\n'
                   'wrk.body = string.rep("a", %d)\n'
                   'wrk.headers["Content-Type"] = "application/octet-stream"\n' % POST_SIZE)
    return lua, body


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    v, unit = float(m.group(1)), m.group(2)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[unit]


def wrk_command(url, connections, duration, threads=2, script=None):
    args = [WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % max(1, round(float(duration))), "--latency"]
    if script:
        args += ["-s", str(script)]
    return args + [url]


def wrk(url, connections, duration, threads=2, script=None):
    args = wrk_command(url, connections, duration, threads, script)
    p = subprocess.run(args, capture_output=True, text=True, timeout=float(duration) + 120)
    out = p.stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not m:
        raise RuntimeError("%s printed no result (status %d): %s %s" % (" ".join(args), p.returncode, out, p.stderr))
    secs = _ms(m.group(2) + m.group(3)) / 1000
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(m.group(1)),
        "seconds": secs,
        "rps": int(m.group(1)) / secs,
        "p50_ms": _ms(lat["50"]) if "50" in lat else None,
        "p99_ms": _ms(lat["99"]) if "99" in lat else None,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, errors.groups()))) if errors else {},
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def ab_command(url, requests, concurrency=1, keepalive=False, body=None, timelimit=None):
    args = [AB, "-q", "-r", "-c%d" % concurrency]
    if timelimit:
        args.append("-t%d" % timelimit)  # before -n, which it would reset
    args.append("-n%d" % requests)
    if keepalive:
        args.append("-k")
    if body:
        args += ["-p", str(body), "-T", "application/octet-stream"]
    return args + [url]


def ab(url, requests, concurrency=1, keepalive=False, body=None, timelimit=None):
    args = ab_command(url, requests, concurrency, keepalive, body, timelimit)
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    out = p.stdout

    def num(pattern, cast=float, default=None):
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else default
    mean = num(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)")
    if mean is None:
        raise RuntimeError("ab printed no result (status %d):\n%s\n%s" % (p.returncode, out, p.stderr))
    return {
        "ms": mean,
        "complete": num(r"Complete requests:\s+(\d+)", int, 0),
        "failed": num(r"Failed requests:\s+(\d+)", int, 0),
        "non2xx": num(r"Non-2xx responses:\s+(\d+)", int, 0),
        "keepalive_requests": num(r"Keep-Alive requests:\s+(\d+)", int, 0),
    }


# ---------------------------------------------------------------- syscalls

def perf_usable():
    try:
        p = subprocess.run([PERF, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0 and "raw_syscalls:sys_enter" in p.stderr and "<not" not in p.stderr


# The syscalls a server makes per request, counted by name; the rest are
# counted together through raw_syscalls (every syscall), so the total is
# exact. Each traced syscall is one event per thread, and closing hundreds
# of them (syscalls:sys_enter_* is 360) takes perf seconds of RCU waits.
NAMED_SYSCALLS = """accept accept4 read readv recvfrom recvmsg write writev sendto sendmsg sendfile64 close
shutdown epoll_wait epoll_pwait epoll_pwait2 epoll_ctl poll ppoll select pselect6 setsockopt getsockopt
getsockname getpeername fcntl ioctl futex openat newfstatat fstat statx lseek mmap munmap brk madvise mprotect
mremap rt_sigprocmask rt_sigaction rt_sigreturn kill tgkill getpid gettid wait4 waitid socket connect
fchmod fchown splice pipe2 eventfd2 timerfd_settime clock_gettime gettimeofday clock_nanosleep nanosleep
sched_yield getrusage uname prctl getrandom unlink""".split()
TRACEFS = Path("/sys/kernel/tracing/events/syscalls")


def perf_events():
    have = [n for n in NAMED_SYSCALLS if (TRACEFS / ("sys_enter_" + n)).exists()] if TRACEFS.exists() \
        else NAMED_SYSCALLS
    return ",".join(["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + n for n in have])


class SyscallCounter:
    """Counts the syscalls of a set of processes (all their threads) while it
    runs: `perf stat -e 'syscalls:sys_enter_*'` (counts in the kernel,
    barely slows the process) or `strace -c -f` (slows it a lot; counts
    only). Returns {syscall: count}."""

    def __init__(self, tool, pids, out):
        self.tool, self.pids, self.out = tool, list(pids), Path(out)
        self.ctl = self.ack = None
        if tool == "perf":
            # Started disabled; enabled through its control fifo, whose ack
            # says every event is open and counting.
            ctl, ack = Path(str(out) + ".ctl"), Path(str(out) + ".ack")
            for f in (ctl, ack):
                os.mkfifo(f)
            args = [PERF, "stat", "-x,", "-o", str(self.out), "-D", "-1", "--control",
                    "fifo:%s,%s" % (ctl, ack), "-e", perf_events(), "-p", ",".join(map(str, self.pids))]
        else:
            args = [STRACE, "-c", "-f", "-q", "-o", str(self.out)]
            for p in self.pids:
                args += ["-p", str(p)]
        self.args = args
        self.log = open(str(self.out) + ".log", "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if tool == "perf":
            self.ctl = open(ctl, "w")
            self.ack = open(ack, "r")

    def describe(self):
        if self.tool == "perf":
            return ("perf stat -x, -o OUT -D -1 --control fifo:CTL,ACK -e %s -p PID,PID "
                    "(enable, ab, disable through the fifo)" % perf_events())
        return "strace -c -f -q -o OUT -p PID -p PID (SIGINT after ab)"

    def start(self):
        """Returns once the counting has begun."""
        if self.tool == "perf":
            self._command("enable")
        else:
            time.sleep(1.0)  # strace: attached to every thread by then

    def _command(self, what):
        self.ctl.write(what + "\n")
        self.ctl.flush()
        line = self.ack.readline()
        if "ack" not in line:
            raise RuntimeError("perf stat did not acknowledge %r (%r); see %s.log" % (what, line, self.out))

    def stop(self):
        if self.tool == "perf" and self.p.poll() is None:
            self._command("disable")
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGINT)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for f in (self.ctl, self.ack):
            if f is not None:
                f.close()
        self.log.close()
        return self.parse()

    def parse(self):
        try:
            text = self.out.read_text()
        except OSError:
            return {}
        counts = {}
        if self.tool == "perf":
            total = 0
            for line in text.splitlines():
                f = line.split(",")
                if len(f) > 2 and f[0].isdigit():
                    if f[2] == "raw_syscalls:sys_enter":
                        total = int(f[0])
                    elif f[2].startswith("syscalls:sys_enter_") and int(f[0]):
                        counts[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
            if total > sum(counts.values()):
                counts["(other)"] = total - sum(counts.values())
        else:
            for line in text.splitlines():
                f = line.split()
                # % time, seconds, usecs/call, calls, [errors], syscall
                if len(f) >= 5 and f[-1] != "total" and re.match(r"[\d.]+$", f[0]) and f[3].isdigit():
                    counts[f[-1]] = int(f[3])
        return counts
