/* The malloc contract of libmemalloc_preload.so (docs/CONTRACT.md, "The preload library"), case by
 * case. Run under LD_PRELOAD by tests/preload.rs, once per policy; prints a line per
 * failed check and a closing "N passed, N failed"; exits 1 if any check failed.
 * Compiled with -fno-builtin so that the compiler makes every call it is told to. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, __func__, #cond); \
        }                                                                    \
    } while (0)

/* Sizes the compiler cannot see, so that it neither warns about nor folds them. */
static volatile size_t size_max = SIZE_MAX;
static volatile size_t ptrdiff_max = PTRDIFF_MAX;
static volatile size_t one_tib = (size_t)1 << 40;

static int aligned_to(const void *p, size_t align) { return ((uintptr_t)p & (align - 1)) == 0; }

static int all_bytes(const void *p, size_t n, unsigned char value) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != value) return 0;
    return 1;
}

static void fill_pattern(void *p, size_t n, unsigned seed) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed + i * 7);
}

static int has_pattern(const void *p, size_t n, unsigned seed) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

static void preload_is_active(void) {
    void *(*fn)(size_t) = malloc;
    void *addr;
    Dl_info info;
    memcpy(&addr, &fn, sizeof addr);
    CHECK(dladdr(addr, &info) != 0);
    CHECK(info.dli_fname != NULL && strstr(info.dli_fname, "libmemalloc_preload") != NULL);
}

static void malloc_zero_is_unique(void) {
    void *a = malloc(0), *b = malloc(0);
    CHECK(a != NULL && b != NULL);
    CHECK(a != b);
    CHECK(aligned_to(a, 16) && aligned_to(b, 16));
    free(a);
    free(b);
}

static void every_size_is_aligned_to_16(void) {
    enum { N = 600 };
    static void *blocks[N];
    static size_t sizes[N];
    int ok_align = 1, ok_usable = 1, ok_contents = 1;
    for (int i = 0; i < N; i++) {
        sizes[i] = i < 520 ? (size_t)i : (size_t)1 << ((i - 520) % 24);
        blocks[i] = malloc(sizes[i]);
        if (blocks[i] == NULL || !aligned_to(blocks[i], 16)) ok_align = 0;
        if (blocks[i] != NULL && malloc_usable_size(blocks[i]) < sizes[i]) ok_usable = 0;
        if (blocks[i] != NULL) fill_pattern(blocks[i], sizes[i], (unsigned)i);
    }
    for (int i = 0; i < N; i++)
        if (blocks[i] != NULL && !has_pattern(blocks[i], sizes[i], (unsigned)i)) ok_contents = 0;
    for (int i = N - 1; i >= 0; i -= 2) free(blocks[i]);
    for (int i = N - 2; i >= 0; i -= 2) free(blocks[i]);
    CHECK(ok_align);
    CHECK(ok_usable);
    CHECK(ok_contents);
}

static void usable_size_of_null_is_0(void) { CHECK(malloc_usable_size(NULL) == 0); }

static void calloc_zeroes_reused_memory(void) {
    for (size_t size = 16; size <= ((size_t)8 << 20); size *= 8) {
        unsigned char *dirty = malloc(size);
        CHECK(dirty != NULL);
        if (dirty == NULL) continue;
        memset(dirty, 0xff, size);
        free(dirty);
        unsigned char *zeroed = calloc(size / 16, 16);
        CHECK(zeroed != NULL && all_bytes(zeroed, size, 0));
        free(zeroed);
    }
    void *empty = calloc(0, 5);
    CHECK(empty != NULL);
    free(empty);
}

/* A block freed while part of it is mlock()ed (legal) cannot have its pages dropped:
 * madvise(MADV_DONTNEED) fails on locked pages. Its memory must still come back zeroed
 * from calloc. Only one 64 KiB page run is locked, within the smallest RLIMIT_MEMLOCK;
 * if mlock is refused anyway, the case is skipped. */
static void calloc_zeroes_memory_freed_while_locked(void) {
    size_t size = (size_t)2 << 20, lock = (size_t)64 << 10;
    unsigned char *dirty = malloc(size);
    CHECK(dirty != NULL);
    if (dirty == NULL) return;
    memset(dirty, 0xaa, size);
    unsigned char *locked = (unsigned char *)(((uintptr_t)dirty + lock - 1) & ~(uintptr_t)(lock - 1));
    if (mlock(locked, lock) != 0) {
        printf("skipped calloc_zeroes_memory_freed_while_locked: mlock: %s\n", strerror(errno));
        free(dirty);
        return;
    }
    errno = EDOM;
    free(dirty); /* 2 MiB: released at once, and the release fails on the locked run */
    CHECK(errno == EDOM);
    unsigned char *zeroed = calloc(1, size);
    CHECK(zeroed != NULL && all_bytes(zeroed, size, 0));
    munlock(locked, lock);
    free(zeroed);
}

