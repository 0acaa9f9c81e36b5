/* A thread stress test: THREADS threads for SECONDS seconds allocate, reallocate and free
 * blocks, many of which other threads free:
 *  - a shared table of blocks: a thread takes a block out of a random slot (an atomic
 *    exchange), checks it, then frees it or reallocates it and puts it back; or puts a new
 *    block in, freeing the one it displaces. Most blocks are freed by another thread than
 *    the one that allocated them;
 *  - per thread, private slots of blocks of any size from 0 bytes, some aligned
 *    (posix_memalign, aligned_alloc);
 *  - sizes from 0 bytes to 2 MiB, mostly small, with reallocs growing and shrinking
 *    across the small/large border (4096 bytes) and across 1 MiB;
 *  - calloc'd blocks must read as zero; every block is filled with a pattern derived from
 *    its identity and position (all of the first 4 KiB, then every 32nd byte), checked
 *    before each realloc (the kept prefix after it) and before its free.
 *
 *   thread_stress [SECONDS [THREADS]]
 *
 * Prints "ok" and exits 0; on damage prints what was wrong and exits 1. A deadlock shows
 * as a hang (the test's timeout). */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SHARED = 1024, PRIVATE = 128, MAX_THREADS = 64 };

/* A shared block starts with its identity and size; the rest is the pattern. */
struct header {
    uint64_t id;
    size_t size;
};

static _Atomic(struct header *) shared[SHARED];
static atomic_int stop;
static atomic_int damaged;
static atomic_ulong operations;

/* The pattern byte at offset i of block id. */
static inline unsigned char pattern(uint64_t id, size_t i) {
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (unsigned char)((h >> 56) ^ (i * 131) ^ (i >> 9));
}

/* The offsets that carry the pattern: all of a block's first 4 KiB, then every 32nd byte
 * (two live blocks that overlap by 32 bytes or more still damage each other's pattern;
 * large blocks cost less time, and the allocator gets more calls). */
static inline size_t next_offset(size_t i) { return i < 4096 ? i + 1 : (i | 31) + 1; }

static inline size_t first_offset(size_t from) { return from <= 4096 || from % 32 == 0 ? from : (from | 31) + 1; }

static void fill(unsigned char *p, uint64_t id, size_t from, size_t to) {
    for (size_t i = first_offset(from); i < to; i = next_offset(i)) p[i] = pattern(id, i);
}

/* Whether bytes [from, to) of block id hold the pattern; reports the first bad byte. */
static int check(const unsigned char *p, uint64_t id, size_t from, size_t to, const char *when) {
    for (size_t i = first_offset(from); i < to; i = next_offset(i)) {
        if (p[i] != pattern(id, i)) {
            if (atomic_exchange(&damaged, 1) == 0)
                printf("block %#llx (%p) damaged at byte %zu of %zu %s: %#x, expected %#x\n", (unsigned long long)id,
                       (const void *)p, i, to, when, p[i], pattern(id, i));
            return 0;
        }
    }
    return 1;
}

static void report(const char *what, size_t size) {
    if (atomic_exchange(&damaged, 1) == 0) printf("%s (%zu bytes)\n", what, size);
}

/* A size: mostly small, some around the 4096-byte border, some large, a few over 1 MiB. */
static size_t size_for(unsigned r) {
    unsigned pick = r % 1000, v = r / 1000;
    if (pick < 600) return v % 256;
    if (pick < 800) return 256 + v % 3840;
    if (pick < 900) return 3000 + v % 3000;
    if (pick < 997) return 8192 + v % (64 << 10);
    return (1 << 20) + v % (1 << 20);
}

static unsigned next(unsigned *r) {
    *r = *r * 1103515245u + 12345u;
    return *r >> 1;
}

/* A new shared block of at least a header's size: its contents filled. */
static struct header *new_shared(uint64_t id, unsigned *r) {
    size_t size = size_for(next(r));
    if (size < sizeof(struct header)) size = sizeof(struct header);
    int zeroed = next(r) % 4 == 0;
    unsigned char *p = zeroed ? calloc(1, size) : malloc(size);
    if (p == NULL) {
        report("malloc failed", size);
        return NULL;
    }
    if (zeroed) {
        for (size_t i = 0; i < size; i++) {
            if (p[i] != 0) {
                report("calloc returned a block that is not zeroed", size);
                break;
            }
        }
    }
    struct header *h = (struct header *)p;
    h->id = id;
    h->size = size;
    fill(p, id, sizeof *h, size);
    return h;
}

