/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include <stdio.h>

#include "bus-util.h"
#include "macro.h"
#include "parse-util.h"

int bus_connect_transport(BusTransport transport, const char *host, bool user, sd_bus **ret) {
        switch (transport) {
        case BUS_TRANSPORT_LOCAL:
                if (user) {
                        /* As systemctl --user does: the manager's private socket first, which
                         * needs no session bus; then the session bus. */
                        _cleanup_free_ char *address = NULL;
                        const char *rt = getenv("XDG_RUNTIME_DIR");
                        sd_bus *bus = NULL;
                        int r;

                        if (rt && asprintf(&address, "unix:path=%s/systemd/private", rt) >= 0 &&
                            sd_bus_new(&bus) >= 0) {
                                r = sd_bus_set_address(bus, address);
                                if (r >= 0)
                                        r = sd_bus_start(bus);
                                if (r >= 0) {
                                        *ret = bus;
                                        return 0;
                                }
                                sd_bus_unref(bus);
                        }
                        return sd_bus_open_user(ret);
                }
                return sd_bus_open_system(ret);
        case BUS_TRANSPORT_REMOTE:
                if (user)
                        return -EOPNOTSUPP;
                return sd_bus_open_system_remote(ret, host);
        case BUS_TRANSPORT_MACHINE:
                if (user)
                        return -EOPNOTSUPP;
                return sd_bus_open_system_machine(ret, host);
        }
        return -EINVAL;
}

const char *bus_systemd_sender(sd_bus *bus) {
        return sd_bus_is_bus_client(bus) ? SYSTEMD_DESTINATION : NULL;
}

