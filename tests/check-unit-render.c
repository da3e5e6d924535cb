/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "macro.h"
#include "parse-util.h"
#include "strv.h"
#include "test-util.h"
#include "unit-render.h"

static char *tmpdir;

static void setup_tmpdir(void) {
        tmpdir = test_tmpdir_new();
}

static void teardown_tmpdir(void) {
        test_rm_rf(tmpdir);
        free(tmpdir);
        tmpdir = NULL;
}

/* ---- template_render ---- */

static char *render_ok(const char *tmpl, const char *const *vars) {
        char *out = NULL, *unknown = NULL;
        int r = template_render(tmpl, vars, &out, &unknown);

        ck_assert_msg(r == 0, "rendering '%s' failed: %d (%s)", tmpl, r, strempty(unknown));
        ck_assert_ptr_null(unknown);
        ck_assert_ptr_nonnull(out);
        return out;
}

START_TEST(test_template_substitution) {
        const char *const vars[] = { "NAME", "world", "A", "1", "AB", "two", "EMPTY", "", NULL };
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        a = render_ok("Hello {{NAME}}!\nA={{A}} AB={{AB}} E={{EMPTY}}.\n", vars);
        ck_assert_str_eq(a, "Hello world!\nA=1 AB=two E=.\n");

        /* Every line ends in a newline, also the last one of a template without it. */
        b = render_ok("x{{A}}", vars);
        ck_assert_str_eq(b, "x1\n");

        /* Empty lines and text without placeholders are kept as they are. */
        c = render_ok("a\n\nb {single} {worker} }} {{A}}{{A}}\n", vars);
        ck_assert_str_eq(c, "a\n\nb {single} {worker} }} 11\n");

        d = render_ok("", vars);
        ck_assert_str_eq(d, "");

        /* Values are not expanded again. */
        {
                const char *const v2[] = { "A", "{{B}}", "B", "no", NULL };
                e = render_ok("{{A}}\n", v2);
                ck_assert_str_eq(e, "{{B}}\n");
        }
}
END_TEST

START_TEST(test_template_drops_empty_placeholder_lines) {
        const char *const vars[] = { "EMPTY", "", "FULL", "x", "BLOCK", "l1\nl2", NULL };
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        a = render_ok("a\n{{EMPTY}}\nb\n", vars);
        ck_assert_str_eq(a, "a\nb\n");

        b = render_ok("a\n{{FULL}}\n{{BLOCK}}\nb\n{{EMPTY}}", vars);
        ck_assert_str_eq(b, "a\nx\nl1\nl2\nb\n");

        /* Only a line that is nothing but the placeholder goes away. */
        c = render_ok("[{{EMPTY}}]\nK={{EMPTY}}\n {{EMPTY}}\n", vars);
        ck_assert_str_eq(c, "[]\nK=\n \n");

        d = render_ok("{{EMPTY}}\n{{EMPTY}}\n\nend\n", vars);
        ck_assert_str_eq(d, "\nend\n");
}
END_TEST

START_TEST(test_template_unknown_placeholder) {
        const char *const vars[] = { "A", "1", NULL };
        char *out = (char *) "untouched", *unknown = NULL;

        ck_assert_int_eq(template_render("a={{A}}\nb={{NOPE}}\n", vars, &out, &unknown), -ENOKEY);
        ck_assert_str_eq(out, "untouched");
        ck_assert_str_eq(unknown, "NOPE");
        free(unknown);
        unknown = NULL;

        /* A prefix of a known name is not that name. */
        ck_assert_int_eq(template_render("{{AB}}\n", vars, &out, &unknown), -ENOKEY);
        ck_assert_str_eq(unknown, "AB");
        free(unknown);
        unknown = NULL;

        ck_assert_int_eq(template_render("{{}}\n", vars, &out, &unknown), -ENOKEY);
        ck_assert_str_eq(unknown, "");
        free(unknown);

        /* No vars at all, and no interest in the name. */
        ck_assert_int_eq(template_render("{{A}}\n", NULL, &out, NULL), -ENOKEY);
        ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(test_template_unterminated) {
        const char *const vars[] = { "A", "1", NULL };
        char *out = (char *) "untouched", *unknown = NULL;

        ck_assert_int_eq(template_render("ok={{A}}\nbad={{A\n", vars, &out, &unknown), -EBADMSG);
        ck_assert_str_eq(out, "untouched");
        ck_assert_ptr_nonnull(unknown);
        ck_assert_str_startswith(unknown, "{{A");
        free(unknown);
        unknown = NULL;

        /* The closing braces must be on the same line. */
        ck_assert_int_eq(template_render("x={{A\n}}\n", vars, &out, &unknown), -EBADMSG);
        ck_assert_str_eq(out, "untouched");
        free(unknown);

        ck_assert_int_eq(template_render("{{", vars, &out, NULL), -EBADMSG);
        ck_assert_str_eq(out, "untouched");
}
END_TEST

/* ---- unit_quote_exec_word ---- */

START_TEST(test_quote_exec_word) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain", "\"plain\"" },
                { "", "\"\"" },
                { "a b", "\"a b\"" },
                { "say \"hi\"", "\"say \\\"hi\\\"\"" },
                { "C:\\dir\\", "\"C:\\\\dir\\\\\"" },
                { "100%", "\"100%%\"" },
                { "%i", "\"%%i\"" },
                { "$HOME", "\"$$HOME\"" },
                { "${A}$", "\"$${A}$$\"" },
                { "'single'", "\"'single'\"" },
                { "\\\"%$", "\"\\\\\\\"%%$$\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *q = unit_quote_exec_word(cases[i].in);
                ck_assert_msg(q && streq(q, cases[i].out), "'%s' quoted as '%s', expected '%s'", cases[i].in,
                              strempty(q), cases[i].out);
        }
}
END_TEST

