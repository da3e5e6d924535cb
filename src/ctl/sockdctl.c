/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockdctl: status, start/stop, zero-downtime all-or-nothing restarts and suspended
 * restarts of sockd apps, over D-Bus to systemd.
 *
 * The shims are steered through systemd's own channel: KillUnit(worker, "main", signal)
 * carries the request (prepare, commit, abort, suspend, resume) and the unit's
 * StatusText carries the answer. So sockdctl works wherever systemctl does: --user,
 * -H over ssh, -M into a container, with no socket of its own to reach.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"

#define SYSTEMD_VERSION_MIN 245

bool arg_user = false;
BusTransport arg_transport = BUS_TRANSPORT_LOCAL;
const char *arg_host = NULL;
bool arg_json = false;
bool arg_quiet = false;
bool arg_suspended = false;
bool arg_dry_run = false;
usec_t arg_timeout = 5 * 60 * USEC_PER_SEC;

volatile sig_atomic_t interrupted = 0;

static int connect_bus(sd_bus **ret) {
        _cleanup_free_ char *version = NULL;
        sd_bus *bus = NULL;
        int r;

        r = bus_connect_transport(arg_transport, arg_host, arg_user, &bus);
        if (r == -EOPNOTSUPP)
                return log_error_errno(r, "--user cannot be combined with -H or -M.");
        if (r < 0) {
                const char *hint = bus_error_hint(NULL, r);
                return log_error_errno(r, "Failed to connect to %s%s%s: %s", arg_user ? "the user manager" : "systemd",
                                       arg_host ? " on " : "", strempty(arg_host), hint ?: strerror(-r));
        }
        r = sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "Version", NULL, &version);
        if (r < 0) {
                sd_bus_flush_close_unref(bus);
                return log_error_errno(r, "Failed to talk to systemd%s%s: %s", arg_host ? " on " : "", strempty(arg_host),
                                       bus_error_hint(NULL, r) ?: strerror(-r));
        }
        if (atoi(version) > 0 && atoi(version) < SYSTEMD_VERSION_MIN) {
                sd_bus_flush_close_unref(bus);
                log_error("systemd %s is too old: sockd needs systemd %d or newer.", version, SYSTEMD_VERSION_MIN);
                return -EPROTONOSUPPORT;
        }
        *ret = bus;
        return 0;
}

/* ---- main ---- */

static const struct {
        const char *verb;
        unsigned min_args, max_args;
        int (*fn)(sd_bus *bus, char **args);
} verbs[] = {
        { "list", 0, 0, verb_list },
        { "status", 0, 1, verb_status },
        { "start", 1, 1, verb_start },
        { "stop", 1, 1, verb_stop },
        { "restart", 1, 1, verb_restart },
        { "resume", 1, 1, verb_resume },
        { "nginx", 1, 1, verb_nginx },
};

