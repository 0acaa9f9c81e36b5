//! Binary buddy: every block is a power of two, aligned to its size, and a block of
//! `2^k` units is either free, allocated, or split into two halves ("buddies") of
//! `2^(k-1)` units.
//!
//! A request is rounded up to a power of two (the core shows the rounding as padding).
//! `take` uses a free block of exactly that size if there is one; else it splits a block
//! of the smallest larger size that has one, keeping the low half each time and freeing
//! the upper halves. `give` frees a block and merges it with its buddy (`start ^ size`)
//! as long as the buddy is free and whole, climbing one order per merge. Shrinking an
//! allocation in place frees its upper halves, which never merge: the buddy of each is
//! the part that still holds the allocation.
//!
//! A capacity that is not a power of two is covered by top-level blocks of decreasing
//! powers of two from address 0, one per set bit of the capacity (100 = 64 at 0, 32 at
//! 64, 4 at 96). Top-level blocks have no buddy and never merge with each other, so two
//! free blocks may touch without being merged.
//!
//! The free blocks of each order are a LIFO list through the blocks' two index words in
//! the block table (the most recently freed block is taken first), and a bitmap says which
//! orders have any: the smallest order with a free block at or above the request is one
//! bit scan, and the largest free block another. A block's buddy, when it is free and
//! whole, is its neighbour in the block table's address links: no lookup.
//!
//! # Time complexity
//!
//! With `L = log2(capacity)` orders (at most 64):
//! - `take`: O(L) (one removal, at most `L` split halves); with an alignment larger than
//!   the request, the lists of the orders below the alignment are also scanned for a block
//!   that starts on it, O(n) in the worst case;
//! - `give`: O(L) (at most `L` merges); `shrink`: O(L);
//! - `largest`: O(1).

use super::{Index, Span};
use crate::blocks::{BlockRef, BlockTable, SINK};

/// The table buddy works on: each free block holds its previous and next block in the
/// free list of its order.
type Blocks = BlockTable<[u32; 2]>;

/// The number of orders: a block holds `2^order` units, `order < ORDERS`.
const ORDERS: usize = usize::BITS as usize;

/// "No block": the end of a list, an empty order. It is the block table's sink, so the
/// ends of a list can be written through like any other block.
const NIL: u32 = SINK;

/// Which of a free block's two index words links to the previous block of its list.
const PREV: usize = 0;
/// Which links to the next one.
const NEXT: usize = 1;

/// The units of a block of `order`.
const fn block_size(order: u32) -> usize {
    1 << order
}

/// `floor(log2(value))`, for `value > 0`.
const fn log2(value: usize) -> u32 {
    usize::BITS - 1 - value.leading_zeros()
}

/// Free buddy blocks, one list per order.
///
/// Invariants (checked by [`BuddyIndex::check`]):
/// - every free block of the table is in exactly one list, the one of its order: its size
///   is `2^order`, its start a multiple of it, and it lies inside one top-level block;
/// - no free block's buddy is also free and whole (the two would have been merged);
/// - bit `k` of `nonempty` is set exactly when list `k` is not empty; lists are doubly
///   linked (`a.next == b` exactly when `b.prev == a`, the head's `prev` is `NIL`).
#[derive(Debug, Clone)]
pub(crate) struct BuddyIndex {
    /// The managed range is `[0, capacity)`; its set bits are the top-level blocks.
    capacity: usize,
    /// `heads[k]`: the first free block of `2^k` units, `NIL` when there is none.
    heads: [u32; ORDERS],
    /// Bit `k` set exactly when `heads[k]` is not `NIL`.
    nonempty: usize,
}

impl BuddyIndex {
    /// The order of the top-level block that holds `addr` (`addr < capacity`): the highest
    /// bit where `addr` and the capacity differ, which is set in the capacity.
    #[inline]
    fn top_order(&self, addr: usize) -> u32 {
        debug_assert!(addr < self.capacity);
        log2(addr ^ self.capacity)
    }

    /// Puts free block `id` at the head of list `order`.
    #[inline]
    fn link(&mut self, blocks: &mut Blocks, id: u32, order: u32) {
        debug_assert!({
            let block = blocks.free(id);
            block.size == block_size(order) && block.start & (block_size(order) - 1) == 0
        });
        let head = self.heads[order as usize];
        *blocks.words_mut(id) = [NIL, head];
        // An empty list's head is the sink: written through, no branch.
        blocks.words_mut(head)[PREV] = id;
        self.heads[order as usize] = id;
        self.nonempty |= 1 << order;
    }

