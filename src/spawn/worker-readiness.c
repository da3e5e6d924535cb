/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a generation tells the shim: datagrams on its $NOTIFY_SOCKET (READY=1, STATUS=,
 * WATCHDOG=1, and from the preload the binds it adopted and the connections a draining
 * app handed over) and messages on Node's IPC channel (Ready=node-ipc), each accepted
 * only from the generation's own processes; and the messages the shim sends on that
 * channel ('shutdown', 'resume').
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "json.h"
#include "log.h"
#include "macro.h"
#include "notify-msg.h"
#include "strv.h"
#include "worker.h"

/* ---- readiness: $NOTIFY_SOCKET ---- */

/* The sender of a notification must be of this generation: its main process or one in
 * its process group. The socket's path is predictable and every generation runs as the
 * same user, so without this an old generation could make a new one look ready. */
static bool sender_is_of_generation(const Generation *g, const struct ucred *ucred) {
        pid_t pgid;

        if (!ucred || ucred->pid <= 0)
                return false;
        if (ucred->pid == g->pid)
                return true;
        pgid = getpgid(ucred->pid);
        return pgid > 0 && pgid == g->pid;
}

/* fds that came with a notification: closed unless taken. */
typedef struct FdList {
        int fds[16];
        size_t n;
} FdList;

static void fd_list_close(FdList *l) {
        for (size_t i = 0; i < l->n; i++)
                safe_close(l->fds[i]);
        l->n = 0;
}

/* Reads and handles one datagram from the generation's notify socket: 1 if there was
 * one, 0 if none was queued. */
static int generation_read_notification(Generation *g) {
        int fd = g->notify_fd;
        _cleanup_free_ char *buf = NULL;
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
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
        _cleanup_(fd_list_close) FdList received = {};

        /* An I/O handler that returns an error is disabled by sd-event for good: every
         * error here is logged and the handler goes on. Size the buffer to the datagram,
         * so nothing is ever cut. */
        size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
        if (size < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_gen_errno(LOG_WARNING, negative_errno(), g->number, "recv() on the notify socket, ignoring: %m");
                return 0;
        }
        buf = malloc(size + 1);
        if (!buf) {
                log_oom();
                (void) recv(fd, NULL, 0, MSG_DONTWAIT); /* drop it rather than spin on it */
                return 1;
        }
        iov = (struct iovec) { .iov_base = buf, .iov_len = size + 1 };
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_gen_errno(LOG_WARNING, negative_errno(), g->number, "recvmsg() on the notify socket, ignoring: %m");
                return 0;
        }

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        ucred = (struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        /* One fd, with X_SOCKD_PARK=1 from the preload, is a connection
                         * to keep; every other is closed below. */
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int f;
                                memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
                                if (received.n < ELEMENTSOF(received.fds))
                                        received.fds[received.n++] = f;
                                else
                                        safe_close(f);
                        }
                }

        if (!sender_is_of_generation(g, ucred)) {
                /* A connection handed over by a process of the app that is gone by now
                 * (a pre-fork worker its master has reaped) is still to be kept: only our
                 * user can reach this socket, and keeping a connection makes nothing look
                 * ready. Nothing else such a sender says counts. */
                if (ucred && ucred->uid == geteuid() && received.n == 1 && notify_message_parse(buf, n, &m) >= 0 &&
                    m.sockd_park) {
                        worker_park_connection(g->worker, received.fds[0]);
                        received.n = 0;
                        notify_message_done(&m);
                        return 1;
                }
                notify_message_done(&m);
                if (!g->spoof_reported)
                        log_gen(LOG_WARNING, g->number,
                                "Ignoring a notification on the socket of generation %" PRIu64 " from pid %d, which is "
                                "not of that generation (pid %d and its process group).",
                                g->number, ucred ? (int) ucred->pid : 0, (int) g->pid);
                g->spoof_reported = true;
                return 1;
        }

        if (notify_message_parse(buf, n, &m) < 0) {
                log_gen(LOG_WARNING, g->number, "Ignoring a malformed notification from pid %d.", (int) ucred->pid);
                return 1;
        }
        if (m.status) {
                free(g->app_status);
                g->app_status = TAKE_PTR(m.status);
                worker_update_status(g->worker);
        }
        /* From the preload (Listen=): the app's binds. */
        if (m.sockd_adopted && !g->adopted) {
                g->adopted = true;
                log_gen(LOG_INFO, g->number, "Generation %" PRIu64 " (pid %d) bound %s (Listen=) and got the worker's socket.",
                        g->number, (int) ucred->pid, m.sockd_adopted);
        }
        if (m.sockd_bound && strv_length(g->bound) < 8 && !strv_contains(g->bound, m.sockd_bound))
                (void) strv_extend(&g->bound, m.sockd_bound);
        if (m.watchdog && g->state == GENERATION_SERVING)
                (void) sd_notify(0, "WATCHDOG=1");
        if (m.stopping && !g->stop_requested)
                log_gen(LOG_NOTICE, g->number, "Generation %" PRIu64 " (pid %d) announced it is stopping.",
                        g->number, (int) g->pid);
        /* READY=1 from the app (Ready=notify) or from the preload when the app listens
         * (Ready=listen); node-ipc apps say it on their channel. */
        /* From the preload: a connection the draining app closed, for us to keep. */
        if (m.sockd_park && received.n == 1) {
                worker_park_connection(g->worker, received.fds[0]);
                received.n = 0;
        }
        if (m.ready && g->state == GENERATION_STARTING && g->settings->opts.ready != READY_NODE_IPC)
                worker_on_generation_ready(g);
        notify_message_done(&m);
        return 1;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) generation_read_notification(userdata);
        return 0; /* never an error: sd-event would disable the source for good */
}

