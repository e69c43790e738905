/*
 * redirect307 - check rules files, test URLs against them and import
 * redirects from other servers, with the same engine httpd loads, so that
 * a map can be validated in CI before it is deployed.
 *
 *   redirect307 check  [OPTIONS] FILE...
 *   redirect307 test   [OPTIONS] FILE... [--] URL...
 *   redirect307 import --from alias|nginx|csv FILE...
 *
 * Exit status: 0 fine, 1 a validation failure (an error in a rules file,
 * a failed expectation, an input line not imported), 2 bad usage or an
 * unreadable file.  Results go to stdout, diagnostics to stderr.
 *
 * One file on purpose: the Makefile builds it with redirect_rules.c alone.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_time.h"

#include "redirect_rules.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

/* ---- usage ------------------------------------------------------------ */

static const char help_main[] =
    "usage: redirect307 check  [OPTIONS] FILE...\n"
    "       redirect307 test   [OPTIONS] FILE... [--] URL...\n"
    "       redirect307 import --from alias|nginx|csv [OPTIONS] FILE...\n"
    "       redirect307 COMMAND --help\n"
    "\n"
    "check   validates rules files as httpd would load them; prints a summary\n"
    "test    prints the status and Location httpd would answer for URLs\n"
    "import  converts mod_alias, nginx map or WordPress Redirection CSV\n"
    "        redirects into the rules format, on stdout\n"
    "\n"
    "Exit status: 0 ok, 1 validation failure, 2 usage or I/O error.\n"
    "See redirect307(1).\n";

static const char help_check[] =
    "usage: redirect307 check [OPTIONS] FILE...\n"
    "\n"
    "Loads the rules files, in order, as one server's Redirect307Map lines\n"
    "would, and prints httpd's errors and warnings (FILE:LINE: reason) on\n"
    "stderr and a one-line summary on stdout: rules by kind and status,\n"
    "redirect chains, duplicates, parse time and table memory.\n"
    "\n"
    "options (each as the directive named):\n"
    "  --case-insensitive          Redirect307MatchCase Off\n"
    "  --trailing-slash MODE       Redirect307TrailingSlash ignore|strict\n"
    "  --chains MODE               Redirect307Chains warn|collapse|off (warn)\n"
    "  --host NAME                 ServerName/ServerAlias (repeatable, wildcards\n"
    "                              allowed): absolute targets on NAME count\n"
    "                              for chains and loops\n"
    "  --default STATUS            Redirect307Default: 301 302 303 307 308\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 the files load (warnings allowed), 1 httpd would refuse\n"
    "to start (a malformed line, an unreadable file, a redirect loop),\n"
    "2 bad usage.\n";

static const char help_test[] =
    "usage: redirect307 test [OPTIONS] FILE... [--] [URL...|-]\n"
    "\n"
    "Loads the rules files as 'check' does (and fails as it does), then\n"
    "prints one tab-separated line per URL:\n"
    "  URL  STATUS  LOCATION  FILE:LINE     a rule answers (LOCATION '-' for 410)\n"
    "  URL  no match                        httpd serves it as without the module\n"
    "  URL  rejected by httpd (400|404): why\n"
    "                                       httpd answers before the module runs\n"
    "\n"
    "A URL is http[s]://host[:port]/path?query; after '--' a bare /path?query\n"
    "is accepted too, and path targets are then printed as paths.  A '-', or\n"
    "no URL and no --expect at all, reads URLs from stdin, one a line.  The\n"
    "path is decoded and normalised as httpd builds r->uri: '.' and '..'\n"
    "segments resolved, '//' merged, %XX decoded; %2F (with the default\n"
    "AllowEncodedSlashes Off) and %00 get a 404, a bad %-escape, '..' above\n"
    "the root or a raw space or control byte a 400.  A #fragment is dropped,\n"
    "as clients never send it.\n"
    "\n"
    "options:\n"
    "  --expect FILE               check expectations (FILE '-': stdin), one a\n"
    "                              line, '#' comments and blank lines ignored:\n"
    "                                URL STATUS LOCATION  (LOCATION '-' for 410)\n"
    "                                URL no-match\n"
    "                                URL rejected         (or URL 400 / URL 404)\n"
    "                              prints each failure as\n"
    "                                FAIL FILE:LINE: URL: expected ..., got ...\n"
    "                              and a summary line; exit status 1 on failure\n"
    "  -v, --verbose               with --expect, print every result line too\n"
    "  --default STATUS            Redirect307Default: 301 302 303 307 308\n"
    "  --allow-encoded-slashes M   AllowEncodedSlashes off|on|nodecode (off)\n"
    "  --case-insensitive, --trailing-slash MODE, --chains MODE, --host NAME\n"
    "                              as for 'check'\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 ok, 1 a rules file fails to load or an expectation\n"
    "fails, 2 bad usage, an unreadable file, a malformed URL or expectation.\n";

static const char help_import[] =
    "usage: redirect307 import --from alias|nginx|csv [OPTIONS] FILE...\n"
    "\n"
    "Converts other servers' redirects into rules (SOURCE TARGET [STATUS]) on\n"
    "stdout; FILE '-' reads stdin.  What cannot be converted is listed on\n"
    "stderr as 'FILE:LINE: not converted: why'; remarks that change nothing\n"
    "as 'FILE:LINE: note: ...'.  Every rule written is checked with the\n"
    "engine, so the output loads with 'redirect307 check'.\n"
    "\n"
    "  alias   httpd.conf or .htaccess: Redirect [STATUS] URL-PATH URL,\n"
    "          RedirectPermanent, RedirectTemp (STATUS permanent, temp,\n"
    "          seeother, gone or a number; default 302).  mod_alias matches a\n"
    "          prefix on segment boundaries and carries the rest, so\n"
    "          'Redirect /a /b' becomes '/a/* /b/* 302' (which, like\n"
    "          mod_alias, also matches /a itself).  Not converted: RedirectMatch\n"
    "          and RewriteRule [R] (regexes), lines inside <If>, <Location>,\n"
    "          <Files> and similar (conditions), other statuses.\n"
    "  nginx   map $uri $var { ... } and map $request_uri $var { ... }\n"
    "          blocks: 'SOURCE TARGET;' entries (quotes allowed) become exact,\n"
    "          nocase rules (nginx map keys ignore case); 'default',\n"
    "          'hostnames' and 'volatile' are skipped; ~regex entries, targets\n"
    "          with $variables and include are not converted.  The status is\n"
    "          taken from 'return CODE $var' or 'rewrite ... $var permanent'\n"
    "          in the same file, else --status, else none (Redirect307Default).\n"
    "  csv     WordPress Redirection export (source,target,regex,code,type,\n"
    "          hits,title,status, ',' ';' or '|' separated, quoted fields);\n"
    "          without a header the columns are source,target,regex,code.\n"
    "          Not converted: regex=1, codes other than 301 302 303 307 308\n"
    "          410, non-url actions; disabled rows are skipped with a note.\n"
    "\n"
    "options:\n"
    "  --from FORMAT               alias, nginx or csv (required)\n"
    "  --status STATUS             status for entries that give none\n"
    "  --host NAME                 this site's host name(s), to find loops\n"
    "                              through absolute targets (repeatable)\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 everything converted, 1 some lines not converted (the\n"
    "rest is still printed), 2 bad usage or an unreadable file.\n";

/* ---- small helpers ---------------------------------------------------- */

