/* Guards before any data read: the datatype whitelist, chunk and size
 * sanity, filters, external files and virtual-dataset sources, links out
 * of the file, and data that would not come from the file (promise 5 in
 * the README's "Reliability").  Each check exists because libhdf5 1.10
 * either crashes, allocates without bound or returns made-up values when
 * it is skipped (see MANIFEST.md of the test corpus). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guard.h"
#include "hdf5io.h"

/* HDF5 chunks are addressed with 32-bit sizes. */
#define MAX_CHUNK_BYTES ((uint64_t)UINT32_MAX)

/* ---- datatypes ---- */

typedef struct ieee_layout {
    size_t size, spos, epos, esize, mpos, msize, ebias;
} ieee_layout;

static const ieee_layout ieee[] = {
    {4, 31, 23, 8, 0, 23, 127},   /* binary32 */
    {8, 63, 52, 11, 0, 52, 1023}, /* binary64 */
};

/* A float is accepted only when every field sits where IEEE 754 puts it:
 * anything else (VAX, x87 80-bit, half, a corrupted layout) would be
 * reinterpreted, not converted, by the kernels. */
static int float_is_ieee(hid_t t, size_t size, char *why, size_t len)
{
    size_t spos, epos, esize, mpos, msize;
    if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) {
        snprintf(why, len, "float of %zu bytes with unreadable fields", size);
        return 0;
    }
    const size_t ebias = H5Tget_ebias(t);
    const H5T_norm_t norm = H5Tget_norm(t);
    for (size_t i = 0; i < sizeof ieee / sizeof ieee[0]; i++) {
        const ieee_layout *l = &ieee[i];
        if (l->size == size && l->spos == spos && l->epos == epos &&
            l->esize == esize && l->mpos == mpos && l->msize == msize &&
            l->ebias == ebias && norm == H5T_NORM_IMPLIED)
            return 1;
    }
    snprintf(why, len,
             "float of %zu bytes that is not IEEE binary%zu (sign bit %zu, "
             "%zu exponent bits at %zu with bias %zu, %zu mantissa bits at "
             "%zu, %s normalisation)",
             size, 8 * size, spos, esize, epos, ebias, msize, mpos,
             norm == H5T_NORM_IMPLIED ? "implied"
             : norm == H5T_NORM_MSBSET ? "msb-set"
                                       : "no");
    return 0;
}

int h5cl_guard_type(hid_t t, h5cl_dtype *dt, int *big, char *why, size_t len)
{
    const H5T_class_t c = H5Tget_class(t);
    const size_t size = H5Tget_size(t);
    if (c != H5T_INTEGER && c != H5T_FLOAT) {
        snprintf(why, len, "%s (%zu bytes)", h5cl_type_class_name(c), size);
        return -1;
    }
    const char *cname = h5cl_type_class_name(c);
    const H5T_order_t order = H5Tget_order(t);
    if (order != H5T_ORDER_LE && order != H5T_ORDER_BE) {
        snprintf(why, len, "%s of %zu bytes in %s byte order", cname, size,
                 order == H5T_ORDER_VAX ? "VAX" : "mixed or unknown");
        return -1;
    }
    const int int_size = size == 1 || size == 2 || size == 4 || size == 8;
    if ((c == H5T_INTEGER && !int_size) ||
        (c == H5T_FLOAT && size != 4 && size != 8)) {
        snprintf(why, len, "%s of %zu bytes", cname, size);
        return -1;
    }
    const size_t prec = H5Tget_precision(t);
    const int off = H5Tget_offset(t);
    if (prec != 8 * size || off != 0) {
        snprintf(why, len, "%s of %zu bytes holding %zu bits at bit offset %d",
                 cname, size, prec, off);
        return -1;
    }
    if (c == H5T_INTEGER) {
        const H5T_sign_t sign = H5Tget_sign(t);
        if (sign != H5T_SGN_2 && sign != H5T_SGN_NONE) {
            snprintf(why, len, "integer of %zu bytes with an unknown sign "
                               "convention", size);
            return -1;
        }
        static const h5cl_dtype s[] = {H5CL_INT8, H5CL_INT16, 0, H5CL_INT32,
                                       0, 0, 0, H5CL_INT64};
        static const h5cl_dtype u[] = {H5CL_UINT8, H5CL_UINT16, 0,
                                       H5CL_UINT32, 0, 0, 0, H5CL_UINT64};
        *dt = sign == H5T_SGN_2 ? s[size - 1] : u[size - 1];
    } else {
        if (!float_is_ieee(t, size, why, len))
            return -1;
        *dt = size == 4 ? H5CL_FLOAT32 : H5CL_FLOAT64;
    }
    *big = order == H5T_ORDER_BE;
    return 0;
}