/* Before a generation that is gone is forgotten: what it sent last is still queued on
 * its notify socket, and closing that socket would close the connections it handed
 * over on its way out (an app that exits right after it closed its idle connections),
 * each a request failing with a reset. */
void generation_drain_notifications(Generation *g) {
        for (unsigned i = 0; g->notify_fd >= 0 && i < 4096; i++)
                if (generation_read_notification(g) <= 0)
                        break;
}

int generation_open_notify(Generation *g) {
        int fd, one = 1;

        fd = generation_bind_socket(g, "notify", SOCK_DGRAM, &g->notify_path);
        if (fd < 0)
                return fd;
        g->notify_fd = fd;
        /* The kernel attaches the sender's credentials to every datagram: on_notify()
         * accepts only those of this generation's process group. */
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return negative_errno();
        return sd_event_add_io(g->worker->event, &g->notify_source, g->notify_fd, EPOLLIN, on_notify, g);
}

/* ---- readiness: Node's IPC channel ---- */

/* Is @msg an object whose "type" is @value (both canonical JSON)? */
static bool ipc_is_envelope_of(const char *msg, const char *value) {
        _cleanup_free_ char *type = NULL;

        return msg[0] == '{' && value[0] == '"' && json_object_member(msg, "type", &type) >= 0 && streq(type, value);
}

static int on_ipc(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Generation *g = userdata;
        char buf[4096]; /* a read chunk; lines are reassembled in g->ipc */
        ssize_t n;
        int r;

        n = read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                /* The app closed its channel (or exited, or it broke): nothing more will
                 * come, and nothing we send will arrive. ECONNRESET says more: it closed
                 * it with what we sent still unread, so a 'shutdown' is lost. */
                bool unread = n < 0 && errno == ECONNRESET;

                if (n < 0 && !unread)
                        log_gen_errno(LOG_WARNING, negative_errno(), g->number, "IPC read from pid %d: %m", (int) g->pid);
                g->ipc_source = sd_event_source_disable_unref(g->ipc_source);
                g->ipc_fd = safe_close(g->ipc_fd);
                if (unread && g->stop_requested && g->state == GENERATION_DRAINING && !g->killed) {
                        log_gen(LOG_INFO, g->number, "Generation %" PRIu64 " (pid %d) closed its IPC channel without reading "
                                "'shutdown'; sent %s.", g->number, (int) g->pid, signal_name(g->settings->opts.stop_signal));
                        (void) kill(g->pid, g->settings->opts.stop_signal);
                }
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

                r = node_ipc_reader_next_value(&g->ipc, &msg);
                if (r == 0)
                        break;
                if (r < 0) {
                        log_gen(LOG_WARNING, g->number, "Ignoring a malformed IPC message from pid %d.", (int) g->pid);
                        continue;
                }
                /* Both canonical JSON: equal values, equal texts ({"a":1,"b":2} is {"b":2, "a":1}). */
                if (msg && streq(msg, g->settings->opts.ready_message)) {
                        if (g->state == GENERATION_STARTING)
                                worker_on_generation_ready(g);
                } else if (msg && ipc_is_envelope_of(msg, g->settings->opts.ready_message)) {
                        /* nodesockd's worker library: {type: 'online', data: {...}}. The
                         * app speaks in envelopes, so it is answered in them. */
                        g->ipc_envelope = true;
                        if (g->state == GENERATION_STARTING)
                                worker_on_generation_ready(g);
                } else
                        log_gen(LOG_DEBUG, g->number, "Ignoring an IPC message from pid %d.", (int) g->pid);
        }
        return 0;
}

/* 0 once the whole line is written; a negative errno when it cannot be sent (the app
 * closed its channel: EPIPE, or no channel at all). */
int generation_send_ipc(Generation *g, const char *message) {
        _cleanup_free_ char *line = node_ipc_encode(message);
        ssize_t n;

        if (!line)
                return -ENOMEM;
        if (g->ipc_envelope) {
                /* {"type":"shutdown"}, as nodesockd's library expects it. */
                char *enveloped;

                line[strlen(line) - 1] = 0; /* the newline */
                if (asprintf(&enveloped, "{\"type\":%s}\n", line) < 0)
                        return -ENOMEM;
                free(line);
                line = enveloped;
        }
        if (g->ipc_fd < 0)
                return -ENOTCONN;
        n = send(g->ipc_fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return negative_errno();
        return n == (ssize_t) strlen(line) ? 0 : -EAGAIN;
}

/* The Node IPC channel of a generation about to start: our end is watched, *ret_child is
 * the end its app gets as NODE_CHANNEL_FD. */
int generation_open_ipc(Generation *g, int *ret_child) {
        _cleanup_close_ int child = -EBADF;
        int sv[2], r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        g->ipc_fd = sv[0];
        child = sv[1];
        if (fcntl(g->ipc_fd, F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();
        r = sd_event_add_io(g->worker->event, &g->ipc_source, g->ipc_fd, EPOLLIN, on_ipc, g);
        if (r < 0)
                return r;
        *ret_child = TAKE_FD(child);
        return 0;
}
