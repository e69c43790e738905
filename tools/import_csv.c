/*
 * import_csv.c - `import --from csv`: the CSV export of the WordPress
 * Redirection plugin (or its headerless import layout source,target,
 * regex,code), one rule per row that is a plain redirect.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* Field separators recognised, in order of preference on a tie. */
static const char separators[] = ",;|";
#define SEPARATORS (sizeof(separators) - 1)

/* The columns used, by what they hold. */
enum { COL_SOURCE, COL_TARGET, COL_REGEX, COL_CODE, COL_TYPE, COL_STATUS,
       COL_MATCH, COL_N };

/* Header names of the columns (the plugin's and older exports'). */
static const struct {
    int col;
    const char *name;
} headers[] = {
    { COL_SOURCE, "source" }, { COL_TARGET, "target" },
    { COL_TARGET, "destination" }, { COL_REGEX, "regex" },
    { COL_CODE, "code" }, { COL_CODE, "action_code" },
    { COL_TYPE, "type" }, { COL_TYPE, "action_type" },
    { COL_STATUS, "status" }, { COL_MATCH, "match" },
    { COL_MATCH, "match_type" }, { 0, NULL }
};

/* The fields of a row that matter; NULL where the row has no such
 * column. */
typedef struct {
    const char *src, *tgt, *regex, *code, *type, *state, *match;
} csv_entry;

/* ---- records --------------------------------------------------------- */

/* A record as read. */
typedef struct {
    unsigned lines;             /* lines it spans */
    int unterminated;           /* a quote ran to the end of the input */
} csv_span;

/* Decodes the field at *s in place ("quoted", "" for a quote) and
 * returns it trimmed; *s is left on what ended it: `sep`, '\n' or end.
 * Counts the line ends inside quotes in span->lines. */
static char *csv_field_text(char **s, const char *end, char sep,
                            csv_span *span)
{
    char *c = *s, *out = c, *o = c;
    if (c < end && *c == '"') {
        c++;
        span->unterminated = 1;
        while (c < end) {
            if (*c == '"' && c + 1 < end && c[1] == '"') {
                *o++ = '"';
                c += 2;
            }
            else if (*c == '"') {
                c++;
                span->unterminated = 0;
                break;
            }
            else {
                span->lines += *c == '\n';
                *o++ = *c++;
            }
        }
    }
    while (c < end && *c != sep && *c != '\n')
        *o++ = *c++;
    if (o > out && o[-1] == '\r' && (c >= end || *c == '\n'))
        o--;
    *s = c;
    return out + (size_t)(o - out);
}

/* Parses the record at *s into its fields (in `p`; the strings are in
 * the buffer); *span says how many lines it spans. */
static apr_array_header_t *csv_record(apr_pool_t *p, char **s,
                                      const char *end, char sep,
                                      csv_span *span)
{
    apr_array_header_t *f = apr_array_make(p, 10, sizeof(char *));
    span->lines = 1;
    span->unterminated = 0;
    for (;;) {
        char *field = *s, *field_end = csv_field_text(s, end, sep, span);
        char ended_by = *s < end ? **s : '\0';
        /* The field was decoded in place and never outgrows its bytes:
         * its end may be where the separator was, read just above. */
        *field_end = '\0';
        APR_ARRAY_PUSH(f, char *) = cli_trim(field);
        if (*s < end)
            ++*s;               /* the separator or the '\n' */
        if (ended_by != sep)
            break;
    }
    return f;
}

/* The separator used most outside quotes on the first line. */
static char csv_separator(const char *b, size_t len)
{
    const char *nl = memchr(b, '\n', len);
    size_t n = nl ? (size_t)(nl - b) : len, i, k, best = 0;
    int counts[SEPARATORS] = { 0 }, quoted = 0;
    for (i = 0; i < n; i++) {
        const char *sep;
        if (b[i] == '"')
            quoted = !quoted;
        else if (!quoted && b[i] && (sep = strchr(separators, b[i])))
            counts[sep - separators]++;
    }
    for (k = 1; k < SEPARATORS; k++) {
        if (counts[k] > counts[best])
            best = k;
    }
    return separators[best];
}

/* ---- columns --------------------------------------------------------- */

/* 1 if record `f` is a header row: one of its fields is "source". */
static int csv_is_header(const apr_array_header_t *f)
{
    int k;
    for (k = 0; k < f->nelts; k++) {
        if (!strcasecmp(APR_ARRAY_IDX(f, k, const char *), "source"))
            return 1;
    }
    return 0;
}

/* The columns a header row names; the first of a name wins. */
static void csv_header_columns(const apr_array_header_t *f, int *col)
{
    int k, j;
    for (j = 0; j < COL_N; j++)
        col[j] = -1;
    for (k = 0; k < f->nelts; k++) {
        const char *h = APR_ARRAY_IDX(f, k, const char *);
        for (j = 0; headers[j].name; j++) {
            if (!strcasecmp(h, headers[j].name) && col[headers[j].col] < 0)
                col[headers[j].col] = k;
        }
    }
}

/* Without a header the columns are the plugin's import layout. */
static void csv_default_columns(int *col)
{
    int k;
    for (k = 0; k < COL_N; k++)
        col[k] = k <= COL_CODE ? k : -1;
}

static const char *csv_field(const apr_array_header_t *f, const int *col,
                             int which)
{
    return col[which] >= 0 && col[which] < f->nelts
           ? APR_ARRAY_IDX(f, col[which], const char *) : NULL;
}

