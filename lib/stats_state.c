/* The mergeable partial state of the statistics op: merge (Chan's parallel
 * variance, Neumaier-compensated float sums, exact integer sums), the
 * serialised form, and the derived figures. */
#include <math.h>
#include <string.h>

#include "common.h"
#include "bytes.h"
#include "stats_state.h"

void h5cl_stats_state_init(h5cl_stats_state *st, h5cl_kind kind)
{
    memset(st, 0, sizeof *st);
    st->kind = kind;
}

/* a before b when values tie and indices are equal-or-smaller */
static int take_min(const h5cl_stats_state *a, const h5cl_stats_state *b)
{
    if (a->count == 0)
        return 1;
    switch (a->kind) {
    case H5CL_KIND_SIGNED:
        return b->min.i < a->min.i || (b->min.i == a->min.i && b->argmin < a->argmin);
    case H5CL_KIND_UNSIGNED:
        return b->min.u < a->min.u || (b->min.u == a->min.u && b->argmin < a->argmin);
    default:
        return b->min.f < a->min.f || (b->min.f == a->min.f && b->argmin < a->argmin);
    }
}

static int take_max(const h5cl_stats_state *a, const h5cl_stats_state *b)
{
    if (a->count == 0)
        return 1;
    switch (a->kind) {
    case H5CL_KIND_SIGNED:
        return b->max.i > a->max.i || (b->max.i == a->max.i && b->argmax < a->argmax);
    case H5CL_KIND_UNSIGNED:
        return b->max.u > a->max.u || (b->max.u == a->max.u && b->argmax < a->argmax);
    default:
        return b->max.f > a->max.f || (b->max.f == a->max.f && b->argmax < a->argmax);
    }
}

typedef __int128 i128;

/* The exact integer sum: the 64-bit value plus sum_hi wraps of 2^64. */
static i128 get128(const h5cl_stats_state *st)
{
    i128 lo = st->kind == H5CL_KIND_SIGNED ? (i128)st->sum.i : (i128)st->sum.u;
    return lo + (i128)st->sum_hi * ((i128)1 << 64);
}

/* Stores an exact sum (|v| < 2^127) as a wrapped 64-bit value and a count
 * of wraps; overflow is set when there is any wrap. */
static void put128(h5cl_stats_state *st, i128 v)
{
    i128 lo;
    if (st->kind == H5CL_KIND_SIGNED) {
        st->sum.i = (int64_t)(uint64_t)(unsigned __int128)v;
        lo = st->sum.i;
    } else {
        st->sum.u = (uint64_t)(unsigned __int128)v;
        lo = st->sum.u;
    }
    st->sum_hi = (int64_t)((v - lo) / ((i128)1 << 64));
    st->overflow = st->sum_hi != 0;
}

/* a->sum += b->sum exactly, in 128 bits (2^64 elements of 64-bit data
 * cannot reach 2^127). */
static void add128(h5cl_stats_state *a, const h5cl_stats_state *b)
{
    put128(a, get128(a) + get128(b));
}

void h5cl_stats_state_set_sum128(h5cl_stats_state *st, uint64_t lo,
                                 int64_t hi)
{
    put128(st, (i128)((unsigned __int128)(uint64_t)hi << 64 | lo));
}

uint32_t h5cl_figures_missing(unsigned figures)
{
    if (figures == 0)
        return 0;
    unsigned held = figures | H5CL_FIG_COUNT;
    if (held & H5CL_FIG_VAR)
        held |= H5CL_FIG_SUM;
    /* the index of an extremum costs the kernels next to nothing: it
     * comes with it */
    if (held & (H5CL_FIG_ARG | H5CL_FIG_MINMAX))
        held |= H5CL_FIG_MINMAX | H5CL_FIG_ARG;
    return H5CL_FIG_ALL & ~held;
}

int h5cl_figures_missing_valid(uint32_t missing)
{
    return (missing & ~(uint32_t)(H5CL_FIG_ALL & ~H5CL_FIG_COUNT)) == 0 &&
           h5cl_figures_missing(H5CL_FIG_ALL & ~missing) == missing;
}

