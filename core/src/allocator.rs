//! [`MemoryAllocator`]: validation, the live-allocation table and the counters.
//! Placement is delegated to a free-space index chosen by the [`Policy`].

use std::fmt;

use crate::error::Error;
use crate::heap::Heap;
use crate::index::{BestFitIndex, BuddyIndex, FirstFitIndex, TlsfIndex};
use crate::report::Fragmentation;
use crate::snapshot::Snapshot;

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

/// A request for [`MemoryAllocator::allocate_with`]: a size and where the allocation may
/// go, plus the attributes it carries.
///
/// ```
/// use memalloc_core::{MemoryAllocator, Request};
///
/// let mut heap = MemoryAllocator::new(1000)?;
/// // The highest 16-aligned place in [100, 500) for 30 units.
/// let addr = heap.allocate_with(&Request::new(30).align(16).within(100..500).top_down())?;
/// assert_eq!(addr, 464);
/// # Ok::<(), memalloc_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Units to allocate; must be positive.
    pub size: usize,
    /// The address is a multiple of it (and of the allocator's minimum alignment); a
    /// power of two, 1 by default.
    pub alignment: usize,
    /// The allocation's whole footprint lies in this range; the end is clamped to the
    /// capacity. `0..usize::MAX` by default.
    pub range: std::ops::Range<usize>,
    /// Take the highest address that fits, not the lowest.
    pub top_down: bool,
    /// Compaction never moves this allocation.
    pub pinned: bool,
    /// The allocation's tag, 0 by default.
    pub tag: u64,
}

impl Request {
    /// A request for `size` units with the defaults: alignment 1, anywhere, lowest
    /// address first, not pinned, tag 0.
    pub const fn new(size: usize) -> Self {
        Request { size, alignment: 1, range: 0..usize::MAX, top_down: false, pinned: false, tag: 0 }
    }

    /// Sets the alignment.
    pub const fn align(mut self, alignment: usize) -> Self {
        self.alignment = alignment;
        self
    }

    /// Restricts the footprint to `range`.
    pub const fn within(mut self, range: std::ops::Range<usize>) -> Self {
        self.range = range;
        self
    }

    /// Asks for the highest address that fits.
    pub const fn top_down(mut self) -> Self {
        self.top_down = true;
        self
    }

    /// Marks the allocation pinned: compaction never moves it.
    pub const fn pinned(mut self) -> Self {
        self.pinned = true;
        self
    }

    /// Sets the allocation's tag.
    pub const fn tag(mut self, tag: u64) -> Self {
        self.tag = tag;
        self
    }
}

/// One move of a compaction plan ([`MemoryAllocator::compact`]): the allocation of `size`
/// units that was at `from` is now at `to` (`to < from`); the caller moves its contents,
/// e.g. with `memmove` (the two ranges may overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Move {
    /// Where the allocation was.
    pub from: usize,
    /// Where it is now.
    pub to: usize,
    /// Its size (as allocated, without padding): the units to move.
    pub size: usize,
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
    /// An allocation's tag (see [`MemoryAllocator::set_tag`]); 0 when untagged, and for
    /// free space and padding.
    pub tag: u64,
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
    heap: AnyHeap,
}

/// The heap of each policy: the policy is chosen at run time, once per call.
#[derive(Clone, Debug)]
enum AnyHeap {
    FirstFit(Heap<FirstFitIndex>),
    BestFit(Heap<BestFitIndex>),
    Tlsf(Heap<TlsfIndex>),
    Buddy(Heap<BuddyIndex>),
}

