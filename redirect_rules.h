/*
 * redirect_rules.h - the mod_redirect307 rules engine.
 *
 * Plain C on APR, no httpd headers: httpd, the redirect307 CLI, the unit
 * tests and the benchmarks all link this engine alone.
 *
 * Life cycle:
 *   rr_builder_create()  -> rr_builder_add_*()  (parse; errors carry FILE:LINE)
 *   rr_builder_freeze()  -> rr_table            (immutable, one per source)
 *   rr_set_create() + rr_set_add()              (the tables one server uses,
 *                                                own first, inherited after)
 *   rr_set_check()                              (duplicates across tables,
 *                                                chains, loops; once, at
 *                                                configuration time)
 *   rr_set_lookup() + rr_match_location()       (request time: no lock, no
 *                                                allocation but the answer)
 *
 * Diagnostics are values: entries with a kind, the FILE:LINE places
 * involved and a message "FILE:LINE: reason", pushed onto the caller's
 * rr_diag in its pool.  Nothing here prints, exits or aborts.
 *
 * Where the code lives: redirect_rules.c (sets, lookup, Location: the
 * request path), engine/rr_parse.c (reading and parsing rules),
 * engine/rr_freeze.c (freezing and reading a table), engine/rr_dump.c
 * (tables back to text), engine/rr_check.c (duplicates across tables,
 * chains, loops, collapse, shadowed patterns), engine/rr_pattern.c
 * (pattern rules), engine/rr_diag.c (diagnostics), and
 * engine/rr_internal.h (the record layout and hashing they share).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef REDIRECT_RULES_H
#define REDIRECT_RULES_H

#include <stddef.h>
#include <stdint.h>
#include "apr_pools.h"
#include "apr_tables.h"
#include "apr_time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest rules-file line, not counting its line end. */
#define RR_MAX_LINE 8192

/* Deepest prefix rule, in segments (a rule for everything below /a/b has 2). */
#define RR_MAX_PREFIX_DEPTH 255

/* Most parameters a query rule may have; requests with more never match one. */
#define RR_MAX_QUERY_PARAMS 32

/* Per-rule flags (rr_rule_info.flags). */
#define RR_FLAG_NOCASE   0x01u
#define RR_FLAG_QSDROP   0x02u
#define RR_FLAG_QSAPPEND 0x04u
#define RR_FLAG_QSNONE   0x08u   /* only requests without parameters */

/* Rule kinds (rr_rule_info.kind). */
typedef enum {
    RR_KIND_EXACT = 0,
    RR_KIND_PREFIX = 1,
    RR_KIND_QUERY = 2
} rr_kind;

/* How rr_set_check() treats chains (SPEC: Redirect307Chains). */
typedef enum {
    RR_CHAINS_WARN = 0,
    RR_CHAINS_COLLAPSE = 1,
    RR_CHAINS_OFF = 2
} rr_chains_mode;

/* Table-wide matching options, fixed when the builder is created. */
typedef struct {
    int case_insensitive;   /* Redirect307MatchCase Off: every rule is nocase */
    int trailing_strict;    /* Redirect307TrailingSlash Strict: /a != /a/ */
} rr_options;

/* What a diagnostic is about.  The severity follows from the kind
 * (rr_diag_is_error); programs branch on kinds and places, never on the
 * wording of a message. */
typedef enum {
    RR_DIAG_ERROR = 0,      /* malformed line, unreadable file, no memory */
    RR_DIAG_DUPLICATE,      /* a source defined again: the later line is
                               ignored (warning) */
    RR_DIAG_CHAIN,          /* a redirect chain (warning) */
    RR_DIAG_UNCOLLAPSED,    /* a chain Collapse cannot shorten because its
                               first rule carries the path (warning) */
    RR_DIAG_LOOP,           /* a redirect loop (error) */
    RR_DIAG_UNMATCHABLE,    /* a query rule names an ignored parameter,
                               so no request can match it (warning) */
    RR_DIAG_EXPIRED,        /* a rule whose until= has passed (warning) */
    RR_DIAG_REDUNDANT,      /* a rule another answers the same way:
                               removing it changes nothing (warning) */
    RR_DIAG_SHADOWED,       /* a pattern rule that never answers: a
                               literal prefix rule or a pattern rule that
                               wins covers every path it matches
                               (warning) */
    RR_DIAG_KINDS           /* number of kinds */
} rr_diag_kind;

