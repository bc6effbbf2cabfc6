/* Isolated mode, parent side.
 *
 * Design
 *   1. One child per context, the h5cl-reader helper, started by
 *      posix_spawn (fork+exec: the parent may be a threaded Python process
 *      or hold HDF5's lock in another thread, and a bare fork would copy
 *      that lock held).  The helper links the same library and answers
 *      each request by calling the ordinary in-process code (dataset open
 *      with its guards, CF attributes, the filter check, the reader with
 *      its direct and decoded paths), so both modes read alike.
 *   2. The child is started lazily, by the first call that needs it, and
 *      reused by every later call; after it dies (crash, limit, timeout)
 *      the next call starts a fresh one and reopens the datasets it needs
 *      there (each remembers its file and path).
 *   3. A thread of our own per child spawns it and waits for it: the
 *      child's PR_SET_PDEATHSIG follows the thread that created it, so
 *      that thread lives exactly as long as the child (a caller's thread
 *      may end first), and it reaps the child the moment it dies, so no
 *      zombie is left.  It peeks with waitid(WNOWAIT) and records the
 *      death before reaping, so a SIGKILL of ours (sent under the same
 *      lock, only while not recorded) never reaches a recycled pid.
 *   4. Requests and replies are fixed-size messages on a SOCK_SEQPACKET
 *      socketpair (lib/isolate_proto.h), one transaction at a time under
 *      the context's lock.  Tiles travel through shared memory: memfd
 *      regions mapped in both processes.  The pipeline's host slots of
 *      isolated inputs are such regions (h5cl_iso_shm_alloc), so the child
 *      writes each tile where the kernel (zero-copy devices) or the upload
 *      (others) reads it, and isolation costs no copy.  A region is handed
 *      to the child (SCM_RIGHTS) the first time a read targets it, per
 *      child.
 *   5. Limits: the helper sets RLIMIT_AS and RLIMIT_CPU on itself before
 *      serving; the parent bounds each request by wall-clock time (poll),
 *      and past it kills the child with SIGKILL: H5CL_ERR_TIMEOUT.  A
 *      child killed by a signal is H5CL_ERR_CRASHED naming the signal and
 *      what it was doing; SIGXCPU (or the hard CPU limit's SIGKILL) is
 *      H5CL_ERR_LIMIT, and so is an allocation that failed in the child
 *      under its memory limit (reported by the child as an error).
 *   6. The child reads the environment it was started with (H5CL_DIRECT,
 *      H5CL_THREADS, HDF5_PLUGIN_PATH, ...); a call that finds the H5CL_*
 *      and HDF5_* variables changed since then starts a fresh child, so
 *      both modes follow the environment alike.
 *   7. The child runs in its own process group (a terminal's Ctrl-C goes
 *      to the parent, which cancels the run) with default signal
 *      dispositions; a cancel while a request is in flight waits a moment
 *      for the reply, then kills the child.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "isolate.h"
#include "isolate_proto.h"

extern char **environ;

/* The default wall-clock limit of one request, and the time it adds per
 * 16 MiB the request reads: an open or a 4-8 MiB tile takes milliseconds
 * on a healthy file even from a slow network disk, so a minute means a
 * hang, while a huge tile (chunks of hundreds of MiB) still gets time in
 * proportion. */
#define DEFAULT_WALL_SECONDS 60.0
#define WALL_BYTES_PER_SECOND ((double)(16u << 20))
/* How long a cancel waits for the reply in flight before killing. */
#define CANCEL_GRACE_SECONDS 0.5
/* How long a dead socket waits for the reaper to see the death. */
#define DEATH_WAIT_SECONDS 5.0

/* The wall-clock limit of a request when the settings leave it at 0:
 * H5CL_READER_TIMEOUT (seconds) in the environment, else the default; for
 * harnesses that run many hostile files under a time budget of their own. */
static double default_wall(void)
{
    const char *env = getenv("H5CL_READER_TIMEOUT");
    char *end;
    double v = env ? strtod(env, &end) : 0;
    return env && end != env && *end == '\0' && v > 0 && v <= 1e9
               ? v
               : DEFAULT_WALL_SECONDS;
}

typedef struct region {
    uint32_t id;
    int fd;
    void *addr;
    size_t bytes;
    unsigned mapped_gen; /* the child generation that has it mapped      */
    struct region *next;
} region;

