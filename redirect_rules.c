/*
 * redirect_rules.c - the request path of the mod_redirect307 rules engine:
 * sets of frozen tables, lookup, and Location building.  Everything here
 * runs per request: no lock, no allocation but the answer.
 *
 * Table layout (one table per rules file or per server's inline rules;
 * records are described in engine/rr_internal.h):
 *
 *   arena   one contiguous block of variable-length records.
 *   offs    u32 per rule: its record's offset (rule index -> record).
 *   slots   u64 per slot: high 32 bits of the key hash, low 32 bits the
 *           record offset.  Entries are placed in hash order, each at
 *           max(home, previous + 1) with home = (h32 * cap) >> 32 over
 *           cap = n / 0.875 (not a power of two): the Robin Hood layout,
 *           built without displacements (engine/rr_freeze.c).  The stored
 *           hash filters candidates, so a miss rarely touches the arena,
 *           and a probe stops at the first larger hash.
 *
 * Keys are normalised once, when a rule is added (engine/rr_parse.c):
 * percent-decoded, case-folded for nocase rules, trailing slashes dropped
 * under TrailingSlash Ignore and from prefix rules (whose slash-star goes
 * too).  A key hashes as a chain of its path segments, so one pass over a
 * request path yields its exact key and every prefix key; each key is
 * finalised with a tag for its kind, so exact, prefix and query keys
 * share one table without meeting.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_hash.h"
#include "apr_lib.h"

#include "redirect_rules.h"
#include "engine/rr_internal.h"

const int rr_status_codes[RR_STATUS_COUNT] = {
    0, 301, 302, 303, 307, 308, 410
};

/* ---- escaping ------------------------------------------------------- */

/* Bytes a Location may not hold raw (bit 1): controls, space, DEL,
 * non-ASCII and " < > \\ ^ ` { | }; bit 2 adds % ? #, which keep their URL
 * meaning in a target or query but are data in a carried path. */
static const unsigned char byte_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 0, 3, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 3, 2,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 3, 0,
    3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 0, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

const char rr_hexdigits[] = "0123456789ABCDEF";

/* A '%' that starts no %XX would make the URL invalid. */
static int lone_percent(const char *s, size_t n, size_t i)
{
    return s[i] == '%' && !(i + 2 < n && apr_isxdigit(s[i + 1])
                            && apr_isxdigit(s[i + 2]));
}

size_t rr_escape_into(char *out, const char *s, size_t n, unsigned cls)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((byte_class[c] & cls)
            || (c == '%' && (cls & ESC_LONE_PCT) && lone_percent(s, n, i))) {
            if (out) {
                out[o] = '%';
                out[o + 1] = rr_hexdigits[c >> 4];
                out[o + 2] = rr_hexdigits[c & 15];
            }
            o += 3;
        }
        else {
            if (out)
                out[o] = (char)c;
            o++;
        }
    }
    return o;
}

const char *rr_escape_path(apr_pool_t *pool, const char *s, size_t len)
{
    size_t n = rr_escape_into(NULL, s, len, ESC_PATH);
    char *out = apr_palloc(pool, n + 1);
    rr_escape_into(out, s, len, ESC_PATH);
    out[n] = '\0';
    return out;
}

/* ---- query parameters ------------------------------------------------
 * Query parameters compare after %XX decoding on both sides (see
 * next_decoded in engine/rr_internal.h). */

static int param_eq(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        if (next_decoded(a, an, &i) != next_decoded(b, bn, &j))
            return 0;
    }
    return i == an && j == bn;
}

static uint64_t param_hash(const char *s, size_t n)
{
    uint64_t h = HASH_SEED;
    size_t i = 0;
    while (i < n)
        h = (h ^ next_decoded(s, n, &i)) * HASH_K1;
    return fmix64(h);
}

/* Is the parameter p[0..n) ("name" or "name=value") one `ig` ignores?
 * Names compare decoded and case-sensitively; a NAME* entry matches every
 * name it starts. */
int rr_ignore_has(const rr_ignore *ig, const char *p, size_t n)
{
    char name[RR_MAX_IGNORE_NAME + 1];
    size_t i = 0, len = 0, end;
    int k;
    if (!ig || ig->n == 0 || n == 0)
        return 0;
    if (!(ig->first[(unsigned char)p[0] >> 3] & (1u << (p[0] & 7)))
        && p[0] != '%')
        return 0;
    end = n;
    for (i = 0; i < n; i++) {
        if (p[i] == '=') {
            end = i;
            break;
        }
    }
    i = 0;
    while (i < end && len <= RR_MAX_IGNORE_NAME)
        name[len++] = (char)next_decoded(p, end, &i);
    for (k = 0; k < ig->n; k++) {
        const rr_ignore_name *e = &ig->names[k];
        if ((e->prefix ? len >= e->len : len == e->len && i == end)
            && memcmp(name, e->name, e->len) == 0)
            return 1;
    }
    return 0;
}