/* A place a diagnostic involves.  `line` is 0 for a whole file (an
 * unreadable one); `file` is NULL when no file is involved. */
typedef struct {
    const char *file;
    unsigned line;
} rr_diag_place;

/* One diagnostic.  places[0] is where it is reported; a duplicate then
 * names the first definition, a chain or loop every rule on it in order
 * (a loop ends where it started).  Everything lives in the diag's pool. */
typedef struct {
    rr_diag_kind kind;
    const char *message;            /* "FILE:LINE: reason", as logged */
    const rr_diag_place *places;
    int nplaces;
} rr_diag_entry;

/* Where diagnostics go.  A NULL rr_diag is allowed everywhere:
 * diagnostics are then dropped. */
typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *entries;    /* rr_diag_entry, in the order found */
    int errors;                     /* entries kept that are errors */
    int warnings;                   /* entries kept that are warnings */
    int dropped;                    /* entries past the caps, not kept */
    unsigned found[RR_DIAG_KINDS];  /* found per kind, dropped included */
    int max_errors;                 /* keep at most this many errors, and
                                       50 times as many warnings (0: 20) */
} rr_diag;

/* Creates an empty diag in `pool`. */
rr_diag *rr_diag_create(apr_pool_t *pool);

/* 1 for the kinds that stop a configuration (ERROR, LOOP), else 0. */
int rr_diag_is_error(rr_diag_kind kind);

/* A stable lower-case name for a kind ("error", "duplicate", "chain",
 * "uncollapsed", "loop", "unmatchable", "expired", "redundant",
 * "shadowed"), for JSON
 * and logs. */
const char *rr_diag_kind_name(rr_diag_kind kind);

/* The i-th entry (0 <= i < d->entries->nelts). */
const rr_diag_entry *rr_diag_get(const rr_diag *d, int i);

/* The messages of every error (errors != 0) or every warning, in order,
 * copied into `pool`: an array of const char *. */
apr_array_header_t *rr_diag_messages(const rr_diag *d, int errors,
                                     apr_pool_t *pool);

typedef struct rr_builder rr_builder;
typedef struct rr_table rr_table;
typedef struct rr_set rr_set;

/* A lookup result.  Valid as long as the set's tables are. */
typedef struct {
    const rr_set *set;
    const rr_table *table;
    uint32_t rule;          /* rule index within table */
    uint32_t tail;          /* offset in the request path where a prefix
                               rule's carried rest starts (past the '/') */
} rr_match;

/* What a rule says, for display, the CLI and the status page. */
typedef struct {
    rr_kind kind;
    unsigned flags;         /* RR_FLAG_* */
    int status;             /* 301..308, 410, or 0: "use the default" */
    const char *source;     /* normalised (decoded) path, NUL-terminated
                               copy in the caller's pool; a pattern
                               rule's with its placeholders as ":name" */
    int pattern;            /* a pattern rule (named segments) */
    const char *written;    /* the decoded path as the rules file wrote it
                               (without a prefix rule's slash-star) when
                               normalising changed it (case folded for
                               nocase, trailing slashes trimmed), else
                               NULL; for display */
    const char *query;      /* normalised query or NULL */
    const char *host;       /* a host rule's host ("*.example.com" for a
                               wildcard), or NULL */
    const char *scheme;     /* "http" or "https" for a host rule written
                               with one, else NULL */
    const char *target;     /* as stored (non-ASCII escaped), NULL for 410 */
    const char *file;
    unsigned line;
    apr_time_t from;        /* from= of the rule's window, or 0 */
    apr_time_t until;       /* until= of the rule's window, or 0: none */
} rr_rule_info;

