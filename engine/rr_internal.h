/*
 * rr_internal.h - what the engine's files share and nobody else sees: the
 * record layout (the one encoder and decoder of the arena), hashing, the
 * table, builder and set structures, and the functions one engine file
 * provides to another.  Public API: redirect_rules.h.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef RR_INTERNAL_H
#define RR_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apr_hash.h"

#include "redirect_rules.h"

/* ---- record encoding ------------------------------------------------
 * A table's arena is one contiguous block of variable-length records:
 *
 *   u32 line | u8 bits | u8 xbits | u16 src_len | u16 tgt_len |
 *   [u16 query_len, query rules only] | [u8 host_len, host rules only] |
 *   [u8 shared, targets ending as their source does] |
 *   [u32 from | u32 until, rules with a window only] |
 *   source | query | target's own bytes | host
 *
 * A source is at most a line (8 KiB), so src_len's top bits are free: they
 * say the record has a window (SRC_WINDOW) or is a pattern (SRC_PATTERN).
 * tgt_len's top bit (TGT_SHARED) says the target's last `shared` bytes are
 * the stored source's last bytes and are not stored again: a migration's
 * targets mostly keep the old page's name (/old/a/page.html ->
 * /new/a/page.html), and storing that tail once is what keeps a large
 * table smaller than its rules text.  tgt_len then counts the own bytes.
 *
 * Offsets into it are 32-bit; offset 0 is a pad byte and means "empty".
 * Only the functions below read or write a record's bytes. */

#define RB_KIND_MASK  0x03u
#define RB_NOCASE     0x04u
#define RB_QSDROP     0x08u
#define RB_QSAPPEND   0x10u
#define RB_STAR       0x20u   /* prefix target carries the rest at its '*' */
#define RB_SHADOWED   0x40u   /* duplicate source: kept for line numbers only */
#define RB_SELF       0x80u   /* target is the source in another spelling
                                 (case, trailing slash): the target itself
                                 is not redirected */

/* xbits: the status index in the low three bits, then more flags. */
#define XB_STATUS_MASK 0x07u
#define XB_QSNONE      0x08u  /* matches only a request without parameters
                                 (ignored ones aside) */
#define XB_HOST        0x10u  /* a host rule: the record holds its host */
#define XB_WILD        0x20u  /* the host is "*." + the stored suffix */
#define XB_HTTP        0x40u  /* written http://HOST/...: that scheme only */
#define XB_HTTPS       0x80u  /* written https://HOST/... */
#define XB_GROUP_MASK  (XB_HOST | XB_WILD | XB_HTTP | XB_HTTPS)

#define REC_FIXED     10u     /* bytes before the optional lengths */
#define SRC_WINDOW    0x8000u /* in src_len: from/until follow */
#define SRC_PATTERN   0x4000u /* in src_len: a pattern rule (source holds
                                 placeholders, engine/rr_pattern.c) */
#define SRC_LEN_MASK  0x3fffu
#define TGT_SHARED    0x8000u /* in tgt_len: a shared-tail count follows */
#define TGT_LEN_MASK  0x7fffu
#define TGT_JOIN_MAX  256u    /* longest target that may share its tail:
                                 a decoded record joins it in place */
#define TGT_SHARE_MIN 2u      /* the count byte must pay for itself */
#define WINDOW_OPEN_END UINT32_MAX  /* until: no end */
#define RR_MAX_HOST   253u    /* longest DNS name */

/* Status codes by the index a record stores; 0 is "use the default". */
extern const int rr_status_codes[];
#define RR_STATUS_410    6
#define RR_STATUS_COUNT  7

typedef struct {
    uint32_t line;
    unsigned bits;          /* RB_* */
    unsigned xbits;         /* XB_* */
    unsigned status;        /* index into rr_status_codes */
    uint32_t src_len, tgt_len, q_len, h_len;
    int window;             /* answers only from <= now < until */
    int pattern;            /* a pattern rule: src is its stored form */
    uint32_t from, until;   /* seconds since the epoch (UTC) */
    const char *src, *query, *target, *host;
    /* How the target is stored: tgt_own bytes at tgt_stored, then the
     * source's last tgt_shared bytes.  rec_decode_head leaves target NULL
     * when they are apart; rec_join_target joins them into tgt_buf. */
    const char *tgt_stored;
    uint32_t tgt_own, tgt_shared;
    char tgt_buf[TGT_JOIN_MAX];
} rr_rec;

