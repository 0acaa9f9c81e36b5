//! Two-level segregated fit (TLSF, Masmano, Ripoll, Crespo and Real, 2004): a good fit in
//! O(1), with exact sizes, over abstract ranges.
//!
//! Free blocks are sorted into size classes, each with its own free list. The first level
//! splits sizes by powers of two (`floor(log2(size))`); the second level splits each power
//! of two `[2^k, 2^(k+1))` into [`SL_COUNT`] equal classes (32, from [`SLI_LOG2`] = 5), so
//! the blocks of one class differ in size by at most 1/32 of its lower bound. Sizes below
//! `2 * SL_COUNT` have a class of their own each (the mapping is linear there). One bit per
//! non-empty first level (`fl_bitmap`) and one bit per non-empty class within it
//! (`sl_bitmaps`) let two trailing-zero counts find the first non-empty class at or above
//! any class.
//!
//! `find(size)` rounds the request up to the next class boundary, so that every block of
//! the class it lands on holds it, and takes the first block of the first non-empty class
//! there or above (the *good fit*: a block of the smallest non-empty class whose every
//! block fits, not always the smallest fitting block). Each free list is LIFO (a new block
//! goes to its head). When the good fit finds nothing, the request's own class may still
//! hold a block large enough (it holds sizes on both sides of `size`): that one list is
//! scanned as a fallback, so a request fails only when no free block can hold it. Aligned
//! requests try the good fit for `size` (taken when it happens to be aligned enough), then
//! the good fit for `size + align - 1` (which holds an aligned fit wherever it starts),
//! then scan the classes between `size` and that, block by block.
//!
//! The lists run through the free blocks themselves: each block's two index words in the
//! block table are its previous and next block in its class list. Neighbours to merge with
//! come from the block table's address links, so nothing here is looked up by address.
//!
//! # Time complexity
//!
//! With n free blocks:
//! - `find(size, 1)`: O(1) when some class at or above `size` rounded up to a class
//!   boundary is non-empty (the good fit); else a scan of `size`'s own class list (the
//!   fallback), which ends at the first block that fits.
//! - `find(size, align)`: O(1) when the good fit's block happens to be aligned (always so
//!   when every free block starts on a multiple of `align`, as with `min_alignment`) or a
//!   block of `size + align - 1` exists; else a scan of the classes from `size`'s to
//!   `size + align - 1`'s.
//! - `insert`, `remove`, `moved`: O(1).
//! - `largest`: a scan of the highest non-empty class list (its blocks differ in size by
//!   less than 1/32; usually there are few). It is asked only for statistics, so the
//!   allocation path keeps no cache of it.

use super::{FreeSet, Span, fit_in_block};
use crate::blocks::{BlockTable, SINK};
use crate::extent::Extent;

/// The table TLSF works on: each free block holds its previous and next block in its class
/// list.
type Blocks = BlockTable<[u32; 2]>;

/// Log2 of the number of second-level classes per power of two.
const SLI_LOG2: u32 = 5;

/// Second-level classes per first-level class: 32.
const SL_COUNT: usize = 1 << SLI_LOG2;

/// First-level classes: 0 holds the sizes below [`SL_COUNT`] (one size per class); first
/// level `fl >= 1` holds `[2^(fl + SLI_LOG2 - 1), 2^(fl + SLI_LOG2))`. The last one ends at
/// `usize::MAX` inclusive: 60 on 64-bit targets.
const FL_COUNT: usize = (usize::BITS - SLI_LOG2 + 1) as usize;

/// Size classes in all, numbered `fl * SL_COUNT + sl`.
const CLASS_COUNT: usize = FL_COUNT * SL_COUNT;

const _: () = assert!(FL_COUNT <= u64::BITS as usize, "fl_bitmap is a u64");
const _: () = assert!(SL_COUNT <= u32::BITS as usize, "each sl_bitmap is a u32");

/// "No block": the end of a list, an empty class. It is the block table's sink, so the
/// ends of a list can be written through like any other block.
const NIL: u32 = SINK;

/// Which of a free block's two index words links to the previous block of its list.
const PREV: usize = 0;
/// Which links to the next one.
const NEXT: usize = 1;

/// The class of a free block of `size` units (`size > 0`): `fl` from the position of the
/// highest set bit, `sl` from the [`SLI_LOG2`] bits below it. Without a branch: below
/// [`SL_COUNT`] the shift is 0 and the class is the size itself, and above, `shift * 32 +
/// (size >> shift)` is `fl * SL_COUNT + sl` with `fl = shift + 1` and `sl = (size >> shift)
/// - SL_COUNT`.
#[inline]
fn class_of(size: usize) -> usize {
    debug_assert!(size > 0);
    let shift = (size | SL_COUNT).ilog2() - SLI_LOG2;
    (shift as usize) * SL_COUNT + (size >> shift)
}

