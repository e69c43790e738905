/*
 * cmd_test.c - `redirect307 test`: loads rules as `check` does, then
 * answers URLs (arguments or stdin) with the status and Location httpd
 * would send, and checks --expect files of wanted answers.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include "apr_strings.h"

#include "cli.h"
#include "cli_util.h"
#include "request_url.h"
#include "rules_load.h"

/* ---- answering one URL ---------------------------------------------- */

typedef enum { ANS_MATCH, ANS_MISS, ANS_REJECTED, ANS_BAD_URL } ans_kind;

typedef struct {
    ans_kind kind;
    int status;
    const char *location;       /* NULL for 410 */
    const char *origin;         /* FILE:LINE of the rule */
    const char *pattern;        /* a pattern rule's source, or NULL */
    const char *why;            /* ANS_REJECTED, ANS_BAD_URL */
} answer;

static void answer_url(apr_pool_t *p, const cli_args *a, const rr_set *set,
                       const char *url, answer *ans)
{
    request r;
    rr_match m;
    rr_rule_info info;
    memset(ans, 0, sizeof(*ans));
    request_parse(p, url, a->encoded_slashes, &r);
    if (r.state == REQ_BAD_URL) {
        ans->kind = ANS_BAD_URL;
        ans->why = r.why;
        return;
    }
    if (r.state == REQ_REJECTED) {
        ans->kind = ANS_REJECTED;
        ans->status = r.status;
        ans->why = r.why;
        return;
    }
    if (!rr_set_lookup_at(set, r.scheme, r.host, r.path, strlen(r.path),
                          r.args, &m)) {
        ans->kind = ANS_MISS;
        return;
    }
    ans->kind = ANS_MATCH;
    ans->status = rr_match_status(&m, a->default_status);
    ans->location = ans->status == 410 ? NULL
                  : rr_match_location(&m, p, r.path, r.args, r.base);
    ans->origin = rr_match_origin(&m, p);
    rr_match_rule(&m, p, &info);
    ans->pattern = info.pattern ? info.source : NULL;
}

/* The tab-separated result line of a URL.  Fields that echo input (the
 * URL, a file name) are shown as cli_visible() does: a tab or line end
 * in them cannot split the line, an escape sequence cannot reach the
 * terminal. */
static void print_answer(apr_pool_t *p, const char *url, const answer *ans)
{
    const char *shown = cli_visible(p, url);
    switch (ans->kind) {
    case ANS_MATCH:
        printf("%s\t%d\t%s\t%s%s%s\n", shown, ans->status,
               ans->location ? cli_visible(p, ans->location) : "-",
               cli_visible(p, ans->origin),
               ans->pattern ? "\tpattern " : "",
               ans->pattern ? cli_visible(p, ans->pattern) : "");
        break;
    case ANS_MISS:
        printf("%s\tno match\n", shown);
        break;
    case ANS_REJECTED:
        printf("%s\trejected by httpd (%d): %s\n", shown, ans->status,
               ans->why);
        break;
    case ANS_BAD_URL:
        break;
    }
}

/* ---- URLs from arguments and stdin ---------------------------------- */

/* Answers one URL; `where` ("FILE:LINE" or NULL) names its input line.
 * Returns 0 for a URL that is none. */
static int test_one(apr_pool_t *p, const cli_args *a, const rr_set *set,
                    const char *url, const char *where)
{
    answer ans;
    answer_url(p, a, set, url, &ans);
    if (ans.kind == ANS_BAD_URL) {
        cli_say("%s%sbad URL '%s': %s", where ? where : "",
                where ? ": " : "", url, ans.why);
        return 0;
    }
    print_answer(p, url, &ans);
    return 1;
}

typedef struct {
    const cli_args *a;
    const rr_set *set;
    int bad;                    /* lines that are no URL */
} url_batch;

static void test_line(void *ctx, apr_pool_t *iter, unsigned n, char *line)
{
    url_batch *ub = ctx;
    ub->bad += !test_one(iter, ub->a, ub->set, line,
                         apr_psprintf(iter, "-:%u", n));
}

/* Reads a list of URLs or expectations, one a line, saying which lines
 * it refused; returns the count of those, or -1 if `path` cannot be
 * read. */
static int read_list(apr_pool_t *p, const char *path, cli_text *t)
{
    int k;
    if (!cli_read_text(p, path, CLI_MAX_LINE, 0, t))
        return -1;
    for (k = 0; k < t->refused->nelts; k++) {
        const cli_refused *r = &APR_ARRAY_IDX(t->refused, k, cli_refused);
        cli_say("%s:%u: %s: line ignored", path, r->line, r->why);
    }
    return t->refused->nelts;
}

