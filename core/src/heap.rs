//! [`Heap`]: one allocator under one policy, generic over its free-space index, so that
//! every call from validation down to the index is static and inlinable.
//!
//! The heap validates each call in the contract's check order, keeps the live table and
//! the counters, and asks its index to place and free footprints in the block table.
//! [`crate::MemoryAllocator`] is an enum of the four heaps; it picks the heap once per
//! call.

use crate::allocator::{Block, BlockKind, Move, Request, Stats};
use crate::attributes::{Attributes, Extra};
use crate::blocks::{BlockRef, BlockTable};
use crate::error::Error;
use crate::extent::Extent;
use crate::index::{Index, Span, align_up};
use crate::live::{Found, LiveTable};
use crate::report::Fragmentation;
use crate::snapshot::{LiveRecord, Snapshot};

/// An allocator over `[0, capacity)` whose free space is indexed by `I`.
#[derive(Clone, Debug)]
pub(crate) struct Heap<I: Index> {
    capacity: usize,
    min_alignment: usize,
    /// Every block of `[0, usable)`, free or allocated, linked in address order. An
    /// allocated block records the size as requested; its footprint is derived from it
    /// (see [`Heap::footprint`]), so it is not stored.
    blocks: BlockTable<I::Words>,
    /// The policy's index of the free blocks.
    index: I,
    /// Live allocations: start -> allocated block.
    live: LiveTable,
    /// The sum of the live sizes.
    allocated: usize,
    /// The sum over live allocations of footprint - size, plus the tail past `usable`.
    padding: usize,
    /// The tags, pins and requested alignments of the allocations that have any.
    attributes: Attributes,
}

impl<I: Index> Heap<I> {
    /// A heap over `[0, capacity)`, all free; `capacity > 0` and `min_alignment` a power
    /// of two (the caller has checked both).
    pub(crate) fn new(capacity: usize, min_alignment: usize) -> Self {
        debug_assert!(capacity > 0 && min_alignment.is_power_of_two());
        let mut blocks = BlockTable::new();
        let usable = capacity & !(min_alignment - 1);
        let index = I::new(usable, &mut blocks);
        Heap {
            capacity,
            min_alignment,
            blocks,
            index,
            live: LiveTable::default(),
            allocated: 0,
            padding: capacity - usable,
            attributes: Attributes::default(),
        }
    }

    /// The part of the range that blocks tile: free extents stay on multiples of the
    /// alignment, so the tail that cannot hold an aligned footprint is never handed out
    /// and is left out.
    fn usable(&self) -> usize {
        self.capacity & !(self.min_alignment - 1)
    }

    /// The address of allocated block `id`, for the live table.
    fn start_of(blocks: &BlockTable<I::Words>) -> impl Fn(u32) -> usize + '_ {
        |id| blocks.used(id).start
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn min_alignment(&self) -> usize {
        self.min_alignment
    }

    /// The units an allocation of `size` occupies: `size` rounded up to the minimum
    /// alignment, then by the policy. `None` when that overflows.
    #[inline]
    fn footprint(&self, size: usize) -> Option<usize> {
        I::footprint(align_up(size, self.min_alignment)?)
    }

    /// Allocates `size` units at a multiple of `alignment` (a power of two; 1 for none).
    #[inline]
    pub(crate) fn allocate(&mut self, size: usize, alignment: usize) -> Result<usize, Error> {
        let id = self.place(size, alignment, None)?;
        if alignment > 1 {
            self.attributes.set(id, Extra { alignment, ..Extra::DEFAULT });
        }
        Ok(self.blocks.used(id).start)
    }

    /// Places a new allocation of `size` units at a multiple of `alignment`, anywhere or
    /// inside `span`, and records it; returns its block slot.
    #[inline]
    fn place(&mut self, size: usize, alignment: usize, span: Option<Span>) -> Result<u32, Error> {
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        let footprint = self.footprint(size).ok_or(Error::OutOfMemory)?;
        let id = match span {
            // Every free extent starts and ends on a multiple of the minimum alignment, so
            // a request for no more than that needs no aligned search.
            None => {
                let alignment = if alignment <= self.min_alignment { 1 } else { alignment };
                self.index.take(&mut self.blocks, size, footprint, alignment)
            }
            // A range's ends need not be: align to both.
            Some(span) => {
                let alignment = alignment.max(self.min_alignment);
                self.index.take_within(&mut self.blocks, size, footprint, alignment, span)
            }
        };
        let id = id.ok_or(Error::OutOfMemory)?;
        self.placed(id, size, footprint);
        Ok(id)
    }

