/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One worker: the app generations that run on one listening socket. This file holds
 * the worker's life (start, crash back-off, stop), what it keeps across restarts in its
 * runtime directories, and its StatusText. Everything happens in one sd-event loop:
 * child exits, notify datagrams, Node IPC lines, timers, signals and the control bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "program-check.h"
#include "strv.h"
#include "worker.h"

#define STATE_FILE "state"
#define SUSPENSION_FILE "suspended"

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

const char *signal_name(int sig) {
        const char *s = sigabbrev_np(sig);
        static char buf[16];

        if (s) {
                snprintf(buf, sizeof buf, "SIG%s", s);
                return buf;
        }
        snprintf(buf, sizeof buf, "signal %d", sig);
        return buf;
}

Generation *worker_serving(Worker *w) {
        for (Generation *g = w->generations; g; g = g->next)
                if (g->state == GENERATION_SERVING)
                        return g;
        return NULL;
}

void worker_forget(Worker *w, Generation *g) {
        for (Generation **p = &w->generations; *p; p = &(*p)->next)
                if (*p == g) {
                        *p = g->next;
                        break;
                }
        if (w->incoming == g)
                w->incoming = NULL;
        if (w->standby == g)
                w->standby = NULL;
        generation_free(g);
}

/* ---- what survives a restart ---- */

/* The worker's runtime directory is kept across restarts and stops
 * (RuntimeDirectoryPreserve=yes): generation numbers keep growing and the crash back-off
 * knows the history. */
void worker_save_state(Worker *w) {
        _cleanup_free_ char *content = NULL, *path = NULL;
        int r;

        if (asprintf(&content, "generation=%" PRIu64 "\ncrashes=%u\n", w->last_generation, w->crashes) < 0 ||
            asprintf(&path, "%s/" STATE_FILE, w->runtime_dir) < 0)
                return (void) log_oom();
        r = write_file_atomic(path, content);
        if (r < 0)
                log_warning_errno(r, "Failed to save the worker's state in '%s', ignoring: %m", w->runtime_dir);
}

static void worker_load_state(Worker *w) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        uint64_t gen;
        unsigned crashes;

        if (asprintf(&path, "%s/" STATE_FILE, w->runtime_dir) < 0)
                return (void) log_oom();
        f = fopen(path, "re");
        if (!f)
                return;
        if (fscanf(f, "generation=%" SCNu64 "\ncrashes=%u", &gen, &crashes) == 2) {
                w->last_generation = gen;
                w->crashes = crashes;
        }
}

/* A suspension belongs to the app, not to one process: it is kept in the directory the
 * app's workers share, so that a worker that crashes, is restarted or is started by a
 * request while the app is suspended stays suspended until 'sockdctl resume'. */
void worker_set_suspension(Worker *w, Suspension s) {
        _cleanup_free_ char *path = NULL;
        int r = 0;

        w->suspension = s;
        if (asprintf(&path, "%s/" SUSPENSION_FILE, w->app_runtime_dir) < 0)
                return (void) log_oom();
        if (s == SUSPENSION_NONE) {
                if (unlink(path) < 0 && errno != ENOENT)
                        r = negative_errno();
        } else
                r = write_file_atomic(path, s == SUSPENSION_HOLD ? "hold\n" : "queue\n");
        if (r < 0)
                log_error_errno(r, "Failed to record the suspension in '%s': %m; a restarted worker would not know it.",
                                w->app_runtime_dir);
}

static Suspension worker_load_suspension(Worker *w) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/" SUSPENSION_FILE, w->app_runtime_dir) < 0)
                return SUSPENSION_NONE;
        f = fopen(path, "re");
        if (!f || getline(&line, &size, f) < 0)
                return SUSPENSION_NONE;
        return strncmp(line, "hold", 4) == 0 ? SUSPENSION_HOLD : SUSPENSION_QUEUE;
}

/* ---- StatusText ---- */

