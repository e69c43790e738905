/*
 * cmd_import.c - `redirect307 import`: reads each input with the reader
 * of its format, validates the converted rules with the engine and
 * writes them on stdout.  A new format is one import_FORMAT.c and one
 * line in `formats` below.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "importer.h"

static const struct {
    const char *name;           /* as given to --from */
    importer_read_fn *read;
} formats[] = {
    { "alias", import_alias },
    { "nginx", import_nginx },
    { "csv", import_csv },
    { "rewrite", import_rewrite },
    { "rewritemap", import_rewritemap },
    { "haproxy", import_haproxy },
    { "netlify", import_netlify },
    { "cloudflare", import_cloudflare },
    { NULL, NULL }
};

const char *import_format_name(int k)
{
    return k >= 0 && k < (int)(sizeof(formats) / sizeof(formats[0]))
           ? formats[k].name : NULL;
}

importer_read_fn *import_format_reader(int k)
{
    return import_format_name(k) ? formats[k].read : NULL;
}

static importer_read_fn *find_format(const char *name)
{
    int k;
    for (k = 0; formats[k].name; k++) {
        if (!strcmp(formats[k].name, name))
            return formats[k].read;
    }
    return NULL;
}

int cmd_import_has_format(const char *name)
{
    return find_format(name) != NULL;
}

/* Reads one input and converts it; 0 if it cannot be read. */
static int import_one(apr_pool_t *p, importer *im, importer_read_fn *read,
                      const char *path)
{
    cli_text t;
    im->file = path;
    if (!cli_read_text(p, path, CLI_MAX_LINE, 0, &t))
        return 0;
    imp_read_text(im, read, &t);
    return 1;
}

int cmd_import(apr_pool_t *p, const cli_args *a)
{
    importer_read_fn *read = find_format(a->from);
    importer im;
    const char *input = a->files->nelts == 1
                        ? APR_ARRAY_IDX(a->files, 0, const char *)
                        : "several files";
    int k, written;

    imp_init(&im, p, a->import_status, a->hosts->nelts ? a->hosts : NULL);
    for (k = 0; k < a->files->nelts; k++) {
        if (!import_one(p, &im, read,
                        APR_ARRAY_IDX(a->files, k, const char *)))
            return EXIT_USAGE;
    }
    imp_validate(&im);
    written = imp_write(&im, stdout, input, a->from);
    fflush(stdout);
    cli_say("%d %s written, %d %s not converted", written,
            cli_plural(written, "rule", "rules"), im.skipped,
            cli_plural(im.skipped, "entry", "entries"));
    return im.skipped ? EXIT_FAIL : EXIT_OK;
}
