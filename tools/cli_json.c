/*
 * h5cl CLI: a small JSON writer.  Objects pretty-printed, compact arrays on
 * one line.  Never writes NaN or Infinity (null instead); strings are
 * escaped and invalid UTF-8 becomes U+FFFD.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "cli.h"

void jw_init(jw *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
}

static void jw_indent(jw *w, int depth)
{
    int i;

    fputc('\n', w->f);
    for (i = 0; i < depth; i++)
        fputs("  ", w->f);
}

/* Writes the separator before a value or key. */
static void jw_pre(jw *w)
{
    int d;

    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0)
        return;
    d = w->depth - 1;
    if (w->items[d]++)
        fputc(',', w->f);
    if (w->compact[d]) {
        if (w->items[d] > 1)
            fputc(' ', w->f);
    } else {
        jw_indent(w, w->depth);
    }
}

/* Length of the valid UTF-8 sequence at s, or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

static void jw_raw_string(jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', w->f);
    while (*s) {
        size_t n;

        switch (*s) {
        case '"': fputs("\\\"", w->f); s++; continue;
        case '\\': fputs("\\\\", w->f); s++; continue;
        case '\n': fputs("\\n", w->f); s++; continue;
        case '\r': fputs("\\r", w->f); s++; continue;
        case '\t': fputs("\\t", w->f); s++; continue;
        default: break;
        }
        if (*s < 0x20 || *s == 0x7F) {
            fprintf(w->f, "\\u%04x", *s);
            s++;
            continue;
        }
        n = utf8_len(s);
        if (n == 0) {
            fputs("\\ufffd", w->f);
            s++;
            continue;
        }
        fwrite(s, 1, n, w->f);
        s += n;
    }
    fputc('"', w->f);
}

void jw_key(jw *w, const char *key)
{
    jw_pre(w);
    jw_raw_string(w, key);
    fputs(": ", w->f);
    w->after_key = 1;
}

void jw_open(jw *w, char c, int compact)
{
    jw_pre(w);
    fputc(c, w->f);
    if (w->depth < JW_DEPTH) {
        w->items[w->depth] = 0;
        w->compact[w->depth] = compact;
    }
    w->depth++;
}

void jw_close(jw *w, char c)
{
    w->depth--;
    if (w->depth < JW_DEPTH && !w->compact[w->depth] && w->items[w->depth])
        jw_indent(w, w->depth);
    fputc(c, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

void jw_string(jw *w, const char *s)
{
    jw_pre(w);
    if (s)
        jw_raw_string(w, s);
    else
        fputs("null", w->f);
}

void jw_null(jw *w)
{
    jw_pre(w);
    fputs("null", w->f);
}

void jw_bool(jw *w, int v)
{
    jw_pre(w);
    fputs(v ? "true" : "false", w->f);
}

void jw_u64(jw *w, uint64_t v)
{
    jw_pre(w);
    fprintf(w->f, "%" PRIu64, v);
}

void jw_i64(jw *w, int64_t v)
{
    jw_pre(w);
    fprintf(w->f, "%" PRId64, v);
}

/* A double, exactly (shortest round trip); null if not finite. */
void jw_double(jw *w, double v)
{
    char buf[40];

    jw_pre(w);
    if (!isfinite(v)) {
        fputs("null", w->f);
        return;
    }
    fputs(fmt_exact(buf, sizeof buf, v), w->f);
}

void jw_dims(jw *w, int rank, const uint64_t *dims)
{
    int i;

    jw_open(w, '[', 1);
    for (i = 0; i < rank; i++)
        jw_u64(w, dims[i]);
    jw_close(w, ']');
}

/* The keys of a dataset's description: dtype, byte_order, rank, shape,
 * layout, chunks, filters, element_count, nbytes, storage_bytes. */
void json_dataset_info(jw *w, const h5cl_dataset_info *d)
{
    jw_key(w, "dtype");
    jw_string(w, h5cl_dtype_name(d->dtype));
    jw_key(w, "byte_order");
    jw_string(w, d->big_endian ? "big" : "little");
    jw_key(w, "rank");
    jw_i64(w, d->rank);
    jw_key(w, "shape");
    jw_dims(w, d->rank, d->dims);
    jw_key(w, "layout");
    jw_string(w, h5cl_layout_name(d->layout));
    jw_key(w, "chunks");
    if (d->layout == H5CL_LAYOUT_CHUNKED)
        jw_dims(w, d->rank, d->chunk_dims);
    else
        jw_null(w);
    jw_key(w, "filters");
    jw_string(w, d->filters);
    jw_key(w, "element_count");
    jw_u64(w, d->element_count);
    jw_key(w, "nbytes");
    jw_u64(w, d->nbytes);
    jw_key(w, "storage_bytes");
    jw_u64(w, d->storage_bytes);
}
