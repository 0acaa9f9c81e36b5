//! The live table: start address -> the allocated block's slot in the block table, for
//! every live allocation.
//!
//! Every `free` looks its address up here and every `allocate` adds an entry, so the table
//! is on the hot path of every call; it holds one entry per allocation, so its size is a
//! large part of the metadata. It is a bucketed cuckoo hash table built for both:
//!
//! - **Five bytes a slot.** A slot holds the block's slot number (`u32`) and a one-byte
//!   tag from the address's hash, not the address: the address is in the block, which the
//!   caller reads anyway once it is found. The tags tell, eight slots at a time, which
//!   slots may hold an address (about one in 255 of the others match by chance), so a
//!   lookup reads the block table about once.
//! - **Two buckets of eight slots per address.** Every address lives in one of two
//!   buckets that its hash picks (cuckoo hashing). A lookup reads at most those two
//!   buckets; an insert takes a free slot in either, and only when both are full moves an
//!   entry to its other bucket to make room (rare below 90% full); a removal clears one
//!   tag. No probe runs, no shifting, no tombstones: each operation is a few word
//!   operations with few branches, whatever the fill.
//! - **Full and small.** The table grows by a fifth once it is 90% full, so it is 75-90%
//!   full: 5.6-6.7 bytes per allocation. It keeps its size when entries leave,
//!   for the next peak, and churn never makes it grow.
//! - A cheap multiplicative hash, because the keys are addresses that the allocator chose,
//!   not input an attacker picks; it is mapped to a bucket by a multiply-shift, so any
//!   number of buckets works.

/// Slots per bucket: one word of tags.
const WAYS: usize = 8;

/// Eight slots: one tag byte each (0 marks an empty slot), and the block slots.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    tags: [u8; WAYS],
    ids: [u32; WAYS],
}

/// One byte repeated in every byte of a word.
const fn splat(byte: u8) -> u64 {
    u64::from_le_bytes([byte; WAYS])
}

impl Bucket {
    /// Bit `8i + 7` set exactly where slot `i`'s tag equals `tag` (0: the empty slots).
    #[inline]
    fn matching(&self, tag: u8) -> u64 {
        let x = u64::from_le_bytes(self.tags) ^ splat(tag);
        // A byte of `x` is zero exactly where the tags match; this sets the high bit of
        // exactly the zero bytes (no borrow between bytes, unlike `(x - 1) & !x`).
        !(((x & splat(0x7f)) + splat(0x7f)) | x | splat(0x7f))
    }
}

/// The slot of the lowest match in a [`Bucket::matching`] mask.
#[inline]
fn first_slot(mask: u64) -> usize {
    mask.trailing_zeros() as usize / 8
}

/// Two odd 64-bit constants with their bits spread evenly (from the golden ratio and the
/// square root of 3), one per bucket choice.
const MULTIPLIERS: [u64; 2] = [0x9E37_79B9_7F4A_7C15, 0xBB67_AE85_84CA_A73B];

/// How many entries an insert may move before it gives up and grows the table.
const MAX_MOVES: usize = 64;

/// Live allocations: start address -> block slot.
///
/// Invariants (checked by [`LiveTable::check`]): `len` slots are full, at most 90% of
/// them; every entry sits in one of its address's two buckets, under its address's tag;
/// every address appears once.
#[derive(Debug, Default, Clone)]
pub(crate) struct LiveTable {
    buckets: Vec<Bucket>,
    len: usize,
    /// Which slot of a full bucket an insert moves out next: it turns, so that a chain of
    /// moves does not bounce between the same two entries.
    victim: usize,
}

/// Where a key was found: its bucket and slot in the table, and the block slot it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    bucket: usize,
    slot: usize,
    /// The allocated block's slot in the block table.
    pub(crate) id: u32,
}

/// Where an address may live: its two buckets and its tag.
#[derive(Debug, Clone, Copy)]
struct Place {
    buckets: [usize; 2],
    tag: u8,
}

impl LiveTable {
    /// The two buckets and the tag of `start`: per bucket choice, a 64x64 -> 128-bit
    /// multiply folded (high half xor low half) so that every bit of the address counts,
    /// then scaled to the number of buckets; the tag is the top byte of the first hash
    /// (never 0).
    #[inline]
    fn place_of(&self, start: usize) -> Place {
        let hash = |k: u64| {
            let product = u128::from(start as u64) * u128::from(k);
            (product as u64) ^ ((product >> 64) as u64)
        };
        let (first, second) = (hash(MULTIPLIERS[0]), hash(MULTIPLIERS[1]));
        let n = self.buckets.len() as u128;
        let scale = |h: u64| ((u128::from(h) * n) >> 64) as usize;
        Place { buckets: [scale(first), scale(second)], tag: ((first >> 56) as u8).max(1) }
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
        let place = self.place_of(start);
        for bucket in place.buckets {
            let b = &self.buckets[bucket];
            let mut mask = b.matching(place.tag);
            while mask != 0 {
                let slot = first_slot(mask);
                if start_of(b.ids[slot]) == start {
                    return Some(Found { bucket, slot, id: b.ids[slot] });
                }
                mask &= mask - 1;
            }
        }
        None
    }

    /// Records that the allocation at `start` (not live yet) is block slot `id`.
    /// `start_of` gives a block slot's address, for entries that move and when the table
    /// grows.
    #[inline]
    pub(crate) fn insert(&mut self, start: usize, id: u32, start_of: impl Fn(u32) -> usize) {
        if (self.len + 1) * 10 > self.buckets.len() * WAYS * 9 {
            self.grow(&start_of, None);
        }
        if let Err(homeless) = self.put(start, id, &start_of) {
            self.grow(&start_of, Some(homeless));
        }
        self.len += 1;
    }

