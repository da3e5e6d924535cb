/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "listen-spec.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "worker-options.h"

void worker_options_done(WorkerOptions *o) {
        free(o->app);
        free(o->socket_path);
        free(o->listen);
        free(o->preload);
        free(o->ready_message);
        strv_free(o->environment_files);
        strv_free(o->argv);
        *o = (WorkerOptions) {};
}

void worker_command_line_done(WorkerCommandLine *c) {
        worker_options_done(&c->opts);
        free(c->control);
        *c = (WorkerCommandLine) {};
}

int worker_command_line_parse(int argc, char *argv[], WorkerCommandLine *ret) {
        enum {
                ARG_VERSION = 0x100,
                ARG_APP,
                ARG_WORKER,
                ARG_WORKERS,
                ARG_READY,
                ARG_READY_MESSAGE,
                ARG_READY_TIMEOUT,
                ARG_STOP_TIMEOUT,
                ARG_HANDOVER,
                ARG_STANDBY,
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
                { "handover", required_argument, NULL, ARG_HANDOVER },
                { "standby", optional_argument, NULL, ARG_STANDBY },
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
        _cleanup_(worker_command_line_done) WorkerCommandLine c = {
                .opts = {
                        .workers = 1,
                        .ready = READY_NOTIFY,
                        .ready_timeout = 30 * USEC_PER_SEC,
                        .stop_timeout = 30 * USEC_PER_SEC,
                        .handover = SOCKD_HANDOVER_DEFAULT_USEC,
                        .stop_signal = SIGTERM,
                        .backlog = 4096,
                        .suspend = SUSPEND_QUEUE,
                },
        };
        WorkerOptions *o = &c.opts;
        int opt, r;

        /* Parsed more than once in one process (the shim parses each reload's). */
        optind = 0;
        /* '+': stop at the first non-option, the app's argv is its own. */
        while ((opt = getopt_long(argc, argv, "+hq", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        c.help = true;
                        goto done;
                case ARG_VERSION:
                        c.version = true;
                        goto done;
                case ARG_APP:
                        if (!unit_prefix_is_valid(optarg))
                                return log_error_errno(-EINVAL, "--app=: '%s' is not a valid app name.", optarg);
                        free(o->app);
                        o->app = strdup(optarg);
                        if (!o->app)
                                return log_oom();
                        break;
                case ARG_WORKER:
                        r = parse_uint_range(optarg, 0, SOCKD_WORKERS_MAX - 1, &o->worker);
                        if (r < 0)
                                return log_error_errno(r, "--worker=: expected 0..%u, got '%s'.", SOCKD_WORKERS_MAX - 1, optarg);
                        c.worker_set = true;
                        break;
                case ARG_WORKERS:
                        r = parse_uint_range(optarg, 1, SOCKD_WORKERS_MAX, &o->workers);
                        if (r < 0)
                                return log_error_errno(r, "--workers=: expected 1..%u, got '%s'.", SOCKD_WORKERS_MAX, optarg);
                        break;
                case ARG_READY:
                        o->ready = ready_protocol_from_string(optarg);
                        if (o->ready < 0)
                                return log_error_errno(-EINVAL, "--ready=: expected 'notify', 'node-ipc' or 'listen', got '%s'.", optarg);
                        break;
                case ARG_READY_MESSAGE:
                        free(o->ready_message);
                        o->ready_message = NULL;
                        r = json_canonicalize(optarg, strlen(optarg), &o->ready_message);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0)
                                return log_error_errno(-EINVAL, "--ready-message=: '%s' is not one JSON value.", optarg);
                        break;
                case ARG_READY_TIMEOUT:
                case ARG_STOP_TIMEOUT:
                        r = parse_duration(optarg, opt == ARG_READY_TIMEOUT ? &o->ready_timeout : &o->stop_timeout);
                        if (r < 0)
                                return log_error_errno(r, "--%s=: '%s' is not a duration.",
                                                       opt == ARG_READY_TIMEOUT ? "ready-timeout" : "stop-timeout", optarg);
                        break;
                case ARG_HANDOVER:
                        r = parse_duration(optarg, &o->handover);
                        if (r < 0 || o->handover > SOCKD_HANDOVER_MAX_USEC)
                                return log_error_errno(r < 0 ? r : -ERANGE, "--handover=: '%s' is not a duration of at most 1min.", optarg);
                        break;
                case ARG_STANDBY:
                        o->standby = optarg ? standby_mode_from_string(optarg) : STANDBY_YES;
                        if (o->standby < 0)
                                return log_error_errno(-EINVAL, "--standby=: '%s' is not 'yes', 'serving' or 'no'.", optarg);
                        break;
                case ARG_STOP_SIGNAL:
                        r = parse_stop_signal(optarg, &o->stop_signal);
                        if (r < 0)
                                return log_error_errno(-EINVAL, "--stop-signal=: '%s' is not a signal an app can be "
                                                       "asked to stop with.", optarg);
                        break;
                case ARG_SUSPEND:
                        o->suspend = suspend_mode_from_string(optarg);
                        if (o->suspend < 0)
                                return log_error_errno(-EINVAL, "--suspend=: expected 'hold' or 'queue', got '%s'.", optarg);
                        break;
                case ARG_SOCKET:
                        free(o->socket_path);
                        o->socket_path = strdup(optarg);
                        if (!o->socket_path)
                                return log_oom();
                        break;
                case ARG_LISTEN: {
                        ListenSpec spec;

                        if (listen_spec_parse(optarg, &spec) < 0)
                                return log_error_errno(-EINVAL, "--listen=: '%s' is not tcp:HOST:PORT, unix:PATH or auto.", optarg);
                        free(o->listen);
                        o->listen = strdup(optarg);
                        if (!o->listen)
                                return log_oom();
                        break;
                }
                case ARG_BACKLOG:
                        r = parse_uint_range(optarg, 1, 65535, &o->backlog);
                        if (r < 0)
                                return log_error_errno(r, "--backlog=: expected 1..65535, got '%s'.", optarg);
                        break;
                case ARG_PRELOAD:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(-EINVAL, "--preload=: '%s' is not an absolute path.", optarg);
                        free(o->preload);
                        o->preload = strdup(optarg);
                        if (!o->preload)
                                return log_oom();
                        break;
                case ARG_ENVIRONMENT_FILE:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(-EINVAL, "--environment-file=: '%s' is not an absolute path.", optarg);
                        if (strv_extend(&o->environment_files, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_RELOAD:
                        c.reload = true;
                        break;
                case ARG_CONTROL:
                        free(c.control);
                        c.control = strdup(optarg);
                        if (!c.control)
                                return log_oom();
                        break;
                case 'q':
                        c.quiet = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option '%c'.", opt);
                }

        if (c.reload && optind >= argc)
                goto done;
        if (optind >= argc)
                return log_error_errno(-EINVAL, "No command given: sockd-spawn [OPTIONS...] -- COMMAND [ARGS...]");
        if (argv[optind][0] != '/')
                return log_error_errno(-EINVAL, "The command must be an absolute path, got '%s'.", argv[optind]);
        if (o->worker >= o->workers)
                return log_error_errno(-ERANGE,
                                       "Worker %u does not exist: the app has %u worker%s (0..%u). "
                                       "Start only instances that the config's Workers= covers.",
                                       o->worker, o->workers, o->workers == 1 ? "" : "s",
                                       o->workers - 1);
        for (int i = optind; i < argc; i++)
                if (strv_extend(&o->argv, argv[i]) < 0)
                        return log_oom();
        if (!o->app && !(o->app = strdup("app")))
                return log_oom();
        if (o->ready_message && o->ready != READY_NODE_IPC)
                return log_error_errno(-EINVAL, "--ready-message= goes with --ready=node-ipc.");
        if (!o->ready_message && !(o->ready_message = strdup("\"online\"")))
                return log_oom();
        if (!o->preload && !(o->preload = strdup(SOCKD_PRELOAD_PATH)))
                return log_oom();
done:
        *ret = c;
        c = (WorkerCommandLine) {};
        return 0;
}


const char *worker_options_fixed_differ(const WorkerOptions *a, const WorkerOptions *b) {
        if (!streq_ptr(a->app, b->app))
                return "--app";
        if (a->worker != b->worker)
                return "--worker";
        if (!streq_ptr(a->socket_path, b->socket_path))
                return "--socket";
        if (a->backlog != b->backlog)
                return "--backlog";
        if (!streq_ptr(a->listen, b->listen))
                return "--listen";
        if (a->suspend != b->suspend)
                return "--suspend";
        if (!streq_ptr(a->preload, b->preload))
                return "--preload";
        return NULL;
}
