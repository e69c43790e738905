/*
 * test_chains.c - rr_set_check(): chains (a rule's target is another rule's
 * source on this host) are a warning naming every FILE:LINE (Warn), answered
 * with the final target (Collapse) or ignored (Off); loops are always an
 * error naming every FILE:LINE.
 */
#include <stdio.h>

#include "helpers.h"

static apr_array_header_t *hosts_of(const char *a, const char *b)
{
    apr_array_header_t *h = apr_array_make(tp, 2, sizeof(const char *));

    if (a)
        APR_ARRAY_PUSH(h, const char *) = a;
    if (b)
        APR_ARRAY_PUSH(h, const char *) = b;
    return h;
}

/* rules.map holding `text`, checked; the returned status is asserted. */
static rr_set *checked_set(const char *text, const apr_array_header_t *hosts,
                           rr_chains_mode mode, apr_status_t want,
                           rr_diag *d)
{
    rr_set *s = set_from(text);
    apr_status_t rv = rr_set_check(s, hosts, mode, d);

    ck_assert_msg(rv == want, "rr_set_check returned %d, expected %d:%s\n"
                  "rules:\n%s", rv, want, diag_dump(d), show0(text));
    return s;
}

static const char *const chain3 = "/a /b 301\n/b /c 302\n/c /d\n";

/* A set big enough that its next hops are computed on several threads
 * (rr_check.c, PARALLEL_MIN): chains and a loop at the start, at the
 * middle where the parts meet and at the end are all found, each once,
 * as a small set's are; and the same on one thread
 * (rr_set_check_threads, as for a .htaccess map in a child). */
START_TEST(chains_of_a_big_set_are_found_in_every_part)
{
    enum { N = 140000 };
    /* where the chains and the loop start, by line (1-based) */
    static const int at[] = { 1, N / 2 - 1, N - 5 };
    size_t cap = (size_t)N * 40, len = 0;
    char *text = apr_palloc(tp, cap);
    rr_diag *d;
    const char *all;
    int i, k, threads;
    for (i = 1; i <= N; i++) {
        const char *kind = "";
        for (k = 0; k < 3; k++) {
            if (i == at[k] || i == at[k] + 1)
                kind = "c";             /* a chain: /cI -> /cI+1 -> ... */
        }
        if (i == N - 1 || i == N)
            kind = "l";                 /* a loop of the last two */
        if (!*kind)
            len += (size_t)snprintf(text + len, cap - len, "/s/%d /t/%d\n",
                                    i, i);
        else if (*kind == 'c')
            len += (size_t)snprintf(text + len, cap - len, "/c%d /c%d\n",
                                    i, i + 1);
        else
            len += (size_t)snprintf(text + len, cap - len, "/l%d /l%d\n",
                                    i, i == N ? N - 1 : N);
    }
    /* the chains end on rules of their own */
    for (k = 0; k < 3; k++)
        len += (size_t)snprintf(text + len, cap - len, "/c%d /end\n",
                                at[k] + 2);
    for (threads = 0; threads <= 1; threads++) {
        rr_set *s = set_from(text);

        d = diag_new();
        rr_set_check_threads(s, threads);
        ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d),
                         APR_EINVAL);
        all = diag_dump(d);
        ck_assert_msg(diag_nerrors(d) == 1 && diag_nwarnings(d) == 3, "%s",
                      all);
        ck_assert_msg(contains(all, apr_psprintf(
                          tp, "rules.map:%d: redirect loop", N - 1))
                      || contains(all, apr_psprintf(
                          tp, "rules.map:%d: redirect loop", N)), "%s", all);
        for (k = 0; k < 3; k++)
            ck_assert_msg(contains(all, apr_psprintf(
                              tp, "rules.map:%d: redirect chain: rules.map:%d"
                              " -> rules.map:%d -> rules.map:%d", at[k],
                              at[k], at[k] + 1, N + 1 + k)),
                          "threads %d, chain %d:\n%s", threads, k, all);
    }
}
END_TEST

START_TEST(chains_warn_names_every_hop)
{
    rr_diag *d = diag_new();
    rr_set *s = checked_set(chain3, NULL, RR_CHAINS_WARN, APR_SUCCESS, d);

    ck_assert_msg(diag_nwarnings(d) == 1 && diag_nerrors(d) == 0, "%s",
                  diag_dump(d));
    ck_assert_str_eq(diag_warning(d, 0), "rules.map:1: redirect chain: "
                     "rules.map:1 -> rules.map:2 -> rules.map:3");
    /* Warn changes no answer. */
    ck_assert_str_eq(answer(s, "/a", NULL), "301 " BASE "/b");
    ck_assert_str_eq(answer(s, "/b", NULL), "302 " BASE "/c");
}
END_TEST

