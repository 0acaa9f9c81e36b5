/*
 * support.h: what the C suites share about allocators: the policies under test and the
 * rule of each allocator, memory maps read with ma_walk, snapshots that prove a failed
 * call changed nothing, the invariant check that runs after every step, and the model of
 * every policy that each call can be checked against (ALLOC, FREE_OK, REALLOC, ...).
 */

#ifndef CTEST_SUPPORT_H
#define CTEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ctest.h"
#include "memalloc.h"

/* A placement policy under test. Every suite loops over ctest_policies, all four of
   the policies of docs/CONTRACT.md. What differs between them is read from here or, call by call, from
   the model below (ctest_model), never hard-coded: expected addresses and maps written
   out by hand hold for the policies named in the test (first fit, the reference, and best
   fit where it agrees), every other policy is checked against its rule. */
typedef struct ctest_policy {
    uint32_t policy;     /* an ma_policy value */
    const char *name;    /* as the CLI spells it */
    int exact_sizes;     /* 1 when a footprint is its size (min_alignment 1): no padding */
    int merges_adjacent; /* 1 when free extents are never adjacent; 0 for buddy, which
                            reports its free blocks as they are */
} ctest_policy;

extern const ctest_policy ctest_policies[];
extern const size_t ctest_policy_count;

/* 1 for first fit and best fit: the policies for which the hand-written maps of the
   suites were written (where they differ, the test says which). */
int ctest_is_fit(const ctest_policy *p);

/* An allocator with these options, via ma_create_with; NULL (and a failed check) when
   creation fails. Its options are remembered, so that the invariant check and the model
   know its rule; release it with ctest_destroy. */
ma_allocator *ctest_create(uint32_t policy, size_t capacity, size_t min_alignment);

/* Remembers the options of `a`, made by ma_create or ma_create_with outside ctest_create
   (a handle destroyed with ma_destroy instead of ctest_destroy leaves its entry behind,
   and a new handle may reuse its address: adopting overwrites it). */
void ctest_adopt(const ma_allocator *a, uint32_t policy, size_t capacity, size_t min_alignment);

/* Forgets what ctest_create remembered about `a`, then ma_destroy(a). NULL is a no-op. */
void ctest_destroy(ma_allocator *a);

/* What decides where an allocator puts a block: its policy and options. */
typedef struct ctest_rule {
    uint32_t policy;
    size_t capacity;
    size_t min_alignment;
} ctest_rule;

/* The rule of `a`: as given to ctest_create; for a handle from ma_create, first fit with
   alignment 1 and the capacity its stats report. */
ctest_rule ctest_rule_of(const ma_allocator *a);

/* The units an allocation of `size` occupies under `r` (size rounded up to min_alignment,
   then under buddy to a power of two); 0 when that overflows. */
size_t ctest_footprint(const ctest_rule *r, size_t size);

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
int ctest_check_same(const ma_allocator *a, const ma_allocator *b, const char *file, int line, const char *expr);

/* ma_set_capacity(a, new_capacity); on success the rule of `a` (what the invariant check
   and the model know of it) takes the new capacity. Returns the status. */
ma_status ctest_set_capacity(ma_allocator *a, size_t new_capacity);

/* The map of `a` is exactly the extents listed, e.g.
   CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 80)). */