/* ---- links ---- */

static herr_t refuse_elink(const char *parent_file, const char *parent_group,
                           const char *child_file, const char *child_obj,
                           unsigned *acc_flags, hid_t fapl, void *user)
{
    return -1;
}

hid_t h5cl_guard_lapl(void)
{
    hid_t p = H5Pcreate(H5P_DATASET_ACCESS);
    if (p >= 0 && H5Pset_elink_cb(p, refuse_elink, NULL) < 0) {
        H5Pclose(p);
        return -1;
    }
    return p;
}

int h5cl_guard_link(h5cl_ctx *ctx, hid_t file, const char *fname,
                    const char *path, hid_t lapl)
{
    H5L_info_t li;
    if (H5Lget_info(file, path, &li, lapl) < 0 ||
        li.type != H5L_TYPE_EXTERNAL) {
        H5Eclear2(H5E_DEFAULT);
        return H5CL_OK;
    }
    char val[2048] = "";
    const char *tfile = "?", *tobj = "?";
    unsigned flags;
    if (li.u.val_size <= sizeof val &&
        H5Lget_val(file, path, val, sizeof val, lapl) >= 0)
        H5Lunpack_elink_val(val, li.u.val_size, &flags, &tfile, &tobj);
    H5Eclear2(H5E_DEFAULT);
    return h5cl_fail(ctx, H5CL_ERR_DATASET_NOT_FOUND,
                     "%s in %s is an external link to %s:%s; h5cl does not "
                     "follow links out of the file it opened (open that "
                     "file itself)",
                     path, fname, tfile, tobj);
}

/* ---- warnings and strict mode ---- */

/* Data that would not come from the file: a warning on the dataset, or
 * with a strict context H5CL_ERR_MISSING_DATA. */
