/*
 * persist.c: a heap inside a file, saved, closed and reopened by the next run.
 *
 *     persist FILE
 *
 * The file holds a 4 KiB page for the allocator's snapshot (its length, then the bytes
 * ma_save wrote) and a 60 KiB arena that the allocator manages: an address is an offset
 * into the arena. The file is mapped with mmap, so the arena's bytes are the file's.
 *
 * The first run creates the file and an empty heap. Every run then reopens the heap from
 * its snapshot with ma_load, lists the notes that earlier runs left (each one tagged with
 * the run that wrote it, and checked to read as it was written, where it was written),
 * adds a note of its own, frees the notes of the run three runs before (ma_free_tagged),
 * and saves the snapshot back into the file.
 *
 * Build (from the repository root, after `cargo build --release`):
 *     cc -std=c11 -Wall -Wextra -Iinclude examples/persist.c target/release/libmemalloc.a \
 *        -lpthread -ldl -lm -o persist && ./persist /tmp/notes.heap && ./persist /tmp/notes.heap
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memalloc.h"

#define META_SIZE 4096                 /* the snapshot page */
#define ARENA_SIZE (60 * 1024)         /* the managed bytes */
#define FILE_SIZE (META_SIZE + ARENA_SIZE)
#define NOTE_SIZE 64                   /* every note: a NUL-terminated line */

/* The snapshot page: the snapshot's length, then its bytes. */
struct meta {
    uint64_t snapshot_len;
    unsigned char snapshot[META_SIZE - sizeof(uint64_t)];
};

static void fail(const char *what, const char *why) {
    fprintf(stderr, "persist: %s: %s\n", what, why);
    exit(1);
}

/* What ma_walk reports about the notes: the highest run seen so far, and whether each
   note's text still names its run and address. */
struct listing {
    const ma_allocator *a;
    const unsigned char *arena;
    uint64_t last_run;
    int notes, intact;
};

static int list_note(void *ctx, size_t start, size_t size, ma_block_kind kind) {
    struct listing *l = ctx;
    if (kind != MA_BLOCK_ALLOCATED) return 0;
    uint64_t run = 0;
    if (ma_tag_of(l->a, start, &run) != MA_OK) fail("ma_tag_of", "a listed allocation is not live");
    char expected[NOTE_SIZE];
    snprintf(expected, sizeof expected, "note of run %llu at %zu", (unsigned long long)run, start);
    int ok = size == NOTE_SIZE && strcmp((const char *)l->arena + start, expected) == 0;
    printf("  %-28s %s\n", (const char *)l->arena + start, ok ? "intact" : "CORRUPT");
    l->notes++;
    l->intact += ok;
    if (run > l->last_run) l->last_run = run;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: persist FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) fail(argv[1], strerror(errno));
    int fresh = st.st_size == 0;
    if (fresh && ftruncate(fd, FILE_SIZE) != 0) fail("ftruncate", strerror(errno));
    if (!fresh && st.st_size != FILE_SIZE) fail(argv[1], "not a heap file of this example");
    unsigned char *file = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (file == MAP_FAILED) fail("mmap", strerror(errno));
    struct meta *meta = (struct meta *)(void *)file;
    unsigned char *arena = file + META_SIZE;

    ma_allocator *a = NULL;
    ma_status s;
    if (fresh) {
        ma_options opts;
        ma_options_init(&opts);
        opts.capacity = ARENA_SIZE;
        opts.min_alignment = 16;
        s = ma_create_with(&opts, &a);
        printf("created %s: an empty heap of %d bytes\n", argv[1], ARENA_SIZE);
    } else {
        if (meta->snapshot_len > sizeof meta->snapshot) fail(argv[1], "snapshot length out of range");
        s = ma_load(meta->snapshot, (size_t)meta->snapshot_len, &a);
        printf("reopened %s from a %llu-byte snapshot\n", argv[1], (unsigned long long)meta->snapshot_len);
    }
    if (s != MA_OK) fail("opening the heap", ma_status_str(s));

    struct listing l = {.a = a, .arena = arena};
    ma_walk(a, list_note, &l);
    uint64_t run = l.last_run + 1;
    printf("%d notes, %d intact; this is run %llu\n", l.notes, l.intact, (unsigned long long)run);

    /* Forget the notes of the run three runs back, then leave one of this run's. */
    size_t freed = 0;
    if (run > 3) ma_free_tagged(a, run - 3, &freed);
    ma_request req;
    ma_request_init(&req, NOTE_SIZE);
    req.tag = run;
    size_t at;
    if ((s = ma_alloc_ex(a, &req, &at)) != MA_OK) fail("ma_alloc_ex", ma_status_str(s));
    snprintf((char *)arena + at, NOTE_SIZE, "note of run %llu at %zu", (unsigned long long)run, at);
    if (run > 3) printf("freed %zu notes of run %llu; ", freed, (unsigned long long)(run - 3));
    printf("wrote a note at %zu\n", at);

    /* Save the snapshot into its page; msync makes the file whole before we exit. */
    size_t len = 0;
    if ((s = ma_save(a, meta->snapshot, sizeof meta->snapshot, &len)) != MA_OK) fail("ma_save", ma_status_str(s));
    meta->snapshot_len = len;
    if (msync(file, FILE_SIZE, MS_SYNC) != 0) fail("msync", strerror(errno));
    ma_destroy(a);
    munmap(file, FILE_SIZE);
    close(fd);
    return l.intact == l.notes ? 0 : 1;
}
