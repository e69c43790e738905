/*
 * import_rewrite.c - `import --from rewrite`: mod_rewrite's RewriteRule,
 * with its RewriteCond, RewriteBase and RewriteEngine, from httpd.conf or
 * an .htaccess file.
 *
 * The shapes site owners write for redirects become rules: a pattern that
 * is a literal path (exact, with an optional trailing slash, or a prefix
 * whose rest $1 is carried), a literal target, the flags R, L, END, NC,
 * QSA, QSD, NE, G and NS, and one RewriteCond %{QUERY_STRING} that pins
 * one exact query.  A pattern of whole segments, each literal or one
 * capture group of a class that cannot match '/' (such as
 * "^/blog/([0-9]+)/([^/]+)\.html$", see rewrite_pattern.h), becomes a
 * pattern rule whose placeholder :pN stands for $N; a class narrower
 * than "[^/]" makes the rule answer more than the regex, which a
 * "differs" note says.  Anything else is listed as not converted, and so
 * is a
 * rule mod_rewrite would not reach because an earlier rule may answer its
 * path first: mod_rewrite tries rules in order, rules pick the most
 * specific.  Where a converted rule still answers some requests otherwise
 * than mod_rewrite, a note says which.  What mod_rewrite does was checked
 * against Debian's apache2 (test/import/diff_rewrite.py), not only read.
 *
 * A file is read in two passes.  The first sorts the rules into their
 * contexts (the server, each <VirtualHost> and <Directory>, an .htaccess
 * file), since RewriteEngine and RewriteBase hold for a whole context
 * wherever they stand in it; the second converts each rule knowing the
 * rules before and after it in its context.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"
#include "path_pattern.h"
#include "rewrite_pattern.h"

/* Bytes ap_escape_uri() leaves raw besides letters and digits: what
 * mod_rewrite's redirects keep of a substitution (T_OS_ESCAPE_PATH in
 * httpd's server/gen_test_char.c). */
static const char uri_safe[] = "$-_.+!*'(),:;@&=/~";

/* The placeholder names of a pattern rule: group N is :pN. */
static const char *const group_names[PP_MAX_CAPTURES] = {
    "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"
};

typedef enum { ENGINE_UNSET, ENGINE_ON, ENGINE_OFF } rw_engine;

/* What a literal pattern matches, in full URL-paths. */
typedef enum {
    SHAPE_EXACT,        /* ^lit$ */
    SHAPE_EXACT_SLASH,  /* ^lit/?$: with or without one trailing slash */
    SHAPE_BELOW,        /* ^lit/(.*)$: $1 is the rest after "lit/" */
    SHAPE_REST          /* ^lit(/.*)?$: $1 is the rest with its '/' */
} rw_shape;

typedef struct {
    rw_shape shape;
    const char *path;   /* decoded full URL-path; "" for the root of a
                           prefix (BELOW: the part before "/") */
    size_t len;
    int not_itself;     /* (.+) or (/.*): path itself is not matched */
    int dot_any;        /* an unescaped '.' was taken literally */
} rw_literal;

/* A rule's [FLAGS]. */
typedef struct {
    int redirect;       /* R */
    int status;         /* what R=... asked for, 0: R alone */
    const char *status_word;
    int last, nocase, qsa, qsd, noescape, gone;
    const char *side;   /* E, T or H: of no use to a redirect */
    const char *unsupported;    /* a flag a rule cannot express */
    const char *bad;    /* why httpd would refuse the flags */
} rw_flags;

typedef struct rw_context rw_context;

typedef struct {
    unsigned line;
    const char *test, *pattern, *flags;     /* flags NULL: none */
    const char *bad;    /* why httpd would refuse the line */
} rw_cond;

typedef struct {
    unsigned line;
    rw_context *ctx;
    int index;                  /* its place among ctx's rules */
    const char *pattern, *subst, *flagtext;
    const char *bad;            /* why httpd would refuse the line */
    apr_array_header_t *conds;  /* rw_cond, the RewriteConds before it */
    const char *section;        /* conditional section it is in, or NULL */
    int dormant;                /* inside <IfModule !mod_rewrite.c> */
    /* prepared before conversion (rule_prepare) */
    rw_flags f;
    int negated;
    const char *regex;          /* pattern without its '!' */
    int literal_ok;
    rw_literal lit;             /* of a pattern rule: its shape, and its
                                   source as its path for messages */
    const char *literal_why;    /* why the pattern is no literal */
    int pattern_ok;             /* not literal, but whole segments */
    rwp_pattern pat;
    pp_path *as_pattern;        /* a literal's path as a pattern, once
                                   a pattern rule after it asks */
    const char *pattern_why;    /* why it is no pattern either */
    int transparent;            /* cannot answer or change the URL */
    int query_only;             /* conditions: one exact query */
    const char *query;          /* that query, raw */
    const char *cond_why;       /* why the conditions are no such query */
    int converted;
    regex_t re;
    int re_state;               /* 0 untried, 1 compiled, -1 unusable */
    const char *anchor;         /* the bytes a match must begin with */
    size_t anchor_len;
} rw_rule;

struct rw_context {
    const rw_context *parent;   /* where RewriteEngine is inherited from */
    int perdir;                 /* patterns see the path below a directory */
    unsigned line;              /* where it opens; 0: the file itself */
    const char *dir;            /* <Directory> path, or NULL */
    const char *docroot;        /* DocumentRoot of its server, or NULL */
    rw_engine engine;           /* its last RewriteEngine */
    unsigned engine_line;
    const char *rewrite_base;   /* its last RewriteBase, or NULL */
    const char *base;           /* URL-path (ending in '/') its per-dir
                                   patterns are below; NULL: unknown */
    int base_assumed;           /* base is a guess: the document root */
    int noted;                  /* its per-directory note was given */
    int nrules;
    /* Filled in as rules are converted, to find what answers first: */
    apr_hash_t *exact;          /* path key -> first exact rw_rule * */
    apr_hash_t *prefixes;       /* path key -> first prefix rw_rule * */
    apr_array_header_t *wide;   /* rw_rule *: regular expressions */
    /* Rules that may rewrite a redirect's URL when a rule lacks [L]: */
    apr_array_header_t *wild;   /* rw_rule *, in order */
};

typedef struct {
    rw_context *saved;          /* context to go back to, or NULL */
    const char *blocks;         /* conditional section, or NULL */
    int dormant;
} rw_section;

typedef struct {
    importer *im;
    int htaccess;               /* the file itself is per-directory */
    rw_context *main;
    rw_context *cur;
    apr_array_header_t *sections;   /* rw_section */
    apr_array_header_t *rules;      /* rw_rule *, in file order */
    apr_array_header_t *conds;      /* rw_cond waiting for a rule */
    apr_array_header_t *hosts;      /* const char *: this site's names */
    int any_engine;             /* a RewriteEngine line anywhere */
    int alias_noted;
    unsigned noted_slash, noted_carry, noted_emptyq, noted_capture;
} rw_reader;

/* ---- reading configuration lines (as import_alias.c does) ---------- */

/* One argument as mod_rewrite's parseargline() takes it: up to a blank,
 * or within quotes; a backslash before a blank keeps both in the word.
 * NULL at the end of the line. */
static char *rewrite_arg(apr_pool_t *p, const char **line)
{
    const char *s = *line, *e;
    char quote = 0;
    while (apr_isspace(*s))
        s++;
    if (!*s)
        return NULL;
    if (*s == '"' || *s == '\'')
        quote = *s++;
    for (e = s; *e; e++) {
        if ((!quote && apr_isspace(*e)) || *e == quote)
            break;
        if (*e == '\\' && apr_isspace(e[1]))
            e++;
    }
    *line = *e ? e + 1 : e;
    return apr_pstrmemdup(p, s, (size_t)(e - s));
}

/* Reads "A1 A2 [A3]" as RewriteRule and RewriteCond do; returns why
 * httpd would refuse the line, or NULL. */
static const char *rewrite_args(apr_pool_t *p, const char *line,
                                const char **a1, const char **a2,
                                const char **a3)
{
    size_t n;
    *a1 = rewrite_arg(p, &line);
    *a2 = *a1 ? rewrite_arg(p, &line) : NULL;
    *a3 = *a2 ? rewrite_arg(p, &line) : NULL;
    if (!*a2)
        return "fewer than two arguments (httpd would refuse it)";
    if (!*a3)
        return NULL;
    n = strlen(*a3);
    if ((*a3)[0] != '[' || (*a3)[n - 1] != ']')
        return "flags not within [ ] (httpd would refuse it)";
    return NULL;
}

/* ap_getword_conf()'s first word (for the other directives). */
static char *first_word(apr_pool_t *p, const char **line)
{
    const char *s = *line, *e;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '"' || *s == '\'') {
        char q = *s++;
        for (e = s; *e && *e != q; e++)
            ;
        *line = *e ? e + 1 : e;
        return apr_pstrmemdup(p, s, (size_t)(e - s));
    }
    for (e = s; *e && *e != ' ' && *e != '\t'; e++)
        ;
    *line = e;
    return apr_pstrmemdup(p, s, (size_t)(e - s));
}

/* ---- flags ----------------------------------------------------------- */

/* Is flag `k` the short name `shortname` or the long name `longname`? */
static int flag_is(const char *k, const char *shortname, const char *longname)
{
    return !strcasecmp(k, shortname) || (longname && !strcasecmp(k, longname));
}

