/* The linear-algebra ops over the rows of a 2-D dataset.
 *
 * Covariance: per tile, the values are evaluated into a scratch buffer
 * (the accumulation type), kernels/cov.cl shifts each column by an
 * estimate of its mean (taken from the first tile) and adds the shifted
 * column sums to a resident vector, and CLBlast's SYRK adds the tile's
 * Gram matrix into a resident p x p matrix.  Nothing comes back per tile;
 * after the run, the matrix and sums are read once and turned into the
 * state (lib/cov_state.c).
 *
 * Projection: per tile, the values are evaluated, centred on the PCA's
 * means, and CLBlast's GEMM multiplies them by the components into the
 * pipeline's output slot, which its writer stores (rows x k).
 *
 * Both need tiles of whole rows: the tile size is raised to one row of
 * chunks (or one row when contiguous) before planning. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cov_state.h"
#include "device.h"
#include "program.h"
#include "run.h"
#include "writer.h"

typedef struct rows_op {
    h5cl_dtype acc;          /* what values are evaluated into          */
    size_t cols;
    h5cl_eval *eval;
    unsigned nslots;
    cl_mem *scratch;         /* per slot: the tile's values             */
    h5cl_masked *masked;     /* per slot, when the expression decodes   */
    cl_kernel kernel;        /* cov_shift_sum or cov_center             */
    uint64_t *masked_total;
    /* covariance: resident shift estimate, shifted column sums, Gram */
    cl_mem shift, sums, gram;
    /* projection: resident means and components (k x cols) */
    cl_mem mean, comps;
    size_t k;
} rows_op;

static void op_teardown(h5cl_op *op)
{
    rows_op *ro = op->impl;
    for (unsigned i = 0; ro->scratch && i < ro->nslots; i++)
        if (ro->scratch[i])
            clReleaseMemObject(ro->scratch[i]);
    free(ro->scratch);
    ro->scratch = NULL;
    h5cl_masked_free(ro->masked);
    ro->masked = NULL;
    if (ro->kernel)
        clReleaseKernel(ro->kernel);
    ro->kernel = NULL;
}

