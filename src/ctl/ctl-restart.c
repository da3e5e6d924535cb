/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockdctl restart [--suspended] and resume: new generations on every worker, switched
 * to only when all are ready; suspensions held until resume. The requests go to the
 * shims as signals through systemd (KillUnit), their answers come back in StatusText.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"

/* An abort is sent even after --timeout ran out, so that all-or-nothing holds; seeing
 * it done may take this much longer. */
#define ABORT_GRACE_USEC (10 * USEC_PER_SEC)

/* Takes every involved worker's prepared generation back, on every host; the old ones
 * keep serving. Every involved worker gets the abort, also those whose status does not
 * show the new generation yet: the shim may not have handled the prepare when we
 * looked. An abort with nothing prepared is a no-op there, and one never touches a
 * reload's generation. */
static int fleet_abort(Fleet *f, uint64_t deadline) {
        uint64_t grace = now_monotonic() + ABORT_GRACE_USEC;
        int r;

        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];

                for (unsigned i = 0; i < h->app.n_workers && !h->app.lost; i++) {
                        WorkerRef *w = &h->app.workers[i];
                        if (w->involved && worker_active(w))
                                (void) worker_signal(h->bus, w, WORKER_SIGNAL_ABORT);
                }
        }
        r = fleet_wait(f, aborted_done, MAX(deadline, grace));
        if (r == -ETIMEDOUT)
                log_error("The aborts were sent, but not every worker confirmed it in time; 'sockdctl status %s' "
                          "shows where they are.", f->hosts[0].app.name);
        return r;
}

static const char *phase_error(WorkerRef *w, bool committing) {
        if (!worker_active(w))
                return committing ? "died during the commit" : "died while its new generation started";
        if (w->failure || new_failure(w))
                return committing ? "failed during the commit" : "prepare failed";
        return NULL;
}

/* After a phase's wait: marks each involved worker that answered with a failure, and
 * returns how many failed on all hosts (those that did not answer in time included), or
 * -ENOMEM. */
static int phase_failures(Fleet *f, WorkerDone done, bool committing) {
        int failed = 0;

        for (size_t k = 0; k < f->n_hosts; k++) {
                App *a = &f->hosts[k].app;

                for (unsigned i = 0; i < a->n_workers; i++) {
                        WorkerRef *w = &a->workers[i];
                        const char *e = w->involved && done(w) ? phase_error(w, committing) : NULL;

                        if (!w->error && e && !(w->error = strdup(e)))
                                return log_oom();
                        if (w->involved && w->error)
                                failed++;
                }
        }
        return failed;
}

static void fleet_mark_unanswered(Fleet *f, WorkerDone done) {
        for (size_t k = 0; k < f->n_hosts; k++)
                mark_unanswered(&f->hosts[k].app, done);
}

/* Each host where a worker failed: which, and why. */
static void fleet_report_failures(Fleet *f, const char *what) {
        for (size_t k = 0; k < f->n_hosts; k++)
                if (app_failed(&f->hosts[k].app))
                        report_failures(f->hosts[k].bus, &f->hosts[k].app, what);
}

/* systemctl daemon-reload: the units as the edited config makes them. */
static int daemon_reload(sd_bus *bus, const char *config) {
        if (!arg_quiet)
                printf("%s changed: reloading systemd's units (daemon-reload).\n", config);
        fflush(stdout); /* before what goes to stderr from here on */
        return manager_reload(bus);
}

/* Every involved worker takes the unit's settings as systemd has them loaded now: an
 * ExecReload= (ReloadUnit) runs with the unit's Environment=, EnvironmentFile=,
 * PassEnvironment= and WorkingDirectory=, which systemd alone computes, and hands them
 * with its command line to the shim; WORKER_SIGNAL_EXPECT_SETTINGS, sent first, makes
 * that reload swap nothing. The prepare or resume that follows runs them. */
