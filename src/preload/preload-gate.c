/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The readiness gate and the handover's pause: until sockd-spawn opens the gate, the
 * app's event loop (epoll_ctl, poll, select) watches a gate socket in the held socket's
 * place, and while the generation hands over a never-readable eventfd; accept() in
 * sockd-preload.c asks gated(), gate_wait() and handing_over(). See sockd-preload.c for
 * the rest of the library.
 */
#include "preload.h"

/* ---- the gate ---- */

/* Called with the lock held: the app's epoll sees the held socket from now on. */
static void gate_release(void) {
        for (unsigned i = 0; i < st.n_registrations; i++) {
                Registration *r = &st.registrations[i];

                (void) RESOLVE(epoll_ctl)(r->epfd, EPOLL_CTL_DEL, r->gate_dup, NULL);
                RESOLVE(close)(r->gate_dup);
                /* EEXIST: a forked process sharing the epoll did it already. */
                (void) RESOLVE(epoll_ctl)(r->epfd, EPOLL_CTL_ADD, r->fd, &r->event);
        }
        st.n_registrations = 0;
        if (st.gate_fd >= 0)
                RESOLVE(close)(st.gate_fd);
        st.gate_fd = -1;
        __atomic_store_n(&st.gate_open, true, __ATOMIC_RELEASE);
}

/* ---- handing over: the new generation takes the new connections ---- */

/* Is the generation handing over (or retired)? A load from memory. */
bool handing_over(void) {
        return st.retired && (*st.retired == 'h' || *st.retired == '1');
}

/* Set when a poll() or select() of this thread saw the held socket readable, cleared by
 * its next accept(): see accept_common(). */
__thread bool saw_held_readable;

static void note_poll(const struct pollfd *fds, nfds_t n, int r) {
        for (nfds_t i = 0; st.active && r > 0 && i < n; i++)
                if ((fds[i].revents & POLLIN) && is_held(fds[i].fd)) {
                        saw_held_readable = true;
                        return;
                }
}

static void note_select(int nfds, const fd_set *rd, int r) {
        for (int fd = 0; st.active && r > 0 && rd && fd < nfds && fd < FD_SETSIZE; fd++)
                if (FD_ISSET(fd, rd) && is_held(fd)) {
                        saw_held_readable = true;
                        return;
                }
}

/* Called with the lock held, once, at the first accept() on the held socket @fd since the
 * generation hands over: every epoll set of this process that watches @fd watches a
 * never-readable eventfd in its place from now on, with the app's own events and data,
 * as while the gate was closed. The sets and what they hold are read from
 * /proc/self/fdinfo: the app registered the socket long before, and recording every
 * registration would put a system call on every epoll_ctl() it makes. True if any set
 * watched @fd (an app on poll() or select() is paused by those wrappers instead). */
bool pause_locked(int fd) {
        DIR *d;
        struct dirent *de;

        st.pause_tried = true;
        if (st.pause_fd < 0)
                st.pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (st.pause_fd < 0)
                return false;
        d = opendir("/proc/self/fd");
        if (!d)
                return false;
        while ((de = readdir(d))) {
                char path[64], target[32], line[256];
                int epfd = atoi(de->d_name);
                ssize_t n;
                FILE *f;

                if (de->d_name[0] < '0' || de->d_name[0] > '9' || epfd == dirfd(d))
                        continue;
                snprintf(path, sizeof path, "/proc/self/fd/%d", epfd);
                n = readlink(path, target, sizeof target - 1);
                if (n < 0)
                        continue;
                target[n] = 0;
                if (strcmp(target, "anon_inode:[eventpoll]") != 0)
                        continue;
                snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof line, f)) {
                        unsigned events;
                        unsigned long long data;
                        int tfd, dup;

                        if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3 || tfd != fd ||
                            st.n_registrations >= REGISTRATIONS_MAX)
                                continue;
                        dup = fcntl(st.pause_fd, F_DUPFD_CLOEXEC, 10);
                        if (dup < 0)
                                continue;
                        struct epoll_event ev = { .events = (events & ~(EPOLLOUT | EPOLLEXCLUSIVE)) | EPOLLIN, .data.u64 = data };
                        if (RESOLVE(epoll_ctl)(epfd, EPOLL_CTL_ADD, dup, &ev) < 0) {
                                RESOLVE(close)(dup);
                                continue;
                        }
                        (void) RESOLVE(epoll_ctl)(epfd, EPOLL_CTL_DEL, fd, NULL);
                        ev.events = events;
                        st.registrations[st.n_registrations++] =
                                (Registration) { .epfd = epfd, .fd = fd, .gate_dup = dup, .event = ev };
                }
                fclose(f);
        }
        closedir(d);
        if (st.n_registrations == 0)
                return false;
        __atomic_store_n(&st.paused, true, __ATOMIC_RELEASE);
        return true;
}