START_TEST(chains_warn_one_per_maximal_chain)
{
    rr_diag *d = diag_new();
    const char *all;

    /* Two chains into /c (lines 1 and 2), one separate (4 -> 5). */
    checked_set("/a /c\n/b /c\n/c /d\n/x /y\n/y /z\n/lone /elsewhere\n", NULL,
                RR_CHAINS_WARN, APR_SUCCESS, d);
    ck_assert_msg(diag_nwarnings(d) == 3, "%s", diag_dump(d));
    all = diag_dump(d);
    ck_assert_msg(contains(all, "rules.map:1: redirect chain: rules.map:1 -> "
                           "rules.map:3")
                  && contains(all, "rules.map:2: redirect chain: rules.map:2 "
                              "-> rules.map:3")
                  && contains(all, "rules.map:4: redirect chain: rules.map:4 "
                              "-> rules.map:5")
                  && !contains(all, "rules.map:6"), "%s", all);
}
END_TEST

START_TEST(chains_collapse_answers_final_target)
{
    /* statuses as SPEC "Collapsed status" combines the hops' */
    static const lookup_case cases[] = {
        { "/a", NULL, "302 " BASE "/d" },
        { "/b", NULL, "302 " BASE "/d" },
        { "/c", NULL, "307 " BASE "/d" },
        { "/x", NULL, "301 https://ext.example/final" },
    };
    rr_diag *d = diag_new();
    rr_set *s = checked_set("/a /b 301\n/b /c 302\n/c /d\n"
                            "/x /y 308\n/y https://ext.example/final 301\n",
                            NULL, RR_CHAINS_COLLAPSE, APR_SUCCESS, d);

    ck_assert_msg(diag_nwarnings(d) == 0, "%s", diag_dump(d));
    check_answers(s, cases);
}
END_TEST

/* SPEC "Collapsed status": 303 if any hop is 303; otherwise permanent
 * only if every hop is (301, 308) and method-preserving only if every hop
 * is (307, 308); a hop without a status has the default. */
START_TEST(chains_collapsed_status_combines_every_hop)
{
    static const struct {
        const char *first, *second;
        int dflt;
        int want;
    } cases[] = {
        { "308", "308", 307, 308 }, { "301", "308", 307, 301 },
        { "308", "301", 307, 301 }, { "307", "308", 307, 307 },
        { "301", "307", 307, 302 }, { "302", "308", 307, 302 },
        { "303", "308", 307, 303 }, { "308", "303", 307, 303 },
        { "301", "301", 307, 301 }, { "307", "307", 307, 307 },
        { "", "308", 308, 308 }, { "", "308", 307, 307 },
        { "", "", 301, 301 },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_diag *d = diag_new();
        const char *text = apr_psprintf(tp, "/a /b %s\n/b /c %s\n",
                                        cases[i].first, cases[i].second);
        rr_set *s = checked_set(text, NULL, RR_CHAINS_COLLAPSE, APR_SUCCESS,
                                d);
        rr_match m = lookup_or_fail(s, "/a", NULL);

        ck_assert_msg(rr_match_status(&m, cases[i].dflt) == cases[i].want,
                      "hops '%s' '%s' default %d: got %d, want %d",
                      cases[i].first, cases[i].second, cases[i].dflt,
                      rr_match_status(&m, cases[i].dflt), cases[i].want);
    }
}
END_TEST

START_TEST(chains_off_no_warning_no_change)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "301 " BASE "/b" },
        { "/b", NULL, "302 " BASE "/c" },
    };
    rr_diag *d = diag_new();
    rr_set *s = checked_set(chain3, NULL, RR_CHAINS_OFF, APR_SUCCESS, d);

    ck_assert_msg(diag_nwarnings(d) == 0 && diag_nerrors(d) == 0, "%s",
                  diag_dump(d));
    check_answers(s, cases);
}
END_TEST

START_TEST(chains_no_chain_no_warning)
{
    rr_diag *d = diag_new();

    checked_set("/a /b\n/c /d\n/docs/* /v2/*\n/e https://www.example.com/a\n",
                NULL, RR_CHAINS_WARN, APR_SUCCESS, d);
    ck_assert_msg(diag_nwarnings(d) == 0, "%s", diag_dump(d));
}
END_TEST

START_TEST(chains_loop_is_error_in_every_mode)
{
    static const rr_chains_mode modes[] = { RR_CHAINS_WARN,
                                            RR_CHAINS_COLLAPSE,
                                            RR_CHAINS_OFF };
    size_t i;

    for (i = 0; i < NELTS(modes); i++) {
        rr_diag *d = diag_new();
        const char *e;

        checked_set("/a /b\n/b /c\n/c /a\n", NULL, modes[i], APR_EINVAL, d);
        ck_assert_msg(diag_nerrors(d) >= 1, "mode %d: no error", modes[i]);
        e = diag_error(d, 0);
        ck_assert_msg(starts_with(e, "rules.map:") && contains(e, "redirect loop: ")
                      && contains(e, "rules.map:1") && contains(e, "rules.map:2")
                      && contains(e, "rules.map:3"),
                      "mode %d:%s", modes[i], diag_dump(d));
    }
}
END_TEST

