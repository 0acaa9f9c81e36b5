/*
 * mstress: many threads, mixed sizes, blocks handed between threads, realloc; after the
 * stress test of the same name in mimalloc-bench.
 *
 * The program runs ROUNDS rounds; each round starts THREADS fresh threads. A thread keeps a
 * list of live blocks (a table grown with realloc) and, step after step, at random:
 * allocates a block (mostly 8 to 128 bytes; one in a hundred 64 times larger, and rarer
 * ones of 128 KiB and 2 MiB), frees one of its blocks, swaps one of its blocks with a slot
 * of a table shared by all threads (an atomic exchange: the block goes to whichever thread
 * takes it next, possibly in a later round), or reallocs one of its blocks to a new size.
 * Every block holds a pattern derived from its length, checked in full before it is freed
 * or after it is moved by realloc. Between rounds the main thread frees about half of the
 * shared slots' blocks; the rest live on into the next round.
 *
 * Work: THREADS x STEPS steps per round (times SCALE%). The checksum counts what the
 * threads' random generators asked for (the same under every allocator and every
 * scheduling); the blocks' contents are checked, not summed, since which thread ends up
 * with which block depends on the scheduling.
 */
#include "bench.h"

#include <stdatomic.h>

enum { ROUNDS = 10, STEPS = 400000, SHARED = 1000 };

static void *_Atomic shared[SHARED];

static const uint64_t KEY = 0x5bd1e9955bd1e995ull;

/* A block of `words` 8-byte words; word 0 tells the length, the others follow from it. */
static inline uint64_t pattern(uint64_t words, uint64_t i) {
    return (words * 0x9e3779b97f4a7c15ull) ^ (i * 0xff51afd7ed558ccdull) ^ KEY;
}

static void fill(uint64_t *p, uint64_t words, uint64_t from) {
    if (from == 0) {
        p[0] = words ^ KEY;
        from = 1;
    }
    for (uint64_t i = from; i < words; i++) {
        p[i] = pattern(words, i);
    }
}

/* Checks the first `upto` words of the block (all of it when `upto` is 0); the length. */
static uint64_t check(const uint64_t *p, uint64_t upto) {
    uint64_t words = p[0] ^ KEY;
    if (words == 0 || words > (1u << 22)) {
        corrupted("mstress block header", words);
    }
    uint64_t end = upto != 0 && upto < words ? upto : words;
    for (uint64_t i = 1; i < end; i++) {
        if (p[i] != pattern(words, i)) {
            corrupted("mstress block", i);
        }
    }
    return words;
}

static void release(uint64_t *p) {
    if (p != NULL) {
        check(p, 0);
        free(p);
    }
}

/* A block length in words: mostly 1 to 16 words; 1% 64 times more; of those, 10% 1024 times
 * more than the small size (up to 128 KiB), and 1% of those 16384 times more (2 MiB). */
static uint64_t pick_words(struct rng *r) {
    uint64_t words = 1ull << (rng_next(r) % 5);
    if (rng_chance(r, 1)) {
        if (rng_chance(r, 10)) {
            words *= rng_chance(r, 1) ? 16384 : 1024;
        } else {
            words *= 64;
        }
    }
    return words;
}

struct worker {
    int id;
    int round;
    long steps;
    uint64_t checksum;
};

struct live {
    uint64_t **block;
    size_t count, capacity;
};

static void push(struct live *l, uint64_t *p) {
    if (l->count == l->capacity) {
        l->capacity = l->capacity == 0 ? 64 : l->capacity * 2;
        l->block = xrealloc(l->block, l->capacity * sizeof *l->block);
    }
    l->block[l->count++] = p;
}

static void *stress(void *arg) {
    struct worker *w = arg;
    struct rng r = rng_seeded((uint64_t)w->round * 1000003 + (uint64_t)w->id * 7919 + 17);
    struct live l = {NULL, 0, 0};
    uint64_t allocs = 0, reallocs = 0, swaps = 0, frees = 0, words_asked = 0;
    for (long step = 0; step < w->steps; step++) {
        if (l.count == 0 || rng_chance(&r, 50)) {
            uint64_t words = pick_words(&r);
            uint64_t *p = xmalloc(words * 8);
            fill(p, words, 0);
            push(&l, p);
            allocs++;
            words_asked += words;
        }
        if (rng_chance(&r, 40)) {
            size_t i = rng_next(&r) % l.count;
            release(l.block[i]);
            l.block[i] = l.block[--l.count];
            frees++;
        }
        if (l.count > 0 && rng_chance(&r, 25)) {
            size_t i = rng_next(&r) % l.count;
            size_t slot = rng_next(&r) % SHARED;
            l.block[i] = atomic_exchange(&shared[slot], l.block[i]);
            swaps++;
        }
        if (l.count > 0 && rng_chance(&r, 10)) {
            size_t i = rng_next(&r) % l.count;
            uint64_t words = pick_words(&r);
            uint64_t *p = l.block[i];
            uint64_t old = p != NULL ? check(p, 0) : 0;
            p = xrealloc(p, words * 8);
            if (old != 0) {
                check(p, words); /* the part that realloc kept */
            }
            fill(p, words, 0);
            l.block[i] = p;
            reallocs++;
            words_asked += words;
        }
    }
    for (size_t i = 0; i < l.count; i++) {
        release(l.block[i]);
    }
    free(l.block);
    w->checksum = mix(mix(mix(mix(mix(0, allocs), reallocs), swaps), frees), words_asked);
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "mstress: threads hand blocks to each other, in rounds");
    int n = o.threads;
    long steps = scaled(&o, STEPS);
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    struct rng r = rng_seeded(43);
    uint64_t checksum = 0;
    double start = now_seconds();
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < n; i++) {
            workers[i] = (struct worker){.id = i, .round = round, .steps = steps};
        }
        run_threads(n, stress, workers, sizeof *workers);
        for (int i = 0; i < n; i++) {
            checksum = mix(checksum, workers[i].checksum);
        }
        for (int s = 0; s < SHARED; s++) {
            if (round + 1 == ROUNDS || rng_chance(&r, 50)) {
                release(atomic_exchange(&shared[s], NULL));
            }
        }
    }
    double elapsed = now_seconds() - start;
    free(workers);
    report_throughput((double)n * ROUNDS * (double)steps, elapsed);
    printf("mstress threads=%d rounds=%d steps=%ld checksum=%016llx\n", n, ROUNDS, steps,
           (unsigned long long)checksum);
    return 0;
}
