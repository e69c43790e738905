/*
 * cmd_export.c - `redirect307 export`: loads rules files as `check` does,
 * describes each rule as httpd answers it (its status, its target after
 * chain collapsing, what follows the target of the request's query, a
 * canonicalising rule's own spelling) and hands the rules to the writer
 * of the format asked for (export_nginx.c, export_haproxy.c,
 * export_csv.c).  A rule a format cannot express is reported as
 * "FILE:LINE: not exported: why" and makes the exit status 1.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

#include "cli.h"
#include "cli_util.h"
#include "export.h"

/* Every duplicate and unmatchable rule must be seen to be left out, so
 * the loader keeps (many) more diagnostics than httpd logs... */
#define EXPORT_MAX_ERRORS 1000000

/* ...and shows as many as httpd logs (rr_diag's default caps). */
#define SHOWN_ERRORS 20
#define SHOWN_WARNINGS (50 * SHOWN_ERRORS)

static const struct {
    const char *name;           /* as given to --to */
    int (*write)(ex_ctx *x);
    int map_out;                /* writes maps: needs --map-out */
} formats[] = {
    { "nginx", export_nginx, 1 },
    { "haproxy", export_haproxy, 1 },
    { "csv", export_csv, 0 },
    { NULL, NULL, 0 }
};

static int find_format(const char *name)
{
    int k;
    for (k = 0; formats[k].name; k++) {
        if (!strcmp(formats[k].name, name))
            return k;
    }
    return -1;
}

int cmd_export_has_format(const char *name)
{
    return find_format(name) >= 0;
}

int cmd_export_needs_map_out(const char *name)
{
    int k = find_format(name);
    return k >= 0 && formats[k].map_out;
}

/* ---- messages -------------------------------------------------------- */

void ex_skip(ex_ctx *x, const ex_rule *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: not exported: ", r->origin);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    x->not_exported++;
}

void ex_note(const ex_rule *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: note: ", r->origin);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- loading, as rules_load() does, with '-' for stdin --------------- */

/* The rules on stdin as one table named "-"; NULL if they cannot be read
 * (*unreadable set) or do not parse. */
static rr_table *load_stdin(apr_pool_t *p, const rr_options *opt,
                            rr_diag *d, int *unreadable)
{
    rr_builder *b;
    cli_text t;
    /* as rules_load() reads it: raw, so the engine judges every line */
    if (!cli_read_text(p, "-", RR_MAX_LINE, CLI_TEXT_RAW, &t)) {
        *unreadable = 1;
        return NULL;
    }
    b = rr_builder_create(p, opt);
    rr_builder_add_buffer(b, "-", t.buf, t.len, d);
    return rr_builder_freeze(b, p, d);
}

/* An unreadable file is an error naming the file without a line. */
static int has_unreadable(const rr_diag *d)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (e->kind == RR_DIAG_ERROR && e->nplaces > 0
            && e->places[0].file && e->places[0].line == 0)
            return 1;
    }
    return 0;
}

/* Prints the diagnostics as `check` does, warnings first, up to httpd's
 * caps. */
static void print_diag(const rr_diag *d)
{
    static const char *const label[2] = { "warning", "error" };
    const int cap[2] = { SHOWN_WARNINGS, SHOWN_ERRORS };
    int shown[2] = { 0, 0 }, hidden = 0, errors, k;
    for (errors = 0; errors < 2; errors++) {
        for (k = 0; k < d->entries->nelts; k++) {
            const rr_diag_entry *e = rr_diag_get(d, k);
            if (rr_diag_is_error(e->kind) != errors)
                continue;
            if (shown[errors]++ < cap[errors])
                fprintf(stderr, "%s: %s\n", label[errors], e->message);
            else
                hidden++;
        }
    }
    if (hidden)
        cli_say("%d more %s not shown", hidden,
                cli_plural(hidden, "diagnostic", "diagnostics"));
}

