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

static const char *r307_cmd_map(cmd_parms *cmd, void *dummy, const char *arg)
{
    r307_server_conf *c = r307_conf(cmd->server);
    r307_source *src;
    const char *path = ap_server_root_relative(cmd->pool, arg);
    (void)dummy;
    if (!path)
        return apr_psprintf(cmd->pool, "%s: invalid rules-file path '%s'",
                            r307_where(cmd), arg);
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

static void r307_log_diag(server_rec *s, const rr_diag *d)
{
    int k;
    for (k = 0; k < d->warnings->nelts; k++)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(30701) "%s",
                     APR_ARRAY_IDX(d->warnings, k, const char *));
    for (k = 0; k < d->errors->nelts; k++)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(30702) "%s",
                     APR_ARRAY_IDX(d->errors, k, const char *));
}

/* Builds a server's own tables in directive order: each map is a table,
 * and each run of inline rules between maps is one. */
static apr_status_t r307_build_own(apr_pool_t *pconf, r307_server_conf *c,
                                   rr_diag *d)
{
    rr_options opt;
    rr_builder *inline_b = NULL;
    apr_status_t rv = APR_SUCCESS;
    int k;

    opt.case_insensitive = c->match_case == 0;
    opt.trailing_strict = c->trailing_strict == 1;
    c->tables = apr_array_make(pconf, 2, sizeof(const rr_table *));
    for (k = 0; k <= c->sources->nelts; k++) {
        const r307_source *src = k < c->sources->nelts
            ? &APR_ARRAY_IDX(c->sources, k, r307_source) : NULL;
        rr_table *t;
        if (src && src->text) {
            if (!inline_b)
                inline_b = rr_builder_create(pconf, &opt);
            if (rr_builder_add_line(inline_b, src->file, src->line,
                                    src->text, strlen(src->text), d))
                rv = APR_EINVAL;
            continue;
        }
        if (inline_b) {
            t = rr_builder_freeze(inline_b, pconf, d);
            inline_b = NULL;
            if (t)
                APR_ARRAY_PUSH(c->tables, const rr_table *) = t;
        }
        if (!src)
            break;
        t = rr_table_load_file(pconf, src->map, &opt, d);
        if (!t)
            rv = APR_EINVAL;
        else
            APR_ARRAY_PUSH(c->tables, const rr_table *) = t;
    }
    return rv;
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

static int r307_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *main_s)
{
    server_rec *s;
    int failed = 0;
    (void)plog;

    for (s = main_s; s; s = s->next) {
        r307_server_conf *c = r307_conf(s);
        const apr_array_header_t *inherited = NULL;
        rr_diag *d = rr_diag_create(ptemp);
        int k, n;

        if (r307_build_own(pconf, c, d) != APR_SUCCESS) {
            r307_log_diag(s, d);
            failed = 1;
            continue;
        }
        if (c->parent && c->parent->tables)
            inherited = c->parent->tables;
        n = c->tables->nelts + (inherited ? inherited->nelts : 0);
        c->set = rr_set_create(pconf, n);
        for (k = 0; k < c->tables->nelts; k++)
            rr_set_add(c->set, APR_ARRAY_IDX(c->tables, k, const rr_table *));
        rr_set_mark_inherited(c->set);
        for (k = 0; inherited && k < inherited->nelts; k++)
            rr_set_add(c->set, APR_ARRAY_IDX(inherited, k, const rr_table *));
        if (c->tables->nelts > 0
            && rr_set_check(c->set, r307_host_names(ptemp, s),
                            c->chains == R307_UNSET ? RR_CHAINS_WARN
                                                    : (rr_chains_mode)c->chains,
                            d) != APR_SUCCESS)
            failed = 1;
        r307_log_diag(s, d);
    }
    return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
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