/* Splits a query on '&', skipping empty parameters and those `ig`
 * ignores (counted in ps->ignored).  Returns 0 if more than
 * RR_MAX_QUERY_PARAMS remain (such a query matches no rule). */
static int params_split_ignoring(const char *q, size_t len,
                                 const rr_ignore *ig, rr_params *ps)
{
    size_t i = 0;
    ps->count = 0;
    ps->ignored = 0;
    ps->sum = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i && rr_ignore_has(ig, q + i, j - i)) {
            ps->ignored++;
        }
        else if (j > i) {
            if (ps->count == RR_MAX_QUERY_PARAMS)
                return 0;
            ps->p[ps->count] = q + i;
            ps->n[ps->count] = (uint32_t)(j - i);
            ps->sum += param_hash(q + i, j - i);
            ps->count++;
        }
        i = j + 1;
    }
    return 1;
}

int rr_params_split(const char *q, size_t len, rr_params *ps)
{
    return params_split_ignoring(q, len, NULL, ps);
}

static int params_count_of(const rr_params *ps, const char *p, size_t n)
{
    int k, c = 0;
    for (k = 0; k < ps->count; k++)
        c += param_eq(ps->p[k], ps->n[k], p, n);
    return c;
}

int rr_params_equal(const rr_params *a, const rr_params *b)
{
    int k;
    if (a->count != b->count || a->sum != b->sum)
        return 0;
    for (k = 0; k < a->count; k++) {
        if (params_count_of(a, a->p[k], a->n[k])
            != params_count_of(b, a->p[k], a->n[k]))
            return 0;
    }
    return 1;
}

void rr_rec_params(const rr_rec *r, rr_params *q)
{
    if ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY)
        rr_params_split(r->query, r->q_len, q);
    else
        q->count = 0;
}

void rr_rec_key(const rr_rec *r, rr_group *g, rr_params *q, rr_key *k)
{
    group_init(g, r->xbits, r->host, r->h_len);
    rr_rec_params(r, q);
    k->group = g;
    k->kind = r->bits & RB_KIND_MASK;
    k->nocase = (r->bits & RB_NOCASE) != 0;
    k->key = r->src;
    k->klen = r->src_len;
    k->q = q;
    k->pattern = r->pattern;
}

/* ---- probing a table ------------------------------------------------ */

int rr_rec_matches(const char *arena, uint32_t off, const rr_key *k)
{
    rr_rec r;
    size_t i;
    rec_decode_head(arena, off, &r);
    if (r.pattern != k->pattern)
        return 0;
    if (r.pattern)
        return (r.bits & RB_KIND_MASK) == k->kind
               && !(r.bits & RB_NOCASE) == !k->nocase
               && rec_in_group(&r, k->group)
               && rr_pattern_same(r.src, r.src_len, k->key, k->klen);
    if ((r.bits & RB_KIND_MASK) != k->kind
        || !(r.bits & RB_NOCASE) != !k->nocase || r.src_len != k->klen
        || !rec_in_group(&r, k->group))
        return 0;
    if (k->nocase) {
        for (i = 0; i < k->klen; i++) {
            if (r.src[i] != (char)fold((unsigned char)k->key[i]))
                return 0;
        }
    }
    else if (memcmp(r.src, k->key, k->klen) != 0) {
        return 0;
    }
    if (k->kind == RR_KIND_QUERY) {
        rr_params rq;
        rr_params_split(r.query, r.q_len, &rq);
        return rr_params_equal(&rq, k->q);
    }
    return 1;
}

/* Slots are sorted by hash and have no gaps between an entry's home and
 * its position, so a probe scans forward from the home slot and stops at
 * the first larger hash or empty slot; the last slot is always empty. */
uint32_t rr_table_probe(const rr_table *t, uint64_t hash, const rr_key *k)
{
    uint32_t h32 = (uint32_t)(hash >> 32), i;
    if (t->cap == 0)
        return 0;
    for (i = slot_home(h32, t->cap);; i++) {
        uint64_t s = t->slots[i];
        uint32_t off = (uint32_t)s, sh = (uint32_t)(s >> 32);
        if (off == 0 || sh > h32)
            return 0;
        if (sh == h32 && rr_rec_matches(t->arena, off, k))
            return off;
    }
}

/* Does the table hold rules of the host group with this seed?  Groups are
 * few (one per host named), sorted: a binary search. */
int rr_table_has_group(const rr_table *t, uint64_t seed)
{
    uint32_t lo = 0, hi = t->ngroups;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->groups[mid] == seed)
            return 1;
        if (t->groups[mid] < seed)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Compares a target's path (decoded, up to '?' or '#', without the '*' of
 * a carrying prefix rule) with bytes s[0..n), folding case if asked.
 * Returns 1 if equal, and the target's path length in *tlen_out. */
