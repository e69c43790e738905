/*
 * r307_pools.h - pools the glue's long-lived data gets: each with an
 * allocator of its own, so that destroying it gives the memory back to
 * the system instead of leaving it to httpd's parent (a replaced table,
 * a big stats-file save).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef R307_POOLS_H
#define R307_POOLS_H

#include "apr_pools.h"

/* A subpool of `parent` with its own allocator, freeing whatever it
 * holds when destroyed; NULL if none could be made. */
apr_pool_t *r307_own_pool(apr_pool_t *parent);

#endif /* R307_POOLS_H */
