/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker's control socket, $RUNTIME_DIRECTORY/control: a peer-to-peer D-Bus object
 * io.sockd.Worker1 for ExecReload= (sockd-spawn --reload), and that client.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-id128.h>

#include "log.h"
#include "macro.h"
#include "strv.h"
#include "worker.h"

/* After an accept() error (EMFILE, ENFILE, ENOBUFS...) the connection is still queued and
 * the socket still readable: retrying at once would spin. The control socket rests this
 * long, then listens again; it is never given up. */
#define CONTROL_PAUSE_USEC (250 * USEC_PER_MSEC)

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        Generation *serving = worker_serving(w);

        if (streq(property, "App"))
                return sd_bus_message_append(reply, "s", w->opts.app);
        if (streq(property, "Worker"))
                return sd_bus_message_append(reply, "u", w->opts.worker);
        if (streq(property, "Generation"))
                return sd_bus_message_append(reply, "t", serving ? serving->number : (uint64_t) 0);
        if (streq(property, "MainPID"))
                return sd_bus_message_append(reply, "u", serving ? (uint32_t) serving->pid : 0);
        if (streq(property, "Since"))
                return sd_bus_message_append(reply, "t", serving ? serving->ready_usec : (uint64_t) 0);
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s",
                                             w->stopping ? "stopping" :
                                             w->incoming ? "swapping" :
                                             serving ? "serving" : "starting");
        if (streq(property, "Generations")) {
                int r = sd_bus_message_open_container(reply, 'a', "(tusts)");
                if (r < 0)
                        return r;
                for (Generation *g = w->generations; g; g = g->next) {
                        r = sd_bus_message_append(reply, "(tusts)", g->number, (uint32_t) g->pid,
                                                  generation_state_to_string(g->state),
                                                  g->ready_usec ?: g->started_usec, strempty(g->app_status));
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(reply);
        }
        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_PROPERTY, "Unknown property %s", property);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Worker *w = userdata;
        int r;

        /* sockdctl asked for a reload to bring settings, and this ExecReload= (one a
         * drop-in replaced, without arguments) has none: no swap, the prepare that
         * follows runs the worker's own. */
        if (w->expect_source) {
                Generation *serving = worker_serving(w);

                w->expect_source = sd_event_source_disable_unref(w->expect_source);
                log_notice("The reload sockdctl asked for brings no settings (ExecReload= without sockd-spawn's "
                           "arguments): the next generation runs the worker's current ones.");
                return sd_bus_reply_method_return(m, "tu", serving ? serving->number : (uint64_t) 0,
                                                  serving ? (uint32_t) serving->pid : 0);
        }
        r = worker_start_swap(w, SWAP_RELOAD, NULL, m, error);

        /* > 0: the reply comes when the swap is decided. */
        return r < 0 ? r : 1;
}

/* The refusal of a reload's settings: in the StatusText too, where sockdctl looks. */
static int refuse_settings(Worker *w, sd_bus_error *error, const char *why) {
        log_error("Refusing the reload's settings: %s.", why);
        /* It was the reload sockdctl asked for, if any: the next one swaps again. */
        w->expect_source = sd_event_source_disable_unref(w->expect_source);
        worker_set_failure(w, NULL, why);
        return sd_bus_error_setf(error, WORKER_ERROR_FAILED, "%s", why);
}

/* ReloadWith(argv, environment, directory): the ExecReload= client's command line,
 * environment and working directory, which systemd made from the unit as it has it
 * loaded now. The new generation runs with them. */
