/*
 * import_netlify.c - `import --from netlify`: Netlify _redirects files,
 * one rule a line:
 *
 *   FROM [NAME=VALUE...] TO [STATUS][!] [CONDITION=VALUE...]
 *
 * FROM is a path or an http(s)://HOST/path (a host rule for that scheme);
 * a FROM ending in "/STAR" (STAR being '*', a "splat") becomes a prefix
 * rule (which, as we take Netlify's splat to do, also matches the path
 * itself) and ":splat" ending TO's path becomes our '*' (the rest
 * without its slash, as Netlify's splat is).  The status defaults to
 * 301; NAME=VALUE fields with literal values make a query rule.  A FROM
 * with placeholders, segments written ":name", becomes a pattern rule
 * (SPEC: Pattern rules) that TO's ":name"s use as they are.  Not
 * converted: rewrites and proxies (200), custom pages (404 and other
 * non-redirects), placeholders in parameters (id=:id), placeholders that
 * are not a whole segment or whose names rules cannot hold, more than 8
 * of them, conditions (Country=, Language=, Role=, Cookie=).
 *
 * What Netlify does that rules do differently, as its documentation
 * describes it (there is no Netlify to test against, so these are
 * assumptions, said once here):
 *   - the first rule of the file that matches answers; rules answer with
 *     the most specific one.  A rule that an earlier one always answers
 *     first is never reached in Netlify: it is not converted (the earlier
 *     one then answers here too).  Where an earlier rule answers only
 *     part of a later, more specific one's requests, a note says so;
 *   - without '!', a rule gives way to a file that exists at its path
 *     ("shadowing"); rules always redirect: a note says so once a file;
 *   - Netlify passes the request's query on to the target; a target with
 *     its own query gets the request's after it (qsappend).  A rule that
 *     matches parameters consumes them, as a query rule does here;
 *   - Netlify matches a rule with parameters when the request carries
 *     them, whatever else it carries; a query rule matches only requests
 *     whose parameters are exactly its own, tracking parameters aside (a
 *     note says so once a file);
 *   - Netlify treats "/a" and "/a/" alike, as Redirect307TrailingSlash
 *     Ignore, the default, does; paths compare case-sensitively in both;
 *   - a placeholder matches one whole non-empty segment, and its value
 *     goes into TO as the request had it; a pattern rule inserts it
 *     percent-escaped, which is the same URL.  Rules prefer literal rules
 *     to pattern rules and, among patterns, the one with more literal
 *     segments: where Netlify's first match differs, as above.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"
#include "path_pattern.h"

/* Netlify's status for a rule that gives none. */
#define NETLIFY_DEFAULT_STATUS 301

/* Most words a line may have (a line with more is not converted). */
#define NL_MAX_WORDS 32

/* No entry (nl_entry.container, .overlap). */
#define NL_NONE (-1)

/* A converted rule, kept until the whole file is read: the order of the
 * rules matters in Netlify and not here, so it is checked first. */
typedef struct {
    unsigned line;
    const char *scheme;         /* "http" or "https" of a host rule */
    const char *host;           /* lower-case, or NULL: any host */
    const char *key;            /* escaped path without a trailing '/'
                                   ("" for the root): Netlify and rules
                                   treat "/a" and "/a/" alike */
    const char *query;          /* escaped "n=v&..." or NULL */
    int prefix;                 /* a splat rule */
    pp_path *pat;               /* its path as a pattern: every entry has
                                   one, with captures if placeholders */
    const char *names[PP_MAX_CAPTURES];     /* of its placeholders */
    const char *source;         /* the rule's fields */
    const char *target;
    int status;
    const char *flags;
    int forced;                 /* written with '!' */
    int container;              /* earliest entry answering all of this
                                   one's requests first, or NL_NONE */
    int overlap;                /* earliest entry answering some of them
                                   first, or NL_NONE */
    int overlaps;               /* how many entries do */
} nl_entry;

