/*
 * Direct reads (lib/direct.c): for every layout that qualifies, the bytes
 * read with pread on the pool equal H5Dread's, tile by tile, for whole
 * datasets and for boxes that start and end inside chunks; what does not
 * qualify (contiguous big-endian, compact, runs too short, unallocated
 * chunks) is read by H5Dread and still right; chunks decoded by h5cl
 * (lib/chunks.c) equal H5Dread's for every filter combination, dtype and
 * byte order, N-d chunks, fill values and filter masks, and a damaged
 * chunk or chunk index is a clear error naming it; files
 * with a userblock; a file truncated under a running reader is a clear
 * error.  The pool runs each index exactly once, job after job.  And the
 * run summary says which path was taken.  Tiles mapped from the file
 * (lib/mapping.c) give the same results, and a file truncated under a
 * mapping is H5CL_ERR_IO, never SIGBUS; SIGBUS elsewhere still reaches
 * the handler that was there before.  A dataset's view of its file is
 * mapped once for all its runs, mapped again when the file grew or a read
 * faulted, and drops each tile's pages when the data are too large to
 * keep.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check_util.h"
#include "common.h"
#include "dataset.h"
#include "mapping.h"
#include "pool.h"
#include "reader.h"

/* Reads box of (file, path) with the direct path allowed for every chunk
 * size (H5CL_DIRECT=all: the test files' chunks are small) and with
 * H5CL_DIRECT=0, asserts the bytes are equal, whether the dataset
 * qualified (want_direct) and whether this box was read directly
 * (want_bytes 1 or 0; -1: either). */
static void compare_box(const char *file, const char *path, const h5cl_box *box,
                        int want_direct, int want_bytes, const char *what)
{
    h5cl_dataset *ds = tu_open(tu_ctx, file, path);
    const size_t bytes = (size_t)(h5cl_box_elems(box) * h5cl_dtype_size(ds->info.dtype));
    unsigned char *a = tu_alloc(bytes + 1), *b = tu_alloc(bytes + 1);
    h5cl_reader *rd;
    h5cl_pool *pool;
    char err[1024] = "";
    int rc;

    ck_assert_int_eq(h5cl_pool_create(3, &pool), 0);
    tu_setenv("H5CL_DIRECT", "all");
    ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
    ck_assert_msg(h5cl_reader_can_direct(rd) == want_direct, "%s: can_direct %d, want %d",
                  what, h5cl_reader_can_direct(rd), want_direct);
    memset(a, 0xA5, bytes + 1);
    rc = h5cl_reader_read(rd, pool, box, a, err, sizeof err);
    ck_assert_msg(rc == H5CL_OK, "%s: direct read: %s", what, err);
    ck_assert_msg(a[bytes] == 0xA5, "%s: wrote past the tile", what);
    if (want_bytes >= 0)
        ck_assert_msg((h5cl_reader_bytes_direct(rd) > 0) == want_bytes,
                      "%s: %llu bytes read directly", what,
                      (unsigned long long)h5cl_reader_bytes_direct(rd));
    h5cl_reader_close(rd);

    tu_setenv("H5CL_DIRECT", "0");
    ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
    ck_assert_int_eq(h5cl_reader_can_direct(rd), 0);
    rc = h5cl_reader_read(rd, pool, box, b, err, sizeof err);
    ck_assert_msg(rc == H5CL_OK, "%s: H5Dread: %s", what, err);
    ck_assert_uint_eq(h5cl_reader_bytes_direct(rd), 0);
    h5cl_reader_close(rd);
    tu_setenv("H5CL_DIRECT", NULL);
    h5cl_pool_destroy(pool);

    /* one assertion for the whole tile: Check reports each assertion's
     * place to its parent process, and one per byte of a few MiB took
     * minutes under the sanitizers */
    size_t i = 0;
    while (i < bytes && a[i] == b[i])
        i++;
    ck_assert_msg(i == bytes, "%s: byte %zu differs: %u (direct) vs %u (H5Dread)",
                  what, i, a[i], b[i]);
}

static void box_set(h5cl_box *b, int rank, const uint64_t *start, const uint64_t *count)
{
    b->rank = rank;
    for (int d = 0; d < rank; d++) {
        b->start[d] = start[d];
        b->count[d] = count[d];
    }
}

/* The whole dataset, a box from inside the first chunk to inside the
 * last but one, and a box of one element, along axis 0 (other axes full). */
static void compare_rows(const char *file, const char *path, const tu_array *a,
                         int want_direct, const char *what)
{
    const uint64_t n0 = a->dims[0];
    const uint64_t starts[3] = {0, n0 / 7 + 1, n0 - 1};
    const uint64_t counts[3] = {n0, n0 - n0 / 7 - 1 - n0 / 5, 1};
    for (int k = 0; k < 3; k++) {
        uint64_t start[H5CL_MAX_RANK] = {0}, count[H5CL_MAX_RANK];
        h5cl_box box;
        char desc[256];
        for (int d = 0; d < a->rank; d++)
            count[d] = a->dims[d];
        start[0] = starts[k];
        count[0] = counts[k];
        box_set(&box, a->rank, start, count);
        snprintf(desc, sizeof desc, "%s, rows %llu+%llu", what,
                 (unsigned long long)start[0], (unsigned long long)count[0]);
        compare_box(file, path, &box, want_direct, want_direct ? -1 : 0, desc);
    }
}

