/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "strv.h"
#include "test-util.h"

#define USEC_PER_MIN (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (3600 * USEC_PER_SEC)

/* ---- parse_duration / format_duration ---- */

static const struct {
        const char *s;
        usec_t usec;
} duration_good[] = {
        { "30", 30 * USEC_PER_SEC },
        { "0", 0 },
        { "30s", 30 * USEC_PER_SEC },
        { "30 s", 30 * USEC_PER_SEC },
        { "30sec", 30 * USEC_PER_SEC },
        { "500ms", 500 * USEC_PER_MSEC },
        { "500msec", 500 * USEC_PER_MSEC },
        { "2min", 2 * USEC_PER_MIN },
        { "2m", 2 * USEC_PER_MIN },
        { "1min 30s", 90 * USEC_PER_SEC },
        { "1min30s", 90 * USEC_PER_SEC },
        { "  1min\t30s  ", 90 * USEC_PER_SEC },
        { "1h", USEC_PER_HOUR },
        { "1hr", USEC_PER_HOUR },
        { "2h 1min 1s 1ms 1us", 2 * USEC_PER_HOUR + USEC_PER_MIN + USEC_PER_SEC + USEC_PER_MSEC + 1 },
        { "7us", 7 },
        { "7usec", 7 },
        { "1s 500ms", 1500 * USEC_PER_MSEC },
        { "1 2", 3 * USEC_PER_SEC }, /* a bare number is seconds, also the second one */
        { "18446744073709551614us", UINT64_MAX - 1 },
        { "5124095576h", 5124095576ULL * USEC_PER_HOUR }, /* the most hours that fit */
};

START_TEST(test_parse_duration_good) {
        for (size_t i = 0; i < ELEMENTSOF(duration_good); i++) {
                usec_t u = 4242;
                int r = parse_duration(duration_good[i].s, &u);

                ck_assert_msg(r == 0, "'%s': %d", duration_good[i].s, r);
                ck_assert_msg(u == duration_good[i].usec, "'%s': %llu, expected %llu", duration_good[i].s,
                              (unsigned long long) u, (unsigned long long) duration_good[i].usec);
        }
}
END_TEST

static const struct {
        const char *s;
        int r;
} duration_bad[] = {
        { "", -EINVAL },
        { "   ", -EINVAL },
        { "s", -EINVAL },
        { "ms", -EINVAL },
        { "-1", -EINVAL },
        { "+1", -EINVAL },
        { "10 parsecs", -EINVAL },
        { "10x", -EINVAL },
        { "abc", -EINVAL },
        { "1.5s", -EINVAL },
        { "30s,", -EINVAL },
        { "1min -30s", -EINVAL },
        { "5S", -EINVAL },
        { "infinity", -EINVAL },
        { "99999999999999999999", -ERANGE },        /* does not fit 64 bits */
        { "18446744073709551615us", -ERANGE },      /* would be USEC_INFINITY */
        { "18446744073710s", -ERANGE },             /* overflows when scaled */
        { "5124095577h", -ERANGE },
        { "18446744073709551614us 1us", -ERANGE },  /* overflows when summed */
};

START_TEST(test_parse_duration_bad) {
        for (size_t i = 0; i < ELEMENTSOF(duration_bad); i++) {
                usec_t u = 4242;
                int r = parse_duration(duration_bad[i].s, &u);

                ck_assert_msg(r == duration_bad[i].r, "'%s': %d, expected %d", duration_bad[i].s, r, duration_bad[i].r);
                ck_assert_msg(u == 4242, "'%s': output written on failure", duration_bad[i].s);
        }
        ck_assert_int_eq(parse_duration(NULL, &(usec_t) { 0 }), -EINVAL);
}
END_TEST

