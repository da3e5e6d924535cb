/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Swaps between generations and the requests that drive them: a reload (ExecReload=,
 * SIGHUP), and sockdctl's prepare, commit, abort, suspend and resume, which arrive as
 * signals through systemd (KillUnit) and are answered in the StatusText. Each request
 * acts only on the kind of swap it is meant for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "macro.h"
#include "strv.h"
#include "worker.h"

/* How long a request for settings (WORKER_SIGNAL_EXPECT_SETTINGS) waits for the reload
 * that brings them: sockdctl sends that reload right after. */
#define EXPECT_SETTINGS_USEC (10 * USEC_PER_SEC)

static bool swap_is_prepared(SwapKind kind) {
        return kind == SWAP_PREPARE || kind == SWAP_PREPARE_SUSPENDED;
}

static const char *swap_kind_to_string(SwapKind kind) {
        switch (kind) {
        case SWAP_RELOAD:
                return "a reload";
        case SWAP_PREPARE:
                return "a prepared restart";
        case SWAP_PREPARE_SUSPENDED:
                return "a prepared suspended restart";
        case SWAP_RESUME:
                return "a resume";
        }
        return "a swap";
}

static void swap_reply(Worker *w, Generation *g, const char *error) {
        if (!w->swap_request)
                return;
        if (error)
                (void) sd_bus_reply_method_errorf(w->swap_request, WORKER_ERROR_FAILED, "%s", error);
        else
                (void) sd_bus_reply_method_return(w->swap_request, "tu", g->number, (uint32_t) g->pid);
        w->swap_request = sd_bus_message_unref(w->swap_request);
}

/* What the StatusText shows as "failed: ..." until the next swap starts: sockdctl waits
 * on it, so every refusal and failure a request meets ends up here, at once. */
void worker_set_failure(Worker *w, const Generation *g, const char *why) {
        free(w->last_failure);
        w->last_failure = strdup(why);
        w->last_failure_generation = g ? (WorkerGeneration) { .number = g->number, .pid = g->pid } : (WorkerGeneration) {};
        worker_update_status(w);
}

/* The incoming generation did not make it: remember why and answer whoever waits. */
void swap_failed(Worker *w, Generation *g, const char *why) {
        Generation *serving = worker_serving(w);
        _cleanup_free_ char *answer = NULL;

        worker_set_failure(w, g, why);
        if (serving)
                log_gen(LOG_ERR, g->number, "Swap failed: generation %" PRIu64 " (pid %d) %s; generation %" PRIu64 " keeps serving.",
                        g->number, (int) g->pid, why, serving->number);
        else
                log_gen(LOG_ERR, g->number, "Generation %" PRIu64 " (pid %d) %s.", g->number, (int) g->pid, why);

        if (asprintf(&answer, "generation %" PRIu64 " (pid %d) %s", g->number, (int) g->pid, why) < 0)
                answer = NULL;
        swap_reply(w, g, answer ?: why);
        if (w->incoming == g)
                w->incoming = NULL;
        worker_standby_refresh(w);
}

void worker_promote(Worker *w, Generation *g) {
        generation_set_state(g, GENERATION_EVENT_PROMOTE);
        /* What it runs is what the worker runs from now on, also after a crash. */
        if (w->settings != g->settings) {
                settings_unref(w->settings);
                w->settings = settings_ref(g->settings);
        }
        /* Only now may its event loop take connections from the socket. */
        generation_open_gate(g);
        if (w->incoming == g)
                w->incoming = NULL;

        for (Generation *old = w->generations; old; old = old->next) {
                /* Held: nothing older may serve on, not even one still handing over. */
                if (old != g && g->held && old->handing_over)
                        generation_stop(old);
                if (old != g && old->state == GENERATION_SERVING) {
                        log_gen(LOG_INFO, g->number, "Generation %" PRIu64 " %s; draining generation %" PRIu64 ".",
                                g->number, g->held ? "holds requests" : "serves", old->number);
                        if (g->held)
                                generation_stop(old);
                        else
                                generation_hand_over(old, &g->settings->opts);
                }
        }
        if (g->held)
                worker_set_suspension(w, SUSPENSION_HOLD);
        swap_reply(w, g, NULL);
        worker_notify_ready(w);
        worker_on_promoted(w);
}

