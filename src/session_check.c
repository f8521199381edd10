/*
 * session_check.c - the checks a session cookie and a CSRF token face
 * before anything trusts them. Apart from session.c so that a fuzz target
 * can drive them without Redis (tests/fuzz/fuzz_session.c).
 */
#include <sodium.h>
#include <string.h>

#include "session.h"

int pb_session_id_valid(const char *id)
{
    /* 256 random bits in base64url without padding: 43 characters
     * (RFC 4648 §5), never anything else. */
    if (id == NULL || strlen(id) != 43)
        return 0;
    for (size_t i = 0; i < 43; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
            return 0;
    return 1;
}

int pb_csrf_equal(const char *want, const char *got)
{
    if (want == NULL || got == NULL || want[0] == '\0' || strlen(got) != strlen(want))
        return 0;
    return sodium_memcmp(want, got, strlen(want)) == 0;
}
