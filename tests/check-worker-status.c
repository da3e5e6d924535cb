/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "test-util.h"
#include "worker-status.h"

/* The texts below are what worker_update_status() in src/spawn/worker.c writes:
 * "; "-separated items, "STATE: generation N, pid P" with the app's own status in
 * parentheses after a serving generation, "suspended: queueing", "failed: ...",
 * "backing off after N crashes", and "starting" or "stopped" when there is nothing else. */

#define GEN(n, p) ((WorkerGeneration) { .number = (n), .pid = (p) })

static const char *strnull(const char *s) {
        return s ?: "(null)";
}

static WorkerStatus parse_ok(const char *text) {
        WorkerStatus s = { .serving = GEN(99, 99), .queueing = true, .n_draining = 99, .backing_off = true };
        int r = worker_status_parse(text, &s);

        ck_assert_msg(r == 0, "'%s': %d", strnull(text), r);
        return s;
}

static void assert_gen_eq(const char *text, const char *what, WorkerGeneration a, WorkerGeneration e) {
        ck_assert_msg(a.number == e.number && a.pid == e.pid,
                      "'%s': %s is generation %" PRIu64 ", pid %d, expected generation %" PRIu64 ", pid %d",
                      strnull(text), what, a.number, (int) a.pid, e.number, (int) e.pid);
}

/* Every field, so that an item that sets the wrong one is caught too. */
static void assert_status_eq(const char *text, const WorkerStatus *a, const WorkerStatus *e) {
        assert_gen_eq(text, "serving", a->serving, e->serving);
        assert_gen_eq(text, "suspended", a->suspended, e->suspended);
        ck_assert_msg(a->queueing == e->queueing, "'%s': queueing is %d", strnull(text), a->queueing);
        assert_gen_eq(text, "starting", a->starting, e->starting);
        assert_gen_eq(text, "ready", a->ready, e->ready);
        assert_gen_eq(text, "standby starting", a->standby_starting, e->standby_starting);
        assert_gen_eq(text, "standby", a->standby, e->standby);
        ck_assert_msg(a->n_draining == e->n_draining, "'%s': %u draining, expected %u", strnull(text), a->n_draining,
                      e->n_draining);
        for (size_t i = 0; i < WORKER_STATUS_MAX_DRAINING; i++) {
                char what[32];

                snprintf(what, sizeof what, "draining[%zu]", i);
                assert_gen_eq(text, what, a->draining[i], e->draining[i]);
        }
        assert_gen_eq(text, "failed", a->failed, e->failed);
        ck_assert_msg(streq(strnull(a->failure), strnull(e->failure)) && !a->failure == !e->failure,
                      "'%s': failure is '%s', expected '%s'", strnull(text), strnull(a->failure), strnull(e->failure));
        ck_assert_msg(a->backing_off == e->backing_off, "'%s': backing_off is %d", strnull(text), a->backing_off);
}

static void assert_parses_as(const char *text, const WorkerStatus *expected) {
        _cleanup_(worker_status_done) WorkerStatus s = parse_ok(text);

        assert_status_eq(text, &s, expected);
}

/* ---- one item at a time ---- */

