#!/usr/bin/env bash
# Builds the wheel an index accepts: abi3 (one wheel for every CPython >= 3.9)
# and manylinux_2_28 (it needs glibc 2.28 at most). A plain build on a newer
# system links against that system's glibc symbols (maturin then refuses the
# manylinux tag), so the link goes through zig, whose glibc stubs are the
# ones of 2.28; zig comes from PyPI (the `ziglang` package).
#
#   bash bindings/python/build-wheel.sh [OUT_DIR]    # default: bindings/python/dist
#   PYTHON=/path/to/python ...                       # default: python3 on PATH
#
# Prints the wheel's path last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$here/dist}" && cd "${1:-$here/dist}" && pwd)"
py="${PYTHON:-$(command -v python3)}"

"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.9,<2" ziglang
# maturin runs zig as `python -m ziglang` with the python first on PATH.
PATH="$("$py" -c 'import os, sys; print(os.path.dirname(sys.executable))'):$PATH"
export PATH
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

rm -f "$out"/redlead-*.whl
"$py" -m maturin build --release --quiet --zig --compatibility manylinux_2_28 \
    --manifest-path "$here/Cargo.toml" --out "$out" --interpreter "$py" >&2

wheel="$(ls "$out"/redlead-*-cp39-abi3-manylinux_2_28_*.whl)"
echo "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)" >&2
echo "$wheel"
