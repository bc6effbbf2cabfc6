/* libFuzzer target: the expression parser (lib/expr.c) and the OpenCL C
 * generator (lib/eval.c), without a device.
 *
 * The input is the expression text.  The rest of a run's setup (which of
 * the six bound variables are CF-decoded and with what fill values, valid
 * range and packing; the output type; fp64; the device's access pattern)
 * is drawn from a hash of the input, within the contract h5cl_cf_read
 * keeps (bounds never NaN, scale and offset finite, min <= max), so the
 * generator also sees hostile attribute values.  Checked on every input:
 *   - no crash, undefined behaviour or leak (ASan, UBSan, LSan);
 *   - a failure is H5CL_ERR_EXPRESSION with a message naming a column
 *     inside the text;
 *   - on success the expression's code contains only v<i> of variables
 *     the tree uses, whitelisted names, numbers and operators, stays under
 *     EXPR_CODE_PER_BYTE bytes per input byte and nests at most
 *     2 * H5CL_EXPR_MAX_DEPTH + 3 parentheses (expr.h's promise); the
 *     whole kernel contains only the generator's own scaffolding besides.
 * A violated property aborts with the offending text on stderr. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "expr.h"

/* The variables check_expr.c binds: every element type family. */
static const char *const names[] = {"x", "y", "z", "w", "u", "b"};
static const h5cl_dtype dtypes[] = {H5CL_FLOAT32, H5CL_INT16, H5CL_INT32,
                                    H5CL_FLOAT64, H5CL_UINT64, H5CL_UINT8};
#define NVARS 6

/* The longest code one byte of text may become: a one-digit literal
 * "1" is "((EV)1)", ".1" is "((EV)0.10000000000000001)" (12 a byte), a
 * boolean used as a number adds "(EV)(...)" around it. */
#define EXPR_CODE_PER_BYTE 16
#define EXPR_CODE_SLACK 64

/* Names the expression's code may contain besides v<i> (expr.c's fns
 * table and the prelude's helpers). */
static const char *const expr_words[] = {
    "EV", "NAN", "INFINITY", "h5cl_mod", "h5cl_clamp", "fabs", "sqrt",
    "cbrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin",
    "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "floor",
    "ceil", "rint", "trunc", "isnan", "isinf", "isfinite", "pow", "atan2",
    "fmin", "fmax", NULL};

/* And the kernel around it: pragmas, the prelude, the load functions of
 * decoded inputs (in<i>, h5cl_load<i> are checked apart), the loop, the
 * stores, and the words of its comments. */
static const char *const kernel_words[] = {
    "pragma", "OPENCL", "FP_CONTRACT", "OFF", "EXTENSION", "cl_khr_fp64",
    "enable", "typedef", "static", "const", "return", "if", "for", "void",
    "__kernel", "__global", "restrict", "char", "uchar", "short", "ushort",
    "int", "uint", "long", "ulong", "float", "double", "r", "a", "x", "lo",
    "hi",
    "mk", "nmask", "masked", "out", "n", "seg", "i", "b", "e", "fmod",
    "copysign", "get_global_id", "get_global_size", "min", "atomic_add",
    "h5cl_value", "h5cl_eval", "convert_char_sat", "convert_uchar_sat",
    "convert_short_sat", "convert_ushort_sat", "convert_int_sat",
    "convert_uint_sat", "convert_long_sat", "convert_ulong_sat",
    /* comments */
    "generated", "by", "h5cl", "from", "parsed", "expression", "fill",
    "and", "missing", "values", "outside", "the", "valid", "range", "each",
    NULL};

static h5cl_ctx *ctx;

static void fail(const char *what, const char *text, const char *code)
{
    fprintf(stderr, "fuzz_expr: %s\n  text: %s\n  code: %s\n", what, text,
            code ? code : "(none)");
    abort();
}

static int in_list(const char *const *list, const char *s, size_t len)
{
    for (; *list; list++)
        if (strlen(*list) == len && memcmp(*list, s, len) == 0)
            return 1;
    return 0;
}

/* "<prefix><decimal index>" with index < n. */
static int indexed(const char *prefix, const char *s, size_t len, size_t n,
                   size_t *idx)
{
    size_t pl = strlen(prefix);
    if (len <= pl || memcmp(s, prefix, pl) != 0 || len - pl > 3)
        return 0;
    size_t v = 0;
    for (size_t k = pl; k < len; k++) {
        if (!isdigit((unsigned char)s[k]))
            return 0;
        v = 10 * v + (size_t)(s[k] - '0');
    }
    *idx = v;
    return v < n;
}

typedef struct scan {
    const h5cl_expr *e;
    int whole_kernel; /* kernel_words and in<i>, h5cl_load<i> allowed too */
    int max_depth;
    int seen_var[NVARS];
    const char *at; /* where check_tokens stopped */
} scan;

static void fail_token(const char *what, const scan *sc, const char *text,
                       const char *code)
{
    fprintf(stderr, "fuzz_expr: at byte %zu: %.32s\n",
            (size_t)(sc->at - code), sc->at);
    fail(what, text, code);
}

