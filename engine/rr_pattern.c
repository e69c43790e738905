/*
 * rr_pattern.c - pattern rules: sources with named segments (/u/:name,
 * /blog/:y/:slug.html, /shop/:cat/(star)).  Parsing them into their stored
 * form and shape, hashing them, finding the one a request matches without
 * a scan, and writing captured values into a Location.
 *
 * Cost of a lookup: nothing for a set without pattern rules (one count is
 * tested).  Otherwise the path is split into segments once per host group
 * consulted, then for each of the P distinct shapes whose segment count
 * fits the path (equal for exact shapes, at most for prefix shapes) its
 * literal bytes are hashed and the slot table probed once per table that
 * has pattern rules: O(P * len), independent of how many rules share a
 * shape.  Shapes are tried most literal first, and the first score that
 * answers ends the lookup.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_hash.h"

#include "rr_internal.h"

static int name_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}

/* Length of the name after a ':' at s[i], or 0 if none follows. */
static size_t name_at(const char *s, size_t n, size_t i)
{
    size_t k = i + 1;
    if (s[i] != ':')
        return 0;
    while (k < n && name_byte((unsigned char)s[k]))
        k++;
    return k - i - 1;
}

int rr_pattern_written(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i++) {
        if (name_at(s, n, i))
            return 1;
    }
    return 0;
}

/* ---- the stored form -------------------------------------------------- */

const char *rr_pattern_encode(apr_pool_t *p, const char *s, size_t n,
                              char **out, size_t *outlen)
{
    char *o = apr_palloc(p, n + 2 * RR_MAX_PLACEHOLDERS + 1);
    const char *names[RR_MAX_PLACEHOLDERS];
    size_t nlens[RR_MAX_PLACEHOLDERS], i = 0, k = 0;
    int count = 0, in_seg = 0, j;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t nl = name_at(s, n, i);
        if (nl) {
            if (in_seg)
                return apr_psprintf(p, "two placeholders in one segment "
                                    "(at ':%.*s'): a segment holds at most "
                                    "one", (int)nl, s + i + 1);
            if (count == RR_MAX_PLACEHOLDERS)
                return apr_psprintf(p, "more than %d placeholders",
                                    RR_MAX_PLACEHOLDERS);
            if (nl > RR_MAX_PLACEHOLDER_NAME)
                return apr_psprintf(p, "placeholder name longer than %d "
                                    "bytes", RR_MAX_PLACEHOLDER_NAME);
            for (j = 0; j < count; j++) {
                if (nlens[j] == nl && !memcmp(names[j], s + i + 1, nl))
                    return apr_psprintf(p, "placeholder ':%.*s' appears "
                                        "twice in the source", (int)nl,
                                        s + i + 1);
            }
            names[count] = s + i + 1;
            nlens[count++] = nl;
            in_seg = 1;
            o[k++] = PH_MARK;
            memcpy(o + k, s + i + 1, nl);
            k += nl;
            o[k++] = PH_MARK;
            i += nl + 1;
            continue;
        }
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return apr_psprintf(p, "bad percent-encoding in source at "
                                    "'%.*s'", (int)(n - i > 3 ? 3 : n - i),
                                    s + i);
            c = (unsigned char)(hi * 16 + lo);
            if (c < 0x20 || c == 0x7f)
                return apr_psprintf(p, "source decodes to control "
                                    "character 0x%02x", c);
            i += 3;
        }
        else {
            i++;
        }
        if (c == '/')
            in_seg = 0;
        o[k++] = (char)c;
    }
    *out = o;
    *outlen = k;
    return NULL;
}

void rr_pattern_fold(char *s, size_t n)
{
    size_t i;
    int in_name = 0;
    for (i = 0; i < n; i++) {
        if (s[i] == PH_MARK)
            in_name = !in_name;
        else if (!in_name)
            s[i] = (char)fold((unsigned char)s[i]);
    }
}

/* One segment of a stored form: its type, the literal head and tail
 * around its placeholder, and the placeholder's name. */
