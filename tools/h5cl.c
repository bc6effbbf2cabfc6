/*
 * h5cl: the command-line tool.  Lists OpenCL devices, describes HDF5
 * datasets and streams them through the device to compute statistics.
 * Uses the public API (include/h5cl.h) only.
 *
 * Exit status: 0 ok, 1 runtime error (including a cancelled run), 2 usage
 * error (unknown command or option, missing argument, bad number).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "h5cl.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Rows of a per-axis table shown to people before "...". */
#define TABLE_ROWS 20

static const char usage_text[] =
    "usage: h5cl <command> [options]\n"
    "\n"
    "commands:\n"
    "  devices [--json] [--build-programs] [--device D] [--quiet]\n"
    "      list every OpenCL platform and device; '*' marks the default.\n"
    "      --build-programs builds (or loads from the cache) every kernel\n"
    "      program on the default device (or D) and prints the time taken.\n"
    "  info FILE [DSET] [--json] [--quiet]\n"
    "      without DSET, list the datasets in FILE; with DSET, describe it:\n"
    "      shape, type, layout, chunks, filters, sizes.\n"
    "  stats FILE DSET [options]\n"
    "      count, nan_count, sum, mean, var, std, min, max, argmin, argmax\n"
    "      of the dataset (or a selection of it), in one streamed pass.\n"
    "      -a, --axis N         reduce axis N only (negative counts from the\n"
    "                           end); one result per remaining position\n"
    "      -s, --select S       numpy-style selection \"start:stop,...\"\n"
    "      -d, --device D       default, gpu, cpu, accelerator, P:D or part\n"
    "                           of a device name (default: $H5CL_DEVICE,\n"
    "                           else the first GPU, accelerator, CPU)\n"
    "          --slots K        host slots in flight (default 3)\n"
    "          --tile-bytes B   bytes per tile, e.g. 4M, 512K, 1G, 65536\n"
    "                           (default 8M)\n"
    "          --ddof N         delta degrees of freedom of var and std (0)\n"
    "          --trace F        write a Chrome trace-event JSON file\n"
    "          --json           print JSON instead of text\n"
    "      -q, --quiet          no progress bar\n"
    "  help                     this text\n"
    "\n"
    "  -h, --help               this text\n"
    "  -V, --version            versions of the tool and the library\n"
    "\n"
    "exit status: 0 ok, 1 runtime error or cancelled, 2 usage error.\n";

/* ------------------------------------------------------------------------
 * Messages.
 */

/* Prints "h5cl: <problem>" and a hint; returns the usage exit status. */
static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("h5cl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'h5cl --help'.\n", stderr);
    return EXIT_USAGE;
}

/* Prints a library failure as "h5cl: <name>: <detail>"; returns 1. */
static int lib_error(const h5cl_ctx *ctx, int status)
{
    const char *msg = ctx ? h5cl_ctx_errmsg(ctx) : "";

    if (status == H5CL_ERR_CANCELLED) {
        fputs("h5cl: cancelled\n", stderr);
        return EXIT_RUNTIME;
    }
    if (!msg || !*msg)
        msg = h5cl_strerror(status);
    fprintf(stderr, "h5cl: %s: %s\n", h5cl_errname(status), msg);
    return EXIT_RUNTIME;
}

/* getopt_long's ':' (missing argument) and '?' (unknown option). */
static int option_error(int c, char **argv)
{
    if (c == ':')
        return usage_error("option '%s' needs an argument", argv[optind - 1]);
    return optopt ? usage_error("unknown option '-%c'", optopt)
                  : usage_error("unknown option '%s'", argv[optind - 1]);
}

static int no_memory(void)
{
    fprintf(stderr, "h5cl: %s: %s\n", h5cl_errname(H5CL_ERR_NO_MEMORY),
            h5cl_strerror(H5CL_ERR_NO_MEMORY));
    return EXIT_RUNTIME;
}

/* Flushes stdout and reports a failed write (full disk, closed pipe). */
static int finish_output(int code)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "h5cl: cannot write the output: %s\n",
                strerror(errno));
        return code == EXIT_OK ? EXIT_RUNTIME : code;
    }
    return code;
}

/* ------------------------------------------------------------------------
 * Small helpers: time, numbers, units.
 */

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parses a whole decimal integer in [lo, hi]; 0 on success. */
static int parse_long(const char *s, long long lo, long long hi,
                      long long *out)
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

/* Parses a byte count: plain bytes or a K/M/G/T suffix (powers of 1024),
 * optionally followed by "B" or "iB", any case.  Zero is refused. */
static int parse_bytes(const char *s, uint64_t *out)
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

/* "1.50 GiB" style, into buf. */
static const char *human_bytes(char *buf, size_t n, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB"};
    double v = (double)bytes;
    unsigned u = 0;

    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%" PRIu64 " B", bytes);
    else
        snprintf(buf, n, "%.2f %s", v, units[u]);
    return buf;
}

/* Copies text into buf; returns buf. */
static const char *put(char *buf, size_t n, const char *text)
{
    snprintf(buf, n, "%s", text);
    return buf;
}

/* Shortest "%.Ng" that reads back as exactly v (at most 17 digits). */
static const char *fmt_exact(char *buf, size_t n, double v)
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

/* As fmt_exact, for a value known to be a float32 (people read "0.1", not
 * "0.10000000149011612"). */
static const char *fmt_exact_f32(char *buf, size_t n, double v)
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

/* "%.10g" for derived figures shown to people. */
static const char *fmt_approx(char *buf, size_t n, double v, int digits)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (isinf(v))
        snprintf(buf, n, v < 0 ? "-inf" : "inf");
    else
        snprintf(buf, n, "%.*g", digits, v);
    return buf;
}

/* "2 x 3 x 4", or "scalar" for rank 0. */
static void print_dims(FILE *f, int rank, const uint64_t *dims)
{
    int i;

    if (rank == 0) {
        fputs("scalar", f);
        return;
    }
    for (i = 0; i < rank; i++)
        fprintf(f, "%s%" PRIu64, i ? " x " : "", dims[i]);
}

