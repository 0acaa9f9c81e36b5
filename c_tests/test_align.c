/*
 * test_align.c: ma_alloc_aligned (the gap before an aligned block stays free; first fit
 * takes the lowest aligned address, best fit the smallest block that holds the aligned
 * request) and min_alignment (every address a multiple of it, footprints rounded up to
 * it, the rounding shown as PADDING and counted in stats.padding), for every policy.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* ma_alloc_aligned(a, size, alignment) succeeds at `want`, and the invariants hold. */
#define CHECK_ALIGNED(a, size, alignment, want)                                                             \
    do {                                                                                                    \
        size_t at_ = CTEST_SENTINEL;                                                                        \
        if (ctest_check_status(ma_alloc_aligned((a), (size), (alignment), &at_), MA_OK, __FILE__, __LINE__, \
                               "ma_alloc_aligned(" #a ", " #size ", " #alignment ") == MA_OK")) {           \
            ctest_check_size(at_, (want), __FILE__, __LINE__,                                               \
                             "address of ma_alloc_aligned(" #a ", " #size ", " #alignment ") == " #want);   \
        }                                                                                                   \
        CHECK_INVARIANTS(a);                                                                                \
    } while (0)

/* ma_alloc_aligned fails with `want`, changes nothing and leaves its out-parameter alone. */
#define CHECK_ALIGNED_FAILS(a, size, alignment, want)                                               \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        CHECK_ERR_OUT((a), ma_alloc_aligned((a), (size), (alignment), &at_), (want), at_);          \
    } while (0)

static void aligned_basics(const ctest_policy *p) {
    ctest_case("ma_alloc_aligned basics / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALIGNED(a, 3, 1, 0); /* alignment 1: a plain allocation */
    CHECK_OK(a, ma_free(a, 0, 3));
    CHECK_ALLOC(a, 1, 0);
    CHECK_ALIGNED(a, 8, 16, 16);
    /* The gap before the aligned block stays free. */
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 15), ALLOCATED(16, 8), FREE(24, 76));
    CHECK_STATS(a, 100, 9, 91, 76, 2, 2, 0);
    /* ... and can be handed out. */
    CHECK_ALLOC(a, 10, 1);
    CHECK_ALIGNED(a, 4, 4, 12); /* 11 is free, but 12 is the aligned address */
    CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, 10), FREE(11, 1), ALLOCATED(12, 4), ALLOCATED(16, 8),
              FREE(24, 76));
    CHECK_ALIGNED(a, 1, 2, 24);
    CHECK_ALIGNED(a, 10, 32, 32);
    CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, 10), FREE(11, 1), ALLOCATED(12, 4), ALLOCATED(16, 8),
              ALLOCATED(24, 1), FREE(25, 7), ALLOCATED(32, 10), FREE(42, 58));
    /* Freeing the aligned blocks merges the gaps back. */
    CHECK_OK(a, ma_free(a, 32, 10));
    CHECK_OK(a, ma_free(a, 12, 4));
    CHECK_OK(a, ma_free(a, 24, 1));
    CHECK_OK(a, ma_free(a, 16, 8));
    CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, 10), FREE(11, 89));
    /* An alignment larger than the capacity: only address 0 qualifies. */
    CHECK_OK(a, ma_reset(a));
    CHECK_ALIGNED(a, 1, 128, 0);
    CHECK_ALIGNED_FAILS(a, 1, 128, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALIGNED(a, 99, 1, 1);
    ma_destroy(a);
}

/* First fit: the lowest aligned address where the request fits. Best fit: the smallest
   free block that holds the aligned request, at its lowest aligned address. */
