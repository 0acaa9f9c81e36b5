//! [`Model`]: a naive allocator of one policy, what memalloc's `MemoryAllocator` must do,
//! call by call.
//!
//! The rules, from docs/CONTRACT.md ("Policies, alignment and resizing"), with `fp` the footprint (the
//! size rounded up to `min_alignment`, then, under buddy, to a power of two) and `a` the
//! effective alignment (the larger of the requested one and `min_alignment`):
//! - first fit: the lowest `a`-aligned address where `fp` units fit in one free block;
//! - best fit: the smallest free block that holds `fp` units at an `a`-aligned address,
//!   ties to the lowest address, at that block's lowest `a`-aligned address;
//! - TLSF: the contract pins no address down, only "never out of memory while some free
//!   block can hold the request" and exact sizes. The model therefore accepts any
//!   `a`-aligned address whose `fp` units lie inside one free block (the library's answer
//!   is passed in as `got`), and expects out of memory exactly when there is none;
//! - buddy: free space is power-of-two blocks aligned to their size, the capacity covered
//!   by top-level blocks of decreasing powers of two from address 0. A request takes a
//!   block of the smallest size that holds `fp` units and starts on a multiple of `a`
//!   (which one of that size is the library's choice: its free lists are LIFO, like
//!   TLSF's, so the model accepts any, passed in as `got`); that block is split in halves,
//!   the low half kept each time, the upper halves freed, down to `fp`. A freed block
//!   merges with its buddy (`start ^ size`) while the buddy is one free block of the same
//!   size and the merged block stays inside one top-level block. Free blocks are reported
//!   as they are, so neighbours that are not buddies stay apart.
//!
//! In every policy the gap before an aligned block stays free and the rest of the chosen
//! block after the footprint stays free (first fit, best fit, TLSF: one block; buddy: the
//! split halves). The tail of the capacity past its last multiple of `min_alignment` is
//! never usable: the map shows it as padding.
//!
//! With a range `[lo, hi)` (`allocate_with`) only the part of each free block inside the
//! range counts, and top-down takes the highest address that fits instead of the lowest:
//! first fit the lowest (highest) aligned address in the range where the footprint fits;
//! best fit the smallest block whose part in the range fits, ties to the lowest (highest)
//! address, at that part's lowest (highest) aligned address; TLSF any block whose part
//! fits, at that part's low (high) end; buddy a block of the smallest size whose part holds
//! a buddy block of the footprint on the alignment, split down to the lowest (highest)
//! such buddy block. `allocate_at` reserves an exact footprint when every unit of it is
//! free (buddy: when it is a buddy block of a free block). `set_capacity` is a new model
//! of the new capacity given every live allocation, in address order, by `allocate_at`.
//! An allocation keeps the alignment it was requested with when `reallocate` moves it.

use std::collections::BTreeMap;

use crate::{Error, Extent, ExtentKind, Policy, check_free};

/// `value` rounded up to a multiple of `align` (a power of two); `None` on overflow.
fn align_up(value: usize, align: usize) -> Option<usize> {
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// The largest power of two that is at most `value` (`value > 0`).
fn floor_pow2(value: usize) -> usize {
    1 << (usize::BITS - 1 - value.leading_zeros())
}

/// A naive allocator of one policy (the rules are in the [module docs](self)).
///
/// The calls where the policy leaves a choice (`allocate` and a moving `reallocate` under
/// TLSF and buddy) take the library's answer as `got`: the model accepts it when it is one
/// of the places the policy allows, and otherwise (or with `None`) names the lowest allowed
/// place, so that comparing the two fails. Every call returns what the library must return
/// and, on success, applies the call to the model.
///
/// ```
/// use memalloc_models::{Error, Model, Policy};
///
/// let mut model = Model::new(Policy::Tlsf, 100, 1).unwrap();
/// assert_eq!(model.allocate(10, 1, Some(50)), Ok(50), "inside the free block: accepted");
/// assert_eq!(model.allocate(10, 1, Some(55)), Ok(0), "over the first one: the model names 0");
/// assert_eq!(model.allocate(50, 1, None), Err(Error::OutOfMemory), "no free block holds 50");
/// ```
#[derive(Debug, Clone)]
pub struct Model {
    policy: Policy,
    capacity: usize,
    min_alignment: usize,
    /// `capacity` rounded down to `min_alignment`: the tail past it is padding for good.
    usable: usize,
    /// Buddy only: the top-level blocks `(start, size)`, decreasing powers of two from 0.
    tops: Vec<(usize, usize)>,
    /// The free blocks `(start, size)`, sorted by start. Never adjacent, except under
    /// buddy, where they are the buddy blocks as they are.
    free: Vec<(usize, usize)>,
    /// The live allocations: start -> requested size.
    live: BTreeMap<usize, usize>,
    /// The attributes of the live allocations that have any but the defaults.
    attrs: BTreeMap<usize, Attrs>,
}

/// What an allocation carries beyond its size: tag, pin, and the alignment it was
/// requested with (kept when `reallocate` moves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    /// The tag, 0 by default.
    pub tag: u64,
    /// Whether compaction leaves it where it is.
    pub pinned: bool,
    /// The requested alignment, 1 by default.
    pub alignment: usize,
}

