//! Binary buddy: every block is a power of two, aligned to its size, and a block of
//! `2^k` units is either free, allocated, or split into two halves ("buddies") of
//! `2^(k-1)` units.
//!
//! A request is rounded up to a power of two ([`FreeIndex::footprint`]; the core shows the
//! rounding as padding). `take` uses the lowest-addressed free block of exactly that size
//! if there is one; else it splits the smallest larger free block (lowest address among
//! those), keeping the low half each time and freeing the upper halves. `give` frees a
//! block and merges it with its buddy (`start ^ size`) as long as the buddy is free and
//! whole, climbing one order per merge. A range given back that is not one block (the
//! tail a shrinking realloc frees) is cut into maximal aligned power-of-two blocks first.
//!
//! A capacity that is not a power of two is covered by top-level blocks of decreasing
//! powers of two from address 0, one per set bit of the capacity (100 = 64 at 0, 32 at
//! 64, 4 at 96). Top-level blocks have no buddy and never merge with each other, so two
//! free blocks may touch without being merged: [`FreeIndex::merges_adjacent`] is false.
//!
//! The free blocks of each order are kept in an address-ordered set, and a bitmap says
//! which orders have any: the smallest order with a free block at or above the request is
//! one bit scan, and the largest free block another.
//!
//! # Time complexity
//!
//! With `n` free blocks and `L = log2(capacity)` orders (at most 64):
//! - `take`: O(L log n) (one removal, at most `L` split halves inserted); with an
//!   alignment larger than the request, free blocks smaller than the alignment are also
//!   scanned for one that starts on it, O(n) in the worst case;
//! - `give`: O(L log n) for one block (at most `L` merges); a range is at most `2L` blocks;
//! - `take_at`: O(1) (always refuses: a buddy block never grows in place);
//! - `largest`, `free_units`, `free_blocks`: O(1);
//! - `blocks`: O(n log L), a merge of the per-order sets.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::{FreeIndex, check_block_list};

/// The number of orders: a block holds `2^order` units, `order < ORDERS`.
const ORDERS: usize = usize::BITS as usize;

/// The units of a block of `order`.
const fn block_size(order: u32) -> usize {
    1 << order
}

/// `floor(log2(value))`, for `value > 0`.
const fn log2(value: usize) -> u32 {
    usize::BITS - 1 - value.leading_zeros()
}

/// Free buddy blocks, one address-ordered set per order.
///
/// Invariants (checked by [`FreeIndex::check`]):
/// - every start in `free[k]` is a multiple of `2^k`, and `[start, start + 2^k)` lies inside
///   one top-level block (so it is below `capacity`);
/// - free blocks never overlap, and no free block's buddy is also free and whole (the two
///   would have been merged);
/// - bit `k` of `nonempty` is set exactly when `free[k]` is not empty;
/// - `free_blocks` is the number of free blocks, `free_units` the sum of their sizes.
#[derive(Debug)]
pub(crate) struct BuddyIndex {
    /// The managed range is `[0, capacity)`; its set bits are the top-level blocks.
    capacity: usize,
    /// `free[k]`: the starts of the free blocks of `2^k` units, ascending.
    free: [BTreeSet<usize>; ORDERS],
    /// Bit `k` set exactly when `free[k]` is not empty.
    nonempty: usize,
    free_blocks: usize,
    free_units: usize,
}

