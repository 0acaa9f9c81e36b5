/*
 * test_core.c: the reference behaviour through the C API, for every policy: the worked
 * example step by step, the four merge cases, boundaries at address 0 and at the last
 * unit, exhaustion, fragmentation, counters, ma_reset, ma_size_of, ma_free_at, how each
 * policy chooses, and a capacity of SIZE_MAX.
 *
 * Every call is checked against the model of its policy (support.h: ALLOC, FREE_OK, ...),
 * with the whole map after it, and the invariants after every step. On top of that, the
 * maps written out by hand are first fit's (the reference) and best fit's; buddy, whose
 * maps differ, has its own where they teach something.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* The worked example of docs/REFERENCE-ALGORITHM.md: every address and the whole map after every step. Best
   fit gives the same addresses (step 5: the 30-unit hole is the smallest that holds 25).
   Buddy rounds 40 up to 64, which a capacity of 100 (64 + 32 + 4) cannot hold once 20
   and 30 took their 32-unit blocks: it runs the example in 128. */
static void worked_example(const ctest_policy *p) {
    ctest_case("worked example / %s", p->name);
    const int fit = ctest_is_fit(p), buddy = p->policy == MA_POLICY_BUDDY;
    ma_allocator *a = ctest_create(p->policy, buddy ? 128 : 100, 1);
    if (!a) return;
    CHECK_INITIAL(a);
    if (!buddy) CHECK_STATS(a, 100, 0, 100, 100, 1, 0, 0);

    const size_t x20 = ALLOC(a, 20);
    const size_t x30 = ALLOC(a, 30);
    const size_t x40 = ALLOC(a, 40);
    if (fit) {
        CHECK_SIZE(x20, 0);
        CHECK_SIZE(x30, 20);
        CHECK_SIZE(x40, 50);
        CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 30), ALLOCATED(50, 40), FREE(90, 10));
        CHECK_STATS(a, 100, 90, 10, 10, 1, 3, 0);
    }
    if (buddy) {
        CHECK_MAP(a, ALLOCATED(0, 20), PADDING(20, 12), ALLOCATED(32, 30), PADDING(62, 2), ALLOCATED(64, 40),
                  PADDING(104, 24));
        CHECK_STATS(a, 128, 90, 0, 0, 0, 3, 38);
    }
    FREE_OK(a, x30, 30);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 30), ALLOCATED(50, 40), FREE(90, 10));
        CHECK_STATS(a, 100, 60, 40, 30, 2, 2, 0);
    }
    const size_t x25 = ALLOC(a, 25);
    if (fit) {
        CHECK_SIZE(x25, 20);
        CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40), FREE(90, 10));
    }
    if (buddy) {
        CHECK_MAP(a, ALLOCATED(0, 20), PADDING(20, 12), ALLOCATED(32, 25), PADDING(57, 7), ALLOCATED(64, 40),
                  PADDING(104, 24));
    }
    FREE_OK(a, x20, 20);
    if (fit) {
        CHECK_MAP(a, FREE(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40), FREE(90, 10));
        CHECK_STATS(a, 100, 65, 35, 20, 3, 2, 0);
    }
    FREE_OK(a, x25, 25);
    if (fit) {
        CHECK_MAP(a, FREE(0, 50), ALLOCATED(50, 40), FREE(90, 10));
        CHECK_STATS(a, 100, 40, 60, 50, 2, 1, 0);
    }
    if (buddy) {
        CHECK_MAP(a, FREE(0, 64), ALLOCATED(64, 40), PADDING(104, 24)); /* 0-31 and 32-63 merged */
        CHECK_STATS(a, 128, 40, 64, 64, 1, 1, 24);
    }
    FREE_OK(a, x40, 40);
    CHECK_INITIAL(a);
    ctest_destroy(a);
}

