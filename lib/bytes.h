/* The little-endian 64-bit words and checksum of the serialised states
 * (statistics, histograms, covariances): one definition for all. */
#ifndef H5CL_BYTES_H
#define H5CL_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void h5cl_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t h5cl_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t h5cl_double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double h5cl_bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* FNV-1a 64 of n bytes: detects a damaged buffer, not an attack. */
static inline uint64_t h5cl_fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
