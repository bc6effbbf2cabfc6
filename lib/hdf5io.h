/* The one place that knows how h5cl talks to the HDF5 library: a process
 * lock around every HDF5 call (builds without --enable-threadsafe are not
 * reentrant), silencing HDF5's own error printing, and turning HDF5's error
 * stack into a message. */
#ifndef H5CL_HDF5IO_H
#define H5CL_HDF5IO_H

#include <stddef.h>

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
/* Does HDF5's error stack hold a datatype error (a type message this
 * HDF5 cannot decode: written by a newer HDF5, or damaged)?  Leaves the
 * stack as it is.  Call with the lock held. */
int h5cl_h5_type_error(void);
/* Writes the innermost HDF5 error ("H5Dread: ... : <minor message>") into
 * buf, then clears HDF5's error stack.  Call with the lock held. */
void h5cl_h5_describe(char *buf, size_t len);

#endif
