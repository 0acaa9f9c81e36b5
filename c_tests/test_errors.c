/*
 * test_errors.c: every status code, and the check order of docs/CONTRACT.md for every function
 * ("first failing wins"), shown with arguments that are bad in more than one way. After
 * every error the allocator's stats and whole map are as before, and every out-parameter
 * still holds the sentinel it was filled with; every policy's state is the model's. Also:
 * ma_create, ma_options_init, ma_request_init, ma_status_str and ma_version. The placement
 * calls (ma_alloc_ex, ma_alloc_at, ma_set_capacity) are checked here for their errors;
 * test_placement.c checks where they place.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

/* The values are part of the ABI. */
_Static_assert(MA_OK == 0, "MA_OK");
_Static_assert(MA_ERR_NULL_POINTER == 1, "MA_ERR_NULL_POINTER");
_Static_assert(MA_ERR_INVALID_SIZE == 2, "MA_ERR_INVALID_SIZE");
_Static_assert(MA_ERR_OUT_OF_MEMORY == 3, "MA_ERR_OUT_OF_MEMORY");
_Static_assert(MA_ERR_INVALID_ADDRESS == 4, "MA_ERR_INVALID_ADDRESS");
_Static_assert(MA_ERR_NOT_ALLOCATED == 5, "MA_ERR_NOT_ALLOCATED");
_Static_assert(MA_ERR_SIZE_MISMATCH == 6, "MA_ERR_SIZE_MISMATCH");
_Static_assert(MA_ERR_INVALID_ALIGNMENT == 7, "MA_ERR_INVALID_ALIGNMENT");
_Static_assert(MA_ERR_INVALID_ARGUMENT == 8, "MA_ERR_INVALID_ARGUMENT");
_Static_assert(MA_ERR_INTERNAL == 9, "MA_ERR_INTERNAL");
_Static_assert(MA_ERR_OCCUPIED == 10, "MA_ERR_OCCUPIED");
_Static_assert(MA_ERR_BUFFER_TOO_SMALL == 11, "MA_ERR_BUFFER_TOO_SMALL");
_Static_assert(MA_ERR_BAD_SNAPSHOT == 12, "MA_ERR_BAD_SNAPSHOT");
_Static_assert(MA_REQ_TOP_DOWN == 1 && MA_REQ_PINNED == 2, "request flags");
_Static_assert(sizeof(ma_status) == 4, "ma_status is a 32-bit integer");
_Static_assert((ma_status)-1 < 0, "ma_status is int32_t");
_Static_assert(MA_POLICY_FIRST_FIT == 0 && MA_POLICY_BEST_FIT == 1, "policies");
_Static_assert(MA_POLICY_TLSF == 2 && MA_POLICY_BUDDY == 3, "policies");
_Static_assert(MA_BLOCK_FREE == 0 && MA_BLOCK_ALLOCATED == 1 && MA_BLOCK_PADDING == 2, "block kinds");

/* A pointer value no call should ever write to an ma_allocator ** out-parameter. */
static char handle_sentinel_storage;
#define HANDLE_SENTINEL ((ma_allocator *)(void *)&handle_sentinel_storage)

/* The state the errors are tried on: three live allocations of 20, 25 and 40 units, and
   free space, with their addresses. */
typedef struct example {
    ma_allocator *a;
    size_t capacity;
    size_t x20, x25, x40;     /* the live allocations */
    size_t hole, hole_size;   /* a free extent */
    size_t largest_free;
} example;

/* Exact-size policies: capacity 100 after step 5 of the worked example, built so that
   TLSF too has it exactly:
   [Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)].
   Buddy runs the same steps in 256:
   [Allocated(0-19)] [Padding(20-31)] [Allocated(32-56)] [Padding(57-63)] [Allocated(64-103)]
   [Padding(104-127)] [Free(128-255)]. */
static int example_state(const ctest_policy *p, example *e) {
    if (p->policy == MA_POLICY_BUDDY) {
        e->a = ctest_create(p->policy, 256, 1);
        if (!e->a) return 0;
        e->capacity = 256;
        CHECK_ALLOC(e->a, 20, 0);
        CHECK_ALLOC(e->a, 30, 32);
        CHECK_ALLOC(e->a, 40, 64);
        FREE_OK(e->a, 32, 30);
        CHECK_ALLOC(e->a, 25, 32);
        CHECK_MAP(e->a, ALLOCATED(0, 20), PADDING(20, 12), ALLOCATED(32, 25), PADDING(57, 7), ALLOCATED(64, 40),
                  PADDING(104, 24), FREE(128, 128));
        e->x20 = 0, e->x25 = 32, e->x40 = 64, e->hole = 128, e->hole_size = 128, e->largest_free = 128;
        return 1;
    }
    const ctest_extent layout[] = {ALLOCATED(0, 20), ALLOCATED(20, 25), FREE(45, 5), ALLOCATED(50, 40),
                                   FREE(90, 10)};
    e->a = ctest_create_layout(p->policy, 100, layout, sizeof layout / sizeof layout[0]);
    e->capacity = 100;
    e->x20 = 0, e->x25 = 20, e->x40 = 50, e->hole = 45, e->hole_size = 5, e->largest_free = 10;
    return e->a != NULL;
}

