/*
 * h5cl-bench, the map case: h5cl_map_run of `x * 2 + 1` (float32 out
 * whatever the input type, uncompressed, the library's default layout)
 * into a new file in the bench directory, against the raw ceiling of the
 * same tiles: H5Dread of each tile of the input and H5Dwrite of it into a
 * float32 dataset of the same shape and layout in a new file (HDF5
 * converting float64 and int16 inputs, so both write the same bytes),
 * committed as h5cl commits its output (close, fsync of the file, rename,
 * fsync of the directory).  Both throughputs are input bytes / wall
 * seconds.
 *
 * Every h5cl output is opened and checked (type, shape, no temporary file
 * left behind) and a few tiles are compared with x * 2 + 1 computed here;
 * a wrong output is an error row, never a figure.  Outputs are deleted
 * between repetitions, outside the timed region.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAP_EXPR "x * 2 + 1"
#define MAP_OUT_NAME "h5cl-bench-map-out.h5"
#define CEILING_OUT_NAME "h5cl-bench-ceiling-out.h5"
#define MAP_OUT_DATASET "/y"
#define VERIFY_TILES 4

/* Removes an output of ours; absent is fine. */
static int remove_output(const char *path, char *err)
{
    if (unlink(path) < 0 && errno != ENOENT)
        return fail(err, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* Fails when a temporary file of path is still in its directory: h5cl's
 * (".NAME.h5cl-PID-N.tmp") or ours ("NAME.tmp-XXXXXX"). */
static int check_no_tmp(const char *path, char *err)
{
    char dir[PATH_MAX], lib_prefix[PATH_MAX], own_prefix[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    struct dirent *e;
    DIR *d;
    int rc = 0;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    snprintf(lib_prefix, sizeof lib_prefix, ".%s.h5cl-", base);
    snprintf(own_prefix, sizeof own_prefix, "%s.tmp-", base);
    if (!(d = opendir(dir)))
        return fail(err, "opendir %s: %s", dir, strerror(errno));
    while ((e = readdir(d)))
        if (strncmp(e->d_name, lib_prefix, strlen(lib_prefix)) == 0 ||
            strncmp(e->d_name, own_prefix, strlen(own_prefix)) == 0) {
            rc = fail(err, "temporary file %s/%s left behind", dir,
                      e->d_name);
            break;
        }
    closedir(d);
    return rc;
}

/* x * 2 + 1 as float32, as h5cl may compute it: in double then rounded
 * (devices with fp64), or in float.  For float32 data both agree except
 * where double rounding differs; either is accepted, nothing else. */
static int map_value_ok(double x, float got)
{
    float in_double = (float)(x * 2.0 + 1.0);
    float in_float = (float)x * 2.0f + 1.0f;
    if (isnan(x))
        return isnan(got);
    return memcmp(&got, &in_double, sizeof got) == 0 ||
           memcmp(&got, &in_float, sizeof got) == 0;
}

/* Opens h5cl's output and checks its type and shape; records its layout.
 * With dcpl_ret, returns a copy of its creation properties (for the
 * ceiling's dataset).  Returns the open dataset in *dset_ret (and the file
 * in *file_ret) when asked, else closes them. */
static int open_output(const struct raw_reader *rr, const char *path,
                       struct map_detail *md, hid_t *dcpl_ret,
                       hid_t *file_ret, hid_t *dset_ret, char *err)
{
    hid_t file = -1, dset = -1, type = -1, space = -1, dcpl = -1, dapl = -1;
    hsize_t dims[H5S_MAX_RANK];
    int rank, rc = -1;

    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        hdf5_fail(err, "h5cl's output: H5Fopen(%s)", path);
        goto out;
    }
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        hdf5_fail(err, "H5Pset_chunk_cache");
        goto out;
    }
    if ((dset = H5Dopen2(file, MAP_OUT_DATASET, dapl)) < 0) {
        hdf5_fail(err, "h5cl's output: H5Dopen2(%s)", MAP_OUT_DATASET);
        goto out;
    }
    if ((type = H5Dget_type(dset)) < 0 || H5Tget_class(type) != H5T_FLOAT ||
        H5Tget_size(type) != 4) {
        fail(err, "h5cl's output %s:%s is not float32", path,
             MAP_OUT_DATASET);
        goto out;
    }
    if ((space = H5Dget_space(dset)) < 0 ||
        (rank = H5Sget_simple_extent_ndims(space)) != rr->rank) {
        fail(err, "h5cl's output has rank %d, the input %d",
             space < 0 ? -1 : H5Sget_simple_extent_ndims(space), rr->rank);
        goto out;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < rank; i++)
        if (dims[i] != rr->dims[i]) {
            fail(err, "h5cl's output dimension %d is %" PRIu64 ", the "
                 "input's %" PRIu64, i, (uint64_t)dims[i],
                 (uint64_t)rr->dims[i]);
            goto out;
        }
    if ((dcpl = H5Dget_create_plist(dset)) < 0) {
        hdf5_fail(err, "H5Dget_create_plist(output)");
        goto out;
    }
    if (H5Pget_nfilters(dcpl) != 0) {
        fail(err, "h5cl's output has filters; the map case writes "
             "uncompressed");
        goto out;
    }
    switch (H5Pget_layout(dcpl)) {
    case H5D_CHUNKED:
        snprintf(md->layout, sizeof md->layout, "chunked");
        md->out_rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, md->out_chunk);
        break;
    case H5D_CONTIGUOUS:
        snprintf(md->layout, sizeof md->layout, "contiguous");
        md->out_rank = 0;
        break;
    case H5D_COMPACT:
        snprintf(md->layout, sizeof md->layout, "compact");
        md->out_rank = 0;
        break;
    default:
        snprintf(md->layout, sizeof md->layout, "other");
        md->out_rank = 0;
        break;
    }
    if (dcpl_ret && (*dcpl_ret = H5Pcopy(dcpl)) < 0) {
        hdf5_fail(err, "H5Pcopy");
        goto out;
    }
    rc = 0;
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (rc == 0 && dset_ret) {
        *dset_ret = dset;
        *file_ret = file;
    } else {
        if (dset >= 0)
            H5Dclose(dset);
        if (file >= 0)
            H5Fclose(file);
    }
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* Compares VERIFY_TILES tiles of h5cl's output (first, middle, last and
 * one that moves with rep) with x * 2 + 1 of the input's tiles. */
