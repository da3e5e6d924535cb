/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "bus-util.h"
#include "macro.h"
#include "parse-util.h"
#include "test-util.h"

/* The job handling against a fake systemd: a child process serves
 * org.freedesktop.systemd1.Manager on one end of a socketpair, peer to peer like the
 * manager's private socket, so no systemd and no D-Bus daemon is needed. Like systemd
 * it sends JobRemoved only once the client subscribed, and answers a second Subscribe()
 * with AlreadySubscribed. */

#define JOB_PREFIX "/org/freedesktop/systemd1/job/"
#define LATER_USEC (50 * USEC_PER_MSEC)

typedef enum FakeWhen {
        FAKE_AFTER_REPLY,  /* JobRemoved right after StartUnit's reply */
        FAKE_BEFORE_REPLY, /* ... right before it: the race systemctl guards against */
        FAKE_LATER,        /* ... LATER_USEC after the reply */
} FakeWhen;

typedef struct FakeJob {
        const char *unit;
        const char *result; /* NULL: the job never finishes */
        FakeWhen when;
} FakeJob;

typedef struct FakeConfig {
        const FakeJob *jobs;
        size_t n_jobs;
        /* Subscribe() fails with this error, NULL: it works once per connection. */
        const char *subscribe_error;
        /* Before every reply, JobRemoved of a job of someone else, of another job of
         * the same unit (an earlier one, say), and one with a signature that is not
         * JobRemoved's. */
        bool noise;
} FakeConfig;

/* ---- the fake manager (runs in the child) ---- */

typedef struct Pending {
        uint64_t when;
        uint32_t id;
        const FakeJob *job;
} Pending;

typedef struct Fake {
        const FakeConfig *config;
        bool subscribed;
        uint32_t last_id;
        Pending pending[64];
        size_t n_pending;
} Fake;

static int fake_job_removed(sd_bus *bus, Fake *f, uint32_t id, const char *unit, const char *result) {
        char path[64];

        if (!f->subscribed)
                return 0;
        snprintf(path, sizeof path, JOB_PREFIX "%" PRIu32, id);
        return sd_bus_emit_signal(bus, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved", "uoss", id, path, unit, result);
}

static int fake_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fake *f = userdata;

        if (f->config->subscribe_error)
                return sd_bus_error_set(error, f->config->subscribe_error, "Fake refusal.");
        if (f->subscribed)
                return sd_bus_error_set(error, "org.freedesktop.systemd1.AlreadySubscribed", "Client is already subscribed.");
        f->subscribed = true;
        return sd_bus_reply_method_return(m, NULL);
}

static int fake_start_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        Fake *f = userdata;
        const FakeJob *job = NULL;
        const char *name, *mode;
        char path[64];
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "ss", &name, &mode);
        if (r < 0)
                return r;
        for (size_t i = 0; i < f->config->n_jobs; i++)
                if (streq(f->config->jobs[i].unit, name))
                        job = &f->config->jobs[i];
        if (!job)
                return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found.", name);

        id = ++f->last_id;
        snprintf(path, sizeof path, JOB_PREFIX "%" PRIu32, id);

        if (f->config->noise) {
                r = fake_job_removed(bus, f, 1000 + id, "someone-elses.service", "failed");
                if (r >= 0)
                        r = fake_job_removed(bus, f, 2000 + id, name, "canceled");
                if (r >= 0 && f->subscribed)
                        r = sd_bus_emit_signal(bus, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved", "us", id, name);
                if (r < 0)
                        return r;
        }
        if (job->result && job->when == FAKE_BEFORE_REPLY) {
                r = fake_job_removed(bus, f, id, name, job->result);
                if (r < 0)
                        return r;
        }
        r = sd_bus_reply_method_return(m, "o", path);
        if (r < 0)
                return r;
        if (job->result && job->when == FAKE_AFTER_REPLY)
                return fake_job_removed(bus, f, id, name, job->result);
        if (job->result && job->when == FAKE_LATER) {
                if (f->n_pending >= ELEMENTSOF(f->pending))
                        return -ENOBUFS;
                f->pending[f->n_pending++] = (Pending) { .when = now_monotonic() + LATER_USEC, .id = id, .job = job };
        }
        return 1;
}

