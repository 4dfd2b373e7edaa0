#!/bin/sh
# Installs the Debian 12 packages drover needs, when they are missing. Works
# as root or through sudo.
#   install-deps.sh --for run      build and run drover (make run, make build)
#   install-deps.sh --for test     and run its tests (make test)
#   install-deps.sh --for deb      and build its Debian package (make deb)
#   install-deps.sh --for systemd  and boot a Debian container to test the package under systemd (make test-systemd)
set -eu

purpose=run
while [ $# -gt 0 ]; do
    case "$1" in
        --for) purpose=${2:-}; shift 2 ;;
        --for=*) purpose=${1#--for=}; shift ;;
        *) echo "install-deps: unknown argument $1 (use --for run|test|deb|systemd)" >&2; exit 2 ;;
    esac
done

# One package per line, so that a change to the list is one line of diff.
run_packages="
meson
ninja-build
pkg-config
g++
make
libevent-dev
libboost-dev
python3-dev
libtomlplusplus-dev
libsystemd-dev
node-llhttp
prometheus-cpp-dev
"
test_packages="
libgtest-dev
python3-pytest
python3-requests
python3-flask
python3-django
python3-prometheus-client
python3-venv
curl
nginx
apache2
libfcgi-bin
prometheus
haproxy
systemd
clang
wrk
strace
go-md2man
"
deb_packages="
debhelper
dpkg-dev
fakeroot
go-md2man
lintian
systemd
"
systemd_packages="
debootstrap
systemd-container
util-linux
"

case "$purpose" in
    run) packages=$run_packages ;;
    test) packages="$run_packages $test_packages" ;;
    deb) packages="$run_packages $deb_packages" ;;
    systemd) packages="$run_packages $deb_packages $systemd_packages" ;;
    *) echo "install-deps: --for must be run, test, deb or systemd, got '$purpose'" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
    case " $missing " in *" $p "*) continue ;; esac
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
