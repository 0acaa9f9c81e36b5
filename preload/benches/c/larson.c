/*
 * larson: a server's heap, after Larson and Krishnan's benchmark (as run by mimalloc-bench).
 *
 * Every thread owns a table of SLOTS blocks of 8 to 1000 bytes and, in each step, frees a
 * random slot's block and puts a new block of a random size there. The work is cut into
 * rounds: each round starts fresh threads, and round r gives table t to thread (t + r) mod
 * THREADS, so nearly every block is freed by a different thread than the one that
 * allocated it (the tables are first filled by the main thread). Each table carries its own
 * random generator and checksum, so the result does not depend on the scheduling.
 *
 * Work: THREADS tables, ROUNDS rounds of STEPS steps per table (times SCALE%).
 */
#include "bench.h"

enum { SLOTS = 5000, MIN_SIZE = 8, MAX_SIZE = 1000, ROUNDS = 20, STEPS = 400000 };

struct table {
    char *block[SLOTS];
    uint32_t size[SLOTS];
    struct rng rng;
    uint64_t checksum;
    uint64_t serial;
};

struct worker {
    struct table *table;
    long steps;
};

/* A new block of `size` bytes, its first and last bytes and a word in the middle marked. */
static char *new_block(struct table *t, uint32_t size) {
    char *p = xmalloc(size);
    uint64_t tag = ++t->serial;
    p[0] = (char)tag;
    p[size - 1] = (char)(tag >> 8);
    if (size >= 16) {
        memcpy(p + size / 2 - 4, &tag, 4);
    }
    return p;
}

/* Checks a block's marks and folds them into the table's checksum. */
static void retire_block(struct table *t, int slot) {
    const char *p = t->block[slot];
    uint32_t size = t->size[slot];
    uint64_t seen = (uint8_t)p[0] | (uint64_t)(uint8_t)p[size - 1] << 8;
    if (size >= 16) {
        uint32_t middle;
        memcpy(&middle, p + size / 2 - 4, 4);
        if ((uint8_t)middle != (uint8_t)p[0]) {
            corrupted("larson block", slot);
        }
        seen |= (uint64_t)middle << 16;
    }
    t->checksum = mix(t->checksum, seen ^ size);
    free(t->block[slot]);
}

static void *serve(void *arg) {
    struct worker *w = arg;
    struct table *t = w->table;
    for (long i = 0; i < w->steps; i++) {
        int slot = (int)(rng_next(&t->rng) % SLOTS);
        retire_block(t, slot);
        uint32_t size = (uint32_t)rng_range(&t->rng, MIN_SIZE, MAX_SIZE);
        t->size[slot] = size;
        t->block[slot] = new_block(t, size);
    }
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "larson: threads free each other's blocks, in rounds");
    int n = o.threads;
    long steps = scaled(&o, STEPS);
    struct table *tables = xcalloc((size_t)n, sizeof *tables);
    for (int t = 0; t < n; t++) {
        tables[t].rng = rng_seeded(4141 + (uint64_t)t);
        for (int s = 0; s < SLOTS; s++) {
            tables[t].size[s] = (uint32_t)rng_range(&tables[t].rng, MIN_SIZE, MAX_SIZE);
            tables[t].block[s] = new_block(&tables[t], tables[t].size[s]);
        }
    }
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    double start = now_seconds();
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < n; i++) {
            workers[i].table = &tables[(i + round) % n];
            workers[i].steps = steps;
        }
        run_threads(n, serve, workers, sizeof *workers);
    }
    double elapsed = now_seconds() - start;
    uint64_t checksum = 0;
    for (int t = 0; t < n; t++) {
        for (int s = 0; s < SLOTS; s++) {
            retire_block(&tables[t], s);
        }
        checksum = mix(checksum, tables[t].checksum);
    }
    free(workers);
    free(tables);
    /* One step is a free and a malloc: two operations. */
    report_throughput(2.0 * (double)n * ROUNDS * (double)steps, elapsed);
    printf("larson threads=%d rounds=%d steps=%ld checksum=%016llx\n", n, ROUNDS, steps,
           (unsigned long long)checksum);
    return 0;
}
