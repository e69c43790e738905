/*
 * mod_redirect307.c - httpd glue for the redirect307 rules engine.
 *
 * Directives record rules and rules files per server; the check_config
 * hook (which runs for "apachectl -t", a start and every restart) builds
 * each server's frozen tables once; translate_name answers a matching
 * request with the rule's status and Location before mod_alias and
 * mod_rewrite see it, without reading the request body.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "redirect_rules.h"

module AP_MODULE_DECLARE_DATA redirect307_module;

#define R307_UNSET -1

/* One Redirect307 or Redirect307Map directive, in configuration order. */
typedef struct {
    const char *map;        /* absolute rules-file path, or NULL */
    const char *text;       /* inline rule as a rules-file line */
    const char *file;       /* where the directive stands */
    unsigned line;
} r307_source;

typedef struct r307_server_conf {
    int engine;             /* R307_UNSET, 0, 1 */
    int default_status;     /* 0: unset */
    int match_case;
    int trailing_strict;
    int chains;             /* rr_chains_mode or R307_UNSET */
    apr_array_header_t *sources;        /* r307_source, this server's own */
    const struct r307_server_conf *parent;  /* main server's, for a vhost */
    apr_array_header_t *tables;         /* own frozen tables */
    rr_set *set;            /* own tables, then the main server's */
} r307_server_conf;

static void *r307_create_server_conf(apr_pool_t *p, server_rec *s)
{
    r307_server_conf *c = apr_pcalloc(p, sizeof(*c));
    (void)s;
    c->engine = R307_UNSET;
    c->match_case = R307_UNSET;
    c->trailing_strict = R307_UNSET;
    c->chains = R307_UNSET;
    c->sources = apr_array_make(p, 4, sizeof(r307_source));
    return c;
}

/* A vhost keeps its own rules and settings; unset settings come from the
 * main server, and its rules are consulted after the vhost's own. */
static void *r307_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const r307_server_conf *base = basev, *add = addv;
    r307_server_conf *c = apr_pcalloc(p, sizeof(*c));
    c->engine = add->engine != R307_UNSET ? add->engine : base->engine;
    c->default_status = add->default_status ? add->default_status
                                            : base->default_status;
    c->match_case = add->match_case != R307_UNSET ? add->match_case
                                                  : base->match_case;
    c->trailing_strict = add->trailing_strict != R307_UNSET
                         ? add->trailing_strict : base->trailing_strict;
    c->chains = add->chains != R307_UNSET ? add->chains : base->chains;
    c->sources = add->sources;
    c->parent = base;
    return c;
}

static r307_server_conf *r307_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &redirect307_module);
}

/* ---- directives ----------------------------------------------------- */

static int r307_all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!apr_isdigit(*s))
            return 0;
    }
    return 1;
}

static const char *r307_where(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                        cmd->directive->line_num);
}

static const char *r307_cmd_rule(cmd_parms *cmd, void *dummy, int argc,
                                 char *const argv[])
{
    r307_server_conf *c = r307_conf(cmd->server);
    const char *status = NULL, *text;
    rr_builder *b;
    rr_diag *d;
    r307_source *src;
    int i = 0, k;
    (void)dummy;

    if (argc > 0 && r307_all_digits(argv[0]))
        status = argv[i++];
    if (argc - i < 2)
        return apr_psprintf(cmd->pool, "%s: Redirect307 takes [STATUS] "
                            "SOURCE TARGET [FLAGS]", r307_where(cmd));
    for (k = i; k < argc; k++) {
        if (strpbrk(argv[k], " \t"))
            return apr_psprintf(cmd->pool, "%s: '%s': write spaces in a "
                                "rule as %%20", r307_where(cmd), argv[k]);
    }
    text = apr_pstrcat(cmd->pool, argv[i], " ", argv[i + 1],
                       status ? " " : "", status ? status : "", NULL);
    for (k = i + 2; k < argc; k++)
        text = apr_pstrcat(cmd->pool, text, k == i + 2 ? " " : ",", argv[k],
                           NULL);

    /* Validate now, so that httpd names this config file and line. */
    d = rr_diag_create(cmd->temp_pool);
    b = rr_builder_create(cmd->temp_pool, NULL);
    if (rr_builder_add_line(b, cmd->directive->filename,
                            (unsigned)cmd->directive->line_num, text,
                            strlen(text), d) != APR_SUCCESS)
        return APR_ARRAY_IDX(d->errors, 0, const char *);

    src = apr_array_push(c->sources);
    src->map = NULL;
    src->text = text;
    src->file = apr_pstrdup(cmd->pool, cmd->directive->filename);
    src->line = (unsigned)cmd->directive->line_num;
    return NULL;
}

