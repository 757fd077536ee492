#!/usr/bin/env bash
# Builds libredlead in release mode and installs it for C and C++ users:
#   $DESTDIR$PREFIX/$LIBDIR/libredlead.so.VERSION      the library, soname libredlead.so.ABI
#   $DESTDIR$PREFIX/$LIBDIR/libredlead.so.ABI -> .so.VERSION   (what programs load)
#   $DESTDIR$PREFIX/$LIBDIR/libredlead.so -> .so.ABI           (what -lredlead links)
#   $DESTDIR$PREFIX/$LIBDIR/libredlead.a
#   $DESTDIR$PREFIX/include/redlead.h, redlead.hpp
#   $DESTDIR$PREFIX/$LIBDIR/pkgconfig/redlead.pc
#   $DESTDIR$PREFIX/$LIBDIR/cmake/redlead/redleadConfig.cmake (+ ConfigVersion):
#       find_package(redlead) gives the imported target redlead::redlead
#
#   ffi/install.sh [PREFIX]      PREFIX default /usr/local (or PREFIX=... in the env)
#   LIBDIR=lib/x86_64-linux-gnu DESTDIR=/tmp/stage ffi/install.sh /usr    (packagers;
#   CMake searches PREFIX/lib/<multiarch> on Debian, PREFIX/lib64 on Fedora)
# Then: cc app.c $(pkg-config --cflags --libs redlead)
# If PREFIX/LIBDIR is not a directory the loader searches (see ldconfig -v),
# run `ldconfig` after installing there, or set LD_LIBRARY_PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${1:-${PREFIX:-/usr/local}}"
LIBDIR="${LIBDIR:-lib}"
DESTDIR="${DESTDIR:-}"
case "$PREFIX" in /*) ;; *) echo "install.sh: PREFIX must be an absolute path, got $PREFIX" >&2; exit 2 ;; esac
cd "$ROOT"
cargo build -p redlead-ffi --release
TARGET="${CARGO_TARGET_DIR:-target}/release"
VERSION="$(cargo pkgid -p redlead-ffi | sed 's/.*[#@]//')"
ABI="$(sed -n 's/^pub const REDLEAD_ABI_VERSION: u32 = \([0-9]*\);/\1/p' ffi/src/lib.rs)"
[ -n "$ABI" ] || { echo "install.sh: REDLEAD_ABI_VERSION not found in ffi/src/lib.rs" >&2; exit 1; }

lib="$DESTDIR$PREFIX/$LIBDIR"
inc="$DESTDIR$PREFIX/include"
install -d "$lib/pkgconfig" "$lib/cmake/redlead" "$inc"
install -m 0755 "$TARGET/libredlead.so" "$lib/libredlead.so.$VERSION"
ln -sfn "libredlead.so.$VERSION" "$lib/libredlead.so.$ABI"
ln -sfn "libredlead.so.$ABI" "$lib/libredlead.so"
install -m 0644 "$TARGET/libredlead.a" "$lib/libredlead.a"
install -m 0644 include/redlead.h "$inc/redlead.h"
install -m 0644 include/redlead.hpp "$inc/redlead.hpp"
# The files name the final PREFIX, not the staging DESTDIR.
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@VERSION@|$VERSION|g" \
  ffi/redlead.pc.in >"$lib/pkgconfig/redlead.pc"
up="../.."
IFS=/ read -ra parts <<<"$LIBDIR"
for p in "${parts[@]}"; do [ -n "$p" ] && up="$up/.."; done
sed -e "s|@VERSION@|$VERSION|g" -e "s|@PREFIX_FROM_HERE@|$up|g" ffi/cmake/redleadConfig.cmake.in \
  >"$lib/cmake/redlead/redleadConfig.cmake"
sed -e "s|@VERSION@|$VERSION|g" ffi/cmake/redleadConfigVersion.cmake.in \
  >"$lib/cmake/redlead/redleadConfigVersion.cmake"
echo "installed redlead $VERSION (soname libredlead.so.$ABI) under $DESTDIR$PREFIX ($LIBDIR)"
