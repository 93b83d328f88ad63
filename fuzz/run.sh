#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, one after the other.
# Usage: fuzz/run.sh SECONDS [target ...]
# Corpora grow in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>);
# a crash lands in fuzz/artifacts/<target>/ and fails the run. Copy it into
# fuzz/regressions/<target>/ once fixed: fuzz/regress.sh replays those.
# cargo-fuzz needs unstable compiler flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them (no nightly download).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: fuzz/run.sh SECONDS [target ...]}
shift
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
export RUSTC_BOOTSTRAP=1
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="corpus/$target.log"
    if cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        echo "$target: ok, $runs executions in ${seconds}s"
    else
        echo "$target: FAILED (see fuzz/$log and fuzz/artifacts/$target/)"
        tail -n 30 "$log"
        status=1
    fi
done
exit $status