static void csv_entry_of(const apr_array_header_t *f, const int *col,
                         csv_entry *e)
{
    e->src = csv_field(f, col, COL_SOURCE);
    e->tgt = csv_field(f, col, COL_TARGET);
    e->regex = csv_field(f, col, COL_REGEX);
    e->code = csv_field(f, col, COL_CODE);
    e->type = csv_field(f, col, COL_TYPE);
    e->state = csv_field(f, col, COL_STATUS);
    e->match = csv_field(f, col, COL_MATCH);
}

/* ---- rows ------------------------------------------------------------ */

static int has_text(const char *s)
{
    return s && *s;
}

/* Length of "http://" or "https://" starting an absolute source, or 0. */
static size_t absolute_source(const char *src)
{
    if (!strncasecmp(src, "http://", 7))
        return 7;
    return !strncasecmp(src, "https://", 8) ? 8 : 0;
}

/* An absolute source "https://old.example.com/a" as the host rule
 * "//old.example.com/a": the site answered it on whatever scheme the
 * visitor used, so the rule names the host, not the scheme. */
static const char *host_rule_source(importer *im, unsigned line,
                                    const char *src)
{
    const char *host = src + absolute_source(src);
    const char *path = strchr(host, '/');
    size_t hlen = path ? (size_t)(path - host) : strlen(host);
    imp_note(im, line, "absolute source: a host rule for %.*s (any scheme)",
             (int)hlen, host);
    return apr_pstrcat(im->p, "//", apr_pstrmemdup(im->p, host, hlen),
                       path ? path : "/", NULL);
}

/* Is the row a redirect rules can express?  Says why not; the status
 * it answers with goes to *status. */
static int csv_convertible(importer *im, unsigned line, const csv_entry *e,
                           int *status)
{
    if (!has_text(e->src)) {
        imp_skip(im, line, "no source");
        return 0;
    }
    if (e->state && (!strcasecmp(e->state, "disabled")
                     || !strcasecmp(e->state, "inactive"))) {
        imp_note(im, line, "'%s' is disabled in WordPress: skipped", e->src);
        return 0;
    }
    /* Without a regex column, what looks like one is taken for one. */
    if (e->regex ? atoi(e->regex) == 1 : strpbrk(e->src, "()[]$^*") != NULL) {
        imp_skip(im, line, "'%s' is a regular expression", e->src);
        return 0;
    }
    if (has_text(e->match) && strcasecmp(e->match, "url")) {
        imp_skip(im, line, "match '%s' is a condition rules cannot express",
                 e->match);
        return 0;
    }
    if (has_text(e->type) && strcasecmp(e->type, "url")
        && strcasecmp(e->type, "error")) {
        imp_skip(im, line, "action '%s' is not a redirect", e->type);
        return 0;
    }
    if (has_text(e->code) && !cli_parse_status(e->code, 1)) {
        imp_skip(im, line, "status %s (rules take 301, 302, 303, 307, 308 or "
                 "410)", e->code);
        return 0;
    }
    if (e->src[0] != '/' && !absolute_source(e->src)) {
        imp_skip(im, line, "source '%s' is neither a path nor an http(s) URL",
                 e->src);
        return 0;
    }
    *status = has_text(e->code) ? atoi(e->code) : im->status;
    return 1;
}

/* Writes the rule of a convertible row, if it has the target it needs. */
static void csv_emit(importer *im, unsigned line, const csv_entry *e,
                     int status)
{
    const char *raw = absolute_source(e->src)
                      ? host_rule_source(im, line, e->src) : e->src;
    const char *src = imp_escape(im->p, raw, strlen(raw),
                                 IMP_ENCODED | IMP_SOURCE);
    if (status == 410) {
        imp_emit(im, line, src, "-", 410, NULL);
        return;
    }
    if (!has_text(e->tgt)) {
        imp_skip(im, line, "no target");
        return;
    }
    if (!imp_is_url_or_path(e->tgt)) {
        imp_skip(im, line, "'%s' is neither an absolute URL nor a path",
                 e->tgt);
        return;
    }
    imp_emit(im, line, src,
             imp_escape(im->p, e->tgt, strlen(e->tgt), IMP_ENCODED), status,
             NULL);
}

static void csv_row(importer *im, unsigned line, const apr_array_header_t *f,
                    const int *col, const csv_span *span)
{
    csv_entry e;
    int status;
    if (span->unterminated) {
        imp_skip(im, line, "the quote opened in this row is never closed");
        return;
    }
    if (f->nelts == 1 && !*APR_ARRAY_IDX(f, 0, const char *))
        return;     /* a blank line */
    csv_entry_of(f, col, &e);
    if (csv_convertible(im, line, &e, &status))
        csv_emit(im, line, &e, status);
}

void import_csv(importer *im, char *buf, size_t len)
{
    char sep, *s = buf;
    const char *end = buf + len;
    int col[COL_N];
    unsigned line = 1;
    csv_span span;
    apr_array_header_t *f;
    apr_pool_t *iter;

    sep = csv_separator(s, (size_t)(end - s));
    f = csv_record(im->p, &s, end, sep, &span);
    if (csv_is_header(f)) {
        csv_header_columns(f, col);
        if (col[COL_TARGET] < 0) {
            imp_skip(im, line, "header has no 'target' column");
            return;
        }
    }
    else {
        csv_default_columns(col);
        csv_row(im, line, f, col, &span);
    }
    line += span.lines;
    apr_pool_create(&iter, im->p);
    while (s < end) {
        f = csv_record(iter, &s, end, sep, &span);
        csv_row(im, line, f, col, &span);
        line += span.lines;
        apr_pool_clear(iter);
    }
    apr_pool_destroy(iter);
}
