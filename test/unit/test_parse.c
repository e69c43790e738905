/*
 * test_parse.c - reading well-formed rules files: line ends, comments,
 * fields, statuses, flags, kinds, origins, files on disk, stats and dump.
 */
#include <stdio.h>
#include "apr_file_io.h"
#include "helpers.h"

/* The single rule of a one-rule table. */
static rr_rule_info only_rule(const char *text)
{
    rr_table *t = table_from("rules.map", text, strlen(text), &opt_default,
                             NULL);
    rr_rule_info info;

    ck_assert_msg(rr_table_count(t) == 1, "%s: %u rules, expected 1",
                  show0(text), rr_table_count(t));
    memset(&info, 0, sizeof(info));
    rr_table_rule(t, 0, tp, &info);
    return info;
}

START_TEST(parse_empty_file_has_no_rules)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    rr_table *t;

    ck_assert_int_eq(rr_builder_add_buffer(b, "rules.map", "", 0, d),
                     APR_SUCCESS);
    ck_assert_uint_eq(rr_builder_count(b), 0);
    t = rr_builder_freeze(b, tp, d);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(rr_table_count(t), 0);
    ck_assert_int_eq(diag_nerrors(d), 0);
    ck_assert_int_eq(diag_nwarnings(d), 0);
    ck_assert_str_eq(answer(set_of(t), "/", NULL), "no match");
}
END_TEST

START_TEST(parse_blank_and_comment_lines_ignored)
{
    static const char text[] =
        "\n"
        "   \n"
        "\t \t\n"
        "# a comment /x /y\n"
        "   # an indented comment\n"
        "\t#/tabbed /comment\n"
        "/old-page /new-page\n"
        "#\n";
    rr_table *t = table_from("rules.map", LIT(text), &opt_default, NULL);
    rr_set *s = set_of(t);
    rr_match m;

    ck_assert_uint_eq(rr_table_count(t), 1);
    ck_assert_str_eq(answer(s, "/x", NULL), "no match");
    ck_assert_str_eq(answer(s, "/tabbed", NULL), "no match");
    m = lookup_or_fail(s, "/old-page", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), "rules.map:7");
}
END_TEST

START_TEST(parse_trailing_comment_after_whitespace)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/b" },
        { "/c", NULL, "301 " BASE "/d" },
        { "/e", NULL, "302 " BASE "/f" },
        { "/g", NULL, "307 " BASE "/h" },
    };
    rr_set *s = set_from("/a /b # comment with /fields 301 bogus\n"
                         "/c /d 301 # comment\n"
                         "/e\t/f\t302\t# tab before the hash\n"
                         "/g /h nocase #\n");

    check_answers(s, cases);
}
END_TEST

START_TEST(parse_hash_inside_field_is_not_comment)
{
    rr_rule_info info = only_rule("/a /b#frag 301\n");

    ck_assert_str_eq(info.target, "/b#frag");
    ck_assert_int_eq(info.status, 301);
}
END_TEST

START_TEST(parse_fields_split_on_spaces_and_tabs)
{
    static const struct {
        const char *text;
        int status;
        unsigned flags;
    } cases[] = {
        { "/a /b\n", 0, 0 },
        { "/a\t/b\n", 0, 0 },
        { "/a \t \t/b\t \t301\n", 301, 0 },
        { "   /a /b 302   \n", 302, 0 },
        { "\t/a\t\t/b\t\t303\t\tnocase\t\n", 303, RR_FLAG_NOCASE },
        { "/a /b nocase,qsdrop\n", 0, RR_FLAG_NOCASE | RR_FLAG_QSDROP },
        { "/a /b 308 qsappend,nocase\n", 308,
          RR_FLAG_QSAPPEND | RR_FLAG_NOCASE },
    };
    size_t i;

    for (i = 0; i < NELTS(cases); i++) {
        rr_rule_info info = only_rule(cases[i].text);

        ck_assert_msg(strcmp(info.source, "/a") == 0
                      && strcmp(info.target, "/b") == 0
                      && info.status == cases[i].status
                      && info.flags == cases[i].flags
                      && info.kind == RR_KIND_EXACT,
                      "%s: source %s target %s status %d flags %#x kind %d",
                      show0(cases[i].text), show0(info.source),
                      show0(info.target), info.status, info.flags,
                      (int)info.kind);
    }
}
END_TEST

