//! Placement: which free block an allocation comes from, and what becomes of the space a
//! free gives back.
//!
//! The heap (`heap.rs`) owns validation and the live table; the blocks themselves are in
//! the block table ([`BlockTable`]). An [`Index`] is the free-space index of one policy:
//! it carries out the heap's four requests on the table (take room for an allocation,
//! give an allocation's footprint back, grow one in place, shrink one in place). The heap
//! is generic over its index, so every call on the hot path is a direct, inlinable call.
//!
//! First fit, best fit and TLSF always merge free neighbours, and differ only in which
//! free block they choose. They are [`FreeSet`]s: they find a block and keep track of the
//! free blocks, and this module does the carving and merging for all three, through the
//! block table's links. Buddy splits and merges by its own rules (power-of-two blocks,
//! merged only with their buddy) and implements the four requests itself.

mod best_fit;
mod buddy;
mod first_fit;
mod tlsf;
mod tree;

use crate::blocks::{BlockRef, BlockTable, FreeBlock, UsedBlock, Words};
use crate::extent::Extent;

pub(crate) use best_fit::BestFitIndex;
pub(crate) use buddy::BuddyIndex;
pub(crate) use first_fit::FirstFitIndex;
pub(crate) use tlsf::TlsfIndex;
use tree::{BlockTree, Order};

/// First fit and best fit with tiny tree nodes, for tests that drive splits and joins on
/// every level of the tree through the whole heap.
#[cfg(test)]
pub(crate) type TinyFirstFit = BlockTree<first_fit::AddressOrder, 2, 4>;
#[cfg(test)]
pub(crate) type TinyBestFit = BlockTree<best_fit::SizeOrder, 4, 5>;

/// The free-space index of one policy, and the placement requests the heap makes of it.
pub(crate) trait Index: Clone + std::fmt::Debug {
    /// What the index keeps in each free block of the table.
    type Words: Words;

    /// Whether free blocks that touch are always merged into one. Buddy's are not: it
    /// merges a block only with its buddy.
    const MERGES_ADJACENT: bool = true;

    /// Whether every allocation starts on a multiple of its own footprint (buddy's do).
    const ALIGNED_TO_FOOTPRINT: bool = false;

    /// The index over `[0, usable)`, all free, laid out in `blocks` (empty).
    fn new(usable: usize, blocks: &mut BlockTable<Self::Words>) -> Self;

    /// Makes this index as [`Index::new`] would, over `blocks` (emptied), keeping its
    /// memory for the next peak.
    fn reset(&mut self, usable: usize, blocks: &mut BlockTable<Self::Words>) {
        *self = Self::new(usable, blocks);
    }

    /// The units an allocation needing `size` units occupies under this policy (buddy
    /// rounds up to a power of two); `None` when that does not fit in `usize`.
    #[inline]
    fn footprint(size: usize) -> Option<usize> {
        Some(size)
    }

    /// Takes `footprint` units at a multiple of `align` for an allocation of `size`
    /// units; returns the allocated block's slot, `None` when no free block can hold it.
    fn take(
        &mut self,
        blocks: &mut BlockTable<Self::Words>,
        size: usize,
        footprint: usize,
        align: usize,
    ) -> Option<u32>;

    /// As [`Index::take`], with the whole footprint inside `span` and at its low or high
    /// end as `span` asks.
    fn take_within(
        &mut self,
        blocks: &mut BlockTable<Self::Words>,
        size: usize,
        footprint: usize,
        align: usize,
        span: Span,
    ) -> Option<u32>;

    /// Takes exactly `[at, at + footprint)` for an allocation of `size` units, if all of
    /// it is free (`at` is aligned as the policy needs); `from` is a block at or before
    /// `at` where a walk of the table may start. Returns the allocated block's slot.
    fn take_at(
        &mut self,
        blocks: &mut BlockTable<Self::Words>,
        size: usize,
        footprint: usize,
        at: usize,
        from: BlockRef,
    ) -> Option<u32>;

    /// Where compaction moves an allocation of `footprint` units aligned to `align` that
    /// starts at `from`, when the allocations before it end at `end` and all is free from
    /// there to `from`: the lowest aligned address at or above `end`. `None` or `from`
    /// itself for no move.
    fn compaction_target(
        &self,
        _blocks: &BlockTable<Self::Words>,
        end: usize,
        from: usize,
        _footprint: usize,
        align: usize,
    ) -> Option<usize> {
        align_up(end, align).filter(|&to| to < from)
    }

