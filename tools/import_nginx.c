/*
 * import_nginx.c - `import --from nginx`: the entries of map $uri and
 * map $request_uri blocks become exact rules, with the status of the
 * return or rewrite that answers the map's variable in the same file.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdint.h>
#include <string.h>

#include "apr_hash.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* A variable answered with different statuses (ngx_var_statuses). */
#define SEVERAL_STATUSES (-1)

/* Bytes that end an unquoted word. */
static const char word_ends[] = " \t\r\n;{}";

typedef struct {
    const char *s;              /* the word, unquoted */
    unsigned line;
    int quoted;
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
            lx->i += 2;
            continue;
        }
        if (b[lx->i] == '\n')
            lx->line++;
        *o++ = b[lx->i++];
    }
    *o = '\0';
    lx->i++;
    t->s = out;
    t->quoted = 1;
}

/* An unquoted word at lx->i (a NUL byte is part of it, as nginx has no
 * use for one, so that every word moves on). */
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
        t->line = lx.line;
        t->quoted = 0;
        t->punct = 0;
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

/* ---- which status answers a variable --------------------------------- */

/* The status the statement t[0..n) answers *var with: "return CODE
 * X;" or "rewrite REGEX X permanent|redirect;"; 0 for none. */
static int ngx_statement_status(const ngx_tok *t, int n, const char **var)
{
    int st = 0;
    if (n >= 3 && !strcmp(t[0].s, "return")
        && (st = cli_parse_status(t[1].s, 0)))
        *var = t[2].s;
    else if (n == 4 && !strcmp(t[0].s, "rewrite")) {
        st = !strcmp(t[3].s, "permanent") ? 301
           : !strcmp(t[3].s, "redirect") ? 302 : 0;
        *var = t[2].s;
    }
    return st;
}

/* Records status `st` for each $variable named in `text`. */
static void ngx_note_vars(apr_pool_t *p, apr_hash_t *h, const char *text,
                          int st)
{
    static const char ident[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    size_t j;
    for (j = 0; text[j]; j++) {
        apr_ssize_t vl;
        intptr_t old;
        if (text[j] != '$')
            continue;
        vl = (apr_ssize_t)strspn(text + j + 1, ident) + 1;
        old = (intptr_t)apr_hash_get(h, text + j, vl);
        apr_hash_set(h, apr_pstrmemdup(p, text + j, (size_t)vl), vl,
                     (void *)(old && old != st ? SEVERAL_STATUSES
                                               : (intptr_t)st));
    }
}

/* Which status each variable is answered with, by the return and
 * rewrite statements of the whole file: "$var" -> status (intptr_t) or
 * SEVERAL_STATUSES. */
static apr_hash_t *ngx_var_statuses(apr_pool_t *p,
                                    const apr_array_header_t *toks)
{
    apr_hash_t *h = apr_hash_make(p);
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    int k, start = 0;
    for (k = 0; k < toks->nelts; k++) {
        const char *var = NULL;
        int st;
        if (!t[k].punct)
            continue;
        st = t[k].punct == ';' ? ngx_statement_status(t + start, k - start,
                                                      &var) : 0;
        if (st && var)
            ngx_note_vars(p, h, var, st);
        start = k + 1;
    }
    return h;
}

/* ---- maps ------------------------------------------------------------ */

/* One "KEY VALUE;" entry, t[0..n). */
static void ngx_entry(importer *im, const ngx_tok *t, int n, int raw,
                      int status)
{
    const char *key = t[0].s, *val;
    unsigned line = t[0].line;
    if (!t[0].quoted && (!strcmp(key, "default") || !strcmp(key, "hostnames")
                         || !strcmp(key, "volatile")))
        return;
    if (!t[0].quoted && !strcmp(key, "include")) {
        imp_skip(im, line, "include %s: not followed; import that file too",
                 n > 1 ? t[1].s : "");
        return;
    }
    if (n != 2) {
        imp_skip(im, line, "expected 'SOURCE TARGET;' (%d words)", n);
        return;
    }
    val = t[1].s;
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
    if (strchr(val, '$')) {
        imp_skip(im, line, "target '%s' uses nginx variables", val);
        return;
    }
    if (!*val) {
        imp_skip(im, line, "empty target");
        return;
    }
    if (!imp_is_url_or_path(val)) {
        imp_skip(im, line, "'%s' is neither an absolute URL nor a path", val);
        return;
    }
    imp_emit(im, line,
             imp_escape(im->p, key, strlen(key),
                        IMP_SOURCE | (raw ? IMP_ENCODED : 0)),
             imp_escape(im->p, val, strlen(val), IMP_ENCODED), status,
             "nocase");
}

/* The status for the rules of the map that sets `var` (0: none, the
 * rules get Redirect307Default), with a note where it is a guess. */
static int ngx_map_status(importer *im, apr_hash_t *statuses,
                          const ngx_tok *map_word, const char *var)
{
    intptr_t st = (intptr_t)apr_hash_get(statuses, var, APR_HASH_KEY_STRING);
    int status = st > 0 ? (int)st : im->status;
    if (st == SEVERAL_STATUSES)
        imp_note(im, map_word->line, "%s is answered with several statuses; "
                 "using %s", var, status ? apr_itoa(im->p, status)
                                         : "Redirect307Default");
    else if (!st && !status)
        imp_note(im, map_word->line, "no 'return CODE %s' found: rules get "
                 "Redirect307Default (give --status)", var);
    return status;
}

/* The entries between the map's '{' at t[open] and its '}' at t[end]. */
static void ngx_map_entries(importer *im, const ngx_tok *t, int open,
                            int end, int raw, int status)
{
    int e, s0 = open + 1;
    for (e = open + 1; e < end; e++) {
        if (t[e].punct == ';') {
            if (e > s0)
                ngx_entry(im, t + s0, e - s0, raw, status);
            s0 = e + 1;
        }
        else if (t[e].punct == '{') {
            imp_skip(im, t[e].line, "unexpected '{' in map");
            s0 = e + 1;
        }
    }
    if (s0 < end)
        imp_skip(im, t[s0].line, "entry without ';'");
}

/* "map SOURCE VAR {" at t[start..open]; returns where it ends ('}'). */
static int ngx_map(importer *im, apr_hash_t *statuses,
                   const apr_array_header_t *toks, int start, int open)
{
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    const char *src = t[start + 1].s, *var = t[start + 2].s;
    int end;
    for (end = open + 1; end < toks->nelts && t[end].punct != '}'; end++)
        ;
    if (strcmp(src, "$uri") && strcmp(src, "$request_uri")) {
        imp_note(im, t[start].line, "map %s %s: not a map of paths, "
                 "ignored", src, var);
        return end;
    }
    /* $uri is decoded; $request_uri is as the client sent it. */
    ngx_map_entries(im, t, open, end, !strcmp(src, "$request_uri"),
                    ngx_map_status(im, statuses, &t[start], var));
    return end;
}

void import_nginx(importer *im, char *buf, size_t len)
{
    apr_array_header_t *toks = ngx_tokenize(im->p, buf, len);
    apr_hash_t *statuses = ngx_var_statuses(im->p, toks);
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    int k = 0, start = 0;
    while (k < toks->nelts) {
        if (!t[k].punct) {
            k++;
            continue;
        }
        if (t[k].punct == '{' && k - start == 3
            && !strcmp(t[start].s, "map"))
            k = ngx_map(im, statuses, toks, start, k);
        start = ++k;
    }
}