typedef struct child {
    pid_t pid;
    int fd;              /* our end of the socket                         */
    int child_end;       /* the child's end, until it is spawned          */
    unsigned gen;
    pthread_t reaper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int spawned;         /* the reaper has tried: spawn_err says how       */
    int spawn_err;
    int exited;          /* the child is dead (recorded before reaping)    */
    siginfo_t how;
    int killed_by_us;    /* timeout or cancel                               */
    char crash_site[128]; /* from the child's ISO_CRASH_NOTE, or ""         */
    uint64_t env_sig;    /* env_signature() when it was started           */
    char argv_buf[6][32];
    char path[PATH_MAX];
} child;

struct h5cl_iso {
    h5cl_isolation opts;
    pthread_mutex_t mu;  /* one transaction at a time                      */
    child *ch;           /* NULL: none started (or the last one has died)  */
    unsigned gen;        /* generation of the newest child                 */
    region *regions;
    uint32_t next_region;
};

/* A remote dataset: its handle in the child of generation gen. */
struct h5cl_iso_ds {
    uint32_t handle;
    unsigned gen;
};

struct h5cl_iso_reader {
    h5cl_ctx *ctx;
    const h5cl_dataset *ds;
    uint32_t handle;
    unsigned gen;
    unsigned threads;    /* the child reads with                          */
    int can_map;         /* the child can locate tiles in the file        */
    uint64_t bytes_direct;
};

static void child_free(child *c);

/* ---- settings ---- */

void h5cl_isolation_init(h5cl_isolation *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* Half of the physical memory: far above what reading a tile needs, far
 * below what takes the machine down when a file makes HDF5 allocate
 * without bound. */
static uint64_t default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0)
        return (uint64_t)4 << 30;
    return (uint64_t)pages * (uint64_t)size / 2;
}

int h5cl_iso_ctx_init(h5cl_ctx *ctx)
{
    struct h5cl_iso *iso = calloc(1, sizeof *iso);
    if (!iso)
        return H5CL_ERR_NO_MEMORY;
    pthread_mutex_init(&iso->mu, NULL);
    h5cl_isolation_init(&iso->opts);
    const char *env = getenv("H5CL_ISOLATE");
    iso->opts.enabled = env && strcmp(env, "1") == 0;
    iso->next_region = 1;
    ctx->iso = iso;
    return H5CL_OK;
}

int h5cl_iso_enabled(const h5cl_ctx *ctx)
{
    return ctx && ctx->iso && ctx->iso->opts.enabled;
}

static uint64_t memory_limit(const h5cl_isolation *o)
{
    return o->memory_bytes ? o->memory_bytes : default_memory();
}

int h5cl_ctx_set_isolation(h5cl_ctx *ctx, const h5cl_isolation *opts)
{
    if (!ctx || !opts)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_ctx_set_isolation: NULL argument");
    h5cl_isolation o;
    h5cl_isolation_init(&o);
    size_t n = opts->struct_size && opts->struct_size < sizeof o
                   ? opts->struct_size
                   : sizeof o;
    memcpy(&o, opts, n);
    o.struct_size = sizeof o;
    if (!(o.wall_seconds >= 0) || o.wall_seconds > 1e9)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "isolation wall_seconds must be in [0, 1e9], not %g",
                         o.wall_seconds);
    if (o.memory_bytes && o.memory_bytes < ((uint64_t)64 << 20))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "isolation memory_bytes %llu is below 64 MiB, less "
                         "than the reader process needs to start",
                         (unsigned long long)o.memory_bytes);
    struct h5cl_iso *iso = ctx->iso;
    pthread_mutex_lock(&iso->mu);
    const int limits_changed = o.memory_bytes != iso->opts.memory_bytes ||
                               o.cpu_seconds != iso->opts.cpu_seconds;
    iso->opts = o;
    if (limits_changed && iso->ch) {
        /* limits are set when a child starts: the next call starts one */
        child_free(iso->ch);
        iso->ch = NULL;
    }
    pthread_mutex_unlock(&iso->mu);
    return h5cl_ok(ctx);
}

int h5cl_ctx_get_isolation(const h5cl_ctx *ctx, h5cl_isolation *opts_ret)
{
    if (!ctx || !opts_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    *opts_ret = ctx->iso->opts;
    opts_ret->memory_bytes = memory_limit(&ctx->iso->opts);
    if (opts_ret->wall_seconds == 0)
        opts_ret->wall_seconds = default_wall();
    return H5CL_OK;
}

/* ---- finding the helper ---- */

static int try_dir(const char *file, const char *rel, char *buf, size_t len)
{
    const char *slash = strrchr(file, '/');
    if (!slash)
        return 0;
    int n = snprintf(buf, len, "%.*s/%s", (int)(slash - file), file, rel);
    return n > 0 && (size_t)n < len && access(buf, X_OK) == 0;
}

/* $H5CL_READER, else next to the library or the program (build tree, GPU
 * bundle: bin/ beside lib/), else the installed location. */
static int find_helper(char *buf, size_t len)
{
    const char *env = getenv("H5CL_READER");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return access(buf, X_OK) == 0;
    }
    Dl_info di;
    if (dladdr((void *)h5cl_ctx_create, &di) && di.dli_fname &&
        (try_dir(di.dli_fname, "h5cl-reader", buf, len) ||
         try_dir(di.dli_fname, "../bin/h5cl-reader", buf, len)))
        return 1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (try_dir(exe, "h5cl-reader", buf, len))
            return 1;
    }
