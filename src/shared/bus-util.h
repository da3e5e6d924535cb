/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define SYSTEMD_DESTINATION "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_SERVICE "org.freedesktop.systemd1.Service"
#define SYSTEMD_SOCKET "org.freedesktop.systemd1.Socket"

typedef enum BusTransport {
        BUS_TRANSPORT_LOCAL,
        BUS_TRANSPORT_REMOTE,  /* -H [USER@]HOST: ssh + systemd-stdio-bridge */
        BUS_TRANSPORT_MACHINE, /* -M MACHINE: a local container */
} BusTransport;

/* The bus systemd talks on: system or user manager, here, over ssh or in a container. */
int bus_connect_transport(BusTransport transport, const char *host, bool user, sd_bus **ret);

/* Manager.Subscribe(): systemd emits its signals (JobRemoved, PropertiesChanged) on the
 * system bus only while some client is subscribed. Call it before the requests whose
 * answers come as signals. */
int bus_subscribe(sd_bus *bus);

/* Waits for systemd jobs the way systemctl does: Subscribe() and the JobRemoved match
 * come first (job_waiter_new), then the jobs are queued and added, then the bus is
 * processed until every job is gone. No polling: sd_bus_wait() sleeps until a message
 * arrives. */
typedef struct JobWaiter JobWaiter;

int job_waiter_new(sd_bus *bus, JobWaiter **ret);
JobWaiter *job_waiter_free(JobWaiter *w);
int job_waiter_add(JobWaiter *w, const char *job_path, const char *unit);
/* 0 when every job is done, -ETIMEDOUT at @deadline (CLOCK_MONOTONIC usec). */
int job_waiter_wait(JobWaiter *w, uint64_t deadline);
/* The JobRemoved result of the job for @unit ("done", "failed", "timeout", "canceled",
 * "dependency", "skipped"), NULL while it runs or if there was none. */
const char *job_waiter_result(const JobWaiter *w, const char *unit);
/* One line for a result: what happened, in words. */
const char *job_result_explain(const char *result);

static inline void job_waiter_freep(JobWaiter **w) {
        job_waiter_free(*w);
}

/* Runs the bus until @done(userdata) says so or @deadline passes (-ETIMEDOUT). */
int bus_run_until(sd_bus *bus, bool (*done)(void *userdata), void *userdata, uint64_t deadline);
/* The same over several buses at once (one per host): each is processed as its messages
 * come, one poll() sleeps on all of them. */
int buses_run_until(sd_bus *const *buses, size_t n, bool (*done)(void *userdata), void *userdata, uint64_t deadline);
/* True once every job added has its JobRemoved. */
bool job_waiter_done(const JobWaiter *w);

uint64_t now_monotonic(void);

/* Signals from systemd carry its bus name, but not on the manager's private socket
 * (peer to peer, no names): the sender to match on, or NULL. */
const char *bus_systemd_sender(sd_bus *bus);

/* A message for a failed bus call that tells the user what to do. */
const char *bus_error_hint(const sd_bus_error *error, int r);
