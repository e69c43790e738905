/*
 * rr_freeze.c - freezing a builder into an immutable table (radix sort by
 * hash, slot placement, duplicates within a file) and reading a frozen
 * table back: counts, statistics, rules and records.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "rr_internal.h"

/* ---- freezing ------------------------------------------------------- */

const char *rr_table_file_of(const rr_table *t, uint32_t off)
{
    uint32_t lo = 0, hi = t->nranges;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->ranges[mid].first_off <= off)
            lo = mid;
        else
            hi = mid;
    }
    return t->nranges ? t->files[t->ranges[lo].file] : "?";
}

/* Stable LSD radix sort of (h32 << 32 | index) by the upper 32 bits, so
 * equal hashes keep file order and the first definition stays first. */
static int sort_by_hash(uint64_t *v, uint32_t n)
{
    uint64_t *tmp = malloc(sizeof(uint64_t) * (n ? n : 1));
    uint64_t *src = v, *dst = tmp, *swap;
    uint32_t count[256];
    unsigned shift;
    if (!tmp)
        return 0;
    for (shift = 32; shift < 64; shift += 8) {
        uint32_t i, sum = 0;
        memset(count, 0, sizeof(count));
        for (i = 0; i < n; i++)
            count[(src[i] >> shift) & 0xff]++;
        for (i = 0; i < 256; i++) {
            uint32_t c = count[i];
            count[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xff]++] = src[i];
        swap = src;
        src = dst;
        dst = swap;
    }
    free(tmp);      /* an even number of passes: the result is in v */
    return 1;
}


void rr_stats_count(rr_table *t, const rr_rec *r)
{
    t->stats.rules++;
    t->stats.by_status[r->status]++;
    t->stats.text_bytes += r->src_len + r->q_len + r->tgt_len + r->h_len;
    if (r->xbits & XB_HOST)
        t->stats.host++;
    if (r->xbits & XB_QSNONE)
        t->has_qsnone = 1;
    if (r->window)
        t->has_windows = 1;
    if (r->pattern) {
        /* pattern rules are probed by shape, not by the literal kinds */
        t->stats.pattern++;
        return;
    }
    switch (r->bits & RB_KIND_MASK) {
    case RR_KIND_EXACT: t->stats.exact++; break;
    case RR_KIND_PREFIX: t->stats.prefix++; break;
    default: t->stats.query++; break;
    }
    if (r->bits & RB_NOCASE)
        t->has_nocase = 1;
    else
        t->has_case = 1;
    t->has_kind[r->bits & RB_KIND_MASK] = 1;
}

/* Copies a builder buffer into the table's pool.  Tables own no malloc'd
 * memory and register no cleanups: httpd unloads and reloads the module
 * on restart, and a table may outlive the code that built it. */
static void *pool_copy(apr_pool_t *pool, const void *src, size_t n)
{
    void *p = apr_palloc(pool, n ? n : 1);
    if (n)
        memcpy(p, src, n);
    return p;
}

/* Is sorted[i] the same key as one of sorted[run..i) (equal hashes)?
 * Then it is marked shadowed and a warning names both places. */
static int is_duplicate(rr_table *t, const uint64_t *sorted, uint32_t run,
                        uint32_t i, rr_diag *d)
{
    uint32_t off = t->offs[(uint32_t)sorted[i]], j;
    rr_rec r;
    rr_params q;
    rr_group g;
    rr_key k;
    rec_decode(t->arena, off, &r);
    rr_rec_key(&r, &g, &q, &k);
    for (j = run; j < i; j++) {
        uint32_t prev = t->offs[(uint32_t)sorted[j]];
        rr_rec pr;
        rr_diag_place places[2];
        rec_decode(t->arena, prev, &pr);
        if ((pr.bits & RB_SHADOWED) || !rr_rec_matches(t->arena, prev, &k))
            continue;
        places[0].file = rr_table_file_of(t, off);
        places[0].line = r.line;
        places[1].file = rr_table_file_of(t, prev);
        places[1].line = pr.line;
        rr_diag_push(d, RR_DIAG_DUPLICATE, places, 2,
                     "%s:%u: duplicate source (first defined at %s:%u); "
                     "this line is ignored", places[0].file, r.line,
                     places[1].file, pr.line);
        rec_add_bits((char *)t->arena, off, RB_SHADOWED);
        return 1;
    }
    return 0;
}