static int settings_request(sd_bus *bus, App *a, JobWaiter **ret) {
        _cleanup_(job_waiter_freep) JobWaiter *waiter = NULL;
        int r;

        r = job_waiter_new(bus, &waiter);
        if (r < 0)
                return log_error_errno(r, HOST_FMT "Failed to subscribe to systemd's jobs: %m", HOST_ARGS(a));
        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *job;

                if (!w->involved)
                        continue;
                r = worker_signal(bus, w, WORKER_SIGNAL_EXPECT_SETTINGS);
                if (r < 0)
                        return r;
                r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "ReloadUnit", &error,
                                       &reply, "ss", w->service, "replace");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &job);
                if (r >= 0)
                        r = job_waiter_add(waiter, job, w->service);
                sd_bus_message_unref(reply);
                if (r < 0) {
                        fail_bus(r, &error, "Failed to give a worker its new settings (ReloadUnit)");
                        sd_bus_error_free(&error);
                        return r;
                }
        }
        *ret = TAKE_PTR(waiter);
        return 0;
}

/* How many workers of @a did not take them, each with its error set. */
static unsigned settings_failures(sd_bus *bus, App *a, JobWaiter *waiter) {
        unsigned failed = 0;

        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                const char *result = w->involved ? job_waiter_result(waiter, w->service) : NULL;

                if (!result || streq(result, "done"))
                        continue;
                failed++;
                (void) worker_refresh(bus, w);
                /* The shim's refusal is in its StatusText; else systemd could not even run
                 * the ExecReload= (a missing EnvironmentFile=, WorkingDirectory=...). */
                if (asprintf(&w->error, "did not take the new settings: %s",
                             new_failure(w) && w->status.failure ? w->status.failure :
                             "systemd could not run its ExecReload= with them (see the journal below)") < 0)
                        w->error = NULL;
        }
        return failed;
}

typedef struct SettingsWait {
        JobWaiter **waiters;
        size_t n;
} SettingsWait;

static bool settings_done(void *userdata) {
        SettingsWait *sw = userdata;

        if (interrupted)
                return true;
        for (size_t i = 0; i < sw->n; i++)
                if (sw->waiters[i] && !job_waiter_done(sw->waiters[i]))
                        return false;
        return true;
}

/* The settings to every involved worker on every host at once. -EIO: some did not take
 * them (their errors set). */
static int fleet_deliver_settings(Fleet *f, uint64_t deadline) {
        _cleanup_free_ JobWaiter **waiters = calloc(f->n_hosts, sizeof(JobWaiter *));
        _cleanup_free_ sd_bus **buses = calloc(f->n_hosts, sizeof(sd_bus *));
        SettingsWait sw = { .waiters = waiters, .n = f->n_hosts };
        unsigned failed = 0;
        int r = 0;

        if (!waiters || !buses)
                return log_oom();
        for (size_t k = 0; k < f->n_hosts && r >= 0; k++) {
                buses[k] = f->hosts[k].bus;
                r = settings_request(f->hosts[k].bus, &f->hosts[k].app, &waiters[k]);
        }
        if (r >= 0) {
                r = buses_run_until(buses, f->n_hosts, settings_done, &sw, deadline);
                if (r >= 0 && interrupted)
                        r = -EINTR;
                if (r < 0)
                        log_error_errno(r, "Failed to wait for the workers to take their new settings: %m");
        }
        for (size_t k = 0; k < f->n_hosts; k++) {
                if (r >= 0 && waiters[k])
                        failed += settings_failures(f->hosts[k].bus, &f->hosts[k].app, waiters[k]);
                job_waiter_free(waiters[k]);
        }
        if (r < 0)
                return r;
        return failed > 0 ? -EIO : 0;
}

/* What a restart needs of each host before anything is sent: every running worker
 * serves, none is suspended or busy. Marks them involved; returns how many. */
