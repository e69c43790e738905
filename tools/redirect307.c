/*
 * redirect307.c - the redirect307 command line: usage texts, parsing the
 * arguments and dispatching to the command.  The commands live in
 * cmd_check.c, cmd_test.c, cmd_import.c, cmd_export.c and cmd_prune.c.
 *
 *   redirect307 check  [OPTIONS] FILE...
 *   redirect307 test   [OPTIONS] FILE... [--] URL...
 *   redirect307 import --from FORMAT FILE...
 *       (alias, rewrite, rewritemap, nginx, haproxy, netlify, cloudflare,
 *       csv)
 *   redirect307 export --to nginx|haproxy|csv [--map-out PATH] FILE...
 *   redirect307 prune  --stats FILE|URL --unused-for DURATION [--expired]
 *                      FILE...
 *
 * Exit status, the same for every command: 0 fine, 1 problems found (an
 * error in a rules file, a failed expectation, a bad line in a list of
 * URLs or expectations, an input line not imported, a rule not exported),
 * 2 bad usage or an unreadable file.  A FILE '-' is stdin, for every
 * command.  Results go to stdout, diagnostics to stderr, with bytes that
 * could act on a terminal shown escaped (\xNN).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_strings.h"

#include "cli.h"
#include "cli_util.h"

/* parse_args() and its steps return an exit status, or these. */
#define ARGS_GO_ON   (-1)       /* parsed: run the command */
#define ARGS_OPERAND (-2)       /* not an option: a file or URL */

/* ---- usage ------------------------------------------------------------ */

static const char help_main[] =
    "usage: redirect307 check  [OPTIONS] FILE...\n"
    "       redirect307 test   [OPTIONS] FILE... [--] URL...\n"
    "       redirect307 import --from FORMAT [OPTIONS] FILE...\n"
    "       redirect307 export --to nginx|haproxy|csv [OPTIONS] FILE...\n"
    "       redirect307 prune  --stats FILE|URL --unused-for DURATION\n"
    "                          [--expired] [OPTIONS] FILE...\n"
    "       redirect307 COMMAND --help\n"
    "\n"
    "check   validates rules files as httpd would load them; prints a summary\n"
    "test    prints the status and Location httpd would answer for URLs\n"
    "import  converts redirects into the rules format, on stdout; FORMAT:\n"
    "        alias (mod_alias), rewrite (mod_rewrite), rewritemap (RewriteMap\n"
    "        txt:), nginx (map), haproxy (map), netlify (_redirects),\n"
    "        cloudflare (Bulk Redirects CSV), csv (WordPress Redirection)\n"
    "export  writes rules as nginx or HAProxy configuration, or as\n"
    "        WordPress Redirection CSV, answering as httpd would\n"
    "prune   removes the rules httpd's hit counts say nobody uses any more\n"
    "\n"
    "A FILE '-' reads stdin.  Messages show control bytes and the like\n"
    "escaped (\\xNN).\n"
    "Exit status: 0 ok, 1 problems found (errors, failed expectations, bad\n"
    "lines, lines not converted), 2 bad usage or an unreadable file.\n"
    "See redirect307(1).\n";

static const char help_check[] =
    "usage: redirect307 check [OPTIONS] FILE...\n"
    "\n"
    "Loads the rules files, in order, as one server's Redirect307Map lines\n"
    "would (FILE '-': stdin), and prints httpd's errors and warnings\n"
    "(FILE:LINE: reason) on stderr and a one-line summary on stdout: rules\n"
    "by kind and status, redirect chains, duplicates, parse time and table\n"
    "memory.  As httpd, it lists at most 20 errors and 1000 warnings and\n"
    "stops reading a file at its 20th error; it says so when it does.\n"
    "\n"
    "options (each as the directive named):\n"
    "  --case-insensitive          Redirect307MatchCase Off\n"
    "  --trailing-slash MODE       Redirect307TrailingSlash ignore|strict\n"
    "  --chains MODE               Redirect307Chains warn|collapse|off (warn)\n"
    "  --host NAME                 ServerName/ServerAlias (repeatable, wildcards\n"
    "                              allowed): absolute targets on NAME count\n"
    "                              for chains and loops\n"
    "  --default STATUS            Redirect307Default: 301 302 303 307 308\n"
    "  --ignore-params LIST        Redirect307IgnoreParams: names, NAME*, default\n"
    "                              or none, separated by commas (default: the\n"
    "                              built-in tracking list)\n"
    "  --at TIME                   evaluate rule windows (from=, until=) at TIME\n"
    "                              instead of now (2026-12-01T09:30:00Z)\n"
    "  --soon DAYS                 list rules whose until= falls within DAYS\n"
    "                              (default 14) on stderr as notes\n"
    "  --json                      print the diagnostics and the summary as one\n"
    "                              JSON document on stdout, for scripts, and\n"
    "                              nothing on stderr (see redirect307(1))\n"
    "  --compile DIR               if the files load, also write each one's\n"
    "                              compiled table into DIR (Redirect307CacheDir,\n"
    "                              /var/cache/apache2/mod_redirect307 by default)\n"
    "                              where httpd maps it instead of parsing the\n"
    "                              file; FILE as Redirect307Map names it\n"
    "                              (absolute), with the same options\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 the files load (warnings allowed), 1 httpd would refuse\n"
    "to start (a malformed line, a redirect loop), 2 bad usage, an\n"
    "unreadable file or a compiled table that cannot be written.\n";

