/* All-or-nothing output datasets: a temporary file next to the target, then
 * fsync and rename.  HDF5 has no journal, so writing into the target file
 * itself could leave it unreadable if the process died mid-write; working
 * on a copy costs the copy (instant where the filesystem reflinks) and
 * protects every dataset already in the file. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5io.h"
#include "writer.h"

struct h5cl_writer {
    char target[4096];
    char tmp[4096];
    char path[1024];
    hid_t file, dset, memtype;
    int rank;
    uint64_t origin[H5CL_MAX_RANK];
    int tmp_made;
};

static hid_t native_type(h5cl_dtype dt)
{
    switch (dt) {
    case H5CL_INT8: return H5T_NATIVE_INT8;
    case H5CL_UINT8: return H5T_NATIVE_UINT8;
    case H5CL_INT16: return H5T_NATIVE_INT16;
    case H5CL_UINT16: return H5T_NATIVE_UINT16;
    case H5CL_INT32: return H5T_NATIVE_INT32;
    case H5CL_UINT32: return H5T_NATIVE_UINT32;
    case H5CL_INT64: return H5T_NATIVE_INT64;
    case H5CL_UINT64: return H5T_NATIVE_UINT64;
    case H5CL_FLOAT32: return H5T_NATIVE_FLOAT;
    case H5CL_FLOAT64: return H5T_NATIVE_DOUBLE;
    default: return -1;
    }
}

int h5cl_input_file_get(const char *file, h5cl_input_file *f)
{
    struct stat is;
    if (stat(file, &is) != 0)
        return 0;
    f->dev = (uint64_t)is.st_dev;
    f->ino = (uint64_t)is.st_ino;
    snprintf(f->name, sizeof f->name, "%s", file);
    return 1;
}

size_t h5cl_input_files(h5cl_dataset *const *ds, size_t n,
                        h5cl_input_file *files)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)h5cl_input_file_get(ds[i]->info.file, &files[k]);
    return k;
}

/* HDF5's file drivers put the failed system call's errno in their text
 * ("errno = 28, error message = ..."): such a failure is the file's
 * (H5CL_ERR_IO, the errno's text first), anything else HDF5's.  Rewrites
 * why in place. */
static int io_or_hdf5(char *why, size_t len)
{
    const char *e = strstr(why, "errno = ");
    int en = 0;
    if (!e || sscanf(e, "errno = %d", &en) != 1 || en <= 0)
        return H5CL_ERR_HDF5;
    char detail[512];
    snprintf(detail, sizeof detail, "%s", why);
    snprintf(why, len, "%s (errno %d; HDF5: %s)", strerror(en), en, detail);
    return H5CL_ERR_IO;
}

/* Fails when the target is one of the inputs (same inode: symlinks and
 * hard links included); the inputs are open read-only and must stay so. */
static int refuse_input(h5cl_ctx *ctx, const char *target,
                        const struct stat *ts, const h5cl_input_file *inputs,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (inputs[i].dev == (uint64_t)ts->st_dev &&
            inputs[i].ino == (uint64_t)ts->st_ino)
            return h5cl_fail(ctx, H5CL_ERR_OUTPUT_IS_INPUT,
                             "output file %s is the input file %s; inputs "
                             "are never written: choose another output file",
                             target, inputs[i].name);
    return H5CL_OK;
}

/* Whether the dataset (or any object) at path exists in an open file,
 * walking the path one link at a time as H5Lexists requires. */
static int object_exists(hid_t file, const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (H5Lexists(file, buf, H5P_DEFAULT) <= 0)
            return 0;
        if (c == '\0')
            return 1;
        *p = c;
    }
}

/* The kind of the object at path (H5I_GROUP, H5I_DATASET, ...);
 * H5I_BADID when absent or unreadable.  H5Oopen and H5Iget_type have one
 * signature across HDF5 versions, unlike H5Oget_info_by_name. */