/* ---- app_units_render ---- */

static AppConfig *load(const char *name, const char *content) {
        _cleanup_free_ char *path = test_write_file(tmpdir, name, content), *error = NULL;
        AppConfig *c = NULL;
        int r = app_config_load(path, &c, &error);

        ck_assert_msg(r == 0, "%s: %s", path, strempty(error));
        return c;
}

static unsigned count_empty_lines(const char *s) {
        unsigned n = s[0] == '\n';

        for (const char *p = s; (p = strstr(p, "\n\n")); p++)
                n++;
        return n;
}

static void assert_rendered_sane(const AppUnits *u) {
        ck_assert_ptr_nonnull(u->socket);
        ck_assert_ptr_nonnull(u->service);
        ck_assert_ptr_nonnull(u->target);
        ck_assert_ptr_nonnull(u->tmpfiles);
        ck_assert_ptr_null(strstr(u->socket, "{{"));
        ck_assert_ptr_null(strstr(u->service, "{{"));
        ck_assert_ptr_null(strstr(u->target, "{{"));
        ck_assert_ptr_null(strstr(u->service, "{worker}"));
        ck_assert_ptr_null(strstr(u->socket, "{worker}"));
        ck_assert_ptr_null(strstr(u->service, "\n\n\n"));
        ck_assert_ptr_null(strstr(u->socket, "\n\n\n"));
}

static usec_t line_duration(const char *text, const char *key) {
        _cleanup_free_ char *line = test_find_line(text, key);
        usec_t u = 0;

        ck_assert_msg(line, "no %s line in:\n%s", key, text);
        ck_assert_msg(parse_duration(line + strlen(key), &u) == 0, "'%s' is no duration", line);
        return u;
}

static void assert_line_ends_with(const char *line, const char *suffix) {
        size_t l = strlen(line), s = strlen(suffix);

        ck_assert_msg(l >= s && streq(line + l - s, suffix), "'%s' does not end with '%s'", line, suffix);
}

#define TMPFILES_PATH "/tmp/gen dir/50%$x.conf"

