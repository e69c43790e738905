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
} loaded_rules;

/* Loads a->files in order into one set, with a's options, and checks it
 * as httpd does at start-up.  Diagnostics are collected, not printed;
 * chains and duplicates count the diagnostics kept (see rr_diag's caps). */
void rules_load(apr_pool_t *p, const cli_args *a, loaded_rules *l);

/* Prints the diagnostics on stderr as httpd logs them, warnings first:
 * "warning: FILE:LINE: reason", then "error: FILE:LINE: reason". */
void rules_print_diag(const rr_diag *d);

#endif /* RULES_LOAD_H */
