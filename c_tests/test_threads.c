/*
 * test_threads.c: 8 pthreads hammering one handle with ma_alloc, ma_alloc_aligned,
 * ma_free, ma_free_at, ma_realloc, ma_size_of, ma_get_stats and ma_walk at random, under
 * every policy, with min_alignment 1 and 16.
 *
 * Overlap is caught as it happens: every thread claims each unit of every block it
 * receives in a shared ownership array (compare-and-swap from 0 to its id), and gives
 * the claim back before it frees, so two threads holding one unit is a failed claim.
 * Every walk, taken under the allocator's lock, must tile the range and show the
 * thread's own blocks where it put them. After joining, the allocated extents of the map
 * must be exactly the union of the blocks the threads still hold; then the threads free
 * everything, in parallel, and the map is one free block.
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
#define ITERATIONS 20000
#define MAX_LIVE 32
#define CAPACITY ((size_t)1 << 14)

/* One thread's blocks and what went wrong for it. */
typedef struct worker {
    ma_allocator *a;
    _Atomic unsigned char *owner; /* CAPACITY entries: 0 or the id of the holder */
    unsigned char id;             /* 1..THREADS */
    ctest_rng rng;
    size_t live_addr[MAX_LIVE];
    size_t live_size[MAX_LIVE];
    size_t live;
    size_t min_alignment;
    int merges_adjacent; /* 0 for buddy: its free blocks may touch */
    /* Counters, read by the main thread after joining. */
    size_t ops, ooms, walks, problems;
    char first_problem[200];
} worker;

static void problem(worker *w, const char *what, size_t addr, size_t size, ma_status s) {
    if (w->problems++ == 0) {
        snprintf(w->first_problem, sizeof w->first_problem, "thread %d: %s (addr %zu, size %zu, status %s)",
                 (int)w->id, what, addr, size, ctest_status_name(s));
    }
}

/* Claims [addr, addr + size) for w; a unit already held by another thread is an overlap. */
static void claim(worker *w, size_t addr, size_t size) {
    if (addr >= CAPACITY || size > CAPACITY - addr) {
        problem(w, "block outside the range", addr, size, MA_OK);
        return;
    }
    for (size_t u = addr; u < addr + size; u++) {
        unsigned char expected = 0;
        if (!atomic_compare_exchange_strong(&w->owner[u], &expected, w->id)) {
            problem(w, "overlap: a unit of the new block is held by another thread", u, size, MA_OK);
            return;
        }
    }
}

/* Gives back the claim on [addr, addr + size); each unit must still be w's. */
static void unclaim(worker *w, size_t addr, size_t size) {
    for (size_t u = addr; u < addr + size; u++) {
        unsigned char expected = w->id;
        if (!atomic_compare_exchange_strong(&w->owner[u], &expected, 0)) {
            problem(w, "a unit of an own block was taken over", u, size, MA_OK);
            return;
        }
    }
}

static size_t random_size(worker *w) {
    size_t r = ctest_rng_below(&w->rng, 100);
    if (r < 60) return 1 + ctest_rng_below(&w->rng, 32);
    if (r < 95) return 1 + ctest_rng_below(&w->rng, 256);
    return 1 + ctest_rng_below(&w->rng, 2048);
}

static void do_alloc(worker *w) {
    size_t size = random_size(w), addr = CTEST_SENTINEL, align = 1;
    ma_status s;
    if (ctest_rng_below(&w->rng, 10) == 0) {
        align = (size_t)1 << ctest_rng_below(&w->rng, 8);
        s = ma_alloc_aligned(w->a, size, align, &addr);
    } else {
        s = ma_alloc(w->a, size, &addr);
    }
    if (s == MA_ERR_OUT_OF_MEMORY) {
        w->ooms++;
        if (addr != CTEST_SENTINEL) problem(w, "out of memory wrote its out-parameter", addr, size, s);
        return;
    }
    if (s != MA_OK) {
        problem(w, "ma_alloc failed", addr, size, s);
        return;
    }
    if (addr % align != 0 || addr % w->min_alignment != 0) {
        problem(w, "misaligned block", addr, size, s);
    }
    claim(w, addr, size);
    w->live_addr[w->live] = addr;
    w->live_size[w->live] = size;
    w->live++;
}

static void drop(worker *w, size_t i) {
    w->live--;
    w->live_addr[i] = w->live_addr[w->live];
    w->live_size[i] = w->live_size[w->live];
}

