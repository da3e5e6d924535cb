/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Node.js's IPC channel in "json" serialization mode: one JSON value per line.
 * process.send('online') arrives as "\"online\"\n"; we send "\"shutdown\"\n" and
 * "\"resume\"\n", which the app receives with process.on('message'). */

#define NODE_IPC_LINE_MAX (64U * 1024U)

typedef struct NodeIpcReader {
        char *buf;
        size_t len;
        size_t size;
} NodeIpcReader;

void node_ipc_reader_done(NodeIpcReader *r);

/* Appends received bytes. -E2BIG if a line grows past NODE_IPC_LINE_MAX: the caller
 * should report it and close the channel rather than guess. */
int node_ipc_reader_feed(NodeIpcReader *r, const void *data, size_t len);

/* Takes the next complete line out of the buffer, decoded if it is a JSON string:
 * *ret_string is the string's value, or NULL for other JSON (objects Node sends for
 * its internal handle passing). Returns 1 if a line was taken, 0 if none is complete,
 * -EBADMSG on a malformed string. */
int node_ipc_reader_next(NodeIpcReader *r, char **ret_string);

/* Takes the next complete line out of the buffer as the canonical text of the JSON value
 * it holds (json_canonicalize()), to compare with ReadyMessage=. Returns 1 if a line
 * was taken, 0 if none is complete, -EBADMSG or -E2BIG if it is no JSON value; a blank
 * line gives NULL. */
int node_ipc_reader_next_value(NodeIpcReader *r, char **ret_canonical);

/* Decodes one JSON string literal (with quotes) into UTF-8. */
int json_string_decode(const char *s, size_t len, char **ret);

/* The line to write for a message string: "\"shutdown\"\n". */
char *node_ipc_encode(const char *message);