typedef struct {
    int type;
    const char *lit;        /* the segment (literal) or its head */
    size_t head, tail;
    const char *tail_at;
    const char *name;
    size_t nlen;
} rr_pseg;

/* Reads the segment of s[0..n) starting at *i (just past its '/'), and
 * advances *i to the next '/' or n. */
static void next_pseg(const char *s, size_t n, size_t *i, rr_pseg *g)
{
    size_t k = *i, end;
    const char *m1, *m2;
    while (k < n && s[k] != '/')
        k++;
    end = k;
    g->lit = s + *i;
    m1 = memchr(s + *i, PH_MARK, end - *i);
    if (!m1) {
        g->type = SEG_LITERAL;
        g->head = end - *i;
        g->tail = 0;
        g->tail_at = s + end;
        g->name = NULL;
        g->nlen = 0;
    }
    else {
        m2 = memchr(m1 + 1, PH_MARK, (size_t)(s + end - m1 - 1));
        g->name = m1 + 1;
        g->nlen = (size_t)(m2 - m1 - 1);
        g->head = (size_t)(m1 - (s + *i));
        g->tail_at = m2 + 1;
        g->tail = (size_t)(s + end - g->tail_at);
        g->type = g->head || g->tail ? SEG_MIXED : SEG_PLACEHOLDER;
    }
    *i = end;
}

static uint64_t shape_seed(const rr_shape *sh)
{
    uint64_t h = hash_word(HASH_SEED, ((uint64_t)sh->nseg << 1)
                                      | (uint64_t)(sh->prefix != 0));
    uint32_t k;
    for (k = 0; k < sh->nseg; k++)
        h = hash_word(h, (uint64_t)sh->type[k] | ((uint64_t)sh->head[k] << 8)
                         | ((uint64_t)sh->tail[k] << 24));
    return fmix64(h);
}

const char *rr_pattern_shape(const char *s, size_t n, int prefix,
                             rr_shape *sh, char *skel, size_t *skel_len)
{
    size_t i = 1, o = 0;
    memset(sh, 0, sizeof(*sh));
    sh->prefix = prefix;
    if (n == 0 || s[0] != '/')
        return "a pattern source starts with '/'";
    for (;;) {
        rr_pseg g;
        if (sh->nseg == RR_MAX_PATTERN_SEGMENTS)
            return "a pattern rule has at most 32 segments";
        next_pseg(s, n, &i, &g);
        sh->type[sh->nseg] = (unsigned char)g.type;
        sh->head[sh->nseg] = (uint16_t)(g.type == SEG_LITERAL ? 0 : g.head);
        sh->tail[sh->nseg] = (uint16_t)g.tail;
        sh->score += g.type == SEG_LITERAL ? 2 : g.type == SEG_MIXED;
        sh->nseg++;
        skel[o++] = '/';
        memcpy(skel + o, g.lit, g.head);
        o += g.head;
        if (g.type != SEG_LITERAL) {
            memcpy(skel + o, g.tail_at, g.tail);
            o += g.tail;
        }
        if (i >= n)
            break;
        i++;
    }
    sh->seed = shape_seed(sh);
    *skel_len = o;
    return NULL;
}

static uint64_t pattern_hash(uint64_t group_seed, const rr_shape *sh,
                             int nocase, const char *skel, size_t n)
{
    uint64_t seed = fmix64(group_seed ^ (sh->seed * HASH_K2));
    return key_final(hash_key_state(seed, skel, n, nocase),
                     TAG_PATTERN | (sh->prefix ? TAG_PREFIX : TAG_EXACT)
                     | (nocase ? TAG_NOCASE : 0), n, 0);
}

uint64_t rr_pattern_rec_hash(const rr_rec *r)
{
    char skel[RR_MAX_LINE + 2];
    size_t n;
    rr_shape sh;
    if (r->src_len > RR_MAX_LINE
        || rr_pattern_shape(r->src, r->src_len,
                            (r->bits & RB_KIND_MASK) == RR_KIND_PREFIX, &sh,
                            skel, &n))
        return 0;
    return pattern_hash(group_seed(r->xbits, r->host, r->h_len), &sh,
                        (r->bits & RB_NOCASE) != 0, skel, n);
}

