/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One generation of the app: fork and exec on the worker's socket, its readiness gate
 * and retirement flag for the preload, its timers, a graceful stop, and its end, which
 * is when its whole process group is gone, not only its main process. What it says
 * (readiness, status, connections to keep) arrives in worker-readiness.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "macro.h"
#include "strv.h"
#include "worker.h"

extern char **environ;


static void generation_remove_gate(Generation *g);

Generation *generation_free(Generation *g) {
        if (!g)
                return NULL;
        generation_remove_gate(g);
        sd_event_source_disable_unref(g->timer_source);
        sd_event_source_disable_unref(g->notify_source);
        sd_event_source_disable_unref(g->ipc_source);
        safe_close(g->notify_fd);
        safe_close(g->ipc_fd);
        if (g->notify_path)
                (void) unlink(g->notify_path);
        free(g->notify_path);
        safe_close(g->retire_fd);
        if (g->retire_path)
                (void) unlink(g->retire_path);
        free(g->retire_path);
        node_ipc_reader_done(&g->ipc);
        free(g->app_status);
        free(g->failure);
        strv_free(g->bound);
        settings_unref(g->settings);
        free(g);
        return NULL;
}

void generation_set_state(Generation *g, GenerationEvent e) {
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

static int on_generation_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Generation *g = userdata;

        g->timer_source = sd_event_source_disable_unref(g->timer_source);
        worker_on_generation_timer(g);
        return 0;
}

int generation_arm_timer(Generation *g, usec_t timeout) {
        uint64_t now;
        int r;

        g->timer_source = sd_event_source_disable_unref(g->timer_source);
        r = sd_event_now(g->worker->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        return sd_event_add_time(g->worker->event, &g->timer_source, CLOCK_MONOTONIC,
                                 now + timeout, 0, on_generation_timer, g);
}

/* ---- the readiness gate, and the socket for who did not inherit it ---- */

/* Hands the held socket to a process of the generation: one byte, SCM_RIGHTS. */
static int gate_send_socket(Generation *g, int c) {
        union {
                struct cmsghdr cmsg;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        char byte = 's';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);

        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &g->worker->listen_fd, sizeof(int));
        /* A fresh connection's buffer is empty: this never blocks. */
        if (sendmsg(c, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                return negative_errno();
        return 0;
}

static int on_gate_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Generation *g = userdata;
        _cleanup_close_ int c = -EBADF;
        struct ucred cred = {};
        socklen_t len = sizeof cred;
        int *n, r;

        c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
                return 0; /* EAGAIN, or the connection went: nothing to keep */
        /* The runtime directory is the app user's own, but only the generation's process
         * group gets its socket: not an older generation, not a process that left it. */
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0 || getpgid(cred.pid) != g->pid) {
                log_gen(LOG_WARNING, g->number,
                        "Refused the socket to pid %d, which is not in generation %" PRIu64 "'s process group.",
                        (int) cred.pid, g->number);
                return 0;
        }
        r = gate_send_socket(g, c);
        if (r < 0) {
                log_gen_errno(LOG_WARNING, r, g->number, "Failed to hand the socket to pid %d: %m", (int) cred.pid);
                return 0;
        }
        if (g->gate_open)
                return 0; /* closed right after the socket: open for that process */
        n = realloc(g->gate_connections, sizeof(int) * (g->n_gate_connections + 1));
        if (!n) {
                /* Closing it opens the gate for that process: serving early beats hanging. */
                log_oom();
                return 0;
        }
        g->gate_connections = n;
        g->gate_connections[g->n_gate_connections++] = TAKE_FD(c);
        return 0;
}

/* Binds a socket of @type at RUNTIME_DIR/WHAT.N, the generation's own path for @what;
 * the path goes to *ret_path (also on failure, so that the caller's cleanup unlinks it). */
int generation_bind_socket(Generation *g, const char *what, int type, char **ret_path) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(ret_path, "%s/%s.%" PRIu64, g->worker->runtime_dir, what, g->number) < 0) {
                *ret_path = NULL;
                return -ENOMEM;
        }
        if (strlen(*ret_path) >= sizeof addr.un.sun_path)
                return -ENAMETOOLONG;
        strcpy(addr.un.sun_path, *ret_path);
        (void) unlink(*ret_path);

        fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, &addr.sa, sizeof addr.un) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