/// The smallest size in `class` (`class < CLASS_COUNT`); the class holds the sizes from
/// there up to the next class's floor, exclusive (up to `usize::MAX` for the last class).
#[inline]
fn class_floor(class: usize) -> usize {
    let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
    if fl == 0 { sl } else { (SL_COUNT + sl) << (fl - 1) }
}

/// The first class whose every block holds `size`: `size`'s own class when `size` is its
/// floor, else the next one. [`CLASS_COUNT`] when there is none.
#[inline]
fn class_holding(size: usize) -> usize {
    let class = class_of(size);
    if class_floor(class) == size { class } else { class + 1 }
}

/// Free blocks in segregated size classes, each class a doubly linked list through the
/// blocks' index words.
///
/// Invariants (checked by [`FreeSet::check`]): every free block of the table is in exactly
/// one list, the one of its class; `heads[c]` is the first block of class `c`'s list
/// (`NIL` when empty); a block's previous link is `NIL` exactly when it heads its list, and
/// `a.next == b` exactly when `b.prev == a`; bit `sl` of `sl_bitmaps[fl]` is set exactly
/// when class `fl * SL_COUNT + sl` is non-empty, and bit `fl` of `fl_bitmap` exactly when
/// `sl_bitmaps[fl] != 0`.
#[derive(Debug, Clone)]
pub(crate) struct TlsfIndex {
    /// `heads[c]`: the first block of class `c`'s list, `NIL` when it is empty.
    heads: Box<[u32; CLASS_COUNT]>,
    fl_bitmap: u64,
    sl_bitmaps: [u32; FL_COUNT],
}

impl TlsfIndex {
    /// An index with no free block.
    pub(crate) fn new() -> Self {
        TlsfIndex { heads: Box::new([NIL; CLASS_COUNT]), fl_bitmap: 0, sl_bitmaps: [0; FL_COUNT] }
    }

    /// The first non-empty class at or above `class`: one mask and trailing-zero count on
    /// the second level, else one on the first level. O(1).
    #[inline]
    fn first_nonempty_from(&self, class: usize) -> Option<usize> {
        if class >= CLASS_COUNT {
            return None;
        }
        let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
        let here = self.sl_bitmaps[fl] & (u32::MAX << sl);
        if here != 0 {
            return Some(fl * SL_COUNT + here.trailing_zeros() as usize);
        }
        let above = self.fl_bitmap & u64::MAX.checked_shl(fl as u32 + 1).unwrap_or(0);
        if above == 0 {
            return None;
        }
        let fl = above.trailing_zeros() as usize;
        Some(fl * SL_COUNT + self.sl_bitmaps[fl].trailing_zeros() as usize)
    }

    /// The highest non-empty class: two leading-zero counts. O(1).
    fn highest_nonempty(&self) -> Option<usize> {
        if self.fl_bitmap == 0 {
            return None;
        }
        let fl = (u64::BITS - 1 - self.fl_bitmap.leading_zeros()) as usize;
        let sl = (u32::BITS - 1 - self.sl_bitmaps[fl].leading_zeros()) as usize;
        Some(fl * SL_COUNT + sl)
    }

    /// The blocks of class `class`'s list, head first.
    fn list<'a>(&self, blocks: &'a Blocks, class: usize) -> impl Iterator<Item = u32> + 'a {
        let mut id = self.heads[class];
        std::iter::from_fn(move || {
            (id != NIL).then(|| {
                let here = id;
                id = blocks.free(here).words[NEXT];
                here
            })
        })
    }

    /// The good fit for `size`: the first block of the first non-empty class whose every
    /// block holds `size`. O(1).
    #[inline]
    fn good_fit(&self, size: usize) -> Option<u32> {
        self.first_nonempty_from(class_holding(size)).map(|class| self.heads[class])
    }

    /// Links block `id` at the head of the list of `class`.
    #[inline]
    fn link(&mut self, blocks: &mut Blocks, id: u32, class: usize) {
        debug_assert_eq!(class_of(blocks.free(id).size), class, "a block linked into another class");
        let head = self.heads[class];
        *blocks.words_mut(id) = [NIL, head];
        // An empty list's head is the sink: written through, no branch.
        blocks.words_mut(head)[PREV] = id;
        self.heads[class] = id;
        self.sl_bitmaps[class / SL_COUNT] |= 1 << (class % SL_COUNT);
        self.fl_bitmap |= 1 << (class / SL_COUNT);
    }

    /// Unlinks block `id`, which is in the list of `class`. Without branches: the ends of
    /// the list are the sink, which takes the writes meant for no block.
    #[inline]
    fn unlink(&mut self, blocks: &mut Blocks, id: u32, class: usize) {
        let [prev, next] = blocks.free(id).words;
        blocks.words_mut(prev)[NEXT] = next;
        blocks.words_mut(next)[PREV] = prev;
        let head = &mut self.heads[class];
        *head = if prev == NIL { next } else { *head };
        let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
        self.sl_bitmaps[fl] &= !(u32::from(*head == NIL) << sl);
        self.fl_bitmap &= !(u64::from(self.sl_bitmaps[fl] == 0) << fl);
    }
}

