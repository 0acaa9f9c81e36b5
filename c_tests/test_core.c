/*
 * test_core.c: the reference behaviour through the C API, for every policy under test:
 * the worked example step by step, the four merge cases, boundaries at address 0 and at
 * the last unit, exhaustion, fragmentation, counters, ma_reset, ma_size_of, ma_free_at,
 * how first fit and best fit choose, and a capacity of SIZE_MAX. The invariants are
 * checked after every successful step.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* REFERENCE.md's worked example, capacity 100: every address and the whole map after
   every step. Best fit gives the same addresses (step 5: the 30-unit hole is the smallest
   that holds 25). */
static void worked_example(const ctest_policy *p) {
    ctest_case("worked example / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_MAP(a, FREE(0, 100));
    CHECK_STATS(a, 100, 0, 100, 100, 1, 0, 0);

    CHECK_ALLOC(a, 20, 0);
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 80));
    CHECK_ALLOC(a, 30, 20);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 30), FREE(50, 50));
    CHECK_ALLOC(a, 40, 50);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 30), ALLOCATED(50, 40), FREE(90, 10));
    CHECK_STATS(a, 100, 90, 10, 10, 1, 3, 0);
    CHECK_OK(a, ma_free(a, 20, 30));
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 30), ALLOCATED(50, 40), FREE(90, 10));
    CHECK_STATS(a, 100, 60, 40, 30, 2, 2, 0);
    CHECK_ALLOC(a, 25, 20);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40), FREE(90, 10));
    CHECK_OK(a, ma_free(a, 0, 20));
    CHECK_MAP(a, FREE(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40), FREE(90, 10));
    CHECK_STATS(a, 100, 65, 35, 20, 3, 2, 0);
    CHECK_OK(a, ma_free(a, 20, 25));
    CHECK_MAP(a, FREE(0, 50), ALLOCATED(50, 40), FREE(90, 10));
    CHECK_STATS(a, 100, 40, 60, 50, 2, 1, 0);
    ma_destroy(a);
}

/* Five 10-unit blocks at 0, 10, 20, 30, 40 of a capacity 100; 50-99 free. */
static ma_allocator *five_blocks(const ctest_policy *p) {
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return NULL;
    for (size_t i = 0; i < 5; i++) {
        CHECK_ALLOC(a, 10, 10 * i);
    }
    CHECK_MAP(a, ALLOCATED(0, 10), ALLOCATED(10, 10), ALLOCATED(20, 10), ALLOCATED(30, 10), ALLOCATED(40, 10),
              FREE(50, 50));
    return a;
}

