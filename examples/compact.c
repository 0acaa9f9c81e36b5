/*
 * compact.c: a heap of real bytes, fragmented, then packed with a compaction plan.
 *
 * memalloc manages addresses only, so here the "memory" is a malloc'ed buffer and an
 * address is an offset into it. Records of text are allocated, every other one is freed
 * (the free space is now in holes too small for a large request), and ma_compact returns
 * the moves that pack the rest toward 0; the program performs them with memmove, in the
 * order given, and checks that every record still reads as before. One record is pinned
 * (think of a buffer a device is reading): it stays where it is.
 *
 * Build (from the repository root, after `cargo build --release`):
 *     cc -std=c11 -Wall -Wextra -Iinclude examples/compact.c target/release/libmemalloc.a \
 *        -lpthread -ldl -lm -o compact && ./compact
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memalloc.h"

#define CAPACITY 3072
#define RECORDS 48

/* One record the program keeps: where it is and what it holds. */
struct record {
    size_t addr, size;
    char text[48];
    int live;
};

static int check(ma_status s, const char *what) {
    if (s != MA_OK) {
        fprintf(stderr, "%s: %s\n", what, ma_status_str(s));
        exit(1);
    }
    return 1;
}

static void print_stats(const char *when, ma_allocator *a) {
    ma_stats st;
    check(ma_get_stats(a, &st), "ma_get_stats");
    printf("%-16s %zu records, %zu bytes free in %zu blocks, largest %zu\n", when, st.allocations, st.free,
           st.free_blocks, st.largest_free);
}

int main(void) {
    unsigned char *memory = malloc(CAPACITY);
    ma_allocator *a = ma_create(CAPACITY);
    struct record records[RECORDS];
    if (!memory || !a) return 1;

    /* Records of 40 to 87 bytes, each holding its own text. Record 20 is pinned. */
    for (int i = 0; i < RECORDS; i++) {
        struct record *r = &records[i];
        r->size = 40 + (size_t)(i * 37 % 48);
        snprintf(r->text, sizeof r->text, "record %d, %zu bytes", i, r->size);
        ma_request req;
        ma_request_init(&req, r->size);
        req.tag = (uint64_t)(i % 3);
        if (i == 20) req.flags = MA_REQ_PINNED;
        check(ma_alloc_ex(a, &req, &r->addr), "ma_alloc_ex");
        memset(memory + r->addr, '.', r->size);
        memcpy(memory + r->addr, r->text, strlen(r->text));
        r->live = 1;
    }
    /* Free every other record but the pinned one: 24 holes. */
    for (int i = 0; i < RECORDS; i += 2) {
        if (i == 20) continue;
        check(ma_free(a, records[i].addr, records[i].size), "ma_free");
        records[i].live = 0;
    }
    print_stats("fragmented:", a);
    size_t want = 800, at;
    printf("ma_alloc(%zu): %s\n", want, ma_status_str(ma_alloc(a, want, &at)));

    /* Compact in rounds of at most 8 moves, as a program would between frames. */
    ma_move moves[8];
    size_t count, rounds = 0, moved = 0;
    do {
        check(ma_compact(a, SIZE_MAX, moves, 8, &count), "ma_compact");
        for (size_t m = 0; m < count; m++) {
            memmove(memory + moves[m].to, memory + moves[m].from, moves[m].size);
            for (int i = 0; i < RECORDS; i++) {
                if (records[i].live && records[i].addr == moves[m].from) records[i].addr = moves[m].to;
            }
            moved += moves[m].size;
        }
        rounds += count > 0;
    } while (count > 0);
    printf("compacted:       %zu bytes moved in %zu rounds; record 20 (pinned) still at %zu\n", moved, rounds,
           records[20].addr);
    print_stats("packed:", a);

    /* Every live record reads as before, at its new address. */
    int intact = 0, live = 0;
    for (int i = 0; i < RECORDS; i++) {
        const struct record *r = &records[i];
        if (!r->live) continue;
        live++;
        size_t size = 0;
        check(ma_size_of(a, r->addr, &size), "ma_size_of");
        intact += size == r->size && memcmp(memory + r->addr, r->text, strlen(r->text)) == 0;
    }
    printf("contents:        %d of %d records intact\n", intact, live);
    ma_status s = ma_alloc(a, want, &at);
    printf("ma_alloc(%zu): %s", want, ma_status_str(s));
    if (s == MA_OK) printf(" at %zu", at);
    printf("\n");

    ma_destroy(a);
    free(memory);
    return intact == live && s == MA_OK ? 0 : 1;
}
