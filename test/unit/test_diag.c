/*
 * test_diag.c - structured diagnostics: every entry carries its kind and
 * the FILE:LINE of every place involved, so that httpd, the CLI and these
 * tests can act on kinds and places without reading the wording.
 */
#include "helpers.h"

static apr_array_header_t *hosts_of(const char *a)
{
    apr_array_header_t *h = apr_array_make(tp, 1, sizeof(const char *));

    APR_ARRAY_PUSH(h, const char *) = a;
    return h;
}

/* The only entry of d, asserting there is exactly one of `kind`. */
static const rr_diag_entry *only_entry(const rr_diag *d, rr_diag_kind kind)
{
    const rr_diag_entry *e;

    ck_assert_msg(d->entries->nelts == 1, "want one entry:%s", diag_dump(d));
    e = rr_diag_get(d, 0);
    ck_assert_msg(e->kind == kind, "kind %s, want %s:%s",
                  rr_diag_kind_name(e->kind), rr_diag_kind_name(kind),
                  diag_dump(d));
    return e;
}

START_TEST(diag_parse_error_places_its_line)
{
    rr_diag *d = parse_expect_errors("bad.map", LIT("/ok /fine\n\nnope /x\n"),
                                     &opt_default);
    const rr_diag_entry *e = only_entry(d, RR_DIAG_ERROR);

    ck_assert_str_eq(diag_places(e), "bad.map:3");
    ck_assert_int_eq(d->errors, 1);
    ck_assert_int_eq(d->warnings, 0);
    ck_assert(rr_diag_is_error(e->kind));
}
END_TEST

START_TEST(diag_unreadable_file_places_the_file_at_line_0)
{
    rr_diag *d = diag_new();
    rr_table *t = rr_table_load_file(tp, "/nonexistent/r307.map",
                                     &opt_default, d);
    const rr_diag_entry *e;

    ck_assert_ptr_null(t);
    e = only_entry(d, RR_DIAG_ERROR);
    ck_assert_str_eq(diag_places(e), "/nonexistent/r307.map:0");
}
END_TEST

START_TEST(diag_duplicate_places_ignored_line_then_first)
{
    rr_diag *d = diag_new();
    const rr_diag_entry *e;

    table_from("dup.map", LIT("/a /x\n/b /y\n/a /z\n"), &opt_default, d);
    e = only_entry(d, RR_DIAG_DUPLICATE);
    ck_assert_str_eq(diag_places(e), "dup.map:3 dup.map:1");
    ck_assert(!rr_diag_is_error(e->kind));
    ck_assert_int_eq(d->warnings, 1);
}
END_TEST

START_TEST(diag_duplicate_across_files_places_both_files)
{
    rr_diag *d = diag_new();
    rr_set *s = rr_set_create(tp, 2);

    rr_set_add(s, table_from("one.map", LIT("/a /x\n"), &opt_default, NULL));
    rr_set_add(s, table_from("two.map", LIT("/q /r\n/a /y\n"), &opt_default,
                             NULL));
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_str_eq(diag_places(only_entry(d, RR_DIAG_DUPLICATE)),
                     "two.map:2 one.map:1");
}
END_TEST

START_TEST(diag_chain_places_every_hop_in_order)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/c /d\n/a /b\n/b /c\n");

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_str_eq(diag_places(only_entry(d, RR_DIAG_CHAIN)),
                     "rules.map:2 rules.map:3 rules.map:1");
}
END_TEST

