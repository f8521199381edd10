/*
 * input.c - typed, validated access to a request's fields.
 *
 * A field is looked up in the route parameters, then the body (a JSON
 * object's members, then form fields), then the query string; the first
 * source that has the name decides, and a value that is present but empty
 * (or JSON null) counts as absent. Values from a form or query are bytes;
 * a JSON string is already valid UTF-8 without NUL (jansson checks).
 *
 * pb_input_str hands out the value exactly as sent and measures it in
 * Unicode code points, refusing invalid UTF-8 and NUL. The other accessors
 * first trim surrounding ASCII whitespace (as browsers do for email and
 * number inputs), because they return a normalised value anyway.
 */
#include "input.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One looked-up value: a string (s, len) or, from JSON, a non-string j. */
typedef struct input_raw {
    const char *s;
    size_t len;
    json_t *j;
} input_raw;

/* Returns 1 when name has a non-empty value, else 0. */
static int input_find(pb_input *in, const char *name, input_raw *r)
{
    r->s = NULL;
    r->len = 0;
    r->j = NULL;
    const pb_field *f = pb_params_get(&in->route, name);
    if (f == NULL && json_is_object(in->json)) {
        json_t *j = json_object_get(in->json, name);
        if (json_is_string(j)) {
            r->s = json_string_value(j);
            r->len = json_string_length(j);
            return r->len > 0;
        }
        if (j != NULL) {
            r->j = j;
            return !json_is_null(j);
        }
    }
    if (f == NULL)
        f = pb_params_get(&in->form, name);
    if (f == NULL)
        f = pb_params_get(&in->query, name);
    if (f == NULL)
        return 0;
    r->s = f->value;
    r->len = f->len;
    return r->len > 0;
}

static int input_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Trims r's string; returns 1 when something is left. */
static int input_trim(input_raw *r)
{
    while (r->len > 0 && input_space(r->s[0])) {
        r->s++;
        r->len--;
    }
    while (r->len > 0 && input_space(r->s[r->len - 1]))
        r->len--;
    return r->len > 0;
}

/* Looks name up for an accessor that trims. Returns PB_OK with *r set,
 * PB_ABSENT, or PB_INVALID ("is required"). */
static int input_lookup(pb_input *in, const char *name, unsigned flags, int trim, input_raw *r)
{
    int present = input_find(in, name, r);
    if (present && trim && r->j == NULL)
        present = input_trim(r);
    if (present)
        return PB_OK;
    if (flags & PB_REQUIRED)
        return pb_input_fail(in, name, "is required");
    return PB_ABSENT;
}

/* Keeps a copy of s[0..len) until pb_input_free. Returns it, or NULL. */
static char *input_keep(pb_input *in, const char *name, const char *s, size_t len)
{
    if (pb_params_add(&in->scratch, name, strlen(name), s, len) < 0)
        return NULL;
    return in->scratch.v[in->scratch.n - 1].value;
}

int pb_input_fail(pb_input *in, const char *name, const char *msg)
{
    if (in->errors == NULL)
        in->errors = json_object();
    if (in->errors == NULL || json_object_get(in->errors, name) != NULL)
        return PB_INVALID; /* the first error per field wins */
    json_t *m = json_string(msg);
    if (m == NULL)
        m = json_string("is invalid"); /* msg was not UTF-8 */
    json_object_set_new(in->errors, name, m);
    return PB_INVALID;
}

void pb_input_free(pb_input *in)
{
    pb_params_free(&in->route);
    pb_params_free(&in->query);
    pb_params_free(&in->form);
    pb_params_free(&in->cookies);
    pb_params_free(&in->scratch);
    json_decref(in->json);
    json_decref(in->errors);
    in->json = NULL;
    in->errors = NULL;
}

/* ------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------ */

static const char *input_plural(size_t n)
{
    return n == 1 ? "" : "s";
}

static int input_length_fail(pb_input *in, const char *name, size_t minlen, size_t maxlen)
{
    char msg[128];
    if (maxlen > 0 && minlen == maxlen)
        snprintf(msg, sizeof msg, "must be exactly %zu character%s", minlen, input_plural(minlen));
    else if (maxlen > 0 && minlen > 1)
        snprintf(msg, sizeof msg, "must be between %zu and %zu characters", minlen, maxlen);
    else if (maxlen > 0)
        snprintf(msg, sizeof msg, "must be at most %zu character%s", maxlen, input_plural(maxlen));
    else
        snprintf(msg, sizeof msg, "must be at least %zu character%s", minlen, input_plural(minlen));
    return pb_input_fail(in, name, msg);
}

