/*
 * ctest.h: a tiny test framework for the C suites of memalloc.
 *
 * A suite is one .c file with one entry point, `int ma_ctest_NAME(void)`, that calls
 * ctest_begin, runs its cases, and returns ctest_end(): the number of failed checks.
 * ctest_end prints the closing line "N passed, N failed"; every failed check prints one
 * line "file:line: [case] check failed: EXPRESSION (details)".
 *
 * Counters are atomic, so worker threads may check too; the Rust side runs one suite at
 * a time so that their output does not interleave.
 */

#ifndef CTEST_H
#define CTEST_H

#include <stddef.h>
#include <stdint.h>

#include "memalloc.h"

/* Resets the counters and prints the suite's name. */
void ctest_begin(const char *suite);

/* Prints "N passed, N failed" and returns the number of failed checks. */
int ctest_end(void);

/* Names the case that the following checks belong to; printf-style, shown on failures. */
void ctest_case(const char *format, ...);

/* Records one check; on failure prints file:line, the case, the expression and, when
   `details` is not NULL, the details. Returns `ok`. */
int ctest_record(int ok, const char *file, int line, const char *expr, const char *details);

/* The checks behind the macros below; each returns whether it passed. */
int ctest_check_size(size_t got, size_t want, const char *file, int line, const char *expr);
int ctest_check_status(ma_status got, ma_status want, const char *file, int line, const char *expr);
int ctest_check_str(const char *got, const char *want, const char *file, int line, const char *expr);

/* The name of a status code, e.g. "MA_ERR_OUT_OF_MEMORY" ("unknown" for other values). */
const char *ctest_status_name(ma_status s);

/* A value no call should ever write: out-parameters are pre-filled with it to show that a
   failed call left them alone. */
#define CTEST_SENTINEL ((size_t)0xDEADBEEFu)

/* `expr` is true. */
#define CHECK(expr) ctest_record((expr) != 0, __FILE__, __LINE__, #expr, NULL)

/* Two size_t values are equal; prints both on failure. */
#define CHECK_SIZE(got, want) ctest_check_size((size_t)(got), (size_t)(want), __FILE__, __LINE__, #got " == " #want)

/* A call returns the status `want`; prints both names on failure. */
#define CHECK_STATUS(call, want) ctest_check_status((call), (want), __FILE__, __LINE__, #call " == " #want)

/* Two C strings are equal (NULL counts as a failure). */
#define CHECK_STR(got, want) ctest_check_str((got), (want), __FILE__, __LINE__, #got " == " #want)

#endif /* CTEST_H */
