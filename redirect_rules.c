/*
 * redirect_rules.c - the mod_redirect307 rules engine: parse rules files,
 * freeze them into a compact read-only hash table, look requests up and
 * build Location values.  Plain C on APR; see redirect_rules.h for the API.
 *
 * Table layout (one table per rules file or per server's inline rules):
 *
 *   arena   one contiguous block of variable-length records
 *             u32 line | u8 bits | u8 status | u16 src_len | u16 tgt_len |
 *             [u16 query_len, query rules only] | source | query | target
 *           offsets are 32-bit; offset 0 is a pad byte and means "empty".
 *   offs    u32 per rule: its record's offset (rule index -> record).
 *   slots   u64 per slot: high 32 bits of the key hash, low 32 bits the
 *           record offset.  Entries are placed in hash order, each at
 *           max(home, previous + 1) with home = (h32 * cap) >> 32 over
 *           cap = n / 0.875 (not a power of two): the Robin Hood layout,
 *           built without displacements.  The stored hash filters
 *           candidates, so a miss rarely touches the arena, and a probe
 *           stops at the first larger hash.
 *
 * Keys are normalised once, when a rule is added: percent-decoded,
 * case-folded for nocase rules, trailing slashes dropped under
 * TrailingSlash Ignore and from prefix rules (whose slash-star goes too).
 * A key hashes as a chain of its path segments (see "hashing"), so one
 * pass over a request path yields its exact key and every prefix key;
 * each key is finalised with a tag for its kind, so exact, prefix and
 * query keys share one table without meeting.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_fnmatch.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_mmap.h"

#include "redirect_rules.h"
#include "engine/rr_internal.h"

/* ---- record encoding ------------------------------------------------ */

#define RB_KIND_MASK  0x03u
#define RB_NOCASE     0x04u
#define RB_QSDROP     0x08u
#define RB_QSAPPEND   0x10u
#define RB_STAR       0x20u   /* prefix target carries the rest at its '*' */
#define RB_SHADOWED   0x40u   /* duplicate source: kept for line numbers only */
#define RB_SELF       0x80u   /* target is the source in another spelling
                                 (case, trailing slash): the target itself
                                 is not redirected */

#define REC_FIXED     10u     /* bytes before the optional query length */

static const int rr_status_codes[] = { 0, 301, 302, 303, 307, 308, 410 };
#define RR_STATUS_410 6

typedef struct {
    uint32_t line;
    unsigned bits;
    unsigned status;        /* index into rr_status_codes */
    uint32_t src_len, tgt_len, q_len;
    const char *src, *query, *target;
} rr_rec;

static uint16_t rd16(const char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void rec_decode(const char *arena, uint32_t off, rr_rec *r)
{
    const char *p = arena + off;
    r->line = rd32(p);
    r->bits = (unsigned char)p[4];
    r->status = (unsigned char)p[5];
    r->src_len = rd16(p + 6);
    r->tgt_len = rd16(p + 8);
    p += REC_FIXED;
    r->q_len = 0;
    if ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY) {
        r->q_len = rd16(p);
        p += 2;
    }
    r->src = p;
    r->query = p + r->src_len;
    r->target = r->query + r->q_len;
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

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ASCII A-Z to a-z in all eight bytes of a word at once. */
static uint64_t fold8(uint64_t w)
{
    uint64_t low7 = w & LOW7S;
    uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;    /* bit 7: >= 'A' */
    uint64_t gt_z = low7 + 0x2525252525252525ULL;    /* bit 7: >  'Z' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & HIGHS;
    return w ^ (upper >> 2);
}

/* Bit 7 set in each byte of w equal to c, exactly. */
static uint64_t bytes_equal(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (ONES * c);
    return ~(((x & LOW7S) + LOW7S) | x | LOW7S);
}

static uint64_t load64le(const unsigned char *p)
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
static uint64_t load_tail(const unsigned char *end, size_t r, size_t back)
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
static uint64_t low_bytes(uint64_t w, unsigned n)
{
    return n ? w & (~0ULL >> (64 - 8 * n)) : 0;
}

static uint64_t hash_word(uint64_t h, uint64_t w)
{
    h = (h ^ w) * HASH_K1;
    return h ^ (h >> 31);
}

static uint64_t hash_key_state(const char *s, size_t n, int folded)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = HASH_SEED, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        w = load64le(p + i);
        h = hash_word(h, folded ? fold8(w) : w);
    }
    w = load_tail(p + n, n - i, n);
    return hash_word(h, folded ? fold8(w) : w);
}

static uint64_t key_final(uint64_t state, unsigned tag, size_t len,
                          uint64_t query_sum)
{
    return fmix64(state ^ ((uint64_t)tag << 58) ^ ((uint64_t)len << 32)
                  ^ (query_sum * 0x9e3779b97f4a7c15ULL));
}

/* ---- percent-decoding of query parameters ---------------------------
 * Query parameters compare after %XX decoding on both sides; a '%' not
 * followed by two hex digits stands for itself. */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decoded byte at s[*i] (s has n bytes); advances *i past it. */
static unsigned char next_decoded(const char *s, size_t n, size_t *i)
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

typedef struct {
    const char *p[RR_MAX_QUERY_PARAMS];
    uint32_t n[RR_MAX_QUERY_PARAMS];
    int count;
    uint64_t sum;           /* order-insensitive: sum of parameter hashes */
} rr_params;

/* Splits a query on '&', skipping empty parameters.  Returns 0 if there
 * are more than RR_MAX_QUERY_PARAMS (such a query matches no rule). */
static int params_split(const char *q, size_t len, rr_params *ps)
{
    size_t i = 0;
    ps->count = 0;
    ps->sum = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
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

static int params_count_of(const rr_params *ps, const char *p, size_t n)
{
    int k, c = 0;
    for (k = 0; k < ps->count; k++)
        c += param_eq(ps->p[k], ps->n[k], p, n);
    return c;
}

/* Multiset equality; at most RR_MAX_QUERY_PARAMS squared comparisons. */
static int params_equal(const rr_params *a, const rr_params *b)
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

/* ---- the frozen table ----------------------------------------------- */

typedef struct {
    uint32_t first_off;     /* records from this offset on came from file */
    uint32_t file;
} rr_range;

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
    rr_stats stats;
};

static uint32_t slot_home(uint32_t h32, uint32_t cap)
{
    return (uint32_t)(((uint64_t)h32 * cap) >> 32);
}

/* ---- the builder ---------------------------------------------------- */

/* Build arrays are malloc'd, sized from the input up front so they do not
 * grow by copying, and freed with the scratch pool; freezing copies the
 * arena and offsets once, at their exact size, into the table's pool. */
struct rr_builder {
    apr_pool_t *scratch;
    rr_options opt;
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *offs;
    uint32_t nrec, offs_cap;
    uint64_t *hashes;       /* key hash per record, for freezing */
    size_t hashes_cap;
    rr_range *ranges;
    uint32_t nranges;
    size_t ranges_cap;
    apr_array_header_t *files;
    uint32_t max_prefix_depth;
    int errors;
    int spent;
};

static apr_status_t builder_cleanup(void *data)
{
    rr_builder *b = data;
    free(b->arena);
    free(b->offs);
    free(b->hashes);
    free(b->ranges);
    b->arena = NULL;
    b->offs = NULL;
    b->hashes = NULL;
    b->ranges = NULL;
    return APR_SUCCESS;
}

rr_builder *rr_builder_create(apr_pool_t *pool, const rr_options *opt)
{
    apr_pool_t *scratch;
    rr_builder *b;
    apr_pool_create(&scratch, pool);
    b = apr_pcalloc(scratch, sizeof(*b));
    b->scratch = scratch;
    if (opt)
        b->opt = *opt;
    b->files = apr_array_make(scratch, 2, sizeof(const char *));
    apr_pool_cleanup_register(scratch, b, builder_cleanup,
                              apr_pool_cleanup_null);
    return b;
}

uint32_t rr_builder_count(const rr_builder *b)
{
    return b->nrec;
}


/* Grows a malloc'd array to hold `need` elements: exactly `need` when
 * sizing from the input, else by doubling. */
static int grow_to(void **p, size_t elt, size_t *cap, size_t need, int exact)
{
    size_t ncap = exact ? need : (*cap ? *cap : 64);
    void *np;
    if (need <= *cap)
        return 1;
    while (ncap < need)
        ncap *= 2;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    if (ncap < need || !(np = realloc(*p, ncap * elt)))
        return 0;
    *p = np;
    *cap = ncap;
    return 1;
}

