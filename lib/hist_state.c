/* Histograms as partial states: accessors, exact merging, and the byte
 * form (little-endian, versioned, checksummed). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "hist_state.h"

/* rows * (bins + extra) counters, or 0 when that overflows a size_t. */
static size_t counter_count(size_t rows, uint32_t bins)
{
    size_t per = (size_t)bins + H5CL_HIST_EXTRA;
    if (rows && per > SIZE_MAX / sizeof(uint64_t) / rows)
        return 0;
    return rows * per;
}

/* The product of dims, 0 on overflow of a size_t (and for a zero dim:
 * the caller tells the two apart by *ok). */
static size_t dims_product(int rank, const uint64_t *dims, int *ok)
{
    size_t n = 1;
    *ok = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] && n > SIZE_MAX / dims[d])
            *ok = 0;
        n = *ok ? n * (size_t)dims[d] : 0;
    }
    return n;
}

h5cl_hist *h5cl_hist_alloc(uint32_t bins, double lo, double hi,
                           int from_data, int rank, const uint64_t *dims)
{
    int ok;
    size_t n = dims_product(rank, dims, &ok);
    size_t ncounters = counter_count(n, bins);
    if (!ok || (n && !ncounters))
        return NULL;
    h5cl_hist *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    /* one byte at least, so an empty result is not mistaken for failure */
    h->counts = calloc(ncounters ? ncounters : 1, sizeof *h->counts);
    if (!h->counts) {
        free(h);
        return NULL;
    }
    h->bins = bins;
    h->lo = lo;
    h->hi = hi;
    h->from_data = from_data;
    h->rank = rank;
    for (int d = 0; d < rank; d++)
        h->dims[d] = dims[d];
    h->n = n;
    return h;
}

void h5cl_hist_free(h5cl_hist *h)
{
    if (!h)
        return;
    free(h->counts);
    free(h);
}

uint32_t h5cl_hist_bins(const h5cl_hist *h)
{
    return h ? h->bins : 0;
}

void h5cl_hist_range(const h5cl_hist *h, double *lo_ret, double *hi_ret,
                     int *from_data_ret)
{
    if (lo_ret)
        *lo_ret = h ? h->lo : NAN;
    if (hi_ret)
        *hi_ret = h ? h->hi : NAN;
    if (from_data_ret)
        *from_data_ret = h ? h->from_data : 0;
}

size_t h5cl_hist_count(const h5cl_hist *h)
{
    return h ? h->n : 0;
}

int h5cl_hist_shape(const h5cl_hist *h, uint64_t *dims)
{
    if (!h)
        return -1;
    for (int d = 0; dims && d < h->rank; d++)
        dims[d] = h->dims[d];
    return h->rank;
}

const uint64_t *h5cl_hist_counts(const h5cl_hist *h, size_t i)
{
    if (!h || i >= h->n)
        return NULL;
    return h->counts + i * ((size_t)h->bins + H5CL_HIST_EXTRA);
}

int h5cl_hist_outside(const h5cl_hist *h, size_t i, uint64_t *nan_ret,
                      uint64_t *under_ret, uint64_t *over_ret)
{
    const uint64_t *row = h5cl_hist_counts(h, i);
    if (!row)
        return H5CL_ERR_INVALID_ARGUMENT;
    if (nan_ret)
        *nan_ret = row[h->bins];
    if (under_ret)
        *under_ret = row[h->bins + 1];
    if (over_ret)
        *over_ret = row[h->bins + 2];
    return H5CL_OK;
}

const h5cl_run_summary *h5cl_hist_summary(const h5cl_hist *h)
{
    return h ? &h->summary : NULL;
}

int h5cl_hist_merge(h5cl_hist *into, const h5cl_hist *from)
{
    if (!into || !from || into->bins != from->bins ||
        !(into->lo == from->lo) || !(into->hi == from->hi) ||
        into->rank != from->rank)
        return H5CL_ERR_INVALID_ARGUMENT;
    for (int d = 0; d < into->rank; d++)
        if (into->dims[d] != from->dims[d])
            return H5CL_ERR_INVALID_ARGUMENT;
    size_t nc = counter_count(into->n, into->bins);
    for (size_t c = 0; c < nc; c++)
        into->counts[c] += from->counts[c];
    return H5CL_OK;
}

/* ---- byte form ----
 *   0  magic "H5HI"         4  version        5  flags (bit 0: from data)
 *   6  rank                 7  zero           8  bins (u32)   12  zero (u32)
 *  16  lo (f64 bits)       24  hi (f64 bits) 32  dims (u64 each)
 *   then n rows of bins + 3 counts (u64), then the FNV-1a 64 checksum of
 *   every byte before it.  All little-endian. */