/* The codes ma_status_str knows: MA_OK to MA_ERR_BAD_SNAPSHOT. */
#define KNOWN_CODES (MA_ERR_BAD_SNAPSHOT + 1)

static void status_texts(void) {
    ctest_case("ma_status_str");
    const char *known[KNOWN_CODES];
    for (ma_status s = 0; s < KNOWN_CODES; s++) {
        known[s] = ma_status_str(s);
        CHECK(known[s] != NULL);
        if (known[s]) CHECK(strlen(known[s]) > 0);
        CHECK(strcmp(ctest_status_name(s), "unknown") != 0);
    }
    for (int i = 0; i < KNOWN_CODES; i++) {
        for (int j = i + 1; j < KNOWN_CODES; j++) {
            if (known[i] && known[j] && !ctest_record(strcmp(known[i], known[j]) != 0, __FILE__, __LINE__,
                                                       "distinct texts for distinct codes", NULL)) {
                printf("    codes %d and %d: \"%s\"\n", i, j, known[i]);
            }
        }
    }
    const ma_status unknown[] = {13, 14, 100, 12345, -1, -9, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *text = ma_status_str(unknown[i]);
        ctest_case("ma_status_str(%d)", (int)unknown[i]);
        CHECK(text != NULL);
        if (!text) continue;
        CHECK(strlen(text) > 0);
        for (int j = 0; j < KNOWN_CODES; j++) {
            if (known[j]) CHECK(strcmp(text, known[j]) != 0); /* never mistaken for a known code */
        }
    }
    ctest_case("ma_status_str is static");
    CHECK(ma_status_str(MA_ERR_OUT_OF_MEMORY) == ma_status_str(MA_ERR_OUT_OF_MEMORY));
    CHECK(ma_status_str(MA_ERR_OCCUPIED) == ma_status_str(MA_ERR_OCCUPIED));
}

static void version(void) {
    ctest_case("ma_version");
    const char *v = ma_version();
    CHECK(v != NULL);
    CHECK_STR(v, MA_VERSION_STRING);
    char from_macros[64];
    snprintf(from_macros, sizeof from_macros, "%d.%d.%d", MA_VERSION_MAJOR, MA_VERSION_MINOR, MA_VERSION_PATCH);
    CHECK_STR(v, from_macros);
    CHECK_STR(MA_VERSION_STRING, from_macros);
    CHECK(ma_version() == v);
}

static void create(void) {
    ctest_case("ma_create");
    CHECK(ma_create(0) == NULL);
    ma_allocator *a = ma_create(1);
    CHECK(a != NULL);
    ma_destroy(a);
    ma_destroy(NULL); /* a no-op */

    ctest_case("ma_options_init");
    ma_options_init(NULL); /* a no-op */
    ma_options opts;
    memset(&opts, 0xA5, sizeof opts);
    ma_options_init(&opts);
    CHECK_SIZE(opts.struct_size, sizeof(ma_options));
    CHECK_SIZE(opts.capacity, 0);
    CHECK(opts.policy == MA_POLICY_FIRST_FIT);
    CHECK_SIZE(opts.min_alignment, 1);

    ctest_case("ma_request_init");
    ma_request_init(NULL, 5); /* a no-op */
    ma_request r;
    memset(&r, 0xA5, sizeof r);
    ma_request_init(&r, 42);
    CHECK_SIZE(r.struct_size, sizeof(ma_request));
    CHECK_SIZE(r.size, 42);
    CHECK_SIZE(r.alignment, 1);
    CHECK_SIZE(r.lo, 0);
    CHECK_SIZE(r.hi, SIZE_MAX);
    CHECK(r.flags == 0);
    CHECK(r.tag == 0);
    ma_request_init(&r, 0);
    CHECK_SIZE(r.size, 0);
}

/* ma_create_with(opts, &out) fails with `want` and leaves `out` alone. */
#define CHECK_CREATE_FAILS(opts, want)                                                              \
    do {                                                                                            \
        ma_allocator *out_ = HANDLE_SENTINEL;                                                       \
        CHECK_STATUS(ma_create_with((opts), &out_), (want));                                        \
        CHECK(out_ == HANDLE_SENTINEL);                                                             \
    } while (0)

static ma_options valid_options(void) {
    ma_options opts;
    ma_options_init(&opts);
    opts.capacity = 100;
    return opts;
}