/* A socket the generation's processes connect to (the preload does, when the app first
 * puts the held socket in its event loop, or binds Listen= without having fd 3); the
 * shim closes every connection when the generation may serve, which the preload sees as
 * EOF. It stays for the generation's life: a process may come later for the socket. */
static int generation_make_gate(Generation *g) {
        int fd;

        fd = generation_bind_socket(g, "gate", SOCK_STREAM, &g->gate_path);
        if (fd < 0)
                return fd;
        g->gate_fd = fd;
        if (listen(fd, 128) < 0)
                return negative_errno();
        return sd_event_add_io(g->worker->event, &g->gate_source, g->gate_fd, EPOLLIN, on_gate_connection, g);
}

void generation_open_gate(Generation *g) {
        g->gate_open = true;
        for (size_t i = 0; i < g->n_gate_connections; i++)
                safe_close(g->gate_connections[i]);
        g->gate_connections = mfree(g->gate_connections);
        g->n_gate_connections = 0;
}

static void generation_remove_gate(Generation *g) {
        generation_open_gate(g);
        g->gate_source = sd_event_source_disable_unref(g->gate_source);
        g->gate_fd = safe_close(g->gate_fd);
        if (g->gate_path) {
                /* Gone: a process that connects later finds the gate open. */
                (void) unlink(g->gate_path);
                g->gate_path = mfree(g->gate_path);
        }
}

/* ---- retirement: what the preload checks before it hands a connection over ---- */

/* One byte in a file of the worker's runtime directory, which every process of the
 * generation maps (the preload does, at start): 'h' while it hands over after a swap (it
 * takes no new connections), '1' once the generation is retired by a swap. The preload
 * reads it on every close() the app makes, so it must cost a load from memory, not a
 * system call. */
static int generation_make_retire_flag(Generation *g) {
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&g->retire_path, "%s/retired.%" PRIu64, g->worker->runtime_dir, g->number) < 0)
                return -ENOMEM;
        fd = open(g->retire_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (write(fd, "0", 1) != 1)
                return errno > 0 ? -errno : -EIO;
        g->retire_fd = TAKE_FD(fd);
        return 0;
}

/* Sets the flag to @flag; @what and @otherwise say what it marks and what happens if the
 * write fails. */
static void generation_set_retire_flag(Generation *g, char flag, const char *what, const char *otherwise) {
        if (g->retire_fd >= 0 && pwrite(g->retire_fd, &flag, 1, 0) != 1)
                log_gen_errno(LOG_WARNING, negative_errno(), g->number, "Failed to mark generation %" PRIu64 " %s, %s: %m",
                              g->number, what, otherwise);
}

static void generation_mark_handing_over(Generation *g) {
        generation_set_retire_flag(g, 'h', "as handing over", "it takes new connections beside the new one");
}

static void generation_mark_retired(Generation *g) {
        /* Without relays (the shim cannot connect to the socket) the app's closes stay
         * its own. */
        if (g->worker->relay)
                generation_set_retire_flag(g, '1', "retired", "its idle connections are closed as it closes them");
}

/* ---- start ---- */

/* In the child: every fd above those it hands on closes at exec, whoever opened it
 * (sd-event's, or what was inherited when run by hand). */
static int close_others_on_exec(int first) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (syscall(SYS_close_range, (unsigned) first, ~0U, CLOSE_RANGE_CLOEXEC) >= 0)
                return 0;
        /* Kernels before 5.11 */
        d = opendir("/proc/self/fd");
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (fd >= first && fd != dirfd(d))
                        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        return 0;
}

enum {
        EXEC_STEP_EXEC,
        EXEC_STEP_CHDIR,
};

/* The child between fork() and exec(): only work on memory we own; errors go back
 * through @error_fd as the step that failed and a negative errno. */
