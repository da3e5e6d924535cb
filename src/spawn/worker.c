/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One worker: the app generations that run on one listening socket, and the swaps
 * between them. Everything happens in one sd-event loop: child exits, notify datagrams,
 * Node IPC lines, timers, signals and the control bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "notify-msg.h"
#include "strv.h"
#include "worker.h"

#define BACKOFF_FIRST_USEC (250 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
#define STATE_FILE "state"

extern char **environ;

static void worker_update_status(Worker *w);
static void generation_stop(Generation *g);
static int worker_finish_if_idle(Worker *w);

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static const char *signal_name(int sig) {
        const char *s = sigabbrev_np(sig);
        static char buf[16];

        if (s) {
                snprintf(buf, sizeof buf, "SIG%s", s);
                return buf;
        }
        snprintf(buf, sizeof buf, "signal %d", sig);
        return buf;
}

/* ---- generations ---- */

static Generation *generation_free(Generation *g) {
        if (!g)
                return NULL;
        sd_event_source_disable_unref(g->child_source);
        sd_event_source_disable_unref(g->timer_source);
        sd_event_source_disable_unref(g->notify_source);
        sd_event_source_disable_unref(g->ipc_source);
        safe_close(g->notify_fd);
        safe_close(g->ipc_fd);
        if (g->notify_path)
                (void) unlink(g->notify_path);
        free(g->notify_path);
        node_ipc_reader_done(&g->ipc);
        free(g->app_status);
        free(g->failure);
        free(g);
        return NULL;
}

static void generation_set_state(Generation *g, GenerationEvent e) {
        int next = generation_next_state(g->state, e);

        if (next < 0) {
                log_gen(LOG_DEBUG, g->number, "Ignoring event '%s' in state '%s'.",
                        generation_event_to_string(e), generation_state_to_string(g->state));
                return;
        }
        log_gen(LOG_DEBUG, g->number, "%s -> %s", generation_state_to_string(g->state),
                generation_state_to_string(next));
        g->state = next;
}

static Generation *worker_serving(Worker *w) {
        for (Generation *g = w->generations; g; g = g->next)
                if (g->state == GENERATION_SERVING)
                        return g;
        return NULL;
}

static void worker_save_state(Worker *w) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        /* Survives automatic restarts (RuntimeDirectoryPreserve=restart): generation
         * numbers keep growing and the crash back-off knows the history. */
        if (asprintf(&path, "%s/" STATE_FILE, w->runtime_dir) < 0 ||
            asprintf(&tmp, "%s/." STATE_FILE ".tmp", w->runtime_dir) < 0)
                return (void) log_oom();
        f = fopen(tmp, "we");
        if (!f)
                return (void) log_warning_errno(negative_errno(), "Failed to write '%s', ignoring: %m", tmp);
        fprintf(f, "generation=%" PRIu64 "\ncrashes=%u\n", w->last_generation, w->crashes);
        if (fflush(f) != 0 || rename(tmp, path) < 0)
                log_warning_errno(negative_errno(), "Failed to save '%s', ignoring: %m", path);
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

static void worker_forget(Worker *w, Generation *g) {
        for (Generation **p = &w->generations; *p; p = &(*p)->next)
                if (*p == g) {
                        *p = g->next;
                        break;
                }
        generation_free(g);
}

static int on_generation_exit(sd_event_source *s, const siginfo_t *si, void *userdata);
static int on_generation_timer(sd_event_source *s, uint64_t usec, void *userdata);
static void generation_kill(Generation *g);
static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_ipc(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int generation_arm_timer(Generation *g, usec_t timeout) {
        uint64_t now;
        int r;

        g->timer_source = sd_event_source_disable_unref(g->timer_source);
        r = sd_event_now(g->worker->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        return sd_event_add_time(g->worker->event, &g->timer_source, CLOCK_MONOTONIC,
                                 now + timeout, 0, on_generation_timer, g);
}

static int generation_open_notify(Generation *g) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (asprintf(&g->notify_path, "%s/notify.%" PRIu64, g->worker->runtime_dir, g->number) < 0)
                return -ENOMEM;
        if (strlen(g->notify_path) >= sizeof addr.un.sun_path)
                return -ENAMETOOLONG;
        strcpy(addr.un.sun_path, g->notify_path);
        (void) unlink(g->notify_path);

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, &addr.sa, sizeof addr.un) < 0)
                return negative_errno();
        /* A socket per generation is what keeps generations apart (an old one can never
         * make a new one look ready); the credentials only name the sender in logs. */
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return negative_errno();
        g->notify_fd = TAKE_FD(fd);
        return sd_event_add_io(g->worker->event, &g->notify_source, g->notify_fd, EPOLLIN, on_notify, g);
}

/* The child between fork() and exec(): only async-signal-safe-ish work on memory we
 * own; errors go back through @error_fd. */