START_TEST(parse_last_line_without_newline)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/b" },
        { "/c", NULL, "301 " BASE "/d" },
    };
    rr_table *t = table_from("rules.map", LIT("/a /b\n/c /d 301"),
                             &opt_default, NULL);

    ck_assert_uint_eq(rr_table_count(t), 2);
    check_answers(set_of(t), cases);
}
END_TEST

START_TEST(parse_crlf_line_ends_stripped)
{
    static const lookup_case cases[] = {
        { "/a", NULL, "307 " BASE "/b" },
        { "/c", NULL, "301 " BASE "/d" },
        { "/e", NULL, "302 " BASE "/f" },
    };
    rr_table *t = table_from("rules.map",
                             LIT("# comment\r\n/a /b\r\n\r\n/c /d 301\r\n"
                                 "/e /f 302 nocase\r\n"),
                             &opt_default, NULL);
    rr_set *s = set_of(t);
    rr_rule_info info;
    rr_match m;

    ck_assert_uint_eq(rr_table_count(t), 3);
    check_answers(s, cases);
    m = lookup_or_fail(s, "/a", NULL);
    rr_match_rule(&m, tp, &info);
    ck_assert_str_eq(info.target, "/b");
    ck_assert_str_eq(rr_match_origin(&m, tp), "rules.map:2");
    m = lookup_or_fail(s, "/e", NULL);
    rr_match_rule(&m, tp, &info);
    ck_assert_uint_eq(info.flags, RR_FLAG_NOCASE);
}
END_TEST

START_TEST(parse_status_values)
{
    static const int statuses[] = { 301, 302, 303, 307, 308 };
    size_t i;

    for (i = 0; i < NELTS(statuses); i++) {
        const char *text = apr_psprintf(tp, "/a /b %d\n", statuses[i]);
        rr_set *s = set_from(text);
        rr_match m = lookup_or_fail(s, "/a", NULL);
        rr_rule_info info;

        rr_match_rule(&m, tp, &info);
        ck_assert_int_eq(info.status, statuses[i]);
        ck_assert_int_eq(rr_match_status(&m, 302), statuses[i]);
        ck_assert_str_eq(answer(s, "/a", NULL),
                         apr_psprintf(tp, "%d " BASE "/b", statuses[i]));
    }
}
END_TEST

START_TEST(parse_missing_status_uses_default)
{
    rr_set *s = set_from("/a /b\n/c /d nocase\n");
    rr_match m = lookup_or_fail(s, "/a", NULL);
    rr_rule_info info;

    rr_match_rule(&m, tp, &info);
    ck_assert_int_eq(info.status, 0);
    ck_assert_int_eq(rr_match_status(&m, 307), 307);
    ck_assert_int_eq(rr_match_status(&m, 301), 301);
    ck_assert_int_eq(rr_match_status(&m, 308), 308);
    m = lookup_or_fail(s, "/c", NULL);
    ck_assert_int_eq(rr_match_status(&m, 302), 302);
}
END_TEST

START_TEST(parse_dash_target_is_410)
{
    static const char *const texts[] = { "/retired -\n", "/retired - 410\n",
                                         "/retired\t-\t410\n" };
    size_t i;

    for (i = 0; i < NELTS(texts); i++) {
        rr_set *s = set_from(texts[i]);
        rr_match m = lookup_or_fail(s, "/retired", NULL);
        rr_rule_info info;

        rr_match_rule(&m, tp, &info);
        ck_assert_msg(info.status == 410 && info.target == NULL,
                      "%s: status %d target %s", show0(texts[i]),
                      info.status, show0(info.target));
        ck_assert_int_eq(rr_match_status(&m, 307), 410);
        ck_assert_ptr_null(rr_match_location(&m, tp, "/retired", NULL, BASE));
        ck_assert_str_eq(answer(s, "/retired", "a=1"), "410");
    }
}
END_TEST