START_TEST(test_format_duration) {
        static const struct {
                usec_t u;
                const char *s;
        } cases[] = {
                { 0, "0s" },
                { 30 * USEC_PER_SEC, "30s" },
                { 90 * USEC_PER_SEC, "90s" },
                { 500 * USEC_PER_MSEC, "500ms" },
                { 1500 * USEC_PER_MSEC, "1500ms" },
                { 7, "7us" },
                { 1000001, "1000001us" },
                { USEC_INFINITY, "infinity" },
        };
        static const usec_t round_trips[] = {
                0, 1, 999, USEC_PER_MSEC, 500 * USEC_PER_MSEC, USEC_PER_SEC, 90 * USEC_PER_SEC, USEC_PER_HOUR,
                24 * USEC_PER_HOUR + 1, 123456789, UINT64_MAX - 1,
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = format_duration(cases[i].u);
                ck_assert_str_eq(s, cases[i].s);
        }
        for (size_t i = 0; i < ELEMENTSOF(round_trips); i++) {
                _cleanup_free_ char *s = format_duration(round_trips[i]);
                usec_t u = 0;

                ck_assert_ptr_nonnull(s);
                ck_assert_msg(parse_duration(s, &u) == 0, "'%s' does not parse back", s);
                ck_assert_msg(u == round_trips[i], "'%s' parsed back as %llu, not %llu", s, (unsigned long long) u,
                              (unsigned long long) round_trips[i]);
        }
}
END_TEST

/* ---- numbers, modes, booleans ---- */

