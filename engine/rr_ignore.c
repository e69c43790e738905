/*
 * rr_ignore.c - the lists of request parameters that query rules leave
 * out and Locations pass through (SPEC: Ignored parameters), built from
 * directive words at configuration time.  Matching a request's
 * parameters against a list is on the request path, in redirect_rules.c.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include <string.h>

#include "apr_strings.h"

#include "rr_internal.h"

/* The tracking parameters ads, newsletters and analytics append. */
static const char *const default_names[] = {
    "utm_*", "gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid",
    "yclid", "twclid", "ttclid", "li_fat_id", "igshid", "_gl", "_ga",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", NULL
};

/* Bytes a parameter name cannot hold: they end or split a parameter. */
static int valid_name_byte(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '&' && c != '=' && c != '#';
}

static const char *ignore_add(apr_pool_t *pool, rr_ignore *ig,
                              const char *word)
{
    size_t n = strlen(word), i;
    rr_ignore_name *e;
    int prefix = n > 0 && word[n - 1] == '*';
    if (prefix)
        n--;
    if (n == 0)
        return apr_psprintf(pool, "'%s' would ignore every parameter", word);
    if (n > RR_MAX_IGNORE_NAME)
        return apr_psprintf(pool, "parameter name longer than %d bytes",
                            RR_MAX_IGNORE_NAME);
    for (i = 0; i < n; i++) {
        if (!valid_name_byte((unsigned char)word[i]) || word[i] == '*')
            return apr_psprintf(pool, "'%s' is not a parameter name%s", word,
                                word[i] == '*' ? " ('*' may only end it)"
                                               : "");
    }
    if (ig->n == RR_MAX_IGNORE)
        return apr_psprintf(pool, "more than %d parameter names",
                            RR_MAX_IGNORE);
    e = &ig->names[ig->n++];
    memcpy(e->name, word, n);
    e->len = (uint32_t)n;
    e->prefix = prefix;
    ig->first[(unsigned char)word[0] >> 3] |=
        (unsigned char)(1u << (word[0] & 7));
    return NULL;
}

rr_ignore *rr_ignore_parse(apr_pool_t *pool, int argc,
                           const char *const *argv, const char **err)
{
    rr_ignore *ig = apr_pcalloc(pool, sizeof(*ig));
    int k, j;
    *err = NULL;
    for (k = 0; k < argc; k++) {
        if (!strcmp(argv[k], "none")) {
            if (argc > 1) {
                *err = "'none' stands alone: it empties the list";
                return NULL;
            }
            return ig;
        }
        if (!strcmp(argv[k], "default")) {
            for (j = 0; default_names[j] && !*err; j++)
                *err = ignore_add(pool, ig, default_names[j]);
        }
        else {
            *err = ignore_add(pool, ig, argv[k]);
        }
        if (*err)
            return NULL;
    }
    return ig;
}

rr_ignore *rr_ignore_copy(apr_pool_t *pool, const rr_ignore *ig)
{
    return apr_pmemdup(pool, ig, sizeof(*ig));
}

const char *rr_ignore_text(const rr_ignore *ig, apr_pool_t *pool)
{
    const char *out = "";
    int k;
    if (!ig || ig->n == 0)
        return "none";
    for (k = 0; k < ig->n; k++)
        out = apr_pstrcat(pool, out, k ? " " : "",
                          apr_pstrmemdup(pool, ig->names[k].name,
                                         ig->names[k].len),
                          ig->names[k].prefix ? "*" : "", NULL);
    return out;
}