static void write_case(const char *name, h5cl_dtype dt, int rank, const uint64_t *dims,
                       const tu_write_opts *w, tu_array *a)
{
    tu_rng r;
    tu_rng_seed(&r, 42);
    tu_array_init(a, dt, rank, dims);
    tu_fill_random(a, &r, 0.01);
    tu_write(tu_path(name), "/d", a, w);
}

START_TEST(test_contiguous)
{
    const uint64_t d1[1] = {1000003}, d2[2] = {300, 700}, d3[3] = {9, 40, 1000};
    tu_array a;
    tu_write_opts w;
    tu_write_opts_init(&w);
    write_case("c1.h5", H5CL_FLOAT32, 1, d1, &w, &a);
    compare_rows(tu_path("c1.h5"), "/d", &a, 1, "contiguous 1-D float32");
    write_case("c2.h5", H5CL_INT16, 2, d2, &w, &a);
    compare_rows(tu_path("c2.h5"), "/d", &a, 1, "contiguous 2-D int16");
    write_case("c3.h5", H5CL_FLOAT64, 3, d3, &w, &a);
    compare_rows(tu_path("c3.h5"), "/d", &a, 1, "contiguous 3-D float64");
    {
        /* runs of 32 000 bytes: many preads (one per row pair of axis 0..1) */
        const uint64_t start[3] = {2, 3, 0}, count[3] = {5, 30, 1000};
        h5cl_box box;
        box_set(&box, 3, start, count);
        compare_box(tu_path("c3.h5"), "/d", &box, 1, 1, "contiguous 3-D, inner box");
    }
    {
        /* runs of 1 360 bytes: too short, H5Dread's */
        const uint64_t start[2] = {5, 10}, count[2] = {195, 680};
        h5cl_box box;
        box_set(&box, 2, start, count);
        compare_box(tu_path("c2.h5"), "/d", &box, 1, 0, "contiguous 2-D, narrow columns");
    }
}
END_TEST

START_TEST(test_chunked)
{
    const uint64_t d1[1] = {1000003}, d2[2] = {1001, 300};
    tu_array a;
    tu_write_opts w;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 65536; /* the last chunk is partly outside the dataset */
    write_case("k1.h5", H5CL_FLOAT64, 1, d1, &w, &a);
    compare_rows(tu_path("k1.h5"), "/d", &a, 1, "chunked 1-D float64");
    w.chunk[0] = 7;
    w.chunk[1] = 300;
    write_case("k2.h5", H5CL_UINT32, 2, d2, &w, &a);
    compare_rows(tu_path("k2.h5"), "/d", &a, 1, "chunked 2-D, full-row chunks");
    w.unlimited = 1; /* another chunk index (extensible array) */
    write_case("k3.h5", H5CL_INT8, 2, d2, &w, &a);
    compare_rows(tu_path("k3.h5"), "/d", &a, 1, "chunked 2-D, unlimited");
    w.unlimited = 0;
    w.chunk[1] = 100; /* not one run of the file: chunk by chunk instead */
    write_case("k4.h5", H5CL_FLOAT32, 2, d2, &w, &a);
    compare_rows(tu_path("k4.h5"), "/d", &a, 1, "chunked 2-D, narrow chunks");
}
END_TEST

START_TEST(test_not_qualified)
{
    const uint64_t d[2] = {500, 256};
    tu_array a;
    tu_write_opts w;
    tu_write_opts_init(&w);
    w.big_endian = 1; /* contiguous: only chunks are swapped after decoding */
    write_case("be.h5", H5CL_FLOAT32, 2, d, &w, &a);
    compare_rows(tu_path("be.h5"), "/d", &a, 0, "big-endian");
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_COMPACT;
    write_case("co.h5", H5CL_INT16, 1, d, &w, &a);
    compare_rows(tu_path("co.h5"), "/d", &a, 0, "compact");
}
END_TEST

/* Chunks never written: the tiles that meet one are H5Dread's, which
 * gives the fill value; the others are still read directly. */
START_TEST(test_unallocated_chunks)
{
    const uint64_t d[2] = {400, 128};
    tu_array a;
    tu_write_opts w;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 50;
    w.chunk[1] = 128;
    w.write_rows = 170;
    w.has_fill = 1;
    w.fill = -7;
    write_case("un.h5", H5CL_FLOAT32, 2, d, &w, &a);
    compare_rows(tu_path("un.h5"), "/d", &a, 1, "unallocated chunks");
    {
        const uint64_t start[2] = {10, 0}, count[2] = {150, 128};
        h5cl_box box;
        box_set(&box, 2, start, count);
        compare_box(tu_path("un.h5"), "/d", &box, 1, 1, "written chunks only");
        box.start[0] = 190;
        compare_box(tu_path("un.h5"), "/d", &box, 1, 0, "an unwritten chunk");
    }
}
END_TEST

/* HDF5 1.10 gives chunk addresses without the userblock and the
 * contiguous offset with it. */
START_TEST(test_userblock)
{
    const uint64_t d[2] = {333, 512};
    tu_array a;
    tu_write_opts w;
    tu_write_opts_init(&w);
    w.userblock = 4096;
    write_case("ub.h5", H5CL_FLOAT32, 2, d, &w, &a);
    compare_rows(tu_path("ub.h5"), "/d", &a, 1, "userblock, contiguous");
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 10;
    w.chunk[1] = 512;
    write_case("ubk.h5", H5CL_FLOAT32, 2, d, &w, &a);
    compare_rows(tu_path("ubk.h5"), "/d", &a, 1, "userblock, chunked");
}
END_TEST