typedef struct {
    importer *im;
    apr_array_header_t *entries;    /* nl_entry, in line order */
} nl_reader;

/* A line cut into words (in place). */
typedef struct {
    char *w[NL_MAX_WORDS];
    int n;
    int more;                   /* words past NL_MAX_WORDS */
} nl_words;

/* ---- reading a line -------------------------------------------------- */

static void split_words(char *line, nl_words *ws)
{
    char *s = line;
    ws->n = 0;
    s += strspn(s, " \t");
    while (*s && ws->n < NL_MAX_WORDS) {
        size_t n = strcspn(s, " \t");
        if (n > 0)
            ws->w[ws->n++] = s;
        s += n;
        if (*s)
            *s++ = '\0';
        s += strspn(s, " \t");
    }
    ws->more = *s != '\0';
}

/* A NAME=VALUE query parameter field (not a path, not a URL). */
static int is_param(const char *w)
{
    return w[0] != '/' && strchr(w, '=') && !strstr(w, "://");
}

/* The status of a "NNN" or "NNN!" field, *forced set by the '!'; 0 if
 * `w` is none. */
static int status_field(const char *w, int *forced)
{
    if (!apr_isdigit(w[0]) || !apr_isdigit(w[1]) || !apr_isdigit(w[2])
        || (w[3] && strcmp(w + 3, "!")))
        return 0;
    *forced = w[3] == '!';
    return (w[0] - '0') * 100 + (w[1] - '0') * 10 + (w[2] - '0');
}

/* Why Netlify's `status` with target `to` is no redirect, or NULL. */
static const char *status_problem(apr_pool_t *p, int status, const char *to)
{
    if (cli_status_ok(status, 1))
        return NULL;
    if (status == 200)
        return strstr(to, "://") ? "status 200 with an absolute URL proxies "
                                   "to it: not a redirect"
                                 : "status 200 is a rewrite: not a redirect";
    if (status == 404)
        return "status 404 shows the target as a not-found page: not a "
               "redirect";
    return apr_psprintf(p, "status %d serves the target's content: not a "
                        "redirect", status);
}

/* ---- sources --------------------------------------------------------- */

/* s[0..n) lower-cased, in p. */
static const char *lower_copy(apr_pool_t *p, const char *s, size_t n)
{
    char *out = apr_pstrmemdup(p, s, n);
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = (char)apr_tolower((unsigned char)out[i]);
    return out;
}

/* Splits an http(s)://HOST/path FROM into e->scheme, e->host and the path
 * it returns; NULL and *why if it is no such URL. */
static const char *split_host(apr_pool_t *p, const char *from, nl_entry *e,
                              const char **why)
{
    const char *h, *path;
    if (!strncasecmp(from, "http://", 7))
        e->scheme = "http";
    else if (!strncasecmp(from, "https://", 8))
        e->scheme = "https";
    else {
        *why = "is neither a path nor an http(s) URL";
        return NULL;
    }
    h = from + strlen(e->scheme) + 3;
    path = h + strcspn(h, "/");
    if (path == h || strcspn(h, ":@") < (size_t)(path - h)) {
        *why = path == h ? "names no host"
             : "names a port or a user: host rules take neither";
        return NULL;
    }
    e->host = lower_copy(p, h, (size_t)(path - h));
    return *path ? path : "/";
}

/* 1 if a segment of `path` is a :placeholder. */
static int has_placeholder(const char *path)
{
    const char *s = path;
    while ((s = strstr(s, "/:")))
        if (apr_isalpha(*(s += 2)) || *s == '_')
            return 1;
    return 0;
}

/* Is the segment seg[0..n) a Netlify placeholder (":" and a letter or
 * '_')? */
static int is_placeholder(const char *seg, size_t n)
{
    return n > 1 && seg[0] == ':' && (apr_isalpha(seg[1]) || seg[1] == '_');
}

/* Why placeholder segment seg[0..n) cannot be one of e's, or NULL with
 * its name added to e->names. */
