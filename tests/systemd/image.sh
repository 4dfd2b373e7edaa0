#!/bin/sh
# Prints the path of a Debian 12 root tree, as a tar file, with systemd and
# the given packages installed: made once with `debootstrap --variant=minbase`
# and cached outside the build, keyed by the package list, so later runs
# reuse it. Usage: image.sh PACKAGE...
#   DROVER_TEST_CACHE   cache folder (default /var/cache/drover-test)
#   DROVER_TEST_MIRROR  Debian mirror (default: the host's apt source)
set -eu

cache=${DROVER_TEST_CACHE:-/var/cache/drover-test}
# What the tree always has: systemd as PID 1 and what the test drives inside.
base="systemd systemd-sysv dbus nginx-light logrotate curl python3 adduser procps"
# Changes to the set-up below must change the key too.
setup_version=1
packages=$(printf '%s\n' $base "$@" | sort -u | tr '\n' ' ')
key=$(printf '%s|%s' "$setup_version" "$packages" | sha256sum | cut -c1-12)
tar_path="$cache/bookworm-$key.tar"
if [ -s "$tar_path" ]; then
    echo "$tar_path"
    exit 0
fi

mirror=${DROVER_TEST_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(grep -rhoE '^(URIs: |deb )\S+' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null |
             sed -E 's/^(URIs: |deb )//; s,/$,,' | grep -E '/debian$' | head -n1)
fi
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree="$work/tree"
echo "image.sh: debootstrap bookworm from $mirror with: $packages" >&2
debootstrap --variant=minbase --include="$(echo $packages | tr ' ' ',')" bookworm "$tree" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# The container shares the host's network: nothing in it may listen on a
# fixed port by itself. nginx gets its configuration from the test.
rm -f "$tree/etc/nginx/sites-enabled/default"
for unit in nginx.service apt-daily.timer apt-daily-upgrade.timer logrotate.timer e2scrub_all.timer \
            fstrim.timer man-db.timer dpkg-db-backup.timer; do
    ln -sf /dev/null "$tree/etc/systemd/system/$unit"
done
# Boot into a quiet multi-user system without a console login.
ln -sf /dev/null "$tree/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$tree/etc/systemd/system/getty@.service"
echo drover-test > "$tree/etc/hostname"
: > "$tree/etc/machine-id"
rm -rf "$tree/var/cache/apt/archives/"*.deb "$tree/var/lib/apt/lists/"*

tar -C "$tree" -cf "$work/image.tar" .
mv "$work/image.tar" "$tar_path"
echo "$tar_path"
