/*
 * kv.c - the worker's Redis connection.
 */
#include "kv.h"

#include <stdio.h>
#include <string.h>

void pb_kv_init(pb_kv *kv, const char *socket, const char *host, int port, int timeout)
{
    memset(kv, 0, sizeof *kv);
    kv->socket = socket ? socket : "";
    kv->host = host;
    kv->port = port;
    kv->timeout = timeout;
}

void pb_kv_close(pb_kv *kv)
{
    if (kv->ctx)
        redisFree(kv->ctx);
    kv->ctx = NULL;
}

static int kv_connect(pb_kv *kv, char *err, size_t errlen)
{
    if (kv->ctx)
        return 0;
    struct timeval tv = {kv->timeout, 0};
    kv->ctx = kv->socket[0] ? redisConnectUnixWithTimeout(kv->socket, tv)
                            : redisConnectWithTimeout(kv->host, kv->port, tv);
    if (kv->ctx == NULL || kv->ctx->err) {
        snprintf(err, errlen, "cannot connect to Redis: %s",
                 kv->ctx ? kv->ctx->errstr : "out of memory");
        pb_kv_close(kv);
        return -1;
    }
    redisSetTimeout(kv->ctx, tv);
    return 0;
}

static redisReply *command_once(pb_kv *kv, int argc, const char **argv, const size_t *argvlen,
                                char *err, size_t errlen)
{
    if (kv_connect(kv, err, errlen) < 0)
        return NULL;
    redisReply *r = redisCommandArgv(kv->ctx, argc, argv, argvlen);
    if (r == NULL) {
        snprintf(err, errlen, "Redis: %s", kv->ctx->errstr[0] ? kv->ctx->errstr : "no reply");
        pb_kv_close(kv);
    }
    return r;
}

redisReply *pb_kv_command(pb_kv *kv, int argc, const char **argv, const size_t *argvlen, char *err,
                          size_t errlen)
{
    /* A connection that died while idle (Redis restarted) must not fail
     * the next request: try once more on a new one. Every command the
     * host sends may safely run twice. */
    int had_conn = kv->ctx != NULL;
    redisReply *r = command_once(kv, argc, argv, argvlen, err, errlen);
    if (r == NULL && had_conn)
        r = command_once(kv, argc, argv, argvlen, err, errlen);
    return r;
}

int pb_kv_ping(pb_kv *kv, char *err, size_t errlen)
{
    const char *argv[] = {"PING"};
    redisReply *r = pb_kv_command(kv, 1, argv, NULL, err, errlen);
    if (r == NULL)
        return -1;
    int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (!ok)
        snprintf(err, errlen, "Redis answered PING with %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "something unexpected");
    freeReplyObject(r);
    return ok ? 0 : -1;
}
