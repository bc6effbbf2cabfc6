/* Fill values and CF attributes: reading them by name, in their own type,
 * and converting them into the raw type of the comparisons, exactly or
 * with a clear refusal (never a guess, never a crash). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cf.h"
#include "hdf5io.h"
#include "isolate.h"

/* Longest fixed-length string read for _Unsigned. */
#define MAX_STRING 4096

/* One attribute's numbers, in their own kind: .i (SIGNED), .u (UNSIGNED)
 * or .f (FLOAT); size is the bytes of its element type. */
typedef struct attr_vals {
    const char *name;
    int found;
    h5cl_kind kind;
    size_t size;
    size_t n;
    h5cl_scalar v[H5CL_CF_MAX_FILL];
} attr_vals;

typedef struct cf_reader {
    h5cl_ctx *ctx;
    const h5cl_dataset *ds;
    h5cl_cf_info *info;
} cf_reader;

/* ---- messages ---- */

static int fail_attr(const cf_reader *r, const char *attr, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
static int fail_attr(const cf_reader *r, const char *attr, const char *fmt,
                     ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return h5cl_fail(r->ctx, H5CL_ERR_UNSUPPORTED_TYPE,
                     "attribute %s of %s in %s %s", attr, r->ds->info.path,
                     r->ds->info.file, detail);
}

/* Called with the HDF5 lock held. */
static int fail_h5(const cf_reader *r, const char *call, const char *attr)
{
    char detail[512];
    h5cl_h5_describe(detail, sizeof detail);
    return h5cl_fail(r->ctx, H5CL_ERR_HDF5, "%s failed on %s of %s in %s: %s",
                     call, attr, r->ds->info.path, r->ds->info.file, detail);
}

static const char *value_text(const attr_vals *a, size_t k, char *buf,
                              size_t len)
{
    if (a->kind == H5CL_KIND_SIGNED)
        snprintf(buf, len, "%lld", (long long)a->v[k].i);
    else if (a->kind == H5CL_KIND_UNSIGNED)
        snprintf(buf, len, "%llu", (unsigned long long)a->v[k].u);
    else
        snprintf(buf, len, "%.17g", a->v[k].f);
    return buf;
}

/* ---- types ---- */

static int is_float(h5cl_dtype t)
{
    return t >= H5CL_FLOAT32;
}

static int is_signed_int(h5cl_dtype t)
{
    return t < H5CL_FLOAT32 && t % 2 == 0;
}

/* The values of an integer type, exactly (long double holds 64 bits). */
static void int_range(h5cl_dtype t, long double *lo, long double *hi)
{
    const int bits = 8 * (int)h5cl_dtype_size(t);
    if (is_signed_int(t)) {
        *lo = -ldexpl(1.0L, bits - 1);
        *hi = ldexpl(1.0L, bits - 1) - 1;
    } else {
        *lo = 0;
        *hi = ldexpl(1.0L, bits) - 1;
    }
}

static long double value_ld(const attr_vals *a, size_t k)
{
    return a->kind == H5CL_KIND_SIGNED     ? (long double)a->v[k].i
           : a->kind == H5CL_KIND_UNSIGNED ? (long double)a->v[k].u
                                           : (long double)a->v[k].f;
}

/* The low bits of an integer as a value of integer type t (two's
 * complement), as numpy casts between integers of one size. */
static h5cl_scalar reinterpret(uint64_t bits, h5cl_dtype t)
{
    const unsigned nbits = 8 * (unsigned)h5cl_dtype_size(t);
    h5cl_scalar out;
    if (nbits < 64)
        bits &= ((uint64_t)1 << nbits) - 1;
    if (is_signed_int(t)) {
        const uint64_t sign = (uint64_t)1 << (nbits - 1);
        bits = (bits ^ sign) - sign; /* sign-extends */
        memcpy(&out.i, &bits, sizeof out.i);
    } else {
        out.u = bits;
    }
    return out;
}

static h5cl_scalar from_ld(long double x, h5cl_dtype t)
{
    h5cl_scalar out;
    if (is_signed_int(t))
        out.i = (int64_t)x;
    else
        out.u = (uint64_t)x;
    return out;
}

/* ---- conversions into the raw type ---- */

/* Value k of a as a value of the raw type that elements can equal: same
 * size integers reinterpreted, others exactly, floats of float32 data
 * rounded to float32. */
static int to_raw_exact(const cf_reader *r, const attr_vals *a, size_t k,
                        h5cl_scalar *out)
{
    const h5cl_dtype t = r->info->raw_dtype;
    char v[48];
    if (is_float(t)) {
        double d = (double)value_ld(a, k);
        if (t == H5CL_FLOAT32) {
            float f = (float)d;
            if (isinf(f) && !isinf(d))
                return fail_attr(r, a->name,
                                 "holds %s, beyond float32, the type it is "
                                 "compared in",
                                 value_text(a, k, v, sizeof v));
            d = f;
        }
        out->f = d;
        return H5CL_OK;
    }
    if (a->kind != H5CL_KIND_FLOAT && a->size == h5cl_dtype_size(t)) {
        *out = reinterpret(a->v[k].u, t);
        return H5CL_OK;
    }
    const long double x = value_ld(a, k);
    if (a->kind == H5CL_KIND_FLOAT && (!isfinite(a->v[k].f) || x != floorl(x)))
        return fail_attr(r, a->name,
                         "holds %s, not a whole number, so no %s element "
                         "can equal it",
                         value_text(a, k, v, sizeof v), h5cl_dtype_name(t));
    long double lo, hi;
    int_range(t, &lo, &hi);
    if (x < lo || x > hi)
        return fail_attr(r, a->name,
                         "holds %s, outside the values of %s, the type it "
                         "is compared in",
                         value_text(a, k, v, sizeof v), h5cl_dtype_name(t));
    *out = from_ld(x, t);
    return H5CL_OK;
}

/* Value k of a as an inclusive bound in the raw type, rounded inward:
 * elements below it (upper: above it) are exactly those beyond the
 * attribute's value. */
static int to_raw_bound(const cf_reader *r, const attr_vals *a, size_t k,
                        int upper, h5cl_scalar *out)
{
    const h5cl_dtype t = r->info->raw_dtype;
    char v[48];
    if (a->kind == H5CL_KIND_FLOAT && isnan(a->v[k].f))
        return fail_attr(r, a->name, "holds NaN, which bounds nothing");
    long double x = value_ld(a, k);
    if (is_float(t)) {
        if (t == H5CL_FLOAT64) {
            double d = (double)x;
            if (!upper && (long double)d < x)
                d = nextafter(d, INFINITY);
            if (upper && (long double)d > x)
                d = nextafter(d, -INFINITY);
            out->f = d;
        } else {
            float f = (float)x;
            if (!upper && (long double)f < x)
                f = nextafterf(f, INFINITY);
            if (upper && (long double)f > x)
                f = nextafterf(f, -INFINITY);
            out->f = f;
        }
        return H5CL_OK;
    }
    if (a->kind != H5CL_KIND_FLOAT && a->size == h5cl_dtype_size(t)) {
        *out = reinterpret(a->v[k].u, t);
        return H5CL_OK;
    }
    long double lo, hi;
    int_range(t, &lo, &hi);
    x = upper ? floorl(x) : ceill(x);
    if ((!upper && x > hi) || (upper && x < lo))
        return fail_attr(r, a->name,
                         "holds %s, %s every %s value: every element would "
                         "be masked",
                         value_text(a, k, v, sizeof v),
                         upper ? "below" : "above", h5cl_dtype_name(t));
    *out = from_ld(x < lo ? lo : x > hi ? hi : x, t);
    return H5CL_OK;
}

/* ---- reading attributes (HDF5 lock held) ---- */

/* Elements in an attribute's dataspace. */
static int attr_count(const cf_reader *r, const char *name, hid_t at,
                      hssize_t *n_ret)
{
    hid_t sp = H5Aget_space(at);
    if (sp < 0)
        return fail_h5(r, "H5Aget_space", name);
    H5S_class_t sc = H5Sget_simple_extent_type(sp);
    *n_ret = sc == H5S_SCALAR   ? 1
             : sc == H5S_SIMPLE ? H5Sget_simple_extent_npoints(sp)
                                : 0;
    H5Sclose(sp);
    if (*n_ret < 0)
        return fail_h5(r, "H5Sget_simple_extent_npoints", name);
    return H5CL_OK;
}

/* Reads the numbers of an open attribute whose type is t. */
static int read_values(const cf_reader *r, hid_t at, hid_t t, size_t maxn,
                       attr_vals *a)
{
    hssize_t n;
    int st = attr_count(r, a->name, at, &n);
    if (st != H5CL_OK)
        return st;
    const H5T_class_t c = H5Tget_class(t);
    const size_t size = H5Tget_size(t);
    hid_t mem;
    if (c == H5T_INTEGER && (size == 1 || size == 2 || size == 4 || size == 8)) {
        const int sign = H5Tget_sign(t) == H5T_SGN_2;
        a->kind = sign ? H5CL_KIND_SIGNED : H5CL_KIND_UNSIGNED;
        mem = sign ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
    } else if (c == H5T_FLOAT && (size == 4 || size == 8) &&
               H5Tget_precision(t) == 8 * size) {
        a->kind = H5CL_KIND_FLOAT;
        mem = H5T_NATIVE_DOUBLE;
    } else {
        return fail_attr(r, a->name,
                         "has type class %s (%zu bytes); h5cl needs a "
                         "number there (an 8-64 bit integer, float32 or "
                         "float64)",
                         h5cl_type_class_name(c), size);
    }
    if (n == 0)
        return fail_attr(r, a->name, "holds no value");
    if ((size_t)n > maxn)
        return fail_attr(r, a->name, "holds %lld values; h5cl reads at most "
                                     "%zu here",
                         (long long)n, maxn);
    a->size = size;
    a->n = (size_t)n;
    /* h5cl_scalar is 8 bytes: the array reads as int64/uint64/double */
    if (H5Aread(at, mem, a->v) < 0)
        return fail_h5(r, "H5Aread", a->name);
    return H5CL_OK;
}

/* Reads attribute `name` (at most maxn numbers) into *a; a->found 0 when
 * the dataset has no such attribute. */
static int read_numeric(const cf_reader *r, const char *name, size_t maxn,
                        attr_vals *a)
{
    memset(a, 0, sizeof *a);
    a->name = name;
    htri_t ex = H5Aexists(r->ds->dset, name);
    if (ex < 0)
        return fail_h5(r, "H5Aexists", name);
    if (ex == 0)
        return H5CL_OK;
    a->found = 1;
    hid_t at = H5Aopen(r->ds->dset, name, H5P_DEFAULT);
    if (at < 0)
        return fail_h5(r, "H5Aopen", name);
    hid_t t = H5Aget_type(at);
    int st = t < 0 ? fail_h5(r, "H5Aget_type", name)
                   : read_values(r, at, t, maxn, a);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(at);
    return st;
}

/* Reads an open string attribute (fixed or variable length, one value)
 * into buf. */
static int read_text(const cf_reader *r, const char *name, hid_t at, hid_t t,
                     char *buf, size_t len)
{
    hssize_t n;
    int st = attr_count(r, name, at, &n);
    if (st != H5CL_OK)
        return st;
    if (H5Tget_class(t) != H5T_STRING)
        return fail_attr(r, name,
                         "has type class %s; h5cl needs a string there "
                         "(\"true\" or \"false\")",
                         h5cl_type_class_name(H5Tget_class(t)));
    if (n != 1)
        return fail_attr(r, name, "holds %lld strings; h5cl needs one",
                         (long long)n);
    htri_t var = H5Tis_variable_str(t);
    if (var < 0)
        return fail_h5(r, "H5Tis_variable_str", name);
    if (var) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        char *s = NULL;
        if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mem, H5Tget_cset(t)) < 0 || H5Aread(at, mem, &s) < 0)
            st = fail_h5(r, "H5Aread", name);
        else
            snprintf(buf, len, "%s", s ? s : "");
        if (s)
            H5free_memory(s);
        if (mem >= 0)
            H5Tclose(mem);
        return st;
    }
    const size_t size = H5Tget_size(t);
    if (size == 0 || size > MAX_STRING)
        return fail_attr(r, name, "is a %zu-byte string; h5cl reads at most "
                                  "%d bytes there",
                         size, MAX_STRING);
    char *s = calloc(1, size + 1);
    if (!s)
        return h5cl_fail(r->ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    hid_t mem = H5Tcopy(t);
    if (mem < 0 || H5Aread(at, mem, s) < 0)
        st = fail_h5(r, "H5Aread", name);
    else
        snprintf(buf, len, "%s", s);
    if (mem >= 0)
        H5Tclose(mem);
    free(s);
    return st;
}

