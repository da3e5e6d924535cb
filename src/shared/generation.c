/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>

#include "generation.h"

static const char *const state_names[_GENERATION_STATE_MAX] = {
        [GENERATION_STARTING] = "starting",
        [GENERATION_READY] = "ready",
        [GENERATION_SERVING] = "serving",
        [GENERATION_DRAINING] = "draining",
        [GENERATION_DEAD] = "dead",
};

static const char *const event_names[_GENERATION_EVENT_MAX] = {
        [GENERATION_EVENT_READY] = "ready",
        [GENERATION_EVENT_PROMOTE] = "promote",
        [GENERATION_EVENT_STOP] = "stop",
        [GENERATION_EVENT_EXIT] = "exit",
};

/* -1: not a valid transition. */
static const int transitions[_GENERATION_STATE_MAX][_GENERATION_EVENT_MAX] = {
        [GENERATION_STARTING] = {
                [GENERATION_EVENT_READY] = GENERATION_READY,
                [GENERATION_EVENT_PROMOTE] = -1,
                [GENERATION_EVENT_STOP] = GENERATION_DRAINING,
                [GENERATION_EVENT_EXIT] = GENERATION_DEAD,
        },
        [GENERATION_READY] = {
                [GENERATION_EVENT_READY] = -1,
                [GENERATION_EVENT_PROMOTE] = GENERATION_SERVING,
                [GENERATION_EVENT_STOP] = GENERATION_DRAINING,
                [GENERATION_EVENT_EXIT] = GENERATION_DEAD,
        },
        [GENERATION_SERVING] = {
                [GENERATION_EVENT_READY] = -1,
                [GENERATION_EVENT_PROMOTE] = -1,
                [GENERATION_EVENT_STOP] = GENERATION_DRAINING,
                [GENERATION_EVENT_EXIT] = GENERATION_DEAD,
        },
        [GENERATION_DRAINING] = {
                [GENERATION_EVENT_READY] = -1,
                [GENERATION_EVENT_PROMOTE] = -1,
                [GENERATION_EVENT_STOP] = -1,
                [GENERATION_EVENT_EXIT] = GENERATION_DEAD,
        },
        [GENERATION_DEAD] = {
                [GENERATION_EVENT_READY] = -1,
                [GENERATION_EVENT_PROMOTE] = -1,
                [GENERATION_EVENT_STOP] = -1,
                [GENERATION_EVENT_EXIT] = -1,
        },
};

const char *generation_state_to_string(GenerationState s) {
        return s >= 0 && s < _GENERATION_STATE_MAX ? state_names[s] : NULL;
}

const char *generation_event_to_string(GenerationEvent e) {
        return e >= 0 && e < _GENERATION_EVENT_MAX ? event_names[e] : NULL;
}

int generation_next_state(GenerationState s, GenerationEvent e) {
        if (s < 0 || s >= _GENERATION_STATE_MAX || e < 0 || e >= _GENERATION_EVENT_MAX)
                return -EINVAL;
        return transitions[s][e] < 0 ? -EINVAL : transitions[s][e];
}