int worker_start_swap(Worker *w, SwapKind kind, Settings *settings, sd_bus_message *request, sd_bus_error *error) {
        _cleanup_(settings_unrefp) Settings *next = NULL;
        Generation *serving = worker_serving(w);
        int r;

        if (w->stopping)
                return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING, "The worker is stopping.");
        if (w->incoming)
                return sd_bus_error_setf(error, WORKER_ERROR_BUSY,
                                         "A swap to generation %" PRIu64 " is already in progress (%s).",
                                         w->incoming->number, swap_kind_to_string(w->swap_kind));
        if (kind == SWAP_RESUME) {
                if (w->suspension != SUSPENSION_QUEUE)
                        return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING, "The worker is not suspended.");
        } else if (w->suspension != SUSPENSION_NONE)
                return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING,
                                        "The worker is suspended; resume it first (sockdctl resume).");
        else if (!serving)
                return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING,
                                        "The worker has no serving generation yet; wait for it to start.");

        /* The spare runs what the worker runs now, not what the swap brings. */
        worker_standby_stop(w);
        w->last_failure = mfree(w->last_failure);
        w->swap_kind = kind;
        /* What sockdctl delivered is for this swap only, whatever comes of it. */
        next = TAKE_PTR(w->next_settings);
        if (!settings)
                settings = next ?: w->settings;
        if (serving)
                log_info("Swapping: starting a generation beside generation %" PRIu64 " (pid %d)%s.",
                         serving->number, (int) serving->pid,
                         kind == SWAP_PREPARE_SUSPENDED ? ", held" : kind == SWAP_RELOAD ? "" : ", prepared only");
        else
                log_info("Resuming: starting a generation on the queued socket.");
        r = worker_spawn(w, settings, kind == SWAP_PREPARE_SUSPENDED, &w->incoming);
        if (r < 0) {
                w->incoming = NULL;
                return sd_bus_error_set_errnof(error, r, "Failed to start a new generation: %m");
        }
        if (request)
                w->swap_request = sd_bus_message_ref(request);
        return 1;
}

/* A generation is up: whether it takes over now depends on why it was started. */
void worker_on_generation_ready(Generation *g) {
        Worker *w = g->worker;
        int r;

        generation_set_state(g, GENERATION_EVENT_READY);
        g->ready_usec = now_usec(CLOCK_REALTIME);
        g->timer_source = sd_event_source_disable_unref(g->timer_source);
        log_gen(LOG_INFO, g->number, "Generation %" PRIu64 " (pid %d) is ready%s.", g->number, (int) g->pid,
                g->held ? ", holding requests" : "");

        if (w->stopping) {
                generation_stop(g);
                return;
        }
        if (g->standby)
                return worker_on_standby_ready(g);

        if (w->incoming == g && swap_is_prepared(w->swap_kind)) {
                /* Prepared: it waits beside the old one for commit or abort, but not
                 * forever if whoever prepared it went away. */
                r = generation_arm_timer(g, g->settings->opts.ready_timeout + 60 * USEC_PER_SEC);
                if (r < 0)
                        log_gen_errno(LOG_WARNING, r, g->number, "Failed to arm the commit timer, ignoring: %m");
                worker_update_status(w);
                return;
        }

        /* A reload, a resume, or the worker's first generation: it takes over now. */
        worker_promote(w, g);
        worker_update_status(w);
}

/* The worker cannot serve any more: exit non-zero so that systemd restarts it (the
 * socket keeps queueing meanwhile) and the crash back-off applies. */
static void worker_give_up(Worker *w, const siginfo_t *si, const char *fmt, ...) _printf_(3, 4);
static void worker_give_up(Worker *w, const siginfo_t *si, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        /* Still alive: to the journal with our fields; worker_fail() turns to stderr. */
        log_error("%s; exiting so that systemd restarts the worker.", strempty(msg));
        worker_fail(w, si && si->si_code == CLD_EXITED && si->si_status != 0 ? si->si_status : EXIT_FAILURE);
}

