/*
 * r307_topk.c - Space-Saving in the buckets of a shared-memory table (the
 * algorithm, its guarantees and its races are described in r307_topk.h).
 *
 * Layout, from the (64-byte aligned) start:
 *
 *   header   magic, seed, sizes, totals                        64 bytes
 *   keys     {hash, count} per slot: a bucket's 8 keys are 128 bytes,
 *            so finding a string reads two cache lines        16 per slot
 *   slots    seqlock, error, times, referrer vote, the string  sizeof slot
 *
 * A key's hash is 0 while its slot is empty.  Counts are added without a
 * lock; everything else in a slot is written by the holder of its seqlock
 * (an odd seq), which readers (the status page) use to take a consistent
 * copy.  Listing sorts 40-byte ranks, then reads only the strings shown.
 */
#include <string.h>
#include <stdlib.h>

#include "apr_thread_proc.h"

#include "r307_topk.h"

#define R307_TOPK_MAGIC  APR_UINT64_C(0x7233303774706b01)  /* "r307tpk" v1 */
#define R307_TOPK_TRIES  64     /* reads of a busy slot before giving up */

typedef struct {
    apr_uint64_t hash;          /* 0: empty */
    apr_uint64_t count;         /* Space-Saving count: error + own */
} r307_topk_key;

typedef struct {
    apr_uint32_t seq;           /* seqlock: odd while a writer holds it */
    apr_uint32_t votes;         /* the referrer's majority vote */
    apr_uint64_t error;         /* count of the slot when taken over */
    apr_uint64_t first;         /* seconds: when it took the slot */
    apr_uint64_t last;          /* seconds: its latest request */
    apr_uint64_t ref_hash;      /* hash of ref[]; 0: none */
    apr_uint16_t len;           /* bytes in str[] */
    unsigned char truncated;
    unsigned char ref_len;
    char ref[R307_TOPK_HOST];
    char str[R307_TOPK_STR];
} r307_topk_slot;

struct r307_topk {
    apr_uint64_t magic;
    apr_uint64_t seed;
    apr_uint32_t listed;        /* N */
    apr_uint32_t buckets;       /* of R307_TOPK_WAYS slots */
    apr_uint32_t slot_bytes;    /* sizeof(r307_topk_slot): layout check */
    apr_uint32_t pad;
    apr_uint64_t counted;
    apr_uint64_t ignored;
    apr_uint64_t dropped;
    apr_uint64_t pad2;
};

/* ---- layout ----------------------------------------------------------- */

static apr_uint32_t r307_topk_buckets_for(apr_uint32_t n)
{
    return (apr_uint32_t)(((apr_uint64_t)n * R307_TOPK_SPARE
                           + R307_TOPK_WAYS - 1) / R307_TOPK_WAYS);
}

static r307_topk_key *r307_topk_keys(const r307_topk *t)
{
    return (r307_topk_key *)(void *)((const char *)t + sizeof(*t));
}

static r307_topk_slot *r307_topk_slot_at(const r307_topk *t, apr_uint32_t i)
{
    return (r307_topk_slot *)(void *)(r307_topk_keys(t)
                                      + r307_topk_slots(t)) + i;
}

apr_size_t r307_topk_bytes(apr_uint32_t n)
{
    apr_size_t slots = (apr_size_t)r307_topk_buckets_for(n) * R307_TOPK_WAYS;
    return sizeof(r307_topk)
        + slots * (sizeof(r307_topk_key) + sizeof(r307_topk_slot));
}

r307_topk *r307_topk_init(void *mem, apr_uint32_t n, apr_uint64_t seed)
{
    r307_topk *t = mem;
    memset(mem, 0, r307_topk_bytes(n));
    t->magic = R307_TOPK_MAGIC;
    t->seed = seed;
    t->listed = n;
    t->buckets = r307_topk_buckets_for(n);
    t->slot_bytes = (apr_uint32_t)sizeof(r307_topk_slot);
    return t;
}

int r307_topk_fits(const r307_topk *t, apr_uint32_t n)
{
    return t->magic == R307_TOPK_MAGIC && t->listed == n
        && t->slot_bytes == sizeof(r307_topk_slot)
        && t->buckets == r307_topk_buckets_for(n);
}

apr_uint32_t r307_topk_listed(const r307_topk *t)
{
    return t->listed;
}

apr_uint32_t r307_topk_slots(const r307_topk *t)
{
    return t->buckets * R307_TOPK_WAYS;
}

/* ---- hashing ---------------------------------------------------------- */