static const sd_bus_vtable fake_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Subscribe", "", "", fake_subscribe, 0),
        SD_BUS_METHOD("StartUnit", "ss", "o", fake_start_unit, 0),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

/* Serves @fd until the client hangs up; the exit status says whether all went well. */
_noreturn_ static void fake_manager_run(int fd, const FakeConfig *config) {
        Fake f = { .config = config };
        sd_bus *bus = NULL;
        sd_id128_t id;
        int r;

        if ((r = sd_id128_randomize(&id)) < 0 || (r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_fd(bus, fd, fd)) < 0 ||
            (r = sd_bus_set_server(bus, 1, id)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, SYSTEMD_PATH, SYSTEMD_MANAGER, fake_manager_vtable, &f)) < 0 ||
            (r = sd_bus_start(bus)) < 0) {
                fprintf(stderr, "fake manager: setup failed: %s\n", strerror(-r));
                _exit(EXIT_FAILURE);
        }

        for (;;) {
                uint64_t now, next = UINT64_MAX;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break; /* the client hung up */
                if (r > 0)
                        continue;

                now = now_monotonic();
                for (size_t i = 0; i < f.n_pending;)
                        if (f.pending[i].when <= now) {
                                r = fake_job_removed(bus, &f, f.pending[i].id, f.pending[i].job->unit,
                                                     f.pending[i].job->result);
                                if (r < 0)
                                        goto out; /* the client hung up, or a real error */
                                f.pending[i] = f.pending[--f.n_pending];
                        } else {
                                if (f.pending[i].when < next)
                                        next = f.pending[i].when;
                                i++;
                        }

                r = sd_bus_wait(bus, next == UINT64_MAX ? UINT64_MAX : next > now ? next - now : 0);
                if (r < 0 && r != -EINTR)
                        break;
        }
out:
        /* No cleanup: the sanitizers' leak check runs at exit(), not at _exit(). */
        if (r != -ENOTCONN && r != -ECONNRESET && r != -EPIPE)
                fprintf(stderr, "fake manager: %s\n", strerror(-r));
        _exit(r == -ENOTCONN || r == -ECONNRESET || r == -EPIPE ? EXIT_SUCCESS : EXIT_FAILURE);
}

/* ---- the client side (the test) ---- */

static sd_bus *bus;
static pid_t fake_pid;

static void fake_manager_start(const FakeConfig *config) {
        int fds[2], r;

        ck_assert_ptr_null(bus);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        fake_pid = fork();
        ck_assert_int_ge(fake_pid, 0);
        if (fake_pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(fds[0]);
                fake_manager_run(fds[1], config);
        }
        close(fds[1]);

        /* Not a bus client: no Hello(), no names, like systemctl on /run/systemd/private. */
        ck_assert_int_eq(sd_bus_new(&bus), 0);
        ck_assert_int_eq(sd_bus_set_fd(bus, fds[0], fds[0]), 0);
        r = sd_bus_start(bus);
        ck_assert_msg(r >= 0, "sd_bus_start: %s", strerror(-r));
        ck_assert_int_eq(sd_bus_is_bus_client(bus), 0);
}

/* Hangs up and checks that the fake manager saw nothing wrong. */
static void fake_manager_stop(void) {
        int status;

        bus = sd_bus_flush_close_unref(bus);
        if (fake_pid <= 0)
                return;
        ck_assert_int_eq(waitpid(fake_pid, &status, 0), fake_pid);
        fake_pid = 0;
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fake manager ended with status 0x%x", status);
}

static void teardown_fake(void) {
        /* After a failed assertion (CK_FORK=no): do not leave the child behind. */
        if (fake_pid > 0) {
                (void) kill(fake_pid, SIGKILL);
                (void) waitpid(fake_pid, NULL, 0);
                fake_pid = 0;
        }
        bus = sd_bus_flush_close_unref(bus);
}

#define FAKE(...)                                                                      \
        (&(const FakeConfig) {                                                         \
                .jobs = (const FakeJob[]) { __VA_ARGS__ },                             \
                .n_jobs = sizeof((const FakeJob[]) { __VA_ARGS__ }) / sizeof(FakeJob), \
        })