int rr_pattern_same(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 1, j = 1;
    if (an == 0 || bn == 0)
        return 0;
    for (;;) {
        rr_pseg x, y;
        next_pseg(a, an, &i, &x);
        next_pseg(b, bn, &j, &y);
        if (x.type != y.type || x.head != y.head || x.tail != y.tail
            || memcmp(x.lit, y.lit, x.head)
            || memcmp(x.tail_at, y.tail_at, x.tail))
            return 0;
        if (i >= an || j >= bn)
            return i >= an && j >= bn;
        i++;
        j++;
    }
}

/* ---- targets ---------------------------------------------------------- */

/* Where placeholders may stand in a target: past its scheme and host. */
static size_t target_path_start(const char *t, size_t n)
{
    const char *p;
    size_t i;
    if (n == 0 || t[0] == '/')
        return 0;
    p = find_bytes(t, n, "://");
    if (!p)
        return n;
    for (i = (size_t)(p - t) + 3; i < n; i++) {
        if (t[i] == '/' || t[i] == '?' || t[i] == '#')
            break;
    }
    return i;
}

/* The name of placeholder index k of the stored form, or NULL. */
static int find_name(const char *s, size_t n, const char *name, size_t nl)
{
    size_t i;
    int k = 0;
    for (i = 0; i < n; i++) {
        const char *e;
        if (s[i] != PH_MARK)
            continue;
        e = memchr(s + i + 1, PH_MARK, n - i - 1);
        if ((size_t)(e - s - i - 1) == nl && !memcmp(s + i + 1, name, nl))
            return k;
        k++;
        i = (size_t)(e - s);
    }
    return -1;
}

const char *rr_pattern_check_target(apr_pool_t *p, const char *s, size_t n,
                                    const char *target, size_t tlen)
{
    size_t start = target_path_start(target, tlen), i, nl;
    for (i = 0; i < start; i++) {
        nl = name_at(target, tlen, i);
        if (nl && find_name(s, n, target + i + 1, nl) >= 0)
            return apr_psprintf(p, "placeholder ':%.*s' in the target's "
                                "host: a captured value may only go into "
                                "the path or query", (int)nl, target + i + 1);
    }
    for (i = start; i < tlen; i++) {
        nl = name_at(target, tlen, i);
        if (!nl)
            continue;
        if (find_name(s, n, target + i + 1, nl) < 0)
            return apr_psprintf(p, "target names ':%.*s', which is not a "
                                "placeholder of the source", (int)nl,
                                target + i + 1);
        i += nl;
    }
    return NULL;
}

int rr_pattern_target_uses(const char *target, size_t tlen)
{
    size_t i;
    for (i = target_path_start(target, tlen); i < tlen; i++) {
        if (name_at(target, tlen, i))
            return 1;
    }
    return 0;
}

/* Bytes a capture keeps raw: unreserved and sub-delimiters that cannot
 * end a segment, start a query or fragment, or name a host where they
 * stand (after the target's host).  In a query '&', '=' and '+' go too. */
static int capture_raw(unsigned char c, int query)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '-': case '.': case '_': case '~': case '!': case '$': case '\'':
    case '(': case ')': case ',': case ';': case ':': case '@':
        return 1;
    case '&': case '=': case '+':
        return !query;
    default:
        return 0;
    }
}

static size_t capture_escape(char *out, const char *s, size_t n, int query)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (capture_raw(c, query)) {
            if (out)
                out[o] = (char)c;
            o++;
            continue;
        }
        if (out) {
            out[o] = '%';
            out[o + 1] = rr_hexdigits[c >> 4];
            out[o + 2] = rr_hexdigits[c & 15];
        }
        o += 3;
    }
    return o;
}

