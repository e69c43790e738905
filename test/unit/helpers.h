/*
 * helpers.h - shared fixtures for the rules-engine unit tests.
 *
 * Every test runs with a fresh APR pool `tp` (created by the checked fixture
 * that unit_tcase() installs, destroyed after the test, pass or fail), so
 * nothing a test allocates outlives it.  The lookup helpers turn an answer
 * into "STATUS LOCATION" (or "STATUS" for a 410, or "no match") so that
 * tables of cases read like the spec.
 */
#ifndef UNIT_HELPERS_H
#define UNIT_HELPERS_H

#include <check.h>
#include <string.h>
#include "apr_pools.h"
#include "apr_tables.h"
#include "apr_strings.h"
#include "redirect_rules.h"

/* The request's "scheme://host:port" given to rr_match_location(). */
#define BASE "http://example.com:8080"
/* Status the lookup helpers pass as the Redirect307Default in force. */
#define DEFAULT_STATUS 307

#define NELTS(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, NUL bytes included. */
#define LIT(s) s, (sizeof(s) - 1)

/* The per-test pool. */
extern apr_pool_t *tp;

/* A test case whose tests each get a fresh `tp`. */
TCase *unit_tcase(const char *name);

extern const rr_options opt_default;   /* MatchCase On, TrailingSlash Ignore */
extern const rr_options opt_nocase;    /* MatchCase Off */
extern const rr_options opt_strict;    /* TrailingSlash Strict */

/* ---- diagnostics ---- */
rr_diag *diag_new(void);
int diag_nerrors(const rr_diag *d);
int diag_nwarnings(const rr_diag *d);
const char *diag_error(const rr_diag *d, int i);
const char *diag_warning(const rr_diag *d, int i);
/* The i-th error (errors != 0) or warning entry, or fails the test. */
const rr_diag_entry *diag_entry(const rr_diag *d, int errors, int i);
/* The entry's places as "FILE:LINE FILE:LINE ...". */
const char *diag_places(const rr_diag_entry *e);
/* Every message of `d`, one per line, for failure output. */
const char *diag_dump(const rr_diag *d);

/* ---- building ---- */
/* Parses `text` as a file called `name` and freezes it; fails the test on
 * any parse error.  Warnings go to `d` (may be NULL). */
rr_table *table_from(const char *name, const char *text, size_t len,
                     const rr_options *opt, rr_diag *d);
/* A set holding `t` alone (no rr_set_check). */
rr_set *set_of(const rr_table *t);
/* table_from("rules.map", text) in a set of its own. */
rr_set *set_from(const char *text);
rr_set *set_from_opt(const char *text, const rr_options *opt);

/* Parses `text` expecting failure: returns the diag (errors asserted
 * non-empty, add_buffer's APR_EINVAL and freeze's NULL checked), or fails. */
rr_diag *parse_expect_errors(const char *name, const char *text, size_t len,
                             const rr_options *opt);

/* ---- asking ---- */
/* "STATUS LOCATION", "410" (no Location) or "no match"; base BASE, default
 * status DEFAULT_STATUS. */
const char *answer(const rr_set *s, const char *path, const char *args);
const char *answer_len(const rr_set *s, const char *path, size_t len,
                       const char *args);
/* As answer(), for a request to `host` over `scheme` (either NULL). */
const char *answer_at(const rr_set *s, const char *scheme, const char *host,
                      const char *path, const char *args);
/* set_from(text) ignoring the parameters named by `words` (directive
 * words separated by spaces: "default", "none", "utm_* ref", ...). */
rr_set *set_ignoring(const char *text, const char *words);

/* The rule that answered, or fails the test if none. */
rr_match lookup_or_fail(const rr_set *s, const char *path, const char *args);

typedef struct {
    const char *path;
    const char *args;
    const char *expect;     /* as answer() spells it */
} lookup_case;

/* Checks every case, then fails once listing all mismatches. */
void check_answers_at(const char *file, int line, const rr_set *s,
                      const lookup_case *c, size_t n);
#define check_answers(s, cases) \
    check_answers_at(__FILE__, __LINE__, (s), (cases), NELTS(cases))

/* ---- strings ---- */
/* `s` with bytes outside 0x20..0x7e shown as \xNN, for messages. */
const char *show(const char *s, size_t len);
const char *show0(const char *s);
int starts_with(const char *s, const char *prefix);
int contains(const char *s, const char *needle);
/* Offset of the first byte < 0x21, == 0x7f or >= 0x80 in `s`, or -1. */
long first_unsafe_byte(const char *s);
/* `n` copies of `unit` concatenated. */
char *repeat(const char *unit, size_t n);

/* ---- suites ---- */
Suite *parse_suite(void);
Suite *errors_suite(void);
Suite *duplicates_suite(void);
Suite *exact_suite(void);
Suite *prefix_suite(void);
Suite *query_suite(void);
Suite *case_suite(void);
Suite *trailing_suite(void);
Suite *encoding_suite(void);
Suite *location_suite(void);
Suite *chains_suite(void);
Suite *regressions_suite(void);
Suite *diag_suite(void);
Suite *ignore_suite(void);
Suite *hosts_suite(void);
Suite *windows_suite(void);
Suite *pattern_suite(void);
Suite *image_suite(void);
Suite *record_suite(void);

#endif /* UNIT_HELPERS_H */
