/*
 * r307_dir.h - per-directory rules: Redirect307 and Redirect307Map in
 * <Directory>, <Location>, <Files> and .htaccess (AllowOverride FileInfo).
 *
 * mod_redirect307.c registers the hooks and directive entries declared
 * here and hands a directive to this file when it stands in a directory
 * context (cmd->path set).  Everything else lives in r307_dir.c: the
 * directory configuration, the per-child cache of .htaccess maps, the
 * fixups hook that answers, and the trust rules for .htaccess authors.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef R307_DIR_H
#define R307_DIR_H

#include "httpd.h"
#include "http_config.h"

#include "redirect_rules.h"

/* Defaults of the server-config directives. */
#define R307_DIR_CACHE_MAPS     64
#define R307_DIR_CACHE_BYTES    ((apr_size_t)256 << 20)
#define R307_DIR_MAP_MAX_SIZE   ((apr_off_t)8 << 20)

/* What per-directory rules take from their (merged) server. */
typedef struct {
    int engine;                 /* 0: Redirect307Engine Off */
    int default_status;         /* Redirect307Default, or 307 */
    long max_age;               /* Redirect307MaxAge, or -1: none */
    const rr_ignore *ignore;    /* Redirect307IgnoreParams as built */
    rr_options opt;             /* Redirect307MatchCase, TrailingSlash */
} r307_dir_server;

/* Defined in mod_redirect307.c.  At configuration time (directive
 * handlers) the vhost's own settings, else the main server's, as read so
 * far; at request time the merged ones. */
void r307_dir_server_of(const server_rec *s, r307_dir_server *out);

/* Defined in mod_redirect307.c: counts a per-directory redirect in the
 * server's shared counters (status page, mod_status, Prometheus). */
void r307_dir_count_redirect(const server_rec *s, int status);

/* Defined in mod_redirect307.c: sets the Location (and Cache-Control
 * under max_age >= 0) of a redirect rule m answers with `status`, as
 * server-level rules do; returns the Location, NULL for a 410. */
const char *r307_redirect_headers(request_rec *r, const rr_match *m,
                                  int status, long max_age);

/* Directory configuration (the module record's create/merge). */
void *r307_dir_create(apr_pool_t *p, char *dir);
void *r307_dir_merge(apr_pool_t *p, void *basev, void *addv);

/* Directives in a directory context.  `text` is the rule as a rules-file
 * line, built by mod_redirect307.c's Redirect307 handler. */
const char *r307_dir_cmd_rule(cmd_parms *cmd, void *dconf, const char *text);
const char *r307_dir_cmd_map(cmd_parms *cmd, void *dconf, const char *arg);
void r307_dir_cmd_default(void *dconf, int status);

/* Server-config directives of the per-child map cache. */
const char *r307_dir_cmd_cache_size(cmd_parms *cmd, void *dummy, int argc,
                                    char *const argv[]);
const char *r307_dir_cmd_max_size(cmd_parms *cmd, void *dummy,
                                  const char *arg);

/* Hooks. */
int r307_dir_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                        apr_pool_t *ptemp);
int r307_dir_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s);
void r307_dir_child_init(apr_pool_t *pchild, server_rec *s);
int r307_dir_fixups(request_rec *r);

/* The status page: this child's cache figures, as HTML or a JSON member
 * ("dir_cache":{...}). */
void r307_dir_status(request_rec *r, int json);

#endif /* R307_DIR_H */
