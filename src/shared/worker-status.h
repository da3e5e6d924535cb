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
/* Sent to a held Ready=notify app: release the requests you hold. */
#define WORKER_APP_RESUME_SIGNAL SIGUSR2

/* sockd-spawn's StatusText, read back: "; "-separated items "STATE: generation N, pid P"
 * (serving, suspended, starting, ready, draining), "suspended: queueing", "failed:
 * generation N, pid P: why" or "failed: why", "backing off after N crashes". Items it
 * does not know are skipped, so older and newer shims can talk. */

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
        unsigned n_draining;        /* may exceed the array: only the first are kept */
        WorkerGeneration draining[WORKER_STATUS_MAX_DRAINING];
        WorkerGeneration failed;
        char *failure;              /* the "why" of the failed item, NULL if none */
        bool backing_off;
} WorkerStatus;

void worker_status_done(WorkerStatus *s);
int worker_status_parse(const char *text, WorkerStatus *ret);

/* The generation that answers requests now: serving, else the held one. */
static inline WorkerGeneration worker_status_current(const WorkerStatus *s) {
        return s->serving.number > 0 ? s->serving : s->suspended;
}
