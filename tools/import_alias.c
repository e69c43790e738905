/*
 * import_alias.c - `import --from alias`: mod_alias's Redirect,
 * RedirectPermanent and RedirectTemp from httpd.conf or .htaccess files,
 * read as httpd reads configuration lines, converted so that every
 * request is answered as mod_alias answered it.  What mod_alias does
 * that rules cannot (regexes, conditions, some joins of target and
 * path) is listed as not converted or as a difference.
 *
 * How mod_alias answers (modules/mappers/mod_alias.c): the Redirects of
 * a server are tried in configuration order and the first whose
 * URL-path matches r->uri on a segment boundary (alias_matches(): runs
 * of '/' compare as one) answers with its URL followed by the rest of
 * r->uri after the match, escaped; the request's query is appended
 * unless the result already holds a '?'.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* Arguments of a directive read at most; more are not counted. */
#define ALIAS_MAX_ARGS 8

/* Longest RewriteRule [FLAGS] looked at for R. */
#define REWRITE_FLAGS_MAX 512

/* A word this many edits (or fewer) away from a directive we act on is
 * taken for a misspelling of it. */
#define NEAR_MISS_EDITS 2

/* Words longer than this are never compared for misspellings. */
#define NEAR_MISS_MAX_LEN 32

typedef struct {
    const char *name;           /* as written, without '<' */
    unsigned line;
} alias_section_open;

typedef struct {
    importer *im;
    apr_array_header_t *sections;   /* alias_section_open: open <Section>s,
                                       innermost last */
    unsigned vhost_line;        /* <VirtualHost> being read, 0: none */
    int vhost_noted;            /* its note has been given */
    apr_hash_t *main_seen;      /* URL-paths of the main server's
                                   Redirects -> line (unsigned *) */
    apr_hash_t *vhost_seen;     /* those of the <VirtualHost> being read */
} alias_reader;

/* A Redirect's arguments: [STATUS] URL-PATH [URL]. */
typedef struct {
    int status;
    const char *path;
    const char *url;            /* NULL: none given */
} alias_redirect;

/* ---- reading configuration lines ------------------------------------ */

/* ap_getword_conf(): a word, or a "quoted" / 'quoted' string in which
 * \\ and \<quote> stand for themselves.  NULL at the end of the line. */
static char *conf_word(apr_pool_t *p, const char **line)
{
    const char *s = *line, *e;
    char quote = 0, *out, *o;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    if (*s == '"' || *s == '\'') {
        quote = *s++;
        for (e = s; *e && *e != quote; e++) {
            if (*e == '\\' && (e[1] == quote || e[1] == '\\'))
                e++;
        }
    }
    else {
        for (e = s; *e && *e != ' ' && *e != '\t'; e++)
            ;
    }
    o = out = apr_palloc(p, (size_t)(e - s) + 1);
    for (; s < e; s++) {
        if (*s == '\\' && (s[1] == '\\' || (quote && s[1] == quote)))
            s++;
        *o++ = *s;
    }
    *o = '\0';
    if (quote && *e == quote)
        e++;
    *line = e;
    return out;
}

/* ---- directives we do not know -------------------------------------- */

/* Directives this importer acts on (or knows to leave alone although
 * they look like the ones it acts on), lower case. */
static const char *const known_directives[] = {
    "redirect", "redirectpermanent", "redirecttemp", "redirectmatch",
    "redirectrelative", "rewriterule", "rewritecond", "rewriteengine",
    "rewritebase", "rewritemap", "rewriteoptions", "include",
    "includeoptional", NULL
};

/* What a misspelt word is compared with. */
static const char *const acted_on[] = {
    "Redirect", "RedirectPermanent", "RedirectTemp", "RedirectMatch",
    "RewriteRule", "RewriteCond", "RewriteEngine", NULL
};

