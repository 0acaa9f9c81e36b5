/*
 * cfrac: single-threaded small-object churn of multi-precision arithmetic, in the spirit of
 * the cfrac factoring program of mimalloc-bench (its bignums are small heap arrays, made
 * and dropped by the million).
 *
 * Every number is an immutable heap block (a length and 32-bit limbs, 8 to about 100
 * bytes); each operation allocates its result and the caller frees what it no longer
 * needs. For each seed the program multiplies a few factors into a 300-to-600-bit number,
 * follows its Collatz trajectory down to 1 (one new number per step, while a ring of the
 * last RING values keeps lifetimes mixed), takes the decimal digit sum of every 64th value
 * (a division by 10^9 per digit group, each quotient a new number) and runs a Fibonacci
 * chain. With THREADS > 1, each thread does the whole work on its own (no sharing).
 *
 * Work: SEEDS seeds per thread (times SCALE%).
 */
#include "bench.h"

enum { SEEDS = 1800, RING = 16 };

struct big {
    uint32_t len; /* limbs in use; no leading zero limb; 0 for the number 0 */
    uint32_t limb[];
};

static struct big *big_new(uint32_t len) {
    struct big *b = xmalloc(sizeof *b + (size_t)len * sizeof(uint32_t));
    b->len = len;
    return b;
}

/* Drops leading zero limbs and gives back the unused tail (a realloc that shrinks). */
static struct big *big_trim(struct big *b) {
    uint32_t len = b->len;
    while (len > 0 && b->limb[len - 1] == 0) {
        len--;
    }
    if (len != b->len) {
        b->len = len;
        b = xrealloc(b, sizeof *b + (size_t)len * sizeof(uint32_t));
    }
    return b;
}

static struct big *big_from(uint64_t v) {
    struct big *b = big_new(2);
    b->limb[0] = (uint32_t)v;
    b->limb[1] = (uint32_t)(v >> 32);
    return big_trim(b);
}