static int arena_reserve_ex(rr_builder *b, size_t more, int exact)
{
    size_t cap = b->arena_cap;
    void *p = b->arena;
    if (!grow_to(&p, 1, &cap, b->arena_len + more + 1, exact))
        return 0;
    b->arena = p;
    b->arena_cap = cap;
    if (b->arena_len == 0)
        b->arena[b->arena_len++] = 0;   /* offset 0 means "empty slot" */
    return 1;
}

static int arena_reserve(rr_builder *b, size_t more)
{
    return arena_reserve_ex(b, more, 0);
}

static int offs_reserve(rr_builder *b, size_t need, int exact)
{
    size_t cap = b->offs_cap;
    void *p = b->offs;
    if (!grow_to(&p, sizeof(uint32_t), &cap, need, exact))
        return 0;
    b->offs = p;
    b->offs_cap = (uint32_t)cap;
    return 1;
}

static uint32_t builder_file_index(rr_builder *b, const char *file)
{
    const char **names = (const char **)b->files->elts;
    int n = b->files->nelts;
    if (n > 0 && strcmp(names[n - 1], file) == 0)
        return (uint32_t)(n - 1);
    APR_ARRAY_PUSH(b->files, const char *) = apr_pstrdup(b->scratch, file);
    return (uint32_t)b->files->nelts - 1;
}

/* ---- parsing one line ----------------------------------------------- */

typedef struct {
    const char *file;
    unsigned line;
    rr_diag *d;
} rr_where;

static apr_status_t parse_error(const rr_where *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Pushes "FILE:LINE: reason" and returns APR_EINVAL. */
static apr_status_t parse_error(const rr_where *w, const char *fmt, ...)
{
    va_list ap;
    const char *reason;
    rr_diag_place place;
    if (!w->d)
        return APR_EINVAL;
    va_start(ap, fmt);
    reason = apr_pvsprintf(w->d->pool, fmt, ap);
    va_end(ap);
    place.file = w->file;
    place.line = w->line;
    rr_diag_push(w->d, RR_DIAG_ERROR, &place, 1, "%s:%u: %s", w->file,
                 w->line, reason);
    return APR_EINVAL;
}

#define PARSE_ERROR parse_error

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len, k;
    uint32_t cp;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { len = 2; cp = s[0] & 0x1f; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { len = 3; cp = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Rejects what may not appear in a rules line at all. */
static apr_status_t check_line_bytes(const rr_where *w, const char *s,
                                     size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    if (n > RR_MAX_LINE)
        return PARSE_ERROR(w, "line longer than %d bytes", RR_MAX_LINE);
    while (i < n) {
        size_t k;
        if (p[i] == 0)
            return PARSE_ERROR(w, "NUL byte in line");
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return PARSE_ERROR(w, "control character 0x%02x in line", p[i]);
        k = utf8_seq(p + i, n - i);
        if (k == 0)
            return PARSE_ERROR(w, "invalid UTF-8 at byte %lu",
                               (unsigned long)i + 1);
        i += k;
    }
    return APR_SUCCESS;
}

typedef struct {
    const char *s;
    size_t n;
} rr_tok;

/* Splits on blanks, stopping at a comment.  Returns the token count, or
 * -1 if there are more than `max`. */
static int tokenize(const char *s, size_t n, rr_tok *tok, int max)
{
    size_t i = 0;
    int count = 0;
    while (i < n) {
        size_t j;
        while (i < n && is_blank(s[i]))
            i++;
        if (i >= n || s[i] == '#')
            break;      /* '#' at a token start is after a blank or first */
        j = i;
        while (j < n && !is_blank(s[j]))
            j++;
        if (count == max)
            return -1;
        tok[count].s = s + i;
        tok[count].n = j - i;
        count++;
        i = j;
    }
    return count;
}

static int tok_is(const rr_tok *t, const char *word)
{
    return t->n == strlen(word) && memcmp(t->s, word, t->n) == 0;
}

static int tok_all_digits(const rr_tok *t)
{
    size_t i;
    for (i = 0; i < t->n; i++) {
        if (t->s[i] < '0' || t->s[i] > '9')
            return 0;
    }
    return t->n > 0;
}

static int status_index(const rr_tok *t)
{
    size_t k;
    char buf[4];
    if (t->n != 3)
        return -1;
    for (k = 1; k < sizeof(rr_status_codes) / sizeof(rr_status_codes[0]);
         k++) {
        apr_snprintf(buf, sizeof(buf), "%d", rr_status_codes[k]);
        if (memcmp(buf, t->s, 3) == 0)
            return (int)k;
    }
    return -1;
}

static apr_status_t parse_flags(const rr_where *w, const rr_tok *t,
                                unsigned *bits)
{
    size_t i = 0;
    while (i <= t->n) {
        size_t j = i;
        rr_tok f;
        while (j < t->n && t->s[j] != ',')
            j++;
        f.s = t->s + i;
        f.n = j - i;
        if (tok_is(&f, "nocase"))
            *bits |= RB_NOCASE;
        else if (tok_is(&f, "qsdrop"))
            *bits |= RB_QSDROP;
        else if (tok_is(&f, "qsappend"))
            *bits |= RB_QSAPPEND;
        else
            return PARSE_ERROR(w, "unknown flag '%.*s' (known: nocase, "
                               "qsdrop, qsappend)", (int)f.n, f.s);
        i = j + 1;
    }
    if ((*bits & RB_QSDROP) && (*bits & RB_QSAPPEND))
        return PARSE_ERROR(w, "flags qsdrop and qsappend exclude each other");
    return APR_SUCCESS;
}

/* Percent-decodes a source path into out (at least n bytes). */
static apr_status_t decode_source(const rr_where *w, const char *s, size_t n,
                                  char *out, size_t *outlen)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return PARSE_ERROR(w, "bad percent-encoding in source at "
                                   "'%.*s'", (int)(n - i > 3 ? 3 : n - i),
                                   s + i);
            c = (unsigned char)(hi * 16 + lo);
            if (c < 0x20 || c == 0x7f)
                return PARSE_ERROR(w, "source decodes to control character "
                                   "0x%02x", c);
            i += 3;
        }
        else {
            i++;
        }
        out[o++] = (char)c;
    }
    *outlen = o;
    return APR_SUCCESS;
}

static int has_dot_segment(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && s[j] != '/')
            j++;
        if ((j - i == 2 && s[i + 1] == '.')
            || (j - i == 3 && s[i + 1] == '.' && s[i + 2] == '.'))
            return 1;
        i = j;
    }
    return 0;
}

static int valid_scheme_url(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return 0;
    while (i < n && (apr_isalnum(s[i]) || s[i] == '+' || s[i] == '-'
                     || s[i] == '.'))
        i++;
    if (n - i < 4 || memcmp(s + i, "://", 3) != 0)
        return 0;
    i += 3;
    return s[i] != '/' && s[i] != '?' && s[i] != '#';   /* host non-empty */
}

/* Bytes a Location may not hold raw: what rr_escape_path escapes except
 * '%', '?' and '#', which keep their URL meaning in a target or query. */
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

static const char hexdigits[] = "0123456789ABCDEF";

#define ESC_URL  1
#define ESC_PATH 2

/* Escapes the bytes of class `cls` (ESC_URL or ESC_PATH) into out (NULL:
 * only count); returns the escaped length. */