_noreturn_ static void generation_exec_child(Generation *g, int error_fd, int ipc_child_fd) {
        Worker *w = g->worker;
        _cleanup_strv_free_ char **env = NULL;
        sigset_t all;
        int listen_fd, ipc_fd = -EBADF, r = 0;
        char *e;

        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);

        /* If the shim dies (even by SIGKILL), the generation must not live on as an orphan
         * holding the socket. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1) {
                r = -errno ?: -ESRCH;
                goto fail;
        }
        /* Its own process group, so a kill reaches whatever the app forked. */
        (void) setsid();

        /* Move the inherited fds out of the way before placing them at 3 and 4. */
        listen_fd = fcntl(w->listen_fd, F_DUPFD_CLOEXEC, 10);
        if (listen_fd < 0)
                goto fail_errno;
        if (ipc_child_fd >= 0) {
                ipc_fd = fcntl(ipc_child_fd, F_DUPFD_CLOEXEC, 10);
                if (ipc_fd < 0)
                        goto fail_errno;
        }
        if (dup2(listen_fd, SD_LISTEN_FDS_START) < 0) /* dup2() clears O_CLOEXEC */
                goto fail_errno;
        if (ipc_fd >= 0 && dup2(ipc_fd, SD_LISTEN_FDS_START + 1) < 0)
                goto fail_errno;

        for (char **v = environ; v && *v; v++) {
                static const char *const drop[] = {
                        "LISTEN_", "NOTIFY_SOCKET=", "NODE_CHANNEL_", "SOCKD_", "WATCHDOG_PID=",
                };
                bool skip = false;

                for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                        skip = skip || strncmp(*v, drop[i], strlen(drop[i])) == 0;
                if (!skip && strv_extend(&env, *v) < 0)
                        goto fail_oom;
        }

#define PUSHF(...)                                                      \
        do {                                                            \
                if (asprintf(&e, __VA_ARGS__) < 0 || strv_consume(&env, e) < 0) \
                        goto fail_oom;                                  \
        } while (0)

        PUSHF("LISTEN_FDS=1");
        PUSHF("LISTEN_PID=%d", (int) getpid());
        PUSHF("LISTEN_FDNAMES=%s", w->fd_name);
        PUSHF("SOCKD_APP=%s", w->opts.app);
        PUSHF("SOCKD_WORKER=%u", w->opts.worker);
        PUSHF("SOCKD_GENERATION=%" PRIu64, g->number);
        PUSHF("SOCKD_SOCKET=%s", strempty(w->opts.socket_path));
        if (g->held) {
                PUSHF("SOCKD_SUSPENDED=1");
                PUSHF("SOCKD_RESUME_SIGNAL=%s", w->opts.ready == READY_NODE_IPC ? "ipc:resume" : "SIGUSR2");
        }
        if (g->notify_path) {
                PUSHF("NOTIFY_SOCKET=%s", g->notify_path);
                /* With WatchdogSec= on the worker, the app pings (WATCHDOG_USEC passes
                 * through) and the shim relays the serving generation's pings. */
                if (getenv("WATCHDOG_USEC"))
                        PUSHF("WATCHDOG_PID=%d", (int) getpid());
        }
        if (ipc_fd >= 0) {
                PUSHF("NODE_CHANNEL_FD=%d", SD_LISTEN_FDS_START + 1);
                PUSHF("NODE_CHANNEL_SERIALIZATION_MODE=json");
        }
#undef PUSHF

        execve(w->opts.argv[0], w->opts.argv, env);

fail_errno:
        r = -errno;
        goto fail;
fail_oom:
        r = -ENOMEM;
fail:
        (void) !write(error_fd, &r, sizeof r);
        _exit(EXIT_FAILURE);
}

