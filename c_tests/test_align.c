/*
 * test_align.c: ma_alloc_aligned (the gap before an aligned block stays free; first fit
 * takes the lowest aligned address, best fit the smallest block that holds the aligned
 * request, TLSF any block that holds it, buddy the smallest aligned block) and
 * min_alignment (every address a multiple of it, footprints rounded up to it, the
 * rounding shown as PADDING and counted in stats.padding), for every policy.
 *
 * Every call is checked against the model of its policy (support.h), which pins each
 * address down where the policy does and checks the whole map after it; the maps written
 * out by hand are first fit's and best fit's, and buddy's where they differ.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* ma_alloc_aligned(a, size, alignment) succeeds at `want` (as the model says too), and the
   invariants hold. */
#define CHECK_ALIGNED(a, size, alignment, want)                                                     \
    ctest_check_size(ALLOC_ALIGNED((a), (size), (alignment)), (want), __FILE__, __LINE__,          \
                     "address of ma_alloc_aligned(" #a ", " #size ", " #alignment ") == " #want)

/* ma_alloc_aligned fails with `want`, changes nothing and leaves its out-parameter alone. */
#define CHECK_ALIGNED_FAILS(a, size, alignment, want)                                               \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        CHECK_ERR_OUT((a), ma_alloc_aligned((a), (size), (alignment), &at_), (want), at_);          \
        CHECK_STATUS(MODEL_ALLOC_ALIGNED((a), (size), (alignment), &at_), (want));                  \
    } while (0)

/* ma_alloc_aligned where the policy's rule says; the address, checked to be a multiple of
   `alignment` on top of that. */
static size_t aligned_at(ma_allocator *a, size_t size, size_t alignment, int line) {
    const size_t at = ctest_alloc_ok(a, size, alignment, __FILE__, line, "ma_alloc_aligned");
    ctest_record(at % alignment == 0, __FILE__, line, "the address is a multiple of the alignment", NULL);
    return at;
}
#define ALIGNED_AT(a, size, alignment) aligned_at((a), (size), (alignment), __LINE__)

static void aligned_basics(const ctest_policy *p) {
    ctest_case("ma_alloc_aligned basics / %s", p->name);
    const int fit = ctest_is_fit(p), buddy = p->policy == MA_POLICY_BUDDY;
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    const size_t x3 = ALIGNED_AT(a, 3, 1); /* alignment 1: a plain allocation */
    FREE_OK(a, x3, 3);
    CHECK_INITIAL(a);
    const size_t one = ALLOC(a, 1);
    const size_t x8 = ALIGNED_AT(a, 8, 16);
    /* The gap before the aligned block stays free (the model checks the map every time). */
    if (fit) {
        CHECK_SIZE(one, 0);
        CHECK_SIZE(x8, 16);
        CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 15), ALLOCATED(16, 8), FREE(24, 76));
        CHECK_STATS(a, 100, 9, 91, 76, 2, 2, 0);
    }
    if (buddy) { /* 64 at 0, 32 at 64, 4 at 96: the smallest blocks that hold them */
        CHECK_SIZE(one, 96);
        CHECK_SIZE(x8, 64);
        CHECK_MAP(a, FREE(0, 64), ALLOCATED(64, 8), FREE(72, 8), FREE(80, 16), ALLOCATED(96, 1), FREE(97, 1),
                  FREE(98, 2));
    }
    /* ... and can be handed out. */
    const size_t x10 = ALLOC(a, 10);
    const size_t x4 = ALIGNED_AT(a, 4, 4);
    if (fit) {
        CHECK_SIZE(x10, 1);
        CHECK_SIZE(x4, 12); /* 11 is free, but 12 is the aligned address */
        CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, 10), FREE(11, 1), ALLOCATED(12, 4), ALLOCATED(16, 8),
                  FREE(24, 76));
    }
    const size_t x1 = ALIGNED_AT(a, 1, 2);
    const size_t x10b = ALIGNED_AT(a, 10, 32);
    if (fit) {
        CHECK_SIZE(x1, 24);
        CHECK_SIZE(x10b, 32);
        CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, 10), FREE(11, 1), ALLOCATED(12, 4), ALLOCATED(16, 8),
                  ALLOCATED(24, 1), FREE(25, 7), ALLOCATED(32, 10), FREE(42, 58));
    }
    /* Freeing the aligned blocks merges the gaps back. */
    FREE_OK(a, x10b, 10);
    FREE_OK(a, x4, 4);
    FREE_OK(a, x1, 1);
    FREE_OK(a, x8, 8);
    if (fit) CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, 10), FREE(11, 89));
    FREE_OK(a, one, 1);
    FREE_OK(a, x10, 10);
    CHECK_INITIAL(a);
    /* An alignment larger than the capacity: only address 0 qualifies. */
    CHECK_ALIGNED(a, 1, 128, 0);
    CHECK_ALIGNED_FAILS(a, 1, 128, MA_ERR_OUT_OF_MEMORY);
    if (p->exact_sizes) CHECK_ALIGNED(a, 99, 1, 1);
    ctest_destroy(a);
}

