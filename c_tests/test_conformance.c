/*
 * test_conformance.c: the behaviour every policy shares, through the C API, in one place:
 * freeing everything, in any order, merges back to the initial map; stats.largest_free
 * is exactly the largest size ma_alloc grants; every address is a multiple of the
 * effective alignment; ma_reset gives the initial map back. Each call is checked against
 * the model of its policy (support.h), with the map after it and the invariants (free
 * extents never adjacent, or under buddy powers of two aligned to their size; capacity ==
 * allocated + free + padding), so each policy's placement rule is checked on the way.
 */

#include <stdint.h>
#include <stdio.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

static const struct {
    size_t capacity;
    size_t min_alignment;
} configs[] = {{1000, 1}, {1024, 1}, {777, 4}, {512, 16}, {100, 1}};
#define CONFIGS (sizeof configs / sizeof configs[0])

#define MAX_BLOCKS 512

/* Fills `a` with random sizes until a request fails, frees every third block, refills
   with small sizes: a fragmented map. Returns the number of live blocks in addr/size. */
static size_t fragment(ma_allocator *a, ctest_rng *r, size_t *addr, size_t *size) {
    size_t n = 0, at = CTEST_SENTINEL;
    while (n < MAX_BLOCKS) {
        const size_t want = 1 + ctest_rng_below(r, 40);
        if (MODEL_ALLOC(a, want, &at) != MA_OK) break;
        addr[n] = at;
        size[n++] = want;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0) {
            FREE_OK(a, addr[i], size[i]);
        } else {
            addr[kept] = addr[i];
            size[kept++] = size[i];
        }
    }
    while (kept < MAX_BLOCKS) {
        const size_t want = 1 + ctest_rng_below(r, 9);
        if (MODEL_ALLOC(a, want, &at) != MA_OK) break;
        addr[kept] = at;
        size[kept++] = want;
    }
    return kept;
}

/* Freeing everything merges back to the initial map, in any order, by ma_free, ma_free_at
   or after shrinking each block first. */
static void merges_back(const ctest_policy *p) {
    static const char *const orders[] = {"ascending", "descending", "shuffled", "free_at", "shrink first"};
    static size_t addr[MAX_BLOCKS], size[MAX_BLOCKS];
    for (size_t c = 0; c < CONFIGS; c++) {
        for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
            ctest_case("merges back / %s, capacity %zu, min_alignment %zu, %s", p->name, configs[c].capacity,
                       configs[c].min_alignment, orders[o]);
            ma_allocator *a = ctest_create(p->policy, configs[c].capacity, configs[c].min_alignment);
            if (!a) return;
            ctest_rng r;
            ctest_rng_seed(&r, 1 + c * 31 + o);
            const size_t n = fragment(a, &r, addr, size);
            if (o == 2) {
                for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
                    size_t j = ctest_rng_below(&r, i), t = addr[i - 1], u = size[i - 1];
                    addr[i - 1] = addr[j], size[i - 1] = size[j];
                    addr[j] = t, size[j] = u;
                }
            }
            for (size_t k = 0; k < n; k++) {
                const size_t i = o == 1 ? n - 1 - k : k;
                if (o == 3) {
                    FREE_AT_OK(a, addr[i]);
                } else if (o == 4) {
                    const size_t half = (size[i] + 1) / 2;
                    CHECK_SIZE(REALLOC(a, addr[i], size[i], half), addr[i]); /* a shrink stays */
                    FREE_OK(a, addr[i], half);
                } else {
                    FREE_OK(a, addr[i], size[i]);
                }
            }
            CHECK_INITIAL(a);
            ctest_destroy(a);
        }
    }
}

/* stats.largest_free after every step of a random churn. */
static void largest_free(const ctest_policy *p) {
    static size_t addr[64], size[64];
    for (size_t c = 0; c < CONFIGS; c++) {
        ctest_case("largest_free / %s, capacity %zu, min_alignment %zu", p->name, configs[c].capacity,
                   configs[c].min_alignment);
        ma_allocator *a = ctest_create(p->policy, configs[c].capacity, configs[c].min_alignment);
        if (!a) return;
        ctest_rng r;
        ctest_rng_seed(&r, 99 + c);
        size_t n = 0;
        CHECK_LARGEST_FREE(a);
        for (int step = 0; step < 120; step++) {
            size_t at = CTEST_SENTINEL;
            if (n < 64 && (n == 0 || ctest_rng_below(&r, 5) < 3)) {
                const size_t want = ctest_rng_below(&r, 5) ? 1 + ctest_rng_below(&r, 64)
                                                           : 1 + ctest_rng_below(&r, configs[c].capacity / 4);
                if (MODEL_ALLOC(a, want, &at) == MA_OK) {
                    addr[n] = at;
                    size[n++] = want;
                }
            } else {
                const size_t i = ctest_rng_below(&r, n);
                FREE_OK(a, addr[i], size[i]);
                addr[i] = addr[--n];
                size[i] = size[n];
            }
            CHECK_LARGEST_FREE(a);
        }
        CHECK_OK(a, ma_reset(a));
        CHECK_INITIAL(a);
        CHECK_LARGEST_FREE(a);
        ctest_destroy(a);
    }
}

/* Every address is a multiple of the larger of the requested alignment and min_alignment
   (the model checks that the gap before each block stayed free). */
static void alignment(const ctest_policy *p) {
    static const size_t minimums[] = {1, 2, 16};
    for (size_t k = 0; k < sizeof minimums / sizeof minimums[0]; k++) {
        ctest_case("alignment / %s, min_alignment %zu", p->name, minimums[k]);
        ma_allocator *a = ctest_create(p->policy, 2048, minimums[k]);
        if (!a) return;
        ctest_rng r;
        ctest_rng_seed(&r, 7 + k);
        size_t addr[32], size[32], n = 0;
        for (int step = 0; step < 200; step++) {
            size_t at = CTEST_SENTINEL;
            if (n < 32 && (n == 0 || ctest_rng_below(&r, 3))) {
                const size_t want = 1 + ctest_rng_below(&r, 48), align = (size_t)1 << ctest_rng_below(&r, 10);
                if (MODEL_ALLOC_ALIGNED(a, want, align, &at) == MA_OK) {
                    const size_t effective = align > minimums[k] ? align : minimums[k];
                    CHECK(at % effective == 0);
                    addr[n] = at;
                    size[n++] = want;
                }
            } else {
                const size_t i = ctest_rng_below(&r, n);
                FREE_OK(a, addr[i], size[i]);
                addr[i] = addr[--n];
                size[i] = size[n];
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

int ma_ctest_conformance(void) {
    ctest_begin("conformance");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        merges_back(p);
        largest_free(p);
        alignment(p);
    }
    return ctest_end();
}