int rr_target_path_equals(const char *target, size_t tlen, int star,
                              const char *s, size_t n, int folded)
{
    size_t mainlen = target_main_len(target, tlen), i = 0, j = 0;
    if (star)
        mainlen--;
    while (i < mainlen && j < n) {
        unsigned char c = next_decoded(target, mainlen, &i);
        unsigned char d = (unsigned char)s[j++];
        if (folded ? fold(c) != fold(d) : c != d)
            return 0;
    }
    return i == mainlen && j == n;
}


/* ---- sets ----------------------------------------------------------- */

rr_set *rr_set_create(apr_pool_t *pool, int max_tables)
{
    rr_set *s = apr_pcalloc(pool, sizeof(*s));
    s->tables = apr_pcalloc(pool, sizeof(rr_table *) * (max_tables + 1));
    s->max = max_tables;
    s->own = -1;
    s->pool = pool;
    s->maxdepth = -1;
    return s;
}

void rr_set_check_threads(rr_set *s, int max)
{
    s->check_threads = max < 0 ? 0 : max;
}

void rr_set_add(rr_set *s, const rr_table *t)
{
    if (s->ntables >= s->max)
        return;
    s->tables[s->ntables++] = t;
    s->folded |= t->has_nocase;
    if (t->has_kind[RR_KIND_PREFIX] && (long)t->max_prefix_depth > s->maxdepth)
        s->maxdepth = (long)t->max_prefix_depth;
    s->has_hosts |= t->ngroups > 0;
    s->needs_params |= t->has_kind[RR_KIND_QUERY] || t->has_qsnone;
    rr_set_add_shapes(s, t);
}

void rr_set_mark_inherited(rr_set *s)
{
    if (s->own < 0)
        s->own = s->ntables;
}

int rr_set_table_count(const rr_set *s)
{
    return s->ntables;
}

const rr_table *rr_set_table(const rr_set *s, int i)
{
    return s->tables[i];
}

void rr_set_ignore(rr_set *s, const rr_ignore *ig)
{
    s->ignore = ig;
}

void rr_set_clock(rr_set *s, apr_time_t now)
{
    s->clock = now;
}

int rr_set_own_count(const rr_set *s)
{
    return s->own < 0 ? s->ntables : s->own;
}

/* ---- lookup --------------------------------------------------------- */

/* Is this hit a rule's own target (see rr_target_is_own_source), spelled
 * exactly as the target, so that answering would redirect to itself? */
static int is_own_target(const rr_table *t, uint32_t off, const char *path,
                         size_t len, size_t keylen, const char *args)
{
    rr_rec r;
    size_t mainlen, qlen;
    if (!(rec_bits(t->arena, off) & RB_SELF))
        return 0;
    rec_decode(t->arena, off, &r);
    if ((r.bits & RB_KIND_MASK) == RR_KIND_PREFIX)     /* base is "key/" */
        return keylen < len && path[keylen] == '/'
               && rr_target_path_equals(r.target, r.tgt_len, 1, path,
                                     keylen + 1, 0);
    if (!rr_target_path_equals(r.target, r.tgt_len, 0, path, len, 0))
        return 0;
    mainlen = target_main_len(r.target, r.tgt_len);
    if (mainlen == r.tgt_len || r.target[mainlen] != '?')
        return 1;
    qlen = (size_t)r.tgt_len - mainlen - 1;
    return args && strlen(args) == qlen
           && memcmp(args, r.target + mainlen + 1, qlen) == 0;
}

/* Every hash a lookup needs, from one pass over the path: the state after
 * the whole path and after the path without its trailing slashes, and
 * after each segment prefix up to the deepest prefix rule of the set.
 * [0] is the case-sensitive stream, [1] the case-folded one. */
typedef struct {
    size_t len, trimmed;
    uint64_t full[2], trim[2];
    uint32_t nb;
    uint32_t pos[RR_MAX_PREFIX_DEPTH + 1];
    uint32_t depth[RR_MAX_PREFIX_DEPTH + 1];
    /* a prefix's state is hash_word(h, part), mixed only if a prefix
     * probe needs it: an exact hit never does */
    uint64_t h[RR_MAX_PREFIX_DEPTH + 1][2];
    uint64_t part[RR_MAX_PREFIX_DEPTH + 1][2];
} rr_path_hash;

static void record_boundary(rr_path_hash *ph, size_t p, uint32_t depth,
                            uint64_t hc, uint64_t hf, uint64_t w,
                            uint64_t wf)
{
    ph->pos[ph->nb] = (uint32_t)p;
    ph->depth[ph->nb] = depth;
    ph->h[ph->nb][0] = hc;
    ph->h[ph->nb][1] = hf;
    ph->part[ph->nb][0] = low_bytes(w, (unsigned)(p & 7));
    ph->part[ph->nb][1] = low_bytes(wf, (unsigned)(p & 7));
    ph->nb++;
}