/* R=VALUE as mod_rewrite reads it. */
static void flag_status(apr_pool_t *p, rw_flags *f, const char *val)
{
    f->redirect = 1;
    f->status_word = val;
    if (!*val)
        return;
    if (!strcasecmp(val, "permanent"))
        f->status = 301;
    else if (!strcasecmp(val, "temp"))
        f->status = 302;
    else if (!strcasecmp(val, "seeother"))
        f->status = 303;
    else if (apr_isdigit(*val))
        f->status = atoi(val);
    else
        f->bad = apr_psprintf(p, "R=%s is no status", val);
}

/* One flag KEY[=VAL] of a RewriteRule. */
static void flag_one(apr_pool_t *p, rw_flags *f, const char *key,
                     const char *val)
{
    static const char *const useless[] = {
        "E", "env", "T", "type", "H", "handler", NULL
    };
    static const char *const unsupported[] = {
        "B", "backrefescaping", "BNE", "BNP", "backrefnoplus", "BCTLS",
        "C", "chain", "CO", "cookie", "DPI", "discardpath", "F",
        "forbidden", "N", "next", "P", "proxy", "PT", "passthrough", "QSL",
        "qslast", "S", "skip", "UnsafeAllow3F", "UnsafePrefixStat", "UNC",
        NULL
    };
    int k;
    if (flag_is(key, "R", "redirect"))
        flag_status(p, f, val);
    else if (flag_is(key, "L", "last") || flag_is(key, "END", NULL))
        f->last = 1;
    else if (flag_is(key, "NC", "nocase"))
        f->nocase = 1;
    else if (flag_is(key, "QSA", "qsappend"))
        f->qsa = 1;
    else if (flag_is(key, "QSD", "qsdiscard"))
        f->qsd = 1;
    else if (flag_is(key, "NE", "noescape"))
        f->noescape = 1;
    else if (flag_is(key, "G", "gone"))
        f->gone = 1;
    else if (flag_is(key, "NS", "nosubreq"))
        ;       /* only subrequests: never a client's redirect */
    else {
        for (k = 0; useless[k]; k++) {
            if (!strcasecmp(key, useless[k]) && !f->side)
                f->side = apr_pstrdup(p, key);
        }
        for (k = 0; unsupported[k]; k++) {
            if (!strcasecmp(key, unsupported[k]) && !f->unsupported)
                f->unsupported = apr_pstrdup(p, key);
        }
        if (!f->side && !f->unsupported && !f->bad)
            f->bad = apr_psprintf(p, "unknown flag '%s' (httpd would refuse "
                                  "it)", key);
    }
}

/* Parses "[A,B=C,...]" (NULL: no flags) as cmd_parseflagfield() does. */
static void parse_flags(apr_pool_t *p, const char *text, rw_flags *f)
{
    char *buf, *t, *last;
    memset(f, 0, sizeof(*f));
    if (!text)
        return;
    buf = apr_pstrmemdup(p, text + 1, strlen(text) - 2);
    for (t = apr_strtok(buf, ",", &last); t;
         t = apr_strtok(NULL, ",", &last)) {
        char *val = strchr(t, '=');
        if (val)
            *val++ = '\0';
        t = cli_trim(t);
        if (*t)
            flag_one(p, f, t, val ? cli_trim(val) : "");
    }
}

/* ---- patterns -------------------------------------------------------- */

/* Appends the literal at the start of a regex body to out[*o...]
 * (decoded: "\." is '.'); *dot_any is set if an unescaped '.' was taken
 * as itself.  Returns where the literal ends: at a regex operator, or at
 * the end. */
static const char *read_literal(const char *s, char *out, size_t *o,
                                int *dot_any)
{
    while (*s) {
        if (*s == '\\') {
            if (!s[1] || apr_isalnum(s[1]))
                break;          /* \d, \w, \b ...: a class, not a byte */
            out[(*o)++] = s[1];
            s += 2;
            continue;
        }
        if (strchr("$()[]{}*+?|^", *s))
            break;
        *dot_any |= *s == '.';
        out[(*o)++] = *s++;
    }
    return s;
}

/* The shape `tail` (what follows the literal) gives, or -1. */
static int tail_shape(const char *tail, int *not_itself)
{
    static const struct {
        const char *tail;
        rw_shape shape;
        int not_itself;
    } tails[] = {
        { "$", SHAPE_EXACT, 0 }, { "(.*)$", SHAPE_BELOW, 0 },
        { "(.+)$", SHAPE_BELOW, 1 }, { "(/.*)?$", SHAPE_REST, 0 },
        { "(/.*)$", SHAPE_REST, 1 }, { NULL, SHAPE_EXACT, 0 }
    };
    int k;
    for (k = 0; tails[k].tail; k++) {
        if (!strcmp(tail, tails[k].tail)) {
            *not_itself = tails[k].not_itself;
            return (int)tails[k].shape;
        }
    }
    return -1;
}

/* Fits the literal buf[0..o) to its shape; NULL if it fits.  A BELOW
 * literal loses its final '/'; server context's "^(.*)$" is the REST of
 * the root. */
static const char *fit_shape(apr_pool_t *p, rw_literal *l, char *buf,
                             size_t o, const char *regex)
{
    if (l->shape == SHAPE_BELOW && o == 0)
        l->shape = SHAPE_REST;          /* $1 is the whole path */
    else if (l->shape == SHAPE_BELOW && buf[o - 1] != '/')
        return apr_psprintf(p, "'%s' also matches paths that merely begin "
                            "with '%.*s' (not only below a '/')", regex,
                            (int)o, buf);
    else if (l->shape == SHAPE_BELOW)
        o--;
    else if (l->shape != SHAPE_EXACT && o > 0 && buf[o - 1] == '/')
        return apr_psprintf(p, "'%s' is a regular expression", regex);
    else if (l->shape == SHAPE_REST && o == 0)
        return apr_psprintf(p, "'%s' is a regular expression", regex);
    buf[o] = '\0';
    l->path = buf;
    l->len = o;
    return NULL;
}

/* Parses `regex` as one of the literal shapes, for a context whose
 * per-directory base is `base` (NULL: server context, where patterns see
 * the URL-path with its '/').  Returns why it is none, or NULL with *l
 * filled in, its path a full URL-path. */
static const char *parse_literal(apr_pool_t *p, const char *regex,
                                 const char *base, rw_literal *l)
{
    size_t blen = base ? strlen(base) : 0, o = blen;
    char *buf = apr_palloc(p, blen + strlen(regex) + 1);
    const char *tail;
    int shape;

    memset(l, 0, sizeof(*l));
    if (regex[0] != '^')
        return strpbrk(regex, "$()[]{}*+?|\\")
               ? apr_psprintf(p, "'%s' is a regular expression", regex)
               : apr_psprintf(p, "'%s' is not anchored with '^': it matches "
                              "every path that contains it", regex);
    memcpy(buf, base ? base : "", blen);
    tail = read_literal(regex + 1, buf, &o, &l->dot_any);
    if (*tail == '\0')
        return apr_psprintf(p, "'%s' is not anchored with '$': it matches "
                            "every path that begins with it", regex);
    if (!strcmp(tail, "?$") && o > blen && buf[o - 1] == '/') {
        shape = SHAPE_EXACT_SLASH;      /* "lit/?$" */
        o--;
    }
    else if ((shape = tail_shape(tail, &l->not_itself)) < 0) {
        return apr_psprintf(p, "'%s' is a regular expression", regex);
    }
    if (base && o > blen && buf[blen] == '/')
        return apr_psprintf(p, "'%s' never matches here: per-directory "
                            "patterns see the path without its leading '/'",
                            regex);
    if (!base && o > 0 && buf[0] != '/')
        return apr_psprintf(p, "'%s' never matches here: in server context "
                            "the path begins with '/' (an .htaccess file "
                            "must be named so, or have a RewriteBase)",
                            regex);
    if (!base && o == 0 && shape != SHAPE_BELOW)
        return apr_psprintf(p, "'%s' never matches: the path is never empty",
                            regex);
    l->shape = (rw_shape)shape;
    return fit_shape(p, l, buf, o, regex);
}

/* ---- regular expressions, for rules that are no literal -------------- */

/* Does a pattern use PCRE syntax a POSIX ERE reads otherwise? */
static int pcre_only(const char *re)
{
    const char *s;
    for (s = re; *s; s++) {
        if (*s == '\\' && s[1] && (apr_isalnum(s[1]) || s[1] == '\\'))
            return 1;
        if (*s == '(' && s[1] == '?')
            return 1;
        if (strchr("*+?}", *s) && (s[1] == '?' || s[1] == '+'))
            return 1;
    }
    return 0;
}

/* The bytes every match of `re` begins with: the literal after its '^'
 * up to the first operator, '.' or class, less a byte a quantifier makes
 * optional.  None if an alternative ('|') may start elsewhere. */
static void regex_anchor(apr_pool_t *p, rw_rule *r)
{
    const char *s = r->regex;
    char *out = apr_palloc(p, strlen(s) + 1);
    size_t n = 0;
    r->anchor_len = 0;
    if (*s++ != '^' || strchr(s, '|'))
        return;
    while (*s && !strchr("$()[]{}*+?|^.", *s)) {
        if (*s == '\\' && (!s[1] || apr_isalnum(s[1])))
            break;
        s += *s == '\\';
        out[n++] = *s++;
    }
    if (n && *s && strchr("?*{", *s))
        n--;
    r->anchor = out;
    r->anchor_len = n;
}

