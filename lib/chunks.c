#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"
#include "decode.h"
#include "hdf5io.h"

/* Larger chunks go through H5Dread: each thread holds three buffers of
 * about a chunk, and a tile that splits a chunk would decode it again. */
#define MAX_CHUNK_BYTES ((size_t)64 << 20)

/* Answers of a chunk's fetch besides H5CL_OK and errors: the tile goes to
 * H5Dread (h5cl_chunks_read's 1), or the chunk is not allocated (its fill
 * value, where one is defined). */
enum { CHUNK_TO_H5DREAD = 1, CHUNK_UNALLOCATED = 2 };

/* One thread's buffers: stored bytes, a decoding stage, a decoded chunk
 * that does not map contiguously into the tile. */
typedef struct scratch {
    h5cl_decoder *dc;
    unsigned char *raw, *work, *chunk;
} scratch;

struct h5cl_chunks {
    const h5cl_dataset *ds;
    h5cl_filters filters;
    int swap;               /* big-endian file type: swap after decoding */
    int fill_ok;            /* unallocated chunks read as `fill`         */
    unsigned char fill[8];  /* one element, native                       */
    size_t elem;
    size_t chunk_bytes;     /* decoded (edge chunks are stored whole)    */
    size_t raw_cap;         /* the largest stored chunk decoded here     */
    uint64_t cstride[H5CL_MAX_RANK]; /* elements per step, in a chunk    */
    /* scratch for each pool thread; a task takes one off the free list,
     * and no more tasks than threads run at once */
    pthread_mutex_t mu;
    scratch *all;
    scratch **free;
    size_t nall, nfree;
};

/* The file type is the native one, or (swap 1) the same with the bytes of
 * each element reversed.  Lock held. */
static int type_ok(const h5cl_dataset *ds, int *swap)
{
    hid_t ftype = H5Dget_type(ds->dset);
    hid_t le = -1;
    int ok = 0;
    if (ftype < 0)
        goto done;
    if (H5Tequal(ftype, ds->memtype) > 0) {
        *swap = 0;
        ok = 1;
        goto done;
    }
    const H5T_class_t c = H5Tget_class(ftype);
    if ((c != H5T_INTEGER && c != H5T_FLOAT) ||
        H5Tget_order(ftype) != H5T_ORDER_BE ||
        H5Tget_order(ds->memtype) != H5T_ORDER_LE)
        goto done;
    le = H5Tcopy(ftype);
    if (le >= 0 && H5Tset_order(le, H5T_ORDER_LE) >= 0 &&
        H5Tequal(le, ds->memtype) > 0) {
        *swap = 1;
        ok = 1;
    }
done:
    if (le >= 0)
        H5Tclose(le);
    if (ftype >= 0)
        H5Tclose(ftype);
    return ok;
}

/* HDF5 gives unallocated chunks the fill value unless it is undefined or
 * never written; those cases stay with H5Dread.  Lock held. */
static void fill_load(h5cl_chunks *ck, hid_t dcpl)
{
    H5D_fill_value_t defined;
    H5D_fill_time_t when;
    ck->fill_ok = H5Pfill_value_defined(dcpl, &defined) >= 0 &&
                  defined != H5D_FILL_VALUE_UNDEFINED &&
                  H5Pget_fill_time(dcpl, &when) >= 0 &&
                  when != H5D_FILL_TIME_NEVER &&
                  H5Pget_fill_value(dcpl, ck->ds->memtype, ck->fill) >= 0;
}

h5cl_chunks *h5cl_chunks_open(const h5cl_dataset *ds, hid_t dcpl)
{
    const h5cl_dataset_info *in = &ds->info;
    h5cl_filters f;
    unsigned opts = 0;
    int swap = 0;
    if (in->layout != H5CL_LAYOUT_CHUNKED || h5cl_filters_load(dcpl, &f) ||
        H5Pget_chunk_opts(dcpl, &opts) < 0 ||
        (opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) || !type_ok(ds, &swap)) {
        H5Eclear2(H5E_DEFAULT);
        return NULL;
    }
    const size_t elem = h5cl_dtype_size(in->dtype);
    size_t chunk_bytes = elem;
    for (int d = 0; d < in->rank; d++)
        if (__builtin_mul_overflow(chunk_bytes, (size_t)in->chunk_dims[d],
                                   &chunk_bytes) ||
            chunk_bytes > MAX_CHUNK_BYTES)
            return NULL;
    h5cl_chunks *ck = calloc(1, sizeof *ck);
    if (!ck || pthread_mutex_init(&ck->mu, NULL) != 0) {
        free(ck);
        return NULL;
    }
    ck->ds = ds;
    ck->filters = f;
    ck->swap = swap;
    ck->elem = elem;
    ck->chunk_bytes = chunk_bytes;
    /* a deflate stream of data that does not compress is a little longer
     * than the data (5 bytes per 64 KiB block, plus header) */
    ck->raw_cap = h5cl_decode_bound(chunk_bytes) + chunk_bytes / 64 + 4096;
    ck->cstride[in->rank - 1] = 1;
    for (int d = in->rank - 1; d > 0; d--)
        ck->cstride[d - 1] = ck->cstride[d] * in->chunk_dims[d];
    fill_load(ck, dcpl);
    H5Eclear2(H5E_DEFAULT);
    return ck;
}