/* Loads a->files into one set with the ignore list `ig` and checks it
 * as httpd does at start-up.  Returns the set, or NULL with *rc the exit
 * status (diagnostics printed). */
static rr_set *load(apr_pool_t *p, const cli_args *a, const rr_ignore *ig,
                    rr_diag *d, int *rc)
{
    rr_set *set = rr_set_create(p, a->files->nelts);
    const apr_array_header_t *hosts = a->hosts->nelts ? a->hosts : NULL;
    int k, ok = 1, unreadable = 0;

    for (k = 0; k < a->files->nelts; k++) {
        const char *file = APR_ARRAY_IDX(a->files, k, const char *);
        rr_table *t = strcmp(file, "-")
                      ? rr_table_load_file(p, file, &a->opt, d)
                      : load_stdin(p, &a->opt, d, &unreadable);
        if (t)
            rr_set_add(set, t);
        else
            ok = 0;
    }
    rr_set_ignore(set, ig);
    ok = ok && rr_set_check(set, hosts, a->chains, d) == APR_SUCCESS;
    print_diag(d);
    if (ok)
        return set;
    if (unreadable || has_unreadable(d)) {
        *rc = EXIT_USAGE;
        return NULL;
    }
    cli_say("not exporting: httpd would refuse these rules");
    *rc = EXIT_FAIL;
    return NULL;
}

/* "FILE:LINE" of the rules diagnostics of `kind` point at first: the
 * later duplicate, the unmatchable query rule. */
static apr_hash_t *places_of(apr_pool_t *p, const rr_diag *d,
                             rr_diag_kind kind)
{
    apr_hash_t *h = apr_hash_make(p);
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (e->kind == kind && e->nplaces > 0 && e->places[0].file)
            apr_hash_set(h, apr_psprintf(p, "%s:%u", e->places[0].file,
                                         e->places[0].line),
                         APR_HASH_KEY_STRING, "");
    }
    return h;
}

/* ---- the ignore list ------------------------------------------------- */

/* The ignore list: --ignore-params, parsed with the options (the
 * built-in list without it). */
static const rr_ignore *ignore_list(apr_pool_t *p, const cli_args *a)
{
    (void)p;
    return a->ignore;
}

/* The names of the list as "NAME" and "NAME*" words, NULL-terminated. */
static const char *const *ignore_names(apr_pool_t *p, const rr_ignore *ig)
{
    apr_array_header_t *names = apr_array_make(p, 32, sizeof(const char *));
    char *text = apr_pstrdup(p, rr_ignore_text(ig, p)), *last, *w;
    for (w = apr_strtok(text, " ", &last); w;
         w = apr_strtok(NULL, " ", &last)) {
        if (strcmp(w, "none"))
            APR_ARRAY_PUSH(names, const char *) = w;
    }
    APR_ARRAY_PUSH(names, const char *) = NULL;
    return (const char *const *)names->elts;
}

/* ---- describing a rule ----------------------------------------------- */

/* Length of a target up to its '?' or '#'. */
static size_t main_length(const char *t)
{
    return strcspn(t, "?#");
}

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* A host a request may name to reach the rule's host group. */
static const char *request_host(ex_ctx *x, const rr_rule_info *in)
{
    if (in->host && in->host[0] == '*')
        return apr_pstrcat(x->p, "x", in->host + 1, NULL);
    return in->host;
}

/* Does the rule leave a request for base[0..n) + 0x7f alone?  No source
 * holds a control byte, so no other rule of its group answers there. */
static int skips_below(ex_ctx *x, const rr_set *set, const rr_table *t,
                       uint32_t idx, const ex_rule *r, const char *base,
                       size_t n)
{
    char *path = apr_palloc(x->p, n + 2);
    rr_match m;
    memcpy(path, base, n);
    path[n] = '\x7f';
    path[n + 1] = '\0';
    return !rr_set_lookup_at(set, r->info.scheme, request_host(x, &r->info),
                             path, n + 1, NULL, &m)
           || m.table != t || rr_match_index(&m) != idx;
}