/* One pass, eight bytes at a time: hc/hf hash the full words so far, w/wf
 * is the word at hand, and the state at any position p inside it is
 * hash_word(h, first p & 7 bytes of w).  A prefix key ends before a '/'
 * that does not follow another '/', or at the end of the trimmed path. */
static void path_hash(rr_path_hash *ph, uint64_t seed, const char *path,
                      size_t len, int folded, long maxdepth)
{
    const unsigned char *p = (const unsigned char *)path;
    uint64_t hc = seed, hf = seed;
    size_t t = len, i;
    uint32_t depth = 0;
    while (t > 1 && path[t - 1] == '/')
        t--;
    ph->len = len;
    ph->trimmed = t;
    ph->nb = 0;
    for (i = 0;; i += 8) {
        size_t r = len - i < 8 ? len - i : 8;
        uint64_t w = r == 8 ? load64le(p + i) : load_tail(p + i + r, r, i + r);
        uint64_t wf = folded ? fold8(w) : w;
        uint64_t slashes = r ? bytes_equal(w, '/') & (~0ULL >> (64 - 8 * r))
                             : 0;
        while (slashes) {
            size_t q = i + ((size_t)__builtin_ctzll(slashes) >> 3);
            if ((q == 0 || (path[q - 1] != '/' && q <= t))
                && (long)depth <= maxdepth)
                record_boundary(ph, q, depth, hc, hf, w, wf);
            depth++;
            slashes &= slashes - 1;
        }
        if (t >= i && t - i < 8 && (t - i < r || r < 8)) {
            ph->trim[0] = hash_word(hc, low_bytes(w, (unsigned)(t - i)));
            ph->trim[1] = hash_word(hf, low_bytes(wf, (unsigned)(t - i)));
            if (t == len && t > 0 && path[t - 1] != '/'
                && (long)depth <= maxdepth)
                record_boundary(ph, t, depth, hc, hf, w, wf);
        }
        if (r < 8) {
            ph->full[0] = hash_word(hc, w);
            ph->full[1] = hash_word(hf, wf);
            return;
        }
        hc = hash_word(hc, w);
        if (folded)
            hf = hash_word(hf, wf);
    }
}

static uint64_t prefix_state(const rr_path_hash *ph, uint32_t b, int nocase)
{
    return hash_word(ph->h[b][nocase], ph->part[b][nocase]);
}

/* Is the rule's window open at the request's time?  Only rules with a
 * window read the clock. */
static int window_open(const rr_table *t, uint32_t off, const rr_request *rq)
{
    rr_rec r;
    apr_time_t now;
    rec_decode_head(t->arena, off, &r);
    now = apr_time_sec(rq->clock ? rq->clock : apr_time_now());
    return (apr_time_t)r.from <= now
           && (r.until == WINDOW_OPEN_END || now < (apr_time_t)r.until);
}

/* A rule refuses a request it matched: qsnone with (unignored)
 * parameters, or outside its window; the lookup goes on as if the rule
 * were not there. */
int rr_rule_refuses(const rr_table *t, uint32_t off, const rr_request *rq)
{
    if (rq->has_params && (rec_xbits(t->arena, off) & XB_QSNONE))
        return 1;
    return t->has_windows && rec_has_window(t->arena, off)
           && !window_open(t, off, rq);
}

/* An exact or query rule of t in group g for the path: case-sensitive
 * rules first. */
static uint32_t table_lookup_exact(const rr_table *t, const rr_group *g,
                                   unsigned kind, const rr_path_hash *ph,
                                   const char *path, const rr_request *rq)
{
    int strict = t->opt.trailing_strict, nocase;
    size_t n = strict ? ph->len : ph->trimmed;
    const rr_params *q = kind == RR_KIND_QUERY ? rq->q : NULL;
    rr_key k;
    k.group = g;
    k.kind = kind;
    k.key = path;
    k.klen = n;
    k.q = q;
    k.pattern = 0;
    for (nocase = 0; nocase < 2; nocase++) {
        uint64_t st = strict ? ph->full[nocase] : ph->trim[nocase];
        unsigned tag = (kind == RR_KIND_QUERY ? TAG_QUERY : TAG_EXACT)
                       | (nocase ? TAG_NOCASE : 0);
        uint32_t off;
        if (nocase ? !t->has_nocase : !t->has_case)
            continue;
        k.nocase = nocase;
        off = rr_table_probe(t, key_final(st, tag, n, q ? q->sum : 0), &k);
        if (off && !rr_rule_refuses(t, off, rq))
            return off;
    }
    return 0;
}

/* The longest prefix rule of t in group g for the path, deepest boundary
 * first, with every probe's slot prefetched up front.  Returns the key
 * length or -1. */
