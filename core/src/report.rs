//! Reports of an allocator's state for other tools: [`MemoryAllocator::vma_json`], the
//! memory map in the JSON shape of the Vulkan Memory Allocator's virtual-block statistics.

#![forbid(unsafe_code)]

use std::fmt::Write;

use crate::allocator::{BlockKind, MemoryAllocator};

/// How scattered the free space below the heap top is: the one definition of
/// fragmentation that `memalloc replay`, the preload library's statistics and the
/// benchmarks report ([`MemoryAllocator::fragmentation`]).
///
/// Only the free space below the top (the end of the highest allocation's footprint)
/// counts: above it lies space the program never reached, which would make every heap
/// look unfragmented.
///
/// ```
/// use memalloc_core::MemoryAllocator;
///
/// let mut heap = MemoryAllocator::new(100)?;
/// let a = heap.allocate(10)?;
/// heap.allocate(10)?;
/// let c = heap.allocate(20)?;
/// heap.allocate(10)?;
/// heap.free(a, 10)?;
/// heap.free(c, 20)?;
/// let f = heap.fragmentation();
/// assert_eq!((f.top, f.free, f.holes, f.largest), (50, 30, 2, 20));
/// assert!((f.ratio() - 1.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), memalloc_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fragmentation {
    /// The end of the highest allocation's footprint (0 when nothing is allocated).
    pub top: usize,
    /// Free units below `top`.
    pub free: usize,
    /// Free blocks below `top`.
    pub holes: usize,
    /// The largest of them.
    pub largest: usize,
}

impl Fragmentation {
    /// `1 - largest / free`: 0 when the free space below the top is one block (or there is
    /// none), near 1 when it is scattered in many small ones.
    pub fn ratio(&self) -> f64 {
        if self.free == 0 { 0.0 } else { 1.0 - self.largest as f64 / self.free as f64 }
    }
}

/// One entry of the `Suballocations` array: an allocation's footprint or an unused range.
struct Suballocation {
    offset: usize,
    size: usize,
    free: bool,
    /// The allocation's tag, written as VMA writes an allocation's user data.
    tag: u64,
}

