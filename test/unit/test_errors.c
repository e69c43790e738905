/*
 * test_errors.c - malformed rules: each is an error "NAME:LINE: reason",
 * add_buffer returns APR_EINVAL, freeze returns NULL, and good lines around
 * the bad one raise nothing.
 */
#include "helpers.h"

typedef struct {
    const char *what;
    const char *text;       /* the bad line, without line end */
    size_t len;
    const char *reason;     /* substring the message must hold, or NULL */
} bad_line;

static const bad_line missing_target_cases[] = {
    { "missing TARGET", LIT("/only-source"), NULL },
    { "missing TARGET before a comment", LIT("/only-source   # note"), NULL },
    { "missing TARGET, trailing blanks", LIT("/only-source \t "), NULL },
};

static const bad_line source_not_starting_with_slash_cases[] = {
    { "SOURCE without '/'", LIT("old-page /new-page"), NULL },
    { "SOURCE is a URL of another scheme", LIT("ftp://example.com/a /b"), NULL },
    { "SOURCE is '*'", LIT("* /x"), NULL },
    { "SOURCE is a query", LIT("?a=1 /x"), NULL },
};

static const bad_line unknown_status_cases[] = {
    { "STATUS 200", LIT("/a /b 200"), "unknown status" },
    { "STATUS 300", LIT("/a /b 300"), "unknown status" },
    { "STATUS 304", LIT("/a /b 304"), "unknown status" },
    { "STATUS 309", LIT("/a /b 309"), "unknown status" },
    { "STATUS 404", LIT("/a /b 404"), "unknown status" },
    { "STATUS 3011", LIT("/a /b 3011"), "unknown status" },
    { "STATUS 0301", LIT("/a /b 0301"), "unknown status" },
    { "STATUS 0", LIT("/a /b 0"), "unknown status" },
};

static const bad_line unknown_flag_cases[] = {
    { "unknown FLAG after STATUS", LIT("/a /b 301 bogus"), NULL },
    { "unknown FLAG alone", LIT("/a /b bogus"), NULL },
    { "unknown FLAG in a list", LIT("/a /b nocase,bogus"), NULL },
    { "STATUS where FLAGS go", LIT("/a /b 301 302"), NULL },
    { "qsdrop with qsappend", LIT("/a /b qsdrop,qsappend"), NULL },
};

static const bad_line too_many_fields_cases[] = {
    { "too many fields", LIT("/a /b 301 nocase extra"), "too many fields" },
};

static const bad_line gone_with_target_cases[] = {
    { "410 with a TARGET", LIT("/a /b 410"), NULL },
    { "410 with an absolute TARGET", LIT("/a https://x.example/ 410"), NULL },
};

static const bad_line redirect_with_dash_cases[] = {
    { "301 with '-'", LIT("/a - 301"), NULL },
    { "302 with '-'", LIT("/a - 302"), NULL },
    { "303 with '-'", LIT("/a - 303"), NULL },
    { "307 with '-'", LIT("/a - 307"), NULL },
    { "308 with '-'", LIT("/a - 308"), NULL },
};

static const bad_line bad_target_cases[] = {
    { "TARGET '//host/x'", LIT("/a //example.com/x"), NULL },
    { "TARGET relative", LIT("/a new-page"), NULL },
    { "TARGET URL without host", LIT("/a https://"), NULL },
    { "TARGET URL without host, with path", LIT("/a https:///x"), NULL },
    { "TARGET scheme starting with a digit", LIT("/a 1http://h/x"), NULL },
    { "TARGET without scheme", LIT("/a ://h/x"), NULL },
};

static const bad_line control_character_cases[] = {
    { "0x01 in SOURCE", LIT("/a\x01" "b /c"), "control character" },
    { "0x1f in TARGET", LIT("/a /b\x1f"), "control character" },
    { "0x7f in TARGET", LIT("/a /b\x7f"), "control character" },
    { "vertical tab", LIT("/a\x0b" "b /c"), "control character" },
    { "form feed", LIT("/a /b\x0c"), "control character" },
    { "escape sequence", LIT("/a\x1b[0m /b"), "control character" },
    { "CR not before LF", LIT("/a\r /b"), "control character" },
};

static const bad_line nul_byte_cases[] = {
    { "NUL in SOURCE", LIT("/a\0b /c"), "NUL" },
    { "NUL in TARGET", LIT("/a /b\0"), "NUL" },
    { "NUL in a comment line", LIT("# note\0 here"), "NUL" },
};