impl BuddyIndex {
    /// An index whose free space is `[0, capacity)`, as top-level blocks of decreasing
    /// powers of two from address 0.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut index = BuddyIndex {
            capacity,
            free: std::array::from_fn(|_| BTreeSet::new()),
            nonempty: 0,
            free_blocks: 0,
            free_units: 0,
        };
        let mut start = 0;
        for order in (0..usize::BITS).rev() {
            if capacity & block_size(order) != 0 {
                index.insert(start, order);
                // The sum of the blocks so far never passes the capacity: no overflow.
                start += block_size(order);
            }
        }
        index
    }

    /// The order of the top-level block that holds `addr` (`addr < capacity`): the highest
    /// bit where `addr` and the capacity differ, which is set in the capacity.
    fn top_order(&self, addr: usize) -> u32 {
        debug_assert!(addr < self.capacity);
        log2(addr ^ self.capacity)
    }

    fn insert(&mut self, start: usize, order: u32) {
        let fresh = self.free[order as usize].insert(start);
        debug_assert!(fresh, "block ({start}, 2^{order}) is already free");
        self.nonempty |= 1 << order;
        self.free_blocks += 1;
        self.free_units += block_size(order);
    }

    /// Removes the free block `(start, 2^order)` if it is free; returns whether it was.
    fn remove(&mut self, start: usize, order: u32) -> bool {
        let set = &mut self.free[order as usize];
        if !set.remove(&start) {
            return false;
        }
        if set.is_empty() {
            self.nonempty &= !(1 << order);
        }
        self.free_blocks -= 1;
        self.free_units -= block_size(order);
        true
    }

    /// The smallest order at least `order` that has a free block.
    fn lowest_nonempty_from(&self, order: u32) -> Option<u32> {
        let orders = self.nonempty & (usize::MAX << order);
        (orders != 0).then(|| orders.trailing_zeros())
    }

    /// The lowest-addressed free block of `order`.
    fn first(&self, order: u32) -> Option<usize> {
        self.free[order as usize].first().copied()
    }

    /// The free block `(start, order)` to carve a `2^order`-unit request aligned to
    /// `align > 2^order` from: the smallest that can hold it, lowest address first.
    fn find_aligned(&self, order: u32, align: usize) -> Option<(usize, u32)> {
        let align_order = align.trailing_zeros();
        // A block smaller than `align` holds an aligned request only at its start, and
        // only when that start is a multiple of `align`.
        for small in order..align_order {
            if self.nonempty & (1 << small) != 0
                && let Some(&start) = self.free[small as usize].iter().find(|&&start| start & (align - 1) == 0)
            {
                return Some((start, small));
            }
        }
        // A block of at least `align` units starts on a multiple of it.
        let large = self.lowest_nonempty_from(align_order)?;
        Some((self.first(large)?, large))
    }

    /// Frees the block `(start, 2^order)` and merges it with its buddy, repeatedly, while
    /// the buddy is free and whole and the two stay inside their top-level block.
    fn release(&mut self, start: usize, order: u32) {
        let (mut start, mut order) = (start, order);
        let top = self.top_order(start);
        while order < top && self.remove(start ^ block_size(order), order) {
            start &= !block_size(order);
            order += 1;
        }
        self.insert(start, order);
    }
}

impl FreeIndex for BuddyIndex {
    /// The next power of two: a buddy block holds exactly a power of two.
    fn footprint(&self, size: usize) -> Option<usize> {
        size.checked_next_power_of_two()
    }

