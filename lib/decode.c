#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

struct h5cl_decoder {
    struct libdeflate_decompressor *inflater;
};

int h5cl_filters_load(hid_t dcpl, h5cl_filters *f_ret)
{
    h5cl_filters f = {0};
    const int n = H5Pget_nfilters(dcpl);
    if (n < 0 || n > H5CL_DECODE_MAX_FILTERS)
        return -1;
    for (int i = 0; i < n; i++) {
        unsigned flags = 0, cd[4] = {0};
        size_t ncd = sizeof cd / sizeof cd[0];
        const H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL);
        if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE &&
            id != H5Z_FILTER_FLETCHER32)
            return -1;
        for (int j = 0; j < i; j++)
            if (f.id[j] == id)
                return -1; /* twice: outside the bound of h5cl_decode_bound */
        if (id == H5Z_FILTER_SHUFFLE) {
            if (ncd < 1 || cd[0] == 0)
                return -1;
            f.shuffle_elem = cd[0];
        }
        f.id[f.n++] = id;
    }
    *f_ret = f;
    return 0;
}

size_t h5cl_decode_bound(size_t chunk_nbytes)
{
    /* shuffle keeps the size, the one checksum adds 4 bytes */
    return chunk_nbytes + 4;
}

h5cl_decoder *h5cl_decoder_create(void)
{
    h5cl_decoder *dc = calloc(1, sizeof *dc);
    if (!dc)
        return NULL;
    dc->inflater = libdeflate_alloc_decompressor();
    if (!dc->inflater) {
        free(dc);
        return NULL;
    }
    return dc;
}

void h5cl_decoder_free(h5cl_decoder *dc)
{
    if (!dc)
        return;
    libdeflate_free_decompressor(dc->inflater);
    free(dc);
}

uint32_t h5cl_fletcher32(const unsigned char *p, size_t nbytes)
{
    /* Fletcher's sums over 16-bit words read big-endian, folded to 17 bits
     * every 360 words (the most that cannot overflow 32 bits); an odd last
     * byte is the high half of a final word. */
    uint32_t a = 0, b = 0;
    size_t words = nbytes / 2;
    while (words) {
        size_t k = words > 360 ? 360 : words;
        words -= k;
        for (; k; k--, p += 2) {
            a += (uint32_t)p[0] << 8 | p[1];
            b += a;
        }
        a = (a & 0xffff) + (a >> 16);
        b = (b & 0xffff) + (b >> 16);
    }
    if (nbytes % 2) {
        a += (uint32_t)p[0] << 8;
        b += a;
        a = (a & 0xffff) + (a >> 16);
        b = (b & 0xffff) + (b >> 16);
    }
    a = (a & 0xffff) + (a >> 16);
    b = (b & 0xffff) + (b >> 16);
    return b << 16 | a;
}

/* The checksum is the last 4 bytes, little-endian.  HDF5 before 1.6.3
 * stored it with the bytes of each 16-bit half swapped on little-endian
 * machines, and HDF5 still accepts that form: so does h5cl. */
static int check_fletcher32(const unsigned char *p, size_t *len)
{
    if (*len < 4)
        return -1;
    const size_t n = *len - 4;
    const uint32_t stored = (uint32_t)p[n] | (uint32_t)p[n + 1] << 8 |
                            (uint32_t)p[n + 2] << 16 | (uint32_t)p[n + 3] << 24;
    const uint32_t sum = h5cl_fletcher32(p, n);
    const uint32_t old = (sum & 0x00ff00ffu) << 8 | (sum >> 8 & 0x00ff00ffu);
    if (stored != sum && stored != old)
        return -1;
    *len = n;
    return 0;
}

/* Byte plane b of elements [j0, n) goes to byte b of each element; a
 * constant elem lets the compiler unroll the common sizes. */
static inline void unshuffle_n(const unsigned char *src, unsigned char *dst,
                               size_t j0, size_t n, size_t elem)
{
    for (size_t j = j0; j < n; j++)
        for (size_t b = 0; b < elem; b++)
            dst[j * elem + b] = src[b * n + j];
}

#if defined(__SSE2__)
/* 16 elements at a time: 16 bytes of each plane, interleaved by byte, then
 * by pairs and quads (SSE2 is part of x86-64).  The byte loop above ran at
 * about 1 GB/s and took as long as inflating the chunk (perf, gzip-1 +
 * shuffle float32); returns the elements done. */
#include <emmintrin.h>

#define LD(b) _mm_loadu_si128((const __m128i *)(src + (b) * n + j))
#define ST(k, v) _mm_storeu_si128((__m128i *)(dst + j * elem + 16 * (k)), v)

