#include <pthread.h>
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