static const char help_test[] =
    "usage: redirect307 test [OPTIONS] FILE... [--] [URL...|-]\n"
    "\n"
    "Loads the rules files as 'check' does (and fails as it does; a first\n"
    "FILE '-' reads the rules from stdin), then prints one tab-separated\n"
    "line per URL:\n"
    "  URL  STATUS  LOCATION  FILE:LINE     a rule answers (LOCATION '-' for 410)\n"
    "  URL  no match                        httpd serves it as without the module\n"
    "  URL  rejected by httpd (400|404): why\n"
    "                                       httpd answers before the module runs\n"
    "\n"
    "A URL is http[s]://host[:port]/path?query (its scheme and host select\n"
    "host rules, as httpd's Host header does); after '--' a bare /path?query\n"
    "is accepted too (host rules then never answer), and path targets are\n"
    "then printed as paths.  A '-' after the rules files, or no URL and no\n"
    "--expect at all, reads URLs from stdin, one a line (lines over 1 MiB or\n"
    "holding a NUL byte are errors).  stdin is read once: for the rules, the\n"
    "URLs or --expect.  The path is decoded and normalised as httpd builds\n"
    "r->uri: '.' and '..' segments resolved, '//' merged, %XX decoded; %2F\n"
    "(with the default AllowEncodedSlashes Off) and %00 get a 404, a bad\n"
    "%-escape, '..' above the root or a raw space or control byte a 400.  A\n"
    "#fragment is dropped, as clients never send it.\n"
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
    "  --ignore-params LIST        Redirect307IgnoreParams, as for check\n"
    "  --at TIME                   answer as at TIME (rule windows), as for check\n"
    "  --allow-encoded-slashes M   AllowEncodedSlashes off|on|nodecode (off)\n"
    "  --case-insensitive, --trailing-slash MODE, --chains MODE, --host NAME\n"
    "                              as for 'check'\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 ok, 1 a rules file fails to load, an expectation fails,\n"
    "or a line read (stdin, --expect) is no URL or expectation, 2 bad usage\n"
    "(a URL argument that is none), an unreadable file.\n";

