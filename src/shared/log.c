/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

#define IOVEC_STR(s) ((struct iovec) { .iov_base = (char *) (s), .iov_len = strlen(s) })

static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;
static const char *log_ident = "sockd";
static char *log_app;
static int log_worker = -1;
static const char *log_prefix;

/* True when our stderr is the journal stream systemd set up for us: then structured
 * entries are better than lines, and lines would be duplicates. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

void log_setup(const char *ident) {
        const char *e;

        log_ident = ident;
        if (getenv("SYSTEMD_SCOPE") && !isatty(STDERR_FILENO))
                /* systemd(1) sets $SYSTEMD_SCOPE for generators, whose stderr is /dev/null.
                 * On daemon-reload journald is up; at early boot only the kernel log is
                 * (journald imports it later). Containers have no /dev/kmsg: the journal
                 * is all there is, and log_kmsg() falls back to stderr. */
                log_target = access("/run/systemd/journal/socket", F_OK) == 0 ? LOG_TARGET_JOURNAL
                                                                                : LOG_TARGET_KMSG;
        else if (stderr_is_journal())
                log_target = LOG_TARGET_JOURNAL;

        e = getenv("SOCKD_LOG_LEVEL");
        if (e && streq(e, "debug"))
                log_max_level = LOG_DEBUG;
}

void log_set_target(LogTarget target) {
        log_target = target;
}

int log_max_level_get(void) {
        return log_max_level;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

void log_set_app(const char *app, int worker) {
        free(log_app);
        log_app = app ? strdup(app) : NULL;
        log_worker = worker;
}

static void log_kmsg(int level, const char *msg) {
        _cleanup_close_ int fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
                fprintf(stderr, "%s: %s\n", log_ident, msg);
                return;
        }
        dprintf(fd, "<%d>%s[%d]: %s\n", level, log_ident, (int) getpid(), msg);
}

int log_internal(int level, int error, uint64_t generation, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (level > log_max_level)
                return error;

        /* %m in the format refers to the error we were handed, not to whatever errno is. */
        errno = error < 0 ? -error : error;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return error;

        switch (log_target) {
        case LOG_TARGET_KMSG:
                log_kmsg(level, msg);
                break;
        case LOG_TARGET_JOURNAL: {
                _cleanup_free_ char *m = NULL, *app = NULL;
                char prio[16], ident[64], worker[32], gen[48], err[32];
                struct iovec iov[7];
                size_t n = 0;

                if (asprintf(&m, "MESSAGE=%s", msg) < 0)
                        return error;
                iov[n++] = IOVEC_STR(m);
                snprintf(prio, sizeof prio, "PRIORITY=%d", level);
                iov[n++] = IOVEC_STR(prio);
                snprintf(ident, sizeof ident, "SYSLOG_IDENTIFIER=%s", log_ident);
                iov[n++] = IOVEC_STR(ident);
                if (log_app && asprintf(&app, "SOCKD_APP=%s", log_app) >= 0)
                        iov[n++] = IOVEC_STR(app);
                if (log_worker >= 0) {
                        snprintf(worker, sizeof worker, "SOCKD_WORKER=%d", log_worker);
                        iov[n++] = IOVEC_STR(worker);
                }
                if (generation > 0) {
                        snprintf(gen, sizeof gen, "SOCKD_GENERATION=%" PRIu64, generation);
                        iov[n++] = IOVEC_STR(gen);
                }
                if (error != 0) {
                        snprintf(err, sizeof err, "ERRNO=%d", error < 0 ? -error : error);
                        iov[n++] = IOVEC_STR(err);
                }
                if (sd_journal_sendv(iov, (int) n) >= 0)
                        break;
                _fallthrough_;
        }
        case LOG_TARGET_STDERR:
        default:
                if (generation > 0)
                        fprintf(stderr, "%s: [gen %" PRIu64 "] %s\n", log_ident, generation, msg);
                else
                        fprintf(stderr, "%s: %s%s%s\n", log_ident, strempty(log_prefix), log_prefix ? ": " : "", msg);
                break;
        }

        return error;
}
