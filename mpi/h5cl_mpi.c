/*
 * h5cl-mpi: one h5cl process per rank (make MPI=1; run under mpirun).
 *
 *   mpirun -np N h5cl-mpi stats|hist|cov FILE DSET [options]
 *   mpirun -np N h5cl-mpi map FILE DSET -e EXPR -o OUT_FILE:OUT_DSET
 *
 * Rank r takes share r of the selection's rows (h5cl_dataset_split: on
 * chunk boundaries, so no chunk is read twice), runs the ordinary
 * pipeline over it on device (node-local rank mod the node's devices),
 * and the partial results are combined with MPI_Reduce (MPI_Allreduce for
 * the range pass of a histogram) and a user-defined operation over their
 * serialised form: one element of MPI_Type_contiguous bytes per result.
 * Maps write one file per rank (OUT_FILE's name with .rankR before .h5)
 * and rank 0 joins them as a virtual dataset at OUT_FILE:OUT_DSET.
 * Rank 0 prints JSON: the figures under the keys `h5cl --json` uses,
 * plus ranks, bytes (all ranks) and seconds (the slowest rank).
 * Reading the same file from several processes needs no parallel HDF5:
 * every rank opens it read-only.
 */
#include <fcntl.h>
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct mpi_args {
    const char *cmd, *file, *dset;
    h5cl_run_options ro;
    h5cl_hist_options ho;
    unsigned ddof;
    char *out_file, *out_path;
    int overwrite;
} mpi_args;

/* ---- the reduction operations over serialised results ------------------
 * MPI calls them with the element count and datatype of the reduction;
 * every element is one whole serialised result of `elem_bytes` bytes (the
 * same on every rank: the same shape, bins or columns). */

static size_t elem_bytes;

/* Statistics: arrays of H5CL_STATS_STATE_BYTES states, merged state by
 * state.  Chan's float merge is not exactly commutative, so the op is
 * declared non-commutative: MPI then combines in rank order. */
static void stats_op(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    unsigned char *a = inout, *b = in;
    for (size_t k = 0; k < elem_bytes * (size_t)*len;
         k += H5CL_STATS_STATE_BYTES) {
        h5cl_stats_state x, y;
        if (h5cl_stats_state_deserialize(a + k, H5CL_STATS_STATE_BYTES, &x) ||
            h5cl_stats_state_deserialize(b + k, H5CL_STATS_STATE_BYTES, &y))
            MPI_Abort(MPI_COMM_WORLD, 1); /* our own bytes: cannot happen */
        h5cl_stats_state_merge(&x, &y);
        h5cl_stats_state_serialize(&x, a + k);
    }
}

/* Histograms: counts add, exactly and in any order: commutative. */
static void hist_op(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    for (int e = 0; e < *len; e++) {
        unsigned char *a = (unsigned char *)inout + (size_t)e * elem_bytes;
        const unsigned char *b = (unsigned char *)in + (size_t)e * elem_bytes;
        h5cl_hist *x = NULL, *y = NULL;
        if (h5cl_hist_deserialize(a, elem_bytes, &x) ||
            h5cl_hist_deserialize(b, elem_bytes, &y) || h5cl_hist_merge(x, y) ||
            h5cl_hist_serialize(x, a, elem_bytes))
            MPI_Abort(MPI_COMM_WORLD, 1);
        h5cl_hist_free(x);
        h5cl_hist_free(y);
    }
}

/* Covariance states: Chan's merge, not exactly commutative. */
static void cov_op(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    for (int e = 0; e < *len; e++) {
        unsigned char *a = (unsigned char *)inout + (size_t)e * elem_bytes;
        const unsigned char *b = (unsigned char *)in + (size_t)e * elem_bytes;
        h5cl_cov *x = NULL, *y = NULL;
        if (h5cl_cov_deserialize(a, elem_bytes, &x) ||
            h5cl_cov_deserialize(b, elem_bytes, &y) || h5cl_cov_merge(x, y) ||
            h5cl_cov_serialize(x, a, elem_bytes))
            MPI_Abort(MPI_COMM_WORLD, 1);
        h5cl_cov_free(x);
        h5cl_cov_free(y);
    }
}

