/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockdctl list, status, start, stop and nginx: what an app is and runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

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

/* @host: where the app runs (NULL: here), in "host" of --json; with @host_column, in
 * the first column too. */
static int print_status(sd_bus *bus, App *a, const char *host, bool host_column, bool *first_json) {
        if (!arg_json && !arg_quiet) {
                if (host_column)
                        printf("%-16s ", "HOST");
                printf("%-20s %-10s %5s %8s  %-19s %8s %8s  %s\n", "WORKER", "STATE", "GEN", "PID", "SINCE", "RESTARTS",
                       "MEMORY", "SOCKET");
        }

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
                        printf("%s{", *first_json ? "" : ",");
                        if (host) {
                                fputs("\"host\":", stdout);
                                json_string(stdout, host);
                                fputc(',', stdout);
                        }
                        fputs("\"app\":", stdout);
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
                        if (host_column)
                                printf("%-16s ", strempty(host));
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

int verb_list(Fleet *f, char **args) {
        bool first = true, host_column = f->n_hosts > 1;
        int r;

        if (arg_json)
                fputs("[", stdout);
        else if (!arg_quiet) {
                if (host_column)
                        printf("%-16s ", "HOST");
                printf("%-20s %7s  %-40s %s\n", "APP", "WORKERS", "SOCKETS", "CONFIG");
        }
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];
                _cleanup_strv_free_ char **names = NULL;

                if (host_column)
                        log_set_prefix(h->name);
                r = list_apps(h->bus, &names);
                log_set_prefix(NULL);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names) {
                        _cleanup_(app_done) App a = {};
                        int saved = log_max_level_get();

                        log_set_max_level(LOG_CRIT); /* a non-sockd target is simply not listed */
                        r = app_load(h->bus, *n, &a);
                        log_set_max_level(saved);
                        if (r < 0)
                                continue;
                        if (arg_json) {
                                printf("%s{", first ? "" : ",");
                                if (h->name) {
                                        fputs("\"host\":", stdout);
                                        json_string(stdout, h->name);
                                        fputc(',', stdout);
                                }
                                fputs("\"app\":", stdout);
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
                                if (host_column)
                                        printf("%-16s ", h->name);
                                printf("%-20s %7u  %-40s %s\n", a.name, a.n_workers, sockets, strempty(a.source));
                        }
                        first = false;
                }
        }
        if (arg_json)
                puts("]");
        return 0;
}

int verb_status(Fleet *f, char **args) {
        bool first = true, host_column = f->n_hosts > 1;
        int r;

        /* An app named must be on every host before anything is printed. */
        if (args[0]) {
                r = fleet_load_app(f, args[0]);
                if (r < 0)
                        return r;
        }
        if (arg_json)
                fputs("[", stdout);
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];
                _cleanup_strv_free_ char **names = NULL;

                if (args[0]) {
                        if (!arg_json && !first && !arg_quiet)
                                putchar('\n');
                        r = print_status(h->bus, &h->app, h->name, host_column, &first);
                        if (r < 0)
                                return r;
                        first = false;
                        continue;
                }
                if (host_column)
                        log_set_prefix(h->name);
                r = list_apps(h->bus, &names);
                log_set_prefix(NULL);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names) {
                        _cleanup_(app_done) App a = {};
                        int saved = log_max_level_get();

                        log_set_max_level(LOG_CRIT);
                        r = app_load(h->bus, *n, &a);
                        log_set_max_level(saved);
                        if (r < 0)
                                continue;
                        if (!arg_json && !first && !arg_quiet)
                                putchar('\n');
                        r = print_status(h->bus, &a, h->name, host_column, &first);
                        if (r < 0)
                                return r;
                        first = false;
                }
        }
        if (arg_json)
                puts("]");
        return 0;
}

static int verb_start_stop(Fleet *f, char **args, bool start) {
        uint64_t deadline = now_monotonic() + arg_timeout;
        int r;

        /* Every host has the app, or nothing starts or stops anywhere. */
        r = fleet_load_app(f, args[0]);
        if (r < 0)
                return r;
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];
                App *a = &h->app;
                bool suspended = false;

                if (f->n_hosts > 1)
                        log_set_prefix(h->name);
                /* Stop: one transaction, systemd stops each service before its socket (After=). */
                r = app_jobs(h->bus, a, start ? "StartUnit" : "StopUnit", true, true, false, deadline);
                log_set_prefix(NULL);
                if (r < 0)
                        return r == -EIO ? -EIO : r;
                /* A suspension outlives its workers: started again, they hold requests. */
                for (unsigned i = 0; start && i < a->n_workers; i++)
                        if (worker_refresh(h->bus, &a->workers[i]) >= 0 &&
                            (a->workers[i].status.suspended.number > 0 || a->workers[i].status.queueing))
                                suspended = true;
                if (!arg_quiet)
                        printf(HOST_FMT "%s %s: %u worker%s%s\n", HOST_ARGS(a), start ? "Started" : "Stopped", a->name,
                               a->n_workers, a->n_workers == 1 ? "" : "s", suspended ? ", suspended" : ".");
                if (suspended && !arg_quiet)
                        printf(HOST_FMT "%s is suspended: requests are held until 'sockdctl resume %s'.\n", HOST_ARGS(a),
                               a->name, a->name);
        }
        return 0;
}

int verb_start(Fleet *f, char **args) {
        return verb_start_stop(f, args, true);
}

int verb_stop(Fleet *f, char **args) {
        return verb_start_stop(f, args, false);
}