/* A new connection to the generation's gate, or -1 (errno ENOENT or ECONNREFUSED: no
 * gate any more, the generation is gone). */
static int gate_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (!st.gate_path || strlen(st.gate_path) >= sizeof sa.sun_path) {
                errno = ENOENT;
                return -1;
        }
        strcpy(sa.sun_path, st.gate_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (RESOLVE(connect)(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int saved = errno;
                RESOLVE(close)(fd);
                errno = saved;
                return -1;
        }
        return fd;
}

/* Reads what the shim sent on a gate connection: the socket (one byte with SCM_RIGHTS,
 * first thing), then EOF when the gate opens. Returns 1 at EOF (or when the shim went),
 * 0 while open, -1 with errno EAGAIN when there is nothing (yet). The socket, if it
 * came, is stored in *ret_fd, or closed if ret_fd is NULL. */
static int gate_read(int gate, int *ret_fd, int flags) {
        for (;;) {
                union {
                        struct cmsghdr cmsg;
                        char buf[CMSG_SPACE(sizeof(int))];
                } control;
                char byte;
                struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof control,
                };
                ssize_t n = recvmsg(gate, &mh, flags | MSG_CMSG_CLOEXEC);

                if (n == 0)
                        return 1;
                if (n < 0)
                        return errno == EAGAIN ? -1 : errno == EINTR ? (flags & MSG_DONTWAIT ? -1 : 0) : 1;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                            c->cmsg_len == CMSG_LEN(sizeof(int))) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c), sizeof fd);
                                if (ret_fd && *ret_fd < 0)
                                        *ret_fd = fd;
                                else
                                        RESOLVE(close)(fd);
                        }
                if (ret_fd)
                        return 0;
                flags |= MSG_DONTWAIT;
        }
}

/* Called with the lock held. True while the generation may not serve yet. */
static bool gate_closed_locked(void) {
        if (__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE))
                return false;
        if (st.gate_fd < 0) {
                int fd = gate_connect();

                if (fd < 0) {
                        /* No gate: sockd-spawn is gone, or there never was one. */
                        if (errno == ENOENT || errno == ECONNREFUSED) {
                                gate_release();
                                return false;
                        }
                        return true;
                }
                st.gate_fd = fd;
        }
        if (gate_read(st.gate_fd, NULL, MSG_DONTWAIT) > 0) {
                gate_release();
                return false;
        }
        return true;
}

/* The worker's socket in this process, fetched from the gate if it was not inherited.
 * -1 if there is none to be had. Called with the lock held. */
int held_socket_locked(void) {
        struct pollfd p;
        int gate, fd = -1;
        struct stat s;

        if (st.held_fd >= 0 && fstat(st.held_fd, &s) >= 0 && s.st_dev == st.held_dev && s.st_ino == st.held_ino)
                return st.held_fd;
        st.held_fd = -1;
        gate = gate_connect();
        if (gate < 0)
                return -1;
        /* sockd-spawn sends it as soon as it accepts: a moment, unless it is stuck. */
        p = (struct pollfd) { .fd = gate, .events = POLLIN };
        if (RESOLVE(poll)(&p, 1, 10000) > 0)
                (void) gate_read(gate, &fd, MSG_DONTWAIT);
        RESOLVE(close)(gate);
        if (fd >= 0 && (fstat(fd, &s) < 0 || s.st_dev != st.held_dev || s.st_ino != st.held_ino)) {
                RESOLVE(close)(fd);
                fd = -1;
        }
        st.held_fd = fd;
        return fd;
}

/* Is @fd the held socket while the gate is closed? Cheap once the gate is open. */
bool gated(int fd) {
        bool r;

        if (__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE) || !is_held(fd))
                return false;
        pthread_mutex_lock(&lock);
        r = gate_closed_locked();
        pthread_mutex_unlock(&lock);
        return r;
}

/* Blocks until the gate opens, for a blocking accept() on the held socket. */
void gate_wait(void) {
        for (;;) {
                struct pollfd p;
                int fd;

                pthread_mutex_lock(&lock);
                if (!gate_closed_locked()) {
                        pthread_mutex_unlock(&lock);
                        return;
                }
                fd = st.gate_fd;
                pthread_mutex_unlock(&lock);
                p = (struct pollfd) { .fd = fd, .events = POLLIN };
                (void) RESOLVE(poll)(&p, 1, -1);
        }
}

