"""``python -m memalloc demo [--policy NAME]``: the reference's worked example, printed as
``memalloc demo`` (the Rust command) prints it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from . import Allocator, MemallocError, Policy, version

#: The worked example of docs/REFERENCE-ALGORITHM.md on a capacity of 100: an int
#: allocates that many units, ``("free", step)`` frees the allocation of that step (so the
#: example replays on the addresses each policy returns).
WORKED_EXAMPLE: list[int | tuple[str, int]] = [20, 30, 40, ("free", 2), 25, ("free", 1), ("free", 5)]

#: The step whose allocation the closing illegal call frees with a wrong size.
MISMATCH_STEP = 3


def demo(policy: Policy = Policy.FIRST_FIT) -> str:
    """The worked example under ``policy``, as text: each call, its result and the map."""
    lines = [f"memalloc {version()} demo: the worked example, capacity 100, policy {policy}", ""]
    placed: dict[int, tuple[int, int]] = {}
    with Allocator(100, policy=policy) as heap:
        lines.append(f"start              {heap}")
        for step, call in enumerate(WORKED_EXAMPLE, 1):
            try:
                if isinstance(call, int):
                    text = f"allocate({call})"
                    addr = heap.alloc(call)
                    placed[step] = (addr, call)
                    result = str(addr)
                elif call[1] in placed:
                    addr, size = placed[call[1]]
                    text = f"free({addr}, {size})"
                    heap.free(addr, size)
                    result = "ok"
                else:
                    text, result = f"free(step {call[1]})", f"skipped: step {call[1]} allocated nothing"
            except MemallocError as error:
                result = f"error: {error}"
            lines.append(f"{step}. {text:<14} -> {result:<5}  {heap}")
        # One illegal call: errors are exceptions and change nothing.
        addr, size = (placed[MISMATCH_STEP][0], 10) if MISMATCH_STEP in placed else (50, 10)
        before = str(heap)
        try:
            heap.free(addr, size)
        except MemallocError as error:
            unchanged = "true" if str(heap) == before else "false"
            lines += ["", f"free({addr}, {size}) is rejected: {error}; the map is unchanged: {unchanged}"]
        stats = heap.stats()
        lines.append(
            f"stats: allocated {stats.allocated}, free {stats.free} in {stats.free_blocks} blocks, "
            f"largest free block {stats.largest_free}"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``demo`` is the only subcommand."""
    parser = argparse.ArgumentParser(prog="python -m memalloc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="replay the reference's worked example")
    demo_parser.add_argument(
        "--policy", default="first-fit", choices=[str(p) for p in Policy], help="placement policy (default first-fit)"
    )
    args = parser.parse_args(argv)
    text = demo(Policy(Policy.parse(args.policy)))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # `python -m memalloc demo | head -1`: the reader has what it wanted. Point stdout
        # at /dev/null so that the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