START_TEST(test_render_full) {
        _cleanup_free_ char *content = NULL, *expected = NULL, *exec = NULL, *reload = NULL, *pre = NULL,
                            *after = NULL, *source = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;
        AppUnits u = {};
        const char *p1, *p2, *p3;

        ck_assert_int_ge(asprintf(&content,
                                  "[App]\n"
                                  "Exec=/usr/bin/node /srv/myapp/server.js --port=80{worker} --label=50%% --raw=%%i\n"
                                  "WorkingDirectory=/srv/myapp\n"
                                  "User=%s\n"
                                  "Group=%s\n"
                                  "Environment=NODE_ENV=production\n"
                                  "Environment=MSG=say \"hi\" \\ 100%%\n"
                                  "Environment=PORT=80{worker}\n"
                                  "EnvironmentFile=-/etc/myapp/env\n"
                                  "PassEnvironment=DATABASE_URL HOME\n"
                                  "Workers=3\n"
                                  "Ready=node-ipc\n"
                                  "ReadyTimeoutSec=45\n"
                                  "StopTimeoutSec=500ms\n"
                                  "HandoverSec=0\n"
                                  "Standby=yes\n"
                                  "StopSignal=INT\n"
                                  "Suspend=hold\n"
                                  "[Socket]\n"
                                  "Directory=/run/myapp\n"
                                  "Group=%s\n"
                                  "Mode=0660\n"
                                  "Backlog=1024\n",
                                  test_root_user(), test_root_group(), test_root_group()),
                         0);
        c = load("myapp.conf", content);
        ck_assert_int_eq(app_units_render(c, TMPFILES_PATH, &u), 0);
        assert_rendered_sane(&u);

        /* APP@.socket */
        ck_assert_has_line(u.socket, "ListenStream=/run/myapp/myapp.%i.sock");
        free(expected);
        ck_assert_int_ge(asprintf(&expected, "SocketUser=%s", test_root_user()), 0);
        ck_assert_has_line(u.socket, expected);
        free(expected);
        ck_assert_int_ge(asprintf(&expected, "SocketGroup=%s", test_root_group()), 0);
        ck_assert_has_line(u.socket, expected);
        ck_assert_has_line(u.socket, "SocketMode=0660");
        ck_assert_has_line(u.socket, "Backlog=1024");
        ck_assert_has_line(u.socket, "FileDescriptorName=myapp.%i");
        pre = test_find_line(u.socket, "ExecStartPre=");
        ck_assert_ptr_nonnull(pre);
        ck_assert_str_contains(pre, "systemd-tmpfiles");
        ck_assert_str_contains(pre, " --create ");
        assert_line_ends_with(pre, " \"/tmp/gen dir/50%%$$x.conf\"");
        ck_assert_int_ge(asprintf(&source, "SourcePath=%s", c->path), 0);
        ck_assert_has_line(u.socket, source);

        /* APP@.service */
        ck_assert_has_line(u.service, "Requires=myapp@%i.socket");
        after = test_find_line(u.service, "After=");
        ck_assert_ptr_nonnull(after);
        ck_assert_str_contains(after, "myapp@%i.socket");
        ck_assert_has_line(u.service, "Type=notify");
        ck_assert_has_line(u.service, "StartLimitIntervalSec=0");
        ck_assert_has_line(u.service, "Restart=on-failure");
        ck_assert_has_line(u.service, source);

        exec = test_find_line(u.service, "ExecStart=");
        ck_assert_ptr_nonnull(exec);
        ck_assert_uint_eq(test_count_lines(u.service, "ExecStart="), 1);
        ck_assert_str_startswith(exec, "ExecStart=" SOCKD_SPAWN_PATH " ");
        ck_assert_str_contains(exec, " \"--app=myapp\" ");
        ck_assert_str_contains(exec, " --worker=%i ");
        ck_assert_str_contains(exec, " --workers=3 ");
        ck_assert_str_contains(exec, " --ready=node-ipc ");
        ck_assert_str_contains(exec, " --ready-timeout=45s ");
        ck_assert_str_contains(exec, " --stop-timeout=500ms ");
        ck_assert_str_contains(exec, " --handover=0s --standby ");
        ck_assert_str_contains(exec, " --stop-signal=SIGINT ");
        ck_assert_str_contains(exec, " --suspend=hold ");
        ck_assert_str_contains(exec, " \"--socket=/run/myapp/myapp.%i.sock\" ");
        /* The app's command comes last, {worker} as %i and a literal '%' doubled. */
        assert_line_ends_with(exec, " -- /usr/bin/node /srv/myapp/server.js --port=80%i --label=50%% --raw=%%i");

        reload = test_find_line(u.service, "ExecReload=");
        ck_assert_ptr_nonnull(reload);
        ck_assert_str_startswith(reload, "ExecReload=" SOCKD_SPAWN_PATH " ");
        ck_assert_str_contains(reload, "--reload");

        free(expected);
        ck_assert_int_ge(asprintf(&expected, "User=%s", test_root_user()), 0);
        ck_assert_has_line(u.service, expected);
        free(expected);
        ck_assert_int_ge(asprintf(&expected, "Group=%s", test_root_group()), 0);
        ck_assert_has_line(u.service, expected);
        ck_assert_uint_eq(test_count_lines(u.service, "DynamicUser="), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "User="), 1);
        ck_assert_has_line(u.service, "WorkingDirectory=/srv/myapp");

        ck_assert_uint_eq(test_count_lines(u.service, "Environment="), 3);
        p1 = strstr(u.service, "\nEnvironment=\"NODE_ENV=production\"\n");
        p2 = strstr(u.service, "\nEnvironment=\"MSG=say \\\"hi\\\" \\\\ 100%%\"\n");
        p3 = strstr(u.service, "\nEnvironment=\"PORT=80%i\"\n");
        ck_assert_msg(p1 && p2 && p3, "Environment= lines missing or wrong in:\n%s", u.service);
        ck_assert_msg(p1 < p2 && p2 < p3, "Environment= lines out of order in:\n%s", u.service);
        ck_assert_has_line(u.service, "EnvironmentFile=-/etc/myapp/env");
        ck_assert_has_line(u.service, "PassEnvironment=DATABASE_URL");
        ck_assert_has_line(u.service, "PassEnvironment=HOME");

        /* systemd's own timeouts leave the shim room for the app's. */
        ck_assert_uint_gt(line_duration(u.service, "TimeoutStartSec="), c->ready_timeout);
        ck_assert_uint_gt(line_duration(u.service, "TimeoutStopSec="), c->stop_timeout);

        /* APP.target */
        ck_assert_has_line(u.target, "Wants=myapp@0.service myapp@1.service myapp@2.service");
        ck_assert_str_contains(u.target, "myapp");

        /* tmpfiles.d */
        free(expected);
        ck_assert_int_ge(asprintf(&expected, "d /run/myapp 2750 %s %s -", test_root_user(), test_root_group()), 0);
        ck_assert_has_line(u.tmpfiles, expected);
        ck_assert_uint_eq(test_count_lines(u.tmpfiles, "d "), 1);

        app_units_done(&u);
        ck_assert_ptr_null(u.socket);
        ck_assert_ptr_null(u.service);
        ck_assert_ptr_null(u.target);
        ck_assert_ptr_null(u.tmpfiles);
        app_units_done(&u); /* twice is fine */
}
END_TEST

