/*
 * test_placement.c: where the placement calls put things, for every policy.
 *
 * - ma_alloc_ex with the defaults of ma_request_init is ma_alloc (ma_alloc_aligned with an
 *   alignment), address for address, whatever the tag and the pin, also from a newer caller
 *   whose ma_request is larger;
 * - ranged and top-down placement on hand-made maps: exact addresses for first fit and best
 *   fit, and for TLSF and buddy where one place fits; on random maps, TLSF and buddy place
 *   inside the range, aligned, and fail only when nothing fits there;
 * - ma_alloc_at on free, occupied and partly occupied ranges, at the capacity's end, with
 *   min_alignment and under buddy;
 * - ma_set_capacity growing (merged with a free tail), shrinking, to exactly the last
 *   footprint's end, under buddy (the top-level blocks re-tiled), and the same as a fresh
 *   allocator given the same allocations by ma_alloc_at, for the map, the stats and the
 *   calls after it;
 * - a moving ma_realloc keeps the alignment and the tag an allocation was requested with,
 *   also after ma_set_capacity.
 *
 * The errors of these calls, in check order, are in test_errors.c.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

#define TOP MA_REQ_TOP_DOWN

/* A request: `size` units in [lo, hi) with these flags and this alignment. */
static ma_request request(size_t size, size_t lo, size_t hi, uint32_t flags, size_t alignment) {
    ma_request r;
    ma_request_init(&r, size);
    r.lo = lo;
    r.hi = hi;
    r.flags = flags;
    r.alignment = alignment;
    return r;
}

/* Whether [at, at + fp) lies inside one FREE extent of `m`. */
static int inside_free(const ctest_map *m, size_t at, size_t fp) {
    for (size_t i = 0; i < m->len; i++) {
        const ctest_extent *e = &m->extents[i];
        if (e->kind == MA_BLOCK_FREE && e->start <= at && at - e->start <= e->size && e->size - (at - e->start) >= fp) {
            return 1;
        }
    }
    return 0;
}

/* ma_alloc_ex(a, r) succeeds; returns the address (CTEST_SENTINEL on failure). Checked for
   every policy: a multiple of the effective alignment, the footprint inside the range
   (hi clamped to the capacity) and inside free space before the call, exactly the
   footprint taken from free space, ma_size_of, the invariants. */
static size_t alloc_ex_ok(ma_allocator *a, const ma_request *r, const char *file, int line, const char *expr) {
    const ctest_rule rule = ctest_rule_of(a);
    ctest_snapshot before;
    ctest_snapshot_take(a, &before);
    size_t at = CTEST_SENTINEL, size = CTEST_SENTINEL;
    char what[200];
    snprintf(what, sizeof what, "%s == MA_OK", expr);
    if (ctest_check_status(ma_alloc_ex(a, r, &at), MA_OK, file, line, what)) {
        const size_t fp = ctest_footprint(&rule, r->size);
        const size_t al = r->alignment > rule.min_alignment ? r->alignment : rule.min_alignment;
        const size_t hi = r->hi < rule.capacity ? r->hi : rule.capacity;
        ma_stats after;
        ma_get_stats(a, &after);
        ctest_record(at % al == 0, file, line, "the address is a multiple of the alignment", expr);
        ctest_record(at >= r->lo && at <= hi && fp <= hi - at, file, line, "the footprint lies inside the range", expr);
        ctest_record(inside_free(&before.map, at, fp), file, line, "the footprint was free", expr);
        ctest_record(before.stats.free - after.free == fp, file, line, "exactly the footprint was taken", expr);
        ctest_check_status(ma_size_of(a, at, &size), MA_OK, file, line, "ma_size_of the new allocation");
        ctest_check_size(size, r->size, file, line, "its size");
        ctest_check_invariants(a, file, line);
    }
    ctest_snapshot_free(&before);
    return at;
}
#define ALLOC_EX(a, r) alloc_ex_ok((a), (r), __FILE__, __LINE__, "ma_alloc_ex(" #a ", " #r ")")

/* One placement: a request and what it gives (an address, or an error). */
typedef struct placement {
    size_t size, lo, hi;
    uint32_t flags;
    size_t alignment;
    ma_status status;
    size_t want;
} placement;

/* The map a placement table starts from: exactly `layout` (ctest_create_layout), or, with
   no layout, a fresh allocator. */
typedef struct start_map {
    size_t capacity;
    const ctest_extent *layout;
    size_t n;
} start_map;

static ma_allocator *make_map(uint32_t policy, const start_map *m) {
    return m->n ? ctest_create_layout(policy, m->capacity, m->layout, m->n) : ctest_create(policy, m->capacity, 1);
}

