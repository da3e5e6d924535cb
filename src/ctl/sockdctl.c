/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockdctl: status, start/stop, zero-downtime all-or-nothing restarts and suspended
 * restarts of sockd apps, over D-Bus to systemd.
 *
 * The shims are steered through systemd's own channel: KillUnit(worker, "main", signal)
 * carries the request (prepare, commit, abort, suspend, resume) and the unit's
 * StatusText carries the answer. So sockdctl works wherever systemctl does: --user,
 * -H over ssh, -M into a container, with no socket of its own to reach.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "bus-util.h"
#include "config.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "strv.h"
#include "worker-status.h"

#define EXIT_OPERATION_FAILED 1
#define EXIT_USAGE 2


#define SYSTEMD_VERSION_MIN 245

static bool arg_user = false;
static BusTransport arg_transport = BUS_TRANSPORT_LOCAL;
static const char *arg_host = NULL;
static bool arg_json = false;
static bool arg_quiet = false;
static bool arg_suspended = false;
static usec_t arg_timeout = 5 * 60 * USEC_PER_SEC;

static volatile sig_atomic_t interrupted = 0;

/* ---- the app as systemd knows it ---- */

typedef struct WorkerRef {
        unsigned index;
        char *service;      /* APP@N.service */
        char *socket_unit;  /* APP@N.socket */
        char *service_path; /* its D-Bus object */
        char *socket_path;  /* the listening socket's file */

        char *active_state;
        char *status_text;
        WorkerStatus status;
        bool dirty; /* a PropertiesChanged came: read it again */
        sd_bus_slot *slot;

        /* what the operation knows of it */
        WorkerGeneration before;
        uint64_t failed_before; /* a failure already in StatusText is not this operation's */
        char *failure_before;
        bool involved;
        char *error;
} WorkerRef;

typedef struct App {
        char *name;
        char *source;
        WorkerRef *workers;
        unsigned n_workers;
        SuspendMode suspend;
} App;

static void app_done(App *a) {
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
        }
        free(a->workers);
        free(a->name);
        free(a->source);
        *a = (App) {};
}

static int fail_bus(int r, const sd_bus_error *error, const char *what) {
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

static int get_string(sd_bus *bus, const char *path, const char *interface, const char *property, char **ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, path, interface, property, &error, ret);

        if (r < 0)
                fail_bus(r, &error, property);
        sd_bus_error_free(&error);
        return r;
}

static int get_strv(sd_bus *bus, const char *path, const char *interface, const char *property, char ***ret) {
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

/* The --suspend= and --ready-timeout= the worker's ExecStart= passes to sockd-spawn. */
static int get_spawn_options(sd_bus *bus, WorkerRef *w, SuspendMode *ret_suspend) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        int r;

        *ret_suspend = SUSPEND_QUEUE;
        r = sd_bus_get_property(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE, "ExecStart", &error, &reply,
                                "a(sasbttttuii)");
        sd_bus_error_free(&error);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sasbttttuii)");
        if (r > 0)
                r = sd_bus_message_enter_container(reply, 'r', "sasbttttuii");
        if (r > 0)
                r = sd_bus_message_read(reply, "s", &path);
        if (r > 0) {
                _cleanup_strv_free_ char **argv = NULL;

                r = sd_bus_message_read_strv(reply, &argv);
                STRV_FOREACH(a, argv) {
                        if (streq(*a, "--"))
                                break;
                        if (streq(*a, "--suspend=hold"))
                                *ret_suspend = SUSPEND_HOLD;
                }
        }
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

static int compare_worker(const void *a, const void *b) {
        const WorkerRef *x = a, *y = b;
        return (x->index > y->index) - (x->index < y->index);
}

/* Finds APP's units. 0 and an exit code in *ret_exit on errors the user must fix. */
static int app_load(sd_bus *bus, const char *name, App *ret) {
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
        if (a.n_workers > 0)
                (void) get_spawn_options(bus, &a.workers[0], &a.suspend);

        *ret = a;
        return 0;
}

