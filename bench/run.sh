#!/bin/sh
# `make bench`: builds drover in release mode (build-release/, no tests),
# installs what the benchmarks compare against and measure with from Debian
# when missing, runs the harness of issue 13 (bench/bench.py: prints the
# table, writes bench/RESULTS.md and bench/results.svg), then the metrics
# benchmarks (bench/metrics_scrape.py, bench/metrics_overhead.sh).
#
# Knobs (environment): BENCH_ROUNDS, BENCH_DURATION, BENCH_ROWS,
# BENCH_WORKERS, BENCH_QUICK=1, ... (bench/README.md); DROVER_BIN=PATH
# skips the build and measures that binary; BENCH_EXTRAS=0 skips the
# metrics benchmarks (they are skipped too when BENCH_ROWS selects rows).
set -eu
cd "$(dirname "$0")/.."
root=$PWD

missing=""
for p in wrk apache2-utils nginx apache2 libapache2-mod-wsgi-py3 uwsgi uwsgi-plugin-python3 gunicorn \
         python3-django python3-matplotlib linux-perf strace curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "bench: installing$missing"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ -z "${DROVER_BIN:-}" ]; then
    if [ ! -f build-release/build.ninja ]; then
        meson setup build-release --buildtype=release -Dtests=false
    else
        meson configure build-release -Dbuildtype=release -Dtests=false
    fi
    ninja -C build-release
    DROVER_BIN=$root/build-release/supervisor/drover
fi
export DROVER_BIN
export BENCH_COMMAND="${BENCH_COMMAND:-bench/run.sh}"

/usr/bin/python3 bench/bench.py

if [ "${BENCH_EXTRAS:-1}" != 0 ] && [ -z "${BENCH_ROWS:-}" ]; then
    if [ "${BENCH_QUICK:-0}" != 0 ]; then
        /usr/bin/python3 bench/metrics_scrape.py --drover "$DROVER_BIN" --scrapes 200 || true
        ROUNDS=1 DURATION=2s bench/metrics_overhead.sh || true
    else
        /usr/bin/python3 bench/metrics_scrape.py --drover "$DROVER_BIN" || true
        bench/metrics_overhead.sh || true
    fi
fi
exit 0