static const struct item_case {
        const char *text;
        WorkerStatus expected;
} item_cases[] = {
        /* Nothing runs (yet): no item this parser knows. */
        { "", {} },
        { "starting", {} },
        { "stopped", {} },
        { "serving: generation 3, pid 1234", { .serving = GEN(3, 1234) } },
        { "serving: generation 3, pid 1234 (app status text)", { .serving = GEN(3, 1234) } },
        /* The app's words after the pid are not read as items or numbers. */
        { "serving: generation 3, pid 1234 (ready: generation 9, pid 9, draining: generation 8, pid 8)",
          { .serving = GEN(3, 1234) } },
        { "serving: generation 3, pid 1234 (42 requests, failed: none)", { .serving = GEN(3, 1234) } },
        { "serving: generation 18446744073709551615, pid 2147483647", { .serving = GEN(UINT64_MAX, 2147483647) } },
        { "suspended: generation 4, pid 5", { .suspended = GEN(4, 5) } },
        { "suspended: queueing", { .queueing = true } },
        { "starting: generation 5, pid 6", { .starting = GEN(5, 6) } },
        { "ready: generation 5, pid 6", { .ready = GEN(5, 6) } },
        { "draining: generation 2, pid 7", { .n_draining = 1, .draining = { GEN(2, 7) } } },
        { "failed: generation 5, pid 6: exited with status 3 before it was ready",
          { .failed = GEN(5, 6), .failure = (char *) "exited with status 3 before it was ready" } },
        { "failed: generation 5, pid 6: was killed by SIGKILL (core dumped) while it waited for the swap to be committed",
          { .failed = GEN(5, 6),
            .failure = (char *) "was killed by SIGKILL (core dumped) while it waited for the swap to be committed" } },
        /* A refusal names no generation: all of it is the why. */
        { "failed: The worker has no serving generation yet, wait for it to start.",
          { .failure = (char *) "The worker has no serving generation yet, wait for it to start." } },
        /* Colons in the why are part of it. */
        { "failed: generation 7, pid 8: could not execute '/srv/app': No such file or directory",
          { .failed = GEN(7, 8), .failure = (char *) "could not execute '/srv/app': No such file or directory" } },
        { "failed: generation 7, pid 8: did not become ready within ReadyTimeoutSec=1min 30s: a: b:",
          { .failed = GEN(7, 8), .failure = (char *) "did not become ready within ReadyTimeoutSec=1min 30s: a: b:" } },
        { "failed: a refusal: with colons: kept", { .failure = (char *) "a refusal: with colons: kept" } },
        /* Something that only looks like a generation is text, not a generation. */
        { "failed: generation x, pid 1: why", { .failure = (char *) "generation x, pid 1: why" } },
        { "failed: generation 0, pid 1: why", { .failure = (char *) "generation 0, pid 1: why" } },
        { "failed: ", { .failure = (char *) "" } },
        { "backing off after 3 crashes", { .backing_off = true } },
        { "backing off after 1 crashes", { .backing_off = true } },
};

START_TEST(test_item_case) {
        const struct item_case *t = &item_cases[_i];

        assert_parses_as(t->text, &t->expected);
}
END_TEST

START_TEST(test_null_text) {
        _cleanup_(worker_status_done) WorkerStatus s = parse_ok(NULL);
        const WorkerStatus none = {};

        assert_status_eq(NULL, &s, &none);
}
END_TEST

/* ---- items the parser does not take ---- */

static const char *const ignored_items[] = {
        "serving: generation x, pid 1",
        "serving: generation 0, pid 1",
        "serving: generation 3, pid 0",
        "serving: generation 3, pid -4",
        "serving: generation 3",
        "serving: generation 3, pid",
        "serving: generation , pid 3",
        "serving: pid 3",
        "serving:",
        "serving",
        "serving:generation 3, pid 4",
        "Serving: generation 3, pid 4",
        " serving: generation 3, pid 4",
        "suspended: generation 0, pid 5",
        "suspended: generation 4, pid 0",
        "suspended: queueing later",
        "suspended:queueing",
        "suspended",
        "starting: generation 0, pid 1",
        "starting: generation 5, pid 0",
        "starting: soon",
        "ready: generation x, pid 1",
        "ready: generation 5, pid 0",
        "ready",
        "draining: generation 0, pid 1",
        "draining: generation 2, pid 0",
        "draining: generation x, pid 1",
        "draining",
        "backing",
        "backing-off after 3 crashes",
        "stopping: generation 3, pid 4",
        "dead: generation 3, pid 4",
        "held: generation 3, pid 4",
        "generation 3, pid 4",
        "a future item: generation 3, pid 4",
        "failed",
        "failed:x",
};

START_TEST(test_ignored_item) {
        const WorkerStatus none = {};
        const WorkerStatus serving = { .serving = GEN(1, 2) };
        _cleanup_free_ char *before = NULL, *after = NULL;

        /* Alone, and beside an item it must not disturb. */
        assert_parses_as(ignored_items[_i], &none);
        ck_assert_int_ge(asprintf(&before, "%s; serving: generation 1, pid 2", ignored_items[_i]), 0);
        assert_parses_as(before, &serving);
        ck_assert_int_ge(asprintf(&after, "serving: generation 1, pid 2; %s", ignored_items[_i]), 0);
        assert_parses_as(after, &serving);
}
END_TEST