#ifdef H5CL_READER_INSTALLED
    snprintf(buf, len, "%s", H5CL_READER_INSTALLED);
    return access(buf, X_OK) == 0;
#else
    return 0;
#endif
}

/* ---- the child's life ---- */

static void *reaper_main(void *arg)
{
    child *c = arg;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* the child's end becomes fd 3 (dup2 clears its close-on-exec) */
    posix_spawn_file_actions_adddup2(&fa, c->child_end, 3);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETPGROUP);
    char *argv[] = {c->path,        "--serve",      c->argv_buf[0],
                    "--parent",     c->argv_buf[1], "--memory",
                    c->argv_buf[2], "--cpu",        c->argv_buf[3],
                    NULL};
    pid_t pid;
    int err = posix_spawn(&pid, c->path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    pthread_mutex_lock(&c->mu);
    c->spawned = 1;
    c->spawn_err = err;
    c->pid = err ? -1 : pid;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (err)
        return NULL;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR)
        ;
    pthread_mutex_lock(&c->mu);
    c->exited = 1;
    c->how = si; /* all zero when SIGCHLD is ignored (reaped for us) */
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* Waits up to `seconds` for the child's death; 1 when it is dead. */
static int wait_exit(child *c, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double end = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)end;
    ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
    pthread_mutex_lock(&c->mu);
    while (!c->exited)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
            break;
    int dead = c->exited;
    pthread_mutex_unlock(&c->mu);
    return dead;
}

static void kill_child(child *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->exited && c->pid > 0) {
        kill(c->pid, SIGKILL);
        c->killed_by_us = 1;
    }
    pthread_mutex_unlock(&c->mu);
}

/* Ends the child: closing the socket asks it to exit; one that does not
 * within a second is killed.  Then the reaper is joined. */
static void child_free(child *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (!wait_exit(c, 1.0)) {
        kill_child(c);
        wait_exit(c, DEATH_WAIT_SECONDS);
    }
    pthread_join(c->reaper, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void region_forget(region *r)
{
    munmap(r->addr, r->bytes);
    close(r->fd);
    free(r);
}

void h5cl_iso_ctx_release(h5cl_ctx *ctx)
{
    struct h5cl_iso *iso = ctx->iso;
    if (!iso)
        return;
    child_free(iso->ch);
    while (iso->regions) {
        region *r = iso->regions;
        iso->regions = r->next;
        region_forget(r);
    }
    pthread_mutex_destroy(&iso->mu);
    free(iso);
    ctx->iso = NULL;
}

/* FNV-1a of the environment variables the reading code (ours and
 * HDF5's) looks at. */
static uint64_t env_signature(void)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "H5CL_", 5) != 0 && strncmp(*e, "HDF5_", 5) != 0)
            continue;
        for (const char *p = *e; *p; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3u;
        h = (h ^ '\n') * 0x100000001b3u;
    }
    return h;
}

/* Starts a child; called with iso->mu held. */
static int child_start(struct h5cl_iso *iso, char *err, size_t errlen)
{
    child *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory starting the reader process");
        return H5CL_ERR_NO_MEMORY;
    }
    if (!find_helper(c->path, sizeof c->path)) {
        snprintf(err, errlen,
                 "isolated mode needs the h5cl-reader helper, which was not "
                 "found (set H5CL_READER to its path, or use in-process mode)");
        free(c);
        return H5CL_ERR_FILE_NOT_FOUND;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair failed starting the reader "
                              "process: %s", strerror(errno));
        free(c);
        return H5CL_ERR_IO;
    }
    if (sv[1] == 3) { /* dup2 onto itself would keep close-on-exec */
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
        close(sv[1]);
        sv[1] = moved;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    const h5cl_isolation *o = &iso->opts;
    snprintf(c->argv_buf[0], sizeof c->argv_buf[0], "3");
    snprintf(c->argv_buf[1], sizeof c->argv_buf[1], "%ld", (long)getpid());
    snprintf(c->argv_buf[2], sizeof c->argv_buf[2], "%llu",
             (unsigned long long)memory_limit(o));
    snprintf(c->argv_buf[3], sizeof c->argv_buf[3], "%llu",
             (unsigned long long)o->cpu_seconds);
    c->fd = sv[0];
    c->child_end = sv[1];
    c->pid = -1;
    c->env_sig = env_signature();
    int st = H5CL_OK;
    if (sv[1] < 0 || pthread_create(&c->reaper, NULL, reaper_main, c) != 0) {
        snprintf(err, errlen, "cannot start the thread that runs the reader "
                              "process");
        st = H5CL_ERR_THREAD;
    } else {
        pthread_mutex_lock(&c->mu);
        while (!c->spawned)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        if (c->spawn_err) {
            snprintf(err, errlen, "posix_spawn of %.1024s failed: %s", c->path,
                     strerror(c->spawn_err));
            pthread_join(c->reaper, NULL);
            st = H5CL_ERR_IO;
        }
    }
    if (sv[1] >= 0)
        close(sv[1]);
    if (st != H5CL_OK) {
        close(sv[0]);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return st;
    }
    c->gen = ++iso->gen;
    iso->ch = c;
    return H5CL_OK;
}

