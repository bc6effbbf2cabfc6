/*
 * h5cl info: the datasets of a file, or one dataset in detail.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct path_list {
    char **paths;
    int *supported;
    size_t n, cap;
} path_list;

static void path_list_free(path_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->supported);
}

/* Collects the walk; opening datasets waits until the walk has ended. */
static int collect_path(const char *path, int supported, void *user)
{
    path_list *l = user;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        char **p = realloc(l->paths, cap * sizeof *p);
        int *s;

        if (!p)
            return 1;
        l->paths = p;
        s = realloc(l->supported, cap * sizeof *s);
        if (!s)
            return 1;
        l->supported = s;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(path);
    if (!l->paths[l->n])
        return 1;
    l->supported[l->n++] = supported;
    return 0;
}

static void print_dataset_info(const h5cl_dataset_info *d)
{
    char a[32], b[32];

    printf("file           %s\n", d->file);
    printf("dataset        %s\n", d->path);
    printf("shape          ");
    print_dims(stdout, d->rank, d->dims);
    printf("\n");
    printf("dtype          %s (%s-endian)\n", h5cl_dtype_name(d->dtype),
           d->big_endian ? "big" : "little");
    printf("layout         %s\n", h5cl_layout_name(d->layout));
    if (d->layout == H5CL_LAYOUT_CHUNKED) {
        printf("chunks         ");
        print_dims(stdout, d->rank, d->chunk_dims);
        printf("\n");
    }
    printf("filters        %s\n", d->filters[0] ? d->filters : "none");
    printf("elements       %" PRIu64 "\n", d->element_count);
    printf("logical size   %s (%" PRIu64 " bytes)\n",
           human_bytes(a, sizeof a, d->nbytes), d->nbytes);
    printf("storage size   %s (%" PRIu64 " bytes",
           human_bytes(b, sizeof b, d->storage_bytes), d->storage_bytes);
    if (d->storage_bytes && d->nbytes)
        printf(", ratio %.2f", (double)d->nbytes / (double)d->storage_bytes);
    printf(")\n");
}

/* One dataset in detail. */
static int info_one(h5cl_ctx *ctx, const char *file, const char *path,
                    int json)
{
    h5cl_dataset *ds = NULL;
    h5cl_dataset_info d;
    int st;

    st = h5cl_dataset_open(ctx, file, path, &ds);
    if (st == H5CL_OK)
        st = h5cl_dataset_get_info(ds, &d);
    if (st != H5CL_OK) {
        int code = lib_error(ctx, st);
        h5cl_dataset_close(ds);
        return code;
    }
    h5cl_dataset_close(ds);
    if (json) {
        jw w;

        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        jw_key(&w, "file");
        jw_string(&w, d.file);
        jw_key(&w, "path");
        jw_string(&w, d.path);
        json_dataset_info(&w, &d);
        jw_close(&w, '}');
    } else {
        print_dataset_info(&d);
    }
    return finish_output(EXIT_OK);
}

/* Every dataset in the file, with its shape, type and layout. */
static int info_list(h5cl_ctx *ctx, const char *file, int json)
{
    path_list l = {0};
    int st, code = EXIT_OK;
    size_t i;
    jw w;

    st = h5cl_file_list_datasets(ctx, file, collect_path, &l);
    if (st > 0) {
        path_list_free(&l);
        return no_memory();
    }
    if (st != H5CL_OK) {
        path_list_free(&l);
        return lib_error(ctx, st);
    }
    jw_init(&w, stdout);
    if (json) {
        jw_open(&w, '{', 0);
        jw_key(&w, "file");
        jw_string(&w, file);
        jw_key(&w, "datasets");
        jw_open(&w, '[', 0);
    } else if (l.n == 0) {
        printf("%s: no datasets\n", file);
    }
    for (i = 0; i < l.n; i++) {
        h5cl_dataset *ds = NULL;
        h5cl_dataset_info d;
        char sz[32];

        st = H5CL_ERR_UNSUPPORTED_TYPE;
        if (l.supported[i]) {
            st = h5cl_dataset_open(ctx, file, l.paths[i], &ds);
            if (st == H5CL_OK)
                st = h5cl_dataset_get_info(ds, &d);
            h5cl_dataset_close(ds);
            if (st != H5CL_OK) {
                fflush(stdout);
                code = lib_error(ctx, st);
            }
        }
        if (json) {
            jw_open(&w, '{', 0);
            jw_key(&w, "path");
            jw_string(&w, l.paths[i]);
            jw_key(&w, "supported");
            jw_bool(&w, l.supported[i]);
            if (st == H5CL_OK) {
                json_dataset_info(&w, &d);
            } else if (l.supported[i]) {
                jw_key(&w, "error");
                jw_string(&w, h5cl_errname(st));
            }
            jw_close(&w, '}');
            continue;
        }
        if (!l.supported[i]) {
            printf("%-30s (unsupported type)\n", l.paths[i]);
            continue;
        }
        if (st != H5CL_OK) {
            printf("%-30s (cannot open)\n", l.paths[i]);
            continue;
        }
        printf("%-30s %-8s ", l.paths[i], h5cl_dtype_name(d.dtype));
        print_dims(stdout, d.rank, d.dims);
        printf("  %s", h5cl_layout_name(d.layout));
        if (d.layout == H5CL_LAYOUT_CHUNKED) {
            printf(" (");
            print_dims(stdout, d.rank, d.chunk_dims);
            printf(")");
        }
        if (d.filters[0])
            printf(" %s", d.filters);
        printf("  %s\n", human_bytes(sz, sizeof sz, d.nbytes));
    }
    if (json) {
        jw_close(&w, ']');
        jw_close(&w, '}');
    }
    path_list_free(&l);
    return finish_output(code);
}

int cmd_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        ISOLATE_LONGOPTS,
        {NULL, 0, NULL, 0}};
    iso_args iso = {ISO_DEFAULT, 0};
    int json = 0, c, code;
    h5cl_ctx *ctx = NULL;
    const char *file, *path;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'q': break; /* nothing to quieten; accepted for scripts */
        case 'h': return help_requested();
        default:
            code = iso_args_option(&iso, c, optarg);
            if (code == RUN_OPT_OTHER)
                return option_error(c, argv);
            if (code != 0)
                return code;
        }
    }
    if (optind >= argc)
        return usage_error("info: missing FILE");
    if (argc - optind > 2)
        return usage_error("info: unexpected argument '%s'",
                           argv[optind + 2]);
    file = argv[optind];
    path = argc - optind == 2 ? argv[optind + 1] : NULL;

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    c = iso_apply(ctx, &iso);
    code = c != H5CL_OK ? lib_error(ctx, c)
           : path       ? info_one(ctx, file, path, json)
                        : info_list(ctx, file, json);
    h5cl_ctx_destroy(ctx);
    return code;
}
