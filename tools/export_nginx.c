/*
 * export_nginx.c - `export --to nginx`: the rules as nginx maps (for
 * http {}, written to --map-out) and the lines that answer with them (for
 * server {}, on stdout), so that nginx answers as mod_redirect307 does.
 *
 * Three tiers, consulted in httpd's order by the server lines:
 *   A  map "$args $scheme://$host$uri" $r307_a: PCRE patterns, first
 *      match wins (export_re.c): host rules, query rules, and exact rules
 *      a plain key cannot answer (qsnone, self, fragment, case twins);
 *   B  map $uri $r307_e...: plain keys, hashed, one map per status and
 *      query handling (return needs a literal status); nginx map keys
 *      ignore case, so case-sensitive keys are checked by $r307_case_ok;
 *   C  map "$args ..." $r307_c: prefix rules, longest first.
 * A and C values are "STATUS LOCATION"; B values are plain targets, so
 * that `import --from nginx` reads them back.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "export.h"

/* How many ignored parameters $r307_pass carries through: a pattern
 * has a fixed number of groups. */
#define PASS_MAX 8

/* nginx's own defaults for map_hash_bucket_size (a cache line) and
 * map_hash_max_size. */
#define NGX_BUCKET_DEFAULT 64
#define NGX_MAX_SIZE_DEFAULT 2048

/* A decoded rest that needs no escaping: the bytes rr_escape_path()
 * leaves alone, a class in \xHH form. */
#define SAFE_REST \
    "[\\x21\\x24\\x26-\\x3b\\x3d\\x40-\\x5b\\x5d\\x5f\\x61-\\x7a\\x7e]"

/* The string the A and C patterns match (see export.h). */
#define REQUEST_STRING "\"$args $scheme://$host$uri\""

/* Largest depth a prefix rule can have, plus one: flags per depth. */
#define DEPTHS (RR_MAX_PREFIX_DEPTH + 1)

/* A B map: the exact rules of one status, query handling and kind of
 * target. */
typedef struct {
    const char *var;            /* "r307_e301_qa_p" */
    int status;
    const char *args_var;       /* appended after the target, or "" */
    int is_path;
    ex_buf entries;
    int keys;
} b_map;

typedef struct {
    ex_ctx *x;
    const char *map_file;
    ex_buf maps, server;
    apr_hash_t *b_maps;         /* var -> b_map */
    apr_array_header_t *b_order;    /* b_map *, in order of creation */
    ex_buf case_keys;           /* $r307_case entries */
    int case_count;
    size_t longest_key;
    int most_keys;
    int statuses_a[EX_STATUSES], statuses_c[EX_STATUSES];
    int uses_base, uses_qa, uses_aa, uses_pass, uses_dollar;
    char rest_bare[DEPTHS], rest_slash[DEPTHS];
} ngx_out;

/* ---- values and keys ------------------------------------------------- */

/* s[0..n) in a quoted nginx value: '$' would start a variable, and
 * nginx has no escape for it, hence a variable holding one. */
static void add_value(ngx_out *o, ex_buf *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] == '$') {
            ex_adds(b, "${r307_dollar}");
            o->uses_dollar = 1;
        }
        else if (s[i] == '"' || s[i] == '\\') {
            ex_addc(b, '\\');
            ex_addc(b, s[i]);
        }
        else
            ex_addc(b, s[i]);
    }
}

/* A hash key in quotes. */
static void add_key(ngx_out *o, ex_buf *b, const char *s, size_t n)
{
    size_t i;
    ex_addc(b, '"');
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            ex_addc(b, '\\');
        ex_addc(b, s[i]);
    }
    ex_addc(b, '"');
    if (n > o->longest_key)
        o->longest_key = n;
}

/* The variable appended after the target for what follows it of the
 * request's query. */
static const char *args_var(ngx_out *o, const ex_rule *r)
{
    if (r->args == EX_ARGS_NONE)
        return "";
    if (r->args == EX_ARGS_PASS) {
        o->uses_pass = 1;
        return !strcmp(r->sep, "?") ? "$r307_qp"
             : !strcmp(r->sep, "&") ? "$r307_ap" : "$r307_pass";
    }
    if (!strcmp(r->sep, "?")) {
        o->uses_qa = 1;
        return "$r307_qa";
    }
    if (!strcmp(r->sep, "&")) {
        o->uses_aa = 1;
        return "$r307_aa";
    }
    return "$args";
}

