/*
 * r307_statsfile.c - Redirect307StatsFile: hit counts that outlive
 * restarts (see r307_statsfile.h for when it loads and saves, and
 * r307_statsfmt.h for the file).
 *
 * Two lifetimes meet here.  What must outlive a configuration pass (which
 * tables' counters are already accounted for, when the history began,
 * what was saved last) is r307_sf_state, in the process pool's userdata,
 * like mod_redirect307.c's table cache.  What one generation saves (its
 * tables, the file, the interval) is r307_sf_gen, in that generation's
 * pconf, reached by the monitor hook and the status handler through
 * sf_gen.
 *
 * Saving at stop cannot hang on pconf: the process pool destroys its
 * newest children first, so the table cache and the error log are gone
 * by the time pconf's cleanups run.  It is a pre-cleanup of the process
 * pool instead, which runs before any of them.  That pre-cleanup points
 * into this module, which httpd unloads and loads again at every restart:
 * each generation registers it in post_config and removes it when its
 * pconf is cleared (which is also the moment to save for a restart), so
 * it never outlives the code it calls.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_file_io.h"
#include "apr_strings.h"

#include "r307_pools.h"
#include "r307_statsfile.h"
#include "r307_statsfmt.h"

APLOG_USE_MODULE(redirect307);

/* Rules no longer loaded keep their line in the file this long after
 * their last hit: a seasonal rule taken out after its season and put back
 * a year later still finds its history. */
#define R307_STATS_KEEP_SECONDS (400 * 86400)

/* Records walked between clearing the scratch pool that holds their
 * rule texts and keys. */
#define R307_STATS_BATCH 1024

#define R307_SF_STATE_KEY "redirect307-statsfile"

typedef struct {
    apr_pool_t *pool;           /* the process pool's child */
    apr_pool_t *seen_pool;      /* holds `seen`; replaced every pass */
    apr_hash_t *seen;           /* serial -> tables whose counters are
                                   accounted for (seeded, or counting
                                   since they were new) */
    apr_uint64_t since;         /* when the history began, seconds; 0:
                                   not known yet */
    int saved;                  /* saved_sig holds a saved state */
    apr_uint64_t saved_sig;     /* signature of what was saved last */
    apr_finfo_t logged;         /* identity of the file whose problems
                                   were logged last */
} r307_sf_state;

typedef struct {
    r307_sf_state *state;
    server_rec *s;
    apr_pool_t *pconf;
    apr_pool_t *process;
    apr_array_header_t *tables; /* r307_sf_table, by serial */
    const char *path;           /* NULL: no Redirect307StatsFile */
    apr_interval_time_t interval;       /* 0: no periodic saving */
    apr_time_t last_save;       /* last periodic check that saved or found
                                   nothing new */
    pid_t parent;
    int armed;                  /* the running server's parent: saves */
} r307_sf_gen;

/* This generation's, for the monitor hook and the status handler (which
 * have no other way to it); NULL between generations. */
static r307_sf_gen *sf_gen;

static r307_sf_state *sf_state(apr_pool_t *process)
{
    void *data = NULL;
    r307_sf_state *st;
    apr_pool_userdata_get(&data, R307_SF_STATE_KEY, process);
    if (data)
        return data;
    st = apr_pcalloc(process, sizeof(*st));
    apr_pool_create(&st->pool, process);
    apr_pool_create(&st->seen_pool, st->pool);
    st->seen = apr_hash_make(st->seen_pool);
    apr_pool_userdata_set(st, R307_SF_STATE_KEY, apr_pool_cleanup_null,
                          process);
    return st;
}

static apr_uint64_t sf_hits(const r307_sf_table *t, uint32_t i)
{
    return __atomic_load_n(&t->counters[2 * i], __ATOMIC_RELAXED);
}

static apr_uint64_t sf_last(const r307_sf_table *t, uint32_t i)
{
    return __atomic_load_n(&t->counters[2 * i + 1], __ATOMIC_RELAXED);
}

/* Calls fn for each record of t (only those with hits when hit_only)
 * with its key.  Keys live in a scratch pool cleared every batch. */
