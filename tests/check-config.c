/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "system-claims.h"
#include "macro.h"
#include "strv.h"
#include "test-util.h"

static char *tmpdir;

static void setup_tmpdir(void) {
        tmpdir = test_tmpdir_new();
}

static void teardown_tmpdir(void) {
        test_rm_rf(tmpdir);
        free(tmpdir);
        tmpdir = NULL;
}

/* ---- helpers ---- */

static AppConfig *load_ok_named(const char *name, const char *content) {
        _cleanup_free_ char *path = test_write_file(tmpdir, name, content), *error = NULL;
        AppConfig *c = NULL;
        int r;

        r = app_config_load(path, &c, &error);
        ck_assert_msg(r == 0, "loading\n%s\nfailed: %s (%d)", content, error ?: "(no message)", r);
        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c->path, path);
        return c;
}

static AppConfig *load_ok(const char *content) {
        return load_ok_named("myapp.conf", content);
}

/* What the error assertions below are about, for their messages. */
static const char *current_case = "";

/* Loads @path expecting @code, and checks the message is "'PATH':LINE: @message..."
 * (or "'PATH': @message..." when @line is 0) and that *ret was not touched. */
static void assert_load_error_path_scope(const char *path, bool user_scope, int code, unsigned line,
                                         const char *message) {
        _cleanup_free_ char *error = NULL, *expected = NULL;
        AppConfig sentinel, *c = &sentinel;
        int r;

        r = app_config_load_scope(path, user_scope, &c, &error);
        ck_assert_msg(r == code, "%s: expected %d (%s), got %d (%s), message: %s", current_case, code, strerror(-code),
                      r, r < 0 ? strerror(-r) : "success", error ?: "(none)");
        ck_assert_ptr_eq(c, &sentinel);
        ck_assert_msg(error, "%s: no message", current_case);
        ck_assert_msg(!strchr(error, '\n'), "%s: message of several lines: %s", current_case, error);
        if (line > 0)
                ck_assert_int_ge(asprintf(&expected, "'%s':%u: %s", path, line, message), 0);
        else
                ck_assert_int_ge(asprintf(&expected, "'%s': %s", path, message), 0);
        ck_assert_msg(strncmp(error, expected, strlen(expected)) == 0, "%s: message\n  '%s'\ndoes not start with\n  '%s'",
                      current_case, error, expected);

        /* Without ret_error the error code is the same and nothing leaks. */
        ck_assert_int_eq(app_config_load_scope(path, user_scope, &c, NULL), code);
        ck_assert_ptr_eq(c, &sentinel);
}

static void assert_load_error_path(const char *path, int code, unsigned line, const char *message) {
        assert_load_error_path_scope(path, false, code, line, message);
}

static void assert_load_error_data(const void *data, size_t len, int code, unsigned line, const char *message) {
        _cleanup_free_ char *path = test_write_data(tmpdir, "myapp.conf", data, len);

        assert_load_error_path(path, code, line, message);
}

