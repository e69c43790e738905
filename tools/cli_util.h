/*
 * cli_util.h - what every part of the redirect307 tool shares: exit
 * statuses, the set of statuses a rule may answer with, hex digits,
 * reading input files with bounded lines and splitting them into lines,
 * and messages that show hostile bytes escaped.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "apr_pools.h"
#include "apr_tables.h"

/* Exit statuses (see redirect307(1)): every command answers 1 for what
 * it found wrong in what it read, 2 when it could not do its job at all. */
#define EXIT_OK    0    /* success */
#define EXIT_FAIL  1    /* problems found: errors, failed expectations,
                           lines not converted, bad input lines */
#define EXIT_USAGE 2    /* bad usage, an unreadable file */

/* Longest line the tool reads from an input of its own (import inputs,
 * URL lists, expectations): far past any real configuration line, and
 * small enough that a line without an end cannot take the memory. */
#define CLI_MAX_LINE (1024 * 1024)

/* The status of a rule that gives none (Redirect307Default's default). */
#define CLI_DEFAULT_STATUS 307

/* Upper-case hex digits, for percent-escapes. */
extern const char cli_hex_digits[16];

/* Prints "redirect307: MESSAGE" and a newline on stderr, MESSAGE shown
 * as cli_put_visible() does. */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Length of the well-formed UTF-8 sequence at s[0..n) (no overlong
 * form, surrogate or code point past U+10FFFF), 0 if there is none. */
size_t cli_utf8_len(const unsigned char *s, size_t n);

/* Writes s[0..n) to f with every byte that could act on a terminal or
 * hide from the reader spelt \xNN: C0 controls (tab and line ends
 * included), DEL, bytes that are no well-formed UTF-8, C1 controls
 * (U+0080..U+009F) and the invisible U+FEFF (a byte order mark); a
 * backslash is written "\\" so that the spelling stays unambiguous. */
void cli_put_visible(FILE *f, const char *s, size_t n);

/* s (NUL-terminated) as cli_put_visible() writes it, in `p`. */
const char *cli_visible(apr_pool_t *p, const char *s);

/* Formats `fmt` and writes the result to f as cli_put_visible() does. */
void cli_vprint_visible(FILE *f, const char *fmt, va_list ap);
void cli_print_visible(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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

/* A line cli_read_text() left out, and why. */
typedef struct {
    unsigned line;
    const char *why;
} cli_refused;

/* An input read by cli_read_text(). */
typedef struct {
    char *buf;                  /* NUL-terminated, writable */
    size_t len;                 /* excluding the NUL */
    apr_array_header_t *refused;    /* cli_refused, in line order */
    const char *error;          /* on failure: "PATH: cannot open: why" */
} cli_text;

/* cli_read_text() flags. */
#define CLI_TEXT_RAW 0x01u      /* for rules the engine will judge: keep a
                                   byte order mark and NUL bytes, and cut a
                                   long line only to max_line + 1 bytes, so
                                   that the engine still sees it too long */
#define CLI_TEXT_QUIET 0x02u    /* say nothing on failure: t->error says
                                   why */

/* Reads the whole file at `path` ("-": stdin) into memory that lives as
 * long as `p`.  A line longer than `max_line` bytes is never held whole
 * (memory stays bounded whatever the input); without CLI_TEXT_RAW such a
 * line and a line holding a NUL byte are refused: their bytes are left
 * out (the line stays, empty, so that later lines keep their numbers)
 * and listed in t->refused, and a UTF-8 byte order mark at the start is
 * skipped.  On failure sets t->error to "PATH: cannot open|read: why",
 * says it on stderr (unless CLI_TEXT_QUIET) and returns 0; else 1. */
int cli_read_text(apr_pool_t *p, const char *path, size_t max_line,
                  unsigned flags, cli_text *t);

/* As cli_read_text(), for an input already in memory, data[0..n)
 * (copied): what the fuzzers feed the readers. */
int cli_text_from_memory(apr_pool_t *p, const char *data, size_t n,
                         size_t max_line, unsigned flags, cli_text *t);

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
