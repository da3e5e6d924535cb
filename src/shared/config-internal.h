/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the reader of APP.conf (config.c) and its key parsers (config-keys.c) share:
 * the state of one parse, the table of keys, and how errors are recorded. Not for use
 * outside these two files. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "macro.h"

typedef struct ConfigKey ConfigKey;

typedef struct ParseState {
        FILE *f;
        const char *path;       /* the file being read: APP.conf or a drop-in */
        const ConfigContext *ctx;
        AppConfig *config;
        unsigned line;          /* the line inih is working on */
        bool continuation;      /* that line is indented: inih would append it to the last key */
        unsigned keys_in_section; /* inih only continues a key of the current section */
        char *error;            /* the first error, already formatted */
        int error_code;
        char **sections_seen;
        unsigned *key_lines;    /* per key of the table: where the file being read set it, for duplicates */
        unsigned *last_lines;   /* per key: where it was set last, in last_paths */
        const char **last_paths;
        char *line_buffer;
        size_t line_buffer_size;
} ParseState;

typedef int (*ConfigParser)(ParseState *s, const ConfigKey *key, const char *value, void *data);

struct ConfigKey {
        const char *section;
        const char *name;
        ConfigParser parse;
        size_t offset;
        bool repeatable; /* an empty value resets the list, as in systemd */
};

/* The number of keys in config_keys[]: config.c sizes its per-key arrays by it. */
#define CONFIG_N_KEYS 23

extern const ConfigKey config_keys[CONFIG_N_KEYS];

const ConfigKey *config_key_find(const char *section, const char *name, size_t *ret_index);
bool config_key_names_account(const ConfigKey *key);

/* Records the first error of the parse, as 'PATH':LINE: MESSAGE (no line if 0), and
 * returns @code; later errors are dropped, as they are often consequences. */
_printf_(5, 0) int parse_error_valist(ParseState *s, const char *path, unsigned line, int code, const char *fmt,
                                      va_list ap);
_printf_(4, 5) int parse_error(ParseState *s, unsigned line, int code, const char *fmt, ...);

#define key_error(s, key, code, fmt, ...) \
        parse_error((s), (s)->line, (code), "%s: " fmt, (key)->name, ##__VA_ARGS__)

/* [Socket] Directory= (or its default, @is_default) must be the app's own. */
int config_check_socket_directory(ParseState *s, const char *dir, unsigned line, bool is_default);
