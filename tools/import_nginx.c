/*
 * import_nginx.c - `import --from nginx`: the entries of map $uri and
 * map $request_uri blocks become exact rules, answered as the return or
 * rewrite that uses the map's variable answers: its status, what it puts
 * before the value, and whether it keeps the request's query.
 *
 * How nginx answers the usual form
 *
 *     map $uri $new { /old /new; }
 *     server { if ($new) { return 301 $new; } }
 *
 * map keys compare case-blind with $uri (decoded, normalised) or with
 * $request_uri (raw, query included); `return CODE TEXT` sends TEXT as
 * it is, so `return 301 $new` drops the request's query and `return 301
 * $new$is_args$args` keeps it; `rewrite REGEX TEXT permanent|redirect`
 * appends it unless TEXT ends in '?'.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* Bytes that end an unquoted word. */
static const char word_ends[] = " \t\r\n;{}";

/* Bytes of a variable's name. */
static const char ident[] = "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

typedef struct {
    const char *s;              /* the word, unquoted */
    unsigned line;
    int quoted;
    int unterminated;           /* a quote never closed */
    char punct;                 /* ';', '{', '}' or 0 for a word */
} ngx_tok;

/* ---- tokens ---------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    const char *b;
    size_t len, i;
    unsigned line;
} ngx_lexer;

/* Skips blanks, line ends and # comments; 0 at the end of the input. */
static int ngx_skip_space(ngx_lexer *lx)
{
    while (lx->i < lx->len) {
        char c = lx->b[lx->i];
        if (c == '\n')
            lx->line++;
        if (c == '#') {
            while (lx->i < lx->len && lx->b[lx->i] != '\n')
                lx->i++;
            continue;
        }
        if (c != '\n' && c != ' ' && c != '\t' && c != '\r')
            return 1;
        lx->i++;
    }
    return 0;
}

/* The byte \e stands for in a string quoted with `quote`, or 0 where
 * nginx keeps the backslash. */
static char ngx_unescape(char e, char quote)
{
    switch (e) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    }
    return e == '\\' || e == quote ? e : 0;
}

/* A string in quotes at lx->i; an unterminated one runs to the end. */
static void ngx_quoted(ngx_lexer *lx, ngx_tok *t)
{
    const char *b = lx->b;
    char quote = b[lx->i++];
    char *out = apr_palloc(lx->p, lx->len - lx->i + 1), *o = out;
    while (lx->i < lx->len && b[lx->i] != quote) {
        if (b[lx->i] == '\\' && lx->i + 1 < lx->len) {
            char e = b[lx->i + 1], u = ngx_unescape(e, quote);
            if (!u)
                *o++ = '\\';
            *o++ = u ? u : e;
            if (e == '\n')
                lx->line++;
            lx->i += 2;
            continue;
        }
        if (b[lx->i] == '\n')
            lx->line++;
        *o++ = b[lx->i++];
    }
    *o = '\0';
    t->unterminated = lx->i >= lx->len;
    lx->i++;
    t->s = out;
    t->quoted = 1;
}

/* An unquoted word at lx->i. */
static void ngx_word(ngx_lexer *lx, ngx_tok *t)
{
    size_t j = lx->i;
    while (j < lx->len && !memchr(word_ends, lx->b[j], sizeof(word_ends) - 1))
        j++;
    t->s = apr_pstrmemdup(lx->p, lx->b + lx->i, j - lx->i);
    lx->i = j;
}

static apr_array_header_t *ngx_tokenize(apr_pool_t *p, const char *b,
                                        size_t len)
{
    apr_array_header_t *toks = apr_array_make(p, 256, sizeof(ngx_tok));
    ngx_lexer lx = { p, b, len, 0, 1 };
    while (ngx_skip_space(&lx)) {
        ngx_tok *t = apr_array_push(toks);
        char c = b[lx.i];
        memset(t, 0, sizeof(*t));
        t->line = lx.line;
        if (c == ';' || c == '{' || c == '}') {
            t->punct = c;
            t->s = "";
            lx.i++;
        }
        else if (c == '"' || c == '\'') {
            ngx_quoted(&lx, t);
        }
        else {
            ngx_word(&lx, t);
        }
    }
    return toks;
}

