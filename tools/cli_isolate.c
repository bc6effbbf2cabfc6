/* The CLI's isolated mode: on by default (a file that crashes libhdf5
 * then ends in an error message, not a core dump), --in-process to turn
 * it off, H5CL_ISOLATE=0|1 to change that default, --reader-timeout for
 * the child's wall-clock limit per request. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int iso_args_option(iso_args *a, int c, const char *arg)
{
    char *end;

    switch (c) {
    case OPT_ISOLATE: a->mode = ISO_ON; return 0;
    case OPT_IN_PROCESS: a->mode = ISO_OFF; return 0;
    case OPT_READER_TIMEOUT:
        a->wall_seconds = strtod(arg, &end);
        if (end == arg || *end || !(a->wall_seconds > 0) ||
            a->wall_seconds > 1e9)
            return usage_error("bad --reader-timeout '%s' (seconds, above 0)",
                               arg);
        return 0;
    default: return RUN_OPT_OTHER;
    }
}

int iso_apply(h5cl_ctx *ctx, const iso_args *a)
{
    const char *env = getenv("H5CL_ISOLATE");
    h5cl_isolation o;
    int st = h5cl_ctx_get_isolation(ctx, &o);

    if (st != H5CL_OK)
        return st;
    if (a->mode != ISO_DEFAULT)
        o.enabled = a->mode == ISO_ON;
    else
        o.enabled = !(env && strcmp(env, "0") == 0);
    if (a->wall_seconds > 0)
        o.wall_seconds = a->wall_seconds;
    return h5cl_ctx_set_isolation(ctx, &o);
}
