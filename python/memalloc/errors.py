"""One exception class per ``ma_status`` code, all under :class:`MemallocError`.

Each exception carries the C status code (``error.status``) and the C library's own
message (``str(error)``, from ``ma_status_str``). A call that raises changed nothing,
as in C. A new status code of the C API is one more class here.
"""

from __future__ import annotations

from typing import ClassVar

from . import _native

__all__ = [
    "MemallocError",
    "NullPointer",
    "InvalidSize",
    "OutOfMemory",
    "InvalidAddress",
    "NotAllocated",
    "SizeMismatch",
    "InvalidAlignment",
    "InvalidArgument",
    "Internal",
    "Occupied",
    "BufferTooSmall",
    "BadSnapshot",
]


class MemallocError(Exception):
    """A call of the C library returned an error status; nothing was changed.

    ``status`` is the ``ma_status`` code, ``message`` the library's description of it.
    Catch this class for every memalloc error, or a subclass for one code.
    """

    #: The ``MA_ERR_*`` code of this class (``None`` on the base class).
    code: ClassVar[int | None] = None

    def __init__(self, status: int | None = None) -> None:
        code = self.code if status is None else status
        if code is None:
            raise TypeError("MemallocError needs a status code")
        self.status: int = code
        self.message: str = _native.status_str(code)
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class NullPointer(MemallocError):
    """``MA_ERR_NULL_POINTER``: the handle is NULL (in Python: the allocator is closed)."""

    code = 1


class InvalidSize(MemallocError):
    """``MA_ERR_INVALID_SIZE``: the size is 0, or a range runs past the capacity."""

    code = 2


class OutOfMemory(MemallocError):
    """``MA_ERR_OUT_OF_MEMORY``: no free block (in the range asked for) can hold the request."""

    code = 3


class InvalidAddress(MemallocError):
    """``MA_ERR_INVALID_ADDRESS``: the address is not below the capacity."""

    code = 4


class NotAllocated(MemallocError):
    """``MA_ERR_NOT_ALLOCATED``: no live allocation starts at the address (double free)."""

    code = 5


class SizeMismatch(MemallocError):
    """``MA_ERR_SIZE_MISMATCH``: the live allocation at the address has another size."""

    code = 6


class InvalidAlignment(MemallocError):
    """``MA_ERR_INVALID_ALIGNMENT``: an alignment is 0, not a power of two, or not met."""

    code = 7


class InvalidArgument(MemallocError):
    """``MA_ERR_INVALID_ARGUMENT``: a bad option (capacity 0, unknown policy, bad flags or range)."""

    code = 8


class Internal(MemallocError):
    """``MA_ERR_INTERNAL``: an internal invariant failed; never expected."""

    code = 9


class Occupied(MemallocError):
    """``MA_ERR_OCCUPIED``: a range that must be free is not (``alloc_at``, ``set_capacity``)."""

    code = 10


class BufferTooSmall(MemallocError):
    """``MA_ERR_BUFFER_TOO_SMALL``: a snapshot buffer is too small."""

    code = 11


class BadSnapshot(MemallocError):
    """``MA_ERR_BAD_SNAPSHOT``: the bytes are not a valid snapshot."""

    code = 12


def _all_subclasses(cls: type[MemallocError]) -> list[type[MemallocError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


#: Status code -> exception class.
ERRORS: dict[int, type[MemallocError]] = {
    cls.code: cls for cls in _all_subclasses(MemallocError) if cls.code is not None
}


def error_for(status: int) -> MemallocError:
    """The exception for a non-zero status: its class, or :class:`MemallocError` itself
    for a code this package does not know."""
    return ERRORS.get(status, MemallocError)(status)


def check(status: int) -> None:
    """Raises the exception of ``status`` unless it is ``MA_OK`` (0)."""
    if status != 0:
        raise error_for(status)
