/*
 * test_image.c - compiled table files (engine/rr_image.c): a table written
 * and mapped back answers exactly as the one built from text, pattern
 * rules included, and an image that is truncated, has a flipped byte, is
 * stale, of another version, or holds a record the parser could not have
 * written is rejected, never used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "apr_file_io.h"
#include "apr_file_info.h"

#include "helpers.h"
#include "engine/rr_image.h"
#include "engine/rr_internal.h"

/* Every kind of record: exact, prefix with and without '*', query,
 * host and wildcard host, nocase, 410, a window, a kept spelling (upper
 * case under nocase, a trailing slash), a shadowed duplicate. */
static const char rules_text[] =
    "/old /new\n"
    "/docs/* /manual/*\n"
    "/shop/* http://shop.example/\n"
    "/search?q=1&lang=en /find 301\n"
    "//www.example.com/home /start 302\n"
    "https://*.example.org/a /b 308\n"
    "/CaseLess /lower nocase\n"
    "/Trail/ /t\n"
    "/gone - 410\n"
    "/later /soon 307 from=2000-01-01,until=2099-01-01\n"
    "/old /ignored\n"
    "/caf\xc3\xa9 /cafe\n";

typedef struct { const char *scheme, *host, *path, *args; } ask;

static const ask asks[] = {
    { NULL, NULL, "/old", NULL },
    { NULL, NULL, "/docs/a/b", NULL },
    { NULL, NULL, "/docs", NULL },
    { NULL, NULL, "/shop/x", "y=1" },
    { NULL, NULL, "/search", "lang=en&q=1" },
    { NULL, NULL, "/search", "q=2" },
    { "http", "www.example.com", "/home", NULL },
    { "http", "other.example.com", "/home", NULL },
    { "https", "a.example.org", "/a", NULL },
    { "http", "a.example.org", "/a", NULL },
    { NULL, NULL, "/caseless", NULL },
    { NULL, NULL, "/Trail", NULL },
    { NULL, NULL, "/gone", NULL },
    { NULL, NULL, "/later", NULL },
    { NULL, NULL, "/caf%C3%A9", NULL },
    { NULL, NULL, "/missing", NULL },
    { NULL, NULL, "/", NULL },
};

/* Pattern rules of every shape beside literal ones: placeholder, mixed
 * and prefix segments, captures into path and query, literal rules and
 * more literal shapes first, nocase, a host, 410, a window, qsappend, a
 * duplicate (a shadowed record) and a pattern shadowed by an earlier one
 * (what the check reports). */
static const char pattern_text[] =
    "/u/:name /users/:name\n"
    "/u/admin /root\n"
    "/blog/:y/:slug.html /articles/:slug?year=:y 301\n"
    "/blog/:y/:m/:slug /a/:y-:m/:slug\n"
    "/shop/:cat/* /products/:cat/*\n"
    "/a/:x/c /one-later\n"
    "/a/b/:z /two/:z\n"
    "/:x/:y/c /generic/:y\n"
    "/docs/* /manual/*\n"
    "/N/:Who /nc/:Who nocase\n"
    "//host.example/h/:n https://other.example/h/:n 308\n"
    "/gone/:x - 410\n"
    "/late/:n /soon/:n 307 from=2000-01-01,until=2099-01-01\n"
    "/u/:other /dup/:other\n"
    "/p/:x/* /px/*\n"
    "/p/:x/:y /never\n"
    "/q/:v /q?v=:v qsappend\n";