static void assert_load_error(const char *content, int code, unsigned line, const char *message) {
        assert_load_error_data(content, strlen(content), code, line, message);
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

/* ---- good files ---- */

START_TEST(test_minimal_defaults) {
        _cleanup_app_config_ AppConfig *c = load_ok("[App]\nExec=/usr/bin/node /srv/myapp/server.js\n");

        ck_assert_str_eq(c->name, "myapp");
        ck_assert_str_eq(c->exec, "/usr/bin/node /srv/myapp/server.js");
        ck_assert_ptr_null(c->working_directory);
        ck_assert_ptr_null(c->user);
        ck_assert_ptr_null(c->group);
        ck_assert_ptr_null(c->environment);
        ck_assert_ptr_null(c->environment_files);
        ck_assert_ptr_null(c->pass_environment);
        ck_assert_uint_eq(c->workers, 1);
        ck_assert_int_eq(c->ready, READY_NOTIFY);
        ck_assert_uint_eq(c->ready_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->stop_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->handover, SOCKD_HANDOVER_DEFAULT_USEC);
        ck_assert_int_eq(c->standby, STANDBY_NO);
        ck_assert_int_eq(c->suspend, SUSPEND_QUEUE);
        ck_assert_str_eq(c->socket_directory, "/run/myapp");
        ck_assert_str_eq(c->socket_name, "myapp.{worker}.sock");
        ck_assert_str_eq(c->socket_user, "root");
        ck_assert_str_eq(c->socket_group, "www-data");
        ck_assert_uint_eq(c->socket_mode, 0660);
        ck_assert_uint_eq(c->backlog, 4096);
}
END_TEST

START_TEST(test_full_file) {
        const char *user = test_other_user() ?: test_root_user();
        const char *group = test_other_group() ?: test_root_group();
        _cleanup_free_ char *env = test_write_file(tmpdir, "env", "A=b\n"), *content = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;

        ck_assert_int_ge(asprintf(&content,
                                  "# a complete file\n"
                                  "[App]\n"
                                  "Exec=/usr/bin/node /srv/myapp/server.js --port={worker}\n"
                                  "WorkingDirectory=/srv/myapp\n"
                                  "User=%s\n"
                                  "Group=%s\n"
                                  "Environment=NODE_ENV=production\n"
                                  "EnvironmentFile=%s\n"
                                  "PassEnvironment=DATABASE_URL\n"
                                  "Workers=3\n"
                                  "Ready=node-ipc\n"
                                  "ReadyTimeoutSec=1min 30s\n"
                                  "StopTimeoutSec=500ms\n"
                                  "HandoverSec=250ms\n"
                                  "Standby=yes\n"
                                  "Suspend=hold\n"
                                  "\n"
                                  "[Socket]\n"
                                  "Directory=/run/sockd-test\n"
                                  "Name=w{worker}.sock\n"
                                  "User=%s\n"
                                  "Group=%s\n"
                                  "Mode=0600\n"
                                  "Backlog=128\n",
                                  user, group, env, test_root_user(), test_root_group()),
                         0);
        c = load_ok_named("full-app_1.2.conf", content);

        ck_assert_str_eq(c->name, "full-app_1.2");
        ck_assert_str_eq(c->exec, "/usr/bin/node /srv/myapp/server.js --port={worker}");
        ck_assert_str_eq(c->working_directory, "/srv/myapp");
        ck_assert_str_eq(c->user, user);
        ck_assert_str_eq(c->group, group);
        ck_assert_uint_eq(strv_length(c->environment), 1);
        ck_assert_str_eq(c->environment[0], "NODE_ENV=production");
        ck_assert_uint_eq(strv_length(c->environment_files), 1);
        ck_assert_str_eq(c->environment_files[0], env);
        ck_assert_uint_eq(strv_length(c->pass_environment), 1);
        ck_assert_str_eq(c->pass_environment[0], "DATABASE_URL");
        ck_assert_uint_eq(c->workers, 3);
        ck_assert_int_eq(c->ready, READY_NODE_IPC);
        ck_assert_uint_eq(c->ready_timeout, 90 * USEC_PER_SEC);
        ck_assert_uint_eq(c->stop_timeout, 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->handover, 250 * USEC_PER_MSEC);
        ck_assert_int_eq(c->standby, STANDBY_YES);
        ck_assert_int_eq(c->suspend, SUSPEND_HOLD);
        ck_assert_str_eq(c->socket_directory, "/run/sockd-test");
        ck_assert_str_eq(c->socket_name, "w{worker}.sock");
        ck_assert_str_eq(c->socket_user, test_root_user());
        ck_assert_str_eq(c->socket_group, test_root_group());
        ck_assert_uint_eq(c->socket_mode, 0600);
        ck_assert_uint_eq(c->backlog, 128);
}
END_TEST

START_TEST(test_socket_user_defaults_to_app_user) {
        const char *user = test_other_user();
        _cleanup_free_ char *content = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;

        if (!user) {
                fprintf(stderr, "no user besides uid 0 on this host, cannot test Socket User= default\n");
                return;
        }
        ck_assert_int_ge(asprintf(&content, "[App]\nExec=/bin/true\nUser=%s\n", user), 0);
        c = load_ok(content);
        ck_assert_str_eq(c->user, user);
        ck_assert_str_eq(c->socket_user, user);
        ck_assert_str_eq(c->socket_group, "www-data");
}
END_TEST

START_TEST(test_inline_comments) {
        _cleanup_app_config_ AppConfig *c = load_ok(
                "; leading comment\n"
                "# another one\n"
                "[App] ; the app\n"
                "Exec=/usr/bin/node /srv/myapp/server.js   ; required\n"
                "Workers=3 ; three\n"
                "Ready=node-ipc\t; tab before\n"
                "Environment=A=x;y ; only the second ';' starts a comment\n"
                "  ; an indented comment is not a continuation\n"
                "\n"
                "[Socket]\n"
                "Mode=0620 ; connecting needs write permission only\n");

        ck_assert_str_eq(c->exec, "/usr/bin/node /srv/myapp/server.js");
        ck_assert_uint_eq(c->workers, 3);
        ck_assert_int_eq(c->ready, READY_NODE_IPC);
        ck_assert_uint_eq(strv_length(c->environment), 1);
        ck_assert_str_eq(c->environment[0], "A=x;y");
        ck_assert_uint_eq(c->socket_mode, 0620);
}
END_TEST

START_TEST(test_environment_repeatable_and_reset) {
        _cleanup_app_config_ AppConfig *c = NULL, *d = NULL;

        c = load_ok("[App]\n"
                    "Exec=/bin/true\n"
                    "Environment=A=1\n"
                    "Environment=B=two words\n"
                    "Environment=C=\n"
                    "Environment=D=x=y\n"
                    "Environment=A=again\n");
        ck_assert_uint_eq(strv_length(c->environment), 5);
        ck_assert_str_eq(c->environment[0], "A=1");
        ck_assert_str_eq(c->environment[1], "B=two words");
        ck_assert_str_eq(c->environment[2], "C=");
        ck_assert_str_eq(c->environment[3], "D=x=y");
        ck_assert_str_eq(c->environment[4], "A=again");

        d = load_ok("[App]\n"
                    "Exec=/bin/true\n"
                    "Environment=A=1\n"
                    "Environment=B=2\n"
                    "PassEnvironment=HOME\n"
                    "EnvironmentFile=-/nonexistent/a\n"
                    "Environment=\n"
                    "PassEnvironment=\n"
                    "EnvironmentFile=\n"
                    "Environment=C=3\n"
                    "EnvironmentFile=-/nonexistent/b\n");
        ck_assert_uint_eq(strv_length(d->environment), 1);
        ck_assert_str_eq(d->environment[0], "C=3");
        ck_assert_ptr_null(d->pass_environment);
        ck_assert_uint_eq(strv_length(d->environment_files), 1);
        ck_assert_str_eq(d->environment_files[0], "-/nonexistent/b");
}
END_TEST

/* ---- drop-ins: APP.conf.d/NAME.conf ---- */

/* Writes @content to DIR/myapp.conf.d/NAME and returns its path. */
static char *write_dropin(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *d = NULL;

        ck_assert_int_ge(asprintf(&d, "%s/myapp.conf.d", dir), 0);
        ck_assert(mkdir(d, 0755) == 0 || errno == EEXIST);
        return test_write_file(d, name, content);
}

static AppConfig *load_search_ok(const char *path, char *const *search) {
        const ConfigContext ctx = { .check_system = true, .search = search };
        _cleanup_free_ char *error = NULL;
        AppConfig *c = NULL;
        int r = app_config_load_context(path, &ctx, &c, &error);

        ck_assert_msg(r == 0, "loading %s failed: %s (%d)", path, error ?: "(no message)", r);
        return c;
}

static void assert_search_error(const char *path, char *const *search, int code, const char *expected) {
        const ConfigContext ctx = { .check_system = true, .search = search };
        _cleanup_free_ char *error = NULL;
        AppConfig *c = NULL;
        int r = app_config_load_context(path, &ctx, &c, &error);

        ck_assert_msg(r == code, "expected %d, got %d (%s)", code, r, error ?: "(no message)");
        ck_assert_ptr_null(c);
        ck_assert_msg(error && strncmp(error, expected, strlen(expected)) == 0, "message\n  '%s'\ndoes not start with\n  '%s'",
                      error ?: "(none)", expected);
}

START_TEST(test_dropins_override_append_reset) {
        _cleanup_free_ char *path = test_write_file(tmpdir, "myapp.conf",
                                                    "[App]\n"
                                                    "Exec=/bin/true\n"
                                                    "Workers=3\n"
                                                    "Environment=A=1\n"
                                                    "PassEnvironment=HOME\n"
                                                    "[Socket]\n"
                                                    "Mode=0660\n");
        _cleanup_free_ char *d1 = write_dropin(tmpdir, "10-workers.conf", "[App]\nWorkers=6\nEnvironment=B=2\n");
        _cleanup_free_ char *d2 = write_dropin(tmpdir, "20-env.conf", "[App]\nEnvironment=C=3\nPassEnvironment=\n");
        _cleanup_free_ char *d3 = write_dropin(tmpdir, "05-first.conf", "[App]\nWorkers=2\nExec=/bin/false\n");
        _cleanup_free_ char *other = write_dropin(tmpdir, "30-backup.conf~", "[App]\nWorkers=9\n");
        _cleanup_free_ char *hidden = write_dropin(tmpdir, ".40-hidden.conf", "[App]\nWorkers=9\n");
        _cleanup_app_config_ AppConfig *c = load_search_ok(path, NULL);
        _cleanup_free_ char *sources = app_config_sources(c);
        _cleanup_free_ char *expected = NULL;

        /* Read in name order after the file: 05 sets 2, 10 sets 6 (the last wins). */
        ck_assert_uint_eq(c->workers, 6);
        ck_assert_str_eq(c->exec, "/bin/false");
        ck_assert_uint_eq(strv_length(c->environment), 3);
        ck_assert_str_eq(c->environment[0], "A=1");
        ck_assert_str_eq(c->environment[1], "B=2");
        ck_assert_str_eq(c->environment[2], "C=3");
        ck_assert_ptr_null(c->pass_environment);
        ck_assert_uint_eq(c->socket_mode, 0660);
        ck_assert_uint_eq(strv_length(c->dropins), 3);
        ck_assert_str_eq(c->dropins[0], d3);
        ck_assert_str_eq(c->dropins[1], d1);
        ck_assert_str_eq(c->dropins[2], d2);
        ck_assert_int_ge(asprintf(&expected, "%s and its drop-ins %s, %s, %s", path, d3, d1, d2), 0);
        ck_assert_str_eq(sources, expected);
}
END_TEST

START_TEST(test_dropins_precedence_and_mask) {
        _cleanup_free_ char *etc = NULL, *run = NULL, *lib = NULL, *path = NULL, *masked = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c_run = NULL, *d = NULL, *lib_only = NULL;

        ck_assert_int_ge(asprintf(&etc, "%s/etc", tmpdir), 0);
        ck_assert_int_ge(asprintf(&run, "%s/run", tmpdir), 0);
        ck_assert_int_ge(asprintf(&lib, "%s/lib", tmpdir), 0);
        ck_assert_int_eq(mkdir(etc, 0755), 0);
        ck_assert_int_eq(mkdir(run, 0755), 0);
        ck_assert_int_eq(mkdir(lib, 0755), 0);
        char *search[] = { etc, run, lib, NULL };

        /* The app's file is in /usr/lib; drop-ins in /etc and /run apply too. */
        path = test_write_file(lib, "myapp.conf", "[App]\nExec=/bin/true\nEnvironment=BASE=1\n");
        a = write_dropin(etc, "50-same.conf", "[App]\nEnvironment=FROM=etc\n");
        b = write_dropin(run, "50-same.conf", "[App]\nEnvironment=FROM=run\n");
        c_run = write_dropin(run, "60-run.conf", "[App]\nEnvironment=RUN=1\n");
        lib_only = write_dropin(lib, "70-lib.conf", "[App]\nEnvironment=LIB=1\n");
        d = write_dropin(lib, "80-masked.conf", "[App]\nEnvironment=MASKED=1\n");
        ck_assert_int_ge(asprintf(&masked, "%s/myapp.conf.d/80-masked.conf", etc), 0);
        ck_assert_int_eq(symlink("/dev/null", masked), 0);

        _cleanup_app_config_ AppConfig *c = load_search_ok(path, search);

        ck_assert_uint_eq(strv_length(c->environment), 4);
        ck_assert_str_eq(c->environment[0], "BASE=1");
        ck_assert_str_eq(c->environment[1], "FROM=etc"); /* /etc's 50-same.conf hides /run's */
        ck_assert_str_eq(c->environment[2], "RUN=1");
        ck_assert_str_eq(c->environment[3], "LIB=1");
        ck_assert_uint_eq(strv_length(c->dropins), 3);
        ck_assert_str_eq(c->dropins[0], a);
        ck_assert_str_eq(c->dropins[1], c_run);
        ck_assert_str_eq(c->dropins[2], lib_only);
}
END_TEST

START_TEST(test_dropin_errors_name_the_dropin) {
        _cleanup_free_ char *path = test_write_file(tmpdir, "myapp.conf", "[App]\nExec=/bin/true\nWorkers=3\n");
        _cleanup_free_ char *d = NULL, *expected = NULL;

        /* A mistake in a drop-in is reported with the drop-in's name and line. */
        d = write_dropin(tmpdir, "10-bad.conf", "[App]\n\nWorkers=many\n");
        ck_assert_int_ge(asprintf(&expected, "'%s':3: Workers: must be a number", d), 0);
        assert_search_error(path, NULL, -ERANGE, expected);

        /* Within one drop-in a key twice is a mistake, as in the file itself... */
        free(expected);
        free(test_write_file(tmpdir, "myapp.conf.d/10-bad.conf", "[App]\nWorkers=2\nWorkers=4\n"));
        ck_assert_int_ge(asprintf(&expected, "'%s':3: Workers: duplicate key, first set on line 2", d), 0);
        assert_search_error(path, NULL, -EINVAL, expected);

        /* ...and so is a key outside of a section. */
        free(expected);
        free(test_write_file(tmpdir, "myapp.conf.d/10-bad.conf", "Workers=2\n"));
        ck_assert_int_ge(asprintf(&expected, "'%s':1: Workers: key outside of a section", d), 0);
        assert_search_error(path, NULL, -EINVAL, expected);

        /* What is wrong with the values together names the file that set the key last:
         * Name= without {worker} from the drop-in, with the file's Workers=3. */
        free(expected);
        free(test_write_file(tmpdir, "myapp.conf.d/10-bad.conf", "[Socket]\n# one socket\nName=app.sock\n"));
        ck_assert_int_ge(asprintf(&expected, "'%s':3: Name: 'app.sock' must contain {worker} when Workers=3", d), 0);
        assert_search_error(path, NULL, -EINVAL, expected);

        /* A drop-in that is not a regular file is refused, one linked to /dev/null masks. */
        ck_assert_int_eq(unlink(d), 0);
        ck_assert_int_eq(mkdir(d, 0755), 0);
        free(expected);
        ck_assert_int_ge(asprintf(&expected, "'%s': not a regular file", d), 0);
        assert_search_error(path, NULL, -EISDIR, expected);
        ck_assert_int_eq(rmdir(d), 0);
        ck_assert_int_eq(symlink("/dev/null", d), 0);
        _cleanup_app_config_ AppConfig *c = load_search_ok(path, NULL);
        ck_assert_ptr_null(c->dropins);
        ck_assert_uint_eq(c->workers, 3);
}
END_TEST

START_TEST(test_dropin_completes_the_file) {
        /* Exec= may come from a drop-in only; without it anywhere the file is named. */
        _cleanup_free_ char *path = test_write_file(tmpdir, "myapp.conf", "[App]\nWorkers=2\n");
        _cleanup_free_ char *expected = NULL, *d = NULL;

        ck_assert_int_ge(asprintf(&expected, "'%s': [App] Exec= is required", path), 0);
        d = write_dropin(tmpdir, "10-other.conf", "[App]\nEnvironment=A=1\n");
        assert_search_error(path, NULL, -EINVAL, expected);
        free(d);
        d = write_dropin(tmpdir, "20-exec.conf", "[App]\nExec=/bin/true\n");
        _cleanup_app_config_ AppConfig *c = load_search_ok(path, NULL);
        ck_assert_str_eq(c->exec, "/bin/true");
        ck_assert_uint_eq(c->workers, 2);
}
END_TEST

START_TEST(test_environment_reset_to_empty) {
        _cleanup_app_config_ AppConfig *c = load_ok("[App]\nExec=/bin/true\nEnvironment=A=1\nEnvironment=\n");

        ck_assert_ptr_null(c->environment);
}
END_TEST

START_TEST(test_pass_environment) {
        _cleanup_app_config_ AppConfig *c = load_ok("[App]\n"
                                                    "Exec=/bin/true\n"
                                                    "PassEnvironment=DATABASE_URL  HOME\tLANG\n"
                                                    "PassEnvironment=_PRIVATE X1\n");

        ck_assert_uint_eq(strv_length(c->pass_environment), 5);
        ck_assert_str_eq(c->pass_environment[0], "DATABASE_URL");
        ck_assert_str_eq(c->pass_environment[1], "HOME");
        ck_assert_str_eq(c->pass_environment[2], "LANG");
        ck_assert_str_eq(c->pass_environment[3], "_PRIVATE");
        ck_assert_str_eq(c->pass_environment[4], "X1");
}
END_TEST

START_TEST(test_environment_file) {
        _cleanup_free_ char *env = test_write_file(tmpdir, "env", "A=1\n"), *content = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;

        ck_assert_int_ge(asprintf(&content,
                                  "[App]\n"
                                  "Exec=/bin/true\n"
                                  "EnvironmentFile=%s\n"
                                  "EnvironmentFile=-%s/missing\n"
                                  "EnvironmentFile=-%s\n",
                                  env, tmpdir, env),
                         0);
        c = load_ok(content);
        ck_assert_uint_eq(strv_length(c->environment_files), 3);
        ck_assert_str_eq(c->environment_files[0], env);
        ck_assert_str_startswith(c->environment_files[1], "-");
        ck_assert_str_eq(c->environment_files[1] + 1 + strlen(tmpdir), "/missing");
        ck_assert_str_eq(c->environment_files[2] + 1, env);
}
END_TEST

START_TEST(test_name_without_worker_single) {
        _cleanup_app_config_ AppConfig *c = NULL, *d = NULL;

        c = load_ok("[App]\nExec=/bin/true\n[Socket]\nName=app.sock\n");
        ck_assert_str_eq(c->socket_name, "app.sock");
        ck_assert_uint_eq(c->workers, 1);

        d = load_ok("[App]\nExec=/bin/true\nWorkers=1\n[Socket]\nName=app.sock\n");
        ck_assert_str_eq(d->socket_name, "app.sock");
}
END_TEST

START_TEST(test_values_and_boundaries) {
        _cleanup_app_config_ AppConfig *c = NULL;

        c = load_ok("[Socket]\n" /* sections in any order, [Socket] before [App] */
                    "Mode=600\n"
                    "Backlog=65535\n"
                    "Directory=/run/a.b/c\n"
                    "[App]\n"
                    "Exec=\"/opt/my app/bin/server\" --flag\n"
                    "WorkingDirectory=-/srv/maybe\n"
                    "Workers=1024\n"
                    "ReadyTimeoutSec=1ms\n"
                    "StopTimeoutSec=24h\n");
        ck_assert_uint_eq(c->socket_mode, 0600);
        ck_assert_uint_eq(c->backlog, 65535);
        ck_assert_str_eq(c->socket_directory, "/run/a.b/c");
        ck_assert_str_eq(c->exec, "\"/opt/my app/bin/server\" --flag");
        ck_assert_str_eq(c->working_directory, "-/srv/maybe");
        ck_assert_uint_eq(c->workers, 1024);
        ck_assert_uint_eq(c->ready_timeout, USEC_PER_MSEC);
        ck_assert_uint_eq(c->stop_timeout, 24 * 3600 * USEC_PER_SEC);

}
END_TEST

START_TEST(test_timeouts_and_empty_sections) {
        _cleanup_app_config_ AppConfig *c = load_ok("[App]\n"
                                                    "Exec=/bin/true\n"
                                                    "ReadyTimeoutSec=45\n"
                                                    "StopTimeoutSec=2min\n"
                                                    "[Socket]\n");

        ck_assert_uint_eq(c->ready_timeout, 45 * USEC_PER_SEC);
        ck_assert_uint_eq(c->stop_timeout, 120 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_standby_modes) {
        static const struct {
                const char *value;
                StandbyMode mode;
        } cases[] = {
                { "serving", STANDBY_SERVING }, { "yes", STANDBY_YES }, { "on", STANDBY_YES },
                { "1", STANDBY_YES },           { "no", STANDBY_NO },   { "false", STANDBY_NO },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *content = NULL;

                ck_assert_int_ge(asprintf(&content, "[App]\nExec=/bin/true\nStandby=%s\n", cases[i].value), 0);
                _cleanup_app_config_ AppConfig *c = load_ok(content);
                ck_assert_msg(c->standby == cases[i].mode, "Standby=%s", cases[i].value);
        }
}
END_TEST

START_TEST(test_crlf_and_bom) {
        _cleanup_app_config_ AppConfig *c = NULL, *d = NULL;

        c = load_ok("[App]\r\nExec=/bin/true\r\nWorkers=2\r\n[Socket]\r\nName=n{worker}\r\n");
        ck_assert_str_eq(c->exec, "/bin/true");
        ck_assert_uint_eq(c->workers, 2);
        ck_assert_str_eq(c->socket_name, "n{worker}");

        d = load_ok("\xef\xbb\xbf[App]\nExec=/bin/true\n");
        ck_assert_str_eq(d->exec, "/bin/true");
}
END_TEST

START_TEST(test_longest_line_accepted) {
        /* inih hands us a 200-byte buffer: 198 bytes, '\n' and NUL fit. */
        _cleanup_free_ char *pad = NULL, *content = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;
        const char *key = "Environment=X=";

        pad = repeat('v', 198 - strlen(key) - 1);
        ck_assert_int_ge(asprintf(&content, "[App]\nExec=/bin/true\n%s%sZ\n", key, pad), 0);
        c = load_ok(content);
        ck_assert_uint_eq(strv_length(c->environment), 1);
        ck_assert_uint_eq(strlen(c->environment[0]) + strlen("Environment="), 198);
        ck_assert_str_eq(c->environment[0] + strlen(c->environment[0]) - 1, "Z"); /* not cut */
}
END_TEST

/* ---- bad files ---- */

#define B "[App]\nExec=/bin/true\n" /* two lines */

static const struct error_case {
        const char *what;
        const char *content;
        int code;
        unsigned line;   /* 0: the message names no line */
        const char *msg; /* the start of what follows "'PATH':LINE: " */
} error_cases[] = {
        { "duplicate section", B "[Socket]\nBacklog=16\n[App]\nWorkers=2\n", -EINVAL, 5, "duplicate section [App]" },
        { "duplicate empty section", B "[Socket]\n[Socket]\n", -EINVAL, 4, "duplicate section [Socket]" },
        { "duplicate key", B "Workers=2\n\n; again\nWorkers=3\n", -EINVAL, 6, "Workers: duplicate key, first set on line 3" },
        { "duplicate key, same value", B "[Socket]\nMode=0660\nMode=0660\n", -EINVAL, 5, "Mode: duplicate key, first set on line 4" },
        { "duplicate Exec", "[App]\n\nExec=/bin/true\nExec=/bin/false\n", -EINVAL, 4, "Exec: duplicate key, first set on line 3" },
        { "unknown key", B "Foo=bar\n", -EINVAL, 3, "Foo: unknown key in section [App]" },
        { "socket key in [App]", B "Backlog=10\n", -EINVAL, 3, "Backlog: unknown key in section [App]" },
        { "app key in [Socket]", B "[Socket]\nExec=/bin/false\n", -EINVAL, 4, "Exec: unknown key in section [Socket]" },
        { "keys are case sensitive", B "workers=2\n", -EINVAL, 3, "workers: unknown key in section [App]" },
        { "unknown section", B "[Service]\nType=simple\n", -EINVAL, 3, "unknown section [Service]; known are [App] and [Socket]" },
        { "unknown empty section", B "\n[Install]\n", -EINVAL, 4, "unknown section [Install]" },
        { "section without ']'", "[App\nExec=/bin/true\n", -EINVAL, 1, "section header without ']'" },
        { "key outside section", "Exec=/bin/true\n[App]\n", -EINVAL, 1, "Exec: key outside of a section; start with [App]" },
        { "key outside section after comments", "; sockd\n# config\n\nWorkers=2\n[App]\nExec=/bin/true\n", -EINVAL, 4,
          "Workers: key outside of a section" },
        { "Workers=0", B "Workers=0\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024, got '0'" },
        { "Workers=1025", B "Workers=1025\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024, got '1025'" },
        { "Workers=abc", B "Workers=abc\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024, got 'abc'" },
        { "Workers=-1", B "Workers=-1\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024, got '-1'" },
        { "Workers=2.5", B "Workers=2.5\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024, got '2.5'" },
        { "Workers empty", B "Workers=\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024, got ''" },
        { "Workers overflow", B "Workers=18446744073709551617\n", -ERANGE, 3, "Workers: must be a number from 1 to 1024" },
        { "missing Exec", "[App]\nWorkers=2\n[Socket]\nMode=0660\n", -EINVAL, 0, "[App] Exec= is required" },
        { "empty file", "", -EINVAL, 0, "[App] Exec= is required" },
        { "only comments", "; nothing\n# here\n", -EINVAL, 0, "[App] Exec= is required" },
        { "Exec relative", "[App]\nExec=node server.js\n", -EINVAL, 2, "Exec: program must be an absolute path, got 'node'" },
        { "Exec quoted relative", "[App]\nExec=\"node\" server.js\n", -EINVAL, 2, "Exec: program must be an absolute path, got 'node'" },
        { "Exec empty", "[App]\nExec=\n", -EINVAL, 2, "Exec: empty value" },
        { "Exec only a comment", "[App]\nExec= ; nothing\n", -EINVAL, 2, "Exec: empty value" },
        { "Name without {worker}", B "Workers=3\n[Socket]\nName=app.sock\n", -EINVAL, 5,
          "Name: 'app.sock' must contain {worker} when Workers=3" },
        { "Name without {worker} before Workers", "[Socket]\nName=app.sock\n[App]\nExec=/bin/true\nWorkers=2\n", -EINVAL, 2,
          "Name: 'app.sock' must contain {worker} when Workers=2" },
        { "WorkingDirectory relative", B "WorkingDirectory=srv/app\n", -EINVAL, 3,
          "WorkingDirectory: must be an absolute, normalized path, got 'srv/app'" },
        { "WorkingDirectory ..", B "WorkingDirectory=/srv/../etc\n", -EINVAL, 3,
          "WorkingDirectory: must be an absolute, normalized path, got '/srv/../etc'" },
        { "WorkingDirectory -relative", B "WorkingDirectory=-srv\n", -EINVAL, 3,
          "WorkingDirectory: must be an absolute, normalized path, got '-srv'" },
        { "WorkingDirectory empty", B "WorkingDirectory=\n", -EINVAL, 3, "WorkingDirectory: empty value" },
        { "Directory relative", B "[Socket]\nDirectory=run/myapp\n", -EINVAL, 4,
          "Directory: must be an absolute, normalized path, got 'run/myapp'" },
        { "Directory with '-'", B "[Socket]\nDirectory=-/run/myapp\n", -EINVAL, 4,
          "Directory: must be an absolute, normalized path, got '-/run/myapp'" },
        { "Directory //", B "[Socket]\nDirectory=/run//myapp\n", -EINVAL, 4,
          "Directory: must be an absolute, normalized path, got '/run//myapp'" },
        { "Directory with spaces", B "[Socket]\nDirectory=/run/my app\n", -EINVAL, 4,
          "Directory: must not contain spaces, quotes, '%', '$' or braces ({worker} goes in Name=), got '/run/my app'" },
        { "Directory with %", B "[Socket]\nDirectory=/run/app%i\n", -EINVAL, 4, "Directory: must not contain spaces" },
        { "Directory with $", B "[Socket]\nDirectory=/run/$APP\n", -EINVAL, 4, "Directory: must not contain spaces" },
        { "Name with /", B "[Socket]\nName=a/b.sock\n", -EINVAL, 4, "Name: must be a file name without '/', got 'a/b.sock'" },
        { "Name ..", B "[Socket]\nName=..\n", -EINVAL, 4, "Name: must be a file name without '/', got '..'" },
        { "Name empty", B "[Socket]\nName=\n", -EINVAL, 4, "Name: must be a file name without '/', got ''" },
        { "Name with space", B "[Socket]\nName=my app.sock\n", -EINVAL, 4,
          "Name: must not contain spaces, quotes, '\\', '%' or '$', got 'my app.sock'" },
        { "Name with $", B "[Socket]\nName=$x.sock\n", -EINVAL, 4, "Name: must not contain spaces" },
        { "Name with %", B "[Socket]\nName=%i.sock\n", -EINVAL, 4, "Name: must not contain spaces" },
        { "Ready bad", B "Ready=systemd\n", -EINVAL, 3, "Ready: must be 'notify', 'node-ipc' or 'listen', got 'systemd'" },
        { "Ready wrong case", B "Ready=Notify\n", -EINVAL, 3, "Ready: must be 'notify', 'node-ipc' or 'listen', got 'Notify'" },
        { "Suspend bad", B "Suspend=pause\n", -EINVAL, 3, "Suspend: must be 'hold' or 'queue', got 'pause'" },
        { "ReadyTimeoutSec=abc", B "ReadyTimeoutSec=abc\n", -EINVAL, 3, "ReadyTimeoutSec: 'abc' is not a duration" },
        { "StopTimeoutSec=10x", B "StopTimeoutSec=10x\n", -EINVAL, 3, "StopTimeoutSec: '10x' is not a duration" },
        { "ReadyTimeoutSec empty", B "ReadyTimeoutSec=\n", -EINVAL, 3, "ReadyTimeoutSec: '' is not a duration" },
        { "ReadyTimeoutSec=0", B "ReadyTimeoutSec=0\n", -ERANGE, 3, "ReadyTimeoutSec: must be between 1ms and 24h, got '0'" },
        { "StopTimeoutSec=0", B "StopTimeoutSec=0s\n", -ERANGE, 3, "StopTimeoutSec: must be between 1ms and 24h, got '0s'" },
        { "StopTimeoutSec=999us", B "StopTimeoutSec=999us\n", -ERANGE, 3, "StopTimeoutSec: must be between 1ms and 24h" },
        { "HandoverSec=soon", B "HandoverSec=soon\n", -EINVAL, 3, "HandoverSec: 'soon' is not a duration" },
        { "HandoverSec=2min", B "HandoverSec=2min\n", -ERANGE, 3, "HandoverSec: must be at most 1min, got '2min'" },
        { "StopTimeoutSec=25h", B "StopTimeoutSec=25h\n", -ERANGE, 3, "StopTimeoutSec: must be between 1ms and 24h, got '25h'" },
        { "Mode=999", B "[Socket]\nMode=999\n", -EINVAL, 4, "Mode: must be an octal mode like 0660, got '999'" },
        { "Mode=abc", B "[Socket]\nMode=abc\n", -EINVAL, 4, "Mode: must be an octal mode like 0660, got 'abc'" },
        { "Mode=2770", B "[Socket]\nMode=2770\n", -EINVAL, 4, "Mode: must be an octal mode like 0660, got '2770'" },
        { "Mode empty", B "[Socket]\nMode=\n", -EINVAL, 4, "Mode: must be an octal mode like 0660, got ''" },
        { "Mode=0666", B "[Socket]\nMode=0666\n", -EPERM, 4, "Mode: 0666 lets every user on the host connect" },
        { "Mode=0662", B "[Socket]\nMode=0662\n", -EPERM, 4, "Mode: 0662 lets every user on the host connect" },
        { "Mode=0664", B "[Socket]\nMode=0664\n", -EPERM, 4, "Mode: 0664 lets every user on the host connect" },
        { "Mode=0661", B "[Socket]\nMode=0661\n", -EPERM, 4, "Mode: 0661 lets every user on the host connect" },
        { "Mode=0060", B "[Socket]\nMode=0060\n", -EINVAL, 4, "Mode: 0060 does not let the socket's owner connect" },
        { "Mode=0460", B "[Socket]\nMode=0460\n", -EINVAL, 4, "Mode: 0460 does not let the socket's owner connect" },
        { "Mode=0640: group cannot connect", B "[Socket]\nMode=0640\n", -EINVAL, 4,
          "Mode: 0640 lets the group read but not connect (connecting needs write permission), use 0660" },
        { "ReadyMessage not JSON", B "Ready=node-ipc\nReadyMessage={ready:true}\n", -EINVAL, 4, "ReadyMessage: must be one JSON value, the message the app sends when it is ready" },
        { "ReadyMessage two values", B "Ready=node-ipc\nReadyMessage=\"a\" \"b\"\n", -EINVAL, 4, "ReadyMessage: must be one JSON value" },
        { "ReadyMessage without node-ipc", B "ReadyMessage=\"up\"\n", -EINVAL, 3, "ReadyMessage: goes with Ready=node-ipc" },
        { "StopSignal bad", B "StopSignal=SIGFOO\n", -EINVAL, 3, "StopSignal: 'SIGFOO' is not a signal (examples: SIGTERM, SIGINT, SIGQUIT, 15)" },
        { "StopSignal 0", B "StopSignal=0\n", -EINVAL, 3, "StopSignal: '0' is not a signal" },
        { "StopSignal 32", B "StopSignal=32\n", -EINVAL, 3, "StopSignal: '32' is not a signal" },
        { "StopSignal KILL", B "StopSignal=SIGKILL\n", -EINVAL, 3, "StopSignal: 'SIGKILL' cannot be caught" },
        { "StopSignal STOP", B "StopSignal=STOP\n", -EINVAL, 3, "StopSignal: 'STOP' cannot be caught" },
        { "Directory=/", B "[Socket]\nDirectory=/\n", -EINVAL, 4, "Directory: '/' is not a directory of the app's own below /run" },
        { "Directory=/run", B "[Socket]\nDirectory=/run\n", -EINVAL, 4, "Directory: '/run' is not a directory of the app's own below /run" },
        { "Directory=/var/lib", B "[Socket]\nDirectory=/var/lib\n", -EINVAL, 4, "Directory: '/var/lib' is not a directory of the app's own below /run" },
        { "Directory=/run/systemd", B "[Socket]\nDirectory=/run/systemd/\n", -EINVAL, 4, "Directory: must be an absolute" },
        { "Directory=/run/systemd", B "[Socket]\nDirectory=/run/systemd\n", -EINVAL, 4, "Directory: '/run/systemd' is /run/systemd, which belongs to systemd or the base system" },
        { "Directory=/run/systemd/x", B "[Socket]\nDirectory=/run/systemd/x\n", -EINVAL, 4, "Directory: '/run/systemd/x' is inside /run/systemd, which belongs to systemd" },
        { "Directory=/run/log", B "[Socket]\nDirectory=/run/log\n", -EINVAL, 4, "Directory: '/run/log' is /run/log, which belongs to systemd" },
        { "Directory=/run/sockd", B "[Socket]\nDirectory=/run/sockd\n", -EINVAL, 4, "Directory: '/run/sockd' is /run/sockd, which belongs to systemd" },
        { "Directory=/run/user/1000", B "[Socket]\nDirectory=/run/user/1000\n", -EINVAL, 4, "Directory: '/run/user/1000' is inside /run/user" },
        { "Directory=/run/user/1000/app", B "[Socket]\nDirectory=/run/user/1000/app\n", -EINVAL, 4, "Directory: '/run/user/1000/app' is inside /run/user" },
        { "Directory=/home/alice", B "[Socket]\nDirectory=/home/alice\n", -EINVAL, 4, "Directory: '/home/alice' is not a directory of the app's own below /run" },
        { "Directory=/usr/bin", B "[Socket]\nDirectory=/usr/bin\n", -EINVAL, 4, "Directory: '/usr/bin' is not a directory of the app's own below /run (e.g. /run/APP)" },
        { "Directory=/etc/ssl", B "[Socket]\nDirectory=/etc/ssl\n", -EINVAL, 4, "Directory: '/etc/ssl' is not a directory of the app's own below /run" },
        { "Exec with a CR", "[App]\nExec=/bin/true\rExecStartPre=+/usr/bin/id\n", -EINVAL, 2, "line contains a control character (0x0d) at column 15" },
        { "Exec ending in a backslash", "[App]\nExec=/bin/true \\\n", -EINVAL, 2, "Exec: must not end in '\\'" },
        { "key without a name", B "=foo\n", -EINVAL, 3, "a line with no key before its '='" },
        { "Directory with {worker}", B "[Socket]\nDirectory=/run/a{worker}\n", -EINVAL, 4, "Directory: must not contain spaces" },
        { "syntax error comes first", "[App]\nExec=/bin/true\njunk\nWorkers=0\n", -EINVAL, 3,
          "syntax error, expected 'Key=value', '[Section]' or a comment" },
        { "BOM does not hide a duplicate section", "\xEF\xBB\xBF[App]\nExec=/bin/true\n[App]\n", -EINVAL, 3,
          "duplicate section [App]" },
        { "Backlog=0", B "[Socket]\nBacklog=0\n", -ERANGE, 4, "Backlog: must be a number from 1 to 65535, got '0'" },
        { "Backlog=65536", B "[Socket]\nBacklog=65536\n", -ERANGE, 4, "Backlog: must be a number from 1 to 65535, got '65536'" },
        { "unknown User", B "User=sockd-no-such-user\n", -ESRCH, 3, "User: unknown user 'sockd-no-such-user'" },
        { "unknown Group", B "Group=sockd-no-such-group\n", -ESRCH, 3, "Group: unknown group 'sockd-no-such-group'" },
        { "unknown socket User", B "[Socket]\nUser=sockd-no-such-user\n", -ESRCH, 4, "User: unknown user 'sockd-no-such-user'" },
        { "unknown socket Group", B "[Socket]\nGroup=sockd-no-such-group\n", -ESRCH, 4,
          "Group: unknown group 'sockd-no-such-group'" },
        { "invalid User", B "User=1abc\n", -EINVAL, 3, "User: '1abc' is not a valid user or group name" },
        { "invalid Group", B "Group=a b\n", -EINVAL, 3, "Group: 'a b' is not a valid user or group name" },
        { "empty User", B "User=\n", -EINVAL, 3, "User: empty value" },
        { "Environment without =", B "Environment=FOO\n", -EINVAL, 3,
          "Environment: expected NAME=value with NAME of letters, digits and '_', got 'FOO'" },
        { "Environment bad name", B "Environment=1FOO=x\n", -EINVAL, 3, "Environment: expected NAME=value" },
        { "Environment name with -", B "Environment=FOO-BAR=x\n", -EINVAL, 3,
          "Environment: expected NAME=value with NAME of letters, digits and '_', got 'FOO-BAR=x'" },
        { "Environment empty name", B "Environment==x\n", -EINVAL, 3,
          "Environment: expected NAME=value with NAME of letters, digits and '_', got '=x'" },
        { "EnvironmentFile missing", B "EnvironmentFile=/sockd-no-such-dir/env\n", -ENOENT, 3,
          "EnvironmentFile: cannot access '/sockd-no-such-dir/env': No such file or directory" },
        { "EnvironmentFile relative", B "EnvironmentFile=etc/env\n", -EINVAL, 3,
          "EnvironmentFile: must be an absolute, normalized path, got 'etc/env'" },
        { "EnvironmentFile -relative", B "EnvironmentFile=-etc/env\n", -EINVAL, 3,
          "EnvironmentFile: must be an absolute, normalized path, got '-etc/env'" },
        { "PassEnvironment bad name", B "PassEnvironment=HOME 1BAD\n", -EINVAL, 3,
          "PassEnvironment: '1BAD' is not a valid environment variable name" },
        /* Line 2 is a key (nothing to continue yet); inih appends line 3 to it. */
        { "indented key after a header is a key", "[App]\n  Exec=/bin/true\n  Workers=0\n", -EINVAL, 3,
          "Exec: indented continuation lines are not supported" },
        { "continuation line", B "  --verbose\n", -EINVAL, 3,
          "Exec: indented continuation lines are not supported, put the value on one line" },
        { "continuation line after a key", B "Workers=2\n\t3\n", -EINVAL, 4, "Workers: indented continuation lines are not supported" },
        { "syntax error", B "junk\n", -EINVAL, 3, "syntax error, expected 'Key=value', '[Section]' or a comment" },
        { "syntax error first line", "junk\n[App]\nExec=/bin/true\n", -EINVAL, 1, "syntax error" },
        { "first error wins", B "Workers=0\nReady=bad\nFoo=bar\n", -ERANGE, 3, "Workers: must be a number" },
        { "first error wins across sections", B "[Socket]\nMode=0666\n[App]\n", -EPERM, 4, "Mode: 0666" },
};

START_TEST(test_load_error_cases) {
        const struct error_case *t = &error_cases[_i];

        current_case = t->what;
        assert_load_error(t->content, t->code, t->line, t->msg);
}
END_TEST

START_TEST(test_line_too_long) {
        const char *key = "Environment=X=";
        _cleanup_free_ char *pad = repeat('v', 199 - strlen(key)), *content = NULL, *huge = repeat('h', 5000),
                            *content2 = NULL, *comment = repeat(';', 250), *content3 = NULL, *content4 = NULL;

        /* A line of 199 bytes does not fit inih's 200-byte buffer with its '\n' and NUL. */
        ck_assert_int_ge(asprintf(&content, B "%s%s\nWorkers=2\n", key, pad), 0);
        assert_load_error(content, -E2BIG, 3, "line is 199 bytes long, the limit is 198");

        /* The CR of a CRLF line does not count. */
        ck_assert_int_ge(asprintf(&content4, "[App]\r\nExec=/bin/true\r\n%s%s\r\n", key, pad), 0);
        assert_load_error(content4, -E2BIG, 3, "line is 199 bytes long, the limit is 198");

        ck_assert_int_ge(asprintf(&content2, "[App]\nExec=/bin/true %s\n", huge), 0);
        assert_load_error(content2, -E2BIG, 2, "line is 5015 bytes long, the limit is 198");

        /* Also comments: never cut a line silently, whatever it is. */
        ck_assert_int_ge(asprintf(&content3, B "\n%s\n", comment), 0);
        assert_load_error(content3, -E2BIG, 4, "line is 250 bytes long");

        /* The last line, without a newline. */
        free(content);
        content = NULL;
        ck_assert_int_ge(asprintf(&content, B "%s%s", key, pad), 0);
        assert_load_error(content, -E2BIG, 3, "line is 199 bytes long");
}
END_TEST

START_TEST(test_nul_byte) {
        static const char nul_in_key[] = B "Work\0ers=2\nReady=notify\n";
        static const char nul_at_end[] = B "Workers=2\0";
        static const char nul_in_comment[] = B "; a\0b\n";

        assert_load_error_data(nul_in_key, sizeof nul_in_key - 1, -EINVAL, 3, "line contains a NUL byte");
        assert_load_error_data(nul_at_end, sizeof nul_at_end - 1, -EINVAL, 3, "line contains a NUL byte");
        assert_load_error_data(nul_in_comment, sizeof nul_in_comment - 1, -EINVAL, 3, "line contains a NUL byte");
}
END_TEST

START_TEST(test_socket_path_too_long) {
        /* sun_path holds 107 bytes and a NUL; the longest worker's path is checked. */
        _cleanup_free_ char *dir = NULL, *ok = NULL, *bad = NULL, *bad_workers = NULL, *error = NULL, *path = NULL,
                            *expected = NULL, *pad = repeat('d', 98 - strlen("/run/"));
        _cleanup_app_config_ AppConfig *c = NULL;
        AppConfig *none = NULL;
        int r;

        ck_assert_int_ge(asprintf(&dir, "/run/%s", pad), 0);
        ck_assert_uint_eq(strlen(dir), 98);

        /* "DIR/x.9.sock" is 98 + 9 = 107 bytes: fits. */
        ck_assert_int_ge(asprintf(&ok, B "Workers=10\n[Socket]\nDirectory=%s\nName=x.{worker}.sock\n", dir), 0);
        c = load_ok(ok);
        {
                _cleanup_free_ char *p = app_config_socket_path(c, 9);
                ck_assert_uint_eq(strlen(p), 107);
        }

        /* Worker 10 of 11 makes it 108. */
        ck_assert_int_ge(asprintf(&bad_workers, B "Workers=11\n[Socket]\nDirectory=%s\nName=x.{worker}.sock\n", dir), 0);
        path = test_write_file(tmpdir, "myapp.conf", bad_workers);
        r = app_config_load(path, &none, &error);
        ck_assert_int_eq(r, -ENAMETOOLONG);
        ck_assert_ptr_null(none);
        ck_assert_ptr_nonnull(error);
        ck_assert_int_ge(asprintf(&expected, "socket path '%s/x.10.sock' is 108 bytes, the limit is 107", dir), 0);
        ck_assert_str_contains(error, expected);
        /* It names the line of Name= (6) or Directory= (5), whichever it blames. */
        free(expected);
        expected = NULL;
        ck_assert_int_ge(asprintf(&expected, "'%s':", path), 0);
        ck_assert_str_startswith(error, expected);
        ck_assert_msg(strncmp(error + strlen(expected), "6: ", 3) == 0 || strncmp(error + strlen(expected), "5: ", 3) == 0,
                      "wrong line in: %s", error);

        /* One worker, a longer name. */
        ck_assert_int_ge(asprintf(&bad, B "[Socket]\nDirectory=%s\nName=x.{worker}.sockX\n", dir), 0);
        free(error);
        error = NULL;
        free(path);
        path = test_write_file(tmpdir, "myapp.conf", bad);
        ck_assert_int_eq(app_config_load(path, &none, &error), -ENAMETOOLONG);
        ck_assert_ptr_null(none);
        ck_assert_str_contains(error, "is 108 bytes, the limit is 107");

        /* Without Name=, the Directory= line is to blame. */
        free(bad);
        ck_assert_int_ge(asprintf(&bad, B "Workers=2\n[Socket]\nDirectory=%s/aaaaaaaaaaaaaaaaaaaa\n", dir), 0);
        free(error);
        error = NULL;
        free(path);
        path = test_write_file(tmpdir, "myapp.conf", bad);
        ck_assert_int_eq(app_config_load(path, &none, &error), -ENAMETOOLONG);
        free(expected);
        ck_assert_int_ge(asprintf(&expected, "'%s':5: ", path), 0);
        ck_assert_str_startswith(error, expected);
        ck_assert_str_contains(error, "/myapp.1.sock' is 132 bytes, the limit is 107");
}
END_TEST

START_TEST(test_socket_path_defaults_fit) {
        /* The longest app name with the most workers still fits sun_path by default;
         * one character more is not an app name. */
        _cleanup_free_ char *name = repeat('a', 31), *file = NULL, *longer = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;
        _cleanup_free_ char *error = NULL;

        ck_assert_int_ge(asprintf(&file, "%s.conf", name), 0);
        _cleanup_free_ char *path = test_write_file(tmpdir, file, "[App]\nExec=/bin/true\nWorkers=1024\n");
        ck_assert_int_eq(app_config_load(path, &c, &error), 0);

        ck_assert_int_ge(asprintf(&longer, "a%s", file), 0);
        _cleanup_free_ char *path2 = test_write_file(tmpdir, longer, B);
        assert_load_error_path(path2, -EINVAL, 0, "file name must be APP.conf");
}
END_TEST

START_TEST(test_bad_file_names) {
        static const char *const names[] = {
                "bad@name.conf", ".conf", "myapp.ini", "-myapp.conf", "my app.conf", "myapp.conf.bak", "myapp",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *path = test_write_file(tmpdir, names[i], "[App]\nExec=/bin/true\n");

                assert_load_error_path(path, -EINVAL, 0, "file name must be APP.conf");
        }
}
END_TEST

START_TEST(test_nonexistent_file) {
        _cleanup_free_ char *path = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/missing.conf", tmpdir), 0);
        assert_load_error_path(path, -ENOENT, 0, "cannot open: No such file or directory");
}
END_TEST

START_TEST(test_directory_instead_of_file) {
        _cleanup_free_ char *path = NULL, *error = NULL, *prefix = NULL;
        AppConfig *c = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/dir.conf", tmpdir), 0);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        ck_assert_int_lt(app_config_load(path, &c, &error), 0);
        ck_assert_ptr_null(c);
        ck_assert_int_ge(asprintf(&prefix, "'%s': not a regular file", path), 0);
        ck_assert_str_startswith(error, prefix);
}
END_TEST

START_TEST(test_fifo_instead_of_file) {
        _cleanup_free_ char *path = NULL, *error = NULL, *prefix = NULL;
        AppConfig *c = NULL;

        /* Read without a writer, it would block the generator at boot. */
        ck_assert_int_ge(asprintf(&path, "%s/fifo.conf", tmpdir), 0);
        ck_assert_int_eq(mkfifo(path, 0644), 0);
        ck_assert_int_lt(app_config_load(path, &c, &error), 0);
        ck_assert_ptr_null(c);
        ck_assert_int_ge(asprintf(&prefix, "'%s': not a regular file", path), 0);
        ck_assert_str_startswith(error, prefix);
}
END_TEST

/* ---- names, paths, search ---- */

static const struct {
        const char *path;
        const char *name; /* NULL: -EINVAL */
} name_cases[] = {
        { "/etc/sockd/myapp.conf", "myapp" },
        { "myapp.conf", "myapp" },
        { "relative/dir/my-app_2.v1.conf", "my-app_2.v1" },
        { "/etc/sockd/a.conf", "a" },
        { "/etc/sockd/a.conf.conf", "a.conf" },
        { "/etc/sockd/.conf", NULL },
        { "/etc/sockd/", NULL },
        { "", NULL },
        { "/etc/sockd/myapp", NULL },
        { "/etc/sockd/myapp.ini", NULL },
        { "/etc/sockd/bad@name.conf", NULL },
        { "/etc/sockd/my app.conf", NULL },
        { "/etc/sockd/-x.conf", NULL },
        { "/etc/sockd/.x.conf", NULL },
        { "/etc/sockd/x\\y.conf", NULL },
        { "/etc/sockd/myapp.CONF", NULL },
};

START_TEST(test_app_name_from_path) {
        for (size_t i = 0; i < ELEMENTSOF(name_cases); i++) {
                char *name = (char *) "untouched";
                int r = app_name_from_path(name_cases[i].path, &name);

                if (name_cases[i].name) {
                        ck_assert_msg(r == 0, "%s: %d", name_cases[i].path, r);
                        ck_assert_str_eq(name, name_cases[i].name);
                        free(name);
                } else {
                        ck_assert_msg(r == -EINVAL, "%s: %d", name_cases[i].path, r);
                        ck_assert_str_eq(name, "untouched");
                }
        }
}
END_TEST

START_TEST(test_socket_path) {
        _cleanup_app_config_ AppConfig *c = load_ok(B "Workers=12\n[Socket]\nDirectory=/run/x\nName=w-{worker}-{worker}.sock\n");
        _cleanup_app_config_ AppConfig *d = load_ok(B);
        _cleanup_free_ char *p0 = app_config_socket_path(c, 0), *p11 = app_config_socket_path(c, 11),
                            *q = app_config_socket_path(d, 0), *q7 = app_config_socket_path(d, 7);

        ck_assert_str_eq(p0, "/run/x/w-0-0.sock");
        ck_assert_str_eq(p11, "/run/x/w-11-11.sock");
        ck_assert_str_eq(q, "/run/myapp/myapp.0.sock");
        ck_assert_str_eq(q7, "/run/myapp/myapp.7.sock");
}
END_TEST

static char *mkdir_in(const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", tmpdir, name), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        return p;
}

static void touch(const char *dir, const char *name) {
        free(test_write_file(dir, name, "[App]\nExec=/bin/true\n"));
}

START_TEST(test_enumerate_and_find) {
        _cleanup_free_ char *d1 = mkdir_in("etc"), *d2 = mkdir_in("run"), *d3 = NULL, *p = NULL, *link = NULL,
                            *target = NULL;
        _cleanup_strv_free_ char **paths = NULL, **dirs = NULL, **empty = NULL;
        char *found = (char *) "untouched";

        ck_assert_int_ge(asprintf(&d3, "%s/missing", tmpdir), 0);
        touch(d1, "zeta.conf");
        touch(d1, "beta.conf");
        touch(d1, "notes.txt");
        touch(d1, ".hidden.conf");
        touch(d1, "conf");
        touch(d2, "beta.conf"); /* shadowed by d1's */
        touch(d2, "alpha.conf");
        touch(d2, "gamma.conf");
        /* sorted by app name: "a" before "a-b" and "a.b" */
        touch(d2, "a-b.conf");
        touch(d1, "a.conf");
        target = test_write_file(tmpdir, "elsewhere", "[App]\nExec=/bin/true\n");
        ck_assert_int_ge(asprintf(&link, "%s/delta.conf", d2), 0);
        ck_assert_int_eq(symlink(target, link), 0);

        ck_assert_int_eq(strv_extend(&dirs, d3), 0); /* a missing directory is skipped */
        ck_assert_int_eq(strv_extend(&dirs, d1), 0);
        ck_assert_int_eq(strv_extend(&dirs, d2), 0);

        ck_assert_int_eq(config_enumerate(dirs, &paths), 0);
        ck_assert_uint_eq(strv_length(paths), 7);
        {
                _cleanup_free_ char *a = NULL, *ab = NULL;

                ck_assert_int_ge(asprintf(&a, "%s/a.conf", d1), 0);
                ck_assert_int_ge(asprintf(&ab, "%s/a-b.conf", d2), 0);
                ck_assert_str_eq(paths[0], a);
                ck_assert_str_eq(paths[1], ab);
        }
        {
                _cleanup_free_ char *e0 = NULL, *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;

                ck_assert_int_ge(asprintf(&e0, "%s/alpha.conf", d2), 0);
                ck_assert_int_ge(asprintf(&e1, "%s/beta.conf", d1), 0);
                ck_assert_int_ge(asprintf(&e2, "%s/delta.conf", d2), 0);
                ck_assert_int_ge(asprintf(&e3, "%s/gamma.conf", d2), 0);
                ck_assert_int_ge(asprintf(&e4, "%s/zeta.conf", d1), 0);
                ck_assert_str_eq(paths[2], e0);
                ck_assert_str_eq(paths[3], e1);
                ck_assert_str_eq(paths[4], e2);
                ck_assert_str_eq(paths[5], e3);
                ck_assert_str_eq(paths[6], e4);
        }

        ck_assert_int_eq(config_find(dirs, "beta", &found), 0);
        ck_assert_int_ge(asprintf(&p, "%s/beta.conf", d1), 0);
        ck_assert_str_eq(found, p);
        free(found);
        free(p);
        ck_assert_int_eq(config_find(dirs, "gamma", &found), 0);
        ck_assert_int_ge(asprintf(&p, "%s/gamma.conf", d2), 0);
        ck_assert_str_eq(found, p);
        free(found);

        found = (char *) "untouched";
        ck_assert_int_eq(config_find(dirs, "nope", &found), -ENOENT);
        ck_assert_int_eq(config_find(dirs, "notes", &found), -ENOENT);
        ck_assert_str_eq(found, "untouched");

        /* No directory at all, or none that exists: nothing, no error. */
        ck_assert_int_eq(config_enumerate(NULL, &empty), 0);
        ck_assert_uint_eq(strv_length(empty), 0);
        strv_free(dirs);
        dirs = NULL;
        ck_assert_int_eq(strv_extend(&dirs, d3), 0);
        ck_assert_int_eq(config_enumerate(dirs, &empty), 0);
        ck_assert_uint_eq(strv_length(empty), 0);
        ck_assert_int_eq(config_find(dirs, "beta", &found), -ENOENT);
}
END_TEST

/* What the search paths and user-scope defaults read; the tests set them freely. */
static const char *const saved_env_names[] = { "SOCKD_CONFIG_PATH", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "HOME" };
static char *saved_env[ELEMENTSOF(saved_env_names)];
static bool had_env[ELEMENTSOF(saved_env_names)];

static void save_env(void) {
        for (size_t i = 0; i < ELEMENTSOF(saved_env_names); i++) {
                const char *e = getenv(saved_env_names[i]);

                had_env[i] = e != NULL;
                saved_env[i] = e ? strdup(e) : NULL;
        }
}

static void restore_env(void) {
        for (size_t i = 0; i < ELEMENTSOF(saved_env_names); i++) {
                if (had_env[i])
                        setenv(saved_env_names[i], saved_env[i], 1);
                else
                        unsetenv(saved_env_names[i]);
                free(saved_env[i]);
                saved_env[i] = NULL;
        }
}

START_TEST(test_search_path) {
        _cleanup_strv_free_ char **l = NULL;

        ck_assert_int_eq(unsetenv("SOCKD_CONFIG_PATH"), 0);
        l = config_search_path(false);
        ck_assert_uint_eq(strv_length(l), 3);
        ck_assert_str_eq(l[0], "/etc/sockd");
        ck_assert_str_eq(l[1], "/run/sockd");
        ck_assert_str_eq(l[2], "/usr/lib/sockd");
        l = strv_free(l);

        ck_assert_int_eq(setenv("SOCKD_CONFIG_PATH", "/tmp/one:/tmp/two", 1), 0);
        l = config_search_path(false);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/tmp/one");
        ck_assert_str_eq(l[1], "/tmp/two");
        l = strv_free(l);

        ck_assert_int_eq(setenv("SOCKD_CONFIG_PATH", "/only", 1), 0);
        l = config_search_path(false);
        ck_assert_uint_eq(strv_length(l), 1);
        ck_assert_str_eq(l[0], "/only");
        l = strv_free(l);

        ck_assert_int_eq(setenv("SOCKD_CONFIG_PATH", ":/a::/b:", 1), 0);
        l = config_search_path(false);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/a");
        ck_assert_str_eq(l[1], "/b");
}
END_TEST

START_TEST(test_search_path_used_for_enumerate) {
        _cleanup_free_ char *d1 = mkdir_in("one"), *d2 = mkdir_in("two"), *env = NULL, *e = NULL;
        _cleanup_strv_free_ char **dirs = NULL, **paths = NULL;

        touch(d2, "web.conf");
        ck_assert_int_ge(asprintf(&env, "%s:%s", d1, d2), 0);
        ck_assert_int_eq(setenv("SOCKD_CONFIG_PATH", env, 1), 0);
        dirs = config_search_path(false);
        ck_assert_int_eq(config_enumerate(dirs, &paths), 0);
        ck_assert_uint_eq(strv_length(paths), 1);
        ck_assert_int_ge(asprintf(&e, "%s/web.conf", d2), 0);
        ck_assert_str_eq(paths[0], e);
}
END_TEST

START_TEST(test_enum_strings) {
        ck_assert_str_eq(ready_protocol_to_string(READY_NOTIFY), "notify");
        ck_assert_str_eq(ready_protocol_to_string(READY_NODE_IPC), "node-ipc");
        ck_assert_ptr_null(ready_protocol_to_string(_READY_PROTOCOL_MAX));
        ck_assert_ptr_null(ready_protocol_to_string(_READY_PROTOCOL_INVALID));
        ck_assert_int_eq(ready_protocol_from_string("notify"), READY_NOTIFY);
        ck_assert_int_eq(ready_protocol_from_string("node-ipc"), READY_NODE_IPC);
        ck_assert_int_eq(ready_protocol_from_string("node"), -EINVAL);
        ck_assert_int_eq(ready_protocol_from_string(""), -EINVAL);

        ck_assert_str_eq(suspend_mode_to_string(SUSPEND_HOLD), "hold");
        ck_assert_str_eq(suspend_mode_to_string(SUSPEND_QUEUE), "queue");
        ck_assert_ptr_null(suspend_mode_to_string(_SUSPEND_MODE_MAX));
        ck_assert_ptr_null(suspend_mode_to_string(_SUSPEND_MODE_INVALID));
        ck_assert_int_eq(suspend_mode_from_string("hold"), SUSPEND_HOLD);
        ck_assert_int_eq(suspend_mode_from_string("queue"), SUSPEND_QUEUE);
        ck_assert_int_eq(suspend_mode_from_string("Hold"), -EINVAL);

        ck_assert_str_eq(standby_mode_to_string(STANDBY_SERVING), "serving");
        ck_assert_str_eq(standby_mode_to_string(STANDBY_YES), "yes");
        ck_assert_str_eq(standby_mode_to_string(STANDBY_NO), "no");
        ck_assert_ptr_null(standby_mode_to_string(_STANDBY_MODE_MAX));
        ck_assert_int_eq(standby_mode_from_string("Serving"), -EINVAL);
        ck_assert_int_eq(standby_mode_from_string(""), -EINVAL);

        ck_assert_ptr_null(app_config_free(NULL));
}
END_TEST

/* ---- a user's service manager ---- */

static AppConfig *load_user_ok_named(const char *name, const char *content) {
        _cleanup_free_ char *path = test_write_file(tmpdir, name, content), *error = NULL;
        AppConfig *c = NULL;
        int r;

        r = app_config_load_scope(path, true, &c, &error);
        ck_assert_msg(r == 0, "loading for a user\n%s\nfailed: %s (%d)", content, error ?: "(no message)", r);
        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(c);
        ck_assert(c->user_scope);
        ck_assert_str_eq(c->path, path);
        return c;
}

static AppConfig *load_user_ok(const char *content) {
        return load_user_ok_named("myapp.conf", content);
}

#define NOT_FOR_USERS "not available to a user's service manager"

START_TEST(test_user_scope_rejects_credentials) {
        const struct {
                const char *before, *key, *after;
                unsigned line;
        } cases[] = {
                { B, "User", "", 3 },
                { B, "Group", "", 3 },
                { B "[Socket]\n", "User", "", 4 },
                { B "[Socket]\n", "Group", "", 4 },
                { B "Workers=2\n[Socket]\nMode=0600\n", "Group", "Backlog=5\n", 6 },
                { "[Socket]\n", "User", "[App]\nExec=/bin/true\n", 2 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *content = NULL, *path = NULL, *message = NULL;
                _cleanup_app_config_ AppConfig *c = NULL;

                /* A name that exists. */
                ck_assert_int_ge(asprintf(&content, "%s%s=%s\n%s", cases[i].before, cases[i].key,
                                          streq(cases[i].key, "User") ? test_root_user() : test_root_group(),
                                          cases[i].after),
                                 0);
                path = test_write_file(tmpdir, "myapp.conf", content);
                /* The system's manager takes the file: the scope is what refuses it. */
                ck_assert_int_eq(app_config_load_scope(path, false, &c, NULL), 0);

                current_case = content;
                ck_assert_int_ge(asprintf(&message, "%s: " NOT_FOR_USERS, cases[i].key), 0);
                assert_load_error_path_scope(path, true, -EINVAL, cases[i].line, message);
        }

        /* Whatever the value: the key itself is refused, before its value is looked at. */
        {
                static const char *const values[] = { "sockd-no-such-user", "1abc", "" };

                for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                        _cleanup_free_ char *content = NULL, *path = NULL;

                        ck_assert_int_ge(asprintf(&content, B "User=%s\n", values[i]), 0);
                        path = test_write_file(tmpdir, "myapp.conf", content);
                        current_case = content;
                        assert_load_error_path_scope(path, true, -EINVAL, 3, "User: " NOT_FOR_USERS);
                }
        }

        /* The first error still wins. */
        {
                _cleanup_free_ char *path = test_write_file(tmpdir, "myapp.conf", B "Workers=0\nUser=root\n");

                current_case = "Workers=0 before User=";
                assert_load_error_path_scope(path, true, -ERANGE, 3, "Workers: must be a number from 1 to 1024");
        }
}
END_TEST

START_TEST(test_user_scope_defaults) {
        _cleanup_app_config_ AppConfig *c = NULL, *sys = NULL;
        _cleanup_free_ char *p0 = NULL, *p3 = NULL;

        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
        c = load_user_ok(B "Workers=4\n");

        ck_assert_str_eq(c->name, "myapp");
        ck_assert_str_eq(c->socket_directory, "/run/user/4242/myapp");
        ck_assert_str_eq(c->socket_name, "myapp.{worker}.sock");
        /* The user's own sockets: no owner or group, and no www-data needed. */
        ck_assert_ptr_null(c->user);
        ck_assert_ptr_null(c->group);
        ck_assert_ptr_null(c->socket_user);
        ck_assert_ptr_null(c->socket_group);
        /* The rest as for the system. */
        ck_assert_uint_eq(c->workers, 4);
        ck_assert_int_eq(c->ready, READY_NOTIFY);
        ck_assert_uint_eq(c->ready_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->stop_timeout, 30 * USEC_PER_SEC);
        ck_assert_int_eq(c->suspend, SUSPEND_QUEUE);
        ck_assert_uint_eq(c->socket_mode, 0660);
        ck_assert_uint_eq(c->backlog, 4096);

        p0 = app_config_socket_path(c, 0);
        p3 = app_config_socket_path(c, 3);
        ck_assert_str_eq(p0, "/run/user/4242/myapp/myapp.0.sock");
        ck_assert_str_eq(p3, "/run/user/4242/myapp/myapp.3.sock");

        /* The same file for the system: /run and the socket's owner and group. */
        sys = load_ok(B "Workers=4\n");
        ck_assert(!sys->user_scope);
        ck_assert_str_eq(sys->socket_directory, "/run/myapp");
        ck_assert_str_eq(sys->socket_user, "root");
        ck_assert_ptr_nonnull(sys->socket_group);
}
END_TEST

START_TEST(test_user_scope_runtime_dir_fallback) {
        _cleanup_app_config_ AppConfig *c = NULL, *d = NULL;
        _cleanup_free_ char *expected = NULL, *dir = NULL;

        ck_assert_int_ge(asprintf(&expected, "/run/user/%u/myapp", (unsigned) getuid()), 0);

        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
        c = load_user_ok(B);
        ck_assert_str_eq(c->socket_directory, expected);

        /* A relative one is no runtime directory either. */
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "run/user/4242", 1), 0);
        d = load_user_ok(B);
        ck_assert_str_eq(d->socket_directory, expected);

        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "", 1), 0);
        dir = user_runtime_dir();
        expected[strlen(expected) - strlen("/myapp")] = 0;
        ck_assert_str_eq(dir, expected);
        free(dir);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/77", 1), 0);
        dir = user_runtime_dir();
        ck_assert_str_eq(dir, "/run/user/77");
}
END_TEST