static void create_with(void) {
    ctest_case("ma_create_with: NULL first");
    ma_options opts = valid_options();
    ma_allocator *out = HANDLE_SENTINEL;
    CHECK_STATUS(ma_create_with(NULL, &out), MA_ERR_NULL_POINTER);
    CHECK(out == HANDLE_SENTINEL);
    CHECK_STATUS(ma_create_with(&opts, NULL), MA_ERR_NULL_POINTER);
    CHECK_STATUS(ma_create_with(NULL, NULL), MA_ERR_NULL_POINTER);
    ma_options worst;
    ma_options_init(&worst);
    worst.struct_size = 0;
    worst.capacity = 0;
    worst.policy = UINT32_MAX;
    worst.min_alignment = 0;
    CHECK_STATUS(ma_create_with(&worst, NULL), MA_ERR_NULL_POINTER); /* NULL beats every bad field */

    ctest_case("ma_create_with: struct_size");
    opts = valid_options();
    opts.struct_size = 0;
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    opts.min_alignment = 0; /* struct_size is checked before min_alignment */
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    const size_t too_small[] = {1, offsetof(ma_options, min_alignment), sizeof(ma_options) - 1};
    for (size_t i = 0; i < sizeof too_small / sizeof too_small[0]; i++) {
        ctest_case("ma_create_with: struct_size %zu", too_small[i]);
        opts = valid_options();
        opts.struct_size = too_small[i];
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
        opts.min_alignment = 3;
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    }

    ctest_case("ma_create_with: capacity 0");
    opts = valid_options();
    opts.capacity = 0;
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    opts.min_alignment = 3; /* capacity is checked before min_alignment */
    CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);

    /* 0 to 3 are the policies, created above for every min_alignment. */
    const uint32_t unknown_policies[] = {4, 5, 100, 0x80000000u, UINT32_MAX, (uint32_t)-1, (uint32_t)-4};
    for (size_t i = 0; i < sizeof unknown_policies / sizeof unknown_policies[0]; i++) {
        ctest_case("ma_create_with: policy %u", (unsigned)unknown_policies[i]);
        opts = valid_options();
        opts.policy = unknown_policies[i];
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
        opts.min_alignment = 0; /* policy is checked before min_alignment */
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ARGUMENT);
    }

    const size_t bad_alignments[] = {0, 3, 6, 12, 100, SIZE_MAX, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad_alignments / sizeof bad_alignments[0]; i++) {
        ctest_case("ma_create_with: min_alignment %zu", bad_alignments[i]);
        opts = valid_options();
        opts.min_alignment = bad_alignments[i];
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ALIGNMENT);
        opts.policy = MA_POLICY_BEST_FIT;
        CHECK_CREATE_FAILS(&opts, MA_ERR_INVALID_ALIGNMENT);
    }

    const size_t good_alignments[] = {1, 2, 64, 4096, SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof good_alignments / sizeof good_alignments[0]; i++) {
        for (size_t j = 0; j < ctest_policy_count; j++) {
            ctest_case("ma_create_with: min_alignment %zu / %s", good_alignments[i], ctest_policies[j].name);
            opts = valid_options();
            opts.policy = ctest_policies[j].policy;
            opts.min_alignment = good_alignments[i];
            out = HANDLE_SENTINEL;
            CHECK_STATUS(ma_create_with(&opts, &out), MA_OK);
            CHECK(out != HANDLE_SENTINEL && out != NULL);
            if (out != HANDLE_SENTINEL && out != NULL) {
                ctest_adopt(out, opts.policy, opts.capacity, opts.min_alignment);
                CHECK_INVARIANTS(out);
                CHECK_INITIAL(out);
                ctest_destroy(out);
            }
        }
    }

    ctest_case("ma_create_with: a larger struct from a newer caller");
    struct {
        ma_options opts;
        size_t future_field;
    } newer;
    memset(&newer, 0, sizeof newer);
    ma_options_init(&newer.opts);
    newer.opts.capacity = 100;
    newer.opts.struct_size = sizeof newer;
    out = HANDLE_SENTINEL;
    CHECK_STATUS(ma_create_with(&newer.opts, &out), MA_OK);
    if (out != HANDLE_SENTINEL && out != NULL) ma_destroy(out);
}

