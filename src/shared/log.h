/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_STDERR,  /* plain text, for people at a terminal */
        LOG_TARGET_JOURNAL, /* structured, with the SOCKD_* fields */
        LOG_TARGET_KMSG,    /* generators: the journal is not up yet */
} LogTarget;

/* Chooses the target the way systemd tools do: the journal when stderr is a journal
 * stream of ours, /dev/kmsg when run as a generator, stderr otherwise. */
void log_setup(const char *ident);
void log_set_target(LogTarget target);
void log_set_max_level(int level);
int log_max_level_get(void);

/* Lines on stderr read "IDENT: PREFIX: message" until the prefix is set back to NULL
 * (sockdctl names the host of a fleet so). Not copied: it must outlive its use. */
void log_set_prefix(const char *prefix);

/* Fields added to every journal entry: SOCKD_APP, SOCKD_WORKER. */
void log_set_app(const char *app, int worker);

/* Logs at @level; when @error is non-zero, %m expands to strerror(-error)... and the
 * entry carries ERRNO=. Returns @error (negative) or 0, so callers can
 * `return log_error_errno(r, ...)`. @generation > 0 adds SOCKD_GENERATION=. */
int log_internal(int level, int error, uint64_t generation, const char *fmt, ...) _printf_(4, 5);

#define log_full_errno(level, error, ...) log_internal((level), (error), 0, __VA_ARGS__)
#define log_debug(...) log_internal(LOG_DEBUG, 0, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, 0, __VA_ARGS__)
#define log_debug_errno(error, ...) log_internal(LOG_DEBUG, (error), 0, __VA_ARGS__)
#define log_notice_errno(error, ...) log_internal(LOG_NOTICE, (error), 0, __VA_ARGS__)
#define log_warning_errno(error, ...) log_internal(LOG_WARNING, (error), 0, __VA_ARGS__)
#define log_error_errno(error, ...) log_internal(LOG_ERR, (error), 0, __VA_ARGS__)
#define log_oom() log_internal(LOG_ERR, -ENOMEM, 0, "Out of memory.")

/* Per-generation messages of the shim. */
#define log_gen(level, gen, ...) log_internal((level), 0, (gen), __VA_ARGS__)
#define log_gen_errno(level, error, gen, ...) log_internal((level), (error), (gen), __VA_ARGS__)
