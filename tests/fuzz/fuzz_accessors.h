/*
 * fuzz_accessors.h - shared by the input fuzz targets: runs every typed
 * accessor on one field name, so each parser's output is also fed through
 * the validation a module would apply to it.
 */
#ifndef PB_FUZZ_ACCESSORS_H
#define PB_FUZZ_ACCESSORS_H

#include "input.h"

static inline void fuzz_accessors(pb_input *in, const char *name, size_t minlen, size_t maxlen,
                                  long long min, long long max)
{
    const char *s;
    long long ll;
    bool b;
    pb_date d;
    pb_input_str(in, name, PB_REQUIRED, minlen, maxlen, &s);
    pb_input_int(in, name, 0, min, max, &ll);
    pb_input_bool(in, name, 0, &b);
    pb_input_uuid(in, name, 0, &s);
    pb_input_email(in, name, 0, &s);
    pb_input_date(in, name, 0, &d);
}

#endif
