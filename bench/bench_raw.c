/*
 * h5cl-bench: the raw-HDF5 ceilings.  The dataset is opened and described
 * with HDF5 alone (independently of h5cl) and read tile by tile with plain
 * H5Dread, chunk cache off, as h5cl does for read-once streaming; for
 * maps, each tile read is also written with H5Dwrite into a new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------------
 * The raw ceiling: H5Dread of chunk-aligned tiles (whole rows of chunks,
 * about tile_bytes each) into one reused buffer, chunk cache off.
 */
static int hdf5_dtype(hid_t type, h5cl_dtype *dtype, hid_t *native)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
        int sgn = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: *dtype = sgn ? H5CL_INT8 : H5CL_UINT8;
                *native = sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8; return 0;
        case 2: *dtype = sgn ? H5CL_INT16 : H5CL_UINT16;
                *native = sgn ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
                return 0;
        case 4: *dtype = sgn ? H5CL_INT32 : H5CL_UINT32;
                *native = sgn ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
                return 0;
        case 8: *dtype = sgn ? H5CL_INT64 : H5CL_UINT64;
                *native = sgn ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
                return 0;
        default: return -1;
        }
    }
    case H5T_FLOAT:
        if (size == 4) {
            *dtype = H5CL_FLOAT32;
            *native = H5T_NATIVE_FLOAT;
            return 0;
        }
        if (size == 8) {
            *dtype = H5CL_FLOAT64;
            *native = H5T_NATIVE_DOUBLE;
            return 0;
        }
        return -1;
    default:
        return -1;
    }
}

void raw_close(struct raw_reader *rr)
{
    if (rr->mspace_full >= 0)
        H5Sclose(rr->mspace_full);
    if (rr->fspace >= 0)
        H5Sclose(rr->fspace);
    if (rr->dset >= 0)
        H5Dclose(rr->dset);
    if (rr->file >= 0)
        H5Fclose(rr->file);
    free(rr->buf);
    rr->buf = NULL;
    rr->mspace_full = rr->fspace = rr->dset = rr->file = -1;
}