static const char *add_placeholder(apr_pool_t *p, const char *seg, size_t n,
                                   nl_entry *e, int k)
{
    size_t i;
    int j;
    for (i = 1; i < n; i++) {
        if (!pp_name_char((unsigned char)seg[i]))
            return apr_psprintf(p, "has the placeholder segment '%.*s': a "
                                "pattern rule's placeholder is a whole "
                                "segment named with letters, digits and "
                                "'_' only", (int)n, seg);
    }
    if (n == 6 && !memcmp(seg, ":splat", 6))
        return "uses ':splat' as a placeholder: it names the splat's value";
    if (k >= PP_MAX_CAPTURES)
        return apr_psprintf(p, "has more than %d placeholders",
                            PP_MAX_CAPTURES);
    for (j = 0; j < k; j++) {
        if (strlen(e->names[j]) == n - 1
            && !memcmp(e->names[j], seg + 1, n - 1))
            return apr_psprintf(p, "uses the placeholder '%.*s' twice",
                                (int)n, seg);
    }
    e->names[k] = apr_pstrmemdup(p, seg + 1, n - 1);
    return NULL;
}

/* The path path[0..n) with placeholders (a splat's '*' cut off) as e's
 * pattern; returns its source text without a splat's '*', or NULL with
 * *why. */
static const char *pattern_path(apr_pool_t *p, const char *path, size_t n,
                                nl_entry *e, const char **why)
{
    pp_path *a = pp_from_literal(p, path, n, e->prefix, 0, 1);
    const char *src;
    int k, captures = 0;
    for (k = 0; k < a->n; k++) {
        pp_seg *s = &a->seg[k];
        if (!is_placeholder(s->head, s->head_len))
            continue;
        if ((*why = add_placeholder(p, s->head, s->head_len, e, captures)))
            return NULL;
        s->capture = ++captures;
        s->head_len = 0;
        s->tail = "";
    }
    if (!(src = pp_source(p, a, e->names, "", why)))
        return NULL;
    e->pat = a;
    e->key = e->prefix ? apr_pstrmemdup(p, src, strlen(src) - 2) : src;
    return e->prefix ? apr_pstrmemdup(p, src, strlen(src) - 1) : src;
}

/* The path part of FROM as an entry's source: sets e->prefix, e->key,
 * e->pat; returns the escaped path (a prefix rule's without its '*'), or
 * NULL with *why. */
static const char *source_path(apr_pool_t *p, const char *path, nl_entry *e,
                               const char **why)
{
    const char *star = strchr(path, '*'), *esc;
    size_t n = strlen(path), k;
    if (path[0] != '/' || path[1] == '/') {
        *why = "is not a path";
        return NULL;
    }
    if (strpbrk(path, "?#")) {
        *why = "holds a '?' or '#': Netlify matches parameters given as "
               "separate NAME=VALUE fields";
        return NULL;
    }
    if (star && (star != path + n - 1 || star[-1] != '/')) {
        *why = "has a splat '*' that does not end the path after a '/'";
        return NULL;
    }
    e->prefix = star != NULL;
    if (has_placeholder(path))
        return pattern_path(p, path, star ? n - 1 : n, e, why);
    esc = imp_escape(p, path, star ? n - 1 : n, IMP_ENCODED | IMP_SOURCE);
    k = strlen(esc);
    while (k > 0 && esc[k - 1] == '/')
        k--;
    e->key = apr_pstrmemdup(p, esc, k);
    e->pat = pp_from_literal(p, e->key, k, e->prefix, 0, 1);
    return esc;
}

/* The NAME=VALUE fields w[0..n) as the escaped query of a query rule in
 * e->query; 0 and *why where rules cannot match them. */