static int generation_start(Generation *g) {
        _cleanup_close_ int error_pipe_r = -EBADF, error_pipe_w = -EBADF, ipc_child = -EBADF;
        Worker *w = g->worker;
        int pipefd[2], err = 0, r;
        ssize_t n;
        pid_t pid;

        if (w->opts.ready == READY_NOTIFY) {
                r = generation_open_notify(g);
                if (r < 0)
                        return log_gen_errno(LOG_ERR, r, g->number, "Failed to create the notify socket: %m");
        } else {
                int sv[2];

                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return log_gen_errno(LOG_ERR, negative_errno(), g->number,
                                             "Failed to create the Node IPC channel: %m");
                g->ipc_fd = sv[0];
                ipc_child = sv[1];
                if (fcntl(g->ipc_fd, F_SETFL, O_NONBLOCK) < 0)
                        return negative_errno();
                r = sd_event_add_io(w->event, &g->ipc_source, g->ipc_fd, EPOLLIN, on_ipc, g);
                if (r < 0)
                        return r;
        }

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        error_pipe_r = pipefd[0];
        error_pipe_w = pipefd[1];

        pid = fork();
        if (pid < 0)
                return log_gen_errno(LOG_ERR, negative_errno(), g->number, "Failed to fork: %m");
        if (pid == 0)
                generation_exec_child(g, error_pipe_w, ipc_child);

        error_pipe_w = safe_close(error_pipe_w);
        ipc_child = safe_close(ipc_child);

        r = sd_event_add_child(w->event, &g->child_source, pid, WEXITED, on_generation_exit, g);
        if (r < 0) {
                /* Without a watch nobody would reap it: take it down right here. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return log_gen_errno(LOG_ERR, r, g->number, "Failed to watch pid %d: %m", (int) pid);
        }
        g->pid = pid;

        /* EOF means exec() succeeded: the pipe was O_CLOEXEC. */
        do
                n = read(error_pipe_r, &err, sizeof err);
        while (n < 0 && errno == EINTR);

        if (n == (ssize_t) sizeof err && err < 0) {
                log_gen_errno(LOG_ERR, err, g->number, "Failed to execute '%s': %m", w->opts.argv[0]);
                if (asprintf(&g->failure, "could not execute '%s': %s", w->opts.argv[0], strerror(-err)) < 0)
                        g->failure = NULL;
                /* on_generation_exit() sees it die and decides. */
        } else
                log_gen(LOG_INFO, g->number, "Started generation %" PRIu64 " (pid %d): %s.",
                        g->number, (int) pid, w->opts.argv[0]);

        r = generation_arm_timer(g, w->opts.ready_timeout);
        if (r < 0) {
                log_gen_errno(LOG_ERR, r, g->number, "Failed to arm the ready timer, killing it: %m");
                generation_kill(g);
        }
        return 0;
}

/* Starts a new generation on the worker's socket. On failure nothing is left behind. */
static int worker_spawn(Worker *w, bool held, Generation **ret) {
        Generation *g;
        int r;

        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        *g = (Generation) {
                .worker = w,
                .number = ++w->last_generation,
                .notify_fd = -EBADF,
                .ipc_fd = -EBADF,
                .state = GENERATION_STARTING,
                .started_usec = now_usec(CLOCK_REALTIME),
                .held = held,
        };
        g->next = w->generations;
        w->generations = g;
        worker_save_state(w);

        r = generation_start(g);
        if (r < 0) {
                worker_forget(w, g);
                return r;
        }
        if (ret)
                *ret = g;
        worker_update_status(w);
        return 0;
}

static void generation_kill(Generation *g) {
        if (g->pid <= 0 || g->state == GENERATION_DEAD)
                return;
        g->killed = true;
        /* The whole process group: children the app forked go too. */
        if (kill(-g->pid, SIGKILL) < 0)
                (void) kill(g->pid, SIGKILL);
}

static void generation_send_ipc(Generation *g, const char *message) {
        _cleanup_free_ char *line = node_ipc_encode(message);
        ssize_t n;

        if (!line || g->ipc_fd < 0)
                return;
        n = send(g->ipc_fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n != (ssize_t) strlen(line))
                log_gen_errno(LOG_WARNING, n < 0 ? negative_errno() : -EAGAIN, g->number,
                              "Failed to send '%s' to pid %d, ignoring: %m", message, (int) g->pid);
}

/* Asks a generation to finish what it is doing and exit; SIGKILL after StopTimeoutSec. */
static void generation_stop(Generation *g) {
        Worker *w = g->worker;
        int r;

        if (g->state == GENERATION_DEAD || g->stop_requested || g->pid <= 0)
                return;
        g->stop_requested = true;
        generation_set_state(g, GENERATION_EVENT_STOP);

        if (w->opts.ready == READY_NODE_IPC && g->ipc_fd >= 0) {
                log_gen(LOG_INFO, g->number, "Stopping generation %" PRIu64 " (pid %d): sent 'shutdown'.",
                        g->number, (int) g->pid);
                generation_send_ipc(g, "shutdown");
        } else {
                log_gen(LOG_INFO, g->number, "Stopping generation %" PRIu64 " (pid %d): sent SIGTERM.",
                        g->number, (int) g->pid);
                (void) kill(g->pid, SIGTERM);
        }

        r = generation_arm_timer(g, w->opts.stop_timeout);
        if (r < 0) {
                log_gen_errno(LOG_WARNING, r, g->number, "Failed to arm the stop timer, killing now: %m");
                generation_kill(g);
        }
}

/* ---- swaps ---- */

static void swap_reply(Worker *w, Generation *g, const char *error) {
        if (!w->swap_request)
                return;
        if (error)
                (void) sd_bus_reply_method_errorf(w->swap_request, WORKER_ERROR_FAILED, "%s", error);
        else
                (void) sd_bus_reply_method_return(w->swap_request, "tu", g->number, (uint32_t) g->pid);
        w->swap_request = sd_bus_message_unref(w->swap_request);
}

/* From here on the shim is about to exit. journald attributes a native journal entry
 * to a unit by looking up the sender's cgroup, which fails once the sender is gone, so
 * our last words go through stderr, the stream systemd connected to the unit. */
static void worker_log_last_words(void) {
        log_set_target(LOG_TARGET_STDERR);
}

static void worker_fail(Worker *w, int status) {
        worker_log_last_words();
        if (!w->stopping) {
                w->stopping = true;
                w->exit_status = status;
                w->crashes++;
                worker_save_state(w);
                (void) sd_notify(0, "STOPPING=1");
        }
        for (Generation *g = w->generations; g; g = g->next)
                generation_stop(g);
        worker_update_status(w);
}

/* The incoming generation did not make it: remember why (StatusText shows it to
 * sockdctl) and answer whoever waits. */
static void swap_failed(Worker *w, Generation *g, const char *why) {
        Generation *serving = worker_serving(w);

        free(w->last_failure);
        if (asprintf(&w->last_failure, "generation %" PRIu64 ", pid %d: %s", g->number, (int) g->pid, why) < 0)
                w->last_failure = NULL;
        if (serving)
                log_gen(LOG_ERR, g->number, "Swap failed: generation %" PRIu64 " (pid %d) %s; generation %" PRIu64 " keeps serving.",
                        g->number, (int) g->pid, why, serving->number);
        else
                log_gen(LOG_ERR, g->number, "Generation %" PRIu64 " (pid %d) %s.", g->number, (int) g->pid, why);

        _cleanup_free_ char *answer = NULL;
        if (asprintf(&answer, "generation %" PRIu64 " (pid %d) %s", g->number, (int) g->pid, why) < 0)
                answer = NULL;
        swap_reply(w, g, answer ?: why);
        w->incoming = NULL;
}

/* @g takes over: it serves (or, held, holds), every older generation drains. */
static void worker_promote(Worker *w, Generation *g) {
        generation_set_state(g, GENERATION_EVENT_PROMOTE);
        if (w->incoming == g)
                w->incoming = NULL;

        for (Generation *old = w->generations; old; old = old->next)
                if (old != g && old->state == GENERATION_SERVING) {
                        log_gen(LOG_INFO, g->number, "Generation %" PRIu64 " %s; draining generation %" PRIu64 ".",
                                g->number, g->held ? "holds requests" : "serves", old->number);
                        generation_stop(old);
                }
        if (g->held)
                w->suspension = SUSPENSION_HOLD;
        swap_reply(w, g, NULL);
}

static void on_generation_ready(Generation *g) {
        Worker *w = g->worker;
        bool first = !worker_serving(w) && w->suspension == SUSPENSION_NONE && w->swap_kind != SWAP_RESUME;
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

        if (w->incoming == g && (w->swap_kind == SWAP_PREPARE || w->swap_kind == SWAP_PREPARE_SUSPENDED)) {
                /* Prepared: it waits beside the old one for commit or abort, but not
                 * forever if whoever prepared it went away. */
                r = generation_arm_timer(g, w->opts.ready_timeout + 60 * USEC_PER_SEC);
                if (r < 0)
                        log_gen_errno(LOG_WARNING, r, g->number, "Failed to arm the commit timer, ignoring: %m");
                worker_update_status(w);
                return;
        }

        if (w->incoming == g && w->swap_kind == SWAP_RESUME)
                w->suspension = SUSPENSION_NONE;
        worker_promote(w, g);
        if (first || w->crashes > 0) {
                /* The first generation: the service becomes active, and the crash
                 * back-off starts over. */
                if (w->crashes > 0) {
                        w->crashes = 0;
                        worker_save_state(w);
                }
                (void) sd_notify(0, "READY=1");
        }
        worker_update_status(w);
}

static void format_exit(const siginfo_t *si, char *buf, size_t size) {
        if (si->si_code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", si->si_status);
        else
                snprintf(buf, size, "was killed by %s%s", signal_name(si->si_status),
                         si->si_code == CLD_DUMPED ? " (core dumped)" : "");
}

static int on_generation_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Generation *g = userdata;
        Worker *w = g->worker;
        GenerationState was = g->state;
        char how[64];

        format_exit(si, how, sizeof how);
        generation_set_state(g, GENERATION_EVENT_EXIT);
        g->child_source = sd_event_source_disable_unref(g->child_source);
        g->timer_source = sd_event_source_disable_unref(g->timer_source);

        log_gen(was == GENERATION_DRAINING && !g->killed ? LOG_INFO : LOG_WARNING, g->number,
                "Generation %" PRIu64 " (pid %d) %s%s.", g->number, (int) g->pid, how,
                was != GENERATION_DRAINING ? "" :
                g->killed ? (g->ready_usec ? " after StopTimeoutSec= ran out" : "") :
                g->ready_usec ? " after draining" : " after it was asked to stop");

        if (w->incoming == g && !w->stopping) {
                /* Whatever state it was in, the swap it was meant for failed. */
                _cleanup_free_ char *why = NULL;

                if (g->failure)
                        why = strdup(g->failure);
                else if (asprintf(&why, "%s %s", how,
                                  was == GENERATION_READY ? "while it waited for the swap to be committed"
                                                          : "before it was ready") < 0)
                        why = NULL;
                swap_failed(w, g, why ?: how);
                if (!worker_serving(w) && w->suspension == SUSPENSION_NONE) {
                        /* Nothing serves (a resume in queue mode failed): systemd restarts us. */
                        log_error("No generation serves any more; exiting so that systemd restarts the worker.");
                        worker_fail(w, si->si_code == CLD_EXITED && si->si_status != 0 ? si->si_status : EXIT_FAILURE);
                }
        } else if (was == GENERATION_STARTING && !worker_serving(w) && !w->stopping) {
                log_error("Worker failed to start: generation %" PRIu64 " (pid %d) %s.", g->number, (int) g->pid,
                          g->failure ?: how);
                worker_fail(w, si->si_code == CLD_EXITED && si->si_status != 0 ? si->si_status : EXIT_FAILURE);
        } else if (was == GENERATION_SERVING && !w->stopping) {
                /* Nothing serves any more: exit non-zero so systemd restarts the worker
                 * while the socket keeps queueing. */
                log_error("The serving generation %" PRIu64 " %s; exiting so that systemd restarts the worker.",
                          g->number, how);
                if (w->incoming)
                        swap_failed(w, w->incoming, "was stopped: the serving generation died during the swap");
                worker_fail(w, si->si_code == CLD_EXITED && si->si_status != 0 ? si->si_status : EXIT_FAILURE);
        }

        /* Forget it only now: its state mattered for the decisions above. */
        worker_forget(w, g);

        worker_update_status(w);
        return worker_finish_if_idle(w);
}

static int on_generation_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Generation *g = userdata;
        Worker *w = g->worker;

        g->timer_source = sd_event_source_disable_unref(g->timer_source);

        if (g->state == GENERATION_STARTING) {
                _cleanup_free_ char *t = format_duration(w->opts.ready_timeout);

                if (asprintf(&g->failure, "did not become ready within ReadyTimeoutSec=%s", strempty(t)) < 0)
                        g->failure = NULL;
                log_gen(LOG_ERR, g->number, "Generation %" PRIu64 " (pid %d) %s, killing it.", g->number,
                        (int) g->pid, strempty(g->failure));
                g->stop_requested = true;
                generation_set_state(g, GENERATION_EVENT_STOP);
                generation_kill(g);
        } else if (g->state == GENERATION_READY) {
                if (asprintf(&g->failure, "was prepared but neither committed nor aborted in time") < 0)
                        g->failure = NULL;
                log_gen(LOG_WARNING, g->number, "Generation %" PRIu64 " (pid %d) %s, stopping it.", g->number,
                        (int) g->pid, strempty(g->failure));
                generation_stop(g);
        } else if (g->state == GENERATION_DRAINING) {
                log_gen(LOG_WARNING, g->number, "Generation %" PRIu64 " (pid %d) did not exit within StopTimeoutSec=, sending SIGKILL.",
                        g->number, (int) g->pid);
                generation_kill(g);
        }
        return 0;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Generation *g = userdata;
        _cleanup_free_ char *buf = NULL;
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov;
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        struct ucred *ucred = NULL;
        NotifyMessage m = {};
        ssize_t size, n;
        int r;

        /* Size the buffer to the datagram, so nothing is ever cut. */
        size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
        if (size < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(negative_errno(), "recv() on notify socket: %m");
        buf = malloc(size + 1);
        if (!buf)
                return log_oom();
        iov = (struct iovec) { .iov_base = buf, .iov_len = size + 1 };
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(negative_errno(), "recvmsg() on notify socket: %m");

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                        ucred = (struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        /* fds are not for us: close them. */
                        int *fds = (int *) CMSG_DATA(c);
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                                safe_close(fds[i]);
                }

        r = notify_message_parse(buf, n, &m);
        if (r < 0) {
                log_gen(LOG_WARNING, g->number, "Ignoring a malformed notification from pid %d.",
                        ucred ? (int) ucred->pid : 0);
                return 0;
        }

        if (m.status) {
                free(g->app_status);
                g->app_status = TAKE_PTR(m.status);
                worker_update_status(g->worker);
        }
        if (m.watchdog && g->state == GENERATION_SERVING)
                (void) sd_notify(0, "WATCHDOG=1");
        if (m.stopping && !g->stop_requested)
                log_gen(LOG_NOTICE, g->number, "Generation %" PRIu64 " (pid %d) announced it is stopping.",
                        g->number, (int) g->pid);
        if (m.ready && g->state == GENERATION_STARTING)
                on_generation_ready(g);
        notify_message_done(&m);
        return 0;
}

static int on_ipc(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Generation *g = userdata;
        char buf[4096]; /* a read chunk; lines are reassembled in g->ipc */
        ssize_t n;
        int r;

        n = read(fd, buf, sizeof buf);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_gen_errno(LOG_WARNING, negative_errno(), g->number, "IPC read: %m");
        if (n == 0) {
                /* The app closed its channel (or exited): nothing more will come. */
                g->ipc_source = sd_event_source_disable_unref(g->ipc_source);
                return 0;
        }

        r = node_ipc_reader_feed(&g->ipc, buf, n);
        if (r < 0) {
                log_gen_errno(LOG_WARNING, r, g->number, "Dropping the IPC channel of pid %d: a message longer than %u bytes.",
                              (int) g->pid, NODE_IPC_LINE_MAX);
                g->ipc_source = sd_event_source_disable_unref(g->ipc_source);
                g->ipc_fd = safe_close(g->ipc_fd);
                return 0;
        }

        for (;;) {
                _cleanup_free_ char *msg = NULL;

                r = node_ipc_reader_next(&g->ipc, &msg);
                if (r == 0)
                        break;
                if (r < 0) {
                        log_gen(LOG_WARNING, g->number, "Ignoring a malformed IPC message from pid %d.", (int) g->pid);
                        continue;
                }
                if (msg && streq(msg, "online")) {
                        if (g->state == GENERATION_STARTING)
                                on_generation_ready(g);
                } else
                        log_gen(LOG_DEBUG, g->number, "Ignoring IPC message '%s'.", strempty(msg));
        }
        return 0;
}

/* ---- status ---- */

/* StatusText is also sockdctl's view of the worker: "; "-separated items
 * "STATE: generation N, pid P", STATE one of serving, suspended, starting, ready,
 * draining; "suspended: queueing" when no generation runs; and "failed: generation N,
 * pid P: why" for the last swap that did not make it. Keep it parseable. */
/* Writes text into the status, "; " being our separator: it becomes ", ". */
static void status_put_text(FILE *f, const char *text) {
        for (const char *c = text; *c; c++)
                fputc(*c == ';' ? ',' : *c == '\n' ? ' ' : *c, f);
}

static void status_item(FILE *f) {
        if (ftell(f) > 0)
                fputs("; ", f);
}

static void worker_update_status(Worker *w) {
        static const GenerationState order[] = {
                GENERATION_SERVING, GENERATION_STARTING, GENERATION_READY, GENERATION_DRAINING,
        };
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return;
        if (w->backoff_source) {
                status_item(f);
                fprintf(f, "backing off after %u crashes", w->crashes);
        }
        if (w->suspension == SUSPENSION_QUEUE) {
                status_item(f);
                fputs("suspended: queueing", f);
        }
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                for (Generation *g = w->generations; g; g = g->next) {
                        if (g->state != order[i])
                                continue;
                        status_item(f);
                        fprintf(f, "%s: generation %" PRIu64 ", pid %d",
                                g->state == GENERATION_SERVING && g->held ? "suspended" : generation_state_to_string(g->state),
                                g->number, (int) g->pid);
                        if (g->app_status && g->state == GENERATION_SERVING) {
                                fputs(" (", f);
                                status_put_text(f, g->app_status);
                                fputc(')', f);
                        }
                }
        if (w->last_failure) {
                status_item(f);
                fputs("failed: ", f);
                status_put_text(f, w->last_failure);
        }
        if (ftell(f) == 0)
                fputs(w->stopping ? "stopped" : "starting", f);
        if (fclose(f) != 0)
                return;
        (void) sd_notifyf(0, "STATUS=%s", buf);
}

/* ---- control bus ---- */

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        Generation *serving = worker_serving(w);

        if (streq(property, "App"))
                return sd_bus_message_append(reply, "s", w->opts.app);
        if (streq(property, "Worker"))
                return sd_bus_message_append(reply, "u", w->opts.worker);
        if (streq(property, "Generation"))
                return sd_bus_message_append(reply, "t", serving ? serving->number : (uint64_t) 0);
        if (streq(property, "MainPID"))
                return sd_bus_message_append(reply, "u", serving ? (uint32_t) serving->pid : 0);
        if (streq(property, "Since"))
                return sd_bus_message_append(reply, "t", serving ? serving->ready_usec : (uint64_t) 0);
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s",
                                             w->stopping ? "stopping" :
                                             w->incoming ? "swapping" :
                                             serving ? "serving" : "starting");
        if (streq(property, "Generations")) {
                int r = sd_bus_message_open_container(reply, 'a', "(tusts)");
                if (r < 0)
                        return r;
                for (Generation *g = w->generations; g; g = g->next) {
                        r = sd_bus_message_append(reply, "(tusts)", g->number, (uint32_t) g->pid,
                                                  generation_state_to_string(g->state),
                                                  g->ready_usec ?: g->started_usec, strempty(g->app_status));
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(reply);
        }
        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_PROPERTY, "Unknown property %s", property);
}

