/* The one place that knows how h5cl talks to the HDF5 library: a process
 * lock around every HDF5 call (builds without --enable-threadsafe are not
 * reentrant), silencing HDF5's own error printing, and turning HDF5's error
 * stack into a message. */
#ifndef H5CL_HDF5IO_H
#define H5CL_HDF5IO_H

#include <stddef.h>

#include <hdf5.h>

/* Takes the lock and stops HDF5 printing errors on this thread (HDF5 keeps
 * that setting per thread in thread-safe builds, and callers may come from
 * any thread), so every HDF5 section is silent by construction. */
/* Turns HDF5's exit handler off (see hdf5io.c) before anything can start
 * the library: h5cl_ctx_create calls it, since H5T_NATIVE_* and other
 * HDF5 calls outside the lock (an isolated context's writer) would
 * otherwise initialise HDF5 first. */
void h5cl_h5_init(void);
void h5cl_h5_lock(void);
void h5cl_h5_unlock(void);
/* A chunk's record (H5Dget_chunk_info_by_coord) checked against the
 * lookup H5Dread itself makes (H5Dget_chunk_storage_size): on damaged
 * indexes the two disagree.  fuzz_open found a record of address 0, size
 * 0 for a chunk H5Dread read 512 bytes of, and records with an address
 * for chunks H5Dread reads as unallocated (fill values); the corpus's
 * cve-2025-44905.h5 has such a chunk whose recorded bytes are the
 * undamaged file's.  h5cl reads a chunk itself only where both agree and
 * fails on the others rather than return either answer silently.  Call
 * with the lock held. */
typedef struct h5cl_chunk_rec {
    unsigned mask;       /* filters skipped, from the record */
    haddr_t addr;        /* from the record; HADDR_UNDEF: none */
    hsize_t size;        /* stored bytes, from the record */
    int found;           /* whether H5Dread's lookup found the chunk */
    hsize_t found_size;  /* and its stored bytes */
    hsize_t eof;         /* the file's size */
} h5cl_chunk_rec;
enum {
    H5CL_CHUNK_STORED,      /* at addr (never 0), size bytes */
    H5CL_CHUNK_UNALLOCATED, /* its fill value */
    H5CL_CHUNK_TO_H5DREAD,  /* recorded at address 0 (the superblock's),
                             * which H5Dread's lookup does not find either:
                             * HDF5 reads it as unallocated */
    H5CL_CHUNK_DAMAGED      /* the two disagree otherwise, or the chunk
                             * lies past the end of the file (where
                             * H5Dread_chunk reports success and writes
                             * nothing: fuzz_open, under memcheck) */
};
/* One of the above for the chunk at coord of dset in file; -1 when the
 * record cannot be read (HDF5's error stack says why). */
int h5cl_h5_chunk_record(hid_t file, hid_t dset, const hsize_t *coord,
                         h5cl_chunk_rec *rec);
/* "the chunk index is damaged: ..." for a DAMAGED record. */
void h5cl_h5_chunk_damage(const h5cl_chunk_rec *rec, char *buf, size_t len);
/* H5Fclose, counting its failures.  HDF5 1.10.8 can fail to close a
 * file whose metadata cache kept an entry pinned after a damaged object
 * header (fuzz_open found one: H5Dopen2 failing on two datasets, then
 * "Pinned entry count not decreasing"); the file ID then stays open, and
 * closing it again crashes.  Nobody can release it, so the count lets the
 * fuzz target tell that ID from one h5cl forgot.  Call with the lock
 * held. */
herr_t h5cl_h5_fclose(hid_t f);
unsigned long h5cl_h5_fclose_failures(void);
/* Does HDF5's error stack hold a datatype error (a type message this
 * HDF5 cannot decode: written by a newer HDF5, or damaged)?  Leaves the
 * stack as it is.  Call with the lock held. */
int h5cl_h5_type_error(void);
/* Writes the innermost HDF5 error ("H5Dread: ... : <minor message>") into
 * buf, then clears HDF5's error stack.  Call with the lock held. */
void h5cl_h5_describe(char *buf, size_t len);

#endif