/* Figures for one table. */
typedef struct {
    uint32_t rules;
    uint32_t exact, prefix, query;
    uint32_t pattern;       /* pattern rules (not counted in exact or
                               prefix above) */
    uint32_t host;          /* rules naming a host (of any kind above) */
    uint32_t by_status[7];  /* 0 (default), 301, 302, 303, 307, 308, 410 */
    uint32_t slots;         /* hash slots allocated */
    size_t text_bytes;      /* source + target bytes of all rules */
    size_t bytes;           /* total memory held by the table */
} rr_stats;

/* ---- building ------------------------------------------------------ */

/* Creates an empty builder.  Scratch memory lives in a subpool of `pool`
 * that rr_builder_freeze() (or destroying `pool`) releases. */
rr_builder *rr_builder_create(apr_pool_t *pool, const rr_options *opt);

/* Parses a whole rules file held in memory; `name` is what messages and
 * origins call it.  Every malformed line is an error "name:LINE: reason";
 * parsing goes on to report further errors (up to diag->max_errors).
 * Returns APR_SUCCESS or APR_EINVAL (at least one error). */
apr_status_t rr_builder_add_buffer(rr_builder *b, const char *name,
                                   const char *buf, size_t len, rr_diag *d);

/* Reads and parses the file at `path` (messages name it `path`).
 * An unreadable file is an error "path: reason".  Returns as above. */
apr_status_t rr_builder_add_file(rr_builder *b, const char *path,
                                 rr_diag *d);

/* Parses one rule written as a rules-file line (no comments needed),
 * e.g. from an inline "Redirect307" directive at file:line. */
apr_status_t rr_builder_add_line(rr_builder *b, const char *file,
                                 unsigned line, const char *text,
                                 size_t len, rr_diag *d);

/* Number of rules added so far. */
uint32_t rr_builder_count(const rr_builder *b);

/* Freezes the builder into an immutable table allocated in `pool`, which
 * must live as long as the table is used.  A source defined twice is a
 * warning naming both places; the first wins.  The builder is spent
 * afterwards.  Returns NULL only if the builder recorded parse errors. */
rr_table *rr_builder_freeze(rr_builder *b, apr_pool_t *pool, rr_diag *d);

/* Convenience: builder + add_file + freeze.  NULL on error. */
rr_table *rr_table_load_file(apr_pool_t *pool, const char *path,
                             const rr_options *opt, rr_diag *d);

/* ---- reading a table ----------------------------------------------- */

uint32_t rr_table_count(const rr_table *t);
void rr_table_stats(const rr_table *t, rr_stats *st);
const rr_options *rr_table_options(const rr_table *t);

/* Describes live rule `i` (0 <= i < count); strings copied into `pool`.
 * O(1) in a table without duplicate sources, O(records) otherwise: to walk
 * a whole table use rr_table_record(). */
void rr_table_rule(const rr_table *t, uint32_t i, apr_pool_t *pool,
                   rr_rule_info *info);

/* Records are every rule line kept, in file order, duplicates included:
 * the index space of rr_match_index(), for per-rule counters. */
uint32_t rr_table_records(const rr_table *t);

/* Describes record `idx` (0 <= idx < records) unless `info` is NULL.
 * Returns 1 for a live rule, 0 for a duplicate source that never answers. */
int rr_table_record(const rr_table *t, uint32_t idx, apr_pool_t *pool,
                    rr_rule_info *info);

/* Writes the table back as rules-file text (one line per rule, sources
 * percent-encoded where needed) that parses to the same answers. */
const char *rr_table_dump(const rr_table *t, apr_pool_t *pool);

/* ---- times (rule windows: from=TIME, until=TIME) -------------------- */