/* Five 10-unit blocks in a capacity 100 (first fit: at 0, 10, 20, 30, 40; 50-99 free). */
static ma_allocator *five_blocks(const ctest_policy *p, size_t x[5]) {
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return NULL;
    for (size_t i = 0; i < 5; i++) {
        x[i] = ALLOC(a, 10);
    }
    if (ctest_is_fit(p)) {
        CHECK_MAP(a, ALLOCATED(0, 10), ALLOCATED(10, 10), ALLOCATED(20, 10), ALLOCATED(30, 10), ALLOCATED(40, 10),
                  FREE(50, 50));
    }
    return a;
}

/* The four merge cases of docs/REFERENCE-ALGORITHM.md, in one sequence and each on its own. The model checks
   every merge under every policy (buddy merges buddies only); the maps are first fit's. */
static void merges(const ctest_policy *p) {
    const int fit = ctest_is_fit(p);
    size_t x[5];
    ctest_case("merge cases in sequence / %s", p->name);
    ma_allocator *a = five_blocks(p, x);
    if (!a) return;
    /* Isolated: both neighbours allocated, a new free block. */
    FREE_OK(a, x[1], 10);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), ALLOCATED(30, 10), ALLOCATED(40, 10),
                  FREE(50, 50));
        CHECK_STATS(a, 100, 40, 60, 50, 2, 4, 0);
    }
    /* With the previous free block: it grows upward. */
    FREE_OK(a, x[2], 10);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), ALLOCATED(40, 10), FREE(50, 50));
        CHECK_STATS(a, 100, 30, 70, 50, 2, 3, 0);
    }
    /* With the next free block: it grows downward. */
    FREE_OK(a, x[4], 10);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), FREE(40, 60));
        CHECK_STATS(a, 100, 20, 80, 60, 2, 2, 0);
    }
    /* With both: three blocks become one. */
    FREE_OK(a, x[3], 10);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 90));
        CHECK_STATS(a, 100, 10, 90, 90, 1, 1, 0);
    }
    /* The block at address 0 with the free rest: everything is one block again. */
    FREE_OK(a, x[0], 10);
    CHECK_INITIAL(a);
    if (fit) CHECK_STATS(a, 100, 0, 100, 100, 1, 0, 0);
    ctest_destroy(a);

    ctest_case("merge with next only / %s", p->name);
    a = five_blocks(p, x);
    if (!a) return;
    FREE_OK(a, x[2], 10);
    FREE_OK(a, x[1], 10); /* first fit: next (20-29) is free, previous (0-9) is not */
    if (fit) CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), ALLOCATED(40, 10), FREE(50, 50));
    ctest_destroy(a);

    ctest_case("merge with previous only / %s", p->name);
    a = five_blocks(p, x);
    if (!a) return;
    FREE_OK(a, x[1], 10);
    FREE_OK(a, x[2], 10); /* first fit: previous (10-19) is free, next (30-39) is not */
    if (fit) CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), ALLOCATED(40, 10), FREE(50, 50));
    ctest_destroy(a);

    ctest_case("merge with both, reached from the left / %s", p->name);
    a = five_blocks(p, x);
    if (!a) return;
    FREE_OK(a, x[1], 10);
    FREE_OK(a, x[3], 10);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 10),
                  FREE(50, 50));
        CHECK_STATS(a, 100, 30, 70, 50, 3, 3, 0);
    }
    FREE_OK(a, x[2], 10);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 30), ALLOCATED(40, 10), FREE(50, 50));
        CHECK_STATS(a, 100, 20, 80, 50, 2, 2, 0);
    }
    FREE_OK(a, x[0], 10);
    FREE_OK(a, x[4], 10);
    CHECK_INITIAL(a);
    ctest_destroy(a);

    ctest_case("merge isolated at address 0 and at the end / %s", p->name);
    a = ctest_create(p->policy, 32, 1); /* buddy: three 8-unit footprints of one 32-unit block */
    if (!a) return;
    const size_t lo = ALLOC(a, 8), mid = ALLOC(a, 8), hi = ALLOC(a, 8);
    if (fit) {
        CHECK_SIZE(lo, 0);
        CHECK_SIZE(hi, 16);
    }
    FREE_OK(a, lo, 8);
    FREE_OK(a, hi, 8);
    if (fit) CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 8), FREE(16, 16));
    if (p->policy == MA_POLICY_BUDDY) CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 8), FREE(16, 16));
    FREE_OK(a, mid, 8);
    CHECK_MAP(a, FREE(0, 32));
    ctest_destroy(a);
}