static int method_reload_with(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(worker_command_line_done) WorkerCommandLine cl = {};
        _cleanup_(settings_unrefp) Settings *settings = NULL;
        _cleanup_strv_free_ char **argv = NULL, **environment = NULL;
        _cleanup_free_ char *why = NULL;
        sd_bus_creds *creds = NULL;
        Worker *w = userdata;
        const char *directory;
        gid_t gid = getgid();
        uid_t uid = 0;
        int r;

        r = sd_bus_message_read_strv(m, &argv);
        if (r >= 0)
                r = sd_bus_message_read_strv(m, &environment);
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &directory);
        if (r < 0)
                return r;

        /* The client runs as the unit's User= and Group= now: another group is a Group=
         * edit, which no new generation of this process can take on. (Another user could
         * not even connect.) */
        r = sd_bus_get_owner_creds(sd_bus_message_get_bus(m), SD_BUS_CREDS_UID | SD_BUS_CREDS_GID, &creds);
        if (r >= 0 && sd_bus_creds_get_uid(creds, &uid) >= 0 && uid != 0)
                (void) sd_bus_creds_get_gid(creds, &gid);
        sd_bus_creds_unref(creds);
        if (gid != getgid()) {
                if (asprintf(&why, "Group= changed (this worker runs as gid %u, the unit now says gid %u): a new "
                             "generation cannot apply it, only a new service does ('systemctl restart %s@*.service')",
                             (unsigned) getgid(), (unsigned) gid, w->opts.app) < 0)
                        return -ENOMEM;
                return refuse_settings(w, error, why);
        }

        r = worker_command_line_parse((int) strv_length(argv), argv, &cl);
        if (r < 0)
                return refuse_settings(w, error, "the reload's command line is not valid (the journal says why)");
        r = worker_settings_new(w, &cl, environment, isempty(directory) ? NULL : directory, &settings, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return refuse_settings(w, error, why);

        r = worker_reload_with(w, settings, m, error);
        if (r < 0)
                return r;
        if (r == 0) {
                /* Kept for sockdctl's swap: answered at once. */
                Generation *serving = worker_serving(w);
                return sd_bus_reply_method_return(m, "tu", serving ? serving->number : (uint64_t) 0,
                                                  serving ? (uint32_t) serving->pid : 0);
        }
        return 1;
}

static const sd_bus_vtable worker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("App", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Worker", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get, 0, 0),
        SD_BUS_PROPERTY("Generation", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("MainPID", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Since", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("Generations", "a(tusts)", property_get, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", generation, "u", pid),
                                method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReloadWith", SD_BUS_ARGS("as", argv, "as", environment, "s", directory),
                                SD_BUS_RESULT("t", generation, "u", pid), method_reload_with, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static void worker_drop_connection(Worker *w, sd_bus *bus) {
        for (size_t i = 0; i < w->n_connections; i++)
                if (w->connections[i] == bus) {
                        w->connections[i] = w->connections[--w->n_connections];
                        break;
                }
        sd_bus_flush_close_unref(bus);
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        worker_drop_connection(userdata, sd_bus_message_get_bus(m));
        return 0;
}

static int on_control_resume(sd_event_source *s, uint64_t usec, void *userdata) {
        Worker *w = userdata;
        int r;

        w->control_pause_source = sd_event_source_disable_unref(w->control_pause_source);
        r = sd_event_source_set_enabled(w->control_source, SD_EVENT_ON);
        if (r < 0)
                log_warning_errno(r, "Failed to listen on the control socket again: %m");
        else
                log_info("Listening on the control socket again.");
        return 0;
}

static void control_pause(Worker *w, int error) {
        uint64_t now;
        int r;

        if (w->control_pause_source)
                return;
        log_warning_errno(error, "Failed to accept a control connection (%m); trying again in %" PRIu64 "ms.",
                          CONTROL_PAUSE_USEC / USEC_PER_MSEC);
        r = sd_event_now(w->event, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_add_time(w->event, &w->control_pause_source, CLOCK_MONOTONIC, now + CONTROL_PAUSE_USEC, 0,
                                      on_control_resume, w);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->control_source, SD_EVENT_OFF);
        if (r < 0)
                log_warning_errno(r, "Failed to pause the control socket, ignoring: %m");
}

/* Never returns an error: sd-event would disable the control socket for good, and every
 * later 'systemctl reload' would hang. */
static int on_control_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        _cleanup_close_ int cfd = -EBADF;
        struct ucred cred;
        socklen_t len = sizeof cred;
        sd_bus **n;
        sd_bus *bus = NULL;
        sd_id128_t id;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        control_pause(w, negative_errno());
                return 0;
        }

        /* The directory is 0700 already; still, only root and our own user may steer. */
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warning_errno(negative_errno(), "SO_PEERCRED on a control connection, dropping it: %m");
                return 0;
        }
        if (cred.uid != 0 && cred.uid != getuid()) {
                log_warning("Refusing a control connection from uid %u (pid %d).", (unsigned) cred.uid, (int) cred.pid);
                return 0;
        }

        n = realloc(w->connections, sizeof(sd_bus *) * (w->n_connections + 1));
        if (!n) {
                log_oom();
                return 0;
        }
        w->connections = n;

        if ((r = sd_id128_randomize(&id)) < 0 || (r = sd_bus_new(&bus)) < 0 ||
            (r = sd_bus_set_fd(bus, cfd, cfd)) < 0)
                goto fail;
        TAKE_FD(cfd);
        if ((r = sd_bus_set_server(bus, 1, id)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, WORKER_BUS_PATH, WORKER_BUS_INTERFACE, worker_vtable, w)) < 0 ||
            (r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                     "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, w)) < 0 ||
            (r = sd_bus_attach_event(bus, w->event, SD_EVENT_PRIORITY_NORMAL)) < 0 ||
            (r = sd_bus_start(bus)) < 0)
                goto fail;

        w->connections[w->n_connections++] = bus;
        return 0;