START_TEST(test_truncated_while_open)
{
    const uint64_t d[1] = {1 << 20};
    tu_array a;
    tu_write_opts w;
    h5cl_reader *rd;
    h5cl_pool *pool;
    h5cl_box box;
    char err[1024] = "";
    const char *f = tu_path("tr.h5");
    const uint64_t start[1] = {0};
    tu_write_opts_init(&w);
    write_case("tr.h5", H5CL_FLOAT32, 1, d, &w, &a);
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/d");
    ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
    ck_assert_int_eq(h5cl_reader_can_direct(rd), 1);
    ck_assert_int_eq(truncate(f, 1 << 20), 0);
    ck_assert_int_eq(h5cl_pool_create(2, &pool), 0);
    box_set(&box, 1, start, d);
    int rc = h5cl_reader_read(rd, pool, &box, tu_alloc(4 << 20), err, sizeof err);
    ck_assert_msg(rc == H5CL_ERR_IO, "status %s (%s)", h5cl_errname(rc), err);
    ck_assert_msg(strstr(err, f) && strstr(err, "/d") && tu_contains_ci(err, "truncated"),
                  "message: %s", err);
    h5cl_pool_destroy(pool);
    h5cl_reader_close(rd);
}
END_TEST

/* ---- chunks decoded by h5cl ---- */

/* The filter combinations, in the order tu_write applies them (shuffle,
 * deflate, fletcher32). */
static const struct {
    int shuffle, gzip, fletcher32;
    const char *name;
} combos[] = {
    {0, 1, 0, "deflate"},
    {1, 1, 0, "shuffle+deflate"},
    {0, 1, 1, "deflate+fletcher32"},
    {1, 1, 1, "shuffle+deflate+fletcher32"},
    {1, 0, 0, "shuffle"},
    {0, 0, 1, "fletcher32"},
};

/* Every dtype and byte order under one filter combination: 2-D chunks
 * that do not span the rows, edge chunks on both axes, the whole dataset
 * and a box that starts and ends inside chunks. */
START_TEST(test_decode_combos)
{
    static const h5cl_dtype dtypes[] = {H5CL_INT8, H5CL_INT16, H5CL_INT32,
                                        H5CL_FLOAT32, H5CL_FLOAT64, H5CL_UINT64};
    const uint64_t d[2] = {37, 53};
    const uint64_t in_start[2] = {5, 11}, in_count[2] = {27, 30};
    for (size_t t = 0; t < H5CL_ARRAY_LEN(dtypes); t++) {
        for (int be = 0; be <= 1; be++) {
            tu_array a;
            tu_write_opts w;
            h5cl_box box;
            char name[64], what[160];
            tu_write_opts_init(&w);
            w.layout = H5CL_LAYOUT_CHUNKED;
            w.chunk[0] = 8;
            w.chunk[1] = 13; /* 104 elements: 16 at a time, 8 left */
            w.shuffle = combos[_i].shuffle;
            w.gzip = combos[_i].gzip;
            w.fletcher32 = combos[_i].fletcher32;
            w.big_endian = be;
            snprintf(name, sizeof name, "f%zu%d.h5", t, be);
            write_case(name, dtypes[t], 2, d, &w, &a);
            snprintf(what, sizeof what, "%s, %s, %s", combos[_i].name,
                     h5cl_dtype_name(dtypes[t]), be ? "big-endian" : "little-endian");
            box_set(&box, 2, (const uint64_t[2]){0, 0}, d);
            compare_box(tu_path(name), "/d", &box, 1, 1, what);
            box_set(&box, 2, in_start, in_count);
            compare_box(tu_path(name), "/d", &box, 1, 1, what);
        }
    }
}
END_TEST

/* 3-D chunks decoded in place (spanning axes 1 and 2), chunks that do
 * not, and boxes inside. */
START_TEST(test_decode_nd)
{
    const uint64_t d[3] = {20, 30, 41};
    const uint64_t chunks[3][3] = {{7, 30, 41}, {7, 8, 41}, {3, 5, 6}};
    const uint64_t start[3] = {2, 3, 4}, count[3] = {15, 25, 30};
    for (int k = 0; k < 3; k++) {
        tu_array a;
        tu_write_opts w;
        h5cl_box box;
        char name[32], what[96];
        tu_write_opts_init(&w);
        w.layout = H5CL_LAYOUT_CHUNKED;
        memcpy(w.chunk, chunks[k], sizeof chunks[k]);
        w.gzip = 1;
        w.shuffle = 1;
        snprintf(name, sizeof name, "n%d.h5", k);
        write_case(name, H5CL_FLOAT32, 3, d, &w, &a);
        snprintf(what, sizeof what, "3-D chunks %llux%llux%llu",
                 (unsigned long long)chunks[k][0], (unsigned long long)chunks[k][1],
                 (unsigned long long)chunks[k][2]);
        compare_rows(tu_path(name), "/d", &a, 1, what);
        box_set(&box, 3, start, count);
        compare_box(tu_path(name), "/d", &box, 1, 1, what);
    }
}
END_TEST

/* Unwritten chunks of a compressed dataset get the fill value, in the
 * same tiles as decoded ones. */