static H5I_type_t object_type(hid_t file, const char *path)
{
    hid_t o = H5Oopen(file, path, H5P_DEFAULT);
    if (o < 0)
        return H5I_BADID;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t;
}

/* Every existing prefix of the path must be a group, and the path itself
 * absent, or a dataset that may be overwritten: overwriting never removes
 * a group (and with it other datasets). */
static int check_path(h5cl_ctx *ctx, hid_t f, const h5cl_writer_spec *spec)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec->path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int exists = object_exists(f, buf);
        if (exists && object_type(f, buf) != H5I_GROUP)
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "cannot write %s in %s: %s is not a group",
                             spec->path, spec->file, buf);
        *p = '/';
        if (!exists)
            return H5CL_OK; /* the rest is made with the dataset */
    }
    if (!object_exists(f, spec->path))
        return H5CL_OK;
    if (object_type(f, spec->path) != H5I_DATASET)
        return h5cl_fail(ctx, H5CL_ERR_EXISTS,
                         "%s in %s exists and is not a dataset; it is never "
                         "replaced",
                         spec->path, spec->file);
    if (!spec->overwrite)
        return h5cl_fail(ctx, H5CL_ERR_EXISTS,
                         "%s already exists in %s; ask to overwrite it "
                         "(--overwrite) or choose another name",
                         spec->path, spec->file);
    return H5CL_OK;
}

/* Checks the existing target: HDF5, and the dataset absent unless
 * overwriting. */
static int check_target(h5cl_ctx *ctx, const h5cl_writer_spec *spec)
{
    int st = H5CL_OK;
    h5cl_h5_lock();
    const htri_t is_hdf5 = H5Fis_hdf5(spec->file);
    if (is_hdf5 < 0) {
        /* could not tell (an I/O error): not a verdict on the file */
        char why[1024];
        h5cl_h5_describe(why, sizeof why);
        io_or_hdf5(why, sizeof why);
        st = h5cl_fail(ctx, H5CL_ERR_IO,
                       "cannot read the existing output file %s: %s; it is "
                       "left as it is",
                       spec->file, why);
    } else if (is_hdf5 == 0) {
        st = h5cl_fail(ctx, H5CL_ERR_NOT_HDF5,
                       "output file %s exists and is not an HDF5 file; it is "
                       "left as it is",
                       spec->file);
    } else {
        hid_t f = H5Fopen(spec->file, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) {
            char why[512];
            h5cl_h5_describe(why, sizeof why);
            st = h5cl_fail(ctx, H5CL_ERR_HDF5, "cannot open output file %s: %s",
                           spec->file, why);
        } else {
            st = check_path(ctx, f, spec);
            h5cl_h5_fclose(f);
        }
    }
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    return st;
}

/* Copies src into the open descriptor out: a reflink when the filesystem
 * shares extents, else copy_file_range (in-kernel), else read/write. */
static int copy_file(int in, int out, off_t size)
{
    if (ioctl(out, FICLONE, in) == 0)
        return 0;
    off_t done = 0;
    while (done < size) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
        if (n > 0) {
            done += n;
            continue;
        }
        if (n == 0)
            break;
        if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP &&
            errno != EINVAL)
            return -1;
        /* no in-kernel copy between these files: plain reads and writes */
        char buf[1 << 16];
        if (lseek(in, done, SEEK_SET) < 0 || lseek(out, done, SEEK_SET) < 0)
            return -1;
        for (;;) {
            ssize_t r = read(in, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -1;
            if (r == 0)
                return 0;
            for (ssize_t w = 0; w < r;) {
                ssize_t k = write(out, buf + w, (size_t)(r - w));
                if (k < 0 && errno == EINTR)
                    continue;
                if (k < 0)
                    return -1;
                w += k;
            }
        }
    }
    return 0;
}

/* Room for the new dataset in the temporary file, asked for before HDF5
 * writes anything.  Only uncompressed outputs have a known size: the data
 * plus generous room for HDF5's metadata (chunk index, attributes). */