/* Address 0 and the last unit, capacity - 1. */
static void boundaries(const ctest_policy *p) {
    ctest_case("boundaries / %s", p->name);
    const int fit = ctest_is_fit(p);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ERR(a, ma_free(a, 99, 2), MA_ERR_INVALID_SIZE);     /* runs one past the end */
    CHECK_ERR(a, ma_free(a, 100, 1), MA_ERR_INVALID_ADDRESS); /* capacity itself */
    if (p->exact_sizes) {
        const size_t big = ALLOC(a, 99); /* TLSF may leave either end free */
        const size_t last = ALLOC(a, 1); /* the only unit left */
        if (fit) {
            CHECK_SIZE(big, 0);
            CHECK_SIZE(last, 99); /* the last unit */
            CHECK_MAP(a, ALLOCATED(0, 99), ALLOCATED(99, 1));
        }
        CHECK_STATS(a, 100, 100, 0, 0, 0, 2, 0);
        FREE_OK(a, last, 1);
        if (fit) CHECK_MAP(a, ALLOCATED(0, 99), FREE(99, 1));
        CHECK_ALLOC(a, 1, last);
        FREE_OK(a, big, 99);
        if (fit) CHECK_MAP(a, FREE(0, 99), ALLOCATED(99, 1));
        const size_t first = ALLOC(a, 1);
        if (fit) {
            CHECK_SIZE(first, 0); /* address 0 again */
            CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 98), ALLOCATED(99, 1));
        }
        FREE_OK(a, first, 1);
        FREE_OK(a, last, 1); /* first fit: merges with the free block before it */
    } else {
        /* Buddy, 100 = 64 + 32 + 4: the smallest block that holds one unit is the 4-unit
           top-level block at 96, so the last unit is the fourth one-unit allocation. */
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), FREE(96, 4));
        CHECK_ALLOC(a, 1, 96);
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), ALLOCATED(96, 1), FREE(97, 1), FREE(98, 2));
        CHECK_ALLOC(a, 1, 97);
        CHECK_ALLOC(a, 1, 98);
        CHECK_ALLOC(a, 1, 99);
        CHECK_ERR(a, ma_free(a, 99, 2), MA_ERR_INVALID_SIZE);
        FREE_OK(a, 98, 1);
        FREE_OK(a, 96, 1);
        FREE_OK(a, 99, 1);
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), FREE(96, 1), ALLOCATED(97, 1), FREE(98, 2));
        FREE_OK(a, 97, 1);
        CHECK_ALLOC(a, 64, 0); /* address 0: the 64-unit top-level block */
        CHECK_ALLOC_FAILS(a, 33, MA_ERR_OUT_OF_MEMORY); /* 36 free, but no 64-unit block */
        FREE_OK(a, 0, 64);
    }
    CHECK_INITIAL(a);
    const size_t whole = p->exact_sizes ? 100 : 64; /* buddy: the largest block */
    CHECK_ALLOC(a, whole, 0);
    FREE_OK(a, 0, whole);
    CHECK_INITIAL(a);
    ctest_destroy(a);

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
    FREE_OK(a, 0, 1);
    CHECK_MAP(a, FREE(0, 1));
    ctest_destroy(a);
}

/* Fill exactly, then every request fails; a request above the capacity always fails. The
   capacity is 128 and the blocks 16: a power of two, which buddy fills exactly too. */