int h5cl_figures_parse(const char *names, unsigned *figures_ret)
{
    static const struct {
        const char *name;
        unsigned flag;
    } known[] = {{"count", H5CL_FIG_COUNT}, {"nan_count", H5CL_FIG_COUNT},
                 {"sum", H5CL_FIG_SUM},     {"mean", H5CL_FIG_SUM},
                 {"var", H5CL_FIG_VAR},     {"std", H5CL_FIG_VAR},
                 {"min", H5CL_FIG_MINMAX},  {"max", H5CL_FIG_MINMAX},
                 {"argmin", H5CL_FIG_ARG},  {"argmax", H5CL_FIG_ARG},
                 {"arg", H5CL_FIG_ARG},     {"all", H5CL_FIG_ALL}};
    if (!names || !figures_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    unsigned figs = 0;
    for (const char *p = names; *p;) {
        const size_t len = strcspn(p, ",");
        unsigned flag = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0] && !flag; k++)
            if (strlen(known[k].name) == len &&
                strncmp(p, known[k].name, len) == 0)
                flag = known[k].flag;
        if (!flag)
            return H5CL_ERR_INVALID_ARGUMENT;
        figs |= flag;
        p += len + (p[len] == ',');
    }
    if (!figs)
        return H5CL_ERR_INVALID_ARGUMENT;
    *figures_ret = figs;
    return H5CL_OK;
}

/* A figure one side lacks is lacking in the merge: the intersection, never
 * a figure made of one side's numbers alone. */
static void drop_missing(h5cl_stats_state *a, uint32_t missing)
{
    a->missing |= missing;
    if (a->missing & H5CL_FIG_ARG)
        a->argmin = a->argmax = H5CL_ARG_NONE;
}

int h5cl_stats_state_merge(h5cl_stats_state *a, const h5cl_stats_state *b)
{
    if (!a || !b || a->kind != b->kind)
        return H5CL_ERR_INVALID_ARGUMENT;
    a->nan_count += b->nan_count;
    drop_missing(a, b->missing);
    if (b->count == 0)
        return H5CL_OK;
    if (take_min(a, b)) {
        a->min = b->min;
        a->argmin = b->argmin;
    }
    if (take_max(a, b)) {
        a->max = b->max;
        a->argmax = b->argmax;
    }
    if (a->kind == H5CL_KIND_FLOAT) {
        /* Neumaier: the compensation keeps what the big sum rounded off;
         * an infinite sum has none (and inf - inf would poison it) */
        double s = a->sum.f, t = s + b->sum.f;
        if (isfinite(t))
            a->sum_comp += fabs(s) >= fabs(b->sum.f) ? (s - t) + b->sum.f
                                                      : (b->sum.f - t) + s;
        a->sum_comp += b->sum_comp;
        a->sum.f = t;
    } else {
        add128(a, b);
    }
    if (a->count == 0) {
        a->mean = b->mean;
        a->m2 = b->m2;
    } else {
        double na = (double)a->count, nb = (double)b->count, n = na + nb;
        double delta = b->mean - a->mean;
        a->mean += delta * (nb / n);
        a->m2 += b->m2 + delta * delta * (na * nb / n);
    }
    a->count += b->count;
    drop_missing(a, 0); /* take_min may have copied b's argmin */
    return H5CL_OK;
}

/* ---- serialised form: 8-byte header then eleven 64-bit words, LE; the
 * last word is sum_hi.  Header byte 5, reserved 0 before figures could be
 * selected, holds `missing`: older buffers held every figure ---- */

static const unsigned char state_magic[4] = {'H', '5', 'S', 'T'};
#define STATE_VERSION 1

double h5cl_bits_double(uint64_t u)
{
    return h5cl_bits_to_double(u);
}

void h5cl_stats_state_serialize(const h5cl_stats_state *st, unsigned char *b)
{
    memcpy(b, state_magic, 4);
    b[4] = STATE_VERSION;
    b[5] = (unsigned char)st->missing;
    b[6] = (unsigned char)st->kind;
    b[7] = (unsigned char)(st->overflow != 0);
    const uint64_t w[11] = {st->count,
                            st->nan_count,
                            st->sum.u,
                            h5cl_double_bits(st->sum_comp),
                            h5cl_double_bits(st->mean),
                            h5cl_double_bits(st->m2),
                            st->min.u,
                            st->max.u,
                            st->argmin,
                            st->argmax,
                            (uint64_t)st->sum_hi};
    for (int i = 0; i < 11; i++)
        h5cl_put64(b + 8 + 8 * i, w[i]);
}

