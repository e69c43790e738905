/*
 * test_prefix.c - prefix rules (a SOURCE ending in slash-star): the path
 * itself and everything below it on segment boundaries; the longest prefix
 * wins; '*' in TARGET carries the rest; very deep request paths.
 */
#include "helpers.h"

START_TEST(prefix_matches_path_and_below_on_segments)
{
    static const lookup_case cases[] = {
        { "/docs", NULL, "301 https://docs.example.com/v2/" },
        { "/docs/", NULL, "301 https://docs.example.com/v2/" },
        { "/docs/a", NULL, "301 https://docs.example.com/v2/a" },
        { "/docs/a/b", NULL, "301 https://docs.example.com/v2/a/b" },
        { "/docs/a/b/", NULL, "301 https://docs.example.com/v2/a/b/" },
        { "/docsx", NULL, "no match" },
        { "/docs-old/a", NULL, "no match" },
        { "/doc", NULL, "no match" },
        { "/", NULL, "no match" },
        { "/x/docs/a", NULL, "no match" },
    };

    check_answers(set_from("/docs/* https://docs.example.com/v2/* 301\n"),
                  cases);
}
END_TEST

START_TEST(prefix_longest_wins)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/1/" },
        { "/a/x", NULL, "307 " BASE "/1/x" },
        { "/a/bc", NULL, "307 " BASE "/1/bc" },
        { "/a/b", NULL, "307 " BASE "/2/" },
        { "/a/b/x/y", NULL, "307 " BASE "/2/x/y" },
        { "/a/b/c", NULL, "307 " BASE "/3/" },
        { "/a/b/c/d/e", NULL, "307 " BASE "/3/d/e" },
        { "/a/b/cd", NULL, "307 " BASE "/2/cd" },
        { "/other", NULL, "307 " BASE "/root/other" },
    };

    check_answers(set_from("/* /root/*\n/a/* /1/*\n/a/b/* /2/*\n"
                           "/a/b/c/* /3/*\n"), cases);
    check_answers(set_from("/a/b/c/* /3/*\n/a/b/* /2/*\n/a/* /1/*\n"
                           "/* /root/*\n"), cases);
}
END_TEST

START_TEST(prefix_longest_wins_across_tables)
{
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, table_from("vhost.map", LIT("/a/* /own/*\n"), &opt_default,
                             NULL));
    rr_set_mark_inherited(s);
    rr_set_add(s, table_from("main.map", LIT("/a/b/* /main/*\n/a/* /x/*\n"),
                             &opt_default, NULL));
    ck_assert_str_eq(answer(s, "/a/b/c", NULL), "307 " BASE "/main/c");
    ck_assert_str_eq(answer(s, "/a/c", NULL), "307 " BASE "/own/c");
}
END_TEST

START_TEST(prefix_root_star_matches_every_path)
{
    static const lookup_case cases[] = {
        { "/", NULL, "301 https://new.example/" },
        { "/a", NULL, "301 https://new.example/a" },
        { "/a/b/c.html", NULL, "301 https://new.example/a/b/c.html" },
    };

    check_answers(set_from("/* https://new.example/* 301\n"), cases);
}
END_TEST

/* SPEC "Prefix targets": a '*' that follows any byte but '/' takes the
 * rest with its leading slash, and nothing for the prefix itself, as
 * mod_alias answers "Redirect /perm http://x.example/alias". */
START_TEST(prefix_star_after_non_slash_carries_the_slash)
{
    static const lookup_case cases[] = {
        { "/perm", NULL, "307 http://x.example/alias" },
        { "/perm/", NULL, "307 http://x.example/alias/" },
        { "/perm/a", NULL, "307 http://x.example/alias/a" },
        { "/perm/a/b/", NULL, "307 http://x.example/alias/a/b/" },
        { "/perm/a b", NULL, "307 http://x.example/alias/a%20b" },
        { "/perm/a", "x=1", "307 http://x.example/alias/a?x=1" },
        { "/permx", NULL, "no match" },
        { "/t", NULL, "307 " BASE "/index.html" },
        { "/t/", NULL, "307 " BASE "/index.html/" },
        { "/t/x", NULL, "307 " BASE "/index.html/x" },
        { "/q/a", NULL, "307 " BASE "/new/a?k=v" },
        { "/q", NULL, "307 " BASE "/new?k=v" },
    };

    check_answers(set_from("/perm/* http://x.example/alias*\n"
                           "/t/* /index.html*\n"
                           "/q/* /new*?k=v\n"), cases);
}
END_TEST

START_TEST(prefix_root_star_after_non_slash)
{
    static const lookup_case cases[] = {
        { "/", NULL, "301 https://new.example/site/" },
        { "/a/b", NULL, "301 https://new.example/site/a/b" },
    };

    check_answers(set_from("/* https://new.example/site* 301\n"), cases);
}
END_TEST

