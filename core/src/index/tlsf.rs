//! Two-level segregated fit (TLSF, Masmano, Ripoll, Crespo and Real, 2004): a good fit in
//! O(1), with exact sizes, over abstract ranges.
//!
//! Free blocks are sorted into size classes, each with its own free list. The first level
//! splits sizes by powers of two (`floor(log2(size))`); the second level splits each power
//! of two `[2^k, 2^(k+1))` into [`SL_COUNT`] equal classes (32, from [`SLI_LOG2`] = 5), so
//! the blocks of one class differ in size by at most 1/32 of its lower bound. Sizes below
//! `2 * SL_COUNT` have a class of their own each (the mapping is linear there). One bit per
//! non-empty first level (`fl_bitmap`) and one bit per non-empty class within it
//! (`sl_bitmaps`) let two trailing-zero counts find the first non-empty class at or above
//! any class.
//!
//! `take(size)` rounds the request up to the next class boundary, so that every block of
//! the class it lands on holds it, and takes the first block of the first non-empty class
//! there or above (the *good fit*: a block of the smallest non-empty class whose every
//! block fits, not always the smallest fitting block). Each free list is LIFO (a new block
//! goes to its head). When the good fit finds nothing, the request's own class may still
//! hold a block large enough (it holds sizes on both sides of `size`): that one list is
//! scanned as a fallback, so a request fails only when no free block can hold it. Aligned
//! requests try the good fit for `size` (taken when it happens to be aligned enough), then
//! the good fit for `size + align - 1` (which holds an aligned fit wherever it starts),
//! then scan the classes between `size` and that, block by block.
//!
//! The managed range is only numbers, so there are no headers or boundary tags: the
//! neighbours of a freed range are found through two hash maps, block start -> node and
//! block end -> node. Nodes live in one `Vec`, linked by `u32` index, vacant slots reused.
//!
//! # Time complexity
//!
//! With n free blocks; "expected O(1)" is a hash-map operation (amortized over growth).
//! - `take(size, 1)`: expected O(1) when some class at or above `size` rounded up to a
//!   class boundary is non-empty (the good fit); else a scan of `size`'s own class list
//!   (the fallback), which ends at the first block that fits.
//! - `take(size, align)`: expected O(1) when the good fit's block happens to be aligned
//!   (always so when every free block starts on a multiple of `align`, as with
//!   `min_alignment`) or a block of `size + align - 1` exists; else a scan of the classes
//!   from `size`'s to `size + align - 1`'s.
//! - `take_at`, `give` (merging included): expected O(1).
//! - `largest`: O(1) while the largest size is cached (always after a call that leaves
//!   the highest non-empty class with one block, and until the largest block is taken);
//!   else a scan of the highest non-empty class list.
//! - `free_units`, `free_blocks`: O(1). `blocks`: O(n log n) (collect and sort).
//! - `check`: O(n log n + number of classes).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{FreeIndex, check_block_list, fit_in_block};

/// Log2 of the number of second-level classes per power of two.
const SLI_LOG2: u32 = 5;

/// Second-level classes per first-level class: 32.
const SL_COUNT: usize = 1 << SLI_LOG2;

/// First-level classes: 0 holds the sizes below [`SL_COUNT`] (one size per class); first
/// level `fl >= 1` holds `[2^(fl + SLI_LOG2 - 1), 2^(fl + SLI_LOG2))`. The last one ends at
/// `usize::MAX` inclusive: 60 on 64-bit targets.
const FL_COUNT: usize = (usize::BITS - SLI_LOG2 + 1) as usize;

/// Size classes in all, numbered `fl * SL_COUNT + sl`.
const CLASS_COUNT: usize = FL_COUNT * SL_COUNT;

const _: () = assert!(FL_COUNT <= u64::BITS as usize, "fl_bitmap is a u64");
const _: () = assert!(SL_COUNT <= u32::BITS as usize, "each sl_bitmap is a u32");

/// "No node": the end of a list, an empty class, an empty vacancy chain.
const NIL: u32 = u32::MAX;

/// The class of a free block of `size` units (`size > 0`): `fl` from the position of the
/// highest set bit, `sl` from the [`SLI_LOG2`] bits below it.
fn class_of(size: usize) -> usize {
    debug_assert!(size > 0);
    if size < SL_COUNT {
        return size;
    }
    let shift = size.ilog2() - SLI_LOG2;
    let fl = shift as usize + 1;
    let sl = (size >> shift) - SL_COUNT;
    fl * SL_COUNT + sl
}

/// The smallest size in `class` (`class < CLASS_COUNT`); the class holds the sizes from
/// there up to the next class's floor, exclusive (up to `usize::MAX` for the last class).
fn class_floor(class: usize) -> usize {
    let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
    if fl == 0 { sl } else { (SL_COUNT + sl) << (fl - 1) }
}

