//! A straightforward port of the reference algorithm (REFERENCE.md): a sorted `Vec` of
//! free blocks scanned from the lowest address, O(n) per call. It is the oracle that
//! first fit must match exactly (addresses and errors), and the baseline of the
//! benchmarks. Shared by tests, benches and fuzz targets through `#[path]`.

#![allow(dead_code)]

use std::collections::HashMap;

use memalloc::Error;

/// The reference allocator: free list sorted by address, live allocations tracked.
#[derive(Debug, Clone)]
pub struct ReferenceAllocator {
    capacity: usize,
    /// (start, size), sorted by start, never adjacent.
    free: Vec<(usize, usize)>,
    live: HashMap<usize, usize>,
}

impl ReferenceAllocator {
    pub fn new(capacity: usize) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        Ok(ReferenceAllocator { capacity, free: vec![(0, capacity)], live: HashMap::new() })
    }

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

    pub fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        if size == 0 || addr.checked_add(size).is_none_or(|end| end > self.capacity) {
            return Err(Error::InvalidSize);
        }
        match self.live.get(&addr) {
            None => return Err(Error::NotAllocated),
            Some(&live) if live != size => return Err(Error::SizeMismatch),
            Some(_) => {}
        }
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

    /// The free blocks, sorted by address.
    pub fn free_blocks(&self) -> &[(usize, usize)] {
        &self.free
    }

    pub fn free_memory(&self) -> usize {
        self.free.iter().map(|&(_, size)| size).sum()
    }

    pub fn largest_free_block(&self) -> usize {
        self.free.iter().map(|&(_, size)| size).max().unwrap_or(0)
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }
}
