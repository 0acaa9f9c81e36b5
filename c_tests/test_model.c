/*
 * test_model.c: thousands of random calls, good and bad, each compared with the model of
 * its policy (support.h: a sorted free list scanned in full, each policy's rule written
 * the naive way, live allocations tracked, every check in the contract's order). After
 * every call the status, the out-parameter (the model's address on success, the sentinel
 * on error) and the whole map must agree with the model, and now and then the invariants
 * and stats.largest_free are checked. Every policy: first fit and best fit to the exact
 * address, TLSF to any place the model accepts (and never out of memory while a free
 * block holds the request), buddy to the exact block.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

#define STEPS 3000

/* ---- The random calls ------------------------------------------------------------ */

static size_t random_size(ctest_rng *r, size_t capacity) {
    switch (ctest_rng_below(r, 20)) {
    case 0: return 0;
    case 1: return capacity + ctest_rng_below(r, 3);
    case 2: return SIZE_MAX - ctest_rng_below(r, 3);
    case 3: case 4: return 1 + ctest_rng_below(r, capacity / 4);
    default: return 1 + ctest_rng_below(r, 24);
    }
}

static size_t random_alignment(ctest_rng *r) {
    static const size_t alignments[] = {0, 1, 1, 2, 3, 4, 6, 8, 16, 32, 64, 256, SIZE_MAX / 2 + 1, SIZE_MAX};
    return alignments[ctest_rng_below(r, sizeof alignments / sizeof alignments[0])];
}

/* A live address (mostly), or one that is not: interior, free, past the end, huge. */
static size_t random_address(ctest_rng *r, const ctest_model *m, size_t *live_size) {
    *live_size = 1 + ctest_rng_below(r, 8);
    if (m->n_live > 0 && ctest_rng_below(r, 10) < 7) {
        const ctest_range *b = &m->live[ctest_rng_below(r, m->n_live)];
        *live_size = b->size;
        if (ctest_rng_below(r, 10) == 0 && b->size > 1) return b->start + 1 + ctest_rng_below(r, b->size - 1);
        return b->start;
    }
    switch (ctest_rng_below(r, 4)) {
    case 0: return m->rule.capacity + ctest_rng_below(r, 3);
    case 1: return SIZE_MAX - ctest_rng_below(r, 2);
    default: return ctest_rng_below(r, m->rule.capacity);
    }
}

/* A size for freeing a block of `live_size`: mostly right, sometimes wrong. */
static size_t random_free_size(ctest_rng *r, size_t live_size) {
    switch (ctest_rng_below(r, 12)) {
    case 0: return 0;
    case 1: return live_size + 1;
    case 2: return live_size > 1 ? live_size - 1 : 2;
    case 3: return SIZE_MAX;
    default: return live_size;
    }
}

static int maps_equal(const ctest_map *got, const ctest_map *want) {
    if (got->len != want->len) return 0;
    for (size_t i = 0; i < want->len; i++) {
        if (got->extents[i].start != want->extents[i].start || got->extents[i].size != want->extents[i].size ||
            got->extents[i].kind != want->extents[i].kind) {
            return 0;
        }
    }
    return 1;
}