/* Combines every rank's `bytes` bytes with fn, into buf on rank 0 (every
 * rank with all).  An MPI failure is H5CL_ERR_MPI with MPI's text. */
static int combine(void *buf, size_t bytes, MPI_User_function *fn,
                   int commute, int all)
{
    MPI_Datatype t;
    MPI_Op op;
    int rank, rc;
    elem_bytes = bytes;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (bytes > (size_t)2147483647) {
        fprintf(stderr, "h5cl-mpi: H5CL_ERR_MPI: a result of %zu bytes is "
                "beyond one MPI element\n", bytes);
        return H5CL_ERR_MPI;
    }
    int have_t = 0, have_op = 0;
    rc = MPI_Type_contiguous((int)bytes, MPI_BYTE, &t);
    if (rc == MPI_SUCCESS && (have_t = 1))
        rc = MPI_Type_commit(&t);
    if (rc == MPI_SUCCESS)
        rc = MPI_Op_create(fn, commute, &op);
    if (rc == MPI_SUCCESS && (have_op = 1))
        rc = all ? MPI_Allreduce(MPI_IN_PLACE, buf, 1, t, op, MPI_COMM_WORLD)
                 : MPI_Reduce(rank ? buf : MPI_IN_PLACE, rank ? NULL : buf,
                              1, t, op, 0, MPI_COMM_WORLD);
    if (have_op)
        MPI_Op_free(&op);
    if (have_t)
        MPI_Type_free(&t);
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int n;
        MPI_Error_string(rc, text, &n);
        fprintf(stderr, "h5cl-mpi: rank %d: H5CL_ERR_MPI: the reduction "
                "failed: %s\n", rank, text);
        return H5CL_ERR_MPI;
    }
    return H5CL_OK;
}

/* ---- ranks, devices, shares ---------------------------------------- */

typedef struct rank_run {
    int rank, nranks;
    h5cl_ctx *ctx;
    h5cl_dataset *ds;
    uint64_t start, stop;  /* this rank's share                          */
    double t0;
} rank_run;

/* Device (node-local rank mod the node's devices), the dataset, and this
 * rank's share of the rows (empty when there are more ranks than chunk
 * rows). */
static int rank_setup(rank_run *r, const mpi_args *a)
{
    MPI_Comm node;
    int local = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0,
                            MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &local);
        MPI_Comm_free(&node);
    }
    size_t ndev = 0;
    int st = h5cl_ctx_list_devices(r->ctx, NULL, 0, &ndev);
    h5cl_device_info *dev = st == H5CL_OK && ndev
                                ? calloc(ndev, sizeof *dev)
                                : NULL;
    if (dev)
        st = h5cl_ctx_list_devices(r->ctx, dev, ndev, &ndev);
    else if (st == H5CL_OK)
        st = ndev ? H5CL_ERR_NO_MEMORY : H5CL_ERR_DEVICE_NOT_FOUND;
    if (st == H5CL_OK) {
        char spec[32];
        const h5cl_device_info *d = &dev[(size_t)local % ndev];
        snprintf(spec, sizeof spec, "%u:%u", d->platform_index,
                 d->device_index);
        st = h5cl_ctx_use_device(r->ctx, spec);
    }
    free(dev);
    if (st == H5CL_OK)
        st = h5cl_dataset_open(r->ctx, a->file, a->dset, &r->ds);
    uint64_t *b = st == H5CL_OK ? calloc((size_t)r->nranks + 1, sizeof *b)
                                : NULL;
    size_t n = 0;
    if (st == H5CL_OK && !b)
        st = H5CL_ERR_NO_MEMORY;
    if (st == H5CL_OK)
        st = h5cl_dataset_split(r->ds, a->ro.select, (size_t)r->nranks, b,
                                &n);
    if (st == H5CL_OK) {
        r->start = (size_t)r->rank < n ? b[r->rank] : b[n];
        r->stop = (size_t)r->rank < n ? b[r->rank + 1] : b[n];
        st = h5cl_ctx_set_share(r->ctx, r->start, r->stop);
    }
    free(b);
    return st;
}

