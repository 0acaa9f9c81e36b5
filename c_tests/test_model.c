/*
 * test_model.c: thousands of random calls, good and bad, each compared with a plain
 * model of API.md written here the way REFERENCE.md describes it: a sorted free list
 * scanned from the lowest address (first fit) or in full (best fit), live allocations
 * tracked, every check in the contract's order. After every call the status, the
 * out-parameter (the model's address on success, the sentinel on error) and the whole
 * map must agree with the model, and the invariants must hold.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

#define STEPS 3000

/* ---- The model ------------------------------------------------------------------- */

typedef struct range {
    size_t start;
    size_t size; /* free blocks: the size; live allocations: the requested size */
} range;

typedef struct model {
    size_t capacity;
    size_t usable; /* capacity rounded down to min_alignment: the tail past it is padding */
    size_t min_alignment;
    int best_fit;
    range *free_blocks; /* sorted by start, never adjacent */
    size_t n_free;
    range *live; /* sorted by start */
    size_t n_live;
} model;

static int model_init(model *m, uint32_t policy, size_t capacity, size_t min_alignment) {
    m->capacity = capacity;
    m->min_alignment = min_alignment;
    m->usable = capacity & ~(min_alignment - 1);
    m->best_fit = policy == MA_POLICY_BEST_FIT;
    m->free_blocks = malloc((capacity + 1) * sizeof *m->free_blocks);
    m->live = malloc((capacity + 1) * sizeof *m->live);
    m->n_free = 0;
    m->n_live = 0;
    if (m->usable > 0 && m->free_blocks) {
        m->free_blocks[0].start = 0;
        m->free_blocks[0].size = m->usable;
        m->n_free = 1;
    }
    return m->free_blocks != NULL && m->live != NULL;
}

static void model_release(model *m) {
    free(m->free_blocks);
    free(m->live);
}

static void model_reset(model *m) {
    m->n_live = 0;
    m->n_free = 0;
    if (m->usable > 0) {
        m->free_blocks[0].start = 0;
        m->free_blocks[0].size = m->usable;
        m->n_free = 1;
    }
}

static void insert_at(range *v, size_t *n, size_t i, size_t start, size_t size) {
    memmove(&v[i + 1], &v[i], (*n - i) * sizeof *v);
    v[i].start = start;
    v[i].size = size;
    (*n)++;
}

static void remove_at(range *v, size_t *n, size_t i) {
    memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof *v);
    (*n)--;
}

/* `value` rounded up to a multiple of `align` (a power of two); 0 on overflow. */
static int align_up(size_t value, size_t align, size_t *out) {
    if (value > SIZE_MAX - (align - 1)) return 0;
    *out = (value + align - 1) & ~(align - 1);
    return 1;
}

static int footprint(const model *m, size_t size, size_t *out) {
    return align_up(size, m->min_alignment, out);
}

/* The footprint of a live allocation, which never overflows. */
static size_t live_footprint(const model *m, size_t size) {
    size_t fp = size;
    footprint(m, size, &fp);
    return fp;
}

/* Returns [start, start + size) to the free list, merging with both neighbours. */
static void model_give(model *m, size_t start, size_t size) {
    size_t i = 0;
    while (i < m->n_free && m->free_blocks[i].start < start) i++;
    int merge_prev = i > 0 && m->free_blocks[i - 1].start + m->free_blocks[i - 1].size == start;
    int merge_next = i < m->n_free && start + size == m->free_blocks[i].start;
    if (merge_prev && merge_next) {
        m->free_blocks[i - 1].size += size + m->free_blocks[i].size;
        remove_at(m->free_blocks, &m->n_free, i);
    } else if (merge_prev) {
        m->free_blocks[i - 1].size += size;
    } else if (merge_next) {
        m->free_blocks[i].start = start;
        m->free_blocks[i].size += size;
    } else {
        insert_at(m->free_blocks, &m->n_free, i, start, size);
    }
}

