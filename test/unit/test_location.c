/*
 * test_location.c - rr_match_status() and rr_match_location(): base +
 * path target, absolute targets as written, the carried rest escaped, the
 * query appended / dropped / merged, fragments last, and never an unsafe
 * byte whatever the request held.
 */
#include <stdio.h>
#include "helpers.h"

START_TEST(location_path_target_gets_base)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 http://example.com:8080/b" },
        { "/root", NULL, "301 http://example.com:8080/" },
        { "/deep", NULL, "302 http://example.com:8080/x/y/z.html" },
    };

    check_answers(set_from("/a /b\n/root / 301\n/deep /x/y/z.html 302\n"),
                  cases);
}
END_TEST

START_TEST(location_base_used_as_given)
{
    rr_set *s = set_from("/a /b\n");
    rr_match m = lookup_or_fail(s, "/a", NULL);

    ck_assert_str_eq(rr_match_location(&m, tp, "/a", NULL, "https://h.example"),
                     "https://h.example/b");
    ck_assert_str_eq(rr_match_location(&m, tp, "/a", NULL,
                                       "http://[::1]:8307"),
                     "http://[::1]:8307/b");
}
END_TEST

START_TEST(location_absolute_target_unchanged)
{
    static const lookup_case cases[] = {
        { "/promo", NULL, "302 https://shop.example.com/sale" },
        { "/port", NULL, "308 http://other.example:8443/a/b?c=d#e" },
        { "/bare", NULL, "301 https://bare.example" },
    };

    check_answers(set_from("/promo https://shop.example.com/sale 302\n"
                           "/port http://other.example:8443/a/b?c=d#e 308\n"
                           "/bare https://bare.example 301\n"), cases);
}
END_TEST

START_TEST(location_status_rule_or_default)
{
    rr_set *s = set_from("/a /b\n/c /d 303\n/g -\n");
    rr_match m = lookup_or_fail(s, "/a", NULL);

    ck_assert_int_eq(rr_match_status(&m, 307), 307);
    ck_assert_int_eq(rr_match_status(&m, 302), 302);
    m = lookup_or_fail(s, "/c", NULL);
    ck_assert_int_eq(rr_match_status(&m, 307), 303);
    m = lookup_or_fail(s, "/g", NULL);
    ck_assert_int_eq(rr_match_status(&m, 301), 410);
}
END_TEST

START_TEST(location_410_is_null)
{
    rr_set *s = set_from("/g -\n/p/* - 410\n");
    rr_match m = lookup_or_fail(s, "/g", "a=1");

    ck_assert_ptr_null(rr_match_location(&m, tp, "/g", "a=1", BASE));
    m = lookup_or_fail(s, "/p/x", NULL);
    ck_assert_ptr_null(rr_match_location(&m, tp, "/p/x", NULL, BASE));
}
END_TEST

START_TEST(location_prefix_carry_escaped)
{
    static const lookup_case cases[] = {
        { "/p/a\r\nb", NULL, "307 " BASE "/q/a%0D%0Ab" },
        { "/p/a b", NULL, "307 " BASE "/q/a%20b" },
        { "/p/a\"b", NULL, "307 " BASE "/q/a%22b" },
        { "/p/100%", NULL, "307 " BASE "/q/100%25" },
        { "/p/a?b", NULL, "307 " BASE "/q/a%3Fb" },
        { "/p/a#b", NULL, "307 " BASE "/q/a%23b" },
        { "/p/\x01", NULL, "307 " BASE "/q/%01" },
        { "/p/\x7f", NULL, "307 " BASE "/q/%7F" },
        { "/p/\xff", NULL, "307 " BASE "/q/%FF" },
        { "/p/\t", NULL, "307 " BASE "/q/%09" },
        { "/p/<a>", NULL, "307 " BASE "/q/%3Ca%3E" },
        { "/p/\\^`{|}", NULL, "307 " BASE "/q/%5C%5E%60%7B%7C%7D" },
        { "/p/caf\xc3\xa9/x", NULL, "307 " BASE "/q/caf%C3%A9/x" },
        { "/p/a/b-c_d.e~f!$&'()*+,;=:@", NULL,
          "307 " BASE "/q/a/b-c_d.e~f!$&'()*+,;=:@" },
        { "/abs/a b?c", "k=v",
          "301 https://n.example/x/a%20b%3Fc?k=v" },
    };

    check_answers(set_from("/p/* /q/*\n/abs/* https://n.example/x/* 301\n"),
                  cases);
}
END_TEST

