/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a restart applies: the app's config as it is on disk now against each worker's
 * units as systemd has them loaded, key by key. What a new generation takes on (Exec=,
 * Environment=, ...) goes ahead after a daemon-reload; what only a new service or socket
 * takes on (User=, Group=, Workers=, [Socket]) stops the restart before anything is
 * touched, naming the command that applies it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "system-claims.h"
#include "unit-render.h"
#include "worker-options.h"

/* One worker as far as a config says: each key as one comparable string, or a list. */
typedef struct AppValues {
        char *exec, *user, *group, *working_directory, *ready, *ready_message, *ready_timeout,
                *stop_timeout, *handover, *standby, *stop_signal, *suspend, *listen, *socket, *socket_user, *socket_group,
                *socket_mode, *backlog;
        char **environment, **environment_files, **pass_environment;
} AppValues;


typedef struct KeySpec {
        const char *key;
        size_t offset;
        bool list;
        bool secret; /* values not shown, names only (Environment=) */
        KeyClass class;
} KeySpec;

#define S(k, field, cls) { k, offsetof(AppValues, field), false, false, cls }
#define L(k, field, secret, cls) { k, offsetof(AppValues, field), true, secret, cls }
static const KeySpec keys[] = {
        S("Exec=", exec, KEY_GENERATION),
        L("Environment=", environment, true, KEY_GENERATION),
        L("EnvironmentFile=", environment_files, false, KEY_GENERATION),
        L("PassEnvironment=", pass_environment, false, KEY_GENERATION),
        S("WorkingDirectory=", working_directory, KEY_GENERATION),
        S("Ready=", ready, KEY_GENERATION),
        S("ReadyMessage=", ready_message, KEY_GENERATION),
        S("ReadyTimeoutSec=", ready_timeout, KEY_GENERATION),
        S("StopTimeoutSec=", stop_timeout, KEY_GENERATION),
        S("StopSignal=", stop_signal, KEY_GENERATION),
        S("HandoverSec=", handover, KEY_GENERATION),
        S("Standby=", standby, KEY_GENERATION),
        S("User=", user, KEY_SERVICE),
        S("Group=", group, KEY_SERVICE),
        S("Listen=", listen, KEY_SERVICE),
        S("Suspend=", suspend, KEY_SERVICE),
        S("[Socket] Directory=/Name= (the socket's path)", socket, KEY_SOCKET),
        S("[Socket] User=", socket_user, KEY_SOCKET),
        S("[Socket] Group=", socket_group, KEY_SOCKET),
        S("[Socket] Mode=", socket_mode, KEY_SOCKET),
        S("[Socket] Backlog=", backlog, KEY_SOCKET),
};
#undef S
#undef L

static void app_values_done(AppValues *v) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                void *p = (uint8_t *) v + keys[i].offset;
                if (keys[i].list)
                        strv_free(*(char ***) p);
                else
                        free(*(char **) p);
        }
        *v = (AppValues) {};
}

/* An argv as one line, words with blanks or quotes in quotes. */
static char *argv_to_line(char *const *argv) {
        _cleanup_free_ char *line = strdup("");

        STRV_FOREACH(a, argv) {
                bool quote = **a == '\0' || strpbrk(*a, " \t\n\"'\\");
                char *n;

                if (asprintf(&n, "%s%s%s%s%s", line, *line ? " " : "", quote ? "'" : "", *a, quote ? "'" : "") < 0)
                        return NULL;
                free(line);
                line = n;
        }
        return TAKE_PTR(line);
}

static char *timeout_string(usec_t u) {
        return format_duration(u);
}

static char *signal_string(int sig) {
        char *s;
        return asprintf(&s, "SIG%s", sigabbrev_np(sig) ?: "?") < 0 ? NULL : s;
}

static char *uint_string(unsigned u, bool octal) {
        char *s;
        return (octal ? asprintf(&s, "%04o", u) : asprintf(&s, "%u", u)) < 0 ? NULL : s;
}

