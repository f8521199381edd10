/*
 * input.h - typed, validated access to a request's fields.
 *
 * A module never reads raw strings it has to check itself: it asks for "an
 * int between 1 and 100 named qty" and gets either the value or a recorded
 * per-field error that a form can show next to the field and the API
 * returns as {"errors": {"qty": "..."}}.
 *
 * Lookup order for a name: route parameters, then the body (a JSON object's
 * top-level members, or form fields), then the query string. Cookies are
 * never read by these accessors.
 */
#ifndef PB_INPUT_H
#define PB_INPUT_H

#include <stdbool.h>
#include <jansson.h>

#include "params.h"
#include "plugboard.h"

typedef struct pb_input {
    pb_params route; /* :name parameters, filled by the router */
    pb_params query;
    pb_params form; /* urlencoded or multipart body */
    pb_params cookies;
    json_t *json;      /* JSON body, or NULL */
    json_t *errors;    /* field name -> message; NULL until the first error */
    pb_params scratch; /* owns normalised copies handed to callers */
} pb_input;

/* Releases everything the input owns (uploaded files are removed). */
void pb_input_free(pb_input *in);

/* Each accessor returns PB_OK with *out set; PB_ABSENT when the field is
 * missing or empty and flags lacks PB_REQUIRED (*out untouched); or
 * PB_INVALID after recording a message for the field in in->errors
 * (a required field that is missing is invalid: "is required"). Strings
 * handed out stay valid until pb_input_free. PB_ERROR only when out of
 * memory.
 *
 * pb_input_str: the value exactly as sent (not trimmed), valid UTF-8 with
 *   no NUL, minlen..maxlen Unicode code points (maxlen 0: no upper bound).
 * The others trim surrounding ASCII whitespace first:
 * pb_input_int: decimal [-]digits (or a JSON integer) within min..max.
 * pb_input_bool: true/false, 1/0, on/off, yes/no in any case, or a JSON
 *   boolean; an unchecked checkbox is simply absent.
 * pb_input_uuid: 8-4-4-4-12 hex digits, handed out in lower case.
 * pb_input_email: local@domain.tld as HTML's type=email accepts it, with
 *   at least one dot in the domain, handed out with the domain lower-cased.
 * pb_input_date: YYYY-MM-DD naming a day that exists. */
int pb_input_str(pb_input *in, const char *name, unsigned flags, size_t minlen, size_t maxlen,
                 const char **out);
int pb_input_int(pb_input *in, const char *name, unsigned flags, long long min, long long max,
                 long long *out);
int pb_input_bool(pb_input *in, const char *name, unsigned flags, bool *out);
int pb_input_uuid(pb_input *in, const char *name, unsigned flags, const char **out);
int pb_input_email(pb_input *in, const char *name, unsigned flags, const char **out);
int pb_input_date(pb_input *in, const char *name, unsigned flags, pb_date *out);

/* Records msg as the error of field name (the first error per field wins).
 * Returns PB_INVALID. */
int pb_input_fail(pb_input *in, const char *name, const char *msg);

#endif