void worker_update_status(Worker *w) {
        _cleanup_(worker_status_done) WorkerStatus s = {
                .queueing = w->suspension == SUSPENSION_QUEUE,
                .backing_off = w->backoff_source != NULL,
                .crashes = w->crashes,
                .failed = w->last_failure_generation,
        };
        _cleanup_free_ char *text = NULL;
        int r;

        for (Generation *g = w->generations; g; g = g->next) {
                WorkerGeneration wg = { .number = g->number, .pid = g->pid };

                if (g->standby && (g->state == GENERATION_STARTING || g->state == GENERATION_READY)) {
                        *(g->state == GENERATION_READY ? &s.standby : &s.standby_starting) = wg;
                        continue;
                }
                switch (g->state) {
                case GENERATION_SERVING:
                        if (g->held)
                                s.suspended = wg;
                        else
                                s.serving = wg;
                        free(s.app_status);
                        s.app_status = g->app_status ? strdup(g->app_status) : NULL;
                        break;
                case GENERATION_STARTING:
                        s.starting = wg;
                        break;
                case GENERATION_READY:
                        s.ready = wg;
                        break;
                case GENERATION_DRAINING:
                case GENERATION_DEAD: /* its main process is gone, not all of its group */
                        if (g->state == GENERATION_DEAD && !g->group_alive)
                                break;
                        if (s.n_draining < WORKER_STATUS_MAX_DRAINING)
                                s.draining[s.n_draining] = wg;
                        s.n_draining++;
                        break;
                default:
                        break;
                }
        }
        s.failure = w->last_failure ? strdup(w->last_failure) : NULL;

        r = worker_status_format(&s, w->stopping, &text);
        if (r < 0)
                return (void) log_oom();
        r = sd_notifyf(0, "STATUS=%s", text);
        if (r < 0)
                log_debug_errno(r, "Failed to send the status to the service manager, ignoring: %m");
}

/* The service becomes active once: when something serves or holds requests, or when the
 * worker starts suspended and queueing. */
void worker_notify_ready(Worker *w) {
        if (w->notified_ready)
                return;
        w->notified_ready = true;
        (void) sd_notify(0, "READY=1");
}

/* ---- crash back-off ---- */

static int on_healthy(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        w->healthy_source = sd_event_source_disable_unref(w->healthy_source);
        if (w->crashes > 0 && worker_serving(w) && !w->stopping) {
                log_info("The app has served for %us: the crash back-off starts over.",
                         (unsigned) (WORKER_HEALTHY_USEC / USEC_PER_SEC));
                w->crashes = 0;
                worker_save_state(w);
        }
        return 0;
}

/* From here on the shim is about to exit. journald attributes a native journal entry
 * to a unit by looking up the sender's cgroup, which fails once the sender is gone, so
 * our last words go through stderr, the stream systemd connected to the unit. */
void worker_log_last_words(void) {
        log_set_target(LOG_TARGET_STDERR);
}

void worker_fail(Worker *w, int status) {
        worker_log_last_words();
        if (!w->stopping) {
                w->stopping = true;
                w->exit_status = status;
                w->crashes++;
                worker_save_state(w);
                (void) sd_notify(0, "STOPPING=1");
        }
        if (w->incoming)
                swap_failed(w, w->incoming, "was stopped: the worker is failing");
        w->backoff_source = sd_event_source_disable_unref(w->backoff_source);
        w->healthy_source = sd_event_source_disable_unref(w->healthy_source);
        for (Generation *g = w->generations; g; g = g->next)
                generation_stop(g);
        worker_update_status(w);
}

int worker_finish_if_idle(Worker *w) {
        if (w->stopping && !w->generations) {
                log_info("All generations are gone, exiting with status %d.", w->exit_status);
                return sd_event_exit(w->event, w->exit_status);
        }
        return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Worker *w = userdata;

        if (!w->stopping) {
                worker_log_last_words();
                log_info("Received %s, stopping all generations.", signal_name((int) si->ssi_signo));
                w->stopping = true;
                w->exit_status = EXIT_SUCCESS;
                /* Asked to stop: the next start is a fresh one, without back-off. */
                if (w->crashes > 0) {
                        w->crashes = 0;
                        worker_save_state(w);
                }
                (void) sd_notify(0, "STOPPING=1");
                if (w->incoming)
                        swap_failed(w, w->incoming, "was stopped: the worker is stopping");
                w->backoff_source = sd_event_source_disable_unref(w->backoff_source);
                w->healthy_source = sd_event_source_disable_unref(w->healthy_source);
                for (Generation *g = w->generations; g; g = g->next)
                        generation_stop(g);
                worker_update_status(w);
        }
        return worker_finish_if_idle(w);
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        worker_reap_children(userdata);
        return 0;
}

/* EnvironmentFile= without '-' must exist. systemd loads it (rendered with '-', so that
 * systemd's own error, which names no file, never happens); the shim says which one is
 * missing. It runs as the app's user: a file it cannot even see is left to systemd. */