static size_t expand_into(char *out, const char *t, size_t tlen,
                          const rr_capture *caps, int ncaps)
{
    size_t start = target_path_start(t, tlen), i, o = 0;
    int query = 0, frag = 0, k;
    for (i = 0; i < tlen;) {
        size_t nl = i >= start ? name_at(t, tlen, i) : 0;
        if (i >= start && t[i] == '?' && !frag)
            query = 1;
        if (i >= start && t[i] == '#') {
            query = 0;
            frag = 1;
        }
        for (k = 0; nl && k < ncaps; k++) {
            if (caps[k].nlen == nl && !memcmp(caps[k].name, t + i + 1, nl))
                break;
        }
        if (nl && k < ncaps) {
            o += capture_escape(out ? out + o : NULL, caps[k].val,
                                caps[k].vlen, query);
            i += nl + 1;
            continue;
        }
        if (out)
            out[o] = t[i];
        o++;
        i++;
    }
    return o;
}

const char *rr_pattern_expand(apr_pool_t *p, const char *target,
                              size_t tlen, const rr_capture *caps, int ncaps,
                              size_t *outlen)
{
    size_t n = expand_into(NULL, target, tlen, caps, ncaps);
    char *out = apr_palloc(p, n + 1);
    expand_into(out, target, tlen, caps, ncaps);
    out[n] = '\0';
    *outlen = n;
    return out;
}

const char *rr_pattern_written_form(apr_pool_t *p, const char *s, size_t n,
                                    int dump)
{
    char *out = apr_palloc(p, 3 * n + 1), *o = out;
    size_t i = 0;
    int after_name = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)PH_MARK) {
            const char *e = memchr(s + i + 1, PH_MARK, n - i - 1);
            *o++ = ':';
            memcpy(o, s + i + 1, (size_t)(e - s - i - 1));
            o += e - s - i - 1;
            i = (size_t)(e - s) + 1;
            after_name = 1;
            continue;
        }
        if (dump && c >= 0x80) {
            /* valid UTF-8 stays raw, as dump_source keeps it */
            size_t k = rr_utf8_seq((const unsigned char *)s + i, n - i);
            if (k > 0) {
                memcpy(o, s + i, k);
                o += k;
                i += k;
                after_name = 0;
                continue;
            }
        }
        /* a literal that would read back as a placeholder, or as more of
         * the name before it, is written escaped; so is what a rules file
         * cannot hold raw (bytes that are not UTF-8 among them) */
        if (dump && (c >= 0x80
                     || (c == ':' && i + 1 < n && name_byte((unsigned char)s[i + 1]))
                     || (after_name && name_byte(c))
                     || c <= 0x20 || c == 0x7f || c == '%' || c == '?'
                     || c == '*' || c == '#')) {
            *o++ = '%';
            *o++ = rr_hexdigits[c >> 4];
            *o++ = rr_hexdigits[c & 15];
        }
        else {
            *o++ = (char)c;
        }
        after_name = 0;
        i++;
    }
    *o = '\0';
    return out;
}

/* ---- requests --------------------------------------------------------- */

/* A request path split into segments: the first RR_MAX_PATTERN_SEGMENTS
 * kept, all counted. */
typedef struct {
    uint32_t nfull;         /* segments of the path */
    uint32_t ntrim;         /* of the path without trailing slashes */
    uint32_t start[RR_MAX_PATTERN_SEGMENTS], end[RR_MAX_PATTERN_SEGMENTS];
} rr_reqsegs;

static int split_request(const char *path, size_t len, rr_reqsegs *sg)
{
    size_t i, s = 1, t = len;
    if (len == 0 || path[0] != '/')
        return 0;
    sg->nfull = 0;
    for (i = 1; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        if (sg->nfull < RR_MAX_PATTERN_SEGMENTS) {
            sg->start[sg->nfull] = (uint32_t)s;
            sg->end[sg->nfull] = (uint32_t)i;
        }
        sg->nfull++;
        s = i + 1;
    }
    while (t > 1 && path[t - 1] == '/')
        t--;
    sg->ntrim = sg->nfull - (uint32_t)(len - t);
    return 1;
}

/* Does the shape fit the request (its segment count, and the placeholder
 * and mixed segments long enough)?  Writes the request's skeleton. */