static void scratch_free(scratch *s)
{
    h5cl_decoder_free(s->dc);
    free(s->raw);
    free(s->work);
    free(s->chunk);
}

void h5cl_chunks_close(h5cl_chunks *ck)
{
    if (!ck)
        return;
    for (size_t i = 0; i < ck->nall; i++)
        scratch_free(&ck->all[i]);
    free(ck->all);
    free(ck->free);
    pthread_mutex_destroy(&ck->mu);
    free(ck);
}

/* Makes scratch for n threads (kept for later tiles).  Reader thread,
 * before the tasks start. */
static int scratch_reserve(h5cl_chunks *ck, size_t n)
{
    if (ck->nall >= n)
        return 0;
    scratch *all = calloc(n, sizeof *all);
    scratch **fr = calloc(n, sizeof *fr);
    if (!all || !fr)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        scratch *s = &all[i];
        if (i < ck->nall) {
            *s = ck->all[i];
            continue;
        }
        s->dc = h5cl_decoder_create();
        s->raw = malloc(ck->raw_cap);
        s->work = malloc(ck->raw_cap);
        s->chunk = malloc(ck->chunk_bytes);
        if (!s->dc || !s->raw || !s->work || !s->chunk) {
            for (size_t j = ck->nall; j <= i; j++)
                scratch_free(&all[j]);
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++)
        fr[i] = &all[i];
    free(ck->all);
    free(ck->free);
    ck->all = all;
    ck->free = fr;
    ck->nall = ck->nfree = n;
    return 0;
fail:
    free(all);
    free(fr);
    return -1;
}

static scratch *scratch_take(h5cl_chunks *ck)
{
    pthread_mutex_lock(&ck->mu);
    scratch *s = ck->free[--ck->nfree];
    pthread_mutex_unlock(&ck->mu);
    return s;
}

static void scratch_give(h5cl_chunks *ck, scratch *s)
{
    pthread_mutex_lock(&ck->mu);
    ck->free[ck->nfree++] = s;
    pthread_mutex_unlock(&ck->mu);
}

/* ---- one tile ---- */

typedef struct tile_job {
    h5cl_chunks *ck;
    const h5cl_box *box;
    unsigned char *dst;
    uint64_t first[H5CL_MAX_RANK];   /* index of the first chunk per axis */
    uint64_t nchunks[H5CL_MAX_RANK]; /* chunks met per axis               */
    uint64_t tstride[H5CL_MAX_RANK]; /* elements per step, in the tile    */
    atomic_int stop;                 /* a task failed: the rest skip      */
    pthread_mutex_t mu;              /* the outcome below                 */
    int st;                          /* worst so far: error < 1 < OK      */
    char msg[3072];
} tile_job;

/* One chunk's place: its origin, and the part of it inside the box. */
typedef struct chunk_at {
    uint64_t index[H5CL_MAX_RANK];
    uint64_t origin[H5CL_MAX_RANK];
    uint64_t lo[H5CL_MAX_RANK], hi[H5CL_MAX_RANK];
} chunk_at;

static void chunk_locate(const tile_job *j, size_t i, chunk_at *c)
{
    const h5cl_box *box = j->box;
    const uint64_t *cd = j->ck->ds->info.chunk_dims;
    for (int d = box->rank - 1; d >= 0; d--) {
        c->index[d] = j->first[d] + i % j->nchunks[d];
        i /= j->nchunks[d];
        c->origin[d] = c->index[d] * cd[d];
        const uint64_t end = box->start[d] + box->count[d];
        c->lo[d] = c->origin[d] > box->start[d] ? c->origin[d] : box->start[d];
        c->hi[d] = c->origin[d] + cd[d] < end ? c->origin[d] + cd[d] : end;
    }
}

