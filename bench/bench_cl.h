/*
 * h5cl-bench: what the two device probes (bench_roofline.c, bench_syrk.c)
 * share: finding h5cl's device with the OpenCL API, checking cl_int
 * results, and the time of a finished command from event profiling.  Not
 * in bench.h: only the probes include the OpenCL headers.
 */
#ifndef H5CL_BENCH_CL_H
#define H5CL_BENCH_CL_H

#include <CL/cl.h>

#include "bench.h"

/* Writes "NAME failed (code)" into err (ERRLEN) and returns -1 from the
 * calling function when call does not return CL_SUCCESS. */
#define PROBE_CL_TRY(err, call, name)                                        \
    do {                                                                     \
        cl_int e_ = (call);                                                  \
        if (e_ != CL_SUCCESS)                                                \
            return fail(err, "%s failed (%d)", name, (int)e_);               \
    } while (0)

/* The cl_device_id of h5cl's device: the same platform and device
 * indices, and the same name (else an error in err). */
int probe_find_device(const h5cl_device_info *dev, cl_device_id *id_ret,
                      char *err);
/* Seconds from START of first to END of last, both finished (they may be
 * the same event); the wait is on last. */
int probe_event_span(cl_event first, cl_event last, double *s_ret,
                     char *err);

#endif /* H5CL_BENCH_CL_H */