/// The first class whose every block holds `size`: `size`'s own class when `size` is its
/// floor, else the next one. [`CLASS_COUNT`] when there is none.
fn class_holding(size: usize) -> usize {
    let class = class_of(size);
    if class_floor(class) == size { class } else { class + 1 }
}

/// A hasher for block addresses: one folded 64x64->128-bit multiply per word, so both the
/// low bits (bucket) and the high bits (tag) of the hash depend on every bit of the key.
#[derive(Debug, Default, Clone, Copy)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // An odd constant with well-spread bits (2^64 / golden ratio).
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let product = u128::from(self.0 ^ n) * u128::from(K);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Block address -> node.
type AddressMap = HashMap<usize, u32, BuildHasherDefault<AddressHasher>>;

/// One slot of the node slab: a free block `[start, start + size)` in its class list, or
/// a vacant slot (size 0, `next` chaining the vacancies).
#[derive(Clone, Copy, Debug)]
struct Node {
    start: usize,
    size: usize,
    prev: u32,
    next: u32,
}

/// Free blocks in segregated size classes, with O(1) neighbour lookup for merging.
///
/// Invariants (checked by [`FreeIndex::check`]):
/// - free blocks never overlap and are never adjacent (the end of one is never the start
///   of another): `give` always merges;
/// - `len` and `free_units` are the number and the total size of the free blocks, and
///   `largest`, when `Some`, the size of the largest (0 when there is none).
#[derive(Debug)]
pub(crate) struct TlsfIndex {
    /// The slab. Every slot is either listed (in exactly one class list, `size > 0`) or
    /// vacant (in the chain from `vacant`, `size == 0`).
    nodes: Vec<Node>,
    /// The first vacant slot of `nodes`; vacancies are chained by `next`.
    vacant: u32,
    /// `heads[c]`: the first node of class `c`'s free list, `NIL` when it is empty. Every
    /// node in list `c` has `class_of(size) == c`. Lists are doubly linked: the head's
    /// `prev` is `NIL`, and `a.next == b` exactly when `b.prev == a`.
    heads: Box<[u32]>,
    /// Bit `fl` is set exactly when `sl_bitmaps[fl] != 0`; no bit at or above `FL_COUNT`.
    fl_bitmap: u64,
    /// Bit `sl` of `sl_bitmaps[fl]` is set exactly when `heads[fl * SL_COUNT + sl] != NIL`.
    sl_bitmaps: [u32; FL_COUNT],
    /// `start -> node` for exactly the listed nodes.
    by_start: AddressMap,
    /// `start + size -> node` for exactly the listed nodes (the end is at most the
    /// capacity, so it fits in `usize`).
    by_end: AddressMap,
    /// The number of listed nodes.
    len: usize,
    /// The sum of their sizes.
    free_units: usize,
    /// The size of the largest free block (0 when none), or `None` when it is not known
    /// without a scan of the highest non-empty class.
    largest: Option<usize>,
}

