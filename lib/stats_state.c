/* The mergeable partial state of the statistics op: merge (Chan's parallel
 * variance, Neumaier-compensated float sums, exact integer sums), the
 * serialised form, and the derived figures. */
#include <math.h>
#include <string.h>

#include "common.h"

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

int h5cl_stats_state_merge(h5cl_stats_state *a, const h5cl_stats_state *b)
{
    if (!a || !b || a->kind != b->kind)
        return H5CL_ERR_INVALID_ARGUMENT;
    a->nan_count += b->nan_count;
    a->overflow |= b->overflow;
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
    switch (a->kind) {
    case H5CL_KIND_SIGNED:
        if (__builtin_add_overflow(a->sum.i, b->sum.i, &a->sum.i))
            a->overflow = 1;
        break;
    case H5CL_KIND_UNSIGNED:
        if (__builtin_add_overflow(a->sum.u, b->sum.u, &a->sum.u))
            a->overflow = 1;
        break;
    default: {
        /* Neumaier: the compensation keeps what the big sum rounded off */
        double s = a->sum.f, t = s + b->sum.f;
        double c = fabs(s) >= fabs(b->sum.f) ? (s - t) + b->sum.f
                                              : (b->sum.f - t) + s;
        a->sum_comp += c + b->sum_comp;
        a->sum.f = t;
    }
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
    return H5CL_OK;
}

/* ---- serialised form: 8-byte header then eleven 64-bit words, LE ---- */

static const unsigned char state_magic[4] = {'H', '5', 'S', 'T'};
#define STATE_VERSION 1

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

void h5cl_stats_state_serialize(const h5cl_stats_state *st, unsigned char *b)
{
    memcpy(b, state_magic, 4);
    b[4] = STATE_VERSION;
    b[5] = 0;
    b[6] = (unsigned char)st->kind;
    b[7] = (unsigned char)(st->overflow != 0);
    const uint64_t w[11] = {st->count,      st->nan_count,  st->sum.u,
                            dbits(st->sum_comp), dbits(st->mean), dbits(st->m2),
                            st->min.u,      st->max.u,      st->argmin,
                            st->argmax,     0};
    for (int i = 0; i < 11; i++)
        put64(b + 8 + 8 * i, w[i]);
}

int h5cl_stats_state_deserialize(const unsigned char *b, size_t n,
                                 h5cl_stats_state *st)
{
    if (!b || !st || n < H5CL_STATS_STATE_BYTES ||
        memcmp(b, state_magic, 4) != 0 || b[4] != STATE_VERSION ||
        b[5] != 0 || b[6] > H5CL_KIND_UNSIGNED || b[7] > 1 ||
        get64(b + 8 + 80) != 0)
        return H5CL_ERR_BAD_STATE;
    h5cl_stats_state s;
    memset(&s, 0, sizeof s);
    s.kind = b[6];
    s.overflow = b[7];
    s.count = get64(b + 8);
    s.nan_count = get64(b + 16);
    s.sum.u = get64(b + 24);
    s.sum_comp = bitsd(get64(b + 32));
    s.mean = bitsd(get64(b + 40));
    s.m2 = bitsd(get64(b + 48));
    s.min.u = get64(b + 56);
    s.max.u = get64(b + 64);
    s.argmin = get64(b + 72);
    s.argmax = get64(b + 80);
    if (s.count > 0 && !(s.m2 >= 0) && !isinf(s.m2) && !isnan(s.mean))
        return H5CL_ERR_BAD_STATE; /* a negative M2 never comes from data */
    *st = s;
    return H5CL_OK;
}

/* ---- derived figures ---- */

double h5cl_stats_state_sum(const h5cl_stats_state *st)
{
    if (!st)
        return NAN;
    switch (st->kind) {
    case H5CL_KIND_SIGNED:
        return st->overflow ? NAN : (double)st->sum.i;
    case H5CL_KIND_UNSIGNED:
        return st->overflow ? NAN : (double)st->sum.u;
    default:
        return st->sum.f + st->sum_comp;
    }
}

double h5cl_stats_state_mean(const h5cl_stats_state *st)
{
    if (!st || st->count == 0)
        return NAN;
    if (st->kind == H5CL_KIND_FLOAT) {
        /* the compensated sum is the more accurate where it is finite; an
         * infinite sum with a finite running mean means the sum overflowed,
         * otherwise the data held infinities and the sum tells their sign */
        double s = st->sum.f + st->sum_comp;
        return isfinite(s) || !isfinite(st->mean) ? s / (double)st->count
                                                  : st->mean;
    }
    if (st->overflow)
        return st->mean;
    if (st->kind == H5CL_KIND_SIGNED)
        return (double)((long double)st->sum.i / (long double)st->count);
    return (double)((long double)st->sum.u / (long double)st->count);
}

double h5cl_stats_state_var(const h5cl_stats_state *st, unsigned ddof)
{
    if (!st || st->count <= ddof)
        return NAN;
    return st->m2 / (double)(st->count - ddof);
}

double h5cl_stats_state_std(const h5cl_stats_state *st, unsigned ddof)
{
    return sqrt(h5cl_stats_state_var(st, ddof));
}

double h5cl_stats_state_min(const h5cl_stats_state *st)
{
    if (!st || st->count == 0)
        return NAN;
    return st->kind == H5CL_KIND_SIGNED     ? (double)st->min.i
           : st->kind == H5CL_KIND_UNSIGNED ? (double)st->min.u
                                            : st->min.f;
}

double h5cl_stats_state_max(const h5cl_stats_state *st)
{
    if (!st || st->count == 0)
        return NAN;
    return st->kind == H5CL_KIND_SIGNED     ? (double)st->max.i
           : st->kind == H5CL_KIND_UNSIGNED ? (double)st->max.u
                                            : st->max.f;
}
