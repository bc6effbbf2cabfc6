/* libFuzzer target: an HDF5 file image in memory -> listing its datasets
 * -> h5cl_dataset_open (with the guards it runs) -> the CF attributes ->
 * the tile plan -> the first tile, read both by h5cl's own readers (direct
 * pread, decoded chunks: lib/direct.c, chunks.c, decode.c) and by H5Dread.
 * No OpenCL: a context makes no device until one is asked for.
 *
 * The image is written to a file in memory (tmpfs: $TMPDIR when set, else
 * /dev/shm) and opened by its path, so the ordinary open path runs
 * unchanged (stat, signature check, sec2 driver) and the direct readers,
 * which work only on sec2 files, are fuzzed too.  (HDF5 1.10 cannot open
 * a memfd by its /proc/self/fd path: it fails to resolve the real name;
 * the core driver's file image would skip the direct readers.)
 *
 * Checked on every input: no crash, undefined behaviour or leak in h5cl's
 * frames; every failure carries an error code and a message; the tile box
 * lies inside the dataset and fits the plan's largest tile; where both
 * h5cl's reader and H5Dread succeed on the tile, their bytes are equal
 * (unless H5Dread returned the superblock's: hdf5_read_superblock).
 * libhdf5 1.10.8 crashes on some inputs by itself (MANIFEST.md of the
 * corpus): tests/reliability/fuzz_replay.sh runs this target in fork mode
 * and tells those apart from crashes in h5cl by their stacks. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "dataset.h"
#include "hdf5io.h"
#include "reader.h"

/* Datasets of one file taken through the whole path. */
#define MAX_DATASETS 4
/* Small tiles keep an execution short (H5Dread takes seconds over a tile
 * of a million one-byte chunks).  Larger first tiles (a hostile chunk
 * size) are not allocated: the plan is checked, the read skipped. */
#define TILE_BYTES ((uint64_t)64 << 10)
#define MAX_TILE_BYTES ((uint64_t)64 << 20)

static h5cl_ctx *ctx;
static h5cl_pool *pool;
static int image_fd = -1;
static char image_path[4096];

static void remove_image(void)
{
    unlink(image_path);
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_open: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* The file every input is written to, a new one (a new inode) when HDF5
 * still holds the last one open. */
static void new_image(void)
{
    if (image_fd >= 0) {
        close(image_fd);
        remove_image();
    }
    const char *dir = getenv("TMPDIR");
    snprintf(image_path, sizeof image_path, "%s/h5cl-fuzz-XXXXXX.h5",
             dir && *dir ? dir : "/dev/shm");
    image_fd = mkstemps(image_path, 3);
    if (image_fd < 0)
        fail("setup", "mkstemps");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    h5cl_h5_init(); /* before HDF5 starts: no exit handler (hdf5io.c) */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    new_image();
    if (h5cl_ctx_create(&ctx) != H5CL_OK || h5cl_pool_create(1, &pool) != 0)
        fail("setup", "h5cl_ctx_create or h5cl_pool_create");
    atexit(remove_image);
    return 0;
}

/* An error status must come with a message naming what failed. */
static void check_error(int st, const char *where)
{
    if (st >= 0)
        fail("a failure with a non-negative status", where);
    const char *msg = h5cl_ctx_errmsg(ctx);
    if (!msg || !*msg)
        fail("an error without a message", where);
}

static void check_box(const h5cl_dataset *ds, const h5cl_plan *plan,
                      const h5cl_box *box)
{
    const h5cl_dataset_info *in = &ds->info;
    if (box->rank != (in->rank ? in->rank : 1))
        fail("a tile box of the wrong rank", in->path);
    for (int d = 0; d < in->rank; d++)
        if (box->count[d] == 0 || box->start[d] > in->dims[d] ||
            box->count[d] > in->dims[d] - box->start[d])
            fail("a tile box outside the dataset", in->path);
    if (h5cl_box_elems(box) > plan->max_tile_elems)
        fail("a tile larger than the plan's largest", in->path);
}

/* Whether H5Dread's bytes hold HDF5's file signature: on some damaged
 * chunk indexes libhdf5 1.10.8 reads a chunk from address 0, the
 * superblock, when its chunk cache is off (as h5cl's H5Dread runs,
 * lib/reader.c) and fill values when it is on, while its lookups
 * (H5Dget_chunk_info_by_coord, H5Dget_chunk_storage_size) both give the
 * chunk's true place.  That is no reading to hold h5cl's to.  (A second
 * handle cannot ask for the cache: HDF5 shares one open dataset's state
 * between its handles.) */
static int hdf5_read_superblock(const unsigned char *theirs, uint64_t nbytes)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F',
                                         '\r', '\n', 0x1a, '\n'};
    return memmem(theirs, nbytes, sig, sizeof sig) != NULL;
}