/* The values the generator's units give worker @idx, from the config on disk. */
static int values_from_config(const AppConfig *c, unsigned idx, AppValues *ret) {
        _cleanup_free_ char *num = NULL, *exec = NULL, *error = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        AppValues v = {};

        if (asprintf(&num, "%u", idx) < 0)
                return -ENOMEM;
        /* {worker} is the instance (%i in the units), in every value that has it. */
        exec = expand_worker(c->exec, num);
        if (!exec || exec_split(exec, &argv, &error) < 0)
                return -ENOMEM; /* the config was validated: only OOM is left */
        v.exec = argv_to_line(argv);
        v.user = strdup(c->user_scope ? "" : c->user ?: c->name);
        v.group = strdup(c->user_scope ? "" : strempty(c->group));
        v.working_directory = c->working_directory ? expand_worker(c->working_directory, num) : strdup("");
        v.ready = strdup(ready_protocol_to_string(c->ready));
        v.ready_message = strdup(c->ready_message ?: "\"online\"");
        v.ready_timeout = timeout_string(c->ready_timeout);
        v.stop_timeout = timeout_string(c->stop_timeout);
        v.handover = timeout_string(c->handover);
        v.standby = strdup(standby_mode_to_string(c->standby));
        v.stop_signal = signal_string(c->stop_signal);
        v.suspend = strdup(suspend_mode_to_string(c->suspend));
        v.listen = strdup(strempty(c->listen));
        v.socket = app_config_socket_path(c, idx);
        v.socket_user = strdup(c->user_scope ? "" : strempty(c->socket_user));
        v.socket_group = strdup(c->user_scope ? "" : strempty(c->socket_group));
        v.socket_mode = uint_string((unsigned) c->socket_mode, true);
        v.backlog = uint_string(c->backlog, false);
        v.environment = strv_copy(NULL);
        v.environment_files = strv_copy(NULL);
        v.pass_environment = strv_copy(c->pass_environment);
        STRV_FOREACH(e, c->environment)
                if (!v.environment || strv_consume(&v.environment, expand_worker(*e, num)) < 0)
                        goto oom;
        STRV_FOREACH(e, c->environment_files)
                if (!v.environment_files || strv_consume(&v.environment_files, expand_worker(*e, num)) < 0)
                        goto oom;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (!*(void **) ((uint8_t *) &v + keys[i].offset))
                        goto oom;
        *ret = v;
        return 0;
oom:
        app_values_done(&v);
        return -ENOMEM;
}

/* The argv of a service's first ExecStart=, or an error said. */
static int read_exec_start(sd_bus *bus, const char *path, char ***ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = get_exec_start(bus, path, &error, ret);
        if (r == -ENODATA)
                log_error_errno(r, "The worker service has no ExecStart=.");
        else if (r < 0 && sd_bus_error_is_set(&error))
                fail_bus(r, &error, "ExecStart");
        else if (r < 0)
                log_error_errno(r, "Failed to read ExecStart=: %m");
        sd_bus_error_free(&error);
        return r;
}

static int get_socket_mode(sd_bus *bus, const char *socket_unit, char **ret) {
        _cleanup_free_ char *path = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t mode = 0;
        int r;

        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", socket_unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, path, SYSTEMD_SOCKET, "SocketMode", &error, 'u', &mode);
        if (r < 0) {
                fail_bus(r, &error, "SocketMode");
                sd_bus_error_free(&error);
                return r;
        }
        *ret = uint_string(mode, true);
        return *ret ? 0 : -ENOMEM;
}

/* What the config put into worker @w's service: its unit file as sockd-generator wrote
 * it (FragmentPath), not the unit's properties, which drop-ins change too (an
 * Environment= of the administrator's, the test suite's ASAN_OPTIONS): those are not the
 * config's, and a restart neither applies nor refuses them. */
static int values_from_fragment(sd_bus *bus, const WorkerRef *w, AppValues *v) {
        _cleanup_(service_values_done) ServiceValues sv = {};
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int r;

        r = get_string(bus, w->service_path, SYSTEMD_UNIT, "FragmentPath", &path);
        if (r < 0)
                return r;
        f = fopen(path, "re");
        if (!f)
                return log_error_errno(negative_errno(), "Failed to read %s's unit file '%s': %m", w->service, path);
        r = service_values_read(f, w->index, &sv);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s's unit file '%s': %m", w->service, path);
        v->user = TAKE_PTR(sv.user);
        v->group = TAKE_PTR(sv.group);
        v->working_directory = TAKE_PTR(sv.working_directory);
        v->environment = TAKE_PTR(sv.environment);
        v->environment_files = TAKE_PTR(sv.environment_files);
        v->pass_environment = TAKE_PTR(sv.pass_environment);
        return 0;
}

