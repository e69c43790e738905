/*
 * r307_statsfmt.c - the stats file format and rule keys (see
 * r307_statsfmt.h), shared by httpd and the redirect307 CLI.  No httpd
 * header here: the CLI links this file with the engine alone.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "r307_statsfmt.h"

static const char hex_digits[] = "0123456789ABCDEF";

/* Bytes written %XX in a key: blanks, controls and non-ASCII (so that a
 * key is one printable ASCII word), '%' (the escape itself), '?' (ends the
 * path), '#' (starts a comment in rules files), '*' (the prefix mark), and
 * in a query parameter '&' (separates parameters). */
static int key_escapes(unsigned char c, int in_param)
{
    return c < 0x21 || c >= 0x7f || c == '%' || c == '?' || c == '#'
           || c == '*' || (in_param && c == '&');
}

/* Escaped length of s[0..n). */
static apr_size_t escaped_len(const char *s, apr_size_t n, int in_param)
{
    apr_size_t i, len = n;
    for (i = 0; i < n; i++)
        len += key_escapes((unsigned char)s[i], in_param) ? 2 : 0;
    return len;
}

/* Writes s[0..n) escaped at out; returns the end. */
static char *escape_into(char *out, const char *s, apr_size_t n,
                         int in_param)
{
    apr_size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (key_escapes(c, in_param)) {
            *out++ = '%';
            *out++ = hex_digits[c >> 4];
            *out++ = hex_digits[c & 15];
        }
        else {
            *out++ = (char)c;
        }
    }
    return out;
}

