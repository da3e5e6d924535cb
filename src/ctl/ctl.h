/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "bus-util.h"
#include "config.h"
#include "parse-util.h"
#include "worker-status.h"

#define EXIT_OPERATION_FAILED 1
#define EXIT_USAGE 2

/* sockdctl.c: the command line */
extern bool arg_user;
extern BusTransport arg_transport;
extern const char *arg_host;
extern bool arg_one_host_at_a_time;
extern bool arg_json;
extern bool arg_quiet;
extern bool arg_suspended;
extern bool arg_dry_run;
extern usec_t arg_timeout;
extern volatile sig_atomic_t interrupted;

/* ---- ctl-app.c: an app as systemd knows it, and waiting for its workers ---- */

typedef struct WorkerRef {
        unsigned index;
        char *service;      /* APP@N.service */
        char *socket_unit;  /* APP@N.socket */
        char *service_path; /* its D-Bus object */
        char *socket_path;  /* the listening socket's file */

        char *active_state;
        char *status_text;
        WorkerStatus status;
        bool dirty; /* a PropertiesChanged came: read it again */
        sd_bus_slot *slot;

        /* what the operation knows of it */
        WorkerGeneration before;
        uint64_t failed_before; /* a failure already in StatusText is not this operation's */
        char *failure_before;
        bool involved;
        /* The first failure of this operation seen in StatusText: kept, because systemd
         * clears StatusText when a failed worker starts again. */
        char *failure;
        WorkerGeneration failed;
        char *error; /* set: this worker is reported as failed */
} WorkerRef;

typedef struct App {
        char *name;
        const char *host; /* of a fleet: the host named in messages (not owned), else NULL */
        char *source;
        WorkerRef *workers;
        unsigned n_workers;
        SuspendMode suspend;
        bool lost; /* its bus closed during the operation (a fleet host's ssh session ended) */
} App;

void app_done(App *a);
int app_load(sd_bus *bus, const char *name, App *ret);
int fail_bus(int r, const sd_bus_error *error, const char *what);
/* A unit's property, errors logged. */
int get_string(sd_bus *bus, const char *path, const char *interface, const char *property, char **ret);
int get_strv(sd_bus *bus, const char *path, const char *interface, const char *property, char ***ret);
int get_exec_start(sd_bus *bus, const char *path, sd_bus_error *error, char ***ret);
int worker_refresh(sd_bus *bus, WorkerRef *w);
bool worker_active(const WorkerRef *w);
/* Subscribes and matches every worker's PropertiesChanged, before any request. */
int app_watch(sd_bus *bus, App *a);
int worker_signal(sd_bus *bus, WorkerRef *w, int sig);
/* Marks @w as taking part in the operation, remembering what its status shows now. */
int worker_involve(WorkerRef *w, WorkerGeneration before);

typedef bool (*WorkerDone)(const WorkerRef *w);
/* Until @done holds for every involved worker of every app (one per host, each on its
 * own bus); -ETIMEDOUT at @deadline, -EINTR. */
int apps_wait(sd_bus *const *buses, App *const *apps, size_t n, WorkerDone done, uint64_t deadline);
/* Whether a worker of @a that takes part has an error to report. */
bool app_failed(const App *a);

bool new_failure(const WorkerRef *w);
bool prepared_done(const WorkerRef *w);
bool committed_done(const WorkerRef *w);
bool suspended_done(const WorkerRef *w);
bool aborted_done(const WorkerRef *w);
bool resumed_done(const WorkerRef *w);

/* Names each involved worker with an error, and why. */
void report_failures(sd_bus *bus, const App *a, const char *what);
/* systemctl daemon-reload: returns once systemd has reloaded. Errors logged. */
int manager_reload(sd_bus *bus);
/* Marks the involved workers for which @done does not hold as not answering in time. */
void mark_unanswered(App *a, WorkerDone done);

/* StartUnit/StopUnit on the app's sockets and/or services and waits for the jobs until
 * @deadline. @only_inactive: only the workers not running and not involved. */
