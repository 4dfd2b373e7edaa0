#!/usr/bin/python3
"""The benchmark of issue 13: drover against uWSGI, gunicorn and mod_wsgi.

    bench/bench.py                 run the rows (knobs: BENCH_* variables, see bench/README.md),
                                   print the table, write bench/results/bench-STAMP.json,
                                   bench/RESULTS.md and bench/results.svg
    bench/bench.py report FILE     write RESULTS.md and results.svg again from a saved run
    bench/bench.py rows            list the rows and their entries

`make bench` builds drover in release mode and runs this (bench/run.sh).
Every server listens on 127.0.0.1 or a unix socket in a temporary
directory, every load is bounded (wrk -d, ab -n), every process is
stopped by its pid.
"""
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from harness import machine, report, rows as rowsmod, runner  # noqa: E402
from harness.servers import Context  # noqa: E402

RESULTS_DIR = HERE / "results"


def drover_bin():
    return os.environ.get("DROVER_BIN", str(ROOT / "build-release" / "supervisor" / "drover"))


def command_line():
    """The command as the user typed it, with the knobs that were set."""
    knobs = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(os.environ.items())
                     if k.startswith("BENCH_") and k not in ("BENCH_COMMAND", "BENCH_OUT"))
    cmd = os.environ.get("BENCH_COMMAND") or " ".join(shlex.quote(a) for a in sys.argv)
    return (knobs + " " + cmd).strip()


def cmd_rows():
    for r in rowsmod.all_rows():
        print("%-24s %-12s %s" % (r.id, r.group, r.title))
        for e in r.entries:
            print("    %-22s %s" % (e.name, e.label))


def cmd_run():
    s = runner.Settings()
    rows = rowsmod.select(rowsmod.all_rows(), s.rows)
    drover = drover_bin()
    if not Path(drover).exists():
        sys.exit("bench: no drover binary at %s (bench/run.sh builds build-release/; or set DROVER_BIN)" % drover)
    for tool in ("wrk", "ab", "nginx", "apache2", "uwsgi", "gunicorn"):
        if not shutil.which(tool) and not Path("/usr/sbin/" + tool).exists():
            sys.exit("bench: %s is missing (bench/run.sh installs the peers)" % tool)
    info = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": command_line(),
        "environment": {k: v for k, v in os.environ.items()
                        if (k.startswith("BENCH_") and k != "BENCH_COMMAND") or k == "DROVER_BIN"},
        "settings": s.as_dict(),
        "machine": machine.machine(),
        "versions": machine.versions(ROOT, drover),
        "loadavg_before": machine.loadavg(),
        "rows": [r.id for r in rows],
    }
    print("drover %s; %d round(s) of %d row(s), wrk -c%d %gs, ab -c1 -n%d; load average %s" % (
        info["versions"]["drover"], s.rounds, len(rows), s.connections, s.duration, s.ab_requests,
        info["loadavg_before"]), flush=True)
    workdir = runner.make_workdir()
    keep = os.environ.get("BENCH_KEEP_WORKDIR", "") not in ("", "0")
    try:
        site = ROOT / "tests" / "integration" / "apps" / "django_site"
        ctx = Context(drover, HERE / "apps", site, s.workers, django_db_dir=Path(workdir) / "django-db")
        if any(r.id == "memory-django" for r in rows):
            (Path(workdir) / "django-db").mkdir()
            runner.migrate_django(site, Path(workdir) / "django-db")
        run = runner.Runner(ctx, s, rows, workdir)
        run.run()
    finally:
        if keep:
            print("bench: work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_after"] = machine.loadavg()
    info["elapsed_s"] = run.elapsed
    info["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    data = {"info": info, "results": run.results, "syscalls": run.syscalls, "commands": run.commands}
    RESULTS_DIR.mkdir(exist_ok=True)
    saved = RESULTS_DIR / ("bench-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    saved.write_text(json.dumps(data, indent=1))
    publish(data, saved)
    failed = [r["key"] for r in run.results if "error" in r]
    failed += ["syscalls " + k for k, v in run.syscalls.items() if "error" in v]
    if failed:
        sys.exit("bench: %d run(s) failed (see the table and RESULTS.md): %s" % (len(failed), ", ".join(failed[:10])))


def publish(data, saved):
    out = Path(os.environ.get("BENCH_OUT", str(HERE)))
    out.mkdir(parents=True, exist_ok=True)
    text = report.render_text(data)
    print("\n" + text)
    md = out / "RESULTS.md"
    svg = out / "results.svg"
    report.write_markdown(data, md, svg.name, saved)
    report.write_chart(data, svg)
    print("bench: raw results in %s; wrote %s and %s" % (saved, md, svg))


def main():
    args = sys.argv[1:]
    if not args or args[0] == "run":
        cmd_run()
    elif args[0] == "report" and len(args) == 2:
        saved = Path(args[1])
        publish(json.loads(saved.read_text()), saved)
    elif args[0] == "rows":
        cmd_rows()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
