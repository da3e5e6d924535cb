/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "test-util.h"

char *test_tmpdir_base;

char *test_tmpdir_new(void) {
        const char *base = test_tmpdir_base ?: getenv("TMPDIR");
        char *t;

        ck_assert_int_ge(asprintf(&t, "%s/sockd-test.XXXXXX", base && *base ? base : "/tmp"), 0);
        ck_assert_msg(mkdtemp(t), "mkdtemp(%s): %s", t, strerror(errno));
        return t;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void test_rm_rf(const char *path) {
        if (path)
                (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *test_write_data(const char *dir, const char *name, const void *data, size_t len) {
        char *path;
        int fd;

        ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_msg(fd >= 0, "open(%s): %s", path, strerror(errno));
        ck_assert_msg(write(fd, data, len) == (ssize_t) len, "write(%s): %s", path, strerror(errno));
        ck_assert_int_eq(close(fd), 0);
        return path;
}

char *test_write_file(const char *dir, const char *name, const char *content) {
        return test_write_data(dir, name, content, strlen(content));
}

static const char *line_find(const char *text, const char *prefix, bool whole) {
        size_t pl = strlen(prefix);

        for (const char *l = text; l && *l;) {
                const char *eol = strchrnul(l, '\n');

                if ((size_t) (eol - l) >= pl && strncmp(l, prefix, pl) == 0 &&
                    (!whole || (size_t) (eol - l) == pl))
                        return l;
                l = *eol ? eol + 1 : eol;
        }
        return NULL;
}

bool test_has_line(const char *text, const char *line) {
        return line_find(text, line, true) != NULL;
}

char *test_find_line(const char *text, const char *prefix) {
        const char *l = line_find(text, prefix, false);
        char *r;

        if (!l)
                return NULL;
        r = strndup(l, strchrnul(l, '\n') - l);
        ck_assert_ptr_nonnull(r);
        return r;
}

unsigned test_count_lines(const char *text, const char *prefix) {
        size_t pl = strlen(prefix);
        unsigned n = 0;

        for (const char *l = text; l && *l;) {
                const char *eol = strchrnul(l, '\n');

                if ((size_t) (eol - l) >= pl && strncmp(l, prefix, pl) == 0)
                        n++;
                l = *eol ? eol + 1 : eol;
        }
        return n;
}

const char *test_root_user(void) {
        static char name[64];
        struct passwd *pw;

        if (!name[0]) {
                pw = getpwuid(0);
                ck_assert_msg(pw, "uid 0 has no name");
                ck_assert_uint_lt(strlen(pw->pw_name), sizeof name);
                strcpy(name, pw->pw_name);
        }
        return name;
}

const char *test_root_group(void) {
        static char name[64];
        struct group *gr;

        if (!name[0]) {
                gr = getgrgid(0);
                ck_assert_msg(gr, "gid 0 has no name");
                ck_assert_uint_lt(strlen(gr->gr_name), sizeof name);
                strcpy(name, gr->gr_name);
        }
        return name;
}

const char *test_other_user(void) {
        static char name[64];
        struct passwd *pw;

        if (!name[0]) {
                setpwent();
                while ((pw = getpwent()))
                        if (pw->pw_uid != 0 && user_group_name_is_valid(pw->pw_name) &&
                            strlen(pw->pw_name) < sizeof name) {
                                strcpy(name, pw->pw_name);
                                break;
                        }
                endpwent();
        }
        return name[0] ? name : NULL;
}

const char *test_other_group(void) {
        static char name[64];
        struct group *gr;

        if (!name[0]) {
                setgrent();
                while ((gr = getgrent()))
                        if (gr->gr_gid != 0 && user_group_name_is_valid(gr->gr_name) &&
                            strlen(gr->gr_name) < sizeof name) {
                                strcpy(name, gr->gr_name);
                                break;
                        }
                endgrent();
        }
        return name[0] ? name : NULL;
}