START_TEST(diag_uncollapsed_chain_is_its_own_kind)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/old/* /mid/*\n/mid/* /new/*\n");

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_COLLAPSE, d),
                     APR_SUCCESS);
    ck_assert_str_eq(diag_places(only_entry(d, RR_DIAG_UNCOLLAPSED)),
                     "rules.map:1 rules.map:2");
    ck_assert_int_eq(d->found[RR_DIAG_CHAIN], 0);
}
END_TEST

START_TEST(diag_loop_places_every_rule_and_closes)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/x /y\n/a /b\n/b /c\n/c /a\n");
    const rr_diag_entry *e;

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_EINVAL);
    ck_assert_msg(d->errors == 1, "%s", diag_dump(d));
    e = diag_entry(d, 1, 0);
    ck_assert_int_eq(e->kind, RR_DIAG_LOOP);
    ck_assert_str_eq(diag_places(e),
                     "rules.map:2 rules.map:3 rules.map:4 rules.map:2");
}
END_TEST

START_TEST(diag_kind_names_are_stable)
{
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_ERROR), "error");
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_DUPLICATE), "duplicate");
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_CHAIN), "chain");
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_UNCOLLAPSED), "uncollapsed");
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_LOOP), "loop");
    ck_assert(rr_diag_is_error(RR_DIAG_LOOP));
    ck_assert(!rr_diag_is_error(RR_DIAG_CHAIN));
}
END_TEST

START_TEST(diag_caps_count_what_they_drop)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    const char *text = repeat("nope\n", 30);

    d->max_errors = 5;
    ck_assert_int_eq(rr_builder_add_buffer(b, "many.map", text, strlen(text),
                                           d), APR_EINVAL);
    ck_assert_int_eq(d->errors, 5);
    ck_assert_int_eq(d->entries->nelts, 5);
    /* parsing stops at the cap, so nothing past it was even found */
    ck_assert_int_eq(d->found[RR_DIAG_ERROR], 5);
    ck_assert_int_eq(d->dropped, 0);
}
END_TEST

START_TEST(diag_messages_copies_by_severity)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/a /b\n/b /c\n/a /z\n");
    apr_array_header_t *w;

    rr_set_check(s, NULL, RR_CHAINS_WARN, d);
    w = rr_diag_messages(d, 0, tp);
    ck_assert_int_eq(w->nelts, d->warnings);
    ck_assert_int_eq(rr_diag_messages(d, 1, tp)->nelts, 0);
    ck_assert_str_eq(APR_ARRAY_IDX(w, 0, const char *),
                     diag_warning(d, 0));
}
END_TEST

/* A target naming this server by a bracketed IPv6 literal and a port is
 * on this host, as any other host with a port. */
START_TEST(chains_follow_bracketed_ipv6_host_with_port)
{
    static const char *const names[] = { "[::1]", "::1" };
    size_t k;

    for (k = 0; k < NELTS(names); k++) {
        rr_diag *d = diag_new();
        rr_set *s = set_from("/a http://[::1]:8080/b\n/b /c\n");

        ck_assert_int_eq(rr_set_check(s, hosts_of(names[k]), RR_CHAINS_WARN,
                                      d), APR_SUCCESS);
        ck_assert_str_eq(diag_places(only_entry(d, RR_DIAG_CHAIN)),
                         "rules.map:1 rules.map:2");
    }
}
END_TEST

START_TEST(chains_ipv6_host_of_another_server_is_no_chain)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/a http://[::2]:8080/b\n/b /c\n");

    ck_assert_int_eq(rr_set_check(s, hosts_of("[::1]"), RR_CHAINS_WARN, d),
                     APR_SUCCESS);
    ck_assert_msg(d->entries->nelts == 0, "%s", diag_dump(d));
}
END_TEST

START_TEST(loops_follow_bracketed_ipv6_host)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/a http://[::1]:8443/b\n/b /a\n");

    ck_assert_int_eq(rr_set_check(s, hosts_of("[::1]"), RR_CHAINS_WARN, d),
                     APR_EINVAL);
    ck_assert_str_eq(diag_places(diag_entry(d, 1, 0)),
                     "rules.map:1 rules.map:2 rules.map:1");
}
END_TEST

/* The status page shows sources as written: a nocase or trailing-slash
 * source keeps its spelling next to its key. */
