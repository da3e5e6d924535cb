/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The config loader on arbitrary file contents: app_config_load() in both scopes, and
 * as the generator at boot with a few directories claimed by others, and, for what it
 * accepts, the units the generator would write from it. The input is the
 * whole file; it is written to <tmpdir>/app.conf (the loader takes the app name from
 * the file name), the directory created once per process. Besides memory errors the
 * target checks what the loader promises: an error message for every failure, a
 * config within its documented limits on success, and units systemd reads back as
 * the lines they were written as. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "app-policy.h"
#include "config.h"
#include "fuzz.h"
#include "macro.h"
#include "parse-util.h"
#include "strv.h"
#include "system-claims.h"
#include "unit-render.h"

static char *tmpdir, *conf_path;
static SystemClaims *claims;

/* What the generator at boot would know exists: another package's tmpfiles.d line and a
 * unit's RuntimeDirectory=. */
static char *claims_tmpfiles, *claims_units;

static void cleanup_tmpdir(void) {
        _cleanup_free_ char *f1 = NULL, *f2 = NULL;

        if (conf_path)
                (void) unlink(conf_path);
        if (claims_tmpfiles && asprintf(&f1, "%s/pkg.conf", claims_tmpfiles) >= 0)
                (void) unlink(f1);
        if (claims_units && asprintf(&f2, "%s/svc.service", claims_units) >= 0)
                (void) unlink(f2);
        if (claims_tmpfiles)
                (void) rmdir(claims_tmpfiles);
        if (claims_units)
                (void) rmdir(claims_units);
        if (tmpdir)
                (void) rmdir(tmpdir);
        system_claims_free(claims);
        free(claims_tmpfiles);
        free(claims_units);
        free(conf_path);
        free(tmpdir);
}

static const char *conf_path_get(void) {
        const char *t;
        char *d;

        if (conf_path)
                return conf_path;
        t = getenv("TMPDIR");
        if (!t || t[0] != '/')
                t = "/tmp";
        if (asprintf(&d, "%s/sockd-fuzz-config.XXXXXX", t) < 0)
                abort();
        if (!mkdtemp(d)) {
                fprintf(stderr, "Failed to create a directory from '%s': %m\n", d);
                abort();
        }
        tmpdir = d;
        if (asprintf(&conf_path, "%s/app.conf", tmpdir) < 0)
                abort();
        atexit(cleanup_tmpdir);

        if (asprintf(&claims_tmpfiles, "%s/tmpfiles.d", tmpdir) < 0 || asprintf(&claims_units, "%s/units", tmpdir) < 0 ||
            mkdir(claims_tmpfiles, 0755) < 0 || mkdir(claims_units, 0755) < 0)
                abort();
        {
                _cleanup_free_ char *f1 = NULL, *f2 = NULL;
                FILE *f;

                if (asprintf(&f1, "%s/pkg.conf", claims_tmpfiles) < 0 || asprintf(&f2, "%s/svc.service", claims_units) < 0)
                        abort();
                f = fopen(f1, "we");
                if (!f || fputs("d /run/taken 0755 root root -\nd %t/spec/%m 0700 - - -\n", f) < 0 || fclose(f) != 0)
                        abort();
                f = fopen(f2, "we");
                if (!f || fputs("[Service]\nRuntimeDirectory=svc\n", f) < 0 || fclose(f) != 0)
                        abort();
                char *tdirs[] = { claims_tmpfiles, NULL }, *udirs[] = { claims_units, NULL };
                if (system_claims_load_from("/run", tdirs, udirs, &claims) < 0)
                        abort();
        }
        return conf_path;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
        FILE *f = fopen(path, "we");

        if (!f || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
                fprintf(stderr, "Failed to write '%s': %m\n", path);
                abort();
        }
}

/* systemd's unit and tmpfiles.d readers end a line at "\n", "\r" or NUL, and join a
 * line that ends in a backslash with the next one: a value that carries either would
 * add to or swallow the lines around it. */
static void check_unit_text(const char *text) {
        fuzz_check(text);
        fuzz_check(!strchr(text, '\r'));
        for (const char *l = text; *l;) {
                const char *eol = strchrnul(l, '\n');

                fuzz_check(eol == l || eol[-1] != '\\');
                l = *eol ? eol + 1 : eol;
        }
}

