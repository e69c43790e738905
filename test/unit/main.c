/*
 * main.c - runs every unit-test suite of the rules engine.
 *
 * Exit status is non-zero when any test fails.  Set CK_FORK=no to run the
 * tests in this process (sanitizers, valgrind).
 */
#include <stdlib.h>
#include "apr_general.h"
#include "helpers.h"

int main(void)
{
    SRunner *sr;
    int failed;

    if (apr_initialize() != APR_SUCCESS)
        return 2;
    sr = srunner_create(parse_suite());
    srunner_add_suite(sr, errors_suite());
    srunner_add_suite(sr, duplicates_suite());
    srunner_add_suite(sr, exact_suite());
    srunner_add_suite(sr, prefix_suite());
    srunner_add_suite(sr, query_suite());
    srunner_add_suite(sr, case_suite());
    srunner_add_suite(sr, trailing_suite());
    srunner_add_suite(sr, encoding_suite());
    srunner_add_suite(sr, location_suite());
    srunner_add_suite(sr, chains_suite());
    srunner_add_suite(sr, regressions_suite());
    srunner_add_suite(sr, diag_suite());
    srunner_add_suite(sr, ignore_suite());
    srunner_add_suite(sr, hosts_suite());
    srunner_add_suite(sr, windows_suite());
    srunner_add_suite(sr, pattern_suite());
    srunner_add_suite(sr, image_suite());
    srunner_add_suite(sr, record_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
