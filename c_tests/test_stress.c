/*
 * test_stress.c: 8 threads pass blocks to each other through a shared queue, for every
 * policy (MA_POLICY_FIRST_FIT..MA_POLICY_BUDDY), with min_alignment 1 and 16.
 *
 * Each thread, at random: allocates a block (sometimes aligned) and pushes it on the
 * queue; or pops a block, most often one that another thread allocated, and frees it
 * (ma_free or ma_free_at), or reallocates it and pushes it back. The addresses are
 * abstract, so instead of a fill pattern every block carries a token (unique per
 * allocation) and claims each of its units in a shared ownership array with an atomic
 * compare-and-swap from 0 to the token; the claim is given back (token to 0) just before
 * the block is freed or reallocated. A unit already claimed is an overlap; a popped block
 * whose units no longer hold its token was overwritten.
 *
 * After joining: the map tiles [0, capacity), its allocated extents are exactly the
 * blocks left in the queue, and the stats agree with the map. Then 8 threads drain the
 * queue in parallel, after which the whole range is free: one free block, or for buddy
 * the top-level decomposition of the capacity (free space == capacity).
 *
 * CAPACITY is not a power of two, so that buddy has several top-level blocks.
 */

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "memalloc.h"
#include "support.h"

#define THREADS 8
#ifndef STRESS_ITERATIONS
#define STRESS_ITERATIONS 4000 /* per thread and configuration */
#endif
#define CAPACITY ((size_t)15000) /* 8192 + 4096 + 2048 + 512 + 128 + 16 + 8 */
#define QUEUE_CAP 1024

/* A block in flight: who allocated it, and the token its units hold. */
typedef struct entry {
    size_t addr;
    size_t size;
    uint32_t token;
    int allocator_id;
} entry;

/* The queue between threads: a ring buffer under a mutex. */
typedef struct queue {
    pthread_mutex_t lock;
    entry items[QUEUE_CAP];
    size_t head, len;
} queue;

/* State shared by the threads of one run. */
typedef struct shared {
    ma_allocator *a;
    size_t min_alignment;
    _Atomic uint32_t *owner; /* CAPACITY entries: 0 or the token of the block holding the unit */
    atomic_uint next_token;
    queue q;
} shared;

/* One thread's view and what went wrong for it. */
typedef struct worker {
    shared *s;
    int id;
    ctest_rng rng;
    size_t allocs, frees, handed_over, reallocs, ooms, problems;
    char first_problem[200];
} worker;

static void problem(worker *w, const char *what, size_t addr, size_t size, ma_status st) {
    if (w->problems++ == 0) {
        snprintf(w->first_problem, sizeof w->first_problem, "thread %d: %s (addr %zu, size %zu, status %s)", w->id,
                 what, addr, size, ctest_status_name(st));
    }
}

