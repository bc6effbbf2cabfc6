/*
 * h5cl CLI: what the tool's files share.  The tool uses the public API
 * (include/h5cl.h) only.
 *
 *   h5cl.c        main, the usage text, command dispatch
 *   cli_util.c    messages and exit statuses, number and byte parsing,
 *                 formatting of numbers, sizes, shapes and indices
 *   cli_json.c    the JSON writer
 *   cli_run.c     what every run command shares: Ctrl-C, the progress bar,
 *                 the run options (--select --device --slots --tile-bytes
 *                 --trace --json --quiet --expr --with --name --mask-fill
 *                 --cf), opening the inputs, what decoding applies, the
 *                 run summary
 *   cli_isolate.c isolated mode (--isolate --in-process --reader-timeout)
 *                 for info and every run command
 *   cmd_*.c       one command each (stats and dot share cmd_stats.c)
 */
#ifndef H5CL_CLI_H
#define H5CL_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "h5cl.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Rows of a per-position table shown to people before "...". */
#define TABLE_ROWS 20

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * h5cl.c
 */

/* The whole usage text, to stdout (help asked for) or stderr. */
void print_usage(FILE *f);

/* One command: argv[0] is the command's name. */
int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_dot(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_hist(int argc, char **argv);
int cmd_quantile(int argc, char **argv);
int cmd_cov(int argc, char **argv);
int cmd_pca(int argc, char **argv);

/* ------------------------------------------------------------------------
 * cli_util.c: messages.  Each returns the exit status to return.
 */

/* "h5cl: <problem>" and a hint to try --help: EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "h5cl: <H5CL_ERR_NAME>: <the context's detailed message>": EXIT_RUNTIME.
 * A cancelled run is just "h5cl: cancelled". */
int lib_error(const h5cl_ctx *ctx, int status);
/* getopt_long's ':' (missing argument) and '?' (unknown option). */
int option_error(int c, char **argv);
int no_memory(void);
/* Flushes stdout; a failed write (full disk, closed pipe) turns `code`
 * EXIT_OK into EXIT_RUNTIME. */
int finish_output(int code);
/* Prints the usage to stdout for -h/--help: EXIT_OK (or a write error). */
int help_requested(void);

/* ------------------------------------------------------------------------
 * cli_util.c: parsing and formatting.
 */

double now_seconds(void);
/* A whole decimal integer in [lo, hi]; 0 on success. */
int parse_long(const char *s, long long lo, long long hi, long long *out);
/* --axis N: an integer in [-H5CL_MAX_RANK, H5CL_MAX_RANK); prints the usage
 * error and returns nonzero otherwise. */
int parse_axis(const char *s, long long *axis_ret);
/* Plain bytes or a K/M/G/T suffix (powers of 1024), optionally followed by
 * "B" or "iB"; zero is refused.  0 on success. */
int parse_bytes(const char *s, uint64_t *out);
/* A finite double, the whole of s; 0 on success. */
int parse_double(const char *s, double *out);
/* A comma-separated list of at most `cap` whole numbers in [lo, hi]
 * ("64,100"); *n_ret receives how many.  0 on success. */
int parse_u64_list(const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
                   size_t cap, size_t *n_ret);
/* An h5cl_dtype by name ("float32"); -1 for none. */
int parse_dtype(const char *s);
/* A variable name of an expression: a letter or '_', then letters, digits
 * or '_'. */
int is_identifier(const char *s, size_t n);
/* "FILE:DSET" into new strings: the dataset part starts at the last ":/"
 * (so file names may hold ':'), else after the last ':'.  0 on success,
 * -1 for a malformed spec, -2 when out of memory. */
int split_file_dataset(const char *spec, char **file_ret, char **path_ret);
/* The -o OUT_FILE:OUT_DSET option of map, cov and pca: replaces *file and
 * *path; 0, or the exit status after a usage or memory error message. */
int parse_output_option(const char *spec, char **file, char **path);

/* "1.50 GiB" style, into buf; returns buf. */
const char *human_bytes(char *buf, size_t n, uint64_t bytes);
/* Copies text into buf; returns buf. */
const char *put(char *buf, size_t n, const char *text);
/* Shortest "%.Ng" that reads back as exactly v (at most 17 digits): the
 * repr of a double; "nan", "inf", "-inf". */
const char *fmt_exact(char *buf, size_t n, double v);
/* As fmt_exact, for a value known to be a float32. */
const char *fmt_exact_f32(char *buf, size_t n, double v);
/* "%.<digits>g" for derived figures shown to people. */
const char *fmt_approx(char *buf, size_t n, double v, int digits);
/* "2 x 3 x 4", or "scalar" for rank 0. */
void print_dims(FILE *f, int rank, const uint64_t *dims);
/* "[1, 2]": the C-order multi-index of flat index `flat` in dims. */
void format_index(char *buf, size_t n, uint64_t flat, int rank,
                  const uint64_t *dims);

/* ------------------------------------------------------------------------
 * cli_json.c: a small JSON writer.  Objects are pretty-printed, compact
 * arrays stay on one line.  Never writes NaN or Infinity (null instead);
 * strings are escaped and invalid UTF-8 becomes U+FFFD.
 */
#define JW_DEPTH 16

typedef struct jw {
    FILE *f;
    int depth;
    int after_key;
    size_t items[JW_DEPTH];
    int compact[JW_DEPTH];
} jw;

void jw_init(jw *w, FILE *f);
void jw_key(jw *w, const char *key);
/* c is '{' or '['; compact keeps the container on one line. */
void jw_open(jw *w, char c, int compact);
void jw_close(jw *w, char c);
/* NULL writes null. */
void jw_string(jw *w, const char *s);
void jw_null(jw *w);
void jw_bool(jw *w, int v);
void jw_u64(jw *w, uint64_t v);
void jw_i64(jw *w, int64_t v);
/* Exactly (shortest round trip); null if not finite. */
void jw_double(jw *w, double v);
void jw_dims(jw *w, int rank, const uint64_t *dims);
/* The keys of a dataset's description: dtype, byte_order, rank, shape,
 * layout, chunks, filters, element_count, nbytes, storage_bytes. */
void json_dataset_info(jw *w, const h5cl_dataset_info *d);

/* Not one of the shared options (run_args_option's return). */
#define RUN_OPT_OTHER (-1)

/* ------------------------------------------------------------------------
 * cli_isolate.c: isolated mode (--isolate, --in-process,
 * --reader-timeout), for every command that opens a file.
 */
enum { OPT_ISOLATE = 290, OPT_IN_PROCESS, OPT_READER_TIMEOUT };

#define ISOLATE_LONGOPTS                                                      \
    {"isolate", no_argument, NULL, OPT_ISOLATE},                              \
    {"in-process", no_argument, NULL, OPT_IN_PROCESS},                        \
    {"reader-timeout", required_argument, NULL, OPT_READER_TIMEOUT}

enum { ISO_DEFAULT = 0, ISO_ON, ISO_OFF };

typedef struct iso_args {
    int mode;            /* ISO_*; ISO_DEFAULT: on unless H5CL_ISOLATE=0 */
    double wall_seconds; /* 0: the library's default                     */
} iso_args;

/* 0 when c was one of ISOLATE_LONGOPTS, RUN_OPT_OTHER when not, or a
 * usage exit status. */
int iso_args_option(iso_args *a, int c, const char *arg);
/* Sets ctx's isolation from the flags: H5CL_OK or a library status. */
int iso_apply(h5cl_ctx *ctx, const iso_args *a);

/* ------------------------------------------------------------------------
 * cli_run.c: the options every run command shares.
 *
 * A command lists RUN_LONGOPTS in its long options and RUN_SHORTOPTS in
 * its short ones, and gives every option getopt returns to
 * run_args_option() before its own switch.  Its own long-only options use
 * codes from OPT_CMD up.
 */
enum {
    OPT_SLOTS = 256, OPT_TILE, OPT_TRACE, OPT_JSON, OPT_QUIET, OPT_WITH,
    OPT_NAME, OPT_MASK_FILL, OPT_CF,
    OPT_CMD = 300
};

#define RUN_LONGOPTS                                                          \
    {"select", required_argument, NULL, 's'},                                 \
    {"device", required_argument, NULL, 'd'},                                 \
    {"slots", required_argument, NULL, OPT_SLOTS},                            \
    {"tile-bytes", required_argument, NULL, OPT_TILE},                        \
    {"trace", required_argument, NULL, OPT_TRACE},                            \
    {"json", no_argument, NULL, OPT_JSON},                                    \
    {"quiet", no_argument, NULL, OPT_QUIET},                                  \
    {"expr", required_argument, NULL, 'e'},                                   \
    {"with", required_argument, NULL, OPT_WITH},                              \
    {"name", required_argument, NULL, OPT_NAME},                              \
    {"mask-fill", no_argument, NULL, OPT_MASK_FILL},                          \
    {"cf", no_argument, NULL, OPT_CF},                                        \
    ISOLATE_LONGOPTS,                                                         \
    {"help", no_argument, NULL, 'h'}
/* -q is --quiet except in `quantile`, which leaves it out. */
#define RUN_SHORTOPTS "s:d:e:h"

/* One --with NAME=FILE:DSET. */
typedef struct with_spec {
    char *name;
    char *file;
    char *path;
} with_spec;

typedef struct run_args {
    const char *cmd;        /* the command, for messages                 */
    const char *file;       /* FILE DSET: the primary dataset            */
    const char *dset;
    const char *select;
    const char *device;
    const char *trace;
    unsigned slots;
    uint64_t tile_bytes;
    int json;
    int quiet;
    const char *expr;
    const char *name;       /* the primary's variable; NULL: "x"         */
    with_spec with[H5CL_MAX_INPUTS - 1];
    size_t nwith;
    int mask_fill;          /* --mask-fill                               */
    int cf;                 /* --cf                                      */
    int multi_ok;           /* the command runs on several devices       */
    iso_args iso;           /* --isolate, --in-process, --reader-timeout */
} run_args;


void run_args_init(run_args *a, const char *cmd);
void run_args_free(run_args *a);
/* Handles option c (argument arg): 0 when it was a shared option,
 * RUN_OPT_OTHER when it was not, or a usage exit status. */
int run_args_option(run_args *a, int c, const char *arg);
/* FILE DSET from argv[optind..]; checks --with/--name go with --expr.
 * 0 or a usage exit status. */
int run_args_finish(run_args *a, int argc, char **argv);
/* The primary's variable name. */
const char *run_args_name(const run_args *a);

/* One opened input: the primary first, then each --with. */
typedef struct run_input {
    const char *name;
    const char *file;
    const char *path;
    h5cl_dataset *ds;
    h5cl_dataset_info info;
    h5cl_cf_info cf;        /* what --mask-fill / --cf apply             */
} run_input;

/* Devices one run uses at most (--device all or a list). */
#define RUN_MAX_DEVICES 16

/* What a run command holds while it runs: the inputs, the selection,
 * the device, the run options and the progress bar. */
typedef struct run_state {
    h5cl_ctx *ctx;
    const run_args *a;
    size_t n;                          /* inputs                          */
    run_input in[H5CL_MAX_INPUTS];
    h5cl_binding with[H5CL_MAX_INPUTS];
    int decode;                        /* an input is decoded             */
    h5cl_dtype expr_dtype;             /* the expression's default type   */
    int sel_rank;
    uint64_t sel_dims[H5CL_MAX_RANK];
    uint64_t sel_elems;
    h5cl_device_info dev;
    h5cl_run_options ro;
    /* progress bar */
    int prog_enabled;
    int prog_drawn;
    double prog_t0;
    double prog_last;
    uint64_t prog_total;
    /* --device all or a list (cli_multi.c): more[0..nmore) beside ctx */
    h5cl_ctx *more[RUN_MAX_DEVICES - 1];
    size_t nmore;
} run_state;

/* Installs the Ctrl-C handler, opens the inputs, checks the expression
 * (h5cl_expr_check) and the selection, opens the device and fills rs->ro
 * (axis -1, progress bar).  On failure prints the message and returns the
 * exit status; run_end() must be called either way. */
int run_begin(run_state *rs, h5cl_ctx *ctx, const run_args *a);
/* Removes the handler and closes the inputs. */
void run_end(run_state *rs);
/* Call just before the library's run: EXIT_OK, or EXIT_RUNTIME after
 * printing "cancelled" when Ctrl-C came first.  Starts the bar's clock. */
int run_start(run_state *rs);
/* Call right after it: clears the bar; a Ctrl-C after the last tile turns
 * H5CL_OK into H5CL_ERR_CANCELLED (not for maps: their output is then
 * already in place, so the run counts as done). */
int run_finish(run_state *rs, int status);
void run_clear_progress(run_state *rs);
/* Resolves --axis (negative counts from the end) against the selection:
 * 0, or prints H5CL_ERR_AXIS and returns EXIT_RUNTIME. */
int run_resolve_axis(const run_state *rs, long long axis, int *axis_ret);
/* The type of the values a reduction sees: the primary's dtype, or for an
 * expression or decoded data float64 (float32 on devices without fp64). */
h5cl_dtype run_value_dtype(const run_state *rs);
/* The expression the run evaluates: --expr, else with --mask-fill or --cf
 * the primary's name (the decoded data), else NULL. */
const char *run_expr(const run_state *rs);

/* Text lines for people: file, dataset, dtype, selection (and the
 * expression and its bindings), device, and with --mask-fill or --cf what
 * decoding applies to each input. */
void print_run_header(const run_state *rs);
/* JSON keys: file, dataset, dtype, select, selection_shape (and expr,
 * bindings when an expression ran; mask_fill, cf and decoding, a list of
 * what applies to each input, with --mask-fill or --cf). */
void json_run_header(jw *w, const run_state *rs);
/* With --mask-fill or --cf: "masked      N <what became of them>". */
void print_masked(const run_state *rs, uint64_t masked, const char *how);
/* Throughput, wall time, tiles, stages, overlap, trace.  with_write lists
 * the write stage (maps). */
void print_summary_human(const h5cl_run_summary *s, const char *trace,
                         int with_write);
/* bytes, seconds, gb_per_s, device, device_index, device_type, stages,
 * tiles, tile_bytes, slots, overlap, zero_copy, trace; masked with
 * --mask-fill or --cf. */
void json_summary(jw *w, const run_state *rs, const h5cl_run_summary *s,
                  int with_write);

/* ------------------------------------------------------------------------
 * cli_multi.c: --device all, or a comma list of device specs, for the
 * commands that set run_args.multi_ok (stats, hist, cov): one context per
 * device, the work shared by the library (h5cl_multi_*).
 */

/* Opens the device(s) of --device on rs->ctx and, for several, on new
 * contexts in rs->more: 0, or the exit status after the message. */
int run_devices_open(run_state *rs);
void run_devices_close(run_state *rs);
/* The run on every device of the run: h5cl_multi_* or the single call. */
int run_stats(run_state *rs, h5cl_stats **stats_ret);
int run_hist(run_state *rs, const h5cl_hist_options *ho, h5cl_hist **ret);
int run_cov(run_state *rs, h5cl_cov **cov_ret);
/* "devices     2: 0:0 NAME, 0:1 NAME" for several devices, else nothing. */
void print_devices(const run_state *rs);
/* "devices": ["0:0 NAME", ...] for several devices, else nothing. */
void json_devices(jw *w, const run_state *rs);

#endif
