/*
 * import_haproxy.c - `import --from haproxy`: a HAProxy map file of
 * redirects, as HAProxy uses one with
 *
 *   http-request redirect location %[path,map(/etc/haproxy/r.map)] code 301
 *       if { path,map(/etc/haproxy/r.map) -m found }
 *
 * one "KEY VALUE" a line (leading blanks dropped, '#' lines ignored; the
 * KEY is the first word, the VALUE the rest of the line).  Each entry
 * becomes the exact rule "KEY VALUE STATUS qsdrop".  The map does not
 * hold the status: it is --status, else 302, what HAProxy's "redirect"
 * answers without "code".
 *
 * What HAProxy does with such a map (checked against Debian's haproxy by
 * test/import/diff_haproxy.py):
 *   - `path` is the raw request path up to the '?', compared byte for
 *     byte with the key: no %XX decoding, no merging of "//", and "/a/"
 *     is not "/a".  Rules compare httpd's decoded, normalised path, so a
 *     key becomes the rule for the path it decodes to, which also answers
 *     other spellings of it (a note says so); keys no request can match
 *     the same way are not converted;
 *   - "redirect location" sends the VALUE as it is and never adds the
 *     request's query: hence qsdrop;
 *   - of two entries with one key, the first answers, as the importer's
 *     validation keeps it.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* What HAProxy answers a "redirect" without "code" with. */
#define HAPROXY_DEFAULT_STATUS 302

typedef struct {
    importer *im;
    int status;                 /* of every rule */
    int status_noted;           /* the notes below, once per file */
    int slash_noted;
    int spelling_noted;
} hap_reader;

/* ---- keys ------------------------------------------------------------ */

/* 1 if every '%' in s starts a %XX escape. */
static int escapes_valid(const char *s)
{
    for (; *s; s++) {
        if (*s == '%' && (cli_hex_value((unsigned char)s[1]) < 0
                          || cli_hex_value((unsigned char)s[2]) < 0))
            return 0;
    }
    return 1;
}

/* 1 if s holds %XX for the byte c (either hex case). */
static int has_escape_of(const char *s, unsigned char c)
{
    for (; (s = strchr(s, '%')); s++) {
        if (cli_hex_value((unsigned char)s[1]) == (c >> 4)
            && cli_hex_value((unsigned char)s[2]) == (c & 15))
            return 1;
    }
    return 0;
}

/* 1 if the segment s[0..n) is "." or "..", written raw or as %2E. */
static int dot_segment(const char *s, size_t n)
{
    size_t i = 0, dots = 0;
    while (i < n) {
        if (s[i] == '.') {
            i++;
        }
        else if (i + 3 <= n && s[i] == '%' && s[i + 1] == '2'
                 && (s[i + 2] == 'e' || s[i + 2] == 'E')) {
            i += 3;
        }
        else {
            return 0;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

/* 1 if httpd would see the path `key` differently spelt: "//" merged,
 * "." and ".." segments resolved. */
static int not_normalised(const char *key)
{
    const char *seg = key + 1;
    if (strstr(key, "//"))
        return 1;
    for (;;) {
        size_t n = strcspn(seg, "/");
        if (dot_segment(seg, n))
            return 1;
        if (!seg[n])
            return 0;
        seg += n + 1;
    }
}

/* 1 if `key` holds a byte a raw path compares differently from the
 * decoded one: an escape, or a byte clients send escaped. */
static int spelling_varies(const char *key)
{
    for (; *key; key++) {
        if (*key == '%' || (unsigned char)*key >= 0x80)
            return 1;
    }
    return 0;
}

/* Why no request can match `key` as it matches HAProxy's path, or
 * NULL. */
static const char *key_problem(apr_pool_t *p, const char *key)
{
    if (key[0] != '/')
        return apr_psprintf(p, "'%s' is not a path (HAProxy's path starts "
                            "with '/')", key);
    if (strpbrk(key, "?#"))
        return apr_psprintf(p, "'%s' never matches: HAProxy's path stops "
                            "before the query and never holds a '#'", key);
    if (!escapes_valid(key))
        return apr_psprintf(p, "'%s' has a '%%' that starts no %%XX "
                            "escape: httpd refuses such a path (400)", key);
    if (has_escape_of(key, '/') || has_escape_of(key, '\0'))
        return apr_psprintf(p, "'%s' holds an encoded '/' or NUL: httpd "
                            "refuses such a path (404) before any rule",
                            key);
    if (not_normalised(key))
        return apr_psprintf(p, "'%s' is not a normalised path: httpd "
                            "merges '//' and resolves '.' and '..' before "
                            "rules see it, so the rule would answer "
                            "another path", key);
    return NULL;
}

/* ---- entries --------------------------------------------------------- */

/* 1 if imp_escape() changes bytes of a target: HAProxy sends them as
 * they are. */
static int value_escaped(const char *v)
{
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c))
            return 1;
    }
    return 0;
}

/* The notes every file gets once, at its first converted entry. */
static void hap_file_notes(hap_reader *hr, unsigned line, const char *key)
{
    importer *im = hr->im;
    if (!hr->status_noted && !im->status) {
        imp_note(im, line, "no --status: rules get %d, what HAProxy's "
                 "'redirect' answers without 'code'", hr->status);
        hr->status_noted = 1;
    }
    if (!hr->slash_noted) {
        imp_note(im, line, "HAProxy compares paths exactly ('/a/' is not "
                 "'/a'); under Redirect307TrailingSlash Ignore, the default, "
                 "the rules answer both: set it to Strict to keep HAProxy's "
                 "answers");
        hr->slash_noted = 1;
    }
    if (!hr->spelling_noted && spelling_varies(key)) {
        imp_note(im, line, "HAProxy compares the raw path, so '%s' matches "
                 "only that spelling; the rules compare the decoded path "
                 "and also answer other spellings of it (lower-case hex, "
                 "%%XX for a plain character)", key);
        hr->spelling_noted = 1;
    }
}

static void hap_line(void *ctx, apr_pool_t *iter, unsigned n, char *line)
{
    hap_reader *hr = ctx;
    importer *im = hr->im;
    size_t klen = strcspn(line, " \t");
    const char *key = apr_pstrmemdup(iter, line, klen);
    const char *value = cli_trim(line + klen), *problem;

    if ((problem = key_problem(iter, key))) {
        imp_skip(im, n, "%s", problem);
        return;
    }
    if (!*value) {
        imp_skip(im, n, "'%s' has no value", key);
        return;
    }
    if (!imp_is_url_or_path(value)) {
        imp_skip(im, n, "'%s' is neither an absolute URL nor a path", value);
        return;
    }
    hap_file_notes(hr, n, key);
    if (value_escaped(value))
        imp_note(im, n, "the Location is sent %%-escaped; HAProxy sends "
                 "the bytes of '%s' as they are", value);
    imp_emit(im, n, imp_escape(im->p, key, klen, IMP_ENCODED | IMP_SOURCE),
             imp_escape(im->p, value, strlen(value), IMP_ENCODED),
             hr->status, "qsdrop");
}

void import_haproxy(importer *im, char *buf, size_t len)
{
    hap_reader hr;
    memset(&hr, 0, sizeof(hr));
    hr.im = im;
    hr.status = im->status ? im->status : HAPROXY_DEFAULT_STATUS;
    cli_each_line(im->p, buf, len, hap_line, &hr);
}