    /// Frees allocated block `id` of `footprint` units, merging as the policy does.
    fn give(&mut self, blocks: &mut BlockTable<Self::Words>, id: u32, footprint: usize);

    /// Grows allocated block `id` in place from `old` to `new` footprint units, if the
    /// policy can; returns whether it did.
    fn grow(&mut self, blocks: &mut BlockTable<Self::Words>, id: u32, old: usize, new: usize) -> bool;

    /// Shrinks allocated block `id` in place from `old` to `new` footprint units.
    fn shrink(&mut self, blocks: &mut BlockTable<Self::Words>, id: u32, old: usize, new: usize);

    /// The size of the largest free block (0 when none).
    fn largest(&self, blocks: &BlockTable<Self::Words>) -> usize;

    /// The free blocks in the order that decides, with their addresses, the index's later
    /// answers: address order, unless the policy keeps lists (TLSF, buddy: class by class
    /// (order by order), each list head first). What a snapshot records.
    fn free_order(&self, blocks: &BlockTable<Self::Words>) -> Vec<u32> {
        blocks.walk().filter_map(|(block, _)| block.as_free()).collect()
    }

    /// Puts the index's lists in `order`, a permutation of the free blocks; `false` when
    /// it is not an order [`Index::free_order`] could give (the index is then to be
    /// dropped).
    fn restore_order(&mut self, blocks: &mut BlockTable<Self::Words>, order: &[u32]) -> bool {
        order == self.free_order(blocks)
    }

    /// Checks the index's own invariants and its agreement with the block table.
    fn check(&self, blocks: &BlockTable<Self::Words>) -> Result<(), String>;
}

/// The free blocks of a policy that always merges free neighbours: how it chooses, and
/// what it must hear of every change.
///
/// The block table is the truth about every block; a free set indexes the free ones by
/// slot. The caller changes the table and tells the set, in this order: a block leaves the
/// set ([`FreeSet::remove`]) while its extent is still the one the set knows; a block
/// changes its extent first in the table, then the set hears of it ([`FreeSet::moved`],
/// with the old extent); a block joins the set ([`FreeSet::insert`]) once it is in the
/// table.
pub(crate) trait FreeSet: Clone + std::fmt::Debug {
    /// What the set keeps in each free block of the table.
    type Words: Words;

    /// An empty set.
    fn empty() -> Self;

    /// Empties the set, keeping its memory.
    fn clear(&mut self);

    /// A free block that holds `size` units at a multiple of `align` (a power of two),
    /// chosen by the policy: its slot and that address. `None` only when no free block can
    /// hold them.
    fn find(&mut self, blocks: &BlockTable<Self::Words>, size: usize, align: usize) -> Option<(u32, usize)>;

    /// A free block whose part inside `span` holds `size` units at a multiple of
    /// `align`, chosen by the policy among those, and the address there (its low or high
    /// end, as the span says). `None` only when no free block's part inside the span can
    /// hold them.
    fn find_within(
        &mut self,
        blocks: &BlockTable<Self::Words>,
        size: usize,
        align: usize,
        span: Span,
    ) -> Option<(u32, usize)>;

    /// The free block that holds the address `at`, if a free block does; `from` is a
    /// block at or before `at` where a walk may start. A walk of the block table unless
    /// the set knows addresses.
    fn free_block_at(&self, blocks: &BlockTable<Self::Words>, at: usize, from: BlockRef) -> Option<u32> {
        blocks.block_at(from, at).as_free()
    }

    /// Free block `id` (already in the table) joins the set.
    fn insert(&mut self, blocks: &mut BlockTable<Self::Words>, id: u32);

    /// Free block `id` (still in the table, extent unchanged) leaves the set.
    fn remove(&mut self, blocks: &mut BlockTable<Self::Words>, id: u32);

    /// Free block `id` was `old` and now has its extent in the table, between the same
    /// neighbours.
    fn moved(&mut self, blocks: &mut BlockTable<Self::Words>, id: u32, old: Extent);

    /// The size of the largest free block (0 when none).
    fn largest(&self, blocks: &BlockTable<Self::Words>) -> usize;

    /// As [`Index::free_order`].
    fn free_order(&self, blocks: &BlockTable<Self::Words>) -> Vec<u32> {
        blocks.walk().filter_map(|(block, _)| block.as_free()).collect()
    }

