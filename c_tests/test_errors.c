/*
 * test_errors.c: every status code, and the check order of API.md for every function
 * ("first failing wins"), shown with arguments that are bad in more than one way. After
 * every error the allocator's stats and whole map are as before, and every out-parameter
 * still holds the sentinel it was filled with. Also: ma_create, ma_options_init,
 * ma_status_str and ma_version.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* The values are part of the ABI. */
_Static_assert(MA_OK == 0, "MA_OK");
_Static_assert(MA_ERR_NULL_POINTER == 1, "MA_ERR_NULL_POINTER");
_Static_assert(MA_ERR_INVALID_SIZE == 2, "MA_ERR_INVALID_SIZE");
_Static_assert(MA_ERR_OUT_OF_MEMORY == 3, "MA_ERR_OUT_OF_MEMORY");
_Static_assert(MA_ERR_INVALID_ADDRESS == 4, "MA_ERR_INVALID_ADDRESS");
_Static_assert(MA_ERR_NOT_ALLOCATED == 5, "MA_ERR_NOT_ALLOCATED");
_Static_assert(MA_ERR_SIZE_MISMATCH == 6, "MA_ERR_SIZE_MISMATCH");
_Static_assert(MA_ERR_INVALID_ALIGNMENT == 7, "MA_ERR_INVALID_ALIGNMENT");
_Static_assert(MA_ERR_INVALID_ARGUMENT == 8, "MA_ERR_INVALID_ARGUMENT");
_Static_assert(MA_ERR_INTERNAL == 9, "MA_ERR_INTERNAL");
_Static_assert(sizeof(ma_status) == 4, "ma_status is a 32-bit integer");
_Static_assert((ma_status)-1 < 0, "ma_status is int32_t");
_Static_assert(MA_POLICY_FIRST_FIT == 0 && MA_POLICY_BEST_FIT == 1, "policies");
_Static_assert(MA_POLICY_TLSF == 2 && MA_POLICY_BUDDY == 3, "policies");
_Static_assert(MA_BLOCK_FREE == 0 && MA_BLOCK_ALLOCATED == 1 && MA_BLOCK_PADDING == 2, "block kinds");

/* A pointer value no call should ever write to an ma_allocator ** out-parameter. */
static char handle_sentinel_storage;
#define HANDLE_SENTINEL ((ma_allocator *)(void *)&handle_sentinel_storage)

/* Capacity 100 after step 5 of the worked example:
   [Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]. */
static ma_allocator *example_state(const ctest_policy *p) {
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return NULL;
    CHECK_ALLOC(a, 20, 0);
    CHECK_ALLOC(a, 30, 20);
    CHECK_ALLOC(a, 40, 50);
    CHECK_OK(a, ma_free(a, 20, 30));
    CHECK_ALLOC(a, 25, 20);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40), FREE(90, 10));
    return a;
}

static void status_texts(void) {
    ctest_case("ma_status_str");
    const char *known[10];
    for (ma_status s = 0; s <= MA_ERR_INTERNAL; s++) {
        known[s] = ma_status_str(s);
        CHECK(known[s] != NULL);
        if (known[s]) CHECK(strlen(known[s]) > 0);
    }
    for (int i = 0; i < 10; i++) {
        for (int j = i + 1; j < 10; j++) {
            if (known[i] && known[j] && !ctest_record(strcmp(known[i], known[j]) != 0, __FILE__, __LINE__,
                                                       "distinct texts for distinct codes", NULL)) {
                printf("    codes %d and %d: \"%s\"\n", i, j, known[i]);
            }
        }
    }
    const ma_status unknown[] = {10, 11, 100, 12345, -1, -9, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *text = ma_status_str(unknown[i]);
        ctest_case("ma_status_str(%d)", (int)unknown[i]);
        CHECK(text != NULL);
        if (!text) continue;
        CHECK(strlen(text) > 0);
        for (int j = 0; j < 10; j++) {
            if (known[j]) CHECK(strcmp(text, known[j]) != 0); /* never mistaken for a known code */
        }
    }
    ctest_case("ma_status_str is static");
    CHECK(ma_status_str(MA_ERR_OUT_OF_MEMORY) == ma_status_str(MA_ERR_OUT_OF_MEMORY));
}

