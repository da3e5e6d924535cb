/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "strv.h"

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

int parse_stop_signal(const char *s, int *ret) {
        unsigned n;
        int sig = 0;

        if (isempty(s))
                return -EINVAL;
        if (parse_uint_range(s, 1, 31, &n) >= 0)
                sig = (int) n;
        else {
                const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;

                for (int i = 1; i < 32 && sig == 0; i++) {
                        const char *abbrev = sigabbrev_np(i);
                        if (abbrev && streq(abbrev, name))
                                sig = i;
                }
        }
        if (sig == 0)
                return -EINVAL;
        if (sig == SIGKILL || sig == SIGSTOP)
                return -EPERM;
        *ret = sig;
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

static int hex_value(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One C escape after the backslash at @p (systemd's cunescape_one()): appends the
 * character to @f and returns how many bytes of @p it used, or 0 if it is invalid. */
static size_t unescape_one(const char *p, FILE *f) {
        static const char simple[] = "abfnrtv\\\"'s", values[] = "\a\b\f\n\r\t\v\\\"' ";
        const char *hit = *p ? strchr(simple, *p) : NULL;
        unsigned long v = 0;
        size_t digits, base;

        if (hit) {
                fputc(values[hit - simple], f);
                return 1;
        }
        if (*p == 'x')
                digits = 2, base = 16;
        else if (*p == 'u')
                digits = 4, base = 16;
        else if (*p == 'U')
                digits = 8, base = 16;
        else if (*p >= '0' && *p <= '7')
                digits = 3, base = 8;
        else
                return 0;
        for (size_t i = base == 8 ? 0 : 1; i < (base == 8 ? 3 : digits + 1); i++) {
                int d = hex_value(p[i]);
                if (d < 0 || (unsigned) d >= base)
                        return 0;
                v = v * base + (unsigned long) d;
        }
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return 0; /* no NUL, no surrogates */
        if (base == 8 || *p == 'x')
                fputc((int) v, f);
        else if (v < 0x80)
                fputc((int) v, f);
        else if (v < 0x800)
                fprintf(f, "%c%c", (int) (0xC0 | (v >> 6)), (int) (0x80 | (v & 0x3F)));
        else if (v < 0x10000)
                fprintf(f, "%c%c%c", (int) (0xE0 | (v >> 12)), (int) (0x80 | ((v >> 6) & 0x3F)), (int) (0x80 | (v & 0x3F)));
        else
                fprintf(f, "%c%c%c%c", (int) (0xF0 | (v >> 18)), (int) (0x80 | ((v >> 12) & 0x3F)),
                        (int) (0x80 | ((v >> 6) & 0x3F)), (int) (0x80 | (v & 0x3F)));
        return base == 8 ? 3 : digits + 1;
}

int exec_split(const char *s, char ***ret_argv, char **ret_error) {
        char **argv = NULL;
        const char *p = s;
        int r = -EINVAL;

        *ret_error = NULL;
        for (;;) {
                _cleanup_free_ char *word = NULL;
                size_t size = 0;
                char quote = 0;
                FILE *f;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                f = open_memstream(&word, &size);
                if (!f)
                        goto oom;
                for (; *p && (quote || !strchr(" \t", *p)); p++) {
                        if (*p == '\\') {
                                size_t used = p[1] ? unescape_one(p + 1, f) : 0;

                                if (used == 0) {
                                        fclose(f);
                                        if (!p[1])
                                                r = asprintf(ret_error, "ends in a backslash");
                                        else
                                                r = asprintf(ret_error, "has an escape systemd does not know, '\\%c' (write "
                                                             "'\\\\' for a backslash)", p[1]);
                                        goto fail;
                                }
                                p += used;
                        } else if (quote && *p == quote)
                                quote = 0;
                        else if (!quote && (*p == '"' || *p == '\''))
                                quote = *p;
                        else
                                fputc(*p, f);
                }
                if (fclose(f) != 0)
                        goto oom;
                if (quote) {
                        r = asprintf(ret_error, "has a %s quote (%c) that is never closed; systemd would ignore "
                                     "the whole line", quote == '"' ? "double" : "single", quote);
                        goto fail;
                }
                if (strv_consume(&argv, TAKE_PTR(word)) < 0)
                        goto oom;
        }
        if (!argv) {
                r = asprintf(ret_error, "has no command");
                goto fail;
        }
        *ret_argv = argv;
        return 0;

oom:
        strv_free(argv);
        return -ENOMEM;
fail:
        strv_free(argv);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

char *escape_for_terminal(const char *s) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) strempty(s); *p; p++) {
                if (*p < 0x20 || *p == 0x7F)
                        fprintf(f, "\\x%02x", *p);
                else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
                        /* U+0080..U+009F: C1 controls, CSI among them */
                        fprintf(f, "\\xc2\\x%02x", p[1]);
                        p++;
                } else
                        fputc(*p, f);
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

char *strndup_bounded(const char *s, size_t len, size_t max) {
        size_t n = len;
        char *r;

        if (len <= max)
                return strndup(s, len);
        n = max - 3;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
                n--; /* never end inside a character */
        r = malloc(n + 4);
        if (!r)
                return NULL;
        memcpy(r, s, n);
        memcpy(r + n, "...", 4);
        return r;
}
