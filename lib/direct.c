#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunks.h"
#include "direct.h"
#include "hdf5io.h"

/* Unfiltered chunks smaller than this go through H5Dread: h5cl finds each
 * chunk with a B-tree lookup of its own (H5Dget_chunk_info_by_coord, about
 * 46 us each on the CI machine, the time to copy 400 KiB), where H5Dread
 * walks the index once per tile; 64 KiB chunks ran 2.4x slower directly.
 * Filtered chunks are worth it at any size: decoding dwarfs the lookup.
 * H5CL_DIRECT=all lifts the limit (tests, experiments). */
#define MIN_RAW_CHUNK_BYTES ((uint64_t)1 << 20)
/* Runs shorter than this go through H5Dread, whose sieve buffer gathers
 * small pieces better than one pread each. */
#define MIN_RUN_BYTES ((uint64_t)64 << 10)
/* Pieces handed to the threads: small enough to spread a tile over every
 * thread, large enough that a pread call's cost vanishes. */
#define MIN_PIECE_BYTES ((uint64_t)256 << 10)
#define MAX_PIECE_BYTES ((uint64_t)4 << 20)
/* Tiles mapped rather than read (h5cl_direct_map): below this, mmap,
 * munmap and the page-table work cost more than the copy they save. */
#define MIN_MAP_BYTES ((uint64_t)1 << 20)

struct h5cl_direct {
    const h5cl_dataset *ds;
    int fd;              /* our own descriptor of the file HDF5 opened  */
    uint64_t file_bytes;
    int chunked;
    uint64_t base;       /* contiguous: file offset of element 0; chunked:
                          * added to HDF5's chunk addresses (userblock)  */
    uint64_t stride[H5CL_MAX_RANK]; /* elements per step along each axis */
    uint64_t chunk_rows; /* chunked: chunk extent along axis 0            */
    uint64_t row_bytes;  /* one step along axis 0, other axes full        */
    h5cl_chunks *chunks; /* set: chunks decoded by h5cl (chunks.h) instead
                          * of runs read with pread                       */
    uint64_t map_min;    /* runs at least this long may be mapped          */
};

/* One pread, and what it gave. */
typedef struct piece {
    uint64_t off;
    uint64_t len;
    unsigned char *dst;
    uint64_t got;
    int err;
} piece;

typedef struct job {
    int fd;
    piece *p;
} job;

/* Runs at least this long may be mapped (h5cl_direct_map): never with
 * H5CL_MMAP=0, any length with =1. */
static uint64_t map_min_bytes(void)
{
    const char *map = getenv("H5CL_MMAP");
    return map && strcmp(map, "0") == 0   ? UINT64_MAX
           : map && strcmp(map, "1") == 0 ? 1
                                          : MIN_MAP_BYTES;
}

/* A chunk is one run of the file only when it spans every axis but the
 * first. */
static int full_row_chunks(const h5cl_dataset_info *in)
{
    for (int d = 1; d < in->rank; d++)
        if (in->chunk_dims[d] != in->dims[d])
            return 0;
    return 1;
}

static int mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

/* The HDF5 side of the checks: driver, storage, type, offset.  Returns the
 * descriptor HDF5 reads through, or -1; *userblock for the check below.
 * Called with the HDF5 lock held. */
