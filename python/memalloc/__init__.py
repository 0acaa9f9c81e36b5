"""memalloc: a manager for one contiguous range ``[0, capacity)``, from Python.

``alloc(size) -> address`` and ``free(address, size)``, like ``malloc`` and ``free``, over
abstract units (bytes, pages, slots: the caller decides), with first fit in O(log n),
best fit, TLSF and buddy, and one exception per illegal call. The package carries the
memalloc C library (``libmemalloc.so``) and calls it through ctypes.

>>> import memalloc
>>> with memalloc.Allocator(100) as heap:
...     a, b = heap.alloc(20), heap.alloc(30)
...     heap.free(b, 30)
...     str(heap)
'[Allocated(0-19)] [Free(20-99)]'

``python -m memalloc demo`` replays the reference's worked example.
"""

from __future__ import annotations

from . import _native, errors
from .allocator import SIZE_MAX, Allocator, BlockKind, Extent, Move, Policy, RequestFlag, Stats
from .errors import *  # noqa: F403 - MemallocError and one class per status code

__all__ = [
    "Allocator",
    "Policy",
    "BlockKind",
    "RequestFlag",
    "Extent",
    "Move",
    "Stats",
    "SIZE_MAX",
    "version",
    "status_str",
    "library_path",
]
__all__ += errors.__all__

#: The version of this package (and of the library it was built with).
__version__ = "0.2.0"


def version() -> str:
    """``ma_version``: the loaded C library's version, ``"MAJOR.MINOR.PATCH"``."""
    text: bytes = _native.lib.ma_version()
    return text.decode()


def status_str(status: int) -> str:
    """``ma_status_str``: the C library's description of a status code (also of unknown
    codes)."""
    return _native.status_str(status)


def library_path() -> str:
    """The path of the C library this package loaded."""
    return _native.library_path()