START_TEST(chains_loop_message_closes_the_circle)
{
    rr_diag *d = diag_new();
    const char *e, *first, *last;

    checked_set("/a /b\n/b /a\n", NULL, RR_CHAINS_WARN, APR_EINVAL, d);
    e = diag_error(d, 0);
    /* "FILE:LINE: redirect loop: A -> B -> A" */
    first = strstr(e, "redirect loop: ");
    ck_assert_ptr_nonnull(first);
    first += strlen("redirect loop: ");
    last = strrchr(e, ' ');
    ck_assert_ptr_nonnull(last);
    ck_assert_msg(strncmp(first, last + 1, strlen(last + 1)) == 0
                  && strlen(last + 1) == strlen("rules.map:1")
                  && starts_with(e, apr_pstrcat(tp, last + 1, ": ", NULL)),
                  "loop not named from A back to A: %s", e);
    ck_assert_msg(contains(e, "rules.map:1 -> rules.map:2 -> rules.map:1")
                  || contains(e, "rules.map:2 -> rules.map:1 -> rules.map:2"),
                  "%s", e);
}
END_TEST

START_TEST(chains_self_loop_is_error)
{
    rr_diag *d = diag_new();

    checked_set("/ok /fine\n/a /a 301\n", NULL, RR_CHAINS_WARN, APR_EINVAL, d);
    ck_assert_msg(diag_nerrors(d) == 1
                  && starts_with(diag_error(d, 0), "rules.map:2: ")
                  && contains(diag_error(d, 0), "redirect loop"),
                  "%s", diag_dump(d));
}
END_TEST

START_TEST(chains_loop_behind_a_chain_names_loop_rules)
{
    rr_diag *d = diag_new();
    const char *all;

    checked_set("/start /a\n/a /b\n/b /a\n", NULL, RR_CHAINS_WARN,
                APR_EINVAL, d);
    all = diag_dump(d);
    ck_assert_msg(contains(all, "redirect loop") && contains(all, "rules.map:2")
                  && contains(all, "rules.map:3"), "%s", all);
}
END_TEST

START_TEST(chains_absolute_target_on_own_host_counts)
{
    static const struct {
        const char *target;
        const char *host1, *host2;
    } cases[] = {
        { "https://www.example.com/b", "www.example.com", NULL },
        { "http://www.example.com/b", "other.example", "www.example.com" },
        { "https://WWW.Example.COM/b", "www.example.com", NULL },
        { "https://www.example.com/b", "WWW.EXAMPLE.COM", NULL },
        { "https://www.example.com:8443/b", "www.example.com", NULL },
        { "https://shop.example.com/b", "*.example.com", NULL },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_diag *d = diag_new();
        const char *text = apr_pstrcat(tp, "/a ", cases[i].target, "\n/b /c\n",
                                       NULL);

        checked_set(text, hosts_of(cases[i].host1, cases[i].host2),
                    RR_CHAINS_WARN, APR_SUCCESS, d);
        ck_assert_msg(diag_nwarnings(d) == 1
                      && strcmp(diag_warning(d, 0), "rules.map:1: redirect "
                                "chain: rules.map:1 -> rules.map:2") == 0,
                      "%s with hosts %s %s:%s", cases[i].target,
                      cases[i].host1, cases[i].host2 ? cases[i].host2 : "",
                      diag_dump(d));
    }
}
END_TEST

START_TEST(chains_absolute_target_on_other_host_does_not_count)
{
    static const struct {
        const char *target;
        const char *host;
    } cases[] = {
        { "https://other.example.org/b", "www.example.com" },
        { "https://www.example.com.evil.example/b", "www.example.com" },
        { "https://example.com/b", "*.example.com" },
        { "https://www.example.com/b", NULL },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_diag *d = diag_new();
        const char *text = apr_pstrcat(tp, "/a ", cases[i].target,
                                       "\n/b /a\n", NULL);
        rr_set *s = set_from(text);
        apr_status_t rv = rr_set_check(s, cases[i].host
                                       ? hosts_of(cases[i].host, NULL) : NULL,
                                       RR_CHAINS_WARN, d);

        /* "/b /a" points at /a, which leaves the host: a chain of two is
         * fine, no loop. */
        ck_assert_msg(rv == APR_SUCCESS && diag_nerrors(d) == 0,
                      "%s with host %s: rv %d:%s", cases[i].target,
                      cases[i].host ? cases[i].host : "(none)", rv,
                      diag_dump(d));
        ck_assert_msg(diag_nwarnings(d) == 1
                      && strcmp(diag_warning(d, 0), "rules.map:2: redirect "
                                "chain: rules.map:2 -> rules.map:1") == 0,
                      "%s with host %s:%s", cases[i].target,
                      cases[i].host ? cases[i].host : "(none)", diag_dump(d));
    }
}
END_TEST

