/* Opening HDF5 datasets read-only, describing them, and planning tiles. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset.h"
#include "guard.h"
#include "hdf5io.h"
#include "isolate.h"
#include "mapping.h"

static const char *const dtype_names[H5CL_DTYPE_COUNT] = {
    "int8",  "uint8", "int16",  "uint16",  "int32",
    "uint32", "int64", "uint64", "float32", "float64"};

const char *h5cl_dtype_name(h5cl_dtype dt)
{
    return (unsigned)dt < H5CL_DTYPE_COUNT ? dtype_names[dt] : "unknown";
}

const char *h5cl_layout_name(h5cl_layout l)
{
    switch (l) {
    case H5CL_LAYOUT_COMPACT:
        return "compact";
    case H5CL_LAYOUT_CONTIGUOUS:
        return "contiguous";
    case H5CL_LAYOUT_CHUNKED:
        return "chunked";
    default:
        return "other";
    }
}

size_t h5cl_dtype_size(h5cl_dtype dt)
{
    static const size_t sizes[H5CL_DTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    return (unsigned)dt < H5CL_DTYPE_COUNT ? sizes[dt] : 0;
}

const char *h5cl_type_class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
    }
}

/* Maps an HDF5 file type to an h5cl dtype and its native memory type.
 * Returns what was found in why when the type is not on the whitelist
 * (guard.c). */
static int classify(hid_t ftype, h5cl_dtype *dt, hid_t *mem, int *big,
                    char *why, size_t whylen)
{
    if (h5cl_guard_type(ftype, dt, big, why, whylen) != 0)
        return -1;
    static const hid_t *const natives[H5CL_DTYPE_COUNT] = {
        &H5T_NATIVE_INT8_g,  &H5T_NATIVE_UINT8_g, &H5T_NATIVE_INT16_g,
        &H5T_NATIVE_UINT16_g, &H5T_NATIVE_INT32_g, &H5T_NATIVE_UINT32_g,
        &H5T_NATIVE_INT64_g, &H5T_NATIVE_UINT64_g, &H5T_NATIVE_FLOAT_g,
        &H5T_NATIVE_DOUBLE_g};
    *mem = *natives[*dt];
    return 0;
}

/* ---- dataset names, for "did you mean" ---- */

typedef struct name_list {
    char **names;
    int *supported;
    size_t n, cap;
} name_list;

static herr_t collect(hid_t obj, const char *name, const H5O_info_t *info,
                      void *data)
{
    name_list *l = data;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **nn = realloc(l->names, cap * sizeof *nn);
        if (!nn)
            return -1;
        l->names = nn;
        int *ns = realloc(l->supported, cap * sizeof *ns);
        if (!ns)
            return -1;
        l->supported = ns;
        l->cap = cap;
    }
    size_t len = strlen(name);
    char *p = malloc(len + 2);
    if (!p)
        return -1;
    p[0] = '/';
    memcpy(p + 1, name, len + 1);
    int ok = 0;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d >= 0) {
        hid_t t = H5Dget_type(d);
        h5cl_dtype dt;
        hid_t mem;
        int big;
        char why[256];
        ok = t >= 0 && classify(t, &dt, &mem, &big, why, sizeof why) == 0;
        if (t >= 0)
            H5Tclose(t);
        H5Dclose(d);
    }
    l->names[l->n] = p;
    l->supported[l->n] = ok;
    l->n++;
    return 0;
}

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->supported);
}

static int list_names(hid_t file, name_list *l)
{
    memset(l, 0, sizeof *l);
    return H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, collect, l,
                     H5O_INFO_BASIC) < 0
               ? -1
               : 0;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof *row);
    if (!row)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