START_TEST(test_user_scope_explicit_socket_keys) {
        _cleanup_app_config_ AppConfig *c = NULL;

        /* [Socket] keys other than User= and Group= work as for the system. */
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
        c = load_user_ok(B "[Socket]\nDirectory=/run/user/4242/web\nName=w.{worker}.sock\nMode=0600\nBacklog=16\n");
        ck_assert_str_eq(c->socket_directory, "/run/user/4242/web");
        ck_assert_str_eq(c->socket_name, "w.{worker}.sock");
        ck_assert_uint_eq(c->socket_mode, 0600);
        ck_assert_uint_eq(c->backlog, 16);
        ck_assert_ptr_null(c->socket_user);
        ck_assert_ptr_null(c->socket_group);
}
END_TEST

START_TEST(test_user_scope_without_www_data) {
        _cleanup_app_config_ AppConfig *c = NULL;
        _cleanup_free_ char *path = NULL;
        AppConfig *none = NULL;

        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
        c = load_user_ok(B);
        ck_assert_ptr_null(c->socket_group);

        /* Where nginx's Debian group does not exist, only the system needs it named. */
        errno = 0;
        if (!getgrnam("www-data")) {
                path = test_write_file(tmpdir, "myapp.conf", B);
                ck_assert_int_eq(app_config_load_scope(path, false, &none, NULL), -ESRCH);
                ck_assert_ptr_null(none);
        } else
                fprintf(stderr, "group www-data exists here: the system side of this test does not run\n");
}
END_TEST

