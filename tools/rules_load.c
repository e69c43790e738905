/*
 * rules_load.c - loads rules files into one set and checks it, as httpd
 * does for one server at start-up, so that `check` and `test` judge the
 * rules exactly as the module would.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include "rules_load.h"

static int count_kind(const rr_diag *d, rr_diag_kind kind)
{
    int k, n = 0;
    for (k = 0; k < d->entries->nelts; k++)
        n += rr_diag_get(d, k)->kind == kind;
    return n;
}

/* Counts the chains of a set's tables without changing the set: a
 * collapsing check answers differently, so it runs on a copy. */
static int count_chains(apr_pool_t *p, const rr_set *set,
                        const apr_array_header_t *hosts)
{
    apr_pool_t *tmp;
    rr_set *copy;
    rr_diag *d;
    int k, n;
    apr_pool_create(&tmp, p);
    copy = rr_set_create(tmp, rr_set_table_count(set));
    for (k = 0; k < rr_set_table_count(set); k++)
        rr_set_add(copy, rr_set_table(set, k));
    d = rr_diag_create(tmp);
    rr_set_check(copy, hosts, RR_CHAINS_WARN, d);
    n = count_kind(d, RR_DIAG_CHAIN);
    apr_pool_destroy(tmp);
    return n;
}

/* Adds each file's table to `set`; 0 if one fails to load. */
static int load_tables(apr_pool_t *p, const cli_args *a, rr_set *set,
                       rr_diag *d)
{
    int k, ok = 1;
    for (k = 0; k < a->files->nelts; k++) {
        const char *file = APR_ARRAY_IDX(a->files, k, const char *);
        rr_table *t = rr_table_load_file(p, file, &a->opt, d);
        if (t)
            rr_set_add(set, t);
        else
            ok = 0;
    }
    return ok;
}

void rules_load(apr_pool_t *p, const cli_args *a, loaded_rules *l)
{
    rr_set *set = rr_set_create(p, a->files->nelts);
    apr_time_t t0 = apr_time_now();
    const apr_array_header_t *hosts = a->hosts->nelts ? a->hosts : NULL;
    int ok;

    memset(l, 0, sizeof(*l));
    l->diag = rr_diag_create(p);
    rr_set_ignore(set, a->ignore);
    rr_set_clock(set, a->at);
    ok = load_tables(p, a, set, l->diag)
         && rr_set_check(set, hosts, a->chains, l->diag) == APR_SUCCESS;
    l->took = apr_time_now() - t0;
    l->duplicates = count_kind(l->diag, RR_DIAG_DUPLICATE);
    if (a->chains == RR_CHAINS_WARN)
        l->chains = count_kind(l->diag, RR_DIAG_CHAIN);
    else if (a->chains == RR_CHAINS_COLLAPSE && ok)
        l->chains = count_chains(p, set, hosts);
    l->set = ok ? set : NULL;
}

/* Prints the entries that are errors (errors != 0) or warnings. */
static void print_severity(const rr_diag *d, int errors, const char *label)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (!rr_diag_is_error(e->kind) == !errors)
            fprintf(stderr, "%s: %s\n", label, e->message);
    }
}

void rules_print_diag(const rr_diag *d)
{
    print_severity(d, 0, "warning");
    print_severity(d, 1, "error");
}
