/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "node-ipc.h"
#include "notify-msg.h"
#include "test-util.h"

/* ---- notify_message_parse ---- */

static NotifyMessage parse_ok(const char *s) {
        NotifyMessage m = { .ready = true, .stopping = true, .watchdog = true };
        int r = notify_message_parse(s, strlen(s), &m);

        ck_assert_msg(r == 0, "'%s': %d", s, r);
        return m;
}

START_TEST(test_notify_single) {
        NotifyMessage m;

        m = parse_ok("READY=1");
        ck_assert(m.ready);
        ck_assert(!m.stopping && !m.watchdog);
        ck_assert_ptr_null(m.status);

        m = parse_ok("READY=1\n");
        ck_assert(m.ready);

        m = parse_ok("STOPPING=1\n");
        ck_assert(m.stopping);
        ck_assert(!m.ready && !m.watchdog);

        m = parse_ok("WATCHDOG=1");
        ck_assert(m.watchdog);
        ck_assert(!m.ready && !m.stopping);

        m = parse_ok("X_SOCKD_PARK=1");
        ck_assert(m.sockd_park);
        ck_assert(!m.ready && !m.stopping && !m.watchdog);
        m = parse_ok("X_SOCKD_PARK=0\nX_SOCKD_PARK=11\nX_SOCKD_PARK=");
        ck_assert(!m.sockd_park);

        m = parse_ok("RELOADING=1"); /* not ours to act on */
        ck_assert(!m.ready && !m.stopping && !m.watchdog);

        m = parse_ok("STATUS=Serving 3 requests");
        ck_assert(!m.ready);
        ck_assert_str_eq(m.status, "Serving 3 requests");
        notify_message_done(&m);
        ck_assert_ptr_null(m.status);
        ck_assert(!m.ready);

        m = parse_ok("STATUS=");
        ck_assert_str_eq(m.status, "");
        notify_message_done(&m);
}
END_TEST

START_TEST(test_notify_several_lines) {
        NotifyMessage m;

        m = parse_ok("STATUS=Starting\nMAINPID=42\nREADY=1\nFOO=bar\nSTATUS=Ready: 1=2\n");
        ck_assert(m.ready);
        ck_assert(!m.stopping);
        ck_assert_str_eq(m.status, "Ready: 1=2"); /* the last STATUS= wins */
        notify_message_done(&m);

        m = parse_ok("STOPPING=1\nSTATUS=Draining");
        ck_assert(m.stopping);
        ck_assert(!m.ready);
        ck_assert_str_eq(m.status, "Draining");
        notify_message_done(&m);

        m = parse_ok("\n\nREADY=1\n\n");
        ck_assert(m.ready);
        notify_message_done(&m);
}
END_TEST

START_TEST(test_notify_not_ready) {
        static const char *const cases[] = {
                "READY=0", "READY=", "READY=10", "READY=1 ", " READY=1", "ready=1", "READY", "XREADY=1",
                "FOO=bar", "\n", "STATUSX=1", "MAINPID=1\nERRNO=2",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NotifyMessage m = parse_ok(cases[i]);

                ck_assert_msg(!m.ready && !m.stopping && !m.watchdog, "'%s' set a flag", cases[i]);
                ck_assert_msg(!m.status, "'%s' set a status", cases[i]);
        }
}
END_TEST

START_TEST(test_notify_bad) {
        static const char nul[] = "READY=1\0STATUS=x";
        static const char nul_end[] = "READY=1\n";
        NotifyMessage m = { .status = (char *) "untouched" };

        ck_assert_int_eq(notify_message_parse(nul, sizeof nul - 1, &m), -EBADMSG);
        ck_assert_str_eq(m.status, "untouched");
        /* The NUL terminator counted in: still a NUL byte. */
        ck_assert_int_eq(notify_message_parse(nul_end, sizeof nul_end, &m), -EBADMSG);
        ck_assert_int_eq(notify_message_parse("", 0, &m), -EBADMSG);
        ck_assert_int_eq(notify_message_parse("READY=1", 0, &m), -EBADMSG);
        ck_assert_str_eq(m.status, "untouched");

        /* @len bounds the message: no NUL needed at the end. */
        ck_assert_int_eq(notify_message_parse("READY=1XXXX", 7, &m), 0);
        ck_assert(m.ready);
        ck_assert_ptr_null(m.status);
}
END_TEST

/* ---- node-ipc ---- */

static int next(NodeIpcReader *r, char **s) {
        *s = (char *) "untouched";
        return node_ipc_reader_next(r, s);
}

static void feed(NodeIpcReader *r, const char *s) {
        ck_assert_int_eq(node_ipc_reader_feed(r, s, strlen(s)), 0);
}

static void assert_next_string(NodeIpcReader *r, const char *expected) {
        char *s;
        int k = next(r, &s);

        ck_assert_msg(k == 1, "expected a line, got %d", k);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, expected);
        free(s);
}