static const char help_import[] =
    "usage: redirect307 import --from FORMAT [OPTIONS] FILE...\n"
    "\n"
    "Converts other servers' redirects into rules (SOURCE TARGET [STATUS]) on\n"
    "stdout, so that every request is answered as the old server did;\n"
    "FILE '-' reads stdin.  What cannot be converted is listed on stderr as\n"
    "'FILE:LINE: not converted: why'; what the rules answer otherwise as\n"
    "'FILE:LINE: note: differs: ...'; other remarks as 'FILE:LINE: note:'.\n"
    "A byte order mark is skipped; a line over 1 MiB or holding a NUL byte\n"
    "is not converted.  Every rule written is checked with the engine, so\n"
    "the output loads with 'redirect307 check'.\n"
    "\n"
    "  alias   httpd.conf or .htaccess: Redirect [STATUS] URL-PATH URL,\n"
    "          RedirectPermanent, RedirectTemp (STATUS permanent, temp,\n"
    "          seeother, gone or a number; default 302).  mod_alias matches a\n"
    "          prefix on segment boundaries and appends the rest of the path\n"
    "          to the URL, so 'Redirect /a http://x/b' becomes\n"
    "          '/a/* http://x/b* 302' (/a -> http://x/b, /a/c -> .../b/c).\n"
    "          A Redirect that an earlier one shadows is dropped (mod_alias\n"
    "          takes the first match).  Not converted: RedirectMatch and\n"
    "          RewriteRule [R] (regexes), lines inside <If>, <Location>,\n"
    "          <Files> and similar (conditions), other statuses, URLs with\n"
    "          a #fragment, paths below a URL-path whose URL has a query,\n"
    "          unknown directives that look like misspelt redirects\n"
    "          ('Redirct').\n"
    "  rewrite httpd.conf or .htaccess (so named, or holding a RewriteBase):\n"
    "          RewriteRule with a literal pattern, ^/old$ in server context or\n"
    "          ^old$ per directory, also ^old/?$, ^old/(.*)$ and ^old(/.*)?$\n"
    "          (prefix rules, $1 at the end of the target's path); flags R,\n"
    "          R=STATUS|permanent|temp|seeother (R alone: 302), G, L, END, NC,\n"
    "          QSA, QSD, NE; an http(s) target without R is a 302; one\n"
    "          RewriteCond %{QUERY_STRING} ^q=1$ (or =q=1) makes a query rule.\n"
    "          RewriteEngine and RewriteBase hold for their whole context.\n"
    "          Not converted: other regexes and conditions, internal rewrites,\n"
    "          RewriteMap lookups, rules an earlier rule may answer first in\n"
    "          mod_rewrite, rules without [L] a later regex may rewrite.\n"
    "          Notes say where a converted rule still answers otherwise.\n"
    "  rewritemap  a RewriteMap txt: file: 'KEY VALUE' lines become exact\n"
    "          rules from the path KEY ('/' prepended if missing, as ^(.*)$\n"
    "          in .htaccess looks keys up) to VALUE, escaped as mod_rewrite\n"
    "          escapes it; status --status, else 302 (what [R] answers).\n"
    "  nginx   map $uri $var { ... } and map $request_uri $var { ... }\n"
    "          blocks: 'SOURCE TARGET;' entries (quotes allowed) become exact,\n"
    "          nocase rules (nginx map keys ignore case), answered as the\n"
    "          'return CODE $var' (query dropped: qsdrop), 'return CODE\n"
    "          $var$is_args$args' or 'rewrite ^ $var permanent|redirect'\n"
    "          (query kept) of the same file does; 'default VALUE' becomes\n"
    "          '/* VALUE'.  Without such a statement the status is --status,\n"
    "          else none (Redirect307Default).  Load $uri maps with\n"
    "          'Redirect307TrailingSlash Strict'.  Not converted: ~regex\n"
    "          entries, targets with $variables, include, maps answered only\n"
    "          inside a location or an if on something else.\n"
    "  haproxy HAProxy map of 'redirect location %[path,map(FILE)]': 'KEY\n"
    "          VALUE' lines become exact rules with qsdrop (HAProxy never\n"
    "          carries the query) and --status, else 302 (HAProxy's default).\n"
    "          Keys are raw paths; not converted: keys no request matches\n"
    "          the same way in httpd ('?', '//', '.', %2F, bad %-escapes).\n"
    "  netlify _redirects: FROM [NAME=VALUE...] TO [STATUS][!]; '/a/*'\n"
    "          (a splat) becomes a prefix rule, :splat ending TO's path\n"
    "          the carried rest; http(s)://HOST/ sources become host rules;\n"
    "          literal NAME=VALUE fields a query rule.  Not converted:\n"
    "          200 (rewrites, proxies), 404, placeholders, conditions\n"
    "          (Country=, Language=, Role=, Cookie=), rules an earlier one\n"
    "          always answers first (Netlify: first match wins).\n"
    "  cloudflare  Bulk Redirects CSV: source_url,target_url,status_code,\n"
    "          preserve_query_string,include_subdomains,subpath_matching,\n"
    "          preserve_path_suffix (or a header naming them); rows become\n"
    "          host rules (include_subdomains: also //*.HOST/path),\n"
    "          subpath_matching prefix rules, preserve_path_suffix a carry,\n"
    "          preserve_query_string FALSE qsdrop.\n"
    "  csv     WordPress Redirection export (source,target,regex,code,type,\n"
    "          hits,title,status, ',' ';' or '|' separated, quoted fields);\n"
    "          without a header the columns are source,target,regex,code.\n"
    "          Not converted: regex=1, codes other than 301 302 303 307 308\n"
    "          410, non-url actions; disabled rows are skipped with a note.\n"
    "\n"
    "options:\n"
    "  --from FORMAT               alias, rewrite, rewritemap, nginx, haproxy,\n"
    "                              netlify, cloudflare or csv (required)\n"
    "  --status STATUS             status for entries that give none (an\n"
    "                              HAProxy map's: its redirect's 'code')\n"
    "  --host NAME                 this site's host name(s), to find loops\n"
    "                              through absolute targets (repeatable);\n"
    "                              rewrite: an http(s) target without R on\n"
    "                              NAME is an internal rewrite\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 everything converted, 1 some lines not converted (the\n"
    "rest is still printed), 2 bad usage or an unreadable file.\n";

