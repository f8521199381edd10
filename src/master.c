/*
 * master.c - the master process.
 *
 * Start-up: take the pidfile lock (a second master refuses to start rather
 * than steal the socket), apply pending migrations, create the FastCGI and
 * control sockets, map the scoreboard, run the module probe, fork workers.
 *
 * Then a loop over a signalfd and the control socket, ticking every 250 ms
 * to kill requests that overran request_timeout. Dead workers are reaped,
 * logged with the route they were serving, and replaced.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "hostapi.h"
#include "log.h"
#include "mailer.h"
#include "metrics.h"
#include "migrate.h"
#include "module.h"
#include "scheduler.h"
#include "scoreboard.h"
#include "worker.h"

#define TICK_MS 250

typedef struct pb_master {
    const pb_config *cfg;
    pb_scoreboard *sb;
    int pid_fd, listen_fd, ctl_fd, sig_fd;
    pb_pathlist plan;
    bool stopping;
    int64_t stop_deadline;
    int64_t respawn_at[PB_SB_WORKERS];
    /* Processes beside the workers, each restarted when it ends. */
    struct service {
        const char *name;
        void (*main)(const pb_config *cfg, const pb_pathlist *plan);
        pid_t pid;
        int64_t respawn_at; /* 0: not wanted */
    } services[2];
    int nservices;
} pb_master;

/* ---------------------------------------------------------------------
 * Start-up
 * --------------------------------------------------------------------- */

/* Takes an exclusive lock on the pidfile and writes our pid into it.
 * Returns the fd (kept open for the master's life), or -1. */
static int lock_pidfile(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        pb_log(PB_LOG_ERROR, "cannot open pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char other[32] = "";
        ssize_t n = pread(fd, other, sizeof other - 1, 0);
        other[n > 0 ? n : 0] = '\0';
        other[strcspn(other, "\n")] = '\0';
        pb_log(PB_LOG_ERROR, "another plugboard (pid %s) holds %s; not starting",
               other[0] ? other : "?", path);
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        pb_log(PB_LOG_WARN, "cannot write pidfile %s: %s", path, strerror(errno));
    return fd;
}

/* Creates a listening Unix socket at path, replacing a stale one (safe:
 * we hold the pidfile lock, so no live master owns it). */
static int listen_unix(const char *path, unsigned mode, const char *group, int backlog)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        pb_log(PB_LOG_ERROR, "socket path %s is longer than %zu bytes", path,
               sizeof sa.sun_path - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path);
    mode_t old = umask(0777 & ~mode);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || chmod(path, mode) < 0 || listen(fd, backlog) < 0) {
        pb_log(PB_LOG_ERROR, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (group && group[0]) {
        struct group *g = getgrnam(group);
        if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) < 0)
            pb_log(PB_LOG_WARN, "cannot give %s to group %s: %s", path, group,
                   g ? strerror(errno) : "no such group");
    }
    return fd;
}

static int setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* ---------------------------------------------------------------------
 * Workers
 * --------------------------------------------------------------------- */

static void spawn(pb_master *m, int slot)
{
    pb_sb_worker *w = &m->sb->workers[slot];
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        pb_log(PB_LOG_ERROR, "fork: %s; retrying in 1 s", strerror(errno));
        m->respawn_at[slot] = pb_now_ns() + 1000000000;
        return;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        pb_worker_main(m->cfg, m->sb, slot, m->sb->generation, m->listen_fd, &m->plan);
    }
    memset(w, 0, sizeof *w);
    w->pid = pid;
    w->generation = m->sb->generation;
    w->started_ns = pb_now_ns();
    w->state = PB_W_STARTING;
    m->respawn_at[slot] = 0;
}

static int find_slot(const pb_master *m, pid_t pid)
{
    for (int i = 0; i < PB_SB_WORKERS; i++)
        if (m->sb->workers[i].pid == pid)
            return i;
    return -1;
}

/* Logs how a worker ended and decides whether it is replaced at once or
 * after a pause (a worker dying right after start must not fork-loop). */
static void on_worker_exit(pb_master *m, int slot, int status)
{
    pb_sb_worker *w = &m->sb->workers[slot];
    int64_t lived = pb_now_ns() - w->started_ns;
    bool busy = w->state == PB_W_BUSY;
    if (WIFSIGNALED(status) && !w->timed_out && !m->stopping) {
        int sig = WTERMSIG(status);
        m->sb->crashes++;
        if (busy)
            pb_log(PB_LOG_ERROR, "worker %d crashed: signal %d (%s) while serving %s (module %s)",
                   (int)w->pid, sig, strsignal(sig), w->route, w->module);
        else
            pb_log(PB_LOG_ERROR, "worker %d crashed: signal %d (%s) while idle", (int)w->pid, sig,
                   strsignal(sig));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        pb_log(PB_LOG_ERROR, "worker %d exited with status %d", (int)w->pid, WEXITSTATUS(status));
    } else if (WIFEXITED(status) && !m->stopping) {
        m->sb->recycled++;
        pb_log(PB_LOG_DEBUG, "worker %d recycled after %llu requests", (int)w->pid,
               (unsigned long long)w->requests);
    }
    bool abnormal = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    w->pid = 0;
    w->state = PB_W_EMPTY;
    if (m->stopping || slot >= m->cfg->workers)
        return;
    if (abnormal)
        m->sb->respawns++;
    /* A worker that dies within a second of starting waits a second. */
    m->respawn_at[slot] = abnormal && lived < 1000000000 ? pb_now_ns() + 1000000000 : 1;
}