/* Starts a swap to a new generation; @request (may be NULL, for signals) gets the
 * answer once it is decided. */
static int worker_start_swap(Worker *w, SwapKind kind, sd_bus_message *request, sd_bus_error *error) {
        Generation *serving = worker_serving(w);
        int r;

        if (w->stopping)
                return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING, "The worker is stopping.");
        if (w->incoming)
                return sd_bus_error_setf(error, WORKER_ERROR_BUSY,
                                         "A swap to generation %" PRIu64 " is already in progress.",
                                         w->incoming->number);
        if (kind == SWAP_RESUME) {
                if (w->suspension != SUSPENSION_QUEUE)
                        return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING, "The worker is not suspended.");
        } else if (w->suspension != SUSPENSION_NONE)
                return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING,
                                        "The worker is suspended; resume it first (sockdctl resume).");
        else if (!serving)
                return sd_bus_error_set(error, WORKER_ERROR_NOT_SERVING,
                                        "The worker has no serving generation yet; wait for it to start.");

        w->last_failure = mfree(w->last_failure);
        w->swap_kind = kind;
        if (serving)
                log_info("Swapping: starting a generation beside generation %" PRIu64 " (pid %d)%s.",
                         serving->number, (int) serving->pid,
                         kind == SWAP_PREPARE_SUSPENDED ? ", held" : kind == SWAP_RELOAD ? "" : ", prepared only");
        else
                log_info("Resuming: starting a generation on the queued socket.");
        r = worker_spawn(w, kind == SWAP_PREPARE_SUSPENDED, &w->incoming);
        if (r < 0) {
                w->incoming = NULL;
                return sd_bus_error_set_errnof(error, r, "Failed to start a new generation: %m");
        }
        if (request)
                w->swap_request = sd_bus_message_ref(request);
        return 1;
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int r = worker_start_swap(userdata, SWAP_RELOAD, m, error);

        /* > 0: the reply comes when the swap is decided. */
        return r < 0 ? r : 1;
}