static void alloc_errors(const ctest_policy *p) {
    ctest_case("ma_alloc errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    size_t out = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_alloc(NULL, 5, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_alloc(a, 5, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_alloc(a, 0, NULL), MA_ERR_NULL_POINTER);        /* NULL beats size 0 */
    CHECK_ERR(a, ma_alloc(a, SIZE_MAX, NULL), MA_ERR_NULL_POINTER); /* NULL beats out of memory */
    CHECK_ERR(a, ma_alloc(NULL, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_alloc(a, 0, &out), MA_ERR_INVALID_SIZE, out);
    /* Exact sizes: 15 free, but in holes of 5 and 10. Buddy: one free 128-unit block. */
    CHECK_ERR_OUT(a, ma_alloc(a, e.largest_free + 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc(a, e.capacity, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc(a, e.capacity + 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc(a, SIZE_MAX, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_LARGEST_FREE(a);
    ctest_destroy(a);
}

static void alloc_aligned_errors(const ctest_policy *p) {
    ctest_case("ma_alloc_aligned errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    size_t out = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_alloc_aligned(NULL, 5, 1, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_alloc_aligned(a, 5, 1, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_alloc_aligned(a, 5, 3, NULL), MA_ERR_NULL_POINTER); /* NULL beats alignment */
    CHECK_ERR(a, ma_alloc_aligned(NULL, 0, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 0, 0, &out), MA_ERR_INVALID_ALIGNMENT, out); /* alignment beats size 0 */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 0, 3, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, 0, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, 6, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, SIZE_MAX, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, SIZE_MAX / 2 + 2, &out), MA_ERR_INVALID_ALIGNMENT, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 1000, 3, &out), MA_ERR_INVALID_ALIGNMENT, out); /* beats out of memory */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 0, 8, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, e.largest_free + 1, 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    if (p->exact_sizes) {
        CHECK_ERR_OUT(a, ma_alloc_aligned(a, 5, 16, &out), MA_ERR_OUT_OF_MEMORY, out); /* 45-49 is free, but 48 + 5 > 50 */
    }
    /* Address 0 is the only multiple of 128 (256 for buddy) below the capacity: taken. */
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 1, e.capacity == 100 ? 128 : 256, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, 1, SIZE_MAX / 2 + 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_alloc_aligned(a, SIZE_MAX, 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    ctest_destroy(a);
}

static void free_errors(const ctest_policy *p) {
    ctest_case("ma_free errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    const size_t cap = e.capacity;
    /* NULL handle: beats everything. */
    CHECK_ERR(a, ma_free(NULL, e.x20, 20), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free(NULL, 1000, 0), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free(NULL, SIZE_MAX, SIZE_MAX), MA_ERR_NULL_POINTER);
    /* addr >= capacity: beats size 0 and overflow. */
    CHECK_ERR(a, ma_free(a, cap, 1), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, cap, 0), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, 10 * cap, 20), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, SIZE_MAX, SIZE_MAX), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free(a, SIZE_MAX, 0), MA_ERR_INVALID_ADDRESS);
    /* size 0: beats "not allocated" and "size mismatch". */
    CHECK_ERR(a, ma_free(a, e.x20, 0), MA_ERR_INVALID_SIZE); /* live */
    CHECK_ERR(a, ma_free(a, e.hole, 0), MA_ERR_INVALID_SIZE); /* free */
    CHECK_ERR(a, ma_free(a, cap - 1, 0), MA_ERR_INVALID_SIZE);
    /* addr + size past the capacity, or overflowing: beats the same two. */
    CHECK_ERR(a, ma_free(a, 1, SIZE_MAX), MA_ERR_INVALID_SIZE);     /* overflows */
    CHECK_ERR(a, ma_free(a, e.x40, SIZE_MAX), MA_ERR_INVALID_SIZE); /* overflows; live */
    CHECK_ERR(a, ma_free(a, 0, SIZE_MAX), MA_ERR_INVALID_SIZE);     /* no overflow, but past the end */
    CHECK_ERR(a, ma_free(a, e.x40, cap - e.x40 + 1), MA_ERR_INVALID_SIZE); /* one past; live with 40 */
    CHECK_ERR(a, ma_free(a, cap - 1, 2), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_free(a, cap - 5, 10), MA_ERR_INVALID_SIZE); /* free */
    CHECK_ERR(a, ma_free(a, 0, cap + 1), MA_ERR_INVALID_SIZE);
    /* No live allocation starts there. */
    CHECK_ERR(a, ma_free(a, e.x20 + 5, 10), MA_ERR_NOT_ALLOCATED);  /* interior */
    CHECK_ERR(a, ma_free(a, e.x20 + 5, 15), MA_ERR_NOT_ALLOCATED);  /* interior, ending where the block ends */
    CHECK_ERR(a, ma_free(a, e.x25 + 1, 24), MA_ERR_NOT_ALLOCATED);  /* interior */
    CHECK_ERR(a, ma_free(a, e.hole, e.hole_size), MA_ERR_NOT_ALLOCATED); /* a free extent, exactly */
    CHECK_ERR(a, ma_free(a, cap - 10, 10), MA_ERR_NOT_ALLOCATED);   /* the free tail */
    CHECK_ERR(a, ma_free(a, cap - 1, 1), MA_ERR_NOT_ALLOCATED);     /* the last unit, free */
    /* A live allocation starts there, with another size. */
    CHECK_ERR(a, ma_free(a, e.x20, 19), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, e.x20, 21), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, e.x20, e.x25 + 25), MA_ERR_SIZE_MISMATCH); /* two blocks at once */
    CHECK_ERR(a, ma_free(a, e.x20, cap), MA_ERR_SIZE_MISMATCH);
    CHECK_ERR(a, ma_free(a, e.x40, cap - e.x40), MA_ERR_SIZE_MISMATCH); /* ends exactly at the capacity */
    CHECK_ERR(a, ma_free(a, e.x25, 30), MA_ERR_SIZE_MISMATCH);          /* the size it had before step 4 */
    if (!p->exact_sizes) {
        CHECK_ERR(a, ma_free(a, e.x20 + 20, 12), MA_ERR_NOT_ALLOCATED); /* its padding */
        CHECK_ERR(a, ma_free(a, e.x20, 32), MA_ERR_SIZE_MISMATCH);      /* the footprint is not the size */
    }
    /* Double free. */
    FREE_OK(a, e.x25, 25);
    CHECK_ERR(a, ma_free(a, e.x25, 25), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free(a, e.x20, 20 + 25), MA_ERR_SIZE_MISMATCH);
    if (p->exact_sizes) CHECK_MAP(a, ALLOCATED(0, 20), FREE(20, 30), ALLOCATED(50, 40), FREE(90, 10));
    ctest_destroy(a);
}

static void free_at_and_size_of_errors(const ctest_policy *p) {
    ctest_case("ma_free_at errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    CHECK_ERR(a, ma_free_at(NULL, e.x20), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free_at(NULL, SIZE_MAX), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_free_at(a, e.capacity), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free_at(a, SIZE_MAX), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_free_at(a, e.x20 + 5), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free_at(a, e.hole), MA_ERR_NOT_ALLOCATED);
    CHECK_ERR(a, ma_free_at(a, e.capacity - 1), MA_ERR_NOT_ALLOCATED);
    FREE_AT_OK(a, e.x40);
    CHECK_ERR(a, ma_free_at(a, e.x40), MA_ERR_NOT_ALLOCATED); /* double free */

    ctest_case("ma_size_of errors / %s", p->name);
    size_t out = CTEST_SENTINEL;
    CHECK_ERR_OUT(a, ma_size_of(NULL, e.x20, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_size_of(a, e.x20, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_size_of(a, 1000, NULL), MA_ERR_NULL_POINTER); /* NULL beats the address */
    CHECK_ERR(a, ma_size_of(NULL, 1000, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_size_of(a, e.capacity, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_size_of(a, SIZE_MAX, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_size_of(a, e.x20 + 5, &out), MA_ERR_NOT_ALLOCATED, out);
    CHECK_ERR_OUT(a, ma_size_of(a, e.x40, &out), MA_ERR_NOT_ALLOCATED, out); /* freed above */
    CHECK_ERR_OUT(a, ma_size_of(a, e.capacity - 1, &out), MA_ERR_NOT_ALLOCATED, out);
    CHECK_STATUS(ma_size_of(a, e.x25, &out), MA_OK);
    CHECK_SIZE(out, 25);
    ctest_destroy(a);
}

static void realloc_errors(const ctest_policy *p) {
    ctest_case("ma_realloc errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    const size_t cap = e.capacity;
    size_t out = CTEST_SENTINEL;
    /* NULL handle or out-pointer: beats everything. */
    CHECK_ERR_OUT(a, ma_realloc(NULL, e.x20, 20, 30, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_realloc(a, e.x20, 20, 10, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_realloc(a, 1000, 0, 0, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_realloc(NULL, 1000, 0, 0, NULL), MA_ERR_NULL_POINTER);
    /* (addr, old_size) as ma_free checks them, in the same order. */
    CHECK_ERR_OUT(a, ma_realloc(a, cap, 20, 30, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_realloc(a, cap, 0, 0, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_realloc(a, SIZE_MAX, SIZE_MAX, 0, &out), MA_ERR_INVALID_ADDRESS, out);
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 0, 10, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 0, 0, &out), MA_ERR_INVALID_SIZE, out);
    CHECK_ERR_OUT(a, ma_realloc(a, 1, SIZE_MAX, 10, &out), MA_ERR_INVALID_SIZE, out);               /* overflows */
    CHECK_ERR_OUT(a, ma_realloc(a, e.x40, cap - e.x40 + 1, 10, &out), MA_ERR_INVALID_SIZE, out);    /* past the end */
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20 + 5, 10, 0, &out), MA_ERR_NOT_ALLOCATED, out);             /* beats new_size 0 */
    CHECK_ERR_OUT(a, ma_realloc(a, e.hole, e.hole_size, 10, &out), MA_ERR_NOT_ALLOCATED, out);
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 19, 0, &out), MA_ERR_SIZE_MISMATCH, out); /* beats new_size 0 */
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 21, 20, &out), MA_ERR_SIZE_MISMATCH, out);
    /* Then new_size 0, then out of memory (the old allocation stays). */
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 20, 0, &out), MA_ERR_INVALID_SIZE, out);
    /* Exact sizes: 25 follows, and 31 fits in no hole. Buddy: 129 needs a 256-unit block. */
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 20, p->exact_sizes ? 31 : 129, &out), MA_ERR_OUT_OF_MEMORY, out);
    if (p->exact_sizes) {
        CHECK_ERR_OUT(a, ma_realloc(a, 50, 40, 51, &out), MA_ERR_OUT_OF_MEMORY, out); /* 90-99 holds only 10 more */
    }
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 20, cap + 1, &out), MA_ERR_OUT_OF_MEMORY, out);
    CHECK_ERR_OUT(a, ma_realloc(a, e.x20, 20, SIZE_MAX, &out), MA_ERR_OUT_OF_MEMORY, out);
    ctest_destroy(a);
}

