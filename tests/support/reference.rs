//! A straightforward port of the reference algorithm (REFERENCE.md): a sorted `Vec` of
//! free blocks scanned from the lowest address, O(n) per call. It is the oracle that
//! first fit must match exactly (addresses and errors), and the baseline of the
//! benchmarks. Shared by tests, benches and fuzz targets through `#[path]`.

#![allow(dead_code)]

use std::collections::HashMap;

use memalloc::Error;

/// The checks of `free(addr, size)` in the reference's order (API.md's): the address
/// range, the size and the overflow, then the live allocation at `addr` (`live`: its size,
/// if there is one). Every model of the tests and fuzzers asks this one function.
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
        self.check_live(addr, size)?;
        self.live.remove(&addr);
        self.release(addr, size);
        Ok(())
    }

    /// The checks of `free`, in the reference's order, without changing anything.
    fn check_live(&self, addr: usize, size: usize) -> Result<(), Error> {
        check_free(self.capacity, addr, size, self.live.get(&addr).copied())
    }

    /// Makes `[addr, addr + size)` free, merging it with the free blocks it touches.
    fn release(&mut self, addr: usize, size: usize) {
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
    }

    /// Takes `[at, at + size)` out of free block `i`, which holds it; the parts before and
    /// after stay free.
    fn carve(&mut self, i: usize, at: usize, size: usize) {
        let (start, block) = self.free[i];
        let tail = start + block - (at + size);
        let head = (at > start).then_some((start, at - start));
        let rest = (tail > 0).then_some((at + size, tail));
        self.free.splice(i..=i, head.into_iter().chain(rest));
    }

    // The extensions below go beyond the exercise (API.md: `ma_alloc_aligned`,
    // `ma_realloc`, `ma_size_of`, `ma_free_at`, `ma_reset`), in the same O(n) style, so
    // that fuzzing can hold first fit to exact addresses for those calls too.

    /// First fit at a multiple of `align`: the lowest aligned address where `size` fits.
    /// The gap before it stays free.
    pub fn allocate_aligned(&mut self, size: usize, align: usize) -> Result<usize, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        let (i, at) = self
            .free
            .iter()
            .enumerate()
            .find_map(|(i, &(start, block))| {
                let at = start.checked_add(align - 1)? & !(align - 1);
                ((at - start).checked_add(size)? <= block).then_some((i, at))
            })
            .ok_or(Error::OutOfMemory)?;
        self.carve(i, at, size);
        self.live.insert(at, size);
        Ok(at)
    }

    /// Resizes `(addr, old_size)`: shrinks in place, grows in place into the free block
    /// that starts right after it, else moves (first fit, chosen while the old block is
    /// still held). Out of memory leaves everything as it was.
    pub fn reallocate(&mut self, addr: usize, old_size: usize, new_size: usize) -> Result<usize, Error> {
        self.check_live(addr, old_size)?;
        if new_size == 0 {
            return Err(Error::InvalidSize);
        }
        if new_size < old_size {
            self.release(addr + new_size, old_size - new_size);
        } else if new_size > old_size {
            let (end, growth) = (addr + old_size, new_size - old_size);
            match self.free.iter().position(|&(start, block)| start == end && block >= growth) {
                Some(i) => self.carve(i, end, growth),
                None => {
                    let new_addr = self.allocate(new_size)?;
                    self.free(addr, old_size).expect("the old block is live");
                    return Ok(new_addr);
                }
            }
        }
        self.live.insert(addr, new_size);
        Ok(addr)
    }

    /// The size of the live allocation at `addr`.
    pub fn size_of(&self, addr: usize) -> Result<usize, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        self.live.get(&addr).copied().ok_or(Error::NotAllocated)
    }

    /// Frees the live allocation at `addr` without repeating its size.
    pub fn free_at(&mut self, addr: usize) -> Result<(), Error> {
        let size = self.size_of(addr)?;
        self.free(addr, size)
    }

    /// Frees everything: one free block `[0, capacity)`.
    pub fn reset(&mut self) {
        self.free = vec![(0, self.capacity)];
        self.live.clear();
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

    /// The live allocations, address -> size.
    pub fn live(&self) -> &HashMap<usize, usize> {
        &self.live
    }
}