static int reserve_space(h5cl_ctx *ctx, const h5cl_writer *w,
                         const h5cl_writer_spec *spec, uint64_t have)
{
    if (spec->gzip || spec->shuffle)
        return H5CL_OK;
    uint64_t bytes = h5cl_dtype_size(spec->dtype);
    for (int d = 0; d < spec->rank; d++)
        bytes *= spec->dims[d];
    const uint64_t need = bytes + ((uint64_t)1 << 20) + bytes / 256;
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        have + need > (uint64_t)lim.rlim_cur)
        return h5cl_fail(ctx, H5CL_ERR_IO,
                         "the output %s would reach about %llu bytes, beyond "
                         "this process's file-size limit of %llu bytes "
                         "(ulimit -f); nothing was written and the target is unchanged",
                         w->target, (unsigned long long)(have + need),
                         (unsigned long long)lim.rlim_cur);
    int fd = open(w->tmp, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return h5cl_fail(ctx, H5CL_ERR_IO, "cannot open %s: %s", w->tmp,
                         strerror(errno));
    /* blocks allocated, size unchanged: HDF5 sees the file it expects */
    int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)have, (off_t)need);
    int saved = errno;
    close(fd);
    if (rc != 0 && (saved == ENOSPC || saved == EDQUOT || saved == EFBIG))
        return h5cl_fail(ctx, H5CL_ERR_IO,
                         "not enough space for the output %s: it needs about "
                         "%llu more bytes (%s); nothing was written and the target is unchanged",
                         w->target, (unsigned long long)need, strerror(saved));
    return H5CL_OK; /* no fallocate on this filesystem: find out later */
}

/* This machine's name as it goes into temporary names: a PID means
 * something only on the machine that made it (the directory may be
 * shared over NFS). */
static void host_tag(char *buf, size_t len)
{
    char host[256] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    size_t k = 0;
    for (const char *c = host; *c && k + 1 < len && k < 32; c++)
        buf[k++] = (isalnum((unsigned char)*c) || *c == '.') ? *c : '_';
    buf[k] = '\0';
    if (k == 0)
        snprintf(buf, len, "localhost");
}

/* Removes the temporary files of this target that a killed run left
 * behind: those made on this machine by a process that no longer exists.
 * A SIGKILL cannot be caught, so its temporary file is unavoidable; the
 * next write of the same target removes it.  Temporary files of live
 * processes or of other machines are left alone. */
static void remove_stale(const char *dir, const char *base, const char *host)
{
    char prefix[4096];
    int plen = snprintf(prefix, sizeof prefix, ".%s.h5cl-%s-", base, host);
    DIR *d = opendir(dir);
    if (!d || plen <= 0 || (size_t)plen >= sizeof prefix) {
        if (d)
            closedir(d);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, (size_t)plen) != 0)
            continue;
        const size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".tmp") != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || *end != '-' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Makes w->tmp next to the target: empty, or a copy of the target. */
static int make_tmp(h5cl_ctx *ctx, h5cl_writer *w, int exists,
                    const struct stat *ts)
{
    static atomic_uint counter;
    char dirbuf[4096], basebuf[4096], host[40];
    snprintf(dirbuf, sizeof dirbuf, "%s", w->target);
    snprintf(basebuf, sizeof basebuf, "%s", w->target);
    const char *dir = dirname(dirbuf), *base = basename(basebuf);
    host_tag(host, sizeof host);
    remove_stale(dir, base, host);
    snprintf(w->tmp, sizeof w->tmp, "%s/.%s.h5cl-%s-%ld-%u.tmp", dir, base,
             host, (long)getpid(), atomic_fetch_add(&counter, 1));
    int out = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                   exists ? (ts->st_mode & 07777) : 0644);
    if (out < 0)
        return h5cl_fail(ctx, H5CL_ERR_IO,
                         "cannot create the temporary output %s: %s", w->tmp,
                         strerror(errno));
    w->tmp_made = 1;
    int rc = 0, saved = 0;
    if (exists) {
        int in = open(w->target, O_RDONLY | O_CLOEXEC);
        rc = in < 0 ? -1 : copy_file(in, out, ts->st_size);
        saved = errno;
        if (in >= 0)
            close(in);
    }
    if (close(out) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        return h5cl_fail(ctx, H5CL_ERR_IO,
                         "cannot copy %s to the temporary output %s: %s",
                         w->target, w->tmp, strerror(saved));
    return H5CL_OK;
}

