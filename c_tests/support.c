/*
 * support.c: policies under test, maps, snapshots and the invariant check (see support.h).
 */

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ctest_policy ctest_policies[] = {
    {MA_POLICY_FIRST_FIT, "first-fit", 1},
    {MA_POLICY_BEST_FIT, "best-fit", 1},
    /* {MA_POLICY_TLSF, "tlsf", 1}, {MA_POLICY_BUDDY, "buddy", 0}: when they land. */
};
const size_t ctest_policy_count = sizeof ctest_policies / sizeof ctest_policies[0];

ma_allocator *ctest_create(uint32_t policy, size_t capacity, size_t min_alignment) {
    ma_options opts;
    ma_allocator *a = NULL;
    ma_options_init(&opts);
    opts.capacity = capacity;
    opts.policy = policy;
    opts.min_alignment = min_alignment;
    ma_status s = ma_create_with(&opts, &a);
    char details[160];
    snprintf(details, sizeof details, "policy %u, capacity %zu, min_alignment %zu: %s", (unsigned)policy, capacity,
             min_alignment, ctest_status_name(s));
    ctest_record(s == MA_OK && a != NULL, __FILE__, __LINE__, "ma_create_with(&opts, &a) == MA_OK", details);
    return s == MA_OK ? a : NULL;
}

static int collect(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    ctest_map *m = ctx;
    if (m->len == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        ctest_extent *grown = realloc(m->extents, cap * sizeof *grown);
        if (!grown) {
            return 1; /* stop: the map is short and will not compare equal */
        }
        m->extents = grown;
        m->cap = cap;
    }
    m->extents[m->len].start = start;
    m->extents[m->len].size = size;
    m->extents[m->len].kind = (int)kind;
    m->len++;
    return 0;
}

ma_status ctest_map_take(const ma_allocator *a, ctest_map *m) {
    m->extents = NULL;
    m->len = 0;
    m->cap = 0;
    return ma_walk(a, collect, m);
}

void ctest_map_free(ctest_map *m) {
    free(m->extents);
    m->extents = NULL;
    m->len = 0;
    m->cap = 0;
}

static const char *kind_name(int kind) {
    switch (kind) {
    case MA_BLOCK_FREE: return "Free";
    case MA_BLOCK_ALLOCATED: return "Allocated";
    case MA_BLOCK_PADDING: return "Padding";
    default: return "Unknown";
    }
}

void ctest_print_extents(const ctest_extent *extents, size_t n) {
    const size_t shown = n > 64 ? 64 : n;
    for (size_t i = 0; i < shown; i++) {
        const ctest_extent *e = &extents[i];
        if (e->size == 0) {
            printf("%s[%s(%zu, size 0)]", i ? " " : "", kind_name(e->kind), e->start);
        } else {
            printf("%s[%s(%zu-%zu)]", i ? " " : "", kind_name(e->kind), e->start, e->start + (e->size - 1));
        }
    }
    if (shown < n) {
        printf(" ... (%zu extents)", n);
    }
}

static int extents_equal(const ctest_extent *x, size_t nx, const ctest_extent *y, size_t ny) {
    if (nx != ny) {
        return 0;
    }
    for (size_t i = 0; i < nx; i++) {
        if (x[i].start != y[i].start || x[i].size != y[i].size || x[i].kind != y[i].kind) {
            return 0;
        }
    }
    return 1;
}

int ctest_check_map(const ma_allocator *a, const ctest_extent *want, size_t n, const char *file, int line,
                    const char *expr) {
    ctest_map got;
    ma_status s = ctest_map_take(a, &got);
    int ok = s == MA_OK && extents_equal(got.extents, got.len, want, n);
    char what[256];
    snprintf(what, sizeof what, "map == %s", expr);
    if (!ctest_record(ok, file, line, what, s == MA_OK ? NULL : ctest_status_name(s))) {
        printf("    got:  ");
        ctest_print_extents(got.extents, got.len);
        printf("\n    want: ");
        ctest_print_extents(want, n);
        printf("\n");
    }
    ctest_map_free(&got);
    return ok;
}

void ctest_snapshot_take(const ma_allocator *a, ctest_snapshot *s) {
    memset(&s->stats, 0, sizeof s->stats);
    s->stats_status = ma_get_stats(a, &s->stats);
    ctest_map_take(a, &s->map);
}

void ctest_snapshot_free(ctest_snapshot *s) {
    ctest_map_free(&s->map);
}

static int stats_equal(const ma_stats *x, const ma_stats *y) {
    return x->capacity == y->capacity && x->allocated == y->allocated && x->free == y->free &&
           x->largest_free == y->largest_free && x->free_blocks == y->free_blocks &&
           x->allocations == y->allocations && x->padding == y->padding;
}

static void print_stats(const char *label, const ma_stats *s) {
    printf("    %s capacity %zu, allocated %zu, free %zu, largest_free %zu, free_blocks %zu, allocations %zu, "
           "padding %zu\n",
           label, s->capacity, s->allocated, s->free, s->largest_free, s->free_blocks, s->allocations, s->padding);
}

