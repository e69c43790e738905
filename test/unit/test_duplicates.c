/*
 * test_duplicates.c - a SOURCE defined twice is a warning naming both
 * FILE:LINE places, and the first definition wins; sources that only look
 * alike are distinct rules.
 */
#include "helpers.h"

typedef struct {
    const char *what;
    const char *text;           /* first rule on line 1, duplicate on line 3 */
    const rr_options *opt;
    const char *path, *args;    /* a request both rules match */
} dup_case;

static const dup_case dup_cases[] = {
    { "same text", "/a /first\n/b /x\n/a /second\n", &opt_default, "/a",
      NULL },
    { "encoded and literal", "/caf%C3%A9 /first\n/b /x\n/caf\xc3\xa9 /second\n",
      &opt_default, "/caf\xc3\xa9", NULL },
    { "lower- and upper-case hex", "/x%c3%a9 /first\n/b /x\n"
      "/x%C3%A9 /second\n", &opt_default, "/x\xc3\xa9", NULL },
    { "trailing slash, Ignore", "/a /first\n/b /x\n/a/ /second\n",
      &opt_default, "/a", NULL },
    { "query order", "/i?a=1&b=2 /first\n/b /x\n/i?b=2&a=1 /second\n",
      &opt_default, "/i", "a=1&b=2" },
    { "query escapes", "/i?q=%41 /first\n/b /x\n/i?q=A /second\n",
      &opt_default, "/i", "q=A" },
    { "prefix", "/docs/* /first/*\n/b /x\n/docs/* /second/*\n",
      &opt_default, "/docs/z", NULL },
    { "different status", "/a /first 301\n/b /x\n/a /second 302\n",
      &opt_default, "/a", NULL },
    { "nocase keys folded", "/Legal /first nocase\n/b /x\n/LEGAL /second "
      "nocase\n", &opt_default, "/legal", NULL },
    { "case-insensitive table", "/Legal /first\n/b /x\n/legal /second\n",
      &opt_nocase, "/LEGAL", NULL },
};

START_TEST(duplicates_warn_naming_both_places_first_wins)
{
    const char *bad = "";
    size_t i;

    for (i = 0; i < NELTS(dup_cases); i++) {
        const dup_case *c = &dup_cases[i];
        rr_diag *d = diag_new();
        rr_set *s = set_of(table_from("rules.map", c->text, strlen(c->text),
                                      c->opt, d));
        const char *got = answer(s, c->path, c->args);

        if (diag_nwarnings(d) != 1
            || !starts_with(diag_warning(d, 0), "rules.map:3: ")
            || !contains(diag_warning(d, 0), "duplicate source")
            || !contains(diag_warning(d, 0), "first defined at rules.map:1"))
            bad = apr_psprintf(tp, "%s\n  %s: warnings:%s", bad, c->what,
                               diag_dump(d));
        if (!contains(got, "/first"))
            bad = apr_psprintf(tp, "%s\n  %s: %s answered \"%s\"", bad,
                               c->what, show0(c->path), show0(got));
    }
    ck_assert_msg(*bad == '\0', "duplicates not handled right:%s", bad);
}
END_TEST

START_TEST(duplicates_first_status_and_flags_win)
{
    rr_diag *d = diag_new();
    rr_set *s = set_of(table_from("rules.map",
                                  LIT("/a /first 301 qsdrop\n/a /second 308\n"),
                                  &opt_default, d));

    ck_assert_int_eq(diag_nwarnings(d), 1);
    ck_assert_str_eq(answer(s, "/a", "x=1"), "301 " BASE "/first");
}
END_TEST

