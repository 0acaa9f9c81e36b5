//! First fit in O(log n): the free blocks in a B+ tree ordered by address ([`tree`]), so
//! that the first block in key order that can hold a request is the lowest-addressed one:
//! the reference's address-ordered first fit, with the same addresses, without its linear
//! scan.
//!
//! [`tree`]: super::tree

use super::tree::{BlockTree, Leaf, Order};

/// Free blocks by address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressOrder;

impl Order for AddressOrder {
    type Key = usize;
    const KEY_MAX: usize = usize::MAX;
    // Free blocks never overlap, so a block that stays between its neighbours keeps its
    // place by address.
    const EXTENT_CHANGES_KEEP_ORDER: bool = true;

    fn key(start: usize, _size: usize) -> usize {
        start
    }

    fn rank<const L: usize>(leaf: &Leaf<L>, key: usize) -> usize {
        // Unused slots hold usize::MAX, which is never below a key: no length needed, and
        // the count compiles to a branch-free pass over the array.
        leaf.starts.iter().filter(|&&start| start < key).count()
    }
}

/// First fit as the core uses it: leaves of 32 blocks, inner nodes of 16 children.
pub(crate) type FirstFitIndex = BlockTree<AddressOrder, 32, 16>;