static const ask pattern_asks[] = {
    { NULL, NULL, "/u/bob", NULL },
    { NULL, NULL, "/u/admin", NULL },
    { NULL, NULL, "/u/a b&c/", NULL },
    { NULL, NULL, "/u/caf\xc3\xa9", NULL },
    { NULL, NULL, "/u/", NULL },
    { NULL, NULL, "/blog/2019/my-post.html", NULL },
    { NULL, NULL, "/blog/2019/05/x", NULL },
    { NULL, NULL, "/blog/2019/.html", NULL },
    { NULL, NULL, "/shop/shoes/red/big", "x=1" },
    { NULL, NULL, "/shop/shoes", NULL },
    { NULL, NULL, "/a/b/c", NULL },
    { NULL, NULL, "/a/b/d", NULL },
    { NULL, NULL, "/a/z/c", NULL },
    { NULL, NULL, "/z/b/c", NULL },
    { NULL, NULL, "/docs/a/b", NULL },
    { NULL, NULL, "/n/Bob", NULL },
    { NULL, NULL, "/N/Bob", NULL },
    { "http", "host.example", "/h/1", NULL },
    { "http", "other.example", "/h/1", NULL },
    { NULL, NULL, "/gone/x", NULL },
    { NULL, NULL, "/late/x", NULL },
    { NULL, NULL, "/p/1/2", NULL },
    { NULL, NULL, "/q/1", "z=1" },
    { NULL, NULL, "/nothing/at/all/here", NULL },
};

typedef struct {
    const char *rules;      /* the rules file */
    const char *image;      /* where its image goes */
    rr_image_origin origin;
    rr_table *built;
} fixture;

/* Removes a scratch directory and its files with the test's pool. */
static apr_status_t remove_dir(void *data)
{
    const char *dir = data;
    apr_pool_t *p;
    apr_dir_t *dh;
    apr_finfo_t fi;
    apr_pool_create(&p, NULL);
    if (apr_dir_open(&dh, dir, p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dh)
               == APR_SUCCESS) {
            if (fi.filetype == APR_REG)
                apr_file_remove(apr_pstrcat(p, dir, "/", fi.name, NULL), p);
        }
        apr_dir_close(dh);
    }
    apr_dir_remove(dir, p);
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

