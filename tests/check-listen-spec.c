/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "listen-spec.h"
#include "macro.h"
#include "test-util.h"

/* ---- listen_spec_parse ---- */

static const char *const good_specs[] = {
        "auto",
        "tcp:127.0.0.1:2368",
        "tcp:*:3000",
        "tcp:[::1]:8000",
        "tcp:[::]:1",
        "tcp:localhost:65535",
        "tcp:0.0.0.0:80",
        "unix:/var/lib/app/app.sock",
        "unix:/a",
};

START_TEST(test_parse_good) {
        ListenSpec spec;

        ck_assert_msg(listen_spec_parse(good_specs[_i], &spec) == 0, "'%s' refused", good_specs[_i]);
}
END_TEST

static const char *const bad_specs[] = {
        "",
        "Auto",
        "auto ",
        "3000",
        ":3000",
        "tcp:",
        "tcp:3000",             /* no host */
        "tcp::3000",            /* empty host */
        "tcp:*:0",              /* port 0: the kernel picks one, nothing to match */
        "tcp:*:65536",
        "tcp:*:-1",
        "tcp:*:+80",
        "tcp:*:80 ",
        "tcp:*:000080",         /* more than five digits */
        "tcp:*:",
        "tcp:example.com:80",   /* names other than localhost are not resolved */
        "tcp:1.2.3:80",
        "tcp:::1:8000",         /* IPv6 without brackets */
        "tcp:[::1:8000",
        "tcp:[::1]8000",
        "tcp:[1.2.3.4]:80",
        "tcp:[zz]:80",
        "udp:127.0.0.1:53",
        "unix:",
        "unix:relative.sock",
        "unix:@abstract",
        "unix:/with\nnewline",
        "unix:/with\ttab",
        "unix",
};

START_TEST(test_parse_bad) {
        ListenSpec spec;

        ck_assert_msg(listen_spec_parse(bad_specs[_i], &spec) == -EINVAL, "'%s' accepted", bad_specs[_i]);
}
END_TEST

START_TEST(test_parse_unix_length) {
        ListenSpec spec;
        char s[5 + sizeof spec.path + 1];

        /* sun_path holds 107 bytes and a NUL: 107 fit, 108 do not. */
        memcpy(s, "unix:/", 6);
        memset(s + 6, 'x', sizeof spec.path - 2);
        s[6 + sizeof spec.path - 2] = 0;
        ck_assert_int_eq(listen_spec_parse(s, &spec), 0);
        ck_assert_uint_eq(strlen(spec.path), sizeof spec.path - 1);
        s[6 + sizeof spec.path - 2] = 'x';
        s[6 + sizeof spec.path - 1] = 0;
        ck_assert_int_eq(listen_spec_parse(s, &spec), -EINVAL);
}
END_TEST

/* ---- listen_spec_matches: what an app's bind() must name to be adopted ---- */

static socklen_t make_in(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
        memset(ss, 0, sizeof *ss);
        if (strchr(ip, ':')) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
                return sizeof *in6;
        }
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
        return sizeof *in;
}

static const struct {
        const char *spec, *ip;
        uint16_t port;
        bool match;
} tcp_cases[] = {
        { "tcp:*:3000", "0.0.0.0", 3000, true },
        { "tcp:*:3000", "::", 3000, true },            /* Node's app.listen(3000) */
        { "tcp:*:3000", "127.0.0.1", 3000, true },
        { "tcp:*:3000", "10.1.2.3", 3000, true },
        { "tcp:*:3000", "0.0.0.0", 3001, false },
        { "tcp:127.0.0.1:2368", "127.0.0.1", 2368, true },
        { "tcp:127.0.0.1:2368", "::ffff:127.0.0.1", 2368, true },
        { "tcp:127.0.0.1:2368", "0.0.0.0", 2368, false }, /* a different bind: left alone */
        { "tcp:127.0.0.1:2368", "127.0.0.2", 2368, false },
        { "tcp:127.0.0.1:2368", "::1", 2368, false },
        { "tcp:localhost:80", "127.0.0.1", 80, true },
        { "tcp:localhost:80", "::1", 80, true },
        { "tcp:localhost:80", "::ffff:127.0.0.1", 80, true },
        { "tcp:localhost:80", "127.0.0.2", 80, false },
        { "tcp:localhost:80", "::", 80, false },
        { "tcp:[::1]:8000", "::1", 8000, true },
        { "tcp:[::1]:8000", "127.0.0.1", 8000, false },
        { "tcp:[::1]:8000", "::", 8000, false },
        { "tcp:[::]:8000", "::", 8000, true },
};

