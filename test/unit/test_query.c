/*
 * test_query.c - query rules ("/index.php?id=42"): they match only that
 * query, parameters compared as a multiset after %XX decoding, and beat the
 * same path without a query.
 */
#include "helpers.h"

START_TEST(query_rule_matches_only_its_query)
{
    static const lookup_case cases[] = {
        { "/index.php", "id=42", "308 " BASE "/products/blue-widget" },
        { "/index.php", "id=43", "no match" },
        { "/index.php", "id=42&x=1", "no match" },
        { "/index.php", "id=4", "no match" },
        { "/index.php", "id", "no match" },
        { "/index.php", "", "no match" },
        { "/index.php", NULL, "no match" },
        { "/index.phpx", "id=42", "no match" },
    };

    check_answers(set_from("/index.php?id=42 /products/blue-widget 308\n"),
                  cases);
}
END_TEST

START_TEST(query_params_order_insensitive)
{
    static const lookup_case cases[] = {
        { "/p", "a=1&b=2", "301 " BASE "/ab" },
        { "/p", "b=2&a=1", "301 " BASE "/ab" },
        { "/p", "a=1&b=2&c=3", "no match" },
        { "/p", "a=1", "no match" },
        { "/p", "a=2&b=1", "no match" },
    };

    check_answers(set_from("/p?a=1&b=2 /ab 301\n"), cases);
}
END_TEST

START_TEST(query_params_compared_as_multiset)
{
    static const lookup_case cases[] = {
        { "/p", "a=1&a=1", "307 " BASE "/twice" },
        { "/p", "a=1", "307 " BASE "/once" },
        { "/p", "a=1&a=1&a=1", "no match" },
        { "/p", "a=1&a=2", "no match" },
    };

    check_answers(set_from("/p?a=1&a=1 /twice\n/p?a=1 /once\n"), cases);
}
END_TEST

START_TEST(query_empty_params_ignored)
{
    static const lookup_case cases[] = {
        { "/p", "a=1&b=2", "307 " BASE "/x" },
        { "/p", "&a=1&&b=2&", "307 " BASE "/x" },
        { "/p", "b=2&&&a=1", "307 " BASE "/x" },
    };

    check_answers(set_from("/p?a=1&&b=2& /x\n"), cases);
}
END_TEST

START_TEST(query_percent_decoded_both_sides)
{
    static const lookup_case cases[] = {
        { "/p", "q=caf%C3%A9", "307 " BASE "/cafe" },
        { "/p", "q=caf%c3%a9", "307 " BASE "/cafe" },
        { "/p", "q=caf\xc3\xa9", "307 " BASE "/cafe" },
        { "/p", "q=cafe", "no match" },
        { "/s", "q=a%20b", "307 " BASE "/space" },
        { "/e", "k=%41", "307 " BASE "/upper-a" },
        { "/e", "%6B=A", "307 " BASE "/upper-a" },
    };

    check_answers(set_from("/p?q=caf%C3%A9 /cafe\n/s?q=a%20b /space\n"
                           "/e?k=A /upper-a\n"), cases);
}
END_TEST

START_TEST(query_plus_is_not_space)
{
    static const lookup_case cases[] = {
        { "/p", "q=a+b", "307 " BASE "/plus" },
        { "/p", "q=a%2Bb", "307 " BASE "/plus" },
        { "/p", "q=a%20b", "no match" },
        { "/p", "q=a b", "no match" },
    };

    check_answers(set_from("/p?q=a+b /plus\n"), cases);
}
END_TEST

START_TEST(query_rule_beats_path_rule)
{
    static const lookup_case cases[] = {
        { "/p", "x=1", "301 " BASE "/query" },
        { "/p", "x=2", "302 " BASE "/plain?x=2" },
        { "/p", NULL, "302 " BASE "/plain" },
        { "/d/q", "x=1", "301 " BASE "/dq" },
        { "/d/q", "x=2", "303 " BASE "/prefix/q?x=2" },
    };

    check_answers(set_from("/p /plain 302\n/p?x=1 /query 301\n"
                           "/d/* /prefix/* 303\n/d/q?x=1 /dq 301\n"), cases);
    check_answers(set_from("/p?x=1 /query 301\n/p /plain 302\n"
                           "/d/q?x=1 /dq 301\n/d/* /prefix/* 303\n"), cases);
}
END_TEST

START_TEST(query_32_params_accepted)
{
    const char *params = "p0=0", *reversed = "p0=0";
    rr_set *s;
    int i;

    for (i = 1; i < RR_MAX_QUERY_PARAMS; i++) {
        params = apr_psprintf(tp, "%s&p%d=%d", params, i, i);
        reversed = apr_psprintf(tp, "p%d=%d&%s", i, i, reversed);
    }
    s = set_from(apr_pstrcat(tp, "/q?", params, " /x qsdrop\n", NULL));
    ck_assert_str_eq(answer(s, "/q", params), "307 " BASE "/x");
    ck_assert_str_eq(answer(s, "/q", reversed), "307 " BASE "/x");
    ck_assert_str_eq(answer(s, "/q", "p0=0"), "no match");
}
END_TEST

START_TEST(query_request_with_many_params_falls_back)
{
    const char *args = apr_pstrcat(tp, "a=1", repeat("&a=1", 9999), NULL);
    rr_set *s = set_from("/p?a=1 /query\n/p /plain qsdrop\n");

    ck_assert_str_eq(answer(s, "/p", args), "307 " BASE "/plain");
    ck_assert_str_eq(answer(s, "/p", repeat("&", 100000)),
                     "307 " BASE "/plain");
}
END_TEST

START_TEST(query_rule_drops_request_args)
{
    static const lookup_case cases[] = {
        { "/i", "id=1", "307 " BASE "/n" },
        { "/j", "id=1", "307 " BASE "/n?z=1" },
        { "/k", "id=1", "307 " BASE "/n?z=1&id=1" },
        { "/l", "id=1", "307 " BASE "/n?id=1" },
        { "/k", "id=1&b=2", "no match" },
    };

    check_answers(set_from("/i?id=1 /n\n/j?id=1 /n?z=1\n"
                           "/k?id=1 /n?z=1 qsappend\n/l?id=1 /n qsappend\n"),
                  cases);
}
END_TEST

Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = unit_tcase("query");

    tcase_add_test(tc, query_rule_matches_only_its_query);
    tcase_add_test(tc, query_params_order_insensitive);
    tcase_add_test(tc, query_params_compared_as_multiset);
    tcase_add_test(tc, query_empty_params_ignored);
    tcase_add_test(tc, query_percent_decoded_both_sides);
    tcase_add_test(tc, query_plus_is_not_space);
    tcase_add_test(tc, query_rule_beats_path_rule);
    tcase_add_test(tc, query_32_params_accepted);
    tcase_add_test(tc, query_request_with_many_params_falls_back);
    tcase_add_test(tc, query_rule_drops_request_args);
    suite_add_tcase(s, tc);
    return s;
}
