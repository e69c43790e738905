/*
 * export_plan.c - what every export format shares besides patterns: a
 * growing string, writing an output file, and the plan: which rules a
 * plain path key can answer, and the order in which the others' patterns
 * must be tried so that the first match is the rule httpd would pick.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_file_io.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "export.h"

const int ex_statuses[EX_STATUSES] = { 301, 302, 303, 307, 308, 410 };

int ex_status_slot(int status)
{
    int k;
    for (k = 0; k < EX_STATUSES; k++) {
        if (ex_statuses[k] == status)
            return k;
    }
    return 0;
}

const char *ex_inputs(ex_ctx *x)
{
    const char *s = "";
    int k;
    for (k = 0; k < x->a->files->nelts; k++)
        s = apr_pstrcat(x->p, s, k ? " " : "",
                        APR_ARRAY_IDX(x->a->files, k, const char *), NULL);
    return s;
}

/* ---- a growing string ------------------------------------------------ */

void ex_buf_init(ex_buf *b, apr_pool_t *p)
{
    b->p = p;
    b->cap = 256;
    b->len = 0;
    b->s = apr_palloc(p, b->cap);
}

/* Doubling keeps appending amortised O(1); the old block stays in the
 * pool, which an export's lifetime can afford. */
static void reserve(ex_buf *b, size_t more)
{
    char *ns;
    size_t cap = b->cap;
    if (b->len + more + 1 <= cap)
        return;
    while (b->len + more + 1 > cap)
        cap *= 2;
    ns = apr_palloc(b->p, cap);
    memcpy(ns, b->s, b->len);
    b->s = ns;
    b->cap = cap;
}

void ex_add(ex_buf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
}

void ex_adds(ex_buf *b, const char *s)
{
    ex_add(b, s, strlen(s));
}

void ex_addc(ex_buf *b, char c)
{
    ex_add(b, &c, 1);
}

void ex_addf(ex_buf *b, const char *fmt, ...)
{
    va_list ap;
    const char *s;
    va_start(ap, fmt);
    s = apr_pvsprintf(b->p, fmt, ap);
    va_end(ap);
    ex_adds(b, s);
}

const char *ex_text(ex_buf *b)
{
    reserve(b, 0);
    b->s[b->len] = '\0';
    return b->s;
}

/* ---- output files ---------------------------------------------------- */

int ex_write_file(apr_pool_t *p, const char *path, const char *text,
                  size_t len)
{
    apr_file_t *f;
    apr_status_t rv;
    apr_size_t written;
    char err[256];
    if (!strcmp(path, "-")) {
        if (fwrite(text, 1, len, stdout) == len)
            return 1;
        cli_say("cannot write to stdout");
        return 0;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_TRUNCATE | APR_FOPEN_BUFFERED,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, text, len, &written);
        if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
            rv = APR_EGENERAL;
    }
    if (rv != APR_SUCCESS) {
        cli_say("%s: cannot write: %s", path, apr_strerror(rv, err,
                                                           sizeof(err)));
        return 0;
    }
    return 1;
}

/* ---- bytes --------------------------------------------------------- */

size_t ex_decode(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        int hi = s[i] == '%' && i + 2 < n ? cli_hex_value(s[i + 1]) : -1;
        int lo = hi >= 0 ? cli_hex_value(s[i + 2]) : -1;
        if (lo >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 3;
        }
        else {
            out[o++] = s[i++];
        }
    }
    return o;
}

/* ---- which rules need patterns --------------------------------------- */

static int is_hostless_exact(const ex_rule *r)
{
    return !r->info.host && r->info.kind == RR_KIND_EXACT;
}

/* A key folded as nginx folds map keys: ASCII letters to lower case. */
static const char *folded(apr_pool_t *p, const char *s)
{
    char *f = apr_pstrdup(p, s), *c;
    for (c = f; *c; c++) {
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    }
    return f;
}

/* Exact rules one request may hit in one table and host group: "table
 * scheme host key", the key folded. */
static const char *twin_key(apr_pool_t *p, const ex_rule *r)
{
    return apr_psprintf(p, "%d %s %s %s", r->table,
                        r->info.scheme ? r->info.scheme : "-",
                        r->info.host ? r->info.host : "-",
                        folded(p, r->info.source));
}

/* The engine probes a table's case-sensitive exact rule before its
 * nocase one, and when the case-sensitive hit is a request spelled as
 * its own target (self), it leaves the whole table's exact rules, nocase
 * twin included (a qsnone hit refused goes on to the twin). */
