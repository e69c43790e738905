/*
 * helpers.c - fixtures and lookup helpers shared by the unit-test suites.
 */
#include <stdio.h>
#include "helpers.h"

apr_pool_t *tp;

const rr_options opt_default = { 0, 0 };
const rr_options opt_nocase = { 1, 0 };
const rr_options opt_strict = { 0, 1 };

static void pool_setup(void)
{
    tp = NULL;
    ck_assert_int_eq(apr_pool_create(&tp, NULL), APR_SUCCESS);
}

static void pool_teardown(void)
{
    if (tp) {
        apr_pool_destroy(tp);
        tp = NULL;
    }
}

TCase *unit_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    /* Generous: the 100,000-segment and 10,000-rule tests run under
     * sanitizers too. */
    tcase_set_timeout(tc, 60);
    return tc;
}

rr_diag *diag_new(void)
{
    rr_diag *d = rr_diag_create(tp);

    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(d->entries);
    return d;
}

int diag_nerrors(const rr_diag *d)
{
    return d->errors;
}

int diag_nwarnings(const rr_diag *d)
{
    return d->warnings;
}

const rr_diag_entry *diag_entry(const rr_diag *d, int errors, int i)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (!rr_diag_is_error(e->kind) == !errors && i-- == 0)
            return e;
    }
    ck_abort_msg("no %s %d:%s", errors ? "error" : "warning", i,
                 diag_dump(d));
    return NULL;
}

const char *diag_error(const rr_diag *d, int i)
{
    return diag_entry(d, 1, i)->message;
}

const char *diag_warning(const rr_diag *d, int i)
{
    return diag_entry(d, 0, i)->message;
}

const char *diag_dump(const rr_diag *d)
{
    const char *out = "";
    int i;

    for (i = 0; i < d->entries->nelts; i++) {
        const rr_diag_entry *e = rr_diag_get(d, i);
        out = apr_pstrcat(tp, out, "\n  ", rr_diag_kind_name(e->kind), ": ",
                          show0(e->message), NULL);
    }
    return *out ? out : " (no messages)";
}

const char *diag_places(const rr_diag_entry *e)
{
    const char *out = "";
    int i;

    for (i = 0; i < e->nplaces; i++)
        out = apr_psprintf(tp, "%s%s%s:%u", out, i ? " " : "",
                           e->places[i].file ? e->places[i].file : "-",
                           e->places[i].line);
    return out;
}

rr_table *table_from(const char *name, const char *text, size_t len,
                     const rr_options *opt, rr_diag *d)
{
    rr_diag *own = d ? d : diag_new();
    rr_builder *b = rr_builder_create(tp, opt);
    apr_status_t rv;
    rr_table *t;

    ck_assert_ptr_nonnull(b);
    rv = rr_builder_add_buffer(b, name, text, len, own);
    ck_assert_msg(rv == APR_SUCCESS && diag_nerrors(own) == 0,
                  "parsing %s failed (rv %d):%s\nrules:\n%s", name, rv,
                  diag_dump(own), show(text, len > 300 ? 300 : len));
    t = rr_builder_freeze(b, tp, own);
    ck_assert_msg(t != NULL && diag_nerrors(own) == 0,
                  "freezing %s failed:%s", name, diag_dump(own));
    return t;
}

rr_set *set_of(const rr_table *t)
{
    rr_set *s = rr_set_create(tp, 4);

    ck_assert_ptr_nonnull(s);
    rr_set_add(s, t);
    return s;
}

rr_set *set_from_opt(const char *text, const rr_options *opt)
{
    return set_of(table_from("rules.map", text, strlen(text), opt, NULL));
}

rr_set *set_from(const char *text)
{
    return set_from_opt(text, &opt_default);
}

rr_diag *parse_expect_errors(const char *name, const char *text, size_t len,
                             const rr_options *opt)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, opt);
    apr_status_t rv;

    ck_assert_ptr_nonnull(b);
    rv = rr_builder_add_buffer(b, name, text, len, d);
    ck_assert_msg(rv == APR_EINVAL,
                  "parsing %s: expected APR_EINVAL, got %d:%s\nrules:\n%s",
                  name, rv, diag_dump(d), show(text, len > 300 ? 300 : len));
    ck_assert_msg(diag_nerrors(d) > 0, "APR_EINVAL but no error message");
    ck_assert_msg(rr_builder_freeze(b, tp, d) == NULL,
                  "rr_builder_freeze returned a table after parse errors");
    return d;
}

