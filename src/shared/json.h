/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* How deep arrays and objects may nest; deeper input is refused (-E2BIG), so that
 * nothing an app sends can exhaust the stack. */
#define JSON_DEPTH_MAX 64U

/* One JSON value (RFC 8259) in its canonical text, so that two values are equal when
 * their canonical texts are: no whitespace, object members sorted by key (the last of
 * duplicate keys wins, as in JavaScript's JSON.parse()), strings with the fewest
 * escapes, numbers as JavaScript prints them for integers below 2^53 and "%.17g"
 * otherwise. Blanks around the value are allowed. -EBADMSG if @s is not exactly one
 * JSON value (or a string holds \u0000), -E2BIG if it nests too deep. */
int json_canonicalize(const char *s, size_t len, char **ret);

/* The canonical text of member @key (plain ASCII, no quotes or backslashes) of the
 * canonical JSON object @canonical (as json_canonicalize() writes it). -ENOENT if it has
 * none, -EBADMSG if @canonical is not an object. */
int json_object_member(const char *canonical, const char *key, char **ret);
