//! The block table: every block of the managed range, free or allocated, as a node linked
//! to its address neighbours.
//!
//! The range `[0, usable)` is tiled by blocks; each block knows the block before and after
//! it, the way boundary tags link the blocks of a real heap, but kept outside the managed
//! range (which is only numbers). Freeing a block reaches both neighbours through the links
//! with no lookup, and the memory map is a walk along them.
//!
//! Nodes live in two slabs, one per state, because the two states need different fields
//! and allocations are what the metadata is mostly made of:
//! - a [`UsedBlock`] (24 bytes) holds the allocation's start, its size as requested and its
//!   two links; its footprint (the size rounded by the policy) is derived, not stored;
//! - a [`FreeBlock`] (24 bytes, plus what the index keeps there) holds the block's start
//!   and size, its two links and the free-space index's own words `W`: TLSF's and buddy's
//!   free-list links (8 bytes); nothing for the trees of first fit and best fit, which
//!   keep what they need in their nodes.
//!
//! A link is a [`BlockRef`]: a slot number and which slab it is in (`slab.rs`: `u32`
//! slots, vacant ones reused first, growth by a sixteenth at a time).
//!
//! The table only keeps the links and the free-space counters consistent; which block to
//! split or merge is decided by the index (`index/`), and which allocations are live by the
//! live table (`live.rs`).

use crate::slab::{Slab, Vacant};

/// A block's place in the table: a slot of the used or the free slab, or none.
///
/// The top bit says which slab; the rest is the slot. [`BlockRef::NIL`] (all ones) is "no
/// block": before the first block and after the last one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BlockRef(u32);

/// The bit of a [`BlockRef`] that marks a free block.
const FREE_BIT: u32 = 1 << 31;

/// The most slots of one slab: the top bit of a reference is the state, and the last free
/// slot number is taken by [`BlockRef::NIL`].
const MAX_SLOTS: u32 = FREE_BIT - 1;

impl BlockRef {
    /// No block.
    pub(crate) const NIL: BlockRef = BlockRef(u32::MAX);

    /// The allocated block in slot `id` of the used slab.
    pub(crate) const fn used(id: u32) -> BlockRef {
        debug_assert!(id < MAX_SLOTS);
        BlockRef(id)
    }

    /// The free block in slot `id` of the free slab.
    pub(crate) const fn free(id: u32) -> BlockRef {
        debug_assert!(id < MAX_SLOTS);
        BlockRef(id | FREE_BIT)
    }

    /// Whether this is [`BlockRef::NIL`].
    pub(crate) const fn is_nil(self) -> bool {
        self.0 == u32::MAX
    }

    /// The slot of a free block, `None` for an allocated block or NIL.
    #[inline]
    pub(crate) const fn as_free(self) -> Option<u32> {
        // One comparison: flipping the state bit makes a free slot small, an allocated
        // one at least 2^31, and NIL exactly MAX_SLOTS.
        let id = self.0 ^ FREE_BIT;
        if id < MAX_SLOTS { Some(id) } else { None }
    }

    /// The slot of an allocated block, `None` for a free block or NIL.
    #[inline]
    pub(crate) const fn as_used(self) -> Option<u32> {
        if self.0 & FREE_BIT == 0 { Some(self.0) } else { None }
    }
}

impl std::fmt::Debug for BlockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.as_used(), self.as_free()) {
            (Some(id), _) => write!(f, "used#{id}"),
            (_, Some(id)) => write!(f, "free#{id}"),
            _ => f.write_str("nil"),
        }
    }
}

/// An allocated block: `[start, start + footprint)`, where the footprint is `size` rounded
/// up by the allocator's policy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UsedBlock {
    pub(crate) start: usize,
    /// The size as requested (what `free` must be given).
    pub(crate) size: usize,
    pub(crate) prev: BlockRef,
    pub(crate) next: BlockRef,
}

/// What a free-space index keeps in each free block: any small `Copy` value (`()` for
/// none). The table never reads it.
pub(crate) trait Words: Copy + Default + std::fmt::Debug {}

impl<T: Copy + Default + std::fmt::Debug> Words for T {}

