/*
 * test_ignore.c - ignored parameters (SPEC: Ignored parameters, Query
 * modes): tracking parameters are left out when query rules compare,
 * passed through to the Location after the target's own query in the
 * order the request sent them (unless qsdrop), and qsnone rules answer
 * only requests without other parameters.
 */
#include "helpers.h"

static const char *const product =
    "/product?id=61 /p/61 301\n"
    "/shop?id=7 /s?sku=7 301\n"
    "/drop?id=1 /d 301 qsdrop\n"
    "/bare?id=2 /b? 301\n"
    "/plain /new 301\n"
    "/own /o?x=1 301\n";

START_TEST(ignore_query_rule_matches_with_tracking_params_anywhere)
{
    static const lookup_case cases[] = {
        { "/product", "id=61", "301 " BASE "/p/61" },
        { "/product", "id=61&gclid=X", "301 " BASE "/p/61?gclid=X" },
        { "/product", "gclid=X&id=61", "301 " BASE "/p/61?gclid=X" },
        { "/product", "utm_source=a&id=61&utm_medium=b",
          "301 " BASE "/p/61?utm_source=a&utm_medium=b" },
        { "/product", "id=61&fbclid=1&_ga=2&msclkid=3",
          "301 " BASE "/p/61?fbclid=1&_ga=2&msclkid=3" },
        /* names compare decoded: %67clid is gclid, kept as sent */
        { "/product", "%67clid=X&id=61", "301 " BASE "/p/61?%67clid=X" },
        { "/product", "utm%5Fsource=a&id=61",
          "301 " BASE "/p/61?utm%5Fsource=a" },
        /* names compare case-sensitively: GCLID is a parameter */
        { "/product", "id=61&GCLID=X", "no match" },
        { "/product", "id=61&other=1", "no match" },
        { "/product", "id=62&gclid=X", "no match" },
    };

    check_answers(set_ignoring(product, "default"), cases);
}
END_TEST

START_TEST(ignore_passes_through_after_targets_own_query)
{
    static const lookup_case cases[] = {
        { "/shop", "id=7&utm_campaign=x&gclid=y",
          "301 " BASE "/s?sku=7&utm_campaign=x&gclid=y" },
        { "/bare", "gclid=y&id=2", "301 " BASE "/b?gclid=y" },
        { "/drop", "id=1&gclid=y", "301 " BASE "/d" },
        /* a path rule carries the whole query as before, in place */
        { "/plain", "q=1&utm_source=x", "301 " BASE "/new?q=1&utm_source=x" },
        /* a target with its own query drops the request's, not these */
        { "/own", "q=2&utm_source=z&r=3", "301 " BASE "/o?x=1&utm_source=z" },
    };

    check_answers(set_ignoring(product, "default"), cases);
}
END_TEST

START_TEST(ignore_none_compares_every_parameter)
{
    static const lookup_case cases[] = {
        { "/product", "id=61", "301 " BASE "/p/61" },
        { "/product", "id=61&gclid=X", "no match" },
        { "/own", "utm_source=z", "301 " BASE "/o?x=1" },
    };

    check_answers(set_ignoring(product, "none"), cases);
    check_answers(set_from(product), cases);     /* a set ignores none */
}
END_TEST

START_TEST(ignore_names_and_prefix_wildcards)
{
    static const lookup_case cases[] = {
        { "/product", "id=61&ref=a", "301 " BASE "/p/61?ref=a" },
        { "/product", "id=61&refx=a", "no match" },
        { "/product", "id=61&trk_1=a&trk_=b", "301 " BASE "/p/61?trk_1=a&trk_=b" },
        { "/product", "id=61&trk=a", "no match" },
        /* the default list is not in force with a list of one's own */
        { "/product", "id=61&gclid=X", "no match" },
        /* a bare name without '=' counts too */
        { "/product", "ref&id=61", "301 " BASE "/p/61?ref" },
    };

    check_answers(set_ignoring(product, "ref trk_*"), cases);
}
END_TEST

START_TEST(ignore_only_ignored_params_is_no_query)
{
    static const lookup_case cases[] = {
        { "/page", "gclid=1", "301 " BASE "/x?gclid=1" },
        { "/page", "id=3&gclid=1", "301 " BASE "/y?gclid=1" },
    };

    check_answers(set_ignoring("/page /x 301\n/page?id=3 /y 301\n",
                               "default"), cases);
}
END_TEST

