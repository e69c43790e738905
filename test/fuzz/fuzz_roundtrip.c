/*
 * fuzz_roundtrip.c - libFuzzer target: rules text -> table -> rr_table_dump
 * -> table again, and both tables must give the same answers.
 *
 * Input: byte 0 chooses the options (bit 0 case_insensitive, bit 1
 * trailing_strict), the rest is the rules text.  Inputs that do not parse
 * are skipped.
 *
 * Properties (header: the dump "parses to the same answers"):
 *  - the dump parses with the same options, without errors and without
 *    duplicate warnings, one rule a line, as many rules as the table;
 *  - rule by rule, kind, flags, status, source, query and target agree;
 *  - dumping the second table gives the same text (idempotent);
 *  - for probe paths derived from each rule (its source, source + "/x",
 *    which for a pattern rule are paths it matches,
 *    source + "/", the source upper-cased; its own query, no query, an
 *    unrelated query) and from the '/'-tokens of the input, both tables
 *    match or miss alike, with the same kind, status and Location;
 *  - rr_set_check (Warn, host example.com) reports as many loops and
 *    chains for both.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "fuzz_common.h"

#define MAX_RULE_PROBES 48
#define MAX_INPUT_PROBES 48

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A request host a rule's host selects: a name below a wildcard's. */
static const char *host_of(apr_pool_t *p, const rr_rule_info *r)
{
    if (!r->host)
        return NULL;
    return r->host[0] == '*' ? apr_pstrcat(p, "w", r->host + 1, NULL)
                             : r->host;
}

static void probe(apr_pool_t *p, const rr_set *s1, const rr_set *s2,
                  const char *scheme, const char *host, const char *path,
                  size_t len, const char *args, const char *dump)
{
    rr_match m1, m2;
    int h1, h2;
    if (len == 0 || path[0] != '/')
        return;
    h1 = rr_set_lookup_at(s1, scheme, host, path, len, args, &m1);
    h2 = rr_set_lookup_at(s2, scheme, host, path, len, args, &m2);
    FUZZ_CHECK(h1 == h2, "path '%s' args '%s': the input table %s, the "
               "dumped one %s; dump:\n%s", fuzz_show(p, path, len),
               args ? fuzz_show(p, args, strlen(args)) : "(null)",
               h1 ? "matches" : "misses", h2 ? "matches" : "misses",
               fuzz_show(p, dump, strlen(dump)));
    if (h1) {
        rr_rule_info r1, r2;
        const char *l1, *l2;
        fuzz_check_match(p, &m1, path, len, args, NULL, 1);
        fuzz_check_match(p, &m2, path, len, args, NULL, 1);
        rr_match_rule(&m1, p, &r1);
        rr_match_rule(&m2, p, &r2);
        l1 = rr_match_location(&m1, p, path, args, "http://example.com:8080");
        l2 = rr_match_location(&m2, p, path, args, "http://example.com:8080");
        FUZZ_CHECK(r1.kind == r2.kind
                   && rr_match_status(&m1, 307) == rr_match_status(&m2, 307)
                   && same_str(l1, l2),
                   "path '%s' args '%s': input table answers kind %d "
                   "status %d '%s' (%s:%u), dumped table kind %d status %d "
                   "'%s' (line %u); dump:\n%s", fuzz_show(p, path, len),
                   args ? fuzz_show(p, args, strlen(args)) : "(null)",
                   (int)r1.kind, rr_match_status(&m1, 307),
                   l1 ? fuzz_show(p, l1, strlen(l1)) : "(null)", r1.file,
                   r1.line, (int)r2.kind, rr_match_status(&m2, 307),
                   l2 ? fuzz_show(p, l2, strlen(l2)) : "(null)", r2.line,
                   fuzz_show(p, dump, strlen(dump)));
    }
}

static const rr_table *parse(apr_pool_t *p, const rr_options *opt,
                             const char *name, const char *buf, size_t len,
                             rr_diag *d)
{
    rr_builder *b = rr_builder_create(p, opt);
    rr_builder_add_buffer(b, name, buf, len, d);
    return rr_builder_freeze(b, p, d);
}