static void sf_each_key(apr_pool_t *p, const r307_sf_table *t, int hit_only,
                        void (*fn)(void *ctx, const r307_sf_table *t,
                                   uint32_t i, const char *key),
                        void *ctx)
{
    uint32_t i, done = 0, n = rr_table_records(t->table);
    apr_pool_t *batch;
    apr_pool_create(&batch, p);
    for (i = 0; i < n; i++) {
        rr_rule_info in;
        if (hit_only && sf_hits(t, i) == 0)
            continue;
        if (++done % R307_STATS_BATCH == 0)
            apr_pool_clear(batch);
        rr_table_record(t->table, i, batch, &in);
        fn(ctx, t, i, r307_stats_key(batch, &in));
    }
    apr_pool_destroy(batch);
}

/* ---- the live counters ---------------------------------------------- */

static apr_uint64_t sf_since(const r307_sf_gen *g)
{
    apr_uint64_t since = 0;
    int k;
    if (g->state->since)
        return g->state->since;
    for (k = 0; k < g->tables->nelts; k++) {
        apr_uint64_t loaded = (apr_uint64_t)apr_time_sec(
            APR_ARRAY_IDX(g->tables, k, r307_sf_table).loaded);
        if (!since || loaded < since)
            since = loaded;
    }
    return since;
}

static void sf_add_live(void *ctx, const r307_sf_table *t, uint32_t i,
                        const char *key)
{
    r307_stats_add(ctx, key, sf_hits(t, i), sf_last(t, i));
}

/* The counters of every table, summed by key (a key several tables hold,
 * in several virtual hosts, counts once with all their hits). */
static r307_stats *sf_collect(apr_pool_t *p, const r307_sf_gen *g)
{
    r307_stats *live = r307_stats_make(p);
    int k;
    for (k = 0; k < g->tables->nelts; k++)
        sf_each_key(p, &APR_ARRAY_IDX(g->tables, k, r307_sf_table), 1,
                    sf_add_live, live);
    live->since = sf_since(g);
    return live;
}

/* Changes whenever a count, the set of tables or the file does: a save
 * with the same signature would write the same file. */
static apr_uint64_t sf_signature(const r307_sf_gen *g)
{
    apr_uint64_t sig = 1469598103934665603ULL;
    const char *c;
    int k;
    for (c = g->path; c && *c; c++)
        sig = (sig ^ (unsigned char)*c) * 1099511628211ULL;
    for (k = 0; k < g->tables->nelts; k++) {
        const r307_sf_table *t = &APR_ARRAY_IDX(g->tables, k, r307_sf_table);
        uint32_t i, n = rr_table_records(t->table);
        apr_uint64_t hits = 0, last = 0;
        for (i = 0; i < n; i++) {
            hits += sf_hits(t, i);
            if (sf_last(t, i) > last)
                last = sf_last(t, i);
        }
        sig = (sig ^ t->serial) * 1099511628211ULL;
        sig = (sig ^ hits) * 1099511628211ULL;
        sig = (sig ^ last) * 1099511628211ULL;
    }
    return sig;
}

/* ---- reading and writing the file ------------------------------------ */

/* Has this version of the file had its problems logged?  Remembers it if
 * not: each problem is logged once, not at every save. */
static int sf_logged(r307_sf_state *st, const apr_finfo_t *fi)
{
    int same = st->logged.inode == fi->inode && st->logged.device == fi->device
               && st->logged.size == fi->size && st->logged.mtime == fi->mtime;
    st->logged.inode = fi->inode;
    st->logged.device = fi->device;
    st->logged.size = fi->size;
    st->logged.mtime = fi->mtime;
    return same;
}

/* Reads the file into *out: a missing or empty file is an empty history.
 * Returns APR_SUCCESS, or APR_EINVAL for a file that is not a stats file
 * (what is wrong is logged). */
