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

#include <dirent.h>
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
#include "events.h"
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
    bool want[PB_SB_WORKERS]; /* the slot belongs to the serving generation */
    /* Retired workers: told to drain (SIGQUIT) with this deadline, set once
     * and never moved by a later reload; 0 while the worker serves. */
    int64_t drain_deadline[PB_SB_WORKERS];
    /* The signal the master itself sent to end the worker (TERM, KILL), so
     * its death is not taken for a module crash; 0 when none. */
    int ended_by[PB_SB_WORKERS];
    /* Reloads (rolling generations). */
    pb_pathlist prev_plan; /* the module set before the last reload: rollback */
    pb_pathlist refused;   /* identities of the files the serving generation refused */
    pb_pathlist refusals;  /* and "path<TAB>reason" for each */
    struct {
        bool active;
        uint32_t gen;       /* the generation coming up */
        int64_t started_ns; /* when it was asked for */
        int64_t deadline;   /* start_timeout */
        int crashes;        /* of the new generation while it starts */
        int client;         /* a ctl client waiting for the answer, or -1 */
        const char *why;    /* "reload" or "rollback" */
    } reload;
    uint32_t serving_gen;    /* the last generation that came up */
    uint32_t probation_gen;  /* crashes of this generation roll it back ... */
    int64_t probation_until; /* ... until then */
    int probation_crashes;
    /* Recent handler crashes per module, for quarantine. */
    struct crash_log {
        char module[PB_SB_MODLEN];
        int64_t at[64];
        int n;
        int64_t release_at; /* quarantined until then (0: not quarantined) */
        int strikes;        /* quarantines since the last reload: the wait doubles */
    } crash_log[PB_SB_QUARANTINE];
    /* Processes beside the workers, each restarted when it ends. */
    struct service {
        const char *name;
        void (*main)(const pb_config *cfg, const pb_pathlist *plan);
        pid_t pid;
        int64_t respawn_at; /* 0: not wanted */
        bool follows_plan;  /* loads the modules: restarted with each generation */
        bool renewing;      /* told to stop for that: restart at once, quietly */
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

static void on_crash(pb_master *m, uint32_t gen, const char *module);

static void spawn(pb_master *m, int slot)
{
    pb_sb_worker *w = &m->sb->workers[slot];
    /* The slot is set up before the fork: a worker that loads fast marks
     * itself idle before the master would run again, and must not be
     * overwritten back to "starting". */
    memset(w, 0, sizeof *w);
    w->generation = m->sb->generation;
    w->started_ns = pb_now_ns();
    __atomic_store_n(&w->state, PB_W_STARTING, __ATOMIC_RELEASE);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        pb_log(PB_LOG_ERROR, "fork: %s; retrying in 1 s", strerror(errno));
        w->state = PB_W_EMPTY;
        m->respawn_at[slot] = pb_now_ns() + 1000000000;
        return;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (m->reload.client >= 0) /* else the ctl client waits for us to exit */
            close(m->reload.client);
        pb_worker_main(m->cfg, m->sb, slot, m->sb->generation, m->listen_fd, &m->plan);
    }
    w->pid = pid;
    m->respawn_at[slot] = 0;
    m->drain_deadline[slot] = 0;
    m->ended_by[slot] = 0;
}

/* Ends a worker from the master (drain deadline, request timeout, failed
 * start): remembered so that its death is not counted as a crash. */
static void end_worker(pb_master *m, int slot, int sig)
{
    pb_sb_worker *w = &m->sb->workers[slot];
    if (w->pid == 0)
        return;
    m->ended_by[slot] = sig;
    kill(w->pid, sig);
}

/* Worker processes alive, serving or draining. */
static int worker_count(const pb_master *m)
{
    int n = 0;
    for (int i = 0; i < PB_SB_WORKERS; i++)
        n += m->sb->workers[i].pid != 0;
    return n;
}

