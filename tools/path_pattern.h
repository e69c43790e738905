/*
 * path_pattern.h - a URL-path pattern as the importers read it before
 * writing it as a pattern rule (SPEC: Pattern rules): segments, each
 * literal bytes or one capture with literal text around it, and whether
 * the rest of a longer path is carried.  Netlify's `:name` placeholders
 * and mod_rewrite's segment groups both become one.
 *
 * The questions the importers ask of two patterns (may a path match
 * both? does one match every path of the other?) are answered from the
 * literal bytes alone: a capture is taken to match any non-empty
 * segment text, which is exactly what the rule's placeholder matches.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef PATH_PATTERN_H
#define PATH_PATTERN_H

#include <stddef.h>

#include "apr_pools.h"

/* Placeholders a rule may have (SPEC: Pattern rules). */
#define PP_MAX_CAPTURES 8

/* One segment: literal `head` alone, or head, a capture, then tail. */
typedef struct {
    const char *head;           /* literal bytes (the whole segment of a
                                   literal one) */
    size_t head_len;
    const char *tail;           /* literal bytes after the capture (""
                                   if none; a capture's is never NULL) */
    size_t tail_len;
    int capture;                /* 0: literal; else the capture's number */
} pp_seg;

typedef struct {
    pp_seg *seg;
    int n;
    int prefix;                 /* longer paths match too (their rest is
                                   carried), and the path itself */
    int nocase;                 /* literals compare case-insensitively */
    int encoded;                /* literals are URL-encoded text (compared
                                   as written), not decoded bytes */
} pp_path;

/* Is c a byte of a placeholder's name (letters, digits, '_')? */
int pp_name_char(int c);

/* Splits a literal URL-path (its leading '/' included; "" or "/": the
 * root) into an all-literal pattern, in p. */
pp_path *pp_from_literal(apr_pool_t *p, const char *path, size_t len,
                         int prefix, int nocase, int encoded);

/* How many segments are wholly literal: what orders pattern rules. */
int pp_literal_segments(const pp_path *a);

/* Does a have a capture? */
int pp_has_capture(const pp_path *a);

/* May some path match both a and b?  A capture is taken to match any
 * non-empty text its head and tail allow, so the answer errs towards
 * "may".  The cost is one comparison per segment. */
int pp_meet(const pp_path *a, const pp_path *b);

/* Does a match every path b matches?  A capture of a is taken to match
 * any non-empty segment text; the answer errs towards "no". */
int pp_covers(const pp_path *a, const pp_path *b);

/* The SOURCE field of a pattern rule for a, its k-th capture written as
 * ":" names[k - 1], with `host` ("scheme://host", "//host" or "") before
 * it; NULL with *why where the rules format cannot say it (a name would
 * swallow the literal text after it). */
const char *pp_source(apr_pool_t *p, const pp_path *a,
                      const char *const *names, const char *host,
                      const char **why);

#endif /* PATH_PATTERN_H */