static apr_status_t sf_read(apr_pool_t *p, r307_sf_gen *g, r307_stats **out)
{
    r307_stats *st = r307_stats_make(p);
    r307_stats_errors e;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char *buf = NULL;
    apr_size_t got = 0;

    *out = st;
    rv = apr_file_open(&f, g->path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (APR_STATUS_IS_ENOENT(rv))
        return APR_SUCCESS;
    if (rv == APR_SUCCESS)
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE
                               | APR_FINFO_IDENT | APR_FINFO_MTIME, f);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG)
        rv = APR_EBADF;
    if (rv == APR_SUCCESS && fi.size > 0) {
        buf = apr_palloc(p, (apr_size_t)fi.size);
        rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &got);
        if (rv == APR_EOF)
            rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, g->s, APLOGNO(30741)
                     "%s: cannot read the stats file; hit counts go on "
                     "from what the server holds", g->path);
        return rv == APR_EBADF ? APR_EINVAL : APR_SUCCESS;
    }
    apr_file_close(f);
    if (r307_stats_parse(st, buf, got, &e) != APR_SUCCESS) {
        if (!sf_logged(g->state, &fi))
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, g->s, APLOGNO(30742)
                         "%s:%u: %s; the file is ignored and will not be "
                         "overwritten: move it away or name another "
                         "Redirect307StatsFile", g->path, e.first_bad,
                         e.why);
        *out = r307_stats_make(p);
        return APR_EINVAL;
    }
    if (e.bad_lines && !sf_logged(g->state, &fi))
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, g->s, APLOGNO(30743)
                     "%s:%u: %s; %u bad line%s skipped", g->path,
                     e.first_bad, e.why, e.bad_lines,
                     e.bad_lines == 1 ? "" : "s");
    return APR_SUCCESS;
}

/* Writes text to a temporary file next to path and renames it over path:
 * a reader, or a crash, never sees half a file. */
static apr_status_t sf_write(apr_pool_t *p, const char *path,
                             const char *text, apr_size_t len)
{
    char *tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_READ
                         | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                         | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_file_write_full(f, text, len, NULL);
    if (rv == APR_SUCCESS)
        rv = apr_file_datasync(f);
    if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
        rv = APR_EGENERAL;
    if (rv == APR_SUCCESS)
        rv = apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                     | APR_FPROT_GREAD | APR_FPROT_WREAD);
    if (rv == APR_SUCCESS)
        rv = apr_file_rename(tmp, path, p);
    if (rv != APR_SUCCESS)
        apr_file_remove(tmp, p);
    return rv;
}

/* The live counts, and what the file holds of rules no longer loaded
 * (for R307_STATS_KEEP_SECONDS after their last hit).  A live count is
 * never below the file's: the counters were seeded from it, and a table
 * seeded from a file that was unreadable then must not shrink it. */
static void sf_merge(r307_stats *live, const r307_stats *old,
                     apr_uint64_t now)
{
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, old->keys); hi; hi = apr_hash_next(hi)) {
        const char *key = apr_hash_this_key(hi);
        const r307_stats_val *o = apr_hash_this_val(hi);
        r307_stats_val *v = r307_stats_get(live, key);
        if (v) {
            if (o->hits > v->hits)
                v->hits = o->hits;
            if (o->last > v->last)
                v->last = o->last;
        }
        else if (o->last + R307_STATS_KEEP_SECONDS >= now) {
            r307_stats_add(live, key, o->hits, o->last);
        }
    }
}

/* Saves the counters unless nothing changed since the last save.  `why`
 * says when, for the log. */
static void sf_save(r307_sf_gen *g, const char *why)
{
    apr_uint64_t sig;
    apr_pool_t *p;
    r307_stats *live, *old;
    const char *text;
    apr_size_t len;
    apr_status_t rv;

    if (!g->path)
        return;
    sig = sf_signature(g);
    if (g->state->saved && sig == g->state->saved_sig)
        return;
    if (!(p = r307_own_pool(g->process)))
        return;
    if (sf_read(p, g, &old) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, g->s, APLOGNO(30747)
                     "%s: hit counts not saved (%s): not a stats file",
                     g->path, why);
        apr_pool_destroy(p);
        return;
    }
    live = sf_collect(p, g);
    /* the history began when the file says, whatever tables came since */
    if (old->since && old->since < live->since)
        live->since = old->since;
    sf_merge(live, old, (apr_uint64_t)apr_time_sec(apr_time_now()));
    text = r307_stats_text(live, p, &len);
    rv = sf_write(p, g->path, text, len);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, g->s, APLOGNO(30744)
                     "%s: cannot save hit counts (%s)", g->path, why);
    else
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, g->s, APLOGNO(30745)
                     "%s: saved hit counts of %u rules (%s)", g->path,
                     apr_hash_count(live->keys), why);
    if (rv == APR_SUCCESS) {
        g->state->saved = 1;
        g->state->saved_sig = sig;
        g->state->since = live->since;
    }
    apr_pool_destroy(p);
}

