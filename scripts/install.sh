#!/usr/bin/env bash
# Installs memalloc as a C library under a prefix:
#   PREFIX/include/memalloc.h, memalloc.hpp
#   PREFIX/lib/libmemalloc.so.X.Y.Z, libmemalloc.so.SONAME -> it, libmemalloc.so -> it
#   PREFIX/lib/libmemalloc.a
#   PREFIX/lib/pkgconfig/memalloc.pc
# so that `cc app.c $(pkg-config --cflags --libs memalloc)` works.
#
# Usage: scripts/install.sh [PREFIX]        (default /usr/local; DESTDIR is honoured)
#        SKIP_BUILD=1 scripts/install.sh ... (install what is already built)
#        MEMALLOC_LIB_DIR=DIR                 (take the built libraries from DIR instead
#                                              of target/release; the tests use it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-/usr/local}
dest="${DESTDIR:-}$prefix"
lib_dir=${MEMALLOC_LIB_DIR:-${CARGO_TARGET_DIR:-$root/target}/release}

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --manifest-path "$root/Cargo.toml" -p memalloc
fi

version=$(sed -n 's/^#define MA_VERSION_STRING "\(.*\)"$/\1/p' "$root/include/memalloc.h")
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)
# The same rule as build.rs: below 1.0 the minor version is part of the SONAME.
if [ "$major" = 0 ]; then soversion="0.$minor"; else soversion="$major"; fi

install -d "$dest/include" "$dest/lib/pkgconfig"
install -m 644 "$root/include/memalloc.h" "$root/include/memalloc.hpp" "$dest/include/"
install -m 755 "$lib_dir/libmemalloc.so" "$dest/lib/libmemalloc.so.$version"
ln -sf "libmemalloc.so.$version" "$dest/lib/libmemalloc.so.$soversion"
ln -sf "libmemalloc.so.$soversion" "$dest/lib/libmemalloc.so"
install -m 644 "$lib_dir/libmemalloc.a" "$dest/lib/libmemalloc.a"

cat > "$dest/lib/pkgconfig/memalloc.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: memalloc
Description: A manager for one contiguous range [0, capacity): first fit in O(log n), best fit, TLSF, buddy
Version: $version
Libs: -L\${libdir} -lmemalloc
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
echo "installed memalloc $version under $dest"