static int r307_map_known(server_rec *s, const char *path);

static const char *r307_cmd_map(cmd_parms *cmd, void *dummy, const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    r307_source *src;
    const char *path = ap_server_root_relative(cmd->pool, arg);
    (void)dummy;
    if (!path)
        return apr_psprintf(cmd->pool, "%s: invalid rules-file path '%s'",
                            r307_where(cmd), arg);
    if (!r307_map_known(cmd->server, path)) {
        apr_finfo_t fi;
        apr_file_t *f;
        char err[128];
        apr_status_t rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool);
        if (rv == APR_SUCCESS && fi.filetype != APR_REG)
            return apr_psprintf(cmd->pool, "%s: rules file %s is not a "
                                "regular file", r307_where(cmd), path);
        if (rv == APR_SUCCESS)
            rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT,
                               cmd->temp_pool);
        if (rv != APR_SUCCESS)
            return apr_psprintf(cmd->pool, "%s: cannot read rules file %s: "
                                "%s", r307_where(cmd), path,
                                apr_strerror(rv, err, sizeof(err)));
        apr_file_close(f);
    }
    src = apr_array_push(c->sources);
    src->map = path;
    src->text = NULL;
    src->file = apr_pstrdup(cmd->pool, cmd->directive->filename);
    src->line = (unsigned)cmd->directive->line_num;
    return NULL;
}

static const char *r307_cmd_default(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    int st = atoi(arg);
    (void)dummy;
    if (!r307_all_digits(arg) || !(st == 301 || st == 302 || st == 303
                                   || st == 307 || st == 308))
        return apr_psprintf(cmd->pool, "%s: Redirect307Default takes 301, "
                            "302, 303, 307 or 308, not '%s'",
                            r307_where(cmd), arg);
    c->default_status = st;
    return NULL;
}

static const char *r307_cmd_engine(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    r307_conf(cmd->server)->engine = on;
    return NULL;
}

static const char *r307_cmd_match_case(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    r307_conf(cmd->server)->match_case = on;
    return NULL;
}

static const char *r307_cmd_trailing(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    (void)dummy;
    if (!strcasecmp(arg, "Ignore"))
        c->trailing_strict = 0;
    else if (!strcasecmp(arg, "Strict"))
        c->trailing_strict = 1;
    else
        return apr_psprintf(cmd->pool, "%s: Redirect307TrailingSlash takes "
                            "Ignore or Strict, not '%s'", r307_where(cmd),
                            arg);
    return NULL;
}

static const char *r307_cmd_chains(cmd_parms *cmd, void *dummy,
                                   const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    (void)dummy;
    if (!strcasecmp(arg, "Warn"))
        c->chains = RR_CHAINS_WARN;
    else if (!strcasecmp(arg, "Collapse"))
        c->chains = RR_CHAINS_COLLAPSE;
    else if (!strcasecmp(arg, "Off"))
        c->chains = RR_CHAINS_OFF;
    else
        return apr_psprintf(cmd->pool, "%s: Redirect307Chains takes Warn, "
                            "Collapse or Off, not '%s'", r307_where(cmd),
                            arg);
    return NULL;
}

