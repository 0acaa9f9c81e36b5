/* Bad pointers given to the heap, one per run: argv[1] names the case. Prints the pointer
 * (as "%p") on stdout first, then makes the bad call, which must abort the process with
 * one line on stderr naming that pointer. Exits 0 only if the call returned. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void announce(void *p) { printf("%p\n", p); }

int main(int argc, char **argv) {
    static char not_from_the_heap[64];
    const char *what = argc > 1 ? argv[1] : "";
    /* Unbuffered: printing allocates nothing that could reuse a freed block. */
    setvbuf(stdout, NULL, _IONBF, 0);
    char *p = malloc(64);
    if (strcmp(what, "double-free") == 0) {
        free(p);
        announce(p);
        free(p);
    } else if (strcmp(what, "foreign-free") == 0) {
        announce(not_from_the_heap + 16);
        free(not_from_the_heap + 16);
    } else if (strcmp(what, "interior-free") == 0) {
        announce(p + 16);
        free(p + 16);
    } else if (strcmp(what, "foreign-realloc") == 0) {
        announce(not_from_the_heap);
        p = realloc(not_from_the_heap, 10);
    } else if (strcmp(what, "freed-realloc") == 0) {
        free(p);
        announce(p);
        p = realloc(p, 10);
    } else if (strcmp(what, "freed-usable-size") == 0) {
        free(p);
        announce(p);
        printf("%zu\n", malloc_usable_size(p));
    } else {
        fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    return 0;
}
