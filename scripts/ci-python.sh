#!/usr/bin/env bash
# CI: the Python package as a user gets it. `pip install ./python` into a fresh virtual
# environment (which builds libmemalloc.so with cargo and bundles it), then, against the
# INSTALLED package (run from outside the source tree, MEMALLOC_LIB unset): the pytest
# suite python/tests, `python -m memalloc demo` compared with the Rust command's output
# under every policy, and mypy --strict on the package. Installs what a fresh Debian
# machine lacks (python3, its venv module).
#
# Usage: scripts/ci-python.sh          (from anywhere; CARGO_TARGET_DIR is honoured)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
py="$work/venv/bin/python"

echo "== pip install ./python[test] (cargo builds the library)"
"$py" -m pip install --quiet --disable-pip-version-check "$root/python[test]" mypy

echo "== the memalloc command, to compare the demos with"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p memalloc-cli
target_dir=${CARGO_TARGET_DIR:-$root/target}
export MEMALLOC_CLI="$target_dir/release/memalloc"

echo "== pytest against the installed package"
unset MEMALLOC_LIB
export MEMALLOC_EXPECT_INSTALLED=1
cd "$work"
"$py" -m pytest -q -p no:cacheprovider "$root/python/tests"

echo "== mypy --strict on the installed package"
"$py" -m mypy --strict --cache-dir "$work/mypy-cache" -p memalloc

echo "== python -m memalloc demo"
"$py" -m memalloc demo | head -3
echo "ok: the Python package installs and passes its tests"
