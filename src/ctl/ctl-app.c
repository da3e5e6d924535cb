/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An app as systemd knows it: its target, its workers' services and sockets, their
 * StatusText; waiting for the workers' answers; reporting what failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

/* ---- the app as systemd knows it ---- */

void app_done(App *a) {
        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                free(w->service);
                free(w->socket_unit);
                free(w->service_path);
                free(w->socket_path);
                free(w->active_state);
                free(w->status_text);
                worker_status_done(&w->status);
                sd_bus_slot_unref(w->slot);
                free(w->error);
                free(w->failure_before);
                free(w->failure);
        }
        free(a->workers);
        free(a->name);
        free(a->source);
        *a = (App) {};
}

int fail_bus(int r, const sd_bus_error *error, const char *what) {
        const char *hint = bus_error_hint(error, r);

        if (hint)
                log_error("%s: %s", what, hint);
        else
                log_error("%s: %s", what, error && error->message ? error->message : strerror(-r));
        return r;
}

static int load_unit(sd_bus *bus, const char *unit, char **ret_path) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "LoadUnit", &error, &reply,
                               "s", unit);
        if (r < 0) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "Failed to load %s", unit) < 0)
                        what = NULL;
                fail_bus(r, &error, what ?: unit);
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                *ret_path = strdup(path);
        sd_bus_message_unref(reply);
        return r < 0 ? r : *ret_path ? 0 : -ENOMEM;
}

int get_string(sd_bus *bus, const char *path, const char *interface, const char *property, char **ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, path, interface, property, &error, ret);

        if (r < 0)
                fail_bus(r, &error, property);
        sd_bus_error_free(&error);
        return r;
}

int get_strv(sd_bus *bus, const char *path, const char *interface, const char *property, char ***ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_strv(bus, SYSTEMD_DESTINATION, path, interface, property, &error, ret);

        if (r < 0)
                fail_bus(r, &error, property);
        sd_bus_error_free(&error);
        return r;
}

/* The listening path of a socket unit, from its Listen= property a(ss). */
static int get_socket_path(sd_bus *bus, const char *unit, char **ret) {
        _cleanup_free_ char *path = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *type, *addr;
        int r;

        r = load_unit(bus, unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property(bus, SYSTEMD_DESTINATION, path, SYSTEMD_SOCKET, "Listen", &error, &reply, "a(ss)");
        sd_bus_error_free(&error);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        *ret = NULL;
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &type, &addr)) > 0)
                if (!*ret && streq(type, "Stream")) {
                        *ret = strdup(addr);
                        if (!*ret)
                                r = -ENOMEM;
                }
        sd_bus_message_unref(reply);
        if (r >= 0 && !*ret)
                *ret = strdup("-");
        return r < 0 ? r : *ret ? 0 : -ENOMEM;
}

/* The argv of service @path's first ExecStart=; -ENODATA if it has none. Quiet: the bus's
 * error is left in @error for the callers that report it. */
int get_exec_start(sd_bus *bus, const char *path, sd_bus_error *error, char ***ret) {
        sd_bus_message *reply = NULL;
        const char *program;
        int r;

        *ret = NULL;
        r = sd_bus_get_property(bus, SYSTEMD_DESTINATION, path, SYSTEMD_SERVICE, "ExecStart", error, &reply,
                                "a(sasbttttuii)");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sasbttttuii)");
        if (r > 0)
                r = sd_bus_message_enter_container(reply, 'r', "sasbttttuii");
        if (r > 0)
                r = sd_bus_message_read(reply, "s", &program);
        if (r > 0)
                r = sd_bus_message_read_strv(reply, ret);
        sd_bus_message_unref(reply);
        return r == 0 ? -ENODATA : r < 0 ? r : 0;
}

/* The --suspend= the worker's ExecStart= passes to sockd-spawn; queue, its default, when
 * it cannot be read. */
