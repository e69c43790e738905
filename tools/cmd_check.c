/*
 * cmd_check.c - `redirect307 check`: loads rules files as httpd would
 * and reports what httpd would log and a summary of the rules, as text
 * (diagnostics on stderr, one line on stdout) or, with --json, as one
 * JSON document on stdout for scripts.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "apr_file_info.h"
#include "apr_strings.h"

#include "cli.h"
#include "cli_util.h"
#include "rules_load.h"
#include "engine/rr_image.h"
#include "httpd/r307_cache.h"

/* rr_stats.by_status[] in order, as the summary names them. */
#define STATUS_SLOTS 7
static const char *const status_names[STATUS_SLOTS] = {
    "default", "301", "302", "303", "307", "308", "410"
};

static const char *const chains_names[] = { "warn", "collapse", "off" };

/* JSON reals are written with this many significant digits: enough for
 * microseconds in load_ms, without binary noise. */
#define JSON_DIGITS 10

/* The figures of all tables of a set, added up. */
static void sum_stats(const rr_set *set, rr_stats *sum)
{
    rr_stats st;
    int k, j;
    memset(sum, 0, sizeof(*sum));
    for (k = 0; k < rr_set_table_count(set); k++) {
        rr_table_stats(rr_set_table(set, k), &st);
        sum->rules += st.rules;
        sum->exact += st.exact;
        sum->prefix += st.prefix;
        sum->query += st.query;
        sum->pattern += st.pattern;
        sum->bytes += st.bytes;
        for (j = 0; j < STATUS_SLOTS; j++)
            sum->by_status[j] += st.by_status[j];
    }
}

/* ---- text ----------------------------------------------------------- */

static int print_failed(const cli_args *a, const loaded_rules *l)
{
    int ne = l->diag->errors, nw = l->diag->warnings;
    printf("failed: %d %s%s, %d %s in %d %s; httpd would not start\n",
           ne, cli_plural(ne, "error", "errors"), l->cut ? " listed" : "",
           nw, cli_plural(nw, "warning", "warnings"), a->files->nelts,
           cli_plural(a->files->nelts, "file", "files"));
    return rules_exit_status(l);
}

static const char *chains_text(apr_pool_t *p, const cli_args *a,
                               const loaded_rules *l)
{
    if (a->chains == RR_CHAINS_OFF)
        return "chains not checked";
    return apr_psprintf(p, "%d %s%s", l->chains,
                        cli_plural(l->chains, "chain", "chains"),
                        a->chains == RR_CHAINS_COLLAPSE ? " collapsed" : "");
}

static int print_summary(apr_pool_t *p, const cli_args *a,
                         const loaded_rules *l)
{
    rr_stats sum;
    int nw = l->diag->warnings;
    sum_stats(l->set, &sum);
    printf("ok: %u rules (%u exact, %u prefix, %u query, %u pattern; "
           "%u default=%d, %u 301, %u 302, %u 303, %u 307, %u 308, %u 410), "
           "%s, %d %s, %d %s, parsed in %.3f s, %.1f MiB\n",
           sum.rules, sum.exact, sum.prefix, sum.query, sum.pattern,
           sum.by_status[0],
           a->default_status, sum.by_status[1], sum.by_status[2],
           sum.by_status[3], sum.by_status[4], sum.by_status[5],
           sum.by_status[6], chains_text(p, a, l), l->duplicates,
           cli_plural(l->duplicates, "duplicate", "duplicates"), nw,
           cli_plural(nw, "warning", "warnings"),
           (double)l->took / APR_USEC_PER_SEC,
           (double)sum.bytes / (1024.0 * 1024.0));
    return EXIT_OK;
}

/* ---- JSON ----------------------------------------------------------- */

/* A JSON string of `s`.  JSON holds only UTF-8, and a file name need not
 * be: each byte that is not part of a UTF-8 sequence becomes U+FFFD. */
static json_t *json_text(apr_pool_t *p, const char *s)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, o = 0;
    json_t *j = json_string(s);
    char *out;
    if (j)
        return j;
    out = apr_palloc(p, len * (sizeof(replacement) - 1) + 1);
    while (i < len) {
        size_t n = cli_utf8_len(u + i, len - i);
        if (n) {
            memcpy(out + o, u + i, n);
            o += n;
            i += n;
            continue;
        }
        memcpy(out + o, replacement, sizeof(replacement) - 1);
        o += sizeof(replacement) - 1;
        i++;
    }
    return json_stringn(out, o);
}

/* {"file": F, "line": N}: null for no file, or for a whole file. */
static json_t *json_place(apr_pool_t *p, const rr_diag_place *pl)
{
    return json_pack("{s:o, s:o}",
                     "file", pl->file ? json_text(p, pl->file) : json_null(),
                     "line", pl->line ? json_integer(pl->line) : json_null());
}