    /// As [`Index::restore_order`].
    fn restore_order(&mut self, blocks: &mut BlockTable<Self::Words>, order: &[u32]) -> bool {
        order == FreeSet::free_order(self, blocks)
    }

    /// Checks the set's own invariants and that it holds exactly the table's free blocks.
    fn check(&self, blocks: &BlockTable<Self::Words>) -> Result<(), String>;
}

impl<O: Order, const L: usize, const F: usize> FreeSet for BlockTree<O, L, F> {
    type Words = ();

    fn empty() -> Self {
        BlockTree::new()
    }

    fn clear(&mut self) {
        BlockTree::clear(self);
    }

    fn find(&mut self, _blocks: &BlockTable<()>, size: usize, align: usize) -> Option<(u32, usize)> {
        BlockTree::find(self, size, align)
    }

    fn find_within(&mut self, blocks: &BlockTable<()>, size: usize, align: usize, span: Span) -> Option<(u32, usize)> {
        let fits = |start, block| span.place(start, block, size, align);
        if O::BY_ADDRESS {
            // First fit: the blocks that start inside the span in address order (reversed
            // for top-down), and the one that starts below it but may reach into it, which
            // comes first bottom-up and last top-down.
            let (lo, hi) = (O::key(span.lo, 0), O::key(span.hi, 0));
            let inside = |tree: &mut Self| tree.search((Some(lo), Some(hi)), size, span.top_down, fits);
            let straddling = |tree: &mut Self| {
                let (block, id) = tree.last_below(lo)?;
                span.place(block.start, block.size, size, align).map(|at| (id, at))
            };
            if span.top_down {
                inside(self).or_else(|| straddling(self))
            } else {
                straddling(self).or_else(|| inside(self))
            }
        } else {
            // Best fit: the first block in (size, address) order whose part in the span
            // fits is the smallest, lowest-addressed such block; top-down, then the
            // highest-addressed block of that size that fits.
            let bottom_up = Span { top_down: false, ..span };
            let (id, at) = self.search((Some(O::key(0, size)), None), size, false, |start, block| {
                bottom_up.place(start, block, size, align)
            })?;
            if !span.top_down {
                return Some((id, at));
            }
            let smallest = blocks.free(id).size;
            self.search((Some(O::key(0, smallest)), Some(O::key(usize::MAX, smallest))), size, true, fits)
        }
    }

    fn free_block_at(&self, blocks: &BlockTable<()>, at: usize, from: BlockRef) -> Option<u32> {
        if O::BY_ADDRESS {
            // The last block that starts at or below `at`, if it reaches past it.
            let (block, id) = self.last_below(O::key(at.checked_add(1)?, 0))?;
            block.contains(at).then_some(id)
        } else {
            blocks.block_at(from, at).as_free()
        }
    }

    fn insert(&mut self, blocks: &mut BlockTable<()>, id: u32) {
        let FreeBlock { start, size, .. } = *blocks.free(id);
        BlockTree::insert(self, start, size, id);
    }

    fn remove(&mut self, blocks: &mut BlockTable<()>, id: u32) {
        let FreeBlock { start, size, .. } = *blocks.free(id);
        BlockTree::remove(self, start, size, id);
    }

    fn moved(&mut self, blocks: &mut BlockTable<()>, id: u32, old: Extent) {
        let FreeBlock { start, size, .. } = *blocks.free(id);
        self.update(id, old, Extent::new(start, size));
    }

    fn largest(&self, _blocks: &BlockTable<()>) -> usize {
        BlockTree::largest(self)
    }

    fn check(&self, blocks: &BlockTable<()>) -> Result<(), String> {
        BlockTree::check(self)?;
        if self.len() != blocks.free_blocks() {
            return Err(format!("{} free blocks in the table, {} in the tree", blocks.free_blocks(), self.len()));
        }
        for (Extent { start, size }, id) in self.entries() {
            let block = blocks.free_checked(id).ok_or_else(|| format!("the tree lists free slot {id}, not in use"))?;
            if (block.start, block.size) != (start, size) {
                return Err(format!(
                    "the tree has [{start}, +{size}) for free slot {id}, the table [{}, +{})",
                    block.start, block.size
                ));
            }
        }
        Ok(())
    }
}

