/*
 * espresso: single-threaded churn of small linked structures, in the spirit of the espresso
 * logic minimizer of mimalloc-bench (covers of cubes: small bit sets in lists, copied,
 * cofactored and dropped recursively).
 *
 * A cube over VARS boolean variables holds two bits per variable (01: the variable is 0,
 * 10: it is 1, 11: either), in a list node of its own (a 32-byte block). For each random
 * cover (a list of cubes) the program counts the points it covers by Shannon expansion:
 * split on the variable used most, build the two cofactor covers (fresh copies of the
 * cubes that survive), recurse, free them. Then it adds the consensus of every pair of
 * cubes at distance one, drops cubes contained in others, sorts the cover (through an
 * array grown with realloc) and counts again: consensus adds no point, so both counts must
 * agree. The last KEEP minimized covers stay alive (freed as newer ones arrive), so the
 * heap holds long-lived blocks among the short-lived ones. With THREADS > 1, each thread does the whole work on its own (no sharing).
 *
 * Work: COVERS covers per thread (times SCALE%).
 */
#include "bench.h"

enum { VARS = 32, COVERS = 2000, KEEP = 200 };

struct cube {
    struct cube *next;
    uint64_t bits; /* two bits per variable */
    uint64_t spare; /* room for the literal count, as a real minimizer keeps */
};

static const uint64_t FULL = ~0ull; /* every variable free */

static struct cube *cube_new(uint64_t bits, struct cube *next) {
    struct cube *c = xmalloc(sizeof *c);
    c->bits = bits;
    c->spare = 0;
    c->next = next;
    return c;
}

static void cover_free(struct cube *c) {
    while (c != NULL) {
        struct cube *next = c->next;
        free(c);
        c = next;
    }
}

static inline unsigned part(uint64_t bits, int var) {
    return (unsigned)(bits >> (2 * var)) & 3u;
}

/* How many variables of `live` (a mask, bit v for variable v) the cube leaves free. */
static int free_vars(uint64_t bits, uint32_t live) {
    int n = 0;
    for (int v = 0; v < VARS; v++) {
        n += (live >> v & 1) && part(bits, v) == 3;
    }
    return n;
}

/* The number of points of the `live` variables' space that the cover covers. */
static uint64_t count_points(struct cube *cover, uint32_t live, int live_count) {
    if (cover == NULL) {
        return 0;
    }
    if (cover->next == NULL) {
        return 1ull << free_vars(cover->bits, live);
    }
    int uses[VARS] = {0};
    for (struct cube *c = cover; c != NULL; c = c->next) {
        int literals = 0;
        for (int v = 0; v < VARS; v++) {
            if ((live >> v & 1) && part(c->bits, v) != 3) {
                uses[v]++;
                literals++;
            }
        }
        if (literals == 0) {
            return 1ull << live_count; /* a cube that covers everything left */
        }
    }
    int split = 0;
    for (int v = 1; v < VARS; v++) {
        if (uses[v] > uses[split]) {
            split = v;
        }
    }
    /* The cofactors: the cubes that allow split = 0 (resp. 1), with the variable freed. */
    struct cube *low = NULL, *high = NULL;
    uint64_t freed = 3ull << (2 * split);
    for (struct cube *c = cover; c != NULL; c = c->next) {
        unsigned p = part(c->bits, split);
        if (p & 1) {
            low = cube_new(c->bits | freed, low);
        }
        if (p & 2) {
            high = cube_new(c->bits | freed, high);
        }
    }
    uint32_t rest = live & ~(1u << split);
    uint64_t n = count_points(low, rest, live_count - 1) + count_points(high, rest, live_count - 1);
    cover_free(low);
    cover_free(high);
    return n;
}

/* a contains b: every point of b is in a. */
static inline int contains(uint64_t a, uint64_t b) {
    return (a & b) == b;
}

/* Variables on which the cubes conflict (one says 0, the other 1): a mask of their low bits. */
static inline uint64_t conflicts(uint64_t a, uint64_t b) {
    uint64_t both = a & b;
    return ~(both | both >> 1) & 0x5555555555555555ull;
}

static int by_literals(const void *x, const void *y) {
    const struct cube *a = *(const struct cube *const *)x, *b = *(const struct cube *const *)y;
    int la = __builtin_popcountll(a->bits), lb = __builtin_popcountll(b->bits);
    if (la != lb) {
        return la < lb ? -1 : 1;
    }
    return a->bits < b->bits ? -1 : a->bits > b->bits;
}

