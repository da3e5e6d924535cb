/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The life of one app generation inside sockd-spawn, as an explicit table so every
 * edge can be tested:
 *
 *   STARTING --ready--> READY --promote--> SERVING
 *      |                  |                  |
 *      +------stop--------+-------stop-------+--> DRAINING --exit--> DEAD
 *      +------exit--------+-------exit-------+------------------------^
 *
 * READY is a generation that is up but not yet serving: it waits for the swap to be
 * committed (all-or-nothing restarts) while the old one still serves. */
typedef enum GenerationState {
        GENERATION_STARTING,
        GENERATION_READY,
        GENERATION_SERVING,
        GENERATION_DRAINING,
        GENERATION_DEAD,
        _GENERATION_STATE_MAX,
} GenerationState;

typedef enum GenerationEvent {
        GENERATION_EVENT_READY,   /* READY=1 or 'online' */
        GENERATION_EVENT_PROMOTE, /* becomes the one that serves */
        GENERATION_EVENT_STOP,    /* asked to stop (gracefully or killed) */
        GENERATION_EVENT_EXIT,    /* the process is gone */
        _GENERATION_EVENT_MAX,
} GenerationEvent;

const char *generation_state_to_string(GenerationState s);
const char *generation_event_to_string(GenerationEvent e);

/* The next state, or -EINVAL when the event makes no sense in that state (the caller
 * ignores it, e.g. a second READY=1 from a serving app is not an error). */
int generation_next_state(GenerationState s, GenerationEvent e);
