/* Joining the outputs of maps over shares (one file per MPI rank or Dask
 * task) into one HDF5 virtual dataset: metadata only, no data copied. */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "hdf5io.h"
#include "writer.h"

typedef struct source {
    char name[PATH_MAX]; /* as recorded in the virtual dataset         */
    int rank;
    hsize_t dims[H5CL_MAX_RANK];
} source;

/* The directory of path, made absolute (the file itself may not exist). */
static int abs_dir(const char *path, char *dir)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    return realpath(dirname(tmp), dir) ? 0 : -1;
}

static int fail_h5(h5cl_ctx *ctx, const char *call, const char *what,
                   const char *file)
{
    char why[512];
    h5cl_h5_describe(why, sizeof why);
    return h5cl_fail(ctx, H5CL_ERR_HDF5, "%s failed for %s in %s: %s", call,
                     what, file, why);
}

/* Reads a source's type and shape (type_io: the first source's type, set
 * by the first call, compared by the others) and chooses its recorded
 * name: relative to out_dir when it lies there. */
static int describe_source(h5cl_ctx *ctx, const char *file, const char *path,
                           const char *out_dir, hid_t *type_io, source *s)
{
    char real[PATH_MAX], dir[PATH_MAX];
    if (!realpath(file, real))
        return h5cl_fail(ctx, H5CL_ERR_FILE_NOT_FOUND,
                         "source file %s of the virtual dataset not found",
                         file);
    if (abs_dir(real, dir) == 0 && strcmp(dir, out_dir) == 0)
        snprintf(s->name, sizeof s->name, "%s", real + strlen(dir) + 1);
    else
        snprintf(s->name, sizeof s->name, "%s", real);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return fail_h5(ctx, "H5Fopen", "the source", file);
    int st = H5CL_OK;
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    hid_t t = d < 0 ? -1 : H5Dget_type(d);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    s->rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (d < 0)
        st = h5cl_fail(ctx, H5CL_ERR_DATASET_NOT_FOUND,
                       "%s not found in %s (a source of the virtual dataset)",
                       path, file);
    else if (t < 0 || s->rank < 0)
        st = fail_h5(ctx, "H5Dget_type/H5Dget_space", path, file);
    else if (s->rank == 0)
        st = h5cl_fail(ctx, H5CL_ERR_SHAPE,
                       "%s in %s is a scalar; sources are stacked along "
                       "their first axis",
                       path, file);
    else if (*type_io >= 0 && H5Tequal(*type_io, t) <= 0)
        st = h5cl_fail(ctx, H5CL_ERR_SHAPE,
                       "%s in %s has another type than the first source",
                       path, file);
    if (st == H5CL_OK) {
        H5Sget_simple_extent_dims(sp, s->dims, NULL);
        if (*type_io < 0) {
            *type_io = t;
            t = -1;
        }
    }
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    h5cl_h5_fclose(f);
    return st;
}

/* The dataset creation list mapping each source to its rows. */
static int map_sources(h5cl_ctx *ctx, const source *src, size_t n,
                       const char *path, hid_t vspace, hid_t dcpl)
{
    hsize_t start[H5CL_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        hid_t sspace = H5Screate_simple(src[i].rank, src[i].dims, NULL);
        herr_t e = sspace < 0 ? -1
                              : H5Sselect_hyperslab(vspace, H5S_SELECT_SET,
                                                    start, NULL, src[i].dims,
                                                    NULL);
        if (e >= 0)
            e = H5Pset_virtual(dcpl, vspace, src[i].name, path, sspace);
        if (sspace >= 0)
            H5Sclose(sspace);
        if (e < 0)
            return fail_h5(ctx, "H5Pset_virtual", path, src[i].name);
        start[0] += src[i].dims[0];
    }
    return H5CL_OK;
}

static int check_sources(h5cl_ctx *ctx, const source *src, size_t n,
                         const char *path, hsize_t *dims_ret)
{
    memcpy(dims_ret, src[0].dims, sizeof src[0].dims);
    dims_ret[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int same = src[i].rank == src[0].rank;
        for (int d = 1; same && d < src[0].rank; d++)
            same = src[i].dims[d] == src[0].dims[d];
        if (!same)
            return h5cl_fail(ctx, H5CL_ERR_SHAPE,
                             "%s in %s differs in shape from the first "
                             "source beyond the first axis",
                             path, src[i].name);
        dims_ret[0] += src[i].dims[0];
    }
    return H5CL_OK;
}