static inline uint16_t rd16(const char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Can the stored tail count be joined: no longer than the source, the
 * whole target fitting tgt_buf?  Always so for a record the parser wrote
 * (a target longer than the buffer shares nothing and is not joined);
 * an image is checked with it before any record is joined. */
static inline int rec_share_sane(const rr_rec *r)
{
    return r->tgt_shared == 0
           || (r->tgt_shared <= r->src_len
               && r->tgt_own + r->tgt_shared <= TGT_JOIN_MAX);
}

/* Every field but the joined target: what a key comparison needs, and all
 * an image check may read before it knows the record is whole. */
static inline void rec_decode_head(const char *arena, uint32_t off,
                                   rr_rec *r)
{
    const char *p = arena + off;
    unsigned tw;
    r->line = rd32(p);
    r->bits = (unsigned char)p[4];
    r->xbits = (unsigned char)p[5];
    r->status = r->xbits & XB_STATUS_MASK;
    r->src_len = rd16(p + 6);
    r->window = (r->src_len & SRC_WINDOW) != 0;
    r->pattern = (r->src_len & SRC_PATTERN) != 0;
    r->src_len &= SRC_LEN_MASK;
    tw = rd16(p + 8);
    r->tgt_own = tw & TGT_LEN_MASK;
    p += REC_FIXED;
    r->q_len = 0;
    r->h_len = 0;
    r->tgt_shared = 0;
    r->from = 0;
    r->until = WINDOW_OPEN_END;
    if ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY) {
        r->q_len = rd16(p);
        p += 2;
    }
    if (r->xbits & XB_HOST)
        r->h_len = (unsigned char)*p++;
    if (tw & TGT_SHARED)
        r->tgt_shared = (unsigned char)*p++;
    if (r->window) {
        r->from = rd32(p);
        r->until = rd32(p + 4);
        p += 8;
    }
    r->src = p;
    r->query = p + r->src_len;
    r->tgt_stored = r->query + r->q_len;
    r->host = r->tgt_stored + r->tgt_own;
    r->tgt_len = r->tgt_own + r->tgt_shared;
    r->target = r->tgt_shared ? NULL : r->tgt_stored;
}

/* Makes r->target the whole target.  A count rec_share_sane refuses is
 * never joined: such a record reads with its own bytes only. */
static inline void rec_join_target(rr_rec *r)
{
    if (!r->tgt_shared)
        return;
    if (!rec_share_sane(r)) {
        r->target = r->tgt_stored;
        r->tgt_len = r->tgt_own;
        return;
    }
    memcpy(r->tgt_buf, r->tgt_stored, r->tgt_own);
    memcpy(r->tgt_buf + r->tgt_own, r->src + r->src_len - r->tgt_shared,
           r->tgt_shared);
    r->target = r->tgt_buf;
}

static inline void rec_decode(const char *arena, uint32_t off, rr_rec *r)
{
    rec_decode_head(arena, off, r);
    rec_join_target(r);
}

/* Decides how a new record stores r->target (tgt_len bytes): the bytes it
 * has in common with the end of the source are not stored again. */
static inline void rec_plan_target(rr_rec *r)
{
    uint32_t n = 0, max = r->tgt_len < r->src_len ? r->tgt_len : r->src_len;
    if (max > UINT8_MAX)
        max = UINT8_MAX;
    if (r->tgt_len <= TGT_JOIN_MAX) {
        while (n < max && r->target[r->tgt_len - 1 - n]
                              == r->src[r->src_len - 1 - n])
            n++;
    }
    if (n < TGT_SHARE_MIN)
        n = 0;
    r->tgt_shared = n;
    r->tgt_own = r->tgt_len - n;
    r->tgt_stored = r->target;
}

/* Bytes of the record r describes (as decoded, or as planned). */
static inline size_t rec_size(const rr_rec *r)
{
    return REC_FIXED + ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY ? 2 : 0)
           + ((r->xbits & XB_HOST) ? 1 : 0) + (r->tgt_shared ? 1 : 0)
           + (r->window ? 8 : 0)
           + r->src_len + r->q_len + r->tgt_own + r->h_len;
}

/* Writes the record r describes at p (rec_size bytes), its target as
 * rec_plan_target decided; its lengths fit their fields (the parser
 * checks). */
