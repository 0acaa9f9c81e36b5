#!/usr/bin/env bash
# Removes what scripts/install.sh installed under a prefix: the files its manifest
# (PREFIX/share/memalloc/install_manifest.txt) lists, then memalloc's own directories
# (lib/cmake/memalloc, share/memalloc) when they are empty. Anything else stays, the
# prefix's shared directories (include, lib, lib/pkgconfig, ...) included.
#
# Usage: scripts/uninstall.sh [PREFIX]      (default /usr/local; DESTDIR is honoured)
set -euo pipefail
prefix=${1:-/usr/local}
dest="${DESTDIR:-}$prefix"
manifest="$dest/share/memalloc/install_manifest.txt"

if [ ! -f "$manifest" ]; then
    echo "uninstall: no $manifest: memalloc is not installed under $dest (by scripts/install.sh)" >&2
    exit 1
fi

removed=0
while IFS= read -r path; do
    case "$path" in
        "" | /* | *..*) echo "uninstall: skipping a suspicious manifest line: '$path'" >&2; continue ;;
    esac
    if [ -e "$dest/$path" ] || [ -L "$dest/$path" ]; then
        rm -f "$dest/$path"
        removed=$((removed + 1))
    fi
done < "$manifest"

for dir in lib/cmake/memalloc share/memalloc; do
    if [ -d "$dest/$dir" ]; then
        rmdir --ignore-fail-on-non-empty "$dest/$dir"
    fi
done
echo "removed memalloc from $dest ($removed files)"
