//! A straightforward port of the reference algorithm (docs/REFERENCE-ALGORITHM.md): a sorted `Vec` of free
//! blocks scanned from the lowest address, O(n) per call. It is the oracle that first fit
//! must match exactly (addresses, errors and free list), and the baseline of the benchmarks.

use std::collections::HashMap;

use crate::Error;

/// The checks of `free(addr, size)` in the reference's order (the contract's, docs/CONTRACT.md): the address range,
/// the size and the overflow, then the live allocation at `addr` (`live`: its size, if there
/// is one). Every model asks this one function, so they all agree on the order.
///
/// ```
/// use memalloc_models::{Error, check_free};
///
/// assert_eq!(check_free(100, 100, 0, None), Err(Error::InvalidAddress));
/// assert_eq!(check_free(100, 90, 11, Some(10)), Err(Error::InvalidSize));
/// assert_eq!(check_free(100, 90, 10, None), Err(Error::NotAllocated));
/// assert_eq!(check_free(100, 90, 10, Some(5)), Err(Error::SizeMismatch));
/// assert_eq!(check_free(100, 90, 10, Some(10)), Ok(()));
/// ```
pub fn check_free(capacity: usize, addr: usize, size: usize, live: Option<usize>) -> Result<(), Error> {
    if addr >= capacity {
        return Err(Error::InvalidAddress);
    }
    if size == 0 || addr.checked_add(size).is_none_or(|end| end > capacity) {
        return Err(Error::InvalidSize);
    }
    match live {
        None => Err(Error::NotAllocated),
        Some(live) if live != size => Err(Error::SizeMismatch),
        Some(_) => Ok(()),
    }
}

/// The reference allocator: free list sorted by address, live allocations tracked.
#[derive(Debug, Clone)]
pub struct ReferenceAllocator {
    capacity: usize,
    /// (start, size), sorted by start, never adjacent.
    free: Vec<(usize, usize)>,
    /// The live allocations: start -> size.
    live: HashMap<usize, usize>,
}

impl ReferenceAllocator {
    /// An allocator of `[0, capacity)`, all free; `InvalidArgument` when `capacity` is 0.
    pub fn new(capacity: usize) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        Ok(ReferenceAllocator { capacity, free: vec![(0, capacity)], live: HashMap::new() })
    }

    /// First fit: the lowest free block that holds `size` gives its first `size` units.
    pub fn allocate(&mut self, size: usize) -> Result<usize, Error> {
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        let i = self.free.iter().position(|&(_, block)| block >= size).ok_or(Error::OutOfMemory)?;
        let (start, block) = self.free[i];
        if block == size {
            self.free.remove(i);
        } else {
            self.free[i] = (start + size, block - size);
        }
        self.live.insert(start, size);
        Ok(start)
    }

    /// Frees the live allocation `(addr, size)` (checked by [`check_free`]), merging it
    /// with the free blocks it touches.
    pub fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        check_free(self.capacity, addr, size, self.live.get(&addr).copied())?;
        self.live.remove(&addr);
        let i = self.free.iter().position(|&(start, _)| start > addr).unwrap_or(self.free.len());
        let touches_prev = i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == addr;
        let touches_next = i < self.free.len() && addr + size == self.free[i].0;
        match (touches_prev, touches_next) {
            (true, true) => {
                self.free[i - 1].1 += size + self.free[i].1;
                self.free.remove(i);
            }
            (true, false) => self.free[i - 1].1 += size,
            (false, true) => self.free[i] = (addr, size + self.free[i].1),
            (false, false) => self.free.insert(i, (addr, size)),
        }
        Ok(())
    }

    /// The free blocks `(start, size)`, sorted by address.
    pub fn free_blocks(&self) -> &[(usize, usize)] {
        &self.free
    }

    /// The units in free blocks.
    pub fn free_memory(&self) -> usize {
        self.free.iter().map(|&(_, size)| size).sum()
    }

    /// The largest free block (0 when none).
    pub fn largest_free_block(&self) -> usize {
        self.free.iter().map(|&(_, size)| size).max().unwrap_or(0)
    }

    /// The number of live allocations.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of docs/REFERENCE-ALGORITHM.md.
    #[test]
    fn the_worked_example() {
        let mut reference = ReferenceAllocator::new(100).unwrap();
        assert_eq!([20, 30, 40].map(|size| reference.allocate(size)), [Ok(0), Ok(20), Ok(50)]);
        reference.free(20, 30).unwrap();
        assert_eq!(reference.allocate(25), Ok(20));
        assert_eq!(reference.free_blocks(), [(45, 5), (90, 10)]);
        reference.free(0, 20).unwrap();
        reference.free(20, 25).unwrap();
        // The map [Free(0-49)] [Allocated(50-89)] [Free(90-99)].
        assert_eq!(reference.free_blocks(), [(0, 50), (90, 10)]);
        assert_eq!(reference.live_count(), 1);
        assert_eq!((reference.free_memory(), reference.largest_free_block()), (60, 50));
    }

    #[test]
    fn errors() {
        assert_eq!(ReferenceAllocator::new(0).unwrap_err(), Error::InvalidArgument);
        let mut reference = ReferenceAllocator::new(10).unwrap();
        assert_eq!(reference.allocate(0), Err(Error::InvalidSize));
        assert_eq!(reference.allocate(11), Err(Error::OutOfMemory));
        let a = reference.allocate(4).unwrap();
        assert_eq!(reference.free(a, 3), Err(Error::SizeMismatch));
        reference.free(a, 4).unwrap();
        assert_eq!(reference.free(a, 4), Err(Error::NotAllocated), "a double free");
        assert_eq!(reference.free_blocks(), [(0, 10)]);
    }
}
