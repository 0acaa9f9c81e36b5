//! Best fit in O(log n): the free blocks in a B+ tree ordered by `(size, address)`
//! ([`tree`]), so that the first block in key order that can hold a request is the
//! smallest such block, lowest address among equals. Neighbours to merge with come from
//! the block table's address links, so no address order is kept here.
//!
//! An aligned request steps over blocks that are large enough but too misaligned, in key
//! order: O(n) in the worst case, as the policy's own rule (smallest block that holds the
//! aligned request) asks.
//!
//! [`tree`]: super::tree

use super::tree::{BlockTree, Leaf, Order, lower_bound};

/// Free blocks by size, then address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SizeOrder;

/// A free block's place in [`SizeOrder`]: its size first, then its start (the derived
/// order compares the fields in the order they are declared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SizeKey {
    size: usize,
    start: usize,
}

impl Order for SizeOrder {
    type Key = SizeKey;
    const KEY_MAX: SizeKey = SizeKey { size: usize::MAX, start: usize::MAX };
    const BY_ADDRESS: bool = false;

    fn key(start: usize, size: usize) -> SizeKey {
        SizeKey { size, start }
    }

    #[inline]
    fn at_most(a: SizeKey, b: SizeKey) -> bool {
        (a.size < b.size) | ((a.size == b.size) & (a.start <= b.start))
    }

    fn rank<const L: usize>(leaf: &Leaf<L>, key: SizeKey) -> usize {
        // Unused slots (size 0) are past the length and left out.
        lower_bound(leaf.len, |i| {
            let (size, start) = (leaf.sizes[i], leaf.starts[i]);
            (size < key.size) | ((size == key.size) & (start < key.start))
        })
    }
}

/// Best fit as the core uses it: leaves of 32 blocks, inner nodes of 16 children.
pub(crate) type BestFitIndex = BlockTree<SizeOrder, 32, 16>;
