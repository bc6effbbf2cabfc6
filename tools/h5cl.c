/*
 * h5cl: the command-line tool.  Lists OpenCL devices, describes HDF5
 * datasets, and streams them through the device to compute statistics,
 * histograms and quantiles, or to write an expression's values to a new
 * dataset.  Uses the public API (include/h5cl.h) only; cli.h says which
 * file does what.
 *
 * Exit status: 0 ok, 2 usage error (unknown command or option, missing
 * argument, bad number), one status per library error (`h5cl exit-codes`
 * lists them; cli_util.c's exit_status), 1 for a failure of the tool's
 * own (its output cannot be written).
 */
#include <signal.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: h5cl <command> [options]\n"
    "\n"
    "commands:\n"
    "  devices [--json] [--build-programs] [--device D] [--quiet]\n"
    "      list every OpenCL platform and device; '*' marks the default.\n"
    "      --build-programs builds (or loads from the cache) every kernel\n"
    "      program on the default device (or D) and prints the time taken.\n"
    "  info FILE [DSET] [--json] [--quiet] [isolation]\n"
    "      without DSET, list the datasets in FILE; with DSET, describe it:\n"
    "      shape, type, layout, chunks, filters, sizes.\n"
    "  stats FILE DSET [-a N] [--ddof N] [run options]\n"
    "      count, nan_count, sum, mean, var, std, min, max, argmin, argmax\n"
    "      of the dataset (or a selection of it, or an expression), in one\n"
    "      streamed pass.\n"
    "      -a, --axis N         reduce axis N only (negative counts from the\n"
    "                           end); one result per remaining position\n"
    "          --ddof N         delta degrees of freedom of var and std (0)\n"
    "          --figures LIST   compute only these (a comma list of the names\n"
    "                           above, arg for both indices, all); the others\n"
    "                           are left out of the output.  mean comes with\n"
    "                           sum, std with var, argmin/argmax with min/max.\n"
    "                           Whole selection only: -a computes every figure\n"
    "  dot FILE DSET --with NAME=FILE2:DSET2 [run options]\n"
    "      the dot product: the sum of x*NAME over the selection (NaN\n"
    "      products are counted apart and left out), and the count.\n"
    "  map FILE DSET -e EXPR -o OUT_FILE:OUT_DSET [options] [run options]\n"
    "      evaluate EXPR element by element and write it to OUT_DSET (its\n"
    "      groups are made).  The target file is replaced only when the\n"
    "      output is complete: a failure leaves it as it was.  With --cf\n"
    "      or --mask-fill, EXPR may be left out: the decoded data is\n"
    "      written (NaN where masked).\n"
    "      -o, --output F:D     output file and dataset; the dataset starts\n"
    "                           at the last ':/' (else after the last ':')\n"
    "          --dtype T        int8 uint8 int16 uint16 int32 uint32 int64\n"
    "                           uint64 float32 float64 (default: uint8 for\n"
    "                           a comparison, else float32 or float64 as\n"
    "                           numpy would promote)\n"
    "          --gzip L         deflate level 1..9 (0: none)\n"
    "          --shuffle        byte shuffle before compression\n"
    "          --chunks A,B,..  output chunk shape (default: the input's);\n"
    "                           'none' for a contiguous output\n"
    "          --overwrite      replace an existing OUT_DSET\n"
    "  hist FILE DSET [--bins N] [--range LO:HI] [-a N] [run options]\n"
    "      histogram with N equal bins (default 256) over [LO, HI] (default:\n"
    "      the data's min and max, found by a first pass), numpy's rules:\n"
    "      the last bin holds HI; NaNs, values below LO and above HI are\n"
    "      counted apart.  -a N: one histogram per position of the other\n"
    "      axes.\n"
    "  quantile FILE DSET -q Q1,Q2,.. [run options]\n"
    "      exact quantiles (numpy's linear method, NaNs ignored) for\n"
    "      fractions Q in [0, 1], by a few histogram passes.\n"
    "  cov FILE DSET [--corr] [--ddof N] [-o OUT:DSET] [run options]\n"
    "      covariance (or with --corr correlation) matrix of the columns of\n"
    "      a 2-D dataset (rows are samples), streamed through CLBlast.\n"
    "          --ddof N         divide by rows - N (default 1, as numpy.cov)\n"
    "      -o, --output F:D     also write the matrix (float64) to F:D\n"
    "          --overwrite      replace an existing D\n"
    "  pca FILE DSET -k K [-o OUT:DSET] [run options]\n"
    "      the K principal components of a 2-D dataset's columns (LAPACK on\n"
    "      its covariance): explained variance, ratio and components.\n"
    "      -o, --output F:D     also write the rows projected onto them,\n"
    "                           (X - mean) @ components^T, to F:D (rows x K,\n"
    "                           a second streamed pass)\n"
    "          --overwrite      replace an existing D\n"
    "  exit-codes               the exit status of each library error\n"
    "  help                     this text\n"
    "\n"
    "run options (stats, dot, map, hist, quantile, cov, pca):\n"
    "  -s, --select S           numpy-style selection \"start:stop,...\"\n"
    "  -e, --expr E             work on the values of expression E instead\n"
    "                           of the data; the dataset is the variable x\n"
    "      --name N             call the dataset N in E instead of x\n"
    "      --with NAME=FILE:DSET  bind another dataset of the same shape to\n"
    "                           NAME (repeatable; the selection applies to\n"
    "                           all).  E: numbers, + - * / % ** < <= > >=\n"
    "                           == != && || ! c?a:b, abs sqrt exp log pow\n"
    "                           sin cos atan2 floor ... (see the README)\n"
    "      --mask-fill          mask elements equal to the dataset's fill\n"
    "                           value (a user-defined HDF5 fill value,\n"
    "                           _FillValue, missing_value): NaN to every op,\n"
    "                           counted apart (\"masked\")\n"
    "      --cf                 decode CF/netCDF-4 variables first: _Unsigned,\n"
    "                           _FillValue, missing_value, valid_min/max/\n"
    "                           range (compared packed), then scale_factor\n"
    "                           and add_offset; the output says what applied\n"
    "      --strict             refuse data that would not come from the\n"
    "                           file (unwritten or missing chunks, a short\n"
    "                           external file) instead of warning (also for\n"
    "                           info)\n"
    "  -d, --device D           default, gpu, cpu, accelerator, P:D or part\n"
    "                           of a device name (default: $H5CL_DEVICE,\n"
    "                           else the first GPU, accelerator, CPU);\n"
    "                           stats, hist, cov: \"all\" or a comma list\n"
    "                           (\"0:0,0:1\") shares the rows among devices\n"
    "      --slots K            host slots in flight (default 3)\n"
    "      --tile-bytes B       bytes per tile, e.g. 4M, 512K, 1G, 65536\n"
    "                           (default 8M)\n"
    "      --trace F            write a Chrome trace-event JSON file\n"
    "      --json               print JSON instead of text\n"
    "  -q, --quiet              no progress bar (quantile: --quiet only)\n"
    "\n"
    "isolation (info and every run command):\n"
    "      --isolate            read the input files in a child process\n"
    "                           (h5cl-reader) under memory and time limits,\n"
    "                           so a file that crashes or hangs libhdf5 ends\n"
    "                           in an error (the default; H5CL_ISOLATE=0\n"
    "                           changes the default)\n"
    "      --in-process         read them in this process (a little faster)\n"
    "      --reader-timeout S   the child's wall-clock limit per request:\n"
    "                           an open or one tile (default 60 s, plus 1 s\n"
    "                           per 16 MiB read)\n"
    "\n"
    "  -h, --help               this text\n"
    "  -V, --version            versions of the tool and the library\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 130 cancelled, 10 + |status| for\n"
    "each library error (h5cl exit-codes), 1 output not written.\n";

