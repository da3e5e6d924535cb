/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "strv.h"
#include "unit-render.h"
#include "unit-templates.h"

static const char *vars_lookup(const char *const *vars, const char *name, size_t len) {
        for (const char *const *v = vars; v && v[0] && v[1]; v += 2)
                if (strlen(v[0]) == len && strncmp(v[0], name, len) == 0)
                        return v[1];
        return NULL;
}

int template_render(const char *tmpl, const char *const *vars, char **ret, char **ret_unknown) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        for (const char *line = tmpl; *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *p = line;
                bool only_placeholder = false;
                size_t start = (size_t) ftell(f);

                while (p < eol) {
                        const char *open = strstr(p, "{{"), *close, *value;

                        if (!open || open >= eol) {
                                fwrite(p, 1, eol - p, f);
                                break;
                        }
                        close = strstr(open + 2, "}}");
                        if (!close || close > eol) {
                                fclose(f);
                                if (ret_unknown)
                                        *ret_unknown = strndup(open, eol - open);
                                return -EBADMSG;
                        }
                        value = vars_lookup(vars, open + 2, close - open - 2);
                        if (!value) {
                                fclose(f);
                                if (ret_unknown)
                                        *ret_unknown = strndup(open + 2, close - open - 2);
                                return -ENOKEY;
                        }
                        only_placeholder = open == line && close + 2 == eol;
                        fwrite(p, 1, open - p, f);
                        fputs(value, f);
                        p = close + 2;
                }

                if (only_placeholder && (size_t) ftell(f) == start)
                        ; /* an empty block: drop its line */
                else
                        fputc('\n', f);
                line = *eol ? eol + 1 : eol;
        }

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static char *escape_chars(const char *s, const char *specials, const char *escapes[]) {
        size_t n = 1;
        char *out, *o;

        for (const char *p = s; *p; p++) {
                const char *hit = strchr(specials, *p);
                n += hit ? strlen(escapes[hit - specials]) : 1;
        }
        out = o = malloc(n);
        if (!out)
                return NULL;
        for (const char *p = s; *p; p++) {
                const char *hit = strchr(specials, *p);
                if (hit)
                        o = stpcpy(o, escapes[hit - specials]);
                else
                        *o++ = *p;
        }
        *o = 0;
        return out;
}

char *unit_quote_exec_word(const char *s) {
        static const char *escapes[] = { "\\\\", "\\\"", "%%", "$$" };
        _cleanup_free_ char *e = escape_chars(s, "\\\"%$", escapes);
        char *q;

        if (!e || asprintf(&q, "\"%s\"", e) < 0)
                return NULL;
        return q;
}

/* For values systemd runs through specifier expansion: a literal '%' becomes "%%" and
 * then our {worker} becomes systemd's instance specifier. */
static char *unit_value(const char *s) {
        _cleanup_free_ char *e = escape_specifiers(s);
        return e ? expand_worker(e, "%i") : NULL;
}

/* Environment="NAME=value": inside quotes systemd applies C escapes. */
static char *unit_environment_line(const char *assignment) {
        static const char *escapes[] = { "\\\\", "\\\"" };
        _cleanup_free_ char *v = unit_value(assignment), *e = NULL;
        char *line;

        if (!v)
                return NULL;
        e = escape_chars(v, "\\\"", escapes);
        if (!e || asprintf(&line, "Environment=\"%s\"", e) < 0)
                return NULL;
        return line;
}

void app_units_done(AppUnits *u) {
        free(u->socket);
        free(u->service);
        free(u->target);
        free(u->tmpfiles);
        *u = (AppUnits) {};
}

/* Appends one line to a block of unit lines. */
static int append_line(char **block, const char *line) {
        char *n;

        if (asprintf(&n, "%s%s%s", strempty(*block), *block ? "\n" : "", line) < 0)
                return -ENOMEM;
        free(*block);
        *block = n;
        return 0;
}

_printf_(2, 3) static int append_linef(char **block, const char *fmt, ...) {
        _cleanup_free_ char *line = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return append_line(block, line);
}

