/*
 * redirect307 - check rules files and test URLs against them, with the
 * same engine httpd loads, so that a map can be validated in CI before
 * it is deployed.
 *
 *   redirect307 check [--case-insensitive] [--trailing-slash strict] FILE...
 *   redirect307 test  [options] FILE... [--] URL...
 *
 * Exit status: 0 fine, 1 an error in a rules file, 2 bad usage.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_time.h"

#include "redirect_rules.h"

typedef struct {
    rr_options opt;
    int default_status;
    rr_chains_mode chains;
    apr_array_header_t *files;
    apr_array_header_t *urls;
} cli_args;

static int usage(FILE *f)
{
    fprintf(f,
        "usage: redirect307 check [OPTIONS] FILE...\n"
        "       redirect307 test  [OPTIONS] FILE... [--] URL...\n"
        "\n"
        "check  validates rules files as httpd would load them and prints a\n"
        "       summary; exit status 1 if any file has an error.\n"
        "test   prints, for each URL (http://host/path?query, or /path?query\n"
        "       after --), the status and Location httpd would answer and\n"
        "       the FILE:LINE of the rule, or 'no match'.\n"
        "\n"
        "options:\n"
        "  --case-insensitive        as Redirect307MatchCase Off\n"
        "  --trailing-slash strict   as Redirect307TrailingSlash Strict\n"
        "  --default STATUS          as Redirect307Default (307)\n"
        "  --chains warn|collapse|off  as Redirect307Chains (warn)\n");
    return f == stderr ? 2 : 0;
}

static int parse_args(int argc, const char *const *argv, apr_pool_t *p,
                      cli_args *a, int want_urls)
{
    int i, after_dashes = 0;
    memset(a, 0, sizeof(*a));
    a->default_status = 307;
    a->files = apr_array_make(p, 4, sizeof(const char *));
    a->urls = apr_array_make(p, 4, sizeof(const char *));
    for (i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (!after_dashes && !strcmp(s, "--")) {
            after_dashes = 1;
        }
        else if (!after_dashes && !strcmp(s, "--case-insensitive")) {
            a->opt.case_insensitive = 1;
        }
        else if (!after_dashes && !strcmp(s, "--trailing-slash")
                 && i + 1 < argc) {
            a->opt.trailing_strict = !strcasecmp(argv[++i], "strict");
        }
        else if (!after_dashes && !strcmp(s, "--default") && i + 1 < argc) {
            a->default_status = atoi(argv[++i]);
        }
        else if (!after_dashes && !strcmp(s, "--chains") && i + 1 < argc) {
            const char *m = argv[++i];
            a->chains = !strcasecmp(m, "collapse") ? RR_CHAINS_COLLAPSE
                      : !strcasecmp(m, "off") ? RR_CHAINS_OFF
                      : RR_CHAINS_WARN;
        }
        else if (!after_dashes && (!strcmp(s, "-h") || !strcmp(s, "--help"))) {
            return usage(stdout) + 100;
        }
        else if (!after_dashes && s[0] == '-' && s[1]) {
            fprintf(stderr, "redirect307: unknown option %s\n", s);
            return 2;
        }
        else if (want_urls && (after_dashes || strstr(s, "://"))) {
            APR_ARRAY_PUSH(a->urls, const char *) = s;
        }
        else {
            APR_ARRAY_PUSH(a->files, const char *) = s;
        }
    }
    if (a->files->nelts == 0) {
        fprintf(stderr, "redirect307: no rules file given\n");
        return usage(stderr);
    }
    return 0;
}

static void print_diag(const rr_diag *d)
{
    int k;
    for (k = 0; k < d->warnings->nelts; k++)
        fprintf(stderr, "warning: %s\n",
                APR_ARRAY_IDX(d->warnings, k, const char *));
    for (k = 0; k < d->errors->nelts; k++)
        fprintf(stderr, "error: %s\n",
                APR_ARRAY_IDX(d->errors, k, const char *));
}

/* Loads every file as httpd would for one server.  NULL on error. */
static rr_set *load(apr_pool_t *p, const cli_args *a, rr_diag *d,
                    apr_interval_time_t *took)
{
    rr_set *set = rr_set_create(p, a->files->nelts);
    apr_time_t t0 = apr_time_now();
    int k, bad = 0;
    for (k = 0; k < a->files->nelts; k++) {
        rr_table *t = rr_table_load_file(p, APR_ARRAY_IDX(a->files, k,
                                                          const char *),
                                         &a->opt, d);
        if (t)
            rr_set_add(set, t);
        else
            bad = 1;
    }
    if (!bad && rr_set_check(set, NULL, a->chains, d) != APR_SUCCESS)
        bad = 1;
    *took = apr_time_now() - t0;
    return bad ? NULL : set;
}

