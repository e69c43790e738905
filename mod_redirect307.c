/*
 * mod_redirect307.c - httpd glue for the redirect307 rules engine.
 *
 * Directives record rules and rules files per server; the check_config
 * hook (which runs for "apachectl -t", a start and every restart) builds
 * each server's frozen tables once; translate_name answers a matching
 * request with the rule's status and Location before mod_alias and
 * mod_rewrite see it, without reading the request body.  Rules in
 * <Directory>, <Location> and .htaccess are httpd/r307_dir.c's: this file
 * only hands those directives over and registers its hooks.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mpm_common.h"
#include "apr_lib.h"
#include "apr_optional.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "mod_status.h"

#include "redirect_rules.h"
#include "engine/rr_image.h"
#include "httpd/r307_cache.h"
#include "httpd/r307_pools.h"
#include "httpd/r307_statsfile.h"
#include "httpd/r307_missed.h"
#include "httpd/r307_dir.h"

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
    int stats;              /* Redirect307Stats */
    const char *stats_file; /* Redirect307StatsFile (main server only) */
    int stats_interval;     /* Redirect307StatsInterval, or R307_UNSET */
    const char *cache_dir;  /* Redirect307CacheDir (main server only):
                               NULL unset (the default), "" Off */
    long max_age;           /* Redirect307MaxAge, R307_UNSET: no header */
    const rr_ignore *ignore;            /* Redirect307IgnoreParams, or NULL:
                                           unset (the built-in list) */
    const rr_ignore *dir_ignore;        /* the list in force, built, for
                                           per-directory rules */
    apr_array_header_t *sources;        /* r307_source, this server's own */
    const struct r307_server_conf *parent;  /* main server's, for a vhost */
    apr_array_header_t *entries;        /* own r307_cached_table * */
    rr_set *set;            /* own tables, then the main server's */
    apr_array_header_t *counted;        /* r307_counted, own + inherited */
    struct r307_metrics *metrics;       /* shared memory, every server */
    r307_missed_conf missed;            /* Redirect307Missed* (httpd/) */
} r307_server_conf;

/* What one server answered, in shared memory: counted with relaxed atomic
 * adds by every child, read by the status page, mod_status and
 * Prometheus.  Kept while the server is (same name, port and place), so a
 * graceful restart does not reset them. */
#define R307_STATUSES 6         /* 301 302 303 307 308 410 */
static const int r307_status_codes[R307_STATUSES] = {
    301, 302, 303, 307, 308, 410
};

typedef struct r307_metrics {
    apr_uint64_t redirects[R307_STATUSES];
    apr_uint64_t misses;        /* looked up, matched no rule */
} r307_metrics;

/* Per-rule hit counters of one table, in shared memory: two 64-bit words
 * per record (hits, last hit in seconds), indexed by rr_match_index(). */
typedef struct {
    const rr_table *table;
    apr_uint64_t *counters;
} r307_counted;

/* The main server's record of the configuration pass being read: what a
 * vhost's directory section falls back to before the merge. */
static const struct r307_server_conf *r307_main_conf;

static void *r307_create_server_conf(apr_pool_t *p, server_rec *s)
{
    r307_server_conf *c = apr_pcalloc(p, sizeof(*c));
    if (!s->is_virtual)
        r307_main_conf = c;
    c->engine = R307_UNSET;
    c->match_case = R307_UNSET;
    c->trailing_strict = R307_UNSET;
    c->chains = R307_UNSET;
    c->stats = R307_UNSET;
    c->stats_interval = R307_UNSET;
    c->max_age = R307_UNSET;
    c->sources = apr_array_make(p, 4, sizeof(r307_source));
    r307_missed_conf_init(&c->missed);
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
    c->stats = add->stats != R307_UNSET ? add->stats : base->stats;
    c->stats_file = base->stats_file;       /* server config only */
    c->stats_interval = base->stats_interval;
    c->cache_dir = base->cache_dir;
    c->max_age = add->max_age != R307_UNSET ? add->max_age : base->max_age;
    c->ignore = add->ignore ? add->ignore : base->ignore;
    c->sources = add->sources;
    c->parent = base;
    r307_missed_conf_merge(p, &c->missed, &base->missed, &add->missed);
    return c;
}

static r307_server_conf *r307_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &redirect307_module);
}

/* httpd/r307_missed.c reaches a server's Redirect307Missed* settings, and
 * asks whether a path it counted has a rule since. */
r307_missed_conf *r307_missed_conf_of(const server_rec *s)
{
    return &r307_conf(s)->missed;
}

int r307_missed_has_rule(const server_rec *s, const char *path,
                         apr_size_t len)
{
    const r307_server_conf *c = r307_conf(s);
    rr_match m;
    return c->engine != 0 && c->set
        && rr_set_lookup_at(c->set, NULL, s->server_hostname, path, len,
                            NULL, &m);
}

/* httpd/r307_dir.c: what per-directory rules take from their server.
 * Before the merge (directive time) a vhost's unset settings come from
 * the main server as read so far. */
void r307_dir_server_of(const server_rec *s, r307_dir_server *out)
{
    const r307_server_conf *c = r307_conf(s);
    const r307_server_conf *m = r307_main_conf ? r307_main_conf : c;
    int match_case = c->match_case != R307_UNSET ? c->match_case
                                                 : m->match_case;
    int strict = c->trailing_strict != R307_UNSET ? c->trailing_strict
                                                  : m->trailing_strict;
    out->engine = c->engine != 0;
    out->default_status = c->default_status ? c->default_status
                                            : HTTP_TEMPORARY_REDIRECT;
    out->max_age = c->max_age;
    out->ignore = c->dir_ignore;
    out->opt.case_insensitive = match_case == 0;
    out->opt.trailing_strict = strict == 1;
}

static void r307_count_redirect(r307_metrics *mt, int status);