static int op_setup(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                    unsigned slots, const char *kname)
{
    rows_op *ro = op->impl;
    cl_program prog;
    int st = h5cl_program_get(ctx, "cov", ro->acc, &prog);
    if (st != H5CL_OK)
        return st;
    cl_int err;
    ro->kernel = clCreateKernel(prog, kname, &err);
    if (!ro->kernel)
        return h5cl_fail_cl(ctx, err, "clCreateKernel", kname);
    ro->nslots = slots;
    ro->scratch = calloc(slots, sizeof *ro->scratch);
    if (!ro->scratch) {
        op_teardown(op);
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    const size_t bytes = (size_t)(plan->max_tile_elems ? plan->max_tile_elems
                                                       : 1) *
                         h5cl_dtype_size(ro->acc);
    for (unsigned i = 0; i < slots; i++) {
        ro->scratch[i] = clCreateBuffer(ctx->dev.context, CL_MEM_READ_WRITE,
                                        bytes, NULL, &err);
        if (!ro->scratch[i]) {
            op_teardown(op);
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating a tile's matrix");
        }
    }
    if (h5cl_eval_decodes(ro->eval) &&
        (st = h5cl_masked_create(ctx, slots, &ro->masked)) != H5CL_OK) {
        op_teardown(op);
        return st;
    }
    return H5CL_OK;
}

static int cov_setup(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                     unsigned slots)
{
    return op_setup(op, ctx, plan, slots, "cov_shift_sum");
}

static int project_setup(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                         unsigned slots)
{
    return op_setup(op, ctx, plan, slots, "cov_center");
}

/* The expression's values into the slot's scratch, then the column
 * kernel over them (args 1.. set by the caller; arg 0 is the scratch). */
static int enqueue_columns(rows_op *ro, h5cl_ctx *ctx, unsigned slot,
                           const h5cl_tile *tile, const cl_mem *inputs,
                           cl_event ready, cl_event *kernel_ret)
{
    int st = h5cl_eval_enqueue_masked(
        ro->eval, ctx, tile->elems, inputs, ro->scratch[slot],
        ro->masked ? h5cl_masked_buffer(ro->masked, slot) : NULL, ready,
        kernel_ret);
    if (st != H5CL_OK)
        return st;
    const cl_ulong rows = tile->elems / ro->cols, cols = ro->cols;
    cl_int err = clSetKernelArg(ro->kernel, 0, sizeof(cl_mem),
                                &ro->scratch[slot]);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(ro->kernel, 1, sizeof rows, &rows);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(ro->kernel, 2, sizeof cols, &cols);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clSetKernelArg", "the column kernel");
    /* no event: the in-order compute queue runs it after the evaluation
     * and before the CLBlast call that follows */
    const size_t global = ro->cols;
    err = clEnqueueNDRangeKernel(ctx->dev.comp, ro->kernel, 1, NULL, &global,
                                 NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueNDRangeKernel",
                            "running the column kernel");
    return H5CL_OK;
}

/* After the op's CLBlast call: the masked count's read-back, if any. */
static int finish_tile(rows_op *ro, h5cl_ctx *ctx, unsigned slot,
                       cl_event *done_ret)
{
    return ro->masked ? h5cl_masked_read(ro->masked, ctx, slot, *done_ret,
                                         done_ret)
                      : H5CL_OK;
}

static int cov_enqueue(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                       const h5cl_tile *tile, const cl_mem *inputs,
                       cl_mem output, cl_event ready, cl_event *kernel_ret,
                       cl_event *done_ret)
{
    rows_op *ro = op->impl;
    const cl_int first = tile->index == 0;
    cl_int err = clSetKernelArg(ro->kernel, 3, sizeof(cl_mem), &ro->shift);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(ro->kernel, 4, sizeof(cl_mem), &ro->sums);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(ro->kernel, 5, sizeof first, &first);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clSetKernelArg", "cov_shift_sum");
    int st = enqueue_columns(ro, ctx, slot, tile, inputs, ready, kernel_ret);
    if (st == H5CL_OK)
        st = h5cl_blas_syrk(ctx, ro->acc, ro->cols, tile->elems / ro->cols,
                            ro->scratch[slot], ro->gram, done_ret);
    return st == H5CL_OK ? finish_tile(ro, ctx, slot, done_ret) : st;
}

static int project_enqueue(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                           const h5cl_tile *tile, const cl_mem *inputs,
                           cl_mem output, cl_event ready, cl_event *kernel_ret,
                           cl_event *done_ret)
{
    rows_op *ro = op->impl;
    cl_int err = clSetKernelArg(ro->kernel, 3, sizeof(cl_mem), &ro->mean);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clSetKernelArg", "cov_center");
    int st = enqueue_columns(ro, ctx, slot, tile, inputs, ready, kernel_ret);
    if (st == H5CL_OK)
        st = h5cl_blas_gemm_nt(ctx, ro->acc, tile->elems / ro->cols, ro->k,
                               ro->cols, ro->scratch[slot], ro->comps, output,
                               done_ret);
    return st == H5CL_OK ? finish_tile(ro, ctx, slot, done_ret) : st;
}

static int op_merge(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                    const h5cl_tile *tile)
{
    rows_op *ro = op->impl;
    if (ro->masked)
        *ro->masked_total += h5cl_masked_value(ro->masked, slot);
    return H5CL_OK;
}

/* ---- what both runs check and prepare ---- */

/* Largest p with a p x p matrix of elem-byte values in one allocation of
 * the device (or of H5CL_TEST_MAX_ALLOC, the tests' stand-in). */
static uint64_t max_columns(const h5cl_ctx *ctx, size_t elem)
{
    uint64_t lim = ctx->dev.info.max_alloc_bytes;
    const char *test = getenv("H5CL_TEST_MAX_ALLOC");
    if (test && *test && strtoull(test, NULL, 10) < lim)
        lim = strtoull(test, NULL, 10);
    uint64_t p = (uint64_t)sqrt((double)(lim / elem));
    while (p > 0 && p * p > lim / elem)
        p--;
    while ((p + 1) * (p + 1) <= lim / elem)
        p++;
    return p;
}

/* A 2-D selection of a number of columns a device matrix holds; raises
 * the tile size to whole rows (of chunks, when chunked). */
static int check_rows(h5cl_run *run, const char *what)
{
    h5cl_ctx *ctx = run->ctx;
    const h5cl_dataset *ds = run->in.ds[0];
    const h5cl_box *sel = &run->sel;
    if (ds->info.rank != 2)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "%s of %s in %s needs a 2-D dataset (rows x "
                         "columns); it has %d dimensions",
                         what, ds->info.path, ds->info.file, ds->info.rank);
    const uint64_t cols = sel->count[1];
    const size_t acc = h5cl_dtype_size(h5cl_eval_acc_dtype(ctx));
    const uint64_t fit = max_columns(ctx, acc);
    if (cols > fit)
        return h5cl_fail(ctx, H5CL_ERR_DEVICE_MEMORY,
                         "%s of %s in %s: %llu columns need a %llu x %llu "
                         "matrix of %zu-byte values on %s, whose largest "
                         "buffer holds at most %llu columns; select fewer "
                         "columns",
                         what, ds->info.path, ds->info.file,
                         (unsigned long long)cols, (unsigned long long)cols,
                         (unsigned long long)cols, acc,
                         ctx->dev.info.device_name, (unsigned long long)fit);
    uint64_t band = cols * h5cl_dtype_size(ds->info.dtype);
    if (ds->info.layout == H5CL_LAYOUT_CHUNKED && ds->info.chunk_dims[1]) {
        const uint64_t c1 = ds->info.chunk_dims[1];
        const uint64_t span = (sel->start[1] % c1 + cols + c1 - 1) / c1;
        band = span * c1 * ds->info.chunk_dims[0] *
               h5cl_dtype_size(ds->info.dtype);
    }
    if (run->tile_bytes < band)
        run->tile_bytes = band;
    return H5CL_OK;
}