/* First fit: the lowest aligned address where the request fits. Best fit: the smallest
   free block that holds the aligned request, at its lowest aligned address. TLSF: some
   block that holds it. Buddy: a block of the smallest size that starts on the alignment;
   among those, the one at the head of its LIFO free list (the most recently freed or
   split off). */
static void aligned_placement(const ctest_policy *p) {
    ctest_case("ma_alloc_aligned placement / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        ma_allocator *a = ctest_create(p->policy, 64, 1);
        if (!a) return;
        CHECK_ALIGNED(a, 1, 32, 0);  /* 64 split down to 1: 1, 2, 4, 8, 16, 32 free */
        CHECK_ALIGNED(a, 1, 32, 32); /* the 32-unit block is the only one on a multiple of 32 */
        CHECK_ALIGNED(a, 1, 16, 48); /* 16-31 and 48-63 are the smallest on 16: 48 was split off last */
        CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 1), FREE(2, 2), FREE(4, 4), FREE(8, 8), FREE(16, 16), ALLOCATED(32, 1),
                  FREE(33, 1), FREE(34, 2), FREE(36, 4), FREE(40, 8), ALLOCATED(48, 1), FREE(49, 1), FREE(50, 2),
                  FREE(52, 4), FREE(56, 8));
        CHECK_ALIGNED(a, 3, 8, 56); /* 8, 40 and 56 tie: 56 is the newest; 4 at 4, 36, 52 are not on 8 */
        CHECK_ALIGNED(a, 2, 2, 50); /* a 2-unit block, the newest */
        CHECK_ALIGNED_FAILS(a, 1, 64, MA_ERR_OUT_OF_MEMORY);
        CHECK_ALIGNED_FAILS(a, 17, 1, MA_ERR_OUT_OF_MEMORY); /* no 32-unit block left */
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = ctest_create_layout(
        p->policy, 64, (const ctest_extent[]){ALLOCATED(0, 1), FREE(1, 19), ALLOCATED(20, 20), FREE(40, 8), ALLOCATED(48, 16)},
        5);
    if (!a) return;
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
    } else {
        const size_t at = ALIGNED_AT(a, 8, 8); /* TLSF: 8 in 1-19, or 40 */
        CHECK(at == 8 || at == 40);
        CHECK_ALIGNED_FAILS(a, 12, 16, MA_ERR_OUT_OF_MEMORY);
    }
    ctest_destroy(a);
}

