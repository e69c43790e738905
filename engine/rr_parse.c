/*
 * rr_parse.c - reading rules files and parsing their lines into a builder:
 * validation with FILE:LINE errors, key normalisation and hashing, target
 * escaping, and the records the builder collects for freezing.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <strings.h>

#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_lib.h"
#include "apr_mmap.h"

#include "rr_internal.h"

/* ---- the builder ---------------------------------------------------- */


static apr_status_t builder_cleanup(void *data)
{
    rr_builder *b = data;
    if (!b->arena_pooled)
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
    b->owner = pool;
    apr_pool_create(&b->linepool, scratch);
    if (opt)
        b->opt = *opt;
    b->files = apr_array_make(scratch, 2, sizeof(const char *));
    b->spellings = apr_array_make(scratch, 0, sizeof(rr_spelling));
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
    if (b->arena_len + more + 1 <= cap)
        return 1;
    if (exact && !b->arena) {
        /* Sized from the input: in the pool the table will live in, so
         * that freezing adopts it instead of copying it (a second copy of
         * a big map's text at the peak).  Pages past what the rules use
         * are never touched, so the slack costs no memory. */
        b->arena = apr_palloc(b->owner, b->arena_len + more + 1);
        b->arena_cap = b->arena_len + more + 1;
        b->arena_pooled = 1;
        b->arena[b->arena_len++] = 0;   /* offset 0 means "empty slot" */
        return 1;
    }
    if (b->arena_pooled) {
        /* outgrown (a second file): on to malloc, the pool block stays */
        char *np = malloc(b->arena_len + more + 1);
        if (!np)
            return 0;
        memcpy(np, b->arena, b->arena_len);
        b->arena = np;
        b->arena_cap = b->arena_len + more + 1;
        b->arena_pooled = 0;
        return 1;
    }
    if (!grow_to(&p, 1, &cap, b->arena_len + more + 1, exact))
        return 0;
    b->arena = p;
    b->arena_cap = cap;
    if (b->arena_len == 0)
        b->arena[b->arena_len++] = 0;   /* offset 0 means "empty slot" */
    return 1;
}

int rr_builder_arena_reserve(rr_builder *b, size_t more)
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
size_t rr_utf8_seq(const unsigned char *s, size_t n)
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

size_t rr_utf8_len(const char *s, size_t n)
{
    return n ? rr_utf8_seq((const unsigned char *)s, n) : 0;
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
        k = rr_utf8_seq(p + i, n - i);
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
    int code;
    if (t->n != 3 || !tok_all_digits(t) || t->s[0] == '0')
        return -1;
    /* read the digits, not format every code: this runs once per rule */
    code = (t->s[0] - '0') * 100 + (t->s[1] - '0') * 10 + (t->s[2] - '0');
    for (k = 1; k < RR_STATUS_COUNT; k++) {
        if (rr_status_codes[k] == code)
            return (int)k;
    }
    return -1;
}

/* One rule line on its way into the builder. */
typedef struct {
    rr_tok src, tgt;        /* src: its path, once a host is split off */
    int status;             /* index into rr_status_codes; -1: none given */
    unsigned bits;          /* RB_*, the kind included once known */
    unsigned xbits;         /* XB_* but the status */
    char host[RR_MAX_HOST + 1];     /* a host rule's, lower-case; a
                                       wildcard's without its "*." */
    size_t hlen;
    unsigned kind;          /* RR_KIND_* */
    size_t pathlen;         /* of the source, before any '?' */
    const char *query;      /* after the '?', or "" */
    size_t qlen;
    uint64_t qsum;          /* order-insensitive hash of the parameters */
    const char *target;     /* escaped, or "" for a 410 */
    size_t tlen;
    char *key;              /* the normalised source */
    size_t klen;
    const char *written;    /* the decoded source path as written, if the
                               key reads otherwise (rr_spelling) */
    int window;             /* from= or until= given */
    uint32_t from, until;   /* seconds; until WINDOW_OPEN_END: none */
    int pattern;            /* the source path holds placeholders */
} rr_line;

