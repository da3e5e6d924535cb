/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs one module's suite; meson builds one executable per tests/check-<module>.c with
 * -DTEST_SUITE=<module>_suite, so a failure names its module. CK_FORK (default: fork
 * per test), CK_RUN_CASE, CK_RUN_SUITE, CK_VERBOSITY work as documented by Check. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test-util.h"

#ifndef TEST_SUITE
#error "build with -DTEST_SUITE=<module>_suite"
#endif

int main(void) {
        const char *tmp = getenv("TMPDIR");
        char base[4096];
        SRunner *sr;
        int failed;

        /* Files the tests write must not depend on the caller's umask. */
        umask(0022);
        /* The config search path must come from the tests, never from the caller. */
        unsetenv("SOCKD_CONFIG_PATH");

        /* The tests' temporary directories go below one that is removed at the end,
         * also when a failed test skipped its teardown. */
        snprintf(base, sizeof base, "%s/sockd-check.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(base)) {
                fprintf(stderr, "mkdtemp(%s): %s\n", base, strerror(errno));
                return EXIT_FAILURE;
        }
        test_tmpdir_base = base;

        sr = srunner_create(TEST_SUITE());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        test_rm_rf(base);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