static SuspendMode get_suspend_mode(sd_bus *bus, const WorkerRef *w) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **argv = NULL;
        int r;

        r = get_exec_start(bus, w->service_path, &error, &argv);
        sd_bus_error_free(&error);
        if (r < 0)
                return SUSPEND_QUEUE;
        STRV_FOREACH(a, argv) {
                if (streq(*a, "--"))
                        break;
                if (streq(*a, "--suspend=hold"))
                        return SUSPEND_HOLD;
        }
        return SUSPEND_QUEUE;
}

static int compare_worker(const void *a, const void *b) {
        const WorkerRef *x = a, *y = b;
        return (x->index > y->index) - (x->index < y->index);
}

/* Finds APP's units. 0 and an exit code in *ret_exit on errors the user must fix. */
int app_load(sd_bus *bus, const char *name, App *ret) {
        _cleanup_free_ char *target = NULL, *path = NULL, *load_state = NULL, *source = NULL, *prefix = NULL;
        _cleanup_strv_free_ char **docs = NULL, **wants = NULL;
        App a = {};
        int r;

        if (!unit_prefix_is_valid(name)) {
                log_error("'%s' is not a valid app name.", name);
                return -EINVAL;
        }
        if (asprintf(&target, "%s.target", name) < 0 || asprintf(&prefix, "%s@", name) < 0)
                return log_oom();

        r = load_unit(bus, target, &path);
        if (r < 0)
                return r;
        r = get_string(bus, path, SYSTEMD_UNIT, "LoadState", &load_state);
        if (r < 0)
                return r;
        if (!streq(load_state, "loaded")) {
                log_error("No such app '%s': systemd has no %s. Check the config with "
                          "'sockd-generator --dry-run %s' and run 'systemctl%s daemon-reload'.",
                          name, target, name, arg_user ? " --user" : "");
                return -ENOENT;
        }
        r = get_strv(bus, path, SYSTEMD_UNIT, "Documentation", &docs);
        if (r < 0)
                return r;
        if (!strv_contains(docs, "man:sockd.conf(5)")) {
                log_error("%s is not a sockd app (it was not made by sockd-generator).", target);
                return -ENOENT;
        }
        r = get_string(bus, path, SYSTEMD_UNIT, "SourcePath", &source);
        if (r < 0)
                return r;
        r = get_strv(bus, path, SYSTEMD_UNIT, "Wants", &wants);
        if (r < 0)
                return r;

        a.name = strdup(name);
        a.source = TAKE_PTR(source);
        if (!a.name)
                return log_oom();

        STRV_FOREACH(u, wants) {
                const char *rest;
                char *end;
                unsigned long idx;
                WorkerRef *n;

                if (strncmp(*u, prefix, strlen(prefix)) != 0)
                        continue;
                rest = *u + strlen(prefix);
                idx = strtoul(rest, &end, 10);
                if (end == rest || !streq(end, ".service"))
                        continue;
                n = realloc(a.workers, sizeof(WorkerRef) * (a.n_workers + 1));
                if (!n) {
                        app_done(&a);
                        return log_oom();
                }
                a.workers = n;
                n[a.n_workers] = (WorkerRef) { .index = (unsigned) idx, .service = strdup(*u) };
                if (!n[a.n_workers].service || asprintf(&n[a.n_workers].socket_unit, "%s%lu.socket", prefix, idx) < 0) {
                        a.n_workers++;
                        app_done(&a);
                        return log_oom();
                }
                a.n_workers++;
        }
        qsort(a.workers, a.n_workers, sizeof(WorkerRef), compare_worker);

        for (unsigned i = 0; i < a.n_workers; i++) {
                r = load_unit(bus, a.workers[i].service, &a.workers[i].service_path);
                if (r >= 0)
                        r = get_socket_path(bus, a.workers[i].socket_unit, &a.workers[i].socket_path);
                if (r < 0) {
                        app_done(&a);
                        return r;
                }
        }
        a.suspend = a.n_workers > 0 ? get_suspend_mode(bus, &a.workers[0]) : SUSPEND_QUEUE;

        *ret = a;
        return 0;
}

