#!/bin/sh
# Builds the codec fuzz targets with clang, libFuzzer and ASan/UBSan in their
# own build directory and runs each for SECONDS (default 20).
#
#   tests/fuzz/run.sh [SECONDS]
#
# Exits non-zero when a target fails to build or finds a crash, leak or
# sanitizer error; the reproducer is left in $BUILD/fuzz/<target>/artifacts.
# BUILD defaults to build-fuzz at the top of the source tree (FUZZ_BUILD_DIR).
set -u

seconds=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
    # CC too: llhttp is C, instrumented like the codecs around it.
    CC=clang CXX=clang++ meson setup "$build" "$root" -Dfuzz=true -Dtests=false || exit 1
fi

status=0
for target in fastcgi scgi http; do
    exe="$build/tests/fuzz/${target}_fuzz"
    # Only the fuzz targets: the rest of the tree is not needed here.
    if ! ninja -C "$build" "tests/fuzz/${target}_fuzz" >"$build/fuzz-build-$target.log" 2>&1; then
        echo "FAIL $target: build failed (see $build/fuzz-build-$target.log)"
        tail -n 20 "$build/fuzz-build-$target.log"
        status=1
        continue
    fi
    work="$build/fuzz/$target"
    mkdir -p "$work/corpus" "$work/artifacts"
    # New inputs go to the first corpus directory (in the build tree); the
    # seeds in the source tree are only read.
    if "$exe" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
        -dict="$here/$target.dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
        "$work/corpus" "$here/corpus/$target" >"$work/log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
        cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1)
        echo "ok   $target: ${runs:-?} runs in ${seconds}s, $cov"
    else
        echo "FAIL $target: see $work/log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$work/log" | head -n 10
        status=1
    fi
done
exit $status