static void min_alignment(const ctest_policy *p) {
    ctest_case("min_alignment 8 / %s", p->name);
    const int fit = ctest_is_fit(p), buddy = p->policy == MA_POLICY_BUDDY;
    ma_allocator *a = ctest_create(p->policy, 64, 8);
    if (!a) return;
    CHECK_MAP(a, FREE(0, 64));
    const size_t x5 = ALIGNED_AT(a, 5, 8);
    if (fit) {
        CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), FREE(8, 56));
        CHECK_STATS(a, 64, 5, 56, 56, 1, 1, 3);
    }
    if (buddy) CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), FREE(8, 8), FREE(16, 16), FREE(32, 32));
    const size_t x8 = ALIGNED_AT(a, 8, 8); /* a multiple of 8: no padding */
    const size_t x1 = ALIGNED_AT(a, 1, 8);
    const size_t y1 = ALIGNED_AT(a, 1, 4);  /* the effective alignment is the larger, 8 */
    CHECK(y1 % 8 == 0);
    const size_t z1 = ALIGNED_AT(a, 1, 32); /* a larger one wins */
    if (fit) {
        CHECK_SIZE(x5, 0);
        CHECK_SIZE(x8, 8);
        CHECK_SIZE(x1, 16);
        CHECK_SIZE(y1, 24);
        CHECK_SIZE(z1, 32);
        CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), ALLOCATED(8, 8), ALLOCATED(16, 1), PADDING(17, 7),
                  ALLOCATED(24, 1), PADDING(25, 7), ALLOCATED(32, 1), PADDING(33, 7), FREE(40, 24));
    }
    if (fit) CHECK_STATS(a, 64, 16, 24, 24, 1, 5, 24);
    if (buddy) { /* the same addresses, but the free space stays in buddy blocks */
        CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), ALLOCATED(8, 8), ALLOCATED(16, 1), PADDING(17, 7),
                  ALLOCATED(24, 1), PADDING(25, 7), ALLOCATED(32, 1), PADDING(33, 7), FREE(40, 8), FREE(48, 16));
        CHECK_STATS(a, 64, 16, 24, 16, 2, 5, 24);
    }
    /* The sizes are as allocated; padding is not an allocation. */
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, x5, &size), MA_OK);
    CHECK_SIZE(size, 5);
    CHECK_ERR(a, ma_free(a, x5, 8), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, x5 + 5, 3), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free_at(a, x1 + 1), MA_ERR_NOT_ALLOCATED);
    /* Freeing gives back the whole footprint, merged. */
    FREE_OK(a, x1, 1);
    FREE_AT_OK(a, y1);
    FREE_OK(a, z1, 1);
    if (fit) CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), ALLOCATED(8, 8), FREE(16, 48));
    /* Every free unit can be handed out. */
    CHECK_LARGEST_FREE(a);
    if (fit) {
        CHECK_ALLOC(a, 48, 16);
        CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
        FREE_OK(a, 16, 48);
    }

    ctest_case("min_alignment 8, realloc / %s", p->name);
    CHECK_SIZE(REALLOC(a, x5, 5, 7), x5); /* the same footprint */
    const size_t x9 = REALLOC(a, x8, 8, 9); /* first fit: grows in place to a footprint of 16 */
    const size_t w9 = REALLOC(a, x5, 7, 9);
    CHECK(x9 % 8 == 0 && w9 % 8 == 0);
    if (fit) {
        CHECK_SIZE(x9, 8);
        CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 9), PADDING(17, 7), ALLOCATED(24, 9), PADDING(33, 7), FREE(40, 24));
        CHECK_SIZE(w9, 24); /* 8 was taken: moved to the next multiple of 8 */
    }
    CHECK_SIZE(REALLOC(a, x9, 9, 2), x9); /* shrinks: the freed footprint tail merges */
    if (fit) {
        CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 2), PADDING(10, 6), FREE(16, 8), ALLOCATED(24, 9), PADDING(33, 7),
                  FREE(40, 24));
    }
    CHECK_OK(a, ma_reset(a));
    CHECK_MAP(a, FREE(0, 64));
    CHECK_STATS(a, 64, 0, 64, 64, 1, 0, 0);
    ctest_destroy(a);
}

/* A capacity that is not a multiple of min_alignment: free extents still start and end
   on multiples of it and every free unit can be handed out, so the tail that no aligned
   footprint can use is reported as PADDING (docs/CONTRACT.md does not name this case). */