static long table_lookup_prefix(const rr_table *t, const rr_group *g,
                                const rr_path_hash *ph, const char *path,
                                const rr_request *rq, uint32_t *off)
{
    uint64_t h[RR_MAX_PREFIX_DEPTH + 1][2];
    long b;
    int nocase;
    rr_key k;
    for (b = 0; b < (long)ph->nb; b++) {
        if (ph->depth[b] > t->max_prefix_depth)
            break;
        for (nocase = 0; nocase < 2; nocase++) {
            if (nocase ? !t->has_nocase : !t->has_case)
                continue;
            h[b][nocase] = key_final(prefix_state(ph, b, nocase),
                                     TAG_PREFIX | (nocase ? TAG_NOCASE : 0),
                                     ph->pos[b], 0);
            __builtin_prefetch(&t->slots[slot_home(
                (uint32_t)(h[b][nocase] >> 32), t->cap)]);
        }
    }
    k.group = g;
    k.kind = RR_KIND_PREFIX;
    k.key = path;
    k.q = NULL;
    k.pattern = 0;
    for (b--; b >= 0; b--) {
        k.klen = ph->pos[b];
        for (nocase = 0; nocase < 2; nocase++) {
            uint32_t o;
            if (nocase ? !t->has_nocase : !t->has_case)
                continue;
            k.nocase = nocase;
            o = rr_table_probe(t, h[b][nocase], &k);
            if (o && !rr_rule_refuses(t, o, rq)
                && !is_own_target(t, o, path, ph->len, ph->pos[b], NULL)) {
                *off = o;
                return (long)ph->pos[b];
            }
        }
    }
    return -1;
}

/* The slots an exact or prefix lookup of path would probe first. */
void rr_table_prefetch(const rr_table *t, const char *path, size_t len)
{
    rr_path_hash ph;
    int strict = t->opt.trailing_strict, nocase;
    uint32_t b;
    if (t->cap == 0)
        return;
    path_hash(&ph, HASH_SEED, path, len, t->has_nocase,
              t->has_kind[RR_KIND_PREFIX] ? (long)t->max_prefix_depth : -1);
    for (nocase = 0; nocase < 2; nocase++) {
        if (nocase ? !t->has_nocase : !t->has_case)
            continue;
        __builtin_prefetch(&t->slots[slot_home((uint32_t)(key_final(
            strict ? ph.full[nocase] : ph.trim[nocase],
            TAG_EXACT | (nocase ? TAG_NOCASE : 0),
            strict ? ph.len : ph.trimmed, 0) >> 32), t->cap)]);
        for (b = 0; b < ph.nb; b++)
            __builtin_prefetch(&t->slots[slot_home((uint32_t)(key_final(
                prefix_state(&ph, b, nocase),
                TAG_PREFIX | (nocase ? TAG_NOCASE : 0),
                ph.pos[b], 0) >> 32), t->cap)]);
    }
}

static void set_match(rr_match *m, const rr_set *s, int k, uint32_t off,
                      size_t tail)
{
    m->set = s;
    m->table = s->tables[k];
    m->rule = off;
    m->tail = (uint32_t)tail;
}

/* The longest prefix rule of group g for the path, across the tables. */
static int set_lookup_prefix(const rr_set *s, const rr_group *g,
                             const rr_path_hash *ph, const char *path,
                             size_t len, const rr_request *rq, rr_match *m)
{
    int k, best_table = -1, hostless = !(g->xbits & XB_HOST);
    long best_len = -1;
    uint32_t off = 0, best_off = 0;
    for (k = 0; k < s->ntables; k++) {
        const rr_table *t = s->tables[k];
        long l;
        if (!t->has_kind[RR_KIND_PREFIX]
            || !(hostless || rr_table_has_group(t, g->seed)))
            continue;
        l = table_lookup_prefix(t, g, ph, path, rq, &off);
        if (l > best_len) {
            best_len = l;
            best_off = off;
            best_table = k;
        }
    }
    if (best_table < 0)
        return 0;
    set_match(m, s, best_table, best_off,
              (size_t)best_len < len ? (size_t)best_len + 1 : len);
    return 1;
}

int rr_set_prefix_rule_for(const rr_set *s, const rr_group *g,
                           const char *path, size_t len, rr_match *m)
{
    rr_path_hash ph;
    rr_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.clock = s->clock;
    path_hash(&ph, g->seed, path, len, s->folded, s->maxdepth);
    return set_lookup_prefix(s, g, &ph, path, len, &rq, m);
}

/* The rules of group g for the path: query, then exact, then the longest
 * prefix rule, own tables before inherited ones within each; then, only
 * if none answered, pattern rules. */
