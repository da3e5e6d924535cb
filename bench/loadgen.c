/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loadgen: a small HTTP/1.1 load generator for the sockd benchmarks that logs every
 * request, so latency and errors can be cut into windows afterwards (steady state vs.
 * the seconds of a restart). wrk only reports whole-run aggregates.
 *
 *   loadgen [-r RATE] [-R RAMP] [-c CONNS] [-d SECONDS] [-t TIMEOUT] [-n MAXREQ] [-P PIDFILE]
 *           -o OUT HOST:PORT PATH
 *
 * -r RATE > 0: open loop (wrk2-style): a request is due every 1/RATE s; if no keep-alive
 *    connection is free it waits for one (up to -c connections are opened), and its
 *    latency counts from when it was due, so a stall is not hidden (no coordinated
 *    omission).
 * -R SECONDS: with -r, start at 5% of RATE and ramp up linearly over SECONDS (nginx's
 *    upstream keep-alive pool fills the way it does in production, not in one step).
 * -r 0: closed loop: -c connections each send the next request when the last is answered.
 * -n MAXREQ: stop issuing after that many requests (with -r 0 -c N -n N: a burst of N
 *    concurrent requests, one per connection).
 * Requests alternate GET and POST (like tests/apps/mixed.lua): nginx retries a failed
 * GET on another upstream but never a POST, so a reset on the worker side shows.
 *
 * Stops after -d seconds or at SIGINT/SIGTERM, then waits up to TIMEOUT for requests
 * in flight. OUT gets one line per request: "SENT_US LATENCY_US CODE", SENT_US the
 * realtime clock (µs) at which the request was due (open loop) or sent, CODE the HTTP
 * status, or -1 connect failed, -2 connection closed or reset before the full response,
 * -3 no response within TIMEOUT, -4 send failed. A summary goes to stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };
enum { E_CONNECT = -1, E_CLOSED = -2, E_TIMEOUT = -3, E_SEND = -4 };

typedef struct Conn {
        int fd, state;
        int64_t due, sent;
        char out[512];
        size_t out_len, out_off;
        char in[8192];
        size_t in_len;
        bool headers_done, close_after, until_eof;
        int status;
        long body_left;
        bool reused;
        bool in_idle, in_closed; /* listed on the idle / closed stack */
} Conn;

typedef struct Rec {
        int64_t due;
        int32_t lat;
        int32_t code;
} Rec;

static int64_t arg_rate = 0, arg_conns = 32, arg_duration = 10, arg_timeout = 10, arg_max = 0, arg_ramp = 0;
static const char *arg_out, *arg_pidfile, *arg_path;
static struct sockaddr_in arg_addr;
static volatile sig_atomic_t stop_flag;

static Conn *conns;
static int epfd;
static Rec *recs;
static size_t n_recs, cap_recs;
static int64_t *queue; /* due times of requests waiting for a connection */
static size_t q_head, q_len, q_cap;
static uint64_t issued, dropped;
static Conn **idle_stack, **closed_stack;
static size_t n_idle, n_closed;

static void push_idle(Conn *c) {
        if (!c->in_idle) {
                c->in_idle = true;
                idle_stack[n_idle++] = c;
        }
}