static int check_environment_files(Worker *w) {
        STRV_FOREACH(f, w->opts.environment_files)
                if (access(*f, F_OK) < 0 && (errno == ENOENT || errno == ENOTDIR)) {
                        worker_log_last_words();
                        return log_error_errno(negative_errno(),
                                               "EnvironmentFile=%s does not exist (%m). Create it, or write "
                                               "EnvironmentFile=-%s in the app's config if it may be missing; "
                                               "retrying with the crash back-off.", *f, *f);
                }
        return 0;
}

static int start_first_generation(Worker *w) {
        Suspension persisted = worker_load_suspension(w);
        int r;

        r = check_environment_files(w);
        if (r < 0) {
                w->crashes++;
                worker_save_state(w);
                w->stopping = true;
                w->exit_status = WORKER_EXIT_TEMPFAIL;
                return worker_finish_if_idle(w);
        }

        if (persisted == SUSPENSION_QUEUE) {
                /* Requests wait in the backlog until 'sockdctl resume'. */
                log_info("The app is suspended (Suspend=queue): no generation starts until 'sockdctl resume %s'.",
                         w->opts.app);
                w->suspension = SUSPENSION_QUEUE;
                worker_notify_ready(w);
                worker_update_status(w);
                return 0;
        }
        if (persisted == SUSPENSION_HOLD)
                log_info("The app is suspended (Suspend=hold): its generation starts held until 'sockdctl resume %s'.",
                         w->opts.app);

        r = worker_spawn(w, w->settings, persisted == SUSPENSION_HOLD, NULL);
        if (r < 0) {
                worker_fail(w, EXIT_FAILURE);
                return worker_finish_if_idle(w);
        }
        return 0;
}

static int on_backoff_done(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;

        w->backoff_source = sd_event_source_disable_unref(w->backoff_source);
        return start_first_generation(w);
}

/* A generation took over. After crashes, the back-off starts over only once it has
 * served for a while. */