/* ---- seeding new counters -------------------------------------------- */

typedef struct {
    r307_stats *file;
    unsigned left;              /* keys in `file` with hits still to give */
    unsigned seeded;            /* rules given hits */
} sf_seeding;

/* A table that kept its counters already holds its share of the file. */
static void sf_take_held(void *ctx, const r307_sf_table *t, uint32_t i,
                         const char *key)
{
    sf_seeding *sd = ctx;
    r307_stats_val *v = r307_stats_get(sd->file, key);
    apr_uint64_t hits = sf_hits(t, i);
    if (!v || v->hits == 0)
        return;
    v->hits -= hits < v->hits ? hits : v->hits;
    sd->left -= v->hits == 0;
}

/* The first new record with a key gets what the file holds of it. */
static void sf_give(void *ctx, const r307_sf_table *t, uint32_t i,
                    const char *key)
{
    sf_seeding *sd = ctx;
    r307_stats_val *v = r307_stats_get(sd->file, key);
    if (!v || v->hits == 0)
        return;
    __atomic_fetch_add(&t->counters[2 * i], v->hits, __ATOMIC_RELAXED);
    if (v->last > sf_last(t, i))
        __atomic_store_n(&t->counters[2 * i + 1], v->last, __ATOMIC_RELAXED);
    v->hits = 0;
    sd->left--;
    sd->seeded++;
}

/* Seeds the tables marked new in `fresh` from the file: each key's hits,
 * less what the tables that kept their counters hold of it, go to the
 * first new record with that key, so that no hit is counted twice across
 * restarts however the tables were rebuilt. */
static void sf_seed(r307_sf_gen *g, apr_pool_t *ptemp, const char *fresh)
{
    apr_pool_t *p = r307_own_pool(ptemp);
    sf_seeding sd;
    int k;

    if (!p)
        return;
    memset(&sd, 0, sizeof(sd));
    if (sf_read(p, g, &sd.file) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return;
    }
    if (sd.file->since && !g->state->since)
        g->state->since = sd.file->since;
    sd.left = apr_hash_count(sd.file->keys);
    for (k = 0; sd.left && k < g->tables->nelts; k++) {
        if (!fresh[k])
            sf_each_key(p, &APR_ARRAY_IDX(g->tables, k, r307_sf_table), 1,
                        sf_take_held, &sd);
    }
    for (k = 0; sd.left && k < g->tables->nelts; k++) {
        if (fresh[k])
            sf_each_key(p, &APR_ARRAY_IDX(g->tables, k, r307_sf_table), 0,
                        sf_give, &sd);
    }
    if (!apr_hash_count(sd.file->keys) && !sd.file->since)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, g->s, APLOGNO(30740)
                     "%s: no hit counts saved yet; the file is written at "
                     "the next save", g->path);
    else
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, g->s, APLOGNO(30746)
                     "%s: hit counts of %u rules loaded", g->path,
                     sd.seeded);
    apr_pool_destroy(p);
}

/* Marks in fresh[] the tables whose counters are new since the last pass
 * and remembers this pass's tables for the next one. */
static char *sf_find_fresh(r307_sf_gen *g, apr_pool_t *ptemp, int *nfresh)
{
    r307_sf_state *st = g->state;
    char *fresh = apr_pcalloc(ptemp, (apr_size_t)g->tables->nelts + 1);
    apr_pool_t *pool;
    apr_hash_t *seen;
    int k;

    apr_pool_create(&pool, st->pool);
    seen = apr_hash_make(pool);
    *nfresh = 0;
    for (k = 0; k < g->tables->nelts; k++) {
        const r307_sf_table *t = &APR_ARRAY_IDX(g->tables, k, r307_sf_table);
        unsigned *serial = apr_pmemdup(pool, &t->serial, sizeof(unsigned));
        fresh[k] = !apr_hash_get(st->seen, serial, sizeof(unsigned));
        *nfresh += fresh[k];
        apr_hash_set(seen, serial, sizeof(unsigned), serial);
    }
    apr_pool_destroy(st->seen_pool);
    st->seen_pool = pool;
    st->seen = seen;
    return fresh;
}