START_TEST(prefix_target_without_star_is_fixed)
{
    static const lookup_case cases[] = {
        { "/old", NULL, "307 " BASE "/new" },
        { "/old/a/b", NULL, "307 " BASE "/new" },
        { "/shop/x", "k=v", "302 https://shop.example/?k=v" },
    };

    check_answers(set_from("/old/* /new\n/shop/* https://shop.example/ 302\n"),
                  cases);
}
END_TEST

START_TEST(prefix_star_before_query_or_fragment)
{
    static const lookup_case cases[] = {
        { "/q/a/b", NULL, "307 " BASE "/n/a/b?lang=en" },
        { "/f/a", NULL, "307 " BASE "/n/a#top" },
        { "/f/a", "x=1", "307 " BASE "/n/a?x=1#top" },
        { "/qf/a", NULL, "307 " BASE "/n/a?lang=en#top" },
    };

    check_answers(set_from("/q/* /n/*?lang=en\n/f/* /n/*#top\n"
                           "/qf/* /n/*?lang=en#top\n"), cases);
}
END_TEST

START_TEST(prefix_status_410_and_default)
{
    static const lookup_case cases[] = {
        { "/gone/x", NULL, "410" },
        { "/gone", NULL, "410" },
        { "/moved/x", NULL, "307 " BASE "/to/x" },
    };

    check_answers(set_from("/gone/* -\n/moved/* /to/*\n"), cases);
}
END_TEST

START_TEST(prefix_match_reports_tail_and_origin)
{
    rr_set *s = set_from("/a /b\n/docs/* /v2/*\n");
    rr_match m = lookup_or_fail(s, "/docs/a/b", NULL);
    rr_rule_info info;

    ck_assert_uint_eq(m.tail, 6);
    ck_assert_str_eq(rr_match_origin(&m, tp), "rules.map:2");
    rr_match_rule(&m, tp, &info);
    ck_assert_int_eq(info.kind, RR_KIND_PREFIX);
}
END_TEST

START_TEST(prefix_found_in_100000_segment_path)
{
    const char *deep = apr_pstrcat(tp, "/deep", repeat("/s", 100000), NULL);
    const char *srcs = apr_pstrcat(tp, repeat("/s", 100000), NULL);
    rr_set *s = set_from("/deep/* /x/*\n/s/s/s/* /three/*\n/exact /e\n");
    const char *want, *got;

    got = answer(s, deep, NULL);
    want = apr_pstrcat(tp, "307 " BASE "/x/", deep + 6, NULL);
    ck_assert_msg(strcmp(got, want) == 0, "100,000 segments under /deep/*: "
                  "got %zu bytes starting \"%.60s\"", strlen(got), got);
    got = answer(s, srcs, NULL);
    want = apr_pstrcat(tp, "307 " BASE "/three/", srcs + 7, NULL);
    ck_assert_msg(strcmp(got, want) == 0, "100,000 segments under /s/s/s/*: "
                  "got %zu bytes starting \"%.60s\"", strlen(got), got);
}
END_TEST

START_TEST(prefix_deep_path_without_rule_is_no_match)
{
    rr_set *s = set_from("/deep/* /x/*\n/a /b\n/s/t/* /u/*\n");
    const char *paths[] = {
        apr_pstrcat(tp, "/other", repeat("/s", 100000), NULL),
        repeat("/s", 100000),
        repeat("/", 100000),
        apr_pstrcat(tp, "/", repeat("a", 200000), NULL),
    };
    size_t i;

    for (i = 0; i < NELTS(paths); i++)
        ck_assert_msg(strcmp(answer(s, paths[i], NULL), "no match") == 0,
                      "deep path %zu matched", i);
}
END_TEST

START_TEST(prefix_root_rule_with_100000_empty_segments)
{
    rr_set *s = set_from("/* /r/*\n");
    const char *path = repeat("/", 100000);
    const char *got = answer(s, path, NULL);

    ck_assert_msg(starts_with(got, "307 " BASE "/r/"), "got \"%.60s\"", got);
    ck_assert_int_eq(first_unsafe_byte(got + 4), -1);
}
END_TEST

Suite *prefix_suite(void)
{
    Suite *s = suite_create("prefix");
    TCase *tc = unit_tcase("prefix");

    tcase_add_test(tc, prefix_matches_path_and_below_on_segments);
    tcase_add_test(tc, prefix_longest_wins);
    tcase_add_test(tc, prefix_longest_wins_across_tables);
    tcase_add_test(tc, prefix_root_star_matches_every_path);
    tcase_add_test(tc, prefix_target_without_star_is_fixed);
    tcase_add_test(tc, prefix_star_before_query_or_fragment);
    tcase_add_test(tc, prefix_status_410_and_default);
    tcase_add_test(tc, prefix_match_reports_tail_and_origin);
    tcase_add_test(tc, prefix_found_in_100000_segment_path);
    tcase_add_test(tc, prefix_deep_path_without_rule_is_no_match);
    tcase_add_test(tc, prefix_root_rule_with_100000_empty_segments);
    tcase_add_test(tc, prefix_star_after_non_slash_carries_the_slash);
    tcase_add_test(tc, prefix_root_star_after_non_slash);
    suite_add_tcase(s, tc);
    return s;
}