/* glibc leaves errno alone on success; so must every call here, whatever it does inside
 * (releasing memory with madvise, starting, tracing). */
static void successful_calls_keep_errno(void) {
    int ok = 1;
    for (int round = 0; round < 2000; round++) {
        errno = EDOM;
        void *p = malloc((size_t)(round % 7 + 1) << (round % 20));
        void *q = calloc(3, 100);
        void *r = realloc(p, 1000 + (size_t)round);
        void *a = aligned_alloc(64, 64);
        ok = ok && p != NULL && q != NULL && r != NULL && a != NULL && errno == EDOM;
        free(q);
        free(r);
        free(a);
        ok = ok && errno == EDOM;
    }
    CHECK(ok);
}

/* Linux's default overcommit heuristic refuses one mapping larger than RAM plus swap, so
 * glibc's malloc fails there; the heap region is reserved without backing and must not
 * hand out such a block either. */
static void request_above_ram_and_swap_is_enomem(void) {
    struct sysinfo info;
    CHECK(sysinfo(&info) == 0);
    size_t unit = info.mem_unit ? info.mem_unit : 1;
    size_t total = ((size_t)info.totalram + (size_t)info.totalswap) * unit;
    errno = 0;
    void *p = malloc(total + 1);
    CHECK(p == NULL && errno == ENOMEM);
    free(p);
    void *small = malloc(16);
    CHECK(small != NULL);
    errno = 0;
    void *grown = realloc(small, total + 1);
    CHECK(grown == NULL && errno == ENOMEM);
    free(grown != NULL ? grown : small);
}

static void calloc_overflow_is_enomem(void) {
    errno = 0;
    CHECK(calloc(size_max / 2 + 1, 2) == NULL);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(calloc(2, size_max) == NULL);
    CHECK(errno == ENOMEM);
}

static void huge_malloc_is_enomem(void) {
    size_t huge[] = {size_max, size_max - 15, ptrdiff_max, ptrdiff_max + 1, one_tib};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = malloc(huge[i]);
        CHECK(p == NULL);
        CHECK(errno == ENOMEM);
    }
    void *after = malloc(16);
    CHECK(after != NULL);
    free(after);
}

static void realloc_null_is_malloc(void) {
    void *p = realloc(NULL, 100);
    CHECK(p != NULL && aligned_to(p, 16) && malloc_usable_size(p) >= 100);
    free(p);
    void *z = realloc(NULL, 0);
    CHECK(z != NULL);
    free(z);
}

static void realloc_keeps_contents(void) {
    char *p = malloc(100);
    char *wall = malloc(100); /* a neighbour, so that growing has to move */
    fill_pattern(p, 100, 1);
    p = realloc(p, 10000);
    CHECK(p != NULL && has_pattern(p, 100, 1) && aligned_to(p, 16));
    fill_pattern(p, 10000, 2);
    p = realloc(p, 50);
    CHECK(p != NULL && has_pattern(p, 50, 2));
    p = realloc(p, (size_t)3 << 20);
    CHECK(p != NULL && has_pattern(p, 50, 2));
    fill_pattern(p, (size_t)3 << 20, 3);
    p = realloc(p, 64);
    CHECK(p != NULL && has_pattern(p, 64, 3));
    free(p);
    free(wall);
}

static void realloc_to_0_frees_and_returns_null(void) {
    void *p = malloc(10);
    errno = 0;
    CHECK(realloc(p, 0) == NULL);
    void *big = malloc((size_t)2 << 20);
    CHECK(realloc(big, 0) == NULL);
}

static void realloc_failure_keeps_the_block(void) {
    char *p = malloc(100);
    fill_pattern(p, 100, 4);
    size_t too_big[] = {size_max, one_tib};
    for (int i = 0; i < 2; i++) {
        errno = 0;
        char *q = realloc(p, too_big[i]);
        CHECK(q == NULL);
        CHECK(errno == ENOMEM);
        if (q != NULL) p = q; /* never: keeps the compiler from calling p stale */
    }
    CHECK(has_pattern(p, 100, 4));
    free(p);
}

static void reallocarray_checks_overflow(void) {
    char *p = malloc(100);
    fill_pattern(p, 100, 5);
    errno = 0;
    char *q = reallocarray(p, size_max / 2 + 1, 2);
    CHECK(q == NULL);
    CHECK(errno == ENOMEM);
    if (q != NULL) p = q; /* never: keeps the compiler from calling p stale */
    CHECK(has_pattern(p, 100, 5));
    p = reallocarray(p, 10, 100);
    CHECK(p != NULL && has_pattern(p, 100, 5));
    free(p);
}

