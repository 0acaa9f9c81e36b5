/*
 * test_realloc.c: ma_realloc for every policy: shrink in place (the tail is freed and
 * merged), grow in place into the free space right after the block (buddy: only within
 * its rounded footprint), move (the new block is chosen while the old one is still held,
 * then the old one is freed and merged), and out of memory, which leaves the old
 * allocation as it was.
 *
 * Every call is checked against the model of its policy (REALLOC, ALLOC, FREE_OK; see
 * support.h). The exact-size policies start from maps built with ctest_create_layout, so
 * that TLSF's maps are pinned down too; where a policy may choose, the hand-written maps
 * are first fit's and best fit's, and the model checks the others.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* ma_realloc(a, addr, old_size, new_size) succeeds at `want` (checked against the model
   too), and the invariants hold. */
#define CHECK_REALLOC(a, addr, old_size, new_size, want)                                                          \
    ctest_check_size(REALLOC((a), (addr), (old_size), (new_size)), (want), __FILE__, __LINE__,                    \
                     "address of ma_realloc(" #a ", " #addr ", " #old_size ", " #new_size ") == " #want)

/* ma_realloc fails with `want`, changes nothing and leaves its out-parameter alone. */
#define CHECK_REALLOC_FAILS(a, addr, old_size, new_size, want)                                      \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        CHECK_ERR_OUT((a), ma_realloc((a), (addr), (old_size), (new_size), &at_), (want), at_);     \
        CHECK_STATUS(MODEL_REALLOC((a), (addr), (old_size), (new_size), &at_), (want));             \
    } while (0)

#define LAYOUT(p, capacity, ...)                                                                    \
    ctest_create_layout((p)->policy, (capacity), (const ctest_extent[]){__VA_ARGS__},               \
                        sizeof((const ctest_extent[]){__VA_ARGS__}) / sizeof(ctest_extent))

static void shrink_in_place(const ctest_policy *p) {
    ctest_case("shrink in place / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        /* The tail of the footprint goes back as buddy blocks: 64 -> 8 frees 8, 16, 32. */
        ma_allocator *a = ctest_create(p->policy, 128, 1);
        if (!a) return;
        CHECK_ALLOC(a, 60, 0);
        CHECK_ALLOC(a, 10, 64);
        CHECK_REALLOC(a, 0, 60, 5, 0);
        CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), FREE(8, 8), FREE(16, 16), FREE(32, 32), ALLOCATED(64, 10),
                  PADDING(74, 6), FREE(80, 16), FREE(96, 32));
        CHECK_STATS(a, 128, 15, 104, 32, 5, 2, 9);
        CHECK_REALLOC(a, 0, 5, 8, 0); /* grows back within its footprint */
        CHECK_REALLOC(a, 64, 10, 16, 64);
        CHECK_REALLOC(a, 64, 16, 3, 64); /* freed tail 68-79 merges with nothing: 64-67 is held */
        CHECK_MAP(a, ALLOCATED(0, 8), FREE(8, 8), FREE(16, 16), FREE(32, 32), ALLOCATED(64, 3), PADDING(67, 1),
                  FREE(68, 4), FREE(72, 8), FREE(80, 16), FREE(96, 32));
        size_t size = CTEST_SENTINEL;
        CHECK_STATUS(ma_size_of(a, 0, &size), MA_OK);
        CHECK_SIZE(size, 8);
        CHECK_ERR(a, ma_free(a, 0, 5), MA_ERR_SIZE_MISMATCH);
        FREE_OK(a, 64, 3); /* merges all the way back to 64-127 */
        FREE_OK(a, 0, 8);
        CHECK_INITIAL(a);
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = LAYOUT(p, 100, ALLOCATED(0, 40), ALLOCATED(40, 10), FREE(50, 50));
    if (!a) return;
    /* The tail becomes an isolated free block. */
    CHECK_REALLOC(a, 0, 40, 25, 0);
    CHECK_MAP(a, ALLOCATED(0, 25), FREE(25, 15), ALLOCATED(40, 10), FREE(50, 50));
    CHECK_STATS(a, 100, 35, 65, 50, 2, 2, 0);
    /* The tail merges with the free block after it. */
    CHECK_REALLOC(a, 40, 10, 4, 40);
    CHECK_MAP(a, ALLOCATED(0, 25), FREE(25, 15), ALLOCATED(40, 4), FREE(44, 56));
    CHECK_REALLOC(a, 0, 25, 1, 0);
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 39), ALLOCATED(40, 4), FREE(44, 56));
    /* The size changed: the old size is now a mismatch, ma_size_of tells the new one. */
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, 0, &size), MA_OK);
    CHECK_SIZE(size, 1);
    CHECK_ERR(a, ma_free(a, 0, 25), MA_ERR_SIZE_MISMATCH);
    /* Same size: nothing moves, nothing changes. */
    CHECK_REALLOC(a, 40, 4, 4, 40);
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 39), ALLOCATED(40, 4), FREE(44, 56));
    /* The last block of the range. */
    CHECK_ALLOC(a, 56, 44); /* the only block that holds 56 */
    CHECK_REALLOC(a, 44, 56, 50, 44);
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 39), ALLOCATED(40, 4), ALLOCATED(44, 50), FREE(94, 6));
    ctest_destroy(a);
}

