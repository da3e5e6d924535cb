/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint64_t usec_t;
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_INFINITY ((usec_t) UINT64_MAX)

/* "30" (seconds), "30s", "500ms", "2min", "1min 30s", "1h". Returns -EINVAL on syntax,
 * -ERANGE on overflow. */
int parse_duration(const char *s, usec_t *ret);

/* Formats a duration the way systemd unit files accept it back ("1min 30s", "500ms"). */
char *format_duration(usec_t u);

/* Octal permission bits "0660", "660", "2750"; at most 07777. */
int parse_mode(const char *s, mode_t *ret);

/* A signal an app may be asked to stop with: "SIGTERM", "TERM" or a number, 1 to 31;
 * SIGKILL and SIGSTOP are refused (-EPERM): nothing graceful comes of them. */
int parse_stop_signal(const char *s, int *ret);

/* Unsigned decimal in [min, max]. */
int parse_uint_range(const char *s, unsigned min, unsigned max, unsigned *ret);

/* Replaces every "{worker}" in @s by @replacement. */
char *expand_worker(const char *s, const char *replacement);

/* Escapes '%' as "%%" so systemd does not take it as a specifier. */
char *escape_specifiers(const char *s);

bool unit_prefix_is_valid(const char *s);
bool env_name_is_valid(const char *s);
bool env_assignment_is_valid(const char *s);
bool path_is_absolute(const char *s);
/* Absolute, no "..", no "//" surprises; what systemd accepts as a normalized path. */
bool path_is_normalized_absolute(const char *s);
bool user_group_name_is_valid(const char *s);

/* Splits a command line as systemd's ExecStart= does: words separated by whitespace,
 * '...' and "..." quoting anywhere in a word, C escapes (\n, \t, \\, \", \x41, \101,
 * \u00e9...). -EINVAL on what systemd would refuse (an unclosed quote, an unknown
 * escape, a trailing backslash), with one sentence in *ret_error. */
int exec_split(const char *s, char ***ret_argv, char **ret_error);

/* A copy of @s that a terminal shows as text: control characters (C0, DEL and the C1
 * range of UTF-8) become \xNN, so nothing an app wrote can move the cursor or retitle
 * the window. */
char *escape_for_terminal(const char *s);

/* A copy of the @len bytes at @s, at most @max bytes long (@max >= 4): if they do not
 * fit, cut at a UTF-8 character boundary and ended with "...". */
char *strndup_bounded(const char *s, size_t len, size_t max);
