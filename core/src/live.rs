//! The live-allocation table: start address -> requested size, for every live allocation.
//!
//! Every `free` looks its address up here and every `allocate` adds one, so this table is
//! on the hot path of every call. It is a hash map (the standard library's SwissTable)
//! keyed by address with a cheap multiplicative hash instead of SipHash: the keys are
//! addresses that the allocator itself chose, not input an attacker can pick, and a lookup
//! costs one probe into a flat array instead of a descent through a tree. The map view
//! in address order (`blocks()`, `check_invariants()`) sorts a snapshot; it is not on the
//! allocate/free path.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

/// Live allocations: start -> requested size.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveTable {
    sizes: HashMap<usize, usize, BuildHasherDefault<AddressHasher>>,
}

impl LiveTable {
    /// The size of the allocation at `start`, if one is live.
    pub(crate) fn get(&self, start: usize) -> Option<usize> {
        self.sizes.get(&start).copied()
    }

    /// Records (or resizes) the allocation at `start`.
    pub(crate) fn insert(&mut self, start: usize, size: usize) {
        self.sizes.insert(start, size);
    }

    /// Forgets the allocation at `start`; its size, if it was live.
    pub(crate) fn remove(&mut self, start: usize) -> Option<usize> {
        self.sizes.remove(&start)
    }

    /// Removes the allocation at `start` if it is live with exactly `size` units: one
    /// probe both checks and removes. Otherwise nothing changes and the error says why.
    pub(crate) fn remove_exact(&mut self, start: usize, size: usize) -> Result<(), Mismatch> {
        match self.sizes.entry(start) {
            Entry::Vacant(_) => Err(Mismatch::NotLive),
            Entry::Occupied(live) if *live.get() != size => Err(Mismatch::OtherSize),
            Entry::Occupied(live) => {
                live.remove();
                Ok(())
            }
        }
    }

    /// The number of live allocations.
    pub(crate) fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Forgets every allocation.
    pub(crate) fn clear(&mut self) {
        self.sizes.clear();
    }

    /// Every live allocation as `(start, size)`, in ascending address order.
    pub(crate) fn sorted(&self) -> Vec<(usize, usize)> {
        let mut all: Vec<(usize, usize)> = self.sizes.iter().map(|(&start, &size)| (start, size)).collect();
        all.sort_unstable_by_key(|&(start, _)| start);
        all
    }
}

/// Why [`LiveTable::remove_exact`] removed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// No allocation starts there.
    NotLive,
    /// One does, with another size.
    OtherSize,
}

/// Hashes one address: a 64x64 -> 128-bit multiply by an odd constant, folded (high half
/// xor low half). Every input bit reaches the bits the table indexes with (low) and the
/// bits it tags with (high), so addresses that are all multiples of a large alignment
/// still spread over the table.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AddressHasher {
    hash: u64,
}

/// An odd 64-bit constant with bits spread evenly (the fractional part of the golden
/// ratio).
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl AddressHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.hash ^ word) * u128::from(MULTIPLIER);
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used for `usize` keys; kept correct for any other key type.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, value: usize) {
        self.mix(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_exact_checks_presence_then_size_and_changes_nothing_on_error() {
        let mut live = LiveTable::default();
        live.insert(64, 10);
        assert_eq!(live.remove_exact(0, 10), Err(Mismatch::NotLive));
        assert_eq!(live.remove_exact(64, 11), Err(Mismatch::OtherSize));
        assert_eq!(live.get(64), Some(10));
        assert_eq!(live.remove_exact(64, 10), Ok(()));
        assert_eq!((live.get(64), live.len()), (None, 0));
    }

    #[test]
    fn sorted_lists_allocations_by_address() {
        let mut live = LiveTable::default();
        for start in [300, 0, 4096, 17] {
            live.insert(start, start + 1);
        }
        assert_eq!(live.sorted(), vec![(0, 1), (17, 18), (300, 301), (4096, 4097)]);
    }

    #[test]
    fn aligned_addresses_spread_over_the_low_bits() {
        // Multiples of 2^16: a plain multiply would leave the low 16 bits all zero.
        let buckets: std::collections::HashSet<u64> = (0..1024u64)
            .map(|i| {
                let mut h = AddressHasher::default();
                h.write_usize((i << 16) as usize);
                h.finish() & 1023
            })
            .collect();
        assert!(buckets.len() > 512, "only {} of 1024 buckets used", buckets.len());
    }
}
