#!/usr/bin/env python3
"""Resident memory per OpenCL context, with and without h5cl: tells a leak
of h5cl's from one of the OpenCL driver's.  Usage:
    context_rss.py path/to/libh5cl.so [cycles] [device spec, default gpu]
Prints the RSS growth over `cycles` create/release cycles (after 10 warm-up
cycles) of (1) a bare OpenCL context with a command queue on the default
GPU, through the ICD loader next to libh5cl.so, and (2) an h5cl context
that opens that device (h5cl_ctx_create, h5cl_ctx_use_device, destroy)."""
import ctypes
import os
import sys


def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(cycle, n):
    for _ in range(10):
        cycle()
    before = rss()
    for _ in range(n):
        cycle()
    return rss() - before


def main():
    lib_path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    spec = (sys.argv[3] if len(sys.argv) > 3 else "gpu").encode()
    cl = ctypes.CDLL(os.path.join(os.path.dirname(lib_path), "libOpenCL.so.1"))
    vp = ctypes.c_void_p
    plat, dev = vp(), vp()
    nplat = ctypes.c_uint()
    assert cl.clGetPlatformIDs(1, ctypes.byref(plat), ctypes.byref(nplat)) == 0
    cl.clGetDeviceIDs.argtypes = [vp, ctypes.c_uint64, ctypes.c_uint, ctypes.POINTER(vp), vp]
    assert cl.clGetDeviceIDs(plat, 0xFFFFFFFF, 1, ctypes.byref(dev), None) == 0
    cl.clCreateContext.restype = vp
    cl.clCreateContext.argtypes = [vp, ctypes.c_uint, ctypes.POINTER(vp), vp, vp,
                                   ctypes.POINTER(ctypes.c_int)]
    cl.clCreateCommandQueue.restype = vp
    cl.clCreateCommandQueue.argtypes = [vp, vp, ctypes.c_uint64, ctypes.POINTER(ctypes.c_int)]
    cl.clReleaseCommandQueue.argtypes = [vp]
    cl.clReleaseContext.argtypes = [vp]

    def bare():
        err = ctypes.c_int()
        ctx = cl.clCreateContext(None, 1, ctypes.byref(dev), None, None, ctypes.byref(err))
        q = cl.clCreateCommandQueue(ctx, dev, 0, ctypes.byref(err))
        cl.clReleaseCommandQueue(q)
        cl.clReleaseContext(ctx)

    h5 = ctypes.CDLL(lib_path)
    h5.h5cl_ctx_destroy.argtypes = [vp]
    h5.h5cl_ctx_use_device.argtypes = [vp, ctypes.c_char_p]

    def h5cl():
        ctx = vp()
        assert h5.h5cl_ctx_create(ctypes.byref(ctx)) == 0
        assert h5.h5cl_ctx_use_device(ctx, spec) == 0
        h5.h5cl_ctx_destroy(ctx)

    for name, fn in (("bare OpenCL context + queue", bare), ("h5cl context on the device", h5cl)):
        g = growth(fn, n)
        print("RSS growth over %d cycles of %s: %d bytes (%.1f KiB per cycle)"
              % (n, name, g, g / n / 1024))


if __name__ == "__main__":
    main()