/* The values worker @w's units have as systemd has them loaded. */
static int values_from_units(sd_bus *bus, const WorkerRef *w, AppValues *ret) {
        _cleanup_(worker_command_line_done) WorkerCommandLine cl = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *socket_path = NULL;
        AppValues v = {};
        int r;

        r = read_exec_start(bus, w->service_path, &argv);
        if (r < 0)
                return r;
        /* A drop-in may run it under a wrapper (valgrind, a debugger): the shim's own
         * command line starts at sockd-spawn. */
        size_t first = 0;
        while (argv[first] && !streq(basename(argv[first]), "sockd-spawn"))
                first++;
        if (!argv[first])
                return -ENOEXEC;
        r = worker_command_line_parse((int) strv_length(argv + first), argv + first, &cl);
        if (r < 0)
                return -ENOEXEC;
        if (!(v.exec = argv_to_line(cl.opts.argv)) ||
            !(v.ready = strdup(ready_protocol_to_string(cl.opts.ready))) ||
            !(v.ready_message = strdup(strempty(cl.opts.ready_message))) ||
            !(v.ready_timeout = timeout_string(cl.opts.ready_timeout)) ||
            !(v.stop_timeout = timeout_string(cl.opts.stop_timeout)) ||
            !(v.handover = timeout_string(cl.opts.handover)) ||
            !(v.standby = strdup(standby_mode_to_string(cl.opts.standby))) ||
            !(v.stop_signal = signal_string(cl.opts.stop_signal)) ||
            !(v.suspend = strdup(suspend_mode_to_string(cl.opts.suspend))) ||
            !(v.listen = strdup(strempty(cl.opts.listen))) ||
            !(v.socket = strdup(strempty(cl.opts.socket_path))) ||
            !(v.backlog = uint_string(cl.opts.backlog, false))) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = values_from_fragment(bus, w, &v)) < 0 || (r = get_socket_mode(bus, w->socket_unit, &v.socket_mode)) < 0)
                goto fail;
        {
                _cleanup_free_ char *socket_object = NULL;

                r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", w->socket_unit, &socket_object);
                if (r >= 0)
                        r = get_string(bus, socket_object, SYSTEMD_SOCKET, "SocketUser", &v.socket_user);
                if (r >= 0)
                        r = get_string(bus, socket_object, SYSTEMD_SOCKET, "SocketGroup", &v.socket_group);
                if (r < 0)
                        goto fail;
        }
        /* The units make every EnvironmentFile= optional for systemd; the required ones
         * are those the shim checks (--environment-file=). */
        STRV_FOREACH(e, v.environment_files)
                if ((*e)[0] == '-' && strv_contains(cl.opts.environment_files, *e + 1))
                        memmove(*e, *e + 1, strlen(*e));
        *ret = v;
        return 0;
fail:
        app_values_done(&v);
        return r;
}

static void print_applies(FILE *f, KeyClass class, const char *app) {
        switch (class) {
        case KEY_SERVICE:
                fprintf(f, "User=, Group=, Listen= and Suspend= take a stop and a start of every worker (requests "
                        "queue in the sockets meanwhile): 'systemctl daemon-reload && systemctl restart %s@*.service'.\n",
                        app);
                break;
        case KEY_WORKERS:
                fprintf(f, "Workers= is not a restart's: run 'systemctl daemon-reload', then 'sockdctl start %s' starts "
                        "the workers it adds ('systemctl stop' those it drops).\n", app);
                break;
        case KEY_SOCKET:
                fprintf(f, "The [Socket] keys take new sockets, which refuse connections while they are down: "
                        "'sockdctl stop %s && systemctl daemon-reload && sockdctl start %s'.\n", app, app);
                break;
        default:
                break;
        }
}

void config_plan_done(ConfigPlan *p) {
        for (size_t i = 0; i < p->n_changes; i++) {
                free(p->changes[i].service);
                free(p->changes[i].text);
        }
        free(p->changes);
        free(p->path);
        free(p->sources);
        *p = (ConfigPlan) {};
}

static int plan_add(ConfigPlan *p, const char *service, const KeySpec *k, char *text) {
        ConfigChange *n;

        if (!text)
                return -ENOMEM;
        n = realloc(p->changes, sizeof *n * (p->n_changes + 1));
        if (!n) {
                free(text);
                return -ENOMEM;
        }
        p->changes = n;
        n[p->n_changes] = (ConfigChange) {
                .service = strdup(service),
                .key = k->key,
                .text = text,
                .refused = k->class != KEY_GENERATION,
                .class = k->class,
        };
        if (!n[p->n_changes].service)
                return -ENOMEM;
        p->n_changes++;
        if (k->class != KEY_GENERATION)
                p->refused = true;
        return 0;
}

static char *change_text(const KeySpec *k, const void *old, const void *new) {
        char *t;

        if (k->list && k->secret)
                return strv_env_diff(old, new);
        if (k->list) {
                _cleanup_free_ char *o = strv_join(old, " "), *n = strv_join(new, " ");
                if (!o || !n)
                        return NULL;
                return asprintf(&t, "'%s' -> '%s'", o, n) < 0 ? NULL : t;
        }
        return asprintf(&t, "'%s' -> '%s'", (const char *) old, (const char *) new) < 0 ? NULL : t;
}

