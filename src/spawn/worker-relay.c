/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connections a draining app closed as idle, kept open and relayed.
 *
 * An app that stops closes its idle keep-alive connections, and nginx may be sending the
 * next request on one of them at that moment: the request meets a reset or a broken
 * pipe, and nginx retries no POST. sockd's preload hands such a connection to the shim
 * instead (X_SOCKD_PARK=1 with the fd, on the generation's notify socket), and the shim
 * keeps it open: nginx never sees it close. What nginx sends on it later is relayed to a
 * new connection to the worker's own socket, which the serving generation accepts.
 *
 * A relay's connection to the app carries a name (an abstract address with the relay's
 * number): when that app drains in turn and hands the connection over too, the shim
 * knows it for its own, takes back what the app never read, and sends it on through a
 * new connection. So a relay survives any number of swaps, and a request is resent only
 * when it is provably unread (still in the receive queue of the app's end).
 *
 * Relays end when nginx closes its end, when the app closes its end while not idle (the
 * close is passed on as it is), or after RELAY_IDLE_USEC without a byte. The relay copies
 * with a bounded buffer per direction, allocated only while data flows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "worker.h"

#define RELAY_BUFFER_SIZE (16U * 1024U)
/* Each relay holds two fds: well below the shim's soft fd limit (1024), which the app
 * inherits and select()-based apps need as it is. nginx keeps far fewer idle
 * connections per upstream server. An app that hands over more gets its connections
 * closed, as it asked. */
#define RELAYS_MAX 256U
/* Longer than nginx's upstream keepalive_timeout that sockdctl nginx prints (4 s): nginx
 * closes an idle connection first. A connection nobody writes to in that time is
 * closed, and a request whose answer the app never wrote gets its error then. */
#define RELAY_IDLE_USEC (10 * USEC_PER_SEC)
#define RELAY_NAME_PREFIX "sockd-relay:"

typedef struct RelayBuffer {
        uint8_t *data;
        size_t start, end;
        bool eof;      /* the source said EOF */
        bool shut;     /* passed on with shutdown(SHUT_WR) */
} RelayBuffer;

struct Relay {
        Worker *worker;
        Relay *prev, *next;
        uint64_t id;
        int front; /* to nginx */
        int back;  /* to the app, -1 between connections */
        sd_event_source *front_source, *back_source, *idle_source;
        RelayBuffer to_back, to_front;
        /* Bytes sent to the app since its last byte: the request it has not answered
         * (nginx sends one request at a time on a connection). */
        uint64_t unanswered;
};

static Relay *relay_free(Relay *r) {
        Worker *w;

        if (!r)
                return NULL;
        w = r->worker;
        if (r->prev)
                r->prev->next = r->next;
        else
                w->relays = r->next;
        if (r->next)
                r->next->prev = r->prev;
        w->n_relays--;
        sd_event_source_disable_unref(r->front_source);
        sd_event_source_disable_unref(r->back_source);
        sd_event_source_disable_unref(r->idle_source);
        safe_close(r->front);
        safe_close(r->back);
        free(r->to_back.data);
        free(r->to_front.data);
        free(r);
        return NULL;
}

void worker_free_relays(Worker *w) {
        while (w->relays)
                relay_free(w->relays);
}

static int relay_pump(Relay *r);

static int on_relay_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;
        int q;

        q = relay_pump(r);
        if (q < 0)
                /* A request nginx may see fail: worth a line, and rare. */
                log_notice_errno(q, "Relay %" PRIu64 ": ended on an error: %m", r->id);
        if (q <= 0)
                relay_free(r);
        return 0; /* never an error: sd-event would disable the source for good */
}

static int on_relay_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Relay *r = userdata;

        log_debug("Relay %" PRIu64 ": idle for %" PRIu64 " s, closing.", r->id, (uint64_t) (RELAY_IDLE_USEC / USEC_PER_SEC));
        relay_free(r);
        return 0;
}