/* The plan's tiles are whole rows: retries with smaller tiles (out of
 * device memory) may have split them. */
static int check_plan(h5cl_ctx *ctx, const h5cl_plan *plan,
                      const h5cl_dataset *ds)
{
    if (plan->ntiles == 0 || plan->grid[1] == 1)
        return H5CL_OK;
    return h5cl_fail(ctx, H5CL_ERR_DEVICE_MEMORY,
                     "%s in %s: a tile of whole rows (%llu bytes) does not "
                     "fit the device",
                     ds->info.path, ds->info.file,
                     (unsigned long long)(plan->tile_dims[1] *
                                          plan->elem_size));
}

static int make_buffer(h5cl_ctx *ctx, size_t bytes, const void *host,
                       cl_mem *buf_ret, const char *what)
{
    cl_int err;
    *buf_ret = clCreateBuffer(ctx->dev.context,
                              CL_MEM_READ_WRITE |
                                  (host ? CL_MEM_COPY_HOST_PTR : 0),
                              bytes ? bytes : 1, (void *)host, &err);
    if (!*buf_ret)
        return h5cl_fail_cl(ctx, err, "clCreateBuffer", what);
    return H5CL_OK;
}

/* Host doubles in the accumulation type (a new array), and back. */
static void *to_acc(const double *v, size_t n, h5cl_dtype acc)
{
    void *out = malloc((n ? n : 1) * h5cl_dtype_size(acc));
    for (size_t i = 0; out && i < n; i++) {
        if (acc == H5CL_FLOAT64)
            ((double *)out)[i] = v[i];
        else
            ((float *)out)[i] = (float)v[i];
    }
    return out;
}

static double acc_at(const void *v, size_t i, h5cl_dtype acc)
{
    return acc == H5CL_FLOAT64 ? ((const double *)v)[i]
                               : (double)((const float *)v)[i];
}

/* ---- covariance ---- */

typedef struct cov_attempt_ctx {
    h5cl_eval *eval;
    h5cl_cov *out;
} cov_attempt_ctx;

/* The state from the device's results: n rows, shift c, shifted sums S
 * and Gram G (upper triangle): mean = c + S/n, M = G - S S^T / n. */