static int worker_refresh(sd_bus *bus, WorkerRef *w) {
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

static bool worker_active(const WorkerRef *w) {
        return w->active_state && (streq(w->active_state, "active") || streq(w->active_state, "reloading"));
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        WorkerRef *w = userdata;

        w->dirty = true;
        return 0;
}

/* PropertiesChanged of every worker, before any request is sent, so no answer is lost. */
static int app_watch(sd_bus *bus, App *a) {
        for (unsigned i = 0; i < a->n_workers; i++) {
                int r = sd_bus_match_signal(bus, &a->workers[i].slot, bus_systemd_sender(bus), a->workers[i].service_path,
                                            "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                            on_properties_changed, &a->workers[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch %s: %m", a->workers[i].service);
        }
        return 0;
}

static int worker_signal(sd_bus *bus, WorkerRef *w, int sig) {
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

typedef bool (*WorkerDone)(const WorkerRef *w);

typedef struct Wait {
        sd_bus *bus;
        App *app;
        WorkerDone done;
        int error;
} Wait;

static bool wait_check(void *userdata) {
        Wait *wt = userdata;
        bool all = true;

        if (interrupted)
                return true;
        for (unsigned i = 0; i < wt->app->n_workers; i++) {
                WorkerRef *w = &wt->app->workers[i];

                if (!w->involved)
                        continue;
                if (w->dirty) {
                        int r = worker_refresh(wt->bus, w);
                        if (r < 0) {
                                wt->error = r;
                                return true;
                        }
                }
                if (!wt->done(w))
                        all = false;
        }
        return all;
}

static int app_wait(sd_bus *bus, App *a, WorkerDone done, uint64_t deadline) {
        Wait wt = { .bus = bus, .app = a, .done = done };
        int r;

        for (unsigned i = 0; i < a->n_workers; i++)
                a->workers[i].dirty = true; /* the first look reads them all */
        r = bus_run_until(bus, wait_check, &wt, deadline);
        if (interrupted)
                return -EINTR;
        return r < 0 ? r : wt.error;
}

/* A failure this operation caused: newer than what StatusText showed before. */
static bool new_failure(const WorkerRef *w) {
        if (!w->status.failure)
                return false;
        if (w->status.failed.number > 0)
                return w->status.failed.number > MAX(w->before.number, w->failed_before);
        return !streq_ptr(w->status.failure, w->failure_before); /* a refusal, no generation */
}

/* The new generation of a prepare is up (ready), or it failed, or the worker is gone. */
static bool prepared_done(const WorkerRef *w) {
        return !worker_active(w) || w->status.ready.number > w->before.number || new_failure(w);
}

static bool prepare_failed(const WorkerRef *w) {
        return !worker_active(w) || w->status.ready.number <= w->before.number;
}

static bool committed_done(const WorkerRef *w) {
        return !worker_active(w) || w->status.serving.number > w->before.number;
}

static bool suspended_done(const WorkerRef *w) {
        return !worker_active(w) || ((w->status.suspended.number > w->before.number || w->status.queueing) &&
                                     w->status.serving.number == 0 && w->status.n_draining == 0);
}

static bool aborted_done(const WorkerRef *w) {
        return !worker_active(w) || (w->status.starting.number <= w->before.number &&
                                     w->status.ready.number <= w->before.number);
}

static bool resumed_done(const WorkerRef *w) {
        return !worker_active(w) ||
               (w->status.serving.number > 0 && w->status.suspended.number == 0 && !w->status.queueing) ||
               new_failure(w);
}

/* ---- journal ---- */

/* The last lines a failed generation (pid) logged, when the journal is here to read. */
static void print_journal_tail(const char *unit, pid_t pid, unsigned n) {
        sd_journal *j = NULL;
        char match_unit[256], match_pid[64];
        const char **lines = NULL;
        unsigned got = 0;

        if (arg_transport != BUS_TRANSPORT_LOCAL || n == 0) {
                fprintf(stderr, "  (see: journalctl%s -u %s on that host)\n", arg_user ? " --user" : "", unit);
                return;
        }
        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | (arg_user ? SD_JOURNAL_CURRENT_USER : 0)) < 0)
                return;
        snprintf(match_unit, sizeof match_unit, "%s=%s", arg_user ? "_SYSTEMD_USER_UNIT" : "_SYSTEMD_UNIT", unit);
        snprintf(match_pid, sizeof match_pid, "_PID=%d", (int) pid);
        if (sd_journal_add_match(j, match_unit, 0) < 0 || (pid > 0 && sd_journal_add_match(j, match_pid, 0) < 0) ||
            sd_journal_seek_tail(j) < 0)
                goto finish;

        lines = calloc(n, sizeof(char *));
        if (!lines)
                goto finish;
        while (got < n && sd_journal_previous(j) > 0) {
                const void *data;
                size_t len;

                if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0)
                        continue;
                lines[got++] = strndup((const char *) data + 8, len - 8);
        }
        if (got > 0 && pid > 0)
                fprintf(stderr, "  last log lines of pid %d (journalctl -u %s):\n", (int) pid, unit);
        else if (got > 0)
                fprintf(stderr, "  last log lines (journalctl -u %s):\n", unit);
        while (got > 0) {
                const char *l = lines[--got];
                fprintf(stderr, "    %s\n", strempty(l));
                free((char *) l);
        }
