/*
 * test_pattern.c - pattern rules (SPEC "Pattern rules"): named segments,
 * mixed segments, prefix patterns; precedence against literal rules and
 * among patterns; captured values escaped into the Location, never able
 * to change its host; FILE:LINE errors; duplicates, chains, loops and
 * shadowed patterns; the dump round trip.
 */
#include "apr_escape.h"
#include "helpers.h"

START_TEST(pattern_placeholder_matches_one_nonempty_segment)
{
    static const lookup_case cases[] = {
        { "/u/bob", NULL, "307 " BASE "/users/bob" },
        { "/u/bob/", NULL, "307 " BASE "/users/bob" },
        { "/u/", NULL, "no match" },
        { "/u", NULL, "no match" },
        { "/u//", NULL, "no match" },
        { "/u/bob/x", NULL, "no match" },
        { "/v/bob", NULL, "no match" },
        { "/U/bob", NULL, "no match" },
    };

    check_answers(set_from("/u/:name /users/:name\n"), cases);
}
END_TEST

START_TEST(pattern_mixed_segments_and_query_targets)
{
    static const lookup_case cases[] = {
        { "/blog/2019/my-post.html", NULL,
          "301 " BASE "/articles/my-post?year=2019" },
        { "/blog/2019/.html", NULL, "no match" },       /* empty capture */
        { "/blog/2019/my-post.htm", NULL, "no match" },
        { "/api/v2/items", NULL, "307 " BASE "/items?version=2" },
        { "/api/v/items", NULL, "no match" },
        { "/p/pre-7-post", NULL, "307 " BASE "/id/7" },
        { "/p/pre--post", NULL, "no match" },
        { "/blog/2019/05/x", NULL, "307 " BASE "/a/2019-05/x" },
    };

    check_answers(set_from("/blog/:y/:slug.html /articles/:slug?year=:y 301\n"
                           "/api/v:ver/items /items?version=:ver\n"
                           "/p/pre-:id-post /id/:id\n"
                           "/blog/:y/:m/:slug /a/:y-:m/:slug\n"), cases);
}
END_TEST

START_TEST(pattern_prefix_carries_the_rest)
{
    static const lookup_case cases[] = {
        { "/shop/shoes/red/big", NULL, "307 " BASE "/products/shoes/red/big" },
        { "/shop/shoes/", NULL, "307 " BASE "/products/shoes/" },
        { "/shop/shoes", NULL, "307 " BASE "/products/shoes/" },
        { "/shop/shoes/a?b", "x=1", "307 " BASE "/products/shoes/a%3Fb?x=1" },
        { "/shop/", NULL, "no match" },
    };

    check_answers(set_from("/shop/:cat/* /products/:cat/*\n"), cases);
}
END_TEST

/* SPEC: a literal rule beats a pattern rule, prefix rules included. */
START_TEST(pattern_literal_rules_win)
{
    static const lookup_case cases[] = {
        { "/u/admin", NULL, "307 " BASE "/root" },
        { "/u/bob", NULL, "307 " BASE "/users/bob" },
        { "/blog/2019/x", NULL, "307 " BASE "/b/2019/x" },
        { "/q/x", "a=1", "307 " BASE "/query" },
        { "/q/x", NULL, "307 " BASE "/qpat/x" },
    };

    check_answers(set_from("/u/:name /users/:name\n"
                           "/u/admin /root\n"
                           "/blog/:y/:slug /never/:slug\n"
                           "/blog/* /b/*\n"
                           "/q/:x /qpat/:x\n"
                           "/q/x?a=1 /query\n"), cases);
}
END_TEST

