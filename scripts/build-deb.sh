#!/bin/sh
# Builds the Debian package from a clean copy of the tree (the files git
# tracks, and new ones it does not ignore: no build directory leaks in),
# puts the .deb, .buildinfo and .changes in OUT, and runs lintian on it,
# failing on any error. A tree whose content has not changed since the last
# build reuses that package. Usage: build-deb.sh OUT
set -eu
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-build-deb}" && cd "${1:-build-deb}" && pwd)

# The package's identity: every file that goes into the copy, by content.
stamp=$(git ls-files -z -co --exclude-standard | sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && ls "$out"/drover_*.deb >/dev/null 2>&1; then
    echo "build-deb: the tree is unchanged since $(ls "$out"/drover_*.deb); reusing it"
    exit 0
fi

work=$(mktemp -d /tmp/drover-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/drover"
git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/drover"
(cd "$work/drover" && dpkg-buildpackage -us -uc -b -j2 > "$work/build.log" 2>&1) || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed (the whole log was $work/build.log)" >&2
    exit 1
}
rm -f "$out"/drover_* "$out"/drover-dbgsym_* "$out/stamp"
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
deb=$(ls "$out"/drover_*.deb)
echo "build-deb: built $deb"
dpkg-deb -f "$deb" Package Version Depends
echo "build-deb: lintian $deb"
status=0
lintian --fail-on error --info "$deb" > "$out/lintian.txt" 2>&1 || status=$?
cat "$out/lintian.txt"
if [ "$status" -ne 0 ]; then
    echo "build-deb: lintian found errors" >&2
    exit 1
fi
echo "build-deb: lintian: no errors ($(grep -c '^W:' "$out/lintian.txt" || true) warnings)"
echo "$stamp" > "$out/stamp"
