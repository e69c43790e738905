/*
 * cli_util.c - helpers every part of the redirect307 tool shares: the
 * status set, hex digits, reading inputs with bounded lines, splitting
 * lines, and messages that show hostile bytes escaped.
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
#include "redirect_rules.h"

/* Bytes read at a time, and the room an input gets at first (doubled
 * as it turns out bigger). */
#define READ_CHUNK 65536

const char cli_hex_digits[16] = {
    '0', '1', '2', '3', '4', '5', '6', '7',
    '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'
};

/* ---- messages ------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 if none: the
 * engine's check, so that the CLI and httpd agree on what is UTF-8. */
size_t cli_utf8_len(const unsigned char *s, size_t n)
{
    return rr_utf8_len((const char *)s, n);
}

/* The code point of the well-formed sequence s[0..len). */
static unsigned long utf8_code_point(const unsigned char *s, size_t len)
{
    static const unsigned char lead_bits[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    unsigned long cp = s[0] & lead_bits[len];
    size_t k;
    for (k = 1; k < len; k++)
        cp = (cp << 6) | (s[k] & 0x3f);
    return cp;
}

/* Code points a terminal does not show as text: C1 controls, which some
 * terminals obey, and format characters that are invisible (zero-width
 * ones, the byte order mark) or reorder the text around them (bidi
 * controls, as in "Trojan Source"). */
static int is_hidden_code_point(unsigned long cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c
           || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e)
           || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

/* Renders the character at s[0..n) (n > 0) into out (at most 16 bytes)
 * as cli_put_visible() shows it; *used is how many bytes of s it took.
 * Returns the rendered length. */
static size_t visible_step(const unsigned char *s, size_t n, char *out,
                           size_t *used)
{
    size_t len = cli_utf8_len(s, n), k, o = 0;
    if (s[0] == '\\') {
        out[0] = out[1] = '\\';
        *used = 1;
        return 2;
    }
    if (len == 1 && s[0] >= 0x20 && s[0] != 0x7f) {
        out[0] = (char)s[0];
        *used = 1;
        return 1;
    }
    if (len > 1 && !is_hidden_code_point(utf8_code_point(s, len))) {
        memcpy(out, s, len);
        *used = len;
        return len;
    }
    if (len == 0)
        len = 1;
    for (k = 0; k < len; k++) {
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = cli_hex_digits[s[k] >> 4];
        out[o++] = cli_hex_digits[s[k] & 15];
    }
    *used = len;
    return o;
}

void cli_put_visible(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        char out[16];
        size_t used, o = visible_step(u + i, n - i, out, &used);
        fwrite(out, 1, o, f);
        i += used;
    }
}

const char *cli_visible(apr_pool_t *p, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;
    /* A byte becomes at most four ("\xNN"). */
    char *out = apr_palloc(p, n * 4 + 1);
    while (i < n) {
        size_t used;
        o += visible_step(u + i, n - i, out + o, &used);
        i += used;
    }
    out[o] = '\0';
    return out;
}

void cli_vprint_visible(FILE *f, const char *fmt, va_list ap)
{
    char small[1024], *text = small;
    va_list again;
    int n;
    va_copy(again, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= (int)sizeof(small) && (text = malloc((size_t)n + 1)))
        vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n < 0)
        return;
    if (!text) {
        text = small;
        n = sizeof(small) - 1;
    }
    cli_put_visible(f, text, (size_t)n);
    if (text != small)
        free(text);
}

void cli_print_visible(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vprint_visible(f, fmt, ap);
    va_end(ap);
}