/* Places entries sorted by hash at max(home, previous + 1): the result is
 * the Robin Hood layout without a single displacement, and equal keys end
 * up adjacent, so duplicates cost no extra probe. */
static uint64_t *place_slots(rr_table *t, uint64_t *sorted, apr_pool_t *pool,
                             rr_diag *d)
{
    uint32_t i, n = t->nrec, cap = t->cap, next = 0, run = 0;
    uint64_t *slots;
    for (i = 0; i < n; i++) {
        uint32_t h = slot_home((uint32_t)(sorted[i] >> 32), cap);
        next = (h > next ? h : next) + 1;
    }
    /* A probe may start at any home below cap; slots past cap take the
     * overflow, and one more stays empty to end every probe. */
    next = next > cap ? next : cap;
    slots = apr_pcalloc(pool, sizeof(uint64_t) * ((size_t)next + 1));
    t->stats.slots = next + 1;
    next = 0;
    for (i = 0; i < n; i++) {
        uint32_t h32 = (uint32_t)(sorted[i] >> 32), idx = (uint32_t)sorted[i];
        uint32_t off = t->offs[idx], home = slot_home(h32, cap);
        if (i == 0 || (uint32_t)(sorted[i - 1] >> 32) != h32)
            run = i;
        else if (is_duplicate(t, sorted, run, i, d))
            continue;       /* only equal hashes need the arena */
        next = home > next ? home : next;
        slots[next++] = ((uint64_t)h32 << 32) | off;
    }
    for (i = 0; i < n; i++) {
        rr_rec r;
        rec_decode(t->arena, t->offs[i], &r);
        if (!(r.bits & RB_SHADOWED))
            rr_stats_count(t, &r);
    }
    return slots;
}

