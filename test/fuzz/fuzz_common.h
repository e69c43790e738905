/*
 * fuzz_common.h - helpers shared by the libFuzzer targets of the rules
 * engine (test/fuzz/fuzz_*.c).  Header-only: each target is one program.
 *
 * Every input gets a fresh unmanaged APR pool with an allocator of its
 * own, destroyed at the end of the input: the pool's memory goes back to
 * malloc, so ASan sees use after destroy and LeakSanitizer sees anything
 * the engine malloc'd and failed to hand to a pool cleanup.
 *
 * A violated property prints what was violated and abort()s, which
 * libFuzzer reports as a crash (and saves the input).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_strings.h"

#include "redirect_rules.h"

#define FUZZ_UNUSED __attribute__((unused))

#define FUZZ_FAIL(...)                                                    \
    do {                                                                  \
        fprintf(stderr, "\n*** fuzz property violated (%s:%d): ",         \
                __FILE__, __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                     \
        fputc('\n', stderr);                                              \
        abort();                                                          \
    } while (0)

#define FUZZ_CHECK(cond, ...)                                             \
    do {                                                                  \
        if (!(cond))                                                      \
            FUZZ_FAIL("!(" #cond "): " __VA_ARGS__);                      \
    } while (0)

/* Linked with -Wl,--wrap=apr_palloc (see mk/fuzz.mk), every apr_palloc()
 * and apr_pcalloc() the engine (and this harness) makes becomes a malloc
 * of exactly the size asked for, freed by a cleanup of the pool.  Pool
 * memory has no redzones between allocations: without this, ASan could
 * not see a read past the end of a table's arena, offsets or slots.
 * (APR's own apr_pstrdup & co. call apr_palloc inside libapr and keep
 * using the pool.) */
void *__real_apr_palloc(apr_pool_t *p, apr_size_t size);
void *__wrap_apr_palloc(apr_pool_t *p, apr_size_t size);

static FUZZ_UNUSED apr_status_t fuzz_free_block(void *data)
{
    free(data);
    return APR_SUCCESS;
}

void *__wrap_apr_palloc(apr_pool_t *p, apr_size_t size)
{
    void *m = malloc(size ? size : 1);
    if (!m)
        abort();
    apr_pool_cleanup_register(p, m, fuzz_free_block, apr_pool_cleanup_null);
    return m;
}

static FUZZ_UNUSED void fuzz_apr_init(void)
{
    static int done;
    if (!done) {
        if (apr_initialize() != APR_SUCCESS) {
            fprintf(stderr, "apr_initialize failed\n");
            abort();
        }
        done = 1;
    }
}

/* A root pool with its own allocator, independent of APR's global pool. */
static apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS || !p) {
        fprintf(stderr, "cannot create a pool\n");
        abort();
    }
    return p;
}

/* Printable rendering of s[0..n) for messages (in pool). */
static const char *fuzz_show(apr_pool_t *p, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(p, n * 4 + 1), *o = out;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            *o++ = (char)c;
        }
        else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* SPEC "The response": Location is an absolute URL with no raw space,
 * control character, CR/LF, DEL or non-ASCII byte. */
/* Length of "scheme://" at the start of s (RFC 3986 scheme), or 0. */
static FUZZ_UNUSED size_t fuzz_scheme_len(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
           || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-'
           || s[i] == '.')
        i++;
    return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

/* any_scheme: the rules may name any scheme (ftp://...); else the
 * Location must be http:// or https:// (all the fixed rules use). */
static FUZZ_UNUSED void fuzz_check_location(apr_pool_t *p, const char *loc,
                                const char *path, size_t plen,
                                const char *args, int any_scheme)
{
    const unsigned char *u = (const unsigned char *)loc;
    size_t i, sl = fuzz_scheme_len(loc);
    FUZZ_CHECK(sl > 0 && loc[sl] != '\0' && loc[sl] != '/'
               && (any_scheme || strncmp(loc, "http://", 7) == 0
                   || strncmp(loc, "https://", 8) == 0),
               "Location '%s' is not an absolute URL (scheme://host...) (path '%s', "
               "args '%s')", fuzz_show(p, loc, strlen(loc)),
               fuzz_show(p, path, plen),
               args ? fuzz_show(p, args, strlen(args)) : "(null)");
    for (i = 0; u[i]; i++) {
        FUZZ_CHECK(u[i] >= 0x21 && u[i] < 0x7f,
                   "Location '%s' holds byte 0x%02x at %lu (path '%s', "
                   "args '%s')", fuzz_show(p, loc, strlen(loc)), u[i],
                   (unsigned long)i, fuzz_show(p, path, plen),
                   args ? fuzz_show(p, args, strlen(args)) : "(null)");
    }
}