/* Takes [at, at + size) out of free block i, which holds it. */
static void model_carve(model *m, size_t i, size_t at, size_t size) {
    range b = m->free_blocks[i];
    size_t head = at - b.start, tail = b.size - head - size;
    remove_at(m->free_blocks, &m->n_free, i);
    if (tail > 0) insert_at(m->free_blocks, &m->n_free, i, at + size, tail);
    if (head > 0) insert_at(m->free_blocks, &m->n_free, i, b.start, head);
}

static size_t live_index(const model *m, size_t addr) {
    size_t i = 0;
    while (i < m->n_live && m->live[i].start < addr) i++;
    return i;
}

static ma_status model_place(model *m, size_t size, size_t align, size_t *out) {
    size_t fp, eff = align > m->min_alignment ? align : m->min_alignment;
    if (size == 0) return MA_ERR_INVALID_SIZE;
    if (!footprint(m, size, &fp)) return MA_ERR_OUT_OF_MEMORY;
    size_t chosen = SIZE_MAX, chosen_at = 0;
    for (size_t i = 0; i < m->n_free; i++) {
        range b = m->free_blocks[i];
        size_t at;
        if (!align_up(b.start, eff, &at) || at - b.start > b.size || b.size - (at - b.start) < fp) continue;
        if (chosen == SIZE_MAX || (m->best_fit && b.size < m->free_blocks[chosen].size)) {
            chosen = i;
            chosen_at = at;
            if (!m->best_fit) break;
        }
    }
    if (chosen == SIZE_MAX) return MA_ERR_OUT_OF_MEMORY;
    model_carve(m, chosen, chosen_at, fp);
    insert_at(m->live, &m->n_live, live_index(m, chosen_at), chosen_at, size);
    *out = chosen_at;
    return MA_OK;
}

static ma_status model_alloc_aligned(model *m, size_t size, size_t align, size_t *out) {
    if (align == 0 || (align & (align - 1)) != 0) return MA_ERR_INVALID_ALIGNMENT;
    return model_place(m, size, align, out);
}

/* ma_free's checks, in order; on success *index is the live allocation's. */
static ma_status model_check_live(const model *m, size_t addr, size_t size, size_t *index) {
    if (addr >= m->capacity) return MA_ERR_INVALID_ADDRESS;
    if (size == 0) return MA_ERR_INVALID_SIZE;
    if (size > m->capacity - addr) return MA_ERR_INVALID_SIZE;
    size_t i = live_index(m, addr);
    if (i == m->n_live || m->live[i].start != addr) return MA_ERR_NOT_ALLOCATED;
    if (m->live[i].size != size) return MA_ERR_SIZE_MISMATCH;
    *index = i;
    return MA_OK;
}

static void model_release_live(model *m, size_t i) {
    model_give(m, m->live[i].start, live_footprint(m, m->live[i].size));
    remove_at(m->live, &m->n_live, i);
}

static ma_status model_free(model *m, size_t addr, size_t size) {
    size_t i;
    ma_status s = model_check_live(m, addr, size, &i);
    if (s == MA_OK) model_release_live(m, i);
    return s;
}

static ma_status model_size_of(const model *m, size_t addr, size_t *out) {
    if (addr >= m->capacity) return MA_ERR_INVALID_ADDRESS;
    size_t i = live_index(m, addr);
    if (i == m->n_live || m->live[i].start != addr) return MA_ERR_NOT_ALLOCATED;
    *out = m->live[i].size;
    return MA_OK;
}

static ma_status model_free_at(model *m, size_t addr) {
    size_t size;
    ma_status s = model_size_of(m, addr, &size);
    return s == MA_OK ? model_free(m, addr, size) : s;
}

