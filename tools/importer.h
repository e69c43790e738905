/*
 * importer.h - the core every `redirect307 import` format shares: the
 * list of converted rules, the "not converted" and "note" messages,
 * escaping fields for the rules format, validating the rules with the
 * engine (refused lines, duplicates, loops) and writing them out.
 *
 * A format is one file, import_FORMAT.c, holding one importer_read_fn;
 * cmd_import.c lists the formats.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef IMPORTER_H
#define IMPORTER_H

#include <stddef.h>
#include <stdio.h>

#include "apr_pools.h"
#include "apr_tables.h"

#include "cli_util.h"

typedef struct {
    const char *text;           /* "SOURCE TARGET [STATUS] [FLAGS]" */
    const char *file;           /* input it came from */
    unsigned line;              /* its line there */
    int dropped;                /* not written: refused, duplicate, loop */
} imp_rule;

typedef struct {
    apr_pool_t *p;
    int status;                 /* --status: for entries giving none, or 0 */
    const apr_array_header_t *hosts;    /* --host names, or NULL */
    const char *file;           /* input being read: messages name it */
    apr_array_header_t *rules;  /* imp_rule, in input order */
    int skipped;                /* entries not converted */
    FILE *msgs;                 /* where messages go: stderr */
} importer;

/* A format's reader: reads one input, buf[0..len) (NUL-terminated,
 * writable: readers may cut it up in place), adding what it converts
 * with imp_emit() and saying with imp_skip() what it cannot.  The input
 * has no byte order mark, no NUL byte and no line over CLI_MAX_LINE
 * bytes (cmd_import.c refused those lines, leaving them empty). */
typedef void importer_read_fn(importer *im, char *buf, size_t len);

/* mod_alias Redirect, RedirectPermanent, RedirectTemp (import_alias.c). */
void import_alias(importer *im, char *buf, size_t len);

/* nginx map $uri / $request_uri blocks (import_nginx.c). */
void import_nginx(importer *im, char *buf, size_t len);

/* WordPress Redirection CSV exports (import_csv.c). */
void import_csv(importer *im, char *buf, size_t len);

/* HAProxy map files used by "redirect location %[path,map(...)]"
 * (import_haproxy.c). */
void import_haproxy(importer *im, char *buf, size_t len);

/* Netlify _redirects files (import_netlify.c). */
void import_netlify(importer *im, char *buf, size_t len);

/* Cloudflare Bulk Redirects CSV lists (import_cloudflare.c). */
void import_cloudflare(importer *im, char *buf, size_t len);
/* mod_rewrite RewriteRule, RewriteCond, RewriteBase, RewriteEngine
 * (import_rewrite.c). */
void import_rewrite(importer *im, char *buf, size_t len);

/* mod_rewrite RewriteMap txt: files (import_rewritemap.c). */
void import_rewritemap(importer *im, char *buf, size_t len);

/* A mod_rewrite substitution s[0..n), expanded (no backreference or
 * variable left), as a TARGET escaped the way mod_rewrite escapes it for
 * a redirect: unless `noescape` ([NE]), every byte of its path and query
 * but letters, digits and $-_.+!*'(),:;@&=/~ is percent-encoded.  With
 * `carry`, a '*' ends its path, for the rest a prefix rule carries.
 * *query: 0 no query, 1 a query of its own, 2 a bare '?' (which drops the
 * request's).  NULL, with *why in `p`, unless s is an http(s) URL or a
 * /path.  The result still needs imp_escape(..., IMP_ENCODED) to be a
 * rules-file field (import_rewrite.c). */
const char *rw_redirect_target(apr_pool_t *p, const char *s, size_t n,
                               int carry, int noescape, int *query,
                               const char **why);

/* Sets up an importer with no rules yet, in `p`. */
void imp_init(importer *im, apr_pool_t *p, int status,
              const apr_array_header_t *hosts);

/* Converts one input, named im->file and read with cli_read_text(), with
 * the reader of its format: the lines the reader refused (a NUL byte,
 * too long) are not converted. */
void imp_read_text(importer *im, importer_read_fn *read, const cli_text *t);

/* The formats `import --from` takes, as cmd_import.c lists them: the
 * k-th one's name (NULL past the last) and its reader. */
const char *import_format_name(int k);
importer_read_fn *import_format_reader(int k);

/* Messages quote the input: each is written as cli_put_visible() shows
 * it, to im->msgs. */

/* Says "FILE:LINE: not converted: ..." and counts the entry as
 * skipped. */
void imp_skip(importer *im, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Says "FILE:LINE: note: ...": a remark that loses nothing. */
void imp_note(const importer *im, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Says "FILE:LINE: note: differs: ...": the converted rules
 * answer some requests otherwise than the old server did, and the
 * message says which and how.  (The differential tests accept a
 * difference only on a line reported so or as not converted.) */
void imp_differs(const importer *im, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds the rule "src tgt [status] [flags]" (status 0: none; flags NULL:
 * none) from `line` of the current input.  src and tgt must be escaped
 * fields (imp_escape). */
void imp_emit(importer *im, unsigned line, const char *src, const char *tgt,
              int status, const char *flags);

/* imp_escape() flags. */
#define IMP_ENCODED 0x01u   /* the input is URL-encoded: a valid %XX and
                               '?' keep their meaning; otherwise it is a
                               decoded path and '%', '?' are bytes */
#define IMP_SOURCE  0x02u   /* a rule's source: '#', a trailing '*'
                               (our prefix marker) and a ':' before a
                               letter, digit or '_' (a placeholder) are
                               escaped too */

/* s[0..n) as a rules-file field: bytes that may not stand raw in one
 * (controls, space, non-ASCII, "\"<>\\^`{|}") percent-escaped, and as
 * `flags` say.  In `p`. */
const char *imp_escape(apr_pool_t *p, const char *s, size_t n,
                       unsigned flags);

/* 1 if `t` is a /path (not //) or scheme://host..., as targets must be. */
int imp_is_url_or_path(const char *t);

/* The next line of an httpd configuration file (buffer up to `end`),
 * joined with the following ones as httpd joins a line ending in a single
 * backslash; *n counts physical lines, *first is where the joined line
 * starts.  NULL at the end; a continuation that never ends is reported
 * as not converted. */
char *imp_next_conf_line(importer *im, char **s, const char *end,
                         unsigned *n, unsigned *first);

/* Checks the rules as `check` would load the output: a rule the engine
 * refuses is not converted; of a duplicate source the later rule is
 * dropped with a note; of a loop the first rule is not converted; a
 * chain is noted and kept. */
void imp_validate(importer *im);

/* Writes the rules kept to `out` after a comment naming the input and
 * the format; returns how many. */
int imp_write(const importer *im, FILE *out, const char *input,
              const char *format);

#endif /* IMPORTER_H */
