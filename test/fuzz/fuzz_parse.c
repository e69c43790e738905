/*
 * fuzz_parse.c - libFuzzer target: the rules-file parser on arbitrary
 * bytes (rr_builder_add_buffer + rr_builder_freeze + rr_set_check).
 *
 * Input: byte 0 chooses the options, the rest is the rules text.
 *   bit 0  case_insensitive (Redirect307MatchCase Off)
 *   bit 1  trailing_strict  (Redirect307TrailingSlash Strict)
 *   bit 2-3 chains mode: 0 Warn, 1 Collapse, 2 Off, 3 Warn
 *   bit 4  split the text at its first form feed (0x0c) into two files,
 *          two tables of one set
 *   bit 5  the second table is inherited (rr_set_mark_inherited)
 *   bit 6  no host names for chain detection (hosts NULL)
 *   bit 7  the second table flips case_insensitive
 *
 * Properties: parsing ends in a table or in errors, never a crash or a
 * leak; every error and warning starts with "NAME:LINE: " (LINE within the
 * file) or "NAME: "; add_buffer fails iff it pushed an error, freeze
 * returns NULL iff there was one; the table's figures add up; every rule
 * looked up by its own source gives a well-formed answer.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "fuzz_common.h"

static const char *const names[2] = { "a.rules", "sub/b.rules" };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static void check_table(apr_pool_t *p, const rr_table *t, unsigned lines,
                        const rr_options *opt)
{
    rr_stats st;
    uint32_t i, n = rr_table_count(t), sum = 0;
    int k;
    rr_table_stats(t, &st);
    FUZZ_CHECK(st.rules == n, "stats.rules %u vs count %u", st.rules, n);
    FUZZ_CHECK(st.exact + st.prefix + st.query + st.pattern == n,
               "kinds %u+%u+%u+%u vs %u", st.exact, st.prefix, st.query,
               st.pattern, n);
    for (k = 0; k < 7; k++)
        sum += st.by_status[k];
    FUZZ_CHECK(sum == n, "by_status sums to %u, not %u", sum, n);
    FUZZ_CHECK(n <= lines, "%u rules from %u lines", n, lines);
    FUZZ_CHECK(rr_table_options(t)->case_insensitive == opt->case_insensitive
               && rr_table_options(t)->trailing_strict
                  == opt->trailing_strict, "options changed");
    {
        /* Records: every rule line kept, in file order; the live ones
         * are the rules, in the same order. */
        uint32_t r, live = 0, nrec = rr_table_records(t);
        unsigned prev_line = 0;
        FUZZ_CHECK(nrec >= n && nrec <= lines, "%u records, %u rules, %u "
                   "lines", nrec, n, lines);
        for (r = 0; r < nrec; r++) {
            rr_rule_info rec, rule;
            int is_live = rr_table_record(t, r, p, &rec);
            FUZZ_CHECK(rec.line > prev_line, "record %u line %u after %u",
                       r, rec.line, prev_line);
            prev_line = rec.line;
            if (!is_live)
                continue;
            FUZZ_CHECK(live < n, "more live records than rules");
            rr_table_rule(t, live, p, &rule);
            FUZZ_CHECK(rule.line == rec.line
                       && strcmp(rule.source, rec.source) == 0,
                       "live record %u (line %u) is rule %u (line %u)", r,
                       rec.line, live, rule.line);
            live++;
        }
        FUZZ_CHECK(live == n, "%u live records, %u rules", live, n);
    }
    for (i = 0; i < n; i++) {
        rr_rule_info ri;
        rr_table_rule(t, i, p, &ri);
        FUZZ_CHECK(ri.kind == RR_KIND_EXACT || ri.kind == RR_KIND_PREFIX
                   || ri.kind == RR_KIND_QUERY, "kind %d", (int)ri.kind);
        FUZZ_CHECK(ri.source[0] == '/'
                   || (ri.kind == RR_KIND_PREFIX && ri.source[0] == '\0'),
                   "rule %u source '%s'", i,
                   fuzz_show(p, ri.source, strlen(ri.source)));
        FUZZ_CHECK((ri.kind == RR_KIND_QUERY) == (ri.query != NULL),
                   "rule %u query", i);
        FUZZ_CHECK((ri.status == 410) == (ri.target == NULL),
                   "rule %u: status %d, target %s", i, ri.status,
                   ri.target ? "set" : "NULL");
        FUZZ_CHECK(ri.line >= 1 && ri.line <= lines, "rule %u line %u of %u",
                   i, ri.line, lines);
        FUZZ_CHECK(!opt->case_insensitive || (ri.flags & RR_FLAG_NOCASE),
                   "rule %u not nocase in a case-insensitive table", i);
        FUZZ_CHECK(!((ri.flags & RR_FLAG_QSDROP)
                     && (ri.flags & RR_FLAG_QSAPPEND)), "qsdrop+qsappend");
    }
}

/* Looks every rule of t up by its own source (and a path below it) and
 * checks whatever answers. */