void r307_dir_count_redirect(const server_rec *s, int status)
{
    const r307_server_conf *c = r307_conf(s);
    if (c->metrics)
        r307_count_redirect(c->metrics, status);
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
    if (cmd->path)      /* <Directory>, <Location>, .htaccess */
        return r307_dir_cmd_rule(cmd, dummy, text);

    /* Validate now, so that httpd names this config file and line. */
    d = rr_diag_create(cmd->temp_pool);
    b = rr_builder_create(cmd->temp_pool, NULL);
    if (rr_builder_add_line(b, cmd->directive->filename,
                            (unsigned)cmd->directive->line_num, text,
                            strlen(text), d) != APR_SUCCESS)
        return rr_diag_get(d, 0)->message;

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
    const char *path;
    if (cmd->path)      /* <Directory>, <Location>, .htaccess */
        return r307_dir_cmd_map(cmd, dummy, arg);
    path = ap_server_root_relative(cmd->pool, arg);
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
    if (!r307_all_digits(arg) || !(st == 301 || st == 302 || st == 303
                                   || st == 307 || st == 308))
        return apr_psprintf(cmd->pool, "%s: Redirect307Default takes 301, "
                            "302, 303, 307 or 308, not '%s'",
                            r307_where(cmd), arg);
    if (cmd->path)      /* the rules of this directory section */
        r307_dir_cmd_default(dummy, st);
    else
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

static const char *r307_cmd_stats(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    r307_conf(cmd->server)->stats = on;
    return NULL;
}

static const char *r307_cmd_stats_file(cmd_parms *cmd, void *dummy,
                                       const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_finfo_t fi;
    (void)dummy;
    if (err)
        return err;
    if (!(c->stats_file = ap_server_root_relative(cmd->pool, arg)))
        return apr_psprintf(cmd->pool, "%s: invalid stats file path '%s'",
                            r307_where(cmd), arg);
    /* the file itself may not exist yet; where it goes must */
    if (apr_stat(&fi, ap_make_dirstr_parent(cmd->temp_pool, c->stats_file),
                 APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_DIR)
        return apr_psprintf(cmd->pool, "%s: Redirect307StatsFile %s: no "
                            "such directory", r307_where(cmd),
                            c->stats_file);
    return NULL;
}

static const char *r307_cmd_cache_dir(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)dummy;
    if (err)
        return err;
    if (strcasecmp(arg, "off") == 0) {
        c->cache_dir = "";
        return NULL;
    }
    /* not required to exist: without it, tables are built in memory */
    if (!(c->cache_dir = ap_server_root_relative(cmd->pool, arg)))
        return apr_psprintf(cmd->pool, "%s: invalid cache directory '%s'",
                            r307_where(cmd), arg);
    return NULL;
}

static const char *r307_cmd_stats_interval(cmd_parms *cmd, void *dummy,
                                           const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v = atol(arg);
    (void)dummy;
    if (err)
        return err;
    if (!r307_all_digits(arg) || strlen(arg) > 9 || v > 31536000)
        return apr_psprintf(cmd->pool, "%s: Redirect307StatsInterval takes "
                            "seconds (0 to 31536000), not '%s'",
                            r307_where(cmd), arg);
    c->stats_interval = (int)v;
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

static const char *r307_cmd_ignore(cmd_parms *cmd, void *dummy, int argc,
                                   char *const argv[])
{
    const char *err;
    r307_server_conf *c = r307_conf(cmd->server);
    (void)dummy;
    if (argc == 0)
        return apr_psprintf(cmd->pool, "%s: Redirect307IgnoreParams takes "
                            "parameter names, NAME*, default or none",
                            r307_where(cmd));
    c->ignore = rr_ignore_parse(cmd->pool, argc, (const char *const *)argv,
                                &err);
    if (!c->ignore)
        return apr_psprintf(cmd->pool, "%s: Redirect307IgnoreParams: %s",
                            r307_where(cmd), err);
    return NULL;
}

static const char *r307_cmd_max_age(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    char *end;
    long v = strtol(arg, &end, 10);
    (void)dummy;
    if (!r307_all_digits(arg) || *end || v < 0 || v > 315360000)
        return apr_psprintf(cmd->pool, "%s: Redirect307MaxAge takes seconds "
                            "(0 to 315360000), not '%s'", r307_where(cmd),
                            arg);
    c->max_age = v;
    return NULL;
}

static const command_rec r307_cmds[] = {
    /* Also per directory (httpd/r307_dir.c), and in .htaccess with
     * AllowOverride FileInfo, as mod_alias's Redirect */
    AP_INIT_TAKE_ARGV("Redirect307", r307_cmd_rule, NULL,
        RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
        "[STATUS] SOURCE TARGET [FLAGS]: one rule, as a rules-file line"),
    AP_INIT_TAKE1("Redirect307Map", r307_cmd_map, NULL,
        RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
        "a rules file (relative to ServerRoot; in .htaccess to its "
        "directory); repeatable"),
    AP_INIT_TAKE1("Redirect307Default", r307_cmd_default, NULL,
        RSRC_CONF | ACCESS_CONF | OR_FILEINFO,
        "status for rules that give none: 301, 302, 303, 307 (default) "
        "or 308"),
    AP_INIT_TAKE_ARGV("Redirect307DirCacheSize", r307_dir_cmd_cache_size,
        NULL, RSRC_CONF, "MAPS [MEMORY]: .htaccess maps each child keeps "
        "parsed (default 64, 256M)"),
    AP_INIT_TAKE1("Redirect307DirMapMaxSize", r307_dir_cmd_max_size, NULL,
        RSRC_CONF, "largest map a .htaccess may name (default 8M)"),
    AP_INIT_FLAG("Redirect307Engine", r307_cmd_engine, NULL, RSRC_CONF,
        "On (default) or Off: answer redirects in this server"),
    AP_INIT_FLAG("Redirect307MatchCase", r307_cmd_match_case, NULL,
        RSRC_CONF, "On (default) or Off: Off matches paths case-blind"),
    AP_INIT_TAKE1("Redirect307TrailingSlash", r307_cmd_trailing, NULL,
        RSRC_CONF, "Ignore (default: /a and /a/ are one source) or Strict"),
    AP_INIT_TAKE1("Redirect307Chains", r307_cmd_chains, NULL, RSRC_CONF,
        "Warn (default), Collapse or Off: what to do about redirect chains"),
    AP_INIT_TAKE_ARGV("Redirect307IgnoreParams", r307_cmd_ignore, NULL,
        RSRC_CONF, "request parameters query rules leave out and Locations "
        "pass through: names, NAME*, default (the built-in tracking list) "
        "or none"),
    AP_INIT_TAKE1("Redirect307MaxAge", r307_cmd_max_age, NULL, RSRC_CONF,
        "seconds: Cache-Control max-age on 301 and 308 answers, so that a "
        "wrong permanent redirect does not stay in browsers forever"),
    AP_INIT_FLAG("Redirect307Stats", r307_cmd_stats, NULL, RSRC_CONF,
        "On or Off (default): count hits per rule for redirect307-status"),
    AP_INIT_TAKE1("Redirect307CacheDir", r307_cmd_cache_dir, NULL, RSRC_CONF,
        "where compiled tables of maps are kept, shared by every httpd "
        "process (default " R307_CACHE_DIR_DEFAULT "), or Off"),
    AP_INIT_TAKE1("Redirect307StatsFile", r307_cmd_stats_file, NULL,
        RSRC_CONF, "a file (relative to ServerRoot) that keeps hit counts "
        "across restarts; implies Redirect307Stats On where it is unset"),
    AP_INIT_TAKE1("Redirect307StatsInterval", r307_cmd_stats_interval, NULL,
        RSRC_CONF, "seconds between saves of Redirect307StatsFile (default "
        "300; 0: only at restart and stop)"),
    /* Finding missing redirects: httpd/r307_missed.c */
    AP_INIT_FLAG("Redirect307Missed", r307_missed_cmd_on, NULL, RSRC_CONF,
        "On or Off (default): count the paths this server answers 404, "
        "for redirect307-status"),
    AP_INIT_TAKE1("Redirect307MissedSize", r307_missed_cmd_size, NULL,
        RSRC_CONF, "how many of the most requested missed paths to keep "
        "(default 1000)"),
    AP_INIT_ITERATE("Redirect307MissedIgnore", r307_missed_cmd_ignore, NULL,
        RSRC_CONF, "shell-style patterns of paths whose 404s are not "
        "counted (*.php /wp-login*)"),
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
    const char *name;           /* the map's path, or where inline rules are */
    apr_uint64_t *counters;     /* shared memory, with Redirect307Stats */
    apr_time_t loaded;
    apr_finfo_t finfo;          /* identity of the file it came from */
    apr_array_header_t *warnings;
    unsigned serial;            /* unique per table ever built */
    unsigned used_pass;
    double load_seconds;
    apr_uint64_t content_id;    /* what the table holds (image checksum, or
                                   a hash of inline rules), 0: unknown */
    int mapped;                 /* from a compiled table that was there */
} r307_cached_table;

typedef struct {
    apr_pool_t *pool;
    const char *key;
    rr_set *set;
    unsigned used_pass;
} r307_cached_set;

typedef struct {
    apr_pool_t *pool;
    r307_metrics *metrics;
    unsigned used_pass;
} r307_cached_metrics;

typedef struct {
    apr_pool_t *pool;
    apr_hash_t *tables;         /* source key -> r307_cached_table */
    apr_hash_t *sets;           /* tables + hosts + mode -> r307_cached_set */
    apr_hash_t *last_good;      /* server name -> its last r307_cached_set */
    apr_hash_t *metrics;        /* server id -> r307_cached_metrics */
    unsigned pass;
    unsigned serial;
    /* the last configuration pass, for monitoring */
    apr_time_t reloaded;
    int reload_ok;              /* 0: some rules kept their last good table */
    unsigned tables_parsed, tables_reused;
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
    st->metrics = apr_hash_make(st->pool);
    apr_pool_userdata_set(st, R307_STATE_KEY, apr_pool_cleanup_null, pp);
    return st;
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

/* The cache directory in force, or NULL (Off). */
static const char *r307_cache_dir_of(server_rec *s)
{
    const char *dir = r307_conf(s)->cache_dir;
    if (!dir)
        return R307_CACHE_DIR_DEFAULT;
    return *dir ? dir : NULL;
}

/* A map's table from its compiled image in `cache`: mapped if the image
 * is valid for the file as it is now, else parsed, written as a new
 * image and mapped from it.  The mapped table is shared page cache in
 * every process; if the image cannot be written, the table stays the
 * in-memory one.  *pool may be replaced by the pool of the mapping. */
static rr_table *r307_table_via_image(server_rec *s, apr_pool_t **pool,
                                      const char *cache, const char *map,
                                      const apr_finfo_t *fi,
                                      const rr_options *opt, rr_diag *d,
                                      int *was_there, apr_pool_t *ptemp)
{
    const char *image = r307_cache_image_path(ptemp, cache, map, opt);
    const char *why = NULL;
    rr_image_origin o;
    apr_pool_t *mapped;
    apr_status_t rv;
    rr_table *t;

    rr_image_origin_init(&o, map, fi, opt);
    t = rr_image_load(*pool, image, &o, &why);
    *was_there = t != NULL;
    if (t) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(30710)
                     "%s: mapped its compiled table %s", map, image);
        return t;
    }
    /* a missing or stale image is routine; a damaged one is worth a line */
    if (strcmp(why, "missing") != 0 && strncmp(why, "stale", 5) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(30711)
                     "%s: compiled table %s rejected (%s); rebuilding it",
                     map, image, why);
    t = rr_table_load_file(*pool, map, opt, d);
    if (!t)
        return NULL;
    rv = rr_image_write(t, &o, image, ptemp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_INFO, rv, s, APLOGNO(30712)
                     "%s: cannot write its compiled table %s; the table "
                     "stays in this process's memory", map, image);
        return t;
    }
    /* The parsed copy goes before the image is mapped, so that the two
     * are never resident together: the mapping is what every process
     * shares.  Should the image not map, the map is parsed again. */
    mapped = r307_own_pool(apr_pool_parent_get(*pool));
    if (!mapped)
        return t;
    apr_pool_destroy(*pool);
    *pool = mapped;
    t = rr_image_load(mapped, image, &o, &why);
    if (t)
        return t;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(30713)
                 "%s: compiled table %s just written does not map (%s); "
                 "the table stays in memory", map, image, why);
    return rr_table_load_file(mapped, map, opt, d);
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
    const char *cache;
    int k, mapped = 0;

    if (!pool)
        return NULL;
    if (map && fi && (cache = r307_cache_dir_of(s)) != NULL) {
        t = r307_table_via_image(s, &pool, cache, map, fi, opt, d, &mapped,
                                 ptemp);
    }
    else if (map) {
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
        r307_log_lines(s, rr_diag_messages(d, 1, ptemp), APLOG_ERR);
        apr_pool_destroy(pool);
        return NULL;
    }
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->table = t;
    e->loaded = t0;
    if (map) {
        e->name = apr_pstrdup(pool, map);
    }
    else {
        const r307_source *first = APR_ARRAY_IDX(lines, 0, r307_source *);
        e->name = apr_psprintf(pool, "inline rules from %s:%u", first->file,
                               first->line);
    }
    if (fi)
        e->finfo = *fi;
    e->warnings = rr_diag_messages(d, 0, pool);
    e->serial = ++st->serial;
    e->load_seconds = (double)(apr_time_now() - t0) / APR_USEC_PER_SEC;
    e->content_id = map ? rr_image_sum_of(t) : 0;
    e->mapped = mapped;
    return e;
}