static int fail_missing(h5cl_ctx *ctx, hid_t file, const char *fname,
                        const char *path)
{
    h5cl_fail(ctx, H5CL_ERR_DATASET_NOT_FOUND, "no dataset \"%s\" in %s",
              path, fname);
    name_list l;
    if (list_names(file, &l) != 0 || l.n == 0) {
        if (l.n == 0)
            h5cl_msg_append(ctx, " (the file holds no datasets)");
        names_free(&l);
        return ctx->status;
    }
    char want[1100];
    snprintf(want, sizeof want, "%s%s", path[0] == '/' ? "" : "/", path);
    /* up to three closest names, nearest first */
    size_t shown = 0;
    h5cl_msg_append(ctx, "; closest:");
    for (size_t k = 0; k < 3 && k < l.n; k++) {
        size_t best = (size_t)-1, bi = 0;
        for (size_t i = 0; i < l.n; i++) {
            if (!l.names[i])
                continue;
            size_t d = edit_distance(want, l.names[i]);
            if (d < best) {
                best = d;
                bi = i;
            }
        }
        if (best == (size_t)-1)
            break;
        h5cl_msg_append(ctx, "%s %s", shown ? "," : "", l.names[bi]);
        free(l.names[bi]);
        l.names[bi] = NULL;
        shown++;
    }
    names_free(&l);
    return ctx->status;
}

/* Does every component of path exist as a link?  (H5Lexists fails on a
 * missing intermediate group rather than saying no.) */
static int path_exists(hid_t file, const char *path, hid_t lapl)
{
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (strcmp(buf, "/") != 0 && H5Lexists(file, buf, lapl) <= 0)
            return 0;
        buf[i] = c;
    }
    return 1;
}

