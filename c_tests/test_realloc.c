/*
 * test_realloc.c: ma_realloc for every policy under test: shrink in place (the tail is
 * freed and merged), grow in place into the free space right after the block, move
 * (the new block is chosen while the old one is still held, then the old one is freed
 * and merged), and out of memory, which leaves the old allocation as it was.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* ma_realloc(a, addr, old_size, new_size) succeeds at `want`, and the invariants hold. */
#define CHECK_REALLOC(a, addr, old_size, new_size, want)                                                          \
    do {                                                                                                          \
        size_t at_ = CTEST_SENTINEL;                                                                              \
        if (ctest_check_status(ma_realloc((a), (addr), (old_size), (new_size), &at_), MA_OK, __FILE__, __LINE__,  \
                               "ma_realloc(" #a ", " #addr ", " #old_size ", " #new_size ") == MA_OK")) {         \
            ctest_check_size(at_, (want), __FILE__, __LINE__,                                                     \
                             "address of ma_realloc(" #a ", " #addr ", " #old_size ", " #new_size ") == " #want); \
        }                                                                                                         \
        CHECK_INVARIANTS(a);                                                                                      \
    } while (0)

/* ma_realloc fails with `want`, changes nothing and leaves its out-parameter alone. */
#define CHECK_REALLOC_FAILS(a, addr, old_size, new_size, want)                                      \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        CHECK_ERR_OUT((a), ma_realloc((a), (addr), (old_size), (new_size), &at_), (want), at_);     \
    } while (0)

static void shrink_in_place(const ctest_policy *p) {
    ctest_case("shrink in place / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALLOC(a, 40, 0);
    CHECK_ALLOC(a, 10, 40);
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
    CHECK_ALLOC(a, 56, 44);
    CHECK_REALLOC(a, 44, 56, 50, 44);
    CHECK_MAP(a, ALLOCATED(0, 1), FREE(1, 39), ALLOCATED(40, 4), ALLOCATED(44, 50), FREE(94, 6));
    ma_destroy(a);
}

static void grow_in_place(const ctest_policy *p) {
    ctest_case("grow in place / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALLOC(a, 10, 0);
    CHECK_ALLOC(a, 10, 10);
    CHECK_ALLOC(a, 10, 20);
    CHECK_OK(a, ma_free(a, 10, 10));
    /* Into a hole, exactly filling it. */
    CHECK_REALLOC(a, 0, 10, 20, 0);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 70));
    /* Into the free tail, partly, although a smaller free block would fit elsewhere:
       in place comes first. */
    CHECK_ALLOC(a, 10, 30);
    CHECK_ALLOC(a, 50, 40);
    CHECK_OK(a, ma_free(a, 30, 10)); /* a 10-unit hole at 30; 90-99 free */
    CHECK_REALLOC(a, 40, 50, 55, 40);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 55), FREE(95, 5));
    /* Up to the very end of the range. */
    CHECK_REALLOC(a, 40, 55, 60, 40);
    CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 10), FREE(30, 10), ALLOCATED(40, 60));
    CHECK_STATS(a, 100, 90, 10, 10, 1, 3, 0);
    ma_destroy(a);
}

/* The new block is chosen while the old one is still held: freeing first would have
   merged 0-39 and placed the block at 0, over the old one. */
static void move_while_held(const ctest_policy *p) {
    ctest_case("move while the old block is held / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALLOC(a, 10, 0);
    CHECK_ALLOC(a, 30, 10);
    CHECK_ALLOC(a, 10, 40);
    CHECK_OK(a, ma_free(a, 0, 10));
    CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 30), ALLOCATED(40, 10), FREE(50, 50));
    CHECK_REALLOC(a, 10, 30, 35, 50);
    /* The old block is released and merged with the hole before it. */
    CHECK_MAP(a, FREE(0, 40), ALLOCATED(40, 10), ALLOCATED(50, 35), FREE(85, 15));
    CHECK_STATS(a, 100, 45, 55, 40, 2, 2, 0);
    CHECK_ERR(a, ma_free(a, 10, 30), MA_ERR_NOT_ALLOCATED);
    CHECK_OK(a, ma_free(a, 50, 35));
    ma_destroy(a);
}

/* A move goes where the policy places a new block. */
static void move_by_policy(const ctest_policy *p) {
    ctest_case("move by policy / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    const size_t sizes[] = {10, 10, 30, 10, 20, 10, 10};
    size_t at = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK_ALLOC(a, sizes[i], at);
        at += sizes[i];
    }
    CHECK_OK(a, ma_free(a, 20, 30));
    CHECK_OK(a, ma_free(a, 60, 20));
    CHECK_OK(a, ma_free(a, 90, 10));
    CHECK_MAP(a, ALLOCATED(0, 10), ALLOCATED(10, 10), FREE(20, 30), ALLOCATED(50, 10), FREE(60, 20),
              ALLOCATED(80, 10), FREE(90, 10));
    if (p->policy == MA_POLICY_FIRST_FIT) {
        CHECK_REALLOC(a, 0, 10, 15, 20); /* the lowest hole that holds 15 */
        CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 10), ALLOCATED(20, 15), FREE(35, 15), ALLOCATED(50, 10),
                  FREE(60, 20), ALLOCATED(80, 10), FREE(90, 10));
    } else if (p->policy == MA_POLICY_BEST_FIT) {
        CHECK_REALLOC(a, 0, 10, 15, 60); /* the smallest hole that holds 15 */
        CHECK_MAP(a, FREE(0, 10), ALLOCATED(10, 10), FREE(20, 30), ALLOCATED(50, 10), ALLOCATED(60, 15),
                  FREE(75, 5), ALLOCATED(80, 10), FREE(90, 10));
    }
    ma_destroy(a);
}

static void out_of_memory(const ctest_policy *p) {
    ctest_case("realloc out of memory / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_ALLOC(a, 50, 0);
    CHECK_ALLOC(a, 50, 50);
    CHECK_REALLOC_FAILS(a, 0, 50, 51, MA_ERR_OUT_OF_MEMORY);  /* full */
    CHECK_REALLOC_FAILS(a, 50, 50, 51, MA_ERR_OUT_OF_MEMORY); /* the last block cannot pass the end */
    CHECK_REALLOC_FAILS(a, 0, 50, SIZE_MAX, MA_ERR_OUT_OF_MEMORY);
    CHECK_OK(a, ma_free(a, 0, 50));
    CHECK_ALLOC(a, 20, 0);
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
    ma_destroy(a);
}

int ma_ctest_realloc(void) {
    ctest_begin("realloc");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        if (!p->exact_sizes) continue; /* the expected maps assume exact sizes */
        shrink_in_place(p);
        grow_in_place(p);
        move_while_held(p);
        move_by_policy(p);
        out_of_memory(p);
    }
    return ctest_end();
}
