/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsockd-preload.so: sockd-spawn preloads it into every generation of an app
 * (LD_PRELOAD), and through wrappers (npm -> sh -> node) into every process the app runs.
 * It depends on nothing but libc, and stays off the request path: it never touches
 * read(), write() or the connections' data.
 *
 * It does three things, each only where sockd-spawn asked for it in the environment:
 *
 * - Listen=: the app's bind() of that address gets the worker's systemd-held socket
 *   instead, at the same fd number (dup3()), and the app keeps seeing the world it asked
 *   for: getsockname() returns what it bound, getpeername() on its connections a loopback
 *   peer, TCP-level socket options succeed as no-ops, and chmod/chown/unlink/stat of a
 *   unix socket path it bound work without touching systemd's socket.
 * - The readiness gate: until sockd-spawn says the generation may serve (it is ready,
 *   or its swap committed), the held socket stays out of the app's event loop: epoll,
 *   poll and select see a gate socket in its place, which becomes readable (EOF) when
 *   sockd-spawn opens the gate; a blocking accept() waits for it. So no connection
 *   reaches a generation before it is ready.
 * - Ready=listen: listen() on the held socket says READY=1. And every listen() on it
 *   keeps the larger of the app's backlog and the socket's Backlog=.
 *
 * Environment (set by sockd-spawn): SOCKD_LISTEN_FD (the held socket, 3),
 * SOCKD_SOCKET (its path), SOCKD_BACKLOG, SOCKD_LISTEN (the Listen= address),
 * SOCKD_GATE (the gate's socket path), SOCKD_PRELOAD_NOTIFY (where to report: READY=1,
 * X_SOCKD_ADOPTED=, X_SOCKD_BOUND=), SOCKD_READY_LISTEN=1.
 */
/* The plain names (stat, not stat64): those are what apps call on 64-bit systems. The
 * 64 variants are wrapped too, below. */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen-spec.h"

#define EXPORT __attribute__((visibility("default")))
#define REGISTRATIONS_MAX 64
#define ADDRESSES_MAX 16

/* ---- the real functions ---- */