static int missing(h5cl_dataset *ds, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int missing(h5cl_dataset *ds, const char *fmt, ...)
{
    char text[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (ds->ctx->strict)
        return h5cl_fail(ds->ctx, H5CL_ERR_MISSING_DATA,
                         "dataset %s in %s: %s (strict mode)", ds->info.path,
                         ds->info.file, text);
    size_t old = ds->warnings ? strlen(ds->warnings) : 0;
    size_t add = strlen(ds->info.path) + strlen(ds->info.file) +
                 strlen(text) + 32;
    char *w = realloc(ds->warnings, old + add);
    if (!w)
        return h5cl_fail(ds->ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    snprintf(w + old, add, "%sdataset %s in %s: %s", old ? "\n" : "",
             ds->info.path, ds->info.file, text);
    ds->warnings = w;
    return H5CL_OK;
}

/* ---- chunks and sizes ---- */

static int check_chunks(h5cl_dataset *ds, hid_t dcpl)
{
    h5cl_ctx *ctx = ds->ctx;
    h5cl_dataset_info *in = &ds->info;
    /* a chunk rank that differs from the dataspace's (e.g. a scalar with
     * chunks) makes HDF5 1.10 allocate without bound */
    hsize_t cd[H5S_MAX_RANK];
    int crank = H5Pget_chunk(dcpl, H5S_MAX_RANK, cd);
    if (crank != in->rank || in->rank == 0)
        return h5cl_fail(ctx, H5CL_ERR_CORRUPT,
                         "dataset %s in %s is corrupt: chunks of rank %d on "
                         "a dataspace of rank %d",
                         in->path, in->file, crank, in->rank);
    uint64_t bytes = h5cl_dtype_size(in->dtype);
    for (int d = 0; d < in->rank; d++) {
        if (cd[d] == 0)
            return h5cl_fail(ctx, H5CL_ERR_CORRUPT,
                             "dataset %s in %s is corrupt: chunk dimension "
                             "%d is 0",
                             in->path, in->file, d);
        if (__builtin_mul_overflow(bytes, (uint64_t)cd[d], &bytes) ||
            bytes > MAX_CHUNK_BYTES)
            return h5cl_fail(ctx, H5CL_ERR_CORRUPT,
                             "dataset %s in %s is corrupt: its chunks are "
                             "larger than the 4 GiB HDF5 allows",
                             in->path, in->file);
        in->chunk_dims[d] = cd[d];
    }
    return H5CL_OK;
}

/* ---- filters ---- */

/* h5cl decodes these itself (lib/decode.c) on its direct-read path. */
static int decoded_by_h5cl(H5Z_filter_t id)
{
    return id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE ||
           id == H5Z_FILTER_FLETCHER32;
}

static int check_filters(h5cl_dataset *ds, hid_t dcpl)
{
    const int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags;
        size_t ncd = 0;
        char name[128] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd,
                                         NULL, sizeof name, name, NULL);
        if (id < 0) {
            char detail[512];
            h5cl_h5_describe(detail, sizeof detail);
            return h5cl_fail(ds->ctx, H5CL_ERR_CORRUPT,
                             "dataset %s in %s: filter %d of its pipeline "
                             "cannot be read: %s",
                             ds->info.path, ds->info.file, i, detail);
        }
        if (decoded_by_h5cl(id) || H5Zfilter_avail(id) > 0)
            continue;
        H5Eclear2(H5E_DEFAULT);
        const char *pp = getenv("HDF5_PLUGIN_PATH");
        return h5cl_fail(ds->ctx, H5CL_ERR_FILTER,
                         "dataset %s in %s needs HDF5 filter %d (%s), which "
                         "this HDF5 library cannot decode: no plugin for it "
                         "in %s",
                         ds->info.path, ds->info.file, (int)id,
                         name[0] ? name : "unnamed",
                         pp ? pp : "HDF5_PLUGIN_PATH (unset: HDF5's "
                                   "default plugin folder)");
    }
    return H5CL_OK;
}

/* ---- external files and virtual-dataset sources ---- */

/* The folder of the HDF5 file as it was named, for "${ORIGIN}". */
static void file_dir(const char *file, char *buf, size_t len)
{
    const char *slash = strrchr(file, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == file)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - file), file);
}

/* prefix/name as HDF5's H5_combine_path does it, "${ORIGIN}" at the start
 * of prefix being the file's folder. */
static void combine(const char *file, const char *prefix, const char *name,
                    char *buf, size_t len)
{
    char dir[1024];
    if (name[0] == '/' || !prefix || !*prefix) {
        snprintf(buf, len, "%s", name);
        return;
    }
    if (strncmp(prefix, "${ORIGIN}", 9) == 0) {
        file_dir(file, dir, sizeof dir);
        snprintf(buf, len, "%s%s/%s", dir, prefix + 9, name);
    } else {
        snprintf(buf, len, "%s/%s", prefix, name);
    }
}