static const char help_export[] =
    "usage: redirect307 export --to nginx|haproxy|csv [OPTIONS] FILE...\n"
    "\n"
    "Loads the rules files as 'check' does (and fails as it does; FILE '-'\n"
    "reads stdin), then writes them so that another server answers every\n"
    "request as httpd with mod_redirect307 would.  A rule the format cannot\n"
    "express is listed on stderr as 'FILE:LINE: not exported: why'.\n"
    "\n"
    "  nginx    --map-out FILE gets the maps, for http {} (include it before\n"
    "           other maps); stdout gets the lines for server {}.  Exact\n"
    "           rules are hashed map keys; host, query, qsnone and prefix\n"
    "           rules are PCRE map entries tried in httpd's order.\n"
    "  haproxy  --map-out BASE gets BASE.regex.map, BASE.exact.map,\n"
    "           BASE.exact-nocase.map, BASE.prefix.map and\n"
    "           BASE.prefix-nocase.map (give an absolute BASE); stdout gets\n"
    "           the http-request lines for a frontend in mode http.\n"
    "           Not exported: qsnone and self-canonicalising prefix rules.\n"
    "  csv      WordPress Redirection CSV on stdout, which 'import --from\n"
    "           csv' reads back.  Not exported: prefix rules, host rules,\n"
    "           flags nocase, qsnone, and qsdrop/qsappend where they change\n"
    "           the answer.\n"
    "Query rules repeating a parameter are not exported to nginx or HAProxy.\n"
    "See redirect307(1) for what each export answers differently.\n"
    "\n"
    "options:\n"
    "  --to FORMAT                 nginx, haproxy or csv (required)\n"
    "  --map-out PATH              where the maps go (nginx, haproxy)\n"
    "  --ignore-params WORDS       Redirect307IgnoreParams of the server the\n"
    "                              rules are for (blank- or comma-separated;\n"
    "                              default: default)\n"
    "  --default STATUS            Redirect307Default: 301 302 303 307 308\n"
    "  --case-insensitive, --trailing-slash MODE, --chains MODE, --host NAME\n"
    "                              as for 'check'\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 everything exported, 1 some rules not exported (the\n"
    "rest is still written) or httpd would refuse the rules, 2 bad usage,\n"
    "an unreadable or unwritable file.\n";

static const char help_prune[] =
    "usage: redirect307 prune --stats FILE|URL --unused-for DURATION\n"
    "                         [--expired] [OPTIONS] FILE...\n"
    "       redirect307 prune --expired [OPTIONS] FILE...\n"
    "\n"
    "Loads the rules files as 'check' does, reads the hit history httpd\n"
    "keeps (the Redirect307StatsFile, or http://HOST/LOCATION of a\n"
    "redirect307-status handler, which answers ?stats), and writes the rules\n"
    "file to stdout without the rules not hit within DURATION: every other\n"
    "line (comments, blank lines, rules) byte for byte.  Each removed rule\n"
    "is reported on stderr as\n"
    "  FILE:LINE: removed: last hit 2025-01-31T09:30:00Z   (or: never hit)\n"
    "  FILE:LINE: removed: expired at TIME (until=), last hit ...\n"
    "then a summary line.\n"
    "\n"
    "A rule the history never saw hit is removed only when both the history\n"
    "(its since=) and the rule's file are older than DURATION: a newer file\n"
    "may hold rules that had no chance to be hit yet.  Such rules are kept\n"
    "and counted in a note on stderr.  A rule whose from= window opened\n"
    "within DURATION is kept too.\n"
    "\n"
    "options:\n"
    "  --stats FILE|URL            the history: a stats file ('-': stdin) or\n"
    "                              the URL of a redirect307-status handler\n"
    "                              (http only; prune asks for URL?stats)\n"
    "  --unused-for DURATION       remove rules not hit within DURATION: a\n"
    "                              number and d (days), w (weeks) or m (months\n"
    "                              of 30 days): 90d, 12w, 6m\n"
    "  --expired                   also remove rules whose until= has passed\n"
    "  --at TIME                   judge as at TIME instead of now\n"
    "  --in-place                  rewrite each FILE that loses rules (the old\n"
    "                              one kept as FILE.bak) instead of writing\n"
    "                              stdout; needed for more than one FILE\n"
    "  --case-insensitive, --trailing-slash MODE\n"
    "                              as for 'check' (how the files load)\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit status: 0 the rules were written (some removed or none), 1 httpd\n"
    "would refuse the rules (nothing written), 2 bad usage, an unreadable\n"
    "file, a malformed stats file or a failed fetch.\n";