START_TEST(pattern_more_literal_segments_win_then_earlier)
{
    static const lookup_case cases[] = {
        { "/a/b/c", NULL, "307 " BASE "/two" },         /* 2 literals */
        { "/a/z/c", NULL, "307 " BASE "/one-first" },   /* 1 each: earlier */
        { "/z/b/c", NULL, "307 " BASE "/one-later" },
        { "/z/b/d", NULL, "307 " BASE "/none" },
        { "/a/x.html/c", NULL, "307 " BASE "/mixed" },  /* 1 + a half */
    };
    static const char *const orders[] = {
        "/:x/:y/:z /none\n/a/:y/:z /one-first\n/:x/:y/c /one-later\n"
        "/a/b/:z /two\n/a/:y.html/:z /mixed\n",
        "/a/:y.html/:z /mixed\n/a/b/:z /two\n/a/:y/:z /one-first\n"
        "/:x/:y/c /one-later\n/:x/:y/:z /none\n",
    };
    size_t k;

    for (k = 0; k < NELTS(orders); k++)
        check_answers(set_from(orders[k]), cases);
}
END_TEST

START_TEST(pattern_earlier_table_wins_at_equal_score)
{
    rr_set *s = rr_set_create(tp, 4);

    rr_set_add(s, table_from("own.map", LIT("/:a/x /own/:a\n"), &opt_default,
                             NULL));
    rr_set_mark_inherited(s);
    rr_set_add(s, table_from("main.map", LIT("/k/:b /main/:b\n"
                                             "/m/:b/:c /main3\n"),
                             &opt_default, NULL));
    ck_assert_str_eq(answer(s, "/k/x", NULL), "307 " BASE "/own/k");
    ck_assert_str_eq(answer(s, "/k/y", NULL), "307 " BASE "/main/y");
    ck_assert_str_eq(answer(s, "/m/y/z", NULL), "307 " BASE "/main3");
}
END_TEST

START_TEST(pattern_options_and_flags_apply)
{
    rr_set *nc = set_from("/u/:name /users/:name nocase\n");
    rr_set *strict = set_from_opt("/u/:name /users/:name\n"
                                  "/d/:name/ /dir/:name\n", &opt_strict);
    rr_set *mc = set_from_opt("/U/:Name /users/:Name\n", &opt_nocase);
    rr_set *qs = set_from("/a/:x /t/:x qsdrop\n/b/:x /t?k=1 qsappend\n"
                          "/c/:x /c2/:x 308 qsnone\n/d/:x - 410\n");

    ck_assert_str_eq(answer(nc, "/U/Bob", NULL), "307 " BASE "/users/Bob");
    ck_assert_str_eq(answer(strict, "/u/bob", NULL), "307 " BASE "/users/bob");
    ck_assert_str_eq(answer(strict, "/u/bob/", NULL), "no match");
    ck_assert_str_eq(answer(strict, "/d/x/", NULL), "307 " BASE "/dir/x");
    ck_assert_str_eq(answer(strict, "/d/x", NULL), "no match");
    ck_assert_str_eq(answer(mc, "/u/Bob", NULL), "307 " BASE "/users/Bob");
    ck_assert_str_eq(answer(qs, "/a/1", "q=2"), "307 " BASE "/t/1");
    ck_assert_str_eq(answer(qs, "/b/1", "q=2"), "307 " BASE "/t?k=1&q=2");
    ck_assert_str_eq(answer(qs, "/c/1", NULL), "308 " BASE "/c2/1");
    ck_assert_str_eq(answer(qs, "/c/1", "q=2"), "no match");
    ck_assert_str_eq(answer(qs, "/d/1", NULL), "410");
}
END_TEST

START_TEST(pattern_windows_apply)
{
    rr_set *s = set_from("/u/:n /late/:n from=2030-01-01\n"
                         "/:a/:n /any\n");
    apr_time_t t2031;

    ck_assert_str_eq(answer(s, "/u/x", NULL), "307 " BASE "/any");
    ck_assert(rr_time_parse(LIT("2031-01-01"), &t2031));
    rr_set_clock(s, t2031);
    ck_assert_str_eq(answer(s, "/u/x", NULL), "307 " BASE "/late/x");
}
END_TEST

