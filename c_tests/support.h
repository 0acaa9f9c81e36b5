/*
 * support.h: what the C suites share about allocators: the policies under test, memory
 * maps read with ma_walk, snapshots that prove a failed call changed nothing, and the
 * invariant check that runs after every step.
 */

#ifndef CTEST_SUPPORT_H
#define CTEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ctest.h"
#include "memalloc.h"

/* A placement policy under test. Suites that hold for every policy loop over
   ctest_policies; TLSF and buddy join the list when they land (buddy rounds sizes up and
   reports adjacent free buddies, so cases that assume exact sizes test `exact_sizes`). */
typedef struct ctest_policy {
    uint32_t policy;  /* an ma_policy value */
    const char *name; /* as the CLI spells it */
    int exact_sizes;  /* 1 when a footprint is its size (min_alignment 1): no padding */
} ctest_policy;

extern const ctest_policy ctest_policies[];
extern const size_t ctest_policy_count;

/* An allocator with these options, via ma_create_with; NULL (and a failed check) when
   creation fails. */
ma_allocator *ctest_create(uint32_t policy, size_t capacity, size_t min_alignment);

/* One extent of the memory map, as ma_walk reports it. */
typedef struct ctest_extent {
    size_t start;
    size_t size;
    int kind; /* an ma_block_kind value */
} ctest_extent;

#define ALLOCATED(start, size) {(start), (size), MA_BLOCK_ALLOCATED}
#define FREE(start, size) {(start), (size), MA_BLOCK_FREE}
#define PADDING(start, size) {(start), (size), MA_BLOCK_PADDING}

/* The whole memory map, read with ma_walk. */
typedef struct ctest_map {
    ctest_extent *extents;
    size_t len;
    size_t cap;
} ctest_map;

/* Reads the map of `a` into `m` (which must be released with ctest_map_free); returns
   ma_walk's status. */
ma_status ctest_map_take(const ma_allocator *a, ctest_map *m);
void ctest_map_free(ctest_map *m);

/* Prints extents in the reference notation, e.g. "[Allocated(0-19)] [Free(20-99)]". */
void ctest_print_extents(const ctest_extent *extents, size_t n);

/* The stats and the map of an allocator at one moment. */
typedef struct ctest_snapshot {
    ma_status stats_status;
    ma_stats stats;
    ctest_map map;
} ctest_snapshot;

void ctest_snapshot_take(const ma_allocator *a, ctest_snapshot *s);
void ctest_snapshot_free(ctest_snapshot *s);

/* The checks behind the macros below. */
int ctest_check_map(const ma_allocator *a, const ctest_extent *want, size_t n, const char *file, int line,
                    const char *expr);
int ctest_check_invariants(const ma_allocator *a, const char *file, int line);
int ctest_check_unchanged(const ma_allocator *a, const ctest_snapshot *before, const char *file, int line,
                          const char *expr);
int ctest_check_stats(const ma_allocator *a, const ma_stats *want, const char *file, int line);

/* The map of `a` is exactly the extents listed, e.g.
   CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 80)). */
#define CHECK_MAP(a, ...)                                                                           \
    do {                                                                                            \
        const ctest_extent want_[] = {__VA_ARGS__};                                                 \
        ctest_check_map((a), want_, sizeof want_ / sizeof want_[0], __FILE__, __LINE__,             \
                        #__VA_ARGS__);                                                              \
    } while (0)

/* Every invariant of API.md holds: the extents tile [0, capacity) with no empty extent and
   no two adjacent free ones, padding follows an allocation, every counter matches the
   map, capacity == allocated + free + padding, and ma_size_of agrees with every
   allocated extent. */
#define CHECK_INVARIANTS(a) ctest_check_invariants((a), __FILE__, __LINE__)

/* `call` on `a` succeeds, and the invariants hold afterwards. */
#define CHECK_OK(a, call)                                                                           \
    do {                                                                                            \
        ctest_check_status((call), MA_OK, __FILE__, __LINE__, #call " == MA_OK");                   \
        ctest_check_invariants((a), __FILE__, __LINE__);                                            \
    } while (0)

/* `call` fails with `want` and leaves `a` exactly as it was: same stats, same map. `a` is
   the allocator whose state must not change, also when `call` passes another handle
   (NULL) or none. */
#define CHECK_ERR(a, call, want)                                                                    \
    do {                                                                                            \
        ctest_snapshot before_;                                                                     \
        ctest_snapshot_take((a), &before_);                                                         \
        ctest_check_status((call), (want), __FILE__, __LINE__, #call " == " #want);                 \
        ctest_check_unchanged((a), &before_, __FILE__, __LINE__, #call);                            \
        ctest_snapshot_free(&before_);                                                              \
    } while (0)

/* CHECK_ERR, and the size_t `out` that `call` writes on success still holds
   CTEST_SENTINEL, which it was filled with. */
#define CHECK_ERR_OUT(a, call, want, out)                                                           \
    do {                                                                                            \
        CHECK_ERR((a), call, (want));                                                               \
        ctest_check_size((out), CTEST_SENTINEL, __FILE__, __LINE__, #out " unchanged by " #call);   \
    } while (0)

/* ma_alloc(a, size) succeeds at address `want`, and the invariants hold. */
#define CHECK_ALLOC(a, size, want)                                                                  \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        if (ctest_check_status(ma_alloc((a), (size), &at_), MA_OK, __FILE__, __LINE__,              \
                               "ma_alloc(" #a ", " #size ") == MA_OK")) {                           \
            ctest_check_size(at_, (want), __FILE__, __LINE__,                                       \
                             "address of ma_alloc(" #a ", " #size ") == " #want);                   \
        }                                                                                           \
        ctest_check_invariants((a), __FILE__, __LINE__);                                            \
    } while (0)

/* ma_alloc(a, size) fails with `want`, changes nothing and leaves its out-parameter alone. */
#define CHECK_ALLOC_FAILS(a, size, want)                                                            \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        CHECK_ERR_OUT((a), ma_alloc((a), (size), &at_), (want), at_);                               \
    } while (0)

/* ma_get_stats(a) gives exactly these counters. */
#define CHECK_STATS(a, capacity_, allocated_, free_, largest_free_, free_blocks_, allocations_, padding_) \
    do {                                                                                                  \
        const ma_stats want_ = {.capacity = (capacity_), .allocated = (allocated_), .free = (free_),      \
                                .largest_free = (largest_free_), .free_blocks = (free_blocks_),           \
                                .allocations = (allocations_), .padding = (padding_)};                    \
        ctest_check_stats((a), &want_, __FILE__, __LINE__);                                               \
    } while (0)

/* A small deterministic random generator (xorshift64*), so that failures replay. */
typedef struct ctest_rng {
    uint64_t state;
} ctest_rng;

void ctest_rng_seed(ctest_rng *r, uint64_t seed);
uint64_t ctest_rng_next(ctest_rng *r);
/* Uniform in [0, n), n > 0. */
size_t ctest_rng_below(ctest_rng *r, size_t n);

#endif /* CTEST_SUPPORT_H */