/* from=TIME or until=TIME: the window's end, in whole seconds. */
static apr_status_t parse_window(const rr_where *w, const rr_tok *f,
                                 size_t name_len, uint32_t *out)
{
    apr_time_t t;
    apr_time_t sec;
    if (!rr_time_parse(f->s + name_len, f->n - name_len, &t))
        return PARSE_ERROR(w, "'%.*s': not a time (2026-12-01, "
                           "2026-12-01T09:30, 2026-12-01T09:30:00Z or "
                           "2026-12-01T09:30:00+01:00)", (int)f->n, f->s);
    sec = apr_time_sec(t);
    if (sec < 0 || sec >= (apr_time_t)WINDOW_OPEN_END)
        return PARSE_ERROR(w, "'%.*s': before 1970 or after 2105",
                           (int)f->n, f->s);
    *out = (uint32_t)sec;
    return APR_SUCCESS;
}

static apr_status_t parse_flags(const rr_where *w, const rr_tok *t,
                                rr_line *l)
{
    unsigned *bits = &l->bits, *xbits = &l->xbits;
    apr_status_t rv;
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
        else if (tok_is(&f, "qsnone"))
            *xbits |= XB_QSNONE;
        else if (f.n > 5 && !memcmp(f.s, "from=", 5)) {
            if ((rv = parse_window(w, &f, 5, &l->from)))
                return rv;
            l->window = 1;
        }
        else if (f.n > 6 && !memcmp(f.s, "until=", 6)) {
            if ((rv = parse_window(w, &f, 6, &l->until)))
                return rv;
            l->window = 1;
        }
        else
            return PARSE_ERROR(w, "unknown flag '%.*s' (known: nocase, "
                               "qsdrop, qsappend, qsnone, from=TIME, "
                               "until=TIME)", (int)f.n, f.s);
        i = j + 1;
    }
    if ((*bits & RB_QSDROP) && (*bits & RB_QSAPPEND))
        return PARSE_ERROR(w, "flags qsdrop and qsappend exclude each other");
    if (l->window && l->from >= l->until)
        return PARSE_ERROR(w, "from= is not before until=: the rule would "
                           "never answer");
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

