//! The model the `ops` target checks the core against.
//!
//! [`Model`] owns what every policy must agree on: creation errors, the live table
//! (address -> requested size) and so every validation error of `free`, `free_at`,
//! `size_of` and `realloc`, footprints and padding. Placement is modelled per policy:
//! - first fit: the reference (`tests/support/reference.rs`) over the usable range with
//!   footprints as sizes; it predicts every address exactly;
//! - best fit: [`NaiveBestFit`], a sorted free list scanned in full; exact too;
//! - TLSF and buddy: no placement model. An address must lie, with its footprint, inside a
//!   block that was free before the call, on the alignment; out of memory must come
//!   exactly when no free block could hold the request (both policies guarantee it).
//!
//! Each method takes the real allocator's result (and, for the checked policies, its
//! free blocks before the call), returns a description of the first disagreement, and
//! applies the call to the model.

use std::collections::BTreeMap;

use memalloc::{Error, Options, Policy};

use crate::reference::ReferenceAllocator;

/// A free list for best fit: the smallest block where the request fits (at its lowest
/// aligned address), ties to the lowest address. O(n) per call, obviously right.
#[derive(Debug, Clone, Default)]
pub struct NaiveBestFit {
    /// (start, size), sorted by start, never adjacent.
    free: Vec<(usize, usize)>,
}

/// Where `size` units aligned to `align` start inside the free block `(start, block)`.
pub fn fit(start: usize, block: usize, size: usize, align: usize) -> Option<usize> {
    let at = start.checked_add(align - 1)? & !(align - 1);
    ((at - start).checked_add(size)? <= block).then_some(at)
}

impl NaiveBestFit {
    /// One free block `[0, usable)` (none when `usable` is 0).
    pub fn new(usable: usize) -> Self {
        NaiveBestFit { free: if usable > 0 { vec![(0, usable)] } else { Vec::new() } }
    }

    /// The free blocks, sorted by address.
    pub fn blocks(&self) -> &[(usize, usize)] {
        &self.free
    }

    /// Takes `size` units at a multiple of `align` from the best block.
    pub fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        let (_, _, i, at) = self
            .free
            .iter()
            .enumerate()
            .filter_map(|(i, &(start, block))| fit(start, block, size, align).map(|at| (block, start, i, at)))
            .min_by_key(|&(block, start, _, _)| (block, start))?;
        self.carve(i, at, size);
        Some(at)
    }

    /// Takes `[start, start + size)` when a free block starts at `start` and holds it.
    pub fn take_at(&mut self, start: usize, size: usize) -> bool {
        match self.free.iter().position(|&(s, block)| s == start && block >= size) {
            Some(i) => {
                self.carve(i, start, size);
                true
            }
            None => false,
        }
    }

    fn carve(&mut self, i: usize, at: usize, size: usize) {
        let (start, block) = self.free[i];
        let tail = start + block - (at + size);
        let head = (at > start).then_some((start, at - start));
        let rest = (tail > 0).then_some((at + size, tail));
        self.free.splice(i..=i, head.into_iter().chain(rest));
    }

    /// Frees `[start, start + size)`, merging it with the blocks it touches.
    pub fn give(&mut self, start: usize, size: usize) {
        let i = self.free.partition_point(|&(s, _)| s < start);
        let mut block = (start, size);
        let mut range = i..i;
        if i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == start {
            block = (self.free[i - 1].0, self.free[i - 1].1 + size);
            range.start = i - 1;
        }
        if i < self.free.len() && start + size == self.free[i].0 {
            block.1 += self.free[i].1;
            range.end = i + 1;
        }
        self.free.splice(range, [block]);
    }
}

/// How the model predicts placement.
#[derive(Debug, Clone)]
enum Placement {
    /// The reference over the usable range (`None` when it is empty), footprints as sizes.
    FirstFit(Option<ReferenceAllocator>),
    BestFit(NaiveBestFit),
    /// TLSF, buddy: checked against the allocator's own free blocks before each call.
    Checked,
}

/// The model of one allocator.
#[derive(Debug, Clone)]
pub struct Model {
    capacity: usize,
    policy: Policy,
    min_alignment: usize,
    usable: usize,
    live: BTreeMap<usize, usize>,
    stale: Vec<usize>,
    placement: Placement,
}

/// How many freed addresses the model remembers for stale frees.
const STALE: usize = 64;

/// `Ok` when `got == want`, else a description.
fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want { Ok(()) } else { Err(format!("{what}: got {got:?}, want {want:?}")) }
}

