/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

/* systemd's own channel to the shim, so that sockdctl works wherever systemctl does
 * (--user, -H, -M): it sends these with KillUnit(..., "main", signal) and follows the
 * outcome in the unit's StatusText. */
#define WORKER_SIGNAL_PREPARE (SIGRTMIN + 1)
#define WORKER_SIGNAL_COMMIT (SIGRTMIN + 2)
#define WORKER_SIGNAL_ABORT (SIGRTMIN + 3)
#define WORKER_SIGNAL_PREPARE_SUSPENDED (SIGRTMIN + 4)
#define WORKER_SIGNAL_SUSPEND (SIGRTMIN + 5)
#define WORKER_SIGNAL_RESUME (SIGRTMIN + 6)
/* The next ExecReload= (ReloadUnit, which sockdctl sends next) only delivers the unit's
 * settings as systemd has them loaded now, for the prepare or resume that follows. A
 * signal whose default action is to be ignored: a sockd-spawn older than this, which
 * does not know it, must not die of it (its ExecReload= then fails, and says why). */
#define WORKER_SIGNAL_EXPECT_SETTINGS SIGURG
/* Sent to a held Ready=notify app: release the requests you hold. */
#define WORKER_APP_RESUME_SIGNAL SIGUSR2

/* sockd-spawn's StatusText: "; "-separated items "STATE: generation N, pid P" (serving,
 * suspended, starting, ready, draining), the app's own STATUS= in parentheses after the
 * serving one, "draining: N more", "suspended: queueing", "failed: generation N, pid P:
 * why" or "failed: why", "backing off after N crashes"; "starting" or "stopped" alone
 * when there is nothing else. The reader skips items it does not know, so older and
 * newer shims can talk.
 *
 * systemd drops a notify datagram of PIPE_BUF (4096) bytes or more whole, and the
 * StatusText would stay what it was: the writer keeps it far below that. */
#define WORKER_STATUS_TEXT_MAX 2048U
#define WORKER_STATUS_FAILURE_MAX 512U
#define WORKER_STATUS_APP_MAX 200U

typedef struct WorkerGeneration {
        uint64_t number; /* 0: none */
        pid_t pid;
} WorkerGeneration;

#define WORKER_STATUS_MAX_DRAINING 8

typedef struct WorkerStatus {
        WorkerGeneration serving;
        WorkerGeneration suspended; /* held (Suspend=hold) */
        bool queueing;              /* suspended with no generation (Suspend=queue) */
        WorkerGeneration starting;
        WorkerGeneration ready;
        /* Standby=yes: the spare generation, booting or ready to take over */
        WorkerGeneration standby_starting;
        WorkerGeneration standby;
        unsigned n_draining;        /* may exceed the array: only the first are kept */
        WorkerGeneration draining[WORKER_STATUS_MAX_DRAINING];
        WorkerGeneration failed;
        char *failure;              /* the "why" of the failed item, NULL if none */
        bool backing_off;
        unsigned crashes;           /* with backing_off */
        char *app_status;           /* the serving (or held) app's own STATUS=, NULL if none */
} WorkerStatus;

void worker_status_done(WorkerStatus *s);
int worker_status_parse(const char *text, WorkerStatus *ret);

/* The text for @s, what worker_status_parse() reads back as @s: app status and failure
 * cut to their maximum, at most WORKER_STATUS_MAX_DRAINING draining items and then
 * "draining: N more", so that it is never longer than WORKER_STATUS_TEXT_MAX. With
 * nothing to say: "stopped" if @stopping, else "starting". */
int worker_status_format(const WorkerStatus *s, bool stopping, char **ret);

/* The generation that answers requests now: serving, else the held one. */
static inline WorkerGeneration worker_status_current(const WorkerStatus *s) {
        return s->serving.number > 0 ? s->serving : s->suspended;
}
