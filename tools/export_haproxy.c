/*
 * export_haproxy.c - `export --to haproxy`: the rules as HAProxy map
 * files (--map-out BASE: BASE.regex.map, BASE.exact.map,
 * BASE.exact-nocase.map, BASE.prefix.map, BASE.prefix-nocase.map) and
 * the `http-request` lines of a frontend that answer with them (stdout),
 * so that HAProxy answers as mod_redirect307 does.
 *
 * HAProxy's `path` is the raw path: the lines decode it (url_dec) and
 * merge slashes, as httpd builds r->uri, and look it up in httpd's
 * order: patterns (map_regm: host, query and qsnone rules, first match
 * wins), exact keys (map_str, case-sensitive, then folded), prefixes
 * (map_beg on the path plus a '/', the longest key wins).  Map keys end
 * at a blank, so keys spell '%' and ' ' as %25 and %20, and so do the
 * lines the path they look up.
 *
 * Every value is STATUS|BASE|MODE|TQUERY|FRAGMENT|MAIN|STAR|DEPTH|KEYLEN|
 * REST: BASE 'p' for a path target (the request's scheme, host and port
 * go first) or 'a'; MODE what follows of the request's query (q a b: all
 * of it after '?', '&' or nothing; Q A B: the ignored parameters; n:
 * nothing); MAIN the target up to its query (without a prefix rule's
 * '*'), where the escaped rest goes (STAR 'w' with its '/', 'o' without,
 * '-' none); TQUERY and FRAGMENT the rest of the target; DEPTH the
 * segments of a prefix map key; KEYLEN its length; REST a pattern's
 * captured rest (\1).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apr_strings.h"

#include "cli_util.h"
#include "export.h"

/* The maps, by the suffix of their file names. */
enum { MAP_REGEX, MAP_EXACT, MAP_EXACT_NOCASE, MAP_PREFIX, MAP_PREFIX_NOCASE,
       MAPS };

static const char *const map_suffix[MAPS] = {
    ".regex.map", ".exact.map", ".exact-nocase.map", ".prefix.map",
    ".prefix-nocase.map"
};

static const char *const map_what[MAPS] = {
    "patterns (map_regm), the first match answers: host, query and "
    "qsnone rules",
    "exact rules (map_str), case-sensitive",
    "exact rules (map_str), nocase: keys in lower case",
    "prefix rules (map_beg): the key is the prefix and a '/'",
    "prefix rules (map_beg), nocase: keys in lower case"
};

/* Bytes of the decoded rest that url_enc(query) escapes and
 * rr_escape_path() does not: unescaped again, one regsub each. */
static const char unescape[] = "!$&'()*+,/:;=@[]";

#define DEPTHS (RR_MAX_PREFIX_DEPTH + 1)

typedef struct {
    ex_ctx *x;
    ex_buf map[MAPS];
    int entries[MAPS];
    char depths[DEPTHS];        /* prefix map depths in use */
    int statuses[EX_STATUSES];
    ex_buf lines;
} hap_out;

/* ---- values and keys ------------------------------------------------- */

static char mode_of(const ex_rule *r)
{
    static const char carry[] = "qab", pass[] = "QAB";
    int k = !strcmp(r->sep, "?") ? 0 : !strcmp(r->sep, "&") ? 1 : 2;
    return r->args == EX_ARGS_CARRY ? carry[k]
         : r->args == EX_ARGS_PASS ? pass[k] : 'n';
}

/* The value of a rule (see the top of the file); a 410 has no target
 * but keeps its key length, which picks between the prefix maps. */
static void add_value(ex_buf *b, const ex_rule *r, const char *depth,
                      const char *rest)
{
    const char *t = r->target;
    size_t main_end;
    if (!t) {
        ex_addf(b, "410|-|n||||-|%s|%lu|\n", depth, (unsigned long)r->klen);
        return;
    }
    main_end = r->main_len - (r->star != EX_STAR_NONE ? 1 : 0);
    ex_addf(b, "%d|%c|%c|", r->status, r->is_path ? 'p' : 'a', mode_of(r));
    ex_add(b, t + r->main_len, r->query_end - r->main_len);
    ex_addc(b, '|');
    ex_add(b, t + r->query_end, r->tlen - r->query_end);
    ex_addc(b, '|');
    ex_add(b, t, main_end);
    ex_addf(b, "|%c|%s|%lu|%s\n", r->star == EX_STAR_BARE ? 'o'
            : r->star == EX_STAR_SLASH ? 'w' : '-', depth,
            (unsigned long)r->klen, rest);
}