static const char *scratch_dir(void)
{
    char *dir = apr_pstrdup(tp, "/tmp/r307-image-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    apr_pool_cleanup_register(tp, dir, remove_dir, apr_pool_cleanup_null);
    return dir;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* 8-byte aligned, as a mapping is */
    buf = apr_palloc(tp, (size_t)n + 8);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void fixture_make_text(fixture *fx, const rr_options *opt,
                              const char *text, size_t len)
{
    const char *dir = scratch_dir();
    apr_finfo_t fi;
    rr_diag *d = diag_new();
    rr_builder *b;
    fx->rules = apr_pstrcat(tp, dir, "/rules.r307", NULL);
    fx->image = apr_pstrcat(tp, dir, "/rules.img", NULL);
    write_file(fx->rules, text, len);
    ck_assert_int_eq(apr_stat(&fi, fx->rules, APR_FINFO_SIZE | APR_FINFO_MTIME
                              | APR_FINFO_INODE, tp), APR_SUCCESS);
    rr_image_origin_init(&fx->origin, fx->rules, &fi, opt);
    b = rr_builder_create(tp, opt);
    ck_assert_msg(rr_builder_add_file(b, fx->rules, d) == APR_SUCCESS, "%s",
                  diag_dump(d));
    fx->built = rr_builder_freeze(b, tp, d);
    ck_assert_ptr_nonnull(fx->built);
    ck_assert_int_eq(rr_image_write(fx->built, &fx->origin, fx->image, tp),
                     APR_SUCCESS);
}

static void fixture_make(fixture *fx, const rr_options *opt)
{
    fixture_make_text(fx, opt, rules_text, sizeof(rules_text) - 1);
}

/* The table fx's image maps back to; fails the test if it is rejected. */
static rr_table *mapped_of(const fixture *fx)
{
    const char *why = NULL;
    rr_table *t = rr_image_load(tp, fx->image, &fx->origin, &why);
    ck_assert_msg(t != NULL, "rejected: %s", why);
    return t;
}

/* Every answer to a list of requests, one per line. */
static const char *answers_in(const rr_table *t, const ask *a, size_t n)
{
    rr_set *s = set_of(t);
    const char *all = "";
    size_t k;
    for (k = 0; k < n; k++)
        all = apr_psprintf(tp, "%s%s %s?%s -> %s\n", all,
                           a[k].host ? a[k].host : "", a[k].path,
                           a[k].args ? a[k].args : "",
                           answer_at(s, a[k].scheme, a[k].host, a[k].path,
                                     a[k].args));
    return all;
}

static const char *answers_of(const rr_table *t)
{
    return answers_in(t, asks, NELTS(asks));
}

/* Every rule's description (file, line, spelling, window...), in order. */
static const char *rules_of(const rr_table *t)
{
    const char *all = "";
    uint32_t k;
    for (k = 0; k < rr_table_records(t); k++) {
        rr_rule_info in;
        int live = rr_table_record(t, k, tp, &in);
        all = apr_psprintf(tp, "%s%d %d %s:%u %s %s %s %s %s %d %" APR_TIME_T_FMT
                           " %" APR_TIME_T_FMT "\n", all, live, (int)in.kind,
                           in.file, in.line, in.source,
                           in.query ? in.query : "-",
                           in.target ? in.target : "-",
                           in.written ? in.written : "-",
                           in.host ? in.host : "-", in.status, in.from,
                           in.until);
    }
    return all;
}

/* The figures a mapped table reports are the parsed table's: they are
 * recounted from the records, never read from the file. */
static void assert_same_stats(const rr_table *mapped, const rr_table *built)
{
    rr_stats a, b;
    rr_table_stats(mapped, &a);
    rr_table_stats(built, &b);
    ck_assert_uint_eq(a.rules, b.rules);
    ck_assert_uint_eq(a.exact, b.exact);
    ck_assert_uint_eq(a.prefix, b.prefix);
    ck_assert_uint_eq(a.query, b.query);
    ck_assert_uint_eq(a.pattern, b.pattern);
    ck_assert_uint_eq(a.host, b.host);
    ck_assert_uint_eq(a.slots, b.slots);
    ck_assert_uint_eq(a.text_bytes, b.text_bytes);
    ck_assert_int_eq(memcmp(a.by_status, b.by_status, sizeof(a.by_status)),
                     0);
}

START_TEST(round_trip_answers_every_rule_and_miss_alike)
{
    static const rr_options *opts[] = { &opt_default, &opt_nocase,
                                        &opt_strict };
    size_t o;
    for (o = 0; o < NELTS(opts); o++) {
        fixture fx;
        rr_table *mapped;
        fixture_make(&fx, opts[o]);
        mapped = mapped_of(&fx);
        ck_assert_str_eq(answers_of(mapped), answers_of(fx.built));
        ck_assert_str_eq(rules_of(mapped), rules_of(fx.built));
        ck_assert_str_eq(rr_table_dump(mapped, tp),
                         rr_table_dump(fx.built, tp));
        assert_same_stats(mapped, fx.built);
        ck_assert_uint_eq(rr_table_count(mapped), rr_table_count(fx.built));
    }
}
END_TEST

/* The check's whole output for the table alone: duplicates, shadowed
 * patterns, chains. */
static const char *check_of(const rr_table *t)
{
    rr_set *s = set_of(t);
    rr_diag *d = diag_new();
    ck_assert_int_eq(rr_set_check(s, NULL, RR_CHAINS_WARN, d), APR_SUCCESS);
    return diag_dump(d);
}

START_TEST(round_trip_of_pattern_rules_answers_alike)
{
    static const rr_options *opts[] = { &opt_default, &opt_nocase,
                                        &opt_strict };
    size_t o;
    for (o = 0; o < NELTS(opts); o++) {
        fixture fx;
        rr_table *mapped;
        fixture_make_text(&fx, opts[o], pattern_text,
                          sizeof(pattern_text) - 1);
        mapped = mapped_of(&fx);
        ck_assert_str_eq(answers_in(mapped, pattern_asks,
                                    NELTS(pattern_asks)),
                         answers_in(fx.built, pattern_asks,
                                    NELTS(pattern_asks)));
        ck_assert_str_eq(rules_of(mapped), rules_of(fx.built));
        ck_assert_str_eq(rr_table_dump(mapped, tp),
                         rr_table_dump(fx.built, tp));
        ck_assert_str_eq(check_of(mapped), check_of(fx.built));
        /* the shapes are built again from the records, as freezing does */
        ck_assert_uint_gt(fx.built->nshapes, 5);
        ck_assert_uint_eq(mapped->nshapes, fx.built->nshapes);
        ck_assert_int_eq(memcmp(mapped->shapes, fx.built->shapes,
                                sizeof(rr_shape) * mapped->nshapes), 0);
        ck_assert_uint_eq(mapped->max_prefix_depth,
                          fx.built->max_prefix_depth);
        ck_assert_int_eq(mapped->has_case, fx.built->has_case);
        ck_assert_int_eq(mapped->has_nocase, fx.built->has_nocase);
        ck_assert_int_eq(memcmp(mapped->has_kind, fx.built->has_kind,
                                sizeof(mapped->has_kind)), 0);
        ck_assert_int_eq(mapped->has_qsnone, fx.built->has_qsnone);
        ck_assert_int_eq(mapped->has_windows, fx.built->has_windows);
        ck_assert_uint_eq(mapped->ngroups, fx.built->ngroups);
        assert_same_stats(mapped, fx.built);
    }
}
END_TEST

/* What the pattern table answers, spelled out once: the image is not
 * merely as wrong as the table it came from. */
START_TEST(mapped_pattern_rules_answer_as_the_spec_says)
{
    static const lookup_case cases[] = {
        { "/u/bob", NULL, "307 " BASE "/users/bob" },
        { "/u/admin", NULL, "307 " BASE "/root" },
        { "/u/a b&c/", NULL, "307 " BASE "/users/a%20b&c" },
        { "/blog/2019/my-post.html", NULL,
          "301 " BASE "/articles/my-post?year=2019" },
        { "/blog/2019/05/x", NULL, "307 " BASE "/a/2019-05/x" },
        { "/shop/shoes/red/big", "x=1",
          "307 " BASE "/products/shoes/red/big?x=1" },
        { "/a/b/c", NULL, "307 " BASE "/one-later" },  /* equal: earlier */
        { "/a/b/d", NULL, "307 " BASE "/two/d" },
        { "/a/z/c", NULL, "307 " BASE "/one-later" },
        { "/z/b/c", NULL, "307 " BASE "/generic/b" },
        { "/n/Bob", NULL, "307 " BASE "/nc/Bob" },
        { "/gone/x", NULL, "410" },
        { "/late/x", NULL, "307 " BASE "/soon/x" },
        { "/p/1/2", NULL, "307 " BASE "/px/2" },
        { "/q/1", "z=1", "307 " BASE "/q?v=1&z=1" },
        { "/nothing/at/all/here", NULL, "no match" },
    };
    fixture fx;
    rr_table *mapped;
    rr_diag *d = diag_new();
    fixture_make_text(&fx, &opt_default, pattern_text,
                      sizeof(pattern_text) - 1);
    mapped = mapped_of(&fx);
    check_answers(set_of(mapped), cases);
    ck_assert_str_eq(answer_at(set_of(mapped), "http", "host.example",
                               "/h/1", NULL),
                     "308 https://other.example/h/1");
    /* the duplicate is kept as a shadowed record; /p/:x/:y never answers */
    ck_assert_uint_eq(rr_table_records(mapped),
                      rr_table_count(mapped) + 1);
    ck_assert_int_eq(rr_set_check(set_of(mapped), NULL, RR_CHAINS_WARN, d),
                     APR_SUCCESS);
    ck_assert_msg(contains(diag_dump(d), "rules.r307:16: pattern rule never "
                           "answers"), "%s", diag_dump(d));
}
END_TEST

/* Rewrites the checksum so that the checks behind it are what rejects. */
static void fix_sum(char *img, size_t len)
{
    uint64_t sum = rr_image_checksum(img, len);
    memcpy(img + RR_IMAGE_SUM_AT, &sum, 8);
}

/* Offset of the only occurrence of needle[0..n) in img[0..len). */
/* An image changed after writing, its checksum made right again: the
 * reader must still refuse it, for `reason`. */
static void assert_refused(const fixture *fx, char *copy, size_t len,
                           const char *reason)
{
    const char *why = NULL;
    fix_sum(copy, len);
    ck_assert_ptr_null(rr_image_read(tp, copy, len, &fx->origin, &why));
    ck_assert_str_eq(why, reason);
}

static size_t find_once(const char *img, size_t len, const char *needle,
                        size_t n)
{
    const char *at = memmem(img, len, needle, n);
    ck_assert_msg(at != NULL, "'%s' not in the image", show(needle, n));
    ck_assert_msg(memmem(at + 1, len - (size_t)(at - img) - 1, needle, n)
                  == NULL, "'%s' twice in the image", show(needle, n));
    return (size_t)(at - img);
}

/* Pattern records the parser could not have written, each with a valid
 * checksum: every one is rejected as a bad record, before the segment
 * scanners (which trust the marks to pair up) could run off it. */
START_TEST(corrupt_pattern_records_are_rejected)
{
    static const char text[] =
        "/old /new\n"
        "/s?q=1 /query\n"
        "/x/:name/y/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaa /t/:name\n"
        "/m/:slug.html /m2/:slug nocase\n"
        "/d/:ab/:cd /d2\n"
        "/l/:nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
        ".zz /l2\n"
        "/w/:k /w2/:k\n"
        "/h/:sub https://x.example/:sub\n";
    static const struct {
        const char *what;
        const char *find;       /* bytes of the image to change */
        int at;                 /* which of them */
        const char *set;        /* with what (as many bytes) */
    } cuts[] = {
        { "an unpaired mark", "\001name\001", 5, "n" },
        { "a name byte that is not one", "\001name\001", 2, "-" },
        { "two placeholders in a segment", "\001slug\001.html", 6,
          "\001h\001" },
        { "a name twice", "\001ab\001/\001cd\001", 6, "ab" },
        { "a name of 65 bytes", "nnnn\001.zz", 4, "n\001" },
        { "a '.' segment", "\001/y/a", 2, "." },
        { "a control byte", "\001/y/a", 2, "\002" },
        { "nocase literal bytes not folded", "\001slug\001.html", 7, "H" },
        { "33 segments and more", "/y/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 4,
          "/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
          "a/a" },
        { "a target naming no placeholder", "/w2/:k", 5, "z" },
        { "a placeholder in the target's host", "x.example/:sub", 9, "." },
    };
    fixture fx;
    size_t len, k, at;
    char *img, *copy;
    const char *why = NULL;
    fixture_make_text(&fx, &opt_default, text, sizeof(text) - 1);
    img = read_file(fx.image, &len);
    copy = apr_palloc(tp, len + 8);
    ck_assert_msg(rr_image_read(tp, img, len, &fx.origin, &why) != NULL,
                  "the image itself rejected: %s", why);
    for (k = 0; k < NELTS(cuts); k++) {
        memcpy(copy, img, len);
        at = find_once(img, len, cuts[k].find, strlen(cuts[k].find))
             + (size_t)cuts[k].at;
        memcpy(copy + at, cuts[k].set, strlen(cuts[k].set));
        fix_sum(copy, len);
        why = NULL;
        ck_assert_msg(rr_image_read(tp, copy, len, &fx.origin, &why) == NULL,
                      "accepted %s", cuts[k].what);
        ck_assert_msg(strcmp(why, "bad record") == 0, "%s: rejected as %s",
                      cuts[k].what, why);
    }

    /* the pattern flag set on a literal rule, and on a query rule */
    {
        static const char *const literal[] = { "/old/new", "/sq=1/query" };
        for (k = 0; k < NELTS(literal); k++) {
            uint16_t w;
            memcpy(copy, img, len);
            at = find_once(img, len, literal[k], strlen(literal[k]));
            /* the source length is 4 bytes before a plain record's
             * source, 6 before a query rule's (its query length between) */
            at -= k == 0 ? 4 : 6;
            memcpy(&w, copy + at, 2);
            ck_assert_uint_eq(w & 0x3fff, k == 0 ? 4 : 2);
            w |= 0x4000;
            memcpy(copy + at, &w, 2);
            assert_refused(&fx, copy, len, "bad record");
        }
    }
}
END_TEST

/* Targets stored as their own bytes plus a count of their source's last
 * bytes (rr_internal.h): mapped back they answer whole, and a count the
 * parser could not have written is a bad record, refused before any
 * target is joined from it. */
START_TEST(shared_tail_records_round_trip_and_bad_counts_are_rejected)
{
    const char *text = apr_pstrcat(tp,
        "/old/section-1/page-1.html /new/section-1/page-1.html\n"
        "/p?id=5 /new/p\n"
        "//old.example/a/page /new/a/page\n"
        "/w/page /v/page 308 from=2000-01-01,until=2099-01-01\n"
        "/blog/:slug.html /articles/:slug.html\n"
        "/", repeat("q", 299), " /n/", repeat("q", 200), "\n"
        /* longer than the join buffer: stored whole, mapped all the same */
        "/whole /", repeat("w", 300), "\n", NULL);
    static const ask more[] = {
        { NULL, NULL, "/old/section-1/page-1.html", NULL },
        { NULL, NULL, "/p", "id=5" },
        { "http", "old.example", "/a/page", NULL },
        { NULL, NULL, "/w/page", NULL },
        { NULL, NULL, "/blog/x.html", NULL },
    };
    const char *long_path = apr_pstrcat(tp, "/", repeat("q", 299), NULL);
    static const struct {
        const char *what;
        int rule;               /* 0: page-1, 1: the long one */
        unsigned count;         /* written over the count byte */
    } cuts[] = {
        { "a count of 0 with the flag set", 0, 0 },
        { "a count of 1, which the parser never writes", 0, 1 },
        { "a count longer than the source", 0, 27 },
        { "a target longer than the join buffer", 1, 254 },
    };
    fixture fx;
    rr_table *mapped;
    size_t len, k, at[2];
    char *img, *copy;
    const char *why = NULL;
    fixture_make_text(&fx, &opt_default, text, strlen(text));
    mapped = mapped_of(&fx);
    ck_assert_str_eq(answers_in(mapped, more, NELTS(more)),
                     answers_in(fx.built, more, NELTS(more)));
    ck_assert_str_eq(answer(set_of(mapped), long_path, NULL),
                     apr_pstrcat(tp, "307 " BASE "/n/", repeat("q", 200),
                                 NULL));
    ck_assert_str_eq(answer(set_of(mapped), "/whole", NULL),
                     apr_pstrcat(tp, "307 " BASE "/", repeat("w", 300),
                                 NULL));
    ck_assert_str_eq(rules_of(mapped), rules_of(fx.built));

    /* the count byte is the one before the source: no window, no host */
    img = read_file(fx.image, &len);
    at[0] = find_once(img, len, "/old/section-1/page-1.html/new", 30) - 1;
    at[1] = find_once(img, len, apr_pstrcat(tp, "/", repeat("q", 299), "/n",
                                            NULL), 302) - 1;
    ck_assert_uint_eq((unsigned char)img[at[0]], 22);
    ck_assert_uint_eq((unsigned char)img[at[1]], 200);
    copy = apr_palloc(tp, len + 8);
    for (k = 0; k < NELTS(cuts); k++) {
        memcpy(copy, img, len);
        copy[at[cuts[k].rule]] = (char)(unsigned char)cuts[k].count;
        fix_sum(copy, len);
        why = NULL;
        ck_assert_msg(rr_image_read(tp, copy, len, &fx.origin, &why) == NULL,
                      "accepted %s", cuts[k].what);
        ck_assert_msg(strcmp(why, "bad record") == 0, "%s: rejected as %s",
                      cuts[k].what, why);
    }
}
END_TEST

/* A thousand generated rules: every one answers the same from the image. */
START_TEST(round_trip_of_many_rules_answers_each)
{
    const char *text = "";
    fixture fx;
    rr_table *mapped;
    rr_set *s1, *s2;
    int i;
    for (i = 0; i < 1000; i++)
        text = apr_psprintf(tp, "%s/s%d/p%d /t/%d%s\n", text, i % 37, i, i,
                            i % 10 == 0 ? " 301" : "");
    fixture_make_text(&fx, &opt_default, text, strlen(text));
    mapped = mapped_of(&fx);
    s1 = set_of(fx.built);
    s2 = set_of(mapped);
    for (i = 0; i < 1100; i++) {
        const char *path = apr_psprintf(tp, "/s%d/p%d", i % 37, i);
        ck_assert_str_eq(answer(s2, path, NULL), answer(s1, path, NULL));
    }
}
END_TEST

START_TEST(truncated_images_are_rejected)
{
    fixture fx;
    size_t len, n;
    char *img;
    const char *why;
    fixture_make(&fx, &opt_default);
    img = read_file(fx.image, &len);
    for (n = 0; n < len; n++) {
        why = NULL;
        ck_assert_msg(rr_image_read(tp, img, n, &fx.origin, &why) == NULL,
                      "accepted %lu of %lu bytes", (unsigned long)n,
                      (unsigned long)len);
        ck_assert_ptr_nonnull(why);
    }
    /* and through the file: cut it, then load */
    write_file(fx.image, img, len / 2);
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &fx.origin, &why));
    ck_assert_str_eq(why, "truncated");
}
END_TEST