/* ---- one transaction ---- */

static const char *op_doing(const h5cl_iso_req *rq, char *buf, size_t len)
{
    char box[256];
    switch (rq->op) {
    case ISO_OPEN:
        snprintf(buf, len, "opening %s in %s", rq->path, rq->file);
        break;
    case ISO_LIST:
        snprintf(buf, len, "listing the datasets of %s", rq->file);
        break;
    case ISO_CF:
        snprintf(buf, len, "reading the attributes of %s in %s", rq->path,
                 rq->file);
        break;
    case ISO_RD_OPEN:
        snprintf(buf, len, "preparing to read %s in %s", rq->path, rq->file);
        break;
    case ISO_READ:
        h5cl_box_text(&rq->box, box, sizeof box);
        snprintf(buf, len, "reading [%s] of %s in %s", box, rq->path,
                 rq->file);
        break;
    default:
        snprintf(buf, len, "serving a request about %s", rq->file);
        break;
    }
    return buf;
}

/* Turns the child's death during rq into a status and message, and
 * forgets the child (the next call starts a fresh one). */
static int child_died(struct h5cl_iso *iso, const h5cl_iso_req *rq,
                      int timed_out, double limit, char *err, size_t errlen)
{
    child *c = iso->ch;
    if (!wait_exit(c, DEATH_WAIT_SECONDS)) {
        kill_child(c);
        wait_exit(c, DEATH_WAIT_SECONDS);
    }
    char doing[2400];
    op_doing(rq, doing, sizeof doing);
    pthread_mutex_lock(&c->mu);
    const siginfo_t how = c->how;
    const int ours = c->killed_by_us;
    const pid_t pid = c->pid;
    pthread_mutex_unlock(&c->mu);
    const h5cl_isolation *o = &iso->opts;
    int st;
    if (timed_out) {
        st = H5CL_ERR_TIMEOUT;
        snprintf(err, errlen,
                 "the isolated reader (pid %ld) took more than %.0f s %s "
                 "(its wall-clock limit) and was killed",
                 (long)pid, limit, doing);
    } else if (how.si_code == CLD_EXITED) {
        st = H5CL_ERR_CRASHED;
        snprintf(err, errlen,
                 "the isolated reader (pid %ld) exited with status %d while "
                 "%s",
                 (long)pid, how.si_status, doing);
    } else if (how.si_code == CLD_KILLED || how.si_code == CLD_DUMPED) {
        const int sig = how.si_status;
        const int cpu = sig == SIGXCPU || (sig == SIGKILL && !ours &&
                                            o->cpu_seconds);
        st = cpu ? H5CL_ERR_LIMIT : H5CL_ERR_CRASHED;
        if (cpu)
            snprintf(err, errlen,
                     "the isolated reader (pid %ld) reached its CPU limit of "
                     "%llu s while %s",
                     (long)pid, (unsigned long long)o->cpu_seconds, doing);
        else
            snprintf(err, errlen,
                     "the isolated reader (pid %ld) was killed by SIG%s%s%s "
                     "(%s) while %s",
                     (long)pid, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
                     c->crash_site[0] ? " inside " : "", c->crash_site,
                     sigdescr_np(sig) ? sigdescr_np(sig) : "unknown signal",
                     doing);
    } else {
        st = H5CL_ERR_CRASHED;
        snprintf(err, errlen,
                 "the isolated reader (pid %ld) stopped answering while %s",
                 (long)pid, doing);
    }
    child_free(c);
    iso->ch = NULL;
    return st;
}

