/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockdctl scale APP N: Workers=N in a drop-in of the config, a daemon-reload, and the
 * workers started or stopped, with nginx kept in the order that sends no request to a
 * socket that is not there: a new worker joins the upstream once it serves, a worker
 * leaves it before it stops. All or nothing: what fails is undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

bool arg_runtime;

/* The drop-ins sockdctl writes. The runtime one sorts after the persistent one, so it
 * wins until reboot; a persistent scale removes it. */
#define SCALE_DROPIN "90-sockdctl-scale.conf"
#define SCALE_DROPIN_RUNTIME "91-sockdctl-scale-runtime.conf"

typedef struct DropinFile {
        char *path;
        char *old; /* its content before, NULL: there was none */
        bool touched;
} DropinFile;

static void dropin_file_done(DropinFile *f) {
        free(f->path);
        free(f->old);
}

/* One scale of an app at a time. Two would write the same drop-in, reload systemd and
 * start or stop workers in between each other, and the one that fails would put back a
 * drop-in the other one wrote. The lock is a file beside the runtime drop-ins, held until
 * sockdctl exits (the kernel drops it then, however it exits); it is never removed, so
 * that every scale locks the same inode. */
static int scale_lock(const char *runtime_dir, const char *app, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/%s.scale.lock", runtime_dir, app) < 0)
                return log_oom();
        if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", runtime_dir);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return log_error_errno(-EBUSY, "Another 'sockdctl scale %s' is running (it holds %s). Nothing "
                                               "was changed; try again once it is done.", app, path);
                return log_error_errno(errno, "Failed to lock %s: %m", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int dropin_file_init(DropinFile *f, const char *dir, const char *app, const char *name) {
        int r;

        if (asprintf(&f->path, "%s/%s%s%s/%s", dir, app, SOCKD_CONFIG_SUFFIX, SOCKD_DROPIN_SUFFIX, name) < 0) {
                f->path = NULL;
                return log_oom();
        }
        r = read_file_optional(f->path, &f->old);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", f->path);
        return 0;
}

/* Puts the drop-ins back as they were. */
static int dropins_restore(DropinFile *files, size_t n) {
        int ret = 0;

        for (size_t i = 0; i < n; i++) {
                int r;

                if (!files[i].touched)
                        continue;
                r = files[i].old ? write_file_atomic(files[i].path, files[i].old)
                                 : (unlink(files[i].path) < 0 && errno != ENOENT ? negative_errno() : 0);
                if (r < 0)
                        ret = log_error_errno(r, "Failed to put %s back as it was: %m", files[i].path);
        }
        return ret;
}

static int parse_workers_arg(const char *s, unsigned *ret) {
        char *end;
        unsigned long n;

        errno = 0;
        n = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || s[0] == '+' || n < 1 || n > SOCKD_WORKERS_MAX)
                return log_error_errno(-EINVAL, "'%s' is not a number of workers from 1 to %u.", s, SOCKD_WORKERS_MAX);
        *ret = (unsigned) n;
        return 0;
}

/* Workers [from, to) of @a, as an App of their own for app_jobs(): borrowed, not freed. */
static App app_slice(const App *a, unsigned from, unsigned to) {
        return (App) { .name = a->name, .workers = a->workers + from, .n_workers = to > from ? to - from : 0 };
}

static bool app_running(sd_bus *bus, App *a) {
        for (unsigned i = 0; i < a->n_workers; i++)
                if (worker_refresh(bus, &a->workers[i]) >= 0 && worker_active(&a->workers[i]))
                        return true;
        return false;
}

/* The config's drop-ins are back as they were: systemd's units follow them again. */
static void undo(sd_bus *bus, DropinFile *files, size_t n, const char *app) {
        if (dropins_restore(files, n) >= 0 && manager_reload(bus) >= 0)
                fprintf(stderr, "The config of %s and systemd's units are as they were.\n", app);
}