/* Remembers which file the records from `off` on come from. */
static apr_status_t note_file(rr_builder *b, const rr_where *w, uint32_t off)
{
    uint32_t file = builder_file_index(b, w->file);
    if (b->nranges > 0 && b->ranges[b->nranges - 1].file == file)
        return APR_SUCCESS;
    if (!grow_to((void **)&b->ranges, sizeof(rr_range), &b->ranges_cap,
                 (size_t)b->nranges + 1, 0))
        return PARSE_ERROR(w, "out of memory");
    b->ranges[b->nranges].first_off = off;
    b->ranges[b->nranges].file = file;
    b->nranges++;
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
    n = rr_escape_into(NULL, t->s, t->n, ESC_QUERY);
    if (n > TGT_LEN_MASK)       /* the record's field; its top bit is a flag */
        return PARSE_ERROR(w, "target too long");
    esc = apr_palloc(p, n + 1);
    rr_escape_into(esc, t->s, t->n, ESC_QUERY);
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


/* A rule like "/Legal /legal nocase" or "/a/ /a" (TrailingSlash Ignore)
 * would send its own target back to itself: remember it so that a request
 * already spelled as the target is left alone. */
int rr_target_is_own_source(const rr_options *opt, const char *target,
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

#define STATUS_HELP "(use 301, 302, 303, 307, 308 or 410)"

/* SOURCE TARGET [STATUS] [FLAGS]: fills src, tgt, status and flag bits.
 * Returns APR_EOF for a line with no rule (blank or comment). */
static apr_status_t split_fields(const rr_where *w, const char *s, size_t n,
                                 rr_line *l)
{
    rr_tok tok[5];
    int ntok = tokenize(s, n, tok, 4);
    if (ntok == 0)
        return APR_EOF;
    if (ntok < 0)
        return PARSE_ERROR(w, "too many fields (SOURCE TARGET [STATUS] "
                           "[FLAGS])");
    if (ntok == 1)
        return PARSE_ERROR(w, "missing TARGET after source '%.*s'",
                           (int)tok[0].n, tok[0].s);
    l->src = tok[0];
    l->tgt = tok[1];
    l->status = -1;
    if (ntok >= 3 && tok_all_digits(&tok[2])) {
        l->status = status_index(&tok[2]);
        if (l->status < 0)
            return PARSE_ERROR(w, "unknown status '%.*s' " STATUS_HELP,
                               (int)tok[2].n, tok[2].s);
        return ntok == 4 ? parse_flags(w, &tok[3], l) : APR_SUCCESS;
    }
    if (ntok == 4)
        return PARSE_ERROR(w, "unknown status '%.*s' " STATUS_HELP,
                           (int)tok[2].n, tok[2].s);
    return ntok == 3 ? parse_flags(w, &tok[2], l) : APR_SUCCESS;
}

/* Is s[0..n) a DNS name's label: letters, digits and inner hyphens? */
static int valid_label(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        if (!apr_isalnum(s[i]) && s[i] != '-')
            return 0;
    }
    return 1;
}

/* A bracketed IPv6 literal: hex digits, colons and dots (an embedded
 * IPv4 address), at least two colons. */
static int valid_ipv6_literal(const char *s, size_t n)
{
    size_t i, colons = 0;
    if (n < 4 || s[0] != '[' || s[n - 1] != ']')
        return 0;
    for (i = 1; i + 1 < n; i++) {
        if (s[i] == ':')
            colons++;
        else if (!apr_isxdigit(s[i]) && s[i] != '.')
            return 0;
    }
    return colons >= 2;
}

/* Checks and stores the HOST of a host rule (SPEC: Host rules). */
static apr_status_t parse_host(const rr_where *w, const char *h, size_t n,
                               rr_line *l)
{
    size_t i, start = 0;
    if (n > 0 && h[n - 1] == '.')
        n--;                            /* a trailing dot names the same */
    if (n == 0)
        return PARSE_ERROR(w, "source names an empty host");
    if (n > RR_MAX_HOST)
        return PARSE_ERROR(w, "host longer than %u bytes", RR_MAX_HOST);
    for (i = 0; i < n; i++) {
        if ((unsigned char)h[i] >= 0x80)
            return PARSE_ERROR(w, "host '%.*s' is not ASCII: write it in "
                               "its IDNA form (xn--...)", (int)n, h);
    }
    if (h[0] == '[') {
        if (!valid_ipv6_literal(h, n))
            return PARSE_ERROR(w, "host '%.*s' is not a valid IPv6 literal "
                               "(or names a port: host rules match any "
                               "port)", (int)n, h);
    }
    else if (memchr(h, ':', n)) {
        return PARSE_ERROR(w, "host '%.*s' names a port: host rules match "
                           "the host on any port", (int)n, h);
    }
    else {
        if (n >= 2 && h[0] == '*' && h[1] == '.') {
            l->xbits |= XB_WILD;
            start = 2;
        }
        for (i = start; i <= n;) {
            const char *dot = memchr(h + i, '.', n - i);
            size_t end = dot ? (size_t)(dot - h) : n;
            if (memchr(h + i, '*', end - i))
                return PARSE_ERROR(w, "host '%.*s': a wildcard may only be "
                                   "the whole first label (*.example.com)",
                                   (int)n, h);
            if (!valid_label(h + i, end - i))
                return PARSE_ERROR(w, "host '%.*s' is not a valid DNS name "
                                   "or IP literal", (int)n, h);
            i = end + 1;
        }
    }
    l->xbits |= XB_HOST;
    for (i = start; i < n; i++)
        l->host[l->hlen++] = (char)fold((unsigned char)h[i]);
    return APR_SUCCESS;
}

/* A source "//HOST/path" or "http(s)://HOST/path" names its host: that
 * part goes to l->host, and l->src keeps the path ("/" if none). */
static apr_status_t split_host(rr_builder *b, const rr_where *w,
                               rr_line *l)
{
    rr_tok *src = &l->src;
    size_t skip, he;
    apr_status_t rv;
    if (src->n > 1 && src->s[0] == '/' && src->s[1] != '/')
        return APR_SUCCESS;     /* a path: most sources */
    if (source_names_host(src->s, src->n))
        skip = 2;
    else if (src->n >= 7 && !strncasecmp(src->s, "http://", 7)) {
        skip = 7;
        l->xbits |= XB_HTTP;
    }
    else if (src->n >= 8 && !strncasecmp(src->s, "https://", 8)) {
        skip = 8;
        l->xbits |= XB_HTTPS;
    }
    else
        return APR_SUCCESS;
    for (he = skip; he < src->n && src->s[he] != '/' && src->s[he] != '?';
         he++)
        ;
    if ((rv = parse_host(w, src->s + skip, he - skip, l)))
        return rv;
    if (he == src->n || src->s[he] == '?') {
        /* "//host" and "//host?q" are the host's root */
        char *path = apr_palloc(b->linepool, src->n - he + 2);
        path[0] = '/';
        memcpy(path + 1, src->s + he, src->n - he);
        src->s = path;
        src->n = src->n - he + 1;
        return APR_SUCCESS;
    }
    src->s += he;
    src->n -= he;
    return APR_SUCCESS;
}

/* Exact, prefix (ends in slash-star) or query (has '?') rule. */
static apr_status_t classify_source(rr_builder *b, const rr_where *w,
                                    rr_line *l)
{
    const rr_tok *src = &l->src;
    const char *q;
    rr_params ps;
    apr_status_t rv;
    if ((rv = split_host(b, w, l)))
        return rv;
    if (src->s[0] != '/')
        return PARSE_ERROR(w, "source '%.*s' does not start with '/'",
                           (int)src->n, src->s);
    q = memchr(src->s, '?', src->n);
    l->pathlen = q ? (size_t)(q - src->s) : src->n;
    l->kind = RR_KIND_EXACT;
    l->query = "";
    if (l->pathlen >= 2 && src->s[l->pathlen - 2] == '/'
        && src->s[l->pathlen - 1] == '*')
        l->kind = RR_KIND_PREFIX;
    l->pattern = rr_pattern_written(src->s, l->pathlen);
    if (!q)
        return APR_SUCCESS;
    if (rr_pattern_written(q + 1, src->n - l->pathlen - 1))
        return PARSE_ERROR(w, "placeholder in a query rule's query: query "
                           "rules match literal parameters only");
    if (l->pattern)
        return PARSE_ERROR(w, "a pattern rule cannot have a query: query "
                           "rules match literal paths only");
    if (l->kind == RR_KIND_PREFIX)
        return PARSE_ERROR(w, "a prefix rule (/*) cannot have a query");
    l->query = q + 1;
    l->qlen = src->n - l->pathlen - 1;
    if (!rr_params_split(l->query, l->qlen, &ps))
        return PARSE_ERROR(w, "more than %d query parameters",
                           RR_MAX_QUERY_PARAMS);
    if (ps.count == 0)
        return PARSE_ERROR(w, "empty query after '?' in source");
    l->qsum = ps.sum;
    l->kind = RR_KIND_QUERY;
    if (l->xbits & XB_QSNONE)
        return PARSE_ERROR(w, "flag qsnone is for rules without a query");
    return APR_SUCCESS;
}

/* The status and target agree: '-' means gone, and a 410 has no target. */
static apr_status_t resolve_target(rr_builder *b, const rr_where *w,
                                   rr_line *l)
{
    const rr_tok *tgt = &l->tgt;
    l->target = "";
    l->tlen = 0;
    if (tgt->n == 1 && tgt->s[0] == '-') {
        if (l->status < 0)
            l->status = RR_STATUS_410;
        else if (l->status != RR_STATUS_410)
            return PARSE_ERROR(w, "status %d needs a target, not '-'",
                               rr_status_codes[l->status]);
        return APR_SUCCESS;
    }
    if (l->status == RR_STATUS_410)
        return PARSE_ERROR(w, "status 410 takes '-' as its target, not "
                           "'%.*s'", (int)tgt->n, tgt->s);
    return parse_target(w, b->linepool, tgt, l->kind == RR_KIND_PREFIX,
                        &l->bits, &l->target, &l->tlen);
}

/* The source decoded and normalised into its key; notes a rule that
 * canonicalises its own spelling (RB_SELF). */
/* A copy of the decoded source (without a prefix rule's slash-star) when
 * normalising could change it: folding an upper-case letter, trimming a
 * slash.  Most sources need none. */
static const char *keep_spelling(rr_builder *b, const rr_line *l, int nocase)
{
    size_t n = l->kind == RR_KIND_PREFIX ? l->klen - 2 : l->klen, i;
    int upper = 0;
    for (i = 0; nocase && i < n && !upper; i++)
        upper = l->key[i] >= 'A' && l->key[i] <= 'Z';
    if (!upper && !(n > 1 && l->key[n - 1] == '/'))
        return NULL;
    return apr_pstrmemdup(b->scratch, l->key, n);
}

/* A pattern source into its stored form (engine/rr_pattern.c): decoded,
 * trimmed as its kind is, literal bytes folded for nocase; its target may
 * only name its placeholders. */
static apr_status_t make_pattern_key(rr_builder *b, const rr_where *w,
                                     rr_line *l)
{
    const char *err;
    char *skel;
    size_t n;
    rr_shape sh;
    int nocase = (l->bits & RB_NOCASE) || b->opt.case_insensitive;
    if ((err = rr_pattern_encode(b->linepool, l->src.s, l->pathlen, &l->key,
                                 &l->klen)))
        return PARSE_ERROR(w, "%s", err);
    if (has_dot_segment(l->key, l->klen))
        return PARSE_ERROR(w, "source has a '.' or '..' segment; request "
                           "paths are normalised, so it could never match");
    if (nocase)
        l->bits |= RB_NOCASE;
    l->klen = l->kind == RR_KIND_PREFIX ? trim_prefix_key(l->key, l->klen)
                                        : trim_slashes(&b->opt, l->key,
                                                       l->klen);
    if (nocase)
        rr_pattern_fold(l->key, l->klen);
    if (l->tlen > 0 && (err = rr_pattern_check_target(b->linepool, l->key,
                                                      l->klen, l->target,
                                                      l->tlen)))
        return PARSE_ERROR(w, "%s", err);
    skel = apr_palloc(b->linepool, l->klen + 2);
    if ((err = rr_pattern_shape(l->key, l->klen,
                                l->kind == RR_KIND_PREFIX, &sh, skel, &n)))
        return PARSE_ERROR(w, "%s", err);
    l->bits |= l->kind;
    return APR_SUCCESS;
}

static apr_status_t make_key(rr_builder *b, const rr_where *w, rr_line *l)
{
    int nocase, same_spelling;
    const char *written;
    apr_status_t rv;
    if (l->pattern)
        return make_pattern_key(b, w, l);
    l->key = apr_palloc(b->linepool, l->pathlen + 1);
    if ((rv = decode_source(w, l->src.s, l->pathlen, l->key, &l->klen)))
        return rv;
    if (has_dot_segment(l->key, l->klen))
        return PARSE_ERROR(w, "source has a '.' or '..' segment; request "
                           "paths are normalised, so it could never match");
    nocase = (l->bits & RB_NOCASE) || b->opt.case_insensitive;
    if (nocase)
        l->bits |= RB_NOCASE;
    same_spelling = l->tlen > 0 && l->target[0] == '/'
        && rr_target_path_equals(l->target, l->tlen,
                                 (l->bits & RB_STAR) != 0, l->key,
                                 l->kind == RR_KIND_PREFIX ? l->klen - 1
                                                           : l->klen, 0);
    written = keep_spelling(b, l, nocase);
    l->klen = normalise_key(b, l->key, l->klen, l->kind, nocase);
    if (written && (strlen(written) != l->klen
                    || memcmp(written, l->key, l->klen) != 0))
        l->written = written;
    if (l->kind == RR_KIND_PREFIX
        && path_depth(l->key, l->klen) > RR_MAX_PREFIX_DEPTH)
        return PARSE_ERROR(w, "prefix rule deeper than %d segments",
                           RR_MAX_PREFIX_DEPTH);
    l->bits |= l->kind;
    /* Spelled exactly as the source it is a loop, reported by the chain
     * check; in another spelling it canonicalises. */
    if (l->kind != RR_KIND_QUERY && l->tlen > 0 && !same_spelling
        && rr_target_is_own_source(&b->opt, l->target, l->tlen, l->bits,
                                   l->key, l->klen))
        l->bits |= RB_SELF;
    return APR_SUCCESS;
}

/* Appends the rule's record, its hash and its file to the builder. */
static apr_status_t add_record(rr_builder *b, const rr_where *w,
                               const rr_line *l)
{
    rr_rec r;
    size_t need;
    uint32_t off;
    apr_status_t rv;

    r.line = w->line;
    r.bits = l->bits;
    r.xbits = l->xbits;
    r.status = l->status < 0 ? 0 : (unsigned)l->status;
    r.src = l->key;
    r.src_len = (uint32_t)l->klen;
    r.query = l->query;
    r.q_len = (uint32_t)l->qlen;
    r.target = l->target;
    r.tgt_len = (uint32_t)l->tlen;
    r.host = l->host;
    r.h_len = (uint32_t)l->hlen;
    r.window = l->window;
    r.pattern = l->pattern;
    r.from = l->from;
    r.until = l->until;
    rec_plan_target(&r);
    need = rec_size(&r);
    if (!rr_builder_arena_reserve(b, need)
        || !offs_reserve(b, (size_t)b->nrec + 1, 0)
        || !grow_to((void **)&b->hashes, sizeof(uint64_t), &b->hashes_cap,
                    (size_t)b->nrec + 1, 0))
        return PARSE_ERROR(w, "out of memory (table over 4 GiB?)");
    off = (uint32_t)b->arena_len;
    if ((rv = note_file(b, w, off)))
        return rv;
    rec_encode(b->arena + off, &r);
    b->arena_len += need;
    if (l->written) {
        rr_spelling *sp = apr_array_push(b->spellings);
        sp->rec = b->nrec;
        sp->text = l->written;
    }
    b->offs[b->nrec] = off;
    b->hashes[b->nrec] = l->pattern ? rr_pattern_rec_hash(&r)
        : key_hash(group_seed(l->xbits, l->host, l->hlen), l->kind,
                   (l->bits & RB_NOCASE) != 0, l->key, l->klen, l->qsum);
    b->nrec++;
    if (l->kind == RR_KIND_PREFIX && !l->pattern) {
        uint32_t depth = (uint32_t)path_depth(l->key, l->klen);
        if (depth > b->max_prefix_depth)
            b->max_prefix_depth = depth;
    }
    return APR_SUCCESS;
}

static apr_status_t parse_rule(rr_builder *b, const rr_where *w,
                               const char *s, size_t n)
{
    rr_line l;
    apr_status_t rv;
    memset(&l, 0, sizeof(l));
    l.until = WINDOW_OPEN_END;
    rv = split_fields(w, s, n, &l);
    if (rv == APR_EOF)
        return APR_SUCCESS;
    if (!rv && !(rv = classify_source(b, w, &l))
        && !(rv = resolve_target(b, w, &l)) && !(rv = make_key(b, w, &l)))
        rv = add_record(b, w, &l);
    /* the line's key and escaped target are in the arena now: without
     * this, ten million rules kept a second copy of their text */
    apr_pool_clear(b->linepool);
    return rv;
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

/* Gives back the pages of a mapped rules file below `upto` (page
 * aligned down): parsed lines are in the arena, and a big map's pages
 * would otherwise count in the resident size until the end of the parse. */
static void release_parsed(const char *buf, size_t *released, size_t upto)
{
#if defined(MADV_DONTNEED)
    const size_t step = (size_t)16 << 20;
    uintptr_t base = (uintptr_t)buf, from, to;
    if (upto < *released + step)
        return;
    from = (base + *released + 4095) & ~(uintptr_t)4095;
    to = (base + upto) & ~(uintptr_t)4095;
    if (to > from)
        madvise((void *)from, to - from, MADV_DONTNEED);
    *released = upto;
#else
    (void)buf;
    (void)released;
    (void)upto;
#endif
}

static apr_status_t add_lines(rr_builder *b, const char *name,
                              const char *buf, size_t len, int mapped,
                              rr_diag *d)
{
    size_t released = 0;
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
    if (!arena_reserve_ex(b, len + lines * (REC_FIXED + 3), 1)
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
        if (mapped)
            release_parsed(buf, &released, i);
    }
    return b->errors > errors ? APR_EINVAL : APR_SUCCESS;
}

apr_status_t rr_builder_add_buffer(rr_builder *b, const char *name,
                                   const char *buf, size_t len, rr_diag *d)
{
    return add_lines(b, name, buf, len, 0, d);
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
#if defined(MADV_SEQUENTIAL)
    if (mm)
        madvise(mm->mm, mm->size, MADV_SEQUENTIAL);
#endif
    rv = mm ? add_lines(b, path, mm->mm, mm->size, 1, d) : APR_SUCCESS;
    apr_pool_destroy(tmp);      /* unmaps and closes */
    return rv;
}