static int r307_same_file(const apr_finfo_t *a, const apr_finfo_t *b)
{
    return a->device == b->device && a->inode == b->inode
        && a->size == b->size && a->mtime == b->mtime;
}

/* The cache key of a map (with its file identity in *fi) or of a run of
 * inline rules (keyed by their text). */
static const char *r307_table_key(apr_pool_t *ptemp, const rr_options *opt,
                                  const char *map,
                                  const apr_array_header_t *lines,
                                  apr_finfo_t *fi, int *have_fi)
{
    const char *key;
    int k;
    *have_fi = 0;
    if (map) {
        *have_fi = apr_stat(fi, map, APR_FINFO_IDENT | APR_FINFO_SIZE
                            | APR_FINFO_MTIME, ptemp) == APR_SUCCESS;
        return apr_pstrcat(ptemp, "map:", r307_opt_key(opt), ":", map, NULL);
    }
    key = apr_pstrcat(ptemp, "inline:", r307_opt_key(opt), NULL);
    for (k = 0; k < lines->nelts; k++) {
        const r307_source *src = APR_ARRAY_IDX(lines, k, r307_source *);
        key = apr_psprintf(ptemp, "%s\n%s:%u %s", key, src->file, src->line,
                           src->text);
    }
    return key;
}

/* A restart whose rules became invalid keeps serving the last good table;
 * apachectl -t and a first start have none to keep. */
static const r307_cached_table *r307_keep_last_good(r307_state *st,
                                                    server_rec *s,
                                                    r307_cached_table *e,
                                                    const char *map)
{
    if (!e)
        return NULL;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(30705)
                 "%s: invalid, still serving its last good rules (%u); "
                 "apachectl -t shows the errors", map ? map : "rules",
                 rr_table_count(e->table));
    e->used_pass = st->pass;
    return e;
}

/* Puts `fresh` in the cache under `key`, in place of `old`. */
static void r307_cache_table(r307_state *st, const char *key,
                             r307_cached_table *old,
                             r307_cached_table *fresh)
{
    if (old) {
        /* the hash keeps the old entry's key, which lives in its pool */
        apr_hash_set(st->tables, key, APR_HASH_KEY_STRING, NULL);
        apr_pool_destroy(old->pool);
    }
    fresh->used_pass = st->pass;
    apr_hash_set(st->tables, apr_pstrdup(fresh->pool, key),
                 APR_HASH_KEY_STRING, fresh);
}

/* The table for a map or a run of inline rules: reused while its source
 * is unchanged, rebuilt when it changed, the last good one kept when the
 * rebuild fails in a running server. */
