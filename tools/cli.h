/*
 * cli.h - the redirect307 command line as parsed by redirect307.c, and
 * the commands it dispatches to (cmd_check.c, cmd_test.c, cmd_import.c,
 * cmd_export.c,
 * cmd_prune.c).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef CLI_H
#define CLI_H

#include "apr_pools.h"
#include "apr_tables.h"

#include "redirect_rules.h"
#include "request_url.h"

typedef enum { CMD_CHECK, CMD_TEST, CMD_IMPORT, CMD_EXPORT, CMD_PRUNE } cli_cmd;

typedef struct {
    cli_cmd cmd;
    rr_options opt;             /* --case-insensitive, --trailing-slash */
    int default_status;         /* --default */
    rr_chains_mode chains;      /* --chains */
    apr_array_header_t *hosts;  /* const char *: --host */
    apr_time_t at;              /* --at: rule windows at this time, 0: now */
    int soon_days;              /* check --soon: list rules expiring within */
    const rr_ignore *ignore;    /* --ignore-params, as httpd's
                                   Redirect307IgnoreParams (default: the
                                   built-in list) */
    apr_array_header_t *files;  /* const char *: rules or input files */
    int json;                   /* check --json */
    const char *compile_dir;    /* check --compile DIR, NULL: none */
    apr_array_header_t *urls;   /* const char *: test URLs, "-": stdin */
    const char *expect;         /* test --expect FILE, NULL: none */
    url_slashes encoded_slashes;    /* test --allow-encoded-slashes */
    int verbose;                /* test -v */
    const char *from;           /* import --from FORMAT */
    int import_status;          /* import --status, 0: none */
    const char *to;             /* export --to FORMAT */
    const char *map_out;        /* export --map-out PATH, NULL: none */
    const char *stats;          /* prune --stats FILE|URL, NULL: none */
    const char *unused_for;     /* prune --unused-for as written, NULL:
                                   none */
    apr_interval_time_t unused; /* ... as a time span */
    int expired;                /* prune --expired */
    int in_place;               /* prune --in-place */
} cli_args;

/* The commands run with the parsed arguments and return the exit status
 * (cli_util.h); results go to stdout, diagnostics to stderr. */

/* Loads a->files as httpd would and prints its diagnostics and a
 * summary, or with a->json one JSON document on stdout (cmd_check.c). */
int cmd_check(apr_pool_t *p, const cli_args *a);

/* Loads as cmd_check() does, then answers a->urls and checks a->expect
 * (cmd_test.c). */
int cmd_test(apr_pool_t *p, const cli_args *a);

/* Converts a->files of format a->from into rules on stdout
 * (cmd_import.c). */
int cmd_import(apr_pool_t *p, const cli_args *a);

/* 1 if `name` is an input format cmd_import() reads, else 0. */
int cmd_import_has_format(const char *name);

/* Loads a->files as cmd_check() does and writes them in format a->to:
 * on stdout, and the maps to a->map_out (cmd_export.c). */
int cmd_export(apr_pool_t *p, const cli_args *a);

/* 1 if `name` is an output format cmd_export() writes, else 0. */
int cmd_export_has_format(const char *name);

/* 1 if format `name` writes maps that need --map-out, else 0. */
int cmd_export_needs_map_out(const char *name);

/* Loads a->files as one server's maps, drops the rules not hit within
 * a->unused (by the stats file or status page a->stats) and, with
 * a->expired, those past their until=; writes what stays to stdout (or,
 * with a->in_place, over each file) and reports each removed rule as
 * FILE:LINE on stderr (cmd_prune.c). */
int cmd_prune(apr_pool_t *p, const cli_args *a);

/* Parses a --unused-for DURATION: digits and a unit, d (days), w (weeks)
 * or m (months of 30 days), e.g. 90d, 12w, 6m; at least a day, at most
 * 100 years.  Returns 1 and sets *span, or 0. */
int cmd_prune_duration(const char *s, apr_interval_time_t *span);

#endif /* CLI_H */