finish:
        free(lines);
        sd_journal_close(j);
}

static void report_worker_failure(const App *a, const WorkerRef *w) {
        if (!worker_active(w))
                fprintf(stderr, "  %s: the worker is %s (systemctl%s status %s)\n", w->service,
                        strempty(w->active_state), arg_user ? " --user" : "", w->service);
        else if (w->status.failure) {
                if (w->status.failed.number > 0)
                        fprintf(stderr, "  %s: generation %" PRIu64 " (pid %d) %s\n", w->service,
                                w->status.failed.number, (int) w->status.failed.pid, w->status.failure);
                else
                        fprintf(stderr, "  %s: %s\n", w->service, w->status.failure);
                if (w->status.failed.pid > 0 && !strstr(w->status.failure, "was aborted"))
                        print_journal_tail(w->service, w->status.failed.pid, 5);
        } else
                fprintf(stderr, "  %s: no answer from the worker (status: %s)\n", w->service, strempty(w->status_text));
}

/* ---- jobs ---- */

static int app_jobs(sd_bus *bus, App *a, const char *method, bool services, bool sockets, bool only_inactive) {
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
                        if (only_inactive && worker_active(w))
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

        r = job_waiter_wait(waiter, now_monotonic() + arg_timeout);
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

/* ---- verbs ---- */

static int connect_bus(sd_bus **ret) {
        _cleanup_free_ char *version = NULL;
        sd_bus *bus = NULL;
        int r;

        r = bus_connect_transport(arg_transport, arg_host, arg_user, &bus);
        if (r == -EOPNOTSUPP)
                return log_error_errno(r, "--user cannot be combined with -H or -M.");
        if (r < 0) {
                const char *hint = bus_error_hint(NULL, r);
                return log_error_errno(r, "Failed to connect to %s%s%s: %s", arg_user ? "the user manager" : "systemd",
                                       arg_host ? " on " : "", strempty(arg_host), hint ?: strerror(-r));
        }
        r = sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "Version", NULL, &version);
        if (r < 0) {
                sd_bus_flush_close_unref(bus);
                return log_error_errno(r, "Failed to talk to systemd%s%s: %s", arg_host ? " on " : "", strempty(arg_host),
                                       bus_error_hint(NULL, r) ?: strerror(-r));
        }
        if (atoi(version) > 0 && atoi(version) < SYSTEMD_VERSION_MIN) {
                sd_bus_flush_close_unref(bus);
                log_error("systemd %s is too old: sockd needs systemd %d or newer.", version, SYSTEMD_VERSION_MIN);
                return -EPROTONOSUPPORT;
        }
        *ret = bus;
        return 0;
}

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) strempty(s); *p; p++)
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        fputc('"', f);
}

static const char *worker_state(const WorkerRef *w) {
        if (!w->active_state)
                return "unknown";
        if (streq(w->active_state, "failed"))
                return "failed";
        if (streq(w->active_state, "inactive"))
                return "stopped";
        if (streq(w->active_state, "activating"))
                return "starting";
        if (streq(w->active_state, "deactivating"))
                return "stopping";
        if (w->status.suspended.number > 0 || w->status.queueing)
                return w->status.n_draining > 0 ? "draining" : "suspended";
        if (w->status.serving.number > 0)
                return "serving";
        if (w->status.n_draining > 0)
                return "draining";
        return "starting";
}

static void format_bytes(uint64_t b, char *buf, size_t size) {
        if (b == UINT64_MAX)
                snprintf(buf, size, "-");
        else if (b >= 1024ULL * 1024 * 1024)
                snprintf(buf, size, "%.1fG", (double) b / (1024.0 * 1024 * 1024));
        else if (b >= 1024ULL * 1024)
                snprintf(buf, size, "%.1fM", (double) b / (1024.0 * 1024));
        else
                snprintf(buf, size, "%.1fK", (double) b / 1024.0);
}

static void format_since(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "-");
}