static inline void rec_encode(char *p, const rr_rec *r)
{
    uint16_t v16;
    memcpy(p, &r->line, 4);
    p[4] = (char)(unsigned char)r->bits;
    p[5] = (char)(unsigned char)((r->xbits & ~XB_STATUS_MASK) | r->status);
    v16 = (uint16_t)(r->src_len | (r->window ? SRC_WINDOW : 0)
                     | (r->pattern ? SRC_PATTERN : 0));
    memcpy(p + 6, &v16, 2);
    v16 = (uint16_t)(r->tgt_own | (r->tgt_shared ? TGT_SHARED : 0));
    memcpy(p + 8, &v16, 2);
    p += REC_FIXED;
    if ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY) {
        v16 = (uint16_t)r->q_len;
        memcpy(p, &v16, 2);
        p += 2;
    }
    if (r->xbits & XB_HOST)
        *p++ = (char)(unsigned char)r->h_len;
    if (r->tgt_shared)
        *p++ = (char)(unsigned char)r->tgt_shared;
    if (r->window) {
        memcpy(p, &r->from, 4);
        memcpy(p + 4, &r->until, 4);
        p += 8;
    }
    memcpy(p, r->src, r->src_len);
    p += r->src_len;
    memcpy(p, r->query, r->q_len);
    p += r->q_len;
    memcpy(p, r->tgt_stored, r->tgt_own);
    p += r->tgt_own;
    memcpy(p, r->host, r->h_len);
}

/* Single fields, for the paths that need no full decode. */
static inline unsigned rec_bits(const char *arena, uint32_t off)
{
    return (unsigned char)arena[off + 4];
}

static inline unsigned rec_xbits(const char *arena, uint32_t off)
{
    return (unsigned char)arena[off + 5];
}

static inline unsigned rec_status(const char *arena, uint32_t off)
{
    return rec_xbits(arena, off) & XB_STATUS_MASK;
}

static inline uint32_t rec_line(const char *arena, uint32_t off)
{
    return rd32(arena + off);
}

/* Does the record answer only within a window? */
static inline int rec_has_window(const char *arena, uint32_t off)
{
    return (rd16(arena + off + 6) & SRC_WINDOW) != 0;
}

/* Is the record a pattern rule? */
static inline int rec_is_pattern(const char *arena, uint32_t off)
{
    return (rd16(arena + off + 6) & SRC_PATTERN) != 0;
}

/* Sets `bits` in a record's flags: freezing marks shadowed duplicates. */
static inline void rec_add_bits(char *arena, uint32_t off, unsigned bits)
{
    arena[off + 4] = (char)(unsigned char)(rec_bits(arena, off) | bits);
}

/* ---- hashing --------------------------------------------------------
 * A key is hashed as a stream of little-endian 8-byte words from its
 * start; its state is the running hash of its full words mixed with the
 * word of its remaining 0-7 bytes.  The state of any prefix of a request
 * path is therefore the running hash at that point plus a masked word, so
 * one pass over the path yields its exact key and every segment prefix
 * key (the '/' bytes are found eight at a time).  fmix64 then finalises
 * a state with the key's tag and length. */

#define HASH_SEED  0x243f6a8885a308d3ULL
#define HASH_K1    0x9e3779b97f4a7c15ULL
#define HASH_K2    0xc2b2ae3d27d4eb4fULL
#define ONES       0x0101010101010101ULL
#define HIGHS      0x8080808080808080ULL
#define LOW7S      0x7f7f7f7f7f7f7f7fULL

