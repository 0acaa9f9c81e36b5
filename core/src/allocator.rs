//! [`MemoryAllocator`]: validation, the live-allocation table and the counters.
//! Placement is delegated to a free-space index chosen by the [`Policy`].

use std::fmt;

use crate::blocks::BlockTable;
use crate::error::Error;
use crate::index::{Placement, align_up};
use crate::live::{Found, LiveTable};

/// How a free block is chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Policy {
    /// The lowest-addressed block that fits: the reference's exact addresses, O(log n).
    #[default]
    FirstFit,
    /// The smallest block that fits, ties to the lowest address, O(log n).
    BestFit,
    /// Two-level segregated fit: a good fit in O(1) from size classes (32 per power of
    /// two), exact sizes, and never out of memory while some free block can hold the
    /// request (a request that only its own size class can serve scans that class).
    Tlsf,
    /// Binary buddy: sizes rounded up to a power of two (the rounding shows as padding),
    /// blocks aligned to their size, split on allocation and merged with their buddy on
    /// free; O(log capacity * log n). Grows in place only within the rounded size.
    Buddy,
}

impl Policy {
    /// Every policy, in C `ma_policy` order.
    pub const ALL: [Policy; 4] = [Policy::FirstFit, Policy::BestFit, Policy::Tlsf, Policy::Buddy];

    /// The policy's name as the command line and `MEMALLOC_POLICY` spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Policy::FirstFit => "first-fit",
            Policy::BestFit => "best-fit",
            Policy::Tlsf => "tlsf",
            Policy::Buddy => "buddy",
        }
    }

    /// The policy with the given C `ma_policy` value, if there is one.
    pub fn from_code(code: u32) -> Option<Policy> {
        match code {
            0 => Some(Policy::FirstFit),
            1 => Some(Policy::BestFit),
            2 => Some(Policy::Tlsf),
            3 => Some(Policy::Buddy),
            _ => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Policy {
    type Err = Error;

    /// Parses a [`Policy::name`]; anything else is [`Error::InvalidArgument`].
    fn from_str(s: &str) -> Result<Self, Error> {
        Policy::ALL.into_iter().find(|p| p.name() == s).ok_or(Error::InvalidArgument)
    }
}

/// How to build a [`MemoryAllocator`]: capacity, policy and minimum alignment.
///
/// ```
/// use memalloc_core::{MemoryAllocator, Options, Policy};
///
/// let heap = MemoryAllocator::with_options(Options::new(1 << 20).policy(Policy::BestFit).min_alignment(16)).unwrap();
/// assert_eq!(heap.policy(), Policy::BestFit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The managed range is `[0, capacity)`; must be positive.
    pub capacity: usize,
    /// How free blocks are chosen; first fit by default.
    pub policy: Policy,
    /// Every address is a multiple of it and every footprint is rounded up to a multiple
    /// of it; a power of two, 1 by default.
    pub min_alignment: usize,
}

impl Options {
    /// Defaults for `capacity`: first fit, alignment 1.
    pub const fn new(capacity: usize) -> Self {
        Options { capacity, policy: Policy::FirstFit, min_alignment: 1 }
    }

    /// Sets the policy.
    pub const fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the minimum alignment.
    pub const fn min_alignment(mut self, min_alignment: usize) -> Self {
        self.min_alignment = min_alignment;
        self
    }
}

/// What an extent of the memory map holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// Free space that can be handed out.
    Free,
    /// A live allocation, exactly its requested size.
    Allocated,
    /// Units that belong to the allocation just before, beyond its size (alignment or
    /// power-of-two rounding).
    Padding,
}

/// One extent of the memory map: `[start, start + size)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// First unit of the extent.
    pub start: usize,
    /// Number of units, never 0.
    pub size: usize,
    /// What the extent holds.
    pub kind: BlockKind,
}

impl fmt::Display for Block {
    /// The reference notation with inclusive ends, e.g. `[Allocated(0-19)]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.start + (self.size - 1);
        write!(f, "[{:?}({}-{last})]", self.kind, self.start)
    }
}