static void grow_in_place(const ctest_policy *p) {
    ctest_case("grow in place / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        /* Only within the rounded footprint: 5 -> 8 stays, 8 -> 9 moves although the
           buddy after it (8-15) is free (docs/CONTRACT.md: "buddy: when the block's rounded
           footprint already holds new_size"). */
        ma_allocator *a = ctest_create(p->policy, 64, 1);
        if (!a) return;
        CHECK_ALLOC(a, 5, 0);
        CHECK_MAP(a, ALLOCATED(0, 5), PADDING(5, 3), FREE(8, 8), FREE(16, 16), FREE(32, 32));
        CHECK_REALLOC(a, 0, 5, 8, 0);
        CHECK_MAP(a, ALLOCATED(0, 8), FREE(8, 8), FREE(16, 16), FREE(32, 32));
        CHECK_REALLOC(a, 0, 8, 9, 16); /* the 16-unit block; 0-15 merges back */
        CHECK_MAP(a, FREE(0, 16), ALLOCATED(16, 9), PADDING(25, 7), FREE(32, 32));
        CHECK_REALLOC(a, 16, 9, 16, 16);
        CHECK_REALLOC_FAILS(a, 16, 16, 64, MA_ERR_OUT_OF_MEMORY); /* held: no 64-unit block */
        FREE_OK(a, 16, 16);
        CHECK_MAP(a, FREE(0, 64));
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = LAYOUT(p, 100, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), FREE(30, 70));
    if (!a) return;
    /* Into a hole, exactly filling it. */
    CHECK_REALLOC(a, 0, 10, 20, 0);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 70));
    ctest_destroy(a);

    /* Into the free tail, partly, although a smaller free block would fit elsewhere:
       in place comes first. */
    a = LAYOUT(p, 100, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 50), FREE(90, 10));
    if (!a) return;
    CHECK_REALLOC(a, 40, 50, 55, 40);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 55), FREE(95, 5));
    /* Up to the very end of the range. */
    CHECK_REALLOC(a, 40, 55, 60, 40);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 60));
    CHECK_STATS(a, 100, 90, 10, 10, 1, 3, 0);
    ctest_destroy(a);
}

/* The new block is chosen while the old one is still held: freeing first would have
   merged 0-39 and placed the block at 0, over the old one. */