static void cov_finish(h5cl_cov *out, uint64_t n, h5cl_dtype acc,
                       const void *shift, const void *sums, const void *gram)
{
    const size_t p = out->p;
    out->n = n;
    for (size_t i = 0; i < p; i++)
        out->mean[i] = acc_at(shift, i, acc) + acc_at(sums, i, acc) / (double)n;
    for (size_t i = 0; i < p; i++)
        for (size_t j = i; j < p; j++) {
            const double m = acc_at(gram, i * p + j, acc) -
                             acc_at(sums, i, acc) * acc_at(sums, j, acc) /
                                 (double)n;
            out->m2[i * p + j] = out->m2[j * p + i] = m;
        }
}

/* Reads the resident results back once the pipeline is done. */
static int cov_read(h5cl_ctx *ctx, rows_op *ro, uint64_t n, h5cl_cov *out)
{
    const size_t p = ro->cols, es = h5cl_dtype_size(ro->acc);
    void *shift = malloc(p * es), *sums = malloc(p * es),
         *gram = malloc(p * p * es);
    int st = H5CL_OK;
    cl_int err = CL_SUCCESS;
    if (!shift || !sums || !gram)
        st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    if (st == H5CL_OK)
        err = clEnqueueReadBuffer(ctx->dev.comp, ro->shift, CL_FALSE, 0,
                                  p * es, shift, 0, NULL, NULL);
    if (st == H5CL_OK && err == CL_SUCCESS)
        err = clEnqueueReadBuffer(ctx->dev.comp, ro->sums, CL_FALSE, 0,
                                  p * es, sums, 0, NULL, NULL);
    if (st == H5CL_OK && err == CL_SUCCESS)
        err = clEnqueueReadBuffer(ctx->dev.comp, ro->gram, CL_TRUE, 0,
                                  p * p * es, gram, 0, NULL, NULL);
    if (st == H5CL_OK && err != CL_SUCCESS) {
        clFinish(ctx->dev.comp); /* the host buffers are freed below */
        st = h5cl_fail_cl(ctx, err, "clEnqueueReadBuffer",
                          "reading the Gram matrix back");
    }
    if (st == H5CL_OK)
        cov_finish(out, n, ro->acc, shift, sums, gram);
    free(shift);
    free(sums);
    free(gram);
    return st;
}

static int cov_attempt(h5cl_run *run, const h5cl_plan *plan, void *user)
{
    cov_attempt_ctx *ac = user;
    h5cl_ctx *ctx = run->ctx;
    const size_t p = (size_t)run->sel.count[1];
    h5cl_cov_free(ac->out);
    if (!(ac->out = h5cl_cov_alloc(p)))
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                         "out of memory for a %zu x %zu matrix", p, p);
    h5cl_cov *out = ac->out;
    out->summary.tile_bytes = plan->max_tile_elems * plan->elem_size;
    out->summary.zero_copy = h5cl_device_zero_copy(&ctx->dev);
    int st = check_plan(ctx, plan, run->in.ds[0]);
    if (st != H5CL_OK || plan->ntiles == 0 || p == 0) {
        out->n = run->sel.count[0]; /* no columns: rows still count */
        return st;
    }
    rows_op ro;
    memset(&ro, 0, sizeof ro);
    ro.acc = h5cl_eval_acc_dtype(ctx);
    ro.cols = p;
    ro.eval = ac->eval;
    ro.masked_total = &out->summary.masked;
    const size_t es = h5cl_dtype_size(ro.acc);
    st = make_buffer(ctx, p * es, NULL, &ro.shift, "allocating the shifts");
    if (st == H5CL_OK)
        st = make_buffer(ctx, p * es, NULL, &ro.sums,
                         "allocating the column sums");
    if (st == H5CL_OK)
        st = make_buffer(ctx, p * p * es, NULL, &ro.gram,
                         "allocating the Gram matrix");
    const cl_double zero = 0; /* as many zero bytes as either type needs */
    cl_int err = CL_SUCCESS;
    if (st == H5CL_OK)
        err = clEnqueueFillBuffer(ctx->dev.comp, ro.sums, &zero, es, 0,
                                  p * es, 0, NULL, NULL);
    if (st == H5CL_OK && err == CL_SUCCESS)
        err = clEnqueueFillBuffer(ctx->dev.comp, ro.gram, &zero, es, 0,
                                  p * p * es, 0, NULL, NULL);
    if (st == H5CL_OK && err != CL_SUCCESS)
        st = h5cl_fail_cl(ctx, err, "clEnqueueFillBuffer",
                          "clearing the Gram matrix");
    if (st == H5CL_OK) {
        h5cl_op op = {&ro, cov_setup, cov_enqueue, op_merge, op_teardown};
        h5cl_stream stream = {.inputs = run->in.ds, .ninputs = run->in.n};
        h5cl_tile_timing *times = NULL;
        st = h5cl_pipeline_run(ctx, &stream, plan, run->slots, &op,
                               &run->opts, &out->summary, &times);
        free(times);
    }
    if (st == H5CL_OK)
        st = cov_read(ctx, &ro, run->sel.count[0], out);
    cl_mem bufs[] = {ro.shift, ro.sums, ro.gram};
    for (size_t i = 0; i < H5CL_ARRAY_LEN(bufs); i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    return st;
}