static const command_rec r307_cmds[] = {
    AP_INIT_TAKE_ARGV("Redirect307", r307_cmd_rule, NULL, RSRC_CONF,
        "[STATUS] SOURCE TARGET [FLAGS]: one rule, as a rules-file line"),
    AP_INIT_TAKE1("Redirect307Map", r307_cmd_map, NULL, RSRC_CONF,
        "a rules file (relative to ServerRoot); repeatable"),
    AP_INIT_TAKE1("Redirect307Default", r307_cmd_default, NULL, RSRC_CONF,
        "status for rules that give none: 301, 302, 303, 307 (default) "
        "or 308"),
    AP_INIT_FLAG("Redirect307Engine", r307_cmd_engine, NULL, RSRC_CONF,
        "On (default) or Off: answer redirects in this server"),
    AP_INIT_FLAG("Redirect307MatchCase", r307_cmd_match_case, NULL,
        RSRC_CONF, "On (default) or Off: Off matches paths case-blind"),
    AP_INIT_TAKE1("Redirect307TrailingSlash", r307_cmd_trailing, NULL,
        RSRC_CONF, "Ignore (default: /a and /a/ are one source) or Strict"),
    AP_INIT_TAKE1("Redirect307Chains", r307_cmd_chains, NULL, RSRC_CONF,
        "Warn (default), Collapse or Off: what to do about redirect chains"),
    { NULL }
};

/* ---- configuration time --------------------------------------------- */

/* ---- tables that outlive a configuration pass -----------------------
 * httpd reads its configuration twice at startup and again at every
 * restart, unloading the module in between, so what must survive lives
 * in the process pool's userdata.  Each table has a pool with its own
 * allocator: replacing a table gives its memory back to the system. */

typedef struct {
    apr_pool_t *pool;
    const rr_table *table;
    apr_finfo_t finfo;          /* identity of the file it came from */
    apr_array_header_t *warnings;
    unsigned serial;            /* unique per table ever built */
    unsigned used_pass;
    double load_seconds;
} r307_cached_table;

typedef struct {
    apr_pool_t *pool;
    const char *key;
    rr_set *set;
    apr_array_header_t *warnings;
    unsigned used_pass;
} r307_cached_set;

typedef struct {
    apr_pool_t *pool;
    apr_hash_t *tables;         /* source key -> r307_cached_table */
    apr_hash_t *sets;           /* tables + hosts + mode -> r307_cached_set */
    apr_hash_t *last_good;      /* server name -> its last r307_cached_set */
    unsigned pass;
    unsigned serial;
} r307_state;

#define R307_STATE_KEY "redirect307-state"

static r307_state *r307_get_state(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    r307_state *st;
    apr_pool_userdata_get(&data, R307_STATE_KEY, pp);
    if (data)
        return data;
    st = apr_pcalloc(pp, sizeof(*st));
    apr_pool_create(&st->pool, pp);
    st->tables = apr_hash_make(st->pool);
    st->sets = apr_hash_make(st->pool);
    st->last_good = apr_hash_make(st->pool);
    apr_pool_userdata_set(st, R307_STATE_KEY, apr_pool_cleanup_null, pp);
    return st;
}

static apr_pool_t *r307_own_pool(apr_pool_t *parent)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    if (apr_allocator_create(&alloc) != APR_SUCCESS)
        return NULL;
    apr_allocator_max_free_set(alloc, 1);
    if (apr_pool_create_ex(&p, parent, NULL, alloc) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return NULL;
    }
    apr_allocator_owner_set(alloc, p);
    return p;
}

static void r307_log_lines(server_rec *s, const apr_array_header_t *lines,
                           int level)
{
    int k;
    for (k = 0; lines && k < lines->nelts; k++) {
        const char *msg = APR_ARRAY_IDX(lines, k, const char *);
        if (level == APLOG_ERR)
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(30702) "%s",
                         msg);
        else
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(30701)
                         "%s", msg);
    }
}