#define TAG_EXACT  1u
#define TAG_PREFIX 2u
#define TAG_QUERY  3u
#define TAG_NOCASE 4u
#define TAG_PATTERN 8u      /* with TAG_EXACT or TAG_PREFIX */

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ASCII A-Z to a-z in all eight bytes of a word at once. */
static inline uint64_t fold8(uint64_t w)
{
    uint64_t low7 = w & LOW7S;
    uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;    /* bit 7: >= 'A' */
    uint64_t gt_z = low7 + 0x2525252525252525ULL;    /* bit 7: >  'Z' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & HIGHS;
    return w ^ (upper >> 2);
}

/* Bit 7 set in each byte of w equal to c, exactly. */
static inline uint64_t bytes_equal(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (ONES * c);
    return ~(((x & LOW7S) + LOW7S) | x | LOW7S);
}

static inline uint64_t load64le(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The r (0-7) bytes before end as a little-endian word; `back` is how
 * many bytes before end may be read: with eight, one load and a shift. */
static inline uint64_t load_tail(const unsigned char *end, size_t r, size_t back)
{
    uint64_t w = 0;
    size_t k;
    if (r == 0)
        return 0;
    if (back >= 8)
        return load64le(end - 8) >> (8 * (8 - r));
    for (k = 0; k < r; k++)
        w |= (uint64_t)end[(ptrdiff_t)k - (ptrdiff_t)r] << (8 * k);
    return w;
}

/* The first n (0-7) bytes of w. */
static inline uint64_t low_bytes(uint64_t w, unsigned n)
{
    return n ? w & (~0ULL >> (64 - 8 * n)) : 0;
}

static inline uint64_t hash_word(uint64_t h, uint64_t w)
{
    h = (h ^ w) * HASH_K1;
    return h ^ (h >> 31);
}

/* The state after the key s[0..n) hashed from `seed` (HASH_SEED for a
 * hostless rule, its group's seed for a host rule). */
static inline uint64_t hash_key_state(uint64_t seed, const char *s, size_t n,
                                      int folded)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = seed, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        w = load64le(p + i);
        h = hash_word(h, folded ? fold8(w) : w);
    }
    w = load_tail(p + n, n - i, n);
    return hash_word(h, folded ? fold8(w) : w);
}

static inline uint64_t key_final(uint64_t state, unsigned tag, size_t len,
                          uint64_t query_sum)
{
    return fmix64(state ^ ((uint64_t)tag << 58) ^ ((uint64_t)len << 32)
                  ^ (query_sum * 0x9e3779b97f4a7c15ULL));
}

/* ---- host groups -----------------------------------------------------
 * Rules are grouped by the host (and scheme) they name; hostless rules are
 * one more group.  A group's seed starts the hash of every key in it, so
 * one table holds all groups and a request's path is hashed once per
 * group it consults. */

typedef struct {
    unsigned xbits;         /* XB_GROUP_MASK bits; 0: hostless */
    const char *host;       /* lower-case, wildcard rules: the suffix */
    size_t hlen;
    uint64_t seed;
} rr_group;

static inline uint64_t group_seed(unsigned xbits, const char *host,
                                  size_t hlen)
{
    if (!(xbits & XB_HOST))
        return HASH_SEED;
    return fmix64(hash_key_state(HASH_SEED, host, hlen, 0)
                  ^ ((uint64_t)(xbits & XB_GROUP_MASK) << 48)
                  ^ ((uint64_t)hlen << 32));
}

static inline void group_init(rr_group *g, unsigned xbits, const char *host,
                              size_t hlen)
{
    g->xbits = xbits & XB_GROUP_MASK;
    g->host = host;
    g->hlen = hlen;
    g->seed = group_seed(g->xbits, host, hlen);
}

/* Is the record's group g? */
static inline int rec_in_group(const rr_rec *r, const rr_group *g)
{
    return (r->xbits & XB_GROUP_MASK) == g->xbits && r->h_len == g->hlen
           && (g->hlen == 0 || memcmp(r->host, g->host, g->hlen) == 0);
}

/* ---- percent-decoding of query parameters ---------------------------
 * Query parameters compare after %XX decoding on both sides; a '%' not
 * followed by two hex digits stands for itself. */

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decoded byte at s[*i] (s has n bytes); advances *i past it. */
static inline unsigned char next_decoded(const char *s, size_t n, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    if (c == '%' && *i + 2 < n) {
        int hi = hexval((unsigned char)s[*i + 1]);
        int lo = hexval((unsigned char)s[*i + 2]);
        if (hi >= 0 && lo >= 0) {
            *i += 3;
            return (unsigned char)(hi * 16 + lo);
        }
    }
    (*i)++;
    return c;
}

/* ---- query parameters (redirect_rules.c) ---------------------------- */

typedef struct {
    const char *p[RR_MAX_QUERY_PARAMS];
    uint32_t n[RR_MAX_QUERY_PARAMS];
    int count;
    int ignored;            /* parameters left out as ignored */
    uint64_t sum;           /* order-insensitive: sum of parameter hashes */
} rr_params;

/* Splits a query on '&', skipping empty parameters.  Returns 0 if there
 * are more than RR_MAX_QUERY_PARAMS (such a query matches no rule). */
int rr_params_split(const char *q, size_t len, rr_params *ps);

