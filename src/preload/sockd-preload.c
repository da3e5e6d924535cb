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
#include "preload.h"

/* ---- the real functions ---- */

#define DEFINE_REAL(ret, name, ...) ret (*real_##name)(__VA_ARGS__);
PRELOAD_REAL_FUNCTIONS(DEFINE_REAL)
#undef DEFINE_REAL

void *preload_real(const char *name) {
        void *f = dlsym(RTLD_NEXT, name);

        if (!f) {
                /* Without the real function nothing can go on; say which, then stop. */
                fprintf(stderr, "sockd-preload: %s not found: %s\n", name, dlerror());
                abort();
        }
        return f;
}

/* ---- state ---- */

PreloadState st = { .held_fd = -1, .gate_fd = -1, .pause_fd = -1 };
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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
bool is_held(int fd) {
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
