//! The live table: start address -> the allocated block's slot in the block table, for
//! every live allocation.
//!
//! Every `free` looks its address up here and every `allocate` adds an entry, so the table
//! is on the hot path of every call; it holds one entry per allocation, so its size is a
//! large part of the metadata. It is an open-addressing hash table built for both:
//!
//! - **Five bytes a slot.** A slot holds the block's slot number (`u32`) and its distance
//!   from its home slot (one byte), not the address: the address is in the block, which
//!   the caller reads anyway once it is found. The table is at most 80% full and grows by
//!   a quarter, so it takes 6.25-7.8 bytes per allocation.
//! - **Robin Hood order.** Along a probe run, entries sit in the order of their home
//!   slots (an entry further from home is never behind one closer to home). A lookup
//!   therefore compares addresses only with the entries that share its home slot (about
//!   0.8 others on average at the fullest), and stops as soon as it meets an entry closer
//!   to home than itself. Deletion shifts the rest of the run back by one slot instead of
//!   leaving a tombstone, so churn never makes the table grow; the stored distances tell
//!   where the run ends without reading any address.
//! - A cheap multiplicative hash, because the keys are addresses that the allocator chose,
//!   not input an attacker picks; it is mapped to a slot by a multiply-shift, so any table
//!   length works.
//!
//! The table never grows under churn: it keeps its size when entries leave, for the next
//! peak.

/// One slot: the block's slot number (little-endian, bytes 0-3) and its distance from its
/// home slot plus one (byte 4; 0 marks an empty slot). Five bytes, not eight: a struct of a
/// `u32` and a `u8` would be padded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot([u8; 5]);

impl Slot {
    const EMPTY: Slot = Slot([0; 5]);

    fn new(id: u32, distance: u8) -> Slot {
        let [a, b, c, d] = id.to_le_bytes();
        Slot([a, b, c, d, distance + 1])
    }

    fn id(self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    fn is_empty(self) -> bool {
        self.0[4] == 0
    }

    /// The distance from the home slot (for a full slot).
    fn distance(self) -> u8 {
        self.0[4].wrapping_sub(1)
    }

    /// The same entry, `by` slots further from home.
    fn moved(self, by: i8) -> Slot {
        let mut slot = self;
        slot.0[4] = slot.0[4].wrapping_add_signed(by);
        slot
    }
}

/// The greatest distance from home an entry may have; an insert that would go past it
/// grows the table first. Robin Hood keeps distances short (a few slots at 80% full), so
/// this only guards against a pathological run.
const MAX_DISTANCE: u8 = 200;

/// An odd 64-bit constant with its bits spread evenly (the fractional part of the golden
/// ratio).
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// The fewest slots of a non-empty table.
const MIN_SLOTS: usize = 8;

/// Live allocations: start address -> block slot.
///
/// Invariants (checked by [`LiveTable::check`]): `len` slots are full, at most 80% of
/// them; every entry sits `distance` slots after its home; along the table no entry is
/// followed by one more than one slot further from home (Robin Hood order, no gap in a
/// run); every address appears once.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveTable {
    slots: Vec<Slot>,
    len: usize,
}

/// Where a key was found: its slot in the table and the block slot it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    position: usize,
    /// The allocated block's slot in the block table.
    pub(crate) id: u32,
}

impl LiveTable {
    /// The slot where the probe for `start` begins: a 64x64 -> 128-bit multiply, folded
    /// (high half xor low half) so that every bit of the address counts, then scaled to
    /// the table's length.
    #[inline]
    fn home(&self, start: usize) -> usize {
        let product = u128::from(start as u64) * u128::from(MULTIPLIER);
        let hash = (product as u64) ^ ((product >> 64) as u64);
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    /// The number of live allocations.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The entry for `start`, if it is live; `start_of` gives a block slot's address.
    #[inline]
    pub(crate) fn find(&self, start: usize, start_of: impl Fn(u32) -> usize) -> Option<Found> {
        if self.len == 0 {
            return None;
        }
        let mut i = self.home(start);
        let mut distance = 0u8;
        loop {
            let slot = self.slots[i];
            // An empty slot, or an entry closer to its home than this probe is to its own:
            // Robin Hood order puts `start` before either, so it is not here.
            if slot.is_empty() || slot.distance() < distance {
                return None;
            }
            if slot.distance() == distance && start_of(slot.id()) == start {
                return Some(Found { position: i, id: slot.id() });
            }
            i = self.next(i);
            distance += 1;
        }
    }

    /// Records that the allocation at `start` (not live yet) is block slot `id`.
    /// `start_of` gives a block slot's address, for when the table grows.
    #[inline]
    pub(crate) fn insert(&mut self, start: usize, id: u32, start_of: impl Fn(u32) -> usize) {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow(&start_of);
        }
        while let Err(()) = self.place(start, id) {
            self.grow(&start_of);
        }
        self.len += 1;
    }

