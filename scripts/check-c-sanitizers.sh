#!/usr/bin/env bash
# Runs the C suites (c_tests/test_*.c, with c_tests/run_all.c as main) under
#   asan      AddressSanitizer + UndefinedBehaviorSanitizer (leak checking included), every
#             suite, linked against the release libmemalloc.a;
#   tsan      ThreadSanitizer, the multi-threaded suites (threads, stress);
#   valgrind  memcheck, every suite, plain build;
# and first proves each tool live: the runtime is linked (nm) and a planted bug (heap
# overflow, signed overflow, data race, invalid read) makes the same build fail.
#
# Usage: scripts/check-c-sanitizers.sh [asan] [tsan] [valgrind]    (default: all three)
# Needs: gcc (or cc) with libasan/libubsan, nightly Rust with rust-src (tsan), valgrind.
#
# Why ThreadSanitizer needs a special Rust build: the allocator's lock (parking_lot) and
# everything done under it live in Rust. With only the C code instrumented, TSan sees
# the memcpy/free calls that the Rust code makes under the lock but not the lock itself,
# and reports hundreds of false races. So the Rust library and its standard library are
# built with `-Zsanitizer=thread -Zbuild-std` (nightly), every access in the program is
# instrumented, and the program is linked with rustc's own TSan runtime (the one that
# matches the instrumentation rustc emits; gcc's libtsan lacks some of its entry points)
# instead of gcc's. The C objects are compiled with gcc's -fsanitize=thread, which calls
# the same runtime interface. No suppressions are used.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(asan tsan valgrind)

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -O1 -I"$root/include" -I"$root/c_tests")
sources=("$root"/c_tests/ctest.c "$root"/c_tests/support.c "$root"/c_tests/test_*.c "$root"/c_tests/run_all.c)
# What a Rust staticlib needs from the system (`--print native-static-libs`).
syslibs=(-lpthread -ldl -lm -lrt -lutil -lgcc_s)

say() { printf '\n-- %s\n' "$*"; }

# Every suite entry point defined in c_tests/test_*.c is run by run_all.c.
check_entry_points() {
    local missing=0 name
    for name in $(sed -n 's/^int \(ma_ctest_[a-z_0-9]*\)(void).*/\1/p' "$root"/c_tests/test_*.c); do
        if ! grep -q "{\"${name#ma_ctest_}\", $name}" "$root/c_tests/run_all.c"; then
            echo "c_tests/run_all.c does not run $name" >&2
            missing=1
        fi
    done
    return $missing
}

# expect_failure NAME PATTERN COMMAND...: COMMAND must exit non-zero and print PATTERN.
expect_failure() {
    local name=$1 pattern=$2
    shift 2
    if "$@" >"$work/canary.log" 2>&1; then
        echo "FAIL: the planted bug ($name) was not caught: the tool is not live" >&2
        cat "$work/canary.log" >&2
        return 1
    fi
    if ! grep -q "$pattern" "$work/canary.log"; then
        echo "FAIL: the planted bug ($name) failed without the expected report '$pattern'" >&2
        cat "$work/canary.log" >&2
        return 1
    fi
    echo "planted bug caught: $name ($pattern)"
}

# expect_symbol FILE SYMBOL: FILE defines or references SYMBOL.
expect_symbol() {
    nm "$1" >"$work/symbols" 2>/dev/null || true
    if ! grep -q "$2" "$work/symbols"; then
        echo "FAIL: $2 not found in $1" >&2
        return 1
    fi
    echo "linked: $2 in $(basename "$1")"
}

# Planted bugs, one per tool.
cat >"$work/overflow.c" <<'EOF'
#include <stdlib.h>
int main(int argc, char **argv) {
    (void)argv;
    char *p = malloc(16);
    p[16 + argc - 1] = 1; /* one past the end */
    int r = p[0];
    free(p);
    return r;
}
EOF
cat >"$work/signed_overflow.c" <<'EOF'
#include <limits.h>
int main(int argc, char **argv) {
    (void)argv;
    volatile int x = INT_MAX;
    int y = x + argc; /* INT_MAX + 1 */
    return y == 0;
}
EOF
cat >"$work/race.c" <<'EOF'
#include <pthread.h>
static int counter;
static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) counter++;
    return 0;
}
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, bump, 0);
    bump(0);
    pthread_join(t, 0);
    return counter == 0;
}
EOF

