/* Bad pointers given to the heap, one per run: argv[1] names the case. Prints the pointer
 * (as "%p") on stdout first, then makes the bad call, which must abort the process with
 * one line on stderr naming that pointer. Exits 0 only if the call returned.
 * The "small-" cases use a block of 24 bytes (in the fast mode: a slab's block, which
 * waits in the freeing thread's cache after its free), the "large-" ones 100000 bytes. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void announce(void *p) { printf("%p\n", p); }

static atomic_int freed_by_other_thread;

/* Frees its argument, then stays alive (its thread cache with it) until the process ends. */
static void *free_and_stay(void *p) {
    free(p);
    atomic_store(&freed_by_other_thread, 1);
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    static char not_from_the_heap[64];
    const char *what = argc > 1 ? argv[1] : "";
    /* Unbuffered: printing allocates nothing that could reuse a freed block. */
    setvbuf(stdout, NULL, _IONBF, 0);
    char *p = malloc(64);
    if (strcmp(what, "double-free") == 0) {
        free(p);
        announce(p);
        free(p);
    } else if (strcmp(what, "foreign-free") == 0) {
        announce(not_from_the_heap + 16);
        free(not_from_the_heap + 16);
    } else if (strcmp(what, "interior-free") == 0) {
        announce(p + 16);
        free(p + 16);
    } else if (strcmp(what, "foreign-realloc") == 0) {
        announce(not_from_the_heap);
        p = realloc(not_from_the_heap, 10);
    } else if (strcmp(what, "freed-realloc") == 0) {
        free(p);
        announce(p);
        p = realloc(p, 10);
    } else if (strcmp(what, "freed-usable-size") == 0) {
        free(p);
        announce(p);
        printf("%zu\n", malloc_usable_size(p));
    } else if (strcmp(what, "small-double-free") == 0) {
        char *q = malloc(24);
        free(q);
        announce(q);
        free(q);
    } else if (strcmp(what, "small-double-free-other-thread") == 0) {
        /* The block waits in another, still running thread's cache. */
        char *q = malloc(24);
        pthread_t t;
        if (pthread_create(&t, NULL, free_and_stay, q) != 0) return 2;
        while (!atomic_load(&freed_by_other_thread)) usleep(1000);
        announce(q);
        free(q);
    } else if (strcmp(what, "small-interior-free") == 0) {
        char *q = malloc(24);
        announce(q + 8);
        free(q + 8);
    } else if (strcmp(what, "small-never-allocated") == 0) {
        /* A block start of the same slab (64 KiB) that no malloc returned yet: 200 blocks
         * of 32 bytes further, past what the first refill carved. */
        char *q = malloc(24);
        announce(q + 200 * 32);
        free(q + 200 * 32);
    } else if (strcmp(what, "small-interior-realloc") == 0) {
        char *q = malloc(24);
        announce(q + 8);
        q = realloc(q + 8, 100);
    } else if (strcmp(what, "small-interior-usable-size") == 0) {
        char *q = malloc(24);
        announce(q + 8);
        printf("%zu\n", malloc_usable_size(q + 8));
    } else if (strcmp(what, "large-double-free") == 0) {
        char *q = malloc(100000);
        free(q);
        announce(q);
        free(q);
    } else if (strcmp(what, "large-interior-free") == 0) {
        char *q = malloc(100000);
        announce(q + 16);
        free(q + 16);
    } else {
        fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    return 0;
}
