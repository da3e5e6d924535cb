/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"

static const struct {
        const char *suffix;
        usec_t usec;
} duration_units[] = {
        /* Longest first, so "ms" is not read as "m" + garbage. */
        { "usec", 1 },
        { "msec", USEC_PER_MSEC },
        { "sec", USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC },
        { "us", 1 },
        { "ms", USEC_PER_MSEC },
        { "s", USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
};

int parse_duration(const char *s, usec_t *ret) {
        usec_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;

        for (const char *p = s;;) {
                unsigned long long n;
                usec_t mult = USEC_PER_SEC;
                char *end;
                size_t len = 0;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;

                errno = 0;
                n = strtoull(p, &end, 10);
                if (errno == ERANGE)
                        return -ERANGE;
                p = end;
                p += strspn(p, " \t");

                if (isalpha((unsigned char) *p)) {
                        bool found = false;

                        len = strcspn(p, " \t0123456789");
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                                if (strlen(duration_units[i].suffix) == len &&
                                    strncmp(p, duration_units[i].suffix, len) == 0) {
                                        mult = duration_units[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                        p += len;
                } else if (*p && !isdigit((unsigned char) *p))
                        return -EINVAL;

                if (n > (UINT64_MAX - 1 - total) / mult)
                        return -ERANGE;
                total += (usec_t) n * mult;
                any = true;
        }

        if (!any)
                return -EINVAL;

        *ret = total;
        return 0;
}

char *format_duration(usec_t u) {
        char *s = NULL;

        if (u == USEC_INFINITY)
                return strdup("infinity");
        if (u % USEC_PER_SEC == 0) {
                if (asprintf(&s, "%" PRIu64 "s", u / USEC_PER_SEC) < 0)
                        return NULL;
        } else if (u % USEC_PER_MSEC == 0) {
                if (asprintf(&s, "%" PRIu64 "ms", u / USEC_PER_MSEC) < 0)
                        return NULL;
        } else if (asprintf(&s, "%" PRIu64 "us", u) < 0)
                return NULL;
        return s;
}

int parse_mode(const char *s, mode_t *ret) {
        unsigned long v;
        char *end;

        if (isempty(s) || strlen(s) > 5 || strspn(s, "01234567") != strlen(s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 8);
        if (errno != 0 || *end)
                return -EINVAL;
        if (v > 07777)
                return -ERANGE;
        *ret = (mode_t) v;
        return 0;
}

int parse_uint_range(const char *s, unsigned min, unsigned max, unsigned *ret) {
        unsigned long v;
        char *end;

        if (isempty(s) || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno == ERANGE || v > max || v < min)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

static char *replace_all(const char *s, const char *needle, const char *replacement) {
        size_t nl = strlen(needle), rl = strlen(replacement), count = 0;
        const char *p;
        char *out, *o;

        for (p = s; (p = strstr(p, needle)); p += nl)
                count++;

        out = malloc(strlen(s) + count * rl + 1);
        if (!out)
                return NULL;

        for (o = out, p = s;;) {
                const char *hit = strstr(p, needle);
                size_t chunk = hit ? (size_t) (hit - p) : strlen(p);

                memcpy(o, p, chunk);
                o += chunk;
                if (!hit)
                        break;
                memcpy(o, replacement, rl);
                o += rl;
                p = hit + nl;
        }
        *o = 0;
        return out;
}

char *expand_worker(const char *s, const char *replacement) {
        return replace_all(s, "{worker}", replacement);
}

char *escape_specifiers(const char *s) {
        return replace_all(s, "%", "%%");
}

bool unit_prefix_is_valid(const char *s) {
        /* What systemd accepts before the '@' of a template instance, minus ':' (not
         * allowed in FileDescriptorName=) and the characters that would need escaping. The
         * name also becomes a DynamicUser= name, hence the length. */
        if (isempty(s) || strlen(s) > 31 || !isalpha((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("-_.", *p))
                        return false;
        return true;
}

bool env_name_is_valid(const char *s) {
        if (isempty(s) || isdigit((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_')
                        return false;
        return true;
}

bool env_assignment_is_valid(const char *s) {
        const char *eq = strchr(s, '=');
        _cleanup_free_ char *name = NULL;

        if (!eq)
                return false;
        name = strndup(s, eq - s);
        if (!name || !env_name_is_valid(name))
                return false;
        for (const char *p = eq + 1; *p; p++)
                if ((unsigned char) *p < ' ' && *p != '\t')
                        return false;
        return true;
}

bool path_is_absolute(const char *s) {
        return s && s[0] == '/';
}

bool path_is_normalized_absolute(const char *s) {
        if (!path_is_absolute(s) || strstr(s, "//") || (s[1] && s[strlen(s) - 1] == '/'))
                return false;
        for (const char *p = s; (p = strstr(p, "/..")); p++)
                if (p[3] == '/' || p[3] == 0)
                        return false;
        for (const char *p = s; (p = strstr(p, "/.")); p++)
                if (p[2] == '/' || p[2] == 0)
                        return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < ' ' || *p == '\\')
                        return false;
        return true;
}

bool user_group_name_is_valid(const char *s) {
        /* The portable subset systemd's valid_user_group_name() also accepts. */
        if (isempty(s) || strlen(s) > 31 || s[0] == '-' || isdigit((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("_-.", *p))
                        return false;
        return true;
}