static const bad_line invalid_utf8_cases[] = {
    { "Latin-1 byte", LIT("/caf\xe9 /x"), "UTF-8" },
    { "0xff", LIT("/a /b\xff"), "UTF-8" },
    { "lone continuation byte", LIT("/a\x80" "b /c"), "UTF-8" },
    { "truncated sequence", LIT("/a\xe2\x82 /b"), "UTF-8" },
    { "truncated sequence at line end", LIT("/a /b\xe2\x82"), "UTF-8" },
    { "overlong '/'", LIT("/a\xc0\xaf" "b /c"), "UTF-8" },
    { "UTF-16 surrogate", LIT("/a\xed\xa0\x80 /b"), "UTF-8" },
    { "above U+10FFFF", LIT("/a\xf4\x90\x80\x80 /b"), "UTF-8" },
};

static const bad_line bad_percent_encoding_cases[] = {
    { "'%' at the end", LIT("/a% /b"), "bad percent-encoding" },
    { "'%' and one digit at the end", LIT("/a%4 /b"), "bad percent-encoding" },
    { "%zz", LIT("/a%zz /b"), "bad percent-encoding" },
    { "%g1", LIT("/%g1 /b"), "bad percent-encoding" },
    { "%4 then '/'", LIT("/a%4/b /c"), "bad percent-encoding" },
};

static const bad_line percent_decodes_to_control_cases[] = {
    { "%00", LIT("/a%00 /b"), NULL },
    { "%0A", LIT("/a%0A /b"), NULL },
    { "%0d", LIT("/a%0d /b"), NULL },
    { "%1F", LIT("/a%1F /b"), NULL },
    { "%7F", LIT("/a%7F /b"), NULL },
};

static const bad_line dot_segment_cases[] = {
    { "'.' segment", LIT("/a/./b /x"), NULL },
    { "'..' segment", LIT("/a/../b /x"), NULL },
    { "'..' at the end", LIT("/a/.. /x"), NULL },
    { "'/..'", LIT("/.. /x"), NULL },
    { "'.' before '/*'", LIT("/docs/./* /x/*"), NULL },
};

static const bad_line bad_query_cases[] = {
    { "prefix rule with a query", LIT("/docs/*?a=1 /x"), NULL },
    { "empty query", LIT("/a? /b"), NULL },
};

/* Why `text` as line 3 of rules.map is not reported right, or NULL. */
static const char *line3_problem(const char *text, size_t len,
                                 const char *reason)
{
    static const char head[] = "/ok1 /a\n# two\n";
    static const char tail[] = "\n/ok4 /d 301\n";
    size_t blen = sizeof(head) - 1 + len + sizeof(tail) - 1;
    char *buf = apr_palloc(tp, blen);
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    apr_status_t rv;
    int i;

    memcpy(buf, head, sizeof(head) - 1);
    memcpy(buf + sizeof(head) - 1, text, len);
    memcpy(buf + sizeof(head) - 1 + len, tail, sizeof(tail) - 1);
    rv = rr_builder_add_buffer(b, "rules.map", buf, blen, d);
    if (rv != APR_EINVAL)
        return apr_psprintf(tp, "add_buffer returned %d, not APR_EINVAL;%s",
                            rv, diag_dump(d));
    if (diag_nerrors(d) == 0)
        return "no error message";
    for (i = 0; i < diag_nerrors(d); i++)
        if (!starts_with(diag_error(d, i), "rules.map:3: "))
            return apr_psprintf(tp, "message not on \"rules.map:3: \";%s",
                                diag_dump(d));
    if (reason && !contains(diag_error(d, 0), reason))
        return apr_psprintf(tp, "message does not say \"%s\";%s", reason,
                            diag_dump(d));
    if (rr_builder_freeze(b, tp, d) != NULL)
        return "rr_builder_freeze returned a table";
    return NULL;
}

/* Checks each case as line 3 of rules.map; fails once listing every miss. */
static void check_bad_lines(const bad_line *c, size_t n)
{
    const char *bad = "";
    size_t i;

    for (i = 0; i < n; i++) {
        const char *why = line3_problem(c[i].text, c[i].len, c[i].reason);

        if (why)
            bad = apr_psprintf(tp, "%s\n  %s (%s): %s", bad, c[i].what,
                               show(c[i].text, c[i].len), why);
    }
    ck_assert_msg(*bad == '\0', "malformed lines not reported right:%s",
                  bad);
}

START_TEST(errors_missing_target)
{
    check_bad_lines(missing_target_cases, NELTS(missing_target_cases));
}
END_TEST

START_TEST(errors_source_not_starting_with_slash)
{
    check_bad_lines(source_not_starting_with_slash_cases, NELTS(source_not_starting_with_slash_cases));
}
END_TEST

START_TEST(errors_unknown_status)
{
    check_bad_lines(unknown_status_cases, NELTS(unknown_status_cases));
}
END_TEST

START_TEST(errors_unknown_flag)
{
    check_bad_lines(unknown_flag_cases, NELTS(unknown_flag_cases));
}
END_TEST