    fn merges_adjacent(&self) -> bool {
        false
    }

    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        debug_assert!(size.is_power_of_two() && align.is_power_of_two());
        let order = size.trailing_zeros();
        let (start, from) = if align <= size {
            // Every block of at least `size` units is aligned to `size`, hence to `align`.
            let from = self.lowest_nonempty_from(order)?;
            (self.first(from)?, from)
        } else {
            self.find_aligned(order, align)?
        };
        self.remove(start, from);
        // Split down to `order`: the low half goes on being split (and keeps the block's
        // start, hence its alignment), the upper halves become free.
        for half in (order..from).rev() {
            self.insert(start + block_size(half), half);
        }
        Some(start)
    }

    /// Always `false`: a buddy allocation grows in place only within its own rounded
    /// footprint, which the core handles without asking the index.
    fn take_at(&mut self, _start: usize, _size: usize) -> bool {
        false
    }

    /// Frees `[start, start + size)`: one buddy block when an allocation is freed, the
    /// blocks `new, 2 new, ..., old / 2` after the kept head when a realloc shrinks. Any
    /// range is cut into maximal aligned power-of-two blocks, each freed and merged.
    fn give(&mut self, start: usize, size: usize) {
        let end = start + size;
        let mut at = start;
        while at < end {
            // As large as `at`'s alignment and the rest of the range allow. Such a block
            // never crosses a top-level boundary inside [0, capacity).
            let order = at.trailing_zeros().min(log2(end - at));
            debug_assert!(order <= self.top_order(at));
            self.release(at, order);
            at += block_size(order);
        }
    }

    fn largest(&self) -> usize {
        if self.nonempty == 0 { 0 } else { block_size(log2(self.nonempty)) }
    }

    fn free_units(&self) -> usize {
        self.free_units
    }

    fn free_blocks(&self) -> usize {
        self.free_blocks
    }

    fn blocks(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        // A k-way merge of the per-order sets: a heap of each set's next start.
        let mut cursors: Vec<_> = self.free.iter().map(|set| set.iter()).collect();
        let mut heads = BinaryHeap::new();
        for (order, cursor) in cursors.iter_mut().enumerate() {
            if let Some(&start) = cursor.next() {
                heads.push(Reverse((start, order)));
            }
        }
        Box::new(std::iter::from_fn(move || {
            let Reverse((start, order)) = heads.pop()?;
            if let Some(&next) = cursors[order].next() {
                heads.push(Reverse((next, order)));
            }
            Some((start, 1 << order))
        }))
    }

    fn check(&self) -> Result<(), String> {
        let (mut count, mut units) = (0usize, 0usize);
        for (order, set) in (0..usize::BITS).zip(&self.free) {
            if (self.nonempty & (1 << order) != 0) == set.is_empty() {
                return Err(format!("non-empty bitmap disagrees with the free set of order {order}"));
            }
            for &start in set {
                if start >= self.capacity {
                    return Err(format!("free block ({start}, 2^{order}) starts past the capacity"));
                }
                if start & (block_size(order) - 1) != 0 {
                    return Err(format!("free block ({start}, 2^{order}) is not aligned to its size"));
                }
                let top = self.top_order(start);
                if order > top {
                    return Err(format!("free block ({start}, 2^{order}) crosses its top-level block (2^{top})"));
                }
                if order < top && set.contains(&(start ^ block_size(order))) {
                    return Err(format!("free block ({start}, 2^{order}) and its buddy are both free: not merged"));
                }
                count += 1;
                units += block_size(order);
            }
        }
        // Buddy keeps free blocks as they are: neighbours that are not buddies may touch.
        check_block_list(self.blocks(), false, self.free_units)?;
        if count != self.free_blocks {
            return Err(format!("free block count {} but {count} blocks in the sets", self.free_blocks));
        }
        if units != self.free_units {
            return Err(format!("free units counter {} but blocks sum to {units}", self.free_units));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::{Block, BlockKind, Error, MemoryAllocator, Options, Policy};

    /// A naive buddy system, written differently from the index: each top-level block is
    /// an explicit binary tree whose leaves are free or used.
    #[derive(Debug, Clone)]
    enum Node {
        Free,
        Used,
        Split(Box<Node>, Box<Node>),
    }

    /// The model: top-level trees `(start, order, tree)` in address order.
    struct Model {
        tops: Vec<(usize, u32, Node)>,
    }

    impl Model {
        /// Greedy: the largest power of two that still fits, again and again.
        fn new(capacity: usize) -> Self {
            let (mut tops, mut start, mut rest) = (Vec::new(), 0usize, capacity);
            while rest > 0 {
                let order = usize::BITS - 1 - rest.leading_zeros();
                tops.push((start, order, Node::Free));
                start += 1 << order;
                rest -= 1 << order;
            }
            Model { tops }
        }

        /// The free leaves `(start, size)`, in address order.
        fn free_blocks(&self) -> Vec<(usize, usize)> {
            fn walk(node: &Node, start: usize, order: u32, out: &mut Vec<(usize, usize)>) {
                match node {
                    Node::Free => out.push((start, 1 << order)),
                    Node::Used => {}
                    Node::Split(low, high) => {
                        walk(low, start, order - 1, out);
                        walk(high, start + (1 << (order - 1)), order - 1, out);
                    }
                }
            }
            let mut out = Vec::new();
            for (start, order, node) in &self.tops {
                walk(node, *start, *order, &mut out);
            }
            out
        }

        /// The node of the block `(start, 2^order)`, which must exist in the tree.
        fn node_mut(&mut self, start: usize, order: u32) -> &mut Node {
            let top = self.tops.iter_mut().rev().find(|(top_start, _, _)| *top_start <= start).unwrap();
            let (mut node, mut node_start, mut node_order) = (&mut top.2, top.0, top.1);
            while (node_start, node_order) != (start, order) {
                let Node::Split(low, high) = node else { panic!("({start}, 2^{order}) is not a node") };
                node_order -= 1;
                if start >= node_start + (1 << node_order) {
                    node_start += 1 << node_order;
                    node = high.as_mut();
                } else {
                    node = low.as_mut();
                }
            }
            node
        }

        /// `Used` at the low end of a block of `2^top` units, split down to `2^order`.
        fn used_at_low_end(top: u32, order: u32) -> Node {
            if top == order {
                Node::Used
            } else {
                Node::Split(Box::new(Self::used_at_low_end(top - 1, order)), Box::new(Node::Free))
            }
        }

        /// Smallest free leaf that holds an aligned `2^order`, lowest address first.
        fn alloc(&mut self, order: u32, align: usize) -> Option<usize> {
            let (start, size) = self
                .free_blocks()
                .into_iter()
                .filter(|&(start, size)| (size >= 1 << order && start % align == 0) || size >= align.max(1 << order))
                .min_by_key(|&(start, size)| (size, start))?;
            *self.node_mut(start, size.trailing_zeros()) = Self::used_at_low_end(size.trailing_zeros(), order);
            Some(start)
        }

        fn free(&mut self, start: usize, order: u32) {
            let node = self.node_mut(start, order);
            assert!(matches!(node, Node::Used));
            *node = Node::Free;
            self.normalize();
        }

        fn shrink(&mut self, start: usize, old_order: u32, new_order: u32) {
            let node = self.node_mut(start, old_order);
            assert!(matches!(node, Node::Used));
            *node = Self::used_at_low_end(old_order, new_order);
        }

        /// Collapses every split whose halves are both free.
        fn normalize(&mut self) {
            fn collapse(node: &mut Node) {
                if let Node::Split(low, high) = node {
                    collapse(low);
                    collapse(high);
                    if matches!((&**low, &**high), (Node::Free, Node::Free)) {
                        *node = Node::Free;
                    }
                }
            }
            for (_, _, node) in &mut self.tops {
                collapse(node);
            }
        }
    }

    /// The index agrees with the model and its own invariants hold.
    #[track_caller]
    fn assert_same(index: &BuddyIndex, model: &Model) {
        index.check().unwrap();
        let expected = model.free_blocks();
        assert_eq!(index.blocks().collect::<Vec<_>>(), expected);
        assert_eq!(index.free_blocks(), expected.len());
        assert_eq!(index.free_units(), expected.iter().map(|&(_, size)| size).sum::<usize>());
        assert_eq!(index.largest(), expected.iter().map(|&(_, size)| size).max().unwrap_or(0));
    }

    fn free_list(index: &BuddyIndex) -> Vec<(usize, usize)> {
        index.blocks().collect()
    }

    fn buddy(capacity: usize) -> MemoryAllocator {
        MemoryAllocator::with_options(Options::new(capacity).policy(Policy::Buddy)).unwrap()
    }

    #[test]
    fn footprint_is_the_next_power_of_two() {
        let index = BuddyIndex::new(100);
        assert_eq!(index.footprint(1), Some(1));
        assert_eq!(index.footprint(3), Some(4));
        assert_eq!(index.footprint(64), Some(64));
        assert_eq!(index.footprint(65), Some(128));
        assert_eq!(index.footprint(1 << 63), Some(1 << 63));
        assert_eq!(index.footprint((1 << 63) + 1), None);
        assert_eq!(index.footprint(usize::MAX), None);
    }

    #[test]
    fn top_level_blocks_of_100() {
        let index = BuddyIndex::new(100);
        index.check().unwrap();
        assert_eq!(free_list(&index), [(0, 64), (64, 32), (96, 4)]);
        assert_eq!((index.largest(), index.free_units(), index.free_blocks()), (64, 100, 3));
    }

    #[test]
    fn top_level_blocks_of_one_and_of_powers_of_two() {
        assert_eq!(free_list(&BuddyIndex::new(1)), [(0, 1)]);
        assert_eq!(free_list(&BuddyIndex::new(2)), [(0, 2)]);
        for order in 0..usize::BITS {
            let index = BuddyIndex::new(1 << order);
            index.check().unwrap();
            assert_eq!(free_list(&index), [(0, 1 << order)]);
            assert_eq!(index.largest(), 1 << order);
        }
    }

    #[test]
    fn top_level_blocks_of_usize_max() {
        let mut index = BuddyIndex::new(usize::MAX);
        index.check().unwrap();
        let blocks = free_list(&index);
        assert_eq!(blocks.len(), 64);
        let mut start = 0;
        for (i, &block) in blocks.iter().enumerate() {
            assert_eq!(block, (start, 1 << (63 - i)));
            start += block.1;
        }
        assert_eq!(start, usize::MAX);
        assert_eq!((index.largest(), index.free_units(), index.free_blocks()), (1 << 63, usize::MAX, 64));
        // The last unit is a top-level block of its own; it has no buddy.
        assert_eq!(index.take(1, 1), Some(usize::MAX - 1));
        assert_eq!(index.take(1 << 63, 1), Some(0));
        assert_eq!(index.largest(), 1 << 62);
        index.give(usize::MAX - 1, 1);
        index.give(0, 1 << 63);
        index.check().unwrap();
        assert_eq!(free_list(&index), blocks);
        // One unit aligned to 2^62: the smallest block that starts on a multiple of it
        // is the third top-level block (2^61 units at 3 * 2^62), split all the way down.
        assert_eq!(index.take(1, 1 << 62), Some(3 << 62));
        assert_eq!(index.free_blocks(), 64 - 1 + 61);
        index.check().unwrap();
        index.give(3 << 62, 1);
        assert_eq!(free_list(&index), blocks);
        // Aligned to 2^63: the second top-level block (2^62 units at 2^63) is the smallest
        // that qualifies; with it taken, only the first (at 0) is left.
        assert_eq!(index.take(1, 1 << 63), Some(1 << 63));
        assert_eq!(index.free_blocks(), 64 - 1 + 62);
        assert_eq!(index.take(1 << 61, 1 << 63), Some(0));
        assert_eq!(index.take(1, 1 << 63), None);
        index.check().unwrap();
        index.give(1 << 63, 1);
        index.give(0, 1 << 61);
        assert_eq!(free_list(&index), blocks);
    }

    #[test]
    fn an_empty_index_refuses_everything() {
        // The core passes capacity 0 when min_alignment exceeds the capacity.
        let mut index = BuddyIndex::new(0);
        index.check().unwrap();
        assert_eq!(index.take(1, 1), None);
        assert_eq!((index.largest(), index.free_units(), index.free_blocks()), (0, 0, 0));
    }

    #[test]
    fn split_takes_the_low_half_and_frees_the_upper_halves() {
        let mut index = BuddyIndex::new(64);
        assert_eq!(index.take(8, 1), Some(0));
        assert_eq!(free_list(&index), [(8, 8), (16, 16), (32, 32)]);
        // An exact-order block is used before a larger one is split.
        assert_eq!(index.take(8, 1), Some(8));
        assert_eq!(free_list(&index), [(16, 16), (32, 32)]);
        // The smallest larger block is split, not the first one in address order.
        assert_eq!(index.take(4, 1), Some(16));
        assert_eq!(free_list(&index), [(20, 4), (24, 8), (32, 32)]);
        assert_eq!(index.take(32, 1), Some(32));
        assert_eq!(index.take(16, 1), None);
        assert_eq!(free_list(&index), [(20, 4), (24, 8)]);
        index.check().unwrap();
    }

    #[test]
    fn merge_climbs_while_the_buddy_is_free_and_whole() {
        let mut index = BuddyIndex::new(64);
        let a = index.take(8, 1).unwrap(); // 0
        let b = index.take(8, 1).unwrap(); // 8
        let c = index.take(16, 1).unwrap(); // 16
        assert_eq!((a, b, c), (0, 8, 16));
        index.give(b, 8); // its buddy 0 is used: no merge
        assert_eq!(free_list(&index), [(8, 8), (32, 32)]);
        index.give(a, 8); // 0+8 -> 0/16; its buddy 16 is used
        assert_eq!(free_list(&index), [(0, 16), (32, 32)]);
        index.check().unwrap();
        index.give(c, 16); // 0/16 + 16/16 -> 0/32, + 32/32 -> 0/64
        assert_eq!(free_list(&index), [(0, 64)]);
        index.check().unwrap();
    }

    #[test]
    fn a_free_buddy_that_is_split_is_not_merged() {
        let mut index = BuddyIndex::new(32);
        assert_eq!(index.take(16, 1), Some(0));
        assert_eq!(index.take(4, 1), Some(16));
        index.give(0, 16);
        // 0/16's buddy is 16/16, split into 16/4 (used), 20/4 and 24/8 (free).
        assert_eq!(free_list(&index), [(0, 16), (20, 4), (24, 8)]);
        index.check().unwrap();
        index.give(16, 4);
        assert_eq!(free_list(&index), [(0, 32)]);
    }

    #[test]
    fn top_level_blocks_never_merge() {
        let mut index = BuddyIndex::new(96);
        assert_eq!(index.take(64, 1), Some(0));
        assert_eq!(index.take(32, 1), Some(64));
        index.give(64, 32);
        index.give(0, 64);
        assert_eq!(free_list(&index), [(0, 64), (64, 32)]);
        index.check().unwrap();
    }

    #[test]
    fn give_cuts_a_range_into_maximal_aligned_blocks() {
        let mut index = BuddyIndex::new(64);
        assert_eq!(index.take(64, 1), Some(0));
        // [4, 48) = 4/4, 8/8, 16/16, 32/16.
        index.give(4, 44);
        assert_eq!(free_list(&index), [(4, 4), (8, 8), (16, 16), (32, 16)]);
        index.check().unwrap();
        index.give(0, 4); // merges up to 0/32; 32/32 is not whole
        assert_eq!(free_list(&index), [(0, 32), (32, 16)]);
        index.give(48, 16);
        assert_eq!(free_list(&index), [(0, 64)]);
        index.check().unwrap();
    }

    #[test]
    fn realloc_style_tail_give() {
        let mut index = BuddyIndex::new(128);
        assert_eq!(index.take(64, 1), Some(0));
        // Shrink 64 -> 4: the tail [4, 64) is 4/4, 8/8, 16/16, 32/32.
        index.give(4, 60);
        assert_eq!(free_list(&index), [(4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]);
        index.check().unwrap();
        index.give(0, 4);
        assert_eq!(free_list(&index), [(0, 128)]);
    }

    #[test]
    fn aligned_take_uses_the_smallest_aligned_block() {
        let mut index = BuddyIndex::new(64);
        assert_eq!(index.take(8, 1), Some(0));
        // Free: 8/8, 16/16, 32/32. With alignment 16, 8/8 is not aligned; 16/16 is.
        assert_eq!(index.take(4, 16), Some(16));
        assert_eq!(free_list(&index), [(8, 8), (20, 4), (24, 8), (32, 32)]);
        // Alignment 32: only 32/32 qualifies.
        assert_eq!(index.take(4, 32), Some(32));
        assert_eq!(free_list(&index), [(8, 8), (20, 4), (24, 8), (36, 4), (40, 8), (48, 16)]);
        index.check().unwrap();
        // Alignment 64: no block starts on a multiple of 64 (0 is used).
        let before = free_list(&index);
        assert_eq!(index.take(1, 64), None);
        assert_eq!(free_list(&index), before);
        // Alignment 8 with size 1: 20/4 is the smallest block but misaligned; 8/8 is not.
        assert_eq!(index.take(1, 8), Some(8));
        index.check().unwrap();
    }

    #[test]
    fn aligned_take_finds_a_small_aligned_block_among_misaligned_ones() {
        let mut index = BuddyIndex::new(64);
        for _ in 0..16 {
            index.take(4, 1).unwrap();
        }
        assert_eq!(index.free_blocks(), 0);
        index.give(4, 4);
        index.give(12, 4);
        index.give(32, 4);
        index.give(52, 4);
        // Only 32/4 starts on a multiple of 32: no false out of memory.
        assert_eq!(index.take(4, 32), Some(32));
        assert_eq!(index.take(1, 32), None);
        assert_eq!(index.take(2, 8), None);
        assert_eq!(index.take(2, 4), Some(4));
        index.check().unwrap();
    }

    #[test]
    fn check_catches_unmerged_buddies() {
        let mut index = BuddyIndex::new(16);
        index.take(8, 1).unwrap();
        index.insert(0, 3); // bypasses the merge
        assert!(index.check().unwrap_err().contains("not merged"));
    }

    #[test]
    fn capacity_100_until_exhausted_through_the_allocator() {
        let mut heap = buddy(100);
        heap.check_invariants().unwrap(); // 0/64 and 64/32 touch: allowed for buddy
        assert_eq!(heap.allocate(20), Ok(64));
        assert_eq!(heap.allocate(30), Ok(0));
        assert_eq!(heap.allocate(40), Err(Error::OutOfMemory));
        heap.check_invariants().unwrap();
        let stats = heap.stats();
        assert_eq!((stats.allocated, stats.padding, stats.free), (50, 12 + 2, 36));
        assert_eq!((stats.largest_free, stats.free_blocks, stats.allocations), (32, 2, 2));
        assert_eq!(
            heap.blocks(),
            [
                Block { start: 0, size: 30, kind: BlockKind::Allocated },
                Block { start: 30, size: 2, kind: BlockKind::Padding },
                Block { start: 32, size: 32, kind: BlockKind::Free },
                Block { start: 64, size: 20, kind: BlockKind::Allocated },
                Block { start: 84, size: 12, kind: BlockKind::Padding },
                Block { start: 96, size: 4, kind: BlockKind::Free },
            ]
        );
        // Fill the rest one unit at a time: 36 more allocations, then nothing.
        let mut sizes = vec![(64, 20), (0, 30)];
        for _ in 0..36 {
            let addr = heap.allocate(1).unwrap();
            sizes.push((addr, 1));
            heap.check_invariants().unwrap();
        }
        assert_eq!(heap.allocate(1), Err(Error::OutOfMemory));
        let stats = heap.stats();
        assert_eq!((stats.free, stats.largest_free, stats.free_blocks), (0, 0, 0));
        assert_eq!(stats.padding, 14);
        assert_eq!(stats.allocated + stats.padding, 100);
        for (addr, size) in sizes {
            heap.free(addr, size).unwrap();
            heap.check_invariants().unwrap();
        }
        assert_eq!(heap.to_string(), "[Free(0-63)] [Free(64-95)] [Free(96-99)]");
    }

    #[test]
    fn unit_allocations_exhaust_100_smallest_blocks_first() {
        let mut heap = buddy(100);
        let addrs: Vec<usize> = (0..100).map(|_| heap.allocate(1).unwrap()).collect();
        let expected: Vec<usize> = (96..100).chain(64..96).chain(0..64).collect();
        assert_eq!(addrs, expected);
        assert_eq!(heap.allocate(1), Err(Error::OutOfMemory));
        assert_eq!(heap.stats().padding, 0);
        heap.check_invariants().unwrap();
    }

    #[test]
    fn padding_is_footprint_minus_size() {
        let mut heap = buddy(1 << 12);
        let mut live = Vec::new();
        for size in [1, 3, 5, 17, 100, 129, 513, 7] {
            live.push((heap.allocate(size).unwrap(), size));
            heap.check_invariants().unwrap();
            let padding: usize = live.iter().map(|&(_, size)| size.next_power_of_two() - size).sum();
            assert_eq!(heap.stats().padding, padding);
        }
        let (addr, size) = live[3]; // 17 -> 32
        let map = heap.blocks();
        let at = map.iter().position(|b| b.start == addr).unwrap();
        assert_eq!(map[at], Block { start: addr, size, kind: BlockKind::Allocated });
        assert_eq!(map[at + 1], Block { start: addr + 17, size: 15, kind: BlockKind::Padding });
    }

    #[test]
    fn realloc_through_the_allocator() {
        let mut heap = buddy(128);
        assert_eq!(heap.allocate(60), Ok(0));
        assert_eq!(heap.reallocate(0, 60, 10), Ok(0)); // shrinks: [16, 64) is freed
        heap.check_invariants().unwrap();
        assert_eq!(heap.to_string(), "[Allocated(0-9)] [Padding(10-15)] [Free(16-31)] [Free(32-63)] [Free(64-127)]");
        assert_eq!(heap.reallocate(0, 10, 16), Ok(0)); // same footprint: in place
        assert_eq!(heap.reallocate(0, 16, 17), Ok(32)); // grows past it: moves to 32/32
        heap.check_invariants().unwrap();
        assert_eq!(heap.to_string(), "[Free(0-31)] [Allocated(32-48)] [Padding(49-63)] [Free(64-127)]");
        assert_eq!(heap.stats().padding, 15);
    }

    #[test]
    fn min_alignment_rounds_before_the_power_of_two() {
        let mut heap = MemoryAllocator::with_options(Options::new(100).policy(Policy::Buddy).min_alignment(8)).unwrap();
        heap.check_invariants().unwrap();
        // Usable 96 = 64 at 0 and 32 at 64; the last 4 units are padding.
        assert_eq!(heap.allocate(1), Ok(64));
        assert_eq!(heap.allocate(9), Ok(80));
        assert_eq!(heap.allocate_aligned(1, 64), Ok(0));
        heap.check_invariants().unwrap();
        assert_eq!(heap.stats().padding, 7 + 7 + 7 + 4);
        assert_eq!(heap.largest_free_block(), 32);
    }

    #[test]
    fn usize_max_capacity_through_the_allocator() {
        let mut heap = buddy(usize::MAX);
        assert_eq!(heap.allocate(usize::MAX), Err(Error::OutOfMemory));
        assert_eq!(heap.allocate((1 << 63) + 1), Err(Error::OutOfMemory));
        assert_eq!(heap.allocate(1 << 63), Ok(0));
        assert_eq!(heap.allocate(1), Ok(usize::MAX - 1));
        assert_eq!(heap.allocate(1 << 62), Ok(1 << 63));
        heap.check_invariants().unwrap();
        heap.free(usize::MAX - 1, 1).unwrap();
        heap.free(0, 1 << 63).unwrap();
        heap.free(1 << 63, 1 << 62).unwrap();
        heap.check_invariants().unwrap();
        assert_eq!(heap.stats().free_blocks, 64);
    }

    /// Random takes, frees and tail gives, against the model, on several capacities.
    #[test]
    fn random_operations_match_the_model() {
        for capacity in [1, 2, 3, 64, 100, 1000, 4096, 12_345, (1 << 20) + 5, usize::MAX] {
            // Miri interprets every step: a few seeds and steps still reach every path.
            for seed in 0..if cfg!(miri) { 1 } else { 4 } {
                let mut rng = SmallRng::seed_from_u64((capacity as u64).rotate_left(8) ^ seed);
                let mut index = BuddyIndex::new(capacity);
                let mut model = Model::new(capacity);
                let mut live: Vec<(usize, u32)> = Vec::new();
                let max_order = log2(capacity);
                assert_same(&index, &model);
                for _ in 0..if cfg!(miri) { 40 } else { 600 } {
                    match rng.random_range(0..10) {
                        0..5 => {
                            // Mostly small orders, so that the trees get deep.
                            let limit = rng.random_range(0..=max_order);
                            let order = rng.random_range(0..=limit);
                            let align = if rng.random_bool(0.2) { 1 << rng.random_range(0..=max_order) } else { 1 };
                            let got = index.take(1 << order, align);
                            assert_eq!(got, model.alloc(order, align), "take(2^{order}, {align})");
                            if let Some(start) = got {
                                assert_eq!(start % align, 0);
                                live.push((start, order));
                            }
                        }
                        5..8 if !live.is_empty() => {
                            let (start, order) = live.swap_remove(rng.random_range(0..live.len()));
                            index.give(start, 1 << order);
                            model.free(start, order);
                        }
                        8..10 if !live.is_empty() => {
                            let i = rng.random_range(0..live.len());
                            let (start, order) = live[i];
                            if order > 0 {
                                let new = rng.random_range(0..order);
                                index.give(start + (1 << new), (1 << order) - (1 << new));
                                model.shrink(start, order, new);
                                live[i].1 = new;
                            }
                        }
                        _ => {}
                    }
                    assert_same(&index, &model);
                }
                for (start, order) in live.drain(..) {
                    index.give(start, 1 << order);
                    model.free(start, order);
                    assert_same(&index, &model);
                }
                assert_eq!(free_list(&index), free_list(&BuddyIndex::new(capacity)));
            }
        }
    }

    /// Random calls through the allocator: every invariant after every step.
    #[test]
    fn random_allocator_calls_keep_every_invariant() {
        for (capacity, min_alignment) in [(100, 1), (1000, 1), (1000, 8), (4096, 16), (77_777, 4)] {
            let mut rng = SmallRng::seed_from_u64(capacity as u64 ^ min_alignment as u64);
            let options = Options::new(capacity).policy(Policy::Buddy).min_alignment(min_alignment);
            let mut heap = MemoryAllocator::with_options(options).unwrap();
            let mut live: Vec<(usize, usize)> = Vec::new();
            for _ in 0..if cfg!(miri) { 40 } else { 2000 } {
                let size = rng.random_range(1..=capacity / 8);
                match rng.random_range(0..10) {
                    0..4 => {
                        if let Ok(addr) = heap.allocate(size) {
                            live.push((addr, size));
                        }
                    }
                    4 => {
                        let align = 1 << rng.random_range(0..10);
                        if let Ok(addr) = heap.allocate_aligned(size, align) {
                            assert_eq!(addr % align.max(min_alignment), 0);
                            live.push((addr, size));
                        }
                    }
                    5..8 if !live.is_empty() => {
                        let (addr, size) = live.swap_remove(rng.random_range(0..live.len()));
                        heap.free(addr, size).unwrap();
                    }
                    8..10 if !live.is_empty() => {
                        let i = rng.random_range(0..live.len());
                        let (addr, old) = live[i];
                        if let Ok(addr) = heap.reallocate(addr, old, size) {
                            live[i] = (addr, size);
                        }
                    }
                    _ => {}
                }
                heap.check_invariants().unwrap();
                let rounded = |size: usize| size.next_multiple_of(min_alignment).next_power_of_two();
                let padding: usize = live.iter().map(|&(_, size)| rounded(size) - size).sum();
                let stats = heap.stats();
                assert_eq!(stats.padding, padding + capacity % min_alignment);
                assert_eq!(stats.capacity, stats.allocated + stats.free + stats.padding);
            }
        }
    }
}