static const r307_cached_table *r307_table_for(r307_state *st,
                                               server_rec *s,
                                               const rr_options *opt,
                                               const char *map,
                                               const apr_array_header_t *lines,
                                               apr_pool_t *ptemp)
{
    r307_cached_table *e, *fresh;
    apr_finfo_t fi;
    int have_fi;
    const char *key = r307_table_key(ptemp, opt, map, lines, &fi, &have_fi);

    e = apr_hash_get(st->tables, key, APR_HASH_KEY_STRING);
    if (e && (!map || (have_fi && r307_same_file(&e->finfo, &fi)))) {
        if (map)
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(30704)
                         "%s: unchanged, reusing its table (%u rules)", map,
                         rr_table_count(e->table));
        /* its warnings were logged when it was parsed: each problem is
         * logged once, not once per pass or per server using it */
        e->used_pass = st->pass;
        st->tables_reused++;
        return e;
    }
    fresh = r307_build_table(st, s, opt, map, lines, have_fi ? &fi : NULL,
                             ptemp);
    if (!fresh) {
        st->reload_ok = 0;
        return r307_keep_last_good(st, s, e, map);
    }
    if (!map)   /* inline rules: the key is their whole text */
        fresh->content_id = r307_cache_hash(key, strlen(key)) | 1;
    st->tables_parsed++;
    if (map)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(30706)
                     "%s: %s %u rules in %.3f s", map,
                     fresh->mapped ? "mapped" : "parsed",
                     rr_table_count(fresh->table), fresh->load_seconds);
    r307_cache_table(st, key, e, fresh);
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
    c->entries = apr_array_make(pconf, 2, sizeof(r307_cached_table *));
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
                APR_ARRAY_PUSH(c->entries, const r307_cached_table *) = e;
                *sig = apr_psprintf(ptemp, "%s %u", *sig, e->serial);
            }
        }
        if (!src)
            break;
        e = r307_table_for(st, s, &opt, src->map, NULL, ptemp);
        if (!e)
            rv = APR_EINVAL;
        else {
            APR_ARRAY_PUSH(c->entries, const r307_cached_table *) = e;
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
    for (hi = apr_hash_first(NULL, st->metrics); hi; hi = apr_hash_next(hi)) {
        r307_cached_metrics *e = apr_hash_this_val(hi);
        if (e->used_pass != st->pass) {
            apr_hash_set(st->metrics, apr_hash_this_key(hi),
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

/* Servers are told apart by name, port and place in the config. */
static const char *r307_server_id(apr_pool_t *p, const server_rec *s)
{
    return apr_psprintf(p, "%s:%u@%s:%d", s->server_hostname,
                        (unsigned)s->port, s->defn_name ? s->defn_name : "",
                        (int)s->defn_line_number);
}

/* The server's Redirect307IgnoreParams, or the built-in list, in pool. */
static const rr_ignore *r307_ignore_list(apr_pool_t *pool,
                                         const r307_server_conf *c)
{
    static const char *const builtin[] = { "default" };
    const char *err;
    if (!c->ignore)
        return rr_ignore_parse(pool, 1, builtin, &err);
    /* the set outlives this configuration pass: it keeps its own copy */
    return rr_ignore_copy(pool, c->ignore);
}

/* A server's own tables, then the ones it inherits, in a new set. */
static rr_set *r307_assemble_set(apr_pool_t *pool, const r307_server_conf *c)
{
    const apr_array_header_t *inherited = c->parent ? c->parent->entries
                                                    : NULL;
    int k, n = c->entries->nelts + (inherited ? inherited->nelts : 0);
    rr_set *set = rr_set_create(pool, n);
    for (k = 0; k < c->entries->nelts; k++)
        rr_set_add(set, APR_ARRAY_IDX(c->entries, k,
                                      r307_cached_table *)->table);
    rr_set_mark_inherited(set);
    for (k = 0; inherited && k < inherited->nelts; k++)
        rr_set_add(set, APR_ARRAY_IDX(inherited, k,
                                      r307_cached_table *)->table);
    return set;
}

/* A set whose check failed (a loop): a running server keeps the last
 * good set of this server, if it is still cached; else NULL. */
static rr_set *r307_keep_last_good_set(r307_state *st, server_rec *s,
                                       const char *id)
{
    r307_cached_set *good = apr_hash_get(st->last_good, id,
                                         APR_HASH_KEY_STRING);
    if (!good || !apr_hash_get(st->sets, good->key, APR_HASH_KEY_STRING))
        return NULL;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(30707)
                 "%s: redirect loop in the new rules; still serving the "
                 "last good ones", id);
    good->used_pass = st->pass;
    return good->set;
}

/* Caches a checked set under `key` and as this server's last good one. */
static void r307_cache_set(r307_state *st, const char *key, const char *id,
                           apr_pool_t *pool, rr_set *set)
{
    r307_cached_set *e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->set = set;
    e->used_pass = st->pass;
    e->key = apr_pstrdup(pool, key);
    apr_hash_set(st->sets, e->key, APR_HASH_KEY_STRING, e);
    apr_hash_set(st->last_good, apr_pstrdup(st->pool, id),
                 APR_HASH_KEY_STRING, e);
}

/* What decides a set's check, by content rather than by this process's
 * serials: the tables' content ids, hosts, mode and ignored parameters.
 * NULL when the verdict cannot be reused (a table of unknown content or
 * with rule windows, or Collapse, whose check computes the answers). */
static const char *r307_verdict_key(apr_pool_t *p, const r307_server_conf *c,
                                    rr_chains_mode mode, const char *hosts,
                                    const char *ignore)
{
    const apr_array_header_t *lists[2];
    const char *key;
    int l, k;
    if (mode == RR_CHAINS_COLLAPSE)
        return NULL;
    key = apr_psprintf(p, "%d|%s|%s|", (int)mode, hosts, ignore);
    lists[0] = c->entries;
    lists[1] = c->parent ? c->parent->entries : NULL;
    for (l = 0; l < 2; l++) {
        for (k = 0; lists[l] && k < lists[l]->nelts; k++) {
            const r307_cached_table *e = APR_ARRAY_IDX(lists[l], k,
                                                       r307_cached_table *);
            /* windows: the check warns of rules expired by now */
            if (!e->content_id || rr_table_has_windows(e->table))
                return NULL;
            key = apr_psprintf(p, "%s %016" APR_UINT64_T_HEX_FMT, key,
                               e->content_id);
        }
        key = apr_pstrcat(p, key, " |", NULL);
    }
    return key;
}

/* The checked set of tables one server consults: chains and loops are
 * analysed once per combination of tables, hosts and mode, and not again
 * in a later process (apachectl -t, a restart) while the tables' content
 * is the same, if the cache directory keeps the verdict. */
static rr_set *r307_set_for(r307_state *st, server_rec *s,
                            const r307_server_conf *c, const char *sig,
                            apr_pool_t *ptemp, int *failed)
{
    apr_array_header_t *hosts = r307_host_names(ptemp, s);
    rr_chains_mode mode = c->chains == R307_UNSET ? RR_CHAINS_WARN
                                                  : (rr_chains_mode)c->chains;
    const char *id = r307_server_id(ptemp, s);
    const char *key = apr_psprintf(ptemp, "%d|%s|%s|%s", (int)mode,
                                   apr_array_pstrcat(ptemp, hosts, ' '),
                                   c->ignore ? rr_ignore_text(c->ignore, ptemp)
                                             : "default", sig);
    r307_cached_set *cached = apr_hash_get(st->sets, key,
                                           APR_HASH_KEY_STRING);
    apr_pool_t *pool;
    rr_set *set, *good;
    rr_diag *d;
    const char *cache = r307_cache_dir_of(s), *vkey;
    apr_array_header_t *warnings;

    if (cached) {
        cached->used_pass = st->pass;       /* warned about when checked */
        return cached->set;
    }
    vkey = cache ? r307_verdict_key(ptemp, c, mode,
                                    apr_array_pstrcat(ptemp, hosts, ' '),
                                    c->ignore ? rr_ignore_text(c->ignore,
                                                               ptemp)
                                              : "default")
                 : NULL;
    pool = r307_own_pool(st->pool);
    if (!pool) {
        *failed = 1;
        return NULL;
    }
    set = r307_assemble_set(pool, c);
    rr_set_ignore(set, r307_ignore_list(pool, c));
    d = rr_diag_create(pool);
    if (vkey && c->entries->nelts > 0
        && r307_cache_verdict_get(ptemp, cache, vkey, &warnings)) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(30714)
                     "%s: rules unchanged since their last check; not "
                     "checked again", id);
        r307_cache_set(st, key, id, pool, set);
        r307_log_lines(s, warnings, APLOG_WARNING);
        return set;
    }
    if (c->entries->nelts > 0
        && rr_set_check(set, hosts, mode, d) != APR_SUCCESS) {
        r307_log_lines(s, rr_diag_messages(d, 0, ptemp), APLOG_WARNING);
        r307_log_lines(s, rr_diag_messages(d, 1, ptemp), APLOG_ERR);
        apr_pool_destroy(pool);
        good = r307_keep_last_good_set(st, s, id);
        st->reload_ok = 0;
        if (!good)
            *failed = 1;
        return good;
    }
    r307_cache_set(st, key, id, pool, set);
    r307_log_lines(s, rr_diag_messages(d, 0, ptemp), APLOG_WARNING);
    if (vkey && c->entries->nelts > 0)
        r307_cache_verdict_put(ptemp, cache, vkey,
                               rr_diag_messages(d, 0, ptemp));
    return set;
}

/* Shared counters live with their table, so hits survive a graceful
 * restart that keeps the table; anonymous shared memory made in the parent
 * is inherited by every child it forks from then on. */
static apr_status_t r307_counters_for(server_rec *s, r307_cached_table *e)
{
    apr_shm_t *shm;
    apr_size_t size;
    apr_status_t rv;
    if (e->counters)
        return APR_SUCCESS;
    size = sizeof(apr_uint64_t) * 2 * ((apr_size_t)rr_table_records(e->table)
                                       + 1);
    rv = apr_shm_create(&shm, size, NULL, e->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(30708)
                     "%s: cannot create %lu bytes of shared memory for hit "
                     "counters", e->name, (unsigned long)size);
        return rv;
    }
    e->counters = apr_shm_baseaddr_get(shm);
    memset(e->counters, 0, size);
    return APR_SUCCESS;
}