static int check_external(h5cl_dataset *ds, hid_t dcpl)
{
    const h5cl_dataset_info *in = &ds->info;
    const int n = H5Pget_external_count(dcpl);
    /* HDF5 takes $HDF5_EXTFILE_PREFIX over the access list's prefix */
    const char *env = getenv("HDF5_EXTFILE_PREFIX");
    const char *prefix = env && *env ? env : "${ORIGIN}";
    for (int i = 0; i < n; i++) {
        char name[1024] = "", path[2200];
        off_t offset = 0;
        hsize_t size = 0;
        if (H5Pget_external(dcpl, (unsigned)i, sizeof name, name, &offset,
                            &size) < 0) {
            H5Eclear2(H5E_DEFAULT);
            return h5cl_fail(ds->ctx, H5CL_ERR_CORRUPT,
                             "dataset %s in %s: external file %d of its "
                             "storage cannot be read",
                             in->path, in->file, i);
        }
        combine(in->file, prefix, name, path, sizeof path);
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int err = fd < 0 ? errno : 0;
        if (fd >= 0 && fstat(fd, &st) != 0)
            err = errno;
        else if (fd >= 0 && !S_ISREG(st.st_mode))
            err = EISDIR;
        if (fd >= 0)
            close(fd);
        if (err)
            return h5cl_fail(ds->ctx, H5CL_ERR_MISSING_DATA,
                             "dataset %s in %s stores its data in external "
                             "file %s (resolved as %s), which cannot be "
                             "read: %s",
                             in->path, in->file, name, path,
                             err == EISDIR ? "not a regular file"
                                           : strerror(err));
        /* HDF5 reads the part of a short external file that is missing
         * as zeros */
        uint64_t end;
        if (size != H5F_UNLIMITED &&
            (__builtin_add_overflow((uint64_t)offset, (uint64_t)size, &end) ||
             (uint64_t)st.st_size < end)) {
            int rc = missing(ds,
                             "external file %s holds %llu bytes, but the "
                             "dataset maps %llu bytes from offset %lld; "
                             "the rest reads as zeros",
                             path, (unsigned long long)st.st_size,
                             (unsigned long long)size, (long long)offset);
            if (rc != H5CL_OK)
                return rc;
        }
    }
    return H5CL_OK;
}

/* A printf-style source name ("src_%b.h5") names block 0 first; HDF5
 * stops at the first block whose file is missing, so block 0 must be
 * there. */