static int set_lookup_group(const rr_set *s, const rr_group *g,
                            const char *path, size_t len,
                            const rr_request *rq, rr_match *m)
{
    rr_path_hash ph;
    int k, hostless = !(g->xbits & XB_HOST);
    uint32_t off = 0;

    path_hash(&ph, g->seed, path, len, s->folded, s->maxdepth);
    if (rq->q) {
        for (k = 0; k < s->ntables; k++) {
            const rr_table *t = s->tables[k];
            if (t->has_kind[RR_KIND_QUERY]
                && (hostless || rr_table_has_group(t, g->seed))
                && (off = table_lookup_exact(t, g, RR_KIND_QUERY, &ph, path,
                                             rq))) {
                set_match(m, s, k, off, len);
                return 1;
            }
        }
    }
    for (k = 0; k < s->ntables; k++) {
        const rr_table *t = s->tables[k];
        if (t->has_kind[RR_KIND_EXACT]
            && (hostless || rr_table_has_group(t, g->seed))
            && (off = table_lookup_exact(t, g, RR_KIND_EXACT, &ph, path, rq))
            && !is_own_target(t, off, path, len, len, rq->args)) {
            set_match(m, s, k, off, len);
            return 1;
        }
    }
    if (set_lookup_prefix(s, g, &ph, path, len, rq, m))
        return 1;
    /* pattern rules answer only what no literal rule of the group does */
    return s->nshapes > 0
           && rr_set_lookup_pattern(s, g, path, len, rq, m);
}

int rr_set_lookup_in_group(const rr_set *s, const rr_group *g,
                           const char *path, size_t len, rr_match *m)
{
    rr_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.clock = s->clock;
    return len > 0 && set_lookup_group(s, g, path, len, &rq, m);
}

static int set_has_group(const rr_set *s, uint64_t seed)
{
    int k;
    for (k = 0; k < s->ntables; k++) {
        if (rr_table_has_group(s->tables[k], seed))
            return 1;
    }
    return 0;
}

/* The host groups a request consults, in order: its exact host for the
 * request's scheme, then for any scheme; then each wildcard matching the
 * host, longest first, again scheme first.  "*.b.example.com" stores
 * "b.example.com", a suffix of the host after one of its dots.  Hostless
 * rules come after all of these and are not part of the walk. */
typedef struct {
    const char *host;
    size_t hlen;
    size_t at;          /* 0: the exact host; else the dot before a suffix */
    unsigned scheme;    /* XB_HTTP, XB_HTTPS or 0 */
    int any;            /* the scheme's own group is done (or there is none) */
} host_walk;

static void host_walk_init(host_walk *w, unsigned scheme, const char *host,
                           size_t hlen)
{
    w->host = host;
    w->hlen = hlen;
    w->at = 0;
    w->scheme = scheme;
    w->any = !scheme;
}

static int host_walk_next(host_walk *w, rr_group *g)
{
    for (; w->at < w->hlen; w->at++) {
        size_t i = w->at;
        unsigned bits = XB_HOST | (i ? XB_WILD : 0);
        const char *h = i ? w->host + i + 1 : w->host;
        size_t n = i ? w->hlen - i - 1 : w->hlen;
        /* a name below the wildcard's: a non-empty label before the dot */
        if (i && (w->host[i] != '.' || n == 0 || w->host[i - 1] == '.'))
            continue;
        if (!w->any) {
            w->any = 1;
            group_init(g, bits | w->scheme, h, n);
            return 1;
        }
        group_init(g, bits, h, n);
        w->any = !w->scheme;
        w->at++;
        return 1;
    }
    return 0;
}

/* The request's host as rules name it: lower-case, without a port or a
 * trailing dot.  Returns its length in buf, or 0 if there is none. */
static size_t normalise_host(const char *host, char *buf)
{
    size_t n = 0, i;
    const char *end;
    if (!host || !*host)
        return 0;
    if (host[0] == '[') {
        end = strchr(host, ']');
        end = end ? end + 1 : host + strlen(host);
    }
    else {
        end = strchr(host, ':');
        end = end ? end : host + strlen(host);
    }
    while (end > host && end[-1] == '.')
        end--;
    if ((size_t)(end - host) > RR_MAX_HOST)
        return 0;
    for (i = 0; host + i < end; i++)
        buf[n++] = (char)fold((unsigned char)host[i]);
    return n;
}

static unsigned scheme_bits(const char *scheme)
{
    if (!scheme)
        return 0;
    if (!strcasecmp(scheme, "https"))
        return XB_HTTPS;
    return !strcasecmp(scheme, "http") ? XB_HTTP : 0;
}

int rr_set_has_host(const rr_set *s, const char *scheme, const char *host)
{
    char hbuf[RR_MAX_HOST + 1];
    size_t hlen;
    host_walk w;
    rr_group g;
    if (!s->has_hosts || (hlen = normalise_host(host, hbuf)) == 0)
        return 0;
    host_walk_init(&w, scheme_bits(scheme), hbuf, hlen);
    while (host_walk_next(&w, &g)) {
        if (set_has_group(s, g.seed))
            return 1;
    }
    return 0;
}