/* *true_ret: the dataset has attribute `name` and it says "true" (any
 * case, blanks around it ignored). */
static int read_flag(const cf_reader *r, const char *name, int *true_ret)
{
    *true_ret = 0;
    htri_t ex = H5Aexists(r->ds->dset, name);
    if (ex < 0)
        return fail_h5(r, "H5Aexists", name);
    if (ex == 0)
        return H5CL_OK;
    hid_t at = H5Aopen(r->ds->dset, name, H5P_DEFAULT);
    if (at < 0)
        return fail_h5(r, "H5Aopen", name);
    char text[64] = "";
    hid_t t = H5Aget_type(at);
    int st = t < 0 ? fail_h5(r, "H5Aget_type", name)
                   : read_text(r, name, at, t, text, sizeof text);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(at);
    const char *b = text;
    while (*b == ' ' || *b == '\t')
        b++;
    size_t n = strlen(b);
    while (n && (b[n - 1] == ' ' || b[n - 1] == '\t'))
        n--;
    *true_ret = st == H5CL_OK && n == 4 && strncasecmp(b, "true", 4) == 0;
    return st;
}

/* ---- what a run applies ---- */

static int same_value(h5cl_dtype t, h5cl_scalar a, h5cl_scalar b)
{
    if (is_float(t))
        return (isnan(a.f) && isnan(b.f)) || a.f == b.f;
    return a.u == b.u;
}