static const sd_bus_vtable worker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("App", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Worker", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get, 0, 0),
        SD_BUS_PROPERTY("Generation", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("MainPID", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Since", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("Generations", "a(tusts)", property_get, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", generation, "u", pid),
                                method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static void worker_drop_connection(Worker *w, sd_bus *bus) {
        for (size_t i = 0; i < w->n_connections; i++)
                if (w->connections[i] == bus) {
                        w->connections[i] = w->connections[--w->n_connections];
                        break;
                }
        sd_bus_flush_close_unref(bus);
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        worker_drop_connection(userdata, sd_bus_message_get_bus(m));
        return 0;
}

static int on_control_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        _cleanup_close_ int cfd = -EBADF;
        struct ucred cred;
        socklen_t len = sizeof cred;
        sd_bus **n;
        sd_bus *bus = NULL;
        sd_id128_t id;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(negative_errno(), "accept(): %m");

        /* The directory is 0700 already; still, only root and our own user may steer. */
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return log_warning_errno(negative_errno(), "SO_PEERCRED: %m");
        if (cred.uid != 0 && cred.uid != getuid()) {
                log_warning("Refusing a control connection from uid %u (pid %d).", (unsigned) cred.uid, (int) cred.pid);
                return 0;
        }

        n = realloc(w->connections, sizeof(sd_bus *) * (w->n_connections + 1));
        if (!n)
                return log_oom();
        w->connections = n;

        if ((r = sd_id128_randomize(&id)) < 0 || (r = sd_bus_new(&bus)) < 0 ||
            (r = sd_bus_set_fd(bus, cfd, cfd)) < 0)
                goto fail;
        TAKE_FD(cfd);
        if ((r = sd_bus_set_server(bus, 1, id)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, WORKER_BUS_PATH, WORKER_BUS_INTERFACE, worker_vtable, w)) < 0 ||
            (r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                     "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, w)) < 0 ||
            (r = sd_bus_attach_event(bus, w->event, SD_EVENT_PRIORITY_NORMAL)) < 0 ||
            (r = sd_bus_start(bus)) < 0)
                goto fail;

        w->connections[w->n_connections++] = bus;
        return 0;

fail:
        sd_bus_unref(bus);
        return log_warning_errno(r, "Failed to set up a control connection: %m");
}

static int worker_listen_control(Worker *w) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/" WORKER_CONTROL_SOCKET, w->runtime_dir) < 0)
                return -ENOMEM;
        if (strlen(path) >= sizeof addr.un.sun_path)
                return -ENAMETOOLONG;
        strcpy(addr.un.sun_path, path);
        (void) unlink(path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, &addr.sa, sizeof addr.un) < 0 || listen(fd, 16) < 0)
                return negative_errno();
        w->control_fd = TAKE_FD(fd);
        return sd_event_add_io(w->event, &w->control_source, w->control_fd, EPOLLIN, on_control_connection, w);
}

