/*
 * r307_topk.h - the most frequent strings of a stream, counted in shared
 * memory by every child of httpd at once (Redirect307Missed's table).
 *
 * Plain C on APR, no httpd header: the caller places the table in memory
 * it shares (anonymous shared memory made in the parent) and counts into
 * it from any process and thread.  No global lock: a count is a few
 * relaxed atomic operations on the slots of one bucket; only a slot being
 * taken over, or changing its referrer, is locked, by itself.
 *
 * The algorithm is Space-Saving (Metwally, Agrawal, El Abbadi 2005) run
 * independently in each bucket of a set-associative table:
 *
 *   - a table listing N strings has N * R307_TOPK_SPARE slots, in buckets
 *     of R307_TOPK_WAYS; a string lives only in the bucket its hash names;
 *   - a string already in its bucket adds one to its slot's count;
 *   - a new string takes an empty slot with count 1, or, in a full
 *     bucket, the slot with the smallest count c: it inherits count c + 1
 *     and records error = c.
 *
 * Guarantees, per bucket (each is its own Space-Saving instance over the
 * strings hashing to it; buckets never overlap, which is what keeps them):
 *
 *   - a slot's count - error requests were certainly its string's (the
 *     ones since it took the slot): that is the count listed, exact for
 *     every string that found a free slot, which is every string until
 *     its bucket first fills;
 *   - its string had at most `error` more requests before (it may have
 *     held a slot, lost it and come back): the true count lies between
 *     count - error and count;
 *   - a string with more than B / R307_TOPK_WAYS requests, B being all
 *     the requests its bucket saw, is always in the table (about
 *     total / (N * R307_TOPK_SPARE) for strings spread evenly).
 *
 * Races (two children meeting in one slot) cost at most a count here and
 * there: a request for a string whose slot is being taken over at that
 * instant may be added to the newcomer; a new string arriving at the same
 * instant in two threads may get two slots (merged when listed); a bucket
 * whose chosen slot is busy twice in a row drops that one request
 * (counted in `dropped`).  Counts never need a lock to be read or added.
 */
#ifndef R307_TOPK_H
#define R307_TOPK_H

#include "apr.h"
#include "apr_pools.h"

#define R307_TOPK_WAYS  8       /* slots per bucket: its keys are 2 lines */
#define R307_TOPK_SPARE 4       /* slots per string listed */
#define R307_TOPK_STR   256     /* bytes of a string kept (longer: cut) */
#define R307_TOPK_HOST  64      /* bytes of a referrer host kept */
#define R307_TOPK_MAX   100000  /* largest N */

typedef struct r307_topk r307_topk;     /* lives in shared memory */

/* Bytes a table listing n strings takes: header, keys and slots,
 * n * R307_TOPK_SPARE * (16 + slot) bytes plus a header. */
apr_size_t r307_topk_bytes(apr_uint32_t n);

/* Lays out an empty table listing n strings (1 <= n <= R307_TOPK_MAX) in
 * mem, r307_topk_bytes(n) bytes aligned for 64-bit atomics; seed keys the
 * hash (random, so that nobody can aim two paths at one slot). */
r307_topk *r307_topk_init(void *mem, apr_uint32_t n, apr_uint64_t seed);

/* Is t a table laid out by this code for n strings?  (A table kept across
 * a graceful restart by a module since rebuilt may not be.) */
int r307_topk_fits(const r307_topk *t, apr_uint32_t n);

apr_uint32_t r307_topk_listed(const r307_topk *t);  /* n */
apr_uint32_t r307_topk_slots(const r307_topk *t);   /* n * SPARE, rounded up */

/* Counts one request for s (len bytes) at `now` (seconds), referred from
 * host ref (ref_len bytes; NULL: no referrer, no vote).  The referrer kept
 * per slot is a Boyer-Moore majority vote: a host that referred more than
 * half of the slot's referred requests is the one kept; without such a
 * majority, one of the frequent recent ones.  Cost: one hash of s, one
 * pass over a bucket's keys; a new string copies itself into its slot. */
void r307_topk_count(r307_topk *t, const char *s, apr_size_t len,
                     const char *ref, apr_size_t ref_len, apr_uint64_t now);

/* Counts one request the caller left out (Redirect307MissedIgnore). */
void r307_topk_ignore(r307_topk *t);

typedef struct {
    apr_uint64_t counted;       /* r307_topk_count calls */
    apr_uint64_t ignored;       /* r307_topk_ignore calls */
    apr_uint64_t dropped;       /* counts lost to a busy slot */
} r307_topk_totals;

void r307_topk_totals_get(const r307_topk *t, r307_topk_totals *out);

/* One string of the listing, in order. */
typedef struct {
    apr_uint32_t slot;
    apr_uint64_t hash;
    apr_uint64_t count;         /* requests certainly its own */
    apr_uint64_t error;         /* at most this many more, before */
    apr_uint64_t last;
} r307_topk_rank;

/* The (at most n) most frequent strings now, most requested first (ties:
 * most recent first), in *out allocated from p: 40 bytes per slot in use.
 * Returns how many.  Slots a writer holds throughout are left out. */
int r307_topk_rank_get(const r307_topk *t, apr_pool_t *p,
                       r307_topk_rank **out);

typedef struct {
    apr_uint64_t count, error;  /* as ranked */
    apr_uint64_t first, last;   /* seconds: when it took its slot, last */
    apr_size_t len;             /* bytes of str */
    int truncated;              /* the string was longer: str is its head */
    char str[R307_TOPK_STR + 1];        /* NUL-terminated */
    apr_size_t ref_len;         /* 0: no referrer */
    char ref[R307_TOPK_HOST + 1];       /* NUL-terminated */
} r307_topk_entry;

/* Reads the string of a rank into e; 0 if its slot has since been taken
 * by another string (skip it). */
int r307_topk_read(const r307_topk *t, const r307_topk_rank *rank,
                   r307_topk_entry *e);

#endif /* R307_TOPK_H */