static int qualify_h5(const h5cl_dataset *ds, uint64_t *base,
                      uint64_t *userblock)
{
    int fd = -1;
    hid_t fapl = H5Fget_access_plist(ds->file);
    hid_t dcpl = H5Dget_create_plist(ds->dset);
    hid_t ftype = H5Dget_type(ds->dset);
    hid_t fcpl = H5Fget_create_plist(ds->file);
    hsize_t ub = 0;
    void *handle = NULL;
    if (fapl < 0 || dcpl < 0 || ftype < 0 || fcpl < 0 ||
        H5Pget_userblock(fcpl, &ub) < 0)
        goto done;
    *userblock = (uint64_t)ub;
    if (H5Pget_driver(fapl) != H5FD_SEC2 || H5Pget_nfilters(dcpl) != 0 ||
        H5Pget_external_count(dcpl) != 0 || H5Tequal(ftype, ds->memtype) <= 0)
        goto done;
    if (ds->info.layout == H5CL_LAYOUT_CONTIGUOUS) {
        haddr_t off = H5Dget_offset(ds->dset);
        if (off == HADDR_UNDEF) /* not allocated: fill values */
            goto done;
        *base = (uint64_t)off;
    }
    if (H5Fget_vfd_handle(ds->file, fapl, &handle) < 0 || !handle)
        goto done;
    fd = *(int *)handle;
done:
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    return fd;
}

/* The address arithmetic, checked once on the data itself: the first
 * bytes of the dataset read with H5Dread must equal those at the computed
 * offset.  Chunk addresses from HDF5 1.10 leave out the userblock (its
 * H5Dget_offset does not), other versions may not; so with a userblock
 * both readings are tried, and the one that matches is kept.  No match, or
 * two (data that cannot tell them apart), leaves the dataset to H5Dread. */
static int check_sample(h5cl_direct *dr, uint64_t userblock)
{
    const h5cl_dataset *ds = dr->ds;
    const h5cl_dataset_info *in = &ds->info;
    const size_t elem = h5cl_dtype_size(in->dtype);
    unsigned char want[4096], got[4096];
    hsize_t start[H5CL_MAX_RANK] = {0}, count[H5CL_MAX_RANK];
    for (int d = 0; d < in->rank; d++)
        count[d] = 1;
    /* the first elements in C order: along the last axis of index 0 */
    uint64_t k = sizeof want / elem;
    if (k > in->dims[in->rank - 1])
        k = in->dims[in->rank - 1];
    count[in->rank - 1] = k;
    const size_t bytes = (size_t)k * elem;

    haddr_t addr = HADDR_UNDEF;
    h5cl_h5_lock();
    hid_t fspace = H5Dget_space(ds->dset);
    hid_t mspace = H5Screate_simple(1, count + in->rank - 1, NULL);
    herr_t rc = fspace < 0 || mspace < 0 ? -1 : 0;
    if (rc >= 0)
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count,
                                 NULL);
    if (rc >= 0)
        rc = H5Dread(ds->dset, ds->memtype, mspace, fspace, H5P_DEFAULT, want);
    if (rc >= 0 && dr->chunked) {
        unsigned mask = 0;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(ds->dset, start, &mask, &addr, &size) < 0)
            addr = HADDR_UNDEF;
    } else {
        addr = (haddr_t)dr->base;
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    if (rc < 0 || addr == HADDR_UNDEF)
        return -1;

    const uint64_t cand[2] = {0, dr->chunked ? userblock : 0};
    const int ncand = dr->chunked && userblock ? 2 : 1;
    int found = -1, matches = 0;
    for (int c = 0; c < ncand; c++) {
        uint64_t off = (uint64_t)addr + cand[c];
        if (off > dr->file_bytes || bytes > dr->file_bytes - off ||
            pread(dr->fd, got, bytes, (off_t)off) != (ssize_t)bytes)
            continue;
        if (memcmp(got, want, bytes) == 0) {
            found = c;
            matches++;
        }
    }
    if (matches != 1)
        return -1;
    if (dr->chunked)
        dr->base = cand[found];
    return 0;
}

/* Runs read with pread: the dataset's bytes in the file are its memory
 * image, found where check_sample says.  0, or -1 (not qualified). */