/* Sections whose misspellings are reported. */
static const char *const known_sections[] = {
    "VirtualHost", "Location", "LocationMatch", "Directory",
    "DirectoryMatch", "Files", "FilesMatch", "If", "ElseIf", "Else",
    "IfModule", "IfDefine", "IfVersion", "IfFile", "IfDirective",
    "IfSection", "Limit", "LimitExcept", NULL
};

static int same_letter(char a, char b)
{
    return apr_tolower(a) == apr_tolower(b);
}

static size_t smaller(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Case-blind optimal string alignment distance of a and b (lengths up
 * to NEAR_MISS_MAX_LEN): edits, each one byte inserted, deleted,
 * replaced, or two next to each other swapped.  O(|a| |b|). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t d[NEAR_MISS_MAX_LEN + 1][NEAR_MISS_MAX_LEN + 1];
    size_t la = strlen(a), lb = strlen(b), i, j;
    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + !same_letter(a[i - 1], b[j - 1]);
            best = smaller(best, d[i - 1][j] + 1);
            best = smaller(best, d[i][j - 1] + 1);
            if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2])
                && same_letter(a[i - 2], b[j - 1]))
                best = smaller(best, d[i - 2][j - 2] + 1);
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* The name in `names` that `w` is a misspelling of, or NULL. */
static const char *near_miss(const char *w, const char *const *names)
{
    int k;
    if (strlen(w) > NEAR_MISS_MAX_LEN)
        return NULL;
    for (k = 0; names[k]; k++) {
        size_t a = strlen(w), b = strlen(names[k]);
        /* Each edit changes the length by one at most. */
        if ((a > b ? a - b : b - a) > NEAR_MISS_EDITS
            || b > NEAR_MISS_MAX_LEN)
            continue;
        if (edit_distance(w, names[k]) <= NEAR_MISS_EDITS)
            return names[k];
    }
    return NULL;
}

/* Could `w` be a directive's name?  httpd's are letters, digits and
 * '_'; modules' add '-' and '.'. */
static int directive_shaped(const char *w)
{
    if (!apr_isalpha(*w))
        return 0;
    for (w++; *w; w++) {
        if (!apr_isalnum(*w) && *w != '_' && *w != '-' && *w != '.')
            return 0;
    }
    return 1;
}

static int is_known(const char *w, const char *const *names)
{
    int k;
    for (k = 0; names[k]; k++) {
        if (!strcasecmp(w, names[k]))
            return 1;
    }
    return 0;
}

/* Reports a first word that is no directive we may pass over in
 * silence; returns 1 if it did.
 *
 * The rule: a word not shaped like a directive name (a path, a stray
 * quote, binary garbage) is reported, and so is a near miss of a
 * directive this importer acts on ("Redirct", "RedirectPermanant"),
 * which httpd would refuse and which would otherwise lose a redirect
 * without a word.  httpd has hundreds of other directives and modules
 * add their own (php_value, SSLEngine, ...): an exhaustive list would
 * fall out of date and report what httpd accepts, so any other
 * directive-shaped word is left alone. */
static int alias_unknown(importer *im, unsigned line, const char *dir)
{
    const char *meant;
    if (!directive_shaped(dir)) {
        imp_skip(im, line, "'%s' is not a directive", dir);
        return 1;
    }
    if (is_known(dir, known_directives) || !strncasecmp(dir, "Redirect307",
                                                        11))
        return 0;
    if (!(meant = near_miss(dir, acted_on)))
        return 0;
    imp_skip(im, line, "unknown directive '%s' (%s?)", dir, meant);
    return 1;
}

/* ---- Redirect -------------------------------------------------------- */

/* 1 and *st set if `w` is a status as mod_alias takes one: a keyword or
 * a number (whether or not rules can answer it). */
static int alias_status(const char *w, int *st)
{
    static const struct {
        const char *word;
        int status;
    } words[] = {
        { "permanent", 301 }, { "temp", 302 }, { "seeother", 303 },
        { "gone", 410 }, { NULL, 0 }
    };
    int k;
    for (k = 0; words[k].word; k++) {
        if (!strcasecmp(w, words[k].word)) {
            *st = words[k].status;
            return 1;
        }
    }
    if (!apr_isdigit(*w))
        return 0;
    *st = atoi(w);
    return 1;
}