/* Runs each placement on a fresh copy of the map `start`. */
static void run_placements(const ctest_policy *p, const start_map *start, const placement *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const placement *c = &cases[i];
        ctest_case("ma_alloc_ex placement / %s / %zu units in [%zu, %zu), flags %u, alignment %zu", p->name, c->size,
                   c->lo, c->hi, (unsigned)c->flags, c->alignment);
        ma_allocator *a = make_map(p->policy, start);
        if (!a) return;
        ma_request r = request(c->size, c->lo, c->hi, c->flags, c->alignment);
        if (c->status == MA_OK) {
            CHECK_SIZE(ALLOC_EX(a, &r), c->want);
        } else {
            size_t at = CTEST_SENTINEL;
            CHECK_ERR_OUT(a, ma_alloc_ex(a, &r, &at), c->status, at);
        }
        ctest_destroy(a);
    }
}

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- The defaults are ma_alloc ------------------------------------------------------ */

static void defaults_are_alloc(const ctest_policy *p) {
    for (size_t min_alignment = 1; min_alignment <= 4; min_alignment *= 4) {
        ctest_case("ma_alloc_ex with the defaults is ma_alloc / %s, min_alignment %zu", p->name, min_alignment);
        ma_allocator *plain = ctest_create(p->policy, 4096, min_alignment);
        ma_allocator *ex = ctest_create(p->policy, 4096, min_alignment);
        if (!plain || !ex) return;
        /* A newer caller's request: this version's fields, then more. */
        struct {
            ma_request r;
            uint64_t future[4];
        } newer;
        ctest_rng rng;
        ctest_rng_seed(&rng, p->policy * 10 + min_alignment);
        size_t live[64][2], n = 0;
        for (int step = 0; step < 400; step++) {
            if (n == 0 || (n < 64 && ctest_rng_below(&rng, 10) < 6)) {
                const size_t size = 1 + ctest_rng_below(&rng, 80);
                const size_t alignment = ctest_rng_below(&rng, 3) == 0 ? (size_t)1 << ctest_rng_below(&rng, 8) : 1;
                size_t x = CTEST_SENTINEL, y = CTEST_SENTINEL;
                ma_status sx = alignment == 1 ? ma_alloc(plain, size, &x) : ma_alloc_aligned(plain, size, alignment, &x);
                memset(&newer, 0xA5, sizeof newer);
                ma_request_init(&newer.r, size);
                newer.r.alignment = alignment;
                newer.r.tag = ctest_rng_next(&rng); /* a tag or a pin changes no address */
                newer.r.flags = ctest_rng_below(&rng, 2) ? MA_REQ_PINNED : 0;
                if (ctest_rng_below(&rng, 2)) newer.r.struct_size = sizeof newer;
                ma_status sy = ma_alloc_ex(ex, &newer.r, &y);
                CHECK_STATUS(sy, sx);
                CHECK_SIZE(y, x);
                if (sx == MA_OK) {
                    live[n][0] = x;
                    live[n][1] = size;
                    n++;
                }
            } else {
                const size_t i = ctest_rng_below(&rng, n);
                CHECK_OK(plain, ma_free(plain, live[i][0], live[i][1]));
                CHECK_OK(ex, ma_free(ex, live[i][0], live[i][1]));
                live[i][0] = live[n - 1][0];
                live[i][1] = live[n - 1][1];
                n--;
            }
            CHECK_INVARIANTS(ex);
            CHECK_SAME(plain, ex);
        }
        ctest_destroy(plain);
        ctest_destroy(ex);
    }
}

/* ---- Ranged and top-down placement -------------------------------------------------- */

/* [A(0-9)] [F(10-19)] [A(20-29)] [F(30-59)] [A(60-69)] [F(70-84)] [A(85-99)] */
static const ctest_extent first_fit_layout[] = {ALLOCATED(0, 10),  FREE(10, 10), ALLOCATED(20, 10), FREE(30, 30),
                                                ALLOCATED(60, 10), FREE(70, 15), ALLOCATED(85, 15)};
static const start_map first_fit_map = {100, first_fit_layout, COUNT(first_fit_layout)};