static const unsigned char hist_magic[4] = {'H', '5', 'H', 'I'};
#define HIST_VERSION 1
#define HEADER_BYTES 32

/* Bytes of the form for these counts; 0 when that overflows. */
static size_t form_bytes(int rank, size_t ncounters)
{
    size_t fixed = HEADER_BYTES + 8 * (size_t)rank + 8;
    if (ncounters > (SIZE_MAX - fixed) / 8)
        return 0;
    return fixed + 8 * ncounters;
}

size_t h5cl_hist_serialized_size(const h5cl_hist *h)
{
    return h ? form_bytes(h->rank, counter_count(h->n, h->bins)) : 0;
}

int h5cl_hist_serialize(const h5cl_hist *h, unsigned char *buf, size_t nbytes)
{
    size_t size = h5cl_hist_serialized_size(h);
    if (!h || !buf || nbytes < size)
        return H5CL_ERR_INVALID_ARGUMENT;
    memcpy(buf, hist_magic, 4);
    buf[4] = HIST_VERSION;
    buf[5] = (unsigned char)(h->from_data != 0);
    buf[6] = (unsigned char)h->rank;
    buf[7] = 0;
    h5cl_put64(buf + 8, h->bins); /* bins, then the zero word */
    h5cl_put64(buf + 16, h5cl_double_bits(h->lo));
    h5cl_put64(buf + 24, h5cl_double_bits(h->hi));
    unsigned char *p = buf + HEADER_BYTES;
    for (int d = 0; d < h->rank; d++, p += 8)
        h5cl_put64(p, h->dims[d]);
    size_t nc = counter_count(h->n, h->bins);
    for (size_t c = 0; c < nc; c++, p += 8)
        h5cl_put64(p, h->counts[c]);
    h5cl_put64(p, h5cl_fnv1a64(buf, (size_t)(p - buf)));
    return H5CL_OK;
}

/* The header's fields, when they describe a histogram this library could
 * have made; the buffer holds at least HEADER_BYTES. */
static int header_valid(const unsigned char *b, uint32_t *bins_ret,
                        double *lo_ret, double *hi_ret)
{
    uint64_t w = h5cl_get64(b + 8);
    *bins_ret = (uint32_t)w;
    *lo_ret = h5cl_bits_to_double(h5cl_get64(b + 16));
    *hi_ret = h5cl_bits_to_double(h5cl_get64(b + 24));
    return memcmp(b, hist_magic, 4) == 0 && b[4] == HIST_VERSION &&
           b[5] <= 1 && b[6] <= H5CL_MAX_RANK && b[7] == 0 &&
           (w >> 32) == 0 && *bins_ret >= 1 &&
           *bins_ret <= H5CL_HIST_MAX_BINS && isfinite(*lo_ret) &&
           isfinite(*hi_ret) && *lo_ret < *hi_ret;
}

int h5cl_hist_deserialize(const unsigned char *buf, size_t nbytes,
                          h5cl_hist **hist_ret)
{
    if (hist_ret)
        *hist_ret = NULL;
    uint32_t bins;
    double lo, hi;
    if (!buf || !hist_ret || nbytes < HEADER_BYTES ||
        !header_valid(buf, &bins, &lo, &hi))
        return H5CL_ERR_BAD_STATE;
    const int rank = buf[6];
    uint64_t dims[H5CL_MAX_RANK];
    if (nbytes < HEADER_BYTES + 8 * (size_t)rank)
        return H5CL_ERR_BAD_STATE;
    for (int d = 0; d < rank; d++)
        dims[d] = h5cl_get64(buf + HEADER_BYTES + 8 * d);
    int ok;
    size_t n = dims_product(rank, dims, &ok);
    size_t nc = counter_count(n, bins);
    size_t size = form_bytes(rank, nc);
    /* the size must match exactly: a buffer is one histogram */
    if (!ok || (n && !nc) || !size || nbytes != size ||
        h5cl_get64(buf + size - 8) != h5cl_fnv1a64(buf, size - 8))
        return H5CL_ERR_BAD_STATE;
    h5cl_hist *h = h5cl_hist_alloc(bins, lo, hi, buf[5], rank, dims);
    if (!h)
        return H5CL_ERR_NO_MEMORY;
    const unsigned char *p = buf + HEADER_BYTES + 8 * (size_t)rank;
    for (size_t c = 0; c < nc; c++, p += 8)
        h->counts[c] = h5cl_get64(p);
    *hist_ret = h;
    return H5CL_OK;
}
