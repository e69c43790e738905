/*
 * test_regressions.c - one test per defect the fuzzers found, each named
 * after the behaviour it pins (inputs also kept in test/fuzz/regressions).
 */
#include "helpers.h"

/* The slot array must cover every home a probe can start at, even when no
 * rule's home lies near its end: probing every slot start must stay in
 * bounds and miss cleanly. */
START_TEST(lookup_miss_probes_within_slots)
{
    static const char text[] = "/a /b\n/c/* /d/*\n/e?x=1 /f\n";
    rr_set *s = set_from(text);
    char path[32];
    int i;
    for (i = 0; i < 2000; i++) {
        apr_snprintf(path, sizeof(path), "/miss-%d/x", i);
        ck_assert_str_eq(answer(s, path, "y=2"), "no match");
    }
}
END_TEST

/* "/a http://example.com" has no path: the chain check must read the host
 * within the target's length and see "/" on this host, closing the loop
 * / -> /a -> http://example.com/. */
START_TEST(chain_absolute_target_without_path_is_loop)
{
    static const char text[] = "/a http://example.com\n/ /a\n";
    rr_diag *d = diag_new();
    rr_table *t = table_from("rules.map", LIT(text), &opt_default, d);
    rr_set *s = rr_set_create(tp, 1);
    apr_array_header_t *hosts = apr_array_make(tp, 1, sizeof(char *));
    APR_ARRAY_PUSH(hosts, const char *) = "example.com";
    rr_set_add(s, t);
    ck_assert_int_eq(rr_set_check(s, hosts, RR_CHAINS_WARN, d), APR_EINVAL);
    ck_assert_msg(diag_nerrors(d) == 1 && contains(diag_error(d, 0), "loop")
                  && contains(diag_error(d, 0), "rules.map:1")
                  && contains(diag_error(d, 0), "rules.map:2"),
                  "%s", diag_dump(d));
}
END_TEST

/* Once the diag is full, later errors are dropped, not glued onto the
 * last message kept. */
START_TEST(errors_past_the_limit_leave_kept_messages_alone)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    const char *text = "", *second = "/x /y 999\n";
    int i;
    for (i = 1; i <= 25; i++)
        text = apr_psprintf(tp, "%s/e%d\n", text, i);
    d->max_errors = 20;
    rr_builder_add_buffer(b, "a.rules", text, strlen(text), d);
    rr_builder_add_buffer(b, "b.rules", second, strlen(second), d);
    ck_assert_int_eq(diag_nerrors(d), 20);
    for (i = 0; i < 20; i++) {
        const char *want = apr_psprintf(tp, "a.rules:%d: missing TARGET after "
                                        "source '/e%d'", i + 1, i + 1);
        ck_assert_str_eq(diag_error(d, i), want);
    }
}
END_TEST

/* A dump parsed again answers every probe as the original table did. */
static void assert_dump_round_trips(const char *text, const rr_options *opt,
                                    const char *const *paths, size_t n)
{
    rr_diag *d = diag_new();
    rr_table *t = table_from("orig", text, strlen(text), opt, d);
    const char *dump = rr_table_dump(t, tp);
    rr_table *u = table_from("dump", dump, strlen(dump), opt, d);
    rr_set *a = set_of(t), *b = set_of(u);
    size_t i;
    ck_assert_msg(diag_nwarnings(d) == 0, "%s", diag_dump(d));
    for (i = 0; i < n; i++)
        ck_assert_msg(!strcmp(answer(a, paths[i], NULL),
                              answer(b, paths[i], NULL)),
                      "%s: original '%s', dump '%s'\ndump:\n%s", paths[i],
                      answer(a, paths[i], NULL), answer(b, paths[i], NULL),
                      dump);
}

START_TEST(dump_keeps_trailing_slash_canonicaliser)
{
    static const char *const paths[] = { "/about", "/about/", "/about//" };
    assert_dump_round_trips("/about/ /about 301\n", &opt_default, paths,
                            NELTS(paths));
}
END_TEST

START_TEST(dump_keeps_case_canonicaliser)
{
    static const char *const paths[] = { "/legal", "/Legal", "/LEGAL" };
    assert_dump_round_trips("/Legal /legal 301 nocase\n", &opt_default,
                            paths, NELTS(paths));
}
END_TEST