static void first_fit_ranges(const ctest_policy *p) {
    static const placement cases[] = {
        {12, 0, 100, 0, 1, MA_OK, 30},
        {12, 0, 100, TOP, 1, MA_OK, 73},
        {12, 35, 100, 0, 1, MA_OK, 35},
        {12, 0, 60, TOP, 1, MA_OK, 48},
        {16, 0, 100, TOP, 1, MA_OK, 44},
        {6, 12, 18, 0, 1, MA_OK, 12},
        {6, 12, 18, TOP, 1, MA_OK, 12},
        {7, 12, 18, 0, 1, MA_ERR_OUT_OF_MEMORY, 0},
        {5, 15, 35, 0, 1, MA_OK, 15},
        {5, 15, 35, TOP, 1, MA_OK, 30},
        {6, 15, 35, TOP, 1, MA_ERR_OUT_OF_MEMORY, 0},
        {8, 31, 100, 0, 8, MA_OK, 32},
        {8, 0, 100, TOP, 8, MA_OK, 72},
        {1, 0, 100, TOP, 64, MA_ERR_OUT_OF_MEMORY, 0},
        {5, 80, SIZE_MAX, TOP, 1, MA_OK, 80},
        {15, 0, SIZE_MAX, TOP, 1, MA_OK, 70},
        {31, 0, 100, TOP, 1, MA_ERR_OUT_OF_MEMORY, 0},
        {1, 20, 30, 0, 1, MA_ERR_OUT_OF_MEMORY, 0},
    };
    run_placements(p, &first_fit_map, cases, COUNT(cases));
    ctest_case("ma_alloc_ex top-down map / %s", p->name);
    ma_allocator *a = make_map(p->policy, &first_fit_map);
    if (!a) return;
    ma_request r = request(12, 0, 60, TOP, 1);
    CHECK_SIZE(ALLOC_EX(a, &r), 48);
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), FREE(30, 18), ALLOCATED(48, 12),
              ALLOCATED(60, 10), FREE(70, 15), ALLOCATED(85, 15));
    r = request(8, 31, 50, MA_REQ_PINNED, 8);
    r.tag = 77;
    CHECK_SIZE(ALLOC_EX(a, &r), 32);
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), FREE(30, 2), ALLOCATED(32, 8), FREE(40, 8),
              ALLOCATED(48, 12), ALLOCATED(60, 10), FREE(70, 15), ALLOCATED(85, 15));
    FREE_OK(a, 48, 12);
    FREE_AT_OK(a, 32);
    CHECK_MAP(a, ALLOCATED(0, 10), FREE(10, 10), ALLOCATED(20, 10), FREE(30, 30), ALLOCATED(60, 10), FREE(70, 15),
              ALLOCATED(85, 15));
    ctest_destroy(a);
}

/* Free: 30 at 10, 12 at 50, 20 at 70, 12 at 95. */
static const ctest_extent best_fit_layout[] = {ALLOCATED(0, 10), FREE(10, 30), ALLOCATED(40, 10),
                                               FREE(50, 12),     ALLOCATED(62, 8), FREE(70, 20),
                                               ALLOCATED(90, 5), FREE(95, 12), ALLOCATED(107, 13)};
static const start_map best_fit_map = {120, best_fit_layout, COUNT(best_fit_layout)};

static void best_fit_ranges(const ctest_policy *p) {
    static const placement cases[] = {
        {11, 0, 120, 0, 1, MA_OK, 50},   /* the 12-unit blocks tie: the lowest */
        {11, 0, 120, TOP, 1, MA_OK, 96}, /* top-down: the highest, at its high end */
        {5, 55, 120, 0, 1, MA_OK, 55},
        {5, 55, 120, TOP, 1, MA_OK, 102},
        {8, 0, 78, 0, 1, MA_OK, 50}, /* by the whole block's size: 12 at 50, not 20 at 70 (8 in range) */
        {8, 0, 78, TOP, 1, MA_OK, 54},
        {12, 0, 60, 0, 1, MA_OK, 10},
        {12, 0, 60, TOP, 1, MA_OK, 28},
        {13, 0, 120, TOP, 1, MA_OK, 77},
        {4, 0, 120, 0, 16, MA_OK, 96},
        {4, 0, 95, TOP, 16, MA_OK, 80},
        {4, 0, 80, TOP, 16, MA_OK, 32},
        {12, 96, 120, 0, 1, MA_ERR_OUT_OF_MEMORY, 0},
        {31, 0, 120, TOP, 1, MA_ERR_OUT_OF_MEMORY, 0},
    };
    run_placements(p, &best_fit_map, cases, COUNT(cases));
}

/* Free: 79 at 1, 60 at 130, 15 at 300, 27 at 500. */
static const ctest_extent tlsf_layout[] = {ALLOCATED(0, 1),    FREE(1, 79),   ALLOCATED(80, 50),
                                           FREE(130, 60),      ALLOCATED(190, 110), FREE(300, 15),
                                           ALLOCATED(315, 185), FREE(500, 27), ALLOCATED(527, 473)};
static const start_map tlsf_map = {1000, tlsf_layout, COUNT(tlsf_layout)};

/* TLSF leaves the block to the policy: maps where one block fits, at its part's low (high) end. */
static void tlsf_ranges(const ctest_policy *p) {
    static const placement cases[] = {
        {50, 100, 400, 0, 1, MA_OK, 130},  {50, 100, 400, TOP, 1, MA_OK, 140}, {49, 0, 50, TOP, 1, MA_OK, 1},
        {50, 0, 50, 0, 1, MA_ERR_OUT_OF_MEMORY, 0},                            {15, 290, 320, TOP, 1, MA_OK, 300},
        {10, 505, 600, 0, 1, MA_OK, 505}, {10, 505, 600, TOP, 1, MA_OK, 517},  {16, 0, 1000, TOP, 64, MA_OK, 64},
        {61, 0, 1000, TOP, 1, MA_OK, 19},  {80, 0, 1000, 0, 1, MA_ERR_OUT_OF_MEMORY, 0},
    };
    run_placements(p, &tlsf_map, cases, COUNT(cases));
}

static const start_map fresh_256 = {256, NULL, 0};

/* Buddy: a block of the smallest size whose part in the range holds a buddy block of the
   footprint, split down to the lowest (highest) such buddy block. */
