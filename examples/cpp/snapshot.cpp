// snapshot.cpp: tags, a compaction plan and a snapshot through the C++ wrapper.
//
// A level's assets are tagged and freed as a group; the survivors are packed with
// compact(), whose moves are applied to a byte buffer with memmove; the heap is saved and
// loaded again, and the copy answers the next request exactly as the original.
//
// Build (from the repository root, after `cargo build --release`):
//     c++ -std=c++17 -Wall -Wextra -Iinclude examples/cpp/snapshot.cpp
//         target/release/libmemalloc.a -lpthread -ldl -lm -o snapshot && ./snapshot
// (one command line)

#include <cstdio>
#include <cstring>
#include <vector>

#include "memalloc.hpp"

int main() {
    constexpr std::size_t capacity = 1024;
    std::vector<unsigned char> memory(capacity);
    memalloc::Allocator heap(capacity, MA_POLICY_TLSF);

    // Level 1 and level 2 assets, interleaved; each filled with its own byte.
    std::vector<std::size_t> level2;
    for (int i = 0; i < 8; i++) {
        std::uint64_t level = 1 + i % 2;
        std::size_t addr = heap.alloc(memalloc::Request(100).tag(level));
        std::memset(&memory[addr], 'a' + i, 100);
        if (level == 2) level2.push_back(addr);
    }
    std::printf("level 1 freed: %zu allocations\n", heap.free_tagged(1));

    std::size_t moved = 0;
    for (const ma_move &m : heap.compact()) {
        std::memmove(&memory[m.to], &memory[m.from], m.size);
        for (std::size_t &addr : level2) {
            if (addr == m.from) addr = m.to;
        }
        moved += m.size;
    }
    bool intact = true;
    for (std::size_t k = 0; k < level2.size(); k++) {
        for (std::size_t i = 0; i < 100; i++) intact &= memory[level2[k] + i] == 'b' + 2 * k;
        intact &= heap.tag_of(level2[k]) == 2;
    }
    std::printf("compacted: %zu units moved, level 2 %s, largest free block %zu\n", moved,
                intact ? "intact" : "CORRUPT", heap.stats().largest_free);

    std::vector<unsigned char> snapshot = heap.save();
    memalloc::Allocator copy = memalloc::Allocator::load(snapshot);
    std::size_t a = heap.alloc(300), b = copy.alloc(300);
    std::printf("snapshot of %zu bytes; the next alloc(300): %zu in the original, %zu in the copy\n",
                snapshot.size(), a, b);

    try {
        snapshot[20] ^= 1;
        memalloc::Allocator::load(snapshot);
    } catch (const memalloc::Error &e) {
        std::printf("a damaged snapshot: %s\n", e.what());
    }
    return intact && a == b ? 0 : 1;
}