    /// Takes free block `id` out of list `order`; the ends of the list are the sink.
    #[inline]
    fn unlink(&mut self, blocks: &mut Blocks, id: u32, order: u32) {
        let [prev, next] = blocks.free(id).words;
        blocks.words_mut(prev)[NEXT] = next;
        blocks.words_mut(next)[PREV] = prev;
        let head = &mut self.heads[order as usize];
        *head = if prev == NIL { next } else { *head };
        self.nonempty &= !(usize::from(*head == NIL) << order);
    }

    /// The smallest order at least `order` that has a free block.
    #[inline]
    fn lowest_nonempty_from(&self, order: u32) -> Option<u32> {
        let orders = self.nonempty & usize::MAX.checked_shl(order).unwrap_or(0);
        (orders != 0).then(|| orders.trailing_zeros())
    }

    /// The free block to carve a request of `2^order` units aligned to `align` from, and
    /// its order: the smallest order that has a block that can hold it.
    #[inline]
    fn find(&self, blocks: &Blocks, order: u32, align: usize) -> Option<(u32, u32)> {
        let align_order = align.trailing_zeros();
        // A block smaller than `align` holds an aligned request only at its start, and
        // only when that start is a multiple of `align`.
        for small in order..align_order {
            let mut id = self.heads[small as usize];
            while id != NIL {
                let block = blocks.free(id);
                if block.start & (align - 1) == 0 {
                    return Some((id, small));
                }
                id = block.words[NEXT];
            }
        }
        // Every block of at least `max(2^order, align)` units starts on a multiple of both.
        let from = self.lowest_nonempty_from(order.max(align_order))?;
        Some((self.heads[from as usize], from))
    }

    /// Splits free block `id` (of `order`, out of its list) down to the buddy block
    /// `[at, at + footprint)` inside it, freeing each half that does not hold `at` (the
    /// larger halves first, each at the head of its list), and makes that block the
    /// allocation of `size` units; returns its slot.
    #[inline]
    fn isolate(&mut self, blocks: &mut Blocks, id: u32, order: u32, at: usize, footprint: usize, size: usize) -> u32 {
        let (mut start, mut order) = (blocks.free(id).start, order);
        let this = BlockRef::free(id);
        while block_size(order) > footprint {
            order -= 1;
            let half = block_size(order);
            // Shrink this block to the half that holds `at` first, then free the other
            // half (the free-space counter never passes the capacity).
            let freed = if at < start + half {
                blocks.set_free_extent(id, start, half);
                blocks.insert_free_after(this, start + half, half)
            } else {
                blocks.set_free_extent(id, start + half, half);
                let lower = blocks.insert_free_before(this, start, half);
                start += half;
                lower
            };
            self.link(blocks, freed, order);
        }
        debug_assert_eq!(start, at);
        blocks.free_to_used(id, size)
    }
}

impl Index for BuddyIndex {
    type Words = [u32; 2];

    const MERGES_ADJACENT: bool = false;

    const ALIGNED_TO_FOOTPRINT: bool = true;

    /// An index whose free space is `[0, capacity)`, laid out in `blocks` (empty) as
    /// top-level blocks of decreasing powers of two from address 0.
    fn new(capacity: usize, blocks: &mut Blocks) -> Self {
        let mut index = BuddyIndex { capacity, heads: [NIL; ORDERS], nonempty: 0 };
        let mut start = 0;
        for order in (0..usize::BITS).rev() {
            if capacity & block_size(order) != 0 {
                let id = blocks.push_free(start, block_size(order));
                index.link(blocks, id, order);
                // The sum of the blocks so far never passes the capacity: no overflow.
                start += block_size(order);
            }
        }
        index
    }

    /// The next power of two: a buddy block holds exactly a power of two.
    #[inline]
    fn footprint(size: usize) -> Option<usize> {
        size.checked_next_power_of_two()
    }