START_TEST(pattern_host_rules_by_group)
{
    rr_set *s = set_from("//a.example/u/:n /a/:n\n/u/:n /all/:n\n"
                         "//*.b.example/u/:n https://b.example/w/:n\n");

    ck_assert_str_eq(answer_at(s, "http", "a.example", "/u/x", NULL),
                     "307 " BASE "/a/x");
    ck_assert_str_eq(answer_at(s, "http", "c.example", "/u/x", NULL),
                     "307 " BASE "/all/x");
    ck_assert_str_eq(answer_at(s, "http", "w.b.example", "/u/x", NULL),
                     "307 https://b.example/w/x");
}
END_TEST

/* What r->uri holds: httpd decodes %XX before translate_name; %2F only
 * with AllowEncodedSlashes On (then it is a '/': another segment) and
 * stays "%2F" under NoDecode (then its '%' is data). */
START_TEST(pattern_captures_are_escaped)
{
    static const lookup_case cases[] = {
        { "/u/a%2Fb", NULL, "307 https://new.example/a%252Fb" },
        { "/u/a/b", NULL, "no match" },
        { "/u/a?b", NULL, "307 https://new.example/a%3Fb" },
        { "/u/a#b", NULL, "307 https://new.example/a%23b" },
        { "/u/\xe2\x82\xac", NULL, "307 https://new.example/%E2%82%AC" },
        { "/u/@evil.example", NULL, "307 https://new.example/@evil.example" },
        { "/u/:x@evil.example:80", NULL,
          "307 https://new.example/:x@evil.example:80" },
        { "/u/a b\r\nX: y", NULL, "307 https://new.example/a%20b%0D%0AX:%20y" },
        { "/u/..%5C", NULL, "307 https://new.example/..%255C" },
        { "/u/\\evil", NULL, "307 https://new.example/%5Cevil" },
    };
    rr_set *q = set_from("/q/:v https://new.example/s?q=:v#:v\n");

    check_answers(set_from("/u/:name https://new.example/:name\n"), cases);
    ck_assert_str_eq(answer(q, "/q/a&b=c+d", NULL),
                     "307 https://new.example/s?q=a%26b%3Dc%2Bd#a&b=c+d");
}
END_TEST

/* Every byte a capture can hold: the Location keeps the target's host,
 * holds no unsafe byte, and decodes back to the captured value. */
START_TEST(pattern_capture_escaping_all_bytes)
{
    rr_set *s = set_from("/u/:n https://new.example/p/:n?q=:n\n");
    int c;

    for (c = 1; c < 256; c++) {
        char path[8];
        rr_match m;
        const char *loc, *enc;
        apr_size_t len;
        char dec[16];

        if (c == '/')
            continue;
        apr_snprintf(path, sizeof(path), "/u/%c", c);
        ck_assert_int_eq(rr_set_lookup(s, path, 4, NULL, &m), 1);
        loc = rr_match_location(&m, tp, path, NULL, BASE);
        ck_assert_msg(starts_with(loc, "https://new.example/p/"), "%s",
                      show0(loc));
        ck_assert_msg(first_unsafe_byte(loc) < 0, "byte %d: %s", c,
                      show0(loc));
        ck_assert_msg(strchr(loc + 22, '#') == NULL
                      && strchr(loc + 22, '/') == NULL
                      && strchr(loc, '?') == strrchr(loc, '?')
                      && strchr(strchr(loc, '?') + 3, '&') == NULL
                      && strchr(strchr(loc, '?') + 3, '=') == NULL,
                      "byte %d: %s", c, loc);
        enc = apr_pstrmemdup(tp, loc + 22, (apr_size_t)(strchr(loc, '?')
                                                       - loc - 22));
        /* APR_NOTFOUND: nothing was escaped, dec is a copy */
        ck_assert_int_ne(apr_unescape_url(dec, enc, APR_ESCAPE_STRING, NULL,
                                          NULL, 0, &len), APR_BADCH);
        ck_assert_msg((unsigned char)dec[0] == c && dec[1] == '\0',
                      "byte %d: %s (%lu)", c, loc, (unsigned long)len);
    }
}
END_TEST

