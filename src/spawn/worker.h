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
#include "worker-options.h"
#include "worker-status.h"

#define WORKER_BUS_PATH "/io/sockd/Worker"
#define WORKER_BUS_INTERFACE "io.sockd.Worker1"
#define WORKER_ERROR_FAILED "io.sockd.Error.GenerationFailed"
#define WORKER_ERROR_BUSY "io.sockd.Error.Busy"
#define WORKER_ERROR_NOT_SERVING "io.sockd.Error.NotServing"
#define WORKER_CONTROL_SOCKET "control"

/* The crash back-off starts over only once a generation has served this long: an app
 * that crashes a second after it is ready must not restart every 250 ms for ever
 * (pm2 resets its exponential back-off after 30 s online too). */
#define WORKER_HEALTHY_USEC (30 * USEC_PER_SEC)
/* The crash back-off: the first restart after this, each next one twice as late. */
#define BACKOFF_FIRST_USEC (250 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

/* Exit status of the shim when the config names something the running system lacks yet
 * (EX_TEMPFAIL): systemd restarts it, with the back-off, so that a late mount heals ... */
#define WORKER_EXIT_TEMPFAIL 75
/* ... and when the config asks for what this program cannot do (EX_CONFIG): systemd does
 * not restart it (RestartPreventExitStatus=). */
#define WORKER_EXIT_CONFIG 78

/* The signals sockdctl sends are in worker-status.h, beside the StatusText they answer in. */

typedef struct Worker Worker;
typedef struct Relay Relay;

/* How generations run the app: the command line of the unit as systemd had it loaded
 * when they were asked for (the shim's ExecStart=, or a later ExecReload=), and the
 * environment and working directory systemd gave that process. Generations share them
 * by reference; the fixed part (app, worker, socket...) is the worker's own opts. */
typedef struct Settings {
        unsigned n_ref;
        WorkerOptions opts;
        char **environment; /* NULL: the shim's own */
        char *directory;    /* NULL: the shim's own */
        bool use_preload;   /* the preload goes into this program */
} Settings;

Settings *settings_ref(Settings *s);
Settings *settings_unref(Settings *s);
static inline void settings_unrefp(Settings **s) {
        settings_unref(*s);
}
/* Settings from a command line parsed in @cl (taken), checked against the worker's:
 * 0, or -EINVAL with *ret_why saying which key only a restart of the service applies. */
int worker_settings_new(Worker *w, WorkerCommandLine *cl, char **environment, const char *directory,
                        Settings **ret, char **ret_why);

