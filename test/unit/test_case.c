/*
 * test_case.c - case sensitivity: rules match case-sensitively unless the
 * rule has nocase or the table is case-insensitive (MatchCase Off); a
 * case-sensitive rule beats a nocase one; queries are always
 * case-sensitive; what is carried keeps the request's case.
 */
#include "helpers.h"

START_TEST(case_sensitive_by_default)
{
    static const lookup_case cases[] = {
        { "/Legal", NULL, "301 " BASE "/legal" },
        { "/legal", NULL, "no match" },
        { "/LEGAL", NULL, "no match" },
        { "/Docs/A", NULL, "307 " BASE "/d/A" },
        { "/docs/a", NULL, "no match" },
    };

    check_answers(set_from("/Legal /legal 301\n/Docs/* /d/*\n"), cases);
}
END_TEST

START_TEST(case_nocase_flag_ignores_case)
{
    static const lookup_case cases[] = {
        { "/Legal", NULL, "301 " BASE "/New-Legal" },
        { "/legal", NULL, "301 " BASE "/New-Legal" },
        { "/LEGAL", NULL, "301 " BASE "/New-Legal" },
        { "/lEgAl", NULL, "301 " BASE "/New-Legal" },
        { "/legals", NULL, "no match" },
        { "/Other", NULL, "307 " BASE "/o" },
        { "/other", NULL, "no match" },
    };

    check_answers(set_from("/Legal /New-Legal 301 nocase\n/Other /o\n"),
                  cases);
}
END_TEST

START_TEST(case_insensitive_table_option)
{
    static const lookup_case cases[] = {
        { "/legal", NULL, "301 " BASE "/New-Legal" },
        { "/LEGAL", NULL, "301 " BASE "/New-Legal" },
        { "/other", NULL, "307 " BASE "/o" },
        { "/DOCS/Read/Me", NULL, "307 " BASE "/d/Read/Me" },
    };

    check_answers(set_from_opt("/Legal /New-Legal 301\n/Other /o\n"
                               "/docs/* /d/*\n", &opt_nocase), cases);
}
END_TEST

START_TEST(case_sensitive_rule_beats_nocase)
{
    static const lookup_case cases[] = {
        { "/Legal", NULL, "307 " BASE "/sensitive" },
        { "/legal", NULL, "307 " BASE "/folded" },
        { "/LEGAL", NULL, "307 " BASE "/folded" },
    };

    check_answers(set_from("/legal /folded nocase\n/Legal /sensitive\n"),
                  cases);
    check_answers(set_from("/Legal /sensitive\n/legal /folded nocase\n"),
                  cases);
}
END_TEST

START_TEST(case_nocase_prefix_keeps_request_case_in_carry)
{
    static const lookup_case cases[] = {
        { "/DOCS/Read/Me", NULL, "307 " BASE "/d/Read/Me" },
        { "/docs/a", NULL, "307 " BASE "/d/a" },
        { "/DocsX/a", NULL, "no match" },
    };

    check_answers(set_from("/Docs/* /d/* nocase\n"), cases);
}
END_TEST

START_TEST(case_query_values_always_sensitive)
{
    static const lookup_case cases[] = {
        { "/index", "id=Abc", "307 " BASE "/q" },
        { "/INDEX", "id=Abc", "307 " BASE "/q" },
        { "/index", "id=abc", "no match" },
        { "/index", "ID=Abc", "no match" },
    };

    check_answers(set_from("/Index?id=Abc /q nocase\n"), cases);
    check_answers(set_from_opt("/Index?id=Abc /q\n", &opt_nocase), cases);
}
END_TEST

START_TEST(case_nocase_flag_reported)
{
    rr_set *s = set_from("/Legal /legal 301 nocase\n");
    rr_match m = lookup_or_fail(s, "/LEGAL", NULL);
    rr_rule_info info;

    rr_match_rule(&m, tp, &info);
    ck_assert_uint_eq(info.flags & RR_FLAG_NOCASE, RR_FLAG_NOCASE);
}
END_TEST

START_TEST(case_nocase_rule_leaves_its_own_target_alone)
{
    /* SPEC's own example: "/Legal /legal 301 nocase" must not send /legal
     * to itself (that would be a redirect loop at request time), and is
     * not a configuration error either. */
    static const lookup_case cases[] = {
        { "/Legal", NULL, "301 " BASE "/legal" },
        { "/LEGAL", NULL, "301 " BASE "/legal" },
        { "/legal", NULL, "no match" },
    };
    rr_set *s = set_from("/Legal /legal 301 nocase\n");
    rr_diag *d = diag_new();

    check_answers(s, cases);
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(diag_nerrors(d) == 0 && diag_nwarnings(d) == 0, "%s",
                  diag_dump(d));
}
END_TEST

Suite *case_suite(void)
{
    Suite *s = suite_create("case");
    TCase *tc = unit_tcase("case");

    tcase_add_test(tc, case_sensitive_by_default);
    tcase_add_test(tc, case_nocase_flag_ignores_case);
    tcase_add_test(tc, case_insensitive_table_option);
    tcase_add_test(tc, case_sensitive_rule_beats_nocase);
    tcase_add_test(tc, case_nocase_prefix_keeps_request_case_in_carry);
    tcase_add_test(tc, case_query_values_always_sensitive);
    tcase_add_test(tc, case_nocase_flag_reported);
    tcase_add_test(tc, case_nocase_rule_leaves_its_own_target_alone);
    suite_add_tcase(s, tc);
    return s;
}
