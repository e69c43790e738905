/*
 * cmd_prune.c - `redirect307 prune`: ends redirects nobody uses any more.
 * Loads rules files as httpd would, reads the hit history httpd keeps
 * (Redirect307StatsFile, or redirect307-status?stats of a live server),
 * and writes the rules files without the rules not hit within --unused-for
 * (and, with --expired, those whose until= has passed), every other byte
 * as it was.  Each removed rule is reported as FILE:LINE on stderr.
 *
 * A rule the history has never seen hit is removed only when the history
 * and the rule's file are both older than --unused-for: a file changed
 * since may hold rules too new to have been hit, and a history that
 * began since cannot tell.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include "apr_file_info.h"
#include "apr_file_io.h"
#include "apr_network_io.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include "cli.h"
#include "cli_util.h"
#include "httpd/r307_statsfmt.h"

#define DAY (APR_USEC_PER_SEC * (apr_interval_time_t)86400)

/* What the status page may take to answer (a big table's history). */
#define FETCH_TIMEOUT (APR_USEC_PER_SEC * (apr_interval_time_t)60)

/* One rules file. */
typedef struct {
    const char *name;           /* as given; "-": stdin */
    char *buf;
    size_t len;
    apr_time_t mtime;           /* 0: not known (stdin) */
    const rr_table *table;
    char *drop;                 /* [line]: 1 if the line goes, 1-based */
    unsigned lines;
    unsigned removed;
    unsigned kept_unseen;       /* never hit, kept for want of history */
} prune_file;

/* The verdict on one rule, and why. */
typedef enum { KEEP, KEEP_UNSEEN, DROP_UNUSED, DROP_EXPIRED } verdict;

typedef struct {
    const cli_args *a;
    const r307_stats *stats;    /* NULL without --stats */
    apr_time_t now;             /* --at, or the current time */
    apr_time_t cutoff;          /* now - --unused-for */
    unsigned rules, unused, expired;
} pruning;

/* ---- DURATION ------------------------------------------------------- */

int cmd_prune_duration(const char *s, apr_interval_time_t *span)
{
    apr_int64_t n = 0, days;
    size_t i;
    for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
        n = n * 10 + (s[i] - '0');
    if (i == 0 || !s[i] || s[i + 1])
        return 0;
    switch (s[i]) {
    case 'd': days = n; break;
    case 'w': days = n * 7; break;
    case 'm': days = n * 30; break;
    default: return 0;
    }
    if (days < 1 || days > 36500)
        return 0;
    *span = days * DAY;
    return 1;
}

/* ---- the history: a stats file, or a live server's status page ------ */

/* Sends req to host:port and reads the answer to its end (an HTTP/1.0
 * request: the server closes the connection after it). */
static apr_status_t http_exchange(apr_pool_t *p, const char *host,
                                  apr_port_t port, const char *req,
                                  char **out, size_t *outlen)
{
    apr_sockaddr_t *sa;
    apr_socket_t *sock = NULL;
    apr_size_t todo = strlen(req), cap = 65536, n = 0;
    char *buf = apr_palloc(p, cap);
    apr_status_t rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0,
                                            p);
    if (rv == APR_SUCCESS)
        rv = apr_socket_create(&sock, sa->family, SOCK_STREAM,
                               APR_PROTO_TCP, p);
    if (rv == APR_SUCCESS)
        rv = apr_socket_timeout_set(sock, FETCH_TIMEOUT);
    if (rv == APR_SUCCESS)
        rv = apr_socket_connect(sock, sa);
    while (rv == APR_SUCCESS && todo > 0) {
        apr_size_t sent = todo;
        rv = apr_socket_send(sock, req + strlen(req) - todo, &sent);
        todo -= sent;
    }
    while (rv == APR_SUCCESS) {
        apr_size_t got = cap - n - 1;
        rv = apr_socket_recv(sock, buf + n, &got);
        n += got;
        if (n + 1 == cap) {
            char *bigger = apr_palloc(p, cap * 2);
            memcpy(bigger, buf, n);
            buf = bigger;
            cap *= 2;
        }
    }
    if (sock)
        apr_socket_close(sock);
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return rv == APR_EOF ? APR_SUCCESS : rv;
}

/* GETs url (http only; its query, or "stats") and returns the body of a
 * 200 answer in *body. */
