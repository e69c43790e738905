/*
 * path_pattern.c - URL-path patterns shared by the importers that write
 * pattern rules (import_netlify.c, import_rewrite.c): comparing two of
 * them and writing one as a rules-file SOURCE.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "importer.h"
#include "path_pattern.h"

int pp_name_char(int c)
{
    return apr_isalnum(c) || c == '_';
}

pp_path *pp_from_literal(apr_pool_t *p, const char *path, size_t len,
                         int prefix, int nocase, int encoded)
{
    pp_path *a = apr_pcalloc(p, sizeof(*a));
    size_t i = 0, n = 0;
    for (i = 0; i < len; i++)
        n += path[i] == '/';
    a->seg = apr_pcalloc(p, (n + 1) * sizeof(pp_seg));
    a->prefix = prefix;
    a->nocase = nocase;
    a->encoded = encoded;
    i = len && path[0] == '/';
    while (i < len) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        /* A trailing '/' ends no segment: rules ignore it. */
        if (j > i || j < len) {
            a->seg[a->n].head = path + i;
            a->seg[a->n].head_len = j - i;
            a->n++;
        }
        i = j + 1;
    }
    return a;
}

int pp_literal_segments(const pp_path *a)
{
    int k, n = 0;
    for (k = 0; k < a->n; k++)
        n += !a->seg[k].capture;
    return n;
}

int pp_has_capture(const pp_path *a)
{
    return pp_literal_segments(a) < a->n;
}

/* Do x[0..n) and y[0..n) compare equal, folded if `fold`? */
static int same_bytes(const char *x, const char *y, size_t n, int fold)
{
    if (n == 0)
        return 1;
    return fold ? !strncasecmp(x, y, n) : !memcmp(x, y, n);
}

/* May literal segment text s[0..n) match capture segment c? */
static int literal_fits(const char *s, size_t n, const pp_seg *c, int fold)
{
    return n > c->head_len + c->tail_len
           && same_bytes(s, c->head, c->head_len, fold)
           && same_bytes(s + n - c->tail_len, c->tail, c->tail_len, fold);
}

static size_t min_size(size_t x, size_t y)
{
    return x < y ? x : y;
}

/* May some segment text match both x and y? */
static int segs_meet(const pp_seg *x, const pp_seg *y, int fold)
{
    size_t h, t;
    if (!x->capture && !y->capture)
        return x->head_len == y->head_len
               && same_bytes(x->head, y->head, x->head_len, fold);
    if (!x->capture)
        return literal_fits(x->head, x->head_len, y, fold);
    if (!y->capture)
        return literal_fits(y->head, y->head_len, x, fold);
    h = min_size(x->head_len, y->head_len);
    t = min_size(x->tail_len, y->tail_len);
    return same_bytes(x->head, y->head, h, fold)
           && same_bytes(x->tail + x->tail_len - t, y->tail + y->tail_len - t,
                         t, fold);
}

int pp_meet(const pp_path *a, const pp_path *b)
{
    int k, n = a->n < b->n ? a->n : b->n, fold = a->nocase || b->nocase;
    if ((!a->prefix && b->n > a->n) || (!b->prefix && a->n > b->n))
        return 0;
    for (k = 0; k < n; k++) {
        if (!segs_meet(&a->seg[k], &b->seg[k], fold))
            return 0;
    }
    return 1;
}

/* Does segment x match every text segment y matches? */
static int seg_covers(const pp_seg *x, const pp_seg *y, int fold)
{
    if (!x->capture)
        return !y->capture && x->head_len == y->head_len
               && same_bytes(x->head, y->head, x->head_len, fold);
    if (!y->capture)
        return literal_fits(y->head, y->head_len, x, fold);
    return y->head_len >= x->head_len && y->tail_len >= x->tail_len
           && same_bytes(x->head, y->head, x->head_len, fold)
           && same_bytes(x->tail, y->tail + y->tail_len - x->tail_len,
                         x->tail_len, fold);
}

int pp_covers(const pp_path *a, const pp_path *b)
{
    int k;
    if (a->prefix ? b->n < a->n : (b->prefix || b->n != a->n))
        return 0;
    if (b->nocase && !a->nocase)
        return 0;               /* b answers spellings a does not */
    for (k = 0; k < a->n; k++) {
        if (!seg_covers(&a->seg[k], &b->seg[k], a->nocase))
            return 0;
    }
    return 1;
}

const char *pp_source(apr_pool_t *p, const pp_path *a,
                      const char *const *names, const char *host,
                      const char **why)
{
    unsigned flags = IMP_SOURCE | (a->encoded ? IMP_ENCODED : 0);
    const char *out = host;
    int k;
    for (k = 0; k < a->n; k++) {
        const pp_seg *s = &a->seg[k];
        out = apr_pstrcat(p, out, "/", imp_escape(p, s->head, s->head_len,
                                                  flags), NULL);
        if (!s->capture)
            continue;
        /* The engine reads the longest run of name bytes as the name. */
        if (s->tail_len && pp_name_char((unsigned char)s->tail[0])) {
            *why = apr_psprintf(p, "the text '%.*s' after a capture begins "
                                "with a letter, digit or '_', which a "
                                "placeholder's name would take in",
                                (int)s->tail_len, s->tail);
            return NULL;
        }
        out = apr_pstrcat(p, out, ":", names[s->capture - 1],
                          imp_escape(p, s->tail, s->tail_len, flags), NULL);
    }
    if (a->prefix)
        return apr_pstrcat(p, out, "/*", NULL);
    return a->n ? out : apr_pstrcat(p, out, "/", NULL);
}