static int fleet_involve(Fleet *f) {
        int running = 0, r;

        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];
                App *a = &h->app;

                r = app_watch(h->bus, a);
                if (r < 0)
                        return r;
                for (unsigned i = 0; i < a->n_workers; i++) {
                        WorkerRef *w = &a->workers[i];

                        r = worker_refresh(h->bus, w);
                        if (r < 0)
                                return r;
                        if (!worker_active(w))
                                continue;
                        if (w->status.suspended.number > 0 || w->status.queueing) {
                                log_error(HOST_FMT "%s is suspended: 'sockdctl resume %s' first.", HOST_ARGS(a), w->service,
                                          a->name);
                                return -EBUSY;
                        }
                        if (w->status.serving.number == 0 || w->status.starting.number > 0 || w->status.ready.number > 0) {
                                _cleanup_free_ char *status = escape_for_terminal(w->status_text);
                                log_error(HOST_FMT "%s is busy (%s); try again when it serves.", HOST_ARGS(a), w->service,
                                          strempty(status));
                                return -EBUSY;
                        }
                        if (worker_involve(w, w->status.serving) < 0)
                                return log_oom();
                        running++;
                }
        }
        return running;
}

static unsigned app_involved(const App *a) {
        unsigned n = 0;

        for (unsigned i = 0; i < a->n_workers; i++)
                n += a->workers[i].involved;
        return n;
}

/* Phases 0 to 2 on every host of @f at once; @plan is this machine's config, when the
 * restart runs here. */