/// A free block: `[start, start + size)`, with the index's words `W`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FreeBlock<W> {
    pub(crate) start: usize,
    pub(crate) size: usize,
    pub(crate) prev: BlockRef,
    pub(crate) next: BlockRef,
    /// The free-space index's own words (TLSF and buddy: the previous and the next block
    /// of the same free list).
    pub(crate) words: W,
}

impl Vacant for UsedBlock {
    fn vacant(next_vacant: u32) -> Self {
        UsedBlock { start: 0, size: 0, prev: BlockRef::NIL, next: BlockRef(next_vacant) }
    }

    fn next_vacant(&self) -> u32 {
        self.next.0
    }
}

impl<W: Words> Vacant for FreeBlock<W> {
    fn vacant(next_vacant: u32) -> Self {
        FreeBlock { start: 0, size: 0, prev: BlockRef::NIL, next: BlockRef(next_vacant), words: W::default() }
    }

    fn next_vacant(&self) -> u32 {
        self.next.0
    }
}

/// Every block of `[0, usable)` in address order, linked both ways, plus the free-space
/// counters.
///
/// Invariants (checked by [`BlockTable::check`]): following `next` from `first` visits
/// every slot in use exactly once, in ascending address order, each block starting where
/// the one before ends (the caller says where an allocated block ends), the last ending at
/// `usable`; `prev` mirrors `next`; `free_units` is the sum of the free blocks' sizes.
#[derive(Clone, Debug)]
pub(crate) struct BlockTable<W> {
    used: Slab<UsedBlock, MAX_SLOTS>,
    free: Slab<FreeBlock<W>, MAX_SLOTS>,
    /// The lowest block; NIL when the range is empty.
    first: BlockRef,
    /// The sum of the free blocks' sizes.
    free_units: usize,
}

/// A free slot that is never a block: its words are scratch that an index may write
/// without looking (the end of a list links to it), so that list updates need no branch
/// for their ends.
pub(crate) const SINK: u32 = 0;

impl<W: Words> BlockTable<W> {
    /// An empty table: no blocks at all.
    pub(crate) fn new() -> Self {
        let mut table = BlockTable { used: Slab::new(), free: Slab::new(), first: BlockRef::NIL, free_units: 0 };
        table.clear();
        table
    }

