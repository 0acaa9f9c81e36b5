#include <stdio.h>

#include "memalloc.h"

int main(void) {
    ma_allocator *a = ma_create(100); /* [0, 100), all free, first fit */
    if (a == NULL) {
        return 1;
    }
    size_t x = 0, y = 0;
    ma_alloc(a, 20, &x);              /* x == 0 */
    ma_alloc(a, 30, &y);              /* y == 20 */
    ma_status s = ma_free(a, y, 29);  /* the wrong size: rejected, nothing changes */
    printf("ma_free(a, %zu, 29): %s\n", y, ma_status_str(s));
    s = ma_free(a, y, 30);
    printf("ma_free(a, %zu, 30): %s\n", y, ma_status_str(s));

    ma_stats stats;
    ma_get_stats(a, &stats);
    printf("allocated %zu, free %zu in %zu blocks\n", stats.allocated, stats.free, stats.free_blocks);
    ma_destroy(a);
    return 0;
}
