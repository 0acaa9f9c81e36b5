/*
 * xmalloc-test: producers and consumers, after Lever and Boreham's test (as run by
 * mimalloc-bench).
 *
 * THREADS producer threads and THREADS consumer threads (2 x THREADS in all). A producer
 * allocates batches of BATCH small blocks (16 to 256 bytes), fills them, and puts each batch
 * on a shared queue (a mutex and two condition variables, at most QUEUE_LIMIT batches
 * waiting); a consumer takes batches off the queue, checks every block and frees it. So
 * every block is freed by another thread than the one that allocated it, while the
 * allocating thread goes on allocating.
 *
 * Work: BATCHES batches per producer (times SCALE%). The checksum is a sum over blocks
 * (independent of which consumer took which batch).
 */
#include "bench.h"

enum { BATCH = 4096, BATCHES = 1200, QUEUE_LIMIT = 64 };

static const uint32_t sizes[] = {16, 24, 32, 48, 64, 64, 64, 64, 80, 96, 128, 160, 256};
enum { SIZE_COUNT = sizeof sizes / sizeof sizes[0] };

struct batch {
    struct batch *next;
    uint64_t producer, serial;
    uint32_t size[BATCH];
    unsigned char *block[BATCH];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct batch *head, *tail;
    long waiting;   /* batches on the queue */
    long remaining; /* batches not yet taken by a consumer */
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0};

static void put(struct batch *b) {
    pthread_mutex_lock(&queue.lock);
    while (queue.waiting >= QUEUE_LIMIT) {
        pthread_cond_wait(&queue.not_full, &queue.lock);
    }
    b->next = NULL;
    if (queue.tail != NULL) {
        queue.tail->next = b;
    } else {
        queue.head = b;
    }
    queue.tail = b;
    queue.waiting++;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

/* The next batch, or NULL when every batch has been taken. */
static struct batch *take(void) {
    pthread_mutex_lock(&queue.lock);
    struct batch *b = NULL;
    if (queue.remaining > 0) {
        queue.remaining--;
        while (queue.head == NULL) {
            pthread_cond_wait(&queue.not_empty, &queue.lock);
        }
        b = queue.head;
        queue.head = b->next;
        if (queue.head == NULL) {
            queue.tail = NULL;
        }
        queue.waiting--;
        pthread_cond_signal(&queue.not_full);
    }
    pthread_mutex_unlock(&queue.lock);
    return b;
}

struct worker {
    int id;
    long batches;
    uint64_t checksum; /* consumers: the sum over the blocks they freed */
    long blocks;
};

static unsigned char fill_byte(uint64_t producer, uint64_t serial, int i) {
    return (unsigned char)(producer * 131 + serial * 7 + (uint64_t)i);
}

static void *produce(void *arg) {
    struct worker *w = arg;
    struct rng rng = rng_seeded(1000 + (uint64_t)w->id);
    for (long n = 0; n < w->batches; n++) {
        struct batch *b = xmalloc(sizeof *b);
        b->producer = (uint64_t)w->id;
        b->serial = (uint64_t)n;
        for (int i = 0; i < BATCH; i++) {
            uint32_t size = sizes[rng_next(&rng) % SIZE_COUNT];
            b->size[i] = size;
            b->block[i] = xmalloc(size);
            memset(b->block[i], fill_byte(b->producer, b->serial, i), size);
        }
        put(b);
    }
    return NULL;
}

static void *consume(void *arg) {
    struct worker *w = arg;
    struct batch *b;
    while ((b = take()) != NULL) {
        for (int i = 0; i < BATCH; i++) {
            unsigned char *p = b->block[i];
            uint32_t size = b->size[i];
            unsigned char expected = fill_byte(b->producer, b->serial, i);
            if (p[0] != expected || p[size - 1] != expected || p[size / 2] != expected) {
                corrupted("xmalloc-test block", (uint64_t)i);
            }
            w->checksum += mix(b->producer << 40 ^ b->serial << 16 ^ (uint64_t)i, size);
            free(p);
        }
        w->blocks += BATCH;
        free(b);
    }
    return NULL;
}

static void *start_worker(void *arg) {
    struct worker *w = arg;
    return w->batches > 0 ? produce(w) : consume(w);
}

int main(int argc, char **argv) {
    struct options o = parse_options(argc, argv, "xmalloc-test: THREADS producers and THREADS consumers");
    int n = o.threads;
    long batches = scaled(&o, BATCHES);
    queue.remaining = batches * n;
    /* Workers 0 .. n-1 produce, n .. 2n-1 consume. */
    struct worker *workers = xcalloc(2 * (size_t)n, sizeof *workers);
    for (int i = 0; i < 2 * n; i++) {
        workers[i].id = i;
        workers[i].batches = i < n ? batches : 0;
    }
    double start = now_seconds();
    run_threads(2 * n, start_worker, workers, sizeof *workers);
    double elapsed = now_seconds() - start;
    uint64_t checksum = 0;
    long blocks = 0;
    for (int i = n; i < 2 * n; i++) {
        checksum += workers[i].checksum;
        blocks += workers[i].blocks;
    }
    free(workers);
    /* Operations: a malloc and a free per block. */
    report_throughput(2.0 * (double)blocks, elapsed);
    printf("xmalloc-test threads=%d batches=%ld blocks=%ld checksum=%016llx\n", n, batches, blocks,
           (unsigned long long)checksum);
    return 0;
}