/* Parses ISO 8601 as rules files write it: 2026-12-01, 2026-12-01T09:30,
 * 2026-12-01T09:30:00Z, 2026-12-01T09:30:00+01:00 (UTC unless an offset
 * is given; a date alone is its 00:00).  Returns 1 and sets *t, or 0. */
int rr_time_parse(const char *s, size_t n, apr_time_t *t);

/* t as 2026-12-01T09:30:00Z, in `pool`. */
const char *rr_time_format(apr_pool_t *pool, apr_time_t t);

/* ---- ignored parameters --------------------------------------------- */

/* The request parameters left out when query rules are compared and
 * passed through to the Location (SPEC: Ignored parameters). */
typedef struct rr_ignore rr_ignore;

/* Longest parameter name (or NAME* prefix) an ignore list may hold. */
#define RR_MAX_IGNORE_NAME 64
/* Most names an ignore list may hold. */
#define RR_MAX_IGNORE 64

/* Builds an ignore list in `pool` from directive words: parameter names,
 * NAME* for every name starting with NAME, "default" for the built-in
 * list, "none" (alone) for an empty list.  On a bad word returns NULL and
 * sets *err to a reason in `pool`. */
rr_ignore *rr_ignore_parse(apr_pool_t *pool, int argc,
                           const char *const *argv, const char **err);

/* A copy of `ig` in `pool`. */
rr_ignore *rr_ignore_copy(apr_pool_t *pool, const rr_ignore *ig);

/* The names of a list as directive words, space-separated, in `pool`
 * ("none" for an empty list). */
const char *rr_ignore_text(const rr_ignore *ig, apr_pool_t *pool);

/* ---- sets: the tables one server consults -------------------------- */

/* A set of up to `max_tables` tables, consulted in the order added.
 * Tables added after rr_set_mark_inherited() come from an enclosing
 * server: the set's own rules win over them and rr_set_check() does not
 * warn about them again. */
rr_set *rr_set_create(apr_pool_t *pool, int max_tables);
void rr_set_add(rr_set *s, const rr_table *t);
void rr_set_mark_inherited(rr_set *s);
int rr_set_table_count(const rr_set *s);

/* The parameters the set's lookups and Locations ignore; NULL (the
 * default of a new set) ignores none.  httpd and the CLI set the
 * built-in list unless told otherwise.  Call before rr_set_check(). */
void rr_set_ignore(rr_set *s, const rr_ignore *ig);

/* Rule windows are evaluated at `now` instead of the current time (0:
 * the current time, the default).  For `--at` and tests; not for a set
 * that serves requests in several threads. */
void rr_set_clock(rr_set *s, apr_time_t now);

/* At most `max` threads for rr_set_check() (0, the default: one per core
 * for a set of 65,536 rules and more, none below).  1 where the check
 * runs while serving requests (a .htaccess map in a child): threads are
 * for configuration time. */
void rr_set_check_threads(rr_set *s, int max);
const rr_table *rr_set_table(const rr_set *s, int i);

/* Configuration-time analysis of the whole set:
 *  - a source in a later own table already defined by an earlier own
 *    table: warning naming both places (the earlier wins);
 *  - chains (a rule's target is another rule's source on this host: a
 *    path target, or an absolute target whose host matches one of
 *    `hosts`, apr_fnmatch patterns compared case-blind): a warning per
 *    chain naming every FILE:LINE on it (RR_CHAINS_WARN), or the first
 *    hop answered with the final target (RR_CHAINS_COLLAPSE);
 *  - loops: always an error naming every FILE:LINE on it.
 * `hosts` may be NULL.  Returns APR_SUCCESS or APR_EINVAL (a loop). */
apr_status_t rr_set_check(rr_set *s, const apr_array_header_t *hosts,
                          rr_chains_mode mode, rr_diag *d);

