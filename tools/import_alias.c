/*
 * import_alias.c - `import --from alias`: mod_alias's Redirect,
 * RedirectPermanent and RedirectTemp from httpd.conf or .htaccess files,
 * read as httpd reads configuration lines.  What mod_alias does that
 * rules cannot (regexes, conditions) is listed as not converted.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* Arguments of a directive read at most; more are not counted. */
#define ALIAS_MAX_ARGS 8

/* Longest RewriteRule [FLAGS] looked at for R. */
#define REWRITE_FLAGS_MAX 512

typedef struct {
    importer *im;
    apr_array_header_t *sections;   /* const char *: open <Section>s,
                                       innermost last */
    unsigned vhost_line;        /* <VirtualHost> being read, 0: none */
    int vhost_noted;            /* its note has been given */
} alias_reader;

/* A Redirect's arguments: [STATUS] URL-PATH [URL]. */
typedef struct {
    int status;
    const char *path;
    const char *url;            /* NULL: none given */
} alias_redirect;

/* ---- reading configuration lines ------------------------------------ */

/* The next configuration line, joined with the following ones as httpd
 * joins a line ending in a single backslash; *n counts physical lines,
 * *first is where the joined line starts.  NULL at the end, dropping a
 * continuation that never ends. */
static char *next_conf_line(apr_pool_t *p, char **s, const char *end,
                            unsigned *n, unsigned *first)
{
    char *line, *joined = NULL;
    while ((line = cli_next_line(s, end))) {
        size_t l = strlen(line);
        ++*n;
        if (!joined)
            *first = *n;
        if (l > 0 && line[l - 1] == '\\' && !(l > 1 && line[l - 2] == '\\')) {
            line[l - 1] = '\0';
            joined = joined ? apr_pstrcat(p, joined, line, NULL)
                            : apr_pstrdup(p, line);
            continue;
        }
        return joined ? apr_pstrcat(p, joined, line, NULL) : line;
    }
    return NULL;
}

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
    return NULL;
}

/* mod_alias matches a prefix on segment boundaries and carries the rest:
 * "Redirect /a /b" sends /a/x to /b/x.  Ours is the prefix rule
 * "/a/STAR /b/STAR", STAR being '*'. */
static void alias_convert(importer *im, unsigned line,
                          const alias_redirect *rd)
{
    const char *path = rd->path, *src, *tgt;
    size_t plen = strlen(path);
    if (plen > 1 && path[plen - 1] == '/') {
        plen--;
        imp_note(im, line, "mod_alias source '%s' does not match '%.*s' "
                 "itself; the converted prefix rule does", path, (int)plen,
                 path);
    }
    src = plen == 1 ? "/*"
          : apr_pstrcat(im->p, imp_escape(im->p, path, plen, IMP_SOURCE),
                        "/*", NULL);
    if (!rd->url) {
        tgt = "-";
    }
    else {
        const char *t = imp_escape(im->p, rd->url, strlen(rd->url),
                                   IMP_ENCODED);
        size_t tmain = strcspn(t, "?#");
        tgt = apr_pstrcat(im->p, apr_pstrmemdup(im->p, t, tmain),
                          tmain > 0 && t[tmain - 1] == '/' ? "*" : "/*",
                          t + tmain, NULL);
    }
    imp_emit(im, line, src, tgt, rd->status, NULL);
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
    if (ar->vhost_line && !ar->vhost_noted) {
        imp_note(im, line, "from the <VirtualHost> at line %u: load the "
                 "output in that virtual host", ar->vhost_line);
        ar->vhost_noted = 1;
    }
    alias_convert(im, line, &rd);
}

/* ---- sections and other directives ---------------------------------- */

/* The innermost open section that makes its redirects conditional, or
 * NULL. */
static const char *alias_condition(const apr_array_header_t *sections)
{
    static const char *const conditions[] = {
        "if", "elseif", "else", "location", "locationmatch", "files",
        "filesmatch", "directorymatch", "limit", "limitexcept", NULL
    };
    int k, j;
    for (k = 0; k < sections->nelts; k++) {
        const char *c = APR_ARRAY_IDX(sections, k, const char *);
        for (j = 0; conditions[j]; j++) {
            if (!strcasecmp(c, conditions[j]))
                return c;
        }
    }
    return NULL;
}

/* Opens or closes a section on a "<...>" line. */
static void alias_section(alias_reader *ar, unsigned line, const char *text)
{
    size_t n;
    if (text[1] == '/') {
        const char **top = apr_array_pop(ar->sections);
        if (top && !strcasecmp(*top, "virtualhost"))
            ar->vhost_line = 0;
        return;
    }
    n = strcspn(text + 1, " \t>");
    APR_ARRAY_PUSH(ar->sections, const char *) =
        apr_pstrmemdup(ar->im->p, text + 1, n);
    if (n == strlen("VirtualHost")
        && !strncasecmp(text + 1, "VirtualHost", n)) {
        ar->vhost_line = line;
        ar->vhost_noted = 0;
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
    else if (!is_alias_redirect(dir))
        return;
    else if ((cond = alias_condition(ar->sections)))
        imp_skip(im, line, "inside <%s>: a condition rules cannot express",
                 cond);
    else
        alias_redirect_line(ar, line, dir, arg, nargs);
}

void import_alias(importer *im, char *buf, size_t len)
{
    alias_reader ar;
    char *s = buf, *line;
    unsigned n = 0, first = 0;

    memset(&ar, 0, sizeof(ar));
    ar.im = im;
    ar.sections = apr_array_make(im->p, 4, sizeof(const char *));
    while ((line = next_conf_line(im->p, &s, buf + len, &n, &first))) {
        line = cli_trim(line);
        if (*line && *line != '#')
            alias_line(&ar, first, line);
    }
}
