/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "config.h"

/* Where sockd-spawn's max back-off between crashes ends (see spawn/backoff). */
#define SOCKD_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

/* Replaces every {{NAME}} in @tmpl by its value from @vars (NAME, value, NAME, value,
 * ..., NULL). A line that holds nothing but a placeholder whose value is empty is
 * dropped. -ENOKEY (and the name in *ret_unknown) for a placeholder without a value. */
int template_render(const char *tmpl, const char *const *vars, char **ret, char **ret_unknown);

/* Quotes one word of an Exec*= line so systemd hands it over verbatim. */
char *unit_quote_exec_word(const char *s);

typedef struct AppUnits {
        char *socket;   /* APP@.socket */
        char *service;  /* APP@.service */
        char *target;   /* APP.target */
        char *tmpfiles; /* tmpfiles.d(5) lines for the socket directory */
} AppUnits;

void app_units_done(AppUnits *u);

/* Renders the three units and the tmpfiles snippet of an app. @tmpfiles_path is where
 * the caller will write the snippet: the socket unit runs systemd-tmpfiles on it. */
int app_units_render(const AppConfig *c, const char *tmpfiles_path, AppUnits *ret);

/* What app_units_render() put into a worker's service unit, read back from its text
 * (the [Service] keys User=, Group=, WorkingDirectory=, Environment=, EnvironmentFile=,
 * PassEnvironment=): quoting and specifier escapes undone, %i as @worker. Keys it did
 * not write (a hand edit) are read the same way; drop-ins are other files. */
typedef struct ServiceValues {
        char *user;              /* "" when none */
        char *group;
        char *working_directory;
        char **environment;      /* "NAME=value" */
        char **environment_files; /* as written: every one with '-' */
        char **pass_environment;
} ServiceValues;

void service_values_done(ServiceValues *v);
int service_values_read(FILE *f, unsigned worker, ServiceValues *ret);
