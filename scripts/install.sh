#!/usr/bin/env bash
# Installs memalloc as a C library under a prefix:
#   PREFIX/include/memalloc.h, memalloc.hpp
#   PREFIX/lib/libmemalloc.so.X.Y.Z, libmemalloc.so.SONAME -> it, libmemalloc.so -> it
#   PREFIX/lib/libmemalloc.a
#   PREFIX/lib/pkgconfig/memalloc.pc
#   PREFIX/lib/cmake/memalloc/memallocConfig.cmake, memallocConfigVersion.cmake
#   PREFIX/share/memalloc/install_manifest.txt    (what scripts/uninstall.sh removes)
# so that `cc app.c $(pkg-config --cflags --libs memalloc)` works, and in CMake
#   find_package(memalloc 0.2 REQUIRED)
#   target_link_libraries(app PRIVATE memalloc::memalloc)          # libmemalloc.so
#   target_link_libraries(app PRIVATE memalloc::memalloc_static)   # libmemalloc.a
# The libraries are installed stripped of debug information (the release profile keeps
# line tables for profiling: 25 MB for libmemalloc.a, under 1 MB stripped).
#
# Usage: scripts/install.sh [PREFIX]        (default /usr/local; DESTDIR is honoured)
#        SKIP_BUILD=1 scripts/install.sh ... (install what is already built)
#        MEMALLOC_LIB_DIR=DIR                 (take the built libraries from DIR instead
#                                              of target/release; the tests use it)
#        NO_STRIP=1                           (keep the debug information)
#        STRIP=tool                           (the strip program; default strip)
# Remove it again with scripts/uninstall.sh PREFIX.
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

# The libraries' pointer size, for the CMake version check.
pointer_bytes=$(($(getconf LONG_BIT) / 8))

installed=()
# install_file MODE SOURCE PATH-UNDER-PREFIX
install_file() {
    install -m "$1" "$2" "$dest/$3"
    installed+=("$3")
}
# strip_file PATH-UNDER-PREFIX FLAG: debug information out (a static library keeps its
# symbol table, which the linker needs; a shared library keeps its dynamic symbols).
strip_file() {
    [ -n "${NO_STRIP:-}" ] && return
    if command -v "${STRIP:-strip}" >/dev/null; then
        "${STRIP:-strip}" "$2" "$dest/$1"
    else
        echo "warning: ${STRIP:-strip} not found: $1 keeps its debug information" >&2
    fi
}
link_file() {
    ln -sf "$1" "$dest/$2"
    installed+=("$2")
}

install -d "$dest/include" "$dest/lib/pkgconfig" "$dest/lib/cmake/memalloc" "$dest/share/memalloc"
install_file 644 "$root/include/memalloc.h" include/memalloc.h
install_file 644 "$root/include/memalloc.hpp" include/memalloc.hpp
install_file 755 "$lib_dir/libmemalloc.so" "lib/libmemalloc.so.$version"
strip_file "lib/libmemalloc.so.$version" --strip-unneeded
link_file "libmemalloc.so.$version" "lib/libmemalloc.so.$soversion"
link_file "libmemalloc.so.$soversion" lib/libmemalloc.so
install_file 644 "$lib_dir/libmemalloc.a" lib/libmemalloc.a
strip_file lib/libmemalloc.a --strip-debug

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
installed+=(lib/pkgconfig/memalloc.pc)

# The CMake package. Written here (CMake is not needed to install), relocatable: the
# prefix is found from the file's own location, so DESTDIR staging and moving the tree work.
cat > "$dest/lib/cmake/memalloc/memallocConfig.cmake" <<CMAKE
# memalloc $version, installed by scripts/install.sh. Imported targets:
#   memalloc::memalloc         the shared library, libmemalloc.so (SONAME libmemalloc.so.$soversion)
#   memalloc::memalloc_static  the static library, libmemalloc.a (with pthread, dl and m)
# Both carry the include directory of memalloc.h and memalloc.hpp.
get_filename_component(_memalloc_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET memalloc::memalloc)
  add_library(memalloc::memalloc SHARED IMPORTED)
  set_target_properties(memalloc::memalloc PROPERTIES
    IMPORTED_LOCATION "\${_memalloc_prefix}/lib/libmemalloc.so.$version"
    IMPORTED_SONAME "libmemalloc.so.$soversion"
    INTERFACE_INCLUDE_DIRECTORIES "\${_memalloc_prefix}/include")
endif()

if(NOT TARGET memalloc::memalloc_static)
  include(CMakeFindDependencyMacro)
  find_dependency(Threads)
  add_library(memalloc::memalloc_static STATIC IMPORTED)
  set_target_properties(memalloc::memalloc_static PROPERTIES
    IMPORTED_LOCATION "\${_memalloc_prefix}/lib/libmemalloc.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_memalloc_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;\${CMAKE_DL_LIBS};m")
endif()

set(memalloc_LIBRARIES memalloc::memalloc)
unset(_memalloc_prefix)
CMAKE
installed+=(lib/cmake/memalloc/memallocConfig.cmake)

# Compatibility as for the SONAME: the same major version, and below 1.0 the same minor
# (find_package(memalloc 0.2) accepts 0.2.x at or above the request, not 0.3 or 1.0).
cat > "$dest/lib/cmake/memalloc/memallocConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$version")
if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION
   OR NOT PACKAGE_FIND_VERSION_MAJOR EQUAL $major
   OR ($major EQUAL 0 AND NOT PACKAGE_FIND_VERSION_MINOR EQUAL $minor))
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
# The libraries are 64-bit: a 32-bit project cannot use them.
if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P EQUAL $pointer_bytes)
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
CMAKE
installed+=(lib/cmake/memalloc/memallocConfigVersion.cmake)

installed+=(share/memalloc/install_manifest.txt)
printf '%s\n' "${installed[@]}" > "$dest/share/memalloc/install_manifest.txt"
echo "installed memalloc $version under $dest (scripts/uninstall.sh $prefix removes it)"