START_TEST(duplicates_distinct_sources_no_warning)
{
    static const struct {
        const char *what;
        const char *text;
        const rr_options *opt;
    } cases[] = {
        { "case differs", "/A /1\n/a /2\n", &opt_default },
        { "exact and prefix", "/docs /1\n/docs/* /2\n", &opt_default },
        { "path and query rule", "/i /1\n/i?a=1 /2\n", &opt_default },
        { "query values differ", "/i?a=1 /1\n/i?a=2 /2\n", &opt_default },
        { "query case differs", "/i?a=x /1\n/i?a=X /2\n", &opt_default },
        { "query multiset differs", "/i?a=1 /1\n/i?a=1&a=1 /2\n",
          &opt_default },
        { "trailing slash, Strict", "/a /1\n/a/ /2\n", &opt_strict },
        { "nested prefixes", "/a/* /1\n/a/b/* /2\n", &opt_default },
        { "'+' is not a space", "/i?q=a+b /1\n/i?q=a%20b /2\n", &opt_default },
    };
    const char *bad = "";
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_diag *d = diag_new();
        rr_table *t = table_from("rules.map", cases[i].text,
                                 strlen(cases[i].text), cases[i].opt, d);

        if (diag_nwarnings(d) != 0 || rr_table_count(t) != 2)
            bad = apr_psprintf(tp, "%s\n  %s: %u rules, warnings:%s", bad,
                               cases[i].what, rr_table_count(t),
                               diag_dump(d));
    }
    ck_assert_msg(*bad == '\0', "distinct sources taken as duplicates:%s",
                  bad);
}
END_TEST

START_TEST(duplicates_across_buffers_name_both_files)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    rr_table *t;

    ck_assert_int_eq(rr_builder_add_buffer(b, "a.map", LIT("/x /y\n/a /first\n"),
                                           d), APR_SUCCESS);
    ck_assert_int_eq(rr_builder_add_buffer(b, "b.map", LIT("/a /second\n"), d),
                     APR_SUCCESS);
    t = rr_builder_freeze(b, tp, d);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(diag_nwarnings(d) == 1
                  && starts_with(diag_warning(d, 0), "b.map:1: ")
                  && contains(diag_warning(d, 0), "a.map:2"),
                  "%s", diag_dump(d));
    ck_assert_str_eq(answer(set_of(t), "/a", NULL), "307 " BASE "/first");
}
END_TEST

START_TEST(duplicates_across_own_tables_warn_earlier_wins)
{
    rr_diag *d = diag_new();
    rr_table *t1 = table_from("a.map", LIT("/a /first\n"), &opt_default, d);
    rr_table *t2 = table_from("b.map", LIT("\n/a /second\n"), &opt_default, d);
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, t1);
    rr_set_add(s, t2);
    ck_assert_int_eq(diag_nwarnings(d), 0);
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(diag_nwarnings(d) == 1
                  && starts_with(diag_warning(d, 0), "b.map:2: ")
                  && contains(diag_warning(d, 0), "a.map:1"),
                  "%s", diag_dump(d));
    ck_assert_int_eq(diag_nerrors(d), 0);
    ck_assert_str_eq(answer(s, "/a", NULL), "307 " BASE "/first");
}
END_TEST

START_TEST(duplicates_inherited_table_silent_own_wins)
{
    rr_diag *d = diag_new();
    rr_table *own = table_from("vhost.map", LIT("/a /own\n"), &opt_default, d);
    rr_table *inherited = table_from("main.map", LIT("/a /main\n/b /main-b\n"),
                                &opt_default, d);
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, own);
    rr_set_mark_inherited(s);
    rr_set_add(s, inherited);
    ck_assert_int_eq(rr_set_table_count(s), 2);
    ck_assert_ptr_eq(rr_set_table(s, 0), own);
    ck_assert_ptr_eq(rr_set_table(s, 1), inherited);
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(diag_nwarnings(d) == 0, "%s", diag_dump(d));
    ck_assert_str_eq(answer(s, "/a", NULL), "307 " BASE "/own");
    ck_assert_str_eq(answer(s, "/b", NULL), "307 " BASE "/main-b");
}
END_TEST

Suite *duplicates_suite(void)
{
    Suite *s = suite_create("duplicates");
    TCase *tc = unit_tcase("duplicates");

    tcase_add_test(tc, duplicates_warn_naming_both_places_first_wins);
    tcase_add_test(tc, duplicates_first_status_and_flags_win);
    tcase_add_test(tc, duplicates_distinct_sources_no_warning);
    tcase_add_test(tc, duplicates_across_buffers_name_both_files);
    tcase_add_test(tc, duplicates_across_own_tables_warn_earlier_wins);
    tcase_add_test(tc, duplicates_inherited_table_silent_own_wins);
    suite_add_tcase(s, tc);
    return s;
}