impl Attrs {
    /// No tag, not pinned, alignment 1.
    pub const DEFAULT: Attrs = Attrs { tag: 0, pinned: false, alignment: 1 };
}

/// A request for [`Model::allocate_with`], as memalloc's `Request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Units to allocate.
    pub size: usize,
    /// A power of two.
    pub alignment: usize,
    /// The footprint lies in `[lo, hi)`, `hi` clamped to the capacity.
    pub lo: usize,
    /// See `lo`.
    pub hi: usize,
    /// The highest address that fits, not the lowest.
    pub top_down: bool,
    /// The attributes recorded with the allocation.
    pub tag: u64,
    /// See `tag`.
    pub pinned: bool,
}

impl Request {
    /// `size` units, alignment 1, anywhere, lowest first, no tag, not pinned.
    pub fn new(size: usize) -> Self {
        Request { size, alignment: 1, lo: 0, hi: usize::MAX, top_down: false, tag: 0, pinned: false }
    }
}

/// Where in the range a request may go: `[lo, hi)` and which end to prefer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    lo: usize,
    hi: usize,
    top_down: bool,
}

impl Span {
    /// Everywhere, lowest first.
    const ALL: Span = Span { lo: 0, hi: usize::MAX, top_down: false };

    /// The lowest (top-down: highest) address aligned to `align` where `fp` units fit in
    /// the part of the free block `(start, size)` inside the span.
    fn place(&self, start: usize, size: usize, fp: usize, align: usize) -> Option<usize> {
        let (from, to) = (start.max(self.lo), (start + size).min(self.hi));
        if self.top_down {
            let at = to.checked_sub(fp)? & !(align - 1);
            (at >= from).then_some(at)
        } else {
            let at = align_up(from, align)?;
            (at.checked_add(fp)? <= to).then_some(at)
        }
    }
}