static int verify_output(struct raw_reader *rr, const char *path,
                         unsigned rep, struct map_detail *md, char *err)
{
    uint64_t pick[VERIFY_TILES] = {
        0, rr->ntiles / 2, rr->ntiles ? rr->ntiles - 1 : 0,
        rr->ntiles ? (UINT64_C(2654435761) * (rep + 1)) % rr->ntiles : 0 };
    hid_t file = -1, dset = -1, mspace = -1;
    float *out = NULL;
    int rc = -1;

    md->checked_tiles = md->checked_values = 0;
    if (open_output(rr, path, md, NULL, &file, &dset, err))
        return -1;
    if (!(out = malloc(rr->tile_rows * rr->row_elems * sizeof *out + 1))) {
        fail(err, "out of memory (output tile)");
        goto out;
    }
    for (int j = 0; j < VERIFY_TILES; j++) {
        hsize_t start0, rows;
        size_t n;
        int dup = 0;

        for (int i = 0; i < j; i++)
            dup |= pick[i] == pick[j];
        if (dup || pick[j] >= rr->ntiles)
            continue;
        if (raw_read_tile(rr, pick[j], &start0, &rows, err))
            goto out;
        n = (size_t)(rows * rr->row_elems);
        if (rr->rank) {
            hsize_t count[H5S_MAX_RANK];
            memcpy(count, rr->dims, sizeof count);
            count[0] = rows;
            if ((mspace = H5Screate_simple(rr->rank, count, NULL)) < 0) {
                hdf5_fail(err, "H5Screate_simple");
                goto out;
            }
        }
        /* rr->fspace is selected on the tile; the output has its extent */
        if (H5Dread(dset, H5T_NATIVE_FLOAT, rr->rank ? mspace : H5S_ALL,
                    rr->rank ? rr->fspace : H5S_ALL, H5P_DEFAULT, out) < 0) {
            hdf5_fail(err, "reading tile %" PRIu64 " of h5cl's output",
                      pick[j]);
            goto out;
        }
        if (mspace >= 0)
            H5Sclose(mspace);
        mspace = -1;
        for (size_t i = 0; i < n; i++) {
            double x = raw_value(rr, i);
            if (!map_value_ok(x, out[i])) {
                fail(err, "wrong output: element %" PRIu64 " is %.9g, "
                     "x * 2 + 1 of x = %.9g is %.9g",
                     (uint64_t)(start0 * rr->row_elems + i),
                     (double)out[i], x, (double)(float)(x * 2.0 + 1.0));
                goto out;
            }
        }
        md->checked_tiles++;
        md->checked_values += n;
    }
    if (md->checked_tiles == 0 && rr->element_count)
        fail(err, "no tile of h5cl's output was checked");
    else
        rc = 0;
out:
    if (mspace >= 0)
        H5Sclose(mspace);
    H5Dclose(dset);
    H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    free(out);
    return rc;
}

