/*
 * r307_missed.c - Redirect307Missed: which paths a virtual host answered
 * 404, whoever answered them (the static handler, mod_rewrite, a CGI, an
 * ErrorDocument), so that an administrator can see which old URLs still
 * need a redirect and get them as a rules-file skeleton.
 *
 * The log_transaction hook sees every request once it is done, with the
 * final status at the end of its internal-redirect chain (r->next, as
 * mod_log_config's %>s): a 404 is counted by the decoded path of the
 * request the client sent, in that server's r307_topk table (shared
 * memory made by the parent in check_config, inherited by every child,
 * kept across graceful restarts by server id).  The status handler lists
 * the tables (HTML, JSON) and writes ?missed=rules.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_fnmatch.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include "redirect_rules.h"
#include "r307_missed.h"
#include "r307_topk.h"

APLOG_USE_MODULE(redirect307);

/* ---- configuration ---------------------------------------------------- */

void r307_missed_conf_init(r307_missed_conf *m)
{
    m->on = -1;
    m->size = 0;
    m->ignore = NULL;
    m->table = NULL;
}

void r307_missed_conf_merge(apr_pool_t *p, r307_missed_conf *out,
                            const r307_missed_conf *base,
                            const r307_missed_conf *add)
{
    out->on = add->on != -1 ? add->on : base->on;
    out->size = add->size ? add->size : base->size;
    if (add->ignore && base->ignore)
        out->ignore = apr_array_append(p, add->ignore, base->ignore);
    else
        out->ignore = add->ignore ? add->ignore : base->ignore;
    out->table = NULL;
}

static const char *r307_missed_where(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                        cmd->directive->line_num);
}

const char *r307_missed_cmd_on(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    r307_missed_conf_of(cmd->server)->on = on;
    return NULL;
}

const char *r307_missed_cmd_size(cmd_parms *cmd, void *dummy,
                                 const char *arg)
{
    char *end;
    apr_int64_t n = apr_strtoi64(arg, &end, 10);
    (void)dummy;
    if (!apr_isdigit(*arg) || *end || n < 1 || n > R307_TOPK_MAX)
        return apr_psprintf(cmd->pool, "%s: Redirect307MissedSize takes a "
                            "number of paths from 1 to %d, not '%s'",
                            r307_missed_where(cmd), R307_TOPK_MAX, arg);
    r307_missed_conf_of(cmd->server)->size = (int)n;
    return NULL;
}

