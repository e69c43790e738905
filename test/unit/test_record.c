/*
 * test_record.c - the record encoding (engine/rr_internal.h): a target
 * whose end repeats its source's end stores those bytes once, and every
 * reader still sees the whole target: Locations, rule descriptions, the
 * dump, under every kind of rule and at the limits of the encoding.
 */
#include "helpers.h"
#include "engine/rr_internal.h"

START_TEST(a_target_repeating_its_source_tail_stores_it_once)
{
    static const char text[] =
        "/old/section-1/page-1.html /new/section-1/page-1.html\n";
    rr_table *t = table_from("rules.map", LIT(text), &opt_default, NULL);
    rr_rule_info in;
    /* pad byte, header, count byte, source, and "/new" alone */
    ck_assert_uint_eq(t->arena_len, 1 + REC_FIXED + 1 + 26 + 4);
    ck_assert_int_ne(rr_table_record(t, 0, tp, &in), 0);
    ck_assert_str_eq(in.target, "/new/section-1/page-1.html");
    ck_assert_str_eq(answer(set_of(t), "/old/section-1/page-1.html", NULL),
                     "307 " BASE "/new/section-1/page-1.html");
}
END_TEST

START_TEST(a_target_sharing_nothing_is_stored_as_it_was)
{
    static const char text[] = "/a1 /b2\n";
    rr_table *t = table_from("rules.map", LIT(text), &opt_default, NULL);
    ck_assert_uint_eq(t->arena_len, 1 + REC_FIXED + 3 + 3);
    ck_assert_str_eq(answer(set_of(t), "/a1", NULL), "307 " BASE "/b2");
}
END_TEST

/* Sources of 300 bytes: long enough that the 255-byte count and the
 * 256-byte join limit are what stops the sharing. */
static const char *long_rules(void)
{
    char *s300 = repeat("s", 299), *s255 = repeat("s", 255);
    return apr_psprintf(tp,
        /* 1 own byte + 255 shared: the largest count, a full join buffer */
        "/%s /%s\n"
        /* a 301-byte target: over the join limit, stored whole */
        "/L%s /x/%s\n"
        /* the whole source as the tail of an absolute URL */
        "/k/%s https://new.example/k/%s\n",
        s300, s255, s300, s300, repeat("k", 200), repeat("k", 200));
}

START_TEST(long_targets_answer_whole_at_the_encoding_limits)
{
    const char *text = long_rules();
    rr_table *t = table_from("rules.map", text, strlen(text), &opt_default,
                             NULL);
    rr_set *s = set_of(t);
    char *s300 = repeat("s", 299), *s255 = repeat("s", 255);
    ck_assert_str_eq(answer(s, apr_pstrcat(tp, "/", s300, NULL), NULL),
                     apr_pstrcat(tp, "307 " BASE "/", s255, NULL));
    ck_assert_str_eq(answer(s, apr_pstrcat(tp, "/L", s300, NULL), NULL),
                     apr_pstrcat(tp, "307 " BASE "/x/", s300, NULL));
    ck_assert_str_eq(answer(s, apr_pstrcat(tp, "/k/", repeat("k", 200),
                                           NULL), NULL),
                     apr_pstrcat(tp, "307 https://new.example/k/",
                                 repeat("k", 200), NULL));
}
END_TEST

/* Every kind of rule with a target ending as its stored source does. */
static const char kinds_text[] =
    "/p?id=5 /new/p\n"                          /* query between them */
    "/shop/* /store/shop 301\n"                 /* prefix, no '*' */
    "/docs/* /v2/docs/*\n"                      /* '*' ends it: nothing */
    "//old.example/a/page /new/a/page\n"        /* a host rule */
    "/w/page /v/page 308 from=2000-01-01,until=2099-01-01\n"
    "/blog/:slug.html /articles/:slug.html\n"   /* a pattern */
    "/Old/Page.HTML /new/Page.HTML nocase\n"    /* stored folded */
    "/caf%C3%A9 /new/caf%C3%A9\n"               /* stored decoded */
    "/gone - 410\n"
    "/same-tail/x.pdf /other/x.pdf qsappend\n";

static const lookup_case kinds_cases[] = {
    { "/p", "id=5", "307 " BASE "/new/p" },
    { "/shop/a/b", NULL, "301 " BASE "/store/shop" },
    { "/docs/a", NULL, "307 " BASE "/v2/docs/a" },
    { "/w/page", NULL, "308 " BASE "/v/page" },
    { "/blog/hello.html", NULL, "307 " BASE "/articles/hello.html" },
    { "/OLD/PAGE.html", NULL, "307 " BASE "/new/Page.HTML" },
    { "/caf\xc3\xa9", NULL, "307 " BASE "/new/caf%C3%A9" },
    { "/gone", NULL, "410" },
    { "/same-tail/x.pdf", "a=1", "307 " BASE "/other/x.pdf?a=1" },
};

START_TEST(every_kind_of_rule_answers_its_whole_target)
{
    rr_table *t = table_from("rules.map", LIT(kinds_text), &opt_default,
                             NULL);
    rr_set *s = set_of(t);
    check_answers(s, kinds_cases);
    ck_assert_str_eq(answer_at(s, "http", "old.example", "/a/page", NULL),
                     "307 " BASE "/new/a/page");
}
END_TEST

START_TEST(rule_descriptions_and_the_dump_carry_whole_targets)
{
    const char *text = apr_pstrcat(tp, kinds_text, long_rules(), NULL);
    rr_table *t = table_from("rules.map", text, strlen(text), &opt_default,
                             NULL), *again;
    const char *dump = rr_table_dump(t, tp);
    uint32_t k;
    ck_assert_ptr_nonnull(dump);
    again = table_from("dump.map", dump, strlen(dump), &opt_default, NULL);
    ck_assert_uint_eq(rr_table_records(again), rr_table_records(t));
    for (k = 0; k < rr_table_records(t); k++) {
        rr_rule_info a, b;
        rr_table_record(t, k, tp, &a);
        rr_table_record(again, k, tp, &b);
        ck_assert_str_eq(a.source, b.source);
        ck_assert_str_eq(a.target ? a.target : "-", b.target ? b.target : "-");
    }
    /* the stored form is the same too: the dump shares as the text did */
    ck_assert_uint_eq(again->arena_len, t->arena_len);
    check_answers(set_of(again), kinds_cases);
}
END_TEST

Suite *record_suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = unit_tcase("record encoding");
    tcase_add_test(tc, a_target_repeating_its_source_tail_stores_it_once);
    tcase_add_test(tc, a_target_sharing_nothing_is_stored_as_it_was);
    tcase_add_test(tc, long_targets_answer_whole_at_the_encoding_limits);
    tcase_add_test(tc, every_kind_of_rule_answers_its_whole_target);
    tcase_add_test(tc, rule_descriptions_and_the_dump_carry_whole_targets);
    suite_add_tcase(s, tc);
    return s;
}
