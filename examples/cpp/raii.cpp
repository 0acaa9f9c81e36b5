// memalloc from C++: the worked example with the RAII wrapper, errors as exceptions and a
// scoped allocation guard.
#include <cstdio>

#include "memalloc.hpp"

static void print_map(const memalloc::Allocator &heap) {
    static const char *const kinds[] = {"Free", "Allocated", "Padding"};
    const char *separator = "";
    for (const memalloc::Block &b : heap.blocks()) {
        std::printf("%s[%s(%zu-%zu)]", separator, kinds[b.kind], b.start, b.start + b.size - 1);
        separator = " ";
    }
    std::printf("\n");
}

int main() {
    memalloc::Allocator heap(100);
    const std::size_t a = heap.alloc(20);
    const std::size_t b = heap.alloc(30);
    const std::size_t c = heap.alloc(40);
    std::printf("allocated %zu, %zu, %zu\n", a, b, c);
    heap.free(b, 30);
    {
        memalloc::Allocation scoped = heap.scoped(25);
        std::printf("scoped allocation at %zu: ", scoped.address());
        print_map(heap);
    }
    std::printf("after the scope: ");
    print_map(heap);
    try {
        heap.free(c, 10);
    } catch (const memalloc::Error &error) {
        std::printf("free(%zu, 10) threw status %d: %s\n", c, static_cast<int>(error.status()), error.what());
    }
    memalloc::Allocator moved = std::move(heap);
    moved.free(a, 20);
    moved.free(c, 40);
    std::printf("all freed: ");
    print_map(moved);
    return moved.stats().free == 100 ? 0 : 1;
}