static size_t escape_into(char *out, const char *s, size_t n, unsigned cls)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (byte_class[c] & cls) {
            if (out) {
                out[o] = '%';
                out[o + 1] = hexdigits[c >> 4];
                out[o + 2] = hexdigits[c & 15];
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
    size_t n = escape_into(NULL, s, len, ESC_PATH);
    char *out = apr_palloc(pool, n + 1);
    escape_into(out, s, len, ESC_PATH);
    out[n] = '\0';
    return out;
}

static const char *find_bytes(const char *s, size_t n, const char *pat)
{
    size_t m = strlen(pat), i;
    for (i = 0; i + m <= n; i++) {
        if (memcmp(s + i, pat, m) == 0)
            return s + i;
    }
    return NULL;
}

/* Index of the first '?' or '#' in a target, or its length. */
static size_t target_main_len(const char *t, size_t n)
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
static size_t trim_prefix_key(const char *s, size_t n)
{
    n -= 2;                             /* the slash-star */
    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

/* Under TrailingSlash Ignore, /a, /a/ and /a// are one path ("/" stays). */
static size_t trim_slashes(const rr_options *opt, const char *s, size_t n)
{
    while (!opt->trailing_strict && n > 1 && s[n - 1] == '/')
        n--;
    return n;
}

static size_t path_depth(const char *s, size_t n)
{
    size_t i, d = 0;
    for (i = 0; i < n; i++)
        d += s[i] == '/';
    return d;
}

static uint64_t key_hash(unsigned kind, int nocase, const char *key,
                         size_t klen, uint64_t qsum)
{
    unsigned tag = (kind == RR_KIND_EXACT ? TAG_EXACT
                    : kind == RR_KIND_PREFIX ? TAG_PREFIX : TAG_QUERY)
                   | (nocase ? TAG_NOCASE : 0);
    return key_final(hash_key_state(key, klen, nocase), tag, klen,
                     qsum);
}

static apr_status_t add_record(rr_builder *b, const rr_where *w,
                               unsigned bits, unsigned status,
                               const char *key, size_t klen,
                               const char *query, size_t qlen,
                               const char *target, size_t tlen,
                               uint64_t hash)
{
    size_t need = REC_FIXED + 2 + klen + qlen + tlen;
    uint32_t off, line = w->line, file;
    uint16_t v16;
    char *p;
    unsigned char u8;

    if (!arena_reserve(b, need)
        || !offs_reserve(b, (size_t)b->nrec + 1, 0)
        || !grow_to((void **)&b->hashes, sizeof(uint64_t), &b->hashes_cap,
                    (size_t)b->nrec + 1, 0)) {
        return PARSE_ERROR(w, "out of memory (table over 4 GiB?)");
    }

    off = (uint32_t)b->arena_len;
    file = builder_file_index(b, w->file);
    if (b->nranges == 0 || b->ranges[b->nranges - 1].file != file) {
        if (!grow_to((void **)&b->ranges, sizeof(rr_range), &b->ranges_cap,
                     (size_t)b->nranges + 1, 0))
            return PARSE_ERROR(w, "out of memory");
        b->ranges[b->nranges].first_off = off;
        b->ranges[b->nranges].file = file;
        b->nranges++;
    }

    p = b->arena + off;
    memcpy(p, &line, 4);
    u8 = (unsigned char)bits;
    p[4] = (char)u8;
    p[5] = (char)status;
    v16 = (uint16_t)klen;
    memcpy(p + 6, &v16, 2);
    v16 = (uint16_t)tlen;
    memcpy(p + 8, &v16, 2);
    p += REC_FIXED;
    if ((bits & RB_KIND_MASK) == RR_KIND_QUERY) {
        v16 = (uint16_t)qlen;
        memcpy(p, &v16, 2);
        p += 2;
    }
    memcpy(p, key, klen);
    memcpy(p + klen, query, qlen);
    memcpy(p + klen + qlen, target, tlen);
    b->arena_len = (size_t)(p + klen + qlen + tlen - b->arena);

    b->offs[b->nrec] = off;
    b->hashes[b->nrec] = hash;
    b->nrec++;
    if ((bits & RB_KIND_MASK) == RR_KIND_PREFIX) {
        uint32_t depth = (uint32_t)path_depth(key, klen);
        if (depth > b->max_prefix_depth)
            b->max_prefix_depth = depth;
    }
    return APR_SUCCESS;
}

/* Parses the target token: validates it, escapes non-ASCII and unsafe
 * bytes once, and finds a prefix rule's '*'. */
static apr_status_t parse_target(const rr_where *w, apr_pool_t *p,
                                 const rr_tok *t, int is_prefix,
                                 unsigned *bits, const char **out,
                                 size_t *outlen)
{
    size_t n, mainlen;
    char *esc;
    if (!(t->n >= 1 && t->s[0] == '/' && (t->n == 1 || t->s[1] != '/'))
        && !valid_scheme_url(t->s, t->n))
        return PARSE_ERROR(w, "target '%.*s' is neither an absolute URL "
                           "(scheme://host/...) nor a path starting with "
                           "'/'", (int)t->n, t->s);
    if (t->s[0] != '/') {
        /* A '*' there would let the request path choose the host. */
        const char *host = find_bytes(t->s, t->n, "://") + 3;
        size_t k, hlen = target_main_len(host, t->n - (size_t)(host - t->s));
        for (k = 0; k < hlen && host[k] != '/'; k++) {
            if (host[k] == '*')
                return PARSE_ERROR(w, "target '%.*s' has a '*' in its host; "
                                   "the rest of a path can only be carried "
                                   "into the target's path", (int)t->n, t->s);
        }
    }
    n = escape_into(NULL, t->s, t->n, ESC_URL);
    if (n > 65535)
        return PARSE_ERROR(w, "target too long");
    esc = apr_palloc(p, n + 1);
    escape_into(esc, t->s, t->n, ESC_URL);
    esc[n] = '\0';
    mainlen = target_main_len(esc, n);
    if (is_prefix && mainlen > 0 && esc[mainlen - 1] == '*')
        *bits |= RB_STAR;
    *out = esc;
    *outlen = n;
    return APR_SUCCESS;
}

/* Normalises a decoded source path into its key (in place). */
static size_t normalise_key(const rr_builder *b, char *key, size_t klen,
                            unsigned kind, int nocase)
{
    size_t i;
    if (kind == RR_KIND_PREFIX)
        klen = trim_prefix_key(key, klen);
    else
        klen = trim_slashes(&b->opt, key, klen);
    if (nocase) {
        for (i = 0; i < klen; i++)
            key[i] = (char)fold((unsigned char)key[i]);
    }
    return klen;
}

/* Compares a target's path (decoded, up to '?' or '#', without the '*' of
 * a carrying prefix rule) with bytes s[0..n), folding case if asked.
 * Returns 1 if equal, and the target's path length in *tlen_out. */
static int target_path_equals(const char *target, size_t tlen, int star,
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

/* A rule like "/Legal /legal nocase" or "/a/ /a" (TrailingSlash Ignore)
 * would send its own target back to itself: remember it so that a request
 * already spelled as the target is left alone. */
static int target_is_own_source(const rr_options *opt, const char *target,
                                size_t tlen, unsigned bits, const char *key,
                                size_t klen)
{
    size_t mainlen = target_main_len(target, tlen), i = 0, o = 0;
    char buf[RR_MAX_LINE];
    int star = (bits & RB_STAR) != 0;
    if (target[0] != '/')
        return 0;
    if (star)
        mainlen--;
    while (i < mainlen && o < sizeof(buf))
        buf[o++] = (char)next_decoded(target, mainlen, &i);
    if ((bits & RB_KIND_MASK) == RR_KIND_PREFIX) {
        /* a prefix target base is the key plus a slash */
        if (o == 0 || buf[o - 1] != '/')
            return 0;
        o--;
    }
    else {
        o = trim_slashes(opt, buf, o);
    }
    if (o != klen)
        return 0;
    for (i = 0; i < o; i++) {
        unsigned char x = (unsigned char)buf[i];
        if ((bits & RB_NOCASE ? fold(x) : x) != (unsigned char)key[i])
            return 0;
    }
    return 1;
}

static apr_status_t parse_rule(rr_builder *b, const rr_where *w,
                               const char *s, size_t n)
{
    rr_tok tok[5];
    int ntok, st = -1, nocase, same_spelling;
    unsigned bits = 0, kind;
    const rr_tok *src, *tgt;
    const char *q, *target = "";
    size_t pathlen, qlen = 0, klen = 0, tlen = 0;
    char *key;
    uint64_t qsum = 0;
    apr_status_t rv;

    ntok = tokenize(s, n, tok, 4);
    if (ntok == 0)
        return APR_SUCCESS;
    if (ntok < 0)
        return PARSE_ERROR(w, "too many fields (SOURCE TARGET [STATUS] "
                           "[FLAGS])");
    if (ntok == 1)
        return PARSE_ERROR(w, "missing TARGET after source '%.*s'",
                           (int)tok[0].n, tok[0].s);
    src = &tok[0];
    tgt = &tok[1];
    if (ntok >= 3 && tok_all_digits(&tok[2])) {
        st = status_index(&tok[2]);
        if (st < 0)
            return PARSE_ERROR(w, "unknown status '%.*s' (use 301, 302, "
                               "303, 307, 308 or 410)",
                               (int)tok[2].n, tok[2].s);
        if (ntok == 4 && (rv = parse_flags(w, &tok[3], &bits)))
            return rv;
    }
    else if (ntok == 4) {
        return PARSE_ERROR(w, "unknown status '%.*s' (use 301, 302, 303, "
                           "307, 308 or 410)", (int)tok[2].n, tok[2].s);
    }
    else if (ntok == 3 && (rv = parse_flags(w, &tok[2], &bits))) {
        return rv;
    }

    if (src->s[0] != '/')
        return PARSE_ERROR(w, "source '%.*s' does not start with '/'",
                           (int)src->n, src->s);
    q = memchr(src->s, '?', src->n);
    pathlen = q ? (size_t)(q - src->s) : src->n;
    kind = RR_KIND_EXACT;
    if (pathlen >= 2 && src->s[pathlen - 2] == '/'
        && src->s[pathlen - 1] == '*')
        kind = RR_KIND_PREFIX;
    if (q) {
        rr_params ps;
        q++;
        qlen = src->n - pathlen - 1;
        if (kind == RR_KIND_PREFIX)
            return PARSE_ERROR(w, "a prefix rule (/*) cannot have a query");
        if (!params_split(q, qlen, &ps))
            return PARSE_ERROR(w, "more than %d query parameters",
                               RR_MAX_QUERY_PARAMS);
        if (ps.count == 0)
            return PARSE_ERROR(w, "empty query after '?' in source");
        qsum = ps.sum;
        kind = RR_KIND_QUERY;
    }

    /* The status: '-' means gone; a 410 has no target. */
    if (tgt->n == 1 && tgt->s[0] == '-') {
        if (st < 0)
            st = RR_STATUS_410;
        else if (st != RR_STATUS_410)
            return PARSE_ERROR(w, "status %d needs a target, not '-'",
                               rr_status_codes[st]);
    }
    else if (st == RR_STATUS_410) {
        return PARSE_ERROR(w, "status 410 takes '-' as its target, not "
                           "'%.*s'", (int)tgt->n, tgt->s);
    }
    else if ((rv = parse_target(w, b->scratch, tgt, kind == RR_KIND_PREFIX,
                                &bits, &target, &tlen))) {
        return rv;
    }

    key = apr_palloc(b->scratch, pathlen + 1);
    if ((rv = decode_source(w, src->s, pathlen, key, &klen)))
        return rv;
    if (has_dot_segment(key, klen))
        return PARSE_ERROR(w, "source has a '.' or '..' segment; request "
                           "paths are normalised, so it could never match");
    nocase = (bits & RB_NOCASE) || b->opt.case_insensitive;
    if (nocase)
        bits |= RB_NOCASE;
    same_spelling = tlen > 0 && target[0] == '/'
        && target_path_equals(target, tlen, (bits & RB_STAR) != 0, key,
                              kind == RR_KIND_PREFIX ? klen - 1 : klen, 0);
    klen = normalise_key(b, key, klen, kind, nocase);
    if (kind == RR_KIND_PREFIX && path_depth(key, klen) > RR_MAX_PREFIX_DEPTH)
        return PARSE_ERROR(w, "prefix rule deeper than %d segments",
                           RR_MAX_PREFIX_DEPTH);
    bits |= kind;
    /* Spelled exactly as the source it is a loop, reported by the chain
     * check; in another spelling it canonicalises. */
    if (kind != RR_KIND_QUERY && tlen > 0 && !same_spelling
        && target_is_own_source(&b->opt, target, tlen, bits, key, klen))
        bits |= RB_SELF;
    return add_record(b, w, bits, st < 0 ? 0 : (unsigned)st, key, klen,
                      q ? q : "", qlen, target, tlen,
                      key_hash(kind, nocase, key, klen, qsum));
}

apr_status_t rr_builder_add_line(rr_builder *b, const char *file,
                                 unsigned line, const char *text,
                                 size_t len, rr_diag *d)
{
    rr_where w;
    apr_status_t rv;
    w.file = file;
    w.line = line;
    w.d = d;
    if (b->spent)
        return APR_EINVAL;
    rv = check_line_bytes(&w, text, len);
    if (rv == APR_SUCCESS)
        rv = parse_rule(b, &w, text, len);
    if (rv != APR_SUCCESS)
        b->errors++;
    return rv;
}

apr_status_t rr_builder_add_buffer(rr_builder *b, const char *name,
                                   const char *buf, size_t len, rr_diag *d)
{
    size_t i = 0;
    unsigned line = 0;
    int errors = b->errors;
    int max = d && d->max_errors > 0 ? d->max_errors : 20;
    size_t lines = 1;
    const char *p = buf, *end = buf + len;
    /* Size the arena and offsets for every line being a rule (a record is
     * at most its line plus a header, unless a target needs escaping). */
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    if (!arena_reserve_ex(b, len + lines * (REC_FIXED + 2), 1)
        || !offs_reserve(b, (size_t)b->nrec + lines, 1)
        || !grow_to((void **)&b->hashes, sizeof(uint64_t), &b->hashes_cap,
                    (size_t)b->nrec + lines, 1)) {
        rr_diag_place place = { name, 0 };
        rr_diag_push(d, RR_DIAG_ERROR, &place, 1,
                     "%s: out of memory for %lu lines", name,
                     (unsigned long)lines);
        b->errors++;
        return APR_EINVAL;
    }
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len, n = end - i;
        line++;
        if (n > 0 && buf[i + n - 1] == '\r')
            n--;
        rr_builder_add_line(b, name, line, buf + i, n, d);
        if (b->errors - errors >= max)
            break;
        i = end + 1;
    }
    return b->errors > errors ? APR_EINVAL : APR_SUCCESS;
}

apr_status_t rr_builder_add_file(rr_builder *b, const char *path,
                                 rr_diag *d)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_mmap_t *mm = NULL;
    apr_status_t rv;
    char err[128];
    const char *what = "cannot open";
    apr_pool_t *tmp;

    /* Mapped, not read: a large map is parsed straight from the page
     * cache, without a copy or fresh pages to zero. */
    apr_pool_create(&tmp, b->scratch);
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, tmp);
    if (rv == APR_SUCCESS) {
        what = "cannot read";
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    }
    if (rv == APR_SUCCESS && fi.filetype != APR_REG)
        rv = APR_EBADF;
    if (rv == APR_SUCCESS && fi.size > 0)
        rv = apr_mmap_create(&mm, f, 0, (apr_size_t)fi.size, APR_MMAP_READ,
                             tmp);
    if (rv != APR_SUCCESS) {
        rr_diag_place place = { path, 0 };
        rr_diag_push(d, RR_DIAG_ERROR, &place, 1, "%s: %s: %s", path, what,
                  rv == APR_EBADF ? "not a regular file"
                                  : apr_strerror(rv, err, sizeof(err)));
        b->errors++;
        apr_pool_destroy(tmp);
        return APR_EINVAL;
    }
    rv = mm ? rr_builder_add_buffer(b, path, mm->mm, mm->size, d)
            : APR_SUCCESS;
    apr_pool_destroy(tmp);      /* unmaps and closes */
    return rv;
}