/* "STATUS LOCATION" of an A or C entry, LOCATION built as
 * rr_match_location_parts() builds it. */
static void add_location_value(ngx_out *o, ex_buf *b, const ex_rule *r)
{
    const char *t = r->target, *av;
    size_t main_end = r->main_len - (r->star != EX_STAR_NONE ? 1 : 0);
    if (!t) {
        ex_adds(b, "\"410 -\"");
        return;
    }
    ex_addf(b, "\"%d ", r->status);
    if (r->is_path) {
        ex_adds(b, "${r307_base}");
        o->uses_base = 1;
    }
    add_value(o, b, t, main_end);
    if (r->star == EX_STAR_BARE) {
        ex_addf(b, "${r307_ro%u}", r->depth);
        o->rest_bare[r->depth] = 1;
    }
    else if (r->star == EX_STAR_SLASH) {
        ex_addf(b, "${r307_rw%u}", r->depth);
        o->rest_slash[r->depth] = 1;
    }
    add_value(o, b, t + r->main_len, r->query_end - r->main_len);
    av = args_var(o, r);
    if (*av)
        ex_addf(b, "${%s}", av + 1);
    add_value(o, b, t + r->query_end, r->tlen - r->query_end);
    ex_addc(b, '"');
}

/* ---- tiers ----------------------------------------------------------- */

static int in_a(const ex_rule *r)
{
    return !r->dropped && (r->info.host || r->info.kind == RR_KIND_QUERY
                           || (r->info.kind == RR_KIND_EXACT
                               && r->regex_only));
}

static int in_b(const ex_rule *r)
{
    return !r->dropped && !r->info.host && r->info.kind == RR_KIND_EXACT
           && !r->regex_only;
}

static int in_c(const ex_rule *r)
{
    return !r->dropped && !r->info.host && r->info.kind == RR_KIND_PREFIX;
}

/* A pattern tier: one map, first match wins. */
static void write_tier(ngx_out *o, const char *var, ex_pick_fn *pick,
                       int *statuses, const char *what)
{
    apr_array_header_t *list = ex_ordered(o->x, pick);
    int k;
    if (list->nelts == 0)
        return;
    ex_addf(&o->maps, "\n# %s: patterns, the first match answers\n"
            "map " REQUEST_STRING " $%s {\n    default \"\";\n", what, var);
    for (k = 0; k < list->nelts; k++) {
        const ex_rule *r = APR_ARRAY_IDX(list, k, const ex_rule *);
        ex_addf(&o->maps, "    # %s\n    \"~%s\" ", r->origin,
                ex_pattern(o->x, r));
        add_location_value(o, &o->maps, r);
        ex_adds(&o->maps, ";\n");
        statuses[ex_status_slot(r->status)] = 1;
        o->x->exported++;
    }
    ex_adds(&o->maps, "}\n");
}

/* The server lines answering from a pattern tier. */
static void dispatch_tier(ngx_out *o, const char *var, const int *statuses)
{
    int k;
    for (k = 0; k < EX_STATUSES; k++) {
        int st = ex_statuses[k];
        if (!statuses[k])
            continue;
        if (st == 410)
            ex_addf(&o->server, "if ($%s ~ \"^410 \") { return 410; }\n",
                    var);
        else
            ex_addf(&o->server, "if ($%s ~ \"^%d (.*)$\") { return %d $1; "
                    "}\n", var, st, st);
    }
}

/* ---- the hashed tier ------------------------------------------------- */

/* "qa" for "$r307_qa", "args" for "$args", "none" for "". */
static const char *args_name(const char *av)
{
    if (!*av)
        return "none";
    return strncmp(av, "$r307_", 6) ? av + 1 : av + 6;
}

