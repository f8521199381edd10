/*
 * kv.h - the worker's Redis connection.
 *
 * Opened on first use with a timeout; dropped after any error and re-opened
 * on the next call, so a Redis restart never takes a worker down. A command
 * that fails on a connection that died while idle is retried once.
 */
#ifndef PB_KV_H
#define PB_KV_H

#include <hiredis/hiredis.h>

typedef struct pb_kv {
    const char *socket; /* Unix socket path, or "" for host:port */
    const char *host;
    int port;
    int timeout; /* seconds */
    redisContext *ctx;
} pb_kv;

void pb_kv_init(pb_kv *kv, const char *socket, const char *host, int port, int timeout);

/* Runs one command (argv form, binary safe). Returns the reply (caller
 * frees it with freeReplyObject), or NULL with err filled; an error reply
 * is returned as a reply of type REDIS_REPLY_ERROR. */
redisReply *pb_kv_command(pb_kv *kv, int argc, const char **argv, const size_t *argvlen, char *err,
                          size_t errlen);

/* PING round trip. Returns 0, or -1 with err. */
int pb_kv_ping(pb_kv *kv, char *err, size_t errlen);

void pb_kv_close(pb_kv *kv);

/* Calls fn with each SCAN page (an array reply of key names) of the keys
 * matching pattern, at most max_pages pages of about 1000; fn returns 0 to
 * go on or -1 to stop with an error. Returns 1 when the scan finished, 0
 * when it stopped at max_pages, -1 on an error (err). */
int pb_kv_scan(pb_kv *kv, const char *pattern, int max_pages,
               int (*fn)(redisReply *keys, void *ctx), void *ctx, char *err, size_t errlen);

/* Deletes every key matching pattern, a page at a time. Returns how many
 * were deleted, or -1 with err. */
long long pb_kv_delete_matching(pb_kv *kv, const char *pattern, char *err, size_t errlen);

#endif