int pb_input_str(pb_input *in, const char *name, unsigned flags, size_t minlen, size_t maxlen,
                 const char **out)
{
    input_raw r;
    int rc = input_lookup(in, name, flags, 0, &r);
    if (rc != PB_OK)
        return rc;
    if (r.j != NULL)
        return pb_input_fail(in, name, "must be a string");
    if (memchr(r.s, '\0', r.len) != NULL)
        return pb_input_fail(in, name, "must not contain NUL characters");
    size_t chars = pb_utf8_count(r.s, r.len);
    if (chars == (size_t)-1)
        return pb_input_fail(in, name, "must be valid UTF-8 text");
    if (chars < minlen || (maxlen > 0 && chars > maxlen))
        return input_length_fail(in, name, minlen, maxlen);
    *out = r.s; /* NUL-terminated: a field value or a jansson string */
    return PB_OK;
}

/* ------------------------------------------------------------------------
 * Numbers and booleans
 * ------------------------------------------------------------------------ */

static int input_range_fail(pb_input *in, const char *name, long long min, long long max)
{
    char msg[128];
    if (min == LLONG_MIN && max == LLONG_MAX)
        snprintf(msg, sizeof msg, "must be a whole number");
    else if (min == LLONG_MIN)
        snprintf(msg, sizeof msg, "must be a whole number no greater than %lld", max);
    else if (max == LLONG_MAX)
        snprintf(msg, sizeof msg, "must be a whole number no less than %lld", min);
    else
        snprintf(msg, sizeof msg, "must be a whole number between %lld and %lld", min, max);
    return pb_input_fail(in, name, msg);
}

/* Parses [-]digits without overflow. Returns 0, or -1 when s is not a
 * decimal integer or does not fit a long long. */
static int input_parse_ll(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    int neg = len > 0 && s[0] == '-';
    i = (size_t)neg;
    if (i == len)
        return -1;
    unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    unsigned long long acc = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (limit - d) / 10)
            return -1;
        acc = acc * 10 + d;
    }
    if (neg)
        *out = acc == limit ? LLONG_MIN : -(long long)acc;
    else
        *out = (long long)acc;
    return 0;
}

int pb_input_int(pb_input *in, const char *name, unsigned flags, long long min, long long max,
                 long long *out)
{
    input_raw r;
    int rc = input_lookup(in, name, flags, 1, &r);
    if (rc != PB_OK)
        return rc;
    long long v;
    if (r.j != NULL) {
        if (!json_is_integer(r.j))
            return input_range_fail(in, name, min, max);
        v = json_integer_value(r.j);
    } else if (input_parse_ll(r.s, r.len, &v) < 0) {
        return input_range_fail(in, name, min, max);
    }
    if (v < min || v > max)
        return input_range_fail(in, name, min, max);
    *out = v;
    return PB_OK;
}

int pb_input_bool(pb_input *in, const char *name, unsigned flags, bool *out)
{
    /* HTML §4.10.5.1.15: a checked checkbox with no value attribute sends "on" */
    static const char *const yes[] = {"true", "1", "on", "yes"};
    static const char *const no[] = {"false", "0", "off", "no"};
    input_raw r;
    int rc = input_lookup(in, name, flags, 1, &r);
    if (rc != PB_OK)
        return rc;
    if (json_is_boolean(r.j)) {
        *out = json_is_true(r.j);
        return PB_OK;
    }
    if (json_is_integer(r.j) && (json_integer_value(r.j) & ~1LL) == 0) {
        *out = json_integer_value(r.j) == 1;
        return PB_OK;
    }
    for (size_t i = 0; r.j == NULL && i < sizeof yes / sizeof yes[0]; i++) {
        if (strlen(yes[i]) == r.len && strncasecmp(r.s, yes[i], r.len) == 0) {
            *out = true;
            return PB_OK;
        }
        if (strlen(no[i]) == r.len && strncasecmp(r.s, no[i], r.len) == 0) {
            *out = false;
            return PB_OK;
        }
    }
    return pb_input_fail(in, name, "must be true or false");
}