static b_map *b_map_of(ngx_out *o, const ex_rule *r)
{
    const char *av = r->target ? args_var(o, r) : "";
    const char *var = !r->target ? "r307_e410"
        : apr_psprintf(o->x->p, "r307_e%d_%s_%c", r->status, args_name(av),
                       r->is_path ? 'p' : 'a');
    b_map *m = apr_hash_get(o->b_maps, var, APR_HASH_KEY_STRING);
    if (m)
        return m;
    m = apr_pcalloc(o->x->p, sizeof(*m));
    m->var = var;
    m->status = r->status;
    m->args_var = av;
    m->is_path = r->is_path;
    ex_buf_init(&m->entries, o->x->p);
    apr_hash_set(o->b_maps, var, APR_HASH_KEY_STRING, m);
    APR_ARRAY_PUSH(o->b_order, b_map *) = m;
    if (r->is_path)
        o->uses_base = 1;
    return m;
}

/* One spelling of a rule's key in its B map, and in $r307_case if the
 * key is case-sensitive. */
static void b_key(ngx_out *o, b_map *m, const ex_rule *r, const char *key,
                  size_t n)
{
    ex_adds(&m->entries, "    ");
    add_key(o, &m->entries, key, n);
    ex_addc(&m->entries, ' ');
    if (r->target) {
        ex_addc(&m->entries, '"');
        add_value(o, &m->entries, r->target, r->tlen);
        ex_addc(&m->entries, '"');
    }
    else
        ex_adds(&m->entries, "\"-\"");
    ex_adds(&m->entries, ";\n");
    m->keys++;
    if (m->keys > o->most_keys)
        o->most_keys = m->keys;
    if (r->info.flags & RR_FLAG_NOCASE)
        return;
    ex_adds(&o->case_keys, "    ");
    add_key(o, &o->case_keys, key, n);
    ex_adds(&o->case_keys, " \"");
    add_value(o, &o->case_keys, key, n);
    ex_adds(&o->case_keys, "\";\n");
    o->case_count++;
}

/* $uri keeps a trailing slash that TrailingSlash Ignore does not see:
 * a key is written with and without it. */
static void b_rule(ngx_out *o, const ex_rule *r)
{
    b_map *m = b_map_of(o, r);
    const char *key = r->info.source;
    ex_addf(&m->entries, "    # %s\n", r->origin);
    b_key(o, m, r, key, r->klen);
    if (!o->x->a->opt.trailing_strict && strcmp(key, "/"))
        b_key(o, m, r, apr_pstrcat(o->x->p, key, "/", NULL), r->klen + 1);
    o->x->exported++;
}

static void write_b_maps(ngx_out *o)
{
    int k;
    for (k = 0; k < o->x->rules->nelts; k++) {
        const ex_rule *r = &APR_ARRAY_IDX(o->x->rules, k, ex_rule);
        if (in_b(r))
            b_rule(o, r);
    }
    for (k = 0; k < o->b_order->nelts; k++) {
        b_map *m = APR_ARRAY_IDX(o->b_order, k, b_map *);
        ex_addf(&o->maps, "\n# exact rules, status %d%s\nmap $uri $%s {\n"
                "    default \"\";\n%s}\n", m->status,
                m->is_path ? ", path targets" : "", m->var,
                ex_text(&m->entries));
    }
    if (!o->case_count)
        return;
    /* nginx folds map keys to lower case: a case-sensitive key must be
     * spelled as the request is.  "${uri}" rather than "$uri" keeps
     * `import --from nginx` from reading these as redirects. */
    ex_addf(&o->maps, "\n# case-sensitive keys of the maps above, as "
            "spelled\nmap \"${uri}\" $r307_case {\n    default \"\";\n%s}\n"
            "map \"$r307_case:$uri\" $r307_case_ok {\n"
            "    default \"\";\n    \"~^:\" \"1\";\n"
            "    \"~(?s)^(?<r307_c>.*):\\k<r307_c>$\" \"1\";\n}\n",
            ex_text(&o->case_keys));
    for (k = 0; k < o->b_order->nelts; k++) {
        const b_map *m = APR_ARRAY_IDX(o->b_order, k, b_map *);
        ex_addf(&o->maps, "map \"$r307_case_ok:$%s\" $r307_go_%s { "
                "default \"\"; \"~^1:.\" \"1\"; }\n", m->var, m->var + 5);
    }
}