static void buddy_ranges(const ctest_policy *p) {
    static const placement cases[] = {
        {10, 100, 200, 0, 1, MA_OK, 112}, {10, 100, 200, TOP, 1, MA_OK, 176},
        {10, 100, 120, 0, 1, MA_ERR_OUT_OF_MEMORY, 0}, /* 96-111 and 112-127 are not inside */
        {10, 96, 112, TOP, 1, MA_OK, 96}, {100, 1, 256, 0, 1, MA_OK, 128},
        {100, 0, 255, TOP, 1, MA_OK, 0},  {129, 1, 256, 0, 1, MA_ERR_OUT_OF_MEMORY, 0},
        {1, 0, 256, TOP, 32, MA_OK, 224},
    };
    run_placements(p, &fresh_256, cases, COUNT(cases));
    ctest_case("ma_alloc_ex buddy maps");
    ma_allocator *a = make_map(p->policy, &fresh_256);
    if (!a) return;
    ma_request r = request(10, 100, 200, 0, 1);
    CHECK_SIZE(ALLOC_EX(a, &r), 112);
    CHECK_MAP(a, FREE(0, 64), FREE(64, 32), FREE(96, 16), ALLOCATED(112, 10), PADDING(122, 6), FREE(128, 128));
    r = request(10, 0, 100, TOP, 1); /* the smallest block with a 16-unit buddy block in range: 64-95 */
    CHECK_SIZE(ALLOC_EX(a, &r), 80);
    r = request(10, 90, 256, 0, 1); /* 96-111: the smallest block in the range */
    CHECK_SIZE(ALLOC_EX(a, &r), 96);
    CHECK_MAP(a, FREE(0, 64), FREE(64, 16), ALLOCATED(80, 10), PADDING(90, 6), ALLOCATED(96, 10), PADDING(106, 6),
              ALLOCATED(112, 10), PADDING(122, 6), FREE(128, 128));
    FREE_AT_OK(a, 80);
    FREE_AT_OK(a, 96);
    FREE_AT_OK(a, 112);
    CHECK_INITIAL(a);
    ctest_destroy(a);
}

/* On random maps: every answer inside the range, aligned, in free space at the low (high)
   end of a free block's part; out of memory exactly when no such place exists. */
