/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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