static int cmd_check(apr_pool_t *p, const cli_args *a)
{
    rr_diag *d = rr_diag_create(p);
    apr_interval_time_t took;
    rr_set *set = load(p, a, d, &took);
    rr_stats sum, st;
    int k, j;

    print_diag(d);
    if (!set)
        return 1;
    memset(&sum, 0, sizeof(sum));
    for (k = 0; k < rr_set_table_count(set); k++) {
        rr_table_stats(rr_set_table(set, k), &st);
        sum.rules += st.rules;
        sum.exact += st.exact;
        sum.prefix += st.prefix;
        sum.query += st.query;
        sum.bytes += st.bytes;
        for (j = 0; j < 7; j++)
            sum.by_status[j] += st.by_status[j];
    }
    printf("ok: %u rules (%u exact, %u prefix, %u query; %u default, "
           "%u 301, %u 302, %u 303, %u 307, %u 308, %u 410), "
           "%d warnings, loaded in %.3f s, %.1f MiB\n",
           sum.rules, sum.exact, sum.prefix, sum.query, sum.by_status[0],
           sum.by_status[1], sum.by_status[2], sum.by_status[3],
           sum.by_status[4], sum.by_status[5], sum.by_status[6],
           d->warnings->nelts, (double)took / APR_USEC_PER_SEC,
           (double)sum.bytes / (1024.0 * 1024.0));
    return 0;
}

/* Splits "scheme://host[:port]/path?query" or "/path?query" into the base
 * httpd would build path targets on, the decoded path and the query. */
static int split_url(apr_pool_t *p, const char *url, const char **base,
                     char **path, const char **args)
{
    const char *s = strstr(url, "://"), *q;
    size_t i, o = 0;
    char *dec;
    *base = NULL;
    if (s) {
        const char *slash = strchr(s + 3, '/');
        *base = apr_pstrmemdup(p, url, slash ? (size_t)(slash - url)
                                             : strlen(url));
        url = slash ? slash : "/";
    }
    if (url[0] != '/')
        return 0;
    q = strchr(url, '?');
    *args = q ? q + 1 : NULL;
    i = q ? (size_t)(q - url) : strlen(url);
    dec = apr_palloc(p, i + 1);
    {
        char *raw = apr_pstrmemdup(p, url, i);
        /* the same decoding httpd applies to r->uri */
        size_t k;
        for (k = 0; k < i; k++) {
            if (raw[k] == '%' && apr_isxdigit(raw[k + 1])
                && apr_isxdigit(raw[k + 2])) {
                char hex[3] = { raw[k + 1], raw[k + 2], 0 };
                dec[o++] = (char)strtol(hex, NULL, 16);
                k += 2;
            }
            else {
                dec[o++] = raw[k];
            }
        }
    }
    dec[o] = '\0';
    *path = dec;
    return 1;
}

static int cmd_test(apr_pool_t *p, const cli_args *a)
{
    rr_diag *d = rr_diag_create(p);
    apr_interval_time_t took;
    rr_set *set = load(p, a, d, &took);
    int k;

    print_diag(d);
    if (!set)
        return 1;
    for (k = 0; k < a->urls->nelts; k++) {
        const char *url = APR_ARRAY_IDX(a->urls, k, const char *);
        const char *base, *args, *loc;
        char *path;
        rr_match m;
        if (!split_url(p, url, &base, &path, &args)) {
            printf("%s\tbad URL\n", url);
            continue;
        }
        if (!rr_set_lookup(set, path, strlen(path), args, &m)) {
            printf("%s\tno match\n", url);
            continue;
        }
        loc = rr_match_location(&m, p, path, args, base);
        printf("%s\t%d\t%s\t%s\n", url, rr_match_status(&m, a->default_status),
               loc ? loc : "-", rr_match_origin(&m, p));
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    cli_args a;
    int rc;

    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return usage(stdout);
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    if (strcmp(argv[1], "check") && strcmp(argv[1], "test")) {
        fprintf(stderr, "redirect307: unknown command '%s'\n", argv[1]);
        rc = usage(stderr);
    }
    else if ((rc = parse_args(argc, argv, p, &a, !strcmp(argv[1], "test")))) {
        rc = rc >= 100 ? 0 : rc;
    }
    else {
        rc = !strcmp(argv[1], "check") ? cmd_check(p, &a) : cmd_test(p, &a);
    }
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