static int print_status(sd_bus *bus, App *a, bool *first_json) {
        if (!arg_json && !arg_quiet)
                printf("%-20s %-10s %5s %8s  %-19s %8s %8s  %s\n", "WORKER", "STATE", "GEN", "PID", "SINCE", "RESTARTS",
                       "MEMORY", "SOCKET");

        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                uint64_t memory = UINT64_MAX, since = 0;
                uint32_t restarts = 0, shim_pid = 0;
                char mem[32], when[64];
                WorkerGeneration cur;
                int r;

                r = worker_refresh(bus, w);
                if (r < 0)
                        return r;
                (void) sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE,
                                                   "MemoryCurrent", NULL, 't', &memory);
                (void) sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE,
                                                   "NRestarts", NULL, 'u', &restarts);
                (void) sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE,
                                                   "ExecMainStartTimestamp", NULL, 't', &since);
                (void) sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, w->service_path, SYSTEMD_SERVICE,
                                                   "MainPID", NULL, 'u', &shim_pid);
                if (!worker_active(w))
                        since = 0;
                cur = worker_active(w) ? worker_status_current(&w->status) : (WorkerGeneration) {};
                format_bytes(memory, mem, sizeof mem);
                format_since(since, when, sizeof when);

                if (arg_json) {
                        printf("%s{\"app\":", *first_json ? "" : ",");
                        json_string(stdout, a->name);
                        printf(",\"worker\":%u,\"unit\":", w->index);
                        json_string(stdout, w->service);
                        printf(",\"state\":\"%s\",\"active_state\":", worker_state(w));
                        json_string(stdout, w->active_state);
                        printf(",\"generation\":%" PRIu64 ",\"pid\":%d,\"shim_pid\":%u,\"since_usec\":%" PRIu64
                               ",\"restarts\":%u,\"memory_bytes\":",
                               cur.number, (int) cur.pid, shim_pid, since, restarts);
                        if (memory == UINT64_MAX)
                                fputs("null", stdout);
                        else
                                printf("%" PRIu64, memory);
                        fputs(",\"socket\":", stdout);
                        json_string(stdout, w->socket_path);
                        fputs(",\"status_text\":", stdout);
                        json_string(stdout, w->status_text);
                        printf(",\"draining\":%u,\"failure\":", w->status.n_draining);
                        if (w->status.failure)
                                json_string(stdout, w->status.failure);
                        else
                                fputs("null", stdout);
                        fputs("}", stdout);
                        *first_json = false;
                } else if (!arg_quiet) {
                        char gen[24] = "-", pid[24] = "-";
                        if (cur.number > 0) {
                                snprintf(gen, sizeof gen, "%" PRIu64, cur.number);
                                snprintf(pid, sizeof pid, "%d", (int) cur.pid);
                        }
                        printf("%-20s %-10s %5s %8s  %-19s %8u %8s  %s\n", w->service, worker_state(w), gen, pid, when,
                               restarts, mem, strempty(w->socket_path));
                }
        }
        return 0;
}