static void describe_filters(hid_t dcpl, char *buf, size_t len)
{
    buf[0] = '\0';
    int nf = H5Pget_nfilters(dcpl);
    size_t used = 0;
    for (int i = 0; i < nf && used < len; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd,
                                         sizeof name, name, NULL);
        const char *nm = id == H5Z_FILTER_DEFLATE      ? "deflate"
                         : id == H5Z_FILTER_SHUFFLE    ? "shuffle"
                         : id == H5Z_FILTER_FLETCHER32 ? "fletcher32"
                         : id == H5Z_FILTER_SZIP       ? "szip"
                         : id == H5Z_FILTER_NBIT       ? "nbit"
                         : id == H5Z_FILTER_SCALEOFFSET ? "scaleoffset"
                                                        : NULL;
        int n;
        if (id == H5Z_FILTER_DEFLATE && ncd > 0)
            n = snprintf(buf + used, len - used, "%sdeflate(%u)", i ? "," : "",
                         cd[0]);
        else if (nm)
            n = snprintf(buf + used, len - used, "%s%s", i ? "," : "", nm);
        else
            n = snprintf(buf + used, len - used, "%sfilter%d(%s)",
                         i ? "," : "", (int)id, name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Fills ds->info from the open dataset; called with the HDF5 lock held. */
static int describe(h5cl_dataset *ds, const char *file, const char *path)
{
    h5cl_ctx *ctx = ds->ctx;
    h5cl_dataset_info *in = &ds->info;
    char why[256];
    snprintf(in->file, sizeof in->file, "%s", file);
    snprintf(in->path, sizeof in->path, "%s", path);

    hid_t t = H5Dget_type(ds->dset);
    if (t < 0)
        return h5cl_fail(ctx, H5CL_ERR_HDF5, "H5Dget_type failed on %s in %s",
                         path, file);
    int bad = classify(t, &in->dtype, &ds->memtype, &in->big_endian, why,
                       sizeof why);
    H5Tclose(t);
    if (bad)
        return h5cl_fail(ctx, H5CL_ERR_UNSUPPORTED_TYPE,
                         "dataset %s in %s has type %s; h5cl reads "
                         "integer (8-64 bit) and IEEE float (32, 64 bit) "
                         "data only",
                         path, file, why);

    hid_t sp = H5Dget_space(ds->dset);
    if (sp < 0)
        return h5cl_fail(ctx, H5CL_ERR_HDF5, "H5Dget_space failed on %s in %s",
                         path, file);
    H5S_class_t sc = H5Sget_simple_extent_type(sp);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK], maxdims[H5S_MAX_RANK];
    if (rank > 0)
        H5Sget_simple_extent_dims(sp, dims, maxdims);
    H5Sclose(sp);
    if (rank < 0 || rank > H5CL_MAX_RANK)
        return h5cl_fail(ctx, H5CL_ERR_HDF5,
                         "dataset %s in %s has an unreadable dataspace", path,
                         file);
    /* HDF5 1.10 opens such a dataspace and then reads it inconsistently
     * (fuzz_open: H5Dread and H5Dread_chunk disagree, the latter leaving
     * its buffer unwritten); HDF5 1.14 refuses to open it */
    for (int d = 0; d < rank; d++)
        if (maxdims[d] != H5S_UNLIMITED && dims[d] > maxdims[d])
            return h5cl_fail(ctx, H5CL_ERR_CORRUPT,
                             "dataset %s in %s is corrupt: dimension %d "
                             "holds %llu elements, more than its maximum "
                             "%llu",
                             path, file, d, (unsigned long long)dims[d],
                             (unsigned long long)maxdims[d]);
    in->rank = rank;
    in->element_count = sc == H5S_NULL ? 0 : 1;
    int too_large = 0;
    for (int d = 0; d < rank; d++) {
        in->dims[d] = dims[d];
        too_large |= __builtin_mul_overflow(in->element_count, dims[d],
                                            &in->element_count);
    }
    ds->scalar = sc == H5S_SCALAR;
    too_large |= __builtin_mul_overflow(in->element_count,
                                        (uint64_t)h5cl_dtype_size(in->dtype),
                                        &in->nbytes);
    if (too_large)
        return h5cl_fail(ctx, H5CL_ERR_TOO_LARGE,
                         "dataset %s in %s: its element count or byte size "
                         "does not fit 64 bits",
                         path, file);

    hid_t dcpl = H5Dget_create_plist(ds->dset);
    if (dcpl < 0)
        return h5cl_fail(ctx, H5CL_ERR_HDF5,
                         "H5Dget_create_plist failed on %s in %s", path, file);
    H5D_layout_t lay = H5Pget_layout(dcpl);
    in->layout = lay == H5D_COMPACT      ? H5CL_LAYOUT_COMPACT
                 : lay == H5D_CONTIGUOUS ? H5CL_LAYOUT_CONTIGUOUS
                 : lay == H5D_CHUNKED    ? H5CL_LAYOUT_CHUNKED
                                         : H5CL_LAYOUT_OTHER;
    int st = h5cl_guard_dataset(ds, dcpl);
    if (st != H5CL_OK) {
        H5Pclose(dcpl);
        return st;
    }
    describe_filters(dcpl, in->filters, sizeof in->filters);
    H5Pclose(dcpl);
    in->storage_bytes = H5Dget_storage_size(ds->dset);
    return H5CL_OK;
}

void h5cl_dataset_close(h5cl_dataset *ds)
{
    if (!ds)
        return;
    if (ds->remote)
        h5cl_iso_dataset_close(ds);
    h5cl_h5_lock();
    if (ds->lapl >= 0)
        H5Pclose(ds->lapl);
    if (ds->dset >= 0)
        H5Dclose(ds->dset);
    if (ds->file >= 0)
        h5cl_h5_fclose(ds->file);
    h5cl_h5_unlock();
    if (ds->ctx)
        ds->ctx->open_datasets--;
    h5cl_view_destroy(ds->view);
    free(ds->warnings);
    free(ds);
}

/* Opens file read-only, reporting a missing file or a non-HDF5 file in a
 * way a user can act on.  Called with the HDF5 lock held. */
static int open_file(h5cl_ctx *ctx, const char *file, hid_t *fid_ret)
{
    struct stat stt;
    if (stat(file, &stt) != 0)
        return h5cl_fail(ctx, H5CL_ERR_FILE_NOT_FOUND, "cannot open %s: %s",
                         file, strerror(errno));
    if (S_ISDIR(stt.st_mode))
        return h5cl_fail(ctx, H5CL_ERR_NOT_HDF5,
                         "%s is a directory, not an HDF5 file", file);
    /* a FIFO or a device would block or stream: HDF5 needs to seek */
    if (!S_ISREG(stt.st_mode))
        return h5cl_fail(ctx, H5CL_ERR_NOT_HDF5,
                         "%s is not a regular file (a FIFO, socket or "
                         "device), so not an HDF5 file h5cl can read",
                         file);
    htri_t is = H5Fis_hdf5(file);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return h5cl_fail(ctx, H5CL_ERR_NOT_HDF5,
                         "%s is not an HDF5 file (no HDF5 signature found)",
                         file);
    }
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        char detail[512];
        h5cl_h5_describe(detail, sizeof detail);
        return h5cl_fail(ctx, H5CL_ERR_HDF5, "H5Fopen failed on %s: %s", file,
                         detail);
    }
    *fid_ret = f;
    return H5CL_OK;
}

