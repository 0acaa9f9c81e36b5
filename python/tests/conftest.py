"""Shared fixtures. The tests import ``memalloc`` as installed (``pip install ./python``);
those that read the repository (the header, the README, the Rust command) skip when the
tests run outside a clone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import memalloc

#: The repository the tests come from (python/tests/ -> the root), if it is one.
REPO = Path(__file__).resolve().parents[2]


def repo_file(relative: str) -> Path:
    """A file of the repository, or a skip when the tests run outside a clone."""
    path = REPO / relative
    if not path.is_file():
        pytest.skip(f"{relative} is not available (the tests run outside a clone of memalloc)")
    return path


@pytest.fixture
def heap() -> Iterator[memalloc.Allocator]:
    """A first-fit allocator over [0, 100)."""
    with memalloc.Allocator(100) as allocator:
        yield allocator


@pytest.fixture(params=[str(p) for p in memalloc.Policy])
def policy(request: pytest.FixtureRequest) -> str:
    """Each policy's name, one test per policy."""
    return str(request.param)


def expect_installed() -> bool:
    """Whether the run must be against an installed package (scripts/ci-python.sh)."""
    return os.environ.get("MEMALLOC_EXPECT_INSTALLED") == "1"
