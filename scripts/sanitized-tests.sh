#!/bin/sh
# Builds drover with sanitizers and runs tests on that build; fails on any
# sanitizer report, even one from a worker whose death a test tolerated.
#
#   scripts/sanitized-tests.sh asan   # ASan + UBSan: every unit test and the whole integration suite
#   scripts/sanitized-tests.sh tsan   # TSan: the unit tests with threads (connection, WSGI bridge)
set -eu
cd "$(dirname "$0")/.."
mode=${1:?usage: sanitized-tests.sh asan|tsan}
build=build-$mode
logs="$PWD/$build/sanitizer-logs"

case $mode in
asan)
    # -fno-sanitize-recover: an undefined-behaviour report stops the process
    # (a worker dies and the master logs it), so no test passes over one.
    options="-Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fno-sanitize-recover=undefined"
    ;;
tsan)
    options="-Db_sanitize=thread -Db_lundef=false"
    ;;
*)
    echo "sanitized-tests: unknown mode $mode" >&2
    exit 2
    ;;
esac

[ -f "$build/build.ninja" ] || meson setup "$build" $options ${MESON_OPTIONS:-}
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan"
export DROVER_SANITIZED=$mode

status=0
if [ "$mode" = asan ]; then
    ninja -C "$build"
    meson test -C "$build" --print-errorlogs --suite unit --suite integration --timeout-multiplier 3 || status=$?
else
    ninja -C "$build" tests/unit/unit_connection tests/unit/unit_python
    for t in unit_connection unit_python; do
        "$build/tests/unit/$t" || status=$?
    done
fi

reports=$(find "$logs" -type f -size +0 | wc -l)
for f in $(find "$logs" -type f -size +0 | head -5); do
    echo "---- $f"
    head -60 "$f"
done
echo "sanitized-tests $mode: $reports sanitizer report(s); tests exit status $status"
[ "$reports" -eq 0 ] && [ "$status" -eq 0 ]
