/*
 * h5cl-bench: small helpers shared by the bench's files: errors (HDF5's
 * innermost message, h5cl's context message), signals, time, sizes,
 * medians, directories.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------------
 * Small helpers: errors, time, sizes.
 */
volatile sig_atomic_t g_interrupted;
h5cl_ctx *volatile g_ctx;
char g_tmp_path[PATH_MAX + 32];
volatile sig_atomic_t g_tmp_active;
const char *g_self = "/proc/self/exe";

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
    if (g_tmp_active)
        unlink(g_tmp_path);
    if (g_ctx)
        h5cl_cancel(g_ctx);
}

/* First Ctrl-C asks to stop cleanly; a second one kills (SA_RESETHAND). */
void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

__attribute__((format(printf, 2, 3))) int fail(char *err,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, ERRLEN, fmt, ap);
    va_end(ap);
    return -1;
}

static herr_t h5e_innermost(unsigned n, const H5E_error2_t *e, void *user)
{
    char *buf = user;
    if (n == 0 && e && e->desc)
        snprintf(buf, 256, "%s: %s", e->func_name ? e->func_name : "?",
                 e->desc);
    return 0;
}

/* "CALL failed (innermost HDF5 error)" for a failed HDF5 call. */
__attribute__((format(printf, 2, 3))) int hdf5_fail(char *err,
                                                           const char *fmt,
                                                           ...)
{
    char what[512], why[256] = "no HDF5 error recorded";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5e_innermost, why);
    H5Eclear2(H5E_DEFAULT);
    return fail(err, "%s failed (%s)", what, why);
}

int api_fail(char *err, h5cl_ctx *ctx, const char *call, int status)
{
    const char *msg = ctx ? h5cl_ctx_errmsg(ctx) : "";
    return fail(err, "%s: %s%s%s", call, h5cl_errname(status),
                msg && *msg ? ": " : "", msg && *msg ? msg : "");
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parses "4G", "384M", "8MiB", "512k", "4096": K/M/G/T are powers of 1024.
 * Returns 0 and *bytes_ret, or -1. */
int parse_size(const char *text, uint64_t *bytes_ret)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (!text || !*text || *text == '-')
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || end == text)
        return -1;
    switch (*end) {
    case 'k': case 'K': mul = KIB; end++; break;
    case 'm': case 'M': mul = MIB; end++; break;
    case 'g': case 'G': mul = GIB; end++; break;
    case 't': case 'T': mul = GIB * 1024; end++; break;
    default: break;
    }
    if (mul > 1 && *end == 'i')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    if (v > UINT64_MAX / mul)
        return -1;
    *bytes_ret = (uint64_t)v * mul;
    return 0;
}

int parse_uint(const char *text, unsigned lo, unsigned hi,
                      unsigned *ret)
{
    char *end;
    unsigned long v;
    if (!text || !*text || *text == '-')
        return -1;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *ret = (unsigned)v;
    return 0;
}

/* "4.00 GiB" */
const char *fmt_bytes(char *buf, size_t len, uint64_t n)
{
    if (n >= GIB)
        snprintf(buf, len, "%.2f GiB", (double)n / (double)GIB);
    else if (n >= MIB)
        snprintf(buf, len, "%.2f MiB", (double)n / (double)MIB);
    else if (n >= KIB)
        snprintf(buf, len, "%.2f KiB", (double)n / (double)KIB);
    else
        snprintf(buf, len, "%" PRIu64 " B", n);
    return buf;
}

/* "4GiB", exact, for file names: "8MiB", "1536KiB", "1000B". */
const char *fmt_bytes_exact(char *buf, size_t len, uint64_t n)
{
    if (n && n % GIB == 0)
        snprintf(buf, len, "%" PRIu64 "GiB", n / GIB);
    else if (n && n % MIB == 0)
        snprintf(buf, len, "%" PRIu64 "MiB", n / MIB);
    else if (n && n % KIB == 0)
        snprintf(buf, len, "%" PRIu64 "KiB", n / KIB);
    else
        snprintf(buf, len, "%" PRIu64 "B", n);
    return buf;
}