/* Prepares a run over whole rows with the values evaluated into the
 * accumulation type (the data itself when there is no expression). */
static int rows_prepare(h5cl_dataset *ds, const h5cl_run_options *opts,
                        const char *what, h5cl_run *run, h5cl_eval **eval_ret)
{
    h5cl_ctx *ctx = ds->ctx;
    *eval_ret = NULL;
    int st = h5cl_run_prepare(ctx, ds, opts, 0, run);
    if (st == H5CL_OK)
        st = check_rows(run, what);
    if (st == H5CL_OK)
        st = h5cl_eval_create(ctx, run->opts.expr, &run->in,
                              h5cl_eval_acc_dtype(ctx), eval_ret);
    return st;
}

static int cov_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                       h5cl_cov **cov_ret)
{
    h5cl_ctx *ctx = ds->ctx;
    h5cl_run run;
    cov_attempt_ctx ac = {NULL, NULL};
    int st = rows_prepare(ds, opts, "the covariance", &run, &ac.eval);
    if (st == H5CL_OK)
        st = h5cl_run_attempts(&run, cov_attempt, &ac);
    h5cl_eval_free(ac.eval);
    if (st != H5CL_OK) {
        h5cl_cov_free(ac.out);
        return st;
    }
    /* kept so that the matrix is never written over its own data */
    ac.out->ninputs = h5cl_input_files(run.in.ds, run.in.n, ac.out->inputs);
    *cov_ret = ac.out;
    return h5cl_ok(ctx);
}

int h5cl_cov_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                     h5cl_cov **cov_ret)
{
    if (cov_ret)
        *cov_ret = NULL;
    if (!ds || !cov_ret)
        return ds ? h5cl_fail(ds->ctx, H5CL_ERR_INVALID_ARGUMENT,
                              "h5cl_cov_compute: NULL argument")
                  : H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_run_enter(ds->ctx);
    if (st != H5CL_OK)
        return st;
    st = cov_compute(ds, opts, cov_ret);
    h5cl_run_leave(ds->ctx);
    return st;
}

static int cov_write(h5cl_ctx *ctx, const h5cl_cov *cov, int corr,
                     unsigned ddof, const h5cl_map_options *m)
{
    if (m->dtype != -1 && m->dtype != H5CL_FLOAT64)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "covariance matrices are written as float64");
    const size_t p = cov->p;
    const uint64_t dims[2] = {p, p}, origin[2] = {0, 0};
    h5cl_writer_spec spec;
    int st = h5cl_writer_spec_init(ctx, m, H5CL_FLOAT64, 2, dims, origin,
                                   NULL, &spec);
    if (st != H5CL_OK)
        return st;
    char expr[64];
    snprintf(expr, sizeof expr, corr ? "corrcoef" : "cov (ddof %u)", ddof);
    spec.expression = expr;
    spec.sources = "";
    double *mat = malloc((p ? p * p : 1) * sizeof *mat);
    if (!mat)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    if (corr)
        h5cl_cov_corrcoef(cov, mat);
    else
        h5cl_cov_matrix(cov, ddof, mat);
    h5cl_writer *w = NULL;
    st = h5cl_writer_create(ctx, &spec, cov->inputs, cov->ninputs, &w);
    if (st == H5CL_OK && p) {
        const h5cl_box box = {2, {0, 0}, {p, p}};
        char err[1024];
        st = h5cl_writer_write(w, &box, mat, err, sizeof err);
        if (st != H5CL_OK)
            h5cl_fail(ctx, st, "%s", err);
    }
    free(mat);
    if (st != H5CL_OK) {
        h5cl_writer_abort(w);
        return st;
    }
    st = h5cl_writer_commit(ctx, w);
    return st == H5CL_OK ? h5cl_ok(ctx) : st;
}