START_TEST(test_unknown_items_skipped) {
        const WorkerStatus expected = {
                .serving = GEN(3, 4),
                .n_draining = 1,
                .draining = { GEN(2, 3) },
        };

        assert_parses_as("hello; serving: generation 3, pid 4; future: thing 7; ; draining: generation 2, pid 3; x",
                         &expected);
        /* A malformed generation does not undo a good one of the same kind. */
        assert_parses_as("serving: generation 3, pid 4; serving: generation 0, pid 1; draining: generation 2, pid 3; "
                         "serving: generation x, pid 9",
                         &expected);
}
END_TEST

/* ---- combinations ---- */

/* What a worker says in the course of a swap, a suspension and a failure. */
static const struct combination_case {
        const char *items[12];
        WorkerStatus expected;
} combination_cases[] = {
        { { "serving: generation 3, pid 10 (up, 5 clients)", "starting: generation 4, pid 11" },
          { .serving = GEN(3, 10), .starting = GEN(4, 11) } },
        { { "serving: generation 3, pid 10", "ready: generation 4, pid 11" },
          { .serving = GEN(3, 10), .ready = GEN(4, 11) } },
        /* Standby=yes: the spare is neither starting nor ready for a swap (sockdctl
         * would take the worker for busy). */
        { { "serving: generation 3, pid 10", "standby starting: generation 4, pid 11" },
          { .serving = GEN(3, 10), .standby_starting = GEN(4, 11) } },
        { { "serving: generation 3, pid 10", "standby: generation 4, pid 11", "starting: generation 5, pid 12" },
          { .serving = GEN(3, 10), .standby = GEN(4, 11), .starting = GEN(5, 12) } },
        { { "serving: generation 4, pid 11", "draining: generation 3, pid 10" },
          { .serving = GEN(4, 11), .n_draining = 1, .draining = { GEN(3, 10) } } },
        { { "serving: generation 6, pid 20", "draining: generation 5, pid 19", "draining: generation 4, pid 18",
            "draining: generation 3, pid 17" },
          { .serving = GEN(6, 20), .n_draining = 3, .draining = { GEN(5, 19), GEN(4, 18), GEN(3, 17) } } },
        { { "suspended: generation 5, pid 12", "draining: generation 4, pid 11" },
          { .suspended = GEN(5, 12), .n_draining = 1, .draining = { GEN(4, 11) } } },
        { { "suspended: queueing", "draining: generation 4, pid 11" },
          { .queueing = true, .n_draining = 1, .draining = { GEN(4, 11) } } },
        { { "suspended: queueing", "starting: generation 5, pid 13" },
          { .queueing = true, .starting = GEN(5, 13) } },
        { { "serving: generation 3, pid 10", "draining: generation 4, pid 11",
            "failed: generation 4, pid 11: was aborted: another worker's new generation failed" },
          { .serving = GEN(3, 10), .n_draining = 1, .draining = { GEN(4, 11) }, .failed = GEN(4, 11),
            .failure = (char *) "was aborted: another worker's new generation failed" } },
        { { "serving: generation 3, pid 10", "failed: generation 4, pid 11: exited with status 3 before it was ready" },
          { .serving = GEN(3, 10), .failed = GEN(4, 11),
            .failure = (char *) "exited with status 3 before it was ready" } },
        { { "backing off after 3 crashes", "failed: A swap to generation 4 is already in progress." },
          { .backing_off = true, .failure = (char *) "A swap to generation 4 is already in progress." } },
        /* Everything at once, which no worker says, but each item stands alone. */
        { { "backing off after 2 crashes", "suspended: queueing", "serving: generation 9, pid 90 (hi)",
            "suspended: generation 8, pid 80", "starting: generation 11, pid 110", "ready: generation 10, pid 100",
            "draining: generation 7, pid 70", "failed: generation 12, pid 120: exited with status 1 before it was ready" },
          { .serving = GEN(9, 90), .suspended = GEN(8, 80), .queueing = true, .starting = GEN(11, 110),
            .ready = GEN(10, 100), .n_draining = 1, .draining = { GEN(7, 70) }, .failed = GEN(12, 120),
            .failure = (char *) "exited with status 1 before it was ready", .backing_off = true } },
};

