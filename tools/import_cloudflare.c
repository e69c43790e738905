/*
 * import_cloudflare.c - `import --from cloudflare`: a Cloudflare Bulk
 * Redirects list as CSV, one URL redirect a row:
 *
 *   source_url,target_url[,status_code,preserve_query_string,
 *       include_subdomains,subpath_matching,preserve_path_suffix]
 *
 * in that order (Cloudflare's dashboard import takes no header row; a
 * first row naming the columns, "source_url" first, is read by name).
 * Fields are RFC 4180 CSV: quoted with '"' ("" inside for one), a quoted
 * field may hold ',' and line ends.
 *
 * A row becomes the host rule //HOST/path (http://HOST/path or
 * https://HOST/path where the source names its scheme: Cloudflare then
 * matches that scheme only), and with include_subdomains a second one
 * for //STAR.HOST/path (STAR being '*'), since ours does not match HOST
 * itself.  subpath_matching makes them prefix rules; preserve_path_suffix
 * adds the carried rest to the target, as Cloudflare appends the path
 * below the source's: with its slash after a target not ending in '/'
 * (source example.com/a, target https://b.example/x: /a/b/c goes to
 * https://b.example/x/b/c), without it after one that does.
 * preserve_query_string FALSE, the default, is qsdrop; TRUE carries the
 * request's query, as rules do by default.
 *
 * Where Cloudflare chooses differently (documented in its "How Bulk
 * Redirects work"): it prefers the more specific path before the more
 * specific host or scheme; rules look at the host first.  Where that
 * changes an answer, a note says so.  Cloudflare compares paths exactly;
 * under Redirect307TrailingSlash Ignore "/a/" also matches "/a" (a note
 * says so once a file).  In CSV, an empty boolean is FALSE, also
 * preserve_path_suffix (whose default in Cloudflare's API is TRUE): a
 * note says so where it matters.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* The columns, in Cloudflare's order. */
enum { CF_SOURCE, CF_TARGET, CF_STATUS, CF_KEEP_QUERY, CF_SUBDOMAINS,
       CF_SUBPATH, CF_KEEP_SUFFIX, CF_COLS };

static const char *const cf_names[CF_COLS] = {
    "source_url", "target_url", "status_code", "preserve_query_string",
    "include_subdomains", "subpath_matching", "preserve_path_suffix"
};

/* What spreadsheets put before UTF-8 text. */
static const char bom[] = "\xEF\xBB\xBF";
#define BOM_LEN (sizeof(bom) - 1)

/* Cloudflare's status for a row that gives none. */
#define CLOUDFLARE_DEFAULT_STATUS 301

/* No entry (cf_entry.conflict). */
#define CF_NONE (-1)

/* A converted row, kept until the file is read: whether Cloudflare and
 * the rules choose alike among the rows is checked first. */
typedef struct {
    unsigned line;
    const char *scheme;         /* "http", "https" or NULL: both */
    const char *host;           /* lower-case */
    const char *key;            /* escaped path without a trailing '/'
                                   ("" for the root) */
    const char *path;           /* escaped path of the source */
    int subpath, subdomains;
    const char *target;         /* escaped, with the carry's '*' */
    int status;
    const char *flags;
    int conflict;               /* line of a row rules answer with where
                                   Cloudflare answers with this one, or
                                   CF_NONE */
    int conflicts;              /* how many rows do */
} cf_entry;

/* One rule of an entry: its host, or with `wild` the names below it. */
typedef struct {
    int entry;
    int wild;
} cf_rule;

typedef struct {
    importer *im;
    int col[CF_COLS];           /* field index of each column, -1: none */
    int header;                 /* the columns are named */
    apr_array_header_t *entries;    /* cf_entry, in row order */
    int suffix_noted;
} cf_reader;

/* ---- CSV ------------------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The field at *s, decoded in place ("quoted", "" for a quote) and
 * trimmed of blanks outside quotes; *s is left past the ',' or line end
 * that ended it, *last set if a line end (or the input's end) did; line
 * ends inside quotes are counted in *lines. */
