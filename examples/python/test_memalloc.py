"""Unit tests of the ctypes binding: run with `python3 -m unittest` in examples/python,
with MEMALLOC_LIB naming libmemalloc.so."""

import unittest

import memalloc


class AllocatorTest(unittest.TestCase):
    def test_worked_example_addresses_and_map(self):
        with memalloc.Allocator(100) as heap:
            self.assertEqual([heap.alloc(20), heap.alloc(30), heap.alloc(40)], [0, 20, 50])
            heap.free(20, 30)
            self.assertEqual(heap.alloc(25), 20)
            heap.free(0, 20)
            heap.free(20, 25)
            self.assertEqual(str(heap), "[Free(0-49)] [Allocated(50-89)] [Free(90-99)]")

    def test_every_error_is_an_exception_named_after_its_status(self):
        with memalloc.Allocator(100) as heap:
            addr = heap.alloc(10)
            cases = [
                (memalloc.InvalidSize, lambda: heap.alloc(0)),
                (memalloc.OutOfMemory, lambda: heap.alloc(101)),
                (memalloc.InvalidAddress, lambda: heap.free(100, 1)),
                (memalloc.NotAllocated, lambda: heap.free(addr + 1, 1)),
                (memalloc.SizeMismatch, lambda: heap.free(addr, 9)),
                (memalloc.InvalidAlignment, lambda: heap.alloc(1, alignment=3)),
            ]
            for error, call in cases:
                with self.assertRaises(error) as raised:
                    call()
                self.assertEqual(raised.exception.status, error.status)
                self.assertTrue(str(raised.exception))
            self.assertEqual(heap.stats()["allocated"], 10, "errors change nothing")

    def test_bad_construction_raises(self):
        with self.assertRaises(memalloc.InvalidArgument):
            memalloc.Allocator(0)
        with self.assertRaises(memalloc.InvalidArgument):
            memalloc.Allocator(100, policy="worst-fit")
        with self.assertRaises(memalloc.InvalidAlignment):
            memalloc.Allocator(100, min_alignment=3)

    def test_closed_allocator_reports_null_pointer(self):
        heap = memalloc.Allocator(10)
        heap.close()
        with self.assertRaises(memalloc.NullPointer):
            heap.alloc(1)
        heap.close()  # twice is harmless

    def test_large_capacity_round_trips_without_truncation(self):
        capacity = 2**64 - 1
        with memalloc.Allocator(capacity) as heap:
            addr = heap.alloc(2**63)
            self.assertEqual(heap.size_of(addr), 2**63)
            self.assertEqual(heap.stats()["free"], capacity - 2**63)

    def test_policies_realloc_and_reset(self):
        for policy in ("first-fit", "best-fit", "buddy"):
            with self.subTest(policy=policy), memalloc.Allocator(64, policy=policy) as heap:
                addr = heap.alloc(8)
                moved = heap.realloc(addr, 8, 16)
                self.assertEqual(heap.size_of(moved), 16)
                heap.reset()
                self.assertEqual(heap.blocks()[0][2], "Free")
                self.assertEqual(heap.stats()["allocations"], 0)

    def test_version_is_semver(self):
        self.assertRegex(memalloc.version(), r"^\d+\.\d+\.\d+$")


if __name__ == "__main__":
    unittest.main()
