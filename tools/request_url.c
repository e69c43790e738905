/*
 * request_url.c - turns a URL into the request httpd would build from
 * it (r->uri, r->args and the base of the Location), or into the 400 or
 * 404 httpd would answer before any module runs, so that `redirect307
 * test` answers exactly what the module would.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include "cli_util.h"
#include "request_url.h"

#define HTTP_BAD_REQUEST 400
#define HTTP_NOT_FOUND   404

/* Highest TCP port. */
#define PORT_MAX 65535

/* How the second '.' of a ".." segment may be spelt: as is, or (while
 * unreserved escapes are being decoded) still escaped as "%2e". */
#define DOT_LEN         1
#define ESCAPED_DOT_LEN 3

/* What a path segment is to the normaliser. */
typedef enum { SEG_NAME, SEG_DOT, SEG_DOTDOT } seg_kind;

static void reject(request *r, int status, const char *why)
{
    r->state = REQ_REJECTED;
    r->status = status;
    r->why = why;
}

static void bad_url(request *r, const char *why)
{
    r->state = REQ_BAD_URL;
    r->why = why;
}

/* ---- normalising the path, as ap_normalize_path() ----------------- */

/* RFC 3986 unreserved: the bytes httpd decodes before normalising. */
static int is_unreserved(int c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* path[*l] is '%'.  Decodes the escape in place when it stands for an
 * unreserved byte, leaving *l on the decoded byte.  0 for a bad escape. */
static int decode_unreserved(char *path, size_t *l)
{
    int hi = cli_hex_value((unsigned char)path[*l + 1]);
    int lo = hi < 0 ? -1 : cli_hex_value((unsigned char)path[*l + 2]);
    if (hi < 0 || lo < 0)
        return 0;
    if (is_unreserved(hi * 16 + lo)) {
        *l += 2;
        path[*l] = (char)(hi * 16 + lo);
    }
    return 1;
}

static int ends_segment(char c)
{
    return c == '/' || c == '\0';
}

/* Length of the second dot of a ".." spelt at s, or 0. */
static size_t second_dot_len(const char *s, int decode)
{
    if (s[0] == '.')
        return DOT_LEN;
    if (decode && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E'))
        return ESCAPED_DOT_LEN;
    return 0;
}

/* Classifies the segment starting at s; for a dot segment *len is the
 * bytes it spans, its '/' not included. */
static seg_kind segment_kind(const char *s, int decode, size_t *len)
{
    size_t second;
    if (s[0] != '.')
        return SEG_NAME;
    if (ends_segment(s[1])) {
        *len = 1;
        return SEG_DOT;
    }
    second = second_dot_len(s + 1, decode);
    if (second && ends_segment(s[1 + second])) {
        *len = 1 + second;
        return SEG_DOTDOT;
    }
    return SEG_NAME;
}

/* Where the output ends once its last segment is removed ('..'). */
static size_t parent_end(const char *path, size_t w)
{
    do {
        w--;
    } while (w && path[w - 1] != '/');
    return w;
}

/* httpd's ap_normalize_path(path, NOT_ABOVE_ROOT | MERGE_SLASHES
 * [| DECODE_UNRESERVED]), in place: decodes %XX of unreserved bytes,
 * merges '//', removes '.' segments and resolves '..' ones.  Returns 1,
 * or 0 where httpd answers 400, saying why in *why.  The walk reads at
 * `l` and writes at `w` <= l. */
static int normalize_path(char *path, int decode, const char **why)
{
    size_t l = 1, w = 1, len = 0;
    int bad_escape = 0, above_root = 0;
    if (path[0] != '/') {
        *why = "the path does not start with '/'";
        return 0;
    }
    while (path[l]) {
        seg_kind kind;
        if (decode && path[l] == '%' && !decode_unreserved(path, &l))
            bad_escape = 1;
        if (path[w - 1] != '/') {
            path[w++] = path[l++];
            continue;
        }
        if (path[l] == '/') {
            while (path[l] == '/')
                l++;
            continue;
        }
        kind = segment_kind(path + l, decode, &len);
        if (kind == SEG_NAME) {
            path[w++] = path[l++];
            continue;
        }
        if (kind == SEG_DOTDOT && w > 1)
            w = parent_end(path, w);
        else if (kind == SEG_DOTDOT)
            above_root = 1;
        l += len;
        if (path[l])
            l++;
    }
    path[w] = '\0';
    *why = bad_escape ? "bad %-escape in the path"
         : above_root ? "'..' above the root" : NULL;
    return !*why;
}

/* httpd's ap_unescape_url_ex() after normalisation, in place: 400 for a
 * bad escape, 404 for %00 or (AllowEncodedSlashes Off) %2F, else 0. */
static int unescape_path(char *s, url_slashes slashes)
{
    char *x = s, *y = s;
    int badesc = 0, badpath = 0;
    for (; *y; x++, y++) {
        int hi, lo, c;
        if (*y != '%') {
            *x = *y;
            continue;
        }
        hi = cli_hex_value((unsigned char)y[1]);
        lo = hi < 0 ? -1 : cli_hex_value((unsigned char)y[2]);
        if (hi < 0 || lo < 0) {
            badesc = 1;
            *x = '%';
            continue;
        }
        c = hi * 16 + lo;
        if (c == 0 || (c == '/' && slashes == URL_SLASHES_OFF)) {
            badpath = 1;
            *x = (char)c;
            y += 2;
        }
        else if (c == '/' && slashes == URL_SLASHES_NODECODE) {
            /* Kept as it was; x trails y by less than 3 once an escape
             * before it was decoded: the bytes overlap. */
            memmove(x, y, 3);
            x += 2;
            y += 2;
        }
        else {
            *x = (char)c;
            y += 2;
        }
    }
    *x = '\0';
    return badesc ? HTTP_BAD_REQUEST : badpath ? HTTP_NOT_FOUND : 0;
}

/* r->path from the raw path: normalised, decoded, or rejected. */
static void decode_path(request *r, url_slashes slashes)
{
    const char *why;
    int code;
    if (!normalize_path(r->path, 1, &why)) {
        reject(r, HTTP_BAD_REQUEST, why);
        return;
    }
    code = unescape_path(r->path, slashes);
    if (code == HTTP_NOT_FOUND) {
        reject(r, code, slashes == URL_SLASHES_OFF
               ? "%2F or %00 in the path (AllowEncodedSlashes Off)"
               : "%00 in the path");
        return;
    }
    if (code) {
        reject(r, code, "bad %-escape in the path");
        return;
    }
    /* Decoded slashes can form new '//', '.' and '..' segments, which
     * httpd normalises again, ignoring its verdict. */
    if (slashes == URL_SLASHES_ON)
        normalize_path(r->path, 0, &why);
}

/* ---- splitting the URL -------------------------------------------- */

/* httpd answers 400 to a request line holding these bytes. */
static int reject_raw_bytes(request *r, const char *url)
{
    size_t i;
    for (i = 0; url[i]; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f) {
            reject(r, HTTP_BAD_REQUEST, c == ' '
                   ? "raw space in the URL (write %20)"
                   : "raw control character in the URL");
            return 1;
        }
    }
    return 0;
}

/* 1 and *https set if the scheme url[0..len) is http or https (any
 * case), else 0. */
static int http_scheme(const char *url, size_t len, int *https)
{
    *https = len == 5;
    return (len == 4 && !strncasecmp(url, "http", 4))
           || (len == 5 && !strncasecmp(url, "https", 5));
}

/* The number a port is, or -1 unless it is digits up to PORT_MAX. */
static long port_value(const char *s)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!apr_isdigit(*s) || (v = v * 10 + (*s - '0')) > PORT_MAX)
            return -1;
    }
    return v;
}

