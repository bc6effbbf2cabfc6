/* Isolated mode, child side: the request loop of the h5cl-reader helper.
 * Each request is answered by the library's ordinary in-process code on a
 * context of the child's own (which never opens a device), so isolated
 * and in-process runs read the same bytes through the same paths; this
 * file only keeps the tables of handles and shared regions, and turns an
 * allocation that failed under the memory limit into H5CL_ERR_LIMIT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "isolate.h"
#include "isolate_proto.h"
#include "reader.h"
#include "run.h"

/* Handles are 1-based indices into these tables; 0 is never valid. */
#define MAX_HANDLES 4096

typedef struct shared {
    uint32_t id;
    void *addr;
    size_t bytes;
} shared;

typedef struct server {
    int fd;
    h5cl_ctx *ctx;
    h5cl_dataset *ds[MAX_HANDLES];
    h5cl_reader *rd[MAX_HANDLES];
    shared sh[MAX_HANDLES];
    h5cl_pool *pool; /* for direct reads, started by the first reader
                        that can use it and kept for the child's life  */
    h5cl_iso_rep rep;
} server;

static const char *const op_names[ISO_OP_COUNT] = {
    [0] = "?",           [ISO_HELLO] = "hello",
    [ISO_OPEN] = "open", [ISO_CLOSE] = "close",
    [ISO_LIST] = "list", [ISO_CF] = "cf",
    [ISO_RD_OPEN] = "reader-open", [ISO_RD_CLOSE] = "reader-close",
    [ISO_READ] = "read", [ISO_MAP] = "map", [ISO_UNMAP] = "unmap",
    [ISO_LOCATE] = "locate"};

