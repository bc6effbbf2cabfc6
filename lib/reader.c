#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "direct.h"
#include "hdf5io.h"
#include "isolate.h"
#include "reader.h"

struct h5cl_reader {
    h5cl_dataset *ds;
    hid_t fspace;        /* the file dataspace, re-selected per tile */
    h5cl_direct *direct; /* NULL: every tile through H5Dread          */
    uint64_t bytes_direct;
    uint64_t bytes_mapped;
    h5cl_iso_reader *remote; /* isolated: the child reads every tile  */
    int map_fd;          /* isolated: our descriptor of the child's file,
                          * opened on the first mapped tile; -1 not yet,
                          * -2 not to be had                               */
};

int h5cl_reader_open(h5cl_ctx *ctx, h5cl_dataset *ds, h5cl_reader **rd_ret)
{
    *rd_ret = NULL;
    h5cl_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    rd->ds = ds;
    rd->map_fd = -1;
    if (ds->remote) {
        int st = h5cl_iso_reader_open(ctx, ds, &rd->remote);
        if (st != H5CL_OK) {
            free(rd);
            return st;
        }
        *rd_ret = rd;
        return H5CL_OK;
    }
    rd->direct = h5cl_direct_open(ds);
    h5cl_h5_lock();
    rd->fspace = ds->scalar ? H5S_ALL : H5Dget_space(ds->dset);
    h5cl_h5_unlock();
    if (rd->fspace < 0) {
        h5cl_direct_close(rd->direct);
        free(rd);
        return h5cl_fail(ctx, H5CL_ERR_HDF5, "H5Dget_space failed on %s in %s",
                         ds->info.path, ds->info.file);
    }
    *rd_ret = rd;
    return H5CL_OK;
}

int h5cl_reader_can_direct(const h5cl_reader *rd)
{
    return rd->direct != NULL;
}

uint64_t h5cl_reader_bytes_direct(const h5cl_reader *rd)
{
    /* isolated: what the child read directly and what this process
     * mapped; in-process bytes_direct counts both */
    return rd->remote ? h5cl_iso_reader_bytes_direct(rd->remote) +
                            rd->bytes_mapped
                      : rd->bytes_direct;
}

int h5cl_reader_can_map(const h5cl_reader *rd)
{
    return rd->ds->view &&
           (rd->direct ||
            (rd->remote && h5cl_iso_reader_can_map(rd->remote)));
}

unsigned h5cl_reader_threads(const h5cl_reader *rd, const h5cl_pool *pool)
{
    if (rd->remote)
        return h5cl_iso_reader_threads(rd->remote);
    return rd->direct && pool ? h5cl_pool_threads(pool) : 1;
}

uint64_t h5cl_reader_bytes_mapped(const h5cl_reader *rd)
{
    return rd->bytes_mapped;
}

int h5cl_reader_locate(h5cl_reader *rd, const h5cl_box *box,
                       h5cl_file_run *loc, char *err, size_t errlen)
{
    if (!rd->direct || rd->ds->unwritten) {
        memset(loc, 0, sizeof *loc);
        return 1;
    }
    return h5cl_direct_locate(rd->direct, box, loc, err, errlen);
}

/* Our own descriptor of the isolated child's file, or -1: the name may
 * lead elsewhere now (replaced, or relative to another directory), and
 * only the same file (device and inode) may be mapped in its place. */
static int open_same_file(const char *file, const h5cl_file_run *loc)
{
    const int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_dev == loc->dev && (uint64_t)st.st_ino == loc->ino)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* An isolated dataset's tile, mapped here where the child located it. */
static int map_remote(h5cl_reader *rd, const h5cl_box *box,
                      h5cl_mapping **map_ret, const void **data_ret,
                      char *err, size_t errlen)
{
    h5cl_file_run loc;
    const int st = h5cl_iso_reader_locate(rd->remote, box, &loc, err, errlen);
    if (st != H5CL_OK || loc.len == 0)
        return st == H5CL_OK ? 1 : st;
    if (rd->map_fd == -1 && (rd->map_fd = open_same_file(rd->ds->info.file,
                                                         &loc)) < 0)
        rd->map_fd = -2;
    struct stat fst;
    if (rd->map_fd < 0 || fstat(rd->map_fd, &fst) != 0)
        return 1;
    return h5cl_view_get(rd->ds->view, rd->map_fd, (uint64_t)fst.st_size,
                         loc.off, loc.len, map_ret, data_ret) == 0
               ? H5CL_OK
               : 1;
}