#define CHECK_MAP(a, ...)                                                                           \
    do {                                                                                            \
        const ctest_extent want_[] = {__VA_ARGS__};                                                 \
        ctest_check_map((a), want_, sizeof want_ / sizeof want_[0], __FILE__, __LINE__,             \
                        #__VA_ARGS__);                                                              \
    } while (0)

/* Every invariant of docs/CONTRACT.md holds, under the rule of `a`: the extents tile [0, capacity)
   with no empty extent; every allocation starts on a multiple of min_alignment and is
   followed by exactly its padding (footprint - size), the only other padding being the
   tail past the capacity rounded down to min_alignment; free extents start and end on
   multiples of min_alignment and are never adjacent, except under buddy, whose free
   extents are powers of two aligned to their size and never a free buddy pair that
   should have merged; no padding at all for the exact-size policies with alignment 1;
   every counter matches the map, capacity == allocated + free + padding, and ma_size_of
   agrees with every allocated extent. */
#define CHECK_INVARIANTS(a) ctest_check_invariants((a), __FILE__, __LINE__)

/* `a` and `b` have the same stats and the same map. */
#define CHECK_SAME(a, b) ctest_check_same((a), (b), __FILE__, __LINE__, #a " and " #b)

/* ma_set_capacity(a, n) succeeds (the rule of `a` follows), and the invariants hold. */
#define SET_CAPACITY_OK(a, n) CHECK_OK((a), ctest_set_capacity((a), (n)))

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

/* ma_alloc(a, size) succeeds at address `want`, which is where the policy's rule puts it
   (checked against the model, with the map after it), and the invariants hold. */
#define CHECK_ALLOC(a, size, want)                                                                  \
    ctest_check_size(ALLOC((a), (size)), (want), __FILE__, __LINE__,                                \
                     "address of ma_alloc(" #a ", " #size ") == " #want)

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

/* ---- The model: each policy's rule, written the naive way -------------------------

   A sorted array of free blocks scanned in full, the live allocations in another, every
   check of docs/CONTRACT.md in its order. With `fp` the footprint and `al` the effective alignment
   (the larger of the requested one and min_alignment):
   - first fit: the lowest al-aligned address where fp units fit in one free block;
   - best fit: the smallest free block that holds fp units at an al-aligned address, ties
     to the lowest address, at that block's lowest al-aligned address;
   - TLSF: docs/CONTRACT.md pins no address down, only "never out of memory while some free block
     can hold the request" and exact sizes: any al-aligned address whose fp units lie in
     one free block is accepted (the library's answer is passed in as `got`), and out of
     memory is expected exactly when there is none;
   - buddy: the lowest-addressed free block of the smallest size that holds fp units and
     starts on a multiple of al, split in halves down to fp (low half kept, upper halves
     freed); a freed block merges with its buddy (start ^ size) while that is one free
     block of its size and the merged block stays inside one top-level block (the
     capacity is covered by top-level blocks of decreasing powers of two from 0).
   Freeing merges with both free neighbours (buddy: with its buddy, as above); realloc
   shrinks in place, grows in place into the free block right after the footprint
   (buddy: only when the footprint already holds the new size), else moves to where the
   policy places the new size while the old block is held, then frees the old one. */

typedef struct ctest_range {
    size_t start;
    size_t size;      /* free blocks: the size; live allocations: the requested size */
    size_t alignment; /* live allocations: the alignment requested (1: none), which a
                         moving ma_realloc keeps; free blocks: 1 */
} ctest_range;

typedef struct ctest_model {
    ctest_rule rule;
    size_t usable;           /* capacity rounded down to min_alignment: the rest is padding */
    ctest_range tops[64];    /* buddy: the top-level blocks */
    size_t n_tops;
    ctest_range *free_blocks; /* sorted by start */
    size_t n_free, cap_free;
    ctest_range *live; /* sorted by start */
    size_t n_live, cap_live;
    int broken; /* host memory ran out: the model is not to be trusted */
} ctest_model;

/* A model of a fresh allocator with rule `r`. Release with ctest_model_release. */
void ctest_model_init(ctest_model *m, const ctest_rule *r);
/* A model of `a` as it is now: its rule, and its free blocks and allocations from its map. */
void ctest_model_of(ctest_model *m, const ma_allocator *a);
void ctest_model_release(ctest_model *m);
void ctest_model_reset(ctest_model *m);

/* The calls, in the model: each returns the status the library must return and, on
   success, writes the out-parameter it must write. `alignment` 0 is ma_alloc; anything
   else ma_alloc_aligned. `got` is the library's answer (used only where the policy may
   choose: TLSF). */
ma_status ctest_model_alloc(ctest_model *m, size_t size, size_t alignment, size_t got, size_t *out);
ma_status ctest_model_free(ctest_model *m, size_t addr, size_t size);
ma_status ctest_model_free_at(ctest_model *m, size_t addr);
ma_status ctest_model_size_of(const ctest_model *m, size_t addr, size_t *out);
ma_status ctest_model_realloc(ctest_model *m, size_t addr, size_t old_size, size_t new_size, size_t got,
                              size_t *out);

/* The map the model says the library must report. Release with ctest_map_free. */
void ctest_model_map(const ctest_model *m, ctest_map *out);

/* The map of `a` is the model's. */
int ctest_check_model(const ma_allocator *a, const ctest_model *m, const char *file, int line, const char *what);

/* ---- Calls checked against the model ----------------------------------------------

   Each runs one call on `a` and the same call on a model of `a` read from its map just
   before: the status and the out-parameter must be the model's (an error leaves the
   out-parameter alone and the state unchanged), the map after must be the model's, and
   the invariants must hold. They return the status; on success *out holds the address. */
ma_status ctest_checked_alloc(ma_allocator *a, size_t size, size_t alignment, size_t *out, const char *file,
                              int line, const char *expr);
ma_status ctest_checked_free(ma_allocator *a, size_t addr, size_t size, const char *file, int line,
                             const char *expr);
ma_status ctest_checked_free_at(ma_allocator *a, size_t addr, const char *file, int line, const char *expr);
ma_status ctest_checked_realloc(ma_allocator *a, size_t addr, size_t old_size, size_t new_size, size_t *out,
                                const char *file, int line, const char *expr);

/* The same, for calls that must succeed: they return the address (CTEST_SENTINEL after a
   failure, which is reported). */
size_t ctest_alloc_ok(ma_allocator *a, size_t size, size_t alignment, const char *file, int line, const char *expr);
size_t ctest_realloc_ok(ma_allocator *a, size_t addr, size_t old_size, size_t new_size, const char *file, int line,
                        const char *expr);

/* ma_alloc(a, size) succeeds where the policy's rule says; evaluates to the address. */
#define ALLOC(a, size) ctest_alloc_ok((a), (size), 0, __FILE__, __LINE__, "ma_alloc(" #a ", " #size ")")

/* ma_alloc_aligned(a, size, alignment) succeeds where the rule says; the address. */
#define ALLOC_ALIGNED(a, size, alignment)                                                           \
    ctest_alloc_ok((a), (size), (alignment), __FILE__, __LINE__,                                    \
                   "ma_alloc_aligned(" #a ", " #size ", " #alignment ")")

/* ma_realloc(a, addr, old_size, new_size) succeeds as the rule says; the new address. */
#define REALLOC(a, addr, old_size, new_size)                                                        \
    ctest_realloc_ok((a), (addr), (old_size), (new_size), __FILE__, __LINE__,                       \
                     "ma_realloc(" #a ", " #addr ", " #old_size ", " #new_size ")")

/* ma_free(a, addr, size) succeeds, and the map is the model's after it. */
#define FREE_OK(a, addr, size)                                                                      \
    ctest_check_status(ctest_checked_free((a), (addr), (size), __FILE__, __LINE__,                  \
                                          "ma_free(" #a ", " #addr ", " #size ")"),                 \
                       MA_OK, __FILE__, __LINE__, "ma_free(" #a ", " #addr ", " #size ") == MA_OK")

/* ma_free_at(a, addr) succeeds, and the map is the model's after it. */
#define FREE_AT_OK(a, addr)                                                                         \
    ctest_check_status(ctest_checked_free_at((a), (addr), __FILE__, __LINE__, "ma_free_at(" #a ", " #addr ")"), \
                       MA_OK, __FILE__, __LINE__, "ma_free_at(" #a ", " #addr ") == MA_OK")

/* ma_alloc(a, size) gives whatever the model says, success or error; the status. */
#define MODEL_ALLOC(a, size, out)                                                                   \
    ctest_checked_alloc((a), (size), 0, (out), __FILE__, __LINE__, "ma_alloc(" #a ", " #size ")")

/* The same for ma_alloc_aligned. */
#define MODEL_ALLOC_ALIGNED(a, size, alignment, out)                                                \
    ctest_checked_alloc((a), (size), (alignment), (out), __FILE__, __LINE__,                        \
                        "ma_alloc_aligned(" #a ", " #size ", " #alignment ")")

/* The same for ma_realloc. */
#define MODEL_REALLOC(a, addr, old_size, new_size, out)                                             \
    ctest_checked_realloc((a), (addr), (old_size), (new_size), (out), __FILE__, __LINE__,           \
                          "ma_realloc(" #a ", " #addr ", " #old_size ", " #new_size ")")

/* An allocator of an exact-size policy (min_alignment 1) whose map is exactly `want`:
   ALLOCATED and FREE extents that tile [0, capacity). It is built without leaving the
   policy any choice, so that TLSF's maps are as pinned down as first fit's: each extent
   is allocated as the whole of the one free block left (from its start to the end), then
   shrunk in place to its size; the FREE ones are freed at the end. NULL for buddy. */
ma_allocator *ctest_create_layout(uint32_t policy, size_t capacity, const ctest_extent *want, size_t n);

/* The map of `a` is the map of a fresh allocator with the same options. */
int ctest_check_initial(const ma_allocator *a, const char *file, int line);
#define CHECK_INITIAL(a) ctest_check_initial((a), __FILE__, __LINE__)

/* stats.largest_free is the largest size ma_alloc grants right now: that size is granted
   (and freed again, which restores the map), one more is not. */
int ctest_check_largest_free(ma_allocator *a, const char *file, int line);
#define CHECK_LARGEST_FREE(a) ctest_check_largest_free((a), __FILE__, __LINE__)

/* A small deterministic random generator (xorshift64*), so that failures replay. */
typedef struct ctest_rng {
    uint64_t state;
} ctest_rng;

void ctest_rng_seed(ctest_rng *r, uint64_t seed);
uint64_t ctest_rng_next(ctest_rng *r);
/* Uniform in [0, n), n > 0. */
size_t ctest_rng_below(ctest_rng *r, size_t n);

#endif /* CTEST_SUPPORT_H */
