/*
 * export_re.c - PCRE patterns that match a request exactly when a rule
 * answers it, for the rules a plain path key cannot answer in nginx and
 * HAProxy maps (both match with PCRE): host rules, query rules (their
 * parameters in any order, ignored parameters left out, %XX spellings
 * accepted), qsnone rules, prefix rules (the rest captured) and rules
 * that leave their own target alone.
 *
 * The string matched is ARGS " " SCHEME "://" HOST PATH (see export.h).
 * Bytes are written as \xHH unless they are letters or digits, so a
 * pattern needs no quoting rules of the configuration it goes into
 * beyond its own quotes, and never holds a space.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_strings.h"

#include "cli_util.h"
#include "export.h"

/* The end of the query part: what may follow a parameter there. */
#define PARAM_END "[&\\x20]"

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
}

static void add_byte(ex_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
    if (is_alnum(c))
        ex_addc(b, (char)c);
    else
        ex_add(b, esc, sizeof(esc));
}

void ex_re_literal(ex_buf *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        add_byte(b, (unsigned char)s[i]);
}

/* A hex digit of a %XX escape as a request may spell it: either case. */
static void add_hex_digit(ex_buf *b, int v)
{
    char c = cli_hex_digits[v];
    if (v < 10)
        ex_addc(b, c);
    else
        ex_addf(b, "[%c%c]", c + 32, c);
}

static void add_escaped(ex_buf *b, unsigned char c)
{
    ex_addc(b, '%');
    add_hex_digit(b, c >> 4);
    add_hex_digit(b, c & 15);
}

/* add_param_byte() flags. */
#define PB_NAME      0x01u  /* in a parameter's name: a raw '=' ends it */
#define PB_ALNUM_RAW 0x02u  /* letters and digits raw only */

/* One decoded byte of a query parameter as a request may spell it: raw
 * or %XX.  A raw '&' or space cannot be inside a parameter, nor a raw
 * '=' inside a name; a raw '%' stands for itself only where no two hex
 * digits follow (the engine decodes those).  Ignored names take letters
 * and digits raw only (PB_ALNUM_RAW): no client escapes them, and the
 * names recur in every pattern. */
static void add_param_byte(ex_buf *b, unsigned char c, unsigned flags)
{
    if (is_alnum(c) && (flags & PB_ALNUM_RAW)) {
        ex_addc(b, (char)c);
        return;
    }
    if (c == '&' || c == ' ' || (c == '=' && (flags & PB_NAME))) {
        add_escaped(b, c);
        return;
    }
    if (c == '%') {
        ex_adds(b, "(?:%25|%(?![0-9A-Fa-f]{2}))");
        return;
    }
    ex_adds(b, "(?:");
    add_byte(b, c);
    ex_addc(b, '|');
    add_escaped(b, c);
    ex_addc(b, ')');
}

/* ---- ignored parameters ---------------------------------------------- */

static void add_names(ex_buf *b, const char *const *names, int prefixes)
{
    int k, first = 1;
    for (k = 0; names[k]; k++) {
        size_t n = strlen(names[k]), i;
        int is_prefix = n > 0 && names[k][n - 1] == '*';
        if (is_prefix != prefixes)
            continue;
        ex_adds(b, first ? "" : "|");
        first = 0;
        for (i = 0; i < n - (is_prefix ? 1 : 0); i++)
            add_param_byte(b, (unsigned char)names[k][i],
                           PB_NAME | PB_ALNUM_RAW);
    }
}

static int has_names(const char *const *names, int prefixes)
{
    int k;
    for (k = 0; names[k]; k++) {
        size_t n = strlen(names[k]);
        if ((n > 0 && names[k][n - 1] == '*') == prefixes)
            return 1;
    }
    return 0;
}

const char *ex_ignored_param(ex_ctx *x, const char *end)
{
    ex_buf b;
    int exact = has_names(x->ignore, 0), prefix = has_names(x->ignore, 1);
    if (!exact && !prefix)
        return NULL;
    ex_buf_init(&b, x->p);
    ex_adds(&b, "(?:");
    if (exact) {
        ex_adds(&b, "(?:");
        add_names(&b, x->ignore, 0);
        ex_adds(&b, ")");
    }
    if (prefix) {
        ex_adds(&b, exact ? "|(?:" : "(?:");
        add_names(&b, x->ignore, 1);
        ex_adds(&b, ")[^&=\\x20]*");
    }
    ex_addf(&b, ")(?:=[^&\\x20]*)?(?=%s)", end);
    return ex_text(&b);
}

/* ---- the query part -------------------------------------------------- */

/* A query with exactly n parameters that are neither empty nor ignored,
 * then the space that ends it.  Parameters are forced to end at '&' or
 * the space, so the pattern never backtracks into one. */
static void add_param_count(ex_ctx *x, ex_buf *b, int n)
{
    const char *ign = ex_ignored_param(x, PARAM_END);
    if (!ign) {
        ex_addf(b, "&*(?:[^&\\x20]+(?:&+|(?=\\x20))){%d}\\x20", n);
        return;
    }
    ex_addf(b, "&*(?:%s(?:&+|(?=\\x20)))*", ign);
    if (n > 0)
        ex_addf(b, "(?:(?!%s)[^&\\x20]+(?:&+|(?=\\x20))"
                "(?:%s(?:&+|(?=\\x20)))*){%d}", ign, ign, n);
    ex_adds(b, "\\x20");
}