int config_plan_load(sd_bus *bus, const App *a, ConfigPlan *ret) {
        _cleanup_(config_plan_done) ConfigPlan p = {};
        _cleanup_strv_free_ char **search = NULL;
        _cleanup_free_ char *error = NULL;
        _cleanup_system_claims_ SystemClaims *claims = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;
        int r;

        search = config_search_path(arg_user);
        if (!search)
                return log_oom();
        r = config_find(search, a->name, &p.path);
        if (r == -ENOENT) {
                log_error("The config of %s is gone (no %s.conf in %s): nothing to restart to. Put it back, or "
                          "stop the app with 'sockdctl stop %s'.", a->name, a->name, search[0], a->name);
                return -EINVAL;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to look for the config of %s: %m", a->name);

        /* What sockd-generator checks at a daemon-reload, and what the running system
         * must have for the new generations: a config it would refuse must not get that
         * far, or the reload would drop the app's units. */
        r = system_claims_load(arg_user, &claims);
        if (r < 0)
                return log_oom();
        const ConfigContext ctx = { .user_scope = arg_user, .check_system = true, .claims = claims, .search = search };
        r = app_config_load_context(p.path, &ctx, &c, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_error("%s", error ?: "invalid configuration");
                log_error("Nothing was restarted: every worker of %s keeps serving what it serves.", a->name);
                return -EINVAL;
        }
        p.sources = app_config_sources(c);
        if (!p.sources)
                return log_oom();

        for (unsigned i = 0; i < a->n_workers; i++) {
                const WorkerRef *w = &a->workers[i];
                _cleanup_(app_values_done) AppValues old = {}, new = {};

                r = values_from_units(bus, w, &old);
                if (r == -ENOEXEC) {
                        /* Checked already: the config loads. What the unit runs is
                         * not sockd-spawn as the generator writes it. */
                        log_warning("%s does not run sockd-spawn as sockd-generator writes it: its units are not "
                                    "compared with %s, the restart applies them as systemd has them loaded.",
                                    w->service, p.sources);
                        continue;
                }
                if (r < 0)
                        return r;
                r = values_from_config(c, w->index, &new);
                if (r < 0)
                        return log_oom();
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        const void *o = *(void **) ((uint8_t *) &old + keys[k].offset);
                        const void *n = *(void **) ((uint8_t *) &new + keys[k].offset);

                        if (keys[k].list ? strv_equal(o, n) : streq(o, n))
                                continue;
                        r = plan_add(&p, w->service, &keys[k], change_text(&keys[k], o, n));
                        if (r < 0)
                                return log_oom();
                }
        }
        p.workers = c->workers;
        if (c->workers != a->n_workers) {
                static const KeySpec workers = { "Workers=", 0, false, false, KEY_WORKERS };
                char *t;

                if (asprintf(&t, "%u -> %u", a->n_workers, c->workers) < 0 || plan_add(&p, a->name, &workers, t) < 0)
                        return log_oom();
        }

        /* Also for an edit that changes no key (a comment): systemd says the units are
         * out of date, and a later restart of the worker would read them anyway. */
        if (a->n_workers > 0) {
                int need = 0;
                sd_bus_error e = SD_BUS_ERROR_NULL;

                if (sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, a->workers[0].service_path, SYSTEMD_UNIT,
                                                "NeedDaemonReload", &e, 'b', &need) < 0)
                        need = 0;
                sd_bus_error_free(&e);
                p.need_reload = need;
        }
        p.need_reload = p.need_reload || p.n_changes > 0;
        *ret = p;
        p = (ConfigPlan) {};
        return 0;
}

void config_plan_print(const ConfigPlan *p, const App *a, FILE *f, bool refused_only) {
        for (unsigned i = 0; i <= a->n_workers; i++) {
                /* The workers, then the app's own (Workers=). */
                const char *unit = i < a->n_workers ? a->workers[i].service : a->name;
                bool any = false;

                for (size_t k = 0; k < p->n_changes; k++) {
                        const ConfigChange *c = &p->changes[k];

                        if (!streq(c->service, unit) || (refused_only && !c->refused))
                                continue;
                        if (!any)
                                fprintf(f, "%s:\n", unit);
                        any = true;
                        fprintf(f, "  %s %s%s\n", c->key, c->text, c->refused ? " (a restart cannot apply it)" : "");
                }
                if (!any && i < a->n_workers && !refused_only)
                        fprintf(f, "%s: no change\n", unit);
        }
        for (KeyClass class = KEY_SERVICE; class <= KEY_SOCKET; class++)
                for (size_t k = 0; k < p->n_changes; k++)
                        if (p->changes[k].class == (int) class) {
                                print_applies(f, class, a->name);
                                break;
                        }
}
