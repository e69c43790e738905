/*
 * engine_bench.c - the rules engine against a plain apr_hash_t, side by
 * side, on generated rules files shaped like real site migrations.
 *
 *   engine_bench [SIZE...]        default 1000 100000 1000000
 *   BENCH_QUICK=1 engine_bench    1000 and 100000 only
 *   engine_bench patterns         the pattern-rule section alone
 *
 * For each size: build cost per rule, memory per rule beyond the rule
 * text, and lookup cost for hits, near misses, far misses and deep paths
 * under prefix rules.  The apr_hash_t baseline answers the same questions
 * the engine does (query, exact, then longest prefix) the way a hash map
 * without the engine's design would: it hashes every candidate key from
 * scratch.  Every answer of both is cross-checked on a sample, and hit
 * rates are printed, so a fast wrong answer cannot pass unnoticed.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "apr_allocator.h"
#include "apr_general.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_version.h"
#include "apu_version.h"

#include "redirect_rules.h"

#define NLOOKUPS     1000000u   /* lookups per measurement */
#define NVERIFY      200000u    /* answers cross-checked per query kind */
#define REPEATS      5          /* best of: lookups */
#define SEED         0x5eed307u
#define LOC_BASE     "https://www.example.com"

#ifndef BENCH_ENGINE_REV        /* bench.mk passes the git revision */
#define BENCH_ENGINE_REV "unknown"
#endif

/* ---- PRNG: splitmix64, fixed seed so runs are comparable ------------ */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* ---- clocks and heap ------------------------------------------------ */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Bytes in use: malloc's in-use bytes in its brk heap (uordblks) plus
 * every mapping outside that heap.  mallinfo2 alone would miss pool
 * memory: Debian's APR allocator mmaps its blocks itself.  The mappings
 * (from /proc/self/statm) include malloc's own mmap'd chunks (hblkhd),
 * so those are not added again; libraries and stacks are constant and
 * cancel out of a delta. */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    unsigned long vm_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &vm_pages) != 1)
            vm_pages = 0;
        fclose(f);
    }
    return mi.uordblks + vm_pages * (size_t)sysconf(_SC_PAGESIZE)
           - mi.arena;
}

/* A pool whose allocator hands freed blocks straight back to malloc, so
 * mallinfo2 deltas show what a structure holds, not what APR caches. */
static apr_pool_t *measured_pool(void)
{
    apr_allocator_t *al;
    apr_pool_t *p;
    apr_allocator_create(&al);
    apr_allocator_max_free_set(al, 1);
    apr_pool_create_ex(&p, NULL, NULL, al);
    apr_allocator_owner_set(al, p);
    return p;
}

/* ---- rule generation ------------------------------------------------ */

static const char *const sections[] = {
    "blog", "news", "products", "shop", "support", "docs", "about",
    "category", "articles", "press", "events", "careers", "catalog",
    "store", "help", "kb", "community", "forum", "resources", "media",
    "downloads", "solutions", "industries", "partners", "company",
    "investors", "library", "guides", "tutorials", "stories", "en", "de",
    "fr", "es", "it", "nl", "collections", "brands", "deals", "outlet"
};

static const char *const words[] = {
    "alpha", "garden", "summer", "winter", "kitchen", "outdoor", "travel",
    "wireless", "classic", "modern", "vintage", "premium", "basic", "pro",
    "ultra", "mini", "max", "lite", "home", "office", "sports", "fitness",
    "running", "cycling", "hiking", "camping", "fishing", "audio", "video",
    "camera", "laptop", "phone", "tablet", "watch", "shoes", "jackets",
    "shirts", "dresses", "bags", "jewelry", "beauty", "health", "toys",
    "books", "music", "movies", "games", "software", "hardware", "cloud",
    "security", "network", "storage", "server", "database", "analytics",
    "mobile", "desktop", "design", "marketing", "sales", "finance", "legal",
    "privacy", "terms", "shipping", "returns", "warranty", "contact",
    "team", "history", "mission", "values", "awards", "reviews", "ratings",
    "compare", "guide", "howto", "faq", "tips", "tricks", "news", "update",
    "release", "notes", "changelog", "roadmap", "pricing", "plans", "trial",
    "demo", "webinar", "podcast", "ebook", "whitepaper", "case", "study",
    "report", "survey", "index", "archive", "old", "legacy", "red", "blue",
    "green", "black", "white", "silver", "gold", "large", "small", "medium",
    "new", "best", "top", "cheap", "fast", "easy", "smart", "eco", "organic"
};

static const char *const php_pages[] = {
    "/index.php", "/product.php", "/catalog/view.php", "/shop/item.php",
    "/article.php", "/news/show.php", "/page.php", "/cgi-bin/item.pl"
};

#define NELTS(a) (sizeof(a) / sizeof((a)[0]))

/* A growable byte buffer. */
typedef struct {
    char *s;
    size_t n, cap;
} buf_t;