static void assert_next_other(NodeIpcReader *r) {
        char *s;

        ck_assert_int_eq(next(r, &s), 1);
        ck_assert_ptr_null(s);
}

static void assert_next_none(NodeIpcReader *r) {
        char *s;

        ck_assert_int_eq(next(r, &s), 0);
}

START_TEST(test_reader_split_chunks) {
        NodeIpcReader r = {};

        assert_next_none(&r);
        feed(&r, "\"onl");
        assert_next_none(&r);
        feed(&r, "ine");
        assert_next_none(&r);
        feed(&r, "\"");
        assert_next_none(&r);
        feed(&r, "\n\"shut");
        assert_next_string(&r, "online");
        assert_next_none(&r);
        feed(&r, "down\"\n");
        assert_next_string(&r, "shutdown");
        assert_next_none(&r);
        ck_assert_uint_eq(r.len, 0);

        /* Byte by byte. */
        for (const char *p = "\"resume\"\n"; *p; p++) {
                assert_next_none(&r);
                ck_assert_int_eq(node_ipc_reader_feed(&r, p, 1), 0);
        }
        assert_next_string(&r, "resume");
        assert_next_none(&r);

        node_ipc_reader_done(&r);
        ck_assert_ptr_null(r.buf);
        ck_assert_uint_eq(r.len, 0);
        node_ipc_reader_done(&r);
}
END_TEST

START_TEST(test_reader_several_lines) {
        NodeIpcReader r = {};

        feed(&r, "\"a\"\n{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\"}\n\"b\"\r\n  \"c\" \t\n\n[1,2]\n42\n\"d");
        assert_next_string(&r, "a");
        assert_next_other(&r); /* Node's internal messages are objects */
        assert_next_string(&r, "b");
        assert_next_string(&r, "c");
        assert_next_other(&r); /* an empty line */
        assert_next_other(&r);
        assert_next_other(&r);
        assert_next_none(&r);
        feed(&r, "\"\n");
        assert_next_string(&r, "d");
        assert_next_none(&r);
        node_ipc_reader_done(&r);
}
END_TEST

