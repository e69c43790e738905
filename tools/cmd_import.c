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

int cmd_import(apr_pool_t *p, const cli_args *a)
{
    importer_read_fn *read = find_format(a->from);
    importer im;
    int k, written;

    imp_init(&im, p, a->import_status, a->hosts->nelts ? a->hosts : NULL);
    for (k = 0; k < a->files->nelts; k++) {
        char *buf;
        size_t len;
        im.file = APR_ARRAY_IDX(a->files, k, const char *);
        if (!cli_read_file(p, im.file, &buf, &len))
            return EXIT_USAGE;
        read(&im, buf, len);
    }
    imp_validate(&im);
    written = imp_write(&im, a->files->nelts == 1
                             ? APR_ARRAY_IDX(a->files, 0, const char *)
                             : "several files", a->from);
    fflush(stdout);
    cli_say("%d %s written, %d %s not converted", written,
            cli_plural(written, "rule", "rules"), im.skipped,
            cli_plural(im.skipped, "entry", "entries"));
    return im.skipped ? EXIT_FAIL : EXIT_OK;
}
