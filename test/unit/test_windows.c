/*
 * test_windows.c - rule lifetimes (SPEC: Rule lifetimes): from=TIME and
 * until=TIME in ISO 8601, UTC unless an offset is given; a rule answers
 * only when from <= now < until and otherwise lets the request fall
 * through; expired rules are warned about; the dump keeps windows.
 */
#include "helpers.h"

static apr_time_t at(const char *s)
{
    apr_time_t t;

    ck_assert_msg(rr_time_parse(s, strlen(s), &t), "'%s' does not parse", s);
    return t;
}

START_TEST(time_parse_iso8601_forms)
{
    static const struct {
        const char *text;
        long long sec;
    } good[] = {
        { "1970-01-01", 0 },
        { "2026-12-01", 1796083200LL },
        { "2026-12-01T09:30", 1796083200LL + 9 * 3600 + 30 * 60 },
        { "2026-12-01T09:30:15Z", 1796083200LL + 9 * 3600 + 30 * 60 + 15 },
        { "2026-12-01T09:30:00+01:00", 1796083200LL + 8 * 3600 + 30 * 60 },
        { "2026-12-01T09:30:00-05:30", 1796083200LL + 15 * 3600 },
        { "2024-02-29", 1709164800LL },
        { "2105-12-31T23:59:59Z", 4291747199LL },
    };
    static const char *const bad[] = {
        "", "2026", "2026-12", "2026-13-01", "2026-02-29", "2026-12-32",
        "2026-12-01T24:00", "2026-12-01T09:60", "2026-12-01 09:30",
        "2026-12-01T09:30:00+1", "2026-12-01T09:30Zx", "26-12-01",
        "2026-12-01T9:30", "2026-12-01T09:30:00+24:00",
    };
    size_t i;

    for (i = 0; i < NELTS(good); i++)
        ck_assert_msg(apr_time_sec(at(good[i].text)) == good[i].sec,
                      "%s: %lld, want %lld", good[i].text,
                      (long long)apr_time_sec(at(good[i].text)),
                      good[i].sec);
    for (i = 0; i < NELTS(bad); i++) {
        apr_time_t t;
        ck_assert_msg(!rr_time_parse(bad[i], strlen(bad[i]), &t),
                      "'%s' parsed", bad[i]);
    }
}
END_TEST

START_TEST(time_format_round_trips)
{
    static const char *const times[] = {
        "1970-01-01T00:00:00Z", "2026-12-01T09:30:15Z",
        "2000-02-29T23:59:59Z", "2105-12-31T23:59:59Z",
    };
    size_t i;

    for (i = 0; i < NELTS(times); i++)
        ck_assert_str_eq(rr_time_format(tp, at(times[i])), times[i]);
}
END_TEST

START_TEST(window_answers_only_inside)
{
    rr_set *s = set_from("/sale /deals 307 from=2026-12-01,"
                         "until=2027-01-01T00:00:00+01:00\n"
                         "/later /l from=2030-01-01\n/until /u until=2026-01-01\n");
    static const struct {
        const char *when;
        const char *sale, *later, *until;
    } cases[] = {
        { "2026-11-30T23:59:59Z", "no match", "no match", "no match" },
        { "2026-12-01T00:00:00Z", "307 " BASE "/deals", "no match",
          "no match" },
        { "2026-12-31T22:59:59Z", "307 " BASE "/deals", "no match",
          "no match" },
        { "2026-12-31T23:00:00Z", "no match", "no match", "no match" },
        { "2025-06-01", "no match", "no match", "307 " BASE "/u" },
        { "2030-01-01", "no match", "307 " BASE "/l", "no match" },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_set_clock(s, at(cases[i].when));
        ck_assert_str_eq(answer(s, "/sale", NULL), cases[i].sale);
        ck_assert_str_eq(answer(s, "/later", NULL), cases[i].later);
        ck_assert_str_eq(answer(s, "/until", NULL), cases[i].until);
    }
}
END_TEST