typedef struct {
    const char *name;
    cli_cmd cmd;
    const char *help;
    int (*run)(apr_pool_t *p, const cli_args *a);
} command;

/* In cli_cmd order: bad_usage() finds a command's name by its cli_cmd. */
static const command commands[] = {
    { "check", CMD_CHECK, help_check, cmd_check },
    { "test", CMD_TEST, help_test, cmd_test },
    { "import", CMD_IMPORT, help_import, cmd_import },
    { "export", CMD_EXPORT, help_export, cmd_export },
    { "prune", CMD_PRUNE, help_prune, cmd_prune },
    { NULL, CMD_CHECK, NULL, NULL }
};

static const command *find_command(const char *name)
{
    const command *c;
    for (c = commands; c->name; c++) {
        if (!strcmp(c->name, name))
            return c;
    }
    return NULL;
}

/* ---- options ---------------------------------------------------------- */

static int bad_usage(cli_cmd cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Says what is wrong and where help is; returns EXIT_USAGE. */
static int bad_usage(cli_cmd cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("redirect307: ", stderr);
    va_start(ap, fmt);
    cli_vprint_visible(stderr, fmt, ap);   /* it quotes arguments */
    va_end(ap);
    fprintf(stderr, "\n(see 'redirect307 %s --help')\n", commands[cmd].name);
    return EXIT_USAGE;
}

/* Index of `v` in the NULL-terminated `words`, case-blind, or -1. */
static int keyword(const char *v, const char *const *words)
{
    int k;
    for (k = 0; words[k]; k++) {
        if (!strcasecmp(v, words[k]))
            return k;
    }
    return -1;
}

/* Each setter stores an option's value in *a and returns ARGS_GO_ON, or
 * says why the value is wrong and returns EXIT_USAGE. */

static int set_trailing_slash(cli_args *a, const char *v)
{
    static const char *const modes[] = { "ignore", "strict", NULL };
    int k = keyword(v, modes);
    if (k < 0)
        return bad_usage(a->cmd, "--trailing-slash takes ignore or strict, "
                         "not '%s'", v);
    a->opt.trailing_strict = k;
    return ARGS_GO_ON;
}

static int set_chains(cli_args *a, const char *v)
{
    /* in rr_chains_mode order */
    static const char *const modes[] = { "warn", "collapse", "off", NULL };
    int k = keyword(v, modes);
    if (k < 0)
        return bad_usage(a->cmd, "--chains takes warn, collapse or off, "
                         "not '%s'", v);
    a->chains = (rr_chains_mode)k;
    return ARGS_GO_ON;
}

static int set_default(cli_args *a, const char *v)
{
    if (!(a->default_status = cli_parse_status(v, 0)))
        return bad_usage(a->cmd, "--default takes 301, 302, 303, 307 or "
                         "308, not '%s'", v);
    return ARGS_GO_ON;
}

static int set_status(cli_args *a, const char *v)
{
    if (!(a->import_status = cli_parse_status(v, 0)))
        return bad_usage(a->cmd, "--status takes 301, 302, 303, 307 or "
                         "308, not '%s'", v);
    return ARGS_GO_ON;
}

static int set_host(cli_args *a, const char *v)
{
    APR_ARRAY_PUSH(a->hosts, const char *) = v;
    return ARGS_GO_ON;
}

/* Directive words, separated by commas or blanks: "utm_*,gclid", "none". */
static int set_ignore_params(cli_args *a, const char *v)
{
    const char *words[RR_MAX_IGNORE + 1], *err;
    char *copy = apr_pstrdup(a->hosts->pool, v), *last, *w;
    int n = 0;
    for (w = apr_strtok(copy, ", \t", &last); w;
         w = apr_strtok(NULL, ", \t", &last)) {
        if (n == RR_MAX_IGNORE)
            return bad_usage(a->cmd, "--ignore-params names more than %d "
                             "parameters", RR_MAX_IGNORE);
        words[n++] = w;
    }
    if (!(a->ignore = rr_ignore_parse(a->hosts->pool, n, words, &err)))
        return bad_usage(a->cmd, "--ignore-params: %s", n ? err
                         : "give names, NAME*, default or none");
    return ARGS_GO_ON;
}

static int set_at(cli_args *a, const char *v)
{
    if (!rr_time_parse(v, strlen(v), &a->at))
        return bad_usage(a->cmd, "--at takes a time such as 2026-12-01 or "
                         "2026-12-01T09:30:00Z, not '%s'", v);
    return ARGS_GO_ON;
}

static int set_soon(cli_args *a, const char *v)
{
    char *end;
    long days = strtol(v, &end, 10);
    if (!*v || *end || days < 0 || days > 36500)
        return bad_usage(a->cmd, "--soon takes a number of days, not '%s'",
                         v);
    a->soon_days = (int)days;
    return ARGS_GO_ON;
}

static int set_compile(cli_args *a, const char *v)
{
    if (!*v)
        return bad_usage(a->cmd, "--compile takes the cache directory");
    a->compile_dir = v;
    return ARGS_GO_ON;
}

static int set_stats(cli_args *a, const char *v)
{
    if (!strncasecmp(v, "https://", 8))
        return bad_usage(a->cmd, "--stats: https is not supported; give the "
                         "stats file, or an http:// URL (e.g. on the server "
                         "itself: http://127.0.0.1/redirect307-status)");
    a->stats = v;
    return ARGS_GO_ON;
}

static int set_unused_for(cli_args *a, const char *v)
{
    if (!cmd_prune_duration(v, &a->unused))
        return bad_usage(a->cmd, "--unused-for takes a number of days, weeks "
                         "or months (of 30 days), from one day to 100 years: "
                         "90d, 12w, 6m; not '%s'", v);
    a->unused_for = v;
    return ARGS_GO_ON;
}

static int set_expect(cli_args *a, const char *v)
{
    a->expect = v;
    return ARGS_GO_ON;
}

static int set_encoded_slashes(cli_args *a, const char *v)
{
    /* in url_slashes order */
    static const char *const modes[] = { "off", "on", "nodecode", NULL };
    int k = keyword(v, modes);
    if (k < 0)
        return bad_usage(a->cmd, "--allow-encoded-slashes takes off, on "
                         "or nodecode, not '%s'", v);
    a->encoded_slashes = (url_slashes)k;
    return ARGS_GO_ON;
}

static int set_from(cli_args *a, const char *v)
{
    if (!cmd_import_has_format(v))
        return bad_usage(a->cmd, "--from takes alias, rewrite, rewritemap, "
                         "nginx, haproxy, netlify, cloudflare or csv, not "
                         "'%s'", v);
    a->from = v;
    return ARGS_GO_ON;
}

static int set_to(cli_args *a, const char *v)
{
    if (!cmd_export_has_format(v))
        return bad_usage(a->cmd, "--to takes nginx, haproxy or csv, not "
                         "'%s'", v);
    a->to = v;
    return ARGS_GO_ON;
}

static int set_map_out(cli_args *a, const char *v)
{
    a->map_out = v;
    return ARGS_GO_ON;
}

#define FOR_CHECK  (1u << CMD_CHECK)
#define FOR_TEST   (1u << CMD_TEST)
#define FOR_IMPORT (1u << CMD_IMPORT)
#define FOR_EXPORT (1u << CMD_EXPORT)
#define FOR_PRUNE  (1u << CMD_PRUNE)
#define FOR_ALL    (FOR_CHECK | FOR_TEST | FOR_IMPORT | FOR_EXPORT)

/* Options that take a value, and the commands that know them. */
static const struct {
    const char *name;
    unsigned cmds;
    int (*set)(cli_args *a, const char *v);
} value_options[] = {
    { "--trailing-slash", FOR_ALL | FOR_PRUNE, set_trailing_slash },
    { "--chains", FOR_ALL, set_chains },
    { "--default", FOR_CHECK | FOR_TEST | FOR_EXPORT, set_default },
    { "--status", FOR_IMPORT, set_status },
    { "--host", FOR_ALL, set_host },
    { "--ignore-params", FOR_CHECK | FOR_TEST | FOR_EXPORT,
      set_ignore_params },
    { "--at", FOR_CHECK | FOR_TEST | FOR_PRUNE, set_at },
    { "--soon", FOR_CHECK, set_soon },
    { "--compile", FOR_CHECK, set_compile },
    { "--expect", FOR_TEST, set_expect },
    { "--allow-encoded-slashes", FOR_TEST, set_encoded_slashes },
    { "--from", FOR_IMPORT, set_from },
    { "--to", FOR_EXPORT, set_to },
    { "--map-out", FOR_EXPORT, set_map_out },
    { "--stats", FOR_PRUNE, set_stats },
    { "--unused-for", FOR_PRUNE, set_unused_for },
    { NULL, 0, NULL }
};

/* Is `s` the option `name`, alone or as "name=value"? */
static int is_option(const char *s, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(s, name, n) && (s[n] == '\0' || s[n] == '=');
}

/* Sets a flag (an option without a value) that a->cmd knows; 0 if `s`
 * is none. */
static int set_flag(cli_args *a, const char *s)
{
    if (!strcmp(s, "--case-insensitive") && a->cmd != CMD_IMPORT)
        a->opt.case_insensitive = 1;
    else if ((!strcmp(s, "-v") || !strcmp(s, "--verbose"))
             && a->cmd == CMD_TEST)
        a->verbose = 1;
    else if (!strcmp(s, "--json") && a->cmd == CMD_CHECK)
        a->json = 1;
    else if (!strcmp(s, "--expired") && a->cmd == CMD_PRUNE)
        a->expired = 1;
    else if (!strcmp(s, "--in-place") && a->cmd == CMD_PRUNE)
        a->in_place = 1;
    else
        return 0;
    return 1;
}

/* Handles the option at argv[*i], "--opt value" taking the next argument
 * too.  Returns ARGS_GO_ON, ARGS_OPERAND or an exit status. */
static int parse_option(int argc, const char *const *argv, int *i,
                        cli_args *a)
{
    const char *s = argv[*i], *v;
    int k;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
        fputs(commands[a->cmd].help, stdout);
        return EXIT_OK;
    }
    if (set_flag(a, s))
        return ARGS_GO_ON;
    for (k = 0; value_options[k].name; k++) {
        const char *name = value_options[k].name;
        if (!is_option(s, name))
            continue;
        if (s[strlen(name)] == '=')
            v = s + strlen(name) + 1;
        else if (*i + 1 < argc)
            v = argv[++*i];
        else
            return bad_usage(a->cmd, "%s needs a value", s);
        if (!(value_options[k].cmds & (1u << a->cmd)))
            return bad_usage(a->cmd, "unknown option %s", s);
        return value_options[k].set(a, v);
    }
    if (s[0] == '-' && s[1])
        return bad_usage(a->cmd, "unknown option %s", s);
    return ARGS_OPERAND;
}

