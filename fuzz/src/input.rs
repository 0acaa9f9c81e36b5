//! What fuzz bytes decode into: capacities, alignments, sizes and address choices that
//! aim at the interesting values (tiny, huge, near the capacity, live, stale, shifted),
//! resolved against the current state so that valid calls stay frequent.

use std::ops::Range;

use arbitrary::{Arbitrary, Unstructured};
use memalloc::{Policy, Request};

/// Decodes calls until the input is used up (at most `max`). The derived decoding of a
/// `Vec` stops at each element with probability 1/2, so most inputs would make one call.
pub fn calls<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>, max: usize) -> arbitrary::Result<Vec<T>> {
    let mut calls = Vec::new();
    while !u.is_empty() && calls.len() < max {
        calls.push(u.arbitrary()?);
    }
    Ok(calls)
}

/// A capacity for creation.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Capacity {
    /// 0: rejected.
    Zero,
    /// 1 to 16.
    Tiny(u8),
    /// 1 to 65536.
    Small(u16),
    /// 1 to 2^32.
    Large(u32),
    /// `2^(n mod 64)`.
    PowerOfTwo(u8),
    /// `usize::MAX - n`.
    Huge(u16),
    /// Anything.
    Raw(usize),
}

impl Capacity {
    /// The capacity in units.
    pub fn resolve(self) -> usize {
        match self {
            Capacity::Zero => 0,
            Capacity::Tiny(n) => usize::from(n % 16) + 1,
            Capacity::Small(n) => usize::from(n) + 1,
            Capacity::Large(n) => n as usize + 1,
            Capacity::PowerOfTwo(n) => 1 << (n % 64),
            Capacity::Huge(n) => usize::MAX - usize::from(n),
            Capacity::Raw(n) => n,
        }
    }
}

/// An alignment: mostly small powers of two, sometimes huge ones or invalid values.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Alignment {
    /// 1.
    One,
    /// `2^(n mod 8)`.
    Small(u8),
    /// `2^(n mod 64)`.
    Any(u8),
    /// Anything: 0 and non-powers of two are rejected.
    Raw(usize),
}

impl Alignment {
    /// The alignment in units.
    pub fn resolve(self) -> usize {
        match self {
            Alignment::One => 1,
            Alignment::Small(n) => 1 << (n % 8),
            Alignment::Any(n) => 1 << (n % 64),
            Alignment::Raw(n) => n,
        }
    }
}

/// A minimum alignment for creation: mostly 1 or small, sometimes anything.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum MinAlignment {
    /// 1.
    One,
    /// `2^(n mod 5)`.
    Small(u8),
    /// Any [`Alignment`], invalid ones included.
    Other(Alignment),
}

impl MinAlignment {
    /// The alignment in units.
    pub fn resolve(self) -> usize {
        match self {
            MinAlignment::One => 1,
            MinAlignment::Small(n) => 1 << (n % 5),
            MinAlignment::Other(alignment) => alignment.resolve(),
        }
    }
}

/// A requested size.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Size {
    /// 0 to 255 (0 is rejected).
    Small(u8),
    /// 0 to 65535.
    Medium(u16),
    /// `capacity * (n + 1) / 256`: a share of the capacity.
    Share(u8),
    /// `capacity + delta`, saturating at 0 and `usize::MAX`.
    NearCapacity(i8),
    /// The size of the n-th free block (in address order) plus `delta`: requests that fit
    /// a block exactly or just miss it, and land in its size class (TLSF's fallback scan,
    /// buddy's orders).
    NearFree(u16, i8),
    /// Anything, `usize::MAX` included.
    Raw(usize),
}

impl Size {
    /// The size in units, for an allocator of `capacity` whose free blocks are `free`.
    pub fn resolve(self, capacity: usize, free: &[(usize, usize)]) -> usize {
        match self {
            Size::NearFree(n, delta) => {
                let block = free.get(usize::from(n) % free.len().max(1)).map_or(1, |&(_, size)| size);
                offset(block, delta)
            }
            Size::Small(n) => usize::from(n),
            Size::Medium(n) => usize::from(n),
            Size::Share(n) => {
                let share = (capacity as u128 * (u128::from(n) + 1)) / 256;
                usize::try_from(share).unwrap_or(usize::MAX)
            }
            Size::NearCapacity(delta) => offset(capacity, delta),
            Size::Raw(n) => n,
        }
    }
}