    /// Puts `id` (at `start`) into a free slot of one of its buckets, moving entries to
    /// their other bucket to make room when both are full. After [`MAX_MOVES`] moves it
    /// gives up and returns the entry it is left holding (not always `id`); every other
    /// entry is in the table.
    fn put(&mut self, start: usize, id: u32, start_of: &impl Fn(u32) -> usize) -> Result<(), u32> {
        let mut id = id;
        let mut place = self.place_of(start);
        for _ in 0..MAX_MOVES {
            for bucket in place.buckets {
                let b = &mut self.buckets[bucket];
                let empty = b.matching(0);
                if empty != 0 {
                    let slot = first_slot(empty);
                    (b.tags[slot], b.ids[slot]) = (place.tag, id);
                    return Ok(());
                }
            }
            // Both full: take the place of an entry of the first bucket, which goes on to
            // its other bucket.
            let bucket = place.buckets[0];
            let slot = self.victim % WAYS;
            self.victim = self.victim.wrapping_add(1);
            let b = &mut self.buckets[bucket];
            let moved = std::mem::replace(&mut b.ids[slot], id);
            b.tags[slot] = place.tag;
            id = moved;
            place = self.place_of(start_of(moved));
            // It leaves `bucket`: its other bucket is where it must go (when both its
            // choices are this bucket, it tries the full bucket again and moves another).
            if place.buckets[0] == bucket {
                place.buckets.swap(0, 1);
            }
        }
        Err(id)
    }

    /// Removes the entry that [`LiveTable::find`] returned.
    #[inline]
    pub(crate) fn remove(&mut self, found: Found) {
        self.buckets[found.bucket].tags[found.slot] = 0;
        self.len -= 1;
    }

    /// Rebuilds the table a fifth larger (at least one bucket more), with `extra` (an entry
    /// that found no place) added; larger again in the unlikely case that some entry still
    /// finds no place.
    #[cold]
    fn grow(&mut self, start_of: &impl Fn(u32) -> usize, extra: Option<u32>) {
        let ids: Vec<u32> = self.ids().chain(extra).collect();
        let mut buckets = self.buckets.len();
        'rebuild: loop {
            buckets = (buckets + buckets / 5).max(buckets + 1);
            self.buckets = vec![Bucket::default(); buckets];
            for &id in &ids {
                if self.put(start_of(id), id, start_of).is_err() {
                    continue 'rebuild;
                }
            }
            return;
        }
    }

    /// Forgets every allocation (the table keeps its size).
    pub(crate) fn clear(&mut self) {
        self.buckets.fill(Bucket::default());
        self.len = 0;
    }

    /// Every entry's block slot, in table order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flat_map(|b| b.tags.iter().zip(&b.ids).filter(|(tag, _)| **tag != 0).map(|(_, &id)| id))
    }

    /// Checks the table's invariants (see [`LiveTable`]); `start_of` gives a block slot's
    /// address.
    pub(crate) fn check(&self, start_of: impl Fn(u32) -> usize) -> Result<(), String> {
        let used = self.ids().count();
        if used != self.len {
            return Err(format!("live table counts {} entries but holds {used}", self.len));
        }
        if self.len * 10 > self.buckets.len() * WAYS * 9 {
            return Err(format!("live table over 90% full: {} of {}", self.len, self.buckets.len() * WAYS));
        }
        for (bucket, b) in self.buckets.iter().enumerate() {
            for slot in (0..WAYS).filter(|&slot| b.tags[slot] != 0) {
                let start = start_of(b.ids[slot]);
                let place = self.place_of(start);
                if !place.buckets.contains(&bucket) || place.tag != b.tags[slot] {
                    return Err(format!("live allocation at {start} is in a bucket or under a tag not its own"));
                }
                if self.find(start, &start_of) != Some(Found { bucket, slot, id: b.ids[slot] }) {
                    return Err(format!("live allocation at {start} is in the table twice"));
                }
            }
        }
        Ok(())
    }

    /// Host bytes held by the table's buckets.
    #[cfg(test)]
    fn slot_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
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

        table.live.len += 1;
        assert!(table.check().unwrap_err().contains("counts"));
        table.live.len -= 1;

        let saved = table.live.clone();
        for b in &mut table.live.buckets {
            b.tags = [1; WAYS];
        }
        table.live.len = table.live.buckets.len() * WAYS;
        assert!(table.check().unwrap_err().contains("full"));
        table.live = saved;

        // An entry under another tag.
        let bucket =
            table.live.buckets.iter().position(|b| b.tags[0] != 0).expect("some bucket has an entry in slot 0");
        table.live.buckets[bucket].tags[0] ^= 0x80;
        assert!(table.check().is_err());
    }

    /// The share of entries that live in the second of their two buckets: well below a
    /// half when the hash spreads addresses evenly, far more when they pile up on a few
    /// buckets.
    fn second_choice_share(table: &Fixture) -> f64 {
        let second = table
            .starts
            .iter()
            .filter(|&&start| {
                let found = table.find(start).expect("every address is live");
                found.bucket != table.live.place_of(start).buckets[0]
            })
            .count();
        second as f64 / table.starts.len() as f64
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
            let share = second_choice_share(&table);
            assert!(share < 0.3, "{:.0}% of the entries in their second bucket", share * 100.0);
        }
    }

    #[test]
    fn memory_stays_within_8_bytes_per_entry_and_churn_never_grows_the_table() {
        let mut table = Fixture::new();
        let n: usize = if cfg!(miri) { 300 } else { 20_000 };
        for i in 0..n {
            table.insert(i * 64);
            assert!(
                table.live.slot_bytes() <= 8 * table.live.len() + std::mem::size_of::<Bucket>(),
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