START_TEST(parse_rule_kinds)
{
    rr_set *s = set_from("/old-page /new-page\n"
                         "/docs/* https://docs.example.com/v2/*\n"
                         "/index.php?id=42 /products/blue-widget\n");
    rr_rule_info info;
    rr_match m;

    m = lookup_or_fail(s, "/old-page", NULL);
    rr_match_rule(&m, tp, &info);
    ck_assert_int_eq(info.kind, RR_KIND_EXACT);
    ck_assert_str_eq(info.source, "/old-page");
    ck_assert_ptr_null(info.query);

    m = lookup_or_fail(s, "/docs/a", NULL);
    rr_match_rule(&m, tp, &info);
    ck_assert_int_eq(info.kind, RR_KIND_PREFIX);
    ck_assert_str_eq(info.target, "https://docs.example.com/v2/*");

    m = lookup_or_fail(s, "/index.php", "id=42");
    rr_match_rule(&m, tp, &info);
    ck_assert_int_eq(info.kind, RR_KIND_QUERY);
    ck_assert_str_eq(info.source, "/index.php");
    ck_assert_str_eq(info.query, "id=42");
}
END_TEST

START_TEST(parse_target_forms_accepted)
{
    static const char *const targets[] = {
        "/new-page",
        "/",
        "/a/b/c?x=1&y=2#top",
        "https://shop.example.com/sale",
        "http://example.org",
        "https://h.example:8443/x?y=1#z",
        "git+ssh.v-2://host/repo",
        "HTTPS://EXAMPLE.COM/UPPER",
    };
    size_t i;

    for (i = 0; i < NELTS(targets); i++) {
        rr_rule_info info = only_rule(apr_pstrcat(tp, "/src ", targets[i],
                                                  " 301\n", NULL));

        ck_assert_str_eq(info.target, targets[i]);
    }
}
END_TEST

START_TEST(parse_origin_names_file_and_line)
{
    rr_table *t = table_from("rules.map", LIT("# header\n\n/a /b\n/c /d\n"),
                             &opt_default, NULL);
    rr_set *s = set_of(t);
    rr_match m = lookup_or_fail(s, "/c", NULL);
    rr_rule_info info;

    ck_assert_str_eq(rr_match_origin(&m, tp), "rules.map:4");
    rr_match_rule(&m, tp, &info);
    ck_assert_str_eq(info.file, "rules.map");
    ck_assert_uint_eq(info.line, 4);
    m = lookup_or_fail(s, "/a", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), "rules.map:3");
}
END_TEST

START_TEST(parse_add_line_inline_rule)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    rr_table *t;
    rr_match m;

    ck_assert_int_eq(rr_builder_add_line(b, "/etc/apache2/httpd.conf", 42,
                                         LIT("/a /b 301"), d),
                     APR_SUCCESS);
    ck_assert_int_eq(rr_builder_add_line(b, "/etc/apache2/httpd.conf", 43,
                                         LIT("/c https://x.example/d"), d),
                     APR_SUCCESS);
    ck_assert_uint_eq(rr_builder_count(b), 2);
    t = rr_builder_freeze(b, tp, d);
    ck_assert_ptr_nonnull(t);
    m = lookup_or_fail(set_of(t), "/a", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), "/etc/apache2/httpd.conf:42");
    ck_assert_str_eq(answer(set_of(t), "/a", NULL), "301 " BASE "/b");
    ck_assert_str_eq(answer(set_of(t), "/c", NULL),
                     "307 https://x.example/d");
}
END_TEST

START_TEST(parse_several_buffers_into_one_builder)
{
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    rr_table *t;
    rr_set *s;
    rr_match m;

    ck_assert_int_eq(rr_builder_add_buffer(b, "a.map", LIT("/a /x\n"), d),
                     APR_SUCCESS);
    ck_assert_int_eq(rr_builder_add_buffer(b, "b.map", LIT("\n/b /y\n"), d),
                     APR_SUCCESS);
    ck_assert_uint_eq(rr_builder_count(b), 2);
    t = rr_builder_freeze(b, tp, d);
    ck_assert_ptr_nonnull(t);
    s = set_of(t);
    m = lookup_or_fail(s, "/a", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), "a.map:1");
    m = lookup_or_fail(s, "/b", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), "b.map:2");
}
END_TEST

/* A temporary rules file holding `text`; removed with the test pool. */
static const char *write_temp_file(const char *text)
{
    char *path = apr_pstrdup(tp, "/tmp/rr_unit_XXXXXX");
    apr_file_t *f;
    apr_size_t n = strlen(text);

    ck_assert_int_eq(apr_file_mktemp(&f, path,
                                     APR_FOPEN_CREATE | APR_FOPEN_READ
                                     | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                     | APR_FOPEN_DELONCLOSE, tp),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_file_write_full(f, text, n, NULL), APR_SUCCESS);
    ck_assert_int_eq(apr_file_flush(f), APR_SUCCESS);
    /* `f` stays open (and the file on disk) until the test pool dies. */
    return path;
}