/* The main process of @g is gone. One log line says what happened and what follows. */
void worker_on_generation_exit(Generation *g, const siginfo_t *si) {
        Worker *w = g->worker;
        GenerationState was = g->state;
        Generation *serving;
        char how[64];

        exit_describe(si, how, sizeof how);
        generation_set_state(g, GENERATION_EVENT_EXIT);
        serving = worker_serving(w);

        if (g->standby)
                worker_on_standby_exit(g, how);
        else if (w->incoming == g && !w->stopping) {
                /* Whatever state it was in, the swap it was meant for failed. */
                _cleanup_free_ char *why = NULL;

                if (g->failure)
                        why = strdup(g->failure);
                else if (asprintf(&why, "%s %s", how,
                                  was == GENERATION_READY ? "while it waited for the swap to be committed"
                                                          : "before it was ready") < 0)
                        why = NULL;
                swap_failed(w, g, why ?: how);
                if (!serving && w->suspension == SUSPENSION_NONE)
                        /* A resume whose generation failed: nothing serves. */
                        worker_give_up(w, si, "No generation serves after generation %" PRIu64 " failed", g->number);
        } else if ((was == GENERATION_STARTING || was == GENERATION_READY) && !serving && !w->stopping)
                worker_give_up(w, si, "Worker failed to start: generation %" PRIu64 " (pid %d) %s", g->number,
                               (int) g->pid, g->failure ?: how);
        else if (was == GENERATION_SERVING && !w->stopping && worker_standby_take_over(w, g, how))
                ; /* the spare serves: the worker goes on */
        else if (was == GENERATION_SERVING && !w->stopping) {
                log_gen(LOG_ERR, g->number, "The serving generation %" PRIu64 " (pid %d) %s%s; exiting so that systemd "
                        "restarts the worker.", g->number, (int) g->pid, how,
                        w->suspension == SUSPENSION_HOLD ? " while suspended" : "");
                if (w->incoming)
                        swap_failed(w, w->incoming, "was stopped: the serving generation died during the swap");
                worker_fail(w, si->si_code == CLD_EXITED && si->si_status != 0 ? si->si_status : EXIT_FAILURE);
        } else {
                bool expected = was == GENERATION_DRAINING && !g->killed;

                log_gen(expected ? LOG_INFO : LOG_WARNING, g->number, "Generation %" PRIu64 " (pid %d) %s%s.",
                        g->number, (int) g->pid, how,
                        was != GENERATION_DRAINING ? "" :
                        g->killed ? (g->ready_usec ? " after StopTimeoutSec= ran out" : "") :
                        g->ready_usec ? " after draining" : " after it was asked to stop");
        }
}

void worker_on_generation_timer(Generation *g) {
        Worker *w = g->worker;

        if (g->handing_over) {
                generation_stop(g);
                return;
        }
        switch (g->state) {
        case GENERATION_STARTING: {
                _cleanup_free_ char *t = format_duration(g->settings->opts.ready_timeout), *bound = strv_join(g->bound, ", ");
                int k;

                free(g->failure);
                if (w->opts.listen && !g->adopted)
                        /* Say what it did bind: the usual mistake is another port. */
                        k = asprintf(&g->failure, "did not bind Listen=%s within ReadyTimeoutSec=%s (it bound %s)",
                                     w->opts.listen, strempty(t), isempty(bound) ? "nothing" : bound);
                else
                        k = asprintf(&g->failure, "did not become ready within ReadyTimeoutSec=%s", strempty(t));
                if (k < 0)
                        g->failure = NULL;
                if (w->incoming == g) {
                        swap_failed(w, g, strempty(g->failure));
                        if (!worker_serving(w) && w->suspension == SUSPENSION_NONE)
                                worker_give_up(w, NULL, "No generation serves after generation %" PRIu64 " failed", g->number);
                } else if (!worker_serving(w) && !w->stopping)
                        worker_give_up(w, NULL, "Worker failed to start: generation %" PRIu64 " (pid %d) %s", g->number,
                                       (int) g->pid, strempty(g->failure));
                /* It may have begun to accept already: let it finish what it took, as any
                 * other stop does (SIGKILL only after StopTimeoutSec=). */
                generation_stop(g);
                break;
        }
        case GENERATION_READY:
                free(g->failure);
                if (asprintf(&g->failure, "was prepared but neither committed nor aborted in time") < 0)
                        g->failure = NULL;
                if (w->incoming == g)
                        swap_failed(w, g, strempty(g->failure));
                generation_stop(g);
                break;
        case GENERATION_DRAINING:
                log_gen(LOG_WARNING, g->number, "Generation %" PRIu64 " (pid %d) did not exit within StopTimeoutSec=, sending SIGKILL.",
                        g->number, (int) g->pid);
                generation_kill(g);
                break;
        case GENERATION_DEAD:
                log_gen(LOG_WARNING, g->number, "Processes of generation %" PRIu64 " are still there after StopTimeoutSec=, "
                        "sending SIGKILL to its process group.", g->number);
                generation_kill(g);
                break;
        default:
                break;
        }
        worker_update_status(w);
}

