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
#include "strv.h"

bool arg_user = false;
BusTransport arg_transport = BUS_TRANSPORT_LOCAL;
const char *arg_host = NULL; /* -M, or the one -H */
static char **arg_hosts = NULL; /* every -H and --hosts entry */
bool arg_one_host_at_a_time = false;
bool arg_json = false;
bool arg_quiet = false;
bool arg_suspended = false;
bool arg_dry_run = false;
static const char *arg_nginx_option; /* which option set arg_nginx_file, for messages */
usec_t arg_timeout = 5 * 60 * USEC_PER_SEC;

volatile sig_atomic_t interrupted = 0;

/* ---- main ---- */

static const struct {
        const char *verb;
        unsigned min_args, max_args;
        int (*fn)(Fleet *f, char **args);
} verbs[] = {
        { "list", 0, 0, verb_list },
        { "status", 0, 1, verb_status },
        { "start", 1, 1, verb_start },
        { "stop", 1, 1, verb_stop },
        { "restart", 1, 1, verb_restart },
        { "resume", 1, 1, verb_resume },
        { "nginx", 1, 1, verb_nginx },
        { "scale", 2, 2, verb_scale },
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
               "  nginx APP                Print an nginx upstream for the app's sockets\n"
               "  nginx APP --write=FILE [--reload]\n"
               "                           Write it to FILE at once; with --reload, 'nginx -t',\n"
               "                           then reload nginx.service and wait for its old workers\n"
               "  scale APP N              Workers=N in a drop-in, daemon-reload, start the new\n"
               "                           workers or stop the highest ones; all or nothing\n\n"
               "Options:\n"
               "  -h --help                Show this help\n"
               "     --version             Show the version\n"
               "     --user                Talk to the user's service manager\n"
               "  -H --host=[USER@]HOST    Operate on a remote host (over ssh); given more than\n"
               "                           once, on all of them as one fleet\n"
               "     --hosts=FILE          The fleet's hosts, one [USER@]HOST a line\n"
               "     --one-host-at-a-time  With restart on a fleet: one host after another\n"
               "  -M --machine=CONTAINER   Operate on a local container\n"
               "     --json                JSON output (list, status)\n"
               "  -q --quiet               Print nothing but errors\n"
               "     --suspended           With restart: a suspended restart\n"
               "  -n --dry-run             With restart: print what would change, change nothing\n"
               "     --timeout=SECONDS     Give up after this long (default 300)\n"
               "     --runtime             With scale: until reboot (a drop-in under /run)\n"
               "     --nginx=FILE          With scale: keep this nginx upstream file in step\n"
               "                           (written, 'nginx -t', nginx.service reloaded)\n\n"
               "Exit status: 0 success, 1 the operation failed, 2 usage or configuration error.\n"
               "See the sockdctl(1) man page for details.\n",
               program_invocation_short_name);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_JSON, ARG_SUSPENDED, ARG_TIMEOUT, ARG_WRITE, ARG_RELOAD, ARG_RUNTIME,
               ARG_NGINX, ARG_HOSTS, ARG_ONE_HOST };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "user", no_argument, NULL, ARG_USER },
                { "host", required_argument, NULL, 'H' },
                { "hosts", required_argument, NULL, ARG_HOSTS },
                { "one-host-at-a-time", no_argument, NULL, ARG_ONE_HOST },
                { "machine", required_argument, NULL, 'M' },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "suspended", no_argument, NULL, ARG_SUSPENDED },
                { "dry-run", no_argument, NULL, 'n' },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "write", required_argument, NULL, ARG_WRITE },
                { "reload", no_argument, NULL, ARG_RELOAD },
                { "runtime", no_argument, NULL, ARG_RUNTIME },
                { "nginx", required_argument, NULL, ARG_NGINX },
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
                        if (hosts_add(&arg_hosts, optarg, "-H", 0) < 0)
                                return -EINVAL;
                        break;
                case ARG_HOSTS:
                        if (hosts_load_file(&arg_hosts, optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_ONE_HOST:
                        arg_one_host_at_a_time = true;
                        break;
                case 'M':
                        if (arg_transport == BUS_TRANSPORT_MACHINE)
                                return log_error_errno(-EINVAL, "-M: one container at a time.");
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
                case ARG_WRITE:
                case ARG_NGINX:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(-EINVAL, "--%s: '%s' is not an absolute path.",
                                                       c == ARG_WRITE ? "write" : "nginx", optarg);
                        arg_nginx_file = optarg;
                        arg_nginx_reload = arg_nginx_reload || c == ARG_NGINX;
                        arg_nginx_option = c == ARG_WRITE ? "--write" : "--nginx";
                        break;
                case ARG_RELOAD:
                        arg_nginx_reload = true;
                        break;
                case ARG_RUNTIME:
                        arg_runtime = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option '%c'.", c);
                }
        if (arg_hosts) {
                if (arg_transport == BUS_TRANSPORT_MACHINE)
                        return log_error_errno(-EINVAL, "-M cannot be combined with -H or --hosts.");
                arg_transport = BUS_TRANSPORT_REMOTE;
                arg_host = arg_hosts[0];
        }
        return 1;
}

