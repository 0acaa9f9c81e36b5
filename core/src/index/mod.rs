//! Free-space indexes: where the free blocks live and how a placement is chosen.
//!
//! [`crate::MemoryAllocator`] owns validation and the live-allocation table; it asks a
//! [`FreeIndex`] only "find room for this many units" and "this range is free again".
//! Each placement policy is one file implementing that trait, so a new policy is added
//! beside the others without touching the core.

mod best_fit;
mod buddy;
mod first_fit;
mod tlsf;

pub(crate) use best_fit::BestFitIndex;
pub(crate) use buddy::BuddyIndex;
pub(crate) use first_fit::FirstFitIndex;
pub(crate) use tlsf::TlsfIndex;

/// The free space of one allocator, under one placement policy.
///
/// Ranges are half-open `[start, start + size)`, sizes never 0. The caller (the core)
/// guarantees that every range it gives back was taken earlier and is not free, and that
/// `start + size` never passes the capacity; an index therefore never validates.
pub(crate) trait FreeIndex: Send + Sync {
    /// The units an allocation needing `size` units occupies under this policy
    /// (buddy rounds up to a power of two). `None` when that does not fit in `usize`.
    fn footprint(&self, size: usize) -> Option<usize> {
        Some(size)
    }

    /// Whether free blocks that touch are always merged into one, so that no two free
    /// blocks are ever adjacent. Buddy answers `false`: it merges a block only with its
    /// buddy, so neighbours that are not buddies (or lie in different top-level blocks)
    /// stay apart, and the core's invariant check then allows adjacent free blocks.
    fn merges_adjacent(&self) -> bool {
        true
    }

    /// Takes `size` units at an address that is a multiple of `align` (a power of two),
    /// choosing the block by the policy, and returns the address. The part of the block
    /// before that address, if any, stays free.
    fn take(&mut self, size: usize, align: usize) -> Option<usize>;

    /// Takes exactly `[start, start + size)` if that range is free; used to grow an
    /// allocation in place. Returns whether it did.
    fn take_at(&mut self, start: usize, size: usize) -> bool;

    /// Returns `[start, start + size)` to free space, merging it with free neighbours.
    fn give(&mut self, start: usize, size: usize);

    /// The size of the largest free block (0 when none).
    fn largest(&self) -> usize;

    /// The sum of the sizes of the free blocks.
    fn free_units(&self) -> usize;

    /// The number of free blocks.
    fn free_blocks(&self) -> usize;

    /// The free blocks as `(start, size)`, in ascending address order.
    fn blocks(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_>;

    /// Checks the index's own invariants (tree shape, augmented fields, counters).
    fn check(&self) -> Result<(), String>;
}

/// Rounds `value` up to a multiple of `align` (a power of two); `None` on overflow.
pub(crate) fn align_up(value: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// Where an allocation of `size` aligned to `align` would start inside the free block
/// `(start, block_size)`, if it fits there.
pub(crate) fn fit_in_block(start: usize, block_size: usize, size: usize, align: usize) -> Option<usize> {
    let at = align_up(start, align)?;
    let used = (at - start).checked_add(size)?;
    (used <= block_size).then_some(at)
}

/// Checks what every index promises of its [`FreeIndex::blocks`]: no empty block, address
/// order, no overlap, no two blocks touching when `merged` (every policy but buddy), and
/// sizes that add up to `free_units`. Each index's `check` calls it, then checks its own
/// structure.
pub(crate) fn check_block_list(
    blocks: impl Iterator<Item = (usize, usize)>,
    merged: bool,
    free_units: usize,
) -> Result<(), String> {
    let (mut units, mut prev_end) = (0usize, None);
    for (start, size) in blocks {
        if size == 0 {
            return Err(format!("free block at {start} has size 0"));
        }
        if let Some(end) = prev_end {
            if start < end {
                return Err(format!("free blocks overlap at {start}"));
            }
            if merged && start == end {
                return Err(format!("free blocks adjacent at {start}: not merged"));
            }
        }
        prev_end = Some(start.checked_add(size).ok_or("free block passes usize::MAX")?);
        units = units.checked_add(size).ok_or("free units pass usize::MAX")?;
    }
    if units != free_units {
        return Err(format!("free units counter {free_units} but blocks sum to {units}"));
    }
    Ok(())
}
