#!/usr/bin/env bash
# Builds the C# door of scripts/bench.sh with Mono's mcs: OUT/Redlead.dll,
# OUT/Bench.exe, and a Mono dllmap (OUT/Redlead.dll.config) that points
# DllImport("redlead") at LIB/libredlead.so, so `mono OUT/Bench.exe` needs no
# LD_LIBRARY_PATH.
#   bash bindings/dotnet/bench/build.sh OUT LIB
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$1"
LIB="$(cd "$2" && pwd)"
[ -f "$LIB/libredlead.so" ] || { echo "no $LIB/libredlead.so: cargo build -p redlead-ffi --release" >&2; exit 1; }
mkdir -p "$OUT"
mcs -nologo -warnaserror+ -nowarn:1591 -optimize+ -target:library -out:"$OUT/Redlead.dll" "$HERE"/src/Redlead/*.cs
mcs -nologo -warnaserror+ -optimize+ -target:exe -out:"$OUT/Bench.exe" -r:"$OUT/Redlead.dll" "$HERE"/bench/*.cs
cat >"$OUT/Redlead.dll.config" <<XML
<configuration>
  <dllmap dll="redlead" target="$LIB/libredlead.so"/>
</configuration>
XML