/* splitmix64's finaliser: every input bit reaches every output bit. */
static apr_uint64_t r307_topk_mix(apr_uint64_t x)
{
    x ^= x >> 30;
    x *= APR_UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= APR_UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Keyed by the table's random seed; never 0 (the empty key). */
static apr_uint64_t r307_topk_hash(apr_uint64_t seed, const char *s,
                                   apr_size_t len)
{
    apr_uint64_t h = r307_topk_mix(seed ^ ((apr_uint64_t)len
                                           * APR_UINT64_C(0x9e3779b97f4a7c15)));
    apr_uint64_t w;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = r307_topk_mix(h ^ w);
    }
    w = 0;
    memcpy(&w, s, len);     /* the length went in first: no ambiguity */
    h = r307_topk_mix(h ^ w);
    return h ? h : 1;
}

/* ---- the per-slot lock ------------------------------------------------- */

/* Takes a slot's seqlock if it is free now; never waits. */
static int r307_topk_lock(r307_topk_slot *sl, apr_uint32_t *seq)
{
    apr_uint32_t s = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
    if ((s & 1) || !__atomic_compare_exchange_n(&sl->seq, &s, s + 1, 0,
                                                __ATOMIC_ACQUIRE,
                                                __ATOMIC_RELAXED))
        return 0;
    /* the odd seq is visible before anything written under it */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    *seq = s;
    return 1;
}

static void r307_topk_unlock(r307_topk_slot *sl, apr_uint32_t seq)
{
    __atomic_store_n(&sl->seq, seq + 2, __ATOMIC_RELEASE);
}

/* ---- counting --------------------------------------------------------- */

static void r307_topk_set_ref(const r307_topk *t, r307_topk_slot *sl,
                              const char *ref, apr_size_t ref_len)
{
    if (!ref) {
        __atomic_store_n(&sl->ref_hash, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sl->votes, 0, __ATOMIC_RELAXED);
        sl->ref_len = 0;
        return;
    }
    if (ref_len > R307_TOPK_HOST)
        ref_len = R307_TOPK_HOST;
    memcpy(sl->ref, ref, ref_len);
    sl->ref_len = (unsigned char)ref_len;
    __atomic_store_n(&sl->ref_hash, r307_topk_hash(t->seed, ref, ref_len),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&sl->votes, 1, __ATOMIC_RELAXED);
}

/* Boyer-Moore majority vote: the same host adds a vote without a lock;
 * another takes one away, or the candidacy if none is left, under the
 * slot's lock (a busy slot costs this vote, not a wait). */
static void r307_topk_vote(const r307_topk *t, apr_uint32_t i,
                           apr_uint64_t h, const char *ref,
                           apr_size_t ref_len)
{
    r307_topk_slot *sl = r307_topk_slot_at(t, i);
    apr_uint64_t rh;
    apr_uint32_t seq;
    if (ref_len > R307_TOPK_HOST)
        ref_len = R307_TOPK_HOST;
    rh = r307_topk_hash(t->seed, ref, ref_len);
    if (__atomic_load_n(&sl->ref_hash, __ATOMIC_RELAXED) == rh) {
        __atomic_fetch_add(&sl->votes, 1, __ATOMIC_RELAXED);
        return;
    }
    if (!r307_topk_lock(sl, &seq))
        return;
    if (__atomic_load_n(&r307_topk_keys(t)[i].hash, __ATOMIC_RELAXED) == h) {
        if (__atomic_load_n(&sl->ref_hash, __ATOMIC_RELAXED) == rh)
            __atomic_fetch_add(&sl->votes, 1, __ATOMIC_RELAXED);
        else if (__atomic_load_n(&sl->votes, __ATOMIC_RELAXED) == 0)
            r307_topk_set_ref(t, sl, ref, ref_len);
        else    /* only lock holders subtract: votes stays >= 0 */
            __atomic_fetch_sub(&sl->votes, 1, __ATOMIC_RELAXED);
    }
    r307_topk_unlock(sl, seq);
}

static void r307_topk_hit(const r307_topk *t, apr_uint32_t i, apr_uint64_t h,
                          const char *ref, apr_size_t ref_len,
                          apr_uint64_t now)
{
    r307_topk_slot *sl = r307_topk_slot_at(t, i);
    __atomic_fetch_add(&r307_topk_keys(t)[i].count, 1, __ATOMIC_RELAXED);
    /* a read first: a hot slot's line is not written once per request */
    if (__atomic_load_n(&sl->last, __ATOMIC_RELAXED) < now)
        __atomic_store_n(&sl->last, now, __ATOMIC_RELAXED);
    if (ref)
        r307_topk_vote(t, i, h, ref, ref_len);
}