/* "[1, 2]": the C-order multi-index of flat index `flat` in dims. */
static void format_index(char *buf, size_t n, uint64_t flat, int rank,
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

/* ------------------------------------------------------------------------
 * A small JSON writer: objects pretty-printed, arrays on one line.  Never
 * writes NaN or Infinity (null instead); strings are escaped and invalid
 * UTF-8 becomes U+FFFD.
 */
#define JW_DEPTH 16

typedef struct jw {
    FILE *f;
    int depth;
    int after_key;
    size_t items[JW_DEPTH];
    int compact[JW_DEPTH];
} jw;

static void jw_init(jw *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
}

static void jw_indent(jw *w, int depth)
{
    int i;

    fputc('\n', w->f);
    for (i = 0; i < depth; i++)
        fputs("  ", w->f);
}

/* Writes the separator before a value or key. */
static void jw_pre(jw *w)
{
    int d;

    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0)
        return;
    d = w->depth - 1;
    if (w->items[d]++)
        fputc(',', w->f);
    if (w->compact[d]) {
        if (w->items[d] > 1)
            fputc(' ', w->f);
    } else {
        jw_indent(w, w->depth);
    }
}

/* Length of the valid UTF-8 sequence at s, or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

static void jw_raw_string(jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', w->f);
    while (*s) {
        size_t n;

        switch (*s) {
        case '"': fputs("\\\"", w->f); s++; continue;
        case '\\': fputs("\\\\", w->f); s++; continue;
        case '\n': fputs("\\n", w->f); s++; continue;
        case '\r': fputs("\\r", w->f); s++; continue;
        case '\t': fputs("\\t", w->f); s++; continue;
        default: break;
        }
        if (*s < 0x20 || *s == 0x7F) {
            fprintf(w->f, "\\u%04x", *s);
            s++;
            continue;
        }
        n = utf8_len(s);
        if (n == 0) {
            fputs("\\ufffd", w->f);
            s++;
            continue;
        }
        fwrite(s, 1, n, w->f);
        s += n;
    }
    fputc('"', w->f);
}

static void jw_key(jw *w, const char *key)
{
    jw_pre(w);
    jw_raw_string(w, key);
    fputs(": ", w->f);
    w->after_key = 1;
}

static void jw_open(jw *w, char c, int compact)
{
    jw_pre(w);
    fputc(c, w->f);
    if (w->depth < JW_DEPTH) {
        w->items[w->depth] = 0;
        w->compact[w->depth] = compact;
    }
    w->depth++;
}

static void jw_close(jw *w, char c)
{
    w->depth--;
    if (w->depth < JW_DEPTH && !w->compact[w->depth] && w->items[w->depth])
        jw_indent(w, w->depth);
    fputc(c, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

static void jw_string(jw *w, const char *s)
{
    jw_pre(w);
    if (s)
        jw_raw_string(w, s);
    else
        fputs("null", w->f);
}

static void jw_null(jw *w)
{
    jw_pre(w);
    fputs("null", w->f);
}

static void jw_bool(jw *w, int v)
{
    jw_pre(w);
    fputs(v ? "true" : "false", w->f);
}

static void jw_u64(jw *w, uint64_t v)
{
    jw_pre(w);
    fprintf(w->f, "%" PRIu64, v);
}

static void jw_i64(jw *w, int64_t v)
{
    jw_pre(w);
    fprintf(w->f, "%" PRId64, v);
}

/* A double, exactly (shortest round trip); null if not finite. */
static void jw_double(jw *w, double v)
{
    char buf[40];

    jw_pre(w);
    if (!isfinite(v)) {
        fputs("null", w->f);
        return;
    }
    fputs(fmt_exact(buf, sizeof buf, v), w->f);
}

static void jw_dims(jw *w, int rank, const uint64_t *dims)
{
    int i;

    jw_open(w, '[', 1);
    for (i = 0; i < rank; i++)
        jw_u64(w, dims[i]);
    jw_close(w, ']');
}

/* ------------------------------------------------------------------------
 * devices
 */

static void print_device_human(const h5cl_device_info *d)
{
    char mem[32], alloc[32];

    printf("%c %u:%u  %-11s %s\n", d->is_default ? '*' : ' ',
           d->platform_index, d->device_index, h5cl_device_type_name(d->type),
           d->device_name);
    printf("        platform       %s\n", d->platform_name);
    printf("        vendor         %s\n", d->vendor);
    printf("        driver         %s\n", d->driver_version);
    printf("        OpenCL         %s\n", d->opencl_version);
    printf("        fp64           %s\n", d->has_fp64 ? "yes" : "no");
    printf("        unified memory %s\n",
           d->host_unified_memory ? "yes" : "no");
    printf("        compute units  %u\n", d->compute_units);
    printf("        memory         %s (max allocation %s)\n",
           human_bytes(mem, sizeof mem, d->global_mem_bytes),
           human_bytes(alloc, sizeof alloc, d->max_alloc_bytes));
    printf("        work-group     %zu max\n", d->max_work_group_size);
}

static void json_device(jw *w, const h5cl_device_info *d)
{
    char id[32];

    snprintf(id, sizeof id, "%u:%u", d->platform_index, d->device_index);
    jw_open(w, '{', 0);
    jw_key(w, "index");
    jw_string(w, id);
    jw_key(w, "default");
    jw_bool(w, d->is_default);
    jw_key(w, "type");
    jw_string(w, h5cl_device_type_name(d->type));
    jw_key(w, "name");
    jw_string(w, d->device_name);
    jw_key(w, "platform");
    jw_string(w, d->platform_name);
    jw_key(w, "vendor");
    jw_string(w, d->vendor);
    jw_key(w, "driver");
    jw_string(w, d->driver_version);
    jw_key(w, "opencl_version");
    jw_string(w, d->opencl_version);
    jw_key(w, "fp64");
    jw_bool(w, d->has_fp64);
    jw_key(w, "unified_memory");
    jw_bool(w, d->host_unified_memory);
    jw_key(w, "compute_units");
    jw_u64(w, d->compute_units);
    jw_key(w, "global_mem_bytes");
    jw_u64(w, d->global_mem_bytes);
    jw_key(w, "max_alloc_bytes");
    jw_u64(w, d->max_alloc_bytes);
    jw_key(w, "max_work_group_size");
    jw_u64(w, d->max_work_group_size);
    jw_close(w, '}');
}