static void exhaustion(const ctest_policy *p) {
    ctest_case("exhaustion / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 128, 1);
    if (!a) return;
    size_t x[8];
    CHECK_ALLOC_FAILS(a, 129, MA_ERR_OUT_OF_MEMORY); /* size > capacity, on an empty allocator */
    CHECK_ALLOC_FAILS(a, SIZE_MAX, MA_ERR_OUT_OF_MEMORY);
    for (size_t i = 0; i < 8; i++) {
        x[i] = ALLOC(a, 16);
        if (ctest_is_fit(p) || p->policy == MA_POLICY_BUDDY) CHECK_SIZE(x[i], 16 * i);
    }
    CHECK_STATS(a, 128, 128, 0, 0, 0, 8, 0);
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(a, 16, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(a, 128, MA_ERR_OUT_OF_MEMORY);
    FREE_OK(a, x[5], 16);
    CHECK_ALLOC_FAILS(a, 17, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC(a, 16, x[5]); /* the hole is reused exactly */
    CHECK_STATS(a, 128, 128, 0, 0, 0, 8, 0);
    for (size_t i = 0; i < 8; i++) {
        FREE_OK(a, x[i], 16);
    }
    CHECK_MAP(a, FREE(0, 128));
    CHECK_ALLOC(a, 128, 0);
    ctest_destroy(a);
}

/* 60 units free in six 10-unit holes: a request for 50 fails although 60 are free. (Buddy
   keeps 16-unit holes between its 16-unit blocks: 96 free, no 17 fits.) */
static void fragmentation(const ctest_policy *p) {
    ctest_case("fragmentation / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        ma_allocator *a = ctest_create(p->policy, 192, 1); /* 128 + 64 */
        if (!a) return;
        size_t x[12];
        for (size_t i = 0; i < 12; i++) x[i] = ALLOC(a, 16);
        for (size_t i = 0; i < 12; i += 2) FREE_OK(a, x[i], 16);
        CHECK_STATS(a, 192, 96, 96, 16, 6, 6, 0);
        CHECK_ALLOC_FAILS(a, 17, MA_ERR_OUT_OF_MEMORY);
        CHECK_LARGEST_FREE(a);
        for (size_t i = 1; i < 12; i += 2) FREE_OK(a, x[i], 16);
        CHECK_INITIAL(a);
        ctest_destroy(a);
        return;
    }
    const int fit = ctest_is_fit(p);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    /* Holes of 10 at 0, 18, 36, 54, 72, 90, separated by 8-unit blocks. */
    for (size_t i = 0; i < 6; i++) {
        CHECK_ALLOC(a, 10, 18 * i); /* from a fresh map, every exact-size policy packs */
        if (i < 5) CHECK_ALLOC(a, 8, 18 * i + 10);
    }
    CHECK_STATS(a, 100, 100, 0, 0, 0, 11, 0);
    for (size_t i = 0; i < 6; i++) {
        FREE_OK(a, 18 * i, 10);
    }
    CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 8), FREE(18, 10), ALLOCATED(28, 8), FREE(36, 10), ALLOCATED(46, 8),
              FREE(54, 10), ALLOCATED(64, 8), FREE(72, 10), ALLOCATED(82, 8), FREE(90, 10));
    CHECK_STATS(a, 100, 40, 60, 10, 6, 5, 0);
    CHECK_ALLOC_FAILS(a, 50, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(a, 11, MA_ERR_OUT_OF_MEMORY);
    const size_t ten = ALLOC(a, 10); /* every hole is equal: the lowest (best fit's tie rule too) */
    const size_t five = ALLOC(a, 5), five2 = ALLOC(a, 5);
    if (fit) {
        CHECK_SIZE(ten, 0);
        CHECK_SIZE(five, 18);
        CHECK_SIZE(five2, 23);
        CHECK_STATS(a, 100, 60, 40, 10, 4, 8, 0);
    }
    /* Freeing a separator joins two holes (when both are still free): then 28 units fit. */
    FREE_OK(a, 46, 8);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 10), ALLOCATED(10, 8), ALLOCATED(18, 5), ALLOCATED(23, 5), ALLOCATED(28, 8),
                  FREE(36, 28), ALLOCATED(64, 8), FREE(72, 10), ALLOCATED(82, 8), FREE(90, 10));
        CHECK_ALLOC(a, 28, 36);
    }
    CHECK_LARGEST_FREE(a);
    ctest_destroy(a);
}