START_TEST(test_parse_mode) {
        static const struct {
                const char *s;
                int r;
                mode_t m;
        } cases[] = {
                { "0660", 0, 0660 },   { "660", 0, 0660 },      { "2750", 0, 02750 },  { "0", 0, 0 },
                { "07777", 0, 07777 }, { "0000", 0, 0 },        { "777", 0, 0777 },    { "17777", -ERANGE, 0 },
                { "77777", -ERANGE, 0 }, { "999", -EINVAL, 0 }, { "0668", -EINVAL, 0 }, { "abc", -EINVAL, 0 },
                { "", -EINVAL, 0 },    { "000000", -EINVAL, 0 }, { "-660", -EINVAL, 0 }, { "+660", -EINVAL, 0 },
                { " 660", -EINVAL, 0 }, { "660 ", -EINVAL, 0 }, { "0x1ff", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                mode_t m = 01234;
                int r = parse_mode(cases[i].s, &m);

                ck_assert_msg(r == cases[i].r, "'%s': %d, expected %d", cases[i].s, r, cases[i].r);
                ck_assert_msg(m == (r == 0 ? cases[i].m : 01234), "'%s': mode %o", cases[i].s, (unsigned) m);
        }
        ck_assert_int_eq(parse_mode(NULL, &(mode_t) { 0 }), -EINVAL);
}
END_TEST

START_TEST(test_parse_uint_range) {
        static const struct {
                const char *s;
                unsigned min, max;
                int r;
                unsigned v;
        } cases[] = {
                { "1", 1, 1024, 0, 1 },
                { "1024", 1, 1024, 0, 1024 },
                { "0007", 1, 10, 0, 7 },
                { "0", 0, 5, 0, 0 },
                { "4294967295", 0, 4294967295U, 0, 4294967295U },
                { "0", 1, 1024, -ERANGE, 0 },
                { "1025", 1, 1024, -ERANGE, 0 },
                { "4294967296", 0, 4294967295U, -ERANGE, 0 },
                { "99999999999999999999999", 0, 4294967295U, -ERANGE, 0 },
                { "", 0, 10, -EINVAL, 0 },
                { "abc", 0, 10, -EINVAL, 0 },
                { "-1", 0, 10, -EINVAL, 0 },
                { "+1", 0, 10, -EINVAL, 0 },
                { " 1", 0, 10, -EINVAL, 0 },
                { "1 ", 0, 10, -EINVAL, 0 },
                { "1.0", 0, 10, -EINVAL, 0 },
                { "0x10", 0, 100, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned v = 4242;
                int r = parse_uint_range(cases[i].s, cases[i].min, cases[i].max, &v);

                ck_assert_msg(r == cases[i].r, "'%s' in [%u, %u]: %d, expected %d", cases[i].s, cases[i].min,
                              cases[i].max, r, cases[i].r);
                ck_assert_msg(v == (r == 0 ? cases[i].v : 4242), "'%s': %u", cases[i].s, v);
        }
        ck_assert_int_eq(parse_uint_range(NULL, 0, 10, &(unsigned) { 0 }), -EINVAL);
}
END_TEST

/* ---- strings ---- */

START_TEST(test_expand_worker) {
        static const struct {
                const char *s, *r, *out;
        } cases[] = {
                { "app.{worker}.sock", "3", "app.3.sock" },
                { "{worker}-{worker}/{worker}", "12", "12-12/12" },
                { "{worker}{worker}", "%i", "%i%i" },
                { "app.sock", "3", "app.sock" },
                { "", "3", "" },
                { "{worker", "3", "{worker" },
                { "{Worker}", "3", "{Worker}" },
                { "{{worker}}", "7", "{7}" },
                { "a{worker}b", "", "ab" },
                { "{worker}", "{worker}", "{worker}" }, /* not expanded again */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = expand_worker(cases[i].s, cases[i].r);
                ck_assert_msg(s && streq(s, cases[i].out), "'%s' with '%s': '%s', expected '%s'", cases[i].s,
                              cases[i].r, strempty(s), cases[i].out);
        }
}
END_TEST

START_TEST(test_escape_specifiers) {
        static const struct {
                const char *s, *out;
        } cases[] = {
                { "100%", "100%%" },
                { "%i", "%%i" },
                { "%%", "%%%%" },
                { "no specifiers", "no specifiers" },
                { "", "" },
                { "a%b%c", "a%%b%%c" },
                { "$HOME\\x", "$HOME\\x" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = escape_specifiers(cases[i].s);
                ck_assert_msg(s && streq(s, cases[i].out), "'%s': '%s', expected '%s'", cases[i].s, strempty(s),
                              cases[i].out);
        }
}
END_TEST

/* ---- validators ---- */

START_TEST(test_unit_prefix_is_valid) {
        static const char *const good[] = { "myapp", "a", "my-app", "my_app", "app.v2", "A1" };
        static const char *const bad[] = { "", ".app", "-app", "my app", "my@app", "my/app", "my\\app", "app%i",
                                           "app\n", "é", "my:app", "1app" };
        _cleanup_free_ char *max = malloc(33);

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(unit_prefix_is_valid(good[i]), "'%s' rejected", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!unit_prefix_is_valid(bad[i]), "'%s' accepted", bad[i]);
        ck_assert(!unit_prefix_is_valid(NULL));

        ck_assert_ptr_nonnull(max);
        /* 31: the name may become a DynamicUser= name. */
        memset(max, 'a', 31);
        max[31] = 0;
        ck_assert(unit_prefix_is_valid(max));
        max[31] = 'a';
        max[32] = 0;
        ck_assert(!unit_prefix_is_valid(max));
}
END_TEST

START_TEST(test_env_name_is_valid) {
        static const char *const good[] = { "A", "_", "_A", "A1", "NODE_ENV", "lower", "a_B_9" };
        static const char *const bad[] = { "", "1A", "A-B", "A=B", "A B", "A.B", "Ä", "$A" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(env_name_is_valid(good[i]), "'%s' rejected", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!env_name_is_valid(bad[i]), "'%s' accepted", bad[i]);
        ck_assert(!env_name_is_valid(NULL));
}
END_TEST

START_TEST(test_env_assignment_is_valid) {
        static const char *const good[] = { "A=b", "A=", "A=b=c", "A=b c", "A=b\tc", "_X=\"quoted\"", "A=ünïcode" };
        static const char *const bad[] = { "A", "", "=b", "1A=b", "A-B=c", "A B=c", "A=b\nc", "A=\x1b[0m", "A=b\r" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(env_assignment_is_valid(good[i]), "'%s' rejected", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!env_assignment_is_valid(bad[i]), "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_paths) {
        static const char *const good[] = { "/", "/a", "/a/b", "/a/.b", "/a/..b", "/a/b.", "/...", "/a b" };
        static const char *const bad[] = { "", "a", "/a/b/", "a/b", "./a", "//a", "/a//b", "/a/..", "/a/../b", "/..", "/.",
                                           "/a/.", "/a/./b", "/a\\b", "/a\nb", "/a\tb" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(path_is_normalized_absolute(good[i]), "'%s' rejected", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!path_is_normalized_absolute(bad[i]), "'%s' accepted", bad[i]);
        ck_assert(!path_is_normalized_absolute(NULL));

        ck_assert(path_is_absolute("/"));
        ck_assert(path_is_absolute("/a/../b"));
        ck_assert(!path_is_absolute("a"));
        ck_assert(!path_is_absolute(""));
        ck_assert(!path_is_absolute(NULL));
}
END_TEST

START_TEST(test_user_group_name_is_valid) {
        static const char *const good[] = { "root", "www-data", "_apt", "a.b", "systemd-network", "A", "u1" };
        static const char *const bad[] = { "", "1abc", "-x", "a b", "a:b", "a/b", "a$", "né", "a@b" };
        char name[33];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(user_group_name_is_valid(good[i]), "'%s' rejected", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!user_group_name_is_valid(bad[i]), "'%s' accepted", bad[i]);
        ck_assert(!user_group_name_is_valid(NULL));

        memset(name, 'u', 31);
        name[31] = 0;
        ck_assert(user_group_name_is_valid(name));
        name[31] = 'u';
        name[32] = 0;
        ck_assert(!user_group_name_is_valid(name));
}
END_TEST

/* ---- strv ---- */

START_TEST(test_strv) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *j = NULL, *j0 = NULL, *j1 = NULL;
        size_t n = 0;

        ck_assert_uint_eq(strv_length(NULL), 0);
        ck_assert(!strv_contains(NULL, "a"));
        ck_assert_ptr_null(strv_free(NULL));
        j0 = strv_join(NULL, ", ");
        ck_assert_str_eq(j0, "");

        ck_assert_int_eq(strv_extend(&l, "a"), 0);
        ck_assert_uint_eq(strv_length(l), 1);
        j1 = strv_join(l, ", ");
        ck_assert_str_eq(j1, "a");

        ck_assert_int_eq(strv_extend(&l, "bb"), 0);
        ck_assert_int_eq(strv_consume(&l, strdup("")), 0);
        ck_assert_int_eq(strv_extend(&l, "a"), 0);
        ck_assert_uint_eq(strv_length(l), 4);
        ck_assert_ptr_null(l[4]);
        ck_assert_str_eq(l[0], "a");
        ck_assert_str_eq(l[1], "bb");
        ck_assert_str_eq(l[2], "");
        ck_assert_str_eq(l[3], "a");

        ck_assert(strv_contains(l, "bb"));
        ck_assert(strv_contains(l, ""));
        ck_assert(!strv_contains(l, "b"));
        ck_assert(!strv_contains(l, "bbb"));

        j = strv_join(l, ", ");
        ck_assert_str_eq(j, "a, bb, , a");
        free(j);
        j = strv_join(l, "");
        ck_assert_str_eq(j, "abba");

        STRV_FOREACH(s, l)
                n++;
        ck_assert_uint_eq(n, 4);
        n = 0;
        STRV_FOREACH(s, (char **) NULL)
                n++;
        ck_assert_uint_eq(n, 0);

        /* strv_consume() takes ownership also on failure; NULL means the caller's strdup() failed. */
        ck_assert_int_eq(strv_consume(&l, NULL), -ENOMEM);
        ck_assert_uint_eq(strv_length(l), 4);

        l = strv_free(l);
        ck_assert_ptr_null(l);
}

START_TEST(test_strv_equal) {
        char *ab[] = { (char *) "a", (char *) "b", NULL }, *ab2[] = { (char *) "a", (char *) "b", NULL },
             *ba[] = { (char *) "b", (char *) "a", NULL }, *a[] = { (char *) "a", NULL }, *none[] = { NULL };

        ck_assert(strv_equal(ab, ab2));
        ck_assert(!strv_equal(ab, ba));
        ck_assert(!strv_equal(ab, a));
        ck_assert(!strv_equal(a, ab));
        ck_assert(strv_equal(NULL, none));
        ck_assert(!strv_equal(NULL, a));
}
END_TEST

/* diff OLD NEW: what sockdctl restart --dry-run says of an Environment= edit. */
static void assert_env_diff(char *const *old, char *const *new, const char *want) {
        _cleanup_free_ char *d = strv_env_diff(old, new);

        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(d, want);
}

START_TEST(test_strv_env) {
        char *old[] = { (char *) "A=1", (char *) "B=x", (char *) "B=2", (char *) "GONE=s3cret", NULL };
        char *new[] = { (char *) "B=2", (char *) "A=10", (char *) "NEW=", (char *) "B=3", (char *) "B=2", NULL };
        char *odd[] = { (char *) "NOEQUALS", (char *) "=v", (char *) "A=1", NULL };

        /* Names only, never a value; B's earlier assignments in either list do not count. */
        assert_env_diff(old, new, "A changed, NEW added, GONE removed");
        assert_env_diff(new, old, "A changed, GONE added, NEW removed");
        assert_env_diff(old, old, "");
        assert_env_diff(NULL, NULL, "");
        assert_env_diff(NULL, old, "A added, B added, GONE added");
        assert_env_diff(old, NULL, "A removed, B removed, GONE removed");
        /* An empty value is a value: "NEW=" against no NEW at all. */
        assert_env_diff(new, (char *[]) { (char *) "B=2", (char *) "A=10", NULL }, "NEW removed");
        /* What is not an assignment of a name is no name. */
        assert_env_diff(odd, (char *[]) { (char *) "A=1", NULL }, "");
        assert_env_diff((char *[]) { (char *) "A=1", NULL }, odd, "");
        /* A name is a whole name, not a prefix of another. */
        assert_env_diff((char *[]) { (char *) "GONE=1", NULL }, (char *[]) { (char *) "G=1", (char *) "GONE=1", NULL },
                        "G added");
        assert_env_diff((char *[]) { (char *) "G=1", (char *) "GONE=1", NULL }, (char *[]) { (char *) "GONE=2", NULL },
                        "GONE changed, G removed");
}
END_TEST
END_TEST

/* ---- command lines, as systemd's ExecStart= reads them ---- */

START_TEST(test_exec_split_good) {
        static const struct {
                const char *line;
                const char *argv[6];
        } cases[] = {
                { "/usr/bin/node server.js", { "/usr/bin/node", "server.js" } },
                { "  /bin/true  ", { "/bin/true" } },
                { "/bin/sh -c \"exec app ; echo done\"", { "/bin/sh", "-c", "exec app ; echo done" } },
                { "/bin/sh -c 'a \"b\" c'", { "/bin/sh", "-c", "a \"b\" c" } },
                { "\"/opt/my app/run\" --x", { "/opt/my app/run", "--x" } },
                { "/bin/echo a\"b c\"d", { "/bin/echo", "ab cd" } },
                { "/bin/echo \"\\\"quoted\\\"\"", { "/bin/echo", "\"quoted\"" } },
                { "/bin/echo \\x41\\101\\u00e9\\s", { "/bin/echo", "AA\xc3\xa9 " } },
                { "/bin/echo \"\"", { "/bin/echo", "" } },
                { "/bin/echo\ttab", { "/bin/echo", "tab" } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_free_ char *error = NULL;
                size_t n = 0;

                ck_assert_msg(exec_split(cases[i].line, &argv, &error) == 0, "'%s': %s", cases[i].line, strempty(error));
                ck_assert_ptr_null(error);
                while (cases[i].argv[n])
                        n++;
                ck_assert_msg(strv_length(argv) == n, "'%s': %zu words", cases[i].line, strv_length(argv));
                for (size_t j = 0; j < n; j++)
                        ck_assert_msg(streq(argv[j], cases[i].argv[j]), "'%s': word %zu is '%s', expected '%s'",
                                      cases[i].line, j, argv[j], cases[i].argv[j]);
        }
}
END_TEST

START_TEST(test_exec_split_bad) {
        static const struct {
                const char *line, *error;
        } cases[] = {
                { "/bin/sh -c \"exec app", "has a double quote (\") that is never closed" },
                { "/bin/sh -c 'exec app", "has a single quote (') that is never closed" },
                { "/bin/echo \\q", "has an escape systemd does not know, '\\q'" },
                { "/bin/echo \\x4", "has an escape systemd does not know" },
                { "/bin/echo \\x00", "has an escape systemd does not know" },
                { "/bin/echo \\", "ends in a backslash" },
                { "", "has no command" },
                { "   ", "has no command" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_free_ char *error = NULL;

                ck_assert_msg(exec_split(cases[i].line, &argv, &error) == -EINVAL, "'%s' was accepted", cases[i].line);
                ck_assert_ptr_null(argv);
                ck_assert_msg(error && strncmp(error, cases[i].error, strlen(cases[i].error)) == 0,
                              "'%s': '%s' does not start with '%s'", cases[i].line, strempty(error), cases[i].error);
        }
}
END_TEST

START_TEST(test_escape_for_terminal) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain text, \xc3\xa9t\xc3\xa9", "plain text, \xc3\xa9t\xc3\xa9" },
                { "\x1b]0;owned\x07", "\\x1b]0;owned\\x07" },
                { "line\nnext\ttab", "line\\x0anext\\x09tab" },
                { "del\x7f", "del\\x7f" },
                { "csi\xc2\x9b" "2J", "csi\\xc2\\x9b2J" },
                { "nbsp\xc2\xa0ok", "nbsp\xc2\xa0ok" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = escape_for_terminal(cases[i].in);
                ck_assert_msg(e && streq(e, cases[i].out), "'%s' -> '%s', expected '%s'", cases[i].in, strempty(e),
                              cases[i].out);
        }
        _cleanup_free_ char *e = escape_for_terminal(NULL);
        ck_assert_str_eq(e, "");
}
END_TEST

Suite *parse_suite(void) {
        Suite *s = suite_create("parse");
        TCase *tc;

        tc = tcase_create("duration");
        tcase_add_test(tc, test_parse_duration_good);
        tcase_add_test(tc, test_parse_duration_bad);
        tcase_add_test(tc, test_format_duration);
        suite_add_tcase(s, tc);

        tc = tcase_create("numbers");
        tcase_add_test(tc, test_parse_mode);
        tcase_add_test(tc, test_parse_uint_range);
        suite_add_tcase(s, tc);

        tc = tcase_create("strings");
        tcase_add_test(tc, test_expand_worker);
        tcase_add_test(tc, test_escape_specifiers);
        suite_add_tcase(s, tc);

        tc = tcase_create("validators");
        tcase_add_test(tc, test_unit_prefix_is_valid);
        tcase_add_test(tc, test_env_name_is_valid);
        tcase_add_test(tc, test_env_assignment_is_valid);
        tcase_add_test(tc, test_paths);
        tcase_add_test(tc, test_user_group_name_is_valid);
        suite_add_tcase(s, tc);

        tc = tcase_create("exec");
        tcase_add_test(tc, test_exec_split_good);
        tcase_add_test(tc, test_exec_split_bad);
        tcase_add_test(tc, test_escape_for_terminal);
        suite_add_tcase(s, tc);

        tc = tcase_create("strv");
        tcase_add_test(tc, test_strv);
        tcase_add_test(tc, test_strv_equal);
        tcase_add_test(tc, test_strv_env);
        suite_add_tcase(s, tc);

        return s;
}