int verb_scale(Fleet *f, char **args) {
        sd_bus *bus = f->hosts[0].bus; /* one host: sockdctl.c refuses more */
        _cleanup_(app_done) App a = {}, b = {};
        _cleanup_(config_plan_done) ConfigPlan plan = {};
        _cleanup_strv_free_ char **search = NULL;
        _cleanup_free_ char *text = NULL, *dir = NULL, *upstream = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        DropinFile files[2] = {};
        uint64_t deadline = now_monotonic() + arg_timeout;
        unsigned n = 0, before = 0;
        bool running, nginx_written = false;
        int r;

        r = parse_workers_arg(args[1], &n);
        if (r < 0)
                return r;
        r = app_load(bus, args[0], &a);
        if (r < 0)
                goto finish;
        before = a.n_workers;

        search = config_search_path(arg_user);
        if (!search) {
                r = log_oom();
                goto finish;
        }
        /* The drop-ins go to the first directory of the search path, and the runtime one
         * (and the lock) to the second. */
        if (!search[0] || !search[1]) {
                r = log_error_errno(-EINVAL, "The config search path (SOCKD_CONFIG_PATH?) has fewer than two "
                                    "directories: no place for the drop-ins of a scale. Nothing was changed.");
                goto finish;
        }
        r = scale_lock(search[1], a.name, &lock_fd);
        if (r < 0)
                goto finish;

        /* Nothing else may ride along: the units systemd loads must differ from those it
         * has in Workers= only, or the daemon-reload would apply half an edit. */
        r = config_plan_load(bus, &a, &plan);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < plan.n_changes; i++)
                if (plan.changes[i].class != KEY_WORKERS) {
                        log_error("The config (%s) has other edits than Workers=; apply them first with 'sockdctl "
                                  "restart %s', or undo them. Nothing was changed:", plan.sources, a.name);
                        config_plan_print(&plan, &a, stderr, false);
                        r = -EINVAL;
                        goto finish;
                }

        r = dropin_file_init(&files[0], search[0], a.name, SCALE_DROPIN);
        if (r >= 0)
                r = dropin_file_init(&files[1], search[1], a.name, SCALE_DROPIN_RUNTIME);
        if (r < 0)
                goto finish;

        /* The drop-in, then what the config says with it: a drop-in read later could
         * still set Workers= its own way. */
        DropinFile *target = &files[arg_runtime ? 1 : 0];
        dir = strndup(target->path, strrchr(target->path, '/') - target->path);
        if (!dir || asprintf(&text,
                             "# Written by 'sockdctl scale %s %u%s'; 'sockdctl scale' rewrites it.\n"
                             "[App]\nWorkers=%u\n",
                             a.name, n, arg_runtime ? " --runtime" : "", n) < 0) {
                r = log_oom();
                goto finish;
        }
        /* /run/sockd may not be there yet. */
        if ((mkdir(search[arg_runtime ? 1 : 0], 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0755) < 0 && errno != EEXIST)) {
                r = log_error_errno(errno, "Failed to create %s: %m", dir);
                goto finish;
        }
        target->touched = true;
        r = write_file_atomic(target->path, text);
        if (r < 0) {
                log_error_errno(r, "Failed to write %s: %m", target->path);
                goto undo_files;
        }
        if (!arg_runtime && files[1].old) {
                /* A persistent count replaces a runtime one, which would win otherwise. */
                files[1].touched = true;
                if (unlink(files[1].path) < 0 && errno != ENOENT) {
                        r = log_error_errno(errno, "Failed to remove %s: %m", files[1].path);
                        goto undo_files;
                }
        }
        {
                _cleanup_(config_plan_done) ConfigPlan now = {};

                r = config_plan_load(bus, &a, &now);
                if (r < 0)
                        goto undo_files;
                if (now.workers != n) {
                        log_error("With %s, the config (%s) still does not say Workers=%u: a drop-in read after it "
                                  "sets Workers= too. Nothing was changed.", target->path, now.sources, n);
                        r = -EINVAL;
                        goto undo_files;
                }
        }

        running = app_running(bus, &a);
        if (n < before && arg_nginx_file) {
                /* nginx stops sending to the workers that go before they stop. */
                r = nginx_upstream_render(&a, n, &upstream);
                if (r < 0) {
                        r = log_oom();
                        goto undo_files;
                }
                r = nginx_apply(bus, arg_nginx_file, upstream, true, deadline);
                if (r < 0) {
                        fprintf(stderr, "No worker was stopped.\n");
                        goto undo_files;
                }
                nginx_written = true;
        }

        r = manager_reload(bus);
        if (r < 0)
                goto undo_all;
        r = app_load(bus, a.name, &b);
        if (r < 0)
                goto undo_all;

        if (n > before && running) {
                App fresh = app_slice(&b, before, b.n_workers);

                r = app_jobs(bus, &fresh, "StartUnit", true, true, false, deadline);
                if (r < 0) {
                        fprintf(stderr, "Stopping the workers this scale started again.\n");
                        (void) app_jobs(bus, &fresh, "StopUnit", true, true, false, now_monotonic() + arg_timeout);
                        goto undo_all;
                }
                if (arg_nginx_file) {
                        /* Only now that they serve. */
                        r = nginx_upstream_render(&b, n, &upstream);
                        if (r < 0) {
                                r = log_oom();
                                goto finish;
                        }
                        r = nginx_apply(bus, arg_nginx_file, upstream, true, deadline);
                        if (r < 0) {
                                fprintf(stderr, "%s runs %u workers, but nginx sends only to the first %u.\n", a.name, n,
                                        before);
                                goto finish;
                        }
                        nginx_written = true;
                }
        } else if (n < before) {
                App leaving = app_slice(&a, n, before);

                /* One transaction: each service stops (its requests finish) before its socket. */
                r = app_jobs(bus, &leaving, "StopUnit", true, true, false, deadline);
                if (r < 0) {
                        fprintf(stderr, "%s is configured with %u workers; a worker named above did not stop cleanly.\n",
                                a.name, n);
                        goto finish;
                }
        }

        if (!arg_quiet) {
                printf("Scaled %s from %u to %u worker%s (Workers=%u in %s)%s.\n", a.name, before, n, n == 1 ? "" : "s",
                       n, target->path, running || n < before ? "" : "; the app is not running, so none was started");
                if (nginx_written)
                        printf("nginx's upstream %s lists %u worker%s; nginx was reloaded.\n", arg_nginx_file, n,
                               n == 1 ? "" : "s");
        }
        r = 0;
        goto finish;

undo_all:
        if (nginx_written) {
                /* nginx goes back to every worker, which all still run. */
                _cleanup_free_ char *all = NULL;

                if (nginx_upstream_render(&a, before, &all) >= 0)
                        (void) nginx_apply(bus, arg_nginx_file, all, true, now_monotonic() + arg_timeout);
        }
undo_files:
        undo(bus, files, ELEMENTSOF(files), a.name);
finish:
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                dropin_file_done(&files[i]);
        return r;
}