static void chunk_text(const tile_job *j, const chunk_at *c, char *buf,
                       size_t len)
{
    size_t n = 0;
    for (int d = 0; d < j->box->rank && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, "%s%llu", d ? "," : "",
                              (unsigned long long)c->index[d]);
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, "] (from element [");
    for (int d = 0; d < j->box->rank && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, "%s%llu", d ? "," : "",
                              (unsigned long long)c->origin[d]);
}

/* Records a task's outcome: the first error wins over a wish for H5Dread,
 * which wins over success. */
static void job_fail(tile_job *j, int st, const char *msg)
{
    pthread_mutex_lock(&j->mu);
    if (j->st == H5CL_OK || (j->st == CHUNK_TO_H5DREAD && st < 0)) {
        j->st = st;
        snprintf(j->msg, sizeof j->msg, "%s", msg);
    }
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->stop, 1);
}

/* Whether the whole chunk lies in the box as one run of the tile: then it
 * is decoded in place.  It does when every axis after the first one the
 * chunk extends along is covered whole by both. */
static int chunk_in_place(const tile_job *j, const chunk_at *c)
{
    const h5cl_box *box = j->box;
    const uint64_t *cd = j->ck->ds->info.chunk_dims;
    int k = 0;
    while (k < box->rank - 1 && cd[k] == 1)
        k++;
    for (int d = 0; d < box->rank; d++)
        if (c->lo[d] != c->origin[d] || c->hi[d] != c->origin[d] + cd[d] ||
            (d > k && cd[d] != box->count[d]))
            return 0;
    return 1;
}

static uint64_t tile_offset(const tile_job *j, const uint64_t *at)
{
    uint64_t e = 0;
    for (int d = 0; d < j->box->rank; d++)
        e += (at[d] - j->box->start[d]) * j->tstride[d];
    return e * j->ck->elem;
}

/* Copies the chunk's part inside the box, row by row along the last axis,
 * from src (a decoded chunk; or, with row_only, one row used for all). */
static void copy_rows(const tile_job *j, const chunk_at *c,
                      const unsigned char *src, int row_only)
{
    const h5cl_chunks *ck = j->ck;
    const int r = j->box->rank;
    const size_t row = (size_t)(c->hi[r - 1] - c->lo[r - 1]) * ck->elem;
    uint64_t at[H5CL_MAX_RANK];
    memcpy(at, c->lo, sizeof at);
    for (;;) {
        uint64_t e = 0;
        for (int d = 0; d < r; d++)
            e += (at[d] - c->origin[d]) * ck->cstride[d];
        memcpy(j->dst + tile_offset(j, at), row_only ? src : src + e * ck->elem,
               row);
        int d = r - 2;
        for (; d >= 0; d--) { /* odometer over the axes before the last */
            if (++at[d] < c->hi[d])
                break;
            at[d] = c->lo[d];
        }
        if (d < 0)
            return;
    }
}

/* Stored bytes and filter mask of a chunk, in one section under the HDF5
 * lock.  CHUNK_TO_H5DREAD when it is stored larger than anything h5cl
 * decodes or HDF5 reads it as unallocated from address 0; a damaged
 * index (h5cl_h5_chunk_record) is H5CL_ERR_CORRUPT. */
static int chunk_fetch(tile_job *j, const chunk_at *c, scratch *s,
                       unsigned *mask, size_t *stored, char *msg, size_t len)
{
    const h5cl_dataset *ds = j->ck->ds;
    hsize_t at[H5CL_MAX_RANK];
    for (int d = 0; d < j->box->rank; d++)
        at[d] = c->origin[d];
    h5cl_chunk_rec r;
    uint32_t filters = 0;
    const char *call = "H5Dget_chunk_info_by_coord";
    char where[128], detail[512];
    int st = H5CL_OK;
    h5cl_h5_lock();
    const int kind = h5cl_h5_chunk_record(ds->file, ds->dset, at, &r);
    herr_t rc = kind < 0 ? -1 : 0;
    if (kind == H5CL_CHUNK_UNALLOCATED) {
        st = CHUNK_UNALLOCATED;
    } else if (kind == H5CL_CHUNK_TO_H5DREAD ||
               (kind == H5CL_CHUNK_STORED && r.size > j->ck->raw_cap)) {
        st = CHUNK_TO_H5DREAD;
    } else if (kind == H5CL_CHUNK_DAMAGED) {
        h5cl_h5_chunk_damage(&r, detail, sizeof detail);
        chunk_text(j, c, where, sizeof where);
        snprintf(msg, len, "chunk [%s]) of %s in %s: %s", where,
                 ds->info.path, ds->info.file, detail);
        st = H5CL_ERR_CORRUPT;
    } else if (kind == H5CL_CHUNK_STORED) {
        call = "H5Dread_chunk";
        /* libhdf5 1.10.8 can report success and leave the buffer unwritten
         * on a damaged index whose lookups agree (fuzz_open, memcheck):
         * zeros then, never stale heap bytes.  Cleared outside the lock,
         * which the other decoders wait on */
        h5cl_h5_unlock();
        memset(s->raw, 0, (size_t)r.size);
        h5cl_h5_lock();
        rc = H5Dread_chunk(ds->dset, H5P_DEFAULT, at, &filters, s->raw);
        *mask = filters;
        *stored = (size_t)r.size;
    }
    if (rc < 0) {
        h5cl_h5_describe(detail, sizeof detail);
        chunk_text(j, c, where, sizeof where);
        snprintf(msg, len, "%s failed on chunk [%s]) of %s in %s: %s", call,
                 where, ds->info.path, ds->info.file, detail);
        st = H5CL_ERR_HDF5;
    }
    h5cl_h5_unlock();
    return st;
}