/* Walks code token by token; returns NULL or what is wrong. */
static const char *check_tokens(const char *code, scan *sc)
{
    int depth = 0;
    sc->max_depth = 0;
    for (const char *s = code; *s;) {
        unsigned char c = (unsigned char)*s;
        sc->at = s;
        if (isalpha(c) || c == '_') {
            size_t len = 1;
            while (isalnum((unsigned char)s[len]) || s[len] == '_')
                len++;
            size_t k;
            if (indexed("v", s, len, NVARS, &k)) {
                /* the kernel declares them all as h5cl_value's
                 * parameters; the expression uses its own */
                if (!sc->whole_kernel && !h5cl_expr_uses(sc->e, k))
                    return "names a variable the tree does not use";
                sc->seen_var[k] = 1;
            } else if (!in_list(expr_words, s, len) &&
                       !(sc->whole_kernel &&
                         (in_list(kernel_words, s, len) ||
                          indexed("in", s, len, NVARS, &k) ||
                          indexed("h5cl_load", s, len, NVARS, &k)))) {
                return "an identifier outside the whitelist";
            }
            s += len;
        } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[1]))) {
            /* decimal and hexadecimal floating constants, suffixes */
            s++;
            while (isalnum((unsigned char)*s) || *s == '.' ||
                   ((*s == '+' || *s == '-') &&
                    strchr("eEpP", s[-1]) != NULL))
                s++;
        } else if (c == '(' || c == ')') {
            depth += c == '(' ? 1 : -1;
            if (depth < 0)
                return "unbalanced parentheses";
            if (depth > sc->max_depth)
                sc->max_depth = depth;
            s++;
        } else if (c == '/' && s[1] == '*') {
            s += 2; /* a comment's words are checked as tokens */
        } else if (c == '*' && s[1] == '/') {
            s += 2;
        } else if (strchr("+-*/%<>=!&|?:,;{}[]#. \n", c)) {
            /* the kernel's loop has its i++; the expression none */
            if ((c == '-' || c == '+') && s[1] == c &&
                !(sc->whole_kernel && c == '+'))
                return "'--' or '++'";
            s++;
        } else {
            return "a byte outside the OpenCL C the generator writes";
        }
    }
    return depth ? "unbalanced parentheses" : NULL;
}

/* ---- the setup drawn from the input ---- */

static uint64_t rng;

