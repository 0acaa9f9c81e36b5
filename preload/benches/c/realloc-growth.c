/*
 * realloc-growth: buffers that grow by realloc, as vectors, string builders and file
 * readers grow theirs.
 *
 * Three kinds of growth, interleaved so that a block can seldom grow where it lies:
 *  - vectors: VECTORS small arrays, elements appended to random ones; an array doubles its
 *    capacity when full (16 bytes up to 64 KiB), then starts over;
 *  - builders: BUILDERS strings, random pieces of 100 to 4000 bytes appended to random ones,
 *    each append a realloc to the exact new length, up to 2 MiB, then freed;
 *  - big buffers: one buffer grows by a quarter at a time from 1 MiB to 32 MiB (each time
 *    writing its new part), is freed and grows again.
 * The bytes are a function of their position, so each realloc's copy is checked at its
 * ends. With THREADS > 1, each thread does the whole work on its own (no sharing).
 *
 * Work: ROUNDS rounds per thread (times SCALE%).
 */
#include "bench.h"

enum { ROUNDS = 20, VECTORS = 2000, APPENDS = 60000, BUILDERS = 6, PIECES = 2500 };
#define VECTOR_LIMIT ((size_t)64 << 10)
#define BUILDER_LIMIT ((size_t)2 << 20)
#define BIG_START ((size_t)1 << 20)
#define BIG_LIMIT ((size_t)32 << 20)

/* The byte at offset `i` of a buffer with key `key`. */
static inline unsigned char byte_at(uint64_t key, size_t i) {
    return (unsigned char)(key * 131 + i * 7 + (i >> 12));
}

static void fill(unsigned char *p, uint64_t key, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        p[i] = byte_at(key, i);
    }
}

/* Checks what realloc kept: the first and the last byte of the old length. */
static void check_kept(const unsigned char *p, uint64_t key, size_t old) {
    if (old > 0 && (p[0] != byte_at(key, 0) || p[old - 1] != byte_at(key, old - 1))) {
        corrupted("realloc-growth: realloc lost the contents", old);
    }
}

struct buffer {
    unsigned char *p;
    size_t len, cap;
    uint64_t key;
};

static uint64_t vectors(struct rng *r, uint64_t round) {
    struct buffer *v = xcalloc(VECTORS, sizeof *v);
    uint64_t h = 0;
    for (int i = 0; i < VECTORS; i++) {
        v[i].key = round * VECTORS + (uint64_t)i;
    }
    for (long a = 0; a < APPENDS; a++) {
        struct buffer *b = &v[rng_next(r) % VECTORS];
        size_t element = 8;
        if (b->len + element > b->cap) {
            if (b->cap >= VECTOR_LIMIT) {
                h = mix(h, b->len);
                free(b->p);
                b->p = NULL;
                b->len = b->cap = 0;
            }
            b->cap = b->cap == 0 ? 16 : b->cap * 2;
            b->p = xrealloc(b->p, b->cap);
            check_kept(b->p, b->key, b->len);
        }
        fill(b->p, b->key, b->len, b->len + element);
        b->len += element;
    }
    for (int i = 0; i < VECTORS; i++) {
        h = mix(h, v[i].len);
        free(v[i].p);
    }
    free(v);
    return h;
}

static uint64_t builders(struct rng *r, uint64_t round) {
    struct buffer b[BUILDERS] = {{0}};
    uint64_t h = 0;
    for (int i = 0; i < BUILDERS; i++) {
        b[i].key = round * 100 + (uint64_t)i;
    }
    for (long n = 0; n < PIECES; n++) {
        struct buffer *s = &b[rng_next(r) % BUILDERS];
        size_t piece = rng_range(r, 100, 4000);
        if (s->len + piece > BUILDER_LIMIT) {
            h = mix(h, s->len);
            free(s->p);
            s->p = NULL;
            s->len = 0;
        }
        s->p = xrealloc(s->p, s->len + piece);
        check_kept(s->p, s->key, s->len);
        fill(s->p, s->key, s->len, s->len + piece);
        s->len += piece;
    }
    for (int i = 0; i < BUILDERS; i++) {
        h = mix(h, b[i].len);
        free(b[i].p);
    }
    return h;
}

static uint64_t big(uint64_t round) {
    uint64_t key = round;
    size_t len = BIG_START;
    unsigned char *p = xmalloc(len);
    /* Write one byte per page of the new part: what a reader filling it would touch. */
    for (size_t i = 0; i < len; i += 4096) {
        p[i] = byte_at(key, i);
    }
    p[0] = byte_at(key, 0);
    uint64_t h = 0;
    while (len < BIG_LIMIT) {
        size_t grown = len + len / 4;
        p[len - 1] = byte_at(key, len - 1);
        p = xrealloc(p, grown);
        check_kept(p, key, len);
        for (size_t i = (len + 4095) & ~(size_t)4095; i < grown; i += 4096) {
            p[i] = byte_at(key, i);
        }
        len = grown;
        h = mix(h, len);
    }
    free(p);
    return h;
}

struct worker {
    long rounds;
    uint64_t checksum;
};

static void *work(void *arg) {
    struct worker *w = arg;
    struct rng r = rng_seeded(7);
    uint64_t h = 0;
    for (long round = 0; round < w->rounds; round++) {
        h = mix(h, vectors(&r, (uint64_t)round));
        h = mix(h, builders(&r, (uint64_t)round));
        h = mix(h, big((uint64_t)round));
    }
    w->checksum = h;
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "realloc-growth: vectors, string builders and big buffers");
    int n = o.threads;
    long rounds = scaled(&o, ROUNDS);
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i].rounds = rounds;
    }
    double start = now_seconds();
    run_threads(n, work, workers, sizeof *workers);
    double elapsed = now_seconds() - start;
    uint64_t checksum = workers[0].checksum;
    for (int i = 1; i < n; i++) {
        if (workers[i].checksum != checksum) {
            corrupted("realloc-growth: threads computed different results", (uint64_t)i);
        }
    }
    free(workers);
    report_throughput((double)n * (double)rounds, elapsed);
    printf("realloc-growth threads=%d rounds=%ld checksum=%016llx\n", n, rounds, (unsigned long long)checksum);
    return 0;
}
