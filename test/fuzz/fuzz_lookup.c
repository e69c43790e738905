/*
 * fuzz_lookup.c - libFuzzer target: rr_set_lookup + rr_match_location on
 * arbitrary request paths and query strings against fixed tables.
 *
 * Input: [@HOST] PATH [SEP ARGS], SEP the first 0x00 if there is one
 * (PATH may then hold '?'), else the first '?'.  No SEP: args NULL.  ARGS
 * ends at its first NUL.  PATH gets a leading '/' if it lacks one (httpd's
 * r->uri always has one).  An input starting with '!' is an https
 * request (else http); then '@' names the request's Host up to the first
 * '/' (else the request has none).
 *
 * Tables (built once): an own table with default options (exact, prefix
 * with and without '*' carry, query, nocase, 410, qsappend/qsdrop,
 * absolute and path targets, fragments, percent-encoded sources) and an
 * inherited table with TrailingSlash Strict + MatchCase Off.  They are
 * consulted as set A (no check) and set B (rr_set_check Collapse, so
 * chains answer with their final target).
 *
 * Both sets ignore the default tracking parameters; the own table also
 * holds host rules (exact, wildcard, scheme-only, IP literal), a qsnone
 * rule, and pattern rules (placeholders, mixed segments, a prefix
 * pattern, a host pattern; the inherited table a nocase prefix one).
 *
 * Properties: a host rule answers only a request naming its host (or a
 * name below a wildcard's); a prefix match is on a segment boundary of the path; an
 * exact or query match equals the path modulo trailing slash and case as
 * the table's options and the rule say; a pattern match has the rule's
 * literal segments and non-empty placeholders, and its Location keeps an
 * absolute target's host; a query match had args; both sets
 * match the same rule; every Location is an absolute http(s) URL without
 * bytes < 0x21, 0x7f or >= 0x80; a 410 has none; rr_escape_path output
 * holds no byte it should have escaped.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <ctype.h>

#include "fuzz_common.h"

static const char own_rules[] =
    "# own rules: default options\r\n"
    "/old-page              /new-page\n"
    "/promo                 https://shop.example.com/sale        302\n"
    "/docs/*                https://docs.example.com/v2/*        301\n"
    "/Docs/*                /docs/*                              301 nocase\n"
    "/index.php?id=42       /products/blue-widget                308\n"
    "/index.php?id=42&lang=en /products/blue-widget?lang=en      301 qsappend\n"
    "/retired               -                                    410\n"
    "/gone/*                -\n"
    "/Legal                 /legal                               301   nocase\n"
    "/caf%C3%A9             /cafe                                301\n"
    "/files/*               /storage/*?src=files                 302\n"
    "/blog/2020/*           https://blog.example.org/archive/*#top 301 qsdrop\n"
    "/Shop/*                /store/*                             308 nocase\n"
    "/api/v1/*              /api/v2/                             307\n"
    "/a/b/c/*               /deep/*                              301 qsappend\n"
    "/a/b/*                 /shallow/*\n"
    "/search?q=old          /find?q=new                          302\n"
    "/search                /find                                302 qsdrop\n"
    "/space%20here          /no-space\n"
    "/trail/                /trailing\n"
    "/x/*                   /x-moved/*?y=1#frag                  301 qsappend\n"
    "/%E2%82%AC/*           https://euro.example.com/\xe2\x82\xac/*\n"
    "/wiki/*                https://en.example.org/w/index.php?title=*\n"
    "/chain-a               /chain-b                             301\n"
    "/chain-b               http://example.com/chain-c           302\n"
    "/chain-c               /final?from=chain\n"
    "/q?a=1&b=%41           /qb                                  303 qsappend\n"
    "/p/*                   /\n"
    "/old-root/*            /*                                   308\n"
    "/with%20space/*\t/spaced/*\t# tab separated, trailing comment\n"
    "/deep/1/2/3/4/5/6/*    https://deep.example.com/*?k=v       301\n"
    "//old.example.com/a    /from-old\n"
    "//old.example.com/docs/* /old-docs/*                        308\n"
    "https://old.example.com/s /secure                          301\n"
    "//*.shop.example/sale  https://shop.example/sale            308\n"
    "//*.b.shop.example/sale /deeper-sale\n"
    "//[2001:db8::1]/v6     /six\n"
    "//192.0.2.7/v4         /four?x=1\n"
    "//old.example.com/p?id=3 /product-3                         301\n"
    "/only-plain            /plain                               302 qsnone\n"
    "/track?id=9            /tracked?sku=9\n"
    "/u/:name               https://new.example/users/:name      301\n"
    "/blog/:y/:slug.html    /articles/:slug?year=:y\n"
    "/shop/:cat/*           /products/:cat/*                     308\n"
    "/api/v:ver/items       https://api.example/i?v=:ver#:ver\n"
    "/p/:a/:b/:c            /three/:c/:b/:a                      302 nocase\n"
    "/p/x/:b/:c             /px/:c                               303\n"
    "//old.example.com/t/:id https://t.example/ticket?id=:id\n"
    "/pre-:id-post          /id/:id                              qsnone\n";

static const char inherited_rules[] =
    "/Strict/               /strict-slash\n"
    "/Strict                /strict-noslash\n"
    "/Inherit/*             https://inherit.example.net/*        308\n"
    "/old-page              /never\n"
    "/MiXeD?X=1             /mixed-q\n"
    "/UP/*                  /up/*                                302\n"
    "/Pat/:x/*              /pat-inh/:x/*\n";

static apr_pool_t *g_pool;
static rr_set *g_sets[2];

/* The fixed tables live until exit; their memory is freed then, before
 * LeakSanitizer's final check (which runs from an earlier atexit). */