/* URLs from stdin, one a line; returns the count of bad lines, or -1 if
 * stdin cannot be read. */
static int test_stdin(apr_pool_t *p, const cli_args *a, const rr_set *set)
{
    url_batch ub;
    cli_text t;
    int refused = read_list(p, "-", &t);
    if (refused < 0)
        return -1;
    ub.a = a;
    ub.set = set;
    ub.bad = refused;
    cli_each_line(p, t.buf, t.len, test_line, &ub);
    return ub.bad;
}

/* What answering the URLs found wrong. */
typedef struct {
    int bad_args;               /* URL arguments that are no URL (usage) */
    int bad_lines;              /* lines of stdin that are no URL */
} url_counts;

/* Answers the URLs given, "-" standing for stdin, or stdin alone when
 * there is nothing else to do.  Returns 0 if stdin cannot be read. */
static int test_urls(apr_pool_t *p, const cli_args *a, const rr_set *set,
                     url_counts *c)
{
    int k;
    memset(c, 0, sizeof(*c));
    if (a->urls->nelts == 0 && !a->expect)
        return (c->bad_lines = test_stdin(p, a, set)) >= 0;
    for (k = 0; k < a->urls->nelts; k++) {
        const char *url = APR_ARRAY_IDX(a->urls, k, const char *);
        int b;
        if (strcmp(url, "-")) {
            c->bad_args += !test_one(p, a, set, url, NULL);
            continue;
        }
        if ((b = test_stdin(p, a, set)) < 0)
            return 0;
        c->bad_lines += b;
    }
    return 1;
}

/* ---- expectations: "URL STATUS LOCATION" lines ---------------------- */

/* Fields an expectation has at most; what follows them is ignored. */
#define EXPECT_MAX_FIELDS 3

typedef enum {
    WANT_REDIRECT,              /* URL 301..308 LOCATION */
    WANT_GONE,                  /* URL 410 [-] */
    WANT_MISS,                  /* URL no-match */
    WANT_REJECTED,              /* URL rejected */
    WANT_REJECTED_AS            /* URL 400|404 [-] */
} want_kind;

typedef struct {
    const char *url;
    want_kind kind;
    int status;                 /* WANT_REDIRECT, WANT_GONE,
                                   WANT_REJECTED_AS */
    const char *location;       /* WANT_REDIRECT */
} expectation;

typedef struct {
    const cli_args *a;
    const rr_set *set;
    int total, failed, bad;
} expect_run;

/* Splits `line` into at most EXPECT_MAX_FIELDS blank-separated fields,
 * up to a field starting a '#' comment; returns how many. */
static int split_fields(char *line, char **f)
{
    char *t, *last;
    int n = 0;
    for (t = apr_strtok(line, " \t", &last);
         t && t[0] != '#' && n < EXPECT_MAX_FIELDS;
         t = apr_strtok(NULL, " \t", &last))
        f[n++] = t;
    return n;
}

/* The status field: a rule's status, or 400 or 404 for httpd's own. */
static int want_status(const char *s)
{
    int st = cli_parse_status(s, 1);
    if (st)
        return st;
    return !strcmp(s, "400") ? 400 : !strcmp(s, "404") ? 404 : 0;
}

/* Fills *x from `line`; returns NULL or why the line is malformed. */
static const char *parse_expectation(apr_pool_t *p, char *line,
                                     expectation *x)
{
    char *f[EXPECT_MAX_FIELDS];
    int n = split_fields(line, f);

    memset(x, 0, sizeof(*x));
    if (n < 2)
        return "want URL STATUS LOCATION, URL no-match or URL rejected";
    x->url = f[0];
    if (!strcmp(f[1], "no-match") || !strcmp(f[1], "rejected")) {
        x->kind = f[1][0] == 'n' ? WANT_MISS : WANT_REJECTED;
        return n == 3 ? apr_psprintf(p, "nothing may follow %s", f[1]) : NULL;
    }
    if (!(x->status = want_status(f[1])))
        return apr_psprintf(p, "unknown status '%s'", f[1]);
    x->kind = x->status == 410 ? WANT_GONE
            : x->status >= 400 ? WANT_REJECTED_AS : WANT_REDIRECT;
    if (x->kind == WANT_REDIRECT && n == 2)
        return apr_psprintf(p, "status %d needs a LOCATION", x->status);
    if (x->kind != WANT_REDIRECT && n == 3 && strcmp(f[2], "-"))
        return apr_psprintf(p, "status %d takes '-' as LOCATION", x->status);
    x->location = n == 3 ? f[2] : NULL;
    return NULL;
}