/* The host as the base names it: an IPv6 literal keeps its brackets.
 * NULL for a '[' not closed, or closed and followed by other than a
 * port. */
static const char *authority_host(apr_pool_t *p, const apr_uri_t *u)
{
    const char *rb;
    if (u->hostinfo[0] != '[')
        return u->hostname;
    rb = strchr(u->hostinfo, ']');
    if (!rb || (rb[1] && rb[1] != ':'))
        return NULL;
    return apr_pstrcat(p, "[", u->hostname, "]", NULL);
}

/* For url = SCHEME://AUTHORITY..., SCHEME being url[0..scheme_len):
 * sets r->base and *rest to what follows the authority; returns 0 for a
 * bad URL. */
static int parse_authority(apr_pool_t *p, const char *url, size_t scheme_len,
                           request *r, const char **rest)
{
    apr_uri_t u;
    const char *host;
    char *lower;
    long port = -1;
    int https, k;

    if (!http_scheme(url, scheme_len, &https)) {
        bad_url(r, "scheme is not http or https");
        return 0;
    }
    /* apr_uri_parse() splits the authority; its verdict is not used, as
     * it accepts what httpd's request line does not (an empty or signed
     * port, trailing bytes after an IPv6 literal) and never says why. */
    apr_uri_parse(p, url, &u);
    if (u.user) {
        bad_url(r, "user information in the URL");
        return 0;
    }
    if (!(host = authority_host(p, &u))) {
        bad_url(r, "bad IPv6 host");
        return 0;
    }
    if (!*host) {
        bad_url(r, "no host");
        return 0;
    }
    if (u.port_str && (port = port_value(u.port_str)) < 0) {
        bad_url(r, "bad port");
        return 0;
    }
    lower = apr_pstrdup(p, host);
    for (k = 0; lower[k]; k++)
        lower[k] = (char)apr_tolower(lower[k]);
    if (port == apr_uri_port_of_scheme(https ? "https" : "http"))
        port = -1;
    r->scheme = https ? "https" : "http";
    r->host = lower;
    r->base = apr_pstrcat(p, https ? "https://" : "http://", lower,
                          port >= 0 ? ":" : "", port >= 0 ? u.port_str : "",
                          NULL);
    *rest = url + scheme_len + strlen("://") + strlen(u.hostinfo);
    return 1;
}

/* r->path (raw, starting with '/') and r->args from what follows the
 * authority, or a whole bare path. */
static void split_target(apr_pool_t *p, const char *rest, request *r)
{
    /* Clients never send the fragment. */
    size_t end = strcspn(rest, "#");
    const char *q = memchr(rest, '?', end);
    size_t plen = q ? (size_t)(q - rest) : end;
    r->args = q ? apr_pstrmemdup(p, q + 1, end - plen - 1) : NULL;
    r->path = rest[0] == '/' ? apr_pstrmemdup(p, rest, plen)
            : apr_pstrcat(p, "/", apr_pstrmemdup(p, rest, plen), NULL);
}

void request_parse(apr_pool_t *p, const char *url, url_slashes slashes,
                   request *r)
{
    const char *sep = strstr(url, "://"), *rest = url;

    memset(r, 0, sizeof(*r));
    r->state = REQ_OK;
    if (reject_raw_bytes(r, url))
        return;
    if (sep && url[0] != '/') {
        if (!parse_authority(p, url, (size_t)(sep - url), r, &rest))
            return;
    }
    else if (url[0] != '/') {
        bad_url(r, "neither http[s]://host/path nor /path");
        return;
    }
    split_target(p, rest, r);
    decode_path(r, slashes);
}
