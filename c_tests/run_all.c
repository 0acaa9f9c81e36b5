/*
 * run_all.c: a `main` for the C suites, for builds outside cargo (sanitizers, valgrind:
 * see scripts/check-c-sanitizers.sh). Not compiled by build.rs.
 *
 *     run_all              runs every suite
 *     run_all threads ...  runs the suites named
 *
 * Exits 0 when every check passed, 1 when some failed, 2 on an unknown suite name.
 * A new suite is added here too; the script fails when a test_*.c entry point is missing.
 */

#include <stdio.h>
#include <string.h>

int ma_ctest_core(void);
int ma_ctest_errors(void);
int ma_ctest_realloc(void);
int ma_ctest_align(void);
int ma_ctest_walk(void);
int ma_ctest_threads(void);
int ma_ctest_model(void);
int ma_ctest_conformance(void);
int ma_ctest_stress(void);
int ma_ctest_placement(void);
int ma_ctest_snapshots(void);

static const struct suite {
    const char *name;
    int (*run)(void);
} suites[] = {
    {"core", ma_ctest_core},
    {"errors", ma_ctest_errors},
    {"realloc", ma_ctest_realloc},
    {"align", ma_ctest_align},
    {"walk", ma_ctest_walk},
    {"threads", ma_ctest_threads},
    {"model", ma_ctest_model},
    {"conformance", ma_ctest_conformance},
    {"stress", ma_ctest_stress},
    {"placement", ma_ctest_placement},
    {"snapshots", ma_ctest_snapshots},
};

#define SUITE_COUNT (sizeof suites / sizeof suites[0])

static const struct suite *find(const char *name) {
    for (size_t i = 0; i < SUITE_COUNT; i++) {
        if (strcmp(suites[i].name, name) == 0) return &suites[i];
    }
    return NULL;
}

int main(int argc, char **argv) {
    int failed = 0, suites_failed = 0, ran = 0;
    for (int i = 1; i < argc; i++) {
        if (!find(argv[i])) {
            fprintf(stderr, "run_all: unknown suite %s\n", argv[i]);
            return 2;
        }
    }
    for (size_t i = 0; i < SUITE_COUNT; i++) {
        int selected = argc == 1;
        for (int j = 1; j < argc; j++) selected |= strcmp(argv[j], suites[i].name) == 0;
        if (!selected) continue;
        int f = suites[i].run();
        ran++;
        failed += f;
        suites_failed += f != 0;
    }
    printf("run_all: %d suites, %d failed checks in %d suites\n", ran, failed, suites_failed);
    return failed ? 1 : 0;
}