/* May rule r's pattern match `subject`?  mod_rewrite uses PCRE; glibc's
 * POSIX EREs agree with it on plain syntax, so a pattern using anything
 * else, or failing to compile, is taken to match whatever begins with its
 * anchor: the answer errs towards "may". */
static int may_match(rw_rule *r, const char *subject)
{
    int hit;
    if (r->re_state == 0) {
        r->re_state = -1;
        if (!pcre_only(r->regex)
            && !regcomp(&r->re, r->regex, REG_EXTENDED | REG_NOSUB
                        | (r->f.nocase ? REG_ICASE : 0)))
            r->re_state = 1;
    }
    if (r->re_state < 0)
        return r->negated || !(r->f.nocase ? strncasecmp : strncmp)(
                                 subject, r->anchor, r->anchor_len);
    hit = regexec(&r->re, subject, 0, NULL, 0) == 0;
    return r->negated ? !hit : hit;
}

static void free_regexes(const apr_array_header_t *rules)
{
    int k;
    for (k = 0; k < rules->nelts; k++) {
        rw_rule *r = APR_ARRAY_IDX(rules, k, rw_rule *);
        if (r->re_state > 0)
            regfree(&r->re);
        r->re_state = 0;
    }
}

/* ---- targets (shared with import_rewritemap.c) ----------------------- */

/* s[0..n) escaped as ap_escape_uri() does, appended to out. */
static char *escape_uri(char *out, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (apr_isalnum(c) || (c && strchr(uri_safe, c))) {
            *out++ = (char)c;
            continue;
        }
        *out++ = '%';
        *out++ = cli_hex_digits[c >> 4];
        *out++ = cli_hex_digits[c & 15];
    }
    return out;
}

/* Length of "http://host" or "https://host" at s (0: neither). */
static size_t http_authority(const char *s, size_t n)
{
    size_t skip = 0, i;
    if (n > 7 && !strncasecmp(s, "http://", 7))
        skip = 7;
    else if (n > 8 && !strncasecmp(s, "https://", 8))
        skip = 8;
    if (!skip)
        return 0;
    for (i = skip; i < n && s[i] != '/'; i++)
        ;
    return i;
}

const char *rw_redirect_target(apr_pool_t *p, const char *s, size_t n,
                               int carry, int noescape, int *query,
                               const char **why)
{
    const char *q = memchr(s, '?', n);
    size_t main = q ? (size_t)(q - s) : n, auth = http_authority(s, main);
    char *buf = apr_palloc(p, n * 3 + 3), *o = buf;

    *query = q ? (q + 1 < s + n ? 1 : 2) : 0;
    if (!auth && (main == 0 || s[0] != '/' || (main > 1 && s[1] == '/'))) {
        *why = apr_psprintf(p, "'%.*s' is neither an http(s) URL nor a "
                            "/path", (int)n, s);
        return NULL;
    }
    memcpy(o, s, auth);
    o += auth;
    if (noescape) {
        memcpy(o, s + auth, n - auth);
        o += n - auth;
    }
    else {
        o = escape_uri(o, s + auth, main - auth);
        if (q && *query == 1) {
            *o++ = '?';
            o = escape_uri(o, q + 1, n - main - 1);
        }
    }
    if (*query == 2 && noescape)
        o--;                    /* the bare '?' is no part of the URL */
    *o = '\0';
    if (carry) {
        /* the rest goes at the end of the path, before any query */
        const char *e = buf + auth + strcspn(buf + auth, "?#");
        return apr_pstrcat(p, apr_pstrmemdup(p, buf, (size_t)(e - buf)), "*",
                           e, NULL);
    }
    return buf;
}

/* ---- pass 1: directives into contexts -------------------------------- */

static rw_context *context_new(apr_pool_t *p, const rw_context *parent,
                               int perdir, unsigned line, const char *dir)
{
    rw_context *c = apr_pcalloc(p, sizeof(*c));
    c->parent = parent;
    c->perdir = perdir;
    c->line = line;
    c->dir = dir;
    c->exact = apr_hash_make(p);
    c->prefixes = apr_hash_make(p);
    c->wide = apr_array_make(p, 4, sizeof(rw_rule *));
    c->wild = apr_array_make(p, 4, sizeof(rw_rule *));
    return c;
}

/* The server (main or <VirtualHost>) context rd->cur belongs to. */
static rw_context *server_context(const rw_reader *rd)
{
    const rw_context *c = rd->cur;
    while (c->perdir && c->parent)
        c = c->parent;
    return (rw_context *)c;
}

/* The section that makes rules conditional now, or NULL; *dormant is set
 * inside <IfModule !mod_rewrite.c>. */
static const char *section_state(const rw_reader *rd, int *dormant)
{
    const char *blocks = NULL;
    int k;
    *dormant = 0;
    for (k = 0; k < rd->sections->nelts; k++) {
        const rw_section *s = &APR_ARRAY_IDX(rd->sections, k, rw_section);
        *dormant |= s->dormant;
        if (s->blocks && !blocks)
            blocks = s->blocks;
    }
    return blocks;
}

/* Opens a "<Name arg>" section.  <VirtualHost> and <Directory> start a
 * context of their own; <IfModule> is followed; any other section makes
 * the rules in it conditional in a way rules cannot say. */
static void section_open(rw_reader *rd, unsigned line, const char *text)
{
    apr_pool_t *p = rd->im->p;
    size_t n = strcspn(text + 1, " \t>");
    const char *rest = text + 1 + n, *arg;
    rw_section *s = apr_array_push(rd->sections);
    char *name = apr_pstrmemdup(p, text + 1, n), *c;

    memset(s, 0, sizeof(*s));
    for (c = name; *c; c++)
        *c = (char)apr_tolower(*c);
    arg = first_word(p, &rest);
    if (arg[0] && arg[strlen(arg) - 1] == '>')
        arg = apr_pstrmemdup(p, arg, strlen(arg) - 1);
    if (!strcmp(name, "virtualhost")) {
        s->saved = rd->cur;
        rd->cur = context_new(p, rd->main, 0, line, NULL);
    }
    else if (!strcmp(name, "directory") && arg[0] != '~') {
        s->saved = rd->cur;
        rd->cur = context_new(p, server_context(rd), 1, line, arg);
    }
    else if (!strcmp(name, "ifmodule")) {
        s->dormant = !strcasecmp(arg, "!mod_rewrite.c")
                     || !strcasecmp(arg, "!rewrite_module");
    }
    else {
        s->blocks = apr_psprintf(p, "<%.*s%s>", (int)n, text + 1,
                                 arg[0] == '~' ? " ~" : "");
    }
}

static void section_close(rw_reader *rd)
{
    rw_section *s = apr_array_pop(rd->sections);
    if (s && s->saved)
        rd->cur = s->saved;
}

/* RewriteCond TESTSTRING CONDPATTERN [FLAGS]: kept for the next rule. */
static void cond_line(rw_reader *rd, unsigned line, const char *args)
{
    rw_cond *c = apr_array_push(rd->conds);
    memset(c, 0, sizeof(*c));
    c->line = line;
    c->bad = rewrite_args(rd->im->p, args, &c->test, &c->pattern, &c->flags);
}

/* RewriteRule PATTERN SUBSTITUTION [FLAGS]: a rule of the current
 * context, taking the conditions read since the last rule. */
static void rule_line(rw_reader *rd, unsigned line, const char *args)
{
    apr_pool_t *p = rd->im->p;
    rw_rule *r = apr_pcalloc(p, sizeof(*r));
    r->line = line;
    r->ctx = rd->cur;
    r->index = rd->cur->nrules++;
    r->bad = rewrite_args(p, args, &r->pattern, &r->subst, &r->flagtext);
    r->conds = rd->conds;
    rd->conds = apr_array_make(p, 2, sizeof(rw_cond));
    r->section = section_state(rd, &r->dormant);
    APR_ARRAY_PUSH(rd->rules, rw_rule *) = r;
}

/* RewriteEngine, RewriteBase: the last one holds for the whole context. */
static void context_setting(rw_reader *rd, unsigned line, const char *dir,
                            const char *arg)
{
    if (!strcasecmp(dir, "RewriteEngine")) {
        rd->cur->engine = !strcasecmp(arg, "on") ? ENGINE_ON : ENGINE_OFF;
        rd->cur->engine_line = line;
        rd->any_engine = 1;
    }
    else if (*arg == '/') {
        rd->cur->rewrite_base = arg;
    }
    else {
        imp_note(rd->im, line, "RewriteBase '%s' is not a URL-path (httpd "
                 "would refuse it): ignored", arg);
    }
}

