#!/usr/bin/env bash
# One election across five languages: builds libredlead (release) and a
# candidate in C, C++, Python, Go and C#, starts 5 redis-server nodes on free
# loopback ports, then driver.py kills and resigns leaders and checks the
# shared leader record (README.md in this directory has the argument).
#   bash tests/cross-language/run.sh        # from anywhere
# Honours CARGO_TARGET_DIR (default: <repo>/target); builds go to
# $CARGO_TARGET_DIR/cross-language. REDLEAD_XLANG_PYTHON=/path/to/python
# uses a Python that already has the redlead package instead of building one.
# Ends with "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$ROOT/$CARGO_TARGET_DIR" ;; esac
LIB="$CARGO_TARGET_DIR/release"
OUT="$CARGO_TARGET_DIR/cross-language"
mkdir -p "$OUT"
T0=$SECONDS

for tool in cargo gcc g++ go mcs mono redis-server python3; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found (needs: gcc g++ go mcs mono redis-server python3; apt-get install mono-mcs mono-runtime redis-server)"
        exit 1
    }
done

echo "== build libredlead (release)"
cargo build -p redlead-ffi --release 2>&1 | tail -1

echo "== build the candidates into $OUT"
gcc -std=c11 -Wall -Wextra -Werror -Iinclude "$HERE/c/candidate.c" \
    -L"$LIB" -Wl,-rpath,"$LIB" -lredlead -o "$OUT/candidate-c"
g++ -std=c++17 -Wall -Wextra -Werror -Iinclude "$HERE/cpp/candidate.cpp" \
    -L"$LIB" -Wl,-rpath,"$LIB" -lredlead -o "$OUT/candidate-cpp"
(cd "$HERE/go" && CGO_ENABLED=1 CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$LIB -Wl,-rpath,$LIB" \
    go build -o "$OUT/candidate-go" .)
# The C# binding's sources compiled together with the candidate (no project
# system needed); DllImport("redlead") finds the library via LD_LIBRARY_PATH.
mcs -nologo -out:"$OUT/candidate-csharp.exe" "$ROOT"/bindings/dotnet/src/Redlead/*.cs "$HERE/csharp/Candidate.cs"

if [[ -n "${REDLEAD_XLANG_PYTHON:-}" ]]; then
    PY="$REDLEAD_XLANG_PYTHON"
else
    # The wheel of this tree, built as bindings/python/tests/run.sh builds
    # it, into a venv of our own (the bindings' venv may be in use).
    echo "== build the Python wheel into $OUT/venv"
    [[ -x "$OUT/venv/bin/python" ]] || python3 -m venv "$OUT/venv"
    PY="$OUT/venv/bin/python"
    "$PY" -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2"
    rm -rf "$OUT/wheels"
    "$PY" -m maturin build --release --quiet --manifest-path bindings/python/Cargo.toml \
        --out "$OUT/wheels" --interpreter "$PY"
    "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$OUT"/wheels/*.whl
fi
echo "== builds done in $((SECONDS - T0)) s"

echo "== checker self-test (each check rejects a crafted violation)"
python3 "$HERE/record.py" --self-test

echo "== driver"
python3 "$HERE/driver.py" --out "$OUT" --lib "$LIB" --python "$PY"
echo "cross-language: all checks passed in $((SECONDS - T0)) s"