void cli_say(const char *fmt, ...)
{
    va_list ap;
    fputs("redirect307: ", stderr);
    va_start(ap, fmt);
    cli_vprint_visible(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- statuses and hex -------------------------------------------------- */

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

/* ---- reading inputs ---------------------------------------------------- */

/* What spreadsheets and some editors put before UTF-8 text. */
static const char bom[] = "\xEF\xBB\xBF";
#define BOM_LEN (sizeof(bom) - 1)

/* An input being read: the bytes kept so far, and the line being read. */
typedef struct {
    apr_pool_t *p;
    size_t max_line;
    unsigned flags;
    char *b;                    /* malloc'ed, room for a final NUL */
    size_t len, cap;
    size_t line_start;          /* where the current line starts in b */
    size_t line_len;            /* its bytes so far, kept or not */
    unsigned line;              /* its number */
    int nul;                    /* it holds a NUL byte */
    apr_array_header_t *refused;
} text_reader;

static apr_status_t free_buffer(void *b)
{
    free(b);
    return APR_SUCCESS;
}

/* Makes room for `more` bytes and a NUL. */
static int reader_room(text_reader *tr, size_t more)
{
    size_t cap = tr->cap;
    char *nb;
    while (cap - tr->len <= more)
        cap *= 2;
    if (cap == tr->cap)
        return 1;
    if (!(nb = realloc(tr->b, cap)))
        return 0;
    tr->b = nb;
    tr->cap = cap;
    return 1;
}

/* The longest a line is kept: past it, its bytes are dropped as read. */
static size_t kept_max(const text_reader *tr)
{
    return tr->flags & CLI_TEXT_RAW ? tr->max_line + 1 : tr->max_line;
}

/* Adds s[0..n), bytes of the current line without its '\n'. */
static int reader_add(text_reader *tr, const char *s, size_t n)
{
    size_t limit = kept_max(tr);
    size_t keep = tr->line_len >= limit ? 0
                : n < limit - tr->line_len ? n : limit - tr->line_len;
    tr->nul |= memchr(s, '\0', n) != NULL;
    tr->line_len += n;
    if (!keep)
        return 1;
    if (!reader_room(tr, keep))
        return 0;
    memcpy(tr->b + tr->len, s, keep);
    tr->len += keep;
    return 1;
}

/* Ends the current line, refusing it if it must be. */
static void reader_end_line(text_reader *tr)
{
    const char *why = NULL;
    if (!(tr->flags & CLI_TEXT_RAW)) {
        if (tr->line_len > tr->max_line)
            why = apr_psprintf(tr->p, "line longer than %lu bytes",
                               (unsigned long)tr->max_line);
        else if (tr->nul)
            why = "NUL byte in the line (is this a text file?)";
    }
    if (why) {
        cli_refused *r = apr_array_push(tr->refused);
        r->line = tr->line;
        r->why = why;
        tr->len = tr->line_start;
    }
    tr->line++;
    tr->line_len = 0;
    tr->nul = 0;
}

/* Takes in data[0..n) as read. */
static int reader_feed(text_reader *tr, const char *data, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t seg = nl ? (size_t)(nl - data) : n;
        if (!reader_add(tr, data, seg))
            return 0;
        if (!nl)
            return 1;
        reader_end_line(tr);
        if (!reader_room(tr, 1))
            return 0;
        tr->b[tr->len++] = '\n';
        tr->line_start = tr->len;
        data += seg + 1;
        n -= seg + 1;
    }
    return 1;
}

/* Sets up a reader; 0 without memory. */
static int reader_init(text_reader *tr, apr_pool_t *p, size_t max_line,
                       unsigned flags)
{
    memset(tr, 0, sizeof(*tr));
    tr->p = p;
    tr->max_line = max_line;
    tr->flags = flags;
    tr->line = 1;
    tr->cap = READ_CHUNK;
    tr->refused = apr_array_make(p, 4, sizeof(cli_refused));
    return (tr->b = malloc(tr->cap)) != NULL;
}

/* Ends the input and hands it to *t, in memory that lives as long as the
 * reader's pool. */
static void reader_finish(text_reader *tr, cli_text *t)
{
    if (tr->line_len > 0)
        reader_end_line(tr);
    tr->b[tr->len] = '\0';
    apr_pool_cleanup_register(tr->p, tr->b, free_buffer,
                              apr_pool_cleanup_null);
    t->buf = tr->b;
    t->len = tr->len;
    t->refused = tr->refused;
    if (!(tr->flags & CLI_TEXT_RAW) && t->len >= BOM_LEN
        && !memcmp(t->buf, bom, BOM_LEN)) {
        t->buf += BOM_LEN;
        t->len -= BOM_LEN;
    }
}

/* Reads `f` to its end through the reader. */
static apr_status_t reader_run(text_reader *tr, apr_file_t *f)
{
    char chunk[READ_CHUNK];
    apr_status_t rv;
    for (;;) {
        apr_size_t got = sizeof(chunk);
        rv = apr_file_read(f, chunk, &got);
        if (rv == APR_SUCCESS && !reader_feed(tr, chunk, got))
            return APR_ENOMEM;
        if (rv != APR_SUCCESS)
            break;
    }
    return rv == APR_EOF ? APR_SUCCESS : rv;
}

/* Sets t->error, says it unless quiet, and returns 0. */
static int read_failed(cli_text *t, unsigned flags, const char *error)
{
    t->error = error;
    if (!(flags & CLI_TEXT_QUIET))
        cli_say("%s", error);
    return 0;
}

int cli_read_text(apr_pool_t *p, const char *path, size_t max_line,
                  unsigned flags, cli_text *t)
{
    apr_file_t *f;
    apr_status_t rv;
    char err[256];
    int is_stdin = !strcmp(path, "-");
    text_reader tr;

    memset(t, 0, sizeof(*t));
    rv = is_stdin ? apr_file_open_stdin(&f, p)
                  : apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return read_failed(t, flags, apr_psprintf(p, "%s: cannot open: %s",
                           path, apr_strerror(rv, err, sizeof(err))));
    rv = reader_init(&tr, p, max_line, flags) ? reader_run(&tr, f)
                                              : APR_ENOMEM;
    if (!is_stdin)
        apr_file_close(f);
    if (rv != APR_SUCCESS) {
        free(tr.b);
        return read_failed(t, flags, apr_psprintf(p, "%s: cannot read: %s",
                           path, rv == APR_ENOMEM ? "no memory"
                           : apr_strerror(rv, err, sizeof(err))));
    }
    reader_finish(&tr, t);
    return 1;
}

int cli_text_from_memory(apr_pool_t *p, const char *data, size_t n,
                         size_t max_line, unsigned flags, cli_text *t)
{
    text_reader tr;
    memset(t, 0, sizeof(*t));
    if (!reader_init(&tr, p, max_line, flags) || !reader_feed(&tr, data, n)) {
        free(tr.b);
        return read_failed(t, flags, "no memory");
    }
    reader_finish(&tr, t);
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
