/* Expression kernels: the inputs of a run, the OpenCL C generated from a
 * parsed expression (never from the user's text), and its per-tile launch.
 * CPU devices get one contiguous segment per work-item, GPUs a grid-stride
 * loop, as in kernels/stats.cl. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <locale.h>
#include <math.h>

#include "cf.h"
#include "device.h"
#include "eval.h"
#include "expr.h"
#include "program.h"

struct h5cl_eval {
    h5cl_expr *expr;
    cl_kernel kernel;
    size_t ninputs;
    h5cl_dtype out;
    int decode;        /* the kernel has the `masked` argument          */
    int contiguous;
    size_t max_groups;
    size_t local;
};

static int same_shape(const h5cl_dataset *a, const h5cl_dataset *b)
{
    if (a->info.rank != b->info.rank)
        return 0;
    for (int d = 0; d < a->info.rank; d++)
        if (a->info.dims[d] != b->info.dims[d])
            return 0;
    return 1;
}

static void shape_text(const h5cl_dataset *ds, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < ds->info.rank && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, "%s%llu", d ? ", " : "",
                              (unsigned long long)ds->info.dims[d]);
    if (o < len)
        snprintf(buf + o, len - o, ")");
}

int h5cl_inputs_collect(h5cl_ctx *ctx, h5cl_dataset *ds,
                        const h5cl_run_options *opts, h5cl_inputs *in)
{
    memset(in, 0, sizeof *in);
    if (opts->nwith && !opts->expr)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "extra inputs (with) need an expression that uses "
                         "them");
    if (opts->nwith >= H5CL_MAX_INPUTS)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "%zu inputs; at most %d datasets per run",
                         opts->nwith + 1, H5CL_MAX_INPUTS);
    if (opts->nwith && !opts->with)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "nwith is %zu but with is NULL", opts->nwith);
    in->n = 1 + opts->nwith;
    in->ds[0] = ds;
    in->names[0] = opts->name && *opts->name ? opts->name : "x";
    for (size_t i = 0; i < opts->nwith; i++) {
        in->ds[i + 1] = opts->with[i].ds;
        in->names[i + 1] = opts->with[i].name;
    }
    for (size_t i = 0; i < in->n; i++) {
        if (!in->ds[i] || !in->names[i] || !*in->names[i])
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "input %zu has no dataset or no name", i);
        if (in->ds[i]->ctx != ctx)
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "%s was opened with another context",
                             in->ds[i]->info.path);
        in->dtypes[i] = in->ds[i]->info.dtype;
        for (size_t j = 0; j < i; j++)
            if (strcmp(in->names[i], in->names[j]) == 0)
                return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                                 "the name '%s' is bound twice", in->names[i]);
        int st = h5cl_cf_read(ctx, in->ds[i], opts->cf, opts->mask_fill,
                              &in->cf[i]);
        if (st != H5CL_OK)
            return st;
        if (in->cf[i].flags)
            in->decode = 1;
        if (!same_shape(in->ds[0], in->ds[i])) {
            char a[256], b[256];
            shape_text(in->ds[0], a, sizeof a);
            shape_text(in->ds[i], b, sizeof b);
            return h5cl_fail(ctx, H5CL_ERR_SHAPE,
                             "%s (%s in %s) has shape %s but %s (%s in %s) "
                             "has shape %s; inputs must have one shape",
                             in->names[0], in->ds[0]->info.path,
                             in->ds[0]->info.file, a, in->names[i],
                             in->ds[i]->info.path, in->ds[i]->info.file, b);
        }
    }
    return H5CL_OK;
}

h5cl_dtype h5cl_eval_acc_dtype(const h5cl_ctx *ctx)
{
    return ctx->dev.info.has_fp64 ? H5CL_FLOAT64 : H5CL_FLOAT32;
}

/* Appends to a growing string; *ok turns 0 when memory runs out. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int ok;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (!b->ok)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->ok = 0;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->ok = 0;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* How a value of type EV becomes an output element: float types by a
 * cast; integers saturate and truncate toward zero, as numpy's astype
 * does for values in range.  NaN becomes 0: OpenCL's _sat conversions
 * promise that, but NVIDIA's (driver 580, H200) give the type's minimum,
 * so the test is spelled out. */
static void put_store(sbuf *b, h5cl_dtype out)
{
    const char *t = h5cl_program_cl_type(out);
    if (out >= H5CL_FLOAT32)
        put(b, "(%s)(r)", t);
    else
        put(b, "(isnan(r) ? (%s)0 : convert_%s_sat(r))", t, t);
}