/* ---- sockdctl's requests ---- */

/* Suspend=queue: no new generation, the serving one drains, requests wait in the
 * socket's backlog until resume. */
static void worker_suspend_queue(Worker *w) {
        Generation *serving = worker_serving(w);
        const char *refusal = w->suspension != SUSPENSION_NONE ? "the worker is suspended already" :
                              w->incoming ? NULL :
                              !serving ? "nothing serves yet" : NULL;
        _cleanup_free_ char *why = NULL;

        if (w->incoming && asprintf(&why, "suspend refused: a swap to generation %" PRIu64 " is in progress (%s)",
                                    w->incoming->number, swap_kind_to_string(w->swap_kind)) < 0)
                why = NULL;
        if (refusal && asprintf(&why, "suspend refused: %s", refusal) < 0)
                why = NULL;
        if (w->incoming || refusal) {
                log_warning("Not suspending: %s.", why ?: "refused");
                worker_set_failure(w, NULL, why ?: "suspend refused");
                return;
        }

        log_info("Suspending: requests queue in the socket's backlog; draining generation %" PRIu64 ".", serving->number);
        worker_standby_stop(w);
        w->last_failure = mfree(w->last_failure);
        worker_set_suspension(w, SUSPENSION_QUEUE);
        for (Generation *i = w->generations; i; i = i->next)
                if (i->state == GENERATION_SERVING || i->handing_over)
                        generation_stop(i);
        worker_update_status(w);
}

/* Commit: the prepared generation takes over; with @suspended it is the held one of a
 * suspended restart (Suspend=hold), which then holds requests. */
static void worker_commit(Worker *w, bool suspended) {
        Generation *g = w->incoming;

        if (suspended && w->opts.suspend == SUSPEND_QUEUE)
                return worker_suspend_queue(w);

        if (!g || w->swap_kind != (suspended ? SWAP_PREPARE_SUSPENDED : SWAP_PREPARE) || g->state != GENERATION_READY) {
                _cleanup_free_ char *why = NULL;

                if (asprintf(&why, "%s refused: %s", suspended ? "suspend" : "commit",
                             !g ? "nothing was prepared" :
                             !swap_is_prepared(w->swap_kind) || g->held != suspended ? "the swap in progress is not the one to commit" :
                             "the prepared generation is not ready yet") < 0)
                        why = NULL;
                log_warning("%s%s.", why ?: "commit refused", g ? "" : ", ignoring");
                /* A failure already shown (the prepared one died) says more: keep it. */
                if (!w->last_failure)
                        worker_set_failure(w, NULL, why ?: "commit refused");
                return;
        }
        g->timer_source = sd_event_source_disable_unref(g->timer_source);
        worker_promote(w, g);
        worker_update_status(w);
}

static void worker_abort(Worker *w) {
        Generation *g = w->incoming;

        if (!g) {
                log_info("Nothing prepared to abort.");
                return;
        }
        if (!swap_is_prepared(w->swap_kind)) {
                /* sockdctl aborts every worker it involved; a reload that started here in
                 * the meantime is not its to take back. */
                log_info("Not aborting generation %" PRIu64 ": it belongs to %s, not to a prepared restart.", g->number,
                         swap_kind_to_string(w->swap_kind));
                return;
        }
        swap_failed(w, g, "was aborted: another worker's new generation failed");
        /* Starting or ready, it may have answered requests already: a graceful stop. */
        generation_stop(g);
        worker_update_status(w);
}