static size_t unshuffle_sse2(const unsigned char *src, unsigned char *dst,
                             size_t n, size_t elem)
{
    size_t j = 0;
    if (elem == 2) {
        for (; j + 16 <= n; j += 16) {
            const __m128i a = LD(0), b = LD(1);
            ST(0, _mm_unpacklo_epi8(a, b));
            ST(1, _mm_unpackhi_epi8(a, b));
        }
    } else if (elem == 4) {
        for (; j + 16 <= n; j += 16) {
            const __m128i a = LD(0), b = LD(1), c = LD(2), d = LD(3);
            const __m128i abl = _mm_unpacklo_epi8(a, b);
            const __m128i abh = _mm_unpackhi_epi8(a, b);
            const __m128i cdl = _mm_unpacklo_epi8(c, d);
            const __m128i cdh = _mm_unpackhi_epi8(c, d);
            ST(0, _mm_unpacklo_epi16(abl, cdl));
            ST(1, _mm_unpackhi_epi16(abl, cdl));
            ST(2, _mm_unpacklo_epi16(abh, cdh));
            ST(3, _mm_unpackhi_epi16(abh, cdh));
        }
    } else if (elem == 8) {
        for (; j + 16 <= n; j += 16) {
            __m128i p[8], q[8], r[8];
            for (int b = 0; b < 8; b++)
                p[b] = LD(b);
            /* q: byte pairs (0,1) (2,3) (4,5) (6,7), low then high halves */
            for (int b = 0; b < 4; b++) {
                q[b] = _mm_unpacklo_epi8(p[2 * b], p[2 * b + 1]);
                q[b + 4] = _mm_unpackhi_epi8(p[2 * b], p[2 * b + 1]);
            }
            /* r: bytes 0-3 and 4-7 of elements 0-3, 4-7, 8-11, 12-15 */
            for (int h = 0; h < 2; h++) {
                r[4 * h + 0] = _mm_unpacklo_epi16(q[4 * h], q[4 * h + 1]);
                r[4 * h + 1] = _mm_unpackhi_epi16(q[4 * h], q[4 * h + 1]);
                r[4 * h + 2] = _mm_unpacklo_epi16(q[4 * h + 2], q[4 * h + 3]);
                r[4 * h + 3] = _mm_unpackhi_epi16(q[4 * h + 2], q[4 * h + 3]);
            }
            for (int g = 0; g < 4; g++) {
                const __m128i lo = r[(g / 2) * 4 + (g % 2)];
                const __m128i hi = r[(g / 2) * 4 + (g % 2) + 2];
                ST(2 * g, _mm_unpacklo_epi32(lo, hi));
                ST(2 * g + 1, _mm_unpackhi_epi32(lo, hi));
            }
        }
    }
    return j;
}
#undef LD
#undef ST
#endif

/* HDF5's shuffle leaves buffers of fewer than two elements, and the bytes
 * past the last whole element, as they are. */
static void unshuffle(const unsigned char *src, unsigned char *dst,
                      size_t len, size_t elem)
{
    const size_t n = len / elem;
#if defined(__SSE2__)
    const size_t j0 = unshuffle_sse2(src, dst, n, elem);
#else
    const size_t j0 = 0;
#endif
    switch (elem) {
    case 2: unshuffle_n(src, dst, j0, n, 2); break;
    case 4: unshuffle_n(src, dst, j0, n, 4); break;
    case 8: unshuffle_n(src, dst, j0, n, 8); break;
    default: unshuffle_n(src, dst, j0, n, elem); break;
    }
    memcpy(dst + n * elem, src + n * elem, len - n * elem);
}

void h5cl_swap_bytes(void *p, size_t nbytes, size_t elem)
{
    unsigned char *c = p;
    const size_t n = nbytes / elem;
    switch (elem) {
    case 2:
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, c + 2 * i, 2);
            v = __builtin_bswap16(v);
            memcpy(c + 2 * i, &v, 2);
        }
        break;
    case 4:
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, c + 4 * i, 4);
            v = __builtin_bswap32(v);
            memcpy(c + 4 * i, &v, 4);
        }
        break;
    case 8:
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, c + 8 * i, 8);
            v = __builtin_bswap64(v);
            memcpy(c + 8 * i, &v, 8);
        }
        break;
    default: /* one-byte elements have no order */
        break;
    }
}

/* Whether a stage after filter i (in reading order) still changes the
 * bytes: if none does, stage i may write straight into out. */
static int last_transform(const h5cl_filters *f, unsigned mask, int i)
{
    for (int j = i - 1; j >= 0; j--)
        if (!(mask >> j & 1))
            return 0;
    return 1;
}

int h5cl_decode(h5cl_decoder *dc, const h5cl_filters *f, unsigned mask,
                unsigned char *in, size_t in_nbytes, unsigned char *work,
                unsigned char *out, size_t out_nbytes, const char **why)
{
    unsigned char *cur = in;
    size_t len = in_nbytes;
    const size_t scratch = in_nbytes > h5cl_decode_bound(out_nbytes)
                               ? in_nbytes : h5cl_decode_bound(out_nbytes);
    for (int i = f->n - 1; i >= 0; i--) {
        if (mask >> i & 1)
            continue;
        const int to_out = last_transform(f, mask, i);
        unsigned char *dst = to_out ? out : cur == in ? work : in;
        const size_t cap = to_out ? out_nbytes : scratch;
        switch (f->id[i]) {
        case H5Z_FILTER_FLETCHER32:
            if (check_fletcher32(cur, &len) != 0) {
                *why = "its Fletcher-32 checksum does not match";
                return -1;
            }
            break;
        case H5Z_FILTER_SHUFFLE:
            if (len > cap) {
                *why = "it is larger than the chunk";
                return -1;
            }
            if (f->shuffle_elem > 1 && len / f->shuffle_elem > 1) {
                unshuffle(cur, dst, len, f->shuffle_elem);
                cur = dst;
            }
            break;
        default: { /* H5Z_FILTER_DEFLATE, by h5cl_filters_load */
            size_t got = 0;
            enum libdeflate_result r = libdeflate_zlib_decompress(
                dc->inflater, cur, len, dst, cap, &got);
            if (r != LIBDEFLATE_SUCCESS) {
                *why = r == LIBDEFLATE_INSUFFICIENT_SPACE
                           ? "it inflates to more than the chunk's size"
                           : "its deflate stream is corrupt";
                return -1;
            }
            cur = dst;
            len = got;
            break;
        }
        }
    }
    if (len != out_nbytes) {
        *why = "it decodes to a size other than the chunk's";
        return -1;
    }
    if (cur != out)
        memcpy(out, cur, len);
    return 0;
}