static char *cf_field(char **s, const char *end, int *last, unsigned *lines)
{
    char *c = *s, *out, *o, *kept;
    char sep;
    while (c < end && is_blank(*c))
        c++;
    out = o = c;
    if (c < end && *c == '"') {
        for (c++; c < end; ) {
            if (*c == '"' && c + 1 < end && c[1] == '"') {
                *o++ = '"';
                c += 2;
            }
            else if (*c == '"') {
                c++;
                break;
            }
            else {
                *lines += *c == '\n';
                *o++ = *c++;
            }
        }
    }
    kept = o;
    while (c < end && *c != ',' && *c != '\n')
        *o++ = *c++;
    while (o > kept && (is_blank(o[-1]) || o[-1] == '\r'))
        o--;
    sep = c < end ? *c : '\n';
    *o = '\0';              /* o <= c: at most where the separator was */
    *last = sep == '\n';
    *s = c < end ? c + 1 : c;
    return out;
}

/* The fields of the record at *s (pointers into the buffer) in `f`;
 * returns how many lines it spans. */
static unsigned cf_record(char **s, const char *end, apr_array_header_t *f)
{
    unsigned lines = 1;
    int last = 0;
    apr_array_clear(f);
    while (!last)
        APR_ARRAY_PUSH(f, char *) = cf_field(s, end, &last, &lines);
    return lines;
}

static const char *cf_get(const cf_reader *cr, const apr_array_header_t *f,
                          int col)
{
    int k = cr->col[col];
    return k >= 0 && k < f->nelts ? APR_ARRAY_IDX(f, k, const char *) : "";
}

/* ---- columns --------------------------------------------------------- */

/* 1 if record `f` names columns: a field is "source_url" or
 * "target_url", which no URL is. */
static int cf_is_header(const apr_array_header_t *f)
{
    int k;
    for (k = 0; k < f->nelts; k++) {
        const char *v = APR_ARRAY_IDX(f, k, const char *);
        if (!strcasecmp(v, cf_names[CF_SOURCE])
            || !strcasecmp(v, cf_names[CF_TARGET]))
            return 1;
    }
    return 0;
}

/* The columns a header row names; 0 (and why) without the two needed. */
static int cf_header(cf_reader *cr, const apr_array_header_t *f)
{
    int k, j;
    for (j = 0; j < CF_COLS; j++)
        cr->col[j] = -1;
    for (k = 0; k < f->nelts; k++) {
        const char *h = APR_ARRAY_IDX(f, k, const char *);
        for (j = 0; j < CF_COLS && strcasecmp(h, cf_names[j]); j++)
            ;
        if (j == CF_COLS)
            imp_note(cr->im, 1, "column '%s' ignored", h);
        else if (cr->col[j] < 0)
            cr->col[j] = k;
    }
    if (cr->col[CF_SOURCE] < 0 || cr->col[CF_TARGET] < 0) {
        imp_skip(cr->im, 1, "the header names no source_url or no "
                 "target_url column");
        return 0;
    }
    return 1;
}

/* ---- rows ------------------------------------------------------------ */

/* A boolean field: 1 or 0, dflt if empty, -1 if none. */
static int cf_bool(const char *v, int dflt)
{
    if (!*v)
        return dflt;
    if (!strcasecmp(v, "true") || !strcmp(v, "1"))
        return 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0"))
        return 0;
    return -1;
}

/* Reads the status and the booleans into e; says why not.  *keep_query
 * is preserve_query_string. */
static int cf_options(cf_reader *cr, unsigned line,
                      const apr_array_header_t *f, cf_entry *e,
                      int *keep_query, int *keep_suffix)
{
    static const int bools[] = { CF_KEEP_QUERY, CF_SUBDOMAINS, CF_SUBPATH,
                                 CF_KEEP_SUFFIX };
    int v[4], k;
    const char *st = cf_get(cr, f, CF_STATUS);
    e->status = *st ? cli_parse_status(st, 0) : CLOUDFLARE_DEFAULT_STATUS;
    if (!e->status || e->status == 303) {
        imp_skip(cr->im, line, "status_code '%s' (Cloudflare takes 301, "
                 "302, 307 or 308)", st);
        return 0;
    }
    for (k = 0; k < 4; k++) {
        const char *b = cf_get(cr, f, bools[k]);
        if ((v[k] = cf_bool(b, 0)) < 0) {
            imp_skip(cr->im, line, "%s '%s' is neither TRUE nor FALSE",
                     cf_names[bools[k]], b);
            return 0;
        }
    }
    *keep_query = v[0];
    e->subdomains = v[1];
    e->subpath = v[2];
    *keep_suffix = v[3];
    if (e->subpath && !*cf_get(cr, f, CF_KEEP_SUFFIX) && !cr->suffix_noted) {
        imp_note(cr->im, line, "preserve_path_suffix not given: FALSE, as "
                 "in Cloudflare's CSV format (its API's default is TRUE)");
        cr->suffix_noted = 1;
    }
    return 1;
}