/* Does mod_alias take `dir` with `nargs` arguments?  Says why not. */
static int alias_arity_ok(importer *im, unsigned line, const char *dir,
                          int nargs)
{
    int is_redirect = !strcasecmp(dir, "Redirect");
    if (nargs < 1 || nargs > 3 || (!is_redirect && nargs != 2)) {
        imp_skip(im, line, "%s with %d arguments (mod_alias would refuse "
                 "it)", dir, nargs);
        return 0;
    }
    if (nargs == 1) {
        imp_skip(im, line, "%s without a URL-path (only valid inside "
                 "<Location>)", dir);
        return 0;
    }
    return 1;
}

/* Splits 2 or 3 arguments as mod_alias does; 0 if the first of three is
 * no status. */
static int alias_split(const char *dir, char **arg, int nargs,
                       alias_redirect *rd)
{
    int st = 0;
    if (!strcasecmp(dir, "Redirect") && alias_status(arg[0], &st)) {
        rd->status = st;
        rd->path = arg[1];
        rd->url = nargs == 3 ? arg[2] : NULL;
        return 1;
    }
    if (nargs == 3)
        return 0;
    rd->status = !strcasecmp(dir, "RedirectPermanent") ? 301 : 302;
    rd->path = arg[0];
    rd->url = arg[1];
    return 1;
}

/* Why rules cannot say what `rd` says, or NULL. */
static const char *alias_problem(apr_pool_t *p, const alias_redirect *rd,
                                 const char *first_arg)
{
    if (!cli_status_ok(rd->status, 1))
        return apr_psprintf(p, "status %s (rules take 301, 302, 303, 307, "
                            "308 or 410)", first_arg);
    if (rd->status == 410 && rd->url)
        return "gone (410) takes no URL";
    if (rd->status != 410 && !rd->url)
        return "URL to redirect to is missing";
    if (rd->path[0] != '/')
        return apr_psprintf(p, "'%s' is not a URL-path", rd->path);
    if (rd->url && !imp_is_url_or_path(rd->url))
        return apr_psprintf(p, "'%s' is neither an absolute URL nor a path",
                            rd->url);
    if (rd->url && strchr(rd->url, '#'))
        return apr_psprintf(p, "'%s' has a #fragment, after which mod_alias "
                            "appends the rest of the path and the query",
                            rd->url);
    return NULL;
}

/* ---- shadowed Redirects ---------------------------------------------- */

/* `path` with runs of '/' as one, as alias_matches() compares them. */
static char *collapse_slashes(apr_pool_t *p, const char *path)
{
    char *out = apr_pstrdup(p, path), *o = out;
    const char *s;
    for (s = path; *s; s++) {
        if (*s == '/' && o > out && o[-1] == '/')
            continue;
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* The line of an earlier Redirect of the same server whose URL-path
 * matches every path `key` (collapsed) matches, so that mod_alias, which
 * takes the first match, never reaches this one; 0 if none.  Tries each
 * prefix of key on a segment boundary, with and without its '/': one
 * lookup per segment.  The same URL-path is a duplicate, left to
 * imp_validate(). */
static unsigned alias_shadowed_by(apr_hash_t *seen, const char *key)
{
    size_t n = strlen(key), i;
    for (i = 0; i < n; i++) {
        const unsigned *at;
        if (key[i] != '/')
            continue;
        if (i > 0 && (at = apr_hash_get(seen, key, (apr_ssize_t)i)))
            return *at;
        if (i + 1 < n && (at = apr_hash_get(seen, key, (apr_ssize_t)i + 1)))
            return *at;
    }
    return 0;
}

/* Says so and returns 1 if an earlier Redirect takes all of this one's
 * paths; else remembers this one. */
static int alias_shadowed(alias_reader *ar, unsigned line, const char *path)
{
    importer *im = ar->im;
    apr_hash_t *seen = ar->vhost_line ? ar->vhost_seen : ar->main_seen;
    const char *key = collapse_slashes(im->p, path);
    unsigned by = alias_shadowed_by(seen, key), *at;
    if (by) {
        imp_note(im, line, "never answers in mod_alias, which takes the "
                 "first match: the Redirect at line %u comes first and "
                 "matches every path this one does; not written", by);
        return 1;
    }
    if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
        at = apr_palloc(im->p, sizeof(*at));
        *at = line;
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, at);
    }
    return 0;
}