static int list_apps(sd_bus *bus, char ***ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *path, *state;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "ListUnitFilesByPatterns",
                               &error, &reply, "asas", 0, 1, "*.target");
        if (r < 0) {
                fail_bus(r, &error, "Failed to list units");
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &path, &state)) > 0) {
                const char *base = strrchr(path, '/');
                char *name;

                /* Ours come from a generator directory; an app target is only a candidate
                 * until app_load() has seen its Documentation=. */
                if (!strstr(path, "/generator") || !base)
                        continue;
                name = strndup(base + 1, strlen(base + 1) - strlen(".target"));
                if (!name || strv_consume(&names, name) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        sd_bus_message_unref(reply);
        if (r < 0)
                return log_error_errno(r, "Failed to read the unit list: %m");
        if (names)
                qsort(names, strv_length(names), sizeof(char *), (int (*)(const void *, const void *)) strcmp_ptr);
        *ret = TAKE_PTR(names);
        return 0;
}

static int verb_list(sd_bus *bus, char **args) {
        _cleanup_strv_free_ char **names = NULL;
        bool first = true;
        int r;

        r = list_apps(bus, &names);
        if (r < 0)
                return r;
        if (arg_json)
                fputs("[", stdout);
        else if (!arg_quiet)
                printf("%-20s %7s  %-40s %s\n", "APP", "WORKERS", "SOCKETS", "CONFIG");
        STRV_FOREACH(n, names) {
                _cleanup_(app_done) App a = {};
                int saved = log_max_level_get();

                log_set_max_level(LOG_CRIT); /* a non-sockd target is simply not listed */
                r = app_load(bus, *n, &a);
                log_set_max_level(saved);
                if (r < 0)
                        continue;
                if (arg_json) {
                        printf("%s{\"app\":", first ? "" : ",");
                        json_string(stdout, a.name);
                        printf(",\"workers\":%u,\"sockets\":[", a.n_workers);
                        for (unsigned i = 0; i < a.n_workers; i++) {
                                if (i > 0)
                                        fputc(',', stdout);
                                json_string(stdout, a.workers[i].socket_path);
                        }
                        fputs("],\"config\":", stdout);
                        json_string(stdout, a.source);
                        fputs("}", stdout);
                } else if (!arg_quiet) {
                        const char *s0 = a.n_workers > 0 ? a.workers[0].socket_path : "-";
                        _cleanup_free_ char *sockets = NULL;
                        if (asprintf(&sockets, "%s%s", s0, a.n_workers > 1 ? " ..." : "") < 0)
                                return log_oom();
                        printf("%-20s %7u  %-40s %s\n", a.name, a.n_workers, sockets, strempty(a.source));
                }
                first = false;
        }
        if (arg_json)
                puts("]");
        return 0;
}

static int verb_status(sd_bus *bus, char **args) {
        _cleanup_strv_free_ char **names = NULL;
        bool first = true;
        int r;

        if (args[0]) {
                r = strv_extend(&names, args[0]);
                if (r < 0)
                        return log_oom();
        } else {
                r = list_apps(bus, &names);
                if (r < 0)
                        return r;
        }
        if (arg_json)
                fputs("[", stdout);
        STRV_FOREACH(n, names) {
                _cleanup_(app_done) App a = {};
                int saved = log_max_level_get();

                if (!args[0])
                        log_set_max_level(LOG_CRIT);
                r = app_load(bus, *n, &a);
                log_set_max_level(saved);
                if (r < 0) {
                        if (args[0])
                                return r;
                        continue;
                }
                if (!arg_json && !first && !arg_quiet)
                        putchar('\n');
                r = print_status(bus, &a, &first);
                if (r < 0)
                        return r;
                first = false;
        }
        if (arg_json)
                puts("]");
        return 0;
}

static int verb_start_stop(sd_bus *bus, char **args, bool start) {
        _cleanup_(app_done) App a = {};
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;
        if (start)
                r = app_jobs(bus, &a, "StartUnit", true, true, false);
        else
                /* One transaction: systemd stops each service before its socket (After=). */
                r = app_jobs(bus, &a, "StopUnit", true, true, false);
        if (r < 0)
                return r == -EIO ? -EIO : r;
        if (!arg_quiet)
                printf("%s %s: %u worker%s.\n", start ? "Started" : "Stopped", a.name, a.n_workers, a.n_workers == 1 ? "" : "s");
        return 0;
}

static int verb_start(sd_bus *bus, char **args) {
        return verb_start_stop(bus, args, true);
}

static int verb_stop(sd_bus *bus, char **args) {
        return verb_start_stop(bus, args, false);
}

static void report_failures(const App *a, const char *what) {
        fprintf(stderr, "sockdctl: %s of %s failed:\n", what, a->name);
        for (unsigned i = 0; i < a->n_workers; i++) {
                const WorkerRef *w = &a->workers[i];
                if (w->involved && w->error)
                        report_worker_failure(a, w);
        }
}

/* Takes every involved worker's prepared generation back; the old ones keep serving.
 * Every involved worker gets the abort, also those whose status does not show the new
 * generation yet: the shim may not have handled the prepare when we looked. Abort with
 * nothing to abort is a no-op there. */
static int app_abort(sd_bus *bus, App *a) {
        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                if (w->involved && worker_active(w))
                        (void) worker_signal(bus, w, WORKER_SIGNAL_ABORT);
        }
        return app_wait(bus, a, aborted_done, now_monotonic() + arg_timeout);
}