/* Multiset equality; at most RR_MAX_QUERY_PARAMS squared comparisons. */
int rr_params_equal(const rr_params *a, const rr_params *b);

/* ---- ignored parameters (engine/rr_ignore.c, matched in
 * redirect_rules.c) ---------------------------------------------------- */

typedef struct {
    char name[RR_MAX_IGNORE_NAME];
    uint32_t len;
    int prefix;             /* written NAME*: every name starting so */
} rr_ignore_name;

struct rr_ignore {
    int n;
    rr_ignore_name names[RR_MAX_IGNORE];
    unsigned char first[32];    /* bitmap of the names' first bytes: most
                                   parameters are told apart by it */
};

/* Is the parameter p[0..n) ("name" or "name=value") one `ig` ignores?
 * NULL ignores none. */
int rr_ignore_has(const rr_ignore *ig, const char *p, size_t n);

/* The parameters of a query rule's record; none for other kinds. */
void rr_rec_params(const rr_rec *r, rr_params *q);

/* ---- the frozen table ----------------------------------------------- */

typedef struct {
    uint32_t first_off;     /* records from this offset on came from file */
    uint32_t file;
} rr_range;

/* A source whose key no longer reads as written (case folded, trailing
 * slashes trimmed): its spelling, kept for display only. */
typedef struct {
    uint32_t rec;           /* record index (builder), offset (table) */
    const char *text;
} rr_spelling;

struct rr_table {
    rr_options opt;
    const char *arena;
    size_t arena_len;
    const uint32_t *offs;   /* per record, including shadowed ones */
    uint32_t nrec;
    uint32_t nrules;        /* live (not shadowed) */
    const uint64_t *slots;
    uint32_t cap;
    const rr_range *ranges;
    uint32_t nranges;
    const char **files;
    uint32_t nfiles;
    uint32_t max_prefix_depth;  /* segments in the deepest prefix key */
    unsigned has_kind[3];
    int has_case, has_nocase;
    int has_qsnone;
    int has_windows;
    const uint64_t *groups;     /* seeds of the host groups, sorted */
    uint32_t ngroups;
    const rr_spelling *spellings;   /* by record offset, ascending */
    uint32_t nspellings;
    const struct rr_shape *shapes;  /* of its pattern rules, distinct,
                                       most literal first */
    const struct rr_shape *const *shape_list;  /* &shapes[i] each: what a
                                       set of this table alone adopts */
    uint32_t nshapes;
    rr_stats stats;
    uint64_t image_sum;     /* mapped from an image: its checksum, else 0 */
};

static inline uint32_t slot_home(uint32_t h32, uint32_t cap)
{
    return (uint32_t)(((uint64_t)h32 * cap) >> 32);
}

/* ---- the builder (engine/rr_parse.c) -------------------------------- */

/* Build arrays are malloc'd, sized from the input up front so they do not
 * grow by copying, and freed with the scratch pool; freezing copies the
 * arena and offsets once, at their exact size, into the table's pool. */
struct rr_builder {
    apr_pool_t *scratch;
    apr_pool_t *linepool;   /* one line's key and target, cleared per line */
    rr_options opt;
    apr_pool_t *owner;      /* the pool the builder was created in */
    char *arena;
    size_t arena_len, arena_cap;
    int arena_pooled;       /* arena is in `owner`, not malloc'd */
    uint32_t *offs;
    uint32_t nrec, offs_cap;
    uint64_t *hashes;       /* key hash per record, for freezing */
    size_t hashes_cap;
    rr_range *ranges;
    uint32_t nranges;
    size_t ranges_cap;
    apr_array_header_t *files;
    apr_array_header_t *spellings;  /* rr_spelling, by record index */
    uint32_t max_prefix_depth;
    int errors;
    int spent;
};


/* Makes room for `more` arena bytes (and the pad byte at offset 0). */
int rr_builder_arena_reserve(rr_builder *b, size_t more);

/* ---- sets ----------------------------------------------------------- */

struct rr_set {
    const rr_table **tables;
    int ntables, max, own;
    apr_hash_t *collapsed;      /* (table, offset) -> rr_collapsed */
    apr_pool_t *pool;
    const rr_ignore *ignore;
    /* what every lookup needs to know of the tables, kept by rr_set_add */
    int folded;                 /* some table has nocase rules */
    long maxdepth;              /* deepest prefix rule, -1: none */
    int has_hosts;              /* some table has host rules */
    int needs_params;           /* query or qsnone rules: split args */
    apr_time_t clock;           /* rr_set_clock(), 0: the current time */
    int check_threads;          /* rr_set_check_threads(), 0: every core */
    /* the shapes of every table's pattern rules, most literal first
     * (engine/rr_pattern.c); none: lookups never split the path */
    const struct rr_shape *const *shapes;
    int nshapes;
};