/* A request for `size` units with the defaults of ma_request_init. */
static ma_request request_of(size_t size) {
    ma_request r;
    ma_request_init(&r, size);
    return r;
}

/* Whether two requests hold the same fields (not memcmp: the struct has padding, whose
   bytes are never defined). */
static int same_request(const ma_request *x, const ma_request *y) {
    return x->struct_size == y->struct_size && x->size == y->size && x->alignment == y->alignment &&
           x->lo == y->lo && x->hi == y->hi && x->flags == y->flags && x->tag == y->tag;
}

/* ma_alloc_ex(a, r, &out) fails with `want`, changes nothing, and leaves `out` and the
   request alone. */
#define CHECK_EX_FAILS(a, r, want)                                                                  \
    do {                                                                                            \
        size_t at_ = CTEST_SENTINEL;                                                                \
        ma_request copy_;                                                                           \
        memcpy(&copy_, (r), sizeof copy_);                                                          \
        CHECK_ERR_OUT((a), ma_alloc_ex((a), (r), &at_), (want), at_);                               \
        CHECK(same_request(&copy_, (r)));                                                           \
    } while (0)

static void alloc_ex_errors(const ctest_policy *p) {
    ctest_case("ma_alloc_ex errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    const size_t cap = e.capacity;
    size_t out = CTEST_SENTINEL;
    ma_request r = request_of(5);
    /* A NULL handle, request or out-pointer beats every bad field. */
    CHECK_ERR_OUT(a, ma_alloc_ex(NULL, &r, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR_OUT(a, ma_alloc_ex(a, NULL, &out), MA_ERR_NULL_POINTER, out);
    CHECK_ERR(a, ma_alloc_ex(a, &r, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_alloc_ex(NULL, NULL, NULL), MA_ERR_NULL_POINTER);
    ma_request worst = request_of(0);
    worst.struct_size = 0;
    worst.flags = UINT32_MAX;
    worst.alignment = 0;
    worst.lo = 10;
    worst.hi = 5;
    CHECK_ERR(a, ma_alloc_ex(a, &worst, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR_OUT(a, ma_alloc_ex(NULL, &worst, &out), MA_ERR_NULL_POINTER, out);

    /* struct_size smaller than this version's: beats the flags and every other field. */
    const size_t too_small[] = {0, 1, offsetof(ma_request, flags), offsetof(ma_request, tag), sizeof(ma_request) - 1};
    for (size_t i = 0; i < sizeof too_small / sizeof too_small[0]; i++) {
        ctest_case("ma_alloc_ex errors / %s / struct_size %zu", p->name, too_small[i]);
        r = request_of(5);
        r.struct_size = too_small[i];
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
        worst.struct_size = too_small[i];
        CHECK_EX_FAILS(a, &worst, MA_ERR_INVALID_ARGUMENT);
    }

    /* A flag bit not defined: each of bits 2 to 31, alone or with the defined ones; beats
       the alignment, the size and the range. */
    for (unsigned bit = 2; bit < 32; bit++) {
        ctest_case("ma_alloc_ex errors / %s / flag bit %u", p->name, bit);
        r = request_of(5);
        r.flags = (uint32_t)1 << bit;
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
        r.flags |= MA_REQ_TOP_DOWN | MA_REQ_PINNED;
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
        r.alignment = 3;
        r.size = 0;
        r.lo = r.hi = 7;
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
    }
    ctest_case("ma_alloc_ex errors / %s / flags", p->name);
    r = request_of(5);
    r.flags = UINT32_MAX;
    CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
    r.flags = ~(uint32_t)(MA_REQ_TOP_DOWN | MA_REQ_PINNED);
    CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);

    /* The alignment 0 or not a power of two: beats size 0 and an empty range. */
    const size_t bad_alignments[] = {0, 3, 6, 12, SIZE_MAX, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad_alignments / sizeof bad_alignments[0]; i++) {
        ctest_case("ma_alloc_ex errors / %s / alignment %zu", p->name, bad_alignments[i]);
        r = request_of(5);
        r.alignment = bad_alignments[i];
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ALIGNMENT);
        r.size = 0;
        r.lo = r.hi = 3;
        r.flags = MA_REQ_TOP_DOWN | MA_REQ_PINNED;
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ALIGNMENT);
    }

    /* Size 0: beats an empty range. */
    ctest_case("ma_alloc_ex errors / %s / size 0", p->name);
    r = request_of(0);
    CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_SIZE);
    r.lo = 10;
    r.hi = 5;
    CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_SIZE);
    r.lo = cap;
    r.hi = SIZE_MAX;
    r.alignment = 64;
    CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_SIZE);

    /* lo >= min(hi, capacity): beats out of memory. */
    const size_t ranges[][2] = {{5, 5},   {10, 5},     {0, 0}, {cap, SIZE_MAX}, {cap, cap + 1}, {cap - 1, cap - 1},
                                {SIZE_MAX, SIZE_MAX}, {cap + 10, 3}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        ctest_case("ma_alloc_ex errors / %s / range [%zu, %zu)", p->name, ranges[i][0], ranges[i][1]);
        r = request_of(SIZE_MAX);
        r.lo = ranges[i][0];
        r.hi = ranges[i][1];
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
        r.size = 1;
        r.flags = MA_REQ_TOP_DOWN;
        r.alignment = 1024;
        CHECK_EX_FAILS(a, &r, MA_ERR_INVALID_ARGUMENT);
    }

    /* Then no fit inside the range: out of memory, bottom-up and top-down. */
    ctest_case("ma_alloc_ex errors / %s / out of memory", p->name);
    for (uint32_t flags = 0; flags <= MA_REQ_TOP_DOWN; flags++) {
        r = request_of(e.largest_free + 1);
        r.flags = flags;
        CHECK_EX_FAILS(a, &r, MA_ERR_OUT_OF_MEMORY);
        r.size = SIZE_MAX;
        CHECK_EX_FAILS(a, &r, MA_ERR_OUT_OF_MEMORY);
        r = request_of(1); /* [0, hole) is all allocations and padding */
        r.flags = flags | MA_REQ_PINNED;
        r.hi = e.hole;
        CHECK_EX_FAILS(a, &r, MA_ERR_OUT_OF_MEMORY);
        r = request_of(1); /* no multiple of 128 (256) in [1, capacity) */
        r.flags = flags;
        r.lo = 1;
        r.alignment = cap == 100 ? 128 : 256;
        CHECK_EX_FAILS(a, &r, MA_ERR_OUT_OF_MEMORY);
        if (p->exact_sizes) { /* 5 units of each hole in [40, 95) */
            r = request_of(6);
            r.flags = flags;
            r.lo = 40;
            r.hi = 95;
            CHECK_EX_FAILS(a, &r, MA_ERR_OUT_OF_MEMORY);
        }
    }
    CHECK_LARGEST_FREE(a);
    ctest_destroy(a);
}

