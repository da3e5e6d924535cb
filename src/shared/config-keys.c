/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keys of APP.conf: one parser per kind of value, each checking what systemd or the
 * shim would otherwise refuse later (or, worse, take), and the table that maps
 * [Section] Key= to a parser and a field of AppConfig.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "app-policy.h"
#include "config-internal.h"
#include "json.h"
#include "listen-spec.h"
#include "strv.h"

static int parse_string(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        char **p = data;

        if (isempty(value))
                return key_error(s, key, -EINVAL, "empty value");
        free(*p);
        *p = strdup(value);
        return *p ? 0 : -ENOMEM;
}

static int parse_exec(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        if (isempty(value))
                return key_error(s, key, -EINVAL, "empty value, a command line is required");
        /* It lands in ExecStart= verbatim: a trailing '\' would join the next line of the
         * unit onto it (control characters never get this far: the reader refuses them). */
        if (value[strlen(value) - 1] == '\\')
                return key_error(s, key, -EINVAL, "must not end in '\\', which would continue the unit's line");
        /* systemd's ExecStart= syntax: what systemd would refuse is refused here, with the
         * line, instead of a unit that systemd ignores. */
        r = exec_split(value, &argv, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return key_error(s, key, -EINVAL, "'%s' %s", value, why);
        /* The program must be absolute, so what runs does not depend on a search path. */
        if (!path_is_absolute(argv[0]))
                return key_error(s, key, -EINVAL,
                                 "program must be an absolute path, got '%s' (try 'command -v %s')",
                                 argv[0], argv[0]);
        return parse_string(s, key, value, data);
}

static int parse_abs_path(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        const char *p = value && value[0] == '-' ? value + 1 : value;

        if (isempty(value))
                return key_error(s, key, -EINVAL, "empty value");
        if (!path_is_normalized_absolute(p))
                return key_error(s, key, -EINVAL, "must be an absolute, normalized path, got '%s'", value);
        return parse_string(s, key, value, data);
}

/* tmpfiles sets the owner and mode of the socket directory at every socket start, so it
 * must be the app's alone: app-policy.c says whose it is otherwise. */
int config_check_socket_directory(ParseState *s, const char *dir, unsigned line, bool is_default) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = socket_directory_check(dir, s->config->user_scope, s->ctx->claims, &why);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                return 0;
        if (is_default)
                return parse_error(s, 0, r,
                                   "the default socket directory of app '%s' is not the app's own: %s. Rename the "
                                   "file, or set [Socket] Directory=", s->config->name, why);
        return parse_error(s, line, r, "Directory: %s", why);
}

static int parse_socket_directory(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        if (value && value[0] == '-')
                return key_error(s, key, -EINVAL, "must be an absolute, normalized path, got '%s'", value);
        if (value && value[strcspn(value, " \t\"'%${}")])
                return key_error(s, key, -EINVAL, "must not contain spaces, quotes, '%%', '$' or braces ({worker} goes in Name=), got '%s'", value);
        if (!path_is_normalized_absolute(value))
                return key_error(s, key, -EINVAL, "must be an absolute, normalized path, got '%s'", value);
        if (config_check_socket_directory(s, value, s->line, false) < 0)
                return s->error_code;
        return parse_abs_path(s, key, value, data);
}

static int parse_user(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        if (isempty(value))
                return key_error(s, key, -EINVAL, "empty value");
        if (!user_group_name_is_valid(value))
                return key_error(s, key, -EINVAL, "'%s' is not a valid user or group name", value);
        if (!s->ctx->check_system)
                ; /* at boot NSS may not know it yet: systemd says so when the worker starts */
        else if (streq(key->name, "User")) {
                errno = 0;
                if (!getpwnam(value))
                        return key_error(s, key, -ESRCH, "unknown user '%s'%s%s", value,
                                         errno > 0 ? ": " : " (create it with 'useradd --system')",
                                         errno > 0 ? strerror(errno) : "");
        } else {
                errno = 0;
                if (!getgrnam(value))
                        return key_error(s, key, -ESRCH, "unknown group '%s'%s%s", value,
                                         errno > 0 ? ": " : " (create it with 'groupadd --system')",
                                         errno > 0 ? strerror(errno) : "");
        }
        return parse_string(s, key, value, data);
}