static FUZZ_UNUSED unsigned char fuzz_fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* a[0..n) equals b[0..n), case-blind for ASCII letters if folded. */
static FUZZ_UNUSED int fuzz_mem_eq(const char *a, const char *b, size_t n, int folded)
{
    size_t i;
    if (!folded)
        return memcmp(a, b, n) == 0;
    for (i = 0; i < n; i++) {
        if (fuzz_fold((unsigned char)a[i]) != fuzz_fold((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

/* Is every message "NAME:LINE: reason" (LINE in 1..max_line) or
 * "NAME: reason", NAME one of names[]? */
static FUZZ_UNUSED void fuzz_check_messages(apr_pool_t *p, const apr_array_header_t *arr,
                                const char *const *names,
                                const unsigned *max_line, int nnames,
                                const char *what)
{
    int i, k;
    for (i = 0; i < arr->nelts; i++) {
        const char *msg = APR_ARRAY_IDX(arr, i, const char *);
        int ok = 0;
        FUZZ_CHECK(msg != NULL, "%s %d is NULL", what, i);
        for (k = 0; k < nnames && !ok; k++) {
            size_t nl = strlen(names[k]);
            const char *s = msg + nl;
            unsigned long line = 0;
            size_t digits = 0;
            if (strncmp(msg, names[k], nl) != 0 || *s != ':')
                continue;
            s++;
            if (*s == ' ') {            /* file-level: "NAME: reason" */
                ok = 1;
                break;
            }
            while (*s >= '0' && *s <= '9' && digits < 10) {
                line = line * 10 + (unsigned long)(*s - '0');
                s++;
                digits++;
            }
            if (digits == 0 || s[0] != ':' || s[1] != ' ')
                continue;
            FUZZ_CHECK(line >= 1 && line <= max_line[k],
                       "%s '%s' names line %lu, but %s has %u lines", what,
                       fuzz_show(p, msg, strlen(msg)), line, names[k],
                       max_line[k]);
            ok = 1;
        }
        FUZZ_CHECK(ok, "%s '%s' does not start with 'NAME:LINE: ' or "
                   "'NAME: '", what, fuzz_show(p, msg, strlen(msg)));
    }
}

/* Lines rr_builder_add_buffer() counts in buf[0..len). */
static FUZZ_UNUSED unsigned fuzz_count_lines(const char *buf, size_t len)
{
    unsigned n = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        n++;
        if (!nl)
            break;
        i = (size_t)(nl - buf) + 1;
    }
    return n;
}

/* Checks a match against the path it matched (SPEC "Rules file",
 * README "Choices"): prefix matches on a segment boundary, exact and
 * query matches equal the path modulo trailing slash / case; the
 * Location is well formed. */
static int fuzz_name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}

/* Does a source segment (display form) hold a placeholder? */
static int fuzz_seg_has_placeholder(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i++) {
        if (s[i] == ':' && fuzz_name_byte(s[i + 1]))
            return 1;
    }
    return 0;
}

/* A pattern rule matched the path: as many segments (at least as many
 * for a prefix pattern), its literal segments equal, its placeholder
 * segments non-empty; and a captured value never changes an absolute
 * target's scheme and host. */
static void fuzz_check_pattern(apr_pool_t *p, const rr_rule_info *ri,
                               const rr_options *opt, const char *path,
                               size_t len, const char *loc, int nocase)
{
    const char *s = ri->source, *q = path + 1, *t = s + 1;
    size_t plen = len, nseg = 0, pseg = 0;
    int prefix = ri->kind == RR_KIND_PREFIX;
    FUZZ_CHECK(ri->kind != RR_KIND_QUERY, "query pattern rule '%s'", s);
    while (!prefix && !opt->trailing_strict && plen > 1
           && path[plen - 1] == '/')
        plen--;
    for (;;) {
        const char *te = strchr(t, '/'), *qe;
        size_t tn = te ? (size_t)(te - t) : strlen(t), qn;
        nseg++;
        FUZZ_CHECK(q <= path + plen, "pattern '%s' matched '%s': too few "
                   "segments", s, fuzz_show(p, path, len));
        qe = memchr(q, '/', (size_t)(path + plen - q));
        qn = qe ? (size_t)(qe - q) : (size_t)(path + plen - q);
        if (fuzz_seg_has_placeholder(t, tn))
            FUZZ_CHECK(qn > 0, "pattern '%s' matched an empty segment of "
                       "'%s'", s, fuzz_show(p, path, len));
        else
            FUZZ_CHECK(qn == tn && fuzz_mem_eq(q, t, tn, nocase),
                       "pattern '%s' matched '%s' off its literals", s,
                       fuzz_show(p, path, len));
        pseg++;
        q += qn + 1;
        if (!te)
            break;
        t = te + 1;
    }
    FUZZ_CHECK(prefix || q > path + plen, "pattern '%s' matched '%s': too "
               "many segments", s, fuzz_show(p, path, len));
    if (loc && ri->target && ri->target[0] != '/') {
        const char *h = strstr(ri->target, "://");
        size_t hn = h ? strcspn(h + 3, "/?#") + (size_t)(h + 3 - ri->target)
                      : 0;
        /* with captures in the target it is never collapsed away */
        int captures = h && fuzz_seg_has_placeholder(ri->target + hn,
                                                     strlen(ri->target + hn));
        FUZZ_CHECK(!captures || (!strncmp(loc, ri->target, hn)
                                 && strchr("/?#", loc[hn])),
                   "pattern '%s': Location '%s' left target host of '%s'",
                   s, fuzz_show(p, loc, strlen(loc)), ri->target);
    }
    (void)pseg;
}

static FUZZ_UNUSED void fuzz_check_match(apr_pool_t *p, const rr_match *m,
                             const char *path, size_t len, const char *args,
                             const char *const *base_parts, int any_scheme)
{
    rr_rule_info ri;
    const rr_options *opt = rr_table_options(m->table);
    const char *loc;
    int nocase, status;
    size_t klen;

    rr_match_rule(m, p, &ri);
    nocase = (ri.flags & RR_FLAG_NOCASE) != 0;
    klen = strlen(ri.source);
    FUZZ_CHECK(!opt->case_insensitive || nocase,
               "rule '%s' of a case-insensitive table is not nocase",
               ri.source);
    switch (ri.pattern ? -1 : (int)ri.kind) {
    case -1:
        break;      /* checked with the Location below */
    case RR_KIND_PREFIX:
        FUZZ_CHECK(len >= klen && fuzz_mem_eq(path, ri.source, klen, nocase)
                   && (klen == len || path[klen] == '/'),
                   "prefix rule '%s'%s matched path '%s' off a segment "
                   "boundary", fuzz_show(p, ri.source, klen),
                   nocase ? " (nocase)" : "", fuzz_show(p, path, len));
        FUZZ_CHECK(m->tail <= len, "tail %u beyond path length %lu",
                   m->tail, (unsigned long)len);
        break;
    case RR_KIND_QUERY:
        FUZZ_CHECK(args && *args, "query rule '%s?%s' matched without args",
                   ri.source, ri.query ? ri.query : "");
        /* fall through */
    case RR_KIND_EXACT: {
        size_t plen = len;
        /* TrailingSlash Ignore: /a, /a/ and /a// are one path */
        while (!opt->trailing_strict && plen > 1 && path[plen - 1] == '/')
            plen--;
        FUZZ_CHECK(plen == klen && fuzz_mem_eq(path, ri.source, klen, nocase),
                   "%s rule '%s'%s matched path '%s'",
                   ri.kind == RR_KIND_EXACT ? "exact" : "query",
                   fuzz_show(p, ri.source, klen), nocase ? " (nocase)" : "",
                   fuzz_show(p, path, len));
        break;
    }
    default:
        FUZZ_FAIL("unknown rule kind %d", (int)ri.kind);
    }
    status = rr_match_status(m, 307);
    FUZZ_CHECK(status == 301 || status == 302 || status == 303
               || status == 307 || status == 308 || status == 410,
               "status %d", status);
    {
        /* Its own status, or under Collapse its chain's: permanent or
         * method-preserving only if this first hop is, 303 if it is. */
        int own = ri.status ? ri.status : 307;
        int perm = status == 301 || status == 308;
        int keep = status == 307 || status == 308;
        FUZZ_CHECK((own == 410) == (status == 410)
                   && (!perm || own == 301 || own == 308)
                   && (!keep || own == 307 || own == 308)
                   && (own != 303 || status == 303),
                   "status %d vs rule %d", status, ri.status);
    }
    if (base_parts)
        loc = rr_match_location_parts(m, p, path, args, base_parts);
    else
        loc = rr_match_location(m, p, path, args, "http://example.com:8080");
    if (status == 410) {
        FUZZ_CHECK(loc == NULL, "410 with Location '%s'",
                   fuzz_show(p, loc, strlen(loc)));
    }
    else {
        FUZZ_CHECK(loc != NULL, "status %d without a Location", status);
        fuzz_check_location(p, loc, path, len, args, any_scheme);
    }
    if (ri.pattern)
        fuzz_check_pattern(p, &ri, opt, path, len,
                           loc, nocase);
    FUZZ_CHECK(strchr(rr_match_origin(m, p), ':') != NULL, "origin");
    {
        /* The record index (per-rule counters) names a live record that
         * describes the same rule. */
        uint32_t idx = rr_match_index(m);
        rr_rule_info rec;
        FUZZ_CHECK(idx < rr_table_records(m->table), "match index %u of %u",
                   idx, rr_table_records(m->table));
        FUZZ_CHECK(rr_table_record(m->table, idx, p, &rec) == 1,
                   "match index %u is a shadowed record", idx);
        FUZZ_CHECK(rec.line == ri.line && rec.kind == ri.kind
                   && strcmp(rec.source, ri.source) == 0,
                   "match index %u describes line %u, the match line %u",
                   idx, rec.line, ri.line);
    }
}

/* The i-th error (errors != 0) or warning message of d, or "?". */
static FUZZ_UNUSED const char *fuzz_diag_msg(const rr_diag *d, int errors,
                                             int i)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (!rr_diag_is_error(e->kind) == !errors && i-- == 0)
            return e->message;
    }
    return "?";
}

#endif /* FUZZ_COMMON_H */