static ma_status model_realloc(model *m, size_t addr, size_t old_size, size_t new_size, size_t *out) {
    size_t i = 0, new_fp = 0;
    ma_status s = model_check_live(m, addr, old_size, &i);
    if (s != MA_OK) return s;
    if (new_size == 0) return MA_ERR_INVALID_SIZE;
    if (!footprint(m, new_size, &new_fp)) return MA_ERR_OUT_OF_MEMORY;
    const size_t old_fp = live_footprint(m, old_size);
    if (new_fp <= old_fp) { /* shrink (or the same footprint) in place */
        if (new_fp < old_fp) model_give(m, addr + new_fp, old_fp - new_fp);
        m->live[i].size = new_size;
        *out = addr;
        return MA_OK;
    }
    for (size_t j = 0; j < m->n_free; j++) { /* grow in place into the free block right after */
        if (m->free_blocks[j].start == addr + old_fp && m->free_blocks[j].size >= new_fp - old_fp) {
            model_carve(m, j, addr + old_fp, new_fp - old_fp);
            m->live[i].size = new_size;
            *out = addr;
            return MA_OK;
        }
    }
    size_t new_addr;
    s = model_place(m, new_size, 1, &new_addr); /* the old block is still held */
    if (s != MA_OK) return s;
    model_release_live(m, live_index(m, addr));
    *out = new_addr;
    return MA_OK;
}