/* The engine marks a rule whose (written) target is its own source in
 * another spelling (RB_SELF, which rr_rule_info does not carry): a
 * request spelled as the target is left alone.  This redoes its test
 * (rr_target_is_own_source).  In the same spelling the rule would send
 * a request to itself: httpd refuses that exact rule as a loop, but
 * loads a prefix rule whose target is its own prefix spelled the same,
 * so for a prefix rule a lookup below the target tells the two apart. */
static void find_self(ex_ctx *x, const rr_set *set, const rr_table *t,
                      uint32_t idx, ex_rule *r)
{
    const char *tg = r->info.target;
    size_t mainlen, o, n, i;
    char *buf;
    int prefix = r->info.kind == RR_KIND_PREFIX;
    if (!tg || tg[0] != '/' || r->info.kind == RR_KIND_QUERY)
        return;
    mainlen = main_length(tg);
    if (prefix && mainlen > 0 && tg[mainlen - 1] == '*')
        mainlen--;
    buf = apr_palloc(x->p, mainlen + 1);
    n = o = ex_decode(tg, mainlen, buf);
    if (prefix && (o == 0 || buf[o - 1] != '/'))
        return;
    if (prefix)
        n--;
    while (!prefix && !x->a->opt.trailing_strict && n > 1
           && buf[n - 1] == '/')
        n--;
    if (n != r->klen)
        return;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((r->info.flags & RR_FLAG_NOCASE ? fold(c) : c)
            != (unsigned char)r->info.source[i])
            return;
    }
    if (prefix && !skips_below(x, set, t, idx, r, buf, o))
        return;
    r->self = 1;
    r->self_path = buf;
    r->self_len = o;
    mainlen = main_length(tg);
    if (!prefix && tg[mainlen] == '?')
        r->self_query = tg + mainlen + 1;
}

/* The target the rule answers with: under --chains collapse a rule on a
 * chain answers with the chain's end, which only a lookup tells. */
static const char *answered_target(ex_ctx *x, const rr_set *set,
                                   const rr_table *t, uint32_t idx,
                                   ex_rule *r)
{
    const rr_rule_info *in = &r->info;
    const char *path = *in->source ? in->source : "/";
    rr_match m;
    if (x->a->chains != RR_CHAINS_COLLAPSE || !in->target
        || r->star != EX_STAR_NONE)
        return in->target;
    if (!rr_set_lookup_at(set, in->scheme, request_host(x, in), path,
                          strlen(path), in->query, &m)
        || m.table != t || rr_match_index(&m) != idx)
        return in->target;
    /* a collapsed chain answers with a status of its own (SPEC:
     * Collapsed status) */
    r->status = rr_match_status(&m, x->a->default_status);
    return rr_match_location(&m, x->p, path, NULL, NULL);
}

static ex_star star_of(const rr_rule_info *in, const char *t, size_t mainlen)
{
    if (in->kind != RR_KIND_PREFIX || mainlen == 0 || t[mainlen - 1] != '*')
        return EX_STAR_NONE;
    return mainlen >= 2 && t[mainlen - 2] == '/' ? EX_STAR_BARE
                                                 : EX_STAR_SLASH;
}

/* What follows the target of the request's query, as the engine's
 * rr_match_location_parts() decides. */
static void args_of(ex_ctx *x, ex_rule *r)
{
    unsigned f = r->info.flags;
    int own_query = r->query_end > r->main_len;
    if (f & RR_FLAG_QSDROP)
        r->args = EX_ARGS_NONE;
    else if ((f & RR_FLAG_QSAPPEND)
             || (r->info.kind != RR_KIND_QUERY && !own_query))
        r->args = EX_ARGS_CARRY;
    else
        r->args = x->ignore[0] ? EX_ARGS_PASS : EX_ARGS_NONE;
    r->sep = !own_query ? "?" : r->query_end - r->main_len == 1 ? "" : "&";
}