_noreturn_ static void generation_exec_child(Generation *g, int error_fd, int ipc_child_fd) {
        Worker *w = g->worker;
        _cleanup_strv_free_ char **env = NULL;
        sigset_t all;
        int listen_fd, ipc_fd = -EBADF, r = 0, step = EXEC_STEP_EXEC;
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
        /* Its own process group, so a kill reaches whatever the app forked, and the shim
         * can wait for all of it. */
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
        r = close_others_on_exec(SD_LISTEN_FDS_START + (ipc_fd >= 0 ? 2 : 1));
        if (r < 0)
                goto fail;

        /* The environment systemd made for the settings' process: this shim's, or the
         * ExecReload= client's (Environment=, EnvironmentFile=, PassEnvironment= as the
         * unit has them now). What systemd gives one process only is ours, the shim's. */
        char **base = g->settings->environment ?: environ;
        static const char *const per_process[] = {
                "JOURNAL_STREAM=", "INVOCATION_ID=", "MANAGERPID=", "SYSTEMD_EXEC_PID=", "WATCHDOG_USEC=", "MAINPID=",
        };
        for (char **v = base; v && *v; v++) {
                static const char *const drop[] = {
                        "LISTEN_", "NOTIFY_SOCKET=", "NODE_CHANNEL_", "SOCKD_", "WATCHDOG_PID=",
                        "LD_PRELOAD=", /* put back below, after ours */
                };
                bool skip = false;

                for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                        skip = skip || strncmp(*v, drop[i], strlen(drop[i])) == 0;
                for (size_t i = 0; base != environ && i < ELEMENTSOF(per_process); i++)
                        skip = skip || strncmp(*v, per_process[i], strlen(per_process[i])) == 0;
                if (!skip && strv_extend(&env, *v) < 0)
                        goto fail_oom;
        }
        for (char **v = environ; base != environ && v && *v; v++)
                for (size_t i = 0; i < ELEMENTSOF(per_process); i++)
                        if (strncmp(*v, per_process[i], strlen(per_process[i])) == 0 && strv_extend(&env, *v) < 0)
                                goto fail_oom;

#define PUSHF(...)                                                      \
        do {                                                            \
                if (asprintf(&e, __VA_ARGS__) < 0 || strv_consume(&env, e) < 0) \
                        goto fail_oom;                                  \
        } while (0)

        /* With Listen= the app binds itself and must not find a passed socket: servers
         * that honour socket activation (gunicorn, Puma) would serve fd 3 and skip the
         * bind the user configured, or close it as unused. */
        if (!w->opts.listen) {
                PUSHF("LISTEN_FDS=1");
                PUSHF("LISTEN_PID=%d", (int) getpid());
                PUSHF("LISTEN_FDNAMES=%s", w->fd_name);
        }
        PUSHF("SOCKD_APP=%s", w->opts.app);
        PUSHF("SOCKD_WORKER=%u", w->opts.worker);
        PUSHF("SOCKD_GENERATION=%" PRIu64, g->number);
        PUSHF("SOCKD_SOCKET=%s", strempty(w->opts.socket_path));
        if (g->settings->opts.ready == READY_NODE_IPC) {
                /* What nodesockd's worker library reads (nodesockd.id, .suspended; its
                 * .socketPath is what Listen=unix: names), so that its apps run as they
                 * are. */
                PUSHF("NODESOCKD_WORKER_ID=%u", w->opts.worker);
                PUSHF("NODESOCKD_APP_NAME=%s", w->opts.app);
                if (g->held)
                        PUSHF("NODESOCKD_SUSPENDED=true");
                if (w->opts.listen && strncmp(w->opts.listen, "unix:", 5) == 0)
                        PUSHF("NODESOCKD_SOCKET_PATH=%s", w->opts.listen + 5);
        }
        if (g->held) {
                PUSHF("SOCKD_SUSPENDED=1");
                PUSHF("SOCKD_RESUME_SIGNAL=%s", g->settings->opts.ready == READY_NODE_IPC ? "ipc:resume" : "SIGUSR2");
        }
        if (g->notify_path && g->settings->opts.ready == READY_NOTIFY) {
                PUSHF("NOTIFY_SOCKET=%s", g->notify_path);
                /* With WatchdogSec= on the worker, WATCHDOG_USEC passes through to the app
                 * with WATCHDOG_PID set to its own pid (sd_watchdog_enabled(3) checks it);
                 * the shim relays the serving generation's pings. */
                if (getenv("WATCHDOG_USEC"))
                        PUSHF("WATCHDOG_PID=%d", (int) getpid());
        }
        if (g->settings->use_preload) {
                const char *other = getenv("LD_PRELOAD");

                /* First, before whatever the app preloads itself. */
                PUSHF("LD_PRELOAD=%s%s%s", w->opts.preload, isempty(other) ? "" : ":", strempty(other));
                PUSHF("SOCKD_LISTEN_FD=%d", SD_LISTEN_FDS_START);
                /* Which socket it is, for processes where fd 3 is something else. */
                PUSHF("SOCKD_LISTEN_ID=%llu:%llu", (unsigned long long) w->listen_dev,
                      (unsigned long long) w->listen_ino);
                PUSHF("SOCKD_BACKLOG=%u", w->opts.backlog);
                if (w->opts.listen)
                        PUSHF("SOCKD_LISTEN=%s", w->opts.listen);
                if (g->settings->opts.ready == READY_LISTEN)
                        PUSHF("SOCKD_READY_LISTEN=1");
                if (g->notify_path)
                        PUSHF("SOCKD_PRELOAD_NOTIFY=%s", g->notify_path);
                if (g->gate_path)
                        PUSHF("SOCKD_GATE=%s", g->gate_path);
                if (g->retire_path)
                        PUSHF("SOCKD_RETIRED=%s", g->retire_path);
        }
        if (ipc_fd >= 0) {
                PUSHF("NODE_CHANNEL_FD=%d", SD_LISTEN_FDS_START + 1);
                PUSHF("NODE_CHANNEL_SERIALIZATION_MODE=json");
        }
#undef PUSHF

        /* WorkingDirectory= as systemd applied it to the settings' process. */
        if (g->settings->directory && chdir(g->settings->directory) < 0) {
                step = EXEC_STEP_CHDIR;
                goto fail_errno;
        }
        execve(g->settings->opts.argv[0], g->settings->opts.argv, env);

fail_errno:
        r = -errno;
        goto fail;
fail_oom:
        r = -ENOMEM;
fail:
        (void) !write(error_fd, &(int[2]) { step, r }, 2 * sizeof(int));
        _exit(EXIT_FAILURE);
}

