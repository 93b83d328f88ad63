#!/usr/bin/env bash
# Replays every saved crash input (fuzz/regressions/<target>/*) and the seeds
# once through its target: fixed bugs stay fixed.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
    dirs=("seeds/$target")
    [ -d "regressions/$target" ] && dirs+=("regressions/$target")
    cargo fuzz run "$target" "${dirs[@]}" -- -runs=0 >/dev/null 2>&1 \
        || { echo "$target: a saved input fails again"; exit 1; }
    echo "$target: replayed ${dirs[*]}"
done