/* REFERENCE.md's four merge cases, in one sequence and each on its own. */
static void merges(const ctest_policy *p) {
    ctest_case("merge cases in sequence / %s", p->name);
    ma_allocator *a = five_blocks(p);
    if (!a) return;
    /* Isolated: both neighbours allocated, a new free block. */
    CHECK_OK(a, ma_free(a, 10, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), ALLOCATED(30, 10), ALLOCATED(40, 10),
              FREE(50, 50));
    CHECK_STATS(a, 100, 40, 60, 50, 2, 4, 0);
    /* With the previous free block: it grows upward. */
    CHECK_OK(a, ma_free(a, 20, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), ALLOCATED(40, 10), FREE(50, 50));
    CHECK_STATS(a, 100, 30, 70, 50, 2, 3, 0);
    /* With the next free block: it grows downward. */
    CHECK_OK(a, ma_free(a, 40, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), FREE(40, 60));
    CHECK_STATS(a, 100, 20, 80, 60, 2, 2, 0);
    /* With both: three blocks become one. */
    CHECK_OK(a, ma_free(a, 30, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 90));
    CHECK_STATS(a, 100, 10, 90, 90, 1, 1, 0);
    /* The block at address 0 with the free rest: everything is one block again. */
    CHECK_OK(a, ma_free(a, 0, 10));
    CHECK_MAP(a, FREE(0, 100));
    CHECK_STATS(a, 100, 0, 100, 100, 1, 0, 0);
    ma_destroy(a);

    ctest_case("merge with next only / %s", p->name);
    a = five_blocks(p);
    if (!a) return;
    CHECK_OK(a, ma_free(a, 20, 10));
    CHECK_OK(a, ma_free(a, 10, 10)); /* next (20-29) is free, previous (0-9) is not */
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), ALLOCATED(40, 10), FREE(50, 50));
    ma_destroy(a);

    ctest_case("merge with previous only / %s", p->name);
    a = five_blocks(p);
    if (!a) return;
    CHECK_OK(a, ma_free(a, 10, 10));
    CHECK_OK(a, ma_free(a, 20, 10)); /* previous (10-19) is free, next (30-39) is not */
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), ALLOCATED(40, 10), FREE(50, 50));
    ma_destroy(a);

    ctest_case("merge with both, reached from the left / %s", p->name);
    a = five_blocks(p);
    if (!a) return;
    CHECK_OK(a, ma_free(a, 10, 10));
    CHECK_OK(a, ma_free(a, 30, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 10),
              FREE(50, 50));
    CHECK_STATS(a, 100, 30, 70, 50, 3, 3, 0);
    CHECK_OK(a, ma_free(a, 20, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 30), ALLOCATED(40, 10), FREE(50, 50));
    CHECK_STATS(a, 100, 20, 80, 50, 2, 2, 0);
    ma_destroy(a);

    ctest_case("merge isolated at address 0 and at the end / %s", p->name);
    a = ctest_create(p->policy, 30, 1);
    if (!a) return;
    CHECK_ALLOC(a, 10, 0);
    CHECK_ALLOC(a, 10, 10);
    CHECK_ALLOC(a, 10, 20);
    CHECK_OK(a, ma_free(a, 0, 10)); /* no previous block at all */
    CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 10), ALLOCATED(20, 10));
    CHECK_OK(a, ma_free(a, 20, 10)); /* no next block at all */
    CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 10), FREE(20, 10));
    CHECK_OK(a, ma_free(a, 10, 10));
    CHECK_MAP(a, FREE(0, 30));
    ma_destroy(a);
}

/* Address 0 and the last unit, capacity - 1. */
static void boundaries(const ctest_policy *p) {
    ctest_case("boundaries / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALLOC(a, 99, 0);
    CHECK_ALLOC(a, 1, 99); /* the last unit */
    CHECK_MAP(a, ALLOCATED(0, 99), ALLOCATED(99, 1));
    CHECK_STATS(a, 100, 100, 0, 0, 0, 2, 0);
    CHECK_ERR(a, ma_free(a, 99, 2), MA_ERR_INVALID_SIZE);    /* runs one past the end */
    CHECK_ERR(a, ma_free(a, 100, 1), MA_ERR_INVALID_ADDRESS); /* capacity itself */
    CHECK_OK(a, ma_free(a, 99, 1));
    CHECK_MAP(a, ALLOCATED(0, 99), FREE(99, 1));
    CHECK_ALLOC(a, 1, 99);
    CHECK_OK(a, ma_free(a, 0, 99));
    CHECK_MAP(a, FREE(0, 99), ALLOCATED(99, 1));
    CHECK_ALLOC(a, 1, 0); /* address 0 again */
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 98), ALLOCATED(99, 1));
    CHECK_OK(a, ma_free(a, 0, 1));
    CHECK_OK(a, ma_free(a, 99, 1)); /* merges with the free block before it */
    CHECK_MAP(a, FREE(0, 100));
    CHECK_ALLOC(a, 100, 0); /* exactly the capacity */
    CHECK_MAP(a, ALLOCATED(0, 100));
    CHECK_OK(a, ma_free(a, 0, 100));
    CHECK_MAP(a, FREE(0, 100));
    ma_destroy(a);

    ctest_case("capacity 1 / %s", p->name);
    a = ctest_create(p->policy, 1, 1);
    if (!a) return;
    CHECK_MAP(a, FREE(0, 1));
    CHECK_ALLOC_FAILS(a, 2, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC(a, 1, 0);
    CHECK_MAP(a, ALLOCATED(0, 1));
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_ERR(a, ma_free(a, 0, 2), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_free(a, 1, 1), MA_ERR_INVALID_ADDRESS);
    CHECK_OK(a, ma_free(a, 0, 1));
    CHECK_MAP(a, FREE(0, 1));
    ma_destroy(a);
}