/* ---- converting ------------------------------------------------------ */

/* The rule's target for mod_alias's "URL followed by the rest of the
 * path".  A '*' after a '/' carries the rest without its leading slash,
 * after any other byte with it and nothing for the prefix itself
 * (SPEC: Prefix targets).  `slash_rest`: the rest mod_alias appends
 * starts with '/' (the URL-path does not end in one).  Notes what the
 * rule cannot join as mod_alias does. */
static const char *alias_target(importer *im, unsigned line,
                                const alias_redirect *rd, const char *t,
                                int slash_rest)
{
    size_t n = strlen(t);
    int ends_slash = n > 0 && t[n - 1] == '/';
    const char *host_end = strstr(t, "://");
    int no_path = host_end && !strchr(host_end + 3, '/');

    if (no_path && slash_rest)
        imp_differs(im, line, "mod_alias answers '%s' itself with '%s'; "
                    "the rule with '%s/' (the same URL to clients)",
                    rd->path, rd->url, t);
    else if (slash_rest && ends_slash)
        imp_differs(im, line, "mod_alias answers '%s/REST' with '%s/REST' "
                    "(a doubled slash, as its URL ends in '/'); the rule "
                    "answers '%sREST'", rd->path, rd->url, rd->url);
    else if (!slash_rest && !ends_slash)
        imp_differs(im, line, "mod_alias answers '%sREST' with '%sREST' "
                    "(no slash between them, as its URL-path ends in '/' "
                    "and its URL does not); the rule answers '%s/REST'",
                    rd->path, rd->url, rd->url);
    /* A '*' may not touch the host: "scheme://host/" carries the rest. */
    if (no_path)
        return apr_pstrcat(im->p, t, "/*", NULL);
    return apr_pstrcat(im->p, t, "*", NULL);
}

/* A URL with a query: mod_alias appends the rest of the path after the
 * query, which rules cannot; the URL-path itself is converted. */
static void alias_convert_query(importer *im, unsigned line,
                                const alias_redirect *rd, const char *src,
                                const char *tgt)
{
    imp_skip(im, line, "paths below '%s' (mod_alias appends them after "
             "the query of '%s'); '%s' itself is converted", rd->path,
             rd->url, rd->path);
    imp_emit(im, line, src, tgt, rd->status, NULL);
}

/* mod_alias matches a prefix on segment boundaries and carries the rest:
 * "Redirect /a http://x/b" sends /a/x to http://x/b/x.  Ours is the
 * prefix rule "/a/STAR http://x/bSTAR", STAR being '*'. */
static void alias_convert(importer *im, unsigned line,
                          const alias_redirect *rd)
{
    const char *path = rd->path, *base, *t;
    size_t plen = strlen(path);
    int slash_rest = path[plen - 1] != '/';

    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    if (!slash_rest && plen > 1)
        imp_differs(im, line, "mod_alias does not answer '%.*s' itself "
                    "(its URL-path ends in '/'); the rule does", (int)plen,
                    path);
    base = imp_escape(im->p, path, plen == 1 ? 0 : plen, IMP_SOURCE);
    if (!rd->url) {
        imp_emit(im, line, apr_pstrcat(im->p, base, "/*", NULL), "-",
                 rd->status, NULL);
        return;
    }
    t = imp_escape(im->p, rd->url, strlen(rd->url), IMP_ENCODED);
    if (strcmp(t, rd->url))
        imp_differs(im, line, "mod_alias sends the URL as written ('%s'); "
                    "the rule sends it percent-escaped ('%s')", rd->url, t);
    if (strchr(t, '?')) {
        alias_convert_query(im, line, rd, *base ? base : "/", t);
        return;
    }
    imp_emit(im, line, apr_pstrcat(im->p, base, "/*", NULL),
             alias_target(im, line, rd, t, slash_rest), rd->status, NULL);
}

