"""One exception class per status code, raised in the C API's check order, after which
nothing has changed."""

from __future__ import annotations

import re
from typing import Callable

import pytest

import memalloc
from conftest import repo_file

#: Every MA_ERR_* code and its class.
CLASSES = {
    1: memalloc.NullPointer,
    2: memalloc.InvalidSize,
    3: memalloc.OutOfMemory,
    4: memalloc.InvalidAddress,
    5: memalloc.NotAllocated,
    6: memalloc.SizeMismatch,
    7: memalloc.InvalidAlignment,
    8: memalloc.InvalidArgument,
    9: memalloc.Internal,
    10: memalloc.Occupied,
    11: memalloc.BufferTooSmall,
    12: memalloc.BadSnapshot,
}


def test_one_class_per_status_with_code_and_the_c_message() -> None:
    for code, cls in CLASSES.items():
        assert issubclass(cls, memalloc.MemallocError) and cls.code == code
        error = cls()
        assert error.status == code
        assert str(error) == error.message == memalloc.status_str(code) != "unknown status code"
        assert repr(error).startswith(f"{cls.__name__}(status={code}")
    assert memalloc.errors.error_for(99).__class__ is memalloc.MemallocError
    assert memalloc.errors.error_for(99).message == "unknown status code"
    with pytest.raises(TypeError):
        memalloc.MemallocError()


def test_every_status_code_of_the_header_has_its_class() -> None:
    header = repo_file("include/memalloc.h").read_text()
    codes = {int(value): name for name, value in re.findall(r"#define (MA_ERR_\w+) (\d+)", header)}
    assert codes, "the header defines MA_ERR_* codes"
    for code, name in codes.items():
        cls = memalloc.errors.ERRORS.get(code)
        assert cls is not None, f"{name} ({code}) has no exception class"
        camel = "".join(part.capitalize() for part in name.removeprefix("MA_ERR_").split("_"))
        assert cls.__name__ == camel, f"{name} is raised as {cls.__name__}"
    assert set(memalloc.errors.ERRORS) == set(codes)


def raises(cls: type[memalloc.MemallocError], heap: memalloc.Allocator, call: Callable[[], object]) -> None:
    """``call`` raises exactly ``cls``, and the allocator is as before."""
    before, stats = heap.blocks(), heap.stats()
    with pytest.raises(memalloc.MemallocError) as raised:
        call()
    assert type(raised.value) is cls, f"raised {raised.value!r}, expected {cls.__name__}"
    assert raised.value.status == cls.code
    assert heap.blocks() == before and heap.stats() == stats, "an error changed the allocator"


def test_create_with_checks_capacity_then_policy_then_alignment() -> None:
    for kwargs, cls in [
        (dict(capacity=0, policy=99, min_alignment=3), memalloc.InvalidArgument),
        (dict(capacity=10, policy=99, min_alignment=3), memalloc.InvalidArgument),
        (dict(capacity=10, policy="worst-fit"), memalloc.InvalidArgument),
        (dict(capacity=10, min_alignment=3), memalloc.InvalidAlignment),
        (dict(capacity=10, min_alignment=0), memalloc.InvalidAlignment),
    ]:
        with pytest.raises(memalloc.MemallocError) as raised:
            memalloc.Allocator(**kwargs)  # type: ignore[arg-type]
        assert type(raised.value) is cls, kwargs


def test_alloc_checks_size_then_room(heap: memalloc.Allocator) -> None:
    heap.alloc(10)
    raises(memalloc.InvalidSize, heap, lambda: heap.alloc(0))
    raises(memalloc.OutOfMemory, heap, lambda: heap.alloc(91))
    raises(memalloc.OutOfMemory, heap, lambda: heap.alloc(memalloc.SIZE_MAX))


def test_alloc_aligned_checks_alignment_then_size_then_room(heap: memalloc.Allocator) -> None:
    raises(memalloc.InvalidAlignment, heap, lambda: heap.alloc(0, alignment=3))
    raises(memalloc.InvalidAlignment, heap, lambda: heap.alloc_aligned(10, 0))
    raises(memalloc.InvalidSize, heap, lambda: heap.alloc_aligned(0, 4))
    heap.alloc(1)
    raises(memalloc.OutOfMemory, heap, lambda: heap.alloc_aligned(40, 64))  # 64 + 40 > 100


def test_alloc_ex_checks_flags_alignment_size_range_then_room(heap: memalloc.Allocator) -> None:
    raises(memalloc.InvalidArgument, heap, lambda: heap.alloc_ex(0, alignment=3, flags=1 << 7))
    raises(memalloc.InvalidAlignment, heap, lambda: heap.alloc_ex(0, alignment=3, lo=50, hi=50))
    raises(memalloc.InvalidSize, heap, lambda: heap.alloc_ex(0, lo=50, hi=50))
    raises(memalloc.InvalidArgument, heap, lambda: heap.alloc_ex(1, lo=50, hi=50))
    raises(memalloc.InvalidArgument, heap, lambda: heap.alloc_ex(1, lo=100))
    raises(memalloc.OutOfMemory, heap, lambda: heap.alloc_ex(11, lo=50, hi=60))