START_TEST(test_decode_fill)
{
    const uint64_t d[2] = {400, 100};
    const uint64_t start[2] = {150, 5}, count[2] = {100, 90};
    tu_array a;
    tu_write_opts w;
    h5cl_box box;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 50;
    w.chunk[1] = 30;
    w.gzip = 4;
    w.write_rows = 170;
    w.has_fill = 1;
    w.fill = -7;
    write_case("fl.h5", H5CL_INT16, 2, d, &w, &a);
    compare_rows(tu_path("fl.h5"), "/d", &a, 1, "fill value");
    box_set(&box, 2, start, count);
    compare_box(tu_path("fl.h5"), "/d", &box, 1, 1, "written and unwritten chunks");
}
END_TEST

/* A chunk stored with its deflate skipped (what HDF5 does when deflate
 * fails to shrink it; H5Dwrite_chunk here) is decoded by its mask. */
START_TEST(test_decode_filter_mask)
{
    const hsize_t dims[1] = {64}, chunk[1] = {16}, at[1] = {16};
    int32_t v[64], raw[16];
    const char *f = tu_path("mk.h5");
    for (int i = 0; i < 64; i++)
        v[i] = i * 1000 - 7;
    for (int i = 0; i < 16; i++)
        raw[i] = -i;
    hid_t file = H5Fcreate(f, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ck_assert_int_ge(H5Pset_chunk(dcpl, 1, chunk), 0);
    ck_assert_int_ge(H5Pset_shuffle(dcpl), 0);
    ck_assert_int_ge(H5Pset_deflate(dcpl, 1), 0);
    hid_t ds = H5Dcreate2(file, "d", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    /* chunk 1 stored plain, both filters marked skipped (bits 0 and 1) */
    ck_assert_int_ge(H5Dwrite_chunk(ds, H5P_DEFAULT, 0x3, at, sizeof raw, raw), 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    h5cl_box box;
    box_set(&box, 1, (const uint64_t[1]){0}, (const uint64_t[1]){64});
    compare_box(f, "/d", &box, 1, 1, "filters skipped by the mask");
}
END_TEST

/* Overwrites `n` bytes in the middle of the stored chunk at `at`. */
static void damage_chunk(const char *file, const hsize_t *at, size_t n)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "/d", H5P_DEFAULT);
    unsigned mask;
    haddr_t addr;
    hsize_t size;
    ck_assert_int_ge(H5Dget_chunk_info_by_coord(ds, at, &mask, &addr, &size), 0);
    H5Dclose(ds);
    H5Fclose(f);
    ck_assert_uint_gt(size, n);
    unsigned char junk[64];
    memset(junk, 0x5A, sizeof junk);
    int fd = open(file, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, junk, n, (off_t)(addr + size / 2)), (ssize_t)n);
    close(fd);
}

/* A damaged chunk is a clear error naming the chunk, from a deflate
 * stream and from a checksum. */
START_TEST(test_decode_corrupt)
{
    const uint64_t d[2] = {64, 64};
    const hsize_t at[2] = {16, 32};
    for (int fl = 0; fl <= 1; fl++) {
        tu_array a;
        tu_write_opts w;
        h5cl_reader *rd;
        h5cl_pool *pool;
        h5cl_box box;
        char err[2048] = "";
        const char *f = fl ? tu_path("cf.h5") : tu_path("cz.h5");
        tu_write_opts_init(&w);
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 16;
        w.chunk[1] = 32;
        w.gzip = !fl;
        w.fletcher32 = fl;
        write_case(fl ? "cf.h5" : "cz.h5", H5CL_FLOAT64, 2, d, &w, &a);
        damage_chunk(f, at, fl ? 1 : 40);
        h5cl_dataset *ds = tu_open(tu_ctx, f, "/d");
        ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
        ck_assert_int_eq(h5cl_reader_can_direct(rd), 1);
        ck_assert_int_eq(h5cl_pool_create(2, &pool), 0);
        box_set(&box, 2, (const uint64_t[2]){0, 0}, d);
        int rc = h5cl_reader_read(rd, pool, &box, tu_alloc(64 * 64 * 8), err, sizeof err);
        ck_assert_msg(rc == H5CL_ERR_CORRUPT, "status %s (%s)", h5cl_errname(rc), err);
        ck_assert_msg(strstr(err, f) && strstr(err, "/d") && strstr(err, "chunk [1,1]") &&
                          strstr(err, "element [16,32]") &&
                          (!fl || strstr(err, "Fletcher-32")),
                      "message: %s", err);
        h5cl_pool_destroy(pool);
        h5cl_reader_close(rd);
    }
}
END_TEST

/* Chunk indexes whose record (H5Dget_chunk_info_by_coord) and H5Dread's
 * own lookup disagree, from fuzz_open: a record of address 0 for a chunk
 * H5Dread reads (decoded-chunk path), and a record with an address for a
 * chunk H5Dread reads as unallocated (direct path), and one past the end of
 * the file.  h5cl names the chunk
 * and the damage rather than return either answer silently; H5Dread
 * alone still reads what HDF5 reads. */