static void relay_touch(Relay *r) {
        uint64_t now;

        if (sd_event_now(r->worker->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        if (r->idle_source)
                (void) sd_event_source_set_time(r->idle_source, now + RELAY_IDLE_USEC);
}

/* A connection to the worker's own socket, named so that the preload in the app that
 * accepts it tells the shim so when it hands it back. */
static int relay_connect(Relay *r) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX }, name = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        const char *path = r->worker->opts.socket_path;
        int n, q;

        if (!path || strlen(path) >= sizeof addr.un.sun_path)
                return -EADDRNOTAVAIL;
        strcpy(addr.un.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        n = snprintf(name.un.sun_path + 1, sizeof name.un.sun_path - 1, RELAY_NAME_PREFIX "%d:%" PRIu64,
                     (int) getpid(), r->id);
        if (bind(fd, &name.sa, offsetof(struct sockaddr_un, sun_path) + 1 + n) < 0)
                return negative_errno();
        /* UNIX sockets connect at once, or EAGAIN when the backlog is full. */
        if (connect(fd, &addr.sa, sizeof addr.un) < 0)
                return negative_errno();
        q = sd_event_add_io(r->worker->event, &r->back_source, fd, EPOLLIN, on_relay_io, r);
        if (q < 0)
                return q;
        r->back = TAKE_FD(fd);
        return 0;
}

/* Does @p start like an HTTP/1 request line: a method (upper-case token), a space, a
 * target? nginx speaks HTTP/1 to its upstreams and writes a request line whole. */
static bool looks_like_request_line(const uint8_t *p, size_t len) {
        size_t i = 0;

        while (i < len && i < 20 && p[i] >= 'A' && p[i] <= 'Z')
                i++;
        return i >= 3 && i + 1 < len && p[i] == ' ' && p[i + 1] > ' ' && p[i + 1] < 0x7f;
}

/* Drops the connection to the app (what it answered is still sent on); the relay waits
 * for nginx's next request. */
static void relay_detach(Relay *r) {
        r->back_source = sd_event_source_disable_unref(r->back_source);
        r->back = safe_close(r->back);
        r->to_front.eof = r->to_front.shut = false;
        r->to_back.shut = false;
        r->unanswered = 0;
}

/* Moves what it can from @src through @b to @dst. 1 if something moved, 0 if not, <0 on
 * an error of either side. */
static int relay_move(Relay *r, int src, RelayBuffer *b, bool to_back) {
        int progress = 0, dst;
        ssize_t n;

        if (b->start == b->end && !b->eof && src >= 0) {
                if (!b->data) {
                        b->data = malloc(RELAY_BUFFER_SIZE);
                        if (!b->data)
                                return -ENOMEM;
                }
                n = recv(src, b->data, RELAY_BUFFER_SIZE, MSG_DONTWAIT);
                if (n > 0) {
                        b->start = 0;
                        b->end = (size_t) n;
                        progress = 1;
                        if (!to_back)
                                r->unanswered = 0;
                } else if (n == 0) {
                        b->eof = true;
                        progress = 1;
                } else if (errno != EAGAIN && errno != EINTR)
                        return negative_errno();
        }
        if (b->start < b->end) {
                if (to_back && r->back < 0) {
                        int q;

                        /* What starts a connection to the app must be a request, not the
                         * rest of one the app had begun to read before it closed. */
                        if (!looks_like_request_line(b->data + b->start, b->end - b->start))
                                return -EBADMSG;
                        q = relay_connect(r);
                        if (q < 0)
                                return q;
                }
                dst = to_back ? r->back : r->front;
                n = send(dst, b->data + b->start, b->end - b->start, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0) {
                        b->start += (size_t) n;
                        progress = 1;
                        if (to_back)
                                r->unanswered += (uint64_t) n;
                } else if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return negative_errno();
        }
        if (b->start == b->end && b->eof && !b->shut) {
                dst = to_back ? r->back : r->front;
                if (dst >= 0)
                        (void) shutdown(dst, SHUT_WR);
                b->shut = true;
                progress = 1;
        }
        return progress;
}

/* 1 while the relay goes on, 0 when it is done, <0 on an error. */
static int relay_pump(Relay *r) {
        int a, b;

        do {
                a = relay_move(r, r->front, &r->to_back, true);
                if (a < 0)
                        return a;
                b = relay_move(r, r->back, &r->to_front, false);
                if (b < 0)
                        return b;
        } while (a > 0 || b > 0);

        /* The app closed its end while not idle (it did not hand it over), and that is
         * passed on to nginx: done. */
        if (r->to_front.shut)
                return 0;
        /* nginx closed its end, all it sent is through, and no app end waits to answer. */
        if (r->to_back.eof && r->to_back.start == r->to_back.end && r->back < 0)
                return 0;

        relay_touch(r);
        (void) sd_event_source_set_io_events(r->front_source,
                                             (r->to_back.start == r->to_back.end && !r->to_back.eof ? EPOLLIN : 0) |
                                             (r->to_front.start < r->to_front.end ? EPOLLOUT : 0));
        if (r->back_source)
                (void) sd_event_source_set_io_events(r->back_source,
                                                     (r->to_front.start == r->to_front.end && !r->to_front.eof ? EPOLLIN : 0) |
                                                     (r->to_back.start < r->to_back.end ? EPOLLOUT : 0));
        return 1;
}

/* Is @fd the app's end of one of our relays' connections? Its peer is named by us. */
static Relay *relay_by_peer(Worker *w, int fd) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } peer = {};
        socklen_t len = sizeof peer;
        char prefix[64];
        uint64_t id;
        int n;

        struct ucred cred = {};
        socklen_t clen = sizeof cred;

        if (getpeername(fd, &peer.sa, &len) < 0 || peer.un.sun_family != AF_UNIX ||
            len <= offsetof(struct sockaddr_un, sun_path) + 1 || peer.un.sun_path[0] != 0)
                return NULL;
        /* A name anyone could bind: that the peer is this process is what counts. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.pid != getpid())
                return NULL;
        n = snprintf(prefix, sizeof prefix, RELAY_NAME_PREFIX "%d:", (int) getpid());
        len -= offsetof(struct sockaddr_un, sun_path) + 1;
        if (len <= (socklen_t) n || memcmp(peer.un.sun_path + 1, prefix, n) != 0)
                return NULL;
        {
                char digits[24] = {};
                char *end;

                if (len - n >= sizeof digits)
                        return NULL;
                memcpy(digits, peer.un.sun_path + 1 + n, len - n);
                errno = 0;
                id = strtoull(digits, &end, 10);
                if (errno || *end || end == digits)
                        return NULL;
        }
        for (Relay *r = w->relays; r; r = r->next)
                if (r->id == id)
                        return r;
        return NULL;
}

/* The app handed back a relay's connection: take what it never read (requests it will
 * not answer) back into the relay, to send on through the next connection. */