START_TEST(every_flipped_byte_is_rejected)
{
    fixture fx;
    size_t len, i;
    char *img;
    const char *why;
    fixture_make(&fx, &opt_default);
    img = read_file(fx.image, &len);
    ck_assert_ptr_nonnull(rr_image_read(tp, img, len, &fx.origin, &why));
    for (i = 0; i < len; i++) {
        img[i] ^= 0x5a;
        ck_assert_msg(rr_image_read(tp, img, len, &fx.origin, &why) == NULL,
                      "accepted a flip at byte %lu", (unsigned long)i);
        img[i] ^= 0x5a;
    }
    /* and through the file */
    img[len - 20] ^= 1;
    write_file(fx.image, img, len);
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &fx.origin, &why));
    ck_assert_str_eq(why, "checksum mismatch");
}
END_TEST

START_TEST(stale_images_are_rejected)
{
    fixture fx;
    rr_image_origin o;
    const char *why;
    fixture_make(&fx, &opt_default);
    o = fx.origin;
    o.size++;
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &o, &why));
    ck_assert(starts_with(why, "stale"));
    o = fx.origin;
    o.mtime += 1000000;
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &o, &why));
    ck_assert(starts_with(why, "stale"));
    o = fx.origin;
    o.inode++;
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &o, &why));
    ck_assert(starts_with(why, "stale"));
    o = fx.origin;
    o.opt = opt_nocase;
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &o, &why));
    ck_assert_str_eq(why, "compiled with other matching options");
    o = fx.origin;
    o.source = "/elsewhere/rules.r307";
    ck_assert_ptr_null(rr_image_load(tp, fx.image, &o, &why));
    ck_assert_str_eq(why, "compiled from another rules file");
    ck_assert_ptr_null(rr_image_load(tp, apr_pstrcat(tp, fx.image, ".none",
                                                     NULL), &fx.origin, &why));
    ck_assert_str_eq(why, "missing");
}
END_TEST

