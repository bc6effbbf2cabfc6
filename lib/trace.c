/* Chrome/Perfetto trace-event output: a lane per pipeline stage, a bar per
 * tile, so a glance shows whether reading, transfers and kernels overlap. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pipeline.h"

static const char *const lane_names[H5CL_STAGE_COUNT] = {
    "read (reader thread)", "upload (transfer queue)", "kernel (compute queue)",
    "download (compute queue)", "merge (caller thread)",
    "write (writer thread)"};

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int h5cl_trace_write(h5cl_ctx *ctx, const char *path,
                     const h5cl_tile_timing *times, size_t n,
                     const h5cl_run_summary *sum, const char *device,
                     const char *dataset)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return h5cl_fail(ctx, H5CL_ERR_IO, "cannot write trace %s: %s", path,
                         strerror(errno));
    fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"device\":", f);
    json_string(f, device);
    fputs(",\"dataset\":", f);
    json_string(f, dataset);
    fprintf(f, ",\"bytes\":%llu,\"seconds\":%.9f,\"overlap\":%.4f},\n",
            (unsigned long long)sum->bytes, sum->seconds, sum->overlap);
    fputs("\"traceEvents\":[\n", f);
    fputs("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
          "\"args\":{\"name\":\"h5cl\"}}",
          f);
    for (int s = 0; s < H5CL_STAGE_COUNT; s++) {
        fprintf(f,
                ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,"
                "\"tid\":%d,\"args\":{\"name\":\"%s\"}}",
                s + 1, lane_names[s]);
        fprintf(f,
                ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,"
                "\"tid\":%d,\"args\":{\"sort_index\":%d}}",
                s + 1, s + 1);
    }
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < H5CL_STAGE_COUNT; s++) {
            double b = times[i].begin[s], e = times[i].end[s];
            if (e < b)
                e = b;
            fprintf(f,
                    ",\n{\"name\":\"%s %llu\",\"cat\":\"%s\",\"ph\":\"X\","
                    "\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
                    "\"args\":{\"tile\":%llu,\"bytes\":%llu}}",
                    h5cl_stage_name((h5cl_stage)s),
                    (unsigned long long)times[i].tile,
                    h5cl_stage_name((h5cl_stage)s), s + 1, b * 1e6,
                    (e - b) * 1e6, (unsigned long long)times[i].tile,
                    (unsigned long long)times[i].bytes);
        }
    }
    fputs("\n]}\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return h5cl_fail(ctx, H5CL_ERR_IO, "writing trace %s failed: %s",
                         path, strerror(errno));
    return H5CL_OK;
}