impl FreeSet for TlsfIndex {
    type Words = [u32; 2];

    fn empty() -> Self {
        TlsfIndex::new()
    }

    fn clear(&mut self) {
        self.heads.fill(NIL);
        self.fl_bitmap = 0;
        self.sl_bitmaps = [0; FL_COUNT];
    }

    #[inline]
    fn find(&mut self, blocks: &Blocks, size: usize, align: usize) -> Option<(u32, usize)> {
        // 1. The good fit for `size`; under alignment it serves when it is aligned enough.
        if let Some(id) = self.good_fit(size) {
            let block = blocks.free(id);
            if align == 1 {
                return Some((id, block.start));
            }
            if let Some(at) = fit_in_block(block.start, block.size, size, align) {
                return Some((id, at));
            }
        }
        // 2. The good fit for `size + align - 1`: such a block holds an aligned fit
        //    wherever it starts.
        let padded = size.checked_add(align - 1);
        if align > 1
            && let Some(id) = padded.and_then(|padded| self.good_fit(padded))
        {
            let block = blocks.free(id);
            let at = fit_in_block(block.start, block.size, size, align).expect("a padded block holds an aligned fit");
            return Some((id, at));
        }
        // 3. Fallback, a linear scan: every class from `size`'s own up to (not including)
        //    the first class that step 2 searched. Classes below `size`'s hold only blocks
        //    smaller than `size`, and the classes that step 2 searched are empty, so when
        //    this finds nothing, no block fits. With `align == 1` this is at most the one
        //    list of `size`'s own class, whose blocks may be smaller or larger than `size`.
        let end = padded.map_or(CLASS_COUNT, class_holding);
        let mut class = class_of(size);
        while let Some(found) = self.first_nonempty_from(class).filter(|&c| c < end) {
            for id in self.list(blocks, found) {
                let block = blocks.free(id);
                if let Some(at) = fit_in_block(block.start, block.size, size, align) {
                    return Some((id, at));
                }
            }
            class = found + 1;
        }
        None
    }

    /// The first block, classes from `size`'s own upward and each list in order, whose
    /// part inside the span holds the request: a scan (classes below `size`'s hold only
    /// smaller blocks).
    fn find_within(&mut self, blocks: &Blocks, size: usize, align: usize, span: Span) -> Option<(u32, usize)> {
        let mut class = class_of(size);
        while let Some(found) = self.first_nonempty_from(class) {
            for id in self.list(blocks, found) {
                let block = blocks.free(id);
                if let Some(at) = span.place(block.start, block.size, size, align) {
                    return Some((id, at));
                }
            }
            class = found + 1;
        }
        None
    }

    #[inline]
    fn insert(&mut self, blocks: &mut Blocks, id: u32) {
        let size = blocks.free(id).size;
        self.link(blocks, id, class_of(size));
    }

    #[inline]
    fn remove(&mut self, blocks: &mut Blocks, id: u32) {
        let size = blocks.free(id).size;
        self.unlink(blocks, id, class_of(size));
    }

    #[inline]
    fn moved(&mut self, blocks: &mut Blocks, id: u32, old: Extent) {
        let size = blocks.free(id).size;
        let (old_class, class) = (class_of(old.size), class_of(size));
        if class != old_class {
            self.unlink(blocks, id, old_class);
            self.link(blocks, id, class);
        }
    }

    /// Class by class, each list head first.
    fn free_order(&self, blocks: &Blocks) -> Vec<u32> {
        (0..CLASS_COUNT)
            .filter(|&c| self.heads[c] != NIL)
            .flat_map(|c| self.list(blocks, c).collect::<Vec<_>>())
            .collect()
    }