static void version(void) {
    ctest_case("ma_version");
    const char *v = ma_version();
    CHECK(v != NULL);
    CHECK_STR(v, MA_VERSION_STRING);
    char from_macros[64];
    snprintf(from_macros, sizeof from_macros, "%d.%d.%d", MA_VERSION_MAJOR, MA_VERSION_MINOR, MA_VERSION_PATCH);
    CHECK_STR(v, from_macros);
    CHECK_STR(MA_VERSION_STRING, from_macros);
    CHECK(ma_version() == v);
}

static void create(void) {
    ctest_case("ma_create");
    CHECK(ma_create(0) == NULL);
    ma_allocator *a = ma_create(1);
    CHECK(a != NULL);
    ma_destroy(a);
    ma_destroy(NULL); /* a no-op */

    ctest_case("ma_options_init");
    ma_options_init(NULL); /* a no-op */
    ma_options opts;
    memset(&opts, 0xA5, sizeof opts);
    ma_options_init(&opts);
    CHECK_SIZE(opts.struct_size, sizeof(ma_options));
    CHECK_SIZE(opts.capacity, 0);
    CHECK(opts.policy == MA_POLICY_FIRST_FIT);
    CHECK_SIZE(opts.min_alignment, 1);
}

/* ma_create_with(opts, &out) fails with `want` and leaves `out` alone. */
#define CHECK_CREATE_FAILS(opts, want)                                                              \
    do {                                                                                            \
        ma_allocator *out_ = HANDLE_SENTINEL;                                                       \
        CHECK_STATUS(ma_create_with((opts), &out_), (want));                                        \
        CHECK(out_ == HANDLE_SENTINEL);                                                             \
    } while (0)

static ma_options valid_options(void) {
    ma_options opts;
    ma_options_init(&opts);
    opts.capacity = 100;
    return opts;
}

static void create_with(void) {
    ctest_case("ma_create_with: NULL first");
    ma_options opts = valid_options();
    ma_allocator *out = HANDLE_SENTINEL;
    CHECK_STATUS(ma_create_with(NULL, &out), MA_ERR_NULL_POINTER);
    CHECK(out == HANDLE_SENTINEL);
    CHECK_STATUS(ma_create_with(&opts, NULL), MA_ERR_NULL_POINTER);
    CHECK_STATUS(ma_create_with(NULL, NULL), MA_ERR_NULL_POINTER);
    ma_options worst;
    ma_options_init(&worst);
    worst.struct_size = 0;
    worst.capacity = 0;
    worst.policy = UINT32_MAX;
    worst.min_alignment = 0;
    CHECK_STATUS(ma_create_with(&worst, NULL), MA_ERR_NULL_POINTER); /* NULL beats every bad field */

    ctest_case("ma_create_with: struct_size");
    opts = valid_options();
    opts.struct_size = 0;
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    opts.min_alignment = 0; /* struct_size is checked before min_alignment */
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    const size_t too_small[] = {1, offsetof(ma_options, min_alignment), sizeof(ma_options) - 1};
    for (size_t i = 0; i < sizeof too_small / sizeof too_small[0]; i++) {
        ctest_case("ma_create_with: struct_size %zu", too_small[i]);
        opts = valid_options();
        opts.struct_size = too_small[i];
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
        opts.min_alignment = 3;
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    }

    ctest_case("ma_create_with: capacity 0");
    opts = valid_options();
    opts.capacity = 0;
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    opts.min_alignment = 3; /* capacity is checked before min_alignment */
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);

    /* 2 (TLSF) and 3 (buddy) are valid values; they are tested when they land. */
    const uint32_t unknown_policies[] = {4, 5, 100, 0x80000000u, UINT32_MAX, (uint32_t)-1, (uint32_t)-4};
    for (size_t i = 0; i < sizeof unknown_policies / sizeof unknown_policies[0]; i++) {
        ctest_case("ma_create_with: policy %u", (unsigned)unknown_policies[i]);
        opts = valid_options();
        opts.policy = unknown_policies[i];
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
        opts.min_alignment = 0; /* policy is checked before min_alignment */
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    }

    const size_t bad_alignments[] = {0, 3, 6, 12, 100, SIZE_MAX, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad_alignments / sizeof bad_alignments[0]; i++) {
        ctest_case("ma_create_with: min_alignment %zu", bad_alignments[i]);
        opts = valid_options();
        opts.min_alignment = bad_alignments[i];
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ALIGNMENT);
        opts.policy = MA_POLICY_BEST_FIT;
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ALIGNMENT);
    }

    const size_t good_alignments[] = {1, 2, 64, 4096, SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof good_alignments / sizeof good_alignments[0]; i++) {
        for (size_t j = 0; j < ctest_policy_count; j++) {
            ctest_case("ma_create_with: min_alignment %zu / %s", good_alignments[i], ctest_policies[j].name);
            opts = valid_options();
            opts.policy = ctest_policies[j].policy;
            opts.min_alignment = good_alignments[i];
            out = HANDLE_SENTINEL;
            CHECK_STATUS(ma_create_with(&opts, &out), MA_OK);
            CHECK(out != HANDLE_SENTINEL && out != NULL);
            if (out != HANDLE_SENTINEL && out != NULL) {
                CHECK_INVARIANTS(out);
                ma_destroy(out);
            }
        }
    }

    ctest_case("ma_create_with: a larger struct from a newer caller");
    struct {
        ma_options opts;
        size_t future_field;
    } newer;
    memset(&newer, 0, sizeof newer);
    ma_options_init(&newer.opts);
    newer.opts.capacity = 100;
    newer.opts.struct_size = sizeof newer;
    out = HANDLE_SENTINEL;
    CHECK_STATUS(ma_create_with(&newer.opts, &out), MA_OK);
    if (out != HANDLE_SENTINEL && out != NULL) ma_destroy(out);
}