void worker_on_promoted(Worker *w) {
        uint64_t now;
        int r;

        worker_standby_refresh(w);

        if (w->crashes == 0 || w->healthy_source)
                return;
        r = sd_event_now(w->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(w->event, &w->healthy_source, CLOCK_MONOTONIC, now + WORKER_HEALTHY_USEC, 0,
                                      on_healthy, w);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the back-off reset, ignoring: %m");
}

/* ---- runtime directories ---- */

static int worker_setup_runtime_dir(Worker *w) {
        const char *e = getenv("RUNTIME_DIRECTORY");

        if (e) {
                /* systemd passes "/run/sockd/APP:/run/sockd/APP/N" (sorted, parents
                 * first): the app's shared directory and the worker's own. */
                const char *colon = strrchr(e, ':');

                w->runtime_dir = strdup(colon ? colon + 1 : e);
                w->app_runtime_dir = strndup(e, strcspn(e, ":"));
                return w->runtime_dir && w->app_runtime_dir ? 0 : -ENOMEM;
        }
        /* Run by hand (e.g. under systemd-socket-activate): a private directory. */
        if (asprintf(&w->runtime_dir, "%s/sockd-spawn.XXXXXX", getenv("XDG_RUNTIME_DIR") ?: "/tmp") < 0)
                return -ENOMEM;
        if (!mkdtemp(w->runtime_dir))
                return negative_errno();
        w->runtime_dir_owned = true;
        w->app_runtime_dir = strdup(w->runtime_dir);
        return w->app_runtime_dir ? 0 : -ENOMEM;
}

int worker_new(WorkerOptions *opts, int listen_fd, const char *fd_name, Worker **ret) {
        Worker *w;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->opts = *opts;
        *opts = (WorkerOptions) {};
        struct stat st;

        w->listen_fd = listen_fd;
        w->control_fd = -EBADF;
        if (fstat(listen_fd, &st) < 0) {
                r = negative_errno();
                worker_free(w);
                return log_error_errno(r, "Failed to stat the passed socket: %m");
        }
        w->listen_dev = st.st_dev;
        w->listen_ino = st.st_ino;
        w->fd_name = strdup(fd_name);
        if (!w->fd_name) {
                worker_free(w);
                return -ENOMEM;
        }

        r = worker_setup_runtime_dir(w);
        if (r < 0) {
                log_error_errno(r, "Failed to set up a runtime directory: %m");
                worker_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        while (w->generations) {
                Generation *g = w->generations;
                w->generations = g->next;
                generation_free(g);
        }
        worker_free_relays(w);
        worker_close_control(w);
        sd_bus_message_unref(w->swap_request);
        sd_event_source_disable_unref(w->backoff_source);
        sd_event_source_disable_unref(w->healthy_source);
        sd_event_source_disable_unref(w->standby_source);
        if (w->runtime_dir && w->runtime_dir_owned) {
                _cleanup_free_ char *state = NULL, *suspended = NULL;

                if (asprintf(&state, "%s/" STATE_FILE, w->runtime_dir) >= 0)
                        (void) unlink(state);
                if (asprintf(&suspended, "%s/" SUSPENSION_FILE, w->runtime_dir) >= 0)
                        (void) unlink(suspended);
                (void) rmdir(w->runtime_dir);
        }
        free(w->runtime_dir);
        free(w->app_runtime_dir);
        free(w->last_failure);
        sd_event_unref(w->event);
        safe_close(w->listen_fd);
        free(w->fd_name);
        worker_options_done(&w->opts);
        settings_unref(w->settings);
        settings_unref(w->next_settings);
        sd_event_source_disable_unref(w->expect_source);
        free(w);
        return NULL;
}

/* Connections a draining app closes are kept and relayed through a new connection to
 * the socket (worker-relay.c): only if we may connect to it. With a dynamic user, the
 * socket is root's (socket units cannot own a dynamic user) and the app's closes stay as
 * they are. */
static void worker_check_relay(Worker *w) {
        w->relay = w->opts.socket_path && access(w->opts.socket_path, W_OK) >= 0;
        if (!w->relay)
                log_debug("Cannot connect to '%s' (%m): connections the app closes while it drains are not relayed.",
                          w->opts.socket_path ?: "(no socket path)");
}

int worker_run(Worker *w, WorkerCommandLine *cl) {
        _cleanup_free_ char *why = NULL;
        sigset_t mask;
        int r;

        r = worker_settings_new(w, cl, NULL, NULL, &w->settings, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                worker_log_last_words();
                log_error("%s.", why);
                return WORKER_EXIT_CONFIG;
        }
        worker_check_relay(w);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        for (int sig = WORKER_SIGNAL_PREPARE; sig <= WORKER_SIGNAL_RESUME; sig++)
                sigaddset(&mask, sig);
        sigaddset(&mask, WORKER_SIGNAL_EXPECT_SETTINGS);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to block signals: %m");

        /* What a generation forks becomes ours when its parent exits, so that the shim
         * sees the end of the whole generation, not only of its main process. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return log_error_errno(negative_errno(), "Failed to become a subreaper: %m");

        r = sd_event_default(&w->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        if ((r = sd_event_add_signal(w->event, NULL, SIGTERM, on_stop_signal, w)) < 0 ||
            (r = sd_event_add_signal(w->event, NULL, SIGINT, on_stop_signal, w)) < 0 ||
            (r = sd_event_add_signal(w->event, NULL, SIGCHLD, on_sigchld, w)) < 0 ||
            (r = sd_event_add_signal(w->event, NULL, SIGHUP, worker_on_control_signal, w)) < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        /* WORKER_SIGNAL_EXPECT_SETTINGS is read before the control connection of the
         * reload that follows it: systemd sent the signal before it spawned that client,
         * and sd-event dispatches what became pending first, first. */
        for (int sig = WORKER_SIGNAL_PREPARE; sig <= WORKER_SIGNAL_RESUME + 1; sig++) {
                int watched = sig <= WORKER_SIGNAL_RESUME ? sig : WORKER_SIGNAL_EXPECT_SETTINGS;

                r = sd_event_add_signal(w->event, NULL, watched, worker_on_control_signal, w);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch signal %d: %m", watched);
        }
        r = worker_listen_control(w);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on the control socket in '%s': %m", w->runtime_dir);

        worker_load_state(w);
        if (w->crashes > 0) {
                usec_t delay = BACKOFF_FIRST_USEC;
                uint64_t now;

                for (unsigned i = 1; i < w->crashes && delay < BACKOFF_MAX_USEC; i++)
                        delay *= 2;
                if (delay > BACKOFF_MAX_USEC)
                        delay = BACKOFF_MAX_USEC;
                _cleanup_free_ char *t = format_duration(delay);
                log_notice("The app failed %u time%s in a row; waiting %s before starting it again.",
                           w->crashes, w->crashes == 1 ? "" : "s", strempty(t));
                r = sd_event_now(w->event, CLOCK_MONOTONIC, &now);
                if (r >= 0)
                        r = sd_event_add_time(w->event, &w->backoff_source, CLOCK_MONOTONIC, now + delay, 0,
                                              on_backoff_done, w);
                if (r < 0)
                        return log_error_errno(r, "Failed to arm the back-off timer: %m");
                worker_update_status(w);
        } else {
                r = start_first_generation(w);
                if (r < 0)
                        return r;
        }

        r = sd_event_loop(w->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}