static void describe(ex_ctx *x, const rr_set *set, int k, uint32_t idx,
                     ex_rule *r)
{
    const rr_table *t = rr_set_table(set, k);
    const char *s;
    r->table = k;
    r->klen = strlen(r->info.source);
    for (s = r->info.source; *s; s++)
        r->depth += *s == '/';
    r->status = r->info.status ? r->info.status : x->a->default_status;
    if (r->info.target)
        r->star = star_of(&r->info, r->info.target,
                          main_length(r->info.target));
    r->target = answered_target(x, set, t, idx, r);
    if (r->target != r->info.target)
        r->star = EX_STAR_NONE;     /* a collapsed target is literal */
    find_self(x, set, t, idx, r);
    if (!r->target)
        return;
    r->tlen = strlen(r->target);
    r->main_len = main_length(r->target);
    r->query_end = r->main_len;
    if (r->target[r->main_len] == '?')
        r->query_end += strcspn(r->target + r->main_len, "#");
    r->is_path = r->target[0] == '/';
    args_of(x, r);
}

/* Every live rule of the set, in the order httpd consults them: tables
 * in order, file order within each.  Later duplicates of a source never
 * answer, nor do query rules naming an ignored parameter: both are left
 * out (check warns about them). */
static void collect(ex_ctx *x, const rr_set *set, const rr_diag *d)
{
    apr_hash_t *dups = places_of(x->p, d, RR_DIAG_DUPLICATE);
    apr_hash_t *dead = places_of(x->p, d, RR_DIAG_UNMATCHABLE);
    int k;
    for (k = 0; k < rr_set_table_count(set); k++) {
        const rr_table *t = rr_set_table(set, k);
        uint32_t idx;
        for (idx = 0; idx < rr_table_records(t); idx++) {
            ex_rule r;
            memset(&r, 0, sizeof(r));
            if (!rr_table_record(t, idx, x->p, &r.info))
                continue;
            r.origin = apr_psprintf(x->p, "%s:%u", r.info.file, r.info.line);
            if (apr_hash_get(dups, r.origin, APR_HASH_KEY_STRING))
                continue;
            if (r.info.pattern) {
                /* each shape would need a regular expression and its own
                 * precedence: not written (yet) */
                ex_skip(x, &r, "pattern rule %s: named segments are not "
                        "exported", r.info.source);
                continue;
            }
            if (apr_hash_get(dead, r.origin, APR_HASH_KEY_STRING)) {
                ex_note(&r, "never answers (it names an ignored "
                        "parameter): left out");
                continue;
            }
            describe(x, set, k, idx, &r);
            APR_ARRAY_PUSH(x->rules, ex_rule) = r;
        }
    }
}

/* ---- the command ----------------------------------------------------- */

int cmd_export(apr_pool_t *p, const cli_args *a)
{
    int f = find_format(a->to), rc = EXIT_OK;
    const rr_ignore *ig = ignore_list(p, a);
    rr_diag *d;
    rr_set *set;
    ex_ctx x;

    if (f < 0 || !ig)
        return EXIT_USAGE;
    d = rr_diag_create(p);
    d->max_errors = EXPORT_MAX_ERRORS;
    if (!(set = load(p, a, ig, d, &rc)))
        return rc;
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.a = a;
    x.ignore = ignore_names(p, ig);
    x.rules = apr_array_make(p, 1024, sizeof(ex_rule));
    collect(&x, set, d);
    if (!formats[f].write(&x))
        return EXIT_USAGE;
    fflush(stdout);
    cli_say("%d %s exported, %d not exported", x.exported,
            cli_plural(x.exported, "rule", "rules"), x.not_exported);
    return x.not_exported ? EXIT_FAIL : EXIT_OK;
}