const char *r307_missed_cmd_ignore(cmd_parms *cmd, void *dummy,
                                   const char *arg)
{
    r307_missed_conf *m = r307_missed_conf_of(cmd->server);
    (void)dummy;
    /* a path starts with '/': a pattern starting otherwise must start
     * with a wildcard to ever match */
    if (!strchr("/*?[", arg[0]))
        return apr_psprintf(cmd->pool, "%s: Redirect307MissedIgnore '%s' "
                            "never matches: paths start with / (write "
                            "/%s or *%s)", r307_missed_where(cmd), arg, arg,
                            arg);
    if (!m->ignore)
        m->ignore = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(m->ignore, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* ---- tables that outlive a configuration pass -------------------------
 * Kept in the process pool's userdata, as mod_redirect307.c keeps its
 * rules tables: a table lives in its own pool (its shared memory goes
 * back to the system when the pool is destroyed) and is swept after a
 * pass that no server took it in.  Children of an older generation keep
 * their own mapping of it until they exit. */

typedef struct {
    apr_pool_t *pool;
    r307_topk *table;
    apr_uint32_t size;
    unsigned used_pass;
} r307_missed_cached;

typedef struct {
    apr_pool_t *pool;
    apr_hash_t *tables;         /* r307_missed_key -> r307_missed_cached */
    unsigned pass;
} r307_missed_state;

/* The key names the layout of the state, so that a rebuilt module never
 * reads an older one's. */
#define R307_MISSED_STATE_KEY "redirect307-missed-state-1"

static r307_missed_state *r307_missed_state_get(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    r307_missed_state *st;
    apr_pool_userdata_get(&data, R307_MISSED_STATE_KEY, pp);
    if (data)
        return data;
    st = apr_pcalloc(pp, sizeof(*st));
    apr_pool_create(&st->pool, pp);
    st->tables = apr_hash_make(st->pool);
    st->pass = 1;
    apr_pool_userdata_set(st, R307_MISSED_STATE_KEY, apr_pool_cleanup_null,
                          pp);
    return st;
}

static apr_uint64_t r307_missed_seed(void)
{
    apr_uint64_t seed = (apr_uint64_t)apr_time_now();
#if APR_HAS_RANDOM
    apr_uint64_t r;
    if (apr_generate_random_bytes((unsigned char *)&r, sizeof(r))
        == APR_SUCCESS)
        seed ^= r;
#endif
    return seed;
}

static r307_missed_cached *r307_missed_create(r307_missed_state *st,
                                              server_rec *s, const char *id,
                                              apr_uint32_t size)
{
    apr_size_t bytes = r307_topk_bytes(size);
    r307_missed_cached *e;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;

    apr_pool_create(&pool, st->pool);
    rv = apr_shm_create(&shm, bytes, NULL, pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(30750)
                     "%s: cannot create %lu bytes of shared memory for "
                     "Redirect307MissedSize %u", id, (unsigned long)bytes,
                     (unsigned)size);
        apr_pool_destroy(pool);
        return NULL;
    }
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->size = size;
    e->table = r307_topk_init(apr_shm_baseaddr_get(shm), size,
                              r307_missed_seed());
    apr_hash_set(st->tables, apr_pstrdup(pool, id), APR_HASH_KEY_STRING, e);
    return e;
}

static void r307_missed_drop(r307_missed_state *st, const char *id,
                             r307_missed_cached *e)
{
    /* the hash holds the entry's key, which lives in its pool */
    apr_hash_set(st->tables, id, APR_HASH_KEY_STRING, NULL);
    apr_pool_destroy(e->pool);
}

/* A server's table is kept under its name and the addresses of its
 * <VirtualHost>, not its place in the configuration: a line added above it
 * (a Redirect307Map in the vhost before it, say) keeps its counts.  The
 * n-th server with the same name and addresses gets "#n".  Sets *e to the
 * table kept under the key, if any and not taken yet in this pass. */
static const char *r307_missed_key(apr_pool_t *p, r307_missed_state *st,
                                   const server_rec *s,
                                   r307_missed_cached **e)
{
    const server_addr_rec *a;
    const char *base = s->server_hostname ? s->server_hostname : "";
    const char *key;
    int n;
    for (a = s->addrs; a; a = a->next)
        base = apr_psprintf(p, "%s %s:%u", base, a->virthost ? a->virthost
                            : "", (unsigned)a->host_port);
    for (n = 1, key = base; ; key = apr_psprintf(p, "%s #%d", base, ++n)) {
        *e = apr_hash_get(st->tables, key, APR_HASH_KEY_STRING);
        if (!*e || (*e)->used_pass != st->pass)
            return key;
    }
}

apr_status_t r307_missed_attach(server_rec *s, r307_missed_conf *m,
                                apr_pool_t *ptemp)
{
    apr_uint32_t size = m->size ? (apr_uint32_t)m->size
                                : R307_MISSED_DEFAULT_SIZE;
    r307_missed_state *st;
    r307_missed_cached *e;
    const char *id;

    m->table = NULL;
    if (m->on != 1 || ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL)
        return APR_SUCCESS;
    st = r307_missed_state_get(s);
    id = r307_missed_key(ptemp, st, s, &e);
    if (e && !r307_topk_fits(e->table, size)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(30751)
                     "%s: Redirect307MissedSize is now %u (was %u): its "
                     "missed URLs are counted afresh", id, (unsigned)size,
                     (unsigned)e->size);
        r307_missed_drop(st, id, e);
        e = NULL;
    }
    if (!e && !(e = r307_missed_create(st, s, id, size)))
        return APR_ENOMEM;
    e->used_pass = st->pass;
    m->table = e->table;
    return APR_SUCCESS;
}

void r307_missed_sweep(server_rec *main_s)
{
    r307_missed_state *st = r307_missed_state_get(main_s);
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, st->tables); hi; hi = apr_hash_next(hi)) {
        r307_missed_cached *e = apr_hash_this_val(hi);
        if (e->used_pass != st->pass)
            r307_missed_drop(st, apr_hash_this_key(hi), e);
    }
    st->pass++;
}

/* ---- request time ----------------------------------------------------- */

/* The host of the Referer header, lower-cased, printable ASCII (anything
 * else a '?'), in r->pool; NULL without one. */
