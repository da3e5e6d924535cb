/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "test-util.h"

/* How many entries @dir holds, . and .. aside. */
static unsigned count_entries(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        return n;
}

START_TEST(test_write_new_and_replace) {
        _cleanup_free_ char *dir = test_tmpdir_new(), *path = NULL, *text = NULL;
        struct stat st;

        ck_assert_int_ge(asprintf(&path, "%s/upstream.conf", dir), 0);
        ck_assert_int_eq(write_file_atomic(path, "first\n"), 0);
        ck_assert_int_eq(read_file_optional(path, &text), 0);
        ck_assert_str_eq(text, "first\n");
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0644);

        /* Replaced, not appended to; and no temporary file is left beside it. */
        ck_assert_int_eq(write_file_atomic(path, "second, longer\n"), 0);
        free(text);
        ck_assert_int_eq(read_file_optional(path, &text), 0);
        ck_assert_str_eq(text, "second, longer\n");
        ck_assert_uint_eq(count_entries(dir), 1);
}
END_TEST

START_TEST(test_write_large) {
        _cleanup_free_ char *dir = test_tmpdir_new(), *path = NULL, *text = NULL, *big = NULL;
        size_t n = 1 << 20;

        /* No buffer of a fixed size anywhere: a MiB goes through whole. */
        big = malloc(n + 1);
        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < n; i++)
                big[i] = (char) ('a' + i % 26);
        big[n] = '\0';
        ck_assert_int_ge(asprintf(&path, "%s/big", dir), 0);
        ck_assert_int_eq(write_file_atomic(path, big), 0);
        ck_assert_int_eq(read_file_optional(path, &text), 0);
        ck_assert_uint_eq(strlen(text), n);
        ck_assert(memcmp(text, big, n) == 0);
}
END_TEST

START_TEST(test_write_fails_cleanly) {
        _cleanup_free_ char *dir = test_tmpdir_new(), *path = NULL, *text = NULL, *sub = NULL;

        /* A missing directory: the error, and nothing created. */
        ck_assert_int_ge(asprintf(&path, "%s/missing/file", dir), 0);
        ck_assert_int_eq(write_file_atomic(path, "x"), -ENOENT);
        ck_assert_uint_eq(count_entries(dir), 0);

        /* The rename fails (a directory is in the way): the temporary file goes again and
         * the directory is untouched. */
        ck_assert_int_ge(asprintf(&sub, "%s/taken", dir), 0);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_lt(write_file_atomic(sub, "x"), 0);
        ck_assert_uint_eq(count_entries(dir), 1);
        ck_assert_uint_eq(count_entries(sub), 0);
}
END_TEST

START_TEST(test_read_missing_and_empty) {
        _cleanup_free_ char *dir = test_tmpdir_new(), *path = NULL, *text = NULL, *empty = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/none", dir), 0);
        text = (char *) 1;
        ck_assert_int_eq(read_file_optional(path, &text), 0);
        ck_assert_ptr_null(text);

        empty = test_write_file(dir, "empty", "");
        ck_assert_int_eq(read_file_optional(empty, &text), 0);
        ck_assert_str_eq(text, "");

        /* A directory is an error, not an empty file. */
        free(text);
        text = NULL;
        ck_assert_int_lt(read_file_optional(dir, &text), 0);
        ck_assert_ptr_null(text);
}
END_TEST

Suite *fileio_suite(void) {
        Suite *s = suite_create("fileio");
        TCase *tc = tcase_create("atomic");

        tcase_add_test(tc, test_write_new_and_replace);
        tcase_add_test(tc, test_write_large);
        tcase_add_test(tc, test_write_fails_cleanly);
        tcase_add_test(tc, test_read_missing_and_empty);
        suite_add_tcase(s, tc);
        return s;
}