static void worker_resume(Worker *w) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        switch (w->suspension) {
        case SUSPENSION_HOLD:
                /* Lifted first: if the app dies from here on, it comes back unheld. */
                worker_set_suspension(w, SUSPENSION_NONE);
                for (Generation *g = w->generations; g; g = g->next) {
                        if (!g->held || g->state != GENERATION_SERVING)
                                continue;
                        log_gen(LOG_INFO, g->number, "Resuming generation %" PRIu64 " (pid %d).", g->number, (int) g->pid);
                        r = g->settings->opts.ready == READY_NODE_IPC ? generation_send_ipc(g, "resume")
                                                            : (kill(g->pid, WORKER_APP_RESUME_SIGNAL) < 0 ? negative_errno() : 0);
                        g->held = false;
                        if (r < 0) {
                                /* It would hold its requests for ever: start over. */
                                _cleanup_free_ char *why = NULL;

                                if (asprintf(&why, "could not be resumed: %s", strerror(-r)) < 0)
                                        why = NULL;
                                worker_set_failure(w, g, why ?: "could not be resumed");
                                log_gen_errno(LOG_ERR, r, g->number, "Generation %" PRIu64 " (pid %d) could not be resumed (%m); "
                                              "exiting so that systemd restarts the worker.", g->number, (int) g->pid);
                                worker_fail(w, EXIT_FAILURE);
                                return;
                        }
                }
                break;
        case SUSPENSION_QUEUE:
                /* The suspension ends here, whatever comes of the new generation: if it
                 * fails, the worker fails as a failed start does, systemd restarts it
                 * (with the crash back-off) and it is not suspended then. */
                r = worker_start_swap(w, SWAP_RESUME, NULL, NULL, &error);
                worker_set_suspension(w, SUSPENSION_NONE);
                if (r < 0) {
                        worker_set_failure(w, NULL, error.message);
                        log_error("Failed to resume: %s; exiting so that systemd restarts the worker.", error.message);
                        worker_fail(w, EXIT_FAILURE);
                }
                break;
        default:
                log_info("Not suspended, nothing to resume.");
        }
        sd_bus_error_free(&error);
        worker_standby_refresh(w);
        worker_update_status(w);
}

static int on_expect_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        w->expect_source = sd_event_source_disable_unref(w->expect_source);
        log_notice("No settings came within %" PRIu64 "s of sockdctl's request for them; the next reload swaps again.",
                   EXPECT_SETTINGS_USEC / USEC_PER_SEC);
        return 0;
}

/* sockdctl asks systemd for a reload next (ReloadUnit), only to have the unit's settings
 * as systemd has them loaded now: that reload swaps nothing. Not for long: a later
 * 'systemctl reload' must swap. */
static void worker_expect_settings(Worker *w) {
        uint64_t now;
        int r;

        w->expect_source = sd_event_source_disable_unref(w->expect_source);
        r = sd_event_now(w->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(w->event, &w->expect_source, CLOCK_MONOTONIC, now + EXPECT_SETTINGS_USEC, 0,
                                      on_expect_timeout, w);
        if (r < 0) {
                log_warning_errno(r, "Failed to expect settings: %m");
                worker_set_failure(w, NULL, "could not expect the new settings");
                return;
        }
        log_debug("Expecting the unit's settings from a reload.");
}

int worker_reload_with(Worker *w, Settings *settings, sd_bus_message *request, sd_bus_error *error) {
        if (w->expect_source) {
                w->expect_source = sd_event_source_disable_unref(w->expect_source);
                settings_unref(w->next_settings);
                w->next_settings = settings_ref(settings);
                log_info("Got the unit's settings for the next generation: %s.", settings->opts.argv[0]);
                return 0;
        }
        return worker_start_swap(w, SWAP_RELOAD, settings, request, error);
}

int worker_on_control_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Worker *w = userdata;
        int sig = (int) si->ssi_signo;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        /* Act on the generations as they are now: a prepared one that died a moment ago
         * must not be committed because its exit is still queued behind the request. */
        worker_reap_children(w);
        if (w->stopping)
                return 0;
        if (sig == SIGHUP || sig == WORKER_SIGNAL_PREPARE || sig == WORKER_SIGNAL_PREPARE_SUSPENDED) {
                SwapKind kind = sig == SIGHUP ? SWAP_RELOAD : sig == WORKER_SIGNAL_PREPARE ? SWAP_PREPARE : SWAP_PREPARE_SUSPENDED;

                if (kind == SWAP_PREPARE_SUSPENDED && w->opts.suspend == SUSPEND_QUEUE)
                        log_info("Suspend=queue: nothing to prepare.");
                else if (worker_start_swap(w, kind, NULL, NULL, &error) < 0) {
                        log_warning("%s: %s", signal_name(sig), error.message);
                        worker_set_failure(w, NULL, error.message);
                }
        } else if (sig == WORKER_SIGNAL_EXPECT_SETTINGS)
                worker_expect_settings(w);
        else if (sig == WORKER_SIGNAL_COMMIT)
                worker_commit(w, false);
        else if (sig == WORKER_SIGNAL_SUSPEND)
                worker_commit(w, true);
        else if (sig == WORKER_SIGNAL_ABORT)
                worker_abort(w);
        else if (sig == WORKER_SIGNAL_RESUME)
                worker_resume(w);
        sd_bus_error_free(&error);
        return 0;
}
