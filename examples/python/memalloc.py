"""memalloc from Python: a small ctypes binding of libmemalloc.so.

Every function of the C API is declared with its argument and result types (so that a
handle is never truncated to a C int), every non-zero status becomes an exception named
after it, and `Allocator` is a context manager that destroys its handle.

    from memalloc import Allocator
    with Allocator(100) as heap:
        a = heap.alloc(20)
        heap.free(a, 20)

The library is found through $MEMALLOC_LIB, else as libmemalloc.so on the loader's path.
"""

import ctypes
import os

_lib = ctypes.CDLL(os.environ.get("MEMALLOC_LIB", "libmemalloc.so"))

size_t = ctypes.c_size_t
status_t = ctypes.c_int32


class Stats(ctypes.Structure):
    """ma_stats: the allocator's counters."""

    _fields_ = [(name, size_t) for name in (
        "capacity", "allocated", "free", "largest_free", "free_blocks", "allocations", "padding")]


class Options(ctypes.Structure):
    """ma_options: start from ma_options_init, as the C API requires."""

    _fields_ = [("struct_size", size_t), ("capacity", size_t), ("policy", ctypes.c_uint32),
                ("min_alignment", size_t)]


WALK_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, size_t, size_t, ctypes.c_int)

_signatures = {
    "ma_create": ([size_t], ctypes.c_void_p),
    "ma_create_with": ([ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_void_p)], status_t),
    "ma_options_init": ([ctypes.POINTER(Options)], None),
    "ma_destroy": ([ctypes.c_void_p], None),
    "ma_alloc": ([ctypes.c_void_p, size_t, ctypes.POINTER(size_t)], status_t),
    "ma_alloc_aligned": ([ctypes.c_void_p, size_t, size_t, ctypes.POINTER(size_t)], status_t),
    "ma_free": ([ctypes.c_void_p, size_t, size_t], status_t),
    "ma_free_at": ([ctypes.c_void_p, size_t], status_t),
    "ma_size_of": ([ctypes.c_void_p, size_t, ctypes.POINTER(size_t)], status_t),
    "ma_realloc": ([ctypes.c_void_p, size_t, size_t, size_t, ctypes.POINTER(size_t)], status_t),
    "ma_reset": ([ctypes.c_void_p], status_t),
    "ma_get_stats": ([ctypes.c_void_p, ctypes.POINTER(Stats)], status_t),
    "ma_walk": ([ctypes.c_void_p, WALK_FN, ctypes.c_void_p], status_t),
    "ma_status_str": ([status_t], ctypes.c_char_p),
    "ma_version": ([], ctypes.c_char_p),
}
for _name, (_args, _result) in _signatures.items():
    _function = getattr(_lib, _name)
    _function.argtypes = _args
    _function.restype = _result


class MemallocError(Exception):
    """A non-zero ma_status; `status` is the code, the message is ma_status_str's."""

    status = None

    def __init__(self, status=None):
        self.status = self.status if status is None else status
        super().__init__(_lib.ma_status_str(self.status).decode())


class NullPointer(MemallocError):
    status = 1


class InvalidSize(MemallocError):
    status = 2


class OutOfMemory(MemallocError):
    status = 3


class InvalidAddress(MemallocError):
    status = 4


class NotAllocated(MemallocError):
    status = 5


class SizeMismatch(MemallocError):
    status = 6


class InvalidAlignment(MemallocError):
    status = 7


class InvalidArgument(MemallocError):
    status = 8


class Internal(MemallocError):
    status = 9


_ERRORS = {cls.status: cls for cls in MemallocError.__subclasses__()}

POLICIES = {"first-fit": 0, "best-fit": 1, "tlsf": 2, "buddy": 3}
KINDS = {0: "Free", 1: "Allocated", 2: "Padding"}


def _check(status):
    if status != 0:
        raise _ERRORS.get(status, MemallocError)(status)


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _lib.ma_version().decode()


class Allocator:
    """One allocator over [0, capacity); a context manager that destroys it on exit."""

    def __init__(self, capacity, policy="first-fit", min_alignment=1):
        if policy not in POLICIES:
            raise InvalidArgument()
        options = Options()
        _lib.ma_options_init(ctypes.byref(options))
        options.capacity, options.policy, options.min_alignment = capacity, POLICIES[policy], min_alignment
        handle = ctypes.c_void_p()
        _check(_lib.ma_create_with(ctypes.byref(options), ctypes.byref(handle)))
        self._handle = handle

    def close(self):
        """Destroys the allocator; later calls raise NullPointer."""
        if self._handle:
            _lib.ma_destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _out(self, function, *args):
        out = size_t(0)
        _check(function(self._handle, *args, ctypes.byref(out)))
        return out.value

    def alloc(self, size, alignment=None):
        """Allocates `size` units (aligned if asked) and returns the address."""
        if alignment is None:
            return self._out(_lib.ma_alloc, size)
        return self._out(_lib.ma_alloc_aligned, size, alignment)

    def free(self, addr, size=None):
        """Frees the allocation at `addr`; with `size`, checks it as ma_free does."""
        _check(_lib.ma_free_at(self._handle, addr) if size is None else _lib.ma_free(self._handle, addr, size))

    def realloc(self, addr, old_size, new_size):
        """Resizes an allocation and returns its (possibly new) address."""
        return self._out(_lib.ma_realloc, addr, old_size, new_size)

    def size_of(self, addr):
        """The size of the live allocation at `addr`."""
        return self._out(_lib.ma_size_of, addr)

    def reset(self):
        """Frees every allocation at once."""
        _check(_lib.ma_reset(self._handle))

    def stats(self):
        """The counters, as a dict."""
        stats = Stats()
        _check(_lib.ma_get_stats(self._handle, ctypes.byref(stats)))
        return {name: getattr(stats, name) for name, _ in Stats._fields_}

    def blocks(self):
        """The memory map: a list of (start, size, kind) with kind "Free", "Allocated" or "Padding"."""
        extents = []

        def visit(_ctx, start, size, kind):
            extents.append((start, size, KINDS[kind]))
            return 0

        _check(_lib.ma_walk(self._handle, WALK_FN(visit), None))
        return extents

    def __str__(self):
        """The map in the reference notation: [Allocated(0-19)] [Free(20-99)]."""
        return " ".join(f"[{kind}({start}-{start + size - 1})]" for start, size, kind in self.blocks())
