/*
 * r307_dir.c - per-directory rules (r307_dir.h).
 *
 * A directory context (<Directory>, <Location>, <Files>, .htaccess) holds
 * a list of tables: one per inline Redirect307, one per Redirect307Map.
 * httpd merges them inner directory first, as mod_alias merges its
 * per-directory Redirects, and the fixups hook looks the request up in
 * them before mod_rewrite's and mod_alias's per-directory rules run and
 * before any handler reads the body.
 *
 * httpd reads a .htaccess on every request, so its directives run per
 * request.  A map named there is parsed once per content per child and
 * kept in a small LRU cache keyed by path and checked by identity (device,
 * inode, size, mtime): a hit costs one stat and a hash probe under a
 * mutex held for a few instructions.  Entries are immutable and
 * reference-counted, so a request keeps using the table it found while
 * another thread replaces or evicts it.  Maps named in httpd.conf's
 * directory sections are parsed at configuration time in the parent (one
 * copy shared by every child) and reused unchanged across restarts.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_file_info.h"
#include "apr_allocator.h"
#include "apr_file_io.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_portable.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"

#include "r307_dir.h"

extern module AP_MODULE_DECLARE_DATA redirect307_module;

APLOG_USE_MODULE(redirect307);

/* ---- the map cache -------------------------------------------------- */

typedef struct r307_dir_map {
    apr_pool_t *pool;           /* own allocator: everything below */
    const char *key;
    apr_finfo_t finfo;          /* identity of the file parsed */
    const rr_table *table;      /* NULL: the map has errors */
    const char *error;          /* its first error, FILE:LINE: reason */
    apr_size_t bytes;           /* table memory, for the byte budget */
    unsigned refs;              /* requests using it, +1 while cached;
                                   atomic: released without the lock */
    int cached;                 /* in the hash (and the LRU unless pinned) */
    int pinned;                 /* from httpd.conf: no LRU, no refcount */
    int loading;                /* a mark: a thread is parsing this key */
    unsigned generation;        /* configuration pass that last used it */
    struct r307_dir_map *prev, *next;   /* LRU list, most recent first */
} r307_dir_map;

typedef struct {
    apr_pool_t *pool;           /* the hash's own pool */
    apr_hash_t *maps;           /* key -> r307_dir_map */
    r307_dir_map lru;           /* sentinel of the .htaccess maps' list */
    unsigned count;             /* .htaccess maps cached */
    apr_size_t bytes;           /* their table memory */
    unsigned generation;        /* configuration passes so far */
    apr_array_header_t *retired;    /* pinned maps replaced by an edit */
    apr_thread_mutex_t *lock;   /* per child; NULL in the parent */
    apr_thread_cond_t *loaded;  /* signalled when a parse is done */
    int broken;                 /* no mutex in this child: no cache */
    /* this child's figures, for the status page */
    apr_uint64_t hits, parses, evictions, refusals;
} r307_dir_cache;

/* Limits, set by server-config directives; the module is reloaded for
 * every configuration pass, which resets them to the defaults. */
static unsigned r307_cache_maps = R307_DIR_CACHE_MAPS;
static apr_size_t r307_cache_bytes = R307_DIR_CACHE_BYTES;
static apr_off_t r307_map_max_size = R307_DIR_MAP_MAX_SIZE;

#define R307_DIR_CACHE_KEY "redirect307-dir-cache"

/* Kept as userdata of the root pool: it outlives the module's unloading
 * between configuration passes, and a child inherits the parent's at
 * fork. */
static r307_dir_cache *r307_cache(apr_pool_t *root)
{
    void *data = NULL;
    r307_dir_cache *c;
    apr_pool_userdata_get(&data, R307_DIR_CACHE_KEY, root);
    if (data)
        return data;
    c = apr_pcalloc(root, sizeof(*c));
    apr_pool_create(&c->pool, root);
    c->maps = apr_hash_make(c->pool);
    c->lru.next = c->lru.prev = &c->lru;
    c->retired = apr_array_make(c->pool, 4, sizeof(r307_dir_map *));
    apr_pool_userdata_set(c, R307_DIR_CACHE_KEY, apr_pool_cleanup_null, root);
    return c;
}

/* The cache of this process, set up by pre_config (a child inherits it). */
static r307_dir_cache *r307_the_cache;

static void r307_lock(r307_dir_cache *c)
{
    if (c->lock)
        apr_thread_mutex_lock(c->lock);
}

