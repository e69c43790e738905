/*
 * test_encoding.c - percent-encoding: sources are decoded once when loaded
 * and compared with the decoded request path; targets keep their escapes
 * and get non-ASCII escaped; rr_escape_path escapes exactly its byte
 * classes.
 */
#include <stdio.h>
#include "helpers.h"

/* Bytes rr_escape_path() must escape (header + README). */
static int path_byte_escaped(unsigned c)
{
    return c < 0x21 || c >= 0x7f || (c != 0 && strchr("#%?<>\"\\^`{|}",
                                                        (int)c) != NULL);
}

START_TEST(encoding_source_encoded_equals_literal)
{
    static const lookup_case cases[] = {
        { "/caf\xc3\xa9", NULL, "307 " BASE "/coffee" },
        { "/th\xc3\xa9", NULL, "307 " BASE "/tea" },
        { "/caf%C3%A9", NULL, "no match" },
        { "/th%C3%A9", NULL, "no match" },
        { "/cafe", NULL, "no match" },
    };

    check_answers(set_from("/caf%C3%A9 /coffee\n/th\xc3\xa9 /tea\n"), cases);
    check_answers(set_from("/caf%c3%a9 /coffee\n/th%C3%A9 /tea\n"), cases);
}
END_TEST

START_TEST(encoding_source_escapes_decoded_once)
{
    static const lookup_case cases[] = {
        { "/a b", NULL, "307 " BASE "/space" },
        { "/100%", NULL, "307 " BASE "/percent" },
        { "/100%25", NULL, "307 " BASE "/double" },
        { "/A", NULL, "307 " BASE "/upper" },
        { "/q?", NULL, "307 " BASE "/question" },
        { "/\xff", NULL, "307 " BASE "/ff" },
        { "/a%20b", NULL, "no match" },
    };

    check_answers(set_from("/a%20b /space\n/100%25 /percent\n"
                           "/100%2525 /double\n/%41 /upper\n"
                           "/q%3F /question\n/%FF /ff\n"), cases);
}
END_TEST

START_TEST(encoding_rule_source_reported_decoded)
{
    rr_set *s = set_from("/caf%C3%A9/a%20b /x\n");
    rr_match m = lookup_or_fail(s, "/caf\xc3\xa9/a b", NULL);
    rr_rule_info info;

    rr_match_rule(&m, tp, &info);
    ck_assert_str_eq(info.source, "/caf\xc3\xa9/a b");
}
END_TEST

START_TEST(encoding_target_non_ascii_escaped_when_loaded)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/caf%C3%A9" },
        { "/b", NULL, "301 https://h.example/%C3%BC?q=%E2%82%AC" },
        { "/c/x", NULL, "307 " BASE "/%E6%97%A5/x" },
    };
    rr_set *s = set_from("/a /caf\xc3\xa9\n"
                         "/b https://h.example/\xc3\xbc?q=\xe2\x82\xac 301\n"
                         "/c/* /\xe6\x97\xa5/*\n");
    rr_match m = lookup_or_fail(s, "/a", NULL);
    rr_rule_info info;

    check_answers(s, cases);
    rr_match_rule(&m, tp, &info);
    ck_assert_str_eq(info.target, "/caf%C3%A9");
}
END_TEST

START_TEST(encoding_target_escapes_kept_as_written)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/a%20b%2Fc" },
        { "/b", NULL, "307 https://h.example/x%3Fy?q=%26" },
    };

    check_answers(set_from("/a /a%20b%2Fc\n/b https://h.example/x%3Fy?q=%26\n"),
                  cases);
}
END_TEST

START_TEST(encoding_escape_path_every_byte)
{
    const char *bad = "";
    unsigned c;

    for (c = 0; c < 256; c++) {
        char in = (char)c;
        const char *got = rr_escape_path(tp, &in, 1);
        char want[4];

        if (path_byte_escaped(c))
            snprintf(want, sizeof(want), "%%%02X", c);
        else {
            want[0] = (char)c;
            want[1] = '\0';
        }
        if (!got || strcmp(got, want) != 0)
            bad = apr_psprintf(tp, "%s\n  byte 0x%02x: got \"%s\", "
                               "expected \"%s\"", bad, c, show0(got), want);
    }
    ck_assert_msg(*bad == '\0', "rr_escape_path:%s", bad);
}
END_TEST

START_TEST(encoding_escape_path_strings)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        { LIT(""), "" },
        { LIT("a/b-c_d.e~f!$&'()*+,;=:@"), "a/b-c_d.e~f!$&'()*+,;=:@" },
        { LIT("a b\r\n"), "a%20b%0D%0A" },
        { LIT("caf\xc3\xa9"), "caf%C3%A9" },
        { LIT("100%"), "100%25" },
        { LIT("a\0b"), "a%00b" },
        { LIT("x?y#z"), "x%3Fy%23z" },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        const char *got = rr_escape_path(tp, cases[i].in, cases[i].len);

        ck_assert_msg(got && strcmp(got, cases[i].out) == 0,
                      "%s: got \"%s\", expected \"%s\"",
                      show(cases[i].in, cases[i].len), show0(got),
                      cases[i].out);
    }
    /* Only `len` bytes are read. */
    ck_assert_str_eq(rr_escape_path(tp, "a b c", 3), "a%20b");
}
END_TEST

Suite *encoding_suite(void)
{
    Suite *s = suite_create("encoding");
    TCase *tc = unit_tcase("encoding");

    tcase_add_test(tc, encoding_source_encoded_equals_literal);
    tcase_add_test(tc, encoding_source_escapes_decoded_once);
    tcase_add_test(tc, encoding_rule_source_reported_decoded);
    tcase_add_test(tc, encoding_target_non_ascii_escaped_when_loaded);
    tcase_add_test(tc, encoding_target_escapes_kept_as_written);
    tcase_add_test(tc, encoding_escape_path_every_byte);
    tcase_add_test(tc, encoding_escape_path_strings);
    suite_add_tcase(s, tc);
    return s;
}
