#!/usr/bin/env bash
# Runs the preload's threaded test programs (preload/tests/thread_stress.c and
# thread_churn.c) under ThreadSanitizer, with every access of the preload's
# Rust code (thread caches, returned stacks, arenas, locks, fork handlers) and of the
# programs instrumented; first proves TSan live with a planted race built the same way.
#
# How: the preload and its standard library are built with `-Zsanitizer=thread
# -Zbuild-std` (nightly) as a static library with the `tsan` feature, which exports the
# heap functions as memalloc_preload_malloc, ... (TSan's runtime keeps the process's own
# malloc, which it needs while it starts) and puts the heap in a mapping of the kernel's
# choice (TSan's shadow memory lies where the preload's window would go). The programs are
# compiled with -fsanitize=thread and -Dmalloc=memalloc_preload_malloc (and so on), so
# that every block they use comes from the preload, and linked with rustc's TSan runtime
# (see scripts/check-c-sanitizers.sh for why rustc's, not gcc's). No suppressions.
# Programs whose blocks glibc allocates for them (getline, open_memstream: the fork tests)
# cannot run this way: glibc's blocks come from TSan's malloc and would be freed to ours.
#
# Usage: scripts/check-preload-tsan.sh      Needs: cc, nightly Rust with rust-src.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\n-- %s\n' "$*"; }

say "the preload and std built with -Zsanitizer=thread (feature tsan)"
RUSTFLAGS="-Zsanitizer=thread" cargo +nightly rustc --manifest-path "$root/Cargo.toml" -p memalloc-preload \
    --features tsan --release -Zbuild-std --target x86_64-unknown-linux-gnu --target-dir "$target/tsan" \
    --crate-type staticlib
lib="$target/tsan/x86_64-unknown-linux-gnu/release/libmemalloc_preload.a"
rt="$(rustc +nightly --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/lib/librustc-nightly_rt.tsan.a"
test -f "$rt"
nm "$lib" 2>/dev/null | grep ' T memalloc_preload_malloc$' >/dev/null || {
    echo "$lib does not export memalloc_preload_malloc" >&2
    exit 1
}

renames=()
for f in malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc pvalloc \
    malloc_usable_size; do
    renames+=("-D$f=memalloc_preload_$f")
done

# build SOURCE NAME: the program, instrumented, on the instrumented preload.
build() {
    "$cc" -g -O1 -fsanitize=thread "${renames[@]}" -c "$1" -o "$work/$2.o"
    "$cc" -pie "$work/$2.o" "$lib" -Wl,--whole-archive "$rt" -Wl,--no-whole-archive \
        -lpthread -ldl -lm -lrt -lutil -lgcc_s -lstdc++ -o "$work/$2"
}

say "TSan is live: a planted race on a block from the preload is reported"
cat >"$work/race.c" <<'EOF'
#include <pthread.h>
#include <stdlib.h>
static int *shared;
static void *writer(void *arg) { (void)arg; shared[0]++; return NULL; }
int main(void) {
    shared = calloc(4, sizeof *shared);
    pthread_t a, b;
    pthread_create(&a, NULL, writer, NULL);
    pthread_create(&b, NULL, writer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    free(shared);
    return 0;
}
EOF
build "$work/race.c" race
if TSAN_OPTIONS=halt_on_error=1 "$work/race" >"$work/race.out" 2>&1 ||
    ! grep -q "WARNING: ThreadSanitizer: data race" "$work/race.out"; then
    cat "$work/race.out"
    echo "the planted race was not reported: TSan is not live" >&2
    exit 1
fi

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# run NAME ARGS...: runs the program in both modes; it must print "ok" first.
run() {
    local name=$1 mode
    shift
    for mode in fast exact; do
        say "$name $* in the $mode mode"
        local env=()
        [ $mode = exact ] && env=(MEMALLOC_FRONT=off MEMALLOC_ARENAS=1)
        env "${env[@]}" "$work/$name" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
            cat "$work/$name.out" "$work/$name.err"
            exit 1
        }
        head -n 1 "$work/$name.out" | grep -qx ok || {
            cat "$work/$name.out" "$work/$name.err"
            exit 1
        }
        tail -n 1 "$work/$name.err"
    done
}

build "$root/preload/tests/thread_stress.c" thread_stress
run thread_stress 4 8
build "$root/preload/tests/thread_churn.c" thread_churn
run thread_churn 1000 8
echo "ThreadSanitizer found nothing in the preload"
