#!/usr/bin/env bash
# Builds MicroPython's unix port with uhttpd compiled in as a user C module:
# target/micropython/micropython. Idempotent: the source is fetched and
# unpacked once; make and cargo rebuild only what changed.
#
# The source is Debian's `micropython` source package at a pinned version
# (its digest checked), fetched through a private APT configuration that
# adds a deb-src line for the release carrying it: the system's own sources
# are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

# Pinned: trixie's 1.25.0. Its unix Makefile hard-codes the GIL off
# (1.26 has a make variable); the build turns it on below.
MP_VERSION=1.25.0
MP_PACKAGE_VERSION=1.25.0+ds-1
MP_SUITE=trixie
MP_ORIG=micropython_${MP_VERSION}+ds.orig.tar.xz
MP_ORIG_SHA256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea

OUT=$REPO/target/micropython
APT=$OUT/apt
SRC=$OUT/micropython-$MP_VERSION
JOBS=$(nproc)

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Tools the build needs (a C compiler, make, python3 for MicroPython's
# generators, pkg-config for its Makefile).
missing=()
for tool in gcc make python3 pkg-config xz; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    pkgs=()
    for tool in "${missing[@]}"; do
        case $tool in xz) pkgs+=(xz-utils) ;; *) pkgs+=("$tool") ;; esac
    done
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y -qq "${pkgs[@]}"
fi

fetch_source() {
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/download"
    # The mirror the system already uses, for the suite that has the package.
    local uri keyring
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [ -z "$uri" ]; then
        uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    fi
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    echo "deb-src [signed-by=$keyring] $uri $MP_SUITE main" >"$APT/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
                -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" -qq update
    (cd "$APT/download" && apt-get "${opts[@]}" -qq source --download-only "micropython=$MP_PACKAGE_VERSION")
    echo "$MP_ORIG_SHA256  $APT/download/$MP_ORIG" | sha256sum -c --quiet -
    rm -rf "$SRC.partial"
    mkdir -p "$SRC.partial"
    tar -xf "$APT/download/$MP_ORIG" -C "$SRC.partial" --strip-components=1
    # The GIL on: the seed's thread model (callbacks run holding it).
    grep -q -- '-DMICROPY_PY_THREAD_GIL=0' "$SRC.partial/ports/unix/Makefile"
    sed -i 's/-DMICROPY_PY_THREAD_GIL=0/-DMICROPY_PY_THREAD_GIL=1/' "$SRC.partial/ports/unix/Makefile"
    # Ctrl-C raised from the signal handler needs the GIL off; with it on,
    # the handler schedules the KeyboardInterrupt instead (as 1.26 does).
    local common="$SRC.partial/ports/unix/variants/mpconfigvariant_common.h"
    grep -q 'define MICROPY_ASYNC_KBD_INTR *(1)' "$common"
    sed -i 's/define MICROPY_ASYNC_KBD_INTR *(1)/define MICROPY_ASYNC_KBD_INTR (!MICROPY_PY_THREAD_GIL)/' "$common"
    mv "$SRC.partial" "$SRC"
}

[ -d "$SRC" ] || fetch_source

# The engine behind the module: a static library with a C ABI.
cargo build --release -q -p uhttpd-c

# MicroPython's version header asks git; the source lives inside this
# repository's work tree, whose commits are not MicroPython's.
export GIT_DIR=/nonexistent
MAKE_ARGS=(
    VARIANT=standard
    USER_C_MODULES="$REPO/micropython"
    FROZEN_MANIFEST="$REPO/micropython/manifest.py"
    # The tarball has no micropython-lib; the manifest uses none of it.
    MPY_LIB_DIR="$REPO/micropython"
    UHTTPD_STATICLIB="$REPO/target/release/libuhttpd_c.a"
    # 1.25's unix thread port takes its atomic section with a recursive
    # mutex, which mpconfig.h only provides with the GIL off.
    # os.uname(), as a board has it: the tools that drive a board ask it
    # (mpfshell's first call); the machine names this host, as a board's does.
    CFLAGS_EXTRA="-DMICROPY_PY_THREAD_RECURSIVE_MUTEX=1 -DMICROPY_PY_OS_UNAME=1 -DMICROPY_HW_BOARD_NAME='\"linux\"' -DMICROPY_HW_MCU_NAME='\"$(uname -m)\"'"
    # Parts whose sources the +ds tarball leaves out, or that need
    # libraries this build does not use.
    # Symbols kept: a crash report names functions.
    STRIP=true
    MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0 MICROPY_PY_SSL=0
    MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=0 MICROPY_PY_JNI=0
)
make -s -C "$SRC/mpy-cross" -j"$JOBS" >/dev/null
# make does not see changed flags: a build with other ones starts clean.
STAMP=$SRC/ports/unix/build-standard/uhttpd-make-args
if [ "$(cat "$STAMP" 2>/dev/null)" != "${MAKE_ARGS[*]}" ]; then
    rm -rf "$SRC/ports/unix/build-standard"
fi
make -s -C "$SRC/ports/unix" -j"$JOBS" "${MAKE_ARGS[@]}" >/dev/null
echo "${MAKE_ARGS[*]}" >"$STAMP"
install -m 755 "$SRC/ports/unix/build-standard/micropython" "$OUT/micropython.new"
mv "$OUT/micropython.new" "$OUT/micropython"  # atomic: a running test never sees it missing
echo "built $OUT/micropython (MicroPython $MP_VERSION, GIL on, uhttpd compiled in)"
