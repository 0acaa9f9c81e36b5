//! [`Slab`]: nodes in one `Vec`, addressed by `u32` slot, vacant slots reused first.
//!
//! The block table and the B+ trees keep their nodes in slabs and link them by slot
//! number: no `unsafe`, no allocation per node, and links half the size of pointers. A
//! vacant slot holds a node that chains to the next vacant slot, so reuse costs no memory
//! of its own and no host allocation. The `Vec` grows by a thirty-second at a time (at
//! least 256 bytes' worth of nodes): a slab that has reached its peak never grows again,
//! and its spare room stays within about 3% of it, which the metadata budget counts. (The
//! copies are cheap: a large `Vec` grows by `mremap` under glibc, and growing stops at the
//! peak.)

use std::ops::{Index, IndexMut};

/// A node that a slab can hold: it can stand for a vacant slot, chained to the next one.
pub(crate) trait Vacant: Copy {
    /// A vacant node whose chain continues at slot `next_vacant`.
    fn vacant(next_vacant: u32) -> Self;
    /// The next vacant slot after this vacant node.
    fn next_vacant(&self) -> u32;
}

/// "No vacant slot": the end of the chain.
const NO_VACANCY: u32 = u32::MAX;

/// Up to `MAX` nodes in one `Vec`, addressed by `u32` slot; vacant slots are chained
/// through the nodes and reused first.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T, const MAX: u32> {
    nodes: Vec<T>,
    /// The first vacant slot, [`NO_VACANCY`] when none.
    vacant: u32,
    /// Slots in use.
    len: usize,
}

impl<T: Vacant, const MAX: u32> Slab<T, MAX> {
    /// An empty slab.
    pub(crate) const fn new() -> Self {
        Slab { nodes: Vec::new(), vacant: NO_VACANCY, len: 0 }
    }

    /// Slots in use.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The node in slot `id`, `None` when there is no such slot (vacant slots are not
    /// told apart: for checks that want to report, not panic).
    pub(crate) fn get_checked(&self, id: u32) -> Option<&T> {
        self.nodes.get(id as usize)
    }

    /// Two different slots, both mutable.
    ///
    /// # Panics
    /// When `a == b`, or either is not a slot.
    pub(crate) fn pair_mut(&mut self, a: u32, b: u32) -> (&mut T, &mut T) {
        let (a, b) = (a as usize, b as usize);
        assert_ne!(a, b, "two different slots");
        if a < b {
            let (low, high) = self.nodes.split_at_mut(b);
            (&mut low[a], &mut high[0])
        } else {
            let (low, high) = self.nodes.split_at_mut(a);
            (&mut high[0], &mut low[b])
        }
    }

    /// Puts `node` in a slot (a vacant one if there is one) and returns the slot.
    ///
    /// # Panics
    /// When all `MAX` slots are in use.
    #[inline]
    pub(crate) fn add(&mut self, node: T) -> u32 {
        self.len += 1;
        if self.vacant != NO_VACANCY {
            let id = self.vacant;
            self.vacant = self.nodes[id as usize].next_vacant();
            self.nodes[id as usize] = node;
            return id;
        }
        let id =
            u32::try_from(self.nodes.len()).ok().filter(|&id| id < MAX).expect("a slab holds fewer than MAX nodes");
        if self.nodes.len() == self.nodes.capacity() {
            let least = (256 / std::mem::size_of::<T>()).max(1);
            self.nodes.reserve_exact((self.nodes.len() / 32).max(least));
        }
        self.nodes.push(node);
        id
    }

    /// Makes slot `id` vacant.
    #[inline]
    pub(crate) fn remove(&mut self, id: u32) {
        debug_assert!(self.len > 0);
        self.len -= 1;
        self.nodes[id as usize] = T::vacant(self.vacant);
        self.vacant = id;
    }

    /// Empties the slab, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.nodes.clear();
        self.vacant = NO_VACANCY;
        self.len = 0;
    }

    /// Which slots are vacant, found by following the chain; `None` if the chain is
    /// broken (a slot past the end, a cycle) or its length disagrees with `len`.
    pub(crate) fn vacancies(&self) -> Option<Vec<bool>> {
        let mut vacant = vec![false; self.nodes.len()];
        let mut id = self.vacant;
        let mut count = 0;
        while id != NO_VACANCY {
            let slot = vacant.get_mut(id as usize)?;
            if std::mem::replace(slot, true) {
                return None;
            }
            count += 1;
            id = self.nodes[id as usize].next_vacant();
        }
        (count + self.len == self.nodes.len()).then_some(vacant)
    }
}

impl<T, const MAX: u32> Index<u32> for Slab<T, MAX> {
    type Output = T;

    #[inline]
    fn index(&self, id: u32) -> &T {
        &self.nodes[id as usize]
    }
}

impl<T, const MAX: u32> IndexMut<u32> for Slab<T, MAX> {
    #[inline]
    fn index_mut(&mut self, id: u32) -> &mut T {
        &mut self.nodes[id as usize]
    }
}