#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECLARE_REAL(int, close, int);
DECLARE_REAL(long, syscall, long, ...);
DECLARE_REAL(int, bind, int, const struct sockaddr *, socklen_t);
DECLARE_REAL(int, listen, int, int);
DECLARE_REAL(int, accept, int, struct sockaddr *, socklen_t *);
DECLARE_REAL(int, accept4, int, struct sockaddr *, socklen_t *, int);
DECLARE_REAL(int, connect, int, const struct sockaddr *, socklen_t);
DECLARE_REAL(int, getsockname, int, struct sockaddr *, socklen_t *);
DECLARE_REAL(int, getpeername, int, struct sockaddr *, socklen_t *);
DECLARE_REAL(int, setsockopt, int, int, int, const void *, socklen_t);
DECLARE_REAL(int, getsockopt, int, int, int, void *, socklen_t *);
DECLARE_REAL(int, epoll_ctl, int, int, int, struct epoll_event *);
DECLARE_REAL(int, poll, struct pollfd *, nfds_t, int);
DECLARE_REAL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
DECLARE_REAL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
DECLARE_REAL(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
DECLARE_REAL(int, chmod, const char *, mode_t);
DECLARE_REAL(int, fchmodat, int, const char *, mode_t, int);
DECLARE_REAL(int, chown, const char *, uid_t, gid_t);
DECLARE_REAL(int, lchown, const char *, uid_t, gid_t);
DECLARE_REAL(int, fchownat, int, const char *, uid_t, gid_t, int);
DECLARE_REAL(int, unlink, const char *);
DECLARE_REAL(int, unlinkat, int, const char *, int);
DECLARE_REAL(int, stat, const char *, struct stat *);
DECLARE_REAL(int, lstat, const char *, struct stat *);
DECLARE_REAL(int, fstatat, int, const char *, struct stat *, int);
DECLARE_REAL(int, access, const char *, int);
DECLARE_REAL(int, stat64, const char *, struct stat64 *);
DECLARE_REAL(int, lstat64, const char *, struct stat64 *);
DECLARE_REAL(int, fstatat64, int, const char *, struct stat64 *, int);

static void *real(const char *name) {
        void *f = dlsym(RTLD_NEXT, name);

        if (!f) {
                /* Without the real function nothing can go on; say which, then stop. */
                fprintf(stderr, "sockd-preload: %s not found: %s\n", name, dlerror());
                abort();
        }
        return f;
}
/* Looked up at first use: other libraries' constructors may call us before ours ran. */
#define RESOLVE(name)                                                   \
        (*({                                                            \
                if (!real_##name)                                       \
                        real_##name = real(#name);                      \
                &real_##name;                                           \
        }))

/* ---- state ---- */

typedef struct Registration {
        int epfd, fd, gate_dup;
        struct epoll_event event;
} Registration;

typedef struct Address {
        int fd;
        struct sockaddr_storage sa;
        socklen_t len;
} Address;

static struct {
        bool active;     /* sockd-spawn set us up */
        int held_fd;
        dev_t held_dev;
        ino_t held_ino;
        char held_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        int backlog;

        bool have_spec;
        ListenSpec spec;
        bool auto_adopted;      /* Listen=auto took its socket already */
        Address adopted[ADDRESSES_MAX];  /* what the app bound, per fd it bound */
        unsigned n_adopted;
        Address pending[ADDRESSES_MAX];  /* Listen=auto: binds held back until listen() */
        unsigned n_pending;

        bool ready_on_listen;
        bool ready_sent;
        /* SOCKD_RETIRED, mapped: 'h' while a swap has the generation hand over (it
         * takes no new connections), '1' once it retired it (sockd-spawn then keeps the
         * connections the app closes as idle). */
        const volatile char *retired;
        /* Handing over: the app's epoll sets watch a dup of pause_fd, an eventfd nobody
         * writes to, in the held socket's place (registrations, as while gated). */
        bool paused;
        bool pause_tried;
        int pause_fd;
        char *notify_path;

        char *gate_path;
        int gate_fd;
        bool gate_open; /* read without the lock too: once true, it stays true */
        Registration registrations[REGISTRATIONS_MAX];
        unsigned n_registrations;
} st = { .held_fd = -1, .gate_fd = -1, .pause_fd = -1 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Sends @msg to sockd-spawn over the generation's notify socket (it accepts only
 * datagrams from the generation's process group), with @fd attached if >= 0. */
static int notify_send(const char *msg, size_t len, int fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        union {
                struct cmsghdr cmsg;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) msg, .iov_len = len };
        struct msghdr mh = {
                .msg_name = &sa,
                .msg_namelen = sizeof sa,
                .msg_iov = &iov,
                .msg_iovlen = 1,
        };
        int s, r;

        if (!st.notify_path || strlen(st.notify_path) >= sizeof sa.sun_path)
                return -1;
        strcpy(sa.sun_path, st.notify_path);
        if (fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof control;
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        r = sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
        RESOLVE(close)(s);
        return r;
}

/* Tells sockd-spawn something. */
static void report(const char *fmt, ...) {
        char msg[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof msg)
                return; /* a message cut would say something else: none at all */
        (void) notify_send(msg, (size_t) n, -1);
}

/* "DEV:INO", as sockd-spawn writes SOCKD_LISTEN_ID. */
static int parse_id(const char *e, dev_t *dev, ino_t *ino) {
        unsigned long long d, i;
        char *end;

        errno = 0;
        d = strtoull(e, &end, 10);
        if (errno || end == e || *end != ':')
                return -1;
        e = end + 1;
        i = strtoull(e, &end, 10);
        if (errno || end == e || *end)
                return -1;
        *dev = (dev_t) d;
        *ino = (ino_t) i;
        return 0;
}

__attribute__((constructor)) static void preload_init(void) {
        const char *e;
        struct stat s;
        int saved = errno, fd;

        /* Which socket is the worker's: fd 3 where it was inherited, but a wrapper may
         * not pass it on (Node's child_process passes stdio only), and fd 3 may then be
         * anything. Where it is missing, it is fetched from the gate when needed. */
        e = getenv("SOCKD_LISTEN_ID");
        if (!e || parse_id(e, &st.held_dev, &st.held_ino) < 0)
                goto out;
        st.active = true;
        e = getenv("SOCKD_LISTEN_FD");
        fd = e ? atoi(e) : -1;
        if (fd >= 0 && fstat(fd, &s) >= 0 && S_ISSOCK(s.st_mode) && s.st_dev == st.held_dev &&
            s.st_ino == st.held_ino)
                st.held_fd = fd;

        e = getenv("SOCKD_SOCKET");
        if (e && strlen(e) < sizeof st.held_path)
                strcpy(st.held_path, e);
        e = getenv("SOCKD_BACKLOG");
        st.backlog = e ? atoi(e) : 0;
        e = getenv("SOCKD_LISTEN");
        if (e && listen_spec_parse(e, &st.spec) >= 0)
                st.have_spec = true;
        st.ready_on_listen = getenv("SOCKD_READY_LISTEN") != NULL;
        e = getenv("SOCKD_RETIRED");
        if (e) {
                int rfd = open(e, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

                if (rfd >= 0) {
                        void *p = mmap(NULL, 1, PROT_READ, MAP_SHARED, rfd, 0);
                        if (p != MAP_FAILED)
                                st.retired = p;
                        RESOLVE(close)(rfd);
                }
        }
        e = getenv("SOCKD_PRELOAD_NOTIFY");
        st.notify_path = e ? strdup(e) : NULL;
        e = getenv("SOCKD_GATE");
        if (e)
                st.gate_path = strdup(e);
        else
                st.gate_open = true; /* nothing to wait for */
out:
        errno = saved;
}

/* Is @fd the worker's held socket (any dup of it)? */
static bool is_held(int fd) {
        struct stat s;

        return st.active && fd >= 0 && fstat(fd, &s) >= 0 && S_ISSOCK(s.st_mode) && s.st_ino == st.held_ino &&
               s.st_dev == st.held_dev;
}

/* Is @fd a connection accepted from the held socket? Its own address is the socket's
 * path (a UNIX connection knows the address it was accepted on). */
static bool is_held_connection(int fd) {
        struct sockaddr_un un = {};
        socklen_t len = sizeof un;

        if (!st.active || !st.held_path[0] || RESOLVE(getsockname)(fd, (struct sockaddr *) &un, &len) < 0 ||
            un.sun_family != AF_UNIX || len <= (socklen_t) offsetof(struct sockaddr_un, sun_path))
                return false;
        return strncmp(un.sun_path, st.held_path, sizeof un.sun_path) == 0 && !is_held(fd);
}

/* The app asked for TCP: its held socket and connections pretend to be TCP. */
static bool pretend_tcp(void) {
        if (!st.have_spec)
                return false;
        if (st.spec.kind == LISTEN_TCP)
                return true;
        return st.spec.kind == LISTEN_AUTO && st.n_adopted > 0 &&
               (st.adopted[0].sa.ss_family == AF_INET || st.adopted[0].sa.ss_family == AF_INET6);
}

/* What the app bound on @fd, or the first thing it bound. Called with the lock held. */
static const Address *adopted_address(int fd) {
        for (unsigned i = 0; i < st.n_adopted; i++)
                if (st.adopted[i].fd == fd)
                        return &st.adopted[i];
        return st.n_adopted > 0 ? &st.adopted[0] : NULL;
}

static void copy_address(const struct sockaddr_storage *sa, socklen_t len, struct sockaddr *out, socklen_t *out_len) {
        if (!out || !out_len)
                return;
        memcpy(out, sa, *out_len < len ? *out_len : len);
        *out_len = len;
}

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
static bool handing_over(void) {
        return st.retired && (*st.retired == 'h' || *st.retired == '1');
}

/* Set when a poll() or select() of this thread saw the held socket readable, cleared by
 * its next accept(): see accept_common(). */
static __thread bool saw_held_readable;

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
static bool pause_locked(int fd) {
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
static int held_socket_locked(void) {
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
static bool gated(int fd) {
        bool r;

        if (__atomic_load_n(&st.gate_open, __ATOMIC_ACQUIRE) || !is_held(fd))
                return false;
        pthread_mutex_lock(&lock);
        r = gate_closed_locked();
        pthread_mutex_unlock(&lock);
        return r;
}

/* Blocks until the gate opens, for a blocking accept() on the held socket. */
static void gate_wait(void) {
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

/* ---- Listen=: adopting the held socket ---- */

/* Replaces the app's socket @fd by a dup of the held socket, keeping @fd's flags. */
static int adopt(int fd, const struct sockaddr *addr, socklen_t len) {
        int fdflags = fcntl(fd, F_GETFD), flflags = fcntl(fd, F_GETFL), held;
        char where[160];

        if (fdflags < 0 || flflags < 0)
                return -1;
        pthread_mutex_lock(&lock);
        held = held_socket_locked();
        if (held < 0) {
                pthread_mutex_unlock(&lock);
                listen_address_format(addr, len, where, sizeof where);
                fprintf(stderr, "sockd-preload: cannot get the worker's socket for %s: sockd-spawn is gone?\n", where);
                report("X_SOCKD_BOUND=%s", where);
                return RESOLVE(bind)(fd, addr, len);
        }
        if (dup3(held, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
                pthread_mutex_unlock(&lock);
                return -1;
        }
        pthread_mutex_unlock(&lock);
        /* O_NONBLOCK belongs to the socket, which every generation shares: set it only
         * when the app asked for it (all but blocking servers do). */
        if (flflags & O_NONBLOCK)
                (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        pthread_mutex_lock(&lock);
        if (st.n_adopted < ADDRESSES_MAX) {
                Address *a = &st.adopted[st.n_adopted++];
                a->fd = fd;
                a->len = len < (socklen_t) sizeof a->sa ? len : (socklen_t) sizeof a->sa;
                memcpy(&a->sa, addr, a->len);
        }
        pthread_mutex_unlock(&lock);
        listen_address_format(addr, len, where, sizeof where);
        report("X_SOCKD_ADOPTED=%s", where);
        return 0;
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
        int type = 0;
        socklen_t tl = sizeof type;
        char where[160];

        if (!st.active || !st.have_spec || !addr)
                return RESOLVE(bind)(fd, addr, len);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
                return RESOLVE(bind)(fd, addr, len);

        if (st.spec.kind == LISTEN_AUTO) {
                /* Which bound socket will listen is known only at listen(): hold the bind
                 * back until then (or until the socket is used otherwise). */
                if (!st.auto_adopted && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6 ||
                                         addr->sa_family == AF_UNIX)) {
                        pthread_mutex_lock(&lock);
                        if (st.n_pending < ADDRESSES_MAX) {
                                Address *a = &st.pending[st.n_pending++];
                                a->fd = fd;
                                a->len = len < (socklen_t) sizeof a->sa ? len : (socklen_t) sizeof a->sa;
                                memcpy(&a->sa, addr, a->len);
                                pthread_mutex_unlock(&lock);
                                return 0;
                        }
                        pthread_mutex_unlock(&lock);
                }
                return RESOLVE(bind)(fd, addr, len);
        }
        if (listen_spec_matches(&st.spec, addr, len))
                return adopt(fd, addr, len);
        /* Another address: the app's own business; sockd-spawn names it if the right
         * one never comes. */
        listen_address_format(addr, len, where, sizeof where);
        report("X_SOCKD_BOUND=%s", where);
        return RESOLVE(bind)(fd, addr, len);
}

/* Listen=auto: a bind held back for @fd, taken out of the list; false if none. */
static bool take_pending(int fd, Address *ret) {
        bool found = false;

        pthread_mutex_lock(&lock);
        for (unsigned i = 0; i < st.n_pending && !found; i++)
                if (st.pending[i].fd == fd) {
                        *ret = st.pending[i];
                        st.pending[i] = st.pending[--st.n_pending];
                        found = true;
                }
        pthread_mutex_unlock(&lock);
        return found;
}

/* A held-back bind that turned out to be no listener: bind for real now. */
static int bind_pending(int fd) {
        Address a;

        if (st.n_pending == 0 || !take_pending(fd, &a))
                return 0;
        return RESOLVE(bind)(fd, (struct sockaddr *) &a.sa, a.len);
}

EXPORT int listen(int fd, int backlog) {
        Address a;
        int r;

        if (!st.active)
                return RESOLVE(listen)(fd, backlog);
        if (st.n_pending > 0 && take_pending(fd, &a)) {
                bool first;

                pthread_mutex_lock(&lock);
                first = !st.auto_adopted;
                st.auto_adopted = true;
                pthread_mutex_unlock(&lock);
                r = first ? adopt(fd, (struct sockaddr *) &a.sa, a.len) : RESOLVE(bind)(fd, (struct sockaddr *) &a.sa, a.len);
                if (r < 0)
                        return r;
        }
        if (!is_held(fd))
                return RESOLVE(listen)(fd, backlog);
        /* The larger backlog: Node asks for 511, whatever Backlog= says. */
        r = RESOLVE(listen)(fd, backlog > st.backlog ? backlog : st.backlog);
        if (r >= 0 && st.ready_on_listen && !__atomic_exchange_n(&st.ready_sent, true, __ATOMIC_ACQ_REL))
                report("READY=1");
        return r;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
        if (bind_pending(fd) < 0)
                return -1;
        return RESOLVE(connect)(fd, addr, len);
}

/* A loopback peer in the family the app bound: the real client is in nginx's
 * X-Forwarded-For anyway. */
static void fake_peer(int fd, struct sockaddr *addr, socklen_t *len) {
        struct sockaddr_storage ss = {};
        socklen_t n;
        int family;

        pthread_mutex_lock(&lock);
        family = st.n_adopted > 0 ? st.adopted[0].sa.ss_family : AF_INET;
        pthread_mutex_unlock(&lock);
        if (family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
                in6->sin6_family = AF_INET6;
                in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff; /* ::ffff:127.0.0.1 */
                in6->sin6_addr.s6_addr[12] = 127;
                in6->sin6_addr.s6_addr[15] = 1;
                in6->sin6_port = htons((uint16_t) (1024 + fd % 60000));
                n = sizeof *in6;
        } else {
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                in->sin_family = AF_INET;
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                in->sin_port = htons((uint16_t) (1024 + fd % 60000));
                n = sizeof *in;
        }
        copy_address(&ss, n, addr, len);
}

static int accept_common(int fd, struct sockaddr *addr, socklen_t *len, int flags, bool four) {
        socklen_t room = len ? *len : 0; /* the real accept() overwrites it */
        bool held;
        int c;

        if (!st.active)
                return four ? RESOLVE(accept4)(fd, addr, len, flags) : RESOLVE(accept)(fd, addr, len);
        held = is_held(fd);
        if (held && gated(fd)) {
                int fl = fcntl(fd, F_GETFL);

                if (fl >= 0 && (fl & O_NONBLOCK)) {
                        errno = EAGAIN;
                        return -1;
                }
                gate_wait();
        }
        /* Handing over: the new generation takes the new connections. A non-blocking
         * accept() says there is none (an event loop takes the socket out of its epoll
         * sets here, and poll() and select() wait on a stand-in from now on, so none of
         * them spins).
         * A blocking one after a poll() that saw a connection (Python's socketserver,
         * Ruby's IO.select) says the connection was aborted, as accept() does for one
         * gone before it was taken: the app polls again, on the stand-in from now on,
         * and the connection stays for the new generation. Every process that polls the
         * socket wakes for a connection and the new one may have taken it already:
         * waiting here would take the next new one, and keep the app's loop from ever
         * seeing its stop (Python retries an accept() that a signal interrupts). A bare
         * blocking accept() with no poll() before it is left to block. */
        if (held && handing_over()) {
                int fl = fcntl(fd, F_GETFL);

                if (fl >= 0 && (fl & O_NONBLOCK)) {
                        pthread_mutex_lock(&lock);
                        if (!st.pause_tried)
                                (void) pause_locked(fd);
                        pthread_mutex_unlock(&lock);
                        errno = EAGAIN;
                        return -1;
                }
                if (saw_held_readable) {
                        saw_held_readable = false;
                        errno = ECONNABORTED;
                        return -1;
                }
        }
        if (held)
                saw_held_readable = false;
        c = four ? RESOLVE(accept4)(fd, addr, len, flags) : RESOLVE(accept)(fd, addr, len);
        if (c >= 0 && held && pretend_tcp() && addr && len) {
                *len = room;
                fake_peer(c, addr, len);
        }
        return c;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) {
        return accept_common(fd, addr, len, 0, false);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
        return accept_common(fd, addr, len, flags, true);
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
        Address a;
        const Address *found;

        if (st.active && st.n_pending > 0) {
                pthread_mutex_lock(&lock);
                for (unsigned i = 0; i < st.n_pending; i++)
                        if (st.pending[i].fd == fd) {
                                a = st.pending[i];
                                pthread_mutex_unlock(&lock);
                                copy_address(&a.sa, a.len, addr, len);
                                return 0;
                        }
                pthread_mutex_unlock(&lock);
        }
        if (st.active && st.n_adopted > 0 && (is_held(fd) || is_held_connection(fd))) {
                pthread_mutex_lock(&lock);
                found = adopted_address(fd);
                if (found)
                        a = *found;
                pthread_mutex_unlock(&lock);
                if (found) {
                        copy_address(&a.sa, a.len, addr, len);
                        return 0;
                }
        }
        return RESOLVE(getsockname)(fd, addr, len);
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len) {
        if (pretend_tcp() && st.n_adopted > 0 && is_held_connection(fd)) {
                fake_peer(fd, addr, len);
                return 0;
        }
        return RESOLVE(getpeername)(fd, addr, len);
}

static bool tcp_level(int level) {
        return level == IPPROTO_TCP || level == IPPROTO_IP || level == IPPROTO_IPV6;
}

EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
        /* TCP_NODELAY, keep-alive timings, IPV6_V6ONLY...: meaningless on the UNIX socket
         * the app got, and fatal to it if they failed. */
        if (tcp_level(level) && pretend_tcp() && (is_held(fd) || is_held_connection(fd)))
                return 0;
        return RESOLVE(setsockopt)(fd, level, name, value, len);
}

EXPORT int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
        if (tcp_level(level) && pretend_tcp() && value && len && *len >= (socklen_t) sizeof(int) &&
            (is_held(fd) || is_held_connection(fd))) {
                *(int *) value = 0;
                *len = sizeof(int);
                return 0;
        }
        return RESOLVE(getsockopt)(fd, level, name, value, len);
}

/* ---- retired: connections the app closes while nginx may still reuse them ---- */

/* An app that stops closes the keep-alive connections it thinks idle (Node >= 19's
 * server.close(), uvicorn, Puma), and nginx may be sending the next request on one of
 * them right then, or send it once it has read the last answer: that request meets a
 * reset or a broken pipe, and nginx never retries a POST. So once sockd-spawn retired
 * the generation (a swap: a newer one serves), a connection from the worker's socket
 * that the app closes is handed to sockd-spawn instead, which keeps it open and relays
 * what comes on it to the generation that serves now (src/spawn/worker-relay.c). */
static bool hand_over(int fd) {
        static const char msg[] = "X_SOCKD_PARK=1";

        return is_held_connection(fd) && notify_send(msg, sizeof msg - 1, fd) >= 0;
}

EXPORT int close(int fd) {
        if (st.retired && *st.retired == '1' && fd >= 0)
                (void) hand_over(fd);
        return RESOLVE(close)(fd);
}

/* libuv (Node) closes with syscall(SYS_close, fd), bypassing close(). */
EXPORT long syscall(long number, ...) {
        long a[6];
        va_list ap;

        /* As glibc's own syscall() does: six arguments, whatever the call takes. */
        va_start(ap, number);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (number == SYS_close && st.retired)
                return close((int) a[0]);
        return RESOLVE(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
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

/* ---- the unix socket path the app bound ---- */

/* Is @path (relative to @dirfd) the unix path the app bound and got the held socket
 * for? Then it does not exist: systemd's socket is elsewhere. */
static bool adopted_path(int dirfd, const char *path) {
        if (!st.active || !st.have_spec || st.spec.kind != LISTEN_UNIX || st.n_adopted == 0 || !path)
                return false;
        if (path[0] != '/' && dirfd != AT_FDCWD)
                return false;
        if (path[0] == '/')
                return strcmp(path, st.spec.path) == 0;
        {
                char cwd[4096];
                size_t n;

                if (!getcwd(cwd, sizeof cwd))
                        return false;
                n = strlen(cwd);
                return strncmp(st.spec.path, cwd, n) == 0 && st.spec.path[n] == '/' &&
                       strcmp(st.spec.path + n + 1, path) == 0;
        }
}

/* chmod, chown, unlink of it: done, as far as the app can tell; systemd's socket keeps
 * its owner and mode (SocketUser=, SocketMode=) and stays bound. */
EXPORT int chmod(const char *path, mode_t mode) {
        return adopted_path(AT_FDCWD, path) ? 0 : RESOLVE(chmod)(path, mode);
}

EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags) {
        return adopted_path(dirfd, path) ? 0 : RESOLVE(fchmodat)(dirfd, path, mode, flags);
}

EXPORT int chown(const char *path, uid_t uid, gid_t gid) {
        return adopted_path(AT_FDCWD, path) ? 0 : RESOLVE(chown)(path, uid, gid);
}

EXPORT int lchown(const char *path, uid_t uid, gid_t gid) {
        return adopted_path(AT_FDCWD, path) ? 0 : RESOLVE(lchown)(path, uid, gid);
}

EXPORT int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags) {
        return adopted_path(dirfd, path) ? 0 : RESOLVE(fchownat)(dirfd, path, uid, gid, flags);
}

EXPORT int unlink(const char *path) {
        return adopted_path(AT_FDCWD, path) ? 0 : RESOLVE(unlink)(path);
}

EXPORT int unlinkat(int dirfd, const char *path, int flags) {
        return adopted_path(dirfd, path) ? 0 : RESOLVE(unlinkat)(dirfd, path, flags);
}

/* stat of it: the held socket's. */
EXPORT int stat(const char *path, struct stat *s) {
        return RESOLVE(stat)(adopted_path(AT_FDCWD, path) && st.held_path[0] ? st.held_path : path, s);
}

EXPORT int lstat(const char *path, struct stat *s) {
        return RESOLVE(lstat)(adopted_path(AT_FDCWD, path) && st.held_path[0] ? st.held_path : path, s);
}

EXPORT int fstatat(int dirfd, const char *path, struct stat *s, int flags) {
        if (adopted_path(dirfd, path) && st.held_path[0])
                return RESOLVE(fstatat)(AT_FDCWD, st.held_path, s, flags);
        return RESOLVE(fstatat)(dirfd, path, s, flags);
}

EXPORT int stat64(const char *path, struct stat64 *s) {
        return RESOLVE(stat64)(adopted_path(AT_FDCWD, path) && st.held_path[0] ? st.held_path : path, s);
}

EXPORT int lstat64(const char *path, struct stat64 *s) {
        return RESOLVE(lstat64)(adopted_path(AT_FDCWD, path) && st.held_path[0] ? st.held_path : path, s);
}

EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *s, int flags) {
        if (adopted_path(dirfd, path) && st.held_path[0])
                return RESOLVE(fstatat64)(AT_FDCWD, st.held_path, s, flags);
        return RESOLVE(fstatat64)(dirfd, path, s, flags);
}

EXPORT int access(const char *path, int mode) {
        return RESOLVE(access)(adopted_path(AT_FDCWD, path) && st.held_path[0] ? st.held_path : path, mode);
}