static void alias_redirect_line(alias_reader *ar, unsigned line,
                                const char *dir, char **arg, int nargs)
{
    importer *im = ar->im;
    alias_redirect rd;
    const char *problem;

    if (!alias_arity_ok(im, line, dir, nargs))
        return;
    if (!alias_split(dir, arg, nargs, &rd)) {
        imp_skip(im, line, "invalid first argument '%s' (of three)", arg[0]);
        return;
    }
    if ((problem = alias_problem(im->p, &rd, arg[0]))) {
        imp_skip(im, line, "%s", problem);
        return;
    }
    if (alias_shadowed(ar, line, rd.path))
        return;
    if (ar->vhost_line && !ar->vhost_noted) {
        imp_note(im, line, "from the <VirtualHost> at line %u: load the "
                 "output in that virtual host", ar->vhost_line);
        ar->vhost_noted = 1;
    }
    alias_convert(im, line, &rd);
}

/* ---- sections and other directives ---------------------------------- */

/* The innermost open section that makes its redirects conditional, or
 * NULL.  Only the sections httpd evaluates when it reads its
 * configuration (<IfModule>, <IfDefine>, ... and <VirtualHost>,
 * <Directory>) are taken as unconditional: any other (<Proxy>, <Macro>,
 * a misspelt name) counts as a condition. */
static const char *alias_condition(const apr_array_header_t *sections)
{
    static const char *const conditions[] = {
        "if", "elseif", "else", "location", "locationmatch", "files",
        "filesmatch", "directorymatch", "limit", "limitexcept", NULL
    };
    int k;
    for (k = sections->nelts - 1; k >= 0; k--) {
        const char *c = APR_ARRAY_IDX(sections, k, alias_section_open).name;
        if (is_known(c, conditions) || !is_known(c, known_sections))
            return c;
    }
    return NULL;
}

static int is_vhost(const char *name)
{
    return !strcasecmp(name, "VirtualHost");
}

/* A "</...>" line: closes the innermost section, which it must name. */
static void alias_close(alias_reader *ar, unsigned line, const char *text)
{
    importer *im = ar->im;
    size_t n = strcspn(text + 2, " \t>");
    alias_section_open *top = apr_array_pop(ar->sections);
    if (!top) {
        imp_skip(im, line, "'</%.*s>' closes no section (httpd would refuse "
                 "the file)", (int)n, text + 2);
        return;
    }
    if (strlen(top->name) != n || strncasecmp(top->name, text + 2, n))
        imp_skip(im, line, "'</%.*s>' closes <%s> (line %u) (httpd would "
                 "refuse the file)", (int)n, text + 2, top->name, top->line);
    if (is_vhost(top->name))
        ar->vhost_line = 0;
}

/* Opens or closes a section on a "<...>" line. */
static void alias_section(alias_reader *ar, unsigned line, const char *text)
{
    importer *im = ar->im;
    alias_section_open *open;
    const char *meant;
    size_t n;
    if (text[1] == '/') {
        alias_close(ar, line, text);
        return;
    }
    n = strcspn(text + 1, " \t>");
    open = apr_array_push(ar->sections);
    open->name = apr_pstrmemdup(im->p, text + 1, n);
    open->line = line;
    if (!is_known(open->name, known_sections)
        && (meant = near_miss(open->name, known_sections)))
        imp_skip(im, line, "unknown section '<%s>' (<%s>?): the redirects "
                 "in it are not converted", open->name, meant);
    if (is_vhost(open->name)) {
        ar->vhost_line = line;
        ar->vhost_noted = 0;
        ar->vhost_seen = apr_hash_make(im->p);
    }
}

