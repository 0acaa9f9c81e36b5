// memalloc.hpp: a header-only C++17 wrapper over memalloc.h.
//
// memalloc::Allocator owns an ma_allocator handle (move-only, destroyed with it); every
// non-OK status is thrown as memalloc::Error, which carries the status code;
// memalloc::Allocation is a scoped guard that frees its range when it goes out of scope.
//
//     memalloc::Allocator heap(100);
//     {
//         memalloc::Allocation a = heap.scoped(20);   // freed at the closing brace
//         use(a.address(), a.size());
//     }
//
// Thread safety is the C library's: one Allocator may be used from many threads at once.
#ifndef MEMALLOC_HPP
#define MEMALLOC_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "memalloc.h"

namespace memalloc {

/// A non-OK ma_status, as an exception; what() is ma_status_str's text.
class Error : public std::runtime_error {
public:
    explicit Error(ma_status status) : std::runtime_error(ma_status_str(status)), status_(status) {}
    /// The MA_ERR_* code.
    ma_status status() const noexcept { return status_; }

private:
    ma_status status_;
};

/// Throws Error for any status but MA_OK.
inline void check(ma_status status) {
    if (status != MA_OK) {
        throw Error(status);
    }
}

/// One extent of the memory map, as ma_walk reports it.
struct Block {
    std::size_t start;
    std::size_t size;
    ma_block_kind kind;
};

class Allocation;

/// A request for Allocator::alloc(const Request &): size, alignment, a range, direction,
/// tag and pin, built up from ma_request_init's defaults.
///
///     heap.alloc(memalloc::Request(4096).align(256).within(0, 1 << 20).top_down());
class Request {
public:
    explicit Request(std::size_t size) { ma_request_init(&request_, size); }
    /// The address is a multiple of `alignment` (a power of two).
    Request &align(std::size_t alignment) {
        request_.alignment = alignment;
        return *this;
    }
    /// The whole footprint lies in [lo, hi).
    Request &within(std::size_t lo, std::size_t hi) {
        request_.lo = lo;
        request_.hi = hi;
        return *this;
    }
    /// The highest address that fits, not the lowest.
    Request &top_down() {
        request_.flags |= MA_REQ_TOP_DOWN;
        return *this;
    }
    /// Compaction never moves the allocation.
    Request &pinned() {
        request_.flags |= MA_REQ_PINNED;
        return *this;
    }
    /// The allocation's tag.
    Request &tag(std::uint64_t tag) {
        request_.tag = tag;
        return *this;
    }
    /// The C request.
    const ma_request &c() const noexcept { return request_; }

private:
    ma_request request_;
};

/// An allocator over [0, capacity): owns its handle, move-only.
class Allocator {
public:
    /// A first-fit allocator; throws Error(MA_ERR_INVALID_ARGUMENT) for capacity 0.
    explicit Allocator(std::size_t capacity) : handle_(ma_create(capacity)) {
        if (handle_ == nullptr) {
            throw Error(MA_ERR_INVALID_ARGUMENT);
        }
    }

    /// An allocator with a policy and a minimum alignment (see ma_create_with).
    Allocator(std::size_t capacity, ma_policy policy, std::size_t min_alignment = 1) {
        ma_options options;
        ma_options_init(&options);
        options.capacity = capacity;
        options.policy = static_cast<uint32_t>(policy);
        options.min_alignment = min_alignment;
        check(ma_create_with(&options, &handle_));
    }

