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

impl Order for SizeOrder {
    type Key = (usize, usize);
    const KEY_MAX: (usize, usize) = (usize::MAX, usize::MAX);
    const BY_ADDRESS: bool = false;

    fn key(start: usize, size: usize) -> (usize, usize) {
        (size, start)
    }

    #[inline]
    fn at_most(a: (usize, usize), b: (usize, usize)) -> bool {
        (a.0 < b.0) | ((a.0 == b.0) & (a.1 <= b.1))
    }

    fn rank<const L: usize>(leaf: &Leaf<L>, key: (usize, usize)) -> usize {
        // Unused slots (size 0) are past the length and left out.
        lower_bound(leaf.len, |i| {
            let (size, start) = (leaf.sizes[i], leaf.starts[i]);
            (size < key.0) | ((size == key.0) & (start < key.1))
        })
    }
}

/// Best fit as the core uses it: leaves of 32 blocks, inner nodes of 16 children.
pub(crate) type BestFitIndex = BlockTree<SizeOrder, 32, 16>;