static int fetch(apr_pool_t *p, const char *url, char **body, size_t *len)
{
    apr_uri_t u;
    const char *req, *host, *eoh, *eol;
    char err[256], *buf;
    size_t n;
    int status = 0;
    apr_status_t rv;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme
        || strcasecmp(u.scheme, "http") || !u.hostname || !*u.hostname) {
        cli_say("%s: not an http://HOST[:PORT]/PATH URL", url);
        return 0;
    }
    host = strchr(u.hostname, ':') ? apr_pstrcat(p, "[", u.hostname, "]",
                                                 NULL) : u.hostname;
    req = apr_pstrcat(p, "GET ", u.path ? u.path : "/", "?",
                      u.query ? u.query : "stats", " HTTP/1.0\r\nHost: ",
                      host, u.port_str ? ":" : "",
                      u.port_str ? u.port_str : "",
                      "\r\nUser-Agent: redirect307-prune\r\n\r\n", NULL);
    rv = http_exchange(p, u.hostname, u.port ? u.port : 80, req, &buf, &n);
    if (rv != APR_SUCCESS) {
        cli_say("%s: cannot fetch: %s", url, apr_strerror(rv, err,
                                                          sizeof(err)));
        return 0;
    }
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1 || status != 200) {
        eol = strpbrk(buf, "\r\n");
        cli_say("%s: the server answered '%.*s', not 200 (is the URL the "
                "redirect307-status handler?)", url,
                eol ? (int)(eol - buf) : (int)n, buf);
        return 0;
    }
    if (!(eoh = strstr(buf, "\r\n\r\n"))) {
        cli_say("%s: the answer has no end of headers", url);
        return 0;
    }
    *body = (char *)eoh + 4;
    *len = n - (size_t)(*body - buf);
    return 1;
}

/* The whole of a file ("-": stdin), raw: prune writes its bytes back.
 * Lines past max_line are cut (memory stays bounded) for the engine or
 * the stats parser to refuse. */
static int read_raw(apr_pool_t *p, const char *path, size_t max_line,
                    char **buf, size_t *len)
{
    cli_text t;
    if (!cli_read_text(p, path, max_line, CLI_TEXT_RAW, &t))
        return 0;
    *buf = t.buf;
    *len = t.len;
    return 1;
}

/* Reads the history from a file ("-": stdin) or an http:// URL.  Any
 * problem is a failure: prune acts on it, so nothing is guessed. */
static const r307_stats *load_stats(apr_pool_t *p, const char *from)
{
    r307_stats *st = r307_stats_make(p);
    r307_stats_errors e;
    char *buf;
    size_t len;
    int ok = !strncasecmp(from, "http://", 7) ? fetch(p, from, &buf, &len)
                                               : read_raw(p, from, 1 << 20,
                                                          &buf, &len);
    if (!ok)
        return NULL;
    if (r307_stats_parse(st, buf, len, &e) != APR_SUCCESS || e.bad_lines) {
        cli_say("%s:%u: %s", from, e.first_bad, e.why);
        return NULL;
    }
    return st;
}

/* ---- the rules ------------------------------------------------------- */

/* Reads and parses each file (prune needs its bytes to write it again)
 * and checks them as one server's maps.  Returns EXIT_OK, or EXIT_USAGE
 * for an unreadable file, EXIT_FAIL where httpd would not start. */
static int load_rules(apr_pool_t *p, const cli_args *a, prune_file *files)
{
    rr_set *set = rr_set_create(p, a->files->nelts);
    rr_diag *d = rr_diag_create(p);
    int k, ok = 1;

    for (k = 0; k < a->files->nelts; k++) {
        prune_file *f = &files[k];
        rr_builder *b = rr_builder_create(p, &a->opt);
        apr_finfo_t fi;
        size_t i;
        f->name = APR_ARRAY_IDX(a->files, k, const char *);
        if (!read_raw(p, f->name, RR_MAX_LINE, &f->buf, &f->len))
            return EXIT_USAGE;
        if (strcmp(f->name, "-")
            && apr_stat(&fi, f->name, APR_FINFO_MTIME, p) == APR_SUCCESS)
            f->mtime = fi.mtime;
        for (i = 0, f->lines = 1; i < f->len; i++)
            f->lines += f->buf[i] == '\n';
        f->drop = apr_pcalloc(p, (size_t)f->lines + 1);
        rr_builder_add_buffer(b, f->name, f->buf, f->len, d);
        if ((f->table = rr_builder_freeze(b, p, d)) != NULL)
            rr_set_add(set, f->table);
        else
            ok = 0;
    }
    rr_set_ignore(set, a->ignore);
    rr_set_clock(set, a->at);
    if (ok && rr_set_check(set, NULL, RR_CHAINS_WARN, d) != APR_SUCCESS)
        ok = 0;
    if (ok)
        return EXIT_OK;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (rr_diag_is_error(e->kind))
            fprintf(stderr, "error: %s\n", e->message);
    }
    cli_say("httpd would not start with these rules; nothing pruned");
    return EXIT_FAIL;
}

