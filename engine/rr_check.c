/*
 * rr_check.c - configuration-time analysis of a whole set of tables:
 * duplicates across files, redirect chains and loops (a walk over the
 * graph of "this rule's target is that rule's source"), and the final
 * targets Collapse answers with.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "apr_strings.h"
#include "apr_fnmatch.h"
#include "apr_hash.h"
#include "apr_thread_proc.h"

#include "rr_internal.h"

/* ---- where a target points ------------------------------------------ */

/* Is `host` (hs..he, as written in a target) one of this server's names?
 * A bracketed IPv6 literal matches written with or without brackets. */
static int host_is_ours(apr_pool_t *pool, const char *hs, const char *he,
                        const apr_array_header_t *hosts)
{
    const char *bare = hs, *bare_end = he;
    char *host, *unbracketed = NULL;
    int h;
    if (hs < he && *hs == '[') {
        const char *close = memchr(hs, ']', (size_t)(he - hs));
        if (!close)
            return 0;
        he = close + 1;
        bare = hs + 1;
        bare_end = close;
        unbracketed = apr_pstrmemdup(pool, bare, (size_t)(bare_end - bare));
    }
    else {
        const char *colon = memchr(hs, ':', (size_t)(he - hs));
        if (colon)
            he = colon;
    }
    host = apr_pstrmemdup(pool, hs, (size_t)(he - hs));
    /* Names compare literally first: to apr_fnmatch, "[::1]" is a
     * bracket expression, not a host. */
    for (h = 0; h < hosts->nelts; h++) {
        const char *pattern = APR_ARRAY_IDX(hosts, h, const char *);
        if (!strcasecmp(pattern, host)
            || (unbracketed && !strcasecmp(pattern, unbracketed))
            || apr_fnmatch(pattern, host, APR_FNM_CASE_BLIND) == APR_SUCCESS
            || (unbracketed && apr_fnmatch(pattern, unbracketed,
                                           APR_FNM_CASE_BLIND)
                               == APR_SUCCESS))
            return 1;
    }
    return 0;
}

/* Where a target sends the client, when that is this server. */
typedef struct {
    char *path;             /* decoded */
    size_t plen;
    const char *query;      /* or NULL */
    const char *scheme;     /* "http", "https" or NULL: unknown */
    const char *host;       /* or NULL: unknown (a hostless rule's path
                               target is answered on whatever host the
                               request named) */
} rr_hop;

/* The host (and scheme) a path target of rule r is answered on: a host
 * rule's own (its wildcard as "*.suffix", which only wildcard rules
 * match), else unknown. */
static void hop_from_rule(apr_pool_t *pool, const rr_rec *r, rr_hop *hop)
{
    hop->scheme = (r->xbits & XB_HTTPS) ? "https"
                  : (r->xbits & XB_HTTP) ? "http" : NULL;
    hop->host = !(r->xbits & XB_HOST) ? NULL
        : apr_pstrcat(pool, (r->xbits & XB_WILD) ? "*." : "",
                      apr_pstrmemdup(pool, r->host, r->h_len), NULL);
}

/* Splits target[0..tlen) (not NUL-terminated) of rule `from` into where
 * it points on this server, or returns 0 if it leaves it: an absolute
 * target's host must be one of `hosts` or a host the set has rules for. */
static int target_on_host(const rr_set *s, apr_pool_t *pool,
                          const rr_rec *from, const char *target,
                          size_t tlen, const apr_array_header_t *hosts,
                          rr_hop *hop)
{
    size_t i = 0, mainlen, k, o = 0;
    const char *end = target + tlen, *hash;
    char *dec;
    if (tlen == 0)
        return 0;
    hop_from_rule(pool, from, hop);
    if (target[0] != '/') {
        const char *hs, *he, *at;
        const char *p = find_bytes(target, tlen, "://");
        if (!p)
            return 0;
        hs = p + 3;
        he = hs;
        while (he < end && *he != '/' && *he != '?' && *he != '#')
            he++;
        at = memchr(hs, '@', (size_t)(he - hs));
        if (at)
            hs = at + 1;
        if (!hosts && !s->has_hosts)
            return 0;           /* no name can be this server's */
        hop->scheme = apr_pstrmemdup(pool, target, (size_t)(p - target));
        hop->host = apr_pstrmemdup(pool, hs, (size_t)(he - hs));
        if (!(hosts && host_is_ours(pool, hs, he, hosts))
            && !rr_set_has_host(s, hop->scheme, hop->host))
            return 0;
        i = (size_t)(he - target);
    }
    mainlen = i + target_main_len(target + i, tlen - i);
    dec = apr_palloc(pool, mainlen - i + 2);
    if (mainlen == i)
        dec[o++] = '/';         /* "http://host" and "http://host?q" */
    for (k = i; k < mainlen;)
        dec[o++] = (char)next_decoded(target, mainlen, &k);
    dec[o] = '\0';
    hop->path = dec;
    hop->plen = o;
    hop->query = NULL;
    if (mainlen < tlen && target[mainlen] == '?') {
        hash = memchr(target + mainlen, '#', tlen - mainlen);
        hop->query = apr_pstrmemdup(pool, target + mainlen + 1,
                                    (size_t)((hash ? hash : end) - target)
                                    - mainlen - 1);
    }
    return 1;
}

