/*
 * rr_diag.c - structured diagnostics: every message the engine reports
 * carries its kind and the FILE:LINE places it involves, so that httpd,
 * the CLI and the tests act on kinds and places, never on wording.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <string.h>

#include "apr_strings.h"

#include "rr_internal.h"

#define DIAG_DEFAULT_MAX_ERRORS 20
/* Warnings are cheap and an admin wants to see many: chains and
 * duplicates of a large migration come by the hundred. */
#define DIAG_WARNINGS_PER_ERROR 50

static const char *const kind_names[RR_DIAG_KINDS] = {
    "error", "duplicate", "chain", "uncollapsed", "loop", "unmatchable",
    "expired", "redundant", "shadowed"
};

rr_diag *rr_diag_create(apr_pool_t *pool)
{
    rr_diag *d = apr_pcalloc(pool, sizeof(*d));
    d->pool = pool;
    d->entries = apr_array_make(pool, 4, sizeof(rr_diag_entry));
    d->max_errors = DIAG_DEFAULT_MAX_ERRORS;
    return d;
}

int rr_diag_is_error(rr_diag_kind kind)
{
    return kind == RR_DIAG_ERROR || kind == RR_DIAG_LOOP;
}

const char *rr_diag_kind_name(rr_diag_kind kind)
{
    return (unsigned)kind < RR_DIAG_KINDS ? kind_names[kind] : "unknown";
}

const rr_diag_entry *rr_diag_get(const rr_diag *d, int i)
{
    return &APR_ARRAY_IDX(d->entries, i, rr_diag_entry);
}

apr_array_header_t *rr_diag_messages(const rr_diag *d, int errors,
                                     apr_pool_t *pool)
{
    apr_array_header_t *out = apr_array_make(pool, 4, sizeof(const char *));
    int k;
    for (k = 0; d && k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (!rr_diag_is_error(e->kind) == !errors)
            APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(pool, e->message);
    }
    return out;
}

/* Is there room for one more entry of this severity? */
static int diag_has_room(const rr_diag *d, int is_error)
{
    int max = d->max_errors > 0 ? d->max_errors : DIAG_DEFAULT_MAX_ERRORS;
    return is_error ? d->errors < max
                    : d->warnings < max * DIAG_WARNINGS_PER_ERROR;
}

void rr_diag_pushv(rr_diag *d, rr_diag_kind kind,
                   const rr_diag_place *places, int nplaces,
                   const char *fmt, va_list ap)
{
    rr_diag_entry *e;
    rr_diag_place *copy;
    int is_error = rr_diag_is_error(kind), k;
    if (!d)
        return;
    d->found[kind]++;
    if (!diag_has_room(d, is_error)) {
        d->dropped++;
        return;
    }
    copy = apr_palloc(d->pool, sizeof(*copy) * (nplaces > 0 ? nplaces : 1));
    for (k = 0; k < nplaces; k++) {
        copy[k].file = places[k].file ? apr_pstrdup(d->pool, places[k].file)
                                      : NULL;
        copy[k].line = places[k].line;
    }
    e = apr_array_push(d->entries);
    e->kind = kind;
    e->message = apr_pvsprintf(d->pool, fmt, ap);
    e->places = copy;
    e->nplaces = nplaces;
    if (is_error)
        d->errors++;
    else
        d->warnings++;
}

void rr_diag_push(rr_diag *d, rr_diag_kind kind,
                  const rr_diag_place *places, int nplaces,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_diag_pushv(d, kind, places, nplaces, fmt, ap);
    va_end(ap);
}