static int parse_environment(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        if (!env_assignment_is_valid(value))
                return key_error(s, key, -EINVAL,
                                 "expected NAME=value with NAME of letters, digits and '_', got '%s'", value);
        return strv_extend(data, value);
}

static int parse_environment_file(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        bool optional = value[0] == '-';
        const char *p = optional ? value + 1 : value;

        if (!path_is_normalized_absolute(p))
                return key_error(s, key, -EINVAL, "must be an absolute, normalized path, got '%s'", value);
        if (!optional && s->ctx->check_system && access(p, F_OK) < 0)
                return key_error(s, key, negative_errno(), "cannot access '%s': %m (prefix it with '-' if it may be missing)", p);
        return strv_extend(data, value);
}

static int parse_pass_environment(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                int r;

                if (!env_name_is_valid(w))
                        return key_error(s, key, -EINVAL, "'%s' is not a valid environment variable name", w);
                r = strv_extend(data, w);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_workers(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        if (parse_uint_range(value, 1, SOCKD_WORKERS_MAX, data) < 0)
                return key_error(s, key, -ERANGE, "must be a number from 1 to %u, got '%s'", SOCKD_WORKERS_MAX, value);
        return 0;
}

static int parse_backlog(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        if (parse_uint_range(value, 1, 65535, data) < 0)
                return key_error(s, key, -ERANGE, "must be a number from 1 to 65535, got '%s'", value);
        return 0;
}

static int parse_listen(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        ListenSpec spec;

        if (listen_spec_parse(value, &spec) < 0)
                return key_error(s, key, -EINVAL,
                                 "must be tcp:HOST:PORT (HOST an IPv4 address, [IPv6], localhost or *), unix:PATH or "
                                 "auto, got '%s'", value);
        /* It lands in ExecStart= as one quoted word: systemd's specifiers and variables
         * must not touch it. */
        if (value[strcspn(value, "%$\"\\")])
                return key_error(s, key, -EINVAL, "must not contain '%%', '$', quotes or '\\', got '%s'", value);
        return parse_string(s, key, value, data);
}

static int parse_ready(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        ReadyProtocol p = ready_protocol_from_string(value);

        if (p < 0)
                return key_error(s, key, -EINVAL, "must be 'notify', 'node-ipc' or 'listen', got '%s'", value);
        *(ReadyProtocol *) data = p;
        return 0;
}

static int parse_ready_message(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        _cleanup_free_ char *canonical = NULL;
        int r = json_canonicalize(value, strlen(value), &canonical);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return key_error(s, key, -EINVAL,
                                 "must be one JSON value, the message the app sends when it is ready (examples: "
                                 "\"online\", {\"ready\":true}), got '%s'", value);
        free(*(char **) data);
        *(char **) data = TAKE_PTR(canonical);
        return 0;
}

static int parse_standby(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        StandbyMode m = standby_mode_from_string(value);

        if (m < 0)
                return key_error(s, key, -EINVAL, "must be 'yes', 'serving' or 'no', got '%s'", value);
        *(StandbyMode *) data = m;
        return 0;
}

static int parse_suspend(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        SuspendMode m = suspend_mode_from_string(value);

        if (m < 0)
                return key_error(s, key, -EINVAL, "must be 'hold' or 'queue', got '%s'", value);
        *(SuspendMode *) data = m;
        return 0;
}

/* A duration within [@min, @max]; @range says so in the error. */
static int parse_duration_key(ParseState *s, const ConfigKey *key, const char *value, void *data, usec_t min,
                              usec_t max, const char *examples, const char *range) {
        usec_t u;
        int r = parse_duration(value, &u);

        if (r < 0)
                return key_error(s, key, -EINVAL, "'%s' is not a duration (examples: %s)", value, examples);
        if (u < min || u > max)
                return key_error(s, key, -ERANGE, "must be %s, got '%s'", range, value);
        *(usec_t *) data = u;
        return 0;
}

static int parse_timeout(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        return parse_duration_key(s, key, value, data, USEC_PER_MSEC, 24 * 3600 * USEC_PER_SEC,
                                  "30, 30s, 500ms, 2min", "between 1ms and 24h");
}

/* 0 is allowed: the old generation is asked to stop the moment the new one serves. */
static int parse_handover(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        return parse_duration_key(s, key, value, data, 0, SOCKD_HANDOVER_MAX_USEC, "0, 500ms, 1s, 2s", "at most 1min");
}

static int parse_stop_signal_key(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        int r = parse_stop_signal(value, data);

        if (r == -EPERM)
                return key_error(s, key, -EINVAL, "'%s' cannot be caught, so nothing graceful comes of it; the app gets "
                                 "SIGKILL after StopTimeoutSec= anyway", value);
        if (r < 0)
                return key_error(s, key, -EINVAL, "'%s' is not a signal (examples: SIGTERM, SIGINT, SIGQUIT, 15)", value);
        return 0;
}

static int parse_socket_name(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        if (isempty(value) || strchr(value, '/') || streq(value, ".") || streq(value, ".."))
                return key_error(s, key, -EINVAL, "must be a file name without '/', got '%s'", strempty(value));
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p <= ' ' || strchr("\\\"'%$", *p))
                        return key_error(s, key, -EINVAL, "must not contain spaces, quotes, '\\', '%%' or '$', got '%s'", value);
        return parse_string(s, key, value, data);
}