static void random_ranges(const ctest_policy *p) {
    ctest_case("ma_alloc_ex on random maps / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 2000, 1);
    if (!a) return;
    const ctest_rule rule = ctest_rule_of(a);
    ctest_rng rng;
    ctest_rng_seed(&rng, 99 + p->policy);
    size_t at;
    while (ma_alloc(a, 1 + ctest_rng_below(&rng, 40), &at) == MA_OK) {
    }
    ctest_map m;
    ctest_map_take(a, &m);
    for (size_t i = 0; i < m.len; i += 2) {
        if (m.extents[i].kind == MA_BLOCK_ALLOCATED) CHECK_OK(a, ma_free_at(a, m.extents[i].start));
    }
    ctest_map_free(&m);
    ctest_map_take(a, &m);
    for (int i = 0; i < 300; i++) {
        size_t x = ctest_rng_below(&rng, 2000), y = ctest_rng_below(&rng, 2000);
        const size_t lo = x < y ? x : y, hi = (x < y ? y : x) + 1;
        const size_t size = 1 + ctest_rng_below(&rng, 60), alignment = (size_t)1 << ctest_rng_below(&rng, 6);
        const ma_request r = request(size, lo, hi, ctest_rng_below(&rng, 2) ? TOP : 0, alignment);
        const size_t fp = ctest_footprint(&rule, size);
        const size_t step = p->policy == MA_POLICY_BUDDY && fp > alignment ? fp : alignment;
        /* Where the request may go: the low (high) end of each free block's part. */
        int fits = 0, at_an_end = 0;
        at = CTEST_SENTINEL;
        ma_status s = ma_alloc_ex(a, &r, &at);
        for (size_t j = 0; j < m.len; j++) {
            const ctest_extent *e = &m.extents[j];
            const size_t from = e->start > lo ? e->start : lo;
            const size_t to = e->start + e->size < hi ? e->start + e->size : hi;
            if (e->kind != MA_BLOCK_FREE || from >= to || to - from < fp) continue;
            const size_t low = (from + step - 1) / step * step, high = (to - fp) / step * step;
            if (low + fp > to) continue;
            fits = 1;
            at_an_end |= at == (r.flags & TOP ? high : low);
        }
        ctest_check_status(s, fits ? MA_OK : MA_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                           "ma_alloc_ex out of memory exactly when nothing fits");
        if (s == MA_OK) {
            CHECK(at_an_end);
            CHECK_OK(a, ma_free(a, at, size));
        }
    }
    ctest_map_free(&m);
    ctest_destroy(a);
}

/* ---- ma_alloc_at ---------------------------------------------------------------------- */

static void alloc_at(const ctest_policy *p) {
    ctest_case("ma_alloc_at / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        ma_allocator *a = ctest_create(p->policy, 64, 1);
        if (!a) return;
        CHECK_OK(a, ma_alloc_at(a, 32, 16));
        CHECK_MAP(a, FREE(0, 32), ALLOCATED(32, 16), FREE(48, 16));
        CHECK_OK(a, ma_alloc_at(a, 16, 9));
        CHECK_MAP(a, FREE(0, 16), ALLOCATED(16, 9), PADDING(25, 7), ALLOCATED(32, 16), FREE(48, 16));
        CHECK_ERR(a, ma_alloc_at(a, 8, 16), MA_ERR_INVALID_ALIGNMENT);
        CHECK_ERR(a, ma_alloc_at(a, 0, 17), MA_ERR_OCCUPIED);
        CHECK_ERR(a, ma_alloc_at(a, 24, 8), MA_ERR_OCCUPIED);
        CHECK_OK(a, ma_alloc_at(a, 56, 1));
        CHECK_MAP(a, FREE(0, 16), ALLOCATED(16, 9), PADDING(25, 7), ALLOCATED(32, 16), FREE(48, 8), ALLOCATED(56, 1),
                  FREE(57, 1), FREE(58, 2), FREE(60, 4));
        CHECK_OK(a, ma_alloc_at(a, 63, 1)); /* at the capacity's end */
        FREE_AT_OK(a, 56);
        FREE_OK(a, 16, 9);
        FREE_OK(a, 32, 16);
        FREE_OK(a, 63, 1);
        CHECK_INITIAL(a);
        ctest_destroy(a);
        /* 100 = 64 + 32 + 4: a footprint may not reach past the usable range. */
        a = ctest_create(p->policy, 100, 1);
        if (!a) return;
        CHECK_ERR(a, ma_alloc_at(a, 64, 33), MA_ERR_OCCUPIED);
        CHECK_OK(a, ma_alloc_at(a, 98, 2));
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), FREE(96, 2), ALLOCATED(98, 2));
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_OK(a, ma_alloc_at(a, 30, 10));
    CHECK_MAP(a, FREE(0, 30), ALLOCATED(30, 10), FREE(40, 60));
    CHECK_OK(a, ma_alloc_at(a, 0, 30));
    CHECK_OK(a, ma_alloc_at(a, 90, 10)); /* at the capacity's end */
    CHECK_MAP(a, ALLOCATED(0, 30), ALLOCATED(30, 10), FREE(40, 50), ALLOCATED(90, 10));
    CHECK_ERR(a, ma_alloc_at(a, 99, 1), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, 39, 2), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, 89, 2), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, 35, 60), MA_ERR_OCCUPIED);
    CHECK_OK(a, ma_alloc_at(a, 40, 50)); /* exactly the free block */
    CHECK_STATS(a, 100, 100, 0, 0, 0, 4, 0);
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    FREE_OK(a, 30, 10);
    FREE_AT_OK(a, 40);
    CHECK_MAP(a, ALLOCATED(0, 30), FREE(30, 60), ALLOCATED(90, 10));
    CHECK_OK(a, ma_alloc_at(a, 31, 58));
    CHECK_MAP(a, ALLOCATED(0, 30), FREE(30, 1), ALLOCATED(31, 58), FREE(89, 1), ALLOCATED(90, 10));
    FREE_OK(a, 0, 30);
    FREE_OK(a, 31, 58);
    FREE_OK(a, 90, 10);
    CHECK_INITIAL(a);
    ctest_destroy(a);
}

static void alloc_at_min_alignment(const ctest_policy *p) {
    ctest_case("ma_alloc_at, min_alignment 8 / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 8);
    if (!a) return;
    CHECK_OK(a, ma_alloc_at(a, 8, 3));
    if (p->policy == MA_POLICY_BUDDY) {
        CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 3), PADDING(11, 5), FREE(16, 16), FREE(32, 32), FREE(64, 32),
                  PADDING(96, 4));
    } else {
        CHECK_MAP(a, FREE(0, 8), ALLOCATED(8, 3), PADDING(11, 5), FREE(16, 80), PADDING(96, 4));
    }
    CHECK_OK(a, ma_alloc_at(a, 88, 8));
    CHECK_OK(a, ma_alloc_at(a, 0, 8));
    CHECK_OK(a, ma_alloc_at(a, 32, 17));
    FREE_OK(a, 8, 3);
    FREE_OK(a, 88, 8);
    FREE_OK(a, 0, 8);
    FREE_OK(a, 32, 17);
    CHECK_INITIAL(a);
    ctest_destroy(a);
}

/* ---- ma_set_capacity ------------------------------------------------------------------ */