START_TEST(parse_file_from_disk)
{
    const char *path = write_temp_file("# rules\n/a /b 301\n/c /d\n");
    rr_diag *d = diag_new();
    rr_builder *b = rr_builder_create(tp, &opt_default);
    rr_table *t;
    rr_match m;

    ck_assert_int_eq(rr_builder_add_file(b, path, d), APR_SUCCESS);
    t = rr_builder_freeze(b, tp, d);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(rr_table_count(t), 2);
    m = lookup_or_fail(set_of(t), "/c", NULL);
    ck_assert_str_eq(rr_match_origin(&m, tp), apr_pstrcat(tp, path, ":3",
                                                          NULL));

    d = diag_new();
    t = rr_table_load_file(tp, path, &opt_default, d);
    ck_assert_msg(t != NULL, "rr_table_load_file:%s", diag_dump(d));
    ck_assert_str_eq(answer(set_of(t), "/a", NULL), "301 " BASE "/b");
}
END_TEST

START_TEST(parse_line_of_8192_bytes_accepted)
{
    /* "/" + k * 'a' + " /t" is k + 4 bytes long. */
    const char *source = apr_pstrcat(tp, "/", repeat("a", RR_MAX_LINE - 4),
                                     NULL);
    const char *line = apr_pstrcat(tp, source, " /t", NULL);
    const char *lf = apr_pstrcat(tp, line, "\n/next /n\n", NULL);
    const char *crlf = apr_pstrcat(tp, line, "\r\n/next /n\r\n", NULL);
    const char *texts[] = { line, lf, crlf };
    size_t i;

    ck_assert_uint_eq(strlen(line), 8192);
    for (i = 0; i < NELTS(texts); i++) {
        rr_set *s = set_of(table_from("rules.map", texts[i],
                                      strlen(texts[i]), &opt_default, NULL));

        ck_assert_str_eq(answer(s, source, NULL), "307 " BASE "/t");
    }
}
END_TEST

START_TEST(parse_valid_utf8_accepted)
{
    static const lookup_case cases[] = {
        { "/caf\xc3\xa9", NULL, "307 " BASE "/1" },
        { "/\xe6\x97\xa5\xe6\x9c\xac", NULL, "307 " BASE "/2" },
        { "/\xf0\x9f\x98\x80", NULL, "307 " BASE "/3" },
        { "/\xef\xbf\xbd", NULL, "307 " BASE "/4" },
    };
    rr_set *s = set_from("/caf\xc3\xa9 /1\n"
                         "/\xe6\x97\xa5\xe6\x9c\xac /2 # \xe6\x97\xa5\n"
                         "/\xf0\x9f\x98\x80 /3\n"
                         "/\xef\xbf\xbd /4\n");

    check_answers(s, cases);
}
END_TEST

START_TEST(parse_stats_count_kinds_and_statuses)
{
    rr_table *t = table_from("rules.map",
                             LIT("/a /b\n/c /d 301\n/e /f 301\n"
                                 "/p/* /q/* 302\n/i?x=1 /y 308\n/g -\n"
                                 "/h /i 303\n/j /k 307\n"),
                             &opt_default, NULL);
    rr_stats st;

    memset(&st, 0xff, sizeof(st));
    rr_table_stats(t, &st);
    ck_assert_uint_eq(st.rules, 8);
    ck_assert_uint_eq(rr_table_count(t), 8);
    ck_assert_uint_eq(st.exact, 6);
    ck_assert_uint_eq(st.prefix, 1);
    ck_assert_uint_eq(st.query, 1);
    ck_assert_uint_eq(st.by_status[0], 1);
    ck_assert_uint_eq(st.by_status[1], 2);
    ck_assert_uint_eq(st.by_status[2], 1);
    ck_assert_uint_eq(st.by_status[3], 1);
    ck_assert_uint_eq(st.by_status[4], 1);
    ck_assert_uint_eq(st.by_status[5], 1);
    ck_assert_uint_eq(st.by_status[6], 1);
    ck_assert_uint_ge(st.slots, 8);
    ck_assert_uint_gt(st.text_bytes, 0);
    ck_assert_uint_ge(st.bytes, st.text_bytes);
}
END_TEST