/* Directives besides RewriteRule and RewriteCond that matter. */
static void other_directive(rw_reader *rd, unsigned line, const char *dir,
                            const char *rest)
{
    importer *im = rd->im;
    const char *arg = first_word(im->p, &rest);
    if (!strcasecmp(dir, "RewriteEngine") || !strcasecmp(dir, "RewriteBase"))
        context_setting(rd, line, dir, arg);
    else if (!strcasecmp(dir, "DocumentRoot"))
        server_context(rd)->docroot = arg;
    else if (!strcasecmp(dir, "ServerName") || !strcasecmp(dir, "ServerAlias"))
        for (; *arg; arg = first_word(im->p, &rest))
            APR_ARRAY_PUSH(rd->hosts, const char *) = arg;
    else if (!strcasecmp(dir, "RewriteMap"))
        imp_note(im, line, "RewriteMap %s: rules using it are not converted; "
                 "a txt: map can be imported with --from rewritemap", arg);
    else if (!strcasecmp(dir, "RewriteOptions"))
        imp_note(im, line, "RewriteOptions %s: not taken into account", arg);
    else if (!strncasecmp(dir, "Redirect", 8) && !rd->alias_noted) {
        imp_note(im, line, "%s: mod_alias, not mod_rewrite; import those "
                 "lines with --from alias", dir);
        rd->alias_noted = 1;
    }
}

/* One configuration line, trimmed, neither blank nor a comment. */
static void directive_line(rw_reader *rd, unsigned line, const char *text)
{
    const char *rest = text;
    const char *dir;
    if (text[0] == '<') {
        if (text[1] == '/')
            section_close(rd);
        else
            section_open(rd, line, text);
        return;
    }
    dir = first_word(rd->im->p, &rest);
    if (!strcasecmp(dir, "RewriteRule"))
        rule_line(rd, line, rest);
    else if (!strcasecmp(dir, "RewriteCond"))
        cond_line(rd, line, rest);
    else
        other_directive(rd, line, dir, rest);
}

static void read_directives(rw_reader *rd, char *buf, size_t len)
{
    char *s = buf, *line;
    unsigned n = 0, first = 0;
    while ((line = imp_next_conf_line(rd->im, &s, buf + len, &n, &first))) {
        line = cli_trim(line);
        if (*line && *line != '#')
            directive_line(rd, first, line);
    }
}

/* ---- settling contexts ----------------------------------------------- */

/* `u` as a base: beginning and ending with '/'. */
static const char *as_base(apr_pool_t *p, const char *u)
{
    size_t n = strlen(u);
    return apr_pstrcat(p, u[0] == '/' ? "" : "/", u,
                       n && u[n - 1] == '/' ? "" : "/", NULL);
}

/* The URL-path a <Directory> serves, from its server's DocumentRoot, or
 * NULL if it is not below it. */
static const char *dir_url(apr_pool_t *p, const rw_context *c)
{
    const rw_context *s = c->parent;
    const char *root = NULL;
    size_t n;
    for (; s && !root; s = s->parent)
        root = s->docroot;
    if (!root)
        return NULL;
    n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (strncmp(c->dir, root, n) || (c->dir[n] && c->dir[n] != '/'))
        return NULL;
    return as_base(p, c->dir + n);
}

/* Where a per-directory context's patterns start: a <Directory> below the
 * DocumentRoot serves the URL-path it has there; otherwise the RewriteBase
 * is taken for it (the URL-path of the directory is what RewriteBase is
 * for); an .htaccess without one is taken to be at the document root. */
static void settle_base(apr_pool_t *p, rw_context *c)
{
    const char *u = c->dir ? dir_url(p, c) : NULL;
    if (u)
        c->base = u;
    else if (c->rewrite_base)
        c->base = as_base(p, c->rewrite_base);
    else if (!c->dir) {
        c->base = "/";
        c->base_assumed = 1;
    }
}

/* The RewriteEngine in force for a context: its own, else inherited. */
static rw_engine engine_of(const rw_context *c, unsigned *line)
{
    for (; c; c = c->parent) {
        if (c->engine != ENGINE_UNSET) {
            *line = c->engine_line;
            return c->engine;
        }
    }
    *line = 0;
    return ENGINE_UNSET;
}

/* ---- preparing rules ------------------------------------------------- */

/* Why condition c is not supported: it tests something else than the
 * query. */
static const char *other_condition(apr_pool_t *p, const rw_cond *c)
{
    if (!strcmp(c->test, "%{HTTP_HOST}") || !strcmp(c->test, "%{SERVER_NAME}"))
        return apr_psprintf(p, "condition on %s (line %u) not supported "
                            "(once rules have hosts, it could become a host "
                            "rule)", c->test, c->line);
    return apr_psprintf(p, "condition on '%s' (line %u) not supported",
                        c->test, c->line);
}

/* The one query condition c pins, or why it pins none: "^LIT$" or
 * "=LIT", raw as mod_rewrite compares it. */
static const char *query_literal(apr_pool_t *p, const rw_cond *c,
                                 const char **query)
{
    const char *pat = c->pattern, *end = pat;
    char *buf = apr_palloc(p, strlen(pat) + 1);
    size_t n = 0;
    int dot_any = 0;
    if (c->flags)
        return apr_psprintf(p, "condition %s (line %u): rules compare the "
                            "query as it is", c->flags, c->line);
    if (pat[0] == '=' && pat[1] && strcmp(pat, "=\"\"")) {
        *query = pat + 1;
        return NULL;
    }
    if (pat[0] == '^')
        end = read_literal(pat + 1, buf, &n, &dot_any);
    if (pat[0] != '^' || strcmp(end, "$") || !n || dot_any)
        return apr_psprintf(p, "condition on %%{QUERY_STRING} '%s' (line %u) "
                            "is not one exact query", pat, c->line);
    buf[n] = '\0';
    *query = buf;
    return NULL;
}

/* Why rule r's conditions are not one exact query, or NULL with *query
 * set to that query. */
static const char *cond_problem(apr_pool_t *p, const rw_rule *r,
                                const char **query)
{
    const rw_cond *c = (const rw_cond *)r->conds->elts;
    int k, n = r->conds->nelts;
    for (k = 0; k < n; k++) {
        if (c[k].bad)
            return apr_psprintf(p, "RewriteCond at line %u: %s", c[k].line,
                                c[k].bad);
    }
    for (k = 0; k < n; k++) {
        if (strcmp(c[k].test, "%{QUERY_STRING}"))
            return other_condition(p, &c[k]);
    }
    if (n > 1)
        return apr_psprintf(p, "%d conditions on %%{QUERY_STRING} (lines %u "
                            "to %u)", n, c[0].line, c[n - 1].line);
    return query_literal(p, &c[0], query);
}

/* Can rule r neither answer a request nor change its URL? */
static int is_transparent(const rw_rule *r)
{
    return !strcmp(r->subst, "-") && !r->f.redirect && !r->f.gone
           && !r->f.last && !r->f.unsupported
           && !(r->f.side && (!strcasecmp(r->f.side, "H")
                              || !strcasecmp(r->f.side, "handler")));
}

/* A pattern rule's source (or why there is none), and its shape in
 * r->lit, whose path is the source (less a prefix's slash-star) for
 * messages. */
static void pattern_prepare(apr_pool_t *p, rw_rule *r)
{
    const char *src = pp_source(p, r->pat.path, group_names, "",
                                &r->pattern_why);
    size_t n;
    if (!src)
        return;
    n = strlen(src) - (r->pat.path->prefix ? 2 : 0);
    r->pattern_ok = 1;
    r->lit.shape = (rw_shape)r->pat.end;
    r->lit.not_itself = r->pat.not_itself;
    r->lit.dot_any = r->pat.dot_any;
    r->lit.path = apr_pstrmemdup(p, src, n);
    r->lit.len = n;
}

static void rule_prepare(apr_pool_t *p, rw_rule *r)
{
    if (r->bad)
        return;
    parse_flags(p, r->flagtext, &r->f);
    r->negated = r->pattern[0] == '!';
    r->regex = r->pattern + r->negated;
    regex_anchor(p, r);
    r->transparent = is_transparent(r);
    if (r->conds->nelts)
        r->cond_why = cond_problem(p, r, &r->query);
    r->query_only = r->conds->nelts && !r->cond_why;
    if (r->negated)
        r->literal_why = apr_psprintf(p, "'%s' is a negated pattern",
                                      r->pattern);
    else if (r->ctx->perdir && !r->ctx->base)
        r->literal_why = apr_psprintf(p, "cannot tell which URL-path "
                                      "<Directory %s> serves (no "
                                      "DocumentRoot above it, no "
                                      "RewriteBase in it)", r->ctx->dir);
    else
        r->literal_why = parse_literal(p, r->regex, r->ctx->base, &r->lit);
    r->literal_ok = !r->literal_why;
    if (r->literal_ok || r->negated || (r->ctx->perdir && !r->ctx->base))
        return;
    r->pattern_why = rwp_parse(p, r->regex, r->ctx->base, r->f.nocase,
                               &r->pat);
    if (!r->pattern_why)
        pattern_prepare(p, r);
}

/* Files rule r among those whose pattern may match the URL of a redirect
 * that an earlier rule without [L] has made: mod_rewrite goes on with that
 * URL ("http://host/..."), so a regular expression may match it. */
static void note_wild(rw_rule *r)
{
    size_t skip = r->ctx->base ? strlen(r->ctx->base) : 0;
    if (r->bad || r->dormant || r->transparent)
        return;
    /* A literal sees "http://..." only if it begins so (per directory). */
    if (!r->literal_ok || (r->lit.len > skip
                           && !strncasecmp(r->lit.path + skip, "http", 4)))
        APR_ARRAY_PUSH(r->ctx->wild, rw_rule *) = r;
}

/* ---- pass 2: converting ---------------------------------------------- */

