/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "notify-msg.h"
#include "parse-util.h"

void notify_message_done(NotifyMessage *m) {
        free(m->status);
        free(m->sockd_adopted);
        free(m->sockd_bound);
        *m = (NotifyMessage) {};
}

int notify_message_parse(const char *buf, size_t len, NotifyMessage *ret) {
        NotifyMessage m = {};

        if (len == 0 || memchr(buf, 0, len))
                return -EBADMSG;

        for (const char *p = buf, *end = buf + len; p < end;) {
                const char *eol = memchr(p, '\n', end - p) ?: end;
                size_t n = eol - p;

                if (n == 7 && memcmp(p, "READY=1", 7) == 0)
                        m.ready = true;
                else if (n == 10 && memcmp(p, "STOPPING=1", 10) == 0)
                        m.stopping = true;
                else if (n == 10 && memcmp(p, "WATCHDOG=1", 10) == 0)
                        m.watchdog = true;
                else if (n == 14 && memcmp(p, "X_SOCKD_PARK=1", 14) == 0)
                        m.sockd_park = true;
                else if (n >= 7 && memcmp(p, "STATUS=", 7) == 0) {
                        free(m.status);
                        m.status = strndup_bounded(p + 7, n - 7, NOTIFY_STATUS_MAX);
                        if (!m.status)
                                goto oom;
                } else if (n >= 16 && memcmp(p, "X_SOCKD_ADOPTED=", 16) == 0) {
                        free(m.sockd_adopted);
                        m.sockd_adopted = strndup_bounded(p + 16, n - 16, NOTIFY_STATUS_MAX);
                        if (!m.sockd_adopted)
                                goto oom;
                } else if (n >= 14 && memcmp(p, "X_SOCKD_BOUND=", 14) == 0) {
                        free(m.sockd_bound);
                        m.sockd_bound = strndup_bounded(p + 14, n - 14, NOTIFY_STATUS_MAX);
                        if (!m.sockd_bound)
                                goto oom;
                }
                p = eol + 1;
        }

        *ret = m;
        return 0;
oom:
        notify_message_done(&m);
        return -ENOMEM;
}
