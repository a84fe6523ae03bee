#!/bin/bash
# Runs every fuzz target of onair-fuzz (issue 6): first the regression fixtures in
# Tests/Fuzz/Regressions/<target>/ (inputs that once crashed; each must now pass), then libFuzzer for
# SECONDS per target from the seeds in Tests/Fuzz/Seeds/<target>/ plus the corpus kept in
# WORK/corpus/<target>/. A crash leaves its input in WORK/findings/<target>/ and fails the run.
# Targets run FUZZ_JOBS at a time (default: one per CPU); each libFuzzer process is single-threaded.
#
#   Tests/Fuzz/run.sh BINARY SECONDS WORK [TARGET...]
set -uo pipefail
binary=$1 seconds=$2 work=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(chunk handshake session amf0 amf3 flv avc asc playlist config json boxes tsdemux fragments images relay)
mkdir -p "$work"
summary=$work/summary.txt
: > "$summary"
jobs=${FUZZ_JOBS:-$(nproc)}
# libFuzzer reports a Swift trap itself (deadly signal, with its input); the Swift backtracer would take the
# signal first and, reading memory ASan watches, bury the "Swift runtime failure" line under a false ASan report.
export SWIFT_BACKTRACE=enable=no

# One target: its regression fixtures, then libFuzzer; its verdict in $work/<target>.status (0: clean).
run_target() {
    local target=$1 failed=0
    mkdir -p "$work/corpus/$target" "$work/findings/$target"
    local regressions=("$here/Regressions/$target"/*)
    if [ -e "${regressions[0]}" ]; then
        if ! "$binary" "$target" -runs=1 "${regressions[@]}" > "$work/$target.regressions.log" 2>&1; then
            echo "FAIL $target: a regression fixture crashes again (see $work/$target.regressions.log)"
            failed=1
        fi
    fi
    local log=$work/$target.log
    "$binary" "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        -print_final_stats=1 -artifact_prefix="$work/findings/$target/" \
        "$work/corpus/$target" "$here/Seeds/$target" > "$log" 2>&1
    local status=$?
    local execs rate corpus crashes line
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(ls "$work/corpus/$target" | wc -l)
    crashes=$(ls "$work/findings/$target" | wc -l)
    line=$(printf '%-10s %10s execs %8s/s  corpus %5s  findings %s  exit %s' "$target" "${execs:-?}" "${rate:-?}" "$corpus" "$crashes" "$status")
    echo "$line" | tee -a "$summary"
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        echo "FAIL $target: see $log and $work/findings/$target/"
        tail -40 "$log"
        failed=1
    fi
    echo "$failed" > "$work/$target.status"
}

running=0
for target in "${targets[@]}"; do
    rm -f "$work/$target.status"
    run_target "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
failed=0
for target in "${targets[@]}"; do
    [ "$(cat "$work/$target.status" 2>/dev/null)" = 0 ] || failed=1
done
exit $failed
