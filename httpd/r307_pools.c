/*
 * r307_pools.c - pools with an allocator of their own (r307_pools.h).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "apr_allocator.h"

#include "r307_pools.h"

apr_pool_t *r307_own_pool(apr_pool_t *parent)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    if (apr_allocator_create(&alloc) != APR_SUCCESS)
        return NULL;
    /* keep no free block: a replaced table's pages go back at once */
    apr_allocator_max_free_set(alloc, 1);
    if (apr_pool_create_ex(&p, parent, NULL, alloc) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return NULL;
    }
    apr_allocator_owner_set(alloc, p);
    return p;
}
