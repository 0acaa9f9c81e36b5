#!/usr/bin/env bash
# CI: memalloc as Rust users and `cargo install` users get it.
#  1. cargo package for the publishable crates (memalloc-core, memalloc), with
#     verification: each packaged crate builds on its own (memalloc against the packaged
#     memalloc-core, through cargo's temporary local registry). Needs the crates.io index.
#  2. The packaged memalloc has no cbindgen in its default build, and carries its
#     licenses and changelog.
#  3. cargo doc --no-deps --workspace warns of no output collision (the command and the
#     library are both called memalloc).
#  4. cargo install --path cli, as the README says, gives a working `memalloc`.
#
# Usage: scripts/ci-package.sh          (from anywhere; CARGO_TARGET_DIR is honoured)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "ci-package: $*" >&2; exit 1; }

echo "== cargo package -p memalloc-core -p memalloc (verified)"
# The verification builds memalloc against memalloc-core from a temporary registry, and
# cargo takes a registry crate of the same version as unchanged: in a target directory
# that verified an older core, memalloc would be built against that stale core. So the
# packages are verified in a fresh target directory (about half a minute on 2 cores), and
# cargo's unpacked copies of the temporary registry's crates are removed before and after.
clean_unpacked() {
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/memalloc-core-* "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/memalloc-[0-9]*
}
clean_unpacked
# --allow-dirty: what is checked is that the crates build from their packages, not the
# state of the working tree.
status=0
cargo package --allow-dirty --target-dir "$work/package" -p memalloc-core -p memalloc >"$work/package.log" 2>&1 || status=$?
clean_unpacked
# The tests, benchmarks and examples stay in the repository (they need the workspace).
grep -v -e "^warning: ignoring \(test\|benchmark\|example\)" -e "^ *Compiling " "$work/package.log" || true
[ "$status" = 0 ] || fail "cargo package failed"
for crate in memalloc-core memalloc; do
    list=$(cargo package --allow-dirty --list -p "$crate" 2>/dev/null)
    for file in Cargo.toml LICENSE-MIT LICENSE-APACHE src/lib.rs; do
        grep -qx "$file" <<<"$list" || fail "$crate's package lacks $file"
    done
done
list=$(cargo package --allow-dirty --list -p memalloc 2>/dev/null)
for file in CHANGELOG.md README.md build.rs cbindgen.toml include/memalloc.h; do
    grep -qx "$file" <<<"$list" || fail "memalloc's package lacks $file"
done
tree=$(cargo tree -p memalloc -e normal,build --prefix none)
if grep -q cbindgen <<<"$tree"; then
    fail "memalloc's default build depends on cbindgen:
$tree"
fi

echo "== cargo doc --no-deps --workspace: no output collision"
cargo doc --no-deps --workspace 2>"$work/doc.log" || { cat "$work/doc.log"; fail "cargo doc failed"; }
if grep -i "collision" "$work/doc.log"; then
    fail "cargo doc reports an output collision"
fi

echo "== cargo install --path cli"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo install --quiet --locked --path "$root/cli" --root "$work/install"
"$work/install/bin/memalloc" demo | grep -qF "7. free(20, 25)   -> ok     [Free(0-49)] [Allocated(50-89)] [Free(90-99)]" ||
    fail "the installed memalloc demo"
"$work/install/bin/memalloc" --version
echo "ok: the crates package and verify, the docs have no collision, the command installs"
