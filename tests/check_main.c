/*
 * The one test runner: adds every suite and returns nonzero if any test
 * fails.  Check reads CK_RUN_SUITE / CK_RUN_CASE (run one suite or case),
 * CK_FORK (fork per test by default), CK_VERBOSITY and CK_DEFAULT_TIMEOUT.
 * No OpenCL object is made here: each test makes its own after the fork.
 * H5CL_TEST_KEEP=1 keeps the temporary files.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check_util.h"

int main(void)
{
    SRunner *sr;
    int failed;

    if (tu_tmp_root_create() != 0) {
        perror("h5cl-tests: cannot make a temporary directory");
        return EXIT_FAILURE;
    }
    sr = srunner_create(util_suite());
    srunner_add_suite(sr, state_suite());
    srunner_add_suite(sr, errors_suite());
    srunner_add_suite(sr, device_suite());
    srunner_add_suite(sr, dataset_suite());
    srunner_add_suite(sr, stats_suite());
    srunner_add_suite(sr, axis_suite());
    srunner_add_suite(sr, run_suite());
    srunner_add_suite(sr, expr_suite());
    srunner_add_suite(sr, map_suite());
    srunner_add_suite(sr, hist_suite());
    srunner_add_suite(sr, cf_suite());
    srunner_add_suite(sr, direct_suite());
    srunner_add_suite(sr, cov_suite());
    srunner_add_suite(sr, guard_suite());
    srunner_add_suite(sr, scale_suite());
    srunner_add_suite(sr, isolate_suite());
    srunner_add_suite(sr, slots_suite());
    srunner_add_suite(sr, figures_suite());

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_tmp_root_remove();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
