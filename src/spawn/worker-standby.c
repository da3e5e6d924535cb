/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Standby=yes: a spare generation per worker, booted beside the serving one with its
 * readiness gate kept closed, so that it takes no connection from the socket (as a
 * prepared generation waits for its commit). When the serving generation dies, the
 * spare takes over at once, its gate opens, and what waits in the socket's backlog is
 * served; without it, the worker would exit, systemd would restart it after its
 * back-off, and the socket would queue through the app's whole start-up. Then the next
 * spare boots. It costs one more app process per worker, idle.
 *
 * Standby=serving: the spare's gate opens once it is ready, so that it serves beside
 * the serving generation (the same release, the same settings). A parked spare is a
 * cold process that suddenly gets all of the worker's traffic when it takes over; this
 * one has been serving all along, so the takeover only moves the rest of the traffic to
 * a warm process. Whatever stops it (a swap, a suspension, the worker's stop) stops it
 * as any retired generation: it finishes what it has, and what its idle connections
 * bring goes on to the serving one.
 */
#include <errno.h>
#include <inttypes.h>

#include "log.h"
#include "macro.h"
#include "worker.h"

static bool standby_wanted(Worker *w) {
        Generation *serving = worker_serving(w);

        /* Without the preload there is no gate to keep a spare off the socket. */
        return serving && serving->settings->opts.standby != STANDBY_NO && serving->settings->use_preload && !w->stopping &&
               !w->incoming && w->suspension == SUSPENSION_NONE;
}

void worker_standby_stop(Worker *w) {
        Generation *g = w->standby;

        w->standby_source = sd_event_source_disable_unref(w->standby_source);
        if (!g)
                return;
        w->standby = NULL;
        g->standby = false;
        log_gen(LOG_INFO, g->number, "Stopping standby generation %" PRIu64 " (pid %d).", g->number, (int) g->pid);
        generation_stop(g);
        worker_update_status(w);
}

static void standby_schedule(Worker *w);

static void standby_start(Worker *w) {
        Generation *serving = worker_serving(w), *g = NULL;
        int r;

        if (w->standby || !standby_wanted(w))
                return;
        r = worker_spawn(w, serving->settings, false, &g);
        if (r < 0) {
                log_warning_errno(r, "Failed to start a standby generation, trying again after the back-off: %m");
                w->standby_failures++;
                standby_schedule(w);
                return;
        }
        g->standby = true;
        w->standby = g;
        log_gen(LOG_INFO, g->number, "Booting standby generation %" PRIu64 " (pid %d) beside generation %" PRIu64 ".",
                g->number, (int) g->pid, serving->number);
        worker_update_status(w);
}

static int on_standby_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        w->standby_source = sd_event_source_disable_unref(w->standby_source);
        standby_start(w);
        return 0;
}

/* After crashes, or spares that died before they were ready, the next spare waits as
 * the crash back-off does: an app that dies whenever it starts must not be started over
 * and over beside the one that serves. */
static usec_t standby_delay(const Worker *w) {
        unsigned n = w->crashes + w->standby_failures;
        usec_t delay = BACKOFF_FIRST_USEC;

        if (n == 0)
                return 0;
        for (unsigned i = 1; i < n && delay < BACKOFF_MAX_USEC; i++)
                delay *= 2;
        return MIN(delay, BACKOFF_MAX_USEC);
}

static void standby_schedule(Worker *w) {
        usec_t delay;
        uint64_t now;
        int r;

        if (w->standby || w->standby_source || !standby_wanted(w))
                return;
        delay = standby_delay(w);
        if (delay == 0)
                return standby_start(w);
        r = sd_event_now(w->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(w->event, &w->standby_source, CLOCK_MONOTONIC, now + delay, 0, on_standby_timer, w);
        if (r < 0) {
                log_warning_errno(r, "Failed to arm the standby's back-off, starting it now: %m");
                standby_start(w);
        }
}

void worker_standby_refresh(Worker *w) {
        Generation *serving = worker_serving(w);
        static bool warned = false;

        if (serving && serving->settings->opts.standby != STANDBY_NO && !serving->settings->use_preload && !warned) {
                warned = true;
                log_warning("Standby=%s needs the preload library, which %s cannot load: no standby generation "
                            "runs.", standby_mode_to_string(serving->settings->opts.standby),
                            serving->settings->opts.argv[0]);
        }

        /* A spare of other settings (a swap brought new ones) would take over with what
         * the worker no longer runs. */
        if (w->standby && (!standby_wanted(w) || w->standby->settings != serving->settings))
                worker_standby_stop(w);
        if (!standby_wanted(w)) {
                w->standby_source = sd_event_source_disable_unref(w->standby_source);
                return;
        }
        standby_schedule(w);
}

bool worker_standby_take_over(Worker *w, Generation *dead, const char *how) {
        Generation *g = w->standby;

        if (!g || g->state != GENERATION_READY || w->stopping || w->suspension != SUSPENSION_NONE)
                return false;
        w->standby = NULL;
        g->standby = false;
        /* A crash all the same: the next spare waits the back-off, which starts over once
         * this one has served for a while. */
        w->crashes++;
        worker_save_state(w);
        log_gen(LOG_ERR, dead->number, "The serving generation %" PRIu64 " (pid %d) %s; standby generation %" PRIu64
                " (pid %d) takes over.", dead->number, (int) dead->pid, how, g->number, (int) g->pid);
        worker_promote(w, g);
        worker_update_status(w);
        return true;
}

void worker_on_standby_ready(Generation *g) {
        Worker *w = g->worker;
        Generation *serving = worker_serving(w);
        bool serves = g->settings->opts.standby == STANDBY_SERVING;

        w->standby_failures = 0;
        if (serves)
                generation_open_gate(g);
        log_gen(LOG_INFO, g->number, "Standby generation %" PRIu64 " (pid %d) is ready%s generation %" PRIu64
                ": it takes over if that one dies.", g->number, (int) g->pid, serves ? " and serves beside" : " beside",
                serving ? serving->number : 0);
        worker_update_status(w);
}

void worker_on_standby_exit(Generation *g, const char *how) {
        Worker *w = g->worker;

        if (w->standby == g)
                w->standby = NULL;
        g->standby = false;
        if (w->stopping)
                return;
        w->standby_failures++;
        log_gen(LOG_WARNING, g->number, "Standby generation %" PRIu64 " (pid %d) %s; another starts after the back-off.",
                g->number, (int) g->pid, g->failure ?: how);
        standby_schedule(w);
        worker_update_status(w);
}