/* "[1073741824]" or "[98304 x 1024]" */
const char *fmt_dims(char *buf, size_t len, int rank,
                            const hsize_t *dims)
{
    size_t off = 0;
    off += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu64,
                                i ? " x " : "", (uint64_t)dims[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct summary3 summarize(const double *v, unsigned n)
{
    struct summary3 s = { NAN, NAN, NAN };
    double tmp[MAX_REPS];
    if (n == 0 || n > MAX_REPS)
        return s;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    s.min = tmp[0];
    s.max = tmp[n - 1];
    s.median = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    return s;
}

/* Reads "KEY:   1234 kB" from a /proc/self file; 0 if absent. */
static uint64_t proc_kib(const char *file, const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    uint64_t v = 0;
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

uint64_t proc_status_kib(const char *key)
{
    return proc_kib("/proc/self/status", key);
}

uint64_t proc_anon_huge_bytes(void)
{
    return proc_kib("/proc/self/smaps_rollup", "AnonHugePages") * 1024;
}

uint64_t proc_file_pmd_bytes(void)
{
    return proc_kib("/proc/self/smaps_rollup", "FilePmdMapped") * 1024;
}

int check_free_space(const char *path, uint64_t need, char *err)
{
    char dir[PATH_MAX];
    char *slash;
    struct statvfs vfs;
    char b1[32], b2[32];

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (statvfs(dir, &vfs) < 0)
        return fail(err, "statvfs %s: %s", dir, strerror(errno));
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < need)
        return fail(err, "not enough free space in %s: need %s, have %s", dir,
                    fmt_bytes(b1, sizeof b1, need),
                    fmt_bytes(b2, sizeof b2,
                              (uint64_t)vfs.f_bavail * vfs.f_frsize));
    return 0;
}

int mkdir_p(const char *dir, char *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return fail(err, "bad directory name '%s'", dir);
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return fail(err, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) < 0 && errno != EEXIST)
        return fail(err, "mkdir %s: %s", buf, strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------------
 * Rows: per-repetition samples, then medians and min-max.
 */
const char *case_name(enum bench_case c)
{
    switch (c) {
    case CASE_STATS: return "stats";
    case CASE_MAP: return "map";
    case CASE_HIST: return "hist";
    case CASE_AXIS: return "axis";
    case CASE_FUSED: return "fused";
    case CASE_COV: return "cov";
    default: return "?";
    }
}

const char *phase_name(enum copy_phase p)
{
    static const char *const names[PHASE_COUNT] = { "read", "write",
                                                    "close", "fsync" };
    return p < PHASE_COUNT ? names[p] : "?";
}

static void row_init(struct row *r, const char *name, const char *label,
                     int is_h5cl)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->label = label;
    r->is_h5cl = is_h5cl;
    r->ratio = NAN;
}

void case_init(struct case_result *cr, enum bench_case c)
{
    memset(cr, 0, sizeof *cr);
    cr->which = c;
    cr->ran = 1;
    switch (c) {
    case CASE_STATS:
        row_init(&cr->rows[0], "raw-h5dread", "raw H5Dread", 0);
        row_init(&cr->rows[1], "h5cl-stats", "h5cl stats", 1);
        row_init(&cr->rows[2], "h5cl-stats-isolated", "h5cl stats, isolated",
                 1);
        row_init(&cr->rows[3], "h5cl-stats-fresh-handle",
                 "h5cl stats, new handle", 1);
        cr->nrows = 4;
        break;
    case CASE_MAP:
        row_init(&cr->rows[0], "raw-read-write", "raw read+write", 0);
        row_init(&cr->rows[1], "h5cl-map", "h5cl map", 1);
        cr->rows[0].have_phases = 1;
        cr->nrows = 2;
        break;
    case CASE_HIST:
        row_init(&cr->rows[0], "raw-h5dread", "raw H5Dread", 0);
        row_init(&cr->rows[1], "h5cl-hist", "h5cl hist", 1);
        row_init(&cr->rows[2], "h5cl-hist-data-range",
                 "h5cl hist, data range", 1);
        cr->nrows = 3;
        break;
    case CASE_AXIS:
        row_init(&cr->rows[0], "raw-h5dread", "raw H5Dread", 0);
        row_init(&cr->rows[1], "h5cl-stats-axis0", "h5cl stats, axis 0", 1);
        row_init(&cr->rows[2], "h5cl-stats-axis1", "h5cl stats, axis 1", 1);
        cr->nrows = 3;
        break;
    case CASE_FUSED:
        row_init(&cr->rows[0], "raw-h5dread", "raw H5Dread", 0);
        /* bench_case_fused.c labels the rows with their expressions */
        row_init(&cr->rows[1], "h5cl-fused-expr", "h5cl fused", 1);
        row_init(&cr->rows[2], "h5cl-fused-two-inputs", "h5cl fused, 2 in",
                 1);
        cr->nrows = 3;
        break;
    case CASE_COV:
        row_init(&cr->rows[0], "raw-h5dread", "raw H5Dread", 0);
        row_init(&cr->rows[1], "h5cl-cov", "h5cl cov", 1);
        cr->nrows = 2;
        break;
    default:
        break;
    }
}

void samples_add(struct samples *s, double wall, uint64_t bytes,
                 const h5cl_run_summary *sum, const double *phase)
{
    unsigned k = s->n;
    if (k >= MAX_REPS)
        return;
    s->seconds[k] = wall;
    s->gbps[k] = (double)bytes / wall / 1e9;
    if (sum) {
        s->run_seconds[k] = sum->seconds;
        s->overlap[k] = sum->overlap;
        for (int i = 0; i < H5CL_STAGE_COUNT; i++)
            s->stage[i][k] = sum->stage_seconds[i];
    }
    if (phase)
        for (int i = 0; i < PHASE_COUNT; i++)
            s->phase[i][k] = phase[i];
    s->n = k + 1;
}

void row_finish(struct row *r, const struct samples *s)
{
    r->seconds = summarize(s->seconds, s->n);
    r->gbps = summarize(s->gbps, s->n);
    if (r->is_h5cl) {
        r->run_seconds = summarize(s->run_seconds, s->n);
        r->overlap = summarize(s->overlap, s->n);
        for (int i = 0; i < H5CL_STAGE_COUNT; i++)
            r->stage[i] = summarize(s->stage[i], s->n);
    }
    if (r->have_phases)
        for (int i = 0; i < PHASE_COUNT; i++)
            r->phase[i] = summarize(s->phase[i], s->n);
    double roof[MAX_REPS], ratio[MAX_REPS];
    unsigned n = 0;
    for (unsigned k = 0; k < s->n; k++)
        if (s->roof[k] > 0) {
            roof[n] = s->roof[k];
            ratio[n++] = s->gbps[k] / s->roof[k];
        }
    /* every repetition had its read, or the ratio would mix runs */
    if ((r->have_roof = n > 0 && n == s->n)) {
        r->roof_gbps = summarize(roof, n);
        r->roof_ratio = summarize(ratio, n);
    }
}

void row_error(struct row *r, const char *msg)
{
    r->status = ROW_ERROR;
    if (!*r->message)
        snprintf(r->message, sizeof r->message, "%s", msg);
}

const char *trace_path_for(const struct bench_cfg *cfg, enum bench_case c,
                           char *buf, size_t len)
{
    const char *slash, *dot;
    unsigned ncases = 0;

    for (int i = 0; i < CASE_COUNT; i++)
        ncases += (cfg->cases >> i) & 1u;
    if (ncases <= 1) {
        snprintf(buf, len, "%s", cfg->trace);
        return buf;
    }
    slash = strrchr(cfg->trace, '/');
    dot = strrchr(cfg->trace, '.');
    if (!dot || (slash && dot < slash) || dot == cfg->trace ||
        (slash && dot == slash + 1))
        snprintf(buf, len, "%s-%s", cfg->trace, case_name(c));
    else
        snprintf(buf, len, "%.*s-%s%s", (int)(dot - cfg->trace), cfg->trace,
                 case_name(c), dot);
    return buf;
}