/* ---- freezing ------------------------------------------------------- */

static const char *table_file_of(const rr_table *t, uint32_t off)
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

/* Does the record at `off` hold the key (kind, nocase, key, query)? */
static int rec_matches(const char *arena, uint32_t off, unsigned kind,
                       int nocase, const char *key, size_t klen,
                       const rr_params *q)
{
    rr_rec r;
    size_t i;
    rec_decode(arena, off, &r);
    if ((r.bits & RB_KIND_MASK) != kind || !(r.bits & RB_NOCASE) != !nocase
        || r.src_len != klen)
        return 0;
    if (nocase) {
        for (i = 0; i < klen; i++) {
            if (r.src[i] != (char)fold((unsigned char)key[i]))
                return 0;
        }
    }
    else if (memcmp(r.src, key, klen) != 0) {
        return 0;
    }
    if (kind == RR_KIND_QUERY) {
        rr_params rq;
        params_split(r.query, r.q_len, &rq);
        return params_equal(&rq, q);
    }
    return 1;
}

/* The record offset for a key, or 0.  Slots are sorted by hash and have
 * no gaps between an entry's home and its position, so a probe scans
 * forward from the home slot and stops at the first larger hash or empty
 * slot; the last slot is always empty. */
static uint32_t table_probe(const rr_table *t, uint64_t hash, unsigned kind,
                            int nocase, const char *key, size_t klen,
                            const rr_params *q)
{
    uint32_t h32 = (uint32_t)(hash >> 32), i;
    if (t->cap == 0)
        return 0;
    for (i = slot_home(h32, t->cap);; i++) {
        uint64_t s = t->slots[i];
        uint32_t off = (uint32_t)s, sh = (uint32_t)(s >> 32);
        if (off == 0 || sh > h32)
            return 0;
        if (sh == h32 && rec_matches(t->arena, off, kind, nocase, key, klen,
                                     q))
            return off;
    }
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

static void rec_key_params(const rr_rec *r, rr_params *q)
{
    if ((r->bits & RB_KIND_MASK) == RR_KIND_QUERY)
        params_split(r->query, r->q_len, q);
    else
        q->count = 0;
}

static void stats_count(rr_table *t, const rr_rec *r)
{
    t->stats.rules++;
    switch (r->bits & RB_KIND_MASK) {
    case RR_KIND_EXACT: t->stats.exact++; break;
    case RR_KIND_PREFIX: t->stats.prefix++; break;
    default: t->stats.query++; break;
    }
    t->stats.by_status[r->status]++;
    t->stats.text_bytes += r->src_len + r->q_len + r->tgt_len;
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
    rec_decode(t->arena, off, &r);
    rec_key_params(&r, &q);
    for (j = run; j < i; j++) {
        uint32_t prev = t->offs[(uint32_t)sorted[j]];
        rr_rec pr;
        rec_decode(t->arena, prev, &pr);
        if ((pr.bits & RB_SHADOWED)
            || !rec_matches(t->arena, prev, r.bits & RB_KIND_MASK,
                            (r.bits & RB_NOCASE) != 0, r.src, r.src_len, &q))
            continue;
        rr_diag_place places[2];
        places[0].file = table_file_of(t, off);
        places[0].line = r.line;
        places[1].file = table_file_of(t, prev);
        places[1].line = pr.line;
        rr_diag_push(d, RR_DIAG_DUPLICATE, places, 2,
                     "%s:%u: duplicate source (first defined at %s:%u); "
                     "this line is ignored", places[0].file, r.line,
                     places[1].file, pr.line);
        ((char *)t->arena)[off + 4] = (char)(r.bits | RB_SHADOWED);
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
            stats_count(t, &r);
    }
    return slots;
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
    if (!b->arena && !arena_reserve(b, 0)) {
        apr_pool_destroy(b->scratch);
        return NULL;
    }
    t->arena = pool_copy(pool, b->arena, b->arena_len);
    t->arena_len = b->arena_len;
    t->offs = pool_copy(pool, b->offs, sizeof(uint32_t) * b->nrec);
    files = apr_palloc(pool, sizeof(char *) * (b->files->nelts + 1));
    for (k = 0; k < b->files->nelts; k++)
        files[k] = apr_pstrdup(pool, APR_ARRAY_IDX(b->files, k, const char *));
    t->files = files;
    t->nfiles = (uint32_t)b->files->nelts;
    t->ranges = pool_copy(pool, b->ranges, sizeof(rr_range) * b->nranges);
    t->nranges = b->nranges;

    /* n / 0.875 home slots: a probe scans a run of sorted hashes and stops
     * at the first larger one, so runs stay short at this load (measured
     * with make bench-engine), and slots cost 9.1 bytes per rule. */
    t->cap = b->nrec ? (uint32_t)((uint64_t)b->nrec * 8 / 7 + 1) : 0;
    sorted = malloc(sizeof(uint64_t) * (b->nrec ? b->nrec : 1));
    if (!sorted) {
        apr_pool_destroy(b->scratch);
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0, "out of memory freezing %u rules", b->nrec);
        return NULL;
    }
    for (i = 0; i < b->nrec; i++)
        sorted[i] = (b->hashes[i] & 0xffffffff00000000ULL) | i;
    apr_pool_destroy(b->scratch);       /* frees the builder's buffers */
    if (!sort_by_hash(sorted, t->nrec)) {
        free(sorted);
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0, "out of memory freezing %u rules", t->nrec);
        return NULL;
    }
    t->slots = t->cap ? place_slots(t, sorted, pool, d) : NULL;
    free(sorted);
    t->nrules = t->stats.rules;
    t->stats.bytes = sizeof(*t) + t->arena_len + sizeof(uint32_t) * t->nrec
                     + sizeof(uint64_t) * t->stats.slots
                     + sizeof(rr_range) * t->nranges;
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