static int check_shared(struct header *h, const char *when) {
    return check((const unsigned char *)h, h->id, sizeof *h, h->size, when);
}

/* Resizes a checked shared block, keeping its identity: the kept prefix must survive. */
static struct header *resize_shared(struct header *h, unsigned *r) {
    size_t old = h->size, size = size_for(next(r));
    if (size < sizeof *h) size = sizeof *h;
    struct header *q = realloc(h, size);
    if (q == NULL) {
        report("realloc failed", size);
        return h;
    }
    check((const unsigned char *)q, q->id, sizeof *q, old < size ? old : size, "after realloc");
    if (size > old) fill((unsigned char *)q, q->id, old, size);
    q->size = size;
    return q;
}

struct private_block {
    unsigned char *p;
    size_t size;
    uint64_t id;
};

static void private_step(struct private_block *slot, uint64_t id, unsigned *r) {
    unsigned op = next(r) % 8;
    if (slot->p == NULL) {
        size_t size = size_for(next(r));
        if (op == 0) {
            size_t align = (size_t)16 << (next(r) % 9); /* 16 to 4096 */
            void *p = NULL;
            if (next(r) % 2) {
                if (posix_memalign(&p, align, size) != 0) p = NULL;
            } else {
                p = aligned_alloc(align, size);
            }
            if (p == NULL) {
                report("an aligned allocation failed", size);
                return;
            }
            if ((uintptr_t)p % align != 0) {
                report("an aligned allocation is misaligned", align);
                return;
            }
            slot->p = p;
        } else {
            slot->p = malloc(size);
            if (slot->p == NULL) {
                report("malloc failed", size);
                return;
            }
        }
        if (malloc_usable_size(slot->p) < size) report("malloc_usable_size is too small", size);
        slot->size = size;
        slot->id = id;
        fill(slot->p, id, 0, size);
        return;
    }
    if (!check(slot->p, slot->id, 0, slot->size, "in a private slot")) return;
    if (op < 4) {
        free(slot->p);
        slot->p = NULL;
        return;
    }
    size_t size = size_for(next(r));
    if (size == 0) size = 1; /* realloc(p, 0) frees */
    unsigned char *q = realloc(slot->p, size);
    if (q == NULL) {
        report("realloc failed", size);
        return;
    }
    check(q, slot->id, 0, slot->size < size ? slot->size : size, "after a private realloc");
    if (size > slot->size) fill(q, slot->id, slot->size, size);
    slot->p = q;
    slot->size = size;
}

static void *worker(void *arg) {
    unsigned thread = (unsigned)(uintptr_t)arg;
    unsigned r = thread * 2654435761u + 1;
    uint64_t counter = 0;
    struct private_block mine[PRIVATE];
    memset(mine, 0, sizeof mine);
    unsigned long ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed) && !atomic_load_explicit(&damaged, memory_order_relaxed)) {
        uint64_t id = ((uint64_t)thread << 48) | ++counter;
        unsigned op = next(&r) % 100;
        if (op < 60) {
            unsigned k = next(&r) % SHARED;
            struct header *h = atomic_exchange(&shared[k], NULL);
            if (h != NULL && check_shared(h, "taken from the shared table")) {
                if (op < 30) {
                    free(h);
                    h = NULL;
                } else {
                    h = resize_shared(h, &r);
                }
            }
            if (h == NULL) h = new_shared(id, &r);
            struct header *displaced = atomic_exchange(&shared[k], h);
            if (displaced != NULL && check_shared(displaced, "displaced from the shared table")) free(displaced);
        } else {
            private_step(&mine[next(&r) % PRIVATE], id, &r);
        }
        ops++;
    }
    for (int i = 0; i < PRIVATE; i++) {
        if (mine[i].p != NULL) check(mine[i].p, mine[i].id, 0, mine[i].size, "at the end");
        free(mine[i].p);
    }
    atomic_fetch_add(&operations, ops);
    return NULL;
}

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 10;
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    if (threads < 1 || threads > MAX_THREADS) return 2;
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    }
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += seconds;
    do {
        usleep(20000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!atomic_load(&damaged) &&
             (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec)));
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    for (int k = 0; k < SHARED; k++) {
        struct header *h = atomic_load(&shared[k]);
        if (h != NULL) check_shared(h, "at the end");
        free(h);
    }
    if (atomic_load(&damaged)) return 1;
    fprintf(stderr, "%lu operations by %d threads in %d s\n", atomic_load(&operations), threads, seconds);
    printf("ok\n");
    return 0;
}