START_TEST(test_render_minimal) {
        _cleanup_app_config_ AppConfig *c = load("web.conf", "[App]\nExec=/bin/true\n");
        _cleanup_app_config_ AppConfig *full = NULL;
        _cleanup_free_ char *exec = NULL, *content = NULL;
        AppUnits u = {}, f = {};

        ck_assert_int_eq(app_units_render(c, "/run/sockd/web.tmpfiles", &u), 0);
        assert_rendered_sane(&u);

        ck_assert_has_line(u.socket, "ListenStream=/run/web/web.%i.sock");
        ck_assert_has_line(u.socket, "SocketUser=root");
        ck_assert_has_line(u.socket, "SocketGroup=www-data");
        ck_assert_has_line(u.socket, "SocketMode=0660");
        ck_assert_has_line(u.socket, "Backlog=4096");
        ck_assert_has_line(u.socket, "FileDescriptorName=web.%i");

        /* No User=: never root, a dynamic user named after the app. */
        ck_assert_has_line(u.service, "DynamicUser=yes");
        ck_assert_has_line(u.service, "User=web");
        ck_assert_uint_eq(test_count_lines(u.service, "Group="), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "WorkingDirectory="), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "Environment"), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "PassEnvironment="), 0);
        ck_assert_has_line(u.service, "Requires=web@%i.socket");

        exec = test_find_line(u.service, "ExecStart=");
        ck_assert_ptr_nonnull(exec);
        ck_assert_str_contains(exec, " --workers=1 ");
        ck_assert_str_contains(exec, " --ready=notify ");
        ck_assert_str_contains(exec, " --ready-timeout=30s ");
        ck_assert_str_contains(exec, " --stop-timeout=30s ");
        ck_assert_str_contains(exec, " --handover=1s ");
        ck_assert_ptr_null(strstr(exec, "--standby"));
        ck_assert_str_contains(exec, " --stop-signal=SIGTERM ");
        ck_assert_str_contains(exec, " --suspend=queue ");
        assert_line_ends_with(exec, " -- /bin/true");

        ck_assert_has_line(u.target, "Wants=web@0.service");
        ck_assert_has_line(u.tmpfiles, "d /run/web 2750 root www-data -");

        /* The lines of empty placeholders (working directory, environment) are dropped:
         * the same number of blank lines as a service that has them all. */
        ck_assert_int_ge(asprintf(&content,
                                  "[App]\nExec=/bin/true\nUser=%s\nGroup=%s\nWorkingDirectory=/\nEnvironment=A=1\n",
                                  test_root_user(), test_root_group()),
                         0);
        full = load("full.conf", content);
        ck_assert_int_eq(app_units_render(full, "/run/sockd/full.tmpfiles", &f), 0);
        ck_assert_uint_eq(count_empty_lines(u.service), count_empty_lines(f.service));
        ck_assert_uint_eq(count_empty_lines(u.socket), count_empty_lines(f.socket));

        app_units_done(&u);
        app_units_done(&f);
}
END_TEST