static void do_free(worker *w, size_t i) {
    size_t addr = w->live_addr[i], size = w->live_size[i];
    unclaim(w, addr, size);
    ma_status s = ctest_rng_below(&w->rng, 2) ? ma_free(w->a, addr, size) : ma_free_at(w->a, addr);
    if (s != MA_OK) problem(w, "freeing an own block failed", addr, size, s);
    drop(w, i);
}

static void do_realloc(worker *w, size_t i) {
    size_t addr = w->live_addr[i], size = w->live_size[i], new_size = random_size(w), out = CTEST_SENTINEL;
    /* Give the claim back first: once moved, the old block may go to another thread. */
    unclaim(w, addr, size);
    ma_status s = ma_realloc(w->a, addr, size, new_size, &out);
    if (s == MA_ERR_OUT_OF_MEMORY) {
        w->ooms++;
        if (out != CTEST_SENTINEL) problem(w, "out of memory wrote its out-parameter", addr, new_size, s);
        claim(w, addr, size); /* the old block stays ours */
        return;
    }
    if (s != MA_OK) {
        problem(w, "ma_realloc failed", addr, size, s);
        drop(w, i);
        return;
    }
    if (new_size <= size && out != addr) problem(w, "a shrink moved the block", addr, new_size, s);
    claim(w, out, new_size);
    w->live_addr[i] = out;
    w->live_size[i] = new_size;
}

static void do_size_of(worker *w, size_t i) {
    size_t size = CTEST_SENTINEL;
    ma_status s = ma_size_of(w->a, w->live_addr[i], &size);
    if (s != MA_OK || size != w->live_size[i]) problem(w, "ma_size_of disagrees", w->live_addr[i], size, s);
}

static void do_stats(worker *w) {
    ma_stats st;
    ma_status s = ma_get_stats(w->a, &st);
    if (s != MA_OK || st.capacity != CAPACITY || st.allocated + st.free + st.padding != st.capacity ||
        st.largest_free > st.free || st.allocations < w->live) {
        problem(w, "inconsistent stats", st.allocated, st.free, s);
    }
}

/* Every walk is a consistent snapshot: it tiles the range (free extents never adjacent,
   or under buddy powers of two aligned to their size), and it shows each block that this
   thread holds (no other thread can free them). */
static void do_walk(worker *w) {
    ctest_map m;
    ma_status s = ctest_map_take(w->a, &m);
    w->walks++;
    size_t at = 0;
    int tiles = s == MA_OK;
    for (size_t i = 0; tiles && i < m.len; i++) {
        const ctest_extent *e = &m.extents[i];
        tiles = e->start == at && e->size > 0;
        if (e->kind == MA_BLOCK_FREE && w->merges_adjacent) {
            tiles = tiles && !(i > 0 && m.extents[i - 1].kind == MA_BLOCK_FREE);
        } else if (e->kind == MA_BLOCK_FREE) {
            tiles = tiles && (e->size & (e->size - 1)) == 0 && e->start % e->size == 0;
        }
        at += m.extents[i].size;
    }
    if (!tiles || at != CAPACITY) problem(w, "a walk does not tile the range", at, m.len, s);
    for (size_t j = 0; j < w->live; j++) {
        size_t lo = 0, hi = m.len; /* binary search for the extent starting at the block */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (m.extents[mid].start < w->live_addr[j]) lo = mid + 1;
            else hi = mid;
        }
        if (lo == m.len || m.extents[lo].start != w->live_addr[j] || m.extents[lo].size != w->live_size[j] ||
            m.extents[lo].kind != MA_BLOCK_ALLOCATED) {
            problem(w, "a walk does not show an own block", w->live_addr[j], w->live_size[j], s);
        }
    }
    ctest_map_free(&m);
}

static void *hammer(void *arg) {
    worker *w = arg;
    for (size_t n = 0; n < ITERATIONS; n++) {
        size_t r = ctest_rng_below(&w->rng, 100);
        w->ops++;
        if (w->live == 0 || (r < 45 && w->live < MAX_LIVE)) {
            do_alloc(w);
        } else if (r < 80) {
            do_free(w, ctest_rng_below(&w->rng, w->live));
        } else if (r < 90) {
            do_realloc(w, ctest_rng_below(&w->rng, w->live));
        } else if (r < 95) {
            do_size_of(w, ctest_rng_below(&w->rng, w->live));
        } else if (r < 98) {
            do_stats(w);
        } else {
            do_walk(w);
        }
    }
    return NULL;
}

static void *free_all(void *arg) {
    worker *w = arg;
    while (w->live > 0) {
        do_free(w, w->live - 1);
    }
    return NULL;
}

