/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockd-generator: turns every /etc/sockd/APP.conf into APP@.socket, APP@.service and
 * APP.target (systemd.generator(7)). A bad file is reported and skipped; the others
 * are generated all the same, so one typo never takes the other apps down.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "system-claims.h"
#include "unit-render.h"

#define GENERATOR_SUBDIR "sockd"
#define DEFAULT_GENERATOR_DIR "/run/systemd/generator"

static bool arg_dry_run = false;
static bool arg_user = false; /* for a user's service manager */

static int help(void) {
        printf("%s NORMAL_DIR [EARLY_DIR LATE_DIR]\n"
               "%s --dry-run [APP|FILE...]\n\n"
               "Generates the systemd units of the sockd apps configured in\n"
               "/etc/sockd, /run/sockd and /usr/lib/sockd (APP.conf).\n\n"
               "  -h --help       Show this help\n"
               "     --version    Show the version\n"
               "  -n --dry-run    Print what would be generated for the given apps or\n"
               "                  files (all apps if none), write nothing\n"
               "     --user       For the user's service manager: configs in\n"
               "                  ~/.config/sockd (implied when systemd --user runs it)\n\n"
               "See the sockd-generator(8) man page for details.\n",
               program_invocation_short_name, program_invocation_short_name);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_USER };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "dry-run", no_argument, NULL, 'n' },
                { "user", no_argument, NULL, ARG_USER },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hn", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        puts("sockd " SOCKD_VERSION);
                        return 0;
                case 'n':
                        arg_dry_run = true;
                        break;
                case ARG_USER:
                        arg_user = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option '%c'.", c);
                }

        if (!arg_dry_run && !(argc - optind == 1 || argc - optind == 3))
                return log_error_errno(-EINVAL,
                                       "Expected 1 or 3 directories (as systemd passes them), got %d; "
                                       "use --dry-run to preview.", argc - optind);
        return 1;
}

static int write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_fclose_ FILE *f = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return log_oom();
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to create '%s': %m", path);
        f = fdopen(fd, "we");
        if (!f)
                return log_error_errno(negative_errno(), "Failed to open '%s': %m", path);
        TAKE_FD(fd);
        fputs(content, f);
        if (fflush(f) != 0 || ferror(f))
                return log_error_errno(negative_errno(), "Failed to write '%s': %m", path);
        return 0;
}

static int mkdir_if_missing(const char *path) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create '%s': %m", path);
        return 0;
}