static void alloc_errors(const ctest_policy *p) {
    ctest_case("ma_alloc errors / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    size_t out = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_alloc(NULL, 5, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_alloc(a, 5, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_alloc(a, 0, NULL), MA_ERR_NULL_POINTER);        /* NULL beats size 0 */
    CHECK_ERR(a, ma_alloc(a, SIZE_MAX, NULL), MA_ERR_NULL_POINTER); /* NULL beats out of memory */
    CHECK_ERR(a, ma_alloc(NULL, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_alloc(a, 0, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_alloc(a, 11, &out), MA_ERR_OUT_OF_MEMORY, out); /* 15 free, but in holes of 5 and 10 */
    CHECK_ERR_OUT(a, ma_alloc(a, 100, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc(a, 101, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc(a, SIZE_MAX, &out), MA_ERR_OUT_OF_MEMORY, out);
    ma_destroy(a);
}

static void alloc_aligned_errors(const ctest_policy *p) {
    ctest_case("ma_alloc_aligned errors / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    size_t out = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_alloc_aligned(NULL, 5, 1, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_alloc_aligned(a, 5, 1, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_alloc_aligned(a, 5, 3, NULL), MA_ERR_NULL_POINTER); /* NULL beats alignment */
    CHECK_ERR(a, ma_alloc_aligned(NULL, 0, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 0, 0, &out), MA_ERR_INVALID_ALIGNMENT, out); /* alignment beats size 0 */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 0, 3, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, 0, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, 6, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, SIZE_MAX, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, SIZE_MAX / 2 + 2, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 1000, 3, &out), MA_ERR_INVALID_ALIGNMENT, out); /* beats out of memory */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 0, 8, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 11, 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, 16, &out), MA_ERR_OUT_OF_MEMORY, out); /* 45-49 is free, but 48 + 5 > 50 */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 1, 128, &out), MA_ERR_OUT_OF_MEMORY, out); /* only 0 is aligned, and taken */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 1, SIZE_MAX / 2 + 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, SIZE_MAX, 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    ma_destroy(a);
}

