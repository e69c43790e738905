/*
 * rr_image.h - compiled table files: a frozen table written once and
 * mapped read-only, so that every process using it (httpd's control
 * process, its parent and every child) shares the same page-cache pages
 * and a restart with an unchanged map costs a stat and a validation, not
 * a parse.
 *
 * An image is never trusted: its size, version, checksum, the identity
 * of the rules file it came from (path, size, modification time, inode)
 * and the matching options must all agree, and every record, offset and
 * slot is checked to lie inside the image before the table is used.  A
 * rejected image is simply rebuilt from the rules file.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef RR_IMAGE_H
#define RR_IMAGE_H

#include "apr_file_info.h"
#include "apr_pools.h"

#include "redirect_rules.h"

/* What an image must have been compiled from to be used. */
typedef struct {
    const char *source;     /* the rules file's path as configured */
    apr_off_t size;
    apr_time_t mtime;
    apr_ino_t inode;
    rr_options opt;
} rr_image_origin;

/* The origin of `source` as stat'ed in fi (APR_FINFO_SIZE | MTIME |
 * INODE at least). */
void rr_image_origin_init(rr_image_origin *o, const char *source,
                          const apr_finfo_t *fi, const rr_options *opt);

/* Writes t as an image for origin o at `path`: to a temporary file in
 * the same directory, renamed into place, so that a reader sees the old
 * image or the new one, never half of one.  Returns APR_SUCCESS or the
 * error of the write (the temporary file is removed then). */
apr_status_t rr_image_write(const rr_table *t, const rr_image_origin *o,
                            const char *path, apr_pool_t *tmp);

/* Maps the image at `path` read-only into a table living in `pool` (the
 * mapping is released with it).  NULL if the image is missing or not
 * valid for origin o; *why then says why ("missing", "truncated",
 * "checksum mismatch", "stale", ...). */
rr_table *rr_image_load(apr_pool_t *pool, const char *path,
                        const rr_image_origin *o, const char **why);

/* The table an image held in buf[0..len) describes; buf must stay valid
 * and 8-byte aligned while the table is used.  NULL and *why as above.
 * (rr_image_load's reader; the fuzz target calls it directly.) */
rr_table *rr_image_read(apr_pool_t *pool, const char *buf, size_t len,
                        const rr_image_origin *o, const char **why);

/* The checksum an image stores, over buf[0..len) (the fuzz target uses it
 * to fix up mutated images, so that the structural checks get tested). */
uint64_t rr_image_checksum(const char *buf, size_t len);

/* The checksum of the image t was mapped from (never 0), or 0 for a
 * table built in memory: what a table holds, for caching what is derived
 * from it. */
uint64_t rr_image_sum_of(const rr_table *t);

/* Does t hold rules with a window (from=, until=)?  What a check says of
 * them changes with the clock, so a kept verdict cannot stand for them. */
int rr_table_has_windows(const rr_table *t);

/* Byte offset of the checksum field in an image, and of the checked part. */
#define RR_IMAGE_SUM_AT    48
#define RR_IMAGE_HEADER    64

#endif /* RR_IMAGE_H */
