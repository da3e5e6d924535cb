/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "system-claims.h"

/* What an app may name, beyond syntax: the generator writes units and a tmpfiles.d line
 * from a config, and neither may touch what belongs to someone else. Each check returns
 * 0, -ENOMEM, or -EEXIST/-EPERM with one sentence in *ret_why that says whose it is. */

/* APP.target, APP@.service and APP@.socket must not shadow a special unit
 * (systemd.special(7)) or a unit file that exists (@claims, may be NULL). */
int app_name_check(const char *name, bool user_scope, const SystemClaims *claims, char **ret_why);

/* The socket directory: below the runtime directory (/run, or $XDG_RUNTIME_DIR), and
 * neither one systemd or the base system uses, nor one that another package's tmpfiles.d
 * line or a unit's RuntimeDirectory= names, nor one below or above those. */
int socket_directory_check(const char *dir, bool user_scope, const SystemClaims *claims, char **ret_why);

/* systemd.special(7): is NAME.target one of systemd's own targets? */
bool target_is_special(const char *name, bool user_scope);
