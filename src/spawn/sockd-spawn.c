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

static WorkerCommandLine arg_cl = {};
static int help(void) {
        printf("%s [OPTIONS...] -- COMMAND [ARGS...]\n"
               "%s --reload [--control=PATH] [OPTIONS... -- COMMAND [ARGS...]]\n\n"
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
               "     --handover=TIME      After a swap, the old generation keeps serving the\n"
               "                          connections it has for TIME beside the new one\n"
               "                          before it is asked to stop (1s)\n"
               "     --standby            Keep a booted spare generation that takes over at\n"
               "                          once when the serving one dies (needs the preload)\n"
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
               "                          and wait until it serves or has failed; with a\n"
               "                          command, the new generation runs that command line\n"
               "                          in this process's environment and directory\n"
               "     --control=PATH       Control socket for --reload\n"
               "                          (default: $RUNTIME_DIRECTORY/control)\n"
               "  -q --quiet              Say nothing on success\n\n"
               "See the sockd-spawn(8) man page for details.\n",
               program_invocation_short_name, program_invocation_short_name);
        return 0;
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
        WorkerCommandLine first = {};
        Worker *w = NULL;
        int r, fd;

        log_setup("sockd-spawn");

        r = worker_command_line_parse(argc, argv, &arg_cl);
        if (r < 0)
                return r;
        if (arg_cl.help)
                return help();
        if (arg_cl.version) {
                puts("sockd " SOCKD_VERSION);
                return 0;
        }

        if (arg_cl.reload) {
                _cleanup_free_ char *path = NULL;
                const char *rt = getenv("RUNTIME_DIRECTORY");

                if (!arg_cl.control) {
                        if (!rt)
                                return log_error_errno(-ENXIO, "--reload needs --control=PATH or $RUNTIME_DIRECTORY.");
                        /* The worker's own directory is the last (and longest) entry:
                         * "/run/sockd/APP:/run/sockd/APP/N". */
                        if (asprintf(&path, "%s/" WORKER_CONTROL_SOCKET, strrchr(rt, ':') ? strrchr(rt, ':') + 1 : rt) < 0)
                                return log_oom();
                }
                return worker_reload_client(arg_cl.control ?: path, argc, argv, &arg_cl) < 0 ? -EIO : 0;
        }

        log_set_app(arg_cl.opts.app, arg_cl.worker_set ? (int) arg_cl.opts.worker : -1);

        r = take_listen_fd(&fd, &fd_name);
        if (r < 0)
                return r;

        r = worker_new(&arg_cl.opts, fd, fd_name, &w);
        if (r < 0)
                return r;
        /* The first generation's settings come from this command line, as every later
         * one's comes from the ExecReload= client's: parsed the same way. */
        r = worker_command_line_parse(argc, argv, &first);
        if (r >= 0)
                r = worker_run(w, &first);
        worker_command_line_done(&first);
        worker_free(w);
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        worker_command_line_done(&arg_cl);
        /* > 0: the worker's exit status (the failed app's, so systemd shows it). */
        return r < 0 ? EXIT_FAILURE : r;
}