static hid_t make_dcpl(const h5cl_writer_spec *spec)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0)
        return -1;
    int ok = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0;
    if (ok && spec->chunked && spec->rank > 0) {
        hsize_t c[H5CL_MAX_RANK];
        for (int d = 0; d < spec->rank; d++)
            c[d] = spec->chunk_dims[d];
        ok = H5Pset_chunk(dcpl, spec->rank, c) >= 0;
        if (ok && spec->shuffle)
            ok = H5Pset_shuffle(dcpl) >= 0;
        if (ok && spec->gzip > 0)
            ok = H5Pset_deflate(dcpl, (unsigned)spec->gzip) >= 0;
    }
    if (!ok) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

static int put_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate(H5S_SCALAR);
    size_t len = strlen(value);
    int ok = t >= 0 && sp >= 0 && H5Tset_size(t, len ? len : 1) >= 0;
    hid_t a = ok ? H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = a >= 0 && H5Awrite(a, t, len ? value : "") >= 0;
    if (a >= 0 && H5Aclose(a) < 0)
        ok = 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return ok ? 0 : -1;
}

/* Opens the temporary file and makes the dataset in it.  Lock held. */
static int make_dataset(h5cl_ctx *ctx, h5cl_writer *w, int exists,
                        const h5cl_writer_spec *spec, int with_dataset)
{
    char why[1024];
    const char *step;
    hid_t space = -1, dcpl = -1, lcpl = -1, dapl = -1;
    w->file = exists ? H5Fopen(w->tmp, H5F_ACC_RDWR, H5P_DEFAULT)
                     : H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    step = "opening the temporary output";
    if (w->file < 0)
        goto fail;
    step = "removing the dataset being overwritten";
    if (exists && object_exists(w->file, spec->path) &&
        H5Ldelete(w->file, spec->path, H5P_DEFAULT) < 0)
        goto fail;
    if (!with_dataset)
        return H5CL_OK; /* the caller makes it (h5cl_writer_open) */
    hsize_t dims[H5CL_MAX_RANK];
    for (int d = 0; d < spec->rank; d++)
        dims[d] = spec->dims[d];
    step = "making the dataset";
    space = spec->rank ? H5Screate_simple(spec->rank, dims, NULL)
                       : H5Screate(H5S_SCALAR);
    dcpl = make_dcpl(spec);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (space < 0 || dcpl < 0 || lcpl < 0 || dapl < 0 ||
        H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        /* whole chunks go straight to the file; partly written ones (an
         * unaligned selection or chunk shape) wait in the cache for the
         * rest of their data */
        H5Pset_chunk_cache(dapl, 12421,
                           spec->chunks_aligned ? 0 : (size_t)64 << 20,
                           1.0) < 0)
        goto fail;
    w->dset = H5Dcreate2(w->file, spec->path, w->memtype, space, lcpl, dcpl,
                         dapl);
    if (w->dset < 0)
        goto fail;
    step = "recording the expression as attributes";
    if (put_attr(w->dset, "h5cl_expression",
                 spec->expression ? spec->expression : "") < 0 ||
        put_attr(w->dset, "h5cl_sources", spec->sources ? spec->sources : "") < 0)
        goto fail;
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Pclose(dapl);
    return H5CL_OK;
fail:
    h5cl_h5_describe(why, sizeof why);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dapl >= 0)
        H5Pclose(dapl);
    const int st = io_or_hdf5(why, sizeof why);
    return h5cl_fail(ctx, st, "%s %s for %s: %s", step, spec->path,
                     spec->file, why);
}