static void chunk_task(void *arg, size_t i)
{
    tile_job *j = arg;
    h5cl_chunks *ck = j->ck;
    if (atomic_load(&j->stop))
        return;
    chunk_at c;
    chunk_locate(j, i, &c);
    char msg[3072];
    unsigned mask = 0;
    size_t stored = 0;
    scratch *s = scratch_take(ck);
    int st = chunk_fetch(j, &c, s, &mask, &stored, msg, sizeof msg);
    if (st == CHUNK_UNALLOCATED && !ck->fill_ok)
        st = CHUNK_TO_H5DREAD;
    if (st == CHUNK_UNALLOCATED) {
        const size_t row = (size_t)(c.hi[j->box->rank - 1] -
                                    c.lo[j->box->rank - 1]);
        for (size_t k = 0; k < row; k++)
            memcpy(s->chunk + k * ck->elem, ck->fill, ck->elem);
        copy_rows(j, &c, s->chunk, 1);
        st = H5CL_OK;
    } else if (st == H5CL_OK) {
        const int in_place = chunk_in_place(j, &c);
        unsigned char *out = in_place ? j->dst + tile_offset(j, c.lo) : s->chunk;
        const char *why = NULL;
        if (h5cl_decode(s->dc, &ck->filters, mask, s->raw, stored, s->work, out,
                        ck->chunk_bytes, &why) != 0) {
            char where[128];
            chunk_text(j, &c, where, sizeof where);
            snprintf(msg, sizeof msg,
                     "chunk [%s]) of %s in %s does not decode: %s (%zu bytes "
                     "stored, filter mask 0x%x)",
                     where, ck->ds->info.path, ck->ds->info.file, why, stored,
                     mask);
            st = H5CL_ERR_CORRUPT;
        } else {
            if (ck->swap)
                h5cl_swap_bytes(out, ck->chunk_bytes, ck->elem);
            if (!in_place)
                copy_rows(j, &c, s->chunk, 0);
        }
    }
    scratch_give(ck, s);
    if (st != H5CL_OK)
        job_fail(j, st, st == CHUNK_TO_H5DREAD ? "" : msg);
}

int h5cl_chunks_read(h5cl_chunks *ck, h5cl_pool *pool, const h5cl_box *box,
                     void *dst, char *err, size_t errlen)
{
    const h5cl_dataset_info *in = &ck->ds->info;
    tile_job j = {.ck = ck, .box = box, .dst = dst, .st = H5CL_OK};
    size_t n = 1;
    for (int d = box->rank - 1; d >= 0; d--) {
        const uint64_t cd = in->chunk_dims[d];
        j.first[d] = box->start[d] / cd;
        j.nchunks[d] = (box->start[d] + box->count[d] - 1) / cd - j.first[d] + 1;
        j.tstride[d] = d == box->rank - 1 ? 1
                                          : j.tstride[d + 1] * box->count[d + 1];
        n *= (size_t)j.nchunks[d];
    }
    if (scratch_reserve(ck, h5cl_pool_threads(pool)) != 0) {
        snprintf(err, errlen, "out of memory for the chunk buffers of %s in %s",
                 in->path, in->file);
        return H5CL_ERR_NO_MEMORY;
    }
    if (pthread_mutex_init(&j.mu, NULL) != 0) {
        snprintf(err, errlen, "cannot make a mutex reading %s in %s", in->path,
                 in->file);
        return H5CL_ERR_NO_MEMORY;
    }
    atomic_init(&j.stop, 0);
    h5cl_pool_run(pool, n, chunk_task, &j);
    pthread_mutex_destroy(&j.mu);
    if (j.st < 0)
        snprintf(err, errlen, "%s", j.msg);
    return j.st;
}
