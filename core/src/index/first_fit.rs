//! First fit in O(log n): the free blocks in a B+ tree ordered by address ([`tree`]), so
//! that the first block in key order that can hold a request is the lowest-addressed one:
//! the reference's address-ordered first fit, with the same addresses, without its linear
//! scan.
//!
//! [`tree`]: super::tree

use super::tree::{BlockTree, Leaf, Order, lower_bound};

/// Free blocks by address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressOrder;

impl Order for AddressOrder {
    type Key = usize;
    const KEY_MAX: usize = usize::MAX;
    // Free blocks never overlap, so a block that stays between its neighbours keeps its
    // place by address.
    const BY_ADDRESS: bool = true;

    fn key(start: usize, _size: usize) -> usize {
        start
    }

    #[inline]
    fn at_most(a: usize, b: usize) -> bool {
        a <= b
    }

    fn rank<const L: usize>(leaf: &Leaf<L>, key: usize) -> usize {
        // Unused slots hold usize::MAX, which is never below a key, so the whole array is
        // sorted: a binary search without branches (the halving compiles to conditional
        // moves, and with L fixed the loop unrolls).
        lower_bound(L, |i| leaf.starts[i] < key)
    }
}

/// First fit as the core uses it: leaves of 32 blocks, inner nodes of 16 children.
pub(crate) type FirstFitIndex = BlockTree<AddressOrder, 32, 16>;