static void probe_rules(apr_pool_t *p, const rr_set *s, const rr_table *t)
{
    static const char *const https_base[] = { "https", "://", "example.com",
                                               ":8443", NULL };
    uint32_t i, n = rr_table_count(t);
    if (n > 64)
        n = 64;
    for (i = 0; i < n; i++) {
        rr_rule_info ri;
        const char *paths[3];
        int k;
        rr_table_rule(t, i, p, &ri);
        paths[0] = ri.kind == RR_KIND_PREFIX && !*ri.source ? "/" : ri.source;
        paths[1] = apr_pstrcat(p, ri.source, "/x y", NULL);
        paths[2] = apr_pstrcat(p, ri.source, "/", NULL);
        for (k = 0; k < 3; k++) {
            rr_match m;
            const char *args = ri.query ? ri.query : (k == 1 ? "a=1&b" : NULL);
            const char *host = !ri.host ? NULL : ri.host[0] == '*'
                ? apr_pstrcat(p, "w", ri.host + 1, NULL) : ri.host;
            if (rr_set_lookup_at(s, ri.scheme ? ri.scheme : "http", host,
                                 paths[k], strlen(paths[k]), args, &m))
                fuzz_check_match(p, &m, paths[k], strlen(paths[k]), args,
                                 k == 2 ? https_base : NULL, 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    rr_options opt[2];
    rr_diag *d;
    rr_set *set;
    const rr_table *tables[2] = { NULL, NULL };
    const char *buf[2];
    size_t len[2];
    unsigned lines[2];
    int nfiles = 1, k, failed = 0, errors_before;
    rr_chains_mode mode;
    apr_array_header_t *hosts = NULL;
    unsigned char sel;

    if (size < 1)
        return 0;
    sel = data[0];
    data++;
    size--;

    p = fuzz_pool();
    memset(opt, 0, sizeof(opt));
    opt[0].case_insensitive = sel & 1;
    opt[0].trailing_strict = (sel >> 1) & 1;
    opt[1] = opt[0];
    if (sel & 0x80)
        opt[1].case_insensitive = !opt[1].case_insensitive;
    mode = ((sel >> 2) & 3) == 1 ? RR_CHAINS_COLLAPSE
           : ((sel >> 2) & 3) == 2 ? RR_CHAINS_OFF : RR_CHAINS_WARN;
    if (!(sel & 0x40)) {
        hosts = apr_array_make(p, 2, sizeof(const char *));
        APR_ARRAY_PUSH(hosts, const char *) = "example.com";
        APR_ARRAY_PUSH(hosts, const char *) = "*.example.org";
    }

    /* Copies, so that the engine reads exactly the bytes it was given. */
    buf[0] = (const char *)data;
    len[0] = size;
    if (sel & 0x10) {
        const uint8_t *ff = memchr(data, '\f', size);
        if (ff) {
            nfiles = 2;
            len[0] = (size_t)(ff - data);
            buf[1] = (const char *)ff + 1;
            len[1] = size - len[0] - 1;
        }
    }

    d = rr_diag_create(p);
    set = rr_set_create(p, nfiles);
    for (k = 0; k < nfiles; k++) {
        rr_builder *b = rr_builder_create(p, &opt[k]);
        char *copy = malloc(len[k] ? len[k] : 1);
        const char *last_before;
        apr_status_t rv;
        memcpy(copy, buf[k], len[k]);
        lines[k] = fuzz_count_lines(copy, len[k]);
        errors_before = d->errors;
        last_before = errors_before
            ? apr_pstrdup(p, fuzz_diag_msg(d, 1, errors_before - 1)) : NULL;
        rv = rr_builder_add_buffer(b, names[k], copy, len[k], d);
        free(copy);
        FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL, "rv %d", rv);
        /* The diag collects at most max_errors (20) errors: a failure
         * past that adds none, but must not alter what is there. */
        FUZZ_CHECK((rv == APR_SUCCESS) == (d->errors == errors_before)
                   || (rv == APR_EINVAL && errors_before == 20),
                   "add_buffer returned %d with %d new errors", rv,
                   d->errors - errors_before);
        FUZZ_CHECK(d->errors <= 20, "%d errors", d->errors);
        if (last_before) {
            const char *now = fuzz_diag_msg(d, 1, errors_before - 1);
            FUZZ_CHECK(strcmp(now, last_before) == 0,
                       "parsing %s changed an earlier error message from "
                       "'%s' to '%s'", names[k],
                       fuzz_show(p, last_before, strlen(last_before)),
                       fuzz_show(p, now, strlen(now)));
        }
        FUZZ_CHECK(rr_builder_count(b) <= lines[k], "%u rules from %u lines",
                   rr_builder_count(b), lines[k]);
        tables[k] = rr_builder_freeze(b, p, d);
        FUZZ_CHECK((tables[k] == NULL) == (rv != APR_SUCCESS),
                   "freeze gave %s after add_buffer %d",
                   tables[k] ? "a table" : "NULL", rv);
        if (!tables[k]) {
            failed = 1;
            continue;
        }
        check_table(p, tables[k], lines[k], &opt[k]);
        if (k == 1 && (sel & 0x20))
            rr_set_mark_inherited(set);
        rr_set_add(set, tables[k]);
    }
    fuzz_check_messages(p, rr_diag_messages(d, 1, p), names, lines, nfiles, "error");
    fuzz_check_messages(p, rr_diag_messages(d, 0, p), names, lines, nfiles, "warning");

    if (!failed) {
        int before = d->errors;
        apr_status_t rv = rr_set_check(set, hosts, mode, d);
        FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL, "check rv %d", rv);
        FUZZ_CHECK((rv == APR_SUCCESS) == (d->errors == before),
                   "rr_set_check returned %d with %d new errors", rv,
                   d->errors - before);
        fuzz_check_messages(p, rr_diag_messages(d, 1, p), names, lines, nfiles, "error");
        fuzz_check_messages(p, rr_diag_messages(d, 0, p), names, lines, nfiles, "warning");
        if (rv == APR_SUCCESS) {
            for (k = 0; k < nfiles; k++)
                probe_rules(p, set, tables[k]);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