/// An address argument.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Addr {
    /// The n-th live allocation (in address order); a raw `n` when there is none.
    Live(u16),
    /// An address freed earlier (double free, or a stale handle); `n` when there is none.
    Stale(u16),
    /// A live address moved by `delta`: inside a block or just before it.
    Shifted(u16, i8),
    /// `capacity - 1 - n`, saturating: the last units.
    End(u8),
    /// `capacity + n`: out of range.
    PastEnd(u8),
    /// Anything.
    Raw(usize),
}

/// A size argument of a free or a realloc: the live size, or a wrong one.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FreeSize {
    /// The live allocation's size at the address (or 1 when there is none).
    Exact,
    /// The live size plus `delta`.
    Delta(i8),
    /// 0.
    Zero,
    /// Just past the end of the range: `capacity - addr + 1`.
    PastEnd,
    /// `usize::MAX`: `addr + size` overflows.
    Max,
    /// Anything.
    Raw(usize),
}

/// `value + delta`, saturating.
pub fn offset(value: usize, delta: i8) -> usize {
    if delta >= 0 {
        value.saturating_add(delta.unsigned_abs().into())
    } else {
        value.saturating_sub(delta.unsigned_abs().into())
    }
}

/// The state an argument is resolved against.
pub struct Targets<'a> {
    /// The managed range is `[0, capacity)`.
    pub capacity: usize,
    /// Live allocations `(address, size)`, in address order.
    pub live: &'a [(usize, usize)],
    /// Addresses freed earlier, most recent last.
    pub stale: &'a [usize],
}

impl Targets<'_> {
    /// The address `addr` chooses.
    pub fn addr(&self, addr: Addr) -> usize {
        let nth = |list_len: usize, n: u16| usize::from(n) % list_len.max(1);
        match addr {
            Addr::Live(n) if !self.live.is_empty() => self.live[nth(self.live.len(), n)].0,
            Addr::Stale(n) if !self.stale.is_empty() => self.stale[nth(self.stale.len(), n)],
            Addr::Shifted(n, delta) if !self.live.is_empty() => offset(self.live[nth(self.live.len(), n)].0, delta),
            Addr::Live(n) | Addr::Stale(n) | Addr::Shifted(n, _) => usize::from(n),
            Addr::End(n) => self.capacity.saturating_sub(1 + usize::from(n)),
            Addr::PastEnd(n) => self.capacity.saturating_add(n.into()),
            Addr::Raw(n) => n,
        }
    }

    /// The size `size` chooses for a free or realloc at `addr`.
    pub fn free_size(&self, addr: usize, size: FreeSize) -> usize {
        let live = self.live.iter().find(|&&(start, _)| start == addr).map_or(1, |&(_, size)| size);
        match size {
            FreeSize::Exact => live,
            FreeSize::Delta(delta) => offset(live, delta),
            FreeSize::Zero => 0,
            FreeSize::PastEnd => self.capacity.saturating_sub(addr).saturating_add(1),
            FreeSize::Max => usize::MAX,
            FreeSize::Raw(n) => n,
        }
    }
}

/// The units an allocation of `size` occupies under `policy` and `min_alignment` (a power
/// of two): the size rounded up to it, then under buddy to a power of two; `None` when
/// that overflows.
pub fn footprint(policy: Policy, min_alignment: usize, size: usize) -> Option<usize> {
    let rounded = size.checked_next_multiple_of(min_alignment)?;
    if policy == Policy::Buddy { rounded.checked_next_power_of_two() } else { Some(rounded) }
}

/// Where a range for `allocate_with` / `ma_alloc_ex` lies.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum RangeChoice {
    /// The default, `0..usize::MAX`.
    Everywhere,
    /// The n-th free block with its ends moved by the deltas: a range that holds the block
    /// exactly, cuts it, or misses it by a little.
    AroundFree(u16, i8, i8),
    /// The span of the n-th live allocation: nothing fits inside.
    Live(u16),
    /// `[capacity * a / 256, capacity * b / 256)`, in either order: reversed and empty
    /// ranges too.
    Shares(u8, u8),
    /// From `capacity + n` to `usize::MAX`: empty once clamped.
    PastEnd(u8),
    /// Anything.
    Raw(usize, usize),
}