static void on_interrupt(int sig) {
        interrupted = 1;
}

/* Exit codes: 2 for what the user must fix in the command line or the config, 1 for an
 * operation that failed. */
static int run(int argc, char *argv[], int *ret_exit) {
        _cleanup_(fleet_done) Fleet fleet = {};
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
                        return log_error_errno(-EINVAL, "'%s' needs %s: sockdctl %s APP%s", verb,
                                               verbs[i].min_args > 1 ? "an app name and a number of workers" : "an app name",
                                               verb, verbs[i].min_args > 1 ? " N" : "");
                if (nargs > verbs[i].max_args)
                        return log_error_errno(-EINVAL, "'%s' takes at most %u app name%s.", verb, verbs[i].max_args,
                                               verbs[i].max_args == 1 ? "" : "s");
                if (arg_suspended && verbs[i].fn != verb_restart)
                        return log_error_errno(-EINVAL, "--suspended goes with 'restart' only.");
                if (arg_dry_run && verbs[i].fn != verb_restart)
                        return log_error_errno(-EINVAL, "--dry-run goes with 'restart' only.");
                if (arg_nginx_option && verbs[i].fn != (streq(arg_nginx_option, "--write") ? verb_nginx : verb_scale))
                        return log_error_errno(-EINVAL, "%s goes with '%s' only.", arg_nginx_option,
                                               streq(arg_nginx_option, "--write") ? "nginx" : "scale");
                if (arg_nginx_reload && !arg_nginx_file)
                        return log_error_errno(-EINVAL, "--reload goes with 'nginx APP --write=FILE' only.");
                if (arg_runtime && verbs[i].fn != verb_scale)
                        return log_error_errno(-EINVAL, "--runtime goes with 'scale' only.");
                if (arg_one_host_at_a_time && (verbs[i].fn != verb_restart || arg_suspended || arg_dry_run))
                        return log_error_errno(-EINVAL, "--one-host-at-a-time goes with 'restart' only (not with "
                                               "--suspended: a suspension holds requests on every host at once).");
                if (strv_length(arg_hosts) > 1 && verbs[i].fn == verb_nginx)
                        return log_error_errno(-EINVAL, "'nginx' prints one host's upstream: give one -H, or run it on "
                                               "that host.");
                if ((verbs[i].fn == verb_scale || arg_nginx_file) && arg_transport != BUS_TRANSPORT_LOCAL)
                        return log_error_errno(-EINVAL, "'%s' writes files on this host (a config drop-in, nginx's "
                                               "upstream): run it on the app's host.", verb);
                if (arg_dry_run && arg_transport != BUS_TRANSPORT_LOCAL)
                        return log_error_errno(-EINVAL, "--dry-run reads the config file, which is on the other host: "
                                               "run it there.");

                struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: waits return EINTR */
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);

                r = fleet_connect(&fleet, arg_hosts);
                if (r < 0) {
                        *ret_exit = EXIT_OPERATION_FAILED;
                        return r;
                }
                r = verbs[i].fn(&fleet, argv + optind + 1);
                *ret_exit = r >= 0 ? EXIT_SUCCESS : (r == -ENOENT || r == -EINVAL) ? EXIT_USAGE : EXIT_OPERATION_FAILED;
                return r;
        }
        return log_error_errno(-EINVAL, "Unknown command '%s'; see 'sockdctl --help'.", verb);
}

int main(int argc, char *argv[]) {
        int code;

        (void) run(argc, argv, &code);
        strv_free(arg_hosts);
        return code;
}