START_TEST(rule_info_keeps_the_spelling_normalising_changed)
{
    rr_table *t = table_from("rules.map", LIT("/Legal /legal 301 nocase\n"
                                              "/a/ /b\n/docs//* /x/*\n"
                                              "/plain /p\n/Case /c\n"),
                             &opt_default, NULL);
    static const char *const want[][2] = {
        { "/legal", "/Legal" }, { "/a", "/a/" }, { "/docs", "/docs/" },
        { "/plain", NULL }, { "/Case", NULL },
    };
    rr_rule_info info;
    uint32_t i;

    for (i = 0; i < NELTS(want); i++) {
        rr_table_rule(t, i, tp, &info);
        ck_assert_str_eq(info.source, want[i][0]);
        if (want[i][1])
            ck_assert_pstr_eq(info.written, want[i][1]);
        else
            ck_assert_ptr_null(info.written);
    }
}
END_TEST

/* Only the entries of kind `kind`, as "FILE:LINE FILE:LINE;..." */
static const char *places_of_kind(const rr_diag *d, rr_diag_kind kind)
{
    const char *out = "";
    int k;

    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (e->kind == kind)
            out = apr_pstrcat(tp, out, *out ? ";" : "", diag_places(e),
                              NULL);
    }
    return out;
}

START_TEST(redundant_rules_name_both_places)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("/docs/* /v2/* 301\n"
                         "/docs/a /v2/a 301\n"            /* redundant */
                         "/docs/b /other 301\n"           /* differs */
                         "/docs/c /v2/c 302\n"            /* status differs */
                         "/Legal /legal 301 nocase\n"
                         "/LEGAL /legal 301\n"            /* nocase twin */
                         "/x/* https://n.example/x* 302\n"
                         "/x/y https://n.example/x/y 302\n" /* redundant */
                         "/x/z https://n.example/x/z 302 qsnone\n"
                         "/x/w https://n.example/x/w 302 until=2099-01-01\n");

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    /* a server start does not look for them: only check does */
    ck_assert_str_eq(places_of_kind(d, RR_DIAG_REDUNDANT), "");
    ck_assert_int_eq(rr_set_find_redundant(s, d), APR_SUCCESS);
    ck_assert_str_eq(places_of_kind(d, RR_DIAG_REDUNDANT),
                     "rules.map:2 rules.map:1;rules.map:6 rules.map:5;"
                     "rules.map:8 rules.map:7");
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_REDUNDANT), "redundant");
}
END_TEST

START_TEST(redundant_query_carry_must_match_too)
{
    rr_diag *d = diag_new();
    /* the prefix carries the query, the exact rule drops it: they differ */
    rr_set *s = set_from("/p/* /q/* 301\n/p/a /q/a 301 qsdrop\n");

    rr_set_check(s, NULL, RR_CHAINS_WARN, d);
    rr_set_find_redundant(s, d);
    ck_assert_str_eq(places_of_kind(d, RR_DIAG_REDUNDANT), "");
}
END_TEST

Suite *diag_suite(void)
{
    Suite *s = suite_create("diagnostics");
    TCase *tc = unit_tcase("diagnostics");

    tcase_add_test(tc, diag_parse_error_places_its_line);
    tcase_add_test(tc, diag_unreadable_file_places_the_file_at_line_0);
    tcase_add_test(tc, diag_duplicate_places_ignored_line_then_first);
    tcase_add_test(tc, diag_duplicate_across_files_places_both_files);
    tcase_add_test(tc, diag_chain_places_every_hop_in_order);
    tcase_add_test(tc, diag_uncollapsed_chain_is_its_own_kind);
    tcase_add_test(tc, diag_loop_places_every_rule_and_closes);
    tcase_add_test(tc, diag_kind_names_are_stable);
    tcase_add_test(tc, diag_caps_count_what_they_drop);
    tcase_add_test(tc, diag_messages_copies_by_severity);
    tcase_add_test(tc, chains_follow_bracketed_ipv6_host_with_port);
    tcase_add_test(tc, chains_ipv6_host_of_another_server_is_no_chain);
    tcase_add_test(tc, loops_follow_bracketed_ipv6_host);
    tcase_add_test(tc, rule_info_keeps_the_spelling_normalising_changed);
    tcase_add_test(tc, redundant_rules_name_both_places);
    tcase_add_test(tc, redundant_query_carry_must_match_too);
    suite_add_tcase(s, tc);
    return s;
}