/* ---- the gate in the app's event loop ---- */

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
        int r = 0;

        if ((__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE) && !__atomic_load_n(&st.paused, __ATOMIC_ACQUIRE)) ||
            !st.active || !is_held(fd))
                return RESOLVE(epoll_ctl)(epfd, op, fd, event);
        pthread_mutex_lock(&lock);
        if (!st.paused && !gate_closed_locked()) {
                pthread_mutex_unlock(&lock);
                return RESOLVE(epoll_ctl)(epfd, op, fd, event);
        }
        /* Gated: the app's epoll watches a dup of the gate in the socket's place, with the
         * app's own event data, so the gate opening wakes the app's handler for the
         * socket, whose accept() then puts the socket itself in. */
        Registration *reg = NULL;
        for (unsigned i = 0; i < st.n_registrations; i++)
                if (st.registrations[i].epfd == epfd && st.registrations[i].fd == fd)
                        reg = &st.registrations[i];
        switch (op) {
        case EPOLL_CTL_ADD:
                if (reg) {
                        errno = EEXIST;
                        r = -1;
                } else if (st.n_registrations >= REGISTRATIONS_MAX || !event) {
                        errno = ENOSPC;
                        r = -1;
                } else {
                        struct epoll_event ev = *event;
                        int dup = fcntl(st.paused ? st.pause_fd : st.gate_fd, F_DUPFD_CLOEXEC, 10);

                        if (dup < 0)
                                r = -1;
                        else {
                                ev.events = (event->events & ~(EPOLLOUT | EPOLLEXCLUSIVE)) | EPOLLIN;
                                r = RESOLVE(epoll_ctl)(epfd, EPOLL_CTL_ADD, dup, &ev);
                                if (r < 0)
                                        RESOLVE(close)(dup);
                                else
                                        st.registrations[st.n_registrations++] =
                                                (Registration) { .epfd = epfd, .fd = fd, .gate_dup = dup, .event = *event };
                        }
                }
                break;
        case EPOLL_CTL_MOD:
                if (!reg || !event) {
                        errno = ENOENT;
                        r = -1;
                } else {
                        struct epoll_event ev = *event;
                        ev.events = (event->events & ~(EPOLLOUT | EPOLLEXCLUSIVE)) | EPOLLIN;
                        r = RESOLVE(epoll_ctl)(epfd, EPOLL_CTL_MOD, reg->gate_dup, &ev);
                        if (r >= 0)
                                reg->event = *event;
                }
                break;
        case EPOLL_CTL_DEL:
                if (!reg) {
                        errno = ENOENT;
                        r = -1;
                } else {
                        (void) RESOLVE(epoll_ctl)(epfd, EPOLL_CTL_DEL, reg->gate_dup, NULL);
                        RESOLVE(close)(reg->gate_dup);
                        *reg = st.registrations[--st.n_registrations];
                }
                break;
        default:
                r = RESOLVE(epoll_ctl)(epfd, op, fd, event);
        }
        pthread_mutex_unlock(&lock);
        return r;
}

/* poll() and select() on the held socket wait for the gate before it opens, and on an
 * eventfd nobody writes to while the generation hands over: an app that polls before it
 * accepts (Python's socketserver, Ruby's IO.select) takes no new connection then. */
static bool waits_locked_out(void) {
        return !__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE) || handing_over();
}

static bool locked_out(int fd) {
        if (__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE))
                return handing_over() && is_held(fd);
        return gated(fd);
}

/* Called with the lock held: what poll() and select() watch in the held socket's place,
 * -1 if nothing. */
static int stand_in_locked(void) {
        if (!__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE))
                return st.gate_fd;
        if (st.pause_fd < 0)
                st.pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        return st.pause_fd;
}

/* The gate showed readable in a poll or select: it opened (or the shim went away), or
 * the shim's first message arrived. The call is then made again, as the app made it if
 * the gate opened, so that the app sees the socket readable only when a connection
 * waits: a blocking accept() after a wake-up for nothing would hang its loop (Python's
 * socketserver, for one). */
static void gate_woke(void) {
        pthread_mutex_lock(&lock);
        (void) gate_closed_locked();
        pthread_mutex_unlock(&lock);
}

/* poll() and ppoll() with the gate in the held socket's place. Returns -2 when nothing
 * is gated, -3 when the gate opened and the real call is to be made. */