static void free_errors(const ctest_policy *p) {
    ctest_case("ma_free errors / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    /* NULL handle: beats everything. */
    CHECK_ERR(a, ma_free(NULL, 0, 20), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free(NULL, 1000, 0), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free(NULL, SIZE_MAX, SIZE_MAX), MA_ERR_NULL_POINTER);
    /* addr >= capacity: beats size 0 and overflow. */
    CHECK_ERR(a, ma_free(a, 100, 1), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, 100, 0), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, 1000, 20), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, SIZE_MAX, SIZE_MAX), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, SIZE_MAX, 0), MA_ERR_INVALID_ADDRESS);
    /* size 0: beats "not allocated" and "size mismatch". */
    CHECK_ERR(a, ma_free(a, 0, 0), MA_ERR_INVALID_SIZE);  /* 0 is live */
    CHECK_ERR(a, ma_free(a, 45, 0), MA_ERR_INVALID_SIZE); /* 45 is free */
    CHECK_ERR(a, ma_free(a, 99, 0), MA_ERR_INVALID_SIZE);
    /* addr + size past the capacity, or overflowing: beats the same two. */
    CHECK_ERR(a, ma_free(a, 1, SIZE_MAX), MA_ERR_INVALID_SIZE);  /* overflows */
    CHECK_ERR(a, ma_free(a, 50, SIZE_MAX), MA_ERR_INVALID_SIZE); /* overflows; 50 is live */
    CHECK_ERR(a, ma_free(a, 0, SIZE_MAX), MA_ERR_INVALID_SIZE);  /* no overflow, but past 100 */
    CHECK_ERR(a, ma_free(a, 50, 51), MA_ERR_INVALID_SIZE);       /* one past; 50 is live with 40 */
    CHECK_ERR(a, ma_free(a, 99, 2), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_free(a, 95, 10), MA_ERR_INVALID_SIZE); /* 95 is free */
    CHECK_ERR(a, ma_free(a, 0, 101), MA_ERR_INVALID_SIZE);
    /* No live allocation starts there. */
    CHECK_ERR(a, ma_free(a, 5, 10), MA_ERR_NOT_ALLOCATED);  /* interior */
    CHECK_ERR(a, ma_free(a, 5, 15), MA_ERR_NOT_ALLOCATED);  /* interior, ending where the block ends */
    CHECK_ERR(a, ma_free(a, 21, 24), MA_ERR_NOT_ALLOCATED); /* interior */
    CHECK_ERR(a, ma_free(a, 45, 5), MA_ERR_NOT_ALLOCATED);  /* a free hole, exactly */
    CHECK_ERR(a, ma_free(a, 90, 10), MA_ERR_NOT_ALLOCATED); /* the free tail, exactly */
    CHECK_ERR(a, ma_free(a, 99, 1), MA_ERR_NOT_ALLOCATED);  /* the last unit, free */
    /* A live allocation starts there, with another size. */
    CHECK_ERR(a, ma_free(a, 0, 19), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, 0, 21), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, 0, 45), MA_ERR_SIZE_MISMATCH); /* two blocks at once */
    CHECK_ERR(a, ma_free(a, 0, 100), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, 50, 50), MA_ERR_SIZE_MISMATCH); /* ends exactly at the capacity */
    CHECK_ERR(a, ma_free(a, 20, 30), MA_ERR_SIZE_MISMATCH); /* the size it had before step 4 */
    /* Double free. */
    CHECK_OK(a, ma_free(a, 20, 25));
    CHECK_ERR(a, ma_free(a, 20, 25), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free(a, 0, 20 + 25), MA_ERR_SIZE_MISMATCH);
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 30), ALLOCATED(50, 40), FREE(90, 10));
    ma_destroy(a);
}