START_TEST(window_outside_falls_through)
{
    rr_set *s = set_from("/shop/sale /sale 302 until=2026-01-01\n"
                         "/shop/* /store/* 301\n");

    rr_set_clock(s, at("2025-12-31T23:59:59Z"));
    ck_assert_str_eq(answer(s, "/shop/sale", NULL), "302 " BASE "/sale");
    rr_set_clock(s, at("2026-01-01"));
    ck_assert_str_eq(answer(s, "/shop/sale", NULL), "301 " BASE "/store/sale");
}
END_TEST

START_TEST(window_bad_flags_are_errors)
{
    static const char *const bad[] = {
        "/a /b from=2027-01-01,until=2026-01-01\n",
        "/a /b from=2026-01-01,until=2026-01-01\n",
        "/a /b until=tomorrow\n",
        "/a /b from=1969-12-31\n",
        "/a /b until=\n",
    };
    size_t i;

    for (i = 0; i < NELTS(bad); i++) {
        rr_diag *d = parse_expect_errors("w.map", bad[i], strlen(bad[i]),
                                         &opt_default);
        ck_assert_msg(starts_with(diag_error(d, 0), "w.map:1: "), "%s",
                      diag_dump(d));
    }
}
END_TEST

START_TEST(window_expired_rule_is_a_warning)
{
    rr_set *s = set_from("/old /x until=2026-01-01\n/new /y until=2030-01-01\n");
    rr_diag *d = diag_new();
    const rr_diag_entry *e;

    rr_set_clock(s, at("2026-06-01"));
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(d->entries->nelts == 1, "%s", diag_dump(d));
    e = rr_diag_get(d, 0);
    ck_assert_int_eq(e->kind, RR_DIAG_EXPIRED);
    ck_assert_str_eq(rr_diag_kind_name(e->kind), "expired");
    ck_assert_str_eq(diag_places(e), "rules.map:1");
    ck_assert(!rr_diag_is_error(e->kind));
}
END_TEST

START_TEST(window_rule_info_and_dump)
{
    static const char text[] = "/a /b 301 from=2026-12-01T09:30:00+01:00\n"
                               "/c /d until=2027-01-01\n"
                               "/e /f 302 nocase,from=2026-01-01,"
                               "until=2026-02-01T12:00\n";
    rr_table *t = table_from("w.map", LIT(text), &opt_default, NULL);
    const char *dump = rr_table_dump(t, tp);
    rr_table *u = table_from("dump", dump, strlen(dump), &opt_default, NULL);
    rr_rule_info a, b;
    uint32_t i;

    rr_table_rule(t, 0, tp, &a);
    ck_assert_str_eq(rr_time_format(tp, a.from), "2026-12-01T08:30:00Z");
    ck_assert(a.until == 0);
    rr_table_rule(t, 1, tp, &a);
    ck_assert(a.from == 0);
    ck_assert_str_eq(rr_time_format(tp, a.until), "2027-01-01T00:00:00Z");
    ck_assert_msg(contains(dump, "/a /b 301 from=2026-12-01T08:30:00Z\n")
                  && contains(dump, "/e /f 302 nocase,from=2026-01-01T00:00:"
                              "00Z,until=2026-02-01T12:00:00Z\n"), "%s", dump);
    for (i = 0; i < 3; i++) {
        rr_table_rule(t, i, tp, &a);
        rr_table_rule(u, i, tp, &b);
        ck_assert(a.from == b.from && a.until == b.until);
    }
}
END_TEST

Suite *windows_suite(void)
{
    Suite *s = suite_create("windows");
    TCase *tc = unit_tcase("windows");

    tcase_add_test(tc, time_parse_iso8601_forms);
    tcase_add_test(tc, time_format_round_trips);
    tcase_add_test(tc, window_answers_only_inside);
    tcase_add_test(tc, window_outside_falls_through);
    tcase_add_test(tc, window_bad_flags_are_errors);
    tcase_add_test(tc, window_expired_rule_is_a_warning);
    tcase_add_test(tc, window_rule_info_and_dump);
    suite_add_tcase(s, tc);
    return s;
}