/* A key as the lines spell the path they look up. */
static void add_key(ex_buf *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == '%')
            ex_adds(b, "%25");
        else if (s[i] == ' ')
            ex_adds(b, "%20");
        else
            ex_addc(b, s[i]);
    }
}

/* ---- which map ------------------------------------------------------- */

static int in_regex(const ex_rule *r)
{
    return !r->dropped && (r->info.host || r->info.kind == RR_KIND_QUERY
                           || (r->info.kind == RR_KIND_EXACT
                               && r->regex_only));
}

static void add_regex_entries(hap_out *o)
{
    apr_array_header_t *list = ex_ordered(o->x, in_regex);
    int k;
    for (k = 0; k < list->nelts; k++) {
        const ex_rule *r = APR_ARRAY_IDX(list, k, const ex_rule *);
        ex_buf *b = &o->map[MAP_REGEX];
        ex_addf(b, "# %s\n%s ", r->origin, ex_pattern(o->x, r));
        add_value(b, r, "-", r->info.kind == RR_KIND_PREFIX ? "\\1" : "");
        o->entries[MAP_REGEX]++;
        o->statuses[ex_status_slot(r->status)] = 1;
        o->x->exported++;
    }
}

/* A hostless exact or prefix rule as a key. */
static void add_key_entry(hap_out *o, const ex_rule *r)
{
    int nocase = (r->info.flags & RR_FLAG_NOCASE) != 0;
    int prefix = r->info.kind == RR_KIND_PREFIX;
    int m = prefix ? (nocase ? MAP_PREFIX_NOCASE : MAP_PREFIX)
                   : (nocase ? MAP_EXACT_NOCASE : MAP_EXACT);
    ex_buf *b = &o->map[m];
    ex_addf(b, "# %s\n", r->origin);
    add_key(b, r->info.source, r->klen);
    if (prefix) {
        ex_addc(b, '/');
        o->depths[r->depth] = 1;
    }
    ex_addc(b, ' ');
    add_value(b, r, prefix ? apr_psprintf(o->x->p, "%u", r->depth) : "-", "");
    o->entries[m]++;
    o->statuses[ex_status_slot(r->status)] = 1;
    o->x->exported++;
}

/* A map_beg hit cannot fall back to a shorter prefix, as httpd does
 * past a qsnone rule when the request has parameters and past a rule
 * whose target is its own path in another spelling. */
static void add_key_entries(hap_out *o)
{
    int k;
    for (k = 0; k < o->x->rules->nelts; k++) {
        ex_rule *r = &APR_ARRAY_IDX(o->x->rules, k, ex_rule);
        if (r->dropped || r->info.host || in_regex(r))
            continue;
        if (r->info.kind == RR_KIND_PREFIX
            && (r->self || (r->info.flags & RR_FLAG_QSNONE))) {
            ex_skip(o->x, r, "a %s prefix rule must give way to shorter "
                    "prefixes, which a map_beg lookup cannot",
                    r->self ? "self-canonicalising" : "qsnone");
            r->dropped = 1;
            continue;
        }
        add_key_entry(o, r);
    }
}

/* ---- the frontend lines ---------------------------------------------- */