int rr_set_lookup_at(const rr_set *s, const char *scheme, const char *host,
                     const char *path, size_t len, const char *args,
                     rr_match *m)
{
    rr_params q;
    rr_request rq;
    rr_group hostless;
    char hbuf[RR_MAX_HOST + 1];
    size_t hlen;

    if (len == 0)
        return 0;
    rq.q = NULL;
    rq.has_params = 0;
    rq.args = args;
    rq.clock = s->clock;
    if (args && *args && s->needs_params
        && params_split_ignoring(args, strlen(args), s->ignore, &q)) {
        rq.has_params = q.count > 0;
        rq.q = q.count > 0 ? &q : NULL;
    }
    else if (args && *args) {
        rq.has_params = 1;      /* too many to match a query rule */
    }
    if (s->has_hosts && (hlen = normalise_host(host, hbuf)) > 0) {
        host_walk w;
        rr_group g;
        host_walk_init(&w, scheme_bits(scheme), hbuf, hlen);
        while (host_walk_next(&w, &g)) {
            if (set_has_group(s, g.seed)
                && set_lookup_group(s, &g, path, len, &rq, m))
                return 1;
        }
    }
    group_init(&hostless, 0, NULL, 0);
    return set_lookup_group(s, &hostless, path, len, &rq, m);
}

int rr_set_lookup(const rr_set *s, const char *path, size_t len,
                  const char *args, rr_match *m)
{
    return rr_set_lookup_at(s, NULL, NULL, path, len, args, m);
}

/* A collapsed chain answers 303 if any hop does; otherwise permanent
 * only if every hop is, and method-preserving only if every hop is. */
static int collapsed_status(unsigned statuses, int default_status)
{
    int k, any303 = 0, permanent = 1, preserving = 1;
    for (k = 0; k < RR_STATUS_COUNT; k++) {
        int code;
        if (!(statuses & (1u << k)))
            continue;
        code = k ? rr_status_codes[k] : default_status;
        any303 |= code == 303;
        permanent &= code == 301 || code == 308;
        preserving &= code == 307 || code == 308;
    }
    if (any303)
        return 303;
    return permanent ? (preserving ? 308 : 301) : (preserving ? 307 : 302);
}

int rr_match_status(const rr_match *m, int default_status)
{
    unsigned st = rec_status(m->table->arena, m->rule);
    const rr_collapsed *cl;
    if (st == RR_STATUS_410 || !(cl = rr_set_collapsed(m->set, m)))
        return st ? rr_status_codes[st] : default_status;
    return collapsed_status(cl->statuses, default_status);
}

const char *rr_match_origin(const rr_match *m, apr_pool_t *pool)
{
    return apr_psprintf(pool, "%s:%u", rr_table_file_of(m->table, m->rule),
                        rec_line(m->table->arena, m->rule));
}

void rr_match_rule(const rr_match *m, apr_pool_t *pool, rr_rule_info *info)
{
    rr_rec_info(m->table, m->rule, pool, info);
}

static const char *const no_parts[] = { NULL };

int rr_set_table_index(const rr_set *s, const rr_table *t)
{
    int k;
    for (k = 0; k < s->ntables && s->tables[k] != t; k++)
        ;
    return k;
}

const rr_collapsed *rr_set_collapsed(const rr_set *s, const rr_match *m)
{
    rr_rule_key key;
    if (!s->collapsed)
        return NULL;
    memset(&key, 0, sizeof(key));
    key.table = rr_set_table_index(s, m->table);
    key.off = m->rule;
    return apr_hash_get(s->collapsed, &key, sizeof(key));
}

const char *rr_match_location(const rr_match *m, apr_pool_t *pool,
                              const char *path, const char *args,
                              const char *base)
{
    const char *parts[2];
    parts[0] = base;
    parts[1] = NULL;
    return rr_match_location_parts(m, pool, path, args, parts);
}

/* Where the rest a prefix rule carries starts in the path.  A '*' after
 * a '/' takes the rest below the prefix without its leading slash; after
 * any other byte it takes the rest with it, and nothing for the prefix
 * itself, as mod_alias's Redirect does (SPEC: Prefix targets). */
static size_t carry_start(const rr_match *m, const char *path,
                          const char *target, size_t mainlen, size_t *plen)
{
    *plen = strlen(path);
    if (mainlen >= 2 && target[mainlen - 2] == '/')
        return m->tail;
    return m->tail > 0 && path[m->tail - 1] == '/' ? m->tail - 1 : *plen;
}

#define SEP_QUERY  0       /* the first parameter starts the query: '?' */
#define SEP_NONE   1       /* the target ends in a bare '?' */
#define SEP_AMP    2       /* after the target's own parameters: '&' */