int h5cl_reader_map(h5cl_reader *rd, const h5cl_box *box,
                    h5cl_mapping **map_ret, const void **data_ret, char *err,
                    size_t errlen)
{
    *map_ret = NULL;
    *data_ret = NULL;
    if (!h5cl_reader_can_map(rd))
        return 1;
    int st = rd->remote ? map_remote(rd, box, map_ret, data_ret, err, errlen)
                        : h5cl_direct_map(rd->direct, box, map_ret, data_ret,
                                          err, errlen);
    if (st == H5CL_OK) {
        const uint64_t bytes =
            h5cl_box_elems(box) * h5cl_dtype_size(rd->ds->info.dtype);
        rd->bytes_direct += bytes;
        rd->bytes_mapped += bytes;
    }
    return st;
}

int h5cl_reader_read(h5cl_reader *rd, h5cl_pool *pool, const h5cl_box *box,
                     void *dst, char *err, size_t errlen)
{
    const h5cl_dataset *ds = rd->ds;
    if (rd->remote)
        return h5cl_iso_reader_read(
            rd->remote, box, dst,
            (size_t)(h5cl_box_elems(box) * h5cl_dtype_size(ds->info.dtype)),
            err, errlen);
    /* elements with neither storage nor a fill value: HDF5 would leave
     * the buffer as it was (the last tile's data); h5cl reads zeros and
     * the dataset carries a warning (guard.c) */
    if (ds->unwritten || ds->zero_gaps)
        memset(dst, 0, h5cl_box_elems(box) * h5cl_dtype_size(ds->info.dtype));
    if (ds->unwritten)
        return H5CL_OK;
    if (rd->direct && pool) {
        int st = h5cl_direct_read(rd->direct, pool, box, dst, err, errlen);
        if (st == H5CL_OK)
            rd->bytes_direct +=
                h5cl_box_elems(box) * h5cl_dtype_size(ds->info.dtype);
        if (st <= 0)
            return st;
        /* left to H5Dread: libhdf5 1.10.8 skips a chunk recorded at
         * address 0 without writing its elements (fuzz_open), so the
         * tile holds zeros there rather than the slot's old bytes */
        memset(dst, 0, h5cl_box_elems(box) * h5cl_dtype_size(ds->info.dtype));
    }
    hsize_t start[H5CL_MAX_RANK], count[H5CL_MAX_RANK];
    for (int d = 0; d < box->rank; d++) {
        start[d] = box->start[d];
        count[d] = box->count[d];
    }
    const char *call = "H5Screate_simple";
    h5cl_h5_lock();
    /* the memory space has the tile's shape: with a flat one HDF5 1.10
     * maps N-d selections element by element (100x slower on 2-D data) */
    hid_t mspace = H5Screate_simple(box->rank, count, NULL);
    herr_t rc = mspace < 0 ? -1 : 0;
    if (rc >= 0 && !ds->scalar) {
        call = "H5Sselect_hyperslab";
        rc = H5Sselect_hyperslab(rd->fspace, H5S_SELECT_SET, start, NULL,
                                 count, NULL);
    }
    if (rc >= 0) {
        call = "H5Dread";
        rc = H5Dread(ds->dset, ds->memtype, ds->scalar ? H5S_ALL : mspace,
                     rd->fspace, H5P_DEFAULT, dst);
    }
    if (rc < 0) {
        char detail[512], where[256];
        h5cl_h5_describe(detail, sizeof detail);
        h5cl_box_text(box, where, sizeof where);
        snprintf(err, errlen, "%s failed reading [%s] of %s in %s: %s", call,
                 where, ds->info.path, ds->info.file, detail);
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    h5cl_h5_unlock();
    return rc < 0 ? H5CL_ERR_HDF5 : H5CL_OK;
}

void h5cl_reader_close(h5cl_reader *rd)
{
    if (!rd)
        return;
    h5cl_iso_reader_close(rd->remote);
    h5cl_direct_close(rd->direct);
    if (rd->map_fd >= 0)
        close(rd->map_fd);
    if (rd->fspace != H5S_ALL) {
        h5cl_h5_lock();
        H5Sclose(rd->fspace);
        h5cl_h5_unlock();
    }
    free(rd);
}