static int source_query(apr_pool_t *p, char **w, int n, nl_entry *e,
                        const char **why)
{
    const char *q = NULL;
    int k;
    if (n == 0)
        return 1;
    if (e->prefix) {
        *why = "a splat with parameters: a prefix rule cannot have a query";
        return 0;
    }
    if (pp_has_capture(e->pat)) {
        *why = "has placeholders and parameters: a pattern rule cannot "
               "have a query";
        return 0;
    }
    for (k = 0; k < n; k++) {
        const char *v = strchr(w[k], '=') + 1;
        if (*v == ':') {
            *why = apr_psprintf(p, "parameter '%s' captures a placeholder: "
                                "rules match literal values only", w[k]);
            return 0;
        }
        q = q ? apr_pstrcat(p, q, "&", w[k], NULL) : w[k];
    }
    e->query = imp_escape(p, q, strlen(q), IMP_ENCODED | IMP_SOURCE);
    return 1;
}

/* ---- targets --------------------------------------------------------- */

/* Is name[0..n) one of e's placeholders? */
static int has_name(const nl_entry *e, const char *name, size_t n)
{
    int k;
    for (k = 0; k < PP_MAX_CAPTURES && e->names[k]; k++) {
        if (strlen(e->names[k]) == n && !memcmp(e->names[k], name, n))
            return 1;
    }
    return 0;
}

/* Why the ":name"s of TO (past its host, whose port is no name) cannot
 * stand in pattern entry e's target, or NULL: each must be one of its
 * placeholders or ":splat" (which the caller checks). */
static const char *target_names(apr_pool_t *p, const char *to,
                                const nl_entry *e)
{
    const char *s = strstr(to, "://"), *end;
    s = s ? s + 3 + strcspn(s + 3, "/?#") : to;
    for (; (s = strchr(s, ':')); s = end) {
        for (end = s + 1; pp_name_char((unsigned char)*end); end++)
            ;
        if (end == s + 1 || (end - s == 6 && !memcmp(s, ":splat", 6))
            || has_name(e, s + 1, (size_t)(end - s - 1)))
            continue;
        return apr_psprintf(p, "uses ':%.*s', which is no placeholder of "
                            "its source", (int)(end - s - 1), s + 1);
    }
    return NULL;
}

/* TO as an escaped target, ":splat" ending its path becoming '*' and
 * a pattern's ":name"s kept; NULL and *why where rules cannot say it. */
static const char *target_of(apr_pool_t *p, const char *to,
                             const nl_entry *e, const char **why)
{
    const char *splat = strstr(to, ":splat");
    size_t main_len = strcspn(to, "?#");
    int prefix = e->prefix;
    if (!imp_is_url_or_path(to)) {
        *why = "is neither an absolute URL nor a path";
        return NULL;
    }
    if (pp_has_capture(e->pat) && (*why = target_names(p, to, e)))
        return NULL;
    if (!splat && prefix && main_len > 0 && to[main_len - 1] == '*') {
        *why = "ends its path with a '*', which rules read as the rest of "
               "the path";
        return NULL;
    }
    if (!splat)
        return imp_escape(p, to, strlen(to), IMP_ENCODED);
    if (!prefix) {
        *why = "uses :splat but the source has no splat";
        return NULL;
    }
    if (splat + 6 != to + main_len || splat[-1] != '/'
        || strstr(splat + 6, ":splat")) {
        *why = "uses :splat elsewhere than at the end of its path after a "
               "'/': rules carry the rest only there";
        return NULL;
    }
    return apr_pstrcat(p, imp_escape(p, to, (size_t)(splat - to),
                                     IMP_ENCODED), "*",
                       imp_escape(p, splat + 6, strlen(splat + 6),
                                  IMP_ENCODED), NULL);
}

/* ---- one line -------------------------------------------------------- */