START_TEST(chains_loop_through_absolute_target_on_own_host)
{
    rr_diag *d = diag_new();

    checked_set("/a https://www.example.com/b\n/b /a\n",
                hosts_of("www.example.com", NULL), RR_CHAINS_WARN,
                APR_EINVAL, d);
    ck_assert_msg(contains(diag_dump(d), "redirect loop"), "%s", diag_dump(d));
}
END_TEST

START_TEST(chains_through_prefix_star_target)
{
    rr_diag *d = diag_new();

    checked_set("/old/* /mid/*\n/mid/* /new/*\n", NULL, RR_CHAINS_WARN,
                APR_SUCCESS, d);
    ck_assert_msg(diag_nwarnings(d) == 1
                  && strcmp(diag_warning(d, 0), "rules.map:1: redirect chain: "
                            "rules.map:1 -> rules.map:2") == 0,
                  "%s", diag_dump(d));
}
END_TEST

START_TEST(chains_across_tables_name_each_file)
{
    rr_diag *d = diag_new();
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, table_from("a.map", LIT("/a /b\n"), &opt_default, d));
    rr_set_add(s, table_from("b.map", LIT("\n/b /c\n"), &opt_default, d));
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_msg(diag_nwarnings(d) == 1
                  && strcmp(diag_warning(d, 0), "a.map:1: redirect chain: "
                            "a.map:1 -> b.map:2") == 0, "%s", diag_dump(d));
}
END_TEST

START_TEST(chains_loop_across_tables_is_error)
{
    rr_diag *d = diag_new();
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, table_from("a.map", LIT("/a /b\n"), &opt_default, d));
    rr_set_add(s, table_from("b.map", LIT("\n/b /a\n"), &opt_default, d));
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_OFF, d), APR_EINVAL);
    ck_assert_msg(contains(diag_dump(d), "a.map:1")
                  && contains(diag_dump(d), "b.map:2")
                  && contains(diag_dump(d), "redirect loop"), "%s",
                  diag_dump(d));
}
END_TEST

START_TEST(chains_through_query_and_prefix_sources)
{
    static const struct {
        const char *text;
        const char *warning;
    } cases[] = {
        { "/a /b?x=1\n/b?x=1 /c\n",
          "rules.map:1: redirect chain: rules.map:1 -> rules.map:2" },
        { "/a /docs/x\n/docs/* /v2/*\n",
          "rules.map:1: redirect chain: rules.map:1 -> rules.map:2" },
        { "/a /b/\n/b /c\n",
          "rules.map:1: redirect chain: rules.map:1 -> rules.map:2" },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_diag *d = diag_new();

        checked_set(cases[i].text, NULL, RR_CHAINS_WARN, APR_SUCCESS, d);
        ck_assert_msg(diag_nwarnings(d) == 1
                      && strcmp(diag_warning(d, 0), cases[i].warning) == 0,
                      "%s:%s", show0(cases[i].text), diag_dump(d));
    }
}
END_TEST

Suite *chains_suite(void)
{
    Suite *s = suite_create("chains");
    TCase *tc = unit_tcase("chains");

    tcase_add_test(tc, chains_warn_names_every_hop);
    tcase_add_test(tc, chains_warn_one_per_maximal_chain);
    tcase_add_test(tc, chains_collapse_answers_final_target);
    tcase_add_test(tc, chains_collapsed_status_combines_every_hop);
    tcase_add_test(tc, chains_off_no_warning_no_change);
    tcase_add_test(tc, chains_no_chain_no_warning);
    tcase_add_test(tc, chains_loop_is_error_in_every_mode);
    tcase_add_test(tc, chains_loop_message_closes_the_circle);
    tcase_add_test(tc, chains_self_loop_is_error);
    tcase_add_test(tc, chains_loop_behind_a_chain_names_loop_rules);
    tcase_add_test(tc, chains_absolute_target_on_own_host_counts);
    tcase_add_test(tc, chains_absolute_target_on_other_host_does_not_count);
    tcase_add_test(tc, chains_loop_through_absolute_target_on_own_host);
    tcase_add_test(tc, chains_through_prefix_star_target);
    tcase_add_test(tc, chains_through_query_and_prefix_sources);
    tcase_add_test(tc, chains_across_tables_name_each_file);
    tcase_add_test(tc, chains_loop_across_tables_is_error);
    tcase_add_test(tc, chains_of_a_big_set_are_found_in_every_part);
    suite_add_tcase(s, tc);
    return s;
}
