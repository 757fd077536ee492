#!/usr/bin/env bash
# Every door of redlead and every peer, in one run on the same 5 local
# redis-server nodes, next to a raw-socket floor; prints one table.
#
#   scripts/bench.sh [--rounds 3] [--n 3000] [--markdown FILE] [door ...]
#
# Builds the doors (Rust, C, Python, Go, C#) and installs the peers into a
# scratch folder under the target dir from their registries, never vendored:
# pottery + redis-py (PyPI), node-redlock 5 + ioredis (npm), rslock
# (crates.io), go-redsync (Go modules, in bindings/go/bench). A door whose
# toolchain is missing is skipped with a message. After the table: 64
# contenders on distinct resources (Rust API, Python asyncio) with the CPU
# the nodes and the door used, and bench/footprint.c (RSS, threads and CPU
# of one C ABI client holding 1,000 auto-extended locks). Not a test: it
# prints figures.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
BIN="$TARGET/bench"
mkdir -p "$BIN"
say() { echo "== $*" >&2; }

say "Rust door and libredlead (release)"
cargo build --release --quiet -p redlead-ffi -p redlead-bench
cp "$TARGET/release/door-rust" "$BIN/"
LIB="$TARGET/release"

say "raw-socket floor and C door"
cc -O2 -o "$BIN/floor" bench/floor.c
cc -O2 -I include -o "$BIN/door_c" bench/doors/door_c.c -L "$LIB" -lredlead -Wl,-rpath,"$LIB"
cc -O2 -I include -o "$BIN/footprint" bench/footprint.c -L "$LIB" -lredlead -Wl,-rpath,"$LIB"

say "Python door (venv with the package built from source)"
[ -x "$BIN/venv/bin/python" ] || python3 -m venv "$BIN/venv"
"$BIN/venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2"
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
CARGO_TARGET_DIR="$TARGET" "$BIN/venv/bin/python" -m maturin build --release --quiet \
  --manifest-path bindings/python/Cargo.toml --out "$wheels" --interpreter "$BIN/venv/bin/python"
"$BIN/venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl

if [ -f bindings/go/bench/go.mod ] && command -v go >/dev/null; then
  say "Go door and go-redsync (Go module proxy)"
  (cd bindings/go/bench && CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" \
    go build -o "$BIN/door-go" .)
fi

if [ -f bindings/dotnet/bench/build.sh ] && command -v mcs >/dev/null; then
  say "C# door (Mono)"
  bash bindings/dotnet/bench/build.sh "$BIN/dotnet" "$LIB"
fi

say "peers: rslock (crates.io)"
CARGO_TARGET_DIR="$BIN/rslock-target" cargo build --release --quiet --manifest-path bench/peers/rslock/Cargo.toml
cp "$BIN/rslock-target/release/bench-rslock" "$BIN/rslock"

say "peers: pottery, redis-py (PyPI)"
[ -x "$BIN/venv-peers/bin/python" ] || python3 -m venv "$BIN/venv-peers"
"$BIN/venv-peers/bin/python" -m pip install --quiet --disable-pip-version-check pottery redis

if command -v npm >/dev/null; then
  say "peers: node-redlock 5, ioredis (npm)"
  mkdir -p "$BIN/node"
  (cd "$BIN/node" && { [ -d node_modules/redlock ] || npm install --silent --no-audit --no-fund redlock@5.0.0-beta.2 ioredis@5 >/dev/null; })
  # ESM resolves packages next to the script, so it runs from the scratch folder.
  cp bench/peers/node_redlock.mjs "$BIN/node/"
fi

say "running"
python3 bench/run.py --bin "$BIN" "$@"