static void rec_info(const rr_table *t, uint32_t off, apr_pool_t *pool,
                     rr_rule_info *info)
{
    rr_rec r;
    rec_decode(t->arena, off, &r);
    info->kind = (rr_kind)(r.bits & RB_KIND_MASK);
    info->flags = ((r.bits & RB_NOCASE) ? RR_FLAG_NOCASE : 0)
                  | ((r.bits & RB_QSDROP) ? RR_FLAG_QSDROP : 0)
                  | ((r.bits & RB_QSAPPEND) ? RR_FLAG_QSAPPEND : 0);
    info->status = rr_status_codes[r.status];
    info->source = apr_pstrmemdup(pool, r.src, r.src_len);
    info->query = info->kind == RR_KIND_QUERY
                  ? apr_pstrmemdup(pool, r.query, r.q_len) : NULL;
    info->target = r.status == RR_STATUS_410
                   ? NULL : apr_pstrmemdup(pool, r.target, r.tgt_len);
    info->file = table_file_of(t, off);
    info->line = r.line;
}

/* Rule i counts live rules only, in file order. */
static uint32_t live_offset(const rr_table *t, uint32_t i)
{
    uint32_t k, seen = 0;
    if (t->nrules == t->nrec)
        return t->offs[i];
    for (k = 0; k < t->nrec; k++) {
        if (!((unsigned char)t->arena[t->offs[k] + 4] & RB_SHADOWED)) {
            if (seen++ == i)
                return t->offs[k];
        }
    }
    return t->offs[0];
}

void rr_table_rule(const rr_table *t, uint32_t i, apr_pool_t *pool,
                   rr_rule_info *info)
{
    rec_info(t, live_offset(t, i), pool, info);
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
        rec_info(t, off, pool, info);
    return !((unsigned char)t->arena[off + 4] & RB_SHADOWED);
}

/* Index of the record at `off`: offsets grow in record order. */
static uint32_t record_index(const rr_table *t, uint32_t off)
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

uint32_t rr_match_index(const rr_match *m)
{
    return record_index(m->table, m->rule);
}

/* A source as rules-file text: '%', '?', '*', '#', blanks, controls and
 * bytes that are not UTF-8 escaped, valid UTF-8 kept raw so that a dumped
 * line is no longer than the line it came from. */
static char *dump_source(apr_pool_t *pool, const char *s, size_t n,
                         int upper, int slash)
{
    char *out = apr_palloc(pool, 3 * n + 2), *o = out;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c >= 0x80 ? utf8_seq((const unsigned char *)s + i, n - i)
                             : 1;
        if (c >= 0x80 && k > 0) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '*'
            || c == '#') {
            *o++ = '%';
            *o++ = hexdigits[c >> 4];
            *o++ = hexdigits[c & 15];
        }
        else {
            *o++ = (char)(upper && c >= 'a' && c <= 'z' ? c - 32 : c);
        }
        i++;
    }
    if (slash)
        *o++ = '/';
    *o = '\0';
    return out;
}

/* How to spell a canonicalising rule (RB_SELF) so that it stays one: its
 * key may be spelled exactly as its target, which would read as a loop. */
static void dump_spelling(const rr_table *t, const rr_rec *r, int *upper,
                          int *slash)
{
    char buf[RR_MAX_LINE + 1];
    int prefix = (r->bits & RB_KIND_MASK) == RR_KIND_PREFIX;
    size_t i;
    *upper = *slash = 0;
    if (!(r->bits & RB_SELF) || r->src_len >= RR_MAX_LINE)
        return;
    memcpy(buf, r->src, r->src_len);
    buf[r->src_len] = '/';
    if (!target_path_equals(r->target, r->tgt_len, prefix, buf,
                            r->src_len + (prefix ? 1 : 0), 0))
        return;
    for (i = 0; i < r->src_len && (r->bits & RB_NOCASE); i++) {
        if (r->src[i] >= 'a' && r->src[i] <= 'z') {
            *upper = 1;
            return;
        }
    }
    /* a prefix source with one more slash before its star is the same
     * rule in another spelling, as "/a/" is "/a" under Ignore */
    *slash = prefix || !t->opt.trailing_strict;
}