START_TEST(wrong_version_and_bad_structure_are_rejected)
{
    fixture fx;
    size_t len;
    char *img, *copy;
    uint32_t v;
    uint64_t arena_at, slots_at, slots_len;
    int i;
    fixture_make(&fx, &opt_default);
    img = read_file(fx.image, &len);
    copy = apr_palloc(tp, len + 8);

    /* the version before this one (1: no pattern records) and after */
    for (i = -1; i <= 1; i += 2) {
        memcpy(copy, img, len);
        memcpy(&v, copy + 8, 4);
        v += (uint32_t)i;
        memcpy(copy + 8, &v, 4);
        assert_refused(&fx, copy, len, "another version or byte order");
    }

    /* find the arena and slots in the section table (ids 2 and 4) */
    arena_at = slots_at = slots_len = 0;
    for (i = 0; i < 10; i++) {
        const char *e = img + RR_IMAGE_HEADER + 24 * i;
        uint32_t id;
        memcpy(&id, e, 4);
        if (id == 2)
            memcpy(&arena_at, e + 8, 8);
        if (id == 4) {
            memcpy(&slots_at, e + 8, 8);
            memcpy(&slots_len, e + 16, 8);
        }
    }
    ck_assert(arena_at > 0 && slots_at > 0 && slots_len >= 16);

    /* the first record's source length made to run past the arena */
    memcpy(copy, img, len);
    copy[arena_at + 1 + 6] = (char)0xff;
    copy[arena_at + 1 + 7] = 0x3f;
    assert_refused(&fx, copy, len, "bad record");

    /* a slot pointing into the middle of a record */
    memcpy(copy, img, len);
    for (i = 0; (uint64_t)i < slots_len / 8; i++) {
        uint32_t off;
        memcpy(&off, copy + slots_at + 8 * i, 4);
        if (off) {
            off += 1;
            memcpy(copy + slots_at + 8 * i, &off, 4);
            break;
        }
    }
    assert_refused(&fx, copy, len, "bad slots");

    /* the last slot, which ends every probe, made non-empty */
    memcpy(copy, img, len);
    copy[slots_at + slots_len - 8] = 1;
    assert_refused(&fx, copy, len, "bad slots");
}
END_TEST