static int open_runs(h5cl_direct *dr)
{
    const h5cl_dataset_info *in = &dr->ds->info;
    if (in->filters[0])
        return -1;
    /* strides and the bytes of one step along axis 0 (nbytes fits 64
     * bits and no extent is zero, so neither can overflow) */
    const size_t elem = h5cl_dtype_size(in->dtype);
    dr->stride[in->rank - 1] = 1;
    for (int d = in->rank - 1; d > 0; d--)
        dr->stride[d - 1] = dr->stride[d] * in->dims[d];
    dr->row_bytes = dr->stride[0] * elem;
    if (dr->chunked) {
        if (!full_row_chunks(in))
            return -1;
        dr->chunk_rows = in->chunk_dims[0];
        uint64_t chunk_bytes;
        if (!mul_ok(dr->chunk_rows, dr->row_bytes, &chunk_bytes))
            return -1;
    }

    uint64_t userblock = 0;
    h5cl_h5_lock();
    int h5fd = qualify_h5(dr->ds, &dr->base, &userblock);
    h5cl_h5_unlock();
    if (h5fd < 0)
        return -1;
    /* our own descriptor: pread needs no shared offset, and HDF5 may
     * close its own whenever it likes */
    dr->fd = fcntl(h5fd, F_DUPFD_CLOEXEC, 0);
    struct stat st;
    if (dr->fd < 0 || fstat(dr->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    dr->file_bytes = (uint64_t)st.st_size;
    if (!dr->chunked && (dr->base > dr->file_bytes ||
                         in->nbytes > dr->file_bytes - dr->base))
        return -1; /* a truncated file: H5Dread says what is wrong */
    return check_sample(dr, userblock);
}

/* Chunks decoded by h5cl: what runs cannot do (filters, narrow chunks,
 * big-endian data).  0, or -1 (not qualified). */
static int open_chunks(h5cl_direct *dr)
{
    h5cl_h5_lock();
    hid_t dcpl = H5Dget_create_plist(dr->ds->dset);
    if (dcpl >= 0) {
        dr->chunks = h5cl_chunks_open(dr->ds, dcpl);
        H5Pclose(dcpl);
    }
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    return dr->chunks ? 0 : -1;
}

/* Unfiltered chunks too small to be worth a lookup each (see above). */
static int small_raw_chunks(const h5cl_dataset_info *in)
{
    uint64_t bytes = h5cl_dtype_size(in->dtype);
    if (in->layout != H5CL_LAYOUT_CHUNKED || in->filters[0])
        return 0;
    for (int d = 0; d < in->rank; d++)
        if (!mul_ok(bytes, in->chunk_dims[d], &bytes))
            return 0;
    return bytes < MIN_RAW_CHUNK_BYTES;
}

int h5cl_direct_may_map(const h5cl_dataset *ds)
{
    const h5cl_dataset_info *in = &ds->info;
    const char *direct = getenv("H5CL_DIRECT");
    if (!ds->view || ds->scalar || ds->unwritten || in->rank < 1 ||
        in->filters[0] || map_min_bytes() == UINT64_MAX ||
        (direct && strcmp(direct, "0") == 0) || small_raw_chunks(in))
        return 0;
    return in->layout == H5CL_LAYOUT_CONTIGUOUS ||
           (in->layout == H5CL_LAYOUT_CHUNKED && full_row_chunks(in));
}

h5cl_direct *h5cl_direct_open(const h5cl_dataset *ds)
{
    const h5cl_dataset_info *in = &ds->info;
    const char *env = getenv("H5CL_DIRECT");
    const int all = env && strcmp(env, "all") == 0;
    if ((env && strcmp(env, "0") == 0) || ds->scalar || in->rank < 1 ||
        in->nbytes == 0 ||
        (in->layout != H5CL_LAYOUT_CONTIGUOUS &&
         in->layout != H5CL_LAYOUT_CHUNKED) ||
        (!all && small_raw_chunks(in)))
        return NULL;
    h5cl_direct *dr = calloc(1, sizeof *dr);
    if (!dr)
        return NULL;
    dr->ds = ds;
    dr->fd = -1;
    dr->chunked = in->layout == H5CL_LAYOUT_CHUNKED;
    dr->map_min = map_min_bytes();
    if (open_runs(dr) == 0)
        return dr;
    if (dr->fd >= 0)
        close(dr->fd);
    dr->fd = -1;
    if (dr->chunked && open_chunks(dr) == 0)
        return dr;
    h5cl_direct_close(dr);
    return NULL;
}

void h5cl_direct_close(h5cl_direct *dr)
{
    if (!dr)
        return;
    if (dr->fd >= 0)
        close(dr->fd);
    h5cl_chunks_close(dr->chunks);
    free(dr);
}

/* ---- runs: (file offset, tile offset, bytes) ---- */

typedef struct run {
    uint64_t off, at, len;
} run;

typedef struct runs {
    run *r;
    size_t n;
    uint64_t total;
} runs;

/* Contiguous layout: the box is count[0..k-1] runs of count[k] steps along
 * axis k, where k is the outermost axis past which the box is full. */
static int contiguous_runs(const h5cl_direct *dr, const h5cl_box *box,
                           runs *out)
{
    const h5cl_dataset_info *in = &dr->ds->info;
    const size_t elem = h5cl_dtype_size(in->dtype);
    int k = box->rank - 1;
    while (k > 0 && box->start[k] == 0 && box->count[k] == in->dims[k])
        k--;
    uint64_t nruns = 1;
    for (int d = 0; d < k; d++)
        nruns *= box->count[d];
    const uint64_t len = box->count[k] * dr->stride[k] * elem;
    if (nruns > 1 && len < MIN_RUN_BYTES)
        return 1;
    out->r = malloc((size_t)nruns * sizeof *out->r);
    if (!out->r)
        return H5CL_ERR_NO_MEMORY;
    uint64_t idx[H5CL_MAX_RANK] = {0};
    for (uint64_t i = 0; i < nruns; i++) {
        uint64_t e = box->start[k] * dr->stride[k];
        for (int d = 0; d < k; d++)
            e += (box->start[d] + idx[d]) * dr->stride[d];
        out->r[i] = (run){dr->base + e * elem, i * len, len};
        for (int d = k - 1; d >= 0; d--) { /* odometer over axes < k */
            if (++idx[d] < box->count[d])
                break;
            idx[d] = 0;
        }
    }
    out->n = (size_t)nruns;
    out->total = nruns * len;
    return H5CL_OK;
}

/* Chunked layout: the box's rows of each chunk it meets.  Any chunk that
 * is unallocated, or whose record disagrees with the dataset, leaves the
 * tile to H5Dread. */
static int chunk_runs(const h5cl_direct *dr, const h5cl_box *box, runs *out,
                      char *err, size_t errlen)
{
    const h5cl_dataset_info *in = &dr->ds->info;
    for (int d = 1; d < box->rank; d++)
        if (box->start[d] != 0 || box->count[d] != in->dims[d])
            return 1;
    const uint64_t r0 = box->start[0], r1 = r0 + box->count[0];
    const uint64_t c0 = r0 / dr->chunk_rows, c1 = (r1 - 1) / dr->chunk_rows;
    const uint64_t chunk_bytes = dr->chunk_rows * dr->row_bytes;
    out->r = malloc((size_t)(c1 - c0 + 1) * sizeof *out->r);
    if (!out->r)
        return H5CL_ERR_NO_MEMORY;
    int st = H5CL_OK;
    h5cl_h5_lock();
    for (uint64_t c = c0; c <= c1; c++) {
        hsize_t coord[H5CL_MAX_RANK] = {0};
        h5cl_chunk_rec rec;
        coord[0] = c * dr->chunk_rows;
        const int kind = h5cl_h5_chunk_record(dr->ds->file, dr->ds->dset, coord,
                                              &rec);
        if (kind == H5CL_CHUNK_DAMAGED) {
            char detail[256];
            h5cl_h5_chunk_damage(&rec, detail, sizeof detail);
            snprintf(err, errlen, "chunk %llu (from row %llu) of %s in %s: %s",
                     (unsigned long long)c,
                     (unsigned long long)coord[0], in->path, in->file,
                     detail);
            st = H5CL_ERR_CORRUPT;
            break;
        }
        haddr_t addr = rec.addr;
        const hsize_t size = rec.size;
        /* unallocated chunks and any odd record leave the tile to
         * H5Dread */
        if (kind != H5CL_CHUNK_STORED || size != chunk_bytes ||
            (addr += dr->base) > dr->file_bytes ||
            size > dr->file_bytes - addr) {
            H5Eclear2(H5E_DEFAULT);
            st = 1;
            break;
        }
        const uint64_t lo = c * dr->chunk_rows > r0 ? c * dr->chunk_rows : r0;
        const uint64_t hi = (c + 1) * dr->chunk_rows < r1
                                ? (c + 1) * dr->chunk_rows : r1;
        const run cur = {(uint64_t)addr + (lo - c * dr->chunk_rows) *
                                              dr->row_bytes,
                         (lo - r0) * dr->row_bytes, (hi - lo) * dr->row_bytes};
        /* chunks written in order usually lie back to back: one run, so a
         * tile of several chunks can still be mapped (and read in fewer
         * pieces) */
        run *prev = out->n ? &out->r[out->n - 1] : NULL;
        if (prev && prev->off + prev->len == cur.off)
            prev->len += cur.len;
        else
            out->r[out->n++] = cur;
        out->total += cur.len;
    }
    h5cl_h5_unlock();
    return st;
}

/* ---- reading ---- */

static void read_piece(void *arg, size_t i)
{
    const job *j = arg;
    piece *p = &j->p[i];
    while (p->got < p->len) {
        ssize_t r = pread(j->fd, p->dst + p->got, (size_t)(p->len - p->got),
                          (off_t)(p->off + p->got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            p->err = errno;
        if (r <= 0)
            return;
        p->got += (uint64_t)r;
    }
}

/* Splits the runs into pieces, several per thread, and reads them. */
static int read_runs(const h5cl_direct *dr, h5cl_pool *pool, const runs *rs,
                     void *dst, piece **pieces_ret, size_t *npieces_ret)
{
    const uint64_t threads = h5cl_pool_threads(pool);
    uint64_t size = rs->total / (threads * 4);
    size = size < MIN_PIECE_BYTES ? MIN_PIECE_BYTES
           : size > MAX_PIECE_BYTES ? MAX_PIECE_BYTES
                                    : (size + 4095) / 4096 * 4096;
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        n += (size_t)((rs->r[i].len + size - 1) / size);
    piece *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return H5CL_ERR_NO_MEMORY;
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++)
        for (uint64_t o = 0; o < rs->r[i].len; o += size)
            p[k++] = (piece){
                .off = rs->r[i].off + o,
                .len = rs->r[i].len - o < size ? rs->r[i].len - o : size,
                .dst = (unsigned char *)dst + rs->r[i].at + o};
    job j = {dr->fd, p};
    h5cl_pool_run(pool, n, read_piece, &j);
    *pieces_ret = p;
    *npieces_ret = n;
    return H5CL_OK;
}

int h5cl_direct_read(h5cl_direct *dr, h5cl_pool *pool, const h5cl_box *box,
                     void *dst, char *err, size_t errlen)
{
    if (dr->chunks)
        return h5cl_chunks_read(dr->chunks, pool, box, dst, err, errlen);
    const h5cl_dataset_info *in = &dr->ds->info;
    runs rs = {0};
    int st = dr->chunked ? chunk_runs(dr, box, &rs, err, errlen)
                         : contiguous_runs(dr, box, &rs);
    piece *p = NULL;
    size_t n = 0;
    if (st == H5CL_OK)
        st = read_runs(dr, pool, &rs, dst, &p, &n);
    if (st == H5CL_ERR_NO_MEMORY)
        snprintf(err, errlen, "out of memory planning the reads of %s in %s",
                 in->path, in->file);
    for (size_t i = 0; i < n && st == H5CL_OK; i++) {
        if (p[i].got == p[i].len)
            continue;
        char where[256];
        h5cl_box_text(box, where, sizeof where);
        st = H5CL_ERR_IO;
        if (p[i].err)
            snprintf(err, errlen,
                     "pread of %llu bytes at offset %llu of %s failed "
                     "reading [%s] of %s: %s",
                     (unsigned long long)p[i].len,
                     (unsigned long long)p[i].off, in->file, where, in->path,
                     strerror(p[i].err));
        else
            snprintf(err, errlen,
                     "%s ends at byte %llu, inside [%s] of %s (wanted %llu "
                     "bytes at offset %llu): the file was truncated",
                     in->file,
                     (unsigned long long)(p[i].off + p[i].got), where,
                     in->path, (unsigned long long)p[i].len,
                     (unsigned long long)p[i].off);
    }
    free(p);
    free(rs.r);
    return st;
}

/* The file's length and identity now, for a clear error before mapping
 * past its end (a mapping does not check; its reads would fault). */
static int check_length(const h5cl_direct *dr, const h5cl_box *box,
                        const run *r, h5cl_file_run *loc, char *err,
                        size_t errlen)
{
    struct stat st;
    if (fstat(dr->fd, &st) != 0)
        return 1; /* the tile is read, and pread says what is wrong */
    loc->file_bytes = (uint64_t)st.st_size;
    loc->dev = (uint64_t)st.st_dev;
    loc->ino = (uint64_t)st.st_ino;
    if (loc->file_bytes >= r->off + r->len)
        return H5CL_OK;
    const h5cl_dataset_info *in = &dr->ds->info;
    char where[256];
    h5cl_box_text(box, where, sizeof where);
    snprintf(err, errlen,
             "%s ends at byte %llu, inside [%s] of %s (wanted %llu bytes at "
             "offset %llu): the file was truncated",
             in->file, (unsigned long long)st.st_size, where, in->path,
             (unsigned long long)r->len, (unsigned long long)r->off);
    return H5CL_ERR_IO;
}

int h5cl_direct_locate(h5cl_direct *dr, const h5cl_box *box,
                       h5cl_file_run *loc, char *err, size_t errlen)
{
    memset(loc, 0, sizeof *loc);
    if (dr->chunks)
        return 1;
    runs rs = {0};
    int st = dr->chunked ? chunk_runs(dr, box, &rs, err, errlen)
                         : contiguous_runs(dr, box, &rs);
    if (st == H5CL_OK &&
        (rs.n != 1 || rs.total < dr->map_min ||
         rs.r[0].off % h5cl_dtype_size(dr->ds->info.dtype) != 0))
        st = 1;
    if (st == H5CL_OK)
        st = check_length(dr, box, &rs.r[0], loc, err, errlen);
    if (st == H5CL_OK) {
        loc->off = rs.r[0].off;
        loc->len = rs.r[0].len;
    }
    free(rs.r);
    return st == H5CL_ERR_NO_MEMORY ? 1 : st;
}

int h5cl_direct_map(h5cl_direct *dr, const h5cl_box *box,
                    h5cl_mapping **map_ret, const void **data_ret, char *err,
                    size_t errlen)
{
    *map_ret = NULL;
    *data_ret = NULL;
    if (!dr->ds->view)
        return 1;
    h5cl_file_run loc;
    int st = h5cl_direct_locate(dr, box, &loc, err, errlen);
    /* mmap failing (address space, limits) is no error of the data: the
     * tile is read instead */
    if (st == H5CL_OK &&
        h5cl_view_get(dr->ds->view, dr->fd, loc.file_bytes, loc.off, loc.len,
                      map_ret, data_ret) != 0)
        st = 1;
    return st;
}
