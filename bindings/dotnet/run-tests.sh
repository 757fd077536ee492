#!/usr/bin/env bash
# Tests of the C# binding with Debian's Mono and NUnit 2.6: builds libredlead
# (release), compiles src/Redlead (netstandard2.0 source, C# 7.3), the tests,
# the two examples (examples/dotnet) and the benchmark (bench/, built only) with
# mcs, then runs the tests with nunit-console. The tests start their own
# redis-server nodes on free loopback ports (stopped by pid) and run the
# examples as processes against them. Exits non-zero on any failure.
#   bash bindings/dotnet/run-tests.sh
# Needs: apt-get install mono-mcs mono-runtime libnunit-cil-dev nunit-console redis-server
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
APT="apt-get install mono-mcs mono-runtime libnunit-cil-dev nunit-console redis-server"

missing=()
for tool in cargo mcs mono nunit-console redis-server; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "dotnet: missing ${missing[*]}"
  echo "  Mono and NUnit: $APT"
  echo "  cargo: rustup (https://rustup.rs)"
  exit 1
fi

# Debian's libnunit-cil-dev describes itself through pkg-config; the GAC and
# /usr/lib/cli are where it (or Mono's own copy) lives otherwise.
NUNIT=""
if command -v pkg-config >/dev/null && pkg-config --exists nunit 2>/dev/null; then
  NUNIT="$(pkg-config --libs nunit | tr ' ' '\n' | sed -n 's/^-r://p' | grep '/nunit\.framework\.dll$' | head -1 || true)"
fi
if [ -z "$NUNIT" ] || [ ! -f "$NUNIT" ]; then
  NUNIT="$(find /usr/lib/cli /usr/lib/mono /usr/lib/nunit /usr/local/lib -name nunit.framework.dll 2>/dev/null | sort | head -1 || true)"
fi
[ -n "$NUNIT" ] || { echo "dotnet: nunit.framework.dll not found: $APT"; exit 1; }

cd "$ROOT"
echo "== build libredlead (release)"
cargo build -p redlead-ffi --release 2>&1 | tail -1
LIB="${CARGO_TARGET_DIR:-$ROOT/target}/release"
case "$LIB" in /*) ;; *) LIB="$ROOT/$LIB" ;; esac
[ -f "$LIB/libredlead.so" ] || { echo "dotnet: $LIB/libredlead.so was not built"; exit 1; }

OUT="$HERE/build"
rm -rf "$OUT" && mkdir -p "$OUT"
echo "== mcs (NUnit: $NUNIT)"
# 1591: undocumented public members (enum values whose names say it all).
mcs -nologo -warnaserror+ -nowarn:1591 -target:library -out:"$OUT/Redlead.dll" -doc:"$OUT/Redlead.xml" \
  "$HERE"/src/Redlead/*.cs
mcs -nologo -warnaserror+ -target:library -out:"$OUT/Redlead.Tests.dll" -r:"$OUT/Redlead.dll" -r:"$NUNIT" \
  "$HERE"/tests/*.cs
for ex in LeaderElection StockDecrement; do
  mcs -nologo -warnaserror+ -target:exe -out:"$OUT/$ex.exe" -r:"$OUT/Redlead.dll" "$ROOT/examples/dotnet/$ex"/*.cs
done
mcs -nologo -warnaserror+ -target:exe -out:"$OUT/LogProbe.exe" -r:"$OUT/Redlead.dll" "$HERE"/tests/LogProbe/*.cs
mcs -nologo -warnaserror+ -target:exe -out:"$OUT/Redlead.Bench.exe" -r:"$OUT/Redlead.dll" "$HERE"/bench/*.cs
cp "$NUNIT" "$OUT/"
echo "built: $(cd "$OUT" && ls *.dll *.exe | tr '\n' ' ')"

echo "== nunit-console"
# DllImport("redlead") finds libredlead.so through LD_LIBRARY_PATH.
export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The ABI test compares the C# enums with the header; the example tests run
# the programs built here.
export REDLEAD_HEADER="$ROOT/include/redlead.h"
export REDLEAD_DOTNET_BUILD="$OUT"
cd "$OUT"
status=0
# -domain=None: no AppDomain to unload (unloading waits on the library's
# threads); the timeout turns a hang into a failure instead of a stuck CI.
timeout 600 nunit-console -nologo -labels -domain=None -result="$OUT/result.xml" "$OUT/Redlead.Tests.dll" >"$OUT/out.txt" 2>&1 || status=$?
summary="$(grep -E '^Tests run:' "$OUT/out.txt" | tail -1 || true)"
if [ "$status" -ne 0 ] || ! grep -qE '^Tests run: [1-9][0-9]*, Errors: 0, Failures: 0' "$OUT/out.txt"; then
  sed -n '/^Errors and Failures:/,$p' "$OUT/out.txt" | head -150
  echo "dotnet: FAILED (nunit-console exit $status; ${summary:-no summary}); full output in $OUT/out.txt"
  exit 1
fi
grep -E '^\*\*\*\*\* ' "$OUT/out.txt" | sed 's/^\*\*\*\*\* Redlead\.Tests\./  ok /'
echo "dotnet: all tests passed ($summary)"