static int expectation_met(const expectation *x, const answer *ans)
{
    switch (x->kind) {
    case WANT_REDIRECT:
        return ans->kind == ANS_MATCH && ans->status == x->status
               && ans->location && !strcmp(ans->location, x->location);
    case WANT_GONE:
        return ans->kind == ANS_MATCH && ans->status == 410;
    case WANT_MISS:
        return ans->kind == ANS_MISS;
    case WANT_REJECTED:
        return ans->kind == ANS_REJECTED;
    case WANT_REJECTED_AS:
        return ans->kind == ANS_REJECTED && ans->status == x->status;
    }
    return 0;
}

static const char *expected_text(apr_pool_t *p, const expectation *x)
{
    switch (x->kind) {
    case WANT_REDIRECT:
        return apr_psprintf(p, "%d %s", x->status, x->location);
    case WANT_GONE:
        return "410 -";
    case WANT_MISS:
        return "no-match";
    case WANT_REJECTED:
        return "rejected by httpd";
    case WANT_REJECTED_AS:
        return apr_psprintf(p, "rejected by httpd (%d)", x->status);
    }
    return "?";
}

static const char *answer_text(apr_pool_t *p, const answer *ans)
{
    switch (ans->kind) {
    case ANS_MATCH:
        return apr_psprintf(p, "%d %s (rule %s)", ans->status,
                            ans->location ? ans->location : "-",
                            ans->origin);
    case ANS_MISS:
        return "no-match";
    case ANS_REJECTED:
        return apr_psprintf(p, "rejected by httpd (%d)", ans->status);
    case ANS_BAD_URL:
        break;
    }
    return "bad URL";
}

/* Checks one expectation line; `where` is "FILE:LINE". */
static void expect_one(apr_pool_t *p, expect_run *run, const char *where,
                       char *line)
{
    expectation x;
    answer ans;
    const char *malformed = parse_expectation(p, line, &x);

    if (malformed) {
        cli_say("%s: bad expectation: %s", where, malformed);
        run->bad++;
        return;
    }
    answer_url(p, run->a, run->set, x.url, &ans);
    if (ans.kind == ANS_BAD_URL) {
        cli_say("%s: bad URL '%s': %s", where, x.url, ans.why);
        run->bad++;
        return;
    }
    run->total++;
    if (run->a->verbose)
        print_answer(p, x.url, &ans);
    if (!expectation_met(&x, &ans)) {
        run->failed++;
        cli_print_visible(stdout, "FAIL %s: %s: expected %s, got %s", where,
                          x.url, expected_text(p, &x),
                          answer_text(p, &ans));
        putchar('\n');
    }
}

static void expect_line(void *ctx, apr_pool_t *iter, unsigned n, char *line)
{
    expect_run *run = ctx;
    expect_one(iter, run, apr_psprintf(iter, "%s:%u", run->a->expect, n),
               line);
}

/* Checks every line of the --expect file; 0 if it cannot be read. */
static int run_expectations(apr_pool_t *p, expect_run *run)
{
    cli_text t;
    int refused = read_list(p, run->a->expect, &t);
    if (refused < 0)
        return 0;
    run->bad += refused;
    cli_each_line(p, t.buf, t.len, expect_line, run);
    return 1;
}

/* ---- the command ---------------------------------------------------- */

/* Exit status: a bad URL argument is bad usage; a bad line in a list
 * read (stdin, --expect) is a problem found, as a failed expectation. */
int cmd_test(apr_pool_t *p, const cli_args *a)
{
    loaded_rules l;
    expect_run run;
    url_counts c;

    rules_load(p, a, &l);
    rules_print_diag(l.diag);
    if (!l.set) {
        cli_say("not testing: %s", l.unreadable ? "a rules file cannot be "
                "read" : "httpd would refuse these rules");
        return rules_exit_status(&l);
    }
    if (!test_urls(p, a, l.set, &c))
        return EXIT_USAGE;
    memset(&run, 0, sizeof(run));
    run.a = a;
    run.set = l.set;
    if (a->expect) {
        if (!run_expectations(p, &run))
            return EXIT_USAGE;
        printf("%d %s: %d passed, %d failed\n", run.total,
               cli_plural(run.total, "expectation", "expectations"),
               run.total - run.failed, run.failed);
    }
    fflush(stdout);
    if (c.bad_args)
        return EXIT_USAGE;
    return run.failed + run.bad + c.bad_lines ? EXIT_FAIL : EXIT_OK;
}
