//! What fuzz bytes decode into: capacities, alignments, sizes and address choices that
//! aim at the interesting values (tiny, huge, near the capacity, live, stale, shifted),
//! resolved against the current state so that valid calls stay frequent.

use arbitrary::{Arbitrary, Unstructured};

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