/* Standby=serving reaches the shim as --standby=serving, Standby=yes as --standby. */
START_TEST(test_render_standby_serving) {
        _cleanup_app_config_ AppConfig *c = load("web.conf", "[App]\nExec=/bin/true\nStandby=serving\n");
        _cleanup_free_ char *exec = NULL, *reload = NULL;
        AppUnits u = {};

        ck_assert_int_eq(app_units_render(c, "/run/sockd/web.tmpfiles", &u), 0);
        exec = test_find_line(u.service, "ExecStart=");
        reload = test_find_line(u.service, "ExecReload=");
        ck_assert_ptr_nonnull(exec);
        ck_assert_ptr_nonnull(reload);
        ck_assert_str_contains(exec, " --standby=serving ");
        ck_assert_str_contains(reload, " --standby=serving ");
        app_units_done(&u);
}
END_TEST

START_TEST(test_render_single_socket_name) {
        _cleanup_app_config_ AppConfig *c = load("one.conf", "[App]\nExec=/bin/true\n[Socket]\nDirectory=/run/x\nName=app.sock\n");
        AppUnits u = {};

        ck_assert_int_eq(app_units_render(c, "/t", &u), 0);
        ck_assert_has_line(u.socket, "ListenStream=/run/x/app.sock");
        ck_assert_has_line(u.target, "Wants=one@0.service");
        ck_assert_has_line(u.tmpfiles, "d /run/x 2750 root www-data -");
        app_units_done(&u);
}
END_TEST

/* An EnvironmentFile= that must exist is optional for systemd, whose own error would not
 * name it, and checked by the shim, which does; one that may be missing is just optional. */
START_TEST(test_render_ready_message) {
        _cleanup_app_config_ AppConfig *c = load("msg.conf", "[App]\nExec=/bin/true\nReady=node-ipc\n"
                                                 "ReadyMessage={\"ready\": \"100%\", \"$x\": 1}\n");
        _cleanup_free_ char *exec = NULL;
        AppUnits u = {};

        ck_assert_int_eq(app_units_render(c, "/t", &u), 0);
        exec = test_find_line(u.service, "ExecStart=");
        ck_assert_ptr_nonnull(exec);
        /* one word for systemd: quoted, '"' and '\\' escaped, '%' and '$' doubled */
        ck_assert_str_contains(exec, " --ready=node-ipc \"--ready-message={\\\"$$x\\\":1,\\\"ready\\\":\\\"100%%\\\"}\" ");
        app_units_done(&u);
}
END_TEST

START_TEST(test_render_required_environment_file) {
        _cleanup_free_ char *path = test_write_file(tmpdir, "envf.conf", "[App]\nExec=/bin/true\nUser=root\n"
                                                    "EnvironmentFile=/srv/app 50%/env-{worker}\n"
                                                    "EnvironmentFile=-/etc/app/env\n"),
                            *exec = NULL, *error = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;
        AppUnits u = {};

        /* as the generator loads it: the file need not exist yet */
        ck_assert_msg(app_config_load_context(path, &(ConfigContext) {}, &c, &error) == 0, "%s", strempty(error));

        ck_assert_int_eq(app_units_render(c, "/t", &u), 0);
        ck_assert_has_line(u.service, "EnvironmentFile=-/srv/app 50%%/env-%i");
        ck_assert_has_line(u.service, "EnvironmentFile=-/etc/app/env");
        ck_assert_uint_eq(test_count_lines(u.service, "EnvironmentFile="), 2);
        exec = test_find_line(u.service, "ExecStart=");
        ck_assert_ptr_nonnull(exec);
        ck_assert_str_contains(exec, " \"--environment-file=/srv/app 50%%/env-%i\" -- /bin/true");
        ck_assert_msg(!strstr(exec, "/etc/app/env"), "%s", exec);
        app_units_done(&u);
}
END_TEST

/* ---- a user's service manager ---- */

static char *saved_runtime_dir;
static bool had_runtime_dir;

static void save_env(void) {
        const char *e = getenv("XDG_RUNTIME_DIR");

        had_runtime_dir = e != NULL;
        saved_runtime_dir = e ? strdup(e) : NULL;
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
}