/* The rule a hop lands on. */
static int hop_lookup(const rr_set *s, const rr_hop *hop, rr_match *m)
{
    return rr_set_lookup_at(s, hop->scheme, hop->host, hop->path, hop->plen,
                            hop->query, m);
}

/* ---- the graph of next hops ------------------------------------------
 * Every record of the set has a global id; next[id] is the rule its
 * target lands on.  The walk that finds loops marks each record with
 * these states. */

#define GS_NEXT_KNOWN  0x01u    /* next[id] computed */
#define GS_ON_PATH     0x02u    /* on the walk in progress */
#define GS_DONE        0x04u    /* walked; its loops reported */
#define GS_IN_LOOP     0x08u    /* part of a loop */

typedef struct {
    rr_set *s;
    const apr_array_header_t *hosts;
    apr_pool_t *tmp;
    uint32_t *base;         /* global id of each table's first record */
    uint32_t total;
    uint32_t own_end;       /* ids below this are the set's own rules */
    uint32_t *next;         /* global id + 1 of the next hop, 0: none */
    unsigned char *state;   /* GS_* */
    uint32_t *indeg;        /* rules whose next hop this is */
} rr_graph;

static uint32_t global_id(const rr_graph *g, int table, uint32_t off)
{
    return g->base[table] + rr_table_record_index(g->s->tables[table], off);
}

static void global_split(const rr_graph *g, uint32_t id, int *table,
                         uint32_t *off)
{
    int k = 0;
    while (k + 1 < g->s->ntables && g->base[k + 1] <= id)
        k++;
    *table = k;
    *off = g->s->tables[k]->offs[id - g->base[k]];
}

/* A pattern rule whose target uses its placeholders lands wherever its
 * captured values send it; the hop is decided only where it does not
 * depend on them: the target with a value no literal rule names lands on
 * a pattern rule or a literal prefix rule, which answer every value
 * alike (but for literal rules naming some values). */
static int pattern_hop(rr_graph *g, const rr_rec *r, apr_pool_t *scratch,
                       rr_match *m)
{
    rr_capture caps[RR_MAX_PLACEHOLDERS];
    const char *sample, *target;
    size_t slen, tlen;
    int ncaps;
    rr_hop hop;
    sample = rr_pattern_sample(scratch, r, &slen);
    ncaps = rr_pattern_captures(r, sample, slen, caps);
    if (ncaps < 0)
        return 0;
    target = rr_pattern_expand(scratch, r->target, r->tgt_len, caps, ncaps,
                               &tlen);
    if (r->bits & RB_STAR)
        tlen = target_main_len(target, tlen) - 1;
    if (!target_on_host(g->s, scratch, r, target, tlen, g->hosts, &hop)
        || !hop_lookup(g->s, &hop, m))
        return 0;
    return rec_is_pattern(m->table->arena, m->rule)
           || (rec_bits(m->table->arena, m->rule) & RB_KIND_MASK)
              == RR_KIND_PREFIX;
}

static int target_uses_captures(const rr_rec *r)
{
    return r->pattern && rr_pattern_target_uses(r->target, r->tgt_len);
}

/* The rule a rule's target lands on, computed once.  Scratch memory goes
 * to `scratch` (the caller clears it). */
static uint32_t graph_next_in(rr_graph *g, uint32_t id, apr_pool_t *scratch)
{
    int tk;
    uint32_t off;
    rr_rec r;
    size_t tlen;
    rr_hop hop;
    rr_match m;

    if (g->state[id] & GS_NEXT_KNOWN)
        return g->next[id];
    g->state[id] |= GS_NEXT_KNOWN;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    if ((r.bits & RB_SHADOWED) || r.status == RR_STATUS_410)
        return 0;
    if (target_uses_captures(&r)) {
        if (!pattern_hop(g, &r, scratch, &m))
            return 0;
        g->next[id] = global_id(g, rr_set_table_index(g->s, m.table),
                                m.rule) + 1;
        return g->next[id];
    }
    tlen = r.tgt_len;
    if (r.bits & RB_STAR) {
        size_t mainlen = target_main_len(r.target, tlen);
        tlen = mainlen - 1;     /* the path the '*' hangs off */
    }
    if (!target_on_host(g->s, scratch, &r, r.target, tlen, g->hosts, &hop)
        || !hop_lookup(g->s, &hop, &m))
        return 0;
    g->next[id] = global_id(g, rr_set_table_index(g->s, m.table), m.rule) + 1;
    return g->next[id];
}