int worker_refresh(sd_bus *bus, WorkerRef *w) {
        int r;

        w->active_state = mfree(w->active_state);
        w->status_text = mfree(w->status_text);
        worker_status_done(&w->status);
        r = get_string(bus, w->service_path, SYSTEMD_UNIT, "ActiveState", &w->active_state);
        if (r >= 0)
                r = get_string(bus, w->service_path, SYSTEMD_SERVICE, "StatusText", &w->status_text);
        if (r >= 0)
                r = worker_status_parse(w->status_text, &w->status);
        w->dirty = false;
        return r;
}

bool worker_active(const WorkerRef *w) {
        return w->active_state && (streq(w->active_state, "active") || streq(w->active_state, "reloading"));
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        WorkerRef *w = userdata;

        w->dirty = true;
        return 0;
}

/* PropertiesChanged of every worker, before any request is sent, so no answer is lost.
 * On the system bus systemd sends them only while some client is subscribed: that must
 * be us, not whoever else happens to be (logind is, on most machines). */
int app_watch(sd_bus *bus, App *a) {
        int r = bus_subscribe(bus);

        if (r < 0)
                return fail_bus(r, NULL, "Failed to subscribe to systemd's signals");
        for (unsigned i = 0; i < a->n_workers; i++) {
                r = sd_bus_match_signal(bus, &a->workers[i].slot, bus_systemd_sender(bus), a->workers[i].service_path,
                                            "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                            on_properties_changed, &a->workers[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch %s: %m", a->workers[i].service);
        }
        return 0;
}

int worker_signal(sd_bus *bus, WorkerRef *w, int sig) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "KillUnit", &error, NULL,
                               "ssi", w->service, "main", sig);
        if (r < 0) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "Failed to signal %s", w->service) < 0)
                        what = NULL;
                fail_bus(r, &error, what ?: w->service);
        }
        sd_bus_error_free(&error);
        return r;
}

/* ---- waiting for the workers ---- */

typedef struct Wait {
        sd_bus *const *buses;
        App *const *apps;
        size_t n;
        WorkerDone done;
        int error;
} Wait;

/* Whether @done holds for every involved worker of @a; status read again where a
 * PropertiesChanged came. */
static bool app_check(sd_bus *bus, App *a, WorkerDone done, int *error) {
        bool all = true;

        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];

                if (!w->involved)
                        continue;
                if (w->dirty) {
                        int r = worker_refresh(bus, w);
                        if (r < 0) {
                                *error = r;
                                return true;
                        }
                        /* Kept: systemd clears StatusText when the worker starts again. */
                        if (!w->failure && new_failure(w)) {
                                w->failure = strdup(w->status.failure);
                                w->failed = w->status.failed;
                        }
                }
                if (!done(w))
                        all = false;
        }
        return all;
}

static bool wait_check(void *userdata) {
        Wait *wt = userdata;
        bool all = true;

        if (interrupted)
                return true;
        for (size_t i = 0; i < wt->n; i++) {
                if (!app_check(wt->buses[i], wt->apps[i], wt->done, &wt->error))
                        all = false;
                if (wt->error < 0)
                        return true;
        }
        return all;
}

/* The hosts whose bus closed since the last look (their ssh session ended): named once,
 * and each involved worker there marked failed, so that the operation goes on with the
 * others (and aborts them). How many were newly lost. */
static unsigned apps_mark_lost(sd_bus *const *buses, App *const *apps, size_t n) {
        unsigned lost = 0;

        for (size_t i = 0; i < n; i++) {
                App *a = apps[i];

                if (a->lost || sd_bus_is_open(buses[i]) > 0)
                        continue;
                a->lost = true;
                lost++;
                log_error("Lost the connection to systemd%s%s.", a->host ? " on " : "", strempty(a->host));
                for (unsigned j = 0; j < a->n_workers; j++) {
                        WorkerRef *w = &a->workers[j];
                        if (w->involved && !w->error)
                                w->error = strdup("the connection to its host was lost: whether it got the last "
                                                  "request is unknown");
                }
        }
        return lost;
}