static void r307_unlock(r307_dir_cache *c)
{
    if (c->lock)
        apr_thread_mutex_unlock(c->lock);
}

static void r307_lru_unlink(r307_dir_map *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void r307_lru_front(r307_dir_cache *c, r307_dir_map *e)
{
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
}

static int r307_same_file(const apr_finfo_t *a, const apr_finfo_t *b)
{
    return a->device == b->device && a->inode == b->inode
        && a->size == b->size && a->mtime == b->mtime;
}

/* Takes e out of the cache (lock held).  Returns 1 when nobody uses it
 * any more: the caller destroys it once the lock is released. */
static int r307_uncache(r307_dir_cache *c, r307_dir_map *e)
{
    apr_hash_set(c->maps, e->key, APR_HASH_KEY_STRING, NULL);
    e->cached = 0;
    r307_lru_unlink(e);
    c->count--;
    c->bytes -= e->bytes;
    return __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0;
}

/* A request is done with e (a cleanup of its pool).  No lock: the count
 * is atomic, and whoever drops it to zero (the cache's own reference goes
 * last unless e was evicted) owns e alone. */
static apr_status_t r307_release(void *data)
{
    r307_dir_map *e = data;
    if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
        apr_pool_destroy(e->pool);
    return APR_SUCCESS;
}

/* Puts fresh in the cache in place of whatever holds its key and evicts
 * the least recently used maps past the limits (lock held).  Maps to be
 * destroyed once the lock is released go to dead[] (at most `room`). */
static int r307_insert(r307_dir_cache *c, r307_dir_map *fresh,
                       r307_dir_map **dead, int room)
{
    r307_dir_map *old = apr_hash_get(c->maps, fresh->key,
                                     APR_HASH_KEY_STRING);
    int ndead = 0;
    if (old && r307_uncache(c, old))
        dead[ndead++] = old;
    apr_hash_set(c->maps, fresh->key, APR_HASH_KEY_STRING, fresh);
    fresh->cached = 1;
    __atomic_add_fetch(&fresh->refs, 1, __ATOMIC_RELAXED);
    r307_lru_front(c, fresh);
    c->count++;
    c->bytes += fresh->bytes;
    while ((c->count > r307_cache_maps || c->bytes > r307_cache_bytes)
           && c->lru.prev != fresh && ndead < room) {
        r307_dir_map *victim = c->lru.prev;
        c->evictions++;
        if (r307_uncache(c, victim))
            dead[ndead++] = victim;
    }
    return ndead;
}

/* ---- loading a map -------------------------------------------------- */

/* A map's own pool: unmanaged (no parent) with an allocator of its own.
 * Threads make and destroy these without a lock, and none is left for
 * apr_terminate() to destroy at exit, when the module that registered
 * the table's cleanups may be unloaded already. */
static apr_pool_t *r307_map_pool(void)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    if (apr_allocator_create(&alloc) != APR_SUCCESS)
        return NULL;
    apr_allocator_max_free_set(alloc, 1);
    if (apr_pool_create_unmanaged_ex(&p, NULL, alloc) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return NULL;
    }
    apr_allocator_owner_set(alloc, p);
    return p;
}

static const char *r307_opt_key(const rr_options *opt)
{
    return opt->case_insensitive ? (opt->trailing_strict ? "ci,strict"
                                                         : "ci,ignore")
                                 : (opt->trailing_strict ? "cs,strict"
                                                         : "cs,ignore");
}

/* Is `path` strictly below the directory `dir`?  Both absolute. */
static int r307_beneath(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 0 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Where an open file really is: the kernel's name for the descriptor,
 * which no symlink swapped in between a check and the open can fake
 * (Linux); elsewhere the path resolved now. */
static const char *r307_opened_path(apr_pool_t *p, apr_file_t *f,
                                    const char *path)
{
    apr_os_file_t fd;
    char link[64], buf[PATH_MAX];
    ssize_t n;
    if (apr_os_file_get(&fd, f) == APR_SUCCESS) {
        apr_snprintf(link, sizeof(link), "/proc/self/fd/%d", (int)fd);
        n = readlink(link, buf, sizeof(buf) - 1);
        if (n > 0 && buf[0] == '/')
            return apr_pstrmemdup(p, buf, (apr_size_t)n);
    }
    return realpath(path, buf) ? apr_pstrdup(p, buf) : NULL;
}

#define R307_FINFO (APR_FINFO_TYPE | APR_FINFO_IDENT | APR_FINFO_SIZE \
                    | APR_FINFO_MTIME)

