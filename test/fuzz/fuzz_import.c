/*
 * fuzz_import.c - libFuzzer target: `redirect307 import` on arbitrary
 * bytes, every input format (tools/cmd_import.c's table, so that a format
 * added there is fuzzed too): the input reader (byte order mark, NUL
 * bytes, long lines), the format's reader, the importer core (escaping,
 * validation with the engine) and the output.
 *
 * Input: "FORMAT\n" then the file, FORMAT a name `import --from` takes;
 * when the first line names no format, byte 0 picks one (modulo their
 * number) and the whole input is the file.
 *
 * Properties: no crash, leak or undefined behaviour; every message is
 * "fuzz:LINE: not converted: ...", "fuzz:LINE: note: ..." with LINE within
 * the input, and holds no control byte or DEL (messages quote hostile
 * input escaped); the rules written load with the engine without an
 * error, a duplicate or a loop (imp_validate's promise), one rule a line.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "fuzz_common.h"

#include "cli_util.h"
#include "importer.h"

/* The name messages give the input. */
#define INPUT_NAME "fuzz"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static int format_count(void)
{
    int n = 0;
    while (import_format_name(n))
        n++;
    return n;
}

/* The format the input names on its first line, moving *data past it;
 * else one picked by byte 0. */
static int pick_format(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr(*data, '\n', *size);
    int k, n = format_count();
    for (k = 0; nl && k < n; k++) {
        const char *name = import_format_name(k);
        size_t len = (size_t)(nl - *data);
        if (strlen(name) == len && !memcmp(*data, name, len)) {
            *size -= len + 1;
            *data = nl + 1;
            return k;
        }
    }
    return (*data)[0] % n;
}

/* Lines the input has, as the readers count them. */
static unsigned input_lines(const uint8_t *data, size_t size)
{
    unsigned n = 1;
    size_t i;
    for (i = 0; i < size; i++)
        n += data[i] == '\n';
    return n;
}

/* Each message line: "fuzz:LINE: not converted: " or "fuzz:LINE: note: ",
 * LINE in 1..lines; no control byte but the line ends. */
static void check_messages(apr_pool_t *p, const char *m, size_t n,
                           unsigned lines)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(m + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (m + i)) : n - i, k;
        const char *s = m + i;
        unsigned long line = 0;
        const char *rest;
        FUZZ_CHECK(nl != NULL, "message without a line end: '%s'",
                   fuzz_show(p, s, len));
        for (k = 0; k < len; k++)
            FUZZ_CHECK((unsigned char)s[k] >= 0x20 && s[k] != 0x7f,
                       "raw byte 0x%02x in message '%s'",
                       (unsigned char)s[k], fuzz_show(p, s, len));
        FUZZ_CHECK(!strncmp(s, INPUT_NAME ":", strlen(INPUT_NAME ":")),
                   "message '%s' does not name the input",
                   fuzz_show(p, s, len));
        line = strtoul(s + strlen(INPUT_NAME ":"), (char **)&rest, 10);
        FUZZ_CHECK(line >= 1 && line <= lines, "message '%s' names line %lu "
                   "of %u", fuzz_show(p, s, len), line, lines);
        FUZZ_CHECK(!strncmp(rest, ": not converted: ", 17)
                   || !strncmp(rest, ": note: ", 8), "message '%s' is no "
                   "'not converted' or 'note'", fuzz_show(p, s, len));
        i += len + 1;
    }
}

/* The rules written (after their comment line) load with the engine:
 * no error, no duplicate, no loop. */
static void check_output(apr_pool_t *p, const char *out, size_t n,
                         int written)
{
    const rr_options opt = { 0, 0 };
    rr_builder *b = rr_builder_create(p, &opt);
    rr_diag *d = rr_diag_create(p);
    const char *body = memchr(out, '\n', n);
    rr_table *t;
    rr_set *set;
    int k;
    FUZZ_CHECK(body && !strncmp(out, "# redirect307 rules imported from ",
                                34), "output starts '%s'",
               fuzz_show(p, out, n < 80 ? n : 80));
    body++;
    rr_builder_add_buffer(b, "out", body, n - (size_t)(body - out), d);
    t = rr_builder_freeze(b, p, d);
    FUZZ_CHECK(t != NULL && d->errors == 0, "the rules written do not load: "
               "%s", fuzz_diag_msg(d, 1, 0));
    FUZZ_CHECK(rr_table_count(t) == (uint32_t)written, "%d rules written, "
               "%u loaded", written, rr_table_count(t));
    set = rr_set_create(p, 1);
    rr_set_add(set, t);
    FUZZ_CHECK(rr_set_check(set, NULL, RR_CHAINS_WARN, d) == APR_SUCCESS,
               "the rules written loop: %s", fuzz_diag_msg(d, 1, 0));
    for (k = 0; k < d->entries->nelts; k++)
        FUZZ_CHECK(rr_diag_get(d, k)->kind != RR_DIAG_DUPLICATE,
                   "duplicate written: %s", rr_diag_get(d, k)->message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    importer im;
    cli_text t;
    char *msgs = NULL, *out = NULL;
    size_t msgs_len = 0, out_len = 0;
    FILE *mf, *of;
    int k, written;

    if (size == 0)
        return 0;
    k = pick_format(&data, &size);
    p = fuzz_pool();
    mf = open_memstream(&msgs, &msgs_len);
    of = open_memstream(&out, &out_len);
    FUZZ_CHECK(mf && of, "open_memstream");
    imp_init(&im, p, 0, NULL);
    im.msgs = mf;
    im.file = INPUT_NAME;
    FUZZ_CHECK(cli_text_from_memory(p, (const char *)data, size,
                                    CLI_MAX_LINE, 0, &t), "no memory");
    imp_read_text(&im, import_format_reader(k), &t);
    imp_validate(&im);
    written = imp_write(&im, of, INPUT_NAME, import_format_name(k));
    fclose(mf);
    fclose(of);
    check_messages(p, msgs, msgs_len, input_lines(data, size));
    check_output(p, out, out_len, written);
    free(msgs);
    free(out);
    apr_pool_destroy(p);
    return 0;
}