/* Reads FROM and its parameters into e; says why not. */
static int nl_source(nl_reader *nr, unsigned line, char **w, int nparams,
                     nl_entry *e)
{
    importer *im = nr->im;
    const char *why = NULL, *path = w[0], *esc;
    if (w[0][0] != '/' && !(path = split_host(im->p, w[0], e, &why))) {
        imp_skip(im, line, "source '%s' %s", w[0], why);
        return 0;
    }
    if (!(esc = source_path(im->p, path, e, &why))
        || !source_query(im->p, w + 1, nparams, e, &why)) {
        imp_skip(im, line, "source '%s' %s", w[0], why);
        return 0;
    }
    e->source = apr_pstrcat(im->p, e->host ? e->scheme : "",
                            e->host ? "://" : "", e->host ? e->host : "",
                            esc, e->prefix ? "*" : "",
                            e->query ? "?" : "", e->query ? e->query : "",
                            NULL);
    return 1;
}

/* Reads TO, the status and what follows into e; says why not. */
static int nl_rest(nl_reader *nr, unsigned line, char **w, int n,
                   nl_entry *e)
{
    importer *im = nr->im;
    const char *why = NULL;
    int forced = 0;
    if (n == 0 || status_field(w[0], &forced)) {
        imp_skip(im, line, "no target: not a redirect");
        return 0;
    }
    e->status = n > 1 ? status_field(w[1], &forced) : 0;
    if (n > (e->status ? 2 : 1)) {
        const char *c = w[e->status ? 2 : 1];
        imp_skip(im, line, strchr(c, '=') ? "condition '%s': rules cannot "
                 "express it" : "unexpected '%s'", c);
        return 0;
    }
    if (!e->status)
        e->status = NETLIFY_DEFAULT_STATUS;
    e->forced = forced;
    if ((why = status_problem(im->p, e->status, w[0]))) {
        imp_skip(im, line, "%s", why);
        return 0;
    }
    if (e->status == 410) {
        imp_note(im, line, "Netlify serves '%s' with status 410; the rule "
                 "answers httpd's own 410 page", w[0]);
        e->target = "-";
        return 1;
    }
    if (!(e->target = target_of(im->p, w[0], e, &why))) {
        imp_skip(im, line, "target '%s' %s", w[0], why);
        return 0;
    }
    /* Netlify passes the query on, after the target's own (see above). */
    if (!e->query && strchr(e->target, '?'))
        e->flags = "qsappend";
    return 1;
}

static void nl_line(void *ctx, apr_pool_t *iter, unsigned n, char *line)
{
    nl_reader *nr = ctx;
    nl_words ws;
    nl_entry e;
    int nparams = 0;
    (void)iter;
    split_words(line, &ws);
    if (ws.more) {
        imp_skip(nr->im, n, "more than %d fields", NL_MAX_WORDS);
        return;
    }
    while (1 + nparams < ws.n && is_param(ws.w[1 + nparams]))
        nparams++;
    memset(&e, 0, sizeof(e));
    e.line = n;
    e.container = e.overlap = NL_NONE;
    if (!nl_source(nr, n, ws.w, nparams, &e)
        || !nl_rest(nr, n, ws.w + 1 + nparams, ws.n - 1 - nparams, &e))
        return;
    *(nl_entry *)apr_array_push(nr->entries) = e;
}

/* ---- the order of the rules ------------------------------------------ */

/* Where rules look first for a request both entries match: host rules
 * (with their scheme, as Netlify's are) before hostless ones. */
static int nl_group(const nl_entry *e)
{
    return e->host ? 0 : 1;
}

/* Within a group: query rules, then exact, then prefix rules, then
 * pattern rules. */
static int nl_kind(const nl_entry *e)
{
    return pp_has_capture(e->pat) ? 3 : e->query ? 0 : e->prefix ? 2 : 1;
}

/* 1 if some request has a host and scheme both entries accept. */
static int hosts_meet(const nl_entry *a, const nl_entry *b)
{
    return !a->host || !b->host
           || (!strcmp(a->host, b->host) && !strcmp(a->scheme, b->scheme));
}

/* 1 if `a` accepts every host and scheme `b` does. */
static int host_covers(const nl_entry *a, const nl_entry *b)
{
    return !a->host || (b->host && !strcmp(a->host, b->host)
                        && !strcmp(a->scheme, b->scheme));
}