static int poll_gated(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask, int timeout,
                      bool p) {
        struct pollfd *copy;
        bool any = false;
        int gate, r;

        for (nfds_t i = 0; i < n && !any; i++)
                any = fds[i].fd >= 0 && (fds[i].events & POLLIN) && locked_out(fds[i].fd);
        if (!any)
                return -2;
        pthread_mutex_lock(&lock);
        gate = stand_in_locked();
        pthread_mutex_unlock(&lock);
        if (gate < 0)
                return -2;
        copy = malloc(sizeof *copy * n);
        if (!copy)
                return -2;
        memcpy(copy, fds, sizeof *copy * n);
        for (nfds_t i = 0; i < n; i++)
                if (copy[i].fd >= 0 && is_held(copy[i].fd))
                        copy[i] = (struct pollfd) { .fd = gate, .events = POLLIN };
        r = p ? RESOLVE(ppoll)(copy, n, ts, mask) : RESOLVE(poll)(copy, n, timeout);
        for (nfds_t i = 0; i < n && r > 0; i++)
                if (copy[i].fd == gate && fds[i].fd != gate && copy[i].revents) {
                        free(copy);
                        gate_woke();
                        return -3;
                }
        for (nfds_t i = 0; i < n; i++)
                fds[i].revents = copy[i].revents;
        free(copy);
        return r;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) {
        int r;

        /* -3: the gate said something (the socket it hands out first, or that it
         * opened): look again. */
        while (waits_locked_out() && st.active)
                if ((r = poll_gated(fds, n, NULL, NULL, timeout, false)) != -3) {
                        if (r >= -1)
                                return r;
                        break;
                }
        r = RESOLVE(poll)(fds, n, timeout);
        note_poll(fds, n, r);
        return r;
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask) {
        int r;

        /* -3: the gate said something (the socket it hands out first, or that it
         * opened): look again. */
        while (waits_locked_out() && st.active)
                if ((r = poll_gated(fds, n, ts, mask, 0, true)) != -3) {
                        if (r >= -1)
                                return r;
                        break;
                }
        r = RESOLVE(ppoll)(fds, n, ts, mask);
        note_poll(fds, n, r);
        return r;
}

/* select() and pselect(): the same with fd_set; the sets are put back as the app gave
 * them when the call is to be made again (-3). */
static int select_gated(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv, const struct timespec *ts,
                        const sigset_t *mask, bool p) {
        int held[FD_SETSIZE], n_held = 0, gate, top = nfds, r;
        fd_set rd0, wr0, ex0;

        if (!rd)
                return -2;
        for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
                if (FD_ISSET(fd, rd) && locked_out(fd))
                        held[n_held++] = fd;
        if (n_held == 0)
                return -2;
        pthread_mutex_lock(&lock);
        gate = stand_in_locked();
        pthread_mutex_unlock(&lock);
        if (gate < 0 || gate >= FD_SETSIZE)
                return -2;
        rd0 = *rd;
        if (wr)
                wr0 = *wr;
        if (ex)
                ex0 = *ex;
        for (int i = 0; i < n_held; i++)
                FD_CLR(held[i], rd);
        FD_SET(gate, rd);
        if (gate + 1 > top)
                top = gate + 1;
        r = p ? RESOLVE(pselect)(top, rd, wr, ex, ts, mask) : RESOLVE(select)(top, rd, wr, ex, tv);
        if (r > 0 && FD_ISSET(gate, rd)) {
                *rd = rd0;
                if (wr)
                        *wr = wr0;
                if (ex)
                        *ex = ex0;
                gate_woke();
                return -3;
        }
        return r;
}

EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv) {
        int r;

        /* -3: the gate said something (the socket it hands out first, or that it
         * opened): look again. */
        while (waits_locked_out() && st.active)
                if ((r = select_gated(nfds, rd, wr, ex, tv, NULL, NULL, false)) != -3) {
                        if (r >= -1)
                                return r;
                        break;
                }
        r = RESOLVE(select)(nfds, rd, wr, ex, tv);
        note_select(nfds, rd, r);
        return r;
}

EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts, const sigset_t *mask) {
        int r;

        /* -3: the gate said something (the socket it hands out first, or that it
         * opened): look again. */
        while (waits_locked_out() && st.active)
                if ((r = select_gated(nfds, rd, wr, ex, NULL, ts, mask, true)) != -3) {
                        if (r >= -1)
                                return r;
                        break;
                }
        r = RESOLVE(pselect)(nfds, rd, wr, ex, ts, mask);
        note_select(nfds, rd, r);
        return r;
}