static int hex_value(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes p[0..n) into out as the engine compares query parameters: a
 * '%' followed by two hex digits is that byte, any other '%' itself.
 * Returns the decoded length (at most n). */
static apr_size_t param_decode(char *out, const char *p, apr_size_t n)
{
    apr_size_t i = 0, o = 0;
    while (i < n) {
        int hi = i + 2 < n ? hex_value((unsigned char)p[i + 1]) : -1;
        int lo = i + 2 < n ? hex_value((unsigned char)p[i + 2]) : -1;
        if (p[i] == '%' && hi >= 0 && lo >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 3;
        }
        else {
            out[o++] = p[i++];
        }
    }
    return o;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A query's parameters, each decoded and escaped, sorted, joined by '&':
 * the same text for every spelling the engine matches alike (it compares
 * the parameters as a multiset after decoding, skipping empty ones). */
static const char *canonical_query(apr_pool_t *pool, const char *q)
{
    apr_array_header_t *params = apr_array_make(pool, 4, sizeof(char *));
    const char **sorted;
    apr_size_t n = strlen(q), i = 0, total = 0;
    char *out, *o;
    int k;

    while (i < n) {
        apr_size_t j = i, dn;
        char *dec, *esc;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            dec = apr_palloc(pool, j - i);
            dn = param_decode(dec, q + i, j - i);
            esc = apr_palloc(pool, escaped_len(dec, dn, 1) + 1);
            *escape_into(esc, dec, dn, 1) = '\0';
            APR_ARRAY_PUSH(params, char *) = esc;
            total += strlen(esc) + 1;
        }
        i = j + 1;
    }
    sorted = (const char **)params->elts;
    qsort(sorted, (size_t)params->nelts, sizeof(char *), cmp_strings);
    o = out = apr_palloc(pool, total + 1);
    for (k = 0; k < params->nelts; k++) {
        apr_size_t len = strlen(sorted[k]);
        if (k)
            *o++ = '&';
        memcpy(o, sorted[k], len);
        o += len;
    }
    *o = '\0';
    return out;
}

const char *r307_stats_key(apr_pool_t *pool, const rr_rule_info *in)
{
    const char *path = in->written ? in->written : in->source;
    const char *scheme = in->scheme ? in->scheme : "";
    const char *sep = in->scheme ? "://" : "//";
    const char *query = in->kind == RR_KIND_QUERY && in->query
                        ? canonical_query(pool, in->query) : NULL;
    apr_size_t plen = strlen(path), hlen = in->host ? strlen(in->host) : 0;
    apr_size_t len = escaped_len(path, plen, 0) + 2 + 1
                     + (query ? strlen(query) + 1 : 0)
                     + (in->host ? strlen(scheme) + 3
                                   + escaped_len(in->host, hlen, 0) : 0);
    char *key = apr_palloc(pool, len), *o = key;

    if (in->host) {
        o = apr_cpystrn(o, scheme, len);
        o = apr_cpystrn(o, sep, 4);
        /* a wildcard's star is the host's, not a prefix mark: kept */
        if (in->host[0] == '*') {
            *o++ = '*';
            o = escape_into(o, in->host + 1, hlen - 1, 0);
        }
        else {
            o = escape_into(o, in->host, hlen, 0);
        }
    }
    o = escape_into(o, path, plen, 0);
    if (in->kind == RR_KIND_PREFIX) {
        *o++ = '/';
        *o++ = '*';
    }
    if (query) {
        *o++ = '?';
        o = apr_cpystrn(o, query, strlen(query) + 1);
    }
    *o = '\0';
    return key;
}

r307_stats *r307_stats_make(apr_pool_t *pool)
{
    r307_stats *st = apr_pcalloc(pool, sizeof(*st));
    st->pool = pool;
    st->keys = apr_hash_make(pool);
    return st;
}

r307_stats_val *r307_stats_get(const r307_stats *st, const char *key)
{
    return apr_hash_get(st->keys, key, APR_HASH_KEY_STRING);
}

void r307_stats_add(r307_stats *st, const char *key, apr_uint64_t hits,
                    apr_uint64_t last)
{
    r307_stats_val *v = apr_hash_get(st->keys, key, APR_HASH_KEY_STRING);
    if (!v) {
        v = apr_pcalloc(st->pool, sizeof(*v));
        apr_hash_set(st->keys, apr_pstrdup(st->pool, key),
                     APR_HASH_KEY_STRING, v);
    }
    v->hits += hits;
    if (last > v->last)
        v->last = last;
}

/* Decimal digits s[0..n) into *v; 0 if empty, not digits or past 2^64. */
static int parse_u64(const char *s, apr_size_t n, apr_uint64_t *v)
{
    apr_uint64_t x = 0;
    apr_size_t i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || x > (APR_UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/* "redirect307-stats 1 [NAME=VALUE...]": the version must be ours;
 * fields other than since= are ignored (a later writer may add some). */
static const char *parse_header(r307_stats *st, const char *s, apr_size_t n)
{
    apr_size_t i = 0, magic = sizeof(R307_STATS_MAGIC) - 1;
    int field = 0;
    if (n < magic || memcmp(s, R307_STATS_MAGIC, magic) != 0
        || (n > magic && s[magic] != ' '))
        return "not a redirect307 stats file (no \"" R307_STATS_MAGIC
               " 1\" first line)";
    i = magic;
    while (i < n) {
        apr_size_t j;
        apr_uint64_t v;
        while (i < n && s[i] == ' ')
            i++;
        for (j = i; j < n && s[j] != ' '; j++)
            ;
        if (j == i)
            break;
        if (field == 0) {
            if (!parse_u64(s + i, j - i, &v) || v != R307_STATS_VERSION)
                return apr_psprintf(st->pool, "stats file version '%.*s', "
                                    "this module reads version %d",
                                    (int)(j - i), s + i, R307_STATS_VERSION);
        }
        else if (j - i > 6 && !memcmp(s + i, "since=", 6)) {
            if (!parse_u64(s + i + 6, j - i - 6, &v))
                return "bad since= in the first line";
            st->since = v;
        }
        field++;
        i = j;
    }
    return field ? NULL : "no version in the first line";
}

/* One data line; NULL or why it is not one. */
static const char *parse_record(r307_stats *st, const char *s, apr_size_t n)
{
    const char *t1 = memchr(s, '\t', n), *t2, *key;
    apr_uint64_t hits, last;
    apr_size_t k, klen;
    if (!t1 || !(t2 = memchr(t1 + 1, '\t', n - (apr_size_t)(t1 + 1 - s))))
        return "not HITS<TAB>LAST<TAB>KEY";
    if (!parse_u64(s, (apr_size_t)(t1 - s), &hits))
        return "HITS is not a number";
    if (!parse_u64(t1 + 1, (apr_size_t)(t2 - t1 - 1), &last))
        return "LAST is not a number of seconds";
    key = t2 + 1;
    klen = n - (apr_size_t)(key - s);
    if (klen == 0)
        return "empty KEY";
    for (k = 0; k < klen; k++) {
        if ((unsigned char)key[k] < 0x21 || (unsigned char)key[k] == 0x7f)
            return "KEY holds a blank or control byte";
    }
    r307_stats_add(st, apr_pstrmemdup(st->pool, key, klen), hits, last);
    return NULL;
}

apr_status_t r307_stats_parse(r307_stats *st, const char *buf,
                              apr_size_t len, r307_stats_errors *e)
{
    apr_size_t i = 0;
    unsigned line = 0;
    memset(e, 0, sizeof(*e));
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        apr_size_t end = nl ? (apr_size_t)(nl - buf) : len, n = end - i;
        const char *why;
        line++;
        if (n > 0 && buf[i + n - 1] == '\r')
            n--;
        if (line == 1) {
            if ((e->why = parse_header(st, buf + i, n)) != NULL) {
                e->first_bad = 1;
                return APR_EINVAL;
            }
        }
        else if (n > 0 && buf[i] != '#'
                 && (why = parse_record(st, buf + i, n)) != NULL) {
            if (e->bad_lines++ == 0) {
                e->first_bad = line;
                e->why = why;
            }
        }
        i = end + 1;
    }
    return APR_SUCCESS;
}

const char *r307_stats_text(const r307_stats *st, apr_pool_t *pool,
                            apr_size_t *len)
{
    apr_array_header_t *keys = apr_array_make(pool, 64, sizeof(char *));
    apr_hash_index_t *hi;
    apr_size_t total;
    char *out, *o;
    const char *head;
    int k;

    head = st->since
        ? apr_psprintf(pool, "%s %d since=%" APR_UINT64_T_FMT "\n",
                       R307_STATS_MAGIC, R307_STATS_VERSION, st->since)
        : apr_psprintf(pool, "%s %d\n", R307_STATS_MAGIC,
                       R307_STATS_VERSION);
    total = strlen(head);
    for (hi = apr_hash_first(pool, st->keys); hi; hi = apr_hash_next(hi)) {
        const r307_stats_val *v = apr_hash_this_val(hi);
        if (v->hits == 0)
            continue;
        APR_ARRAY_PUSH(keys, const char *) = apr_hash_this_key(hi);
        /* two numbers of at most 20 digits, two tabs, a line end */
        total += strlen(apr_hash_this_key(hi)) + 43;
    }
    qsort(keys->elts, (size_t)keys->nelts, sizeof(char *), cmp_strings);
    o = out = apr_palloc(pool, total + 1);
    o = apr_cpystrn(o, head, total + 1);
    for (k = 0; k < keys->nelts; k++) {
        const char *key = APR_ARRAY_IDX(keys, k, const char *);
        const r307_stats_val *v = r307_stats_get(st, key);
        o += apr_snprintf(o, total + 1 - (apr_size_t)(o - out),
                          "%" APR_UINT64_T_FMT "\t%" APR_UINT64_T_FMT
                          "\t%s\n", v->hits, v->last, key);
    }
    *len = (apr_size_t)(o - out);
    return out;
}