static int verb_restart(sd_bus *bus, char **args) {
        _cleanup_(app_done) App a = {};
        unsigned running = 0, failed = 0;
        bool queue;
        uint64_t deadline = now_monotonic() + arg_timeout;
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;
        queue = arg_suspended && a.suspend == SUSPEND_QUEUE;

        r = app_watch(bus, &a);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < a.n_workers; i++) {
                WorkerRef *w = &a.workers[i];

                r = worker_refresh(bus, w);
                if (r < 0)
                        return r;
                if (!worker_active(w))
                        continue;
                if (w->status.suspended.number > 0 || w->status.queueing) {
                        log_error("%s is suspended: 'sockdctl resume %s' first.", w->service, a.name);
                        return -EBUSY;
                }
                if (w->status.serving.number == 0 || w->status.starting.number > 0 || w->status.ready.number > 0) {
                        log_error("%s is busy (%s); try again when it serves.", w->service, strempty(w->status_text));
                        return -EBUSY;
                }
                w->involved = true;
                w->before = w->status.serving;
                w->failed_before = w->status.failed.number;
                w->failure_before = w->status.failure ? strdup(w->status.failure) : NULL;
                running++;
        }

        /* Phase 1: a new generation beside the old one on every worker. */
        if (running > 0 && !queue) {
                for (unsigned i = 0; i < a.n_workers; i++)
                        if (a.workers[i].involved) {
                                r = worker_signal(bus, &a.workers[i], arg_suspended ? WORKER_SIGNAL_PREPARE_SUSPENDED : WORKER_SIGNAL_PREPARE);
                                if (r < 0) {
                                        (void) app_abort(bus, &a);
                                        return r;
                                }
                        }
                r = app_wait(bus, &a, prepared_done, deadline);
                for (unsigned i = 0; i < a.n_workers; i++) {
                        WorkerRef *w = &a.workers[i];
                        if (w->involved && prepare_failed(w)) {
                                failed++;
                                w->error = strdup("prepare failed");
                        }
                }
                if (r < 0 || failed > 0) {
                        if (r == -ETIMEDOUT)
                                log_error("Timed out after %" PRIu64 "s waiting for the new generations.", arg_timeout / USEC_PER_SEC);
                        else if (r == -EINTR)
                                log_error("Interrupted.");
                        interrupted = 0;
                        (void) app_abort(bus, &a);
                        report_failures(&a, arg_suspended ? "suspended restart" : "restart");
                        fprintf(stderr, "Every worker keeps serving its previous generation.\n");
                        return -EIO;
                }
        }

        /* Phase 2: every new generation is ready: commit. Past this point nothing is taken
         * back; a worker that fails now is restarted by systemd. */
        for (unsigned i = 0; i < a.n_workers; i++)
                if (a.workers[i].involved)
                        (void) worker_signal(bus, &a.workers[i], arg_suspended ? WORKER_SIGNAL_SUSPEND : WORKER_SIGNAL_COMMIT);
        r = app_wait(bus, &a, arg_suspended ? suspended_done : committed_done, deadline);
        if (r < 0)
                return log_error_errno(r, "Failed while waiting for the workers to %s: %m",
                                       arg_suspended ? "suspend" : "switch over");
        for (unsigned i = 0; i < a.n_workers; i++) {
                WorkerRef *w = &a.workers[i];
                if (w->involved && !worker_active(w)) {
                        failed++;
                        w->error = strdup("died");
                }
        }

        /* Workers that were not running are simply started (at resume, when suspended). */
        if (!arg_suspended && running < a.n_workers) {
                r = app_jobs(bus, &a, "StartUnit", true, true, true);
                if (r < 0)
                        failed++;
        }

        if (failed > 0) {
                report_failures(&a, arg_suspended ? "suspended restart" : "restart");
                return -EIO;
        }
        if (!arg_quiet)
                for (unsigned i = 0; i < a.n_workers; i++) {
                        WorkerRef *w = &a.workers[i];
                        WorkerGeneration now = worker_status_current(&w->status);

                        if (!w->involved)
                                printf("%s: started\n", w->service);
                        else if (queue)
                                printf("%s: generation %" PRIu64 " stopped, requests queue in the socket (resume with 'sockdctl resume %s')\n",
                                       w->service, w->before.number, a.name);
                        else
                                printf("%s: generation %" PRIu64 " -> %" PRIu64 " (pid %d -> %d)%s\n", w->service,
                                       w->before.number, now.number, (int) w->before.pid, (int) now.pid,
                                       arg_suspended ? ", suspended" : "");
                }
        return 0;
}