/* 1 if the two are one source, which validation reports as a
 * duplicate. */
static int same_source(const nl_entry *a, const nl_entry *b)
{
    return a->prefix == b->prefix && !strcmp(a->key, b->key)
           && !a->host == !b->host && (!a->host || hosts_meet(a, b))
           && !a->query == !b->query
           && (!a->query || !strcmp(a->query, b->query));
}

/* paths_relation() where e or l is a pattern (which has no query). */
static int patterns_relation(const nl_entry *e, const nl_entry *l)
{
    if (!pp_meet(e->pat, l->pat))
        return -1;
    return !e->query && pp_covers(e->pat, l->pat) ? 1 : 0;
}

/* What `l`'s paths and queries are to `e`'s, one of them being at an
 * ancestor path of the other's or the same, or a pattern: 1 if e's hold
 * all of l's, 0 if only some, -1 if none. */
static int paths_relation(const nl_entry *e, const nl_entry *l)
{
    size_t el = strlen(e->key), ll = strlen(l->key);
    if (nl_kind(e) == 3 || nl_kind(l) == 3)
        return patterns_relation(e, l);
    if (el != ll)
        return el < ll ? 1 : 0;     /* the shorter one is a prefix rule */
    if (e->prefix)
        return 1;
    if (l->prefix)
        return 0;
    if (e->query && l->query)
        return strcmp(e->query, l->query) ? -1 : 1;
    return e->query ? 0 : 1;        /* a rule without parameters takes
                                       every query */
}

/* Would rules answer a request both match with `later` where Netlify
 * answers `earlier`? */
static int rules_prefer_later(const nl_entry *earlier, const nl_entry *later)
{
    if (nl_group(later) != nl_group(earlier))
        return nl_group(later) < nl_group(earlier);
    if (nl_kind(later) != nl_kind(earlier))
        return nl_kind(later) < nl_kind(earlier);
    if (nl_kind(later) == 3)
        return pp_literal_segments(later->pat)
               > pp_literal_segments(earlier->pat);
    return later->prefix && strlen(later->key) > strlen(earlier->key);
}

static void keep_earliest(int *slot, int k)
{
    if (*slot == NL_NONE || k < *slot)
        *slot = k;
}

/* Entries x and y, one at an ancestor path of the other or the same. */
static void nl_pair(nl_entry *v, int x, int y)
{
    int early = x < y ? x : y, late = x < y ? y : x, rel;
    const nl_entry *e = &v[early];
    nl_entry *l = &v[late];
    if (!hosts_meet(e, l) || same_source(e, l))
        return;
    if (!rules_prefer_later(e, l)) {
        /* Rules answer with e too: where e takes all of l's requests (a
         * pattern behind a literal prefix or an equal pattern), l is dead
         * in both. */
        if ((nl_kind(e) == 3 || nl_kind(l) == 3) && host_covers(e, l)
            && paths_relation(e, l) == 1)
            keep_earliest(&l->container, early);
        return;
    }
    if ((rel = paths_relation(e, l)) < 0)
        return;
    if (rel == 1 && host_covers(e, l))
        keep_earliest(&l->container, early);
    else {
        keep_earliest(&l->overlap, early);
        l->overlaps++;
    }
}

/* The literal entries at each path key: key -> apr_array_header_t of
 * int. */
static apr_hash_t *nl_index(apr_pool_t *p, const apr_array_header_t *a)
{
    apr_hash_t *h = apr_hash_make(p);
    int k;
    for (k = 0; k < a->nelts; k++) {
        if (nl_kind(&APR_ARRAY_IDX(a, k, nl_entry)) == 3)
            continue;
        const char *key = APR_ARRAY_IDX(a, k, nl_entry).key;
        apr_array_header_t *at = apr_hash_get(h, key, APR_HASH_KEY_STRING);
        if (!at) {
            at = apr_array_make(p, 1, sizeof(int));
            apr_hash_set(h, key, APR_HASH_KEY_STRING, at);
        }
        APR_ARRAY_PUSH(at, int) = k;
    }
    return h;
}

