/*
 * glibc-thread: every thread a tight malloc/free loop over a small working set, after
 * glibc's own bench-malloc-thread (as run by mimalloc-bench).
 *
 * Each thread has WORKING_SET slots; a step frees a random slot's block and allocates a new
 * one of a random small size (16 to 1024 bytes, smaller sizes more likely: the size is
 * drawn evenly on a log scale), writing its first and last bytes. Threads share nothing:
 * this measures the allocator's fast path and how it scales with threads, not
 * cross-thread frees.
 *
 * Work: STEPS steps per thread (times SCALE%).
 */
#include "bench.h"

enum { WORKING_SET = 1024, STEPS = 15000000 };

struct worker {
    int id;
    long steps;
    uint64_t checksum;
};

/* 16 to 1024 bytes, log-uniform: a power of two from 16 to 512 times 1 to 2. */
static inline uint32_t pick_size(uint64_t bits) {
    uint32_t base = 16u << (bits % 6);
    return base + (uint32_t)((bits >> 8) % base);
}

static void *loop(void *arg) {
    struct worker *w = arg;
    struct rng r = rng_seeded(88 + (uint64_t)w->id);
    unsigned char *slot[WORKING_SET];
    uint32_t size[WORKING_SET];
    uint64_t sum = 0;
    for (int i = 0; i < WORKING_SET; i++) {
        size[i] = pick_size(rng_next(&r));
        slot[i] = xmalloc(size[i]);
        slot[i][0] = slot[i][size[i] - 1] = (unsigned char)i;
    }
    for (long step = 0; step < w->steps; step++) {
        uint64_t bits = rng_next(&r);
        int i = (int)(bits >> 40) % WORKING_SET;
        unsigned char *p = slot[i];
        if (p[0] != p[size[i] - 1]) {
            corrupted("glibc-thread block", (uint64_t)i);
        }
        sum += p[0] + size[i];
        free(p);
        size[i] = pick_size(bits);
        p = xmalloc(size[i]);
        p[0] = p[size[i] - 1] = (unsigned char)step;
        slot[i] = p;
    }
    for (int i = 0; i < WORKING_SET; i++) {
        sum += slot[i][0] + size[i];
        free(slot[i]);
    }
    w->checksum = sum;
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "glibc-thread: a tight malloc/free loop per thread");
    int n = o.threads;
    long steps = scaled(&o, STEPS);
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i] = (struct worker){.id = i, .steps = steps};
    }
    double start = now_seconds();
    run_threads(n, loop, workers, sizeof *workers);
    double elapsed = now_seconds() - start;
    uint64_t checksum = 0;
    for (int i = 0; i < n; i++) {
        checksum = mix(checksum, workers[i].checksum);
    }
    free(workers);
    report_throughput(2.0 * (double)n * (double)steps, elapsed);
    printf("glibc-thread threads=%d steps=%ld checksum=%016llx\n", n, steps, (unsigned long long)checksum);
    return 0;
}