static int render(const AppConfig *c, const char *normal_dir, AppUnits *ret) {
        _cleanup_free_ char *tmpfiles = NULL;
        int r;

        if (asprintf(&tmpfiles, "%s/" GENERATOR_SUBDIR "/%s.tmpfiles.conf", normal_dir, c->name) < 0)
                return log_oom();
        r = app_units_render(c, tmpfiles, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to render the units of '%s': %m", c->path);
        return 0;
}

static int generate_app(const AppConfig *c, const char *normal_dir) {
        _cleanup_(app_units_done) AppUnits u = {};
        _cleanup_free_ char *socket = NULL, *service = NULL, *target = NULL, *tmpfiles = NULL,
                            *wants = NULL, *sub = NULL;
        int r;

        r = render(c, normal_dir, &u);
        if (r < 0)
                return r;

        if (asprintf(&socket, "%s@.socket", c->name) < 0 ||
            asprintf(&service, "%s@.service", c->name) < 0 ||
            asprintf(&target, "%s.target", c->name) < 0 ||
            asprintf(&tmpfiles, GENERATOR_SUBDIR "/%s.tmpfiles.conf", c->name) < 0 ||
            asprintf(&sub, "%s/" GENERATOR_SUBDIR, normal_dir) < 0 ||
            asprintf(&wants, "%s/%s.wants", normal_dir, arg_user ? "default.target" : "multi-user.target") < 0)
                return log_oom();

        r = mkdir_if_missing(sub);
        if (r < 0)
                return r;
        r = write_file(normal_dir, tmpfiles, u.tmpfiles);
        if (r < 0)
                return r;
        r = write_file(normal_dir, socket, u.socket);
        if (r < 0)
                return r;
        r = write_file(normal_dir, service, u.service);
        if (r < 0)
                return r;
        r = write_file(normal_dir, target, u.target);
        if (r < 0)
                return r;

        /* Configured apps come back after a reboot, as with any enabled service. */
        r = mkdir_if_missing(wants);
        if (r < 0)
                return r;
        _cleanup_free_ char *link = NULL, *dest = NULL;
        if (asprintf(&link, "%s/%s", wants, target) < 0 || asprintf(&dest, "../%s", target) < 0)
                return log_oom();
        if (symlink(dest, link) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create '%s': %m", link);
        return 0;
}

static int dry_run_app(const AppConfig *c) {
        _cleanup_(app_units_done) AppUnits u = {};
        _cleanup_free_ char *dir = NULL, *rt = NULL;
        int r;

        /* Where systemd would have the generator write. */
        if (arg_user) {
                rt = user_runtime_dir();
                if (!rt || asprintf(&dir, "%s/systemd/generator", rt) < 0)
                        return log_oom();
        } else if (!(dir = strdup(DEFAULT_GENERATOR_DIR)))
                return log_oom();
        r = render(c, dir, &u);
        if (r < 0)
                return r;
        printf("# %s/%s@.socket\n%s\n", dir, c->name, u.socket);
        printf("# %s/%s@.service\n%s\n", dir, c->name, u.service);
        printf("# %s/%s.target\n%s\n", dir, c->name, u.target);
        printf("# %s/" GENERATOR_SUBDIR "/%s.tmpfiles.conf\n%s", dir, c->name, u.tmpfiles);
        return 0;
}

/* Loads one file; an invalid one is logged with its file:line and the app skipped. */
static int load(const char *path, char *const *search, const SystemClaims *claims, AppConfig **ret) {
        _cleanup_free_ char *error = NULL, *app = NULL;
        /* At boot only what generators may rely on: the files in /etc, /run and /usr.
         * Users, groups and EnvironmentFile=s are checked when a worker starts, and by
         * --dry-run, which a person runs on the running system. */
        const ConfigContext ctx = {
                .user_scope = arg_user,
                .check_system = arg_dry_run,
                .claims = claims,
                .search = search,
        };
        int r;

        /* Messages about this file carry SOCKD_APP=, so journalctl SOCKD_APP=x finds them. */
        if (app_name_from_path(path, &app) >= 0)
                log_set_app(app, -1);
        r = app_config_load_context(path, &ctx, ret, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s; not generating units for this app.",
                                       error ?: "invalid configuration");
        return 0;
}

static int resolve_args(char **args, char *const *search, char ***ret) {
        _cleanup_strv_free_ char **paths = NULL;
        int r;

        if (strv_length(args) == 0)
                return config_enumerate(search, ret);

        STRV_FOREACH(a, args) {
                char *p = NULL;

                if (strchr(*a, '/'))
                        p = strdup(*a);
                else {
                        r = config_find(search, *a, &p);
                        if (r == -ENOENT) {
                                _cleanup_free_ char *joined = strv_join(search, ", ");
                                return log_error_errno(r, "No configuration for app '%s': no %s.conf in %s.",
                                                       *a, *a, strempty(joined));
                        }
                        if (r < 0)
                                return log_oom();
                }
                r = strv_consume(&paths, p);
                if (r < 0)
                        return log_oom();
        }
        *ret = TAKE_PTR(paths);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_strv_free_ char **search = NULL, **paths = NULL;
        _cleanup_system_claims_ SystemClaims *claims = NULL;
        int r, ret = 0;

        log_setup("sockd-generator");

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* systemd(1) tells generators which manager runs them. */
        if (streq(strempty(getenv("SYSTEMD_SCOPE")), "user"))
                arg_user = true;
        search = config_search_path(arg_user);
        if (!search)
                return log_oom();

        r = resolve_args(arg_dry_run ? argv + optind : NULL, search, &paths);
        if (r < 0)
                return r;

        /* Which units and runtime directories exist already, so that no app takes one
         * over. Read once, and only when there is an app. */
        if (paths) {
                r = system_claims_load(arg_user, &claims);
                if (r < 0)
                        return log_oom();
        }

        STRV_FOREACH(p, paths) {
                _cleanup_app_config_ AppConfig *c = NULL;

                r = load(*p, search, claims, &c);
                if (r < 0) {
                        ret = ret ?: r;
                        continue;
                }
                r = arg_dry_run ? dry_run_app(c) : generate_app(c, argv[optind]);
                if (r < 0)
                        ret = ret ?: r;
                log_set_app(NULL, -1);
        }

        if (arg_dry_run && strv_length(paths) == 0)
                log_info("No apps configured in %s.", search[0]);
        return ret;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
