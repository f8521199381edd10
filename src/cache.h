/*
 * cache.h - the host's cache over Redis (see pb_host's "Cache" sections).
 *
 * Layout in Redis:
 *   pb:c:<ns>:<key>   an entry (a string with a TTL)
 *   pb:ct:<tag>       the set of full entry names stored with tag; it
 *                     expires no earlier than its longest-lived member
 *   pb:cs:<ns>        the namespace's counters: hash {hits, misses, sets}
 *   pb:cn             the set of namespaces seen
 * Nothing else under pb: is ever touched here: sessions (pb:s:), rate limits
 * (pb:rl:) and permission sets (pb:perm:) survive every clear.
 *
 * Every operation that reads and counts, or writes and tags, is one small
 * Lua script: one round trip, atomic. Redis being unavailable is PB_ERROR,
 * never fatal: callers fall back to computing the value.
 */
#ifndef PB_CACHE_H
#define PB_CACHE_H

#include <plugboard.h>
#include <stdbool.h>
#include <stddef.h>

struct pb_req;

#define PB_CACHE_NS_MAX  32
#define PB_CACHE_KEY_MAX 200
#define PB_CACHE_TTL_MAX 31536000L /* a year */

/* --- Names (pure) ---------------------------------------------------------- */

/* A namespace: [a-z][a-z0-9_]{0,31}. */
bool pb_cache_ns_ok(const char *ns);
/* A key or a tag: 1..200 bytes, no control characters (C0 or DEL). */
bool pb_cache_key_ok(const char *key);
/* Percent-encodes s for one path segment (RFC 3986 §2.3: unreserved
 * characters stay as they are) into out. Returns false when out is too small. */
bool pb_cache_path_encode(const char *s, char *out, size_t outlen);

/* --- Host functions (contracts in include/plugboard.h) ---------------------- */

int pb_cache_get(struct pb_req *req, const char *ns, const char *key, char **value, size_t *len);
int pb_cache_set(struct pb_req *req, const char *ns, const char *key, const char *value, size_t len,
                 long ttl, const char *const *tags);
int pb_cache_del(struct pb_req *req, const char *ns, const char *key);
int pb_cache_invalidate_tag(struct pb_req *req, const char *tag);
json_t *pb_cache_stats(struct pb_req *req);
json_t *pb_cache_server(struct pb_req *req, char *err, size_t errlen);
long long pb_cache_clear(struct pb_req *req, const char *ns, bool reset_counters);
int pb_cache_inspect(struct pb_req *req, const char *ns, const char *key, json_t **out);
int pb_cache_expire(struct pb_req *req, const char *ns, const char *key, long ttl);

/* Once the request's transaction has ended: after a commit, drops again
 * what the request deleted or invalidated (a reader that filled the cache
 * from the data as it was before the commit leaves nothing stale behind);
 * after a rollback, drops what the request stored (it may have been
 * computed from changes that never persisted). */
void pb_cache_settle(struct pb_req *req, bool committed);

#endif