static const char *r307_opt_key(const rr_options *opt)
{
    return opt->case_insensitive ? (opt->trailing_strict ? "ci,strict"
                                                         : "ci,ignore")
                                 : (opt->trailing_strict ? "cs,strict"
                                                         : "cs,ignore");
}

/* Has an earlier pass of this process loaded the map?  A restart whose map
 * went missing then keeps its last good rules instead of failing. */
static int r307_map_known(server_rec *s, const char *path)
{
    static const char *const opts[] = { "cs,ignore", "cs,strict",
                                        "ci,ignore", "ci,strict" };
    r307_state *st = r307_get_state(s);
    char key[8192];
    int k;
    for (k = 0; k < 4; k++) {
        apr_snprintf(key, sizeof(key), "map:%s:%s", opts[k], path);
        if (apr_hash_get(st->tables, key, APR_HASH_KEY_STRING))
            return 1;
    }
    return 0;
}

/* Parses one map or run of inline rules into a fresh cache entry. */
static r307_cached_table *r307_build_table(r307_state *st, server_rec *s,
                                           const rr_options *opt,
                                           const char *map,
                                           const apr_array_header_t *lines,
                                           const apr_finfo_t *fi,
                                           apr_pool_t *ptemp)
{
    apr_pool_t *pool = r307_own_pool(st->pool);
    r307_cached_table *e;
    rr_diag *d = rr_diag_create(ptemp);
    apr_time_t t0 = apr_time_now();
    rr_table *t;
    int k;

    if (!pool)
        return NULL;
    if (map) {
        t = rr_table_load_file(pool, map, opt, d);
    }
    else {
        rr_builder *b = rr_builder_create(pool, opt);
        for (k = 0; k < lines->nelts; k++) {
            const r307_source *src = APR_ARRAY_IDX(lines, k, r307_source *);
            rr_builder_add_line(b, src->file, src->line, src->text,
                                strlen(src->text), d);
        }
        t = rr_builder_freeze(b, pool, d);
    }
    if (!t) {
        r307_log_lines(s, d->errors, APLOG_ERR);
        apr_pool_destroy(pool);
        return NULL;
    }
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->table = t;
    if (fi)
        e->finfo = *fi;
    e->warnings = apr_array_copy(pool, d->warnings);
    for (k = 0; k < e->warnings->nelts; k++)
        APR_ARRAY_IDX(e->warnings, k, const char *) =
            apr_pstrdup(pool, APR_ARRAY_IDX(e->warnings, k, const char *));
    e->serial = ++st->serial;
    e->load_seconds = (double)(apr_time_now() - t0) / APR_USEC_PER_SEC;
    return e;
}

static int r307_same_file(const apr_finfo_t *a, const apr_finfo_t *b)
{
    return a->device == b->device && a->inode == b->inode
        && a->size == b->size && a->mtime == b->mtime;
}

/* The table for a map or a run of inline rules: reused while its source
 * is unchanged; on a restart whose rules became invalid, the last good
 * one is kept (apachectl -t and a first start have none to keep). */