/* ---- how a variable is answered ------------------------------------- */

/* What becomes of the request's query. */
typedef enum {
    NQ_DROP,        /* return CODE $v: dropped */
    NQ_APPEND,      /* return CODE $v$is_args$args, rewrite ^ $v flag:
                       appended after a '?' (a second one if the value
                       has a query) */
    NQ_APPEND_Q     /* return CODE $v?$args: appended after a '?' that
                       is sent even without a query */
} ngx_query;

/* A return or rewrite statement that answers with a map's variable. */
typedef struct {
    int status;
    ngx_query query;
    const char *prefix;         /* literal text before the value */
    const char *text;           /* the statement's target, as written */
    unsigned line;
    const char *problem;        /* why rules cannot answer as it does */
    unsigned other_line;        /* a later statement answering otherwise,
                                   0: none */
    unsigned used_line;         /* the first statement using the variable
                                   for something else, 0: none */
    const char *used_by;        /* its directive */
} ngx_use;

/* The statements around a statement: the headers of the blocks it is
 * in, outermost first. */
typedef struct {
    const ngx_tok *t;
    int n;
} ngx_header;

/* Does the rewrite regex match every URI? */
static int matches_everything(const char *re)
{
    static const char *const all[] = {
        "^", "^.*", "^.*$", "^(.*)", "^(.*)$", ".*", "(.*)", "^/", NULL
    };
    int k;
    for (k = 0; all[k]; k++) {
        if (!strcmp(re, all[k]))
            return 1;
    }
    return 0;
}

static int is_ident(char c)
{
    return c && strchr(ident, c);
}

/* Where "$var" or "${var}" stands in `text`: *at and *len, or 0. */
static int find_var(const char *text, const char *var, size_t *at,
                    size_t *len)
{
    size_t vl = strlen(var + 1);       /* without the '$' */
    const char *s;
    for (s = text; (s = strchr(s, '$')); s++) {
        if (!strncmp(s + 1, var + 1, vl) && !is_ident(s[1 + vl])) {
            *at = (size_t)(s - text);
            *len = vl + 1;
            return 1;
        }
        if (s[1] == '{' && !strncmp(s + 2, var + 1, vl) && s[2 + vl] == '}') {
            *at = (size_t)(s - text);
            *len = vl + 3;
            return 1;
        }
    }
    return 0;
}

/* Sets u->prefix from the text before the variable. */
static void use_prefix(apr_pool_t *p, ngx_use *u, const char *text,
                       size_t at)
{
    const char *prefix = apr_pstrmemdup(p, text, at);
    /* A path target is answered on the request's own scheme and host. */
    if (!strcmp(prefix, "$scheme://$host")
        || !strcmp(prefix, "$scheme://$http_host"))
        prefix = "";
    if (strchr(prefix, '$'))
        u->problem = apr_psprintf(p, "the target '%s' is built from other "
                                  "variables", text);
    u->prefix = prefix;
}

/* Sets u->query from the text after the variable. */
static void use_suffix(apr_pool_t *p, ngx_use *u, const char *suffix,
                       int is_rewrite)
{
    if (is_rewrite && !*suffix)
        u->query = NQ_APPEND;
    else if (is_rewrite && !strcmp(suffix, "?"))
        u->query = NQ_DROP;
    else if (!is_rewrite && !*suffix)
        u->query = NQ_DROP;
    else if (!is_rewrite && !strcmp(suffix, "$is_args$args"))
        u->query = NQ_APPEND;
    else if (!is_rewrite && !strcmp(suffix, "?$args"))
        u->query = NQ_APPEND_Q;
    else
        u->problem = apr_psprintf(p, "the target '%s' adds '%s' after the "
                                  "value", u->text, suffix);
}

/* Why the blocks around a statement make it conditional, or NULL.  The
 * usual `if ($var)` and `location /` are no condition. */