/* "STATUS LOCATION", "410" or "no match" for what the lookup found. */
static const char *describe(int hit, const rr_match *m, const char *path,
                            const char *args)
{
    const char *loc;
    int status;

    if (!hit)
        return "no match";
    status = rr_match_status(m, DEFAULT_STATUS);
    loc = rr_match_location(m, tp, path, args, BASE);
    if (!loc)
        return apr_psprintf(tp, "%d", status);
    return apr_psprintf(tp, "%d %s", status, loc);
}

const char *answer_at(const rr_set *s, const char *scheme, const char *host,
                      const char *path, const char *args)
{
    rr_match m;

    memset(&m, 0, sizeof(m));
    return describe(rr_set_lookup_at(s, scheme, host, path, strlen(path),
                                     args, &m), &m, path, args);
}

rr_set *set_ignoring(const char *text, const char *words)
{
    rr_set *s = set_from(text);
    const char *argv[RR_MAX_IGNORE], *err = NULL;
    char *copy = apr_pstrdup(tp, words), *last, *w;
    int argc = 0;
    rr_ignore *ig;

    for (w = apr_strtok(copy, " ", &last); w && argc < RR_MAX_IGNORE;
         w = apr_strtok(NULL, " ", &last))
        argv[argc++] = w;
    ig = rr_ignore_parse(tp, argc, argv, &err);
    ck_assert_msg(ig != NULL, "ignore list '%s': %s", words, err);
    rr_set_ignore(s, ig);
    return s;
}

const char *answer_len(const rr_set *s, const char *path, size_t len,
                       const char *args)
{
    rr_match m;

    memset(&m, 0, sizeof(m));
    return describe(rr_set_lookup(s, path, len, args, &m), &m, path, args);
}

const char *answer(const rr_set *s, const char *path, const char *args)
{
    return answer_len(s, path, strlen(path), args);
}

rr_match lookup_or_fail(const rr_set *s, const char *path, const char *args)
{
    rr_match m;

    memset(&m, 0, sizeof(m));
    ck_assert_msg(rr_set_lookup(s, path, strlen(path), args, &m) == 1,
                  "no match for %s", show0(path));
    return m;
}

void check_answers_at(const char *file, int line, const rr_set *s,
                      const lookup_case *c, size_t n)
{
    const char *bad = "";
    size_t i;

    for (i = 0; i < n; i++) {
        const char *got = answer(s, c[i].path, c[i].args);

        if (strcmp(got, c[i].expect) != 0)
            bad = apr_psprintf(tp, "%s\n  [%lu] %s%s%s: got \"%s\", "
                               "expected \"%s\"", bad, (unsigned long)i, show0(c[i].path),
                               c[i].args ? "?" : "",
                               c[i].args ? show0(c[i].args) : "",
                               show0(got), show0(c[i].expect));
    }
    ck_assert_msg(*bad == '\0', "%s:%d: wrong answers:%s", file, line, bad);
}

const char *show(const char *s, size_t len)
{
    char *out, *p;
    size_t i;

    if (!s)
        return "(null)";
    out = p = apr_palloc(tp, len * 4 + 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c >= 0x7f || c == '\\') {
            snprintf(p, 5, "\\x%02x", c);
            p += 4;
        }
        else
            *p++ = (char)c;
    }
    *p = '\0';
    return out;
}

const char *show0(const char *s)
{
    return s ? show(s, strlen(s)) : "(null)";
}

int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

int contains(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

long first_unsafe_byte(const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p >= 0x7f)
            return (long)(p - (const unsigned char *)s);
    return -1;
}

char *repeat(const char *unit, size_t n)
{
    size_t ulen = strlen(unit), i;
    char *out = apr_palloc(tp, ulen * n + 1);

    for (i = 0; i < n; i++)
        memcpy(out + i * ulen, unit, ulen);
    out[ulen * n] = '\0';
    return out;
}
