/*
 * ctest.c: counters, case names and failure reports for the C suites (see ctest.h).
 */

#include "ctest.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int passed;
static atomic_int failed;
static char current_case[160];

void ctest_begin(const char *suite) {
    atomic_store(&passed, 0);
    atomic_store(&failed, 0);
    current_case[0] = '\0';
    printf("C suite %s\n", suite);
    fflush(stdout);
}

int ctest_end(void) {
    int p = atomic_load(&passed);
    int f = atomic_load(&failed);
    printf("%d passed, %d failed\n", p, f);
    fflush(stdout);
    return f;
}

void ctest_case(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(current_case, sizeof current_case, format, args);
    va_end(args);
}

/* The file name without its directory: the compiler sees absolute paths. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int ctest_record(int ok, const char *file, int line, const char *expr, const char *details) {
    if (ok) {
        atomic_fetch_add(&passed, 1);
        return 1;
    }
    atomic_fetch_add(&failed, 1);
    printf("%s:%d: [%s] check failed: %s%s%s%s\n", base_name(file), line, current_case, expr,
           details ? " (" : "", details ? details : "", details ? ")" : "");
    fflush(stdout);
    return 0;
}

int ctest_check_size(size_t got, size_t want, const char *file, int line, const char *expr) {
    char details[96];
    snprintf(details, sizeof details, "got %zu, want %zu", got, want);
    return ctest_record(got == want, file, line, expr, details);
}

const char *ctest_status_name(ma_status s) {
    switch (s) {
    case MA_OK: return "MA_OK";
    case MA_ERR_NULL_POINTER: return "MA_ERR_NULL_POINTER";
    case MA_ERR_INVALID_SIZE: return "MA_ERR_INVALID_SIZE";
    case MA_ERR_OUT_OF_MEMORY: return "MA_ERR_OUT_OF_MEMORY";
    case MA_ERR_INVALID_ADDRESS: return "MA_ERR_INVALID_ADDRESS";
    case MA_ERR_NOT_ALLOCATED: return "MA_ERR_NOT_ALLOCATED";
    case MA_ERR_SIZE_MISMATCH: return "MA_ERR_SIZE_MISMATCH";
    case MA_ERR_INVALID_ALIGNMENT: return "MA_ERR_INVALID_ALIGNMENT";
    case MA_ERR_INVALID_ARGUMENT: return "MA_ERR_INVALID_ARGUMENT";
    case MA_ERR_INTERNAL: return "MA_ERR_INTERNAL";
    case MA_ERR_OCCUPIED: return "MA_ERR_OCCUPIED";
    case MA_ERR_BUFFER_TOO_SMALL: return "MA_ERR_BUFFER_TOO_SMALL";
    case MA_ERR_BAD_SNAPSHOT: return "MA_ERR_BAD_SNAPSHOT";
    default: return "unknown";
    }
}

int ctest_check_status(ma_status got, ma_status want, const char *file, int line, const char *expr) {
    char details[128];
    snprintf(details, sizeof details, "got %s (%d), want %s (%d)", ctest_status_name(got), (int)got,
             ctest_status_name(want), (int)want);
    return ctest_record(got == want, file, line, expr, details);
}

int ctest_check_str(const char *got, const char *want, const char *file, int line, const char *expr) {
    char details[192];
    snprintf(details, sizeof details, "got \"%.80s\", want \"%.80s\"", got ? got : "(null)", want ? want : "(null)");
    return ctest_record(got != NULL && want != NULL && strcmp(got, want) == 0, file, line, expr, details);
}
