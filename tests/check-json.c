/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "macro.h"
#include "test-util.h"

/* ---- json_canonicalize: equal values, equal texts ---- */

static const struct {
        const char *in, *out;
} good_cases[] = {
        { "\"online\"", "\"online\"" },
        { "  \"online\"\t\r\n", "\"online\"" },
        { "{\"ready\":true}", "{\"ready\":true}" },
        { "{ \"ready\" : true }", "{\"ready\":true}" },
        { "{\"b\":2,\"a\":1}", "{\"a\":1,\"b\":2}" },
        { "{\"a\":1,\"a\":2}", "{\"a\":2}" },                   /* the last duplicate wins */
        { "{\"x\":{\"d\":[1,{\"z\":0,\"y\":null}],\"c\":false}}", "{\"x\":{\"c\":false,\"d\":[1,{\"y\":null,\"z\":0}]}}" },
        { "[]", "[]" },
        { "{}", "{}" },
        { "[ 1 , 2 ]", "[1,2]" },
        { "1.0", "1" },
        { "1e2", "100" },
        { "-0", "0" },
        { "0.5", "0.5" },
        { "-12.25e-1", "-1.2250000000000001" },
        { "1e300", "1.0000000000000001e+300" },
        { "9007199254740993", "9007199254740992" },
        { "\"\\u0041\\/\\t\"", "\"A/\\t\"" },
        { "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
        { "\"\\u001f\"", "\"\\u001f\"" },
        { "\"\xc3\xa9t\xc3\xa9\"", "\"\xc3\xa9t\xc3\xa9\"" },
        { "null", "null" },
        { "true", "true" },
        { "false", "false" },
};

START_TEST(test_canonical) {
        _cleanup_free_ char *out = NULL, *again = NULL;

        ck_assert_msg(json_canonicalize(good_cases[_i].in, strlen(good_cases[_i].in), &out) == 0, "'%s'", good_cases[_i].in);
        ck_assert_msg(streq(out, good_cases[_i].out), "'%s' -> '%s', expected '%s'", good_cases[_i].in, out,
                      good_cases[_i].out);
        /* canonical text is its own canonical text */
        ck_assert_int_eq(json_canonicalize(out, strlen(out), &again), 0);
        ck_assert_str_eq(again, out);
}
END_TEST

static const char *const bad_cases[] = {
        "", "   ", "online", "'online'", "{ready:true}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}",
        "\"unterminated", "\"bad \\x escape\"", "\"\\u0000\"", "\"\\ud800\"", "01", "1.", ".5", "-", "1e",
        "+1", "0x10", "Infinity", "NaN", "1e400", "tru", "nul", "\"a\" \"b\"", "{}{}", "[", "{", "\"\t\"",
};

START_TEST(test_not_json) {
        char *out = NULL;

        ck_assert_msg(json_canonicalize(bad_cases[_i], strlen(bad_cases[_i]), &out) == -EBADMSG, "'%s' was taken as '%s'",
                      bad_cases[_i], out ? out : "");
        ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_depth) {
        _cleanup_free_ char *deep = malloc(2 * 1000 + 1), *ok = malloc(2 * JSON_DEPTH_MAX + 1), *out = NULL;

        for (size_t i = 0; i < 1000; i++) {
                deep[i] = '[';
                deep[1000 + i] = ']';
        }
        deep[2000] = 0;
        ck_assert_int_eq(json_canonicalize(deep, strlen(deep), &out), -E2BIG);
        for (size_t i = 0; i < JSON_DEPTH_MAX; i++) {
                ok[i] = '[';
                ok[JSON_DEPTH_MAX + i] = ']';
        }
        ok[2 * JSON_DEPTH_MAX] = 0;
        ck_assert_int_eq(json_canonicalize(ok, strlen(ok), &out), 0);
        ck_assert_str_eq(out, ok);
}
END_TEST

START_TEST(test_length_not_nul) {
        _cleanup_free_ char *out = NULL;

        /* @len counts, not a NUL: a NUL inside is no JSON, bytes after @len are not read. */
        ck_assert_int_eq(json_canonicalize("1\0" "2", 3, &out), -EBADMSG);
        ck_assert_int_eq(json_canonicalize("12345", 2, &out), 0);
        ck_assert_str_eq(out, "12");
}
END_TEST

/* ---- json_object_member: a member of a canonical object ---- */

START_TEST(test_object_member) {
        static const struct {
                const char *json, *key, *value; /* value NULL: -ENOENT */
        } cases[] = {
                { "{\"type\":\"online\"}", "type", "\"online\"" },
                { "{ \"data\": {\"id\": \"1\", \"pid\": 42, \"type\": \"inner\"}, \"type\": \"online\" }", "type", "\"online\"" },
                { "{\"a\":[1,{\"type\":\"x\"},\"]}\"],\"type\":null}", "type", "null" },
                { "{\"a\":\"\\\"type\\\":1\",\"b\":2}", "type", NULL }, /* "type" inside a string is no member */
                { "{\"type\":1.5e3}", "type", "1500" },
                { "{\"types\":1}", "type", NULL },
                { "{}", "type", NULL },
                { "{\"z\":{\"type\":1}}", "type", NULL }, /* nested only */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *canonical = NULL, *value = NULL;

                ck_assert_int_eq(json_canonicalize(cases[i].json, strlen(cases[i].json), &canonical), 0);
                if (cases[i].value) {
                        ck_assert_msg(json_object_member(canonical, cases[i].key, &value) == 0, "%s", cases[i].json);
                        ck_assert_str_eq(value, cases[i].value);
                } else
                        ck_assert_msg(json_object_member(canonical, cases[i].key, &value) == -ENOENT, "%s", cases[i].json);
        }
        {
                _cleanup_free_ char *value = NULL;
                ck_assert_int_eq(json_object_member("\"online\"", "type", &value), -EBADMSG);
                ck_assert_int_eq(json_object_member("[1]", "type", &value), -EBADMSG);
                ck_assert_int_eq(json_object_member("{\"type\"", "type", &value), -EBADMSG);
                ck_assert_int_eq(json_object_member("{\"type\":", "type", &value), -EBADMSG);
        }
}
END_TEST

Suite *json_suite(void) {
        Suite *s = suite_create("json");
        TCase *tc = tcase_create("canonical");

        tcase_add_loop_test(tc, test_canonical, 0, (int) ELEMENTSOF(good_cases));
        tcase_add_loop_test(tc, test_not_json, 0, (int) ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_depth);
        tcase_add_test(tc, test_length_not_nul);
        tcase_add_test(tc, test_object_member);
        suite_add_tcase(s, tc);
        return s;
}