static const char *r307_missed_referrer(request_rec *r, apr_size_t *len)
{
    const char *ref = apr_table_get(r->headers_in, "Referer");
    apr_uri_t u;
    char *h;
    if (!ref || apr_uri_parse(r->pool, ref, &u) != APR_SUCCESS
        || !u.hostname || !*u.hostname)
        return NULL;
    for (h = u.hostname; *h; h++) {
        unsigned char ch = (unsigned char)*h;
        *h = ch < 0x21 || ch > 0x7e ? '?' : (char)apr_tolower(ch);
    }
    *len = (apr_size_t)(h - u.hostname);
    return u.hostname;
}

static int r307_missed_ignored(const r307_missed_conf *m, const char *path)
{
    int k;
    for (k = 0; m->ignore && k < m->ignore->nelts; k++) {
        if (apr_fnmatch(APR_ARRAY_IDX(m->ignore, k, const char *), path, 0)
            == APR_SUCCESS)
            return 1;
    }
    return 0;
}

/* Only 404s come here. */
static void r307_missed_count(request_rec *r)
{
    const r307_missed_conf *m;
    const char *path, *host;
    apr_size_t host_len = 0;

    while (r->prev)             /* the request the client sent */
        r = r->prev;
    m = r307_missed_conf_of(r->server);
    if (!m->table)
        return;
    /* parsed_uri.path is r->uri as httpd decoded and normalised it; a
     * module may since have pointed r->uri elsewhere (mod_rewrite's PT) */
    path = r->parsed_uri.path ? r->parsed_uri.path : r->uri;
    if (!path || path[0] != '/')
        return;
    if (r307_missed_ignored(m, path)) {
        r307_topk_ignore(m->table);
        return;
    }
    host = r307_missed_referrer(r, &host_len);
    r307_topk_count(m->table, path, strlen(path), host, host_len,
                    (apr_uint64_t)apr_time_sec(r->request_time));
}

int r307_missed_log_transaction(request_rec *r)
{
    const request_rec *last = r;
    while (last->next)
        last = last->next;
    if (last->status == HTTP_NOT_FOUND)
        r307_missed_count(r);
    return DECLINED;
}

/* ---- the status page -------------------------------------------------- */

static const char *r307_missed_name(apr_pool_t *p, const server_rec *s)
{
    return s->port ? apr_psprintf(p, "%s:%u", s->server_hostname,
                                  (unsigned)s->port)
                   : s->server_hostname;
}

/* A vhost without Redirect307* directives shares the main server's record
 * and so its table: listed once, with the main server. */
static const r307_missed_conf *r307_missed_own(const server_rec *s)
{
    const r307_missed_conf *m = r307_missed_conf_of(s);
    if (s != ap_server_conf && m == r307_missed_conf_of(ap_server_conf))
        return NULL;
    return m;
}

static void r307_missed_iso(char buf[32], apr_uint64_t sec)
{
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, apr_time_from_sec((apr_time_t)sec));
    apr_snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

/* A JSON string of bytes from a request: unlike the status page's
 * r307_json_str, invalid UTF-8 becomes U+FFFD, so the document stays
 * JSON whatever a client sent. */
static void r307_missed_json_str(request_rec *r, const char *s, apr_size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, len;
    ap_rputc('"', r);
    while (i < n) {
        if (u[i] == '"' || u[i] == '\\')
            ap_rprintf(r, "\\%c", u[i++]);
        else if (u[i] < 0x20 || u[i] == 0x7f)
            ap_rprintf(r, "\\u%04x", u[i++]);
        else if (u[i] < 0x80)
            ap_rputc(u[i++], r);
        else if ((len = rr_utf8_len(s + i, n - i)) > 0) {
            ap_rwrite(u + i, (int)len, r);
            i += len;
        }
        else {
            ap_rputs("\\ufffd", r);
            i++;
        }
    }
    ap_rputc('"', r);
}

/* The path as a rules file's SOURCE: percent-encoded where a raw byte
 * could not stand (space, '#', '?', '%', controls, non-ASCII). */
static const char *r307_missed_source(apr_pool_t *p, const r307_topk_entry *e)
{
    return rr_escape_path(p, e->str, e->len);
}