def test_alloc_at_checks_address_size_alignment_then_occupied() -> None:
    with memalloc.Allocator(100, min_alignment=4) as heap:
        heap.alloc_at(40, 8)
        raises(memalloc.InvalidAddress, heap, lambda: heap.alloc_at(100, 0))
        raises(memalloc.InvalidSize, heap, lambda: heap.alloc_at(41, 0))
        raises(memalloc.InvalidSize, heap, lambda: heap.alloc_at(96, 5))
        raises(memalloc.InvalidSize, heap, lambda: heap.alloc_at(96, memalloc.SIZE_MAX))
        raises(memalloc.InvalidAlignment, heap, lambda: heap.alloc_at(41, 4))
        raises(memalloc.Occupied, heap, lambda: heap.alloc_at(44, 4))


def test_set_capacity_checks_zero_then_occupied(heap: memalloc.Allocator) -> None:
    heap.alloc(50)
    raises(memalloc.InvalidArgument, heap, lambda: heap.set_capacity(0))
    raises(memalloc.Occupied, heap, lambda: heap.set_capacity(49))


def test_free_checks_address_size_overflow_liveness_then_size(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(20)
    raises(memalloc.InvalidAddress, heap, lambda: heap.free(100, 0))
    raises(memalloc.InvalidSize, heap, lambda: heap.free(addr + 1, 0))
    raises(memalloc.InvalidSize, heap, lambda: heap.free(90, 11))
    raises(memalloc.InvalidSize, heap, lambda: heap.free(90, memalloc.SIZE_MAX))
    raises(memalloc.NotAllocated, heap, lambda: heap.free(addr + 1, 7))
    raises(memalloc.SizeMismatch, heap, lambda: heap.free(addr, 19))
    heap.free(addr, 20)
    raises(memalloc.NotAllocated, heap, lambda: heap.free(addr, 20))  # a double free


def test_free_at_and_size_of_check_address_then_liveness(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(20)
    for call in (heap.free_at, heap.size_of):
        raises(memalloc.InvalidAddress, heap, lambda: call(100))
        raises(memalloc.NotAllocated, heap, lambda: call(addr + 1))


def test_realloc_checks_the_old_block_as_free_does_then_new_size_then_room(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(20)
    heap.alloc(70)
    raises(memalloc.InvalidAddress, heap, lambda: heap.realloc(100, 0, 0))
    raises(memalloc.InvalidSize, heap, lambda: heap.realloc(addr, 0, 0))
    raises(memalloc.NotAllocated, heap, lambda: heap.realloc(addr + 1, 5, 0))
    raises(memalloc.SizeMismatch, heap, lambda: heap.realloc(addr, 19, 0))
    raises(memalloc.InvalidSize, heap, lambda: heap.realloc(addr, 20, 0))
    raises(memalloc.OutOfMemory, heap, lambda: heap.realloc(addr, 20, 31))
    assert heap.size_of(addr) == 20, "the old allocation stays"


def test_a_closed_allocator_raises_null_pointer_before_anything_else() -> None:
    heap = memalloc.Allocator(100)
    addr = heap.alloc(10)
    heap.close()
    calls: list[Callable[[], object]] = [
        lambda: heap.alloc(0),
        lambda: heap.alloc(1),
        lambda: heap.alloc_aligned(0, 3),
        lambda: heap.alloc_ex(0, alignment=3, flags=1 << 7),
        lambda: heap.alloc_at(1000, 0),
        lambda: heap.set_capacity(0),
        lambda: heap.free(1000, 0),
        lambda: heap.free(addr, 10),
        lambda: heap.free_at(1000),
        lambda: heap.size_of(addr),
        lambda: heap.realloc(1000, 0, 0),
        heap.reset,
        heap.stats,
        heap.blocks,
        heap.save,
        heap.compact,
        lambda: heap.compact(max_moves=0),
        lambda: heap.set_tag(1000, 1),
        lambda: heap.tag_of(1000),
        lambda: heap.free_tagged(0),
    ]
    for call in calls:
        with pytest.raises(memalloc.NullPointer):
            call()


def test_catching_the_base_class_catches_every_error(heap: memalloc.Allocator) -> None:
    for call in (lambda: heap.alloc(0), lambda: heap.free(5, 5), lambda: heap.alloc(1000)):
        with pytest.raises(memalloc.MemallocError):
            call()


def test_tags_check_address_then_liveness(heap: memalloc.Allocator) -> None:
    addr = heap.alloc(20)
    raises(memalloc.InvalidAddress, heap, lambda: heap.set_tag(100, 1))
    raises(memalloc.NotAllocated, heap, lambda: heap.set_tag(addr + 1, 1))
    raises(memalloc.InvalidAddress, heap, lambda: heap.tag_of(100))
    raises(memalloc.NotAllocated, heap, lambda: heap.tag_of(addr + 1))


def test_load_refuses_what_is_not_a_snapshot(heap: memalloc.Allocator) -> None:
    heap.alloc(20)
    snapshot = heap.save()
    damaged = bytearray(snapshot)
    damaged[len(damaged) // 2] ^= 0xFF
    for bad in (b"", b"not a snapshot", bytes(damaged), snapshot[:-1], snapshot + b"\0"):
        with pytest.raises(memalloc.BadSnapshot):
            memalloc.Allocator.load(bad)
    with pytest.raises(TypeError):
        memalloc.Allocator.load("text")  # type: ignore[arg-type]