static void set_capacity(const ctest_policy *p) {
    ctest_case("ma_set_capacity / %s", p->name);
    if (p->policy == MA_POLICY_BUDDY) {
        /* 100 = 64 + 32 + 4, the 4-unit block taken; 128 is one top-level block, split
           around it, whose buddies merge back when it is freed. */
        ma_allocator *a = ctest_create(p->policy, 100, 1);
        if (!a) return;
        CHECK_OK(a, ma_alloc_at(a, 96, 4));
        CHECK_ERR(a, ma_set_capacity(a, 99), MA_ERR_OCCUPIED);
        SET_CAPACITY_OK(a, 128);
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), ALLOCATED(96, 4), FREE(100, 4), FREE(104, 8), FREE(112, 16));
        FREE_OK(a, 96, 4);
        CHECK_MAP(a, FREE(0, 128));
        SET_CAPACITY_OK(a, 100);
        CHECK_MAP(a, FREE(0, 64), FREE(64, 32), FREE(96, 4));
        CHECK_OK(a, ma_alloc_at(a, 0, 17)); /* footprint 32 */
        CHECK_ERR(a, ma_set_capacity(a, 31), MA_ERR_OCCUPIED);
        SET_CAPACITY_OK(a, 32);
        CHECK_MAP(a, ALLOCATED(0, 17), PADDING(17, 15));
        SET_CAPACITY_OK(a, 40);
        CHECK_MAP(a, ALLOCATED(0, 17), PADDING(17, 15), FREE(32, 8));
        ctest_destroy(a);
        return;
    }
    ma_allocator *a = ctest_create(p->policy, 100, 1);
    if (!a) return;
    CHECK_OK(a, ma_alloc_at(a, 0, 20));
    SET_CAPACITY_OK(a, 150); /* the free tail grows, one block */
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 130));
    CHECK_STATS(a, 150, 20, 130, 130, 1, 1, 0);
    ma_request r = request(130, 0, SIZE_MAX, TOP, 1);
    CHECK_SIZE(ALLOC_EX(a, &r), 20);
    FREE_OK(a, 20, 130);
    SET_CAPACITY_OK(a, 50);
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 30));
    SET_CAPACITY_OK(a, 20); /* exactly the end of the last footprint */
    CHECK_MAP(a, ALLOCATED(0, 20));
    CHECK_STATS(a, 20, 20, 0, 0, 0, 1, 0);
    CHECK_ERR(a, ma_set_capacity(a, 19), MA_ERR_OCCUPIED);
    CHECK_ALLOC_FAILS(a, 1, MA_ERR_OUT_OF_MEMORY);
    SET_CAPACITY_OK(a, 30); /* after an allocated last block: a new free block */
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 10));
    CHECK_ERR(a, ma_free(a, 30, 1), MA_ERR_INVALID_ADDRESS);
    /* A hole below the last allocation stays. */
    CHECK_OK(a, ma_alloc_at(a, 25, 5));
    SET_CAPACITY_OK(a, SIZE_MAX);
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 5), ALLOCATED(25, 5), FREE(30, SIZE_MAX - 30));
    CHECK_ERR(a, ma_set_capacity(a, 29), MA_ERR_OCCUPIED);
    SET_CAPACITY_OK(a, 30);
    CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 5), ALLOCATED(25, 5));
    ctest_destroy(a);
}

/* The footprint counts, not the size; the tail past the last multiple of min_alignment is
   padding. */