static json_t *json_diagnostic(apr_pool_t *p, const rr_diag_entry *e)
{
    json_t *places = json_array();
    int k;
    for (k = 0; k < e->nplaces; k++)
        json_array_append_new(places, json_place(p, &e->places[k]));
    return json_pack("{s:s, s:s, s:o, s:o}",
                     "kind", rr_diag_kind_name(e->kind),
                     "severity", rr_diag_is_error(e->kind) ? "error"
                                                           : "warning",
                     "message", json_text(p, e->message),
                     "places", places);
}

static json_t *json_diagnostics(apr_pool_t *p, const rr_diag *d)
{
    json_t *list = json_array();
    int k;
    for (k = 0; k < d->entries->nelts; k++)
        json_array_append_new(list, json_diagnostic(p, rr_diag_get(d, k)));
    return list;
}

static json_t *json_by_status(const rr_stats *sum)
{
    json_t *o = json_object();
    int k;
    for (k = 0; k < STATUS_SLOTS; k++)
        json_object_set_new(o, status_names[k],
                            json_integer(sum->by_status[k]));
    return o;
}

/* What httpd would not start with is summarised by its counts alone. */
static json_t *json_failed_summary(const loaded_rules *l)
{
    return json_pack("{s:i, s:i, s:i, s:b, s:f}",
                     "errors", l->diag->errors,
                     "warnings", l->diag->warnings,
                     "dropped", l->diag->dropped,
                     "cut", l->cut,
                     "load_ms", (double)l->took / 1000.0);
}

static json_t *json_summary(const cli_args *a, const loaded_rules *l)
{
    rr_stats sum;
    if (!l->set)
        return json_failed_summary(l);
    sum_stats(l->set, &sum);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:i, s:s, s:o, s:i,"
                     " s:i, s:i, s:i, s:b, s:f, s:I}",
                     "rules", (json_int_t)sum.rules,
                     "exact", (json_int_t)sum.exact,
                     "prefix", (json_int_t)sum.prefix,
                     "query", (json_int_t)sum.query,
                     "pattern", (json_int_t)sum.pattern,
                     "by_status", json_by_status(&sum),
                     "default_status", a->default_status,
                     "chains_mode", chains_names[a->chains],
                     "chains", a->chains == RR_CHAINS_OFF
                               ? json_null() : json_integer(l->chains),
                     "duplicates", l->duplicates,
                     "errors", l->diag->errors,
                     "warnings", l->diag->warnings,
                     "dropped", l->diag->dropped,
                     "cut", l->cut,
                     "load_ms", (double)l->took / 1000.0,
                     "bytes", (json_int_t)sum.bytes);
}

static json_t *json_files(apr_pool_t *p, const cli_args *a)
{
    json_t *files = json_array();
    int k;
    for (k = 0; k < a->files->nelts; k++) {
        const char *file = APR_ARRAY_IDX(a->files, k, const char *);
        json_array_append_new(files, json_text(p, file));
    }
    return files;
}

/* Calls fn for every live rule whose until= falls in [now, now + soon). */
static void each_expiring(apr_pool_t *p, const cli_args *a,
                          const loaded_rules *l,
                          void (*fn)(void *ctx, const rr_rule_info *r),
                          void *ctx)
{
    apr_time_t now = a->at ? a->at : apr_time_now();
    apr_time_t end = now + apr_time_from_sec((apr_time_t)a->soon_days
                                             * 86400);
    int k;
    for (k = 0; l->set && k < rr_set_table_count(l->set); k++) {
        const rr_table *t = rr_set_table(l->set, k);
        uint32_t i, n = rr_table_records(t);
        for (i = 0; i < n; i++) {
            rr_rule_info r;
            if (rr_table_record(t, i, p, &r) && r.until && r.until > now
                && r.until <= end)
                fn(ctx, &r);
        }
    }
}

static void note_expiring(void *ctx, const rr_rule_info *r)
{
    apr_pool_t *p = ctx;
    fprintf(stderr, "note: %s:%u: expires at %s (until=)\n", r->file,
            r->line, rr_time_format(p, r->until));
}

typedef struct {
    apr_pool_t *p;
    json_t *list;
} expiring_json;

static void json_expiring_one(void *ctx, const rr_rule_info *r)
{
    expiring_json *x = ctx;
    json_array_append_new(x->list, json_pack(
        "{s:o, s:i, s:s}", "file", json_text(x->p, r->file), "line",
        (int)r->line, "until", rr_time_format(x->p, r->until)));
}

/* The whole result as one document on stdout, nothing on stderr. */
static int print_json(apr_pool_t *p, const cli_args *a,
                      const loaded_rules *l, json_t *compiled)
{
    expiring_json x;
    json_t *doc;
    int rc;
    x.p = p;
    x.list = json_array();
    each_expiring(p, a, l, json_expiring_one, &x);
    doc = json_pack("{s:o, s:b, s:o, s:o, s:o}",
                    "files", json_files(p, a),
                    "ok", l->set != NULL,
                    "diagnostics", json_diagnostics(p, l->diag),
                    "expiring", x.list,
                    "summary", json_summary(a, l));
    if (doc && compiled)
        json_object_set_new(doc, "compiled", compiled);
    if (!doc) {
        cli_say("out of memory building the JSON document");
        return EXIT_USAGE;
    }
    rc = json_dumpf(doc, stdout, JSON_INDENT(2)
                                 | JSON_REAL_PRECISION(JSON_DIGITS));
    json_decref(doc);
    if (rc != 0 || fputc('\n', stdout) == EOF) {
        cli_say("cannot write the JSON document");
        return EXIT_USAGE;
    }
    return rules_exit_status(l);
}