static int render_environment(const AppConfig *c, char **ret) {
        _cleanup_free_ char *block = NULL;
        int r;

        STRV_FOREACH(e, c->environment) {
                _cleanup_free_ char *line = unit_environment_line(*e);
                if (!line)
                        return -ENOMEM;
                r = append_line(&block, line);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(e, c->environment_files) {
                /* Always optional for systemd, whose error would name no file: the shim
                 * checks the required ones (--environment-file=) and says which. */
                _cleanup_free_ char *v = unit_value(*e[0] == '-' ? *e + 1 : *e);
                if (!v)
                        return -ENOMEM;
                r = append_linef(&block, "EnvironmentFile=-%s", v);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(e, c->pass_environment) {
                r = append_linef(&block, "PassEnvironment=%s", *e);
                if (r < 0)
                        return r;
        }
        *ret = block ? TAKE_PTR(block) : strdup("");
        return *ret ? 0 : -ENOMEM;
}

/* " \"--environment-file=PATH\"..." for the EnvironmentFile=s that must exist. */
static int render_environment_file_args(const AppConfig *c, char **ret) {
        _cleanup_free_ char *args = strdup("");

        if (!args)
                return -ENOMEM;
        STRV_FOREACH(e, c->environment_files) {
                _cleanup_free_ char *arg = NULL, *quoted = NULL, *worker = NULL;
                char *n;

                if (*e[0] == '-')
                        continue;
                if (asprintf(&arg, "--environment-file=%s", *e) < 0)
                        return -ENOMEM;
                /* Quote before {worker} becomes %i: quoting doubles every '%'. */
                quoted = unit_quote_exec_word(arg);
                worker = quoted ? expand_worker(quoted, "%i") : NULL;
                if (!worker || asprintf(&n, "%s %s", args, worker) < 0)
                        return -ENOMEM;
                free(args);
                args = n;
        }
        *ret = TAKE_PTR(args);
        return 0;
}

static int render_credentials(const AppConfig *c, char **ret) {
        _cleanup_free_ char *block = NULL;
        int r;

        if (c->user_scope) /* the user's own manager runs everything as the user */
                return (*ret = strdup("")) ? 0 : -ENOMEM;
        if (c->user)
                r = append_linef(&block, "User=%s", c->user);
        else {
                /* Never root by default: a transient user named after the app. */
                r = append_linef(&block, "# No User= in %s: a dynamic, unprivileged user.", c->path);
                if (r >= 0)
                        r = append_line(&block, "DynamicUser=yes");
                if (r >= 0)
                        r = append_linef(&block, "User=%s", c->name);
        }
        if (r >= 0 && c->group)
                r = append_linef(&block, "Group=%s", c->group);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(block);
        return 0;
}

int app_units_render(const AppConfig *c, const char *tmpfiles_path, AppUnits *ret) {
        _cleanup_free_ char *exec = NULL, *socket_name = NULL, *socket = NULL, *socket_q = NULL,
                            *app_q = NULL, *tmpfiles_q = NULL, *workdir = NULL, *environment = NULL,
                            *credentials = NULL, *worker_units = NULL, *ready_timeout = NULL,
                            *stop_timeout = NULL, *handover = NULL, *start_timeout = NULL, *stop_timeout_unit = NULL,
                            *source = NULL, *mode = NULL, *backlog = NULL, *workers = NULL,
                            *unknown = NULL, *environment_file_args = NULL, *stop_signal = NULL,
                            *ready_message_arg = NULL, *listen_arg = NULL;
        AppUnits u = {};
        int r;

        exec = unit_value(c->exec);
        source = escape_specifiers(c->path);
        socket_name = expand_worker(c->socket_name, "%i");
        if (!exec || !source || !socket_name)
                return -ENOMEM;
        if (asprintf(&socket, "%s/%s", c->socket_directory, socket_name) < 0)
                return -ENOMEM;
        {
                /* Quote before {worker} becomes %i: quoting doubles every '%'. */
                _cleanup_free_ char *arg = NULL, *quoted = NULL;

                if (asprintf(&arg, "--socket=%s/%s", c->socket_directory, c->socket_name) < 0)
                        return -ENOMEM;
                quoted = unit_quote_exec_word(arg);
                socket_q = quoted ? expand_worker(quoted, "%i") : NULL;
                free(arg);
                if (asprintf(&arg, "--app=%s", c->name) < 0)
                        return -ENOMEM;
                app_q = unit_quote_exec_word(arg);
        }
        tmpfiles_q = unit_quote_exec_word(tmpfiles_path);
        if (!socket_q || !app_q || !tmpfiles_q)
                return -ENOMEM;

        if (c->working_directory) {
                _cleanup_free_ char *v = unit_value(c->working_directory);
                if (!v || asprintf(&workdir, "WorkingDirectory=%s", v) < 0)
                        return -ENOMEM;
        } else if (!(workdir = strdup("")))
                return -ENOMEM;

        r = render_environment(c, &environment);
        if (r < 0)
                return r;
        r = render_credentials(c, &credentials);
        if (r < 0)
                return r;
        r = render_environment_file_args(c, &environment_file_args);
        if (r < 0)
                return r;
        if (c->listen) {
                _cleanup_free_ char *arg = NULL, *quoted = NULL;

                if (asprintf(&arg, "--listen=%s", c->listen) < 0 || !(quoted = unit_quote_exec_word(arg)) ||
                    asprintf(&listen_arg, " %s", quoted) < 0)
                        return -ENOMEM;
        } else if (!(listen_arg = strdup("")))
                return -ENOMEM;
        if (c->ready_message) {
                _cleanup_free_ char *arg = NULL, *quoted = NULL;

                if (asprintf(&arg, "--ready-message=%s", c->ready_message) < 0 || !(quoted = unit_quote_exec_word(arg)) ||
                    asprintf(&ready_message_arg, " %s", quoted) < 0)
                        return -ENOMEM;
        } else if (!(ready_message_arg = strdup("")))
                return -ENOMEM;

        for (unsigned i = 0; i < c->workers; i++) {
                char *n;
                if (asprintf(&n, "%s%s%s@%u.service", strempty(worker_units), worker_units ? " " : "",
                             c->name, i) < 0)
                        return -ENOMEM;
                free(worker_units);
                worker_units = n;
        }

        ready_timeout = format_duration(c->ready_timeout);
        stop_timeout = format_duration(c->stop_timeout);
        handover = format_duration(c->handover);
        /* Covers the shim's crash back-off and the app's own readiness; a reload is
         * bounded by it too (systemd applies TimeoutStartSec= to ExecReload=). */
        start_timeout = format_duration(c->ready_timeout + SOCKD_BACKOFF_MAX_USEC + 10 * USEC_PER_SEC);
        stop_timeout_unit = format_duration(c->stop_timeout + 5 * USEC_PER_SEC);
        if (!ready_timeout || !stop_timeout || !handover || !start_timeout || !stop_timeout_unit)
                return -ENOMEM;
        if (asprintf(&stop_signal, "SIG%s", sigabbrev_np(c->stop_signal) ?: "TERM") < 0 ||
            asprintf(&mode, "%04o", (unsigned) c->socket_mode) < 0 ||
            asprintf(&backlog, "%u", c->backlog) < 0 || asprintf(&workers, "%u", c->workers) < 0)
                return -ENOMEM;

        const char *const vars[] = {
                "APP", c->name,
                "APP_ARG", app_q,
                "SOURCE", source,
                "EXEC", exec,
                "WORKERS", workers,
                "WORKER_UNITS", worker_units,
                "READY", ready_protocol_to_string(c->ready),
                "READY_TIMEOUT", ready_timeout,
                "STOP_TIMEOUT", stop_timeout,
                "HANDOVER", handover,
                "STANDBY_ARG", c->standby == STANDBY_SERVING ? " --standby=serving" : c->standby == STANDBY_YES ? " --standby" : "",
                "STOP_SIGNAL", stop_signal,
                "START_TIMEOUT", start_timeout,
                "STOP_TIMEOUT_UNIT", stop_timeout_unit,
                "SUSPEND", suspend_mode_to_string(c->suspend),
                "SOCKET", socket,
                "SOCKET_ARG", socket_q,
                "SOCKET_DIRECTORY", c->socket_directory,
                "SOCKET_USER", strempty(c->socket_user),
                "SOCKET_GROUP", strempty(c->socket_group),
                /* Prefixes what only the system manager can do: commented out for users. */
                "SYSTEM", c->user_scope ? "#" : "",
                "TMPFILES_SCOPE", c->user_scope ? "--user " : "",
                "SOCKET_MODE", mode,
                "BACKLOG", backlog,
                "TMPFILES", tmpfiles_q,
                "CREDENTIALS", credentials,
                "WORKING_DIRECTORY", workdir,
                "ENVIRONMENT", environment,
                "ENVIRONMENT_FILE_ARGS", environment_file_args,
                "READY_MESSAGE_ARG", ready_message_arg,
                "LISTEN_ARG", listen_arg,
                NULL,
        };

        r = template_render(unit_template_socket, vars, &u.socket, &unknown);
        if (r >= 0)
                r = template_render(unit_template_service, vars, &u.service, &unknown);
        if (r >= 0)
                r = template_render(unit_template_target, vars, &u.target, &unknown);
        if (r >= 0 &&
            asprintf(&u.tmpfiles,
                     "# Socket directory of the sockd app %s, from %s.\n"
                     "d %s %s %s %s -\n",
                     c->name, c->path, c->socket_directory, c->user_scope ? "0750" : "2750",
                     c->user_scope ? "-" : c->socket_user, c->user_scope ? "-" : c->socket_group) < 0)
                r = -ENOMEM;
        if (r < 0) {
                app_units_done(&u);
                return r;
        }
        *ret = u;
        return 0;
}

/* ---- reading back what app_units_render() wrote ---- */

/* A value as unit_value() writes it: "%%" is '%', "%i" the worker. */
static char *unit_unescape_specifiers(const char *s, unsigned idx) {
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        if (!f)
                return NULL;
        for (; *s; s++) {
                if (s[0] == '%' && s[1] == '%')
                        fputc('%', f);
                else if (s[0] == '%' && s[1] == 'i')
                        fprintf(f, "%u", idx);
                else {
                        fputc(*s, f);
                        continue;
                }
                s++;
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(out);
}

/* Environment="NAME=value" as unit_environment_line() writes it: quoted, with \\ and \". */
static char *unit_unquote_environment(const char *v) {
        size_t n = strlen(v);
        char *out, *o;

        if (n < 2 || v[0] != '"' || v[n - 1] != '"')
                return strdup(v);
        out = o = malloc(n);
        if (!out)
                return NULL;
        for (size_t i = 1; i < n - 1; i++) {
                if (v[i] == '\\' && i + 1 < n - 1)
                        i++;
                *o++ = v[i];
        }
        *o = 0;
        return out;
}

void service_values_done(ServiceValues *v) {
        free(v->user);
        free(v->group);
        free(v->working_directory);
        strv_free(v->environment);
        strv_free(v->environment_files);
        strv_free(v->pass_environment);
        *v = (ServiceValues) {};
}

int service_values_read(FILE *f, unsigned worker, ServiceValues *ret) {
        _cleanup_(service_values_done) ServiceValues v = {};
        _cleanup_free_ char *line = NULL;
        bool service = false;
        size_t size = 0;

        if (!(v.user = strdup("")) || !(v.group = strdup("")) || !(v.working_directory = strdup("")) ||
            !(v.environment = strv_copy(NULL)) || !(v.environment_files = strv_copy(NULL)) ||
            !(v.pass_environment = strv_copy(NULL)))
                return -ENOMEM;
        while (getline(&line, &size, f) >= 0) {
                char *eq, *value;

                line[strcspn(line, "\n")] = 0;
                if (line[0] == '[') {
                        service = streq(line, "[Service]");
                        continue;
                }
                eq = strchr(line, '=');
                if (!service || line[0] == '#' || !eq)
                        continue;
                *eq = 0;
                char **field = streq(line, "User") ? &v.user :
                               streq(line, "Group") ? &v.group :
                               streq(line, "WorkingDirectory") ? &v.working_directory : NULL;
                char ***list = streq(line, "Environment") ? &v.environment :
                               streq(line, "EnvironmentFile") ? &v.environment_files :
                               streq(line, "PassEnvironment") ? &v.pass_environment : NULL;
                if (!field && !list)
                        continue;
                if (list == &v.environment) {
                        _cleanup_free_ char *unquoted = unit_unquote_environment(eq + 1);
                        value = unquoted ? unit_unescape_specifiers(unquoted, worker) : NULL;
                } else
                        value = unit_unescape_specifiers(eq + 1, worker);
                if (!value)
                        return -ENOMEM;
                if (field) {
                        free(*field);
                        *field = value;
                } else if (strv_consume(list, value) < 0)
                        return -ENOMEM;
        }
        if (ferror(f))
                return -EIO;
        *ret = v;
        v = (ServiceValues) {};
        return 0;
}