/* s[0..n) lower-cased, in p. */
static const char *lower_copy(apr_pool_t *p, const char *s, size_t n)
{
    char *out = apr_pstrmemdup(p, s, n);
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = (char)apr_tolower((unsigned char)out[i]);
    return out;
}

/* The source URL's scheme and host into e; returns its path (maybe "");
 * NULL and *why for what Cloudflare does not take. */
static const char *cf_source_host(apr_pool_t *p, const char *src,
                                  cf_entry *e, const char **why)
{
    const char *h = src, *scheme_end = strstr(src, "://");
    size_t n, i;
    if (scheme_end) {
        size_t sl = (size_t)(scheme_end - src);
        if (sl == 4 && !strncasecmp(src, "http", 4))
            e->scheme = "http";
        else if (sl == 5 && !strncasecmp(src, "https", 5))
            e->scheme = "https";
        else {
            *why = "names a scheme other than http or https";
            return NULL;
        }
        h = scheme_end + 3;
    }
    n = strcspn(h, "/?#");
    if (n == 0 || strcspn(h, ":@") < n) {
        *why = n == 0 ? "names no host"
             : strcspn(h, "@") < n ? "names a user (Cloudflare takes none)"
             : "names a port (Cloudflare takes none)";
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)h[i] >= 0x80) {
            *why = "has a host that is not ASCII: write it in its IDNA "
                   "(xn--) form";
            return NULL;
        }
    }
    if (h[n] == '?' || h[n] == '#' || strpbrk(h + n, "?#")) {
        *why = "holds a query or a fragment (Cloudflare refuses them)";
        return NULL;
    }
    e->host = lower_copy(p, h, n);
    return h + n;
}

/* 1 if `host` is an IPv4 address: no names below it. */
static int is_ipv4(const char *host)
{
    return strspn(host, "0123456789.") == strlen(host);
}

/* Reads the source URL into e; says why not. */
static int cf_source(cf_reader *cr, unsigned line, const char *src,
                     cf_entry *e)
{
    importer *im = cr->im;
    const char *why = NULL, *path, *esc;
    size_t k;
    if (!*src) {
        imp_skip(im, line, "no source_url");
        return 0;
    }
    if (!(path = cf_source_host(im->p, src, e, &why))) {
        imp_skip(im, line, "source_url '%s' %s", src, why);
        return 0;
    }
    esc = imp_escape(im->p, *path ? path : "/", *path ? strlen(path) : 1,
                     IMP_ENCODED | IMP_SOURCE);
    for (k = strlen(esc); k > 0 && esc[k - 1] == '/'; k--)
        ;
    e->key = apr_pstrmemdup(im->p, esc, k);
    e->path = e->subpath ? apr_pstrcat(im->p, e->key, "/*", NULL) : esc;
    if (e->subdomains && is_ipv4(e->host)) {
        imp_note(im, line, "include_subdomains ignored: %s is an IP "
                 "address", e->host);
        e->subdomains = 0;
    }
    return 1;
}

/* The target with the carry of preserve_path_suffix: '*' ending its
 * path (after a '/' added to a URL without a path). */
static const char *cf_carry(apr_pool_t *p, const char *t)
{
    size_t main_len = strcspn(t, "?#");
    const char *auth = strstr(t, "://");
    int no_path = auth && !memchr(auth + 3, '/', main_len - (size_t)(auth
                                                            + 3 - t));
    return apr_pstrcat(p, apr_pstrmemdup(p, t, main_len),
                       no_path ? "/*" : "*", t + main_len, NULL);
}

