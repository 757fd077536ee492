#!/usr/bin/env bash
# Tests of the Go binding: builds libredlead (release), then go vet and
# go test -race against it, linked two ways: CGO_CFLAGS/CGO_LDFLAGS pointing
# at include/ and target/release, and pkg-config after ffi/install.sh into a
# temporary prefix (-tags redlead_pkgconfig). The tests start their own
# redis-server nodes. Then the bench module is vetted and built (not run) and
# examples/go/expired-keys is vetted and tested. Run from anywhere:
# bash bindings/go/run-tests.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
command -v go >/dev/null || { echo "go not found (the Go binding needs Go >= 1.22 and cgo)"; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found (scripts/ensure-redis.sh)"; exit 1; }
echo "== build libredlead (release)"
cargo build -p redlead-ffi --release 2>&1 | tail -1
LIB="${CARGO_TARGET_DIR:-$ROOT/target}/release"
cd "$HERE"
export CGO_ENABLED=1

echo "== CGO_CFLAGS / CGO_LDFLAGS -> include/ and target/release"
export CGO_CFLAGS="-I$ROOT/include"
export CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB"
go vet ./...
go test -race -count=1 ./...

echo "== pkg-config (ffi/install.sh into a temporary prefix, -tags redlead_pkgconfig)"
PREFIX="$(mktemp -d /tmp/redlead-go-prefix.XXXXXX)"
trap 'rm -rf "$PREFIX"' EXIT
bash "$ROOT/ffi/install.sh" "$PREFIX" >/dev/null
unset CGO_CFLAGS
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
export CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib"
go vet -tags redlead_pkgconfig ./...
# The build itself is what differs; a few tests prove the installed library works.
go test -tags redlead_pkgconfig -count=1 -run 'TestConstantsMatchTheHeader|TestLockRoundTrip|TestPing|Example' ./...

echo "== bench module (go-redsync from the Go module proxy; built, not run)"
(cd "$HERE/bench" && CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" go vet . && \
  CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" go build -o /dev/null .)

echo "== examples/go/expired-keys (3 replica processes, SIGSTOP and SIGTERM handovers)"
(cd "$ROOT/examples/go/expired-keys" && CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" go vet . && \
  CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" go test -race -count=1 -v .)