/* ---- lifecycle ---- */

static int worker_finish_if_idle(Worker *w) {
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
                (void) sd_notify(0, "STOPPING=1");
                if (w->incoming)
                        swap_failed(w, w->incoming, "was stopped: the worker is stopping");
                w->backoff_source = sd_event_source_disable_unref(w->backoff_source);
                for (Generation *g = w->generations; g; g = g->next)
                        generation_stop(g);
                worker_update_status(w);
        }
        return worker_finish_if_idle(w);
}

/* Commit: the prepared generation takes over. With @suspended (Suspend=hold) it holds
 * requests; in Suspend=queue mode nothing was prepared and the serving generation
 * drains, leaving requests in the socket's backlog. */
static void worker_commit(Worker *w, bool suspended) {
        Generation *g = w->incoming;
        Generation *serving = worker_serving(w);

        if (suspended && w->opts.suspend == SUSPEND_QUEUE) {
                if (w->suspension != SUSPENSION_NONE || w->incoming || !serving) {
                        log_warning("Not suspending: %s.", w->suspension != SUSPENSION_NONE ? "already suspended" :
                                    w->incoming ? "a swap is in progress" : "nothing serves yet");
                        return;
                }
                log_info("Suspending: requests queue in the socket's backlog; draining generation %" PRIu64 ".",
                         serving->number);
                w->last_failure = mfree(w->last_failure);
                w->suspension = SUSPENSION_QUEUE;
                for (Generation *i = w->generations; i; i = i->next)
                        if (i->state == GENERATION_SERVING)
                                generation_stop(i);
                worker_update_status(w);
                return;
        }

        if (!g || g->state != GENERATION_READY || g->held != suspended) {
                log_warning("Nothing %sprepared to commit, ignoring.", suspended ? "held and " : "");
                return;
        }
        g->timer_source = sd_event_source_disable_unref(g->timer_source);
        worker_promote(w, g);
        worker_update_status(w);
}