static struct big *big_add(const struct big *a, const struct big *b) {
    if (a->len < b->len) {
        const struct big *t = a;
        a = b;
        b = t;
    }
    struct big *r = big_new(a->len + 1);
    uint64_t carry = 0;
    for (uint32_t i = 0; i < a->len; i++) {
        carry += (uint64_t)a->limb[i] + (i < b->len ? b->limb[i] : 0);
        r->limb[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r->limb[a->len] = (uint32_t)carry;
    return big_trim(r);
}

/* a * m + c */
static struct big *big_muladd_small(const struct big *a, uint32_t m, uint32_t c) {
    struct big *r = big_new(a->len + 1);
    uint64_t carry = c;
    for (uint32_t i = 0; i < a->len; i++) {
        carry += (uint64_t)a->limb[i] * m;
        r->limb[i] = (uint32_t)carry;
        carry >>= 32;
    }
    r->limb[a->len] = (uint32_t)carry;
    return big_trim(r);
}

static struct big *big_mul(const struct big *a, const struct big *b) {
    struct big *r = big_new(a->len + b->len);
    memset(r->limb, 0, (size_t)r->len * sizeof(uint32_t));
    for (uint32_t i = 0; i < a->len; i++) {
        uint64_t carry = 0;
        for (uint32_t j = 0; j < b->len; j++) {
            carry += (uint64_t)a->limb[i] * b->limb[j] + r->limb[i + j];
            r->limb[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        r->limb[i + b->len] = (uint32_t)carry;
    }
    return big_trim(r);
}

static struct big *big_half(const struct big *a) {
    struct big *r = big_new(a->len);
    for (uint32_t i = 0; i < a->len; i++) {
        uint32_t high = i + 1 < a->len ? a->limb[i + 1] : 0;
        r->limb[i] = (a->limb[i] >> 1) | (high << 31);
    }
    return big_trim(r);
}

/* a / d, the remainder in *rem. */
static struct big *big_divmod_small(const struct big *a, uint32_t d, uint32_t *rem) {
    struct big *r = big_new(a->len);
    uint64_t acc = 0;
    for (uint32_t i = a->len; i-- > 0;) {
        acc = acc << 32 | a->limb[i];
        r->limb[i] = (uint32_t)(acc / d);
        acc %= d;
    }
    *rem = (uint32_t)acc;
    return big_trim(r);
}

static int big_is_one(const struct big *a) {
    return a->len == 1 && a->limb[0] == 1;
}

static uint64_t big_hash(const struct big *a) {
    uint64_t h = a->len;
    for (uint32_t i = 0; i < a->len; i++) {
        h = mix(h, a->limb[i]);
    }
    return h;
}

/* The sum of the decimal digits of `a`, by repeated division by 10^9. */
static uint64_t digit_sum(const struct big *a) {
    uint64_t sum = 0;
    struct big *q = big_muladd_small(a, 1, 0); /* a copy, to free like the quotients */
    while (q->len > 0) {
        uint32_t group;
        struct big *next = big_divmod_small(q, 1000000000u, &group);
        free(q);
        q = next;
        for (; group != 0; group /= 10) {
            sum += group % 10;
        }
    }
    free(q);
    return sum;
}

static uint64_t one_seed(uint64_t seed) {
    struct rng r = rng_seeded(seed);
    /* The start: a product of 6 to 12 random 64-bit factors (odd, so that it is not 0). */
    struct big *n = big_from(1);
    int factors = (int)rng_range(&r, 6, 12);
    for (int i = 0; i < factors; i++) {
        struct big *f = big_from(rng_next(&r) | 1);
        struct big *p = big_mul(n, f);
        free(f);
        free(n);
        n = p;
    }
    uint64_t h = mix(seed, big_hash(n));
    /* Collatz down to 1; the ring holds the last RING values (each a copy of its own). */
    struct big *ring[RING] = {0};
    uint64_t steps = 0;
    while (!big_is_one(n)) {
        struct big *next = (n->limb[0] & 1) ? big_muladd_small(n, 3, 1) : big_half(n);
        free(n);
        n = next;
        int k = (int)(steps % RING);
        free(ring[k]);
        ring[k] = big_muladd_small(n, 1, 0);
        if (steps % 64 == 0) {
            h = mix(h, digit_sum(n));
        }
        steps++;
    }
    for (int k = 0; k < RING; k++) {
        if (ring[k] != NULL) {
            h = mix(h, big_hash(ring[k]));
            free(ring[k]);
        }
    }
    free(n);
    /* A Fibonacci chain from two seed-dependent values: each step one new number. */
    struct big *a = big_from(seed + 1), *b = big_from(seed * 7 + 3);
    for (int i = 0; i < 600; i++) {
        struct big *c = big_add(a, b);
        free(a);
        a = b;
        b = c;
    }
    h = mix(mix(h, steps), big_hash(b));
    free(a);
    free(b);
    return h;
}

struct worker {
    long seeds;
    uint64_t checksum;
};

static void *work(void *arg) {
    struct worker *w = arg;
    uint64_t h = 0;
    for (long s = 0; s < w->seeds; s++) {
        h = mix(h, one_seed((uint64_t)s));
    }
    w->checksum = h;
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "cfrac: multi-precision arithmetic, each number a small block");
    int n = o.threads;
    long seeds = scaled(&o, SEEDS);
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i].seeds = seeds;
    }
    double start = now_seconds();
    run_threads(n, work, workers, sizeof *workers);
    double elapsed = now_seconds() - start;
    uint64_t checksum = workers[0].checksum;
    for (int i = 1; i < n; i++) {
        if (workers[i].checksum != checksum) {
            corrupted("cfrac: threads computed different results", (uint64_t)i);
        }
    }
    free(workers);
    report_throughput((double)n * (double)seeds, elapsed);
    printf("cfrac threads=%d seeds=%ld checksum=%016llx\n", n, seeds, (unsigned long long)checksum);
    return 0;
}
