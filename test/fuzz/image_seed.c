/*
 * image_seed.c - writes the compiled image of one fuzz_roundtrip seed
 * (byte 0 the options, as fuzz_roundtrip reads it; the rest the rules
 * text), so that fuzz_image's seeds are real images of this build's
 * format.  `make fuzz-image-seeds` runs it over every roundtrip seed;
 * run it again whenever rr_image.c's IMAGE_VERSION changes.
 *
 *   image_seed SEED IMAGE      exit 0 written, 2 the seed has errors
 *
 * The origin recorded is the seed's base name, its size, mtime 0 and
 * inode 0: the output depends on the seed alone.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_file_info.h"
#include "apr_strings.h"

#include "redirect_rules.h"
#include "engine/rr_image.h"

int main(int argc, char **argv)
{
    apr_pool_t *p;
    apr_finfo_t fi;
    rr_image_origin o;
    rr_options opt;
    rr_builder *b;
    rr_diag *d;
    rr_table *t;
    const char *base;
    char *buf;
    size_t len;
    long n;
    FILE *f;

    if (argc != 3) {
        fprintf(stderr, "usage: %s SEED IMAGE\n", argv[0]);
        return 1;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    if (!(f = fopen(argv[1], "rb")) || fseek(f, 0, SEEK_END) != 0
        || (n = ftell(f)) < 1 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    len = (size_t)n;
    buf = apr_palloc(p, len);
    if (fread(buf, 1, len, f) != len) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    fclose(f);
    memset(&opt, 0, sizeof(opt));
    opt.case_insensitive = (buf[0] & 1) != 0;
    opt.trailing_strict = (buf[0] & 2) != 0;
    base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    d = rr_diag_create(p);
    b = rr_builder_create(p, &opt);
    if (rr_builder_add_buffer(b, base, buf + 1, len - 1, d) != APR_SUCCESS
        || !(t = rr_builder_freeze(b, p, d))) {
        fprintf(stderr, "%s: has errors; no image\n", argv[1]);
        return 2;
    }
    memset(&fi, 0, sizeof(fi));
    fi.size = (apr_off_t)(len - 1);
    rr_image_origin_init(&o, base, &fi, &opt);
    if (rr_image_write(t, &o, argv[2], p) != APR_SUCCESS) {
        fprintf(stderr, "%s: cannot write\n", argv[2]);
        return 1;
    }
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