static void restore_env(void) {
        if (had_runtime_dir)
                setenv("XDG_RUNTIME_DIR", saved_runtime_dir, 1);
        else
                unsetenv("XDG_RUNTIME_DIR");
        free(saved_runtime_dir);
        saved_runtime_dir = NULL;
}

static AppConfig *load_scope(const char *name, const char *content, bool user_scope) {
        _cleanup_free_ char *path = test_write_file(tmpdir, name, content), *error = NULL;
        AppConfig *c = NULL;
        int r = app_config_load_scope(path, user_scope, &c, &error);

        ck_assert_msg(r == 0, "%s: %s", path, strempty(error));
        ck_assert_int_eq(c->user_scope, user_scope);
        return c;
}

/* What only the system's manager can apply: the template's {{SYSTEM}} lines. */
static const char *const system_only_service[] = {
        "PrivateTmp=yes",          "PrivateDevices=yes",    "ProtectSystem=full",
        "ProtectHome=read-only",   "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",   "ProtectControlGroups=yes",  "ProtectClock=yes",
        "ProtectHostname=yes",
        "CapabilityBoundingSet=CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID "
        "CAP_IPC_OWNER CAP_KILL CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW CAP_SETGID "
        "CAP_SETPCAP CAP_SETUID CAP_SYS_RESOURCE",
        "ProtectProc=invisible",   "PrivateIPC=yes",        "RemoveIPC=yes",
};

/* Sandboxing a user's manager applies as well. */
static const char *const everywhere_service[] = {
        "NoNewPrivileges=yes",     "RestrictSUIDSGID=yes", "RestrictRealtime=yes",
        "RestrictNamespaces=yes",  "LockPersonality=yes",  "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service", "SystemCallFilter=~@resources",
        "SystemCallErrorNumber=EPERM", "UMask=0027",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
};

static bool is_credentials_line(const char *line) {
        return strncmp(line, "User=", 5) == 0 || strncmp(line, "Group=", 6) == 0 ||
               strncmp(line, "DynamicUser=", 12) == 0 || strncmp(line, "# No User=", 10) == 0;
}

/* Every line of @system is in @user as it is or commented out with '#' (with
 * @any_value, "#KEY=" and whatever value), except the credentials and the tmpfiles call
 * (checked on their own); returns how many were commented out. */
static unsigned assert_same_but_commented(const char *system, const char *user, bool any_value) {
        unsigned commented = 0, lines = 0;

        for (const char *l = system; *l;) {
                const char *eol = strchrnul(l, '\n');
                _cleanup_free_ char *line = strndup(l, eol - l), *hashed = NULL;

                ck_assert_ptr_nonnull(line);
                ck_assert_int_ge(asprintf(&hashed, "#%.*s", any_value && strchr(line, '=') ?
                                          (int) (strchr(line, '=') - line + 1) : (int) strlen(line), line), 0);
                if (is_credentials_line(line))
                        ck_assert_msg(!test_has_line(user, line), "'%s' for a user in:\n%s", line, user);
                else if (strncmp(line, "ExecStartPre=", 13) == 0)
                        ;
                else if (!test_has_line(user, line)) {
                        ck_assert_msg(any_value ? test_count_lines(user, hashed) == 1 : test_has_line(user, hashed),
                                      "'%s' neither as it is nor commented out in:\n%s",
                                      line, user);
                        commented++;
                }
                lines++;
                l = *eol ? eol + 1 : eol;
        }
        ck_assert_uint_gt(lines, 10);
        return commented;
}

/* What sockdctl reads back from a generated service unit is what the config said, for
 * values with quotes, backslashes, '%' and {worker} in them; a drop-in's keys are not
 * in that file, and keys of other sections do not count. */
