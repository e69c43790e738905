/*
 * rewrite_pattern.h - reading a mod_rewrite RewriteRule pattern made of
 * whole segments as a path pattern (import_rewrite.c writes it as a
 * pattern rule).
 *
 * What converts: a pattern anchored with '^' and '$' whose segments are
 * each literal, or one capture group with optional literal text around
 * it in the segment ("^/blog/([0-9]+)/([^/]+)\.html$"), optionally ended
 * as the literal shapes are: "/?$", "/(.*)$", "/(.+)$", "(/.*)?$",
 * "(/.*)$" (the rest, carried).  A group is exactly one character class
 * and '+' (or '+?'): "[...]" (ranges, "[:alpha:]"-style classes,
 * negation), "\d" or "\w", and the class must not match '/', so the
 * group stays inside its segment however PCRE backtracks.  Anything else
 * ('.', '*', '?', '{m,n}', alternatives, nested or non-capturing groups,
 * two groups in a segment) is not a pattern.
 *
 * A class that matches fewer bytes than "[^/]" makes the placeholder
 * broader than the regex: it also answers segments the regex refuses.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef REWRITE_PATTERN_H
#define REWRITE_PATTERN_H

#include "apr_pools.h"

#include "path_pattern.h"

/* How a pattern ends (as rw_shape in import_rewrite.c). */
typedef enum {
    RWP_EXACT,          /* ...$ */
    RWP_EXACT_SLASH,    /* .../?$ */
    RWP_BELOW,          /* .../(.*)$: the rest after the '/' */
    RWP_REST            /* ...(/.*)?$: the rest with its '/' */
} rwp_end;

typedef struct {
    pp_path *path;      /* full URL-path (a per-directory base included) */
    rwp_end end;
    int not_itself;     /* "(.+)$" or "(/.*)$": the path itself is not
                           matched */
    int groups;         /* capture groups, the rest's included */
    int rest_group;     /* the group of the rest, 0: none */
    const char *narrow[PP_MAX_CAPTURES + 1];    /* [k]: group k as written
                                   if its class matches fewer bytes than
                                   "[^/]", else NULL */
    int dot_any;        /* an unescaped '.' of a literal was taken as
                           itself */
    const char *sample; /* a path the regex matches, its captures each one
                           byte of their class */
    int specific;       /* the pattern has segment groups: its "why" says
                           more than "a regular expression" */
} rwp_pattern;

/* Does some group of a match fewer bytes than "[^/]" (the rule then
 * answers more than the regex)? */
int rwp_is_narrow(const rwp_pattern *a);

/* Reads `regex` (without a leading '!') for a context whose
 * per-directory base is `base` (NULL: server context, where patterns see
 * the URL-path with its '/'); `nocase` for [NC].  Returns why it is no
 * such pattern, or NULL with *out filled in, in p. */
const char *rwp_parse(apr_pool_t *p, const char *regex, const char *base,
                      int nocase, rwp_pattern *out);

#endif /* REWRITE_PATTERN_H */
