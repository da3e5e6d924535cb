/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "parse-util.h"

/* What sockd-spawn's command line says: how the worker runs its app. The shim parses
 * its own ExecStart=, and the ExecReload= client's command line (the unit as systemd has
 * it loaded now) for the next generation; sockdctl parses the loaded unit's ExecStart=
 * to see what a config edit changes. */
typedef struct WorkerOptions {
        char *app;
        unsigned worker;
        unsigned workers;
        ReadyProtocol ready;
        char *ready_message; /* canonical JSON: the node-ipc message that means ready */
        usec_t ready_timeout;
        usec_t stop_timeout;
        usec_t handover; /* how long a retired generation keeps serving beside the new one */
        StandbyMode standby; /* Standby=: a booted spare generation takes over from a crashed one */
        int stop_signal;
        SuspendMode suspend;
        char *socket_path;
        char *listen;  /* Listen=: the address the app binds itself */
        unsigned backlog;
        char *preload; /* the preload library */
        char **environment_files; /* EnvironmentFile=s that must exist */
        char **argv;
} WorkerOptions;

typedef struct WorkerCommandLine {
        WorkerOptions opts;
        bool worker_set;
        bool help;
        bool version;
        bool reload; /* --reload: the ExecReload= client */
        bool quiet;
        char *control;
} WorkerCommandLine;

void worker_options_done(WorkerOptions *o);
void worker_command_line_done(WorkerCommandLine *c);

/* Parses sockd-spawn's arguments (argv[0] is the program). Errors are logged, naming the
 * option; returns 0 or a negative errno. With --reload the command is optional (a bare
 * "--reload" swaps to a generation like the serving one). */
int worker_command_line_parse(int argc, char *argv[], WorkerCommandLine *ret);

/* The options a new generation may not change: those of the service and its socket.
 * Returns the name of the first that differs ("--socket", ...), NULL if none does.
 * (--workers may: a worker's own generations do not depend on how many others exist.) */
const char *worker_options_fixed_differ(const WorkerOptions *a, const WorkerOptions *b);
