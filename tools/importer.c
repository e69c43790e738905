/*
 * importer.c - the core of `redirect307 import`, shared by every input
 * format: collecting converted rules, saying what is not converted,
 * escaping fields, and validating the rules with the engine so that the
 * output loads with `redirect307 check`.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"
#include "redirect_rules.h"

/* Validation builds the rules with rule k on line k + 1 of this pseudo
 * file, so that a diagnostic's places name rules, even two rules from
 * one input line (an nginx map written on one line). */
#define VALIDATION_FILE "import"

/* The engine keeps this many error diagnostics of a build (and 50 times
 * as many warnings): every duplicate and loop must be seen. */
#define VALIDATION_MAX_ERRORS 1000000

/* Each round of validation breaks the loops found; breaking one can
 * only reveal loops it hid, so a few rounds do. */
#define VALIDATION_MAX_ROUNDS 1000

/* Warnings are acted on before errors, in the order `check` prints. */
enum { PASS_WARNINGS, PASS_ERRORS, PASSES };

void imp_init(importer *im, apr_pool_t *p, int status,
              const apr_array_header_t *hosts)
{
    memset(im, 0, sizeof(*im));
    im->p = p;
    im->status = status;
    im->hosts = hosts;
    im->rules = apr_array_make(p, 1024, sizeof(imp_rule));
    im->msgs = stderr;
}

void imp_read_text(importer *im, importer_read_fn *read, const cli_text *t)
{
    int k;
    for (k = 0; k < t->refused->nelts; k++) {
        const cli_refused *r = &APR_ARRAY_IDX(t->refused, k, cli_refused);
        imp_skip(im, r->line, "%s", r->why);
    }
    read(im, t->buf, t->len);
}

/* ---- messages -------------------------------------------------------- */

/* "FILE:LINE: LABEL: message" to f.  Messages quote the input, so
 * every byte that could act on a terminal is shown escaped. */
static void say_at(FILE *f, const char *file, unsigned line,
                   const char *label, const char *fmt, va_list ap)
{
    cli_print_visible(f, "%s:%u: %s: ", file, line, label);
    cli_vprint_visible(f, fmt, ap);
    fputc('\n', f);
}

void imp_skip(importer *im, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_at(im->msgs, im->file, line, "not converted", fmt, ap);
    va_end(ap);
    im->skipped++;
}

void imp_note(const importer *im, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_at(im->msgs, im->file, line, "note", fmt, ap);
    va_end(ap);
}

void imp_differs(const importer *im, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_at(im->msgs, im->file, line, "note: differs", fmt, ap);
    va_end(ap);
}

static void rule_say(const importer *im, const imp_rule *r,
                     const char *label, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* As imp_skip() or imp_note(), at the input line of rule r. */
static void rule_say(const importer *im, const imp_rule *r,
                     const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_at(im->msgs, r->file, r->line, label, fmt, ap);
    va_end(ap);
}

/* ---- rules ----------------------------------------------------------- */

void imp_emit(importer *im, unsigned line, const char *src, const char *tgt,
              int status, const char *flags)
{
    imp_rule *r = apr_array_push(im->rules);
    r->text = apr_pstrcat(im->p, src, " ", tgt,
                          status ? " " : "",
                          status ? apr_itoa(im->p, status) : "",
                          flags ? " " : "", flags ? flags : "", NULL);
    r->file = im->file;
    r->line = line;
    r->dropped = 0;
}

/* Must s[i] be percent-escaped in a field?  `in_query`: a '?' that
 * starts the query has been passed. */
static int must_escape(const char *s, size_t i, size_t n, unsigned flags,
                       int in_query)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '%')
        return !(flags & IMP_ENCODED) || i + 2 >= n
               || cli_hex_value((unsigned char)s[i + 1]) < 0
               || cli_hex_value((unsigned char)s[i + 2]) < 0;
    if (c == '?' && !in_query)
        return (flags & IMP_SOURCE) && !(flags & IMP_ENCODED);
    if (c == '#')
        return (flags & IMP_SOURCE) != 0;
    return c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL;
}

/* out[0..len] with the '*' at out[star] spelt "%2A". */
static const char *escape_star(apr_pool_t *p, const char *out, size_t len,
                               size_t star)
{
    char *fixed = apr_palloc(p, len + 3);
    memcpy(fixed, out, star);
    memcpy(fixed + star, "%2A", 3);
    memcpy(fixed + star + 3, out + star + 1, len - star);
    return fixed;
}

/* Where the path of a source s[0..n) starts: after "//host" or
 * "scheme://host" (whose port keeps its ':'). */
static size_t source_path_start(const char *s, size_t n)
{
    const char *auth = NULL, *slash;
    if (n == 0)
        return 0;
    if (n >= 2 && s[0] == '/' && s[1] == '/')
        auth = s + 2;
    else if (s[0] != '/' && (slash = memchr(s, '/', n)) && slash > s
             && slash[-1] == ':' && slash + 1 < s + n && slash[1] == '/')
        auth = slash + 2;
    if (!auth)
        return 0;
    slash = memchr(auth, '/', n - (size_t)(auth - s));
    return slash ? (size_t)(slash - s) : n;
}