START_TEST(test_match_tcp) {
        struct sockaddr_storage ss;
        ListenSpec spec;
        socklen_t len;

        ck_assert_int_eq(listen_spec_parse(tcp_cases[_i].spec, &spec), 0);
        len = make_in(&ss, tcp_cases[_i].ip, tcp_cases[_i].port);
        ck_assert_msg(listen_spec_matches(&spec, (struct sockaddr *) &ss, len) == tcp_cases[_i].match,
                      "%s vs %s port %u", tcp_cases[_i].spec, tcp_cases[_i].ip, tcp_cases[_i].port);
        /* A truncated address never matches. */
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &ss, len - 1));
        ck_assert(!listen_spec_matches(&spec, NULL, len));
}
END_TEST

START_TEST(test_match_unix) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        socklen_t base = offsetof(struct sockaddr_un, sun_path);
        ListenSpec spec;

        ck_assert_int_eq(listen_spec_parse("unix:/var/lib/app/app.sock", &spec), 0);
        strcpy(un.sun_path, "/var/lib/app/app.sock");
        /* With and without the NUL in the length, as programs pass it either way. */
        ck_assert(listen_spec_matches(&spec, (struct sockaddr *) &un, base + strlen(un.sun_path) + 1));
        ck_assert(listen_spec_matches(&spec, (struct sockaddr *) &un, base + strlen(un.sun_path)));
        ck_assert(listen_spec_matches(&spec, (struct sockaddr *) &un, sizeof un));
        /* A prefix, a longer path, an unnamed and an abstract address: no. */
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &un, base + 5));
        strcpy(un.sun_path, "/var/lib/app/app.sock2");
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &un, sizeof un));
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &un, base));
        un.sun_path[0] = 0;
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &un, sizeof un));
        /* A unix spec never matches TCP, nor auto anything. */
        struct sockaddr_storage ss;
        socklen_t len = make_in(&ss, "127.0.0.1", 80);
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &ss, len));
        ck_assert_int_eq(listen_spec_parse("auto", &spec), 0);
        ck_assert(!listen_spec_matches(&spec, (struct sockaddr *) &ss, len));
}
END_TEST

/* ---- listen_address_format: what the journal shows ---- */

START_TEST(test_format) {
        struct sockaddr_storage ss;
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        socklen_t base = offsetof(struct sockaddr_un, sun_path);
        char buf[128], tiny[8];
        socklen_t len;

        len = make_in(&ss, "127.0.0.1", 2368);
        listen_address_format((struct sockaddr *) &ss, len, buf, sizeof buf);
        ck_assert_str_eq(buf, "tcp:127.0.0.1:2368");
        len = make_in(&ss, "::", 3000);
        listen_address_format((struct sockaddr *) &ss, len, buf, sizeof buf);
        ck_assert_str_eq(buf, "tcp:[::]:3000");
        strcpy(un.sun_path, "/run/x.sock");
        listen_address_format((struct sockaddr *) &un, base + strlen(un.sun_path), buf, sizeof buf);
        ck_assert_str_eq(buf, "unix:/run/x.sock");
        memcpy(un.sun_path, "\0abs", 4);
        listen_address_format((struct sockaddr *) &un, base + 4, buf, sizeof buf);
        ck_assert_str_eq(buf, "unix:@abs");
        listen_address_format((struct sockaddr *) &un, base, buf, sizeof buf);
        ck_assert_str_eq(buf, "unix:(unnamed)");
        listen_address_format(NULL, 0, buf, sizeof buf);
        ck_assert_str_eq(buf, "unknown");
        /* A small buffer truncates, always NUL-terminated. */
        len = make_in(&ss, "127.0.0.1", 2368);
        listen_address_format((struct sockaddr *) &ss, len, tiny, sizeof tiny);
        ck_assert_str_eq(tiny, "tcp:127");
}
END_TEST

Suite *listen_spec_suite(void) {
        Suite *s = suite_create("listen-spec");
        TCase *tc = tcase_create("listen-spec");

        tcase_add_loop_test(tc, test_parse_good, 0, (int) ELEMENTSOF(good_specs));
        tcase_add_loop_test(tc, test_parse_bad, 0, (int) ELEMENTSOF(bad_specs));
        tcase_add_test(tc, test_parse_unix_length);
        tcase_add_loop_test(tc, test_match_tcp, 0, (int) ELEMENTSOF(tcp_cases));
        tcase_add_test(tc, test_match_unix);
        tcase_add_test(tc, test_format);
        suite_add_tcase(s, tc);
        return s;
}