static uint64_t next(void)
{
    /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A double of any bit pattern half the time (NaN, inf, subnormals), a
 * small whole number otherwise (the usual attribute values). */
static double any_double(void)
{
    uint64_t bits = next();
    if (bits & 1) {
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    return (double)((int64_t)(bits >> 8) % 70000);
}

/* A value of raw type t in its kind; NaN only where allowed. */
static h5cl_scalar any_value(h5cl_dtype t, int nan_ok)
{
    h5cl_scalar v;
    if (t >= H5CL_FLOAT32) {
        double d = any_double();
        if (isnan(d) && !nan_ok)
            d = 0;
        if (t == H5CL_FLOAT32)
            d = isfinite(d) && fabs(d) > 3.4e38 ? copysign(INFINITY, d)
                                                : (double)(float)d;
        v.f = d;
    } else {
        unsigned bits = 8 * (unsigned)h5cl_dtype_size(t);
        uint64_t u = next();
        if (bits < 64)
            u &= ((uint64_t)1 << bits) - 1;
        if (t % 2 == 0) { /* signed: sign-extend */
            int64_t i = (int64_t)(u << (64 - bits)) >> (64 - bits);
            v.i = i;
        } else {
            v.u = u;
        }
    }
    return v;
}

static int less(h5cl_dtype t, h5cl_scalar a, h5cl_scalar b)
{
    return t >= H5CL_FLOAT32 ? a.f < b.f
           : t % 2 == 0      ? a.i < b.i
                             : a.u < b.u;
}

static void draw_cf(h5cl_cf_info *cf, h5cl_dtype dt)
{
    memset(cf, 0, sizeof *cf);
    cf->dtype = cf->raw_dtype = cf->value_dtype = dt;
    cf->scale_factor = 1;
    uint64_t r = next();
    if (r & 1)
        return; /* read as stored */
    if (dt < H5CL_FLOAT32 && dt % 2 == 0 && (r & 2)) {
        cf->raw_dtype = (h5cl_dtype)(dt + 1);
        cf->flags |= H5CL_CF_UNSIGNED;
    }
    const h5cl_dtype t = cf->raw_dtype;
    cf->nfill = (unsigned)((r >> 2) % (H5CL_CF_MAX_FILL + 1));
    for (unsigned k = 0; k < cf->nfill; k++) {
        cf->fill[k] = any_value(t, 1);
        cf->flags |= cf->fill_from[k] = H5CL_CF_FILL_VALUE;
    }
    if (r & 64)
        cf->flags |= H5CL_CF_VALID_MIN;
    if (r & 128)
        cf->flags |= H5CL_CF_VALID_MAX;
    cf->valid_min = any_value(t, 0);
    cf->valid_max = any_value(t, 0);
    if (less(t, cf->valid_max, cf->valid_min)) {
        h5cl_scalar s = cf->valid_min;
        cf->valid_min = cf->valid_max;
        cf->valid_max = s;
    }
    for (int i = 0; i < 2; i++) {
        if (!(r & (256u << i)))
            continue;
        double d = any_double();
        *(i ? &cf->add_offset : &cf->scale_factor) = isfinite(d) ? d : 0.5;
        cf->flags |= i ? H5CL_CF_OFFSET : H5CL_CF_SCALE;
    }
    if (cf->flags & (H5CL_CF_SCALE | H5CL_CF_OFFSET))
        cf->value_dtype = (r & 1024) ? H5CL_FLOAT32 : H5CL_FLOAT64;
    if (cf->flags == 0)
        cf->flags = H5CL_CF_FILL_HDF5; /* decoded, with nothing to mask */
}

/* ---- the target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        abort();
    return 0;
}

static void check_failure(int st, const char *text)
{
    if (st != H5CL_ERR_EXPRESSION)
        fail("a failure that is not H5CL_ERR_EXPRESSION", text,
             h5cl_ctx_errmsg(ctx));
    const char *msg = h5cl_ctx_errmsg(ctx);
    unsigned long col;
    if (sscanf(msg, "expression column %lu:", &col) != 1 || col < 1 ||
        col > strnlen(text, H5CL_EXPR_MAX_LEN + 1) + 1)
        fail("an error message that names no column inside the text", text,
             msg);
}

static void check_success(const h5cl_expr *e, const h5cl_inputs *in,
                          const char *text, int out, int fp64, int contig)
{
    char *body = h5cl_expr_to_opencl(e);
    if (!body)
        fail("h5cl_expr_to_opencl returned NULL", text, NULL);
    scan sc = {.e = e};
    const char *bad = check_tokens(body, &sc);
    if (bad)
        fail_token(bad, &sc, text, body);
    if (sc.max_depth > 2 * H5CL_EXPR_MAX_DEPTH + 3)
        fail("nesting deeper than expr.h promises", text, body);
    if (strlen(body) > EXPR_CODE_PER_BYTE * strlen(text) + EXPR_CODE_SLACK)
        fail("code longer than its bound", text, body);
    for (size_t k = 0; k < NVARS; k++)
        if (h5cl_expr_uses(e, k) && !sc.seen_var[k])
            fail("a variable the tree uses is missing from the code", text,
                 body);
    const int body_depth = sc.max_depth;
    free(body);

    h5cl_dtype od = out < 0 ? h5cl_expr_result_dtype(e) : (h5cl_dtype)out;
    char *src = h5cl_eval_source(e, in, od, fp64, contig);
    if (!src)
        fail("h5cl_eval_source returned NULL", text, NULL);
    scan whole = {.e = e, .whole_kernel = 1};
    bad = check_tokens(src, &whole);
    if (bad)
        fail_token(bad, &whole, text, src);
    /* the kernel's own nesting around the body is a few levels */
    if (whole.max_depth > body_depth + 4)
        fail("the kernel nests deeper than the expression", text, src);
    free(src);

    double vars[NVARS];
    for (size_t k = 0; k < NVARS; k++)
        vars[k] = any_double();
    (void)h5cl_expr_eval_host(e, vars);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > H5CL_EXPR_MAX_LEN + 2)
        return -1; /* the length limit itself is a unit test */
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    /* FNV-1a of the input seeds the setup */
    rng = 0xcbf29ce484222325u;
    for (size_t i = 0; i < size; i++)
        rng = (rng ^ data[i]) * 0x100000001b3u;
    h5cl_inputs in;
    memset(&in, 0, sizeof in);
    in.n = NVARS;
    h5cl_dtype types[NVARS];
    uint64_t r = next();
    int out = (int)(r % (H5CL_DTYPE_COUNT + 1)) - 1;
    int fp64 = (r >> 8) & 1;
    int contig = (r >> 9) & 1;
    /* without fp64 h5cl_eval_create refuses float64 inputs and outputs
     * before generating anything: w is bound as float32 then */
    if (out == H5CL_FLOAT64)
        fp64 = 1;
    for (size_t k = 0; k < NVARS; k++) {
        h5cl_dtype dt = dtypes[k] == H5CL_FLOAT64 && !fp64 ? H5CL_FLOAT32
                                                           : dtypes[k];
        in.names[k] = names[k];
        in.dtypes[k] = dt;
        draw_cf(&in.cf[k], dt);
        /* the decoded variables' types, as h5cl_eval_create parses */
        types[k] = in.cf[k].flags ? in.cf[k].value_dtype : dt;
    }

    h5cl_expr *e = NULL;
    int st = h5cl_expr_parse(ctx, text, names, types, NVARS, &e);
    if (st == H5CL_OK) {
        if (!fp64 && h5cl_expr_result_dtype(e) == H5CL_FLOAT64 && out < 0)
            out = H5CL_FLOAT32; /* what a caller without fp64 must ask */
        check_success(e, &in, text, out, fp64, contig);
        h5cl_expr_free(e);
    } else {
        check_failure(st, text);
    }
    free(text);
    return 0;
}
