/*
 * request_url.h - a URL as httpd would see the request for it: split into
 * base, path and query, the path decoded and normalised as httpd builds
 * r->uri, and rejected where httpd answers 400 or 404 before any module
 * runs.  What `redirect307 test` feeds the engine.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef REQUEST_URL_H
#define REQUEST_URL_H

#include "apr_pools.h"

/* httpd's AllowEncodedSlashes. */
typedef enum {
    URL_SLASHES_OFF = 0,        /* %2F gets a 404 (httpd's default) */
    URL_SLASHES_ON,             /* %2F is decoded to '/' */
    URL_SLASHES_NODECODE        /* %2F is accepted and kept encoded */
} url_slashes;

typedef enum {
    REQ_OK,                     /* path and args are what httpd passes on */
    REQ_BAD_URL,                /* not a URL a client would send */
    REQ_REJECTED                /* httpd answers `status` itself */
} req_state;

typedef struct {
    req_state state;
    int status;                 /* REQ_REJECTED: 400 or 404 */
    const char *why;            /* REQ_BAD_URL, REQ_REJECTED */
    const char *base;           /* "scheme://host[:port]" or NULL */
    const char *scheme;         /* "http" or "https", NULL for a bare path */
    const char *host;           /* lower-case, without the port; NULL for a
                                   bare path */
    char *path;                 /* as r->uri */
    const char *args;           /* as r->args, NULL without '?' */
} request;

/* Fills *r for `url`: http[s]://host[:port]/path?query (host lowercased,
 * default port dropped, as in the base httpd puts before path targets)
 * or a bare /path?query (no base).  A #fragment is dropped, as clients
 * never send it.  Everything lives in `p`. */
void request_parse(apr_pool_t *p, const char *url, url_slashes slashes,
                   request *r);

#endif /* REQUEST_URL_H */
