/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockdctl nginx: the app's nginx upstream, printed, or written in place and nginx
 * reloaded. A reload is over only when nginx's old worker processes are gone: until
 * then they may still send a request to a socket the upstream no longer lists, which
 * is why 'sockdctl scale' waits for that before it stops a worker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

#define NGINX_SERVICE "nginx.service"

const char *arg_nginx_file;
bool arg_nginx_reload;

int nginx_upstream_render(const App *a, unsigned n_workers, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "# nginx upstream of the sockd app %s (%u worker%s), from 'sockdctl nginx %s'.\n"
                "# Include it in the http {} block, and write it again when Workers= changes\n"
                "# ('sockdctl scale %s N --nginx FILE' does).\n"
                "upstream %s {\n",
                a->name, n_workers, n_workers == 1 ? "" : "s", a->name, a->name, a->name);
        for (unsigned i = 0; i < n_workers && i < a->n_workers; i++)
                /* max_fails=0: an error during a swap must not take a worker out of the
                 * rotation for fail_timeout (10 s), which would fail every request. */
                fprintf(f, "    server unix:%s max_fails=0;\n", a->workers[i].socket_path);
        fprintf(f,
                "    # Reused connections; nginx closes idle ones after keepalive_timeout, which\n"
                "    # must stay below the app's own idle timeout (Node's and uvicorn's: 5 s), so\n"
                "    # the app never closes a connection nginx is about to reuse.\n"
                "    keepalive %u;\n"
                "    keepalive_timeout 4s;\n"
                "    # Renewed connections: after a restart, the new generation of a worker gets\n"
                "    # the connections nginx opens anew while the old one keeps its own for\n"
                "    # HandoverSec= (1 s): the traffic moves to it over 750 ms, not at once.\n"
                "    keepalive_time 750ms;\n"
                "}\n"
                "\n"
                "# In your server {} block:\n"
                "# location / {\n"
                "#     proxy_pass http://%s;\n"
                "#     proxy_http_version 1.1;\n"
                "#     proxy_set_header Connection \"\";\n"
                "#     proxy_set_header Host $host;\n"
                "#     proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                "#     # Retry idempotent requests on another worker if one fails to connect or\n"
                "#     # answers 502; nginx never retries a POST once it was sent.\n"
                "#     proxy_next_upstream error timeout http_502;\n"
                "#     proxy_next_upstream_tries %u;\n"
                "# }\n",
                8 * (n_workers ?: 1), a->name, n_workers > 0 ? n_workers : 1);
        if (fclose(f) != 0 || !text)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

/* nginx -t: the whole configuration with the new file. Its own messages go to our
 * stderr: they name the file and line. */
static int nginx_test(void) {
        pid_t pid;
        int status;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                execlp("nginx", "nginx", "-t", "-q", (char *) NULL);
                fprintf(stderr, "sockdctl: cannot run nginx: %m\n");
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return -ENOENT;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EINVAL;
}

/* pidfds of @parent's children now: nginx's worker processes. */
static int children_pidfds(pid_t parent, int **ret, unsigned *ret_n) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        _cleanup_free_ int *fds = NULL;
        unsigned n = 0;
        struct dirent *de;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *line = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                size_t size = 0;
                const char *close_paren;
                char *end;
                long ppid;
                long pid = strtol(de->d_name, &end, 10);
                int fd, *grown;

                if (*end || pid <= 0)
                        continue;
                if (asprintf(&path, "/proc/%ld/stat", pid) < 0)
                        return -ENOMEM;
                f = fopen(path, "re");
                if (!f || getline(&line, &size, f) < 0)
                        continue; /* gone meanwhile */
                /* "PID (COMM) STATE PPID ...": COMM may hold anything, ')' too. */
                close_paren = strrchr(line, ')');
                if (!close_paren || sscanf(close_paren + 1, " %*c %ld", &ppid) != 1 || ppid != parent)
                        continue;
                fd = (int) pidfd_open((pid_t) pid, 0);
                if (fd < 0)
                        continue;
                grown = realloc(fds, sizeof(int) * (n + 1));
                if (!grown) {
                        close(fd);
                        for (unsigned i = 0; i < n; i++)
                                close(fds[i]);
                        return -ENOMEM;
                }
                fds = grown;
                fds[n++] = fd;
        }
        *ret = TAKE_PTR(fds);
        *ret_n = n;
        return 0;
}

/* Reloads nginx.service and waits until the worker processes it had are gone: from
 * then on every request nginx sends follows the new configuration. */