/* First fit takes the lowest hole that fits, best fit the smallest (ties: lowest), TLSF
   any hole that holds the request, buddy the smallest block (ties: lowest). */
static void placement(void) {
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        ctest_case("placement / %s", p->name);
        ma_allocator *a = ctest_create(p->policy, 100, 1);
        if (!a) return;
        if (p->policy == MA_POLICY_BUDDY) {
            /* 64 at 0, 32 at 64, 4 at 96: each request takes the smallest block. */
            CHECK_ALLOC(a, 3, 96);
            CHECK_ALLOC(a, 17, 64);
            CHECK_ALLOC(a, 2, 0); /* 64 split down to 2: 2, 4, 8, 16 and 32 stay free */
            CHECK_MAP(a, ALLOCATED(0, 2), FREE(2, 2), FREE(4, 4), FREE(8, 8), FREE(16, 16), FREE(32, 32),
                      ALLOCATED(64, 17), PADDING(81, 15), ALLOCATED(96, 3), PADDING(99, 1));
            CHECK_ALLOC(a, 5, 8);
            CHECK_ALLOC(a, 4, 4);
            CHECK_ALLOC(a, 1, 2);
            FREE_OK(a, 2, 1);
            FREE_OK(a, 4, 4);
            FREE_OK(a, 0, 2); /* merges up to 0-7: 8-15 is taken */
            CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 5), PADDING(13, 3), FREE(16, 16), FREE(32, 32), ALLOCATED(64, 17),
                      PADDING(81, 15), ALLOCATED(96, 3), PADDING(99, 1));
            ctest_destroy(a);
            continue;
        }
        /* Holes: 0-29 (30), 40-49 (10), 60-69 (10), 80-99 (20). */
        CHECK_ALLOC(a, 30, 0);
        CHECK_ALLOC(a, 10, 30);
        CHECK_ALLOC(a, 10, 40);
        CHECK_ALLOC(a, 10, 50);
        CHECK_ALLOC(a, 10, 60);
        CHECK_ALLOC(a, 10, 70);
        FREE_OK(a, 0, 30);
        FREE_OK(a, 40, 10);
        FREE_OK(a, 60, 10);
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
        } else {
            /* TLSF: any hole that holds the request, and one whenever some hole does. */
            CHECK_ALLOC(a, 30, 0);                          /* only 0-29 holds 30 */
            CHECK_ALLOC_FAILS(a, 21, MA_ERR_OUT_OF_MEMORY); /* 40 free, in holes of 10, 10, 20 */
            CHECK_ALLOC(a, 20, 80);
            const size_t x = ALLOC(a, 10), y = ALLOC(a, 10);
            CHECK(x != y && (x == 40 || x == 60) && (y == 40 || y == 60));
            CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
        }
        ctest_destroy(a);
    }

    ctest_case("ma_create is first fit");
    ma_allocator *a = ma_create(100);
    CHECK(a != NULL);
    if (!a) return;
    ctest_adopt(a, MA_POLICY_FIRST_FIT, 100, 1); /* what docs/CONTRACT.md says ma_create makes */
    CHECK_ALLOC(a, 30, 0);
    CHECK_ALLOC(a, 10, 30);
    CHECK_ALLOC(a, 10, 40);
    CHECK_ALLOC(a, 10, 50);
    FREE_OK(a, 0, 30);
    FREE_OK(a, 40, 10);
    CHECK_ALLOC(a, 10, 0); /* best fit would take 40-49 */
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 20), ALLOCATED(30, 10), FREE(40, 10), ALLOCATED(50, 10),
              FREE(60, 40));
    ctest_destroy(a);
}