typedef struct {
    int table;
    uint32_t off;
} rr_rule_key;

/* What a probe looks for: a key of one kind in one host group. */
typedef struct {
    const rr_group *group;
    unsigned kind;
    int nocase;
    const char *key;
    size_t klen;
    const rr_params *q;     /* a query rule's parameters */
    int pattern;            /* key is a pattern's stored form: matches the
                               pattern records of the same shape and
                               literals, whatever their names */
} rr_key;

/* What a rule answers under Redirect307Chains Collapse: its chain's last
 * target, and the statuses of every hop on the way (a bit per status
 * index, 0 for "the default"), which decide the status (SPEC: Collapsed
 * status). */
typedef struct {
    const char *target;
    unsigned statuses;
} rr_collapsed;

/* The collapsed answer of a matched rule, or NULL (redirect_rules.c). */
const rr_collapsed *rr_set_collapsed(const rr_set *s, const rr_match *m);

/* Tables [0, rr_set_own_count) are the set's own, the rest inherited. */
int rr_set_own_count(const rr_set *s);

/* Position of t in the set (rr_set_table_count if absent). */
int rr_set_table_index(const rr_set *s, const rr_table *t);

/* ---- small helpers on keys and targets -------------------------------- */

static inline const char *find_bytes(const char *s, size_t n, const char *pat)
{
    size_t m = strlen(pat), i;
    for (i = 0; i + m <= n; i++) {
        if (memcmp(s + i, pat, m) == 0)
            return s + i;
    }
    return NULL;
}

/* Index of the first '?' or '#' in a target, or its length. */
static inline size_t target_main_len(const char *t, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (t[i] == '?' || t[i] == '#')
            break;
    }
    return i;
}

/* A prefix key is "/a/b" for the sources /a/b/(star) and /a/b//(star), and "" for /(star): it
 * matches on segment boundaries, so trailing slashes say nothing. */
