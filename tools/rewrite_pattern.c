/*
 * rewrite_pattern.c - a RewriteRule pattern of whole segments read as a
 * path pattern (see rewrite_pattern.h for what converts and why).
 *
 * A group's class is read into the set of bytes it matches, as PCRE
 * does with its default (ASCII) tables: whether the class can match '/'
 * and whether it matches every other byte then follow from the set, not
 * from how the class is spelt.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "rewrite_pattern.h"

/* The bytes a class matches. */
typedef struct {
    unsigned char bit[32];
} byteset;

static void set_add(byteset *s, int c)
{
    s->bit[(unsigned char)c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int set_has(const byteset *s, int c)
{
    return (s->bit[(unsigned char)c >> 3] >> (c & 7)) & 1;
}

static void set_range(byteset *s, int lo, int hi)
{
    int c;
    for (c = lo; c <= hi; c++)
        set_add(s, c);
}

/* Bytes matching an <apr_lib.h> predicate (PCRE's default tables are the
 * C locale's, which the CLI runs in). */
static void set_where(byteset *s, int (*pred)(int))
{
    int c;
    for (c = 1; c < 128; c++) {
        if (pred(c))
            set_add(s, c);
    }
}

static int is_alpha(int c) { return apr_isalpha(c); }
static int is_digit(int c) { return apr_isdigit(c); }
static int is_alnum(int c) { return apr_isalnum(c); }
static int is_upper(int c) { return apr_isupper(c); }
static int is_lower(int c) { return apr_islower(c); }
static int is_xdigit(int c) { return apr_isxdigit(c); }
static int is_space(int c) { return apr_isspace(c); }
static int is_word(int c) { return apr_isalnum(c) || c == '_'; }

/* "[:name:]" inside a bracket; 0 if not one we know to exclude '/'. */
static int posix_class(const char *name, size_t n, byteset *s)
{
    static const struct {
        const char *name;
        int (*pred)(int);
    } known[] = {
        { "alpha", is_alpha }, { "digit", is_digit }, { "alnum", is_alnum },
        { "upper", is_upper }, { "lower", is_lower }, { "xdigit", is_xdigit },
        { "space", is_space }, { "word", is_word }, { NULL, NULL }
    };
    int k;
    for (k = 0; known[k].name; k++) {
        if (strlen(known[k].name) == n && !memcmp(known[k].name, name, n)) {
            set_where(s, known[k].pred);
            return 1;
        }
    }
    return 0;
}

/* A class escape "\d", "\w", "\s" added to s; 0 if c is none. */
static int class_escape(int c, byteset *s)
{
    if (c == 'd')
        set_where(s, is_digit);
    else if (c == 'w')
        set_where(s, is_word);
    else if (c == 's')
        set_where(s, is_space);
    else
        return 0;
    return 1;
}

/* One member of a bracket at *c: a byte (returned), or -1 after a class
 * escape added to s, or -2 for an escape we do not read (\D, \x41...). */
static int bracket_member(const char **c, byteset *s)
{
    const char *t = *c;
    if (t[0] != '\\') {
        *c = t + 1;
        return (unsigned char)t[0];
    }
    if (!t[1])
        return -2;
    *c = t + 2;
    if (class_escape(t[1], s))
        return -1;
    return apr_isalnum(t[1]) ? -2 : (unsigned char)t[1];
}

/* Reads the bracket "[...]" at *s into set; why not. */
static const char *bracket(apr_pool_t *p, const char **s, byteset *set)
{
    const char *c = *s + 1;
    byteset in;
    int neg = 0, first = 1, k;
    memset(&in, 0, sizeof(in));
    if (*c == '^') {
        neg = 1;
        c++;
    }
    while (*c && (*c != ']' || first)) {
        int lo, hi;
        first = 0;
        if (c[0] == '[' && c[1] == ':') {
            const char *e = strstr(c + 2, ":]");
            if (!e || !posix_class(c + 2, (size_t)(e - c - 2), &in))
                return apr_psprintf(p, "the class '%s' is not one we read",
                                    *s);
            c = e + 2;
            continue;
        }
        if ((lo = bracket_member(&c, &in)) == -2)
            return apr_psprintf(p, "the class '%s' has an escape we do not "
                                "read", *s);
        if (lo < 0)
            continue;
        hi = lo;
        if (c[0] == '-' && c[1] && c[1] != ']') {
            c++;
            if ((hi = bracket_member(&c, &in)) < lo)
                return apr_psprintf(p, "the class '%s' has a range we do "
                                    "not read", *s);
        }
        set_range(&in, lo, hi);
    }
    if (*c != ']')
        return apr_psprintf(p, "the class '%s' is not closed", *s);
    *s = c + 1;
    for (k = 0; k < 32; k++)
        set->bit[k] = (unsigned char)(neg ? ~in.bit[k] : in.bit[k]);
    return NULL;
}

/* Adds the other case of every letter in s ([NC]). */
static void set_fold(byteset *s)
{
    int c;
    for (c = 'a'; c <= 'z'; c++) {
        if (set_has(s, c) || set_has(s, c - 32)) {
            set_add(s, c);
            set_add(s, c - 32);
        }
    }
}

/* Does s hold every byte a path segment may (all but NUL and '/')? */
static int set_is_segment(const byteset *s)
{
    int c;
    for (c = 1; c < 256; c++) {
        if (c != '/' && !set_has(s, c))
            return 0;
    }
    return 1;
}

/* A byte of s for a sample path: a letter or digit if it has one. */
static char set_sample(const byteset *s)
{
    static const char pref[] = "x1aA0_-.~";
    int c;
    for (c = 0; pref[c]; c++) {
        if (set_has(s, (unsigned char)pref[c]))
            return pref[c];
    }
    for (c = 33; c < 127; c++) {
        if (c != '/' && c != '?' && c != '%' && set_has(s, c))
            return (char)c;
    }
    return 'x';
}

/* One capture group at *s ("(" CLASS "+" [ "?" ] ")"): its class and
 * sample byte; *narrow set if it matches fewer bytes than "[^/]"; why
 * not. */
static const char *group(apr_pool_t *p, const char **s, int nocase,
                         int *narrow, char *sample)
{
    const char *start = *s, *c = *s + 1, *why;
    byteset set;
    memset(&set, 0, sizeof(set));
    if (*c == '[') {
        if ((why = bracket(p, &c, &set)))
            return why;
    }
    else if (c[0] == '\\' && class_escape(c[1], &set)) {
        c += 2;
    }
    else if (*c == '.') {
        return apr_psprintf(p, "the group at '%s' holds '.', which also "
                            "matches '/': it may span segments", start);
    }
    else {
        return apr_psprintf(p, "the group at '%s' is not one character "
                            "class repeated", start);
    }
    if (*c != '+')
        return apr_psprintf(p, "the group at '%s' does not repeat its class "
                            "with '+' (a segment is never empty)", start);
    c += 1 + (c[1] == '?');
    if (*c != ')')
        return apr_psprintf(p, "the group at '%s' is more than a class and "
                            "'+'", start);
    if (nocase)
        set_fold(&set);
    if (set_has(&set, '/'))
        return apr_psprintf(p, "the group '%.*s' also matches '/': it may "
                            "span segments", (int)(c + 1 - start), start);
    *narrow = !set_is_segment(&set);
    *sample = set_sample(&set);
    *s = c + 1;
    return NULL;
}

/* Appends the literal at *s to out[*o...], decoded ("\." is '.'), up to
 * a segment's end ('/', "\/" or the end) or a regex operator; *dot_any
 * is set if an unescaped '.' was taken as itself. */
static void literal(const char **s, char *out, size_t *o, int *dot_any)
{
    const char *c = *s;
    while (*c && *c != '/') {
        if (*c == '\\') {
            if (!c[1] || apr_isalnum(c[1]) || c[1] == '/')
                break;
            out[(*o)++] = c[1];
            c += 2;
            continue;
        }
        if (strchr("$()[]{}*+?|^", *c))
            break;
        *dot_any |= *c == '.';
        out[(*o)++] = *c++;
    }
    *s = c;
}

/* The ends a pattern may have, longest first where one ends another. */
static const struct {
    const char *tail;
    rwp_end end;
    int not_itself;
} ends[] = {
    { "/(.*)$", RWP_BELOW, 0 }, { "/(.+)$", RWP_BELOW, 1 },
    { "(/.*)?$", RWP_REST, 0 }, { "(/.*)$", RWP_REST, 1 },
    { "/?$", RWP_EXACT_SLASH, 0 }, { "$", RWP_EXACT, 0 },
    { NULL, RWP_EXACT, 0 }
};

/* The length of body without its end, out->end set; -1 if none fits. */
static long body_end(const char *body, rwp_pattern *out)
{
    size_t n = strlen(body), t;
    int k;
    for (k = 0; ends[k].tail; k++) {
        t = strlen(ends[k].tail);
        if (n < t || strcmp(body + n - t, ends[k].tail))
            continue;
        if (n > t && body[n - t - 1] == '\\')
            return -1;          /* an escaped '$' or '/' is a byte */
        out->end = ends[k].end;
        out->not_itself = ends[k].not_itself;
        return (long)(n - t);
    }
    return -1;
}

/* Adds the segments of a per-directory base ("/a/b/") to a. */
static void base_segments(const char *base, pp_path *a)
{
    const char *s = base + 1;
    while (*s) {
        size_t n = strcspn(s, "/");
        a->seg[a->n].head = s;
        a->seg[a->n].head_len = n;
        a->n++;
        s += n + (s[n] == '/');
    }
}

/* Reads the segments of core[0..n) into out, their bytes into buf
 * (each capture's sample byte between head and tail, each segment ended
 * by '/'), *len set to how many; why not. */
static const char *segments(apr_pool_t *p, const char *core, size_t n,
                            int nocase, char *buf, size_t *len,
                            rwp_pattern *out)
{
    const char *s = core, *end = core + n;
    pp_path *a = out->path;
    size_t o = 0;
    while (s < end) {
        pp_seg *g = &a->seg[a->n++];
        size_t start = o;
        char sample = 0;
        literal(&s, buf, &o, &out->dot_any);
        g->head = buf + start;
        g->head_len = o - start;
        if (s < end && *s == '(') {
            int narrow = 0;
            const char *gs = s, *why;
            if (out->groups >= PP_MAX_CAPTURES)
                return apr_psprintf(p, "more than %d groups: a pattern rule "
                                    "has at most %d placeholders",
                                    PP_MAX_CAPTURES, PP_MAX_CAPTURES);
            if ((why = group(p, &s, nocase, &narrow, &sample)))
                return why;
            g->capture = ++out->groups;
            if (narrow)
                out->narrow[g->capture] = apr_pstrmemdup(p, gs,
                                                         (size_t)(s - gs));
            buf[o++] = sample;
            start = o;
            literal(&s, buf, &o, &out->dot_any);
            g->tail = buf + start;
            g->tail_len = o - start;
        }
        if (s < end && *s != '/' && strncmp(s, "\\/", 2))
            return apr_psprintf(p, "'%.*s' is neither a literal, one group "
                                "nor the end of a segment", (int)(end - s),
                                s);
        if (!g->capture && !g->head_len)
            return "it has an empty segment, which no request path has";
        if (s < end)
            s += *s == '/' ? 1 : 2;
        buf[o++] = '/';
        *len = o;
    }
    return NULL;
}


int rwp_is_narrow(const rwp_pattern *a)
{
    int g;
    for (g = 1; g <= a->groups; g++) {
        if (a->narrow[g])
            return 1;
    }
    return 0;
}

const char *rwp_parse(apr_pool_t *p, const char *regex, const char *base,
                      int nocase, rwp_pattern *out)
{
    const char *body = regex + 1, *core, *why;
    long n;
    size_t k, segs = 1;
    char *buf;
    size_t blen = 0;

    memset(out, 0, sizeof(*out));
    if (regex[0] != '^' || (n = body_end(body, out)) < 0
        || !memchr(body, '(', (size_t)n))
        return apr_psprintf(p, "'%s' is a regular expression", regex);
    out->specific = 1;
    core = body;
    if (!base && core[0] != '/')
        return apr_psprintf(p, "'%s' never matches here: in server context "
                            "the path begins with '/'", regex);
    if (base && core[0] == '/')
        return apr_psprintf(p, "'%s' never matches here: per-directory "
                            "patterns see the path without its leading '/'",
                            regex);
    if (out->end == RWP_REST && core[n - 1] == '/')
        return apr_psprintf(p, "'%s' is a regular expression", regex);
    core += !base;
    n -= !base;
    for (k = 0; k < (size_t)n; k++)
        segs += core[k] == '/';
    if (base)
        for (k = 0; base[k]; k++)
            segs += base[k] == '/';
    out->path = apr_pcalloc(p, sizeof(pp_path));
    out->path->seg = apr_pcalloc(p, segs * sizeof(pp_seg));
    out->path->nocase = nocase;
    out->path->prefix = out->end >= RWP_BELOW;
    if (base)
        base_segments(base, out->path);
    buf = apr_palloc(p, (size_t)n * 2 + 2);
    if ((why = segments(p, core, (size_t)n, nocase, buf, &blen, out)))
        return apr_psprintf(p, "'%s' is not a pattern of whole segments: %s",
                            regex, why);
    if (out->end >= RWP_BELOW)
        out->rest_group = ++out->groups;
    /* The full URL-path, without the last segment's '/'. */
    out->sample = apr_pstrcat(p, base ? base : "/",
                              apr_pstrmemdup(p, buf, blen ? blen - 1 : 0),
                              NULL);
    return NULL;
}
