/* A program that caps its address space after it started (the shape of glibc's
 * tst-malloc-thread-fail, which sets RLIMIT_AS to 200 MiB). After the first malloc, the
 * process's VmSize must still be modest (a heap that reserves its whole address space up
 * front leaves such a program none), and RLIMIT_AS is set to VmSize plus 256 MiB. Then
 *  1. threads can still be made (each maps a stack) and can allocate;
 *  2. the main thread allocates 1 MiB blocks with small blocks between them until malloc
 *     returns NULL, frees some 1 MiB blocks and fills the holes with 16-byte blocks until
 *     malloc fails, then allocates smaller and smaller blocks until even 16 bytes fail;
 *     everything is freed, and malloc works again;
 *  3. THREADS threads and the main thread, each with its own allocation function
 *     (malloc, calloc, posix_memalign, valloc, realloc), allocate until it fails, all at
 *     once, and free everything; malloc works again.
 * Every failure must be NULL (or posix_memalign's ENOMEM) with errno ENOMEM, never an
 * abort.
 *
 *   rlimit_as [tiny]
 *
 * "tiny" instead sets the limit to VmSize plus 64 MiB and allocates nothing but 16-byte
 * blocks until malloc fails (in the exact mode, millions of blocks of the policy, whose
 * tables outgrow any fixed reserve), frees them, and checks that malloc works again.
 * Prints "ok" and exits 0 when all is well; otherwise a line saying what failed, exit 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { MAX_BLOCKS = 1 << 20, THREADS = 4 };

static void *blocks[MAX_BLOCKS];
static atomic_int failed;

static void fail(const char *what, size_t size, int err) {
    if (atomic_exchange(&failed, 1) == 0) printf("%s (%zu bytes, errno %d)\n", what, size, err);
}

/* A field of /proc/self/status ("VmSize:"), in bytes (0 if unknown). */
static size_t status_bytes(const char *field) {
    static char buf[4096];
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *line = strstr(buf, field);
    return line == NULL ? 0 : strtoull(line + strlen(field), NULL, 10) * 1024;
}

static void *thread_allocates(void *arg) {
    size_t seed = (size_t)arg;
    void *p[64];
    for (int i = 0; i < 64; i++) {
        size_t size = (seed * 977 + (size_t)i * 131) % (i % 8 == 0 ? 200000 : 2000) + 1;
        p[i] = malloc(size);
        if (p[i] == NULL) {
            fail("a thread's malloc failed under the limit", size, errno);
            return NULL;
        }
        memset(p[i], i, 1);
    }
    for (int i = 0; i < 64; i++) free(p[i]);
    return NULL;
}

/* Makes and joins THREADS threads that allocate; whether all went well. */
static int threads_work(void) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        int rc = pthread_create(&t[i], NULL, thread_allocates, (void *)(size_t)(i + 1));
        if (rc != 0) {
            printf("pthread_create failed under the limit: %s\n", strerror(rc));
            return 0;
        }
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return !atomic_load(&failed);
}

struct list {
    struct list *next;
};

/* Whether a large and a small malloc work (after everything was freed). */
static int malloc_works(const char *when) {
    void *big = malloc(1 << 20), *small = malloc(100);
    if (big == NULL || small == NULL) {
        printf("malloc fails %s (errno %d): %s\n", when, errno,
               big == NULL && small == NULL ? "1 MiB and 100 bytes" : big == NULL ? "1 MiB" : "100 bytes");
        return 0;
    }
    memset(big, 2, 1 << 20);
    free(big);
    free(small);
    return 1;
}

/* Allocates blocks of `size` bytes until malloc fails, linked in front of *list; how many. */
static size_t fill_list(struct list **list, size_t size) {
    size_t n = 0;
    for (;;) {
        errno = 0;
        struct list *e = malloc(size);
        if (e == NULL) {
            if (errno != ENOMEM) fail("malloc returned NULL without ENOMEM", size, errno);
            return n;
        }
        e->next = *list;
        *list = e;
        n++;
    }
}

static void free_list(struct list *list) {
    while (list != NULL) {
        struct list *next = list->next;
        free(list);
        list = next;
    }
}

/* Step 2: fills the address space from the main thread: 1 MiB blocks with three small
 * ones to each, until one fails; then holes (every 8th 1 MiB block freed) that 16-byte
 * blocks fill until malloc fails (in the exact mode the policy's tables grow with the
 * number of blocks, and they live outside the heap: they find no address space); then
 * smaller and smaller blocks. The bytes it got. */
