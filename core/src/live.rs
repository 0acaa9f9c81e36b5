//! The live-allocation table: start address -> requested size, for every live allocation.
//!
//! Every `free` looks its address up here and every `allocate` adds one, so this table is
//! on the hot path of every call, and it holds one entry per allocation, so its size is
//! most of the metadata. It is an open-addressing hash table built for both:
//!
//! - **One probe sequence per call.** Linear probing over 16-byte slots (four to a cache
//!   line); a cheap multiplicative hash, because the keys are addresses that the allocator
//!   chose, not input an attacker picks.
//! - **Bounded memory.** The table grows by half when a new entry would take it past 80%
//!   full, so after a growth it is 53% full: at its peak number of allocations it holds
//!   20 to 30 bytes per allocation, within the 32-byte budget (like the index's node
//!   arrays, it keeps its size when allocations are freed, for the next peak). Deletion
//!   shifts later entries back instead of leaving tombstones, so churn never makes the
//!   table grow (a tombstoning table, such as the standard library's, can double under
//!   steady churn). Any table length works: the hash is mapped to a slot by a
//!   multiply-shift, not a mask.
//!
//! The view in address order (`blocks()`, `check_invariants()`) sorts a snapshot; it is
//! not on the allocate/free path.

/// One slot: `key` is the start address plus one (0 marks an empty slot; a start is
/// always below the capacity, so `start + 1` never overflows).
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: usize,
    size: usize,
}

/// Live allocations: start -> requested size.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveTable {
    slots: Vec<Slot>,
    len: usize,
}

/// Why [`LiveTable::remove_exact`] removed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// No allocation starts there.
    NotLive,
    /// One does, with another size.
    OtherSize,
}

/// An odd 64-bit constant with its bits spread evenly (the fractional part of the golden
/// ratio).
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// The fewest slots of a non-empty table.
const MIN_SLOTS: usize = 8;

impl LiveTable {
    /// The slot where the probe for `key` starts: a 64x64 -> 128-bit multiply, folded
    /// (high half xor low half) so that every bit of the address counts, then scaled to
    /// the table's length.
    fn home(&self, key: usize) -> usize {
        let product = u128::from(key as u64) * u128::from(MULTIPLIER);
        let hash = (product as u64) ^ ((product >> 64) as u64);
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    /// The slot holding `start`, if it is live.
    fn find(&self, start: usize) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let key = start + 1;
        let mut i = self.home(key);
        loop {
            match self.slots[i].key {
                0 => return None,
                k if k == key => return Some(i),
                _ => i = self.next(i),
            }
        }
    }

    /// The size of the allocation at `start`, if one is live.
    pub(crate) fn get(&self, start: usize) -> Option<usize> {
        self.find(start).map(|i| self.slots[i].size)
    }

    /// Records (or resizes) the allocation at `start`.
    pub(crate) fn insert(&mut self, start: usize, size: usize) {
        if self.slots.is_empty() {
            self.grow();
        }
        let key = start + 1;
        let mut i = self.home(key);
        loop {
            match self.slots[i].key {
                0 => {
                    // A new entry: grow first if it would take the table past 80% full
                    // (a resize of an existing one never grows the table).
                    if (self.len + 1) * 5 > self.slots.len() * 4 {
                        self.grow();
                        return self.insert(start, size);
                    }
                    self.slots[i] = Slot { key, size };
                    self.len += 1;
                    return;
                }
                k if k == key => {
                    self.slots[i].size = size;
                    return;
                }
                _ => i = self.next(i),
            }
        }
    }