impl Model {
    /// The model of `MemoryAllocator::with_options(options)`, or the error it must give.
    pub fn new(options: Options) -> Result<Model, Error> {
        if options.capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        if !options.min_alignment.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        let usable = options.capacity & !(options.min_alignment - 1);
        let placement = match options.policy {
            Policy::FirstFit => Placement::FirstFit(ReferenceAllocator::new(usable).ok()),
            Policy::BestFit => Placement::BestFit(NaiveBestFit::new(usable)),
            _ => Placement::Checked,
        };
        Ok(Model {
            capacity: options.capacity,
            policy: options.policy,
            min_alignment: options.min_alignment,
            usable,
            live: BTreeMap::new(),
            stale: Vec::new(),
            placement,
        })
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Live allocations `(address, size)` in address order.
    pub fn live(&self) -> Vec<(usize, usize)> {
        self.live.iter().map(|(&a, &s)| (a, s)).collect()
    }

    /// Addresses freed earlier.
    pub fn stale(&self) -> &[usize] {
        &self.stale
    }

    /// Whether the model predicts exact free blocks (first fit, best fit).
    pub fn is_exact(&self) -> bool {
        !matches!(self.placement, Placement::Checked)
    }

    /// The free blocks the model predicts (first fit and best fit only).
    pub fn free_blocks(&self) -> Vec<(usize, usize)> {
        match &self.placement {
            Placement::FirstFit(Some(reference)) => reference.free_blocks().to_vec(),
            Placement::FirstFit(None) | Placement::Checked => Vec::new(),
            Placement::BestFit(naive) => naive.blocks().to_vec(),
        }
    }

    /// The sum of the live sizes.
    pub fn allocated(&self) -> usize {
        self.live.values().sum()
    }

    /// Units held beyond sizes: footprint rounding and the unusable tail.
    pub fn padding(&self) -> usize {
        let rounding: usize = self.live.values().map(|&size| self.footprint(size).expect("live fits") - size).sum();
        rounding + (self.capacity - self.usable)
    }

    /// The units an allocation of `size` occupies; `None` on overflow.
    pub fn footprint(&self, size: usize) -> Option<usize> {
        let aligned = size.checked_add(self.min_alignment - 1)? & !(self.min_alignment - 1);
        if self.policy == Policy::Buddy { aligned.checked_next_power_of_two() } else { Some(aligned) }
    }

    /// The checks of `free`, in API order.
    pub fn check_live(&self, addr: usize, size: usize) -> Result<(), Error> {
        crate::reference::check_free(self.capacity, addr, size, self.live.get(&addr).copied())
    }

    /// The result `size_of(addr)` must give.
    pub fn size_of(&self, addr: usize) -> Result<usize, Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        self.live.get(&addr).copied().ok_or(Error::NotAllocated)
    }

    fn forget(&mut self, addr: usize) {
        self.live.remove(&addr);
        if self.stale.len() == STALE {
            self.stale.remove(0);
        }
        self.stale.push(addr);
    }

    /// Checks that a placement of `footprint` at `addr` (aligned to `align`) came from a
    /// block in `free_before`; or, for out of memory, that none could hold it.
    fn check_placement(
        got: Result<usize, Error>,
        footprint: usize,
        align: usize,
        free_before: &[(usize, usize)],
    ) -> Result<(), String> {
        let can = free_before.iter().any(|&(start, block)| fit(start, block, footprint, align).is_some());
        match got {
            Ok(addr) => {
                if !can {
                    return Err(format!("placed {footprint} at {addr}, but no free block could hold it"));
                }
                if addr % align != 0 {
                    return Err(format!("address {addr} is not a multiple of {align}"));
                }
                let inside = free_before.iter().any(|&(start, block)| {
                    addr >= start && addr - start <= block && footprint <= block - (addr - start)
                });
                if !inside {
                    return Err(format!("[{addr}, +{footprint}) was not inside a free block"));
                }
                Ok(())
            }
            Err(Error::OutOfMemory) if can => {
                Err(format!("out of memory for {footprint} (align {align}), but a free block could hold it"))
            }
            Err(Error::OutOfMemory) => Ok(()),
            Err(e) => Err(format!("unexpected error {e:?}")),
        }
    }

    /// `allocate_aligned(size, align)` (`allocate(size)` is `align` 1) gave `got`.
    pub fn allocate(
        &mut self,
        size: usize,
        align: usize,
        got: Result<usize, Error>,
        free_before: &[(usize, usize)],
    ) -> Result<(), String> {
        if !align.is_power_of_two() {
            return same("allocate: bad alignment", got, Err(Error::InvalidAlignment));
        }
        if size == 0 {
            return same("allocate: size 0", got, Err(Error::InvalidSize));
        }
        let Some(footprint) = self.footprint(size) else {
            return same("allocate: footprint overflows", got, Err(Error::OutOfMemory));
        };
        let align = align.max(self.min_alignment);
        let want = match &mut self.placement {
            Placement::FirstFit(None) => Err(Error::OutOfMemory),
            Placement::FirstFit(Some(reference)) => reference.allocate_aligned(footprint, align),
            Placement::BestFit(naive) => naive.take(footprint, align).ok_or(Error::OutOfMemory),
            Placement::Checked => {
                Self::check_placement(got, footprint, align, free_before)?;
                got
            }
        };
        same(&format!("allocate({size}, align {align})"), got, want)?;
        if let Ok(addr) = got {
            self.live.insert(addr, size);
        }
        Ok(())
    }