static void dispatch_b(ngx_out *o)
{
    int k;
    for (k = 0; k < o->b_order->nelts; k++) {
        const b_map *m = APR_ARRAY_IDX(o->b_order, k, b_map *);
        const char *cond = o->case_count
            ? apr_pstrcat(o->x->p, "r307_go_", m->var + 5, NULL) : m->var;
        if (m->status == 410)
            ex_addf(&o->server, "if ($%s) { return 410; }\n", cond);
        else
            ex_addf(&o->server, "if ($%s) { return %d %s$%s%s; }\n", cond,
                    m->status, m->is_path ? "$r307_base" : "", m->var,
                    m->args_var);
    }
}

/* ---- helpers the values use ------------------------------------------ */

/* $r307_pass: the ignored parameters of the query, in order, at most
 * PASS_MAX: after the first, each group skips to the next one. */
static void write_pass(ngx_out *o, ex_buf *b)
{
    const char *ign = ex_ignored_param(o->x, "&|$");
    int k;
    ex_adds(b, "\n# the ignored parameters of the query, passed through "
            "(Redirect307IgnoreParams)\nmap $args $r307_pass {\n"
            "    default \"\";\n    \"~^(?:[^&]*&)*?");
    ex_addf(b, "(?<r307_i1>%s)", ign);
    for (k = 2; k <= PASS_MAX; k++)
        ex_addf(b, "(?:(?:&[^&]*)*?(?<r307_i%d>&%s))?", k, ign);
    ex_adds(b, "\" \"");
    for (k = 1; k <= PASS_MAX; k++)
        ex_addf(b, "${r307_i%d}", k);
    ex_adds(b, "\";\n}\n"
            "map $r307_pass $r307_qp { \"\" \"\"; default \"?$r307_pass\"; }\n"
            "map $r307_pass $r307_ap { \"\" \"\"; default \"&$r307_pass\"; "
            "}\n");
}

/* The rest below a prefix of d segments, with its '/' (`slash`) or
 * without: decoded from $uri where it needs no escaping (then it is what
 * httpd sends), else as the client sent it in $request_uri, since nginx
 * cannot escape.  "${request_uri}" keeps `import --from nginx` from
 * reading these maps. */
static void write_rest(ex_buf *b, unsigned d, int slash)
{
    const char *w = slash ? "w" : "o", *capture = slash ? "r" : "s";
    ex_addf(b, "map \"${request_uri}\" $r307_x%s%u { default \"\"; "
            "\"~^(?:/+[^/?]*){%u}%s(?<r307_y%s%u>%s[^?]*)\" "
            "\"$r307_y%s%u\"; }\n", w, d, d, slash ? "" : "/", w, d,
            slash ? "/" : "", w, d);
    ex_addf(b, "map \"x$r307_%s\" $r307_r%s%u { default \"$r307_x%s%u\"; "
            "\"~(?s)^x" SAFE_REST "*$\" \"$r307_%s\"; }\n", capture, w, d,
            w, d, capture);
}

static void write_helpers(ngx_out *o, ex_buf *b)
{
    unsigned d;
    if (o->uses_dollar)
        ex_adds(b, "\n# a literal '$' (nginx has no escape for it)\n"
                "geo $r307_dollar { default \"$\"; }\n");
    if (o->uses_base)
        ex_adds(b, "\n# path targets answer on the request's scheme, host "
                "and port (the port unless the scheme's default)\n"
                "map \"$scheme|$http_host\" $r307_port {\n    default \"\";\n"
                "    \"~^http\\x7c(?:\\x5b[^\\x5d]*\\x5d|[^:]*):0*80$\" "
                "\"\";\n"
                "    \"~^https\\x7c(?:\\x5b[^\\x5d]*\\x5d|[^:]*):0*443$\" "
                "\"\";\n    \"~^[a-z]+\\x7c(?:\\x5b[^\\x5d]*\\x5d|[^:]*)"
                "(?<r307_pn>:[0-9]+)$\" \"$r307_pn\";\n}\n"
                "map $scheme $r307_base { default \"$scheme://$host"
                "$r307_port\"; }\n");
    if (o->uses_qa || o->uses_aa)
        ex_adds(b, "\n# the request's query after a target\n");
    if (o->uses_qa)
        ex_adds(b, "map $args $r307_qa { \"\" \"\"; default \"?$args\"; }\n");
    if (o->uses_aa)
        ex_adds(b, "map $args $r307_aa { \"\" \"\"; default \"&$args\"; }\n");
    if (o->uses_pass)
        write_pass(o, b);
    for (d = 0; d < DEPTHS; d++) {
        if (o->rest_bare[d] || o->rest_slash[d])
            ex_addf(b, "\n# the rest below a prefix of %u segment%s\n", d,
                    d == 1 ? "" : "s");
        if (o->rest_bare[d])
            write_rest(b, d, 0);
        if (o->rest_slash[d])
            write_rest(b, d, 1);
    }
}

