"""Every allocator method, each against the C function it calls."""

from __future__ import annotations

import dataclasses
import threading

import pytest

import memalloc
from memalloc import BlockKind, Extent, Policy, RequestFlag


def test_worked_example_addresses_and_maps(heap: memalloc.Allocator) -> None:
    assert str(heap) == "[Free(0-99)]"
    assert [heap.alloc(20), heap.alloc(30), heap.alloc(40)] == [0, 20, 50]
    heap.free(20, 30)
    assert heap.alloc(25) == 20
    assert str(heap) == "[Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]"
    heap.free(0, 20)
    heap.free(20, 25)
    assert str(heap) == "[Free(0-49)] [Allocated(50-89)] [Free(90-99)]"


def test_create_with_every_policy(policy: str) -> None:
    with memalloc.Allocator(64, policy=policy) as heap:
        assert heap.policy == Policy.parse(policy) and str(heap.policy) == policy
        addr = heap.alloc(8)
        assert heap.size_of(addr) == 8
        heap.free(addr, 8)
        assert heap.stats().allocations == 0
    assert heap.closed


def test_policy_accepts_the_enum_its_name_and_its_value() -> None:
    for policy in (Policy.BEST_FIT, "best-fit", 1):
        with memalloc.Allocator(10, policy=policy) as heap:
            assert heap.policy is Policy.BEST_FIT
    assert [str(p) for p in Policy] == ["first-fit", "best-fit", "tlsf", "buddy"]


def test_best_fit_takes_the_smallest_block() -> None:
    with memalloc.Allocator(100, policy="best-fit") as heap:
        a, _, c, _ = heap.alloc(30), heap.alloc(1), heap.alloc(10), heap.alloc(1)
        heap.free(a, 30)
        heap.free(c, 10)
        assert heap.alloc(8) == c  # the 10-unit hole, not the 30-unit one


def test_create_is_ma_create_first_fit() -> None:
    with memalloc.Allocator.create(100) as heap:
        assert heap.policy is Policy.FIRST_FIT
        assert [heap.alloc(20), heap.alloc(30)] == [0, 20]
    with pytest.raises(memalloc.InvalidArgument):
        memalloc.Allocator.create(0)


def test_min_alignment_rounds_every_address_and_footprint() -> None:
    with memalloc.Allocator(100, min_alignment=16) as heap:
        assert [heap.alloc(5), heap.alloc(5)] == [0, 16]
        assert heap.stats().padding == 11 + 11 + 4  # two roundings and the unusable tail
        assert heap.blocks()[:2] == [Extent(0, 5, BlockKind.ALLOCATED), Extent(5, 11, BlockKind.PADDING)]


def test_alloc_aligned_leaves_the_gap_free(heap: memalloc.Allocator) -> None:
    heap.alloc(3)
    assert heap.alloc(10, alignment=16) == 16
    assert heap.alloc_aligned(10, 32) == 32
    assert str(heap) == "[Allocated(0-2)] [Free(3-15)] [Allocated(16-25)] [Free(26-31)] [Allocated(32-41)] [Free(42-99)]"


def test_alloc_ex_range_top_down_tag_and_pin(heap: memalloc.Allocator) -> None:
    assert heap.alloc_ex(10) == 0  # the defaults: ma_alloc
    assert heap.alloc_ex(10, lo=40, hi=60) == 40
    assert heap.alloc_ex(10, flags=RequestFlag.TOP_DOWN) == 90
    assert heap.alloc_ex(10, lo=40, hi=80, flags=RequestFlag.TOP_DOWN | RequestFlag.PINNED, tag=7) == 70
    assert heap.alloc_ex(4, alignment=8, lo=11) == 16
    assert heap.alloc_ex(5, tag=2**64 - 1) == 10
    with pytest.raises(memalloc.OutOfMemory):
        heap.alloc_ex(15, lo=50, hi=64)  # 50-63 is free, but only 14 units
    assert heap.stats().allocations == 6


def test_alloc_at_reserves_exactly_and_frees_as_any_allocation(heap: memalloc.Allocator) -> None:
    assert heap.alloc_at(40, 10) == 40
    assert str(heap) == "[Free(0-39)] [Allocated(40-49)] [Free(50-99)]"
    with pytest.raises(memalloc.Occupied):
        heap.alloc_at(45, 10)
    assert heap.size_of(40) == 10
    heap.free(40, 10)
    assert str(heap) == "[Free(0-99)]"