/* The sources' types, shapes and names, and the virtual dataset's space
 * and creation list mapping them.  Lock held. */
static int plan(h5cl_ctx *ctx, const char *const *files, size_t n,
                const char *path, const char *out_dir, source *src,
                hid_t *type_ret, hid_t *vspace_ret, hid_t *dcpl_ret)
{
    int st = H5CL_OK;
    for (size_t i = 0; i < n && st == H5CL_OK; i++)
        st = describe_source(ctx, files[i], path, out_dir, type_ret, &src[i]);
    hsize_t dims[H5CL_MAX_RANK];
    if (st == H5CL_OK)
        st = check_sources(ctx, src, n, path, dims);
    if (st != H5CL_OK)
        return st;
    *vspace_ret = H5Screate_simple(src[0].rank, dims, NULL);
    *dcpl_ret = *vspace_ret >= 0 ? H5Pcreate(H5P_DATASET_CREATE) : -1;
    if (*dcpl_ret < 0)
        return fail_h5(ctx, "H5Screate_simple/H5Pcreate", path, "the output");
    return map_sources(ctx, src, n, path, *vspace_ret, *dcpl_ret);
}

/* The virtual dataset in the writer's temporary file.  Lock held. */
static int make_vds(h5cl_ctx *ctx, hid_t f, const h5cl_map_options *m,
                    hid_t type, hid_t vspace, hid_t dcpl)
{
    int st = H5CL_OK;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0)
        H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = lcpl >= 0 ? H5Dcreate2(f, m->out_path, type, vspace, lcpl,
                                     dcpl, H5P_DEFAULT)
                        : -1;
    if (d < 0)
        st = fail_h5(ctx, "H5Dcreate2", m->out_path, m->out_file);
    if (d >= 0 && H5Dclose(d) < 0)
        st = fail_h5(ctx, "H5Dclose", m->out_path, m->out_file);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return st;
}

/* Sources first (read-only), then the output through the writer: a
 * temporary file beside it (a copy when it exists), renamed over it only
 * when complete, as every output; the sources are refused as outputs. */
static int join(h5cl_ctx *ctx, const char *const *files, size_t n,
                const char *path, const h5cl_map_options *m, source *src,
                h5cl_input_file *ids)
{
    char out_dir[PATH_MAX];
    if (abs_dir(m->out_file, out_dir) != 0)
        return h5cl_fail(ctx, H5CL_ERR_IO,
                         "the directory of %s does not exist", m->out_file);
    hid_t type = -1, vspace = -1, dcpl = -1;
    h5cl_h5_lock();
    int st = plan(ctx, files, n, path, out_dir, src, &type, &vspace, &dcpl);
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    size_t nids = 0;
    for (size_t i = 0; i < n; i++)
        nids += (size_t)h5cl_input_file_get(files[i], &ids[nids]);
    h5cl_writer_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.file = m->out_file;
    spec.path = m->out_path;
    spec.overwrite = m->overwrite;
    h5cl_writer *w = NULL;
    if (st == H5CL_OK)
        st = h5cl_writer_open(ctx, &spec, ids, nids, &w);
    h5cl_h5_lock();
    if (st == H5CL_OK)
        st = make_vds(ctx, h5cl_writer_file(w), m, type, vspace, dcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (vspace >= 0)
        H5Sclose(vspace);
    if (type >= 0)
        H5Tclose(type);
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    if (st != H5CL_OK) {
        h5cl_writer_abort(w);
        return st;
    }
    return h5cl_writer_commit(ctx, w);
}

int h5cl_map_join(h5cl_ctx *ctx, const char *const *files, size_t n,
                  const char *path, const h5cl_map_options *mopts)
{
    if (!ctx)
        return H5CL_ERR_INVALID_ARGUMENT;
    if (!files || n == 0 || !path || !mopts || !mopts->out_file ||
        !mopts->out_path)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_map_join: no sources, or no output named");
    for (size_t i = 0; i < n; i++)
        if (!files[i])
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "h5cl_map_join: source %zu is NULL", i);
    source *src = calloc(n, sizeof *src);
    h5cl_input_file *ids = calloc(n, sizeof *ids);
    int st = src && ids ? join(ctx, files, n, path, mopts, src, ids)
                        : h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                                    "out of memory for %zu sources", n);
    free(ids);
    free(src);
    return st == H5CL_OK ? h5cl_ok(ctx) : st;
}