/* ---------------------------------------------------------------------
 * Services: the mailer and the scheduler
 * --------------------------------------------------------------------- */

static void mailer_main(const pb_config *cfg, const pb_pathlist *plan)
{
    (void)plan;
    pb_mailer_main(cfg);
}

static void service_spawn(pb_master *m, struct service *s)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(m->listen_fd);
        close(m->ctl_fd);
        s->main(m->cfg, &m->plan);
    }
    if (pid < 0)
        pb_log(PB_LOG_ERROR, "fork for the %s: %s; retrying in 1 s", s->name, strerror(errno));
    s->pid = pid > 0 ? pid : 0;
    s->respawn_at = pid > 0 ? 0 : pb_now_ns() + 1000000000;
}

/* Returns 1 when pid was a service (restarted after a second unless
 * stopping). */
static int on_service_exit(pb_master *m, pid_t pid, int status)
{
    for (int i = 0; i < m->nservices; i++) {
        struct service *s = &m->services[i];
        if (s->pid != pid)
            continue;
        s->pid = 0;
        if (!m->stopping) {
            if (WIFSIGNALED(status))
                pb_log(PB_LOG_ERROR, "%s %d died: signal %d (%s); restarting", s->name, (int)pid,
                       WTERMSIG(status), strsignal(WTERMSIG(status)));
            else
                pb_log(PB_LOG_WARN, "%s %d exited with status %d; restarting", s->name, (int)pid,
                       WEXITSTATUS(status));
            s->respawn_at = pb_now_ns() + 1000000000;
        }
        return 1;
    }
    return 0;
}

static void reap(pb_master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int slot = find_slot(m, pid);
        if (slot >= 0)
            on_worker_exit(m, slot, status);
        else
            on_service_exit(m, pid, status);
    }
}

static void respawn_due(pb_master *m)
{
    int64_t now = pb_now_ns();
    for (int i = 0; i < m->nservices; i++)
        if (m->services[i].pid == 0 && m->services[i].respawn_at &&
            m->services[i].respawn_at <= now)
            service_spawn(m, &m->services[i]);
    for (int i = 0; i < m->cfg->workers; i++)
        if (m->sb->workers[i].pid == 0 && m->respawn_at[i] && m->respawn_at[i] <= now)
            spawn(m, i);
}

/* Kills workers whose request has run past request_timeout. */
static void enforce_timeouts(pb_master *m)
{
    int64_t now = pb_now_ns(), limit = m->cfg->request_timeout * 1000000000LL;
    for (int i = 0; i < PB_SB_WORKERS; i++) {
        pb_sb_worker *w = &m->sb->workers[i];
        if (w->pid == 0 || w->state != PB_W_BUSY || w->timed_out || now - w->busy_ns < limit)
            continue;
        w->timed_out = 1;
        m->sb->timeouts++;
        pb_log(PB_LOG_ERROR,
               "request timeout: worker %d spent over %ld s on %s (module %s); killed", (int)w->pid,
               m->cfg->request_timeout, w->route, w->module);
        kill(w->pid, SIGKILL);
    }
}

/* Workers and services still running. */
static int live_workers(const pb_master *m)
{
    int n = 0;
    for (int i = 0; i < PB_SB_WORKERS; i++)
        n += m->sb->workers[i].pid != 0;
    for (int i = 0; i < m->nservices; i++)
        n += m->services[i].pid != 0;
    return n;
}

static void signal_workers(pb_master *m, int sig)
{
    for (int i = 0; i < PB_SB_WORKERS; i++)
        if (m->sb->workers[i].pid)
            kill(m->sb->workers[i].pid, sig);
    for (int i = 0; i < m->nservices; i++)
        if (m->services[i].pid)
            kill(m->services[i].pid, sig);
}

/* Graceful stop: no new connections (the socket path goes first), then
 * workers drain what is already queued and finish what they serve. */
static void begin_shutdown(pb_master *m, int sig)
{
    if (m->stopping) {
        pb_log(PB_LOG_WARN, "second %s: killing workers now", strsignal(sig));
        signal_workers(m, SIGKILL);
        return;
    }
    pb_log(PB_LOG_INFO, "%s: stopping; draining in-flight requests (up to %ld s)", strsignal(sig),
           m->cfg->drain_timeout);
    m->stopping = true;
    m->stop_deadline = pb_now_ns() + m->cfg->drain_timeout * 1000000000LL;
    unlink(m->cfg->socket);
    /* A connect() that resolved the path just before the unlink is queued
     * within microseconds; give it that long so the drain sees it. */
    struct timespec pause = {0, 20 * 1000000};
    nanosleep(&pause, NULL);
    signal_workers(m, SIGTERM);
}