START_TEST(test_user_scope_socket_path_too_long) {
        _cleanup_free_ char *runtime = NULL, *pad = repeat('r', 90), *path = NULL, *expected = NULL;

        /* The default directory counts: a long $XDG_RUNTIME_DIR makes too long a path. */
        ck_assert_int_ge(asprintf(&runtime, "/run/user/%s", pad), 0);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", runtime, 1), 0);
        path = test_write_file(tmpdir, "myapp.conf", B);
        ck_assert_int_ge(asprintf(&expected, "Directory: socket path '%s/myapp/myapp.0.sock' is %zu bytes, the limit is 107",
                                  runtime, strlen(runtime) + strlen("/myapp/myapp.0.sock")),
                         0);
        current_case = "long $XDG_RUNTIME_DIR";
        assert_load_error_path_scope(path, true, -ENAMETOOLONG, 0, expected);
}
END_TEST

START_TEST(test_search_path_user) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *fallback = NULL;

        ck_assert_int_eq(unsetenv("SOCKD_CONFIG_PATH"), 0);
        ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "/home/u/cfg", 1), 0);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
        ck_assert_int_eq(setenv("HOME", "/home/u", 1), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/home/u/cfg/sockd");
        ck_assert_str_eq(l[1], "/run/user/4242/sockd");
        l = strv_free(l);

        /* The system's path does not care about the user's variables. */
        l = config_search_path(false);
        ck_assert_uint_eq(strv_length(l), 3);
        ck_assert_str_eq(l[0], "/etc/sockd");
        l = strv_free(l);

        /* Without $XDG_CONFIG_HOME (or with a relative one): ~/.config. */
        ck_assert_int_eq(unsetenv("XDG_CONFIG_HOME"), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/home/u/.config/sockd");
        ck_assert_str_eq(l[1], "/run/user/4242/sockd");
        l = strv_free(l);

        ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "cfg", 1), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/home/u/.config/sockd");
        l = strv_free(l);

        /* Without $XDG_RUNTIME_DIR: /run/user/UID. */
        ck_assert_int_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
        ck_assert_int_ge(asprintf(&fallback, "/run/user/%u/sockd", (unsigned) getuid()), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/home/u/.config/sockd");
        ck_assert_str_eq(l[1], fallback);
        l = strv_free(l);

        /* No home at all: only the runtime directory. */
        ck_assert_int_eq(unsetenv("HOME"), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 1);
        ck_assert_str_eq(l[0], fallback);
        l = strv_free(l);

        /* $SOCKD_CONFIG_PATH replaces it for users too. */
        ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "/home/u/cfg", 1), 0);
        ck_assert_int_eq(setenv("SOCKD_CONFIG_PATH", "/tmp/one:/tmp/two", 1), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/tmp/one");
        ck_assert_str_eq(l[1], "/tmp/two");
        l = strv_free(l);

        /* ... unless it names no directory at all. */
        ck_assert_int_eq(setenv("SOCKD_CONFIG_PATH", ":", 1), 0);
        l = config_search_path(true);
        ck_assert_uint_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/home/u/cfg/sockd");
}
END_TEST

