"""Runs the rows: rounds of load measurements, interleaved, then one short
syscall-counting pass. Every figure of one entry in one round comes from a
fresh start of its servers."""
import os
import subprocess
import tempfile
import time
from pathlib import Path

from . import load
from .procs import cpu_seconds, cpu_snapshot, descendants, memory_kib
from .servers import Setup


# Bounds one entry of the syscall pass (a server that pins its workers to
# idle kept connections can take a minute for a few thousand requests).
SYSCALL_PASS_TIMELIMIT = 20


class Settings:
    def __init__(self, env=os.environ):
        self.quick = env.get("BENCH_QUICK", "") not in ("", "0")
        q = self.quick

        def num(name, default, quick, cast=int):
            v = env.get(name, "")
            return cast(v.rstrip("s")) if v else (quick if q else default)
        self.rounds = num("BENCH_ROUNDS", 5, 1)
        # wrk takes whole seconds only
        self.duration = max(1, round(num("BENCH_DURATION", 5, 2, float)))
        self.workers = num("BENCH_WORKERS", 2, 2)
        self.connections = num("BENCH_CONNECTIONS", 32, 32)
        self.ab_requests = num("BENCH_AB_REQUESTS", 2000, 300)
        self.warmup = max(1, round(num("BENCH_WARMUP", 1, 1, float)))
        self.syscall_requests = num("BENCH_SYSCALL_REQUESTS", 3000, 500)
        self.syscalls = env.get("BENCH_SYSCALLS", "auto")
        self.rows = env.get("BENCH_ROWS", "")

    def as_dict(self):
        return {k: v for k, v in vars(self).items()}


def log(msg):
    print(msg, flush=True)