static void free_tables(void)
{
    if (g_pool)
        apr_pool_destroy(g_pool);
    g_pool = NULL;
}

static const rr_table *build(const char *name, const char *text,
                             const rr_options *opt, rr_diag *d)
{
    rr_builder *b = rr_builder_create(g_pool, opt);
    rr_table *t;
    if (rr_builder_add_buffer(b, name, text, strlen(text), d) != APR_SUCCESS
        || !(t = rr_builder_freeze(b, g_pool, d))) {
        int i;
        for (i = 0; i < d->errors; i++)
            fprintf(stderr, "%s\n", fuzz_diag_msg(d, 1, i));
        abort();
    }
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    rr_options own_opt = { 0, 0 }, inh_opt = { 1, 1 };
    const rr_table *own, *inh;
    const rr_ignore *ignore;
    apr_array_header_t *hosts;
    rr_diag *d;
    int k;
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    g_pool = fuzz_pool();
    atexit(free_tables);
    d = rr_diag_create(g_pool);
    own = build("own.rules", own_rules, &own_opt, d);
    inh = build("inherited.rules", inherited_rules, &inh_opt, d);
    hosts = apr_array_make(g_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(hosts, const char *) = "example.com";
    {
        static const char *const dflt[] = { "default" };
        const char *err;
        ignore = rr_ignore_parse(g_pool, 1, dflt, &err);
    }
    for (k = 0; k < 2; k++) {
        g_sets[k] = rr_set_create(g_pool, 2);
        rr_set_ignore(g_sets[k], ignore);
        rr_set_add(g_sets[k], own);
        rr_set_mark_inherited(g_sets[k]);
        rr_set_add(g_sets[k], inh);
    }
    if (rr_set_check(g_sets[1], hosts, RR_CHAINS_COLLAPSE, d)
        != APR_SUCCESS) {
        fprintf(stderr, "fixed rules do not check\n");
        abort();
    }
    return 0;
}

static void check_escape(apr_pool_t *p, const char *s, size_t n)
{
    const char *e = rr_escape_path(p, s, n);
    const unsigned char *u = (const unsigned char *)e;
    size_t i, raw = 0;
    for (i = 0; u[i]; i++) {
        FUZZ_CHECK(u[i] > 0x20 && u[i] < 0x7f && !strchr("#?<>\"\\^`{|}",
                                                         u[i]),
                   "rr_escape_path left byte 0x%02x in '%s'", u[i],
                   fuzz_show(p, e, strlen(e)));
        if (u[i] == '%') {
            FUZZ_CHECK(isxdigit(u[i + 1]) && isxdigit(u[i + 2]),
                       "rr_escape_path: lone '%%' in '%s'",
                       fuzz_show(p, e, strlen(e)));
            i += 2;
        }
        raw++;
    }
    FUZZ_CHECK(raw == n, "rr_escape_path: %lu bytes escaped to %lu",
               (unsigned long)n, (unsigned long)raw);
}

/* A host rule answers only its own host, or a name below a wildcard's,
 * compared without case, port or trailing dot; a scheme rule only its
 * scheme. */
static void check_host(apr_pool_t *p, const rr_match *m, const char *host,
                       const char *scheme)
{
    rr_rule_info info;
    char *h;
    size_t n, rl;
    rr_match_rule(m, p, &info);
    if (!info.host)
        return;
    FUZZ_CHECK(host != NULL, "host rule %s%s answered a request without "
               "a host", info.host, info.source);
    h = apr_pstrdup(p, host);
    if (h[0] == '[')
        h[strcspn(h, "]") + (h[strcspn(h, "]")] ? 1 : 0)] = '\0';
    else
        h[strcspn(h, ":")] = '\0';
    for (n = strlen(h); n > 0 && h[n - 1] == '.'; n--)
        h[n - 1] = '\0';
    for (n = 0; h[n]; n++)
        h[n] = (char)tolower((unsigned char)h[n]);
    if (info.host[0] == '*') {
        rl = strlen(info.host) - 1;     /* ".suffix" */
        n = strlen(h);
        FUZZ_CHECK(n > rl && !strcmp(h + n - rl, info.host + 1),
                   "wildcard rule %s answered host '%s'", info.host,
                   fuzz_show(p, host, strlen(host)));
    }
    else {
        FUZZ_CHECK(!strcmp(h, info.host), "host rule %s answered host '%s'",
                   info.host, fuzz_show(p, host, strlen(host)));
    }
    FUZZ_CHECK(!info.scheme || !strcmp(info.scheme, scheme),
               "%s rule answered a %s request", info.scheme, scheme);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const https_base[] = { "https", "://", "example.com",
                                               ":8443", NULL };
    apr_pool_t *p;
    const uint8_t *sep;
    size_t plen;
    char *path, *args = NULL, *host = NULL;
    const char *scheme = "http";
    rr_match m[2];
    int hit[2], k;

    p = fuzz_pool();
    if (size > 0 && data[0] == '!') {
        scheme = "https";
        data++;
        size--;
    }
    if (size > 0 && data[0] == '@') {
        const uint8_t *slash = memchr(data, '/', size);
        size_t hlen = slash ? (size_t)(slash - data) - 1 : size - 1;
        host = apr_pstrmemdup(p, (const char *)data + 1, hlen);
        data += hlen + 1;
        size -= hlen + 1;
    }
    sep = memchr(data, '\0', size);
    if (!sep)
        sep = memchr(data, '?', size);
    plen = sep ? (size_t)(sep - data) : size;
    path = apr_palloc(p, plen + 2);
    if (plen == 0 || data[0] != '/') {
        path[0] = '/';
        memcpy(path + 1, data, plen);
        plen++;
    }
    else {
        memcpy(path, data, plen);
    }
    path[plen] = '\0';
    if (sep) {
        size_t alen = size - (size_t)(sep - data) - 1;
        args = apr_palloc(p, alen + 1);
        memcpy(args, sep + 1, alen);
        args[alen] = '\0';
    }

    for (k = 0; k < 2; k++) {
        hit[k] = rr_set_lookup_at(g_sets[k], scheme, host, path, plen, args,
                                  &m[k]);
        if (hit[k]) {
            fuzz_check_match(p, &m[k], path, plen, args,
                             k ? https_base : NULL, 0);
            check_host(p, &m[k], host, scheme);
        }
    }
    FUZZ_CHECK(hit[0] == hit[1]
               && (!hit[0] || (m[0].table == m[1].table
                               && m[0].rule == m[1].rule)),
               "collapse changed which rule matches '%s'",
               fuzz_show(p, path, plen));
    check_escape(p, path, plen);
    apr_pool_destroy(p);
    return 0;
}
