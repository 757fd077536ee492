#!/usr/bin/env bash
# Builds libredlead in release mode and installs it under PREFIX:
#   PREFIX/lib/libredlead.so, PREFIX/lib/libredlead.a,
#   PREFIX/include/redlead.h, PREFIX/include/redlead.hpp,
#   PREFIX/lib/pkgconfig/redlead.pc
# Usage: ffi/install.sh [PREFIX]   (default /usr/local; or PREFIX=... in the env)
# Then: cc app.c $(pkg-config --cflags --libs redlead)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${1:-${PREFIX:-/usr/local}}"
cd "$ROOT"
cargo build -p redlead-ffi --release
VERSION="$(cargo pkgid -p redlead-ffi | sed 's/.*[#@]//')"
install -d "$PREFIX/lib/pkgconfig" "$PREFIX/include"
install -m 0755 "${CARGO_TARGET_DIR:-target}"/release/libredlead.so "$PREFIX/lib/libredlead.so"
install -m 0644 "${CARGO_TARGET_DIR:-target}"/release/libredlead.a "$PREFIX/lib/libredlead.a"
install -m 0644 include/redlead.h "$PREFIX/include/redlead.h"
install -m 0644 examples/cpp/redlead.hpp "$PREFIX/include/redlead.hpp"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" ffi/redlead.pc.in >"$PREFIX/lib/pkgconfig/redlead.pc"
echo "installed redlead $VERSION under $PREFIX"
