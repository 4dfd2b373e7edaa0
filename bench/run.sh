#!/bin/sh
# Runs every benchmark (not part of `make test`): installs the peers it
# compares against (uWSGI, gunicorn, wrk, nginx) when missing.
set -eu
cd "$(dirname "$0")/.."
missing=""
for p in wrk nginx uwsgi uwsgi-plugin-python3 gunicorn; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
export DROVER_BIN="${DROVER_BIN:-$PWD/build/supervisor/drover}"
/usr/bin/python3 bench/compare.py all
for b in bench/metrics_scrape.* bench/metrics_overhead.*; do
    [ -x "$b" ] && "$b"
done
exit 0