START_TEST(test_damaged_index)
{
    static const struct {
        const char *file, *chunk;
    } cases[] = {
        {"tests/fuzz/corpus/fuzz_open/fz-2439ea50b1d28142", "chunk [0,0]"},
        {"tests/fuzz/corpus/fuzz_open/fz-7f9166037645cf03", "chunk 2 (from row 4)"},
        /* a record past the end of the file, where H5Dread_chunk reports
         * success and writes nothing */
        {"tests/fuzz/corpus/fuzz_open/fz-fda9a5d5cb06ecb0",
         "past the end of the file (7241 bytes)"},
    };
    tu_setenv("H5CL_DIRECT", "all");
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        h5cl_dataset *ds = tu_open(tu_ctx, cases[k].file, "/data");
        h5cl_reader *rd;
        h5cl_pool *pool;
        h5cl_box box;
        char err[2048] = "";
        const h5cl_dataset_info *in = &ds->info;
        box_set(&box, in->rank, (const uint64_t[H5CL_MAX_RANK]){0}, in->dims);
        void *dst = tu_alloc(in->nbytes);
        ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
        ck_assert_int_eq(h5cl_pool_create(2, &pool), 0);
        int rc = h5cl_reader_read(rd, pool, &box, dst, err, sizeof err);
        ck_assert_msg(rc == H5CL_ERR_CORRUPT, "%s: status %s (%s)",
                      cases[k].file, h5cl_errname(rc), err);
        ck_assert_msg(strstr(err, cases[k].file) && strstr(err, "/data") &&
                          strstr(err, cases[k].chunk) &&
                          strstr(err, "chunk index is damaged"),
                      "message: %s", err);
        err[0] = '\0';
        rc = h5cl_reader_read(rd, NULL, &box, dst, err, sizeof err);
        ck_assert_msg(rc == H5CL_OK, "H5Dread: %s (%s)", h5cl_errname(rc), err);
        h5cl_pool_destroy(pool);
        h5cl_reader_close(rd);
    }
}
END_TEST

/* ---- the pool ---- */

typedef struct tally {
    atomic_uint *hits;
} tally;

static void hit(void *arg, size_t i)
{
    tally *t = arg;
    atomic_fetch_add(&t->hits[i], 1);
}

START_TEST(test_pool_each_index_once)
{
    const size_t sizes[] = {0, 1, 2, 3, 17, 1000};
    for (unsigned threads = 1; threads <= 5; threads += 2) {
        h5cl_pool *pool;
        ck_assert_int_eq(h5cl_pool_create(threads, &pool), 0);
        ck_assert_uint_eq(h5cl_pool_threads(pool), threads);
        for (int rep = 0; rep < 300; rep++) {
            const size_t n = sizes[rep % H5CL_ARRAY_LEN(sizes)];
            atomic_uint hits[1000];
            tally t = {hits};
            for (size_t i = 0; i < n; i++)
                atomic_init(&hits[i], 0);
            h5cl_pool_run(pool, n, hit, &t);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(atomic_load(&hits[i]) == 1,
                              "threads %u job %d: index %zu ran %u times", threads, rep,
                              i, atomic_load(&hits[i]));
        }
        h5cl_pool_destroy(pool);
    }
}
END_TEST

START_TEST(test_default_threads)
{
    tu_setenv("H5CL_THREADS", "3");
    ck_assert_uint_eq(h5cl_pool_default_threads(), 3);
    tu_setenv("H5CL_THREADS", "0"); /* out of range: ignored */
    ck_assert_uint_ge(h5cl_pool_default_threads(), 1);
    tu_setenv("H5CL_THREADS", "many");
    ck_assert_uint_ge(h5cl_pool_default_threads(), 1);
}
END_TEST

/* Unfiltered chunks under 1 MiB are H5Dread's by default (one index
 * lookup each costs more than their copy); filtered ones are decoded at
 * any size; H5CL_DIRECT=all takes them all. */
START_TEST(test_small_raw_chunks)
{
    const uint64_t d[2] = {1024, 256};
    tu_array a;
    tu_write_opts w;
    h5cl_reader *rd;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[1] = 256;
    for (int k = 0; k < 4; k++) {
        char name[32];
        w.chunk[0] = k < 2 ? 1023 : 1024; /* 1 MiB - 1 KiB, 1 MiB */
        w.gzip = k % 2;
        snprintf(name, sizeof name, "small%d.h5", k);
        write_case(name, H5CL_FLOAT32, 2, d, &w, &a);
        h5cl_dataset *ds = tu_open(tu_ctx, tu_path(name), "/d");
        ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
        ck_assert_msg(h5cl_reader_can_direct(rd) == (k != 0), "case %d: can_direct %d", k,
                      h5cl_reader_can_direct(rd));
        h5cl_reader_close(rd);
        tu_setenv("H5CL_DIRECT", "all");
        ck_assert_int_eq(h5cl_reader_open(tu_ctx, ds, &rd), H5CL_OK);
        ck_assert_int_eq(h5cl_reader_can_direct(rd), 1);
        h5cl_reader_close(rd);
        tu_setenv("H5CL_DIRECT", NULL);
    }
}
END_TEST

/* ---- what a run reports ---- */

START_TEST(test_summary)
{
    const uint64_t d[2] = {2000, 256};
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    const h5cl_run_summary *s;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 1024; /* 1 MiB: direct by default */
    w.chunk[1] = 256;
    write_case("s.h5", H5CL_FLOAT32, 2, d, &w, &a);
    h5cl_run_options_init(&o);
    o.tile_bytes = 256 << 10;
    tu_setenv("H5CL_THREADS", "3");
    h5cl_dataset *ds = tu_open(tu_ctx, tu_path("s.h5"), "/d");
    s = h5cl_stats_summary(tu_compute(ds, &o, "direct"));
    ck_assert_uint_eq(s->bytes_direct, a.n * 4);
    ck_assert_uint_eq(s->read_threads, 3);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "direct, checked");
    tu_setenv("H5CL_DIRECT", "0");
    s = h5cl_stats_summary(tu_compute(ds, &o, "H5Dread"));
    ck_assert_uint_eq(s->bytes_direct, 0);
    ck_assert_uint_eq(s->read_threads, 1);
    tu_setenv("H5CL_DIRECT", NULL);
    w.gzip = 1; /* decoded bytes count as read directly too */
    w.shuffle = 1;
    write_case("sz.h5", H5CL_FLOAT32, 2, d, &w, &a);
    ds = tu_open(tu_ctx, tu_path("sz.h5"), "/d");
    s = h5cl_stats_summary(tu_compute(ds, &o, "decoded"));
    ck_assert_uint_eq(s->bytes_direct, a.n * 4);
    ck_assert_uint_eq(s->read_threads, 3);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "decoded, checked");
}
END_TEST


