/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "worker-status.h"

void worker_status_done(WorkerStatus *s) {
        free(s->failure);
        free(s->app_status);
        *s = (WorkerStatus) {};
}

/* "generation N, pid P" at @p; returns what follows, or NULL if it is not that. */
static const char *parse_generation(const char *p, WorkerGeneration *ret) {
        uint64_t n;
        int pid, used = 0;

        if (sscanf(p, "generation %" SCNu64 ", pid %d%n", &n, &pid, &used) != 2 || used == 0 || n == 0 || pid <= 0)
                return NULL;
        *ret = (WorkerGeneration) { .number = n, .pid = pid };
        return p + used;
}

static int parse_item(const char *item, WorkerStatus *s) {
        static const struct {
                const char *prefix;
                size_t offset;
        } simple[] = {
                { "serving: ", offsetof(WorkerStatus, serving) },
                { "suspended: ", offsetof(WorkerStatus, suspended) },
                { "starting: ", offsetof(WorkerStatus, starting) },
                { "ready: ", offsetof(WorkerStatus, ready) },
                { "standby starting: ", offsetof(WorkerStatus, standby_starting) },
                { "standby: ", offsetof(WorkerStatus, standby) },
        };
        WorkerGeneration g;
        const char *rest;

        if (streq(item, "suspended: queueing")) {
                s->queueing = true;
                return 0;
        }
        if (strncmp(item, "backing off", 11) == 0) {
                s->backing_off = true;
                if (sscanf(item, "backing off after %u crash", &s->crashes) != 1)
                        s->crashes = 0;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (strncmp(item, simple[i].prefix, strlen(simple[i].prefix)) == 0 &&
                    (rest = parse_generation(item + strlen(simple[i].prefix), &g))) {
                        size_t n = strlen(rest);

                        *(WorkerGeneration *) ((uint8_t *) s + simple[i].offset) = g;
                        if (i <= 1 && n >= 3 && strncmp(rest, " (", 2) == 0 && rest[n - 1] == ')') {
                                free(s->app_status);
                                s->app_status = strndup(rest + 2, n - 3);
                                if (!s->app_status)
                                        return -ENOMEM;
                        }
                        return 0;
                }
        if (strncmp(item, "draining: ", 10) == 0 && parse_generation(item + 10, &g)) {
                if (s->n_draining < WORKER_STATUS_MAX_DRAINING)
                        s->draining[s->n_draining] = g;
                s->n_draining++;
                return 0;
        }
        {
                unsigned more;
                int used = 0;

                if (sscanf(item, "draining: %u more%n", &more, &used) == 1 && item[used] == 0 && more > 0) {
                        s->n_draining += more;
                        return 0;
                }
        }
        if (strncmp(item, "failed: ", 8) == 0) {
                rest = parse_generation(item + 8, &g);
                if (rest && strncmp(rest, ": ", 2) == 0) {
                        s->failed = g;
                        rest += 2;
                } else
                        rest = item + 8;
                free(s->failure);
                s->failure = strdup(rest);
                return s->failure ? 0 : -ENOMEM;
        }
        return 0; /* not ours: skipped */
}

int worker_status_parse(const char *text, WorkerStatus *ret) {
        WorkerStatus s = {};
        int r;

        for (const char *p = text ?: ""; *p;) {
                const char *end = strstr(p, "; ");
                size_t n = end ? (size_t) (end - p) : strlen(p);
                _cleanup_free_ char *item = strndup(p, n);

                if (!item) {
                        worker_status_done(&s);
                        return -ENOMEM;
                }
                r = parse_item(item, &s);
                if (r < 0) {
                        worker_status_done(&s);
                        return r;
                }
                p += n;
                if (end)
                        p += 2;
        }
        *ret = s;
        return 0;
}

/* The length of the valid UTF-8 character at @p (1 to 4), or 0. */
static size_t utf8_char_length(const unsigned char *p) {
        size_t n;
        uint32_t c;

        if (*p < 0x80)
                return 1;
        if (*p >= 0xC2 && *p <= 0xDF)
                n = 2, c = *p & 0x1F;
        else if (*p >= 0xE0 && *p <= 0xEF)
                n = 3, c = *p & 0x0F;
        else if (*p >= 0xF0 && *p <= 0xF4)
                n = 4, c = *p & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xC0) != 0x80)
                        return 0;
                c = (c << 6) | (p[i] & 0x3F);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
                return 0;
        return n;
}