    /// Takes a block of `footprint` units (a power of two) at a multiple of `align` for an
    /// allocation of `size` units; returns the allocated block's slot.
    #[inline]
    fn take(&mut self, blocks: &mut Blocks, size: usize, footprint: usize, align: usize) -> Option<u32> {
        debug_assert!(footprint.is_power_of_two() && align.is_power_of_two());
        let (id, from) = self.find(blocks, footprint.trailing_zeros(), align)?;
        self.unlink(blocks, id, from);
        let start = blocks.free(id).start;
        Some(self.isolate(blocks, id, from, start, footprint, size))
    }

    /// The smallest order that has a block with a part of `footprint` units inside the
    /// span, on a multiple of `align` and of the footprint (the first such block of its
    /// list): that part becomes the allocation, the rest of the block free halves. A scan
    /// of the lists from the footprint's order up.
    fn take_within(
        &mut self,
        blocks: &mut Blocks,
        size: usize,
        footprint: usize,
        align: usize,
        span: Span,
    ) -> Option<u32> {
        let align = align.max(footprint);
        let (id, order, at) = (footprint.trailing_zeros()..usize::BITS).find_map(|order| {
            let mut id = self.heads[order as usize];
            while id != NIL {
                let block = blocks.free(id);
                if let Some(at) = span.place(block.start, block.size, footprint, align) {
                    return Some((id, order, at));
                }
                id = block.words[NEXT];
            }
            None
        })?;
        self.unlink(blocks, id, order);
        Some(self.isolate(blocks, id, order, at, footprint, size))
    }

    /// Takes the buddy block `[at, at + footprint)` (`at` a multiple of the footprint) if
    /// it lies in a free block, which is split down to it.
    fn take_at(
        &mut self,
        blocks: &mut Blocks,
        size: usize,
        footprint: usize,
        at: usize,
        from: BlockRef,
    ) -> Option<u32> {
        let id = blocks.block_at(from, at).as_free()?;
        let block = blocks.free(id);
        if at.checked_add(footprint)? > block.start + block.size {
            return None;
        }
        let order = block.size.trailing_zeros();
        self.unlink(blocks, id, order);
        Some(self.isolate(blocks, id, order, at, footprint, size))
    }

    /// Frees allocated block `id` of `footprint` units (a power of two) and merges it
    /// with its buddy, repeatedly, while the buddy is free and whole and the two stay
    /// inside their top-level block.
    #[inline]
    fn give(&mut self, blocks: &mut Blocks, id: u32, footprint: usize) {
        let free = blocks.used_to_free(id, footprint);
        let mut start = blocks.free(free).start;
        let mut order = footprint.trailing_zeros();
        let top = self.top_order(start);
        while order < top {
            let this = blocks.free(free);
            // The buddy is the neighbour on the side of the other half of the block one
            // order up; a free block there of exactly `2^order` units is the whole buddy
            // (a larger one could not be aligned to its size there).
            let (neighbour, buddy_start) = if start & block_size(order) == 0 {
                (this.next, start + block_size(order))
            } else {
                (this.prev, start - block_size(order))
            };
            let Some(buddy) = neighbour.as_free().filter(|&b| {
                let block = blocks.free(b);
                block.start == buddy_start && block.size == block_size(order)
            }) else {
                break;
            };
            self.unlink(blocks, buddy, order);
            blocks.delete_free(buddy);
            start &= !block_size(order);
            order += 1;
            blocks.set_free_extent(free, start, block_size(order));
        }
        self.link(blocks, free, order);
    }

    /// The lowest free buddy block of the allocation's order below it: the start of the
    /// lowest free block of at least that order (on the alignment) that lies below `from`
    /// (a free block is aligned to its own size, so its start begins such a buddy block).
    /// A scan of the lists of those orders.
    fn compaction_target(
        &self,
        blocks: &Blocks,
        _end: usize,
        from: usize,
        footprint: usize,
        align: usize,
    ) -> Option<usize> {
        let mut lowest = None;
        for order in footprint.trailing_zeros()..usize::BITS {
            let mut id = self.heads[order as usize];
            while id != NIL {
                let block = blocks.free(id);
                if block.start < from && block.start.is_multiple_of(align) && lowest.is_none_or(|l| block.start < l) {
                    lowest = Some(block.start);
                }
                id = block.words[NEXT];
            }
        }
        lowest
    }