uint64_t now_monotonic(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int bus_run_until(sd_bus *bus, bool (*done)(void *userdata), void *userdata, uint64_t deadline) {
        return buses_run_until(&bus, 1, done, userdata, deadline);
}

int buses_run_until(sd_bus *const *buses, size_t n, bool (*done)(void *userdata), void *userdata, uint64_t deadline) {
        _cleanup_free_ struct pollfd *fds = calloc(MAX(n, (size_t) 1), sizeof(struct pollfd));

        if (!fds)
                return -ENOMEM;
        for (;;) {
                uint64_t now, wake = deadline;
                bool busy = false;
                int r;

                /* Everything queued on every bus first: a message read from one socket
                 * may leave more in its buffer, which poll() would not report. */
                for (size_t i = 0; i < n; i++) {
                        r = sd_bus_process(buses[i], NULL);
                        if (r < 0)
                                return r;
                        busy = busy || r > 0;
                }
                if (done(userdata))
                        return 0;
                if (busy)
                        continue;
                now = now_monotonic();
                if (now >= deadline)
                        return -ETIMEDOUT;
                for (size_t i = 0; i < n; i++) {
                        uint64_t t;

                        r = sd_bus_get_fd(buses[i]);
                        if (r < 0)
                                return r;
                        fds[i] = (struct pollfd) { .fd = r };
                        r = sd_bus_get_events(buses[i]);
                        if (r < 0)
                                return r;
                        fds[i].events = (short) r;
                        /* Its own timeouts (a method call's, the authentication's). */
                        if (sd_bus_get_timeout(buses[i], &t) >= 0 && t != UINT64_MAX && t < wake)
                                wake = t;
                }
                r = poll(fds, n, wake <= now ? 0 : (int) MIN((wake - now + 999) / 1000, (uint64_t) INT_MAX));
                /* A signal: @done sees why, if it cares (sockdctl's SIGINT does). */
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

int bus_subscribe(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        /* Without it, systemd sends neither JobRemoved nor PropertiesChanged on the
         * system bus (on its private socket it always does). Once per connection is
         * enough: a second call finds it done. */
        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", &error, NULL, "");
        if (r < 0 && sd_bus_error_has_name(&error, "org.freedesktop.systemd1.AlreadySubscribed"))
                r = 0;
        sd_bus_error_free(&error);
        return r;
}

typedef struct Job {
        char *path;
        char *unit;
        char *result;
} Job;

struct JobWaiter {
        sd_bus *bus;
        sd_bus_slot *slot;
        Job *jobs;
        size_t n_jobs;
        /* JobRemoved for paths not added yet: a job can finish before we record it. */
        Job *early;
        size_t n_early;
};

static void job_done(Job *j) {
        free(j->path);
        free(j->unit);
        free(j->result);
}

JobWaiter *job_waiter_free(JobWaiter *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->slot);
        for (size_t i = 0; i < w->n_jobs; i++)
                job_done(&w->jobs[i]);
        for (size_t i = 0; i < w->n_early; i++)
                job_done(&w->early[i]);
        free(w->jobs);
        free(w->early);
        sd_bus_unref(w->bus);
        free(w);
        return NULL;
}

static int append_job(Job **list, size_t *n, const char *path, const char *unit, const char *result) {
        Job *l = realloc(*list, sizeof(Job) * (*n + 1));

        if (!l)
                return -ENOMEM;
        *list = l;
        l[*n] = (Job) { .path = strdup(path), .unit = strdup(strempty(unit)), .result = result ? strdup(result) : NULL };
        if (!l[*n].path || !l[*n].unit || (result && !l[*n].result)) {
                job_done(&l[*n]);
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JobWaiter *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0)
                return 0; /* not ours to fail on */

        for (size_t i = 0; i < w->n_jobs; i++)
                if (streq(w->jobs[i].path, path)) {
                        free(w->jobs[i].result);
                        w->jobs[i].result = strdup(result);
                        return 0;
                }
        (void) append_job(&w->early, &w->n_early, path, unit, result);
        return 0;
}

int job_waiter_new(sd_bus *bus, JobWaiter **ret) {
        JobWaiter *w;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->bus = sd_bus_ref(bus);

        r = sd_bus_match_signal(bus, &w->slot, bus_systemd_sender(bus), SYSTEMD_PATH, SYSTEMD_MANAGER,
                                "JobRemoved", on_job_removed, w);
        if (r >= 0)
                r = bus_subscribe(bus);
        if (r < 0) {
                job_waiter_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int job_waiter_add(JobWaiter *w, const char *job_path, const char *unit) {
        const char *result = NULL;

        for (size_t i = 0; i < w->n_early; i++)
                if (streq(w->early[i].path, job_path))
                        result = w->early[i].result;
        return append_job(&w->jobs, &w->n_jobs, job_path, unit, result);
}

bool job_waiter_done(const JobWaiter *w) {
        for (size_t i = 0; i < w->n_jobs; i++)
                if (!w->jobs[i].result)
                        return false;
        return true;
}

static bool all_done(void *userdata) {
        return job_waiter_done(userdata);
}

int job_waiter_wait(JobWaiter *w, uint64_t deadline) {
        return bus_run_until(w->bus, all_done, w, deadline);
}

const char *job_waiter_result(const JobWaiter *w, const char *unit) {
        for (size_t i = 0; i < w->n_jobs; i++)
                if (streq(w->jobs[i].unit, unit))
                        return w->jobs[i].result;
        return NULL;
}

const char *job_result_explain(const char *result) {
        static const struct {
                const char *result, *text;
        } table[] = {
                { "done", "done" },
                { "failed", "failed" },
                { "timeout", "timed out" },
                { "canceled", "was canceled by another job" },
                { "dependency", "a unit it depends on failed" },
                { "skipped", "was skipped: nothing to do in its state" },
                { "invalid", "cannot be done in the unit's state" },
                { "assert", "an assertion of the unit failed" },
                { "unsupported", "is not supported by the unit" },
                { "collected", "was garbage-collected" },
                { "once", "was refused: the unit may only be started once" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(result, table[i].result))
                        return table[i].text;
        return result;
}

const char *bus_error_hint(const sd_bus_error *error, int r) {
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_ACCESS_DENIED, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") ||
            r == -EACCES || r == -EPERM)
                return "permission denied: run sockdctl as root (sudo), or use --user for your own user manager";
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ENXIO)
                return "cannot reach systemd's bus: is systemd running here, and D-Bus (or, with --user, your user manager)?";
        return NULL;
}