START_TEST(qsnone_answers_only_without_parameters)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "301 " BASE "/b" },
        { "/a", "", "301 " BASE "/b" },
        { "/a", "gclid=1", "301 " BASE "/b?gclid=1" },
        { "/a", "x=1", "307 " BASE "/c/?x=1" },
        { "/a", "x=1&gclid=1", "307 " BASE "/c/?x=1&gclid=1" },
        { "/a/b", "x=1", "307 " BASE "/c/b?x=1" },
        { "/q", "x=1", "no match" },
        { "/q", NULL, "302 " BASE "/r" },
    };

    check_answers(set_ignoring("/a /b 301 qsnone\n/a/* /c/*\n"
                               "/q/* /r 302 qsnone\n", "default"), cases);
}
END_TEST

START_TEST(qsnone_on_a_query_rule_is_an_error)
{
    rr_diag *d = parse_expect_errors("rules.map", LIT("/a?x=1 /b 301 qsnone\n"),
                                     &opt_default);
    ck_assert_msg(contains(diag_error(d, 0), "rules.map:1: flag qsnone"),
                  "%s", diag_dump(d));
}
END_TEST

START_TEST(ignore_query_rule_naming_ignored_param_is_unmatchable)
{
    rr_set *s = set_ignoring("/p?utm_source=x&id=1 /y\n/p?id=2 /z\n",
                             "default");
    rr_diag *d = diag_new();
    const rr_diag_entry *e;

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(d->entries->nelts == 1, "%s", diag_dump(d));
    e = rr_diag_get(d, 0);
    ck_assert_int_eq(e->kind, RR_DIAG_UNMATCHABLE);
    ck_assert_str_eq(diag_places(e), "rules.map:1");
    ck_assert(!rr_diag_is_error(e->kind));
}
END_TEST

START_TEST(ignore_parse_rejects_bad_words)
{
    static const char *const bad[][2] = {
        { "none", "x" }, { "*", NULL }, { "a*b", NULL }, { "a=b", NULL },
        { "a&b", NULL },
    };
    size_t k;
    const char *err;

    for (k = 0; k < NELTS(bad); k++) {
        const char *argv[2] = { bad[k][0], bad[k][1] };
        err = NULL;
        ck_assert_msg(rr_ignore_parse(tp, bad[k][1] ? 2 : 1, argv, &err)
                      == NULL && err != NULL, "'%s' accepted", bad[k][0]);
    }
    {
        const char *argv[1] = { repeat("x", RR_MAX_IGNORE_NAME + 1) };
        ck_assert_ptr_null(rr_ignore_parse(tp, 1, argv, &err));
    }
}
END_TEST

START_TEST(ignore_default_list_is_the_spec_list)
{
    const char *argv[1] = { "default" }, *err;
    rr_ignore *ig = rr_ignore_parse(tp, 1, argv, &err);

    ck_assert_ptr_nonnull(ig);
    ck_assert_str_eq(rr_ignore_text(ig, tp),
                     "utm_* gclid gbraid wbraid dclid fbclid msclkid yclid "
                     "twclid ttclid li_fat_id igshid _gl _ga mc_cid mc_eid "
                     "_hsenc _hsmi mkt_tok");
}
END_TEST

Suite *ignore_suite(void)
{
    Suite *s = suite_create("ignore");
    TCase *tc = unit_tcase("ignore");

    tcase_add_test(tc, ignore_query_rule_matches_with_tracking_params_anywhere);
    tcase_add_test(tc, ignore_passes_through_after_targets_own_query);
    tcase_add_test(tc, ignore_none_compares_every_parameter);
    tcase_add_test(tc, ignore_names_and_prefix_wildcards);
    tcase_add_test(tc, ignore_only_ignored_params_is_no_query);
    tcase_add_test(tc, qsnone_answers_only_without_parameters);
    tcase_add_test(tc, qsnone_on_a_query_rule_is_an_error);
    tcase_add_test(tc, ignore_query_rule_naming_ignored_param_is_unmatchable);
    tcase_add_test(tc, ignore_parse_rejects_bad_words);
    tcase_add_test(tc, ignore_default_list_is_the_spec_list);
    suite_add_tcase(s, tc);
    return s;
}