static apr_status_t r307_attach_counters(server_rec *s, apr_pool_t *pconf,
                                         r307_server_conf *c)
{
    const apr_array_header_t *lists[2];
    int l, k;
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL)
        return APR_SUCCESS;
    lists[0] = c->entries;
    lists[1] = c->parent ? c->parent->entries : NULL;
    c->counted = apr_array_make(pconf, 4, sizeof(r307_counted));
    for (l = 0; l < 2; l++) {
        for (k = 0; lists[l] && k < lists[l]->nelts; k++) {
            r307_cached_table *e = APR_ARRAY_IDX(lists[l], k,
                                                 r307_cached_table *);
            r307_counted *ct;
            if (r307_counters_for(s, e) != APR_SUCCESS)
                return APR_EGENERAL;
            ct = apr_array_push(c->counted);
            ct->table = e->table;
            ct->counters = e->counters;
        }
    }
    return APR_SUCCESS;
}

/* The server's counters, kept across restarts by server id.  Anonymous
 * shared memory made in the parent is inherited by every child. */
static r307_metrics *r307_metrics_for(r307_state *st, server_rec *s,
                                      apr_pool_t *ptemp)
{
    const char *id = r307_server_id(ptemp, s);
    r307_cached_metrics *e = apr_hash_get(st->metrics, id,
                                          APR_HASH_KEY_STRING);
    apr_shm_t *shm;
    apr_pool_t *pool;
    apr_status_t rv;
    if (e) {
        e->used_pass = st->pass;
        return e->metrics;
    }
    if (!(pool = r307_own_pool(st->pool)))
        return NULL;
    rv = apr_shm_create(&shm, sizeof(r307_metrics), NULL, pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(30709)
                     "%s: cannot create shared memory for counters", id);
        apr_pool_destroy(pool);
        return NULL;
    }
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->metrics = apr_shm_baseaddr_get(shm);
    memset(e->metrics, 0, sizeof(r307_metrics));
    e->used_pass = st->pass;
    apr_hash_set(st->metrics, apr_pstrdup(pool, id), APR_HASH_KEY_STRING, e);
    return e->metrics;
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
    st->reload_ok = 1;
    st->tables_parsed = st->tables_reused = 0;
    for (s = main_s; s; s = s->next) {
        r307_server_conf *c = r307_conf(s);
        const char *sig = "";
        /* A vhost without any Redirect307* directive shares the main
         * server's configuration record (httpd merges nothing into it):
         * it answers with the main server's set, built once. */
        if (s != main_s && c == r307_conf(main_s))
            continue;
        if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL)
            c->metrics = r307_metrics_for(st, s, ptemp);
        c->dir_ignore = r307_ignore_list(pconf, c);
        /* a stats file is kept for the servers that count */
        if (c->stats == R307_UNSET && r307_conf(main_s)->stats_file)
            c->stats = 1;
        if (r307_missed_attach(s, &c->missed, ptemp) != APR_SUCCESS)
            failed = 1;
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
        if (c->stats == 1 && c->set
            && r307_attach_counters(s, pconf, c) != APR_SUCCESS)
            failed = 1;
    }
    if (failed)
        return HTTP_INTERNAL_SERVER_ERROR;
    st->reloaded = apr_time_now();
    r307_sweep(st);
    r307_missed_sweep(main_s);
    return OK;
}

/* Every cached table that has hit counters, each once (a map several
 * virtual hosts use is one table with one set of counters), for the stats
 * file: seeded from it where new, saved at restart, stop and interval. */
static int r307_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    const r307_state *st = r307_get_state(s);
    const r307_server_conf *c = r307_conf(s);
    apr_array_header_t *tables = apr_array_make(ptemp, 8,
                                                sizeof(r307_sf_table));
    apr_hash_index_t *hi;
    (void)plog;
    for (hi = apr_hash_first(ptemp, st->tables); hi; hi = apr_hash_next(hi)) {
        const r307_cached_table *e = apr_hash_this_val(hi);
        r307_sf_table *t;
        if (!e->counters)
            continue;
        t = apr_array_push(tables);
        t->table = e->table;
        t->counters = e->counters;
        t->serial = e->serial;
        t->loaded = e->loaded;
    }
    return r307_statsfile_post_config(pconf, ptemp, s, tables, c->stats_file,
                                      c->stats_interval == R307_UNSET
                                      ? R307_STATS_INTERVAL_DEFAULT
                                      : c->stats_interval);
}

/* ---- request time --------------------------------------------------- */

/* Lock-free: relaxed atomics on shared memory, one add and one store. */
static void r307_count_hit(const r307_server_conf *c, const rr_match *m,
                           apr_time_t now)
{
    const r307_counted *ct = (const r307_counted *)c->counted->elts;
    int k;
    for (k = 0; k < c->counted->nelts; k++) {
        if (ct[k].table == m->table) {
            apr_uint64_t *slot = ct[k].counters + 2 * rr_match_index(m);
            __atomic_fetch_add(slot, 1, __ATOMIC_RELAXED);
            __atomic_store_n(slot + 1, (apr_uint64_t)apr_time_sec(now),
                             __ATOMIC_RELAXED);
            return;
        }
    }
}

