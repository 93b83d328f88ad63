#!/usr/bin/env bash
# Every check and test of the project; CI runs exactly this (.ci/run).
# Installs what it needs: Debian packages with apt-get, Python packages in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive: curl, slowhttptest (hostile clients), and
# Chromium for the browser tests (Playwright drives the system browser; it
# never downloads one).
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v slowhttptest >/dev/null || missing+=(slowhttptest)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-dev.txt

echo "== rustfmt, clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test (unit + loopback integration)"
cargo test --workspace

echo "== build and install the module (pip install .)"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/pip install -q --no-build-isolation --force-reinstall --no-deps .

echo "== stubtest (the .pyi stubs match the built module)"
.venv/bin/python -m mypy.stubtest uhttpd

echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider tests

echo "== fuzz smoke (each target a few seconds; saved inputs replayed)"
fuzz/run.sh 5
fuzz/regress.sh