/* Lists the devices into a new array; 0 or a status (message in ctx). */
static int list_devices(h5cl_ctx *ctx, h5cl_device_info **out, size_t *n)
{
    h5cl_device_info *info = NULL;
    size_t count = 0, got = 0;
    int st;

    *out = NULL;
    *n = 0;
    st = h5cl_ctx_list_devices(ctx, NULL, 0, &count);
    if (st != H5CL_OK)
        return st;
    if (count) {
        info = calloc(count, sizeof *info);
        if (!info)
            return H5CL_ERR_NO_MEMORY;
        st = h5cl_ctx_list_devices(ctx, info, count, &got);
        if (st != H5CL_OK) {
            free(info);
            return st;
        }
        if (got < count)
            count = got;
    }
    *out = info;
    *n = count;
    return H5CL_OK;
}

static int cmd_devices(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_BUILD };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"build-programs", no_argument, NULL, OPT_BUILD},
        {"device", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int json = 0, build = 0, quiet = 0, c, st, code = EXIT_OK;
    const char *device = NULL;
    h5cl_ctx *ctx = NULL;
    h5cl_device_info *devs = NULL, built;
    size_t n = 0, i;
    double t0, build_seconds = 0.0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_BUILD: build = 1; break;
        case 'q': quiet = 1; break;
        case 'd': device = optarg; break;
        case 'h': fputs(usage_text, stdout); return finish_output(EXIT_OK);
        default:
            return option_error(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("devices: unexpected argument '%s'",
                           argv[optind]);
    if (device && !build)
        return usage_error("devices: --device goes with --build-programs");

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    st = list_devices(ctx, &devs, &n);
    if (st != H5CL_OK) {
        code = st == H5CL_ERR_NO_MEMORY && !*h5cl_ctx_errmsg(ctx)
                   ? no_memory()
                   : lib_error(ctx, st);
        goto out;
    }
    memset(&built, 0, sizeof built);
    if (build) {
        st = h5cl_ctx_use_device(ctx, device);
        if (st == H5CL_OK)
            st = h5cl_ctx_device(ctx, &built);
        if (st == H5CL_OK) {
            if (!json && !quiet) {
                printf("building programs on %u:%u %s ...\n",
                       built.platform_index, built.device_index,
                       built.device_name);
                fflush(stdout);
            }
            t0 = now_seconds();
            st = h5cl_ctx_build_programs(ctx);
            build_seconds = now_seconds() - t0;
        }
        if (st != H5CL_OK) {
            code = lib_error(ctx, st);
            goto out;
        }
    }

    if (json) {
        jw w;

        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        jw_key(&w, "devices");
        jw_open(&w, '[', 0);
        for (i = 0; i < n; i++)
            json_device(&w, &devs[i]);
        jw_close(&w, ']');
        if (build) {
            jw_key(&w, "build");
            jw_open(&w, '{', 0);
            jw_key(&w, "device");
            json_device(&w, &built);
            jw_key(&w, "seconds");
            jw_double(&w, build_seconds);
            jw_close(&w, '}');
        }
        jw_close(&w, '}');
    } else {
        if (n == 0)
            printf("no OpenCL devices\n");
        for (i = 0; i < n; i++)
            print_device_human(&devs[i]);
        if (build)
            printf("built every program on %u:%u %s in %.3f s\n",
                   built.platform_index, built.device_index,
                   built.device_name, build_seconds);
    }
    code = finish_output(EXIT_OK);
out:
    free(devs);
    h5cl_ctx_destroy(ctx);
    return code;
}

/* ------------------------------------------------------------------------
 * info
 */

typedef struct path_list {
    char **paths;
    int *supported;
    size_t n, cap;
} path_list;

static void path_list_free(path_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->supported);
}

/* Collects the walk; opening datasets waits until the walk has ended. */
static int collect_path(const char *path, int supported, void *user)
{
    path_list *l = user;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        char **p = realloc(l->paths, cap * sizeof *p);
        int *s;

        if (!p)
            return 1;
        l->paths = p;
        s = realloc(l->supported, cap * sizeof *s);
        if (!s)
            return 1;
        l->supported = s;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(path);
    if (!l->paths[l->n])
        return 1;
    l->supported[l->n++] = supported;
    return 0;
}

static void json_dataset_info(jw *w, const h5cl_dataset_info *d)
{
    jw_key(w, "dtype");
    jw_string(w, h5cl_dtype_name(d->dtype));
    jw_key(w, "byte_order");
    jw_string(w, d->big_endian ? "big" : "little");
    jw_key(w, "rank");
    jw_i64(w, d->rank);
    jw_key(w, "shape");
    jw_dims(w, d->rank, d->dims);
    jw_key(w, "layout");
    jw_string(w, h5cl_layout_name(d->layout));
    jw_key(w, "chunks");
    if (d->layout == H5CL_LAYOUT_CHUNKED)
        jw_dims(w, d->rank, d->chunk_dims);
    else
        jw_null(w);
    jw_key(w, "filters");
    jw_string(w, d->filters);
    jw_key(w, "element_count");
    jw_u64(w, d->element_count);
    jw_key(w, "nbytes");
    jw_u64(w, d->nbytes);
    jw_key(w, "storage_bytes");
    jw_u64(w, d->storage_bytes);
}

