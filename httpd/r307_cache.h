/*
 * r307_cache.h - the compiled-table cache directory (Redirect307CacheDir):
 * where a map's image lives, and the verdicts of the chain and loop check
 * of a set of tables whose content is known, so that a restart or an
 * `apachectl -t` with unchanged maps neither parses nor checks them again.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef R307_CACHE_H
#define R307_CACHE_H

#include "apr_pools.h"
#include "apr_tables.h"

#include "redirect_rules.h"

/* Debian's place for it; the .deb creates it. */
#define R307_CACHE_DIR_DEFAULT "/var/cache/apache2/mod_redirect307"

/* The image path for a map under `opt` in dir. */
const char *r307_cache_image_path(apr_pool_t *p, const char *dir,
                                  const char *map, const rr_options *opt);

/* Has a set with this content key (tables by content, hosts, mode,
 * ignored parameters) passed its check before?  Then 1, with the check's
 * warnings in *warnings (allocated in p). */
int r307_cache_verdict_get(apr_pool_t *p, const char *dir, const char *key,
                           apr_array_header_t **warnings);

/* Records that the set with this key passed its check with `warnings`;
 * quietly does nothing if the directory is not writable. */
void r307_cache_verdict_put(apr_pool_t *p, const char *dir, const char *key,
                            const apr_array_header_t *warnings);

/* A 64-bit hash of s, for content keys and file names. */
apr_uint64_t r307_cache_hash(const char *s, apr_size_t n);

#endif /* R307_CACHE_H */