impl TlsfIndex {
    /// An index whose free space is the one block `[0, capacity)`.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut index = TlsfIndex {
            nodes: Vec::new(),
            vacant: NIL,
            heads: vec![NIL; CLASS_COUNT].into_boxed_slice(),
            fl_bitmap: 0,
            sl_bitmaps: [0; FL_COUNT],
            by_start: AddressMap::default(),
            by_end: AddressMap::default(),
            len: 0,
            free_units: 0,
            largest: Some(0),
        };
        if capacity > 0 {
            index.insert(0, capacity);
        }
        index
    }

    fn node(&self, i: u32) -> Node {
        self.nodes[i as usize]
    }

    /// The first non-empty class at or above `class`: one mask and trailing-zero count on
    /// the second level, else one on the first level. O(1).
    fn first_nonempty_from(&self, class: usize) -> Option<usize> {
        if class >= CLASS_COUNT {
            return None;
        }
        let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
        let here = self.sl_bitmaps[fl] & (u32::MAX << sl);
        if here != 0 {
            return Some(fl * SL_COUNT + here.trailing_zeros() as usize);
        }
        let above = self.fl_bitmap & u64::MAX.checked_shl(fl as u32 + 1).unwrap_or(0);
        if above == 0 {
            return None;
        }
        let fl = above.trailing_zeros() as usize;
        Some(fl * SL_COUNT + self.sl_bitmaps[fl].trailing_zeros() as usize)
    }

    /// The highest non-empty class: two leading-zero counts. O(1).
    fn highest_nonempty(&self) -> Option<usize> {
        if self.fl_bitmap == 0 {
            return None;
        }
        let fl = (u64::BITS - 1 - self.fl_bitmap.leading_zeros()) as usize;
        let sl = (u32::BITS - 1 - self.sl_bitmaps[fl].leading_zeros()) as usize;
        Some(fl * SL_COUNT + sl)
    }

    /// The nodes of class `class`'s list, head first.
    fn list(&self, class: usize) -> impl Iterator<Item = u32> + '_ {
        let mut i = self.heads[class];
        std::iter::from_fn(move || {
            (i != NIL).then(|| {
                let here = i;
                i = self.nodes[here as usize].next;
                here
            })
        })
    }

    /// The good fit for `size`: the first block of the first non-empty class whose every
    /// block holds `size`. O(1).
    fn good_fit(&self, size: usize) -> Option<u32> {
        self.first_nonempty_from(class_holding(size)).map(|class| self.heads[class])
    }

    /// A free block that holds `size` units at a multiple of `align`, and that address;
    /// `None` only when no free block can hold them.
    fn find(&self, size: usize, align: usize) -> Option<(u32, usize)> {
        // 1. The good fit for `size`; under alignment it serves when it is aligned enough.
        if let Some(i) = self.good_fit(size) {
            let block = self.node(i);
            if let Some(at) = fit_in_block(block.start, block.size, size, align) {
                return Some((i, at));
            }
        }
        // 2. The good fit for `size + align - 1`: such a block holds an aligned fit
        //    wherever it starts.
        let padded = size.checked_add(align - 1);
        if align > 1
            && let Some(i) = padded.and_then(|padded| self.good_fit(padded))
        {
            let block = self.node(i);
            let at = fit_in_block(block.start, block.size, size, align).expect("a padded block holds an aligned fit");
            return Some((i, at));
        }
        // 3. Fallback, a linear scan: every class from `size`'s own up to (not including)
        //    the first class that step 2 searched. Classes below `size`'s hold only blocks
        //    smaller than `size`, and the classes that step 2 searched are empty, so when
        //    this finds nothing, no block fits. With `align == 1` this is at most the one
        //    list of `size`'s own class, whose blocks may be smaller or larger than `size`.
        let end = padded.map_or(CLASS_COUNT, class_holding);
        let mut class = class_of(size);
        while let Some(found) = self.first_nonempty_from(class).filter(|&c| c < end) {
            for i in self.list(found) {
                let block = self.node(i);
                if let Some(at) = fit_in_block(block.start, block.size, size, align) {
                    return Some((i, at));
                }
            }
            class = found + 1;
        }
        None
    }

    /// Records the free block `[start, start + size)`: a node at the head of its class
    /// list, in both maps and the counters. O(1) expected.
    fn insert(&mut self, start: usize, size: usize) {
        debug_assert!(size > 0);
        let class = class_of(size);
        let head = self.heads[class];
        let node = Node { start, size, prev: NIL, next: head };
        let i = if self.vacant != NIL {
            let i = self.vacant;
            self.vacant = self.nodes[i as usize].next;
            self.nodes[i as usize] = node;
            i
        } else {
            let i = u32::try_from(self.nodes.len()).expect("more than 2^32 free blocks");
            assert!(i != NIL, "more than 2^32 - 1 free blocks");
            self.nodes.push(node);
            i
        };
        if head != NIL {
            self.nodes[head as usize].prev = i;
        }
        self.heads[class] = i;
        self.sl_bitmaps[class / SL_COUNT] |= 1 << (class % SL_COUNT);
        self.fl_bitmap |= 1 << (class / SL_COUNT);
        self.by_start.insert(start, i);
        self.by_end.insert(start + size, i);
        self.len += 1;
        self.free_units += size;
        self.largest = self.largest.map(|largest| largest.max(size));
        self.refresh_largest();
    }

    /// Forgets the free block of node `i`: out of its list, the maps and the counters,
    /// and its slot vacant. O(1) expected.
    fn remove(&mut self, i: u32) {
        let Node { start, size, prev, next } = self.node(i);
        let class = class_of(size);
        if prev == NIL {
            self.heads[class] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        if self.heads[class] == NIL {
            let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
            self.sl_bitmaps[fl] &= !(1 << sl);
            if self.sl_bitmaps[fl] == 0 {
                self.fl_bitmap &= !(1 << fl);
            }
        }
        self.by_start.remove(&start);
        self.by_end.remove(&(start + size));
        self.nodes[i as usize] = Node { start: 0, size: 0, prev: NIL, next: self.vacant };
        self.vacant = i;
        self.len -= 1;
        self.free_units -= size;
        if self.largest == Some(size) {
            self.largest = None;
        }
        self.refresh_largest();
    }

    /// Restores the cached largest size when that is O(1): no free block at all, or one
    /// block alone in the highest non-empty class.
    fn refresh_largest(&mut self) {
        if self.largest.is_some() {
            return;
        }
        match self.highest_nonempty() {
            None => self.largest = Some(0),
            Some(class) => {
                let head = self.node(self.heads[class]);
                if head.next == NIL {
                    self.largest = Some(head.size);
                }
            }
        }
    }

    /// Takes `[at, at + size)` out of the free block of node `i`, which holds it; the
    /// parts before and after stay free.
    fn carve(&mut self, i: u32, at: usize, size: usize) {
        let block = self.node(i);
        let head = at - block.start;
        let tail = block.size - head - size;
        self.remove(i);
        if head > 0 {
            self.insert(block.start, head);
        }
        if tail > 0 {
            self.insert(at + size, tail);
        }
    }
}