    Allocator(const Allocator &) = delete;
    Allocator &operator=(const Allocator &) = delete;
    Allocator(Allocator &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Allocator &operator=(Allocator &&other) noexcept {
        if (this != &other) {
            ma_destroy(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Allocator() { ma_destroy(handle_); }

    /// Allocates `size` units and returns the address.
    std::size_t alloc(std::size_t size) {
        std::size_t addr = 0;
        check(ma_alloc(handle_, size, &addr));
        return addr;
    }

    /// Allocates `size` units at a multiple of `alignment`.
    std::size_t alloc_aligned(std::size_t size, std::size_t alignment) {
        std::size_t addr = 0;
        check(ma_alloc_aligned(handle_, size, alignment, &addr));
        return addr;
    }

    /// Allocates as `request` says (see ma_alloc_ex) and returns the address.
    std::size_t alloc(const Request &request) {
        std::size_t addr = 0;
        check(ma_alloc_ex(handle_, &request.c(), &addr));
        return addr;
    }

    /// Reserves exactly [addr, addr + size) (see ma_alloc_at).
    void alloc_at(std::size_t addr, std::size_t size) { check(ma_alloc_at(handle_, addr, size)); }

    /// Grows or shrinks the range to [0, capacity) (see ma_set_capacity).
    void set_capacity(std::size_t capacity) { check(ma_set_capacity(handle_, capacity)); }

    /// The tag of the live allocation at `addr` (0 unless it was given one).
    std::uint64_t tag_of(std::size_t addr) const {
        std::uint64_t tag = 0;
        check(ma_tag_of(handle_, addr, &tag));
        return tag;
    }

    /// Gives the live allocation at `addr` the tag `tag` (0: untagged).
    void set_tag(std::size_t addr, std::uint64_t tag) { check(ma_set_tag(handle_, addr, tag)); }

    /// Frees every live allocation tagged `tag`; returns how many.
    std::size_t free_tagged(std::uint64_t tag) {
        std::size_t count = 0;
        check(ma_free_tagged(handle_, tag, &count));
        return count;
    }

    /// A compaction plan within the budgets (see ma_compact), already applied to the
    /// allocator: perform the moves in order with memmove. Addresses held elsewhere (an
    /// Allocation guard's included) must follow the moves.
    std::vector<ma_move> compact(std::size_t max_units = SIZE_MAX, std::size_t max_moves = 1024) {
        std::vector<ma_move> moves(max_moves);
        std::size_t count = 0;
        check(ma_compact(handle_, max_units, moves.data(), max_moves, &count));
        moves.resize(count);
        return moves;
    }

    /// A snapshot of the whole allocator (see ma_save and docs/SNAPSHOT.md).
    std::vector<unsigned char> save() const {
        std::size_t length = 0;
        ma_status status = ma_save(handle_, nullptr, 0, &length);
        if (status != MA_ERR_BUFFER_TOO_SMALL) {
            check(status);
        }
        std::vector<unsigned char> bytes(length);
        check(ma_save(handle_, bytes.data(), bytes.size(), &length));
        return bytes;
    }

    /// The allocator a snapshot describes; throws Error(MA_ERR_BAD_SNAPSHOT) for bytes
    /// that are not one.
    static Allocator load(const void *bytes, std::size_t length) {
        ma_allocator *handle = nullptr;
        check(ma_load(bytes, length, &handle));
        return Allocator(handle);
    }

    /// See load(const void *, std::size_t).
    static Allocator load(const std::vector<unsigned char> &bytes) { return load(bytes.data(), bytes.size()); }

    /// Frees the allocation (addr, size), checked as ma_free checks it.
    void free(std::size_t addr, std::size_t size) { check(ma_free(handle_, addr, size)); }

    /// Resizes an allocation; returns its (possibly new) address.
    std::size_t realloc(std::size_t addr, std::size_t old_size, std::size_t new_size) {
        std::size_t out = 0;
        check(ma_realloc(handle_, addr, old_size, new_size, &out));
        return out;
    }

    /// The size of the live allocation at `addr`.
    std::size_t size_of(std::size_t addr) const {
        std::size_t size = 0;
        check(ma_size_of(handle_, addr, &size));
        return size;
    }

    /// Frees every allocation at once.
    void reset() { check(ma_reset(handle_)); }

    /// The counters.
    ma_stats stats() const {
        ma_stats stats{};
        check(ma_get_stats(handle_, &stats));
        return stats;
    }

    /// The memory map, in ascending address order.
    std::vector<Block> blocks() const {
        std::vector<Block> out;
        check(ma_walk(handle_, &collect, &out));
        return out;
    }

    /// Allocates `size` units owned by the returned guard, which frees them.
    Allocation scoped(std::size_t size);

    /// The C handle, for calls the wrapper does not cover. Still owned by this object.
    ma_allocator *handle() const noexcept { return handle_; }

private:
    /// Takes ownership of a handle from ma_load.
    explicit Allocator(ma_allocator *handle) noexcept : handle_(handle) {}

    static int collect(void *ctx, std::size_t start, std::size_t size, ma_block_kind kind) {
        static_cast<std::vector<Block> *>(ctx)->push_back(Block{start, size, kind});
        return 0;
    }

    ma_allocator *handle_ = nullptr;
};

/// A live allocation that frees itself when destroyed; move-only.
class Allocation {
public:
    Allocation(Allocator &owner, std::size_t size) : owner_(&owner), address_(owner.alloc(size)), size_(size) {}
    Allocation(const Allocation &) = delete;
    Allocation &operator=(const Allocation &) = delete;
    Allocation(Allocation &&other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), address_(other.address_), size_(other.size_) {}
    Allocation &operator=(Allocation &&other) noexcept {
        if (this != &other) {
            reset();
            owner_ = std::exchange(other.owner_, nullptr);
            address_ = other.address_;
            size_ = other.size_;
        }
        return *this;
    }
    ~Allocation() { reset(); }

    std::size_t address() const noexcept { return address_; }
    std::size_t size() const noexcept { return size_; }

    /// Gives up ownership without freeing; returns the address.
    std::size_t release() noexcept {
        owner_ = nullptr;
        return address_;
    }

private:
    void reset() noexcept {
        if (owner_ != nullptr) {
            // Cannot fail for a range this guard allocated; never throw from a destructor.
            (void)ma_free(owner_->handle(), address_, size_);
            owner_ = nullptr;
        }
    }

    Allocator *owner_;
    std::size_t address_;
    std::size_t size_;
};

inline Allocation Allocator::scoped(std::size_t size) { return Allocation(*this, size); }

}  // namespace memalloc

#endif  // MEMALLOC_HPP
