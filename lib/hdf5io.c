#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "hdf5io.h"

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;

void h5cl_h5_lock(void)
{
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

void h5cl_h5_describe(char *buf, size_t len)
{
    walk_state w = {buf, len, 0};
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &w);
    if (!w.found)
        snprintf(buf, len, "no HDF5 error detail");
    H5Eclear2(H5E_DEFAULT);
}
