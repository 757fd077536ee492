#!/usr/bin/env bash
# Miri (the Rust interpreter that checks for undefined behaviour) on the unit
# tests of the C ABI and of the core: the handle checks and their quarantine,
# the error objects and their C strings, status texts, the callback thread
# pool; the core's values, validation, quorum, URL parsing, randomness. They
# do no network I/O, which Miri cannot do. Skipped: the core's fork test
# (Miri cannot fork). -Zmiri-ignore-leaks: the callback pool's threads and
# the io thread outlive the tests, by design.
# Needs nightly Rust with the miri component; without it, says so and skips.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri: installing the nightly miri component"
  if ! rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1; then
    echo "miri: SKIPPED: no nightly toolchain with miri (rustup component add --toolchain nightly miri rust-src)"
    exit 0
  fi
fi
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-ignore-leaks}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/miri"
cargo +nightly miri test -q -p redlead-ffi --lib
cargo +nightly miri test -q -p redlead --lib -- --skip forked_children
