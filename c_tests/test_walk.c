/*
 * test_walk.c: ma_walk reports the extents in ascending address order, stops when the
 * callback returns non-zero (and still returns MA_OK), passes ctx through (NULL too),
 * and lets the callback call any ma_ function on the same allocator: ma_alloc, ma_free,
 * ma_reset, ma_get_stats and nested walks, without deadlock. The walk sees the snapshot
 * taken when it started; what the callback changes shows in later walks, and is what the
 * model of the policy says (support.h), call by call. Every policy.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* Capacity 100 after step 5 of the worked example (built so that TLSF has it exactly too);
   buddy runs the same steps in 256. Either way 5 to 7 extents. */
static ma_allocator *example_state(const ctest_policy *p) {
    if (p->policy == MA_POLICY_BUDDY) {
        ma_allocator *a = ctest_create(p->policy, 256, 1);
        if (!a) return NULL;
        CHECK_ALLOC(a, 20, 0);
        CHECK_ALLOC(a, 30, 32);
        CHECK_ALLOC(a, 40, 64);
        FREE_OK(a, 32, 30);
        CHECK_ALLOC(a, 25, 32);
        CHECK_MAP(a, ALLOCATED(0, 20), PADDING(20, 12), ALLOCATED(32, 25), PADDING(57, 7), ALLOCATED(64, 40),
                  PADDING(104, 24), FREE(128, 128));
        return a;
    }
    const ctest_extent layout[] = {ALLOCATED(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40),
                                   FREE(90, 10)};
    return ctest_create_layout(p->policy, 100, layout, sizeof layout / sizeof layout[0]);
}

/* What a callback saw, and what it should do. */
typedef struct walk_log {
    ma_allocator *a;
    ctest_extent seen[16];
    size_t len;
    int stop_after; /* return `stop_value` after this many extents (0: never) */
    int stop_value;
    ma_status inner[16]; /* the status of the call made from the callback, per extent */
    size_t addr[16];     /* the address it gave, per extent */
    ctest_map nested[16];  /* the map read by a nested walk, per extent */
} walk_log;

static void log_extent(walk_log *log, size_t start, size_t size, ma_block_kind kind) {
    if (log->len < sizeof log->seen / sizeof log->seen[0]) {
        log->seen[log->len].start = start;
        log->seen[log->len].size = size;
        log->seen[log->len].kind = (int)kind;
    }
    log->len++;
}

static int record(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    walk_log *log = ctx;
    log_extent(log, start, size, kind);
    return log->stop_after && (int)log->len >= log->stop_after ? log->stop_value : 0;
}

static int seen_is(const walk_log *log, const ctest_extent *want, size_t n) {
    if (log->len != n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (log->seen[i].start != want[i].start || log->seen[i].size != want[i].size ||
            log->seen[i].kind != want[i].kind) {
            return 0;
        }
    }
    return 1;
}

static void order_and_stop(const ctest_policy *p) {
    ctest_case("walk order / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    ctest_map example;
    CHECK_STATUS(ctest_map_take(a, &example), MA_OK);
    walk_log log;
    memset(&log, 0, sizeof log);
    CHECK_STATUS(ma_walk(a, record, &log), MA_OK);
    CHECK(seen_is(&log, example.extents, example.len));

    const int stops[] = {1, 2, 5};
    const int values[] = {1, -1, 42, INT32_MIN};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        for (size_t j = 0; j < sizeof values / sizeof values[0]; j++) {
            ctest_case("walk stops after %d extents, callback returns %d / %s", stops[i], values[j], p->name);
            memset(&log, 0, sizeof log);
            log.stop_after = stops[i];
            log.stop_value = values[j];
            CHECK_STATUS(ma_walk(a, record, &log), MA_OK); /* stopping is not an error */
            CHECK_SIZE(log.len, stops[i]);
            CHECK(seen_is(&log, example.extents, (size_t)stops[i]));
        }
    }
    CHECK_INVARIANTS(a);
    ctest_map_free(&example);
    ctest_destroy(a);
}

static int ignore_ctx(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    (void)start;
    (void)size;
    (void)kind;
    return ctx != NULL; /* stops at once if ctx is not passed through as NULL */
}