static void posix_memalign_contract(void) {
    void *sentinel = (void *)&passed, *out = sentinel;
    CHECK(posix_memalign(&out, 3, 16) == EINVAL && out == sentinel);
    CHECK(posix_memalign(&out, 0, 16) == EINVAL && out == sentinel);
    CHECK(posix_memalign(&out, sizeof(void *) / 2, 16) == EINVAL && out == sentinel);
    CHECK(posix_memalign(&out, 48, 16) == EINVAL && out == sentinel);
    CHECK(posix_memalign(&out, 64, size_max) == ENOMEM && out == sentinel);
    CHECK(posix_memalign(&out, 64, one_tib) == ENOMEM && out == sentinel);
    for (size_t align = sizeof(void *); align <= ((size_t)1 << 21); align *= 2) {
        void *p = NULL;
        CHECK(posix_memalign(&p, align, 100) == 0 && p != NULL && aligned_to(p, align));
        if (p != NULL) memset(p, 1, 100);
        free(p);
    }
    void *z = NULL;
    CHECK(posix_memalign(&z, 64, 0) == 0 && z != NULL);
    free(z);
}

static void aligned_alloc_contract(void) {
    errno = 0;
    CHECK(aligned_alloc(3, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(0, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(64, size_max) == NULL && errno == ENOMEM);
    void *a = aligned_alloc(64, 100); /* size need not be a multiple of the alignment */
    void *b = aligned_alloc(4096, 10);
    CHECK(a != NULL && aligned_to(a, 64));
    CHECK(b != NULL && aligned_to(b, 4096));
    free(a);
    free(b);
}

static void memalign_rounds_the_alignment_up(void) {
    void *a = memalign(24, 10);
    void *b = memalign(3, 10);
    void *c = memalign(4096, 1);
    CHECK(a != NULL && aligned_to(a, 32));
    CHECK(b != NULL && aligned_to(b, 16));
    CHECK(c != NULL && aligned_to(c, 4096));
    free(a);
    free(b);
    free(c);
    errno = 0;
    CHECK(memalign(size_max / 2 + 2, 1) == NULL && errno == EINVAL);
}

static void valloc_and_pvalloc_are_page_aligned(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(100);
    void *p = pvalloc(100);
    CHECK(v != NULL && aligned_to(v, page) && malloc_usable_size(v) >= 100);
    CHECK(p != NULL && aligned_to(p, page) && malloc_usable_size(p) >= page);
    free(v);
    free(p);
    errno = 0;
    CHECK(pvalloc(size_max - 1) == NULL && errno == ENOMEM);
}

static void free_keeps_errno(void) {
    errno = 1234;
    free(malloc(10));
    CHECK(errno == 1234);
    errno = 1234;
    free(NULL);
    CHECK(errno == 1234);
    void *big = malloc((size_t)4 << 20); /* a free large enough to return pages */
    memset(big, 1, (size_t)4 << 20);
    errno = 1234;
    free(big);
    CHECK(errno == 1234);
}

/* Resident pages of this process, from /proc/self/statm. */
static long resident_pages(void) {
    long size = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident;
}

static void free_returns_memory_to_the_system(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), total = (size_t)64 << 20;
    enum { N = 64 };
    char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(total / N - 64); /* many blocks, so that free space must merge */
        if (blocks[i] != NULL) memset(blocks[i], 1, total / N - 64);
    }
    long before = resident_pages();
    for (int i = 0; i < N; i++) free(blocks[i]);
    long after = resident_pages();
    CHECK(before > 0 && after > 0);
    CHECK((size_t)(before - after) * page >= total / 2);
}

static void blocks_never_overlap(void) {
    enum { N = 5000 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    unsigned seed = 12345;
    int ok = 1;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            seed = seed * 1103515245u + 12345u;
            if (blocks[i] != NULL && (seed >> 16) % 3 == 0) {
                if (!has_pattern(blocks[i], sizes[i], (unsigned)i)) ok = 0;
                free(blocks[i]);
                blocks[i] = NULL;
            }
            if (blocks[i] == NULL) {
                sizes[i] = (seed >> 8) % 3000;
                blocks[i] = malloc(sizes[i]);
                if (blocks[i] == NULL) ok = 0;
                else fill_pattern(blocks[i], sizes[i], (unsigned)i);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        if (blocks[i] != NULL && !has_pattern(blocks[i], sizes[i], (unsigned)i)) ok = 0;
        free(blocks[i]);
    }
    CHECK(ok);
}

int main(void) {
    preload_is_active();
    malloc_zero_is_unique();
    every_size_is_aligned_to_16();
    usable_size_of_null_is_0();
    calloc_zeroes_reused_memory();
    calloc_zeroes_memory_freed_while_locked();
    calloc_overflow_is_enomem();
    huge_malloc_is_enomem();
    request_above_ram_and_swap_is_enomem();
    successful_calls_keep_errno();
    realloc_null_is_malloc();
    realloc_keeps_contents();
    realloc_to_0_frees_and_returns_null();
    realloc_failure_keeps_the_block();
    reallocarray_checks_overflow();
    posix_memalign_contract();
    aligned_alloc_contract();
    memalign_rounds_the_alignment_up();
    valloc_and_pvalloc_are_page_aligned();
    free_keeps_errno();
    free_returns_memory_to_the_system();
    blocks_never_overlap();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
