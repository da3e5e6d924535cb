/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hosts a command runs on: this machine, one -M container, or a fleet of -H hosts
 * (and --hosts FILE), each reached over ssh and systemd-stdio-bridge as 'systemctl -H'
 * does. Every host gets its own bus; the verbs send to all of them and wait on all of
 * them at once, so that a fleet restart is one all-or-nothing operation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

#define SYSTEMD_VERSION_MIN 245

/* What may be a host: it goes to ssh as one argument after "--", so nothing in it can
 * become an option; still, a name ssh would take for one, or with blanks or control
 * characters in it, is a mistake in the list, not a host. */
static const char *host_invalid(const char *host) {
        if (isempty(host))
                return "is empty";
        if (host[0] == '-')
                return "starts with '-'";
        if (strlen(host) > 255)
                return "is longer than 255 characters";
        for (const unsigned char *p = (const unsigned char *) host; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return "contains a blank or a control character";
        if (host[0] == '@' || strchr(host, '@') != strrchr(host, '@') || host[strlen(host) - 1] == '@')
                return "is not [USER@]HOST";
        return NULL;
}

int hosts_add(char ***hosts, const char *host, const char *source, unsigned line) {
        const char *why = host_invalid(host);
        _cleanup_free_ char *escaped = NULL;

        if (why) {
                escaped = escape_for_terminal(host);
                if (line > 0)
                        log_error("%s:%u: '%s' %s.", source, line, strempty(escaped), why);
                else
                        log_error("%s: '%s' %s.", source, strempty(escaped), why);
                return -EINVAL;
        }
        if (strv_contains(*hosts, host)) {
                if (line > 0)
                        log_error("%s:%u: %s is listed twice: every host once.", source, line, host);
                else
                        log_error("%s: %s is given twice: every host once.", source, host);
                return -EINVAL;
        }
        return strv_extend(hosts, host) < 0 ? log_oom() : 0;
}

int hosts_load_file(char ***hosts, const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned n = 0, before = (unsigned) strv_length(*hosts);
        ssize_t len;

        f = fopen(path, "re");
        if (!f)
                return log_error_errno(negative_errno(), "--hosts: failed to open '%s': %m", path);
        while ((len = getline(&line, &size, f)) >= 0) {
                char *s = line, *end, *hash;

                n++;
                if (memchr(line, '\0', (size_t) len)) {
                        log_error("%s:%u: a NUL byte: this is not a list of hosts.", path, n);
                        return -EINVAL;
                }
                hash = strchr(s, '#');
                if (hash)
                        *hash = '\0';
                s += strspn(s, " \t\r\n");
                end = s + strlen(s);
                while (end > s && strchr(" \t\r\n", end[-1]))
                        *--end = '\0';
                if (*s == '\0')
                        continue;
                if (strpbrk(s, " \t")) {
                        log_error("%s:%u: '%s' is more than one word: one [USER@]HOST a line.", path, n, s);
                        return -EINVAL;
                }
                if (hosts_add(hosts, s, path, n) < 0)
                        return -EINVAL;
        }
        if (ferror(f))
                return log_error_errno(-EIO, "--hosts: failed to read '%s'.", path);
        if (strv_length(*hosts) == before) {
                log_error("%s: no host in it.", path);
                return -EINVAL;
        }
        return 0;
}

void fleet_done(Fleet *f) {
        for (size_t i = 0; i < f->n_hosts; i++) {
                Host *h = &f->hosts[i];

                app_done(&h->app);
                /* Not flushed: every request was a call whose reply came, and a flush would
                 * wait for a host whose ssh session is still being set up. */
                sd_bus_close_unref(h->bus);
                free(h->name);
        }
        free(f->hosts);
        *f = (Fleet) {};
}

/* systemd answers, and is new enough. */
static int check_manager(sd_bus *bus, const char *host) {
        _cleanup_free_ char *version = NULL, *where = NULL;
        int r;

        if (host && asprintf(&where, " on %s", host) < 0)
                return log_oom();
        r = sd_bus_get_property_string(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "Version", NULL, &version);
        if (r < 0 && host && (r == -ENOTCONN || r == -ECONNRESET || r == -EPIPE))
                /* ssh exited: it could not log in, or systemd-stdio-bridge could not run. */
                return log_error_errno(r, "Failed to reach systemd on %s: the ssh session ended (ssh's own message, if "
                                       "any, is above; the host needs sshd and systemd-stdio-bridge, and this user a "
                                       "key it accepts).", host);
        if (r < 0)
                return log_error_errno(r, "Failed to talk to systemd%s: %s", strempty(where),
                                       bus_error_hint(NULL, r) ?: strerror(-r));
        if (atoi(version) > 0 && atoi(version) < SYSTEMD_VERSION_MIN) {
                log_error("systemd %s%s is too old: sockd needs systemd %d or newer.", version, strempty(where),
                          SYSTEMD_VERSION_MIN);
                return -EPROTONOSUPPORT;
        }
        return 0;
}

int fleet_connect(Fleet *f, char **names) {
        size_t n = MAX(strv_length(names), (size_t) 1);
        int r;

        f->hosts = calloc(n, sizeof(Host));
        if (!f->hosts)
                return log_oom();
        f->n_hosts = n;

        /* All the ssh sessions start here, then each is waited for in turn: the
         * handshakes run side by side. */
        for (size_t i = 0; i < n; i++) {
                Host *h = &f->hosts[i];
                const char *where = names ? names[i] : arg_host;

                if (names && !(h->name = strdup(names[i])))
                        return log_oom();
                r = bus_connect_transport(names ? BUS_TRANSPORT_REMOTE : arg_transport, where, arg_user, &h->bus);
                if (r == -EOPNOTSUPP)
                        return log_error_errno(r, "--user cannot be combined with -H or -M.");
                if (r < 0) {
                        const char *hint = bus_error_hint(NULL, r);
                        return log_error_errno(r, "Failed to connect to %s%s%s: %s", arg_user ? "the user manager" : "systemd",
                                               where ? " on " : "", strempty(where), hint ?: strerror(-r));
                }
        }
        for (size_t i = 0; i < n; i++) {
                r = check_manager(f->hosts[i].bus, names ? names[i] : arg_host);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fleet_load_app(Fleet *f, const char *name) {
        int r;

        for (size_t i = 0; i < f->n_hosts; i++) {
                Host *h = &f->hosts[i];

                if (f->n_hosts > 1)
                        log_set_prefix(h->name);
                r = app_load(h->bus, name, &h->app);
                log_set_prefix(NULL);
                if (r < 0)
                        return r;
                h->app.host = f->n_hosts > 1 ? h->name : NULL;
        }
        return 0;
}

int fleet_wait(Fleet *f, WorkerDone done, uint64_t deadline) {
        _cleanup_free_ sd_bus **buses = calloc(f->n_hosts, sizeof(sd_bus *));
        _cleanup_free_ App **apps = calloc(f->n_hosts, sizeof(App *));

        if (!buses || !apps)
                return log_oom();
        for (size_t i = 0; i < f->n_hosts; i++) {
                buses[i] = f->hosts[i].bus;
                apps[i] = &f->hosts[i].app;
        }
        return apps_wait(buses, apps, f->n_hosts, done, deadline);
}