static int seed_order(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The seeds of the host groups the table holds, sorted and unique, so
 * that a lookup consults only the groups that have rules. */
static int collect_groups(rr_table *t, apr_pool_t *pool)
{
    uint64_t *seeds;
    uint32_t i, n = 0, u = 0;
    if (t->stats.host == 0)
        return 1;
    seeds = malloc(sizeof(uint64_t) * t->stats.host);
    if (!seeds)
        return 0;
    for (i = 0; i < t->nrec && n < t->stats.host; i++) {
        rr_rec r;
        rec_decode(t->arena, t->offs[i], &r);
        if ((r.xbits & XB_HOST) && !(r.bits & RB_SHADOWED))
            seeds[n++] = group_seed(r.xbits, r.host, r.h_len);
    }
    qsort(seeds, n, sizeof(uint64_t), seed_order);
    for (i = 0; i < n; i++) {
        if (u == 0 || seeds[u - 1] != seeds[i])
            seeds[u++] = seeds[i];
    }
    t->groups = pool_copy(pool, seeds, sizeof(uint64_t) * u);
    t->ngroups = u;
    free(seeds);
    return 1;
}

/* Spellings move to the table keyed by record offset, in record order. */
static void copy_spellings(rr_table *t, const rr_builder *b, apr_pool_t *pool)
{
    rr_spelling *sp;
    int k;
    t->nspellings = (uint32_t)b->spellings->nelts;
    sp = apr_palloc(pool, sizeof(*sp) * (t->nspellings ? t->nspellings : 1));
    for (k = 0; k < b->spellings->nelts; k++) {
        const rr_spelling *from = &APR_ARRAY_IDX(b->spellings, k,
                                                 rr_spelling);
        sp[k].rec = t->offs[from->rec];
        sp[k].text = apr_pstrdup(pool, from->text);
    }
    t->spellings = sp;
}

/* The spelling of the record at `off`, or NULL. */
static const char *spelling_of(const rr_table *t, uint32_t off)
{
    uint32_t lo = 0, hi = t->nspellings;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->spellings[mid].rec == off)
            return t->spellings[mid].text;
        if (t->spellings[mid].rec < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

rr_table *rr_builder_freeze(rr_builder *b, apr_pool_t *pool, rr_diag *d)
{
    rr_table *t;
    uint64_t *sorted;
    const char **files;
    uint32_t i;
    int k;

    if (b->spent || b->errors) {
        b->spent = 1;
        apr_pool_destroy(b->scratch);
        return NULL;
    }
    b->spent = 1;
    t = apr_pcalloc(pool, sizeof(*t));
    t->opt = b->opt;
    t->nrec = b->nrec;
    t->max_prefix_depth = b->max_prefix_depth;
    if (!b->arena && !rr_builder_arena_reserve(b, 0)) {
        apr_pool_destroy(b->scratch);
        return NULL;
    }
    if (b->arena_pooled && pool == b->owner) {
        t->arena = b->arena;            /* adopted: no second copy */
        b->arena = NULL;
        b->arena_pooled = 0;
    }
    else {
        t->arena = pool_copy(pool, b->arena, b->arena_len);
    }
    t->arena_len = b->arena_len;
    t->offs = pool_copy(pool, b->offs, sizeof(uint32_t) * b->nrec);
    files = apr_palloc(pool, sizeof(char *) * (b->files->nelts + 1));
    for (k = 0; k < b->files->nelts; k++)
        files[k] = apr_pstrdup(pool, APR_ARRAY_IDX(b->files, k, const char *));
    t->files = files;
    t->nfiles = (uint32_t)b->files->nelts;
    t->ranges = pool_copy(pool, b->ranges, sizeof(rr_range) * b->nranges);
    t->nranges = b->nranges;
    copy_spellings(t, b, pool);

    /* n / 0.875 home slots: a probe scans a run of sorted hashes and stops
     * at the first larger one, so runs stay short at this load (measured
     * with make bench-engine), and slots cost 9.1 bytes per rule. */
    t->cap = b->nrec ? (uint32_t)((uint64_t)b->nrec * 8 / 7 + 1) : 0;
    sorted = malloc(sizeof(uint64_t) * (b->nrec ? b->nrec : 1));
    if (!sorted) {
        apr_pool_destroy(b->scratch);
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0,
                     "out of memory freezing %u rules", b->nrec);
        return NULL;
    }
    for (i = 0; i < b->nrec; i++)
        sorted[i] = (b->hashes[i] & 0xffffffff00000000ULL) | i;
    apr_pool_destroy(b->scratch);       /* frees the builder's buffers */
    if (!sort_by_hash(sorted, t->nrec)) {
        free(sorted);
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0,
                     "out of memory freezing %u rules", t->nrec);
        return NULL;
    }
    t->slots = t->cap ? place_slots(t, sorted, pool, d) : NULL;
    free(sorted);
    if (!collect_groups(t, pool) || !rr_table_collect_shapes(t, pool)) {
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0,
                     "out of memory freezing %u rules", t->nrec);
        return NULL;
    }
    t->nrules = t->stats.rules;
    t->stats.bytes = sizeof(*t) + t->arena_len + sizeof(uint32_t) * t->nrec
                     + sizeof(uint64_t) * t->stats.slots
                     + sizeof(rr_range) * t->nranges
                     + sizeof(uint64_t) * t->ngroups
                     + sizeof(rr_spelling) * t->nspellings
                     + (sizeof(rr_shape) + sizeof(rr_shape *)) * t->nshapes;
    return t;
}

