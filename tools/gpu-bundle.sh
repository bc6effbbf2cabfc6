#!/bin/sh
# Packs the binaries and every non-glibc shared library they load into
# build/gpu-bundle/{bin,lib}, for a bare GPU machine with no package
# registry.  bench/gpu/run.sh sets LD_LIBRARY_PATH to lib/ there; the
# binaries are built on Debian 12 and run on newer x86-64 distributions.
set -eu
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
# the shared library too, for the Python bindings (H5CL_LIBRARY)
cp -L build/libh5cl.so "$out/lib/libh5cl.so"
cp bench/gpu/run.sh "$out/"
du -sh "$out"