/* Whether the dataset keeps its data in external files. */
static int has_external(hid_t dset)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    const int n = dcpl < 0 ? 0 : H5Pget_external_count(dcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return n > 0;
}

int h5cl_dataset_open(h5cl_ctx *ctx, const char *file, const char *path,
                      h5cl_dataset **ds_ret)
{
    if (ds_ret)
        *ds_ret = NULL;
    if (!ctx || !file || !path || !ds_ret)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_dataset_open: NULL argument");
    h5cl_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    ds->ctx = ctx;
    ds->file = ds->dset = ds->lapl = -1;
    ctx->open_datasets++;

    if (h5cl_iso_enabled(ctx)) {
        /* every HDF5 call of the open, guards included, in the child */
        int st = h5cl_iso_dataset_open(ctx, ds, file, path);
        if (st != H5CL_OK) {
            h5cl_dataset_close(ds);
            return st;
        }
        /* tiles the child locates in the file are mapped here */
        ds->view = h5cl_view_create(ds->info.nbytes);
        *ds_ret = ds;
        return h5cl_ok(ctx);
    }

    h5cl_h5_lock();
    ds->lapl = h5cl_guard_lapl();
    int st = ds->lapl < 0 ? h5cl_fail(ctx, H5CL_ERR_HDF5,
                                      "H5Pcreate (dataset access) failed")
                          : open_file(ctx, file, &ds->file);
    if (st == H5CL_OK)
        st = h5cl_guard_link(ctx, ds->file, file, path, ds->lapl);
    if (st == H5CL_OK && !path_exists(ds->file, path, ds->lapl))
        st = fail_missing(ctx, ds->file, file, path);
    if (st == H5CL_OK) {
        H5O_info_t oi;
        if (H5Oget_info_by_name2(ds->file, path, &oi, H5O_INFO_BASIC,
                                 ds->lapl) < 0 ||
            oi.type != H5O_TYPE_DATASET) {
            H5Eclear2(H5E_DEFAULT);
            st = h5cl_fail(ctx, H5CL_ERR_DATASET_NOT_FOUND,
                           "%s in %s is a group or other object, not a "
                           "dataset",
                           path, file);
        }
    }
    if (st == H5CL_OK) {
        /* read-once streaming: HDF5's chunk cache would only copy twice */
        H5Pset_chunk_cache(ds->lapl, 0, 0, 1.0);
        ds->dset = H5Dopen2(ds->file, path, ds->lapl);
        if (ds->dset < 0 || has_external(ds->dset)) {
            /* relative external-file names resolve against the file's own
             * folder (HDF5 1.10 would use the working directory).  Only
             * for external data: HDF5 refuses a second open of a dataset
             * under another prefix (the caller's own h5py handle, a
             * benchmark's), so the plain open comes first, and a plain
             * open refused that way is one another h5cl handle made */
            if (ds->dset >= 0)
                H5Dclose(ds->dset);
            H5Eclear2(H5E_DEFAULT);
            ds->dset = H5Pset_efile_prefix(ds->lapl, "${ORIGIN}") < 0
                           ? -1
                           : H5Dopen2(ds->file, path, ds->lapl);
        }
        if (ds->dset < 0) {
            char detail[512];
            const int type = h5cl_h5_type_error();
            h5cl_h5_describe(detail, sizeof detail);
            st = type ? h5cl_fail(ctx, H5CL_ERR_UNSUPPORTED_TYPE,
                                  "the type of dataset %s in %s cannot be "
                                  "decoded by this HDF5 library (written by "
                                  "a newer HDF5, or damaged): %s",
                                  path, file, detail)
                      : h5cl_fail(ctx, H5CL_ERR_HDF5,
                                  "H5Dopen2 failed on %s in %s: %s", path,
                                  file, detail);
        }
    }
    if (st == H5CL_OK)
        st = describe(ds, file, path);
    h5cl_h5_unlock();
    if (st == H5CL_OK)
        ds->view = h5cl_view_create(ds->info.nbytes);
    if (st != H5CL_OK) {
        h5cl_dataset_close(ds);
        return st;
    }
    *ds_ret = ds;
    return h5cl_ok(ctx);
}