/* StartUnit(@unit, "replace") as sockdctl calls it; returns the job path. */
static char *start_unit(const char *unit) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *job;
        char *path;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "StartUnit", &error, &reply,
                               "ss", unit, "replace");
        ck_assert_msg(r >= 0, "StartUnit(%s): %s: %s", unit, strerror(-r), strempty(error.message));
        ck_assert_int_eq(sd_bus_message_read(reply, "o", &job), 1);
        ck_assert_str_startswith(job, JOB_PREFIX);
        path = strdup(job);
        ck_assert_ptr_nonnull(path);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        return path;
}

static void start_and_add(JobWaiter *w, const char *unit) {
        _cleanup_free_ char *job = start_unit(unit);

        ck_assert_int_eq(job_waiter_add(w, job, unit), 0);
}

static uint64_t wait_deadline(void) {
        /* Far enough for the sanitizers; a test that passes never waits for it. */
        return now_monotonic() + 10 * USEC_PER_SEC;
}

/* ---- jobs ---- */

START_TEST(test_job_removed_after_reply) {
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;

        fake_manager_start(FAKE({ "web@0.service", "done", FAKE_AFTER_REPLY }));
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        start_and_add(w, "web@0.service");
        ck_assert_int_eq(job_waiter_wait(w, wait_deadline()), 0);
        ck_assert_pstr_eq(job_waiter_result(w, "web@0.service"), "done");
        ck_assert_ptr_null(job_waiter_result(w, "web@1.service"));
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

START_TEST(test_job_removed_later) {
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        uint64_t start;

        fake_manager_start(FAKE({ "web@0.service", "failed", FAKE_LATER }));
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        start = now_monotonic();
        start_and_add(w, "web@0.service");
        /* Still running: no result yet. */
        ck_assert_ptr_null(job_waiter_result(w, "web@0.service"));
        ck_assert_int_eq(job_waiter_wait(w, wait_deadline()), 0);
        /* It slept until the signal came, it did not return early. */
        ck_assert_uint_ge(now_monotonic() - start, LATER_USEC);
        ck_assert_pstr_eq(job_waiter_result(w, "web@0.service"), "failed");
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

START_TEST(test_job_removed_before_reply) {
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;

        /* The signal is queued while the call waits for its reply. */
        fake_manager_start(FAKE({ "web@0.service", "done", FAKE_BEFORE_REPLY }));
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        start_and_add(w, "web@0.service");
        ck_assert_int_eq(job_waiter_wait(w, wait_deadline()), 0);
        ck_assert_pstr_eq(job_waiter_result(w, "web@0.service"), "done");
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

static void on_start_reply(sd_bus_message *reply, char **ret_job) {
        const char *job;

        ck_assert_msg(!sd_bus_message_is_method_error(reply, NULL), "StartUnit failed: %s",
                      sd_bus_message_get_error(reply)->message);
        ck_assert_int_eq(sd_bus_message_read(reply, "o", &job), 1);
        *ret_job = strdup(job);
        ck_assert_ptr_nonnull(*ret_job);
}

static int start_reply_handler(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        on_start_reply(reply, userdata);
        return 0;
}

static bool have_job(void *userdata) {
        return *(char **) userdata != NULL;
}

START_TEST(test_job_removed_before_reply_dispatched) {
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        _cleanup_free_ char *job = NULL;

        /* Asynchronously, the bus dispatches the signal before the reply: the job is
         * over before it is added, and the waiter has kept its result. */
        fake_manager_start(FAKE({ "web@0.service", "dependency", FAKE_BEFORE_REPLY }));
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        ck_assert_int_ge(sd_bus_call_method_async(bus, NULL, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                                  "StartUnit", start_reply_handler, &job, "ss", "web@0.service",
                                                  "replace"),
                         0);
        ck_assert_int_eq(bus_run_until(bus, have_job, &job, wait_deadline()), 0);

        ck_assert_int_eq(job_waiter_add(w, job, "web@0.service"), 0);
        ck_assert_pstr_eq(job_waiter_result(w, "web@0.service"), "dependency");
        /* Nothing left to wait for, even with a deadline already past. */
        ck_assert_int_eq(job_waiter_wait(w, now_monotonic()), 0);
        ck_assert_pstr_eq(job_waiter_result(w, "web@0.service"), "dependency");
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

START_TEST(test_several_jobs) {
        static const FakeJob jobs[] = {
                { "web@0.socket", "done", FAKE_BEFORE_REPLY },
                { "web@1.socket", "done", FAKE_AFTER_REPLY },
                { "web@0.service", "done", FAKE_LATER },
                { "web@1.service", "failed", FAKE_BEFORE_REPLY },
                { "web@2.service", "dependency", FAKE_LATER },
                { "web@3.service", "timeout", FAKE_AFTER_REPLY },
                { "web@4.service", "canceled", FAKE_LATER },
                { "web@5.service", "skipped", FAKE_BEFORE_REPLY },
        };
        const FakeConfig config = { .jobs = jobs, .n_jobs = ELEMENTSOF(jobs), .noise = true };
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;

        fake_manager_start(&config);
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                start_and_add(w, jobs[i].unit);
        ck_assert_int_eq(job_waiter_wait(w, wait_deadline()), 0);

        /* Each unit has its own job's result; other jobs' signals change nothing. */
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                ck_assert_msg(streq(strempty(job_waiter_result(w, jobs[i].unit)), jobs[i].result), "%s: %s, expected %s",
                              jobs[i].unit, strempty(job_waiter_result(w, jobs[i].unit)), jobs[i].result);
        ck_assert_ptr_null(job_waiter_result(w, "someone-elses.service"));
        ck_assert_ptr_null(job_waiter_result(w, "web@6.service"));
        ck_assert_ptr_null(job_waiter_result(w, ""));
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

START_TEST(test_job_never_finishes) {
        static const FakeJob jobs[] = {
                { "web@0.service", "done", FAKE_AFTER_REPLY },
                { "web@1.service", NULL, FAKE_AFTER_REPLY },
                { "web@2.service", "failed", FAKE_LATER },
        };
        const FakeConfig config = { .jobs = jobs, .n_jobs = ELEMENTSOF(jobs), .noise = true };
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        uint64_t deadline, end;

        fake_manager_start(&config);
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        for (size_t i = 0; i < ELEMENTSOF(jobs); i++)
                start_and_add(w, jobs[i].unit);

        deadline = now_monotonic() + 200 * USEC_PER_MSEC;
        ck_assert_int_eq(job_waiter_wait(w, deadline), -ETIMEDOUT);
        end = now_monotonic();
        ck_assert_uint_ge(end, deadline);
        ck_assert_msg(end - deadline < 2 * USEC_PER_SEC, "returned %" PRIu64 "us after the deadline", end - deadline);

        /* The ones that finished meanwhile have their results, the other none. */
        ck_assert_pstr_eq(job_waiter_result(w, "web@0.service"), "done");
        ck_assert_ptr_null(job_waiter_result(w, "web@1.service"));
        ck_assert_pstr_eq(job_waiter_result(w, "web@2.service"), "failed");

        /* A deadline already past: -ETIMEDOUT at once. */
        deadline = now_monotonic();
        ck_assert_int_eq(job_waiter_wait(w, deadline), -ETIMEDOUT);
        ck_assert_uint_lt(now_monotonic() - deadline, 1 * USEC_PER_SEC);
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

START_TEST(test_no_jobs) {
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;

        fake_manager_start(FAKE({ "web@0.service", "done", FAKE_AFTER_REPLY }));
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        ck_assert_int_eq(job_waiter_wait(w, now_monotonic()), 0);
        ck_assert_ptr_null(job_waiter_result(w, "web@0.service"));
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

START_TEST(test_manager_goes_away) {
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        uint64_t start;
        int r, status;

        fake_manager_start(FAKE({ "web@0.service", NULL, FAKE_AFTER_REPLY }));
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        start_and_add(w, "web@0.service");
        ck_assert_int_eq(kill(fake_pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(fake_pid, &status, 0), fake_pid);
        fake_pid = 0;

        /* An error at once, not a wait until the deadline. */
        start = now_monotonic();
        r = job_waiter_wait(w, wait_deadline());
        ck_assert_msg(r < 0 && r != -ETIMEDOUT, "job_waiter_wait: %d", r);
        ck_assert_uint_lt(now_monotonic() - start, 5 * USEC_PER_SEC);
        ck_assert_ptr_null(job_waiter_result(w, "web@0.service"));
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

/* ---- Subscribe() ---- */

START_TEST(test_subscribe_already_subscribed) {
        _cleanup_(job_waiter_freep) JobWaiter *w1 = NULL, *w2 = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        fake_manager_start(FAKE({ "web@0.service", "done", FAKE_AFTER_REPLY },
                                { "web@1.service", "failed", FAKE_LATER }));
        ck_assert_int_eq(job_waiter_new(bus, &w1), 0);
        /* The fake refuses a second Subscribe() as systemd does... */
        ck_assert_int_lt(sd_bus_call_method(bus, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe",
                                            &error, NULL, ""),
                         0);
        ck_assert(sd_bus_error_has_name(&error, "org.freedesktop.systemd1.AlreadySubscribed"));
        sd_bus_error_free(&error);
        /* ... and a second waiter on the same bus does not mind. */
        ck_assert_int_eq(job_waiter_new(bus, &w2), 0);

        /* Both see the jobs they were given. */
        start_and_add(w1, "web@0.service");
        start_and_add(w2, "web@1.service");
        ck_assert_int_eq(job_waiter_wait(w1, wait_deadline()), 0);
        ck_assert_int_eq(job_waiter_wait(w2, wait_deadline()), 0);
        ck_assert_pstr_eq(job_waiter_result(w1, "web@0.service"), "done");
        ck_assert_ptr_null(job_waiter_result(w1, "web@1.service"));
        ck_assert_pstr_eq(job_waiter_result(w2, "web@1.service"), "failed");
        ck_assert_ptr_null(job_waiter_result(w2, "web@0.service"));

        /* A freed waiter's match is gone: the other one goes on alone. */
        w1 = job_waiter_free(w1);
        start_and_add(w2, "web@0.service");
        ck_assert_int_eq(job_waiter_wait(w2, wait_deadline()), 0);
        ck_assert_pstr_eq(job_waiter_result(w2, "web@0.service"), "done");
        w2 = job_waiter_free(w2);
        fake_manager_stop();
}
END_TEST

START_TEST(test_subscribe_already_subscribed_first) {
        const FakeConfig config = { .subscribe_error = "org.freedesktop.systemd1.AlreadySubscribed" };
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;

        fake_manager_start(&config);
        ck_assert_int_eq(job_waiter_new(bus, &w), 0);
        ck_assert_ptr_nonnull(w);
        w = job_waiter_free(w);
        fake_manager_stop();
}
END_TEST

static const struct {
        const char *error;
        int code;
} subscribe_errors[] = {
        { "org.freedesktop.DBus.Error.AccessDenied", -EACCES },
        { "org.freedesktop.DBus.Error.UnknownMethod", -EBADR },
        /* Names without an errno of their own, one of them close to the tolerated one. */
        { "com.example.Fake.Refused", -EIO },
        { "org.freedesktop.systemd1.AlreadySubscribedX", -EIO },
};

START_TEST(test_subscribe_error) {
        const FakeConfig config = { .subscribe_error = subscribe_errors[_i].error };
        JobWaiter *w = (JobWaiter *) &config; /* a sentinel: must stay untouched */
        int r;

        fake_manager_start(&config);
        r = job_waiter_new(bus, &w);
        ck_assert_msg(r == subscribe_errors[_i].code, "%s: job_waiter_new returned %d, expected %d",
                      subscribe_errors[_i].error, r, subscribe_errors[_i].code);
        ck_assert_ptr_eq(w, &config);
        fake_manager_stop();
}
END_TEST

/* ---- bus_run_until and small helpers ---- */

static bool at_once(void *userdata) {
        ++*(unsigned *) userdata;
        return true;
}

static bool never(void *userdata) {
        ++*(unsigned *) userdata;
        return false;
}

START_TEST(test_run_until) {
        uint64_t deadline, end;
        unsigned calls = 0;

        fake_manager_start(FAKE({ "web@0.service", "done", FAKE_AFTER_REPLY }));

        /* Done at once: no waiting, also with a deadline already past. */
        ck_assert_int_eq(bus_run_until(bus, at_once, &calls, now_monotonic()), 0);
        ck_assert_uint_eq(calls, 1);

        /* Never done: -ETIMEDOUT at the deadline, sleeping rather than spinning. */
        calls = 0;
        deadline = now_monotonic() + 200 * USEC_PER_MSEC;
        ck_assert_int_eq(bus_run_until(bus, never, &calls, deadline), -ETIMEDOUT);
        end = now_monotonic();
        ck_assert_uint_ge(end, deadline);
        ck_assert_uint_lt(end - deadline, 2 * USEC_PER_SEC);
        ck_assert_uint_lt(calls, 100);

        fake_manager_stop();
}
END_TEST

START_TEST(test_sender_and_clock) {
        uint64_t a, b;

        fake_manager_start(FAKE({ "web@0.service", "done", FAKE_AFTER_REPLY }));
        /* Peer to peer there are no names: matches must not ask for one. */
        ck_assert_ptr_null(bus_systemd_sender(bus));
        fake_manager_stop();

        a = now_monotonic();
        ck_assert_int_eq(usleep(20000), 0);
        b = now_monotonic();
        ck_assert_uint_ge(b - a, 20 * USEC_PER_MSEC);
        ck_assert_uint_lt(b - a, 10 * USEC_PER_SEC);
        ck_assert_ptr_null(job_waiter_free(NULL));
}
END_TEST

START_TEST(test_job_result_explain) {
        static const struct {
                const char *result, *text;
        } cases[] = {
                { "done", "done" },
                { "failed", "failed" },
                { "timeout", "timed out" },
                { "canceled", "was canceled by another job" },
                { "dependency", "a unit it depends on failed" },
                { "skipped", "was skipped: nothing to do in its state" },
                { "invalid", "cannot be done in the unit's state" },
                { "assert", "an assertion of the unit failed" },
                { "unsupported", "is not supported by the unit" },
                { "collected", "was garbage-collected" },
                { "once", "was refused: the unit may only be started once" },
        };
        const char *unknown = "a-result-from-the-future";

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_pstr_eq(job_result_explain(cases[i].result), cases[i].text);
        /* Unknown ones are shown as systemd wrote them. */
        ck_assert_ptr_eq(job_result_explain(unknown), unknown);
        ck_assert_pstr_eq(job_result_explain(""), "");
        ck_assert_pstr_eq(job_result_explain("Done"), "Done");
}
END_TEST

Suite *bus_util_suite(void) {
        Suite *s = suite_create("bus-util");
        TCase *tc;

        tc = tcase_create("jobs");
        tcase_add_checked_fixture(tc, NULL, teardown_fake);
        tcase_add_test(tc, test_job_removed_after_reply);
        tcase_add_test(tc, test_job_removed_later);
        tcase_add_test(tc, test_job_removed_before_reply);
        tcase_add_test(tc, test_job_removed_before_reply_dispatched);
        tcase_add_test(tc, test_several_jobs);
        tcase_add_test(tc, test_job_never_finishes);
        tcase_add_test(tc, test_no_jobs);
        tcase_add_test(tc, test_manager_goes_away);
        suite_add_tcase(s, tc);

        tc = tcase_create("subscribe");
        tcase_add_checked_fixture(tc, NULL, teardown_fake);
        tcase_add_test(tc, test_subscribe_already_subscribed);
        tcase_add_test(tc, test_subscribe_already_subscribed_first);
        tcase_add_loop_test(tc, test_subscribe_error, 0, (int) ELEMENTSOF(subscribe_errors));
        suite_add_tcase(s, tc);

        tc = tcase_create("helpers");
        tcase_add_checked_fixture(tc, NULL, teardown_fake);
        tcase_add_test(tc, test_run_until);
        tcase_add_test(tc, test_sender_and_clock);
        tcase_add_test(tc, test_job_result_explain);
        suite_add_tcase(s, tc);

        return s;
}