static int begin(h5cl_ctx *ctx, const h5cl_writer_spec *spec,
                 const h5cl_input_file *inputs, size_t ninputs,
                 int with_dataset, h5cl_writer **w_ret)
{
    *w_ret = NULL;
    if (!spec->file || !*spec->file || !spec->path || spec->path[0] != '/')
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "the output needs a file and an absolute dataset "
                         "path (\"/name\")");
    if (strlen(spec->file) >= 4000 || strlen(spec->path) >= 1000)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "output file or dataset path too long");
    h5cl_writer *w = calloc(1, sizeof *w);
    if (!w)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    w->file = w->dset = -1;
    w->memtype = native_type(spec->dtype);
    w->rank = spec->rank;
    memcpy(w->origin, spec->origin, sizeof w->origin);
    snprintf(w->target, sizeof w->target, "%s", spec->file);
    snprintf(w->path, sizeof w->path, "%s", spec->path);

    struct stat ts;
    int exists = stat(spec->file, &ts) == 0;
    int st = H5CL_OK;
    if (exists && !S_ISREG(ts.st_mode))
        st = h5cl_fail(ctx, H5CL_ERR_IO, "output %s is not a regular file",
                       spec->file);
    if (st == H5CL_OK && exists)
        st = refuse_input(ctx, spec->file, &ts, inputs, ninputs);
    if (st == H5CL_OK && exists)
        st = check_target(ctx, spec);
    if (st == H5CL_OK)
        st = make_tmp(ctx, w, exists, &ts);
    if (st == H5CL_OK && with_dataset)
        st = reserve_space(ctx, w, spec, exists ? (uint64_t)ts.st_size : 0);
    if (st == H5CL_OK) {
        h5cl_h5_lock();
        st = make_dataset(ctx, w, exists, spec, with_dataset);
        h5cl_h5_unlock();
    }
    if (st != H5CL_OK) {
        h5cl_writer_abort(w);
        return st;
    }
    *w_ret = w;
    return H5CL_OK;
}

int h5cl_writer_create(h5cl_ctx *ctx, const h5cl_writer_spec *spec,
                       const h5cl_input_file *inputs, size_t ninputs,
                       h5cl_writer **w_ret)
{
    return begin(ctx, spec, inputs, ninputs, 1, w_ret);
}

int h5cl_writer_open(h5cl_ctx *ctx, const h5cl_writer_spec *spec,
                     const h5cl_input_file *inputs, size_t ninputs,
                     h5cl_writer **w_ret)
{
    return begin(ctx, spec, inputs, ninputs, 0, w_ret);
}

hid_t h5cl_writer_file(const h5cl_writer *w)
{
    return w->file;
}

int h5cl_writer_write(h5cl_writer *w, const h5cl_box *box, const void *data,
                      char *err, size_t errlen)
{
    hsize_t start[H5CL_MAX_RANK], count[H5CL_MAX_RANK];
    for (int d = 0; d < w->rank; d++) {
        start[d] = box->start[d] - w->origin[d];
        count[d] = box->count[d];
    }
    int st = H5CL_OK;
    h5cl_h5_lock();
    hid_t fs = -1, ms = -1;
    if (w->rank == 0) {
        if (H5Dwrite(w->dset, w->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     data) < 0)
            st = H5CL_ERR_HDF5;
    } else {
        fs = H5Dget_space(w->dset);
        ms = H5Screate_simple(w->rank, count, NULL);
        if (fs < 0 || ms < 0 ||
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(w->dset, w->memtype, ms, fs, H5P_DEFAULT, data) < 0)
            st = H5CL_ERR_HDF5;
    }
    if (st != H5CL_OK) {
        char why[1024];
        h5cl_h5_describe(why, sizeof why);
        st = io_or_hdf5(why, sizeof why);
        snprintf(err, errlen,
                 "writing %s to %s (temporary %s) failed: %s; the target is "
                 "unchanged",
                 w->path, w->target, w->tmp, why);
    }
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    h5cl_h5_unlock();
    return st;
}

