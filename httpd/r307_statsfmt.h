/*
 * r307_statsfmt.h - the stats file format (Redirect307StatsFile) and the
 * key that names a rule in it.  Plain C on APR and the engine's header:
 * httpd (httpd/r307_statsfile.c) writes and reads the file, the CLI
 * (tools/cmd_prune.c) reads it, and both must name a rule the same way.
 *
 * The file, UTF-8 text (in fact ASCII), one record a line:
 *
 *   redirect307-stats 1 since=1767225600
 *   HITS<TAB>LAST<TAB>KEY
 *   ...
 *
 * HITS is the number of requests the rule answered, LAST the time of the
 * last one in seconds since the epoch; only rules hit at least once have
 * a line.  `since` is when the history began (the server that first wrote
 * the file started counting); a reader ignores header fields it does not
 * know.  Lines are sorted by KEY; a writer never writes a line with HITS 0.
 *
 * KEY is a rule's identity as written in a rules file, so that editing
 * other lines, moving the rule to another file or changing its target,
 * status or flags keeps its history:
 *
 *   [//HOST | http://HOST | https://HOST] PATH [/STAR] [?PARAM&PARAM...]
 *
 * PATH is the source path percent-decoded, as written (case and trailing
 * slashes kept, so that the key does not depend on Redirect307MatchCase
 * or Redirect307TrailingSlash, which the CLI may not know); a slash-star
 * (written /STAR above) marks a prefix rule; a query rule's parameters are each percent-decoded and
 * sorted, so a reordered or re-encoded query keeps its history.  In PATH
 * and HOST every byte below 0x21, 0x7f, every byte above 0x7f and
 * "%", "?", "#", "*" (a literal star, not the prefix mark) are written
 * %XX; in a parameter "&" is too.  A KEY thus holds no blank, no tab and
 * no line end, and two rules have the same KEY only if they match the
 * same requests on the same hosts.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef R307_STATSFMT_H
#define R307_STATSFMT_H

#include "apr_hash.h"
#include "apr_pools.h"

#include "redirect_rules.h"

#define R307_STATS_MAGIC   "redirect307-stats"
#define R307_STATS_VERSION 1

/* One rule's history. */
typedef struct {
    apr_uint64_t hits;
    apr_uint64_t last;          /* seconds since the epoch; 0: never hit */
} r307_stats_val;

/* A whole stats file in memory. */
typedef struct {
    apr_pool_t *pool;
    apr_hash_t *keys;           /* const char * -> r307_stats_val * */
    apr_uint64_t since;         /* seconds; 0: not known */
} r307_stats;

/* What r307_stats_parse() found wrong. */
typedef struct {
    unsigned bad_lines;         /* data lines skipped */
    unsigned first_bad;         /* line number of the first, 1-based */
    const char *why;            /* its reason, or the header's */
} r307_stats_errors;

/* An empty history in `pool`. */
r307_stats *r307_stats_make(apr_pool_t *pool);

/* The KEY of a rule (see above), in `pool`.  O(length of the source). */
const char *r307_stats_key(apr_pool_t *pool, const rr_rule_info *in);

/* Adds `hits` to KEY's count and keeps the later of `last` and its last
 * hit (a rule counted by several tables, or several servers, sums).  The
 * key is copied into st->pool when new.  O(1). */
void r307_stats_add(r307_stats *st, const char *key, apr_uint64_t hits,
                    apr_uint64_t last);

/* KEY's history, or NULL. */
r307_stats_val *r307_stats_get(const r307_stats *st, const char *key);

/* Reads the text of a stats file (len bytes; need not be NUL-terminated)
 * into `st`, adding as r307_stats_add() does.  A line that is not
 * HITS TAB LAST TAB KEY (a CR before its LF allowed) is skipped and
 * counted in *e.  Returns APR_SUCCESS, or APR_EINVAL when the first line
 * is not "redirect307-stats 1 ..." (e->why says why; nothing is read).
 * An empty buffer is an empty history.  O(len). */
apr_status_t r307_stats_parse(r307_stats *st, const char *buf,
                              apr_size_t len, r307_stats_errors *e);

/* The file's text: the header, then one line per key with HITS > 0,
 * sorted by key, in `pool`; *len is its length.  O(n log n). */
const char *r307_stats_text(const r307_stats *st, apr_pool_t *pool,
                            apr_size_t *len);

#endif /* R307_STATSFMT_H */