    /// Rebuilds the table half as large again (at least [`MIN_SLOTS`]).
    fn grow(&mut self) {
        let slots = (self.slots.len() + self.slots.len() / 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots]);
        self.len = 0;
        for slot in old.into_iter().filter(|s| s.key != 0) {
            self.insert(slot.key - 1, slot.size);
        }
    }

    /// Empties slot `i` and moves later entries of the same probe run back into the gap,
    /// so that every entry stays reachable from its home without crossing an empty slot.
    fn vacate(&mut self, mut i: usize) {
        let mut j = i;
        loop {
            j = self.next(j);
            let key = self.slots[j].key;
            if key == 0 {
                break;
            }
            // The entry at j may move to i unless its home lies cyclically in (i, j].
            let home = self.home(key);
            let stays = if i <= j { i < home && home <= j } else { i < home || home <= j };
            if !stays {
                self.slots[i] = self.slots[j];
                i = j;
            }
        }
        self.slots[i] = Slot::default();
        self.len -= 1;
    }

    /// Forgets the allocation at `start`; its size, if it was live.
    pub(crate) fn remove(&mut self, start: usize) -> Option<usize> {
        let i = self.find(start)?;
        let size = self.slots[i].size;
        self.vacate(i);
        Some(size)
    }

    /// Removes the allocation at `start` if it is live with exactly `size` units: one
    /// probe both checks and removes. Otherwise nothing changes and the error says why.
    pub(crate) fn remove_exact(&mut self, start: usize, size: usize) -> Result<(), Mismatch> {
        let i = self.find(start).ok_or(Mismatch::NotLive)?;
        if self.slots[i].size != size {
            return Err(Mismatch::OtherSize);
        }
        self.vacate(i);
        Ok(())
    }

    /// The number of live allocations.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Forgets every allocation (the table keeps its size).
    pub(crate) fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.len = 0;
    }

    /// Every live allocation as `(start, size)`, in ascending address order.
    pub(crate) fn sorted(&self) -> Vec<(usize, usize)> {
        let mut all: Vec<(usize, usize)> =
            self.slots.iter().filter(|s| s.key != 0).map(|s| (s.key - 1, s.size)).collect();
        all.sort_unstable_by_key(|&(start, _)| start);
        all
    }

    /// Checks the table's invariants: the count, the fill bound, and that every entry is
    /// reachable from its home slot without crossing an empty one.
    pub(crate) fn check(&self) -> Result<(), String> {
        let used = self.slots.iter().filter(|s| s.key != 0).count();
        if used != self.len {
            return Err(format!("live table counts {} entries but holds {used}", self.len));
        }
        if self.len * 5 > self.slots.len() * 4 {
            return Err(format!("live table over 80% full: {} of {}", self.len, self.slots.len()));
        }
        for (j, slot) in self.slots.iter().enumerate().filter(|(_, s)| s.key != 0) {
            let mut i = self.home(slot.key);
            while i != j {
                if self.slots[i].key == 0 {
                    return Err(format!("live allocation at {} is cut off from its home slot", slot.key - 1));
                }
                i = self.next(i);
            }
        }
        Ok(())
    }

    /// Host bytes held by the table's slots.
    #[cfg(test)]
    fn slot_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use std::collections::HashMap;

    use super::*;

    #[test]
    fn remove_exact_checks_presence_then_size_and_changes_nothing_on_error() {
        let mut live = LiveTable::default();
        assert_eq!(live.remove_exact(0, 10), Err(Mismatch::NotLive));
        live.insert(64, 10);
        assert_eq!(live.remove_exact(0, 10), Err(Mismatch::NotLive));
        assert_eq!(live.remove_exact(64, 11), Err(Mismatch::OtherSize));
        assert_eq!(live.get(64), Some(10));
        assert_eq!(live.remove_exact(64, 10), Ok(()));
        assert_eq!((live.get(64), live.len()), (None, 0));
        live.check().unwrap();
    }

    #[test]
    fn sorted_lists_allocations_by_address() {
        let mut live = LiveTable::default();
        for start in [300, 0, 4096, 17, usize::MAX - 1] {
            live.insert(start, 1);
        }
        live.insert(17, 18);
        let starts: Vec<usize> = live.sorted().iter().map(|&(s, _)| s).collect();
        assert_eq!(starts, vec![0, 17, 300, 4096, usize::MAX - 1]);
        assert_eq!(live.get(17), Some(18));
    }

    /// Random inserts, removals and lookups against `HashMap`, with keys from a small
    /// range (long probe runs, wrap-around at the end of the table) and aligned keys.
    #[test]
    fn random_operations_match_a_hash_map() {
        let mut rng = SmallRng::seed_from_u64(0x2545_f491_4f6c_dd1d_u64);
        let mut next = move |bound: usize| rng.random_range(0..bound);
        for spread in [64, 4096, 1 << 40] {
            let (mut live, mut model) = (LiveTable::default(), HashMap::new());
            for step in 0..if cfg!(miri) { 500 } else { 30_000 } {
                let start = next(spread) << (spread.trailing_zeros() % 7);
                match next(4) {
                    0 | 1 => {
                        let size = 1 + next(100);
                        live.insert(start, size);
                        model.insert(start, size);
                    }
                    2 => assert_eq!(live.remove(start), model.remove(&start), "step {step}"),
                    _ => {
                        let size = model.get(&start).copied().unwrap_or(1);
                        let expected = if model.remove(&start).is_some() { Ok(()) } else { Err(Mismatch::NotLive) };
                        assert_eq!(live.remove_exact(start, size), expected, "step {step}");
                    }
                }
                assert_eq!(live.get(start), model.get(&start).copied());
                assert_eq!(live.len(), model.len());
                if step % 97 == 0 {
                    live.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
                }
            }
            live.check().unwrap();
            let mut expected: Vec<(usize, usize)> = model.into_iter().collect();
            expected.sort_unstable();
            assert_eq!(live.sorted(), expected);
        }
    }

    #[test]
    fn resizing_an_entry_never_grows_the_table() {
        let mut live = LiveTable::default();
        for start in 0..6 {
            live.insert(start, 1);
        }
        let slots = live.slots.len();
        // One more entry would pass 80% of the slots; a resize is no new entry.
        assert!((live.len() + 1) * 5 > slots * 4, "the table should be at its threshold");
        live.insert(0, 2);
        assert_eq!((live.slots.len(), live.get(0)), (slots, Some(2)));
        live.insert(6, 1);
        assert!(live.slots.len() > slots);
        live.check().unwrap();
    }

    #[test]
    fn clear_forgets_every_allocation() {
        let mut live = LiveTable::default();
        for start in 0..100 {
            live.insert(start * 8, 8);
        }
        live.clear();
        assert_eq!((live.len(), live.get(0), live.sorted()), (0, None, vec![]));
        live.check().unwrap();
        live.insert(8, 1);
        assert_eq!(live.sorted(), vec![(8, 1)]);
    }

    #[test]
    fn the_check_catches_a_wrong_count_an_overfull_table_and_a_cut_off_entry() {
        let mut live = LiveTable::default();
        for start in 0..100 {
            live.insert(start * 8, 8);
        }
        live.check().unwrap();

        let mut miscounted = live.clone();
        miscounted.len += 1;
        assert!(miscounted.check().unwrap_err().contains("counts"));

        let mut overfull = live.clone();
        let (key, size) = (1, 1);
        overfull.slots.iter_mut().filter(|s| s.key == 0).for_each(|s| *s = Slot { key, size });
        overfull.len = overfull.slots.len();
        assert!(overfull.check().unwrap_err().contains("full"));

        // Move an entry one slot before its home: a probe from home never reaches it.
        let mut cut_off = live.clone();
        let n = cut_off.slots.len();
        let j = (0..n)
            .find(|&j| {
                let key = cut_off.slots[j].key;
                key != 0 && cut_off.home(key) == j && cut_off.slots[(j + n - 1) % n].key == 0
            })
            .expect("some entry sits at its home after an empty slot");
        cut_off.slots[(j + n - 1) % n] = cut_off.slots[j];
        cut_off.slots[j] = Slot::default();
        assert!(cut_off.check().unwrap_err().contains("cut off"));
    }

    /// The mean distance of an entry from its home slot: about 1 for a hash that spreads
    /// keys evenly at this table's fill, far more when keys pile up on a few homes.
    fn mean_displacement(live: &LiveTable) -> f64 {
        let n = live.slots.len();
        let total: usize = live
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.key != 0)
            .map(|(j, s)| (j + n - live.home(s.key)) % n)
            .sum();
        total as f64 / live.len() as f64
    }

    #[test]
    fn the_hash_spreads_aligned_and_clustered_addresses() {
        // Multiples of 2^16 (a plain mask of the low bits would put them all in slot 0),
        // consecutive addresses, and addresses that differ only in their high bits.
        let n = if cfg!(miri) { 200 } else { 5_000 };
        for keys in
            [(0..n).map(|i| i << 16).collect::<Vec<usize>>(), (0..n).collect(), (0..n).map(|i| i << 40 | 7).collect()]
        {
            let mut live = LiveTable::default();
            for &start in &keys {
                live.insert(start, 1);
            }
            let mean = mean_displacement(&live);
            assert!(mean < 4.0, "mean displacement {mean:.1} slots");
        }
    }

    #[test]
    fn memory_stays_within_32_bytes_per_entry_under_churn() {
        let mut live = LiveTable::default();
        let n: usize = if cfg!(miri) { 300 } else { 20_000 };
        for i in 0..n {
            live.insert(i * 64, 1);
            assert!(
                live.slot_bytes() <= 32 * live.len().max(MIN_SLOTS / 2),
                "{} bytes for {}",
                live.slot_bytes(),
                live.len()
            );
        }
        let before = live.slot_bytes();
        // Steady churn: remove one, insert another; no tombstones, so no growth.
        for i in 0..5 * n {
            live.remove((i % n) * 64).unwrap();
            live.insert((i % n) * 64, 2);
        }
        assert_eq!(live.slot_bytes(), before);
        live.check().unwrap();
    }
}