static void print_dataset_info(const h5cl_dataset_info *d)
{
    char a[32], b[32];

    printf("file           %s\n", d->file);
    printf("dataset        %s\n", d->path);
    printf("shape          ");
    print_dims(stdout, d->rank, d->dims);
    printf("\n");
    printf("dtype          %s (%s-endian)\n", h5cl_dtype_name(d->dtype),
           d->big_endian ? "big" : "little");
    printf("layout         %s\n", h5cl_layout_name(d->layout));
    if (d->layout == H5CL_LAYOUT_CHUNKED) {
        printf("chunks         ");
        print_dims(stdout, d->rank, d->chunk_dims);
        printf("\n");
    }
    printf("filters        %s\n", d->filters[0] ? d->filters : "none");
    printf("elements       %" PRIu64 "\n", d->element_count);
    printf("logical size   %s (%" PRIu64 " bytes)\n",
           human_bytes(a, sizeof a, d->nbytes), d->nbytes);
    printf("storage size   %s (%" PRIu64 " bytes",
           human_bytes(b, sizeof b, d->storage_bytes), d->storage_bytes);
    if (d->storage_bytes && d->nbytes)
        printf(", ratio %.2f", (double)d->nbytes / (double)d->storage_bytes);
    printf(")\n");
}

/* One dataset in detail. */
static int info_one(h5cl_ctx *ctx, const char *file, const char *path,
                    int json)
{
    h5cl_dataset *ds = NULL;
    h5cl_dataset_info d;
    int st;

    st = h5cl_dataset_open(ctx, file, path, &ds);
    if (st == H5CL_OK)
        st = h5cl_dataset_get_info(ds, &d);
    if (st != H5CL_OK) {
        int code = lib_error(ctx, st);
        h5cl_dataset_close(ds);
        return code;
    }
    h5cl_dataset_close(ds);
    if (json) {
        jw w;

        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        jw_key(&w, "file");
        jw_string(&w, d.file);
        jw_key(&w, "path");
        jw_string(&w, d.path);
        json_dataset_info(&w, &d);
        jw_close(&w, '}');
    } else {
        print_dataset_info(&d);
    }
    return finish_output(EXIT_OK);
}

/* Every dataset in the file, with its shape, type and layout. */
static int info_list(h5cl_ctx *ctx, const char *file, int json)
{
    path_list l = {0};
    int st, code = EXIT_OK;
    size_t i;
    jw w;

    st = h5cl_file_list_datasets(ctx, file, collect_path, &l);
    if (st > 0) {
        path_list_free(&l);
        return no_memory();
    }
    if (st != H5CL_OK) {
        path_list_free(&l);
        return lib_error(ctx, st);
    }
    jw_init(&w, stdout);
    if (json) {
        jw_open(&w, '{', 0);
        jw_key(&w, "file");
        jw_string(&w, file);
        jw_key(&w, "datasets");
        jw_open(&w, '[', 0);
    } else if (l.n == 0) {
        printf("%s: no datasets\n", file);
    }
    for (i = 0; i < l.n; i++) {
        h5cl_dataset *ds = NULL;
        h5cl_dataset_info d;
        char sz[32];

        st = H5CL_ERR_UNSUPPORTED_TYPE;
        if (l.supported[i]) {
            st = h5cl_dataset_open(ctx, file, l.paths[i], &ds);
            if (st == H5CL_OK)
                st = h5cl_dataset_get_info(ds, &d);
            h5cl_dataset_close(ds);
            if (st != H5CL_OK) {
                fflush(stdout);
                code = lib_error(ctx, st);
            }
        }
        if (json) {
            jw_open(&w, '{', 0);
            jw_key(&w, "path");
            jw_string(&w, l.paths[i]);
            jw_key(&w, "supported");
            jw_bool(&w, l.supported[i]);
            if (st == H5CL_OK) {
                json_dataset_info(&w, &d);
            } else if (l.supported[i]) {
                jw_key(&w, "error");
                jw_string(&w, h5cl_errname(st));
            }
            jw_close(&w, '}');
            continue;
        }
        if (!l.supported[i]) {
            printf("%-30s (unsupported type)\n", l.paths[i]);
            continue;
        }
        if (st != H5CL_OK) {
            printf("%-30s (cannot open)\n", l.paths[i]);
            continue;
        }
        printf("%-30s %-8s ", l.paths[i], h5cl_dtype_name(d.dtype));
        print_dims(stdout, d.rank, d.dims);
        printf("  %s", h5cl_layout_name(d.layout));
        if (d.layout == H5CL_LAYOUT_CHUNKED) {
            printf(" (");
            print_dims(stdout, d.rank, d.chunk_dims);
            printf(")");
        }
        if (d.filters[0])
            printf(" %s", d.filters);
        printf("  %s\n", human_bytes(sz, sizeof sz, d.nbytes));
    }
    if (json) {
        jw_close(&w, ']');
        jw_close(&w, '}');
    }
    path_list_free(&l);
    return finish_output(code);
}

static int cmd_info(int argc, char **argv)
{
    enum { OPT_JSON = 256 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int json = 0, c, code;
    h5cl_ctx *ctx = NULL;
    const char *file, *path;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'q': break; /* nothing to quieten; accepted for scripts */
        case 'h': fputs(usage_text, stdout); return finish_output(EXIT_OK);
        default:
            return option_error(c, argv);
        }
    }
    if (optind >= argc)
        return usage_error("info: missing FILE");
    if (argc - optind > 2)
        return usage_error("info: unexpected argument '%s'",
                           argv[optind + 2]);
    file = argv[optind];
    path = argc - optind == 2 ? argv[optind + 1] : NULL;

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    code = path ? info_one(ctx, file, path, json)
                : info_list(ctx, file, json);
    h5cl_ctx_destroy(ctx);
    return code;
}

/* ------------------------------------------------------------------------
 * stats: cancellation and progress
 */

/* The context the signal handler cancels; set only around a run. */
static h5cl_ctx *volatile g_run_ctx;
/* Set by the handler: a Ctrl-C before the run starts (which clears the
 * library's flag) or between its start and the first tile is not lost. */
static volatile sig_atomic_t g_interrupted;

static void on_interrupt(int sig)
{
    h5cl_ctx *ctx = g_run_ctx;

    (void)sig;
    g_interrupted = 1;
    if (ctx)
        h5cl_cancel(ctx);
}

/* First SIGINT/SIGTERM cancels cleanly; SA_RESETHAND lets a second one
 * end the process at once. */
static void install_interrupt(h5cl_ctx *ctx, struct sigaction *old_int,
                              struct sigaction *old_term)
{
    struct sigaction sa;