static void first_block(const char *pattern, char *buf, size_t len)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 2 < len; p++) {
        if (p[0] == '%' && p[1] == 'b') {
            buf[o++] = '0';
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            buf[o++] = '%';
            p++;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
}

static int readable(const char *path)
{
    struct stat st;
    return access(path, R_OK) == 0 && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

/* Where HDF5 1.10 looks for a source file (H5F_prefix_open_file): the
 * name if absolute, $HDF5_VDS_PREFIX, the virtual dataset's folder, then
 * the working directory.  The first that exists, or "" in found. */
static void find_source(const char *file, const char *name, char *found,
                        size_t len)
{
    char path[2200];
    const char *env = getenv("HDF5_VDS_PREFIX");
    found[0] = '\0';
    if (name[0] == '/') {
        if (readable(name))
            snprintf(found, len, "%s", name);
        return;
    }
    const char *prefixes[] = {env && *env ? env : NULL, "${ORIGIN}", "."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (!prefixes[i])
            continue;
        combine(file, prefixes[i], name, path, sizeof path);
        if (readable(path)) {
            snprintf(found, len, "%s", path);
            return;
        }
    }
}

static char *virtual_name(hid_t dcpl, size_t i, int dset)
{
    ssize_t n = dset ? H5Pget_virtual_dsetname(dcpl, i, NULL, 0)
                     : H5Pget_virtual_filename(dcpl, i, NULL, 0);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    n = dset ? H5Pget_virtual_dsetname(dcpl, i, s, (size_t)n + 1)
             : H5Pget_virtual_filename(dcpl, i, s, (size_t)n + 1);
    if (n < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static int check_source(h5cl_dataset *ds, const char *fname, const char *dname)
{
    const h5cl_dataset_info *in = &ds->info;
    if (strcmp(fname, ".") == 0) {
        H5O_info_t oi;
        if (H5Oget_info_by_name2(ds->file, dname, &oi, H5O_INFO_BASIC,
                                 ds->lapl) >= 0 &&
            oi.type == H5O_TYPE_DATASET)
            return H5CL_OK;
        H5Eclear2(H5E_DEFAULT);
        return h5cl_fail(ds->ctx, H5CL_ERR_MISSING_DATA,
                         "virtual dataset %s in %s maps source dataset %s "
                         "of the same file, which does not exist",
                         in->path, in->file, dname);
    }
    char first[1024], found[2200];
    first_block(fname, first, sizeof first);
    find_source(in->file, first, found, sizeof found);
    if (found[0])
        return H5CL_OK;
    return h5cl_fail(ds->ctx, H5CL_ERR_MISSING_DATA,
                     "virtual dataset %s in %s maps source %s:%s, but no "
                     "readable file %s exists (looked next to %s%s and in "
                     "the working directory)",
                     in->path, in->file, fname, dname, first, in->file,
                     getenv("HDF5_VDS_PREFIX") ? ", in $HDF5_VDS_PREFIX" : "");
}

static int check_virtual(h5cl_dataset *ds, hid_t dcpl)
{
    size_t n = 0;
    if (H5Pget_virtual_count(dcpl, &n) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return h5cl_fail(ds->ctx, H5CL_ERR_CORRUPT,
                         "virtual dataset %s in %s: its mappings cannot be "
                         "read",
                         ds->info.path, ds->info.file);
    }
    int st = H5CL_OK;
    for (size_t i = 0; i < n && st == H5CL_OK; i++) {
        char *f = virtual_name(dcpl, i, 0), *d = virtual_name(dcpl, i, 1);
        if (!f || !d)
            st = h5cl_fail(ds->ctx, H5CL_ERR_CORRUPT,
                           "virtual dataset %s in %s: mapping %zu cannot be "
                           "read",
                           ds->info.path, ds->info.file, i);
        else
            st = check_source(ds, f, d);
        free(f);
        free(d);
    }
    H5Eclear2(H5E_DEFAULT);
    return st;
}

/* ---- data that is not in the file (promise 5) ---- */

/* Chunks the extent needs: the product of ceil(dim / chunk).  No overflow:
 * each factor is at most its dimension, and the element count fits. */
static uint64_t chunks_needed(const h5cl_dataset_info *in)
{
    uint64_t n = 1;
    for (int d = 0; d < in->rank; d++)
        n *= (in->dims[d] + in->chunk_dims[d] - 1) / in->chunk_dims[d];
    return n;
}

/* Chunks found by looking each one up by its coordinates.  HDF5 1.10's
 * H5Dget_num_chunks counts the entries of the chunk index, which a damaged
 * index can still hold with undefined addresses (cve-2025-44905.h5 of the
 * corpus: every count right, lookups failing, H5Dread returning the fill
 * value); a lookup costs ~50 us, so small datasets get this check. */
#define LOOKUP_MAX_CHUNKS 1024

static uint64_t chunks_found(const h5cl_dataset *ds)
{
    const h5cl_dataset_info *in = &ds->info;
    hsize_t at[H5CL_MAX_RANK] = {0};
    uint64_t found = 0;
    for (;;) {
        unsigned mask;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(ds->dset, at, &mask, &addr, &size) >=
                0 &&
            addr != HADDR_UNDEF)
            found++;
        int d = in->rank - 1;
        for (; d >= 0; d--) {
            at[d] += in->chunk_dims[d];
            if (at[d] < in->dims[d])
                break;
            at[d] = 0;
        }
        if (d < 0)
            break;
    }
    H5Eclear2(H5E_DEFAULT);
    return found;
}

static int check_allocation(h5cl_dataset *ds, hid_t dcpl)
{
    const h5cl_dataset_info *in = &ds->info;
    H5D_space_status_t ss;
    H5D_fill_value_t fv;
    H5D_fill_time_t ft;
    if (H5Dget_space_status(ds->dset, &ss) < 0 ||
        H5Pfill_value_defined(dcpl, &fv) < 0 ||
        H5Pget_fill_time(dcpl, &ft) < 0) {
        char detail[512];
        h5cl_h5_describe(detail, sizeof detail);
        return h5cl_fail(ds->ctx, H5CL_ERR_HDF5,
                         "dataset %s in %s: its allocation or fill value "
                         "cannot be read: %s",
                         in->path, in->file, detail);
    }
    /* as HDF5 reads it: without a fill value, elements without storage
     * are left as whatever the buffer held; h5cl reads them as zeros */
    const int no_fill = fv == H5D_FILL_VALUE_UNDEFINED ||
                        ft == H5D_FILL_TIME_NEVER;
    if (ss == H5D_SPACE_STATUS_NOT_ALLOCATED) {
        ds->unwritten = no_fill;
        if (no_fill)
            return missing(ds, "no data is written and it has no fill "
                               "value; it reads as zeros");
        if (ds->ctx->strict)
            return missing(ds, "no data is written; every element is the "
                               "fill value");
        return H5CL_OK;
    }
    if (in->layout != H5CL_LAYOUT_CHUNKED)
        return H5CL_OK;
    hsize_t have = 0;
    hid_t space = H5Dget_space(ds->dset);
    herr_t rc = space < 0 ? -1 : H5Dget_num_chunks(ds->dset, space, &have);
    if (space >= 0)
        H5Sclose(space);
    if (rc < 0) {
        char detail[512];
        h5cl_h5_describe(detail, sizeof detail);
        return h5cl_fail(ds->ctx, H5CL_ERR_CORRUPT,
                         "dataset %s in %s: its chunk index cannot be "
                         "read: %s",
                         in->path, in->file, detail);
    }
    const uint64_t need = chunks_needed(in);
    if (need <= LOOKUP_MAX_CHUNKS) {
        const uint64_t found = chunks_found(ds);
        if (found < have)
            have = found;
    }
    if (have >= need)
        return H5CL_OK;
    ds->zero_gaps = no_fill;
    return missing(ds,
                   "%llu of the %llu chunks its extent needs are in the "
                   "file; the others read as %s",
                   (unsigned long long)have, (unsigned long long)need,
                   no_fill ? "zeros (it has no fill value)"
                           : "its fill value");
}

int h5cl_guard_dataset(h5cl_dataset *ds, hid_t dcpl)
{
    h5cl_dataset_info *in = &ds->info;
    /* HDF5 offsets are signed 64-bit: a larger dataset cannot be read */
    if (in->nbytes > (uint64_t)INT64_MAX)
        return h5cl_fail(ds->ctx, H5CL_ERR_TOO_LARGE,
                         "dataset %s in %s holds %llu elements of %zu "
                         "bytes: more than 2^63 bytes",
                         in->path, in->file,
                         (unsigned long long)in->element_count,
                         h5cl_dtype_size(in->dtype));
    const H5D_layout_t lay = H5Pget_layout(dcpl);
    int st = lay == H5D_CHUNKED ? check_chunks(ds, dcpl) : H5CL_OK;
    if (st == H5CL_OK)
        st = check_filters(ds, dcpl);
    if (st == H5CL_OK)
        st = check_external(ds, dcpl);
    if (st == H5CL_OK && lay == H5D_VIRTUAL)
        st = check_virtual(ds, dcpl);
    /* external and virtual storage have no allocation of their own */
    if (st == H5CL_OK && in->element_count > 0 && lay != H5D_VIRTUAL &&
        H5Pget_external_count(dcpl) == 0)
        st = check_allocation(ds, dcpl);
    return st;
}
