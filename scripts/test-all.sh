#!/usr/bin/env bash
# Every test of the project: lints, the Rust core on real redis-server nodes,
# the C ABI (C and C++ programs, sanitizers), the Go, Python and C# packages,
# one election across five languages, and the examples.
# This is the README's test command; .ci/run runs exactly this.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh || exit 1

failed=()
step() {
  local name=$1; shift
  echo
  echo "=== $name: $*"
  local t0=$SECONDS
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
    failed+=("$name")
  fi
}

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets --quiet -- -D warnings
step core-without-tls cargo clippy -p redlead --no-default-features --quiet -- -D warnings
step doc env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet --exclude redlead-python
step core cargo test -p redlead -p redlead-harness
step cli cargo test -p redlead-cli
step ffi ffi/tests/run.sh
step go bindings/go/run-tests.sh
step python bindings/python/tests/run.sh
step dotnet bindings/dotnet/run-tests.sh
step cross-language tests/cross-language/run.sh
step payment-example bindings/python/.venv/bin/python -m pytest -q -p no:cacheprovider examples/python
# Nightly-only checks (docs/reliability.md); each skips with a message without nightly.
step miri scripts/miri.sh
step fuzz scripts/fuzz.sh

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED steps: ${failed[*]}"
  exit 1
fi
echo "all steps passed"