START_TEST(test_reader_escapes) {
        NodeIpcReader r = {};

        feed(&r, "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"\n");
        assert_next_string(&r, "a\"b\\c/d\be\ff\ng\rh\ti");
        feed(&r, "\"\\u0041\\u00e9\\u20AC\\uffff\"\n");
        assert_next_string(&r, "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
        feed(&r, "\"\\ud83d\\ude00!\"\n"); /* U+1F600 as a surrogate pair */
        assert_next_string(&r, "\xf0\x9f\x98\x80!");
        feed(&r, "\"\\uDBFF\\uDFFF\"\n"); /* U+10FFFF */
        assert_next_string(&r, "\xf4\x8f\xbf\xbf");
        feed(&r, "\"raw \xc3\xa9 utf-8\"\n");
        assert_next_string(&r, "raw \xc3\xa9 utf-8");
        feed(&r, "\"\"\n");
        assert_next_string(&r, "");
        node_ipc_reader_done(&r);
}
END_TEST

static const char *const malformed[] = {
        "\"abc",            /* no closing quote */
        "\"",               /* a lone quote */
        "\"a\"b\"",         /* a quote inside */
        "\"a\"  x",         /* garbage after the string */
        "\"a\\x\"",         /* unknown escape */
        "\"a\\\"",          /* escaped closing quote */
        "\"a\\",            /* trailing backslash */
        "\"\\u12\"",        /* short \u */
        "\"\\u12G4\"",      /* not hex */
        "\"\\ud83d\"",      /* lone high surrogate */
        "\"\\ud83dx\"",     /* high surrogate, then text */
        "\"\\ud83d\\u0041\"", /* high surrogate, then not a low one */
        "\"\\ude00\"",      /* lone low surrogate */
        "\"\\u0000\"",      /* would cut the C string */
        "\"a\tb\"",         /* raw control character */
        "\"a\001b\"",      /* raw control character */
};

START_TEST(test_reader_nul_is_not_blank) {
        static const char line[] = "\0\"x\"\0\n";
        NodeIpcReader r = {};
        char *msg = (char *) "untouched";

        ck_assert_int_eq(node_ipc_reader_feed(&r, line, sizeof line - 1), 0);
        ck_assert_int_eq(node_ipc_reader_next(&r, &msg), 1);
        ck_assert_ptr_null(msg); /* not taken for the string "x" */
        node_ipc_reader_done(&r);
}
END_TEST

START_TEST(test_reader_malformed) {
        NodeIpcReader r = {};
        char *s;

        for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
                _cleanup_free_ char *line = NULL;

                ck_assert_int_ge(asprintf(&line, "%s\n\"ok%zu\"\n", malformed[i], i), 0);
                feed(&r, line);
                ck_assert_msg(next(&r, &s) == -EBADMSG, "'%s' accepted", malformed[i]);
                /* The bad line is consumed: the next one reads fine. */
                {
                        _cleanup_free_ char *ok = NULL;
                        ck_assert_int_ge(asprintf(&ok, "ok%zu", i), 0);
                        assert_next_string(&r, ok);
                }
                assert_next_none(&r);

                /* The same through json_string_decode() directly. */
                s = (char *) "untouched";
                ck_assert_msg(json_string_decode(malformed[i], strlen(malformed[i]), &s) == -EBADMSG, "'%s' decoded",
                              malformed[i]);
                ck_assert_str_eq(s, "untouched");
        }
        node_ipc_reader_done(&r);
}
END_TEST

START_TEST(test_json_string_decode) {
        char *s = NULL;

        ck_assert_int_eq(json_string_decode("\"online\"", 8, &s), 0);
        ck_assert_str_eq(s, "online");
        free(s);
        /* @len bounds the literal. */
        ck_assert_int_eq(json_string_decode("\"on\"line\"", 4, &s), 0);
        ck_assert_str_eq(s, "on");
        free(s);
        ck_assert_int_eq(json_string_decode("\"\"", 2, &s), 0);
        ck_assert_str_eq(s, "");
        free(s);
        s = (char *) "untouched";
        ck_assert_int_eq(json_string_decode("online", 6, &s), -EBADMSG);
        ck_assert_int_eq(json_string_decode("", 0, &s), -EBADMSG);
        ck_assert_str_eq(s, "untouched");
}
END_TEST

START_TEST(test_reader_too_long) {
        NodeIpcReader r = {};
        char chunk[4096];
        size_t total = 0;
        char *s;

        memset(chunk, 'a', sizeof chunk);
        while (total + sizeof chunk <= NODE_IPC_LINE_MAX) {
                ck_assert_int_eq(node_ipc_reader_feed(&r, chunk, sizeof chunk), 0);
                total += sizeof chunk;
        }
        ck_assert_uint_eq(total, NODE_IPC_LINE_MAX);
        /* One more byte without a newline: the line is too long. */
        ck_assert_int_eq(node_ipc_reader_feed(&r, "a", 1), -E2BIG);
        ck_assert_int_eq(node_ipc_reader_feed(&r, chunk, sizeof chunk), -E2BIG);
        ck_assert_uint_eq(r.len, NODE_IPC_LINE_MAX);
        assert_next_none(&r);

        /* The newline that ends it is still taken, and the line read as non-string. */
        ck_assert_int_eq(node_ipc_reader_feed(&r, "\n", 1), 0);
        ck_assert_int_eq(next(&r, &s), 1);
        ck_assert_ptr_null(s);
        ck_assert_uint_eq(r.len, 0);
        node_ipc_reader_done(&r);

        /* A long partial line after complete ones counts on its own. */
        feed(&r, "\"x\"\n");
        for (total = 0; total + sizeof chunk <= NODE_IPC_LINE_MAX; total += sizeof chunk)
                ck_assert_int_eq(node_ipc_reader_feed(&r, chunk, sizeof chunk), 0);
        assert_next_string(&r, "x");
        ck_assert_int_eq(node_ipc_reader_feed(&r, "b", 1), -E2BIG);
        node_ipc_reader_done(&r);
}
END_TEST

START_TEST(test_encode) {
        static const char *const words[] = { "shutdown", "resume", "online", "", "with space", "caf\xc3\xa9" };
        static const char *const bad[] = { "a\"b", "a\\b", "a\nb", "a\tb", "\x01" };

        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                _cleanup_free_ char *e = node_ipc_encode(words[i]), *expected = NULL;
                NodeIpcReader r = {};

                ck_assert_int_ge(asprintf(&expected, "\"%s\"\n", words[i]), 0);
                ck_assert_pstr_eq(e, expected);
                /* What we write reads back as the same string. */
                feed(&r, e);
                assert_next_string(&r, words[i]);
                assert_next_none(&r);
                node_ipc_reader_done(&r);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!node_ipc_encode(bad[i]), "'%s' encoded", bad[i]);
}
END_TEST

Suite *notify_suite(void) {
        Suite *s = suite_create("notify");
        TCase *tc;

        tc = tcase_create("notify-message");
        tcase_add_test(tc, test_notify_single);
        tcase_add_test(tc, test_notify_several_lines);
        tcase_add_test(tc, test_notify_not_ready);
        tcase_add_test(tc, test_notify_bad);
        suite_add_tcase(s, tc);

        tc = tcase_create("node-ipc");
        tcase_add_test(tc, test_reader_split_chunks);
        tcase_add_test(tc, test_reader_several_lines);
        tcase_add_test(tc, test_reader_escapes);
        tcase_add_test(tc, test_reader_malformed);
        tcase_add_test(tc, test_reader_nul_is_not_blank);
        tcase_add_test(tc, test_json_string_decode);
        tcase_add_test(tc, test_reader_too_long);
        tcase_add_test(tc, test_encode);
        suite_add_tcase(s, tc);

        return s;
}