/* ---- judging each rule ----------------------------------------------- */

/* What becomes of a rule, with its history in *hist (NULL: none).  An
 * expired rule goes with --expired; a rule hit goes when its last hit is
 * older than the span; a rule never hit only when the history and its
 * file are both older than the span (see the top of this file). */
static verdict judge(const pruning *pr, const prune_file *f,
                     const rr_rule_info *in, const r307_stats_val **hist,
                     apr_pool_t *p)
{
    *hist = pr->stats ? r307_stats_get(pr->stats, r307_stats_key(p, in))
                      : NULL;
    if (pr->a->expired && in->until && in->until <= pr->now)
        return DROP_EXPIRED;
    /* a window that opened within the span had no chance to be hit */
    if (!pr->a->unused_for || in->from > pr->cutoff)
        return KEEP;
    if (*hist && (*hist)->hits > 0)
        return apr_time_from_sec((apr_time_t)(*hist)->last) < pr->cutoff
               ? DROP_UNUSED : KEEP;
    if (pr->stats->since
        && apr_time_from_sec((apr_time_t)pr->stats->since) <= pr->cutoff
        && f->mtime && f->mtime <= pr->cutoff)
        return DROP_UNUSED;
    return KEEP_UNSEEN;
}

static const char *last_hit(apr_pool_t *p, const r307_stats_val *h)
{
    return h && h->hits
        ? apr_pstrcat(p, "last hit ", rr_time_format(
                          p, apr_time_from_sec((apr_time_t)h->last)), NULL)
        : "never hit";
}

static void judge_file(pruning *pr, prune_file *f, apr_pool_t *p)
{
    uint32_t i, n = rr_table_records(f->table);
    apr_pool_t *iter;
    apr_pool_create(&iter, p);
    for (i = 0; i < n; i++) {
        rr_rule_info in;
        const r307_stats_val *h;
        verdict v;
        apr_pool_clear(iter);
        rr_table_record(f->table, i, iter, &in);
        pr->rules++;
        v = judge(pr, f, &in, &h, iter);
        if (v == KEEP_UNSEEN)
            f->kept_unseen++;
        if (v != DROP_UNUSED && v != DROP_EXPIRED)
            continue;
        f->drop[in.line] = 1;
        f->removed++;
        if (v == DROP_EXPIRED) {
            pr->expired++;
            fprintf(stderr, "%s:%u: removed: expired at %s (until=)%s%s\n",
                    in.file, in.line, rr_time_format(iter, in.until),
                    pr->stats ? ", " : "",
                    pr->stats ? last_hit(iter, h) : "");
        }
        else {
            pr->unused++;
            fprintf(stderr, "%s:%u: removed: %s\n", in.file, in.line,
                    last_hit(iter, h));
        }
    }
    apr_pool_destroy(iter);
}

/* Why a file's never-hit rules stayed. */
static void note_unseen(const pruning *pr, const prune_file *f,
                        apr_pool_t *p)
{
    const char *why;
    apr_time_t since = apr_time_from_sec((apr_time_t)pr->stats->since);
    if (!f->kept_unseen)
        return;
    if (!pr->stats->since)
        why = "the history does not say when it began";
    else if (since > pr->cutoff)
        why = apr_psprintf(p, "the history begins %s, less than %s ago",
                           rr_time_format(p, since), pr->a->unused_for);
    else if (!f->mtime)
        why = "the age of standard input is not known";
    else
        why = apr_psprintf(p, "the file changed %s, less than %s ago, and "
                           "may hold rules too new to be hit",
                           rr_time_format(p, f->mtime), pr->a->unused_for);
    fprintf(stderr, "note: %s: %u %s never hit %s kept: %s\n", f->name,
            f->kept_unseen, cli_plural((int)f->kept_unseen, "rule", "rules"),
            f->kept_unseen == 1 ? "was" : "were", why);
}

/* ---- writing what stays ---------------------------------------------- */

/* Calls write(ctx, bytes, n) for every line that stays, line end
 * included, exactly as read. */