/* Whether every rank succeeded; a failing rank prints its message.
 * Called before each collective step so that no rank waits forever. */
static int all_ok(const rank_run *r, int st)
{
    int worst = 0, mine = st == H5CL_OK ? 0 : 1;
    if (st != H5CL_OK)
        fprintf(stderr, "h5cl-mpi: rank %d: %s: %s\n", r->rank,
                h5cl_errname(st),
                r->ctx && h5cl_ctx_errmsg(r->ctx)[0]
                    ? h5cl_ctx_errmsg(r->ctx)
                    : h5cl_strerror(st));
    if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return 0;
    return worst == 0;
}

/* ---- output (rank 0) ------------------------------------------------- */

static void json_head(jw *w, const rank_run *r, const mpi_args *a,
                      uint64_t bytes)
{
    double secs = MPI_Wtime() - r->t0, slowest = secs;
    MPI_Reduce(&secs, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (r->rank)
        return;
    jw_init(w, stdout);
    jw_open(w, '{', 0);
    jw_key(w, "command");
    jw_string(w, a->cmd);
    jw_key(w, "file");
    jw_string(w, a->file);
    jw_key(w, "dataset");
    jw_string(w, a->dset);
    jw_key(w, "select");
    jw_string(w, a->ro.select);
    jw_key(w, "ranks");
    jw_i64(w, r->nranks);
    jw_key(w, "bytes");
    jw_u64(w, bytes);
    jw_key(w, "seconds");
    jw_double(w, slowest);
}

/* Bytes read by all ranks, on rank 0. */
static uint64_t total_bytes(const h5cl_run_summary *s)
{
    unsigned long long mine = s ? s->bytes : 0, all = 0;
    MPI_Reduce(&mine, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0,
               MPI_COMM_WORLD);
    return all;
}

/* A figure of a state: integers exactly when the state holds them. */
static void json_value(jw *w, const h5cl_stats_state *s, const h5cl_scalar *v)
{
    if (s->count == 0)
        jw_null(w);
    else if (s->kind == H5CL_KIND_SIGNED)
        jw_i64(w, v->i);
    else if (s->kind == H5CL_KIND_UNSIGNED)
        jw_u64(w, v->u);
    else
        jw_double(w, v->f);
}

static const char *const figures[] = {"count", "nan_count", "sum", "mean",
                                      "var", "std", "min", "max",
                                      "argmin", "argmax"};

/* Figure f (an index into figures) of state s. */
static void json_figure(jw *w, const h5cl_stats_state *s, size_t f,
                        unsigned ddof)
{
    switch (f) {
    case 0: jw_u64(w, s->count); break;
    case 1: jw_u64(w, s->nan_count); break;
    case 2:
        if (s->kind != H5CL_KIND_FLOAT && !s->overflow)
            json_value(w, s, &s->sum);
        else
            jw_double(w, h5cl_stats_state_sum(s));
        break;
    case 3: jw_double(w, h5cl_stats_state_mean(s)); break;
    case 4: jw_double(w, h5cl_stats_state_var(s, ddof)); break;
    case 5: jw_double(w, h5cl_stats_state_std(s, ddof)); break;
    case 6: json_value(w, s, &s->min); break;
    case 7: json_value(w, s, &s->max); break;
    default: {
        const uint64_t i = f == 8 ? s->argmin : s->argmax;
        if (s->count)
            jw_u64(w, i);
        else
            jw_null(w);
    }
    }
}

/* ---- the commands ---------------------------------------------------- */

/* This rank's statistics, combined (all: on every rank) into *states
 * (count states of H5CL_STATS_STATE_BYTES, malloc'd). */
static int stats_combined(rank_run *r, const h5cl_run_options *ro, int all,
                          unsigned char **states, size_t *count,
                          h5cl_stats **local)
{
    int st = h5cl_stats_compute(r->ds, ro, local);
    size_t n = st == H5CL_OK ? h5cl_stats_count(*local) : 0;
    unsigned char *buf = st == H5CL_OK
                             ? malloc((n ? n : 1) * H5CL_STATS_STATE_BYTES)
                             : NULL;
    if (st == H5CL_OK && !buf)
        st = H5CL_ERR_NO_MEMORY;
    for (size_t i = 0; st == H5CL_OK && i < n; i++)
        h5cl_stats_state_serialize(h5cl_stats_get(*local, i),
                                   buf + i * H5CL_STATS_STATE_BYTES);
    if (!all_ok(r, st)) {
        free(buf);
        return H5CL_ERR_MPI;
    }
    st = combine(buf, n * H5CL_STATS_STATE_BYTES, stats_op, 0, all);
    if (st != H5CL_OK) {
        free(buf);
        return st;
    }
    *states = buf;
    *count = n;
    return H5CL_OK;
}

static int cmd_stats_mpi(rank_run *r, const mpi_args *a)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    h5cl_stats *local = NULL;
    int st = stats_combined(r, &a->ro, 0, &buf, &n, &local);
    if (st != H5CL_OK) {
        h5cl_stats_free(local);
        return st;
    }
    jw w;
    json_head(&w, r, a, total_bytes(h5cl_stats_summary(local)));
    if (r->rank == 0) {
        jw_key(&w, "axis");
        if (a->ro.axis >= 0)
            jw_i64(&w, a->ro.axis);
        else
            jw_null(&w);
        uint64_t dims[H5CL_MAX_RANK];
        const int rank = h5cl_stats_shape(local, dims);
        if (a->ro.axis >= 0) {
            jw_key(&w, "shape");
            jw_dims(&w, rank, dims);
        }
        jw_key(&w, "ddof");
        jw_u64(&w, a->ddof);
        /* per-axis results as arrays, one entry per position (as h5cl) */
        for (size_t f = 0; f < ARRAY_LEN(figures); f++) {
            jw_key(&w, figures[f]);
            if (a->ro.axis >= 0)
                jw_open(&w, '[', 1);
            for (size_t i = 0; i < n; i++) {
                h5cl_stats_state st1;
                h5cl_stats_state_deserialize(
                    buf + i * H5CL_STATS_STATE_BYTES, H5CL_STATS_STATE_BYTES,
                    &st1);
                json_figure(&w, &st1, f, a->ddof);
            }
            if (a->ro.axis >= 0)
                jw_close(&w, ']');
        }
        jw_close(&w, '}');
    }
    free(buf);
    h5cl_stats_free(local);
    return H5CL_OK;
}

