"""An idle installation sleeps: with no traffic, the plugboard processes
(master, workers, mailer, scheduler) and their PostgreSQL backends use
almost no CPU and almost no transactions. (core.mail_next_due() and
core.job_next_due() once answered 0 instead of NULL with nothing due, and
the mailer and the scheduler woke every millisecond: ~3,100 transactions a
second, ~80% of a core.)

The integration runner runs one test at a time, so nothing of the suite
runs during the window; work an earlier test left behind (a run in flight,
a retry due soon) is waited out first."""

import os
import subprocess
import time
import unittest

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")
PIDFILE = os.path.join(pb.VAR, "run", "plugboard.pid")
WINDOW = 30.0
MAX_CPU = 0.01  # of one core
MAX_XACT_PER_S = 10.0
TICK = os.sysconf("SC_CLK_TCK")


def psql(sql):
    """Runs sql as the superuser in the database postgres (so that the
    measuring queries are not counted in the plugboard database's
    figures); returns the rows as lists of strings."""
    cmd = ["psql", "-h", PGHOST, "-U", "postgres", "-d", "postgres", "-X", "-q", "-At",
           "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def plugboard_backends():
    return [int(r[0]) for r in psql(
        "SELECT pid FROM pg_stat_activity WHERE datname = 'plugboard' "
        "AND pid <> pg_backend_pid()")]


def transactions():
    (row,) = psql("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                  "WHERE datname = 'plugboard'")
    return int(row[0])


class IdleTest(unittest.TestCase):
    def quiet_or_reason(self):
        soon = int(WINDOW + 5)
        cmd = ["psql", "-h", PGHOST, "-U", "postgres", "-d", "plugboard", "-X", "-q", "-At",
               "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c",
               "SELECT (SELECT count(*) FROM core.jobs WHERE status = 'running'), "
               "(SELECT count(*) FROM core.jobs WHERE status = 'queued' "
               f" AND run_at < now() + interval '{soon} s'), "
               "(SELECT count(*) FROM core.outbox WHERE status = 'pending' "
               f" AND next_attempt_at < now() + interval '{soon} s'), "
               "(SELECT count(*) FROM core.job_schedules WHERE enabled "
               f" AND coalesce(next_run_at, now()) < now() + interval '{soon} s')"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)
        running, queued, mail, schedules = (int(x) for x in out.stdout.split())
        why = []
        if running:
            why.append(f"{running} job run(s) in flight")
        if queued:
            why.append(f"{queued} job run(s) due within {soon} s")
        if mail:
            why.append(f"{mail} message(s) due within {soon} s")
        if schedules:
            why.append(f"{schedules} schedule(s) firing within {soon} s")
        return ", ".join(why)

    def test_idle_stack_uses_under_1pct_cpu_and_10_transactions_a_second(self):
        with open(PIDFILE) as f:
            master = int(f.read().split()[0])
        # Work left by earlier tests runs first (at most a minute); the
        # window then holds nothing that is due.
        deadline = time.monotonic() + 60
        why = self.quiet_or_reason()
        while why and time.monotonic() < deadline:
            time.sleep(1)
            why = self.quiet_or_reason()
        if why:
            self.fail(f"the stack never became idle: {why}")
        time.sleep(2)  # let the processes that just answered settle

        procs = descendants(master) + plugboard_backends()
        before = {p: cpu_ticks(p) for p in procs}
        x0 = transactions()
        t0 = time.monotonic()
        time.sleep(WINDOW)
        x1 = transactions()
        elapsed = time.monotonic() - t0
        # Processes that came or went count too: a new backend or worker
        # in an idle stack is itself activity worth seeing.
        procs = set(procs) | set(descendants(master)) | set(plugboard_backends())
        used = 0
        detail = []
        for p in procs:
            b, a = before.get(p) or 0, cpu_ticks(p)
            if a is None:
                continue
            used += a - b
            if a - b:
                detail.append(f"{p}: {a - b}")
        cpu = used / TICK / elapsed
        xact = (x1 - x0) / elapsed
        print(f"\n    idle {elapsed:.1f} s: cpu {cpu * 100:.2f}% of a core, "
              f"{xact:.2f} transactions/s ({len(procs)} processes)")
        self.assertLess(cpu, MAX_CPU, f"ticks per process: {', '.join(detail)}")
        self.assertLess(xact, MAX_XACT_PER_S)


if __name__ == "__main__":
    unittest.main()