static int generation_start(Generation *g) {
        _cleanup_close_ int error_pipe_r = -EBADF, error_pipe_w = -EBADF, ipc_child = -EBADF;
        int pipefd[2], err[2] = {}, r;
        ssize_t n;
        pid_t pid;

        /* The notify socket carries READY=1 (Ready=notify, and Ready=listen from the
         * preload) and the preload's reports. */
        if (g->settings->opts.ready != READY_NODE_IPC || g->settings->use_preload) {
                r = generation_open_notify(g);
                if (r < 0)
                        return log_gen_errno(LOG_ERR, r, g->number, "Failed to create the notify socket: %m");
        }
        if (g->settings->use_preload) {
                r = generation_make_gate(g);
                if (r < 0)
                        return log_gen_errno(LOG_ERR, r, g->number, "Failed to create the readiness gate: %m");
        }
        if (g->settings->use_preload) {
                r = generation_make_retire_flag(g);
                if (r < 0)
                        return log_gen_errno(LOG_ERR, r, g->number, "Failed to create the retirement flag: %m");
        }
        if (g->settings->opts.ready == READY_NODE_IPC) {
                r = generation_open_ipc(g, &ipc_child);
                if (r < 0)
                        return log_gen_errno(LOG_ERR, r, g->number, "Failed to create the Node IPC channel: %m");
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

        /* From here on worker_reap_children() sees it exit: SIGCHLD is blocked and read
         * through the event loop. */
        g->pid = pid;
        g->group_alive = true;
        error_pipe_w = safe_close(error_pipe_w);
        ipc_child = safe_close(ipc_child);

        /* EOF means exec() succeeded: the pipe was O_CLOEXEC. */
        do
                n = read(error_pipe_r, &err, sizeof err);
        while (n < 0 && errno == EINTR);

        if (n == (ssize_t) sizeof err && err[1] < 0 && err[0] == EXEC_STEP_CHDIR) {
                log_gen_errno(LOG_ERR, err[1], g->number, "Failed to change to WorkingDirectory=%s: %m",
                              g->settings->directory);
                if (asprintf(&g->failure, "could not change to WorkingDirectory=%s: %s", g->settings->directory,
                             strerror(-err[1])) < 0)
                        g->failure = NULL;
        } else if (n == (ssize_t) sizeof err && err[1] < 0) {
                log_gen_errno(LOG_ERR, err[1], g->number, "Failed to execute '%s': %m", g->settings->opts.argv[0]);
                if (asprintf(&g->failure, "could not execute '%s': %s", g->settings->opts.argv[0], strerror(-err[1])) < 0)
                        g->failure = NULL;
                /* Its exit is handled like any other. */
        } else
                log_gen(LOG_INFO, g->number, "Started generation %" PRIu64 " (pid %d): %s.",
                        g->number, (int) pid, g->settings->opts.argv[0]);

        r = generation_arm_timer(g, g->settings->opts.ready_timeout);
        if (r < 0) {
                log_gen_errno(LOG_ERR, r, g->number, "Failed to arm the ready timer, killing it: %m");
                generation_kill(g);
        }
        return 0;
}

/* Starts a new generation on the worker's socket. On failure nothing is left behind. */
int worker_spawn(Worker *w, Settings *settings, bool held, Generation **ret) {
        Generation *g;
        int r;

        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        *g = (Generation) {
                .worker = w,
                .number = ++w->last_generation,
                .settings = settings_ref(settings),
                .notify_fd = -EBADF,
                .ipc_fd = -EBADF,
                .gate_fd = -EBADF,
                .retire_fd = -EBADF,
                .state = GENERATION_STARTING,
                .started_usec = now_usec(CLOCK_REALTIME),
                .held = held,
        };
        g->next = w->generations;
        w->generations = g;
        worker_save_state(w);

        r = generation_start(g);
        if (r < 0) {
                if (g->pid > 0) {
                        generation_kill(g);
                        (void) waitpid(g->pid, NULL, 0);
                }
                worker_forget(w, g);
                return r;
        }
        if (ret)
                *ret = g;
        worker_update_status(w);
        return 0;
}

/* ---- stop ---- */

void generation_kill(Generation *g) {
        if (g->pid <= 0 || !g->group_alive)
                return;
        g->killed = true;
        /* The whole process group: children the app forked go too. */
        if (kill(-g->pid, SIGKILL) < 0 && g->state != GENERATION_DEAD)
                (void) kill(g->pid, SIGKILL);
}

/* Asks a generation to finish what it is doing and exit; SIGKILL after StopTimeoutSec.
 * A Node app gets 'shutdown'; if that cannot be sent (it closed its channel), SIGTERM,
 * at once: waiting StopTimeoutSec= for a message that never arrived helps nobody. */
void generation_stop(Generation *g) {
        Worker *w = g->worker;
        int r;

        if (g->state == GENERATION_DEAD || g->stop_requested || g->pid <= 0)
                return;
        g->stop_requested = true;
        /* A handover cut short (the worker stops): the stop timer replaces its timer. */
        g->handing_over = false;
        if (g->state != GENERATION_DRAINING)
                generation_set_state(g, GENERATION_EVENT_STOP);
        /* Retired by a swap: a newer generation takes what its idle connections bring.
         * Not when the worker stops: nothing would. */
        if (!w->stopping)
                generation_mark_retired(g);

        r = g->settings->opts.ready == READY_NODE_IPC ? generation_send_ipc(g, "shutdown") : -EOPNOTSUPP;
        if (r >= 0)
                log_gen(LOG_INFO, g->number, "Stopping generation %" PRIu64 " (pid %d): sent 'shutdown'%s.",
                        g->number, (int) g->pid, g->ipc_envelope ? " (as {\"type\":\"shutdown\"}, as nodesockd does)" : "");
        else if (r == -EOPNOTSUPP)
                log_gen(LOG_INFO, g->number, "Stopping generation %" PRIu64 " (pid %d): sent %s.",
                        g->number, (int) g->pid, signal_name(g->settings->opts.stop_signal));
        else
                log_gen_errno(LOG_INFO, r, g->number,
                              "Stopping generation %" PRIu64 " (pid %d): sent %s, as 'shutdown' could not be sent: %m.",
                              g->number, (int) g->pid, signal_name(g->settings->opts.stop_signal));
        if (r < 0)
                (void) kill(g->pid, g->settings->opts.stop_signal);

        r = generation_arm_timer(g, g->settings->opts.stop_timeout);
        if (r < 0) {
                log_gen_errno(LOG_WARNING, r, g->number, "Failed to arm the stop timer, killing now: %m");
                generation_kill(g);
        }
}

/* Retires @g, which served until a newer generation took over, with the settings @o of
 * the one that did (a restart that edits HandoverSec= applies it): @g keeps serving the
 * connections it has for HandoverSec= before it is asked to stop. A new generation is
 * cold (a JIT, lazy loading, empty caches), and had every request moved to it at once it
 * would make them all wait while it warms up. During the handover the new one takes the
 * connections nginx opens anew (it renews them: keepalive_time in what 'sockdctl nginx'
 * prints), so the traffic moves over gradually; the preload in the old one takes the
 * socket out of its event loop (retire flag 'h'). Its state is already "draining": the
 * swap is done, a status shows the new generation serving. */
void generation_hand_over(Generation *g, const WorkerOptions *o) {
        usec_t handover = o->handover;
        _cleanup_free_ char *t = NULL;
        int r;

        if (g->state != GENERATION_SERVING || handover == 0 || g->worker->stopping) {
                generation_stop(g);
                return;
        }
        /* The workers of an app swap together: their old generations stop one after
         * another over a second HandoverSec=, not all at the same instant, so that the
         * last connections move to one warm generation at a time. */
        if (o->workers > 1)
                handover += handover * MIN(o->worker, o->workers - 1) / (o->workers - 1);
        generation_set_state(g, GENERATION_EVENT_STOP);
        r = generation_arm_timer(g, handover);
        if (r < 0) {
                log_gen_errno(LOG_WARNING, r, g->number, "Failed to arm the handover timer, stopping generation %" PRIu64 " now: %m",
                              g->number);
                generation_stop(g);
                return;
        }
        g->handing_over = true;
        generation_mark_handing_over(g);
        t = format_duration(handover);
        log_gen(LOG_INFO, g->number, "Generation %" PRIu64 " (pid %d) keeps the connections it has for HandoverSec=%s.",
                g->number, (int) g->pid, t ?: "?");
}

/* ---- end ---- */

void exit_describe(const siginfo_t *si, char *buf, size_t size) {
        if (si->si_code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", si->si_status);
        else
                snprintf(buf, size, "was killed by %s%s", signal_name(si->si_status),
                         si->si_code == CLD_DUMPED ? " (core dumped)" : "");
}

static Generation *worker_find_generation(Worker *w, pid_t pid) {
        for (Generation *g = w->generations; g; g = g->next)
                if (g->pid == pid && g->state != GENERATION_DEAD)
                        return g;
        return NULL;
}

/* The shim is the subreaper of everything the app forks (PR_SET_CHILD_SUBREAPER): when a
 * generation's main process exits, what it left behind becomes our child, and its exit
 * comes here too. So a generation's process group is empty exactly when, after such an
 * exit, kill(-pgid, 0) finds nobody; no polling. What escapes the group (setsid(),
 * setpgid() to another group) escapes this wait too, and is left to systemd's
 * KillMode= when the worker stops. */
void worker_reap_children(Worker *w) {
        for (;;) {
                siginfo_t si = {};
                Generation *g;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
                        if (errno != ECHILD)
                                log_warning_errno(negative_errno(), "waitid() failed, ignoring: %m");
                        break;
                }
                if (si.si_pid <= 0)
                        break;
                g = worker_find_generation(w, si.si_pid);
                if (g) {
                        g->timer_source = sd_event_source_disable_unref(g->timer_source);
                        worker_on_generation_exit(g, &si);
                } else
                        log_debug("Reaped pid %d, left behind by a generation.", (int) si.si_pid);
        }

        for (Generation *g = w->generations, *next; g; g = next) {
                next = g->next;
                if (g->state != GENERATION_DEAD || !g->group_alive)
                        continue;
                if (kill(-g->pid, 0) < 0 && errno == ESRCH)
                        g->group_alive = false;
                else if (!g->timer_source) {
                        /* Its main process is gone but not all of it: a helper may still
                         * hold the socket. Ask the rest to go, and make sure they do. */
                        log_gen(LOG_INFO, g->number,
                                "Generation %" PRIu64 " left processes behind in its group; sending them %s.",
                                g->number, signal_name(g->settings->opts.stop_signal));
                        (void) kill(-g->pid, g->settings->opts.stop_signal);
                        if (generation_arm_timer(g, g->settings->opts.stop_timeout) < 0)
                                generation_kill(g);
                }
                if (!g->group_alive) {
                        log_gen(LOG_DEBUG, g->number, "Generation %" PRIu64 " is gone.", g->number);
                        generation_drain_notifications(g);
                        worker_forget(w, g);
                }
        }
        worker_update_status(w);
        (void) worker_finish_if_idle(w);
}