static void r307_count_redirect(r307_metrics *mt, int status)
{
    int k;
    for (k = 0; k < R307_STATUSES; k++) {
        if (r307_status_codes[k] == status) {
            __atomic_fetch_add(&mt->redirects[k], 1, __ATOMIC_RELAXED);
            return;
        }
    }
}

/* The headers of a redirect rule m answers with `status`: the Location
 * (NULL for a 410, which has none) built on the request's own scheme,
 * name and port, and Cache-Control for a permanent one under
 * Redirect307MaxAge (max_age >= 0).  Shared with per-directory rules. */
const char *r307_redirect_headers(request_rec *r, const rr_match *m,
                                  int status, long max_age)
{
    const char *base[5], *loc;
    char port[16];
    apr_port_t p;

    if (status == HTTP_GONE)
        return NULL;
    p = ap_get_server_port(r);
    port[0] = '\0';
    if (!ap_is_default_port(p, r))
        apr_snprintf(port, sizeof(port), ":%u", (unsigned)p);
    base[0] = ap_http_scheme(r);
    base[1] = "://";
    base[2] = ap_get_server_name_for_url(r);
    base[3] = port;
    base[4] = NULL;
    loc = rr_match_location_parts(m, r->pool, r->uri, r->args, base);
    apr_table_setn(r->headers_out, "Location", loc);
    if (max_age >= 0 && (status == HTTP_MOVED_PERMANENTLY
                         || status == HTTP_PERMANENT_REDIRECT))
        /* httpd sends err_headers_out with the redirect it builds */
        apr_table_setn(r->err_headers_out, "Cache-Control",
                       apr_psprintf(r->pool, "max-age=%ld", max_age));
    return loc;
}

static int r307_translate_name(request_rec *r)
{
    const r307_server_conf *c = r307_conf(r->server);
    const char *loc, *origin;
    rr_match m;
    int status;

    if (c->engine == 0 || !c->set || r->main || r->prev || r->proxyreq
        || r->uri[0] != '/')
        return DECLINED;
    if (!rr_set_lookup_at(c->set, ap_http_scheme(r), r->hostname, r->uri,
                          strlen(r->uri), r->args, &m)) {
        if (c->metrics)
            __atomic_fetch_add(&c->metrics->misses, 1, __ATOMIC_RELAXED);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "no rule for %s",
                      r->uri);
        return DECLINED;
    }

    status = rr_match_status(&m, c->default_status ? c->default_status
                                                   : HTTP_TEMPORARY_REDIRECT);
    origin = rr_match_origin(&m, r->pool);
    apr_table_setn(r->subprocess_env, "REDIRECT307_RULE", origin);
    if (c->counted)
        r307_count_hit(c, &m, r->request_time);
    if (c->metrics)
        r307_count_redirect(c->metrics, status);
    loc = r307_redirect_headers(r, &m, status, c->max_age);
    /* The body stays unread for the client to send to the new URL; httpd
     * must not wait for it to keep the connection alive. */
    if (ap_request_has_body(r))
        r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(30703)
                  "%s %s -> %d %s (rule %s)", r->method, r->uri, status,
                  loc ? loc : "-", origin);
    return status;
}

/* ---- the status page ------------------------------------------------ */

#define R307_LIST 20            /* rules listed as top hits / never hit */

typedef struct {
    apr_uint64_t hits, last;
    uint32_t idx;
} r307_hit;

typedef struct {
    apr_uint64_t total;         /* hits on all rules */
    uint32_t never;             /* live rules never hit */
    int ntop, nnever;
    r307_hit top[R307_LIST];
    uint32_t never_idx[R307_LIST];
} r307_table_hits;

static void r307_collect_hits(const r307_cached_table *e, r307_table_hits *h)
{
    uint32_t i, n = rr_table_records(e->table);
    memset(h, 0, sizeof(*h));
    for (i = 0; i < n; i++) {
        apr_uint64_t hits = __atomic_load_n(&e->counters[2 * i],
                                            __ATOMIC_RELAXED);
        int k;
        h->total += hits;
        if (hits == 0) {
            if (rr_table_record(e->table, i, NULL, NULL)) {
                if (h->nnever < R307_LIST)
                    h->never_idx[h->nnever++] = i;
                h->never++;
            }
            continue;
        }
        if (h->ntop == R307_LIST && hits <= h->top[R307_LIST - 1].hits)
            continue;
        k = h->ntop < R307_LIST ? h->ntop++ : R307_LIST - 1;
        while (k > 0 && h->top[k - 1].hits < hits) {
            h->top[k] = h->top[k - 1];
            k--;
        }
        h->top[k].hits = hits;
        h->top[k].last = __atomic_load_n(&e->counters[2 * i + 1],
                                         __ATOMIC_RELAXED);
        h->top[k].idx = i;
    }
}

static void r307_json_str(request_rec *r, const char *s)
{
    ap_rputc('"', r);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            ap_rprintf(r, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            ap_rprintf(r, "\\u%04x", ch);
        else
            ap_rputc(ch, r);
    }
    ap_rputc('"', r);
}

static const char *r307_rule_text(request_rec *r, const rr_rule_info *in)
{
    const char *host = !in->host ? ""
        : apr_pstrcat(r->pool, in->scheme ? in->scheme : "",
                      in->scheme ? "://" : "//", in->host, NULL);
    return apr_psprintf(r->pool, "%s%s%s%s%s -> %s%s%s%s", host,
                        in->written ? in->written : in->source,
                        in->kind == RR_KIND_PREFIX ? "/*" : "",
                        in->query ? "?" : "", in->query ? in->query : "",
                        in->target ? in->target : "-",
                        in->status ? apr_psprintf(r->pool, " %d", in->status)
                                   : "",
                        (in->flags & RR_FLAG_NOCASE) ? " nocase" : "",
                        (in->flags & RR_FLAG_QSNONE) ? " qsnone" : "");
}

static void r307_json_rule(request_rec *r, const rr_table *t, uint32_t idx,
                           const r307_hit *hit)
{
    rr_rule_info in;
    rr_table_record(t, idx, r->pool, &in);
    ap_rputs("{\"rule\":", r);
    r307_json_str(r, apr_psprintf(r->pool, "%s:%u", in.file, in.line));
    ap_rputs(",\"redirect\":", r);
    r307_json_str(r, r307_rule_text(r, &in));
    if (hit)
        ap_rprintf(r, ",\"hits\":%" APR_UINT64_T_FMT ",\"last_hit\":%"
                   APR_UINT64_T_FMT, hit->hits, hit->last);
    ap_rputs("}", r);
}

static void r307_html_rule(request_rec *r, const rr_table *t, uint32_t idx,
                           const r307_hit *hit)
{
    rr_rule_info in;
    char when[APR_RFC822_DATE_LEN];
    rr_table_record(t, idx, r->pool, &in);
    ap_rprintf(r, "<tr><td>%s:%u</td><td><code>%s</code></td>",
               ap_escape_html2(r->pool, in.file, 0), in.line,
               ap_escape_html2(r->pool, r307_rule_text(r, &in), 0));
    if (hit) {
        apr_rfc822_date(when, apr_time_from_sec(hit->last));
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td><td>%s</td>", hit->hits,
                   when);
    }
    ap_rputs("</tr>\n", r);
}

/* Hits are shown where the server counts them: a table keeps its counters
 * while cached even if Redirect307Stats was turned off since. */
