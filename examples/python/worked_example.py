"""The reference's worked example, replayed from Python with the memalloc package.

Run, after `pip install ./python` (see python/README.md):

    python3 examples/python/worked_example.py

From a source checkout without installing, point Python at the package and the library:

    PYTHONPATH=python MEMALLOC_LIB=target/release/libmemalloc.so python3 examples/python/worked_example.py
"""

import memalloc

STEPS = [("allocate", 20), ("allocate", 30), ("allocate", 40), ("free", 20, 30),
         ("allocate", 25), ("free", 0, 20), ("free", 20, 25)]

with memalloc.Allocator(100) as heap:
    print(f"memalloc {memalloc.version()} from Python")
    for number, (call, *args) in enumerate(STEPS, 1):
        if call == "allocate":
            result = heap.alloc(*args)
        else:
            heap.free(*args)
            result = "ok"
        print(f"{number}. {call}({', '.join(map(str, args))}) -> {result}  {heap}")
    try:
        heap.free(50, 10)
    except memalloc.SizeMismatch as error:
        print(f"free(50, 10) raises SizeMismatch (status {error.status}): {error}")
    print(heap.stats())