/* An export needs a format, and --map-out exactly for those that write
 * maps. */
static int check_export_args(const cli_args *a)
{
    if (!a->to)
        return bad_usage(a->cmd, "--to nginx|haproxy|csv is required");
    if (cmd_export_needs_map_out(a->to) && !a->map_out)
        return bad_usage(a->cmd, "--to %s needs --map-out PATH for its maps "
                         "(the other lines go to stdout)", a->to);
    if (!cmd_export_needs_map_out(a->to) && a->map_out)
        return bad_usage(a->cmd, "--to %s writes no maps: no --map-out",
                         a->to);
    return ARGS_GO_ON;
}

static int count_stdin(const apr_array_header_t *names)
{
    int k, n = 0;
    for (k = 0; k < names->nelts; k++)
        n += !strcmp(APR_ARRAY_IDX(names, k, const char *), "-");
    return n;
}

/* Who reads stdin ('-'): rules or input files, test's URLs (also when no
 * URL and no --expect is given) and --expect.  It can be read once. */
static int check_stdin(const cli_args *a)
{
    int files = count_stdin(a->files), urls = count_stdin(a->urls);
    int expect = a->expect && !strcmp(a->expect, "-");
    if (a->cmd == CMD_TEST && a->urls->nelts == 0 && !a->expect)
        urls = 1;
    if (files + urls + expect <= 1)
        return ARGS_GO_ON;
    return bad_usage(a->cmd, "stdin ('-') can be read only once: %s",
                     files > 1 ? "it is named twice"
                     : files && urls ? "it cannot hold both rules and URLs "
                                       "(give the URLs after '--')"
                     : files ? "it cannot hold both rules and expectations"
                     : "it cannot hold both URLs and expectations");
}