#define FINFO_ID (APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_INODE)

/* What --compile takes of a file before reading it: the path httpd's
 * Redirect307Map makes of it (ap_server_root_relative cleans a path with
 * apr_filepath_merge: "." and ".." segments, doubled slashes), which
 * names the image, and the file's identity as it was parsed, which the
 * image must carry (taken after the parse, a file replaced meanwhile
 * would lend its identity to the old rules). */
typedef struct {
    char *path;
    apr_finfo_t fi;
    apr_status_t rv;
} compile_src;

static compile_src *compile_prepare(apr_pool_t *p, const cli_args *a)
{
    compile_src *c = apr_pcalloc(p, sizeof(*c) * (size_t)a->files->nelts);
    int k;
    for (k = 0; k < a->files->nelts; k++) {
        const char *file = APR_ARRAY_IDX(a->files, k, const char *);
        c[k].rv = apr_filepath_merge(&c[k].path, NULL, file,
                                     APR_FILEPATH_TRUENAME, p);
        if (c[k].rv == APR_SUCCESS)
            c[k].rv = apr_stat(&c[k].fi, c[k].path, FINFO_ID, p);
        else
            c[k].path = apr_pstrdup(p, file);
    }
    return c;
}

/* Why the image of c cannot be written as it stands, or NULL. */
static const char *compile_one(apr_pool_t *p, const cli_args *a,
                               const compile_src *c, const rr_table *t,
                               const char *image)
{
    rr_image_origin o;
    apr_finfo_t now;
    apr_status_t rv = c->rv;
    char err[256];
    if (rv == APR_SUCCESS)
        rv = apr_stat(&now, c->path, FINFO_ID, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot stat %s: %s", c->path,
                            apr_strerror(rv, err, sizeof(err)));
    if (now.size != c->fi.size || now.mtime != c->fi.mtime
        || now.inode != c->fi.inode)
        return apr_psprintf(p, "%s changed while it was read; run check "
                            "--compile again", c->path);
    rr_image_origin_init(&o, c->path, &c->fi, &a->opt);
    rv = rr_image_write(t, &o, image, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot write %s: %s", image,
                            apr_strerror(rv, err, sizeof(err)));
    return NULL;
}

/* --compile: each file's table written where httpd's Redirect307Map of
 * that path, with these options, looks for its compiled table, so that
 * the next start or graceful restart maps it instead of parsing the file.
 * httpd checks it as any image (the file's size, mtime and inode, the
 * options, the checksum, every record): a file changed since is parsed
 * again.  Each result goes to `list` (JSON) or stdout, each failure to
 * `list` or stderr; returns 0, or EXIT_USAGE if one failed. */
static int write_images(apr_pool_t *p, const cli_args *a,
                        const loaded_rules *l, const compile_src *c,
                        json_t *list)
{
    int k, rc = 0;
    for (k = 0; k < a->files->nelts; k++) {
        const char *file = APR_ARRAY_IDX(a->files, k, const char *);
        const char *image = r307_cache_image_path(p, a->compile_dir,
                                                  c[k].path, &a->opt);
        const char *why = compile_one(p, a, &c[k], rr_set_table(l->set, k),
                                      image);
        if (why)
            rc = EXIT_USAGE;
        if (list)
            json_array_append_new(list, json_pack(
                "{s:o, s:o}", "file", json_text(p, file),
                why ? "error" : "image", json_text(p, why ? why : image)));
        else if (why)
            cli_say("--compile: %s", why);
        else
            printf("compiled %s: %s\n", file, image);
    }
    return rc;
}

int cmd_check(apr_pool_t *p, const cli_args *a)
{
    loaded_rules l;
    compile_src *c = a->compile_dir ? compile_prepare(p, a) : NULL;
    json_t *compiled = NULL;
    int rc, wrc = 0;
    rules_load(p, a, &l);
    if (l.set)      /* what httpd does not look for at start: check does */
        rr_set_find_redundant(l.set, l.diag);
    if (a->json) {
        if (c && l.set) {
            compiled = json_array();
            wrc = write_images(p, a, &l, c, compiled);
        }
        rc = print_json(p, a, &l, compiled);
        return wrc ? wrc : rc;
    }
    rules_print_diag(l.diag);
    each_expiring(p, a, &l, note_expiring, p);
    if (!l.set)
        return print_failed(a, &l);
    rc = print_summary(p, a, &l);
    if (c)
        wrc = write_images(p, a, &l, c, NULL);
    return wrc ? wrc : rc;
}
