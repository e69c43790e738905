/*
 * rules_load.h - loading rules files as httpd loads one server's
 * Redirect307Map lines, for `check` and `test`.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef RULES_LOAD_H
#define RULES_LOAD_H

#include "apr_pools.h"
#include "apr_time.h"

#include "cli.h"
#include "redirect_rules.h"

typedef struct {
    rr_set *set;                /* NULL if httpd would refuse to start */
    rr_diag *diag;              /* everything httpd would log */
    apr_interval_time_t took;   /* parsing and checking */
    int chains;                 /* chains found (warned or collapsed) */
    int duplicates;             /* duplicate sources found */
    int unreadable;             /* a file could not be read */
    int cut;                    /* the diagnostics are not all listed (see
                                   rules_print_cut) */
} loaded_rules;

/* Loads a->files in order into one set, with a's options, and checks it
 * as httpd does at start-up.  A file "-" is read from stdin (as a file
 * holding the same bytes would be).  Diagnostics are collected, not printed;
 * chains and duplicates count the diagnostics kept (see rr_diag's caps). */
void rules_load(apr_pool_t *p, const cli_args *a, loaded_rules *l);

/* Prints the diagnostics on stderr as httpd logs them, warnings first:
 * "warning: FILE:LINE: reason", then "error: FILE:LINE: reason" (bytes
 * that could act on a terminal shown escaped), then says whether and
 * where the list was cut. */
void rules_print_diag(const rr_diag *d);

/* The exit status loaded rules give: EXIT_USAGE if a file could not be
 * read, else EXIT_FAIL if httpd would refuse them, else EXIT_OK. */
int rules_exit_status(const loaded_rules *l);

#endif /* RULES_LOAD_H */
