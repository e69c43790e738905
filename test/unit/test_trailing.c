/*
 * test_trailing.c - TrailingSlash Ignore (default): "/a" and "/a/" are the
 * same source and both requests match it; Strict: they differ.  "/" is
 * always "/".
 */
#include "helpers.h"

START_TEST(trailing_ignore_rule_without_slash_matches_both)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/x" },
        { "/a/", NULL, "307 " BASE "/x" },
        { "/a/b", NULL, "no match" },
    };

    check_answers(set_from("/a /x\n"), cases);
}
END_TEST

START_TEST(trailing_ignore_rule_with_slash_matches_both)
{
    static const lookup_case cases[] = {
        { "/b", NULL, "307 " BASE "/y/" },
        { "/b/", NULL, "307 " BASE "/y/" },
        { "/c/d", NULL, "301 " BASE "/z" },
        { "/c/d/", NULL, "301 " BASE "/z" },
    };

    check_answers(set_from("/b/ /y/\n/c/d/ /z 301\n"), cases);
}
END_TEST

START_TEST(trailing_strict_distinguishes_slash)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/x" },
        { "/a/", NULL, "no match" },
        { "/b/", NULL, "307 " BASE "/y" },
        { "/b", NULL, "no match" },
        { "/c", NULL, "307 " BASE "/no-slash" },
        { "/c/", NULL, "307 " BASE "/slash" },
    };

    check_answers(set_from_opt("/a /x\n/b/ /y\n/c /no-slash\n/c/ /slash\n",
                               &opt_strict), cases);
}
END_TEST

START_TEST(trailing_root_is_always_root)
{
    static const lookup_case cases[] = {
        { "/", NULL, "307 " BASE "/home" },
        { "/a", NULL, "no match" },
    };

    check_answers(set_from("/ /home\n"), cases);
    check_answers(set_from_opt("/ /home\n", &opt_strict), cases);
}
END_TEST

START_TEST(trailing_prefix_matches_slash_in_both_modes)
{
    static const lookup_case cases[] = {
        { "/docs", NULL, "307 " BASE "/d/" },
        { "/docs/", NULL, "307 " BASE "/d/" },
        { "/docs/a/", NULL, "307 " BASE "/d/a/" },
    };

    check_answers(set_from("/docs/* /d/*\n"), cases);
    check_answers(set_from_opt("/docs/* /d/*\n", &opt_strict), cases);
}
END_TEST

START_TEST(trailing_ignore_applies_to_query_and_nocase_rules)
{
    static const lookup_case cases[] = {
        { "/p/", "a=1", "307 " BASE "/q" },
        { "/p", "a=1", "307 " BASE "/q" },
        { "/LEGAL/", NULL, "307 " BASE "/l" },
    };

    check_answers(set_from("/p?a=1 /q\n/legal /l nocase\n"), cases);
}
END_TEST

START_TEST(trailing_ignore_rule_to_other_spelling_leaves_target_alone)
{
    /* Under Ignore "/a/ /a" canonicalises: /a/ goes to /a, and /a itself
     * must not be sent to /a again. */
    static const lookup_case cases[] = {
        { "/a/", NULL, "301 " BASE "/a" },
        { "/a", NULL, "no match" },
        { "/b", NULL, "301 " BASE "/b/" },
        { "/b/", NULL, "no match" },
    };
    rr_set *s = set_from("/a/ /a 301\n/b /b/ 301\n");
    rr_diag *d = diag_new();

    check_answers(s, cases);
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(diag_nerrors(d) == 0, "%s", diag_dump(d));
}
END_TEST

Suite *trailing_suite(void)
{
    Suite *s = suite_create("trailing");
    TCase *tc = unit_tcase("trailing");

    tcase_add_test(tc, trailing_ignore_rule_without_slash_matches_both);
    tcase_add_test(tc, trailing_ignore_rule_with_slash_matches_both);
    tcase_add_test(tc, trailing_strict_distinguishes_slash);
    tcase_add_test(tc, trailing_root_is_always_root);
    tcase_add_test(tc, trailing_prefix_matches_slash_in_both_modes);
    tcase_add_test(tc, trailing_ignore_applies_to_query_and_nocase_rules);
    tcase_add_test(tc, trailing_ignore_rule_to_other_spelling_leaves_target_alone);
    suite_add_tcase(s, tc);
    return s;
}