    /// Forgets every block, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.used.clear();
        self.free.clear();
        let sink = self.free.add(FreeBlock::vacant(0));
        debug_assert_eq!(sink, SINK);
        self.first = BlockRef::NIL;
        self.free_units = 0;
    }

    /// The allocated block in slot `id`.
    #[inline]
    pub(crate) fn used(&self, id: u32) -> &UsedBlock {
        &self.used[id]
    }

    /// The allocated block in slot `id`, to change its size (the only field its owner may
    /// change directly: start and links belong to the table).
    #[inline]
    pub(crate) fn set_used_size(&mut self, id: u32, size: usize) {
        self.used[id].size = size;
    }

    /// The free block in slot `id`.
    #[inline]
    pub(crate) fn free(&self, id: u32) -> &FreeBlock<W> {
        &self.free[id]
    }

    /// The free block in slot `id`, `None` when there is no such slot (for checks that
    /// report rather than panic; a vacant slot reads as a free block of size 0).
    pub(crate) fn free_checked(&self, id: u32) -> Option<&FreeBlock<W>> {
        self.free.get_checked(id)
    }

    /// The index's words of free block `id`.
    #[inline]
    pub(crate) fn words_mut(&mut self, id: u32) -> &mut W {
        &mut self.free[id].words
    }

    /// The number of free blocks.
    pub(crate) fn free_blocks(&self) -> usize {
        self.free.len() - 1
    }

    /// The number of allocated blocks.
    pub(crate) fn used_blocks(&self) -> usize {
        self.used.len()
    }

    /// The sum of the free blocks' sizes.
    pub(crate) fn free_units(&self) -> usize {
        self.free_units
    }

    /// The block after `at` (NIL after the last).
    #[inline]
    pub(crate) fn next_of(&self, at: BlockRef) -> BlockRef {
        match (at.as_used(), at.as_free()) {
            (Some(id), _) => self.used(id).next,
            (_, Some(id)) => self.free(id).next,
            _ => BlockRef::NIL,
        }
    }

    /// The block before `at` (NIL before the first).
    #[inline]
    fn prev_of(&self, at: BlockRef) -> BlockRef {
        match (at.as_used(), at.as_free()) {
            (Some(id), _) => self.used(id).prev,
            (_, Some(id)) => self.free(id).prev,
            _ => BlockRef::NIL,
        }
    }

    /// Points the `next` link of `at` (or `first`, when `at` is NIL) to `to`.
    #[inline]
    fn set_next(&mut self, at: BlockRef, to: BlockRef) {
        match (at.as_used(), at.as_free()) {
            (Some(id), _) => self.used[id].next = to,
            (_, Some(id)) => self.free[id].next = to,
            _ => self.first = to,
        }
    }

    /// Points the `prev` link of `at` to `to` (nothing when `at` is NIL).
    #[inline]
    fn set_prev(&mut self, at: BlockRef, to: BlockRef) {
        match (at.as_used(), at.as_free()) {
            (Some(id), _) => self.used[id].prev = to,
            (_, Some(id)) => self.free[id].prev = to,
            _ => {}
        }
    }

    /// Makes the neighbours of a block that was `prev <-> old <-> next` point to `new`.
    #[inline]
    fn relink(&mut self, prev: BlockRef, next: BlockRef, new: BlockRef) {
        self.set_next(prev, new);
        self.set_prev(next, new);
    }

    /// A new allocated block `[start, ...)` of requested `size` between `prev` and `next`
    /// (adjacent blocks, or NIL at either end).
    fn link_used(&mut self, start: usize, size: usize, prev: BlockRef, next: BlockRef) -> u32 {
        let id = self.used.add(UsedBlock { start, size, prev, next });
        self.relink(prev, next, BlockRef::used(id));
        id
    }

    /// A new free block `[start, start + size)` between `prev` and `next`.
    fn link_free(&mut self, start: usize, size: usize, prev: BlockRef, next: BlockRef) -> u32 {
        debug_assert!(size > 0);
        let id = self.free.add(FreeBlock { start, size, prev, next, words: W::default() });
        self.free_units += size;
        self.relink(prev, next, BlockRef::free(id));
        id
    }

    /// A new free block `[start, start + size)` at the end of the range (after the last
    /// block): how the range is first laid out.
    pub(crate) fn push_free(&mut self, start: usize, size: usize) -> u32 {
        let mut last = BlockRef::NIL;
        let mut at = self.first;
        while !at.is_nil() {
            last = at;
            at = self.next_of(at);
        }
        self.link_free(start, size, last, BlockRef::NIL)
    }

    /// A new allocated block `[start, ...)` right before block `next`.
    pub(crate) fn insert_used_before(&mut self, next: BlockRef, start: usize, size: usize) -> u32 {
        let prev = self.prev_of(next);
        self.link_used(start, size, prev, next)
    }

    /// A new allocated block `[start, ...)` right after block `prev`.
    pub(crate) fn insert_used_after(&mut self, prev: BlockRef, start: usize, size: usize) -> u32 {
        let next = self.next_of(prev);
        self.link_used(start, size, prev, next)
    }

    /// A new free block `[start, start + size)` right before block `next`.
    pub(crate) fn insert_free_before(&mut self, next: BlockRef, start: usize, size: usize) -> u32 {
        let prev = self.prev_of(next);
        self.link_free(start, size, prev, next)
    }

    /// A new free block `[start, start + size)` right after block `prev`.
    pub(crate) fn insert_free_after(&mut self, prev: BlockRef, start: usize, size: usize) -> u32 {
        let next = self.next_of(prev);
        self.link_free(start, size, prev, next)
    }

    /// Takes allocated block `id` out of the table (its neighbours now touch).
    pub(crate) fn delete_used(&mut self, id: u32) {
        let UsedBlock { prev, next, .. } = *self.used(id);
        self.set_next(prev, next);
        self.set_prev(next, prev);
        self.used.remove(id);
    }

    /// Takes free block `id` out of the table (its neighbours now touch).
    pub(crate) fn delete_free(&mut self, id: u32) {
        let FreeBlock { size, prev, next, .. } = *self.free(id);
        self.set_next(prev, next);
        self.set_prev(next, prev);
        self.free_units -= size;
        self.free.remove(id);
    }

    /// Free block `id` becomes `[start, start + size)`, between the same neighbours.
    pub(crate) fn set_free_extent(&mut self, id: u32, start: usize, size: usize) {
        debug_assert!(size > 0);
        let block = &mut self.free[id];
        self.free_units = self.free_units - block.size + size;
        block.start = start;
        block.size = size;
    }

    /// Free block `id` becomes an allocated block of requested `size` in its place;
    /// returns the new slot.
    pub(crate) fn free_to_used(&mut self, id: u32, size: usize) -> u32 {
        let FreeBlock { start, size: units, prev, next, .. } = *self.free(id);
        self.free_units -= units;
        self.free.remove(id);
        self.link_used(start, size, prev, next)
    }

    /// Allocated block `id` becomes the free block `[start, start + footprint)` in its
    /// place; returns the new slot.
    pub(crate) fn used_to_free(&mut self, id: u32, footprint: usize) -> u32 {
        let UsedBlock { start, prev, next, .. } = *self.used(id);
        self.used.remove(id);
        self.link_free(start, footprint, prev, next)
    }

    /// The start of block `at` (not NIL).
    fn start_of(&self, at: BlockRef) -> usize {
        match (at.as_used(), at.as_free()) {
            (Some(id), _) => self.used(id).start,
            (_, Some(id)) => self.free(id).start,
            _ => unreachable!("NIL has no start"),
        }
    }

    /// The block that holds the address `addr`: the last one that starts at or below it,
    /// found by walking forward from `from` (a block that starts at or below `addr`, or
    /// NIL for the first block). NIL when the table is empty. O(blocks walked).
    pub(crate) fn block_at(&self, from: BlockRef, addr: usize) -> BlockRef {
        let mut at = if from.is_nil() { self.first } else { from };
        if at.is_nil() || self.start_of(at) > addr {
            return BlockRef::NIL;
        }
        loop {
            let next = self.next_of(at);
            if next.is_nil() || self.start_of(next) > addr {
                return at;
            }
            at = next;
        }
    }

    /// Every block in address order, as (reference, start).
    pub(crate) fn walk(&self) -> impl Iterator<Item = (BlockRef, usize)> + '_ {
        let mut at = self.first;
        std::iter::from_fn(move || {
            if at.is_nil() {
                return None;
            }
            let here = at;
            at = self.next_of(at);
            Some((here, self.start_of(here)))
        })
    }

    /// Checks the links and the counters: every slot in use is on the address list
    /// exactly once, in ascending address order with no gap or overlap (allocated blocks
    /// end where `footprint` says), the list ends at `usable`, `prev` mirrors `next`, and
    /// `free_units` adds up.
    pub(crate) fn check(&self, usable: usize, footprint: impl Fn(usize) -> Option<usize>) -> Result<(), String> {
        let used_vacant = self.used.vacancies().ok_or("the used slab's vacancy chain or count is wrong")?;
        let free_vacant = self.free.vacancies().ok_or("the free slab's vacancy chain or count is wrong")?;
        let (mut used_seen, mut free_seen) = (vec![false; used_vacant.len()], vec![false; free_vacant.len()]);
        // The sink is in use but never a block.
        if free_vacant.get(SINK as usize) != Some(&false) {
            return Err("the sink slot is missing or vacant".into());
        }
        free_seen[SINK as usize] = true;
        let (mut prev, mut at, mut end, mut units) = (BlockRef::NIL, self.first, 0usize, 0usize);
        while !at.is_nil() {
            let (start, size, back) = match (at.as_used(), at.as_free()) {
                (Some(id), _) => {
                    let slot = used_seen.get_mut(id as usize).ok_or_else(|| format!("{at:?} is past the slab"))?;
                    if used_vacant[id as usize] || std::mem::replace(slot, true) {
                        return Err(format!("{at:?} is vacant or listed twice"));
                    }
                    let block = self.used(id);
                    let units = footprint(block.size).filter(|_| block.size > 0);
                    (block.start, units.ok_or_else(|| format!("{at:?} has size {}", block.size))?, block.prev)
                }
                (_, Some(id)) => {
                    let slot = free_seen.get_mut(id as usize).ok_or_else(|| format!("{at:?} is past the slab"))?;
                    if free_vacant[id as usize] || std::mem::replace(slot, true) {
                        return Err(format!("{at:?} is vacant or listed twice"));
                    }
                    let block = self.free(id);
                    if block.size == 0 {
                        return Err(format!("free block at {} has size 0", block.start));
                    }
                    units += block.size;
                    (block.start, block.size, block.prev)
                }
                _ => unreachable!("the loop stops at NIL"),
            };
            if back != prev {
                return Err(format!("{at:?} links back to {back:?}, not {prev:?}"));
            }
            if start != end {
                return Err(format!("the block at {start} should start at {end}: gap or overlap"));
            }
            end = start.checked_add(size).ok_or("a block passes usize::MAX")?;
            prev = at;
            at = self.next_of(at);
        }
        if end != usable {
            return Err(format!("the blocks end at {end}, the range at {usable}"));
        }
        if used_seen.iter().zip(&used_vacant).any(|(&seen, &vacant)| seen == vacant)
            || free_seen.iter().zip(&free_vacant).any(|(&seen, &vacant)| seen == vacant)
        {
            return Err("a block in use is not on the address list".into());
        }
        if units != self.free_units {
            return Err(format!("free units counter {} but free blocks sum to {units}", self.free_units));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocated blocks end at their requested size in these tests.
    fn footprint(size: usize) -> Option<usize> {
        Some(size)
    }

    /// `[used 0..30] [free 30..60] [used 60..100]`; the ids of the three blocks.
    fn three_blocks() -> (BlockTable<()>, u32, u32, u32) {
        let mut table = BlockTable::<()>::new();
        let whole = table.push_free(0, 100);
        table.set_free_extent(whole, 30, 70);
        let a = table.insert_used_before(BlockRef::free(whole), 0, 30);
        table.set_free_extent(whole, 30, 30);
        let c = table.insert_used_after(BlockRef::free(whole), 60, 40);
        table.check(100, footprint).unwrap();
        (table, a, whole, c)
    }

    /// `check` on a table broken by `plant` fails and names the broken invariant.
    #[track_caller]
    fn assert_caught(plant: impl FnOnce(&mut BlockTable<()>, (u32, u32, u32)), usable: usize, message: &str) {
        let (mut table, a, b, c) = three_blocks();
        plant(&mut table, (a, b, c));
        let error = table.check(usable, footprint).expect_err("the planted fault was not caught");
        assert!(error.contains(message), "expected {message:?}, got {error:?}");
    }

    #[test]
    fn a_consistent_table_checks_and_walks_in_address_order() {
        let (table, a, b, c) = three_blocks();
        let walked: Vec<_> = table.walk().collect();
        assert_eq!(walked, [(BlockRef::used(a), 0), (BlockRef::free(b), 30), (BlockRef::used(c), 60)]);
        assert_eq!((table.free_units(), table.free_blocks(), table.used_blocks()), (30, 1, 2));
        assert_eq!(table.block_at(table.first, 59), BlockRef::free(b));
    }

    #[test]
    fn check_catches_each_planted_fault() {
        // A slot in use that no link reaches, of either kind (each alone is an error).
        assert_caught(
            |t, _| {
                t.used.add(UsedBlock { start: 0, size: 5, prev: BlockRef::NIL, next: BlockRef::NIL });
            },
            100,
            "not on the address list",
        );
        assert_caught(
            |t, _| {
                let leaked = FreeBlock { start: 0, size: 5, prev: BlockRef::NIL, next: BlockRef::NIL, words: () };
                t.free.add(leaked);
            },
            100,
            "not on the address list",
        );
        assert_caught(|t, (a, _, c)| t.used[c].prev = BlockRef::used(a), 100, "links back to");
        assert_caught(|t, (_, b, _)| t.free[b].start = 31, 100, "gap or overlap");
        assert_caught(|t, (a, ..)| t.used[a].size = 29, 100, "gap or overlap");
        assert_caught(|t, (a, ..)| t.used[a].size = 0, 100, "has size 0");
        assert_caught(|t, (a, ..)| t.used[a].next = BlockRef::used(a), 100, "listed twice");
        assert_caught(|t, _| t.free_units += 1, 100, "free units counter");
        assert_caught(|_, _| {}, 101, "the blocks end at 100");
    }
}