/* What a rule becomes. */
typedef struct {
    int status;                 /* 301..308, 410 */
    int implicit;               /* redirects without [R]: an absolute URL */
    int carry;                  /* the prefix's rest is carried ($1) */
    int own_query;              /* the target has a query of its own */
    int carries_query;          /* the request's query is passed on */
    int authority_only;         /* REST target "http://host" + $1 */
    const char *source, *target, *flags;
} rw_plan;

/* Is the host of `url`, an absolute substitution, one of this site's
 * names (ServerName, ServerAlias, --host)? */
static int own_host(const rw_reader *rd, const char *url)
{
    const char *h = strstr(url, "://") + 3;
    size_t n = strcspn(h, "/:?#");
    const apr_array_header_t *lists[2];
    int k, j;
    lists[0] = rd->hosts;
    lists[1] = rd->im->hosts;
    for (j = 0; j < 2; j++) {
        for (k = 0; lists[j] && k < lists[j]->nelts; k++) {
            const char *name = APR_ARRAY_IDX(lists[j], k, const char *);
            if (strlen(name) == n && !strncasecmp(name, h, n))
                return 1;
        }
    }
    return 0;
}

static int is_http_url(const char *s)
{
    return http_authority(s, strlen(s)) > 0;
}

/* Does rule r answer with a redirect (or 410), and which status?  Says
 * why not. */
static const char *answer_problem(apr_pool_t *p, const rw_reader *rd,
                                  const rw_rule *r, rw_plan *pl)
{
    const rw_flags *f = &r->f;
    if (f->gone || (f->redirect && f->status == 410)) {
        pl->status = 410;
        return NULL;
    }
    if (f->redirect && f->status && (f->status < 300 || f->status > 399))
        return apr_psprintf(p, "[R=%s] answers %d, not a redirect",
                            f->status_word, f->status);
    if (f->redirect) {
        pl->status = f->status ? f->status : 302;
        return NULL;
    }
    if (f->unsupported && flag_is(f->unsupported, "F", "forbidden"))
        return "not a redirect: [F] answers 403";
    if (f->unsupported && flag_is(f->unsupported, "P", "proxy"))
        return "not a redirect: [P] proxies the request";
    if (!strcmp(r->subst, "-"))
        return "not a redirect: '-' leaves the URL as it is";
    if (!is_http_url(r->subst))
        return apr_psprintf(p, "not a redirect: an internal rewrite to '%s' "
                            "(no [R])", r->subst);
    if (own_host(rd, r->subst))
        return apr_psprintf(p, "not a redirect: '%s' is on this server's own "
                            "host, which mod_rewrite rewrites internally "
                            "without [R]", r->subst);
    pl->status = 302;
    pl->implicit = 1;
    return NULL;
}

/* Why rule r's flags or status cannot be rules, or NULL. */
static const char *flags_problem(apr_pool_t *p, const rw_rule *r,
                                 const rw_plan *pl)
{
    const rw_flags *f = &r->f;
    if (f->unsupported)
        return apr_psprintf(p, "flag [%s] not supported", f->unsupported);
    if (!cli_status_ok(pl->status, 1))
        return apr_psprintf(p, "[R=%s]: status %d (rules take 301, 302, 303, "
                            "307, 308 or 410)", f->status_word, pl->status);
    return NULL;
}

/* Why a substitution's $N or %N at s cannot be converted: no rule of
 * ours carries what the regex or a RewriteCond captured. */
static const char *backref_why(apr_pool_t *p, const char *s)
{
    return apr_psprintf(p, "the target uses the backreference %.2s%s", s,
                        *s == '%' ? " (of a RewriteCond; write '\\%' for "
                        "a '%')" : "");
}

/* Rule r's substitution with its '\' escapes resolved and its one $1 cut
 * out (*dollar: where it was, or -1), as mod_rewrite's do_expand() reads
 * it.  Returns why it depends on more than the request path. */
static const char *expand_subst(apr_pool_t *p, const rw_rule *r, char **out,
                                size_t *len, long *dollar)
{
    const char *s = r->subst;
    int group = r->lit.shape == SHAPE_BELOW || r->lit.shape == SHAPE_REST;
    char *o = apr_palloc(p, strlen(s) + 1);
    size_t n = 0;
    *dollar = -1;
    while (*s) {
        if (*s == '\\' && s[1]) {
            o[n++] = s[1];
            s += 2;
        }
        else if (*s == '$' && s[1] == '{' && strchr(s, '}')
                 && memchr(s, ':', (size_t)(strchr(s, '}') - s))) {
            return apr_psprintf(p, "RewriteMap lookup %.*s: import the map "
                                "file with --from rewritemap",
                                (int)(strchr(s, '}') - s + 1), s);
        }
        else if (*s == '%' && s[1] == '{' && strchr(s, '}')) {
            return apr_psprintf(p, "the target uses the variable %.*s",
                                (int)(strchr(s, '}') - s + 1), s);
        }
        else if (*s == '$' && s[1] == '1' && group && *dollar < 0) {
            *dollar = (long)n;
            s += 2;
        }
        else if ((*s == '$' || *s == '%') && apr_isdigit(s[1])) {
            return backref_why(p, s);
        }
        else {
            o[n++] = *s++;
        }
    }
    o[n] = '\0';
    *out = o;
    *len = n;
    return NULL;
}

/* Why a literal ':' copied from the substitution at s would read as a
 * placeholder in a pattern rule's target, or NULL.  `auth_end`: where
 * the substitution's "scheme://host" ends (a port is no placeholder). */
static const char *literal_colon(apr_pool_t *p, const char *s, int c,
                                 const char *auth_end)
{
    if (c != ':' || s < auth_end || !pp_name_char((unsigned char)*s))
        return NULL;
    return apr_psprintf(p, "the target holds ':%c' literally, which a "
                        "pattern rule's target would read as a "
                        "placeholder", *s);
}

/* expand_subst() for a pattern rule: $N of a segment group becomes the
 * placeholder :pN, the rest's $N is cut out (*dollar: where it was). */
static const char *expand_pattern_subst(apr_pool_t *p, const rw_rule *r,
                                        char **out, size_t *len,
                                        long *dollar)
{
    const char *s = r->subst, *why;
    const char *auth_end = s + http_authority(s, strlen(s));
    char *o = apr_palloc(p, strlen(s) * 2 + 1);
    size_t n = 0;
    *dollar = -1;
    while (*s) {
        int g = *s == '$' && apr_isdigit(s[1]) ? s[1] - '0' : -1;
        if (*s == '\\' && s[1]) {
            if ((why = literal_colon(p, s + 2, s[1], auth_end)))
                return why;
            o[n++] = s[1];
            s += 2;
        }
        else if ((*s == '$' || *s == '%') && s[1] == '{' && strchr(s, '}')) {
            return apr_psprintf(p, "the target uses %.*s", (int)(strchr(s, '}')
                                - s + 1), s);
        }
        else if (g > 0 && g == r->pat.rest_group && *dollar < 0) {
            *dollar = (long)n;
            s += 2;
        }
        else if (g > 0 && g <= r->pat.groups && g != r->pat.rest_group) {
            if (s < auth_end)
                return apr_psprintf(p, "'$%d' is in the target's host: a "
                                    "placeholder never chooses the host", g);
            if (pp_name_char((unsigned char)s[2]))
                return apr_psprintf(p, "'$%d' is followed by '%c', which "
                                    "the placeholder's name :p%d would take "
                                    "in", g, s[2], g);
            n += (size_t)apr_snprintf(o + n, 4, ":%s", group_names[g - 1]);
            s += 2;
        }
        else if ((*s == '$' || *s == '%') && apr_isdigit(s[1])) {
            return backref_why(p, s);
        }
        else {
            if ((why = literal_colon(p, s + 1, *s, auth_end)))
                return why;
            o[n++] = *s++;
        }
    }
    o[n] = '\0';
    *out = o;
    *len = n;
    return NULL;
}

/* A relative substitution made absolute as mod_rewrite does: in server
 * context below '/', per directory below the RewriteBase.  Says why not. */
static const char *absolute_subst(apr_pool_t *p, const rw_rule *r,
                                  char **s, size_t *n, long *dollar)
{
    const char *pre;
    size_t plen;
    /* A ':' before any '/' ends a scheme. */
    if (**s == '/' || is_http_url(*s) || (*s)[strcspn(*s, ":/")] == ':')
        return NULL;
    if (r->ctx->perdir && !r->ctx->rewrite_base)
        return apr_psprintf(p, "relative target '%s' without a RewriteBase: "
                            "mod_rewrite makes it a file-system path",
                            r->subst);
    pre = r->ctx->perdir ? as_base(p, r->ctx->rewrite_base) : "/";
    plen = strlen(pre);
    *s = apr_pstrcat(p, pre, *s, NULL);
    *n += plen;
    if (*dollar >= 0)
        *dollar += (long)plen;
    return NULL;
}

/* Where $1 may stand: at the end of the target's path, after a '/' for
 * the rest below "lit/", after something else for "lit(/.*)?".  A target
 * "http://host" + $1 gets the '/' of the rest: *s is then rewritten. */
