/* Processes whose traces (MEMALLOC_TRACE) are checked by tests/contract.rs; the first
 * argument names the case.
 *
 * fork-exec:  a parent allocates, forks (the child frees the block and exits), then
 *             replaces itself with /bin/true (without the preload): nothing the parent
 *             buffered before the fork may be lost.
 * exec-self:  a process allocates, frees, then exec()s itself ("again"), which allocates
 *             from a new, empty heap under the same pid.
 * fork-child: a parent allocates and forks; the child frees the block it inherited,
 *             allocates and frees one of its own, then exits.
 * closed-fds: the program closes every descriptor but 0-2 (the trace file's included) and
 *             allocates; successful calls must leave errno alone. Prints "ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Allocates a block and forks; the child frees the block it inherited, allocates and
 * frees one of its own, and exits. Returns the block once the child succeeded, else NULL. */
static char *allocate_then_fork(void) {
    char *p = malloc(100);
    if (p == NULL) return NULL;
    pid_t child = fork();
    if (child < 0) return NULL;
    if (child == 0) {
        free(p);
        free(malloc(50));
        exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? p : NULL;
}

static int fork_exec(void) {
    if (allocate_then_fork() == NULL) return 1;
    char *no_env[] = {NULL};
    execle("/bin/true", "true", (char *)NULL, no_env);
    return 1;
}

static int exec_self(int again, const char *self) {
    if (again) {
        free(malloc(100));
        return 0;
    }
    void *keep = malloc(100);
    if (keep == NULL) return 1;
    for (int i = 0; i < 10000; i++) free(malloc(32));
    execl("/proc/self/exe", self, "exec-self", "again", (char *)NULL);
    return 1;
}

static int fork_child(void) {
    char *p = allocate_then_fork();
    if (p == NULL) return 1;
    free(p);
    return 0;
}

static int closed_fds(void) {
    for (int fd = 3; fd < 1024; fd++) close(fd);
    for (int i = 0; i < 20000; i++) {
        errno = 0;
        void *p = malloc(16);
        if (p == NULL || errno != 0) {
            printf("malloc #%d: %p, errno %d\n", i, p, errno);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "";
    if (strcmp(which, "fork-exec") == 0) return fork_exec();
    if (strcmp(which, "exec-self") == 0) return exec_self(argc > 2, argv[0]);
    if (strcmp(which, "fork-child") == 0) return fork_child();
    if (strcmp(which, "closed-fds") == 0) return closed_fds();
    fprintf(stderr, "usage: trace_cases fork-exec|exec-self|fork-child|closed-fds\n");
    return 2;
}