/* Opens a map a .htaccess names: a regular file inside `tree` (the
 * .htaccess's directory, symlinks resolved) of at most
 * Redirect307DirMapMaxSize bytes.  `tree` NULL: the admin's, no limits. */
static const char *r307_open_map(apr_pool_t *p, const char *path,
                                 const char *tree, apr_file_t **f,
                                 apr_finfo_t *fi)
{
    char msg[128], real_tree[PATH_MAX];
    const char *real;
    /* a FIFO would block the open: refuse what is no regular file before
     * opening, and open without blocking in case it was swapped since */
    apr_status_t rv = apr_stat(fi, path, APR_FINFO_TYPE, p);
    if (rv == APR_SUCCESS && fi->filetype != APR_REG)
        return apr_psprintf(p, "rules file %s is not a regular file", path);
    if (rv == APR_SUCCESS)
        rv = apr_file_open(f, path, APR_FOPEN_READ
                           | (tree ? APR_FOPEN_NONBLOCK : 0),
                           APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = apr_file_info_get(fi, R307_FINFO, *f);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot read rules file %s: %s", path,
                            apr_strerror(rv, msg, sizeof(msg)));
    if (fi->filetype != APR_REG)
        return apr_psprintf(p, "rules file %s is not a regular file", path);
    if (!tree)
        return NULL;
    real = r307_opened_path(p, *f, path);
    if (!realpath(tree, real_tree) || !real || !r307_beneath(real, real_tree))
        return apr_psprintf(p, "rules file %s is outside %s (it is %s): a "
                            ".htaccess may only name a map in its own "
                            "directory tree", path, tree, real ? real : "?");
    if (fi->size > r307_map_max_size)
        return apr_psprintf(p, "rules file %s has %" APR_OFF_T_FMT " bytes, "
                            "over Redirect307DirMapMaxSize (%" APR_OFF_T_FMT
                            ")", path, fi->size, r307_map_max_size);
    return NULL;
}

/* A map is checked alone, as a server's set is: a loop within it is an
 * error (its first message returned), chains and duplicates are logged
 * as warnings, once per parse (a few at most: a .htaccess author's map is
 * parsed by every child). */
static const char *r307_check_map(server_rec *s, apr_pool_t *ptemp,
                                  const rr_table *t, rr_diag *parse)
{
    rr_set *set = rr_set_create(ptemp, 1);
    rr_diag *d = rr_diag_create(ptemp);
    int k, logged = 0;
    rr_set_add(set, t);
    rr_set_check_threads(set, 1);   /* possibly in a serving child */
    if (rr_set_check(set, NULL, RR_CHAINS_WARN, d) != APR_SUCCESS) {
        for (k = 0; k < d->entries->nelts; k++) {
            if (rr_diag_is_error(rr_diag_get(d, k)->kind))
                return rr_diag_get(d, k)->message;
        }
    }
    for (k = 0; k < parse->entries->nelts + d->entries->nelts; k++) {
        const rr_diag_entry *w = k < parse->entries->nelts
            ? rr_diag_get(parse, k)
            : rr_diag_get(d, k - parse->entries->nelts);
        if (rr_diag_is_error(w->kind) || logged++ >= 5)
            continue;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(30783) "%s",
                     w->message);
    }
    return NULL;
}

/* Reads and parses a map into a new entry under `key`.  A refusal
 * (unreadable, outside the tree, too big) returns NULL and sets *err; a
 * map with a bad line returns an entry without a table, so that the bad
 * content is not parsed again until it changes. */