START_TEST(test_service_values_round_trip) {
        _cleanup_free_ char *path = test_write_file(tmpdir, "rt.conf",
                                                    "[App]\nExec=/bin/true\nUser=app\nGroup=www\n"
                                                    "WorkingDirectory=-/srv/50% {worker}\n"
                                                    "Environment=A=say \"hi\" \\n 100%\n"
                                                    "Environment=B=w{worker}%i\n"
                                                    "Environment=EMPTY=\n"
                                                    "EnvironmentFile=-/etc/app/{worker}.env\n"
                                                    "PassEnvironment=HOME_URL\n"),
                            *error = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;
        _cleanup_(service_values_done) ServiceValues v = {};
        _cleanup_fclose_ FILE *f = NULL;
        AppUnits u = {};

        ck_assert_msg(app_config_load_context(path, &(ConfigContext) {}, &c, &error) == 0, "%s", strempty(error));
        ck_assert_int_eq(app_units_render(c, "/t", &u), 0);
        f = fmemopen(u.service, strlen(u.service), "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(service_values_read(f, 7, &v), 0);
        ck_assert_str_eq(v.user, "app");
        ck_assert_str_eq(v.group, "www");
        ck_assert_str_eq(v.working_directory, "-/srv/50% 7");
        ck_assert_uint_eq(strv_length(v.environment), 3);
        ck_assert_str_eq(v.environment[0], "A=say \"hi\" \\n 100%");
        ck_assert_str_eq(v.environment[1], "B=w7%i");
        ck_assert_str_eq(v.environment[2], "EMPTY=");
        ck_assert_uint_eq(strv_length(v.environment_files), 1);
        ck_assert_str_eq(v.environment_files[0], "-/etc/app/7.env");
        ck_assert_uint_eq(strv_length(v.pass_environment), 1);
        ck_assert_str_eq(v.pass_environment[0], "HOME_URL");
        app_units_done(&u);
}
END_TEST

START_TEST(test_service_values_only_service_section) {
        static const char text[] = "[Unit]\nDescription=x\nUser=not-this\n[Service]\n# User=commented\n"
                                   "User=app\nEnvironment=\"X=1\"\n[Install]\nEnvironment=\"Y=2\"\n";
        _cleanup_(service_values_done) ServiceValues v = {};
        _cleanup_fclose_ FILE *f = fmemopen((void *) text, strlen(text), "r");

        ck_assert_int_eq(service_values_read(f, 0, &v), 0);
        ck_assert_str_eq(v.user, "app");
        ck_assert_str_eq(v.group, "");
        ck_assert_uint_eq(strv_length(v.environment), 1);
        ck_assert_str_eq(v.environment[0], "X=1");
}
END_TEST

START_TEST(test_render_user_scope) {
        _cleanup_app_config_ AppConfig *c = NULL, *sys = NULL;
        _cleanup_free_ char *pre = NULL, *exec = NULL;
        AppUnits u = {}, s = {};

        c = load_scope("web.conf", "[App]\nExec=/bin/true\nWorkers=2\nEnvironment=A=1\n", true);
        ck_assert_int_eq(app_units_render(c, "/run/user/4242/sockd/web.tmpfiles", &u), 0);
        assert_rendered_sane(&u);

        /* The app runs as the user: no credentials at all. */
        ck_assert_uint_eq(test_count_lines(u.service, "User="), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "DynamicUser="), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "Group="), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "# No User="), 0);
        ck_assert_ptr_null(strstr(u.service, "\n\n\n"));

        /* What a user's manager cannot do is commented out, the rest stays. */
        for (size_t i = 0; i < ELEMENTSOF(system_only_service); i++) {
                _cleanup_free_ char *hashed = NULL;

                ck_assert_int_ge(asprintf(&hashed, "#%s", system_only_service[i]), 0);
                ck_assert_has_line(u.service, hashed);
                ck_assert_uint_eq(test_count_lines(u.service, system_only_service[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(everywhere_service); i++)
                ck_assert_has_line(u.service, everywhere_service[i]);

        /* Otherwise the service is the same. */
        exec = test_find_line(u.service, "ExecStart=");
        ck_assert_ptr_nonnull(exec);
        ck_assert_str_contains(exec, " \"--socket=/run/user/4242/web/web.%i.sock\" ");
        ck_assert_str_contains(exec, " --workers=2 ");
        ck_assert_has_line(u.service, "Requires=web@%i.socket");
        ck_assert_has_line(u.service, "Environment=\"A=1\"");

        /* The socket: the user's own, made where the user's tmpfiles puts it. */
        ck_assert_has_line(u.socket, "ListenStream=/run/user/4242/web/web.%i.sock");
        ck_assert_has_line(u.socket, "#SocketUser=");
        ck_assert_has_line(u.socket, "#SocketGroup=");
        ck_assert_uint_eq(test_count_lines(u.socket, "SocketUser="), 0);
        ck_assert_uint_eq(test_count_lines(u.socket, "SocketGroup="), 0);
        ck_assert_has_line(u.socket, "SocketMode=0660");
        pre = test_find_line(u.socket, "ExecStartPre=");
        ck_assert_ptr_nonnull(pre);
        ck_assert_str_eq(pre, "ExecStartPre=systemd-tmpfiles --user --create \"/run/user/4242/sockd/web.tmpfiles\"");
        ck_assert_uint_eq(test_count_lines(u.socket, "ExecStartPre="), 1);

        ck_assert_has_line(u.target, "Wants=web@0.service web@1.service");

        /* No owner or group to set: the user's own directory, not setgid. */
        ck_assert_has_line(u.tmpfiles, "d /run/user/4242/web 0750 - - -");
        ck_assert_uint_eq(test_count_lines(u.tmpfiles, "d "), 1);

        /* Line by line against the same app for the system. */
        sys = load_scope("web.conf", "[App]\nExec=/bin/true\nWorkers=2\nEnvironment=A=1\n[Socket]\n"
                                     "Directory=/run/web\nGroup=root\n", false);
        /* A system app may not use a user's runtime directory: put it there by hand, so
         * that only the scope differs. */
        free(sys->socket_directory);
        sys->socket_directory = strdup("/run/user/4242/web");
        ck_assert_ptr_nonnull(sys->socket_directory);
        ck_assert_int_eq(app_units_render(sys, "/run/user/4242/sockd/web.tmpfiles", &s), 0);
        ck_assert_uint_eq(assert_same_but_commented(s.service, u.service, false), ELEMENTSOF(system_only_service));
        ck_assert_uint_eq(assert_same_but_commented(s.socket, u.socket, true), 2);
        ck_assert_str_eq(s.target, u.target);

        app_units_done(&u);
        app_units_done(&s);
}
END_TEST

START_TEST(test_render_system_scope_uncommented) {
        _cleanup_app_config_ AppConfig *c = load_scope("web.conf", "[App]\nExec=/bin/true\n", false);
        _cleanup_free_ char *pre = NULL;
        AppUnits u = {};

        ck_assert_int_eq(app_units_render(c, "/run/sockd/web.tmpfiles", &u), 0);
        assert_rendered_sane(&u);

        /* {{SYSTEM}} is empty: every line applies. */
        for (size_t i = 0; i < ELEMENTSOF(system_only_service); i++)
                ck_assert_has_line(u.service, system_only_service[i]);
        for (size_t i = 0; i < ELEMENTSOF(everywhere_service); i++)
                ck_assert_has_line(u.service, everywhere_service[i]);
        ck_assert_uint_eq(test_count_lines(u.service, "#Private"), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "#Protect"), 0);
        ck_assert_uint_eq(test_count_lines(u.service, "#"), test_count_lines(u.service, "# "));
        ck_assert_uint_eq(test_count_lines(u.socket, "#"), test_count_lines(u.socket, "# "));
        ck_assert_uint_eq(test_count_lines(u.socket, "#Socket"), 0);
        ck_assert_has_line(u.socket, "SocketUser=root");
        ck_assert_has_line(u.socket, "SocketGroup=www-data");

        pre = test_find_line(u.socket, "ExecStartPre=");
        ck_assert_ptr_nonnull(pre);
        ck_assert_str_eq(pre, "ExecStartPre=systemd-tmpfiles --create \"/run/sockd/web.tmpfiles\"");
        ck_assert_has_line(u.tmpfiles, "d /run/web 2750 root www-data -");
        app_units_done(&u);
}
END_TEST

Suite *unit_render_suite(void) {
        Suite *s = suite_create("unit-render");
        TCase *tc;

        tc = tcase_create("template");
        tcase_add_test(tc, test_template_substitution);
        tcase_add_test(tc, test_template_drops_empty_placeholder_lines);
        tcase_add_test(tc, test_template_unknown_placeholder);
        tcase_add_test(tc, test_template_unterminated);
        tcase_add_test(tc, test_quote_exec_word);
        suite_add_tcase(s, tc);

        tc = tcase_create("app-units");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_test(tc, test_render_full);
        tcase_add_test(tc, test_render_minimal);
        tcase_add_test(tc, test_render_standby_serving);
        tcase_add_test(tc, test_render_single_socket_name);
        tcase_add_test(tc, test_render_required_environment_file);
        tcase_add_test(tc, test_render_ready_message);
        suite_add_tcase(s, tc);

        tc = tcase_create("scope");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_checked_fixture(tc, save_env, restore_env);
        tcase_add_test(tc, test_render_user_scope);
        tcase_add_test(tc, test_service_values_round_trip);
        tcase_add_test(tc, test_service_values_only_service_section);
        tcase_add_test(tc, test_render_system_scope_uncommented);
        suite_add_tcase(s, tc);

        return s;
}
