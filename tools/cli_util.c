/*
 * cli_util.c - helpers every part of the redirect307 tool shares: the
 * status set, hex digits, reading whole files, lines and messages.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_file_io.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"

/* Room read at first; doubled as a file turns out bigger. */
#define READ_CHUNK 65536

const char cli_hex_digits[16] = {
    '0', '1', '2', '3', '4', '5', '6', '7',
    '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'
};

void cli_say(const char *fmt, ...)
{
    va_list ap;
    fputs("redirect307: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *cli_plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int cli_status_ok(int st, int allow_410)
{
    return st == 301 || st == 302 || st == 303 || st == 307 || st == 308
           || (allow_410 && st == 410);
}

int cli_parse_status(const char *s, int allow_410)
{
    size_t i;
    int st = 0;
    for (i = 0; s[i]; i++) {
        if (!apr_isdigit(s[i]) || i >= 3)
            return 0;
        st = st * 10 + (s[i] - '0');
    }
    return i == 3 && cli_status_ok(st, allow_410) ? st : 0;
}

int cli_hex_value(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static apr_status_t free_buffer(void *b)
{
    free(b);
    return APR_SUCCESS;
}

/* Reads `f` to its end into a malloc'ed buffer with room for a NUL:
 * stdin has no size to ask for, so the buffer grows as it fills. */
static apr_status_t read_to_end(apr_file_t *f, char **buf, size_t *len)
{
    size_t cap = READ_CHUNK, n = 0;
    char *b = malloc(cap);
    apr_status_t rv = b ? APR_SUCCESS : APR_ENOMEM;
    while (rv == APR_SUCCESS) {
        apr_size_t got = 0;
        if (cap - n == 1) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                rv = APR_ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        rv = apr_file_read_full(f, b + n, cap - n - 1, &got);
        n += got;
    }
    if (rv != APR_EOF) {
        free(b);
        return rv;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return APR_SUCCESS;
}

int cli_read_file(apr_pool_t *p, const char *path, char **buf, size_t *len)
{
    apr_file_t *f;
    apr_status_t rv;
    char err[256];
    int is_stdin = !strcmp(path, "-");

    rv = is_stdin ? apr_file_open_stdin(&f, p)
                  : apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        cli_say("%s: cannot open: %s", path, apr_strerror(rv, err,
                                                          sizeof(err)));
        return 0;
    }
    rv = read_to_end(f, buf, len);
    if (!is_stdin)
        apr_file_close(f);
    if (rv != APR_SUCCESS) {
        cli_say("%s: cannot read: %s", path, rv == APR_ENOMEM ? "no memory"
                : apr_strerror(rv, err, sizeof(err)));
        return 0;
    }
    apr_pool_cleanup_register(p, *buf, free_buffer, apr_pool_cleanup_null);
    return 1;
}

char *cli_next_line(char **s, const char *end)
{
    char *line = *s, *nl;
    size_t n;
    if (line >= end)
        return NULL;
    nl = memchr(line, '\n', (size_t)(end - line));
    n = nl ? (size_t)(nl - line) : (size_t)(end - line);
    *s = line + n + (nl ? 1 : 0);
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return line;
}

char *cli_trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

void cli_each_line(apr_pool_t *p, char *buf, size_t len, cli_line_fn *fn,
                   void *ctx)
{
    char *s = buf, *line;
    unsigned n = 0;
    apr_pool_t *iter;
    apr_pool_create(&iter, p);
    while ((line = cli_next_line(&s, buf + len))) {
        n++;
        line = cli_trim(line);
        if (!*line || *line == '#')
            continue;
        fn(ctx, iter, n, line);
        apr_pool_clear(iter);
    }
    apr_pool_destroy(iter);
}