/// Takes room for an allocation of `size` units (requested) and `footprint` units
/// (occupied) at a multiple of `align`, from the block `set` chooses: the allocation takes
/// `[at, at + footprint)`, the part of the block before `at` and the part after the
/// footprint stay free. Returns the new allocated block's slot.
#[inline]
fn take_from<S: FreeSet>(
    set: &mut S,
    blocks: &mut BlockTable<S::Words>,
    size: usize,
    footprint: usize,
    align: usize,
) -> Option<u32> {
    let (id, at) = set.find(blocks, footprint, align)?;
    Some(carve(set, blocks, size, footprint, id, at))
}

/// Takes `[at, at + footprint)` out of free block `id`, which holds it, for an allocation
/// of `size` units: the parts of the block before and after stay free. Returns the new
/// allocated block's slot.
#[inline]
fn carve<S: FreeSet>(
    set: &mut S,
    blocks: &mut BlockTable<S::Words>,
    size: usize,
    footprint: usize,
    id: u32,
    at: usize,
) -> u32 {
    let FreeBlock { start, size: units, .. } = *blocks.free(id);
    debug_assert!(start <= at && at + footprint <= start + units, "the footprint lies in the block");
    let (head, tail) = (at - start, start + units - (at + footprint));
    let this = BlockRef::free(id);
    match (head, tail) {
        (0, 0) => {
            set.remove(blocks, id);
            blocks.free_to_used(id, size)
        }
        (0, _) => {
            blocks.set_free_extent(id, at + footprint, tail);
            set.moved(blocks, id, Extent::new(start, units));
            blocks.insert_used_before(this, at, size)
        }
        (_, 0) => {
            blocks.set_free_extent(id, start, head);
            set.moved(blocks, id, Extent::new(start, units));
            blocks.insert_used_after(this, at, size)
        }
        (_, _) => {
            blocks.set_free_extent(id, start, head);
            set.moved(blocks, id, Extent::new(start, units));
            let used = blocks.insert_used_after(this, at, size);
            let rest = blocks.insert_free_after(BlockRef::used(used), at + footprint, tail);
            set.insert(blocks, rest);
            used
        }
    }
}

/// Frees allocated block `id`, whose footprint is `footprint` units, merging it with a
/// free block on either side.
#[inline]
fn give_to<S: FreeSet>(set: &mut S, blocks: &mut BlockTable<S::Words>, id: u32, footprint: usize) {
    let UsedBlock { start, prev, next, .. } = *blocks.used(id);
    match (prev.as_free(), next.as_free()) {
        (None, None) => {
            let free = blocks.used_to_free(id, footprint);
            set.insert(blocks, free);
        }
        (Some(before), None) => {
            let FreeBlock { start: b_start, size: b_size, .. } = *blocks.free(before);
            blocks.delete_used(id);
            blocks.set_free_extent(before, b_start, b_size + footprint);
            set.moved(blocks, before, Extent::new(b_start, b_size));
        }
        (None, Some(after)) => {
            let FreeBlock { start: a_start, size: a_size, .. } = *blocks.free(after);
            blocks.delete_used(id);
            blocks.set_free_extent(after, start, footprint + a_size);
            set.moved(blocks, after, Extent::new(a_start, a_size));
        }
        (Some(before), Some(after)) => {
            let a_size = blocks.free(after).size;
            set.remove(blocks, after);
            blocks.delete_free(after);
            let FreeBlock { start: b_start, size: b_size, .. } = *blocks.free(before);
            blocks.delete_used(id);
            blocks.set_free_extent(before, b_start, b_size + footprint + a_size);
            set.moved(blocks, before, Extent::new(b_start, b_size));
        }
    }
}

/// Grows allocated block `id` in place from `old` to `new` footprint units, if the free
/// block right after it holds the growth; returns whether it did.
fn grow_into<S: FreeSet>(set: &mut S, blocks: &mut BlockTable<S::Words>, id: u32, old: usize, new: usize) -> bool {
    let growth = new - old;
    let Some(after) = blocks.used(id).next.as_free() else { return false };
    let FreeBlock { start, size, .. } = *blocks.free(after);
    if size < growth {
        return false;
    }
    if size == growth {
        set.remove(blocks, after);
        blocks.delete_free(after);
    } else {
        blocks.set_free_extent(after, start + growth, size - growth);
        set.moved(blocks, after, Extent::new(start, size));
    }
    true
}