static int request_skeleton(const rr_shape *sh, const char *path,
                            const rr_reqsegs *sg, char *skel, size_t *n)
{
    uint32_t k;
    size_t o = 0;
    if (sg->nfull < sh->nseg)
        return 0;
    if (!sh->prefix && sg->nfull != sh->nseg && sg->ntrim != sh->nseg)
        return 0;
    for (k = 0; k < sh->nseg; k++) {
        const char *seg = path + sg->start[k];
        size_t len = sg->end[k] - sg->start[k];
        size_t h = sh->head[k], t = sh->tail[k];
        if (sh->type[k] == SEG_LITERAL) {
            if (o + 1 + len > RR_MAX_LINE)
                return 0;       /* longer than any rule's source */
            skel[o++] = '/';
            memcpy(skel + o, seg, len);
            o += len;
            continue;
        }
        if (len < h + t + 1)
            return 0;
        skel[o++] = '/';
        memcpy(skel + o, seg, h);
        memcpy(skel + o + h, seg + len - t, t);
        o += h + t;
    }
    *n = o;
    return 1;
}

static int bytes_eq(const char *rule, const char *req, size_t n, int nocase)
{
    size_t i;
    if (!nocase)
        return memcmp(rule, req, n) == 0;
    for (i = 0; i < n; i++) {
        if (rule[i] != (char)fold((unsigned char)req[i]))
            return 0;
    }
    return 1;
}

/* Matches the stored form against the request's first segments (the
 * count is the caller's); with `sh`, its shape must be that one. */
static int match_segments(const char *s, size_t n, int nocase,
                          const rr_shape *sh, const char *path,
                          const rr_reqsegs *sg, rr_capture *caps,
                          uint32_t *nseg)
{
    size_t i = 1;
    uint32_t k = 0;
    int nc = 0;
    for (;; k++) {
        rr_pseg g;
        const char *seg;
        size_t len;
        if (k >= sg->nfull || k >= RR_MAX_PATTERN_SEGMENTS)
            return -1;
        next_pseg(s, n, &i, &g);
        if (sh && (k >= sh->nseg || sh->type[k] != g.type
                   || (g.type != SEG_LITERAL
                       && (sh->head[k] != g.head || sh->tail[k] != g.tail))))
            return -1;
        seg = path + sg->start[k];
        len = sg->end[k] - sg->start[k];
        if (g.type == SEG_LITERAL) {
            if (len != g.head || !bytes_eq(g.lit, seg, len, nocase))
                return -1;
        }
        else {
            if (len < g.head + g.tail + 1
                || !bytes_eq(g.lit, seg, g.head, nocase)
                || !bytes_eq(g.tail_at, seg + len - g.tail, g.tail, nocase))
                return -1;
            if (caps) {
                caps[nc].name = g.name;
                caps[nc].nlen = g.nlen;
                caps[nc].val = seg + g.head;
                caps[nc].vlen = len - g.head - g.tail;
            }
            nc++;
        }
        if (i >= n)
            break;
        i++;
    }
    if (sh && k + 1 != sh->nseg)
        return -1;
    *nseg = k + 1;
    return nc;
}

int rr_pattern_captures(const rr_rec *r, const char *path, size_t len,
                        rr_capture *caps)
{
    rr_reqsegs sg;
    uint32_t nseg;
    if (!split_request(path, len, &sg))
        return -1;
    return match_segments(r->src, r->src_len, (r->bits & RB_NOCASE) != 0,
                          NULL, path, &sg, caps, &nseg);
}

/* Does the pattern record at `off` answer the request: its group, kind,
 * case, shape and literals, its segment count under the table's trailing
 * slash option, and neither qsnone nor a closed window refusing it? */
static int pattern_record_answers(const rr_table *t, uint32_t off,
                                  const rr_group *g, const rr_shape *sh,
                                  int nocase, const char *path,
                                  const rr_reqsegs *sg, const rr_request *rq)
{
    rr_rec r;
    uint32_t nseg;
    rec_decode_head(t->arena, off, &r);
    if (!r.pattern || !(r.bits & RB_NOCASE) != !nocase
        || ((r.bits & RB_KIND_MASK) == RR_KIND_PREFIX) != !!sh->prefix
        || !rec_in_group(&r, g))
        return 0;
    if (!sh->prefix
        && (t->opt.trailing_strict ? sg->nfull : sg->ntrim) != sh->nseg)
        return 0;
    if (match_segments(r.src, r.src_len, nocase, sh, path, sg, NULL,
                       &nseg) < 0)
        return 0;
    return !rr_rule_refuses(t, off, rq);
}