static void aligned_placement(const ctest_policy *p) {
    ctest_case("ma_alloc_aligned placement / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 64, 1);
    if (!a) return;
    CHECK_ALLOC(a, 1, 0);
    CHECK_ALLOC(a, 19, 1);
    CHECK_ALLOC(a, 20, 20);
    CHECK_ALLOC(a, 8, 40);
    CHECK_ALLOC(a, 16, 48);
    CHECK_OK(a, ma_free(a, 1, 19));
    CHECK_OK(a, ma_free(a, 40, 8));
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 19), ALLOCATED(20, 20), FREE(40, 8), ALLOCATED(48, 16));
    /* 16 is aligned but 16 + 8 > 20, and 48 is taken: no fit at 16. */
    CHECK_ALIGNED_FAILS(a, 8, 16, MA_ERR_OUT_OF_MEMORY);
    if (p->policy == MA_POLICY_FIRST_FIT) {
        CHECK_ALIGNED(a, 8, 8, 8);
        CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 7), ALLOCATED(8, 8), FREE(16, 4), ALLOCATED(20, 20), FREE(40, 8),
                  ALLOCATED(48, 16));
    } else if (p->policy == MA_POLICY_BEST_FIT) {
        CHECK_ALIGNED(a, 8, 8, 40);
        CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 19), ALLOCATED(20, 20), ALLOCATED(40, 8), ALLOCATED(48, 16));
        /* 12 units at 16 would end at 28, past the 1-19 block; 40-47 is taken. */
        CHECK_ALIGNED_FAILS(a, 12, 16, MA_ERR_OUT_OF_MEMORY);
        CHECK_ALIGNED(a, 4, 16, 16);
    }
    ma_destroy(a);
}

static void min_alignment(const ctest_policy *p) {
    ctest_case("min_alignment 8 / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 64, 8);
    if (!a) return;
    CHECK_MAP(a, FREE(0, 64));
    CHECK_ALLOC(a, 5, 0);
    CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), FREE(8, 56));
    CHECK_STATS(a, 64, 5, 56, 56, 1, 1, 3);
    CHECK_ALLOC(a, 8, 8); /* a multiple of 8: no padding */
    CHECK_ALLOC(a, 1, 16);
    CHECK_ALIGNED(a, 1, 4, 24);  /* the effective alignment is the larger, 8 */
    CHECK_ALIGNED(a, 1, 32, 32); /* a larger one wins */
    CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), ALLOCATED(8, 8), ALLOCATED(16, 1), PADDING(17, 7),
              ALLOCATED(24, 1), PADDING(25, 7), ALLOCATED(32, 1), PADDING(33, 7), FREE(40, 24));
    CHECK_STATS(a, 64, 16, 24, 24, 1, 5, 24);
    /* The sizes are as allocated; padding is not an allocation. */
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, 0, &size), MA_OK);
    CHECK_SIZE(size, 5);
    CHECK_ERR(a, ma_free(a, 0, 8), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, 5, 3), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free_at(a, 17), MA_ERR_NOT_ALLOCATED);
    /* Freeing gives back the whole footprint, merged. */
    CHECK_OK(a, ma_free(a, 16, 1));
    CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), ALLOCATED(8, 8), FREE(16, 8), ALLOCATED(24, 1), PADDING(25, 7),
              ALLOCATED(32, 1), PADDING(33, 7), FREE(40, 24));
    CHECK_OK(a, ma_free_at(a, 24));
    CHECK_OK(a, ma_free(a, 32, 1));
    CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), ALLOCATED(8, 8), FREE(16, 48));
    /* Every free unit can be handed out. */
    CHECK_ALLOC(a, 48, 16);
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_OK(a, ma_free(a, 16, 48));

    ctest_case("min_alignment 8, realloc / %s", p->name);
    size_t at = CTEST_SENTINEL;
    CHECK_OK(a, ma_realloc(a, 0, 5, 7, &at)); /* the same footprint */
    CHECK_SIZE(at, 0);
    CHECK_MAP(a, ALLOCATED(0, 7), PADDING(7, 1), ALLOCATED(8, 8), FREE(16, 48));
    CHECK_OK(a, ma_realloc(a, 8, 8, 9, &at)); /* grows in place to a footprint of 16 */
    CHECK_SIZE(at, 8);
    CHECK_MAP(a, ALLOCATED(0, 7), PADDING(7, 1), ALLOCATED(8, 9), PADDING(17, 7), FREE(24, 40));
    CHECK_OK(a, ma_realloc(a, 0, 7, 9, &at)); /* 8 is taken: moves to the next multiple of 8 */
    CHECK_SIZE(at, 24);
    CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 9), PADDING(17, 7), ALLOCATED(24, 9), PADDING(33, 7), FREE(40, 24));
    CHECK_OK(a, ma_realloc(a, 8, 9, 2, &at)); /* shrinks: the freed footprint tail merges */
    CHECK_SIZE(at, 8);
    CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 2), PADDING(10, 6), FREE(16, 8), ALLOCATED(24, 9), PADDING(33, 7),
              FREE(40, 24));
    CHECK_OK(a, ma_reset(a));
    CHECK_MAP(a, FREE(0, 64));
    CHECK_STATS(a, 64, 0, 64, 64, 1, 0, 0);
    ma_destroy(a);
}