static void alloc_at_errors(const ctest_policy *p) {
    ctest_case("ma_alloc_at errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    const size_t cap = e.capacity;
    /* A NULL handle beats everything. */
    CHECK_ERR(a, ma_alloc_at(NULL, e.hole, 1), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_alloc_at(NULL, SIZE_MAX, 0), MA_ERR_NULL_POINTER);
    /* addr >= capacity: beats size 0 and overflow. */
    CHECK_ERR(a, ma_alloc_at(a, cap, 1), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_alloc_at(a, cap, 0), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_alloc_at(a, 10 * cap, 5), MA_ERR_INVALID_ADDRESS);
    CHECK_ERR(a, ma_alloc_at(a, SIZE_MAX, SIZE_MAX), MA_ERR_INVALID_ADDRESS);
    /* Size 0, past the capacity or overflowing: beats misalignment and occupancy. */
    CHECK_ERR(a, ma_alloc_at(a, e.x20, 0), MA_ERR_INVALID_SIZE); /* live */
    CHECK_ERR(a, ma_alloc_at(a, e.hole, 0), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_alloc_at(a, e.x20 + 1, 0), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_alloc_at(a, cap - 1, 2), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_alloc_at(a, 1, SIZE_MAX), MA_ERR_INVALID_SIZE);     /* overflows */
    CHECK_ERR(a, ma_alloc_at(a, e.x40, SIZE_MAX), MA_ERR_INVALID_SIZE); /* overflows; live */
    CHECK_ERR(a, ma_alloc_at(a, 0, cap + 1), MA_ERR_INVALID_SIZE);
    CHECK_ERR(a, ma_alloc_at(a, e.hole, cap - e.hole + 1), MA_ERR_INVALID_SIZE);
    if (p->policy == MA_POLICY_BUDDY) {
        /* Not on a multiple of the footprint: beats occupancy, in free space too. */
        CHECK_ERR(a, ma_alloc_at(a, e.x20 + 2, 4), MA_ERR_INVALID_ALIGNMENT);
        CHECK_ERR(a, ma_alloc_at(a, e.x25 + 8, 9), MA_ERR_INVALID_ALIGNMENT);
        CHECK_ERR(a, ma_alloc_at(a, e.hole + 8, 16), MA_ERR_INVALID_ALIGNMENT);
        CHECK_ERR(a, ma_alloc_at(a, e.hole + 32, 64), MA_ERR_INVALID_ALIGNMENT);
    }
    /* Some unit of the footprint is not free: a live allocation, its inside, its padding. */
    CHECK_ERR(a, ma_alloc_at(a, e.x20, 1), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, e.x20, 20), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, e.x25, 25), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, e.x20 + 4, 4), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, 0, cap), MA_ERR_OCCUPIED);
    if (p->exact_sizes) {
        /* Partly free: over either end of the hole at 45-49, or around it. */
        CHECK_ERR(a, ma_alloc_at(a, 44, 2), MA_ERR_OCCUPIED);
        CHECK_ERR(a, ma_alloc_at(a, 45, 6), MA_ERR_OCCUPIED);
        CHECK_ERR(a, ma_alloc_at(a, 40, 20), MA_ERR_OCCUPIED);
        CHECK_ERR(a, ma_alloc_at(a, 89, 11), MA_ERR_OCCUPIED);
    } else {
        CHECK_ERR(a, ma_alloc_at(a, 16, 16), MA_ERR_OCCUPIED); /* allocation 16-19, padding 20-31 */
        CHECK_ERR(a, ma_alloc_at(a, 24, 8), MA_ERR_OCCUPIED);  /* padding only */
        CHECK_ERR(a, ma_alloc_at(a, 0, 128), MA_ERR_OCCUPIED);
        CHECK_ERR(a, ma_alloc_at(a, 0, 129), MA_ERR_OCCUPIED); /* 256 units: the free half too */
    }
    ctest_destroy(a);

    /* min_alignment 8 over 100 units: 96 usable, the last 4 padding for good. */
    ctest_case("ma_alloc_at errors, min_alignment 8 / %s", p->name);
    a = ctest_create(p->policy, 100, 8);
    if (!a) return;
    CHECK_OK(a, ma_alloc_at(a, 8, 3));
    CHECK_ERR(a, ma_alloc_at(a, 4, 4), MA_ERR_INVALID_ALIGNMENT);
    CHECK_ERR(a, ma_alloc_at(a, 11, 1), MA_ERR_INVALID_ALIGNMENT); /* beats occupancy: 11 is padding */
    CHECK_ERR(a, ma_alloc_at(a, 99, 1), MA_ERR_INVALID_ALIGNMENT);
    CHECK_ERR(a, ma_alloc_at(a, 8, 1), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, 0, 9), MA_ERR_OCCUPIED); /* footprint 16 */
    CHECK_ERR(a, ma_alloc_at(a, 96, 4), MA_ERR_OCCUPIED); /* inside the capacity, past the usable range */
    CHECK_ERR(a, ma_alloc_at(a, 96, 5), MA_ERR_INVALID_SIZE);
    /* Footprint 16 (buddy: not on a multiple of it): 88-103. */
    CHECK_ERR(a, ma_alloc_at(a, 88, 9), p->policy == MA_POLICY_BUDDY ? MA_ERR_INVALID_ALIGNMENT : MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_alloc_at(a, 64, 33), MA_ERR_OCCUPIED); /* footprint 40 (buddy: 64): past 96 */
    CHECK_OK(a, ma_alloc_at(a, 88, 8));
    ctest_destroy(a);
}

