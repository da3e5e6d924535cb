/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What generations run: settings from a sockd-spawn command line (the shim's own
 * ExecStart=, or the ExecReload= client's, which systemd spawns from the unit as it has
 * it loaded now), checked against what only a new service can change.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "program-check.h"
#include "strv.h"
#include "worker.h"

Settings *settings_ref(Settings *s) {
        if (s)
                s->n_ref++;
        return s;
}

Settings *settings_unref(Settings *s) {
        if (!s || --s->n_ref > 0)
                return NULL;
        worker_options_done(&s->opts);
        strv_free(s->environment);
        free(s->directory);
        free(s);
        return NULL;
}

/* The config key behind each option only a new service (or socket) applies. */
static const char *fixed_option_key(const char *option) {
        if (streq(option, "--socket"))
                return "[Socket] Directory= or Name=";
        if (streq(option, "--backlog"))
                return "[Socket] Backlog=";
        if (streq(option, "--listen"))
                return "Listen=";
        if (streq(option, "--suspend"))
                return "Suspend=";
        return option;
}

/* Can the preload go into the settings' program? Listen= and Ready=listen need it;
 * without them it only gates the socket (no connection before ready), which a static
 * program does without. -EINVAL with *ret_why when the settings ask for what cannot be. */
static int settings_check_preload(Worker *w, Settings *s, char **ret_why) {
        bool needed = w->opts.listen || s->opts.ready == READY_LISTEN;
        const char *what = w->opts.listen ? "Listen=" : "Ready=listen";
        _cleanup_free_ char *why = NULL;
        int r;

        if (access(w->opts.preload, R_OK) < 0) {
                if (!needed) {
                        log_debug_errno(negative_errno(), "No preload library at '%s' (%m): the socket is not gated.",
                                        w->opts.preload);
                        return 0;
                }
                r = asprintf(ret_why, "%s needs sockd's preload library, '%s': %s", what, w->opts.preload, strerror(errno));
                return r < 0 ? -ENOMEM : -EINVAL;
        }
        r = program_preloadable(s->opts.argv[0], &why);
        if (r == -ENOMEM)
                return r;
        if (r == 0) {
                if (!needed) {
                        log_debug("%s: the socket is not gated until the app is ready.", why);
                        return 0;
                }
                r = asprintf(ret_why, "%s needs sockd's preload library in the app, and %s. Have the app accept on "
                             "fd 3 instead (the socket activation protocol, LISTEN_FDS), without %s",
                             what, why, what);
                return r < 0 ? -ENOMEM : -EINVAL;
        }
        s->use_preload = true;
        return 0;
}

int worker_settings_new(Worker *w, WorkerCommandLine *cl, char **environment, const char *directory,
                        Settings **ret, char **ret_why) {
        _cleanup_(settings_unrefp) Settings *s = NULL;
        const char *option;
        int r;

        *ret_why = NULL;
        if (strv_isempty(cl->opts.argv))
                return asprintf(ret_why, "no command") < 0 ? -ENOMEM : -EINVAL;
        option = worker_options_fixed_differ(&w->opts, &cl->opts);
        if (option) {
                bool socket = streq(option, "--socket") || streq(option, "--backlog");

                /* Said in the terms of the config the user edited, with what applies it
                 * (the units are loaded already, or this reload would not have it). */
                if (socket)
                        r = asprintf(ret_why, "%s changed: a new generation cannot apply it, only a new socket does "
                                     "('sockdctl stop %s && sockdctl start %s')",
                                     fixed_option_key(option), w->opts.app, w->opts.app);
                else
                        r = asprintf(ret_why, "%s changed: a new generation cannot apply it, only a new service does "
                                     "('systemctl restart %s@*.service')", fixed_option_key(option), w->opts.app);
                return r < 0 ? -ENOMEM : -EINVAL;
        }

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->opts = cl->opts;
        cl->opts = (WorkerOptions) {};
        if (environment && !(s->environment = strv_copy(environment)))
                return -ENOMEM;
        if (directory && !(s->directory = strdup(directory)))
                return -ENOMEM;
        r = settings_check_preload(w, s, ret_why);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
