/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* Every tests/check-<module>.c exports one of these; test-main.c runs it. */
Suite *config_suite(void);
Suite *fileio_suite(void);
Suite *parse_suite(void);
Suite *unit_render_suite(void);
Suite *notify_suite(void);
Suite *generation_suite(void);
Suite *worker_status_suite(void);
Suite *bus_util_suite(void);
Suite *json_suite(void);
Suite *listen_spec_suite(void);

/* Where test_tmpdir_new() makes its directories: set by test-main.c before the tests
 * run and removed, with everything in it, after them, so that a test that fails in its
 * fork (and skips its teardown) leaves nothing behind. NULL: $TMPDIR or /tmp. */
extern char *test_tmpdir_base;

/* A fresh directory; fails the test if it cannot be made. */
char *test_tmpdir_new(void);
/* Removes @path and everything below it; NULL is fine. */
void test_rm_rf(const char *path);

/* Writes @len bytes to @dir/@name (created 0644) and returns the path. */
char *test_write_data(const char *dir, const char *name, const void *data, size_t len);
char *test_write_file(const char *dir, const char *name, const char *content);

/* Whether @text has a line that is exactly @line. */
bool test_has_line(const char *text, const char *line);
/* The first line of @text that starts with @prefix (newly allocated, without the
 * newline), or NULL. */
char *test_find_line(const char *text, const char *prefix);
/* How many lines of @text start with @prefix. */
unsigned test_count_lines(const char *text, const char *prefix);

/* Names that exist on every Linux host: uid 0's user and gid 0's group. */
const char *test_root_user(void);
const char *test_root_group(void);

#define ck_assert_str_startswith(s, prefix)                                            \
        do {                                                                           \
                const char *_s = (s), *_p = (prefix);                                  \
                ck_assert_msg(_s && strncmp(_s, _p, strlen(_p)) == 0,                  \
                              "'%s' does not start with '%s'", _s ? _s : "(null)", _p); \
        } while (0)

#define ck_assert_str_contains(s, needle)                                              \
        do {                                                                           \
                const char *_s = (s), *_n = (needle);                                  \
                ck_assert_msg(_s && strstr(_s, _n), "'%s' does not contain '%s'",      \
                              _s ? _s : "(null)", _n);                                 \
        } while (0)

#define ck_assert_has_line(text, line)                                                 \
        do {                                                                           \
                const char *_t = (text), *_l = (line);                                 \
                ck_assert_msg(test_has_line(_t, _l), "no line '%s' in:\n%s", _l,        \
                              _t ? _t : "(null)");                                     \
        } while (0)

/* A user and a group other than uid/gid 0 (the first in the databases whose names
 * sockd accepts), or NULL if the host has none. */
const char *test_other_user(void);
const char *test_other_group(void);