const char *rr_table_dump(const rr_table *t, apr_pool_t *pool)
{
    apr_array_header_t *parts = apr_array_make(pool, 16, sizeof(char *));
    uint32_t k;
    for (k = 0; k < t->nrec; k++) {
        rr_rec r;
        const char *flags, *source;
        int upper, slash, prefix;
        rec_decode(t->arena, t->offs[k], &r);
        if (r.bits & RB_SHADOWED)
            continue;
        prefix = (r.bits & RB_KIND_MASK) == RR_KIND_PREFIX;
        dump_spelling(t, &r, &upper, &slash);
        source = apr_pstrcat(pool, dump_source(pool, r.src, r.src_len, upper,
                                               slash),
                             prefix ? "/*" : "", NULL);
        if (!(r.bits & RB_SELF) && (r.bits & RB_KIND_MASK) != RR_KIND_QUERY
            && r.tgt_len > 0 && r.target[0] == '/'
            && target_is_own_source(&t->opt, r.target, r.tgt_len, r.bits,
                                    r.src, r.src_len)) {
            /* a loop onto itself: spelled as its target, it stays one */
            size_t mainlen = target_main_len(r.target, r.tgt_len)
                             - ((r.bits & RB_STAR) ? 1 : 0);
            source = apr_pstrcat(pool, apr_pstrmemdup(pool, r.target, mainlen),
                                 prefix ? "*" : "", NULL);
        }
        flags = apr_pstrcat(pool,
                            (r.bits & RB_NOCASE) ? ",nocase" : "",
                            (r.bits & RB_QSDROP) ? ",qsdrop" : "",
                            (r.bits & RB_QSAPPEND) ? ",qsappend" : "",
                            NULL);
        APR_ARRAY_PUSH(parts, char *) = apr_pstrcat(pool, source,
            (r.bits & RB_KIND_MASK) == RR_KIND_QUERY ? "?" : "",
            apr_pstrmemdup(pool, r.query, r.q_len), " ",
            r.status == RR_STATUS_410 ? "-"
                : apr_pstrmemdup(pool, r.target, r.tgt_len),
            r.status ? apr_psprintf(pool, " %d", rr_status_codes[r.status])
                     : "",
            *flags ? " " : "", *flags ? flags + 1 : "", "\n", NULL);
    }
    return apr_array_pstrcat(pool, parts, 0);
}

/* ---- sets ----------------------------------------------------------- */

struct rr_set {
    const rr_table **tables;
    int ntables, max, own;
    apr_hash_t *collapsed;      /* (table, offset) -> final target */
    apr_pool_t *pool;
};

typedef struct {
    int table;
    uint32_t off;
} rr_rule_key;

rr_set *rr_set_create(apr_pool_t *pool, int max_tables)
{
    rr_set *s = apr_pcalloc(pool, sizeof(*s));
    s->tables = apr_pcalloc(pool, sizeof(rr_table *) * (max_tables + 1));
    s->max = max_tables;
    s->own = -1;
    s->pool = pool;
    return s;
}