static r307_dir_map *r307_load(server_rec *s, apr_pool_t *ptemp,
                               const char *key, const char *path,
                               const char *tree, const rr_options *opt,
                               const char **err)
{
    const char *err_loop = NULL;
    apr_pool_t *pool = r307_map_pool();
    r307_dir_map *e;
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_size_t len;
    char *buf;
    rr_builder *b;
    rr_diag *d;
    rr_table *t = NULL;
    rr_stats st;
    apr_status_t rv;

    if (!pool) {
        *err = "out of memory";
        return NULL;
    }
    if ((*err = r307_open_map(pool, path, tree, &f, &fi))) {
        *err = apr_pstrdup(ptemp, *err);
        apr_pool_destroy(pool);
        return NULL;
    }
    len = (apr_size_t)fi.size;
    buf = apr_palloc(ptemp, len + 1);
    rv = apr_file_read_full(f, buf, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        char msg[128];
        *err = apr_psprintf(ptemp, "cannot read rules file %s: %s", path,
                            apr_strerror(rv, msg, sizeof(msg)));
        apr_pool_destroy(pool);
        return NULL;
    }
    e = apr_pcalloc(pool, sizeof(*e));
    e->pool = pool;
    e->key = apr_pstrdup(pool, key);
    e->finfo = fi;
    d = rr_diag_create(ptemp);
    d->max_errors = 1;
    b = rr_builder_create(pool, opt);
    if (rr_builder_add_buffer(b, path, buf, len, d) == APR_SUCCESS)
        t = rr_builder_freeze(b, pool, d);
    if (t && (err_loop = r307_check_map(s, ptemp, t, d)))
        t = NULL;
    if (!t) {
        e->error = apr_pstrdup(pool, err_loop ? err_loop
                                     : d->entries->nelts
                                     ? rr_diag_get(d, 0)->message
                                     : "invalid rules file");
        return e;
    }
    rr_table_stats(t, &st);
    e->table = t;
    e->bytes = st.bytes;
    return e;
}

/* A mark in the cache that a thread is parsing the map under its key:
 * the other threads that want it wait instead of parsing it too (a new
 * child's threads all miss at once). */
static r307_dir_map *r307_loading_mark(const char *key)
{
    apr_pool_t *pool = r307_map_pool();
    r307_dir_map *m;
    if (!pool)
        return NULL;
    m = apr_pcalloc(pool, sizeof(*m));
    m->pool = pool;
    m->key = apr_pstrdup(pool, key);
    m->loading = 1;
    return m;
}

static void r307_hold(cmd_parms *cmd, r307_dir_map *e, r307_dir_map **out)
{
    *out = e;
    apr_pool_cleanup_register(cmd->pool, e, r307_release,
                              apr_pool_cleanup_null);
}

/* A map the .htaccess in `dir` names, for this request: from the cache
 * while the file is unchanged, else parsed (by one thread; the others
 * wait for it) and cached.  Held (refcounted) until the request's pool is
 * cleared. */
static const char *r307_acquire(cmd_parms *cmd, const char *dir,
                                const char *path, const rr_options *opt,
                                r307_dir_map **out)
{
    r307_dir_cache *c = r307_the_cache;
    /* the directory is part of the key: a map two .htaccess files name
     * passed the tree check of each separately */
    const char *key = apr_pstrcat(cmd->temp_pool, "ht:", r307_opt_key(opt),
                                  ":", dir, "\n", path, NULL);
    const char *err = NULL;
    r307_dir_map *e, *fresh, *mark = NULL, *dead[9];
    apr_finfo_t fi;
    int ndead = 0, k;

    if (c->broken)
        return "the per-directory map cache has no mutex in this child "
               "(see the error log)";
    if (apr_stat(&fi, path, R307_FINFO, cmd->temp_pool) == APR_SUCCESS) {
        r307_lock(c);
        while ((e = apr_hash_get(c->maps, key, APR_HASH_KEY_STRING))
               && e->loading && c->loaded)
            apr_thread_cond_wait(c->loaded, c->lock);
        if (e && r307_same_file(&e->finfo, &fi)) {
            r307_lru_unlink(e);
            r307_lru_front(c, e);
            __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
            c->hits++;
            r307_unlock(c);
            r307_hold(cmd, e, out);
            return NULL;
        }
        if (!(e && e->loading) && (mark = r307_loading_mark(key))) {
            if (e && r307_uncache(c, e))
                dead[ndead++] = e;
            apr_hash_set(c->maps, mark->key, APR_HASH_KEY_STRING, mark);
        }
        r307_unlock(c);
    }
    for (k = 0; k < ndead; k++)
        apr_pool_destroy(dead[k]->pool);
    /* parsed outside the lock: requests for other maps go on meanwhile */
    fresh = r307_load(cmd->server, cmd->temp_pool, key, path, dir, opt,
                      &err);
    r307_lock(c);
    if (mark)
        apr_hash_set(c->maps, key, APR_HASH_KEY_STRING, NULL);
    ndead = 0;
    if (fresh) {
        e = apr_hash_get(c->maps, key, APR_HASH_KEY_STRING);
        /* unless another thread's parse of it is under way (we had no
         * mark: the map could not be stat'ed), it goes in the cache */
        if (!(e && e->loading))
            ndead = r307_insert(c, fresh, dead, 8);
        __atomic_add_fetch(&fresh->refs, 1, __ATOMIC_RELAXED);
        c->parses++;
    }
    else {
        c->refusals++;
    }
    if (mark && c->loaded)
        apr_thread_cond_broadcast(c->loaded);
    r307_unlock(c);
    if (mark)
        dead[ndead++] = mark;
    for (k = 0; k < ndead; k++)
        apr_pool_destroy(dead[k]->pool);
    if (!fresh)
        return err;
    r307_hold(cmd, fresh, out);
    return NULL;
}