/* The first record of t in slot order with this hash that answers. */
static uint32_t probe_pattern(const rr_table *t, uint64_t hash,
                              const rr_group *g, const rr_shape *sh,
                              int nocase, const char *path,
                              const rr_reqsegs *sg, const rr_request *rq)
{
    uint32_t h32 = (uint32_t)(hash >> 32), i;
    for (i = slot_home(h32, t->cap);; i++) {
        uint64_t s = t->slots[i];
        uint32_t off = (uint32_t)s, sh32 = (uint32_t)(s >> 32);
        if (off == 0 || sh32 > h32)
            return 0;
        if (sh32 == h32
            && pattern_record_answers(t, off, g, sh, nocase, path, sg, rq))
            return off;
    }
}

/* Shapes are hashed a batch at a time and every slot the batch will
 * probe is prefetched first, so that the probes' cache misses overlap
 * (a miss in a large table costs more than hashing a path). */
#define SHAPE_BATCH 16

typedef struct {
    const rr_shape *sh;
    int nocase;
    uint64_t hash;
} rr_shape_probe;

int rr_set_lookup_pattern(const rr_set *s, const rr_group *g,
                          const char *path, size_t len,
                          const rr_request *rq, rr_match *m)
{
    char skel[RR_MAX_LINE + 2];
    rr_reqsegs sg;
    rr_shape_probe pr[2 * SHAPE_BATCH];
    int i = 0, j, k, np, best_k = -1, best_score = -1, hostless;
    uint32_t best_off = 0, best_nseg = 0;
    if (!split_request(path, len, &sg))
        return 0;
    hostless = !(g->xbits & XB_HOST);
    while (i < s->nshapes && (best_k < 0 || s->shapes[i]->score >= best_score)) {
        /* a batch: hash the shapes that fit, prefetch their slots */
        for (np = 0; i < s->nshapes && np + 2 <= 2 * SHAPE_BATCH; i++) {
            const rr_shape *sh = s->shapes[i];
            size_t n;
            int nocase;
            if (best_k >= 0 && sh->score < best_score)
                break;
            if (!request_skeleton(sh, path, &sg, skel, &n))
                continue;
            for (nocase = 0; nocase < 2; nocase++) {
                if (nocase ? !sh->has_nocase : !sh->has_case)
                    continue;
                pr[np].sh = sh;
                pr[np].nocase = nocase;
                pr[np].hash = pattern_hash(g->seed, sh, nocase, skel, n);
                for (k = 0; k < s->ntables; k++) {
                    const rr_table *t = s->tables[k];
                    if (t->nshapes)
                        __builtin_prefetch(&t->slots[slot_home(
                            (uint32_t)(pr[np].hash >> 32), t->cap)]);
                }
                np++;
            }
        }
        for (j = 0; j < np; j++) {
            const rr_shape *sh = pr[j].sh;
            if (best_k >= 0 && sh->score < best_score)
                break;          /* shapes come most literal first */
            for (k = 0; k < s->ntables; k++) {
                const rr_table *t = s->tables[k];
                uint32_t off;
                if (t->nshapes == 0 || (best_k >= 0 && k > best_k)
                    || !(hostless || rr_table_has_group(t, g->seed)))
                    continue;
                off = probe_pattern(t, pr[j].hash, g, sh, pr[j].nocase,
                                    path, &sg, rq);
                if (off && (best_k < 0 || k < best_k
                            || (k == best_k && off < best_off))) {
                    best_k = k;
                    best_off = off;
                    best_score = sh->score;
                    best_nseg = sh->nseg;
                }
            }
        }
    }
    if (best_k < 0)
        return 0;
    m->set = s;
    m->table = s->tables[best_k];
    m->rule = best_off;
    m->tail = (uint32_t)len;
    if ((rec_bits(m->table->arena, best_off) & RB_KIND_MASK)
        == RR_KIND_PREFIX) {
        uint32_t end = sg.end[best_nseg - 1];
        m->tail = end < len ? end + 1 : (uint32_t)len;
    }
    return 1;
}