/* The slot holding h (*seen = h); else the bucket's first empty slot
 * (*seen = 0); else its slot with the smallest count (*seen = its hash). */
static apr_uint32_t r307_topk_find(const r307_topk *t, apr_uint64_t h,
                                   apr_uint64_t *seen)
{
    apr_uint32_t first = (apr_uint32_t)(((h >> 32) * t->buckets) >> 32)
                         * R307_TOPK_WAYS;
    const r307_topk_key *k = r307_topk_keys(t) + first;
    apr_uint64_t min = ~(apr_uint64_t)0, victim_hash = 0;
    apr_uint32_t i, victim = 0;
    int empty = 0;
    for (i = 0; i < R307_TOPK_WAYS; i++) {
        apr_uint64_t kh = __atomic_load_n(&k[i].hash, __ATOMIC_ACQUIRE);
        apr_uint64_t c;
        if (kh == h) {
            *seen = h;
            return first + i;
        }
        if (empty)
            continue;       /* still looking for h further on */
        if (kh == 0) {
            empty = 1;
            victim = i;
            victim_hash = 0;
            continue;
        }
        c = __atomic_load_n(&k[i].count, __ATOMIC_RELAXED);
        if (c < min) {
            min = c;
            victim = i;
            victim_hash = kh;
        }
    }
    *seen = victim_hash;
    return first + victim;
}

/* Space-Saving's replacement: s takes slot i, which held `seen` (0: empty)
 * when chosen, with that slot's count + 1.  0 if the slot was busy or has
 * changed since it was chosen. */
static int r307_topk_take(const r307_topk *t, apr_uint32_t i,
                          apr_uint64_t seen, apr_uint64_t h, const char *s,
                          apr_size_t len, const char *ref, apr_size_t ref_len,
                          apr_uint64_t now)
{
    r307_topk_key *k = r307_topk_keys(t) + i;
    r307_topk_slot *sl = r307_topk_slot_at(t, i);
    apr_size_t keep = len > R307_TOPK_STR ? R307_TOPK_STR : len;
    apr_uint64_t was;
    apr_uint32_t seq;

    if (!r307_topk_lock(sl, &seq))
        return 0;
    if (__atomic_load_n(&k->hash, __ATOMIC_RELAXED) != seen) {
        r307_topk_unlock(sl, seq);
        return 0;
    }
    was = seen ? __atomic_load_n(&k->count, __ATOMIC_RELAXED) : 0;
    __atomic_store_n(&sl->error, was, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->first, now, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->last, now, __ATOMIC_RELAXED);
    memcpy(sl->str, s, keep);
    sl->len = (apr_uint16_t)keep;
    sl->truncated = len > keep;
    r307_topk_set_ref(t, sl, ref, ref_len);
    __atomic_store_n(&k->count, was + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&k->hash, h, __ATOMIC_RELEASE);
    r307_topk_unlock(sl, seq);
    return 1;
}

void r307_topk_count(r307_topk *t, const char *s, apr_size_t len,
                     const char *ref, apr_size_t ref_len, apr_uint64_t now)
{
    apr_uint64_t h = r307_topk_hash(t->seed, s, len);
    int attempt;

    __atomic_fetch_add(&t->counted, 1, __ATOMIC_RELAXED);
    for (attempt = 0; attempt < 2; attempt++) {
        apr_uint64_t seen;
        apr_uint32_t i = r307_topk_find(t, h, &seen);
        if (seen == h) {
            r307_topk_hit(t, i, h, ref, ref_len, now);
            return;
        }
        if (r307_topk_take(t, i, seen, h, s, len, ref, ref_len, now))
            return;
    }
    __atomic_fetch_add(&t->dropped, 1, __ATOMIC_RELAXED);
}

void r307_topk_ignore(r307_topk *t)
{
    __atomic_fetch_add(&t->ignored, 1, __ATOMIC_RELAXED);
}

void r307_topk_totals_get(const r307_topk *t, r307_topk_totals *out)
{
    out->counted = __atomic_load_n(&t->counted, __ATOMIC_RELAXED);
    out->ignored = __atomic_load_n(&t->ignored, __ATOMIC_RELAXED);
    out->dropped = __atomic_load_n(&t->dropped, __ATOMIC_RELAXED);
}

/* ---- listing ---------------------------------------------------------- */

/* Starts a consistent read of slot i: its seq, once even; 0 when a writer
 * holds it throughout. */
static int r307_topk_read_begin(const r307_topk_slot *sl, apr_uint32_t *seq)
{
    int tries;
    for (tries = 0; tries < R307_TOPK_TRIES; tries++) {
        *seq = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
        if (!(*seq & 1))
            return 1;
        apr_thread_yield();
    }
    return 0;
}