/* A capacity that is not a multiple of min_alignment: free extents still start and end
   on multiples of it and every free unit can be handed out, so the tail that no aligned
   footprint can use is reported as PADDING (API.md does not name this case). */
static void unaligned_capacity(const ctest_policy *p) {
    ctest_case("capacity 100, min_alignment 8 / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 8);
    if (!a) return;
    CHECK_INVARIANTS(a);
    CHECK_MAP(a, FREE(0, 96), PADDING(96, 4));
    CHECK_STATS(a, 100, 0, 96, 96, 1, 0, 4);
    CHECK_ALLOC_FAILS(a, 97, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALLOC(a, 90, 0);
    CHECK_MAP(a, ALLOCATED(0, 90), PADDING(90, 6), PADDING(96, 4));
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_OK(a, ma_reset(a));
    CHECK_MAP(a, FREE(0, 96), PADDING(96, 4));
    ma_destroy(a);

    ctest_case("capacity SIZE_MAX, min_alignment 2^63 / %s", p->name);
    const size_t half = SIZE_MAX / 2 + 1;
    a = ctest_create(p->policy, SIZE_MAX, half);
    if (!a) return;
    CHECK_MAP(a, FREE(0, half), PADDING(half, half - 1));
    CHECK_ALLOC_FAILS(a, SIZE_MAX, MA_ERR_OUT_OF_MEMORY); /* the footprint overflows */
    CHECK_ALLOC(a, 1, 0);
    CHECK_MAP(a, ALLOCATED(0, 1), PADDING(1, half - 1), PADDING(half, half - 1));
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_OK(a, ma_free(a, 0, 1));
    CHECK_ALLOC(a, half, 0);
    ma_destroy(a);
}

/* Alignments up to 2^63 in the whole of size_t. */
static void huge_alignment(const ctest_policy *p) {
    ctest_case("alignment 2^63, capacity SIZE_MAX / %s", p->name);
    const size_t half = SIZE_MAX / 2 + 1;
    ma_allocator *a = ctest_create(p->policy, SIZE_MAX, 1);
    if (!a) return;
    CHECK_ALIGNED(a, 1, half, 0);
    CHECK_ALIGNED(a, 1, half, half);
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, half - 1), ALLOCATED(half, 1), FREE(half + 1, half - 2));
    CHECK_ALIGNED_FAILS(a, 1, half, MA_ERR_OUT_OF_MEMORY); /* both multiples of 2^63 are taken */
    CHECK_ALIGNED_FAILS(a, half, 2, MA_ERR_OUT_OF_MEMORY);
    CHECK_ALIGNED(a, half - 1, 1, 1);
    const size_t quarter = half / 2;                /* 2^62: its free multiple is 3 * 2^62 */
    CHECK_ALIGNED(a, 4, quarter, 3 * quarter);
    CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, half - 1), ALLOCATED(half, 1), FREE(half + 1, quarter - 1),
              ALLOCATED(3 * quarter, 4), FREE(3 * quarter + 4, quarter - 5));
    ma_destroy(a);
}

int ma_ctest_align(void) {
    ctest_begin("align");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        if (!p->exact_sizes) continue; /* the expected maps assume exact sizes */
        aligned_basics(p);
        aligned_placement(p);
        min_alignment(p);
        unaligned_capacity(p);
        huge_alignment(p);
    }
    return ctest_end();
}
