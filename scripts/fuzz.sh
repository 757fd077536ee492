#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (node URLs and configuration through
# the core; call sequences through the C ABI) under AddressSanitizer, each for
# REDLEAD_FUZZ_SECS seconds (default 20: the short run of scripts/test-all.sh;
# docs/reliability.md has the long run). Corpora grow in
# $CARGO_TARGET_DIR/fuzz/corpus (kept between runs), seeded from fuzz/seeds;
# a crash leaves its input in fuzz/artifacts/<target>/ and fails this script.
#   scripts/fuzz.sh                      # 20 s per target
#   REDLEAD_FUZZ_SECS=300 scripts/fuzz.sh c_abi
# Needs nightly Rust (cargo +nightly) and cargo-fuzz; without them it says so
# and skips (exit 0), since the rest of the suite does not need them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT/fuzz"
SECS="${REDLEAD_FUZZ_SECS:-20}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config c_abi)

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz missing; installing it (cargo install --locked cargo-fuzz)"
  if ! cargo install --locked --quiet cargo-fuzz; then
    echo "fuzz: SKIPPED: cargo-fuzz could not be installed"
    exit 0
  fi
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"
CORPUS="$TARGET_DIR/corpus"
t0=$SECONDS
cargo +nightly fuzz build --target-dir "$TARGET_DIR" 2>&1 | grep -Ev '^\s+(Compiling|Fresh)' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: build failed"; exit 1; }
echo "fuzz: built in $((SECONDS - t0)) s"

failed=()
for target in "${TARGETS[@]}"; do
  mkdir -p "$CORPUS/$target" "seeds/$target"
  log="$TARGET_DIR/$target.log"
  echo "fuzz: $target for $SECS s"
  # rss_limit: a leak or a runaway allocation fails the run instead of
  # eating the machine (ASan's own quarantine keeps it near 500 MB).
  if cargo +nightly fuzz run --target-dir "$TARGET_DIR" "$target" "$CORPUS/$target" "seeds/$target" -- \
      -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(Done |#[0-9]+[[:space:]]+DONE)' "$log" | sed "s/^/fuzz: $target: /" || true
  else
    grep -E 'panicked at|ERROR: |SUMMARY|Failing input|artifacts/' "$log" | head -20
    echo "fuzz: $target FAILED (log: $log)"
    failed+=("$target")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}"; exit 1; }
echo "fuzz: ok"