static void check_counts(apr_pool_t *p, const rr_table *t1,
                         const rr_table *t2, const char *dump)
{
    apr_array_header_t *hosts = apr_array_make(p, 1, sizeof(const char *));
    rr_diag *d1 = rr_diag_create(p), *d2 = rr_diag_create(p);
    rr_set *s1 = rr_set_create(p, 1), *s2 = rr_set_create(p, 1);
    apr_status_t rv1, rv2;
    APR_ARRAY_PUSH(hosts, const char *) = "example.com";
    rr_set_add(s1, t1);
    rr_set_add(s2, t2);
    rv1 = rr_set_check(s1, hosts, RR_CHAINS_WARN, d1);
    rv2 = rr_set_check(s2, hosts, RR_CHAINS_WARN, d2);
    FUZZ_CHECK(rv1 == rv2 && d1->errors == d2->errors
               && d1->warnings == d2->warnings,
               "chain check: input table rv %d, %d errors, %d warnings%s%s; "
               "dumped table rv %d, %d errors, %d warnings%s%s; dump:\n%s",
               rv1, d1->errors, d1->warnings,
               d1->errors ? ", first: " : "",
               d1->errors ? fuzz_diag_msg(d1, 1, 0) : "",
               rv2, d2->errors, d2->warnings,
               d2->errors ? ", first: " : "",
               d2->errors ? fuzz_diag_msg(d2, 1, 0) : "",
               fuzz_show(p, dump, strlen(dump)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    rr_options opt;
    rr_diag *d;
    const rr_table *t1, *t2;
    rr_set *s1, *s2;
    const char *dump, *dump2, *text;
    uint32_t n, i;
    size_t pos;
    int probes;

    if (size < 1)
        return 0;
    p = fuzz_pool();
    memset(&opt, 0, sizeof(opt));
    opt.case_insensitive = data[0] & 1;
    opt.trailing_strict = (data[0] >> 1) & 1;
    text = apr_pstrmemdup(p, (const char *)data + 1, size - 1);
    d = rr_diag_create(p);
    t1 = parse(p, &opt, "in.rules", text, size - 1, d);
    if (!t1) {
        apr_pool_destroy(p);
        return 0;
    }
    n = rr_table_count(t1);
    dump = rr_table_dump(t1, p);
    FUZZ_CHECK(fuzz_count_lines(dump, strlen(dump)) == n
               && (n == 0 || dump[strlen(dump) - 1] == '\n'),
               "dump of %u rules has %u lines:\n%s", n,
               fuzz_count_lines(dump, strlen(dump)),
               fuzz_show(p, dump, strlen(dump)));

    d = rr_diag_create(p);
    t2 = parse(p, &opt, "dump.rules", dump, strlen(dump), d);
    FUZZ_CHECK(t2 != NULL, "the dump does not parse: %s\ndump:\n%s",
               d->errors ? fuzz_diag_msg(d, 1, 0) : "?",
               fuzz_show(p, dump, strlen(dump)));
    FUZZ_CHECK(d->warnings == 0, "the dump has duplicates: %s\n"
               "dump:\n%s", fuzz_diag_msg(d, 0, 0),
               fuzz_show(p, dump, strlen(dump)));
    FUZZ_CHECK(rr_table_count(t2) == n, "%u rules, %u after the round trip",
               n, rr_table_count(t2));

    for (i = 0; i < n; i++) {
        rr_rule_info r1, r2;
        rr_table_rule(t1, i, p, &r1);
        rr_table_rule(t2, i, p, &r2);
        FUZZ_CHECK(r1.kind == r2.kind && r1.flags == r2.flags
                   && r1.status == r2.status && same_str(r1.source, r2.source)
                   && same_str(r1.query, r2.query)
                   && same_str(r1.target, r2.target)
                   && same_str(r1.host, r2.host)
                   && same_str(r1.scheme, r2.scheme)
                   && r1.from == r2.from && r1.until == r2.until
                   && r2.line == i + 1,
                   "rule %u (%s:%u) '%s' '%s' '%s' kind %d flags %u status "
                   "%d came back as '%s' '%s' '%s' kind %d flags %u status %d "
                   "(line %u)", i, r1.file, r1.line,
                   fuzz_show(p, r1.source, strlen(r1.source)),
                   r1.query ? r1.query : "-", r1.target ? r1.target : "-",
                   (int)r1.kind, r1.flags, r1.status,
                   fuzz_show(p, r2.source, strlen(r2.source)),
                   r2.query ? r2.query : "-", r2.target ? r2.target : "-",
                   (int)r2.kind, r2.flags, r2.status, r2.line);
    }
    dump2 = rr_table_dump(t2, p);
    FUZZ_CHECK(strcmp(dump, dump2) == 0, "dump not idempotent:\n%s\n--\n%s",
               fuzz_show(p, dump, strlen(dump)),
               fuzz_show(p, dump2, strlen(dump2)));

    s1 = rr_set_create(p, 1);
    s2 = rr_set_create(p, 1);
    rr_set_add(s1, t1);
    rr_set_add(s2, t2);

    /* Probes from the rules themselves. */
    for (i = 0; i < n && i < MAX_RULE_PROBES; i++) {
        rr_rule_info r;
        const char *src, *paths[4], *argv[3];
        char *up;
        int a, k;
        size_t j;
        rr_table_rule(t1, i, p, &r);
        src = *r.source ? r.source : "/";
        up = apr_pstrdup(p, src);
        for (j = 0; up[j]; j++) {
            if (up[j] >= 'a' && up[j] <= 'z')
                up[j] = (char)(up[j] - 32);
        }
        /* a pattern's source is a path it matches (each capture its own
         * name); its upper-cased probe gives every capture a value */
        paths[0] = src;
        paths[1] = apr_pstrcat(p, r.source, "/x", NULL);
        paths[2] = apr_pstrcat(p, r.source, "/", NULL);
        paths[3] = up;
        argv[0] = r.query;
        argv[1] = NULL;
        argv[2] = "a=1&utm=%20x";
        for (k = 0; k < 4; k++) {
            for (a = 0; a < 3; a++)
                probe(p, s1, s2, r.scheme ? r.scheme : "http", host_of(p, &r),
                      paths[k], strlen(paths[k]), argv[a], dump);
        }
    }

    /* Probes from the input: every token starting with '/'. */
    probes = 0;
    pos = 0;
    while (pos < size - 1 && probes < MAX_INPUT_PROBES) {
        size_t end = pos, q;
        const char *args = NULL;
        char *tok;
        if (text[pos] != '/' || (pos > 0 && text[pos - 1] != ' '
                                 && text[pos - 1] != '\t'
                                 && text[pos - 1] != '\n')) {
            pos++;
            continue;
        }
        while (end < size - 1 && text[end] != ' ' && text[end] != '\t'
               && text[end] != '\n' && text[end] != '\r' && text[end] != '\0')
            end++;
        tok = apr_pstrmemdup(p, text + pos, end - pos);
        q = strcspn(tok, "?");
        if (tok[q] == '?') {
            tok[q] = '\0';
            args = tok + q + 1;
        }
        probe(p, s1, s2, NULL, NULL, tok, q, args, dump);
        probes++;
        pos = end;
    }

    check_counts(p, t1, t2, dump);
    apr_pool_destroy(p);
    return 0;
}