static char *join_items(const char *const *items, size_t n, const size_t *order) {
        char *text = strdup("");

        ck_assert_ptr_nonnull(text);
        for (size_t i = 0; i < n; i++) {
                char *t;

                ck_assert_int_ge(asprintf(&t, "%s%s%s", text, i > 0 ? "; " : "", items[order[i]]), 0);
                free(text);
                text = t;
        }
        return text;
}

START_TEST(test_combination) {
        const struct combination_case *t = &combination_cases[_i];
        size_t n = 0, order[ELEMENTSOF(t->items)];

        while (n < ELEMENTSOF(t->items) && t->items[n])
                n++;

        /* As the worker writes them, and in every rotation and reversed: the order of
         * items carries no meaning, except among draining ones, which keep theirs. */
        for (size_t rot = 0; rot < n; rot++)
                for (int reversed = 0; reversed <= 1; reversed++) {
                        _cleanup_free_ char *text = NULL;
                        WorkerStatus expected = t->expected;
                        size_t k = 0;

                        for (size_t i = 0; i < n; i++)
                                order[i] = reversed ? (rot + n - 1 - i) % n : (rot + i) % n;
                        text = join_items(t->items, n, order);

                        /* Draining generations in the order the text lists them. */
                        for (size_t i = 0; i < n; i++) {
                                const char *item = t->items[order[i]];
                                uint64_t number;

                                if (sscanf(item, "draining: generation %" SCNu64, &number) != 1)
                                        continue;
                                for (size_t j = 0; j < t->expected.n_draining; j++)
                                        if (t->expected.draining[j].number == number)
                                                expected.draining[k++] = t->expected.draining[j];
                        }
                        ck_assert_uint_eq(k, t->expected.n_draining);
                        assert_parses_as(text, &expected);
                }
}
END_TEST

START_TEST(test_draining_order_kept) {
        const WorkerStatus a = { .n_draining = 2, .draining = { GEN(2, 7), GEN(1, 6) } };
        const WorkerStatus b = { .n_draining = 2, .draining = { GEN(1, 6), GEN(2, 7) } };

        assert_parses_as("draining: generation 2, pid 7; draining: generation 1, pid 6", &a);
        assert_parses_as("draining: generation 1, pid 6; draining: generation 2, pid 7", &b);
        /* The same generation twice is counted twice: the parser does not judge. */
        {
                const WorkerStatus twice = { .n_draining = 2, .draining = { GEN(2, 7), GEN(2, 7) } };

                assert_parses_as("draining: generation 2, pid 7; draining: generation 2, pid 7", &twice);
        }
}
END_TEST