/* What prune's options cannot say alone. */
static int check_prune_args(const cli_args *a)
{
    int k, stdin_files = 0;
    for (k = 0; k < a->files->nelts; k++)
        stdin_files |= !strcmp(APR_ARRAY_IDX(a->files, k, const char *), "-");
    if (!a->unused_for && !a->expired)
        return bad_usage(a->cmd, "give --unused-for DURATION, --expired, "
                         "or both");
    if (a->unused_for && !a->stats)
        return bad_usage(a->cmd, "--unused-for needs the hit history: "
                         "--stats FILE|URL");
    if (a->files->nelts > 1 && !a->in_place)
        return bad_usage(a->cmd, "prune writes one rules file to stdout: "
                         "give one FILE, or --in-place");
    if (stdin_files && a->in_place)
        return bad_usage(a->cmd, "--in-place cannot rewrite stdin");
    if (stdin_files && a->stats && !strcmp(a->stats, "-"))
        return bad_usage(a->cmd, "stdin cannot hold both rules and stats");
    return ARGS_GO_ON;
}

/* What the options cannot say alone. */
static int check_args(const cli_args *a)
{
    if (a->files->nelts == 0)
        return bad_usage(a->cmd, a->cmd == CMD_IMPORT ? "no input file given"
                                                     : "no rules file given");
    if (a->cmd == CMD_IMPORT && !a->from)
        return bad_usage(a->cmd, "--from alias|rewrite|rewritemap|nginx|"
                         "haproxy|netlify|cloudflare|csv is required");
    if (a->cmd == CMD_EXPORT && check_export_args(a) != ARGS_GO_ON)
        return EXIT_USAGE;
    if (a->cmd == CMD_PRUNE && check_prune_args(a) != ARGS_GO_ON)
        return EXIT_USAGE;
    if (a->compile_dir) {
        int k;
        for (k = 0; k < a->files->nelts; k++) {
            const char *f = APR_ARRAY_IDX(a->files, k, const char *);
            /* httpd finds an image by the map's path as configured */
            if (f[0] != '/')
                return bad_usage(a->cmd, "--compile: give '%s' as "
                                 "Redirect307Map names it, an absolute path",
                                 f);
        }
    }
    return check_stdin(a);
}