const char *h5cl_dataset_warnings(const h5cl_dataset *ds)
{
    return ds && ds->warnings ? ds->warnings : "";
}

int h5cl_dataset_get_info(const h5cl_dataset *ds, h5cl_dataset_info *info)
{
    if (!ds || !info)
        return H5CL_ERR_INVALID_ARGUMENT;
    *info = ds->info;
    return H5CL_OK;
}

int h5cl_file_list_datasets(h5cl_ctx *ctx, const char *file,
                            h5cl_dataset_visit_fn fn, void *user)
{
    if (!ctx || !file || !fn)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_file_list_datasets: NULL argument");
    if (h5cl_iso_enabled(ctx))
        return h5cl_iso_list_datasets(ctx, file, fn, user);
    hid_t f;
    name_list l;
    h5cl_h5_lock();
    int st = open_file(ctx, file, &f);
    if (st == H5CL_OK) {
        if (list_names(f, &l) != 0) {
            char detail[512];
            h5cl_h5_describe(detail, sizeof detail);
            st = h5cl_fail(ctx, H5CL_ERR_HDF5, "listing %s failed: %s", file,
                           detail);
            names_free(&l);
        }
        h5cl_h5_fclose(f);
    }
    h5cl_h5_unlock();
    if (st != H5CL_OK)
        return st;
    /* the callback runs without the lock so it may open datasets */
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++)
        rc = fn(l.names[i], l.supported[i], user);
    names_free(&l);
    h5cl_ok(ctx);
    return rc;
}

/* ---- selections ---- */

uint64_t h5cl_box_elems(const h5cl_box *b)
{
    uint64_t n = 1;
    for (int d = 0; d < b->rank; d++)
        n *= b->count[d];
    return n;
}

void h5cl_box_text(const h5cl_box *b, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < b->rank && used < len; d++) {
        int n = snprintf(buf + used, len - used, "%s%llu:%llu", d ? "," : "",
                         (unsigned long long)b->start[d],
                         (unsigned long long)(b->start[d] + b->count[d]));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Parses an optional signed integer; returns 1 if one was there. */
static int parse_int(const char **p, long long *v, int *bad)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (*s != '-' && *s != '+' && (*s < '0' || *s > '9')) {
        *p = s;
        return 0;
    }
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    if (end == s || errno)
        *bad = 1;
    *p = end;
    while (**p == ' ')
        (*p)++;
    return 1;
}