int app_jobs(sd_bus *bus, App *a, const char *method, bool services, bool sockets, bool only_inactive,
             uint64_t deadline);

/* ---- ctl-config.c: what a restart applies ---- */

typedef enum KeyClass {
        KEY_GENERATION, /* a new generation takes it on */
        KEY_SERVICE,    /* only a new service: a stop and a start of the worker */
        KEY_WORKERS,    /* workers to start or stop */
        KEY_SOCKET,     /* only a new socket */
} KeyClass;

typedef struct ConfigChange {
        char *service;   /* APP@N.service, or APP for Workers= */
        const char *key; /* "Environment=", "[Socket] Mode=" */
        char *text;      /* "'a' -> 'b'", or for Environment= the names only */
        bool refused;    /* only a new service or socket applies it */
        int class;
} ConfigChange;

typedef struct ConfigPlan {
        char *path;    /* the config file */
        char *sources; /* it and its drop-ins, for messages */
        ConfigChange *changes;
        size_t n_changes;
        bool refused;     /* a change a restart cannot apply */
        bool need_reload; /* the loaded units are older than the config */
        unsigned workers; /* Workers= as the config says it now */
} ConfigPlan;

void config_plan_done(ConfigPlan *p);
/* The config on disk against every worker's loaded units. A config that does not load is
 * logged with file:line, -EINVAL. */
int config_plan_load(sd_bus *bus, const App *a, ConfigPlan *ret);
void config_plan_print(const ConfigPlan *p, const App *a, FILE *f, bool refused_only);

/* ---- ctl-nginx.c: the app's nginx upstream ---- */
extern const char *arg_nginx_file; /* nginx --write=FILE, scale --nginx=FILE */
extern bool arg_nginx_reload;

/* The upstream of the first @n_workers workers of @a. */
int nginx_upstream_render(const App *a, unsigned n_workers, char **ret);
/* Writes @text to @path atomically; with @reload, 'nginx -t' (which failing, @path is
 * put back as it was, -EINVAL), then nginx.service reloaded and its old worker
 * processes waited for. Errors logged. */
int nginx_apply(sd_bus *bus, const char *path, const char *text, bool reload, uint64_t deadline);

/* ---- ctl-hosts.c: the hosts a command runs on ---- */

typedef struct Host {
        char *name;  /* [USER@]HOST as given, NULL: this machine (or the -M container) */
        sd_bus *bus; /* systemd there */
        App app;     /* the verb's app as that systemd has it */
} Host;

typedef struct Fleet {
        Host *hosts;
        size_t n_hosts;
} Fleet;

/* -H and --hosts: each [USER@]HOST once; refused with the reason (and FILE:LINE). */
int hosts_add(char ***hosts, const char *host, const char *source, unsigned line);
int hosts_load_file(char ***hosts, const char *path);
/* Connects to systemd on every host at once (the ssh sessions start together), or on
 * this machine when @names is empty. A host that cannot be reached is named. */
int fleet_connect(Fleet *f, char **names);
void fleet_done(Fleet *f);
/* The app on every host, each host's App.host set when there are several; stops at the
 * first host that has no such app, naming it. */
int fleet_load_app(Fleet *f, const char *name);
/* apps_wait() over the fleet. */
int fleet_wait(Fleet *f, WorkerDone done, uint64_t deadline);
/* Output lines of a host of several start with "HOST: ": printf(HOST_FMT "...", HOST_ARGS(a), ...) */
#define HOST_FMT "%s%s"
#define HOST_ARGS(a) strempty((a)->host), (a)->host ? ": " : ""

/* ---- verbs ---- */
int verb_list(Fleet *f, char **args);
int verb_status(Fleet *f, char **args);
int verb_start(Fleet *f, char **args);
int verb_stop(Fleet *f, char **args);
int verb_nginx(Fleet *f, char **args);
/* ctl-scale.c: --runtime */
extern bool arg_runtime;
int verb_scale(Fleet *f, char **args);
int verb_restart(Fleet *f, char **args);
int verb_resume(Fleet *f, char **args);