/* A serialised result on every rank into one combined on rank 0. */
typedef int (*ser_fn)(const void *obj, unsigned char **buf, size_t *n);

static int hist_bytes(const void *h, unsigned char **buf, size_t *n)
{
    *n = h5cl_hist_serialized_size(h);
    *buf = malloc(*n);
    return *buf ? h5cl_hist_serialize(h, *buf, *n) : H5CL_ERR_NO_MEMORY;
}

static int cov_bytes(const void *c, unsigned char **buf, size_t *n)
{
    *n = h5cl_cov_serialized_size(c);
    *buf = malloc(*n);
    return *buf ? h5cl_cov_serialize(c, *buf, *n) : H5CL_ERR_NO_MEMORY;
}

static int cmd_hist_mpi(rank_run *r, mpi_args *a)
{
    /* the range of the data: every rank needs the whole selection's */
    unsigned char *mm = NULL, *buf = NULL;
    size_t n = 0;
    h5cl_stats *local = NULL;
    h5cl_stats_state range;
    int st = H5CL_OK;
    if (!a->ho.range_set) {
        h5cl_run_options o = a->ro;
        o.axis = -1;
        st = stats_combined(r, &o, 1, &mm, &n, &local);
        h5cl_stats_free(local);
        if (st != H5CL_OK)
            return st;
        h5cl_stats_state_deserialize(mm, H5CL_STATS_STATE_BYTES, &range);
        free(mm);
        a->ho.range_state = &range;
    }
    h5cl_hist *h = NULL;
    st = h5cl_hist_compute(r->ds, &a->ro, &a->ho, &h);
    if (st == H5CL_OK)
        st = hist_bytes(h, &buf, &n);
    if (!all_ok(r, st) ||
        (st = combine(buf, n, hist_op, 1, 0)) != H5CL_OK) {
        free(buf);
        h5cl_hist_free(h);
        return st == H5CL_OK ? H5CL_ERR_MPI : st;
    }
    jw w;
    json_head(&w, r, a, total_bytes(h5cl_hist_summary(h)));
    h5cl_hist_free(h);
    h = NULL;
    if (r->rank == 0 && h5cl_hist_deserialize(buf, n, &h) == H5CL_OK) {
        double lo, hi;
        int from_data;
        h5cl_hist_range(h, &lo, &hi, &from_data);
        jw_key(&w, "bins");
        jw_u64(&w, h5cl_hist_bins(h));
        jw_key(&w, "range");
        jw_open(&w, '[', 1);
        jw_double(&w, lo);
        jw_double(&w, hi);
        jw_close(&w, ']');
        jw_key(&w, "range_from_data");
        jw_bool(&w, from_data);
        uint64_t nan, under, over;
        h5cl_hist_outside(h, 0, &nan, &under, &over);
        jw_key(&w, "counts");
        jw_open(&w, '[', 1);
        const uint64_t *c = h5cl_hist_counts(h, 0);
        for (uint32_t k = 0; k < h5cl_hist_bins(h); k++)
            jw_u64(&w, c[k]);
        jw_close(&w, ']');
        jw_key(&w, "nan");
        jw_u64(&w, nan);
        jw_key(&w, "under");
        jw_u64(&w, under);
        jw_key(&w, "over");
        jw_u64(&w, over);
        jw_close(&w, '}');
    }
    h5cl_hist_free(h);
    free(buf);
    return H5CL_OK;
}