START_TEST(an_empty_table_round_trips)
{
    fixture fx;
    rr_table *t;
    fixture_make_text(&fx, &opt_default, "# nothing yet\n", 14);
    t = mapped_of(&fx);
    ck_assert_uint_eq(rr_table_count(t), 0);
    ck_assert_str_eq(answer(set_of(t), "/old", NULL), "no match");
}
END_TEST

Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = unit_tcase("compiled table files");
    tcase_add_test(tc, round_trip_answers_every_rule_and_miss_alike);
    tcase_add_test(tc, round_trip_of_many_rules_answers_each);
    tcase_add_test(tc, round_trip_of_pattern_rules_answers_alike);
    tcase_add_test(tc, mapped_pattern_rules_answer_as_the_spec_says);
    tcase_add_test(tc, corrupt_pattern_records_are_rejected);
    tcase_add_test(tc, shared_tail_records_round_trip_and_bad_counts_are_rejected);
    tcase_add_test(tc, truncated_images_are_rejected);
    tcase_add_test(tc, every_flipped_byte_is_rejected);
    tcase_add_test(tc, stale_images_are_rejected);
    tcase_add_test(tc, wrong_version_and_bad_structure_are_rejected);
    tcase_add_test(tc, an_empty_table_round_trips);
    suite_add_tcase(s, tc);
    return s;
}