static int each_kept(const prune_file *f,
                     int (*write)(void *ctx, const char *s, size_t n),
                     void *ctx)
{
    size_t i = 0;
    unsigned line = 0;
    while (i < f->len) {
        const char *nl = memchr(f->buf + i, '\n', f->len - i);
        size_t end = nl ? (size_t)(nl - f->buf) + 1 : f->len;
        if (!f->drop[++line] && !write(ctx, f->buf + i, end - i))
            return 0;
        i = end;
    }
    return 1;
}

static int write_stdout(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    return fwrite(s, 1, n, stdout) == n;
}

static int write_file(void *ctx, const char *s, size_t n)
{
    return apr_file_write_full(ctx, s, n, NULL) == APR_SUCCESS;
}

/* Keeps FILE.bak and puts the pruned text in FILE's place (written to a
 * temporary file first: FILE is never half written). */
static int write_in_place(apr_pool_t *p, const prune_file *f)
{
    const char *bak = apr_pstrcat(p, f->name, ".bak", NULL);
    char *tmp = apr_pstrcat(p, f->name, ".XXXXXX", NULL), err[256];
    apr_fileperms_t perms = APR_FPROT_OS_DEFAULT;
    apr_finfo_t fi;
    apr_file_t *out;
    apr_status_t rv;

    if (apr_stat(&fi, f->name, APR_FINFO_PROT, p) == APR_SUCCESS)
        perms = fi.protection;
    rv = apr_file_open(&out, bak, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_TRUNCATE | APR_FOPEN_BINARY, perms, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(out, f->buf, f->len, NULL);
        if (apr_file_close(out) != APR_SUCCESS && rv == APR_SUCCESS)
            rv = APR_EGENERAL;
    }
    if (rv != APR_SUCCESS) {
        cli_say("%s: cannot write: %s", bak, apr_strerror(rv, err,
                                                          sizeof(err)));
        return 0;
    }
    rv = apr_file_mktemp(&out, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                         | APR_FOPEN_EXCL | APR_FOPEN_BINARY, p);
    if (rv == APR_SUCCESS) {
        rv = each_kept(f, write_file, out) ? APR_SUCCESS : APR_EGENERAL;
        if (apr_file_close(out) != APR_SUCCESS && rv == APR_SUCCESS)
            rv = APR_EGENERAL;
        if (rv == APR_SUCCESS && perms != APR_FPROT_OS_DEFAULT)
            rv = apr_file_perms_set(tmp, perms);
        if (rv == APR_SUCCESS)
            rv = apr_file_rename(tmp, f->name, p);
        if (rv != APR_SUCCESS)
            apr_file_remove(tmp, p);
    }
    if (rv != APR_SUCCESS) {
        cli_say("%s: cannot write: %s", f->name,
                apr_strerror(rv, err, sizeof(err)));
        return 0;
    }
    return 1;
}

static int write_rules(apr_pool_t *p, const cli_args *a,
                       const prune_file *files)
{
    int k;
    if (!a->in_place) {
        if (!each_kept(&files[0], write_stdout, NULL) || fflush(stdout)) {
            cli_say("cannot write standard output");
            return 0;
        }
        return 1;
    }
    for (k = 0; k < a->files->nelts; k++) {
        if (files[k].removed && !write_in_place(p, &files[k]))
            return 0;
    }
    return 1;
}

int cmd_prune(apr_pool_t *p, const cli_args *a)
{
    prune_file *files = apr_pcalloc(p, sizeof(prune_file)
                                       * (size_t)a->files->nelts);
    pruning pr;
    int k, rc;

    memset(&pr, 0, sizeof(pr));
    pr.a = a;
    pr.now = a->at ? a->at : apr_time_now();
    pr.cutoff = pr.now - a->unused;
    if (a->stats && !(pr.stats = load_stats(p, a->stats)))
        return EXIT_USAGE;
    if ((rc = load_rules(p, a, files)) != EXIT_OK)
        return rc;
    for (k = 0; k < a->files->nelts; k++)
        judge_file(&pr, &files[k], p);
    if (!write_rules(p, a, files))
        return EXIT_USAGE;
    for (k = 0; pr.stats && k < a->files->nelts; k++)
        note_unseen(&pr, &files[k], p);
    cli_say("%u of %u %s removed (%u not hit for %s, %u expired)",
            pr.unused + pr.expired, pr.rules,
            cli_plural((int)pr.rules, "rule", "rules"), pr.unused,
            a->unused_for ? a->unused_for : "-", pr.expired);
    return EXIT_OK;
}