/* ---- decoding (fill values and CF conventions) ---- */

/* Whether input i is loaded through its decode function. */
static int decoded(const h5cl_expr *e, const h5cl_inputs *in, size_t i)
{
    return in->cf[i].flags != 0 && h5cl_expr_uses(e, i);
}

/* An attribute's value, exactly, as a literal of the raw type t: integers
 * with suffixes, floats as hexadecimal floating constants.  Only numbers
 * the library read and converted are printed, never text. */
static void put_raw(sbuf *b, h5cl_dtype t, h5cl_scalar v)
{
    const char *ct = h5cl_program_cl_type(t);
    if (t == H5CL_FLOAT32 || t == H5CL_FLOAT64) {
        const char *suffix = t == H5CL_FLOAT32 ? "f" : "";
        if (isinf(v.f))
            put(b, "(%s(%s)INFINITY)", v.f < 0 ? "-" : "", ct);
        else
            put(b, "(%a%s)", v.f, suffix);
    } else if (t % 2 == 0) {
        if (v.i == INT64_MIN)
            put(b, "((long)(-9223372036854775807L - 1L))");
        else
            put(b, "((%s)%lldL)", ct, (long long)v.i);
    } else {
        put(b, "((%s)%lluUL)", ct, (unsigned long long)v.u);
    }
}

/* A (finite) double as an EV literal: exact with fp64, else rounded to
 * float, which may overflow. */
static void put_ev(sbuf *b, double d, int fp64)
{
    const double f = (float)d;
    if (fp64)
        put(b, "((EV)%a)", d);
    else if (isinf(f))
        put(b, "(%s(EV)INFINITY)", f < 0 ? "-" : "");
    else
        put(b, "((EV)%af)", f);
}

/* Whether an inclusive bound of integer type t excludes nothing (the
 * type's least value as a minimum, its greatest as a maximum). */
static int bound_trivial(h5cl_dtype t, h5cl_scalar v, int upper)
{
    if (t >= H5CL_FLOAT32)
        return 0;
    const unsigned bits = 8 * (unsigned)h5cl_dtype_size(t);
    if (t % 2 == 1) /* unsigned */
        return upper ? v.u == (bits == 64 ? UINT64_MAX
                                          : ((uint64_t)1 << bits) - 1)
                     : v.u == 0;
    const int64_t max = bits == 64 ? INT64_MAX
                                   : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
    return upper ? v.i == max : v.i == -max - 1;
}

/* h5cl_load<i>: the decoded value of one raw element of input i, NaN
 * (and *mk = 1) when masked.  Comparisons are made in the raw type. */
static void put_load(sbuf *b, size_t i, const h5cl_cf_info *cf, int fp64)
{
    const h5cl_dtype t = cf->raw_dtype;
    put(b, "static EV h5cl_load%zu(const %s r, uint *mk)\n{\n", i,
        h5cl_program_cl_type(t));
    if (cf->nfill) {
        put(b, "    /* fill and missing values */\n    if (");
        for (unsigned k = 0; k < cf->nfill; k++) {
            put(b, "%s", k ? " || " : "");
            if (t >= H5CL_FLOAT32 && isnan(cf->fill[k].f)) {
                put(b, "isnan(r)");
            } else {
                put(b, "r == ");
                put_raw(b, t, cf->fill[k]);
            }
        }
        put(b, ") {\n        *mk = 1;\n        return (EV)NAN;\n    }\n");
    }
    const int lo = (cf->flags & H5CL_CF_VALID_MIN) &&
                   !bound_trivial(t, cf->valid_min, 0);
    const int hi = (cf->flags & H5CL_CF_VALID_MAX) &&
                   !bound_trivial(t, cf->valid_max, 1);
    if (lo || hi) {
        put(b, "    /* outside the valid range */\n    if (");
        if (lo) {
            put(b, "r < ");
            put_raw(b, t, cf->valid_min);
        }
        if (hi) {
            put(b, "%sr > ", lo ? " || " : "");
            put_raw(b, t, cf->valid_max);
        }
        put(b, ") {\n        *mk = 1;\n        return (EV)NAN;\n    }\n");
    }
    put(b, "    return (EV)r");
    if (cf->flags & H5CL_CF_SCALE) {
        put(b, " * ");
        put_ev(b, cf->scale_factor, fp64);
    }
    if (cf->flags & H5CL_CF_OFFSET) {
        put(b, " + ");
        put_ev(b, cf->add_offset, fp64);
    }
    put(b, ";\n}\n\n");
}