    /// Records the new allocated block `id` of `size` units and `footprint`: the live
    /// table and the counters.
    #[inline]
    fn placed(&mut self, id: u32, size: usize, footprint: usize) {
        let start = self.blocks.used(id).start;
        self.live.insert(start, id, Self::start_of(&self.blocks));
        self.allocated += size;
        self.padding += footprint - size;
    }

    /// Allocates as `request` says (see `MemoryAllocator::allocate_with`).
    pub(crate) fn allocate_with(&mut self, request: &Request) -> Result<usize, Error> {
        if !request.alignment.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if request.size == 0 {
            return Err(Error::InvalidSize);
        }
        let (lo, hi) = (request.range.start, request.range.end.min(self.capacity));
        if lo >= hi {
            return Err(Error::InvalidArgument);
        }
        let everywhere = lo == 0 && hi >= self.usable() && !request.top_down;
        let span = Span { lo, hi: hi.min(self.usable()), top_down: request.top_down };
        let id = self.place(request.size, request.alignment, (!everywhere).then_some(span))?;
        self.attributes.set(id, Extra { tag: request.tag, pinned: request.pinned, alignment: request.alignment });
        Ok(self.blocks.used(id).start)
    }

    /// Reserves exactly `[addr, addr + size)` (see `MemoryAllocator::allocate_at`).
    pub(crate) fn allocate_at(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        self.allocate_at_from(addr, size, BlockRef::NIL)
    }

    /// As [`Heap::allocate_at`], where a walk of the block table for `addr` may start at
    /// block `from` (at or before `addr`; NIL for the first block).
    fn allocate_at_from(&mut self, addr: usize, size: usize, from: BlockRef) -> Result<(), Error> {
        self.check_range(addr, size)?;
        let footprint = self.footprint(size);
        let alignment = if I::ALIGNED_TO_FOOTPRINT { footprint.unwrap_or(usize::MAX) } else { self.min_alignment };
        if !addr.is_multiple_of(alignment.max(self.min_alignment)) {
            return Err(Error::InvalidAlignment);
        }
        // A footprint that overflows, or reaches past the usable range, covers units that
        // are not free.
        let footprint = footprint.filter(|&f| addr.checked_add(f).is_some_and(|end| end <= self.usable()));
        let id =
            footprint.and_then(|f| self.index.take_at(&mut self.blocks, size, f, addr, from)).ok_or(Error::Occupied)?;
        self.placed(id, size, footprint.expect("taken, so it fits"));
        Ok(())
    }

    /// Changes the capacity (see `MemoryAllocator::set_capacity`): a heap of the new
    /// capacity, given every live allocation in address order.
    pub(crate) fn set_capacity(&mut self, new_capacity: usize) -> Result<(), Error> {
        if new_capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        let mut fresh = Heap::<I>::new(new_capacity, self.min_alignment);
        // The footprint's end of the last live allocation: the only one that can pass.
        let last_end = self
            .blocks
            .walk()
            .filter_map(|(block, start)| block.as_used().map(|id| (id, start)))
            .last()
            .map_or(0, |(id, start)| start + self.footprint(self.blocks.used(id).size).expect("a live footprint fits"));
        if last_end > fresh.usable() {
            return Err(Error::Occupied);
        }
        // In address order each allocation lies in the free block that follows the one
        // placed before it: a walk from there finds it (first fit's tree needs no walk).
        let mut from = BlockRef::NIL;
        for (block, start) in self.blocks.walk() {
            let Some(id) = block.as_used() else { continue };
            let size = self.blocks.used(id).size;
            let footprint = self.footprint(size).expect("a live footprint fits");
            let new_id = fresh
                .index
                .take_at(&mut fresh.blocks, size, footprint, start, from)
                .expect("a live allocation's place is free in the new heap");
            fresh.placed(new_id, size, footprint);
            fresh.attributes.set(new_id, self.attributes.get(id));
            from = BlockRef::used(new_id);
        }
        *self = fresh;
        Ok(())
    }