static int fleet_restart(Fleet *f, const ConfigPlan *plan, uint64_t deadline) {
        const char *what = arg_suspended ? "suspended restart" : "restart";
        unsigned running = 0;
        bool prepare = false;
        int failed, r;

        for (size_t k = 0; k < f->n_hosts; k++) {
                App *a = &f->hosts[k].app;
                unsigned n = app_involved(a);

                running += n;
                /* A queueing suspension prepares nothing: the new generation starts at resume. */
                if (n > 0 && !(arg_suspended && a->suspend == SUSPEND_QUEUE))
                        prepare = true;
        }

        /* Phase 0: the units as the config is now, and every worker gets their
         * settings. Nothing serves differently yet. */
        if (plan && plan->need_reload) {
                r = daemon_reload(f->hosts[0].bus, plan->sources);
                if (r < 0)
                        return r;
        }
        if (running > 0) {
                r = fleet_deliver_settings(f, deadline);
                if (r < 0) {
                        if (r == -EIO)
                                fleet_report_failures(f, what);
                        fprintf(stderr, "Nothing was restarted: every worker keeps serving its generation.\n");
                        if (plan && plan->need_reload)
                                fprintf(stderr, "systemd's units are %s's as it is now (the daemon-reload ran): a "
                                        "worker that systemd starts again runs it.\n", plan->sources);
                        return -EIO;
                }
        }

        /* Phase 1: a new generation beside the old one on every worker of every host. */
        if (prepare) {
                for (size_t k = 0; k < f->n_hosts; k++) {
                        Host *h = &f->hosts[k];

                        if (arg_suspended && h->app.suspend == SUSPEND_QUEUE)
                                continue;
                        for (unsigned i = 0; i < h->app.n_workers; i++) {
                                if (!h->app.workers[i].involved)
                                        continue;
                                r = worker_signal(h->bus, &h->app.workers[i],
                                                  arg_suspended ? WORKER_SIGNAL_PREPARE_SUSPENDED : WORKER_SIGNAL_PREPARE);
                                if (r < 0) {
                                        (void) fleet_abort(f, deadline);
                                        return r;
                                }
                        }
                }
                r = fleet_wait(f, prepared_done, deadline);
                if (r == -ETIMEDOUT)
                        fleet_mark_unanswered(f, prepared_done);
                failed = phase_failures(f, prepared_done, false);
                if (failed < 0)
                        return failed;
                if (r == -EINTR)
                        log_error("Interrupted.");
                else if (r < 0 && r != -ETIMEDOUT)
                        log_error_errno(r, "Failed while waiting for the new generations: %m");
                if (r < 0 || failed > 0) {
                        interrupted = 0;
                        (void) fleet_abort(f, deadline);
                        fleet_report_failures(f, what);
                        fprintf(stderr, "Every worker%s keeps serving its previous generation.\n",
                                f->n_hosts > 1 ? " on every host" : "");
                        return -EIO;
                }
        }

        /* Phase 2: every new generation on every host is ready: commit. Past this point
         * nothing is taken back: a worker whose new generation dies now keeps serving its
         * old one, and a worker that dies is restarted by systemd. */
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];

                for (unsigned i = 0; i < h->app.n_workers; i++)
                        if (h->app.workers[i].involved)
                                (void) worker_signal(h->bus, &h->app.workers[i],
                                                     arg_suspended ? WORKER_SIGNAL_SUSPEND : WORKER_SIGNAL_COMMIT);
        }
        WorkerDone done = arg_suspended ? suspended_done : committed_done;
        r = fleet_wait(f, done, deadline);
        if (r == -ETIMEDOUT)
                fleet_mark_unanswered(f, done);
        else if (r == -EINTR)
                log_error("Interrupted; the workers go on with what they were sent.");
        else if (r < 0)
                log_error_errno(r, "Failed while waiting for the workers to %s: %m", arg_suspended ? "suspend" : "switch over");
        failed = phase_failures(f, done, true);
        if (failed < 0)
                return failed;
        if (failed > 0 || r < 0) {
                fleet_report_failures(f, what);
                if (arg_suspended)
                        fprintf(stderr, "The other workers are suspended: 'sockdctl resume %s' serves requests again.\n",
                                f->hosts[0].app.name);
                else
                        fprintf(stderr, "The other workers switched to the new generation. A worker named above keeps "
                                "serving its previous generation, or, if it died, is restarted by systemd on the code "
                                "now on disk. Run 'sockdctl restart %s' again to bring every worker to one release.\n",
                                f->hosts[0].app.name);
                return -EIO;
        }

        /* Workers that were not running are simply started (at resume, when suspended). */
        for (size_t k = 0; k < f->n_hosts && !arg_suspended; k++) {
                Host *h = &f->hosts[k];

                if (app_involved(&h->app) < h->app.n_workers &&
                    app_jobs(h->bus, &h->app, "StartUnit", true, true, true, deadline) < 0)
                        return -EIO;
        }

        for (size_t k = 0; k < f->n_hosts && !arg_quiet; k++) {
                App *a = &f->hosts[k].app;
                bool queue = arg_suspended && a->suspend == SUSPEND_QUEUE;

                for (unsigned i = 0; i < a->n_workers; i++) {
                        WorkerRef *w = &a->workers[i];
                        WorkerGeneration now = worker_status_current(&w->status);

                        if (!w->involved)
                                printf(HOST_FMT "%s: %s\n", HOST_ARGS(a), w->service,
                                       arg_suspended ? "not running" : "started");
                        else if (queue)
                                printf(HOST_FMT "%s: generation %" PRIu64 " stopped, requests queue in the socket (resume "
                                       "with 'sockdctl resume %s')\n", HOST_ARGS(a), w->service, w->before.number, a->name);
                        else
                                printf(HOST_FMT "%s: generation %" PRIu64 " -> %" PRIu64 " (pid %d -> %d)%s\n", HOST_ARGS(a),
                                       w->service, w->before.number, now.number, (int) w->before.pid, (int) now.pid,
                                       arg_suspended ? ", suspended" : "");
                }
        }
        return 0;
}