/* Fill exactly, then every request fails; a request above the capacity always fails. */
static void exhaustion(const ctest_policy *p) {
    ctest_case("exhaustion / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALLOC_FAILS(a, 101, MA_ERR_OUT_OF_MEMORY); /* size > capacity, on an empty allocator */
    CHECK_ALLOC_FAILS(a, SIZE_MAX, MA_ERR_OUT_OF_MEMORY);
    for (size_t i = 0; i < 10; i++) {
        CHECK_ALLOC(a, 10, 10 * i);
    }
    CHECK_STATS(a, 100, 100, 0, 0, 0, 10, 0);
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(a, 10, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(a, 100, MA_ERR_OUT_OF_MEMORY);
    CHECK_OK(a, ma_free(a, 50, 10));
    CHECK_ALLOC_FAILS(a, 11, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC(a, 10, 50); /* the hole is reused exactly */
    CHECK_STATS(a, 100, 100, 0, 0, 0, 10, 0);
    for (size_t i = 0; i < 10; i++) {
        CHECK_OK(a, ma_free(a, 10 * i, 10));
    }
    CHECK_MAP(a, FREE(0, 100));
    CHECK_ALLOC(a, 100, 0);
    ma_destroy(a);
}

/* 60 units free in six 10-unit holes: a request for 50 fails although 60 are free. */
static void fragmentation(const ctest_policy *p) {
    ctest_case("fragmentation / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    /* Holes of 10 at 0, 18, 36, 54, 72, 90, separated by 8-unit blocks. */
    for (size_t i = 0; i < 6; i++) {
        CHECK_ALLOC(a, 10, 18 * i);
        if (i < 5) CHECK_ALLOC(a, 8, 18 * i + 10);
    }
    CHECK_STATS(a, 100, 100, 0, 0, 0, 11, 0);
    for (size_t i = 0; i < 6; i++) {
        CHECK_OK(a, ma_free(a, 18 * i, 10));
    }
    CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 8), FREE(18, 10), ALLOCATED(28, 8), FREE(36, 10), ALLOCATED(46, 8),
              FREE(54, 10), ALLOCATED(64, 8), FREE(72, 10), ALLOCATED(82, 8), FREE(90, 10));
    CHECK_STATS(a, 100, 40, 60, 10, 6, 5, 0);
    CHECK_ALLOC_FAILS(a, 50, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(a, 11, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC(a, 10, 0); /* every hole is equal: the lowest (best fit's tie rule too) */
    CHECK_ALLOC(a, 5, 18);
    CHECK_ALLOC(a, 5, 23);
    CHECK_STATS(a, 100, 60, 40, 10, 4, 8, 0);
    /* Freeing a separator joins two holes: now 28 units fit. */
    CHECK_OK(a, ma_free(a, 46, 8));
    CHECK_MAP(a, ALLOCATED(0, 10), ALLOCATED(10, 8), ALLOCATED(18, 5), ALLOCATED(23, 5), ALLOCATED(28, 8),
              FREE(36, 28), ALLOCATED(64, 8), FREE(72, 10), ALLOCATED(82, 8), FREE(90, 10));
    CHECK_ALLOC(a, 28, 36);
    ma_destroy(a);
}

/* First fit takes the lowest hole that fits, best fit the smallest (ties: lowest). */
static void placement(void) {
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        ctest_case("placement / %s", p->name);
        ma_allocator *a = ctest_create(p->policy, 100, 1);
        if (!a) return;
        /* Holes: 0-29 (30), 40-49 (10), 60-69 (10), 80-99 (20). */
        CHECK_ALLOC(a, 30, 0);
        CHECK_ALLOC(a, 10, 30);
        CHECK_ALLOC(a, 10, 40);
        CHECK_ALLOC(a, 10, 50);
        CHECK_ALLOC(a, 10, 60);
        CHECK_ALLOC(a, 10, 70);
        CHECK_OK(a, ma_free(a, 0, 30));
        CHECK_OK(a, ma_free(a, 40, 10));
        CHECK_OK(a, ma_free(a, 60, 10));
        CHECK_MAP(a, FREE(0, 30), ALLOCATED(30, 10), FREE(40, 10), ALLOCATED(50, 10), FREE(60, 10),
                  ALLOCATED(70, 10), FREE(80, 20));
        if (p->policy == MA_POLICY_FIRST_FIT) {
            CHECK_ALLOC(a, 8, 0);   /* the lowest hole */
            CHECK_ALLOC(a, 15, 8);  /* what is left of it, 22 units, still comes first */
            CHECK_ALLOC(a, 10, 40); /* 8-29 has 7 units left: next is 40-49 */
            CHECK_ALLOC(a, 20, 80);
            CHECK_MAP(a, ALLOCATED(0, 8), ALLOCATED(8, 15), FREE(23, 7), ALLOCATED(30, 10), ALLOCATED(40, 10),
                      ALLOCATED(50, 10), FREE(60, 10), ALLOCATED(70, 10), ALLOCATED(80, 20));
        } else if (p->policy == MA_POLICY_BEST_FIT) {
            CHECK_ALLOC(a, 8, 40);  /* the smallest holes are 40-49 and 60-69: the lowest */
            CHECK_ALLOC(a, 10, 60); /* an exact fit beats larger holes */
            CHECK_ALLOC(a, 15, 80); /* 20 is smaller than 30 */
            CHECK_ALLOC(a, 2, 48);  /* the 2-unit rest of 40-49 */
            CHECK_ALLOC(a, 5, 95);  /* the 5-unit rest of 80-99 */
            CHECK_ALLOC(a, 30, 0);
            CHECK_MAP(a, ALLOCATED(0, 30), ALLOCATED(30, 10), ALLOCATED(40, 8), ALLOCATED(48, 2), ALLOCATED(50, 10),
                      ALLOCATED(60, 10), ALLOCATED(70, 10), ALLOCATED(80, 15), ALLOCATED(95, 5));
        }
        ma_destroy(a);
    }

    ctest_case("ma_create is first fit");
    ma_allocator *a = ma_create(100);
    CHECK(a != NULL);
    if (!a) return;
    CHECK_ALLOC(a, 30, 0);
    CHECK_ALLOC(a, 10, 30);
    CHECK_ALLOC(a, 10, 40);
    CHECK_ALLOC(a, 10, 50);
    CHECK_OK(a, ma_free(a, 0, 30));
    CHECK_OK(a, ma_free(a, 40, 10));
    CHECK_ALLOC(a, 10, 0); /* best fit would take 40-49 */
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), FREE(40, 10), ALLOCATED(50, 10),
              FREE(60, 40));
    ma_destroy(a);
}

/* Fresh counters, ma_reset, ma_size_of and ma_free_at. */
static void stats_reset_size_of(const ctest_policy *p) {
    ctest_case("fresh stats / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 1000, 1);
    if (!a) return;
    CHECK_STATS(a, 1000, 0, 1000, 1000, 1, 0, 0);
    CHECK_INVARIANTS(a);

    ctest_case("ma_size_of / %s", p->name);
    CHECK_ALLOC(a, 7, 0);
    CHECK_ALLOC(a, 300, 7);
    CHECK_ALLOC(a, 1, 307);
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, 7, &size), MA_OK);
    CHECK_SIZE(size, 300);
    CHECK_STATUS(ma_size_of(a, 0, &size), MA_OK);
    CHECK_SIZE(size, 7);
    CHECK_STATUS(ma_size_of(a, 307, &size), MA_OK);
    CHECK_SIZE(size, 1);
    size = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_size_of(a, 8, &size), MA_ERR_NOT_ALLOCATED, size); /* interior */
    CHECK_ERR_OUT(a, ma_size_of(a, 308, &size), MA_ERR_NOT_ALLOCATED, size); /* free */

    ctest_case("ma_free_at / %s", p->name);
    CHECK_OK(a, ma_free_at(a, 7));
    CHECK_MAP(a, ALLOCATED(0, 7), FREE(7, 300), ALLOCATED(307, 1), FREE(308, 692));
    CHECK_ERR_OUT(a, ma_size_of(a, 7, &size), MA_ERR_NOT_ALLOCATED, size);
    CHECK_ERR(a, ma_free_at(a, 7), MA_ERR_NOT_ALLOCATED); /* double free */
    CHECK_OK(a, ma_free_at(a, 307));                      /* merges on both sides */
    CHECK_MAP(a, ALLOCATED(0, 7), FREE(7, 993));
    CHECK_OK(a, ma_free_at(a, 0));
    CHECK_MAP(a, FREE(0, 1000));

    ctest_case("ma_reset / %s", p->name);
    for (size_t i = 0; i < 10; i++) {
        CHECK_ALLOC(a, 50, 50 * i);
    }
    CHECK_OK(a, ma_free(a, 100, 50));
    CHECK_OK(a, ma_free(a, 300, 50));
    CHECK_OK(a, ma_reset(a));
    CHECK_MAP(a, FREE(0, 1000));
    CHECK_STATS(a, 1000, 0, 1000, 1000, 1, 0, 0);
    CHECK_ERR(a, ma_free(a, 0, 50), MA_ERR_NOT_ALLOCATED); /* nothing survives a reset */
    CHECK_ERR_OUT(a, ma_size_of(a, 450, &size), MA_ERR_NOT_ALLOCATED, size);
    CHECK_ALLOC(a, 1000, 0);
    CHECK_OK(a, ma_reset(a)); /* a full allocator */
    CHECK_OK(a, ma_reset(a)); /* an empty one */
    CHECK_MAP(a, FREE(0, 1000));
    CHECK_ALLOC(a, 20, 0);
    ma_destroy(a);
}