START_TEST(location_escapes_crlf)
{
    rr_set *s = set_from("/p/* /q/*\n/a /b\n");
    const char *got = answer(s, "/p/x\r\nSet-Cookie: a=b", "y=\r\nX: 1");

    ck_assert_str_eq(got, "307 " BASE "/q/x%0D%0ASet-Cookie:%20a=b"
                     "?y=%0D%0AX:%201");
    got = answer(s, "/a", "\r\n\r\n<html>");
    ck_assert_str_eq(got, "307 " BASE "/b?%0D%0A%0D%0A%3Chtml%3E");
}
END_TEST

START_TEST(location_query_appended_by_default)
{
    static const lookup_case cases[] = {
        { "/a", "x=1", "307 " BASE "/b?x=1" },
        { "/a", "x=1&y=%20", "307 " BASE "/b?x=1&y=%20" },
        { "/a", "", "307 " BASE "/b" },
        { "/a", NULL, "307 " BASE "/b" },
        { "/abs", "x=1", "307 https://h.example/b?x=1" },
        { "/p/c", "x=1", "307 " BASE "/q/c?x=1" },
    };

    check_answers(set_from("/a /b\n/abs https://h.example/b\n/p/* /q/*\n"),
                  cases);
}
END_TEST

START_TEST(location_query_dropped_when_target_has_one)
{
    static const lookup_case cases[] = {
        { "/a", "x=1", "307 " BASE "/b?y=2" },
        { "/a", NULL, "307 " BASE "/b?y=2" },
        { "/abs", "x=1", "307 https://h.example/b?y=2" },
    };

    check_answers(set_from("/a /b?y=2\n/abs https://h.example/b?y=2\n"),
                  cases);
}
END_TEST

START_TEST(location_qsdrop_never_carries)
{
    static const lookup_case cases[] = {
        { "/a", "x=1", "307 " BASE "/b" },
        { "/c", "x=1", "307 " BASE "/d?y=2" },
        { "/p/z", "x=1", "307 " BASE "/q/z" },
    };

    check_answers(set_from("/a /b qsdrop\n/c /d?y=2 qsdrop\n"
                           "/p/* /q/* qsdrop\n"), cases);
}
END_TEST

START_TEST(location_qsappend_merges)
{
    static const lookup_case cases[] = {
        { "/a", "x=1", "307 " BASE "/b?y=2&x=1" },
        { "/a", "", "307 " BASE "/b?y=2" },
        { "/a", NULL, "307 " BASE "/b?y=2" },
        { "/c", "x=1", "307 " BASE "/d?x=1" },
        { "/c", NULL, "307 " BASE "/d" },
        { "/p/z", "x=1", "307 " BASE "/q/z?y=2&x=1" },
    };

    check_answers(set_from("/a /b?y=2 qsappend\n/c /d qsappend\n"
                           "/p/* /q/*?y=2 qsappend\n"), cases);
}
END_TEST

START_TEST(location_query_rule_consumes_args)
{
    static const lookup_case cases[] = {
        { "/index.php", "id=42", "308 " BASE "/products/blue-widget" },
        { "/j", "a=1&b=2", "307 " BASE "/n?z=1" },
        { "/k", "b=2&a=1", "307 " BASE "/n?z=1&b=2&a=1" },
    };

    check_answers(set_from("/index.php?id=42 /products/blue-widget 308\n"
                           "/j?a=1&b=2 /n?z=1\n/k?a=1&b=2 /n?z=1 qsappend\n"),
                  cases);
}
END_TEST

START_TEST(location_fragment_stays_last)
{
    static const lookup_case cases[] = {
        { "/a", "x=1", "307 " BASE "/b#top" },
        { "/c", "x=1", "307 " BASE "/d?y=1#top" },
        { "/e", "x=1", "307 " BASE "/f?y=1&x=1#top" },
        { "/g", "x=1", "307 " BASE "/h#top" },
        { "/p/z", "x=1", "307 " BASE "/q/z?x=1#s" },
        { "/abs", "x=1", "307 https://h.example/b?x=1#frag" },
    };

    check_answers(set_from("/a /b#top qsdrop\n/c /d?y=1#top\n"
                           "/e /f?y=1#top qsappend\n/g /h#top qsdrop\n"
                           "/p/* /q/*#s\n/abs https://h.example/b#frag\n"),
                  cases);
    ck_assert_str_eq(answer(set_from("/a /b#top\n"), "/a", "x=1"),
                     "307 " BASE "/b?x=1#top");
}
END_TEST

START_TEST(location_args_escaped)
{
    static const lookup_case cases[] = {
        { "/a", "x=a b", "307 " BASE "/b?x=a%20b" },
        { "/a", "x=\"<>\\^`{|}", "307 " BASE "/b?x=%22%3C%3E%5C%5E%60%7B%7C%7D" },
        { "/a", "a=%41&b=c;d=e/f?g", "307 " BASE "/b?a=%41&b=c;d=e/f?g" },
        { "/a", "q=\xc3\xa9", "307 " BASE "/b?q=%C3%A9" },
        { "/a", "q=\x7f\x01\t", "307 " BASE "/b?q=%7F%01%09" },
    };

    check_answers(set_from("/a /b\n"), cases);
}
END_TEST