/* fsync of a path (a file, or the directory that holds the rename). */
static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int publish(h5cl_ctx *ctx, h5cl_writer *w);

int h5cl_writer_commit(h5cl_ctx *ctx, h5cl_writer *w)
{
    char why[1024] = "";
    h5cl_h5_lock();
    /* H5Dclose writes the last chunks and H5Fclose the metadata: either can
     * meet a full disk, so both statuses count */
    int ok = w->dset < 0 || H5Dclose(w->dset) >= 0;
    w->dset = -1;
    ok = (h5cl_h5_fclose(w->file) >= 0) && ok; /* even after a failure */
    if (!ok)
        h5cl_h5_describe(why, sizeof why);
    w->file = -1;
    h5cl_h5_unlock();
    if (!ok) {
        h5cl_fail(ctx, io_or_hdf5(why, sizeof why),
                  "finishing %s in %s failed: %s; the target is unchanged",
                  w->path, w->target, why);
        h5cl_writer_abort(w);
        return ctx->status;
    }
    if (sync_path(w->tmp, O_RDONLY) != 0) {
        h5cl_fail(ctx, H5CL_ERR_IO,
                  "cannot sync the finished output %s: %s; the target %s is "
                  "unchanged",
                  w->tmp, strerror(errno), w->target);
        h5cl_writer_abort(w);
        return ctx->status;
    }
    return publish(ctx, w);
}

/* Renames the synced temporary file over the target and syncs the
 * directory.  Until that sync the rename may not survive a crash, so when
 * it fails the old state is put back: the previous target (kept under a
 * second link made before the rename) or no file.  Frees w. */
static int publish(h5cl_ctx *ctx, h5cl_writer *w)
{
    char dirbuf[4096], keep[4096 + 8];
    snprintf(dirbuf, sizeof dirbuf, "%s", w->target);
    const char *dir = dirname(dirbuf);
    /* the temporary name with ".old" before ".tmp": a leftover is found
     * and removed like any stale temporary file */
    snprintf(keep, sizeof keep, "%.*s.old.tmp", (int)strlen(w->tmp) - 4,
             w->tmp);
    int kept = link(w->target, keep) == 0;
    if (!kept && errno != ENOENT) {
        /* no second link here (a filesystem without hard links): the
         * rename goes ahead, but a failed directory sync cannot undo it */
        kept = -1;
    }
    if (rename(w->tmp, w->target) != 0) {
        int saved = errno;
        if (kept == 1)
            unlink(keep);
        h5cl_fail(ctx, H5CL_ERR_IO,
                  "cannot move the finished output %s to %s: %s; the target "
                  "is unchanged",
                  w->tmp, w->target, strerror(saved));
        h5cl_writer_abort(w);
        return ctx->status;
    }
    w->tmp_made = 0;
    int rc = sync_path(dir, O_RDONLY | O_DIRECTORY);
    int saved = errno;
    if (rc == 0) {
        if (kept == 1)
            unlink(keep);
        free(w);
        return H5CL_OK;
    }
    const char *now;
    if (kept == 1 && rename(keep, w->target) == 0)
        now = "the previous target is back in place";
    else if (kept == 0 && unlink(w->target) == 0)
        now = "the new file is removed";
    else
        now = "the new output is in place but may not survive a crash";
    sync_path(dir, O_RDONLY | O_DIRECTORY); /* best effort: undoing */
    h5cl_fail(ctx, H5CL_ERR_IO,
              "cannot sync the directory %s after renaming the output over "
              "%s: %s; %s",
              dir, w->target, strerror(saved), now);
    free(w);
    return ctx->status;
}

