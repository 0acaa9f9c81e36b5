/* fork() against stdio's locks (the shape of glibc's tst-malloc-fork-deadlock, glibc bug
 * 19431). While the main thread forks again and again:
 *  - "getline" threads read lines of growing length from fmemopen streams, freeing each
 *    line, so that getline allocates and reallocates while it holds the stream's lock;
 *  - a "memstream" thread builds text with fprintf on open_memstream streams, which grow
 *    by realloc while fprintf holds their lock, and opens and closes such streams (which
 *    links and unlinks them under stdio's list lock);
 *  - a "flush" thread calls fflush(NULL), which takes stdio's list lock and then every
 *    stream's lock in turn.
 * An allocator whose fork handler takes its own locks before stdio's list lock deadlocks:
 * the forking thread holds the heap and waits for the list lock, the flush thread holds
 * the list lock and waits for a stream, and that stream's holder waits for the heap.
 *
 *   fork_stdio [SECONDS]
 *
 * The main thread forks for SECONDS seconds (default 3), at least 20 times. Each child
 * allocates, uses a stream of its own and leaves with _exit(0). Prints "ok" and exits 0
 * when every child did; a hang is the bug (the test's timeout). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { GETLINE_THREADS = 2, LINES = 64, LONGEST = 9000 };

static atomic_int stop;
static atomic_int failed;
/* Lines of 1 to LONGEST characters: getline's buffer grows from small to large blocks. */
static char text[LINES * (LONGEST + 1)];
static size_t text_len;

static void make_text(void) {
    unsigned r = 7;
    char *p = text;
    for (int i = 0; i < LINES; i++) {
        r = r * 1103515245u + 12345u;
        size_t len = 1 + (r >> 8) % (i % 4 == 0 ? LONGEST : 200);
        memset(p, 'a' + i % 26, len);
        p[len] = '\n';
        p += len + 1;
    }
    text_len = (size_t)(p - text);
}

static void *getline_thread(void *arg) {
    (void)arg;
    FILE *f = fmemopen(text, text_len, "r");
    if (f == NULL) {
        atomic_store(&failed, 1);
        return NULL;
    }
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        /* A fresh buffer for every line: each call allocates inside the stream's lock. */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            rewind(f);
        } else if (n == 0 || line[n - 1] != '\n' || line[0] != line[n > 1 ? n - 2 : 0]) {
            atomic_store(&failed, 1);
        }
        free(line);
    }
    fclose(f);
    return NULL;
}

static void *memstream_thread(void *arg) {
    (void)arg;
    unsigned round = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f == NULL) {
            atomic_store(&failed, 1);
            continue;
        }
        unsigned lines = 1 + round++ % 300;
        for (unsigned i = 0; i < lines; i++) fprintf(f, "line %u of a growing memory stream\n", i);
        if (fclose(f) != 0 || buf == NULL || strncmp(buf, "line 0 ", 7) != 0) atomic_store(&failed, 1);
        free(buf);
    }
    return NULL;
}

static void *flush_thread(void *arg) {
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        fflush(NULL);
        /* stdio's list lock is not fair: without a pause the forking thread would hardly
         * ever get it. */
        sched_yield();
    }
    return NULL;
}

static int child(int n) {
    char *blocks[32];
    for (int i = 0; i < 32; i++) {
        blocks[i] = malloc((size_t)(i * 331 + n) % 6000 + 1);
        if (blocks[i] == NULL) return 1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return 1;
    fprintf(f, "child %d", n);
    fclose(f);
    free(buf);
    for (int i = 0; i < 32; i++) free(blocks[i]);
    return 0;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    make_text();
    pthread_t threads[GETLINE_THREADS + 2];
    int t = 0;
    for (int i = 0; i < GETLINE_THREADS; i++) pthread_create(&threads[t++], NULL, getline_thread, NULL);
    pthread_create(&threads[t++], NULL, memstream_thread, NULL);
    pthread_create(&threads[t++], NULL, flush_thread, NULL);
    int bad_children = 0, n;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (n = 0;; n++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (n >= 20 && (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
            break;
        pid_t pid = fork();
        if (pid == 0) _exit(child(n));
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad_children++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < t; i++) pthread_join(threads[i], NULL);
    if (bad_children || atomic_load(&failed)) {
        printf("bad children %d, failed %d\n", bad_children, atomic_load(&failed));
        return 1;
    }
    fprintf(stderr, "%d forks\n", n);
    printf("ok\n");
    return 0;
}