/* One h5cl map run into md->out_file, checked; *wall_ret its wall time. */
static int map_once(const struct case_env *env, const h5cl_run_options *opts,
                    const h5cl_map_options *mopts, unsigned rep,
                    struct map_detail *md, h5cl_run_summary *sum,
                    double *wall_ret, hid_t *dcpl_ret, char *err)
{
    struct raw_reader *rr = &env->res->rr;
    uint64_t out_bytes = rr->element_count * sizeof(float);
    double t0 = now_seconds();
    int status = h5cl_map_run(env->ds, opts, mopts, sum);

    *wall_ret = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, env->ctx, "h5cl_map_run", status);
    if (sum->bytes != rr->nbytes)
        return fail(err, "summary.bytes %" PRIu64 " != input bytes %" PRIu64,
                    sum->bytes, rr->nbytes);
    if (sum->bytes_written != out_bytes)
        return fail(err, "summary.bytes_written %" PRIu64 " != %" PRIu64
                    " (float32 output)", sum->bytes_written, out_bytes);
    md->bytes_written = sum->bytes_written;
    if (check_no_tmp(md->out_file, err) ||
        open_output(rr, md->out_file, md, dcpl_ret, NULL, NULL, err) ||
        verify_output(rr, md->out_file, rep, md, err))
        return -1;
    return remove_output(md->out_file, err);
}

/* One ceiling pass into md->ceiling_file, then removed. */
static int ceiling_once(struct raw_reader *rr, struct map_detail *md,
                        hid_t dcpl, double *wall_ret, double *phase,
                        char *err)
{
    double t0 = now_seconds();
    if (raw_copy_pass(rr, md->ceiling_file, MAP_OUT_DATASET, dcpl,
                      H5T_IEEE_F32LE, phase, err))
        return -1;
    *wall_ret = now_seconds() - t0;
    return remove_output(md->ceiling_file, err);
}

static void verbose_line(const struct raw_reader *rr, double raw_s,
                         const double *phase, double h5_s,
                         const h5cl_run_summary *sum)
{
    fprintf(stderr, "%s:   raw r+w %.3f s (%.2f GB/s;", BENCH_NAME, raw_s,
            (double)rr->nbytes / raw_s / 1e9);
    for (int i = 0; i < PHASE_COUNT; i++)
        fprintf(stderr, " %s %.3f", phase_name((enum copy_phase)i), phase[i]);
    fprintf(stderr, ")  h5cl %.3f s (%.2f GB/s) overlap %.3f  busy s:", h5_s,
            (double)rr->nbytes / h5_s / 1e9, sum->overlap);
    for (int s = 0; s < H5CL_STAGE_COUNT; s++)
        fprintf(stderr, " %s %.3f", h5cl_stage_name((h5cl_stage)s),
                sum->stage_seconds[s]);
    fputc('\n', stderr);
}

/* Output paths, stale outputs removed, room on the disk. */
static int map_prepare(const struct bench_cfg *cfg, struct raw_reader *rr,
                       struct map_detail *md, char *err)
{
    if (mkdir_p(cfg->dir, err))
        return -1;
    if (snprintf(md->out_file, sizeof md->out_file, "%s/%s", cfg->dir,
                 MAP_OUT_NAME) >= (int)sizeof md->out_file ||
        snprintf(md->ceiling_file, sizeof md->ceiling_file, "%s/%s",
                 cfg->dir, CEILING_OUT_NAME) >= (int)sizeof md->ceiling_file)
        return fail(err, "--dir path too long");
    if (remove_output(md->out_file, err) ||
        remove_output(md->ceiling_file, err))
        return -1;
    /* tiles for checking the warm-up's output; reset to h5cl's after it */
    if (raw_set_tiles(rr, cfg->tile_bytes, err))
        return -1;
    /* one output at a time exists: each is removed after its run */
    return check_free_space(md->out_file,
                            rr->element_count * sizeof(float) +
                                rr->nbytes / 32 + 16 * MIB,
                            err);
}