/* Finds, for each entry, the earlier ones Netlify answers with first
 * where rules would answer with it: every pair of literal entries where
 * one entry's path is at or below the other's prefix (a hash lookup per
 * segment of each path), and every pair with a pattern (a comparison per
 * segment, for each pattern and each entry). */
static void nl_order(apr_pool_t *p, apr_array_header_t *a)
{
    apr_hash_t *h = nl_index(p, a);
    nl_entry *v = (nl_entry *)a->elts;
    int x, y;
    for (x = 0; x < a->nelts; x++) {
        char *q = apr_pstrdup(p, v[x].key);
        if (nl_kind(&v[x]) == 3) {
            for (y = 0; y < a->nelts; y++) {
                if (y != x && (nl_kind(&v[y]) != 3 || y < x))
                    nl_pair(v, x, y);
            }
            continue;
        }
        for (;;) {
            apr_array_header_t *at = apr_hash_get(h, q, APR_HASH_KEY_STRING);
            int j, own = !strcmp(q, v[x].key);
            for (j = 0; at && j < at->nelts; j++) {
                int y = APR_ARRAY_IDX(at, j, int);
                /* Same path: each pair once; above it: prefix rules. */
                if (own ? y < x : v[y].prefix)
                    nl_pair(v, x, y);
            }
            if (!*q)
                break;
            *strrchr(q, '/') = '\0';
        }
    }
}

/* ---- writing --------------------------------------------------------- */

static void nl_emit(nl_reader *nr)
{
    importer *im = nr->im;
    nl_entry *v = (nl_entry *)nr->entries->elts;
    int k, shadow_noted = 0, params_noted = 0;
    for (k = 0; k < nr->entries->nelts; k++) {
        nl_entry *e = &v[k];
        if (e->container != NL_NONE) {
            imp_skip(im, e->line, "never reached in Netlify: the rule at "
                     "line %u matches all its requests first",
                     v[e->container].line);
            continue;
        }
        if (e->overlap != NL_NONE) {
            const nl_entry *o = &v[e->overlap];
            if (o->container != NL_NONE)
                o = &v[o->container];
            if (e->overlaps > 1)
                imp_note(im, e->line, "where earlier rules match too (line "
                         "%u and %d more), Netlify answers with them (the "
                         "first match wins); the rules answer with this more "
                         "specific one", o->line, e->overlaps - 1);
            else
                imp_note(im, e->line, "where the rule at line %u matches "
                         "too, Netlify answers with it (the first match "
                         "wins); the rules answer with this more specific "
                         "one", o->line);
        }
        if (e->query && !params_noted) {
            imp_note(im, e->line, "Netlify matches parameters when the "
                     "request carries them, whatever else it carries; a "
                     "query rule matches only requests with exactly these "
                     "(tracking parameters aside; said once for the file)");
            params_noted = 1;
        }
        if (!e->forced && !shadow_noted) {
            imp_note(im, e->line, "without '!' Netlify answers only where "
                     "no file exists at the path; mod_redirect307 always "
                     "redirects (said once for the file)");
            shadow_noted = 1;
        }
        imp_emit(im, e->line, e->source, e->target, e->status, e->flags);
    }
}

void import_netlify(importer *im, char *buf, size_t len)
{
    nl_reader nr;
    apr_pool_t *scratch;
    memset(&nr, 0, sizeof(nr));
    nr.im = im;
    nr.entries = apr_array_make(im->p, 64, sizeof(nl_entry));
    cli_each_line(im->p, buf, len, nl_line, &nr);
    apr_pool_create(&scratch, im->p);
    nl_order(scratch, nr.entries);
    apr_pool_destroy(scratch);
    nl_emit(&nr);
}
