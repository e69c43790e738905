/*
 * r307_statsfile.h - Redirect307StatsFile: per-rule hit counts that
 * outlive restarts (httpd glue; the format is r307_statsfmt.h).
 *
 * mod_redirect307.c keeps the counters (shared memory per cached table,
 * two words per record: hits, last hit in seconds); this part
 *   - seeds the counters of every table that got them since the last
 *     configuration pass from the file (post_config: a start, or a map
 *     parsed anew at a restart), by rule key, so that history follows the
 *     rule and not its line;
 *   - saves them, in httpd's parent only, never on the request path: at
 *     every restart (graceful or not: when the generation's pconf is
 *     cleared), at stop (before the process pool goes), and every
 *     Redirect307StatsInterval seconds (the monitor hook, which httpd runs
 *     about every ten seconds);
 *   - answers redirect307-status?stats with the live counters in the same
 *     format, for `redirect307 prune --stats URL`.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#ifndef R307_STATSFILE_H
#define R307_STATSFILE_H

#include "httpd.h"
#include "apr_tables.h"

#include "redirect_rules.h"

/* Redirect307StatsInterval's default, in seconds. */
#define R307_STATS_INTERVAL_DEFAULT 300

/* A table with hit counters, as mod_redirect307.c's cache holds it.  The
 * table and counters stay valid until the next configuration pass. */
typedef struct {
    const rr_table *table;
    apr_uint64_t *counters;     /* 2 * rr_table_records(): hits, last */
    unsigned serial;            /* unique per table ever built */
    apr_time_t loaded;          /* when the table was built */
} r307_sf_table;

/* Called from post_config with every table that has counters now (each
 * once), and the main server's Redirect307StatsFile (an absolute path, or
 * NULL) and Redirect307StatsInterval (seconds; 0: only at restart and
 * stop).  Seeds the tables new since the last call from the file; in the
 * running server's parent, arms the saves for this generation.  A missing
 * or unreadable file is logged and ignored.  Returns OK. */
int r307_statsfile_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *s,
                               const apr_array_header_t *tables,
                               const char *path, int interval);

/* The monitor hook: saves when the interval has passed and a count
 * changed.  Returns DECLINED (other modules' monitors still run). */
int r307_statsfile_monitor(apr_pool_t *p, server_rec *s);

/* redirect307-status?stats: the live counters as a stats file
 * (text/plain), summed by rule key over every counted table.  Returns
 * OK. */
int r307_statsfile_answer(request_rec *r);

#endif /* R307_STATSFILE_H */