static void set_capacity_errors(const ctest_policy *p) {
    ctest_case("ma_set_capacity errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    /* The end of the last footprint: 50 + 40 (buddy: 64 + 64). */
    const size_t end = p->exact_sizes ? 90 : 128;
    CHECK_ERR(a, ma_set_capacity(NULL, 1000), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_set_capacity(NULL, 0), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_set_capacity(a, 0), MA_ERR_INVALID_ARGUMENT);
    CHECK_ERR(a, ma_set_capacity(a, 1), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_set_capacity(a, e.x40), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_set_capacity(a, e.x40 + 1), MA_ERR_OCCUPIED);
    CHECK_ERR(a, ma_set_capacity(a, end - 1), MA_ERR_OCCUPIED);
    SET_CAPACITY_OK(a, end);
    CHECK_ERR(a, ma_set_capacity(a, 0), MA_ERR_INVALID_ARGUMENT);
    CHECK_ERR(a, ma_set_capacity(a, end - 1), MA_ERR_OCCUPIED);
    CHECK_ALLOC_FAILS(a, e.hole_size + 1, MA_ERR_OUT_OF_MEMORY); /* the free tail is gone */
    SET_CAPACITY_OK(a, SIZE_MAX);
    CHECK_LARGEST_FREE(a);
    ctest_destroy(a);
}

static int count_calls(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    (void)start;
    (void)size;
    (void)kind;
    ++*(int *)ctx;
    return 0;
}

static void other_errors(const ctest_policy *p) {
    ctest_case("ma_reset, ma_get_stats, ma_walk errors / %s", p->name);
    example e;
    if (!example_state(p, &e)) return;
    ma_allocator *a = e.a;
    CHECK_ERR(a, ma_reset(NULL), MA_ERR_NULL_POINTER);

    ma_stats stats, untouched;
    memset(&stats, 0xA5, sizeof stats);
    memcpy(&untouched, &stats, sizeof stats);
    CHECK_ERR(a, ma_get_stats(NULL, &stats), MA_ERR_NULL_POINTER);
    CHECK(memcmp(&stats, &untouched, sizeof stats) == 0);
    CHECK_ERR(a, ma_get_stats(a, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_get_stats(NULL, NULL), MA_ERR_NULL_POINTER);

    int calls = 0;
    CHECK_ERR(a, ma_walk(NULL, count_calls, &calls), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_walk(a, NULL, &calls), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_walk(a, NULL, NULL), MA_ERR_NULL_POINTER);
    CHECK_ERR(a, ma_walk(NULL, NULL, NULL), MA_ERR_NULL_POINTER);
    CHECK(calls == 0);
    CHECK_STATUS(ma_walk(a, count_calls, &calls), MA_OK);
    ctest_map m;
    CHECK_STATUS(ctest_map_take(a, &m), MA_OK);
    CHECK_SIZE(calls, m.len);
    CHECK_SIZE(m.len, p->exact_sizes ? 5 : 7);
    ctest_map_free(&m);
    ctest_destroy(a);
}

int ma_ctest_errors(void) {
    ctest_begin("errors");
    status_texts();
    version();
    create();
    create_with();
    for (size_t i = 0; i < ctest_policy_count; i++) {
        const ctest_policy *p = &ctest_policies[i];
        alloc_errors(p);
        alloc_aligned_errors(p);
        free_errors(p);
        free_at_and_size_of_errors(p);
        realloc_errors(p);
        alloc_ex_errors(p);
        alloc_at_errors(p);
        set_capacity_errors(p);
        other_errors(p);
    }
    return ctest_end();
}
