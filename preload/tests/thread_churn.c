/* Threads come and go: THREADS short-lived threads, BATCH at a time. Each allocates a few
 * hundred small blocks of varied sizes, frees most of them (filling its thread cache),
 * hands a few to the next batch through a shared table and frees the ones the previous
 * batch left there (a free of a block another, exited thread allocated). When a thread
 * exits its cache must go back, or RSS grows with every thread.
 *
 *   thread_churn [THREADS [BATCH]]
 *
 * Prints "ok", then "rss KIB" (VmRSS at the end, from /proc/self/status) and "hwm KIB"
 * (VmHWM, the peak), and exits 0; exits 1 with a message if a block's contents were
 * damaged or malloc failed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCKS = 300, HANDED = 8, MAX_BATCH = 64 };

/* Blocks handed from one batch to the next: HANDED per thread of a batch. */
static unsigned char *handed[MAX_BATCH][HANDED];
static size_t handed_size[MAX_BATCH][HANDED];
static atomic_int failed;

static unsigned char fill_byte(size_t size) { return (unsigned char)(size * 31 + 7); }

static int intact(const unsigned char *p, size_t size) {
    for (size_t i = 0; i < size; i++)
        if (p[i] != fill_byte(size)) return 0;
    return 1;
}

struct job {
    unsigned seed;
    int index;
};

static void *worker(void *arg) {
    struct job *job = arg;
    unsigned r = job->seed;
    unsigned char *mine[BLOCKS];
    size_t size[BLOCKS];
    /* The previous batch's blocks in this thread's row. */
    for (int i = 0; i < HANDED; i++) {
        unsigned char *p = handed[job->index][i];
        if (p != NULL && !intact(p, handed_size[job->index][i])) atomic_store(&failed, 1);
        free(p);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < BLOCKS; i++) {
            r = r * 1103515245u + 12345u;
            size[i] = 1 + (r >> 8) % ((r & 0x10) ? 1024 : 128);
            mine[i] = malloc(size[i]);
            if (mine[i] == NULL) {
                atomic_store(&failed, 2);
                return NULL;
            }
            memset(mine[i], fill_byte(size[i]), size[i]);
        }
        for (int i = 0; i < BLOCKS; i++) {
            if (!intact(mine[i], size[i])) atomic_store(&failed, 1);
            if (round == 1 && i < HANDED) {
                handed[job->index][i] = mine[i];
                handed_size[job->index][i] = size[i];
            } else {
                free(mine[i]);
            }
        }
    }
    return NULL;
}

/* The value of FIELD ("VmRSS:", "VmHWM:") in /proc/self/status, in KiB. */
static long status_kib(const char *field) {
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *line = strstr(buf, field);
    return line == NULL ? -1 : strtol(line + strlen(field), NULL, 10);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 10000;
    int batch = argc > 2 ? atoi(argv[2]) : 8;
    if (batch < 1 || batch > MAX_BATCH) return 2;
    pthread_t t[MAX_BATCH];
    struct job jobs[MAX_BATCH];
    for (int done = 0; done < threads; done += batch) {
        int n = threads - done < batch ? threads - done : batch;
        for (int i = 0; i < n; i++) {
            jobs[i] = (struct job){.seed = (unsigned)(done + i) * 2654435761u, .index = i};
            if (pthread_create(&t[i], NULL, worker, &jobs[i]) != 0) {
                printf("pthread_create failed after %d threads\n", done + i);
                return 1;
            }
        }
        for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
        if (atomic_load(&failed)) {
            printf("%s after %d threads\n", atomic_load(&failed) == 2 ? "malloc failed" : "a block was damaged",
                   done + n);
            return 1;
        }
    }
    for (int i = 0; i < MAX_BATCH; i++)
        for (int j = 0; j < HANDED; j++) free(handed[i][j]);
    long rss = status_kib("VmRSS:"), hwm = status_kib("VmHWM:");
    printf("ok\nrss %ld\nhwm %ld\n", rss, hwm);
    return 0;
}