static int verb_resume(sd_bus *bus, char **args) {
        _cleanup_(app_done) App a = {};
        unsigned suspended = 0, failed = 0;
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;
        r = app_watch(bus, &a);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < a.n_workers; i++) {
                WorkerRef *w = &a.workers[i];

                r = worker_refresh(bus, w);
                if (r < 0)
                        return r;
                if (!worker_active(w) || (w->status.suspended.number == 0 && !w->status.queueing))
                        continue;
                w->involved = true;
                w->before = w->status.suspended;
                w->failed_before = w->status.failed.number;
                w->failure_before = w->status.failure ? strdup(w->status.failure) : NULL;
                suspended++;
        }
        if (suspended == 0) {
                log_error("Nothing of %s is suspended: use 'sockdctl restart --suspended %s' first.", a.name, a.name);
                return -EALREADY;
        }
        for (unsigned i = 0; i < a.n_workers; i++)
                if (a.workers[i].involved)
                        (void) worker_signal(bus, &a.workers[i], WORKER_SIGNAL_RESUME);
        r = app_wait(bus, &a, resumed_done, now_monotonic() + arg_timeout);
        if (r < 0)
                return log_error_errno(r, "Failed while waiting for the workers to resume: %m");
        for (unsigned i = 0; i < a.n_workers; i++) {
                WorkerRef *w = &a.workers[i];
                if (w->involved && (!worker_active(w) || w->status.serving.number == 0)) {
                        failed++;
                        w->error = strdup("resume failed");
                }
        }
        /* Workers that were stopped during the suspension start now. */
        r = app_jobs(bus, &a, "StartUnit", true, true, true);
        if (r < 0)
                failed++;
        if (failed > 0) {
                report_failures(&a, "resume");
                return -EIO;
        }
        if (!arg_quiet)
                for (unsigned i = 0; i < a.n_workers; i++) {
                        WorkerRef *w = &a.workers[i];
                        if (w->involved)
                                printf("%s: generation %" PRIu64 " (pid %d) serves\n", w->service,
                                       w->status.serving.number, (int) w->status.serving.pid);
                }
        return 0;
}

/* An nginx upstream for the app's worker sockets, with the settings that keep swaps
 * free of errors; it follows Workers=, so nobody edits upstream lists by hand. */
static int verb_nginx(sd_bus *bus, char **args) {
        _cleanup_(app_done) App a = {};
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;

        printf("# nginx upstream of the sockd app %s (%u worker%s), from 'sockdctl nginx %s'.\n"
               "# Include it in the http {} block, and write it again when Workers= changes.\n"
               "upstream %s {\n",
               a.name, a.n_workers, a.n_workers == 1 ? "" : "s", a.name, a.name);
        for (unsigned i = 0; i < a.n_workers; i++)
                /* max_fails=0: an error during a swap must not take a worker out of the
                 * rotation for fail_timeout (10 s), which would fail every request. */
                printf("    server unix:%s max_fails=0;\n", a.workers[i].socket_path);
        printf("    # Reused connections; nginx closes idle ones after keepalive_timeout, which\n"
               "    # must stay below the app's own idle timeout, so the app never closes a\n"
               "    # connection nginx is about to reuse.\n"
               "    keepalive %u;\n"
               "    keepalive_timeout 5s;\n"
               "}\n"
               "\n"
               "# In your server {} block:\n"
               "# location / {\n"
               "#     proxy_pass http://%s;\n"
               "#     proxy_http_version 1.1;\n"
               "#     proxy_set_header Connection \"\";\n"
               "#     proxy_set_header Host $host;\n"
               "#     proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
               "#     # Retry idempotent requests on another worker if one fails to connect or\n"
               "#     # answers 502; nginx never retries a POST once it was sent.\n"
               "#     proxy_next_upstream error timeout http_502;\n"
               "#     proxy_next_upstream_tries %u;\n"
               "# }\n",
               8 * (a.n_workers ?: 1), a.name, a.n_workers > 0 ? a.n_workers : 1);
        return 0;
}

/* ---- main ---- */

static const struct {
        const char *verb;
        unsigned min_args, max_args;
        int (*fn)(sd_bus *bus, char **args);
} verbs[] = {
        { "list", 0, 0, verb_list },
        { "status", 0, 1, verb_status },
        { "start", 1, 1, verb_start },
        { "stop", 1, 1, verb_stop },
        { "restart", 1, 1, verb_restart },
        { "resume", 1, 1, verb_resume },
        { "nginx", 1, 1, verb_nginx },
};

