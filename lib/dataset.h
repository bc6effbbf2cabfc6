/* HDF5 datasets: opening and describing them, selections, and the tile
 * plan that the pipeline streams. */
#ifndef H5CL_DATASET_H
#define H5CL_DATASET_H

#include <hdf5.h>

#include "common.h"

struct h5cl_dataset {
    h5cl_ctx *ctx;
    hid_t file;
    hid_t dset;
    hid_t memtype;      /* native type HDF5 converts into (byte order) */
    h5cl_dataset_info info;
    int scalar;         /* rank-0 dataspace: read with H5S_ALL         */
    /* isolated mode: the dataset lives in the reader child (file and dset
     * are then -1 here); lib/isolate.c */
    struct h5cl_iso_ds *remote;
    hid_t lapl;         /* link access refusing external links (guard.c) */
    char *warnings;     /* h5cl_dataset_warnings(); NULL for none        */
    int unwritten;      /* no storage, no fill value: tiles are zeros    */
    int zero_gaps;      /* missing chunks, no fill value: zero each tile
                         * before reading it                            */
    struct h5cl_view *view; /* the file mapped for zero-copy tiles, kept
                             * between runs (mapping.h); NULL: none     */
};

/* A box of the dataset: absolute start and count per dimension. */
typedef struct h5cl_box {
    int rank;
    uint64_t start[H5CL_MAX_RANK];
    uint64_t count[H5CL_MAX_RANK];
} h5cl_box;

uint64_t h5cl_box_elems(const h5cl_box *b);
/* "a:b,c:d" into buf, for messages. */
void h5cl_box_text(const h5cl_box *b, char *buf, size_t len);

/* "integer", "float", "string", "compound", ... for messages. */
const char *h5cl_type_class_name(H5T_class_t c);

/* Parses a numpy-style selection ("a:b,:,-5:") against the dataset's
 * shape.  NULL or "" selects everything.  A scalar dataset is treated as
 * shape [1]. */
int h5cl_selection_parse(h5cl_ctx *ctx, const h5cl_dataset *ds,
                         const char *text, h5cl_box *sel_ret);

/* Tiles: chunk-aligned boxes (whole chunks, several per tile when chunks
 * are small) covering the selection in C order, so that no chunk is
 * decompressed twice.  Contiguous and compact datasets are tiled by bytes,
 * and so are chunks larger than a tile when they are unfiltered (nothing
 * to decompress) or when split_chunks is set (retrying with smaller tiles
 * after the device ran out of memory). */
typedef struct h5cl_plan {
    h5cl_box sel;
    uint64_t tile_dims[H5CL_MAX_RANK]; /* extent of a full tile           */
    uint64_t origin[H5CL_MAX_RANK];    /* absolute start of tile (0,..,0) */
    uint64_t grid[H5CL_MAX_RANK];      /* tiles along each dimension      */
    uint64_t ntiles;
    uint64_t max_tile_elems;
    size_t elem_size;
} h5cl_plan;

int h5cl_plan_make(h5cl_ctx *ctx, const h5cl_dataset *ds, const h5cl_box *sel,
                   uint64_t tile_bytes, int split_chunks, h5cl_plan *plan_ret);
/* The box of tile t (0 <= t < ntiles). */
void h5cl_plan_tile(const h5cl_plan *plan, uint64_t t, h5cl_box *box_ret);

#endif