/* A map named in httpd.conf's directory sections: parsed in the parent
 * at configuration time and shared by every child; an unchanged file is
 * reused by the next configuration pass.  In a running server a map that
 * became invalid keeps its last good rules, as server-level maps do. */
static const char *r307_pinned(cmd_parms *cmd, const char *path,
                               const rr_options *opt, const rr_table **out)
{
    r307_dir_cache *c = r307_the_cache;
    const char *key = apr_pstrcat(cmd->temp_pool, "conf:", r307_opt_key(opt),
                                  ":", path, NULL);
    r307_dir_map *e = apr_hash_get(c->maps, key, APR_HASH_KEY_STRING);
    r307_dir_map *fresh;
    const char *err = NULL;
    apr_finfo_t fi;

    if (e && apr_stat(&fi, path, R307_FINFO, cmd->temp_pool) == APR_SUCCESS
        && r307_same_file(&e->finfo, &fi)) {
        e->generation = c->generation;
        *out = e->table;
        return NULL;
    }
    fresh = r307_load(cmd->server, cmd->temp_pool, key, path, NULL, opt,
                      &err);
    if (fresh && fresh->table) {
        if (e) {
            /* this pass's directives may already point at it */
            apr_hash_set(c->maps, e->key, APR_HASH_KEY_STRING, NULL);
            APR_ARRAY_PUSH(c->retired, r307_dir_map *) = e;
        }
        fresh->pinned = fresh->cached = 1;
        fresh->generation = c->generation;
        apr_hash_set(c->maps, fresh->key, APR_HASH_KEY_STRING, fresh);
        *out = fresh->table;
        return NULL;
    }
    if (fresh) {
        err = apr_pstrdup(cmd->temp_pool, fresh->error);
        apr_pool_destroy(fresh->pool);
    }
    else {
        err = apr_psprintf(cmd->temp_pool, "%s:%d: %s",
                           cmd->directive->filename,
                           cmd->directive->line_num, err);
    }
    if (!e)
        return apr_pstrdup(cmd->pool, err);
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, cmd->server, APLOGNO(30780)
                 "%s; still serving its last good rules (%u)", err,
                 rr_table_count(e->table));
    e->generation = c->generation;
    *out = e->table;
    return NULL;
}

/* ---- directory configuration ---------------------------------------- */

typedef struct r307_dir_conf r307_dir_conf;

typedef struct {
    const rr_table *table;
    const r307_dir_conf *owner;     /* whose Redirect307Default applies */
} r307_dir_entry;

struct r307_dir_conf {
    apr_array_header_t *entries;    /* r307_dir_entry, inner first */
    int default_status;             /* 0: the server's */
};

void *r307_dir_create(apr_pool_t *p, char *dir)
{
    r307_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));
    (void)dir;
    dc->entries = apr_array_make(p, 2, sizeof(r307_dir_entry));
    return dc;
}

/* As mod_alias: the inner directory's rules first, then the enclosing
 * ones'; among rules of the same kind the first table wins. */
void *r307_dir_merge(apr_pool_t *p, void *basev, void *addv)
{
    const r307_dir_conf *base = basev, *add = addv;
    r307_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));
    dc->default_status = add->default_status ? add->default_status
                                             : base->default_status;
    if (!base->entries->nelts)
        dc->entries = add->entries;
    else if (!add->entries->nelts)
        dc->entries = base->entries;
    else
        dc->entries = apr_array_append(p, add->entries, base->entries);
    return dc;
}

/* httpd parses a .htaccess with one pool as both pool and temp_pool (the
 * test ap_check_cmd_context makes for NOT_IN_HTACCESS). */
static int r307_in_htaccess(const cmd_parms *cmd)
{
    return cmd->pool == cmd->temp_pool;
}

/* The URL-path of a plain <Location PATH> the directive stands in, or
 * NULL (<Directory>, <Files>, .htaccess, a regex or wildcard Location):
 * only there is "the URLs this section covers" knowable at startup. */
