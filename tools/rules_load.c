/*
 * rules_load.c - loads rules files into one set and checks it, as httpd
 * does for one server at start-up, so that `check` and `test` judge the
 * rules exactly as the module would.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include "apr_strings.h"

#include "cli_util.h"
#include "rules_load.h"

/* The engine's caps (redirect_rules.h, rr_diag.max_errors): this many
 * errors when max_errors is 0, and this many warnings for each error. */
#define ENGINE_DEFAULT_MAX_ERRORS 20
#define WARNINGS_PER_ERROR 50

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

/* Adds "FILE: cannot read: why" to d as the engine reports a file it
 * cannot read: an error about the whole file (line 0).  The engine has
 * no public call for it, so the entry is made from rr_diag's public
 * layout. */
static void push_unreadable(rr_diag *d, const char *file, const char *msg)
{
    rr_diag_place *place = apr_palloc(d->pool, sizeof(*place));
    rr_diag_entry *e;
    d->found[RR_DIAG_ERROR]++;
    place->file = apr_pstrdup(d->pool, file);
    place->line = 0;
    e = apr_array_push(d->entries);
    e->kind = RR_DIAG_ERROR;
    e->message = apr_pstrdup(d->pool, msg);
    e->places = place;
    e->nplaces = 1;
    d->errors++;
}

/* Rules from stdin, judged by the engine as a file holding the same
 * bytes would be: only a line too long for any rules file is cut short
 * while reading, so that a line without an end cannot take the memory. */
static rr_table *load_stdin(apr_pool_t *p, const rr_options *opt,
                            rr_diag *d)
{
    cli_text t;
    rr_builder *b;
    if (!cli_read_text(p, "-", RR_MAX_LINE, CLI_TEXT_RAW | CLI_TEXT_QUIET,
                       &t)) {
        push_unreadable(d, "-", t.error);
        return NULL;
    }
    b = rr_builder_create(p, opt);
    if (rr_builder_add_buffer(b, "-", t.buf, t.len, d) != APR_SUCCESS) {
        rr_builder_freeze(b, p, NULL);
        return NULL;
    }
    return rr_builder_freeze(b, p, d);
}

/* Adds each file's table to `set`; 0 if one fails to load. */
static int load_tables(apr_pool_t *p, const cli_args *a, rr_set *set,
                       rr_diag *d)
{
    int k, ok = 1;
    for (k = 0; k < a->files->nelts; k++) {
        const char *file = APR_ARRAY_IDX(a->files, k, const char *);
        rr_table *t = strcmp(file, "-")
                      ? rr_table_load_file(p, file, &a->opt, d)
                      : load_stdin(p, &a->opt, d);
        if (t)
            rr_set_add(set, t);
        else
            ok = 0;
    }
    return ok;
}

/* An error about a whole file (line 0) is one the file could not be
 * read for (rr_diag_place). */
static int has_unreadable(const rr_diag *d)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (e->kind == RR_DIAG_ERROR && e->nplaces > 0
            && e->places[0].line == 0)
            return 1;
    }
    return 0;
}

/* The errors the engine lists at most, and also stops parsing a file
 * at, as httpd does. */
static int max_errors(const rr_diag *d)
{
    return d->max_errors > 0 ? d->max_errors : ENGINE_DEFAULT_MAX_ERRORS;
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
    l->unreadable = has_unreadable(l->diag);
    l->cut = l->diag->dropped > 0 || l->diag->errors >= max_errors(l->diag);
}

int rules_exit_status(const loaded_rules *l)
{
    return l->unreadable ? EXIT_USAGE : l->set ? EXIT_OK : EXIT_FAIL;
}

/* Prints the entries that are errors (errors != 0) or warnings. */
static void print_severity(const rr_diag *d, int errors, const char *label)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (!rr_diag_is_error(e->kind) == !errors) {
            /* Messages quote rules lines. */
            cli_print_visible(stderr, "%s: %s", label, e->message);
            fputc('\n', stderr);
        }
    }
}

/* Says where the list is cut: past the caps the engine keeps, and after
 * the errors at which it stops reading a file. */
static void print_cut(const rr_diag *d)
{
    unsigned found_errors = 0, found_warnings = 0;
    int k, max = max_errors(d);
    for (k = 0; k < RR_DIAG_KINDS; k++) {
        if (rr_diag_is_error((rr_diag_kind)k))
            found_errors += d->found[k];
        else
            found_warnings += d->found[k];
    }
    if (d->dropped > 0)
        cli_say("list cut: %u more %s and %u more %s found, not listed "
                "(httpd logs the first %d errors and %d warnings)",
                found_errors - (unsigned)d->errors,
                cli_plural((int)(found_errors - (unsigned)d->errors),
                           "error", "errors"),
                found_warnings - (unsigned)d->warnings,
                cli_plural((int)(found_warnings - (unsigned)d->warnings),
                           "warning", "warnings"),
                max, max * WARNINGS_PER_ERROR);
    if (d->errors >= max)
        cli_say("list cut at %d errors, as httpd's: a file is not checked "
                "past its %dth error, and no more than %d errors are "
                "listed", max, max, max);
}

void rules_print_diag(const rr_diag *d)
{
    print_severity(d, 0, "warning");
    print_severity(d, 1, "error");
    print_cut(d);
}