    /// Checks a `(addr, size)` pair against the capacity, the first checks of `free`.
    #[inline]
    fn check_range(&self, addr: usize, size: usize) -> Result<(), Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        if addr.checked_add(size).is_none_or(|end| end > self.capacity) {
            return Err(Error::InvalidSize);
        }
        Ok(())
    }

    /// Checks a `(addr, size)` pair the way `free` does, without changing anything, and
    /// returns where the allocation is in the live table.
    #[inline]
    fn check_live(&self, addr: usize, size: usize) -> Result<Found, Error> {
        self.check_range(addr, size)?;
        let found = self.find(addr).ok_or(Error::NotAllocated)?;
        if self.blocks.used(found.id).size != size {
            return Err(Error::SizeMismatch);
        }
        Ok(found)
    }

    /// The live allocation that starts at `addr`, if there is one.
    #[inline]
    fn find(&self, addr: usize) -> Option<Found> {
        self.live.find(addr, Self::start_of(&self.blocks))
    }

    /// Frees the allocation of `size` units at `addr` (see `MemoryAllocator::free`).
    #[inline]
    pub(crate) fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        let found = self.check_live(addr, size)?;
        self.free_found(found);
        Ok(())
    }

    /// Frees the live allocation at `addr` without repeating its size; the size it had.
    pub(crate) fn free_at(&mut self, addr: usize) -> Result<usize, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        let found = self.find(addr).ok_or(Error::NotAllocated)?;
        Ok(self.free_found(found))
    }

    /// Frees the live allocation `found` (as the live table found it): out of the table,
    /// its attributes dropped, its footprint back to free space, the counters updated. The
    /// one way out for an allocation: `free`, `free_at`, `free_tagged`, a `reallocate`
    /// that moves and `compact` all end here. Returns the allocation's size, as requested.
    #[inline]
    fn free_found(&mut self, found: Found) -> usize {
        let size = self.blocks.used(found.id).size;
        let footprint = self.footprint(size).expect("a live allocation's footprint fits");
        self.attributes.remove(found.id);
        self.live.remove(found);
        self.allocated -= size;
        self.padding -= footprint - size;
        self.index.give(&mut self.blocks, found.id, footprint);
        size
    }

    /// The size of the live allocation at `addr`, as requested.
    pub(crate) fn size_of(&self, addr: usize) -> Result<usize, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        self.find(addr).map(|found| self.blocks.used(found.id).size).ok_or(Error::NotAllocated)
    }

    /// Resizes the allocation `(addr, old_size)` (see `MemoryAllocator::reallocate`).
    pub(crate) fn reallocate(&mut self, addr: usize, old_size: usize, new_size: usize) -> Result<usize, Error> {
        let found = self.check_live(addr, old_size)?;
        if new_size == 0 {
            return Err(Error::InvalidSize);
        }
        let old_footprint = self.footprint(old_size).expect("a live allocation's footprint fits");
        let new_footprint = self.footprint(new_size).ok_or(Error::OutOfMemory)?;
        let in_place = match new_footprint.checked_sub(old_footprint) {
            Some(0) => true,
            Some(_) => self.index.grow(&mut self.blocks, found.id, old_footprint, new_footprint),
            None => {
                self.index.shrink(&mut self.blocks, found.id, old_footprint, new_footprint);
                true
            }
        };
        if in_place {
            self.blocks.set_used_size(found.id, new_size);
            self.allocated = self.allocated - old_size + new_size;
            self.padding = self.padding - (old_footprint - old_size) + (new_footprint - new_size);
            return Ok(addr);
        }
        // The moved allocation keeps its attributes, its alignment included.
        let extra = self.attributes.get(found.id);
        let new_id = self.place(new_size, extra.alignment, None)?;
        // Placing the new block may have moved entries of the live table: look again.
        let found = self.find(addr).expect("the old allocation is still live");
        self.free_found(found);
        self.attributes.set(new_id, extra);
        Ok(self.blocks.used(new_id).start)
    }

    /// The live allocation at `addr`, checked as `size_of` checks it.
    fn live_at(&self, addr: usize) -> Result<Found, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        self.find(addr).ok_or(Error::NotAllocated)
    }

    /// The tag of the live allocation at `addr` (see `MemoryAllocator::tag_of`).
    pub(crate) fn tag_of(&self, addr: usize) -> Result<u64, Error> {
        Ok(self.attributes.get(self.live_at(addr)?.id).tag)
    }

    /// Tags the live allocation at `addr` (see `MemoryAllocator::set_tag`).
    pub(crate) fn set_tag(&mut self, addr: usize, tag: u64) -> Result<(), Error> {
        let id = self.live_at(addr)?.id;
        let extra = self.attributes.get(id);
        self.attributes.set(id, Extra { tag, ..extra });
        Ok(())
    }

    /// Frees every live allocation tagged `tag`, in address order; returns how many (see
    /// `MemoryAllocator::free_tagged`).
    pub(crate) fn free_tagged(&mut self, tag: u64) -> usize {
        let mut starts: Vec<usize> = if tag == 0 {
            self.blocks
                .walk()
                .filter_map(|(block, start)| {
                    block.as_used().filter(|&id| self.attributes.get(id).tag == 0).map(|_| start)
                })
                .collect()
        } else {
            self.attributes.tagged(tag).into_iter().map(|id| self.blocks.used(id).start).collect()
        };
        starts.sort_unstable();
        for &start in &starts {
            let found = self.find(start).expect("a tagged allocation is live");
            self.free_found(found);
        }
        starts.len()
    }

    /// Slides the unpinned live allocations toward address 0 within the budgets (see
    /// `MemoryAllocator::compact`); returns the moves, in the order to perform them.
    pub(crate) fn compact(&mut self, max_units: usize, max_moves: usize) -> Vec<Move> {
        let live: Vec<(u32, usize)> =
            self.blocks.walk().filter_map(|(block, start)| Some((block.as_used()?, start))).collect();
        let (mut moves, mut units, mut end) = (Vec::new(), 0usize, 0usize);
        let mut from_block = BlockRef::NIL;
        for (id, start) in live {
            let size = self.blocks.used(id).size;
            let footprint = self.footprint(size).expect("a live allocation's footprint fits");
            let extra = self.attributes.get(id);
            let align = extra.alignment.max(self.min_alignment);
            let target = if extra.pinned {
                None
            } else {
                self.index.compaction_target(&self.blocks, end, start, footprint, align)
            };
            let Some(to) = target.filter(|&to| to < start) else {
                end = start + footprint;
                from_block = BlockRef::used(id);
                continue;
            };
            if moves.len() == max_moves || units.checked_add(size).is_none_or(|u| u > max_units) {
                break;
            }
            // Free the old place first (the new one may overlap it), then take the new one:
            // as if the allocation had been freed and made again at `to`.
            let found = self.find(start).expect("the allocation is live");
            self.attributes.remove(id);
            self.free_found(found);
            // A walk for the target may start at the allocation before, when the target
            // lies after it (buddy's may lie anywhere below).
            let walk_from = if to >= end { from_block } else { BlockRef::NIL };
            let new_id = self
                .index
                .take_at(&mut self.blocks, size, footprint, to, walk_from)
                .expect("the compaction target is free");
            self.placed(new_id, size, footprint);
            self.attributes.set(new_id, extra);
            moves.push(Move { from: start, to, size });
            units += size;
            end = to + footprint;
            from_block = BlockRef::used(new_id);
        }
        moves
    }

    /// The snapshot of this heap under `policy` (see `MemoryAllocator::save`).
    pub(crate) fn snapshot(&self, policy: crate::Policy) -> Snapshot {
        let live = self
            .blocks
            .walk()
            .filter_map(|(block, start)| {
                let id = block.as_used()?;
                let extra = self.attributes.get(id);
                let size = self.blocks.used(id).size;
                Some(LiveRecord { start, size, tag: extra.tag, alignment: extra.alignment, pinned: extra.pinned })
            })
            .collect();
        let free = self
            .index
            .free_order(&self.blocks)
            .into_iter()
            .map(|id| Extent::new(self.blocks.free(id).start, self.blocks.free(id).size))
            .collect();
        Snapshot { policy, min_alignment: self.min_alignment, capacity: self.capacity, live, free }
    }

    /// The heap a snapshot describes, if it is one this library could have written: the
    /// options valid, the allocations in address order, each at a place its alignment and
    /// the policy allow and free when it is given (so inside the range and apart), and the
    /// free blocks exactly those the allocations leave, in an order the policy keeps.
    ///
    /// # Errors
    /// [`Error::BadSnapshot`] for anything else.
    pub(crate) fn from_snapshot(snapshot: &Snapshot) -> Result<Self, Error> {
        let bad = Error::BadSnapshot;
        if snapshot.capacity == 0 || !snapshot.min_alignment.is_power_of_two() {
            return Err(bad);
        }
        let mut heap = Heap::<I>::new(snapshot.capacity, snapshot.min_alignment);
        let mut from = BlockRef::NIL;
        let mut previous_start = None;
        for record in &snapshot.live {
            if previous_start.is_some_and(|p| record.start <= p) || !record.alignment.is_power_of_two() {
                return Err(bad);
            }
            previous_start = Some(record.start);
            if !record.start.is_multiple_of(record.alignment) {
                return Err(bad);
            }
            // Placed as `allocate_at` places, with the same checks; a walk for it starts
            // at the allocation before, in address order.
            heap.allocate_at_from(record.start, record.size, from).map_err(|_| bad)?;
            // Placing in address order leaves free below the last placement only blocks
            // that stay free, and above it at most one per order of a buddy block (plus
            // the top-level blocks): more than that and the counts disagree. Stopping
            // here bounds the memory used by what `bytes` holds.
            if heap.blocks.free_blocks() > snapshot.free.len() + 2 * usize::BITS as usize {
                return Err(bad);
            }
            let id = heap.find(record.start).expect("just placed").id;
            heap.attributes.set(id, Extra { tag: record.tag, pinned: record.pinned, alignment: record.alignment });
            from = BlockRef::used(id);
        }
        let free: std::collections::HashMap<Extent, u32> = heap
            .blocks
            .walk()
            .filter_map(|(block, start)| block.as_free().map(|id| (Extent::new(start, heap.blocks.free(id).size), id)))
            .collect();
        if free.len() != snapshot.free.len() {
            return Err(bad);
        }
        let order: Vec<u32> =
            snapshot.free.iter().map(|block| free.get(block).copied()).collect::<Option<_>>().ok_or(bad)?;
        let distinct: std::collections::HashSet<u32> = order.iter().copied().collect();
        if distinct.len() != order.len() || !heap.index.restore_order(&mut heap.blocks, &order) {
            return Err(bad);
        }
        Ok(heap)
    }

    /// Frees every allocation at once: the map is as after creation (the memory of the
    /// tables is kept for the next peak).
    pub(crate) fn reset(&mut self) {
        self.blocks.clear();
        let usable = self.usable();
        self.index.reset(usable, &mut self.blocks);
        self.live.clear();
        self.attributes.clear();
        self.allocated = 0;
        self.padding = self.capacity - usable;
    }

    /// The size of the largest free block (0 when none).
    pub(crate) fn largest_free_block(&self) -> usize {
        self.index.largest(&self.blocks)
    }

    /// The counters.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            capacity: self.capacity,
            allocated: self.allocated,
            free: self.blocks.free_units(),
            largest_free: self.largest_free_block(),
            free_blocks: self.blocks.free_blocks(),
            allocations: self.live.len(),
            padding: self.padding,
        }
    }

    /// The free space below the heap top (see [`Fragmentation`]): one walk, O(n).
    pub(crate) fn fragmentation(&self) -> Fragmentation {
        let mut result = Fragmentation::default();
        // Free blocks seen since the last allocation: below the top only if one follows.
        let (mut pending_free, mut pending_holes, mut pending_largest) = (0, 0, 0);
        for (block, start) in self.blocks.walk() {
            if let Some(id) = block.as_free() {
                let size = self.blocks.free(id).size;
                pending_free += size;
                pending_holes += 1;
                pending_largest = pending_largest.max(size);
            } else if let Some(id) = block.as_used() {
                result.free += pending_free;
                result.holes += pending_holes;
                result.largest = result.largest.max(pending_largest);
                (pending_free, pending_holes, pending_largest) = (0, 0, 0);
                let footprint = self.footprint(self.blocks.used(id).size).expect("a live allocation's footprint fits");
                result.top = start + footprint;
            }
        }
        result
    }

    /// The memory map: a walk along the block table's links, O(n), no sort.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        let mut map = Vec::with_capacity(2 * self.live.len() + self.blocks.free_blocks() + 1);
        for (block, start) in self.blocks.walk() {
            if let Some(id) = block.as_free() {
                map.push(Block { start, size: self.blocks.free(id).size, kind: BlockKind::Free, tag: 0 });
            } else if let Some(id) = block.as_used() {
                let size = self.blocks.used(id).size;
                map.push(Block { start, size, kind: BlockKind::Allocated, tag: self.attributes.get(id).tag });
                let footprint = self.footprint(size).expect("a live allocation's footprint fits");
                if footprint > size {
                    map.push(Block { start: start + size, size: footprint - size, kind: BlockKind::Padding, tag: 0 });
                }
            }
        }
        let end = map.last().map_or(0, |b| b.start + b.size);
        if end < self.capacity {
            // The tail below min_alignment that no aligned footprint can use.
            map.push(Block { start: end, size: self.capacity - end, kind: BlockKind::Padding, tag: 0 });
        }
        map
    }

    /// Verifies every invariant (see `MemoryAllocator::check_invariants`).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.blocks.check(self.usable(), |size| self.footprint(size))?;
        self.index.check(&self.blocks)?;
        self.live.check(Self::start_of(&self.blocks))?;
        if self.live.len() != self.blocks.used_blocks() {
            return Err(format!(
                "{} live allocations, {} allocated blocks",
                self.live.len(),
                self.blocks.used_blocks()
            ));
        }
        // Every allocated block is reachable from its address (so the live table maps each
        // to its own block, and holds no other).
        for (block, start) in self.blocks.walk() {
            if let Some(id) = block.as_used()
                && self.find(start).map(|f| f.id) != Some(id)
            {
                return Err(format!("the allocation at {start} is not in the live table"));
            }
        }
        let used: std::collections::HashSet<u32> =
            self.blocks.walk().filter_map(|(block, _)| block.as_used()).collect();
        self.attributes.check(|id| used.contains(&id))?;
        let (mut at, mut allocated, mut padding, mut free) = (0usize, 0usize, 0usize, 0usize);
        let mut previous: Option<BlockKind> = None;
        for block in self.blocks() {
            if block.start != at {
                return Err(format!("map has a gap or overlap at {at}: next extent starts at {}", block.start));
            }
            if block.size == 0 {
                return Err(format!("empty extent at {at}"));
            }
            match block.kind {
                BlockKind::Allocated => allocated += block.size,
                BlockKind::Padding => padding += block.size,
                BlockKind::Free => {
                    if previous == Some(BlockKind::Free) && I::MERGES_ADJACENT {
                        return Err(format!("adjacent free blocks at {at}"));
                    }
                    if block.start % self.min_alignment != 0 || block.size % self.min_alignment != 0 {
                        return Err(format!("free block at {at} is not on the minimum alignment"));
                    }
                    free += block.size;
                }
            }
            previous = Some(block.kind);
            at = block.start.checked_add(block.size).ok_or("map passes usize::MAX")?;
        }
        if at != self.capacity {
            return Err(format!("map ends at {at}, capacity is {}", self.capacity));
        }
        let stats = self.stats();
        if (allocated, padding, free) != (stats.allocated, stats.padding, stats.free) {
            return Err(format!(
                "counters (allocated {}, padding {}, free {}) disagree with the map ({allocated}, {padding}, {free})",
                stats.allocated, stats.padding, stats.free
            ));
        }
        let largest = self.blocks().iter().filter(|b| b.kind == BlockKind::Free).map(|b| b.size).max().unwrap_or(0);
        if largest != stats.largest_free {
            return Err(format!("largest free block is {largest}, index says {}", stats.largest_free));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use memalloc_models::{Error as ModelError, ExtentKind, Model, Policy as ModelPolicy, Request as ModelRequest};
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::index::{BuddyIndex, FirstFitIndex, TinyBestFit, TinyFirstFit, TlsfIndex};

    fn model_error(error: Error) -> ModelError {
        match error {
            Error::InvalidSize => ModelError::InvalidSize,
            Error::OutOfMemory => ModelError::OutOfMemory,
            Error::InvalidAddress => ModelError::InvalidAddress,
            Error::NotAllocated => ModelError::NotAllocated,
            Error::SizeMismatch => ModelError::SizeMismatch,
            Error::InvalidAlignment => ModelError::InvalidAlignment,
            Error::InvalidArgument => ModelError::InvalidArgument,
            Error::Occupied => ModelError::Occupied,
            other => panic!("the heap never answers {other:?}"),
        }
    }

    fn model_kind(kind: BlockKind) -> ExtentKind {
        match kind {
            BlockKind::Free => ExtentKind::Free,
            BlockKind::Allocated => ExtentKind::Allocated,
            BlockKind::Padding => ExtentKind::Padding,
        }
    }

    /// Random allocations (aligned or not, in ranges, top-down, at fixed addresses), frees,
    /// reallocations, capacity changes and resets on a heap with index `I`, checked call by
    /// call against the shared model of `policy`: the same results, the same map, every
    /// invariant. Phases of mostly allocating and mostly freeing make the index grow and
    /// shrink (with tiny tree nodes, on every level).
    fn random_calls_match_the_model<I: Index>(policy: ModelPolicy, seed: u64) {
        let mut rng = SmallRng::seed_from_u64(seed);
        for round in 0..if cfg!(miri) { 1 } else { 3 } {
            let capacity = [1 << 14, 1000, usize::MAX][round];
            let min_alignment = [1, 8, 1][round];
            let mut heap = Heap::<I>::new(capacity, min_alignment);
            let mut model = Model::new(policy, capacity, min_alignment).expect("valid options");
            let mut live: Vec<(usize, usize)> = Vec::new();
            let max_size = if capacity == usize::MAX { usize::MAX / 64 } else { 64 };
            // An address anywhere in the range, mostly on a multiple of `unit`.
            let address = |rng: &mut SmallRng, capacity: usize, unit: usize| {
                let at = rng.random_range(0..capacity);
                if rng.random_range(0..4) == 0 { at } else { at & !(unit - 1) }
            };
            for step in 0..if cfg!(miri) { 200 } else { 6000 } {
                let allocating = (step / 500) % 2 == 0;
                let size = |rng: &mut SmallRng| {
                    let bound = rng.random_range(1..=max_size);
                    1 + rng.random_range(0..bound)
                };
                match rng.random_range(0..10) {
                    0..=4 if allocating || live.is_empty() => {
                        let size = size(&mut rng);
                        let align = if rng.random_range(0..4) == 0 { 1 << rng.random_range(0..7) } else { 1 };
                        let got = heap.allocate(size, align);
                        let want = model.allocate(size, align, got.ok());
                        assert_eq!(got.map_err(model_error), want, "step {step}: allocate({size}, {align})");
                        live.extend(got.ok().map(|addr| (addr, size)));
                    }
                    7 if allocating => {
                        let size = size(&mut rng);
                        let cap = heap.capacity();
                        let (a, b) = (address(&mut rng, cap, 1), address(&mut rng, cap, 1));
                        let request = Request::new(size)
                            .align(if rng.random_range(0..3) == 0 { 1 << rng.random_range(0..6) } else { 1 })
                            .within(a.min(b)..a.max(b).saturating_add(rng.random_range(0..2)))
                            .tag(rng.random_range(0..3));
                        let request = if rng.random_range(0..2) == 0 { request.top_down() } else { request };
                        let got = heap.allocate_with(&request);
                        let model_request = ModelRequest {
                            size,
                            alignment: request.alignment,
                            lo: request.range.start,
                            hi: request.range.end,
                            top_down: request.top_down,
                            tag: request.tag,
                            pinned: request.pinned,
                        };
                        let want = model.allocate_with(model_request, got.ok());
                        assert_eq!(got.map_err(model_error), want, "step {step}: allocate_with({request:?})");
                        live.extend(got.ok().map(|addr| (addr, size)));
                    }
                    8 if allocating => {
                        let size = size(&mut rng);
                        let unit = if policy == ModelPolicy::Buddy { size.next_power_of_two() } else { min_alignment };
                        let addr = address(&mut rng, heap.capacity(), unit.max(min_alignment));
                        let got = heap.allocate_at(addr, size);
                        assert_eq!(
                            got.map_err(model_error),
                            model.allocate_at(addr, size),
                            "step {step}: allocate_at({addr}, {size})"
                        );
                        if got.is_ok() {
                            live.push((addr, size));
                        }
                    }
                    9 if rng.random_range(0..50) == 0 => {
                        let cap = heap.capacity();
                        let new = match rng.random_range(0..3) {
                            0 => cap.saturating_add(rng.random_range(0..cap.min(1 << 20))),
                            1 => 1 + rng.random_range(0..cap),
                            _ => live.iter().map(|&(a, s)| a + s).max().unwrap_or(1),
                        };
                        let got = heap.set_capacity(new);
                        assert_eq!(
                            got.map_err(model_error),
                            model.set_capacity(new),
                            "step {step}: set_capacity({new})"
                        );
                    }
                    5 if !live.is_empty() => {
                        let k = rng.random_range(0..live.len());
                        let (addr, old) = live[k];
                        let new = size(&mut rng);
                        let got = heap.reallocate(addr, old, new);
                        let want = model.reallocate(addr, old, new, got.ok());
                        assert_eq!(got.map_err(model_error), want, "step {step}: reallocate({addr}, {old}, {new})");
                        if let Ok(at) = got {
                            live[k] = (at, new);
                        }
                    }
                    6 if rng.random_range(0..200) == 0 => {
                        heap.reset();
                        model.reset();
                        live.clear();
                    }
                    _ if !live.is_empty() => {
                        let (addr, size) = live.swap_remove(rng.random_range(0..live.len()));
                        assert_eq!(heap.free(addr, size).map_err(model_error), model.free(addr, size), "step {step}");
                    }
                    _ => {}
                }
                heap.check_invariants().unwrap_or_else(|e| panic!("step {step}: {e}"));
                let map: Vec<(usize, usize, ExtentKind)> =
                    heap.blocks().iter().map(|b| (b.start, b.size, model_kind(b.kind))).collect();
                let want: Vec<(usize, usize, ExtentKind)> =
                    model.blocks().iter().map(|e| (e.start, e.size, e.kind)).collect();
                assert_eq!(map, want, "step {step}: the map differs from the model");
            }
        }
    }

    #[test]
    fn random_calls_first_fit_with_tiny_tree_nodes() {
        random_calls_match_the_model::<TinyFirstFit>(ModelPolicy::FirstFit, 1);
    }

    #[test]
    fn random_calls_first_fit() {
        random_calls_match_the_model::<FirstFitIndex>(ModelPolicy::FirstFit, 2);
    }

    #[test]
    fn random_calls_best_fit_with_tiny_tree_nodes() {
        random_calls_match_the_model::<TinyBestFit>(ModelPolicy::BestFit, 3);
    }

    #[test]
    fn random_calls_tlsf() {
        random_calls_match_the_model::<TlsfIndex>(ModelPolicy::Tlsf, 4);
    }

    #[test]
    fn random_calls_buddy() {
        random_calls_match_the_model::<BuddyIndex>(ModelPolicy::Buddy, 5);
    }
}
