/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What the system already claims, so that an app never takes it over: the paths other
 * packages' tmpfiles.d lines name, the runtime directories unit files ask for
 * (RuntimeDirectory=), and the unit files that exist. Read only from /etc, /run and
 * /usr, which are there when generators run at early boot. */

typedef struct Claim {
        char *what;   /* an absolute path (may hold glob characters), or a unit name */
        char *source; /* "FILE:LINE" or "FILE" */
} Claim;

typedef struct SystemClaims {
        char *runtime_base; /* /run, or $XDG_RUNTIME_DIR for a user's manager */
        Claim *dirs;
        size_t n_dirs;
        Claim *units;
        size_t n_units;
} SystemClaims;

SystemClaims *system_claims_free(SystemClaims *c);
static inline void system_claims_freep(SystemClaims **c) {
        system_claims_free(*c);
}
#define _cleanup_system_claims_ __attribute__((cleanup(system_claims_freep)))

/* The tmpfiles.d and unit directories of the system's or the user's manager.
 * $SOCKD_CLAIMS_ROOT, if set, is prefixed to every directory (for tests). */
int system_claims_load(bool user_scope, SystemClaims **ret);

/* From explicit directories; @runtime_base is what RuntimeDirectory= and %t are
 * relative to. Unreadable or missing directories and files are skipped. */
int system_claims_load_from(const char *runtime_base, char *const *tmpfiles_dirs, char *const *unit_dirs,
                            SystemClaims **ret);

/* The claim on a path that is @dir, below it or above it (but never @runtime_base
 * itself), NULL if there is none. */
const Claim *system_claims_find_dir(const SystemClaims *c, const char *dir);

/* The first existing unit file whose name matches @pattern (fnmatch(3)), NULL if none. */
const Claim *system_claims_find_unit(const SystemClaims *c, const char *pattern);

/* Expands the tmpfiles.d/unit specifiers that name directories (%t, %S, %C, %L, %T,
 * %V, %%), and turns every other specifier into '*', so the result is a glob pattern
 * that matches whatever the specifier could stand for. */
char *claims_expand_specifiers(const char *s, const char *runtime_base);