/// A snapshot of the allocator's counters.
///
/// Always `capacity == allocated + free + padding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// The managed range is `[0, capacity)`.
    pub capacity: usize,
    /// The sum of the sizes of live allocations.
    pub allocated: usize,
    /// Units in free blocks.
    pub free: usize,
    /// The largest free block: the largest request that would succeed now.
    pub largest_free: usize,
    /// The number of free blocks.
    pub free_blocks: usize,
    /// The number of live allocations.
    pub allocations: usize,
    /// Units held by allocations beyond their sizes (`min_alignment` rounding, buddy's
    /// power-of-two rounding), plus a tail shorter than `min_alignment` that no aligned
    /// footprint can use.
    pub padding: usize,
}

/// A manager for the range `[0, capacity)`: allocate and free ranges of it.
///
/// Addresses and sizes are abstract units. Freed space is merged with its free
/// neighbours (under buddy, with its free buddy); live allocations are tracked, so every bad free is rejected with a precise
/// [`Error`] and changes nothing.
///
/// ```
/// use memalloc_core::MemoryAllocator;
///
/// let mut heap = MemoryAllocator::new(100).unwrap();
/// assert_eq!(heap.allocate(20), Ok(0));
/// assert_eq!(heap.allocate(30), Ok(20));
/// heap.free(0, 20).unwrap();
/// assert_eq!(heap.to_string(), "[Free(0-19)] [Allocated(20-49)] [Free(50-99)]");
/// ```
///
/// # Time complexity
///
/// Every call makes one lookup in the live table (a hash table: O(1) expected, amortised
/// over its growth) and reaches the freed block's neighbours through the block table's
/// links, with no search. With first fit and best fit, choosing and updating free blocks
/// costs O(log n) in the number of free blocks, worst case; an aligned request
/// (`allocate_aligned` with an alignment above `min_alignment`) may also step over blocks
/// that are large enough but too misaligned. With TLSF it is O(1) (see [`Policy::Tlsf`]
/// for when it scans one size class); with buddy, O(log capacity).
#[derive(Clone)]
pub struct MemoryAllocator {
    capacity: usize,
    policy: Policy,
    min_alignment: usize,
    /// Every block of `[0, usable)`, free or allocated, linked in address order. An
    /// allocated block records the size as requested; its footprint is derived from it
    /// (see [`MemoryAllocator::footprint`]), so it is not stored.
    blocks: BlockTable,
    /// The policy's index of the free blocks.
    placement: Placement,
    /// Live allocations: start -> allocated block.
    live: LiveTable,
    /// The sum of the live sizes.
    allocated: usize,
    /// The sum over live allocations of footprint - size, plus the tail past `usable`.
    padding: usize,
}

impl MemoryAllocator {
    /// A first-fit allocator over `[0, capacity)`, all free.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `capacity` is 0.
    pub fn new(capacity: usize) -> Result<Self, Error> {
        Self::with_options(Options::new(capacity))
    }

    /// An allocator built from `options`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the capacity is 0; [`Error::InvalidAlignment`] when
    /// `min_alignment` is 0 or not a power of two.
    pub fn with_options(options: Options) -> Result<Self, Error> {
        if options.capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        if !options.min_alignment.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        let usable = options.capacity & !(options.min_alignment - 1);
        let mut blocks = BlockTable::new();
        let placement = Placement::new(options.policy, usable, &mut blocks);
        Ok(MemoryAllocator {
            capacity: options.capacity,
            policy: options.policy,
            min_alignment: options.min_alignment,
            blocks,
            placement,
            live: LiveTable::default(),
            allocated: 0,
            padding: options.capacity - usable,
        })
    }

    /// The part of the range that blocks tile: free extents stay on multiples of the
    /// alignment, so the tail that cannot hold an aligned footprint is never handed out
    /// and is left out.
    fn usable(&self) -> usize {
        self.capacity & !(self.min_alignment - 1)
    }