static const char *r307_location_path(const cmd_parms *cmd)
{
    const ap_directive_t *sec = cmd->directive->parent;
    if (!sec || strcasecmp(sec->directive, "<Location") || !cmd->path
        || cmd->path[0] != '/' || (sec->args && sec->args[0] == '~')
        || strpbrk(cmd->path, "*?["))
        return NULL;
    return cmd->path;
}

/* In <Location PATH> every source must be PATH or below it: a rule for
 * any other URL could never answer there, and is a mistake. */
static const char *r307_check_location(cmd_parms *cmd, const rr_table *t)
{
    const char *loc = r307_location_path(cmd);
    size_t n = loc ? strlen(loc) : 0;
    uint32_t i, records;
    apr_pool_t *scratch;
    const char *err = NULL;
    while (n > 0 && loc[n - 1] == '/')
        n--;
    if (n == 0)
        return NULL;
    records = rr_table_records(t);
    apr_pool_create(&scratch, cmd->temp_pool);
    for (i = 0; i < records; i++) {
        rr_rule_info in;
        int nocase;
        if ((i & 4095) == 0)    /* a big map: bounded scratch */
            apr_pool_clear(scratch);
        if (!rr_table_record(t, i, scratch, &in))
            continue;
        nocase = (in.flags & RR_FLAG_NOCASE) != 0
                 || rr_table_options(t)->case_insensitive;
        if ((nocase ? strncasecmp(in.source, loc, n)
                    : strncmp(in.source, loc, n)) == 0
            && (in.source[n] == '\0' || in.source[n] == '/'))
            continue;
        err = apr_psprintf(cmd->pool, "%s:%u: source %s is outside "
                           "<Location %s>: no request there can match it",
                           in.file, in.line, in.source, loc);
        break;
    }
    apr_pool_destroy(scratch);
    return err;
}

static void r307_dir_push(r307_dir_conf *dc, const rr_table *t)
{
    r307_dir_entry *ent = apr_array_push(dc->entries);
    ent->table = t;
    ent->owner = dc;
}

const char *r307_dir_cmd_rule(cmd_parms *cmd, void *dconf, const char *text)
{
    r307_dir_conf *dc = dconf;
    r307_dir_server sv;
    rr_builder *b;
    rr_table *t = NULL;
    rr_diag *d = rr_diag_create(cmd->temp_pool);
    const char *err;

    /* one small table per rule, in the directory's own pool: a .htaccess
     * parses it with the rest of its lines, as mod_alias's Redirect */
    r307_dir_server_of(cmd->server, &sv);
    b = rr_builder_create(cmd->pool, &sv.opt);
    if (rr_builder_add_line(b, cmd->directive->filename,
                            (unsigned)cmd->directive->line_num, text,
                            strlen(text), d) == APR_SUCCESS)
        t = rr_builder_freeze(b, cmd->pool, d);
    if (!t)
        return apr_pstrdup(cmd->pool, d->entries->nelts
                                      ? rr_diag_get(d, 0)->message
                                      : "invalid rule");
    if ((err = r307_check_location(cmd, t)))
        return err;
    r307_dir_push(dc, t);
    return NULL;
}

const char *r307_dir_cmd_map(cmd_parms *cmd, void *dconf, const char *arg)
{
    r307_dir_conf *dc = dconf;
    r307_dir_server sv;
    const rr_table *t = NULL;
    const char *err;
    char *path = NULL;

    r307_dir_server_of(cmd->server, &sv);
    if (!r307_in_htaccess(cmd)) {
        if (!(path = ap_server_root_relative(cmd->pool, arg)))
            return apr_psprintf(cmd->pool, "%s:%d: invalid rules-file path "
                                "'%s'", cmd->directive->filename,
                                cmd->directive->line_num, arg);
        if ((err = r307_pinned(cmd, path, &sv.opt, &t))
            || (err = r307_check_location(cmd, t)))
            return err;
    }
    else {
        r307_dir_map *e = NULL;
        /* the .htaccess's own directory (cmd->path is a pattern inside
         * <Files>) */
        const char *dir = ap_make_dirstr_parent(cmd->temp_pool,
                                                cmd->directive->filename);
        /* relative to it; ".." leaving it is refused before any I/O,
         * symlinks when the map is opened */
        if (apr_filepath_merge(&path, dir, arg, 0, cmd->pool)
                != APR_SUCCESS || !r307_beneath(path, dir))
            return apr_psprintf(cmd->pool, "%s:%d: rules file '%s' is "
                                "outside %s: a .htaccess may only name a "
                                "map in its own directory tree",
                                cmd->directive->filename,
                                cmd->directive->line_num, arg, dir);
        if ((err = r307_acquire(cmd, dir, path, &sv.opt, &e)))
            return apr_psprintf(cmd->pool, "%s:%d: %s",
                                cmd->directive->filename,
                                cmd->directive->line_num, err);
        if (!e->table)
            return e->error;
        t = e->table;
    }
    r307_dir_push(dc, t);
    return NULL;
}