fail:
        sd_bus_unref(bus);
        log_warning_errno(r, "Failed to set up a control connection, dropping it: %m");
        return 0;
}

int worker_listen_control(Worker *w) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/" WORKER_CONTROL_SOCKET, w->runtime_dir) < 0)
                return -ENOMEM;
        if (strlen(path) >= sizeof addr.un.sun_path)
                return -ENAMETOOLONG;
        strcpy(addr.un.sun_path, path);
        (void) unlink(path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, &addr.sa, sizeof addr.un) < 0 || listen(fd, 16) < 0)
                return negative_errno();
        w->control_fd = TAKE_FD(fd);
        return sd_event_add_io(w->event, &w->control_source, w->control_fd, EPOLLIN, on_control_connection, w);
}

void worker_close_control(Worker *w) {
        _cleanup_free_ char *control = NULL;

        for (size_t i = 0; i < w->n_connections; i++)
                sd_bus_flush_close_unref(w->connections[i]);
        w->connections = mfree(w->connections);
        w->n_connections = 0;
        w->control_source = sd_event_source_disable_unref(w->control_source);
        w->control_pause_source = sd_event_source_disable_unref(w->control_pause_source);
        if (w->control_fd >= 0 && w->runtime_dir && asprintf(&control, "%s/" WORKER_CONTROL_SOCKET, w->runtime_dir) >= 0)
                (void) unlink(control);
        w->control_fd = safe_close(w->control_fd);
}

/* ---- ExecReload= ---- */

extern char **environ;

int worker_reload_client(const char *control_path, int argc, char *argv[], const WorkerCommandLine *cl) {
        _cleanup_free_ char *address = NULL, *directory = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL, *call = NULL;
        bool with = !strv_isempty(cl->opts.argv);
        sd_bus *bus = NULL;
        uint64_t gen;
        uint32_t pid;
        int r;

        if (asprintf(&address, "unix:path=%s", control_path) < 0)
                return log_oom();
        if (with && !(directory = getcwd(NULL, 0)))
                return log_error_errno(negative_errno(), "Failed to get the working directory: %m");

        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, address)) < 0 ||
            (r = sd_bus_start(bus)) < 0) {
                if (r == -EACCES)
                        log_error_errno(r, "Failed to connect to the worker at '%s': %m. It runs as another user: "
                                        "if the unit's User= changed, only 'systemctl restart' applies it.", control_path);
                else
                        log_error_errno(r, "Failed to connect to the worker at '%s': %m", control_path);
                goto finish;
        }

        /* No client-side timeout: the worker answers within ReadyTimeoutSec=, and systemd
         * bounds ExecReload= with TimeoutStartSec= anyway. */
        r = sd_bus_message_new_method_call(bus, &call, NULL, WORKER_BUS_PATH, WORKER_BUS_INTERFACE,
                                           with ? "ReloadWith" : "Reload");
        if (r >= 0 && with) {
                char **args = argv;

                r = sd_bus_message_open_container(call, 'a', "s");
                for (int i = 0; r >= 0 && i < argc; i++)
                        r = sd_bus_message_append(call, "s", args[i]);
                if (r >= 0)
                        r = sd_bus_message_close_container(call);
                if (r >= 0)
                        r = sd_bus_message_append_strv(call, environ);
                if (r >= 0)
                        r = sd_bus_message_append(call, "s", directory);
        }
        if (r >= 0)
                r = sd_bus_call(bus, call, UINT64_MAX, &error, &reply);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                /* Not Reload() instead: sockdctl may have asked for these settings only,
                 * which that shim cannot know, and a swap would not be all-or-nothing. */
                log_error("Reload failed: the worker runs an older sockd-spawn, which cannot take the unit's settings. "
                          "'systemctl restart' the worker once (a stop and a start) to run this one.");
                goto finish;
        }
        if (r < 0) {
                log_error("Reload failed: %s", error.message ?: strerror(-r));
                goto finish;
        }
        r = sd_bus_message_read(reply, "tu", &gen, &pid);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the worker's answer: %m");
                goto finish;
        }
        if (!cl->quiet)
                log_info("Generation %" PRIu64 " (pid %u) is serving.", gen, pid);
        r = 0;

finish:
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(call);
        sd_bus_flush_close_unref(bus);
        return r;
}
