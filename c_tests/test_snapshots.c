/*
 * test_snapshots.c: tags (ma_set_tag, ma_tag_of, ma_free_tagged), compaction plans
 * (ma_compact, executed with memmove on real bytes) and snapshots (ma_save, ma_load),
 * under every policy: check orders, state unchanged after every error, and a loaded
 * allocator that answers a random sequence of calls exactly as the saved one.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "support.h"

/* A pointer value no call should ever write to an ma_allocator ** out-parameter. */
static char handle_sentinel_storage;
#define HANDLE_SENTINEL ((ma_allocator *)(void *)&handle_sentinel_storage)

/* ma_alloc_ex with a tag and flags; the address, or CTEST_SENTINEL when it fails. */
static size_t alloc_tagged(ma_allocator *a, size_t size, size_t alignment, uint64_t tag, uint32_t flags) {
    ma_request r;
    ma_request_init(&r, size);
    r.alignment = alignment;
    r.tag = tag;
    r.flags = flags;
    size_t at = CTEST_SENTINEL;
    return ma_alloc_ex(a, &r, &at) == MA_OK ? at : CTEST_SENTINEL;
}

static void tag_errors_and_groups(const ctest_policy *p) {
    ctest_case("tags / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 1024, 1);
    if (!a) return;
    size_t x = alloc_tagged(a, 10, 1, 7, 0), y = alloc_tagged(a, 20, 1, 0, 0), z = alloc_tagged(a, 30, 1, 7, 0);
    CHECK(x != CTEST_SENTINEL && y != CTEST_SENTINEL && z != CTEST_SENTINEL);
    CHECK_INVARIANTS(a);

    uint64_t tag = 0xDEADBEEF;
    CHECK_ERR(a, ma_tag_of(NULL, x, &tag), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_tag_of(a, x, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_tag_of(a, 5000, NULL), MA_ERR_NULL_POINTER); /* NULL beats the address */
    CHECK_ERR(a, ma_tag_of(a, 1024, &tag), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_tag_of(a, x + 1, &tag), MA_ERR_NOT_ALLOCATED);
    CHECK(tag == 0xDEADBEEF);
    CHECK_STATUS(ma_tag_of(a, x, &tag), MA_OK);
    CHECK(tag == 7);
    CHECK_STATUS(ma_tag_of(a, y, &tag), MA_OK);
    CHECK(tag == 0);

    CHECK_ERR(a, ma_set_tag(NULL, y, 7), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_set_tag(a, SIZE_MAX, 7), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_set_tag(a, y + 1, 7), MA_ERR_NOT_ALLOCATED);
    CHECK_OK(a, ma_set_tag(a, y, 9));
    CHECK_STATUS(ma_tag_of(a, y, &tag), MA_OK);
    CHECK(tag == 9);

    size_t count = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_free_tagged(NULL, 7, &count), MA_ERR_NULL_POINTER, count);
    CHECK_ERR(a, ma_free_tagged(a, 7, NULL), MA_ERR_NULL_POINTER);
    CHECK_OK(a, ma_free_tagged(a, 8, &count));
    CHECK_SIZE(count, 0);
    CHECK_OK(a, ma_free_tagged(a, 7, &count));
    CHECK_SIZE(count, 2);
    size_t size = CTEST_SENTINEL;
    CHECK_STATUS(ma_size_of(a, x, &size), MA_ERR_NOT_ALLOCATED);
    CHECK_STATUS(ma_size_of(a, z, &size), MA_ERR_NOT_ALLOCATED);
    CHECK_STATUS(ma_size_of(a, y, &size), MA_OK);
    CHECK_SIZE(size, 20);
    /* Tag 0 frees the untagged ones: none left. Retagging y to 0 makes it one. */
    CHECK_OK(a, ma_free_tagged(a, 0, &count));
    CHECK_SIZE(count, 0);
    CHECK_OK(a, ma_set_tag(a, y, 0));
    CHECK_OK(a, ma_free_tagged(a, 0, &count));
    CHECK_SIZE(count, 1);
    CHECK_INITIAL(a);

    /* ma_realloc keeps the tag, in place and moved. */
    size_t u = alloc_tagged(a, 16, 1, 3, 0);
    size_t blocker = alloc_tagged(a, 16, 1, 0, 0);
    size_t moved = CTEST_SENTINEL;
    CHECK_OK(a, ma_realloc(a, u, 16, 200, &moved));
    CHECK(moved != u);
    CHECK_STATUS(ma_tag_of(a, moved, &tag), MA_OK);
    CHECK(tag == 3);
    CHECK_OK(a, ma_free(a, blocker, 16));
    ctest_destroy(a);
}

static void compact_errors(const ctest_policy *p) {
    ctest_case("ma_compact errors / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 1024, 1);
    if (!a) return;
    size_t x = ALLOC(a, 100), y = ALLOC(a, 100);
    FREE_OK(a, x, 100);
    ma_move moves[4];
    memset(moves, 0xA5, sizeof moves);
    size_t count = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_compact(NULL, SIZE_MAX, moves, 4, &count), MA_ERR_NULL_POINTER, count);
    CHECK_ERR(a, ma_compact(a, SIZE_MAX, moves, 4, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_compact(a, SIZE_MAX, NULL, 1, &count), MA_ERR_NULL_POINTER, count);
    /* No room for a move, or a budget below the next one: an empty plan, nothing changes. */
    CHECK_ERR(a, ma_compact(a, SIZE_MAX, NULL, 0, &count), MA_OK);
    CHECK_SIZE(count, 0);
    CHECK_ERR(a, ma_compact(a, 99, moves, 4, &count), MA_OK);
    CHECK_SIZE(count, 0);
    CHECK(moves[0].from == moves[1].from); /* untouched: still the 0xA5 pattern */
    CHECK_OK(a, ma_compact(a, 100, moves, 4, &count));
    CHECK_SIZE(count, 1);
    CHECK_SIZE(moves[0].from, y);
    CHECK_SIZE(moves[0].to, 0);
    CHECK_SIZE(moves[0].size, 100);
    ctest_destroy(a);
}

/* One live allocation of the compaction test: where it is, and the byte it is filled with. */
typedef struct held {
    size_t addr, size, alignment;
    uint64_t tag;
    int pinned;
    unsigned char fill;
} held;

static void compaction_on_real_bytes(const ctest_policy *p, uint64_t seed) {
    ctest_case("ma_compact with memmove / %s / seed %llu", p->name, (unsigned long long)seed);
    const size_t capacity = 4096;
    size_t min_alignment = seed % 2 ? 1 : 4;
    ma_allocator *a = ctest_create(p->policy, capacity, min_alignment);
    unsigned char *bytes = malloc(capacity);
    held *live = calloc(capacity, sizeof *live);
    if (!a || !bytes || !live) {
        CHECK(!"host memory");
        free(bytes), free(live), ctest_destroy(a);
        return;
    }
    ctest_rng rng;
    ctest_rng_seed(&rng, seed);
    size_t n = 0;
    int any_pinned = 0;
    for (int step = 0; step < 400; step++) {
        if (n == 0 || ctest_rng_below(&rng, 3) != 0) {
            held h = {.size = 1 + ctest_rng_below(&rng, 1 + ctest_rng_below(&rng, 64)),
                      .alignment = ctest_rng_below(&rng, 4) == 0 ? (size_t)1 << ctest_rng_below(&rng, 6) : 1,
                      .tag = ctest_rng_below(&rng, 3),
                      .pinned = ctest_rng_below(&rng, 10) == 0,
                      .fill = (unsigned char)(1 + ctest_rng_below(&rng, 255))};
            h.addr = alloc_tagged(a, h.size, h.alignment, h.tag, h.pinned ? MA_REQ_PINNED : 0);
            if (h.addr == CTEST_SENTINEL) continue;
            memset(bytes + h.addr, h.fill, h.size);
            live[n++] = h;
        } else {
            size_t k = ctest_rng_below(&rng, n);
            CHECK_STATUS(ma_free(a, live[k].addr, live[k].size), MA_OK);
            live[k] = live[--n];
        }
    }
    for (size_t k = 0; k < n; k++) any_pinned |= live[k].pinned;
    CHECK_INVARIANTS(a);

    /* Small budgets until the plan is empty; every move executed as the caller would. */
    ma_move moves[3];
    size_t count, total_moves = 0;
    do {
        size_t budget = 64 + ctest_rng_below(&rng, 200);
        CHECK_OK(a, ma_compact(a, budget, moves, 3, &count));
        size_t units = 0;
        for (size_t m = 0; m < count; m++) {
            CHECK(moves[m].to < moves[m].from);
            units += moves[m].size;
            size_t k = 0;
            while (k < n && live[k].addr != moves[m].from) k++;
            if (!CHECK(k < n)) break;
            CHECK(!live[k].pinned);
            CHECK_SIZE(moves[m].size, live[k].size);
            memmove(bytes + moves[m].to, bytes + moves[m].from, moves[m].size);
            live[k].addr = moves[m].to;
        }
        CHECK(units <= budget);
        total_moves += count;
    } while (count > 0 && total_moves < 10000);

    for (size_t k = 0; k < n; k++) {
        const held *h = &live[k];
        size_t size = 0;
        uint64_t tag = ~(uint64_t)0;
        CHECK_STATUS(ma_size_of(a, h->addr, &size), MA_OK);
        CHECK_SIZE(size, h->size);
        CHECK_STATUS(ma_tag_of(a, h->addr, &tag), MA_OK);
        CHECK(tag == h->tag);
        CHECK(h->addr % (h->alignment > min_alignment ? h->alignment : min_alignment) == 0);
        int intact = 1;
        for (size_t i = 0; i < h->size; i++) intact &= bytes[h->addr + i] == h->fill;
        CHECK(intact);
    }
    /* With nothing pinned, first fit, best fit and TLSF end with the allocations packed
       from 0: what is free lies above the last allocation, but for alignment gaps. */
    if (!any_pinned && p->policy != MA_POLICY_BUDDY) {
        int all_unaligned = 1;
        for (size_t k = 0; k < n; k++) all_unaligned &= live[k].alignment <= min_alignment;
        ma_stats stats;
        CHECK_STATUS(ma_get_stats(a, &stats), MA_OK);
        if (all_unaligned) CHECK(stats.free_blocks <= 1);
    }
    free(bytes), free(live);
    ctest_destroy(a);
}

static void save_errors(const ctest_policy *p) {
    ctest_case("ma_save and ma_load errors / %s", p->name);
    ma_allocator *a = ctest_create(p->policy, 1000, 1);
    if (!a) return;
    ALLOC(a, 10);
    size_t len = CTEST_SENTINEL;
    unsigned char small[8];
    memset(small, 0x5A, sizeof small);
    CHECK_ERR_OUT(a, ma_save(NULL, small, sizeof small, &len), MA_ERR_NULL_POINTER, len);
    CHECK_ERR(a, ma_save(a, small, sizeof small, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_save(a, NULL, 1, &len), MA_ERR_NULL_POINTER, len);
    CHECK_ERR(a, ma_save(a, NULL, 0, &len), MA_ERR_BUFFER_TOO_SMALL);
    CHECK(len > sizeof small && len != CTEST_SENTINEL);
    size_t need = len;
    len = CTEST_SENTINEL;
    CHECK_ERR(a, ma_save(a, small, sizeof small, &len), MA_ERR_BUFFER_TOO_SMALL);
    CHECK_SIZE(len, need);
    int untouched = 1;
    for (size_t i = 0; i < sizeof small; i++) untouched &= small[i] == 0x5A;
    CHECK(untouched);

    unsigned char *buf = malloc(need + 1);
    if (!CHECK(buf != NULL)) {
        ctest_destroy(a);
        return;
    }
    CHECK_ERR(a, ma_save(a, buf, need + 1, &len), MA_OK);
    CHECK_SIZE(len, need);
    CHECK(memcmp(buf, "MEMALLOC", 8) == 0);

    ma_allocator *out = HANDLE_SENTINEL;
    CHECK_STATUS(ma_load(NULL, need, &out), MA_ERR_NULL_POINTER);
    CHECK_STATUS(ma_load(buf, need, NULL), MA_ERR_NULL_POINTER);
    CHECK_STATUS(ma_load(buf, 0, &out), MA_ERR_BAD_SNAPSHOT);
    CHECK_STATUS(ma_load(buf, need - 1, &out), MA_ERR_BAD_SNAPSHOT);
    CHECK_STATUS(ma_load(buf, need + 1, &out), MA_ERR_BAD_SNAPSHOT); /* a trailing byte */
    for (size_t i = 0; i < need; i += 3) {
        buf[i] ^= 0x10;
        CHECK_STATUS(ma_load(buf, need, &out), MA_ERR_BAD_SNAPSHOT);
        buf[i] ^= 0x10;
    }
    CHECK(out == HANDLE_SENTINEL);
    CHECK_STATUS(ma_load(buf, need, &out), MA_OK);
    if (out != HANDLE_SENTINEL && out != NULL) ma_destroy(out);
    free(buf);
    ctest_destroy(a);
}

/* The snapshot of `a`, malloc'ed; its length in *len. NULL (and a failed check) on error. */
static unsigned char *save(const ma_allocator *a, size_t *len) {
    if (!CHECK_STATUS(ma_save(a, NULL, 0, len), MA_ERR_BUFFER_TOO_SMALL)) return NULL;
    unsigned char *buf = malloc(*len);
    if (!CHECK(buf != NULL)) return NULL;
    if (!CHECK_STATUS(ma_save(a, buf, *len, len), MA_OK)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Two allocators given the same call: same status, same out-parameter. */
#define SAME(call_a, call_b, out_a, out_b)                                                          \
    do {                                                                                            \
        ma_status sa_ = (call_a), sb_ = (call_b);                                                   \
        CHECK_STATUS(sb_, sa_);                                                                     \
        if (sa_ == MA_OK) CHECK_SIZE((out_b), (out_a));                                             \
    } while (0)

static void round_trip(const ctest_policy *p, uint64_t seed) {
    ctest_case("ma_save then ma_load, then the same calls / %s / seed %llu", p->name, (unsigned long long)seed);
    ma_allocator *a = ctest_create(p->policy, 3000, seed % 3 ? 1 : 8);
    if (!a) return;
    ctest_rng rng;
    ctest_rng_seed(&rng, seed);
    size_t addrs[512], sizes[512], n = 0;
    /* Build a history, then copy the allocator through a snapshot. */
    for (int step = 0; step < 300; step++) {
        if (n < 512 && (n == 0 || ctest_rng_below(&rng, 5) < 3)) {
            size_t size = 1 + ctest_rng_below(&rng, 80);
            size_t at = alloc_tagged(a, size, (size_t)1 << ctest_rng_below(&rng, 4), ctest_rng_below(&rng, 4),
                                     ctest_rng_below(&rng, 5) == 0 ? MA_REQ_PINNED : 0);
            if (at != CTEST_SENTINEL) addrs[n] = at, sizes[n++] = size;
        } else {
            size_t k = ctest_rng_below(&rng, n);
            CHECK_STATUS(ma_free(a, addrs[k], sizes[k]), MA_OK);
            addrs[k] = addrs[--n], sizes[k] = sizes[n];
        }
    }
    size_t len = 0;
    unsigned char *snapshot = save(a, &len);
    ma_allocator *b = NULL;
    if (!snapshot || !CHECK_STATUS(ma_load(snapshot, len, &b), MA_OK)) {
        free(snapshot);
        ctest_destroy(a);
        return;
    }
    ctest_rule rule = ctest_rule_of(a);
    ctest_adopt(b, rule.policy, rule.capacity, rule.min_alignment);
    CHECK_INVARIANTS(b);
    ctest_map ma, mb;
    ctest_map_take(a, &ma);
    ctest_map_take(b, &mb);
    int same_map = ma.len == mb.len;
    for (size_t i = 0; same_map && i < ma.len; i++) {
        same_map = ma.extents[i].start == mb.extents[i].start && ma.extents[i].size == mb.extents[i].size &&
                   ma.extents[i].kind == mb.extents[i].kind;
    }
    CHECK(same_map);
    ctest_map_free(&ma), ctest_map_free(&mb);

    /* The same random calls on both: the same answers, call by call. */
    for (int step = 0; step < 400; step++) {
        size_t out_a = 0, out_b = 0, k;
        switch (ctest_rng_below(&rng, 6)) {
        case 0:
        case 1: {
            size_t size = 1 + ctest_rng_below(&rng, 120);
            ma_status s = ma_alloc(a, size, &out_a);
            CHECK_STATUS(ma_alloc(b, size, &out_b), s);
            if (s == MA_OK && CHECK_SIZE(out_b, out_a) && n < 512) addrs[n] = out_a, sizes[n++] = size;
            break;
        }
        case 2:
            if (n == 0) break;
            k = ctest_rng_below(&rng, n);
            SAME(ma_free(a, addrs[k], sizes[k]), ma_free(b, addrs[k], sizes[k]), out_a, out_b);
            addrs[k] = addrs[--n], sizes[k] = sizes[n];
            break;
        case 3: {
            if (n == 0) break;
            k = ctest_rng_below(&rng, n);
            size_t new_size = 1 + ctest_rng_below(&rng, 150);
            ma_status s = ma_realloc(a, addrs[k], sizes[k], new_size, &out_a);
            CHECK_STATUS(ma_realloc(b, addrs[k], sizes[k], new_size, &out_b), s);
            if (s == MA_OK) {
                CHECK_SIZE(out_b, out_a);
                addrs[k] = out_a, sizes[k] = new_size;
            }
            break;
        }
        case 4: {
            size_t count_a = 0, count_b = 0;
            uint64_t tag = ctest_rng_below(&rng, 4);
            if (ctest_rng_below(&rng, 4) == 0) {
                SAME(ma_free_tagged(a, tag, &count_a), ma_free_tagged(b, tag, &count_b), count_a, count_b);
                n = 0; /* the addresses may be stale: forget them (ma_walk would find the rest) */
            }
            break;
        }
        default: {
            ma_move moves_a[4], moves_b[4];
            size_t count_a = 0, count_b = 0, budget = ctest_rng_below(&rng, 300);
            SAME(ma_compact(a, budget, moves_a, 4, &count_a), ma_compact(b, budget, moves_b, 4, &count_b), count_a,
                 count_b);
            CHECK(count_a == count_b && memcmp(moves_a, moves_b, count_a * sizeof *moves_a) == 0);
            for (size_t m = 0; m < count_a; m++) {
                for (size_t j = 0; j < n; j++) {
                    if (addrs[j] == moves_a[m].from) addrs[j] = moves_a[m].to;
                }
            }
            break;
        }
        }
    }
    /* Same history since the snapshot: byte-identical snapshots. */
    size_t len_a = 0, len_b = 0;
    unsigned char *after_a = save(a, &len_a), *after_b = save(b, &len_b);
    CHECK(after_a && after_b && len_a == len_b && memcmp(after_a, after_b, len_a) == 0);
    free(after_a), free(after_b), free(snapshot);
    ctest_destroy(b);
    ctest_destroy(a);
}

int ma_ctest_snapshots(void) {
    ctest_begin("snapshots");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        tag_errors_and_groups(p);
        compact_errors(p);
        save_errors(p);
        for (uint64_t seed = 1; seed <= 6; seed++) {
            compaction_on_real_bytes(p, seed);
            round_trip(p, seed);
        }
    }
    return ctest_end();
}