void print_usage(FILE *f)
{
    fputs(usage_text, f);
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"devices", cmd_devices}, {"info", cmd_info},
    {"stats", cmd_stats},     {"dot", cmd_dot},
    {"map", cmd_map},         {"hist", cmd_hist},
    {"quantile", cmd_quantile}, {"cov", cmd_cov},
    {"pca", cmd_pca},
    {"exit-codes", cmd_exit_codes},
};

/* The stable table (README "Exit statuses"), as Markdown rows: what the
 * README shows and what tests/reliability/exit_codes.py checks. */
int cmd_exit_codes(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return usage_error("exit-codes: takes no arguments");
    printf("| status | value | exit | meaning |\n|---|---:|---:|---|\n");
#define ROW_(name, value, msg)                                                \
    printf("| H5CL_%s | %d | %d | %s |\n", #name, value, exit_status(value), \
           msg);
    H5CL_STATUS_LIST(ROW_)
#undef ROW_
    printf("| (usage error) | | %d | unknown command or option, bad "
           "argument |\n", EXIT_USAGE);
    printf("| (output) | | %d | the tool's own output could not be "
           "written |\n", EXIT_RUNTIME);
    return finish_output(EXIT_OK);
}

int main(int argc, char **argv)
{
    const char *cmd;
    size_t i;

    /* A file-size limit (ulimit -f) makes writes fail with EFBIG, which
     * the library reports, instead of killing the process mid-write. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
        !strcmp(cmd, "help"))
        return help_requested();
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") ||
        !strcmp(cmd, "version")) {
        printf("h5cl %s (library %s)\n", H5CL_VERSION_STRING,
               h5cl_version());
        return finish_output(EXIT_OK);
    }
    for (i = 0; i < ARRAY_LEN(commands); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return usage_error("unknown option '%s'", cmd);
    return usage_error("unknown command '%s'", cmd);
}
