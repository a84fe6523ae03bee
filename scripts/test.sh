#!/bin/bash
# `make test`: every stage of the suite, arranged so that 2 cores are busy all the way through.
#
# The tests mostly wait on real time (ffmpeg -re, reconnect windows, a booted container), and two of
# the builds are not needed until later, so those run beside the tests at idle CPU priority
# (SCHED_IDLE: they get only the CPU the foreground leaves, and give it back at once):
#
#   foreground                                 beside it, at idle priority
#   debug build, unit tests                    the .deb's release build (its own folder, .build-deb)
#   end-to-end tests                           the fuzzer's build (in .build) and its 30 s per target
#   package tests (once the .deb is built)     (the fuzzer, until it is done)
#
# Nothing in the foreground runs SwiftPM once the fuzzer's build has started (it holds .build's lock).
# The background stages write to dist/test-logs/ and are printed when they end. Any failing stage
# fails the run; the stages after it still run where they can.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
logs=dist/test-logs
rm -rf "$logs" && mkdir -p "$logs"
start=$SECONDS
failed=()

stage() { printf '\n== %s  (%d s in)\n' "$*" $((SECONDS - start)); }
idle() { nice -n 19 chrt --idle 0 "$@"; }
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

# Resolve once, so that the two builds below do not both write Package.resolved.
"${SWIFT:-swift}" package resolve || failed+=(resolve)

stage "make deb, beside (idle priority): $logs/deb.log"
idle "$make" --no-print-directory deb > "$logs/deb.log" 2>&1 &
deb=$!

stage "unit tests (debug build first)"
"$make" --no-print-directory unit-test || failed+=(unit-test)

stage "make fuzz FUZZ_SECONDS=30, beside (idle priority): $logs/fuzz.log"
idle "$make" --no-print-directory fuzz FUZZ_SECONDS=30 > "$logs/fuzz.log" 2>&1 &
fuzz=$!

stage "end-to-end tests"
"$make" --no-print-directory e2e-run || failed+=(e2e-test)

stage "waiting for the .deb"
if ended deb "$deb" "$logs/deb.log" 15; then
    stage "package tests"
    "$make" --no-print-directory package-run || failed+=(package-test)
else
    failed+=(package-test)  # nothing to test without the .deb
fi

stage "waiting for the fuzzer"
ended fuzz "$fuzz" "$logs/fuzz.log" 40

stage "make test: done"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "every stage passed"