static void unaligned_capacity(const ctest_policy *p) {
    ctest_case("capacity 100, min_alignment 8 / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 8);
    if (!a) return;
    CHECK_INVARIANTS(a);
    CHECK_ALLOC_FAILS(a, 97, MA_ERR_OUT_OF_MEMORY);
    if (p->exact_sizes) {
        CHECK_MAP(a, FREE(0, 96), PADDING(96, 4));
        CHECK_STATS(a, 100, 0, 96, 96, 1, 0, 4);
        CHECK_ALLOC(a, 90, 0); /* a footprint of 96: the whole usable range */
        CHECK_MAP(a, ALLOCATED(0, 90), PADDING(90, 6), PADDING(96, 4));
    } else {
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), PADDING(96, 4)); /* 96 = 64 + 32 */
        CHECK_STATS(a, 100, 0, 96, 64, 2, 0, 4);
        CHECK_ALLOC(a, 60, 0);
        CHECK_ALLOC(a, 25, 64);
        CHECK_MAP(a, ALLOCATED(0, 60), PADDING(60, 4), ALLOCATED(64, 25), PADDING(89, 7), PADDING(96, 4));
    }
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    CHECK_OK(a, ma_reset(a));
    CHECK_INITIAL(a);
    ctest_destroy(a);

    ctest_case("capacity SIZE_MAX, min_alignment 2^63 / %s", p->name);
    const size_t half = SIZE_MAX / 2 + 1;
    a = ctest_create(p->policy, SIZE_MAX, half);
    if (!a) return;
    CHECK_MAP(a, FREE(0, half), PADDING(half, half - 1));
    CHECK_ALLOC_FAILS(a, SIZE_MAX, MA_ERR_OUT_OF_MEMORY); /* the footprint overflows */
    CHECK_ALLOC(a, 1, 0);
    CHECK_MAP(a, ALLOCATED(0, 1), PADDING(1, half - 1), PADDING(half, half - 1));
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    FREE_OK(a, 0, 1);
    CHECK_ALLOC(a, half, 0);
    ctest_destroy(a);
}

/* Alignments up to 2^63 in the whole of size_t. */
static void huge_alignment(const ctest_policy *p) {
    ctest_case("alignment 2^63, capacity SIZE_MAX / %s", p->name);
    const size_t half = SIZE_MAX / 2 + 1;
    const size_t quarter = half / 2;
    ma_allocator *a = ctest_create(p->policy, SIZE_MAX, 1);
    if (!a) return;
    const size_t x = ALIGNED_AT(a, 1, half), y = ALIGNED_AT(a, 1, half); /* 0 and 2^63 */
    CHECK((x == 0 && y == half) || (x == half && y == 0));
    if (ctest_is_fit(p)) {
        CHECK_SIZE(x, 0);
        CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, half - 1), ALLOCATED(half, 1), FREE(half + 1, half - 2));
    }
    if (p->policy == MA_POLICY_BUDDY) CHECK_SIZE(x, half); /* the 2^62 block at 2^63 is the smaller one */
    CHECK_ALIGNED_FAILS(a, 1, half, MA_ERR_OUT_OF_MEMORY); /* both multiples of 2^63 are taken */
    CHECK_ALIGNED_FAILS(a, half, 2, MA_ERR_OUT_OF_MEMORY);
    if (p->exact_sizes) {
        CHECK_ALIGNED(a, half - 1, 1, 1);
        CHECK_ALIGNED(a, 4, quarter, 3 * quarter); /* 2^62: its free multiple is 3 * 2^62 */
        CHECK_MAP(a, ALLOCATED(0, 1), ALLOCATED(1, half - 1), ALLOCATED(half, 1), FREE(half + 1, quarter - 1),
                  ALLOCATED(3 * quarter, 4), FREE(3 * quarter + 4, quarter - 5));
    } else {
        CHECK_ALIGNED_FAILS(a, half - 1, 1, MA_ERR_OUT_OF_MEMORY); /* its footprint is 2^63 */
        /* On a multiple of 2^62: 2^62 at 2^62 (split from 0) and the top-level 2^61 at
           3 * 2^62; the smaller wins. */
        CHECK_ALIGNED(a, 4, quarter, 3 * quarter);
        CHECK_ALIGNED(a, quarter, 1, quarter);
    }
    CHECK_LARGEST_FREE(a);
    ctest_destroy(a);
}

int ma_ctest_align(void) {
    ctest_begin("align");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        aligned_basics(p);
        aligned_placement(p);
        min_alignment(p);
        unaligned_capacity(p);
        huge_alignment(p);
    }
    return ctest_end();
}