/* In a source's path and query, ':' before a name byte starts a
 * placeholder (SPEC: Pattern rules); "%3A" stays the literal ':'. */
static int starts_placeholder(const char *s, size_t i, size_t n)
{
    return s[i] == ':' && i + 1 < n
           && (apr_isalnum((unsigned char)s[i + 1]) || s[i + 1] == '_');
}

const char *imp_escape(apr_pool_t *p, const char *s, size_t n,
                       unsigned flags)
{
    char *out = apr_palloc(p, n * 3 + 1);
    size_t i, o = 0, path_end = 0;
    size_t path_start = (flags & IMP_SOURCE) ? source_path_start(s, n) : n;
    int in_query = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (must_escape(s, i, n, flags, in_query)
            || (i >= path_start && starts_placeholder(s, i, n))) {
            out[o++] = '%';
            out[o++] = cli_hex_digits[c >> 4];
            out[o++] = cli_hex_digits[c & 15];
            continue;
        }
        if (c == '?' && !in_query) {
            in_query = 1;
            path_end = o;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (!in_query)
        path_end = o;
    /* A source's path ending in '*' would read as a prefix rule. */
    if ((flags & IMP_SOURCE) && path_end > 0 && out[path_end - 1] == '*')
        return escape_star(p, out, o, path_end - 1);
    return out;
}

int imp_is_url_or_path(const char *t)
{
    const char *s = t;
    if (t[0] == '/')
        return t[1] != '/';
    if (!apr_isalpha(*s))
        return 0;
    while (apr_isalnum(*s) || *s == '+' || *s == '-' || *s == '.')
        s++;
    return !strncmp(s, "://", 3) && s[3] && s[3] != '/';
}

/* ---- validation ------------------------------------------------------ */

/* The rule a validation place names, or NULL. */
static imp_rule *rule_at(const importer *im, const rr_diag_place *pl)
{
    if (!pl->file || strcmp(pl->file, VALIDATION_FILE) || pl->line < 1
        || pl->line > (unsigned)im->rules->nelts)
        return NULL;
    return &APR_ARRAY_IDX(im->rules, pl->line - 1, imp_rule);
}

/* "FILE:LINE" in the input of the rule a place names. */
static const char *origin(apr_pool_t *p, const importer *im,
                          const rr_diag_place *pl)
{
    const imp_rule *r = rule_at(im, pl);
    if (r)
        return apr_psprintf(p, "%s:%u", r->file, r->line);
    return apr_psprintf(p, "%s:%u", pl->file ? pl->file : "?", pl->line);
}

/* The input lines on a chain or loop, joined with " -> ". */
static const char *chain_text(apr_pool_t *p, const importer *im,
                              const rr_diag_entry *e)
{
    const char *out = "";
    int k;
    for (k = 0; k < e->nplaces; k++)
        out = apr_pstrcat(p, out, k ? " -> " : "",
                          origin(p, im, &e->places[k]), NULL);
    return out;
}

/* The reason of an engine error: its message without the "FILE:LINE: "
 * (or "FILE: ") of its first place. */
static const char *diag_reason(apr_pool_t *p, const rr_diag_entry *e)
{
    const rr_diag_place *pl = e->nplaces > 0 ? &e->places[0] : NULL;
    const char *prefix;
    size_t n;
    if (!pl || !pl->file)
        return e->message;
    prefix = pl->line ? apr_psprintf(p, "%s:%u: ", pl->file, pl->line)
                      : apr_pstrcat(p, pl->file, ": ", NULL);
    n = strlen(prefix);
    return strncmp(e->message, prefix, n) ? e->message : e->message + n;
}

/* Parses each rule alone: what the engine refuses is not converted. */
static void refuse_unparsable(importer *im)
{
    const rr_options opt = { 0, 0 };
    apr_pool_t *tmp, *iter;
    rr_builder *b;
    int k;
    apr_pool_create(&tmp, im->p);
    apr_pool_create(&iter, tmp);
    b = rr_builder_create(tmp, &opt);
    for (k = 0; k < im->rules->nelts; k++) {
        imp_rule *r = &APR_ARRAY_IDX(im->rules, k, imp_rule);
        rr_diag *d = rr_diag_create(iter);
        if (rr_builder_add_line(b, r->file, r->line, r->text,
                                strlen(r->text), d) != APR_SUCCESS) {
            rule_say(im, r, "not converted", "%s ('%s')", d->entries->nelts
                     ? diag_reason(iter, rr_diag_get(d, 0))
                     : "refused by the engine", r->text);
            r->dropped = 1;
            im->skipped++;
        }
        apr_pool_clear(iter);
    }
    apr_pool_destroy(tmp);
}

/* Loads the rules kept as one table of one server and checks it; the
 * diagnostics live in `tmp`. */
static const rr_diag *check_kept(const importer *im, apr_pool_t *tmp)
{
    const rr_options opt = { 0, 0 };
    rr_builder *b = rr_builder_create(tmp, &opt);
    rr_diag *d = rr_diag_create(tmp);
    rr_table *t;
    int k;
    d->max_errors = VALIDATION_MAX_ERRORS;
    for (k = 0; k < im->rules->nelts; k++) {
        const imp_rule *r = &APR_ARRAY_IDX(im->rules, k, imp_rule);
        if (!r->dropped)
            rr_builder_add_line(b, VALIDATION_FILE, (unsigned)k + 1, r->text,
                                strlen(r->text), d);
    }
    t = rr_builder_freeze(b, tmp, d);
    if (t) {
        rr_set *set = rr_set_create(tmp, 1);
        rr_set_add(set, t);
        rr_set_check(set, im->hosts, RR_CHAINS_WARN, d);
    }
    return d;
}

/* A chain is kept: the old server answered with it too. */
static void note_chain(apr_pool_t *p, const importer *im,
                       const rr_diag_entry *e)
{
    cli_print_visible(im->msgs, "%s: note: redirect chain, kept (check "
                      "will warn): %s", origin(p, im, &e->places[0]),
                      chain_text(p, im, e));
    fputc('\n', im->msgs);
}

/* A duplicate source: the later rule goes, as the first one answered in
 * the old server too. */
static void drop_duplicate(apr_pool_t *p, const importer *im,
                           const rr_diag_entry *e)
{
    imp_rule *r = rule_at(im, &e->places[0]);
    if (!r || r->dropped || e->nplaces < 2)
        return;
    r->dropped = 1;
    rule_say(im, r, "note", "duplicate source, dropped: the first definition "
             "(%s) wins, as it did before", origin(p, im, &e->places[1]));
}

/* A loop: its first rule goes.  Returns 1 if a rule was dropped. */
static int break_loop(apr_pool_t *p, importer *im, const rr_diag_entry *e)
{
    imp_rule *r = rule_at(im, &e->places[0]);
    if (!r || r->dropped)
        return 0;
    r->dropped = 1;
    im->skipped++;
    rule_say(im, r, "not converted", "redirect loop: %s",
             chain_text(p, im, e));
    return 1;
}

/* Acts on one check's diagnostics; returns 1 if loops were broken, so
 * that the rules must be checked again. */
static int act_on(apr_pool_t *p, importer *im, const rr_diag *d,
                  int first_round)
{
    int pass, k, again = 0;
    for (pass = PASS_WARNINGS; pass < PASSES; pass++) {
        for (k = 0; k < d->entries->nelts; k++) {
            const rr_diag_entry *e = rr_diag_get(d, k);
            if (rr_diag_is_error(e->kind) != (pass == PASS_ERRORS)
                || e->nplaces < 1)
                continue;
            if (e->kind == RR_DIAG_CHAIN && first_round)
                note_chain(p, im, e);
            else if (e->kind == RR_DIAG_DUPLICATE)
                drop_duplicate(p, im, e);
            else if (e->kind == RR_DIAG_LOOP)
                again |= break_loop(p, im, e);
        }
    }
    return again;
}

void imp_validate(importer *im)
{
    int round, again = 1;
    refuse_unparsable(im);
    for (round = 0; again && round < VALIDATION_MAX_ROUNDS; round++) {
        apr_pool_t *tmp;
        apr_pool_create(&tmp, im->p);
        again = act_on(tmp, im, check_kept(im, tmp), round == 0);
        apr_pool_destroy(tmp);
    }
}

/* ---- output ---------------------------------------------------------- */

int imp_write(const importer *im, FILE *out, const char *input,
              const char *format)
{
    int k, written = 0;
    /* An input's name could hold a line end: shown escaped, it cannot
     * end the comment and start a rule. */
    cli_print_visible(out, "# redirect307 rules imported from %s "
                      "(--from %s)", input, format);
    fputc('\n', out);
    for (k = 0; k < im->rules->nelts; k++) {
        const imp_rule *r = &APR_ARRAY_IDX(im->rules, k, imp_rule);
        if (!r->dropped) {
            fputs(r->text, out);
            fputc('\n', out);
            written++;
        }
    }
    return written;
}

/* The next configuration line, joined with the following ones as httpd
 * joins a line ending in a single backslash; *n counts physical lines,
 * *first is where the joined line starts.  NULL at the end; a
 * continuation that never ends is reported and dropped. */
char *imp_next_conf_line(importer *im, char **s, const char *end,
                         unsigned *n, unsigned *first)
{
    char *line, *joined = NULL;
    while ((line = cli_next_line(s, end))) {
        size_t l = strlen(line);
        ++*n;
        if (!joined)
            *first = *n;
        if (l > 0 && line[l - 1] == '\\' && !(l > 1 && line[l - 2] == '\\')) {
            line[l - 1] = '\0';
            joined = joined ? apr_pstrcat(im->p, joined, line, NULL)
                            : apr_pstrdup(im->p, line);
            continue;
        }
        return joined ? apr_pstrcat(im->p, joined, line, NULL) : line;
    }
    if (joined)
        imp_skip(im, *first, "the line continues ('\\' at its end) past "
                 "the end of the input");
    return NULL;
}