static void find_blockers(ex_ctx *x)
{
    apr_hash_t *cs_selves = apr_hash_make(x->p);
    ex_rule *rules = (ex_rule *)x->rules->elts;
    int k;
    for (k = 0; k < x->rules->nelts; k++) {
        const ex_rule *r = &rules[k];
        apr_array_header_t *list;
        const char *key;
        if (r->info.kind != RR_KIND_EXACT || !r->self
            || (r->info.flags & (RR_FLAG_NOCASE | RR_FLAG_QSNONE)))
            continue;
        key = twin_key(x->p, r);
        list = apr_hash_get(cs_selves, key, APR_HASH_KEY_STRING);
        if (!list) {
            list = apr_array_make(x->p, 1, sizeof(const ex_rule *));
            apr_hash_set(cs_selves, key, APR_HASH_KEY_STRING, list);
        }
        APR_ARRAY_PUSH(list, const ex_rule *) = r;
    }
    for (k = 0; k < x->rules->nelts; k++) {
        ex_rule *r = &rules[k];
        if (r->info.kind == RR_KIND_EXACT
            && (r->info.flags & RR_FLAG_NOCASE))
            r->blockers = apr_hash_get(cs_selves, twin_key(x->p, r),
                                       APR_HASH_KEY_STRING);
    }
}

void ex_drop_unsupported(ex_ctx *x)
{
    int k;
    for (k = 0; k < x->rules->nelts; k++) {
        ex_rule *r = &APR_ARRAY_IDX(x->rules, k, ex_rule);
        const char *why = ex_pattern_unsupported(x, r);
        if (why) {
            ex_skip(x, r, "%s", why);
            r->dropped = 1;
        }
    }
}

void ex_plan(ex_ctx *x, int fragment_ok)
{
    apr_hash_t *seen = apr_hash_make(x->p);
    ex_rule *rules = (ex_rule *)x->rules->elts;
    int k;
    /* how many hostless exact rules share each folded key */
    for (k = 0; k < x->rules->nelts; k++) {
        const char *key;
        intptr_t n;
        if (!is_hostless_exact(&rules[k]))
            continue;
        key = folded(x->p, rules[k].info.source);
        n = (intptr_t)apr_hash_get(seen, key, APR_HASH_KEY_STRING);
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, (void *)(n + 1));
    }
    for (k = 0; k < x->rules->nelts; k++) {
        ex_rule *r = &rules[k];
        if (!is_hostless_exact(r))
            continue;
        r->regex_only = (r->info.flags & RR_FLAG_QSNONE) || r->self
            || (!fragment_ok && r->target && r->query_end < r->tlen)
            || (intptr_t)apr_hash_get(seen, folded(x->p, r->info.source),
                                      APR_HASH_KEY_STRING) > 1;
    }
    find_blockers(x);
}

/* ---- the order of patterns ------------------------------------------- */

typedef struct {
    const ex_rule *r;
    int pos;                    /* in x->rules: the tie-breaker */
} ordered;

/* Host groups in the order rr_set_lookup_at() consults them: the exact
 * host with a scheme, the exact host, wildcards (longest first; with a
 * scheme first), hostless.  Different exact hosts never meet, nor do
 * different wildcards of one length. */
static long host_rank(const ex_rule *r)
{
    const char *h = r->info.host;
    long scheme = r->info.scheme ? 0 : 1;
    if (!h)
        return 1L << 30;
    if (h[0] != '*')
        return scheme;
    return 2 + 2 * (long)(RR_MAX_LINE - strlen(h)) + scheme;
}

/* Within a group: query, then exact, then prefix rules. */
static int kind_rank(const ex_rule *r)
{
    return r->info.kind == RR_KIND_QUERY ? 0
         : r->info.kind == RR_KIND_EXACT ? 1 : 2;
}

#define CMP(a, b) do { if ((a) != (b)) return (a) < (b) ? -1 : 1; } while (0)

/* Within a group: query, exact, prefix rules; prefix rules longest first
 * (over all tables, the earlier table winning a tie); tables in order;
 * within a table case-sensitive rules before nocase ones, as the engine
 * probes them. */
static int compare(const void *va, const void *vb)
{
    const ordered *oa = va, *ob = vb;
    const ex_rule *a = oa->r, *b = ob->r;
    CMP(host_rank(a), host_rank(b));
    CMP(kind_rank(a), kind_rank(b));
    if (a->info.kind == RR_KIND_PREFIX)
        CMP((long)b->klen, (long)a->klen);
    CMP(a->table, b->table);
    CMP(a->info.flags & RR_FLAG_NOCASE, b->info.flags & RR_FLAG_NOCASE);
    CMP(oa->pos, ob->pos);
    return 0;
}

apr_array_header_t *ex_ordered(ex_ctx *x, ex_pick_fn *include)
{
    apr_array_header_t *list = apr_array_make(x->p, 64, sizeof(ordered));
    apr_array_header_t *out;
    int k;
    for (k = 0; k < x->rules->nelts; k++) {
        const ex_rule *r = &APR_ARRAY_IDX(x->rules, k, ex_rule);
        ordered *o;
        if (!include(r))
            continue;
        o = apr_array_push(list);
        o->r = r;
        o->pos = k;
    }
    if (list->nelts > 1)
        qsort(list->elts, (size_t)list->nelts, sizeof(ordered), compare);
    out = apr_array_make(x->p, list->nelts + 1, sizeof(const ex_rule *));
    for (k = 0; k < list->nelts; k++)
        APR_ARRAY_PUSH(out, const ex_rule *) =
            APR_ARRAY_IDX(list, k, ordered).r;
    return out;
}