    /// Never: a buddy allocation grows in place only within its own footprint, which the
    /// heap sees without asking.
    fn grow(&mut self, _blocks: &mut Blocks, _id: u32, _old: usize, _new: usize) -> bool {
        false
    }

    /// Shrinks allocated block `id` in place from `old` to `new` footprint units (powers
    /// of two): the upper halves `[start + new, start + 2 new)`, ... up to `old / 2` units
    /// become free. None merges: the buddy of each is the lower half, which still holds
    /// the allocation.
    fn shrink(&mut self, blocks: &mut Blocks, id: u32, old: usize, new: usize) {
        let start = blocks.used(id).start;
        let mut before = BlockRef::used(id);
        for half in new.trailing_zeros()..old.trailing_zeros() {
            let half_id = blocks.insert_free_after(before, start + block_size(half), block_size(half));
            self.link(blocks, half_id, half);
            before = BlockRef::free(half_id);
        }
    }

    /// The size of the largest free block (0 when none).
    fn largest(&self, _blocks: &Blocks) -> usize {
        if self.nonempty == 0 { 0 } else { block_size(log2(self.nonempty)) }
    }

    /// Order by order, each list head first.
    fn free_order(&self, blocks: &Blocks) -> Vec<u32> {
        let mut order = Vec::with_capacity(blocks.free_blocks());
        for k in 0..ORDERS {
            let mut id = self.heads[k];
            while id != NIL {
                order.push(id);
                id = blocks.free(id).words[NEXT];
            }
        }
        order
    }

    /// Relinks each order's list in the order given, which must list the orders in
    /// ascending order, each order's blocks together.
    fn restore_order(&mut self, blocks: &mut Blocks, order: &[u32]) -> bool {
        let orders: Vec<u32> = order.iter().map(|&id| blocks.free(id).size.trailing_zeros()).collect();
        if orders.windows(2).any(|w| w[0] > w[1]) {
            return false;
        }
        for (k, head) in self.heads.iter_mut().enumerate() {
            if orders.contains(&(k as u32)) {
                *head = NIL;
            }
        }
        for (&id, &k) in order.iter().zip(&orders).rev() {
            self.link(blocks, id, k);
        }
        true
    }

    /// Checks the lists against the block table (see [`BuddyIndex`]).
    fn check(&self, blocks: &Blocks) -> Result<(), String> {
        let mut count = 0usize;
        for order in 0..usize::BITS {
            let mut id = self.heads[order as usize];
            if (self.nonempty & (1 << order) != 0) == (id == NIL) {
                return Err(format!("non-empty bitmap disagrees with the free list of order {order}"));
            }
            let mut prev = NIL;
            while id != NIL {
                let block =
                    blocks.free_checked(id).ok_or_else(|| format!("order {order} links to no free slot {id}"))?;
                count += 1;
                if count > blocks.free_blocks() {
                    return Err("the free lists hold more blocks than the table, or a cycle".into());
                }
                let start = block.start;
                if block.size != block_size(order) {
                    return Err(format!("free block ({start}, {}) is in the list of order {order}", block.size));
                }
                if start >= self.capacity || start & (block_size(order) - 1) != 0 {
                    return Err(format!("free block ({start}, 2^{order}) is past the capacity or misaligned"));
                }
                let top = self.top_order(start);
                if order > top {
                    return Err(format!("free block ({start}, 2^{order}) crosses its top-level block (2^{top})"));
                }
                if block.words[PREV] != prev {
                    return Err(format!("broken back link at free slot {id} (order {order})"));
                }
                let buddy_start = start ^ block_size(order);
                let whole_buddy = |neighbour: BlockRef| {
                    neighbour.as_free().is_some_and(|b| {
                        let buddy = blocks.free(b);
                        buddy.start == buddy_start && buddy.size == block.size
                    })
                };
                if order < top && (whole_buddy(block.prev) || whole_buddy(block.next)) {
                    return Err(format!("free block ({start}, 2^{order}) and its buddy are both free: not merged"));
                }
                prev = id;
                id = block.words[NEXT];
            }
        }
        if count != blocks.free_blocks() {
            return Err(format!("{count} blocks in the free lists, {} free in the table", blocks.free_blocks()));
        }
        Ok(())
    }
}