/* Fills *a from argv[2...]; returns ARGS_GO_ON or an exit status (help
 * printed: EXIT_OK). */
static int parse_args(int argc, const char *const *argv, apr_pool_t *p,
                      cli_args *a)
{
    int i, rc, after_dashes = 0;

    a->default_status = CLI_DEFAULT_STATUS;
    a->soon_days = 14;
    a->hosts = apr_array_make(p, 2, sizeof(const char *));
    a->files = apr_array_make(p, 4, sizeof(const char *));
    a->urls = apr_array_make(p, 4, sizeof(const char *));
    for (i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (after_dashes) {
            APR_ARRAY_PUSH(a->urls, const char *) = s;
            continue;
        }
        if (!strcmp(s, "--") && a->cmd == CMD_TEST) {
            after_dashes = 1;
            continue;
        }
        if ((rc = parse_option(argc, argv, &i, a)) != ARGS_OPERAND) {
            if (rc != ARGS_GO_ON)
                return rc;
            continue;
        }
        /* Before "--", test tells URLs from rules files by their "://";
         * a '-' is the URL list, unless no rules file is given yet. */
        if (a->cmd == CMD_TEST && (strstr(s, "://")
                                   || (!strcmp(s, "-") && a->files->nelts)))
            APR_ARRAY_PUSH(a->urls, const char *) = s;
        else
            APR_ARRAY_PUSH(a->files, const char *) = s;
    }
    if (!a->ignore) {
        static const char *const builtin[] = { "default" };
        const char *err;
        a->ignore = rr_ignore_parse(p, 1, builtin, &err);
    }
    return check_args(a);
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    cli_args a;
    const command *c;
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
    if (!(c = find_command(argv[1]))) {
        cli_say("unknown command '%s'", argv[1]);
        fputs(help_main, stderr);
        return EXIT_USAGE;
    }
    memset(&a, 0, sizeof(a));
    a.cmd = c->cmd;
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    rc = parse_args(argc, argv, p, &a);
    if (rc == ARGS_GO_ON)
        rc = c->run(p, &a);
    fflush(stdout);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