int apps_wait(sd_bus *const *buses, App *const *apps, size_t n, WorkerDone done, uint64_t deadline) {
        _cleanup_free_ sd_bus **open_buses = calloc(MAX(n, (size_t) 1), sizeof(sd_bus *));
        _cleanup_free_ App **open_apps = calloc(MAX(n, (size_t) 1), sizeof(App *));
        int r;

        if (!open_buses || !open_apps)
                return log_oom();
        for (size_t i = 0; i < n; i++)
                for (unsigned j = 0; j < apps[i]->n_workers; j++)
                        apps[i]->workers[j].dirty = true; /* the first look reads them all */
        for (;;) {
                size_t m = 0;

                (void) apps_mark_lost(buses, apps, n);
                for (size_t i = 0; i < n; i++)
                        if (!apps[i]->lost) {
                                open_buses[m] = buses[i];
                                open_apps[m++] = apps[i];
                        }
                if (m == 0)
                        return -ENOTCONN;

                Wait wt = { .buses = open_buses, .apps = open_apps, .n = m, .done = done };
                r = buses_run_until(open_buses, m, wait_check, &wt, deadline);
                if (interrupted)
                        return -EINTR;
                if (r >= 0)
                        r = wt.error;
                /* A host lost on the way: the others are waited for still. */
                if (r >= 0 || r == -ETIMEDOUT || apps_mark_lost(buses, apps, n) == 0)
                        return r;
        }
}

bool app_failed(const App *a) {
        for (unsigned i = 0; i < a->n_workers; i++)
                if (a->workers[i].involved && a->workers[i].error)
                        return true;
        return false;
}

/* A failure this operation caused: newer than what StatusText showed before. */
bool new_failure(const WorkerRef *w) {
        if (!w->status.failure)
                return false;
        if (w->status.failed.number > 0)
                return w->status.failed.number > MAX(w->before.number, w->failed_before);
        return !streq_ptr(w->status.failure, w->failure_before); /* a refusal, no generation */
}

/* The new generation of a prepare is up (ready), or it failed, or the worker is gone. */
bool prepared_done(const WorkerRef *w) {
        return !worker_active(w) || w->status.ready.number > w->before.number || new_failure(w);
}

/* Every wait also ends on the failure it can see: a prepared generation that died before
 * the commit reached it, a suspension the shim refused. */
bool committed_done(const WorkerRef *w) {
        return !worker_active(w) || w->status.serving.number > w->before.number || new_failure(w);
}

bool suspended_done(const WorkerRef *w) {
        return !worker_active(w) || new_failure(w) ||
               ((w->status.suspended.number > w->before.number || w->status.queueing) &&
                w->status.serving.number == 0 && w->status.n_draining == 0);
}

bool aborted_done(const WorkerRef *w) {
        return !worker_active(w) || (w->status.starting.number <= w->before.number &&
                                     w->status.ready.number <= w->before.number);
}

bool resumed_done(const WorkerRef *w) {
        return !worker_active(w) ||
               (w->status.serving.number > 0 && w->status.suspended.number == 0 && !w->status.queueing) ||
               new_failure(w);
}

/* ---- journal ---- */