static size_t fill_from_main(struct list **list, size_t *count) {
    static const size_t sizes[] = {64 << 10, 4096, 1000, 100, 16};
    size_t total = 0, n = 0;
    for (;;) {
        size_t want = n % 4 != 3 ? 24 + n % 500 : 1 << 20;
        if (n == MAX_BLOCKS) break;
        errno = 0;
        void *p = malloc(want);
        if (p == NULL) {
            if (errno != ENOMEM) fail("malloc returned NULL without ENOMEM", want, errno);
            break;
        }
        memset(p, 1, want < 64 ? want : 64);
        blocks[n++] = p;
        total += want;
    }
    for (size_t i = 3; i < n; i += 32) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    size_t tiny = fill_list(list, 16);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) tiny += fill_list(list, sizes[s]);
    *count = n + tiny;
    return total;
}

/* Step 3: allocates with one function until it fails; frees after all threads did. */
static pthread_barrier_t filled;

static void *allocate_until_it_fails(void *arg) {
    int function = (int)(intptr_t)arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct list *head = NULL;
    size_t got = 0;
    for (;;) {
        void *p = NULL;
        size_t size = 144;
        errno = 0;
        switch (function) {
        case 0: p = malloc(size); break;
        case 1:
            size = page;
            p = calloc(1, size);
            break;
        case 2: {
            size = 512;
            int rc = posix_memalign(&p, 128, size);
            if (rc != 0) {
                p = NULL;
                errno = rc;
            }
            break;
        }
        case 3:
            size = page;
            p = valloc(size);
            break;
        default: {
            size = 17 * page;
            void *q = realloc(NULL, 16);
            p = q == NULL ? NULL : realloc(q, size);
            if (q != NULL && p == NULL) {
                int err = errno;
                free(q);
                errno = err;
            }
        }
        }
        if (p == NULL) {
            if (errno != ENOMEM) fail("an allocation failed without ENOMEM", size, errno);
            break;
        }
        if (function == 1 && ((const char *)p)[size - 1] != 0) fail("calloc's block is not zeroed", size, 0);
        struct list *e = p;
        e->next = head;
        head = e;
        got += size;
    }
    if (getenv("RLIMIT_AS_VERBOSE") != NULL) fprintf(stderr, "function %d: %zu bytes\n", function, got);
    pthread_barrier_wait(&filled);
    while (head != NULL) {
        struct list *next = head->next;
        free(head);
        head = next;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int tiny = argc > 1 && strcmp(argv[1], "tiny") == 0;
    void *first = malloc(100);
    size_t vm = status_bytes("VmSize:");
    if (first == NULL || vm == 0) {
        printf("no VmSize\n");
        return 1;
    }
    if (vm > ((size_t)1 << 30)) {
        printf("VmSize is %zu MiB after the first malloc: a program that caps its address space has none left\n",
               vm >> 20);
        return 1;
    }
    size_t cap = vm + ((size_t)(tiny ? 64 : 256) << 20);
    struct rlimit limit = {cap, cap};
    if (setrlimit(RLIMIT_AS, &limit) != 0) {
        printf("setrlimit: %s\n", strerror(errno));
        return 1;
    }

    if (tiny) {
        struct list *list = NULL;
        size_t count = fill_list(&list, 16);
        free_list(list);
        if (atomic_load(&failed) || !malloc_works("after the 16-byte blocks were freed")) return 1;
        fprintf(stderr, "%zu blocks of 16 bytes before the limit\n", count);
        printf("ok\n");
        return 0;
    }

    if (!threads_work()) return 1;

    size_t count;
    struct list *list = NULL;
    size_t total = fill_from_main(&list, &count);
    if (atomic_load(&failed)) return 1;
    if (total < (128 << 20)) {
        printf("only %zu bytes in 1 MiB and small blocks before the limit\n", total);
        return 1;
    }
    for (size_t i = 0; i < MAX_BLOCKS; i++) free(blocks[i]);
    free_list(list);
    if (!malloc_works("after the main thread's blocks were freed")) return 1;

    /* Small stacks, as in glibc's test: the threads' stacks must fit beside the heap. */
    pthread_attr_t small_stack;
    pthread_attr_init(&small_stack);
    pthread_attr_setstacksize(&small_stack, 256 << 10);
    pthread_barrier_init(&filled, NULL, THREADS + 1);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        int rc = pthread_create(&t[i], &small_stack, allocate_until_it_fails, (void *)(intptr_t)(i + 1));
        if (rc != 0) {
            printf("pthread_create failed after everything was freed: %s\n", strerror(rc));
            return 1;
        }
    }
    allocate_until_it_fails((void *)0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    if (atomic_load(&failed)) return 1;

    free(first);
    if (!malloc_works("after the threads' blocks were freed")) return 1;
    fprintf(stderr, "%zu bytes in %zu blocks before the limit\n", total, count);
    printf("ok\n");
    return 0;
}