/* Exact rules of the set's own tables that another rule answers the same
 * way for every request (a prefix rule above them giving the same status
 * and Location with and without a query, or a nocase twin): a warning of
 * kind RR_DIAG_REDUNDANT naming both places each.  Not part of
 * rr_set_check(): it costs a prefix lookup per exact rule, which a server
 * start need not pay; `redirect307 check` runs it.  Call after
 * rr_set_check() succeeded. */
apr_status_t rr_set_find_redundant(const rr_set *s, rr_diag *d);

/* Request time.  `path` is the decoded, normalised path (httpd's r->uri),
 * `len` its length; `args` the raw query (r->args) or NULL.  Precedence:
 * query rule, then exact rule, then the longest prefix rule; within each,
 * own tables in order before inherited ones; then, only if no literal rule
 * answered, the pattern rule with the most literal segments (a mixed
 * segment counting half), then the earliest.  Fills *m and returns 1 on a
 * match, returns 0 otherwise.  O(len) plus one probe per path segment up
 * to the deepest prefix rule, plus O(len) and a probe per table for each
 * of the P pattern shapes that fit the path (nothing without pattern
 * rules); allocates nothing. */
int rr_set_lookup(const rr_set *s, const char *path, size_t len,
                  const char *args, rr_match *m);

/* As rr_set_lookup, for a request to `host` (a Host header value: any
 * case, a port and a trailing dot allowed; NULL: unknown) over `scheme`
 * ("http", "https" or NULL).  Rules naming that host are consulted first:
 * the exact host (rules written with the request's scheme, then those
 * for any scheme), then each matching wildcard, longest first, then the
 * hostless rules; each group with the usual precedence.  Costs one more
 * pass over the path for each group that has rules in the set. */
int rr_set_lookup_at(const rr_set *s, const char *scheme, const char *host,
                     const char *path, size_t len, const char *args,
                     rr_match *m);

/* The matched rule's record index in its table (see rr_table_records);
 * O(log rules). */
uint32_t rr_match_index(const rr_match *m);

/* The status to answer: the rule's own, or `default_status`. */
int rr_match_status(const rr_match *m, int default_status);

/* "FILE:LINE" of the matched rule, in `pool`. */
const char *rr_match_origin(const rr_match *m, apr_pool_t *pool);

/* Rule details of the match (see rr_table_rule). */
void rr_match_rule(const rr_match *m, apr_pool_t *pool, rr_rule_info *info);

/* Builds the Location for a match, in `pool`, or returns NULL for a 410.
 * `base` is "scheme://host[:port]" of the request, prepended to path
 * targets.  The result never holds a byte below 0x21, 0x7f, or a byte
 * above 0x7f: whatever the path, args or base held is percent-escaped.
 * `path`/`args` must be the ones given to rr_set_lookup().  Ignored
 * parameters of `args` (see rr_set_ignore) follow the target's own query
 * when the rule would otherwise drop the request's query, unless qsdrop. */
const char *rr_match_location(const rr_match *m, apr_pool_t *pool,
                              const char *path, const char *args,
                              const char *base);

/* As rr_match_location, with the base given in pieces that are joined
 * without an intermediate allocation: e.g. {"https", "://", host, ":8443",
 * NULL}.  NULL or an empty list leaves path targets as paths. */
const char *rr_match_location_parts(const rr_match *m, apr_pool_t *pool,
                                    const char *path, const char *args,
                                    const char *const *base_parts);

/* Length of the well-formed UTF-8 sequence at s[0..n): 1 for ASCII, 2-4
 * for a valid multi-byte sequence (no overlong forms, surrogates or code
 * points past U+10FFFF), 0 for none.  The one UTF-8 check of the engine,
 * the CLI and the glue. */
size_t rr_utf8_len(const char *s, size_t n);

/* Percent-escapes bytes of `s` (length len) that may not stand raw in a
 * URL path: controls, space, DEL, non-ASCII, and "#%?<>\"\\^`{|}". */
const char *rr_escape_path(apr_pool_t *pool, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* REDIRECT_RULES_H */