static int nginx_reload(sd_bus *bus, uint64_t deadline) {
        _cleanup_(job_waiter_freep) JobWaiter *waiter = NULL;
        _cleanup_free_ char *unit_path = NULL;
        _cleanup_free_ int *old = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *job, *result;
        unsigned n_old = 0, left;
        uint32_t main_pid = 0;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", &error, &reply, "s",
                               NGINX_SERVICE);
        if (r >= 0) {
                const char *p;

                r = sd_bus_message_read(reply, "o", &p);
                if (r >= 0 && !(unit_path = strdup(p)))
                        r = -ENOMEM;
        }
        sd_bus_message_unref(reply);
        reply = NULL;
        sd_bus_error_free(&error);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, SYSTEMD_DESTINATION, unit_path, SYSTEMD_SERVICE, "MainPID", &error,
                                                'u', &main_pid);
        sd_bus_error_free(&error);
        if (r < 0 || main_pid == 0) {
                log_error("%s is not running: there is no nginx to reload (start it, or leave out --reload and "
                          "reload your nginx yourself).", NGINX_SERVICE);
                return -ESRCH;
        }

        r = children_pidfds((pid_t) main_pid, &old, &n_old);
        if (r < 0)
                return log_error_errno(r, "Failed to find nginx's worker processes: %m");

        r = job_waiter_new(bus, &waiter);
        if (r >= 0) {
                r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "ReloadUnit", &error,
                                       &reply, "ss", NGINX_SERVICE, "replace");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &job);
                if (r >= 0)
                        r = job_waiter_add(waiter, job, NGINX_SERVICE);
                sd_bus_message_unref(reply);
        }
        if (r >= 0)
                r = job_waiter_wait(waiter, deadline);
        if (r < 0) {
                fail_bus(r, &error, "Failed to reload " NGINX_SERVICE);
                sd_bus_error_free(&error);
                goto finish;
        }
        result = job_waiter_result(waiter, NGINX_SERVICE);
        if (!result || !streq(result, "done")) {
                log_error("Reloading %s %s; see 'journalctl -u %s'.", NGINX_SERVICE, job_result_explain(result ?: "failed"),
                          NGINX_SERVICE);
                r = -EIO;
                goto finish;
        }

        /* The old workers finish the requests they have, then exit. */
        left = n_old;
        while (left > 0) {
                _cleanup_free_ struct pollfd *p = calloc(n_old, sizeof(struct pollfd));
                uint64_t now = now_monotonic();
                int n;

                if (!p) {
                        r = log_oom();
                        goto finish;
                }
                if (now >= deadline) {
                        log_error("nginx's old worker processes were still running after %" PRIu64 "s.",
                                  arg_timeout / USEC_PER_SEC);
                        r = -ETIMEDOUT;
                        goto finish;
                }
                for (unsigned i = 0; i < n_old; i++)
                        p[i] = (struct pollfd) { .fd = old[i], .events = old[i] >= 0 ? POLLIN : 0 };
                n = poll(p, n_old, (int) ((deadline - now + 999) / 1000));
                if (n < 0 && errno != EINTR) {
                        r = log_error_errno(errno, "Failed to wait for nginx's old worker processes: %m");
                        goto finish;
                }
                if (interrupted) {
                        r = -EINTR;
                        goto finish;
                }
                for (unsigned i = 0; n > 0 && i < n_old; i++)
                        if (old[i] >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                                old[i] = safe_close(old[i]);
                                left--;
                        }
        }
        r = 0;
finish:
        for (unsigned i = 0; i < n_old; i++)
                safe_close(old[i]);
        return r;
}

int nginx_apply(sd_bus *bus, const char *path, const char *text, bool reload, uint64_t deadline) {
        _cleanup_free_ char *old = NULL;
        int r;

        r = read_file_optional(path, &old);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        r = write_file_atomic(path, text);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        if (!reload)
                return 0;

        r = nginx_test();
        if (r < 0) {
                int k = old ? write_file_atomic(path, old) : (unlink(path) < 0 ? negative_errno() : 0);

                if (r == -ENOENT)
                        log_error("nginx could not be run to test the configuration with %s.", path);
                else
                        log_error("'nginx -t' refuses the configuration with %s (see above).", path);
                if (k < 0)
                        log_error_errno(k, "And %s could not be put back as it was: %m", path);
                else
                        log_error("%s is as it was; nginx was not reloaded.", path);
                return -EINVAL;
        }
        return nginx_reload(bus, deadline);
}

/* An nginx upstream for the app's worker sockets, with the settings that keep swaps
 * free of errors; it follows Workers=, so nobody edits upstream lists by hand. */
int verb_nginx(Fleet *f, char **args) {
        sd_bus *bus = f->hosts[0].bus; /* one host: sockdctl.c refuses more */
        _cleanup_(app_done) App a = {};
        _cleanup_free_ char *text = NULL;
        int r;

        r = app_load(bus, args[0], &a);
        if (r < 0)
                return r;
        r = nginx_upstream_render(&a, a.n_workers, &text);
        if (r < 0)
                return log_oom();
        if (!arg_nginx_file) {
                fputs(text, stdout);
                return 0;
        }
        r = nginx_apply(bus, arg_nginx_file, text, arg_nginx_reload, now_monotonic() + arg_timeout);
        if (r < 0)
                return r;
        if (!arg_quiet)
                printf("Wrote %s (%u worker%s)%s.\n", arg_nginx_file, a.n_workers, a.n_workers == 1 ? "" : "s",
                       arg_nginx_reload ? "; nginx reloaded" : "");
        return 0;
}