static void buf_put(buf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        if (!b->s) {
            fprintf(stderr, "engine_bench: out of memory\n");
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static void buf_num(buf_t *b, unsigned long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lu", v);
    buf_put(b, tmp, (size_t)n);
}

static void put_word(buf_t *b)
{
    buf_str(b, words[rng_below(NELTS(words))]);
}

static void put_slug(buf_t *b)
{
    uint32_t k, n = 2 + rng_below(4);
    for (k = 0; k < n; k++) {
        if (k)
            buf_put(b, "-", 1);
        put_word(b);
    }
}

/* A middle segment: word, slug, id or year. */
static void put_segment(buf_t *b)
{
    uint32_t r = rng_below(100);
    buf_put(b, "/", 1);
    if (r < 40)
        put_word(b);
    else if (r < 75)
        put_slug(b);
    else if (r < 90)
        buf_num(b, 1 + rng_below(999999));
    else
        buf_num(b, 1998 + rng_below(28));
}

/* A last segment: slugs, some .html/.php pages, ids, words. */
static void put_last_segment(buf_t *b)
{
    uint32_t r = rng_below(100);
    buf_put(b, "/", 1);
    if (r < 50) {
        put_slug(b);
    }
    else if (r < 70) {
        put_slug(b);
        buf_str(b, ".html");
    }
    else if (r < 75) {
        put_word(b);
        buf_str(b, ".php");
    }
    else if (r < 90) {
        buf_num(b, 1 + rng_below(9999999));
    }
    else {
        put_word(b);
    }
}

/* A segment that appears in no generated source: far misses. */
static void put_noise_segment(buf_t *b)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint32_t k, n = 4 + rng_below(14);
    buf_put(b, "/", 1);
    for (k = 0; k < n; k++)
        buf_put(b, &alnum[rng_below(sizeof(alnum) - 1)], 1);
}

typedef enum { GEN_EXACT, GEN_PREFIX, GEN_QUERY } gen_kind;

/* One generated rule: `key` is what a request for it looks like (the
 * path of an exact rule, the path before the slash-star of a prefix
 * rule). */
typedef struct {
    const char *key;
    uint32_t klen;
    gen_kind kind;
} gen_rule;

typedef struct {
    apr_pool_t *pool;
    gen_rule *rules;
    uint32_t n;
    uint32_t *exact;        /* indexes of exact rules */
    uint32_t nexact;
    uint32_t *prefix;       /* indexes of prefix rules */
    uint32_t nprefix;
    uint32_t max_depth;     /* segments in the deepest prefix key */
    size_t file_bytes;
} gen_set;

static void put_path_target(buf_t *b, int star)
{
    uint32_t r = rng_below(100);
    if (r < 30)
        buf_str(b, "https://www.example.com");
    else if (r < 50)
        buf_str(b, "https://shop.example.com");
    else if (r < 60)
        buf_str(b, "https://new.example.com");
    buf_str(b, rng_below(2) ? "/new" : "/x");
    put_segment(b);
    if (star)
        buf_str(b, "/*");
    else
        put_last_segment(b);
}

static void put_status(buf_t *b)
{
    uint32_t r = rng_below(100);
    if (r < 25)
        buf_str(b, "  301");
    else if (r < 35)
        buf_str(b, "  302");
    else if (r < 40)
        buf_str(b, "  308");
    /* else: the Redirect307Default */
}

/* One source of the given kind, 20-120 bytes, into b (emptied first). */
static void gen_source(buf_t *b, gen_kind kind)
{
    for (;;) {
        uint32_t k, nseg;
        b->n = 0;
        if (kind == GEN_QUERY) {
            const char *page = php_pages[rng_below(NELTS(php_pages))];
            buf_str(b, page);
            buf_str(b, "?id=");
            buf_num(b, 1 + rng_below(9999999));
            if (rng_below(2)) {
                buf_str(b, "&cat=");
                buf_num(b, 1 + rng_below(500));
            }
            if (rng_below(4) == 0) {
                buf_str(b, "&lang=");
                buf_str(b, sections[30 + rng_below(6)]);
            }
        }
        else {
            nseg = kind == GEN_PREFIX ? 2 + rng_below(3) : 2 + rng_below(5);
            buf_str(b, "/");
            buf_str(b, sections[rng_below(NELTS(sections))]);
            for (k = 1; k + 1 < nseg; k++)
                put_segment(b);
            if (kind == GEN_PREFIX)
                put_segment(b);
            else
                put_last_segment(b);
        }
        if (kind == GEN_PREFIX)
            buf_str(b, "/*");
        if (b->n >= 20 && b->n <= 120)
            return;
    }
}

/* Writes a rules file of n unique rules: ~10% prefix, ~5% query. */
static gen_set *gen_rules(apr_pool_t *pool, uint32_t n, const char *path)
{
    gen_set *g = apr_pcalloc(pool, sizeof(*g));
    apr_hash_t *seen = apr_hash_make(pool);
    buf_t src = { 0 }, line = { 0 };
    FILE *f = fopen(path, "w");
    uint32_t i;

    if (!f) {
        fprintf(stderr, "engine_bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    g->pool = pool;
    g->rules = apr_palloc(pool, sizeof(gen_rule) * n);
    g->exact = apr_palloc(pool, sizeof(uint32_t) * n);
    g->prefix = apr_palloc(pool, sizeof(uint32_t) * n);
    fprintf(f, "# generated by engine_bench: %u rules, seed %#x\n\n",
            n, SEED);
    for (i = 0; i < n; i++) {
        uint32_t r = rng_below(100);
        gen_kind kind = r < 10 ? GEN_PREFIX : r < 15 ? GEN_QUERY : GEN_EXACT;
        gen_rule *gr = &g->rules[i];
        char *copy;
        do {
            gen_source(&src, kind);
        } while (apr_hash_get(seen, src.s, (apr_ssize_t)src.n));
        copy = apr_pstrmemdup(pool, src.s, src.n);
        apr_hash_set(seen, copy, (apr_ssize_t)src.n, copy);

        line.n = 0;
        buf_put(&line, src.s, src.n);
        buf_str(&line, rng_below(3) ? "  " : "\t");
        if (kind == GEN_QUERY) {
            buf_str(&line, "/products");
            put_last_segment(&line);
        }
        else {
            put_path_target(&line, kind == GEN_PREFIX && rng_below(5) != 0);
        }
        put_status(&line);
        buf_put(&line, "\n", 1);
        if (i % 5000 == 4999)
            buf_str(&line, "\n# next batch of the migration\n");
        fwrite(line.s, 1, line.n, f);
        g->file_bytes += line.n;

        gr->kind = kind;
        gr->key = copy;
        gr->klen = (uint32_t)(kind == GEN_PREFIX ? src.n - 2 : src.n);
        if (kind == GEN_EXACT)
            g->exact[g->nexact++] = i;
        else if (kind == GEN_PREFIX) {
            uint32_t k, depth = 0;
            for (k = 0; k < gr->klen; k++)
                depth += copy[k] == '/';
            if (depth > g->max_depth)
                g->max_depth = depth;
            g->prefix[g->nprefix++] = i;
        }
    }
    free(src.s);
    free(line.s);
    if (fclose(f) != 0) {
        fprintf(stderr, "engine_bench: %s: write failed\n", path);
        exit(1);
    }
    g->n = n;
    return g;
}

/* ---- the apr_hash_t baseline ----------------------------------------
 * What a straightforward module would do: read the file, split lines,
 * one apr_hash_t per rule kind, key -> { target, status } in a pool.
 * It validates nothing (the engine checks UTF-8, controls, URLs...). */

typedef struct {
    const char *target;
    int status;
    int kind;               /* rr_kind, for the cross-check */
} base_rule;

typedef struct {
    apr_hash_t *exact, *prefix, *query;
    size_t text_bytes;      /* key + target bytes, as rr_stats counts */
    uint32_t rules;
} base_table;

static const char *next_token(const char **p, const char *end, size_t *n)
{
    const char *s = *p, *t;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    t = s;
    while (t < end && *t != ' ' && *t != '\t')
        t++;
    *p = t;
    *n = (size_t)(t - s);
    return s;
}

static void base_add_line(base_table *bt, apr_pool_t *pool, const char *s,
                          const char *end)
{
    const char *src, *tgt, *st;
    size_t sn, tn, stn;
    base_rule *r;
    apr_hash_t *h;
    int kind;

    src = next_token(&s, end, &sn);
    if (sn == 0 || *src == '#')
        return;
    tgt = next_token(&s, end, &tn);
    st = next_token(&s, end, &stn);
    if (tn == 0)
        return;
    kind = RR_KIND_EXACT;
    h = bt->exact;
    if (sn >= 2 && src[sn - 2] == '/' && src[sn - 1] == '*') {
        sn -= 2;
        kind = RR_KIND_PREFIX;
        h = bt->prefix;
    }
    else if (memchr(src, '?', sn)) {
        kind = RR_KIND_QUERY;
        h = bt->query;
    }
    else if (sn > 1 && src[sn - 1] == '/') {
        sn--;
    }
    if (apr_hash_get(h, src, (apr_ssize_t)sn))
        return;             /* duplicate: the first wins */
    r = apr_palloc(pool, sizeof(*r));
    r->target = apr_pstrmemdup(pool, tgt, tn);
    r->status = stn == 3 ? atoi(st) : 0;
    r->kind = kind;
    apr_hash_set(h, apr_pstrmemdup(pool, src, sn), (apr_ssize_t)sn, r);
    bt->text_bytes += sn + tn - (kind == RR_KIND_QUERY);  /* not the '?' */
    bt->rules++;
}

static base_table *base_load(apr_pool_t *pool, const char *path)
{
    base_table *bt = apr_pcalloc(pool, sizeof(*bt));
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t got = 0;
    char *buf;
    const char *p, *end;

    bt->exact = apr_hash_make(pool);
    bt->prefix = apr_hash_make(pool);
    bt->query = apr_hash_make(pool);
    if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_OS_DEFAULT, pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        fprintf(stderr, "engine_bench: cannot read %s\n", path);
        exit(1);
    }
    buf = malloc((size_t)fi.size + 1);
    if (!buf || apr_file_read_full(f, buf, (apr_size_t)fi.size, &got)
                != APR_SUCCESS) {
        fprintf(stderr, "engine_bench: cannot read %s\n", path);
        exit(1);
    }
    apr_file_close(f);
    p = buf;
    end = buf + got;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        base_add_line(bt, pool, p, le > p && le[-1] == '\r' ? le - 1 : le);
        p = le + 1;
    }
    free(buf);
    return bt;
}

/* Exact, then every segment prefix from the longest (the path itself) to
 * the shortest (""), each hashed from scratch by apr_hash_get.  Requests
 * here carry no query, so the query table is not consulted. */
static const base_rule *base_lookup(const base_table *bt, const char *path,
                                    size_t len)
{
    const base_rule *r;
    size_t i;
    if (len > 1 && path[len - 1] == '/')
        len--;
    r = apr_hash_get(bt->exact, path, (apr_ssize_t)len);
    if (r)
        return r;
    i = len;
    for (;;) {
        r = apr_hash_get(bt->prefix, path, (apr_ssize_t)i);
        if (r)
            return r;
        if (i == 0)
            return NULL;
        do
            i--;
        while (i > 0 && path[i] != '/');
    }
}

/* ---- query sets ----------------------------------------------------- */

typedef struct {
    const char **p;
    uint32_t *len;
    uint32_t n;
    buf_t text;             /* generated paths; p[] points in once done */
    size_t *off;
} queries;

static void q_init(queries *q, uint32_t n)
{
    memset(q, 0, sizeof(*q));
    q->p = malloc(sizeof(char *) * n);
    q->len = malloc(sizeof(uint32_t) * n);
    q->off = malloc(sizeof(size_t) * n);
    if (!q->p || !q->len || !q->off) {
        fprintf(stderr, "engine_bench: out of memory\n");
        exit(1);
    }
}

/* Appends a generated path (NUL-terminated in q->text). */
static void q_push_text(queries *q, const char *s, size_t n)
{
    q->off[q->n] = q->text.n;
    q->len[q->n] = (uint32_t)n;
    buf_put(&q->text, s, n);
    buf_put(&q->text, "", 1);       /* keep the NUL: paths are C strings */
    q->n++;
}

/* Points p[] into the text once it has stopped moving. */
static void q_seal(queries *q)
{
    uint32_t i;
    for (i = 0; i < q->n; i++)
        q->p[i] = q->text.s + q->off[i];
}

static void q_free(queries *q)
{
    free(q->p);
    free(q->len);
    free(q->off);
    free(q->text.s);
}

/* Hits: random existing exact sources. */
static void make_hits(queries *q, const gen_set *g)
{
    uint32_t i;
    q_init(q, NLOOKUPS);
    for (i = 0; i < NLOOKUPS; i++) {
        const gen_rule *r = &g->rules[g->exact[rng_below(g->nexact)]];
        q_push_text(q, r->key, r->klen);
    }
    q_seal(q);
}

/* Near misses: an existing source with "x" appended to its last segment,
 * or a sibling of it (last segment replaced); kept only if the baseline
 * says no rule answers it (no prefix rule above it either). */
static void make_near_misses(queries *q, const gen_set *g,
                             const base_table *bt)
{
    buf_t b = { 0 };
    q_init(q, NLOOKUPS);
    while (q->n < NLOOKUPS) {
        const gen_rule *r = &g->rules[g->exact[rng_below(g->nexact)]];
        b.n = 0;
        if (rng_below(2)) {
            buf_put(&b, r->key, r->klen);
            buf_put(&b, "x", 1);
        }
        else {
            const char *slash = r->key + r->klen;
            while (slash[-1] != '/')
                slash--;
            buf_put(&b, r->key, (size_t)(slash - 1 - r->key));
            put_last_segment(&b);
        }
        if (!base_lookup(bt, b.s, b.n))
            q_push_text(q, b.s, b.n);
    }
    free(b.s);
    q_seal(q);
}

/* Far misses: random paths of similar length that share nothing. */
static void make_far_misses(queries *q, const base_table *bt)
{
    buf_t b = { 0 };
    q_init(q, NLOOKUPS);
    while (q->n < NLOOKUPS) {
        uint32_t k, nseg = 2 + rng_below(5);
        b.n = 0;
        for (k = 0; k < nseg; k++)
            put_noise_segment(&b);
        if (b.n < 20 || b.n > 120 || base_lookup(bt, b.s, b.n))
            continue;
        q_push_text(q, b.s, b.n);
    }
    free(b.s);
    q_seal(q);
}

/* Deep paths: a prefix rule's key plus 5-10 more segments. */
static void make_deep(queries *q, const gen_set *g)
{
    buf_t b = { 0 };
    uint32_t i;
    q_init(q, NLOOKUPS);
    for (i = 0; i < NLOOKUPS; i++) {
        const gen_rule *r = &g->rules[g->prefix[rng_below(g->nprefix)]];
        uint32_t k, extra = 5 + rng_below(6);
        b.n = 0;
        buf_put(&b, r->key, r->klen);
        for (k = 0; k + 1 < extra; k++)
            put_segment(&b);
        put_last_segment(&b);
        q_push_text(q, b.s, b.n);
    }
    free(b.s);
    q_seal(q);
}

/* ---- timing lookups ------------------------------------------------- */

typedef struct {
    double ns;              /* per lookup, best of REPEATS */
    uint32_t found;
    uint64_t sum;           /* checksum: keeps the loop honest */
} lookup_result;

/* One pass of the engine over q. */
static double pass_ours(const rr_set *s, const queries *q, uint32_t *found,
                        uint64_t *sum)
{
    uint32_t i;
    double t0 = now_ns();
    *found = 0;
    *sum = 0;
    for (i = 0; i < q->n; i++) {
        rr_match m;
        if (rr_set_lookup(s, q->p[i], q->len[i], NULL, &m)) {
            (*found)++;
            *sum += m.rule + m.tail;
        }
    }
    return (now_ns() - t0) / q->n;
}

/* One pass of the baseline: full answers, or apr_hash_get alone. */
static double pass_base(const base_table *bt, const queries *q,
                        int exact_only, uint32_t *found, uint64_t *sum)
{
    uint32_t i;
    double t0 = now_ns();
    *found = 0;
    *sum = 0;
    for (i = 0; i < q->n; i++) {
        const base_rule *r = exact_only
            ? apr_hash_get(bt->exact, q->p[i], (apr_ssize_t)q->len[i])
            : base_lookup(bt, q->p[i], q->len[i]);
        if (r) {
            (*found)++;
            *sum += (uintptr_t)r->target + (unsigned)r->status;
        }
    }
    return (now_ns() - t0) / q->n;
}

static void keep_best(lookup_result *r, double ns, uint32_t found,
                      uint64_t sum)
{
    if (ns < r->ns)
        r->ns = ns;
    r->found = found;
    r->sum = sum;
}

/* Passes alternate between the two, so that a burst of load on a shared
 * machine hurts both alike; the best pass of each counts. */
static void time_lookups(const rr_set *s, const base_table *bt,
                         const queries *q, int with_exact_only,
                         lookup_result *ours, lookup_result *base,
                         lookup_result *base_exact)
{
    int rep;
    ours->ns = base->ns = base_exact->ns = 1e30;
    for (rep = 0; rep < REPEATS; rep++) {
        uint32_t found;
        uint64_t sum;
        double ns = pass_ours(s, q, &found, &sum);
        keep_best(ours, ns, found, sum);
        ns = pass_base(bt, q, 0, &found, &sum);
        keep_best(base, ns, found, sum);
        if (with_exact_only) {
            ns = pass_base(bt, q, 1, &found, &sum);
            keep_best(base_exact, ns, found, sum);
        }
    }
}

/* Location building for hits, matches found beforehand; the pool is
 * cleared every 1024 answers, as a request pool would be. */
static double time_location(const rr_set *s, const queries *q,
                            uint64_t *sum)
{
    rr_match *m = malloc(sizeof(rr_match) * q->n);
    uint32_t *qi = malloc(sizeof(uint32_t) * q->n);
    apr_pool_t *p;
    uint32_t i, n = 0;
    double best = 1e30;
    int rep;

    apr_pool_create(&p, NULL);
    for (i = 0; i < q->n; i++) {
        if (rr_set_lookup(s, q->p[i], q->len[i], NULL, &m[n]))
            qi[n++] = i;
    }
    for (rep = 0; rep < REPEATS; rep++) {
        double t0 = now_ns(), t;
        *sum = 0;
        for (i = 0; i < n; i++) {
            const char *loc = rr_match_location(&m[i], p, q->p[qi[i]], NULL,
                                                LOC_BASE);
            *sum += loc ? (unsigned char)loc[8] : 1;
            if ((i & 1023) == 1023)
                apr_pool_clear(p);
        }
        t = (now_ns() - t0) / (n ? n : 1);
        if (t < best)
            best = t;
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    free(m);
    free(qi);
    return best;
}

/* Both must give the same answer: same kind, target and status.  Returns
 * the number of disagreements among the first NVERIFY queries. */
static uint32_t cross_check(const rr_set *s, const base_table *bt,
                            const queries *q, const char *what)
{
    apr_pool_t *p;
    uint32_t i, bad = 0, n = q->n < NVERIFY ? q->n : NVERIFY;
    apr_pool_create(&p, NULL);
    for (i = 0; i < n; i++) {
        rr_match m;
        rr_rule_info info;
        const base_rule *r = base_lookup(bt, q->p[i], q->len[i]);
        int ours = rr_set_lookup(s, q->p[i], q->len[i], NULL, &m);
        if (!ours && !r)
            continue;
        info.target = "(none)";
        if (ours) {
            rr_match_rule(&m, p, &info);
            if (r && (int)info.kind == r->kind && info.status == r->status
                && info.target && strcmp(info.target, r->target) == 0)
                continue;
        }
        if (bad++ < 3)
            fprintf(stderr, "engine_bench: %s: answers differ for %s: "
                    "ours %s, apr_hash %s\n", what, q->p[i],
                    info.target ? info.target : "(410)",
                    r ? r->target : "(none)");
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return bad;
}

/* ---- one size ------------------------------------------------------- */

enum { Q_HIT, Q_NEAR, Q_FAR, Q_DEEP, Q_KINDS };
static const char *const q_names[Q_KINDS] = {
    "hits", "near misses", "far misses", "deep paths"
};

typedef struct {
    uint32_t n;
    double build_ours, build_base, check_ours;   /* ns per rule */
    double stats_over, heap_over_ours, heap_over_base;  /* bytes per rule */
    size_t file_bytes;
    lookup_result ours[Q_KINDS], base[Q_KINDS], base_exact[Q_KINDS];
    double loc_ns;
    uint32_t disagree[Q_KINDS];
    uint32_t depth;
} size_result;

static rr_set *build_ours(apr_pool_t *pool, const char *path,
                          size_result *sr, rr_stats *st)
{
    apr_pool_t *dpool;
    rr_diag *d;
    rr_builder *b;
    rr_table *t;
    rr_set *s;
    size_t h0, h1;
    double t0, t1, t2;

    apr_pool_create(&dpool, NULL);
    d = rr_diag_create(dpool);
    h0 = heap_in_use();
    t0 = now_ns();
    b = rr_builder_create(pool, NULL);
    if (rr_builder_add_file(b, path, d) != APR_SUCCESS
        || !(t = rr_builder_freeze(b, pool, d))) {
        fprintf(stderr, "engine_bench: %s: %s\n", path, d->errors
                ? APR_ARRAY_IDX(rr_diag_messages(d, 1, pool), 0, const char *) : "failed");
        exit(1);
    }
    t1 = now_ns();
    h1 = heap_in_use();
    s = rr_set_create(pool, 1);
    rr_set_add(s, t);
    if (rr_set_check(s, NULL, RR_CHAINS_OFF, d) != APR_SUCCESS) {
        fprintf(stderr, "engine_bench: %s: check failed\n", path);
        exit(1);
    }
    t2 = now_ns();
    if (d->warnings)
        fprintf(stderr, "engine_bench: %s: %d warnings, first: %s\n", path,
                d->warnings,
                APR_ARRAY_IDX(rr_diag_messages(d, 0, pool), 0, const char *));
    rr_table_stats(t, st);
    sr->build_ours = (t1 - t0) / st->rules;
    sr->check_ours = (t2 - t1) / st->rules;
    sr->stats_over = (double)(st->bytes - st->text_bytes) / st->rules;
    sr->heap_over_ours = ((double)h1 - (double)h0 - (double)st->text_bytes)
                         / st->rules;
    apr_pool_destroy(dpool);
    return s;
}

static base_table *build_base(apr_pool_t *pool, const char *path,
                              size_result *sr)
{
    size_t h0 = heap_in_use(), h1;
    double t0 = now_ns(), t1;
    base_table *bt = base_load(pool, path);
    t1 = now_ns();
    h1 = heap_in_use();
    sr->build_base = (t1 - t0) / bt->rules;
    sr->heap_over_base = ((double)h1 - (double)h0 - (double)bt->text_bytes)
                         / bt->rules;
    return bt;
}

static void run_size(uint32_t n, const char *dir, size_result *sr)
{
    apr_pool_t *gpool, *pool_ours = NULL, *pool_base = NULL;
    char path[4096];
    gen_set *g;
    rr_set *s = NULL;
    base_table *bt = NULL;
    rr_stats st;
    queries q[Q_KINDS];
    int k, rep, builds = n >= 1000000 ? 2 : 3;
    double best_ours = 1e30, best_base = 1e30, best_check = 1e30;

    memset(sr, 0, sizeof(*sr));
    sr->n = n;
    rng_state = SEED ^ n;
    snprintf(path, sizeof(path), "%s/rules-%u.txt", dir, n);
    apr_pool_create(&gpool, NULL);
    g = gen_rules(gpool, n, path);
    sr->file_bytes = g->file_bytes;
    sr->depth = g->max_depth;

    /* Builds alternate so that neither gets a warmer cache; the last of
     * each stays for the lookups.  Memory figures are the last build's. */
    for (rep = 0; rep < builds; rep++) {
        if (pool_ours)
            apr_pool_destroy(pool_ours);
        if (pool_base)
            apr_pool_destroy(pool_base);
        pool_ours = measured_pool();
        s = build_ours(pool_ours, path, sr, &st);
        pool_base = measured_pool();
        bt = build_base(pool_base, path, sr);
        if (sr->build_ours < best_ours)
            best_ours = sr->build_ours;
        if (sr->build_base < best_base)
            best_base = sr->build_base;
        if (sr->check_ours < best_check)
            best_check = sr->check_ours;
    }
    sr->build_ours = best_ours;
    sr->build_base = best_base;
    sr->check_ours = best_check;
    if (st.rules != n || bt->rules != n)
        fprintf(stderr, "engine_bench: %u rules generated, engine holds %u, "
                "apr_hash %u\n", n, st.rules, bt->rules);

    make_hits(&q[Q_HIT], g);
    make_near_misses(&q[Q_NEAR], g, bt);
    make_far_misses(&q[Q_FAR], bt);
    make_deep(&q[Q_DEEP], g);

    for (k = 0; k < Q_KINDS; k++) {
        sr->disagree[k] = cross_check(s, bt, &q[k], q_names[k]);
        time_lookups(s, bt, &q[k], k != Q_DEEP, &sr->ours[k],
                     &sr->base[k], &sr->base_exact[k]);
    }
    {
        uint64_t sum;
        sr->loc_ns = time_location(s, &q[Q_HIT], &sum);
        sr->ours[Q_HIT].sum += sum;
    }
    for (k = 0; k < Q_KINDS; k++)
        q_free(&q[k]);
    apr_pool_destroy(pool_ours);
    apr_pool_destroy(pool_base);
    apr_pool_destroy(gpool);
    remove(path);
}

/* ---- report --------------------------------------------------------- */

static void print_header(void)
{
    struct utsname u;
    char cpu[256] = "unknown", date[64], load[64] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    time_t now = time(NULL);

    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            char *c = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && c) {
                snprintf(cpu, sizeof(cpu), "%s", c + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(load, sizeof(load), f))
            load[0] = '\0';
        load[strcspn(load, " ")] = '\0';
        fclose(f);
    }
    uname(&u);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    printf("engine_bench: %s, %s, %ld cores, load %s, %s, gcc %s%s, "
           "APR %s, APR-util %s, engine %s\n\n", u.machine, cpu,
           sysconf(_SC_NPROCESSORS_ONLN), load, date, __VERSION__,
#ifdef __OPTIMIZE__
           " (optimised)",
#else
           " (NOT optimised)",
#endif
           apr_version_string(), apu_version_string(), BENCH_ENGINE_REV);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void print_table(const size_result *r, int nsizes)
{
    int i, k;
    printf("| rules | build ns/rule ours | apr_hash | ratio "
           "| check ns/rule ours "
           "| overhead B/rule ours: stats (heap) | apr_hash heap | ratio ");
    for (k = 0; k < Q_KINDS; k++)
        printf("| %s ns ours | apr_hash | ratio ", q_names[k]);
    printf("| Location ns (hits) |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:");
    for (k = 0; k < Q_KINDS; k++)
        printf("|---:|---:|---:");
    printf("|---:|\n");
    for (i = 0; i < nsizes; i++) {
        printf("| %u | %.0f | %.0f | %.2fx | %.0f | %.1f (%.1f) | %.1f "
               "| %.2fx ", r[i].n, r[i].build_ours, r[i].build_base,
               ratio(r[i].build_ours, r[i].build_base), r[i].check_ours,
               r[i].stats_over, r[i].heap_over_ours, r[i].heap_over_base,
               ratio(r[i].heap_over_ours, r[i].heap_over_base));
        for (k = 0; k < Q_KINDS; k++)
            printf("| %.1f | %.1f | %.2fx ", r[i].ours[k].ns,
                   r[i].base[k].ns, ratio(r[i].ours[k].ns, r[i].base[k].ns));
        printf("| %.1f |\n", r[i].loc_ns);
    }
}

static void print_notes(const size_result *r, int nsizes)
{
    int i, k;
    printf("\nbuild = rr_builder_create + rr_builder_add_file + "
           "rr_builder_freeze (file read included, best of 2-3);"
           " check = rr_set_check(RR_CHAINS_OFF), timed apart and not in "
           "the build ratio.\napr_hash = read file, split lines, "
           "apr_hash_set(key -> {target, status}) in a pool, one hash per "
           "kind, no validation.\noverhead = bytes beyond source+query+"
           "target text; stats = rr_table_stats (bytes - text_bytes), "
           "heap = delta around the build of mallinfo2 uordblks plus "
           "mappings outside malloc's heap\n(/proc/self/statm: Debian's "
           "APR mmaps pool blocks itself, invisible to mallinfo2).\n"
           "apr_hash lookups answer like the engine: exact apr_hash_get, "
           "then every segment prefix from longest to shortest, each an "
           "apr_hash_get hashing from scratch.\n%u lookups per figure, "
           "best of %d, precomputed paths, CLOCK_MONOTONIC.\n\n",
           NLOOKUPS, REPEATS);
    for (i = 0; i < nsizes; i++) {
        printf("sanity %u rules (%.1f MB file, deepest prefix %u segments):",
               r[i].n, r[i].file_bytes / 1e6, r[i].depth);
        for (k = 0; k < Q_KINDS; k++)
            printf(" %s found %.1f%%/%.1f%%%s", q_names[k],
                   100.0 * r[i].ours[k].found / NLOOKUPS,
                   100.0 * r[i].base[k].found / NLOOKUPS,
                   k + 1 < Q_KINDS ? "," : "");
        printf(" (ours/apr_hash); answers differing in %u+%u+%u+%u of "
               "%u checked; checksums %llx %llx\n", r[i].disagree[0],
               r[i].disagree[1], r[i].disagree[2], r[i].disagree[3],
               NVERIFY, (unsigned long long)r[i].ours[Q_HIT].sum,
               (unsigned long long)r[i].base[Q_HIT].sum);
        printf("  apr_hash exact-only apr_hash_get (no prefix fallback, "
               "not a full answer): hits %.1f ns, near misses %.1f ns, "
               "far misses %.1f ns\n", r[i].base_exact[Q_HIT].ns,
               r[i].base_exact[Q_NEAR].ns, r[i].base_exact[Q_FAR].ns);
    }
}

static const char *met(int ok)
{
    return ok ? "met" : "NOT met";
}

static void print_targets(const size_result *r, int nsizes)
{
    int i;
    printf("\ntargets:\n");
    for (i = 0; i < nsizes; i++) {
        double b = ratio(r[i].build_ours, r[i].build_base);
        double h = ratio(r[i].ours[Q_HIT].ns, r[i].base[Q_HIT].ns);
        double mn = ratio(r[i].ours[Q_NEAR].ns, r[i].base[Q_NEAR].ns);
        double mf = ratio(r[i].ours[Q_FAR].ns, r[i].base[Q_FAR].ns);
        double mem = r[i].heap_over_ours > r[i].stats_over
                     ? r[i].heap_over_ours : r[i].stats_over;
        printf("  %8u rules: build <= 1.0x: %s (%.2fx); "
               "overhead <= 24 B/rule: %s (%.1f heap, %.1f stats); "
               "hits <= 0.5x: %s (%.2fx); misses <= 0.3x: %s "
               "(near %.2fx, far %.2fx)\n", r[i].n, met(b <= 1.0), b,
               met(mem <= 24.0), r[i].heap_over_ours, r[i].stats_over,
               met(h <= 0.5), h, met(mn <= 0.3 && mf <= 0.3), mn, mf);
    }
}

/* ---- pattern rules: cost against the number of shapes ----------------
 * 100,000 literal exact rules plus 1,000 pattern rules spread round-robin
 * over P shapes (P = 1, 10, 100), all of five segments so that every
 * shape fits every five-segment request: the worst case, as a lookup
 * hashes each shape that fits.  A shape is a vector of segment types
 * (literal, placeholder, mixed "p:x.html"), enumerated in order.  Timed:
 * literal hits in this set and in the same literal rules without the
 * patterns (what a set pays for holding patterns: a count tested),
 * pattern hits, and pattern misses that fit every shape (each shape
 * hashed and probed).  Ratios are against literal hits of the same run. */

#define PAT_LITERALS  100000u
#define PAT_RULES     1000u
#define PAT_SEGS      5
#define PAT_LOOKUPS   200000u

static void pat_shape(unsigned i, int *type)
{
    /* the i-th vector of {0 literal, 1 placeholder, 2 mixed} over five
     * segments that is not all literal, with at most 8 placeholders */
    unsigned v = i + 1, k;
    for (k = 0; k < PAT_SEGS; k++) {
        type[k] = (int)(v % 3);
        v /= 3;
    }
}

static void pat_segment(buf_t *b, int type, unsigned rule, unsigned k,
                        int pattern, const char *value)
{
    char tmp[64];
    buf_str(b, "/");
    if (type == 0) {
        snprintf(tmp, sizeof(tmp), "l%u_%u", rule, k);
        buf_str(b, tmp);
    }
    else if (pattern) {
        snprintf(tmp, sizeof(tmp), type == 1 ? ":v%u" : "p:v%u.html", k);
        buf_str(b, tmp);
    }
    else {
        buf_str(b, type == 1 ? "" : "p");
        buf_str(b, value);
        buf_str(b, type == 1 ? "" : ".html");
    }
}

static rr_set *pat_set(apr_pool_t *pool, unsigned shapes, int with_patterns)
{
    buf_t b;
    rr_diag *d = rr_diag_create(pool);
    rr_builder *bl = rr_builder_create(pool, NULL);
    rr_table *t;
    rr_set *s;
    unsigned i, k;
    char tmp[96];
    memset(&b, 0, sizeof(b));
    for (i = 0; i < PAT_LITERALS; i++) {
        snprintf(tmp, sizeof(tmp), "/lit/%u/page-%u /new/%u 301\n", i, i % 97,
                 i);
        buf_str(&b, tmp);
    }
    for (i = 0; with_patterns && i < PAT_RULES; i++) {
        int type[PAT_SEGS];
        pat_shape(i % shapes, type);
        for (k = 0; k < PAT_SEGS; k++)
            pat_segment(&b, type[k], i, k, 1, NULL);
        snprintf(tmp, sizeof(tmp), " /p/%u", i);
        buf_str(&b, tmp);
        for (k = 0; k < PAT_SEGS; k++) {
            if (type[k]) {
                snprintf(tmp, sizeof(tmp), "/:v%u", k);
                buf_str(&b, tmp);
            }
        }
        buf_str(&b, "\n");
    }
    if (rr_builder_add_buffer(bl, "patterns", b.s, b.n, d) != APR_SUCCESS
        || !(t = rr_builder_freeze(bl, pool, d))) {
        fprintf(stderr, "engine_bench: pattern rules: %s\n", d->errors
                ? APR_ARRAY_IDX(rr_diag_messages(d, 1, pool), 0,
                                const char *) : "failed");
        exit(1);
    }
    free(b.s);
    s = rr_set_create(pool, 1);
    rr_set_add(s, t);
    return s;
}

/* kind 0: literal hits, 1: pattern hits, 2: misses fitting every shape */
static void pat_queries(queries *q, unsigned shapes, int kind)
{
    unsigned i, k;
    q_init(q, PAT_LOOKUPS);
    for (i = 0; i < PAT_LOOKUPS; i++) {
        buf_t b;
        char val[32];
        memset(&b, 0, sizeof(b));
        snprintf(val, sizeof(val), "v%u", rng_below(100000));
        if (kind == 0) {
            unsigned r = rng_below(PAT_LITERALS);
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "/lit/%u/page-%u", r, r % 97);
            buf_str(&b, tmp);
        }
        else {
            unsigned r = rng_below(PAT_RULES);
            int type[PAT_SEGS];
            pat_shape(r % shapes, type);
            for (k = 0; k < PAT_SEGS; k++) {
                if (kind == 2)
                    pat_segment(&b, 2, 0, 0, 0, val);   /* fits any type */
                else
                    pat_segment(&b, type[k], r, k, 0, val);
            }
        }
        q_push_text(q, b.s, b.n);
        free(b.s);
    }
    q_seal(q);
}

static double pat_time(const rr_set *s, const queries *q, uint32_t *found)
{
    double best = 1e30;
    int rep;
    for (rep = 0; rep < REPEATS; rep++) {
        uint64_t sum;
        double ns = pass_ours(s, q, found, &sum);
        if (ns < best)
            best = ns;
    }
    return best;
}

static void run_patterns(void)
{
    static const unsigned shape_counts[] = { 1, 10, 100 };
    apr_pool_t *pool;
    unsigned i;
    printf("\npattern rules: %u literal exact rules + %u pattern rules in P "
           "shapes of %d segments (ns per lookup, best of %d x %u; ratio "
           "against literal hits of the same set)\n\n", PAT_LITERALS,
           PAT_RULES, PAT_SEGS, REPEATS, PAT_LOOKUPS);
    printf("| P shapes | literal hits ns (no patterns) | literal hits ns "
           "| pattern hits ns | ratio | pattern misses ns | ratio "
           "| found: literal / pattern / misses |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (i = 0; i < sizeof(shape_counts) / sizeof(shape_counts[0]); i++) {
        unsigned shapes = shape_counts[i];
        rr_set *plain, *mixed;
        queries ql, qp, qm;
        uint32_t f0, f1, f2, f3;
        double t0, t1, t2, t3;
        apr_pool_create(&pool, NULL);
        rng_state = SEED + shapes;
        plain = pat_set(pool, shapes, 0);
        mixed = pat_set(pool, shapes, 1);
        pat_queries(&ql, shapes, 0);
        pat_queries(&qp, shapes, 1);
        pat_queries(&qm, shapes, 2);
        t0 = pat_time(plain, &ql, &f0);
        t1 = pat_time(mixed, &ql, &f1);
        t2 = pat_time(mixed, &qp, &f2);
        t3 = pat_time(mixed, &qm, &f3);
        printf("| %u | %.1f | %.1f | %.1f | %.2fx | %.1f | %.2fx "
               "| %.0f%% %.0f%% / %.0f%% / %.0f%% |\n", shapes, t0, t1, t2,
               ratio(t2, t1), t3, ratio(t3, t1), 100.0 * f0 / ql.n,
               100.0 * f1 / ql.n, 100.0 * f2 / qp.n, 100.0 * f3 / qm.n);
        fflush(stdout);
        q_free(&ql);
        q_free(&qp);
        q_free(&qm);
        apr_pool_destroy(pool);
    }
}

/* ---- main ----------------------------------------------------------- */

static int parse_sizes(int argc, char **argv, uint32_t *sizes, int max)
{
    int i, n = 0;
    const char *quick = getenv("BENCH_QUICK");
    for (i = 1; i < argc && n < max; i++) {
        char *end;
        unsigned long v = strtoul(argv[i], &end, 10);
        if (*end || v < 10 || v > 50000000) {
            fprintf(stderr, "usage: engine_bench [SIZE...] (10 .. 50000000 "
                    "rules; BENCH_QUICK=1: 1000 100000)\n");
            exit(2);
        }
        sizes[n++] = (uint32_t)v;
    }
    if (n)
        return n;
    sizes[n++] = 1000;
    sizes[n++] = 100000;
    if (!(quick && strcmp(quick, "1") == 0))
        sizes[n++] = 1000000;
    return n;
}

/* Stays on one CPU, so migrations do not add noise. */
static void pin_cpu(void)
{
    cpu_set_t set;
    int cpu = sched_getcpu();
    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

int main(int argc, char **argv)
{
    uint32_t sizes[16];
    size_result res[16];
    char dir[] = "/tmp/engine_bench.XXXXXX";
    int i, nsizes;

    apr_initialize();
    atexit(apr_terminate);
    pin_cpu();
    if (argc == 2 && strcmp(argv[1], "patterns") == 0) {
        print_header();
        run_patterns();
        return 0;
    }
    nsizes = parse_sizes(argc, argv, sizes, 16);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "engine_bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    print_header();
    for (i = 0; i < nsizes; i++) {
        double t0 = now_ns();
        run_size(sizes[i], dir, &res[i]);
        fprintf(stderr, "engine_bench: %u rules done in %.1f s\n", sizes[i],
                (now_ns() - t0) / 1e9);
    }
    rmdir(dir);
    print_table(res, nsizes);
    print_notes(res, nsizes);
    print_targets(res, nsizes);
    run_patterns();
    return 0;
}