static void worker_abort(Worker *w) {
        Generation *g = w->incoming;

        if (!g) {
                log_info("Nothing to abort.");
                return;
        }
        if (g->state == GENERATION_STARTING) {
                g->stop_requested = true;
                generation_set_state(g, GENERATION_EVENT_STOP);
                generation_kill(g);
        } else
                /* Ready, it may already have answered requests: let it finish them. */
                generation_stop(g);
        swap_failed(w, g, "was aborted: another worker's new generation failed");
        worker_update_status(w);
}

static void worker_resume(Worker *w) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        switch (w->suspension) {
        case SUSPENSION_HOLD:
                for (Generation *g = w->generations; g; g = g->next)
                        if (g->held && g->state == GENERATION_SERVING) {
                                log_gen(LOG_INFO, g->number, "Resuming generation %" PRIu64 " (pid %d).", g->number, (int) g->pid);
                                if (w->opts.ready == READY_NODE_IPC)
                                        generation_send_ipc(g, "resume");
                                else
                                        (void) kill(g->pid, WORKER_APP_RESUME_SIGNAL);
                                g->held = false;
                        }
                w->suspension = SUSPENSION_NONE;
                break;
        case SUSPENSION_QUEUE:
                if (worker_start_swap(w, SWAP_RESUME, NULL, &error) < 0)
                        log_error("Failed to resume: %s", error.message);
                break;
        default:
                log_info("Not suspended, nothing to resume.");
        }
        sd_bus_error_free(&error);
        worker_update_status(w);
}

