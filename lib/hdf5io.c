#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "hdf5io.h"

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;

/* HDF5's exit handler closes files left open, and crashes (1.10.8) on a
 * file whose H5Fclose already failed on a full disk, which HDF5 keeps
 * half-closed.  A process that exits must not crash for that, so the
 * handler stays off.  Too late (and harmless) when HDF5 is already
 * initialised by someone else. */
static void h5_init(void)
{
    H5dont_atexit();
}

void h5cl_h5_init(void)
{
    pthread_once(&h5_once, h5_init);
}

void h5cl_h5_lock(void)
{
    h5cl_h5_init();
    pthread_mutex_lock(&h5_mutex);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5cl_h5_unlock(void)
{
    pthread_mutex_unlock(&h5_mutex);
}

int h5cl_h5_chunk_record(hid_t file, hid_t dset, const hsize_t *coord,
                         h5cl_chunk_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->addr = HADDR_UNDEF;
    if (H5Dget_chunk_info_by_coord(dset, coord, &rec->mask, &rec->addr,
                                   &rec->size) < 0)
        return -1;
    rec->found = H5Dget_chunk_storage_size(dset, coord, &rec->found_size) >= 0;
    H5Eclear2(H5E_DEFAULT); /* the lookup's "not allocated" */
    if (!rec->found)
        rec->found_size = 0;
    if (rec->addr == HADDR_UNDEF && !rec->found)
        return H5CL_CHUNK_UNALLOCATED;
    if (rec->addr == 0 && !rec->found)
        return H5CL_CHUNK_TO_H5DREAD;
    /* chunk addresses leave out a userblock: this bound is loose there,
     * never wrong */
    if (H5Fget_filesize(file, &rec->eof) < 0)
        return -1;
    if (rec->addr != HADDR_UNDEF && rec->addr != 0 && rec->found &&
        rec->found_size == rec->size && rec->addr <= rec->eof &&
        rec->size <= rec->eof - rec->addr)
        return H5CL_CHUNK_STORED;
    return H5CL_CHUNK_DAMAGED;
}

void h5cl_h5_chunk_damage(const h5cl_chunk_rec *rec, char *buf, size_t len)
{
    char recd[96] = "no chunk", found[64] = "none", past[80] = "";
    if (rec->addr != HADDR_UNDEF)
        snprintf(recd, sizeof recd, "%llu bytes at address %llu",
                 (unsigned long long)rec->size,
                 (unsigned long long)rec->addr);
    if (rec->found)
        snprintf(found, sizeof found, "%llu bytes",
                 (unsigned long long)rec->found_size);
    if (rec->addr != HADDR_UNDEF && rec->eof &&
        (rec->addr > rec->eof || rec->size > rec->eof - rec->addr))
        snprintf(past, sizeof past, ", past the end of the file (%llu bytes)",
                 (unsigned long long)rec->eof);
    snprintf(buf, len,
             "the chunk index is damaged: its record says %s%s, HDF5's own "
             "lookup finds %s",
             recd, past, found);
}

static atomic_ulong fclose_failures;

herr_t h5cl_h5_fclose(hid_t f)
{
    const herr_t rc = H5Fclose(f);
    if (rc < 0)
        atomic_fetch_add(&fclose_failures, 1);
    return rc;
}

unsigned long h5cl_h5_fclose_failures(void)
{
    return atomic_load(&fclose_failures);
}

typedef struct walk_state {
    char *buf;
    size_t len;
    int found;
} walk_state;

/* The first entry walking upward is the innermost (most specific) error. */
static herr_t take_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    walk_state *w = data;
    if (w->found)
        return 0;
    char minor[256] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
        minor[0] = '\0';
    snprintf(w->buf, w->len, "%s: %s%s%s", e->func_name ? e->func_name : "?",
             e->desc ? e->desc : "", (e->desc && *e->desc) ? ": " : "",
             minor);
    w->found = 1;
    return 0;
}

static herr_t find_type_error(unsigned n, const H5E_error2_t *e, void *data)
{
    if (e->maj_num == H5E_DATATYPE)
        *(int *)data = 1;
    return 0;
}

int h5cl_h5_type_error(void)
{
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_type_error, &found);
    return found;
}

void h5cl_h5_describe(char *buf, size_t len)
{
    walk_state w = {buf, len, 0};
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &w);
    if (!w.found)
        snprintf(buf, len, "no HDF5 error detail");
    /* HDF5 puts newlines inside some messages (errno details): one line */
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    H5Eclear2(H5E_DEFAULT);
}