/// Runs `$body` with `$heap` bound to the allocator's heap, whichever policy it has:
/// `on_heap!(&self.heap, heap => heap.stats())`.
macro_rules! on_heap {
    ($any:expr, $heap:ident => $body:expr) => {
        match $any {
            AnyHeap::FirstFit($heap) => $body,
            AnyHeap::BestFit($heap) => $body,
            AnyHeap::Tlsf($heap) => $body,
            AnyHeap::Buddy($heap) => $body,
        }
    };
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
        let (capacity, alignment) = (options.capacity, options.min_alignment);
        let heap = match options.policy {
            Policy::FirstFit => AnyHeap::FirstFit(Heap::new(capacity, alignment)),
            Policy::BestFit => AnyHeap::BestFit(Heap::new(capacity, alignment)),
            Policy::Tlsf => AnyHeap::Tlsf(Heap::new(capacity, alignment)),
            Policy::Buddy => AnyHeap::Buddy(Heap::new(capacity, alignment)),
        };
        Ok(MemoryAllocator { heap })
    }

    /// The capacity given at creation.
    pub fn capacity(&self) -> usize {
        on_heap!(&self.heap, heap => heap.capacity())
    }

    /// The placement policy.
    pub fn policy(&self) -> Policy {
        match self.heap {
            AnyHeap::FirstFit(_) => Policy::FirstFit,
            AnyHeap::BestFit(_) => Policy::BestFit,
            AnyHeap::Tlsf(_) => Policy::Tlsf,
            AnyHeap::Buddy(_) => Policy::Buddy,
        }
    }

    /// The minimum alignment of every address.
    pub fn min_alignment(&self) -> usize {
        on_heap!(&self.heap, heap => heap.min_alignment())
    }

    /// Allocates `size` units and returns the address; first fit takes the low end of
    /// the lowest-addressed free block that can hold them.
    ///
    /// # Errors
    /// [`Error::InvalidSize`] when `size` is 0; [`Error::OutOfMemory`] when no free block
    /// can hold it.
    #[inline]
    pub fn allocate(&mut self, size: usize) -> Result<usize, Error> {
        let result = on_heap!(&mut self.heap, heap => heap.allocate(size, 1));
        self.checked("allocate");
        result
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
        let result = on_heap!(&mut self.heap, heap => heap.allocate(size, alignment));
        self.checked("allocate_aligned");
        result
    }

    /// Allocates as `request` says: its size, at a multiple of its alignment (at least the
    /// minimum alignment), its whole footprint inside its range, at the lowest address
    /// there that the policy picks (the highest, top-down). With the defaults it is
    /// [`MemoryAllocator::allocate`] (or `allocate_aligned`), address for address.
    ///
    /// First fit takes the lowest (top-down: highest) aligned address in the range where
    /// the block fits; best fit the smallest free block whose part in the range holds it,
    /// ties to the lowest (top-down: highest) address, at that part's lowest (highest)
    /// aligned address; both stay O(log n) searches of their tree. TLSF and buddy take
    /// the first block of their size classes (orders) whose part in the range holds it,
    /// scanning their lists.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidAlignment`] (not a power of two),
    /// [`Error::InvalidSize`] (size 0), [`Error::InvalidArgument`] (the range is empty
    /// once clamped to the capacity), [`Error::OutOfMemory`] (no fit inside the range).
    pub fn allocate_with(&mut self, request: &Request) -> Result<usize, Error> {
        let result = on_heap!(&mut self.heap, heap => heap.allocate_with(request));
        self.checked("allocate_with");
        result
    }

    /// Reserves exactly `[addr, addr + size)` (its footprint, rounded as the policy
    /// rounds), like a fixed allocation: it is then freed as any other.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidAddress`] (`addr >= capacity`),
    /// [`Error::InvalidSize`] (size 0, or the range passes the capacity),
    /// [`Error::InvalidAlignment`] (`addr` not a multiple of the minimum alignment; under
    /// buddy, of the footprint), [`Error::Occupied`] (a unit of the footprint is not
    /// free).
    pub fn allocate_at(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        let result = on_heap!(&mut self.heap, heap => heap.allocate_at(addr, size));
        self.checked("allocate_at");
        result
    }

    /// Grows or shrinks the range to `[0, new_capacity)` with the live allocations where
    /// they are. Afterwards the map, the counters and every later call are those of an
    /// allocator created with `new_capacity` that was given the same allocations, in
    /// address order, with [`MemoryAllocator::allocate_at`] (and their tags, pins and
    /// alignments). O(n log n) in the number of blocks.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `new_capacity` is 0; [`Error::Occupied`] when a
    /// live allocation's footprint ends beyond it.
    pub fn set_capacity(&mut self, new_capacity: usize) -> Result<(), Error> {
        let result = on_heap!(&mut self.heap, heap => heap.set_capacity(new_capacity));
        self.checked("set_capacity");
        result
    }

    /// The tag of the live allocation at `addr` (0 unless it was given one).
    ///
    /// # Errors
    /// As [`MemoryAllocator::size_of`].
    pub fn tag_of(&self, addr: usize) -> Result<u64, Error> {
        on_heap!(&self.heap, heap => heap.tag_of(addr))
    }

    /// Gives the live allocation at `addr` the tag `tag` (0 removes it).
    ///
    /// # Errors
    /// As [`MemoryAllocator::size_of`].
    pub fn set_tag(&mut self, addr: usize, tag: u64) -> Result<(), Error> {
        let result = on_heap!(&mut self.heap, heap => heap.set_tag(addr, tag));
        self.checked("set_tag");
        result
    }

    /// Frees every live allocation tagged `tag` (tag 0: those never tagged), in address
    /// order, and returns how many. The allocations of a non-zero tag are indexed: O(k log
    /// n) for k of them; tag 0 walks the block list.
    pub fn free_tagged(&mut self, tag: u64) -> usize {
        let count = on_heap!(&mut self.heap, heap => heap.free_tagged(tag));
        self.checked("free_tagged");
        count
    }

    /// Plans and applies a compaction: the live allocations, in address order, slide
    /// toward address 0, each unpinned one to the lowest address at or above the end of
    /// the live allocation before it that keeps its alignment (the larger of the minimum
    /// alignment and the one it was requested with; buddy: to the lowest free buddy block
    /// of its size below it); pinned ones stay, and the free space between them is used.
    /// It stops before a move that would take the units moved past `max_units` or the
    /// moves past `max_moves`: call again to go on (repeated calls reach the same map as
    /// one without limits).
    ///
    /// The allocator is updated at once, as if each moved allocation had been freed and
    /// allocated again at its new place (size, tag, pin and alignment kept). The caller
    /// then moves the contents, in the order of the returned moves, e.g. with `memmove`:
    /// each destination is below its source and overlaps only its own source or space
    /// already vacated.
    ///
    /// ```
    /// use memalloc_core::{MemoryAllocator, Move};
    ///
    /// let mut heap = MemoryAllocator::new(100)?;
    /// let (a, b) = (heap.allocate(10)?, heap.allocate(20)?);
    /// heap.free(a, 10)?;
    /// assert_eq!(heap.compact(usize::MAX, usize::MAX), [Move { from: b, to: 0, size: 20 }]);
    /// assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-99)]");
    /// # Ok::<(), memalloc_core::Error>(())
    /// ```
    pub fn compact(&mut self, max_units: usize, max_moves: usize) -> Vec<Move> {
        let moves = on_heap!(&mut self.heap, heap => heap.compact(max_units, max_moves));
        self.checked("compact");
        moves
    }

    /// A snapshot of the whole allocator: policy, minimum alignment, capacity, every live
    /// allocation with its size, tag, pin and alignment, and the order of the free lists
    /// that TLSF and buddy choose by, so that [`MemoryAllocator::load`] reopens it to
    /// answer every later call exactly as this one would. Little-endian, fixed-width,
    /// versioned and checksummed (`docs/SNAPSHOT.md`): the same history gives the same
    /// bytes on any host.
    pub fn save(&self) -> Vec<u8> {
        let policy = self.policy();
        on_heap!(&self.heap, heap => heap.snapshot(policy)).encode()
    }

    /// The length of [`MemoryAllocator::save`]'s snapshot, without making it.
    pub fn snapshot_len(&self) -> usize {
        let stats = self.stats();
        Snapshot::length(stats.allocations, stats.free_blocks).expect("an allocator's snapshot fits in memory")
    }

    /// The allocator a snapshot from [`MemoryAllocator::save`] describes.
    ///
    /// # Errors
    /// [`Error::BadSnapshot`] for anything that is not a snapshot this version wrote:
    /// wrong magic, unknown version, truncated, trailing bytes, checksum mismatch, and
    /// content that is inconsistent even under a valid checksum (overlapping, out-of-range
    /// or misaligned allocations, an unknown policy, counts that disagree, free blocks
    /// that are not the ones the allocations leave). No input makes it allocate more than
    /// a small multiple of its length.
    pub fn load(bytes: &[u8]) -> Result<MemoryAllocator, Error> {
        let snapshot = Snapshot::decode(bytes)?;
        let heap = match snapshot.policy {
            Policy::FirstFit => AnyHeap::FirstFit(Heap::from_snapshot(&snapshot)?),
            Policy::BestFit => AnyHeap::BestFit(Heap::from_snapshot(&snapshot)?),
            Policy::Tlsf => AnyHeap::Tlsf(Heap::from_snapshot(&snapshot)?),
            Policy::Buddy => AnyHeap::Buddy(Heap::from_snapshot(&snapshot)?),
        };
        let allocator = MemoryAllocator { heap };
        allocator.checked("load");
        Ok(allocator)
    }

    /// Frees the allocation of `size` units at `addr` and merges it with its free
    /// neighbours.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidAddress`] (`addr >= capacity`), [`Error::InvalidSize`]
    /// (`size` is 0, or `addr + size` passes the capacity), [`Error::NotAllocated`] (no live
    /// allocation starts at `addr`), [`Error::SizeMismatch`] (it has another size).
    #[inline]
    pub fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        let result = on_heap!(&mut self.heap, heap => heap.free(addr, size));
        self.checked("free");
        result
    }

    /// Frees the live allocation at `addr` without repeating its size; returns the size it
    /// had, as requested (one lookup where [`MemoryAllocator::size_of`] then
    /// [`MemoryAllocator::free`] take two).
    ///
    /// ```
    /// # use memalloc_core::MemoryAllocator;
    /// let mut heap = MemoryAllocator::new(100).unwrap();
    /// let a = heap.allocate(30).unwrap();
    /// assert_eq!(heap.free_at(a), Ok(30));
    /// assert!(heap.free_at(a).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAddress`] or [`Error::NotAllocated`], as [`MemoryAllocator::size_of`].
    pub fn free_at(&mut self, addr: usize) -> Result<usize, Error> {
        let result = on_heap!(&mut self.heap, heap => heap.free_at(addr));
        self.checked("free_at");
        result
    }

    /// The size of the live allocation at `addr`, as requested.
    ///
    /// # Errors
    /// [`Error::InvalidAddress`] when `addr >= capacity`; [`Error::NotAllocated`] when no
    /// live allocation starts there.
    pub fn size_of(&self, addr: usize) -> Result<usize, Error> {
        on_heap!(&self.heap, heap => heap.size_of(addr))
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
        let result = on_heap!(&mut self.heap, heap => heap.reallocate(addr, old_size, new_size));
        self.checked("reallocate");
        result
    }

    /// Frees every allocation at once: the map is as after creation.
    pub fn reset(&mut self) {
        on_heap!(&mut self.heap, heap => heap.reset());
        self.checked("reset");
    }

    /// With the `expensive-checks` feature: runs [`MemoryAllocator::check_invariants`]
    /// after every change and panics, naming the call, on the first broken invariant (the
    /// C layer turns the panic into `MA_ERR_INTERNAL`). Without it: nothing, not even a
    /// branch.
    #[inline(always)]
    fn checked(&self, call: &str) {
        if cfg!(feature = "expensive-checks")
            && let Err(broken) = self.check_invariants()
        {
            panic!("memalloc: invariant broken after {call}: {broken}");
        }
    }

    /// Units in free blocks.
    pub fn free_memory(&self) -> usize {
        self.stats().free
    }

    /// The size of the largest free block (0 when none): the largest request that
    /// `allocate` would grant now.
    pub fn largest_free_block(&self) -> usize {
        on_heap!(&self.heap, heap => heap.largest_free_block())
    }

    /// The counters, in O(1) (TLSF's largest free block may take a scan of one size
    /// class, see [`Policy::Tlsf`]).
    pub fn stats(&self) -> Stats {
        on_heap!(&self.heap, heap => heap.stats())
    }

    /// The memory map: extents in ascending address order that tile `[0, capacity)`
    /// exactly. An allocation is followed by its padding, if it has any. A walk along
    /// the block table's links: O(n), no sort.
    pub fn blocks(&self) -> Vec<Block> {
        on_heap!(&self.heap, heap => heap.blocks())
    }

    /// The free space below the heap top, for the fragmentation ratio
    /// ([`Fragmentation::ratio`]). One walk of the map, O(n), no allocation.
    pub fn fragmentation(&self) -> Fragmentation {
        on_heap!(&self.heap, heap => heap.fragmentation())
    }

    /// Verifies every invariant: the block table's links and counters, the index's own
    /// (order, balance, augmented fields, lists) and its agreement with the table, the
    /// live table's, then that the map tiles `[0, capacity)` exactly with no two free
    /// blocks adjacent (except under buddy, which merges only buddies), and that every
    /// counter matches the map. Tests and fuzzers call it after every step.
    ///
    /// # Errors
    /// A description of the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        on_heap!(&self.heap, heap => heap.check_invariants())
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
            .field("policy", &self.policy())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
