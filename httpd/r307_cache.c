/*
 * r307_cache.c - the compiled-table cache directory (r307_cache.h).
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_file_io.h"
#include "apr_strings.h"

#include "r307_cache.h"

/* Raised when the check or what a verdict holds changes. */
#define VERDICT_FORMAT "redirect307-verdict 1"

apr_uint64_t r307_cache_hash(const char *s, apr_size_t n)
{
    /* FNV-1a, then a final mix: names and keys, not a hot path */
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    apr_size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

const char *r307_cache_image_path(apr_pool_t *p, const char *dir,
                                  const char *map, const rr_options *opt)
{
    const char *base = strrchr(map, '/');
    const char *id = apr_psprintf(p, "%s|%d|%d", map, opt->case_insensitive,
                                  opt->trailing_strict);
    /* the map's name for the admin's eyes, the hash to tell maps apart */
    return apr_psprintf(p, "%s/%s.%016" APR_UINT64_T_HEX_FMT ".r307c", dir,
                        base ? base + 1 : map,
                        r307_cache_hash(id, strlen(id)));
}

static const char *verdict_path(apr_pool_t *p, const char *dir,
                                const char *key)
{
    return apr_psprintf(p, "%s/set.%016" APR_UINT64_T_HEX_FMT ".verdict", dir,
                        r307_cache_hash(key, strlen(key)));
}

/* A verdict file: the format line, the key (one line: keys hold no
 * newline once escaped), "ok", then one warning per line. */
static const char *one_line(apr_pool_t *p, const char *s)
{
    const char *q;
    char *out, *o;
    if (!strpbrk(s, "\n\\"))
        return s;
    out = o = apr_palloc(p, 2 * strlen(s) + 1);
    for (q = s; *q; q++) {
        if (*q == '\n' || *q == '\\') {
            *o++ = '\\';
            *o++ = *q == '\n' ? 'n' : '\\';
        }
        else {
            *o++ = *q;
        }
    }
    *o = '\0';
    return out;
}

static const char *unescape(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *o = out;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == 'n' || s[1] == '\\')) {
            *o++ = s[1] == 'n' ? '\n' : '\\';
            s++;
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

int r307_cache_verdict_get(apr_pool_t *p, const char *dir, const char *key,
                           apr_array_header_t **warnings)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf, *line, *last;
    apr_size_t n;
    int k = 0, ok = 0;
    if (!dir || apr_file_open(&f, verdict_path(p, dir, key), APR_FOPEN_READ,
                              APR_OS_DEFAULT, p) != APR_SUCCESS)
        return 0;
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || fi.size > (apr_off_t)64 << 20) {
        apr_file_close(f);
        return 0;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    if (apr_file_read_full(f, buf, n, NULL) != APR_SUCCESS) {
        apr_file_close(f);
        return 0;
    }
    apr_file_close(f);
    buf[n] = '\0';
    *warnings = apr_array_make(p, 4, sizeof(const char *));
    for (line = apr_strtok(buf, "\n", &last); line;
         line = apr_strtok(NULL, "\n", &last), k++) {
        if (k == 0)
            ok = strcmp(line, VERDICT_FORMAT) == 0;
        else if (k == 1)
            ok = ok && strcmp(line, one_line(p, key)) == 0;
        else if (k == 2)
            ok = ok && strcmp(line, "ok") == 0;
        else
            APR_ARRAY_PUSH(*warnings, const char *) = unescape(p, line);
        if (!ok)
            return 0;
    }
    return ok && k >= 3;
}

void r307_cache_verdict_put(apr_pool_t *p, const char *dir, const char *key,
                            const apr_array_header_t *warnings)
{
    const char *path, *text;
    char *tmp;
    apr_file_t *f;
    int k;
    if (!dir)
        return;
    path = verdict_path(p, dir, key);
    text = apr_pstrcat(p, VERDICT_FORMAT, "\n", one_line(p, key), "\nok\n",
                       NULL);
    for (k = 0; warnings && k < warnings->nelts; k++)
        text = apr_pstrcat(p, text, one_line(p, APR_ARRAY_IDX(warnings, k,
                                                              const char *)),
                           "\n", NULL);
    tmp = apr_pstrcat(p, path, ".XXXXXX", NULL);
    if (apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                        | APR_FOPEN_EXCL, p) != APR_SUCCESS)
        return;
    apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE);
    if (apr_file_write_full(f, text, strlen(text), NULL) != APR_SUCCESS) {
        apr_file_close(f);
        apr_file_remove(tmp, p);
        return;
    }
    if (apr_file_close(f) != APR_SUCCESS
        || apr_file_rename(tmp, path, p) != APR_SUCCESS)
        apr_file_remove(tmp, p);
}