/* numpy slice bounds: negatives count from the end, then clamp. */
static uint64_t resolve(long long v, uint64_t n)
{
    if (v < 0)
        v += (long long)n;
    if (v < 0)
        return 0;
    return (uint64_t)v > n ? n : (uint64_t)v;
}

int h5cl_selection_parse(h5cl_ctx *ctx, const h5cl_dataset *ds,
                         const char *text, h5cl_box *sel)
{
    const h5cl_dataset_info *in = &ds->info;
    memset(sel, 0, sizeof *sel);
    if (in->rank == 0) {
        sel->rank = 1;
        sel->count[0] = in->element_count; /* 1, or 0 for a null space */
    } else {
        sel->rank = in->rank;
        for (int d = 0; d < in->rank; d++)
            sel->count[d] = in->dims[d];
    }
    if (!text || !*text)
        return H5CL_OK;
    if (in->rank == 0)
        return h5cl_fail(ctx, H5CL_ERR_SELECTION,
                         "selection \"%s\": %s in %s is a scalar and has no "
                         "dimensions to select",
                         text, in->path, in->file);
    const char *p = text;
    int d = 0;
    while (1) {
        if (d >= sel->rank)
            return h5cl_fail(ctx, H5CL_ERR_SELECTION,
                             "selection \"%s\" has more than %d dimension(s) "
                             "for %s (shape rank %d)",
                             text, sel->rank, in->path, in->rank);
        long long a = 0, b = 0;
        int bad = 0;
        uint64_t n = sel->count[d];
        int has_a = parse_int(&p, &a, &bad);
        if (*p == ':') {
            p++;
            int has_b = parse_int(&p, &b, &bad);
            if (*p == ':')
                return h5cl_fail(ctx, H5CL_ERR_SELECTION,
                                 "selection \"%s\": steps are not supported "
                                 "(column %d)",
                                 text, (int)(p - text) + 1);
            uint64_t s = has_a ? resolve(a, n) : 0;
            uint64_t e = has_b ? resolve(b, n) : n;
            sel->start[d] = s;
            sel->count[d] = e > s ? e - s : 0;
        } else if (has_a) {
            long long i = a < 0 ? a + (long long)n : a;
            if (i < 0 || (uint64_t)i >= n)
                return h5cl_fail(ctx, H5CL_ERR_SELECTION,
                                 "selection \"%s\": index %lld is out of "
                                 "range for dimension %d of size %llu",
                                 text, a, d, (unsigned long long)n);
            sel->start[d] = (uint64_t)i;
            sel->count[d] = 1;
        } else {
            bad = 1;
        }
        if (bad || (*p != ',' && *p != '\0'))
            return h5cl_fail(ctx, H5CL_ERR_SELECTION,
                             "selection \"%s\": expected start:stop at column "
                             "%d",
                             text, (int)(p - text) + 1);
        d++;
        if (*p == '\0')
            break;
        p++;
    }
    return H5CL_OK;
}

