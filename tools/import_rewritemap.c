/*
 * import_rewritemap.c - `import --from rewritemap`: a RewriteMap txt:
 * file, the "KEY VALUE" lines of a map used as
 *
 *     RewriteMap moved "txt:/etc/apache2/moved.map"
 *     RewriteRule ^(.*)$ ${moved:$1} [R=301,L]
 *
 * Each entry becomes an exact rule from the path KEY to VALUE.  The map is
 * read as mod_rewrite's lookup_map_txtfile() reads it: a line starting
 * with '#' or a blank is skipped, KEY ends at the first blank, VALUE is
 * the next word and the rest of the line is ignored; of a KEY given twice
 * the first line answers.
 *
 * The map holds no status and no RewriteRule, so this reader decides:
 * - KEY is looked up with the decoded path: server context's ^(.*)$ gives
 *   "/old", an .htaccess ^(.*)$ or ^/(.*)$ gives "old".  Both forms are
 *   taken as the URL-path /old; a '%' in a key is a literal '%'.
 * - VALUE is the substitution: escaped as mod_rewrite escapes it without
 *   [NE] (the usual rule has none), given the request's query unless it
 *   has its own, as mod_rewrite does.
 * - The status is --status, else 302: what [R] alone answers.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "cli_util.h"
#include "importer.h"

/* REWRITE_MAX_TXT_MAP_LINE: mod_rewrite reads a longer line in pieces,
 * each taken as a line of its own. */
#define MAP_MAX_LINE 1024

/* What mod_rewrite's R flag answers with no status given. */
#define MAP_DEFAULT_STATUS 302

typedef struct {
    importer *im;
    int status;
    int keys_with_slash, keys_without_slash;
    unsigned first;             /* line of the first entry, 0: none yet */
} map_reader;

/* The status for the entries, said once at the first one. */
static void map_first_entry(map_reader *mr, unsigned line)
{
    importer *im = mr->im;
    mr->first = line;
    if (!im->status)
        imp_note(im, line, "no --status: the entries are written as 302, "
                 "what [R] alone answers; give the status of the "
                 "RewriteRule that uses the map (R=301: --status 301)");
    imp_note(im, line, "every entry also answers its path with a trailing "
             "slash added or removed (Redirect307TrailingSlash Ignore), and "
             "a request with an empty query ('/old?') without the '?'; "
             "mod_rewrite looks the path up as it is and keeps the '?'");
}

/* The key's URL-path, noting which form keys take. */
static const char *map_key_path(map_reader *mr, const char *key, size_t n)
{
    if (key[0] == '/') {
        mr->keys_with_slash++;
        return apr_pstrmemdup(mr->im->p, key, n);
    }
    mr->keys_without_slash++;
    return apr_pstrcat(mr->im->p, "/", apr_pstrmemdup(mr->im->p, key, n),
                       NULL);
}

/* One "KEY VALUE..." line: key[0..klen), value[0..vlen). */
static void map_entry(map_reader *mr, unsigned line, const char *key,
                      size_t klen, const char *value, size_t vlen)
{
    importer *im = mr->im;
    const char *path = map_key_path(mr, key, klen), *t, *why;
    int query;
    if (!mr->first)
        map_first_entry(mr, line);
    if (memchr(value, '?', vlen)) {
        imp_skip(im, line, "value '%.*s' holds a '?': mod_rewrite answers "
                 "403 to a '?' coming from a map (unless the RewriteRule "
                 "has [UnsafeAllow3F])", (int)vlen, value);
        return;
    }
    t = rw_redirect_target(im->p, value, vlen, 0, 0, &query, &why);
    if (!t) {
        imp_skip(im, line, "value: %s (mod_rewrite would make it relative "
                 "to the directory)", why);
        return;
    }
    if (memchr(key, '%', klen))
        imp_note(im, line, "key '%.*s': mod_rewrite looks keys up with the "
                 "decoded path, so '%%' is a literal '%%' here", (int)klen,
                 key);
    if (memchr(value, '%', vlen))
        imp_note(im, line, "value '%.*s': mod_rewrite escapes its '%%' again "
                 "(without [NE]), so the Location holds '%%25'; written as "
                 "mod_rewrite answers", (int)vlen, value);
    imp_emit(im, line, imp_escape(im->p, path, strlen(path), IMP_SOURCE),
             imp_escape(im->p, t, strlen(t), IMP_ENCODED), mr->status,
             query == 2 ? "qsdrop" : NULL);
}

/* One physical line of the map, as lookup_map_txtfile() reads it. */
static void map_line(map_reader *mr, unsigned line, const char *s)
{
    size_t klen, gap, vlen, len = strlen(s);
    if (!*s || *s == '#')
        return;
    if (len > MAP_MAX_LINE) {
        imp_skip(mr->im, line, "longer than %d bytes: mod_rewrite reads it "
                 "in pieces", MAP_MAX_LINE);
        return;
    }
    if (apr_isspace(*s)) {
        if (*cli_trim(apr_pstrdup(mr->im->p, s)))
            imp_note(mr->im, line, "begins with a blank: mod_rewrite skips "
                     "the line");
        return;
    }
    klen = strcspn(s, " \t\r\n\v\f");
    gap = strspn(s + klen, " \t\r\n\v\f");
    vlen = strcspn(s + klen + gap, " \t\r\n\v\f");
    if (!vlen) {
        imp_skip(mr->im, line, "key '%.*s' has no value (mod_rewrite "
                 "ignores the line)", (int)klen, s);
        return;
    }
    map_entry(mr, line, s, klen, s + klen + gap, vlen);
}

void import_rewritemap(importer *im, char *buf, size_t len)
{
    map_reader mr;
    char *s = buf, *line;
    unsigned n = 0;

    memset(&mr, 0, sizeof(mr));
    mr.im = im;
    mr.status = im->status ? im->status : MAP_DEFAULT_STATUS;
    while ((line = cli_next_line(&s, buf + len)))
        map_line(&mr, ++n, line);
    if (mr.keys_with_slash && mr.keys_without_slash)
        imp_note(im, mr.first, "keys with and without a leading '/': a "
                 "RewriteRule looks up one form only (^(.*)$ in server "
                 "context gives '/old'); both are imported as /KEY");
}
