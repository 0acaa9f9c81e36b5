/*
 * large-cycle: malloc and free of large blocks (1 to 8 MiB), touching every page; after
 * mimalloc-bench's malloc-large.
 *
 * Each thread keeps LIVE blocks; a step frees a random one and allocates a block of a
 * random size in its place, then writes one byte in every 4 KiB page of it (as a program
 * filling a buffer would) and checks the bytes of the block it frees. What this measures
 * is mostly what an allocator does with large freed blocks: keep them mapped for reuse
 * (cheap, more RSS) or give them back to the system (a page fault per page on the next
 * use). Threads share nothing.
 *
 * Work: STEPS steps per thread (times SCALE%).
 */
#include "bench.h"

enum { LIVE = 4, STEPS = 1200, PAGE = 4096 };
#define MIN_SIZE ((size_t)1 << 20)
#define MAX_SIZE ((size_t)8 << 20)

struct worker {
    int id;
    long steps;
    uint64_t checksum;
};

struct block {
    unsigned char *p;
    size_t size;
    unsigned char tag;
};

static void touch(struct block *b) {
    for (size_t at = 0; at < b->size; at += PAGE) {
        b->p[at] = (unsigned char)(b->tag + at / PAGE);
    }
    b->p[b->size - 1] = (unsigned char)(b->tag + (b->size - 1) / PAGE);
}

static uint64_t check_and_free(struct block *b) {
    uint64_t sum = b->size;
    /* The first, a middle and the last page, and the last byte. */
    size_t pages = (b->size + PAGE - 1) / PAGE;
    size_t sample[3] = {0, pages / 2, pages - 1};
    for (int k = 0; k < 3; k++) {
        unsigned char seen = b->p[sample[k] * PAGE];
        if (seen != (unsigned char)(b->tag + sample[k])) {
            corrupted("large-cycle block", sample[k]);
        }
        sum += seen;
    }
    if (b->p[b->size - 1] != (unsigned char)(b->tag + (b->size - 1) / PAGE)) {
        corrupted("large-cycle block end", b->size);
    }
    free(b->p);
    return sum;
}

static void *cycle(void *arg) {
    struct worker *w = arg;
    struct rng r = rng_seeded(42 + (uint64_t)w->id);
    struct block live[LIVE];
    uint64_t h = 0;
    for (int i = 0; i < LIVE; i++) {
        live[i].size = rng_range(&r, MIN_SIZE, MAX_SIZE);
        live[i].tag = (unsigned char)i;
        live[i].p = xmalloc(live[i].size);
        touch(&live[i]);
    }
    for (long step = 0; step < w->steps; step++) {
        struct block *b = &live[rng_next(&r) % LIVE];
        h = mix(h, check_and_free(b));
        b->size = rng_range(&r, MIN_SIZE, MAX_SIZE);
        b->tag = (unsigned char)step;
        b->p = xmalloc(b->size);
        touch(b);
    }
    for (int i = 0; i < LIVE; i++) {
        h = mix(h, check_and_free(&live[i]));
    }
    w->checksum = h;
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "large-cycle: malloc/free of 1-8 MiB blocks, every page touched");
    int n = o.threads;
    long steps = scaled(&o, STEPS);
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i] = (struct worker){.id = i, .steps = steps};
    }
    double start = now_seconds();
    run_threads(n, cycle, workers, sizeof *workers);
    double elapsed = now_seconds() - start;
    uint64_t checksum = 0;
    for (int i = 0; i < n; i++) {
        checksum = mix(checksum, workers[i].checksum);
    }
    free(workers);
    report_throughput(2.0 * (double)n * (double)steps, elapsed);
    printf("large-cycle threads=%d steps=%ld checksum=%016llx\n", n, steps, (unsigned long long)checksum);
    return 0;
}