int case_map(const struct case_env *env, struct case_result *cr)
{
    const struct bench_cfg *cfg = env->cfg;
    struct raw_reader *rr = &env->res->rr;
    struct map_detail *md = &cr->map;
    struct row *raw = &cr->rows[0], *h5 = &cr->rows[1];
    h5cl_run_options opts;
    h5cl_map_options mopts;
    h5cl_run_summary sum;
    struct samples *sraw = NULL, *sh5 = NULL;
    uint64_t tile_bytes = cfg->tile_bytes;
    hid_t dcpl = -1;
    double wall, phase[PHASE_COUNT];
    int h5ok = env->ds != NULL, fatal = 0;
    char err[ERRLEN];

    md->expr = MAP_EXPR;
    if (!h5ok)
        row_error(h5, env->h5cl_error);
    sraw = calloc(1, sizeof *sraw);
    sh5 = calloc(1, sizeof *sh5);
    if (!sraw || !sh5 || map_prepare(cfg, rr, md, raw->message)) {
        row_error(raw, "out of memory");
        row_error(h5, "not measured: the ceiling could not be set up");
        free(sraw);
        free(sh5);
        return -1;
    }
    h5cl_run_options_init(&opts);
    opts.tile_bytes = cfg->tile_bytes;
    opts.slots = cfg->slots;
    opts.expr = MAP_EXPR;
    h5cl_map_options_init(&mopts);
    mopts.out_file = md->out_file;
    mopts.out_path = MAP_OUT_DATASET;
    mopts.dtype = H5CL_FLOAT32;
    mopts.gzip = 0;
    mopts.shuffle = 0;

    if (h5ok) {
        fprintf(stderr, "%s: map: warm-up h5cl (%s into %s)\n", BENCH_NAME,
                MAP_EXPR, md->out_file);
        h5ok = map_once(env, &opts, &mopts, 0, md, &sum, &wall, &dcpl,
                        h5->message) == 0;
        /* the ceiling reads and writes the tiles h5cl actually used */
        if (h5ok && sum.tile_bytes)
            tile_bytes = sum.tile_bytes;
    }
    /* the ceiling's dataset is made like h5cl's output: copied from it,
     * else as h5cl documents it (the input's chunks, or contiguous) */
    if (dcpl < 0 && (dcpl = raw_output_dcpl(rr, raw->message)) < 0)
        fatal = 1;
    fprintf(stderr, "%s: map: warm-up raw H5Dread + H5Dwrite into %s\n",
            BENCH_NAME, md->ceiling_file);
    if (!fatal && (raw_set_tiles(rr, tile_bytes, raw->message) ||
                   ceiling_once(rr, md, dcpl, &wall, phase, raw->message)))
        fatal = 1;
    if (fatal)
        raw->status = ROW_ERROR;
    raw->tile_bytes = rr->tile_bytes;
    raw->tiles = rr->ntiles;

    for (unsigned k = 0; k < cfg->reps && !fatal; k++) {
        double raw_s, h5_s;
        fprintf(stderr, "%s: map: repetition %u/%u\n", BENCH_NAME, k + 1,
                cfg->reps);
        if (ceiling_once(rr, md, dcpl, &raw_s, phase, raw->message)) {
            raw->status = ROW_ERROR;
            fatal = 1;
            break;
        }
        samples_add(sraw, raw_s, rr->nbytes, NULL, phase);
        if (!h5ok)
            continue;
        if (map_once(env, &opts, &mopts, k + 1, md, &sum, &h5_s, NULL,
                     h5->message)) {
            h5ok = 0;
            continue;
        }
        if (cfg->verbose)
            verbose_line(rr, raw_s, phase, h5_s, &sum);
        samples_add(sh5, h5_s, rr->nbytes, &sum, NULL);
        h5->sum = sum;
    }
    if (g_interrupted) {
        row_error(raw, "interrupted");
        fatal = 1;
    }
    if (h5ok && !fatal && cfg->trace) {
        /* an extra run, not timed, so tracing cannot skew the figures */
        h5cl_run_options topts = opts;
        char path[PATH_MAX];
        topts.trace_path = trace_path_for(cfg, CASE_MAP, path, sizeof path);
        if (map_once(env, &topts, &mopts, 0, md, &sum, &wall, NULL, err) ==
            0)
            fprintf(stderr, "%s: map: trace of an extra run (%.3f s, "
                    "overlap %.3f) written to %s\n", BENCH_NAME, wall,
                    sum.overlap, topts.trace_path);
        else
            fprintf(stderr, "%s: map: traced run failed: %s\n", BENCH_NAME,
                    err);
    }
    /* nothing of ours is left in the bench directory */
    remove_output(md->out_file, err);
    remove_output(md->ceiling_file, err);
    if (dcpl >= 0)
        H5Pclose(dcpl);

    if (!fatal)
        row_finish(raw, sraw);
    if (!h5ok || fatal) {
        row_error(h5, !fatal ? "failed"
                      : g_interrupted ? "not measured: interrupted"
                                      : "not measured: raw pass failed");
    } else {
        row_finish(h5, sh5);
        h5->tile_bytes = h5->sum.tile_bytes;
        h5->tiles = h5->sum.tiles;
        h5->ratio = h5->gbps.median / raw->gbps.median;
    }
    free(sraw);
    free(sh5);
    return fatal ? -1 : 0;
}
