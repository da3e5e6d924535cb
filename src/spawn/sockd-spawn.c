/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockd-spawn: the ExecStart= of every sockd worker. It takes the listening socket
 * systemd hands it, runs the app on it as fd 3, relays its readiness, and swaps to a
 * new generation of the app on the same socket when asked (ExecReload=, SIGHUP, or
 * sockdctl over the control bus).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "json.h"
#include "listen-spec.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "worker.h"

static WorkerOptions arg_opts = {
        .workers = 1,
        .ready = READY_NOTIFY,
        .ready_timeout = 30 * USEC_PER_SEC,
        .stop_timeout = 30 * USEC_PER_SEC,
        .stop_signal = SIGTERM,
        .backlog = 4096,
        .suspend = SUSPEND_QUEUE,
};
static bool arg_worker_set = false;
static bool arg_reload = false;
static bool arg_quiet = false;
static char *arg_control = NULL;

static void arg_free(void) {
        free(arg_opts.app);
        free(arg_opts.socket_path);
        free(arg_opts.listen);
        free(arg_opts.preload);
        free(arg_opts.ready_message);
        strv_free(arg_opts.environment_files);
        strv_free(arg_opts.argv);
        free(arg_control);
}

static int help(void) {
        printf("%s [OPTIONS...] -- COMMAND [ARGS...]\n"
               "%s --reload [--control=PATH]\n\n"
               "Runs an app on the listening socket passed by systemd (LISTEN_FDS) and swaps\n"
               "it to new generations without closing the socket.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --app=NAME           App name (SOCKD_APP)\n"
               "     --worker=N           Worker index (SOCKD_WORKER)\n"
               "     --workers=N          Number of workers of the app\n"
               "     --ready=PROTOCOL     notify (READY=1 on $NOTIFY_SOCKET), node-ipc, or\n"
               "                          listen (when the app calls listen() on its socket)\n"
               "     --ready-message=JSON With node-ipc: the message that means ready\n"
               "                          (default \"online\")\n"
               "     --ready-timeout=TIME Kill a generation not ready after TIME (30s)\n"
               "     --stop-timeout=TIME  SIGKILL a generation still running TIME after\n"
               "                          it was asked to stop (30s)\n"
               "     --stop-signal=SIGNAL How a generation is asked to stop, unless it is on\n"
               "                          Node IPC (SIGTERM)\n"
               "     --suspend=MODE       hold or queue (suspended restarts)\n"
               "     --socket=PATH        The socket's path (SOCKD_SOCKET)\n"
               "     --listen=ADDRESS     The address the app binds itself (tcp:HOST:PORT,\n"
               "                          unix:PATH, auto): its bind() gets the socket\n"
               "     --backlog=N          The socket's backlog, kept by the app's listen()\n"
               "     --preload=PATH       The preload library (" SOCKD_PRELOAD_PATH ")\n"
               "     --environment-file=PATH\n"
               "                          Fail (and retry with back-off) while PATH does not\n"
               "                          exist: an EnvironmentFile= without '-'\n"
               "     --reload             Ask the running worker to swap to a new generation\n"
               "                          and wait until it serves or has failed\n"
               "     --control=PATH       Control socket for --reload\n"
               "                          (default: $RUNTIME_DIRECTORY/control)\n"
               "  -q --quiet              Say nothing on success\n\n"
               "See the sockd-spawn(8) man page for details.\n",
               program_invocation_short_name, program_invocation_short_name);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_APP,
                ARG_WORKER,
                ARG_WORKERS,
                ARG_READY,
                ARG_READY_MESSAGE,
                ARG_READY_TIMEOUT,
                ARG_STOP_TIMEOUT,
                ARG_STOP_SIGNAL,
                ARG_SUSPEND,
                ARG_SOCKET,
                ARG_LISTEN,
                ARG_BACKLOG,
                ARG_PRELOAD,
                ARG_ENVIRONMENT_FILE,
                ARG_RELOAD,
                ARG_CONTROL,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "app", required_argument, NULL, ARG_APP },
                { "worker", required_argument, NULL, ARG_WORKER },
                { "workers", required_argument, NULL, ARG_WORKERS },
                { "ready", required_argument, NULL, ARG_READY },
                { "ready-message", required_argument, NULL, ARG_READY_MESSAGE },
                { "ready-timeout", required_argument, NULL, ARG_READY_TIMEOUT },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { "stop-signal", required_argument, NULL, ARG_STOP_SIGNAL },
                { "suspend", required_argument, NULL, ARG_SUSPEND },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "backlog", required_argument, NULL, ARG_BACKLOG },
                { "preload", required_argument, NULL, ARG_PRELOAD },
                { "environment-file", required_argument, NULL, ARG_ENVIRONMENT_FILE },
                { "reload", no_argument, NULL, ARG_RELOAD },
                { "control", required_argument, NULL, ARG_CONTROL },
                { "quiet", no_argument, NULL, 'q' },
                {}
        };
        int c, r;

        /* '+': stop at the first non-option, the app's argv is its own. */
        while ((c = getopt_long(argc, argv, "+hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        puts("sockd " SOCKD_VERSION);
                        return 0;
                case ARG_APP:
                        if (!unit_prefix_is_valid(optarg))
                                return log_error_errno(-EINVAL, "--app=: '%s' is not a valid app name.", optarg);
                        free(arg_opts.app);
                        arg_opts.app = strdup(optarg);
                        if (!arg_opts.app)
                                return log_oom();
                        break;
                case ARG_WORKER:
                        r = parse_uint_range(optarg, 0, SOCKD_WORKERS_MAX - 1, &arg_opts.worker);
                        if (r < 0)
                                return log_error_errno(r, "--worker=: expected 0..%u, got '%s'.", SOCKD_WORKERS_MAX - 1, optarg);
                        arg_worker_set = true;
                        break;
                case ARG_WORKERS:
                        r = parse_uint_range(optarg, 1, SOCKD_WORKERS_MAX, &arg_opts.workers);
                        if (r < 0)
                                return log_error_errno(r, "--workers=: expected 1..%u, got '%s'.", SOCKD_WORKERS_MAX, optarg);
                        break;
                case ARG_READY:
                        arg_opts.ready = ready_protocol_from_string(optarg);
                        if (arg_opts.ready < 0)
                                return log_error_errno(-EINVAL, "--ready=: expected 'notify', 'node-ipc' or 'listen', got '%s'.", optarg);
                        break;
                case ARG_READY_MESSAGE:
                        free(arg_opts.ready_message);
                        arg_opts.ready_message = NULL;
                        r = json_canonicalize(optarg, strlen(optarg), &arg_opts.ready_message);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0)
                                return log_error_errno(-EINVAL, "--ready-message=: '%s' is not one JSON value.", optarg);
                        break;
                case ARG_READY_TIMEOUT:
                case ARG_STOP_TIMEOUT:
                        r = parse_duration(optarg, c == ARG_READY_TIMEOUT ? &arg_opts.ready_timeout : &arg_opts.stop_timeout);
                        if (r < 0)
                                return log_error_errno(r, "--%s=: '%s' is not a duration.",
                                                       c == ARG_READY_TIMEOUT ? "ready-timeout" : "stop-timeout", optarg);
                        break;
                case ARG_STOP_SIGNAL:
                        r = parse_stop_signal(optarg, &arg_opts.stop_signal);
                        if (r < 0)
                                return log_error_errno(-EINVAL, "--stop-signal=: '%s' is not a signal an app can be "
                                                       "asked to stop with.", optarg);
                        break;
                case ARG_SUSPEND:
                        arg_opts.suspend = suspend_mode_from_string(optarg);
                        if (arg_opts.suspend < 0)
                                return log_error_errno(-EINVAL, "--suspend=: expected 'hold' or 'queue', got '%s'.", optarg);
                        break;
                case ARG_SOCKET:
                        free(arg_opts.socket_path);
                        arg_opts.socket_path = strdup(optarg);
                        if (!arg_opts.socket_path)
                                return log_oom();
                        break;
                case ARG_LISTEN: {
                        ListenSpec spec;

                        if (listen_spec_parse(optarg, &spec) < 0)
                                return log_error_errno(-EINVAL, "--listen=: '%s' is not tcp:HOST:PORT, unix:PATH or auto.", optarg);
                        free(arg_opts.listen);
                        arg_opts.listen = strdup(optarg);
                        if (!arg_opts.listen)
                                return log_oom();
                        break;
                }
                case ARG_BACKLOG:
                        r = parse_uint_range(optarg, 1, 65535, &arg_opts.backlog);
                        if (r < 0)
                                return log_error_errno(r, "--backlog=: expected 1..65535, got '%s'.", optarg);
                        break;
                case ARG_PRELOAD:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(-EINVAL, "--preload=: '%s' is not an absolute path.", optarg);
                        free(arg_opts.preload);
                        arg_opts.preload = strdup(optarg);
                        if (!arg_opts.preload)
                                return log_oom();
                        break;
                case ARG_ENVIRONMENT_FILE:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(-EINVAL, "--environment-file=: '%s' is not an absolute path.", optarg);
                        if (strv_extend(&arg_opts.environment_files, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_RELOAD:
                        arg_reload = true;
                        break;
                case ARG_CONTROL:
                        free(arg_control);
                        arg_control = strdup(optarg);
                        if (!arg_control)
                                return log_oom();
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option '%c'.", c);
                }

        if (arg_reload) {
                if (optind < argc)
                        return log_error_errno(-EINVAL, "--reload takes no command.");
                return 1;
        }
        if (optind >= argc)
                return log_error_errno(-EINVAL, "No command given: sockd-spawn [OPTIONS...] -- COMMAND [ARGS...]");
        if (argv[optind][0] != '/')
                return log_error_errno(-EINVAL, "The command must be an absolute path, got '%s'.", argv[optind]);
        if (arg_opts.worker >= arg_opts.workers)
                return log_error_errno(-ERANGE,
                                       "Worker %u does not exist: the app has %u worker%s (0..%u). "
                                       "Start only instances that the config's Workers= covers.",
                                       arg_opts.worker, arg_opts.workers, arg_opts.workers == 1 ? "" : "s",
                                       arg_opts.workers - 1);
        for (int i = optind; i < argc; i++)
                if (strv_extend(&arg_opts.argv, argv[i]) < 0)
                        return log_oom();
        if (!arg_opts.app && !(arg_opts.app = strdup("app")))
                return log_oom();
        if (arg_opts.ready_message && arg_opts.ready != READY_NODE_IPC)
                return log_error_errno(-EINVAL, "--ready-message= goes with --ready=node-ipc.");
        if (!arg_opts.ready_message && !(arg_opts.ready_message = strdup("\"online\"")))
                return log_oom();
        if (!arg_opts.preload && !(arg_opts.preload = strdup(SOCKD_PRELOAD_PATH)))
                return log_oom();
        return 1;
}

/* Exactly one listening UNIX stream socket, or a message that says what is wrong. */
static int check_listen_fd(int fd) {
        int domain = 0, type = 0, listening = 0;
        socklen_t l = sizeof(int);

        if (sd_is_socket(fd, AF_UNSPEC, 0, -1) <= 0)
                return log_error_errno(-ENOTSOCK, "The fd passed by systemd (%d) is not a socket.", fd);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &(socklen_t) { sizeof(int) }) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &(socklen_t) { sizeof(int) }) < 0)
                return log_error_errno(negative_errno(), "Failed to inspect fd %d: %m", fd);
        if (domain != AF_UNIX)
                return log_error_errno(-EAFNOSUPPORT,
                                       "The socket passed by systemd is not a UNIX socket (address family %d%s); "
                                       "use ListenStream=/path in the socket unit.",
                                       domain, domain == AF_INET ? ", TCP/IPv4" : domain == AF_INET6 ? ", TCP/IPv6" : "");
        if (type != SOCK_STREAM)
                return log_error_errno(-ESOCKTNOSUPPORT,
                                       "The socket passed by systemd is not a stream socket (%s); use ListenStream=.",
                                       type == SOCK_DGRAM ? "datagram" : type == SOCK_SEQPACKET ? "seqpacket" : "other type");
        if (!listening)
                return log_error_errno(-EINVAL,
                                       "The socket passed by systemd is not listening (Accept=yes hands over "
                                       "connections; sockd needs Accept=no).");
        return 0;
}