/* ---- shapes of tables and sets ------------------------------------------ */

static void shape_note(apr_hash_t *seen, apr_array_header_t *list,
                       const rr_shape *sh, int nocase)
{
    rr_shape *have = apr_hash_get(seen, &sh->seed, sizeof(sh->seed));
    if (!have) {
        /* the key is copied: pushing may move the array's elements */
        uint64_t *key = apr_pmemdup(apr_hash_pool_get(seen), &sh->seed,
                                    sizeof(sh->seed));
        have = apr_array_push(list);
        *have = *sh;
        apr_hash_set(seen, key, sizeof(*key),
                     (void *)(uintptr_t)list->nelts);
        have->has_case = have->has_nocase = 0;
    }
    else {
        have = &APR_ARRAY_IDX(list, (int)(uintptr_t)have - 1, rr_shape);
    }
    if (nocase)
        have->has_nocase = 1;
    else
        have->has_case = 1;
}

int rr_table_collect_shapes(rr_table *t, apr_pool_t *pool)
{
    apr_pool_t *tmp;
    apr_hash_t *seen;
    apr_array_header_t *list;
    char skel[RR_MAX_LINE + 2];
    uint32_t i;
    rr_shape *out;
    const rr_shape **ptrs;
    if (t->stats.pattern == 0)
        return 1;
    if (apr_pool_create(&tmp, pool) != APR_SUCCESS)
        return 0;
    seen = apr_hash_make(tmp);
    list = apr_array_make(tmp, 8, sizeof(rr_shape));
    for (i = 0; i < t->nrec; i++) {
        rr_rec r;
        rr_shape sh;
        size_t n;
        rec_decode(t->arena, t->offs[i], &r);
        if (!r.pattern || (r.bits & RB_SHADOWED)
            || rr_pattern_shape(r.src, r.src_len,
                                (r.bits & RB_KIND_MASK) == RR_KIND_PREFIX,
                                &sh, skel, &n))
            continue;
        shape_note(seen, list, &sh, (r.bits & RB_NOCASE) != 0);
    }
    /* most literal first, equal scores in file order (a stable insertion
     * sort: shapes are few), the order every lookup tries them in */
    out = apr_palloc(pool, sizeof(rr_shape) * (size_t)list->nelts);
    ptrs = apr_palloc(pool, sizeof(*ptrs) * (size_t)list->nelts);
    for (i = 0; i < (uint32_t)list->nelts; i++) {
        const rr_shape *sh = &APR_ARRAY_IDX(list, (int)i, rr_shape);
        uint32_t k;
        for (k = i; k > 0 && out[k - 1].score < sh->score; k--)
            out[k] = out[k - 1];
        out[k] = *sh;
    }
    for (i = 0; i < (uint32_t)list->nelts; i++)
        ptrs[i] = &out[i];
    t->shapes = out;
    t->shape_list = ptrs;
    t->nshapes = (uint32_t)list->nelts;
    apr_pool_destroy(tmp);
    return 1;
}

