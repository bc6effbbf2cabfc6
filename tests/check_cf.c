/*
 * Fill values and CF conventions (h5cl_run_options.mask_fill and .cf,
 * h5cl_dataset_cf_info, h5cl_stats_masked, the masked count of maps)
 * against a host decode written here from the conventions themselves,
 * never from the library's h5cl_cf_info: each case states, in raw units,
 * which values are fill values, the valid bounds (as the real numbers the
 * attributes hold), the unsigned reading and the packing, and the host
 * masks and unpacks every element in long double / double from that.
 *
 * Files are written with HDF5 C calls the way netCDF-4 (and h5py) write
 * them: the data's type for _FillValue, missing_value and valid_*, one-
 * element arrays or scalars, float32 or float64 scale_factor/add_offset,
 * _Unsigned as a fixed- or variable-length string, user-defined HDF5 fill
 * values.  Attributes the library cannot interpret must be refused with
 * H5CL_ERR_UNSUPPORTED_TYPE naming them.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

/* ---- writing netCDF-4-like variables ---------------------------------- */

/* Attribute types besides the h5cl_dtypes. */
enum { STR_FIXED = 100, STR_VLEN, LDOUBLE, COMPOUND };

typedef struct attr_spec {
    const char *name;
    int type;          /* an h5cl_dtype, or one of the enum above        */
    int n;             /* values; 0: one value in a scalar dataspace     */
    long double v[10];
    const char *text;  /* strings                                        */
} attr_spec;

static hid_t file_type(h5cl_dtype t)
{
    switch (t) {
    case H5CL_INT8: return H5T_STD_I8LE;
    case H5CL_UINT8: return H5T_STD_U8LE;
    case H5CL_INT16: return H5T_STD_I16LE;
    case H5CL_UINT16: return H5T_STD_U16LE;
    case H5CL_INT32: return H5T_STD_I32LE;
    case H5CL_UINT32: return H5T_STD_U32LE;
    case H5CL_INT64: return H5T_STD_I64LE;
    case H5CL_UINT64: return H5T_STD_U64LE;
    case H5CL_FLOAT32: return H5T_IEEE_F32LE;
    default: return H5T_IEEE_F64LE;
    }
}

static hid_t mem_type(h5cl_dtype t)
{
    switch (t) {
    case H5CL_INT8: return H5T_NATIVE_INT8;
    case H5CL_UINT8: return H5T_NATIVE_UINT8;
    case H5CL_INT16: return H5T_NATIVE_INT16;
    case H5CL_UINT16: return H5T_NATIVE_UINT16;
    case H5CL_INT32: return H5T_NATIVE_INT32;
    case H5CL_UINT32: return H5T_NATIVE_UINT32;
    case H5CL_INT64: return H5T_NATIVE_INT64;
    case H5CL_UINT64: return H5T_NATIVE_UINT64;
    case H5CL_FLOAT32: return H5T_NATIVE_FLOAT;
    default: return H5T_NATIVE_DOUBLE;
    }
}

/* Element i of a as the long double it holds (exact for every type). */
static long double get_ld(const tu_array *a, uint64_t i)
{
    if (tu_dtype_is_float(a->dtype))
        return tu_get_f(a, i);
    if (tu_dtype_is_signed(a->dtype))
        return tu_get_i(a, i);
    return tu_get_u(a, i);
}

/* Stores v (a value of the type's domain, or for a signed type read
 * _Unsigned, of the unsigned domain: stored as its bit pattern). */
static void set_ld(tu_array *a, uint64_t i, long double v)
{
    if (tu_dtype_is_float(a->dtype)) {
        tu_set_f(a, i, (double)v);
    } else if (tu_dtype_is_signed(a->dtype)) {
        const int bits = 8 * (int)h5cl_dtype_size(a->dtype);
        if (v > ldexpl(1.0L, bits - 1) - 1)
            v -= ldexpl(1.0L, bits);
        tu_set_i(a, i, (int64_t)v);
    } else {
        tu_set_u(a, i, (uint64_t)v);
    }
}