/* The parameters of a query rule, decoded, non-empty, in order. */
static apr_array_header_t *rule_params(apr_pool_t *p, const char *q)
{
    apr_array_header_t *ps = apr_array_make(p, 8, sizeof(const char *));
    char *copy = apr_pstrdup(p, q), *last, *w;
    for (w = apr_strtok(copy, "&", &last); w;
         w = apr_strtok(NULL, "&", &last)) {
        char *d = apr_palloc(p, strlen(w) + 1);
        d[ex_decode(w, strlen(w), d)] = '\0';
        APR_ARRAY_PUSH(ps, const char *) = d;
    }
    return ps;
}

/* Each parameter present as a whole parameter (lookaheads), then the
 * count: n distinct parameters all present among n counted ones are
 * exactly the rule's, in any order. */
static void add_query(ex_ctx *x, ex_buf *b, const ex_rule *r)
{
    apr_array_header_t *ps = rule_params(x->p, r->info.query);
    int k;
    for (k = 0; k < ps->nelts; k++) {
        const char *param = APR_ARRAY_IDX(ps, k, const char *);
        size_t i, n = strlen(param);
        /* parameters compare whole and decoded: a raw '=' is a byte */
        ex_adds(b, "(?=(?:[^\\x20]*&)?");
        for (i = 0; i < n; i++)
            add_param_byte(b, (unsigned char)param[i], 0);
        ex_adds(b, "(?=" PARAM_END "))");
    }
    add_param_count(x, b, ps->nelts);
}

const char *ex_pattern_unsupported(ex_ctx *x, const ex_rule *r)
{
    apr_pool_t *p;
    apr_array_header_t *ps;
    const char *why = NULL;
    int i, j;
    if (r->info.kind != RR_KIND_QUERY)
        return NULL;
    apr_pool_create(&p, x->p);
    ps = rule_params(p, r->info.query);
    for (i = 0; i < ps->nelts && !why; i++) {
        for (j = i + 1; j < ps->nelts && !why; j++) {
            if (!strcmp(APR_ARRAY_IDX(ps, i, const char *),
                        APR_ARRAY_IDX(ps, j, const char *)))
                why = "its query repeats a parameter, and a pattern cannot "
                      "count repeats in any order";
        }
    }
    apr_pool_destroy(p);
    return why;
}

/* ---- the whole pattern ----------------------------------------------- */

static void add_host(ex_buf *b, const ex_rule *r)
{
    const char *h = r->info.host;
    if (r->info.scheme)
        ex_re_literal(b, r->info.scheme, strlen(r->info.scheme));
    else
        ex_adds(b, "[a-z]+");
    ex_adds(b, "://");
    if (!h)
        ex_adds(b, "[^/]*");
    else if (h[0] == '*') {
        /* every name below the suffix, not the suffix itself */
        ex_adds(b, "[^/]+");
        ex_re_literal(b, h + 1, strlen(h + 1));
    }
    else
        ex_re_literal(b, h, strlen(h));
}

/* An exact rule leaves a request spelled as its target alone: the
 * whole path, and the whole query if the target has one.  So do the
 * nocase twins it blocks (see ex_plan()). */
static void add_self_exact(ex_buf *b, const ex_rule *r)
{
    ex_adds(b, "(?!");
    if (r->self_query)
        ex_re_literal(b, r->self_query, strlen(r->self_query));
    else
        ex_adds(b, "[^\\x20]*");
    ex_adds(b, "\\x20[a-z]+://[^/]*");
    ex_re_literal(b, r->self_path, r->self_len);
    ex_adds(b, "$)");
}

static void add_path(ex_ctx *x, ex_buf *b, const ex_rule *r)
{
    int nocase = (r->info.flags & RR_FLAG_NOCASE) && r->klen > 0;
    if (r->self && r->info.kind == RR_KIND_PREFIX) {
        /* below the prefix, a path spelled as the target's base is left
         * to shorter prefixes */
        ex_adds(b, "(?!");
        ex_re_literal(b, r->self_path, r->self_len);
        ex_adds(b, ")");
    }
    ex_adds(b, nocase ? "(?i:" : "");
    ex_re_literal(b, r->info.source, r->klen);
    ex_adds(b, nocase ? ")" : "");
    if (r->info.kind == RR_KIND_PREFIX)
        ex_adds(b, r->klen ? "(?<r307_r>/(?<r307_s>.*))?$"
                           : "(?<r307_r>/(?<r307_s>.*))$");
    else
        ex_adds(b, x->a->opt.trailing_strict ? "$" : "/*$");
}

const char *ex_pattern(ex_ctx *x, const ex_rule *r)
{
    ex_buf b;
    int k;
    ex_buf_init(&b, x->p);
    ex_adds(&b, "(?s)^");
    if (r->self && r->info.kind == RR_KIND_EXACT)
        add_self_exact(&b, r);
    for (k = 0; r->blockers && k < r->blockers->nelts; k++)
        add_self_exact(&b, APR_ARRAY_IDX(r->blockers, k, const ex_rule *));
    if (r->info.kind == RR_KIND_QUERY)
        add_query(x, &b, r);
    else if (r->info.flags & RR_FLAG_QSNONE)
        add_param_count(x, &b, 0);
    else
        ex_adds(&b, "[^\\x20]*\\x20");
    add_host(&b, r);
    add_path(x, &b, r);
    return ex_text(&b);
}
