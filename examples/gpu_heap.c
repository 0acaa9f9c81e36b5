/* A GPU heap managed by memalloc: 256 MiB of device memory, addressed in bytes.
 *
 * - Long-lived resources (textures, meshes) go top-down, so that they pile up at the top;
 * - per-frame scratch buffers go bottom-up, so that the two never mix and the scratch
 *   region can be cleared without fragmenting the long-lived one;
 * - the framebuffer is a fixed reservation at a known offset (scanout hardware wants it
 *   there);
 * - when a load does not fit, the heap grows (the device memory was enlarged) and the
 *   allocation is retried; the live allocations stay where they are.
 *
 * Build: cc -std=c11 examples/gpu_heap.c -Iinclude target/release/libmemalloc.a -lpthread -ldl -lm */
#include <stdio.h>

#include "memalloc.h"

#define MIB ((size_t)1 << 20)

static void report(const char *what, ma_status status, size_t addr) {
    if (status == MA_OK) printf("%-34s at %4zu MiB\n", what, addr / MIB);
    else printf("%-34s failed: %s\n", what, ma_status_str(status));
}

int main(void) {
    ma_options options;
    ma_options_init(&options);
    options.capacity = 256 * MIB;
    options.policy = MA_POLICY_FIRST_FIT;
    options.min_alignment = 256; /* every buffer on a 256-byte boundary */
    ma_allocator *gpu = NULL;
    if (ma_create_with(&options, &gpu) != MA_OK) return 1;

    /* The framebuffer: 32 MiB fixed at offset 64 MiB. */
    report("framebuffer (fixed)", ma_alloc_at(gpu, 64 * MIB, 32 * MIB), 64 * MIB);

    /* Long-lived textures from the top, 64 KiB aligned. */
    size_t texture = 0;
    for (int i = 0; i < 3; i++) {
        ma_request long_lived;
        ma_request_init(&long_lived, 48 * MIB);
        long_lived.alignment = 64 * 1024;
        long_lived.flags = MA_REQ_TOP_DOWN;
        long_lived.tag = 1; /* the level's assets */
        ma_status status = ma_alloc_ex(gpu, &long_lived, &texture);
        report("texture (top-down)", status, texture);
    }

    /* Per-frame scratch from the bottom, kept below the framebuffer. */
    size_t scratch = 0;
    ma_request frame;
    ma_request_init(&frame, 16 * MIB);
    frame.hi = 64 * MIB;
    frame.tag = 2; /* this frame */
    for (int i = 0; i < 5; i++) {
        ma_status status = ma_alloc_ex(gpu, &frame, &scratch);
        report("scratch (bottom-up, below 64 MiB)", status, scratch);
    }

    /* A big mesh does not fit any more: grow the heap and retry. */
    size_t mesh = 0;
    ma_request big;
    ma_request_init(&big, 96 * MIB);
    big.flags = MA_REQ_TOP_DOWN;
    ma_status status = ma_alloc_ex(gpu, &big, &mesh);
    report("mesh (top-down)", status, mesh);
    if (status == MA_ERR_OUT_OF_MEMORY) {
        printf("%-34s %s\n", "grow the heap to 512 MiB:", ma_status_str(ma_set_capacity(gpu, 512 * MIB)));
        status = ma_alloc_ex(gpu, &big, &mesh);
        report("mesh (top-down), retried", status, mesh);
    }

    ma_stats stats;
    ma_get_stats(gpu, &stats);
    printf("%zu allocations, %zu MiB free in %zu blocks, largest %zu MiB\n", stats.allocations, stats.free / MIB,
           stats.free_blocks, stats.largest_free / MIB);
    ma_destroy(gpu);
    return 0;
}