static void r307_missed_json_entry(request_rec *r, apr_pool_t *tmp,
                                   const r307_topk_entry *e, int has_rule)
{
    const char *src = r307_missed_source(tmp, e);
    ap_rputs("{\"path\":", r);
    r307_missed_json_str(r, e->str, e->len);
    ap_rputs(",\"source\":", r);
    r307_missed_json_str(r, src, strlen(src));
    ap_rprintf(r, ",\"count\":%" APR_UINT64_T_FMT ",\"error\":%"
               APR_UINT64_T_FMT ",\"first\":%" APR_UINT64_T_FMT
               ",\"last\":%" APR_UINT64_T_FMT ",\"referrer\":", e->count,
               e->error, e->first, e->last);
    if (e->ref_len)
        r307_missed_json_str(r, e->ref, e->ref_len);
    else
        ap_rputs("null", r);
    ap_rprintf(r, ",\"truncated\":%s,\"has_rule\":%s}",
               e->truncated ? "true" : "false", has_rule ? "true" : "false");
}

static void r307_missed_html_entry(request_rec *r, apr_pool_t *tmp,
                                   const r307_topk_entry *e, int has_rule)
{
    char first[APR_RFC822_DATE_LEN], last[APR_RFC822_DATE_LEN];
    apr_rfc822_date(first, apr_time_from_sec((apr_time_t)e->first));
    apr_rfc822_date(last, apr_time_from_sec((apr_time_t)e->last));
    ap_rprintf(r, "<tr><td><code>%s</code>%s%s</td><td>%" APR_UINT64_T_FMT,
               ap_escape_html2(tmp, r307_missed_source(tmp, e), 0),
               e->truncated ? "&hellip; (cut)" : "",
               has_rule ? " (a rule answers it now)" : "", e->count);
    if (e->error)
        ap_rprintf(r, " (up to %" APR_UINT64_T_FMT " more before)",
                   e->error);
    ap_rprintf(r, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", first,
               last, e->ref_len ? ap_escape_html2(tmp, e->ref, 0) : "-");
}

typedef void (*r307_missed_entry_fn)(request_rec *r, apr_pool_t *tmp,
                                     const r307_topk_entry *e, int has_rule);

/* Calls fn for each path server s lists, most requested first, with
 * has_rule set for a path one of its rules answers since (a path deployed
 * after it was counted: it stops growing but keeps its place), and a
 * scratch pool cleared after each.  With `pending`, those are left out and
 * counted in *answered.  Returns how many fn was called for. */
static int r307_missed_each(request_rec *r, const server_rec *s,
                            const r307_topk *t, r307_missed_entry_fn fn,
                            const char *sep, int pending, int *answered)
{
    r307_topk_rank *ranks;
    r307_topk_entry e;
    apr_pool_t *tmp;
    int k, done = 0, n = r307_topk_rank_get(t, r->pool, &ranks);
    apr_pool_create(&tmp, r->pool);
    for (k = 0; k < n; k++) {
        int has_rule;
        if (!r307_topk_read(t, &ranks[k], &e))
            continue;
        has_rule = !e.truncated && r307_missed_has_rule(s, e.str, e.len);
        if (has_rule && pending) {
            ++*answered;
            continue;
        }
        if (done++ && sep)
            ap_rputs(sep, r);
        fn(r, tmp, &e, has_rule);
        apr_pool_clear(tmp);
    }
    apr_pool_destroy(tmp);
    return done;
}

static void r307_missed_json(request_rec *r, const server_rec *s,
                             const r307_missed_conf *m)
{
    r307_topk_totals tot;
    ap_rputs(",\"missed\":[", r);
    if (!m || !m->table) {
        ap_rputs("]", r);
        return;
    }
    r307_missed_each(r, s, m->table, r307_missed_json_entry, ",", 0, NULL);
    r307_topk_totals_get(m->table, &tot);
    ap_rprintf(r, "],\"missed_table\":{\"size\":%u,\"slots\":%u,\"bytes\":%lu,"
               "\"counted\":%" APR_UINT64_T_FMT ",\"ignored\":%"
               APR_UINT64_T_FMT ",\"dropped\":%" APR_UINT64_T_FMT "}",
               (unsigned)r307_topk_listed(m->table),
               (unsigned)r307_topk_slots(m->table),
               (unsigned long)r307_topk_bytes(r307_topk_listed(m->table)),
               tot.counted, tot.ignored, tot.dropped);
}