/* Reads the target into e; says why not. */
static int cf_target(cf_reader *cr, unsigned line, const char *tgt,
                     int keep_query, int keep_suffix, cf_entry *e)
{
    importer *im = cr->im;
    const char *t;
    if (!*tgt) {
        imp_skip(im, line, "no target_url");
        return 0;
    }
    if (!imp_is_url_or_path(tgt)) {
        imp_skip(im, line, "target_url '%s' is neither an absolute URL with "
                 "a host nor a path", tgt);
        return 0;
    }
    if (keep_query && strchr(tgt, '?')) {
        imp_skip(im, line, "target_url '%s' has a query while "
                 "preserve_query_string is TRUE (Cloudflare refuses it)",
                 tgt);
        return 0;
    }
    t = imp_escape(im->p, tgt, strlen(tgt), IMP_ENCODED);
    e->target = e->subpath && keep_suffix ? cf_carry(im->p, t) : t;
    e->flags = keep_query ? NULL : "qsdrop";
    return 1;
}

/* 1 if the fields past the columns are all empty. */
static int cf_extra_empty(const apr_array_header_t *f)
{
    int k;
    for (k = CF_COLS; k < f->nelts; k++) {
        if (*APR_ARRAY_IDX(f, k, const char *))
            return 0;
    }
    return 1;
}

static void cf_row(cf_reader *cr, unsigned line, const apr_array_header_t *f)
{
    cf_entry e;
    int keep_query, keep_suffix;
    if (f->nelts == 1 && !*APR_ARRAY_IDX(f, 0, const char *))
        return;     /* a blank line */
    if (!cr->header && f->nelts > CF_COLS && !cf_extra_empty(f)) {
        imp_skip(cr->im, line, "%d fields: a row has at most %d", f->nelts,
                 CF_COLS);
        return;
    }
    memset(&e, 0, sizeof(e));
    e.line = line;
    e.conflict = CF_NONE;
    if (!cf_options(cr, line, f, &e, &keep_query, &keep_suffix)
        || !cf_source(cr, line, cf_get(cr, f, CF_SOURCE), &e)
        || !cf_target(cr, line, cf_get(cr, f, CF_TARGET), keep_query,
                      keep_suffix, &e))
        return;
    *(cf_entry *)apr_array_push(cr->entries) = e;
}

/* ---- where Cloudflare chooses another row ---------------------------- */

/* 1 if `host` is a name below `domain`. */
static int below(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    return h > d + 1 && host[h - d - 1] == '.' && !strcmp(host + h - d,
                                                           domain);
}

/* For a request both rules match, would rules answer with `y` (a prefix
 * rule at an ancestor path of x's, so less specific to Cloudflare)?
 * Rules look at the exact host, then the names below the longest
 * domain first; at one host, rules for the request's scheme first. */
static int rules_prefer(const cf_entry *ex, int xwild, const cf_entry *ey,
                        int ywild)
{
    int scheme_first = ey->scheme && !ex->scheme;
    if (ex->scheme && ey->scheme && strcmp(ex->scheme, ey->scheme))
        return 0;
    if (!xwild && !ywild)
        return !strcmp(ex->host, ey->host) && scheme_first;
    if (!xwild)
        return 0;
    if (!ywild)
        return below(ey->host, ex->host);
    return below(ey->host, ex->host)
           || (!strcmp(ey->host, ex->host) && scheme_first);
}

static void cf_note_conflict(cf_entry *ex, const cf_entry *ey)
{
    if (ex->conflict == CF_NONE || (int)ey->line < ex->conflict)
        ex->conflict = (int)ey->line;
    ex->conflicts++;
}

/* The rules of every entry, and those at each path key: key ->
 * apr_array_header_t of int (indexes into the rules). */
static apr_array_header_t *cf_rules(apr_pool_t *p,
                                    const apr_array_header_t *entries,
                                    apr_hash_t *at_key)
{
    apr_array_header_t *rules = apr_array_make(p, entries->nelts * 2,
                                               sizeof(cf_rule));
    int k, w;
    for (k = 0; k < entries->nelts; k++) {
        const cf_entry *e = &APR_ARRAY_IDX(entries, k, cf_entry);
        for (w = 0; w <= e->subdomains; w++) {
            apr_array_header_t *at = apr_hash_get(at_key, e->key,
                                                  APR_HASH_KEY_STRING);
            cf_rule *r = apr_array_push(rules);
            r->entry = k;
            r->wild = w;
            if (!at) {
                at = apr_array_make(p, 1, sizeof(int));
                apr_hash_set(at_key, e->key, APR_HASH_KEY_STRING, at);
            }
            APR_ARRAY_PUSH(at, int) = rules->nelts - 1;
        }
    }
    return rules;
}

