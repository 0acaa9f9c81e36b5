//! Best fit in O(log n): the smallest free block that holds the request, ties to the
//! lowest address.
//!
//! Two ordered maps hold the same free blocks: one by address (to find the neighbours
//! to merge with on free) and one by `(size, start)` (so that the smallest fitting block,
//! lowest address first, is the first entry at or after `(size, 0)`).

use std::collections::{BTreeMap, BTreeSet};

use super::{FreeIndex, check_block_list, fit_in_block};

/// Free blocks indexed by address and by size.
///
/// Invariants (checked by [`FreeIndex::check`]): `by_size` holds exactly the pairs
/// `(size, start)` of `by_address`; blocks never overlap and are never adjacent;
/// `free_units` is the sum of their sizes.
#[derive(Debug, Default)]
pub(crate) struct BestFitIndex {
    by_address: BTreeMap<usize, usize>,
    by_size: BTreeSet<(usize, usize)>,
    free_units: usize,
}

impl BestFitIndex {
    /// An index whose free space is the one block `[0, capacity)`.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut index = BestFitIndex::default();
        if capacity > 0 {
            index.insert(0, capacity);
        }
        index
    }

    fn insert(&mut self, start: usize, size: usize) {
        self.by_address.insert(start, size);
        self.by_size.insert((size, start));
        self.free_units += size;
    }

    fn remove(&mut self, start: usize, size: usize) {
        self.by_address.remove(&start);
        self.by_size.remove(&(size, start));
        self.free_units -= size;
    }

    /// Takes `[at, at + size)` out of the free block `(start, block_size)`.
    fn carve(&mut self, start: usize, block_size: usize, at: usize, size: usize) {
        self.remove(start, block_size);
        if at > start {
            self.insert(start, at - start);
        }
        let tail = start + block_size - (at + size);
        if tail > 0 {
            self.insert(at + size, tail);
        }
    }
}

impl FreeIndex for BestFitIndex {
    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        // Ascending by (size, start): the first block where the aligned request fits is
        // the smallest such block, lowest address among equals. With align 1 (or blocks
        // already aligned) that is the first candidate: O(log n).
        let (block_size, start, at) = self.by_size.range((size, 0)..).find_map(|&(block_size, start)| {
            fit_in_block(start, block_size, size, align).map(|at| (block_size, start, at))
        })?;
        self.carve(start, block_size, at, size);
        Some(at)
    }

    fn take_at(&mut self, start: usize, size: usize) -> bool {
        match self.by_address.get(&start) {
            Some(&block_size) if block_size >= size => {
                self.carve(start, block_size, start, size);
                true
            }
            _ => false,
        }
    }

    fn give(&mut self, start: usize, size: usize) {
        let (mut new_start, mut new_size) = (start, size);
        if let Some((&p_start, &p_size)) = self.by_address.range(..start).next_back()
            && p_start + p_size == start
        {
            self.remove(p_start, p_size);
            new_start = p_start;
            new_size += p_size;
        }
        if let Some(&n_size) = self.by_address.get(&(start + size)) {
            self.remove(start + size, n_size);
            new_size += n_size;
        }
        self.insert(new_start, new_size);
    }

    fn largest(&self) -> usize {
        self.by_size.last().map_or(0, |&(size, _)| size)
    }

    fn free_units(&self) -> usize {
        self.free_units
    }

    fn free_blocks(&self) -> usize {
        self.by_address.len()
    }

    fn blocks(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        Box::new(self.by_address.iter().map(|(&start, &size)| (start, size)))
    }

    fn check(&self) -> Result<(), String> {
        if self.by_address.len() != self.by_size.len() {
            return Err("the address and size indexes differ in length".into());
        }
        if let Some((start, size)) = self.blocks().find(|&(start, size)| !self.by_size.contains(&(size, start))) {
            return Err(format!("free block ({start}, {size}) missing from the size index"));
        }
        check_block_list(self.blocks(), true, self.free_units)?;
        Ok(())
    }
}