static const char *use_context(apr_pool_t *p, const apr_array_header_t *hs,
                               const char *var)
{
    int k;
    for (k = 0; k < hs->nelts; k++) {
        const ngx_header *h = &APR_ARRAY_IDX(hs, k, ngx_header);
        const char *name = h->t[0].s;
        size_t at, len;
        int j;
        if (!strcmp(name, "http") || !strcmp(name, "server"))
            continue;
        if (!strcmp(name, "location") && h->n == 2
            && !strcmp(h->t[1].s, "/"))
            continue;
        if (!strcmp(name, "if")) {
            for (j = 1; j < h->n; j++) {
                if (find_var(h->t[j].s, var, &at, &len))
                    break;
            }
            if (j < h->n)
                continue;
        }
        return apr_psprintf(p, "it is answered only inside '%s%s%s'", name,
                            h->n > 1 ? " " : "", h->n > 1 ? h->t[1].s : "");
    }
    return NULL;
}

/* Does nginx take `text` for an absolute URL, in "return URL" and in a
 * rewrite without a flag? */
static int is_absolute(const char *text)
{
    return !strncmp(text, "http://", 7) || !strncmp(text, "https://", 8)
           || !strncmp(text, "$scheme", 7);
}

/* Fills *u if the statement t[0..n) is a redirect answering with `var`:
 * "return CODE TEXT", "return TEXT" (302; TEXT starting with http://,
 * https:// or $scheme) or "rewrite REGEX TEXT [permanent|redirect]". */
static int statement_use(apr_pool_t *p, const ngx_tok *t, int n,
                         const char *var, ngx_use *u)
{
    int is_rewrite = n >= 3 && !strcmp(t[0].s, "rewrite");
    const char *text;
    size_t at, len;
    memset(u, 0, sizeof(*u));
    u->line = t[0].line;
    if (n == 3 && !strcmp(t[0].s, "return")) {
        if (!(u->status = cli_parse_status(t[1].s, 0)))
            return 0;
        text = t[2].s;
    }
    else if (n == 2 && !strcmp(t[0].s, "return")) {
        u->status = 302;
        text = t[1].s;
    }
    else if (is_rewrite && n <= 4) {
        const char *flag = n == 4 ? t[3].s : "";
        text = t[2].s;
        u->status = !strcmp(flag, "permanent") ? 301
                  : !strcmp(flag, "redirect") ? 302 : 0;
        /* Without either flag, only an absolute target redirects. */
        if (!u->status && !is_absolute(text))
            return 0;
        u->status = u->status ? u->status : 302;
        if (!matches_everything(t[1].s))
            u->problem = apr_psprintf(p, "it is answered only where '%s' "
                                      "matches", t[1].s);
    }
    else {
        return 0;
    }
    if (!find_var(text, var, &at, &len))
        return 0;
    if (n == 2 && !is_absolute(text))
        return 0;           /* "return TEXT" without a URL is no redirect */
    u->text = text;
    use_prefix(p, u, text, at);
    if (!u->problem)
        use_suffix(p, u, text + at + len, is_rewrite);
    return 1;
}

/* Do two statements answer alike? */
static int same_use(const ngx_use *a, const ngx_use *b)
{
    return a->status == b->status && a->query == b->query
           && !strcmp(a->prefix, b->prefix) && !a->problem == !b->problem;
}

/* Does a word of the statement t[1..n) name `var`? */
static int statement_names(const ngx_tok *t, int n, const char *var)
{
    size_t at, len;
    int k;
    for (k = 1; k < n; k++) {
        if (find_var(t[k].s, var, &at, &len))
            return 1;
    }
    return 0;
}

/* Records how the statement t[0..n), inside the blocks `hs`, answers
 * each map variable it uses (uses: "$var" -> ngx_use), or where it uses
 * one for something else than a redirect. */
static void note_statement(apr_pool_t *p, apr_hash_t *uses,
                           const ngx_tok *t, int n,
                           const apr_array_header_t *hs)
{
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(p, uses); hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        ngx_use *first, u;
        apr_hash_this(hi, &key, NULL, &val);
        first = val;
        if (!statement_use(p, t, n, key, &u)) {
            if (!first->used_line && statement_names(t, n, key)) {
                first->used_line = t[0].line;
                first->used_by = t[0].s;
            }
            continue;
        }
        if (!u.problem)
            u.problem = use_context(p, hs, key);
        if (!first->line)
            *first = u;
        else if (!first->other_line && !same_use(first, &u))
            first->other_line = u.line;
    }
}