START_TEST(test_search_path_user_finds_configs) {
        _cleanup_free_ char *cfg = mkdir_in("cfg"), *rt = mkdir_in("rt"), *d1 = NULL, *d2 = NULL, *e = NULL;
        _cleanup_strv_free_ char **dirs = NULL, **paths = NULL;

        ck_assert_int_ge(asprintf(&d1, "%s/sockd", cfg), 0);
        ck_assert_int_eq(mkdir(d1, 0755), 0);
        ck_assert_int_ge(asprintf(&d2, "%s/sockd", rt), 0);
        ck_assert_int_eq(mkdir(d2, 0755), 0);
        touch(d1, "web.conf");
        touch(d2, "web.conf"); /* shadowed by the user's own */
        touch(d2, "api.conf");

        ck_assert_int_eq(unsetenv("SOCKD_CONFIG_PATH"), 0);
        ck_assert_int_eq(setenv("XDG_CONFIG_HOME", cfg, 1), 0);
        ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", rt, 1), 0);
        dirs = config_search_path(true);
        ck_assert_int_eq(config_enumerate(dirs, &paths), 0);
        ck_assert_uint_eq(strv_length(paths), 2);
        ck_assert_int_ge(asprintf(&e, "%s/api.conf", d2), 0);
        ck_assert_str_eq(paths[0], e);
        free(e);
        ck_assert_int_ge(asprintf(&e, "%s/web.conf", d1), 0);
        ck_assert_str_eq(paths[1], e);
}
END_TEST