/// Shrinks allocated block `id` in place from `old` to `new` footprint units; the cut
/// tail is freed and merged with a free block after it.
fn shrink_into<S: FreeSet>(set: &mut S, blocks: &mut BlockTable<S::Words>, id: u32, old: usize, new: usize) {
    let UsedBlock { start, next, .. } = *blocks.used(id);
    let (at, cut) = (start + new, old - new);
    match next.as_free() {
        Some(after) => {
            let FreeBlock { start: a_start, size: a_size, .. } = *blocks.free(after);
            blocks.set_free_extent(after, at, cut + a_size);
            set.moved(blocks, after, Extent::new(a_start, a_size));
        }
        None => {
            let free = blocks.insert_free_after(BlockRef::used(id), at, cut);
            set.insert(blocks, free);
        }
    }
}

/// Every policy that merges free neighbours places through the same carving and merging.
impl<S: FreeSet> Index for S {
    type Words = S::Words;

    fn new(usable: usize, blocks: &mut BlockTable<S::Words>) -> Self {
        let mut set = S::empty();
        set.reset(usable, blocks);
        set
    }

    fn reset(&mut self, usable: usize, blocks: &mut BlockTable<S::Words>) {
        self.clear();
        if usable > 0 {
            let id = blocks.push_free(0, usable);
            self.insert(blocks, id);
        }
    }

    #[inline]
    fn take(&mut self, blocks: &mut BlockTable<S::Words>, size: usize, footprint: usize, align: usize) -> Option<u32> {
        take_from(self, blocks, size, footprint, align)
    }

    fn take_within(
        &mut self,
        blocks: &mut BlockTable<S::Words>,
        size: usize,
        footprint: usize,
        align: usize,
        span: Span,
    ) -> Option<u32> {
        let (id, at) = self.find_within(blocks, footprint, align, span)?;
        Some(carve(self, blocks, size, footprint, id, at))
    }

    fn take_at(
        &mut self,
        blocks: &mut BlockTable<S::Words>,
        size: usize,
        footprint: usize,
        at: usize,
        from: BlockRef,
    ) -> Option<u32> {
        let id = self.free_block_at(blocks, at, from)?;
        let block = blocks.free(id);
        let end = at.checked_add(footprint)?;
        (end <= block.start + block.size).then(|| carve(self, blocks, size, footprint, id, at))
    }

    #[inline]
    fn give(&mut self, blocks: &mut BlockTable<S::Words>, id: u32, footprint: usize) {
        give_to(self, blocks, id, footprint);
    }

    fn grow(&mut self, blocks: &mut BlockTable<S::Words>, id: u32, old: usize, new: usize) -> bool {
        grow_into(self, blocks, id, old, new)
    }

    fn shrink(&mut self, blocks: &mut BlockTable<S::Words>, id: u32, old: usize, new: usize) {
        shrink_into(self, blocks, id, old, new);
    }

    fn largest(&self, blocks: &BlockTable<S::Words>) -> usize {
        FreeSet::largest(self, blocks)
    }

    fn free_order(&self, blocks: &BlockTable<S::Words>) -> Vec<u32> {
        FreeSet::free_order(self, blocks)
    }

    fn restore_order(&mut self, blocks: &mut BlockTable<S::Words>, order: &[u32]) -> bool {
        FreeSet::restore_order(self, blocks, order)
    }

    fn check(&self, blocks: &BlockTable<S::Words>) -> Result<(), String> {
        FreeSet::check(self, blocks)
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two); `None` on overflow.
pub(crate) fn align_up(value: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// A range of addresses `[lo, hi)` that an allocation's whole footprint must lie in
/// (`hi` no more than the usable range), and which end of it to prefer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    /// The highest address that fits, not the lowest.
    pub(crate) top_down: bool,
}

impl Span {
    /// Where `size` units aligned to `align` go inside the part of the free block
    /// `[start, start + block_size)` that lies in the span: its lowest aligned address
    /// that fits (top-down: its highest), if any.
    #[inline]
    pub(crate) fn place(&self, start: usize, block_size: usize, size: usize, align: usize) -> Option<usize> {
        let (from, to) = (start.max(self.lo), (start + block_size).min(self.hi));
        if self.top_down {
            let at = to.checked_sub(size)? & !(align - 1);
            (at >= from).then_some(at)
        } else {
            let at = align_up(from, align)?;
            (at.checked_add(size)? <= to).then_some(at)
        }
    }
}

/// Where an allocation of `size` aligned to `align` would start inside the free block
/// `(start, block_size)`, if it fits there.
pub(crate) fn fit_in_block(start: usize, block_size: usize, size: usize, align: usize) -> Option<usize> {
    let at = align_up(start, align)?;
    let used = (at - start).checked_add(size)?;
    (used <= block_size).then_some(at)
}