impl Model {
    /// The model of a fresh allocator, or the error its creation must give, in the
    /// library's order: `InvalidArgument` for capacity 0, then `InvalidAlignment` when
    /// `min_alignment` is not a power of two.
    pub fn new(policy: Policy, capacity: usize, min_alignment: usize) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        if !min_alignment.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        let usable = capacity & !(min_alignment - 1);
        let mut tops = Vec::new();
        let (mut start, mut rest) = (0, usable);
        while rest > 0 {
            let size = floor_pow2(rest);
            tops.push((start, size));
            start += size;
            rest -= size;
        }
        let mut model = Model {
            policy,
            capacity,
            min_alignment,
            usable,
            tops,
            free: Vec::new(),
            live: BTreeMap::new(),
            attrs: BTreeMap::new(),
        };
        model.reset();
        Ok(model)
    }

    /// `reset()`: every allocation gone, the free space as after creation.
    pub fn reset(&mut self) {
        self.live.clear();
        self.attrs.clear();
        self.free = if self.policy == Policy::Buddy {
            self.tops.clone()
        } else if self.usable > 0 {
            vec![(0, self.usable)]
        } else {
            Vec::new()
        };
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The minimum alignment.
    pub fn min_alignment(&self) -> usize {
        self.min_alignment
    }

    /// The free blocks `(start, size)`, sorted by start.
    pub fn free_blocks(&self) -> &[(usize, usize)] {
        &self.free
    }

    /// The live allocations: start -> requested size.
    pub fn live(&self) -> &BTreeMap<usize, usize> {
        &self.live
    }

    /// The attributes of the live allocation at `addr` (the defaults when it has none).
    pub fn attrs(&self, addr: usize) -> Attrs {
        self.attrs.get(&addr).copied().unwrap_or(Attrs::DEFAULT)
    }

    /// Buddy only: the top-level blocks `(start, size)`.
    pub fn top_level_blocks(&self) -> &[(usize, usize)] {
        &self.tops
    }

    /// The units an allocation of `size` occupies; `None` when that overflows.
    pub fn footprint(&self, size: usize) -> Option<usize> {
        let aligned = align_up(size, self.min_alignment)?;
        match self.policy {
            Policy::Buddy => aligned.checked_next_power_of_two(),
            _ => Some(aligned),
        }
    }

    fn live_footprint(&self, size: usize) -> usize {
        self.footprint(size).expect("a live allocation's footprint fits")
    }

    /// Every place where `fp` units aligned to `align` fit in the part of a free block
    /// inside `span`, as `(address, block start, block size)`: one candidate per block, at
    /// that part's low (top-down: high) end.
    fn fits(&self, fp: usize, align: usize, span: Span) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.free.iter().filter_map(move |&(start, size)| Some((span.place(start, size, fp, align)?, start, size)))
    }

    /// Whether `fp` units at `at` lie inside one free block and `at` is aligned.
    fn holds_at(&self, at: usize, fp: usize, align: usize) -> bool {
        at.is_multiple_of(align)
            && self.free.iter().any(|&(start, size)| start <= at && at - start <= size && size - (at - start) >= fp)
    }

    /// The candidates of buddy: for every free block that has a buddy block of `fp` units
    /// on `align` in its part inside `span`, the lowest (top-down: highest) such buddy
    /// block, as `(address, block start, block size)`.
    fn buddy_fits(&self, fp: usize, align: usize, span: Span) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.fits(fp, align.max(fp), span)
    }

    /// The address the policy gives `fp` units aligned to `align` inside `span` (`got`:
    /// the library's answer, which TLSF may choose freely among the fitting blocks, and
    /// buddy among the blocks of the smallest fitting size); `None` when out of memory.
    fn choose(&self, fp: usize, align: usize, span: Span, got: Option<usize>) -> Option<usize> {
        let lowest = |it: &mut dyn Iterator<Item = (usize, usize, usize)>| it.map(|(at, ..)| at).min();
        let highest = |it: &mut dyn Iterator<Item = (usize, usize, usize)>| it.map(|(at, ..)| at).max();
        match self.policy {
            Policy::FirstFit if span.top_down => highest(&mut self.fits(fp, align, span)),
            Policy::FirstFit => lowest(&mut self.fits(fp, align, span)),
            Policy::BestFit => {
                let smallest = self.fits(fp, align, span).map(|(_, _, size)| size).min()?;
                let same = self.fits(fp, align, span).filter(|&(_, _, size)| size == smallest);
                if span.top_down { same.map(|(at, ..)| at).max() } else { same.map(|(at, ..)| at).min() }
            }
            // Anywhere in a free block; with a range or top-down, at the low (high) end of
            // the block's part inside the range, as the contract says.
            Policy::Tlsf => match got {
                Some(at) if self.fits(fp, align, span).any(|(place, ..)| place == at) => Some(at),
                Some(at) if span == Span::ALL && self.holds_at(at, fp, align) => Some(at),
                // Wrong or missing: name a fitting place, so that the comparison fails.
                _ => self.fits(fp, align, span).map(|(at, ..)| at).next(),
            },
            Policy::Buddy => {
                let smallest = self.buddy_fits(fp, align, span).map(|(_, _, size)| size).min()?;
                let right =
                    |at: usize| self.buddy_fits(fp, align, span).any(|(x, _, size)| x == at && size == smallest);
                match got {
                    Some(at) if right(at) => Some(at),
                    // Wrong or missing: name a right place, so that the comparison fails.
                    _ => self.buddy_fits(fp, align, span).find(|&(_, _, size)| size == smallest).map(|(at, ..)| at),
                }
            }
        }
    }

    /// Takes the footprint `[at, at + fp)` out of the free block that holds it.
    fn take(&mut self, at: usize, fp: usize) {
        let i = self
            .free
            .iter()
            .position(|&(start, size)| start <= at && at - start <= size && size - (at - start) >= fp)
            .expect("the footprint lies in a free block");
        let (start, size) = self.free.remove(i);
        let mut pieces = Vec::new();
        if self.policy == Policy::Buddy {
            // Split down to fp: the half that holds `at` kept, the other half freed.
            let (mut block, mut half) = (start, size / 2);
            while half >= fp {
                if at < block + half {
                    pieces.push((block + half, half));
                } else {
                    pieces.push((block, half));
                    block += half;
                }
                half /= 2;
            }
            assert_eq!(block, at, "a buddy allocation is a buddy block of its free block");
            pieces.sort_unstable();
        } else {
            if at > start {
                pieces.push((start, at - start));
            }
            if size - (at - start) > fp {
                pieces.push((at + fp, size - (at - start) - fp));
            }
        }
        self.free.splice(i..i, pieces);
    }

    /// Whether the parent of the buddy block `(start, size)` lies inside one top-level block.
    fn parent_inside_top(&self, start: usize, size: usize) -> bool {
        let Some(parent_size) = size.checked_mul(2) else { return false };
        let parent = start & !size;
        self.tops.iter().any(|&(top, top_size)| {
            parent >= top && (parent - top).checked_add(parent_size).is_some_and(|end| end <= top_size)
        })
    }

    /// Gives the buddy block `(start, size)` back to free space, merged with its free buddy,
    /// and the result with its own, as far as they go.
    fn give_buddy_block(&mut self, mut start: usize, mut size: usize) {
        while self.parent_inside_top(start, size) {
            let buddy = start ^ size;
            let Some(i) = self.free.iter().position(|&block| block == (buddy, size)) else { break };
            self.free.remove(i);
            start &= !size;
            size *= 2;
        }
        let i = self.free.partition_point(|&(s, _)| s < start);
        self.free.insert(i, (start, size));
    }

    /// Returns `[start, start + size)` to free space: merged with both neighbours, or,
    /// under buddy, cut into maximal aligned power-of-two blocks, each merged with its buddy.
    fn give(&mut self, start: usize, size: usize) {
        if self.policy == Policy::Buddy {
            let end = start + size;
            let mut at = start;
            while at < end {
                let mut block = floor_pow2(end - at);
                while !at.is_multiple_of(block) {
                    block /= 2;
                }
                self.give_buddy_block(at, block);
                at += block;
            }
            return;
        }
        let i = self.free.partition_point(|&(s, _)| s < start);
        self.free.insert(i, (start, size));
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.free.len());
        for &(s, n) in &self.free {
            match merged.last_mut() {
                Some(last) if last.0 + last.1 == s => last.1 += n,
                _ => merged.push((s, n)),
            }
        }
        self.free = merged;
    }

    /// `allocate_aligned(size, align)` (`allocate(size)` is `align` 1), given the library's
    /// address `got` (used only where the policy may choose): the result the library must
    /// give. On success the model takes the block.
    pub fn allocate(&mut self, size: usize, align: usize, got: Option<usize>) -> Result<usize, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        let fp = self.footprint(size).ok_or(Error::OutOfMemory)?;
        let at = self.choose(fp, align.max(self.min_alignment), Span::ALL, got).ok_or(Error::OutOfMemory)?;
        self.take(at, fp);
        self.live.insert(at, size);
        if align > 1 {
            self.attrs.insert(at, Attrs { alignment: align, ..Attrs::DEFAULT });
        }
        Ok(at)
    }

    /// `allocate_with(request)`, given the library's address `got` (used only where the
    /// policy may choose): the result the library must give, in its check order.
    pub fn allocate_with(&mut self, request: Request, got: Option<usize>) -> Result<usize, Error> {
        if !request.alignment.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if request.size == 0 {
            return Err(Error::InvalidSize);
        }
        let hi = request.hi.min(self.capacity);
        if request.lo >= hi {
            return Err(Error::InvalidArgument);
        }
        let fp = self.footprint(request.size).ok_or(Error::OutOfMemory)?;
        let span = Span { lo: request.lo, hi, top_down: request.top_down };
        let align = request.alignment.max(self.min_alignment);
        let at = self.choose(fp, align, span, got).ok_or(Error::OutOfMemory)?;
        self.take(at, fp);
        self.live.insert(at, request.size);
        let attrs = Attrs { tag: request.tag, pinned: request.pinned, alignment: request.alignment };
        if attrs != Attrs::DEFAULT {
            self.attrs.insert(at, attrs);
        }
        Ok(at)
    }

    /// `allocate_at(addr, size)`: the result the library must give, in its check order.
    pub fn allocate_at(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        if size == 0 || addr.checked_add(size).is_none_or(|end| end > self.capacity) {
            return Err(Error::InvalidSize);
        }
        let fp = self.footprint(size);
        let alignment = match (self.policy, fp) {
            (Policy::Buddy, Some(fp)) => fp,
            (Policy::Buddy, None) => usize::MAX,
            _ => self.min_alignment,
        };
        if !addr.is_multiple_of(alignment.max(self.min_alignment)) {
            return Err(Error::InvalidAlignment);
        }
        let fp = fp.ok_or(Error::Occupied)?;
        let free =
            |&&(start, block): &&(usize, usize)| start <= addr && addr - start < block && block - (addr - start) >= fp;
        let held = match self.policy {
            // A buddy reservation is a buddy block of the free block that holds it.
            Policy::Buddy => self.free.iter().any(|b| free(&b) && (addr - b.0).is_multiple_of(fp)),
            _ => self.free.iter().any(|b| free(&b)),
        };
        if !held {
            return Err(Error::Occupied);
        }
        self.take(addr, fp);
        self.live.insert(addr, size);
        Ok(())
    }

    /// `set_capacity(new_capacity)`: a model of the new capacity given every live
    /// allocation, in address order, with its attributes.
    pub fn set_capacity(&mut self, new_capacity: usize) -> Result<(), Error> {
        let mut fresh = Model::new(self.policy, new_capacity, self.min_alignment)?;
        for (&addr, &size) in &self.live {
            let end = addr + self.live_footprint(size);
            if end > fresh.usable {
                return Err(Error::Occupied);
            }
        }
        for (&addr, &size) in &self.live {
            fresh.allocate_at(addr, size).expect("a live allocation's place is free in the new model");
        }
        fresh.attrs = self.attrs.clone();
        *self = fresh;
        Ok(())
    }

    /// The checks of `free(addr, size)` (and of `reallocate`'s old block), in the order of
    /// docs/CONTRACT.md, without changing anything.
    pub fn check_free(&self, addr: usize, size: usize) -> Result<(), Error> {
        check_free(self.capacity, addr, size, self.live.get(&addr).copied())
    }

    /// `free(addr, size)`.
    pub fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        self.check_free(addr, size)?;
        self.live.remove(&addr);
        self.attrs.remove(&addr);
        self.give(addr, self.live_footprint(size));
        Ok(())
    }

    /// `size_of(addr)`.
    pub fn size_of(&self, addr: usize) -> Result<usize, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        self.live.get(&addr).copied().ok_or(Error::NotAllocated)
    }

    /// `free_at(addr)`: the size freed.
    pub fn free_at(&mut self, addr: usize) -> Result<usize, Error> {
        let size = self.size_of(addr)?;
        self.free(addr, size).map(|()| size)
    }

    /// `reallocate(addr, old, new)`, given the library's address `got` (for the policy's
    /// choice when the block moves). Shrinks in place (the tail is given back); grows in
    /// place when the free block right after the footprint holds the growth (buddy: only
    /// when the footprint already holds `new`); else moves to where the policy places
    /// `new` while the old block is held, then frees the old block. Out of memory changes
    /// nothing.
    pub fn reallocate(&mut self, addr: usize, old: usize, new: usize, got: Option<usize>) -> Result<usize, Error> {
        self.check_free(addr, old)?;
        if new == 0 {
            return Err(Error::InvalidSize);
        }
        let old_fp = self.live_footprint(old);
        let new_fp = self.footprint(new).ok_or(Error::OutOfMemory)?;
        if new_fp <= old_fp {
            if new_fp < old_fp {
                self.give(addr + new_fp, old_fp - new_fp);
            }
            self.live.insert(addr, new);
            return Ok(addr);
        }
        let end = addr + old_fp;
        let growth = new_fp - old_fp;
        if self.policy != Policy::Buddy && self.free.iter().any(|&(start, size)| start == end && size >= growth) {
            self.take(end, growth);
            self.live.insert(addr, new);
            return Ok(addr);
        }
        // A moved allocation keeps its attributes, its requested alignment included.
        let attrs = self.attrs(addr);
        let align = attrs.alignment.max(self.min_alignment);
        let at = self.choose(new_fp, align, Span::ALL, got).ok_or(Error::OutOfMemory)?;
        self.take(at, new_fp);
        self.live.remove(&addr);
        self.attrs.remove(&addr);
        self.give(addr, old_fp);
        self.live.insert(at, new);
        if attrs != Attrs::DEFAULT {
            self.attrs.insert(at, attrs);
        }
        Ok(at)
    }

    /// `tag_of(addr)`: checked as `size_of`.
    pub fn tag_of(&self, addr: usize) -> Result<u64, Error> {
        self.size_of(addr)?;
        Ok(self.attrs(addr).tag)
    }

    /// `set_tag(addr, tag)`: checked as `size_of`.
    pub fn set_tag(&mut self, addr: usize, tag: u64) -> Result<(), Error> {
        self.size_of(addr)?;
        let attrs = Attrs { tag, ..self.attrs(addr) };
        if attrs == Attrs::DEFAULT {
            self.attrs.remove(&addr);
        } else {
            self.attrs.insert(addr, attrs);
        }
        Ok(())
    }

    /// `free_tagged(tag)`: frees every live allocation with that tag; how many.
    pub fn free_tagged(&mut self, tag: u64) -> usize {
        let tagged: Vec<(usize, usize)> =
            self.live.iter().filter(|&(&addr, _)| self.attrs(addr).tag == tag).map(|(&a, &s)| (a, s)).collect();
        for &(addr, size) in &tagged {
            self.free(addr, size).expect("a live allocation frees");
        }
        tagged.len()
    }

    /// `compact(max_units, max_moves)`: the moves `(from, to, size)`, in order. The live
    /// allocations in address order; each unpinned one goes to the lowest address at or
    /// above the end of the previous one's footprint that keeps its alignment (buddy: the
    /// start of the lowest free block below it that holds its footprint and starts on its
    /// alignment); pinned ones and those already there stay. Stops before a move past
    /// either budget. Each move frees the allocation, then takes its footprint at `to`.
    pub fn compact(&mut self, max_units: usize, max_moves: usize) -> Vec<(usize, usize, usize)> {
        let live: Vec<(usize, usize)> = self.live.iter().map(|(&a, &s)| (a, s)).collect();
        let (mut moves, mut units, mut end) = (Vec::new(), 0usize, 0usize);
        for (start, size) in live {
            let fp = self.live_footprint(size);
            let attrs = self.attrs(start);
            let align = attrs.alignment.max(self.min_alignment);
            let target = match (attrs.pinned, self.policy) {
                (true, _) => None,
                (false, Policy::Buddy) => self
                    .free
                    .iter()
                    .filter(|&&(s, n)| s < start && n >= fp && s.is_multiple_of(align))
                    .map(|&(s, _)| s)
                    .min(),
                (false, _) => align_up(end, align).filter(|&to| to < start),
            };
            let Some(to) = target else {
                end = start + fp;
                continue;
            };
            if moves.len() == max_moves || units.checked_add(size).is_none_or(|u| u > max_units) {
                break;
            }
            self.live.remove(&start);
            self.attrs.remove(&start);
            self.give(start, fp);
            self.take(to, fp);
            self.live.insert(to, size);
            if attrs != Attrs::DEFAULT {
                self.attrs.insert(to, attrs);
            }
            moves.push((start, to, size));
            units += size;
            end = to + fp;
        }
        moves
    }

    /// The memory map the library must report, by address: free blocks, allocations each
    /// followed by its padding, and the tail past the usable range as padding.
    pub fn blocks(&self) -> Vec<Extent> {
        let extent = |start, size, kind| Extent { start, size, kind };
        let mut map = Vec::new();
        let mut free = self.free.iter().peekable();
        for (&start, &size) in &self.live {
            while let Some(&(s, n)) = free.next_if(|&&(s, _)| s < start) {
                map.push(extent(s, n, ExtentKind::Free));
            }
            map.push(extent(start, size, ExtentKind::Allocated));
            let fp = self.live_footprint(size);
            if fp > size {
                map.push(extent(start + size, fp - size, ExtentKind::Padding));
            }
        }
        map.extend(free.map(|&(start, size)| extent(start, size, ExtentKind::Free)));
        if self.usable < self.capacity {
            map.push(extent(self.usable, self.capacity - self.usable, ExtentKind::Padding));
        }
        map
    }

    /// The units in free blocks.
    pub fn free_units(&self) -> usize {
        self.free.iter().map(|&(_, size)| size).sum()
    }

    /// The largest free block (0 when none): the largest size `allocate` grants now.
    pub fn largest_free(&self) -> usize {
        self.free.iter().map(|&(_, size)| size).max().unwrap_or(0)
    }

    /// The sum of the live sizes.
    pub fn allocated(&self) -> usize {
        self.live.values().sum()
    }

    /// The units held beyond the live sizes, plus the unusable tail.
    pub fn padding(&self) -> usize {
        self.live.values().map(|&size| self.live_footprint(size) - size).sum::<usize>() + (self.capacity - self.usable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExtentKind::{Allocated, Free, Padding};
    use crate::ReferenceAllocator;

    /// The map as `(start, size, kind)`, short to write out.
    fn map(model: &Model) -> Vec<(usize, usize, ExtentKind)> {
        model.blocks().into_iter().map(|e| (e.start, e.size, e.kind)).collect()
    }

    #[test]
    fn creation() {
        assert_eq!(Model::new(Policy::FirstFit, 0, 3).unwrap_err(), Error::InvalidArgument, "capacity first");
        assert_eq!(Model::new(Policy::FirstFit, 10, 3).unwrap_err(), Error::InvalidAlignment);
        let tiny = Model::new(Policy::BestFit, 5, 8).unwrap();
        assert_eq!(map(&tiny), [(0, 5, Padding)], "nothing usable below min_alignment");
        let buddy = Model::new(Policy::Buddy, 100, 1).unwrap();
        assert_eq!(buddy.free_blocks(), [(0, 64), (64, 32), (96, 4)], "decreasing powers of two");
    }

    /// The worked example of docs/REFERENCE-ALGORITHM.md, under the first-fit model.
    #[test]
    fn first_fit_runs_the_worked_example() {
        let mut model = Model::new(Policy::FirstFit, 100, 1).unwrap();
        assert_eq!([20, 30, 40].map(|size| model.allocate(size, 1, None)), [Ok(0), Ok(20), Ok(50)]);
        model.free(20, 30).unwrap();
        assert_eq!(model.allocate(25, 1, None), Ok(20));
        model.free(0, 20).unwrap();
        model.free(20, 25).unwrap();
        assert_eq!(map(&model), [(0, 50, Free), (50, 40, Allocated), (90, 10, Free)]);
    }

    /// The first-fit model and the reference agree on allocate and free (a fixed
    /// pseudo-random sequence), so the two oracles cannot drift apart.
    #[test]
    fn first_fit_agrees_with_the_reference() {
        let mut model = Model::new(Policy::FirstFit, 1000, 1).unwrap();
        let mut reference = ReferenceAllocator::new(1000).unwrap();
        let mut live = Vec::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            // xorshift64: enough randomness, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pick = (state >> 32) as usize;
            if live.is_empty() || pick % 5 < 3 {
                let size = 1 + pick % 40;
                let got = reference.allocate(size);
                assert_eq!(model.allocate(size, 1, None), got);
                live.extend(got.map(|addr| (addr, size)));
            } else {
                let (addr, size) = live.swap_remove(pick % live.len());
                assert_eq!(model.free(addr, size), reference.free(addr, size));
            }
            assert_eq!(model.free_blocks(), reference.free_blocks());
        }
    }

    #[test]
    fn best_fit_takes_the_smallest_block_ties_to_the_lowest_address() {
        let mut model = Model::new(Policy::BestFit, 100, 1).unwrap();
        for (size, at) in [(10, 0), (5, 10), (10, 15), (5, 25), (10, 30)] {
            assert_eq!(model.allocate(size, 1, None), Ok(at));
        }
        model.free(10, 5).unwrap();
        model.free(25, 5).unwrap();
        assert_eq!(model.free_blocks(), [(10, 5), (25, 5), (40, 60)]);
        assert_eq!(model.allocate(4, 1, None), Ok(10), "two 5-unit blocks tie: the lower one");
        assert_eq!(model.allocate(2, 2, None), Ok(26), "aligned: the smallest block with room at a multiple of 2");
        assert_eq!(model.free_blocks(), [(14, 1), (25, 1), (28, 2), (40, 60)], "the gap before stays free");
    }

    #[test]
    fn min_alignment_rounds_footprints_and_pads() {
        let mut model = Model::new(Policy::FirstFit, 30, 8).unwrap();
        assert_eq!(model.allocate(3, 1, None), Ok(0));
        assert_eq!(map(&model), [(0, 3, Allocated), (3, 5, Padding), (8, 16, Free), (24, 6, Padding)]);
        assert_eq!((model.allocated(), model.padding(), model.free_units()), (3, 11, 16));
        assert_eq!(model.reallocate(0, 3, 9, None), Ok(0), "grows in place into the free block after it");
        assert_eq!(model.reallocate(0, 9, 25, None), Err(Error::OutOfMemory), "32 units do not fit");
        assert_eq!(model.free_at(0), Ok(9), "the size it had after the grow");
        assert_eq!(model.free_blocks(), [(0, 24)]);
    }

    #[test]
    fn tlsf_accepts_any_fitting_place() {
        let mut model = Model::new(Policy::Tlsf, 100, 1).unwrap();
        assert_eq!(model.allocate(10, 4, Some(52)), Ok(52));
        assert_eq!(model.allocate(10, 4, Some(56)), Ok(0), "over a live block: refused, the model names 0");
        assert_eq!(model.free_blocks(), [(10, 42), (62, 38)]);
        assert_eq!(model.allocate(43, 1, Some(10)), Err(Error::OutOfMemory), "no free block holds 43");
    }

    #[test]
    fn buddy_splits_low_half_first_and_merges_back() {
        let mut model = Model::new(Policy::Buddy, 64, 1).unwrap();
        assert_eq!(model.allocate(5, 1, None), Ok(0));
        assert_eq!(map(&model), [(0, 5, Allocated), (5, 3, Padding), (8, 8, Free), (16, 16, Free), (32, 32, Free)]);
        assert_eq!(model.allocate(8, 1, Some(32)), Ok(8), "32 is not of the smallest fitting size");
        assert_eq!(model.allocate(3, 1, Some(20)), Ok(16), "20 starts no free block: the model names 16");
        assert_eq!(model.free_blocks(), [(20, 4), (24, 8), (32, 32)]);
        model.free(16, 3).unwrap();
        model.free(8, 8).unwrap();
        model.free(0, 5).unwrap();
        assert_eq!(model.free_blocks(), [(0, 64)]);
        // A grown block moves: buddy grows in place only within its footprint.
        assert_eq!(model.allocate(16, 1, None), Ok(0));
        assert_eq!(model.reallocate(0, 16, 17, Some(32)), Ok(32));
        assert_eq!(model.free_blocks(), [(0, 32)]);
    }

    #[test]
    fn buddy_never_merges_across_top_level_blocks() {
        let mut model = Model::new(Policy::Buddy, 96, 1).unwrap();
        assert_eq!(model.top_level_blocks(), [(0, 64), (64, 32)]);
        assert_eq!(model.allocate(32, 1, None), Ok(64), "the 32-unit top-level block is the smallest");
        assert_eq!(model.allocate(32, 1, Some(32)), Ok(0), "32 starts no free block: the 64 at 0");
        model.free(64, 32).unwrap();
        model.free(0, 32).unwrap();
        assert_eq!(model.free_blocks(), [(0, 64), (64, 32)]);
    }
}