/* Does a RewriteRule's [FLAGS] make it a redirect? */
static int rewrite_redirects(char **arg, int nargs)
{
    const char *f = nargs >= 3 ? arg[nargs - 1] : NULL;
    char buf[REWRITE_FLAGS_MAX], *t, *last;
    if (!f || f[0] != '[')
        return 0;
    apr_cpystrn(buf, f + 1, sizeof(buf));
    buf[strcspn(buf, "]")] = '\0';
    for (t = apr_strtok(buf, ",", &last); t;
         t = apr_strtok(NULL, ",", &last)) {
        if (!strcasecmp(t, "R") || !strncasecmp(t, "R=", 2)
            || !strncasecmp(t, "redirect", 8))
            return 1;
    }
    return 0;
}

static int is_alias_redirect(const char *dir)
{
    return !strcasecmp(dir, "Redirect")
           || !strcasecmp(dir, "RedirectPermanent")
           || !strcasecmp(dir, "RedirectTemp");
}

/* Include and IncludeOptional name files with more configuration. */
static void alias_include(importer *im, unsigned line, const char *dir,
                          char **arg, int nargs)
{
    imp_note(im, line, "%s %s: not followed; import that file too", dir,
             nargs > 0 ? arg[0] : "");
}

/* One configuration line, trimmed, neither blank nor a comment. */
static void alias_line(alias_reader *ar, unsigned line, const char *text)
{
    importer *im = ar->im;
    char *arg[ALIAS_MAX_ARGS], *dir;
    const char *s = text, *cond;
    int nargs = 0;

    if (text[0] == '<') {
        alias_section(ar, line, text);
        return;
    }
    if (!(dir = conf_word(im->p, &s)))
        return;
    while (nargs < ALIAS_MAX_ARGS && (arg[nargs] = conf_word(im->p, &s)))
        nargs++;
    if (!strcasecmp(dir, "RedirectMatch"))
        imp_skip(im, line, "RedirectMatch uses a regular expression");
    else if (!strcasecmp(dir, "RewriteRule") && rewrite_redirects(arg, nargs))
        imp_skip(im, line, "RewriteRule [R] uses a regular expression");
    else if (!strncasecmp(dir, "Include", 7) && is_known(dir,
                                                        known_directives))
        alias_include(im, line, dir, arg, nargs);
    else if (!is_alias_redirect(dir))
        alias_unknown(im, line, dir);
    else if ((cond = alias_condition(ar->sections)))
        imp_skip(im, line, "inside <%s>: a condition rules cannot express",
                 cond);
    else
        alias_redirect_line(ar, line, dir, arg, nargs);
}

/* Sections still open at the end: httpd refuses such a file. */
static void alias_unclosed(alias_reader *ar)
{
    int k;
    for (k = 0; k < ar->sections->nelts; k++) {
        const alias_section_open *o =
            &APR_ARRAY_IDX(ar->sections, k, alias_section_open);
        imp_skip(ar->im, o->line, "<%s> is never closed (httpd would refuse "
                 "the file)", o->name);
    }
}

void import_alias(importer *im, char *buf, size_t len)
{
    alias_reader ar;
    char *s = buf, *line;
    unsigned n = 0, first = 0;

    memset(&ar, 0, sizeof(ar));
    ar.im = im;
    ar.sections = apr_array_make(im->p, 4, sizeof(alias_section_open));
    ar.main_seen = apr_hash_make(im->p);
    while ((line = imp_next_conf_line(im, &s, buf + len, &n, &first))) {
        line = cli_trim(line);
        if (*line && *line != '#')
            alias_line(&ar, first, line);
    }
    alias_unclosed(&ar);
}