/* Walks every statement of the file, keeping track of the blocks it is
 * in, and records how each map variable is answered. */
static void find_uses(apr_pool_t *p, const apr_array_header_t *toks,
                      apr_hash_t *uses)
{
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    apr_array_header_t *hs = apr_array_make(p, 8, sizeof(ngx_header));
    int k, start = 0;
    for (k = 0; k < toks->nelts; k++) {
        if (!t[k].punct)
            continue;
        if (t[k].punct == ';' && k > start)
            note_statement(p, uses, t + start, k - start, hs);
        else if (t[k].punct == '{' && k > start) {
            ngx_header *h = apr_array_push(hs);
            h->t = t + start;
            h->n = k - start;
        }
        else if (t[k].punct == '{') {
            ngx_header *h = apr_array_push(hs);
            h->t = t + k;
            h->n = 1;
        }
        else if (t[k].punct == '}')
            apr_array_pop(hs);
        start = k + 1;
    }
}

/* ---- maps ------------------------------------------------------------ */

/* A map being converted. */
typedef struct {
    importer *im;
    const ngx_tok *word;        /* its "map" */
    const char *var;
    int raw;                    /* $request_uri: keys as sent */
    const ngx_use *use;         /* NULL: no statement answers var */
    int status;
    int entries;                /* "KEY VALUE;" entries */
} ngx_map_ctx;

/* The rule flags of an entry: map keys compare case-blind; the query as
 * the statement treats it. */
static const char *entry_flags(const ngx_map_ctx *m, int is_query_rule,
                               const char *tgt)
{
    if (!m->use)
        return "nocase";
    if (m->use->query == NQ_DROP)
        return "nocase,qsdrop";
    /* nginx keeps the query even where rules drop it by default: after a
     * query rule consumed it, after a target's own query. */
    return is_query_rule || strchr(tgt, '?') ? "nocase,qsappend" : "nocase";
}

/* The rule's target for value `val`, or NULL (said why). */
static const char *entry_target(const ngx_map_ctx *m, unsigned line,
                                const char *val)
{
    importer *im = m->im;
    const char *prefix = m->use ? m->use->prefix : "";
    const char *full = apr_pstrcat(im->p, prefix, val, NULL), *t;
    if (strchr(val, '$')) {
        imp_skip(im, line, "target '%s' uses nginx variables", val);
        return NULL;
    }
    if (!*val) {
        imp_skip(im, line, "empty target");
        return NULL;
    }
    if (*prefix && val[0] != '/') {
        imp_skip(im, line, "'%s' is no path, but nginx puts '%s' before it",
                 val, prefix);
        return NULL;
    }
    if (!imp_is_url_or_path(full)) {
        imp_skip(im, line, "'%s' is neither an absolute URL nor a path",
                 full);
        return NULL;
    }
    t = imp_escape(im->p, full, strlen(full), IMP_ENCODED);
    if (strcmp(t, full))
        imp_differs(im, line, "nginx sends the target as written ('%s'); "
                    "the rule sends it percent-escaped ('%s')", full, t);
    if (m->use && m->use->query != NQ_DROP && strchr(t, '?'))
        imp_differs(im, line, "nginx sends '%s?QUERY' (a second '?') for a "
                    "request with a query; the rule sends '%s&QUERY'", t, t);
    return t;
}

/* "default VALUE;": every other path is answered with VALUE. */
static void ngx_default(const ngx_map_ctx *m, const ngx_tok *t, int n)
{
    const char *tgt;
    if (n != 2 || !*t[1].s || !strcmp(t[1].s, "0"))
        return;             /* no value: if ($var) is false */
    if (!(tgt = entry_target(m, t[0].line, t[1].s)))
        return;
    /* The prefix rule for every path; no letters to fold. */
    imp_emit(m->im, t[0].line, "/*", tgt, m->status,
             m->use && m->use->query == NQ_DROP ? "qsdrop" : NULL);
}

