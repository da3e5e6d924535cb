/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* NULL-terminated string arrays, as systemd's strv. */
char **strv_free(char **l);
size_t strv_length(char *const *l);
/* Takes ownership of @value, also on failure. */
int strv_consume(char ***l, char *value);
int strv_extend(char ***l, const char *value);
char *strv_join(char *const *l, const char *separator);
bool strv_contains(char *const *l, const char *s);

static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

static inline bool strv_isempty(char *const *l) {
        return !l || !*l;
}
/* A deep copy; an empty list for NULL. NULL on OOM. */
char **strv_copy(char *const *l);
bool strv_equal(char *const *a, char *const *b);

/* Environment lists of "NAME=value" assignments, in which the last assignment of a name
 * wins, as in systemd's Environment=. */
/* Which names were added, changed or removed from @old to @new: "A added, B changed,
 * C removed" (new's order, then old's), "" if none. Never the values, which may be
 * secrets. NULL on OOM. */
char *strv_env_diff(char *const *old, char *const *new);
