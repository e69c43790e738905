/*
 * test_exact.c - exact rules: only the same path matches; an exact rule
 * beats any prefix rule; tables in a set are consulted in order, own
 * before inherited, kind before table.
 */
#include "helpers.h"

START_TEST(exact_matches_only_the_same_path)
{
    static const lookup_case cases[] = {
        { "/old-page", NULL, "307 " BASE "/new-page" },
        { "/old-page", "", "307 " BASE "/new-page" },
        { "/old-pagex", NULL, "no match" },
        { "/old-pag", NULL, "no match" },
        { "/old-page/x", NULL, "no match" },
        { "/old", NULL, "no match" },
        { "/Old-Page", NULL, "no match" },
        { "/x/old-page", NULL, "no match" },
        { "/", NULL, "no match" },
        { "/promo", NULL, "302 https://shop.example.com/sale" },
        { "/retired", NULL, "410" },
        { "/a/b/c", NULL, "308 " BASE "/abc" },
        { "/a/b", NULL, "no match" },
    };
    rr_set *s = set_from("/old-page /new-page\n"
                         "/promo https://shop.example.com/sale 302\n"
                         "/retired - 410\n"
                         "/a/b/c /abc 308\n");

    check_answers(s, cases);
}
END_TEST

START_TEST(exact_root_path)
{
    static const lookup_case cases[] = {
        { "/", NULL, "301 " BASE "/home" },
        { "/x", NULL, "no match" },
    };

    check_answers(set_from("/ /home 301\n"), cases);
}
END_TEST

START_TEST(exact_beats_prefix)
{
    static const lookup_case cases[] = {
        { "/docs/a", NULL, "301 " BASE "/exact" },
        { "/docs/b", NULL, "302 " BASE "/prefix/b" },
        { "/docs", NULL, "308 " BASE "/docs-root" },
        { "/docs/a/b", NULL, "302 " BASE "/prefix/a/b" },
    };

    check_answers(set_from("/docs/* /prefix/* 302\n"
                           "/docs/a /exact 301\n"
                           "/docs /docs-root 308\n"), cases);
    check_answers(set_from("/docs /docs-root 308\n"
                           "/docs/a /exact 301\n"
                           "/docs/* /prefix/* 302\n"), cases);
}
END_TEST

START_TEST(exact_lookup_honours_length)
{
    rr_set *s = set_from("/old-page /new-page\n/old /short\n");

    ck_assert_str_eq(answer_len(s, "/old-page/and-more", 9, NULL),
                     "307 " BASE "/new-page");
    ck_assert_str_eq(answer_len(s, "/old-pageXYZ", 4, NULL),
                     "307 " BASE "/short");
    ck_assert_str_eq(answer_len(s, "/old-page", 8, NULL), "no match");
}
END_TEST

START_TEST(exact_miss_returns_zero)
{
    rr_set *s = set_from("/a /b\n");
    rr_set *empty = rr_set_create(tp, 2);
    rr_match m;

    ck_assert_int_eq(rr_set_lookup(s, "/c", 2, NULL, &m), 0);
    ck_assert_int_eq(rr_set_lookup(s, "/", 1, "a=1", &m), 0);
    ck_assert_int_eq(rr_set_lookup(empty, "/a", 2, NULL, &m), 0);
    ck_assert_int_eq(rr_set_lookup(s, "/a", 2, NULL, &m), 1);
}
END_TEST