static void line(hap_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void line(hap_out *o, const char *fmt, ...)
{
    va_list ap;
    const char *s;
    va_start(ap, fmt);
    s = apr_pvsprintf(o->x->p, fmt, ap);
    va_end(ap);
    ex_adds(&o->lines, "http-request ");
    ex_adds(&o->lines, s);
    ex_addc(&o->lines, '\n');
}

#define UNLESS_FOUND "unless { var(txn.r307_v) -m found }"

static const char *map_path(hap_out *o, int m)
{
    return apr_pstrcat(o->x->p, o->x->a->map_out, map_suffix[m], NULL);
}

/* The request as the maps spell it: query, decoded path, host. */
static void lines_request(hap_out *o)
{
    line(o, "set-var(txn.r307_q) str()");
    line(o, "set-var(txn.r307_q) query");
    line(o, "set-var(txn.r307_p) 'path,url_dec,regsub(\"//+\",\"/\",g)'");
    line(o, "set-var(txn.r307_hh) str()");
    line(o, "set-var(txn.r307_hh) req.hdr(host),lower");
    line(o, "set-var(txn.r307_h) 'var(txn.r307_hh),regsub(\":[0-9]*$\",\"\"),"
         "regsub(\"[.]+$\",\"\")'");
    line(o, "set-var(txn.r307_s) ssl_fc,iif(https,http)");
}

static void lines_lookup(hap_out *o)
{
    if (o->entries[MAP_REGEX]) {
        line(o, "set-var(txn.r307_k) 'var(txn.r307_q),concat(\" \","
             "txn.r307_s,),concat(\"://\",txn.r307_h,),concat(,txn.r307_p,)'");
        line(o, "set-var(txn.r307_v) var(txn.r307_k),map_regm(%s)",
             map_path(o, MAP_REGEX));
    }
    if (o->entries[MAP_EXACT] || o->entries[MAP_EXACT_NOCASE])
        line(o, "set-var(txn.r307_e) 'var(txn.r307_p),%sregsub(\"%%\","
             "\"%%25\",g),regsub(\" \",\"%%20\",g)' " UNLESS_FOUND,
             o->x->a->opt.trailing_strict
             ? "" : "regsub(\"^(/.*?)/+$\",\"\\1\"),");
    if (o->entries[MAP_EXACT])
        line(o, "set-var(txn.r307_v) var(txn.r307_e),map_str(%s) "
             UNLESS_FOUND, map_path(o, MAP_EXACT));
    if (o->entries[MAP_EXACT_NOCASE])
        line(o, "set-var(txn.r307_v) var(txn.r307_e),lower,map_str(%s) "
             UNLESS_FOUND, map_path(o, MAP_EXACT_NOCASE));
}

/* Both prefix maps may match: the longer key wins, case-sensitive on a
 * tie, as httpd probes the deepest boundary first. */
static void lines_prefix(hap_out *o)
{
    int cs = o->entries[MAP_PREFIX] > 0;
    int nc = o->entries[MAP_PREFIX_NOCASE] > 0;
    if (!cs && !nc)
        return;
    line(o, "set-var(txn.r307_b) 'var(txn.r307_p),regsub(\"$\",\"/\"),"
         "regsub(\"%%\",\"%%25\",g),regsub(\" \",\"%%20\",g)' " UNLESS_FOUND);
    if (cs)
        line(o, "set-var(txn.r307_bc) var(txn.r307_b),map_beg(%s) "
             UNLESS_FOUND, map_path(o, MAP_PREFIX));
    if (nc)
        line(o, "set-var(txn.r307_bn) var(txn.r307_b),lower,map_beg(%s) "
             UNLESS_FOUND, map_path(o, MAP_PREFIX_NOCASE));
    if (cs && nc) {
        line(o, "set-var(txn.r307_lc) var(txn.r307_bc),field(9,|)");
        line(o, "set-var(txn.r307_ln) var(txn.r307_bn),field(9,|)");
        line(o, "set-var(txn.r307_bc) var(txn.r307_bn) if "
             "{ var(txn.r307_bn) -m found } !{ var(txn.r307_bc) -m found }");
        line(o, "set-var(txn.r307_bc) var(txn.r307_bn) if "
             "{ var(txn.r307_ln),sub(txn.r307_lc) -m int gt 0 }");
    }
    line(o, "set-var(txn.r307_v) var(txn.r307_%s) " UNLESS_FOUND,
         cs ? "bc" : "bn");
}

/* The rest below a prefix, escaped as rr_escape_path() escapes it. */
static void lines_rest(hap_out *o)
{
    ex_buf chain;
    const char *c;
    unsigned d;
    ex_buf_init(&chain, o->x->p);
    line(o, "set-var(txn.r307_rw) var(txn.r307_v),field(10,|,0) "
         "if { var(txn.r307_v) -m found }");
    for (d = 0; d < DEPTHS; d++) {
        if (o->depths[d])
            line(o, "set-var(txn.r307_rw) 'var(txn.r307_p),regsub("
                 "\"^(?:/[^/]*){%u}\",\"\")' if { var(txn.r307_v),field(8,|) "
                 "-m str %u }", d, d);
    }
    line(o, "set-var(txn.r307_rw) 'var(txn.r307_rw),regsub(\"^/\",\"\")' "
         "if { var(txn.r307_v),field(7,|) -m str o }");
    for (c = unescape; *c; c++)
        ex_addf(&chain, ",regsub(\"%%%02X\",\"%s\",g)", (unsigned char)*c,
                /* a quote inside the single-quoted word: close it, quote
                 * the quote with double quotes, reopen */
                *c == '\'' ? "'\"'\"'" : apr_pstrmemdup(o->x->p, c, 1));
    line(o, "set-var(txn.r307_r) 'var(txn.r307_rw),url_enc(query)%s' "
         "if { var(txn.r307_v),field(7,|) -m str w o }", ex_text(&chain));
}

/* What follows the target of the request's query.  The ignored
 * parameters are what is left once every other non-empty one is cut
 * with the '&' before it, and runs of '&' are closed up: a pattern that
 * may match empty would skip a parameter after an empty match. */
static void lines_args(hap_out *o)
{
    const char *ign = ex_ignored_param(o->x, "&|$");
    line(o, "set-var(txn.r307_a) var(txn.r307_q) if "
         "{ var(txn.r307_v),field(3,|) -m str q a b }");
    if (ign)
        line(o, "set-var(txn.r307_a) 'var(txn.r307_q),regsub(\"(?:^|&)"
             "(?!%s)[^&]+\",\"\",g),regsub(\"&&+\",\"&\",g),"
             "regsub(\"^&|&$\",\"\",g)' if "
             "{ var(txn.r307_v),field(3,|) -m str Q A B }", ign);
    line(o, "set-var(txn.r307_sep) str(?) if { var(txn.r307_v),field(3,|) "
         "-m str q Q } { var(txn.r307_a) -m len gt 0 }");
    line(o, "set-var(txn.r307_sep) str(&) if { var(txn.r307_v),field(3,|) "
         "-m str a A } { var(txn.r307_a) -m len gt 0 }");
}

/* The request's scheme, host and port before a path target: the port
 * unless it is the scheme's default, as httpd writes it. */
static void lines_base(hap_out *o)
{
    line(o, "set-var(txn.r307_port) 'var(txn.r307_hh),regsub("
         "\"^(?:\\x5b[^\\x5d]*\\x5d|[^:]*)\",\"\")'");
    line(o, "set-var(txn.r307_port) str() if { var(txn.r307_s) -m str http }"
         " { var(txn.r307_port) -m reg ^:0*80$ }");
    line(o, "set-var(txn.r307_port) str() if { var(txn.r307_s) -m str https "
         "} { var(txn.r307_port) -m reg ^:0*443$ }");
    line(o, "set-var(txn.r307_base) 'var(txn.r307_s),concat(\"://\","
         "txn.r307_h,),concat(,txn.r307_port,)' if { var(txn.r307_v),"
         "field(2,|) -m str p }");
}

static void lines_answer(hap_out *o)
{
    int k;
    for (k = 0; k < EX_STATUSES; k++) {
        int st = ex_statuses[k];
        if (!o->statuses[k])
            continue;
        if (st == 410)
            line(o, "return status 410 if { var(txn.r307_v),field(1,|) "
                 "-m str 410 }");
        else
            line(o, "redirect code %d location %%[var(txn.r307_base)]"
                 "%%[var(txn.r307_v),field(6,|)]%%[var(txn.r307_r)]"
                 "%%[var(txn.r307_v),field(4,|)]%%[var(txn.r307_sep)]"
                 "%%[var(txn.r307_a)]%%[var(txn.r307_v),field(5,|)] "
                 "if { var(txn.r307_v),field(1,|) -m str %d }", st, st);
    }
}

/* ---- the files ------------------------------------------------------- */

static int write_maps(hap_out *o)
{
    int m;
    for (m = 0; m < MAPS; m++) {
        ex_buf all;
        ex_buf_init(&all, o->x->p);
        ex_addf(&all, "# HAProxy map from mod_redirect307 rules (%s), "
                "written by redirect307 export --to haproxy:\n# %s.\n",
                ex_inputs(o->x), map_what[m]);
        ex_add(&all, o->map[m].s, o->map[m].len);
        if (!ex_write_file(o->x->p, map_path(o, m), all.s, all.len))
            return 0;
    }
    return 1;
}

int export_haproxy(ex_ctx *x)
{
    hap_out o;
    int m;
    memset(&o, 0, sizeof(o));
    o.x = x;
    for (m = 0; m < MAPS; m++)
        ex_buf_init(&o.map[m], x->p);
    ex_buf_init(&o.lines, x->p);
    ex_drop_unsupported(x);
    ex_plan(x, 1);
    add_regex_entries(&o);
    add_key_entries(&o);
    ex_addf(&o.lines, "# mod_redirect307 rules (%s) for HAProxy, written by "
            "redirect307 export --to haproxy.\n# For a frontend in mode http,"
            " before its use_backend lines; the maps are %s.*.map.\n",
            ex_inputs(x), x->a->map_out);
    lines_request(&o);
    lines_lookup(&o);
    lines_prefix(&o);
    lines_rest(&o);
    lines_args(&o);
    lines_base(&o);
    lines_answer(&o);
    if (!write_maps(&o))
        return 0;
    return ex_write_file(x->p, "-", ex_text(&o.lines), o.lines.len);
}
