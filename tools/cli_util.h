/*
 * cli_util.h - what every part of the redirect307 tool shares: exit
 * statuses, the set of statuses a rule may answer with, hex digits,
 * reading files and splitting them into lines, and messages.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stddef.h>

#include "apr_pools.h"

/* Exit statuses (see redirect307(1)). */
#define EXIT_OK    0    /* success */
#define EXIT_FAIL  1    /* a validation failure */
#define EXIT_USAGE 2    /* bad usage, an unreadable file */

/* The status of a rule that gives none (Redirect307Default's default). */
#define CLI_DEFAULT_STATUS 307

/* Upper-case hex digits, for percent-escapes. */
extern const char cli_hex_digits[16];

/* Prints "redirect307: MESSAGE" and a newline on stderr. */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* `one` if n is 1, else `many`. */
const char *cli_plural(int n, const char *one, const char *many);

/* 1 if `st` is a redirect status a rule may carry (301 302 303 307 308),
 * or 410 when allow_410; else 0. */
int cli_status_ok(int st, int allow_410);

/* The status written in `s`, which must be exactly three digits and pass
 * cli_status_ok(); 0 otherwise. */
int cli_parse_status(const char *s, int allow_410);

/* The value of hex digit `c` (either case), or -1. */
int cli_hex_value(int c);

/* Reads the whole file at `path` ("-": stdin) into memory that lives as
 * long as `p`, NUL-terminated; *len excludes the NUL.  On failure says
 * "PATH: cannot open|read: why" on stderr and returns 0; else 1. */
int cli_read_file(apr_pool_t *p, const char *path, char **buf, size_t *len);

/* Splits the next line off *s (end of the buffer at `end`), ending at LF
 * or CRLF: the line end is replaced by a NUL.  NULL past the end. */
char *cli_next_line(char **s, const char *end);

/* Cuts blanks (space, tab) off both ends of `s`, in place. */
char *cli_trim(char *s);

/* Called for one line of a line-oriented input: `n` is its 1-based
 * number, `line` trimmed and writable; `iter` is cleared after the call. */
typedef void cli_line_fn(void *ctx, apr_pool_t *iter, unsigned n,
                         char *line);

/* Calls `fn` for each line of buf[0..len) that is neither blank nor a
 * comment (first non-blank byte '#'), in order. */
void cli_each_line(apr_pool_t *p, char *buf, size_t len, cli_line_fn *fn,
                   void *ctx);

#endif /* CLI_UTIL_H */