void rr_set_add_shapes(rr_set *s, const rr_table *t)
{
    const rr_shape **list;
    uint32_t i;
    int k, n = s->nshapes;
    if (t->nshapes == 0)
        return;
    if (n == 0) {
        /* the first table with patterns: its own list, already in order
         * (per-directory rules build a set per request) */
        s->shapes = t->shape_list;
        s->nshapes = (int)t->nshapes;
        return;
    }
    list = apr_palloc(s->pool, sizeof(*list) * ((size_t)n + t->nshapes));
    if (n)
        memcpy(list, s->shapes, sizeof(*list) * (size_t)n);
    for (i = 0; i < t->nshapes; i++) {
        const rr_shape *sh = &t->shapes[i];
        rr_shape *merged;
        for (k = 0; k < n && list[k]->seed != sh->seed; k++)
            ;
        merged = apr_palloc(s->pool, sizeof(*merged));
        *merged = *sh;
        if (k < n) {
            merged->has_case |= list[k]->has_case;
            merged->has_nocase |= list[k]->has_nocase;
            list[k] = merged;
            continue;
        }
        /* insertion keeps most literal first, equal scores in order */
        for (k = n; k > 0 && list[k - 1]->score < merged->score; k--)
            list[k] = list[k - 1];
        list[k] = merged;
        n++;
    }
    s->shapes = list;
    s->nshapes = n;
}

/* ---- configuration-time analysis --------------------------------------- */

/* A value standing for "any": a valid, non-empty path segment that no
 * real rule is expected to name literally. */
#define SAMPLE_VALUE "~rr307~any~"

const char *rr_pattern_sample(apr_pool_t *p, const rr_rec *r, size_t *len)
{
    size_t i = 1, o = 0, n = r->src_len;
    char *out = apr_palloc(p, n + RR_MAX_PLACEHOLDERS * sizeof(SAMPLE_VALUE)
                              + 2);
    out[o++] = '/';
    for (;;) {
        rr_pseg g;
        next_pseg(r->src, n, &i, &g);
        memcpy(out + o, g.lit, g.head);
        o += g.head;
        if (g.type != SEG_LITERAL) {
            memcpy(out + o, SAMPLE_VALUE, sizeof(SAMPLE_VALUE) - 1);
            o += sizeof(SAMPLE_VALUE) - 1;
            memcpy(out + o, g.tail_at, g.tail);
            o += g.tail;
        }
        if (i >= n)
            break;
        out[o++] = '/';
        i++;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* Does segment a match every value segment b matches? */
static int seg_covers(const rr_pseg *a, const rr_pseg *b, int nocase)
{
    char x[RR_MAX_LINE];
    size_t k;
    if (a->type == SEG_PLACEHOLDER)
        return b->type != SEG_LITERAL || b->head > 0;
    if (b->type == SEG_PLACEHOLDER)
        return 0;
    if (a->type == SEG_LITERAL) {
        if (b->type != SEG_LITERAL || b->head != a->head)
            return 0;
        for (k = 0; k < b->head; k++)
            x[k] = nocase ? (char)fold((unsigned char)b->lit[k]) : b->lit[k];
        return memcmp(a->lit, x, a->head) == 0;
    }
    /* a mixed: b's text must start with a's head and end with its tail
     * and leave a's placeholder a byte at least */
    if (b->type == SEG_LITERAL)
        return b->head >= a->head + a->tail + 1
               && bytes_eq(a->lit, b->lit, a->head, nocase)
               && bytes_eq(a->tail_at, b->lit + b->head - a->tail, a->tail,
                           nocase);
    return b->head >= a->head && b->tail >= a->tail
           && bytes_eq(a->lit, b->lit, a->head, nocase)
           && bytes_eq(a->tail_at, b->tail_at + b->tail - a->tail, a->tail,
                       nocase);
}

int rr_pattern_covers(const rr_rec *a, const rr_rec *b)
{
    int ap = (a->bits & RB_KIND_MASK) == RR_KIND_PREFIX;
    int bp = (b->bits & RB_KIND_MASK) == RR_KIND_PREFIX;
    int nocase = (a->bits & RB_NOCASE) != 0;
    size_t i = 1, j = 1;
    if (!nocase && (b->bits & RB_NOCASE))
        return 0;           /* b matches spellings a does not */
    if (bp && !ap)
        return 0;
    for (;;) {
        rr_pseg x, y;
        next_pseg(a->src, a->src_len, &i, &x);
        next_pseg(b->src, b->src_len, &j, &y);
        if (!seg_covers(&x, &y, nocase))
            return 0;
        if (i >= a->src_len)
            return ap || j >= b->src_len;
        if (j >= b->src_len)
            return 0;
        i++;
        j++;
    }
}
