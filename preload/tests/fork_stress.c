/* Fork while other threads allocate: THREADS threads churn the heap (malloc, realloc,
 * free, with a fill pattern checked on free) while the main thread forks FORKS times;
 * each child allocates too, then leaves with exit() or _exit(). A deadlock in the fork
 * handlers shows as a hang (the test's timeout); corruption as a bad pattern (exit 1).
 * Prints "ok" when all is well. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 4, FORKS = 60, SLOTS = 256 };

static atomic_int stop;
static atomic_int corrupt;

static void fill(unsigned char *p, size_t n, unsigned char v) { memset(p, v, n); }

static int check(const unsigned char *p, size_t n, unsigned char v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

static void *churn(void *arg) {
    unsigned seed = (unsigned)(size_t)arg * 2654435761u;
    unsigned char *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        unsigned i = (seed >> 8) % SLOTS;
        unsigned char v = (unsigned char)i;
        if (slot[i] != NULL) {
            if (!check(slot[i], size[i], v)) atomic_store(&corrupt, 1);
            if (seed & 1) {
                free(slot[i]);
                slot[i] = NULL;
                continue;
            }
            size_t n = (seed >> 12) % 20000;
            unsigned char *q = realloc(slot[i], n + 1);
            if (q == NULL) { atomic_store(&corrupt, 1); continue; }
            slot[i] = q;
            size[i] = n + 1;
            fill(q, size[i], v);
        } else {
            size[i] = (seed >> 12) % ((seed & 0x100) ? 200000 : 300) + 1;
            slot[i] = malloc(size[i]);
            if (slot[i] == NULL) { atomic_store(&corrupt, 1); continue; }
            fill(slot[i], size[i], v);
        }
    }
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slot[i] != NULL && !check(slot[i], size[i], (unsigned char)i)) atomic_store(&corrupt, 1);
        free(slot[i]);
    }
    return NULL;
}

static int child(int n) {
    char *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc((size_t)(i * 97 + n) % 5000 + 1);
        if (blocks[i] == NULL) return 1;
        memset(blocks[i], i, (size_t)(i * 97 + n) % 5000 + 1);
    }
    for (int i = 0; i < 64; i++) free(blocks[i]);
    return 0;
}

int main(void) {
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, churn, (void *)(size_t)(t + 1));
    int bad_children = 0;
    for (int n = 0; n < FORKS; n++) {
        char *mine = malloc(1000);
        pid_t pid = fork();
        if (pid == 0) {
            int rc = child(n);
            free(mine);
            if (n % 2) _exit(rc);
            exit(rc);
        }
        free(mine);
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad_children++;
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    if (bad_children || atomic_load(&corrupt)) {
        printf("bad children %d, corrupt %d\n", bad_children, atomic_load(&corrupt));
        return 1;
    }
    printf("ok\n");
    return 0;
}