static int relay_take_back(Relay *r, int fd) {
        RelayBuffer *b = &r->to_back;
        uint8_t *data;
        size_t pending = b->end - b->start, got = 0;
        int unread = 0;
        ssize_t n;

        data = malloc(RELAY_BUFFER_SIZE);
        if (!data)
                return -ENOMEM;
        for (;;) {
                if (got + pending >= RELAY_BUFFER_SIZE) {
                        /* More than one buffer unread: not a request to resend; give up. */
                        free(data);
                        return -E2BIG;
                }
                n = recv(fd, data + got, RELAY_BUFFER_SIZE - pending - got, MSG_DONTWAIT);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        if (r->back >= 0 && ioctl(r->back, FIONREAD, &unread) >= 0 && unread > 0) {
                /* An answer the relay could not take in yet (nginx reads slowly): dropping
                 * our end would lose it. End the connection as the app did. */
                free(data);
                return -ENOBUFS;
        }
        if (got != r->unanswered) {
                /* The app read (some of) a request and left without an answer: it is the
                 * app's to fail, as it would have without us; resending it could run it
                 * twice. End the connection as the app did. */
                free(data);
                return -EPROTO;
        }
        if (pending > 0)
                memcpy(data + got, b->data + b->start, pending);
        free(b->data);
        b->data = data;
        b->start = 0;
        b->end = got + pending;
        relay_detach(r);
        if (got > 0)
                log_debug("Relay %" PRIu64 ": the app left %zu bytes unread; sending them on.", r->id, got);
        return 0;
}

/* A connection the draining app closed; ours from now on (fd is taken, always). */
void worker_park_connection(Worker *w, int fd) {
        _cleanup_close_ int c = fd;
        Relay *r;
        int q;

        r = relay_by_peer(w, c);
        if (r) {
                /* What the app wrote before it let go (an answer, then the close) may
                 * still wait on our end, unread while nginx was slow to take the last
                 * one: take it in first, so the take-back counts it answered. */
                q = relay_pump(r);
                if (q <= 0) {
                        if (q < 0)
                                log_notice_errno(q, "Relay %" PRIu64 ": ended on an error: %m", r->id);
                        relay_free(r);
                        return;
                }
                q = relay_take_back(r, c);
                if (q >= 0)
                        q = relay_pump(r);
                if (q < 0)
                        log_notice_errno(q, "Relay %" PRIu64 ": the app handed its connection back; cannot go on: %m",
                                         r->id);
                if (q <= 0)
                        relay_free(r);
                return;
        }
        if (w->n_relays >= RELAYS_MAX || !w->opts.socket_path) {
                log_notice("Not keeping a connection the app closed: %u kept already.", w->n_relays);
                return;
        }

        r = calloc(1, sizeof *r);
        if (!r) {
                log_oom();
                return;
        }
        r->worker = w;
        r->id = ++w->last_relay;
        r->back = -EBADF;
        r->front = TAKE_FD(c);
        r->next = w->relays;
        if (r->next)
                r->next->prev = r;
        w->relays = r;
        w->n_relays++;
        q = sd_event_add_io(w->event, &r->front_source, r->front, EPOLLIN, on_relay_io, r);
        if (q >= 0)
                q = sd_event_add_time_relative(w->event, &r->idle_source, CLOCK_MONOTONIC, RELAY_IDLE_USEC, 0,
                                               on_relay_idle, r);
        if (q < 0) {
                log_warning_errno(q, "Failed to watch a connection the app closed, closing it: %m");
                relay_free(r);
                return;
        }
        (void) sd_event_source_set_enabled(r->idle_source, SD_EVENT_ON);
        /* A request may be there already: the app closed it unread. */
        q = relay_pump(r);
        if (q < 0)
                log_notice_errno(q, "Relay %" PRIu64 ": cannot relay what the app left unread: %m", r->id);
        if (q <= 0)
                relay_free(r);
}