/* Fresh counters, ma_reset, ma_size_of and ma_free_at. */
static void stats_reset_size_of(const ctest_policy *p) {
    ctest_case("fresh stats / %s", p->name);
    const int buddy = p->policy == MA_POLICY_BUDDY;
    ma_allocator *a = ctest_create(p->policy, 1024, 1);
    if (!a) return;
    CHECK_STATS(a, 1024, 0, 1024, 1024, 1, 0, 0);
    CHECK_INVARIANTS(a);

    ctest_case("ma_size_of / %s", p->name);
    const size_t x7 = ALLOC(a, 7), x300 = ALLOC(a, 300), x1 = ALLOC(a, 1);
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, x300, &size), MA_OK);
    CHECK_SIZE(size, 300); /* as allocated: buddy's rounding to 512 is padding */
    CHECK_STATUS(ma_size_of(a, x7, &size), MA_OK);
    CHECK_SIZE(size, 7);
    CHECK_STATUS(ma_size_of(a, x1, &size), MA_OK);
    CHECK_SIZE(size, 1);
    size = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_size_of(a, x300 + 1, &size), MA_ERR_NOT_ALLOCATED, size); /* interior */
    CHECK_ERR_OUT(a, ma_size_of(a, x300 + 301, &size), MA_ERR_NOT_ALLOCATED, size); /* free or padding */
    if (buddy) CHECK_STATS(a, 1024, 308, 503, 256, 8, 3, 213);

    ctest_case("ma_free_at / %s", p->name);
    FREE_AT_OK(a, x300);
    if (ctest_is_fit(p)) CHECK_MAP(a, ALLOCATED(0, 7), FREE(7, 300), ALLOCATED(307, 1), FREE(308, 716));
    CHECK_ERR_OUT(a, ma_size_of(a, x300, &size), MA_ERR_NOT_ALLOCATED, size);
    CHECK_ERR(a, ma_free_at(a, x300), MA_ERR_NOT_ALLOCATED); /* double free */
    FREE_AT_OK(a, x1);                                        /* first fit: merges on both sides */
    if (ctest_is_fit(p)) CHECK_MAP(a, ALLOCATED(0, 7), FREE(7, 1017));
    FREE_AT_OK(a, x7);
    CHECK_MAP(a, FREE(0, 1024));

    ctest_case("ma_reset / %s", p->name);
    size_t x[10];
    for (size_t i = 0; i < 10; i++) {
        x[i] = ALLOC(a, 50);
    }
    FREE_OK(a, x[2], 50);
    FREE_OK(a, x[6], 50);
    CHECK_OK(a, ma_reset(a));
    CHECK_MAP(a, FREE(0, 1024));
    CHECK_STATS(a, 1024, 0, 1024, 1024, 1, 0, 0);
    CHECK_ERR(a, ma_free(a, x[0], 50), MA_ERR_NOT_ALLOCATED); /* nothing survives a reset */
    CHECK_ERR_OUT(a, ma_size_of(a, x[9], &size), MA_ERR_NOT_ALLOCATED, size);
    CHECK_ALLOC(a, 1024, 0);
    CHECK_OK(a, ma_reset(a)); /* a full allocator */
    CHECK_OK(a, ma_reset(a)); /* an empty one */
    CHECK_MAP(a, FREE(0, 1024));
    CHECK_ALLOC(a, 20, 0);
    ctest_destroy(a);
}

/* The whole of size_t: capacity SIZE_MAX, the last unit SIZE_MAX - 1. Buddy covers it with
   top-level blocks of 2^63, 2^62, ..., 1: the largest request it grants is 2^63. */