static int cmd_cov_mpi(rank_run *r, const mpi_args *a)
{
    h5cl_cov *c = NULL;
    unsigned char *buf = NULL;
    size_t n = 0;
    int st = h5cl_cov_compute(r->ds, &a->ro, &c);
    if (st == H5CL_OK)
        st = cov_bytes(c, &buf, &n);
    if (!all_ok(r, st) || (st = combine(buf, n, cov_op, 0, 0)) != H5CL_OK) {
        free(buf);
        h5cl_cov_free(c);
        return st == H5CL_OK ? H5CL_ERR_MPI : st;
    }
    jw w;
    json_head(&w, r, a, total_bytes(h5cl_cov_summary(c)));
    h5cl_cov_free(c);
    c = NULL;
    if (r->rank == 0 && h5cl_cov_deserialize(buf, n, &c) == H5CL_OK) {
        const size_t p = h5cl_cov_columns(c);
        double *m = malloc((p ? p * p : 1) * sizeof *m);
        if (m && h5cl_cov_matrix(c, a->ddof, m) == H5CL_OK) {
            jw_key(&w, "rows");
            jw_u64(&w, h5cl_cov_rows(c));
            jw_key(&w, "columns");
            jw_u64(&w, p);
            jw_key(&w, "ddof");
            jw_u64(&w, a->ddof);
            jw_key(&w, "matrix");
            jw_open(&w, '[', 0);
            for (size_t i = 0; i < p; i++) {
                jw_open(&w, '[', 1);
                for (size_t j = 0; j < p; j++)
                    jw_double(&w, m[i * p + j]);
                jw_close(&w, ']');
            }
            jw_close(&w, ']');
        }
        jw_close(&w, '}');
        free(m);
    }
    h5cl_cov_free(c);
    free(buf);
    return H5CL_OK;
}

/* OUT_FILE with ".rankR" before its ".h5" (or at the end). */
static char *part_name(const char *out, int rank)
{
    size_t len = strlen(out);
    size_t stem = len > 3 && !strcmp(out + len - 3, ".h5") ? len - 3 : len;
    char *s = malloc(len + 32);
    if (s)
        snprintf(s, len + 32, "%.*s.rank%d.h5", (int)stem, out, rank);
    return s;
}