/* One "KEY VALUE;" entry, t[0..n). */
static void ngx_entry(ngx_map_ctx *m, const ngx_tok *t, int n)
{
    importer *im = m->im;
    const char *key = t[0].s, *tgt;
    unsigned line = t[0].line;
    if (!t[0].quoted && (!strcmp(key, "hostnames")
                         || !strcmp(key, "volatile")))
        return;
    if (!t[0].quoted && !strcmp(key, "default")) {
        ngx_default(m, t, n);
        return;
    }
    if (!t[0].quoted && !strcmp(key, "include")) {
        imp_skip(im, line, "include %s: not followed; import that file too",
                 n > 1 ? t[1].s : "");
        return;
    }
    m->entries++;
    if (n != 2) {
        imp_skip(im, line, "expected 'SOURCE TARGET;' (%d words)", n);
        return;
    }
    if (key[0] == '~') {
        imp_skip(im, line, "'%s' is a regular expression", key);
        return;
    }
    if (key[0] == '\\')
        key++;
    if (key[0] != '/') {
        imp_skip(im, line, "'%s' is not a path", key);
        return;
    }
    if (!(tgt = entry_target(m, line, t[1].s)))
        return;
    imp_emit(im, line, imp_escape(im->p, key, strlen(key),
                                  IMP_SOURCE | (m->raw ? IMP_ENCODED : 0)),
             tgt, m->status, entry_flags(m, m->raw && strchr(key, '?'), tgt));
}

/* The entries between the map's '{' at t[open] and its '}' at t[end]. */
static void ngx_map_entries(ngx_map_ctx *m, const ngx_tok *t, int open,
                            int end)
{
    int e, s0 = open + 1;
    for (e = open + 1; e < end; e++) {
        if (t[e].punct == ';') {
            if (e > s0)
                ngx_entry(m, t + s0, e - s0);
            s0 = e + 1;
        }
        else if (t[e].punct == '{') {
            imp_skip(m->im, t[e].line, "unexpected '{' in map");
            s0 = e + 1;
        }
    }
    if (s0 < end)
        imp_skip(m->im, t[s0].line, "entry without ';'");
}

/* What the rules of a map will do otherwise than nginx, said once at
 * the map. */
static void ngx_map_notes(const ngx_map_ctx *m)
{
    importer *im = m->im;
    unsigned line = m->word->line;
    const ngx_use *u = m->use;
    if (!u)
        imp_note(im, line, "no 'return CODE %s' found: rules get %s and "
                 "carry the request's query (give --status)", m->var,
                 m->status ? apr_itoa(im->p, m->status)
                           : "Redirect307Default");
    if (u && u->other_line)
        imp_differs(im, line, "%s is answered otherwise at line %u than at "
                    "line %u; the rules answer as line %u does", m->var,
                    u->other_line, u->line, u->line);
    if (u && u->query == NQ_APPEND_Q)
        imp_differs(im, line, "'%s' (line %u) ends the Location in '?' for "
                    "a request without a query; the rules send no '?'",
                    u->text, u->line);
    if (m->raw)
        imp_differs(im, line, "nginx compares $request_uri as sent, case-"
                    "blind: a key without a query never matches a request "
                    "with one, and other spellings of a path or query "
                    "(escapes, '//', '.', parameter order) never match; "
                    "the rules compare the decoded, normalised path and "
                    "the query's parameters, so they answer those too");
    else
        imp_note(im, line, "nginx's map tells '/a' from '/a/': load these "
                 "rules with 'Redirect307TrailingSlash Strict' (else '/a/' "
                 "gets the answer of '/a'), and nginx decodes %%2F in $uri: "
                 "httpd answers such paths 404 unless 'AllowEncodedSlashes "
                 "On'");
}