START_TEST(test_more_draining_than_kept) {
        const unsigned n = WORKER_STATUS_MAX_DRAINING + 5;
        _cleanup_free_ char *text = strdup("serving: generation 100, pid 1000");
        _cleanup_(worker_status_done) WorkerStatus s = {};
        WorkerStatus expected = { .serving = GEN(100, 1000), .n_draining = n, .backing_off = true };

        ck_assert_ptr_nonnull(text);
        for (unsigned i = 0; i < n; i++) {
                char *t;

                ck_assert_int_ge(asprintf(&t, "%s; draining: generation %u, pid %u", text, i + 1, 500 + i), 0);
                free(text);
                text = t;
        }
        /* The count keeps growing, the array keeps the first ones. */
        for (unsigned i = 0; i < WORKER_STATUS_MAX_DRAINING; i++)
                expected.draining[i] = GEN(i + 1, 500 + i);
        {
                char *t;

                /* Items after the overflow are still read. */
                ck_assert_int_ge(asprintf(&t, "%s; backing off after 4 crashes", text), 0);
                free(text);
                text = t;
        }
        assert_parses_as(text, &expected);

        /* Exactly as many as fit. */
        {
                _cleanup_free_ char *exact = strdup("");
                WorkerStatus e = { .n_draining = WORKER_STATUS_MAX_DRAINING };

                ck_assert_ptr_nonnull(exact);
                for (unsigned i = 0; i < WORKER_STATUS_MAX_DRAINING; i++) {
                        char *t;

                        ck_assert_int_ge(asprintf(&t, "%s%sdraining: generation %u, pid %u", exact, i > 0 ? "; " : "",
                                                  i + 1, 500 + i),
                                         0);
                        free(exact);
                        exact = t;
                        e.draining[i] = GEN(i + 1, 500 + i);
                }
                assert_parses_as(exact, &e);
        }

        /* A very long list: the count is not capped. */
        {
                FILE *f;
                char *buf = NULL;
                size_t size = 0;

                f = open_memstream(&buf, &size);
                ck_assert_ptr_nonnull(f);
                for (unsigned i = 0; i < 1000; i++)
                        fprintf(f, "%sdraining: generation %u, pid %u", i > 0 ? "; " : "", i + 1, i + 2);
                ck_assert_int_eq(fclose(f), 0);
                ck_assert_int_eq(worker_status_parse(buf, &s), 0);
                free(buf);
                ck_assert_uint_eq(s.n_draining, 1000);
                assert_gen_eq("(1000 draining)", "draining[0]", s.draining[0], GEN(1, 2));
                assert_gen_eq("(1000 draining)", "last draining",
                              s.draining[WORKER_STATUS_MAX_DRAINING - 1],
                              GEN(WORKER_STATUS_MAX_DRAINING, WORKER_STATUS_MAX_DRAINING + 1));
        }
}
END_TEST

START_TEST(test_separator) {
        const WorkerStatus both = { .serving = GEN(1, 2), .starting = GEN(3, 4) };
        const WorkerStatus first = { .serving = GEN(1, 2) };

        assert_parses_as("serving: generation 1, pid 2; starting: generation 3, pid 4", &both);
        /* Trailing and doubled separators are empty items. */
        assert_parses_as("serving: generation 1, pid 2; starting: generation 3, pid 4; ", &both);
        assert_parses_as("; ; serving: generation 1, pid 2; ; starting: generation 3, pid 4", &both);
        /* Only "; " separates: a bare ';' or ',' is part of the item. */
        assert_parses_as("serving: generation 1, pid 2;starting: generation 3, pid 4", &first);
        assert_parses_as("serving: generation 1, pid 2, starting: generation 3, pid 4", &first);
        assert_parses_as("serving: generation 1, pid 2;;starting: generation 3, pid 4", &first);
}
END_TEST

START_TEST(test_last_failure_wins) {
        const WorkerStatus expected = { .failed = GEN(4, 5), .failure = (char *) "second" };
        const WorkerStatus text_only = { .failed = GEN(4, 5), .failure = (char *) "third" };

        /* The worker writes one failed item; should there be more, the last one counts
         * and the earlier text is not leaked. */
        assert_parses_as("failed: generation 2, pid 3: first; failed: generation 4, pid 5: second", &expected);
        assert_parses_as("failed: generation 4, pid 5: second; failed: third", &text_only);
}
END_TEST

/* ---- worker_status_current, worker_status_done ---- */

START_TEST(test_current) {
        static const struct {
                const char *text;
                WorkerGeneration current;
        } cases[] = {
                { "serving: generation 3, pid 4", GEN(3, 4) },
                { "suspended: generation 5, pid 6", GEN(5, 6) },
                /* Serving wins over held, whatever the order. */
                { "serving: generation 3, pid 4; suspended: generation 5, pid 6", GEN(3, 4) },
                { "suspended: generation 5, pid 6; serving: generation 3, pid 4", GEN(3, 4) },
                /* Neither starting, ready, draining nor failed ones answer requests. */
                { "starting: generation 1, pid 2; ready: generation 3, pid 4; draining: generation 5, pid 6; "
                  "failed: generation 7, pid 8: why",
                  GEN(0, 0) },
                { "suspended: queueing; draining: generation 5, pid 6", GEN(0, 0) },
                { "", GEN(0, 0) },
                { NULL, GEN(0, 0) },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(worker_status_done) WorkerStatus s = parse_ok(cases[i].text);

                assert_gen_eq(cases[i].text, "current", worker_status_current(&s), cases[i].current);
        }
}
END_TEST