/* ---- the files ------------------------------------------------------- */

/* nginx refuses a map whose longest key does not fit a hash bucket, and
 * builds a slow one when there are more keys than map_hash_max_size. */
static void write_sizes(ngx_out *o, ex_buf *b)
{
    size_t elt = sizeof(void *) + ((o->longest_key + 2 + sizeof(void *) - 1)
                                   & ~(sizeof(void *) - 1));
    size_t bucket = NGX_BUCKET_DEFAULT;
    int max = NGX_MAX_SIZE_DEFAULT;
    int keys = o->most_keys > o->case_count ? o->most_keys : o->case_count;
    while (bucket < elt + sizeof(void *))
        bucket += NGX_BUCKET_DEFAULT;
    while (max < 2 * keys)
        max *= 2;
    ex_addf(b, "\n# for the longest key and the largest map: these apply to "
            "every map of http {},\n# so keep the larger of these and any "
            "you set yourself\nmap_hash_bucket_size %lu;\n"
            "map_hash_max_size %d;\n", (unsigned long)bucket, max);
}

static int write_files(ngx_out *o)
{
    ex_buf head, all;
    ex_buf_init(&head, o->x->p);
    ex_buf_init(&all, o->x->p);
    ex_addf(&head, "# nginx maps from mod_redirect307 rules (%s), written by "
            "redirect307 export --to nginx.\n# Include this file in "
            "http {}, before other maps; each server {} that should answer\n"
            "# includes the lines printed with it.\n", ex_inputs(o->x));
    write_sizes(o, &head);
    write_helpers(o, &head);
    ex_add(&all, head.s, head.len);
    ex_add(&all, o->maps.s, o->maps.len);
    if (!ex_write_file(o->x->p, o->map_file, all.s, all.len))
        return 0;
    return ex_write_file(o->x->p, "-", ex_text(&o->server), o->server.len);
}

int export_nginx(ex_ctx *x)
{
    ngx_out o;
    memset(&o, 0, sizeof(o));
    o.x = x;
    o.map_file = x->a->map_out;
    ex_buf_init(&o.maps, x->p);
    ex_buf_init(&o.server, x->p);
    ex_buf_init(&o.case_keys, x->p);
    o.b_maps = apr_hash_make(x->p);
    o.b_order = apr_array_make(x->p, 8, sizeof(b_map *));
    ex_drop_unsupported(x);
    ex_plan(x, 0);
    ex_addf(&o.server, "# mod_redirect307 rules (%s) for nginx, written by "
            "redirect307 export --to nginx.\n# Include in server {}; needs "
            "%s included in http {}.  Answers before any\n# location is "
            "chosen, as the module answers before httpd maps the URL.\n",
            ex_inputs(x), o.map_file);
    write_tier(&o, "r307_a", in_a, o.statuses_a,
               "host rules, query rules, exact rules keys cannot hold");
    write_b_maps(&o);
    write_tier(&o, "r307_c", in_c, o.statuses_c, "prefix rules");
    dispatch_tier(&o, "r307_a", o.statuses_a);
    dispatch_b(&o);
    dispatch_tier(&o, "r307_c", o.statuses_c);
    return write_files(&o);
}
