/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "generation.h"
#include "node-ipc.h"
#include "worker-status.h"

#define WORKER_BUS_PATH "/io/sockd/Worker"
#define WORKER_BUS_INTERFACE "io.sockd.Worker1"
#define WORKER_ERROR_FAILED "io.sockd.Error.GenerationFailed"
#define WORKER_ERROR_BUSY "io.sockd.Error.Busy"
#define WORKER_ERROR_NOT_SERVING "io.sockd.Error.NotServing"
#define WORKER_CONTROL_SOCKET "control"

/* The signals sockdctl sends are in worker-status.h, beside the StatusText they answer in. */

typedef struct Worker Worker;

typedef struct Generation {
        Worker *worker;
        struct Generation *next;

        uint64_t number;
        pid_t pid;
        GenerationState state;
        uint64_t started_usec; /* CLOCK_REALTIME */
        uint64_t ready_usec;

        sd_event_source *child_source;
        sd_event_source *timer_source; /* ready timeout, then stop timeout */
        sd_event_source *notify_source;
        sd_event_source *ipc_source;
        int notify_fd;
        char *notify_path;
        int ipc_fd;
        NodeIpcReader ipc;

        char *app_status; /* the app's own STATUS= */
        char *failure;    /* why it did not make it, for the reload's answer */
        bool stop_requested;
        bool killed;
        bool held;        /* started with SOCKD_SUSPENDED=1 and not resumed yet */
} Generation;

/* What a swap does once its new generation is ready. */
typedef enum SwapKind {
        SWAP_RELOAD,            /* take over at once (ExecReload=, SIGHUP) */
        SWAP_PREPARE,           /* wait beside the old one for commit or abort */
        SWAP_PREPARE_SUSPENDED, /* the same, started held (Suspend=hold) */
        SWAP_RESUME,            /* Suspend=queue: the generation that ends a suspension */
} SwapKind;

typedef enum Suspension {
        SUSPENSION_NONE,
        SUSPENSION_HOLD,  /* a held generation serves: it accepts and holds requests */
        SUSPENSION_QUEUE, /* no generation runs: requests wait in the socket's backlog */
} Suspension;

typedef struct WorkerOptions {
        char *app;
        unsigned worker;
        unsigned workers;
        ReadyProtocol ready;
        usec_t ready_timeout;
        usec_t stop_timeout;
        SuspendMode suspend;
        char *socket_path;
        char **argv;
} WorkerOptions;

struct Worker {
        WorkerOptions opts;
        int listen_fd;
        char *fd_name;
        char *runtime_dir;
        bool runtime_dir_owned; /* made by us (no systemd): removed at exit */

        sd_event *event;
        sd_event_source *backoff_source;
        Generation *generations; /* newest first */
        uint64_t last_generation;

        /* A swap in progress: the generation that should take over, and the method call
         * (if any) waiting for its outcome. */
        Generation *incoming;
        SwapKind swap_kind;
        sd_bus_message *swap_request;
        char *last_failure; /* "generation N, pid P: why", shown until the next swap */

        Suspension suspension;

        int control_fd;
        sd_event_source *control_source;
        sd_bus **connections;
        size_t n_connections;

        unsigned crashes;
        bool stopping;
        int exit_status;
};

int worker_new(WorkerOptions *opts, int listen_fd, const char *fd_name, Worker **ret);
Worker *worker_free(Worker *w);
int worker_run(Worker *w);

/* ExecReload=: asks the worker behind @control_path to swap and waits for the result. */
int worker_reload_client(const char *control_path, bool quiet);