START_TEST(test_done) {
        const WorkerStatus none = {};
        WorkerStatus s = parse_ok("serving: generation 3, pid 4; draining: generation 2, pid 3; "
                                  "failed: generation 5, pid 6: why; backing off after 1 crashes; suspended: queueing");

        ck_assert_ptr_nonnull(s.failure);
        worker_status_done(&s);
        assert_status_eq("(after worker_status_done)", &s, &none);
        worker_status_done(&s); /* twice is fine */
        assert_status_eq("(after worker_status_done twice)", &s, &none);
}
END_TEST

/* ---- what the shim writes: bounded, and read back as it was meant ---- */

static void assert_round_trip(const WorkerStatus *in, bool stopping) {
        _cleanup_free_ char *text = NULL;
        _cleanup_(worker_status_done) WorkerStatus out = {};

        ck_assert_int_eq(worker_status_format(in, stopping, &text), 0);
        ck_assert_msg(strlen(text) <= WORKER_STATUS_TEXT_MAX, "%zu bytes", strlen(text));
        ck_assert_msg(!strchr(text, '\n'), "a newline in '%s'", text);
        ck_assert_int_eq(worker_status_parse(text, &out), 0);
        /* everything but the texts, which may be cut */
        WorkerStatus expected = *in;
        expected.failure = out.failure;
        expected.app_status = out.app_status;
        assert_status_eq(text, &out, &expected);
        ck_assert_int_eq(out.crashes, in->backing_off ? in->crashes : 0);
        ck_assert(!in->failure == !out.failure);
        ck_assert(!in->app_status == !out.app_status || !(in->serving.number || in->suspended.number));
}

START_TEST(test_format_round_trip) {
        WorkerStatus s = {
                .serving = GEN(4, 5120), .starting = GEN(5, 5200),
                .n_draining = 2, .draining = { GEN(3, 4242), GEN(2, 4000) },
                .failed = GEN(1, 3000), .failure = (char *) "exited with status 3 before it was ready",
                .app_status = (char *) "42 requests",
        };
        _cleanup_free_ char *text = NULL;

        ck_assert_int_eq(worker_status_format(&s, false, &text), 0);
        ck_assert_str_eq(text, "serving: generation 4, pid 5120 (42 requests); starting: generation 5, pid 5200; "
                               "draining: generation 3, pid 4242; draining: generation 2, pid 4000; "
                               "failed: generation 1, pid 3000: exited with status 3 before it was ready");
        assert_round_trip(&s, false);

        s = (WorkerStatus) { .queueing = true, .backing_off = true, .crashes = 3, .failure = (char *) "suspend refused: x" };
        free(text);
        ck_assert_int_eq(worker_status_format(&s, false, &text), 0);
        ck_assert_str_eq(text, "backing off after 3 crashes; suspended: queueing; failed: suspend refused: x");
        assert_round_trip(&s, false);

        s = (WorkerStatus) { .suspended = GEN(7, 70), .ready = GEN(8, 80), .backing_off = true, .crashes = 1 };
        assert_round_trip(&s, false);

        s = (WorkerStatus) {};
        free(text);
        ck_assert_int_eq(worker_status_format(&s, true, &text), 0);
        ck_assert_str_eq(text, "stopped");
        free(text);
        ck_assert_int_eq(worker_status_format(&s, false, &text), 0);
        ck_assert_str_eq(text, "starting");
}
END_TEST

