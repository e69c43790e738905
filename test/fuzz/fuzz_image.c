/*
 * fuzz_image.c - libFuzzer target: the compiled-table reader
 * (engine/rr_image.c) on arbitrary bytes.
 *
 * Each input is read twice: as it is (the checksum must reject nearly
 * everything), and with its checksum rewritten to match, so that the
 * structural checks behind the checksum see the mutations.  Properties:
 *  - the reader never reads outside the input and never crashes;
 *  - a rejected input has a reason;
 *  - an accepted table is safe to use: every rule described, the dump
 *    written, lookups of fixed paths and of the rules' own sources
 *    answered, rr_set_check run (ASan sees any read past the image, as
 *    the image is copied to a buffer of exactly its size).
 * Seeds (test/fuzz/corpus/fuzz_image/) are real images of the roundtrip
 * seeds, pattern rules among them (`make fuzz-image-seeds` writes them),
 * so mutations start near valid images.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdint.h>

#include "fuzz_common.h"
#include "engine/rr_image.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static void use_table(apr_pool_t *p, const rr_table *t)
{
    /* literal ones, and ones the pattern seeds' shapes fit */
    static const char *const paths[] = { "/", "/old", "/a/b/c", "/docs/x",
                                         "/caf%C3%A9", "/x?y=1", "/u/bob",
                                         "/blog/2019/x.html", "/shop/a/b/c",
                                         "/d/x/", "/a/b/c/d/e/f/g/h" };
    rr_set *s = rr_set_create(p, 1);
    apr_array_header_t *hosts = apr_array_make(p, 1, sizeof(const char *));
    rr_diag *d = rr_diag_create(p);
    uint32_t i, n = rr_table_records(t);
    size_t k;
    rr_match m;
    rr_stats st;
    rr_table_stats(t, &st);
    FUZZ_CHECK(st.rules == rr_table_count(t), "stats %u rules, count %u",
               st.rules, rr_table_count(t));
    FUZZ_CHECK(rr_table_dump(t, p) != NULL, "no dump");
    rr_set_add(s, t);
    for (i = 0; i < n && i < 64; i++) {
        rr_rule_info info;
        int live = rr_table_record(t, i, p, &info);
        FUZZ_CHECK(info.source && info.file, "record %u undescribed", i);
        if (live)
            rr_set_lookup_at(s, info.scheme, NULL, info.source,
                             strlen(info.source), info.query, &m);
    }
    for (k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
        rr_set_lookup_at(s, "http", "example.com", paths[k],
                         strlen(paths[k]), NULL, &m);
    APR_ARRAY_PUSH(hosts, const char *) = "example.com";
    rr_set_check(s, hosts, RR_CHAINS_WARN, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    /* exactly the input's size, 8-byte aligned (malloc), so that ASan
     * catches a read one byte past it */
    char *buf = malloc(size ? size : 1);
    const char *why = NULL;
    const rr_table *t;
    if (!buf)
        abort();
    memcpy(buf, data, size);
    t = rr_image_read(p, buf, size, NULL, &why);
    FUZZ_CHECK(t || why, "rejected without a reason");
    if (t)
        use_table(p, t);
    if (size >= RR_IMAGE_HEADER) {
        uint64_t sum = rr_image_checksum(buf, size);
        memcpy(buf + RR_IMAGE_SUM_AT, &sum, 8);
        why = NULL;
        t = rr_image_read(p, buf, size, NULL, &why);
        FUZZ_CHECK(t || why, "rejected without a reason");
        if (t)
            use_table(p, t);
    }
    apr_pool_destroy(p);
    free(buf);
    return 0;
}
