/*
 * config.h - the INI configuration (plugboard.ini documents every option).
 */
#ifndef PB_CONFIG_H
#define PB_CONFIG_H

#include <stdio.h>

#include "params.h"

typedef struct pb_config {
    char *file; /* the file loaded, or NULL for built-in defaults */

    char *socket;
    unsigned socket_mode;
    char *socket_group;
    char *control_socket;
    char *pidfile;
    long workers;
    long max_requests;
    long request_timeout;
    long drain_timeout;
    long reload_overlap;     /* at most this many times `workers` alive, draining ones included */
    char *modules_state;     /* modules disabled at run time, one name per line */
    long quarantine_crashes; /* a module whose handlers crash this often ... */
    long quarantine_window;  /* ... within this many seconds is quarantined */
    long start_timeout;      /* seconds a new generation has to come up */
    long probation;          /* seconds a new generation's crashes roll it back */
    long quarantine_release; /* seconds before a quarantined module serves again; 0: never */
    char *modules_core;      /* modules never quarantined (sign-in, the home page) */
    char *tmp_dir;
    long malloc_tcache; /* glibc tcache entries per size class; 0 = glibc's default */

    char *module_path;     /* space-separated folders */
    char *modules_enabled; /* "*" or space-separated names */
    char *template_path;   /* space-separated folders */

    pb_limits limits;

    char *conninfo;
    char *owner_conninfo;
    char *migrations; /* space-separated folders */
    char *app_role;   /* the role workers connect as; granted to by migrations */
    long statement_timeout;

    char *session_cookie;
    long session_idle;     /* seconds of inactivity before a session ends */
    long session_lifetime; /* seconds after which it ends however active */

    long login_attempts; /* failed sign-ins per account or address ... */
    long login_window;   /* ... per this many seconds, then a lockout until it ends */
    long reset_attempts; /* password reset requests per address or account ... */
    long reset_window;   /* ... per this many seconds */
    long api_writes;     /* unsafe API requests per user (or address) ... */
    long api_window;     /* ... per this many seconds */

    char *public_url; /* the site's address, for links in e-mails */

    char *api_key_file; /* HS256 key for access tokens; created when missing */
    long access_ttl;    /* seconds an access token lives */
    long refresh_ttl;   /* seconds a refresh token lives unused */

    char *smtp_url;     /* where the mailer sends: smtp://host:port */
    char *mail_from;    /* envelope and From: address */
    long mail_attempts; /* a message fails for good after this many tries */
    long mail_timeout;  /* seconds per SMTP conversation */

    char *sched_timezone;   /* zone of the modules' cron schedules */
    long sched_concurrency; /* runs at once */
    long job_timeout;       /* seconds a run may take before it is killed */
    long job_max_attempts;  /* a run is dead-lettered after this many failures */

    char *backup_folder; /* pg_dump archives */
    long backup_keep;    /* archives kept; older ones are deleted */
    char *pg_bin;        /* folder of pg_dump, pg_restore, createdb, dropdb */

    char *redis_socket;
    char *redis_host;
    long redis_port;
    long redis_timeout;

    int log_level;
    int log_format;
    char *log_file; /* JSON lines appended here too ("" = none); read by log_search */
} pb_config;

/* Fills c with the documented defaults (paths relative to the working
 * directory). Returns 0, or -1 when out of memory. */
int pb_config_defaults(pb_config *c);

/* Loads path over the defaults; relative paths in it resolve against the
 * file's folder. Returns 0, or -1 with a message naming the file, line and
 * option written to err. */
int pb_config_load(pb_config *c, const char *path, char *err, size_t errlen);

/* Checks values that are each well-formed but do not fit together.
 * Returns 0, or -1 with err filled. */
int pb_config_validate(const pb_config *c, char *err, size_t errlen);

/* Prints the effective configuration as INI. */
void pb_config_print(const pb_config *c, FILE *f);

/* Releases every string; c is zeroed. */
void pb_config_free(pb_config *c);

/* Splits a space-separated list in place-safe fashion: calls fn for each
 * word with its length. Stops and returns fn's value when it is non-zero. */
int pb_config_each_word(const char *list, int (*fn)(const char *w, size_t n, void *ctx), void *ctx);

#endif
