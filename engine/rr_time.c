/*
 * rr_time.c - the times of rule windows (from=TIME, until=TIME): ISO 8601
 * as admins write it, parsed without the C library's time zone state so
 * that the same line means the same instant on every machine.
 *
 * Licensed under the Apache License, Version 2.0 (see LICENSE).
 */
#include "apr_strings.h"

#include "rr_internal.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    long era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
    long era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (long)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

/* n digits at s[*i] as a number, or -1. */
static long digits(const char *s, size_t len, size_t *i, size_t n)
{
    long v = 0;
    size_t k;
    if (*i + n > len)
        return -1;
    for (k = 0; k < n; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += n;
    return v;
}

static int expect_char(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return 1;
    }
    return 0;
}

static int days_in_month(long y, unsigned m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* The offset east of UTC in seconds: Z, +HH:MM, -HH:MM, or none. */
static int parse_offset(const char *s, size_t len, size_t *i, long *off)
{
    long h, m;
    int sign;
    *off = 0;
    if (*i == len)
        return 1;
    if (expect_char(s, len, i, 'Z'))
        return *i == len;
    if (s[*i] != '+' && s[*i] != '-')
        return 0;
    sign = s[(*i)++] == '-' ? -1 : 1;
    if ((h = digits(s, len, i, 2)) < 0 || !expect_char(s, len, i, ':')
        || (m = digits(s, len, i, 2)) < 0 || h > 23 || m > 59)
        return 0;
    *off = sign * (h * 3600 + m * 60);
    return *i == len;
}

int rr_time_parse(const char *s, size_t len, apr_time_t *t)
{
    size_t i = 0;
    long y, mo, d, h = 0, mi = 0, se = 0, off;
    if ((y = digits(s, len, &i, 4)) < 0 || !expect_char(s, len, &i, '-')
        || (mo = digits(s, len, &i, 2)) < 1 || mo > 12
        || !expect_char(s, len, &i, '-') || (d = digits(s, len, &i, 2)) < 1
        || d > days_in_month(y, (unsigned)mo))
        return 0;
    if (expect_char(s, len, &i, 'T')) {
        if ((h = digits(s, len, &i, 2)) < 0 || h > 23
            || !expect_char(s, len, &i, ':')
            || (mi = digits(s, len, &i, 2)) < 0 || mi > 59)
            return 0;
        if (expect_char(s, len, &i, ':')
            && ((se = digits(s, len, &i, 2)) < 0 || se > 59))
            return 0;
    }
    if (!parse_offset(s, len, &i, &off))
        return 0;
    *t = apr_time_from_sec((apr_time_t)days_from_civil(y, (unsigned)mo,
                                                       (unsigned)d) * 86400
                           + h * 3600 + mi * 60 + se - off);
    return 1;
}

const char *rr_time_format(apr_pool_t *pool, apr_time_t t)
{
    apr_time_t sec = apr_time_sec(t);
    long days = (long)(sec >= 0 ? sec / 86400 : (sec - 86399) / 86400);
    long rem = (long)(sec - (apr_time_t)days * 86400), y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return apr_psprintf(pool, "%04ld-%02u-%02uT%02ld:%02ld:%02ldZ", y, m, d,
                        rem / 3600, rem / 60 % 60, rem % 60);
}
