/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What an app told us over $NOTIFY_SOCKET (sd_notify(3)): newline-separated
 * assignments; unknown ones are ignored, as systemd does. */
typedef struct NotifyMessage {
        bool ready;
        bool stopping;
        bool watchdog;
        bool reloading;
        char *status; /* STATUS=, NULL if absent */
} NotifyMessage;

void notify_message_done(NotifyMessage *m);

/* @len bytes, not necessarily NUL-terminated. -EBADMSG if it holds a NUL byte or is
 * empty. */
int notify_message_parse(const char *buf, size_t len, NotifyMessage *ret);