static int count_extents(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    (void)start;
    (void)size;
    (void)kind;
    ++*(size_t *)ctx;
    return 0;
}

static void null_ctx(const ctest_policy *p) {
    ctest_case("walk with ctx NULL / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    CHECK_STATUS(ma_walk(a, ignore_ctx, NULL), MA_OK);
    ctest_destroy(a);
}

/* Allocates the size of every free extent it sees. */
static int alloc_free_extents(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    walk_log *log = ctx;
    if (log->len >= sizeof log->inner / sizeof log->inner[0]) return 1; /* more extents than expected */
    log->addr[log->len] = CTEST_SENTINEL;
    if (kind == MA_BLOCK_FREE) {
        log->inner[log->len] = ma_alloc(log->a, size, &log->addr[log->len]);
    }
    log_extent(log, start, size, kind);
    return 0;
}

/* Frees every allocation it sees, then reads the map with a nested walk. */
static int free_and_nest(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    walk_log *log = ctx;
    if (log->len >= sizeof log->inner / sizeof log->inner[0]) return 1; /* more extents than expected */
    if (kind == MA_BLOCK_ALLOCATED) {
        log->inner[log->len] = ma_free(log->a, start, size);
    }
    if (log->len < sizeof log->nested / sizeof log->nested[0]) {
        ma_status s = ctest_map_take(log->a, &log->nested[log->len]);
        if (s != MA_OK) log->inner[log->len] = s;
    }
    log_extent(log, start, size, kind);
    return 0;
}

static int map_is(const ctest_map *m, const ctest_extent *want, size_t n) {
    if (m->len != n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (m->extents[i].start != want[i].start || m->extents[i].size != want[i].size ||
            m->extents[i].kind != want[i].kind) {
            return 0;
        }
    }
    return 1;
}

static void reentrant(const ctest_policy *p) {
    ctest_case("walk callback calls ma_alloc / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    ctest_map example;
    ctest_model m;
    CHECK_STATUS(ctest_map_take(a, &example), MA_OK);
    ctest_model_of(&m, a);
    walk_log log;
    memset(&log, 0, sizeof log);
    log.a = a;
    CHECK_STATUS(ma_walk(a, alloc_free_extents, &log), MA_OK);
    CHECK(seen_is(&log, example.extents, example.len)); /* the snapshot, not the changes */
    /* Each call made from the callback did what the model says, in order, and the
       changes show in the next walk. */
    for (size_t i = 0; i < example.len && i < log.len; i++) {
        if (example.extents[i].kind != MA_BLOCK_FREE) continue;
        size_t want = CTEST_SENTINEL;
        CHECK_STATUS(log.inner[i], ctest_model_alloc(&m, example.extents[i].size, 0, log.addr[i], &want));
        CHECK_SIZE(log.addr[i], want);
        CHECK_STATUS(log.inner[i], MA_OK);
        if (ctest_is_fit(p) || p->policy == MA_POLICY_BUDDY) CHECK_SIZE(log.addr[i], example.extents[i].start);
    }
    ctest_check_model(a, &m, __FILE__, __LINE__, "the callback's allocations");
    if (ctest_is_fit(p)) {
        CHECK_MAP(a, ALLOCATED(0, 20), ALLOCATED(20, 25), ALLOCATED(45, 5), ALLOCATED(50, 40), ALLOCATED(90, 10));
    }
    CHECK_INVARIANTS(a);
    ctest_model_release(&m);
    ctest_map_free(&example);

    ctest_case("walk callback calls ma_free and a nested ma_walk / %s", p->name);
    CHECK_STATUS(ctest_map_take(a, &example), MA_OK);
    ctest_model_of(&m, a);
    memset(&log, 0, sizeof log);
    log.a = a;
    CHECK_STATUS(ma_walk(a, free_and_nest, &log), MA_OK);
    CHECK(seen_is(&log, example.extents, example.len));
    /* Each nested walk sees the frees made so far, exactly as the model has them. */
    for (size_t i = 0; i < example.len && i < log.len; i++) {
        CHECK_STATUS(log.inner[i], MA_OK);
        if (example.extents[i].kind == MA_BLOCK_ALLOCATED) {
            CHECK_STATUS(ctest_model_free(&m, example.extents[i].start, example.extents[i].size), MA_OK);
        }
        ctest_map want;
        ctest_model_map(&m, &want);
        CHECK(map_is(&log.nested[i], want.extents, want.len));
        ctest_map_free(&want);
    }
    if (ctest_is_fit(p)) {
        const ctest_extent after1[] = {FREE(0, 20), ALLOCATED(20, 25), ALLOCATED(45, 5), ALLOCATED(50, 40),
                                       ALLOCATED(90, 10)};
        const ctest_extent after3[] = {FREE(0, 50), ALLOCATED(50, 40), ALLOCATED(90, 10)};
        CHECK(map_is(&log.nested[0], after1, sizeof after1 / sizeof after1[0]));
        CHECK(map_is(&log.nested[2], after3, sizeof after3 / sizeof after3[0]));
    }
    for (size_t i = 0; i < 16; i++) {
        ctest_map_free(&log.nested[i]);
    }
    CHECK_INITIAL(a);
    CHECK_INVARIANTS(a);
    ctest_model_release(&m);
    ctest_map_free(&example);
    ctest_destroy(a);
}

/* Resets the allocator at the first extent; reads stats and walks at every extent. */
static int reset_and_read(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    walk_log *log = ctx;
    if (log->len >= sizeof log->inner / sizeof log->inner[0]) return 1; /* more extents than expected */
    (void)start;
    (void)size;
    (void)kind;
    ma_status s = MA_OK;
    if (log->len == 0) s = ma_reset(log->a);
    ma_stats stats;
    if (s == MA_OK) s = ma_get_stats(log->a, &stats);
    if (s == MA_OK && (stats.allocations != 0 || stats.free != stats.capacity)) s = MA_ERR_INTERNAL;
    size_t count = 0;
    if (s == MA_OK) s = ma_walk(log->a, count_extents, &count);
    if (s == MA_OK && count != 1) s = MA_ERR_INTERNAL;
    log->inner[log->len] = s;
    log_extent(log, start, size, kind);
    return 0;
}

static void reset_inside(const ctest_policy *p) {
    ctest_case("walk callback calls ma_reset, ma_get_stats, ma_walk / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    ctest_map example;
    CHECK_STATUS(ctest_map_take(a, &example), MA_OK);
    walk_log log;
    memset(&log, 0, sizeof log);
    log.a = a;
    CHECK_STATUS(ma_walk(a, reset_and_read, &log), MA_OK);
    CHECK(seen_is(&log, example.extents, example.len));
    for (size_t i = 0; i < example.len; i++) {
        CHECK_STATUS(log.inner[i], MA_OK);
    }
    CHECK_INITIAL(a);
    ctest_map_free(&example);
    ctest_destroy(a);
}

/* Deep nesting: each callback walks again, ten levels down. */
typedef struct deep {
    ma_allocator *a;
    int depth;
    int max_depth;
    size_t calls;
} deep;

static int walk_deeper(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    deep *d = ctx;
    (void)start;
    (void)size;
    (void)kind;
    d->calls++;
    if (d->depth < 10) {
        d->depth++;
        d->max_depth = d->depth > d->max_depth ? d->depth : d->max_depth;
        ma_walk(d->a, walk_deeper, d);
        d->depth--;
    }
    return 1; /* one extent per level is enough */
}

static void deep_nesting(const ctest_policy *p) {
    ctest_case("nested walks ten deep / %s", p->name);
    ma_allocator *a = example_state(p);
    if (!a) return;
    deep d = {a, 0, 0, 0};
    CHECK_STATUS(ma_walk(a, walk_deeper, &d), MA_OK);
    CHECK(d.max_depth == 10);
    CHECK_SIZE(d.calls, 11);
    ctest_destroy(a);
}

int ma_ctest_walk(void) {
    ctest_begin("walk");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        order_and_stop(p);
        null_ctx(p);
        reentrant(p);
        reset_inside(p);
        deep_nesting(p);
    }
    return ctest_end();
}
