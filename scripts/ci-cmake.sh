#!/usr/bin/env bash
# CI: memalloc as C and C++ users get it. scripts/install.sh into a temporary prefix
# (stripped libraries, pkg-config file, CMake package), then examples/cmake built with CMake
# against the installed package, with the shared library (memalloc::memalloc) and the
# static one (memalloc::memalloc_static), and run; find_package's version check; and
# scripts/uninstall.sh leaves no file behind. Installs what a fresh Debian machine lacks
# (cmake, a C and C++ compiler, binutils).
#
# Usage: scripts/ci-cmake.sh          (from anywhere; CARGO_TARGET_DIR is honoured)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

missing=()
for tool in cmake:cmake cc:build-essential c++:build-essential make:build-essential readelf:binutils strip:binutils; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
fail() { echo "ci-cmake: $*" >&2; exit 1; }

echo "== scripts/install.sh $prefix"
"$root/scripts/install.sh" "$prefix"
version=$(sed -n 's/^#define MA_VERSION_STRING "\(.*\)"$/\1/p' "$root/include/memalloc.h")
for lib in "lib/libmemalloc.so.$version" lib/libmemalloc.a; do
    if readelf -S "$prefix/$lib" | grep -qE '\.debug_(info|line)'; then
        fail "$lib is installed with debug information"
    fi
done
ls -l "$prefix/lib/libmemalloc.a" "$prefix/lib/libmemalloc.so.$version"

expected='[Free(0-49)] [Allocated(50-89)] [Free(90-99)]'
echo "== CMake: examples/cmake against the installed package"
cmake -S "$root/examples/cmake" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror -pedantic" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror -pedantic" >/dev/null
cmake --build "$work/build" -- --no-print-directory
for program in demo_shared demo_static; do
    "$work/build/$program" | grep -qF "$expected" || fail "$program did not print the worked example"
done
"$work/build/raii_static" | grep -qx "all freed: \[Free(0-99)\]" || fail "raii_static failed"
readelf -d "$work/build/demo_shared" | grep -q "NEEDED.*\[libmemalloc.so.0.2\]" || fail "demo_shared does not need libmemalloc.so.0.2"
if readelf -d "$work/build/demo_static" | grep -q "libmemalloc"; then
    fail "demo_static needs libmemalloc.so"
fi
ldd "$work/build/demo_shared" | grep -qF "$prefix/lib/libmemalloc.so.0.2" || fail "demo_shared does not find the installed library"
echo "demo_shared, demo_static and raii_static run"

echo "== find_package's version check"
mkdir -p "$work/versions"
cat > "$work/versions/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(memalloc_version_check LANGUAGES C)
find_package(memalloc ${WANT} REQUIRED)
CMAKE
IFS=. read -r major minor patch <<<"$version"
check_version() { # WANT EXPECTED(0 accepted, 1 refused)
    local status=0
    rm -rf "$work/versions/build"
    cmake -S "$work/versions" -B "$work/versions/build" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$1" >/dev/null 2>&1 || status=1
    [ "$status" = "$2" ] || fail "find_package(memalloc $1): expected $([ "$2" = 0 ] && echo accepted || echo refused)"
}
check_version "" 0
check_version "$major.$minor" 0
check_version "$version" 0
check_version "$major.$((minor + 1))" 1
check_version "$((major + 1)).0" 1
echo "accepts $major.$minor and $version, refuses $major.$((minor + 1)) and $((major + 1)).0"

echo "== pkg-config still works beside it"
if command -v pkg-config >/dev/null; then
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion memalloc | grep -qx "$version" || fail "pkg-config"
fi

echo "== scripts/uninstall.sh $prefix"
"$root/scripts/uninstall.sh" "$prefix"
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "uninstall left: $left"
echo "ok: installed, built with CMake (shared and static), ran, uninstalled"