static int take_listen_fd(int *ret_fd, char **ret_name) {
        const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
        _cleanup_strv_free_ char **names = NULL;
        int n, r;

        if (!fds)
                return log_error_errno(-ENXIO,
                                       "No socket was passed ($LISTEN_FDS is not set). sockd-spawn runs as the "
                                       "ExecStart= of a sockd worker service; to try an app by hand use "
                                       "'systemd-socket-activate -l PATH %s -- COMMAND'.",
                                       program_invocation_short_name);
        if (!pid)
                return log_error_errno(-ENXIO, "$LISTEN_FDS=%s but $LISTEN_PID is not set: the socket activation "
                                       "protocol needs both (sd_listen_fds(3)).", fds);
        char self[32];
        snprintf(self, sizeof self, "%d", (int) getpid());
        if (!streq(pid, self))
                return log_error_errno(-EPERM, "$LISTEN_PID=%s is not this process (%s): the sockets "
                                       "were meant for another process.", pid, self);

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to take the passed sockets ($LISTEN_FDS=%s): %m", fds);
        if (n == 0)
                return log_error_errno(-ENXIO, "$LISTEN_FDS=%s passes no socket.", fds);
        if (n > 1)
                return log_error_errno(-E2BIG, "Got %d sockets ($LISTEN_FDS=%s), expected exactly one: a "
                                       "sockd worker serves one socket.", n, fds);

        r = check_listen_fd(SD_LISTEN_FDS_START);
        if (r < 0)
                return r;
        *ret_fd = SD_LISTEN_FDS_START;
        *ret_name = strdup(names && names[0] ? names[0] : "unknown");
        return *ret_name ? 0 : log_oom();
}