void rr_set_add(rr_set *s, const rr_table *t)
{
    if (s->ntables < s->max)
        s->tables[s->ntables++] = t;
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

static int set_own(const rr_set *s)
{
    return s->own < 0 ? s->ntables : s->own;
}

/* ---- lookup --------------------------------------------------------- */

/* Is this hit a rule's own target (see target_is_own_source), spelled
 * exactly as the target, so that answering would redirect to itself? */
static int is_own_target(const rr_table *t, uint32_t off, const char *path,
                         size_t len, size_t keylen, const char *args)
{
    rr_rec r;
    size_t mainlen, qlen;
    if (!((unsigned char)t->arena[off + 4] & RB_SELF))
        return 0;
    rec_decode(t->arena, off, &r);
    if ((r.bits & RB_KIND_MASK) == RR_KIND_PREFIX)     /* base is "key/" */
        return keylen < len && path[keylen] == '/'
               && target_path_equals(r.target, r.tgt_len, 1, path,
                                     keylen + 1, 0);
    if (!target_path_equals(r.target, r.tgt_len, 0, path, len, 0))
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
static void path_hash(rr_path_hash *ph, const char *path, size_t len,
                      int folded, long maxdepth)
{
    const unsigned char *p = (const unsigned char *)path;
    uint64_t hc = HASH_SEED, hf = HASH_SEED;
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

/* An exact or query rule of t for the path: case-sensitive rules first. */
static uint32_t table_lookup_exact(const rr_table *t, unsigned kind,
                                   const rr_path_hash *ph, const char *path,
                                   const rr_params *q)
{
    int strict = t->opt.trailing_strict, nocase;
    size_t n = strict ? ph->len : ph->trimmed;
    for (nocase = 0; nocase < 2; nocase++) {
        uint64_t st = strict ? ph->full[nocase] : ph->trim[nocase];
        unsigned tag = (kind == RR_KIND_QUERY ? TAG_QUERY : TAG_EXACT)
                       | (nocase ? TAG_NOCASE : 0);
        uint32_t off;
        if (nocase ? !t->has_nocase : !t->has_case)
            continue;
        off = table_probe(t, key_final(st, tag, n, q ? q->sum : 0), kind,
                          nocase, path, n, q);
        if (off)
            return off;
    }
    return 0;
}

/* The longest prefix rule of t for the path, deepest boundary first, with
 * every probe's slot prefetched up front.  Returns the key length or -1. */
static long table_lookup_prefix(const rr_table *t, const rr_path_hash *ph,
                                const char *path, uint32_t *off)
{
    uint64_t h[RR_MAX_PREFIX_DEPTH + 1][2];
    long b;
    int nocase;
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
    for (b--; b >= 0; b--) {
        for (nocase = 0; nocase < 2; nocase++) {
            uint32_t o;
            if (nocase ? !t->has_nocase : !t->has_case)
                continue;
            o = table_probe(t, h[b][nocase], RR_KIND_PREFIX, nocase, path,
                            ph->pos[b], NULL);
            if (o && !is_own_target(t, o, path, ph->len, ph->pos[b], NULL)) {
                *off = o;
                return (long)ph->pos[b];
            }
        }
    }
    return -1;
}

/* The slots an exact or prefix lookup of path would probe first. */
static void table_prefetch(const rr_table *t, const char *path, size_t len)
{
    rr_path_hash ph;
    int strict = t->opt.trailing_strict, nocase;
    uint32_t b;
    if (t->cap == 0)
        return;
    path_hash(&ph, path, len, t->has_nocase,
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

int rr_set_lookup(const rr_set *s, const char *path, size_t len,
                  const char *args, rr_match *m)
{
    rr_path_hash ph;
    rr_params q;
    int k, folded = 0, best_table = -1, has_query = 0;
    long best_len = -1, maxdepth = -1;
    uint32_t off = 0, best_off = 0;

    if (len == 0)
        return 0;
    for (k = 0; k < s->ntables; k++) {
        const rr_table *t = s->tables[k];
        folded |= t->has_nocase;
        has_query |= t->has_kind[RR_KIND_QUERY];
        if (t->has_kind[RR_KIND_PREFIX] && (long)t->max_prefix_depth > maxdepth)
            maxdepth = (long)t->max_prefix_depth;
    }
    path_hash(&ph, path, len, folded, maxdepth);

    if (has_query && args && *args && params_split(args, strlen(args), &q)
        && q.count > 0) {
        for (k = 0; k < s->ntables; k++) {
            if (s->tables[k]->has_kind[RR_KIND_QUERY]
                && (off = table_lookup_exact(s->tables[k], RR_KIND_QUERY, &ph,
                                             path, &q))) {
                set_match(m, s, k, off, len);
                return 1;
            }
        }
    }
    for (k = 0; k < s->ntables; k++) {
        if (s->tables[k]->has_kind[RR_KIND_EXACT]
            && (off = table_lookup_exact(s->tables[k], RR_KIND_EXACT, &ph,
                                         path, NULL))
            && !is_own_target(s->tables[k], off, path, len, len, args)) {
            set_match(m, s, k, off, len);
            return 1;
        }
    }
    for (k = 0; k < s->ntables; k++) {
        long l;
        if (!s->tables[k]->has_kind[RR_KIND_PREFIX])
            continue;
        l = table_lookup_prefix(s->tables[k], &ph, path, &off);
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

int rr_match_status(const rr_match *m, int default_status)
{
    unsigned st = (unsigned char)m->table->arena[m->rule + 5];
    return st ? rr_status_codes[st] : default_status;
}

const char *rr_match_origin(const rr_match *m, apr_pool_t *pool)
{
    return apr_psprintf(pool, "%s:%u", table_file_of(m->table, m->rule),
                        rd32(m->table->arena + m->rule));
}

void rr_match_rule(const rr_match *m, apr_pool_t *pool, rr_rule_info *info)
{
    rec_info(m->table, m->rule, pool, info);
}

static const char *const no_parts[] = { NULL };

static int table_index(const rr_set *s, const rr_table *t)
{
    int k;
    for (k = 0; k < s->ntables && s->tables[k] != t; k++)
        ;
    return k;
}

static const char *collapsed_target(const rr_set *s, const rr_match *m)
{
    rr_rule_key key;
    if (!s->collapsed)
        return NULL;
    memset(&key, 0, sizeof(key));
    key.table = table_index(s, m->table);
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

const char *rr_match_location_parts(const rr_match *m, apr_pool_t *pool,
                                    const char *path, const char *args,
                                    const char *const *base_parts)
{
    rr_rec r;
    const char *target, *over;
    size_t tlen, mainlen, qend, carry_len = 0, n = 0, o = 0, k;
    size_t alen = args ? strlen(args) : 0;
    int is_path, star, carry_args;
    char *out;

    rec_decode(m->table->arena, m->rule, &r);
    if (r.status == RR_STATUS_410)
        return NULL;
    over = collapsed_target(m->set, m);
    target = over ? over : r.target;
    tlen = over ? strlen(over) : r.tgt_len;
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
    if (star)
        carry_len = escape_into(NULL, path + m->tail,
                                strlen(path) - m->tail, ESC_PATH);

    for (k = 0; base_parts[k]; k++)
        n += escape_into(NULL, base_parts[k], strlen(base_parts[k]),
                         ESC_URL);
    n += tlen + carry_len + 1
         + (carry_args ? escape_into(NULL, args, alen, ESC_URL) : 0);
    out = apr_palloc(pool, n + 1);
    for (k = 0; base_parts[k]; k++)
        o += escape_into(out + o, base_parts[k], strlen(base_parts[k]),
                         ESC_URL);
    memcpy(out + o, target, mainlen - (star ? 1 : 0));
    o += mainlen - (star ? 1 : 0);
    if (star)
        o += escape_into(out + o, path + m->tail, strlen(path) - m->tail,
                         ESC_PATH);
    memcpy(out + o, target + mainlen, qend - mainlen);
    o += qend - mainlen;
    if (carry_args) {
        if (qend == mainlen)
            out[o++] = '?';
        else if (qend - mainlen > 1)
            out[o++] = '&';
        o += escape_into(out + o, args, alen, ESC_URL);
    }
    memcpy(out + o, target + qend, tlen - qend);
    o += tlen - qend;
    out[o] = '\0';
    return out;
}

/* ---- chains and loops ----------------------------------------------- */

/* The path (decoded, in pool) and query a target points at on this host,
 * or 0 if it leaves the host. */
/* Splits target[0..tlen) (not NUL-terminated) into the path it points at
 * on this host (decoded, in pool) and its query, or returns 0 if it
 * leaves the host. */
static int target_on_host(apr_pool_t *pool, const char *target, size_t tlen,
                          const apr_array_header_t *hosts, char **path,
                          size_t *plen, const char **query)
{
    size_t i = 0, mainlen, k, o = 0;
    const char *end = target + tlen, *hash;
    char *dec;
    if (tlen == 0)
        return 0;
    if (target[0] != '/') {
        const char *hs, *he, *at, *colon;
        char *host;
        int h, ok = 0;
        const char *p = find_bytes(target, tlen, "://");
        if (!p || !hosts)
            return 0;
        hs = p + 3;
        he = hs;
        while (he < end && *he != '/' && *he != '?' && *he != '#')
            he++;
        at = memchr(hs, '@', (size_t)(he - hs));
        if (at)
            hs = at + 1;
        colon = hs < he && *hs != '[' ? memchr(hs, ':', (size_t)(he - hs))
                                      : NULL;
        host = apr_pstrmemdup(pool, hs, (size_t)((colon ? colon : he) - hs));
        for (h = 0; h < hosts->nelts && !ok; h++) {
            ok = apr_fnmatch(APR_ARRAY_IDX(hosts, h, const char *), host,
                             APR_FNM_CASE_BLIND) == APR_SUCCESS;
        }
        if (!ok)
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
    *path = dec;
    *plen = o;
    *query = NULL;
    if (mainlen < tlen && target[mainlen] == '?') {
        hash = memchr(target + mainlen, '#', tlen - mainlen);
        *query = apr_pstrmemdup(pool, target + mainlen + 1,
                                (size_t)((hash ? hash : end) - target)
                                - mainlen - 1);
    }
    return 1;
}

typedef struct {
    rr_set *s;
    const apr_array_header_t *hosts;
    apr_pool_t *tmp;
    uint32_t *base;         /* global id of each table's first record */
    uint32_t total;
    uint32_t *next;         /* global id + 1 of the next hop, 0: none */
    unsigned char *state;   /* bit 0: next computed; bit 1: visiting;
                               bit 2: done; bit 3: in a loop */
    uint32_t *indeg;
} rr_graph;

static uint32_t global_id(const rr_graph *g, int table, uint32_t off)
{
    return g->base[table] + record_index(g->s->tables[table], off);
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

/* The rule a rule's target lands on, computed once.  Scratch memory goes
 * to `scratch` (the caller clears it). */
static uint32_t graph_next_in(rr_graph *g, uint32_t id, apr_pool_t *scratch)
{
    int tk;
    uint32_t off;
    rr_rec r;
    char *path;
    size_t plen, tlen;
    const char *query;
    rr_match m;

    if (g->state[id] & 1)
        return g->next[id];
    g->state[id] |= 1;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    if ((r.bits & RB_SHADOWED) || r.status == RR_STATUS_410)
        return 0;
    tlen = r.tgt_len;
    if (r.bits & RB_STAR) {
        size_t mainlen = target_main_len(r.target, tlen);
        tlen = mainlen - 1;     /* the path the '*' hangs off */
    }
    if (!target_on_host(scratch, r.target, tlen, g->hosts, &path, &plen,
                        &query))
        return 0;
    if (!rr_set_lookup(g->s, path, plen, query, &m))
        return 0;
    g->next[id] = global_id(g, table_index(g->s, m.table), m.rule) + 1;
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
    char *path;
    size_t plen, tlen;
    const char *query;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    if ((r.bits & RB_SHADOWED) || r.status == RR_STATUS_410)
        return;
    tlen = (r.bits & RB_STAR) ? target_main_len(r.target, r.tgt_len) - 1
                              : r.tgt_len;
    if (!target_on_host(scratch, r.target, tlen, g->hosts, &path, &plen,
                        &query))
        return;
    for (k = 0; k < g->s->ntables; k++)
        table_prefetch(g->s->tables[k], path, plen);
}

/* Next hops of records [from, to): the lookups of a batch are prefetched
 * together so that their cache misses overlap. */
static void graph_next_batch(rr_graph *g, uint32_t from, uint32_t to)
{
    enum { BATCH = 16 };
    apr_pool_t *scratch;
    uint32_t id, j;
    apr_pool_create(&scratch, g->tmp);
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

static const char *rule_where(const rr_graph *g, uint32_t id,
                              apr_pool_t *pool)
{
    int tk;
    uint32_t off;
    rr_match m;
    global_split(g, id, &tk, &off);
    m.set = g->s;
    m.table = g->s->tables[tk];
    m.rule = off;
    m.tail = 0;
    return rr_match_origin(&m, pool);
}

static rr_diag_place rule_place(const rr_graph *g, uint32_t id)
{
    int tk;
    uint32_t off;
    rr_diag_place p;
    global_split(g, id, &tk, &off);
    p.file = table_file_of(g->s->tables[tk], off);
    p.line = rd32(g->s->tables[tk]->arena + off);
    return p;
}

/* Walks from `start`, marking loops.  Returns APR_EINVAL on a new loop. */
static apr_status_t graph_walk(rr_graph *g, uint32_t start, rr_diag *d)
{
    uint32_t id = start, n;
    apr_array_header_t *stack = apr_array_make(g->tmp, 8, sizeof(uint32_t));
    apr_status_t rv = APR_SUCCESS;
    int k;

    while (id != UINT32_MAX && !(g->state[id] & 6)) {
        g->state[id] |= 2;
        APR_ARRAY_PUSH(stack, uint32_t) = id;
        n = graph_next(g, id);
        if (n)
            g->indeg[n - 1]++;
        id = n ? n - 1 : UINT32_MAX;
    }
    if (id != UINT32_MAX && (g->state[id] & 2) && !(g->state[id] & 4)) {
        /* The walk came back to a rule on its own path: a loop. */
        const char *msg = NULL;
        apr_array_header_t *places = apr_array_make(g->tmp, 8,
                                                    sizeof(rr_diag_place));
        int first = 0;
        for (k = 0; k < stack->nelts; k++) {
            if (APR_ARRAY_IDX(stack, k, uint32_t) == id) {
                first = k;
                break;
            }
        }
        for (k = first; k < stack->nelts; k++) {
            uint32_t x = APR_ARRAY_IDX(stack, k, uint32_t);
            g->state[x] |= 8;
            APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(g, x);
            msg = msg ? apr_pstrcat(g->tmp, msg, " -> ",
                                    rule_where(g, x, g->tmp), NULL)
                      : rule_where(g, x, g->tmp);
        }
        APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(g, id);
        rr_diag_push(d, RR_DIAG_LOOP, (const rr_diag_place *)places->elts,
                     places->nelts, "%s: redirect loop: %s -> %s",
                  rule_where(g, id, g->tmp), msg, rule_where(g, id, g->tmp));
        rv = APR_EINVAL;
    }
    for (k = 0; k < stack->nelts; k++) {
        uint32_t x = APR_ARRAY_IDX(stack, k, uint32_t);
        g->state[x] = (unsigned char)((g->state[x] & ~2u) | 4u);
    }
    return rv;
}

/* Follows a chain from rule `id` to the URL its last hop answers. */
static const char *chain_final(rr_graph *g, uint32_t id)
{
    int tk, hops;
    uint32_t off;
    rr_rec r;
    const char *url;
    global_split(g, id, &tk, &off);
    rec_decode(g->s->tables[tk]->arena, off, &r);
    url = apr_pstrmemdup(g->tmp, r.target, r.tgt_len);
    for (hops = 0; hops < 64; hops++) {
        char *path;
        size_t plen;
        const char *query;
        rr_match m;
        if (!target_on_host(g->tmp, url, strlen(url), g->hosts, &path, &plen,
                            &query)
            || !rr_set_lookup(g->s, path, plen, query, &m)
            || rr_match_status(&m, 307) == 410)
            break;
        url = rr_match_location(&m, g->tmp, path, query, NULL);
    }
    return url;
}

apr_status_t rr_set_check(rr_set *s, const apr_array_header_t *hosts,
                          rr_chains_mode mode, rr_diag *d)
{
    rr_graph g;
    apr_pool_t *tmp;
    apr_status_t rv = APR_SUCCESS;
    uint32_t id, own_end;
    int k, own = set_own(s);

    apr_pool_create(&tmp, s->pool);
    memset(&g, 0, sizeof(g));
    g.s = s;
    g.hosts = hosts;
    g.tmp = tmp;
    g.base = apr_pcalloc(tmp, sizeof(uint32_t) * (s->ntables + 1));
    for (k = 0; k < s->ntables; k++)
        g.base[k + 1] = g.base[k] + s->tables[k]->nrec;
    g.total = g.base[s->ntables];
    own_end = g.base[own];
    g.next = calloc(g.total + 1, sizeof(uint32_t));
    g.indeg = calloc(g.total + 1, sizeof(uint32_t));
    g.state = calloc(g.total + 1, 1);
    if (!g.next || !g.indeg || !g.state) {
        rr_diag_push(d, RR_DIAG_ERROR, NULL, 0,
                     "out of memory checking chains");
        rv = APR_ENOMEM;
        goto done;
    }

    /* Duplicates across own tables: earlier tables win. */
    for (k = 1; k < own; k++) {
        const rr_table *t = s->tables[k];
        uint32_t i;
        for (i = 0; i < t->nrec; i++) {
            rr_rec r;
            rr_params q;
            int j;
            rec_decode(t->arena, t->offs[i], &r);
            if (r.bits & RB_SHADOWED)
                continue;
            rec_key_params(&r, &q);
            for (j = 0; j < k; j++) {
                const rr_table *e = s->tables[j];
                uint32_t prev;
                int nocase = (r.bits & RB_NOCASE) != 0;
                if (e->opt.trailing_strict != t->opt.trailing_strict)
                    continue;
                prev = table_probe(e, key_hash(r.bits & RB_KIND_MASK, nocase,
                                               r.src, r.src_len, q.count
                                               ? q.sum : 0),
                                   r.bits & RB_KIND_MASK, nocase, r.src,
                                   r.src_len, &q);
                if (prev) {
                    rr_diag_place pl[2];
                    pl[0].file = table_file_of(t, t->offs[i]);
                    pl[0].line = r.line;
                    pl[1].file = table_file_of(e, prev);
                    pl[1].line = rd32(e->arena + prev);
                    rr_diag_push(d, RR_DIAG_DUPLICATE, pl, 2,
                                 "%s:%u: duplicate source (first defined "
                                 "at %s:%u); this line is ignored",
                                 pl[0].file, r.line, pl[1].file, pl[1].line);
                    break;
                }
            }
        }
    }

    graph_next_batch(&g, 0, own_end);
    for (id = 0; id < own_end; id++) {
        if (!(g.state[id] & 4) && graph_walk(&g, id, d) != APR_SUCCESS)
            rv = APR_EINVAL;
    }
    if (mode == RR_CHAINS_OFF)
        goto done;

    for (id = 0; id < own_end; id++) {
        uint32_t n = g.next[id], x;
        const char *msg;
        apr_array_header_t *places;
        int collapsible = 1;
        if (!n || g.indeg[id] || (g.state[id] & 8))
            continue;
        msg = rule_where(&g, id, tmp);
        places = apr_array_make(tmp, 4, sizeof(rr_diag_place));
        APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(&g, id);
        for (x = n - 1;; x = g.next[x] - 1) {
            if (g.state[x] & 8) {
                collapsible = -1;   /* runs into a loop: reported above */
                break;
            }
            msg = apr_pstrcat(tmp, msg, " -> ", rule_where(&g, x, tmp), NULL);
            APR_ARRAY_PUSH(places, rr_diag_place) = rule_place(&g, x);
            if (!g.next[x])
                break;
        }
        if (collapsible < 0)
            continue;
        if (mode == RR_CHAINS_COLLAPSE) {
            int tk;
            uint32_t off;
            rr_rec r;
            global_split(&g, id, &tk, &off);
            rec_decode(s->tables[tk]->arena, off, &r);
            if (!(r.bits & RB_STAR))
                continue;
            rr_diag_push(d, RR_DIAG_UNCOLLAPSED,
                      (const rr_diag_place *)places->elts, places->nelts,
                      "%s: redirect chain cannot be collapsed (its "
                      "first rule carries the path): %s",
                      rule_where(&g, id, tmp), msg);
            continue;
        }
        rr_diag_push(d, RR_DIAG_CHAIN, (const rr_diag_place *)places->elts,
                     places->nelts, "%s: redirect chain: %s",
                     rule_where(&g, id, tmp),
                  msg);
    }

    if (mode == RR_CHAINS_COLLAPSE) {
        /* Every own rule with a next hop answers with its chain's end, so
         * a request entering mid-chain is collapsed too. */
        for (id = 0; id < own_end; id++) {
            int tk;
            uint32_t off;
            rr_rec r;
            rr_rule_key *key;
            if (!g.next[id] || (g.state[id] & 8))
                continue;
            global_split(&g, id, &tk, &off);
            rec_decode(s->tables[tk]->arena, off, &r);
            if (r.bits & RB_STAR)
                continue;
            if (!s->collapsed)
                s->collapsed = apr_hash_make(s->pool);
            key = apr_pcalloc(s->pool, sizeof(*key));
            key->table = tk;
            key->off = off;
            apr_hash_set(s->collapsed, key, sizeof(*key),
                         apr_pstrdup(s->pool, chain_final(&g, id)));
        }
    }

done:
    free(g.next);
    free(g.indeg);
    free(g.state);
    apr_pool_destroy(tmp);
    return rv;
}