/* True while one more worker fits under reload_overlap x workers. */
static bool room_for_worker(const pb_master *m)
{
    return worker_count(m) < m->cfg->reload_overlap * m->cfg->workers;
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
    /* Our own TERM or KILL: the master's decision, not the module's fault.
     * Any other signal (a SIGSEGV while draining) is still a crash. */
    bool ours = WIFSIGNALED(status) && m->ended_by[slot] == WTERMSIG(status);
    if (ours && !w->timed_out && !m->stopping) {
        pb_log(PB_LOG_WARN, "worker %d ended by the master (%s) %s%s%s%s", (int)w->pid,
               strsignal(WTERMSIG(status)), busy ? "while serving " : "while idle",
               busy ? w->route : "", busy ? " of module " : "", busy ? w->module : "");
    } else if (WIFSIGNALED(status) && !w->timed_out && !m->stopping) {
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
    bool crashed = WIFSIGNALED(status) && !w->timed_out && !m->stopping && !ours;
    uint32_t gen = w->generation;
    char module[PB_SB_MODLEN];
    snprintf(module, sizeof module, "%s", busy ? w->module : "");
    w->pid = 0;
    w->state = PB_W_EMPTY;
    m->drain_deadline[slot] = 0;
    m->ended_by[slot] = 0;
    if (crashed)
        on_crash(m, gen, module);
    if (m->stopping || !m->want[slot])
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
        if (m->reload.client >= 0)
            close(m->reload.client);
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
        if (s->renewing && !m->stopping) {
            s->renewing = false;
            s->respawn_at = 1; /* the next tick, on the serving generation's modules */
        } else if (!m->stopping) {
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
    for (int i = 0; i < PB_SB_WORKERS; i++)
        if (m->want[i] && m->sb->workers[i].pid == 0 && m->respawn_at[i] &&
            m->respawn_at[i] <= now && room_for_worker(m))
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
        end_worker(m, i, SIGKILL);
    }
}

/* Workers and services still running. */
static int live_workers(const pb_master *m)
{
    int n = worker_count(m);
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
 * Reloads: rolling generations (DESIGN.md §2)
 *
 * A reload probes the modules as they are on disk now, applies pending
 * migrations, then starts generation N+1 beside generation N: both accept
 * on the same socket, so nothing waits. Once every new worker is up, the
 * old ones are told (SIGQUIT) to finish their current request and exit.
 * If the new generation does not come up, it is killed and N serves on;
 * if it crashes repeatedly during its probation, the previous module set
 * comes back as a further generation (a rollback).
 *
 * Overlap is bounded: at most reload_overlap x workers processes are alive,
 * so a reload during a drain starts its workers as draining ones leave
 * (after their current request, or at the drain deadline each got once).
 * Workers the master ends itself are never counted as module crashes.
 * --------------------------------------------------------------------- */

static void ctl_reply(int fd, json_t *reply)
{
    char *s = json_dumps(reply, JSON_INDENT(2));
    json_decref(reply);
    if (s) {
        if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
            pb_log(PB_LOG_DEBUG, "ctl client went away");
        free(s);
    }
    close(fd);
}

static void reload_answer(pb_master *m, json_t *reply)
{
    if (m->reload.client >= 0)
        ctl_reply(m->reload.client, reply);
    else
        json_decref(reply);
    m->reload.client = -1;
}

/* The folder a generation's module files are kept in: beside the pidfile. */
static void generation_dir(const pb_master *m, uint32_t gen, char *out, size_t n)
{
    char run[4096];
    snprintf(run, sizeof run, "%s", m->cfg->pidfile);
    char *slash = strrchr(run, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(run, sizeof run, ".");
    if (gen)
        snprintf(out, n, "%s/generations/%u", run, gen);
    else
        snprintf(out, n, "%s/generations", run);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in >= 0)
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    char buf[65536];
    ssize_t got;
    while (out >= 0 && (got = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)got) != got)
            break;
    if (out >= 0 && got == 0)
        rc = 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    return rc;
}

/* Keeps the files a generation loads: a hard link (or a copy) of each in
 * generations/<gen>/, so that replacing a module on disk (rename(2) gives
 * the path a new file) cannot change what a rollback brings back. Rewrites
 * plan to the kept paths. Returns 0, or -1 with err. */
static int keep_generation(pb_master *m, pb_pathlist *plan, uint32_t gen, char *err, size_t errlen)
{
    char dir[4200], top[4200];
    generation_dir(m, 0, top, sizeof top);
    generation_dir(m, gen, dir, sizeof dir);
    if ((mkdir(top, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
        snprintf(err, errlen, "%.400s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < plan->n; i++) {
        const char *base = strrchr(plan->v[i], '/');
        base = base ? base + 1 : plan->v[i];
        char kept[4400];
        snprintf(kept, sizeof kept, "%s/%s", dir, base);
        unlink(kept);
        if (link(plan->v[i], kept) < 0 && copy_file(plan->v[i], kept) < 0) {
            snprintf(err, errlen, "keeping %.400s: %s", plan->v[i], strerror(errno));
            return -1;
        }
        char *dup = strdup(kept);
        if (dup == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(plan->v[i]);
        plan->v[i] = dup;
    }
    return 0;
}

/* Removes the kept files of generations other than the serving one and
 * the one a rollback would bring back. */
static void drop_old_generations(pb_master *m)
{
    char top[4200];
    generation_dir(m, 0, top, sizeof top);
    DIR *d = opendir(top);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char *end;
        unsigned long g = strtoul(de->d_name, &end, 10);
        if (de->d_name[0] == '.' || *end != '\0')
            continue;
        char dir[4200], path[4600];
        generation_dir(m, (uint32_t)g, dir, sizeof dir);
        size_t dn = strlen(dir);
        bool needed = false; /* by the serving plan or the one a rollback brings back */
        for (size_t i = 0; i < m->plan.n && !needed; i++)
            needed = strncmp(m->plan.v[i], dir, dn) == 0 && m->plan.v[i][dn] == '/';
        for (size_t i = 0; i < m->prev_plan.n && !needed; i++)
            needed = strncmp(m->prev_plan.v[i], dir, dn) == 0 && m->prev_plan.v[i][dn] == '/';
        if (needed)
            continue;
        DIR *g_dir = opendir(dir);
        struct dirent *f;
        while (g_dir && (f = readdir(g_dir)) != NULL)
            if (f->d_name[0] != '.') {
                snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
                unlink(path);
            }
        if (g_dir)
            closedir(g_dir);
        rmdir(dir);
    }
    if (d)
        closedir(d);
}

/* Starts a generation of cfg->workers workers on m->plan in free slots; the
 * serving slots stop being replaced. */
static void start_generation(pb_master *m, const char *why, int client)
{
    m->reload.client = client; /* first: the workers forked below must close it */
    for (int i = 0; i < PB_SB_WORKERS; i++)
        m->want[i] = false;
    m->sb->generation++;
    m->sb->reloads++;
    /* Slots beyond reload_overlap x workers start as draining workers
     * leave (respawn_due), so generations never pile up. */
    int taken = 0;
    for (int i = 0; i < PB_SB_WORKERS && taken < m->cfg->workers; i++) {
        if (m->sb->workers[i].pid != 0)
            continue;
        m->want[i] = true;
        m->respawn_at[i] = 1;
        if (room_for_worker(m))
            spawn(m, i);
        taken++;
    }
    m->reload.active = true;
    m->reload.gen = m->sb->generation;
    m->reload.started_ns = pb_now_ns();
    m->reload.deadline = m->reload.started_ns + m->cfg->start_timeout * 1000000000LL;
    m->reload.crashes = 0;
    m->reload.client = client;
    m->reload.why = why;
    pb_log(PB_LOG_INFO, "%s: starting generation %u with %zu modules", why, m->sb->generation,
           m->plan.n);
}

/* A module file's identity: a new release, installed by rename(2) or in a
 * new folder, is a new inode (or path, or size, or time). */
static void file_id(const char *entry, char *out, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(entry, "\t"), entry);
    struct stat st;
    if (stat(path, &st) == 0)
        snprintf(out, n, "%s|%llu|%llu|%lld|%lld.%09ld", path, (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
    else
        snprintf(out, n, "%s|missing", path);
}

static void remember_refusals(pb_master *m, pb_pathlist *refusals)
{
    pb_pathlist_free(&m->refused);
    char id[4400];
    for (size_t i = 0; i < refusals->n; i++) {
        file_id(refusals->v[i], id, sizeof id);
        pb_pathlist_add(&m->refused, id);
    }
    pb_pathlist_free(&m->refusals);
    m->refusals = *refusals;
    *refusals = (pb_pathlist){0};
}

/* A refusal that stops a reload: one the serving generation's probe did not
 * make (a new or changed module file). Modules refused before and left
 * alone stay refused quietly. Returns the entry, or NULL. */
static const char *new_refusal(pb_master *m, const pb_pathlist *refusals)
{
    char id[4400];
    for (size_t i = 0; i < refusals->n; i++) {
        file_id(refusals->v[i], id, sizeof id);
        bool known = false;
        for (size_t k = 0; k < m->refused.n && !known; k++)
            known = strcmp(m->refused.v[k], id) == 0;
        if (!known)
            return refusals->v[i];
    }
    return NULL;
}

static json_t *refusal_json(const char *entry)
{
    const char *tab = strchr(entry, '\t');
    return json_pack("{s:s, s:s%, s:s}", "error", "reload refused: a module failed its checks",
                     "module", entry, tab ? (int)(tab - entry) : (int)strlen(entry), "reason",
                     tab ? tab + 1 : "refused");
}

/* Asked by SIGHUP, SIGUSR2 or `ctl reload` (client: the connection to
 * answer, or -1). */
static void begin_reload(pb_master *m, int client)
{
    char err[512];
    if (m->stopping || m->reload.active) {
        if (client >= 0)
            ctl_reply(client, json_pack("{s:s}", "error",
                                        m->stopping ? "the master is stopping"
                                                    : "a reload is already in progress"));
        return;
    }
    pb_pathlist plan = {0}, refusals = {0}, skip = {0};
    json_t *refusal = NULL;
    /* Modules refused before whose files have not changed stay refused,
     * without loading them again (one that crashed the probe would cost a
     * second probe). */
    char id[4400], path[4096];
    for (size_t i = 0; i < m->refusals.n; i++) {
        file_id(m->refusals.v[i], id, sizeof id);
        for (size_t k = 0; k < m->refused.n; k++)
            if (strcmp(m->refused.v[k], id) == 0) {
                snprintf(path, sizeof path, "%.*s", (int)strcspn(m->refusals.v[i], "\t"),
                         m->refusals.v[i]);
                pb_pathlist_add(&skip, path);
                pb_pathlist_add(&refusals, m->refusals.v[i]);
                break;
            }
    }
    int probed = pb_probe(m->cfg, pb_hostapi(), &skip, &plan, &refusals, err, sizeof err);
    pb_pathlist_free(&skip);
    if (probed < 0) {
        refusal = json_pack("{s:s, s:s}", "error", "reload refused", "reason", err);
    } else {
        const char *bad = new_refusal(m, &refusals);
        if (bad)
            refusal = refusal_json(bad);
        else if (pb_migrate(m->cfg, err, sizeof err) < 0)
            refusal = json_pack("{s:s, s:s}", "error", "reload refused: migrations failed",
                                "reason", err);
    }
    if (refusal) {
        pb_log(PB_LOG_ERROR, "%s: %s%s%s", json_string_value(json_object_get(refusal, "error")),
               json_string_value(json_object_get(refusal, "module"))
                   ? json_string_value(json_object_get(refusal, "module"))
                   : "",
               json_object_get(refusal, "module") ? ": " : "",
               json_string_value(json_object_get(refusal, "reason")));
        pb_event_record(m->cfg, "reload.refused", NULL, refusal);
        if (client >= 0)
            ctl_reply(client, refusal);
        else
            json_decref(refusal);
        pb_pathlist_free(&plan);
        pb_pathlist_free(&refusals);
        return;
    }
    if (keep_generation(m, &plan, m->sb->generation + 1, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "reload refused: %s", err);
        if (client >= 0)
            ctl_reply(client, json_pack("{s:s, s:s}", "error", "reload refused", "reason", err));
        pb_pathlist_free(&plan);
        pb_pathlist_free(&refusals);
        return;
    }
    pb_pathlist_free(&m->prev_plan);
    m->prev_plan = m->plan;
    m->plan = plan;
    remember_refusals(m, &refusals);
    start_generation(m, "reload", client);
}

/* Puts the previous module set back, as a new generation. */
static void roll_back(pb_master *m, const char *reason)
{
    if (m->prev_plan.n == 0)
        return;
    json_t *d = json_pack("{s:i, s:s}", "generation", (int)m->sb->generation, "reason", reason);
    pb_pathlist bad = m->plan;
    m->plan = m->prev_plan;
    m->prev_plan = (pb_pathlist){0};
    pb_pathlist_free(&bad);
    m->sb->rollbacks++;
    pb_event_record(m->cfg, "generation.rollback", NULL, d);
    json_decref(d);
    start_generation(m, "rollback", -1);
}

/* Tells every worker of other generations that is not draining yet to
 * finish its current request and exit (SIGQUIT), each with a deadline of
 * its own: one already draining keeps the deadline it has. */
static void retire_others(pb_master *m, uint32_t gen, int64_t now)
{
    for (int i = 0; i < PB_SB_WORKERS; i++) {
        pb_sb_worker *w = &m->sb->workers[i];
        if (w->pid == 0 || w->generation == gen || m->drain_deadline[i])
            continue;
        m->want[i] = false;
        m->drain_deadline[i] = now + m->cfg->drain_timeout * 1000000000LL;
        kill(w->pid, SIGQUIT);
    }
}

/* Each tick: retired workers past their drain deadline get TERM, and KILL
 * 2 s later. A drain ends after one request, so this is for a stuck one. */
static void enforce_drain_deadlines(pb_master *m, int64_t now)
{
    for (int i = 0; i < PB_SB_WORKERS; i++) {
        int64_t due = m->drain_deadline[i];
        if (m->sb->workers[i].pid == 0 || due == 0 || now <= due)
            continue;
        if (now > due + 2000000000LL && m->ended_by[i] != SIGKILL) {
            pb_log(PB_LOG_WARN, "worker %d still draining 2 s after its deadline: KILL",
                   (int)m->sb->workers[i].pid);
            end_worker(m, i, SIGKILL);
        } else if (m->ended_by[i] == 0) {
            pb_log(PB_LOG_WARN, "worker %d past its drain deadline (%ld s): TERM",
                   (int)m->sb->workers[i].pid, m->cfg->drain_timeout);
            end_worker(m, i, SIGTERM);
        }
    }
}

/* Each tick: is the coming generation up, late, or failing? */
static void check_reload(pb_master *m)
{
    int64_t now = pb_now_ns();
    enforce_drain_deadlines(m, now);
    if (!m->reload.active)
        return;
    int up = 0, want = 0, unstarted = 0;
    for (int i = 0; i < PB_SB_WORKERS; i++) {
        if (!m->want[i])
            continue;
        want++;
        pb_sb_worker *w = &m->sb->workers[i];
        up += w->pid && (w->state == PB_W_IDLE || w->state == PB_W_BUSY);
        unstarted += w->pid == 0 && w->generation != m->reload.gen;
    }
    /* The start clock runs from the last worker's fork: waiting for room
     * under reload_overlap is bounded by the drain deadlines instead. */
    if (unstarted)
        m->reload.deadline = now + m->cfg->start_timeout * 1000000000LL;
    uint32_t gen = m->reload.gen;
    if (up == want) {
        double took = (double)(now - m->reload.started_ns) / 1e6;
        retire_others(m, gen, now); /* finish the current request, then exit */
        m->serving_gen = gen;
        m->reload.active = false;
        if (strcmp(m->reload.why, "reload") == 0) {
            m->probation_gen = gen;
            m->probation_until = now + m->cfg->probation * 1000000000LL;
            m->probation_crashes = 0;
        }
        /* A new generation loads the modules afresh: quarantine ends. */
        m->sb->nquarantined = 0;
        __atomic_add_fetch(&m->sb->quarantine_seq, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < PB_SB_QUARANTINE; i++)
            m->crash_log[i].release_at = 0, m->crash_log[i].strikes = 0;
        pb_log(PB_LOG_INFO, "generation %u serving (%s took %.0f ms); the previous drains", gen,
               m->reload.why, took);
        drop_old_generations(m);
        /* Services that load the modules finish what they run and come back
         * on the new set (the scheduler lets running jobs end first). */
        for (int i = 0; i < m->nservices; i++)
            if (m->services[i].follows_plan && m->services[i].pid) {
                m->services[i].renewing = true;
                kill(m->services[i].pid, SIGTERM);
            }
        reload_answer(m, json_pack("{s:b, s:i, s:f, s:i}", "ok", 1, "generation", (int)gen,
                                   "took_ms", took, "modules", (int)m->plan.n));
        return;
    }
    if (now < m->reload.deadline && m->reload.crashes < m->cfg->quarantine_crashes)
        return;
    /* The new generation did not come up: kill it; the old one serves on. */
    const char *why =
        now >= m->reload.deadline ? "did not start in time" : "crashed while starting";
    int wanted = 0;
    for (int i = 0; i < PB_SB_WORKERS; i++) {
        pb_sb_worker *w = &m->sb->workers[i];
        if (w->pid && w->generation == gen)
            end_worker(m, i, SIGKILL);
        m->want[i] = w->pid && w->generation != gen && m->drain_deadline[i] == 0;
        wanted += m->want[i];
    }
    for (int i = 0; i < PB_SB_WORKERS && wanted < m->cfg->workers; i++) {
        if (!m->want[i] && m->sb->workers[i].pid == 0) { /* old ones that died meanwhile */
            m->want[i] = true;
            m->respawn_at[i] = 1;
            wanted++;
        }
    }
    m->sb->generation = m->serving_gen;
    m->reload.active = false;
    pb_pathlist bad = m->plan;
    m->plan = m->prev_plan;
    m->prev_plan = (pb_pathlist){0};
    pb_pathlist_free(&bad);
    json_t *d = json_pack("{s:i, s:s}", "generation", (int)gen, "reason", why);
    pb_event_record(m->cfg, "reload.failed", NULL, d);
    json_decref(d);
    reload_answer(
        m, json_pack("{s:s, s:s}", "error", "reload failed: the new generation", "reason", why));
}

/* Records a crash of module at now in its crash log, forgetting those older
 * than quarantine_window. Returns the log, or NULL when the table is full. */
static struct crash_log *crash_count(pb_master *m, const char *module, int64_t now)
{
    struct crash_log *c = NULL;
    for (int i = 0; i < PB_SB_QUARANTINE && c == NULL; i++)
        if (strcmp(m->crash_log[i].module, module) == 0 || m->crash_log[i].module[0] == '\0')
            c = &m->crash_log[i];
    if (c == NULL)
        return NULL;
    if (c->module[0] == '\0')
        snprintf(c->module, sizeof c->module, "%s", module);
    int64_t window = m->cfg->quarantine_window * 1000000000LL;
    int kept = 0;
    for (int i = 0; i < c->n; i++)
        if (now - c->at[i] < window)
            c->at[kept++] = c->at[i];
    c->n = kept;
    if (c->n < 64)
        c->at[c->n++] = now;
    return c;
}

static int word_is(const char *w, size_t n, void *ctx)
{
    const char *name = ctx;
    return strlen(name) == n && strncmp(w, name, n) == 0;
}

/* True for the modules [modules] core names: never quarantined. */
static bool is_core(const pb_config *cfg, const char *module)
{
    return pb_config_each_word(cfg->modules_core, word_is, (void *)module) != 0;
}

/* A core module reached the crash threshold: it keeps serving (the site is
 * unusable without it), and an operator is told, who decides. */
static void alert_core_crashing(pb_master *m, const char *module)
{
    pb_log(PB_LOG_ERROR,
           "module %s crashed %ld times within %ld s; it is a core module ([modules] core), so it "
           "keeps serving: an operator decides (plugboard ctl disable %s)",
           module, m->cfg->quarantine_crashes, m->cfg->quarantine_window, module);
    json_t *d = json_pack("{s:i, s:i, s:b}", "crashes", (int)m->cfg->quarantine_crashes, "window_s",
                          (int)m->cfg->quarantine_window, "core", 1);
    pb_event_record(m->cfg, "module.crashing", module, d);
    json_decref(d);
}

/* Puts a module's routes out of service (503) until a reload, or until
 * quarantine_release seconds (doubled by each quarantine since the last
 * reload, at most 32 times) have passed. */
static void quarantine(pb_master *m, struct crash_log *c, int64_t now)
{
    for (uint32_t i = 0; i < m->sb->nquarantined; i++)
        if (strcmp(m->sb->quarantined[i], c->module) == 0)
            return; /* already */
    if (m->sb->nquarantined >= PB_SB_QUARANTINE)
        return;
    snprintf(m->sb->quarantined[m->sb->nquarantined], PB_SB_MODLEN, "%s", c->module);
    m->sb->nquarantined++;
    __atomic_add_fetch(&m->sb->quarantine_seq, 1, __ATOMIC_RELEASE);
    long hold = m->cfg->quarantine_release << (c->strikes < 5 ? c->strikes : 5);
    c->strikes++;
    c->release_at = m->cfg->quarantine_release ? now + hold * 1000000000LL : 0;
    pb_log(PB_LOG_ERROR, "module %s quarantined after %ld crashes within %ld s%s", c->module,
           m->cfg->quarantine_crashes, m->cfg->quarantine_window,
           c->release_at ? "; it serves again on probation later" : "; a reload lifts it");
    json_t *d =
        json_pack("{s:i, s:i, s:i}", "crashes", (int)m->cfg->quarantine_crashes, "window_s",
                  (int)m->cfg->quarantine_window, "release_s", c->release_at ? (int)hold : 0);
    pb_event_record(m->cfg, "module.quarantined", c->module, d);
    json_decref(d);
}

/* Each tick: quarantined modules whose time is up serve again, on
 * probation (a further quarantine waits twice as long). */
static void release_quarantined(pb_master *m, int64_t now)
{
    for (int i = 0; i < PB_SB_QUARANTINE; i++) {
        struct crash_log *c = &m->crash_log[i];
        if (c->release_at == 0 || now < c->release_at)
            continue;
        c->release_at = 0;
        c->n = 0;
        uint32_t kept = 0;
        for (uint32_t q = 0; q < m->sb->nquarantined; q++)
            if (strcmp(m->sb->quarantined[q], c->module) != 0)
                memmove(m->sb->quarantined[kept++], m->sb->quarantined[q], PB_SB_MODLEN);
        m->sb->nquarantined = kept;
        __atomic_add_fetch(&m->sb->quarantine_seq, 1, __ATOMIC_RELEASE);
        pb_log(PB_LOG_INFO, "module %s serves again after its quarantine (on probation)",
               c->module);
        json_t *d = json_pack("{s:i}", "strikes", c->strikes);
        pb_event_record(m->cfg, "module.released", c->module, d);
        json_decref(d);
    }
}

/* A worker died of a signal: during a reload or a probation, it counts
 * against the new generation; otherwise against its module, which is
 * quarantined after quarantine_crashes crashes in quarantine_window. */
static void on_crash(pb_master *m, uint32_t gen, const char *module)
{
    int64_t now = pb_now_ns();
    if (m->reload.active && gen == m->reload.gen) {
        m->reload.crashes++;
        return;
    }
    if (gen == m->probation_gen && now < m->probation_until) {
        if (++m->probation_crashes >= m->cfg->quarantine_crashes) {
            m->probation_until = 0;
            char why[160];
            snprintf(why, sizeof why, "%d crashes within %ld s of the reload (last in module %s)",
                     m->probation_crashes, m->cfg->probation, module[0] ? module : "-");
            roll_back(m, why);
        }
        return;
    }
    if (module[0] == '\0')
        return;
    struct crash_log *c = crash_count(m, module, now);
    if (c == NULL || c->n < m->cfg->quarantine_crashes)
        return;
    c->n = 0;
    if (is_core(m->cfg, module))
        alert_core_crashing(m, module);
    else
        quarantine(m, c, now);
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

static void module_name(const char *path, char *out, size_t n)
{
    size_t plen = strcspn(path, "\t"); /* "path<TAB>reason": the reason may hold '/' */
    const char *base = path;
    for (size_t i = 0; i < plen; i++)
        if (path[i] == '/')
            base = path + i + 1;
    size_t len = plen - (size_t)(base - path);
    if (len > 3 && strncmp(base + len - 3, ".so", 3) == 0)
        len -= 3;
    snprintf(out, n, "%.*s", (int)len, base);
}

static bool quarantined(const pb_master *m, const char *name)
{
    for (uint32_t i = 0; i < m->sb->nquarantined; i++)
        if (strcmp(m->sb->quarantined[i], name) == 0)
            return true;
    return false;
}

/* Every module the master knows of: serving (active or quarantined),
 * refused by the probe (with the reason), or disabled at run time. */
static json_t *ctl_modules(pb_master *m)
{
    json_t *list = json_array();
    char name[256];
    for (size_t i = 0; i < m->plan.n; i++) {
        module_name(m->plan.v[i], name, sizeof name);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:i}", "name", name, "file", m->plan.v[i],
                                        "state", quarantined(m, name) ? "quarantined" : "active",
                                        "generation", (int)m->sb->generation));
    }
    for (size_t i = 0; i < m->refusals.n; i++) {
        const char *e = m->refusals.v[i], *tab = strchr(e, '\t');
        module_name(e, name, sizeof name);
        json_array_append_new(list, json_pack("{s:s, s:s%, s:s, s:s}", "name", name, "file", e,
                                              tab ? (int)(tab - e) : (int)strlen(e), "state",
                                              "failed", "reason", tab ? tab + 1 : "refused"));
    }
    FILE *f = m->cfg->modules_state[0] ? fopen(m->cfg->modules_state, "r") : NULL;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            json_array_append_new(list, json_pack("{s:s, s:s}", "name", line, "state", "disabled"));
    }
    if (f)
        fclose(f);
    return json_pack("{s:o, s:i}", "modules", list, "generation", (int)m->sb->generation);
}

/* A module name as modules are named: [a-z][a-z0-9_]*. */
static bool name_ok(const char *s)
{
    if (!(s[0] >= 'a' && s[0] <= 'z') || strlen(s) >= PB_SB_MODLEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* Adds (disable) or removes (enable) name in the state file, replacing it
 * atomically. Returns 0, or -1 with err. */
static int set_disabled(const pb_config *cfg, const char *name, bool disable, char *err,
                        size_t errlen)
{
    if (cfg->modules_state[0] == '\0') {
        snprintf(err, errlen, "no [modules] state_file is configured");
        return -1;
    }
    char tmp[4200], line[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->modules_state);
    FILE *in = fopen(cfg->modules_state, "r"), *out = fopen(tmp, "w");
    if (out == NULL) {
        snprintf(err, errlen, "%.400s: %s", tmp, strerror(errno));
        if (in)
            fclose(in);
        return -1;
    }
    while (in && fgets(line, sizeof line, in)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && strcmp(line, name) != 0)
            fprintf(out, "%s\n", line);
    }
    if (disable)
        fprintf(out, "%s\n", name);
    if (in)
        fclose(in);
    if (fclose(out) != 0 || rename(tmp, cfg->modules_state) != 0) {
        snprintf(err, errlen, "%.400s: %s", cfg->modules_state, strerror(errno));
        return -1;
    }
    return 0;
}

static void ctl_answer(pb_master *m)
{
    int fd = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char cmd[256], err[512];
    ssize_t n = recv(fd, cmd, sizeof cmd - 1, 0);
    cmd[n > 0 ? n : 0] = '\0';
    cmd[strcspn(cmd, "\r\n")] = '\0';
    char *arg = strchr(cmd, ' ');
    if (arg)
        *arg++ = '\0';
    if (strcmp(cmd, "status") == 0) {
        ctl_reply(fd, ctl_status(m));
    } else if (strcmp(cmd, "modules") == 0) {
        ctl_reply(fd, ctl_modules(m));
    } else if (strcmp(cmd, "reload") == 0) {
        begin_reload(m, fd); /* answered when the new generation is up, or refused */
    } else if ((strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) && arg && name_ok(arg)) {
        if (m->reload.active)
            ctl_reply(fd, json_pack("{s:s}", "error", "a reload is already in progress"));
        else if (set_disabled(m->cfg, arg, cmd[0] == 'd', err, sizeof err) < 0)
            ctl_reply(fd, json_pack("{s:s}", "error", err));
        else {
            pb_log(PB_LOG_INFO, "module %s %sd; reloading", arg, cmd);
            begin_reload(m, fd);
        }
    } else {
        ctl_reply(fd, json_pack("{s:s}", "error",
                                "unknown command; try: status, modules, reload, enable NAME, "
                                "disable NAME"));
    }
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
            pb_log(PB_LOG_INFO, "%s: reloading modules", strsignal((int)si.ssi_signo));
            begin_reload(m, -1);
            break;
        }
    }
}

static void run_loop(pb_master *m)
{
    for (;;) {
        struct pollfd p[2] = {{m->sig_fd, POLLIN, 0}, {m->ctl_fd, POLLIN, 0}};
        /* While a generation comes up, look often: ctl reload waits on it. */
        int n = poll(p, 2, m->reload.active ? 5 : TICK_MS);
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
        check_reload(m);
        release_quarantined(m, pb_now_ns());
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
    pb_pathlist refusals = {0};
    m.reload.client = -1;
    if (pb_probe(cfg, pb_hostapi(), NULL, &m.plan, &refusals, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "module probe failed, not starting: %s", err);
        goto out;
    }
    remember_refusals(&m, &refusals);
    if (keep_generation(&m, &m.plan, 1, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "not starting: %s", err);
        goto out;
    }
    m.sb->generation = m.serving_gen = 1;
    drop_old_generations(&m); /* what an earlier run kept */
    m.sb->nworkers = (uint32_t)cfg->workers;
    for (int i = 0; i < cfg->workers; i++) {
        m.want[i] = true;
        spawn(&m, i);
    }
    if (cfg->smtp_url[0]) { /* no SMTP server configured: mail waits in the outbox */
        m.services[m.nservices] = (struct service){"mailer", mailer_main, 0, 0, false, false};
        service_spawn(&m, &m.services[m.nservices++]);
    }
    m.services[m.nservices] = (struct service){"scheduler", pb_scheduler_main, 0, 0, true, false};
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
    pb_pathlist_free(&m.prev_plan);
    pb_pathlist_free(&m.refused);
    pb_pathlist_free(&m.refusals);
    if (m.reload.client >= 0)
        close(m.reload.client);
    unlink(cfg->pidfile);
    close(m.pid_fd);
    return rc;
}
