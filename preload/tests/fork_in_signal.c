/* fork() from a signal handler that interrupted malloc (the shape of glibc's
 * tst-mallocfork2). The main thread allocates, reallocates and frees in a loop, with sizes
 * from a few bytes to a few hundred KiB; SIGUSR1 arrives as fast as a sender can send it,
 * and the handler forks: the child leaves at once with _exit(0), the handler waits for it.
 * Sooner or later the signal lands while the main thread is inside the allocator, holding
 * its locks, and the allocator's fork handlers must not wait for locks that the forking
 * thread itself holds.
 *
 *   fork_in_signal process|thread|nested [FORKS]
 *
 * "process": the signals come from a child process calling kill() in a loop, so that the
 * program stays single-threaded, as in glibc's test. "thread": they come from a second
 * thread calling pthread_kill() (that thread never allocates). "nested": as "process",
 * and the main thread forks too, every few calls, so that signals also land while its own
 * fork runs the allocator's fork handlers (the handler's fork then nests in them). Prints
 * "ok" and exits 0 when every fork worked; a hang is the bug (the test's timeout). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SLOTS = 64 };

/* Written by the handler only (the main thread reads them between its calls). */
static volatile sig_atomic_t forks_done;
static volatile sig_atomic_t bad_forks;
/* Tells the sender thread to stop. */
static atomic_int stop;
static pthread_t main_thread;

static void on_sigusr1(int sig) {
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) {
        bad_forks++;
    } else {
        int status = 0;
        pid_t got;
        while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
        }
        if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) bad_forks++;
    }
    forks_done++;
    errno = saved;
}

/* The sender process: signals its parent until the parent kills it. */
static void send_from_a_process(pid_t parent) {
    for (;;) {
        if (kill(parent, SIGUSR1) != 0) _exit(0);
    }
}

static void *send_from_a_thread(void *arg) {
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) pthread_kill(main_thread, SIGUSR1);
    return NULL;
}

/* A size from a few bytes to a few hundred KiB, mostly small. */
static size_t size_for(unsigned r) {
    switch (r & 7) {
    case 0: return 64 * 1024 + (r >> 3) % (256 * 1024);
    case 1:
    case 2: return 256 + (r >> 3) % 8000;
    default: return 1 + (r >> 3) % 256;
    }
}

int main(int argc, char **argv) {
    int use_thread = argc > 1 && strcmp(argv[1], "thread") == 0;
    int nested = argc > 1 && strcmp(argv[1], "nested") == 0;
    if (argc < 2 || (!use_thread && !nested && strcmp(argv[1], "process") != 0)) {
        fprintf(stderr, "usage: fork_in_signal process|thread|nested [FORKS]\n");
        return 2;
    }
    int forks = argc > 2 ? atoi(argv[2]) : 2000;
    void *slot[SLOTS] = {0};
    unsigned r = 12345;

    /* The heap has started before the first signal. */
    free(malloc(1));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGUSR1, &sa, NULL) != 0) return 2;

    main_thread = pthread_self();
    pid_t sender = -1;
    pthread_t sender_thread;
    if (use_thread) {
        if (pthread_create(&sender_thread, NULL, send_from_a_thread, NULL) != 0) return 2;
    } else {
        pid_t parent = getpid();
        sender = fork();
        if (sender < 0) return 2;
        if (sender == 0) send_from_a_process(parent);
    }

    unsigned long calls = 0;
    while (forks_done < forks) {
        r = r * 1103515245u + 12345u;
        unsigned i = (r >> 16) % SLOTS;
        if (slot[i] == NULL) {
            slot[i] = (r & 0x100) ? calloc(1, size_for(r >> 9)) : malloc(size_for(r >> 9));
        } else if (r & 0x200) {
            void *q = realloc(slot[i], size_for(r >> 10));
            if (q != NULL) slot[i] = q;
        } else {
            free(slot[i]);
            slot[i] = NULL;
        }
        if (slot[i] != NULL) memset(slot[i], (int)i, 1);
        calls++;
        if (nested && calls % 16 == 0) {
            pid_t pid = fork();
            if (pid == 0) _exit(0);
            int status = 0;
            pid_t got;
            while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
            }
            if (pid < 0 || got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) bad_forks++;
        }
    }

    /* No more signals: stop the sender, then check. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    if (use_thread) {
        atomic_store(&stop, 1);
        pthread_join(sender_thread, NULL);
    } else {
        kill(sender, SIGKILL);
        waitpid(sender, NULL, 0);
    }
    for (unsigned i = 0; i < SLOTS; i++) free(slot[i]);
    if (bad_forks != 0) {
        printf("%d of %d forks failed\n", (int)bad_forks, (int)forks_done);
        return 1;
    }
    printf("ok\n");
    fprintf(stderr, "%lu allocator calls between %d forks\n", calls, (int)forks_done);
    return 0;
}