impl MemoryAllocator {
    /// The memory map as JSON, in the shape of the string that the Vulkan Memory
    /// Allocator's `vmaBuildVirtualBlockStatsString(block, &s, VK_TRUE)` (detailed map)
    /// builds for a virtual block, so that tools made for VMA dumps can read it.
    ///
    /// The exact shape (keys in this order; 2-space indentation, one suballocation per
    /// line; every value a number or one of two fixed strings):
    ///
    /// ```text
    /// {
    ///   "Stats": {
    ///     "BlockCount": 1,
    ///     "BlockBytes": <capacity>,
    ///     "AllocationCount": <live allocations>,
    ///     "AllocationBytes": <sum of the allocations' Size>,
    ///     "UnusedRangeCount": <number of FREE entries>,
    ///     "AllocationSizeMin": <n>, "AllocationSizeMax": <n>,    (only when AllocationCount > 1)
    ///     "UnusedRangeSizeMin": <n>, "UnusedRangeSizeMax": <n>   (only when UnusedRangeCount > 1)
    ///   },
    ///   "Details": {
    ///     "TotalBytes": <capacity>,
    ///     "UnusedBytes": <capacity - AllocationBytes>,
    ///     "Allocations": <AllocationCount>,
    ///     "UnusedRanges": <UnusedRangeCount>,
    ///     "Suballocations": [
    ///       {"Offset": <n>, "Type": "UNKNOWN" | "FREE", "Size": <n>[, "CustomData": "0x<tag>"]},
    ///       ...
    ///     ]
    ///   }
    /// }
    /// ```
    ///
    /// `Stats` is VMA's `VmaDetailedStatistics` object, `Details` its block metadata
    /// `PrintDetailedMap`. The suballocations tile `[0, capacity)` in ascending address
    /// order. An allocation is `"Type": "UNKNOWN"` (VMA's name for an allocation of no
    /// particular resource type; VMA writes no `Type` for a virtual allocation, but tools
    /// that read its dumps expect one) and its `Size` is its footprint: its size plus the
    /// padding that follows it (alignment or buddy rounding), as VMA's buddy metadata
    /// reported its nodes. A free block is `"Type": "FREE"`; so is the tail shorter than
    /// `min_alignment` that no aligned footprint can use, when free space precedes it.
    /// A tagged allocation carries its tag, in hexadecimal, as `CustomData`: where VMA
    /// writes an allocation's user data. Under buddy, free blocks that are not buddies are listed separately, as
    /// [`MemoryAllocator::blocks`] gives them.
    ///
    /// ```
    /// use memalloc_core::MemoryAllocator;
    ///
    /// let mut heap = MemoryAllocator::new(100).unwrap();
    /// let a = heap.allocate(20).unwrap();
    /// heap.allocate(30).unwrap();
    /// heap.free(a, 20).unwrap();
    /// assert_eq!(heap.vma_json(), r#"{
    ///   "Stats": {
    ///     "BlockCount": 1,
    ///     "BlockBytes": 100,
    ///     "AllocationCount": 1,
    ///     "AllocationBytes": 30,
    ///     "UnusedRangeCount": 2,
    ///     "UnusedRangeSizeMin": 20,
    ///     "UnusedRangeSizeMax": 50
    ///   },
    ///   "Details": {
    ///     "TotalBytes": 100,
    ///     "UnusedBytes": 70,
    ///     "Allocations": 1,
    ///     "UnusedRanges": 2,
    ///     "Suballocations": [
    ///       {"Offset": 0, "Type": "FREE", "Size": 20},
    ///       {"Offset": 20, "Type": "UNKNOWN", "Size": 30},
    ///       {"Offset": 50, "Type": "FREE", "Size": 50}
    ///     ]
    ///   }
    /// }"#);
    /// ```
    ///
    /// # Time complexity
    /// O(n) in the number of extents of the map.
    pub fn vma_json(&self) -> String {
        let mut entries: Vec<Suballocation> = Vec::new();
        for block in self.blocks() {
            match (block.kind, entries.last_mut()) {
                // Padding belongs to the allocation just before it.
                (BlockKind::Padding, Some(last)) if !last.free => last.size += block.size,
                (kind, _) => entries.push(Suballocation {
                    offset: block.start,
                    size: block.size,
                    free: kind != BlockKind::Allocated,
                    tag: block.tag,
                }),
            }
        }
        let sizes = |free: bool| entries.iter().filter(move |e| e.free == free).map(|e| e.size);
        let (allocations, unused_ranges) = (sizes(false).count(), sizes(true).count());
        let allocation_bytes: usize = sizes(false).sum();

        let mut out = String::with_capacity(400 + 48 * entries.len());
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{{\n  \"Stats\": {{\n    \"BlockCount\": 1,\n    \"BlockBytes\": {},\n    \"AllocationCount\": {allocations},\n    \
             \"AllocationBytes\": {allocation_bytes},\n    \"UnusedRangeCount\": {unused_ranges}",
            self.capacity()
        );
        for (free, count, name) in [(false, allocations, "AllocationSize"), (true, unused_ranges, "UnusedRangeSize")] {
            if count > 1 {
                let (min, max) = (sizes(free).min().unwrap_or(0), sizes(free).max().unwrap_or(0));
                let _ = write!(out, ",\n    \"{name}Min\": {min},\n    \"{name}Max\": {max}");
            }
        }
        let _ = write!(
            out,
            "\n  }},\n  \"Details\": {{\n    \"TotalBytes\": {},\n    \"UnusedBytes\": {},\n    \
             \"Allocations\": {allocations},\n    \"UnusedRanges\": {unused_ranges},\n    \"Suballocations\": [",
            self.capacity(),
            self.capacity() - allocation_bytes
        );
        for (i, entry) in entries.iter().enumerate() {
            let kind = if entry.free { "FREE" } else { "UNKNOWN" };
            let separator = if i == 0 { "" } else { "," };
            let _ = write!(
                out,
                "{separator}\n      {{\"Offset\": {}, \"Type\": \"{kind}\", \"Size\": {}",
                entry.offset, entry.size
            );
            if entry.tag != 0 {
                let _ = write!(out, ", \"CustomData\": \"0x{:x}\"", entry.tag);
            }
            out.push('}');
        }
        out.push_str("\n    ]\n  }\n}");
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::{MemoryAllocator, Options, Policy};

    #[test]
    fn tags_show_as_custom_data_and_in_blocks() {
        let mut heap = MemoryAllocator::new(100).unwrap();
        let a = heap.allocate_with(&crate::Request::new(10).tag(0x2a)).unwrap();
        let b = heap.allocate(10).unwrap();
        assert_eq!(heap.blocks()[0].tag, 0x2a);
        assert_eq!(heap.blocks()[1].tag, 0);
        let json = parse(&heap);
        let entries = json["Details"]["Suballocations"].as_array().unwrap();
        assert_eq!(entries[0]["CustomData"], "0x2a");
        assert!(entries[1].get("CustomData").is_none(), "untagged: no CustomData");
        heap.set_tag(b, 7).unwrap();
        heap.set_tag(a, 0).unwrap();
        let json = parse(&heap);
        let entries = json["Details"]["Suballocations"].as_array().unwrap();
        assert!(entries[0].get("CustomData").is_none());
        assert_eq!(entries[1]["CustomData"], "0x7");
        assert_eq!(heap.blocks()[1].tag, 7);
    }

    fn parse(heap: &MemoryAllocator) -> Value {
        serde_json::from_str(&heap.vma_json()).expect("vma_json is valid JSON")
    }

    /// The keys of an object, sorted.
    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// Checks the shape and every sum of a parsed report against the allocator.
    fn check(heap: &MemoryAllocator) {
        let json = parse(heap);
        let capacity = heap.capacity() as u64;
        assert_eq!(keys(&json), ["Details", "Stats"]);
        let stats = &json["Stats"];
        let details = &json["Details"];
        assert_eq!(stats["BlockCount"], 1);
        assert_eq!(stats["BlockBytes"], capacity);
        assert_eq!(details["TotalBytes"], capacity);
        let subs = details["Suballocations"].as_array().expect("an array");
        let (mut at, mut allocated, mut allocations, mut unused) = (0u64, 0u64, 0u64, 0u64);
        for sub in subs {
            assert_eq!(keys(sub), ["Offset", "Size", "Type"]);
            assert_eq!(sub["Offset"], at, "suballocations tile the block");
            let size = sub["Size"].as_u64().expect("a number");
            assert!(size > 0);
            match sub["Type"].as_str() {
                Some("UNKNOWN") => {
                    allocated += size;
                    allocations += 1;
                    assert!(heap.size_of(at as usize).is_ok(), "an allocation starts at {at}");
                }
                Some("FREE") => unused += 1,
                other => panic!("unexpected Type {other:?}"),
            }
            at += size;
        }
        assert_eq!(at, capacity);
        let live = heap.stats();
        assert_eq!(allocations, live.allocations as u64);
        assert_eq!(stats["AllocationCount"], allocations);
        assert_eq!(details["Allocations"], allocations);
        assert_eq!(stats["AllocationBytes"], allocated);
        assert_eq!(details["UnusedBytes"], capacity - allocated);
        assert_eq!(stats["UnusedRangeCount"], unused);
        assert_eq!(details["UnusedRanges"], unused);
        assert_eq!(stats.get("AllocationSizeMin").is_some(), allocations > 1);
        assert_eq!(stats.get("UnusedRangeSizeMax").is_some(), unused > 1);
    }

    #[test]
    fn an_empty_allocator_is_one_free_range() {
        let heap = MemoryAllocator::new(1000).unwrap();
        let json = parse(&heap);
        assert_eq!(json["Details"]["Suballocations"], serde_json::json!([{"Offset": 0, "Type": "FREE", "Size": 1000}]));
        assert_eq!(json["Stats"]["AllocationCount"], 0);
        assert!(json["Stats"].get("UnusedRangeSizeMin").is_none());
        check(&heap);
    }

    #[test]
    fn a_full_allocator_has_no_unused_range() {
        let mut heap = MemoryAllocator::new(64).unwrap();
        heap.allocate(64).unwrap();
        let json = parse(&heap);
        assert_eq!(json["Details"]["UnusedBytes"], 0);
        assert_eq!(
            json["Details"]["Suballocations"],
            serde_json::json!([{"Offset": 0, "Type": "UNKNOWN", "Size": 64}])
        );
        check(&heap);
    }

    #[test]
    fn min_max_appear_with_two_or_more() {
        let mut heap = MemoryAllocator::new(100).unwrap();
        for size in [10, 20, 30] {
            heap.allocate(size).unwrap();
        }
        heap.free(10, 20).unwrap();
        let stats = &parse(&heap)["Stats"];
        assert_eq!((stats["AllocationSizeMin"].as_u64(), stats["AllocationSizeMax"].as_u64()), (Some(10), Some(30)));
        assert_eq!((stats["UnusedRangeSizeMin"].as_u64(), stats["UnusedRangeSizeMax"].as_u64()), (Some(20), Some(40)));
        check(&heap);
    }

    #[test]
    fn padding_is_part_of_the_allocation_under_every_policy() {
        for policy in Policy::ALL {
            // 1000 is not a multiple of 16: the last 8 units are an unusable tail.
            let mut heap = MemoryAllocator::with_options(Options::new(1000).policy(policy).min_alignment(16)).unwrap();
            let mut live = Vec::new();
            for size in [1, 17, 100, 33, 5, 64] {
                live.push((heap.allocate(size).unwrap(), size));
            }
            let (addr, size) = live.remove(2);
            heap.free(addr, size).unwrap();
            check(&heap);
            let json = parse(&heap);
            let subs = json["Details"]["Suballocations"].as_array().unwrap();
            let tiny = subs.iter().find(|s| s["Offset"] == live[0].0).unwrap();
            assert_eq!(
                (tiny["Type"].as_str(), tiny["Size"].as_u64()),
                (Some("UNKNOWN"), Some(16)),
                "{policy}: size 1 takes 16"
            );
        }
    }
}
