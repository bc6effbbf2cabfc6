/* Undoing HDF5's filters on a stored chunk, in h5cl's own threads: deflate
 * (through libdeflate), shuffle and Fletcher-32 verification, in whatever
 * order the dataset's pipeline applied them, skipping those the chunk's
 * filter mask says were not applied.  HDF5 runs its filters on one core
 * under its global lock; these run on every core, and give the same bytes.
 *
 * A decoder is used by one thread at a time. */
#ifndef H5CL_DECODE_H
#define H5CL_DECODE_H

#include <hdf5.h>
#include <stddef.h>

/* Each filter at most once: then no stage's output exceeds the chunk plus
 * one checksum, which bounds the buffers (see h5cl_decode). */
#define H5CL_DECODE_MAX_FILTERS 3

typedef struct h5cl_filters {
    int n;
    H5Z_filter_t id[H5CL_DECODE_MAX_FILTERS]; /* in the order written  */
    size_t shuffle_elem; /* the element size the shuffle was set with  */
} h5cl_filters;

/* Reads the pipeline of a dataset creation property list.  0 when h5cl
 * can decode every filter in it (none counts), -1 otherwise.  Call with
 * the HDF5 lock held. */
int h5cl_filters_load(hid_t dcpl, h5cl_filters *f_ret);

/* The most bytes any stage can produce for a chunk of chunk_nbytes. */
size_t h5cl_decode_bound(size_t chunk_nbytes);

typedef struct h5cl_decoder h5cl_decoder;

/* NULL when memory runs out. */
h5cl_decoder *h5cl_decoder_create(void);
void h5cl_decoder_free(h5cl_decoder *dc);

/* Decodes the stored bytes in[0, in_nbytes) of a chunk whose filter mask
 * is `mask` (bit i set: filter i was skipped) into out, which must come
 * out exactly out_nbytes long.  in and work are scratch, each at least
 * max(in_nbytes, h5cl_decode_bound(out_nbytes)) bytes; in is overwritten.
 * Returns 0, or -1 with a static reason in *why (corrupt data). */
int h5cl_decode(h5cl_decoder *dc, const h5cl_filters *f, unsigned mask,
                unsigned char *in, size_t in_nbytes, unsigned char *work,
                unsigned char *out, size_t out_nbytes, const char **why);

/* Reverses the byte order of each elem-byte element of p[0, nbytes). */
void h5cl_swap_bytes(void *p, size_t nbytes, size_t elem);

/* HDF5's Fletcher-32 of p[0, nbytes) (big-endian 16-bit words). */
uint32_t h5cl_fletcher32(const unsigned char *p, size_t nbytes);

#endif