START_TEST(pattern_errors_name_file_and_line)
{
    static const struct {
        const char *line;
        const char *reason;
    } cases[] = {
        { "/u/:name /users/:id\n", "':id', which is not a placeholder" },
        { "/u/:a/:a /x\n", "':a' appears twice" },
        { "/:a/:b/:c/:d/:e/:f/:g/:h/:i /x\n", "more than 8 placeholders" },
        { "/u/:a-:b /x\n", "two placeholders in one segment" },
        { "/u?x=:v /x\n", "placeholder in a query rule's query" },
        { "/u/:a?x=1 /x\n", "a pattern rule cannot have a query" },
        { "/u/:a https://:a.example/\n", "in the target's host" },
    };
    size_t k;

    for (k = 0; k < NELTS(cases); k++) {
        rr_diag *d = parse_expect_errors("p.map", cases[k].line,
                                         strlen(cases[k].line), &opt_default);
        ck_assert_msg(starts_with(diag_error(d, 0), "p.map:1: ")
                      && contains(diag_error(d, 0), cases[k].reason),
                      "%s: %s", cases[k].line, diag_error(d, 0));
    }
}
END_TEST

/* A ':' not followed by a name byte stays literal, as before patterns;
 * so does one written %3A. */
START_TEST(pattern_colon_without_name_is_literal)
{
    static const lookup_case cases[] = {
        { "/a:", NULL, "307 " BASE "/1" },
        { "/b/:/c", NULL, "307 " BASE "/2" },
        { "/t:x", NULL, "307 " BASE "/3" },
        { "/t:y", NULL, "no match" },
        { "/k/12:30", NULL, "307 https://h.example:8443/k/12:30" },
    };

    check_answers(set_from("/a: /1\n/b/:/c /2\n/t%3Ax /3\n"
                           "/k/:t https://h.example:8443/k/:t\n"), cases);
}
END_TEST

START_TEST(pattern_duplicates_within_and_across_tables)
{
    rr_diag *d = diag_new();
    rr_set *s = rr_set_create(tp, 4);
    rr_table *a = table_from("a.map", LIT("/u/:a /1/:a\n/x /y\n/u/:b /2/:b\n"
                                          "/u/:c.html /3\n"),
                             &opt_default, d);

    ck_assert_int_eq(diag_nwarnings(d), 1);
    ck_assert_str_eq(diag_places(diag_entry(d, 0, 0)), "a.map:3 a.map:1");
    rr_set_add(s, a);
    rr_set_add(s, table_from("b.map", LIT("/u/:zz /4/:zz\n"), &opt_default,
                             NULL));
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_int_eq(diag_nwarnings(d), 2);
    ck_assert_int_eq(diag_entry(d, 0, 1)->kind, RR_DIAG_DUPLICATE);
    ck_assert_str_eq(diag_places(diag_entry(d, 0, 1)), "b.map:1 a.map:1");
    ck_assert_str_eq(answer(s, "/u/q", NULL), "307 " BASE "/1/q");
}
END_TEST

static const char *kinds_places(const rr_diag *d)
{
    const char *out = "";
    int k;

    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        out = apr_pstrcat(tp, out, *out ? ";" : "", rr_diag_kind_name(e->kind),
                          " ", diag_places(e), NULL);
    }
    return out;
}

START_TEST(pattern_shadowed_by_literal_prefix_or_pattern)
{
    rr_diag *d = diag_new();
    rr_set *s = set_of(table_from("s.map", LIT(
        "/blog/* /b/*\n"                /* 1 */
        "/blog/:y/:slug /never\n"       /* 2: shadowed by 1 */
        "/p/:x/* /px/*\n"               /* 3 */
        "/p/:x/:y /never2\n"            /* 4: shadowed by 3 (earlier) */
        "/p/:x/:y.html /kept\n"         /* 5: more literal, wins */
        "/m/a:x /ma\n"                  /* 6 */
        "/m/ab:x /never3\n"             /* 7: shadowed by 6 */
        "/n/:x/:y /n\n"                 /* 8 */
        "/n/:a/c /kept2\n"),            /* 9: more literal, wins */
        &opt_default, d));

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_str_eq(kinds_places(d), "shadowed s.map:2 s.map:1;"
                     "shadowed s.map:4 s.map:3;shadowed s.map:7 s.map:6");
    ck_assert_str_eq(rr_diag_kind_name(RR_DIAG_SHADOWED), "shadowed");
    ck_assert_str_eq(answer(s, "/p/1/2.html", NULL), "307 " BASE "/kept");
    ck_assert_str_eq(answer(s, "/n/1/c", NULL), "307 " BASE "/kept2");
}
END_TEST