/* The last lines a failed generation (pid) logged, when the journal is here to read. */
static void print_journal_tail(const char *unit, pid_t pid, unsigned n) {
        _cleanup_free_ char *match_unit = NULL, *match_pid = NULL;
        sd_journal *j = NULL;
        char **lines = NULL;
        unsigned got = 0;

        if (arg_transport != BUS_TRANSPORT_LOCAL || n == 0) {
                fprintf(stderr, "  (see: journalctl%s -u %s on that host)\n", arg_user ? " --user" : "", unit);
                return;
        }
        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | (arg_user ? SD_JOURNAL_CURRENT_USER : 0)) < 0)
                return;
        if (asprintf(&match_unit, "%s=%s", arg_user ? "_SYSTEMD_USER_UNIT" : "_SYSTEMD_UNIT", unit) < 0 ||
            asprintf(&match_pid, "_PID=%d", (int) pid) < 0)
                goto finish;
        if (sd_journal_add_match(j, match_unit, 0) < 0 || (pid > 0 && sd_journal_add_match(j, match_pid, 0) < 0) ||
            sd_journal_seek_tail(j) < 0)
                goto finish;

        lines = calloc(n, sizeof(char *));
        if (!lines)
                goto finish;
        while (got < n && sd_journal_previous(j) > 0) {
                const void *data;
                size_t len;

                if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len < 8)
                        continue;
                lines[got++] = strndup((const char *) data + 8, len - 8);
        }
        if (got > 0 && pid > 0)
                fprintf(stderr, "  last log lines of pid %d (journalctl -u %s):\n", (int) pid, unit);
        else if (got > 0)
                fprintf(stderr, "  last log lines (journalctl -u %s):\n", unit);
        while (got > 0) {
                /* What the app logged: nothing in it may drive the terminal. */
                _cleanup_free_ char *l = lines[--got], *e = escape_for_terminal(l);
                fprintf(stderr, "    %s\n", strempty(e));
        }
finish:
        free(lines);
        sd_journal_close(j);
}

/* The worker is not running: what systemd says of its last run. */
static void print_worker_result(sd_bus *bus, const WorkerRef *w) {
        _cleanup_free_ char *result = NULL;
        int32_t code = 0, status = 0;

        (void) sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE, "Result", NULL,
                                          &result);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE, "ExecMainCode",
                                           NULL, 'i', &code);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE, "ExecMainStatus",
                                           NULL, 'i', &status);
        fprintf(stderr, "  %s: the worker is %s", w->service, strempty(w->active_state));
        if (result && !streq(result, "success")) {
                fprintf(stderr, " (result: %s", result);
                if (code == CLD_EXITED && status != 0)
                        fprintf(stderr, ", exit status %d", (int) status);
                fputc(')', stderr);
        }
        fprintf(stderr, "; systemd restarts a worker that failed (systemctl%s status %s)\n", arg_user ? " --user" : "",
                w->service);
}

static void report_worker_failure(sd_bus *bus, const App *a, const WorkerRef *w) {
        /* What the worker said, as it said it then, or as it says it now. */
        const char *failure = w->failure ?: new_failure(w) ? w->status.failure : NULL;
        WorkerGeneration failed = w->failure ? w->failed : w->status.failed;
        _cleanup_free_ char *escaped = escape_for_terminal(failure);

        if (failure) {
                if (failed.number > 0)
                        fprintf(stderr, "  %s: generation %" PRIu64 " (pid %d) %s\n", w->service, failed.number,
                                (int) failed.pid, strempty(escaped));
                else
                        fprintf(stderr, "  %s: %s\n", w->service, strempty(escaped));
        }
        if (!worker_active(w))
                print_worker_result(bus, w);
        else if (!failure) {
                _cleanup_free_ char *status = escape_for_terminal(w->status_text);
                fprintf(stderr, "  %s: %s (status: %s)\n", w->service, strempty(w->error), strempty(status));
        }
        if (failed.pid > 0 && failure && !strstr(failure, "was aborted"))
                print_journal_tail(w->service, failed.pid, 5);
        else if (!worker_active(w))
                print_journal_tail(w->service, 0, 5);
}

void report_failures(sd_bus *bus, const App *a, const char *what) {
        fprintf(stderr, "sockdctl: %s of %s failed%s%s:\n", what, a->name, a->host ? " on " : "", strempty(a->host));
        for (unsigned i = 0; i < a->n_workers; i++) {
                const WorkerRef *w = &a->workers[i];
                if (w->involved && w->error)
                        report_worker_failure(bus, a, w);
        }
}