    /// The address of allocated block `id`, for the live table.
    fn start_of(blocks: &BlockTable) -> impl Fn(u32) -> usize + '_ {
        |id| blocks.used(id).start
    }

    /// The capacity given at creation.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The placement policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The minimum alignment of every address.
    pub fn min_alignment(&self) -> usize {
        self.min_alignment
    }

    /// The units an allocation of `size` occupies: `size` rounded up to the minimum
    /// alignment, then by the policy. `None` when that overflows.
    #[inline]
    fn footprint(&self, size: usize) -> Option<usize> {
        self.placement.footprint(align_up(size, self.min_alignment)?)
    }

    /// Allocates `size` units and returns the address; first fit takes the low end of
    /// the lowest-addressed free block that can hold them.
    ///
    /// # Errors
    /// [`Error::InvalidSize`] when `size` is 0; [`Error::OutOfMemory`] when no free block
    /// can hold it.
    pub fn allocate(&mut self, size: usize) -> Result<usize, Error> {
        self.place(size, 1)
    }

    /// Allocates `size` units at a multiple of `alignment` (at least the minimum
    /// alignment). The gap before the block stays free.
    ///
    /// # Errors
    /// [`Error::InvalidAlignment`] when `alignment` is 0 or not a power of two, then as
    /// [`MemoryAllocator::allocate`].
    pub fn allocate_aligned(&mut self, size: usize, alignment: usize) -> Result<usize, Error> {
        if !alignment.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        self.place(size, alignment)
    }

    fn place(&mut self, size: usize, alignment: usize) -> Result<usize, Error> {
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        let footprint = self.footprint(size).ok_or(Error::OutOfMemory)?;
        // Every free extent starts and ends on a multiple of the minimum alignment, so a
        // request for no more than that needs no aligned search.
        let alignment = if alignment <= self.min_alignment { 1 } else { alignment };
        let id = self.placement.take(&mut self.blocks, size, footprint, alignment).ok_or(Error::OutOfMemory)?;
        let start = self.blocks.used(id).start;
        self.live.insert(start, id, Self::start_of(&self.blocks));
        self.allocated += size;
        self.padding += footprint - size;
        Ok(start)
    }

    /// Checks a `(addr, size)` pair against the capacity, the first checks of `free`.
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

    /// Frees the allocation of `size` units at `addr` and merges it with its free
    /// neighbours.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidAddress`] (`addr >= capacity`), [`Error::InvalidSize`]
    /// (`size` is 0, or `addr + size` passes the capacity), [`Error::NotAllocated`] (no live
    /// allocation starts at `addr`), [`Error::SizeMismatch`] (it has another size).
    pub fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        let found = self.check_live(addr, size)?;
        self.release(found);
        Ok(())
    }

    /// Frees the live allocation at `addr` without repeating its size.
    ///
    /// # Errors
    /// [`Error::InvalidAddress`] or [`Error::NotAllocated`], as [`MemoryAllocator::size_of`].
    pub fn free_at(&mut self, addr: usize) -> Result<(), Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        let found = self.find(addr).ok_or(Error::NotAllocated)?;
        self.release(found);
        Ok(())
    }

    /// Frees the live allocation the live table `found`: out of the table, its
    /// footprint back to free space, the counters updated.
    #[inline]
    fn release(&mut self, found: Found) {
        let size = self.blocks.used(found.id).size;
        let footprint = self.footprint(size).expect("a live allocation's footprint fits");
        self.live.remove(found);
        self.allocated -= size;
        self.padding -= footprint - size;
        self.placement.give(&mut self.blocks, found.id, footprint);
    }

    /// The size of the live allocation at `addr`, as requested.
    ///
    /// # Errors
    /// [`Error::InvalidAddress`] when `addr >= capacity`; [`Error::NotAllocated`] when no
    /// live allocation starts there.
    pub fn size_of(&self, addr: usize) -> Result<usize, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        self.find(addr).map(|found| self.blocks.used(found.id).size).ok_or(Error::NotAllocated)
    }

    /// Resizes the allocation `(addr, old_size)` to `new_size` and returns its address.
    ///
    /// Shrinks in place (the tail is freed and merged); grows in place when the free space
    /// right after it holds the growth; else moves: the new block is chosen while the old
    /// one is still held (so they never overlap), then the old one is freed. Only
    /// addresses are managed: after a move the caller copies the contents.
    ///
    /// # Errors
    /// As [`MemoryAllocator::free`] for `(addr, old_size)`; then [`Error::InvalidSize`] when
    /// `new_size` is 0; [`Error::OutOfMemory`] when there is no room (the old allocation
    /// stays as it was).
    pub fn reallocate(&mut self, addr: usize, old_size: usize, new_size: usize) -> Result<usize, Error> {
        let found = self.check_live(addr, old_size)?;
        if new_size == 0 {
            return Err(Error::InvalidSize);
        }
        let old_footprint = self.footprint(old_size).expect("a live allocation's footprint fits");
        let new_footprint = self.footprint(new_size).ok_or(Error::OutOfMemory)?;
        let in_place = match new_footprint.checked_sub(old_footprint) {
            Some(0) => true,
            Some(_) => self.placement.grow(&mut self.blocks, found.id, old_footprint, new_footprint),
            None => {
                self.placement.shrink(&mut self.blocks, found.id, old_footprint, new_footprint);
                true
            }
        };
        if in_place {
            self.blocks.set_used_size(found.id, new_size);
            self.allocated = self.allocated - old_size + new_size;
            self.padding = self.padding - (old_footprint - old_size) + (new_footprint - new_size);
            return Ok(addr);
        }
        let new_addr = self.place(new_size, 1)?;
        // Placing the new block may have moved entries of the live table: look again.
        let found = self.find(addr).expect("the old allocation is still live");
        self.release(found);
        Ok(new_addr)
    }

    /// Frees every allocation at once: the map is as after creation.
    pub fn reset(&mut self) {
        let usable = self.usable();
        self.placement = Placement::new(self.policy, usable, &mut self.blocks);
        self.live.clear();
        self.allocated = 0;
        self.padding = self.capacity - usable;
    }

    /// Units in free blocks.
    pub fn free_memory(&self) -> usize {
        self.blocks.free_units()
    }

    /// The size of the largest free block (0 when none): the largest request that
    /// `allocate` would grant now.
    pub fn largest_free_block(&self) -> usize {
        self.placement.largest(&self.blocks)
    }

    /// The counters, in O(1) (TLSF's largest free block may take a scan of one size
    /// class, see [`Policy::Tlsf`]).
    pub fn stats(&self) -> Stats {
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

    /// The memory map: extents in ascending address order that tile `[0, capacity)`
    /// exactly. An allocation is followed by its padding, if it has any. A walk along
    /// the block table's links: O(n), no sort.
    pub fn blocks(&self) -> Vec<Block> {
        let mut map = Vec::with_capacity(2 * self.live.len() + self.blocks.free_blocks() + 1);
        for (block, start) in self.blocks.walk() {
            if let Some(id) = block.as_free() {
                map.push(Block { start, size: self.blocks.free(id).size, kind: BlockKind::Free });
            } else if let Some(id) = block.as_used() {
                let size = self.blocks.used(id).size;
                map.push(Block { start, size, kind: BlockKind::Allocated });
                let footprint = self.footprint(size).expect("a live allocation's footprint fits");
                if footprint > size {
                    map.push(Block { start: start + size, size: footprint - size, kind: BlockKind::Padding });
                }
            }
        }
        let end = map.last().map_or(0, |b| b.start + b.size);
        if end < self.capacity {
            // The tail below min_alignment that no aligned footprint can use.
            map.push(Block { start: end, size: self.capacity - end, kind: BlockKind::Padding });
        }
        map
    }

    /// Verifies every invariant: the index's own (order, balance, augmented fields),
    /// then that free blocks and allocations tile `[0, capacity)` exactly with no two
    /// free blocks adjacent (except under buddy, which merges only buddies), and that
    /// every counter matches the map. Tests and fuzzers call it after every step.
    ///
    /// # Errors
    /// A description of the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.blocks.check(self.usable(), |size| self.footprint(size))?;
        self.placement.check(&self.blocks)?;
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
                    if previous == Some(BlockKind::Free) && self.placement.merges_adjacent() {
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

impl fmt::Display for MemoryAllocator {
    /// The memory map in the reference notation: `[Allocated(0-19)] [Free(20-99)]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, block) in self.blocks().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{block}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MemoryAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAllocator")
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