START_TEST(pattern_chains_and_loops_where_decidable)
{
    rr_diag *d = diag_new();
    rr_set *s = set_of(table_from("c.map", LIT(
        "/old /u/bob\n"                 /* 1: literal into a pattern */
        "/u/:n /users/:n\n"             /* 2: pattern into a pattern */
        "/users/:n /people/:n\n"        /* 3 */
        "/x/:n /fixed\n"                /* 4: literal target */
        "/fixed /end\n"),               /* 5 */
        &opt_default, d));
    rr_diag *dl = diag_new();
    rr_set *loop = set_of(table_from("l.map", LIT("/a/:x /b/:x\n"
                                                  "/b/:y /a/:y\n"),
                                     &opt_default, dl));
    rr_diag *ds = diag_new();
    rr_set *self = set_of(table_from("self.map", LIT("/u/:n /u/:n\n"),
                                     &opt_default, ds));

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    ck_assert_str_eq(kinds_places(d), "chain c.map:1 c.map:2 c.map:3;"
                     "chain c.map:4 c.map:5");
    ck_assert_int_eq(rr_set_check(loop, NULL, RR_CHAINS_WARN, dl),
                     APR_EINVAL);
    ck_assert_str_eq(kinds_places(dl), "loop l.map:1 l.map:2 l.map:1");
    ck_assert_int_eq(rr_set_check(self, NULL, RR_CHAINS_WARN, ds),
                     APR_EINVAL);
    ck_assert_str_eq(kinds_places(ds), "loop self.map:1 self.map:1");
}
END_TEST

START_TEST(pattern_collapse_only_where_decidable)
{
    rr_diag *d = diag_new();
    rr_set *s = set_of(table_from("c.map", LIT(
        "/old /u/bob 301\n"             /* 1: collapses through 2, 3 */
        "/u/:n /users/:n 301\n"         /* 2: carries captures */
        "/users/:n /people/:n 308\n"    /* 3 */
        "/x/:n /fixed\n"                /* 4: literal target: collapses */
        "/fixed /end\n"),               /* 5 */
        &opt_default, d));

    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_COLLAPSE, d),
                     APR_SUCCESS);
    ck_assert_str_eq(answer(s, "/old", NULL), "301 " BASE "/people/bob");
    ck_assert_str_eq(answer(s, "/x/1", NULL), "307 " BASE "/end");
    ck_assert_str_eq(answer(s, "/u/amy", NULL), "301 " BASE "/users/amy");
    ck_assert_str_eq(kinds_places(d), "uncollapsed c.map:2 c.map:3");
}
END_TEST

START_TEST(pattern_dump_round_trips)
{
    static const char rules[] =
        "/u/:name /users/:name\n"
        "/blog/:y/:slug.html /articles/:slug?year=:y 301\n"
        "/shop/:cat/* /products/:cat/*\n"
        "/a%3Ab/:x%61 /t/:x\n"          /* literal ':' and a name byte */
        "/n/:v /nc/:v nocase,qsdrop\n"
        "//h.example/h/:v https://h.example/:v 308\n"
        "/w/:v /w2/:v until=2099-01-01\n"
        "/lit%3Aeral /l\n";             /* a literal ':' before a name */
    static const char *const paths[] = {
        "/u/bob", "/blog/2019/p.html", "/shop/s/x/y", "/shop/s",
        "/a:b/qa", "/a:b/q", "/N/Zed", "/h/1", "/w/1", "/lit:eral",
        "/lit%3Aeral", "/u/a%3Fb",
    };
    rr_table *t = table_from("d.map", LIT(rules), &opt_default, NULL);
    const char *dump = rr_table_dump(t, tp);
    rr_table *t2 = table_from("dump.map", dump, strlen(dump), &opt_default,
                              NULL);
    rr_set *a = set_of(t), *b = set_of(t2);
    rr_stats st;
    size_t k;

    for (k = 0; k < NELTS(paths); k++) {
        const char *x = answer(a, paths[k], "p=1");
        const char *y = answer(b, paths[k], "p=1");
        ck_assert_msg(!strcmp(x, y), "%s: %s vs %s\n%s", paths[k], x, y,
                      dump);
        ck_assert_str_eq(answer_at(a, "https", "h.example", paths[k], NULL),
                         answer_at(b, "https", "h.example", paths[k], NULL));
    }
    ck_assert_str_eq(answer(a, "/a:b/qa", NULL), "307 " BASE "/t/q");
    rr_table_stats(t2, &st);
    ck_assert_uint_eq(st.pattern, 7);
    ck_assert_uint_eq(st.exact, 1);
    ck_assert_uint_eq(st.rules, 8);
}
END_TEST

