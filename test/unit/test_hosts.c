/*
 * test_hosts.c - host rules (SPEC: Host rules): a source may name its
 * host ("//HOST/path", "http://HOST/path", "https://HOST/path", a "*."
 * wildcard); the request's host selects them, exact host first, then the
 * longest wildcard, then the hostless rules, each group with the usual
 * precedence.  Bad hosts are FILE:LINE errors; chains and loops and the
 * dump follow host rules.
 */
#include "helpers.h"

typedef struct {
    const char *scheme;
    const char *host;
    const char *path;
    const char *args;
    const char *expect;
} host_case;

static void check_host_answers_at(const char *file, int line,
                                  const rr_set *s, const host_case *c,
                                  size_t n)
{
    const char *bad = "";
    size_t i;

    for (i = 0; i < n; i++) {
        const char *got = answer_at(s, c[i].scheme, c[i].host, c[i].path,
                                    c[i].args);
        if (strcmp(got, c[i].expect))
            bad = apr_psprintf(tp, "%s\n  %s://%s%s%s%s: got '%s', want "
                               "'%s'", bad, c[i].scheme ? c[i].scheme : "-",
                               c[i].host ? c[i].host : "-", c[i].path,
                               c[i].args ? "?" : "",
                               c[i].args ? c[i].args : "", got, c[i].expect);
    }
    ck_assert_msg(*bad == '\0', "%s:%d: wrong answers:%s", file, line, bad);
}
#define check_host_answers(s, cases) \
    check_host_answers_at(__FILE__, __LINE__, (s), (cases), NELTS(cases))

START_TEST(hosts_exact_host_before_hostless)
{
    static const host_case cases[] = {
        { "http", "old.example.com", "/a", NULL, "307 " BASE "/x" },
        { "http", "new.example.com", "/a", NULL, "307 " BASE "/y" },
        { "http", NULL, "/a", NULL, "307 " BASE "/y" },
        { "http", "old.example.com", "/b", NULL, "307 " BASE "/only-b" },
        { "http", "new.example.com", "/b", NULL, "no match" },
        /* a root rule written without a path */
        { "https", "old.example.com", "/", NULL, "301 " BASE "/home" },
    };

    check_host_answers(set_from("//old.example.com/a /x\n/a /y\n"
                                "//old.example.com/b /only-b\n"
                                "//old.example.com /home 301\n"), cases);
}
END_TEST

START_TEST(hosts_request_host_is_normalised)
{
    static const host_case cases[] = {
        { "http", "OLD.Example.COM", "/a", NULL, "307 " BASE "/x" },
        { "http", "old.example.com:8080", "/a", NULL, "307 " BASE "/x" },
        { "http", "old.example.com.", "/a", NULL, "307 " BASE "/x" },
        { "http", "Old.Example.Com.:443", "/a", NULL, "307 " BASE "/x" },
        { "http", "old.example.co", "/a", NULL, "307 " BASE "/y" },
        { "http", "xold.example.com", "/a", NULL, "307 " BASE "/y" },
        { "http", "", "/a", NULL, "307 " BASE "/y" },
    };

    check_host_answers(set_from("//Old.Example.COM./a /x\n/a /y\n"), cases);
}
END_TEST

START_TEST(hosts_scheme_rules_only_for_their_scheme)
{
    static const host_case cases[] = {
        { "https", "shop.example", "/a", NULL, "307 " BASE "/s" },
        { "http", "shop.example", "/a", NULL, "307 " BASE "/h" },
        { NULL, "shop.example", "/a", NULL, "307 " BASE "/any" },
        { "https", "shop.example", "/b", NULL, "307 " BASE "/s-only" },
        { "http", "shop.example", "/b", NULL, "no match" },
        { "HTTPS", "shop.example", "/b", NULL, "307 " BASE "/s-only" },
    };

    check_host_answers(set_from("https://shop.example/a /s\n"
                                "http://shop.example/a /h\n"
                                "//shop.example/a /any\n"
                                "https://shop.example/b /s-only\n"), cases);
}
END_TEST

START_TEST(hosts_wildcard_below_exact_longest_first)
{
    static const host_case cases[] = {
        { "http", "x.example.com", "/a", NULL, "307 " BASE "/exact" },
        { "http", "y.example.com", "/a", NULL, "307 " BASE "/w1" },
        { "http", "a.b.example.com", "/a", NULL, "307 " BASE "/w2" },
        { "http", "c.a.b.example.com", "/a", NULL, "307 " BASE "/w2" },
        { "http", "b.example.com", "/a", NULL, "307 " BASE "/w1" },
        /* not the name itself, nor an empty label before it (found by
         * fuzz_lookup) */
        { "http", "example.com", "/a", NULL, "307 " BASE "/none" },
        { "http", ".example.com", "/a", NULL, "307 " BASE "/none" },
        { "http", ".b.example.com", "/a", NULL, "307 " BASE "/w1" },
        { "http", "x..b.example.com", "/a", NULL, "307 " BASE "/w1" },
        { "http", "badexample.com", "/a", NULL, "307 " BASE "/none" },
    };

    check_host_answers(set_from("//*.example.com/a /w1\n"
                                "//*.b.example.com/a /w2\n"
                                "//x.example.com/a /exact\n"
                                "/a /none\n"), cases);
}
END_TEST