/* ---- tiles mapped from the file ---- */

/* A file of n bytes, byte i = i * 7 + 3. */
static int pattern_file(const char *name, size_t n)
{
    unsigned char *b = tu_alloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 7 + 3);
    int fd = open(tu_path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
    return fd;
}

START_TEST(test_mapping_truncated)
{
    const size_t n = 64 << 10, off = 4100, len = 40000;
    int fd = pattern_file("m.bin", n);
    h5cl_mapping *m, *whole;
    ck_assert_int_eq(h5cl_mapping_create(fd, off, len, &m), 0);
    ck_assert_int_eq(h5cl_mapping_create(fd, 0, 8000, &whole), 0);
    const unsigned char *p = h5cl_mapping_data(m);
    for (size_t i = 0; i < len; i++)
        ck_assert_uint_eq(p[i], (unsigned char)((off + i) * 7 + 3));
    ck_assert_int_eq(h5cl_mapping_faulted(m), 0);

    /* the pages past byte 8192 go: reading them would be SIGBUS */
    ck_assert_int_eq(ftruncate(fd, 8192), 0);
    unsigned long sum_past = 0;
    for (size_t i = 8192 - off; i < len; i++)
        sum_past += ((volatile const unsigned char *)p)[i];
    ck_assert_uint_eq(sum_past, 0);
    ck_assert_int_eq(h5cl_mapping_faulted(m), 1);
    for (size_t i = 0; i < 8192 - off; i++) /* the rest is untouched */
        ck_assert_uint_eq(p[i], (unsigned char)((off + i) * 7 + 3));
    /* a mapping the truncation spared knows nothing of it */
    const unsigned char *q = h5cl_mapping_data(whole);
    for (size_t i = 0; i < 8000; i++)
        ck_assert_uint_eq(q[i], (unsigned char)(i * 7 + 3));
    ck_assert_int_eq(h5cl_mapping_faulted(whole), 0);
    h5cl_mapping_release(m);
    h5cl_mapping_release(whole);
    h5cl_mapping_release(NULL);
    close(fd);
}
END_TEST

static sigjmp_buf foreign_jmp;
static volatile sig_atomic_t foreign_hits;

static void on_foreign_sigbus(int sig, siginfo_t *si, void *uc)
{
    foreign_hits++;
    siglongjmp(foreign_jmp, 1);
}

/* A SIGBUS at an address that is not one of ours goes to the handler that
 * was installed before the guard, and the guard leaves with the last
 * mapping, putting that handler back. */
START_TEST(test_mapping_chains_sigbus)
{
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_foreign_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGBUS, &sa, NULL), 0);

    int fd = pattern_file("ours.bin", 16 << 10);
    int other = pattern_file("theirs.bin", 16 << 10);
    h5cl_mapping *m;
    ck_assert_int_eq(h5cl_mapping_create(fd, 0, 16 << 10, &m), 0);
    volatile const unsigned char *theirs =
        mmap(NULL, 16 << 10, PROT_READ, MAP_SHARED, other, 0);
    ck_assert_ptr_ne((void *)theirs, MAP_FAILED);
    ck_assert_int_eq(ftruncate(other, 0), 0);
    if (sigsetjmp(foreign_jmp, 1) == 0)
        (void)theirs[8192];
    ck_assert_int_eq(foreign_hits, 1);
    ck_assert_int_eq(h5cl_mapping_faulted(m), 0);
    h5cl_mapping_release(m);
    ck_assert_int_eq(sigaction(SIGBUS, NULL, &cur), 0);
    ck_assert_msg((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_foreign_sigbus,
                  "the previous SIGBUS handler was not put back");
    munmap((void *)theirs, 16 << 10);
    close(other);
    close(fd);
}
END_TEST

/* The tu_array a (float32, rank 2) into name as chunks of `rows` full
 * rows, written last chunk first: HDF5 allocates them in that order, so
 * consecutive chunks are not consecutive in the file. */
static void write_chunks_reversed(const char *name, const tu_array *a,
                                  hsize_t rows)
{
    const hsize_t dims[2] = {a->dims[0], a->dims[1]}, chunk[2] = {rows, a->dims[1]};
    hid_t f = H5Fcreate(tu_path(name), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ck_assert_int_ge(H5Pset_chunk(dcpl, 2, chunk), 0);
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "/d", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    for (hsize_t c = dims[0] / rows; c-- > 0;) {
        const hsize_t start[2] = {c * rows, 0}, count[2] = {rows, dims[1]};
        hid_t mem = H5Screate_simple(2, count, NULL);
        ck_assert_int_ge(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL,
                                             count, NULL), 0);
        ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT,
                                  (const float *)a->data + c * rows * dims[1]),
                         0);
        H5Sclose(mem);
    }
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Fclose(f);
}