static int help(void) {
        printf("%s [OPTIONS...] COMMAND [APP]\n\n"
               "Control sockd apps: workers behind nginx on systemd-owned UNIX sockets.\n\n"
               "Commands:\n"
               "  list                     Configured apps: workers, sockets, config file\n"
               "  status [APP]             One row per worker: state, generation, pid, since,\n"
               "                           restarts, memory, socket\n"
               "  start APP                Start all workers (sockets and services)\n"
               "  stop APP                 Stop all workers\n"
               "  restart APP              Zero-downtime, all-or-nothing: new generations\n"
               "                           beside the old ones, switch only when all are ready\n"
               "  restart --suspended APP  Stop the old generations and hold requests (for a\n"
               "                           database migration) until 'resume'\n"
               "  resume APP               Release held requests to the new generation\n"
               "  nginx APP                Print an nginx upstream for the app's sockets\n\n"
               "Options:\n"
               "  -h --help                Show this help\n"
               "     --version             Show the version\n"
               "     --user                Talk to the user's service manager\n"
               "  -H --host=[USER@]HOST    Operate on a remote host (over ssh)\n"
               "  -M --machine=CONTAINER   Operate on a local container\n"
               "     --json                JSON output (list, status)\n"
               "  -q --quiet               Print nothing but errors\n"
               "     --suspended           With restart: a suspended restart\n"
               "     --timeout=SECONDS     Give up after this long (default 300)\n\n"
               "Exit status: 0 success, 1 the operation failed, 2 usage or configuration error.\n"
               "See the sockdctl(1) man page for details.\n",
               program_invocation_short_name);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_JSON, ARG_SUSPENDED, ARG_TIMEOUT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "user", no_argument, NULL, ARG_USER },
                { "host", required_argument, NULL, 'H' },
                { "machine", required_argument, NULL, 'M' },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "suspended", no_argument, NULL, ARG_SUSPENDED },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "hH:M:q", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        puts("sockd " SOCKD_VERSION);
                        return 0;
                case ARG_USER:
                        arg_user = true;
                        break;
                case 'H':
                        arg_transport = BUS_TRANSPORT_REMOTE;
                        arg_host = optarg;
                        break;
                case 'M':
                        arg_transport = BUS_TRANSPORT_MACHINE;
                        arg_host = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_SUSPENDED:
                        arg_suspended = true;
                        break;
                case ARG_TIMEOUT:
                        r = parse_duration(optarg, &arg_timeout);
                        if (r < 0 || arg_timeout == 0)
                                return log_error_errno(-EINVAL, "--timeout: '%s' is not a positive duration.", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option '%c'.", c);
                }
        return 1;
}

static void on_interrupt(int sig) {
        interrupted = 1;
}

/* Exit codes: 2 for what the user must fix in the command line or the config, 1 for an
 * operation that failed. */
static int run(int argc, char *argv[], int *ret_exit) {
        sd_bus *bus = NULL;
        const char *verb;
        unsigned nargs;
        int r;

        log_setup("sockdctl");
        *ret_exit = EXIT_USAGE;

        r = parse_argv(argc, argv);
        if (r <= 0) {
                *ret_exit = r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
                return r;
        }
        if (arg_user && arg_transport != BUS_TRANSPORT_LOCAL)
                return log_error_errno(-EINVAL, "--user cannot be combined with -H or -M.");
        if (optind >= argc)
                return log_error_errno(-EINVAL, "No command given; see 'sockdctl --help'.");
        verb = argv[optind];
        nargs = (unsigned) (argc - optind - 1);

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].verb, verb))
                        continue;
                if (nargs < verbs[i].min_args)
                        return log_error_errno(-EINVAL, "'%s' needs an app name: sockdctl %s APP", verb, verb);
                if (nargs > verbs[i].max_args)
                        return log_error_errno(-EINVAL, "'%s' takes at most %u app name%s.", verb, verbs[i].max_args,
                                               verbs[i].max_args == 1 ? "" : "s");
                if (arg_suspended && verbs[i].fn != verb_restart)
                        return log_error_errno(-EINVAL, "--suspended goes with 'restart' only.");

                struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: waits return EINTR */
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);

                r = connect_bus(&bus);
                if (r < 0) {
                        *ret_exit = EXIT_OPERATION_FAILED;
                        return r;
                }
                r = verbs[i].fn(bus, argv + optind + 1);
                sd_bus_flush_close_unref(bus);
                *ret_exit = r >= 0 ? EXIT_SUCCESS : (r == -ENOENT || r == -EINVAL) ? EXIT_USAGE : EXIT_OPERATION_FAILED;
                return r;
        }
        return log_error_errno(-EINVAL, "Unknown command '%s'; see 'sockdctl --help'.", verb);
}

int main(int argc, char *argv[]) {
        int code;

        (void) run(argc, argv, &code);
        return code;
}