static uint32_t graph_next(rr_graph *g, uint32_t id)
{
    return graph_next_in(g, id, g->tmp);
}

/* Warms the cache lines the lookup of a target will probe. */
static void prefetch_target(const rr_graph *g, uint32_t id,
                            apr_pool_t *scratch)
{
    int tk, k;
    uint32_t off;
    rr_rec r;
    size_t tlen;
    rr_hop hop;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    if ((r.bits & RB_SHADOWED) || r.status == RR_STATUS_410
        || target_uses_captures(&r))
        return;
    tlen = (r.bits & RB_STAR) ? target_main_len(r.target, r.tgt_len) - 1
                              : r.tgt_len;
    if (!target_on_host(g->s, scratch, &r, r.target, tlen, g->hosts, &hop))
        return;
    for (k = 0; k < g->s->ntables; k++)
        rr_table_prefetch(g->s->tables[k], hop.path, hop.plen);
}

/* Next hops of records [from, to): the lookups of a batch are prefetched
 * together so that their cache misses overlap.  Scratch memory comes from
 * `pool`, which only this call uses. */
static void graph_next_range(rr_graph *g, uint32_t from, uint32_t to,
                             apr_pool_t *pool)
{
    enum { BATCH = 16 };
    apr_pool_t *scratch;
    uint32_t id, j;
    apr_pool_create(&scratch, pool);
    for (id = from; id < to; id += BATCH) {
        uint32_t end = to - id < BATCH ? to : id + BATCH;
        for (j = id; j < end; j++)
            prefetch_target(g, j, scratch);
        for (j = id; j < end; j++)
            graph_next_in(g, j, scratch);
        apr_pool_clear(scratch);
    }
    apr_pool_destroy(scratch);
}

/* Every next hop is one lookup in frozen tables, which any number of
 * threads may read, and each writes only its own next[] and state[]
 * entries: a big set's hops are computed on every core (at ten million
 * rules they are nearly all of the check).  Below PARALLEL_MIN rules one
 * thread does it all, as a thread costs more than it saves there. */
#define PARALLEL_MIN 65536u
#define PARALLEL_MAX 8

#if APR_HAS_THREADS
typedef struct {
    rr_graph *g;
    uint32_t from, to;
    apr_pool_t *pool;       /* the job's own, on its own allocator: pools
                               sharing one must not be used at once */
} next_job;