/* The whole of size_t: capacity SIZE_MAX, the last unit SIZE_MAX - 1. */
static void huge_capacity(const ctest_policy *p) {
    ctest_case("capacity SIZE_MAX / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, SIZE_MAX, 1);
    if (!a) return;
    CHECK_MAP(a, FREE(0, SIZE_MAX));
    CHECK_STATS(a, SIZE_MAX, 0, SIZE_MAX, SIZE_MAX, 1, 0, 0);
    CHECK_ALLOC(a, SIZE_MAX, 0);
    CHECK_MAP(a, ALLOCATED(0, SIZE_MAX));
    CHECK_STATS(a, SIZE_MAX, SIZE_MAX, 0, 0, 0, 1, 0);
    CHECK_OK(a, ma_free(a, 0, SIZE_MAX));
    CHECK_ALLOC(a, SIZE_MAX - 1, 0);
    CHECK_ALLOC(a, 1, SIZE_MAX - 1);
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_ERR(a, ma_free(a, SIZE_MAX - 1, 2), MA_ERR_INVALID_SIZE);    /* overflows */
    CHECK_ERR(a, ma_free(a, SIZE_MAX, 1), MA_ERR_INVALID_ADDRESS);     /* == capacity */
    CHECK_ERR(a, ma_free(a, 1, SIZE_MAX - 1), MA_ERR_NOT_ALLOCATED);   /* ends exactly at capacity */
    CHECK_ERR(a, ma_free(a, 0, SIZE_MAX - 2), MA_ERR_SIZE_MISMATCH);
    CHECK_OK(a, ma_free(a, SIZE_MAX - 1, 1));
    CHECK_MAP(a, ALLOCATED(0, SIZE_MAX - 1), FREE(SIZE_MAX - 1, 1));
    CHECK_OK(a, ma_free(a, 0, SIZE_MAX - 1));
    CHECK_MAP(a, FREE(0, SIZE_MAX));
    CHECK_ALLOC(a, SIZE_MAX / 2, 0);
    CHECK_ALLOC(a, SIZE_MAX / 2, SIZE_MAX / 2);
    CHECK_ALLOC(a, 1, SIZE_MAX - 1);
    CHECK_STATS(a, SIZE_MAX, SIZE_MAX, 0, 0, 0, 3, 0);
    CHECK_OK(a, ma_reset(a));
    CHECK_MAP(a, FREE(0, SIZE_MAX));
    ma_destroy(a);

    ctest_case("ma_create(SIZE_MAX)");
    a = ma_create(SIZE_MAX);
    CHECK(a != NULL);
    if (!a) return;
    CHECK_ALLOC(a, 1, 0);
    CHECK_STATS(a, SIZE_MAX, 1, SIZE_MAX - 1, SIZE_MAX - 1, 1, 1, 0);
    ma_destroy(a);
}

int ma_ctest_core(void) {
    ctest_begin("core");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        if (!p->exact_sizes) continue; /* every expected map below assumes exact sizes */
        worked_example(p);
        merges(p);
        boundaries(p);
        exhaustion(p);
        fragmentation(p);
        stats_reset_size_of(p);
        huge_capacity(p);
    }
    placement();
    return ctest_end();
}
