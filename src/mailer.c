/*
 * mailer.c - sends the outbox over SMTP with libcurl.
 *
 * A process of its own under the master, so a slow or unreachable mail
 * server never holds a worker. It claims due messages from core.outbox
 * (each claim counts an attempt and pushes the next one back, so a crash
 * mid-send means a retry, never a loss), sends them, and records the
 * outcome; a message fails for good after [mail] max_attempts. Between
 * batches it sleeps until the next message is due (with nothing pending,
 * a minute), woken early by the NOTIFY that queueing a message sends: an
 * idle mailer costs one wakeup a minute.
 */
#include "mailer.h"

#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "log.h"

#define BATCH 10
/* With nothing pending the mailer waits for the NOTIFY of the next
 * enqueue; it looks anyway this often, for rows written without one. */
#define MAX_SLEEP_MS 60000

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* The message as SMTP's DATA wants it: headers, CRLF line ends. A subject
 * that is not plain ASCII is encoded (RFC 2047). */
static int compose(pb_buf *b, const pb_config *cfg, const char *id, const char *to,
                   const char *subject, const char *body)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
    const char *domain = strchr(cfg->mail_from, '@');
    int bad = pb_buf_printf(b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: <outbox-%s@%s>\r\n",
                            date, cfg->mail_from, to, id, domain ? domain + 1 : "localhost");
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
        ascii = ascii && *p < 0x80;
    if (ascii) {
        bad |= pb_buf_printf(b, "Subject: %s\r\n", subject);
    } else {
        size_t n = strlen(subject);
        char *enc = malloc(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
        if (enc == NULL)
            return -1;
        sodium_bin2base64(enc, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL),
                          (const unsigned char *)subject, n, sodium_base64_VARIANT_ORIGINAL);
        bad |= pb_buf_printf(b, "Subject: =?UTF-8?B?%s?=\r\n", enc);
        free(enc);
    }
    bad |= pb_buf_puts(b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: 8bit\r\n\r\n");
    for (const char *p = body; *p; p++) {
        if (*p == '\n' && (p == body || p[-1] != '\r'))
            bad |= pb_buf_putc(b, '\r');
        bad |= pb_buf_putc(b, *p);
    }
    bad |= pb_buf_puts(b, "\r\n");
    return bad ? -1 : 0;
}

typedef struct {
    const char *data;
    size_t len, off;
} upload;

static size_t read_cb(char *out, size_t size, size_t n, void *arg)
{
    upload *u = arg;
    size_t room = size * n, left = u->len - u->off;
    size_t k = left < room ? left : room;
    memcpy(out, u->data + u->off, k);
    u->off += k;
    return k;
}

/* Sends one message. Returns 0, or -1 with the reason in err. */
static int smtp_send(const pb_config *cfg, const char *id, const char *to, const char *subject,
                     const char *body, char *err, size_t errlen)
{
    pb_buf msg = PB_BUF_INIT;
    if (compose(&msg, cfg, id, to, subject, body) < 0) {
        pb_buf_free(&msg);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char from[300], rcpt[300], curl_err[CURL_ERROR_SIZE] = "";
    snprintf(from, sizeof from, "<%s>", cfg->mail_from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *list = curl_slist_append(NULL, rcpt);
    CURL *c = curl_easy_init();
    upload u = {msg.data, msg.len, 0};
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    if (c && list) {
        curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
        curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, list);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, cfg->mail_timeout);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        rc = curl_easy_perform(c);
    }
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    pb_buf_free(&msg);
    return rc == CURLE_OK ? 0 : -1;
}

static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        pb_log(PB_LOG_ERROR, "mailer: %s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Sends one batch. Returns the number of messages claimed, or -1 when the
 * database failed. */
static int send_batch(PGconn *pg, const pb_config *cfg)
{
    char limit[8], max[24];
    snprintf(limit, sizeof limit, "%d", BATCH);
    snprintf(max, sizeof max, "%ld", cfg->mail_attempts);
    const char *p[] = {limit};
    PGresult *r = run(pg, "SELECT id, recipient, subject, body FROM core.mail_claim($1)", 1, p);
    if (r == NULL)
        return -1;
    int n = PQntuples(r), failed_db = 0;
    for (int i = 0; i < n && !failed_db; i++) {
        const char *id = PQgetvalue(r, i, 0), *to = PQgetvalue(r, i, 1);
        char err[CURL_ERROR_SIZE + 64];
        int ok =
            smtp_send(cfg, id, to, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), err, sizeof err) == 0;
        if (ok)
            pb_log(PB_LOG_INFO, "mailer: sent message %s to %s", id, to);
        else
            pb_log(PB_LOG_WARN, "mailer: message %s to %s: %s", id, to, err);
        const char *done[] = {id, ok ? NULL : err, max};
        PGresult *d = run(pg, "SELECT core.mail_done($1, $2, $3)", 3, done);
        failed_db = d == NULL;
        PQclear(d);
    }
    PQclear(r);
    return failed_db ? -1 : n;
}

/* Milliseconds until the next message is due (0: one is due now), at
 * most MAX_SLEEP_MS when nothing is pending; -1 when the database failed. */
static int next_due_ms(PGconn *pg)
{
    PGresult *r = run(pg, "SELECT core.mail_next_due()", 0, NULL);
    if (r == NULL)
        return -1;
    int ms = MAX_SLEEP_MS;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        double s = atof(PQgetvalue(r, 0, 0)) * 1000;
        ms = s <= 0 ? 0 : s < ms ? (int)s + 1 : ms;
    }
    PQclear(r);
    return ms;
}

static PGconn *connect_db(const pb_config *cfg)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {cfg->conninfo, "5", "plugboard-mailer", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        pb_log(PB_LOG_WARN, "mailer: database: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PGresult *r = run(pg, "LISTEN pb_outbox", 0, NULL);
    if (r == NULL) {
        PQfinish(pg);
        return NULL;
    }
    PQclear(r);
    return pg;
}

/* Sleeps up to ms, waking for a notification or for SIGTERM/SIGINT, which
 * are blocked everywhere but here (so one arriving just before the wait
 * still ends it). A notification libpq already read while it ran an
 * earlier statement counts at once. Returns -1 when the connection broke. */
static int wait_for_work(PGconn *pg, int ms, const sigset_t *waitmask)
{
    if (pb_db_drain_notifies(pg) > 0)
        return 0;
    struct pollfd p = {PQsocket(pg), POLLIN, 0};
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int n = ppoll(&p, 1, &ts, waitmask);
    if (n > 0) {
        if (!PQconsumeInput(pg))
            return -1;
        pb_db_drain_notifies(pg);
    }
    return 0;
}

void pb_mailer_main(const pb_config *cfg)
{
    pb_log_role("mailer");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    if (getppid() == 1 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || sodium_init() < 0)
        exit(1);
    PGconn *pg = NULL;
    while (!stopping) {
        if (pg == NULL && (pg = connect_db(cfg)) == NULL) {
            /* The database is down: try again in a second. */
            struct timespec second = {1, 0};
            ppoll(NULL, 0, &second, &waitmask);
            continue;
        }
        int n = send_batch(pg, cfg);
        int ms = n >= 0 && n < BATCH && !stopping ? next_due_ms(pg) : 0;
        if (n < 0 || ms < 0 || PQstatus(pg) != CONNECTION_OK ||
            (ms > 0 && wait_for_work(pg, ms, &waitmask) < 0)) {
            PQfinish(pg); /* the database went away: reconnect */
            pg = NULL;
        }
    }
    PQfinish(pg);
    curl_global_cleanup();
    exit(0);
}
