/* Covariance states: the public accessors, the merge and the byte form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "cov_state.h"

/* Columns allowed in a state: p x p doubles stay far below SIZE_MAX. */
#define MAX_COLUMNS ((size_t)1 << 28)

h5cl_cov *h5cl_cov_alloc(size_t p)
{
    if (p > MAX_COLUMNS)
        return NULL;
    h5cl_cov *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->p = p;
    c->mean = malloc((p ? p : 1) * sizeof *c->mean);
    c->m2 = calloc(p ? p * p : 1, sizeof *c->m2);
    if (!c->mean || !c->m2) {
        h5cl_cov_free(c);
        return NULL;
    }
    for (size_t j = 0; j < p; j++)
        c->mean[j] = NAN;
    return c;
}

void h5cl_cov_free(h5cl_cov *c)
{
    if (!c)
        return;
    free(c->mean);
    free(c->m2);
    free(c);
}

uint64_t h5cl_cov_rows(const h5cl_cov *c)
{
    return c ? c->n : 0;
}

size_t h5cl_cov_columns(const h5cl_cov *c)
{
    return c ? c->p : 0;
}

const double *h5cl_cov_mean(const h5cl_cov *c)
{
    return c ? c->mean : NULL;
}

const double *h5cl_cov_comoment(const h5cl_cov *c)
{
    return c ? c->m2 : NULL;
}

const h5cl_run_summary *h5cl_cov_summary(const h5cl_cov *c)
{
    return c ? &c->summary : NULL;
}

int h5cl_cov_matrix(const h5cl_cov *c, unsigned ddof, double *out)
{
    if (!c || !out)
        return H5CL_ERR_INVALID_ARGUMENT;
    const double dof = c->n > ddof ? (double)(c->n - ddof) : NAN;
    for (size_t i = 0; i < c->p * c->p; i++)
        out[i] = c->m2[i] / dof;
    return H5CL_OK;
}

int h5cl_cov_corrcoef(const h5cl_cov *c, double *out)
{
    if (!c || !out)
        return H5CL_ERR_INVALID_ARGUMENT;
    const size_t p = c->p;
    /* numpy divides by the standard deviations one after the other and
     * clips; the ddof cancels, so the comoments serve directly */
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double r = c->m2[i * p + j] / sqrt(c->m2[i * p + i]) /
                       sqrt(c->m2[j * p + j]);
            out[i * p + j] = r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
        }
    return H5CL_OK;
}

/* The merged state comes from both states' files: neither may be
 * written over.  Beyond H5CL_MAX_INPUTS files the rest are dropped. */
static void merge_inputs(h5cl_cov *a, const h5cl_cov *b)
{
    for (size_t i = 0; i < b->ninputs && a->ninputs < H5CL_MAX_INPUTS; i++) {
        size_t j = 0;
        while (j < a->ninputs && (a->inputs[j].dev != b->inputs[i].dev ||
                                  a->inputs[j].ino != b->inputs[i].ino))
            j++;
        if (j == a->ninputs)
            a->inputs[a->ninputs++] = b->inputs[i];
    }
}

/* Chan, Golub and LeVeque's pairwise update, extended to cross products:
 * M = Ma + Mb + d d^T na nb / n with d = mean_b - mean_a.  No raw sums
 * are formed, so states of data with a large mean merge without
 * cancelling. */
int h5cl_cov_merge(h5cl_cov *a, const h5cl_cov *b)
{
    if (!a || !b || a->p != b->p)
        return H5CL_ERR_INVALID_ARGUMENT;
    merge_inputs(a, b);
    if (b->n == 0)
        return H5CL_OK;
    const size_t p = a->p;
    if (a->n == 0) {
        a->n = b->n;
        memcpy(a->mean, b->mean, p * sizeof *a->mean);
        memcpy(a->m2, b->m2, p * p * sizeof *a->m2);
        return H5CL_OK;
    }
    const double na = (double)a->n, nb = (double)b->n, n = na + nb;
    const double f = na * nb / n;
    for (size_t i = 0; i < p; i++) {
        const double di = b->mean[i] - a->mean[i];
        for (size_t j = 0; j < p; j++) {
            const double dj = b->mean[j] - a->mean[j];
            a->m2[i * p + j] += b->m2[i * p + j] + di * dj * f;
        }
    }
    for (size_t i = 0; i < p; i++)
        a->mean[i] += (b->mean[i] - a->mean[i]) * nb / n;
    a->n += b->n;
    return H5CL_OK;
}

/* ---- byte form ----
 *   0  magic "H5CV"   4  version   5..7  zero   8  n (u64)   16  p (u64)
 *  24  p means (f64 bits), then p x p comoments, row-major, then the
 *      FNV-1a 64 checksum of every byte before it.  All little-endian. */

static const unsigned char cov_magic[4] = {'H', '5', 'C', 'V'};
#define COV_VERSION 1
#define HEADER_BYTES 24

/* 0 when the size does not fit a size_t. */
static size_t form_bytes(uint64_t p)
{
    if (p > MAX_COLUMNS)
        return 0;
    return HEADER_BYTES + 8 * (size_t)(p + p * p) + 8;
}

size_t h5cl_cov_serialized_size(const h5cl_cov *c)
{
    return c ? form_bytes(c->p) : 0;
}

int h5cl_cov_serialize(const h5cl_cov *c, unsigned char *buf, size_t nbytes)
{
    const size_t size = h5cl_cov_serialized_size(c);
    if (!c || !buf || nbytes < size)
        return H5CL_ERR_INVALID_ARGUMENT;
    memcpy(buf, cov_magic, 4);
    buf[4] = COV_VERSION;
    buf[5] = buf[6] = buf[7] = 0;
    h5cl_put64(buf + 8, c->n);
    h5cl_put64(buf + 16, c->p);
    unsigned char *q = buf + HEADER_BYTES;
    for (size_t j = 0; j < c->p; j++, q += 8)
        h5cl_put64(q, h5cl_double_bits(c->mean[j]));
    for (size_t i = 0; i < c->p * c->p; i++, q += 8)
        h5cl_put64(q, h5cl_double_bits(c->m2[i]));
    h5cl_put64(q, h5cl_fnv1a64(buf, (size_t)(q - buf)));
    return H5CL_OK;
}

int h5cl_cov_deserialize(const unsigned char *buf, size_t nbytes,
                         h5cl_cov **cov_ret)
{
    if (cov_ret)
        *cov_ret = NULL;
    if (!buf || !cov_ret || nbytes < HEADER_BYTES ||
        memcmp(buf, cov_magic, 4) != 0 || buf[4] != COV_VERSION || buf[5] ||
        buf[6] || buf[7])
        return H5CL_ERR_BAD_STATE;
    const uint64_t p = h5cl_get64(buf + 16);
    const size_t size = form_bytes(p);
    /* the size must match exactly: a buffer is one state */
    if (!size || nbytes != size ||
        h5cl_get64(buf + size - 8) != h5cl_fnv1a64(buf, size - 8))
        return H5CL_ERR_BAD_STATE;
    h5cl_cov *c = h5cl_cov_alloc((size_t)p);
    if (!c)
        return H5CL_ERR_NO_MEMORY;
    c->n = h5cl_get64(buf + 8);
    const unsigned char *q = buf + HEADER_BYTES;
    for (size_t j = 0; j < c->p; j++, q += 8)
        c->mean[j] = h5cl_bits_to_double(h5cl_get64(q));
    for (size_t i = 0; i < c->p * c->p; i++, q += 8)
        c->m2[i] = h5cl_bits_to_double(h5cl_get64(q));
    *cov_ret = c;
    return H5CL_OK;
}
