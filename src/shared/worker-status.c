/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "worker-status.h"

void worker_status_done(WorkerStatus *s) {
        free(s->failure);
        *s = (WorkerStatus) {};
}

/* "generation N, pid P" at @p; returns what follows, or NULL if it is not that. */
static const char *parse_generation(const char *p, WorkerGeneration *ret) {
        uint64_t n;
        int pid, used = 0;

        if (sscanf(p, "generation %" SCNu64 ", pid %d%n", &n, &pid, &used) != 2 || used == 0 || n == 0 || pid <= 0)
                return NULL;
        *ret = (WorkerGeneration) { .number = n, .pid = pid };
        return p + used;
}

static int parse_item(const char *item, WorkerStatus *s) {
        static const struct {
                const char *prefix;
                size_t offset;
        } simple[] = {
                { "serving: ", offsetof(WorkerStatus, serving) },
                { "suspended: ", offsetof(WorkerStatus, suspended) },
                { "starting: ", offsetof(WorkerStatus, starting) },
                { "ready: ", offsetof(WorkerStatus, ready) },
        };
        WorkerGeneration g;
        const char *rest;

        if (streq(item, "suspended: queueing")) {
                s->queueing = true;
                return 0;
        }
        if (strncmp(item, "backing off", 11) == 0) {
                s->backing_off = true;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (strncmp(item, simple[i].prefix, strlen(simple[i].prefix)) == 0 &&
                    parse_generation(item + strlen(simple[i].prefix), &g)) {
                        *(WorkerGeneration *) ((uint8_t *) s + simple[i].offset) = g;
                        return 0;
                }
        if (strncmp(item, "draining: ", 10) == 0 && parse_generation(item + 10, &g)) {
                if (s->n_draining < WORKER_STATUS_MAX_DRAINING)
                        s->draining[s->n_draining] = g;
                s->n_draining++;
                return 0;
        }
        if (strncmp(item, "failed: ", 8) == 0) {
                rest = parse_generation(item + 8, &g);
                if (rest && strncmp(rest, ": ", 2) == 0) {
                        s->failed = g;
                        rest += 2;
                } else
                        rest = item + 8;
                free(s->failure);
                s->failure = strdup(rest);
                return s->failure ? 0 : -ENOMEM;
        }
        return 0; /* not ours: skipped */
}

int worker_status_parse(const char *text, WorkerStatus *ret) {
        WorkerStatus s = {};
        int r;

        for (const char *p = text ?: ""; *p;) {
                const char *end = strstr(p, "; ");
                size_t n = end ? (size_t) (end - p) : strlen(p);
                _cleanup_free_ char *item = strndup(p, n);

                if (!item) {
                        worker_status_done(&s);
                        return -ENOMEM;
                }
                r = parse_item(item, &s);
                if (r < 0) {
                        worker_status_done(&s);
                        return r;
                }
                p += n;
                if (end)
                        p += 2;
        }
        *ret = s;
        return 0;
}