static void *APR_THREAD_FUNC next_job_run(apr_thread_t *t, void *data)
{
    next_job *j = data;
    graph_next_range(j->g, j->from, j->to, j->pool);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_pool_t *own_pool(void)
{
    apr_allocator_t *al;
    apr_pool_t *p;
    if (apr_allocator_create(&al) != APR_SUCCESS)
        return NULL;
    if (apr_pool_create_unmanaged_ex(&p, NULL, al) != APR_SUCCESS) {
        apr_allocator_destroy(al);
        return NULL;
    }
    apr_allocator_owner_set(al, p);
    return p;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > PARALLEL_MAX ? PARALLEL_MAX : (int)n;
}
#endif

/* Next hops of records [from, to), on as many threads as pay off; a part
 * whose thread cannot start is computed here. */
static void graph_next_batch(rr_graph *g, uint32_t from, uint32_t to)
{
#if APR_HAS_THREADS
    next_job jobs[PARALLEL_MAX];
    apr_thread_t *threads[PARALLEL_MAX];
    int n = to - from >= PARALLEL_MIN ? cores() : 1, k;
    if (g->s->check_threads && n > g->s->check_threads)
        n = g->s->check_threads;
    if (n > 1) {
        uint32_t part = (to - from + (uint32_t)n - 1) / (uint32_t)n;
        for (k = 0; k < n; k++) {
            jobs[k].g = g;
            jobs[k].from = from + part * (uint32_t)k;
            jobs[k].to = k == n - 1 ? to : jobs[k].from + part;
            jobs[k].pool = own_pool();
            threads[k] = NULL;
            /* the last part runs here, as does any whose thread fails;
             * a thread's APR pool comes from its job's, as g->tmp is
             * this thread's */
            if (k < n - 1 && jobs[k].pool
                && apr_thread_create(&threads[k], NULL, next_job_run,
                                     &jobs[k], jobs[k].pool) != APR_SUCCESS)
                threads[k] = NULL;
        }
        for (k = 0; k < n; k++) {
            if (!threads[k])
                graph_next_range(g, jobs[k].from, jobs[k].to,
                                 jobs[k].pool ? jobs[k].pool : g->tmp);
        }
        for (k = 0; k < n; k++) {
            apr_status_t rv;
            if (threads[k])
                apr_thread_join(&rv, threads[k]);
            if (jobs[k].pool)
                apr_pool_destroy(jobs[k].pool);
        }
        return;
    }
#endif
    graph_next_range(g, from, to, g->tmp);
}

static rr_diag_place rule_place(const rr_graph *g, uint32_t id)
{
    int tk;
    uint32_t off;
    rr_diag_place p;
    global_split(g, id, &tk, &off);
    p.file = rr_table_file_of(g->s->tables[tk], off);
    p.line = rec_line(g->s->tables[tk]->arena, off);
    return p;
}

/* "FILE:LINE -> FILE:LINE ..." for the messages of chains and loops. */
static const char *places_text(apr_pool_t *pool,
                               const apr_array_header_t *places)
{
    const char *out = "";
    int k;
    for (k = 0; k < places->nelts; k++) {
        const rr_diag_place *p = &APR_ARRAY_IDX(places, k, rr_diag_place);
        out = apr_psprintf(pool, "%s%s%s:%u", out, k ? " -> " : "", p->file,
                           p->line);
    }
    return out;
}

/* Reports the loop that starts at stack[first] and comes back to it. */
static void report_loop(rr_graph *g, const apr_array_header_t *stack,
                        int first, rr_diag *d)
{
    apr_array_header_t *places = apr_array_make(g->tmp, 8,
                                                sizeof(rr_diag_place));
    const rr_diag_place *start;
    int k;
    for (k = first; k < stack->nelts; k++) {
        uint32_t x = APR_ARRAY_IDX(stack, k, uint32_t);
        g->state[x] |= GS_IN_LOOP;
        APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(g, x);
    }
    start = &APR_ARRAY_IDX(places, 0, rr_diag_place);
    APR_ARRAY_PUSH(places, rr_diag_place) = *start;
    start = &APR_ARRAY_IDX(places, 0, rr_diag_place);
    rr_diag_push(d, RR_DIAG_LOOP, (const rr_diag_place *)places->elts,
                 places->nelts, "%s:%u: redirect loop: %s", start->file,
                 start->line, places_text(g->tmp, places));
}

/* Walks from `start` along next hops until a rule already walked or on
 * this walk; coming back onto this walk is a loop.  Returns APR_EINVAL on
 * a new loop. */
static apr_status_t graph_walk(rr_graph *g, uint32_t start,
                               apr_array_header_t *stack, rr_diag *d)
{
    uint32_t id = start, n;
    apr_status_t rv = APR_SUCCESS;
    int k;

    stack->nelts = 0;

    while (id != UINT32_MAX && !(g->state[id] & (GS_ON_PATH | GS_DONE))) {
        g->state[id] |= GS_ON_PATH;
        APR_ARRAY_PUSH(stack, uint32_t) = id;
        n = graph_next(g, id);
        if (n)
            g->indeg[n - 1]++;
        id = n ? n - 1 : UINT32_MAX;
    }
    if (id != UINT32_MAX && (g->state[id] & GS_ON_PATH)) {
        for (k = 0; APR_ARRAY_IDX(stack, k, uint32_t) != id; k++)
            ;
        report_loop(g, stack, k, d);
        rv = APR_EINVAL;
    }
    for (k = 0; k < stack->nelts; k++) {
        uint32_t x = APR_ARRAY_IDX(stack, k, uint32_t);
        g->state[x] = (unsigned char)((g->state[x] & ~GS_ON_PATH) | GS_DONE);
    }
    return rv;
}

/* Follows a chain from rule `id` to the URL its last hop answers. */
static const char *chain_final(rr_graph *g, uint32_t id, unsigned *statuses)
{
    int tk, hops;
    uint32_t off;
    rr_rec r;
    const char *url;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    url = apr_pstrmemdup(g->tmp, r.target, r.tgt_len);
    *statuses = 1u << r.status;
    for (hops = 0; hops < 64; hops++) {
        rr_hop hop;
        rr_match m;
        const rr_collapsed *cl;
        if (!target_on_host(g->s, g->tmp, &r, url, strlen(url), g->hosts,
                            &hop)
            || !hop_lookup(g->s, &hop, &m)
            || rec_status(m.table->arena, m.rule) == RR_STATUS_410)
            break;
        url = rr_match_location(&m, g->tmp, hop.path, hop.query, NULL);
        rec_decode(m.table->arena, m.rule, &r);
        *statuses |= 1u << r.status;
        if ((cl = rr_set_collapsed(g->s, &m)))
            *statuses |= cl->statuses;  /* already collapsed: its hops too */
    }
    return url;
}

/* Sets up the graph of a set; NULL when memory runs out. */
static rr_graph *graph_create(rr_set *s, const apr_array_header_t *hosts,
                              apr_pool_t *tmp)
{
    rr_graph *g = apr_pcalloc(tmp, sizeof(*g));
    int k;
    g->s = s;
    g->hosts = hosts;
    g->tmp = tmp;
    g->base = apr_pcalloc(tmp, sizeof(uint32_t) * (s->ntables + 1));
    for (k = 0; k < s->ntables; k++)
        g->base[k + 1] = g->base[k] + s->tables[k]->nrec;
    g->total = g->base[s->ntables];
    g->own_end = g->base[rr_set_own_count(s)];
    /* malloc, not the pool: a million-rule set needs megabytes once */
    g->next = calloc(g->total + 1, sizeof(uint32_t));
    g->indeg = calloc(g->total + 1, sizeof(uint32_t));
    g->state = calloc(g->total + 1, 1);
    if (g->next && g->indeg && g->state)
        return g;
    free(g->next);
    free(g->indeg);
    free(g->state);
    return NULL;
}

static void graph_free(rr_graph *g)
{
    free(g->next);
    free(g->indeg);
    free(g->state);
}

/* A source in a later own table that an earlier own table already
 * defines: the earlier one wins, and a warning names both places. */
static void check_duplicates_across(const rr_set *s, rr_diag *d)
{
    int k, own = rr_set_own_count(s);
    for (k = 1; k < own; k++) {
        const rr_table *t = s->tables[k];
        uint32_t i;
        for (i = 0; i < t->nrec; i++) {
            rr_rec r;
            rr_params q;
            rr_group grp;
            rr_key key;
            int j;
            rec_decode(t->arena, t->offs[i], &r);
            if (r.bits & RB_SHADOWED)
                continue;
            rr_rec_key(&r, &grp, &q, &key);
            for (j = 0; j < k; j++) {
                const rr_table *e = s->tables[j];
                uint32_t prev;
                rr_diag_place pl[2];
                if (e->opt.trailing_strict != t->opt.trailing_strict)
                    continue;
                prev = rr_table_probe(e, r.pattern ? rr_pattern_rec_hash(&r)
                                      : key_hash(grp.seed, key.kind,
                                                 key.nocase, r.src,
                                                 r.src_len,
                                                 q.count ? q.sum : 0),
                                      &key);
                if (!prev)
                    continue;
                pl[0].file = rr_table_file_of(t, t->offs[i]);
                pl[0].line = r.line;
                pl[1].file = rr_table_file_of(e, prev);
                pl[1].line = rec_line(e->arena, prev);
                rr_diag_push(d, RR_DIAG_DUPLICATE, pl, 2,
                             "%s:%u: duplicate source (first defined at "
                             "%s:%u); this line is ignored", pl[0].file,
                             pl[0].line, pl[1].file, pl[1].line);
                break;
            }
        }
    }
}

/* A query rule naming a parameter the set ignores can never match: the
 * request's ignored parameters are left out before rules compare. */
static void check_unmatchable(const rr_set *s, rr_diag *d)
{
    int k, own = rr_set_own_count(s);
    if (!s->ignore)
        return;
    for (k = 0; k < own; k++) {
        const rr_table *t = s->tables[k];
        uint32_t i;
        if (!t->has_kind[RR_KIND_QUERY])
            continue;
        for (i = 0; i < t->nrec; i++) {
            rr_rec r;
            rr_params q;
            rr_diag_place pl;
            int j;
            rec_decode(t->arena, t->offs[i], &r);
            if ((r.bits & (RB_SHADOWED | RB_KIND_MASK)) != RR_KIND_QUERY)
                continue;
            rr_rec_params(&r, &q);
            for (j = 0; j < q.count; j++) {
                if (!rr_ignore_has(s->ignore, q.p[j], q.n[j]))
                    continue;
                pl.file = rr_table_file_of(t, t->offs[i]);
                pl.line = r.line;
                rr_diag_push(d, RR_DIAG_UNMATCHABLE, &pl, 1,
                             "%s:%u: query parameter '%.*s' is ignored "
                             "(Redirect307IgnoreParams), so no request can "
                             "match this rule", pl.file, pl.line,
                             (int)q.n[j], q.p[j]);
                break;
            }
        }
    }
}

/* A rule whose window has closed answers nothing any more: time to
 * remove it (redirect307 prune --expired does). */
static void check_expired(const rr_set *s, rr_diag *d)
{
    apr_time_t now = apr_time_sec(s->clock ? s->clock : apr_time_now());
    int k, own = rr_set_own_count(s);
    for (k = 0; k < own; k++) {
        const rr_table *t = s->tables[k];
        uint32_t i;
        if (!t->has_windows)
            continue;
        for (i = 0; i < t->nrec; i++) {
            rr_rec r;
            rr_diag_place pl;
            rec_decode(t->arena, t->offs[i], &r);
            if (!r.window || (r.bits & RB_SHADOWED)
                || r.until == WINDOW_OPEN_END || (apr_time_t)r.until > now)
                continue;
            pl.file = rr_table_file_of(t, t->offs[i]);
            pl.line = r.line;
            rr_diag_push(d, RR_DIAG_EXPIRED, &pl, 1, "%s:%u: expired at %s "
                         "(until=): this rule answers no more requests",
                         pl.file, pl.line,
                         rr_time_format(d ? d->pool : s->pool,
                                        apr_time_from_sec(r.until)));
        }
    }
}

/* Do two matches answer a request for `path` alike, with and without a
 * query?  Status first, then the Location with an empty base. */
static int same_answer(apr_pool_t *p, const rr_match *a, const rr_match *b,
                       const char *path)
{
    static const char *const args[] = { NULL, "x=1" };
    int k;
    if (rr_match_status(a, 0) != rr_match_status(b, 0))
        return 0;
    for (k = 0; k < 2; k++) {
        const char *la = rr_match_location(a, p, path, args[k], NULL);
        const char *lb = rr_match_location(b, p, path, args[k], NULL);
        if ((la == NULL) != (lb == NULL) || (la && strcmp(la, lb)))
            return 0;
    }
    return 1;
}

/* Rules whose answer depends on more than the path never stand in for
 * another: windows, qsnone. */
static int answers_by_path_alone(const rr_rec *r)
{
    return !r->window && !(r->xbits & XB_QSNONE) && !(r->bits & RB_SHADOWED);
}

/* A case-sensitive exact rule of t with a nocase twin answering alike. */
static int nocase_twin(const rr_set *s, const rr_rec *r, const rr_group *g,
                       rr_match *twin)
{
    char folded[RR_MAX_LINE];
    rr_key k;
    int t;
    uint32_t i, off;
    if (!s->folded || r->src_len > sizeof(folded))
        return 0;
    for (i = 0; i < r->src_len; i++)
        folded[i] = (char)fold((unsigned char)r->src[i]);
    k.group = g;
    k.kind = RR_KIND_EXACT;
    k.nocase = 1;
    k.key = folded;
    k.klen = r->src_len;
    k.q = NULL;
    k.pattern = 0;
    for (t = 0; t < s->ntables; t++) {
        off = rr_table_probe(s->tables[t], key_hash(g->seed, RR_KIND_EXACT,
                                                    1, folded, r->src_len,
                                                    0), &k);
        if (off) {
            twin->set = s;
            twin->table = s->tables[t];
            twin->rule = off;
            twin->tail = r->src_len;
            return 1;
        }
    }
    return 0;
}

static void report_redundant(const rr_table *t, uint32_t off,
                             const rr_rec *r, const rr_match *other,
                             rr_diag *d)
{
    rr_diag_place pl[2];
    pl[0].file = rr_table_file_of(t, off);
    pl[0].line = r->line;
    pl[1].file = rr_table_file_of(other->table, other->rule);
    pl[1].line = rec_line(other->table->arena, other->rule);
    rr_diag_push(d, RR_DIAG_REDUNDANT, pl, 2, "%s:%u: redundant: %s:%u "
                 "answers every request this rule does, the same way",
                 pl[0].file, pl[0].line, pl[1].file, pl[1].line);
}

/* Exact rules that can never answer differently from another rule: one
 * below a prefix rule giving the same Location, or with a nocase twin.
 * Costs a prefix lookup per exact rule, and only where the set has
 * prefix rules or nocase rules at all. */
static void check_redundant(const rr_set *s, apr_pool_t *tmp, rr_diag *d)
{
    int k, own = rr_set_own_count(s);
    if (s->maxdepth < 0 && !s->folded)
        return;
    for (k = 0; k < own; k++) {
        const rr_table *t = s->tables[k];
        uint32_t i;
        if (!t->has_kind[RR_KIND_EXACT])
            continue;
        for (i = 0; i < t->nrec; i++) {
            uint32_t off = t->offs[i];
            rr_rec r;
            rr_group g;
            rr_match self, other;
            const char *path;
            rec_decode(t->arena, off, &r);
            if ((r.bits & RB_KIND_MASK) != RR_KIND_EXACT || r.pattern
                || (r.bits & RB_NOCASE) || !answers_by_path_alone(&r))
                continue;
            group_init(&g, r.xbits, r.host, r.h_len);
            path = apr_pstrmemdup(tmp, r.src, r.src_len);
            self.set = s;
            self.table = t;
            self.rule = off;
            self.tail = r.src_len;
            if ((nocase_twin(s, &r, &g, &other)
                 || (s->maxdepth >= 0
                     && rr_set_prefix_rule_for(s, &g, path, r.src_len,
                                               &other)))
                && other.rule != off) {
                rr_rec o;
                rec_decode(other.table->arena, other.rule, &o);
                if (answers_by_path_alone(&o)
                    && same_answer(tmp, &self, &other, path))
                    report_redundant(t, off, &r, &other, d);
            }
        }
    }
}

apr_status_t rr_set_find_redundant(const rr_set *s, rr_diag *d)
{
    apr_pool_t *tmp;
    apr_pool_create(&tmp, s->pool);
    check_redundant(s, tmp, d);
    apr_pool_destroy(tmp);
    return APR_SUCCESS;
}

/* Walks from every own rule; loops are errors.  Returns APR_EINVAL if
 * there was one. */
static apr_status_t find_loops(rr_graph *g, rr_diag *d)
{
    apr_status_t rv = APR_SUCCESS;
    /* one stack for every walk: one per rule cost 70 bytes a rule */
    apr_array_header_t *stack = apr_array_make(g->tmp, 8, sizeof(uint32_t));
    uint32_t id;
    graph_next_batch(g, 0, g->own_end);
    for (id = 0; id < g->own_end; id++) {
        if (!(g->state[id] & GS_DONE)
            && graph_walk(g, id, stack, d) != APR_SUCCESS)
            rv = APR_EINVAL;
    }
    return rv;
}

/* A rule whose target carries the rest of the path, or captured
 * segments, answers each request differently: Collapse cannot give it
 * one final target. */
static int carries_path(const rr_graph *g, uint32_t id)
{
    int tk;
    uint32_t off;
    rr_rec r;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    return (r.bits & RB_STAR) || target_uses_captures(&r);
}

/* A pattern rule carrying captures, which Collapse leaves as it is even
 * in the middle of a chain. */
static int carries_captures(const rr_graph *g, uint32_t id)
{
    int tk;
    uint32_t off;
    rr_rec r;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    return target_uses_captures(&r);
}

/* One warning per chain, from the rule nobody points at to the end,
 * naming every rule on it; chains that run into a loop were reported as
 * the loop.  Under Collapse only the chains it cannot shorten. */
static void report_chains(rr_graph *g, rr_chains_mode mode, rr_diag *d)
{
    uint32_t id;
    for (id = 0; id < g->own_end; id++) {
        uint32_t x;
        apr_array_header_t *places;
        const rr_diag_place *first;
        int into_loop = 0;
        if (!g->next[id] || (g->state[id] & GS_IN_LOOP)
            || (g->indeg[id] && !(mode == RR_CHAINS_COLLAPSE
                                  && carries_captures(g, id))))
            continue;
        places = apr_array_make(g->tmp, 4, sizeof(rr_diag_place));
        APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(g, id);
        for (x = g->next[id] - 1;; x = g->next[x] - 1) {
            if (g->state[x] & GS_IN_LOOP) {
                into_loop = 1;
                break;
            }
            APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(g, x);
            if (!g->next[x])
                break;
        }
        if (into_loop)
            continue;
        first = &APR_ARRAY_IDX(places, 0, rr_diag_place);
        if (mode != RR_CHAINS_COLLAPSE)
            rr_diag_push(d, RR_DIAG_CHAIN, (const rr_diag_place *)places->elts,
                         places->nelts, "%s:%u: redirect chain: %s",
                         first->file, first->line,
                         places_text(g->tmp, places));
        else if (carries_path(g, id))
            rr_diag_push(d, RR_DIAG_UNCOLLAPSED,
                         (const rr_diag_place *)places->elts, places->nelts,
                         "%s:%u: redirect chain cannot be collapsed (its "
                         "first rule carries the path or captured "
                         "segments): %s", first->file,
                         first->line, places_text(g->tmp, places));
    }
}

/* Every own rule with a next hop answers with its chain's end, so a
 * request entering mid-chain is collapsed too. */
static void collapse_chains(rr_graph *g)
{
    rr_set *s = g->s;
    uint32_t id;
    for (id = 0; id < g->own_end; id++) {
        int tk;
        uint32_t off;
        rr_rule_key *key;
        rr_collapsed *cl;
        const char *final;
        unsigned statuses;
        if (!g->next[id] || (g->state[id] & GS_IN_LOOP)
            || carries_path(g, id))
            continue;
        global_split(g, id, &tk, &off);
        final = chain_final(g, id, &statuses);
        if (!s->collapsed)
            s->collapsed = apr_hash_make(s->pool);
        key = apr_pcalloc(s->pool, sizeof(*key));
        key->table = tk;
        key->off = off;
        cl = apr_palloc(s->pool, sizeof(*cl));
        cl->target = apr_pstrdup(s->pool, final);
        cl->statuses = statuses;
        apr_hash_set(s->collapsed, key, sizeof(*key), cl);
    }
}

/* A pattern rule that never answers: for a path only it could match
 * (its placeholders given a value no rule names), the group's lookup
 * finds a literal prefix rule, or a pattern rule that matches every path
 * it does; either answers first for all of them. */
static void check_shadowed(const rr_set *s, apr_pool_t *tmp, rr_diag *d)
{
    int k, own = rr_set_own_count(s);
    for (k = 0; k < own; k++) {
        const rr_table *t = s->tables[k];
        uint32_t i;
        if (t->nshapes == 0)
            continue;
        for (i = 0; i < t->nrec; i++) {
            uint32_t off = t->offs[i];
            rr_rec r, o;
            rr_group g;
            rr_match m;
            rr_diag_place pl[2];
            const char *path;
            size_t len;
            int covered;
            rec_decode(t->arena, off, &r);
            if (!r.pattern || (r.bits & RB_SHADOWED))
                continue;
            apr_pool_clear(tmp);
            group_init(&g, r.xbits, r.host, r.h_len);
            path = rr_pattern_sample(tmp, &r, &len);
            if (!rr_set_lookup_in_group(s, &g, path, len, &m)
                || (m.table == t && m.rule == off))
                continue;
            rec_decode(m.table->arena, m.rule, &o);
            if (!answers_by_path_alone(&o)
                || (o.pattern && (o.bits & (RB_KIND_MASK | RB_NOCASE))
                                 == (r.bits & (RB_KIND_MASK | RB_NOCASE))
                    && rr_pattern_same(o.src, o.src_len, r.src, r.src_len)))
                continue;       /* a duplicate, reported as one */
            covered = o.pattern ? rr_pattern_covers(&o, &r)
                : (o.bits & RB_KIND_MASK) == RR_KIND_PREFIX
                  && ((o.bits & RB_NOCASE) || !(r.bits & RB_NOCASE));
            if (!covered)
                continue;
            pl[0].file = rr_table_file_of(t, off);
            pl[0].line = r.line;
            pl[1].file = rr_table_file_of(m.table, m.rule);
            pl[1].line = o.line;
            rr_diag_push(d, RR_DIAG_SHADOWED, pl, 2, "%s:%u: pattern rule "
                         "never answers: %s %s:%u answers every path it "
                         "matches first", pl[0].file, pl[0].line,
                         o.pattern ? "pattern rule" : "literal prefix rule",
                         pl[1].file, pl[1].line);
        }
    }
}

apr_status_t rr_set_check(rr_set *s, const apr_array_header_t *hosts,
                          rr_chains_mode mode, rr_diag *d)
{
    apr_pool_t *tmp;
    apr_status_t rv;
    rr_graph *g;

    apr_pool_create(&tmp, s->pool);
    g = graph_create(s, hosts, tmp);
    if (!g) {
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0,
                     "out of memory checking chains");
        apr_pool_destroy(tmp);
        return APR_ENOMEM;
    }
    check_duplicates_across(s, d);
    check_unmatchable(s, d);
    check_expired(s, d);
    if (s->nshapes > 0) {
        apr_pool_t *scratch;
        apr_pool_create(&scratch, tmp);
        check_shadowed(s, scratch, d);
        apr_pool_destroy(scratch);
    }
    rv = find_loops(g, d);
    if (mode != RR_CHAINS_OFF)
        report_chains(g, mode, d);
    if (mode == RR_CHAINS_COLLAPSE)
        collapse_chains(g);
    graph_free(g);
    apr_pool_destroy(tmp);
    return rv;
}
