#!/usr/bin/env bash
# Tests of the C ABI: builds libredlead, checks include/redlead.h is current and
# compiles strictly as C11 and C++17, builds the C/C++ tests and the examples,
# starts 5 real redis-server nodes on free loopback ports, and runs the tests
# (the C test under AddressSanitizer + UBSan). Run from anywhere:
#   bash ffi/tests/run.sh
# Ends with "N passed, M failed"; exits non-zero on any failure.
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/ffi-tests"
mkdir -p "$OUT"
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

PIDS=()
DIRS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for d in "${DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

echo "== build"
if cargo build -p redlead-ffi --release 2>&1 | tail -3; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    pass build_library
else
    fail build_library
    finish
fi
LIB="${CARGO_TARGET_DIR:-$ROOT/target}/release"

echo "== header"
CBINDGEN_VERSION=0.29.4
if ! cbindgen --version 2>/dev/null | grep -q "$CBINDGEN_VERSION"; then
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked >/dev/null 2>&1
fi
if cbindgen --config ffi/cbindgen.toml --crate redlead-ffi --output "$OUT/redlead.h" 2>/dev/null &&
    diff -u include/redlead.h "$OUT/redlead.h"; then
    pass header_is_up_to_date
else
    fail "header_is_up_to_date (regenerate: cbindgen --config ffi/cbindgen.toml --crate redlead-ffi --output include/redlead.h)"
fi
printf '#include "redlead.h"\nint main(void) { return 0; }\n' >"$OUT/h.c"
STRICT="-Wall -Wextra -Wpedantic -Werror"
gcc -std=c11 $STRICT -Iinclude -c "$OUT/h.c" -o "$OUT/h_c.o" && pass header_compiles_c11_strict || fail header_compiles_c11_strict
g++ -std=c++17 $STRICT -Iinclude -x c++ -c "$OUT/h.c" -o "$OUT/h_cpp.o" && pass header_compiles_cpp17_strict || fail header_compiles_cpp17_strict
g++ -std=c++17 $STRICT -Iinclude -x c++ -c - -o "$OUT/hpp.o" <<<'#include "redlead.hpp"
int main() { return 0; }' && pass wrapper_hpp_compiles_cpp17_strict || fail wrapper_hpp_compiles_cpp17_strict

echo "== version"
CARGO_VERSION="$(cargo pkgid -p redlead-ffi | sed 's/.*[#@]//')"
HEADER_VERSION="$(awk '/#define REDLEAD_VERSION_(MAJOR|MINOR|PATCH) /{printf "%s%s", sep, $3; sep="."}' include/redlead.h)"
echo "cargo version: $CARGO_VERSION, header macros: $HEADER_VERSION"
[ "$HEADER_VERSION" = "$CARGO_VERSION" ] && pass header_version_macros_match_cargo || fail header_version_macros_match_cargo