class Runner:
    def __init__(self, ctx, settings, rows, workdir):
        self.ctx, self.s, self.rows = ctx, settings, rows
        self.workdir = Path(workdir)
        self.lua, self.body = load.post_files(self.workdir)
        self.results = []       # one dict per (round, entry)
        self.syscalls = {}      # entry key -> {...}
        self.commands = {}      # entry key -> [command lines and configs]
        self.seq = 0

    # ------------------------------------------------------------ helpers

    def _setup(self, entry):
        self.seq += 1
        d = self.workdir / ("%03d-%s" % (self.seq, entry.key.replace("/", "-")))
        setup = Setup(self.ctx, entry, d)
        setup.start()
        if entry.key not in self.commands:
            self.commands[entry.key] = setup.commands()
        return setup

    def _load_args(self, entry):
        post = entry.method == "POST"
        return {"script": self.lua if post else None, "body": self.body if post else None}

    # ------------------------------------------------------------ one load run

    def measure_load(self, entry):
        s = self.s
        a = self._load_args(entry)
        setup = self._setup(entry)
        try:
            load.wrk(setup.url, s.connections, s.warmup, script=a["script"])
            time.sleep(0.2)
            master = setup.master_pid()
            workers = setup.worker_pids()
            backend = ([master] if master else []) + workers
            front = setup.frontend_pids()
            pids = backend + front
            before = cpu_snapshot(pids)
            w = load.wrk(setup.url, s.connections, s.duration, script=a["script"])
            after = cpu_snapshot(pids)
            changed = sorted(set(setup.backend_pids()) ^ set(backend))
            n = w["requests"] or 1
            r = dict(w)
            r["cpu_us"] = cpu_seconds(before, after, backend) * 1e6 / n if backend else None
            r["master_us"] = cpu_seconds(before, after, [master]) * 1e6 / n if master else None
            r["frontend_us"] = cpu_seconds(before, after, front) * 1e6 / n if front else None
            r["pids_changed"] = changed
            before = cpu_snapshot(pids)
            b = load.ab(setup.url, s.ab_requests, 1, entry.client_keepalive, a["body"])
            after = cpu_snapshot(pids)
            r["ab_ms"] = b["ms"]
            r["ab_failed"] = b["failed"]
            r["ab_non2xx"] = b["non2xx"]
            r["ab_cpu_us"] = (cpu_seconds(before, after, backend) * 1e6 / max(b["complete"], 1)) if backend else None
            r["workers"] = len(workers)
        finally:
            r_stop = setup.stop()
        if entry.server == "drover" and r_stop.get("drover") not in (0, None):
            r["drover_exit"] = r_stop.get("drover")
        return r

    def measure_memory(self, entry):
        setup = self._setup(entry)
        try:
            n = 40 if entry.app == "django" else 400
            load.ab(setup.url, n, 2, False)
            time.sleep(0.5)
            master = setup.master_pid()
            procs = [master] + descendants(master)
            mem = {p: memory_kib(p) for p in procs}
            return {"rss_kib": sum(v[0] for v in mem.values()), "pss_kib": sum(v[1] for v in mem.values()),
                    "processes": len(procs),
                    "per_process": [{"pid": p, "rss_kib": v[0], "pss_kib": v[1], "master": p == master}
                                    for p, v in mem.items()]}
        finally:
            setup.stop()

    def measure_syscalls(self, entry, tool):
        a = self._load_args(entry)
        setup = self._setup(entry)
        try:
            load.wrk(setup.url, self.s.connections, 1, script=a["script"])
            time.sleep(0.2)
            master, workers = setup.master_pid(), setup.worker_pids()
            d = setup.dir
            counters = []
            try:
                cw = load.SyscallCounter(tool, workers, d / "syscalls-workers.txt")
                counters.append(cw)
                cm = load.SyscallCounter(tool, [master], d / "syscalls-master.txt") if master else None
                counters += [cm] if cm else []
                for c in counters:
                    c.start()
                b = load.ab(setup.url, self.s.syscall_requests, self.s.connections, entry.client_keepalive,
                            a["body"], timelimit=SYSCALL_PASS_TIMELIMIT)
            finally:
                counts = [c.stop() for c in counters]
            wc, mc = counts[0], (counts[1] if cm else {})
            n = max(b["complete"], 1)
            return {"tool": tool, "requests": b["complete"], "concurrency": self.s.connections,
                    "workers_per_req": sum(wc.values()) / n,
                    "master_per_req": (sum(mc.values()) / n) if cm else None,
                    "workers": {k: v / n for k, v in sorted(wc.items(), key=lambda kv: -kv[1])},
                    "master": {k: v / n for k, v in sorted(mc.items(), key=lambda kv: -kv[1])},
                    "command": cw.describe()}
        finally:
            setup.stop()

    # ------------------------------------------------------------ the run

    def entries(self, kind):
        return [e for r in self.rows if r.kind == kind for e in r.entries]

    def run(self):
        s = self.s
        load_rows = [r for r in self.rows if r.kind == "load"]
        mem_rows = [r for r in self.rows if r.kind == "memory"]
        started = time.monotonic()
        for rnd in range(s.rounds):
            t0 = time.monotonic()
            for row in load_rows + mem_rows:
                # within a row, every other round runs the entries in the
                # opposite order: who goes first gets no steady advantage
                entries = row.entries if rnd % 2 == 0 else list(reversed(row.entries))
                for e in entries:
                    rec = {"round": rnd, "key": e.key, "row": row.id}
                    try:
                        if row.kind == "load":
                            rec.update(self.measure_load(e))
                        else:
                            rec.update(self.measure_memory(e))
                    except Exception as ex:  # a failed run is reported, the others go on
                        rec["error"] = str(ex)[:2000]
                    self.results.append(rec)
                    log("[round %d/%d] %s" % (rnd + 1, s.rounds, describe(rec)))
            took = time.monotonic() - t0
            left = took * (s.rounds - rnd - 1)
            log("round %d took %.0f s; about %.0f s of rounds left" % (rnd + 1, took, left))
        tool = s.syscalls
        if tool == "auto":
            tool = "perf" if load.perf_usable() else "strace"
        if tool != "off":
            log("syscall pass (%s, ab -c%d -n%d per entry, not timed)" % (tool, s.connections, s.syscall_requests))
            for e in self.entries("load"):
                if e.server in ("nginx", "apache"):
                    continue
                try:
                    self.syscalls[e.key] = self.measure_syscalls(e, tool)
                    sc = self.syscalls[e.key]
                    log("  %-40s workers %6.1f syscalls/req, master %s" % (
                        e.key, sc["workers_per_req"],
                        "-" if sc["master_per_req"] is None else "%.2f" % sc["master_per_req"]))
                except Exception as ex:
                    self.syscalls[e.key] = {"error": str(ex)[:2000]}
                    log("  %-40s failed: %s" % (e.key, str(ex)[:300]))
        self.elapsed = time.monotonic() - started
        return self.results


def describe(rec):
    if "error" in rec:
        return "%s: FAILED: %s" % (rec["key"], rec["error"].splitlines()[0][:300])
    if "rss_kib" in rec:
        return "%s: RSS %.1f MiB, PSS %.1f MiB, %d processes" % (
            rec["key"], rec["rss_kib"] / 1024, rec["pss_kib"] / 1024, rec["processes"])
    cpu = "-" if rec.get("cpu_us") is None else "%.0f" % rec["cpu_us"]
    master = "-" if rec.get("master_us") is None else "%.1f" % rec["master_us"]
    err = ""
    se = sum(rec.get("socket_errors", {}).values())
    if se or rec.get("non2xx") or rec.get("ab_failed"):
        err = "  (wrk socket errors %d, non-2xx %d; ab failed %d)" % (se, rec.get("non2xx", 0), rec.get("ab_failed", 0))
    return "%s: %.0f req/s, p99 %.2f ms, CPU %s us/req (master %s), ab -c1 %.3f ms%s" % (
        rec["key"], rec["rps"], rec["p99_ms"] or 0, cpu, master, rec["ab_ms"], err)


def migrate_django(site, db_dir):
    env = dict(os.environ, DROVER_TEST_DB_DIR=str(db_dir), DJANGO_SETTINGS_MODULE="dsite.settings")
    subprocess.run(["/usr/bin/python3", "manage.py", "migrate", "-v", "0"], cwd=str(site), env=env, check=True,
                   timeout=300)


def make_workdir():
    d = tempfile.mkdtemp(prefix="drover-bench-")
    os.chmod(d, 0o755)  # Apache's children (nobody) traverse it
    return d