impl FreeIndex for TlsfIndex {
    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        let (i, at) = self.find(size, align)?;
        self.carve(i, at, size);
        Some(at)
    }

    fn take_at(&mut self, start: usize, size: usize) -> bool {
        match self.by_start.get(&start).copied() {
            Some(i) if self.node(i).size >= size => {
                self.carve(i, start, size);
                true
            }
            _ => false,
        }
    }

    fn give(&mut self, start: usize, size: usize) {
        let (mut new_start, mut new_size) = (start, size);
        // The free block that ends where this range starts, and the one that starts where
        // it ends: none, either or both are merged into one block.
        if let Some(&prev) = self.by_end.get(&start) {
            let block = self.node(prev);
            self.remove(prev);
            new_start = block.start;
            new_size += block.size;
        }
        if let Some(&next) = self.by_start.get(&(start + size)) {
            let block = self.node(next);
            self.remove(next);
            new_size += block.size;
        }
        self.insert(new_start, new_size);
    }

    fn largest(&self) -> usize {
        self.largest.unwrap_or_else(|| {
            self.highest_nonempty().map_or(0, |class| self.list(class).map(|i| self.node(i).size).max().unwrap_or(0))
        })
    }

    fn free_units(&self) -> usize {
        self.free_units
    }

    fn free_blocks(&self) -> usize {
        self.len
    }

    fn blocks(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        let mut blocks: Vec<(usize, usize)> =
            self.by_start.iter().map(|(&start, &i)| (start, self.node(i).size)).collect();
        blocks.sort_unstable();
        Box::new(blocks.into_iter())
    }

    fn check(&self) -> Result<(), String> {
        let mut listed = vec![false; self.nodes.len()];
        let mut count = 0usize;
        let mut largest = 0usize;
        for class in 0..CLASS_COUNT {
            let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
            if (self.heads[class] != NIL) != (self.sl_bitmaps[fl] & (1 << sl) != 0) {
                return Err(format!("second-level bit of class {class} disagrees with its list"));
            }
            let mut prev = NIL;
            let mut i = self.heads[class];
            while i != NIL {
                let slot = listed.get_mut(i as usize).ok_or_else(|| format!("class {class} links to no slot {i}"))?;
                if std::mem::replace(slot, true) {
                    return Err(format!("node {i} is listed twice (class {class})"));
                }
                let node = self.node(i);
                if node.size == 0 {
                    return Err(format!("free block at {} has size 0", node.start));
                }
                if class_of(node.size) != class {
                    return Err(format!("free block ({}, {}) is in class {class}", node.start, node.size));
                }
                if node.prev != prev {
                    return Err(format!("broken back link at node {i} (class {class})"));
                }
                let end = node.start.checked_add(node.size).ok_or("free block passes usize::MAX")?;
                if self.by_start.get(&node.start) != Some(&i) || self.by_end.get(&end) != Some(&i) {
                    return Err(format!("free block ({}, {}) is missing from the address maps", node.start, node.size));
                }
                largest = largest.max(node.size);
                count += 1;
                prev = i;
                i = node.next;
            }
        }
        for fl in 0..u64::BITS as usize {
            let nonempty = self.sl_bitmaps.get(fl).is_some_and(|&bits| bits != 0);
            if (self.fl_bitmap & (1 << fl) != 0) != nonempty {
                return Err(format!("first-level bit {fl} disagrees with the second level"));
            }
        }
        if count != self.len || self.by_start.len() != self.len || self.by_end.len() != self.len {
            return Err(format!(
                "{count} listed blocks, counter {}, {} starts and {} ends mapped",
                self.len,
                self.by_start.len(),
                self.by_end.len()
            ));
        }
        let mut vacant = 0usize;
        let mut i = self.vacant;
        while i != NIL {
            let slot = listed.get_mut(i as usize).ok_or_else(|| format!("vacancy chain links to no slot {i}"))?;
            if std::mem::replace(slot, true) {
                return Err(format!("slot {i} is both listed and vacant, or vacant twice"));
            }
            if self.node(i).size != 0 {
                return Err(format!("vacant slot {i} has a size"));
            }
            vacant += 1;
            i = self.node(i).next;
        }
        if count + vacant != self.nodes.len() {
            return Err(format!("{} slots but {count} listed and {vacant} vacant", self.nodes.len()));
        }
        check_block_list(self.blocks(), true, self.free_units)?;
        if self.largest.is_some_and(|cached| cached != largest) || self.largest() != largest {
            return Err(format!("largest free block is {largest}, cached {:?}", self.largest));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::{MemoryAllocator, Options, Policy};

    fn checked(index: &TlsfIndex) {
        if let Err(e) = index.check() {
            panic!("invariant broken: {e}");
        }
    }

    fn blocks(index: &TlsfIndex) -> Vec<(usize, usize)> {
        index.blocks().collect()
    }

    #[test]
    fn classes_are_contiguous_and_ordered() {
        assert_eq!(class_floor(1), 1);
        for class in 1..CLASS_COUNT {
            let floor = class_floor(class);
            assert_eq!(class_of(floor), class, "floor of class {class}");
            if class > 1 {
                assert_eq!(class_of(floor - 1), class - 1, "just below class {class}");
                assert!(class_floor(class - 1) < floor);
            }
            let last = if class + 1 < CLASS_COUNT { class_floor(class + 1) - 1 } else { usize::MAX };
            assert_eq!(class_of(last), class, "last size of class {class}");
            // One class per size below 2 * SL_COUNT; above, a class spans 1/32 of a power of two.
            if floor < 2 * SL_COUNT {
                assert_eq!(last, floor);
            } else {
                assert_eq!(last - floor + 1, 1 << (floor.ilog2() - SLI_LOG2));
            }
        }
    }

    #[test]
    fn class_mapping_at_the_extremes() {
        assert_eq!(class_of(usize::MAX), CLASS_COUNT - 1);
        assert_eq!(class_of(usize::MAX - 1), CLASS_COUNT - 1);
        assert_eq!(class_of(1 << (usize::BITS - 1)), CLASS_COUNT - SL_COUNT);
        assert_eq!(class_floor(CLASS_COUNT - 1), 0b11_1111 << (usize::BITS - 6));
        assert_eq!(class_holding(class_floor(CLASS_COUNT - 1)), CLASS_COUNT - 1);
        assert_eq!(class_holding(class_floor(CLASS_COUNT - 1) + 1), CLASS_COUNT);
        assert_eq!(class_holding(usize::MAX), CLASS_COUNT);
        for size in [1, 31, 32, 33, 63, 64, 65, 100, 1000, 1 << 40, (1 << 40) + 1, usize::MAX / 3] {
            let holding = class_holding(size);
            assert!(class_floor(holding) >= size, "every block of class {holding} holds {size}");
            assert!(class_floor(holding - 1) < size || holding == class_of(size));
        }
    }

    #[test]
    fn bitmaps_find_the_first_nonempty_class() {
        let mut index = TlsfIndex::new(0);
        assert_eq!(index.first_nonempty_from(0), None);
        assert_eq!(index.largest(), 0);
        // Blocks of sizes 5, 40 and 5000, apart from each other.
        index.insert(0, 5);
        index.insert(100, 40);
        index.insert(1000, 5000);
        checked(&index);
        assert_eq!(index.first_nonempty_from(1), Some(class_of(5)));
        assert_eq!(index.first_nonempty_from(6), Some(class_of(40)));
        assert_eq!(index.first_nonempty_from(41), Some(class_of(5000)));
        assert_eq!(index.first_nonempty_from(class_of(5000) + 1), None);
        assert_eq!(index.highest_nonempty(), Some(class_of(5000)));
        assert_eq!(index.largest(), 5000);
    }

    #[test]
    fn exact_sizes_split_and_keep_the_remainder() {
        let mut index = TlsfIndex::new(100);
        assert_eq!(index.take(20, 1), Some(0));
        assert_eq!(blocks(&index), [(20, 80)]);
        assert_eq!(index.take(80, 1), Some(20));
        assert_eq!(blocks(&index), []);
        assert_eq!(index.take(1, 1), None);
        assert_eq!((index.largest(), index.free_units(), index.free_blocks()), (0, 0, 0));
        checked(&index);
    }

    #[test]
    fn no_false_out_of_memory_inside_the_requests_own_class() {
        // 1000 is in class [992, 1008); the only free block, 1005 units, is in it too. The
        // good fit (classes from 1008 up) finds nothing; the fallback finds the block.
        let mut index = TlsfIndex::new(1005);
        assert_eq!(class_of(1000), class_of(1005));
        assert_eq!((class_floor(class_of(1000)), class_holding(1000)), (992, class_of(1008)));
        assert_eq!(index.take(1000, 1), Some(0));
        assert_eq!(blocks(&index), [(1000, 5)]);
        checked(&index);

        // Two blocks of the same class, the smaller first in its list: both are scanned.
        let mut index = TlsfIndex::new(5000);
        assert_eq!(index.take(3000, 1), Some(0));
        index.take(1, 1).unwrap(); // a separator at 3000
        assert_eq!(index.take(1000, 1), Some(3001));
        index.take(1, 1).unwrap(); // at 4001
        index.give(3001, 1000); // [3001, 4001): 1000 units
        index.give(0, 995); // [0, 995): 995 units, now the head of the class list
        assert_eq!(class_of(995), class_of(1000));
        assert_eq!(index.take(998, 1), Some(3001));
        assert_eq!(index.take(999, 1), None);
        assert_eq!(index.take(995, 1), Some(0));
        checked(&index);
    }

    #[test]
    fn the_good_fit_takes_a_block_of_a_higher_class() {
        let mut index = TlsfIndex::new(10_000);
        index.take(10_000, 1).unwrap();
        index.give(0, 1005); // class [992, 1008)
        index.give(2000, 3000); // class [2944, 3072)
        // 1000 rounds up to the class at 1008: the good fit is the 3000-unit block, though
        // the 1005-unit one, in the request's own class, would fit better.
        assert_eq!(index.take(1000, 1), Some(2000));
        assert_eq!(blocks(&index), [(0, 1005), (3000, 2000)]);
        checked(&index);
    }

    #[test]
    fn aligned_takes_leave_the_gap_free_and_never_fail_falsely() {
        let mut index = TlsfIndex::new(100);
        index.take(3, 1).unwrap();
        // Free [3, 100): 16 units aligned to 16 go at 16; [3, 16) and [32, 100) stay free.
        assert_eq!(index.take(16, 16), Some(16));
        assert_eq!(blocks(&index), [(3, 13), (32, 68)]);
        checked(&index);

        // The good fit for the size is misaligned and no block holds size + align - 1: the
        // scan finds the aligned block of the next class.
        let mut index = TlsfIndex::new(128);
        index.take(128, 1).unwrap();
        index.give(33, 9);
        index.give(64, 10);
        assert_eq!(index.take(8, 32), Some(64));
        assert_eq!(blocks(&index), [(33, 9), (72, 2)]);
        checked(&index);

        // A block a little larger than the size but misaligned: no room, no false success.
        let mut index = TlsfIndex::new(64);
        index.take(64, 1).unwrap();
        index.give(33, 10);
        assert_eq!(index.take(8, 32), None);
        assert_eq!(index.take(8, 8), None);
        assert_eq!(index.take(3, 8), Some(40));
        checked(&index);

        // The size plus alignment overflows, and the only fit is in the request's own class:
        // the scan still finds it.
        let mut index = TlsfIndex::new(usize::MAX);
        index.take(usize::MAX, 1).unwrap();
        let quarter = 1usize << (usize::BITS - 2);
        index.give(0, 3 * quarter + 5);
        index.give(3 * quarter + 10, 100);
        assert!((3 * quarter + 1).checked_add(quarter - 1).is_none());
        assert_eq!(index.take(3 * quarter + 6, quarter), None);
        assert_eq!(index.take(3 * quarter + 1, quarter), Some(0));
        assert_eq!(blocks(&index), [(3 * quarter + 1, 4), (3 * quarter + 10, 100)]);
        checked(&index);
    }

    #[test]
    fn merging_in_all_four_cases() {
        let mut index = TlsfIndex::new(100);
        for _ in 0..10 {
            index.take(10, 1).unwrap();
        }
        // Isolated.
        index.give(20, 10);
        assert_eq!(blocks(&index), [(20, 10)]);
        // Touches the previous free block.
        index.give(30, 10);
        assert_eq!(blocks(&index), [(20, 20)]);
        // Touches the next free block.
        index.give(10, 10);
        assert_eq!(blocks(&index), [(10, 30)]);
        // Touches both.
        index.give(50, 10);
        index.give(40, 10);
        assert_eq!(blocks(&index), [(10, 50)]);
        // At address 0 and at the end of the range.
        index.give(0, 10);
        index.give(90, 10);
        assert_eq!(blocks(&index), [(0, 60), (90, 10)]);
        index.give(60, 30);
        assert_eq!(blocks(&index), [(0, 100)]);
        assert_eq!((index.largest(), index.free_units(), index.free_blocks()), (100, 100, 1));
        checked(&index);
    }

    #[test]
    fn take_at_carves_only_a_block_that_starts_there() {
        let mut index = TlsfIndex::new(100);
        index.take(100, 1).unwrap();
        index.give(40, 20);
        assert!(!index.take_at(30, 5));
        assert!(!index.take_at(45, 5));
        assert!(!index.take_at(40, 21));
        assert!(index.take_at(40, 5));
        assert_eq!(blocks(&index), [(45, 15)]);
        assert!(index.take_at(45, 15));
        assert_eq!(index.free_blocks(), 0);
        checked(&index);
    }

    #[test]
    fn the_whole_address_space() {
        let mut index = TlsfIndex::new(usize::MAX);
        assert_eq!(index.largest(), usize::MAX);
        assert_eq!(index.take(usize::MAX, 1), Some(0));
        assert_eq!(index.take(1, 1), None);
        index.give(0, usize::MAX);
        assert_eq!(index.take(usize::MAX - 1, 1), Some(0));
        assert_eq!(blocks(&index), [(usize::MAX - 1, 1)]);
        index.give(0, usize::MAX - 1);
        assert_eq!(blocks(&index), [(0, usize::MAX)]);
        // A request in the top class, above its floor: only the fallback scan finds room.
        let a = index.take(usize::MAX - 10, 1).unwrap();
        index.give(a, 5);
        index.give(a + 6, usize::MAX - 16);
        checked(&index);
        assert_eq!(index.largest(), usize::MAX - 16 + 10);
        assert_eq!(index.take(usize::MAX - 7, 1), Some(6));
        checked(&index);
    }

    #[test]
    fn largest_is_exact_after_the_largest_block_goes() {
        let mut index = TlsfIndex::new(10_000);
        index.take(10_000, 1).unwrap();
        // Three blocks in one class ([2048, 2112)), the largest in the middle.
        index.give(0, 2050);
        index.give(3000, 2100);
        index.give(6000, 2060);
        assert_eq!(index.largest(), 2100);
        assert!(index.take_at(3000, 2100));
        assert_eq!(index.largest, None, "two blocks left in the top class: not cached");
        assert_eq!(index.largest(), 2060);
        checked(&index);
    }

    /// Random takes (aligned or not), takes at, and gives of whole or partial taken ranges,
    /// against a `BTreeMap` model of the free space: a take succeeds exactly when some
    /// model block holds it, and the index equals the model after every step.
    fn random_against_model(seed: u64, capacity: usize, steps: usize, max_size: usize) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut index = TlsfIndex::new(capacity);
        let mut model: BTreeMap<usize, usize> = BTreeMap::from([(0, capacity)]);
        let mut taken: Vec<(usize, usize)> = Vec::new();
        // Miri interprets every step: a tenth of them.
        let steps = if cfg!(miri) { steps / 10 } else { steps };
        for step in 0..steps {
            match rng.random_range(0..=9) {
                0..=4 => {
                    let size = match rng.random_range(0..=3) {
                        0 => rng.random_range(1..=8),
                        1 => rng.random_range(1..=max_size),
                        // Near the size of a free block: the request's own class.
                        2 => {
                            let sizes: Vec<usize> = model.values().copied().collect();
                            if sizes.is_empty() {
                                1
                            } else {
                                let s = sizes[rng.random_range(0..sizes.len())];
                                rng.random_range(s.saturating_sub(s / 16).max(1)..=s.saturating_add(s / 64))
                            }
                        }
                        // Near the largest: often only the fallback scan of its class finds it.
                        _ => {
                            let s = model.values().copied().max().unwrap_or(1).max(1);
                            rng.random_range(s.saturating_sub(s / 32).max(1)..=s.saturating_add(s / 256))
                        }
                    };
                    let align = if rng.random_range(0..=2) == 0 { 1 } else { 1 << rng.random_range(0..=8) };
                    let fits = model.iter().any(|(&start, &block)| fit_in_block(start, block, size, align).is_some());
                    match index.take(size, align) {
                        Some(at) => {
                            assert!(fits, "step {step}");
                            assert_eq!(at % align, 0, "step {step}: misaligned");
                            let (&start, &block) = model.range(..=at).next_back().expect("taken from a free block");
                            assert!(at + size <= start + block, "step {step}: taken beyond a free block");
                            model.remove(&start);
                            if at > start {
                                model.insert(start, at - start);
                            }
                            if start + block > at + size {
                                model.insert(at + size, start + block - at - size);
                            }
                            taken.push((at, size));
                        }
                        None => assert!(!fits, "step {step}: false out of memory for ({size}, {align})"),
                    }
                }
                5 if !taken.is_empty() => {
                    // Grow a taken range in place.
                    let k = rng.random_range(0..taken.len());
                    let (at, size) = taken[k];
                    let growth = rng.random_range(1..=64);
                    let fits = model.get(&(at + size)).is_some_and(|&block| block >= growth);
                    assert_eq!(index.take_at(at + size, growth), fits, "step {step}");
                    if fits {
                        let block = model.remove(&(at + size)).unwrap();
                        if block > growth {
                            model.insert(at + size + growth, block - growth);
                        }
                        taken[k].1 += growth;
                    }
                }
                _ if !taken.is_empty() => {
                    // Give back a whole taken range, or a piece of one.
                    let k = rng.random_range(0..taken.len());
                    let (at, size) = taken.swap_remove(k);
                    let (lo, hi) = if rng.random_range(0..=2) == 0 {
                        (at, at + size)
                    } else {
                        let lo = rng.random_range(at..=at + size - 1);
                        (lo, rng.random_range(lo + 1..=at + size))
                    };
                    if lo > at {
                        taken.push((at, lo - at));
                    }
                    if hi < at + size {
                        taken.push((hi, at + size - hi));
                    }
                    index.give(lo, hi - lo);
                    let (mut start, mut end) = (lo, hi);
                    if let Some((&p, &psize)) = model.range(..lo).next_back()
                        && p + psize == lo
                    {
                        model.remove(&p);
                        start = p;
                    }
                    if let Some(nsize) = model.remove(&hi) {
                        end = hi + nsize;
                    }
                    model.insert(start, end - start);
                }
                _ => {}
            }
            checked(&index);
            let expected: Vec<(usize, usize)> = model.iter().map(|(&s, &z)| (s, z)).collect();
            assert_eq!(blocks(&index), expected, "step {step}");
            assert_eq!(index.largest(), model.values().copied().max().unwrap_or(0), "step {step}");
            assert_eq!(index.free_units(), model.values().sum::<usize>(), "step {step}");
            assert_eq!(index.free_blocks(), model.len(), "step {step}");
        }
    }

    #[test]
    fn random_small_range_against_a_model() {
        for seed in 0..if cfg!(miri) { 1 } else { 10 } {
            random_against_model(seed, 2000, 2000, 300);
        }
    }

    #[test]
    fn random_large_range_against_a_model() {
        for seed in 100..if cfg!(miri) { 101 } else { 103 } {
            random_against_model(seed, 1 << 40, 2000, 1 << 36);
        }
    }

    #[test]
    fn random_whole_address_space_against_a_model() {
        for seed in 200..if cfg!(miri) { 201 } else { 203 } {
            random_against_model(seed, usize::MAX, 2000, usize::MAX / 8);
        }
    }

    #[test]
    fn through_the_allocator_with_min_alignment_and_reallocation() {
        for min_alignment in [1, 16] {
            let options = Options::new(1 << 20).policy(Policy::Tlsf).min_alignment(min_alignment);
            let mut heap = MemoryAllocator::with_options(options).unwrap();
            let mut rng = SmallRng::seed_from_u64(min_alignment as u64);
            let mut live: Vec<(usize, usize)> = Vec::new();
            for step in 0..if cfg!(miri) { 30 } else { 3000 } {
                match rng.random_range(0..=5) {
                    0..=2 => {
                        let size = rng.random_range(1..=5000);
                        let alignment = if rng.random_range(0..=3) == 0 { 1 << rng.random_range(0..=10) } else { 1 };
                        match heap.allocate_aligned(size, alignment) {
                            Ok(at) => {
                                assert_eq!(at % alignment.max(min_alignment), 0);
                                live.push((at, size));
                            }
                            Err(e) => {
                                assert_eq!(e, crate::Error::OutOfMemory);
                                if alignment <= min_alignment {
                                    assert!(heap.largest_free_block() < size.next_multiple_of(min_alignment));
                                }
                            }
                        }
                    }
                    3 if !live.is_empty() => {
                        let k = rng.random_range(0..live.len());
                        let (at, size) = live[k];
                        if let Ok(new_at) = heap.reallocate(at, size, rng.random_range(1..=8000)) {
                            live[k] = (new_at, heap.size_of(new_at).unwrap());
                        }
                    }
                    _ if !live.is_empty() => {
                        let (at, size) = live.swap_remove(rng.random_range(0..live.len()));
                        heap.free(at, size).unwrap();
                    }
                    _ => {}
                }
                if let Err(e) = heap.check_invariants() {
                    panic!("step {step} (min_alignment {min_alignment}): {e}");
                }
            }
            heap.reset();
            assert_eq!(heap.largest_free_block(), 1 << 20);
        }
    }

    #[test]
    fn worked_example_addresses_under_tlsf() {
        // With one free block at a time, TLSF places like first fit.
        let mut heap = MemoryAllocator::with_options(Options::new(100).policy(Policy::Tlsf)).unwrap();
        assert_eq!(heap.allocate(20), Ok(0));
        assert_eq!(heap.allocate(30), Ok(20));
        assert_eq!(heap.allocate(40), Ok(50));
        heap.free(20, 30).unwrap();
        assert_eq!(heap.allocate(25), Ok(20));
        heap.free(0, 20).unwrap();
        heap.free(20, 25).unwrap();
        assert_eq!(heap.to_string(), "[Free(0-49)] [Allocated(50-89)] [Free(90-99)]");
        heap.check_invariants().unwrap();
    }
}