/* Contiguous and full-row chunked data, mapped (H5CL_MMAP=1: every tile
 * that is one run, however small) and read: the same statistics, and the
 * summary says which.  Chunks that lie back to back in the file make one
 * run, so tiles across them are mapped too; chunks written in reverse
 * order do not, and a tile across two of them is read. */
START_TEST(test_mapped_run)
{
    const uint64_t d[2] = {4000, 100};
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    tu_write_opts_init(&w);
    write_case("mc.h5", H5CL_FLOAT32, 2, d, &w, &a);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 1000;
    w.chunk[1] = 100;
    write_case("mk.h5", H5CL_FLOAT32, 2, d, &w, &a);
    write_chunks_reversed("mr.h5", &a, 1000);
    h5cl_run_options_init(&o);
    o.tile_bytes = 64 << 10;
    const char *files[] = {"mc.h5", "mk.h5", "mr.h5"};
    for (size_t f = 0; f < 3; f++) {
        h5cl_dataset *ds = tu_open(tu_ctx, tu_path(files[f]), "/d");
        tu_setenv("H5CL_DIRECT", "all");
        tu_setenv("H5CL_MMAP", "1");
        const h5cl_run_summary *s = h5cl_stats_summary(tu_compute(ds, &o, "mapped"));
        if (!s->zero_copy)
            ck_assert_uint_eq(s->bytes_mapped, 0);
        else if (f < 2)
            ck_assert_msg(s->bytes_mapped == a.n * 4, "%s: %llu bytes mapped",
                          files[f], (unsigned long long)s->bytes_mapped);
        else
            ck_assert_msg(s->bytes_mapped > 0 && s->bytes_mapped < a.n * 4,
                          "%llu bytes mapped", (unsigned long long)s->bytes_mapped);
        ck_assert_uint_eq(s->bytes_direct, a.n * 4);
        tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), files[f]);
        tu_setenv("H5CL_MMAP", "0");
        s = h5cl_stats_summary(tu_compute(ds, &o, "read"));
        ck_assert_uint_eq(s->bytes_mapped, 0);
        ck_assert_uint_eq(s->bytes_direct, a.n * 4);
        tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), files[f]);
    }
    tu_setenv("H5CL_MMAP", NULL);
    tu_setenv("H5CL_DIRECT", NULL);
}
END_TEST

/* The file shrinks while tiles are mapped and in flight: the run fails
 * with H5CL_ERR_IO naming the file, whichever of the mapping's length
 * check or the SIGBUS guard sees it first, and the process lives. */
START_TEST(test_mapped_truncated_in_flight)
{
    const uint64_t d[1] = {2 << 20};
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    h5cl_stats *st = NULL;
    const char *f = tu_path("mt.h5");
    tu_write_opts_init(&w);
    write_case("mt.h5", H5CL_FLOAT32, 1, d, &w, &a);
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/d");
    h5cl_run_options_init(&o);
    o.tile_bytes = 256 << 10;
    o.progress = tu_truncate_at_first_tile;
    o.progress_user = (void *)f;
    tu_setenv("H5CL_MMAP", "1");
    int rc = h5cl_stats_compute(ds, &o, &st);
    tu_setenv("H5CL_MMAP", NULL);
    ck_assert_msg(rc == H5CL_ERR_IO, "status %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), f) &&
                      tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "truncated"),
                  "message: %s", h5cl_ctx_errmsg(tu_ctx));
}
END_TEST

/* RssFile of this process, in KiB: the file pages it has mapped. */
static long rss_file_kib(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "RssFile:", 8) == 0)
            v = strtol(line + 8, NULL, 10);
    fclose(f);
    ck_assert_int_ge(v, 0);
    return v;
}

/* A view maps the file once and hands the same mapping to every tile;
 * it maps again when the file grew past it or a read of it faulted; a
 * view that does not keep pages drops a tile's pages when it is put
 * back, one that keeps them leaves them mapped. */