static int send_req(int fd, const h5cl_iso_req *rq, int pass_fd)
{
    struct iovec iov = {(void *)rq, sizeof *rq};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    if (pass_fd >= 0) {
        memset(&u, 0, sizeof u);
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &pass_fd, sizeof pass_fd);
    }
    ssize_t n;
    do
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *rq ? 0 : -1;
}

typedef void (*more_fn)(const h5cl_iso_rep *rep, void *user);

/* Sends rq (with pass_fd, or -1) and waits for the final reply, handing
 * ISO_MORE replies to more().  Called with iso->mu held and a child
 * running.  Returns the reply's status, the child's death or timeout. */
static int transact(h5cl_ctx *ctx, const h5cl_iso_req *rq, int pass_fd,
                    h5cl_iso_rep *rep, more_fn more, void *user, char *err,
                    size_t errlen)
{
    struct h5cl_iso *iso = ctx->iso;
    child *c = iso->ch;
    const double wall = iso->opts.wall_seconds > 0 ? iso->opts.wall_seconds
                                                   : default_wall();
    const double limit = wall + (double)rq->nbytes / WALL_BYTES_PER_SECOND;
    if (send_req(c->fd, rq, pass_fd) != 0)
        return child_died(iso, rq, 0, limit, err, errlen);
    double start = h5cl_now(), cancel_seen = 0;
    for (;;) {
        double left = start + limit - h5cl_now();
        /* the flag outlives a cancelled run until the next one starts:
         * only a run in progress is cancelled */
        if (atomic_load(&ctx->busy) && atomic_load(&ctx->cancel)) {
            if (cancel_seen == 0)
                cancel_seen = h5cl_now();
            else if (h5cl_now() - cancel_seen > CANCEL_GRACE_SECONDS) {
                kill_child(c);
                child_died(iso, rq, 0, limit, err, errlen);
                snprintf(err, errlen, "cancelled (the isolated reader was "
                                      "stopped)");
                return H5CL_ERR_CANCELLED;
            }
        }
        if (left <= 0) {
            kill_child(c);
            return child_died(iso, rq, 1, limit, err, errlen);
        }
        /* slices, so that a cancel is seen */
        int ms = left > 0.1 ? 100 : (int)(left * 1000) + 1;
        struct pollfd pf = {c->fd, POLLIN, 0};
        int pr = poll(&pf, 1, ms);
        if (pr < 0 && errno != EINTR)
            return child_died(iso, rq, 0, limit, err, errlen);
        if (pr <= 0)
            continue;
        ssize_t n = recv(c->fd, rep, sizeof *rep, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof *rep)
            return child_died(iso, rq, 0, limit, err, errlen);
        rep->msg[sizeof rep->msg - 1] = '\0';
        if (rep->status == ISO_MORE && more) {
            more(rep, user);
            continue;
        }
        if (rep->status == ISO_CRASH_NOTE) {
            /* the child is dying: keep where, then see it die */
            snprintf(c->crash_site, sizeof c->crash_site, "%.127s", rep->msg);
            continue;
        }
        if (rep->status != H5CL_OK)
            snprintf(err, errlen, "%s", rep->msg);
        return rep->status;
    }
}

/* Makes sure a child runs, started under the current environment
 * (starting one); iso->mu held. */
static int ensure_child(struct h5cl_iso *iso, char *err, size_t errlen)
{
    if (iso->ch) {
        pthread_mutex_lock(&iso->ch->mu);
        int dead = iso->ch->exited;
        pthread_mutex_unlock(&iso->ch->mu);
        if (!dead && iso->ch->env_sig == env_signature())
            return H5CL_OK;
        child_free(iso->ch);
        iso->ch = NULL;
    }
    return child_start(iso, err, errlen);
}

static void req_init(h5cl_iso_req *rq, uint32_t op, const char *file,
                     const char *path)
{
    memset(rq, 0, sizeof *rq);
    rq->op = op;
    if (file)
        snprintf(rq->file, sizeof rq->file, "%s", file);
    if (path)
        snprintf(rq->path, sizeof rq->path, "%s", path);
}

/* Runs one request from the caller's thread: starts the child if need be,
 * records a failure on ctx. */
static int call(h5cl_ctx *ctx, h5cl_iso_req *rq, h5cl_iso_rep *rep,
                more_fn more, void *user)
{
    struct h5cl_iso *iso = ctx->iso;
    char err[sizeof rep->msg + 512];
    int st = ensure_child(iso, err, sizeof err);
    if (st == H5CL_OK)
        st = transact(ctx, rq, -1, rep, more, user, err, sizeof err);
    return st == H5CL_OK ? H5CL_OK : h5cl_fail(ctx, st, "%s", err);
}

