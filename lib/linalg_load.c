#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "linalg_load.h"

#ifndef H5CL_CLBLAST_SONAME
#define H5CL_CLBLAST_SONAME "libclblast.so.1"
#endif
#ifndef H5CL_LAPACKE_SONAME
#define H5CL_LAPACKE_SONAME "liblapacke.so.3"
#endif

/* One library, loaded once: its handle stays open for the process's
 * life (unloading CLBlast while its caches hold OpenCL objects is unsafe,
 * and the cost was paid). */
typedef struct lazy_lib {
    pthread_once_t once;
    const char *soname;
    const char *const *names; /* symbols, NULL-terminated */
    void **fns;               /* where they go, same order */
    int ok;
    char why[512];
} lazy_lib;

static void lazy_open(lazy_lib *l)
{
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(l->why, sizeof l->why, "%s", dlerror());
        return;
    }
    for (size_t i = 0; l->names[i]; i++) {
        dlerror();
        l->fns[i] = dlsym(h, l->names[i]);
        if (!l->fns[i]) {
            snprintf(l->why, sizeof l->why, "%s has no %s: %s", l->soname,
                     l->names[i], dlerror());
            return; /* the handle stays: l->ok stays 0 */
        }
    }
    l->ok = 1;
}

static int lazy_get(h5cl_ctx *ctx, lazy_lib *l, void (*init)(void))
{
    pthread_once(&l->once, init);
    if (l->ok)
        return H5CL_OK;
    return h5cl_fail(ctx, H5CL_ERR_LINALG, "cannot load %s (needed by cov and "
                     "pca): %s", l->soname, l->why);
}

/* ---- CLBlast ---- */

static h5cl_clblast clblast;
static void *clblast_fns[5];
static const char *const clblast_names[] = {
    "CLBlastSsyrk", "CLBlastDsyrk", "CLBlastSgemm", "CLBlastDgemm",
    "CLBlastClearCache", NULL};
static lazy_lib clblast_lib = {PTHREAD_ONCE_INIT, H5CL_CLBLAST_SONAME,
                               clblast_names, clblast_fns, 0, ""};

static void clblast_init(void)
{
    lazy_open(&clblast_lib);
    if (!clblast_lib.ok)
        return;
    /* POSIX guarantees object pointers from dlsym convert to functions */
    *(void **)&clblast.ssyrk = clblast_fns[0];
    *(void **)&clblast.dsyrk = clblast_fns[1];
    *(void **)&clblast.sgemm = clblast_fns[2];
    *(void **)&clblast.dgemm = clblast_fns[3];
    *(void **)&clblast.clear_cache = clblast_fns[4];
}

int h5cl_clblast_get(h5cl_ctx *ctx, const h5cl_clblast **fns_ret)
{
    *fns_ret = NULL;
    int st = lazy_get(ctx, &clblast_lib, clblast_init);
    if (st == H5CL_OK)
        *fns_ret = &clblast;
    return st;
}

const h5cl_clblast *h5cl_clblast_loaded(void)
{
    /* read only after a h5cl_clblast_get() of this context returned OK,
     * which happened-after the load */
    return clblast_lib.ok ? &clblast : NULL;
}

/* ---- LAPACKE ---- */

static h5cl_dsyevd_fn dsyevd;
static void *lapacke_fns[1];
static const char *const lapacke_names[] = {"LAPACKE_dsyevd", NULL};
static lazy_lib lapacke_lib = {PTHREAD_ONCE_INIT, H5CL_LAPACKE_SONAME,
                               lapacke_names, lapacke_fns, 0, ""};

static void lapacke_init(void)
{
    lazy_open(&lapacke_lib);
    if (lapacke_lib.ok)
        *(void **)&dsyevd = lapacke_fns[0];
}

int h5cl_lapacke_dsyevd(h5cl_ctx *ctx, h5cl_dsyevd_fn *fn_ret)
{
    *fn_ret = NULL;
    int st = lazy_get(ctx, &lapacke_lib, lapacke_init);
    if (st == H5CL_OK)
        *fn_ret = dsyevd;
    return st;
}
