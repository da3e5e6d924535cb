/* SPDX-License-Identifier: MIT-0 */
/*
 * A sockd app in C with libsystemd (Ready=notify): a tiny HTTP/1.1 server on the
 * socket sockd-spawn passes as fd 3, in one poll() loop.
 *
 * - READY=1 once it serves (sd_notify);
 * - SIGTERM: drain. Stop accepting (the next generation accepts on the same socket),
 *   answer requests still arriving on open connections with "Connection: close", leave
 *   idle keep-alive connections for nginx to close, exit when none is left;
 * - started held (SOCKD_SUSPENDED=1, Suspend=hold): accept and read requests, answer
 *   them only after SIGUSR2 (sockdctl resume).
 *
 * Build: cc -o app app.c $(pkg-config --cflags --libs libsystemd)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define MAX_CONNECTIONS 1024
#define REQUEST_MAX 65536

typedef struct Connection {
        int fd;
        char *buf;
        size_t len;
} Connection;

static Connection conns[MAX_CONNECTIONS];
static size_t n_conns;
static bool draining, held;
static char ident[256];

static void conn_close(size_t i) {
        close(conns[i].fd);
        free(conns[i].buf);
        conns[i] = conns[--n_conns];
}

/* Answers every complete request in the buffer. Returns false to close. */
static bool conn_serve(Connection *c) {
        for (;;) {
                char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl, body[512], head[256];
                size_t header_len, content_length = 0, total;
                struct timeval tv;
                int bn, hn;

                if (!end)
                        return c->len < REQUEST_MAX; /* wait for the rest, within reason */
                header_len = (size_t) (end - c->buf) + 4;
                cl = memmem(c->buf, header_len, "Content-Length:", 15);
                if (!cl)
                        cl = memmem(c->buf, header_len, "content-length:", 15);
                if (cl)
                        content_length = strtoul(cl + 15, NULL, 10);
                total = header_len + content_length;
                if (c->len < total)
                        return total < REQUEST_MAX;

                gettimeofday(&tv, NULL);
                bn = snprintf(body, sizeof body, "%s served=%ld.%06ld\n", ident, (long) tv.tv_sec, (long) tv.tv_usec);
                hn = snprintf(head, sizeof head,
                              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n", bn,
                              draining ? "Connection: close\r\n" : "");
                if (write(c->fd, head, hn) != hn || write(c->fd, body, bn) != bn)
                        return false;
                memmove(c->buf, c->buf + total, c->len - total);
                c->len -= total;
                if (draining)
                        return false; /* said Connection: close */
        }
}

int main(void) {
        struct pollfd pfds[MAX_CONNECTIONS + 2];
        const char *suspended = getenv("SOCKD_SUSPENDED");
        sigset_t mask;
        int sfd, listen_fd = SD_LISTEN_FDS_START;

        if (sd_listen_fds(0) != 1) {
                fprintf(stderr, "app: expected exactly one socket on fd 3 (run it under sockd-spawn)\n");
                return 1;
        }
        snprintf(ident, sizeof ident, "app=%s worker=%s generation=%s pid=%d", getenv("SOCKD_APP") ?: "?",
                 getenv("SOCKD_WORKER") ?: "?", getenv("SOCKD_GENERATION") ?: "?", (int) getpid());
        held = suspended && strcmp(suspended, "1") == 0;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGUSR2);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        fcntl(listen_fd, F_SETFL, O_NONBLOCK);
        fcntl(listen_fd, F_SETFD, FD_CLOEXEC);

        sd_notify(0, "READY=1\nSTATUS=serving");
        printf("app: %s ready%s\n", ident, held ? ", holding requests" : "");
        fflush(stdout);

        while (!draining || n_conns > 0) {
                size_t n = 0;

                pfds[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
                pfds[n++] = (struct pollfd) { .fd = draining ? -1 : listen_fd, .events = POLLIN };
                for (size_t i = 0; i < n_conns; i++)
                        pfds[n++] = (struct pollfd) { .fd = conns[i].fd, .events = POLLIN };
                if (poll(pfds, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }

                if (pfds[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof si) == sizeof si) {
                                if (si.ssi_signo == SIGTERM && !draining) {
                                        draining = true;
                                        sd_notify(0, "STOPPING=1");
                                        printf("app: %s draining\n", ident);
                                        fflush(stdout);
                                } else if (si.ssi_signo == SIGUSR2)
                                        held = false;
                        }
                }
                if (!draining && (pfds[1].revents & POLLIN))
                        for (;;) {
                                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                                if (fd < 0)
                                        break;
                                if (n_conns == MAX_CONNECTIONS) {
                                        close(fd);
                                        continue;
                                }
                                conns[n_conns++] = (Connection) { .fd = fd };
                        }

                /* Walk backwards: conn_close() moves the last one into the gap. */
                for (size_t i = n_conns; i-- > 0;) {
                        Connection *c = &conns[i];
                        bool readable = false;
                        char chunk[4096];
                        ssize_t r;

                        for (size_t k = 2; k < n; k++)
                                if (pfds[k].fd == c->fd && pfds[k].revents)
                                        readable = true;
                        if (readable) {
                                r = read(c->fd, chunk, sizeof chunk);
                                if (r <= 0) {
                                        conn_close(i);
                                        continue;
                                }
                                char *nb = realloc(c->buf, c->len + r);
                                if (!nb) {
                                        conn_close(i);
                                        continue;
                                }
                                c->buf = nb;
                                memcpy(c->buf + c->len, chunk, r);
                                c->len += r;
                        }
                        if (!held && c->len > 0 && !conn_serve(c))
                                conn_close(i);
                }
        }
        printf("app: %s drained, exiting\n", ident);
        return 0;
}