static int compare_extents(const void *x, const void *y) {
    const ctest_extent *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
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

static void hammer_one_handle(const ctest_policy *p, size_t min_alignment) {
    ctest_case("%d threads, one handle / %s, min_alignment %zu", THREADS, p->name, min_alignment);
    ma_allocator *a = ctest_create(p->policy, CAPACITY, min_alignment);
    _Atomic unsigned char *owner = calloc(CAPACITY, sizeof *owner);
    worker *workers = calloc(THREADS, sizeof *workers);
    CHECK(owner != NULL && workers != NULL);
    if (!a || !owner || !workers) {
        ctest_destroy(a);
        free(owner);
        free(workers);
        return;
    }
    for (int i = 0; i < THREADS; i++) {
        workers[i].a = a;
        workers[i].owner = owner;
        workers[i].id = (unsigned char)(i + 1);
        workers[i].min_alignment = min_alignment;
        workers[i].merges_adjacent = p->merges_adjacent;
        ctest_rng_seed(&workers[i].rng, 0x5EED0000u + (uint64_t)i * 7919u + min_alignment);
    }
    if (!run_threads(workers, hammer)) goto done;

    size_t problems = 0, ops = 0, ooms = 0, walks = 0, live = 0, live_units = 0;
    for (int i = 0; i < THREADS; i++) {
        if (workers[i].problems) printf("    %s\n", workers[i].first_problem);
        problems += workers[i].problems;
        ops += workers[i].ops;
        ooms += workers[i].ooms;
        walks += workers[i].walks;
        live += workers[i].live;
        for (size_t j = 0; j < workers[i].live; j++) live_units += workers[i].live_size[j];
    }
    CHECK_SIZE(problems, 0);
    CHECK_SIZE(ops, (size_t)THREADS * ITERATIONS);
    CHECK(walks > 0);
    printf("    %s, min_alignment %zu: %zu operations, %zu out of memory, %zu walks, %zu blocks held at the end\n",
           p->name, min_alignment, ops, ooms, walks, live);

    /* The allocated extents are exactly the blocks the threads hold. */
    CHECK_INVARIANTS(a);
    ctest_extent *held = malloc((live ? live : 1) * sizeof *held);
    ctest_map m;
    CHECK_STATUS(ctest_map_take(a, &m), MA_OK);
    if (held) {
        size_t n = 0;
        for (int i = 0; i < THREADS; i++) {
            for (size_t j = 0; j < workers[i].live; j++) {
                held[n].start = workers[i].live_addr[j];
                held[n].size = workers[i].live_size[j];
                held[n].kind = MA_BLOCK_ALLOCATED;
                n++;
            }
        }
        qsort(held, n, sizeof *held, compare_extents);
        size_t k = 0, mismatches = 0;
        for (size_t i = 0; i < m.len; i++) {
            if (m.extents[i].kind != MA_BLOCK_ALLOCATED) continue;
            if (k >= n || held[k].start != m.extents[i].start || held[k].size != m.extents[i].size) mismatches++;
            k++;
        }
        CHECK_SIZE(k, n);
        CHECK_SIZE(mismatches, 0);
    }
    free(held);
    ctest_map_free(&m);
    ma_stats st;
    CHECK_STATUS(ma_get_stats(a, &st), MA_OK);
    CHECK_SIZE(st.allocations, live);
    CHECK_SIZE(st.allocated, live_units);

    /* Everything freed, in parallel: one free block (below the aligned tail, if any). */
    if (!run_threads(workers, free_all)) goto done;
    problems = 0;
    for (int i = 0; i < THREADS; i++) {
        if (workers[i].problems) printf("    %s\n", workers[i].first_problem);
        problems += workers[i].problems;
    }
    CHECK_SIZE(problems, 0);
    CHECK_MAP(a, FREE(0, CAPACITY));
    CHECK_STATS(a, CAPACITY, 0, CAPACITY, CAPACITY, 1, 0, 0);
    size_t still_owned = 0;
    for (size_t u = 0; u < CAPACITY; u++) still_owned += atomic_load(&owner[u]) != 0;
    CHECK_SIZE(still_owned, 0);

done:
    ctest_destroy(a);
    free(owner);
    free(workers);
}

int ma_ctest_threads(void) {
    ctest_begin("threads");
    for (size_t i = 0; i < ctest_policy_count; i++) {
        hammer_one_handle(&ctest_policies[i], 1);
        hammer_one_handle(&ctest_policies[i], 16);
    }
    return ctest_end();
}