static void move_while_held(const ctest_policy *p) {
    ctest_case("move while the old block is held / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        /* [a 16][b 16][c 32], a freed: b cannot grow to 32 while held (freed first, it
           would have merged with a into 0-31, over itself), so out of memory... */
        ma_allocator *a = ctest_create(p->policy, 64, 1);
        if (!a) return;
        CHECK_ALLOC(a, 16, 0);
        CHECK_ALLOC(a, 16, 16);
        CHECK_ALLOC(a, 32, 32);
        FREE_OK(a, 0, 16);
        CHECK_REALLOC_FAILS(a, 16, 16, 32, MA_ERR_OUT_OF_MEMORY);
        ctest_destroy(a);
        /* ... and with room elsewhere it moves there, then merges the old block back. */
        a = ctest_create(p->policy, 128, 1);
        if (!a) return;
        CHECK_ALLOC(a, 16, 0);
        CHECK_ALLOC(a, 16, 16);
        CHECK_ALLOC(a, 32, 32);
        FREE_OK(a, 0, 16);
        CHECK_REALLOC(a, 16, 16, 32, 64);
        CHECK_MAP(a, FREE(0, 32), ALLOCATED(32, 32), ALLOCATED(64, 32), FREE(96, 32));
        CHECK_ERR(a, ma_free(a, 16, 16), MA_ERR_NOT_ALLOCATED);
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = LAYOUT(p, 100, FREE(0, 10), ALLOCATED(10, 30), ALLOCATED(40, 10), FREE(50, 50));
    if (!a) return;
    const size_t moved = REALLOC(a, 10, 30, 35); /* anywhere in 50-99 (TLSF), at 50 (first and best fit) */
    CHECK(moved >= 50);
    if (ctest_is_fit(p)) {
        CHECK_SIZE(moved, 50);
        /* The old block is released and merged with the hole before it. */
        CHECK_MAP(a, FREE(0, 40), ALLOCATED(40, 10), ALLOCATED(50, 35), FREE(85, 15));
    }
    CHECK_STATS(a, 100, 45, 55, 40, moved == 50 || moved == 65 ? 2 : 3, 2, 0);
    CHECK_ERR(a, ma_free(a, 10, 30), MA_ERR_NOT_ALLOCATED);
    FREE_OK(a, moved, 35);
    ctest_destroy(a);
}

/* A move goes where the policy places a new block. */
static void move_by_policy(const ctest_policy *p) {
    ctest_case("move by policy / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        /* The smallest block that holds the footprint: 32-63, not 64-127. */
        ma_allocator *a = ctest_create(p->policy, 128, 1);
        if (!a) return;
        CHECK_ALLOC(a, 16, 0);
        CHECK_ALLOC(a, 16, 16);
        CHECK_ALLOC(a, 32, 32);
        FREE_OK(a, 32, 32);
        CHECK_REALLOC(a, 0, 16, 17, 32);
        CHECK_MAP(a, FREE(0, 16), ALLOCATED(16, 16), ALLOCATED(32, 17), PADDING(49, 15), FREE(64, 64));
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = LAYOUT(p, 100, ALLOCATED(0, 10), ALLOCATED(10, 10), FREE(20, 30), ALLOCATED(50, 10),
                             FREE(60, 20), ALLOCATED(80, 10), FREE(90, 10));
    if (!a) return;
    if (p->policy == MA_POLICY_FIRST_FIT) {
        CHECK_REALLOC(a, 0, 10, 15, 20); /* the lowest hole that holds 15 */
        CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 10), ALLOCATED(20, 15), FREE(35, 15), ALLOCATED(50, 10),
                  FREE(60, 20), ALLOCATED(80, 10), FREE(90, 10));
    } else if (p->policy == MA_POLICY_BEST_FIT) {
        CHECK_REALLOC(a, 0, 10, 15, 60); /* the smallest hole that holds 15 */
        CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 10), FREE(20, 30), ALLOCATED(50, 10), ALLOCATED(60, 15),
                  FREE(75, 5), ALLOCATED(80, 10), FREE(90, 10));
    } else {
        const size_t moved = REALLOC(a, 0, 10, 15); /* TLSF: a hole that holds 15, 20-49 or 60-79 */
        CHECK((moved >= 20 && moved <= 35) || (moved >= 60 && moved <= 65));
    }
    ctest_destroy(a);
}

