/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of libsockd-preload.so share: the real functions, the state sockd-spawn's
 * environment sets up, and the lock that guards it. sockd-preload.c has the set-up,
 * accept(), the Listen= adoption, the retirement and the wrapped path calls;
 * preload-gate.c the readiness gate and the handover's pause, and the app's event loop
 * (epoll_ctl, poll, select) around them. Everything here is hidden (-fvisibility=hidden):
 * the library exports its wrappers only (EXPORT). Each .c file includes this first, so
 * that all agree on _FILE_OFFSET_BITS. */

/* The plain names (stat, not stat64): those are what apps call on 64-bit systems. The
 * 64 variants are wrapped too, in sockd-preload.c. */
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

#define PRELOAD_REAL_FUNCTIONS(X) \
        X(int, close, int) \
        X(long, syscall, long, ...) \
        X(int, bind, int, const struct sockaddr *, socklen_t) \
        X(int, listen, int, int) \
        X(int, accept, int, struct sockaddr *, socklen_t *) \
        X(int, accept4, int, struct sockaddr *, socklen_t *, int) \
        X(int, connect, int, const struct sockaddr *, socklen_t) \
        X(int, getsockname, int, struct sockaddr *, socklen_t *) \
        X(int, getpeername, int, struct sockaddr *, socklen_t *) \
        X(int, setsockopt, int, int, int, const void *, socklen_t) \
        X(int, getsockopt, int, int, int, void *, socklen_t *) \
        X(int, epoll_ctl, int, int, int, struct epoll_event *) \
        X(int, poll, struct pollfd *, nfds_t, int) \
        X(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *) \
        X(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *) \
        X(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *) \
        X(int, chmod, const char *, mode_t) \
        X(int, fchmodat, int, const char *, mode_t, int) \
        X(int, chown, const char *, uid_t, gid_t) \
        X(int, lchown, const char *, uid_t, gid_t) \
        X(int, fchownat, int, const char *, uid_t, gid_t, int) \
        X(int, unlink, const char *) \
        X(int, unlinkat, int, const char *, int) \
        X(int, stat, const char *, struct stat *) \
        X(int, lstat, const char *, struct stat *) \
        X(int, fstatat, int, const char *, struct stat *, int) \
        X(int, access, const char *, int) \
        X(int, stat64, const char *, struct stat64 *) \
        X(int, lstat64, const char *, struct stat64 *) \
        X(int, fstatat64, int, const char *, struct stat64 *, int)

#define DECLARE_REAL(ret, name, ...) extern ret (*real_##name)(__VA_ARGS__);
PRELOAD_REAL_FUNCTIONS(DECLARE_REAL)
#undef DECLARE_REAL

/* dlsym(RTLD_NEXT, @name), or abort() saying which is missing. */
void *preload_real(const char *name);
/* Looked up at first use: other libraries' constructors may call us before ours ran. */
#define RESOLVE(name)                                                   \
        (*({                                                            \
                if (!real_##name)                                       \
                        real_##name = preload_real(#name);              \
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

typedef struct PreloadState {
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
} PreloadState;

extern PreloadState st;
extern pthread_mutex_t lock;

/* sockd-preload.c */
bool is_held(int fd);

/* preload-gate.c */
bool handing_over(void);
extern __thread bool saw_held_readable;
bool pause_locked(int fd);
int held_socket_locked(void);
bool gated(int fd);
void gate_wait(void);