START_TEST(hosts_host_group_before_hostless_precedence)
{
    static const host_case cases[] = {
        /* a host prefix rule beats a hostless exact rule */
        { "http", "h.example", "/docs/a", NULL, "307 " BASE "/hd/a" },
        { "http", "other.example", "/docs/a", NULL, "307 " BASE "/exact" },
        /* inside a group: query > exact > prefix */
        { "http", "h.example", "/docs", "v=2", "307 " BASE "/v2" },
        { "http", "h.example", "/docs", NULL, "307 " BASE "/hdocs" },
        { "http", "h.example", "/docs/x", "v=2", "307 " BASE "/hd/x?v=2" },
    };

    check_host_answers(set_from("//h.example/docs/* /hd/*\n"
                                "//h.example/docs /hdocs\n"
                                "//h.example/docs?v=2 /v2\n"
                                "/docs/a /exact\n"), cases);
}
END_TEST

START_TEST(hosts_idna_and_ip_literals)
{
    static const host_case cases[] = {
        { "http", "XN--CAF-DMA.example", "/a", NULL, "307 " BASE "/idn" },
        { "http", "192.0.2.1:8080", "/a", NULL, "307 " BASE "/v4" },
        { "http", "[2001:DB8::1]:8080", "/a", NULL, "307 " BASE "/v6" },
        { "http", "[2001:db8::1]", "/a", NULL, "307 " BASE "/v6" },
        { "http", "[2001:db8::2]", "/a", NULL, "no match" },
    };

    check_host_answers(set_from("//xn--caf-dma.example/a /idn\n"
                                "//192.0.2.1/a /v4\n"
                                "//[2001:db8::1]/a /v6\n"), cases);
}
END_TEST

START_TEST(hosts_bad_hosts_are_errors)
{
    static const struct {
        const char *line;
        const char *why;
    } bad[] = {
        { "//exa_mple.com/a /b\n", "not a valid DNS name" },
        { "//a.*.example.com/a /b\n", "wildcard" },
        { "//*example.com/a /b\n", "wildcard" },
        { "//example.com:8080/a /b\n", "port" },
        { "https://example.com:443/a /b\n", "port" },
        { "//[::1]:80/a /b\n", "port" },
        { "//[zz::1]/a /b\n", "IPv6" },
        { "//-bad.example/a /b\n", "not a valid DNS name" },
        { "//bad-.example/a /b\n", "not a valid DNS name" },
        { "//a..example/a /b\n", "not a valid DNS name" },
        { "//caf\xc3\xa9.example/a /b\n", "IDNA" },
        { "http:///a /b\n", "empty host" },
    };
    size_t k;

    for (k = 0; k < NELTS(bad); k++) {
        rr_diag *d = parse_expect_errors("hosts.map", bad[k].line,
                                         strlen(bad[k].line), &opt_default);
        ck_assert_msg(starts_with(diag_error(d, 0), "hosts.map:1: ")
                      && contains(diag_error(d, 0), bad[k].why),
                      "%s: %s", show0(bad[k].line), diag_dump(d));
    }
    {
        /* a label of 64 bytes, and a name of 254 */
        const char *l64 = apr_psprintf(tp, "//%s.example/a /b\n",
                                       repeat("a", 64));
        const char *n254 = apr_psprintf(tp, "//%s/a /b\n",
                                        repeat("abcdefghi.", 26));
        parse_expect_errors("hosts.map", l64, strlen(l64), &opt_default);
        parse_expect_errors("hosts.map", n254, strlen(n254), &opt_default);
    }
}
END_TEST

START_TEST(hosts_paths_that_are_not_hosts_stay_paths)
{
    static const lookup_case cases[] = {
        { "///a", NULL, "307 " BASE "/x" },
    };

    check_answers(set_from("///a /x\n"), cases);
}
END_TEST

START_TEST(hosts_duplicates_are_per_host)
{
    rr_diag *d = diag_new();

    table_from("rules.map", LIT("//a.example/p /1\n//b.example/p /2\n/p /3\n"
                                "https://a.example/p /4\n//A.Example/p /5\n"),
               &opt_default, d);
    ck_assert_msg(d->entries->nelts == 1, "%s", diag_dump(d));
    ck_assert_int_eq(rr_diag_get(d, 0)->kind, RR_DIAG_DUPLICATE);
    ck_assert_str_eq(diag_places(rr_diag_get(d, 0)), "rules.map:5 rules.map:1");
}
END_TEST

