#!/bin/bash
# `make test`: every stage of the suite, arranged so that 2 cores are busy all the way through.
#
# The tests mostly wait on real time (ffmpeg -re, reconnect windows, a booted container), and two of
# the builds are not needed until later, so those run beside them at idle CPU priority (SCHED_IDLE:
# they get only the CPU the foreground leaves, and give it back at once):
#
#   foreground                                 beside it, at idle priority
#   debug build (with the tests), unit tests   the .deb's release build (its own folder, .build-deb)
#   end-to-end tests                           the fuzzer's build (in .build, on the debug build)
#   fuzzing, 30 s per target                   (the .deb, until it is done)
#   package tests, once the .deb is built
#
# The fuzzing itself runs in the foreground: libFuzzer's time limits are wall-clock. Nothing in the
# foreground runs SwiftPM while the fuzzer's build holds .build's lock. The background stages write to
# dist/test-logs/ and are printed when they end; they are stopped if this script ends first. A failing
# stage fails the run; the stages after it still run where they can (not after a failed debug build).
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
swift=${SWIFT:-swift}
logs=dist/test-logs
rm -rf "$logs" && mkdir -p "$logs"
start=$SECONDS
failed=()
background=()

stage() { printf '\n== %s  (%d s in)\n' "$*" $((SECONDS - start)); }
# beside LOG COMMAND...: COMMAND at idle priority in its own process group (set -m; not setsid: a new
# session is a new scheduler autogroup, which would get an equal share of the CPU), its output in LOG.
beside() {
    local log=$1; shift
    set -m
    nice -n 19 chrt --idle 0 "$@" > "$log" 2>&1 &
    background+=($!)
    set +m
}
stop_background() {
    local pid
    for pid in "${background[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
}
trap stop_background EXIT
trap 'exit 130' INT TERM
# ended NAME PID LOG LINES: waits for a background stage; prints the end of its log, all of it if it failed.
ended() {
    local name=$1 pid=$2 log=$3 lines=$4 status
    wait "$pid"; status=$?
    if [ "$status" = 0 ]; then
        stage "$name passed; the last $lines lines of $log:"
        tail -n "$lines" "$log"
    else
        stage "$name FAILED (exit $status); $log:"
        cat "$log"
        failed+=("$name")
        return 1
    fi
}
verdict() {
    stage "make test: done"
    if [ ${#failed[@]} -gt 0 ]; then
        echo "failed: ${failed[*]}"
        exit 1
    fi
    echo "every stage passed"
}

# Resolve once, so that the two builds below do not both write Package.resolved.
"$swift" package resolve || failed+=(resolve)

stage "make deb, beside (idle priority): $logs/deb.log"
beside "$logs/deb.log" "$make" --no-print-directory deb
deb=$!

stage "debug build, with the tests"
if ! { "$make" --no-print-directory arrows && "$swift" build --build-tests; }; then
    failed+=(debug-build)  # nothing below would test this tree
    verdict
fi

stage "unit tests"
"$swift" test --skip-build || failed+=(unit-test)

stage "the fuzzer's build, beside (idle priority): $logs/fuzz-build.log"
beside "$logs/fuzz-build.log" "$make" --no-print-directory fuzz-build
fuzz_build=$!

stage "end-to-end tests"
"$make" --no-print-directory e2e-run || failed+=(e2e-test)

stage "waiting for the fuzzer's build"
if ended fuzz-build "$fuzz_build" "$logs/fuzz-build.log" 3; then
    stage "fuzzing, 30 s per target"
    "$make" --no-print-directory fuzz-run FUZZ_SECONDS=30 || failed+=(fuzz)
fi

stage "waiting for the .deb"
if ended deb "$deb" "$logs/deb.log" 15; then
    stage "package tests"
    "$make" --no-print-directory package-run || failed+=(package-test)
else
    failed+=(package-test)  # nothing to test without the .deb
fi

verdict
