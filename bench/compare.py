#!/usr/bin/python3
"""drover against uWSGI and gunicorn: a shortcut to subsets of the harness.

  bench/compare.py http        BENCH_ROWS=direct-http
  bench/compare.py fastcgi     BENCH_ROWS=nginx-fastcgi-*,nginx-kept-*
  bench/compare.py preload     BENCH_ROWS=memory-django
  bench/compare.py all         every row

One round unless BENCH_ROUNDS says otherwise. The table is printed; the
rounds go to bench/results/bench-STAMP.json and RESULTS.md with its chart to
bench/results/compare-STAMP/ (bench/RESULTS.md is left alone). The drover
measured is DROVER_BIN, build-release/supervisor/drover by default (make
bench builds it). See bench/README.md.
"""
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = {"http": "direct-http", "fastcgi": "nginx-fastcgi-*,nginx-kept-*", "preload": "memory-django", "all": "all"}


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which not in ROWS:
        sys.exit(__doc__)
    env = dict(os.environ)
    env["BENCH_ROWS"] = ROWS[which]
    env.setdefault("BENCH_ROUNDS", "1")
    env.setdefault("BENCH_OUT", str(HERE / "results" / ("compare-%s-%s" % (which, time.strftime("%Y%m%d-%H%M%S")))))
    env.setdefault("BENCH_COMMAND", "bench/compare.py %s" % which)
    os.execve("/usr/bin/python3", ["/usr/bin/python3", str(HERE / "bench.py")], env)


if __name__ == "__main__":
    main()
