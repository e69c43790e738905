/*
 * export_csv.c - `export --to csv`: the rules as a WordPress Redirection
 * CSV export (source,target,regex,code,type,hits,title,status), the
 * layout `import --from csv` reads, so that exporting and importing
 * again answers the same.  A row is an exact URL with a status: prefix
 * rules, host rules and flags that change an answer have no column and
 * are reported as not exported.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_strings.h"

#include "cli_util.h"
#include "export.h"

/* Bytes a source path spells as %XX: those `import --from csv` would
 * read otherwise ('?' a query, '#', '%' an escape, '*' a prefix) and
 * those that may not stand raw in a URL. */
static int must_escape(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("%?#*\"<>\\^`{|}", c) != NULL;
}

/* A CSV field in quotes, quotes doubled. */
static void add_field(ex_buf *b, const char *s, size_t n)
{
    size_t i;
    ex_addc(b, '"');
    for (i = 0; i < n; i++) {
        if (s[i] == '"')
            ex_addc(b, '"');
        ex_addc(b, s[i]);
    }
    ex_addc(b, '"');
}

static int has_lower(const char *s)
{
    for (; *s; s++) {
        if (*s >= 'a' && *s <= 'z')
            return 1;
    }
    return 0;
}

/* The source spelled so that it parses to the same rule: a rule whose
 * target is its own source in another spelling is written in that other
 * spelling (upper case, or with a trailing slash), as rr_table_dump()
 * does, or it would read back as a loop. */
static const char *source_text(ex_ctx *x, const ex_rule *r)
{
    ex_buf b;
    const char *key = r->info.source;
    size_t i;
    int upper = r->self && (r->info.flags & RR_FLAG_NOCASE) && has_lower(key);
    ex_buf_init(&b, x->p);
    for (i = 0; i < r->klen; i++) {
        unsigned char c = (unsigned char)key[i];
        if (must_escape(c))
            ex_addf(&b, "%%%02X", c);
        else
            ex_addc(&b, (char)(upper && c >= 'a' && c <= 'z' ? c - 32 : c));
    }
    if (r->self && !upper && !x->a->opt.trailing_strict)
        ex_addc(&b, '/');
    if (r->info.query) {
        ex_addc(&b, '?');
        ex_adds(&b, r->info.query);
    }
    return ex_text(&b);
}

/* What the rule, read back without flags, would do with the query. */
static ex_args args_without_flags(const ex_ctx *x, const ex_rule *r)
{
    if (r->info.kind != RR_KIND_QUERY && r->query_end == r->main_len)
        return EX_ARGS_CARRY;
    return x->ignore[0] ? EX_ARGS_PASS : EX_ARGS_NONE;
}

/* Why a row cannot hold the rule, or NULL. */
static const char *why_not(ex_ctx *x, const ex_rule *r)
{
    unsigned f = r->info.flags;
    if (r->info.kind == RR_KIND_PREFIX)
        return "a prefix rule: a CSV row is one URL (a regex row would not "
               "read back)";
    if (r->info.host)
        return apr_psprintf(x->p, "it names host %s: a CSV source is a path",
                            r->info.host);
    if ((f & RR_FLAG_NOCASE) && !x->a->opt.case_insensitive)
        return "flag nocase: CSV has no column for it";
    if (f & RR_FLAG_QSNONE)
        return "flag qsnone: CSV has no column for it";
    if (r->target && r->args != args_without_flags(x, r))
        return apr_psprintf(x->p, "flag %s: CSV has no column for it",
                            f & RR_FLAG_QSDROP ? "qsdrop" : "qsappend");
    return NULL;
}

static void add_row(ex_ctx *x, ex_buf *b, const ex_rule *r)
{
    const char *src = source_text(x, r);
    add_field(b, src, strlen(src));
    ex_addc(b, ',');
    add_field(b, r->target ? r->target : "", r->target ? r->tlen : 0);
    ex_addf(b, ",0,%d,\"%s\",0,", r->status, r->target ? "url" : "error");
    add_field(b, r->origin, strlen(r->origin));
    ex_adds(b, ",\"active\"\n");
}

int export_csv(ex_ctx *x)
{
    ex_buf b;
    int k;
    ex_buf_init(&b, x->p);
    ex_adds(&b, "source,target,regex,code,type,hits,title,status\n");
    for (k = 0; k < x->rules->nelts; k++) {
        ex_rule *r = &APR_ARRAY_IDX(x->rules, k, ex_rule);
        const char *why = why_not(x, r);
        if (why) {
            ex_skip(x, r, "%s", why);
            r->dropped = 1;
            continue;
        }
        add_row(x, &b, r);
        x->exported++;
    }
    return ex_write_file(x->p, "-", ex_text(&b), b.len);
}