/* Adds a fill value found in `from` (an H5CL_CF_FILL_* flag), once. */
static int add_fill(const cf_reader *r, const char *attr, h5cl_scalar v,
                    unsigned from)
{
    h5cl_cf_info *info = r->info;
    info->flags |= from;
    for (unsigned i = 0; i < info->nfill; i++)
        if (same_value(info->raw_dtype, info->fill[i], v)) {
            info->fill_from[i] |= from;
            return H5CL_OK;
        }
    if (info->nfill == H5CL_CF_MAX_FILL)
        return fail_attr(r, attr, "brings the distinct fill and missing "
                                  "values over %d, the most h5cl compares",
                         H5CL_CF_MAX_FILL);
    info->fill[info->nfill] = v;
    info->fill_from[info->nfill] = from;
    info->nfill++;
    return H5CL_OK;
}

/* One native element of type t, in its kind. */
static h5cl_scalar native_value(const unsigned char *p, h5cl_dtype t)
{
    h5cl_scalar v;
    switch (t) {
    case H5CL_INT8: { int8_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case H5CL_UINT8: { uint8_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case H5CL_INT16: { int16_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case H5CL_UINT16: { uint16_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case H5CL_INT32: { int32_t x; memcpy(&x, p, sizeof x); v.i = x; break; }
    case H5CL_UINT32: { uint32_t x; memcpy(&x, p, sizeof x); v.u = x; break; }
    case H5CL_INT64: memcpy(&v.i, p, sizeof v.i); break;
    case H5CL_UINT64: memcpy(&v.u, p, sizeof v.u); break;
    case H5CL_FLOAT32: { float x; memcpy(&x, p, sizeof x); v.f = x; break; }
    default: memcpy(&v.f, p, sizeof v.f); break;
    }
    return v;
}

/* The dataset's HDF5 fill value, when user-defined. */
static int read_hdf5_fill(const cf_reader *r)
{
    const h5cl_dataset *ds = r->ds;
    hid_t dcpl = H5Dget_create_plist(ds->dset);
    if (dcpl < 0)
        return fail_h5(r, "H5Dget_create_plist", "the fill value");
    H5D_fill_value_t fv;
    int st = H5CL_OK;
    unsigned char raw[8] = {0};
    if (H5Pfill_value_defined(dcpl, &fv) < 0)
        st = fail_h5(r, "H5Pfill_value_defined", "the fill value");
    else if (fv == H5D_FILL_VALUE_USER_DEFINED &&
             H5Pget_fill_value(dcpl, ds->memtype, raw) < 0)
        st = fail_h5(r, "H5Pget_fill_value", "the fill value");
    H5Pclose(dcpl);
    if (st != H5CL_OK || fv != H5D_FILL_VALUE_USER_DEFINED)
        return st;
    /* one value of the data's own (native) type */
    attr_vals a;
    memset(&a, 0, sizeof a);
    a.name = "(the HDF5 fill value)";
    a.n = 1;
    a.size = h5cl_dtype_size(ds->info.dtype);
    a.kind = is_float(ds->info.dtype)         ? H5CL_KIND_FLOAT
             : is_signed_int(ds->info.dtype) ? H5CL_KIND_SIGNED
                                             : H5CL_KIND_UNSIGNED;
    a.v[0] = native_value(raw, ds->info.dtype);
    h5cl_scalar v;
    st = to_raw_exact(r, &a, 0, &v);
    return st == H5CL_OK ? add_fill(r, a.name, v, H5CL_CF_FILL_HDF5) : st;
}

/* _FillValue (one value) and missing_value (one or more). */
static int read_fill_attrs(const cf_reader *r)
{
    static const struct {
        const char *name;
        size_t maxn;
        unsigned flag;
    } attrs[] = {{"_FillValue", 1, H5CL_CF_FILL_VALUE},
                 {"missing_value", H5CL_CF_MAX_FILL, H5CL_CF_MISSING_VALUE}};
    for (size_t i = 0; i < H5CL_ARRAY_LEN(attrs); i++) {
        attr_vals a;
        int st = read_numeric(r, attrs[i].name, attrs[i].maxn, &a);
        for (size_t k = 0; st == H5CL_OK && k < a.n; k++) {
            h5cl_scalar v;
            st = to_raw_exact(r, &a, k, &v);
            if (st == H5CL_OK)
                st = add_fill(r, a.name, v, attrs[i].flag);
        }
        if (st != H5CL_OK)
            return st;
    }
    return H5CL_OK;
}

/* valid_range, else valid_min and valid_max. */
static int read_valid(const cf_reader *r)
{
    h5cl_cf_info *info = r->info;
    attr_vals a;
    int st = read_numeric(r, "valid_range", 2, &a);
    if (st != H5CL_OK)
        return st;
    if (a.found) {
        if (a.n != 2)
            return fail_attr(r, a.name, "holds %zu value; valid_range needs "
                                        "two (min, max)",
                             a.n);
        st = to_raw_bound(r, &a, 0, 0, &info->valid_min);
        if (st == H5CL_OK)
            st = to_raw_bound(r, &a, 1, 1, &info->valid_max);
        info->flags |= H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX |
                       H5CL_CF_VALID_RANGE;
    } else {
        st = read_numeric(r, "valid_min", 1, &a);
        if (st == H5CL_OK && a.found) {
            st = to_raw_bound(r, &a, 0, 0, &info->valid_min);
            info->flags |= H5CL_CF_VALID_MIN;
        }
        if (st == H5CL_OK)
            st = read_numeric(r, "valid_max", 1, &a);
        if (st == H5CL_OK && a.found) {
            st = to_raw_bound(r, &a, 0, 1, &info->valid_max);
            info->flags |= H5CL_CF_VALID_MAX;
        }
    }
    if (st != H5CL_OK)
        return st;
    const unsigned both = H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX;
    if ((info->flags & both) != both)
        return H5CL_OK;
    const h5cl_dtype t = info->raw_dtype;
    const int empty = is_float(t)         ? info->valid_min.f > info->valid_max.f
                      : is_signed_int(t) ? info->valid_min.i > info->valid_max.i
                                         : info->valid_min.u > info->valid_max.u;
    if (empty)
        return fail_attr(r,
                         info->flags & H5CL_CF_VALID_RANGE ? "valid_range"
                                                           : "valid_max",
                         "makes the valid range empty (in %s): every element "
                         "would be masked",
                         h5cl_dtype_name(t));
    return H5CL_OK;
}

/* scale_factor and add_offset, and the unpacked type they give. */
static int read_packing(const cf_reader *r)
{
    h5cl_cf_info *info = r->info;
    static const char *const names[2] = {"scale_factor", "add_offset"};
    static const unsigned flags[2] = {H5CL_CF_SCALE, H5CL_CF_OFFSET};
    double *const dest[2] = {&info->scale_factor, &info->add_offset};
    int all_f32 = 1;
    for (int i = 0; i < 2; i++) {
        attr_vals a;
        int st = read_numeric(r, names[i], 1, &a);
        if (st != H5CL_OK)
            return st;
        if (!a.found)
            continue;
        const double d = (double)value_ld(&a, 0);
        char v[48];
        if (!isfinite(d))
            return fail_attr(r, a.name, "holds %s; it must be finite",
                             value_text(&a, 0, v, sizeof v));
        *dest[i] = d;
        info->flags |= flags[i];
        all_f32 &= a.kind == H5CL_KIND_FLOAT && a.size == 4;
    }
    if (info->flags & (H5CL_CF_SCALE | H5CL_CF_OFFSET))
        info->value_dtype = all_f32 ? H5CL_FLOAT32 : H5CL_FLOAT64;
    return H5CL_OK;
}

static int read_all(const cf_reader *r, int cf, int mask_fill)
{
    h5cl_cf_info *info = r->info;
    int st = H5CL_OK;
    if (cf && is_signed_int(info->dtype)) {
        int yes;
        st = read_flag(r, "_Unsigned", &yes);
        if (st == H5CL_OK && yes) {
            info->raw_dtype = (h5cl_dtype)(info->dtype + 1);
            info->flags |= H5CL_CF_UNSIGNED;
        }
    }
    if (st == H5CL_OK && mask_fill)
        st = read_hdf5_fill(r);
    if (st == H5CL_OK)
        st = read_fill_attrs(r);
    if (st == H5CL_OK && cf)
        st = read_valid(r);
    info->value_dtype = info->raw_dtype;
    if (st == H5CL_OK && cf)
        st = read_packing(r);
    return st;
}

int h5cl_cf_read(h5cl_ctx *ctx, const h5cl_dataset *ds, int cf, int mask_fill,
                 h5cl_cf_info *info)
{
    memset(info, 0, sizeof *info);
    info->dtype = info->raw_dtype = info->value_dtype = ds->info.dtype;
    info->scale_factor = 1.0;
    info->add_offset = 0.0;
    if (!cf && !mask_fill)
        return H5CL_OK;
    if (ds->remote)
        return h5cl_iso_cf_read(ctx, ds, cf, mask_fill, info);
    cf_reader r = {ctx, ds, info};
    h5cl_h5_lock();
    int st = read_all(&r, cf, mask_fill);
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    return st;
}

int h5cl_dataset_cf_info(const h5cl_dataset *ds, int cf, int mask_fill,
                         h5cl_cf_info *info_ret)
{
    if (!ds || !info_ret)
        return ds ? h5cl_fail(ds->ctx, H5CL_ERR_INVALID_ARGUMENT,
                              "h5cl_dataset_cf_info: NULL argument")
                  : H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_cf_read(ds->ctx, ds, cf, mask_fill, info_ret);
    return st == H5CL_OK ? h5cl_ok(ds->ctx) : st;
}