static const r307_cached_table *r307_table_for(r307_state *st,
                                               server_rec *s,
                                               const rr_options *opt,
                                               const char *map,
                                               const apr_array_header_t *lines,
                                               apr_pool_t *ptemp)
{
    const char *key;
    r307_cached_table *e, *fresh;
    apr_finfo_t fi;
    int k, have_fi = 0;

    if (map) {
        key = apr_pstrcat(ptemp, "map:", r307_opt_key(opt), ":", map, NULL);
        have_fi = apr_stat(&fi, map, APR_FINFO_IDENT | APR_FINFO_SIZE
                           | APR_FINFO_MTIME, ptemp) == APR_SUCCESS;
    }
    else {
        key = apr_pstrcat(ptemp, "inline:", r307_opt_key(opt), NULL);
        for (k = 0; k < lines->nelts; k++) {
            const r307_source *src = APR_ARRAY_IDX(lines, k, r307_source *);
            key = apr_psprintf(ptemp, "%s\n%s:%u %s", key, src->file,
                               src->line, src->text);
        }
    }
    e = apr_hash_get(st->tables, key, APR_HASH_KEY_STRING);
    if (e && (!map || (have_fi && r307_same_file(&e->finfo, &fi)))) {
        if (map)
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(30704)
                         "%s: unchanged, reusing its table (%u rules)", map,
                         rr_table_count(e->table));
        e->used_pass = st->pass;
        r307_log_lines(s, e->warnings, APLOG_WARNING);
        return e;
    }
    fresh = r307_build_table(st, s, opt, map, lines, have_fi ? &fi : NULL,
                             ptemp);
    if (!fresh) {
        if (!e)
            return NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(30705)
                     "%s: invalid, still serving its last good rules (%u); "
                     "apachectl -t shows the errors", map ? map : "rules",
                     rr_table_count(e->table));
        e->used_pass = st->pass;
        return e;
    }
    if (map)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(30706)
                     "%s: parsed %u rules in %.3f s", map,
                     rr_table_count(fresh->table), fresh->load_seconds);
    if (e) {
        /* the hash keeps the old entry's key, which lives in its pool */
        apr_hash_set(st->tables, key, APR_HASH_KEY_STRING, NULL);
        apr_pool_destroy(e->pool);
    }
    fresh->used_pass = st->pass;
    apr_hash_set(st->tables, apr_pstrdup(fresh->pool, key),
                 APR_HASH_KEY_STRING, fresh);
    r307_log_lines(s, fresh->warnings, APLOG_WARNING);
    return fresh;
}

/* A server's own tables in directive order: each map is a table, and each
 * run of inline rules between maps is one.  Appends serials to *sig. */
static apr_status_t r307_build_own(r307_state *st, server_rec *s,
                                   apr_pool_t *pconf, apr_pool_t *ptemp,
                                   r307_server_conf *c, const char **sig)
{
    rr_options opt;
    apr_array_header_t *run = apr_array_make(ptemp, 4, sizeof(r307_source *));
    apr_status_t rv = APR_SUCCESS;
    int k;

    opt.case_insensitive = c->match_case == 0;
    opt.trailing_strict = c->trailing_strict == 1;
    c->tables = apr_array_make(pconf, 2, sizeof(const rr_table *));
    for (k = 0; k <= c->sources->nelts; k++) {
        r307_source *src = k < c->sources->nelts
            ? &APR_ARRAY_IDX(c->sources, k, r307_source) : NULL;
        const r307_cached_table *e;
        if (src && src->text) {
            APR_ARRAY_PUSH(run, r307_source *) = src;
            continue;
        }
        if (run->nelts > 0) {
            e = r307_table_for(st, s, &opt, NULL, run, ptemp);
            apr_array_clear(run);
            if (!e)
                rv = APR_EINVAL;
            else {
                APR_ARRAY_PUSH(c->tables, const rr_table *) = e->table;
                *sig = apr_psprintf(ptemp, "%s %u", *sig, e->serial);
            }
        }
        if (!src)
            break;
        e = r307_table_for(st, s, &opt, src->map, NULL, ptemp);
        if (!e)
            rv = APR_EINVAL;
        else {
            APR_ARRAY_PUSH(c->tables, const rr_table *) = e->table;
            *sig = apr_psprintf(ptemp, "%s %u", *sig, e->serial);
        }
    }
    return rv;
}

/* Drops what this pass did not use; children of older generations have
 * their own copies of the parent's memory. */
