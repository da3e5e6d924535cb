/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs one module's suite; meson builds one executable per tests/check-<module>.c with
 * -DTEST_SUITE=<module>_suite, so a failure names its module. CK_FORK (default: fork
 * per test), CK_RUN_CASE, CK_RUN_SUITE, CK_VERBOSITY work as documented by Check. */
#include <check.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test-util.h"

#ifndef TEST_SUITE
#error "build with -DTEST_SUITE=<module>_suite"
#endif

int main(void) {
        SRunner *sr;
        int failed;

        /* Files the tests write must not depend on the caller's umask. */
        umask(0022);
        /* The config search path must come from the tests, never from the caller. */
        unsetenv("SOCKD_CONFIG_PATH");

        sr = srunner_create(TEST_SUITE());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