/* Which args bytes README says are escaped ('#' is left out: r->args
 * never holds one). */
/* Byte c of a query, between 'a' and 'z': a '%' there starts no %XX. */
static int args_byte_escaped(unsigned c)
{
    return c < 0x21 || c >= 0x7f || strchr("%\"<>\\^`{|}", (int)c) != NULL;
}

static int path_byte_escaped(unsigned c)
{
    return c < 0x21 || c >= 0x7f || strchr("#%?<>\"\\^`{|}", (int)c) != NULL;
}

START_TEST(location_every_path_byte_is_safe)
{
    rr_set *s = set_from("/p/* /q/*\n/h/* https://h.example/z/* 301\n");
    const char *bad = "";
    unsigned c;

    for (c = 0; c < 256; c++) {
        char path[] = "/p/a?z", hpath[] = "/h/a?z";
        const char *locs[2];
        rr_match m;
        int i;

        path[4] = hpath[4] = (char)c;
        for (i = 0; i < 2; i++) {
            const char *p = i ? hpath : path;

            if (!rr_set_lookup(s, p, 6, "k=v", &m)) {
                bad = apr_psprintf(tp, "%s\n  byte 0x%02x: no match", bad, c);
                locs[i] = NULL;
                continue;
            }
            locs[i] = rr_match_location(&m, tp, p, "k=v", BASE);
            if (!locs[i] || first_unsafe_byte(locs[i]) >= 0)
                bad = apr_psprintf(tp, "%s\n  byte 0x%02x: \"%s\"", bad, c,
                                   show0(locs[i]));
        }
    }
    ck_assert_msg(*bad == '\0', "unsafe Location:%s", bad);
}
END_TEST

START_TEST(location_path_bytes_escaped_exactly)
{
    rr_set *s = set_from("/p/* /q/*\n");
    const char *bad = "";
    unsigned c;

    /* From 1: rr_match_location takes `path` without a length. */
    for (c = 1; c < 256; c++) {
        char path[] = "/p/a?z";
        const char *got, *want;

        path[4] = (char)c;
        got = answer(s, path, NULL);
        want = path_byte_escaped(c)
            ? apr_psprintf(tp, "307 " BASE "/q/a%%%02Xz", c)
            : apr_psprintf(tp, "307 " BASE "/q/a%cz", (char)c);
        if (strcmp(got, want) != 0)
            bad = apr_psprintf(tp, "%s\n  byte 0x%02x: got \"%s\", expected "
                               "\"%s\"", bad, c, show0(got), want);
    }
    ck_assert_msg(*bad == '\0', "carried path escaped wrong:%s", bad);
}
END_TEST

START_TEST(location_every_args_byte_is_safe)
{
    rr_set *s = set_from("/a /b\n/c /d?y=1 qsappend\n"
                         "/h https://h.example/z\n");
    static const char *const paths[] = { "/a", "/c", "/h" };
    const char *bad = "";
    unsigned c;
    size_t i;

    /* From 1: args is a C string. */
    for (c = 1; c < 256; c++) {
        char args[] = "k=a?z";

        args[3] = (char)c;
        for (i = 0; i < NELTS(paths); i++) {
            const char *got = answer(s, paths[i], args);

            if (!contains(got, "?") || first_unsafe_byte(got + 4) >= 0)
                bad = apr_psprintf(tp, "%s\n  byte 0x%02x on %s: \"%s\"", bad,
                                   c, paths[i], show0(got));
        }
    }
    ck_assert_msg(*bad == '\0', "unsafe Location:%s", bad);
}
END_TEST

START_TEST(location_args_bytes_escaped_exactly)
{
    rr_set *s = set_from("/a /b\n");
    const char *bad = "";
    unsigned c;

    for (c = 1; c < 256; c++) {
        char args[] = "k=a?z";
        const char *got, *want;

        if (c == '#')
            continue;
        args[3] = (char)c;
        got = answer(s, "/a", args);
        want = args_byte_escaped(c)
            ? apr_psprintf(tp, "307 " BASE "/b?k=a%%%02Xz", c)
            : apr_psprintf(tp, "307 " BASE "/b?k=a%cz", (char)c);
        if (strcmp(got, want) != 0)
            bad = apr_psprintf(tp, "%s\n  byte 0x%02x: got \"%s\", expected "
                               "\"%s\"", bad, c, show0(got), want);
    }
    ck_assert_msg(*bad == '\0', "args escaped wrong:%s", bad);
}
END_TEST

/* A '%' that starts no %XX would make the Location invalid; a %XX the
 * client sent stays as sent. */
