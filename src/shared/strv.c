/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

char **strv_free(char **l) {
        if (l) {
                for (char **s = l; *s; s++)
                        free(*s);
                free(l);
        }
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

int strv_consume(char ***l, char *value) {
        size_t n;
        char **c;

        if (!value)
                return -ENOMEM;
        n = strv_length(*l);
        c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        return strv_consume(l, strdup(value));
}

bool strv_contains(char *const *l, const char *s) {
        for (char *const *i = l; i && *i; i++)
                if (strcmp(*i, s) == 0)
                        return true;
        return false;
}

char *strv_join(char *const *l, const char *separator) {
        size_t n = 1, sl = strlen(separator);
        char *out, *o;

        for (char *const *s = l; s && *s; s++)
                n += strlen(*s) + sl;
        out = o = malloc(n);
        if (!out)
                return NULL;
        *o = 0;
        for (char *const *s = l; s && *s; s++) {
                if (s != l)
                        o = stpcpy(o, separator);
                o = stpcpy(o, *s);
        }
        return out;
}

char **strv_copy(char *const *l) {
        char **c = calloc(strv_length(l) + 1, sizeof(char *));

        if (!c)
                return NULL;
        for (size_t i = 0; l && l[i]; i++)
                if (!(c[i] = strdup(l[i])))
                        return strv_free(c);
        return c;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* The assignment of the first @n bytes of @name. */
static const char *env_get_n(char *const *l, const char *name, size_t n) {
        const char *found = NULL;

        STRV_FOREACH(e, l)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        found = *e; /* the last one wins, as in systemd */
        return found;
}

/* Whether @e is "NAME=..." with a NAME, and the assignment of NAME that counts in @l;
 * sets @n to the length of NAME. */
static bool env_counts(char *const *l, const char *e, size_t *n) {
        *n = strcspn(e, "=");
        return *n > 0 && e[*n] == '=' && env_get_n(l, e, *n) == e;
}

static int env_diff_append(char **text, const char *name, size_t n, const char *what) {
        char *t;

        if (n > INT_MAX || asprintf(&t, "%s%s%.*s %s", *text, **text ? ", " : "", (int) n, name, what) < 0)
                return -ENOMEM;
        free(*text);
        *text = t;
        return 0;
}

char *strv_env_diff(char *const *old, char *const *new) {
        _cleanup_free_ char *text = strdup("");
        size_t n;

        if (!text)
                return NULL;
        STRV_FOREACH(e, new) {
                const char *o;

                if (!env_counts(new, *e, &n))
                        continue;
                o = env_get_n(old, *e, n);
                if (o && streq(o, *e))
                        continue;
                if (env_diff_append(&text, *e, n, o ? "changed" : "added") < 0)
                        return NULL;
        }
        STRV_FOREACH(e, old)
                if (env_counts(old, *e, &n) && !env_get_n(new, *e, n) &&
                    env_diff_append(&text, *e, n, "removed") < 0)
                        return NULL;
        return TAKE_PTR(text);
}