typedef struct Generation {
        Worker *worker;
        struct Generation *next;

        uint64_t number;
        Settings *settings;
        pid_t pid; /* the app's main process, leader of the generation's process group */
        GenerationState state;
        uint64_t started_usec; /* CLOCK_REALTIME */
        uint64_t ready_usec;

        /* DEAD: the main process is gone. The generation is forgotten only once its
         * whole process group is: a helper the app forked may still hold the socket. */
        bool group_alive;

        sd_event_source *timer_source; /* ready timeout, commit timeout, then stop timeout */
        sd_event_source *notify_source;
        /* The readiness gate (with the preload): a socket its processes connect to. Each
         * connection gets the held socket (SCM_RIGHTS), for processes that did not
         * inherit fd 3 (Node's child_process passes none), and is closed when the
         * generation may serve, which opens the gate for that process. */
        int gate_fd;
        char *gate_path;
        sd_event_source *gate_source;
        int *gate_connections;
        size_t n_gate_connections;
        bool gate_open;
        /* SOCKD_RETIRED: '1' once a swap retired it (worker-relay.c) */
        int retire_fd;
        char *retire_path;
        sd_event_source *ipc_source;
        int notify_fd;
        char *notify_path;
        int ipc_fd;
        NodeIpcReader ipc;

        char *app_status; /* the app's own STATUS= */
        bool adopted;     /* Listen=: the app bound the address and got the socket */
        char **bound;     /* Listen=: what else it bound, for the message if it never does */
        char *failure;    /* why it did not make it, for the reload's answer */
        bool stop_requested;
        bool handing_over;  /* retired, keeps its connections until HandoverSec= is over */
        bool killed;
        bool held;          /* started with SOCKD_SUSPENDED=1 and not resumed yet */
        bool standby;       /* the worker's spare (Standby=yes): its gate stays closed until it takes over */
        bool spoof_reported; /* a foreign sender on its notify socket was logged */
        bool ipc_envelope;   /* it said ready as {"type": ...} (nodesockd): so are our messages */
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


struct Worker {
        WorkerOptions opts;
        int listen_fd;
        dev_t listen_dev; /* which socket it is, for the preload (SOCKD_LISTEN_ID) */
        ino_t listen_ino;
        char *fd_name;
        char *runtime_dir;     /* the worker's own: state, notify and control sockets */
        char *app_runtime_dir; /* shared by the app's workers: the suspension */
        bool runtime_dir_owned; /* made by us (no systemd): removed at exit */
        bool relay;             /* we can connect to our socket: draining apps' idle
                                 * connections are kept and relayed (worker-relay.c),
                                 * for generations with the preload */

        /* What the next generation runs: the serving one's, or those a swap brought. */
        Settings *settings;
        /* Delivered by an ExecReload= that sockdctl asked for (WORKER_SIGNAL_EXPECT_SETTINGS)
         * for its next prepare or resume. */
        Settings *next_settings;
        sd_event_source *expect_source; /* armed: the next reload only delivers settings */

        sd_event *event;
        sd_event_source *backoff_source;
        sd_event_source *healthy_source;
        Generation *generations; /* newest first */
        uint64_t last_generation;

        /* A swap in progress: the generation that should take over, and the method call
         * (if any) waiting for its outcome. */
        Generation *incoming;
        SwapKind swap_kind;
        sd_bus_message *swap_request;
        char *last_failure; /* "generation N, pid P: why" or a refusal, until the next swap */
        WorkerGeneration last_failure_generation;

        Suspension suspension;
        bool notified_ready; /* READY=1 went to systemd */

        /* Standby=yes (worker-standby.c): a generation booted beside the serving one that
         * takes no connection until the serving one dies, and then takes over at once. */
        Generation *standby;
        sd_event_source *standby_source; /* its start, after a back-off */
        unsigned standby_failures;       /* spares that died before they could serve */

        int control_fd;
        sd_event_source *control_source;
        sd_event_source *control_pause_source;
        sd_bus **connections;
        size_t n_connections;

        /* Connections draining apps closed, kept open and relayed (worker-relay.c). */
        Relay *relays;
        unsigned n_relays;
        uint64_t last_relay;

        unsigned crashes;
        bool stopping;
        int exit_status;
};

/* worker-standby.c: the spare generation of Standby=yes. */
/* Starts a spare, stops one of other settings, or none, as the worker's state asks;
 * after a promotion, a suspension's end, or a failed swap. */
void worker_standby_refresh(Worker *w);
/* Stops the spare (a swap starts, a suspension, the worker stops). */
void worker_standby_stop(Worker *w);
/* The serving generation @dead died: the spare takes over if it is ready. */
bool worker_standby_take_over(Worker *w, Generation *dead, const char *how);
void worker_on_standby_ready(Generation *g);
void worker_on_standby_exit(Generation *g, const char *how);

/* worker-relay.c: connections a draining app closed, kept and relayed. */
void worker_park_connection(Worker *w, int fd);
void worker_free_relays(Worker *w);

/* worker.c: the worker's life, its persisted state, its StatusText. */
int worker_new(WorkerOptions *opts, int listen_fd, const char *fd_name, Worker **ret);
Worker *worker_free(Worker *w);
/* @cl: the shim's own command line, for the first generation's settings. */
int worker_run(Worker *w, WorkerCommandLine *cl);
Generation *worker_serving(Worker *w);
void worker_update_status(Worker *w);
void worker_save_state(Worker *w);
void worker_set_suspension(Worker *w, Suspension s);
void worker_notify_ready(Worker *w);
void worker_on_promoted(Worker *w);
void worker_fail(Worker *w, int status);
int worker_finish_if_idle(Worker *w);
void worker_forget(Worker *w, Generation *g);
void worker_log_last_words(void);

/* worker-generation.c: one generation, from fork to its process group's end. */
int worker_spawn(Worker *w, Settings *settings, bool held, Generation **ret);
int generation_bind_socket(Generation *g, const char *what, int type, char **ret_path);
void generation_stop(Generation *g);
void generation_kill(Generation *g);
int generation_arm_timer(Generation *g, usec_t timeout);
void generation_hand_over(Generation *g, const WorkerOptions *o);
/* The generation may serve: its processes' event loops get the socket (the preload). */
void generation_open_gate(Generation *g);
Generation *generation_free(Generation *g);
void generation_set_state(Generation *g, GenerationEvent e);
/* A child exited: the main process of a generation, or a helper it left behind. */
void worker_reap_children(Worker *w);
/* "exited with status 3", "was killed by SIGKILL" */
void exit_describe(const siginfo_t *si, char *buf, size_t size);

/* worker-readiness.c: what a generation tells the shim, and what the shim tells it. */
int generation_open_notify(Generation *g);
int generation_open_ipc(Generation *g, int *ret_child);
void generation_drain_notifications(Generation *g);
int generation_send_ipc(Generation *g, const char *message);

/* worker-swap.c: swaps between generations and the requests that drive them. */
/* @g takes over: it serves (or, held, holds), every older generation drains. */
void worker_promote(Worker *w, Generation *g);
/* @settings: what the new generation runs; NULL: the next settings sockdctl delivered, or
 * the worker's. */
int worker_start_swap(Worker *w, SwapKind kind, Settings *settings, sd_bus_message *request, sd_bus_error *error);
/* A reload that brought settings (the ExecReload= client): swaps, or with sockdctl's
 * WORKER_SIGNAL_EXPECT_SETTINGS armed only keeps them for its next swap (returns 0). */
int worker_reload_with(Worker *w, Settings *settings, sd_bus_message *request, sd_bus_error *error);
void swap_failed(Worker *w, Generation *g, const char *why);
void worker_set_failure(Worker *w, const Generation *g, const char *why);
void worker_on_generation_ready(Generation *g);
void worker_on_generation_exit(Generation *g, const siginfo_t *si);
void worker_on_generation_timer(Generation *g);
int worker_on_control_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata);

/* worker-bus.c: the control socket (ExecReload=) and its client. */
int worker_listen_control(Worker *w);
void worker_close_control(Worker *w);
/* ExecReload=: asks the worker behind @control_path to swap and waits for the result. */
/* With @cl's command (the unit's ExecReload=), the new generation runs that command line,
 * in this process's environment and working directory. */
int worker_reload_client(const char *control_path, int argc, char *argv[], const WorkerCommandLine *cl);

const char *signal_name(int sig);
uint64_t now_usec(clockid_t clock);