static void check_loaded(const AppConfig *c, const char *path, bool user_scope, const SystemClaims *cl) {
        size_t sun_path_max = sizeof(((struct sockaddr_un *) NULL)->sun_path);
        _cleanup_free_ char *first = NULL, *last = NULL;
        AppUnits u = {};
        int r;

        fuzz_check(c->user_scope == user_scope);
        fuzz_check(c->path && streq(c->path, path));
        fuzz_check(c->name && streq(c->name, "app"));
        fuzz_check(c->exec && c->exec[0] != 0);
        fuzz_check(c->workers >= 1 && c->workers <= SOCKD_WORKERS_MAX);
        fuzz_check(ready_protocol_to_string(c->ready));
        fuzz_check(suspend_mode_to_string(c->suspend));
        fuzz_check(c->ready_timeout >= USEC_PER_MSEC && c->stop_timeout >= USEC_PER_MSEC);
        fuzz_check(c->socket_directory && path_is_normalized_absolute(c->socket_directory));
        fuzz_check(c->socket_name && !strchr(c->socket_name, '/'));
        fuzz_check(c->workers == 1 || strstr(c->socket_name, "{worker}"));
        fuzz_check(c->socket_mode <= 0777 && (c->socket_mode & 0007) == 0 && (c->socket_mode & 0200));
        fuzz_check(c->backlog >= 1 && c->backlog <= 65535);
        if (user_scope) /* no User=/Group= keys: everything belongs to the user */
                fuzz_check(!c->user && !c->group && !c->socket_user && !c->socket_group);
        else
                fuzz_check(c->socket_user && c->socket_group);

        /* What it names is the app's own: the policy holds, with the claims it was given. */
        {
                _cleanup_free_ char *why = NULL;
                fuzz_check(socket_directory_check(c->socket_directory, user_scope, cl, &why) == 0);
        }
        /* Exec= is a command line systemd reads as we do; values keep no control
         * character, not even the reader's stand-in for a ';'. */
        {
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_free_ char *why = NULL;
                int r2 = exec_split(c->exec, &argv, &why);

                fuzz_check(r2 == 0 || r2 == -ENOMEM);
                fuzz_check(r2 < 0 || path_is_absolute(argv[0]));
                for (const char *p = c->exec; *p; p++)
                        fuzz_check((unsigned char) *p >= ' ' || *p == '\t');
                STRV_FOREACH(e, c->environment)
                        for (const char *p = *e; *p; p++)
                                fuzz_check((unsigned char) *p >= ' ' || *p == '\t');
        }

        /* Every worker's socket path fits in sun_path: the loader checks the longest. */
        first = app_config_socket_path(c, 0);
        last = app_config_socket_path(c, c->workers - 1);
        fuzz_check(first && last);
        fuzz_check(strlen(first) < sun_path_max && strlen(last) < sun_path_max);

        r = app_units_render(c, "/run/sockd/tmpfiles.d/app.conf", &u);
        fuzz_check(r == 0 || r == -ENOMEM);
        if (r < 0)
                return;
        check_unit_text(u.socket);
        check_unit_text(u.service);
        check_unit_text(u.target);
        check_unit_text(u.tmpfiles);
        app_units_done(&u);
}

static void load(const char *path, bool user_scope, const SystemClaims *cl) {
        _cleanup_free_ char *error = NULL;
        AppConfig sentinel = {}, *c = &sentinel;
        int r;

        if (cl) /* as the generator at boot: with what exists, without NSS */
                r = app_config_load_context(path, &(ConfigContext) { .user_scope = user_scope, .claims = cl }, &c, &error);
        else if (user_scope)
                r = app_config_load_scope(path, true, &c, &error);
        else
                r = app_config_load(path, &c, &error);
        if (r < 0) {
                /* *ret untouched, and one line for the user: "'FILE':LINE: ..." or "'FILE': ...". */
                fuzz_check(c == &sentinel);
                if (r == -ENOMEM)
                        return;
                fuzz_check(error);
                fuzz_check(error[0] == '\'' && strncmp(error + 1, path, strlen(path)) == 0 &&
                           error[1 + strlen(path)] == '\'');
                fuzz_check(!strchr(error, '\n'));
                return;
        }
        fuzz_check(r == 0);
        fuzz_check(!error);
        fuzz_check(c && c != &sentinel);
        check_loaded(c, path, user_scope, cl);
        app_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *path = conf_path_get();

        write_file(path, data, size);
        load(path, false, NULL);
        load(path, true, NULL);
        load(path, false, claims);
        return 0;
}