static int r307_topk_read_end(const r307_topk_slot *sl, apr_uint32_t seq)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&sl->seq, __ATOMIC_RELAXED) == seq;
}

/* Slot i's rank: 0 if empty or busy. */
static int r307_topk_rank_slot(const r307_topk *t, apr_uint32_t i,
                               r307_topk_rank *out)
{
    const r307_topk_key *k = r307_topk_keys(t) + i;
    const r307_topk_slot *sl = r307_topk_slot_at(t, i);
    int tries;
    for (tries = 0; tries < R307_TOPK_TRIES; tries++) {
        apr_uint32_t seq;
        apr_uint64_t count;
        if (!r307_topk_read_begin(sl, &seq))
            return 0;
        out->slot = i;
        out->hash = __atomic_load_n(&k->hash, __ATOMIC_RELAXED);
        count = __atomic_load_n(&k->count, __ATOMIC_RELAXED);
        out->error = __atomic_load_n(&sl->error, __ATOMIC_RELAXED);
        out->last = __atomic_load_n(&sl->last, __ATOMIC_RELAXED);
        if (!r307_topk_read_end(sl, seq))
            continue;
        if (!out->hash)
            return 0;
        /* count >= error + 1 under the lock; only adds race with us */
        out->count = count > out->error ? count - out->error : 1;
        return 1;
    }
    return 0;
}

static int r307_topk_by_hash(const void *a, const void *b)
{
    const r307_topk_rank *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->count > y->count ? -1 : x->count < y->count;
}

static int r307_topk_by_count(const void *a, const void *b)
{
    const r307_topk_rank *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->error != y->error)
        return x->error > y->error ? -1 : 1;
    if (x->last != y->last)
        return x->last > y->last ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Two threads that met a new string at the same instant may have given it
 * two slots: one rank each, summed into the one with the larger count. */
static int r307_topk_merge(r307_topk_rank *r, int n)
{
    int k, out = 0;
    qsort(r, (size_t)n, sizeof(*r), r307_topk_by_hash);
    for (k = 0; k < n; k++) {
        if (out > 0 && r[out - 1].hash == r[k].hash) {
            r307_topk_rank *m = &r[out - 1];
            m->count += r[k].count;
            m->error += r[k].error;
            if (r[k].last > m->last)
                m->last = r[k].last;
            continue;
        }
        r[out++] = r[k];
    }
    return out;
}

int r307_topk_rank_get(const r307_topk *t, apr_pool_t *p,
                       r307_topk_rank **out)
{
    apr_uint32_t i, slots = r307_topk_slots(t);
    r307_topk_rank *r = apr_palloc(p, sizeof(*r) * slots);
    int n = 0;
    for (i = 0; i < slots; i++) {
        if (r307_topk_rank_slot(t, i, &r[n]))
            n++;
    }
    n = r307_topk_merge(r, n);
    qsort(r, (size_t)n, sizeof(*r), r307_topk_by_count);
    *out = r;
    return n < (int)t->listed ? n : (int)t->listed;
}

int r307_topk_read(const r307_topk *t, const r307_topk_rank *rank,
                   r307_topk_entry *e)
{
    const r307_topk_key *k = r307_topk_keys(t) + rank->slot;
    const r307_topk_slot *sl = r307_topk_slot_at(t, rank->slot);
    int tries;
    for (tries = 0; tries < R307_TOPK_TRIES; tries++) {
        apr_uint32_t seq;
        if (!r307_topk_read_begin(sl, &seq))
            return 0;
        if (__atomic_load_n(&k->hash, __ATOMIC_RELAXED) != rank->hash)
            return 0;
        e->first = __atomic_load_n(&sl->first, __ATOMIC_RELAXED);
        e->last = __atomic_load_n(&sl->last, __ATOMIC_RELAXED);
        e->len = sl->len <= R307_TOPK_STR ? sl->len : R307_TOPK_STR;
        e->truncated = sl->truncated != 0;
        memcpy(e->str, sl->str, e->len);
        e->ref_len = __atomic_load_n(&sl->ref_hash, __ATOMIC_RELAXED)
                     && sl->ref_len <= R307_TOPK_HOST ? sl->ref_len : 0;
        memcpy(e->ref, sl->ref, e->ref_len);
        if (!r307_topk_read_end(sl, seq))
            continue;
        e->str[e->len] = '\0';
        e->ref[e->ref_len] = '\0';
        e->count = rank->count;
        e->error = rank->error;
        if (rank->last > e->last)
            e->last = rank->last;
        return 1;
    }
    return 0;
}