START_TEST(parse_table_keeps_options)
{
    rr_table *t = table_from("rules.map", LIT("/a /b\n"), &opt_nocase, NULL);
    const rr_options *o = rr_table_options(t);

    ck_assert_int_ne(o->case_insensitive, 0);
    ck_assert_int_eq(o->trailing_strict, 0);
    t = table_from("rules.map", LIT("/a /b\n"), &opt_strict, NULL);
    o = rr_table_options(t);
    ck_assert_int_eq(o->case_insensitive, 0);
    ck_assert_int_ne(o->trailing_strict, 0);
}
END_TEST

START_TEST(parse_dump_reparses_to_same_answers)
{
    static const char text[] =
        "/old-page /new-page\n"
        "/promo https://shop.example.com/sale 302\n"
        "/docs/* https://docs.example.com/v2/* 301\n"
        "/index.php?id=42&b=2 /products/blue-widget 308\n"
        "/retired - 410\n"
        "/Legal /legal 301 nocase\n"
        "/caf%C3%A9 /coffee\n"
        "/a%20b%25 /space qsdrop\n"
        "/q /r?x=1 qsappend\n";
    static const lookup_case cases[] = {
        { "/old-page", "k=v", "" }, { "/promo", NULL, "" },
        { "/docs/a/b", NULL, "" }, { "/docs", NULL, "" },
        { "/index.php", "b=2&id=42", "" }, { "/retired", NULL, "" },
        { "/LEGAL", NULL, "" }, { "/caf\xc3\xa9", NULL, "" },
        { "/a b%", "z=1", "" }, { "/q", "z=1", "" }, { "/none", NULL, "" },
    };
    rr_table *t = table_from("rules.map", LIT(text), &opt_default, NULL);
    const char *dump = rr_table_dump(t, tp);
    rr_set *before = set_of(t), *after;
    const char *bad = "";
    size_t i;

    ck_assert_ptr_nonnull(dump);
    after = set_of(table_from("dump.map", dump, strlen(dump), &opt_default,
                              NULL));
    for (i = 0; i < NELTS(cases); i++) {
        const char *a = answer(before, cases[i].path, cases[i].args);
        const char *b = answer(after, cases[i].path, cases[i].args);

        if (strcmp(a, b) != 0)
            bad = apr_psprintf(tp, "%s\n  %s: \"%s\" became \"%s\"", bad,
                               show0(cases[i].path), a, b);
    }
    ck_assert_msg(*bad == '\0', "dump changed answers:%s\ndump:\n%s", bad,
                  show0(dump));
    ck_assert_uint_eq(rr_table_count(t), 9);
    ck_assert_str_eq(answer(before, "/LEGAL", NULL), "301 " BASE "/legal");
}
END_TEST

Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = unit_tcase("parse");

    tcase_add_test(tc, parse_empty_file_has_no_rules);
    tcase_add_test(tc, parse_blank_and_comment_lines_ignored);
    tcase_add_test(tc, parse_trailing_comment_after_whitespace);
    tcase_add_test(tc, parse_hash_inside_field_is_not_comment);
    tcase_add_test(tc, parse_fields_split_on_spaces_and_tabs);
    tcase_add_test(tc, parse_last_line_without_newline);
    tcase_add_test(tc, parse_crlf_line_ends_stripped);
    tcase_add_test(tc, parse_status_values);
    tcase_add_test(tc, parse_missing_status_uses_default);
    tcase_add_test(tc, parse_dash_target_is_410);
    tcase_add_test(tc, parse_rule_kinds);
    tcase_add_test(tc, parse_target_forms_accepted);
    tcase_add_test(tc, parse_origin_names_file_and_line);
    tcase_add_test(tc, parse_add_line_inline_rule);
    tcase_add_test(tc, parse_several_buffers_into_one_builder);
    tcase_add_test(tc, parse_file_from_disk);
    tcase_add_test(tc, parse_line_of_8192_bytes_accepted);
    tcase_add_test(tc, parse_valid_utf8_accepted);
    tcase_add_test(tc, parse_stats_count_kinds_and_statuses);
    tcase_add_test(tc, parse_table_keeps_options);
    tcase_add_test(tc, parse_dump_reparses_to_same_answers);
    suite_add_tcase(s, tc);
    return s;
}