static int reply(server *sv)
{
    ssize_t n;
    do
        n = send(sv->fd, &sv->rep, sizeof sv->rep, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof sv->rep ? 0 : -1;
}

static int fail(server *sv, int status, const char *fmt, const char *a)
{
    sv->rep.status = status;
    snprintf(sv->rep.msg, sizeof sv->rep.msg, fmt, a);
    return status;
}

/* A free slot of a table of n pointers, or -1. */
static int free_slot(void *const *table)
{
    for (int i = 0; i < MAX_HANDLES; i++)
        if (!table[i])
            return i;
    return -1;
}

static int valid(uint32_t h)
{
    return h >= 1 && h <= MAX_HANDLES;
}

/* HDF5 reports a failed allocation with these minor messages. */
static int allocation_failed(int status, const char *msg)
{
    return status == H5CL_ERR_NO_MEMORY ||
           (status == H5CL_ERR_HDF5 &&
            (strstr(msg, "Can't allocate space") ||
             strstr(msg, "No space available for allocation") ||
             strstr(msg, "memory allocation failed")));
}

/* Under a memory limit, an allocation that failed is the limit's doing. */
static void classify_memory(server *sv)
{
    struct rlimit rl;
    if (sv->rep.status == H5CL_OK || getrlimit(RLIMIT_AS, &rl) != 0 ||
        rl.rlim_cur == RLIM_INFINITY ||
        !allocation_failed(sv->rep.status, sv->rep.msg))
        return;
    size_t len = strlen(sv->rep.msg);
    snprintf(sv->rep.msg + len, sizeof sv->rep.msg - len,
             " (the isolated reader's memory limit is %llu MiB)",
             (unsigned long long)(rl.rlim_cur >> 20));
    sv->rep.status = H5CL_ERR_LIMIT;
}

static void set_ctx_status(server *sv, int st)
{
    sv->rep.status = st;
    if (st != H5CL_OK)
        snprintf(sv->rep.msg, sizeof sv->rep.msg, "%s",
                 h5cl_ctx_errmsg(sv->ctx));
}

static void do_open(server *sv, const h5cl_iso_req *rq)
{
    int i = free_slot((void *const *)sv->ds);
    if (i < 0) {
        fail(sv, H5CL_ERR_INVALID_ARGUMENT,
             "more than 4096 datasets open in the isolated reader (%s)",
             rq->file);
        return;
    }
    h5cl_dataset *ds;
    h5cl_ctx_set_strict(sv->ctx, rq->a);
    int st = h5cl_dataset_open(sv->ctx, rq->file, rq->path, &ds);
    set_ctx_status(sv, st);
    if (st != H5CL_OK)
        return;
    sv->ds[i] = ds;
    sv->rep.handle = (uint32_t)i + 1;
    sv->rep.info = ds->info;
    sv->rep.scalar = ds->scalar;
    /* the guards' warnings travel back whole or not at all */
    const char *w = h5cl_dataset_warnings(ds);
    if (strlen(w) < sizeof sv->rep.msg)
        memcpy(sv->rep.msg, w, strlen(w) + 1);
    else
        snprintf(sv->rep.msg, sizeof sv->rep.msg,
                 "%.1900s... (warnings cut to fit the reader's reply)", w);
}

typedef struct list_state {
    server *sv;
    int broken;
} list_state;

static int list_one(const char *path, int supported, void *user)
{
    list_state *ls = user;
    server *sv = ls->sv;
    memset(&sv->rep, 0, sizeof sv->rep);
    sv->rep.status = ISO_MORE;
    sv->rep.handle = (uint32_t)supported;
    snprintf(sv->rep.msg, sizeof sv->rep.msg, "%s", path);
    if (reply(sv) != 0) {
        ls->broken = 1;
        return 1;
    }
    return 0;
}

static void do_list(server *sv, const h5cl_iso_req *rq)
{
    list_state ls = {sv, 0};
    int st = h5cl_file_list_datasets(sv->ctx, rq->file, list_one, &ls);
    memset(&sv->rep, 0, sizeof sv->rep);
    set_ctx_status(sv, st < 0 ? st : H5CL_OK);
}

static shared *find_shared(server *sv, uint32_t id)
{
    for (int i = 0; i < MAX_HANDLES; i++)
        if (sv->sh[i].id == id && sv->sh[i].addr)
            return &sv->sh[i];
    return NULL;
}

static void do_map(server *sv, const h5cl_iso_req *rq, int fd)
{
    shared *s = NULL;
    for (int i = 0; i < MAX_HANDLES && !s; i++)
        if (!sv->sh[i].addr)
            s = &sv->sh[i];
    void *addr = fd < 0 || !s ? MAP_FAILED
                              : mmap(NULL, (size_t)rq->nbytes,
                                     PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                                     0);
    if (fd >= 0)
        close(fd);
    if (addr == MAP_FAILED) {
        fail(sv, H5CL_ERR_NO_MEMORY,
             "the isolated reader cannot map a shared tile buffer of %s",
             rq->file);
        classify_memory(sv);
        return;
    }
    s->id = rq->region;
    s->addr = addr;
    s->bytes = (size_t)rq->nbytes;
}

static void do_read(server *sv, const h5cl_iso_req *rq)
{
    h5cl_reader *rd = valid(rq->handle) ? sv->rd[rq->handle - 1] : NULL;
    shared *s = find_shared(sv, rq->region);
    if (!rd || !s || rq->offset > s->bytes || rq->nbytes > s->bytes - rq->offset) {
        fail(sv, H5CL_ERR_INVALID_ARGUMENT,
             "the isolated reader got a read of %s outside its buffers",
             rq->file);
        return;
    }
    uint64_t before = h5cl_reader_bytes_direct(rd);
    sv->rep.status = h5cl_reader_read(rd, sv->pool, &rq->box,
                                      (char *)s->addr + rq->offset,
                                      sv->rep.msg, sizeof sv->rep.msg);
    sv->rep.bytes_direct = h5cl_reader_bytes_direct(rd) - before;
}

/* The parent maps the file itself where a tile is one run of it: the
 * child only says where (HDF5's addresses, checked by direct.c). */
static void do_locate(server *sv, const h5cl_iso_req *rq)
{
    h5cl_reader *rd = valid(rq->handle) ? sv->rd[rq->handle - 1] : NULL;
    if (!rd) {
        fail(sv, H5CL_ERR_INVALID_ARGUMENT,
             "the isolated reader has no such reader open (%s)", rq->path);
        return;
    }
    const int st = h5cl_reader_locate(rd, &rq->box, &sv->rep.run, sv->rep.msg,
                                      sizeof sv->rep.msg);
    if (st == 1)
        memset(&sv->rep.run, 0, sizeof sv->rep.run);
    sv->rep.status = st == 1 ? H5CL_OK : st;
}

static void do_reader_open(server *sv, const h5cl_iso_req *rq)
{
    h5cl_dataset *ds = valid(rq->handle) ? sv->ds[rq->handle - 1] : NULL;
    int i = free_slot((void *const *)sv->rd);
    if (!ds || i < 0) {
        fail(sv, H5CL_ERR_INVALID_ARGUMENT,
             "the isolated reader has no such dataset open (%s)", rq->path);
        return;
    }
    h5cl_reader *rd;
    int st = h5cl_reader_open(sv->ctx, ds, &rd);
    set_ctx_status(sv, st);
    if (st != H5CL_OK)
        return;
    if (!sv->pool && h5cl_reader_can_direct(rd) &&
        h5cl_pool_create(h5cl_pool_default_threads(), &sv->pool) != 0)
        sv->pool = NULL; /* direct reads then run on this thread alone */
    sv->rd[i] = rd;
    sv->rep.handle = (uint32_t)i + 1;
    sv->rep.threads = sv->pool && h5cl_reader_can_direct(rd)
                          ? h5cl_pool_threads(sv->pool)
                          : 1;
    sv->rep.can_map = (uint32_t)h5cl_reader_can_direct(rd);
}

static void serve_one(server *sv, const h5cl_iso_req *rq, int fd)
{
    h5cl_dataset *ds = NULL;
    if ((rq->op == ISO_CLOSE || rq->op == ISO_CF) &&
        !(valid(rq->handle) && (ds = sv->ds[rq->handle - 1]))) {
        fail(sv, H5CL_ERR_INVALID_ARGUMENT,
             "the isolated reader has no such dataset open (%s)", rq->path);
        return;
    }
    switch (rq->op) {
    case ISO_HELLO:
        sv->rep.version = H5CL_ISO_VERSION;
        break;
    case ISO_OPEN:
        do_open(sv, rq);
        break;
    case ISO_CLOSE:
        h5cl_dataset_close(ds);
        sv->ds[rq->handle - 1] = NULL;
        break;
    case ISO_LIST:
        do_list(sv, rq);
        break;
    case ISO_CF:
        set_ctx_status(sv, h5cl_cf_read(sv->ctx, ds, rq->a, rq->b,
                                        &sv->rep.cf));
        break;
    case ISO_RD_OPEN:
        do_reader_open(sv, rq);
        break;
    case ISO_RD_CLOSE:
        if (valid(rq->handle)) {
            h5cl_reader_close(sv->rd[rq->handle - 1]);
            sv->rd[rq->handle - 1] = NULL;
        }
        break;
    case ISO_READ:
        do_read(sv, rq);
        break;
    case ISO_LOCATE:
        do_locate(sv, rq);
        break;
    case ISO_MAP:
        do_map(sv, rq, fd);
        fd = -1;
        break;
    case ISO_UNMAP: {
        shared *s = find_shared(sv, rq->region);
        if (s) {
            munmap(s->addr, s->bytes);
            memset(s, 0, sizeof *s);
        }
        break;
    }
    default:
        fail(sv, H5CL_ERR_INVALID_ARGUMENT,
             "the isolated reader got an unknown request (%s)", rq->file);
        break;
    }
    if (fd >= 0)
        close(fd);
    classify_memory(sv);
}

/* One request and the descriptor it carries (or -1); 0 at the end. */
static ssize_t receive(int fd, h5cl_iso_req *rq, int *passed)
{
    struct iovec iov = {rq, sizeof *rq};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    ssize_t n;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *passed = -1;
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(passed, CMSG_DATA(cm), sizeof *passed);
    return n;
}

int h5cl_iso_serve(int fd, h5cl_iso_hook hook)
{
    server *sv = calloc(1, sizeof *sv);
    h5cl_iso_req *rq = malloc(sizeof *rq);
    if (!sv || !rq || h5cl_ctx_create(&sv->ctx) != H5CL_OK) {
        free(sv);
        free(rq);
        return 1;
    }
    sv->fd = fd;
    /* the child reads in-process whatever the environment says */
    h5cl_isolation off;
    h5cl_isolation_init(&off);
    h5cl_ctx_set_isolation(sv->ctx, &off);
    unsigned long count = 0;
    int code = 0;
    for (;;) {
        int passed;
        ssize_t n = receive(fd, rq, &passed);
        if (n == 0)
            break; /* the parent closed: we are done */
        if (n != (ssize_t)sizeof *rq || rq->op >= ISO_OP_COUNT) {
            if (passed >= 0)
                close(passed);
            code = 1;
            break;
        }
        rq->file[sizeof rq->file - 1] = '\0';
        rq->path[sizeof rq->path - 1] = '\0';
        if (hook)
            hook(++count, op_names[rq->op]);
        memset(&sv->rep, 0, sizeof sv->rep);
        serve_one(sv, rq, passed);
        if (reply(sv) != 0) {
            code = 1;
            break;
        }
    }
    /* readers first: each refers to its dataset */
    for (int i = 0; i < MAX_HANDLES; i++)
        h5cl_reader_close(sv->rd[i]);
    for (int i = 0; i < MAX_HANDLES; i++) {
        h5cl_dataset_close(sv->ds[i]);
        if (sv->sh[i].addr)
            munmap(sv->sh[i].addr, sv->sh[i].bytes);
    }
    h5cl_pool_destroy(sv->pool);
    h5cl_ctx_destroy(sv->ctx);
    free(rq);
    free(sv);
    return code;
}