/* Finds, for each entry, the rows whose less specific path rules would
 * answer with where Cloudflare answers with it: prefix rules at the
 * ancestors of its path.  Costs a hash lookup per segment of each
 * path. */
static void cf_order(apr_pool_t *p, apr_array_header_t *entries)
{
    apr_hash_t *at_key = apr_hash_make(p);
    apr_array_header_t *rules = cf_rules(p, entries, at_key);
    cf_entry *v = (cf_entry *)entries->elts;
    const cf_rule *r = (const cf_rule *)rules->elts;
    int x;
    for (x = 0; x < rules->nelts; x++) {
        cf_entry *ex = &v[r[x].entry];
        char *q = apr_pstrdup(p, ex->key), *slash;
        while ((slash = strrchr(q, '/'))) {
            apr_array_header_t *at;
            int j;
            *slash = '\0';
            at = apr_hash_get(at_key, q, APR_HASH_KEY_STRING);
            for (j = 0; at && j < at->nelts; j++) {
                const cf_rule *y = &r[APR_ARRAY_IDX(at, j, int)];
                const cf_entry *ey = &v[y->entry];
                if (ey->subpath && rules_prefer(ex, r[x].wild, ey, y->wild))
                    cf_note_conflict(ex, ey);
            }
        }
    }
}

/* ---- writing --------------------------------------------------------- */

static void cf_emit(cf_reader *cr)
{
    importer *im = cr->im;
    const cf_entry *v = (const cf_entry *)cr->entries->elts;
    int k, slash_noted = 0;
    for (k = 0; k < cr->entries->nelts; k++) {
        const cf_entry *e = &v[k];
        const char *sch = e->scheme ? e->scheme : "";
        if (!e->subpath && !slash_noted++)
            imp_note(im, e->line, "Cloudflare compares paths exactly ('/a/' "
                     "is not '/a'); under Redirect307TrailingSlash Ignore, "
                     "the default, the rules answer both: set it to Strict "
                     "to keep Cloudflare's answers");
        if (e->conflict != CF_NONE)
            imp_note(im, e->line, "where the row at line %d%s matches too, "
                     "Cloudflare answers with this row (its path is more "
                     "specific); the rules answer with that one (its host "
                     "or scheme is more specific)", e->conflict,
                     e->conflicts > 1 ? " (or another with a shorter path)"
                                      : "");
        imp_emit(im, e->line, apr_pstrcat(im->p, sch, e->scheme ? ":" : "",
                                          "//", e->host, e->path, NULL),
                 e->target, e->status, e->flags);
        if (e->subdomains)
            imp_emit(im, e->line, apr_pstrcat(im->p, sch,
                                              e->scheme ? ":" : "", "//*.",
                                              e->host, e->path, NULL),
                     e->target, e->status, e->flags);
    }
}

void import_cloudflare(importer *im, char *buf, size_t len)
{
    cf_reader cr;
    char *s = buf;
    const char *end = buf + len;
    unsigned line = 1;
    apr_pool_t *scratch;
    apr_array_header_t *f;
    int k, ok = 1;

    memset(&cr, 0, sizeof(cr));
    cr.im = im;
    cr.entries = apr_array_make(im->p, 64, sizeof(cf_entry));
    for (k = 0; k < CF_COLS; k++)
        cr.col[k] = k;
    if (len >= BOM_LEN && !memcmp(buf, bom, BOM_LEN))
        s += BOM_LEN;
    apr_pool_create(&scratch, im->p);
    f = apr_array_make(scratch, CF_COLS, sizeof(char *));
    while (s < end) {
        unsigned span = cf_record(&s, end, f);
        if (line == 1 && cf_is_header(f)) {
            cr.header = 1;
            if (!(ok = cf_header(&cr, f)))
                break;
        }
        else {
            cf_row(&cr, line, f);
        }
        line += span;
    }
    if (ok) {
        cf_order(scratch, cr.entries);
        cf_emit(&cr);
    }
    apr_pool_destroy(scratch);
}