void r307_dir_cmd_default(void *dconf, int status)
{
    ((r307_dir_conf *)dconf)->default_status = status;
}

/* ---- server-config directives ---------------------------------------- */

/* A size: digits with an optional K, M or G (binary units). */
static int r307_parse_size(const char *s, apr_off_t *out)
{
    char *end;
    apr_int64_t v;
    if (!apr_isdigit(*s))
        return 0;
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno || v < 0)
        return 0;
    switch (apr_toupper(*end)) {
    case 'G': v <<= 10; /* fall through */
    case 'M': v <<= 10; /* fall through */
    case 'K': v <<= 10; end++; break;
    case '\0': break;
    default: return 0;
    }
    if (*end || v > ((apr_int64_t)1 << 40))
        return 0;
    *out = (apr_off_t)v;
    return 1;
}

const char *r307_dir_cmd_cache_size(cmd_parms *cmd, void *dummy, int argc,
                                    char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_off_t maps, bytes = (apr_off_t)R307_DIR_CACHE_BYTES;
    (void)dummy;
    if (err)
        return err;
    if (argc < 1 || argc > 2 || !r307_parse_size(argv[0], &maps)
        || strpbrk(argv[0], "KkMmGg") || maps < 1 || maps > 100000
        || (argc == 2 && (!r307_parse_size(argv[1], &bytes) || bytes < 1)))
        return apr_psprintf(cmd->pool, "%s:%d: Redirect307DirCacheSize "
                            "takes MAPS (1 to 100000) and optionally MEMORY "
                            "(bytes, or with K, M or G)",
                            cmd->directive->filename,
                            cmd->directive->line_num);
    r307_cache_maps = (unsigned)maps;
    r307_cache_bytes = (apr_size_t)bytes;
    return NULL;
}

const char *r307_dir_cmd_max_size(cmd_parms *cmd, void *dummy,
                                  const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_off_t v;
    (void)dummy;
    if (err)
        return err;
    if (!r307_parse_size(arg, &v) || v < 1)
        return apr_psprintf(cmd->pool, "%s:%d: Redirect307DirMapMaxSize "
                            "takes a size in bytes, or with K, M or G, not "
                            "'%s'", cmd->directive->filename,
                            cmd->directive->line_num, arg);
    r307_map_max_size = v;
    return NULL;
}

/* ---- hooks ------------------------------------------------------------ */

/* Every configuration pass: count it, and free the maps an edit replaced
 * during an earlier pass (whose configuration is gone by now). */
int r307_dir_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                        apr_pool_t *ptemp)
{
    apr_pool_t *root = pconf;
    r307_dir_cache *c;
    int k;
    (void)plog;
    (void)ptemp;
    while (apr_pool_parent_get(root))
        root = apr_pool_parent_get(root);
    r307_the_cache = c = r307_cache(root);
    c->generation++;
    for (k = 0; k < c->retired->nelts; k++)
        apr_pool_destroy(APR_ARRAY_IDX(c->retired, k, r307_dir_map *)->pool);
    apr_array_clear(c->retired);
    return OK;
}

/* After a pass that will serve: drop the httpd.conf maps it no longer
 * names (children of older generations keep their own copies). */
int r307_dir_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s)
{
    r307_dir_cache *c = r307_the_cache;
    apr_hash_index_t *hi;
    (void)pconf;
    (void)plog;
    (void)s;
    for (hi = apr_hash_first(ptemp, c->maps); hi; hi = apr_hash_next(hi)) {
        r307_dir_map *e = apr_hash_this_val(hi);
        if (e->pinned && e->generation != c->generation) {
            apr_hash_set(c->maps, e->key, APR_HASH_KEY_STRING, NULL);
            apr_pool_destroy(e->pool);
        }
    }
    return OK;
}

