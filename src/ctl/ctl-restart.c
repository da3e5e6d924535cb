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

/* Takes every involved worker's prepared generation back; the old ones keep serving.
 * Every involved worker gets the abort, also those whose status does not show the new
 * generation yet: the shim may not have handled the prepare when we looked. An abort
 * with nothing prepared is a no-op there, and one never touches a reload's generation. */
static int app_abort(sd_bus *bus, App *a, uint64_t deadline) {
        uint64_t grace = now_monotonic() + ABORT_GRACE_USEC;
        int r;

        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                if (w->involved && worker_active(w))
                        (void) worker_signal(bus, w, WORKER_SIGNAL_ABORT);
        }
        r = app_wait(bus, a, aborted_done, MAX(deadline, grace));
        if (r == -ETIMEDOUT)
                log_error("The aborts were sent, but not every worker confirmed it in time; 'sockdctl status %s' "
                          "shows where they are.", a->name);
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
 * returns how many failed (those that did not answer in time included), or -ENOMEM. */
static int phase_failures(App *a, WorkerDone done, bool committing) {
        int failed = 0;

        for (unsigned i = 0; i < a->n_workers; i++) {
                WorkerRef *w = &a->workers[i];
                const char *e = w->involved && done(w) ? phase_error(w, committing) : NULL;

                if (!w->error && e && !(w->error = strdup(e)))
                        return log_oom();
                if (w->involved && w->error)
                        failed++;
        }
        return failed;
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
static int app_deliver_settings(sd_bus *bus, App *a, uint64_t deadline) {
        _cleanup_(job_waiter_freep) JobWaiter *waiter = NULL;
        unsigned failed = 0;
        int r;

        r = job_waiter_new(bus, &waiter);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd's jobs: %m");
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
        r = job_waiter_wait(waiter, deadline);
        if (r < 0)
                return log_error_errno(r, "Failed to wait for the workers to take their new settings: %m");

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
        return failed > 0 ? -EIO : 0;
}

int verb_restart(sd_bus *bus, char **args) {
        _cleanup_(config_plan_done) ConfigPlan plan = {};
        _cleanup_(app_done) App a = {};
        unsigned running = 0;
        int failed = 0;
        uint64_t deadline = now_monotonic() + arg_timeout;
        const char *what = arg_suspended ? "suspended restart" : "restart";
        bool queue;
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;

        /* The config as it is on disk now, against what systemd has loaded: what it
         * cannot apply stops the restart here, before anything is touched. (On another
         * host the config is there: the restart applies what that systemd has loaded.) */
        if (arg_transport == BUS_TRANSPORT_LOCAL) {
                r = config_plan_load(bus, &a, &plan);
                if (r < 0)
                        return r;
                if (arg_dry_run) {
                        config_plan_print(&plan, &a, stdout, false);
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
                        config_plan_print(&plan, &a, stderr, true);
                        return -EINVAL;
                }
        }
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
                        _cleanup_free_ char *status = escape_for_terminal(w->status_text);
                        log_error("%s is busy (%s); try again when it serves.", w->service, strempty(status));
                        return -EBUSY;
                }
                if (worker_involve(w, w->status.serving) < 0)
                        return log_oom();
                running++;
        }
        if (arg_suspended && running == 0) {
                /* Nothing runs that could record the suspension: a request would start a
                 * worker on the new code before the migration. */
                log_error("No worker of %s runs, so none can hold requests for a suspended restart; start it with "
                          "'sockdctl start %s' first.", a.name, a.name);
                return -EIO;
        }

        /* Phase 0: the units as the config is now, and every worker gets their
         * settings. Nothing serves differently yet. */
        if (plan.need_reload) {
                r = daemon_reload(bus, plan.sources);
                if (r < 0)
                        return r;
        }
        if (running > 0) {
                r = app_deliver_settings(bus, &a, deadline);
                if (r < 0) {
                        if (r == -EIO)
                                report_failures(bus, &a, what);
                        fprintf(stderr, "Nothing was restarted: every worker keeps serving its generation.\n");
                        if (plan.need_reload)
                                fprintf(stderr, "systemd's units are %s's as it is now (the daemon-reload ran): a "
                                        "worker that systemd starts again runs it.\n", plan.sources);
                        return -EIO;
                }
        }

        /* Phase 1: a new generation beside the old one on every worker. */
        if (running > 0 && !queue) {
                for (unsigned i = 0; i < a.n_workers; i++)
                        if (a.workers[i].involved) {
                                r = worker_signal(bus, &a.workers[i], arg_suspended ? WORKER_SIGNAL_PREPARE_SUSPENDED : WORKER_SIGNAL_PREPARE);
                                if (r < 0) {
                                        (void) app_abort(bus, &a, deadline);
                                        return r;
                                }
                        }
                r = app_wait(bus, &a, prepared_done, deadline);
                if (r == -ETIMEDOUT)
                        mark_unanswered(&a, prepared_done);
                failed = phase_failures(&a, prepared_done, false);
                if (failed < 0)
                        return failed;
                if (r == -EINTR)
                        log_error("Interrupted.");
                else if (r < 0 && r != -ETIMEDOUT)
                        log_error_errno(r, "Failed while waiting for the new generations: %m");
                if (r < 0 || failed > 0) {
                        interrupted = 0;
                        (void) app_abort(bus, &a, deadline);
                        report_failures(bus, &a, what);
                        fprintf(stderr, "Every worker keeps serving its previous generation.\n");
                        return -EIO;
                }
        }

        /* Phase 2: every new generation is ready: commit. Past this point nothing is taken
         * back: a worker whose new generation dies now keeps serving its old one, and a
         * worker that dies is restarted by systemd. */
        for (unsigned i = 0; i < a.n_workers; i++)
                if (a.workers[i].involved)
                        (void) worker_signal(bus, &a.workers[i], arg_suspended ? WORKER_SIGNAL_SUSPEND : WORKER_SIGNAL_COMMIT);
        WorkerDone done = arg_suspended ? suspended_done : committed_done;
        r = app_wait(bus, &a, done, deadline);
        if (r == -ETIMEDOUT)
                mark_unanswered(&a, done);
        else if (r == -EINTR)
                log_error("Interrupted; the workers go on with what they were sent.");
        else if (r < 0)
                log_error_errno(r, "Failed while waiting for the workers to %s: %m", arg_suspended ? "suspend" : "switch over");
        failed = phase_failures(&a, done, true);
        if (failed < 0)
                return failed;
        if (failed > 0 || r < 0) {
                report_failures(bus, &a, what);
                if (arg_suspended)
                        fprintf(stderr, "The other workers are suspended: 'sockdctl resume %s' serves requests again.\n", a.name);
                else
                        fprintf(stderr, "The other workers switched to the new generation. A worker named above keeps "
                                "serving its previous generation, or, if it died, is restarted by systemd on the code "
                                "now on disk. Run 'sockdctl restart %s' again to bring every worker to one release.\n",
                                a.name);
                return -EIO;
        }

        /* Workers that were not running are simply started (at resume, when suspended). */
        if (!arg_suspended && running < a.n_workers) {
                r = app_jobs(bus, &a, "StartUnit", true, true, true, deadline);
                if (r < 0)
                        return -EIO;
        }

        if (!arg_quiet)
                for (unsigned i = 0; i < a.n_workers; i++) {
                        WorkerRef *w = &a.workers[i];
                        WorkerGeneration now = worker_status_current(&w->status);

                        if (!w->involved)
                                printf("%s: %s\n", w->service, arg_suspended ? "not running" : "started");
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

int verb_resume(sd_bus *bus, char **args) {
        _cleanup_(app_done) App a = {};
        uint64_t deadline = now_monotonic() + arg_timeout;
        unsigned suspended, active, failed = 0;
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;
        r = app_watch(bus, &a);
        if (r < 0)
                return r;
        suspended = app_count_suspended(bus, &a, &active, &r);
        if (r < 0)
                return r;
        if (suspended == 0 && active == 0 && a.n_workers > 0) {
                /* Every worker stopped or failed: a suspension outlives them, and only a
                 * worker that runs can say whether it holds one. */
                r = app_jobs(bus, &a, "StartUnit", true, true, true, deadline);
                if (r < 0) {
                        log_error("The workers of %s could not be started to resume them.", a.name);
                        return -EIO;
                }
                suspended = app_count_suspended(bus, &a, &active, &r);
                if (r < 0)
                        return r;
                if (suspended == 0) {
                        log_error("Nothing of %s was suspended; its workers, which were all stopped, are started now.", a.name);
                        return -EALREADY;
                }
        }
        if (suspended == 0) {
                log_error("Nothing of %s is suspended: use 'sockdctl restart --suspended %s' first.", a.name, a.name);
                return -EALREADY;
        }
        for (unsigned i = 0; i < a.n_workers; i++) {
                WorkerRef *w = &a.workers[i];

                if (!worker_active(w) || (w->status.suspended.number == 0 && !w->status.queueing))
                        continue;
                if (worker_involve(w, w->status.suspended) < 0)
                        return log_oom();
        }
        for (unsigned i = 0; i < a.n_workers; i++)
                if (a.workers[i].involved)
                        (void) worker_signal(bus, &a.workers[i], WORKER_SIGNAL_RESUME);
        r = app_wait(bus, &a, resumed_done, deadline);
        if (r == -ETIMEDOUT)
                mark_unanswered(&a, resumed_done);
        else if (r < 0)
                log_error_errno(r, "Failed while waiting for the workers to resume: %m");
        for (unsigned i = 0; i < a.n_workers; i++) {
                WorkerRef *w = &a.workers[i];

                if (!w->involved)
                        continue;
                if (!w->error && resumed_done(w) && (!worker_active(w) || w->failure || w->status.serving.number == 0) &&
                    !(w->error = strdup(worker_active(w) ? "resume failed" : "failed after resume")))
                        return log_oom();
                if (w->error)
                        failed++;
        }
        /* The suspension is over either way: workers stopped during it start now. */
        if (app_jobs(bus, &a, "StartUnit", true, true, true, deadline) < 0)
                failed++;
        if (failed > 0 || r < 0) {
                report_failures(bus, &a, "resume");
                fprintf(stderr, "The suspension is lifted: a worker whose new generation failed is restarted by "
                        "systemd with the crash back-off, and serves once its app starts.\n");
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