    /// Relinks each class's list in the order given, which must list the classes in
    /// ascending order, each class's blocks together.
    fn restore_order(&mut self, blocks: &mut Blocks, order: &[u32]) -> bool {
        let classes: Vec<usize> = order.iter().map(|&id| class_of(blocks.free(id).size)).collect();
        if classes.windows(2).any(|w| w[0] > w[1]) {
            return false;
        }
        let mut rest = order;
        while let Some(&first) = rest.first() {
            let class = class_of(blocks.free(first).size);
            let run = rest.iter().take_while(|&&id| class_of(blocks.free(id).size) == class).count();
            self.heads[class] = NIL;
            for &id in rest[..run].iter().rev() {
                self.link(blocks, id, class);
            }
            rest = &rest[run..];
        }
        true
    }

    fn largest(&self, blocks: &Blocks) -> usize {
        self.highest_nonempty()
            .map_or(0, |class| self.list(blocks, class).map(|id| blocks.free(id).size).max().unwrap_or(0))
    }

    fn check(&self, blocks: &Blocks) -> Result<(), String> {
        let mut listed = std::collections::HashSet::new();
        let mut largest = 0usize;
        for class in 0..CLASS_COUNT {
            let (fl, sl) = (class / SL_COUNT, class % SL_COUNT);
            if (self.heads[class] != NIL) != (self.sl_bitmaps[fl] & (1 << sl) != 0) {
                return Err(format!("second-level bit of class {class} disagrees with its list"));
            }
            let mut prev = NIL;
            let mut id = self.heads[class];
            while id != NIL {
                let block =
                    blocks.free_checked(id).ok_or_else(|| format!("class {class} links to no free slot {id}"))?;
                if !listed.insert(id) || listed.len() > blocks.free_blocks() {
                    return Err(format!(
                        "free slot {id} is listed twice, or the lists hold more blocks than the table"
                    ));
                }
                if block.size == 0 || class_of(block.size) != class {
                    return Err(format!("free block ({}, {}) is in class {class}", block.start, block.size));
                }
                if block.words[PREV] != prev {
                    return Err(format!("broken back link at free slot {id} (class {class})"));
                }
                largest = largest.max(block.size);
                prev = id;
                id = block.words[NEXT];
            }
        }
        for fl in 0..u64::BITS as usize {
            let nonempty = self.sl_bitmaps.get(fl).is_some_and(|&bits| bits != 0);
            if (self.fl_bitmap & (1 << fl) != 0) != nonempty {
                return Err(format!("first-level bit {fl} disagrees with the second level"));
            }
        }
        if listed.len() != blocks.free_blocks() {
            return Err(format!("{} blocks listed, {} free in the table", listed.len(), blocks.free_blocks()));
        }
        if FreeSet::largest(self, blocks) != largest {
            return Err(format!("largest free block is {largest}, the classes say {}", FreeSet::largest(self, blocks)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_contiguous_and_ordered() {
        assert_eq!(class_floor(1), 1);
        for class in 1..CLASS_COUNT {
            let floor = class_floor(class);
            assert_eq!(class_of(floor), class, "floor of class {class}");
            if class > 1 {
                assert_eq!(class_of(floor - 1), class - 1, "just below class {class}");
                assert!(class_floor(class - 1) < floor);
            }
            let last = if class + 1 < CLASS_COUNT { class_floor(class + 1) - 1 } else { usize::MAX };
            assert_eq!(class_of(last), class, "last size of class {class}");
            // One class per size below 2 * SL_COUNT; above, a class spans 1/32 of a power of two.
            if floor < 2 * SL_COUNT {
                assert_eq!(last, floor);
            } else {
                assert_eq!(last - floor + 1, 1 << (floor.ilog2() - SLI_LOG2));
            }
        }
    }

    #[test]
    fn class_mapping_at_the_extremes() {
        assert_eq!(class_of(usize::MAX), CLASS_COUNT - 1);
        assert_eq!(class_of(usize::MAX - 1), CLASS_COUNT - 1);
        assert_eq!(class_of(1 << (usize::BITS - 1)), CLASS_COUNT - SL_COUNT);
        assert_eq!(class_floor(CLASS_COUNT - 1), 0b11_1111 << (usize::BITS - 6));
        assert_eq!(class_holding(class_floor(CLASS_COUNT - 1)), CLASS_COUNT - 1);
        assert_eq!(class_holding(class_floor(CLASS_COUNT - 1) + 1), CLASS_COUNT);
        assert_eq!(class_holding(usize::MAX), CLASS_COUNT);
        for size in [1, 31, 32, 33, 63, 64, 65, 100, 1000, 1 << 40, (1 << 40) + 1, usize::MAX / 3] {
            let holding = class_holding(size);
            assert!(class_floor(holding) >= size, "every block of class {holding} holds {size}");
            assert!(class_floor(holding - 1) < size || holding == class_of(size));
        }
    }
}