START_TEST(location_malformed_percent_in_query_escaped)
{
    static const lookup_case cases[] = {
        { "/a", "x=%", "307 " BASE "/b?x=%25" },
        { "/a", "x=%zz", "307 " BASE "/b?x=%25zz" },
        { "/a", "x=%4", "307 " BASE "/b?x=%254" },
        { "/a", "x=%41%2f&y=%", "307 " BASE "/b?x=%41%2f&y=%25" },
        { "/q", "x=%", "307 " BASE "/t?k=%25v&x=%25" },
        { "/p", "id=1&gclid=%z", "307 " BASE "/pp?gclid=%25z" },
    };
    rr_set *s = set_ignoring("/a /b\n/q /t?k=%v qsappend\n/p?id=1 /pp\n",
                             "default");

    check_answers(s, cases);
}
END_TEST

START_TEST(location_origin_names_rule)
{
    rr_set *s = set_from("/a /b\n\n/c /d\n");
    rr_match m = lookup_or_fail(s, "/c", NULL);

    ck_assert_str_eq(rr_match_origin(&m, tp), "rules.map:3");
}
END_TEST

START_TEST(location_parts_join_like_base)
{
    static const char *const parts[] = { "https", "://", "h.example",
                                         ":8443", NULL };
    static const char *const none[] = { NULL };
    rr_set *s = set_from("/a /b?y=1\n/p/* /q/*\n"
                         "/abs https://x.example/z\n");
    rr_match m = lookup_or_fail(s, "/a", "x=1");

    ck_assert_str_eq(rr_match_location_parts(&m, tp, "/a", "x=1", parts),
                     "https://h.example:8443/b?y=1");
    ck_assert_str_eq(rr_match_location_parts(&m, tp, "/a", "x=1", NULL),
                     "/b?y=1");
    ck_assert_str_eq(rr_match_location_parts(&m, tp, "/a", "x=1", none),
                     "/b?y=1");
    m = lookup_or_fail(s, "/p/a b", "k=v");
    ck_assert_str_eq(rr_match_location_parts(&m, tp, "/p/a b", "k=v", parts),
                     rr_match_location(&m, tp, "/p/a b", "k=v",
                                       "https://h.example:8443"));
    m = lookup_or_fail(s, "/abs", NULL);
    ck_assert_str_eq(rr_match_location_parts(&m, tp, "/abs", NULL, parts),
                     "https://x.example/z");
}
END_TEST

START_TEST(location_base_bytes_escaped)
{
    static const char *const parts[] = { "http", "://", "bad host\r\n",
                                         ":80\x7f\xff", NULL };
    rr_set *s = set_from("/a /b\n");
    rr_match m = lookup_or_fail(s, "/a", NULL);
    const char *loc = rr_match_location(&m, tp, "/a", NULL,
                                        "http://bad host\r\nX: \x01\xff");

    ck_assert_msg(loc && first_unsafe_byte(loc) < 0, "\"%s\"", show0(loc));
    loc = rr_match_location_parts(&m, tp, "/a", NULL, parts);
    ck_assert_msg(loc && first_unsafe_byte(loc) < 0, "\"%s\"", show0(loc));
}
END_TEST

Suite *location_suite(void)
{
    Suite *s = suite_create("location");
    TCase *tc = unit_tcase("location");

    tcase_add_test(tc, location_path_target_gets_base);
    tcase_add_test(tc, location_base_used_as_given);
    tcase_add_test(tc, location_absolute_target_unchanged);
    tcase_add_test(tc, location_status_rule_or_default);
    tcase_add_test(tc, location_410_is_null);
    tcase_add_test(tc, location_prefix_carry_escaped);
    tcase_add_test(tc, location_escapes_crlf);
    tcase_add_test(tc, location_query_appended_by_default);
    tcase_add_test(tc, location_query_dropped_when_target_has_one);
    tcase_add_test(tc, location_qsdrop_never_carries);
    tcase_add_test(tc, location_qsappend_merges);
    tcase_add_test(tc, location_query_rule_consumes_args);
    tcase_add_test(tc, location_fragment_stays_last);
    tcase_add_test(tc, location_args_escaped);
    tcase_add_test(tc, location_every_path_byte_is_safe);
    tcase_add_test(tc, location_path_bytes_escaped_exactly);
    tcase_add_test(tc, location_every_args_byte_is_safe);
    tcase_add_test(tc, location_args_bytes_escaped_exactly);
    tcase_add_test(tc, location_origin_names_rule);
    tcase_add_test(tc, location_parts_join_like_base);
    tcase_add_test(tc, location_base_bytes_escaped);
    tcase_add_test(tc, location_malformed_percent_in_query_escaped);
    suite_add_tcase(s, tc);
    return s;
}