void mark_unanswered(App *a, WorkerDone done) {
        _cleanup_free_ char *t = format_duration(arg_timeout);

        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                if (w->involved && !w->error && !done(w) && asprintf(&w->error, "no answer within --timeout=%s", strempty(t)) < 0)
                        w->error = NULL;
        }
}

int worker_involve(WorkerRef *w, WorkerGeneration before) {
        w->involved = true;
        w->before = before;
        w->failed_before = w->status.failed.number;
        free(w->failure_before);
        w->failure_before = w->status.failure ? strdup(w->status.failure) : NULL;
        return w->status.failure && !w->failure_before ? -ENOMEM : 0;
}

/* ---- jobs ---- */

int app_jobs(sd_bus *bus, App *a, const char *method, bool services, bool sockets, bool only_inactive,
             uint64_t deadline) {
        _cleanup_(job_waiter_freep) JobWaiter *waiter = NULL;
        unsigned failures = 0;
        int r;

        r = job_waiter_new(bus, &waiter);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd's jobs: %m");

        /* Sockets first: a worker started before its socket would have none to take. */
        for (int pass = 0; pass < 2; pass++)
                for (unsigned i = 0; i < a->n_workers; i++) {
                        WorkerRef *w = &a->workers[i];
                        const char *unit = pass == 0 ? w->socket_unit : w->service;
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        sd_bus_message *reply = NULL;
                        const char *job;

                        if ((pass == 0 && !sockets) || (pass == 1 && !services))
                                continue;
                        /* A worker the operation involved is systemd's to restart if it
                         * failed: starting it here would only join that. */
                        if (only_inactive && (worker_active(w) || w->involved))
                                continue;
                        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, method, &error,
                                               &reply, "ss", unit, "replace");
                        if (r >= 0)
                                r = sd_bus_message_read(reply, "o", &job);
                        if (r >= 0)
                                r = job_waiter_add(waiter, job, unit);
                        sd_bus_message_unref(reply);
                        if (r < 0) {
                                _cleanup_free_ char *what = NULL;
                                if (asprintf(&what, "Failed to %s %s", streq(method, "StartUnit") ? "start" : "stop", unit) < 0)
                                        what = NULL;
                                fail_bus(r, &error, what ?: unit);
                                sd_bus_error_free(&error);
                                return r;
                        }
                }

        r = job_waiter_wait(waiter, deadline);
        if (r == -ETIMEDOUT)
                return log_error_errno(r, "Timed out after %" PRIu64 "s waiting for systemd's jobs.", arg_timeout / USEC_PER_SEC);
        if (r < 0)
                return log_error_errno(r, "Failed to wait for systemd's jobs: %m");

        for (int pass = 0; pass < 2; pass++)
                for (unsigned i = 0; i < a->n_workers; i++) {
                        WorkerRef *w = &a->workers[i];
                        const char *unit = pass == 0 ? w->socket_unit : w->service;
                        const char *result = job_waiter_result(waiter, unit);
                        _cleanup_free_ char *why = NULL;

                        if (!result || streq(result, "done"))
                                continue;
                        failures++;
                        if (pass == 1)
                                (void) sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE,
                                                                  "Result", NULL, &why);
                        log_error("%s of %s %s%s%s%s.", streq(method, "StartUnit") ? "Start" : "Stop", unit,
                                  job_result_explain(result), why ? " (result: " : "", strempty(why), why ? ")" : "");
                        if (pass == 1 && streq(method, "StartUnit"))
                                print_journal_tail(w->service, 0, 5);
                }
        return failures > 0 ? -EIO : 0;
}

int manager_reload(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        /* The reply comes once systemd has reloaded (and run the generators). */
        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "Reload");
        if (r >= 0)
                r = sd_bus_call(bus, m, arg_timeout, &error, &reply);
        if (r < 0)
                fail_bus(r, &error, "Failed to reload systemd's units (daemon-reload)");
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        return r;
}