static void r307_status_table(request_rec *r, const r307_cached_table *e,
                              int json, int stats)
{
    rr_stats st;
    r307_table_hits h;
    int k, counted = stats && e->counters;
    rr_table_stats(e->table, &st);
    if (counted)
        r307_collect_hits(e, &h);
    if (json) {
        ap_rputs("{\"file\":", r);
        r307_json_str(r, e->name);
        ap_rprintf(r, ",\"rules\":%u,\"exact\":%u,\"prefix\":%u,"
                   "\"query\":%u,\"pattern\":%u,\"load_seconds\":%.6f,"
                   "\"bytes\":%lu,\"loaded\":%" APR_TIME_T_FMT, st.rules,
                   st.exact, st.prefix, st.query, st.pattern, e->load_seconds,
                   (unsigned long)st.bytes, apr_time_sec(e->loaded));
        if (counted) {
            ap_rprintf(r, ",\"hits\":%" APR_UINT64_T_FMT ",\"never_hit\":%u,"
                       "\"top\":[", h.total, h.never);
            for (k = 0; k < h.ntop; k++) {
                ap_rputs(k ? "," : "", r);
                r307_json_rule(r, e->table, h.top[k].idx, &h.top[k]);
            }
            ap_rputs("],\"never_hit_sample\":[", r);
            for (k = 0; k < h.nnever; k++) {
                ap_rputs(k ? "," : "", r);
                r307_json_rule(r, e->table, h.never_idx[k], NULL);
            }
            ap_rputs("]", r);
        }
        ap_rputs("}", r);
        return;
    }
    ap_rprintf(r, "<h3>%s</h3>\n<p>%u rules (%u exact, %u prefix, %u query, "
               "%u pattern), loaded in %.3f s, %.1f MiB</p>\n",
               ap_escape_html2(r->pool, e->name, 0), st.rules, st.exact,
               st.prefix, st.query, st.pattern, e->load_seconds,
               (double)st.bytes / (1024.0 * 1024.0));
    if (!counted)
        return;
    ap_rprintf(r, "<p>%" APR_UINT64_T_FMT " hits; %u rules never hit.</p>\n"
               "<table><tr><th>rule</th><th>redirect</th><th>hits</th>"
               "<th>last hit</th></tr>\n", h.total, h.never);
    for (k = 0; k < h.ntop; k++)
        r307_html_rule(r, e->table, h.top[k].idx, &h.top[k]);
    ap_rputs("</table>\n<h4>Never hit</h4>\n<table>\n", r);
    for (k = 0; k < h.nnever; k++)
        r307_html_rule(r, e->table, h.never_idx[k], NULL);
    ap_rputs("</table>\n", r);
}

/* A vhost with no Redirect307* directive of its own shares the main
 * server's record, tables and counters. */
static int r307_shares_main(const server_rec *s, const r307_server_conf *c)
{
    return s != ap_server_conf && c == r307_conf(ap_server_conf);
}

/* What the status page says of a server's rules. */
static const char *r307_server_role(const server_rec *s,
                                    const r307_server_conf *c)
{
    if (c->engine == 0)
        return " (Redirect307Engine Off: answers no redirects)";
    if (s == ap_server_conf)
        return " (main server)";
    if (r307_shares_main(s, c))
        return " (no rules of its own: answers with the main server's rules)";
    return " (its own rules, then the main server's)";
}

/* ---- monitoring: Prometheus and mod_status ---------------------------- */

/* A Prometheus label value: backslash, double quote and newline escaped. */
static const char *r307_prom_label(apr_pool_t *p, const char *v)
{
    char *out = apr_palloc(p, 2 * strlen(v) + 1), *o = out;
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            *o++ = '\\';
            *o++ = *v;
        }
        else if (*v == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *v;
        }
    }
    *o = '\0';
    return out;
}

static const char *r307_server_label(apr_pool_t *p, const server_rec *s)
{
    return r307_prom_label(p, s->port ? apr_psprintf(p, "%s:%u",
                                                     s->server_hostname,
                                                     (unsigned)s->port)
                                      : s->server_hostname);
}

static void r307_prom_head(request_rec *r, const char *name,
                           const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void r307_prom_counters(request_rec *r)
{
    server_rec *s;
    int k;
    r307_prom_head(r, "redirect307_redirects_total", "counter",
                   "Requests answered with a redirect, by server and status.");
    for (s = ap_server_conf; s; s = s->next) {
        const r307_server_conf *c = r307_conf(s);
        if (r307_shares_main(s, c) || !c->metrics)
            continue;
        for (k = 0; k < R307_STATUSES; k++)
            ap_rprintf(r, "redirect307_redirects_total{server=\"%s\","
                       "status=\"%d\"} %" APR_UINT64_T_FMT "\n",
                       r307_server_label(r->pool, s), r307_status_codes[k],
                       __atomic_load_n(&c->metrics->redirects[k],
                                       __ATOMIC_RELAXED));
    }
    r307_prom_head(r, "redirect307_misses_total", "counter",
                   "Requests looked up that matched no rule, by server.");
    for (s = ap_server_conf; s; s = s->next) {
        const r307_server_conf *c = r307_conf(s);
        if (r307_shares_main(s, c) || !c->metrics)
            continue;
        ap_rprintf(r, "redirect307_misses_total{server=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", r307_server_label(r->pool, s),
                   __atomic_load_n(&c->metrics->misses, __ATOMIC_RELAXED));
    }
}

static void r307_prom_tables(request_rec *r, const char *name,
                             const char *help, int bytes)
{
    server_rec *s;
    int k;
    r307_prom_head(r, name, "gauge", help);
    for (s = ap_server_conf; s; s = s->next) {
        const r307_server_conf *c = r307_conf(s);
        if (r307_shares_main(s, c))
            continue;
        for (k = 0; c->entries && k < c->entries->nelts; k++) {
            const r307_cached_table *e = APR_ARRAY_IDX(c->entries, k,
                                                       r307_cached_table *);
            rr_stats st;
            rr_table_stats(e->table, &st);
            ap_rprintf(r, "%s{server=\"%s\",table=\"%s\"} %lu\n", name,
                       r307_server_label(r->pool, s),
                       r307_prom_label(r->pool, e->name),
                       bytes ? (unsigned long)st.bytes
                             : (unsigned long)st.rules);
        }
    }
}

/* redirect307-status?metrics: the Prometheus text exposition format. */
static void r307_metrics_page(request_rec *r)
{
    const r307_state *st = r307_get_state(r->server);
    r307_prom_counters(r);
    r307_prom_tables(r, "redirect307_rules", "Rules loaded, by server and "
                     "table (a rules file or a run of inline rules).", 0);
    r307_prom_tables(r, "redirect307_table_bytes", "Memory held by a table, "
                     "in bytes.", 1);
    r307_prom_head(r, "redirect307_last_reload_timestamp_seconds", "gauge",
                   "When the configuration was last read (start or "
                   "restart), in seconds since the epoch.");
    ap_rprintf(r, "redirect307_last_reload_timestamp_seconds %.3f\n",
               (double)st->reloaded / APR_USEC_PER_SEC);
    r307_prom_head(r, "redirect307_last_reload_success", "gauge",
                   "1 if the last reload loaded every rules file, 0 if some "
                   "kept their last good rules.");
    ap_rprintf(r, "redirect307_last_reload_success %d\n", st->reload_ok);
    r307_prom_head(r, "redirect307_tables_reused", "gauge",
                   "Tables reused unchanged at the last reload.");
    ap_rprintf(r, "redirect307_tables_reused %u\n", st->tables_reused);
    r307_prom_head(r, "redirect307_tables_parsed", "gauge",
                   "Tables parsed anew at the last reload.");
    ap_rprintf(r, "redirect307_tables_parsed %u\n", st->tables_parsed);
}

/* Sums over the servers for mod_status: each table once. */
typedef struct {
    apr_uint64_t redirects[R307_STATUSES];
    apr_uint64_t misses;
    unsigned long rules, bytes;
} r307_totals;

static void r307_sum(apr_pool_t *p, r307_totals *t)
{
    apr_hash_t *seen = apr_hash_make(p);
    server_rec *s;
    int k;
    memset(t, 0, sizeof(*t));
    for (s = ap_server_conf; s; s = s->next) {
        const r307_server_conf *c = r307_conf(s);
        if (r307_shares_main(s, c))
            continue;
        for (k = 0; c->metrics && k < R307_STATUSES; k++)
            t->redirects[k] += __atomic_load_n(&c->metrics->redirects[k],
                                               __ATOMIC_RELAXED);
        if (c->metrics)
            t->misses += __atomic_load_n(&c->metrics->misses,
                                         __ATOMIC_RELAXED);
        for (k = 0; c->entries && k < c->entries->nelts; k++) {
            const r307_cached_table *e = APR_ARRAY_IDX(c->entries, k,
                                                       r307_cached_table *);
            rr_stats st;
            if (apr_hash_get(seen, &e->table, sizeof(e->table)))
                continue;
            apr_hash_set(seen, &e->table, sizeof(e->table), e);
            rr_table_stats(e->table, &st);
            t->rules += st.rules;
            t->bytes += (unsigned long)st.bytes;
        }
    }
}

/* mod_status's hook: a section on /server-status, Redirect307* lines on
 * /server-status?auto. */
static int r307_mod_status(request_rec *r, int flags)
{
    const r307_state *st = r307_get_state(r->server);
    r307_totals t;
    int k;
    r307_sum(r->pool, &t);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "Redirect307Rules: %lu\nRedirect307TableBytes: %lu\n",
                   t.rules, t.bytes);
        for (k = 0; k < R307_STATUSES; k++)
            ap_rprintf(r, "Redirect307Redirects%d: %" APR_UINT64_T_FMT "\n",
                       r307_status_codes[k], t.redirects[k]);
        ap_rprintf(r, "Redirect307Misses: %" APR_UINT64_T_FMT "\n"
                   "Redirect307TablesReused: %u\n"
                   "Redirect307TablesParsed: %u\n"
                   "Redirect307LastReloadOK: %d\n", t.misses,
                   st->tables_reused, st->tables_parsed, st->reload_ok);
        return OK;
    }
    ap_rputs("<hr /><h2>mod_redirect307</h2>\n<table><tr><th>rules</th>"
             "<th>table memory</th>", r);
    for (k = 0; k < R307_STATUSES; k++)
        ap_rprintf(r, "<th>%d</th>", r307_status_codes[k]);
    ap_rprintf(r, "<th>misses</th><th>tables reused / parsed at the last "
               "reload</th></tr>\n<tr><td>%lu</td><td>%.1f MiB</td>",
               t.rules, (double)t.bytes / (1024.0 * 1024.0));
    for (k = 0; k < R307_STATUSES; k++)
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>", t.redirects[k]);
    ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td><td>%u / %u%s</td></tr>"
               "</table>\n", t.misses, st->tables_reused,
               st->tables_parsed, st->reload_ok ? ""
               : " (some rules kept their last good table)");
    return OK;
}