/* Opens the dataset and describes it (independently of h5cl). */
int raw_open(struct raw_reader *rr, const char *path,
                    const char *dsname, char *err)
{
    hid_t dapl = -1, type = -1, dcpl = -1;
    int rank, rc = -1;

    memset(rr, 0, sizeof *rr);
    rr->file = rr->dset = rr->fspace = rr->mspace_full = -1;
    if ((rr->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        hdf5_fail(err, "H5Fopen(%s)", path);
        goto out;
    }
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        hdf5_fail(err, "H5Pset_chunk_cache");
        goto out;
    }
    if ((rr->dset = H5Dopen2(rr->file, dsname, dapl)) < 0) {
        hdf5_fail(err, "H5Dopen2(%s)", dsname);
        goto out;
    }
    if ((type = H5Dget_type(rr->dset)) < 0 ||
        hdf5_dtype(type, &rr->dtype, &rr->memtype) < 0) {
        fail(err, "%s: not an integer or float dataset", dsname);
        goto out;
    }
    rr->elsize = h5cl_dtype_size(rr->dtype);
    if ((rr->fspace = H5Dget_space(rr->dset)) < 0 ||
        (rank = H5Sget_simple_extent_ndims(rr->fspace)) < 0) {
        hdf5_fail(err, "H5Dget_space(%s)", dsname);
        goto out;
    }
    rr->rank = rank;
    H5Sget_simple_extent_dims(rr->fspace, rr->dims, NULL);
    rr->row_elems = 1;
    for (int i = 1; i < rank; i++)
        rr->row_elems *= rr->dims[i];
    rr->element_count = rank ? rr->dims[0] * rr->row_elems : 1;
    rr->nbytes = rr->element_count * rr->elsize;
    rr->storage_bytes = H5Dget_storage_size(rr->dset);
    if ((dcpl = H5Dget_create_plist(rr->dset)) < 0) {
        hdf5_fail(err, "H5Dget_create_plist(%s)", dsname);
        goto out;
    }
    rr->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    if (rr->chunked && H5Pget_chunk(dcpl, H5S_MAX_RANK, rr->chunk) < 0) {
        hdf5_fail(err, "H5Pget_chunk(%s)", dsname);
        goto out;
    }
    {
        int nf = H5Pget_nfilters(dcpl);
        rr->nfilters = nf > 0 ? (unsigned)nf : 0;
    }
    rc = 0;
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (type >= 0)
        H5Tclose(type);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (rc)
        raw_close(rr);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* Tile geometry for tile_bytes: whole rows of chunks along axis 0, full
 * extent on the other axes; at least one row of chunks. */
int raw_set_tiles(struct raw_reader *rr, uint64_t tile_bytes,
                         char *err)
{
    uint64_t unit = rr->chunked && rr->rank ? rr->chunk[0] : 1;
    uint64_t unit_bytes = unit * rr->row_elems * rr->elsize;
    uint64_t units = unit_bytes ? tile_bytes / unit_bytes : 1;

    if (rr->mspace_full >= 0)
        H5Sclose(rr->mspace_full);
    rr->mspace_full = -1;
    free(rr->buf);
    rr->buf = NULL;
    if (rr->rank == 0) {
        rr->tile_rows = 1;
        rr->ntiles = 1;
    } else {
        rr->tile_rows = (units ? units : 1) * unit;
        if (rr->tile_rows > rr->dims[0])
            rr->tile_rows = rr->dims[0] ? rr->dims[0] : 1;
        rr->ntiles = (rr->dims[0] + rr->tile_rows - 1) / rr->tile_rows;
    }
    rr->tile_bytes = rr->tile_rows * rr->row_elems * rr->elsize;
    if (!(rr->buf = malloc(rr->tile_bytes ? rr->tile_bytes : 1)))
        return fail(err, "out of memory (raw tile buffer of %" PRIu64
                    " bytes)", rr->tile_bytes);
    if (rr->rank) {
        hsize_t count[H5S_MAX_RANK];
        memcpy(count, rr->dims, sizeof count);
        count[0] = rr->tile_rows;
        if ((rr->mspace_full = H5Screate_simple(rr->rank, count, NULL)) < 0)
            return hdf5_fail(err, "H5Screate_simple");
    }
    return 0;
}

/* Reads tile k into rr->buf, leaving rr->fspace selected on it; *start0
 * and *rows (may be NULL) receive its first row and row count. */
int raw_read_tile(struct raw_reader *rr, uint64_t k, hsize_t *start0,
                  hsize_t *rows, char *err)
{
    hsize_t start[H5S_MAX_RANK] = { 0 }, count[H5S_MAX_RANK];
    hid_t mspace = rr->mspace_full;
    herr_t st;

    if (rr->rank == 0) {
        if (H5Dread(rr->dset, rr->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    rr->buf) < 0)
            return hdf5_fail(err, "H5Dread(scalar)");
        if (start0)
            *start0 = 0;
        if (rows)
            *rows = 1;
        return 0;
    }
    memcpy(count, rr->dims, sizeof count);
    start[0] = k * rr->tile_rows;
    count[0] = rr->dims[0] - start[0] < rr->tile_rows
                   ? rr->dims[0] - start[0]
                   : rr->tile_rows;
    if (H5Sselect_hyperslab(rr->fspace, H5S_SELECT_SET, start, NULL, count,
                            NULL) < 0)
        return hdf5_fail(err, "H5Sselect_hyperslab(tile %" PRIu64 ")", k);
    if (count[0] != rr->tile_rows &&
        (mspace = H5Screate_simple(rr->rank, count, NULL)) < 0)
        return hdf5_fail(err, "H5Screate_simple");
    st = H5Dread(rr->dset, rr->memtype, mspace, rr->fspace, H5P_DEFAULT,
                 rr->buf);
    if (mspace != rr->mspace_full)
        H5Sclose(mspace);
    if (st < 0)
        return hdf5_fail(err, "H5Dread(tile %" PRIu64 ")", k);
    if (start0)
        *start0 = start[0];
    if (rows)
        *rows = count[0];
    return 0;
}

double raw_value(const struct raw_reader *rr, size_t i)
{
    const void *buf = rr->buf;
    switch (rr->dtype) {
    case H5CL_INT8: return ((const int8_t *)buf)[i];
    case H5CL_UINT8: return ((const uint8_t *)buf)[i];
    case H5CL_INT16: return ((const int16_t *)buf)[i];
    case H5CL_UINT16: return ((const uint16_t *)buf)[i];
    case H5CL_INT32: return ((const int32_t *)buf)[i];
    case H5CL_UINT32: return ((const uint32_t *)buf)[i];
    case H5CL_INT64: return (double)((const int64_t *)buf)[i];
    case H5CL_UINT64: return (double)((const uint64_t *)buf)[i];
    case H5CL_FLOAT32: return ((const float *)buf)[i];
    case H5CL_FLOAT64: return ((const double *)buf)[i];
    default: return NAN;
    }
}

/* Reads every tile once; fn (may be NULL) sees each tile. */
int raw_pass(struct raw_reader *rr, raw_tile_fn fn, void *user, char *err)
{
    for (uint64_t k = 0; k < rr->ntiles; k++) {
        hsize_t start0, rows;

        if (g_interrupted)
            return fail(err, "interrupted");
        if (raw_read_tile(rr, k, &start0, &rows, err))
            return -1;
        if (fn)
            fn(rr, (size_t)(rows * rr->row_elems), start0 * rr->row_elems,
               user);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The map ceiling: read + write of the same tiles, committed the way
 * h5cl's all-or-nothing output is (lib/writer.c): a temporary file next to
 * the target, H5Dclose and H5Fclose, fsync of the file, rename, fsync of
 * the directory.  Without the same close and syncs the ceiling would
 * leave its bytes dirty in the page cache and look faster than any
 * durable write can be.
 */
hid_t raw_output_dcpl(const struct raw_reader *rr, char *err)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        (rr->chunked && rr->rank &&
         H5Pset_chunk(dcpl, rr->rank, rr->chunk) < 0)) {
        if (dcpl >= 0)
            H5Pclose(dcpl);
        hdf5_fail(err, "output dataset creation properties");
        return -1;
    }
    return dcpl;
}

/* fsync of a path: the file written, or the directory of the rename. */
static int sync_path(const char *path, int flags, char *err)
{
    int fd = open(path, flags | O_CLOEXEC), rc;
    if (fd < 0)
        return fail(err, "open %s: %s", path, strerror(errno));
    rc = fsync(fd);
    if (rc < 0)
        fail(err, "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc < 0 ? -1 : 0;
}

/* Writes the tile that raw_read_tile just read (rr->fspace is selected
 * on it; the output has the same extent). */
static int copy_tile(struct raw_reader *rr, hid_t dset, uint64_t k,
                     hsize_t rows, char *err)
{
    hid_t mspace = rr->mspace_full;
    herr_t st;

    if (rr->rank == 0)
        st = H5Dwrite(dset, rr->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                      rr->buf);
    else {
        if (rows != rr->tile_rows) {
            hsize_t count[H5S_MAX_RANK];
            memcpy(count, rr->dims, sizeof count);
            count[0] = rows;
            if ((mspace = H5Screate_simple(rr->rank, count, NULL)) < 0)
                return hdf5_fail(err, "H5Screate_simple");
        }
        st = H5Dwrite(dset, rr->memtype, mspace, rr->fspace, H5P_DEFAULT,
                      rr->buf);
        if (mspace != rr->mspace_full)
            H5Sclose(mspace);
    }
    if (st < 0)
        return hdf5_fail(err, "H5Dwrite(tile %" PRIu64 ")", k);
    return 0;
}

int raw_copy_pass(struct raw_reader *rr, const char *out_path,
                  const char *dsname, hid_t dcpl, hid_t out_type,
                  double *phase_ret, char *err)
{
    char dir[PATH_MAX];
    char *slash;
    hid_t file = -1, dset = -1, dapl = -1, space = -1;
    int fd = -1, rc = -1;
    double t;

    for (int i = 0; i < PHASE_COUNT; i++)
        phase_ret[i] = 0.0;
    snprintf(dir, sizeof dir, "%s", out_path);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp-XXXXXX", out_path) >=
        (int)sizeof g_tmp_path)
        return fail(err, "path too long: %s", out_path);
    t = now_seconds();
    if ((fd = mkstemp(g_tmp_path)) < 0)
        return fail(err, "cannot create a temporary file next to %s: %s",
                    out_path, strerror(errno));
    g_tmp_active = 1;
    if ((file = H5Fcreate(g_tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT,
                          H5P_DEFAULT)) < 0) {
        hdf5_fail(err, "H5Fcreate(%s)", g_tmp_path);
        goto out;
    }
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        hdf5_fail(err, "H5Pset_chunk_cache");
        goto out;
    }
    space = rr->rank ? H5Screate_simple(rr->rank, rr->dims, NULL)
                     : H5Screate(H5S_SCALAR);
    if (space < 0) {
        hdf5_fail(err, "H5Screate_simple");
        goto out;
    }
    if ((dset = H5Dcreate2(file, dsname, out_type, space, H5P_DEFAULT, dcpl,
                           dapl)) < 0) {
        hdf5_fail(err, "H5Dcreate2(%s)", dsname);
        goto out;
    }
    phase_ret[PHASE_WRITE] += now_seconds() - t;
    for (uint64_t k = 0; k < rr->ntiles; k++) {
        hsize_t rows;
        if (g_interrupted) {
            fail(err, "interrupted");
            goto out;
        }
        t = now_seconds();
        if (raw_read_tile(rr, k, NULL, &rows, err))
            goto out;
        phase_ret[PHASE_READ] += now_seconds() - t;
        t = now_seconds();
        if (copy_tile(rr, dset, k, rows, err))
            goto out;
        phase_ret[PHASE_WRITE] += now_seconds() - t;
    }
    /* H5Dclose writes what HDF5 still holds, H5Fclose the metadata */
    t = now_seconds();
    if (H5Dclose(dset) < 0) {
        dset = -1;
        hdf5_fail(err, "H5Dclose(%s)", dsname);
        goto out;
    }
    dset = -1;
    if (H5Fclose(file) < 0) {
        file = -1;
        hdf5_fail(err, "H5Fclose(%s)", g_tmp_path);
        goto out;
    }
    file = -1;
    phase_ret[PHASE_CLOSE] = now_seconds() - t;
    t = now_seconds();
    if (fsync(fd) < 0) {
        fail(err, "fsync %s: %s", g_tmp_path, strerror(errno));
        goto out;
    }
    if (rename(g_tmp_path, out_path) < 0) {
        fail(err, "rename %s to %s: %s", g_tmp_path, out_path,
             strerror(errno));
        goto out;
    }
    g_tmp_active = 0;
    if (sync_path(dir, O_RDONLY | O_DIRECTORY, err))
        goto out;
    phase_ret[PHASE_SYNC] = now_seconds() - t;
    rc = 0;
out:
    if (dset >= 0)
        H5Dclose(dset);
    if (file >= 0)
        H5Fclose(file);
    if (space >= 0)
        H5Sclose(space);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (fd >= 0)
        close(fd);
    if (g_tmp_active) {
        g_tmp_active = 0;
        unlink(g_tmp_path);
    }
    H5Eclear2(H5E_DEFAULT);
    if (rc && g_interrupted) /* the signal handler removed the file */
        fail(err, "interrupted");
    return rc;
}