/* ---- boundaries: what a config may name, what is left to the running system ---- */

START_TEST(test_ready_message) {
        _cleanup_app_config_ AppConfig *d = load_ok("[App]\nExec=/bin/true\nReady=node-ipc\n"),
                                       *c = load_ok("[App]\nExec=/bin/true\nReady=node-ipc\n"
                                                    "ReadyMessage={ \"step\": \"all\", \"ready\" : true }  ; a comment\n");

        ck_assert_ptr_null(d->ready_message); /* "online" */
        ck_assert_str_eq(c->ready_message, "{\"ready\":true,\"step\":\"all\"}");
}
END_TEST

START_TEST(test_stop_signal) {
        static const struct {
                const char *value;
                int sig;
        } cases[] = {
                { "SIGTERM", SIGTERM }, { "TERM", SIGTERM }, { "SIGINT", SIGINT }, { "QUIT", SIGQUIT },
                { "SIGUSR1", SIGUSR1 }, { "15", SIGTERM }, { "SIGWINCH", SIGWINCH },
        };
        _cleanup_app_config_ AppConfig *d = load_ok("[App]\nExec=/bin/true\n");

        ck_assert_int_eq(d->stop_signal, SIGTERM);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *content = NULL;
                AppConfig *c;

                ck_assert_int_ge(asprintf(&content, "[App]\nExec=/bin/true\nStopSignal=%s\n", cases[i].value), 0);
                c = load_ok(content);
                ck_assert_msg(c->stop_signal == cases[i].sig, "%s: %d", cases[i].value, c->stop_signal);
                app_config_free(c);
        }
}
END_TEST

