//! The snapshot format: an allocator's whole state as bytes, to reopen it exactly
//! ([`crate::MemoryAllocator::save`], [`crate::MemoryAllocator::load`]).
//!
//! Little-endian, fixed-width fields, no padding; `docs/SNAPSHOT.md` describes it field by
//! field. This module only encodes and decodes; the heap rebuilds an allocator from a
//! decoded [`Snapshot`] and checks that it is one the library could have written.

use crate::Policy;
use crate::error::Error;
use crate::extent::Extent;

/// The first eight bytes of every snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"MEMALLOC";

/// The format version this library writes and reads.
pub(crate) const VERSION: u32 = 1;

/// Bytes before the records: magic, version, policy, minimum alignment, capacity, the
/// number of live allocations and of free blocks.
const HEADER: usize = 8 + 4 + 4 + 8 + 8 + 8 + 8;

/// Bytes of one live allocation's record: start, size, tag, alignment, flags, reserved.
const LIVE_RECORD: usize = 8 + 8 + 8 + 8 + 4 + 4;

/// Bytes of one free block's record: start, size.
const FREE_RECORD: usize = 8 + 8;

/// Bytes of the checksum at the end.
const CHECKSUM: usize = 8;

/// A live allocation's `flags` bit: pinned.
const FLAG_PINNED: u32 = 1;

/// One live allocation, as saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiveRecord {
    pub(crate) start: usize,
    pub(crate) size: usize,
    pub(crate) tag: u64,
    pub(crate) alignment: usize,
    pub(crate) pinned: bool,
}

/// An allocator's state as the format holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) policy: Policy,
    pub(crate) min_alignment: usize,
    pub(crate) capacity: usize,
    /// In ascending address order.
    pub(crate) live: Vec<LiveRecord>,
    /// The free blocks, in the order of the policy's index (see `Index::free_order`).
    pub(crate) free: Vec<Extent>,
}

/// FNV-1a, 64 bits: a checksum, not a defence (it catches truncation and corruption).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The policy's code in the format (its C value).
fn policy_code(policy: Policy) -> u32 {
    Policy::ALL.iter().position(|&p| p == policy).expect("every policy is in ALL") as u32
}

impl Snapshot {
    /// The encoded length of a snapshot of `live` allocations and `free` blocks.
    pub(crate) fn length(live: usize, free: usize) -> Option<usize> {
        HEADER
            .checked_add(live.checked_mul(LIVE_RECORD)?)?
            .checked_add(free.checked_mul(FREE_RECORD)?)?
            .checked_add(CHECKSUM)
    }

    /// The bytes of this snapshot.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let length = Self::length(self.live.len(), self.free.len()).expect("an allocator's snapshot fits in memory");
        let mut out = Vec::with_capacity(length);
        let word = |out: &mut Vec<u8>, value: usize| out.extend_from_slice(&(value as u64).to_le_bytes());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&policy_code(self.policy).to_le_bytes());
        word(&mut out, self.min_alignment);
        word(&mut out, self.capacity);
        word(&mut out, self.live.len());
        word(&mut out, self.free.len());
        for record in &self.live {
            word(&mut out, record.start);
            word(&mut out, record.size);
            out.extend_from_slice(&record.tag.to_le_bytes());
            word(&mut out, record.alignment);
            out.extend_from_slice(&(if record.pinned { FLAG_PINNED } else { 0 }).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        for block in &self.free {
            word(&mut out, block.start);
            word(&mut out, block.size);
        }
        let checksum = fnv1a(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        debug_assert_eq!(out.len(), length);
        out
    }

    /// Decodes `bytes`: the framing (magic, version, length, checksum) and every field's
    /// range. Whether the content is consistent (allocations inside the range and apart,
    /// free blocks that are the ones the allocations leave) is the heap's to check when it
    /// rebuilds the allocator. Never allocates more than the records `bytes` holds.
    ///
    /// # Errors
    /// [`Error::BadSnapshot`] for anything that is not a snapshot this version wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Snapshot, Error> {
        let bad = Error::BadSnapshot;
        if bytes.len() < HEADER + CHECKSUM || bytes[..8] != MAGIC {
            return Err(bad);
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM);
        if fnv1a(body).to_le_bytes() != checksum {
            return Err(bad);
        }
        let mut reader = Reader { bytes: &body[8..] };
        if reader.u32()? != VERSION {
            return Err(bad);
        }
        let policy = Policy::from_code(reader.u32()?).ok_or(bad)?;
        let (min_alignment, capacity) = (reader.usize()?, reader.usize()?);
        let (live_count, free_count) = (reader.usize()?, reader.usize()?);
        if Self::length(live_count, free_count) != Some(bytes.len()) {
            return Err(bad);
        }
        let mut live = Vec::with_capacity(live_count);
        for _ in 0..live_count {
            let (start, size, tag, alignment) = (reader.usize()?, reader.usize()?, reader.u64()?, reader.usize()?);
            let (flags, reserved) = (reader.u32()?, reader.u32()?);
            if flags & !FLAG_PINNED != 0 || reserved != 0 {
                return Err(bad);
            }
            live.push(LiveRecord { start, size, tag, alignment, pinned: flags & FLAG_PINNED != 0 });
        }
        let mut free = Vec::with_capacity(free_count);
        for _ in 0..free_count {
            let start = reader.usize()?;
            free.push(Extent::new(start, reader.usize()?));
        }
        Ok(Snapshot { policy, min_alignment, capacity, live, free })
    }
}

/// Little-endian fields off the front of a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self.bytes.split_first_chunk::<N>().ok_or(Error::BadSnapshot)?;
        self.bytes = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.take().map(u64::from_le_bytes)
    }

    /// A `u64` that must fit this target's `usize`.
    fn usize(&mut self) -> Result<usize, Error> {
        usize::try_from(self.u64()?).map_err(|_| Error::BadSnapshot)
    }
}