static void huge_capacity(const ctest_policy *p) {
    ctest_case("capacity SIZE_MAX / %s", p->name);
    const size_t half = SIZE_MAX / 2 + 1;
    ma_allocator *a = ctest_create(p->policy, SIZE_MAX, 1);
    if (!a) return;
    CHECK_INITIAL(a);
    CHECK_LARGEST_FREE(a);
    if (p->exact_sizes) {
        CHECK_MAP(a, FREE(0, SIZE_MAX));
        CHECK_STATS(a, SIZE_MAX, 0, SIZE_MAX, SIZE_MAX, 1, 0, 0);
        CHECK_ALLOC(a, SIZE_MAX, 0);
        CHECK_MAP(a, ALLOCATED(0, SIZE_MAX));
        CHECK_STATS(a, SIZE_MAX, SIZE_MAX, 0, 0, 0, 1, 0);
        FREE_OK(a, 0, SIZE_MAX);
        CHECK_ALLOC(a, SIZE_MAX - 1, 0);
        CHECK_ALLOC(a, 1, SIZE_MAX - 1);
        CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
        CHECK_ERR(a, ma_free(a, SIZE_MAX - 1, 2), MA_ERR_INVALID_SIZE);  /* overflows */
        CHECK_ERR(a, ma_free(a, SIZE_MAX, 1), MA_ERR_INVALID_ADDRESS);   /* == capacity */
        CHECK_ERR(a, ma_free(a, 1, SIZE_MAX - 1), MA_ERR_NOT_ALLOCATED); /* ends exactly at capacity */
        CHECK_ERR(a, ma_free(a, 0, SIZE_MAX - 2), MA_ERR_SIZE_MISMATCH);
        FREE_OK(a, SIZE_MAX - 1, 1);
        CHECK_MAP(a, ALLOCATED(0, SIZE_MAX - 1), FREE(SIZE_MAX - 1, 1));
        FREE_OK(a, 0, SIZE_MAX - 1);
        CHECK_MAP(a, FREE(0, SIZE_MAX));
        CHECK_ALLOC(a, SIZE_MAX / 2, 0);
        CHECK_ALLOC(a, SIZE_MAX / 2, SIZE_MAX / 2);
        CHECK_ALLOC(a, 1, SIZE_MAX - 1);
        CHECK_STATS(a, SIZE_MAX, SIZE_MAX, 0, 0, 0, 3, 0);
    } else {
        CHECK_STATS(a, SIZE_MAX, 0, SIZE_MAX, half, 64, 0, 0);
        CHECK_ALLOC_FAILS(a, SIZE_MAX, MA_ERR_OUT_OF_MEMORY); /* its footprint would be 2^64 */
        CHECK_ALLOC_FAILS(a, half + 1, MA_ERR_OUT_OF_MEMORY);
        CHECK_ALLOC(a, half, 0);
        CHECK_ALLOC(a, 1, SIZE_MAX - 1); /* the one-unit top-level block, the last unit */
        CHECK_ALLOC(a, half / 2, half);
        CHECK_ERR(a, ma_free(a, SIZE_MAX - 1, 2), MA_ERR_INVALID_SIZE);
        CHECK_ERR(a, ma_free(a, SIZE_MAX, 1), MA_ERR_INVALID_ADDRESS);
        CHECK_ERR(a, ma_free(a, 0, half - 1), MA_ERR_SIZE_MISMATCH);
        CHECK_LARGEST_FREE(a);
        FREE_OK(a, 0, half);
        FREE_OK(a, SIZE_MAX - 1, 1);
        FREE_OK(a, half, half / 2);
        CHECK_INITIAL(a);
        CHECK_ALLOC(a, half - 1, 0);
    }
    CHECK_OK(a, ma_reset(a));
    CHECK_INITIAL(a);
    ctest_destroy(a);

    ctest_case("ma_create(SIZE_MAX)");
    a = ma_create(SIZE_MAX);
    CHECK(a != NULL);
    if (!a) return;
    ctest_adopt(a, MA_POLICY_FIRST_FIT, SIZE_MAX, 1);
    CHECK_ALLOC(a, 1, 0);
    CHECK_STATS(a, SIZE_MAX, 1, SIZE_MAX - 1, SIZE_MAX - 1, 1, 1, 0);
    ctest_destroy(a);
}

int ma_ctest_core(void) {
    ctest_begin("core");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
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