START_TEST(test_inline_comments_never_cut_a_value) {
        _cleanup_app_config_ AppConfig *c = load_ok(
                "[App]\n"
                "Exec=/bin/sh -c \"exec app ; echo done\"   ; the comment\n"
                "Environment=A=x ;y\n"
                "Environment=B=1 ; a comment\n"
                "Environment=C=a;b ;c\n"
                "Environment=D=end ;\n"
                "Environment=E=tab\t;\tcomment\n");

        ck_assert_str_eq(c->exec, "/bin/sh -c \"exec app ; echo done\"");
        ck_assert_uint_eq(strv_length(c->environment), 5);
        ck_assert_str_eq(c->environment[0], "A=x ;y");
        ck_assert_str_eq(c->environment[1], "B=1");
        ck_assert_str_eq(c->environment[2], "C=a;b ;c");
        ck_assert_str_eq(c->environment[3], "D=end");
        ck_assert_str_eq(c->environment[4], "E=tab");
}
END_TEST

START_TEST(test_exec_quotes_like_systemd) {
        _cleanup_app_config_ AppConfig *c = load_ok("[App]\nExec='/opt/my app/run' --flag \"a ; b\" ; comment\n");
        _cleanup_free_ char *path = test_write_file(tmpdir, "web.conf", "[App]\nExec=/bin/sh -c 'exec app ; echo\n"),
                            *error = NULL;
        AppConfig *none = NULL;

        ck_assert_str_eq(c->exec, "'/opt/my app/run' --flag \"a ; b\"");
        ck_assert_int_eq(app_config_load(path, &none, &error), -EINVAL);
        ck_assert_ptr_null(none);
        ck_assert_msg(strstr(error, "':2: Exec: '/bin/sh -c 'exec app , echo' has a single quote (') that is never closed") ||
                      strstr(error, "':2: Exec: '/bin/sh -c 'exec app ; echo' has a single quote (') that is never closed"),
                      "%s", error);
}
END_TEST