static void free_at_and_size_of_errors(const ctest_policy *p) {
    ctest_case("ma_free_at errors / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    CHECK_ERR(a, ma_free_at(NULL, 0), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free_at(NULL, SIZE_MAX), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free_at(a, 100), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free_at(a, SIZE_MAX), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free_at(a, 5), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free_at(a, 45), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free_at(a, 99), MA_ERR_NOT_ALLOCATED);
    CHECK_OK(a, ma_free_at(a, 50));
    CHECK_ERR(a, ma_free_at(a, 50), MA_ERR_NOT_ALLOCATED); /* double free */

    ctest_case("ma_size_of errors / %s", p->name);
    size_t out = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_size_of(NULL, 0, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_size_of(a, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_size_of(a, 1000, NULL), MA_ERR_NULL_POINTER); /* NULL beats the address */
    CHECK_ERR(a, ma_size_of(NULL, 1000, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_size_of(a, 100, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_size_of(a, SIZE_MAX, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_size_of(a, 5, &out), MA_ERR_NOT_ALLOCATED, out);
    CHECK_ERR_OUT(a, ma_size_of(a, 50, &out), MA_ERR_NOT_ALLOCATED, out); /* freed above */
    CHECK_ERR_OUT(a, ma_size_of(a, 99, &out), MA_ERR_NOT_ALLOCATED, out);
    CHECK_STATUS(ma_size_of(a, 20, &out), MA_OK);
    CHECK_SIZE(out, 25);
    ma_destroy(a);
}

static void realloc_errors(const ctest_policy *p) {
    ctest_case("ma_realloc errors / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    size_t out = CTEST_SENTINEL;
    /* NULL handle or out-pointer: beats everything. */
    CHECK_ERR_OUT(a, ma_realloc(NULL, 0, 20, 30, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_realloc(a, 0, 20, 10, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_realloc(a, 1000, 0, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_realloc(NULL, 1000, 0, 0, NULL), MA_ERR_NULL_POINTER);
    /* (addr, old_size) as ma_free checks them, in the same order. */
    CHECK_ERR_OUT(a, ma_realloc(a, 100, 20, 30, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 100, 0, 0, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_realloc(a, SIZE_MAX, SIZE_MAX, 0, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 0, 10, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 0, 0, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 1, SIZE_MAX, 10, &out), MA_ERR_INVALID_SIZE, out); /* overflows */
    CHECK_ERR_OUT(a, ma_realloc(a, 50, 51, 10, &out), MA_ERR_INVALID_SIZE, out);      /* past the capacity */
    CHECK_ERR_OUT(a, ma_realloc(a, 5, 10, 0, &out), MA_ERR_NOT_ALLOCATED, out);       /* beats new_size 0 */
    CHECK_ERR_OUT(a, ma_realloc(a, 45, 5, 10, &out), MA_ERR_NOT_ALLOCATED, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 19, 0, &out), MA_ERR_SIZE_MISMATCH, out); /* beats new_size 0 */
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 21, 20, &out), MA_ERR_SIZE_MISMATCH, out);
    /* Then new_size 0, then out of memory (the old allocation stays). */
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 20, 0, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 20, 31, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 50, 40, 51, &out), MA_ERR_OUT_OF_MEMORY, out); /* 90-99 holds only 10 more */
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 20, 101, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 0, 20, SIZE_MAX, &out), MA_ERR_OUT_OF_MEMORY, out);
    ma_destroy(a);
}

static int count_calls(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    (void)start;
    (void)size;
    (void)kind;
    ++*(int *)ctx;
    return 0;
}

static void other_errors(const ctest_policy *p) {
    ctest_case("ma_reset, ma_get_stats, ma_walk errors / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    CHECK_ERR(a, ma_reset(NULL), MA_ERR_NULL_POINTER);

    ma_stats stats, untouched;
    memset(&stats, 0xA5, sizeof stats);
    memcpy(&untouched, &stats, sizeof stats);
    CHECK_ERR(a, ma_get_stats(NULL, &stats), MA_ERR_NULL_POINTER);
    CHECK(memcmp(&stats, &untouched, sizeof stats) == 0);
    CHECK_ERR(a, ma_get_stats(a, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_get_stats(NULL, NULL), MA_ERR_NULL_POINTER);

    int calls = 0;
    CHECK_ERR(a, ma_walk(NULL, count_calls, &calls), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_walk(a, NULL, &calls), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_walk(a, NULL, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_walk(NULL, NULL, NULL), MA_ERR_NULL_POINTER);
    CHECK(calls == 0);
    CHECK_STATUS(ma_walk(a, count_calls, &calls), MA_OK);
    CHECK(calls == 5);
    ma_destroy(a);
}

int ma_ctest_errors(void) {
    ctest_begin("errors");
    status_texts();
    version();
    create();
    create_with();
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        if (!p->exact_sizes) continue; /* the example state assumes exact sizes */
        alloc_errors(p);
        alloc_aligned_errors(p);
        free_errors(p);
        free_at_and_size_of_errors(p);
        realloc_errors(p);
        other_errors(p);
    }
    return ctest_end();
}