static int cmd_map_mpi(rank_run *r, const mpi_args *a)
{
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    m.out_path = a->out_path;
    m.overwrite = a->overwrite;
    char *mine = part_name(a->out_file, r->rank);
    int st = mine ? H5CL_OK : H5CL_ERR_NO_MEMORY;
    h5cl_run_summary s;
    memset(&s, 0, sizeof s);
    m.out_file = mine;
    /* an empty share (more ranks than chunk rows) writes nothing */
    if (st == H5CL_OK && r->stop > r->start)
        st = h5cl_map_run(r->ds, &a->ro, &m, &s);
    free(mine);
    if (!all_ok(r, st))
        return H5CL_ERR_MPI;
    int wrote = r->stop > r->start, *who = NULL;
    if (r->rank == 0)
        who = calloc((size_t)r->nranks, sizeof *who);
    MPI_Gather(&wrote, 1, MPI_INT, who, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (r->rank == 0) {
        char **parts = calloc((size_t)r->nranks, sizeof *parts);
        size_t n = 0;
        st = parts && who ? H5CL_OK : H5CL_ERR_NO_MEMORY;
        for (int k = 0; st == H5CL_OK && k < r->nranks; k++)
            if (who[k] && !(parts[n++] = part_name(a->out_file, k)))
                st = H5CL_ERR_NO_MEMORY;
        m.out_file = a->out_file;
        if (st == H5CL_OK)
            st = h5cl_map_join(r->ctx, (const char *const *)parts, n,
                               a->out_path, &m);
        for (size_t k = 0; parts && k < n; k++)
            free(parts[k]);
        free(parts);
    }
    free(who);
    if (!all_ok(r, st))
        return H5CL_ERR_MPI;
    jw w;
    json_head(&w, r, a, total_bytes(&s));
    if (r->rank == 0) {
        jw_key(&w, "output");
        jw_string(&w, a->out_file);
        jw_key(&w, "output_dataset");
        jw_string(&w, a->out_path);
        jw_key(&w, "expr");
        jw_string(&w, a->ro.expr);
        jw_close(&w, '}');
    }
    return H5CL_OK;
}

/* ---- arguments ------------------------------------------------------- */

void print_usage(FILE *f)
{
    fputs("usage: mpirun -np N h5cl-mpi COMMAND FILE DSET [options]\n"
          "  stats   [--axis 0] [--ddof N]\n"
          "  hist    [--bins N] [--range LO:HI]\n"
          "  cov     [--ddof N]\n"
          "  map     -e EXPR -o OUT_FILE:OUT_DSET [--overwrite]: one file per\n"
          "          rank (OUT_FILE.rankR.h5), joined as a virtual dataset\n"
          "  common: -s/--select S, -e/--expr E, --tile-bytes B, --slots K\n"
          "Rank r takes share r of the rows on device (node-local rank mod\n"
          "the node's devices); rank 0 prints JSON.\n",
          f);
}

static int parse_args(int argc, char **argv, mpi_args *a)
{
    static const struct option opts[] = {
        {"select", required_argument, NULL, 's'},
        {"expr", required_argument, NULL, 'e'},
        {"axis", required_argument, NULL, 'a'},
        {"ddof", required_argument, NULL, 'D'},
        {"bins", required_argument, NULL, 'b'},
        {"range", required_argument, NULL, 'r'},
        {"tile-bytes", required_argument, NULL, 't'},
        {"slots", required_argument, NULL, 'k'},
        {"overwrite", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long long v;
    int c;
    h5cl_run_options_init(&a->ro);
    h5cl_hist_options_init(&a->ho);
    a->ho.bins = 10;
    a->cmd = argc > 1 ? argv[1] : "";
    if (strcmp(a->cmd, "stats") && strcmp(a->cmd, "hist") &&
        strcmp(a->cmd, "cov") && strcmp(a->cmd, "map"))
        return help_requested() == EXIT_OK && !strcmp(a->cmd, "--help")
                   ? -1
                   : usage_error("unknown command '%s'", a->cmd);
    a->ddof = !strcmp(a->cmd, "cov");
    optind = 2;
    while ((c = getopt_long(argc, argv, "s:e:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': a->ro.select = optarg; break;
        case 'e': a->ro.expr = optarg; break;
        case 'a':
            if (strcmp(a->cmd, "stats") || parse_long(optarg, -1, 0, &v))
                return usage_error("--axis: stats only, -1 or 0 (shares "
                                   "are rows)");
            a->ro.axis = (int)v;
            break;
        case 'D':
            if (parse_long(optarg, 0, 1000000, &v))
                return usage_error("--ddof: a whole number >= 0");
            a->ddof = (unsigned)v;
            break;
        case 'b':
            if (parse_long(optarg, 1, 1 << 24, &v))
                return usage_error("--bins: 1 to 2^24");
            a->ho.bins = (uint32_t)v;
            break;
        case 'r':
            if (sscanf(optarg, "%lf:%lf", &a->ho.lo, &a->ho.hi) != 2)
                return usage_error("--range: LO:HI");
            a->ho.range_set = 1;
            break;
        case 't':
            if (parse_bytes(optarg, &a->ro.tile_bytes))
                return usage_error("--tile-bytes: bytes, e.g. 4M");
            break;
        case 'k':
            if (parse_long(optarg, 1, 64, &v))
                return usage_error("--slots: 1 to 64");
            a->ro.slots = (unsigned)v;
            break;
        case 'o': {
            int code = parse_output_option(optarg, &a->out_file, &a->out_path);
            if (code)
                return code;
            break;
        }
        case 'w': a->overwrite = 1; break;
        case 'h': return help_requested() == EXIT_OK ? -1 : EXIT_RUNTIME;
        default: return option_error(c, argv);
        }
    }
    if (argc - optind != 2)
        return usage_error("%s: needs FILE DSET", a->cmd);
    a->file = argv[optind];
    a->dset = argv[optind + 1];
    if (!strcmp(a->cmd, "map") && (!a->out_file || !a->ro.expr))
        return usage_error("map: needs -e EXPR and -o OUT_FILE:OUT_DSET");
    return 0;
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "h5cl-mpi: H5CL_ERR_MPI: MPI_Init failed\n");
        return EXIT_RUNTIME;
    }
    rank_run r;
    memset(&r, 0, sizeof r);
    MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.nranks);
    mpi_args a;
    memset(&a, 0, sizeof a);
    /* every rank parses the same arguments; only rank 0 says what is
     * wrong with them */
    int saved = r.rank ? dup(STDERR_FILENO) : -1;
    int null = saved >= 0 ? open("/dev/null", O_WRONLY) : -1;
    if (null >= 0)
        dup2(null, STDERR_FILENO);
    int code = parse_args(argc, argv, &a);
    if (null >= 0) {
        dup2(saved, STDERR_FILENO);
        close(null);
    }
    if (saved >= 0)
        close(saved);
    if (code) {
        MPI_Finalize();
        return code < 0 ? EXIT_OK : code;
    }
    r.t0 = MPI_Wtime();
    int st = h5cl_ctx_create(&r.ctx);
    if (st == H5CL_OK)
        st = rank_setup(&r, &a);
    if (!all_ok(&r, st))
        st = H5CL_ERR_MPI;
    else if (!strcmp(a.cmd, "stats"))
        st = cmd_stats_mpi(&r, &a);
    else if (!strcmp(a.cmd, "hist"))
        st = cmd_hist_mpi(&r, &a);
    else if (!strcmp(a.cmd, "cov"))
        st = cmd_cov_mpi(&r, &a);
    else
        st = cmd_map_mpi(&r, &a);
    h5cl_dataset_close(r.ds);
    h5cl_ctx_destroy(r.ctx);
    free(a.out_file);
    free(a.out_path);
    MPI_Finalize();
    return st == H5CL_OK ? finish_output(EXIT_OK) : EXIT_RUNTIME;
}