/* ---- when to save ------------------------------------------------------ */

static apr_status_t sf_at_exit(void *data);

/* pconf of a generation is cleared: a restart (or the end of the
 * configuration pass at start, which saves nothing). */
static apr_status_t sf_at_generation_end(void *data)
{
    r307_sf_gen *g = data;
    if (g->armed) {
        apr_pool_cleanup_kill(g->process, g, sf_at_exit);
        if (getpid() == g->parent)
            sf_save(g, "restart");
    }
    if (sf_gen == g)
        sf_gen = NULL;
    return APR_SUCCESS;
}

/* The process pool goes: httpd stops, its children already gone. */
static apr_status_t sf_at_exit(void *data)
{
    r307_sf_gen *g = data;
    apr_pool_cleanup_kill(g->pconf, g, sf_at_generation_end);
    if (getpid() == g->parent)
        sf_save(g, "stop");
    if (sf_gen == g)
        sf_gen = NULL;
    return APR_SUCCESS;
}

static int sf_by_serial(const void *a, const void *b)
{
    unsigned x = ((const r307_sf_table *)a)->serial;
    unsigned y = ((const r307_sf_table *)b)->serial;
    return x < y ? -1 : x > y;
}

int r307_statsfile_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *s,
                               const apr_array_header_t *tables,
                               const char *path, int interval)
{
    r307_sf_gen *g = apr_pcalloc(pconf, sizeof(*g));
    const char *fresh;
    int nfresh;

    g->process = s->process->pool;
    g->state = sf_state(g->process);
    g->s = s;
    g->pconf = pconf;
    g->tables = apr_array_copy(pconf, tables);
    /* in the order they were built: the first of several new records with
     * a key is the same one whatever order the cache holds them in */
    qsort(g->tables->elts, (size_t)g->tables->nelts, sizeof(r307_sf_table),
          sf_by_serial);
    g->path = path ? apr_pstrdup(pconf, path) : NULL;
    g->interval = apr_time_from_sec(interval);
    g->last_save = apr_time_now();
    g->parent = getpid();
    fresh = sf_find_fresh(g, ptemp, &nfresh);
    if (g->path && nfresh)
        sf_seed(g, ptemp, fresh);
    /* What the file and the counters hold now is saved already. */
    if (g->path && !g->state->saved) {
        g->state->saved = 1;
        g->state->saved_sig = sf_signature(g);
    }
    /* The first pass at start only checks the configuration; the server
     * runs from the second on (configuration generation 1). */
    g->armed = g->path && ap_state_query(AP_SQ_CONFIG_GEN) > 0;
    apr_pool_cleanup_register(pconf, g, sf_at_generation_end,
                              apr_pool_cleanup_null);
    if (g->armed)
        apr_pool_pre_cleanup_register(g->process, g, sf_at_exit);
    sf_gen = g;
    return OK;
}

int r307_statsfile_monitor(apr_pool_t *p, server_rec *s)
{
    r307_sf_gen *g = sf_gen;
    apr_time_t now = apr_time_now();
    (void)p;
    (void)s;
    if (!g || !g->armed || g->interval <= 0 || getpid() != g->parent
        || now - g->last_save < g->interval)
        return DECLINED;
    g->last_save = now;
    sf_save(g, "interval");
    return DECLINED;
}

int r307_statsfile_answer(request_rec *r)
{
    r307_stats *live;
    const char *text;
    apr_size_t len;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    if (sf_gen) {
        live = sf_collect(r->pool, sf_gen);
    }
    else {
        live = r307_stats_make(r->pool);
    }
    text = r307_stats_text(live, r->pool, &len);
    ap_rwrite(text, (int)len, r);
    return OK;
}
