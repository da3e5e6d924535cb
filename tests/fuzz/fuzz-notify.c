/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an app sends to $NOTIFY_SOCKET, as sockd-spawn parses it (notify_message_parse()
 * on the datagram as received, not NUL-terminated), and sockd-spawn's StatusText as
 * sockdctl reads it back (worker_status_parse() on a C string): the same input as one
 * and as the other, and the STATUS= an app sent as a StatusText. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "notify-msg.h"
#include "worker-status.h"

static void status_parse(const char *text) {
        WorkerStatus s = {};
        int r;

        r = worker_status_parse(text, &s);
        fuzz_check(r == 0 || r == -ENOMEM);
        if (r < 0)
                return;
        /* Every generation kept is a real one, the failure text comes from the input. */
        fuzz_check(!s.serving.number == !s.serving.pid);
        fuzz_check(!s.suspended.number == !s.suspended.pid);
        fuzz_check(!s.starting.number == !s.starting.pid);
        fuzz_check(!s.ready.number == !s.ready.pid);
        fuzz_check(!s.failed.number == !s.failed.pid);
        for (unsigned i = 0; i < s.n_draining && i < WORKER_STATUS_MAX_DRAINING; i++)
                fuzz_check(s.draining[i].number > 0 && s.draining[i].pid > 0);
        fuzz_check(!s.failure || strlen(s.failure) <= strlen(text));
        worker_status_done(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        NotifyMessage m = {};
        int r;

        r = notify_message_parse((const char *) data, size, &m);
        if (size == 0 || memchr(data, 0, size))
                fuzz_check(r == -EBADMSG);
        else
                fuzz_check(r == 0 || r == -ENOMEM);
        if (r == 0) {
                fuzz_check(!m.status || strlen(m.status) < size);
                if (m.status)
                        status_parse(m.status);
                notify_message_done(&m);
        }

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        status_parse(text);
        return 0;
}