/* Writes the ignored parameters of args (n bytes) into out (NULL: only
 * count), the first after `sep`, the others after '&'; returns the
 * length. */
static size_t pass_through(char *out, const rr_ignore *ig, const char *args,
                           size_t n, int sep)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && args[j] != '&')
            j++;
        if (j > i && rr_ignore_has(ig, args + i, j - i)) {
            if (sep != SEP_NONE) {
                if (out)
                    out[o] = sep == SEP_QUERY ? '?' : '&';
                o++;
            }
            sep = SEP_AMP;
            o += rr_escape_into(out ? out + o : NULL, args + i, j - i,
                                ESC_QUERY);
        }
        i = j + 1;
    }
    return o;
}

const char *rr_match_location_parts(const rr_match *m, apr_pool_t *pool,
                                    const char *path, const char *args,
                                    const char *const *base_parts)
{
    const rr_collapsed *cl;
    rr_rec r;
    const char *target, *over;
    size_t tlen, mainlen, qend, carry_len = 0, carry = 0, plen = 0, n = 0;
    size_t o = 0, k;
    size_t alen = args ? strlen(args) : 0;
    int is_path, star, carry_args, pass_args;
    char *out;

    rec_decode(m->table->arena, m->rule, &r);
    if (r.status == RR_STATUS_410)
        return NULL;
    cl = rr_set_collapsed(m->set, m);
    over = cl ? cl->target : NULL;
    target = over ? over : r.target;
    tlen = over ? strlen(over) : r.tgt_len;
    if (!over && r.pattern && rr_pattern_target_uses(target, tlen)) {
        rr_capture caps[RR_MAX_PLACEHOLDERS];
        int ncaps = rr_pattern_captures(&r, path, strlen(path), caps);
        if (ncaps < 0)
            ncaps = 0;      /* not the lookup's path: names stay as written */
        target = rr_pattern_expand(pool, target, tlen, caps, ncaps, &tlen);
    }
    star = !over && (r.bits & RB_STAR);
    is_path = tlen > 0 && target[0] == '/';
    if (!is_path || !base_parts)
        base_parts = no_parts;

    mainlen = target_main_len(target, tlen);
    qend = mainlen;
    if (mainlen < tlen && target[mainlen] == '?') {
        const char *h = memchr(target + mainlen, '#', tlen - mainlen);
        qend = h ? (size_t)(h - target) : tlen;
    }
    if (r.bits & RB_QSDROP)
        carry_args = 0;
    else if (r.bits & RB_QSAPPEND)
        carry_args = 1;
    else
        carry_args = (r.bits & RB_KIND_MASK) != RR_KIND_QUERY
                     && qend == mainlen;
    carry_args = carry_args && alen > 0;
    /* What the rule drops, the ignored parameters still follow (SPEC:
     * Ignored parameters), unless qsdrop drops everything. */
    pass_args = !carry_args && alen > 0 && !(r.bits & RB_QSDROP)
                && m->set->ignore;
    if (star) {
        carry = carry_start(m, path, target, mainlen, &plen);
        carry_len = rr_escape_into(NULL, path + carry, plen - carry,
                                   ESC_PATH);
    }

    for (k = 0; base_parts[k]; k++)
        n += rr_escape_into(NULL, base_parts[k], strlen(base_parts[k]),
                         ESC_QUERY);
    n += tlen + carry_len + 1
         + (carry_args ? rr_escape_into(NULL, args, alen, ESC_QUERY) : 0)
         + (pass_args ? pass_through(NULL, m->set->ignore, args, alen,
                                     SEP_QUERY) : 0);
    out = apr_palloc(pool, n + 1);
    for (k = 0; base_parts[k]; k++)
        o += rr_escape_into(out + o, base_parts[k], strlen(base_parts[k]),
                         ESC_QUERY);
    memcpy(out + o, target, mainlen - (star ? 1 : 0));
    o += mainlen - (star ? 1 : 0);
    if (star)
        o += rr_escape_into(out + o, path + carry, plen - carry, ESC_PATH);
    memcpy(out + o, target + mainlen, qend - mainlen);
    o += qend - mainlen;
    if (carry_args) {
        if (qend == mainlen)
            out[o++] = '?';
        else if (qend - mainlen > 1)
            out[o++] = '&';
        o += rr_escape_into(out + o, args, alen, ESC_QUERY);
    }
    if (pass_args)
        o += pass_through(out + o, m->set->ignore, args, alen,
                          qend == mainlen ? SEP_QUERY
                          : qend - mainlen == 1 ? SEP_NONE : SEP_AMP);
    memcpy(out + o, target + qend, tlen - qend);
    o += tlen - qend;
    out[o] = '\0';
    return out;
}

uint32_t rr_match_index(const rr_match *m)
{
    return rr_table_record_index(m->table, m->rule);
}