static void set_capacity_min_alignment(const ctest_policy *p) {
    ctest_case("ma_set_capacity, min_alignment 8 / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 100, 8);
    if (!a) return;
    CHECK_OK(a, ma_alloc_at(a, 0, 3));
    CHECK_ERR(a, ma_set_capacity(a, 3), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_set_capacity(a, 7), MA_ERR_OCCUPIED);
    SET_CAPACITY_OK(a, 8);
    CHECK_MAP(a, ALLOCATED(0, 3), PADDING(3, 5));
    SET_CAPACITY_OK(a, 13);
    CHECK_MAP(a, ALLOCATED(0, 3), PADDING(3, 5), PADDING(8, 5));
    SET_CAPACITY_OK(a, 20);
    CHECK_MAP(a, ALLOCATED(0, 3), PADDING(3, 5), FREE(8, 8), PADDING(16, 4));
    CHECK_STATS(a, 20, 3, 8, 8, 1, 1, 9);
    ctest_destroy(a);
}

/* A fresh allocator with the rule of `a` and `capacity`, given the live allocations of `a`
   by ma_alloc_at, in address order. */
static ma_allocator *rebuilt(const ma_allocator *a, size_t capacity) {
    const ctest_rule r = ctest_rule_of(a);
    ma_allocator *b = ctest_create(r.policy, capacity, r.min_alignment);
    ctest_map m;
    ctest_map_take(a, &m);
    for (size_t i = 0; b && i < m.len; i++) {
        if (m.extents[i].kind == MA_BLOCK_ALLOCATED) CHECK_OK(b, ma_alloc_at(b, m.extents[i].start, m.extents[i].size));
    }
    ctest_map_free(&m);
    return b;
}

/* A live allocation of `a`, picked by `rng`; 0 when there is none. */
static int pick_live(const ma_allocator *a, ctest_rng *rng, size_t *addr, size_t *size) {
    ctest_map m;
    ctest_map_take(a, &m);
    size_t n = 0;
    for (size_t i = 0; i < m.len; i++) n += m.extents[i].kind == MA_BLOCK_ALLOCATED;
    size_t k = n ? ctest_rng_below(rng, n) : 0;
    for (size_t i = 0; i < m.len; i++) {
        if (m.extents[i].kind == MA_BLOCK_ALLOCATED && k-- == 0) {
            *addr = m.extents[i].start;
            *size = m.extents[i].size;
        }
    }
    ctest_map_free(&m);
    return n > 0;
}

/* The end of the last live allocation's footprint; 0 when there is none. */
static size_t live_end(const ma_allocator *a) {
    const ctest_rule r = ctest_rule_of(a);
    ctest_map m;
    ctest_map_take(a, &m);
    size_t end = 0;
    for (size_t i = 0; i < m.len; i++) {
        if (m.extents[i].kind == MA_BLOCK_ALLOCATED) end = m.extents[i].start + ctest_footprint(&r, m.extents[i].size);
    }
    ctest_map_free(&m);
    return end;
}

/* One random call, the same on `a` and `b`: the same status, address, stats and map. */
static void same_call(ma_allocator *a, ma_allocator *b, ctest_rng *rng) {
    ma_stats st;
    ma_get_stats(a, &st);
    const size_t cap = st.capacity;
    size_t x = CTEST_SENTINEL, y = CTEST_SENTINEL, addr = 0, size = 1;
    ma_status sa = MA_OK, sb = MA_OK;
    switch (ctest_rng_below(rng, 7)) {
    case 0:
        size = 1 + ctest_rng_below(rng, 64);
        sa = ma_alloc(a, size, &x);
        sb = ma_alloc(b, size, &y);
        break;
    case 1: {
        const size_t lo = ctest_rng_below(rng, cap), hi = lo + 1 + ctest_rng_below(rng, 200);
        /* No requested alignment: `a` lives on through the next ma_set_capacity, and a
           fresh allocator given its allocations by ma_alloc_at could not know one. */
        const ma_request r = request(1 + ctest_rng_below(rng, 64), lo, hi, ctest_rng_below(rng, 2) ? TOP : 0, 1);
        sa = ma_alloc_ex(a, &r, &x);
        sb = ma_alloc_ex(b, &r, &y);
        break;
    }
    case 2:
        addr = ctest_rng_below(rng, cap) & ~(size_t)15;
        size = 1 + ctest_rng_below(rng, 16);
        sa = ma_alloc_at(a, addr, size);
        sb = ma_alloc_at(b, addr, size);
        break;
    case 3:
    case 4:
        pick_live(a, rng, &addr, &size);
        sa = ma_free(a, addr, size);
        sb = ma_free(b, addr, size);
        break;
    case 5: {
        pick_live(a, rng, &addr, &size);
        const size_t new_size = 1 + ctest_rng_below(rng, 96);
        sa = ma_realloc(a, addr, size, new_size, &x);
        sb = ma_realloc(b, addr, size, new_size, &y);
        break;
    }
    default: {
        const size_t n = 1 + ctest_rng_below(rng, cap + 64);
        sa = ctest_set_capacity(a, n);
        sb = ctest_set_capacity(b, n);
        break;
    }
    }
    CHECK_STATUS(sb, sa);
    CHECK_SIZE(y, x);
    CHECK_INVARIANTS(a);
    CHECK_SAME(a, b);
}

static void set_capacity_is_a_fresh_allocator(const ctest_policy *p) {
    for (size_t min_alignment = 1; min_alignment <= 8; min_alignment *= 8) {
        ctest_case("ma_set_capacity is a fresh allocator given the same allocations / %s, min_alignment %zu", p->name,
                   min_alignment);
        ma_allocator *a = ctest_create(p->policy, 1000, min_alignment);
        if (!a) return;
        ctest_rng rng;
        ctest_rng_seed(&rng, 7 * p->policy + min_alignment);
        for (int i = 0; i < 150; i++) {
            size_t at, addr, size;
            switch (ctest_rng_below(&rng, 4)) {
            case 0:
                (void)ma_alloc(a, 1 + ctest_rng_below(&rng, 40), &at);
                break;
            case 1: {
                const size_t lo = ctest_rng_below(&rng, 900);
                ma_request r = request(1 + ctest_rng_below(&rng, 40), lo, lo + 100, TOP | MA_REQ_PINNED, 1);
                r.tag = 3; /* no requested alignment: ma_alloc_at cannot record one */
                (void)ma_alloc_ex(a, &r, &at);
                break;
            }
            case 2:
                (void)ma_alloc_at(a, ctest_rng_below(&rng, 1000) & ~(size_t)31, 1 + ctest_rng_below(&rng, 32));
                break;
            default:
                if (pick_live(a, &rng, &addr, &size)) CHECK_OK(a, ma_free(a, addr, size));
            }
        }
        CHECK_INVARIANTS(a);
        const size_t grow[] = {0, 1, 7, 200, 3000};
        for (size_t i = 0; i < COUNT(grow); i++) {
            const size_t end = live_end(a), n = end + grow[i];
            if (n == 0) continue;
            if (end > 1) CHECK_ERR(a, ma_set_capacity(a, end - 1), MA_ERR_OCCUPIED);
            ctest_map live_before, live_after;
            ctest_map_take(a, &live_before);
            SET_CAPACITY_OK(a, n);
            ctest_map_take(a, &live_after);
            size_t j = 0; /* the allocations are where they were */
            for (size_t k = 0; k < live_before.len; k++) {
                if (live_before.extents[k].kind != MA_BLOCK_ALLOCATED) continue;
                while (j < live_after.len && live_after.extents[j].kind != MA_BLOCK_ALLOCATED) j++;
                CHECK(j < live_after.len && live_after.extents[j].start == live_before.extents[k].start &&
                      live_after.extents[j].size == live_before.extents[k].size);
                j++;
            }
            ctest_map_free(&live_before);
            ctest_map_free(&live_after);
            ma_allocator *b = rebuilt(a, n);
            if (!b) break;
            CHECK_SAME(a, b);
            for (int k = 0; k < 60; k++) same_call(a, b, &rng); /* and every call after it */
            ctest_destroy(b);
        }
        ctest_destroy(a);
    }
}

/* ---- What an allocation keeps ----------------------------------------------------------- */

/* Grows the allocation (addr, size) to `new_size` with an obstacle reserved right after its
   footprint, so that it moves; returns the new address. */
static size_t move_by_growing(ma_allocator *a, size_t addr, size_t size, size_t new_size, int line) {
    const ctest_rule r = ctest_rule_of(a);
    const size_t end = addr + ctest_footprint(&r, size);
    if (end < r.capacity) (void)ma_alloc_at(a, end, 1);
    size_t moved = CTEST_SENTINEL;
    ctest_check_status(ma_realloc(a, addr, size, new_size, &moved), MA_OK, __FILE__, line, "ma_realloc");
    ctest_record(moved != addr, __FILE__, line, "the allocation moved", NULL);
    ctest_check_invariants(a, __FILE__, line);
    return moved;
}
#define MOVE_BY_GROWING(a, addr, size, new_size) move_by_growing((a), (addr), (size), (new_size), __LINE__)

static void alignment_is_kept(const ctest_policy *p) {
    ctest_case("a moved allocation keeps its alignment and tag / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 4096, 1);
    if (!a) return;
    CHECK_OK(a, ma_alloc_at(a, 0, 1)); /* so that 1 is the lowest free address */
    ma_request r = request(10, 0, SIZE_MAX, MA_REQ_PINNED, 64);
    r.tag = 7;
    const size_t x = ALLOC_EX(a, &r);
    const size_t y = MOVE_BY_GROWING(a, x, 10, 20);
    CHECK_SIZE(y % 64, 0);
    if (p->policy == MA_POLICY_FIRST_FIT) {
        CHECK_SIZE(x, 64);
        CHECK_SIZE(y, 128); /* 1-63 is free, but not on a multiple of 64 */
    }
    /* Through capacity changes too. */
    SET_CAPACITY_OK(a, 8192);
    SET_CAPACITY_OK(a, live_end(a));
    SET_CAPACITY_OK(a, live_end(a) + 4096);
    const size_t z = MOVE_BY_GROWING(a, y, 20, 40);
    CHECK_SIZE(z % 64, 0);
    uint64_t tag = 0;
    CHECK_STATUS(ma_tag_of(a, z, &tag), MA_OK); /* the tag came along */
    CHECK(tag == 7);
    r = request(5, 0, SIZE_MAX, TOP, 256);
    const size_t w = ALLOC_EX(a, &r);
    SET_CAPACITY_OK(a, live_end(a) + 1000);
    CHECK_SIZE(MOVE_BY_GROWING(a, w, 5, 300) % 256, 0);
    ctest_destroy(a);
    /* A reservation has no requested alignment: it moves to the lowest place with room. */
    if (p->policy == MA_POLICY_FIRST_FIT) {
        a = ctest_create(p->policy, 4096, 1);
        if (!a) return;
        CHECK_OK(a, ma_alloc_at(a, 0, 1));
        CHECK_OK(a, ma_alloc_at(a, 64, 10));
        CHECK_SIZE(MOVE_BY_GROWING(a, 64, 10, 20), 1);
        ctest_destroy(a);
    }
}

int ma_ctest_placement(void) {
    ctest_begin("placement");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        defaults_are_alloc(p);
        switch (p->policy) {
        case MA_POLICY_FIRST_FIT: first_fit_ranges(p); break;
        case MA_POLICY_BEST_FIT: best_fit_ranges(p); break;
        case MA_POLICY_TLSF: tlsf_ranges(p); break;
        default: buddy_ranges(p); break;
        }
        random_ranges(p);
        alloc_at(p);
        alloc_at_min_alignment(p);
        set_capacity(p);
        set_capacity_min_alignment(p);
        set_capacity_is_a_fresh_allocator(p);
        alignment_is_kept(p);
    }
    return ctest_end();
}
