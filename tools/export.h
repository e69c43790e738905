/*
 * export.h - what `redirect307 export` shares: each rule as the engine
 * answers it (cmd_export.c builds them from the loaded set), the messages,
 * a string builder, the PCRE patterns nginx and HAProxy both match
 * (export_re.c), and the three output formats (export_nginx.c,
 * export_haproxy.c, export_csv.c).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef EXPORT_H
#define EXPORT_H

#include <stddef.h>

#include "apr_pools.h"
#include "apr_tables.h"

#include "cli.h"
#include "redirect_rules.h"

/* What becomes of the request's query (SPEC: Rules file, Ignored
 * parameters), decided per rule as rr_match_location_parts() does. */
typedef enum {
    EX_ARGS_NONE,               /* qsdrop: nothing follows the target */
    EX_ARGS_CARRY,              /* the whole query follows */
    EX_ARGS_PASS                /* only the ignored parameters follow */
} ex_args;

/* How a prefix rule's target takes the rest of the path (SPEC: Prefix
 * targets). */
typedef enum {
    EX_STAR_NONE,               /* no '*': the rest is dropped */
    EX_STAR_BARE,               /* '*' after '/': the rest without its '/' */
    EX_STAR_SLASH               /* '*' after anything else: with its '/' */
} ex_star;

/* One rule as it answers.  Strings live in the export's pool. */
typedef struct {
    rr_rule_info info;          /* source, query, host... (engine's view) */
    const char *origin;         /* "FILE:LINE" */
    int table;                  /* its table's index in the set */
    size_t klen;                /* strlen(info.source): the key */
    unsigned depth;             /* '/' in the key: a prefix's segments */
    int status;                 /* the rule's, or --default */
    const char *target;         /* as answered (collapsed), NULL for 410 */
    size_t tlen;
    size_t main_len;            /* target up to its '?' or '#' */
    size_t query_end;           /* target up to its '#' */
    int is_path;                /* a /path target: on the request's host */
    ex_star star;
    ex_args args;
    const char *sep;            /* "?", "&" or "": before what follows */
    int self;                   /* the target is the source in another
                                   spelling: a request spelled as the
                                   target is left alone (self_path) */
    const char *self_path;      /* decoded target path (a prefix rule's
                                   base, with its '/') */
    size_t self_len;
    const char *self_query;     /* an exact rule's target query, or NULL */
    int regex_only;             /* set by ex_plan(): needs a pattern
                                   (not a plain path key) */
    int dropped;                /* reported as not exported */
    apr_array_header_t *blockers;   /* const ex_rule *: case-sensitive
                                       twins whose own target stops the
                                       engine before this nocase rule, or
                                       NULL (set by ex_plan()) */
} ex_rule;

/* The export run. */
typedef struct {
    apr_pool_t *p;
    const cli_args *a;
    apr_array_header_t *rules;  /* ex_rule, in the order httpd consults
                                   tables, file order within each */
    const char *const *ignore;  /* ignored parameter names, "NAME" or
                                   "NAME*", NULL-terminated */
    int not_exported;           /* rules reported as not exported */
    int exported;               /* rules written */
} ex_ctx;

/* "FILE:LINE: not exported: why" on stderr; counts the rule. */
void ex_skip(ex_ctx *x, const ex_rule *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "FILE:LINE: note: ..." on stderr: a remark that loses nothing. */
void ex_note(const ex_rule *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes `len` bytes to `path` ("-": stdout); 0 and a message on
 * failure. */
int ex_write_file(apr_pool_t *p, const char *path, const char *text,
                  size_t len);

/* s[0..n) with valid %XX escapes decoded, as the engine compares
 * sources and parameters, into `out` (n bytes at least); returns the
 * decoded length. */
size_t ex_decode(const char *s, size_t n, char *out);

/* ---- a growing string ------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    char *s;
    size_t len, cap;
} ex_buf;

void ex_buf_init(ex_buf *b, apr_pool_t *p);
void ex_add(ex_buf *b, const char *s, size_t n);
void ex_adds(ex_buf *b, const char *s);
void ex_addc(ex_buf *b, char c);
void ex_addf(ex_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The text so far, NUL-terminated, in the buffer's pool. */
const char *ex_text(ex_buf *b);

/* The statuses a rule answers with, in the order outputs list them. */
#define EX_STATUSES 6
extern const int ex_statuses[EX_STATUSES];

/* The index of `status` in ex_statuses. */
int ex_status_slot(int status);

/* The input files, blank-separated, for comments naming them. */
const char *ex_inputs(ex_ctx *x);

/* ---- which rules go where ------------------------------------------- */

/* The rules `include(r)` picks, as pointers, in the order their
 * patterns must be tried so that the first match is the rule httpd
 * answers with: host groups first (exact host with the request's
 * scheme, then any scheme, then wildcards, longest first), hostless
 * last; within a group query, then exact (case-sensitive first), then
 * prefix rules, longest first. */
typedef int ex_pick_fn(const ex_rule *r);
apr_array_header_t *ex_ordered(ex_ctx *x, ex_pick_fn *include);

/* Sets regex_only on hostless exact rules that a plain key cannot
 * answer: qsnone, self, a fragment in the target, or another exact rule
 * whose key differs only in case (nginx map keys ignore case), and the
 * blockers of nocase exact rules.  `fragment_ok`: the format assembles
 * fragments itself. */
void ex_plan(ex_ctx *x, int fragment_ok);

/* Reports the rules no pattern can express (ex_pattern_unsupported())
 * as not exported and marks them dropped. */
void ex_drop_unsupported(ex_ctx *x);

/* ---- patterns (export_re.c) ------------------------------------------ */

/* Every pattern is matched against the request as one string,
 *     ARGS " " SCHEME "://" HOST PATH
 * with ARGS the raw query ("" without one), HOST lower-case without a
 * port, PATH decoded and normalised (httpd's r->uri).  A raw query never
 * holds a space, so the first space ends it.  In a prefix pattern the
 * group named r307_r (group 1) captures the rest below the prefix with
 * its '/', r307_s the same without it; every other group is
 * non-capturing. */
const char *ex_pattern(ex_ctx *x, const ex_rule *r);

/* Why no pattern can match as the rule does, or NULL. */
const char *ex_pattern_unsupported(ex_ctx *x, const ex_rule *r);

/* A pattern matching one ignored parameter (a whole "name[=value]"),
 * followed by `end` (a lookahead body: what may follow a parameter),
 * or NULL without ignored parameters. */
const char *ex_ignored_param(ex_ctx *x, const char *end);

/* Appends s[0..n) as a PCRE literal: letters and digits as they are,
 * every other byte as \xHH. */
void ex_re_literal(ex_buf *b, const char *s, size_t n);

/* ---- the formats ----------------------------------------------------- */

/* Each writes the export (stdout and --map-out files) and returns 1, or
 * 0 if it could not write. */
int export_nginx(ex_ctx *x);
int export_haproxy(ex_ctx *x);
int export_csv(ex_ctx *x);

#endif /* EXPORT_H */