static void say(const char *fmt, ...)
{
    va_list ap;
    fputs("redirect307: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Reads a whole file ("-": stdin) into pool memory, NUL-terminated.
 * Returns 0 and says why on failure. */
static int read_all(apr_pool_t *p, const char *path, char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    size_t cap = 65536, n = 0, got;
    char *b;
    if (!f) {
        say("%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    b = malloc(cap);
    while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (!b || ferror(f)) {
        say("%s: cannot read: %s", path, b ? strerror(errno) : "no memory");
        if (f != stdin)
            fclose(f);
        free(b);
        return 0;
    }
    if (f != stdin)
        fclose(f);
    *buf = apr_pstrmemdup(p, b, n);
    *len = n;
    free(b);
    return 1;
}

/* Splits the next line off *s (LF or CRLF); NULL at the end. */
static char *next_line(char **s, const char *end)
{
    char *line = *s, *nl;
    size_t n;
    if (line >= end)
        return NULL;
    nl = memchr(line, '\n', (size_t)(end - line));
    n = nl ? (size_t)(nl - line) : (size_t)(end - line);
    *s = line + n + (nl ? 1 : 0);
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return line;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

static int status_ok(int st, int allow_410)
{
    return st == 301 || st == 302 || st == 303 || st == 307 || st == 308
           || (allow_410 && st == 410);
}

/* A status argument: all digits and one of ours. */
static int parse_status(const char *s, int allow_410)
{
    size_t i;
    for (i = 0; s[i]; i++) {
        if (!apr_isdigit(s[i]))
            return 0;
    }
    return i == 3 && status_ok(atoi(s), allow_410) ? atoi(s) : 0;
}

/* ---- command line ----------------------------------------------------- */

typedef enum { CMD_CHECK, CMD_TEST, CMD_IMPORT } cli_cmd;

typedef struct {
    cli_cmd cmd;
    rr_options opt;
    int default_status;
    rr_chains_mode chains;
    apr_array_header_t *hosts;  /* const char *: --host */
    apr_array_header_t *files;
    apr_array_header_t *urls;   /* "-" reads stdin */
    const char *expect;
    int encoded_slashes;        /* 0 off, 1 on, 2 nodecode */
    int verbose;
    const char *from;
    int import_status;
} cli_args;

static int bad_usage(cli_cmd cmd, const char *fmt, const char *arg)
{
    static const char *const names[] = { "check", "test", "import" };
    fputs("redirect307: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see 'redirect307 %s --help')\n", names[cmd]);
    return EXIT_USAGE;
}

/* Option value: "--opt=value" or "--opt value". */
static const char *opt_value(int argc, const char *const *argv, int *i,
                             const char *name, const char *s)
{
    size_t n = strlen(name);
    if (strncmp(s, name, n))
        return NULL;
    if (s[n] == '=')
        return s + n + 1;
    if (s[n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int is_option(const char *s, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(s, name, n) && (s[n] == '\0' || s[n] == '=');
}

/* Returns -1 to go on, or an exit status (help printed: EXIT_OK). */
static int parse_value_option(cli_args *a, const char *s, const char *v)
{
    if (is_option(s, "--trailing-slash")) {
        if (!strcasecmp(v, "strict"))
            a->opt.trailing_strict = 1;
        else if (!strcasecmp(v, "ignore"))
            a->opt.trailing_strict = 0;
        else
            return bad_usage(a->cmd, "--trailing-slash takes ignore or "
                             "strict, not '%s'", v);
    }
    else if (is_option(s, "--chains")) {
        if (!strcasecmp(v, "warn"))
            a->chains = RR_CHAINS_WARN;
        else if (!strcasecmp(v, "collapse"))
            a->chains = RR_CHAINS_COLLAPSE;
        else if (!strcasecmp(v, "off"))
            a->chains = RR_CHAINS_OFF;
        else
            return bad_usage(a->cmd, "--chains takes warn, collapse or off, "
                             "not '%s'", v);
    }
    else if (is_option(s, "--default") && a->cmd != CMD_IMPORT) {
        if (!(a->default_status = parse_status(v, 0)))
            return bad_usage(a->cmd, "--default takes 301, 302, 303, 307 or "
                             "308, not '%s'", v);
    }
    else if (is_option(s, "--status") && a->cmd == CMD_IMPORT) {
        if (!(a->import_status = parse_status(v, 0)))
            return bad_usage(a->cmd, "--status takes 301, 302, 303, 307 or "
                             "308, not '%s'", v);
    }
    else if (is_option(s, "--host")) {
        APR_ARRAY_PUSH(a->hosts, const char *) = v;
    }
    else if (is_option(s, "--expect") && a->cmd == CMD_TEST) {
        a->expect = v;
    }
    else if (is_option(s, "--allow-encoded-slashes") && a->cmd == CMD_TEST) {
        if (!strcasecmp(v, "off"))
            a->encoded_slashes = 0;
        else if (!strcasecmp(v, "on"))
            a->encoded_slashes = 1;
        else if (!strcasecmp(v, "nodecode"))
            a->encoded_slashes = 2;
        else
            return bad_usage(a->cmd, "--allow-encoded-slashes takes off, on "
                             "or nodecode, not '%s'", v);
    }
    else if (is_option(s, "--from") && a->cmd == CMD_IMPORT) {
        if (strcmp(v, "alias") && strcmp(v, "nginx") && strcmp(v, "csv"))
            return bad_usage(a->cmd, "--from takes alias, nginx or csv, not "
                             "'%s'", v);
        a->from = v;
    }
    else {
        return bad_usage(a->cmd, "unknown option %s", s);
    }
    return -1;
}

static const char *const value_options[] = {
    "--trailing-slash", "--chains", "--default", "--status", "--host",
    "--expect", "--allow-encoded-slashes", "--from", NULL
};

static int parse_args(int argc, const char *const *argv, apr_pool_t *p,
                      cli_args *a)
{
    int i, k, after_dashes = 0;
    const char *help = a->cmd == CMD_CHECK ? help_check
                     : a->cmd == CMD_TEST ? help_test : help_import;

    a->default_status = 307;
    a->hosts = apr_array_make(p, 2, sizeof(const char *));
    a->files = apr_array_make(p, 4, sizeof(const char *));
    a->urls = apr_array_make(p, 4, sizeof(const char *));
    for (i = 2; i < argc; i++) {
        const char *s = argv[i], *v = NULL;
        if (after_dashes) {
            APR_ARRAY_PUSH(a->urls, const char *) = s;
            continue;
        }
        if (!strcmp(s, "--") && a->cmd == CMD_TEST) {
            after_dashes = 1;
            continue;
        }
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(s, "--case-insensitive") && a->cmd != CMD_IMPORT) {
            a->opt.case_insensitive = 1;
            continue;
        }
        if ((!strcmp(s, "-v") || !strcmp(s, "--verbose"))
            && a->cmd == CMD_TEST) {
            a->verbose = 1;
            continue;
        }
        for (k = 0; value_options[k]; k++) {
            if (is_option(s, value_options[k])) {
                int rc;
                v = opt_value(argc, argv, &i, value_options[k], s);
                if (!v)
                    return bad_usage(a->cmd, "%s needs a value", s);
                if ((rc = parse_value_option(a, s, v)) >= 0)
                    return rc;
                break;
            }
        }
        if (v)
            continue;
        if (s[0] == '-' && s[1])
            return bad_usage(a->cmd, "unknown option %s", s);
        if (a->cmd == CMD_TEST && (strstr(s, "://") || !strcmp(s, "-")))
            APR_ARRAY_PUSH(a->urls, const char *) = s;
        else
            APR_ARRAY_PUSH(a->files, const char *) = s;
    }
    if (a->files->nelts == 0)
        return bad_usage(a->cmd, a->cmd == CMD_IMPORT ? "no input file given%s"
                         : "no rules file given%s", "");
    if (a->cmd == CMD_IMPORT && !a->from)
        return bad_usage(a->cmd, "--from alias|nginx|csv is required%s", "");
    return -1;
}

/* ---- loading rules, as httpd does for one server ----------------------- */

typedef struct {
    rr_set *set;                /* NULL if httpd would refuse to start */
    rr_diag *diag;
    apr_interval_time_t took;
    int chains;                 /* chains found (warned or collapsed) */
    int duplicates;
} loaded;

/* "FILE:LINE" of a diagnostic's place. */
static const char *place_text(apr_pool_t *p, const rr_diag_place *pl)
{
    return apr_psprintf(p, "%s:%u", pl->file ? pl->file : "?", pl->line);
}

/* Every place of a chain or loop, joined with " -> ". */
static const char *places_text(apr_pool_t *p, const rr_diag_entry *e)
{
    const char *out = "";
    int k;
    for (k = 0; k < e->nplaces; k++)
        out = apr_pstrcat(p, out, k ? " -> " : "",
                          place_text(p, &e->places[k]), NULL);
    return out;
}

static int count_kind(const rr_diag *d, rr_diag_kind kind)
{
    int k, n = 0;
    for (k = 0; k < d->entries->nelts; k++)
        n += rr_diag_get(d, k)->kind == kind;
    return n;
}

/* Counts the chains of a set's tables without changing the set: a
 * collapsing check answers differently, so it runs on a copy. */
static int count_chains(apr_pool_t *p, const rr_set *set,
                        const apr_array_header_t *hosts)
{
    apr_pool_t *tmp;
    rr_set *copy;
    rr_diag *d;
    int k, n;
    apr_pool_create(&tmp, p);
    copy = rr_set_create(tmp, rr_set_table_count(set));
    for (k = 0; k < rr_set_table_count(set); k++)
        rr_set_add(copy, rr_set_table(set, k));
    d = rr_diag_create(tmp);
    rr_set_check(copy, hosts, RR_CHAINS_WARN, d);
    n = count_kind(d, RR_DIAG_CHAIN);
    apr_pool_destroy(tmp);
    return n;
}

static void load(apr_pool_t *p, const cli_args *a, loaded *l)
{
    rr_set *set = rr_set_create(p, a->files->nelts);
    apr_time_t t0 = apr_time_now();
    const apr_array_header_t *hosts = a->hosts->nelts ? a->hosts : NULL;
    int k, bad = 0;

    memset(l, 0, sizeof(*l));
    l->diag = rr_diag_create(p);
    for (k = 0; k < a->files->nelts; k++) {
        rr_table *t = rr_table_load_file(p, APR_ARRAY_IDX(a->files, k,
                                                          const char *),
                                         &a->opt, l->diag);
        if (t)
            rr_set_add(set, t);
        else
            bad = 1;
    }
    if (!bad && rr_set_check(set, hosts, a->chains, l->diag) != APR_SUCCESS)
        bad = 1;
    l->took = apr_time_now() - t0;
    l->duplicates = count_kind(l->diag, RR_DIAG_DUPLICATE);
    if (a->chains == RR_CHAINS_WARN)
        l->chains = count_kind(l->diag, RR_DIAG_CHAIN);
    else if (a->chains == RR_CHAINS_COLLAPSE && !bad)
        l->chains = count_chains(p, set, hosts);
    l->set = bad ? NULL : set;
}

static void print_diag(const rr_diag *d)
{
    int k;
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (!rr_diag_is_error(e->kind))
            fprintf(stderr, "warning: %s\n", e->message);
    }
    for (k = 0; k < d->entries->nelts; k++) {
        const rr_diag_entry *e = rr_diag_get(d, k);
        if (rr_diag_is_error(e->kind))
            fprintf(stderr, "error: %s\n", e->message);
    }
}

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* ---- check ------------------------------------------------------------ */

static int cmd_check(apr_pool_t *p, const cli_args *a)
{
    loaded l;
    rr_stats sum, st;
    int k, j, nw;
    const char *chains;

    load(p, a, &l);
    print_diag(l.diag);
    nw = l.diag->warnings;
    if (!l.set) {
        int ne = l.diag->errors;
        printf("failed: %d %s, %d %s in %d %s; httpd would not start\n",
               ne, plural(ne, "error", "errors"), nw,
               plural(nw, "warning", "warnings"), a->files->nelts,
               plural(a->files->nelts, "file", "files"));
        return EXIT_FAIL;
    }
    memset(&sum, 0, sizeof(sum));
    for (k = 0; k < rr_set_table_count(l.set); k++) {
        rr_table_stats(rr_set_table(l.set, k), &st);
        sum.rules += st.rules;
        sum.exact += st.exact;
        sum.prefix += st.prefix;
        sum.query += st.query;
        sum.bytes += st.bytes;
        for (j = 0; j < 7; j++)
            sum.by_status[j] += st.by_status[j];
    }
    chains = a->chains == RR_CHAINS_OFF ? "chains not checked"
           : apr_psprintf(p, "%d %s%s", l.chains,
                          plural(l.chains, "chain", "chains"),
                          a->chains == RR_CHAINS_COLLAPSE ? " collapsed" : "");
    printf("ok: %u rules (%u exact, %u prefix, %u query; %u default=%d, "
           "%u 301, %u 302, %u 303, %u 307, %u 308, %u 410), %s, "
           "%d %s, %d %s, parsed in %.3f s, %.1f MiB\n",
           sum.rules, sum.exact, sum.prefix, sum.query, sum.by_status[0],
           a->default_status, sum.by_status[1], sum.by_status[2],
           sum.by_status[3], sum.by_status[4], sum.by_status[5],
           sum.by_status[6], chains, l.duplicates,
           plural(l.duplicates, "duplicate", "duplicates"), nw,
           plural(nw, "warning", "warnings"),
           (double)l.took / APR_USEC_PER_SEC,
           (double)sum.bytes / (1024.0 * 1024.0));
    return EXIT_OK;
}

/* ---- a request as httpd sees it --------------------------------------- */

typedef enum { REQ_OK, REQ_BAD_URL, REQ_REJECTED } req_state;

typedef struct {
    req_state state;
    int status;                 /* REQ_REJECTED: 400 or 404 */
    const char *why;            /* REQ_BAD_URL, REQ_REJECTED */
    const char *base;           /* "scheme://host[:port]" or NULL */
    char *path;                 /* as r->uri */
    const char *args;           /* as r->args, NULL without '?' */
} request;

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int is_unreserved(int c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* httpd's ap_normalize_path(path, NOT_ABOVE_ROOT | MERGE_SLASHES
 * [| DECODE_UNRESERVED]), in place: decodes %XX of unreserved bytes,
 * merges '//', removes '.' segments and resolves '..' ones.  Returns 1,
 * or 0 where httpd answers 400 and says why in *why. */
static int normalize_path(char *path, int decode_unreserved,
                          const char **why)
{
    size_t l = 1, w = 1;
    int ret = 1;
    *why = NULL;
    if (path[0] != '/')
        return 0;
    while (path[l]) {
        if (decode_unreserved && path[l] == '%') {
            int hi = hexval((unsigned char)path[l + 1]);
            int lo = hi < 0 ? -1 : hexval((unsigned char)path[l + 2]);
            if (hi < 0 || lo < 0) {
                ret = 0;
                *why = "bad %-escape in the path";
            }
            else if (is_unreserved(hi * 16 + lo)) {
                l += 2;
                path[l] = (char)(hi * 16 + lo);
            }
        }
        if (path[w - 1] == '/') {
            if (path[l] == '/') {
                while (path[l] == '/')
                    l++;
                continue;
            }
            if (path[l] == '.') {
                int n = 0;
                if (path[l + 1] == '/' || path[l + 1] == '\0') {
                    l += path[l + 1] ? 2 : 1;
                    continue;
                }
                if (path[l + 1] == '.')
                    n = 1;
                else if (decode_unreserved && path[l + 1] == '%'
                         && path[l + 2] == '2'
                         && (path[l + 3] == 'e' || path[l + 3] == 'E'))
                    n = 3;
                if (n && (path[l + 1 + n] == '/' || path[l + 1 + n] == '\0')) {
                    if (w > 1) {
                        do {
                            w--;
                        } while (w && path[w - 1] != '/');
                    }
                    else {
                        ret = 0;
                        *why = *why ? *why : "'..' above the root";
                    }
                    l += 1 + n;
                    if (path[l])
                        l++;
                    continue;
                }
            }
        }
        path[w++] = path[l++];
    }
    path[w] = '\0';
    return ret;
}

/* httpd's ap_unescape_url_ex() after normalisation: 400 for a bad escape,
 * 404 for %00 or (AllowEncodedSlashes Off) %2F, else 0. */
static int unescape_path(char *s, int encoded_slashes)
{
    char *x = s, *y = s;
    int badesc = 0, badpath = 0;
    for (; *y; x++, y++) {
        int hi, lo, c;
        if (*y != '%') {
            *x = *y;
            continue;
        }
        hi = hexval((unsigned char)y[1]);
        lo = hi < 0 ? -1 : hexval((unsigned char)y[2]);
        if (hi < 0 || lo < 0) {
            badesc = 1;
            *x = '%';
            continue;
        }
        c = hi * 16 + lo;
        if (c == 0 || (c == '/' && encoded_slashes == 0)) {
            badpath = 1;
            *x = (char)c;
            y += 2;
        }
        else if (c == '/' && encoded_slashes == 2) {
            x[0] = y[0];
            x[1] = y[1];
            x[2] = y[2];
            x += 2;
            y += 2;
        }
        else {
            *x = (char)c;
            y += 2;
        }
    }
    *x = '\0';
    return badesc ? 400 : badpath ? 404 : 0;
}

static void reject(request *r, int status, const char *why)
{
    r->state = REQ_REJECTED;
    r->status = status;
    r->why = why;
}

/* Splits and decodes a URL the way httpd builds r->uri, r->args and the
 * base of path targets (host lowercased, default port dropped). */
static void parse_request(apr_pool_t *p, const char *url, int allow_bare,
                          int encoded_slashes, request *r)
{
    const char *s, *rest = url, *q, *why;
    size_t i;
    int code;

    memset(r, 0, sizeof(*r));
    r->state = REQ_OK;
    for (i = 0; url[i]; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f) {
            reject(r, 400, c == ' ' ? "raw space in the URL (write %20)"
                                    : "raw control character in the URL");
            return;
        }
    }
    s = strstr(url, "://");
    if (s && url[0] != '/') {
        const char *scheme_end = s, *hs = s + 3, *he;
        const char *port = NULL;
        char *host;
        int https;
        if ((size_t)(scheme_end - url) == 4 && !strncasecmp(url, "http", 4))
            https = 0;
        else if ((size_t)(scheme_end - url) == 5
                 && !strncasecmp(url, "https", 5))
            https = 1;
        else {
            r->state = REQ_BAD_URL;
            r->why = "scheme is not http or https";
            return;
        }
        he = hs + strcspn(hs, "/?#");
        if (memchr(hs, '@', (size_t)(he - hs))) {
            r->state = REQ_BAD_URL;
            r->why = "user information in the URL";
            return;
        }
        host = apr_pstrmemdup(p, hs, (size_t)(he - hs));
        if (host[0] == '[') {
            char *rb = strchr(host, ']');
            if (!rb || (rb[1] && rb[1] != ':')) {
                r->state = REQ_BAD_URL;
                r->why = "bad IPv6 host";
                return;
            }
            if (rb[1] == ':') {
                port = rb + 2;
                rb[1] = '\0';
            }
        }
        else if (strchr(host, ':')) {
            port = strchr(host, ':') + 1;
            *strchr(host, ':') = '\0';
        }
        if (!host[0]) {
            r->state = REQ_BAD_URL;
            r->why = "no host";
            return;
        }
        if (port && (!*port || strspn(port, "0123456789") != strlen(port)
                     || atoi(port) > 65535)) {
            r->state = REQ_BAD_URL;
            r->why = "bad port";
            return;
        }
        for (i = 0; host[i]; i++)
            host[i] = (char)apr_tolower(host[i]);
        if (port && atoi(port) == (https ? 443 : 80))
            port = NULL;
        r->base = apr_pstrcat(p, https ? "https://" : "http://", host,
                              port ? ":" : "", port ? port : "", NULL);
        rest = *he == '/' ? he : apr_pstrcat(p, "/", he, NULL);
    }
    else if (url[0] != '/' || !allow_bare) {
        r->state = REQ_BAD_URL;
        r->why = allow_bare ? "neither http[s]://host/path nor /path"
                            : "not http[s]://host/path (bare paths only "
                              "after --)";
        return;
    }
    /* Clients never send the fragment. */
    rest = apr_pstrmemdup(p, rest, strcspn(rest, "#"));
    q = strchr(rest, '?');
    r->args = q ? q + 1 : NULL;
    r->path = apr_pstrmemdup(p, rest, q ? (size_t)(q - rest) : strlen(rest));
    if (!normalize_path(r->path, 1, &why)) {
        reject(r, 400, why);
        return;
    }
    code = unescape_path(r->path, encoded_slashes);
    if (code == 404) {
        reject(r, 404, encoded_slashes == 0
               ? "%2F or %00 in the path (AllowEncodedSlashes Off)"
               : "%00 in the path");
        return;
    }
    if (code) {
        reject(r, code, "bad %-escape in the path");
        return;
    }
    if (encoded_slashes == 1)
        normalize_path(r->path, 0, &why);
}

/* ---- test ------------------------------------------------------------- */

typedef enum { ANS_MATCH, ANS_MISS, ANS_REJECTED, ANS_BAD_URL } ans_kind;

typedef struct {
    ans_kind kind;
    int status;
    const char *location;       /* NULL for 410 */
    const char *origin;         /* FILE:LINE of the rule */
    const char *why;
} answer;

static void answer_url(apr_pool_t *p, const cli_args *a, const rr_set *set,
                       const char *url, int allow_bare, answer *ans)
{
    request r;
    rr_match m;
    memset(ans, 0, sizeof(*ans));
    parse_request(p, url, allow_bare, a->encoded_slashes, &r);
    if (r.state == REQ_BAD_URL) {
        ans->kind = ANS_BAD_URL;
        ans->why = r.why;
        return;
    }
    if (r.state == REQ_REJECTED) {
        ans->kind = ANS_REJECTED;
        ans->status = r.status;
        ans->why = r.why;
        return;
    }
    if (!rr_set_lookup(set, r.path, strlen(r.path), r.args, &m)) {
        ans->kind = ANS_MISS;
        return;
    }
    ans->kind = ANS_MATCH;
    ans->status = rr_match_status(&m, a->default_status);
    ans->location = ans->status == 410 ? NULL
                  : rr_match_location(&m, p, r.path, r.args, r.base);
    ans->origin = rr_match_origin(&m, p);
}

static void print_answer(const char *url, const answer *ans)
{
    switch (ans->kind) {
    case ANS_MATCH:
        printf("%s\t%d\t%s\t%s\n", url, ans->status,
               ans->location ? ans->location : "-", ans->origin);
        break;
    case ANS_MISS:
        printf("%s\tno match\n", url);
        break;
    case ANS_REJECTED:
        printf("%s\trejected by httpd (%d): %s\n", url, ans->status,
               ans->why);
        break;
    case ANS_BAD_URL:
        break;
    }
}

static const char *describe(apr_pool_t *p, const answer *ans)
{
    switch (ans->kind) {
    case ANS_MATCH:
        return apr_psprintf(p, "%d %s (rule %s)", ans->status,
                            ans->location ? ans->location : "-",
                            ans->origin);
    case ANS_MISS:
        return "no-match";
    case ANS_REJECTED:
        return apr_psprintf(p, "rejected by httpd (%d)", ans->status);
    default:
        return "bad URL";
    }
}

/* Answers one URL; `where` ("FILE:LINE" or NULL) names its input line. */
static int test_one(apr_pool_t *p, const cli_args *a, const rr_set *set,
                    const char *url, int allow_bare, const char *where)
{
    answer ans;
    answer_url(p, a, set, url, allow_bare, &ans);
    if (ans.kind == ANS_BAD_URL) {
        fprintf(stderr, "redirect307: %s%sbad URL '%s': %s\n",
                where ? where : "", where ? ": " : "", url, ans.why);
        return 0;
    }
    print_answer(url, &ans);
    return 1;
}

/* URLs from stdin, one a line; returns the count of bad ones (or -1 if
 * stdin cannot be read). */
static int test_stdin(apr_pool_t *p, const cli_args *a, const rr_set *set)
{
    char *buf, *s, *line;
    size_t len;
    unsigned n = 0;
    int bad = 0;
    apr_pool_t *iter;
    if (!read_all(p, "-", &buf, &len))
        return -1;
    apr_pool_create(&iter, p);
    s = buf;
    while ((line = next_line(&s, buf + len))) {
        n++;
        line = trim(line);
        if (!*line || *line == '#')
            continue;
        bad += !test_one(iter, a, set, line, 1,
                         apr_psprintf(iter, "-:%u", n));
        apr_pool_clear(iter);
    }
    apr_pool_destroy(iter);
    return bad;
}

typedef struct {
    int total, failed, bad;
} expect_counts;

/* Checks one expectation line "URL WHAT [LOCATION]". */
static void expect_one(apr_pool_t *p, const cli_args *a, const rr_set *set,
                       const char *where, char *line, expect_counts *c)
{
    char *tok[4], *last;
    int n = 0, want_status = 0, ok;
    answer ans;
    const char *want;

    for (tok[n] = apr_strtok(line, " \t", &last); tok[n] && n < 3;
         tok[++n] = apr_strtok(NULL, " \t", &last)) {
        if (tok[n][0] == '#')
            break;
    }
    if (n < 4)
        tok[n] = NULL;
    if (n == 3 && tok[3] && tok[3][0] != '#') {
        fprintf(stderr, "redirect307: %s: bad expectation: too many fields "
                "(URL STATUS LOCATION)\n", where);
        c->bad++;
        return;
    }
    if (n < 2) {
        fprintf(stderr, "redirect307: %s: bad expectation: want URL STATUS "
                "LOCATION, URL no-match or URL rejected\n", where);
        c->bad++;
        return;
    }
    if (!strcmp(tok[1], "no-match") || !strcmp(tok[1], "rejected")) {
        if (n == 3) {
            fprintf(stderr, "redirect307: %s: bad expectation: nothing may "
                    "follow %s\n", where, tok[1]);
            c->bad++;
            return;
        }
    }
    else if ((want_status = parse_status(tok[1], 1))
             || !strcmp(tok[1], "400") || !strcmp(tok[1], "404")) {
        if (!want_status)
            want_status = atoi(tok[1]);
        if (n == 2 && want_status >= 301 && want_status <= 308) {
            fprintf(stderr, "redirect307: %s: bad expectation: status %d "
                    "needs a LOCATION\n", where, want_status);
            c->bad++;
            return;
        }
        if (n == 3 && want_status >= 400 && strcmp(tok[2], "-")) {
            fprintf(stderr, "redirect307: %s: bad expectation: status %d "
                    "takes '-' as LOCATION\n", where, want_status);
            c->bad++;
            return;
        }
    }
    else {
        fprintf(stderr, "redirect307: %s: bad expectation: unknown status "
                "'%s'\n", where, tok[1]);
        c->bad++;
        return;
    }

    answer_url(p, a, set, tok[0], 1, &ans);
    if (ans.kind == ANS_BAD_URL) {
        fprintf(stderr, "redirect307: %s: bad URL '%s': %s\n", where,
                tok[0], ans.why);
        c->bad++;
        return;
    }
    c->total++;
    if (a->verbose)
        print_answer(tok[0], &ans);
    if (!strcmp(tok[1], "no-match")) {
        ok = ans.kind == ANS_MISS;
        want = "no-match";
    }
    else if (!strcmp(tok[1], "rejected")) {
        ok = ans.kind == ANS_REJECTED;
        want = "rejected by httpd";
    }
    else if (want_status == 400 || want_status == 404) {
        ok = ans.kind == ANS_REJECTED && ans.status == want_status;
        want = apr_psprintf(p, "rejected by httpd (%d)", want_status);
    }
    else if (want_status == 410) {
        ok = ans.kind == ANS_MATCH && ans.status == 410;
        want = "410 -";
    }
    else {
        ok = ans.kind == ANS_MATCH && ans.status == want_status
             && ans.location && !strcmp(ans.location, tok[2]);
        want = apr_psprintf(p, "%d %s", want_status, tok[2]);
    }
    if (!ok) {
        c->failed++;
        printf("FAIL %s: %s: expected %s, got %s\n", where, tok[0], want,
               describe(p, &ans));
    }
}

static int run_expectations(apr_pool_t *p, const cli_args *a,
                            const rr_set *set, expect_counts *c)
{
    char *buf, *s, *line;
    size_t len;
    unsigned n = 0;
    apr_pool_t *iter;
    const char *name = strcmp(a->expect, "-") ? a->expect : "-";
    if (!read_all(p, a->expect, &buf, &len))
        return 0;
    apr_pool_create(&iter, p);
    s = buf;
    while ((line = next_line(&s, buf + len))) {
        n++;
        line = trim(line);
        if (!*line || *line == '#')
            continue;
        expect_one(iter, a, set, apr_psprintf(iter, "%s:%u", name, n), line,
                   c);
        apr_pool_clear(iter);
    }
    apr_pool_destroy(iter);
    return 1;
}

static int cmd_test(apr_pool_t *p, const cli_args *a)
{
    loaded l;
    int k, bad = 0, stdin_used = 0;
    expect_counts c = { 0, 0, 0 };

    for (k = 0; k < a->urls->nelts; k++)
        stdin_used |= !strcmp(APR_ARRAY_IDX(a->urls, k, const char *), "-");
    if (stdin_used && a->expect && !strcmp(a->expect, "-"))
        return bad_usage(a->cmd, "stdin cannot hold both URLs and "
                         "expectations%s", "");
    load(p, a, &l);
    print_diag(l.diag);
    if (!l.set) {
        say("not testing: httpd would refuse these rules");
        return EXIT_FAIL;
    }
    for (k = 0; k < a->urls->nelts; k++) {
        const char *url = APR_ARRAY_IDX(a->urls, k, const char *);
        if (!strcmp(url, "-")) {
            int b = test_stdin(p, a, l.set);
            if (b < 0)
                return EXIT_USAGE;
            bad += b;
        }
        else {
            bad += !test_one(p, a, l.set, url, 1, NULL);
        }
    }
    if (a->urls->nelts == 0 && !a->expect) {
        int b = test_stdin(p, a, l.set);
        if (b < 0)
            return EXIT_USAGE;
        bad += b;
    }
    if (a->expect) {
        if (!run_expectations(p, a, l.set, &c))
            return EXIT_USAGE;
        printf("%d %s: %d passed, %d failed\n", c.total,
               plural(c.total, "expectation", "expectations"),
               c.total - c.failed, c.failed);
    }
    fflush(stdout);
    if (bad + c.bad)
        return EXIT_USAGE;
    return c.failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- import ----------------------------------------------------------- */

typedef struct {
    const char *text;           /* "SOURCE TARGET [STATUS] [FLAGS]" */
    const char *file;
    unsigned line;
    int dropped;
} imp_rule;

typedef struct {
    apr_pool_t *p;
    const cli_args *a;
    const char *file;           /* input being read */
    apr_array_header_t *rules;  /* imp_rule */
    int skipped;
    unsigned vhost_line;        /* <VirtualHost> being read, 0: none */
    int vhost_noted;
} importer;

/* "FILE:LINE: LABEL: message" on stderr. */
static void imp_say(const importer *im, unsigned line, const char *label,
                    const char *fmt, va_list ap)
{
    fprintf(stderr, "%s:%u: %s: ", im->file, line, label);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void imp_skip(importer *im, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    imp_say(im, line, "not converted", fmt, ap);
    va_end(ap);
    im->skipped++;
}

static void imp_note(importer *im, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    imp_say(im, line, "note", fmt, ap);
    va_end(ap);
}

static const char hexdigits[] = "0123456789ABCDEF";

/* Escapes the bytes that may not stand raw in a rules-file field.
 * `keep_escapes`: the input is already URL-encoded, so a valid %XX and
 * '?' keep their meaning; otherwise it is a decoded path (mod_alias,
 * nginx $uri) and '%', '?' and '#' are literal bytes.  A trailing '*'
 * is escaped so that it never reads as our prefix marker. */
static const char *escape_field(apr_pool_t *p, const char *s, size_t n,
                                int keep_escapes, int is_source)
{
    char *out = apr_palloc(p, n * 3 + 1);
    size_t i, o = 0, qpos = n;
    int in_query = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int esc = c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c);
        if (c == '%')
            esc = !keep_escapes || hexval((unsigned char)s[i + 1]) < 0
                  || (i + 2 > n) || hexval((unsigned char)s[i + 2]) < 0;
        else if (c == '?' && !in_query)
            esc = is_source && !keep_escapes;
        else if (c == '#')
            esc = is_source;
        if (c == '?' && !esc && !in_query) {
            in_query = 1;
            qpos = o;
        }
        if (esc) {
            out[o++] = '%';
            out[o++] = hexdigits[c >> 4];
            out[o++] = hexdigits[c & 15];
        }
        else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    if (is_source) {
        size_t pe = in_query ? qpos : o;
        if (pe > 0 && out[pe - 1] == '*') {
            char *fixed = apr_palloc(p, o + 3);
            memcpy(fixed, out, pe - 1);
            memcpy(fixed + pe - 1, "%2A", 3);
            memcpy(fixed + pe + 2, out + pe, o - pe + 1);
            return fixed;
        }
    }
    return out;
}

static void imp_emit(importer *im, unsigned line, const char *src,
                     const char *tgt, int status, const char *flags)
{
    imp_rule *r = apr_array_push(im->rules);
    r->text = apr_psprintf(im->p, "%s %s%s%s%s%s", src, tgt,
                           status ? " " : "",
                           status ? apr_itoa(im->p, status) : "",
                           flags ? " " : "", flags ? flags : "");
    r->file = im->file;
    r->line = line;
    r->dropped = 0;
}

/* -- mod_alias -- */

/* ap_getword_conf(): a word, or a "quoted" / 'quoted' string in which
 * \\ and \<quote> stand for themselves.  NULL at the end of the line. */
static char *conf_word(apr_pool_t *p, const char **line)
{
    const char *s = *line, *e;
    char quote = 0, *out, *o;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    if (*s == '"' || *s == '\'') {
        quote = *s++;
        for (e = s; *e && *e != quote; e++) {
            if (*e == '\\' && (e[1] == quote || e[1] == '\\'))
                e++;
        }
    }
    else {
        for (e = s; *e && *e != ' ' && *e != '\t'; e++)
            ;
    }
    o = out = apr_palloc(p, (size_t)(e - s) + 1);
    for (; s < e; s++) {
        if (*s == '\\' && (s[1] == '\\' || (quote && s[1] == quote)))
            s++;
        *o++ = *s;
    }
    *o = '\0';
    if (quote && *e == quote)
        e++;
    *line = e;
    return out;
}

static int alias_status(const char *w, int *grok)
{
    int st;
    *grok = 1;
    if (!strcasecmp(w, "permanent"))
        return 301;
    if (!strcasecmp(w, "temp"))
        return 302;
    if (!strcasecmp(w, "seeother"))
        return 303;
    if (!strcasecmp(w, "gone")) {
        *grok = -1;
        return 410;
    }
    if (apr_isdigit(*w)) {
        st = atoi(w);
        if (st < 300 || st > 399)
            *grok = -1;
        return st;
    }
    *grok = 0;
    return 0;
}

static int is_url_or_path(const char *t)
{
    const char *s = t;
    if (t[0] == '/')
        return t[1] != '/';
    if (!apr_isalpha(*s))
        return 0;
    while (apr_isalnum(*s) || *s == '+' || *s == '-' || *s == '.')
        s++;
    return !strncmp(s, "://", 3) && s[3] && s[3] != '/';
}

/* mod_alias matches a prefix on segment boundaries and carries the rest:
 * "Redirect /a /b" sends /a/x to /b/x.  Ours is the prefix rule
 * "/a/STAR /b/STAR", STAR being '*'. */
static void alias_convert(importer *im, unsigned line, const char *path,
                          const char *url, int status)
{
    size_t plen = strlen(path);
    const char *src, *tgt;
    if (plen > 1 && path[plen - 1] == '/') {
        plen--;
        imp_note(im, line, "mod_alias source '%s' does not match '%.*s' "
                 "itself; the converted prefix rule does", path, (int)plen,
                 path);
    }
    src = plen == 1 ? "/*"
          : apr_pstrcat(im->p, escape_field(im->p, path, plen, 0, 1), "/*",
                        NULL);
    if (!url) {
        tgt = "-";
    }
    else {
        const char *t = escape_field(im->p, url, strlen(url), 1, 0);
        size_t tmain = strcspn(t, "?#");
        tgt = apr_pstrcat(im->p, apr_pstrmemdup(im->p, t, tmain),
                          tmain > 0 && t[tmain - 1] == '/' ? "*" : "/*",
                          t + tmain, NULL);
    }
    imp_emit(im, line, src, tgt, status, NULL);
}

static int alias_in_condition(const apr_array_header_t *stack,
                              const char **which)
{
    static const char *const conditions[] = {
        "if", "elseif", "else", "location", "locationmatch", "files",
        "filesmatch", "directorymatch", "limit", "limitexcept", NULL
    };
    int k, j;
    for (k = 0; k < stack->nelts; k++) {
        const char *c = APR_ARRAY_IDX(stack, k, const char *);
        for (j = 0; conditions[j]; j++) {
            if (!strcasecmp(c, conditions[j])) {
                *which = c;
                return 1;
            }
        }
    }
    return 0;
}

static void alias_redirect(importer *im, unsigned line, const char *dir,
                           char **arg, int nargs)
{
    int status = !strcasecmp(dir, "RedirectPermanent") ? 301 : 302, grok = 0;
    const char *path, *url;

    if (!strcasecmp(dir, "Redirect") && nargs >= 1)
        status = nargs == 1 ? 302 : alias_status(arg[0], &grok);
    if (nargs < 1 || nargs > 3 || (strcasecmp(dir, "Redirect") && nargs != 2)) {
        imp_skip(im, line, "%s with %d arguments (mod_alias would refuse it)",
                 dir, nargs);
        return;
    }
    if (nargs == 1) {
        imp_skip(im, line, "%s without a URL-path (only valid inside "
                 "<Location>)", dir);
        return;
    }
    if (nargs == 3 && !grok) {
        imp_skip(im, line, "invalid first argument '%s' (of three)", arg[0]);
        return;
    }
    if (nargs == 2 && !grok) {
        status = strcasecmp(dir, "Redirect") ? status : 302;
        path = arg[0];
        url = arg[1];
    }
    else {
        path = arg[1];
        url = nargs == 3 ? arg[2] : NULL;
    }
    if (!status_ok(status, 1)) {
        imp_skip(im, line, "status %s (rules take 301, 302, 303, 307, 308 "
                 "or 410)", arg[0]);
        return;
    }
    if (status == 410 && url) {
        imp_skip(im, line, "gone (410) takes no URL");
        return;
    }
    if (status != 410 && !url) {
        imp_skip(im, line, "URL to redirect to is missing");
        return;
    }
    if (path[0] != '/') {
        imp_skip(im, line, "'%s' is not a URL-path", path);
        return;
    }
    if (url && !is_url_or_path(url)) {
        imp_skip(im, line, "'%s' is neither an absolute URL nor a path", url);
        return;
    }
    if (im->vhost_line && !im->vhost_noted) {
        imp_note(im, line, "from the <VirtualHost> at line %u: load the "
                 "output in that virtual host", im->vhost_line);
        im->vhost_noted = 1;
    }
    alias_convert(im, line, path, url, status);
}

/* Does a RewriteRule's [FLAGS] make it a redirect? */
static int rewrite_redirects(char **arg, int nargs)
{
    const char *f = nargs >= 3 ? arg[nargs - 1] : NULL;
    char buf[512], *t, *last;
    if (!f || f[0] != '[')
        return 0;
    apr_cpystrn(buf, f + 1, sizeof(buf));
    buf[strcspn(buf, "]")] = '\0';
    for (t = apr_strtok(buf, ",", &last); t;
         t = apr_strtok(NULL, ",", &last)) {
        if (!strcasecmp(t, "R") || !strncasecmp(t, "R=", 2)
            || !strncasecmp(t, "redirect", 8))
            return 1;
    }
    return 0;
}

static void alias_line(importer *im, unsigned line, const char *text,
                       apr_array_header_t *stack)
{
    char *arg[8], *dir;
    const char *s = text;
    int nargs = 0;
    const char *cond;

    if (text[0] == '<') {
        size_t n;
        if (text[1] == '/') {
            if (stack->nelts > 0) {
                const char *top = *(const char **)apr_array_pop(stack);
                if (!strcasecmp(top, "virtualhost"))
                    im->vhost_line = 0;
            }
            return;
        }
        n = strcspn(text + 1, " \t>");
        APR_ARRAY_PUSH(stack, const char *) =
            apr_pstrmemdup(im->p, text + 1, n);
        if (n == 11 && !strncasecmp(text + 1, "VirtualHost", 11)) {
            im->vhost_line = line;
            im->vhost_noted = 0;
        }
        return;
    }
    dir = conf_word(im->p, &s);
    if (!dir)
        return;
    while (nargs < 8 && (arg[nargs] = conf_word(im->p, &s)))
        nargs++;
    if (!strcasecmp(dir, "RedirectMatch")) {
        imp_skip(im, line, "RedirectMatch uses a regular expression");
        return;
    }
    if (!strcasecmp(dir, "RewriteRule")) {
        if (rewrite_redirects(arg, nargs))
            imp_skip(im, line, "RewriteRule [R] uses a regular expression");
        return;
    }
    if (strcasecmp(dir, "Redirect") && strcasecmp(dir, "RedirectPermanent")
        && strcasecmp(dir, "RedirectTemp"))
        return;
    if (alias_in_condition(stack, &cond)) {
        imp_skip(im, line, "inside <%s>: a condition rules cannot express",
                 cond);
        return;
    }
    alias_redirect(im, line, dir, arg, nargs);
}

static void import_alias(importer *im, char *buf, size_t len)
{
    char *s = buf, *line;
    unsigned n = 0, first = 0;
    char *joined = NULL;
    apr_array_header_t *stack = apr_array_make(im->p, 4, sizeof(char *));
    apr_pool_t *iter;
    apr_pool_create(&iter, im->p);
    while ((line = next_line(&s, buf + len))) {
        size_t l;
        n++;
        /* httpd joins a line ending in a backslash with the next. */
        l = strlen(line);
        if (l > 0 && line[l - 1] == '\\' && !(l > 1 && line[l - 2] == '\\')) {
            line[l - 1] = '\0';
            if (!joined)
                first = n;
            joined = joined ? apr_pstrcat(im->p, joined, line, NULL)
                            : apr_pstrdup(im->p, line);
            continue;
        }
        if (joined) {
            line = apr_pstrcat(im->p, joined, line, NULL);
            joined = NULL;
        }
        else {
            first = n;
        }
        line = trim(line);
        if (!*line || *line == '#')
            continue;
        alias_line(im, first, line, stack);
    }
    apr_pool_destroy(iter);
}

/* -- nginx -- */

typedef struct {
    const char *s;
    unsigned line;
    int quoted;
    char punct;                 /* ';', '{', '}' or 0 for a word */
} ngx_tok;

static apr_array_header_t *ngx_tokenize(apr_pool_t *p, const char *b,
                                        size_t len)
{
    apr_array_header_t *toks = apr_array_make(p, 256, sizeof(ngx_tok));
    size_t i = 0;
    unsigned line = 1;
    while (i < len) {
        ngx_tok *t;
        char c = b[i];
        if (c == '\n') {
            line++;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        if (c == '#') {
            while (i < len && b[i] != '\n')
                i++;
            continue;
        }
        t = apr_array_push(toks);
        t->line = line;
        t->quoted = 0;
        t->punct = 0;
        if (c == ';' || c == '{' || c == '}') {
            t->punct = c;
            t->s = "";
            i++;
        }
        else if (c == '"' || c == '\'') {
            char *out = apr_palloc(p, len - i), *o = out;
            i++;
            while (i < len && b[i] != c) {
                if (b[i] == '\\' && i + 1 < len) {
                    char e = b[++i];
                    *o++ = e == 't' ? '\t' : e == 'n' ? '\n'
                         : e == 'r' ? '\r' : e;
                    if (e == '\\' || e == c || e == 't' || e == 'n'
                        || e == 'r') {
                        i++;
                        continue;
                    }
                    o[-1] = '\\';
                    *o++ = e;
                    i++;
                    continue;
                }
                if (b[i] == '\n')
                    line++;
                *o++ = b[i++];
            }
            *o = '\0';
            i++;
            t->s = out;
            t->quoted = 1;
        }
        else {
            size_t j = i;
            while (j < len && !strchr(" \t\r\n;{}", b[j]))
                j++;
            t->s = apr_pstrmemdup(p, b + i, j - i);
            i = j;
        }
    }
    return toks;
}

/* Statuses of `return CODE ...$var...` and `rewrite ... $var flag` lines:
 * which status each map variable is answered with (-1: several). */
static apr_hash_t *ngx_var_statuses(apr_pool_t *p,
                                    const apr_array_header_t *toks)
{
    apr_hash_t *h = apr_hash_make(p);
    int k, start = 0;
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    for (k = 0; k < toks->nelts; k++) {
        int n = k - start, st = 0, j;
        const char *var = NULL;
        if (!t[k].punct)
            continue;
        if (t[k].punct == ';' && n >= 3 && !strcmp(t[start].s, "return")
            && (st = parse_status(t[start + 1].s, 0)))
            var = t[start + 2].s;
        else if (t[k].punct == ';' && n == 4
                 && !strcmp(t[start].s, "rewrite")) {
            st = !strcmp(t[start + 3].s, "permanent") ? 301
               : !strcmp(t[start + 3].s, "redirect") ? 302 : 0;
            var = t[start + 2].s;
        }
        if (st && var) {
            for (j = 0; var[j]; j++) {
                size_t vl;
                const void *old;
                if (var[j] != '$')
                    continue;
                vl = strspn(var + j + 1, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") + 1;
                old = apr_hash_get(h, var + j, (apr_ssize_t)vl);
                apr_hash_set(h, apr_pstrmemdup(p, var + j, vl),
                             (apr_ssize_t)vl,
                             (void *)(intptr_t)(old && (intptr_t)old
                                                    != st ? -1 : st));
            }
        }
        start = k + 1;
    }
    return h;
}

static void ngx_entry(importer *im, const ngx_tok *t, int n, int raw,
                      int status)
{
    const char *key = t[0].s, *val;
    unsigned line = t[0].line;
    if (!t[0].quoted && (!strcmp(key, "default") || !strcmp(key, "hostnames")
                         || !strcmp(key, "volatile")))
        return;
    if (!t[0].quoted && !strcmp(key, "include")) {
        imp_skip(im, line, "include %s: not followed; import that file too",
                 n > 1 ? t[1].s : "");
        return;
    }
    if (n != 2) {
        imp_skip(im, line, "expected 'SOURCE TARGET;' (%d words)", n);
        return;
    }
    val = t[1].s;
    if (key[0] == '~') {
        imp_skip(im, line, "'%s' is a regular expression", key);
        return;
    }
    if (key[0] == '\\')
        key++;
    if (key[0] != '/') {
        imp_skip(im, line, "'%s' is not a path", key);
        return;
    }
    if (strchr(val, '$')) {
        imp_skip(im, line, "target '%s' uses nginx variables", val);
        return;
    }
    if (!*val) {
        imp_skip(im, line, "empty target");
        return;
    }
    if (!is_url_or_path(val)) {
        imp_skip(im, line, "'%s' is neither an absolute URL nor a path", val);
        return;
    }
    imp_emit(im, line, escape_field(im->p, key, strlen(key), raw, 1),
             escape_field(im->p, val, strlen(val), 1, 0), status, "nocase");
}

static void import_nginx(importer *im, char *buf, size_t len)
{
    apr_array_header_t *toks = ngx_tokenize(im->p, buf, len);
    apr_hash_t *statuses = ngx_var_statuses(im->p, toks);
    const ngx_tok *t = (const ngx_tok *)toks->elts;
    int k = 0, start = 0;
    while (k < toks->nelts) {
        int n = k - start, raw, status, end;
        const char *src, *dst;
        intptr_t st;
        if (!t[k].punct) {
            k++;
            continue;
        }
        if (t[k].punct != '{' || n != 3 || strcmp(t[start].s, "map")) {
            start = ++k;
            continue;
        }
        src = t[start + 1].s;
        dst = t[start + 2].s;
        for (end = k + 1; end < toks->nelts && t[end].punct != '}'; end++)
            ;
        if (strcmp(src, "$uri") && strcmp(src, "$request_uri")) {
            imp_note(im, t[start].line, "map %s %s: not a map of paths, "
                     "ignored", src, dst);
            start = k = end + 1;
            continue;
        }
        raw = !strcmp(src, "$request_uri");
        st = (intptr_t)apr_hash_get(statuses, dst, APR_HASH_KEY_STRING);
        status = st > 0 ? (int)st : im->a->import_status;
        if (st < 0)
            imp_note(im, t[start].line, "%s is answered with several "
                     "statuses; using %s", dst, status
                     ? apr_itoa(im->p, status) : "Redirect307Default");
        else if (!st && !status)
            imp_note(im, t[start].line, "no 'return CODE %s' found: rules "
                     "get Redirect307Default (give --status)", dst);
        {
            int e = k + 1, s0 = k + 1;
            for (; e < end; e++) {
                if (t[e].punct == ';') {
                    if (e > s0)
                        ngx_entry(im, t + s0, e - s0, raw, status);
                    s0 = e + 1;
                }
                else if (t[e].punct == '{') {
                    imp_skip(im, t[e].line, "unexpected '{' in map");
                    s0 = e + 1;
                }
            }
            if (s0 < end)
                imp_skip(im, t[s0].line, "entry without ';'");
        }
        start = k = end + 1;
    }
}

/* -- CSV (WordPress Redirection) -- */

/* Parses one CSV record starting at *s; fields are pool strings.  Counts
 * the lines it spans in *lines. */
static apr_array_header_t *csv_record(apr_pool_t *p, char **s,
                                      const char *end, char sep,
                                      unsigned *lines)
{
    apr_array_header_t *f = apr_array_make(p, 10, sizeof(char *));
    char *c = *s;
    *lines = 1;
    for (;;) {
        char *out = apr_palloc(p, (size_t)(end - c) + 1), *o = out;
        if (c < end && *c == '"') {
            c++;
            while (c < end) {
                if (*c == '"' && c + 1 < end && c[1] == '"') {
                    *o++ = '"';
                    c += 2;
                }
                else if (*c == '"') {
                    c++;
                    break;
                }
                else {
                    if (*c == '\n')
                        (*lines)++;
                    *o++ = *c++;
                }
            }
        }
        while (c < end && *c != sep && *c != '\n')
            *o++ = *c++;
        if (o > out && o[-1] == '\r' && (c >= end || *c == '\n'))
            o--;
        *o = '\0';
        APR_ARRAY_PUSH(f, char *) = trim(out);
        if (c < end && *c == sep) {
            c++;
            continue;
        }
        if (c < end)
            c++;        /* the '\n' */
        break;
    }
    *s = c;
    return f;
}

static char csv_separator(const char *b, size_t len)
{
    const char *nl = memchr(b, '\n', len);
    size_t n = nl ? (size_t)(nl - b) : len, i;
    int counts[3] = { 0, 0, 0 }, q = 0;
    for (i = 0; i < n; i++) {
        if (b[i] == '"')
            q = !q;
        else if (!q)
            counts[0] += b[i] == ',', counts[1] += b[i] == ';',
            counts[2] += b[i] == '|';
    }
    return counts[0] >= counts[1] && counts[0] >= counts[2] ? ','
         : counts[1] >= counts[2] ? ';' : '|';
}

enum { COL_SOURCE, COL_TARGET, COL_REGEX, COL_CODE, COL_TYPE, COL_STATUS,
       COL_MATCH, COL_N };

static const char *csv_field(const apr_array_header_t *f, const int *col,
                             int which)
{
    return col[which] >= 0 && col[which] < f->nelts
           ? APR_ARRAY_IDX(f, col[which], const char *) : NULL;
}

static void csv_row(importer *im, unsigned line, const apr_array_header_t *f,
                    const int *col)
{
    const char *src = csv_field(f, col, COL_SOURCE);
    const char *tgt = csv_field(f, col, COL_TARGET);
    const char *regex = csv_field(f, col, COL_REGEX);
    const char *code = csv_field(f, col, COL_CODE);
    const char *type = csv_field(f, col, COL_TYPE);
    const char *state = csv_field(f, col, COL_STATUS);
    const char *match = csv_field(f, col, COL_MATCH);
    int status;

    if (f->nelts == 1 && !*APR_ARRAY_IDX(f, 0, const char *))
        return;     /* blank line */
    if (!src || !*src) {
        imp_skip(im, line, "no source");
        return;
    }
    if (state && (!strcasecmp(state, "disabled")
                  || !strcasecmp(state, "inactive"))) {
        imp_note(im, line, "'%s' is disabled in WordPress: skipped", src);
        return;
    }
    if (regex ? atoi(regex) == 1 : strpbrk(src, "()[]$^*") != NULL) {
        imp_skip(im, line, "'%s' is a regular expression", src);
        return;
    }
    if (match && *match && strcasecmp(match, "url")) {
        imp_skip(im, line, "match '%s' is a condition rules cannot express",
                 match);
        return;
    }
    if (type && *type && strcasecmp(type, "url") && strcasecmp(type, "error")) {
        imp_skip(im, line, "action '%s' is not a redirect", type);
        return;
    }
    status = code && *code ? atoi(code) : im->a->import_status;
    if (code && *code && !parse_status(code, 1)) {
        imp_skip(im, line, "status %s (rules take 301, 302, 303, 307, 308 or "
                 "410)", code);
        return;
    }
    if (src[0] != '/') {
        imp_skip(im, line, "source '%s' is not a path", src);
        return;
    }
    if (status == 410) {
        imp_emit(im, line, escape_field(im->p, src, strlen(src), 1, 1), "-",
                 410, NULL);
        return;
    }
    if (!tgt || !*tgt) {
        imp_skip(im, line, "no target");
        return;
    }
    if (!is_url_or_path(tgt)) {
        imp_skip(im, line, "'%s' is neither an absolute URL nor a path", tgt);
        return;
    }
    imp_emit(im, line, escape_field(im->p, src, strlen(src), 1, 1),
             escape_field(im->p, tgt, strlen(tgt), 1, 0), status, NULL);
}

static void import_csv(importer *im, char *buf, size_t len)
{
    static const char *const names[COL_N] = {
        "source", "target", "regex", "code", "type", "status", "match"
    };
    char sep, *s = buf;
    const char *end = buf + len;
    int col[COL_N], k, j;
    unsigned line = 1, span;
    apr_array_header_t *f;
    apr_pool_t *iter;

    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        s += 3;     /* a BOM, as spreadsheets write */
    sep = csv_separator(s, (size_t)(end - s));
    for (k = 0; k < COL_N; k++)
        col[k] = k <= COL_CODE ? k : -1;
    f = csv_record(im->p, &s, end, sep, &span);
    for (k = 0; k < f->nelts; k++) {
        if (!strcasecmp(APR_ARRAY_IDX(f, k, const char *), "source"))
            break;
    }
    if (k < f->nelts) {
        for (j = 0; j < COL_N; j++)
            col[j] = -1;
        for (k = 0; k < f->nelts; k++) {
            const char *h = APR_ARRAY_IDX(f, k, const char *);
            for (j = 0; j < COL_N; j++) {
                if (!strcasecmp(h, names[j])
                    || (j == COL_TARGET && !strcasecmp(h, "destination"))
                    || (j == COL_CODE && !strcasecmp(h, "action_code"))
                    || (j == COL_TYPE && !strcasecmp(h, "action_type"))
                    || (j == COL_MATCH && !strcasecmp(h, "match_type")))
                    col[j] = col[j] < 0 ? k : col[j];
            }
        }
        if (col[COL_TARGET] < 0) {
            imp_skip(im, line, "header has no 'target' column");
            return;
        }
        line += span;
    }
    else {
        s = buf + (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0);
    }
    apr_pool_create(&iter, im->p);
    while (s < end) {
        f = csv_record(iter, &s, end, sep, &span);
        csv_row(im, line, f, col);
        line += span;
        apr_pool_clear(iter);
    }
    apr_pool_destroy(iter);
}

/* -- checking and writing the result -- */

/* Builds the kept rules into a set, as `check` would load the output.
 * Loops drop their first rule and the build is retried. */
static void imp_validate(importer *im)
{
    apr_hash_t *by_origin = apr_hash_make(im->p);
    const apr_array_header_t *hosts = im->a->hosts->nelts ? im->a->hosts
                                                          : NULL;
    rr_options opt;
    int k, round;

    memset(&opt, 0, sizeof(opt));
    /* Each rule alone first: a line the engine refuses is not converted. */
    {
        apr_pool_t *tmp;
        rr_builder *b;
        rr_diag *d;
        apr_pool_create(&tmp, im->p);
        b = rr_builder_create(tmp, &opt);
        d = rr_diag_create(tmp);
        for (k = 0; k < im->rules->nelts; k++) {
            imp_rule *r = &APR_ARRAY_IDX(im->rules, k, imp_rule);
            if (rr_builder_add_line(b, r->file, r->line, r->text,
                                    strlen(r->text), d) != APR_SUCCESS) {
                const char *msg = rr_diag_get(d, d->entries->nelts - 1)
                                  ->message;
                const char *why = strstr(msg, ": ");
                fprintf(stderr, "%s:%u: not converted: %s ('%s')\n",
                        r->file, r->line, why ? why + 2 : msg, r->text);
                r->dropped = 1;
                im->skipped++;
            }
            apr_hash_set(by_origin, apr_psprintf(im->p, "%s:%u", r->file,
                                                 r->line),
                         APR_HASH_KEY_STRING, r);
        }
        apr_pool_destroy(tmp);
    }
    for (round = 0; round < 1000; round++) {
        apr_pool_t *tmp;
        rr_builder *b;
        rr_diag *d;
        rr_table *t;
        rr_set *set;
        int again = 0;
        apr_pool_create(&tmp, im->p);
        b = rr_builder_create(tmp, &opt);
        d = rr_diag_create(tmp);
        d->max_errors = 1000000;
        for (k = 0; k < im->rules->nelts; k++) {
            imp_rule *r = &APR_ARRAY_IDX(im->rules, k, imp_rule);
            if (!r->dropped)
                rr_builder_add_line(b, r->file, r->line, r->text,
                                    strlen(r->text), d);
        }
        t = rr_builder_freeze(b, tmp, d);
        set = rr_set_create(tmp, 1);
        if (t) {
            rr_set_add(set, t);
            rr_set_check(set, hosts, RR_CHAINS_WARN, d);
        }
        /* warnings first, as check prints them */
        for (k = 0; k < 2 * d->entries->nelts; k++) {
            const rr_diag_entry *e = rr_diag_get(d, k % d->entries->nelts);
            imp_rule *r;
            if (rr_diag_is_error(e->kind) != (k >= d->entries->nelts))
                continue;
            if (e->kind == RR_DIAG_CHAIN && round == 0)
                fprintf(stderr, "%s: note: redirect chain, kept (check "
                        "will warn): %s\n", place_text(tmp, &e->places[0]),
                        places_text(tmp, e));
            if (e->kind != RR_DIAG_DUPLICATE && e->kind != RR_DIAG_LOOP)
                continue;
            r = apr_hash_get(by_origin, place_text(tmp, &e->places[0]),
                             APR_HASH_KEY_STRING);
            if (!r || r->dropped)
                continue;
            r->dropped = 1;
            if (e->kind == RR_DIAG_DUPLICATE) {
                fprintf(stderr, "%s:%u: note: duplicate source, dropped: the "
                        "first definition (%s) wins, as it did before\n",
                        r->file, r->line, place_text(tmp, &e->places[1]));
                continue;
            }
            im->skipped++;
            again = 1;
            fprintf(stderr, "%s:%u: not converted: redirect loop: %s\n",
                    r->file, r->line, places_text(tmp, e));
        }
        apr_pool_destroy(tmp);
        if (!again)
            break;
    }
}

static int cmd_import(apr_pool_t *p, const cli_args *a)
{
    importer im;
    int k, written = 0;

    memset(&im, 0, sizeof(im));
    im.p = p;
    im.a = a;
    im.rules = apr_array_make(p, 1024, sizeof(imp_rule));
    for (k = 0; k < a->files->nelts; k++) {
        char *buf;
        size_t len;
        im.file = APR_ARRAY_IDX(a->files, k, const char *);
        im.vhost_line = 0;
        if (!read_all(p, im.file, &buf, &len))
            return EXIT_USAGE;
        if (!strcmp(a->from, "alias"))
            import_alias(&im, buf, len);
        else if (!strcmp(a->from, "nginx"))
            import_nginx(&im, buf, len);
        else
            import_csv(&im, buf, len);
    }
    imp_validate(&im);
    printf("# redirect307 rules imported from %s (--from %s)\n",
           a->files->nelts == 1 ? APR_ARRAY_IDX(a->files, 0, const char *)
                                : "several files", a->from);
    for (k = 0; k < im.rules->nelts; k++) {
        const imp_rule *r = &APR_ARRAY_IDX(im.rules, k, imp_rule);
        if (!r->dropped) {
            puts(r->text);
            written++;
        }
    }
    fflush(stdout);
    fprintf(stderr, "redirect307: %d %s written, %d %s not converted\n",
            written, plural(written, "rule", "rules"), im.skipped,
            plural(im.skipped, "entry", "entries"));
    return im.skipped ? EXIT_FAIL : EXIT_OK;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    cli_args a;
    int rc;

    if (argc < 2) {
        fputs(help_main, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")
        || !strcmp(argv[1], "help")) {
        fputs(help_main, stdout);
        return EXIT_OK;
    }
    memset(&a, 0, sizeof(a));
    if (!strcmp(argv[1], "check"))
        a.cmd = CMD_CHECK;
    else if (!strcmp(argv[1], "test"))
        a.cmd = CMD_TEST;
    else if (!strcmp(argv[1], "import"))
        a.cmd = CMD_IMPORT;
    else {
        say("unknown command '%s'", argv[1]);
        fputs(help_main, stderr);
        return EXIT_USAGE;
    }
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    rc = parse_args(argc, argv, p, &a);
    if (rc < 0) {
        rc = a.cmd == CMD_CHECK ? cmd_check(p, &a)
           : a.cmd == CMD_TEST ? cmd_test(p, &a) : cmd_import(p, &a);
    }
    fflush(stdout);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