release_lib() {
    say "release build of libmemalloc.a"
    cargo build --release --manifest-path "$root/Cargo.toml" -p memalloc
    test -f "$target/release/libmemalloc.a"
}

run_asan() {
    local flags=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    say "asan: AddressSanitizer + UndefinedBehaviorSanitizer, every suite"
    "$cc" "${cflags[@]}" "${flags[@]}" "${sources[@]}" "$target/release/libmemalloc.a" "${syslibs[@]}" \
        -o "$work/run_asan"
    expect_symbol "$work/run_asan" __asan_init
    expect_symbol "$work/run_asan" __ubsan_handle
    # ASan alone, so that the report is ASan's (UBSan's object-size check would come first).
    "$cc" -g -O1 -fsanitize=address -fno-omit-frame-pointer "$work/overflow.c" -o "$work/overflow_asan"
    expect_failure "heap overflow under asan" "heap-buffer-overflow" "$work/overflow_asan"
    "$cc" -g -O1 "${flags[@]}" "$work/signed_overflow.c" -o "$work/signed_overflow_ubsan"
    expect_failure "signed overflow under ubsan" "signed integer overflow" "$work/signed_overflow_ubsan"
    ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
        UBSAN_OPTIONS=print_stacktrace=1 "$work/run_asan"
}

run_tsan() {
    local sysroot rt rustlib="$target/tsan/x86_64-unknown-linux-gnu/release/libmemalloc.a"
    say "tsan: Rust library and std built with -Zsanitizer=thread"
    RUSTFLAGS="-Zsanitizer=thread" cargo +nightly build --manifest-path "$root/Cargo.toml" -p memalloc --release \
        -Zbuild-std --target x86_64-unknown-linux-gnu --target-dir "$target/tsan"
    sysroot=$(rustc +nightly --print sysroot)
    rt="$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib/librustc-nightly_rt.tsan.a"
    test -f "$rt"
    expect_symbol "$rustlib" __tsan_func_entry
    say "tsan: the threaded suites"
    local objects=() src
    for src in "${sources[@]}"; do
        "$cc" "${cflags[@]}" -fsanitize=thread -c "$src" -o "$work/$(basename "$src" .c).tsan.o"
        objects+=("$work/$(basename "$src" .c).tsan.o")
    done
    # Linked without gcc's libtsan: rustc's runtime serves the C and the Rust code.
    "$cc" -pie "${objects[@]}" "$rustlib" -Wl,--whole-archive "$rt" -Wl,--no-whole-archive "${syslibs[@]}" -lstdc++ \
        -o "$work/run_tsan"
    expect_symbol "$work/run_tsan" __tsan_init
    "$cc" -g -O1 -fsanitize=thread -c "$work/race.c" -o "$work/race.o"
    "$cc" -pie "$work/race.o" -Wl,--whole-archive "$rt" -Wl,--no-whole-archive "${syslibs[@]}" -lstdc++ \
        -o "$work/race_tsan"
    expect_failure "data race under tsan" "WARNING: ThreadSanitizer: data race" "$work/race_tsan"
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$work/run_tsan" threads stress
}

run_valgrind() {
    say "valgrind: memcheck, every suite"
    "$cc" "${cflags[@]}" "${sources[@]}" "$target/release/libmemalloc.a" "${syslibs[@]}" -o "$work/run_plain"
    "$cc" -g -O0 "$work/overflow.c" -o "$work/overflow_plain"
    local vg=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect)
    expect_failure "heap overflow under valgrind" "Invalid write" "${vg[@]}" "$work/overflow_plain"
    "${vg[@]}" "$work/run_plain"
}

check_entry_points
needs_release=0
for mode in "${modes[@]}"; do
    case $mode in
        asan | valgrind) needs_release=1 ;;
        tsan) ;;
        *) echo "unknown mode $mode (asan, tsan, valgrind)" >&2; exit 2 ;;
    esac
done
[ $needs_release = 0 ] || release_lib
for mode in "${modes[@]}"; do
    start=$SECONDS
    "run_$mode"
    echo "$mode: clean ($((SECONDS - start))s)"
done