static int on_control_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Worker *w = userdata;
        int sig = (int) si->ssi_signo;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        if (w->stopping)
                return 0;
        if (sig == SIGHUP || sig == WORKER_SIGNAL_PREPARE || sig == WORKER_SIGNAL_PREPARE_SUSPENDED) {
                SwapKind kind = sig == SIGHUP ? SWAP_RELOAD : sig == WORKER_SIGNAL_PREPARE ? SWAP_PREPARE : SWAP_PREPARE_SUSPENDED;

                if (kind == SWAP_PREPARE_SUSPENDED && w->opts.suspend == SUSPEND_QUEUE)
                        log_info("Suspend=queue: nothing to prepare.");
                else if (worker_start_swap(w, kind, NULL, &error) < 0) {
                        log_warning("%s: %s", signal_name(sig), error.message);
                        free(w->last_failure);
                        w->last_failure = strdup(error.message);
                        worker_update_status(w);
                }
        } else if (sig == WORKER_SIGNAL_COMMIT)
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

static int start_first_generation(Worker *w) {
        int r = worker_spawn(w, false, NULL);

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

static int worker_setup_runtime_dir(Worker *w) {
        const char *e = getenv("RUNTIME_DIRECTORY");

        if (e) {
                /* systemd passes a colon-separated list; ours is the first. */
                w->runtime_dir = strndup(e, strcspn(e, ":"));
                return w->runtime_dir ? 0 : -ENOMEM;
        }
        /* Run by hand (e.g. under systemd-socket-activate): a private directory. */
        if (asprintf(&w->runtime_dir, "%s/sockd-spawn.XXXXXX", getenv("XDG_RUNTIME_DIR") ?: "/tmp") < 0)
                return -ENOMEM;
        if (!mkdtemp(w->runtime_dir))
                return negative_errno();
        w->runtime_dir_owned = true;
        return 0;
}

int worker_new(WorkerOptions *opts, int listen_fd, const char *fd_name, Worker **ret) {
        Worker *w;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->opts = *opts;
        *opts = (WorkerOptions) {};
        w->listen_fd = listen_fd;
        w->control_fd = -EBADF;
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
        for (size_t i = 0; i < w->n_connections; i++)
                sd_bus_flush_close_unref(w->connections[i]);
        free(w->connections);
        sd_bus_message_unref(w->swap_request);
        sd_event_source_disable_unref(w->control_source);
        sd_event_source_disable_unref(w->backoff_source);
        safe_close(w->control_fd);
        if (w->runtime_dir) {
                _cleanup_free_ char *control = NULL, *state = NULL;

                if (asprintf(&control, "%s/" WORKER_CONTROL_SOCKET, w->runtime_dir) >= 0)
                        (void) unlink(control);
                if (w->runtime_dir_owned) {
                        if (asprintf(&state, "%s/" STATE_FILE, w->runtime_dir) >= 0)
                                (void) unlink(state);
                        (void) rmdir(w->runtime_dir);
                }
        }
        free(w->runtime_dir);
        free(w->last_failure);
        sd_event_unref(w->event);
        safe_close(w->listen_fd);
        free(w->fd_name);
        free(w->opts.app);
        free(w->opts.socket_path);
        strv_free(w->opts.argv);
        free(w);
        return NULL;
}

int worker_run(Worker *w) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        for (int sig = WORKER_SIGNAL_PREPARE; sig <= WORKER_SIGNAL_RESUME; sig++)
                sigaddset(&mask, sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to block signals: %m");

        r = sd_event_default(&w->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        if ((r = sd_event_add_signal(w->event, NULL, SIGTERM, on_stop_signal, w)) < 0 ||
            (r = sd_event_add_signal(w->event, NULL, SIGINT, on_stop_signal, w)) < 0 ||
            (r = sd_event_add_signal(w->event, NULL, SIGHUP, on_control_signal, w)) < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        for (int sig = WORKER_SIGNAL_PREPARE; sig <= WORKER_SIGNAL_RESUME; sig++) {
                r = sd_event_add_signal(w->event, NULL, sig, on_control_signal, w);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch signal %d: %m", sig);
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

/* ---- ExecReload= ---- */

int worker_reload_client(const char *control_path, bool quiet) {
        _cleanup_free_ char *address = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL, *call = NULL;
        sd_bus *bus = NULL;
        uint64_t gen;
        uint32_t pid;
        int r;

        if (asprintf(&address, "unix:path=%s", control_path) < 0)
                return log_oom();

        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, address)) < 0 ||
            (r = sd_bus_start(bus)) < 0) {
                log_error_errno(r, "Failed to connect to the worker at '%s': %m", control_path);
                goto finish;
        }

        /* No client-side timeout: the worker answers within ReadyTimeoutSec=, and systemd
         * bounds ExecReload= with TimeoutStartSec= anyway. */
        r = sd_bus_message_new_method_call(bus, &call, NULL, WORKER_BUS_PATH, WORKER_BUS_INTERFACE, "Reload");
        if (r >= 0)
                r = sd_bus_call(bus, call, UINT64_MAX, &error, &reply);
        if (r < 0) {
                log_error("Reload failed: %s", error.message ?: strerror(-r));
                goto finish;
        }
        r = sd_bus_message_read(reply, "tu", &gen, &pid);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the worker's answer: %m");
                goto finish;
        }
        if (!quiet)
                log_info("Generation %" PRIu64 " (pid %u) is serving.", gen, pid);
        r = 0;

finish:
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(call);
        sd_bus_flush_close_unref(bus);
        return r;
}