/* The model's map: allocations with their padding, free blocks, the unusable tail. */
static size_t model_map(const model *m, ctest_extent *out) {
    size_t n = 0, f = 0, l = 0;
    while (f < m->n_free || l < m->n_live) {
        if (l == m->n_live || (f < m->n_free && m->free_blocks[f].start < m->live[l].start)) {
            out[n++] = (ctest_extent)FREE(m->free_blocks[f].start, m->free_blocks[f].size);
            f++;
        } else {
            const range b = m->live[l];
            const size_t fp = live_footprint(m, b.size);
            out[n++] = (ctest_extent)ALLOCATED(b.start, b.size);
            if (fp > b.size) out[n++] = (ctest_extent)PADDING(b.start + b.size, fp - b.size);
            l++;
        }
    }
    if (m->usable < m->capacity) out[n++] = (ctest_extent)PADDING(m->usable, m->capacity - m->usable);
    return n;
}

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
static size_t random_address(ctest_rng *r, const model *m, size_t *live_size) {
    *live_size = 1 + ctest_rng_below(r, 8);
    if (m->n_live > 0 && ctest_rng_below(r, 10) < 7) {
        const range *b = &m->live[ctest_rng_below(r, m->n_live)];
        *live_size = b->size;
        if (ctest_rng_below(r, 10) == 0 && b->size > 1) return b->start + 1 + ctest_rng_below(r, b->size - 1);
        return b->start;
    }
    switch (ctest_rng_below(r, 4)) {
    case 0: return m->capacity + ctest_rng_below(r, 3);
    case 1: return SIZE_MAX - ctest_rng_below(r, 2);
    default: return ctest_rng_below(r, m->capacity);
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

static int maps_equal(const ctest_map *got, const ctest_extent *want, size_t n) {
    if (got->len != n) return 0;
    for (size_t i = 0; i < n; i++) {
        if (got->extents[i].start != want[i].start || got->extents[i].size != want[i].size ||
            got->extents[i].kind != want[i].kind) {
            return 0;
        }
    }
    return 1;
}

/* stats.largest_free is the largest size that ma_alloc grants right now: that size is
   granted (and given back, which restores the map), one more is not. */
static int largest_free_is_exact(ma_allocator *a) {
    ma_stats st;
    ctest_snapshot before;
    size_t addr = CTEST_SENTINEL;
    int ok = CHECK_STATUS(ma_get_stats(a, &st), MA_OK);
    ctest_snapshot_take(a, &before);
    if (ok && st.largest_free > 0) {
        ok = CHECK_STATUS(ma_alloc(a, st.largest_free, &addr), MA_OK) &&
             CHECK_STATUS(ma_free(a, addr, st.largest_free), MA_OK);
    }
    if (ok) ok = CHECK_STATUS(ma_alloc(a, st.largest_free + 1, &addr), MA_ERR_OUT_OF_MEMORY);
    if (ok) ok = ctest_check_unchanged(a, &before, __FILE__, __LINE__, "ma_alloc(largest_free) then ma_free");
    ctest_snapshot_free(&before);
    return ok;
}

static void run_model(const ctest_policy *p, size_t capacity, size_t min_alignment, uint64_t seed) {
    ctest_case("model / %s, capacity %zu, min_alignment %zu, seed %llu", p->name, capacity, min_alignment,
               (unsigned long long)seed);
    model m;
    ma_allocator *a = ctest_create(p->policy, capacity, min_alignment);
    ctest_extent *want = malloc((2 * capacity + 2) * sizeof *want);
    int ok = model_init(&m, p->policy, capacity, min_alignment) && a != NULL && want != NULL;
    CHECK(ok);
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
            want_status = model_place(&m, size, 1, &expect);
        } else if (op < 45) {
            size = random_size(&r, capacity);
            size_t align = random_alignment(&r);
            snprintf(call, sizeof call, "ma_alloc_aligned(a, %zu, %zu)", size, align);
            got_status = ma_alloc_aligned(a, size, align, &got);
            want_status = model_alloc_aligned(&m, size, align, &expect);
        } else if (op < 70) {
            addr = random_address(&r, &m, &live_size);
            size = random_free_size(&r, live_size);
            snprintf(call, sizeof call, "ma_free(a, %zu, %zu)", addr, size);
            got_status = ma_free(a, addr, size);
            want_status = model_free(&m, addr, size);
        } else if (op < 78) {
            addr = random_address(&r, &m, &live_size);
            snprintf(call, sizeof call, "ma_free_at(a, %zu)", addr);
            got_status = ma_free_at(a, addr);
            want_status = model_free_at(&m, addr);
        } else if (op < 92) {
            addr = random_address(&r, &m, &live_size);
            size = random_free_size(&r, live_size);
            size_t new_size = ctest_rng_below(&r, 8) == 0 ? random_size(&r, capacity)
                                                         : 1 + ctest_rng_below(&r, 2 * live_size + 8);
            snprintf(call, sizeof call, "ma_realloc(a, %zu, %zu, %zu)", addr, size, new_size);
            got_status = ma_realloc(a, addr, size, new_size, &got);
            want_status = model_realloc(&m, addr, size, new_size, &expect);
        } else if (op < 99) {
            addr = random_address(&r, &m, &live_size);
            snprintf(call, sizeof call, "ma_size_of(a, %zu)", addr);
            got_status = ma_size_of(a, addr, &got);
            want_status = model_size_of(&m, addr, &expect);
        } else {
            snprintf(call, sizeof call, "ma_reset(a)");
            got_status = ma_reset(a);
            want_status = MA_OK;
            model_reset(&m);
        }
        ctest_map map;
        ma_status walked = ctest_map_take(a, &map);
        size_t n = model_map(&m, want);
        char details[320];
        if (got_status != want_status || got != expect) {
            snprintf(details, sizeof details, "step %zu: %s gave %s, out %zu; the model %s, out %zu", step, call,
                     ctest_status_name(got_status), got, ctest_status_name(want_status), expect);
            ok = ctest_record(0, __FILE__, __LINE__, "the library agrees with the model", details);
        } else if (walked != MA_OK || !maps_equal(&map, want, n)) {
            snprintf(details, sizeof details, "step %zu: after %s (%s)", step, call, ctest_status_name(got_status));
            ok = ctest_record(0, __FILE__, __LINE__, "the map agrees with the model", details);
            printf("    got:  ");
            ctest_print_extents(map.extents, map.len);
            printf("\n    want: ");
            ctest_print_extents(want, n);
            printf("\n");
        } else if (ctest_rng_below(&r, 8) == 0) {
            ok = CHECK_INVARIANTS(a) && largest_free_is_exact(a);
        }
        ctest_map_free(&map);
    }
    if (ok) CHECK_SIZE(step, STEPS); /* one pass for the whole run */
    ma_destroy(a);
    model_release(&m);
    free(want);
}

int ma_ctest_model(void) {
    ctest_begin("model");
    static const struct {
        size_t capacity;
        size_t min_alignment;
    } configs[] = {{1000, 1}, {64, 1}, {1024, 8}, {999, 8}, {4096, 4}};
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        if (!p->exact_sizes) continue; /* the model has no power-of-two rounding */
        for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
            for (uint64_t seed = 1; seed <= 3; seed++) {
                run_model(p, configs[c].capacity, configs[c].min_alignment, seed * 1000003u + c);
            }
        }
    }
    return ctest_end();
}