    /// `free(addr, size)` gave `got`.
    pub fn free(&mut self, addr: usize, size: usize, got: Result<(), Error>) -> Result<(), String> {
        let want = self.check_live(addr, size);
        same(&format!("free({addr}, {size})"), got, want)?;
        if want.is_ok() {
            self.release(addr, size)?;
        }
        Ok(())
    }

    /// `free_at(addr)` gave `got`.
    pub fn free_at(&mut self, addr: usize, got: Result<(), Error>) -> Result<(), String> {
        let want = self.size_of(addr);
        same(&format!("free_at({addr})"), got, want.map(|_| ()))?;
        if let Ok(size) = want {
            self.release(addr, size)?;
        }
        Ok(())
    }

    fn release(&mut self, addr: usize, size: usize) -> Result<(), String> {
        let footprint = self.footprint(size).expect("live fits");
        match &mut self.placement {
            Placement::FirstFit(reference) => {
                let reference = reference.as_mut().ok_or("a live block in an empty range")?;
                same("reference free", reference.free(addr, footprint), Ok(()))?;
            }
            Placement::BestFit(naive) => naive.give(addr, footprint),
            Placement::Checked => {}
        }
        self.forget(addr);
        Ok(())
    }

    /// `reallocate(addr, old, new)` gave `got`.
    pub fn reallocate(
        &mut self,
        addr: usize,
        old: usize,
        new: usize,
        got: Result<usize, Error>,
        free_before: &[(usize, usize)],
    ) -> Result<(), String> {
        let what = format!("reallocate({addr}, {old}, {new})");
        if let Err(e) = self.check_live(addr, old) {
            return same(&what, got, Err(e));
        }
        if new == 0 {
            return same(&what, got, Err(Error::InvalidSize));
        }
        let old_fp = self.footprint(old).expect("live fits");
        let Some(new_fp) = self.footprint(new) else {
            return same(&what, got, Err(Error::OutOfMemory));
        };
        let align = self.min_alignment;
        let grows_in_place = |free: &[(usize, usize)]| {
            free.iter().any(|&(start, block)| start == addr + old_fp && block >= new_fp - old_fp)
        };
        let want = match &mut self.placement {
            Placement::FirstFit(reference) => {
                let reference = reference.as_mut().ok_or("a live block in an empty range")?;
                reference.reallocate(addr, old_fp, new_fp)
            }
            Placement::BestFit(naive) => {
                if new_fp <= old_fp {
                    if new_fp < old_fp {
                        naive.give(addr + new_fp, old_fp - new_fp);
                    }
                    Ok(addr)
                } else if naive.take_at(addr + old_fp, new_fp - old_fp) {
                    Ok(addr)
                } else {
                    match naive.take(new_fp, align) {
                        Some(moved) => {
                            naive.give(addr, old_fp);
                            Ok(moved)
                        }
                        None => Err(Error::OutOfMemory),
                    }
                }
            }
            Placement::Checked => {
                // Buddy grows in place only within its rounded footprint.
                if new_fp <= old_fp || (self.policy != Policy::Buddy && grows_in_place(free_before)) {
                    Ok(addr)
                } else {
                    Self::check_placement(got, new_fp, align, free_before)?;
                    if got == Ok(addr) {
                        return Err(format!("{what}: a move returned the old address"));
                    }
                    got
                }
            }
        };
        same(&what, got, want)?;
        if let Ok(new_addr) = got {
            if new_addr == addr {
                self.live.insert(addr, new);
            } else {
                self.forget(addr);
                self.live.insert(new_addr, new);
            }
        }
        Ok(())
    }

    /// `reset()` was called.
    pub fn reset(&mut self) {
        let addrs: Vec<usize> = self.live.keys().copied().collect();
        for addr in addrs {
            self.forget(addr);
        }
        match &mut self.placement {
            Placement::FirstFit(Some(reference)) => reference.reset(),
            Placement::FirstFit(None) | Placement::Checked => {}
            Placement::BestFit(naive) => *naive = NaiveBestFit::new(self.usable),
        }
    }
}