static inline size_t trim_prefix_key(const char *s, size_t n)
{
    n -= 2;                             /* the slash-star */
    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

/* Under TrailingSlash Ignore, /a, /a/ and /a// are one path ("/" stays). */
static inline size_t trim_slashes(const rr_options *opt, const char *s, size_t n)
{
    while (!opt->trailing_strict && n > 1 && s[n - 1] == '/')
        n--;
    return n;
}

static inline size_t path_depth(const char *s, size_t n)
{
    size_t i, d = 0;
    for (i = 0; i < n; i++)
        d += s[i] == '/';
    return d;
}

static inline uint64_t key_hash(uint64_t seed, unsigned kind, int nocase,
                                const char *key, size_t klen, uint64_t qsum)
{
    unsigned tag = (kind == RR_KIND_EXACT ? TAG_EXACT
                    : kind == RR_KIND_PREFIX ? TAG_PREFIX : TAG_QUERY)
                   | (nocase ? TAG_NOCASE : 0);
    return key_final(hash_key_state(seed, key, klen, nocase), tag, klen,
                     qsum);
}

/* Does a source that starts "//" name a host there ("//HOST/path")?  Yes
 * unless a third slash or a lone star follows ("///a", or the root prefix
 * rule written with a second slash): those are paths, as before host
 * rules.  A bad host is then an error, not a path. */
static inline int source_names_host(const char *s, size_t n)
{
    return n > 2 && s[0] == '/' && s[1] == '/' && s[2] != '/'
           && !(s[2] == '*' && (n == 3 || s[3] == '/'));
}

/* ---- escaping (redirect_rules.c) ------------------------------------ */

#define ESC_URL  1      /* bytes a Location may not hold raw */
#define ESC_PATH 2      /* and % ? #, which are data in a carried path */
#define ESC_LONE_PCT 4  /* a '%' not starting a %XX */
#define ESC_QUERY (ESC_URL | ESC_LONE_PCT)  /* a query or a target as
                                               written: keeps its %XX */

extern const char rr_hexdigits[];

/* Escapes the bytes of class `cls` (ESC_*) into out (NULL: only count);
 * returns the escaped length. */
size_t rr_escape_into(char *out, const char *s, size_t n, unsigned cls);

/* ---- what one engine file provides another -------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0
 * (engine/rr_parse.c). */
size_t rr_utf8_seq(const unsigned char *s, size_t n);

/* Compares a target's path (decoded, up to '?' or '#', without the '*'
 * of a carrying prefix rule) with s[0..n), folding case if asked
 * (redirect_rules.c). */
int rr_target_path_equals(const char *target, size_t tlen, int star,
                          const char *s, size_t n, int folded);

/* Would the rule send its own target back to itself in another spelling
 * (case, trailing slash)?  See RB_SELF (engine/rr_parse.c). */
int rr_target_is_own_source(const rr_options *opt, const char *target,
                            size_t tlen, unsigned bits, const char *key,
                            size_t klen);

/* The key of a record, with its group and parameters in g and q
 * (redirect_rules.c). */
void rr_rec_key(const rr_rec *r, rr_group *g, rr_params *q, rr_key *k);

/* Does the record at `off` hold the key?  (redirect_rules.c) */
int rr_rec_matches(const char *arena, uint32_t off, const rr_key *k);

/* The record offset for the key whose hash is `hash`, or 0
 * (redirect_rules.c). */
uint32_t rr_table_probe(const rr_table *t, uint64_t hash, const rr_key *k);

/* What one lookup knows about the request besides its path. */
typedef struct {
    const rr_params *q;     /* its parameters, ignored ones left out; NULL
                               when it has none (or the set needs none) */
    int has_params;         /* it has parameters besides ignored ones */
    const char *args;
    apr_time_t clock;       /* the set's clock: 0 for the current time */
} rr_request;

/* Does the rule refuse a request it matched (qsnone with parameters, or
 * outside its window)?  (redirect_rules.c) */
int rr_rule_refuses(const rr_table *t, uint32_t off, const rr_request *rq);

/* Does the table hold rules of the host group with this seed?
 * (redirect_rules.c) */
int rr_table_has_group(const rr_table *t, uint64_t seed);

/* The rule group g answers for the path with, literal rules then pattern
 * rules, as a lookup consults that group (redirect_rules.c). */
int rr_set_lookup_in_group(const rr_set *s, const rr_group *g,
                           const char *path, size_t len, rr_match *m);

/* Does the set hold rules naming this host (a Host header value) for
 * this scheme (or any)?  (redirect_rules.c) */
int rr_set_has_host(const rr_set *s, const char *scheme, const char *host);

/* The longest prefix rule of group g that the path falls under, as a
 * lookup would find it were there no exact rule (redirect_rules.c). */
int rr_set_prefix_rule_for(const rr_set *s, const rr_group *g,
                           const char *path, size_t len, rr_match *m);

/* Warms the slots a lookup of path would probe first (redirect_rules.c). */
void rr_table_prefetch(const rr_table *t, const char *path, size_t len);

/* The file a record came from (engine/rr_freeze.c). */
const char *rr_table_file_of(const rr_table *t, uint32_t off);

/* Counts a live record into the table's stats and has_* flags
 * (engine/rr_freeze.c; rr_image.c counts a mapped table again). */
void rr_stats_count(rr_table *t, const rr_rec *r);

/* Index of the record at `off`; O(log records) (engine/rr_freeze.c). */
uint32_t rr_table_record_index(const rr_table *t, uint32_t off);

/* Describes the record at `off` (engine/rr_freeze.c). */
void rr_rec_info(const rr_table *t, uint32_t off, apr_pool_t *pool,
                 rr_rule_info *info);

/* ---- pattern rules (engine/rr_pattern.c) ----------------------------
 * A pattern source is stored decoded and normalised like a literal one,
 * each placeholder written PH_MARK name PH_MARK: a decoded source never
 * holds a control byte, so the marks cannot be confused with its text.
 * Its shape is the segment count, whether it is a prefix, and per
 * segment: literal, placeholder, or mixed (literal head and tail of
 * given lengths around one placeholder).  Its key is its literal bytes
 * (a '/' per segment, placeholders skipped) hashed from a seed made of
 * its group and shape, so a request hashes its own segments the same way
 * once per shape and probes the ordinary slot table. */

#define PH_MARK '\001'
#define RR_MAX_PLACEHOLDERS 8
#define RR_MAX_PATTERN_SEGMENTS 32
#define RR_MAX_PLACEHOLDER_NAME 64

#define SEG_LITERAL 0
#define SEG_PLACEHOLDER 1
#define SEG_MIXED 2

typedef struct rr_shape {
    uint64_t seed;          /* hash of the descriptor below */
    uint32_t nseg;
    int prefix;             /* carries the rest, as slash-star does */
    int score;              /* 2 per literal segment, 1 per mixed one */
    int has_case, has_nocase;
    unsigned char type[RR_MAX_PATTERN_SEGMENTS];   /* SEG_* */
    uint16_t head[RR_MAX_PATTERN_SEGMENTS], tail[RR_MAX_PATTERN_SEGMENTS];
} rr_shape;

/* One placeholder's name in the source and its value in a request. */
typedef struct {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
} rr_capture;

/* Does a written source path hold a placeholder (':' then a name byte)? */
int rr_pattern_written(const char *s, size_t n);

/* The stored form of a written pattern path s[0..n) in *out (pool p),
 * percent-decoded; NULL, or the reason it is malformed. */
const char *rr_pattern_encode(apr_pool_t *p, const char *s, size_t n,
                              char **out, size_t *outlen);

/* Folds the literal bytes of a stored form (names keep their case). */
void rr_pattern_fold(char *s, size_t n);

/* The shape of a stored form and its literal skeleton (skel holds at
 * least n bytes); NULL, or the reason it cannot be a pattern. */
const char *rr_pattern_shape(const char *s, size_t n, int prefix,
                             rr_shape *sh, char *skel, size_t *skel_len);

/* NULL if every :name of the target is a placeholder of the stored
 * source s[0..n) and none is in the target's host, else the reason. */
const char *rr_pattern_check_target(apr_pool_t *p, const char *s, size_t n,
                                    const char *target, size_t tlen);

/* Does the target use any placeholder? */
int rr_pattern_target_uses(const char *target, size_t tlen);

/* The key hash of a pattern record (its group and shape in the seed). */
uint64_t rr_pattern_rec_hash(const rr_rec *r);

/* Do two stored forms have the same shape and literals? */
int rr_pattern_same(const char *a, size_t an, const char *b, size_t bn);

/* The captures of a pattern record for a request path (its first
 * segments); returns their count, or -1 if the path does not match. */
int rr_pattern_captures(const rr_rec *r, const char *path, size_t len,
                        rr_capture *caps);

/* The target with each :name replaced by its capture, percent-escaped so
 * that it can end no path segment, start no query or fragment and change
 * no host (a capture in the query also escapes & = +); in pool p. */
const char *rr_pattern_expand(apr_pool_t *p, const char *target,
                              size_t tlen, const rr_capture *caps, int ncaps,
                              size_t *outlen);

/* The source as rules files write it (":name"), in pool p; `dump` escapes
 * what would read back otherwise. */
const char *rr_pattern_written_form(apr_pool_t *p, const char *s, size_t n,
                                    int dump);

/* Builds the table's shape list from its live pattern records. */
int rr_table_collect_shapes(rr_table *t, apr_pool_t *pool);

/* Merges a table's shapes into the set's list, most literal first. */
void rr_set_add_shapes(rr_set *s, const rr_table *t);

/* The pattern rule of group g for the path: the shape with the most
 * literal segments that has a rule, then the earliest rule (table order,
 * then file order).  O(P * len) for P shapes that fit the path. */
int rr_set_lookup_pattern(const rr_set *s, const rr_group *g,
                          const char *path, size_t len,
                          const rr_request *rq, rr_match *m);

/* A path every request of the pattern's shape matches alike: each
 * placeholder replaced by a value no literal rule names (pool p). */
const char *rr_pattern_sample(apr_pool_t *p, const rr_rec *r, size_t *len);

/* Does pattern record a answer every path pattern record b matches? */
int rr_pattern_covers(const rr_rec *a, const rr_rec *b);

/* ---- diagnostics (engine/rr_diag.c) --------------------------------- */

/* Appends a diagnostic of `kind` involving `places` (copied), its message
 * formatted from fmt; past the diag's caps it is only counted. */
void rr_diag_push(rr_diag *d, rr_diag_kind kind,
                  const rr_diag_place *places, int nplaces,
                  const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void rr_diag_pushv(rr_diag *d, rr_diag_kind kind,
                   const rr_diag_place *places, int nplaces,
                   const char *fmt, va_list ap);

#endif /* RR_INTERNAL_H */