/* "map SOURCE VAR {" at t[start..open]; returns where it ends ('}'). */
static int ngx_map(importer *im, apr_hash_t *uses,
                   const apr_array_header_t *toks, int start, int open)
{
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    const char *src = t[start + 1].s;
    ngx_map_ctx m;
    int end;
    for (end = open + 1; end < toks->nelts && t[end].punct != '}'; end++)
        ;
    memset(&m, 0, sizeof(m));
    m.im = im;
    m.word = &t[start];
    m.var = t[start + 2].s;
    if (end >= toks->nelts) {
        imp_skip(im, m.word->line, "map %s %s: its '{' is never closed "
                 "(nginx would refuse the file)", src, m.var);
        return end;
    }
    if (strcmp(src, "$uri") && strcmp(src, "$request_uri")) {
        imp_note(im, m.word->line, "map %s %s: not a map of paths, "
                 "ignored", src, m.var);
        return end;
    }
    m.use = apr_hash_get(uses, m.var, APR_HASH_KEY_STRING);
    if (m.use && !m.use->line && m.use->used_line) {
        imp_skip(im, m.word->line, "map %s %s: its entries are not "
                 "converted: %s is used by '%s' (line %u), never in a "
                 "redirect", src, m.var, m.var, m.use->used_by,
                 m.use->used_line);
        return end;
    }
    if (m.use && !m.use->line)
        m.use = NULL;
    if (m.use && m.use->problem) {
        imp_skip(im, m.word->line, "map %s %s: its entries are not "
                 "converted: %s (line %u)", src, m.var, m.use->problem,
                 m.use->line);
        return end;
    }
    /* $uri is decoded; $request_uri is as the client sent it. */
    m.raw = !strcmp(src, "$request_uri");
    m.status = m.use ? m.use->status : im->status;
    ngx_map_notes(&m);
    ngx_map_entries(&m, t, open, end);
    return end;
}

/* Is t[start..k) "map SOURCE $VAR", k the '{' after it? */
static int is_map(const ngx_tok *t, int start, int k)
{
    return k - start == 3 && !t[start].quoted && !strcmp(t[start].s, "map")
           && t[start + 2].s[0] == '$';
}

/* Every map's variable, as a key of `uses` with an empty ngx_use. */
static apr_hash_t *map_variables(apr_pool_t *p,
                                 const apr_array_header_t *toks)
{
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    apr_hash_t *uses = apr_hash_make(p);
    int k, start = 0;
    for (k = 0; k < toks->nelts; k++) {
        if (!t[k].punct)
            continue;
        if (t[k].punct == '{' && is_map(t, start, k))
            apr_hash_set(uses, t[start + 2].s, APR_HASH_KEY_STRING,
                         apr_pcalloc(p, sizeof(ngx_use)));
        start = k + 1;
    }
    return uses;
}

/* Quotes never closed: nginx would refuse the file. */
static void ngx_unterminated(importer *im, const apr_array_header_t *toks)
{
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    int k;
    for (k = 0; k < toks->nelts; k++) {
        if (t[k].unterminated)
            imp_skip(im, t[k].line, "the quote opened here is never closed "
                     "(nginx would refuse the file)");
    }
}

void import_nginx(importer *im, char *buf, size_t len)
{
    apr_array_header_t *toks = ngx_tokenize(im->p, buf, len);
    apr_hash_t *uses = map_variables(im->p, toks);
    apr_array_header_t *open = apr_array_make(im->p, 8, sizeof(unsigned));
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    int k = 0, start = 0;

    ngx_unterminated(im, toks);
    find_uses(im->p, toks, uses);
    while (k < toks->nelts) {
        if (!t[k].punct) {
            k++;
            continue;
        }
        if (t[k].punct == '{' && is_map(t, start, k))
            k = ngx_map(im, uses, toks, start, k);
        else if (t[k].punct == '{')
            APR_ARRAY_PUSH(open, unsigned) = t[k].line;
        else if (t[k].punct == '}' && !apr_array_pop(open))
            imp_skip(im, t[k].line, "'}' closes no block (nginx would "
                     "refuse the file)");
        start = ++k;
    }
    while (open->nelts)
        imp_skip(im, *(unsigned *)apr_array_pop(open), "the '{' here is "
                 "never closed (nginx would refuse the file)");
}