START_TEST(test_view)
{
    const size_t n = 8 << 20;
    int fd = pattern_file("v.bin", n);
    h5cl_view *keep = h5cl_view_create(n);
    ck_assert_ptr_nonnull(keep);
    h5cl_mapping *m1, *m2, *m3;
    const void *d1, *d2, *d3;
    ck_assert_int_eq(h5cl_view_get(keep, fd, n, 4100, 1000, &m1, &d1), 0);
    ck_assert_int_eq(h5cl_view_get(keep, fd, n, 1 << 20, 4 << 20, &m2, &d2), 0);
    ck_assert_ptr_eq(m1, m2);
    ck_assert_uint_eq(((const unsigned char *)d1)[0], (unsigned char)(4100 * 7 + 3));
    /* past the file's end: read instead */
    ck_assert_int_ne(h5cl_view_get(keep, fd, n, n - 10, 20, &m3, &d3), 0);
    ck_assert_ptr_null(m3);

    /* pages kept: the 4 MiB read stay mapped after the put */
    volatile const unsigned char *p = d2;
    unsigned long sum = 0;
    for (size_t i = 0; i < (4 << 20); i += 4096)
        sum += p[i];
    const long before = rss_file_kib();
    h5cl_view_put(m2, d2, 4 << 20);
    ck_assert_int_ge(rss_file_kib(), before - 64);

    /* the file grows: a tile past the old end gets a new mapping, while
     * the old one lives on for the tile that holds it */
    ck_assert_int_eq(ftruncate(fd, 2 * n), 0);
    ck_assert_int_eq(h5cl_view_get(keep, fd, 2 * n, n, 4096, &m3, &d3), 0);
    ck_assert_ptr_ne(m3, m1);
    ck_assert_uint_eq(((const unsigned char *)d3)[0], 0);
    ck_assert_uint_eq(((const unsigned char *)d1)[1], (unsigned char)(4101 * 7 + 3));
    h5cl_view_put(m1, d1, 1000);

    /* the file shrinks under a reader: the mapping faults, and the next
     * tile (after the file is whole again) gets a fresh one */
    ck_assert_int_eq(ftruncate(fd, 4096), 0);
    const unsigned char *q = d3;
    ck_assert_uint_eq(((volatile const unsigned char *)q)[0], 0);
    ck_assert_int_eq(h5cl_mapping_faulted(m3), 1);
    ck_assert_int_eq(ftruncate(fd, 2 * n), 0);
    h5cl_mapping *m4;
    const void *d4;
    ck_assert_int_eq(h5cl_view_get(keep, fd, 2 * n, 0, 8192, &m4, &d4), 0);
    ck_assert_ptr_ne(m4, m3);
    ck_assert_int_eq(h5cl_mapping_faulted(m4), 0);
    ck_assert_uint_eq(((const unsigned char *)d4)[5], (unsigned char)(5 * 7 + 3));
    h5cl_view_put(m3, d3, 4096);
    h5cl_view_put(m4, d4, 8192);
    h5cl_view_destroy(keep);

    /* data too large to keep (more than half of the memory): a tile's
     * pages leave the resident set when it is put back */
    h5cl_view *drop = h5cl_view_create(UINT64_MAX);
    ck_assert_ptr_nonnull(drop);
    ck_assert_int_eq(h5cl_view_get(drop, fd, 2 * n, 0, 4 << 20, &m1, &d1), 0);
    p = d1;
    for (size_t i = 0; i < (4 << 20); i += 4096)
        sum += p[i];
    const long touched = rss_file_kib();
    h5cl_view_put(m1, d1, 4 << 20);
    ck_assert_msg(rss_file_kib() <= touched - 3 * 1024,
                  "RssFile %ld KiB after the put, %ld before", rss_file_kib(),
                  touched);
    h5cl_view_destroy(drop);
    h5cl_view_destroy(NULL);
    close(fd);
    (void)sum;
}
END_TEST

/* An open dataset keeps its view between runs: a run that failed because
 * the file shrank under it leaves a faulted mapping, and once the file is
 * whole again the next run on the same handle maps it afresh and is
 * right. */
START_TEST(test_mapped_runs_recover)
{
    const uint64_t d[1] = {1 << 20};
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    h5cl_stats *st = NULL;
    const char *f = tu_path("mr.h5");
    tu_write_opts_init(&w);
    write_case("mr.h5", H5CL_FLOAT32, 1, d, &w, &a);
    int fd = open(f, O_RDWR);
    ck_assert_int_ge(fd, 0);
    const off_t size = lseek(fd, 0, SEEK_END);
    unsigned char *copy = tu_alloc((size_t)size);
    ck_assert_int_eq(pread(fd, copy, (size_t)size, 0), size);
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/d");
    h5cl_run_options_init(&o);
    o.tile_bytes = 256 << 10;
    tu_setenv("H5CL_MMAP", "1");
    const h5cl_run_summary *s = h5cl_stats_summary(tu_compute(ds, &o, "first"));
    if (s->zero_copy)
        ck_assert_uint_eq(s->bytes_mapped, a.n * 4);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "second");

    o.progress = tu_truncate_at_first_tile;
    o.progress_user = (void *)f;
    int rc = h5cl_stats_compute(ds, &o, &st);
    ck_assert_msg(rc == H5CL_ERR_IO, "status %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_int_eq(pwrite(fd, copy, (size_t)size, 0), size);
    o.progress = NULL;
    s = h5cl_stats_summary(tu_compute(ds, &o, "after the file is whole"));
    if (s->zero_copy)
        ck_assert_uint_eq(s->bytes_mapped, a.n * 4);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "whole again");
    tu_setenv("H5CL_MMAP", NULL);
    close(fd);
}
END_TEST

Suite *direct_suite(void)
{
    Suite *s = suite_create("direct");
    TCase *tc = tcase_create("reads");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_contiguous);
    tcase_add_test(tc, test_chunked);
    tcase_add_test(tc, test_not_qualified);
    tcase_add_test(tc, test_unallocated_chunks);
    tcase_add_test(tc, test_userblock);
    tcase_add_test(tc, test_truncated_while_open);
    tcase_add_test(tc, test_small_raw_chunks);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_mapped_run);
    tcase_add_test(tc, test_mapped_truncated_in_flight);
    tcase_add_test(tc, test_mapping_truncated);
    tcase_add_test(tc, test_mapping_chains_sigbus);
    tcase_add_test(tc, test_view);
    tcase_add_test(tc, test_mapped_runs_recover);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_decode_combos, 0, (int)H5CL_ARRAY_LEN(combos));
    tcase_add_test(tc, test_decode_nd);
    tcase_add_test(tc, test_decode_fill);
    tcase_add_test(tc, test_decode_filter_mask);
    tcase_add_test(tc, test_decode_corrupt);
    tcase_add_test(tc, test_damaged_index);
    suite_add_tcase(s, tc);
    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_pool_each_index_once);
    tcase_add_test(tc, test_default_threads);
    suite_add_tcase(s, tc);
    return s;
}