static const char *carry_problem(apr_pool_t *p, const rw_rule *r, char **s,
                                 size_t *n, long dollar, rw_plan *pl)
{
    const char *t = *s;
    size_t at = (size_t)dollar, end = strcspn(t, "?");
    if (at != end)
        return apr_psprintf(p, "'$1' is not at the end of the target's path "
                            "('%s')", r->subst);
    if (r->lit.shape == SHAPE_BELOW)
        return at > 0 && t[at - 1] == '/' ? NULL
               : apr_psprintf(p, "'$1' follows '%c' in '%s': rules carry the "
                              "rest after a '/'", at ? t[at - 1] : ' ',
                              r->subst);
    if (at > 0 && t[at - 1] == '/')
        return apr_psprintf(p, "'$1' holds a leading '/' and follows one in "
                            "'%s'", r->subst);
    if (at && http_authority(t, at) == at) {
        *s = apr_pstrcat(p, apr_pstrmemdup(p, t, at), "/", t + at, NULL);
        ++*n;
        pl->authority_only = r->lit.len > 0;
    }
    return NULL;
}

/* The flags that give rule r mod_rewrite's query handling, and NC.
 * `query`: the target's own query, 0 none, 1 some, 2 a bare '?'.
 *   path rule:  mod_rewrite passes the request's query on to a target
 *               without one (our default), replaces it with the target's
 *               own (our default), appends it to that with QSA
 *               (qsappend), drops it with QSD or a bare '?' (qsdrop);
 *   query rule: mod_rewrite still passes the query it matched on unless
 *               the target has its own or drops it: qsappend then. */
static const char *flags_of(apr_pool_t *p, const rw_rule *r, rw_plan *pl,
                            int query)
{
    const rw_flags *f = &r->f;
    int drop = f->qsd || (query == 2 && !f->qsa);
    const char *qs;
    if (r->query_only) {
        qs = !f->qsd && (query == 0 || f->qsa) ? "qsappend" : NULL;
    }
    else {
        qs = drop ? (query == 1 ? NULL : "qsdrop")
             : query == 1 && f->qsa ? "qsappend" : NULL;
        pl->carries_query = !drop && query != 1;
    }
    pl->flags = f->nocase ? (qs ? apr_pstrcat(p, "nocase,", qs, NULL)
                                : "nocase")
                          : qs;
    return NULL;
}

/* The TARGET field of rule r, escaped as mod_rewrite escapes it. */
static const char *target_problem(apr_pool_t *p, const rw_rule *r,
                                  rw_plan *pl)
{
    char *s = NULL;
    size_t n = 0;
    long dollar = -1;
    int query;
    const char *why, *t;
    if (pl->status == 410) {
        pl->target = "-";
        return NULL;
    }
    if (!strcmp(r->subst, "-"))
        return "'-' with [R] redirects to the URL itself";
    if ((why = r->pattern_ok ? expand_pattern_subst(p, r, &s, &n, &dollar)
                             : expand_subst(p, r, &s, &n, &dollar))
        || (why = absolute_subst(p, r, &s, &n, &dollar)))
        return why;
    pl->carry = dollar >= 0;
    if (pl->carry && (why = carry_problem(p, r, &s, &n, dollar, pl)))
        return why;
    t = rw_redirect_target(p, s, n, pl->carry, r->f.noescape, &query, &why);
    if (!t)
        return why;
    pl->target = imp_escape(p, t, strlen(t), IMP_ENCODED);
    pl->own_query = query == 1;
    return flags_of(p, r, pl, query);
}

/* The SOURCE field of rule r. */
static void source_of(apr_pool_t *p, const rw_rule *r, rw_plan *pl)
{
    const rw_literal *l = &r->lit;
    const char *src;
    if (l->shape == SHAPE_BELOW || l->shape == SHAPE_REST)
        src = l->len ? apr_pstrcat(p, imp_escape(p, l->path, l->len,
                                                 IMP_SOURCE), "/*", NULL)
                     : "/*";
    else
        src = imp_escape(p, l->path, l->len, IMP_SOURCE);
    if (r->query_only)
        src = apr_pstrcat(p, src, "?", imp_escape(p, r->query,
                                                  strlen(r->query),
                                                  IMP_ENCODED), NULL);
    pl->source = src;
}

/* Why rule r, taken alone, cannot be a rule; NULL with *pl filled in. */
static const char *rule_problem(apr_pool_t *p, const rw_reader *rd,
                                const rw_rule *r, rw_plan *pl)
{
    const char *why;
    memset(pl, 0, sizeof(*pl));
    if (r->bad)
        return r->bad;
    if (r->f.bad)
        return r->f.bad;
    if ((why = answer_problem(p, rd, r, pl)))
        return why;
    if (r->section)
        return apr_psprintf(p, "inside %s: a condition rules cannot express",
                            r->section);
    if ((why = flags_problem(p, r, pl)))
        return why;
    if (r->cond_why)
        return r->cond_why;
    if (!r->literal_ok && !r->pattern_ok)
        return r->pat.specific ? r->pattern_why : r->literal_why;
    if (r->pattern_ok && r->query_only)
        return "a query condition on a pattern of segments (a pattern rule "
               "has no query)";
    if (r->query_only && r->lit.shape != SHAPE_EXACT
        && r->lit.shape != SHAPE_EXACT_SLASH)
        return "a query condition on a prefix pattern (a prefix rule has no "
               "query)";
    if ((why = target_problem(p, r, pl)))
        return why;
    if (!r->pattern_ok)
        source_of(p, r, pl);
    else if (!(pl->source = pp_source(p, r->pat.path, group_names, "",
                                      &why)))
        return why;
    return NULL;
}

/* ---- what answers first ---------------------------------------------- */

/* The key a path is filed under: case-folded for a nocase rule. */
static const char *path_key(apr_pool_t *p, const char *s, size_t n,
                            int nocase)
{
    char *k = apr_palloc(p, n + 2), *c;
    k[0] = nocase ? '~' : '=';
    memcpy(k + 1, s, n);
    k[n + 1] = '\0';
    if (nocase)
        for (c = k + 1; *c; c++)
            *c = (char)apr_tolower(*c);
    return k;
}

/* The rule filed in h under s[0..n), either case, or NULL. */
static rw_rule *filed(apr_pool_t *p, apr_hash_t *h, const char *s, size_t n)
{
    rw_rule *w = apr_hash_get(h, path_key(p, s, n, 0), APR_HASH_KEY_STRING);
    return w ? w : apr_hash_get(h, path_key(p, s, n, 1), APR_HASH_KEY_STRING);
}

/* Files rule r where later rules look for what answers before them. */
static void file_rule(apr_pool_t *p, rw_rule *r)
{
    rw_context *c = r->ctx;
    apr_hash_t *h;
    const char *key;
    if (r->bad || r->dormant || r->transparent)
        return;
    if (!r->literal_ok) {
        APR_ARRAY_PUSH(c->wide, rw_rule *) = r;
        return;
    }
    if (r->query_only && r->lit.shape <= SHAPE_EXACT_SLASH)
        return;         /* it answers its one query only: rules do too */
    h = r->lit.shape <= SHAPE_EXACT_SLASH ? c->exact : c->prefixes;
    key = path_key(p, r->lit.path, r->lit.len, r->f.nocase);
    if (!apr_hash_get(h, key, APR_HASH_KEY_STRING))
        apr_hash_set(h, key, APR_HASH_KEY_STRING, r);
}

/* The earlier of two rules (either may be NULL). */
static rw_rule *earlier(rw_rule *a, rw_rule *b)
{
    return !a || (b && b->index < a->index) ? b : a;
}

/* An earlier exact rule that answers r's path, or it with a trailing '/'
 * added or removed (one source for rules, two for mod_rewrite).  A
 * nocase rule answers every spelling of its path; a case-sensitive one
 * only its own, and leaves the others to a nocase r.  *same: the same
 * source, which validation settles as mod_rewrite does (first wins). */
static rw_rule *exact_before(apr_pool_t *p, const rw_rule *r, int *same)
{
    const rw_literal *l = &r->lit;
    apr_hash_t *h = r->ctx->exact;
    int q = r->query_only;
    rw_rule *nc = apr_hash_get(h, path_key(p, l->path, l->len, 1),
                               APR_HASH_KEY_STRING);
    rw_rule *cs = apr_hash_get(h, path_key(p, l->path, l->len, 0),
                               APR_HASH_KEY_STRING);
    rw_rule *w = earlier(nc, r->f.nocase && !q ? NULL : cs);
    if (w) {
        *same = w->converted && !q && !w->f.nocase == !r->f.nocase;
        return w;
    }
    if (l->len > 1 && l->path[l->len - 1] == '/')
        return filed(p, h, l->path, l->len - 1);
    return filed(p, h, apr_pstrcat(p, l->path, "/", NULL), l->len + 1);
}

/* An earlier prefix rule covering r's path (or the rest of a prefix r):
 * the first of those filed under a leading part of it that ends where a
 * segment does.  *same: r is a prefix rule of the same path. */
static rw_rule *prefix_before(apr_pool_t *p, const rw_rule *r, int *same)
{
    const rw_literal *l = &r->lit;
    int r_prefix = l->shape >= SHAPE_BELOW;
    rw_rule *first = NULL, *w;
    size_t i;
    for (i = 0; i <= l->len; i++) {
        if (i < l->len && l->path[i] != '/')
            continue;
        if (!(w = filed(p, r->ctx->prefixes, l->path, i)))
            continue;
        if (i == l->len && r_prefix) {
            *same = w->converted && !w->f.nocase == !r->f.nocase;
            if (*same)
                continue;
        }
        else if (i == l->len && (w->lit.shape == SHAPE_BELOW
                                 || w->lit.not_itself)) {
            continue;   /* it matches only below the path r answers */
        }
        first = earlier(first, w);
    }
    return first;
}