int h5cl_stats_state_deserialize(const unsigned char *b, size_t n,
                                 h5cl_stats_state *st)
{
    if (!b || !st || n < H5CL_STATS_STATE_BYTES ||
        memcmp(b, state_magic, 4) != 0 || b[4] != STATE_VERSION ||
        !h5cl_figures_missing_valid(b[5]) || b[6] > H5CL_KIND_UNSIGNED ||
        b[7] > 1)
        return H5CL_ERR_BAD_STATE;
    h5cl_stats_state s;
    memset(&s, 0, sizeof s);
    s.missing = b[5];
    s.kind = b[6];
    s.overflow = b[7];
    s.count = h5cl_get64(b + 8);
    s.nan_count = h5cl_get64(b + 16);
    s.sum.u = h5cl_get64(b + 24);
    s.sum_comp = h5cl_bits_double(h5cl_get64(b + 32));
    s.mean = h5cl_bits_double(h5cl_get64(b + 40));
    s.m2 = h5cl_bits_double(h5cl_get64(b + 48));
    s.min.u = h5cl_get64(b + 56);
    s.max.u = h5cl_get64(b + 64);
    s.argmin = h5cl_get64(b + 72);
    s.argmax = h5cl_get64(b + 80);
    s.sum_hi = (int64_t)h5cl_get64(b + 88);
    if (s.kind == H5CL_KIND_FLOAT ? s.sum_hi != 0
                                  : s.overflow != (s.sum_hi != 0))
        return H5CL_ERR_BAD_STATE; /* inconsistent integer sum */
    if (s.count > 0 && !(s.m2 >= 0) && !isinf(s.m2) && !isnan(s.mean))
        return H5CL_ERR_BAD_STATE; /* a negative M2 never comes from data */
    *st = s;
    return H5CL_OK;
}

/* ---- derived figures ---- */

double h5cl_stats_state_sum(const h5cl_stats_state *st)
{
    if (!st || (st->missing & H5CL_FIG_SUM))
        return NAN;
    if (st->kind == H5CL_KIND_FLOAT)
        return st->sum.f + st->sum_comp;
    return (double)get128(st); /* exact sum, rounded once */
}

double h5cl_stats_state_mean(const h5cl_stats_state *st)
{
    if (!st || st->count == 0 || (st->missing & H5CL_FIG_SUM))
        return NAN;
    if (st->kind == H5CL_KIND_FLOAT) {
        /* the compensated sum is the more accurate where it is finite; an
         * infinite sum with a finite running mean means the sum overflowed,
         * otherwise the data held infinities and the sum tells their sign */
        double s = st->sum.f + st->sum_comp;
        return isfinite(s) || !isfinite(st->mean) ? s / (double)st->count
                                                  : st->mean;
    }
    /* quotient and remainder: exact without long double (which valgrind
     * and some ABIs only give as double) */
    i128 total = get128(st), n = (i128)st->count;
    return (double)(total / n) + (double)(total % n) / (double)st->count;
}

double h5cl_stats_state_var(const h5cl_stats_state *st, unsigned ddof)
{
    if (!st || st->count <= ddof || (st->missing & H5CL_FIG_VAR))
        return NAN;
    return st->m2 / (double)(st->count - ddof);
}

double h5cl_stats_state_std(const h5cl_stats_state *st, unsigned ddof)
{
    return sqrt(h5cl_stats_state_var(st, ddof));
}

double h5cl_stats_state_min(const h5cl_stats_state *st)
{
    if (!st || st->count == 0 || (st->missing & H5CL_FIG_MINMAX))
        return NAN;
    return st->kind == H5CL_KIND_SIGNED     ? (double)st->min.i
           : st->kind == H5CL_KIND_UNSIGNED ? (double)st->min.u
                                            : st->min.f;
}

double h5cl_stats_state_max(const h5cl_stats_state *st)
{
    if (!st || st->count == 0 || (st->missing & H5CL_FIG_MINMAX))
        return NAN;
    return st->kind == H5CL_KIND_SIGNED     ? (double)st->max.i
           : st->kind == H5CL_KIND_UNSIGNED ? (double)st->max.u
                                            : st->max.f;
}
