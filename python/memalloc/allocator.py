"""The allocator: one handle of the C library, as a Python object and context manager."""

from __future__ import annotations

import ctypes
import dataclasses
import enum
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple, Union

from . import _native
from .errors import BufferTooSmall, InvalidArgument, check

__all__ = ["Allocator", "Policy", "BlockKind", "RequestFlag", "Extent", "Move", "Stats", "SIZE_MAX"]

#: The largest ``size_t``: the default upper bound of :meth:`Allocator.alloc_ex`'s range.
SIZE_MAX = _native.SIZE_MAX


class Policy(enum.IntEnum):
    """Placement policies (``ma_policy``). ``str(policy)`` is its name, e.g. ``first-fit``."""

    #: Lowest-addressed fit; exactly the reference's addresses. O(log n).
    FIRST_FIT = 0
    #: Smallest fitting block, ties to the lowest address. O(log n).
    BEST_FIT = 1
    #: Two-level segregated fit: O(1) good fit.
    TLSF = 2
    #: Binary buddy: power-of-two blocks, rounding shows as padding.
    BUDDY = 3

    def __str__(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, policy: Union[Policy, str, int]) -> int:
        """The C value of ``policy``: a :class:`Policy`, its name (``"best-fit"``) or an int
        (passed through: the C library rejects unknown values with InvalidArgument)."""
        if isinstance(policy, str):
            for member in cls:
                if str(member) == policy:
                    return int(member)
            raise InvalidArgument()
        return _native.uint32_t.check(policy)


class BlockKind(enum.IntEnum):
    """What an extent of the map holds (``ma_block_kind``). ``str(kind)`` is ``Free``,
    ``Allocated`` or ``Padding``, as in the map notation."""

    #: Free space.
    FREE = 0
    #: A live allocation, exactly its size.
    ALLOCATED = 1
    #: Units of the allocation just before, beyond its size.
    PADDING = 2

    def __str__(self) -> str:
        return self.name.capitalize()


class RequestFlag(enum.IntFlag):
    """Flags of :meth:`Allocator.alloc_ex` (``MA_REQ_*``)."""

    #: Take the highest address that fits, not the lowest.
    TOP_DOWN = 1
    #: Compaction never moves this allocation.
    PINNED = 2


class Extent(NamedTuple):
    """One extent of the memory map: ``[start, start + size)`` holding ``kind``."""

    start: int
    size: int
    kind: BlockKind

    def __str__(self) -> str:
        return f"[{self.kind}({self.start}-{self.start + self.size - 1})]"


class Move(NamedTuple):
    """One step of a compaction plan (``ma_move``): the allocation of ``size`` units that
    was at ``source`` (C: ``from``) is now at ``target`` (C: ``to``, below ``source``)."""

    source: int
    target: int
    size: int


@dataclass(frozen=True)
class Stats:
    """The allocator's counters (``ma_stats``); ``capacity == allocated + free + padding``."""

    #: The managed range is ``[0, capacity)``.
    capacity: int
    #: Sum of the sizes of live allocations.
    allocated: int
    #: Units in free blocks.
    free: int
    #: Size of the largest free block (0 when none).
    largest_free: int
    #: Number of free blocks.
    free_blocks: int
    #: Number of live allocations.
    allocations: int
    #: Units that belong to allocations beyond their sizes (alignment, buddy rounding).
    padding: int