void r307_dir_child_init(apr_pool_t *pchild, server_rec *s)
{
    r307_dir_cache *c = r307_the_cache;
    if (!c)
        return;
    if (apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, pchild)
            != APR_SUCCESS
        || apr_thread_cond_create(&c->loaded, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(30781)
                     "cannot create the per-directory map cache's mutex: "
                     ".htaccess maps answer 500 in this child");
        c->broken = 1;
    }
}

/* Answers a request per-directory rules match: as translate_name does for
 * server-level rules, one phase later. */
static int r307_answer(request_rec *r, const r307_dir_server *sv,
                       const r307_dir_conf *dc, const rr_match *m)
{
    const r307_dir_entry *ent = (const r307_dir_entry *)dc->entries->elts;
    const char *loc, *origin;
    int k, dflt = sv->default_status, status;

    for (k = 0; k < dc->entries->nelts; k++) {
        if (ent[k].table == m->table && ent[k].owner->default_status) {
            dflt = ent[k].owner->default_status;
            break;
        }
    }
    status = rr_match_status(m, dflt);
    origin = rr_match_origin(m, r->pool);
    apr_table_setn(r->subprocess_env, "REDIRECT307_RULE", origin);
    r307_dir_count_redirect(r->server, status);
    loc = r307_redirect_headers(r, m, status, sv->max_age);
    /* the body stays unread for the new URL: httpd must not read it to
     * keep the connection, nor answer 100 Continue */
    if (ap_request_has_body(r))
        r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(30782)
                  "%s %s -> %d %s (per-directory rule %s)", r->method,
                  r->uri, status, loc ? loc : "-", origin);
    return status;
}

int r307_dir_fixups(request_rec *r)
{
    const r307_dir_conf *dc = ap_get_module_config(r->per_dir_config,
                                                   &redirect307_module);
    const r307_dir_entry *ent;
    r307_dir_server sv;
    rr_set *set;
    rr_match m;
    int k;

    if (!dc || dc->entries->nelts == 0 || r->main || r->prev || r->proxyreq
        || r->uri[0] != '/')
        return DECLINED;
    r307_dir_server_of(r->server, &sv);
    if (!sv.engine)
        return DECLINED;
    ent = (const r307_dir_entry *)dc->entries->elts;
    set = rr_set_create(r->pool, dc->entries->nelts);
    for (k = 0; k < dc->entries->nelts; k++)
        rr_set_add(set, ent[k].table);
    rr_set_ignore(set, sv.ignore);
    if (!rr_set_lookup_at(set, ap_http_scheme(r), r->hostname, r->uri,
                          strlen(r->uri), r->args, &m)) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "no per-directory "
                      "rule for %s", r->uri);
        return DECLINED;
    }
    return r307_answer(r, &sv, dc, &m);
}

/* ---- the status page ---------------------------------------------------- */

void r307_dir_status(request_rec *r, int json)
{
    r307_dir_cache *c = r307_the_cache;
    unsigned count;
    apr_size_t bytes;
    apr_uint64_t hits, parses, evictions, refusals;
    if (!c)
        return;
    r307_lock(c);
    count = c->count;
    bytes = c->bytes;
    hits = c->hits;
    parses = c->parses;
    evictions = c->evictions;
    refusals = c->refusals;
    r307_unlock(c);
    if (json) {
        ap_rprintf(r, ",\"dir_cache\":{\"pid\":%ld,\"maps\":%u,\"bytes\":%lu,"
                   "\"max_maps\":%u,\"max_bytes\":%lu,\"hits\":%"
                   APR_UINT64_T_FMT ",\"parses\":%" APR_UINT64_T_FMT
                   ",\"evictions\":%" APR_UINT64_T_FMT ",\"refusals\":%"
                   APR_UINT64_T_FMT "}", (long)getpid(), count,
                   (unsigned long)bytes, r307_cache_maps,
                   (unsigned long)r307_cache_bytes, hits, parses, evictions,
                   refusals);
        return;
    }
    ap_rprintf(r, "<h2>.htaccess maps (this child process, pid %ld)</h2>\n"
               "<p>%u maps cached (of %u), %.1f MiB (of %.1f MiB); %"
               APR_UINT64_T_FMT " hits, %" APR_UINT64_T_FMT " parses, %"
               APR_UINT64_T_FMT " evictions, %" APR_UINT64_T_FMT
               " refused.</p>\n", (long)getpid(), count, r307_cache_maps,
               (double)bytes / (1024.0 * 1024.0),
               (double)r307_cache_bytes / (1024.0 * 1024.0), hits, parses,
               evictions, refusals);
}