void h5cl_writer_abort(h5cl_writer *w)
{
    if (!w)
        return;
    h5cl_h5_lock();
    if (w->dset >= 0)
        H5Dclose(w->dset);
    if (w->file >= 0)
        h5cl_h5_fclose(w->file);
    H5Eclear2(H5E_DEFAULT);
    h5cl_h5_unlock();
    if (w->tmp_made)
        unlink(w->tmp);
    free(w);
}

/* Output chunks made for a contiguous input that is to be compressed:
 * whole rows of about this many bytes. */
#define OUT_CHUNK_BYTES ((uint64_t)1 << 20)

/* The output's chunks: none when asked to be contiguous; asked for, else
 * the input's, else (only when a filter needs chunks) whole rows of about
 * 1 MiB.  Clipped to the output's
 * extent, which HDF5 requires of fixed-size datasets. */
static int choose_chunks(h5cl_ctx *ctx, const h5cl_map_options *m,
                         const uint64_t *in_chunks, h5cl_writer_spec *w)
{
    w->chunked = 0;
    if (w->rank == 0)
        return H5CL_OK;
    for (int d = 0; d < w->rank; d++)
        if (w->dims[d] == 0)
            return H5CL_OK; /* nothing to chunk */
    if (m->chunk_rank < 0) {
        if (m->gzip || m->shuffle)
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "a contiguous output cannot be compressed or "
                             "shuffled: HDF5 filters need chunks");
        return H5CL_OK;
    }
    if (m->chunk_rank) {
        if (m->chunk_rank != w->rank)
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "chunk shape has %d dimensions; the output "
                             "has %d",
                             m->chunk_rank, w->rank);
        for (int d = 0; d < w->rank; d++) {
            if (m->chunk_dims[d] == 0)
                return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                                 "chunk dimension %d is 0", d);
            w->chunk_dims[d] = m->chunk_dims[d];
        }
    } else if (in_chunks) {
        memcpy(w->chunk_dims, in_chunks, (size_t)w->rank * sizeof *in_chunks);
        /* tiles are whole input chunks: so whole output chunks too when
         * the selection starts on the chunk grid */
        w->chunks_aligned = 1;
        for (int d = 0; d < w->rank; d++)
            if (w->origin[d] % w->chunk_dims[d] != 0)
                w->chunks_aligned = 0;
    } else if (m->gzip || m->shuffle) {
        uint64_t elems = OUT_CHUNK_BYTES / h5cl_dtype_size(w->dtype);
        for (int d = w->rank - 1; d >= 0; d--) {
            w->chunk_dims[d] = elems < w->dims[d] ? (elems ? elems : 1)
                                                  : w->dims[d];
            elems /= w->chunk_dims[d];
        }
    } else {
        return H5CL_OK;
    }
    for (int d = 0; d < w->rank; d++)
        if (w->chunk_dims[d] > w->dims[d])
            w->chunk_dims[d] = w->dims[d];
    w->chunked = 1;
    return H5CL_OK;
}

int h5cl_writer_spec_init(h5cl_ctx *ctx, const h5cl_map_options *m,
                          h5cl_dtype dtype, int rank, const uint64_t *dims,
                          const uint64_t *origin, const uint64_t *in_chunks,
                          h5cl_writer_spec *w)
{
    memset(w, 0, sizeof *w);
    if (!m->out_file || !m->out_path)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "an output needs a file and a dataset path");
    if (m->gzip < 0 || m->gzip > 9)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "gzip level %d; use 1..9, or 0 for none", m->gzip);
    w->file = m->out_file;
    w->path = m->out_path;
    w->dtype = dtype;
    w->rank = rank;
    for (int d = 0; d < rank; d++) {
        w->dims[d] = dims[d];
        w->origin[d] = origin[d];
    }
    w->gzip = m->gzip;
    w->shuffle = m->shuffle;
    w->overwrite = m->overwrite;
    return choose_chunks(ctx, m, in_chunks, w);
}