static int help(void) {
        printf("%s [OPTIONS...] COMMAND [APP]\n\n"
               "Control sockd apps: workers behind nginx on systemd-owned UNIX sockets.\n\n"
               "Commands:\n"
               "  list                     Configured apps: workers, sockets, config file\n"
               "  status [APP]             One row per worker: state, generation, pid, since,\n"
               "                           restarts, memory, socket\n"
               "  start APP                Start all workers (sockets and services)\n"
               "  stop APP                 Stop all workers\n"
               "  restart APP              Zero-downtime, all-or-nothing: new generations\n"
               "                           beside the old ones, switch only when all are ready;\n"
               "                           they run the config as it is on disk now\n"
               "  restart --dry-run APP    Print what a restart would change per worker\n"
               "  restart --suspended APP  Stop the old generations and hold requests (for a\n"
               "                           database migration) until 'resume'\n"
               "  resume APP               Release held requests to the new generation\n"
               "  nginx APP                Print an nginx upstream for the app's sockets\n\n"
               "Options:\n"
               "  -h --help                Show this help\n"
               "     --version             Show the version\n"
               "     --user                Talk to the user's service manager\n"
               "  -H --host=[USER@]HOST    Operate on a remote host (over ssh)\n"
               "  -M --machine=CONTAINER   Operate on a local container\n"
               "     --json                JSON output (list, status)\n"
               "  -q --quiet               Print nothing but errors\n"
               "     --suspended           With restart: a suspended restart\n"
               "  -n --dry-run             With restart: print what would change, change nothing\n"
               "     --timeout=SECONDS     Give up after this long (default 300)\n\n"
               "Exit status: 0 success, 1 the operation failed, 2 usage or configuration error.\n"
               "See the sockdctl(1) man page for details.\n",
               program_invocation_short_name);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_JSON, ARG_SUSPENDED, ARG_TIMEOUT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "user", no_argument, NULL, ARG_USER },
                { "host", required_argument, NULL, 'H' },
                { "machine", required_argument, NULL, 'M' },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "suspended", no_argument, NULL, ARG_SUSPENDED },
                { "dry-run", no_argument, NULL, 'n' },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "hH:M:qn", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        puts("sockd " SOCKD_VERSION);
                        return 0;
                case ARG_USER:
                        arg_user = true;
                        break;
                case 'H':
                        arg_transport = BUS_TRANSPORT_REMOTE;
                        arg_host = optarg;
                        break;
                case 'M':
                        arg_transport = BUS_TRANSPORT_MACHINE;
                        arg_host = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_SUSPENDED:
                        arg_suspended = true;
                        break;
                case 'n':
                        arg_dry_run = true;
                        break;
                case ARG_TIMEOUT:
                        r = parse_duration(optarg, &arg_timeout);
                        if (r < 0 || arg_timeout == 0)
                                return log_error_errno(-EINVAL, "--timeout: '%s' is not a positive duration.", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option '%c'.", c);
                }
        return 1;
}

static void on_interrupt(int sig) {
        interrupted = 1;
}

/* Exit codes: 2 for what the user must fix in the command line or the config, 1 for an
 * operation that failed. */
static int run(int argc, char *argv[], int *ret_exit) {
        sd_bus *bus = NULL;
        const char *verb;
        unsigned nargs;
        int r;

        log_setup("sockdctl");
        *ret_exit = EXIT_USAGE;

        r = parse_argv(argc, argv);
        if (r <= 0) {
                *ret_exit = r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
                return r;
        }
        if (arg_user && arg_transport != BUS_TRANSPORT_LOCAL)
                return log_error_errno(-EINVAL, "--user cannot be combined with -H or -M.");
        if (optind >= argc)
                return log_error_errno(-EINVAL, "No command given; see 'sockdctl --help'.");
        verb = argv[optind];
        nargs = (unsigned) (argc - optind - 1);

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].verb, verb))
                        continue;
                if (nargs < verbs[i].min_args)
                        return log_error_errno(-EINVAL, "'%s' needs an app name: sockdctl %s APP", verb, verb);
                if (nargs > verbs[i].max_args)
                        return log_error_errno(-EINVAL, "'%s' takes at most %u app name%s.", verb, verbs[i].max_args,
                                               verbs[i].max_args == 1 ? "" : "s");
                if (arg_suspended && verbs[i].fn != verb_restart)
                        return log_error_errno(-EINVAL, "--suspended goes with 'restart' only.");
                if (arg_dry_run && verbs[i].fn != verb_restart)
                        return log_error_errno(-EINVAL, "--dry-run goes with 'restart' only.");
                if (arg_dry_run && arg_transport != BUS_TRANSPORT_LOCAL)
                        return log_error_errno(-EINVAL, "--dry-run reads the config file, which is on the other host: "
                                               "run it there.");

                struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: waits return EINTR */
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);

                r = connect_bus(&bus);
                if (r < 0) {
                        *ret_exit = EXIT_OPERATION_FAILED;
                        return r;
                }
                r = verbs[i].fn(bus, argv + optind + 1);
                sd_bus_flush_close_unref(bus);
                *ret_exit = r >= 0 ? EXIT_SUCCESS : (r == -ENOENT || r == -EINVAL) ? EXIT_USAGE : EXIT_OPERATION_FAILED;
                return r;
        }
        return log_error_errno(-EINVAL, "Unknown command '%s'; see 'sockdctl --help'.", verb);
}

int main(int argc, char *argv[]) {
        int code;

        (void) run(argc, argv, &code);
        return code;
}