static void r307_sweep(r307_state *st)
{
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, st->tables); hi; hi = apr_hash_next(hi)) {
        r307_cached_table *e = apr_hash_this_val(hi);
        if (e->used_pass != st->pass) {
            apr_hash_set(st->tables, apr_hash_this_key(hi),
                         APR_HASH_KEY_STRING, NULL);
            apr_pool_destroy(e->pool);
        }
    }
    for (hi = apr_hash_first(NULL, st->sets); hi; hi = apr_hash_next(hi)) {
        r307_cached_set *e = apr_hash_this_val(hi);
        if (e->used_pass != st->pass) {
            apr_hash_set(st->sets, apr_hash_this_key(hi),
                         APR_HASH_KEY_STRING, NULL);
            apr_pool_destroy(e->pool);
        }
    }
    /* last_good may name a set swept above; r307_set_for looks it up in
     * st->sets before trusting it. */
}

/* The names a target's host must have to count as this server's. */
static apr_array_header_t *r307_host_names(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *h = apr_array_make(p, 4, sizeof(const char *));
    int k;
    if (s->server_hostname)
        APR_ARRAY_PUSH(h, const char *) = s->server_hostname;
    for (k = 0; s->names && k < s->names->nelts; k++)
        APR_ARRAY_PUSH(h, const char *) = APR_ARRAY_IDX(s->names, k, char *);
    for (k = 0; s->wild_names && k < s->wild_names->nelts; k++)
        APR_ARRAY_PUSH(h, const char *) =
            APR_ARRAY_IDX(s->wild_names, k, char *);
    return h;
}

/* The checked set of tables one server consults: chains and loops are
 * analysed once per combination of tables, hosts and mode. */
static rr_set *r307_set_for(r307_state *st, server_rec *s,
                            const r307_server_conf *c, const char *sig,
                            apr_pool_t *ptemp, int *failed)
{
    const apr_array_header_t *inherited = c->parent ? c->parent->tables : NULL;
    apr_array_header_t *hosts = r307_host_names(ptemp, s);
    rr_chains_mode mode = c->chains == R307_UNSET ? RR_CHAINS_WARN
                                                  : (rr_chains_mode)c->chains;
    r307_cached_set *e;
    rr_diag *d;
    const char *key, *name;
    int k, n;

    /* Servers are told apart by name, port and place in the config. */
    name = apr_psprintf(ptemp, "%s:%u@%s:%d", s->server_hostname,
                        (unsigned)s->port, s->defn_name ? s->defn_name : "",
                        (int)s->defn_line_number);
    key = apr_psprintf(ptemp, "%d|%s|%s", (int)mode,
                       apr_array_pstrcat(ptemp, hosts, ' '), sig);
    e = apr_hash_get(st->sets, key, APR_HASH_KEY_STRING);
    if (e) {
        e->used_pass = st->pass;
        r307_log_lines(s, e->warnings, APLOG_WARNING);
        return e->set;
    }
    e = apr_pcalloc(ptemp, sizeof(*e));
    e->pool = r307_own_pool(st->pool);
    if (!e->pool) {
        *failed = 1;
        return NULL;
    }
    n = c->tables->nelts + (inherited ? inherited->nelts : 0);
    e->set = rr_set_create(e->pool, n);
    for (k = 0; k < c->tables->nelts; k++)
        rr_set_add(e->set, APR_ARRAY_IDX(c->tables, k, const rr_table *));
    rr_set_mark_inherited(e->set);
    for (k = 0; inherited && k < inherited->nelts; k++)
        rr_set_add(e->set, APR_ARRAY_IDX(inherited, k, const rr_table *));
    d = rr_diag_create(e->pool);
    if (c->tables->nelts > 0
        && rr_set_check(e->set, hosts, mode, d) != APR_SUCCESS) {
        r307_cached_set *good = apr_hash_get(st->last_good, name,
                                             APR_HASH_KEY_STRING);
        r307_log_lines(s, d->warnings, APLOG_WARNING);
        r307_log_lines(s, d->errors, APLOG_ERR);
        apr_pool_destroy(e->pool);
        if (good && apr_hash_get(st->sets, good->key, APR_HASH_KEY_STRING)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(30707)
                         "%s: redirect loop in the new rules; still serving "
                         "the last good ones", name);
            good->used_pass = st->pass;
            return good->set;
        }
        *failed = 1;
        return NULL;
    }
    r307_log_lines(s, d->warnings, APLOG_WARNING);
    e->warnings = d->warnings;
    e->used_pass = st->pass;
    e = apr_pmemdup(e->pool, e, sizeof(*e));
    e->key = apr_pstrdup(e->pool, key);
    apr_hash_set(st->sets, e->key, APR_HASH_KEY_STRING, e);
    apr_hash_set(st->last_good, apr_pstrdup(st->pool, name),
                 APR_HASH_KEY_STRING, e);
    return e->set;
}