static void out_of_memory(const ctest_policy *p) {
    ctest_case("realloc out of memory / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        ma_allocator *a = ctest_create(p->policy, 128, 1);
        if (!a) return;
        CHECK_ALLOC(a, 64, 0);
        CHECK_ALLOC(a, 64, 64);
        CHECK_REALLOC_FAILS(a, 0, 64, 65, MA_ERR_OUT_OF_MEMORY);  /* full */
        CHECK_REALLOC_FAILS(a, 64, 64, 65, MA_ERR_OUT_OF_MEMORY); /* the last block cannot pass the end */
        CHECK_REALLOC_FAILS(a, 0, 64, SIZE_MAX, MA_ERR_OUT_OF_MEMORY);
        FREE_OK(a, 0, 64);
        CHECK_ALLOC(a, 20, 0);
        /* 0-31 live, 32-63 free, 64-127 live. Growing 0-31 to 64 units: the old block
           plus its free buddy would hold it, but the old block is held while choosing. */
        CHECK_REALLOC_FAILS(a, 0, 20, 33, MA_ERR_OUT_OF_MEMORY);
        CHECK_REALLOC_FAILS(a, 64, 64, 96, MA_ERR_OUT_OF_MEMORY);
        CHECK_MAP(a, ALLOCATED(0, 20), PADDING(20, 12), FREE(32, 32), ALLOCATED(64, 64));
        size_t size = CTEST_SENTINEL;
        CHECK_STATUS(ma_size_of(a, 0, &size), MA_OK);
        CHECK_SIZE(size, 20);
        CHECK_REALLOC(a, 0, 20, 32, 0); /* exactly its footprint still works */
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = LAYOUT(p, 100, ALLOCATED(0, 50), ALLOCATED(50, 50));
    if (!a) return;
    CHECK_REALLOC_FAILS(a, 0, 50, 51, MA_ERR_OUT_OF_MEMORY);  /* full */
    CHECK_REALLOC_FAILS(a, 50, 50, 51, MA_ERR_OUT_OF_MEMORY); /* the last block cannot pass the end */
    CHECK_REALLOC_FAILS(a, 0, 50, SIZE_MAX, MA_ERR_OUT_OF_MEMORY);
    ctest_destroy(a);
    a = LAYOUT(p, 100, ALLOCATED(0, 20), FREE(20, 30), ALLOCATED(50, 50));
    if (!a) return;
    /* 0-19 live, 20-49 free (30), 50-99 live. Growing 50-99 to 60 units: nothing after it,
       and no free block holds 60, though the old block plus the hole would. */
    CHECK_REALLOC_FAILS(a, 50, 50, 60, MA_ERR_OUT_OF_MEMORY);
    /* Growing 0-19 to 51 units: 20-49 holds only 30 more. */
    CHECK_REALLOC_FAILS(a, 0, 20, 51, MA_ERR_OUT_OF_MEMORY);
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 30), ALLOCATED(50, 50));
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, 50, &size), MA_OK);
    CHECK_SIZE(size, 50);
    /* Exactly what is there still works. */
    CHECK_REALLOC(a, 0, 20, 50, 0);
    CHECK_MAP(a, ALLOCATED(0, 50), ALLOCATED(50, 50));
    ctest_destroy(a);
}

/* Random reallocs of random blocks, each checked against the model, under min_alignment
   too; then everything freed gives the initial map back. */
static void random_resizes(const ctest_policy *p) {
    static const size_t alignments[] = {1, 8};
    for (size_t k = 0; k < 2; k++) {
        ctest_case("random resizes / %s, min_alignment %zu", p->name, alignments[k]);
        ma_allocator *a = ctest_create(p->policy, 1000, alignments[k]);
        if (!a) return;
        ctest_rng r;
        ctest_rng_seed(&r, 77 + k);
        size_t addr[16], size[16], n = 0;
        for (int step = 0; step < 300; step++) {
            size_t at = CTEST_SENTINEL;
            if (n < 16 && (n == 0 || ctest_rng_below(&r, 3) == 0)) {
                size_t want = 1 + ctest_rng_below(&r, 60);
                if (MODEL_ALLOC(a, want, &at) == MA_OK) {
                    addr[n] = at;
                    size[n++] = want;
                }
            } else {
                size_t i = ctest_rng_below(&r, n), want = 1 + ctest_rng_below(&r, 2 * size[i] + 8);
                if (MODEL_REALLOC(a, addr[i], size[i], want, &at) == MA_OK) {
                    addr[i] = at;
                    size[i] = want;
                }
            }
        }
        while (n > 0) {
            n--;
            FREE_OK(a, addr[n], size[n]);
        }
        CHECK_INITIAL(a);
        ctest_destroy(a);
    }
}

int ma_ctest_realloc(void) {
    ctest_begin("realloc");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        shrink_in_place(p);
        grow_in_place(p);
        move_while_held(p);
        move_by_policy(p);
        out_of_memory(p);
        random_resizes(p);
    }
    return ctest_end();
}
