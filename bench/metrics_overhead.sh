#!/bin/bash
# Requests/s of a trivial app with metrics off and on, in the same run, and
# their ratio (on / off). With metrics on, a scraper reads /metrics once a
# second during the load, as a Prometheus with scrape_interval 1s would.
#
#   bench/metrics_overhead.sh            (DROVER_BIN, WORKERS=2, ROUNDS=2, DURATION=10s)
#
# Rounds alternate off, on, off, on ... so a drift of the machine's load hits
# both sides alike. Needs wrk (scripts/install-deps.sh) and curl. Prints the
# numbers; no threshold.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
drover=${DROVER_BIN:-$root/build/supervisor/drover}
workers=${WORKERS:-2}
rounds=${ROUNDS:-2}
duration=${DURATION:-10s}
apps=$root/tests/integration/apps

command -v wrk >/dev/null || { echo "metrics_overhead: wrk is not installed" >&2; exit 1; }
[ -x "$drover" ] || { echo "metrics_overhead: no drover binary at $drover (set DROVER_BIN)" >&2; exit 1; }

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

work=$(mktemp -d /tmp/drover-overhead.XXXXXX)
pid=""
scraper=""
cleanup() {
    [ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# run_round off|on -> prints requests/s
run_round() {
    local mode=$1 port mport extra=() rps
    port=$(free_port)
    if [ "$mode" = on ]; then
        mport=$(free_port)
        extra=(--metrics "127.0.0.1:$mport")
    fi
    "$drover" -b "127.0.0.1:$port" -w "$workers" "${extra[@]}" --pythonpath "$apps" basic_app:application \
        >"$work/drover-$mode.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { echo "drover exited; see $work/drover-$mode.log" >&2; exit 1; }
        sleep 0.1
    done
    # every worker answers before the clock starts
    for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/"; done
    if [ "$mode" = on ]; then
        (while true; do curl -fsS -o /dev/null "http://127.0.0.1:$mport/metrics" || true; sleep 1; done) &
        scraper=$!
    fi
    rps=$(wrk -t2 -c16 -d"$duration" "http://127.0.0.1:$port/" | awk '/^Requests\/sec:/ {print $2}')
    if [ -n "$scraper" ]; then
        kill "$scraper" 2>/dev/null || true
        wait "$scraper" 2>/dev/null || true
        scraper=""
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
    echo "$rps"
}

off_all=()
on_all=()
for r in $(seq "$rounds"); do
    off=$(run_round off)
    on=$(run_round on)
    echo "round $r: metrics off $off req/s, metrics on $on req/s"
    off_all+=("$off")
    on_all+=("$on")
done

/usr/bin/python3 - "${off_all[*]}" "${on_all[*]}" "$workers" "$duration" <<'EOF'
import sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
mean = lambda xs: sum(xs) / len(xs)
print("metrics_overhead: workers=%s wrk -t2 -c16 -d%s, %d rounds: off %.0f req/s, on %.0f req/s, ratio on/off %.3f"
      % (sys.argv[3], sys.argv[4], len(off), mean(off), mean(on), mean(on) / mean(off)))
EOF
rm -rf "$work"
