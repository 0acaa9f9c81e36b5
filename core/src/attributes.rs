//! What an allocation carries beyond its address and size: a tag, a pin, and the alignment
//! it was requested with; and the index of allocations by tag.
//!
//! Most allocations carry nothing (tag 0, not pinned, alignment 1), so the attributes are
//! a side table by allocated block slot rather than fields of every block: an allocator
//! that never tags, pins or aligns pays nothing for them. The index by tag lets
//! `free_tagged` free a tag's k allocations without looking at the others; tag 0, the
//! allocations that were never tagged, has no entry: freeing it walks the block table.

use std::collections::{HashMap, HashSet};

/// The attributes of one allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extra {
    pub(crate) tag: u64,
    /// Compaction leaves it where it is.
    pub(crate) pinned: bool,
    /// The alignment it was requested with (the minimum alignment applies on top); kept
    /// when it moves.
    pub(crate) alignment: usize,
}

impl Extra {
    /// The attributes of an allocation made without any.
    pub(crate) const DEFAULT: Extra = Extra { tag: 0, pinned: false, alignment: 1 };
}

/// The attributes of the allocations that have any, by allocated block slot, and the
/// slots of each non-zero tag.
///
/// Invariants (checked by [`Attributes::check`]): no entry holds [`Extra::DEFAULT`];
/// `by_tag[t]` is exactly the set of slots whose entry has tag `t != 0`, and no set is
/// empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attributes {
    extras: HashMap<u32, Extra>,
    by_tag: HashMap<u64, HashSet<u32>>,
}

impl Attributes {
    /// The attributes of allocated block `id`.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Extra {
        if self.extras.is_empty() { Extra::DEFAULT } else { self.extras.get(&id).copied().unwrap_or(Extra::DEFAULT) }
    }

    /// Gives allocated block `id` the attributes `extra`.
    pub(crate) fn set(&mut self, id: u32, extra: Extra) {
        self.remove(id);
        if extra == Extra::DEFAULT {
            return;
        }
        if extra.tag != 0 {
            self.by_tag.entry(extra.tag).or_default().insert(id);
        }
        self.extras.insert(id, extra);
    }

    /// Forgets allocated block `id` (freed, or about to move); returns what it carried.
    #[inline]
    pub(crate) fn remove(&mut self, id: u32) -> Extra {
        if self.extras.is_empty() {
            return Extra::DEFAULT;
        }
        let Some(extra) = self.extras.remove(&id) else { return Extra::DEFAULT };
        if extra.tag != 0
            && let Some(set) = self.by_tag.get_mut(&extra.tag)
        {
            set.remove(&id);
            if set.is_empty() {
                self.by_tag.remove(&extra.tag);
            }
        }
        extra
    }

    /// The slots of the allocations tagged `tag` (not 0), in no particular order.
    pub(crate) fn tagged(&self, tag: u64) -> Vec<u32> {
        debug_assert_ne!(tag, 0, "tag 0 is not indexed");
        self.by_tag.get(&tag).map_or_else(Vec::new, |set| set.iter().copied().collect())
    }

    /// Forgets every allocation.
    pub(crate) fn clear(&mut self) {
        self.extras.clear();
        self.by_tag.clear();
    }

    /// Checks the invariants (see [`Attributes`]); `live` says whether a slot holds a live
    /// allocation.
    pub(crate) fn check(&self, live: impl Fn(u32) -> bool) -> Result<(), String> {
        for (&id, extra) in &self.extras {
            if *extra == Extra::DEFAULT || !live(id) {
                return Err(format!(
                    "attributes {extra:?} recorded for allocated slot {id}, which is not live or needs none"
                ));
            }
            if extra.tag != 0 && !self.by_tag.get(&extra.tag).is_some_and(|set| set.contains(&id)) {
                return Err(format!("allocated slot {id} is missing from the index of tag {}", extra.tag));
            }
        }
        for (&tag, set) in &self.by_tag {
            if set.is_empty() || set.iter().any(|id| self.extras.get(id).is_none_or(|e| e.tag != tag)) {
                return Err(format!("the index of tag {tag} is empty or holds a slot of another tag"));
            }
        }
        Ok(())
    }
}