/* The handle of ds in the running child, reopening ds there when it was
 * opened in an earlier child; iso->mu held. */
static int remote_handle(h5cl_ctx *ctx, const h5cl_dataset *ds,
                         uint32_t *handle_ret)
{
    struct h5cl_iso *iso = ctx->iso;
    struct h5cl_iso_ds *r = ds->remote;
    char err[2600];
    int st = ensure_child(iso, err, sizeof err);
    if (st != H5CL_OK)
        return h5cl_fail(ctx, st, "%s", err);
    if (r->gen != iso->ch->gen) {
        h5cl_iso_req rq;
        h5cl_iso_rep rep;
        req_init(&rq, ISO_OPEN, ds->info.file, ds->info.path);
        rq.a = ctx->strict;
        st = transact(ctx, &rq, -1, &rep, NULL, NULL, err, sizeof err);
        if (st != H5CL_OK)
            return h5cl_fail(ctx, st, "%s", err);
        r->handle = rep.handle;
        r->gen = iso->ch->gen;
    }
    *handle_ret = r->handle;
    return H5CL_OK;
}

/* ---- proxies ---- */

int h5cl_iso_dataset_open(h5cl_ctx *ctx, h5cl_dataset *ds, const char *file,
                          const char *path)
{
    struct h5cl_iso_ds *r = calloc(1, sizeof *r);
    h5cl_iso_rep *rep = malloc(sizeof *rep);
    if (!r || !rep) {
        free(r);
        free(rep);
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    h5cl_iso_req rq;
    req_init(&rq, ISO_OPEN, file, path);
    rq.a = ctx->strict;
    pthread_mutex_lock(&ctx->iso->mu);
    int st = call(ctx, &rq, rep, NULL, NULL);
    if (st == H5CL_OK && rep->msg[0] &&
        !(ds->warnings = strdup(rep->msg)))
        st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    if (st == H5CL_OK) {
        ds->info = rep->info;
        ds->scalar = rep->scalar;
        r->handle = rep->handle;
        r->gen = ctx->iso->ch->gen;
        ds->remote = r;
        r = NULL;
    }
    pthread_mutex_unlock(&ctx->iso->mu);
    free(r);
    free(rep);
    return st;
}

void h5cl_iso_dataset_close(h5cl_dataset *ds)
{
    struct h5cl_iso_ds *r = ds->remote;
    struct h5cl_iso *iso = ds->ctx->iso;
    pthread_mutex_lock(&iso->mu);
    if (iso->ch && iso->ch->gen == r->gen) {
        h5cl_iso_req rq;
        h5cl_iso_rep rep;
        char err[64];
        req_init(&rq, ISO_CLOSE, NULL, NULL);
        rq.handle = r->handle;
        /* a child that fails to close is one that will be replaced */
        transact(ds->ctx, &rq, -1, &rep, NULL, NULL, err, sizeof err);
    }
    pthread_mutex_unlock(&iso->mu);
    free(r);
    ds->remote = NULL;
}

typedef struct listing {
    char **names;
    int *supported;
    size_t n, cap;
    int oom;
} listing;

static void list_more(const h5cl_iso_rep *rep, void *user)
{
    listing *l = user;
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **nn = realloc(l->names, cap * sizeof *nn);
        int *ns = nn ? realloc(l->supported, cap * sizeof *ns) : NULL;
        if (nn)
            l->names = nn;
        if (!ns) {
            l->oom = 1;
            return;
        }
        l->supported = ns;
        l->cap = cap;
    }
    char *s = strndup(rep->msg, sizeof rep->msg - 1);
    if (!s) {
        l->oom = 1;
        return;
    }
    l->names[l->n] = s;
    l->supported[l->n++] = (int)rep->handle;
}

int h5cl_iso_list_datasets(h5cl_ctx *ctx, const char *file,
                           h5cl_dataset_visit_fn fn, void *user)
{
    h5cl_iso_rep *rep = malloc(sizeof *rep);
    if (!rep)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    listing l;
    memset(&l, 0, sizeof l);
    h5cl_iso_req rq;
    req_init(&rq, ISO_LIST, file, NULL);
    pthread_mutex_lock(&ctx->iso->mu);
    int st = call(ctx, &rq, rep, list_more, &l);
    pthread_mutex_unlock(&ctx->iso->mu);
    free(rep);
    if (st == H5CL_OK && l.oom)
        st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                       "out of memory listing the datasets of %s", file);
    /* the callback runs after the transaction: it may open datasets */
    int rc = 0;
    for (size_t i = 0; st == H5CL_OK && i < l.n && rc == 0; i++)
        rc = fn(l.names[i], l.supported[i], user);
    for (size_t i = 0; i < l.n; i++)
        free(l.names[i]);
    free(l.names);
    free(l.supported);
    if (st != H5CL_OK)
        return st;
    h5cl_ok(ctx);
    return rc;
}

