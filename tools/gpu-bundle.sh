#!/bin/sh
# Packs the binaries and every non-glibc shared library they load into
# build/gpu-bundle/{bin,lib}, for a bare GPU machine with no package
# registry:  gpu-bundle.sh BUILD_DIR BINARY...
# `make gpu-bundle` links them with an $ORIGIN rpath, so they (and
# lib/libh5cl.so, loaded by the Python bindings) find lib/ without
# LD_LIBRARY_PATH, which would also push these libraries into python3.
# Built on Debian 12, they run on newer x86-64 distributions.
set -eu
build=$1
shift
out=build/gpu-bundle
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
for b in "$@"; do
    cp "$b" "$out/bin/"
done
# the ICD loader is opened through the binaries; PoCL is not shipped
for b in "$@"; do ldd "$b"; done |
    awk '/=> \// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
# the libraries libh5cl dlopens on first use (CLBlast, LAPACKE: LAZY_LIBS,
# sonames from the Makefile) and theirs, found where the loader would
for so in ${LAZY_LIBS:-}; do
    lib=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ {print $NF; exit}')
    [ -n "$lib" ] || { echo "gpu-bundle.sh: $so not found" >&2; exit 1; }
    cp -L "$lib" "$out/lib/"
    ldd "$lib" | awk '/=> \// {print $3}' |
        grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|ld-linux[^/]*)\.so' |
        while read -r dep; do cp -L "$dep" "$out/lib/"; done
done
# the shared library too, for the Python bindings (H5CL_LIBRARY); it finds
# the isolated reader (h5cl-reader, passed as a binary) in ../bin
cp -L "$build/libh5cl.so" "$out/lib/libh5cl.so"
cp bench/gpu/run.sh "$out/"
du -sh "$out"