int h5cl_cov_write(h5cl_ctx *ctx, const h5cl_cov *cov, int corr,
                   unsigned ddof, const h5cl_map_options *mopts)
{
    if (!ctx || !cov || !mopts)
        return ctx ? h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                               "h5cl_cov_write: NULL argument")
                   : H5CL_ERR_INVALID_ARGUMENT;
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    memcpy(&m, mopts,
           mopts->struct_size && mopts->struct_size < sizeof m
               ? mopts->struct_size
               : sizeof m);
    return cov_write(ctx, cov, corr, ddof, &m);
}

/* ---- projection ---- */

typedef struct project_attempt_ctx {
    h5cl_eval *eval;
    const h5cl_pca *pca;
    h5cl_writer *writer;
    h5cl_run_summary summary;
} project_attempt_ctx;

static int project_attempt(h5cl_run *run, const h5cl_plan *plan, void *user)
{
    project_attempt_ctx *pa = user;
    h5cl_ctx *ctx = run->ctx;
    memset(&pa->summary, 0, sizeof pa->summary);
    pa->summary.tile_bytes = plan->max_tile_elems * plan->elem_size;
    pa->summary.zero_copy = h5cl_device_zero_copy(&ctx->dev);
    int st = check_plan(ctx, plan, run->in.ds[0]);
    if (st != H5CL_OK || plan->ntiles == 0)
        return st;
    rows_op ro;
    memset(&ro, 0, sizeof ro);
    ro.acc = h5cl_eval_acc_dtype(ctx);
    ro.cols = h5cl_pca_columns(pa->pca);
    ro.k = h5cl_pca_k(pa->pca);
    ro.eval = pa->eval;
    ro.masked_total = &pa->summary.masked;
    const size_t es = h5cl_dtype_size(ro.acc);
    void *mean = to_acc(h5cl_pca_mean(pa->pca), ro.cols, ro.acc);
    void *comps = to_acc(h5cl_pca_components(pa->pca), ro.k * ro.cols, ro.acc);
    if (!mean || !comps)
        st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    if (st == H5CL_OK)
        st = make_buffer(ctx, ro.cols * es, mean, &ro.mean,
                         "uploading the column means");
    if (st == H5CL_OK)
        st = make_buffer(ctx, ro.k * ro.cols * es, comps, &ro.comps,
                         "uploading the components");
    free(mean);
    free(comps);
    if (st == H5CL_OK) {
        h5cl_op op = {&ro, project_setup, project_enqueue, op_merge,
                      op_teardown};
        h5cl_stream stream = {.inputs = run->in.ds,
                              .ninputs = run->in.n,
                              .writer = pa->writer,
                              .out_elem_size = es,
                              .out_cols = ro.k};
        h5cl_tile_timing *times = NULL;
        st = h5cl_pipeline_run(ctx, &stream, plan, run->slots, &op,
                               &run->opts, &pa->summary, &times);
        free(times);
    }
    if (ro.mean)
        clReleaseMemObject(ro.mean);
    if (ro.comps)
        clReleaseMemObject(ro.comps);
    return st;
}

/* The output: rows x k of the accumulation type, chunked like the input's
 * rows when it is chunked. */