/* Adds the consensus of every pair at distance one, then keeps only cubes that no other
 * cube contains (sorted: fewest free variables first); returns the new cover. */
static struct cube *consensus_and_prune(struct cube *cover, uint64_t *added) {
    struct cube *extra = NULL;
    for (struct cube *a = cover; a != NULL; a = a->next) {
        for (struct cube *b = a->next; b != NULL; b = b->next) {
            uint64_t clash = conflicts(a->bits, b->bits);
            if (clash != 0 && (clash & (clash - 1)) == 0) {
                extra = cube_new((a->bits & b->bits) | clash * 3, extra);
                ++*added;
            }
        }
    }
    /* All cubes into an array grown by realloc; sort; drop the contained ones. */
    struct cube **all = NULL;
    size_t count = 0, capacity = 0;
    for (struct cube *list = cover; list != NULL; list = list == cover ? extra : NULL) {
        for (struct cube *c = list; c != NULL; c = c->next) {
            if (count == capacity) {
                capacity = capacity == 0 ? 8 : capacity * 2;
                all = xrealloc(all, capacity * sizeof *all);
            }
            all[count++] = c;
        }
    }
    qsort(all, count, sizeof *all, by_literals);
    struct cube *kept = NULL;
    for (size_t i = count; i-- > 0;) {
        int covered = 0;
        for (size_t j = i + 1; j < count && !covered; j++) {
            covered = all[j] != NULL && contains(all[j]->bits, all[i]->bits);
        }
        if (covered) {
            free(all[i]);
            all[i] = NULL;
        }
    }
    for (size_t i = count; i-- > 0;) {
        if (all[i] != NULL) {
            all[i]->next = kept;
            kept = all[i];
        }
    }
    free(all);
    return kept;
}

/* Minimizes a random cover; returns its checksum and the minimized cover (in *out). */
static uint64_t one_cover(uint64_t seed, struct cube **out) {
    struct rng r = rng_seeded(seed);
    int cubes = (int)rng_range(&r, 12, 40);
    struct cube *cover = NULL;
    for (int i = 0; i < cubes; i++) {
        uint64_t bits = FULL;
        for (int v = 0; v < VARS; v++) {
            uint64_t x = rng_next(&r) % 100;
            if (x < 30) {
                bits &= ~(2ull << (2 * v)); /* the variable must be 0 */
            } else if (x < 60) {
                bits &= ~(1ull << (2 * v)); /* the variable must be 1 */
            }
        }
        cover = cube_new(bits, cover);
    }
    uint32_t all_vars = VARS == 32 ? ~0u : (1u << VARS) - 1;
    uint64_t before = count_points(cover, all_vars, VARS);
    uint64_t added = 0;
    cover = consensus_and_prune(cover, &added);
    uint64_t after = count_points(cover, all_vars, VARS);
    if (after != before) {
        corrupted("espresso: consensus changed the cover", seed);
    }
    uint64_t kept = 0;
    for (struct cube *c = cover; c != NULL; c = c->next) {
        kept = mix(kept, c->bits);
    }
    *out = cover;
    return mix(mix(before, added), kept);
}

struct worker {
    long covers;
    uint64_t checksum;
};

static void *work(void *arg) {
    struct worker *w = arg;
    uint64_t h = 0;
    struct cube *results[KEEP] = {0};
    for (long s = 0; s < w->covers; s++) {
        cover_free(results[s % KEEP]);
        h = mix(h, one_cover((uint64_t)s, &results[s % KEEP]));
    }
    for (int k = 0; k < KEEP; k++) {
        cover_free(results[k]);
    }
    w->checksum = h;
    return NULL;
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "espresso: covers of cubes, cofactored recursively");
    int n = o.threads;
    long covers = scaled(&o, COVERS);
    struct worker *workers = xcalloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
        workers[i].covers = covers;
    }
    double start = now_seconds();
    run_threads(n, work, workers, sizeof *workers);
    double elapsed = now_seconds() - start;
    uint64_t checksum = workers[0].checksum;
    for (int i = 1; i < n; i++) {
        if (workers[i].checksum != checksum) {
            corrupted("espresso: threads computed different results", (uint64_t)i);
        }
    }
    free(workers);
    report_throughput((double)n * (double)covers, elapsed);
    printf("espresso threads=%d covers=%ld checksum=%016llx\n", n, covers, (unsigned long long)checksum);
    return 0;
}
