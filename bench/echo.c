/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * echo: the line echo test of the sockd benchmarks, and an instantly ready sockd app.
 *
 *   echo server (--unix PATH | --tcp PORT | --fd)
 *       One thread per connection writes back whatever it reads. --fd takes the
 *       listening socket as fd 3 (systemd socket activation, as under sockd-spawn) and
 *       sends READY=1 to $NOTIFY_SOCKET once it accepts. SIGTERM: exit at once.
 *   echo client (--unix PATH | --tcp PORT) [--lines N] [--clients C]
 *       C clients at once each send the same text of N lines (40..119 bytes), one line
 *       at a time, and read each line back before sending the next; checks every byte.
 *       Prints "lines=... clients=... bytes=... seconds=... lines_per_s=...".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *arg_unix;
static int arg_tcp = -1;
static bool arg_fd;
static long arg_lines = 20000, arg_clients = 1;

static char *text;
static size_t *line_off;
static pthread_barrier_t barrier;

static void die(const char *what) {
        fprintf(stderr, "echo: %s: %s\n", what, strerror(errno));
        exit(1);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void *serve(void *p) {
        int fd = (int) (long) p;
        char buf[65536];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf)), off = 0;
                if (n <= 0)
                        break;
                while (off < n) {
                        ssize_t k = write(fd, buf + off, (size_t) (n - off));
                        if (k <= 0)
                                goto out;
                        off += k;
                }
        }
out:
        close(fd);
        return NULL;
}

static void notify_ready(void) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len;
        int fd;

        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
                return;
        strcpy(sa.sun_path, path);
        if (path[0] == '@')
                sa.sun_path[0] = 0;
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket");
        if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
                die("sendto NOTIFY_SOCKET");
        close(fd);
}

static int server(void) {
        int lfd;
        pthread_attr_t attr;

        if (arg_fd) {
                const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
                if (!fds || atoi(fds) < 1 || !pid || atoi(pid) != getpid()) {
                        fprintf(stderr, "echo: --fd: no socket passed (LISTEN_FDS/LISTEN_PID)\n");
                        return 1;
                }
                lfd = 3;
        } else if (arg_unix) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                strncpy(sa.sun_path, arg_unix, sizeof(sa.sun_path) - 1);
                unlink(arg_unix);
                lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
                        die(arg_unix);
        } else {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) arg_tcp) };
                int one = 1;
                sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (lfd < 0)
                        die("socket");
                setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
                        die("bind/listen tcp");
        }
        signal(SIGPIPE, SIG_IGN);
        notify_ready();
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        for (;;) {
                pthread_t t;
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        die("accept");
                }
                if (!arg_unix && !arg_fd) {
                        int one = 1;
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                }
                if (pthread_create(&t, &attr, serve, (void *) (long) fd) != 0) {
                        close(fd);
                        continue;
                }
        }
}

static int client_connect(void) {
        int fd;
        if (arg_unix) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                strncpy(sa.sun_path, arg_unix, sizeof(sa.sun_path) - 1);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        die(arg_unix);
        } else {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) arg_tcp) };
                int one = 1;
                sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        die("connect tcp");
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        return fd;
}

static void *client(void *p) {
        int fd = client_connect();
        char buf[256];

        pthread_barrier_wait(&barrier);
        for (long i = 0; i < arg_lines; i++) {
                const char *line = text + line_off[i];
                size_t len = line_off[i + 1] - line_off[i], got = 0, off = 0;
                while (off < len) {
                        ssize_t k = write(fd, line + off, len - off);
                        if (k <= 0)
                                die("client write");
                        off += (size_t) k;
                }
                while (got < len) {
                        ssize_t k = read(fd, buf + got, len - got);
                        if (k <= 0)
                                die("client read");
                        got += (size_t) k;
                }
                if (memcmp(buf, line, len) != 0) {
                        fprintf(stderr, "echo: line %ld came back different\n", i);
                        exit(1);
                }
        }
        close(fd);
        return NULL;
}

static int client_main(void) {
        pthread_t *t = calloc((size_t) arg_clients, sizeof(pthread_t));
        size_t off = 0;
        double t0, t1;

        /* The "large text": N lines of 40..119 printable bytes, the same every run. */
        text = malloc((size_t) arg_lines * 120);
        line_off = malloc(((size_t) arg_lines + 1) * sizeof(size_t));
        if (!t || !text || !line_off)
                die("malloc");
        for (long i = 0; i < arg_lines; i++) {
                size_t len = 40 + (size_t) ((i * 7919) % 80);
                line_off[i] = off;
                for (size_t j = 0; j + 1 < len; j++)
                        text[off + j] = (char) ('a' + (i + j) % 26);
                text[off + len - 1] = '\n';
                off += len;
        }
        line_off[arg_lines] = off;

        pthread_barrier_init(&barrier, NULL, (unsigned) arg_clients + 1);
        for (long i = 0; i < arg_clients; i++)
                if (pthread_create(&t[i], NULL, client, NULL) != 0)
                        die("pthread_create");
        pthread_barrier_wait(&barrier);
        t0 = now_s();
        for (long i = 0; i < arg_clients; i++)
                pthread_join(t[i], NULL);
        t1 = now_s();
        printf("lines=%ld clients=%ld bytes=%zu seconds=%.4f lines_per_s=%.0f\n", arg_lines, arg_clients,
               off * (size_t) arg_clients, t1 - t0, (double) (arg_lines * arg_clients) / (t1 - t0));
        return 0;
}

int main(int argc, char *argv[]) {
        bool is_server;

        if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
                fprintf(stderr, "usage: echo server|client (--unix PATH | --tcp PORT | --fd) [--lines N] [--clients C]\n");
                return 2;
        }
        is_server = !strcmp(argv[1], "server");
        for (int i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--unix") && i + 1 < argc)
                        arg_unix = argv[++i];
                else if (!strcmp(argv[i], "--tcp") && i + 1 < argc)
                        arg_tcp = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--fd"))
                        arg_fd = true;
                else if (!strcmp(argv[i], "--lines") && i + 1 < argc)
                        arg_lines = atol(argv[++i]);
                else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
                        arg_clients = atol(argv[++i]);
                else {
                        fprintf(stderr, "echo: unknown argument '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (!arg_unix && arg_tcp < 0 && !(is_server && arg_fd)) {
                fprintf(stderr, "echo: need --unix PATH, --tcp PORT or (server) --fd\n");
                return 2;
        }
        if (arg_lines < 1 || arg_clients < 1)
                return fprintf(stderr, "echo: --lines and --clients must be >= 1\n"), 2;
        return is_server ? server() : client_main();
}