int h5cl_dataset_selection(const h5cl_dataset *ds, const char *select,
                           int *rank_ret, uint64_t *dims_ret)
{
    if (!ds || !rank_ret || !dims_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    h5cl_box sel;
    int st = h5cl_selection_parse(ds->ctx, ds, select, &sel);
    if (st != H5CL_OK)
        return st;
    /* a scalar streams as one element of shape [1], but has rank 0 */
    *rank_ret = ds->info.rank;
    for (int d = 0; d < ds->info.rank; d++)
        dims_ret[d] = sel.count[d];
    return h5cl_ok(ds->ctx);
}

/* ---- tiling ---- */

int h5cl_plan_make(h5cl_ctx *ctx, const h5cl_dataset *ds, const h5cl_box *sel,
                   uint64_t tile_bytes, int split_chunks, h5cl_plan *plan)
{
    const h5cl_dataset_info *in = &ds->info;
    memset(plan, 0, sizeof *plan);
    plan->sel = *sel;
    plan->elem_size = h5cl_dtype_size(in->dtype);
    const int r = sel->rank;
    uint64_t unit[H5CL_MAX_RANK]; /* chunk, or a virtual chunk of ~tile bytes */
    uint64_t per_tile;            /* units per tile                          */
    int chunked = in->layout == H5CL_LAYOUT_CHUNKED && in->rank > 0;
    if (chunked) {
        uint64_t cb = plan->elem_size;
        for (int d = 0; d < r; d++)
            cb *= in->chunk_dims[d] ? in->chunk_dims[d] : 1;
        if (cb > tile_bytes && (split_chunks || in->filters[0] == '\0'))
            chunked = 0; /* tile by bytes inside the chunks */
    }

    if (chunked) {
        uint64_t cb = plan->elem_size;
        for (int d = 0; d < r; d++) {
            unit[d] = in->chunk_dims[d] ? in->chunk_dims[d] : 1;
            cb *= unit[d];
        }
        per_tile = tile_bytes / cb ? tile_bytes / cb : 1;
    } else {
        uint64_t left = tile_bytes / plan->elem_size;
        if (left == 0)
            left = 1;
        for (int d = r - 1; d >= 0; d--) {
            uint64_t ext = sel->count[d] ? sel->count[d] : 1;
            unit[d] = ext <= left ? ext : left;
            left = ext <= left ? left / ext : 1;
        }
        per_tile = 1;
    }
    /* whole chunks per tile, filling the fastest dimensions first and only
     * spilling into a slower one once the faster span is complete */
    for (int d = r - 1; d >= 0; d--) {
        /* chunked: anchor the grid on the chunk grid; else on the selection */
        uint64_t base = chunked ? sel->start[d] / unit[d] * unit[d]
                                : sel->start[d];
        uint64_t reach = sel->start[d] + sel->count[d] - base;
        uint64_t span = sel->count[d] ? (reach + unit[d] - 1) / unit[d] : 1;
        uint64_t take = span < per_tile ? span : per_tile;
        plan->tile_dims[d] = take * unit[d];
        plan->origin[d] = base;
        per_tile = take == span ? per_tile / take : 1;
        if (per_tile == 0)
            per_tile = 1;
    }
    plan->ntiles = 1;
    plan->max_tile_elems = 1;
    for (int d = 0; d < r; d++) {
        uint64_t end = sel->start[d] + sel->count[d];
        plan->grid[d] = sel->count[d]
                            ? (end - plan->origin[d] + plan->tile_dims[d] - 1) /
                                  plan->tile_dims[d]
                            : 0;
        plan->ntiles *= plan->grid[d];
        uint64_t ext = plan->tile_dims[d] < sel->count[d] ? plan->tile_dims[d]
                                                           : sel->count[d];
        plan->max_tile_elems *= ext;
    }
    if (plan->ntiles == 0)
        plan->max_tile_elems = 0;
    if (plan->max_tile_elems * plan->elem_size > ((uint64_t)1 << 40))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "%s in %s: one chunk is larger than 1 TiB",
                         in->path, in->file);
    return H5CL_OK;
}

void h5cl_plan_tile(const h5cl_plan *plan, uint64_t t, h5cl_box *box)
{
    const h5cl_box *sel = &plan->sel;
    box->rank = sel->rank;
    for (int d = sel->rank - 1; d >= 0; d--) {
        uint64_t g = t % plan->grid[d];
        t /= plan->grid[d];
        uint64_t lo = plan->origin[d] + g * plan->tile_dims[d];
        uint64_t hi = lo + plan->tile_dims[d];
        uint64_t end = sel->start[d] + sel->count[d];
        if (lo < sel->start[d])
            lo = sel->start[d];
        if (hi > end)
            hi = end;
        box->start[d] = lo;
        box->count[d] = hi - lo;
    }
}
