"""The C library, loaded with ctypes: its structs and the signature of every ``ma_*`` function.

This module is the only place that knows the C declarations of ``include/memalloc.h``.
Adding a C function is one line in ``_SIGNATURES`` (and a method in ``allocator.py``
that calls it); adding a status code is one class in ``errors.py``.

Integer arguments are declared with checked types: a Python int that does not fit the C
type (negative, or too large) raises ``OverflowError`` before the call, where ctypes
alone would silently wrap it around (``2**64 + 20`` would become address 20).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

#: The library's file name inside the installed package.
LIBRARY_NAME = "libmemalloc.so"


class CheckedInt:
    """A C integer type whose Python arguments are range-checked before a call."""

    def __init__(self, ctype: Any, c_name: str) -> None:
        bits = ctypes.sizeof(ctype) * 8
        signed = ctype(-1).value == -1
        self.ctype = ctype
        self.c_name = c_name
        self.low = -(1 << (bits - 1)) if signed else 0
        self.high = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1

    def check(self, value: object) -> int:
        """``value`` itself if it is an int that fits: else ``TypeError`` (not an int) or
        ``OverflowError`` (out of the C type's range)."""
        if not isinstance(value, int):
            raise TypeError(f"expected an int for a C {self.c_name}, got {type(value).__name__}")
        if not self.low <= value <= self.high:
            raise OverflowError(f"{value} does not fit a C {self.c_name} ([{self.low}, {self.high}])")
        return value


size_t = CheckedInt(ctypes.c_size_t, "size_t")
uint32_t = CheckedInt(ctypes.c_uint32, "uint32_t")
uint64_t = CheckedInt(ctypes.c_uint64, "uint64_t")
status_t = CheckedInt(ctypes.c_int32, "int32_t")
handle_t = ctypes.c_void_p

#: The largest ``size_t``.
SIZE_MAX = size_t.high


class Options(ctypes.Structure):
    """``ma_options``: start from ``ma_options_init``, which sets ``struct_size``."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("capacity", ctypes.c_size_t),
        ("policy", ctypes.c_uint32),
        ("min_alignment", ctypes.c_size_t),
    ]


class Request(ctypes.Structure):
    """``ma_request``: start from ``ma_request_init``, which sets ``struct_size`` and the
    defaults."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("size", ctypes.c_size_t),
        ("alignment", ctypes.c_size_t),
        ("lo", ctypes.c_size_t),
        ("hi", ctypes.c_size_t),
        ("flags", ctypes.c_uint32),
        ("tag", ctypes.c_uint64),
    ]


class Move(ctypes.Structure):
    """``ma_move``: one step of a compaction plan."""

    _fields_ = [("from_", ctypes.c_size_t), ("to", ctypes.c_size_t), ("size", ctypes.c_size_t)]


class Stats(ctypes.Structure):
    """``ma_stats``: the allocator's counters."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("capacity", "allocated", "free", "largest_free", "free_blocks", "allocations", "padding")
    ]


#: ``ma_walk_fn``: ``int (*)(void *ctx, size_t start, size_t size, ma_block_kind kind)``.
WALK_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int)

_status = ctypes.c_int32
_size_out = ctypes.POINTER(ctypes.c_size_t)

#: Every function of memalloc.h: name -> (argument types, result type).
_SIGNATURES: dict[str, tuple[Sequence[Union[CheckedInt, Any]], Any]] = {
    "ma_create": ([size_t], handle_t),
    "ma_create_with": ([ctypes.POINTER(Options), ctypes.POINTER(handle_t)], _status),
    "ma_options_init": ([ctypes.POINTER(Options)], None),
    "ma_destroy": ([handle_t], None),
    "ma_alloc": ([handle_t, size_t, _size_out], _status),
    "ma_alloc_aligned": ([handle_t, size_t, size_t, _size_out], _status),
    "ma_request_init": ([ctypes.POINTER(Request), size_t], None),
    "ma_alloc_ex": ([handle_t, ctypes.POINTER(Request), _size_out], _status),
    "ma_alloc_at": ([handle_t, size_t, size_t], _status),
    "ma_set_capacity": ([handle_t, size_t], _status),
    "ma_set_tag": ([handle_t, size_t, uint64_t], _status),
    "ma_tag_of": ([handle_t, size_t, ctypes.POINTER(ctypes.c_uint64)], _status),
    "ma_free_tagged": ([handle_t, uint64_t, _size_out], _status),
    "ma_compact": ([handle_t, size_t, ctypes.POINTER(Move), size_t, _size_out], _status),
    "ma_save": ([handle_t, ctypes.c_void_p, size_t, _size_out], _status),
    "ma_load": ([ctypes.c_char_p, size_t, ctypes.POINTER(handle_t)], _status),
    "ma_free": ([handle_t, size_t, size_t], _status),
    "ma_free_at": ([handle_t, size_t], _status),
    "ma_size_of": ([handle_t, size_t, _size_out], _status),
    "ma_realloc": ([handle_t, size_t, size_t, size_t, _size_out], _status),
    "ma_reset": ([handle_t], _status),
    "ma_get_stats": ([handle_t, ctypes.POINTER(Stats)], _status),
    "ma_walk": ([handle_t, WALK_FN, ctypes.c_void_p], _status),
    "ma_status_str": ([status_t], ctypes.c_char_p),
    "ma_version": ([], ctypes.c_char_p),
}

#: The names of the C functions this binding declares.
FUNCTIONS = tuple(_SIGNATURES)


def library_path() -> str:
    """The shared library to load: ``$MEMALLOC_LIB`` when set (a build of your own, or a
    source checkout), else the one installed inside this package."""
    override = os.environ.get("MEMALLOC_LIB")
    if override:
        return override
    bundled = Path(__file__).with_name(LIBRARY_NAME)
    if not bundled.is_file():
        raise ImportError(
            f"memalloc: {bundled} is missing. Install the package with `pip install ./python` from a "
            "clone of memalloc (which builds the library with cargo), or set MEMALLOC_LIB to the path "
            "of a libmemalloc.so"
        )
    return str(bundled)


def _checked_call(function: Callable[..., Any], args: Sequence[Union[CheckedInt, Any]]) -> Callable[..., Any]:
    """``function`` with its checked integer arguments range-checked first."""
    checks = [(i, kind) for i, kind in enumerate(args) if isinstance(kind, CheckedInt)]
    if not checks:
        return function

    def call(*values: Any) -> Any:
        for i, kind in checks:
            if i < len(values):
                kind.check(values[i])
        return function(*values)

    call.__name__ = call.__qualname__ = function.__name__
    return call


class Library:
    """The loaded library: one attribute per C function, each declared with its types."""

    def __init__(self, path: str) -> None:
        try:
            self.cdll = ctypes.CDLL(path)
        except OSError as error:
            raise ImportError(f"memalloc: cannot load the shared library {path}: {error}") from error
        self.path = path
        for name, (args, result) in _SIGNATURES.items():
            try:
                function = getattr(self.cdll, name)
            except AttributeError as error:
                raise ImportError(f"memalloc: {path} has no {name}: it is older than this package") from error
            function.argtypes = [kind.ctype if isinstance(kind, CheckedInt) else kind for kind in args]
            function.restype = result
            setattr(self, name, _checked_call(function, args))

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not set above: a C function this binding does not declare.
        raise AttributeError(f"memalloc's binding declares no C function {name}")


lib = Library(library_path())


def status_str(status: int) -> str:
    """``ma_status_str``: the C library's description of a status code."""
    text: Optional[bytes] = lib.ma_status_str(status)
    return (text or b"").decode()
