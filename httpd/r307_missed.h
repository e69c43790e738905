/*
 * r307_missed.h - Redirect307Missed: the paths a virtual host answered
 * 404, counted in shared memory, for the status page and a rules-file
 * skeleton (?missed=rules).
 *
 * mod_redirect307.c keeps an r307_missed_conf in each server's
 * configuration and calls into this file at five places: the directives,
 * create/merge, check_config (r307_missed_attach per server, then
 * r307_missed_sweep), the log_transaction hook, and the status handler.
 * Everything else (the table, the request path, the pages) is here and in
 * r307_topk.[ch].
 */
#ifndef R307_MISSED_H
#define R307_MISSED_H

#include "httpd.h"
#include "http_config.h"

#define R307_MISSED_DEFAULT_SIZE 1000

struct r307_topk;

typedef struct {
    int on;                     /* -1 unset, 0, 1 */
    int size;                   /* Redirect307MissedSize; 0: unset */
    apr_array_header_t *ignore; /* const char * patterns, own then the
                                   main server's; NULL: none */
    struct r307_topk *table;    /* shared memory, attached when on */
} r307_missed_conf;

/* Defined in mod_redirect307.c: server s's settings (a vhost without any
 * Redirect307* directive shares the main server's, and its table). */
r307_missed_conf *r307_missed_conf_of(const server_rec *s);

/* Defined in mod_redirect307.c: would server s answer a request for
 * path (decoded, len bytes; no query, its own name as the host) with a
 * rule now? */
int r307_missed_has_rule(const server_rec *s, const char *path,
                         apr_size_t len);

void r307_missed_conf_init(r307_missed_conf *m);
/* out = add's settings, unset ones from base; patterns: add's, then
 * base's.  Neither input changes. */
void r307_missed_conf_merge(apr_pool_t *p, r307_missed_conf *out,
                            const r307_missed_conf *base,
                            const r307_missed_conf *add);

/* The three directives (command_rec entries in mod_redirect307.c). */
const char *r307_missed_cmd_on(cmd_parms *cmd, void *dummy, int on);
const char *r307_missed_cmd_size(cmd_parms *cmd, void *dummy,
                                 const char *arg);
const char *r307_missed_cmd_ignore(cmd_parms *cmd, void *dummy,
                                   const char *arg);

/* check_config, once per server with its own configuration record: gives
 * m its table when Redirect307Missed is On: the one it had before the
 * restart if the server (its name and <VirtualHost> addresses) kept its
 * MissedSize, else a fresh one.  Nothing for apachectl -t.  Errors are
 * logged. */
apr_status_t r307_missed_attach(server_rec *s, r307_missed_conf *m,
                                apr_pool_t *ptemp);
/* check_config, after every server: frees the tables no server took. */
void r307_missed_sweep(server_rec *main_s);

/* log_transaction: counts the request if it ended 404.  Every other
 * response costs one comparison of the final status. */
int r307_missed_log_transaction(request_rec *r);

/* The status handler: ?missed=rules[&server=NAME] answered here (OK or
 * an error status), anything else DECLINED. */
int r307_missed_rules_page(request_rec *r);
/* A server's section: ,"missed":[...] in JSON, a table in HTML. */
void r307_missed_status(request_rec *r, const server_rec *s, int json);

#endif /* R307_MISSED_H */