START_TEST(errors_too_many_fields)
{
    check_bad_lines(too_many_fields_cases, NELTS(too_many_fields_cases));
}
END_TEST

START_TEST(errors_gone_with_target)
{
    check_bad_lines(gone_with_target_cases, NELTS(gone_with_target_cases));
}
END_TEST

START_TEST(errors_redirect_with_dash)
{
    check_bad_lines(redirect_with_dash_cases, NELTS(redirect_with_dash_cases));
}
END_TEST

START_TEST(errors_bad_target)
{
    check_bad_lines(bad_target_cases, NELTS(bad_target_cases));
}
END_TEST

START_TEST(errors_control_character)
{
    check_bad_lines(control_character_cases, NELTS(control_character_cases));
}
END_TEST

START_TEST(errors_nul_byte)
{
    check_bad_lines(nul_byte_cases, NELTS(nul_byte_cases));
}
END_TEST

START_TEST(errors_invalid_utf8)
{
    check_bad_lines(invalid_utf8_cases, NELTS(invalid_utf8_cases));
}
END_TEST

START_TEST(errors_bad_percent_encoding)
{
    check_bad_lines(bad_percent_encoding_cases, NELTS(bad_percent_encoding_cases));
}
END_TEST

START_TEST(errors_percent_decodes_to_control)
{
    check_bad_lines(percent_decodes_to_control_cases, NELTS(percent_decodes_to_control_cases));
}
END_TEST

START_TEST(errors_dot_segment)
{
    check_bad_lines(dot_segment_cases, NELTS(dot_segment_cases));
}
END_TEST

START_TEST(errors_bad_query)
{
    check_bad_lines(bad_query_cases, NELTS(bad_query_cases));
}
END_TEST


START_TEST(errors_line_of_8193_bytes)
{
    const char *line = apr_pstrcat(tp, "/", repeat("a", RR_MAX_LINE - 3),
                                   " /t", NULL);
    const char *why;

    ck_assert_uint_eq(strlen(line), 8193);
    why = line3_problem(line, strlen(line), "line longer than 8192 bytes");
    ck_assert_msg(why == NULL, "8193-byte line: %s", why);
}
END_TEST

START_TEST(errors_huge_line_then_parsing_goes_on)
{
    /* A megabyte on line 2, then a bad status on line 4. */
    const char *text = apr_pstrcat(tp, "/a /b\n/", repeat("x", 1 << 20),
                                   " /t\n/ok /c\n/d /e 999\n", NULL);
    rr_diag *d = parse_expect_errors("rules.map", text, strlen(text),
                                     &opt_default);

    ck_assert_msg(diag_nerrors(d) == 2, "expected 2 errors:%s", diag_dump(d));
    ck_assert_msg(starts_with(diag_error(d, 0), "rules.map:2: ")
                  && contains(diag_error(d, 0), "line longer than 8192 bytes"),
                  "%s", diag_dump(d));
    ck_assert_msg(starts_with(diag_error(d, 1), "rules.map:4: "), "%s",
                  diag_dump(d));
}
END_TEST

START_TEST(errors_query_with_33_params)
{
    const char *params = "p0=0", *line, *why;
    int i;

    for (i = 1; i < RR_MAX_QUERY_PARAMS + 1; i++)
        params = apr_psprintf(tp, "%s&p%d=%d", params, i, i);
    line = apr_pstrcat(tp, "/q?", params, " /x", NULL);
    why = line3_problem(line, strlen(line), NULL);
    ck_assert_msg(why == NULL, "33 query params: %s", why);
}
END_TEST

START_TEST(errors_every_bad_line_reported_in_order)
{
    rr_diag *d = parse_expect_errors("rules.map",
                                     LIT("/ok /a\n"
                                         "/b /c 299\n"
                                         "/ok2 /d\n"
                                         "nope /e\n"
                                         "\n"
                                         "/f\n"),
                                     &opt_default);

    ck_assert_msg(diag_nerrors(d) == 3, "expected 3 errors:%s", diag_dump(d));
    ck_assert_msg(starts_with(diag_error(d, 0), "rules.map:2: ")
                  && starts_with(diag_error(d, 1), "rules.map:4: ")
                  && starts_with(diag_error(d, 2), "rules.map:6: "),
                  "wrong lines:%s", diag_dump(d));
}
END_TEST

START_TEST(errors_line_numbers_count_crlf_lines)
{
    rr_diag *d = parse_expect_errors("rules.map",
                                     LIT("/a /b\r\n\r\n# c\r\n/d /e 299\r\n"),
                                     &opt_default);

    ck_assert_msg(diag_nerrors(d) == 1
                  && starts_with(diag_error(d, 0), "rules.map:4: "),
                  "%s", diag_dump(d));
}
END_TEST