/* ------------------------------------------------------------------------
 * Identifiers, addresses, dates
 * ------------------------------------------------------------------------ */

static int input_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char input_lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

int pb_input_uuid(pb_input *in, const char *name, unsigned flags, const char **out)
{
    input_raw r;
    int rc = input_lookup(in, name, flags, 1, &r);
    if (rc != PB_OK)
        return rc;
    if (r.j != NULL || r.len != 36)
        return pb_input_fail(in, name, "must be a UUID");
    char v[37];
    for (size_t i = 0; i < 36; i++) {
        /* RFC 9562 §4: 8-4-4-4-12 hexadecimal digits */
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? r.s[i] != '-' : !input_hex(r.s[i]))
            return pb_input_fail(in, name, "must be a UUID");
        v[i] = input_lower(r.s[i]); /* RFC 9562 §4: output in lower case */
    }
    v[36] = '\0';
    const char *kept = input_keep(in, name, v, 36);
    if (kept == NULL)
        return PB_ERROR;
    *out = kept;
    return PB_OK;
}

/* The local part as HTML's "valid e-mail address" allows it (atext and dots). */
static int input_email_local(const char *s, size_t len)
{
    if (len < 1 || len > 64) /* RFC 5321 §4.5.3.1.1: at most 64 octets */
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (c == '\0' || strchr(".!#$%&'*+/=?^_`{|}~-", c) == NULL))
            return 0;
    }
    return 1;
}

/* A domain of at least two dot-separated LDH labels (RFC 1035 §2.3.1). */
static int input_email_domain(const char *s, size_t len)
{
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            if (!alnum && c != '-')
                return 0;
            continue;
        }
        size_t n = i - start;
        /* RFC 1035 §2.3.4: labels are 1 to 63 octets; §2.3.1: no hyphen at the ends */
        if (n < 1 || n > 63 || s[start] == '-' || s[i - 1] == '-')
            return 0;
        labels++;
        start = i + 1;
    }
    return labels >= 2;
}

int pb_input_email(pb_input *in, const char *name, unsigned flags, const char **out)
{
    input_raw r;
    int rc = input_lookup(in, name, flags, 1, &r);
    if (rc != PB_OK)
        return rc;
    const char *at = r.j == NULL ? memchr(r.s, '@', r.len) : NULL;
    /* RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address 254 */
    if (at == NULL || r.len > 254)
        return pb_input_fail(in, name, "must be an email address");
    size_t llen = (size_t)(at - r.s);
    const char *domain = at + 1;
    size_t dlen = r.len - llen - 1;
    if (!input_email_local(r.s, llen) || !input_email_domain(domain, dlen))
        return pb_input_fail(in, name, "must be an email address");
    char v[255];
    memcpy(v, r.s, r.len);
    for (size_t i = llen + 1; i < r.len; i++)
        v[i] = input_lower(v[i]); /* RFC 1035 §2.3.3: domains are case-insensitive */
    const char *kept = input_keep(in, name, v, r.len);
    if (kept == NULL)
        return PB_ERROR;
    *out = kept;
    return PB_OK;
}

static int input_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int input_days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int pb_input_date(pb_input *in, const char *name, unsigned flags, pb_date *out)
{
    input_raw r;
    int rc = input_lookup(in, name, flags, 1, &r);
    if (rc != PB_OK)
        return rc;
    pb_date d;
    /* RFC 3339 §5.6 full-date: 4DIGIT "-" 2DIGIT "-" 2DIGIT */
    if (r.j != NULL || r.len != 10 || r.s[4] != '-' || r.s[7] != '-' ||
        input_digits(r.s, 4, &d.year) < 0 || input_digits(r.s + 5, 2, &d.month) < 0 ||
        input_digits(r.s + 8, 2, &d.day) < 0)
        return pb_input_fail(in, name, "must be a date in the form YYYY-MM-DD");
    /* RFC 3339 §5.7: day within the month, leap years included; year 0 does
     * not exist in the Gregorian calendar PostgreSQL uses */
    if (d.year < 1 || d.month < 1 || d.month > 12 || d.day < 1 ||
        d.day > input_days_in_month(d.year, d.month))
        return pb_input_fail(in, name, "must be a real calendar date");
    *out = d;
    return PB_OK;
}