static int run(int argc, char *argv[]) {
        _cleanup_free_ char *fd_name = NULL;
        Worker *w = NULL;
        int r, fd;

        log_setup("sockd-spawn");

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        if (arg_reload) {
                _cleanup_free_ char *path = NULL;
                const char *rt = getenv("RUNTIME_DIRECTORY");

                if (!arg_control) {
                        if (!rt)
                                return log_error_errno(-ENXIO, "--reload needs --control=PATH or $RUNTIME_DIRECTORY.");
                        /* The worker's own directory is the last (and longest) entry:
                         * "/run/sockd/APP:/run/sockd/APP/N". */
                        if (asprintf(&path, "%s/" WORKER_CONTROL_SOCKET, strrchr(rt, ':') ? strrchr(rt, ':') + 1 : rt) < 0)
                                return log_oom();
                }
                return worker_reload_client(arg_control ?: path, arg_quiet) < 0 ? -EIO : 0;
        }

        log_set_app(arg_opts.app, arg_worker_set ? (int) arg_opts.worker : -1);

        r = take_listen_fd(&fd, &fd_name);
        if (r < 0)
                return r;

        r = worker_new(&arg_opts, fd, fd_name, &w);
        if (r < 0)
                return r;
        r = worker_run(w);
        worker_free(w);
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        arg_free();
        /* > 0: the worker's exit status (the failed app's, so systemd shows it). */
        return r < 0 ? EXIT_FAILURE : r;
}