impl RangeChoice {
    /// The range, for an allocator of `capacity` with these free blocks and live
    /// allocations (`(start, size)` in address order).
    pub fn resolve(self, capacity: usize, free: &[(usize, usize)], live: &[(usize, usize)]) -> Range<usize> {
        let nth = |list: &[(usize, usize)], n: u16| list.get(usize::from(n) % list.len().max(1)).copied();
        let share = |n: u8| usize::try_from(capacity as u128 * u128::from(n) / 256).unwrap_or(usize::MAX);
        match self {
            RangeChoice::Everywhere => 0..usize::MAX,
            RangeChoice::AroundFree(n, lo, hi) => {
                let (start, size) = nth(free, n).unwrap_or((0, capacity));
                offset(start, lo)..offset(start.saturating_add(size), hi)
            }
            RangeChoice::Live(n) => {
                let (start, size) = nth(live, n).unwrap_or((0, 1));
                start..start.saturating_add(size)
            }
            RangeChoice::Shares(a, b) => share(a)..share(b),
            RangeChoice::PastEnd(n) => capacity.saturating_add(n.into())..usize::MAX,
            RangeChoice::Raw(lo, hi) => lo..hi,
        }
    }
}

/// The arguments of a request for `allocate_with` / `ma_alloc_ex`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct RequestArgs {
    /// The size.
    pub size: Size,
    /// The alignment (invalid ones included).
    pub alignment: Alignment,
    /// The range.
    pub range: RangeChoice,
    /// The highest place, not the lowest.
    pub top_down: bool,
    /// The tag (a few values, so that tags repeat).
    pub tag: u8,
    /// Pinned.
    pub pinned: bool,
}

impl RequestArgs {
    /// The request, for an allocator of `capacity` with these free blocks and live
    /// allocations.
    pub fn resolve(self, capacity: usize, free: &[(usize, usize)], live: &[(usize, usize)]) -> Request {
        Request {
            size: self.size.resolve(capacity, free),
            alignment: self.alignment.resolve(),
            range: self.range.resolve(capacity, free, live),
            top_down: self.top_down,
            pinned: self.pinned,
            tag: u64::from(self.tag % 4),
        }
    }
}

/// An address for `allocate_at` / `ma_alloc_at`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Place {
    /// Inside the n-th free block, `offset` units in (modulo its size), rounded down to the
    /// unit the policy needs (the minimum alignment; buddy: the footprint): mostly free.
    InFree(u16, u16),
    /// The start of the n-th free block.
    FreeStart(u16),
    /// Any [`Addr`]: live (occupied), stale, shifted, at or past the end.
    Other(Addr),
}

impl Place {
    /// The address, `unit` the alignment the policy needs for the footprint.
    pub fn resolve(self, targets: &Targets<'_>, free: &[(usize, usize)], unit: usize) -> usize {
        let nth = |n: u16| free.get(usize::from(n) % free.len().max(1)).copied();
        match self {
            Place::InFree(n, offset) => nth(n).map_or(usize::from(offset), |(start, size)| {
                let at = start + usize::from(offset) % size;
                at - at % unit.max(1)
            }),
            Place::FreeStart(n) => nth(n).map_or(0, |(start, _)| start),
            Place::Other(addr) => targets.addr(addr),
        }
    }
}

/// A new capacity for `set_capacity` / `ma_set_capacity`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum NewCapacity {
    /// The end of the last live footprint plus n (exactly it for 0).
    AboveLive(u16),
    /// The end of the last live footprint minus `1 + n`: occupied when it is positive.
    BelowLive(u8),
    /// `capacity * (n + 1) / 64`: shrinking (n < 63) or growing.
    Scale(u8),
    /// Any [`Capacity`], 0 and `usize::MAX` included.
    Other(Capacity),
}

impl NewCapacity {
    /// The new capacity, for an allocator of `capacity` whose last live footprint ends at
    /// `live_end` (0 when none is live).
    pub fn resolve(self, capacity: usize, live_end: usize) -> usize {
        match self {
            NewCapacity::AboveLive(n) => live_end.saturating_add(n.into()),
            NewCapacity::BelowLive(n) => live_end.saturating_sub(1 + usize::from(n)),
            NewCapacity::Scale(n) => usize::try_from(capacity as u128 * (u128::from(n) + 1) / 64).unwrap_or(usize::MAX),
            NewCapacity::Other(capacity) => capacity.resolve(),
        }
    }
}

/// The end of the last live footprint (0 when none): the least capacity `set_capacity`
/// accepts. `live` is in address order.
pub fn live_end(live: &[(usize, usize)], policy: Policy, min_alignment: usize) -> usize {
    live.last().map_or(0, |&(start, size)| {
        start + footprint(policy, min_alignment, size).expect("a live allocation's footprint fits")
    })
}

/// The alignment an `allocate_at` of `size` needs under `policy`: the minimum alignment,
/// under buddy the footprint.
pub fn reservation_unit(policy: Policy, min_alignment: usize, size: usize) -> usize {
    match footprint(policy, min_alignment, size) {
        Some(fp) if policy == Policy::Buddy => fp,
        _ => min_alignment,
    }
}