static void push_closed(Conn *c) {
        if (!c->in_closed) {
                c->in_closed = true;
                closed_stack[n_closed++] = c;
        }
}

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what) {
        fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void record(int64_t due, int64_t lat, int code) {
        if (n_recs == cap_recs) {
                cap_recs = cap_recs ? cap_recs * 2 : 65536;
                recs = realloc(recs, cap_recs * sizeof(Rec));
                if (!recs)
                        die("realloc");
        }
        recs[n_recs++] = (Rec) { due, (int32_t) (lat > INT32_MAX ? INT32_MAX : lat), code };
}

static void q_push(int64_t due) {
        if (q_len == q_cap) {
                size_t ncap = q_cap ? q_cap * 2 : 4096;
                int64_t *n = malloc(ncap * sizeof(int64_t));
                if (!n)
                        die("malloc");
                for (size_t i = 0; i < q_len; i++)
                        n[i] = queue[(q_head + i) % q_cap];
                free(queue);
                queue = n;
                q_cap = ncap;
                q_head = 0;
        }
        queue[(q_head + q_len++) % q_cap] = due;
}

static int64_t q_pop(void) {
        int64_t v = queue[q_head];
        q_head = (q_head + 1) % q_cap;
        q_len--;
        return v;
}

static void conn_close(Conn *c) {
        if (c->fd >= 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
        }
        c->fd = -1;
        c->state = C_CLOSED;
        push_closed(c);
}

static void conn_fail(Conn *c, int code, int64_t now) {
        if (c->state == C_BUSY || (c->state == C_CONNECTING && c->due))
                record(c->due, now - c->due, code);
        c->due = 0;
        conn_close(c);
}

static void conn_open(Conn *c, int64_t due) {
        struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        int one = 1;

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                die("socket");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->state = C_CONNECTING;
        c->due = due;
        c->reused = false;
        if (connect(c->fd, (struct sockaddr *) &arg_addr, sizeof(arg_addr)) < 0 && errno != EINPROGRESS) {
                conn_fail(c, E_CONNECT, now_us());
                return;
        }
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                die("epoll_ctl");
}

static void conn_send(Conn *c, int64_t due, int64_t now) {
        static uint64_t n;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        ssize_t k;

        n++;
        if (n % 2 == 0) {
                char body[64];
                int bl = snprintf(body, sizeof(body), "payload %llu", (unsigned long long) n);
                c->out_len = (size_t) snprintf(c->out, sizeof(c->out),
                                               "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                                               "Content-Length: %d\r\n\r\n%s", arg_path, bl, body);
        } else
                c->out_len = (size_t) snprintf(c->out, sizeof(c->out), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", arg_path);
        c->out_off = 0;
        c->in_len = 0;
        c->headers_done = c->close_after = c->until_eof = false;
        c->status = 0;
        c->body_left = 0;
        c->due = due;
        c->sent = now;
        c->state = C_BUSY;
        issued++;
        k = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (k < 0 && errno != EAGAIN) {
                conn_fail(c, E_SEND, now);
                return;
        }
        if (k > 0)
                c->out_off = (size_t) k;
        if (c->out_off < c->out_len)
                ev.events |= EPOLLOUT;
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_done(Conn *c, int64_t now) {
        record(c->due, now - c->due, c->status);
        c->due = 0;
        if (c->close_after) {
                conn_close(c);
                return;
        }
        c->state = C_IDLE;
        c->reused = true;
        push_idle(c);
}

/* Parses what arrived; true once the response is complete. */
static bool conn_parse(Conn *c, size_t fresh) {
        if (!c->headers_done) {
                char *end;
                c->in[c->in_len] = 0;
                end = strstr(c->in, "\r\n\r\n");
                if (!end)
                        return false;
                *end = 0;
                c->headers_done = true;
                if (sscanf(c->in, "HTTP/1.%*d %d", &c->status) != 1)
                        c->status = 999;
                c->until_eof = true;
                for (char *l = strstr(c->in, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
                        char *h = l + 2;
                        if (strncasecmp(h, "Content-Length:", 15) == 0) {
                                c->body_left = strtol(h + 15, NULL, 10);
                                c->until_eof = false;
                        } else if (strncasecmp(h, "Connection:", 11) == 0) {
                                char *e = strstr(h, "\r\n");
                                size_t hl = e ? (size_t) (e - h) : strlen(h);
                                if (memmem(h, hl, "close", 5))
                                        c->close_after = true;
                        }
                }
                c->body_left -= (long) (c->in_len - (size_t) (end + 4 - c->in));
                c->in_len = 0;
        } else {
                c->body_left -= (long) fresh;
                c->in_len = 0;
        }
        return !c->until_eof && c->body_left <= 0;
}

static void conn_event(Conn *c, uint32_t events, int64_t now) {
        if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err || (events & (EPOLLERR | EPOLLHUP))) {
                        conn_fail(c, E_CONNECT, now);
                        return;
                }
                c->state = C_IDLE;
                if (c->due) {
                        int64_t due = c->due;
                        c->due = 0;
                        conn_send(c, due, now);
                } else {
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                        push_idle(c);
                }
                return;
        }
        if (c->state == C_IDLE) {
                /* The server closed an idle keep-alive connection: not an error, reconnect later. */
                if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                        conn_close(c);
                return;
        }
        if (c->state != C_BUSY)
                return;
        if ((events & EPOLLOUT) && c->out_off < c->out_len) {
                ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
                if (k < 0 && errno != EAGAIN) {
                        conn_fail(c, E_SEND, now);
                        return;
                }
                if (k > 0)
                        c->out_off += (size_t) k;
                if (c->out_off == c->out_len) {
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
        }
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                        ssize_t k = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
                        if (k < 0) {
                                if (errno == EAGAIN)
                                        return;
                                conn_fail(c, E_CLOSED, now);
                                return;
                        }
                        if (k == 0) {
                                if (c->headers_done && c->until_eof)
                                        conn_done(c, now), conn_close(c);
                                else
                                        conn_fail(c, E_CLOSED, now);
                                return;
                        }
                        c->in_len += (size_t) k;
                        if (conn_parse(c, (size_t) k)) {
                                conn_done(c, now);
                                return;
                        }
                        if (c->in_len >= sizeof(c->in) - 1 && !c->headers_done) {
                                conn_fail(c, E_CLOSED, now); /* headers too long: treat as broken */
                                return;
                        }
                }
        }
}

static void on_signal(int sig) {
        stop_flag = 1;
}

static size_t in_flight(void) {
        size_t n = 0;
        for (int64_t i = 0; i < arg_conns; i++)
                if (conns[i].state == C_BUSY || (conns[i].state == C_CONNECTING && conns[i].due))
                        n++;
        return n;
}

static bool can_issue(void) {
        return !stop_flag && (arg_max == 0 || issued + q_len < (uint64_t) arg_max);
}

/* Hands waiting requests to idle connections, opening new ones as allowed. */
static void dispatch(int64_t now) {
        while (q_len > 0) {
                Conn *c;
                if (n_idle > 0) {
                        c = idle_stack[--n_idle];
                        c->in_idle = false;
                        if (c->state != C_IDLE)
                                continue; /* closed meanwhile */
                        conn_send(c, q_pop(), now);
                } else if (n_closed > 0) {
                        c = closed_stack[--n_closed];
                        c->in_closed = false;
                        if (c->state != C_CLOSED)
                                continue;
                        conn_open(c, q_pop());
                } else
                        break;
        }
}

int main(int argc, char *argv[]) {
        int64_t start, end, next_due, interval = 0, deadline = 0, last_scan = 0;
        struct epoll_event evs[256];
        char *colon;
        int opt;
        uint64_t by_code[8] = {}, ok2xx = 0, non2xx = 0;
        int64_t max_lat = 0;

        while ((opt = getopt(argc, argv, "r:R:c:d:t:n:o:P:")) >= 0)
                switch (opt) {
                case 'R': arg_ramp = atoll(optarg); break;
                case 'r': arg_rate = atoll(optarg); break;
                case 'c': arg_conns = atoll(optarg); break;
                case 'd': arg_duration = atoll(optarg); break;
                case 't': arg_timeout = atoll(optarg); break;
                case 'n': arg_max = atoll(optarg); break;
                case 'o': arg_out = optarg; break;
                case 'P': arg_pidfile = optarg; break;
                default:
                        fprintf(stderr, "usage: loadgen [-r RATE] [-R RAMP] [-c CONNS] [-d SEC] [-t TIMEOUT] [-n MAX] [-P PIDFILE] -o OUT HOST:PORT PATH\n");
                        return 2;
                }
        if (argc - optind != 2 || !arg_out || arg_conns < 1) {
                fprintf(stderr, "loadgen: need -o OUT HOST:PORT PATH\n");
                return 2;
        }
        colon = strrchr(argv[optind], ':');
        if (!colon)
                return fprintf(stderr, "loadgen: HOST:PORT expected\n"), 2;
        *colon = 0;
        arg_addr.sin_family = AF_INET;
        arg_addr.sin_port = htons((uint16_t) atoi(colon + 1));
        if (inet_pton(AF_INET, argv[optind], &arg_addr.sin_addr) != 1)
                return fprintf(stderr, "loadgen: bad IPv4 address\n"), 2;
        arg_path = argv[optind + 1];

        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        if (arg_pidfile) {
                FILE *f = fopen(arg_pidfile, "w");
                if (!f)
                        die("pidfile");
                fprintf(f, "%d\n", (int) getpid());
                fclose(f);
        }

        conns = calloc((size_t) arg_conns, sizeof(Conn));
        idle_stack = calloc((size_t) arg_conns, sizeof(Conn *));
        closed_stack = calloc((size_t) arg_conns, sizeof(Conn *));
        if (!conns || !idle_stack || !closed_stack)
                die("calloc");
        for (int64_t i = arg_conns - 1; i >= 0; i--) {
                conns[i].fd = -1;
                push_closed(&conns[i]);
        }
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0)
                die("epoll_create1");

        start = now_us();
        end = start + arg_duration * 1000000;
        next_due = start;
        if (arg_rate > 0)
                interval = 1000000 / arg_rate;

        for (;;) {
                int64_t now = now_us(), wait_ms = 10;
                int n;

                if (now >= end)
                        stop_flag = 1;
                if (stop_flag && !deadline) {
                        deadline = now + arg_timeout * 1000000;
                        dropped += q_len;
                        q_len = 0;
                }
                /* new requests */
                if (arg_rate > 0) {
                        while (can_issue() && next_due <= now) {
                                q_push(next_due);
                                if (arg_ramp > 0 && next_due - start < arg_ramp * 1000000) {
                                        /* ramp: the rate grows linearly from 5% to RATE */
                                        double f = (double) (next_due - start) / (double) (arg_ramp * 1000000);
                                        next_due += (int64_t) ((double) interval / (f < 0.05 ? 0.05 : f));
                                } else
                                        next_due += interval;
                        }
                        if (!stop_flag) {
                                int64_t w = (next_due - now + 999) / 1000;
                                wait_ms = w < wait_ms ? (w < 0 ? 0 : w) : wait_ms;
                        }
                } else {
                        /* closed loop: one request per connection that has none */
                        int64_t free_conns = arg_conns - (int64_t) in_flight();
                        for (int64_t i = (int64_t) q_len; i < free_conns && can_issue(); i++)
                                q_push(now);
                }
                dispatch(now);

                /* timeouts, and the end: every 50 ms */
                if (stop_flag || now - last_scan >= 50000) {
                        last_scan = now;
                        bool busy = false;
                        for (int64_t i = 0; i < arg_conns; i++) {
                                Conn *c = &conns[i];
                                if (c->state == C_BUSY || (c->state == C_CONNECTING && c->due)) {
                                        if (now - c->due > arg_timeout * 1000000)
                                                conn_fail(c, E_TIMEOUT, now);
                                        else
                                                busy = true;
                                }
                        }
                        if (stop_flag && (!busy || now > deadline))
                                break;
                        if (!stop_flag && !busy && q_len == 0 && arg_max && issued >= (uint64_t) arg_max)
                                break;
                }

                n = epoll_wait(epfd, evs, 256, (int) wait_ms);
                if (n < 0 && errno != EINTR)
                        die("epoll_wait");
                now = now_us();
                for (int i = 0; i < n; i++)
                        conn_event(evs[i].data.ptr, evs[i].events, now);
        }

        {
                FILE *f = fopen(arg_out, "w");
                if (!f)
                        die(arg_out);
                for (size_t i = 0; i < n_recs; i++) {
                        Rec *r = &recs[i];
                        fprintf(f, "%lld %d %d\n", (long long) r->due, r->lat, r->code);
                        if (r->code >= 200 && r->code < 300)
                                ok2xx++;
                        else if (r->code > 0)
                                non2xx++;
                        else
                                by_code[-r->code]++;
                        if (r->lat > max_lat)
                                max_lat = r->lat;
                }
                if (fclose(f) != 0)
                        die(arg_out);
        }
        fprintf(stderr, "loadgen: requests=%zu 2xx=%llu non2xx=%llu connect=%llu closed=%llu timeout=%llu send=%llu "
                        "max_latency_ms=%.1f dropped_at_stop=%llu\n",
                n_recs, (unsigned long long) ok2xx, (unsigned long long) non2xx, (unsigned long long) by_code[1],
                (unsigned long long) by_code[2], (unsigned long long) by_code[3], (unsigned long long) by_code[4],
                max_lat / 1000.0, (unsigned long long) dropped);
        return 0;
}