rr_table *rr_table_load_file(apr_pool_t *pool, const char *path,
                             const rr_options *opt, rr_diag *d)
{
    rr_builder *b = rr_builder_create(pool, opt);
    rr_builder_add_file(b, path, d);
    return rr_builder_freeze(b, pool, d);
}

/* ---- reading a table ------------------------------------------------ */

uint32_t rr_table_count(const rr_table *t)
{
    return t->nrules;
}

void rr_table_stats(const rr_table *t, rr_stats *st)
{
    *st = t->stats;
}

const rr_options *rr_table_options(const rr_table *t)
{
    return &t->opt;
}

void rr_rec_info(const rr_table *t, uint32_t off, apr_pool_t *pool,
                 rr_rule_info *info)
{
    rr_rec r;
    rec_decode(t->arena, off, &r);
    info->kind = (rr_kind)(r.bits & RB_KIND_MASK);
    info->flags = ((r.bits & RB_NOCASE) ? RR_FLAG_NOCASE : 0)
                  | ((r.bits & RB_QSDROP) ? RR_FLAG_QSDROP : 0)
                  | ((r.bits & RB_QSAPPEND) ? RR_FLAG_QSAPPEND : 0)
                  | ((r.xbits & XB_QSNONE) ? RR_FLAG_QSNONE : 0);
    info->status = rr_status_codes[r.status];
    info->host = !(r.xbits & XB_HOST) ? NULL
        : apr_pstrcat(pool, (r.xbits & XB_WILD) ? "*." : "",
                      apr_pstrmemdup(pool, r.host, r.h_len), NULL);
    info->scheme = (r.xbits & XB_HTTPS) ? "https"
                   : (r.xbits & XB_HTTP) ? "http" : NULL;
    info->pattern = r.pattern;
    info->source = r.pattern ? rr_pattern_written_form(pool, r.src,
                                                       r.src_len, 0)
                             : apr_pstrmemdup(pool, r.src, r.src_len);
    info->query = info->kind == RR_KIND_QUERY
                  ? apr_pstrmemdup(pool, r.query, r.q_len) : NULL;
    info->target = r.status == RR_STATUS_410
                   ? NULL : apr_pstrmemdup(pool, r.target, r.tgt_len);
    info->file = rr_table_file_of(t, off);
    info->line = r.line;
    info->written = spelling_of(t, off);
    info->from = r.window && r.from ? apr_time_from_sec(r.from) : 0;
    info->until = r.window && r.until != WINDOW_OPEN_END
                  ? apr_time_from_sec(r.until) : 0;
}

/* Rule i counts live rules only, in file order. */
static uint32_t live_offset(const rr_table *t, uint32_t i)
{
    uint32_t k, seen = 0;
    if (t->nrules == t->nrec)
        return t->offs[i];
    for (k = 0; k < t->nrec; k++) {
        if (!(rec_bits(t->arena, t->offs[k]) & RB_SHADOWED)) {
            if (seen++ == i)
                return t->offs[k];
        }
    }
    return t->offs[0];
}

void rr_table_rule(const rr_table *t, uint32_t i, apr_pool_t *pool,
                   rr_rule_info *info)
{
    rr_rec_info(t, live_offset(t, i), pool, info);
}

uint32_t rr_table_records(const rr_table *t)
{
    return t->nrec;
}

int rr_table_record(const rr_table *t, uint32_t idx, apr_pool_t *pool,
                    rr_rule_info *info)
{
    uint32_t off = t->offs[idx];
    if (info)
        rr_rec_info(t, off, pool, info);
    return !(rec_bits(t->arena, off) & RB_SHADOWED);
}

/* Index of the record at `off`: offsets grow in record order. */
uint32_t rr_table_record_index(const rr_table *t, uint32_t off)
{
    uint32_t lo = 0, hi = t->nrec;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->offs[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