/* Paths rule r answers, as the patterns of its context see them. */
static apr_array_header_t *subjects(apr_pool_t *p, const rw_rule *r)
{
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(const char *));
    const rw_literal *l = &r->lit;
    const char *path = apr_pstrmemdup(p, l->path, l->len);
    size_t skip = r->ctx->base ? strlen(r->ctx->base) : 0, k;
    if (l->shape == SHAPE_EXACT || l->shape == SHAPE_EXACT_SLASH)
        APR_ARRAY_PUSH(a, const char *) = path;
    if (l->shape == SHAPE_EXACT_SLASH || l->shape >= SHAPE_BELOW)
        APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(p, path, "/", NULL);
    if (l->shape >= SHAPE_BELOW)
        APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(p, path, "/x", NULL);
    for (k = 0; skip && k < (size_t)a->nelts; k++) {
        const char **s = &APR_ARRAY_IDX(a, k, const char *);
        *s = strlen(*s) >= skip ? *s + skip : "";
    }
    return a;
}

/* The first earlier regular expression that may match a path of r. */
static rw_rule *regex_before(apr_pool_t *p, const rw_rule *r)
{
    const apr_array_header_t *subj = subjects(p, r);
    int k, j;
    for (k = 0; k < r->ctx->wide->nelts; k++) {
        rw_rule *w = APR_ARRAY_IDX(r->ctx->wide, k, rw_rule *);
        for (j = 0; j < subj->nelts; j++) {
            if (may_match(w, APR_ARRAY_IDX(subj, j, const char *)))
                return w;
        }
    }
    return NULL;
}

/* mod_rewrite tries rules in order, rules pick the most specific: an
 * earlier rule that may answer a request of r's first (unless it is the
 * same source, which validation settles) means r answers otherwise. */
static const char *answered_before(apr_pool_t *p, const rw_rule *r)
{
    int same = 0;
    rw_rule *w = NULL;
    if (r->lit.shape <= SHAPE_EXACT_SLASH)
        w = exact_before(p, r, &same);
    if (same)
        w = NULL;
    same = 0;
    w = earlier(w, prefix_before(p, r, &same));
    w = earlier(w, regex_before(p, r));
    if (!w)
        return NULL;
    if (!w->literal_ok)
        return apr_psprintf(p, "line %u comes first in mod_rewrite and may "
                            "answer this path ('%s'%s)", w->line, w->pattern,
                            w->conds->nelts ? ", under conditions" : "");
    return apr_psprintf(p, "line %u comes first in mod_rewrite and answers "
                        "this path%s%s", w->line,
                        w->converted ? "" : " (it is not converted)",
                        w->lit.shape == SHAPE_EXACT
                        && w->lit.len != r->lit.len
                        ? " (rules ignore the trailing '/' that tells the "
                          "two apart)" : "");
}

/* Paths pattern rule r answers, as the patterns of its context see
 * them: its sample path (each capture one byte of its class). */
static apr_array_header_t *pattern_subjects(apr_pool_t *p, const rw_rule *r)
{
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(const char *));
    const char *s = r->pat.sample;
    size_t skip = r->ctx->base ? strlen(r->ctx->base) : 0, k;
    if (r->lit.shape <= SHAPE_EXACT_SLASH)
        APR_ARRAY_PUSH(a, const char *) = s;
    if (r->lit.shape != SHAPE_EXACT)
        APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(p, s, "/", NULL);
    if (r->lit.shape >= SHAPE_BELOW)
        APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(p, s, "/x", NULL);
    for (k = 0; skip && k < (size_t)a->nelts; k++) {
        const char **x = &APR_ARRAY_IDX(a, k, const char *);
        *x = strlen(*x) >= skip ? *x + skip : "";
    }
    return a;
}

/* The path of literal rule w as a pattern, made once. */
static const pp_path *literal_pattern(apr_pool_t *p, rw_rule *w)
{
    if (!w->as_pattern)
        w->as_pattern = pp_from_literal(p, w->lit.path, w->lit.len,
                                        w->lit.shape >= SHAPE_BELOW,
                                        w->f.nocase, 0);
    return w->as_pattern;
}

/* May earlier rule w, a regular expression, match one of the paths
 * `subj` of a pattern rule? */
static int regex_meets(rw_rule *w, const apr_array_header_t *subj)
{
    int j;
    for (j = 0; j < subj->nelts; j++) {
        if (may_match(w, APR_ARRAY_IDX(subj, j, const char *)))
            return 1;
    }
    return 0;
}

/* answered_before() for a pattern rule: mod_rewrite tries the earlier
 * rules of its context first; rules try literal rules first, then the
 * pattern with more literal segments.  An earlier pattern the rules also
 * prefer, but which answers more than its regex, goes to *wider. */
static const char *pattern_before(rw_reader *rd, const rw_rule *r,
                                  const rw_rule **wider)
{
    apr_pool_t *p = rd->im->p;
    const apr_array_header_t *subj = pattern_subjects(p, r);
    int k;
    for (k = 0; k < rd->rules->nelts; k++) {
        rw_rule *w = APR_ARRAY_IDX(rd->rules, k, rw_rule *);
        if (w == r)
            break;
        if (w->ctx != r->ctx || w->bad || w->dormant || w->transparent)
            continue;
        if (w->literal_ok || w->pattern_ok) {
            const pp_path *wp = w->literal_ok ? literal_pattern(p, w)
                                              : w->pat.path;
            if (!pp_meet(wp, r->pat.path))
                continue;
            if (!w->converted)
                return apr_psprintf(p, "line %u comes first in mod_rewrite "
                                    "and may answer some of its paths (it is "
                                    "not converted)", w->line);
            /* Both answer with w (literal first, or the earlier of two
             * patterns): where it takes all of r's paths, r is dead. */
            if (!w->query_only && !(w->pattern_ok && rwp_is_narrow(&w->pat))
                && pp_covers(wp, r->pat.path)
                && (w->literal_ok || pp_literal_segments(r->pat.path)
                                     <= pp_literal_segments(wp)))
                return apr_psprintf(p, "never reached: line %u answers all "
                                    "its paths first, in mod_rewrite and in "
                                    "the rules", w->line);
            if (w->literal_ok)
                continue;
            if (pp_literal_segments(r->pat.path)
                > pp_literal_segments(w->pat.path))
                return apr_psprintf(p, "line %u comes first in mod_rewrite "
                                    "and may answer some of its paths; the "
                                    "rules would answer them with this one "
                                    "(more literal segments)", w->line);
            if (!*wider && rwp_is_narrow(&w->pat))
                *wider = w;
            continue;
        }
        if (regex_meets(w, subj))
            return apr_psprintf(p, "line %u comes first in mod_rewrite and "
                                "may answer its paths ('%s'%s)", w->line,
                                w->pattern, w->conds->nelts
                                ? ", under conditions" : "");
    }
    return NULL;
}

/* Without [L] mod_rewrite goes on with the redirect's URL: a later rule
 * that may match it rewrites it.  Which one, if any. */
static const char *rewritten_after(apr_pool_t *p, const rw_rule *r,
                                   const rw_plan *pl)
{
    const char *url;
    int k;
    if (r->f.last || pl->status == 410)
        return NULL;
    url = pl->target[0] == '/' ? apr_pstrcat(p, "http://localhost",
                                             pl->target, NULL) : pl->target;
    for (k = 0; k < r->ctx->wild->nelts; k++) {
        rw_rule *w = APR_ARRAY_IDX(r->ctx->wild, k, rw_rule *);
        if (w->index > r->index && (w->literal_ok || may_match(w, url)))
            return apr_psprintf(p, "no [L]: mod_rewrite goes on with the "
                                "redirect's URL, which line %u ('%s') may "
                                "rewrite", w->line, w->pattern);
    }
    return NULL;
}

/* ---- notes ----------------------------------------------------------- */

/* What a per-directory context's rules are taken to be below, once. */
static void note_context(rw_reader *rd, rw_rule *r)
{
    rw_context *c = r->ctx;
    importer *im = rd->im;
    unsigned eline;
    if (c->noted)
        return;
    c->noted = 1;
    if (engine_of(c, &eline) == ENGINE_UNSET)
        imp_note(im, r->line, "no RewriteEngine in this file: its rules are "
                 "taken as active (mod_rewrite's default is Off unless the "
                 "server or a parent directory turns it on)");
    if (!c->perdir && c->line)
        imp_note(im, r->line, "from the <VirtualHost> at line %u: load the "
                 "output in that virtual host", c->line);
    else if (c->perdir && c->base_assumed)
        imp_note(im, r->line, "per-directory rules without a RewriteBase: "
                 "taken to be in the document root (URL-path /); if this "
                 ".htaccess is in a subdirectory, give it a RewriteBase "
                 "with that directory's URL-path");
    else if (c->perdir && c->dir)
        imp_note(im, r->line, "per-directory rules of <Directory %s> (line "
                 "%u): taken below the URL-path %s", c->dir, c->line,
                 c->base);
    else if (c->perdir)
        imp_note(im, r->line, "per-directory rules: taken below the "
                 "URL-path %s, their RewriteBase", c->base);
}