static void put_attr(hid_t obj, const attr_spec *s)
{
    hsize_t n = s->n ? (hsize_t)s->n : 1;
    hid_t sp = s->n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t t, mt;
    herr_t rc;
    ck_assert_msg(sp >= 0, "attribute %s: dataspace", s->name);
    if (s->type == STR_FIXED || s->type == STR_VLEN) {
        const char *text = s->text;
        t = H5Tcopy(H5T_C_S1);
        if (s->type == STR_VLEN) {
            H5Tset_size(t, H5T_VARIABLE);
        } else {
            H5Tset_size(t, strlen(text));
            H5Tset_strpad(t, H5T_STR_NULLPAD);
        }
        hid_t a = H5Acreate2(obj, s->name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_msg(a >= 0, "attribute %s: create", s->name);
        rc = s->type == STR_VLEN ? H5Awrite(a, t, &text) : H5Awrite(a, t, text);
        ck_assert_msg(rc >= 0, "attribute %s: write", s->name);
        H5Aclose(a);
        H5Tclose(t);
        H5Sclose(sp);
        return;
    }
    if (s->type == COMPOUND) {
        struct {
            int a;
            float b;
        } v = {1, 2.0f};
        t = H5Tcreate(H5T_COMPOUND, sizeof v);
        H5Tinsert(t, "a", 0, H5T_NATIVE_INT);
        H5Tinsert(t, "b", sizeof(int), H5T_NATIVE_FLOAT);
        hid_t a = H5Acreate2(obj, s->name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_msg(a >= 0 && H5Awrite(a, t, &v) >= 0, "attribute %s",
                      s->name);
        H5Aclose(a);
        H5Tclose(t);
        H5Sclose(sp);
        return;
    }
    if (s->type == LDOUBLE) {
        long double v[10];
        for (hsize_t k = 0; k < n; k++)
            v[k] = s->v[k];
        hid_t a = H5Acreate2(obj, s->name, H5T_NATIVE_LDOUBLE, sp,
                             H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_msg(a >= 0 && H5Awrite(a, H5T_NATIVE_LDOUBLE, v) >= 0,
                      "attribute %s", s->name);
        H5Aclose(a);
        H5Sclose(sp);
        return;
    }
    tu_array buf;
    uint64_t dims[1] = {n};
    tu_array_init(&buf, (h5cl_dtype)s->type, 1, dims);
    for (hsize_t k = 0; k < n; k++)
        set_ld(&buf, k, s->v[k]);
    t = file_type((h5cl_dtype)s->type);
    mt = mem_type((h5cl_dtype)s->type);
    hid_t a = H5Acreate2(obj, s->name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(a >= 0 && H5Awrite(a, mt, buf.data) >= 0, "attribute %s",
                  s->name);
    H5Aclose(a);
    H5Sclose(sp);
}

/* Writes `a` as dataset `path` of `file` (created when missing) with
 * attributes, optionally chunked + deflate and with a user-defined HDF5
 * fill value. */
static void write_var(const char *file, const char *path, const tu_array *a,
                      int chunked, const long double *h5fill,
                      const attr_spec *attrs, size_t nattrs)
{
    hid_t f;
    H5E_BEGIN_TRY
    {
        f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (f < 0)
        f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot create %s", file);
    hsize_t dims[H5CL_MAX_RANK], chunk[H5CL_MAX_RANK];
    for (int d = 0; d < a->rank; d++) {
        dims[d] = a->dims[d];
        chunk[d] = a->dims[d] > 16 ? 16 : a->dims[d];
    }
    hid_t sp = H5Screate_simple(a->rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        H5Pset_chunk(dcpl, a->rank, chunk);
        H5Pset_deflate(dcpl, 4);
    }
    if (h5fill) {
        tu_array fv;
        uint64_t one[1] = {1};
        tu_array_init(&fv, a->dtype, 1, one);
        set_ld(&fv, 0, *h5fill);
        H5Pset_fill_value(dcpl, mem_type(a->dtype), fv.data);
    }
    hid_t d = H5Dcreate2(f, path, file_type(a->dtype), sp, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    ck_assert_msg(d >= 0, "cannot create %s in %s", path, file);
    ck_assert_msg(H5Dwrite(d, mem_type(a->dtype), H5S_ALL, H5S_ALL,
                           H5P_DEFAULT, a->data) >= 0,
                  "cannot write %s", path);
    for (size_t i = 0; i < nattrs; i++)
        if (attrs[i].name)
            put_attr(d, &attrs[i]);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    ck_assert_msg(H5Fclose(f) >= 0, "closing %s", file);
}

/* ---- the cases --------------------------------------------------------- */

#define NO_BOUND 0

typedef struct cf_case {
    const char *what;
    h5cl_dtype dtype;      /* in the file                                 */
    int cf, mask_fill;
    int has_h5fill;
    long double h5fill;    /* a user-defined HDF5 fill value (raw units)  */
    attr_spec attrs[6];
    /* what the host decodes, from the conventions: raw units are the
     * unsigned type's under _Unsigned */
    int raw_unsigned;
    long double lo, hi;    /* random raw values in [lo, hi]               */
    int nfill;
    long double fill[5];   /* NaN: NaN elements are masked                */
    int has_min, has_max;
    long double vmin, vmax; /* as the attributes hold them                */
    int has_scale, has_offset;
    double scale, offset;   /* as the attributes hold them                */
    double nan_fraction;    /* float data: planted NaNs                   */
    unsigned flags;         /* h5cl_cf_info.flags expected                */
    h5cl_dtype value_dtype; /* h5cl_cf_info.value_dtype expected          */
} cf_case;

#define F32(x) ((double)(float)(x))

static const cf_case cases[] = {
    {"int16 packed, float32 scale/offset, _FillValue, valid_range",
     H5CL_INT16, 1, 0, 0, 0,
     {{"scale_factor", H5CL_FLOAT32, 1, {0.01L}, NULL},
      {"add_offset", H5CL_FLOAT32, 1, {273.15L}, NULL},
      {"_FillValue", H5CL_INT16, 1, {-32767}, NULL},
      {"valid_range", H5CL_INT16, 2, {-30000, 30000}, NULL}},
     0, -32768, 32767, 1, {-32767}, 1, 1, -30000, 30000, 1, 1, F32(0.01),
     F32(273.15), 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX |
         H5CL_CF_VALID_RANGE | H5CL_CF_SCALE | H5CL_CF_OFFSET,
     H5CL_FLOAT32},
    {"int16 packed, float64 scale/offset, scalar missing_value, valid_min",
     H5CL_INT16, 1, 0, 0, 0,
     {{"scale_factor", H5CL_FLOAT64, 1, {0.001L}, NULL},
      {"add_offset", H5CL_FLOAT64, 0, {-5.5L}, NULL},
      {"missing_value", H5CL_INT16, 0, {999}, NULL},
      {"valid_min", H5CL_INT16, 1, {-1000}, NULL}},
     0, -2000, 2000, 1, {999}, 1, 0, -1000, NO_BOUND, 1, 1, 0.001, -5.5, 0,
     H5CL_CF_MISSING_VALUE | H5CL_CF_VALID_MIN | H5CL_CF_SCALE |
         H5CL_CF_OFFSET,
     H5CL_FLOAT64},
    {"int16 _FillValue and a missing_value array, valid_max, scale only",
     H5CL_INT16, 1, 0, 0, 0,
     {{"_FillValue", H5CL_INT16, 1, {-1}, NULL},
      {"missing_value", H5CL_INT16, 3, {-1, -2, 7777}, NULL},
      {"valid_max", H5CL_INT16, 1, {5000}, NULL},
      {"scale_factor", H5CL_FLOAT32, 1, {0.5L}, NULL}},
     0, -3000, 8000, 3, {-1, -2, 7777}, 0, 1, NO_BOUND, 5000, 1, 0, 0.5, 0, 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_MISSING_VALUE | H5CL_CF_VALID_MAX |
         H5CL_CF_SCALE,
     H5CL_FLOAT32},
    {"int8 _Unsigned (fixed string), _FillValue -1, valid_range (0, -6)",
     H5CL_INT8, 1, 0, 0, 0,
     {{"_Unsigned", STR_FIXED, 0, {0}, "true"},
      {"_FillValue", H5CL_INT8, 1, {-1}, NULL},
      {"valid_range", H5CL_INT8, 2, {0, -6}, NULL},
      {"scale_factor", H5CL_FLOAT32, 1, {0.5L}, NULL}},
     1, 0, 255, 1, {255}, 1, 1, 0, 250, 1, 0, 0.5, 0, 0,
     H5CL_CF_UNSIGNED | H5CL_CF_FILL_VALUE | H5CL_CF_VALID_MIN |
         H5CL_CF_VALID_MAX | H5CL_CF_VALID_RANGE | H5CL_CF_SCALE,
     H5CL_FLOAT32},
    {"int16 _Unsigned (variable-length \"TRUE\"), valid_min, offset only",
     H5CL_INT16, 1, 0, 0, 0,
     {{"_Unsigned", STR_VLEN, 0, {0}, "TRUE"},
      {"_FillValue", H5CL_INT16, 1, {-1}, NULL},
      {"valid_min", H5CL_INT16, 1, {10}, NULL},
      {"add_offset", H5CL_FLOAT64, 1, {-32768.0L}, NULL}},
     1, 0, 65535, 1, {65535}, 1, 0, 10, NO_BOUND, 0, 1, 1, -32768.0, 0,
     H5CL_CF_UNSIGNED | H5CL_CF_FILL_VALUE | H5CL_CF_VALID_MIN |
         H5CL_CF_OFFSET,
     H5CL_FLOAT64},
    {"uint16 _FillValue, float32 add_offset", H5CL_UINT16, 1, 0, 0, 0,
     {{"_FillValue", H5CL_UINT16, 1, {65535}, NULL},
      {"add_offset", H5CL_FLOAT32, 1, {-100}, NULL}},
     0, 0, 65535, 1, {65535}, 0, 0, NO_BOUND, NO_BOUND, 0, 1, 1, -100, 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_OFFSET, H5CL_FLOAT32},
    {"float32 NaN _FillValue, HDF5 fill value, missing_value (mask_fill)",
     H5CL_FLOAT32, 0, 1, 1, -999,
     {{"_FillValue", H5CL_FLOAT32, 1, {NAN}, NULL},
      {"missing_value", H5CL_FLOAT32, 2, {1e30L, -1}, NULL},
      /* not used by mask_fill: neither read nor applied */
      {"scale_factor", H5CL_FLOAT32, 1, {2}, NULL},
      {"valid_range", STR_FIXED, 0, {0}, "bogus"}},
     0, -100, 100, 4, {-999, NAN, F32(1e30), -1}, 0, 0, NO_BOUND, NO_BOUND, 0,
     0, 1, 0, 0.02,
     H5CL_CF_FILL_HDF5 | H5CL_CF_FILL_VALUE | H5CL_CF_MISSING_VALUE,
     H5CL_FLOAT32},
    {"float64 _FillValue, valid_range, NaNs that are not masked",
     H5CL_FLOAT64, 1, 0, 0, 0,
     {{"_FillValue", H5CL_FLOAT64, 1, {-9999}, NULL},
      {"valid_range", H5CL_FLOAT64, 2, {-100, 100}, NULL}},
     0, -150, 150, 1, {-9999}, 1, 1, -100, 100, 0, 0, 1, 0, 0.02,
     H5CL_CF_FILL_VALUE | H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX |
         H5CL_CF_VALID_RANGE,
     H5CL_FLOAT64},
    {"int32 with float64 valid_min 0.5 and valid_max 1000.9", H5CL_INT32, 1,
     0, 0, 0,
     {{"_FillValue", H5CL_INT32, 1, {-2147483647}, NULL},
      {"valid_min", H5CL_FLOAT64, 1, {0.5L}, NULL},
      {"valid_max", H5CL_FLOAT64, 1, {1000.9L}, NULL}},
     0, -50, 1100, 1, {-2147483647}, 1, 1, 0.5L, 1000.9L, 0, 0, 1, 0, 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX,
     H5CL_INT32},
    {"int16 cf and mask_fill: HDF5 fill value beside _FillValue", H5CL_INT16,
     1, 1, 1, -32768,
     {{"_FillValue", H5CL_INT16, 1, {-32767}, NULL},
      {"scale_factor", H5CL_FLOAT32, 1, {0.1L}, NULL}},
     0, -32768, 32767, 2, {-32768, -32767}, 0, 0, NO_BOUND, NO_BOUND, 1, 0,
     F32(0.1), 0, 0,
     H5CL_CF_FILL_HDF5 | H5CL_CF_FILL_VALUE | H5CL_CF_SCALE, H5CL_FLOAT32},
    {"int64 extremes as fill values (INT64_MIN, INT64_MAX)", H5CL_INT64, 0,
     1, 0, 0,
     {{"_FillValue", H5CL_INT64, 1, {-9223372036854775808.0L}, NULL},
      {"missing_value", H5CL_INT64, 1, {9223372036854775807.0L}, NULL}},
     0, -1000, 1000, 2, {-9223372036854775808.0L, 9223372036854775807.0L}, 0,
     0, NO_BOUND, NO_BOUND, 0, 0, 1, 0, 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_MISSING_VALUE, H5CL_INT64},
    {"uint64 UINT64_MAX fill, valid_max 2^63", H5CL_UINT64, 1, 0, 0, 0,
     {{"_FillValue", H5CL_UINT64, 1, {18446744073709551615.0L}, NULL},
      {"valid_max", H5CL_UINT64, 1, {9223372036854775808.0L}, NULL}},
     0, 0, 1000, 1, {18446744073709551615.0L}, 0, 1, NO_BOUND,
     9223372036854775808.0L, 0, 0, 1, 0, 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_VALID_MAX, H5CL_UINT64},
    {"float32 -FLT_MAX _FillValue, +inf missing_value", H5CL_FLOAT32, 1, 0, 0,
     0,
     {{"_FillValue", H5CL_FLOAT32, 1, {-FLT_MAX}, NULL},
      {"missing_value", H5CL_FLOAT32, 1, {INFINITY}, NULL}},
     0, -10, 10, 2, {-FLT_MAX, INFINITY}, 0, 0, NO_BOUND, NO_BOUND, 0, 0, 1, 0,
     0, H5CL_CF_FILL_VALUE | H5CL_CF_MISSING_VALUE, H5CL_FLOAT32},
    {"float64 0.1 _FillValue, -inf missing_value", H5CL_FLOAT64, 1, 0, 0, 0,
     {{"_FillValue", H5CL_FLOAT64, 1, {0.1}, NULL},
      {"missing_value", H5CL_FLOAT64, 1, {-INFINITY}, NULL}},
     0, -1, 1, 2, {0.1, -INFINITY}, 0, 0, NO_BOUND, NO_BOUND, 0, 0, 1, 0, 0,
     H5CL_CF_FILL_VALUE | H5CL_CF_MISSING_VALUE, H5CL_FLOAT64},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static size_t nattrs(const cf_case *c)
{
    size_t n = 0;
    while (n < 6 && c->attrs[n].name)
        n++;
    return n;
}

/* Random raw values of case c in the file's type, with planted fill
 * values, values just outside the valid range, NaNs and, for float data,
 * the fill values (1 in 12 elements each kind). */
static void make_raw(const cf_case *c, tu_array *raw, int rank,
                     const uint64_t *dims, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(raw, c->dtype, rank, dims);
    const int flt = tu_dtype_is_float(c->dtype);
    for (uint64_t i = 0; i < raw->n; i++) {
        long double v;
        uint64_t pick = tu_rng_below(&r, 12);
        if (pick == 0 && c->nfill) {
            v = c->fill[tu_rng_below(&r, (uint64_t)c->nfill)];
        } else if (pick == 1 && c->has_min && c->vmin - 1 >= c->lo) {
            v = flt ? c->vmin - 0.25L : ceill(c->vmin) - 1;
        } else if (pick == 2 && c->has_max && c->vmax + 1 <= c->hi) {
            v = flt ? c->vmax + 0.25L : floorl(c->vmax) + 1;
        } else if (pick == 2 && c->has_max && c->dtype == H5CL_UINT64) {
            v = c->vmax + 1; /* 2^63 + 1 */
        } else if (flt && tu_rng_unit(&r) < c->nan_fraction) {
            v = NAN;
        } else if (flt) {
            v = c->lo + (c->hi - c->lo) * (long double)tu_rng_unit(&r);
            if (c->dtype == H5CL_FLOAT32)
                v = (float)v;
        } else {
            v = c->lo + (long double)tu_rng_below(&r, (uint64_t)(c->hi - c->lo) + 1);
        }
        set_ld(raw, i, v);
    }
}

/* The raw value of element i as the case reads it (unsigned under
 * _Unsigned). */
static long double raw_value(const cf_case *c, const tu_array *raw, uint64_t i)
{
    long double v = get_ld(raw, i);
    if (c->raw_unsigned && v < 0)
        v += ldexpl(1.0L, 8 * (int)h5cl_dtype_size(c->dtype));
    return v;
}

/* The host decode: *masked_ret says whether element i is masked; returns
 * the unpacked value (NaN when masked) in the device's precision. */
static double host_decode(const cf_case *c, long double v, int fp64,
                          int *masked_ret)
{
    int masked = 0;
    for (int k = 0; k < c->nfill; k++)
        if (isnan(c->fill[k]) ? isnan(v) : v == c->fill[k])
            masked = 1;
    if (c->has_min && v < c->vmin)
        masked = 1;
    if (c->has_max && v > c->vmax)
        masked = 1;
    *masked_ret = masked;
    if (masked)
        return NAN;
    if (fp64) {
        double d = (double)v;
        if (c->has_scale)
            d = d * c->scale;
        if (c->has_offset)
            d = d + c->offset;
        return d;
    }
    float f = (float)v;
    if (c->has_scale)
        f = f * (float)c->scale;
    if (c->has_offset)
        f = f + (float)c->offset;
    return f;
}

/* The decoded values of a raw array (float64, or float32 without fp64)
 * and the number masked. */
static uint64_t decode_all(const cf_case *c, const tu_array *raw,
                           tu_array *dec, int fp64)
{
    uint64_t masked = 0;
    tu_array_init(dec, fp64 ? H5CL_FLOAT64 : H5CL_FLOAT32, raw->rank,
                  raw->dims);
    for (uint64_t i = 0; i < raw->n; i++) {
        int m;
        tu_set_f(dec, i, host_decode(c, raw_value(c, raw, i), fp64, &m));
        masked += (uint64_t)m;
    }
    return masked;
}

static void case_options(const cf_case *c, h5cl_run_options *o)
{
    h5cl_run_options_init(o);
    o->cf = c->cf;
    o->mask_fill = c->mask_fill;
}

/* The case's file: a chunked, compressed 2-D variable (or contiguous,
 * every other case) of 61 x 97 raw values. */
static const char *write_case(const cf_case *c, int idx, tu_array *raw)
{
    static const uint64_t dims[2] = {61, 97};
    const char *file = tu_path("cf.nc");
    make_raw(c, raw, 2, dims, 1000 + (uint64_t)idx);
    write_var(file, "/v", raw, idx % 2 == 0, c->has_h5fill ? &c->h5fill : NULL,
              c->attrs, nattrs(c));
    return file;
}

/* ---- tests ------------------------------------------------------------- */

/* h5cl_dataset_cf_info states what applies, with the values converted. */
START_TEST(test_cf_info)
{
    const cf_case *c = &cases[_i];
    tu_array raw;
    const char *file = write_case(c, _i, &raw);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    h5cl_cf_info info;
    int rc = h5cl_dataset_cf_info(ds, c->cf, c->mask_fill, &info);
    ck_assert_msg(rc == H5CL_OK, "%s: %s: %s", c->what, h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_msg(info.flags == c->flags, "%s: flags %#x, want %#x", c->what,
                  info.flags, c->flags);
    ck_assert_msg(info.dtype == c->dtype, "%s: dtype", c->what);
    h5cl_dtype raw_t = c->raw_unsigned ? (h5cl_dtype)(c->dtype + 1) : c->dtype;
    ck_assert_msg(info.raw_dtype == raw_t, "%s: raw dtype %s", c->what,
                  h5cl_dtype_name(info.raw_dtype));
    ck_assert_msg(info.value_dtype == c->value_dtype, "%s: value dtype %s",
                  c->what, h5cl_dtype_name(info.value_dtype));
    ck_assert_msg(info.nfill == (unsigned)c->nfill, "%s: %u fill values, want %d",
                  c->what, info.nfill, c->nfill);
    for (int k = 0; k < c->nfill; k++) {
        long double want = c->fill[k], got;
        got = tu_dtype_is_float(raw_t)        ? (long double)info.fill[k].f
              : tu_dtype_is_signed(raw_t) ? (long double)info.fill[k].i
                                          : (long double)info.fill[k].u;
        ck_assert_msg(isnan(want) ? isnan(got) : got == want,
                      "%s: fill %d is %Lg, want %Lg", c->what, k, got, want);
    }
    ck_assert_msg(info.scale_factor == (c->has_scale ? c->scale : 1.0) &&
                      info.add_offset == (c->has_offset ? c->offset : 0.0),
                  "%s: scale %.17g offset %.17g", c->what, info.scale_factor,
                  info.add_offset);
    /* nothing asked: nothing applies */
    rc = h5cl_dataset_cf_info(ds, 0, 0, &info);
    ck_assert_msg(rc == H5CL_OK && info.flags == 0 && info.nfill == 0,
                  "%s: without options", c->what);
}
END_TEST

/* Whole-selection and per-axis statistics of the decoded values, with
 * small tiles (many per-tile counts), against the host decode. */
START_TEST(test_cf_stats)
{
    const cf_case *c = &cases[_i];
    const int fp64 = tu_dev.has_fp64;
    tu_array raw, dec;
    char what[256];
    const char *file = write_case(c, _i, &raw);
    const uint64_t want_masked = decode_all(c, &raw, &dec, fp64);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    if (!fp64 && (c->dtype == H5CL_FLOAT64 || c->value_dtype == H5CL_FLOAT64))
        return; /* float64 data needs fp64; float64 unpacking is float32 */
    for (int axis = -1; axis < 2; axis++) {
        h5cl_run_options o;
        size_t n;
        int rank;
        uint64_t dims[H5CL_MAX_RANK];
        case_options(c, &o);
        o.axis = axis;
        o.tile_bytes = 1024; /* several tiles */
        o.slots = 2;
        snprintf(what, sizeof what, "%s, axis %d", c->what, axis);
        h5cl_stats *st = tu_compute(ds, &o, what);
        tu_ref *ref = tu_reference(&dec, NULL, axis, &n, &rank, dims);
        tu_check_stats(st, ref, n, rank, dims, tu_tolerance(&tu_dev), what);
        ck_assert_msg(h5cl_stats_masked(st) == want_masked,
                      "%s: masked %llu, want %llu", what,
                      (unsigned long long)h5cl_stats_masked(st),
                      (unsigned long long)want_masked);
        ck_assert_msg(h5cl_stats_summary(st)->masked == want_masked,
                      "%s: summary masked", what);
        /* every masked element is a NaN to the states */
        uint64_t nan = 0;
        for (size_t i = 0; i < h5cl_stats_count(st); i++)
            nan += h5cl_stats_get(st, i)->nan_count;
        ck_assert_msg(nan >= want_masked, "%s: nan_count %llu < masked",
                      what, (unsigned long long)nan);
    }
}
END_TEST

/* The expression rules' default output type over a decoded type. */
static h5cl_dtype default_out(h5cl_dtype t)
{
    return t == H5CL_FLOAT64 || t == H5CL_INT32 || t == H5CL_UINT32 ||
                   t == H5CL_INT64 || t == H5CL_UINT64
               ? H5CL_FLOAT64
               : H5CL_FLOAT32;
}

/* A map without an expression writes the decoded values (NaN where
 * masked) in the default type; compared exactly (+ * are correctly
 * rounded in double, then stored). */
START_TEST(test_cf_map)
{
    const cf_case *c = &cases[_i];
    tu_array raw, dec, got;
    const char *file = write_case(c, _i, &raw);
    const char *out = tu_path("out.h5");
    if (!tu_dev.has_fp64)
        return; /* exact comparison of the double computation */
    const uint64_t want_masked = decode_all(c, &raw, &dec, 1);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary sum;
    case_options(c, &o);
    o.tile_bytes = 2048;
    h5cl_map_options_init(&m);
    m.out_file = out;
    m.out_path = "/decoded";
    int rc = h5cl_map_run(ds, &o, &m, &sum);
    ck_assert_msg(rc == H5CL_OK, "%s: %s: %s", c->what, h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_msg(sum.masked == want_masked, "%s: masked %llu, want %llu",
                  c->what, (unsigned long long)sum.masked,
                  (unsigned long long)want_masked);
    tu_read(out, "/decoded", &got);
    const h5cl_dtype want_t = default_out(c->value_dtype);
    ck_assert_msg(got.dtype == want_t, "%s: output %s, want %s", c->what,
                  h5cl_dtype_name(got.dtype), h5cl_dtype_name(want_t));
    for (uint64_t i = 0; i < got.n; i++) {
        double w = tu_get_f(&dec, i), g = tu_get_f(&got, i);
        if (want_t == H5CL_FLOAT32)
            w = (float)w;
        ck_assert_msg(isnan(w) ? isnan(g) : g == w,
                      "%s: element %llu is %.17g, want %.17g", c->what,
                      (unsigned long long)i, g, w);
    }
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Histograms count masked elements as NaN (the range from data is the
 * decoded values'), quantiles ignore them; the histogram's summary has
 * the masked count. */
START_TEST(test_cf_hist_quantile)
{
    static const int which[] = {0, 3, 6, 7};
    const cf_case *c = &cases[which[_i]];
    const int fp64 = tu_dev.has_fp64;
    tu_array raw, dec;
    const char *file = write_case(c, which[_i], &raw);
    if (!fp64 && (c->dtype == H5CL_FLOAT64 || c->value_dtype == H5CL_FLOAT64))
        return;
    const uint64_t want_masked = decode_all(c, &raw, &dec, fp64);
    double *vals = tu_alloc(dec.n * sizeof *vals);
    uint64_t nan = 0, nv = 0;
    for (uint64_t i = 0; i < dec.n; i++) {
        double v = tu_get_f(&dec, i);
        if (isnan(v))
            nan++;
        else
            vals[nv++] = v;
    }
    qsort(vals, (size_t)nv, sizeof *vals, cmp_double);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    h5cl_run_options o;
    case_options(c, &o);
    o.tile_bytes = 2048;
    h5cl_hist_options ho;
    h5cl_hist_options_init(&ho);
    ho.bins = 16;
    h5cl_hist *h = NULL;
    int rc = h5cl_hist_compute(ds, &o, &ho, &h);
    ck_assert_msg(rc == H5CL_OK, "%s: hist %s: %s", c->what, h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    double lo, hi;
    uint64_t hnan, under, over, total = 0;
    h5cl_hist_range(h, &lo, &hi, NULL);
    ck_assert(h5cl_hist_outside(h, 0, &hnan, &under, &over) == H5CL_OK);
    for (uint32_t b = 0; b < 16; b++)
        total += h5cl_hist_counts(h, 0)[b];
    ck_assert_msg(lo == vals[0] && hi == vals[nv - 1],
                  "%s: range [%.17g, %.17g], want [%.17g, %.17g]", c->what, lo,
                  hi, vals[0], vals[nv - 1]);
    ck_assert_msg(hnan == nan && under == 0 && over == 0 && total == nv,
                  "%s: nan %llu (want %llu), under %llu, over %llu, %llu "
                  "counted (want %llu)",
                  c->what, (unsigned long long)hnan, (unsigned long long)nan,
                  (unsigned long long)under, (unsigned long long)over,
                  (unsigned long long)total, (unsigned long long)nv);
    ck_assert_msg(h5cl_hist_summary(h)->masked == want_masked,
                  "%s: hist masked %llu, want %llu", c->what,
                  (unsigned long long)h5cl_hist_summary(h)->masked,
                  (unsigned long long)want_masked);
    h5cl_hist_free(h);
    const double q[3] = {0, 0.5, 1};
    double got[3];
    unsigned passes;
    rc = h5cl_quantile_compute(ds, &o, q, 3, got, &passes);
    ck_assert_msg(rc == H5CL_OK, "%s: quantile %s: %s", c->what,
                  h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    const double pos = 0.5 * (double)(nv - 1);
    const uint64_t k = (uint64_t)pos;
    const double med = k + 1 < nv ? vals[k] + (vals[k + 1] - vals[k]) * (pos - k)
                                  : vals[k];
    ck_assert_msg(got[0] == vals[0] && got[2] == vals[nv - 1] &&
                      fabs(got[1] - med) <= 1e-12 * fabs(med) + 1e-300,
                  "%s: quantiles %.17g %.17g %.17g, want %.17g %.17g %.17g",
                  c->what, got[0], got[1], got[2], vals[0], med, vals[nv - 1]);
}
END_TEST

/* Decoded inputs in expressions: both inputs decoded, the masked count is
 * of the elements where either is masked; a plain input is read as
 * stored; an unused decoded input neither masks nor counts. */
START_TEST(test_cf_expr)
{
    const cf_case *a = &cases[0], *b = &cases[3];
    const uint64_t dims[2] = {61, 97};
    const char *file = tu_path("two.nc");
    tu_array ra, rb, rp, da, db;
    tu_rng r;
    make_raw(a, &ra, 2, dims, 7);
    make_raw(b, &rb, 2, dims, 8);
    tu_array_init(&rp, H5CL_FLOAT32, 2, dims);
    tu_rng_seed(&r, 9);
    for (uint64_t i = 0; i < rp.n; i++)
        tu_set_f(&rp, i, (float)(tu_rng_unit(&r) * 10 - 5));
    write_var(file, "/a", &ra, 1, NULL, a->attrs, nattrs(a));
    write_var(file, "/b", &rb, 0, NULL, b->attrs, nattrs(b));
    write_var(file, "/p", &rp, 0, NULL, NULL, 0);
    const int fp64 = tu_dev.has_fp64;
    decode_all(a, &ra, &da, fp64);
    decode_all(b, &rb, &db, fp64);
    h5cl_dataset *dsa = tu_open(tu_ctx, file, "/a");
    h5cl_binding with[2] = {{"b", tu_open(tu_ctx, file, "/b")},
                            {"p", tu_open(tu_ctx, file, "/p")}};
    /* a - b + p: masked where a or b is */
    tu_array want;
    uint64_t want_masked = 0;
    tu_array_init(&want, fp64 ? H5CL_FLOAT64 : H5CL_FLOAT32, 2, dims);
    for (uint64_t i = 0; i < want.n; i++) {
        double x = tu_get_f(&da, i), y = tu_get_f(&db, i);
        want_masked += isnan(x) || isnan(y);
        tu_set_f(&want, i, fp64 ? x - y + tu_get_f(&rp, i)
                                : (float)((float)(x - y) + tu_get_f(&rp, i)));
    }
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.cf = 1;
    o.expr = "a - b + p";
    o.name = "a";
    o.with = with;
    o.nwith = 2;
    o.tile_bytes = 4096;
    h5cl_stats *st = tu_compute(dsa, &o, "a - b + p");
    size_t n;
    int rank;
    uint64_t rdims[H5CL_MAX_RANK];
    tu_ref *ref = tu_reference(&want, NULL, -1, &n, &rank, rdims);
    tu_check_stats(st, ref, n, rank, rdims, tu_tolerance(&tu_dev), "a - b + p");
    ck_assert_msg(h5cl_stats_masked(st) == want_masked,
                  "a - b + p: masked %llu, want %llu",
                  (unsigned long long)h5cl_stats_masked(st),
                  (unsigned long long)want_masked);
    /* b bound but unused: only a's masked elements count */
    uint64_t a_masked = 0;
    for (uint64_t i = 0; i < da.n; i++)
        a_masked += isnan(tu_get_f(&da, i));
    o.expr = "a * 2";
    st = tu_compute(dsa, &o, "a * 2");
    ck_assert_msg(h5cl_stats_masked(st) == a_masked,
                  "a * 2: masked %llu, want %llu",
                  (unsigned long long)h5cl_stats_masked(st),
                  (unsigned long long)a_masked);
    ck_assert_msg(h5cl_stats_get(st, 0)->count == da.n - a_masked,
                  "a * 2: count");
}
END_TEST

/* The HDF5 fill value counts only when user-defined; with nothing to
 * apply the run is the plain one (exact integer statistics). */
START_TEST(test_cf_hdf5_fill)
{
    const uint64_t dims[1] = {5000};
    const char *file = tu_path("fill.h5");
    tu_array a;
    tu_rng r;
    const long double zero = 0;
    tu_rng_seed(&r, 11);
    tu_array_init(&a, H5CL_INT16, 1, dims);
    for (uint64_t i = 0; i < a.n; i++)
        tu_set_i(&a, i, tu_rng_range(&r, -3, 3));
    write_var(file, "/default", &a, 1, NULL, NULL, 0);
    write_var(file, "/zero", &a, 1, &zero, NULL, 0);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.mask_fill = 1;
    o.cf = 1;
    /* no user-defined fill value, no attribute: the plain run */
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/default");
    h5cl_cf_info info;
    ck_assert(h5cl_dataset_cf_info(ds, 1, 1, &info) == H5CL_OK);
    ck_assert_msg(info.flags == 0, "default fill value: flags %#x", info.flags);
    h5cl_stats *st = tu_compute(ds, &o, "default fill");
    ck_assert_msg(h5cl_stats_get(st, 0)->kind == H5CL_KIND_SIGNED &&
                      h5cl_stats_masked(st) == 0,
                  "nothing to apply: an integer run");
    size_t n;
    int rank;
    uint64_t rdims[H5CL_MAX_RANK];
    tu_ref *ref = tu_reference(&a, NULL, -1, &n, &rank, rdims);
    tu_check_stats(st, ref, n, rank, rdims, tu_tolerance(&tu_dev), "default");
    /* a user-defined fill value of 0 masks the zeros (mask_fill only) */
    ds = tu_open(tu_ctx, file, "/zero");
    ck_assert(h5cl_dataset_cf_info(ds, 1, 0, &info) == H5CL_OK);
    ck_assert_msg(info.flags == 0, "cf alone ignores the HDF5 fill value");
    ck_assert(h5cl_dataset_cf_info(ds, 0, 1, &info) == H5CL_OK);
    ck_assert_msg(info.flags == H5CL_CF_FILL_HDF5 && info.nfill == 1 &&
                      info.fill[0].i == 0 && info.fill_from[0] == H5CL_CF_FILL_HDF5,
                  "user-defined 0: flags %#x", info.flags);
    uint64_t zeros = 0;
    tu_array dec;
    tu_array_init(&dec, tu_dev.has_fp64 ? H5CL_FLOAT64 : H5CL_FLOAT32, 1, dims);
    for (uint64_t i = 0; i < a.n; i++) {
        int64_t v = tu_get_i(&a, i);
        zeros += v == 0;
        tu_set_f(&dec, i, v == 0 ? NAN : (double)v);
    }
    st = tu_compute(ds, &o, "zero fill");
    ref = tu_reference(&dec, NULL, -1, &n, &rank, rdims);
    tu_check_stats(st, ref, n, rank, rdims, tu_tolerance(&tu_dev), "zero fill");
    ck_assert_msg(h5cl_stats_masked(st) == zeros, "zero fill: masked %llu of %llu",
                  (unsigned long long)h5cl_stats_masked(st),
                  (unsigned long long)zeros);
}
END_TEST

/* Attributes the library cannot interpret: a clear refusal naming them,
 * from h5cl_dataset_cf_info and from a run alike; never a crash. */
typedef struct bad_attr {
    const char *what;
    h5cl_dtype dtype;
    attr_spec attr;
    const char *says; /* in the message besides the attribute's name */
} bad_attr;

static const bad_attr bad[] = {
    {"string _FillValue", H5CL_INT16,
     {"_FillValue", STR_FIXED, 0, {0}, "-999"}, "string"},
    {"compound scale_factor", H5CL_INT16,
     {"scale_factor", COMPOUND, 0, {0}, NULL}, "compound"},
    {"long double add_offset", H5CL_INT16,
     {"add_offset", LDOUBLE, 1, {1}, NULL}, "float"},
    {"valid_range of three", H5CL_INT16,
     {"valid_range", H5CL_INT16, 3, {0, 5, 10}, NULL}, "3 values"},
    {"valid_range of one", H5CL_INT16,
     {"valid_range", H5CL_INT16, 1, {0}, NULL}, "two"},
    {"empty valid_range", H5CL_INT16,
     {"valid_range", H5CL_INT16, 2, {10, 5}, NULL}, "empty"},
    {"numeric _Unsigned", H5CL_INT16,
     {"_Unsigned", H5CL_INT32, 0, {1}, NULL}, "string"},
    {"fractional fill of integer data", H5CL_INT16,
     {"_FillValue", H5CL_FLOAT64, 1, {1.5L}, NULL}, "whole number"},
    {"fill beyond the data's type", H5CL_INT16,
     {"_FillValue", H5CL_INT32, 1, {70000}, NULL}, "outside"},
    {"NaN valid_min", H5CL_FLOAT32,
     {"valid_min", H5CL_FLOAT32, 1, {NAN}, NULL}, "NaN"},
    {"valid_min above every value", H5CL_UINT8,
     {"valid_min", H5CL_INT32, 1, {300}, NULL}, "every element"},
    {"nine missing values", H5CL_INT16,
     {"missing_value", H5CL_INT16, 9, {1, 2, 3, 4, 5, 6, 7, 8, 9}, NULL},
     "9 values"},
    {"two _FillValues", H5CL_INT16,
     {"_FillValue", H5CL_INT16, 2, {1, 2}, NULL}, "2 values"},
    {"infinite scale_factor", H5CL_INT16,
     {"scale_factor", H5CL_FLOAT64, 1, {INFINITY}, NULL}, "finite"},
};
#define NBAD ((int)(sizeof bad / sizeof bad[0]))

START_TEST(test_cf_refused)
{
    const bad_attr *b = &bad[_i];
    const uint64_t dims[1] = {100};
    const char *file = tu_path("bad.nc");
    tu_array a;
    tu_array_init(&a, b->dtype, 1, dims);
    write_var(file, "/v", &a, 0, NULL, &b->attr, 1);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    h5cl_cf_info info;
    int rc = h5cl_dataset_cf_info(ds, 1, 1, &info);
    const char *msg = h5cl_ctx_errmsg(tu_ctx);
    ck_assert_msg(rc == H5CL_ERR_UNSUPPORTED_TYPE, "%s: %s: %s", b->what,
                  h5cl_errname(rc), msg);
    ck_assert_msg(strstr(msg, b->attr.name) && strstr(msg, "/v") &&
                      strstr(msg, b->says),
                  "%s: message \"%s\" lacks %s / %s", b->what, msg,
                  b->attr.name, b->says);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.cf = 1;
    o.mask_fill = 1;
    h5cl_stats *st = NULL;
    rc = h5cl_stats_compute(ds, &o, &st);
    ck_assert_msg(rc == H5CL_ERR_UNSUPPORTED_TYPE && st == NULL,
                  "%s: stats %s", b->what, h5cl_errname(rc));
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), b->attr.name) != NULL,
                  "%s: run message %s", b->what, h5cl_ctx_errmsg(tu_ctx));
    /* without the options the attribute is never read */
    rc = h5cl_stats_compute(ds, NULL, &st);
    ck_assert_msg(rc == H5CL_OK, "%s: plain run %s", b->what, h5cl_errname(rc));
    h5cl_stats_free(st);
}
END_TEST

/* Attributes mask_fill does not use are not read: a bad scale_factor or
 * valid_range is no obstacle to masking fill values. */
START_TEST(test_cf_unused_not_read)
{
    const uint64_t dims[1] = {1000};
    const char *file = tu_path("unused.nc");
    const attr_spec attrs[3] = {
        {"_FillValue", H5CL_INT16, 1, {7}, NULL},
        {"scale_factor", COMPOUND, 0, {0}, NULL},
        {"valid_range", STR_VLEN, 0, {0}, "0 10"}};
    tu_array a;
    tu_array_init(&a, H5CL_INT16, 1, dims);
    for (uint64_t i = 0; i < a.n; i++)
        tu_set_i(&a, i, (int64_t)(i % 10));
    write_var(file, "/v", &a, 0, NULL, attrs, 3);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.mask_fill = 1;
    h5cl_stats *st = tu_compute(ds, &o, "mask_fill beside bad attributes");
    ck_assert_msg(h5cl_stats_masked(st) == 100 &&
                      h5cl_stats_get(st, 0)->count == 900,
                  "masked %llu", (unsigned long long)h5cl_stats_masked(st));
    o.cf = 1;
    st = NULL;
    ck_assert(h5cl_stats_compute(ds, &o, &st) == H5CL_ERR_UNSUPPORTED_TYPE);
}
END_TEST

static void free_stats(void *p)
{
    h5cl_stats_free(p);
}

/* The attribute values reach the kernel with a decimal point whatever
 * the process's LC_NUMERIC.  Skipped where no decimal-comma locale
 * exists. */
START_TEST(test_cf_decimal_comma_locale)
{
    static const char *const locales[] = {"de_DE.UTF-8", "de_DE.utf8",
                                          "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *set = NULL;
    for (size_t i = 0; !set && i < sizeof locales / sizeof locales[0]; i++)
        set = setlocale(LC_NUMERIC, locales[i]);
    if (!set)
        return;
    char name[64];
    snprintf(name, sizeof name, "%s", set); /* setlocale reuses its text */
    const cf_case *c = &cases[0]; /* float32 scale and offset */
    tu_array raw, dec;
    const char *file = write_case(c, 0, &raw);
    const uint64_t want_masked = decode_all(c, &raw, &dec, tu_dev.has_fp64);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    h5cl_run_options o;
    case_options(c, &o);
    h5cl_stats *st = NULL;
    int rc = h5cl_stats_compute(ds, &o, &st);
    setlocale(LC_NUMERIC, "C");
    ck_assert_msg(rc == H5CL_OK, "%s under %s: %s: %s", c->what, name,
                  h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    tu_defer(free_stats, st);
    size_t n;
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    tu_ref *ref = tu_reference(&dec, NULL, -1, &n, &rank, dims);
    tu_check_stats(st, ref, n, rank, dims, tu_tolerance(&tu_dev), name);
    ck_assert(h5cl_stats_masked(st) == want_masked);
}
END_TEST

/* Argument checks. */
START_TEST(test_cf_arguments)
{
    h5cl_cf_info info;
    ck_assert(h5cl_dataset_cf_info(NULL, 1, 1, &info) ==
              H5CL_ERR_INVALID_ARGUMENT);
    ck_assert(h5cl_stats_masked(NULL) == 0);
    const uint64_t dims[1] = {10};
    tu_array a;
    tu_array_init(&a, H5CL_FLOAT32, 1, dims);
    const char *file = tu_path("args.h5");
    write_var(file, "/v", &a, 0, NULL, NULL, 0);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/v");
    ck_assert(h5cl_dataset_cf_info(ds, 1, 1, NULL) ==
              H5CL_ERR_INVALID_ARGUMENT);
    /* a map without an expression needs decoding */
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    m.out_file = tu_path("o.h5");
    m.out_path = "/o";
    ck_assert(h5cl_map_run(ds, NULL, &m, NULL) == H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

Suite *cf_suite(void)
{
    Suite *s = suite_create("cf");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_cf_info, 0, NCASES);
    tcase_add_loop_test(tc, test_cf_stats, 0, NCASES);
    tcase_add_loop_test(tc, test_cf_map, 0, NCASES);
    tcase_add_loop_test(tc, test_cf_hist_quantile, 0, 4);
    tcase_add_test(tc, test_cf_expr);
    tcase_add_test(tc, test_cf_hdf5_fill);
    suite_add_tcase(s, tc);

    tc = tcase_create("attributes");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_cf_refused, 0, NBAD);
    tcase_add_test(tc, test_cf_unused_not_read);
    tcase_add_test(tc, test_cf_arguments);
    tcase_add_test(tc, test_cf_decimal_comma_locale);
    suite_add_tcase(s, tc);
    return s;
}