START_TEST(exact_many_rules_all_found)
{
    enum { N = 20000 };
    apr_array_header_t *lines = apr_array_make(tp, N, sizeof(const char *));
    const char *text, *bad = "";
    rr_table *t;
    rr_set *s;
    int i;

    for (i = 0; i < N; i++)
        APR_ARRAY_PUSH(lines, const char *) =
            apr_psprintf(tp, "/page/%d /new/%d %s\n", i, i * 7,
                         i % 2 ? "301" : "308");
    text = apr_array_pstrcat(tp, lines, '\0');
    t = table_from("big.map", text, strlen(text), &opt_default, NULL);
    ck_assert_uint_eq(rr_table_count(t), N);
    s = set_of(t);
    for (i = 0; i < N; i++) {
        const char *path = apr_psprintf(tp, "/page/%d", i);
        const char *want = apr_psprintf(tp, "%s " BASE "/new/%d",
                                        i % 2 ? "301" : "308", i * 7);
        const char *got = answer(s, path, NULL);

        if (strcmp(got, want) != 0) {
            bad = apr_psprintf(tp, "%s: got \"%s\", expected \"%s\"", path,
                               got, want);
            break;
        }
    }
    ck_assert_msg(*bad == '\0', "%s", bad);
    ck_assert_str_eq(answer(s, "/page/20000", NULL), "no match");
    ck_assert_str_eq(answer(s, "/page/", NULL), "no match");
}
END_TEST

START_TEST(exact_earlier_table_wins)
{
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, table_from("a.map", LIT("/a /from-a\n"), &opt_default, NULL));
    rr_set_add(s, table_from("b.map", LIT("/a /from-b\n/b /only-b\n"),
                             &opt_default, NULL));
    ck_assert_str_eq(answer(s, "/a", NULL), "307 " BASE "/from-a");
    ck_assert_str_eq(answer(s, "/b", NULL), "307 " BASE "/only-b");
}
END_TEST

START_TEST(exact_own_table_beats_inherited)
{
    rr_set *s = rr_set_create(tp, 4);
    rr_match m;

    rr_set_add(s, table_from("vhost.map", LIT("/a /own\n"), &opt_default,
                             NULL));
    rr_set_mark_inherited(s);
    rr_set_add(s, table_from("main.map", LIT("/a /main\n/b /main-b\n"),
                             &opt_default, NULL));
    ck_assert_str_eq(answer(s, "/a", NULL), "307 " BASE "/own");
    ck_assert_str_eq(answer(s, "/b", NULL), "307 " BASE "/main-b");
    m = lookup_or_fail(s, "/b", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), "main.map:2");
    ck_assert_ptr_eq(m.set, s);
    ck_assert_ptr_eq(m.table, rr_set_table(s, 1));
}
END_TEST

START_TEST(exact_kind_precedence_before_table_order)
{
    /* header: query rule, then exact, then longest prefix; within each,
     * own tables before inherited ones. */
    static const lookup_case cases[] = {
        { "/p", "x=1", "307 " BASE "/inherited-query" },
        { "/p", NULL, "307 " BASE "/inherited-exact" },
        { "/p/q", NULL, "307 " BASE "/own-prefix/q" },
    };
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, table_from("vhost.map", LIT("/p/* /own-prefix/*\n"),
                             &opt_default, NULL));
    rr_set_mark_inherited(s);
    rr_set_add(s, table_from("main.map", LIT("/p?x=1 /inherited-query\n"
                                             "/p /inherited-exact\n"),
                             &opt_default, NULL));
    check_answers(s, cases);
}
END_TEST

START_TEST(exact_args_do_not_stop_a_match)
{
    static const lookup_case cases[] = {
        { "/a", "x=1", "307 " BASE "/b?x=1" },
        { "/a", "anything&at=all", "307 " BASE "/b?anything&at=all" },
    };

    check_answers(set_from("/a /b\n"), cases);
}
END_TEST

Suite *exact_suite(void)
{
    Suite *s = suite_create("exact");
    TCase *tc = unit_tcase("exact");

    tcase_add_test(tc, exact_matches_only_the_same_path);
    tcase_add_test(tc, exact_root_path);
    tcase_add_test(tc, exact_beats_prefix);
    tcase_add_test(tc, exact_lookup_honours_length);
    tcase_add_test(tc, exact_miss_returns_zero);
    tcase_add_test(tc, exact_many_rules_all_found);
    tcase_add_test(tc, exact_earlier_table_wins);
    tcase_add_test(tc, exact_own_table_beats_inherited);
    tcase_add_test(tc, exact_kind_precedence_before_table_order);
    tcase_add_test(tc, exact_args_do_not_stop_a_match);
    suite_add_tcase(s, tc);
    return s;
}