START_TEST(errors_stop_at_max_errors)
{
    const char *text = repeat("/a /b 299\n", 30);
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);

    d->max_errors = 3;
    ck_assert_int_eq(rr_builder_add_buffer(b, "rules.map", text, strlen(text),
                                           d), APR_EINVAL);
    ck_assert_int_eq(diag_nerrors(d), 3);
    ck_assert_ptr_null(rr_builder_freeze(b, tp, d));

    /* max_errors 0 means 20. */
    d = diag_new();
    d->max_errors = 0;
    b = rr_builder_create(tp, &opt_default);
    ck_assert_int_eq(rr_builder_add_buffer(b, "rules.map", text, strlen(text),
                                           d), APR_EINVAL);
    ck_assert_int_eq(diag_nerrors(d), 20);
}
END_TEST

START_TEST(errors_null_diag_still_fails)
{
    rr_builder *b = rr_builder_create(tp, &opt_default);

    ck_assert_int_eq(rr_builder_add_buffer(b, "rules.map", LIT("/a\n"), NULL),
                     APR_EINVAL);
    ck_assert_ptr_null(rr_builder_freeze(b, tp, NULL));
}
END_TEST

START_TEST(errors_inline_line_names_config_file)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);

    ck_assert_int_eq(rr_builder_add_line(b, "/etc/apache2/sites/x.conf", 17,
                                         LIT("/a /b 299"), d), APR_EINVAL);
    ck_assert_msg(diag_nerrors(d) == 1
                  && starts_with(diag_error(d, 0),
                                 "/etc/apache2/sites/x.conf:17: ")
                  && contains(diag_error(d, 0), "unknown status"),
                  "%s", diag_dump(d));
    ck_assert_ptr_null(rr_builder_freeze(b, tp, d));
}
END_TEST

START_TEST(errors_error_in_one_buffer_fails_the_builder)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);

    ck_assert_int_eq(rr_builder_add_buffer(b, "good.map", LIT("/a /b\n"), d),
                     APR_SUCCESS);
    ck_assert_int_eq(rr_builder_add_buffer(b, "bad.map", LIT("\n/c\n"), d),
                     APR_EINVAL);
    ck_assert_msg(diag_nerrors(d) == 1
                  && starts_with(diag_error(d, 0), "bad.map:2: "),
                  "%s", diag_dump(d));
    ck_assert_ptr_null(rr_builder_freeze(b, tp, d));
}
END_TEST

START_TEST(errors_unreadable_file)
{
    static const char path[] = "/nonexistent-rr-unit/none.map";
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);

    ck_assert_int_eq(rr_builder_add_file(b, path, d), APR_EINVAL);
    ck_assert_msg(diag_nerrors(d) == 1
                  && starts_with(diag_error(d, 0), apr_pstrcat(tp, path, ": ",
                                                               NULL)),
                  "%s", diag_dump(d));
    ck_assert_ptr_null(rr_builder_freeze(b, tp, d));
    d = diag_new();
    ck_assert_ptr_null(rr_table_load_file(tp, path, &opt_default, d));
    ck_assert_int_ge(diag_nerrors(d), 1);
}
END_TEST

Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = unit_tcase("errors");

    tcase_add_test(tc, errors_missing_target);
    tcase_add_test(tc, errors_source_not_starting_with_slash);
    tcase_add_test(tc, errors_unknown_status);
    tcase_add_test(tc, errors_unknown_flag);
    tcase_add_test(tc, errors_too_many_fields);
    tcase_add_test(tc, errors_gone_with_target);
    tcase_add_test(tc, errors_redirect_with_dash);
    tcase_add_test(tc, errors_bad_target);
    tcase_add_test(tc, errors_control_character);
    tcase_add_test(tc, errors_nul_byte);
    tcase_add_test(tc, errors_invalid_utf8);
    tcase_add_test(tc, errors_bad_percent_encoding);
    tcase_add_test(tc, errors_percent_decodes_to_control);
    tcase_add_test(tc, errors_dot_segment);
    tcase_add_test(tc, errors_bad_query);
    tcase_add_test(tc, errors_line_of_8193_bytes);
    tcase_add_test(tc, errors_huge_line_then_parsing_goes_on);
    tcase_add_test(tc, errors_query_with_33_params);
    tcase_add_test(tc, errors_every_bad_line_reported_in_order);
    tcase_add_test(tc, errors_line_numbers_count_crlf_lines);
    tcase_add_test(tc, errors_stop_at_max_errors);
    tcase_add_test(tc, errors_null_diag_still_fails);
    tcase_add_test(tc, errors_inline_line_names_config_file);
    tcase_add_test(tc, errors_error_in_one_buffer_fails_the_builder);
    tcase_add_test(tc, errors_unreadable_file);
    suite_add_tcase(s, tc);
    return s;
}