static int project_writer(h5cl_run *run, const h5cl_pca *pca,
                          const h5cl_map_options *m, h5cl_writer **w_ret)
{
    h5cl_ctx *ctx = run->ctx;
    const h5cl_dataset *in = run->in.ds[0];
    const h5cl_dtype acc = h5cl_eval_acc_dtype(ctx);
    if (m->dtype != -1 && m->dtype != (int)acc)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "projections are written as %s on %s; dtype %s "
                         "is not available",
                         h5cl_dtype_name(acc), ctx->dev.info.device_name,
                         h5cl_dtype_name((h5cl_dtype)m->dtype));
    const uint64_t dims[2] = {run->sel.count[0], h5cl_pca_k(pca)};
    const uint64_t chunks[2] = {in->info.chunk_dims[0], h5cl_pca_k(pca)};
    h5cl_writer_spec spec;
    int st = h5cl_writer_spec_init(
        ctx, m, acc, 2, dims, run->sel.start,
        in->info.layout == H5CL_LAYOUT_CHUNKED ? chunks : NULL, &spec);
    if (st != H5CL_OK)
        return st;
    char expr[128], sources[3072];
    snprintf(expr, sizeof expr, "pca projection onto %zu components",
             h5cl_pca_k(pca));
    snprintf(sources, sizeof sources, "%s=%s:%s", run->in.names[0],
             in->info.file, in->info.path);
    spec.expression = expr;
    spec.sources = sources;
    h5cl_input_file files[H5CL_MAX_INPUTS];
    const size_t nfiles = h5cl_input_files(run->in.ds, run->in.n, files);
    return h5cl_writer_create(ctx, &spec, files, nfiles, w_ret);
}

static int project_run(h5cl_dataset *ds, const h5cl_run_options *opts,
                       const h5cl_pca *pca, const h5cl_map_options *mopts,
                       h5cl_run_summary *sum)
{
    h5cl_ctx *ctx = ds->ctx;
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    if (mopts)
        memcpy(&m, mopts,
               mopts->struct_size && mopts->struct_size < sizeof m
                   ? mopts->struct_size
                   : sizeof m);
    h5cl_run run;
    project_attempt_ctx pa;
    memset(&pa, 0, sizeof pa);
    pa.pca = pca;
    int st = rows_prepare(ds, opts, "a projection", &run, &pa.eval);
    if (st == H5CL_OK && run.sel.count[1] != h5cl_pca_columns(pca))
        st = h5cl_fail(ctx, H5CL_ERR_SHAPE,
                       "the selection of %s has %llu columns; the PCA has "
                       "%zu",
                       ds->info.path, (unsigned long long)run.sel.count[1],
                       h5cl_pca_columns(pca));
    if (st == H5CL_OK)
        st = project_writer(&run, pca, &m, &pa.writer);
    if (st == H5CL_OK)
        st = h5cl_run_attempts(&run, project_attempt, &pa);
    h5cl_eval_free(pa.eval);
    if (st != H5CL_OK) {
        h5cl_writer_abort(pa.writer);
        return st;
    }
    /* closing writes the chunks still in HDF5's cache: part of writing */
    const double t0 = h5cl_now();
    st = h5cl_writer_commit(ctx, pa.writer);
    if (st != H5CL_OK)
        return st;
    const double dt = h5cl_now() - t0;
    pa.summary.seconds += dt;
    pa.summary.stage_seconds[H5CL_STAGE_WRITE] += dt;
    if (sum)
        *sum = pa.summary;
    return h5cl_ok(ctx);
}

int h5cl_pca_project(h5cl_dataset *ds, const h5cl_run_options *opts,
                     const h5cl_pca *pca, const h5cl_map_options *mopts,
                     h5cl_run_summary *summary_ret)
{
    if (summary_ret)
        memset(summary_ret, 0, sizeof *summary_ret);
    if (!ds || !pca)
        return ds ? h5cl_fail(ds->ctx, H5CL_ERR_INVALID_ARGUMENT,
                              "h5cl_pca_project: NULL argument")
                  : H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_run_enter(ds->ctx);
    if (st != H5CL_OK)
        return st;
    st = project_run(ds, opts, pca, mopts, summary_ret);
    h5cl_run_leave(ds->ctx);
    return st;
}