START_TEST(pattern_rule_info_shows_placeholders)
{
    rr_table *t = table_from("i.map", LIT("/u/:name/x.:ext /t\n/lit /l\n"),
                             &opt_default, NULL);
    rr_rule_info info;

    rr_table_rule(t, 0, tp, &info);
    ck_assert_str_eq(info.source, "/u/:name/x.:ext");
    ck_assert_int_eq(info.pattern, 1);
    rr_table_rule(t, 1, tp, &info);
    ck_assert_int_eq(info.pattern, 0);
}
END_TEST

/* Many rules of one shape: every one found by its own literals. */
START_TEST(pattern_many_rules_one_shape)
{
    apr_array_header_t *lines = apr_array_make(tp, 2000, sizeof(char *));
    rr_set *s;
    int k;

    for (k = 0; k < 2000; k++)
        APR_ARRAY_PUSH(lines, char *) = apr_psprintf(tp, "/c%d/:x/i%d /t%d/:x\n",
                                                     k, k % 7, k);
    s = set_from(apr_array_pstrcat(tp, lines, 0));
    for (k = 0; k < 2000; k += 37)
        ck_assert_str_eq(answer(s, apr_psprintf(tp, "/c%d/v/i%d", k, k % 7),
                                NULL),
                         apr_psprintf(tp, "307 " BASE "/t%d/v", k));
    ck_assert_str_eq(answer(s, "/c5/v/i6", NULL), "no match");
}
END_TEST

Suite *pattern_suite(void)
{
    Suite *s = suite_create("pattern");
    TCase *tc = unit_tcase("pattern");

    tcase_add_test(tc, pattern_placeholder_matches_one_nonempty_segment);
    tcase_add_test(tc, pattern_mixed_segments_and_query_targets);
    tcase_add_test(tc, pattern_prefix_carries_the_rest);
    tcase_add_test(tc, pattern_literal_rules_win);
    tcase_add_test(tc, pattern_more_literal_segments_win_then_earlier);
    tcase_add_test(tc, pattern_earlier_table_wins_at_equal_score);
    tcase_add_test(tc, pattern_options_and_flags_apply);
    tcase_add_test(tc, pattern_windows_apply);
    tcase_add_test(tc, pattern_host_rules_by_group);
    tcase_add_test(tc, pattern_captures_are_escaped);
    tcase_add_test(tc, pattern_capture_escaping_all_bytes);
    tcase_add_test(tc, pattern_errors_name_file_and_line);
    tcase_add_test(tc, pattern_colon_without_name_is_literal);
    tcase_add_test(tc, pattern_duplicates_within_and_across_tables);
    tcase_add_test(tc, pattern_shadowed_by_literal_prefix_or_pattern);
    tcase_add_test(tc, pattern_chains_and_loops_where_decidable);
    tcase_add_test(tc, pattern_collapse_only_where_decidable);
    tcase_add_test(tc, pattern_dump_round_trips);
    tcase_add_test(tc, pattern_rule_info_shows_placeholders);
    tcase_add_test(tc, pattern_many_rules_one_shape);
    suite_add_tcase(s, tc);
    return s;
}