echo "== compile tests and examples"
LINK="-L$LIB -lredlead -Wl,-rpath,$LIB -lpthread -ldl -lm"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
build() { # name, command...
    local name="$1"; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
build compile_free_port gcc -O2 ffi/tests/free_port.c -o "$OUT/free_port"
build compile_test_c_asan gcc -std=c11 -g $STRICT $SAN -Iinclude -Iffi/tests ffi/tests/test_c.c -o "$OUT/test_c" $LINK
build compile_test_cpp g++ -std=c++17 -g $STRICT $SAN -Iinclude -Iffi/tests ffi/tests/test_cpp.cpp -o "$OUT/test_cpp" $LINK
build compile_example_c gcc -std=c11 $STRICT -Iinclude examples/c/lock.c -o "$OUT/example_c" $LINK
build compile_example_async gcc -std=c11 $STRICT $SAN -Iinclude examples/c/async.c -o "$OUT/example_async" $LINK
build compile_example_cpp g++ -std=c++17 $STRICT -Iinclude examples/cpp/election.cpp -o "$OUT/example_cpp" $LINK
build compile_example_c_static gcc -std=c11 $STRICT -Iinclude examples/c/lock.c -o "$OUT/example_c_static" "$LIB/libredlead.a" -lpthread -ldl -lm

echo "== install (staged: DESTDIR, PREFIX, multiarch LIBDIR), build examples with pkg-config and CMake"
# As a packager would: the files name PREFIX while they sit under DESTDIR;
# pkg-config finds them through PKG_CONFIG_SYSROOT_DIR, CMake through the
# relocatable config, and the programs load the library by its soname from
# LD_LIBRARY_PATH (no rpath).
STAGE="$(mktemp -d /tmp/redlead-stage.XXXXXX)"
DIRS+=("$STAGE")
IPREFIX=/opt/redlead-test
ILIBDIR="lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
ILIB="$STAGE$IPREFIX/$ILIBDIR"
ABI="$(sed -n 's/^#define REDLEAD_ABI_VERSION \([0-9]*\)/\1/p' include/redlead.h)"
PC=(env PKG_CONFIG_PATH="$ILIB/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$STAGE" pkg-config)
if DESTDIR="$STAGE" LIBDIR="$ILIBDIR" bash ffi/install.sh "$IPREFIX" >"$OUT/install.log" 2>&1 &&
    "${PC[@]}" --modversion redlead | grep -qx "$CARGO_VERSION" &&
    gcc -std=c11 $STRICT examples/c/lock.c -o "$OUT/example_c_installed" $("${PC[@]}" --cflags --libs redlead) &&
    g++ -std=c++17 $STRICT examples/cpp/election.cpp -o "$OUT/example_cpp_installed" $("${PC[@]}" --cflags --libs redlead); then
    pass install_staged_and_pkg_config
else
    cat "$OUT/install.log"
    fail install_staged_and_pkg_config
fi
if [ -n "$ABI" ] && [ "$(readlink "$ILIB/libredlead.so")" = "libredlead.so.$ABI" ] &&
    [ "$(readlink "$ILIB/libredlead.so.$ABI")" = "libredlead.so.$CARGO_VERSION" ] &&
    readelf -d "$ILIB/libredlead.so.$CARGO_VERSION" | grep -q "Library soname: \[libredlead.so.$ABI\]" &&
    readelf -d "$OUT/example_c_installed" | grep -q "Shared library: \[libredlead.so.$ABI\]" &&
    ! readelf -d "$OUT/example_c_installed" | grep -qE "RPATH|RUNPATH"; then
    pass installed_library_has_soname_and_symlinks
else
    ls -l "$ILIB"; readelf -d "$ILIB/libredlead.so" | head -12
    fail installed_library_has_soname_and_symlinks
fi
if command -v cmake >/dev/null; then
    if cmake -S examples/cmake -B "$OUT/cmake" -DCMAKE_PREFIX_PATH="$STAGE$IPREFIX" \
        -DCMAKE_C_FLAGS="$STRICT" -DCMAKE_CXX_FLAGS="$STRICT" >"$OUT/cmake.log" 2>&1 &&
        cmake --build "$OUT/cmake" >>"$OUT/cmake.log" 2>&1; then
        pass cmake_find_package
    else
        cat "$OUT/cmake.log"
        fail cmake_find_package
    fi
else
    fail "cmake_find_package (cmake not installed: apt-get install cmake)"
fi
RUN_INSTALLED=(env LD_LIBRARY_PATH="$ILIB")

echo "== start 5 redis-server nodes"
URLS=()
for i in 1 2 3 4 5; do
    for try in 1 2 3 4 5 6 7 8 9 10; do
        port="$("$OUT/free_port")"
        dir="$(mktemp -d /tmp/redlead-ffi-node.XXXXXX)"
        redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
            --daemonize no --loglevel warning --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
        pid=$!
        ok=0
        for _ in $(seq 1 100); do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=1; break; fi
            sleep 0.05
        done
        if [ "$ok" = 1 ]; then
            PIDS+=("$pid"); DIRS+=("$dir"); URLS+=("redis://127.0.0.1:$port")
            echo "node $i: port $port pid $pid"
            break
        fi
        kill "$pid" 2>/dev/null; rm -rf "$dir"
    done
done
if [ "${#URLS[@]}" -ne 5 ]; then
    fail start_redis_nodes
    finish
fi

run() { # name, command... ; counts the PASS/FAIL lines of a test program
    local name="$1"; shift
    local log="$OUT/$name.log"
    timeout 120 "$@" >"$log" 2>&1
    local rc=$?
    cat "$log"
    local p f
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$name exited with $rc"; fi
    if [ "$p" -eq 0 ]; then fail "$name ran no check"; fi
}

echo "== C tests (ASan + UBSan)"
export REDLEAD_CARGO_VERSION="$CARGO_VERSION"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    LSAN_OPTIONS="suppressions=$ROOT/ffi/tests/lsan.supp:print_suppressions=0" \
    run test_c "$OUT/test_c" "${URLS[@]}"
echo "== C++ tests (ASan + UBSan)"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    LSAN_OPTIONS="suppressions=$ROOT/ffi/tests/lsan.supp:print_suppressions=0" \
    run test_cpp "$OUT/test_cpp" "${URLS[@]}"
echo "== Rust-side boundary tests (cargo test, release profile)"
cargo test -p redlead-ffi --release >"$OUT/cargo_test.log" 2>&1
rc=$?
grep -E '^test .* \.\.\. ' "$OUT/cargo_test.log"
while read -r p f; do PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); done < <(
    sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$OUT/cargo_test.log")
[ "$rc" -eq 0 ] || { tail -30 "$OUT/cargo_test.log"; fail "cargo test exited with $rc"; }
echo "== examples"
if "$OUT/example_c" "${URLS[@]}" >"$OUT/example_c.log" 2>&1; then pass run_example_c; else cat "$OUT/example_c.log"; fail run_example_c; fi
if "$OUT/example_async" "${URLS[@]}" >"$OUT/example_async.log" 2>&1; then cat "$OUT/example_async.log"; pass run_example_async; else cat "$OUT/example_async.log"; fail run_example_async; fi
if "$OUT/example_c_static" "${URLS[@]}" >"$OUT/example_c_static.log" 2>&1; then pass run_example_c_static; else fail run_example_c_static; fi
for ex in example_c_installed example_cpp_installed cmake/lock cmake/election cmake/lock_static; do
    name="run_installed_${ex//\//_}"
    if "${RUN_INSTALLED[@]}" "$OUT/$ex" "${URLS[@]}" >"$OUT/$name.log" 2>&1; then pass "$name"; else cat "$OUT/$name.log"; fail "$name"; fi
done
if "$OUT/example_cpp" "${URLS[@]}" >"$OUT/example_cpp.log" 2>&1; then pass run_example_cpp; else cat "$OUT/example_cpp.log"; fail run_example_cpp; fi

finish