    /// Puts `id` into the run from `start`'s home, displacing entries that are closer to
    /// their homes (Robin Hood). Changes nothing and fails when an entry would end up
    /// more than [`MAX_DISTANCE`] from home.
    fn place(&mut self, start: usize, id: u32) -> Result<(), ()> {
        // The new entry goes before the first entry that is closer to its home than the
        // new one would be at that slot (or into the first empty slot).
        let (mut i, mut distance) = (self.home(start), 0u8);
        while !self.slots[i].is_empty() && self.slots[i].distance() >= distance {
            if distance == MAX_DISTANCE {
                return Err(());
            }
            i = self.next(i);
            distance += 1;
        }
        // Every later entry of the run moves one slot further from home.
        let mut j = i;
        while !self.slots[j].is_empty() {
            if self.slots[j].distance() >= MAX_DISTANCE {
                return Err(());
            }
            j = self.next(j);
        }
        let mut carried = Slot::new(id, distance);
        loop {
            let displaced = std::mem::replace(&mut self.slots[i], carried);
            if displaced.is_empty() {
                return Ok(());
            }
            carried = displaced.moved(1);
            i = self.next(i);
        }
    }

    /// Removes the entry that [`LiveTable::find`] returned, shifting the rest of its run
    /// back by one slot.
    #[inline]
    pub(crate) fn remove(&mut self, found: Found) {
        let mut i = found.position;
        loop {
            let j = self.next(i);
            let slot = self.slots[j];
            if slot.is_empty() || slot.distance() == 0 {
                break;
            }
            self.slots[i] = slot.moved(-1);
            i = j;
        }
        self.slots[i] = Slot::EMPTY;
        self.len -= 1;
    }