/* The whole program text for expression e over the inputs (eval.h). */
char *h5cl_eval_source(const h5cl_expr *e, const h5cl_inputs *in,
                       h5cl_dtype out, int fp64, int contiguous)
{
    char *body = h5cl_expr_to_opencl(e);
    if (!body)
        return NULL;
    sbuf b = {malloc(4096), 0, 4096, 1};
    if (!b.s) {
        free(body);
        return NULL;
    }
    b.s[0] = '\0';
    /* no fused multiply-adds: the values must be numpy's (and the host
     * evaluator's), rounded after every operation */
    put(&b, "/* generated by h5cl from a parsed expression */\n"
            "#pragma OPENCL FP_CONTRACT OFF\n");
    if (fp64)
        put(&b, "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
                "typedef double EV;\n");
    else
        put(&b, "typedef float EV;\n");
    put(&b, "%s\n", h5cl_expr_prelude());
    /* attribute values are printed in the C locale (a decimal point,
     * never a comma), switched for this thread only */
    int decode = 0;
    locale_t c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = c_numeric ? uselocale(c_numeric) : (locale_t)0;
    b.ok &= c_numeric != (locale_t)0;
    for (size_t i = 0; b.ok && i < in->n; i++)
        if (decoded(e, in, i)) {
            put_load(&b, i, &in->cf[i], fp64);
            decode = 1;
        }
    if (c_numeric) {
        uselocale(old);
        freelocale(c_numeric);
    }
    put(&b, "static EV h5cl_value(");
    for (size_t i = 0; i < in->n; i++)
        put(&b, "%sconst EV v%zu", i ? ", " : "", i);
    put(&b, ")\n{\n    return %s;\n}\n\n", body);
    put(&b, "__kernel void h5cl_eval(");
    for (size_t i = 0; i < in->n; i++)
        put(&b, "__global const %s *restrict in%zu, ",
            h5cl_program_cl_type(decoded(e, in, i) ? in->cf[i].raw_dtype
                                                   : in->dtypes[i]),
            i);
    put(&b, "__global %s *restrict out, const ulong n, const ulong seg%s)\n"
            "{\n",
        h5cl_program_cl_type(out), decode ? ", __global uint *masked" : "");
    /* each work-item counts its masked elements privately, then adds
     * them once */
    if (decode)
        put(&b, "    uint nmask = 0;\n");
    if (contiguous)
        put(&b, "    const ulong b = (ulong)get_global_id(0) * seg;\n"
                "    const ulong e = min(b + seg, n);\n"
                "    for (ulong i = b; i < e; i++) {\n");
    else
        put(&b, "    for (ulong i = get_global_id(0); i < n; "
                "i += get_global_size(0)) {\n");
    if (decode)
        put(&b, "        uint mk = 0;\n");
    put(&b, "        const EV r = h5cl_value(");
    for (size_t i = 0; i < in->n; i++) {
        if (decoded(e, in, i))
            put(&b, "%sh5cl_load%zu(in%zu[i], &mk)", i ? ", " : "", i, i);
        else
            put(&b, "%s(EV)in%zu[i]", i ? ", " : "", i);
    }
    put(&b, ");\n");
    if (decode)
        put(&b, "        nmask += mk;\n");
    put(&b, "        out[i] = ");
    put_store(&b, out);
    put(&b, ";\n    }\n");
    if (decode)
        put(&b, "    if (masked && nmask)\n"
                "        atomic_add(masked, nmask);\n");
    put(&b, "}\n");
    free(body);
    if (!b.ok) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static int check_fp64(h5cl_ctx *ctx, const h5cl_inputs *in, h5cl_dtype out)
{
    if (ctx->dev.info.has_fp64)
        return H5CL_OK;
    for (size_t i = 0; i < in->n; i++)
        if (in->dtypes[i] == H5CL_FLOAT64)
            return h5cl_fail(ctx, H5CL_ERR_UNSUPPORTED_DEVICE,
                             "%s is float64 but %s has no fp64 support; "
                             "choose another device",
                             in->ds[i]->info.path, ctx->dev.info.device_name);
    if (out == H5CL_FLOAT64)
        return h5cl_fail(ctx, H5CL_ERR_UNSUPPORTED_DEVICE,
                         "a float64 output needs fp64, which %s lacks; "
                         "choose float32",
                         ctx->dev.info.device_name);
    return H5CL_OK;
}

int h5cl_eval_create(h5cl_ctx *ctx, const char *expr, const h5cl_inputs *in,
                     int out_dtype, h5cl_eval **ev_ret)
{
    *ev_ret = NULL;
    if (out_dtype < -1 || out_dtype >= H5CL_DTYPE_COUNT)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "output type %d is not an h5cl_dtype", out_dtype);
    h5cl_eval *ev = calloc(1, sizeof *ev);
    if (!ev)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    ev->ninputs = in->n;
    ev->contiguous = h5cl_device_contiguous(&ctx->dev);
    /* the decoded variables' types set the default output type */
    h5cl_dtype types[H5CL_MAX_INPUTS];
    for (size_t i = 0; i < in->n; i++)
        types[i] = in->cf[i].flags ? in->cf[i].value_dtype : in->dtypes[i];
    int st = h5cl_expr_parse(ctx, expr ? expr : in->names[0], in->names,
                             types, in->n, &ev->expr);
    if (st != H5CL_OK) {
        free(ev);
        return st;
    }
    ev->out = out_dtype < 0 ? h5cl_expr_result_dtype(ev->expr)
                            : (h5cl_dtype)out_dtype;
    for (size_t i = 0; i < in->n; i++)
        ev->decode |= decoded(ev->expr, in, i);
    st = check_fp64(ctx, in, ev->out);
    char *src = NULL;
    if (st == H5CL_OK) {
        src = h5cl_eval_source(ev->expr, in, ev->out, ctx->dev.info.has_fp64,
                               ev->contiguous);
        if (!src)
            st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    cl_program prog;
    if (st == H5CL_OK) {
        st = h5cl_program_build(ctx, "a generated expression kernel", src,
                                strlen(src), "-cl-std=CL1.2", &prog);
        /* our translation is at fault, never the user's text */
        if (st == H5CL_ERR_BUILD)
            h5cl_msg_append(ctx, "\nthis is a bug in h5cl; the generated "
                                 "source was:\n%s", src);
    }
    free(src);
    cl_int err;
    if (st == H5CL_OK && !(ev->kernel = clCreateKernel(prog, "h5cl_eval", &err)))
        st = h5cl_fail_cl(ctx, err, "clCreateKernel", "h5cl_eval");
    if (st != H5CL_OK) {
        h5cl_eval_free(ev);
        return st;
    }
    const unsigned cu = ctx->dev.info.compute_units ? ctx->dev.info.compute_units : 1;
    ev->max_groups = ev->contiguous ? 4 * cu : 64 * cu;
    ev->local = ctx->dev.max_work_group_size < 256 ? ctx->dev.max_work_group_size : 256;
    *ev_ret = ev;
    return H5CL_OK;
}

h5cl_dtype h5cl_eval_out_dtype(const h5cl_eval *ev)
{
    return ev->out;
}

int h5cl_eval_decodes(const h5cl_eval *ev)
{
    return ev->decode;
}

int h5cl_eval_enqueue(h5cl_eval *ev, h5cl_ctx *ctx, uint64_t n,
                      const cl_mem *inputs, cl_mem out, cl_event ready,
                      cl_event *done_ret)
{
    return h5cl_eval_enqueue_masked(ev, ctx, n, inputs, out, NULL, ready,
                                    done_ret);
}

int h5cl_eval_enqueue_masked(h5cl_eval *ev, h5cl_ctx *ctx, uint64_t n,
                             const cl_mem *inputs, cl_mem out, cl_mem masked,
                             cl_event ready, cl_event *done_ret)
{
    cl_ulong nn = n, seg = 0;
    size_t global, local;
    if (ev->contiguous) {
        /* segments of at least 16 Ki elements, a few per core */
        cl_ulong groups = (n + 16383) / 16384;
        if (groups > ev->max_groups)
            groups = ev->max_groups;
        if (groups == 0)
            groups = 1;
        seg = (n + groups - 1) / groups;
        global = (size_t)((n + seg - 1) / (seg ? seg : 1));
        if (global == 0)
            global = 1;
        local = 1;
    } else {
        local = ev->local;
        cl_ulong groups = (n + local - 1) / local;
        if (groups > ev->max_groups)
            groups = ev->max_groups;
        if (groups == 0)
            groups = 1;
        global = (size_t)groups * local;
    }
    /* the inputs, the output, n, the segment and, when decoding, the
     * masked counter (a NULL buffer is a NULL pointer in the kernel:
     * nothing counted) */
    h5cl_karg args[H5CL_MAX_INPUTS + 4];
    size_t na = 0;
    for (size_t i = 0; i < ev->ninputs; i++)
        args[na++] = (h5cl_karg){sizeof(cl_mem), &inputs[i]};
    args[na++] = (h5cl_karg){sizeof(cl_mem), &out};
    args[na++] = (h5cl_karg){sizeof nn, &nn};
    args[na++] = (h5cl_karg){sizeof seg, &seg};
    if (ev->decode)
        args[na++] = (h5cl_karg){sizeof(cl_mem), &masked};
    int st = h5cl_kernel_args(ctx, ev->kernel, 0, args, na,
                              "the expression kernel");
    if (st != H5CL_OK)
        return st;
    cl_int err;
    if (ev->decode && masked) {
        const cl_uint zero = 0;
        err = clEnqueueFillBuffer(ctx->dev.comp, masked, &zero, sizeof zero,
                                  0, sizeof zero, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return h5cl_fail_cl(ctx, err, "clEnqueueFillBuffer",
                                "zeroing the tile's masked count");
    }
    err = clEnqueueNDRangeKernel(ctx->dev.comp, ev->kernel, 1, NULL, &global,
                                 &local, ready ? 1 : 0, ready ? &ready : NULL,
                                 done_ret);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueNDRangeKernel",
                            "evaluating the expression");
    return H5CL_OK;
}

void h5cl_eval_free(h5cl_eval *ev)
{
    if (!ev)
        return;
    if (ev->kernel)
        clReleaseKernel(ev->kernel);
    h5cl_expr_free(ev->expr);
    free(ev);
}

/* ---- masked counts ---- */

#define COUNT_BYTES 4096 /* one page per slot: USE_HOST_PTR wants pages */

struct h5cl_masked {
    unsigned nslots;
    int zero_copy;
    cl_uint **host; /* per slot, page-aligned */
    cl_mem *dev;    /* per slot */
};

int h5cl_masked_create(h5cl_ctx *ctx, unsigned slots, h5cl_masked **m_ret)
{
    *m_ret = NULL;
    h5cl_masked *m = calloc(1, sizeof *m);
    if (!m)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    m->nslots = slots;
    m->zero_copy = h5cl_device_zero_copy(&ctx->dev);
    m->host = calloc(slots, sizeof *m->host);
    m->dev = calloc(slots, sizeof *m->dev);
    if (!m->host || !m->dev) {
        h5cl_masked_free(m);
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    for (unsigned i = 0; i < slots; i++) {
        cl_int err;
        m->host[i] = aligned_alloc(COUNT_BYTES, COUNT_BYTES);
        if (!m->host[i]) {
            h5cl_masked_free(m);
            return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
        }
        m->host[i][0] = 0;
        m->dev[i] = clCreateBuffer(
            ctx->dev.context,
            m->zero_copy ? CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR
                         : CL_MEM_READ_WRITE,
            m->zero_copy ? COUNT_BYTES : sizeof(cl_uint),
            m->zero_copy ? m->host[i] : NULL, &err);
        if (!m->dev[i]) {
            h5cl_masked_free(m);
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating the masked counts");
        }
    }
    *m_ret = m;
    return H5CL_OK;
}

cl_mem h5cl_masked_buffer(const h5cl_masked *m, unsigned slot)
{
    return m->dev[slot];
}

int h5cl_masked_read(h5cl_masked *m, h5cl_ctx *ctx, unsigned slot,
                     cl_event after, cl_event *last_ret)
{
    if (m->zero_copy) {
        *last_ret = after;
        return H5CL_OK;
    }
    cl_int err = clEnqueueReadBuffer(ctx->dev.comp, m->dev[slot], CL_FALSE, 0,
                                     sizeof(cl_uint), m->host[slot], 1, &after,
                                     last_ret);
    clReleaseEvent(after);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueReadBuffer",
                            "reading a tile's masked count back");
    return H5CL_OK;
}

uint32_t h5cl_masked_value(const h5cl_masked *m, unsigned slot)
{
    return m->host[slot][0];
}

void h5cl_masked_free(h5cl_masked *m)
{
    if (!m)
        return;
    for (unsigned i = 0; i < m->nslots; i++) {
        if (m->dev && m->dev[i])
            clReleaseMemObject(m->dev[i]);
        if (m->host)
            free(m->host[i]);
    }
    free(m->dev);
    free(m->host);
    free(m);
}