static void r307_missed_html(request_rec *r, const server_rec *s,
                             const r307_missed_conf *m)
{
    r307_topk_totals tot;
    const r307_topk *t = m->table;
    r307_topk_totals_get(t, &tot);
    ap_rprintf(r, "<h3>Missed URLs (404)</h3>\n<p>%" APR_UINT64_T_FMT
               " 404s counted, %" APR_UINT64_T_FMT " left out by "
               "Redirect307MissedIgnore. The %u most requested paths are "
               "listed, from a table of %u in %lu bytes of shared memory; "
               "as a rules file: <a href=\"?missed=rules&amp;server=%s\">"
               "?missed=rules</a>.</p>\n<table><tr><th>path</th>"
               "<th>requests</th><th>first</th><th>last</th><th>most "
               "frequent referrer</th></tr>\n", tot.counted, tot.ignored,
               (unsigned)r307_topk_listed(t), (unsigned)r307_topk_slots(t),
               (unsigned long)r307_topk_bytes(r307_topk_listed(t)),
               ap_escape_html2(r->pool, ap_escape_uri(r->pool,
                               r307_missed_name(r->pool, s)), 0));
    r307_missed_each(r, s, t, r307_missed_html_entry, NULL, 0, NULL);
    ap_rputs("</table>\n", r);
}

void r307_missed_status(request_rec *r, const server_rec *s, int json)
{
    const r307_missed_conf *m = r307_missed_own(s);
    if (json) {
        r307_missed_json(r, s, m);
        return;
    }
    if (!m) {
        if (r307_missed_conf_of(s)->table)
            ap_rputs("<p>Missed URLs are counted with the main "
                     "server's.</p>\n", r);
        return;
    }
    if (m->table)
        r307_missed_html(r, s, m);
}

/* ---- ?missed=rules ---------------------------------------------------- */

static void r307_missed_rule_line(request_rec *r, apr_pool_t *tmp,
                                  const r307_topk_entry *e, int has_rule)
{
    char when[32];
    (void)has_rule;     /* never: they are left out */
    r307_missed_iso(when, e->last);
    /* a cut path is no source of its own: left commented out */
    ap_rprintf(r, "%s%s  TARGET-HERE  # %" APR_UINT64_T_FMT " requests, "
               "last %s%s\n", e->truncated ? "# " : "",
               r307_missed_source(tmp, e), e->count, when,
               e->truncated ? apr_psprintf(tmp, " (path longer than %d "
                                           "bytes, cut)", R307_TOPK_STR)
                            : "");
}

/* Is this ?missed=rules?  *server: the value of server=, or NULL. */
static int r307_missed_rules_args(request_rec *r, const char **server)
{
    char *args, *tok, *state;
    int rules = 0;
    *server = NULL;
    if (!r->args)
        return 0;
    args = apr_pstrdup(r->pool, r->args);
    for (tok = apr_strtok(args, "&", &state); tok;
         tok = apr_strtok(NULL, "&", &state)) {
        if (!strcmp(tok, "missed=rules"))
            rules = 1;
        else if (!strncmp(tok, "server=", 7)) {
            ap_unescape_url(tok + 7);
            *server = tok + 7;
        }
    }
    return rules;
}

int r307_missed_rules_page(request_rec *r)
{
    const char *want;
    server_rec *s;
    int found = 0;
    if (!r307_missed_rules_args(r, &want))
        return DECLINED;
    for (s = ap_server_conf; s; s = s->next) {
        const r307_missed_conf *m = r307_missed_own(s);
        const char *name = r307_missed_name(r->pool, s);
        int n, answered = 0;
        if (!m || !m->table || (want && strcmp(want, name)
                                && strcmp(want, s->server_hostname)))
            continue;
        if (!found++) {
            ap_set_content_type(r, "text/plain; charset=utf-8");
            apr_table_setn(r->headers_out, "Cache-Control", "no-store");
            if (r->header_only)
                return OK;
        }
        ap_rprintf(r, "# %s: paths answered 404, most requested first\n",
                   name);
        n = r307_missed_each(r, s, m->table, r307_missed_rule_line, NULL, 1,
                             &answered);
        if (answered)
            ap_rprintf(r, "# (and %d that a rule answers now)\n", answered);
        else if (!n)
            ap_rputs("# (none yet)\n", r);
    }
    if (!found)
        return HTTP_NOT_FOUND;
    return OK;
}