/* The first tile through h5cl's reader (direct where it applies) and
 * through H5Dread; equal bytes where both succeed. */
static void read_first_tile(h5cl_dataset *ds)
{
    h5cl_box sel;
    int st = h5cl_selection_parse(ctx, ds, NULL, &sel);
    if (st != H5CL_OK) {
        check_error(st, "h5cl_selection_parse");
        return;
    }
    h5cl_plan plan;
    st = h5cl_plan_make(ctx, ds, &sel, TILE_BYTES, 0, &plan);
    if (st != H5CL_OK) {
        check_error(st, "h5cl_plan_make");
        return;
    }
    if (plan.ntiles == 0)
        return;
    h5cl_box box;
    h5cl_plan_tile(&plan, 0, &box);
    check_box(ds, &plan, &box);
    const uint64_t nbytes = h5cl_box_elems(&box) * plan.elem_size;
    if (nbytes > MAX_TILE_BYTES)
        return;
    h5cl_reader *rd;
    st = h5cl_reader_open(ctx, ds, &rd);
    if (st != H5CL_OK) {
        check_error(st, "h5cl_reader_open");
        return;
    }
    unsigned char *mine = malloc(nbytes ? nbytes : 1);
    /* zeroed: libhdf5 1.10.8 leaves parts of its buffer unwritten when it
     * reads a chunk from the superblock (hdf5_read_superblock); h5cl's
     * stays uninitialised, so memcheck-host sees any byte h5cl skips */
    unsigned char *theirs = calloc(1, nbytes ? nbytes : 1);
    if (!mine || !theirs)
        fail("out of memory", ds->info.path);
    char err[1024] = "";
    int st_mine = h5cl_reader_read(rd, pool, &box, mine, err, sizeof err);
    if (st_mine != H5CL_OK && (st_mine > 0 || !err[0]))
        fail("a failed read without a message", ds->info.path);
    err[0] = '\0';
    int st_theirs = h5cl_reader_read(rd, NULL, &box, theirs, err, sizeof err);
    if (st_theirs != H5CL_OK && !err[0])
        fail("a failed H5Dread without a message", ds->info.path);
    if (st_mine == H5CL_OK && st_theirs == H5CL_OK &&
        h5cl_reader_can_direct(rd) && memcmp(mine, theirs, nbytes) != 0 &&
        !hdf5_read_superblock(theirs, nbytes))
        fail("h5cl's reader and H5Dread disagree on the first tile",
             ds->info.path);
    free(mine);
    free(theirs);
    h5cl_reader_close(rd);
}

static void take_dataset(const char *path)
{
    h5cl_dataset *ds;
    int st = h5cl_dataset_open(ctx, image_path, path, &ds);
    if (st != H5CL_OK) {
        check_error(st, "h5cl_dataset_open");
        return;
    }
    h5cl_cf_info cf;
    st = h5cl_cf_read(ctx, ds, 1, 1, &cf);
    if (st != H5CL_OK)
        check_error(st, "h5cl_cf_read");
    read_first_tile(ds);
    h5cl_dataset_close(ds);
}

typedef struct found {
    char *path[MAX_DATASETS];
    int n;
} found;

static int collect(const char *path, int supported, void *user)
{
    found *f = user;
    if (supported && f->n < MAX_DATASETS)
        f->path[f->n++] = strdup(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(image_fd, 0) != 0 ||
        pwrite(image_fd, data, size, 0) != (ssize_t)size)
        fail("writing the image", strerror(errno));
    /* direct reads of small unfiltered chunks too, on half the inputs */
    if (size && (data[size - 1] & 1))
        setenv("H5CL_DIRECT", "all", 1);
    else
        unsetenv("H5CL_DIRECT");

    found f = {.n = 0};
    int st = h5cl_file_list_datasets(ctx, image_path, collect, &f);
    if (st != H5CL_OK)
        check_error(st, "h5cl_file_list_datasets");
    for (int i = 0; i < f.n; i++) {
        if (f.path[i])
            take_dataset(f.path[i]);
        free(f.path[i]);
    }
    /* every HDF5 object h5cl opened is closed again, but for files whose
     * H5Fclose failed inside libhdf5 (h5cl_h5_fclose): their IDs stay
     * open for the process's life, and HDF5 would hand a later input the
     * stale file of that inode */
    static unsigned long stuck;
    if (h5cl_h5_fclose_failures() > stuck) {
        stuck = h5cl_h5_fclose_failures();
        new_image();
    }
    ssize_t left = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) - (ssize_t)stuck;
    if (left != 0) {
        char n[32];
        snprintf(n, sizeof n, "%zd", left);
        fail("HDF5 objects left open", n);
    }
    return 0;
}
