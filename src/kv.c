/*
 * kv.c - the worker's Redis connection.
 */
#include "kv.h"

#include <stdio.h>
#include <stdlib.h>
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

int pb_kv_scan(pb_kv *kv, const char *pattern, int max_pages,
               int (*fn)(redisReply *keys, void *ctx), void *ctx, char *err, size_t errlen)
{
    char cursor[32] = "0";
    for (int page = 0; page < max_pages; page++) {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        redisReply *r = pb_kv_command(kv, 6, argv, NULL, err, errlen);
        if (r == NULL)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            snprintf(err, errlen, "SCAN: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        int rc = fn(r->element[1], ctx);
        freeReplyObject(r);
        if (rc < 0) {
            snprintf(err, errlen, "a page of %s could not be handled", pattern);
            return -1;
        }
        if (strcmp(cursor, "0") == 0)
            return 1;
    }
    return 0;
}

typedef struct delete_ctx {
    pb_kv *kv;
    long long deleted;
} delete_ctx;

/* DEL of one page of keys, as one command. */
static int delete_page(redisReply *keys, void *vctx)
{
    delete_ctx *ctx = vctx;
    if (keys->elements == 0)
        return 0;
    const char **argv = calloc(keys->elements + 1, sizeof *argv);
    if (argv == NULL)
        return -1;
    argv[0] = "DEL";
    for (size_t i = 0; i < keys->elements; i++)
        argv[i + 1] = keys->element[i]->str;
    char err[256];
    redisReply *r = pb_kv_command(ctx->kv, (int)keys->elements + 1, argv, NULL, err, sizeof err);
    free(argv);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok)
        ctx->deleted += r->integer;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

long long pb_kv_delete_matching(pb_kv *kv, const char *pattern, char *err, size_t errlen)
{
    delete_ctx ctx = {kv, 0};
    return pb_kv_scan(kv, pattern, 1 << 30, delete_page, &ctx, err, errlen) < 0 ? -1 : ctx.deleted;
}
