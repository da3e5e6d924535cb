/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

#include "parse-util.h"

#define SOCKD_WORKERS_MAX 1024U
#define SOCKD_CONFIG_SUFFIX ".conf"
#define SOCKD_DROPIN_SUFFIX ".d" /* APP.conf.d/NAME.conf: drop-ins, as systemd's UNIT.d/ */
/* HandoverSec=: after a swap, the retired generation keeps the connections it has for
 * this long beside the new one, which meanwhile takes those nginx opens anew, so that it
 * warms up on part of the traffic before it gets all of it (see sockd.conf(5)). */
#define SOCKD_HANDOVER_DEFAULT_USEC (1 * USEC_PER_SEC)
#define SOCKD_HANDOVER_MAX_USEC (60 * USEC_PER_SEC)

typedef enum ReadyProtocol {
        READY_NOTIFY,
        READY_NODE_IPC,
        READY_LISTEN, /* ready when the app calls listen() on its socket (the preload says) */
        _READY_PROTOCOL_MAX,
        _READY_PROTOCOL_INVALID = -EINVAL,
} ReadyProtocol;

typedef enum SuspendMode {
        SUSPEND_HOLD,
        SUSPEND_QUEUE,
        _SUSPEND_MODE_MAX,
        _SUSPEND_MODE_INVALID = -EINVAL,
} SuspendMode;

/* Standby=: a spare generation per worker that takes over when the serving one dies. */
typedef enum StandbyMode {
        STANDBY_NO,
        STANDBY_YES,     /* booted, takes no connection until it takes over */
        STANDBY_SERVING, /* booted, serves beside the serving one, warm when it takes over */
        _STANDBY_MODE_MAX,
        _STANDBY_MODE_INVALID = -EINVAL,
} StandbyMode;

const char *ready_protocol_to_string(ReadyProtocol p);
ReadyProtocol ready_protocol_from_string(const char *s);
const char *suspend_mode_to_string(SuspendMode m);
SuspendMode suspend_mode_from_string(const char *s);
const char *standby_mode_to_string(StandbyMode m);
/* "yes", "serving", "no", and systemd's other boolean words */
StandbyMode standby_mode_from_string(const char *s);

typedef struct AppConfig {
        bool user_scope; /* for a user's service manager (systemd --user) */
        char *path;      /* the file it came from */
        char **dropins;  /* the APP.conf.d/NAME.conf read after it, in that order */
        char *name; /* APP: the file's basename, the unit prefix */

        /* [App] */
        char *exec;
        char *listen;            /* Listen=: the address the app binds itself, NULL: fd 3 */
        char *working_directory; /* may start with '-', as in systemd */
        char *user;              /* NULL: a DynamicUser= named after the app */
        char *group;
        char **environment;       /* "NAME=value" */
        char **environment_files; /* may start with '-' (may be missing) */
        char **pass_environment;
        unsigned workers;
        ReadyProtocol ready;
        char *ready_message; /* with Ready=node-ipc: canonical JSON; NULL: "online" */
        usec_t ready_timeout;
        usec_t stop_timeout;
        usec_t handover;    /* HandoverSec= */
        StandbyMode standby; /* Standby=: a booted spare generation per worker */
        int stop_signal;    /* the graceful stop of apps that are not on Node IPC */
        SuspendMode suspend;

        /* [Socket] */
        char *socket_directory;
        char *socket_name; /* may hold {worker} */
        char *socket_user;  /* NULL in user scope: the user's own */
        char *socket_group;
        mode_t socket_mode;
        unsigned backlog;
} AppConfig;

AppConfig *app_config_free(AppConfig *c);
static inline void app_config_freep(AppConfig **c) {
        app_config_free(*c);
}
#define _cleanup_app_config_ __attribute__((cleanup(app_config_freep)))

/* Derives the app name from a config file name: "/etc/sockd/myapp.conf" -> "myapp".
 * -EINVAL if the name is not usable as a unit prefix. */
int app_name_from_path(const char *path, char **ret);

typedef struct SystemClaims SystemClaims;

typedef struct ConfigContext {
        /* For a user's service manager: no User=/Group= keys (the app runs as the user),
         * sockets under $XDG_RUNTIME_DIR by default. */
        bool user_scope;
        /* Look at the running system too: users and groups through NSS, EnvironmentFile=s
         * that must exist. Never for the generator at boot, when network NSS and late
         * mounts are not there yet: then the worker reports them when it starts. */
        bool check_system;
        /* Units and directories that exist; NULL: the built-in lists of systemd's own. */
        const SystemClaims *claims;
        /* The config directories, first wins: their APP.conf.d/NAME.conf drop-ins apply, as
         * do those beside the file itself. NULL: only those beside the file. */
        char *const *search;
} ConfigContext;

/* Loads and validates one config file and its drop-ins (APP.conf.d/NAME.conf in every
 * directory of ctx->search and beside the file, read in name order after it; of two
 * drop-ins of the same name the one in the earlier directory wins, and one linked to
 * /dev/null masks the name; later keys win, repeatable keys append, an empty assignment
 * resets them). On failure returns a negative errno and, in *ret_error, one line for the
 * user: "'FILE':LINE: Key: what is wrong", FILE the one that holds the mistake. Nothing
 * is logged: the caller decides. */
int app_config_load_context(const char *path, const ConfigContext *ctx, AppConfig **ret, char **ret_error);

/* With check_system, no claims: system scope, or @user_scope. */
int app_config_load(const char *path, AppConfig **ret, char **ret_error);
int app_config_load_scope(const char *path, bool user_scope, AppConfig **ret, char **ret_error);

/* The worker's socket path, "{worker}" replaced by @worker. */
char *app_config_socket_path(const AppConfig *c, unsigned worker);

/* The search path, highest priority first: /etc/sockd, /run/sockd, /usr/lib/sockd, or
 * for a user's manager $XDG_CONFIG_HOME/sockd (~/.config/sockd) and
 * $XDG_RUNTIME_DIR/sockd. $SOCKD_CONFIG_PATH (colon separated) replaces it, for tests
 * and for running from a build tree. */
char **config_search_path(bool user_scope);

/* $XDG_RUNTIME_DIR, or /run/user/UID. */
char *user_runtime_dir(void);

/* All "*.conf" files of the search path, the first of each name winning, sorted by
 * app name. Unreadable directories are skipped (ENOENT silently). */
int config_enumerate(char *const *dirs, char ***ret_paths);

/* Finds the config file of one app by name. -ENOENT if there is none. */
int config_find(char *const *dirs, const char *app, char **ret_path);

/* "PATH" or "PATH and its drop-ins A, B": what a message says the config is. */
char *app_config_sources(const AppConfig *c);