def test_set_capacity_grows_and_shrinks_around_live_allocations(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(30)
    heap.set_capacity(200)
    assert heap.stats().capacity == 200 and str(heap) == "[Allocated(0-29)] [Free(30-199)]"
    heap.set_capacity(30)
    assert str(heap) == "[Allocated(0-29)]"
    with pytest.raises(memalloc.Occupied):
        heap.set_capacity(29)
    heap.free(addr)
    heap.set_capacity(1)
    assert heap.stats().free == 1


def test_free_with_and_without_size(heap: memalloc.Allocator) -> None:
    a, b = heap.alloc(10), heap.alloc(10)
    heap.free(a, 10)  # ma_free
    heap.free(b)  # ma_free_at
    c = heap.alloc(5)
    heap.free_at(c)
    assert str(heap) == "[Free(0-99)]"


def test_size_of(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(42)
    assert heap.size_of(addr) == 42
    with pytest.raises(memalloc.NotAllocated):
        heap.size_of(addr + 1)


def test_realloc_in_place_and_moving(heap: memalloc.Allocator) -> None:
    a = heap.alloc(10)
    assert heap.realloc(a, 10, 20) == a  # the free space after it holds the growth
    b = heap.alloc(10)
    moved = heap.realloc(a, 20, 30)  # b is in the way: moves
    assert moved == b + 10 and heap.size_of(moved) == 30
    assert heap.realloc(moved, 30, 5) == moved  # shrinks in place
    assert heap.stats().allocated == 15


def test_reset_frees_everything(policy: str) -> None:
    with memalloc.Allocator(64, policy=policy) as heap:
        for _ in range(3):
            heap.alloc(8)
        heap.reset()
        assert heap.stats().allocations == 0
        assert all(extent.kind is BlockKind.FREE for extent in heap.blocks())


def test_stats_is_a_frozen_dataclass_whose_counters_add_up(policy: str) -> None:
    with memalloc.Allocator(100, policy=policy) as heap:
        heap.alloc(20)
        heap.alloc(7)
        stats = heap.stats()
        assert stats.capacity == stats.allocated + stats.free + stats.padding == 100
        assert (stats.allocated, stats.allocations) == (27, 2)
        assert stats.free_blocks >= 1 and 0 < stats.largest_free <= stats.free
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.free = 0  # type: ignore[misc]
        assert [f.name for f in dataclasses.fields(stats)] == [
            "capacity", "allocated", "free", "largest_free", "free_blocks", "allocations", "padding"]


def test_blocks_and_walk_tile_the_range(policy: str) -> None:
    with memalloc.Allocator(100, policy=policy) as heap:
        for size in (20, 30, 5):
            heap.alloc(size)
        extents = heap.blocks()
        assert list(heap.walk()) == extents
        position = 0
        for extent in extents:
            assert extent.start == position and extent.size > 0 and isinstance(extent.kind, BlockKind)
            position += extent.size
        assert position == 100
        assert sum(e.size for e in extents if e.kind is BlockKind.ALLOCATED) == 55
        assert str(heap) == " ".join(str(e) for e in extents)


def test_buddy_rounding_shows_as_padding() -> None:
    with memalloc.Allocator(64, policy="buddy") as heap:
        heap.alloc(5)
        assert heap.blocks()[:2] == [Extent(0, 5, BlockKind.ALLOCATED), Extent(5, 3, BlockKind.PADDING)]
        assert heap.stats().padding == 3


def test_the_whole_size_t_range_round_trips() -> None:
    capacity = memalloc.SIZE_MAX
    with memalloc.Allocator(capacity) as heap:
        addr = heap.alloc(2**63)
        assert heap.size_of(addr) == 2**63
        assert heap.stats().free == capacity - 2**63


def test_values_that_do_not_fit_size_t_are_rejected_before_the_call(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(20)
    for bad in (-1, 2**64, 2**64 + addr):  # ctypes alone would wrap 2**64 + addr around to addr
        with pytest.raises(OverflowError):
            heap.free(bad, 20)
        with pytest.raises(OverflowError):
            heap.alloc(bad)
    with pytest.raises(TypeError):
        heap.alloc(1.5)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        memalloc.Allocator(-1)
    with pytest.raises(OverflowError):
        heap.alloc_ex(1, tag=2**64)
    assert heap.size_of(addr) == 20 and heap.stats().allocations == 1


def test_context_manager_closes_and_close_is_idempotent() -> None:
    with memalloc.Allocator(10) as heap:
        assert not heap.closed
    assert heap.closed
    with pytest.raises(memalloc.NullPointer):
        heap.alloc(1)
    heap.close()
    assert "closed" in repr(heap)
    other = memalloc.Allocator(10)
    other.close()
    assert other.closed


def test_many_threads_on_one_allocator() -> None:
    with memalloc.Allocator(1 << 20, policy="tlsf") as heap:
        errors: list[BaseException] = []

        def churn() -> None:
            try:
                for _ in range(500):
                    addr = heap.alloc(64)
                    assert heap.size_of(addr) == 64
                    heap.free(addr, 64)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=churn) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert heap.stats().allocations == 0 and str(heap) == f"[Free(0-{(1 << 20) - 1})]"


def test_version_and_status_str() -> None:
    assert memalloc.version() == memalloc.__version__
    assert memalloc.status_str(0) == "success"
    assert memalloc.status_str(6) == "the live allocation at this address has another size"
    assert memalloc.status_str(12345) == memalloc.status_str(-1) == "unknown status code"


def test_tags_set_read_and_free_together(heap: memalloc.Allocator) -> None:
    a, b, c = heap.alloc(10), heap.alloc(10), heap.alloc(10)
    assert heap.tag_of(a) == 0
    heap.set_tag(a, 7)
    heap.set_tag(c, 7)
    assert [heap.tag_of(x) for x in (a, b, c)] == [7, 0, 7]
    d = heap.alloc_ex(5, tag=2**64 - 1)
    assert heap.tag_of(d) == 2**64 - 1
    assert heap.free_tagged(7) == 2
    assert heap.free_tagged(7) == 0
    assert heap.stats().allocations == 2
    assert heap.free_tagged(0) == 1  # the untagged b
    assert [e.kind for e in heap.blocks()].count(BlockKind.ALLOCATED) == 1


def test_compact_slides_unpinned_allocations_down_and_returns_the_moves(heap: memalloc.Allocator) -> None:
    a, b, c = heap.alloc(10), heap.alloc(10), heap.alloc(10)
    pinned = heap.alloc_ex(5, lo=60, flags=RequestFlag.PINNED)
    heap.free(a, 10)
    heap.set_tag(c, 3)
    assert heap.compact() == [memalloc.Move(b, 0, 10), memalloc.Move(c, 10, 10)]
    assert heap.tag_of(10) == 3 and heap.size_of(pinned) == 5
    assert str(heap) == "[Allocated(0-9)] [Allocated(10-19)] [Free(20-59)] [Allocated(60-64)] [Free(65-99)]"
    assert heap.compact() == []


def test_compact_keeps_to_its_budget(heap: memalloc.Allocator) -> None:
    a = heap.alloc(10)
    others = [heap.alloc(10) for _ in range(3)]
    heap.free(a, 10)
    first = heap.compact(max_moves=1)
    assert first == [memalloc.Move(others[0], 0, 10)]
    assert heap.compact(max_units=10) == [memalloc.Move(others[1], 10, 10)]
    assert heap.compact(max_moves=0) == []
    assert len(heap.compact()) == 1


def test_save_and_load_reopen_the_allocator_exactly(policy: str) -> None:
    with memalloc.Allocator(1000, policy=policy, min_alignment=4) as heap:
        addresses = [heap.alloc(size) for size in (10, 200, 33, 7)]
        heap.free(addresses[1], 200)
        heap.set_tag(addresses[2], 9)
        snapshot = heap.save()
        assert isinstance(snapshot, bytes) and len(snapshot) > 0
        with memalloc.Allocator.load(snapshot) as loaded:
            assert loaded.blocks() == heap.blocks() and loaded.stats() == heap.stats()
            assert loaded.tag_of(addresses[2]) == 9
            assert loaded.save() == snapshot
            assert loaded.policy is None and "snapshot" in repr(loaded)
            # Both go on the same way.
            assert loaded.alloc(150) == heap.alloc(150)