static int r307_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *main_s)
{
    r307_state *st = r307_get_state(main_s);
    const char *main_sig = "";
    server_rec *s;
    int failed = 0;
    (void)plog;

    st->pass++;
    for (s = main_s; s; s = s->next) {
        r307_server_conf *c = r307_conf(s);
        const char *sig = "";
        if (r307_build_own(st, s, pconf, ptemp, c, &sig) != APR_SUCCESS) {
            failed = 1;
            continue;
        }
        if (s == main_s)
            main_sig = sig;
        c->set = r307_set_for(st, s, c, apr_pstrcat(ptemp, sig, " |",
                                                    s == main_s ? ""
                                                                : main_sig,
                                                    NULL),
                              ptemp, &failed);
    }
    if (failed)
        return HTTP_INTERNAL_SERVER_ERROR;
    r307_sweep(st);
    return OK;
}

/* ---- request time --------------------------------------------------- */

static int r307_translate_name(request_rec *r)
{
    const r307_server_conf *c = r307_conf(r->server);
    const char *base[5], *loc = NULL, *origin;
    char port[16];
    apr_port_t p;
    rr_match m;
    int status;

    if (c->engine == 0 || !c->set || r->main || r->prev || r->proxyreq
        || r->uri[0] != '/')
        return DECLINED;
    if (!rr_set_lookup(c->set, r->uri, strlen(r->uri), r->args, &m)) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "no rule for %s",
                      r->uri);
        return DECLINED;
    }

    status = rr_match_status(&m, c->default_status ? c->default_status
                                                   : HTTP_TEMPORARY_REDIRECT);
    origin = rr_match_origin(&m, r->pool);
    apr_table_setn(r->subprocess_env, "REDIRECT307_RULE", origin);
    if (status != HTTP_GONE) {
        p = ap_get_server_port(r);
        port[0] = '\0';
        if (!ap_is_default_port(p, r))
            apr_snprintf(port, sizeof(port), ":%u", (unsigned)p);
        base[0] = ap_http_scheme(r);
        base[1] = "://";
        base[2] = ap_get_server_name_for_url(r);
        base[3] = port;
        base[4] = NULL;
        loc = rr_match_location_parts(&m, r->pool, r->uri, r->args, base);
        apr_table_setn(r->headers_out, "Location", loc);
    }
    /* The body stays unread for the client to send to the new URL; httpd
     * must not wait for it to keep the connection alive. */
    if (ap_request_has_body(r))
        r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(30703)
                  "%s %s -> %d %s (rule %s)", r->method, r->uri, status,
                  loc ? loc : "-", origin);
    return status;
}

static void r307_register_hooks(apr_pool_t *p)
{
    /* Ahead of mod_alias and mod_rewrite, which would otherwise map the
     * old URL first. */
    static const char *const succ[] = { "mod_alias.c", "mod_rewrite.c",
                                        NULL };
    (void)p;
    ap_hook_check_config(r307_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(r307_translate_name, NULL, succ,
                           APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(redirect307) = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* per-directory config creator */
    NULL,                       /* per-directory config merger */
    r307_create_server_conf,
    r307_merge_server_conf,
    r307_cmds,
    r307_register_hooks,
    AP_MODULE_FLAG_NONE
};