int verb_restart(Fleet *f, char **args) {
        _cleanup_(config_plan_done) ConfigPlan plan = {};
        uint64_t deadline = now_monotonic() + arg_timeout;
        bool local = arg_transport == BUS_TRANSPORT_LOCAL;
        int running, r;

        /* Every host has the app, or nothing is touched anywhere. */
        r = fleet_load_app(f, args[0]);
        if (r < 0)
                return r;

        /* The config as it is on disk now, against what systemd has loaded: what it
         * cannot apply stops the restart here, before anything is touched. (On another
         * host the config is there: the restart applies what that systemd has loaded.) */
        if (local) {
                App *a = &f->hosts[0].app;

                r = config_plan_load(f->hosts[0].bus, a, &plan);
                if (r < 0)
                        return r;
                if (arg_dry_run) {
                        config_plan_print(&plan, a, stdout, false);
                        if (plan.refused)
                                printf("A restart would refuse this config, and change nothing.\n");
                        else if (plan.need_reload)
                                printf("A restart runs 'systemctl%s daemon-reload', then starts a new generation "
                                       "on every running worker with the config in %s.\n", arg_user ? " --user" : "",
                                       plan.sources);
                        else
                                printf("systemd runs %s as it is: a restart starts a new generation of the same "
                                       "config on every running worker.\n", plan.sources);
                        return 0;
                }
                if (plan.refused) {
                        log_error("The config (%s) has changes a restart cannot apply; nothing was changed:", plan.sources);
                        config_plan_print(&plan, a, stderr, true);
                        return -EINVAL;
                }
        }

        running = fleet_involve(f);
        if (running < 0)
                return running;
        if (arg_suspended && running == 0) {
                /* Nothing runs that could record the suspension: a request would start a
                 * worker on the new code before the migration. */
                log_error("No worker of %s runs, so none can hold requests for a suspended restart; start it with "
                          "'sockdctl start %s' first.", args[0], args[0]);
                return -EIO;
        }

        if (!arg_one_host_at_a_time || f->n_hosts == 1)
                return fleet_restart(f, local ? &plan : NULL, deadline);

        /* For load balancers that health-check hosts: one host is restarted (all or
         * nothing on it) while the others serve, then the next. */
        for (size_t k = 0; k < f->n_hosts; k++) {
                Fleet one = { .hosts = &f->hosts[k], .n_hosts = 1 };

                if (!arg_quiet)
                        printf("Restarting %s on %s (host %zu of %zu).\n", args[0], f->hosts[k].name, k + 1, f->n_hosts);
                fflush(stdout);
                r = fleet_restart(&one, NULL, deadline);
                if (r >= 0)
                        continue;
                if (k > 0) {
                        fprintf(stderr, "The hosts before %s serve the new generation:", f->hosts[k].name);
                        for (size_t j = 0; j < k; j++)
                                fprintf(stderr, " %s", f->hosts[j].name);
                        fprintf(stderr, ". Their previous generations are gone (a committed restart hands over and "
                                "stops them), so they cannot be taken back; fix the release and run the restart "
                                "again, which brings every host to one release.\n");
                }
                if (k + 1 < f->n_hosts) {
                        fprintf(stderr, "Not touched:");
                        for (size_t j = k + 1; j < f->n_hosts; j++)
                                fprintf(stderr, " %s", f->hosts[j].name);
                        fprintf(stderr, ".\n");
                }
                return r;
        }
        return 0;
}

static unsigned app_count_suspended(sd_bus *bus, App *a, unsigned *ret_active, int *ret_error) {
        unsigned suspended = 0, active = 0;

        *ret_error = 0;
        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                int r = worker_refresh(bus, w);

                if (r < 0) {
                        *ret_error = r;
                        return 0;
                }
                if (!worker_active(w))
                        continue;
                active++;
                if (w->status.suspended.number > 0 || w->status.queueing)
                        suspended++;
        }
        *ret_active = active;
        return suspended;
}