/* A request about ds: its remote handle, then the transaction. */
static int call_about(h5cl_ctx *ctx, const h5cl_dataset *ds, uint32_t op,
                      int a, int b, h5cl_iso_rep *rep)
{
    h5cl_iso_req rq;
    req_init(&rq, op, ds->info.file, ds->info.path);
    rq.a = a;
    rq.b = b;
    pthread_mutex_lock(&ctx->iso->mu);
    int st = remote_handle(ctx, ds, &rq.handle);
    if (st == H5CL_OK)
        st = call(ctx, &rq, rep, NULL, NULL);
    pthread_mutex_unlock(&ctx->iso->mu);
    return st;
}

int h5cl_iso_cf_read(h5cl_ctx *ctx, const h5cl_dataset *ds, int cf,
                     int mask_fill, h5cl_cf_info *info)
{
    h5cl_iso_rep *rep = malloc(sizeof *rep);
    if (!rep)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    int st = call_about(ctx, ds, ISO_CF, cf, mask_fill, rep);
    if (st == H5CL_OK)
        *info = rep->cf;
    free(rep);
    return st;
}

int h5cl_iso_reader_open(h5cl_ctx *ctx, const h5cl_dataset *ds,
                         h5cl_iso_reader **rd_ret)
{
    *rd_ret = NULL;
    h5cl_iso_reader *rd = calloc(1, sizeof *rd);
    h5cl_iso_rep *rep = malloc(sizeof *rep);
    if (!rd || !rep) {
        free(rd);
        free(rep);
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    int st = call_about(ctx, ds, ISO_RD_OPEN, 0, 0, rep);
    if (st == H5CL_OK) {
        rd->ctx = ctx;
        rd->ds = ds;
        rd->handle = rep->handle;
        rd->threads = rep->threads;
        rd->can_map = rep->can_map != 0;
        rd->gen = ctx->iso->gen;
        *rd_ret = rd;
        rd = NULL;
    }
    free(rd);
    free(rep);
    return st;
}

static region *region_new(struct h5cl_iso *iso, size_t bytes)
{
    region *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = memfd_create("h5cl-tile", MFD_CLOEXEC);
    int saved = 0;
    if (r->fd < 0 || ftruncate(r->fd, (off_t)bytes) != 0)
        saved = errno; /* EFBIG: the file-size limit covers memfds too */
    else if ((r->addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                             r->fd, 0)) == MAP_FAILED)
        saved = errno;
    if (saved) {
        if (r->fd >= 0)
            close(r->fd);
        free(r);
        errno = saved;
        return NULL;
    }
    r->bytes = bytes;
    r->id = iso->next_region++;
    return r;
}

void *h5cl_iso_shm_alloc(h5cl_ctx *ctx, size_t bytes)
{
    struct h5cl_iso *iso = ctx->iso;
    pthread_mutex_lock(&iso->mu);
    region *r = region_new(iso, bytes);
    if (r) {
        r->next = iso->regions;
        iso->regions = r;
    }
    pthread_mutex_unlock(&iso->mu);
    return r ? r->addr : NULL;
}

/* Tells the child to drop r (when it has it); iso->mu held. */
static void region_unmap_remote(h5cl_ctx *ctx, region *r)
{
    struct h5cl_iso *iso = ctx->iso;
    if (!iso->ch || iso->ch->gen != r->mapped_gen)
        return;
    h5cl_iso_req rq;
    h5cl_iso_rep rep;
    char err[64];
    req_init(&rq, ISO_UNMAP, NULL, NULL);
    rq.region = r->id;
    transact(ctx, &rq, -1, &rep, NULL, NULL, err, sizeof err);
}

void h5cl_iso_shm_free(h5cl_ctx *ctx, void *addr)
{
    struct h5cl_iso *iso = ctx->iso;
    pthread_mutex_lock(&iso->mu);
    for (region **pp = &iso->regions; *pp; pp = &(*pp)->next) {
        region *r = *pp;
        if (r->addr != addr)
            continue;
        *pp = r->next;
        region_unmap_remote(ctx, r);
        region_forget(r);
        break;
    }
    pthread_mutex_unlock(&iso->mu);
}