static void run_model(const ctest_policy *p, size_t capacity, size_t min_alignment, uint64_t seed) {
    ctest_case("model / %s, capacity %zu, min_alignment %zu, seed %llu", p->name, capacity, min_alignment,
               (unsigned long long)seed);
    ctest_model m;
    const ctest_rule rule = {p->policy, capacity, min_alignment};
    ma_allocator *a = ctest_create(p->policy, capacity, min_alignment);
    ctest_model_init(&m, &rule);
    int ok = CHECK(a != NULL);
    ctest_rng r;
    ctest_rng_seed(&r, seed);
    size_t step = 0;
    for (; ok && step < STEPS; step++) {
        char call[160];
        size_t got = CTEST_SENTINEL, expect = CTEST_SENTINEL;
        ma_status got_status, want_status;
        size_t op = ctest_rng_below(&r, 100), addr, size, live_size;
        if (op < 35) {
            size = random_size(&r, capacity);
            snprintf(call, sizeof call, "ma_alloc(a, %zu)", size);
            got_status = ma_alloc(a, size, &got);
            want_status = ctest_model_alloc(&m, size, 0, got, &expect);
        } else if (op < 45) {
            size = random_size(&r, capacity);
            size_t align = random_alignment(&r);
            snprintf(call, sizeof call, "ma_alloc_aligned(a, %zu, %zu)", size, align);
            got_status = ma_alloc_aligned(a, size, align, &got);
            want_status = align ? ctest_model_alloc(&m, size, align, got, &expect) : MA_ERR_INVALID_ALIGNMENT;
        } else if (op < 70) {
            addr = random_address(&r, &m, &live_size);
            size = random_free_size(&r, live_size);
            snprintf(call, sizeof call, "ma_free(a, %zu, %zu)", addr, size);
            got_status = ma_free(a, addr, size);
            want_status = ctest_model_free(&m, addr, size);
        } else if (op < 78) {
            addr = random_address(&r, &m, &live_size);
            snprintf(call, sizeof call, "ma_free_at(a, %zu)", addr);
            got_status = ma_free_at(a, addr);
            want_status = ctest_model_free_at(&m, addr);
        } else if (op < 92) {
            addr = random_address(&r, &m, &live_size);
            size = random_free_size(&r, live_size);
            size_t new_size = ctest_rng_below(&r, 8) == 0 ? random_size(&r, capacity)
                                                         : 1 + ctest_rng_below(&r, 2 * live_size + 8);
            snprintf(call, sizeof call, "ma_realloc(a, %zu, %zu, %zu)", addr, size, new_size);
            got_status = ma_realloc(a, addr, size, new_size, &got);
            want_status = ctest_model_realloc(&m, addr, size, new_size, got, &expect);
        } else if (op < 99) {
            addr = random_address(&r, &m, &live_size);
            snprintf(call, sizeof call, "ma_size_of(a, %zu)", addr);
            got_status = ma_size_of(a, addr, &got);
            want_status = ctest_model_size_of(&m, addr, &expect);
        } else {
            snprintf(call, sizeof call, "ma_reset(a)");
            got_status = ma_reset(a);
            want_status = MA_OK;
            ctest_model_reset(&m);
        }
        ctest_map map, want;
        ma_status walked = ctest_map_take(a, &map);
        ctest_model_map(&m, &want);
        char details[320];
        if (got_status != want_status || got != expect) {
            snprintf(details, sizeof details, "step %zu: %s gave %s, out %zu; the model %s, out %zu", step, call,
                     ctest_status_name(got_status), got, ctest_status_name(want_status), expect);
            ok = ctest_record(0, __FILE__, __LINE__, "the library agrees with the model", details);
        } else if (walked != MA_OK || m.broken || !maps_equal(&map, &want)) {
            snprintf(details, sizeof details, "step %zu: after %s (%s)", step, call, ctest_status_name(got_status));
            ok = ctest_record(0, __FILE__, __LINE__, "the map agrees with the model", details);
            printf("    got:  ");
            ctest_print_extents(map.extents, map.len);
            printf("\n    want: ");
            ctest_print_extents(want.extents, want.len);
            printf("\n");
        } else if (ctest_rng_below(&r, 8) == 0) {
            ok = CHECK_INVARIANTS(a) && CHECK_LARGEST_FREE(a);
        }
        ctest_map_free(&map);
        ctest_map_free(&want);
    }
    if (ok) CHECK_SIZE(step, STEPS); /* one pass for the whole run */
    ctest_destroy(a);
    ctest_model_release(&m);
}

int ma_ctest_model(void) {
    ctest_begin("model");
    static const struct {
        size_t capacity;
        size_t min_alignment;
    } configs[] = {{1000, 1}, {64, 1}, {1024, 8}, {999, 8}, {4096, 4}, {100, 1}, {SIZE_MAX, 16}};
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
            for (uint64_t seed = 1; seed <= 3; seed++) {
                run_model(p, configs[c].capacity, configs[c].min_alignment, seed * 1000003u + c);
            }
        }
    }
    return ctest_end();
}