/* Differences that hold for every rule of a kind, said once per input at
 * the first rule of that kind. */
static void note_kinds(rw_reader *rd, const rw_rule *r, const rw_plan *pl)
{
    importer *im = rd->im;
    const rw_literal *l = &r->lit;
    if (l->shape == SHAPE_EXACT && l->len > 1 && !rd->noted_slash) {
        rd->noted_slash = r->line;
        imp_note(im, r->line, "this and every later exact rule also answer "
                 "their path with a trailing slash added or removed "
                 "(Redirect307TrailingSlash Ignore); mod_rewrite matches "
                 "only the form its pattern gives");
    }
    if (pl->carry && !rd->noted_carry) {
        rd->noted_carry = r->line;
        imp_note(im, r->line, "this and every later rule carrying $1: a "
                 "carried '[' or ']' stays raw (mod_rewrite escapes it), "
                 "and a path holding an encoded '?' (%%3F) is redirected "
                 "where mod_rewrite answers 403");
    }
    if (pl->carries_query && !rd->noted_emptyq) {
        rd->noted_emptyq = r->line;
        imp_note(im, r->line, "this and every later rule passing the "
                 "query on: a request with an empty query ('/old?') is "
                 "answered without the '?' (mod_rewrite keeps it)");
    }
}

/* Differences of a pattern rule. */
static void note_pattern(rw_reader *rd, const rw_rule *r, const rw_rule *wider)
{
    importer *im = rd->im;
    const char *list = NULL;
    int g;
    if (!rd->noted_capture) {
        rd->noted_capture = r->line;
        imp_note(im, r->line, "this and every later rule with placeholders: "
                 "a captured segment goes into the Location percent-escaped "
                 "as the rules escape it, where mod_rewrite leaves "
                 "$-_.+!*'(),:;@&=~ raw and answers an encoded '?' (%%3F) "
                 "with 403");
    }
    for (g = 1; g <= r->pat.groups; g++) {
        if (r->pat.narrow[g])
            list = apr_pstrcat(im->p, list ? list : "", list ? ", " : "",
                               "$", apr_itoa(im->p, g), " ",
                               r->pat.narrow[g], NULL);
    }
    if (list)
        imp_differs(im, r->line, "the rule also answers paths the regex "
                    "does not match: a placeholder takes any segment, a "
                    "group of a narrower class only some (%s)", list);
    if (wider)
        imp_differs(im, r->line, "where line %u's rule, which answers more "
                    "than its regex, matches too, the rules answer with it "
                    "(it comes first); mod_rewrite with this one",
                    wider->line);
    if (r->f.noescape)
        imp_note(im, r->line, "[NE]: mod_rewrite puts the captured segments "
                 "into the Location unescaped; the rule escapes them");
}

/* Differences of this rule alone. */
static void note_rule(rw_reader *rd, const rw_rule *r, const rw_plan *pl)
{
    importer *im = rd->im;
    const rw_literal *l = &r->lit;
    const char *path = apr_pstrmemdup(im->p, l->path, l->len);
    if (l->dot_any)
        imp_note(im, r->line, "'.' in '%s' matches any character in "
                 "mod_rewrite; the rule matches only a '.'", r->pattern);
    if (l->shape == SHAPE_BELOW && l->len && r->lit.not_itself)
        imp_note(im, r->line, "also answers %s and %s/ itself; mod_rewrite "
                 "matches only below %s/", path, path, path);
    else if (l->shape == SHAPE_BELOW && l->len)
        imp_note(im, r->line, "also answers %s itself (like %s/); "
                 "mod_rewrite matches only %s/ and below", path, path, path);
    else if (l->shape == SHAPE_REST && l->not_itself)
        imp_note(im, r->line, "also answers %s itself; mod_rewrite matches "
                 "only below it", path);
    if (r->f.nocase && !pl->carry && !r->pattern_ok
        && pl->target[0] == '/'
        && !strncasecmp(pl->target, pl->source, strcspn(pl->source, "?"))
        && strcspn(pl->target, "?#") == strcspn(pl->source, "?"))
        imp_note(im, r->line, "[NC]: mod_rewrite redirects '%s' to itself "
                 "too (a loop); the rule leaves the target's own spelling "
                 "alone", pl->target);
    if (pl->authority_only)
        imp_note(im, r->line, "answers %s with a '/' after the host "
                 "(mod_rewrite: none), the same URL", path);
    if (r->query_only)
        imp_note(im, r->line, "mod_rewrite compares the query string as "
                 "sent; the rule also matches it percent-decoded%s or with "
                 "empty '&' parts", strchr(r->query, '&')
                 ? ", with its parameters in another order," : "");
    if (r->f.qsa && pl->own_query && !r->f.qsd && !r->f.noescape)
        imp_note(im, r->line, "[QSA]: mod_rewrite escapes the request's "
                 "query again ('%%20' becomes '%%2520'); the rule passes it "
                 "on as sent");
    if (r->f.noescape && pl->carry)
        imp_note(im, r->line, "[NE]: mod_rewrite puts the carried path into "
                 "the Location unescaped; the rule escapes it");
    if (r->f.noescape && strchr(pl->target, '#') && (pl->carries_query
                                                     || r->query_only))
        imp_note(im, r->line, "[NE]: mod_rewrite puts the request's query "
                 "after the '#fragment'; the rule puts it before");
    if (pl->implicit && !rd->hosts->nelts && !im->hosts)
        imp_note(im, r->line, "no [R]: redirected (302) as mod_rewrite does "
                 "for another host; if '%s' is this server, mod_rewrite "
                 "rewrites internally instead (give --host)", r->subst);
    if (r->f.side)
        imp_note(im, r->line, "flag [%s] ignored: a redirect needs none",
                 r->f.side);
}

/* ---- driving --------------------------------------------------------- */

/* Is rule r inactive: never applied by httpd?  Says why, in a note. */
static int inactive(rw_reader *rd, const rw_rule *r)
{
    unsigned eline;
    rw_engine e = engine_of(r->ctx, &eline);
    if (r->dormant) {
        imp_note(rd->im, r->line, "inside <IfModule !mod_rewrite.c>: never "
                 "applied where mod_rewrite is loaded; not imported");
        return 1;
    }
    if (e == ENGINE_OFF)
        imp_note(rd->im, r->line, "RewriteEngine Off (line %u) holds for "
                 "this context: inactive, not imported", eline);
    else if (e == ENGINE_UNSET && rd->any_engine)
        imp_note(rd->im, r->line, "no RewriteEngine On for this context "
                 "(mod_rewrite's default is Off): inactive, not imported");
    return e == ENGINE_OFF || (e == ENGINE_UNSET && rd->any_engine);
}

static void convert_rule(rw_reader *rd, rw_rule *r)
{
    apr_pool_t *p = rd->im->p;
    const char *why;
    rw_plan pl;
    if (inactive(rd, r))
        return;
    note_context(rd, r);
    const rw_rule *wider = NULL;
    why = rule_problem(p, rd, r, &pl);
    if (!why)
        why = r->pattern_ok ? pattern_before(rd, r, &wider)
                            : answered_before(p, r);
    if (!why)
        why = rewritten_after(p, r, &pl);
    if (why) {
        imp_skip(rd->im, r->line, "%s", why);
    }
    else {
        imp_emit(rd->im, r->line, pl.source, pl.target, pl.status, pl.flags);
        r->converted = 1;
        note_kinds(rd, r, &pl);
        note_rule(rd, r, &pl);
        if (r->pattern_ok)
            note_pattern(rd, r, wider);
    }
    file_rule(p, r);
}

/* Settles every context and prepares every rule of the file. */
static void prepare_all(rw_reader *rd)
{
    apr_pool_t *p = rd->im->p;
    int k;
    if (rd->htaccess || rd->main->rewrite_base)
        rd->main->perdir = 1;
    for (k = 0; k < rd->rules->nelts; k++) {
        rw_rule *r = APR_ARRAY_IDX(rd->rules, k, rw_rule *);
        if (r->ctx->perdir && !r->ctx->base)
            settle_base(p, r->ctx);
        rule_prepare(p, r);
        note_wild(r);
    }
}

/* Is `file` an .htaccess file (by its name)? */
static int is_htaccess(const char *file)
{
    const char *slash = strrchr(file, '/');
    return strstr(slash ? slash + 1 : file, "htaccess") != NULL;
}

void import_rewrite(importer *im, char *buf, size_t len)
{
    rw_reader rd;
    int k;

    memset(&rd, 0, sizeof(rd));
    rd.im = im;
    rd.htaccess = is_htaccess(im->file);
    rd.main = rd.cur = context_new(im->p, NULL, 0, 0, NULL);
    rd.sections = apr_array_make(im->p, 4, sizeof(rw_section));
    rd.rules = apr_array_make(im->p, 64, sizeof(rw_rule *));
    rd.conds = apr_array_make(im->p, 2, sizeof(rw_cond));
    rd.hosts = apr_array_make(im->p, 2, sizeof(const char *));
    read_directives(&rd, buf, len);
    prepare_all(&rd);
    for (k = 0; k < rd.rules->nelts; k++)
        convert_rule(&rd, APR_ARRAY_IDX(rd.rules, k, rw_rule *));
    free_regexes(rd.rules);
}
