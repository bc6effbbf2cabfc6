/* The wire format between the parent and the h5cl-reader child: one
 * fixed-size request and one fixed-size reply per message on a
 * SOCK_SEQPACKET socketpair (message boundaries kept, no framing code).
 * Both ends are built from the same source tree and the helper is found
 * next to the library, so the format carries a version only to refuse a
 * stale helper clearly. */
#ifndef H5CL_ISOLATE_PROTO_H
#define H5CL_ISOLATE_PROTO_H

#include "cf.h"
#include "dataset.h"
#include "direct.h"

#define H5CL_ISO_VERSION 3u

enum h5cl_iso_op {
    ISO_HELLO = 1,   /* -> version                                          */
    ISO_OPEN,        /* file, path, a = strict -> handle, info, scalar, and
                      * msg = the dataset's warnings                     */
    ISO_CLOSE,       /* handle                                              */
    ISO_LIST,        /* file -> one ISO_MORE reply per dataset, then final  */
    ISO_CF,          /* handle, a = cf, b = mask_fill -> cf                 */
    ISO_RD_OPEN,     /* handle -> reader handle                             */
    ISO_RD_CLOSE,    /* reader handle                                       */
    ISO_READ,        /* reader handle, box, region, offset, nbytes          */
    ISO_MAP,         /* region id, nbytes, with the memfd as SCM_RIGHTS     */
    ISO_UNMAP,       /* region id                                           */
    ISO_LOCATE,      /* reader handle, box -> run: where the tile lies in
                      * the file, for the parent to map (run.len 0: read
                      * it instead)                                         */
    ISO_OP_COUNT
};

/* Reply statuses outside the h5cl_status list.  ISO_MORE: one more
 * ISO_LIST entry follows.  ISO_CRASH_NOTE: sent by the helper's fatal
 * signal handler just before it dies, msg naming the file (library or
 * program) whose code was running. */
#define ISO_MORE 1
#define ISO_CRASH_NOTE 2

typedef struct h5cl_iso_req {
    uint32_t op;
    uint32_t handle;
    int32_t a, b;
    uint32_t region;
    uint32_t pad;
    uint64_t offset;
    uint64_t nbytes;
    h5cl_box box;
    char file[1024];
    char path[1024];
} h5cl_iso_req;

typedef struct h5cl_iso_rep {
    int32_t status;
    uint32_t handle;     /* a new dataset or reader handle; LIST: supported */
    uint64_t bytes_direct; /* READ: of this read, not through H5Dread       */
    int32_t scalar;
    uint32_t version;
    uint32_t threads;    /* RD_OPEN: threads the child reads with           */
    uint32_t can_map;    /* RD_OPEN: tiles may be located for mapping       */
    h5cl_file_run run;   /* LOCATE                                          */
    h5cl_dataset_info info;
    h5cl_cf_info cf;
    char msg[2048];      /* the child's detailed message; LIST: a path      */
} h5cl_iso_rep;

#endif