int ctest_check_unchanged(const ma_allocator *a, const ctest_snapshot *before, const char *file, int line,
                          const char *expr) {
    ctest_snapshot after;
    ctest_snapshot_take(a, &after);
    int same_stats = before->stats_status == MA_OK && after.stats_status == MA_OK &&
                     stats_equal(&before->stats, &after.stats);
    int same_map = extents_equal(before->map.extents, before->map.len, after.map.extents, after.map.len);
    char what[256];
    snprintf(what, sizeof what, "state unchanged by %s", expr);
    if (!ctest_record(same_stats && same_map, file, line, what, same_stats ? "map differs" : "stats differ")) {
        print_stats("before:", &before->stats);
        print_stats("after: ", &after.stats);
        printf("    map before: ");
        ctest_print_extents(before->map.extents, before->map.len);
        printf("\n    map after:  ");
        ctest_print_extents(after.map.extents, after.map.len);
        printf("\n");
    }
    ctest_snapshot_free(&after);
    return same_stats && same_map;
}

int ctest_check_stats(const ma_allocator *a, const ma_stats *want, const char *file, int line) {
    ma_stats got;
    memset(&got, 0, sizeof got);
    ma_status s = ma_get_stats(a, &got);
    int ok = s == MA_OK && stats_equal(&got, want);
    if (!ctest_record(ok, file, line, "stats as expected", s == MA_OK ? NULL : ctest_status_name(s))) {
        print_stats("got: ", &got);
        print_stats("want:", want);
    }
    return ok;
}

/* Writes why an invariant does not hold, and reports it. */
#define VIOLATION(...)                                                                              \
    do {                                                                                            \
        snprintf(why, n, __VA_ARGS__);                                                              \
        return 1;                                                                                   \
    } while (0)

/* The first invariant that does not hold, written to `why`; 0 when all hold. */
static int find_violation(const ma_allocator *a, const ma_stats *st, const ctest_map *m, char *why, size_t n) {
    size_t at = 0, allocated = 0, free_units = 0, padding = 0, largest = 0, free_blocks = 0, allocations = 0;
    for (size_t i = 0; i < m->len; i++) {
        const ctest_extent *e = &m->extents[i];
        const ctest_extent *prev = i ? &m->extents[i - 1] : NULL;
        if (e->start != at) {
            VIOLATION("extent %zu starts at %zu, previous ends at %zu", i, e->start, at);
        }
        if (e->size == 0) {
            VIOLATION("extent %zu at %zu has size 0", i, e->start);
        }
        if (e->size > SIZE_MAX - e->start) {
            VIOLATION("extent %zu at %zu runs past SIZE_MAX", i, e->start);
        }
        switch (e->kind) {
        case MA_BLOCK_FREE:
            if (prev && prev->kind == MA_BLOCK_FREE) {
                VIOLATION("adjacent free extents at %zu", e->start);
            }
            free_units += e->size;
            free_blocks++;
            largest = e->size > largest ? e->size : largest;
            break;
        case MA_BLOCK_ALLOCATED: {
            size_t size = CTEST_SENTINEL;
            ma_status s = ma_size_of(a, e->start, &size);
            if (s != MA_OK || size != e->size) {
                VIOLATION("ma_size_of(%zu) gives %s, size %zu; the map says %zu", e->start,
                                ctest_status_name(s), size, e->size);
            }
            allocated += e->size;
            allocations++;
            break;
        }
        case MA_BLOCK_PADDING:
            /* Padding follows its allocation; the one exception is the tail of a capacity
               that is not a multiple of min_alignment, which no allocation can use. */
            if (i + 1 < m->len && (!prev || (prev->kind != MA_BLOCK_ALLOCATED))) {
                VIOLATION("padding at %zu does not follow an allocation", e->start);
            }
            padding += e->size;
            break;
        default:
            VIOLATION("extent at %zu has unknown kind %d", e->start, e->kind);
        }
        at = e->start + e->size;
    }
    if (at != st->capacity) {
        VIOLATION("the map ends at %zu, capacity is %zu", at, st->capacity);
    }
    if (allocated != st->allocated || free_units != st->free || padding != st->padding) {
        VIOLATION("map sums (allocated %zu, free %zu, padding %zu) differ from stats", allocated,
                        free_units, padding);
    }
    if (largest != st->largest_free || free_blocks != st->free_blocks || allocations != st->allocations) {
        VIOLATION("map (largest %zu, free blocks %zu, allocations %zu) differs from stats", largest,
                        free_blocks, allocations);
    }
    if (st->allocated > st->capacity || st->free > st->capacity - st->allocated ||
        st->capacity - st->allocated - st->free != st->padding) {
        VIOLATION("capacity != allocated + free + padding");
    }
    return 0;
}

int ctest_check_invariants(const ma_allocator *a, const char *file, int line) {
    ctest_snapshot snap;
    ctest_snapshot_take(a, &snap);
    char why[256] = "";
    int bad = snap.stats_status != MA_OK;
    if (bad) {
        snprintf(why, sizeof why, "ma_get_stats: %s", ctest_status_name(snap.stats_status));
    } else {
        bad = find_violation(a, &snap.stats, &snap.map, why, sizeof why);
    }
    if (!ctest_record(!bad, file, line, "invariants hold", why)) {
        print_stats("stats:", &snap.stats);
        printf("    map: ");
        ctest_print_extents(snap.map.extents, snap.map.len);
        printf("\n");
    }
    ctest_snapshot_free(&snap);
    return !bad;
}

void ctest_rng_seed(ctest_rng *r, uint64_t seed) {
    r->state = seed ? seed : 0x9E3779B97F4A7C15u;
}

uint64_t ctest_rng_next(ctest_rng *r) {
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1Du;
}

size_t ctest_rng_below(ctest_rng *r, size_t n) {
    return (size_t)(ctest_rng_next(r) % n);
}