/* ---------------------------------------------------------------------
 * Control socket
 * --------------------------------------------------------------------- */

static json_t *ctl_status(pb_master *m)
{
    json_t *st = pb_metrics_status(m->sb, m->cfg);
    json_t *mods = json_array();
    for (size_t i = 0; i < m->plan.n; i++)
        json_array_append_new(mods, json_string(m->plan.v[i]));
    json_object_set_new(st, "master_pid", json_integer(getpid()));
    json_object_set_new(st, "module_files", mods);
    return st;
}

static void ctl_answer(pb_master *m)
{
    int fd = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char cmd[256];
    ssize_t n = recv(fd, cmd, sizeof cmd - 1, 0);
    cmd[n > 0 ? n : 0] = '\0';
    cmd[strcspn(cmd, "\r\n")] = '\0';
    json_t *reply;
    if (strcmp(cmd, "status") == 0)
        reply = ctl_status(m);
    else
        reply = json_pack("{s:s}", "error", "unknown command; try: status");
    char *s = json_dumps(reply, JSON_INDENT(2));
    json_decref(reply);
    if (s) {
        size_t len = strlen(s);
        if (send(fd, s, len, MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
            pb_log(PB_LOG_DEBUG, "ctl client went away");
        free(s);
    }
    close(fd);
}

/* ---------------------------------------------------------------------
 * The loop
 * --------------------------------------------------------------------- */

static void on_signal(pb_master *m)
{
    struct signalfd_siginfo si;
    while (read(m->sig_fd, &si, sizeof si) == sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap(m);
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            begin_shutdown(m, (int)si.ssi_signo);
            break;
        case SIGHUP:
        case SIGUSR2:
            pb_log(PB_LOG_WARN, "reload requested, but rolling reload is not built yet; ignored");
            break;
        }
    }
}

static void run_loop(pb_master *m)
{
    for (;;) {
        struct pollfd p[2] = {{m->sig_fd, POLLIN, 0}, {m->ctl_fd, POLLIN, 0}};
        int n = poll(p, 2, TICK_MS);
        if (n < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN)
            on_signal(m);
        if (p[1].revents & POLLIN)
            ctl_answer(m);
        reap(m);
        if (m->stopping) {
            if (live_workers(m) == 0)
                return;
            if (pb_now_ns() > m->stop_deadline) {
                pb_log(PB_LOG_WARN, "drain deadline passed: killing %d worker(s)", live_workers(m));
                signal_workers(m, SIGKILL);
                m->stop_deadline = INT64_MAX;
            }
            continue;
        }
        enforce_timeouts(m);
        respawn_due(m);
    }
}

int pb_master_run(const pb_config *cfg)
{
    pb_master m = {.cfg = cfg, .pid_fd = -1, .listen_fd = -1, .ctl_fd = -1, .sig_fd = -1};
    pb_log_role("master");
    char err[512];
    int rc = 1;
    if ((m.pid_fd = lock_pidfile(cfg->pidfile)) < 0)
        return 1;
    if (pb_migrate(cfg, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "migrations failed, not starting: %s", err);
        goto out;
    }
    if (pb_account_key_init(cfg, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "API signing key: %s", err);
        goto out;
    }
    m.sb = pb_sb_create();
    m.sig_fd = setup_signals();
    m.listen_fd = listen_unix(cfg->socket, cfg->socket_mode, cfg->socket_group, 1024);
    m.ctl_fd = listen_unix(cfg->control_socket, 0600, NULL, 16);
    if (m.sb == NULL || m.sig_fd < 0 || m.listen_fd < 0 || m.ctl_fd < 0)
        goto out;
    if (pb_probe(cfg, pb_hostapi(), &m.plan, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "module probe failed, not starting: %s", err);
        goto out;
    }
    m.sb->generation = 1;
    m.sb->nworkers = (uint32_t)cfg->workers;
    for (int i = 0; i < cfg->workers; i++)
        spawn(&m, i);
    if (cfg->smtp_url[0]) { /* no SMTP server configured: mail waits in the outbox */
        m.services[m.nservices] = (struct service){"mailer", mailer_main, 0, 0};
        service_spawn(&m, &m.services[m.nservices++]);
    }
    m.services[m.nservices] = (struct service){"scheduler", pb_scheduler_main, 0, 0};
    service_spawn(&m, &m.services[m.nservices++]);
    pb_log(PB_LOG_INFO, "serving on %s with %ld workers and %zu modules", cfg->socket, cfg->workers,
           m.plan.n);
    run_loop(&m);
    pb_log(PB_LOG_INFO, "stopped");
    rc = 0;
out:
    if (m.listen_fd >= 0) {
        if (!m.stopping)
            unlink(cfg->socket);
        close(m.listen_fd);
    }
    if (m.ctl_fd >= 0) {
        unlink(cfg->control_socket);
        close(m.ctl_fd);
    }
    pb_pathlist_free(&m.plan);
    unlink(cfg->pidfile);
    close(m.pid_fd);
    return rc;
}