static int push(queue *q, entry e) {
    pthread_mutex_lock(&q->lock);
    int ok = q->len < QUEUE_CAP;
    if (ok) {
        q->items[(q->head + q->len) % QUEUE_CAP] = e;
        q->len++;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Pops a random entry (not only the oldest, so that blocks meet every thread). */
static int pop(queue *q, ctest_rng *rng, entry *out) {
    pthread_mutex_lock(&q->lock);
    int ok = q->len > 0;
    if (ok) {
        size_t k = (q->head + ctest_rng_below(rng, q->len)) % QUEUE_CAP;
        *out = q->items[k];
        q->items[k] = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        q->len--;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Claims every unit of e for its token; a unit held by another block is an overlap. */
static void claim(worker *w, const entry *e) {
    if (e->addr >= CAPACITY || e->size > CAPACITY - e->addr) {
        problem(w, "block outside the range", e->addr, e->size, MA_OK);
        return;
    }
    for (size_t u = e->addr; u < e->addr + e->size; u++) {
        uint32_t expected = 0;
        if (!atomic_compare_exchange_strong(&w->s->owner[u], &expected, e->token)) {
            problem(w, "overlap: a unit of a new block belongs to a live block", u, e->size, MA_OK);
            return;
        }
    }
}

/* Gives back the claim of e; every unit must still hold e's token. */
static void unclaim(worker *w, const entry *e) {
    for (size_t u = e->addr; u < e->addr + e->size; u++) {
        uint32_t expected = e->token;
        if (!atomic_compare_exchange_strong(&w->s->owner[u], &expected, 0)) {
            problem(w, "a unit of a live block was taken over", u, e->size, MA_OK);
            return;
        }
    }
}

static size_t random_size(worker *w) {
    size_t r = ctest_rng_below(&w->rng, 100);
    if (r < 70) return 1 + ctest_rng_below(&w->rng, 32);
    if (r < 97) return 1 + ctest_rng_below(&w->rng, 256);
    return 1 + ctest_rng_below(&w->rng, 2048);
}

static uint32_t new_token(worker *w) {
    return atomic_fetch_add(&w->s->next_token, 1) + 1;
}

static void do_alloc(worker *w) {
    size_t size = random_size(w), addr = CTEST_SENTINEL, align = 1;
    ma_status st;
    if (ctest_rng_below(&w->rng, 8) == 0) {
        align = (size_t)1 << ctest_rng_below(&w->rng, 7);
        st = ma_alloc_aligned(w->s->a, size, align, &addr);
    } else {
        st = ma_alloc(w->s->a, size, &addr);
    }
    if (st == MA_ERR_OUT_OF_MEMORY) {
        w->ooms++;
        if (addr != CTEST_SENTINEL) problem(w, "out of memory wrote its out-parameter", addr, size, st);
        return;
    }
    if (st != MA_OK) {
        problem(w, "allocation failed", addr, size, st);
        return;
    }
    if (addr % align != 0 || addr % w->s->min_alignment != 0) problem(w, "misaligned block", addr, size, st);
    entry e = {addr, size, new_token(w), w->id};
    claim(w, &e);
    w->allocs++;
    if (!push(&w->s->q, e)) {
        /* The queue is full: free it here. */
        unclaim(w, &e);
        st = ma_free(w->s->a, e.addr, e.size);
        if (st != MA_OK) problem(w, "freeing an own block failed", e.addr, e.size, st);
        w->frees++;
    }
}

/* Frees a block popped from the queue, checking first that it is intact. */
static void free_entry(worker *w, const entry *e) {
    size_t size = CTEST_SENTINEL;
    ma_status st = ma_size_of(w->s->a, e->addr, &size);
    if (st != MA_OK || size != e->size) problem(w, "ma_size_of disagrees with a handed-over block", e->addr, size, st);
    unclaim(w, e);
    st = ctest_rng_below(&w->rng, 2) ? ma_free(w->s->a, e->addr, e->size) : ma_free_at(w->s->a, e->addr);
    if (st != MA_OK) problem(w, "freeing a handed-over block failed", e->addr, e->size, st);
    w->frees++;
    if (e->allocator_id != w->id) w->handed_over++;
}

static void do_realloc(worker *w, entry e) {
    size_t new_size = random_size(w), out = CTEST_SENTINEL;
    /* Give the claim back first: once moved, the old block may go to another thread. */
    unclaim(w, &e);
    ma_status st = ma_realloc(w->s->a, e.addr, e.size, new_size, &out);
    if (st == MA_ERR_OUT_OF_MEMORY) {
        w->ooms++;
        if (out != CTEST_SENTINEL) problem(w, "out of memory wrote its out-parameter", e.addr, new_size, st);
    } else if (st != MA_OK) {
        problem(w, "ma_realloc of a handed-over block failed", e.addr, e.size, st);
        return;
    } else {
        if (new_size <= e.size && out != e.addr) problem(w, "a shrink moved the block", e.addr, new_size, st);
        if (out % w->s->min_alignment != 0) problem(w, "misaligned reallocated block", out, new_size, st);
        e.addr = out;
        e.size = new_size;
        w->reallocs++;
    }
    e.token = new_token(w);
    claim(w, &e);
    if (!push(&w->s->q, e)) free_entry(w, &e);
}

static void *churn(void *arg) {
    worker *w = arg;
    for (size_t n = 0; n < STRESS_ITERATIONS; n++) {
        size_t r = ctest_rng_below(&w->rng, 100);
        entry e;
        if (r < 50 || !pop(&w->s->q, &w->rng, &e)) {
            do_alloc(w);
        } else if (r < 85) {
            free_entry(w, &e);
        } else {
            do_realloc(w, e);
        }
    }
    return NULL;
}

static void *drain(void *arg) {
    worker *w = arg;
    entry e;
    while (pop(&w->s->q, &w->rng, &e)) {
        free_entry(w, &e);
    }
    return NULL;
}

/* Runs fn on every worker in its own thread and joins them; 0 if a thread could not start. */
static int run_threads(worker *workers, void *(*fn)(void *)) {
    pthread_t threads[THREADS];
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
        if (pthread_create(&threads[i], NULL, fn, &workers[i]) != 0) break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    return CHECK(started == THREADS);
}

static size_t collect_problems(worker *workers) {
    size_t problems = 0;
    for (int i = 0; i < THREADS; i++) {
        if (workers[i].problems) printf("    %s\n", workers[i].first_problem);
        problems += workers[i].problems;
    }
    return problems;
}

static int compare_entries(const void *x, const void *y) {
    const entry *a = x, *b = y;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The units below min_alignment at the end of the range, which no aligned block can use:
   the map shows them as padding. */
static size_t usable(size_t min_alignment) {
    return CAPACITY & ~(min_alignment - 1);
}

/* The map tiles [0, CAPACITY) without empty extents, padding follows an allocation (or is
   the unusable tail), free extents never touch (except under buddy), the stats agree
   with it, and its allocated extents are exactly `held` (sorted by address). */
static void check_map_and_stats(const ma_allocator *a, uint32_t policy, size_t min_alignment, const entry *held,
                                size_t n) {
    ctest_map m;
    ma_stats st;
    CHECK_STATUS(ctest_map_take(a, &m), MA_OK);
    CHECK_STATUS(ma_get_stats(a, &st), MA_OK);
    size_t at = 0, tiles = 1, sums[3] = {0, 0, 0}, counts[3] = {0, 0, 0}, largest = 0, k = 0, mismatches = 0;
    for (size_t i = 0; i < m.len; i++) {
        const ctest_extent *e = &m.extents[i];
        int kind = e->kind;
        if (e->start != at || e->size == 0 || kind < 0 || kind > 2) tiles = 0;
        int tail = i + 1 == m.len && e->start == usable(min_alignment);
        if (kind == MA_BLOCK_PADDING && !tail && (i == 0 || m.extents[i - 1].kind != MA_BLOCK_ALLOCATED)) tiles = 0;
        if (kind == MA_BLOCK_FREE && i > 0 && m.extents[i - 1].kind == MA_BLOCK_FREE && policy != MA_POLICY_BUDDY) {
            tiles = 0;
        }
        if (kind >= 0 && kind <= 2) {
            sums[kind] += e->size;
            counts[kind]++;
        }
        if (kind == MA_BLOCK_FREE && e->size > largest) largest = e->size;
        if (kind == MA_BLOCK_ALLOCATED) {
            if (k >= n || held[k].addr != e->start || held[k].size != e->size) mismatches++;
            k++;
        }
        at += e->size;
    }
    CHECK(tiles);
    CHECK_SIZE(at, CAPACITY);
    CHECK_SIZE(k, n);
    CHECK_SIZE(mismatches, 0);
    CHECK_SIZE(st.capacity, CAPACITY);
    CHECK_SIZE(st.allocated + st.free + st.padding, st.capacity);
    CHECK_SIZE(st.allocated, sums[MA_BLOCK_ALLOCATED]);
    CHECK_SIZE(st.free, sums[MA_BLOCK_FREE]);
    CHECK_SIZE(st.padding, sums[MA_BLOCK_PADDING]);
    CHECK_SIZE(st.allocations, counts[MA_BLOCK_ALLOCATED]);
    CHECK_SIZE(st.free_blocks, counts[MA_BLOCK_FREE]);
    CHECK_SIZE(st.largest_free, largest);
    ctest_map_free(&m);
}

/* Everything is free: the usable range is one block, or under buddy its top-level blocks
   (decreasing powers of two from address 0); the unusable tail stays padding. */
static void check_all_free(const ma_allocator *a, uint32_t policy, size_t min_alignment) {
    const size_t range = usable(min_alignment);
    ma_stats st;
    CHECK_STATUS(ma_get_stats(a, &st), MA_OK);
    CHECK_SIZE(st.free, range);
    CHECK_SIZE(st.allocations, 0);
    CHECK_SIZE(st.allocated, 0);
    CHECK_SIZE(st.padding, CAPACITY - range);
    ctest_extent want[65];
    size_t n = 0, at = 0;
    for (int bit = 63; bit >= 0; bit--) {
        /* Buddy: one block per set bit of the range, largest first. Others: one block. */
        size_t block = policy == MA_POLICY_BUDDY ? range & ((size_t)1 << bit) : (bit == 0 ? range : 0);
        if (block) {
            want[n].start = at;
            want[n].size = block;
            want[n].kind = MA_BLOCK_FREE;
            n++;
            at += block;
        }
    }
    if (range < CAPACITY) {
        want[n].start = range;
        want[n].size = CAPACITY - range;
        want[n].kind = MA_BLOCK_PADDING;
        n++;
    }
    ctest_check_map(a, want, n, __FILE__, __LINE__,
                    policy == MA_POLICY_BUDDY ? "the top-level blocks of the range" : "one free block");
    CHECK_SIZE(st.free_blocks, range < CAPACITY ? n - 1 : n);
    CHECK_SIZE(st.largest_free, want[0].size);
}

static void stress(uint32_t policy, size_t min_alignment) {
    static const char *const names[] = {"first-fit", "best-fit", "tlsf", "buddy"};
    ctest_case("stress: %d threads, blocks handed over / %s, min_alignment %zu", THREADS, names[policy], min_alignment);
    shared *s = calloc(1, sizeof *s);
    worker *workers = calloc(THREADS, sizeof *workers);
    _Atomic uint32_t *owner = calloc(CAPACITY, sizeof *owner);
    ma_allocator *a = ctest_create(policy, CAPACITY, min_alignment);
    CHECK(s != NULL && workers != NULL && owner != NULL);
    if (!s || !workers || !owner || !a) goto done;
    s->a = a;
    s->min_alignment = min_alignment;
    s->owner = owner;
    atomic_init(&s->next_token, 0);
    pthread_mutex_init(&s->q.lock, NULL);
    for (int i = 0; i < THREADS; i++) {
        workers[i].s = s;
        workers[i].id = i + 1;
        ctest_rng_seed(&workers[i].rng, 0x57E55u + (uint64_t)i * 104729u + policy * 31u + min_alignment);
    }

    if (!run_threads(workers, churn)) goto destroy_lock;
    CHECK_SIZE(collect_problems(workers), 0);
    size_t allocs = 0, frees = 0, handed = 0, reallocs = 0, ooms = 0;
    for (int i = 0; i < THREADS; i++) {
        allocs += workers[i].allocs;
        frees += workers[i].frees;
        handed += workers[i].handed_over;
        reallocs += workers[i].reallocs;
        ooms += workers[i].ooms;
    }
    printf("    %s, min_alignment %zu: %zu allocations, %zu frees (%zu by another thread), %zu reallocations, "
           "%zu out of memory, %zu blocks in the queue\n",
           names[policy], min_alignment, allocs, frees, handed, reallocs, ooms, s->q.len);
    CHECK(handed > 0);
    CHECK_SIZE(allocs, frees + s->q.len);

    /* The allocated extents are exactly the blocks in the queue. */
    entry *held = malloc((s->q.len ? s->q.len : 1) * sizeof *held);
    CHECK(held != NULL);
    if (held) {
        for (size_t i = 0; i < s->q.len; i++) held[i] = s->q.items[(s->q.head + i) % QUEUE_CAP];
        qsort(held, s->q.len, sizeof *held, compare_entries);
        check_map_and_stats(a, policy, min_alignment, held, s->q.len);
        free(held);
    }

    /* Drained in parallel: everything free again, no unit still claimed. */
    if (!run_threads(workers, drain)) goto destroy_lock;
    CHECK_SIZE(collect_problems(workers), 0);
    check_map_and_stats(a, policy, min_alignment, NULL, 0);
    check_all_free(a, policy, min_alignment);
    size_t still_owned = 0;
    for (size_t u = 0; u < CAPACITY; u++) still_owned += atomic_load(&owner[u]) != 0;
    CHECK_SIZE(still_owned, 0);

destroy_lock:
    pthread_mutex_destroy(&s->q.lock);
done:
    ma_destroy(a);
    free(owner);
    free(workers);
    free(s);
}

int ma_ctest_stress(void) {
    ctest_begin("stress");
    for (uint32_t policy = MA_POLICY_FIRST_FIT; policy <= MA_POLICY_BUDDY; policy++) {
        stress(policy, 1);
        stress(policy, 16);
    }
    return ctest_end();
}
