/*
 * fuzz_request_url.c - libFuzzer target: the request-URL normaliser of
 * `redirect307 test` (tools/request_url.c) on arbitrary URLs.
 *
 * Input: byte 0 chooses AllowEncodedSlashes (modulo 3: Off, On,
 * NoDecode), the rest is the URL (cut at a NUL byte, as an argument or
 * a line would be).
 *
 * Properties: no crash, leak or undefined behaviour; a rejected request
 * is a 400 or 404 with a reason, a bad URL has a reason; an accepted one
 * has a path that starts with '/' and holds no empty, '.' or '..'
 * segment (httpd merged and resolved them), a query without '#', and a
 * base "http://" or "https://" with a lower-case host; and normalising is
 * idempotent: the path, escaped again, comes back the same.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "fuzz_common.h"

#include "request_url.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

/* The path holds no "//", "/./", "/../" nor ends in "/." or "/..". */
static void check_segments(apr_pool_t *p, const char *path)
{
    const char *s = path;
    FUZZ_CHECK(path[0] == '/', "path '%s' does not start with '/'",
               fuzz_show(p, path, strlen(path)));
    for (s = path; (s = strchr(s, '/')); s++) {
        size_t seg = strcspn(s + 1, "/");
        int last = s[1 + seg] == '\0';
        FUZZ_CHECK(seg > 0 || last, "empty segment in '%s'",
                   fuzz_show(p, path, strlen(path)));
        FUZZ_CHECK(!(seg == 1 && s[1] == '.')
                   && !(seg == 2 && s[1] == '.' && s[2] == '.'),
                   "dot segment in '%s'", fuzz_show(p, path, strlen(path)));
    }
}

static void check_base(apr_pool_t *p, const char *base)
{
    const char *host;
    if (!base)
        return;
    FUZZ_CHECK(!strncmp(base, "http://", 7) || !strncmp(base, "https://", 8),
               "base '%s'", fuzz_show(p, base, strlen(base)));
    for (host = strstr(base, "://") + 3; *host; host++)
        FUZZ_CHECK(!(*host >= 'A' && *host <= 'Z'), "host of base '%s' is "
                   "not lower case", fuzz_show(p, base, strlen(base)));
}

/* The accepted path, escaped and parsed again, is itself. */
static void check_idempotent(apr_pool_t *p, const request *r,
                             url_slashes slashes)
{
    const char *again = rr_escape_path(p, r->path, strlen(r->path));
    request r2;
    request_parse(p, again, slashes, &r2);
    FUZZ_CHECK(r2.state == REQ_OK && !strcmp(r2.path, r->path),
               "path '%s' escaped as '%s' parses to %s '%s'",
               fuzz_show(p, r->path, strlen(r->path)), again,
               r2.state == REQ_OK ? "path" : "a rejection:",
               r2.state == REQ_OK ? fuzz_show(p, r2.path, strlen(r2.path))
                                  : r2.why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    url_slashes slashes;
    char *url;
    request r;

    if (size == 0)
        return 0;
    slashes = (url_slashes)(data[0] % 3);
    p = fuzz_pool();
    url = apr_palloc(p, size);
    memcpy(url, data + 1, size - 1);
    url[size - 1] = '\0';
    request_parse(p, url, slashes, &r);
    switch (r.state) {
    case REQ_BAD_URL:
        FUZZ_CHECK(r.why != NULL, "bad URL without a reason");
        break;
    case REQ_REJECTED:
        FUZZ_CHECK((r.status == 400 || r.status == 404) && r.why != NULL,
                   "rejected with %d (%s)", r.status, r.why ? r.why : "?");
        break;
    case REQ_OK:
        check_segments(p, r.path);
        FUZZ_CHECK(!r.args || !strchr(r.args, '#'), "query '%s' holds '#'",
                   r.args);
        check_base(p, r.base);
        check_idempotent(p, &r, slashes);
        break;
    default:
        FUZZ_FAIL("state %d", (int)r.state);
    }
    apr_pool_destroy(p);
    return 0;
}