static int parse_mode_key(ParseState *s, const ConfigKey *key, const char *value, void *data) {
        mode_t m;

        if (parse_mode(value, &m) < 0 || m > 0777)
                return key_error(s, key, -EINVAL, "must be an octal mode like 0660, got '%s'", value);
        if (m & 0007)
                return key_error(s, key, -EPERM,
                                 "%04o lets every user on the host connect; grant access through Group= instead (e.g. 0660)",
                                 (unsigned) m);
        if ((m & 0200) == 0)
                return key_error(s, key, -EINVAL, "%04o does not let the socket's owner connect", (unsigned) m);
        if ((m & 0070) && !(m & 0020))
                return key_error(s, key, -EINVAL,
                                 "%04o lets the group read but not connect (connecting needs write permission), use %04o",
                                 (unsigned) m, (unsigned) (m | 0020));
        *(mode_t *) data = m;
        return 0;
}

#define KEY(sec, nm, fn, field, rep) \
        { sec, nm, fn, offsetof(AppConfig, field), rep }

const ConfigKey config_keys[] = {
        KEY("App", "Exec", parse_exec, exec, false),
        KEY("App", "Listen", parse_listen, listen, false),
        KEY("App", "WorkingDirectory", parse_abs_path, working_directory, false),
        KEY("App", "User", parse_user, user, false),
        KEY("App", "Group", parse_user, group, false),
        KEY("App", "Environment", parse_environment, environment, true),
        KEY("App", "EnvironmentFile", parse_environment_file, environment_files, true),
        KEY("App", "PassEnvironment", parse_pass_environment, pass_environment, true),
        KEY("App", "Workers", parse_workers, workers, false),
        KEY("App", "Ready", parse_ready, ready, false),
        KEY("App", "ReadyMessage", parse_ready_message, ready_message, false),
        KEY("App", "ReadyTimeoutSec", parse_timeout, ready_timeout, false),
        KEY("App", "StopTimeoutSec", parse_timeout, stop_timeout, false),
        KEY("App", "StopSignal", parse_stop_signal_key, stop_signal, false),
        KEY("App", "HandoverSec", parse_handover, handover, false),
        KEY("App", "Standby", parse_standby, standby, false),
        KEY("App", "Suspend", parse_suspend, suspend, false),
        KEY("Socket", "Directory", parse_socket_directory, socket_directory, false),
        KEY("Socket", "Name", parse_socket_name, socket_name, false),
        KEY("Socket", "User", parse_user, socket_user, false),
        KEY("Socket", "Group", parse_user, socket_group, false),
        KEY("Socket", "Mode", parse_mode_key, socket_mode, false),
        KEY("Socket", "Backlog", parse_backlog, backlog, false),
};

_Static_assert(ELEMENTSOF(config_keys) == CONFIG_N_KEYS, "CONFIG_N_KEYS must count config_keys[]");

const ConfigKey *config_key_find(const char *section, const char *name, size_t *ret_index) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].name, name)) {
                        *ret_index = i;
                        return &config_keys[i];
                }
        return NULL;
}

/* User= and Group=, in both sections: they name accounts of the system, which a user's
 * service manager cannot switch to. */
bool config_key_names_account(const ConfigKey *key) {
        return key->parse == parse_user;
}
