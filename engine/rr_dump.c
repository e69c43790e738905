/*
 * rr_dump.c - a frozen table written back as rules-file text that parses
 * to the same answers (the round trip the fuzzers check).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"

#include "rr_internal.h"

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
        size_t k = c >= 0x80 ? rr_utf8_seq((const unsigned char *)s + i, n - i)
                             : 1;
        if (c >= 0x80 && k > 0) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        /* ':' before a name byte would read back as a placeholder */
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '*'
            || c == '#'
            || (c == ':' && i + 1 < n && (apr_isalnum(s[i + 1])
                                          || s[i + 1] == '_'))) {
            *o++ = '%';
            *o++ = rr_hexdigits[c >> 4];
            *o++ = rr_hexdigits[c & 15];
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
    if (!rr_target_path_equals(r->target, r->tgt_len, prefix, buf,
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

/* How a host rule's source starts: "//host", "https://" "*." "suffix", ... */
static const char *dump_host(apr_pool_t *pool, const rr_rec *r)
{
    if (!(r->xbits & XB_HOST))
        return "";
    return apr_pstrcat(pool, (r->xbits & XB_HTTPS) ? "https://"
                             : (r->xbits & XB_HTTP) ? "http://" : "//",
                       (r->xbits & XB_WILD) ? "*." : "",
                       apr_pstrmemdup(pool, r->host, r->h_len), NULL);
}

/* A hostless source whose path starts like "//HOST" would read back as
 * a host rule: its second slash is written escaped. */
static const char *dump_path(apr_pool_t *pool, const rr_rec *r,
                             const char *path)
{
    if (!(r->xbits & XB_HOST) && source_names_host(path, strlen(path)))
        return apr_pstrcat(pool, "/%2F", path + 2, NULL);
    return path;
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
        source = apr_pstrcat(pool, r.pattern
                             ? rr_pattern_written_form(pool, r.src,
                                                       r.src_len, 1)
                             : dump_source(pool, r.src, r.src_len, upper,
                                           slash),
                             prefix ? "/*" : "", NULL);
        source = dump_path(pool, &r, source);
        if (!(r.bits & RB_SELF) && !r.pattern
            && (r.bits & RB_KIND_MASK) != RR_KIND_QUERY
            && r.tgt_len > 0 && r.target[0] == '/'
            && rr_target_is_own_source(&t->opt, r.target, r.tgt_len, r.bits,
                                    r.src, r.src_len)) {
            /* a loop onto itself: spelled as its target, it stays one */
            size_t mainlen = target_main_len(r.target, r.tgt_len)
                             - ((r.bits & RB_STAR) ? 1 : 0);
            source = apr_pstrcat(pool, apr_pstrmemdup(pool, r.target, mainlen),
                                 prefix ? "*" : "", NULL);
        }
        source = apr_pstrcat(pool, dump_host(pool, &r), source, NULL);
        flags = apr_pstrcat(pool,
                            (r.bits & RB_NOCASE) ? ",nocase" : "",
                            (r.bits & RB_QSDROP) ? ",qsdrop" : "",
                            (r.bits & RB_QSAPPEND) ? ",qsappend" : "",
                            (r.xbits & XB_QSNONE) ? ",qsnone" : "",
                            r.window && r.from ? ",from=" : "",
                            r.window && r.from
                                ? rr_time_format(pool, apr_time_from_sec(
                                                           r.from)) : "",
                            r.window && r.until != WINDOW_OPEN_END
                                ? ",until=" : "",
                            r.window && r.until != WINDOW_OPEN_END
                                ? rr_time_format(pool, apr_time_from_sec(
                                                           r.until)) : "",
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
