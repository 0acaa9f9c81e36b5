/*
 * demo.c: the worked example of memalloc's reference, through the C API.
 *
 * Build against the static or the shared library, then run:
 *
 *     cc -std=c11 -Wall -Wextra -pedantic -I include examples/demo.c \
 *        target/release/libmemalloc.a -lpthread -ldl -lm -o demo
 *     cc -std=c11 -Wall -Wextra -pedantic -I include examples/demo.c \
 *        -L target/release -lmemalloc -o demo && LD_LIBRARY_PATH=target/release ./demo
 */

#include <stdio.h>
#include <stdlib.h>

#include "memalloc.h"

/* ma_walk calls this once per extent, in address order; ends are inclusive. */
static int print_extent(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    static const char *const names[] = {"Free", "Allocated", "Padding"};
    int *first = ctx;
    printf("%s[%s(%zu-%zu)]", *first ? "    " : " ", kind <= MA_BLOCK_PADDING ? names[kind] : "?", start,
           start + size - 1);
    *first = 0;
    return 0; /* non-zero would stop the walk */
}

static void print_map(const ma_allocator *a) {
    int first = 1;
    ma_walk(a, print_extent, &first);
    printf("\n");
}

static void allocate(ma_allocator *a, size_t size) {
    size_t addr;
    ma_status s = ma_alloc(a, size, &addr);
    if (s == MA_OK) {
        printf("ma_alloc(a, %zu) -> %zu\n", size, addr);
    } else {
        printf("ma_alloc(a, %zu) -> error %d: %s\n", size, (int)s, ma_status_str(s));
    }
    print_map(a);
}

static void release(ma_allocator *a, size_t addr, size_t size) {
    ma_status s = ma_free(a, addr, size);
    if (s == MA_OK) {
        printf("ma_free(a, %zu, %zu) -> ok\n", addr, size);
    } else {
        printf("ma_free(a, %zu, %zu) -> error %d: %s\n", addr, size, (int)s, ma_status_str(s));
    }
    print_map(a);
}

int main(void) {
    ma_allocator *a = ma_create(100);
    if (a == NULL) {
        fprintf(stderr, "ma_create failed\n");
        return EXIT_FAILURE;
    }
    printf("memalloc %s, capacity 100\n", ma_version());
    print_map(a);

    allocate(a, 20);    /* -> 0  */
    allocate(a, 30);    /* -> 20 */
    allocate(a, 40);    /* -> 50 */
    release(a, 20, 30);
    allocate(a, 25);    /* -> 20: first fit */
    release(a, 0, 20);
    release(a, 20, 25); /* merges with both neighbours */

    release(a, 20, 25); /* a double free: an error, and nothing changes */

    ma_stats stats;
    ma_get_stats(a, &stats);
    printf("free %zu of %zu, largest free block %zu\n", stats.free, stats.capacity, stats.largest_free);
    ma_destroy(a);
    return EXIT_SUCCESS;
}