    /// Rebuilds the table a quarter larger (at least [`MIN_SLOTS`]), and larger again in
    /// the unlikely case that some run would still be too long.
    #[cold]
    fn grow(&mut self, start_of: &impl Fn(u32) -> usize) {
        let ids: Vec<u32> = self.ids().collect();
        let mut slots = self.slots.len();
        'rebuild: loop {
            slots = (slots + slots / 4).max(MIN_SLOTS);
            self.slots = vec![Slot::EMPTY; slots];
            for &id in &ids {
                if self.place(start_of(id), id).is_err() {
                    continue 'rebuild;
                }
            }
            return;
        }
    }

    /// Forgets every allocation (the table keeps its size).
    pub(crate) fn clear(&mut self) {
        self.slots.fill(Slot::EMPTY);
        self.len = 0;
    }

    /// Every entry's block slot, in table order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().filter(|s| !s.is_empty()).map(|s| s.id())
    }

    /// Checks the table's invariants (see [`LiveTable`]); `start_of` gives a block slot's
    /// address.
    pub(crate) fn check(&self, start_of: impl Fn(u32) -> usize) -> Result<(), String> {
        let used = self.slots.iter().filter(|s| !s.is_empty()).count();
        if used != self.len {
            return Err(format!("live table counts {} entries but holds {used}", self.len));
        }
        if self.len * 5 > self.slots.len() * 4 {
            return Err(format!("live table over 80% full: {} of {}", self.len, self.slots.len()));
        }
        let n = self.slots.len();
        for (j, slot) in self.slots.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            let start = start_of(slot.id());
            let home = self.home(start);
            if (home + usize::from(slot.distance())) % n != j {
                return Err(format!("live allocation at {start} is not where its distance from home says"));
            }
            let next = self.slots[(j + 1) % n];
            if !next.is_empty() && next.distance() > slot.distance() + 1 {
                return Err(format!("the run after the live allocation at {start} is out of Robin Hood order"));
            }
            if self.find(start, &start_of).map(|f| f.position) != Some(j) {
                return Err(format!("live allocation at {start} cannot be found, or is there twice"));
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
    use std::collections::HashMap;

    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// A live table over a vector of addresses: block slot `i` starts at `starts[i]`.
    struct Fixture {
        live: LiveTable,
        starts: Vec<usize>,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture { live: LiveTable::default(), starts: Vec::new() }
        }

        fn insert(&mut self, start: usize) -> u32 {
            let id = self.starts.len() as u32;
            self.starts.push(start);
            let starts = &self.starts;
            self.live.insert(start, id, |id| starts[id as usize]);
            id
        }

        fn find(&self, start: usize) -> Option<Found> {
            self.live.find(start, |id| self.starts[id as usize])
        }

        fn remove(&mut self, start: usize) -> Option<u32> {
            let found = self.find(start)?;
            self.live.remove(found);
            Some(found.id)
        }

        fn check(&self) -> Result<(), String> {
            self.live.check(|id| self.starts[id as usize])
        }
    }

    #[test]
    fn find_insert_and_remove() {
        let mut table = Fixture::new();
        assert_eq!(table.find(0), None);
        let a = table.insert(64);
        let b = table.insert(0);
        assert_eq!(table.find(64).map(|f| f.id), Some(a));
        assert_eq!(table.find(0).map(|f| f.id), Some(b));
        assert_eq!(table.find(1), None);
        assert_eq!(table.remove(64), Some(a));
        assert_eq!((table.find(64), table.live.len()), (None, 1));
        table.check().unwrap();
    }

    /// Random inserts, removals and lookups against `HashMap`, with keys from a small
    /// range (long probe runs, wrap-around at the end of the table) and aligned keys.
    #[test]
    fn random_operations_match_a_hash_map() {
        let mut rng = SmallRng::seed_from_u64(0x2545_f491_4f6c_dd1d_u64);
        for spread in [64usize, 4096, 1 << 40] {
            let mut table = Fixture::new();
            let mut model: HashMap<usize, u32> = HashMap::new();
            for step in 0..if cfg!(miri) { 500 } else { 30_000 } {
                let start = rng.random_range(0..spread) << (spread.trailing_zeros() % 7);
                if rng.random_range(0..3) < 2 && !model.contains_key(&start) {
                    model.insert(start, table.insert(start));
                } else {
                    assert_eq!(table.remove(start), model.remove(&start), "step {step}");
                }
                assert_eq!(table.find(start).map(|f| f.id), model.get(&start).copied());
                assert_eq!(table.live.len(), model.len());
                if step % 97 == 0 {
                    table.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
                }
            }
            table.check().unwrap();
            let mut ids: Vec<u32> = table.live.ids().collect();
            let mut expected: Vec<u32> = model.into_values().collect();
            ids.sort_unstable();
            expected.sort_unstable();
            assert_eq!(ids, expected);
        }
    }

    #[test]
    fn clear_forgets_every_allocation() {
        let mut table = Fixture::new();
        for start in 0..100 {
            table.insert(start * 8);
        }
        table.live.clear();
        assert_eq!((table.live.len(), table.find(0), table.live.ids().count()), (0, None, 0));
        table.check().unwrap();
        table.insert(8);
        assert!(table.find(8).is_some());
    }

    #[test]
    fn the_check_catches_a_wrong_count_an_overfull_table_and_a_misplaced_entry() {
        let mut table = Fixture::new();
        for start in 0..100 {
            table.insert(start * 8);
        }
        table.check().unwrap();

        let mut miscounted = LiveTable { slots: table.live.slots.clone(), len: table.live.len + 1 };
        std::mem::swap(&mut miscounted, &mut table.live);
        assert!(table.check().unwrap_err().contains("counts"));
        std::mem::swap(&mut miscounted, &mut table.live);

        let mut overfull = table.live.clone();
        let filler = Slot::new(0, 0);
        overfull.slots.iter_mut().filter(|s| s.is_empty()).for_each(|s| *s = filler);
        overfull.len = overfull.slots.len();
        std::mem::swap(&mut overfull, &mut table.live);
        assert!(table.check().unwrap_err().contains("full"));
        std::mem::swap(&mut overfull, &mut table.live);

        // An entry one slot further from home than its distance says.
        let n = table.live.slots.len();
        let j = (0..n)
            .find(|&j| !table.live.slots[j].is_empty() && table.live.slots[(j + 1) % n].is_empty())
            .expect("some entry ends a run");
        table.live.slots[(j + 1) % n] = table.live.slots[j];
        table.live.slots[j] = Slot::EMPTY;
        assert!(table.check().is_err());
    }

    /// The mean distance of an entry from its home slot: about 1 for a hash that spreads
    /// keys evenly at this table's fill, far more when keys pile up on a few homes.
    fn mean_distance(live: &LiveTable) -> f64 {
        let total: usize = live.slots.iter().filter(|s| !s.is_empty()).map(|s| usize::from(s.distance())).sum();
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
            let mut table = Fixture::new();
            for &start in &keys {
                table.insert(start);
            }
            let mean = mean_distance(&table.live);
            assert!(mean < 4.0, "mean distance {mean:.1} slots");
        }
    }

    #[test]
    fn memory_stays_within_8_bytes_per_entry_and_churn_never_grows_the_table() {
        let mut table = Fixture::new();
        let n: usize = if cfg!(miri) { 300 } else { 20_000 };
        for i in 0..n {
            table.insert(i * 64);
            assert!(
                table.live.slot_bytes() <= 8 * table.live.len().max(MIN_SLOTS),
                "{} bytes for {}",
                table.live.slot_bytes(),
                table.live.len()
            );
        }
        let before = table.live.slot_bytes();
        // Steady churn: remove one, insert another; no tombstones, so no growth.
        for i in 0..5 * n {
            table.remove((i % n) * 64).unwrap();
            table.starts[i % n] = usize::MAX;
            let start = (i % n) * 64;
            let id = (i % n) as u32;
            table.starts[id as usize] = start;
            let starts = &table.starts;
            table.live.insert(start, id, |id| starts[id as usize]);
        }
        assert_eq!(table.live.slot_bytes(), before);
        table.check().unwrap();
    }
}
