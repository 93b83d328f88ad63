#!/usr/bin/env bash
# Every check and test of the project; CI runs exactly this (.ci/run).
# Installs what it needs: Debian packages with apt-get, Python packages in .venv.
#
# Each step prints one line, plus a short summary; what the tools print goes
# to target/test-logs/<step>.log, and the tail of that log is shown when the
# step fails. The console output stays a few KiB: a CI runner that reads it
# slowly, or not until the end, can then never stall the run on a full pipe.
set -euo pipefail
cd "$(dirname "$0")/.."
# Nothing here reads the terminal: a runner's open stdin must not hold up a step.
exec </dev/null

logs=target/test-logs
mkdir -p "$logs"

# step NAME COMMAND...: runs COMMAND with its output in $logs/NAME.log.
step() {
    local name=$1 log="$logs/$1.log"
    shift
    echo "== $name"
    if ! "$@" >"$log" 2>&1; then
        echo "-- last lines of $log:"
        tail -n 60 "$log" | cut -c1-200
        if [ "$name" = pytest ] && [ -s "$logs/hang-stacks.txt" ]; then
            echo "-- a test hung; where each thread was ($logs/hang-stacks.txt):"
            head -n 120 "$logs/hang-stacks.txt" | cut -c1-160
        fi
        echo "== FAILED: $name"
        exit 1
    fi
}

# Debian packages the tests drive: curl, slowhttptest (hostile clients),
# openssl (TLS clients and test certificates), and Chromium for the browser
# tests (Playwright drives the system browser; it never downloads one).
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v slowhttptest >/dev/null || missing+=(slowhttptest)
# unshare -n and ip: mpfshell dials port 8266, served in a private network namespace.
command -v ip >/dev/null || missing+=(iproute2)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ((${#missing[@]})); then
    step apt bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"' apt "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
step pip bash -c '.venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -r requirements-dev.txt'

step rustfmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
# The engine's documentation is its Rust user's manual: no broken links.
step doc env RUSTDOCFLAGS="-D warnings" cargo doc -p uhttpd --no-deps

step cargo-test cargo test --workspace
grep -h "^test result:" "$logs/cargo-test.log" | awk '{p += $4; f += $6} END {print "   " p " Rust tests passed, " f " failed"}'

step install env PATH="$PWD/.venv/bin:$PATH" .venv/bin/pip install -q --no-build-isolation --force-reinstall --no-deps .

step stubtest .venv/bin/python -m mypy.stubtest uhttpd
tail -n 1 "$logs/stubtest.log"

# The MicroPython face: the unix port with uhttpd compiled in, which the
# shared suite (tests/test_faces.py) and tests/test_micropython.py run.
step micropython bash scripts/build-micropython.sh
tail -n 1 "$logs/micropython.log"

# A hung test ends the run itself (tests/conftest.py's watchdog, with the
# stacks in the log); the timeout is the backstop.
step pytest timeout -k 30 1500 .venv/bin/python -m pytest -q -p no:cacheprovider tests
tail -n 1 "$logs/pytest.log"

# The portable fallbacks of openat2, sendfile, the unsent-bytes ioctl and renameat2
# (what a non-Linux host runs), forced on here so they are tested too. Without
# the ioctl a slow but steady reader cannot be told from a stalled one, so
# that one test of the Linux behaviour is left out of this run.
step portable-rust env UHTTPD_PORTABLE=1 cargo test -p uhttpd --lib --test limits --test protocol --test moves \
    -- --skip a_slow_but_steady_reader_gets_the_whole_reply
step portable-pytest env UHTTPD_PORTABLE=1 timeout -k 30 900 .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/test_files.py tests/test_uploads.py tests/test_move.py tests/test_security_files.py tests/test_file_acl.py
tail -n 1 "$logs/portable-pytest.log"

step fuzz-smoke fuzz/run.sh 5
grep -E "^[a-z_]+: (ok|FAILED)" "$logs/fuzz-smoke.log" | sed 's/^/   /'
step fuzz-regress fuzz/regress.sh
echo "   every saved fuzz input replayed without a crash"