START_TEST(hosts_chains_and_loops_follow_host_rules)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("//old.example/a https://old.example/b\n"
                         "//old.example/b /c\n"
                         "//h.example/x /y\n"
                         "/y /z\n"
                         "//other.example/q /r\n");

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(d->entries->nelts == 2, "%s", diag_dump(d));
    ck_assert_str_eq(diag_places(rr_diag_get(d, 0)), "rules.map:1 rules.map:2");
    ck_assert_str_eq(diag_places(rr_diag_get(d, 1)), "rules.map:3 rules.map:4");

    d = diag_new();
    s = set_from("//*.example.com/a /b\n//*.example.com/b /a\n/c /d\n");
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_EINVAL);
    ck_assert_int_eq(rr_diag_get(d, 0)->kind, RR_DIAG_LOOP);
}
END_TEST

START_TEST(hosts_collapse_through_host_rules)
{
    rr_diag *d = diag_new();
    rr_set *s = set_from("//old.example/a /b 301\n//old.example/b /c 301\n");

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_COLLAPSE, d),
                     APR_SUCCESS);
    ck_assert_str_eq(answer_at(s, "http", "old.example", "/a", NULL),
                     "301 " BASE "/c");
}
END_TEST

START_TEST(hosts_dump_round_trips)
{
    static const char text[] =
        "//old.example.com/a /x 301\n"
        "https://Shop.Example/b/* /new/*\n"
        "http://*.example.org/c?id=1 /q\n"
        "//[2001:db8::1]/d - 410\n"
        "//h.example/e /f qsnone,nocase\n"
        "/%2Fnot-a-host /g\n";
    static const host_case cases[] = {
        { "http", "old.example.com", "/a", NULL, "301 " BASE "/x" },
        { "https", "shop.example", "/b/z", NULL, "307 " BASE "/new/z" },
        { "http", "shop.example", "/b/z", NULL, "no match" },
        { "http", "w.example.org", "/c", "id=1", "307 " BASE "/q" },
        { "http", "[2001:db8::1]", "/d", NULL, "410" },
        { "http", "h.example", "/E", NULL, "307 " BASE "/f" },
        { "http", "h.example", "/E", "x=1", "no match" },
        { "http", "any.example", "//not-a-host", NULL, "307 " BASE "/g" },
    };
    rr_diag *d = diag_new();
    rr_table *t = table_from("orig", LIT(text), &opt_default, d);
    const char *dump = rr_table_dump(t, tp);
    rr_table *u = table_from("dump", dump, strlen(dump), &opt_default, d);

    ck_assert_msg(d->entries->nelts == 0, "%s", diag_dump(d));
    check_host_answers(set_of(t), cases);
    check_host_answers(set_of(u), cases);
    ck_assert_msg(contains(dump, "https://shop.example/b/* /new/*\n")
                  && contains(dump, "http://*.example.org/c?id=1 /q\n")
                  && contains(dump, "//h.example/e /f nocase,qsnone\n")
                  && contains(dump, "/%2Fnot-a-host /g\n"),
                  "dump:\n%s", dump);
}
END_TEST

START_TEST(hosts_rule_info_and_stats)
{
    rr_table *t = table_from("rules.map",
                             LIT("https://*.example.com/a /x\n/b /y\n"),
                             &opt_default, NULL);
    rr_rule_info info;
    rr_stats st;

    rr_table_rule(t, 0, tp, &info);
    ck_assert_str_eq(info.host, "*.example.com");
    ck_assert_str_eq(info.scheme, "https");
    ck_assert_str_eq(info.source, "/a");
    rr_table_rule(t, 1, tp, &info);
    ck_assert_ptr_null(info.host);
    ck_assert_ptr_null(info.scheme);
    rr_table_stats(t, &st);
    ck_assert_int_eq(st.host, 1);
    ck_assert_int_eq(st.rules, 2);
}
END_TEST

Suite *hosts_suite(void)
{
    Suite *s = suite_create("hosts");
    TCase *tc = unit_tcase("hosts");

    tcase_add_test(tc, hosts_exact_host_before_hostless);
    tcase_add_test(tc, hosts_request_host_is_normalised);
    tcase_add_test(tc, hosts_scheme_rules_only_for_their_scheme);
    tcase_add_test(tc, hosts_wildcard_below_exact_longest_first);
    tcase_add_test(tc, hosts_host_group_before_hostless_precedence);
    tcase_add_test(tc, hosts_idna_and_ip_literals);
    tcase_add_test(tc, hosts_bad_hosts_are_errors);
    tcase_add_test(tc, hosts_paths_that_are_not_hosts_stay_paths);
    tcase_add_test(tc, hosts_duplicates_are_per_host);
    tcase_add_test(tc, hosts_chains_and_loops_follow_host_rules);
    tcase_add_test(tc, hosts_collapse_through_host_rules);
    tcase_add_test(tc, hosts_dump_round_trips);
    tcase_add_test(tc, hosts_rule_info_and_stats);
    suite_add_tcase(s, tc);
    return s;
}