    g_run_ctx = ctx;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

static void remove_interrupt(const struct sigaction *old_int,
                             const struct sigaction *old_term)
{
    sigaction(SIGINT, old_int, NULL);
    sigaction(SIGTERM, old_term, NULL);
    g_run_ctx = NULL;
}

typedef struct progress {
    int enabled;
    int drawn;
    double t0;
    double last_draw;
    uint64_t total_bytes;
} progress;

static void format_eta(char *buf, size_t n, double s)
{
    unsigned long t;

    if (!(s >= 0.0) || s > 359999.0) {
        snprintf(buf, n, "--:--");
        return;
    }
    t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%lu:%02lu", t / 60, t % 60);
}

/* Progress callback: percent, GB/s and ETA, redrawn at most 10 times a
 * second.  Also turns an early Ctrl-C into a cancel. */
static int on_progress(uint64_t tiles_done, uint64_t tiles_total,
                       uint64_t bytes_done, void *user)
{
    progress *p = user;
    double t, elapsed, frac, rate, eta;
    char bar[31], etabuf[24];
    int i, fill;

    if (g_interrupted)
        return 1;
    if (!p->enabled)
        return 0;
    t = now_seconds();
    if (p->drawn && t - p->last_draw < 0.1)
        return 0;
    if (!p->drawn && t - p->t0 < 0.1)
        return 0;
    p->last_draw = t;
    p->drawn = 1;
    elapsed = t - p->t0;
    if (p->total_bytes)
        frac = (double)bytes_done / (double)p->total_bytes;
    else
        frac = tiles_total ? (double)tiles_done / (double)tiles_total : 0.0;
    if (frac > 1.0)
        frac = 1.0;
    rate = elapsed > 0.0 ? (double)bytes_done / elapsed : 0.0;
    eta = frac > 0.0 ? elapsed * (1.0 - frac) / frac : -1.0;
    fill = (int)(frac * 30.0);
    for (i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    format_eta(etabuf, sizeof etabuf, eta);
    fprintf(stderr, "\r[%s] %5.1f%%  %7.2f GB/s  ETA %s\033[K", bar,
            frac * 100.0, rate / 1e9, etabuf);
    fflush(stderr);
    return 0;
}

static void progress_clear(progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

/* ------------------------------------------------------------------------
 * stats: output
 */

typedef struct stats_opts {
    const char *file;
    const char *dset;
    const char *select;
    const char *device;
    const char *trace;
    long long axis;
    int have_axis;
    unsigned slots;
    uint64_t tile_bytes;
    unsigned ddof;
    int json;
    int quiet;
} stats_opts;

/* What the outputs need besides the result itself. */
typedef struct stats_view {
    const stats_opts *o;
    h5cl_dataset_info info;
    h5cl_device_info dev;
    int sel_rank;
    uint64_t sel_dims[H5CL_MAX_RANK];
    int axis;                /* resolved, or -1 */
    int res_rank;
    uint64_t res_dims[H5CL_MAX_RANK];
    const h5cl_stats *stats;
    const h5cl_run_summary *sum;
} stats_view;

/* Integer figures (sum, min, max) of a state, written exactly. */
static const char *fmt_int_scalar(char *buf, size_t n, int32_t kind,
                                  h5cl_scalar v)
{
    if (kind == H5CL_KIND_UNSIGNED)
        snprintf(buf, n, "%" PRIu64, v.u);
    else
        snprintf(buf, n, "%" PRId64, v.i);
    return buf;
}

static void jw_scalar(jw *w, int32_t kind, h5cl_scalar v)
{
    if (kind == H5CL_KIND_UNSIGNED)
        jw_u64(w, v.u);
    else if (kind == H5CL_KIND_SIGNED)
        jw_i64(w, v.i);
    else
        jw_double(w, v.f);
}

/* The figures one state gives, for both outputs. */
enum fig {
    FIG_COUNT, FIG_NAN, FIG_SUM, FIG_MEAN, FIG_VAR, FIG_STD, FIG_MIN,
    FIG_MAX, FIG_ARGMIN, FIG_ARGMAX, FIG_N
};
static const char *const fig_keys[FIG_N] = {
    "count", "nan_count", "sum", "mean", "var", "std", "min", "max",
    "argmin", "argmax"};

/* Writes one figure of st as a JSON value (null where undefined). */
static void jw_figure(jw *w, const h5cl_stats_state *st, enum fig f,
                      unsigned ddof)
{
    switch (f) {
    case FIG_COUNT: jw_u64(w, st->count); return;
    case FIG_NAN: jw_u64(w, st->nan_count); return;
    case FIG_SUM:
        if (st->count == 0)
            jw_u64(w, 0);
        else if (st->kind != H5CL_KIND_FLOAT)
            st->overflow ? jw_null(w) : jw_scalar(w, st->kind, st->sum);
        else
            jw_double(w, h5cl_stats_state_sum(st));
        return;
    case FIG_MEAN: jw_double(w, h5cl_stats_state_mean(st)); return;
    case FIG_VAR: jw_double(w, h5cl_stats_state_var(st, ddof)); return;
    case FIG_STD: jw_double(w, h5cl_stats_state_std(st, ddof)); return;
    case FIG_MIN:
    case FIG_MAX:
        if (st->count == 0)
            jw_null(w);
        else
            jw_scalar(w, st->kind, f == FIG_MIN ? st->min : st->max);
        return;
    case FIG_ARGMIN:
    case FIG_ARGMAX:
        if (st->count == 0)
            jw_null(w);
        else
            jw_u64(w, f == FIG_ARGMIN ? st->argmin : st->argmax);
        return;
    default: jw_null(w); return;
    }
}

/* One figure of st as text for people; compact selects the table form. */
static const char *fmt_figure(char *buf, size_t n, const stats_view *v,
                              const h5cl_stats_state *st, enum fig f,
                              int compact)
{
    unsigned ddof = v->o->ddof;
    int digits = compact ? 6 : 10;
    int f32 = v->info.dtype == H5CL_FLOAT32;
    double x;

    switch (f) {
    case FIG_COUNT:
        snprintf(buf, n, "%" PRIu64, st->count);
        return buf;
    case FIG_NAN:
        snprintf(buf, n, "%" PRIu64, st->nan_count);
        return buf;
    case FIG_SUM:
        if (st->count == 0)
            return put(buf, n, "0");
        if (st->kind != H5CL_KIND_FLOAT)
            return st->overflow ? put(buf, n, "overflow")
                                : fmt_int_scalar(buf, n, st->kind, st->sum);
        return fmt_approx(buf, n, h5cl_stats_state_sum(st), digits);
    case FIG_MEAN: x = h5cl_stats_state_mean(st); break;
    case FIG_VAR: x = h5cl_stats_state_var(st, ddof); break;
    case FIG_STD: x = h5cl_stats_state_std(st, ddof); break;
    case FIG_MIN:
    case FIG_MAX: {
        h5cl_scalar s = f == FIG_MIN ? st->min : st->max;

        if (st->count == 0)
            return put(buf, n, "-");
        if (st->kind != H5CL_KIND_FLOAT)
            return fmt_int_scalar(buf, n, st->kind, s);
        if (compact)
            return fmt_approx(buf, n, s.f, digits);
        return f32 ? fmt_exact_f32(buf, n, s.f) : fmt_exact(buf, n, s.f);
    }
    case FIG_ARGMIN:
    case FIG_ARGMAX: {
        uint64_t a = f == FIG_ARGMIN ? st->argmin : st->argmax;
        size_t used;

        if (st->count == 0)
            return put(buf, n, "-");
        snprintf(buf, n, "%" PRIu64, a);
        /* Whole selection of rank > 1: also the multi-index. */
        used = strlen(buf);
        if (!compact && v->axis < 0 && v->sel_rank > 1 && used + 2 < n) {
            buf[used++] = ' ';
            buf[used++] = ' ';
            format_index(buf + used, n - used, a, v->sel_rank,
                         v->sel_dims);
        }
        return buf;
    }
    default:
        return put(buf, n, "?");
    }
    if (isnan(x))
        return put(buf, n, st->count ? "nan" : "-");
    return fmt_approx(buf, n, x, digits);
}

static int any_overflow(const h5cl_stats *stats)
{
    size_t i, n = h5cl_stats_count(stats);

    for (i = 0; i < n; i++) {
        const h5cl_stats_state *st = h5cl_stats_get(stats, i);

        if (st && st->kind != H5CL_KIND_FLOAT && st->overflow &&
            st->count)
            return 1;
    }
    return 0;
}

static void print_summary_human(const stats_view *v)
{
    const h5cl_run_summary *s = v->sum;
    char a[32];
    double busiest = 0.0;
    int i, k = 0;

    printf("\n");
    if (s->seconds > 0.0)
        printf("throughput  %.2f GB/s (%.2f GiB/s), %s\n",
               (double)s->bytes / s->seconds / 1e9,
               (double)s->bytes / s->seconds / 1073741824.0,
               human_bytes(a, sizeof a, s->bytes));
    else
        printf("throughput  - (%s)\n", human_bytes(a, sizeof a, s->bytes));
    printf("wall time   %.3f s\n", s->seconds);
    printf("tiles       %" PRIu64 "\n", s->tiles);
    printf("tile size   %s\n", human_bytes(a, sizeof a, s->tile_bytes));
    printf("slots       %u\n", s->slots);
    printf("zero-copy   %s\n", s->zero_copy ? "yes" : "no");
    printf("where the time went (busy seconds, %% of wall):\n");
    for (i = 0; i < H5CL_STAGE_COUNT; i++) {
        double t = s->stage_seconds[i];

        if (t > busiest)
            busiest = t, k = i;
        printf("  %-9s %9.3f s  %6.1f%%\n", h5cl_stage_name((h5cl_stage)i), t,
               s->seconds > 0.0 ? 100.0 * t / s->seconds : 0.0);
    }
    printf("overlap     %.2f (wall / busiest stage, %s; 1.00 is perfect)\n",
           s->overlap, busiest > 0.0 ? h5cl_stage_name((h5cl_stage)k) : "-");
    if (v->o->trace)
        printf("trace       %s\n", v->o->trace);
}

/* The per-position table: first TABLE_ROWS rows, then "...". */
static void print_axis_table(const stats_view *v)
{
    static const enum fig cols[] = {FIG_COUNT, FIG_NAN, FIG_SUM, FIG_MEAN,
                                    FIG_STD, FIG_MIN, FIG_MAX, FIG_ARGMIN,
                                    FIG_ARGMAX};
    static const int widths[] = {10, 9, 14, 13, 13, 13, 13, 8, 8};
    size_t ncols = sizeof cols / sizeof cols[0];
    size_t n = h5cl_stats_count(v->stats), shown = n, i, c;
    char buf[96];
    int iw = 5;

    if (shown > TABLE_ROWS)
        shown = TABLE_ROWS;
    for (i = 0; i < shown; i++) {
        format_index(buf, sizeof buf, i, v->res_rank, v->res_dims);
        if ((int)strlen(buf) > iw)
            iw = (int)strlen(buf);
    }
    printf("%-*s", iw, "index");
    for (c = 0; c < ncols; c++)
        printf(" %*s", widths[c], fig_keys[cols[c]]);
    printf("\n");
    for (i = 0; i < shown; i++) {
        const h5cl_stats_state *st = h5cl_stats_get(v->stats, i);

        format_index(buf, sizeof buf, i, v->res_rank, v->res_dims);
        printf("%-*s", iw, buf);
        for (c = 0; c < ncols && st; c++)
            printf(" %*s", widths[c],
                   fmt_figure(buf, sizeof buf, v, st, cols[c], 1));
        printf("\n");
    }
    if (n > shown)
        printf("... (%zu more rows; --json gives them all)\n", n - shown);
}

static void print_stats_human(const stats_view *v)
{
    char buf[128];
    int f;

    printf("file        %s\n", v->info.file);
    printf("dataset     %s\n", v->info.path);
    printf("dtype       %s\n", h5cl_dtype_name(v->info.dtype));
    printf("selection   ");
    print_dims(stdout, v->sel_rank, v->sel_dims);
    if (v->o->select)
        printf("  [%s]", v->o->select);
    printf("\n");
    printf("device      %u:%u %s (%s)\n", v->dev.platform_index,
           v->dev.device_index, v->dev.device_name,
           h5cl_device_type_name(v->dev.type));
    if (v->axis >= 0) {
        printf("axis        %d reduced; result shape ", v->axis);
        print_dims(stdout, v->res_rank, v->res_dims);
        printf(" (%zu positions)\n", h5cl_stats_count(v->stats));
        if (v->o->ddof)
            printf("ddof        %u\n", v->o->ddof);
        printf("\n");
        print_axis_table(v);
    } else {
        const h5cl_stats_state *st = h5cl_stats_get(v->stats, 0);

        printf("\n");
        for (f = 0; f < FIG_N && st; f++) {
            printf("%-11s %s", fig_keys[f],
                   fmt_figure(buf, sizeof buf, v, st, (enum fig)f, 0));
            if ((f == FIG_VAR || f == FIG_STD) && v->o->ddof)
                printf("  (ddof %u)", v->o->ddof);
            printf("\n");
        }
    }
    print_summary_human(v);
}

static void print_stats_json(const stats_view *v)
{
    const h5cl_run_summary *s = v->sum;
    size_t n = h5cl_stats_count(v->stats), i;
    char id[32];
    jw w;
    int f;

    snprintf(id, sizeof id, "%u:%u", v->dev.platform_index,
             v->dev.device_index);
    jw_init(&w, stdout);
    jw_open(&w, '{', 0);
    jw_key(&w, "file");
    jw_string(&w, v->info.file);
    jw_key(&w, "dataset");
    jw_string(&w, v->info.path);
    jw_key(&w, "dtype");
    jw_string(&w, h5cl_dtype_name(v->info.dtype));
    jw_key(&w, "select");
    jw_string(&w, v->o->select);
    jw_key(&w, "selection_shape");
    jw_dims(&w, v->sel_rank, v->sel_dims);
    jw_key(&w, "axis");
    if (v->axis >= 0)
        jw_i64(&w, v->axis);
    else
        jw_null(&w);
    /* Whole selection: the data's shape; per axis: the arrays' shape. */
    jw_key(&w, "shape");
    if (v->axis >= 0)
        jw_dims(&w, v->res_rank, v->res_dims);
    else
        jw_dims(&w, v->sel_rank, v->sel_dims);
    jw_key(&w, "ddof");
    jw_u64(&w, v->o->ddof);
    for (f = 0; f < FIG_N; f++) {
        jw_key(&w, fig_keys[f]);
        if (v->axis < 0) {
            const h5cl_stats_state *st = h5cl_stats_get(v->stats, 0);

            if (st)
                jw_figure(&w, st, (enum fig)f, v->o->ddof);
            else
                jw_null(&w);
            continue;
        }
        jw_open(&w, '[', 1);
        for (i = 0; i < n; i++) {
            const h5cl_stats_state *st = h5cl_stats_get(v->stats, i);

            if (st)
                jw_figure(&w, st, (enum fig)f, v->o->ddof);
            else
                jw_null(&w);
        }
        jw_close(&w, ']');
    }
    jw_key(&w, "sum_overflow");
    jw_bool(&w, any_overflow(v->stats));
    jw_key(&w, "bytes");
    jw_u64(&w, s->bytes);
    jw_key(&w, "seconds");
    jw_double(&w, s->seconds);
    jw_key(&w, "gb_per_s");
    jw_double(&w, s->seconds > 0.0 ? (double)s->bytes / s->seconds / 1e9
                                   : NAN);
    jw_key(&w, "device");
    jw_string(&w, v->dev.device_name);
    jw_key(&w, "device_index");
    jw_string(&w, id);
    jw_key(&w, "device_type");
    jw_string(&w, h5cl_device_type_name(v->dev.type));
    jw_key(&w, "stages");
    jw_open(&w, '{', 0);
    for (f = 0; f < H5CL_STAGE_COUNT; f++) {
        jw_key(&w, h5cl_stage_name((h5cl_stage)f));
        jw_double(&w, s->stage_seconds[f]);
    }
    jw_close(&w, '}');
    jw_key(&w, "tiles");
    jw_u64(&w, s->tiles);
    jw_key(&w, "tile_bytes");
    jw_u64(&w, s->tile_bytes);
    jw_key(&w, "slots");
    jw_u64(&w, s->slots);
    jw_key(&w, "overlap");
    jw_double(&w, s->overlap);
    jw_key(&w, "zero_copy");
    jw_bool(&w, s->zero_copy);
    jw_key(&w, "trace");
    jw_string(&w, v->o->trace);
    jw_close(&w, '}');
}

/* ------------------------------------------------------------------------
 * stats: the command
 */

static int parse_stats_args(int argc, char **argv, stats_opts *o)
{
    enum {
        OPT_SLOTS = 256, OPT_TILE, OPT_TRACE, OPT_JSON, OPT_DDOF
    };
    static const struct option longopts[] = {
        {"axis", required_argument, NULL, 'a'},
        {"select", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {"slots", required_argument, NULL, OPT_SLOTS},
        {"tile-bytes", required_argument, NULL, OPT_TILE},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"ddof", required_argument, NULL, OPT_DDOF},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long long v;
    int c;

    memset(o, 0, sizeof *o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":a:s:d:qh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'a':
            if (parse_long(optarg, -H5CL_MAX_RANK, H5CL_MAX_RANK - 1,
                           &o->axis))
                return usage_error("bad axis '%s' (an integer from %d to "
                                   "%d)", optarg, -H5CL_MAX_RANK,
                                   H5CL_MAX_RANK - 1);
            o->have_axis = 1;
            break;
        case 's': o->select = optarg; break;
        case 'd': o->device = optarg; break;
        case OPT_SLOTS:
            if (parse_long(optarg, 1, 1024, &v))
                return usage_error("bad slot count '%s' (1 to 1024)",
                                   optarg);
            o->slots = (unsigned)v;
            break;
        case OPT_TILE:
            if (parse_bytes(optarg, &o->tile_bytes))
                return usage_error("bad tile size '%s' (bytes, or with a "
                                   "K, M or G suffix)", optarg);
            break;
        case OPT_TRACE: o->trace = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case 'q': o->quiet = 1; break;
        case OPT_DDOF:
            if (parse_long(optarg, 0, 1000000, &v))
                return usage_error("bad ddof '%s' (a whole number >= 0)",
                                   optarg);
            o->ddof = (unsigned)v;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return option_error(c, argv);
        }
    }
    if (argc - optind < 2)
        return usage_error("stats: missing %s",
                           argc - optind < 1 ? "FILE and DSET" : "DSET");
    if (argc - optind > 2)
        return usage_error("stats: unexpected argument '%s'",
                           argv[optind + 2]);
    o->file = argv[optind];
    o->dset = argv[optind + 1];
    return 0;
}

/* Opens, checks the selection and axis, runs, prints. */
static int stats_run(h5cl_ctx *ctx, const stats_opts *o)
{
    h5cl_dataset *ds = NULL;
    h5cl_stats *stats = NULL;
    h5cl_run_options ro;
    stats_view v;
    progress prog;
    struct sigaction old_int, old_term;
    uint64_t elems = 1;
    int st, i, code = EXIT_RUNTIME;

    memset(&v, 0, sizeof v);
    memset(&prog, 0, sizeof prog);
    v.o = o;
    v.axis = -1;

    /* Ctrl-C from here on cancels; before the run too (the flag). */
    install_interrupt(ctx, &old_int, &old_term);
    st = h5cl_dataset_open(ctx, o->file, o->dset, &ds);
    if (st == H5CL_OK)
        st = h5cl_dataset_get_info(ds, &v.info);
    if (st == H5CL_OK)
        st = h5cl_dataset_selection(ds, o->select, &v.sel_rank, v.sel_dims);
    if (st != H5CL_OK) {
        code = lib_error(ctx, st);
        goto out;
    }
    if (v.info.rank == 0)
        v.sel_rank = 0; /* a scalar: report shape [] as `info` does */
    for (i = 0; i < v.sel_rank; i++)
        elems *= v.sel_dims[i];
    if (o->have_axis) {
        long long a = o->axis < 0 ? o->axis + v.sel_rank : o->axis;

        if (a < 0 || a >= v.sel_rank) {
            fprintf(stderr, "h5cl: %s: axis %lld is out of range for %s "
                    "(the selection has rank %d)\n",
                    h5cl_errname(H5CL_ERR_AXIS), o->axis, o->dset,
                    v.sel_rank);
            goto out;
        }
        v.axis = (int)a;
    }
    st = h5cl_ctx_use_device(ctx, o->device);
    if (st == H5CL_OK)
        st = h5cl_ctx_device(ctx, &v.dev);
    if (st != H5CL_OK) {
        code = lib_error(ctx, st);
        goto out;
    }

    h5cl_run_options_init(&ro);
    ro.tile_bytes = o->tile_bytes;
    ro.slots = o->slots;
    ro.axis = v.axis;
    ro.select = o->select;
    ro.trace_path = o->trace;
    ro.progress = on_progress;
    ro.progress_user = &prog;
    prog.enabled = !o->quiet && isatty(STDERR_FILENO);
    prog.total_bytes = elems * h5cl_dtype_size(v.info.dtype);
    prog.t0 = now_seconds();
    if (g_interrupted) {
        code = lib_error(ctx, H5CL_ERR_CANCELLED);
        goto out;
    }
    st = h5cl_stats_compute(ds, &ro, &stats);
    progress_clear(&prog);
    if (st == H5CL_OK && g_interrupted)
        st = H5CL_ERR_CANCELLED; /* Ctrl-C after the last tile: honour it */
    if (st != H5CL_OK) {
        code = lib_error(ctx, st);
        goto out;
    }

    v.stats = stats;
    v.sum = h5cl_stats_summary(stats);
    v.res_rank = 0;
    if (v.axis >= 0) {
        for (i = 0; i < v.sel_rank; i++)
            if (i != v.axis)
                v.res_dims[v.res_rank++] = v.sel_dims[i];
        /* Prefer the library's own account of the result shape. */
        {
            uint64_t dims[H5CL_MAX_RANK];

            if (h5cl_stats_shape(stats, dims) == H5CL_OK)
                memcpy(v.res_dims, dims,
                       sizeof(uint64_t) * (size_t)v.res_rank);
        }
    }
    if (!v.sum) {
        fprintf(stderr, "h5cl: the run returned no summary\n");
        goto out;
    }
    if (any_overflow(stats))
        fprintf(stderr, "h5cl: warning: sum overflows 64 bits%s\n",
                v.axis >= 0 ? " at some positions" : "");
    if (o->json)
        print_stats_json(&v);
    else
        print_stats_human(&v);
    code = finish_output(EXIT_OK);
out:
    remove_interrupt(&old_int, &old_term);
    h5cl_stats_free(stats);
    h5cl_dataset_close(ds);
    return code;
}

static int cmd_stats(int argc, char **argv)
{
    stats_opts o;
    h5cl_ctx *ctx = NULL;
    int code;

    code = parse_stats_args(argc, argv, &o);
    if (code < 0)
        return finish_output(EXIT_OK); /* --help */
    if (code)
        return code;
    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    code = stats_run(ctx, &o);
    h5cl_ctx_destroy(ctx);
    return code;
}

/* ------------------------------------------------------------------------
 * main
 */

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
        !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return finish_output(EXIT_OK);
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") ||
        !strcmp(cmd, "version")) {
        printf("h5cl %s (library %s)\n", H5CL_VERSION_STRING,
               h5cl_version());
        return finish_output(EXIT_OK);
    }
    if (!strcmp(cmd, "devices"))
        return cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "stats"))
        return cmd_stats(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return usage_error("unknown option '%s'", cmd);
    return usage_error("unknown command '%s'", cmd);
}