START_TEST(trailing_ignore_treats_repeated_slashes_as_one)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 http://example.com:8080/b" },
        { "/a/", NULL, "307 http://example.com:8080/b" },
        { "/a//", NULL, "307 http://example.com:8080/b" },
    };
    static const char *const paths[] = { "/a", "/a/", "/a//" };
    check_answers(set_from("/a// /b\n"), cases);
    assert_dump_round_trips("/a// /b\n", &opt_default, paths, NELTS(paths));
}
END_TEST

/* A root prefix rule spelled with a double slash and pointing at the root
 * prefix sends everything to itself in another spelling: a canonicaliser
 * that answers nothing, and its dump must stay one. */
START_TEST(dump_keeps_prefix_canonicaliser_without_letters)
{
    static const char *const paths[] = { "/", "/a", "/a/b" };
    assert_dump_round_trips("//* /*\n", &opt_nocase, paths, NELTS(paths));
    ck_assert_str_eq(answer(set_from("//* /*\n"), "/a", NULL), "no match");
}
END_TEST

/* A rule sending its source to itself is a loop; its dump must stay one,
 * not turn into a canonicaliser by respelling the source. */
START_TEST(dump_keeps_self_loop_a_loop)
{
    static const char text[] = "/Shop/ /Shop/ nocase\n";
    rr_diag *d = diag_new();
    rr_table *t = table_from("orig", LIT(text), &opt_default, d);
    const char *dump = rr_table_dump(t, tp);
    rr_table *u = table_from("dump", dump, strlen(dump), &opt_default, d);
    rr_set *a = set_of(t), *b = set_of(u);
    ck_assert_int_eq(rr_set_check(a, NULL, RR_CHAINS_WARN, d), APR_EINVAL);
    ck_assert_int_eq(rr_set_check(b, NULL, RR_CHAINS_WARN, d), APR_EINVAL);
    ck_assert_str_eq(answer(a, "/Shop/", NULL), answer(b, "/Shop/", NULL));
}
END_TEST

/* The carried rest of a path must never land in a target's host, where
 * the request would choose where it is sent (found by fuzz_parse). */
START_TEST(target_host_with_star_is_error)
{
    static const char *const bad[] = {
        "/docs/* https://* nocase\n",
        "/docs/* https://*.example.com/x\n",
        "/a https://ex*ample.com/\n",
    };
    size_t i;
    for (i = 0; i < NELTS(bad); i++) {
        rr_diag *d = parse_expect_errors("rules.map", bad[i], strlen(bad[i]),
                                         &opt_default);
        ck_assert_msg(contains(diag_error(d, 0), "rules.map:1: ")
                      && contains(diag_error(d, 0), "host"),
                      "%s: %s", bad[i], diag_dump(d));
    }
    ck_assert_str_eq(answer(set_from("/docs/* https://d.example/v2/*\n"),
                            "/docs/a", NULL),
                     "307 https://d.example/v2/a");
}
END_TEST

/* Raw UTF-8 stays raw in a dump, so a legal line dumps to a legal line. */
START_TEST(dump_of_long_utf8_source_stays_within_line_limit)
{
    const char *src = "/";
    const char *dump;
    rr_diag *d = diag_new();
    int i;
    for (i = 0; i < 2000; i++)
        src = apr_pstrcat(tp, src, "\xc3\xa9", NULL);
    dump = rr_table_dump(table_from("orig", apr_pstrcat(tp, src, " /x\n",
                                                        NULL),
                                    strlen(src) + 4, &opt_default, d), tp);
    ck_assert_msg(strlen(dump) <= RR_MAX_LINE + 1, "dump is %lu bytes",
                  (unsigned long)strlen(dump));
    table_from("dump", dump, strlen(dump), &opt_default, d);
}
END_TEST

Suite *regressions_suite(void)
{
    Suite *s = suite_create("regressions");
    TCase *tc = unit_tcase("regressions");
    tcase_add_test(tc, lookup_miss_probes_within_slots);
    tcase_add_test(tc, chain_absolute_target_without_path_is_loop);
    tcase_add_test(tc, errors_past_the_limit_leave_kept_messages_alone);
    tcase_add_test(tc, dump_keeps_trailing_slash_canonicaliser);
    tcase_add_test(tc, dump_keeps_case_canonicaliser);
    tcase_add_test(tc, dump_keeps_self_loop_a_loop);
    tcase_add_test(tc, target_host_with_star_is_error);
    tcase_add_test(tc, dump_keeps_prefix_canonicaliser_without_letters);
    tcase_add_test(tc, trailing_ignore_treats_repeated_slashes_as_one);
    tcase_add_test(tc, dump_of_long_utf8_source_stays_within_line_limit);
    suite_add_tcase(s, tc);
    return s;
}
