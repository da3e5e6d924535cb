/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdio.h>

#include "generation.h"
#include "macro.h"
#include "test-util.h"

#define INVALID (-EINVAL)

/* The whole table, written out from the diagram in generation.h. */
static const int expected[_GENERATION_STATE_MAX][_GENERATION_EVENT_MAX] = {
        /*                        READY              PROMOTE             STOP                 EXIT */
        [GENERATION_STARTING] = { GENERATION_READY, INVALID,            GENERATION_DRAINING, GENERATION_DEAD },
        [GENERATION_READY]    = { INVALID,          GENERATION_SERVING, GENERATION_DRAINING, GENERATION_DEAD },
        [GENERATION_SERVING]  = { INVALID,          INVALID,            GENERATION_DRAINING, GENERATION_DEAD },
        [GENERATION_DRAINING] = { INVALID,          INVALID,            INVALID,             GENERATION_DEAD },
        [GENERATION_DEAD]     = { INVALID,          INVALID,            INVALID,             INVALID },
};

/* One loop iteration per cell: _i = state * events + event. */
START_TEST(test_transition_cell) {
        GenerationState s = (GenerationState) (_i / _GENERATION_EVENT_MAX);
        GenerationEvent e = (GenerationEvent) (_i % _GENERATION_EVENT_MAX);
        int r = generation_next_state(s, e);

        ck_assert_msg(r == expected[s][e], "%s --%s--> %d, expected %d", generation_state_to_string(s),
                      generation_event_to_string(e), r, expected[s][e]);
        if (r >= 0)
                ck_assert_int_lt(r, _GENERATION_STATE_MAX);
}
END_TEST

START_TEST(test_transition_out_of_range) {
        ck_assert_int_eq(generation_next_state(_GENERATION_STATE_MAX, GENERATION_EVENT_EXIT), -EINVAL);
        ck_assert_int_eq(generation_next_state((GenerationState) -1, GENERATION_EVENT_EXIT), -EINVAL);
        ck_assert_int_eq(generation_next_state(GENERATION_STARTING, _GENERATION_EVENT_MAX), -EINVAL);
        ck_assert_int_eq(generation_next_state(GENERATION_STARTING, (GenerationEvent) -1), -EINVAL);
}
END_TEST

START_TEST(test_paths_through_table) {
        /* The happy path of a swap and a crash before readiness. */
        static const GenerationEvent life[] = { GENERATION_EVENT_READY, GENERATION_EVENT_PROMOTE, GENERATION_EVENT_STOP,
                                                GENERATION_EVENT_EXIT };
        static const GenerationState states[] = { GENERATION_READY, GENERATION_SERVING, GENERATION_DRAINING,
                                                  GENERATION_DEAD };
        int s = GENERATION_STARTING;

        for (size_t i = 0; i < ELEMENTSOF(life); i++) {
                s = generation_next_state(s, life[i]);
                ck_assert_int_eq(s, states[i]);
        }
        ck_assert_int_eq(generation_next_state(GENERATION_STARTING, GENERATION_EVENT_EXIT), GENERATION_DEAD);

        /* Every state can reach DEAD; DEAD is final. */
        for (int st = 0; st < _GENERATION_STATE_MAX; st++) {
                int cur = st, steps = 0;

                while (cur != GENERATION_DEAD && steps++ < 10)
                        cur = generation_next_state(cur, GENERATION_EVENT_EXIT);
                ck_assert_int_eq(cur, GENERATION_DEAD);
        }
        for (int ev = 0; ev < _GENERATION_EVENT_MAX; ev++)
                ck_assert_int_eq(generation_next_state(GENERATION_DEAD, ev), -EINVAL);
}
END_TEST

START_TEST(test_to_string) {
        static const char *const states[] = { "starting", "ready", "serving", "draining", "dead" };
        static const char *const events[] = { "ready", "promote", "stop", "exit" };

        ck_assert_uint_eq(ELEMENTSOF(states), _GENERATION_STATE_MAX);
        ck_assert_uint_eq(ELEMENTSOF(events), _GENERATION_EVENT_MAX);
        for (int i = 0; i < _GENERATION_STATE_MAX; i++)
                ck_assert_pstr_eq(generation_state_to_string(i), states[i]);
        for (int i = 0; i < _GENERATION_EVENT_MAX; i++)
                ck_assert_pstr_eq(generation_event_to_string(i), events[i]);

        ck_assert_ptr_null(generation_state_to_string(_GENERATION_STATE_MAX));
        ck_assert_ptr_null(generation_state_to_string((GenerationState) -1));
        ck_assert_ptr_null(generation_event_to_string(_GENERATION_EVENT_MAX));
        ck_assert_ptr_null(generation_event_to_string((GenerationEvent) -1));
}
END_TEST

Suite *generation_suite(void) {
        Suite *s = suite_create("generation");
        TCase *tc;

        tc = tcase_create("table");
        tcase_add_loop_test(tc, test_transition_cell, 0, _GENERATION_STATE_MAX * _GENERATION_EVENT_MAX);
        tcase_add_test(tc, test_transition_out_of_range);
        tcase_add_test(tc, test_paths_through_table);
        suite_add_tcase(s, tc);

        tc = tcase_create("strings");
        tcase_add_test(tc, test_to_string);
        suite_add_tcase(s, tc);

        return s;
}