/* Text from the app or about it inside our own: "; " is our separator and a newline
 * would end the StatusText, so neither may appear; nor may any control character. And
 * it must be UTF-8: systemd empties StatusText for a STATUS= that is not. */
static char *status_text_clean(const char *text, size_t max) {
        _cleanup_free_ char *copy = strdup(text);

        if (!copy)
                return NULL;
        for (unsigned char *p = (unsigned char *) copy; *p;) {
                size_t n = utf8_char_length(p);

                if (n == 0)
                        *p = '?';
                else if (*p == ';')
                        *p = ',';
                else if (*p < ' ' || *p == 0x7F)
                        *p = ' ';
                else if (n == 2 && p[0] == 0xC2 && p[1] < 0xA0) /* C1 controls */
                        p[0] = p[1] = ' ';
                p += n ?: 1;
        }
        return strndup_bounded(copy, strlen(copy), max);
}

static void put_generation(FILE *f, const char *state, WorkerGeneration g) {
        if (ftell(f) > 0)
                fputs("; ", f);
        fprintf(f, "%s: generation %" PRIu64 ", pid %d", state, g.number, (int) g.pid);
}

int worker_status_format(const WorkerStatus *s, bool stopping, char **ret) {
        _cleanup_free_ char *buf = NULL, *app = NULL, *failure = NULL;
        size_t size = 0;
        FILE *f;

        if (s->app_status && !(app = status_text_clean(s->app_status, WORKER_STATUS_APP_MAX)))
                return -ENOMEM;
        if (s->failure && !(failure = status_text_clean(s->failure, WORKER_STATUS_FAILURE_MAX)))
                return -ENOMEM;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        if (s->backing_off)
                fprintf(f, "backing off after %u crash%s", s->crashes, s->crashes == 1 ? "" : "es");
        if (s->queueing)
                fprintf(f, "%ssuspended: queueing", ftell(f) > 0 ? "; " : "");
        if (s->serving.number > 0 || s->suspended.number > 0) {
                put_generation(f, s->serving.number > 0 ? "serving" : "suspended",
                               s->serving.number > 0 ? s->serving : s->suspended);
                if (app)
                        fprintf(f, " (%s)", app);
        }
        if (s->starting.number > 0)
                put_generation(f, "starting", s->starting);
        if (s->ready.number > 0)
                put_generation(f, "ready", s->ready);
        if (s->standby_starting.number > 0)
                put_generation(f, "standby starting", s->standby_starting);
        if (s->standby.number > 0)
                put_generation(f, "standby", s->standby);
        for (unsigned i = 0; i < MIN(s->n_draining, WORKER_STATUS_MAX_DRAINING); i++)
                put_generation(f, "draining", s->draining[i]);
        if (s->n_draining > WORKER_STATUS_MAX_DRAINING)
                fprintf(f, "; draining: %u more", s->n_draining - WORKER_STATUS_MAX_DRAINING);
        if (failure) {
                fprintf(f, "%sfailed: ", ftell(f) > 0 ? "; " : "");
                if (s->failed.number > 0)
                        fprintf(f, "generation %" PRIu64 ", pid %d: ", s->failed.number, (int) s->failed.pid);
                fputs(failure, f);
        }
        if (ftell(f) == 0)
                fputs(stopping ? "stopped" : "starting", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        /* Bounded by construction: 14 items of at most ~60 bytes, the app status and the
         * failure. Checked anyway: an overlong text would be dropped by systemd whole. */
        if (strlen(buf) > WORKER_STATUS_TEXT_MAX) {
                size_t n = WORKER_STATUS_TEXT_MAX;

                while (n > 0 && ((unsigned char) buf[n] & 0xC0) == 0x80)
                        n--; /* not inside a character: it must stay UTF-8 */
                buf[n] = 0;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}
