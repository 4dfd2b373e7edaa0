#!/bin/sh
# Installs the Debian 12 packages drover needs to build and to run its tests,
# when they are missing. Works as root or through sudo.
set -eu

packages="
meson ninja-build pkg-config g++ make
libevent-dev libboost-dev python3-dev libtomlplusplus-dev libsystemd-dev libgtest-dev
node-llhttp
python3-pytest python3-requests python3-flask python3-django python3-prometheus-client python3-venv
curl nginx apache2 libfcgi-bin prometheus haproxy systemd clang
wrk strace
prometheus-cpp-dev
"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "install-deps: missing packages:$missing (run as root or install sudo)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
