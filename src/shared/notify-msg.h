/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* An app's STATUS= is relayed inside the shim's own STATUS=, and systemd drops a notify
 * datagram of PIPE_BUF bytes or more whole: a long one is cut to this many bytes. */
#define NOTIFY_STATUS_MAX 200U

/* What an app told us over $NOTIFY_SOCKET (sd_notify(3)): newline-separated
 * assignments; unknown ones are ignored, as systemd does. */
typedef struct NotifyMessage {
        bool ready;
        bool stopping;
        bool watchdog;
        char *status; /* STATUS=, at most NOTIFY_STATUS_MAX bytes; NULL if absent */
        /* From sockd's preload library (Listen=): the address the app bound and got the
         * worker's socket for, or another address it bound. */
        char *sockd_adopted;
        char *sockd_bound;
        /* From the preload: the attached fd is a connection the draining app closed
         * (X_SOCKD_PARK=1), for the shim to keep and relay. */
        bool sockd_park;
} NotifyMessage;

void notify_message_done(NotifyMessage *m);

/* @len bytes, not necessarily NUL-terminated. -EBADMSG if it holds a NUL byte or is
 * empty. */
int notify_message_parse(const char *buf, size_t len, NotifyMessage *ret);