START_TEST(test_format_bounded) {
        _cleanup_free_ char *app = malloc(100000), *why = malloc(100000), *text = NULL;
        _cleanup_(worker_status_done) WorkerStatus out = {};
        WorkerStatus s = { .serving = GEN(UINT64_MAX, 2147483647), .starting = GEN(UINT64_MAX - 1, 2147483646),
                           .ready = GEN(UINT64_MAX - 2, 2147483645), .n_draining = 1000000,
                           .failed = GEN(UINT64_MAX, 2147483647), .backing_off = true, .crashes = UINT32_MAX,
                           .queueing = true };

        /* An app that says a lot, with our separator, newlines and control characters in
         * it; a failure as long. */
        for (size_t i = 0; i < 99999; i++) {
                app[i] = "ab; \n\x1b\xc3\xa9"[i % 8];
                why[i] = "w; x\ny"[i % 6];
        }
        app[99999] = why[99999] = 0;
        for (unsigned i = 0; i < WORKER_STATUS_MAX_DRAINING; i++)
                s.draining[i] = GEN(UINT64_MAX - 10 - i, 2147483600);
        s.app_status = app;
        s.failure = why;

        ck_assert_int_eq(worker_status_format(&s, false, &text), 0);
        ck_assert_msg(strlen(text) <= WORKER_STATUS_TEXT_MAX, "%zu bytes", strlen(text));
        /* with "STATUS=", far below what systemd drops (PIPE_BUF) */
        ck_assert_uint_lt(strlen("STATUS=") + strlen(text), 4096);
        for (const char *p = text; *p; p++)
                ck_assert_msg((unsigned char) *p >= ' ', "control character 0x%02x at %td", (unsigned) (unsigned char) *p, p - text);
        ck_assert_int_eq(worker_status_parse(text, &out), 0);
        assert_gen_eq(text, "serving", out.serving, s.serving);
        ck_assert_uint_eq(out.n_draining, 1000000);
        assert_gen_eq(text, "failed", out.failed, s.failed);
        ck_assert(out.queueing && out.backing_off);
        ck_assert_uint_le(strlen(out.app_status), WORKER_STATUS_APP_MAX);
        ck_assert_str_eq(out.app_status + strlen(out.app_status) - 3, "...");
        ck_assert_uint_le(strlen(out.failure), WORKER_STATUS_FAILURE_MAX);
        ck_assert(!strstr(out.app_status, "; ") && !strstr(out.failure, "; "));
}
END_TEST

/* systemd empties StatusText for text that is not UTF-8: what an app sends is made so. */
START_TEST(test_format_utf8) {
        WorkerStatus s = { .serving = GEN(1, 2), .app_status = (char *) "ok \xc3\xa9 bad \xff\xfe \xc3 \xed\xa0\x80 c1 \xc2\x9b end",
                           .failure = (char *) "could not execute '/srv/\xe9t\xe9/app'" };
        _cleanup_free_ char *text = NULL;

        ck_assert_int_eq(worker_status_format(&s, false, &text), 0);
        ck_assert_str_eq(text, "serving: generation 1, pid 2 (ok \xc3\xa9 bad ?? ? ??? c1    end); "
                               "failed: could not execute '/srv/?t?/app'");
}
END_TEST

Suite *worker_status_suite(void) {
        Suite *s = suite_create("worker-status");
        TCase *tc;

        tc = tcase_create("items");
        tcase_add_loop_test(tc, test_item_case, 0, (int) ELEMENTSOF(item_cases));
        tcase_add_test(tc, test_null_text);
        tcase_add_loop_test(tc, test_ignored_item, 0, (int) ELEMENTSOF(ignored_items));
        tcase_add_test(tc, test_unknown_items_skipped);
        suite_add_tcase(s, tc);

        tc = tcase_create("combinations");
        tcase_add_loop_test(tc, test_combination, 0, (int) ELEMENTSOF(combination_cases));
        tcase_add_test(tc, test_draining_order_kept);
        tcase_add_test(tc, test_more_draining_than_kept);
        tcase_add_test(tc, test_separator);
        tcase_add_test(tc, test_last_failure_wins);
        suite_add_tcase(s, tc);

        tc = tcase_create("format");
        tcase_add_test(tc, test_format_round_trip);
        tcase_add_test(tc, test_format_bounded);
        tcase_add_test(tc, test_format_utf8);
        suite_add_tcase(s, tc);

        tc = tcase_create("current");
        tcase_add_test(tc, test_current);
        tcase_add_test(tc, test_done);
        suite_add_tcase(s, tc);

        return s;
}
