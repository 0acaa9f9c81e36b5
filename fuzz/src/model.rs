//! The model the `ops` target checks the core against: `memalloc_models::Model`, the naive
//! model of each policy (first fit and best fit exact; TLSF and buddy accept any place
//! their rules allow, then track it exactly), plus what only the fuzz target needs: the
//! addresses freed earlier (for stale frees), and a description of the first disagreement
//! rather than a panic.
//!
//! Each method takes the real allocator's result, returns a description of the first
//! disagreement, and applies the call to the model.

use memalloc::{Block, Error, Options, Request, Stats};
use memalloc_models as models;

use crate::support;

/// The model of one allocator.
#[derive(Debug, Clone)]
pub struct Model {
    model: models::Model,
    /// Addresses freed earlier, the latest last.
    stale: Vec<usize>,
}

/// How many freed addresses the model remembers for stale frees.
const STALE: usize = 64;

/// `Ok` when `got` is what the model says, else a description.
fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want { Ok(()) } else { Err(format!("{what}: got {got:?}, want {want:?}")) }
}

impl Model {
    /// The model of `MemoryAllocator::with_options(options)`, or the error it must give.
    pub fn new(options: Options) -> Result<Model, Error> {
        let policy = support::policy(options.policy);
        let model = support::result(models::Model::new(policy, options.capacity, options.min_alignment))?;
        Ok(Model { model, stale: Vec::new() })
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.model.capacity()
    }

    /// Live allocations `(address, size)` in address order.
    pub fn live(&self) -> Vec<(usize, usize)> {
        self.model.live().iter().map(|(&a, &s)| (a, s)).collect()
    }

    /// Addresses freed earlier.
    pub fn stale(&self) -> &[usize] {
        &self.stale
    }

    /// The memory map the allocator must report.
    pub fn blocks(&self) -> Vec<Block> {
        support::blocks(&self.model)
    }

    /// The counters the allocator must report.
    pub fn stats(&self) -> Stats {
        support::stats(&self.model)
    }

    /// The result `size_of(addr)` must give.
    pub fn size_of(&self, addr: usize) -> Result<usize, Error> {
        support::result(self.model.size_of(addr))
    }

    /// Remembers `addr`, just freed (or moved from), for stale frees.
    fn forget(&mut self, addr: usize) {
        if self.stale.len() == STALE {
            self.stale.remove(0);
        }
        self.stale.push(addr);
    }

    /// `allocate_aligned(size, align)` (`allocate(size)` is `align` 1) gave `got`.
    pub fn allocate(&mut self, size: usize, align: usize, got: Result<usize, Error>) -> Result<(), String> {
        let want = support::result(self.model.allocate(size, align, got.ok()));
        same(&format!("allocate({size}, align {align})"), got, want)
    }

    /// `free(addr, size)` gave `got`.
    pub fn free(&mut self, addr: usize, size: usize, got: Result<(), Error>) -> Result<(), String> {
        let want = support::result(self.model.free(addr, size));
        if want.is_ok() {
            self.forget(addr);
        }
        same(&format!("free({addr}, {size})"), got, want)
    }

    /// `free_at(addr)` gave `got`.
    pub fn free_at(&mut self, addr: usize, got: Result<usize, Error>) -> Result<(), String> {
        let want = support::result(self.model.free_at(addr));
        if want.is_ok() {
            self.forget(addr);
        }
        same(&format!("free_at({addr})"), got, want)
    }

    /// `reallocate(addr, old, new)` gave `got`.
    pub fn reallocate(&mut self, addr: usize, old: usize, new: usize, got: Result<usize, Error>) -> Result<(), String> {
        let want = support::result(self.model.reallocate(addr, old, new, got.ok()));
        if want.is_ok_and(|moved| moved != addr) {
            self.forget(addr);
        }
        same(&format!("reallocate({addr}, {old}, {new})"), got, want)
    }

    /// `allocate_with(request)` gave `got`.
    pub fn allocate_with(&mut self, request: &Request, got: Result<usize, Error>) -> Result<(), String> {
        let want = support::result(self.model.allocate_with(support::request(request), got.ok()));
        same(&format!("allocate_with({request:?})"), got, want)
    }

    /// `allocate_at(addr, size)` gave `got`.
    pub fn allocate_at(&mut self, addr: usize, size: usize, got: Result<(), Error>) -> Result<(), String> {
        let want = support::result(self.model.allocate_at(addr, size));
        same(&format!("allocate_at({addr}, {size})"), got, want)
    }

    /// `set_capacity(new_capacity)` gave `got`. The allocations stay where they are, and
    /// so do the stale addresses (those past a smaller capacity are now out of range).
    pub fn set_capacity(&mut self, new_capacity: usize, got: Result<(), Error>) -> Result<(), String> {
        let want = support::result(self.model.set_capacity(new_capacity));
        same(&format!("set_capacity({new_capacity})"), got, want)
    }

    /// `reset()` was called.
    pub fn reset(&mut self) {
        for addr in self.model.live().keys().copied().collect::<Vec<_>>() {
            self.forget(addr);
        }
        self.model.reset();
    }
}
