/*
 * h5cl CLI: messages and exit statuses, parsing of numbers, sizes, types
 * and FILE:DSET specs, and formatting for people.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ------------------------------------------------------------------------
 * Messages.
 */

int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("h5cl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'h5cl --help'.\n", stderr);
    return EXIT_USAGE;
}

volatile sig_atomic_t cli_interrupted;

int interrupted_exit(void)
{
    return cli_interrupted ? 128 + cli_interrupted
                           : exit_status(H5CL_ERR_CANCELLED);
}

int lib_error(const h5cl_ctx *ctx, int status)
{
    const char *msg = ctx ? h5cl_ctx_errmsg(ctx) : "";

    if (status == H5CL_ERR_CANCELLED) {
        fputs("h5cl: cancelled\n", stderr);
        return interrupted_exit();
    }
    if (!msg || !*msg)
        msg = h5cl_strerror(status);
    fprintf(stderr, "h5cl: %s: %s\n", h5cl_errname(status), msg);
    return exit_status(status);
}

int exit_status(int status)
{
    if (status == H5CL_OK)
        return EXIT_OK;
    if (status == H5CL_ERR_CANCELLED)
        return 128 + 2; /* SIGINT */
    return EXIT_STATUS_BASE - status;
}

void print_warnings(const h5cl_dataset *ds)
{
    const char *w = h5cl_dataset_warnings(ds);

    while (*w) {
        size_t n = strcspn(w, "\n");

        fprintf(stderr, "h5cl: warning: %.*s\n", (int)n, w);
        w += n + (w[n] == '\n');
    }
}

int option_error(int c, char **argv)
{
    if (c == ':')
        return usage_error("option '%s' needs an argument", argv[optind - 1]);
    return optopt ? usage_error("unknown option '-%c'", optopt)
                  : usage_error("unknown option '%s'", argv[optind - 1]);
}

int no_memory(void)
{
    fprintf(stderr, "h5cl: %s: %s\n", h5cl_errname(H5CL_ERR_NO_MEMORY),
            h5cl_strerror(H5CL_ERR_NO_MEMORY));
    return exit_status(H5CL_ERR_NO_MEMORY);
}

int finish_output(int code)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "h5cl: cannot write the output: %s\n",
                strerror(errno));
        return code == EXIT_OK ? EXIT_RUNTIME : code;
    }
    return code;
}

int help_requested(void)
{
    print_usage(stdout);
    return finish_output(EXIT_OK);
}

/* ------------------------------------------------------------------------
 * Parsing.
 */

double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || v == 0)
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || (errno == ERANGE && v != 0.0))
        return -1;
    *out = v;
    return 0;
}

int parse_u64_list(const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                   size_t cap, size_t *n_ret)
{
    size_t n = 0;

    if (!s || !*s)
        return -1;
    for (;;) {
        char *end;
        unsigned long long v;

        if (*s < '0' || *s > '9' || n == cap)
            return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || v < lo || v > hi)
            return -1;
        out[n++] = v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
    *n_ret = n;
    return 0;
}

int parse_dtype(const char *s)
{
    int t;

    for (t = 0; t < H5CL_DTYPE_COUNT; t++)
        if (!strcmp(s, h5cl_dtype_name((h5cl_dtype)t)))
            return t;
    return -1;
}

int is_identifier(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

int split_file_dataset(const char *spec, char **file_ret, char **path_ret)
{
    const char *cut = NULL, *p;

    *file_ret = NULL;
    *path_ret = NULL;
    for (p = spec; (p = strstr(p, ":/")) != NULL; p++)
        cut = p;
    if (!cut)
        cut = strrchr(spec, ':');
    if (!cut || cut == spec || cut[1] == '\0')
        return -1;
    *file_ret = strndup(spec, (size_t)(cut - spec));
    *path_ret = strdup(cut + 1);
    if (!*file_ret || !*path_ret) {
        free(*file_ret);
        free(*path_ret);
        *file_ret = *path_ret = NULL;
        return -2;
    }
    return 0;
}

int parse_output_option(const char *spec, char **file, char **path)
{
    free(*file);
    free(*path);
    int rc = split_file_dataset(spec, file, path);
    if (rc == -2)
        return no_memory();
    if (rc)
        return usage_error("bad output '%s' (OUT_FILE:OUT_DSET; the "
                           "dataset starts at the last ':/')",
                           spec);
    return 0;
}

/* ------------------------------------------------------------------------
 * Formatting.
 */

const char *human_bytes(char *buf, size_t n, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB"};
    double v = (double)bytes;
    unsigned u = 0;

    while (v >= 1024.0 && u + 1 < ARRAY_LEN(units)) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%" PRIu64 " B", bytes);
    else
        snprintf(buf, n, "%.2f %s", v, units[u]);
    return buf;
}

const char *put(char *buf, size_t n, const char *text)
{
    snprintf(buf, n, "%s", text);
    return buf;
}

const char *fmt_exact(char *buf, size_t n, double v)
{
    int prec;

    if (isnan(v))
        return put(buf, n, "nan");
    if (isinf(v))
        return put(buf, n, v < 0 ? "-inf" : "inf");
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

const char *fmt_exact_f32(char *buf, size_t n, double v)
{
    int prec;

    if (isnan(v) || isinf(v))
        return fmt_exact(buf, n, v);
    for (prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtof(buf, NULL) == (float)v)
            break;
    }
    return buf;
}

const char *fmt_approx(char *buf, size_t n, double v, int digits)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (isinf(v))
        snprintf(buf, n, v < 0 ? "-inf" : "inf");
    else
        snprintf(buf, n, "%.*g", digits, v);
    return buf;
}

void print_dims(FILE *f, int rank, const uint64_t *dims)
{
    int i;

    if (rank == 0) {
        fputs("scalar", f);
        return;
    }
    for (i = 0; i < rank; i++)
        fprintf(f, "%s%" PRIu64, i ? " x " : "", dims[i]);
}

void format_index(char *buf, size_t n, uint64_t flat, int rank,
                  const uint64_t *dims)
{
    uint64_t idx[H5CL_MAX_RANK];
    size_t used = 0;
    int i;

    for (i = rank - 1; i >= 0; i--) {
        uint64_t d = dims[i] ? dims[i] : 1;
        idx[i] = flat % d;
        flat /= d;
    }
    buf[0] = '\0';
    for (i = 0; i < rank && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%" PRIu64,
                         i ? ", " : "[", idx[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used < n)
        snprintf(buf + used, n - used, rank ? "]" : "[]");
}

int parse_axis(const char *s, long long *axis_ret)
{
    if (!parse_long(s, -H5CL_MAX_RANK, H5CL_MAX_RANK - 1, axis_ret))
        return 0;
    usage_error("bad axis '%s' (an integer from %d to %d)", s, -H5CL_MAX_RANK,
                H5CL_MAX_RANK - 1);
    return 1;
}