static int r307_status_handler(request_rec *r)
{
    server_rec *s;
    int json, first = 1, rv;
    if (!r->handler || strcmp(r->handler, "redirect307-status"))
        return DECLINED;
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if ((rv = r307_missed_rules_page(r)) != DECLINED)  /* ?missed=rules */
        return rv;
    json = r->args && !strcmp(r->args, "json");
    /* redirect307 prune --stats URL: the stats file of the live counters */
    if (r->args && !strcmp(r->args, "stats"))
        return r307_statsfile_answer(r);
    /* Prometheus's params: {metrics: [""]} asks for "?metrics=" */
    if (r->args && (!strcmp(r->args, "metrics")
                    || !strcmp(r->args, "metrics="))) {
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
        if (!r->header_only)
            r307_metrics_page(r);
        return OK;
    }
    ap_set_content_type(r, json ? "application/json"
                                : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    ap_rputs(json ? "{\"servers\":[" : "<!DOCTYPE html>\n<html><head><title>"
             "mod_redirect307 status</title></head><body>\n"
             "<h1>mod_redirect307 status</h1>\n", r);
    for (s = ap_server_conf; s; s = s->next) {
        const r307_server_conf *c = r307_conf(s);
        const char *name = s->port
            ? apr_psprintf(r->pool, "%s:%u", s->server_hostname,
                           (unsigned)s->port)
            : s->server_hostname;
        int k;
        if (json) {
            ap_rputs(first ? "{\"server\":" : ",{\"server\":", r);
            r307_json_str(r, name);
            ap_rprintf(r, ",\"engine\":%s,\"stats\":%s,\"inherits_main\":"
                       "%s,\"tables\":[", c->engine == 0 ? "false" : "true",
                       c->stats == 1 ? "true" : "false",
                       s != ap_server_conf ? "true" : "false");
        }
        else {
            ap_rprintf(r, "<h2>%s%s</h2>\n", ap_escape_html2(r->pool, name, 0),
                       r307_server_role(s, c));
        }
        first = 0;
        for (k = 0; !r307_shares_main(s, c) && c->entries
                    && k < c->entries->nelts; k++) {
            if (json && k)
                ap_rputs(",", r);
            r307_status_table(r, APR_ARRAY_IDX(c->entries, k,
                                               r307_cached_table *), json,
                              c->stats == 1);
        }
        ap_rputs(json ? "]" : "", r);
        r307_missed_status(r, s, json);     /* Redirect307Missed */
        ap_rputs(json ? "}" : "", r);
    }
    ap_rputs(json ? "]" : "", r);
    r307_dir_status(r, json);       /* the .htaccess map cache */
    ap_rputs(json ? "}\n" : "</body></html>\n", r);
    return OK;
}

static void r307_register_hooks(apr_pool_t *p)
{
    /* Ahead of mod_alias and mod_rewrite, which would otherwise map the
     * old URL first. */
    static const char *const succ[] = { "mod_alias.c", "mod_rewrite.c",
                                        NULL };
    /* Per-directory rules answer in fixups, as mod_alias's do, and ahead
     * of mod_rewrite's per-directory rules (a WordPress .htaccess) */
    static const char *const dir_succ[] = { "mod_rewrite.c", "mod_alias.c",
                                            NULL };
    (void)p;
    ap_hook_pre_config(r307_dir_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(r307_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(r307_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(r307_dir_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(r307_dir_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(r307_dir_fixups, NULL, dir_succ, APR_HOOK_FIRST);
    ap_hook_monitor(r307_statsfile_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(r307_translate_name, NULL, succ,
                           APR_HOOK_FIRST);
    ap_hook_handler(r307_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Once a request is done, whoever answered it and through whatever
     * internal redirects: its final status decides if it was missed. */
    ap_hook_log_transaction(r307_missed_log_transaction, NULL, NULL,
                            APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, r307_mod_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(redirect307) = {
    STANDARD20_MODULE_STUFF,
    r307_dir_create,            /* per-directory config creator */
    r307_dir_merge,             /* per-directory config merger */
    r307_create_server_conf,
    r307_merge_server_conf,
    r307_cmds,
    r307_register_hooks,
    AP_MODULE_FLAG_NONE
};