/* What exists, from a fixture tree of tmpfiles.d and unit directories. */
static SystemClaims *fixture_claims(void) {
        _cleanup_free_ char *tmpfiles = mkdir_in("tmpfiles.d"), *units = mkdir_in("units"), *p = NULL;
        char *tdirs[] = { tmpfiles, NULL }, *udirs[] = { units, NULL };
        SystemClaims *c = NULL;

        free(test_write_file(tmpfiles, "pkg.conf",
                             "# a comment\n"
                             "d /run/pkg 0755 root root -\n"
                             "d /var/run/legacy 0755 root root -\n"
                             "d \"/run/quoted dir\" 0755 root root -\n"
                             "d %t/spec/%m 0700 - - -\n"
                             "f /run/pkgfile.pid 0644 - - -\n"
                             "d /var/lib/pkg 0755 - - -\n"));
        free(test_write_file(tmpfiles, "ignored.txt", "d /run/notaconf 0755 - - -\n"));
        free(test_write_file(units, "svc.service", "[Service]\nExecStart=/bin/true\n RuntimeDirectory=svc other/deep:link\n"));
        free(test_write_file(units, "tmpl@.service", "[Service]\nExecStart=/bin/true\n"));
        free(test_write_file(units, "taken.target", "[Unit]\n"));
        ck_assert_int_ge(asprintf(&p, "%s/web@.service.d", units), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0); /* a drop-in directory is no unit */
        free(p);
        /* A FIFO must not make the generator wait for a writer. */
        ck_assert_int_ge(asprintf(&p, "%s/fifo.conf", tmpfiles), 0);
        ck_assert_int_eq(mkfifo(p, 0644), 0);
        free(p);
        ck_assert_int_ge(asprintf(&p, "%s/fifo.service", units), 0);
        ck_assert_int_eq(mkfifo(p, 0644), 0);
        ck_assert_int_eq(system_claims_load_from("/run", tdirs, udirs, &c), 0);
        return c;
}

START_TEST(test_claims) {
        _cleanup_system_claims_ SystemClaims *c = fixture_claims();
        static const struct {
                const char *dir, *claim;
        } cases[] = {
                { "/run/pkg", "/run/pkg" },
                { "/run/pkg/web", "/run/pkg" },       /* inside it */
                { "/run/legacy", "/run/legacy" },     /* /var/run is /run */
                { "/run/quoted dir", "/run/quoted dir" },
                { "/run/spec", "/run/spec/*" },       /* above it; %m is anything */
                { "/run/spec/x/y", "/run/spec/*" },
                { "/run/pkgfile.pid", "/run/pkgfile.pid" },
                { "/run/svc", "/run/svc" },           /* RuntimeDirectory= */
                { "/run/other", "/run/other/deep" },  /* above a RuntimeDirectory= */
                { "/run/pkgx", NULL },
                { "/run/web", NULL },
                { "/run/notaconf", NULL },
                { "/run/svcx", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Claim *hit = system_claims_find_dir(c, cases[i].dir);
                ck_assert_msg(streq_ptr(hit ? hit->what : NULL, cases[i].claim), "%s: claimed by '%s', expected '%s'",
                              cases[i].dir, hit ? hit->what : "(nobody)", strempty(cases[i].claim));
        }
        ck_assert_ptr_nonnull(system_claims_find_unit(c, "tmpl@*.service"));
        ck_assert_ptr_nonnull(system_claims_find_unit(c, "taken.target"));
        ck_assert_ptr_null(system_claims_find_unit(c, "web@*.service"));
        ck_assert_ptr_null(system_claims_find_unit(NULL, "taken.target"));
        ck_assert_ptr_null(system_claims_find_dir(NULL, "/run/pkg"));
}
END_TEST

static void assert_context_error(const char *name, const char *content, const ConfigContext *ctx, const char *message) {
        _cleanup_free_ char *path = test_write_file(tmpdir, name, content), *error = NULL, *expected = NULL;
        AppConfig *none = NULL;

        ck_assert_int_lt(app_config_load_context(path, ctx, &none, &error), 0);
        ck_assert_ptr_null(none);
        ck_assert_int_ge(asprintf(&expected, "'%s'%s", path, message), 0);
        ck_assert_msg(error && strncmp(error, expected, strlen(expected)) == 0, "%s:\n  '%s'\ndoes not start with\n  '%s'",
                      name, strempty(error), expected);
}

static void assert_context_ok(const char *name, const char *content, const ConfigContext *ctx) {
        _cleanup_free_ char *path = test_write_file(tmpdir, name, content), *error = NULL;
        _cleanup_app_config_ AppConfig *c = NULL;

        ck_assert_msg(app_config_load_context(path, ctx, &c, &error) == 0, "%s: %s", name, strempty(error));
}

START_TEST(test_claimed_directories_refused) {
        _cleanup_system_claims_ SystemClaims *claims = fixture_claims();
        const ConfigContext ctx = { .claims = claims };

        assert_context_error("web.conf", "[App]\nExec=/bin/true\nUser=root\n[Socket]\nDirectory=/run/pkg\n", &ctx,
                             ":5: Directory: '/run/pkg' belongs to someone else: ");
        assert_context_error("web.conf", "[App]\nExec=/bin/true\nUser=root\n[Socket]\nDirectory=/run/other\n", &ctx,
                             ":5: Directory: '/run/other' belongs to someone else: ");
        /* the default, /run/APP, is checked too, and has no line */
        assert_context_error("svc.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the default socket directory of app 'svc' is not the app's own: '/run/svc' belongs to someone else: ");
        assert_context_error("pkg.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the default socket directory of app 'pkg' is not the app's own:");
        assert_context_error("log.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the default socket directory of app 'log' is not the app's own: '/run/log' is /run/log");
        assert_context_error("systemd.conf", "[App]\nExec=/bin/true\nUser=root\n", &(ConfigContext) {},
                             ": the default socket directory of app 'systemd' is not the app's own: '/run/systemd' is /run/systemd");
        assert_context_error("user.conf", "[App]\nExec=/bin/true\nUser=root\n", &(ConfigContext) {},
                             ": the default socket directory of app 'user' is not the app's own: '/run/user' is /run/user");
        /* with Directory= set elsewhere the name is fine */
        assert_context_ok("pkg.conf", "[App]\nExec=/bin/true\nUser=root\n[Socket]\nDirectory=/run/pkg-web\n", &ctx);
        assert_context_ok("web.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx);
}
END_TEST

START_TEST(test_unit_names_refused) {
        _cleanup_system_claims_ SystemClaims *claims = fixture_claims();
        const ConfigContext ctx = { .claims = claims }, user = { .user_scope = true, .claims = claims };

        assert_context_error("default.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the app name 'default' would generate default.target, which is systemd's own special unit");
        assert_context_error("multi-user.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the app name 'multi-user' would generate multi-user.target");
        assert_context_error("tmpl.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the app's units would shadow the existing unit tmpl@.service (");
        assert_context_error("taken.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the app's units would shadow the existing unit taken.target (");
        assert_context_error("systemd-foo.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the app name 'systemd-foo' starts with 'systemd-'");
        assert_context_error("sockd.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx, ": the app name 'sockd' is sockd's own");
        assert_context_error("web.socket.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx,
                             ": the app name 'web.socket' ends in '.socket', a unit type");
        assert_context_error("graphical-session.conf", "[App]\nExec=/bin/true\n", &user,
                             ": the app name 'graphical-session' would generate graphical-session.target");
        /* special to a user's manager only */
        assert_context_ok("graphical-session.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx);
        /* a dynamic user named like a real one would be that user */
        assert_context_error("root.conf", "[App]\nExec=/bin/true\n", &ctx,
                             ": [App] User= is not set, so the app would run as a dynamic user named 'root'");
        assert_context_ok("root.conf", "[App]\nExec=/bin/true\nUser=root\n", &ctx);
}
END_TEST

START_TEST(test_running_system_checked_only_when_asked) {
        const ConfigContext boot = {}, check = { .check_system = true };
        const char *content = "[App]\nExec=/bin/true\nUser=sockd-no-such-user\nGroup=sockd-no-such-group\n"
                              "EnvironmentFile=/nonexistent/sockd/env\n[Socket]\nUser=sockd-no-such-user\n"
                              "Group=sockd-no-such-group\n";

        /* At boot: what NSS or a late mount would tell is left to the worker. */
        assert_context_ok("web.conf", content, &boot);
        assert_context_error("web.conf", content, &check, ":3: User: unknown user 'sockd-no-such-user'");
        assert_context_error("web.conf", "[App]\nExec=/bin/true\nUser=root\nEnvironmentFile=/nonexistent/sockd/env\n", &check,
                             ":4: EnvironmentFile: cannot access '/nonexistent/sockd/env'");
        /* syntax is checked either way */
        assert_context_error("web.conf", "[App]\nExec=/bin/true\nUser=bad:name\n", &boot,
                             ":3: User: 'bad:name' is not a valid user or group name");
}
END_TEST

Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc;

        tc = tcase_create("good");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_test(tc, test_minimal_defaults);
        tcase_add_test(tc, test_full_file);
        tcase_add_test(tc, test_socket_user_defaults_to_app_user);
        tcase_add_test(tc, test_inline_comments);
        tcase_add_test(tc, test_environment_repeatable_and_reset);
        tcase_add_test(tc, test_environment_reset_to_empty);
        tcase_add_test(tc, test_pass_environment);
        tcase_add_test(tc, test_environment_file);
        tcase_add_test(tc, test_name_without_worker_single);
        tcase_add_test(tc, test_values_and_boundaries);
        tcase_add_test(tc, test_timeouts_and_empty_sections);
        tcase_add_test(tc, test_standby_modes);
        tcase_add_test(tc, test_crlf_and_bom);
        tcase_add_test(tc, test_longest_line_accepted);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_loop_test(tc, test_load_error_cases, 0, (int) ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_line_too_long);
        tcase_add_test(tc, test_nul_byte);
        tcase_add_test(tc, test_socket_path_too_long);
        tcase_add_test(tc, test_socket_path_defaults_fit);
        tcase_add_test(tc, test_bad_file_names);
        tcase_add_test(tc, test_nonexistent_file);
        tcase_add_test(tc, test_directory_instead_of_file);
        tcase_add_test(tc, test_fifo_instead_of_file);
        suite_add_tcase(s, tc);

        tc = tcase_create("paths");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_checked_fixture(tc, save_env, restore_env);
        tcase_add_test(tc, test_app_name_from_path);
        tcase_add_test(tc, test_socket_path);
        tcase_add_test(tc, test_enumerate_and_find);
        tcase_add_test(tc, test_search_path);
        tcase_add_test(tc, test_dropins_override_append_reset);
        tcase_add_test(tc, test_dropins_precedence_and_mask);
        tcase_add_test(tc, test_dropin_errors_name_the_dropin);
        tcase_add_test(tc, test_dropin_completes_the_file);
        tcase_add_test(tc, test_search_path_used_for_enumerate);
        tcase_add_test(tc, test_enum_strings);
        suite_add_tcase(s, tc);

        tc = tcase_create("boundaries");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_checked_fixture(tc, save_env, restore_env);
        tcase_add_test(tc, test_stop_signal);
        tcase_add_test(tc, test_ready_message);
        tcase_add_test(tc, test_inline_comments_never_cut_a_value);
        tcase_add_test(tc, test_exec_quotes_like_systemd);
        tcase_add_test(tc, test_claims);
        tcase_add_test(tc, test_claimed_directories_refused);
        tcase_add_test(tc, test_unit_names_refused);
        tcase_add_test(tc, test_running_system_checked_only_when_asked);
        suite_add_tcase(s, tc);

        tc = tcase_create("user-scope");
        tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
        tcase_add_checked_fixture(tc, save_env, restore_env);
        tcase_add_test(tc, test_user_scope_rejects_credentials);
        tcase_add_test(tc, test_user_scope_defaults);
        tcase_add_test(tc, test_user_scope_runtime_dir_fallback);
        tcase_add_test(tc, test_user_scope_explicit_socket_keys);
        tcase_add_test(tc, test_user_scope_without_www_data);
        tcase_add_test(tc, test_user_scope_socket_path_too_long);
        tcase_add_test(tc, test_search_path_user);
        tcase_add_test(tc, test_search_path_user_finds_configs);
        suite_add_tcase(s, tc);

        return s;
}