/* The region holding [dst, dst + nbytes), or NULL; iso->mu held. */
static region *region_for(const struct h5cl_iso *iso, const void *dst,
                          size_t nbytes)
{
    const char *p = dst;
    for (region *r = iso->regions; r; r = r->next)
        if (p >= (const char *)r->addr &&
            p + nbytes <= (const char *)r->addr + r->bytes)
            return r;
    return NULL;
}

/* Under iso->mu: H5CL_OK while the child that opened the reader runs. */
static int reader_live(const h5cl_iso_reader *rd, char *err, size_t errlen)
{
    const struct h5cl_iso *iso = rd->ctx->iso;
    if (iso->ch && iso->ch->gen == rd->gen)
        return H5CL_OK;
    /* never restarted from here: the run that opened the reader ends with
     * the child that served it */
    snprintf(err, errlen,
             "the isolated reader of %s in %s stopped earlier in this run",
             rd->ds->info.path, rd->ds->info.file);
    return H5CL_ERR_CRASHED;
}

int h5cl_iso_reader_locate(h5cl_iso_reader *rd, const h5cl_box *box,
                           h5cl_file_run *run, char *err, size_t errlen)
{
    memset(run, 0, sizeof *run);
    h5cl_iso_req rq;
    h5cl_iso_rep rep;
    pthread_mutex_lock(&rd->ctx->iso->mu);
    int st = reader_live(rd, err, errlen);
    if (st == H5CL_OK) {
        req_init(&rq, ISO_LOCATE, rd->ds->info.file, rd->ds->info.path);
        rq.handle = rd->handle;
        rq.box = *box;
        st = transact(rd->ctx, &rq, -1, &rep, NULL, NULL, err, errlen);
        if (st == H5CL_OK)
            *run = rep.run;
    }
    pthread_mutex_unlock(&rd->ctx->iso->mu);
    return st;
}

int h5cl_iso_reader_read(h5cl_iso_reader *rd, const h5cl_box *box, void *dst,
                         size_t nbytes, char *err, size_t errlen)
{
    h5cl_ctx *ctx = rd->ctx;
    struct h5cl_iso *iso = ctx->iso;
    const h5cl_dataset *ds = rd->ds;
    pthread_mutex_lock(&iso->mu);
    int st = reader_live(rd, err, errlen);
    region *r = st == H5CL_OK ? region_for(iso, dst, nbytes) : NULL;
    if (st == H5CL_OK && !r) {
        snprintf(err, errlen, "a %zu-byte tile of %s in %s was to be read "
                              "into memory the isolated reader cannot see",
                 nbytes, ds->info.path, ds->info.file);
        st = H5CL_ERR_INVALID_ARGUMENT;
    }
    h5cl_iso_req rq;
    h5cl_iso_rep rep;
    if (st == H5CL_OK && r->mapped_gen != rd->gen) {
        req_init(&rq, ISO_MAP, ds->info.file, ds->info.path);
        rq.region = r->id;
        rq.nbytes = r->bytes;
        st = transact(ctx, &rq, r->fd, &rep, NULL, NULL, err, errlen);
        if (st == H5CL_OK)
            r->mapped_gen = rd->gen;
    }
    if (st == H5CL_OK) {
        req_init(&rq, ISO_READ, ds->info.file, ds->info.path);
        rq.handle = rd->handle;
        rq.region = r->id;
        rq.offset = (uint64_t)((char *)dst - (char *)r->addr);
        rq.nbytes = nbytes;
        rq.box = *box;
        st = transact(ctx, &rq, -1, &rep, NULL, NULL, err, errlen);
        if (st == H5CL_OK)
            rd->bytes_direct += rep.bytes_direct;
    }
    pthread_mutex_unlock(&iso->mu);
    return st;
}

int h5cl_iso_reader_can_map(const h5cl_iso_reader *rd)
{
    return rd->can_map;
}

uint64_t h5cl_iso_reader_bytes_direct(const h5cl_iso_reader *rd)
{
    return rd->bytes_direct;
}

unsigned h5cl_iso_reader_threads(const h5cl_iso_reader *rd)
{
    return rd->threads;
}

void h5cl_iso_reader_close(h5cl_iso_reader *rd)
{
    if (!rd)
        return;
    struct h5cl_iso *iso = rd->ctx->iso;
    pthread_mutex_lock(&iso->mu);
    if (iso->ch && iso->ch->gen == rd->gen) {
        h5cl_iso_req rq;
        h5cl_iso_rep rep;
        char err[64];
        req_init(&rq, ISO_RD_CLOSE, NULL, NULL);
        rq.handle = rd->handle;
        transact(rd->ctx, &rq, -1, &rep, NULL, NULL, err, sizeof err);
    }
    pthread_mutex_unlock(&iso->mu);
    free(rd);
}