class Allocator:
    """An allocator over ``[0, capacity)``: one C handle, thread-safe like it.

    Use it as a context manager (the handle is destroyed at the end of the ``with``
    block) or call :meth:`close`. Every method raises a :class:`~memalloc.MemallocError`
    subclass for an error status, after which nothing has changed; a method called
    after :meth:`close` raises :class:`~memalloc.NullPointer`. Addresses and sizes are
    ints that fit a C ``size_t`` (else ``OverflowError``).

    >>> with Allocator(100, policy="best-fit") as heap:
    ...     a = heap.alloc(20)
    ...     heap.free(a, 20)
    """

    def __init__(self, capacity: int, policy: Union[Policy, str, int] = Policy.FIRST_FIT, min_alignment: int = 1) -> None:
        """``ma_options_init`` and ``ma_create_with``: an allocator over ``[0, capacity)``,
        all free, with ``policy`` and every address a multiple of ``min_alignment``.

        Raises InvalidArgument (capacity 0, unknown policy) or InvalidAlignment
        (``min_alignment`` 0 or not a power of two), in that order.
        """
        options = _native.Options()
        _native.lib.ma_options_init(ctypes.byref(options))
        options.capacity = _native.size_t.check(capacity)
        policy_value = Policy.parse(policy)
        options.policy = _native.uint32_t.check(policy_value)
        options.min_alignment = _native.size_t.check(min_alignment)
        handle = _native.handle_t()
        check(_native.lib.ma_create_with(ctypes.byref(options), ctypes.byref(handle)))
        self._handle = handle
        #: The policy it was created with (None when loaded from a snapshot).
        self.policy: Policy | None = Policy(policy_value)
        #: The minimum alignment it was created with (None when loaded from a snapshot).
        self.min_alignment: int | None = min_alignment

    @classmethod
    def create(cls, capacity: int) -> Allocator:
        """``ma_create``: a first-fit allocator over ``[0, capacity)``. The C function
        returns NULL for capacity 0 (raised as InvalidArgument, as the constructor does)
        or when host memory is exhausted (``MemoryError``)."""
        handle = _native.lib.ma_create(capacity)
        if not handle:
            if capacity == 0:
                raise InvalidArgument()
            raise MemoryError("ma_create returned NULL")
        return cls._adopt(_native.handle_t(handle), Policy.FIRST_FIT, 1)

    @classmethod
    def load(cls, snapshot: bytes) -> Allocator:
        """``ma_load``: the allocator a :meth:`save` snapshot describes, exactly as it was.

        Raises BadSnapshot for bytes that are not a snapshot this library version wrote.
        """
        if not isinstance(snapshot, (bytes, bytearray, memoryview)):
            raise TypeError(f"a snapshot is bytes, not {type(snapshot).__name__}")
        data = bytes(snapshot)
        handle = _native.handle_t()
        check(_native.lib.ma_load(data, len(data), ctypes.byref(handle)))
        return cls._adopt(handle, None, None)

    @classmethod
    def _adopt(cls, handle: ctypes.c_void_p, policy: Policy | None, min_alignment: int | None) -> Allocator:
        """An Allocator that owns ``handle``."""
        allocator = cls.__new__(cls)
        allocator._handle = handle
        allocator.policy = policy
        allocator.min_alignment = min_alignment
        return allocator

    # Lifetime.

    def close(self) -> None:
        """``ma_destroy``: releases the handle. Later calls raise NullPointer; closing
        twice is harmless. Must not run while another thread uses the allocator."""
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = _native.handle_t()
            _native.lib.ma_destroy(handle)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return not self._handle

    def __enter__(self) -> Allocator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the interpreter may be shutting down
            pass

    # Allocation.

    def _out(self, function: Callable[..., int], *args: object) -> int:
        """Calls ``function(handle, *args, &out)`` and returns ``out``."""
        out = ctypes.c_size_t(0)
        check(function(self._handle, *args, ctypes.byref(out)))
        return out.value

    def alloc(self, size: int, alignment: int | None = None) -> int:
        """``ma_alloc`` (or ``ma_alloc_aligned`` when ``alignment`` is given): allocates
        ``size`` units with the allocator's policy and returns the address.

        Raises InvalidAlignment, InvalidSize (size 0) or OutOfMemory, in that order.
        """
        if alignment is None:
            return self._out(_native.lib.ma_alloc, size)
        return self.alloc_aligned(size, alignment)

    def alloc_aligned(self, size: int, alignment: int) -> int:
        """``ma_alloc_aligned``: ``size`` units at a multiple of ``alignment``; the gap
        before the block stays free."""
        return self._out(_native.lib.ma_alloc_aligned, size, alignment)

    def alloc_ex(
        self,
        size: int,
        *,
        alignment: int = 1,
        lo: int = 0,
        hi: int = SIZE_MAX,
        flags: int = 0,
        tag: int = 0,
    ) -> int:
        """``ma_request_init`` and ``ma_alloc_ex``: ``size`` units at a multiple of
        ``alignment``, the whole footprint inside ``[lo, hi)`` (``hi`` clamped to the
        capacity), at the lowest address the policy picks there, or the highest with
        ``RequestFlag.TOP_DOWN``; ``tag`` and ``RequestFlag.PINNED`` are recorded with the
        allocation. With the defaults it is :meth:`alloc`, address for address.

        Raises InvalidArgument (a flag not defined), InvalidAlignment, InvalidSize,
        InvalidArgument (``lo >= min(hi, capacity)``) or OutOfMemory, in that order.
        """
        request = _native.Request()
        _native.lib.ma_request_init(ctypes.byref(request), size)
        request.alignment = _native.size_t.check(alignment)
        request.lo = _native.size_t.check(lo)
        request.hi = _native.size_t.check(hi)
        request.flags = _native.uint32_t.check(flags)
        request.tag = _native.uint64_t.check(tag)
        return self._out(_native.lib.ma_alloc_ex, ctypes.byref(request))

    def alloc_at(self, addr: int, size: int) -> int:
        """``ma_alloc_at``: reserves exactly ``[addr, addr + size)``, freed later as any
        allocation; returns ``addr``.

        Raises InvalidAddress, InvalidSize, InvalidAlignment or Occupied, in that order.
        """
        check(_native.lib.ma_alloc_at(self._handle, addr, size))
        return addr

    def free(self, addr: int, size: int | None = None) -> None:
        """``ma_free`` (or ``ma_free_at`` without ``size``): frees the allocation at
        ``addr``, merging it with its free neighbours.

        Raises InvalidAddress, InvalidSize, NotAllocated or SizeMismatch, in that order.
        """
        if size is None:
            self.free_at(addr)
        else:
            check(_native.lib.ma_free(self._handle, addr, size))

    def free_at(self, addr: int) -> None:
        """``ma_free_at``: frees the live allocation at ``addr`` without repeating its size."""
        check(_native.lib.ma_free_at(self._handle, addr))

    def size_of(self, addr: int) -> int:
        """``ma_size_of``: the size of the live allocation at ``addr``."""
        return self._out(_native.lib.ma_size_of, addr)

    def realloc(self, addr: int, old_size: int, new_size: int) -> int:
        """``ma_realloc``: resizes the allocation ``(addr, old_size)`` and returns its
        address, the same or a new one (only addresses move: the caller copies)."""
        return self._out(_native.lib.ma_realloc, addr, old_size, new_size)

    def reset(self) -> None:
        """``ma_reset``: frees every allocation at once."""
        check(_native.lib.ma_reset(self._handle))

    def set_capacity(self, new_capacity: int) -> None:
        """``ma_set_capacity``: grows or shrinks the range to ``[0, new_capacity)``, the
        live allocations where they are.

        Raises InvalidArgument (0) or Occupied (a live allocation beyond it).
        """
        check(_native.lib.ma_set_capacity(self._handle, new_capacity))

    # Tags, compaction, snapshots.

    def set_tag(self, addr: int, tag: int) -> None:
        """``ma_set_tag``: gives the live allocation at ``addr`` the tag ``tag`` (0: untagged).

        Raises InvalidAddress or NotAllocated, in that order.
        """
        check(_native.lib.ma_set_tag(self._handle, addr, tag))

    def tag_of(self, addr: int) -> int:
        """``ma_tag_of``: the tag of the live allocation at ``addr`` (0 unless it has one)."""
        out = ctypes.c_uint64(0)
        check(_native.lib.ma_tag_of(self._handle, addr, ctypes.byref(out)))
        return out.value

    def free_tagged(self, tag: int) -> int:
        """``ma_free_tagged``: frees every live allocation tagged ``tag`` (0: every untagged
        one); returns how many."""
        return self._out(_native.lib.ma_free_tagged, tag)

    def compact(self, max_units: int = SIZE_MAX, max_moves: int | None = None) -> list[Move]:
        """``ma_compact``: slides unpinned allocations toward address 0, in address order,
        within a budget of ``max_units`` moved units and ``max_moves`` moves (default: as
        many as there are allocations), and returns the moves. The allocator is updated
        at once: the caller moves the bytes, in the order given (each ``target <
        source``; ``memmove`` semantics). Calling again continues where the budget stopped.
        """
        if max_moves is None:
            max_moves = self.stats().allocations
        _native.size_t.check(max_moves)
        moves = (_native.Move * max_moves)()
        count = self._out(_native.lib.ma_compact, max_units, moves, max_moves)
        return [Move(m.from_, m.to, m.size) for m in moves[:count]]

    def save(self) -> bytes:
        """``ma_save``: a snapshot of the whole allocator, which :meth:`load` reopens
        exactly (the format: docs/SNAPSHOT.md)."""
        length = ctypes.c_size_t(0)
        buffer = ctypes.create_string_buffer(0)
        while True:
            status = _native.lib.ma_save(self._handle, buffer, len(buffer), ctypes.byref(length))
            if status != BufferTooSmall.code:
                check(status)
                return buffer.raw[: length.value]
            # Asked for the length (or another thread grew the allocator meanwhile).
            buffer = ctypes.create_string_buffer(length.value)

    # Looking inside.

    def stats(self) -> Stats:
        """``ma_get_stats``: the counters."""
        raw = _native.Stats()
        check(_native.lib.ma_get_stats(self._handle, ctypes.byref(raw)))
        return Stats(**{field.name: getattr(raw, field.name) for field in dataclasses.fields(Stats)})

    def blocks(self) -> list[Extent]:
        """``ma_walk``: the memory map, every extent in ascending address order (they
        tile ``[0, capacity)``), from a snapshot taken at the call."""
        extents: list[Extent] = []

        def visit(_ctx: object, start: int, size: int, kind: int) -> int:
            extents.append(Extent(start, size, BlockKind(kind)))
            return 0

        check(_native.lib.ma_walk(self._handle, _native.WALK_FN(visit), None))
        return extents

    def walk(self) -> Iterator[Extent]:
        """The extents of :meth:`blocks`, as an iterator."""
        return iter(self.blocks())

    def __str__(self) -> str:
        """The map in the reference notation: ``[Allocated(0-19)] [Free(20-99)]``."""
        return " ".join(map(str, self.blocks()))

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"capacity={self.stats().capacity}"
        if self.policy is None:
            return f"<memalloc.Allocator {state} (loaded from a snapshot)>"
        return f"<memalloc.Allocator {state} policy={self.policy} min_alignment={self.min_alignment}>"