int verb_resume(Fleet *f, char **args) {
        uint64_t deadline = now_monotonic() + arg_timeout;
        unsigned suspended = 0, failed = 0;
        int r;

        r = fleet_load_app(f, args[0]);
        if (r < 0)
                return r;
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];
                App *a = &h->app;
                unsigned n, active;

                r = app_watch(h->bus, a);
                if (r < 0)
                        return r;
                n = app_count_suspended(h->bus, a, &active, &r);
                if (r < 0)
                        return r;
                if (n == 0 && active == 0 && a->n_workers > 0) {
                        /* Every worker stopped or failed: a suspension outlives them, and
                         * only a worker that runs can say whether it holds one. */
                        r = app_jobs(h->bus, a, "StartUnit", true, true, true, deadline);
                        if (r < 0) {
                                log_error(HOST_FMT "The workers of %s could not be started to resume them.", HOST_ARGS(a),
                                          a->name);
                                return -EIO;
                        }
                        n = app_count_suspended(h->bus, a, &active, &r);
                        if (r < 0)
                                return r;
                        if (n == 0 && f->n_hosts == 1) {
                                log_error("Nothing of %s was suspended; its workers, which were all stopped, are started "
                                          "now.", a->name);
                                return -EALREADY;
                        }
                }
                suspended += n;
        }
        if (suspended == 0) {
                log_error("Nothing of %s is suspended%s: use 'sockdctl restart --suspended %s' first.", args[0],
                          f->n_hosts > 1 ? " on any host" : "", args[0]);
                return -EALREADY;
        }
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];

                for (unsigned i = 0; i < h->app.n_workers; i++) {
                        WorkerRef *w = &h->app.workers[i];

                        if (!worker_active(w) || (w->status.suspended.number == 0 && !w->status.queueing))
                                continue;
                        if (worker_involve(w, w->status.suspended) < 0)
                                return log_oom();
                }
        }
        for (size_t k = 0; k < f->n_hosts; k++)
                for (unsigned i = 0; i < f->hosts[k].app.n_workers; i++)
                        if (f->hosts[k].app.workers[i].involved)
                                (void) worker_signal(f->hosts[k].bus, &f->hosts[k].app.workers[i], WORKER_SIGNAL_RESUME);
        r = fleet_wait(f, resumed_done, deadline);
        if (r == -ETIMEDOUT)
                fleet_mark_unanswered(f, resumed_done);
        else if (r < 0)
                log_error_errno(r, "Failed while waiting for the workers to resume: %m");
        for (size_t k = 0; k < f->n_hosts; k++) {
                Host *h = &f->hosts[k];

                for (unsigned i = 0; i < h->app.n_workers; i++) {
                        WorkerRef *w = &h->app.workers[i];

                        if (!w->involved)
                                continue;
                        if (!w->error && resumed_done(w) &&
                            (!worker_active(w) || w->failure || w->status.serving.number == 0) &&
                            !(w->error = strdup(worker_active(w) ? "resume failed" : "failed after resume")))
                                return log_oom();
                        if (w->error)
                                failed++;
                }
                /* The suspension is over either way: workers stopped during it start now. */
                if (app_jobs(h->bus, &h->app, "StartUnit", true, true, true, deadline) < 0)
                        failed++;
        }
        if (failed > 0 || r < 0) {
                fleet_report_failures(f, "resume");
                fprintf(stderr, "The suspension is lifted: a worker whose new generation failed is restarted by "
                        "systemd with the crash back-off, and serves once its app starts.\n");
                return -EIO;
        }
        for (size_t k = 0; k < f->n_hosts && !arg_quiet; k++) {
                App *a = &f->hosts[k].app;

                for (unsigned i = 0; i < a->n_workers; i++) {
                        WorkerRef *w = &a->workers[i];
                        if (w->involved)
                                printf(HOST_FMT "%s: generation %" PRIu64 " (pid %d) serves\n", HOST_ARGS(a), w->service,
                                       w->status.serving.number, (int) w->status.serving.pid);
                }
        }
        return 0;
}
