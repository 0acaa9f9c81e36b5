/*
 * Shared helpers of the allocator benchmark programs (see ../README.md): the command line
 * (`PROGRAM [THREADS [SCALE]]`), a small deterministic random number generator, checksum
 * mixing, threads, a clock, and the two lines every program prints:
 *
 *   stdout: `NAME threads=T checksum=HEX ...`   the same under every allocator
 *   stderr: `throughput: R ops/s (N ops in S s)` timing, different every run
 *
 * A program's work is fixed by THREADS and SCALE (percent of the default work, 100 if not
 * given), never by the clock, so wall time is what a run measures. Every block's contents
 * are written and checked, so an allocator that hands out overlapping or corrupted memory
 * makes the program abort (or print a different checksum) instead of finishing fast.
 */
#ifndef MEMALLOC_BENCH_H
#define MEMALLOC_BENCH_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The command line: threads (>= 1) and the work scale in percent (>= 1). */
struct options {
    int threads;
    long scale;
};

static struct options parse_options(int argc, char **argv, const char *usage_extra) {
    struct options o = {1, 100};
    char *end;
    if (argc > 3) {
        goto usage;
    }
    if (argc > 1) {
        long t = strtol(argv[1], &end, 10);
        if (*end != '\0' || t < 1 || t > 1024) {
            goto usage;
        }
        o.threads = (int)t;
    }
    if (argc > 2) {
        o.scale = strtol(argv[2], &end, 10);
        if (*end != '\0' || o.scale < 1 || o.scale > 100000) {
            goto usage;
        }
    }
    return o;
usage:
    fprintf(stderr, "usage: %s [THREADS [SCALE_PERCENT]]\n%s\n", argv[0], usage_extra);
    exit(2);
}

/* `n` scaled by the SCALE percentage, at least 1. */
static long scaled(const struct options *o, long n) {
    long v = (long)((double)n * (double)o->scale / 100.0);
    return v < 1 ? 1 : v;
}

/* A 64-bit generator: a Weyl sequence whose output goes through a multiply-xorshift
 * finaliser. Fast, and the same sequence on every machine. */
struct rng {
    uint64_t state;
};

static inline struct rng rng_seeded(uint64_t seed) {
    struct rng r = {seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull};
    return r;
}

static inline uint64_t rng_next(struct rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 31)) * 0xd6e8feb86659fd93ull;
    z = (z ^ (z >> 29)) * 0xd6e8feb86659fd93ull;
    return z ^ (z >> 32);
}

/* Uniform in [lo, hi] (hi - lo far below 2^32: the bias is negligible). */
static inline uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi) {
    return lo + rng_next(r) % (hi - lo + 1);
}

/* True with probability `percent` / 100. */
static inline int rng_chance(struct rng *r, unsigned percent) {
    return rng_next(r) % 100 < percent;
}

/* Folds `v` into the running checksum `h` (order matters). */
static inline uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x2545f4914f6cdd1dull + (h << 7) + (h >> 3);
    return h * 0x100000001b3ull;
}

/* malloc, calloc and realloc that end the program when they fail: a benchmark whose
 * allocations fail measures nothing. */
static void out_of_memory(size_t n) {
    fprintf(stderr, "allocation of %zu bytes failed\n", n);
    abort();
}

static inline void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (p == NULL) {
        out_of_memory(n);
    }
    return p;
}

static inline void *xcalloc(size_t count, size_t n) {
    void *p = calloc(count, n);
    if (p == NULL) {
        out_of_memory(count * n);
    }
    return p;
}

static inline void *xrealloc(void *old, size_t n) {
    void *p = realloc(old, n);
    if (p == NULL) {
        out_of_memory(n);
    }
    return p;
}

/* Ends the program: a block's contents are not what was written into it. */
static void corrupted(const char *what, uint64_t detail) {
    fprintf(stderr, "memory corruption: %s (%llu)\n", what, (unsigned long long)detail);
    abort();
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs `body(i)` on `n` new threads (i = 0 .. n-1) and waits for all of them. */
static void run_threads(int n, void *(*body)(void *), void *args, size_t arg_size) {
    pthread_t *ids = xmalloc(sizeof *ids * (size_t)n);
    for (int i = 0; i < n; i++) {
        int err = pthread_create(&ids[i], NULL, body, (char *)args + (size_t)i * arg_size);
        if (err != 0) {
            fprintf(stderr, "pthread_create: error %d\n", err);
            exit(1);
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(ids[i], NULL);
    }
    free(ids);
}

/* The timing line (stderr), for the runner and for people. */
static void report_throughput(double ops, double seconds) {
    fprintf(stderr, "throughput: %.0f ops/s (%.0f ops in %.3f s)\n", seconds > 0 ? ops / seconds : 0.0, ops,
            seconds);
}

#endif
