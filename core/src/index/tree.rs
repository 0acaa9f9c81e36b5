//! A B+ tree of free blocks, ordered by a key that the [`Order`] derives from each block,
//! where every inner node also knows, for each child, the largest block beneath it.
//!
//! First fit orders by address and best fit by `(size, address)`; in both, the block the
//! policy wants is the first one in key order that can hold the request, and the largest
//! block beneath each child finds it in one descent from the root: in each inner node take
//! the first child whose largest block is big enough, in the leaf the first block that is.
//! Every node but the root has between a quarter and all of its slots in use and every
//! leaf is at the same depth, so each operation is O(log n) in the number of free blocks,
//! worst case. (Linux's `drm_mm` keeps the same augmentation on a red-black tree; a B+
//! tree keeps dozens of blocks per node, so a descent touches a few cache lines per level
//! instead of one node per level.)
//!
//! Nodes live in two slabs (leaves, inner nodes) and refer to each other by `u32` slot: no
//! `unsafe`, no allocation per node, and none at all once the slabs have reached their
//! peak: splits and joins move entries between fixed-size nodes, never through a
//! temporary buffer. A leaf holds up to `L` blocks as three arrays (starts, sizes, block
//! slots); unused slots hold `usize::MAX` (start) and 0 (size), so that address searches
//! and the largest block run over whole arrays without looking at the length.
//!
//! Each entry also carries the block's slot in the block table, which is what the caller
//! gets back; the tree finds an entry again from its key (an operation right after a
//! search reuses the search's path, the *finger*, instead).

use std::fmt::Debug;

use super::fit_in_block;
use crate::extent::Extent;
use crate::slab::{Slab, Vacant};

/// How a tree orders its blocks.
pub(crate) trait Order {
    /// The sort key of a block; unique, since blocks have distinct starts.
    type Key: Copy + Ord + Debug;
    /// Above every key: the fill value of unused key slots in inner nodes.
    const KEY_MAX: Self::Key;
    /// Whether the key is the address: then a block that changes its extent without
    /// crossing its neighbours keeps its place in key order, and the tree answers
    /// questions by address.
    const BY_ADDRESS: bool;

    /// The key of the free block `[start, start + size)`.
    fn key(start: usize, size: usize) -> Self::Key;

    /// `a <= b`, without a branch (a tuple comparison branches on its first field).
    fn at_most(a: Self::Key, b: Self::Key) -> bool;

    /// The number of `leaf`'s blocks whose key is below `key`.
    fn rank<const L: usize>(leaf: &Leaf<L>, key: Self::Key) -> usize;
}

/// "No node".
const NIL: u32 = u32::MAX;

/// The number of leading indices of `0..len` for which `below` holds (`below` must hold
/// for a prefix and fail for the rest): a binary search whose halving steps are selects,
/// not branches, so it costs no mispredicted branch whatever the data.
#[inline]
pub(crate) fn lower_bound(len: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut base, mut n) = (0, len);
    if n == 0 {
        return 0;
    }
    while n > 1 {
        let half = n / 2;
        base = if below(base + half - 1) { base + half } else { base };
        n -= half;
    }
    base + usize::from(below(base))
}

/// The most inner levels above the leaves. Every leaf but the root holds at least
/// `max(1, L / 4)` blocks and every inner node but the root at least `max(2, F / 4)`
/// children: with the core's sizes (8 and 4) 2^32 blocks need at most 16 inner levels,
/// and the tests' tiny nodes stay far below 2^24 blocks.
const MAX_HEIGHT: usize = 24;

/// Up to `L` free blocks in key order; slots from `len` on hold `usize::MAX` (start), 0
/// (size) and `NIL` (block slot).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leaf<const L: usize> {
    pub(crate) starts: [usize; L],
    pub(crate) sizes: [usize; L],
    ids: [u32; L],
    pub(crate) len: usize,
}

impl<const L: usize> Leaf<L> {
    const EMPTY: Self = Leaf { starts: [usize::MAX; L], sizes: [0; L], ids: [NIL; L], len: 0 };

    /// The largest block (0 when empty).
    fn max(&self) -> usize {
        self.sizes.iter().copied().max().unwrap_or(0)
    }

    fn insert(&mut self, i: usize, start: usize, size: usize, id: u32) {
        debug_assert!(self.len < L && i <= self.len);
        self.starts.copy_within(i..self.len, i + 1);
        self.sizes.copy_within(i..self.len, i + 1);
        self.ids.copy_within(i..self.len, i + 1);
        self.starts[i] = start;
        self.sizes[i] = size;
        self.ids[i] = id;
        self.len += 1;
    }

    fn remove(&mut self, i: usize) {
        debug_assert!(i < self.len);
        self.starts.copy_within(i + 1..self.len, i);
        self.sizes.copy_within(i + 1..self.len, i);
        self.ids.copy_within(i + 1..self.len, i);
        self.len -= 1;
        (self.starts[self.len], self.sizes[self.len], self.ids[self.len]) = (usize::MAX, 0, NIL);
    }

    /// Keeps the first `len` blocks; the rest of the slots get their fill values.
    fn truncate(&mut self, len: usize) {
        self.starts[len..].fill(usize::MAX);
        self.sizes[len..].fill(0);
        self.ids[len..].fill(NIL);
        self.len = len;
    }

    /// The blocks as `(start, size, block slot)`.
    fn entries(&self) -> impl Iterator<Item = (usize, usize, u32)> + '_ {
        (0..self.len).map(|i| (self.starts[i], self.sizes[i], self.ids[i]))
    }

    /// Inserts `(start, size, id)` at `pos` into this full leaf, keeping the lower half of
    /// the `L + 1` blocks here and moving the upper half into `right` (empty).
    fn split_insert(&mut self, right: &mut Self, pos: usize, (start, size, id): (usize, usize, u32)) {
        let keep = L.div_ceil(2);
        split_insert(&mut self.starts, &mut right.starts, pos, start, keep);
        split_insert(&mut self.sizes, &mut right.sizes, pos, size, keep);
        split_insert(&mut self.ids, &mut right.ids, pos, id, keep);
        right.len = L + 1 - keep;
        self.truncate(keep);
    }

    /// Moves blocks between this leaf and its right sibling `right` so that this one
    /// holds `keep` of the two's blocks (all of them when `keep` is the total).
    fn rebalance(&mut self, right: &mut Self, keep: usize) {
        let (a, b) = (self.len, right.len);
        rebalance(&mut self.starts, a, &mut right.starts, b, keep);
        rebalance(&mut self.sizes, a, &mut right.sizes, b, keep);
        rebalance(&mut self.ids, a, &mut right.ids, b, keep);
        right.len = a + b - keep;
        right.truncate(a + b - keep);
        self.len = keep;
        self.truncate(keep);
    }
}

impl<const L: usize> Vacant for Leaf<L> {
    fn vacant(next_vacant: u32) -> Self {
        let mut leaf = Self::EMPTY;
        leaf.ids[0] = next_vacant;
        leaf
    }

    fn next_vacant(&self) -> u32 {
        self.ids[0]
    }
}

/// Up to `F` children. `keys[c]` (for `c >= 1`) is the lowest key in child `c`'s subtree,
/// so child `c` holds exactly the blocks with keys in `[keys[c], keys[c + 1])`; `keys[0]`
/// is unused. `maxes[c]` is the largest block in child `c`'s subtree. Unused slots hold
/// `KEY_MAX` (key), 0 (max) and `NIL` (child).
struct Inner<O: Order, const F: usize> {
    keys: [O::Key; F],
    maxes: [usize; F],
    children: [u32; F],
    len: usize,
}

// Derived impls would require `O: Clone` and `O: Debug`; only the key needs them.
impl<O: Order, const F: usize> Clone for Inner<O, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O: Order, const F: usize> Copy for Inner<O, F> {}

impl<O: Order, const F: usize> Debug for Inner<O, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("keys", &&self.keys[..self.len])
            .field("maxes", &&self.maxes[..self.len])
            .field("children", &&self.children[..self.len])
            .finish()
    }
}

impl<O: Order, const F: usize> Inner<O, F> {
    const EMPTY: Self = Inner { keys: [O::KEY_MAX; F], maxes: [0; F], children: [NIL; F], len: 0 };

    /// The child whose subtree holds the blocks around `key`. Only the keys in use count
    /// (an unused slot's `KEY_MAX` is not above every key a caller may ask about).
    #[inline]
    fn route(&self, key: O::Key) -> usize {
        // Keys 1.. are sorted: the number of them at or below `key`.
        lower_bound(self.len - 1, |i| O::at_most(self.keys[i + 1], key))
    }

    /// The largest block beneath this node.
    fn max(&self) -> usize {
        self.maxes.iter().copied().max().unwrap_or(0)
    }

    /// Keeps the first `len` children; the rest of the slots get their fill values.
    fn truncate(&mut self, len: usize) {
        self.keys[len..].fill(O::KEY_MAX);
        self.maxes[len..].fill(0);
        self.children[len..].fill(NIL);
        self.len = len;
    }

    /// Inserts the child `(key, max, child)` at `c` into this full node, keeping the lower
    /// half of the `F + 1` children here and moving the upper half into `right` (empty).
    /// Returns the key of `right`'s first child, which moves up to the parent.
    fn split_insert(&mut self, right: &mut Self, c: usize, (key, max, child): (O::Key, usize, u32)) -> O::Key {
        let keep = F.div_ceil(2);
        split_insert(&mut self.keys, &mut right.keys, c, key, keep);
        split_insert(&mut self.maxes, &mut right.maxes, c, max, keep);
        split_insert(&mut self.children, &mut right.children, c, child, keep);
        right.len = F + 1 - keep;
        self.truncate(keep);
        std::mem::replace(&mut right.keys[0], O::KEY_MAX)
    }

    /// Moves children between this node and its right sibling `right`, whose first child
    /// starts at `separator`, so that this one keeps `keep` of them (all when `keep` is
    /// the total). Returns the new separator (meaningless when `right` is left empty).
    fn rebalance(&mut self, right: &mut Self, separator: O::Key, keep: usize) -> O::Key {
        let (a, b) = (self.len, right.len);
        // The right node's first child has no key of its own: the separator is its key.
        right.keys[0] = separator;
        rebalance(&mut self.keys, a, &mut right.keys, b, keep);
        rebalance(&mut self.maxes, a, &mut right.maxes, b, keep);
        rebalance(&mut self.children, a, &mut right.children, b, keep);
        right.truncate(a + b - keep);
        self.truncate(keep);
        std::mem::replace(&mut right.keys[0], O::KEY_MAX)
    }
}

impl<O: Order, const F: usize> Vacant for Inner<O, F> {
    fn vacant(next_vacant: u32) -> Self {
        let mut inner = Self::EMPTY;
        inner.children[0] = next_vacant;
        inner
    }

    fn next_vacant(&self) -> u32 {
        self.children[0]
    }
}

/// `left` is full (`N` values); inserts `value` at `pos` and leaves the first `keep` of
/// the `N + 1` values in `left` (its tail is the caller's to clear) and the rest at the
/// front of `right`.
fn split_insert<T: Copy, const N: usize>(left: &mut [T; N], right: &mut [T; N], pos: usize, value: T, keep: usize) {
    debug_assert!(pos <= N && 0 < keep && keep <= N);
    if pos < keep {
        right[..N + 1 - keep].copy_from_slice(&left[keep - 1..]);
        left.copy_within(pos..keep - 1, pos + 1);
        left[pos] = value;
    } else {
        let at = pos - keep;
        right[..at].copy_from_slice(&left[keep..pos]);
        right[at] = value;
        right[at + 1..N + 1 - keep].copy_from_slice(&left[pos..]);
    }
}

/// `left` holds `a` values and `right` `b`; moves values across so that `left` holds the
/// first `keep` of the `a + b` and `right` the rest, in order (tails are the caller's to
/// clear).
fn rebalance<T: Copy, const N: usize>(left: &mut [T; N], a: usize, right: &mut [T; N], b: usize, keep: usize) {
    debug_assert!(keep <= N && a + b - keep <= N);
    if keep >= a {
        let moved = keep - a;
        left[a..keep].copy_from_slice(&right[..moved]);
        right.copy_within(moved..b, 0);
    } else {
        let moved = a - keep;
        right.copy_within(0..b, moved);
        right[..moved].copy_from_slice(&left[keep..a]);
    }
}

/// Where one block is (or would be inserted): the child taken in each inner node from
/// the root, the leaf, and the position in the leaf. Small enough to copy freely; the
/// inner nodes passed are found again from the slots ([`BlockTree::path`]) by the changes
/// that need them.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    slot: [u8; MAX_HEIGHT],
    leaf: u32,
    pos: usize,
}

impl Cursor {
    const START: Cursor = Cursor { slot: [0; MAX_HEIGHT], leaf: NIL, pos: 0 };
}

/// The inner nodes a cursor passes, from the root down.
type Path = [u32; MAX_HEIGHT];

/// What [`BlockTree::search`] looks for.
struct Query<K, Fits> {
    from: Option<K>,
    to: Option<K>,
    min_size: usize,
    backwards: bool,
    fits: Fits,
}

/// Free blocks in a B+ tree ordered by `O`, with leaves of up to `L` blocks and inner
/// nodes of up to `F` children, every child slot annotated with the largest block beneath
/// it.
///
/// Invariants (checked by [`BlockTree::check`]): every leaf is at depth `height`; blocks
/// are in strictly ascending key order; every node but the root is at least a quarter
/// full (at least 2 children for an inner node), an inner root has at least 2 children;
/// keys and maxes are exact; unused slots hold their fill values; `len` counts the blocks.
pub(crate) struct BlockTree<O: Order, const L: usize, const F: usize> {
    leaves: Slab<Leaf<L>, NIL>,
    inners: Slab<Inner<O, F>, NIL>,
    /// A leaf when `height` is 0, else an inner node.
    root: u32,
    /// Inner levels above the leaves.
    height: usize,
    len: usize,
    /// The path of the block that the last [`BlockTree::find`] returned, until the next
    /// change to the tree: the operation that follows a search uses it instead of a
    /// second descent.
    finger: Option<Cursor>,
}

impl<O: Order, const L: usize, const F: usize> Clone for BlockTree<O, L, F> {
    fn clone(&self) -> Self {
        BlockTree {
            leaves: self.leaves.clone(),
            inners: self.inners.clone(),
            root: self.root,
            height: self.height,
            len: self.len,
            finger: self.finger,
        }
    }
}

impl<O: Order, const L: usize, const F: usize> Debug for BlockTree<O, L, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockTree").field("len", &self.len).field("height", &self.height).finish_non_exhaustive()
    }
}

impl<O: Order, const L: usize, const F: usize> BlockTree<O, L, F> {
    /// The fewest blocks in a leaf other than the root.
    const LEAF_MIN: usize = if L / 4 > 1 { L / 4 } else { 1 };
    /// The fewest children of an inner node other than the root.
    const INNER_MIN: usize = if F / 4 > 2 { F / 4 } else { 2 };

    /// An empty tree.
    pub(crate) fn new() -> Self {
        const { assert!(L >= 2 && F >= 4 && F <= 256, "node sizes out of range") };
        let mut leaves = Slab::new();
        let root = leaves.add(Leaf::EMPTY);
        BlockTree { leaves, inners: Slab::new(), root, height: 0, len: 0, finger: None }
    }

    /// Empties the tree, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.leaves.clear();
        self.inners.clear();
        self.root = self.leaves.add(Leaf::EMPTY);
        self.height = 0;
        self.len = 0;
        self.finger = None;
    }

    /// The number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The size of the largest block (0 when empty).
    pub(crate) fn largest(&self) -> usize {
        self.node_max(0, self.root)
    }

    /// The largest block beneath node `id` at `level` (0 is the root's level).
    fn node_max(&self, level: usize, id: u32) -> usize {
        if level == self.height { self.leaves[id].max() } else { self.inners[id].max() }
    }

    fn entry(&self, cur: &Cursor) -> (usize, usize, u32) {
        let leaf = &self.leaves[cur.leaf];
        (leaf.starts[cur.pos], leaf.sizes[cur.pos], leaf.ids[cur.pos])
    }

    /// The inner nodes `cur` passes, from the root down.
    fn path(&self, cur: &Cursor) -> Path {
        let mut path = [NIL; MAX_HEIGHT];
        let mut id = self.root;
        for (node, &slot) in path.iter_mut().zip(&cur.slot).take(self.height) {
            *node = id;
            id = self.inners[id].children[usize::from(slot)];
        }
        path
    }

    /// The cursor at the first block whose key is at least `key`, within the leaf whose
    /// range holds `key` (its position may be one past the leaf's last block).
    fn seek(&self, key: O::Key) -> Cursor {
        let mut cur = Cursor::START;
        let mut id = self.root;
        for level in 0..self.height {
            let inner = &self.inners[id];
            let c = inner.route(key);
            cur.slot[level] = c as u8;
            id = inner.children[c];
        }
        cur.leaf = id;
        cur.pos = O::rank(&self.leaves[id], key);
        cur
    }

    /// The cursor at the first block, in key order, of at least `size` units.
    fn seek_fit(&self, size: usize) -> Option<Cursor> {
        if self.largest() < size {
            return None;
        }
        let mut cur = Cursor::START;
        let mut id = self.root;
        for level in 0..self.height {
            let inner = &self.inners[id];
            let c = inner.maxes.iter().position(|&m| m >= size).expect("the max above says a child fits");
            cur.slot[level] = c as u8;
            id = inner.children[c];
        }
        cur.leaf = id;
        cur.pos = self.leaves[id].sizes.iter().position(|&s| s >= size).expect("the max above says a block fits");
        Some(cur)
    }

    /// The first block in key order that holds `size` units at a multiple of `align`, and
    /// that address: subtrees without a block of `size` units are skipped, blocks that are
    /// large enough but too misaligned are stepped over.
    fn seek_aligned(&self, cur: &mut Cursor, level: usize, id: u32, size: usize, align: usize) -> Option<usize> {
        if level == self.height {
            let leaf = &self.leaves[id];
            let (pos, at) = (0..leaf.len)
                .find_map(|i| fit_in_block(leaf.starts[i], leaf.sizes[i], size, align).map(|at| (i, at)))?;
            cur.leaf = id;
            cur.pos = pos;
            return Some(at);
        }
        let inner = &self.inners[id];
        (0..inner.len).filter(|&c| inner.maxes[c] >= size).find_map(|c| {
            cur.slot[level] = c as u8;
            self.seek_aligned(cur, level + 1, inner.children[c], size, align)
        })
    }

    /// The first block in key order that holds `size` units at a multiple of `align`:
    /// its slot in the block table and that address. The path to it becomes the finger.
    pub(crate) fn find(&mut self, size: usize, align: usize) -> Option<(u32, usize)> {
        let (cur, at) = if align == 1 {
            let cur = self.seek_fit(size)?;
            (cur, self.leaves[cur.leaf].starts[cur.pos])
        } else {
            if self.largest() < size {
                return None;
            }
            let mut cur = Cursor::START;
            let at = self.seek_aligned(&mut cur, 0, self.root, size, align)?;
            (cur, at)
        };
        self.finger = Some(cur);
        Some((self.entry(&cur).2, at))
    }

    /// The first block in key order (the last, when `backwards`) whose key lies in
    /// `[from, to)` (a missing bound is no bound), that has at least `min_size` units and
    /// for which `fits(start, size)` gives an address: its slot in the block table and
    /// that address. Only subtrees that overlap the key range and hold a block of
    /// `min_size` units are visited, so the search is a descent plus the blocks that
    /// `fits` turns down. The path to it becomes the finger.
    pub(crate) fn search(
        &mut self,
        (from, to): (Option<O::Key>, Option<O::Key>),
        min_size: usize,
        backwards: bool,
        fits: impl Fn(usize, usize) -> Option<usize>,
    ) -> Option<(u32, usize)> {
        let query = Query { from, to, min_size, backwards, fits };
        let mut cur = Cursor::START;
        let at = self.search_node(0, self.root, (None, None), &query, &mut cur)?;
        self.finger = Some(cur);
        Some((self.entry(&cur).2, at))
    }

    fn search_node<Fits: Fn(usize, usize) -> Option<usize>>(
        &self,
        level: usize,
        id: u32,
        (lo, hi): (Option<O::Key>, Option<O::Key>),
        query: &Query<O::Key, Fits>,
        cur: &mut Cursor,
    ) -> Option<usize> {
        // The k-th position of `n` in the query's direction.
        let nth = |k: usize, n: usize| if query.backwards { n - 1 - k } else { k };
        if level == self.height {
            let leaf = &self.leaves[id];
            for i in (0..leaf.len).map(|k| nth(k, leaf.len)) {
                let (start, size) = (leaf.starts[i], leaf.sizes[i]);
                let key = O::key(start, size);
                if size < query.min_size || query.from.is_some_and(|f| key < f) || query.to.is_some_and(|t| key >= t) {
                    continue;
                }
                if let Some(at) = (query.fits)(start, size) {
                    (cur.leaf, cur.pos) = (id, i);
                    return Some(at);
                }
            }
            return None;
        }
        let inner = &self.inners[id];
        for c in (0..inner.len).map(|k| nth(k, inner.len)) {
            let child_lo = if c == 0 { lo } else { Some(inner.keys[c]) };
            let child_hi = if c + 1 < inner.len { Some(inner.keys[c + 1]) } else { hi };
            let before = matches!((child_hi, query.from), (Some(h), Some(f)) if h <= f);
            let after = matches!((child_lo, query.to), (Some(l), Some(t)) if l >= t);
            if inner.maxes[c] < query.min_size || before || after {
                continue;
            }
            cur.slot[level] = c as u8;
            if let Some(at) = self.search_node(level + 1, inner.children[c], (child_lo, child_hi), query, cur) {
                return Some(at);
            }
        }
        None
    }

    /// The last block whose key is below `key`, and its block slot.
    pub(crate) fn last_below(&self, key: O::Key) -> Option<(Extent, u32)> {
        let query = Query { from: None, to: Some(key), min_size: 0, backwards: true, fits: |start, _| Some(start) };
        let mut cur = Cursor::START;
        self.search_node(0, self.root, (None, None), &query, &mut cur)?;
        let (start, size, id) = self.entry(&cur);
        Some((Extent::new(start, size), id))
    }

    /// The cursor at block `id`, whose key is `key`: the finger when it points there,
    /// else a descent.
    fn locate(&mut self, id: u32, key: O::Key) -> Cursor {
        if let Some(cur) = self.finger.take()
            && self.leaves[cur.leaf].ids[cur.pos] == id
        {
            return cur;
        }
        let cur = self.seek(key);
        debug_assert_eq!(self.leaves[cur.leaf].ids.get(cur.pos), Some(&id), "block {id} is not at its key");
        cur
    }

    /// Adds the block `[start, start + size)`, block slot `id`.
    pub(crate) fn insert(&mut self, start: usize, size: usize, id: u32) {
        self.finger = None;
        let cur = self.seek(O::key(start, size));
        self.insert_at(&cur, start, size, id);
    }

    /// Removes the block `[start, start + size)`, block slot `id`.
    pub(crate) fn remove(&mut self, start: usize, size: usize, id: u32) {
        let cur = self.locate(id, O::key(start, size));
        self.remove_at(&cur);
    }

    /// Block `id` was `old` and is now `new`, between the same neighbours in address order.
    pub(crate) fn update(&mut self, id: u32, old: Extent, new: Extent) {
        let cur = self.locate(id, O::key(old.start, old.size));
        let Extent { start, size } = new;
        if O::BY_ADDRESS || self.fits_at(&cur, O::key(start, size)) {
            self.set(&cur, start, size);
        } else {
            self.remove_at(&cur);
            self.insert(start, size, id);
        }
    }

    /// Whether `key` lies strictly between the keys at `cur.pos - 1` and at `next` in the
    /// leaf (where either exists): the order a change at `cur` must keep.
    fn key_fits(&self, cur: &Cursor, next: usize, key: O::Key) -> bool {
        let leaf = &self.leaves[cur.leaf];
        let key_at = |i: usize| O::key(leaf.starts[i], leaf.sizes[i]);
        (cur.pos == 0 || key_at(cur.pos - 1) < key) && (next >= leaf.len || key < key_at(next))
    }

    /// Whether `key` may replace the key at `cur` without breaking the order: it stays
    /// strictly between the keys of its neighbours in the same leaf.
    fn fits_at(&self, cur: &Cursor, key: O::Key) -> bool {
        let leaf = &self.leaves[cur.leaf];
        let key_at = |i: usize| O::key(leaf.starts[i], leaf.sizes[i]);
        cur.pos > 0 && cur.pos + 1 < leaf.len && key_at(cur.pos - 1) < key && key < key_at(cur.pos + 1)
    }

    /// After the lowest key of `cur`'s leaf changed to `key`: the key that holds it (in
    /// the deepest inner node where the path does not take the first child).
    fn set_leaf_key(&mut self, cur: &Cursor, path: &Path, key: O::Key) {
        if let Some(k) = (0..self.height).rev().find(|&k| cur.slot[k] > 0) {
            self.inners[path[k]].keys[usize::from(cur.slot[k])] = key;
        }
    }

    /// Restores the maxes on `cur`'s path above `level`, where the node on the path now
    /// has `max` as its largest block; stops at the first slot whose max comes out
    /// unchanged.
    fn refresh_above(&mut self, cur: &Cursor, path: &Path, level: usize, mut max: usize) {
        for k in (0..level).rev() {
            let inner = &mut self.inners[path[k]];
            if inner.maxes[usize::from(cur.slot[k])] == max {
                return;
            }
            inner.maxes[usize::from(cur.slot[k])] = max;
            max = inner.max();
        }
    }

    /// Raises the maxes on `cur`'s path to at least `size` (a block of `size` units
    /// appeared or grew in its leaf); stops at the first slot already that high.
    fn raise(&mut self, cur: &Cursor, path: &Path, size: usize) {
        for k in (0..self.height).rev() {
            let max = &mut self.inners[path[k]].maxes[usize::from(cur.slot[k])];
            if *max >= size {
                return;
            }
            *max = size;
        }
    }

    /// After a block of `old` units in `cur`'s leaf shrank or left: only when it was the
    /// largest beneath its slot can a max on the path go down.
    fn lowered(&mut self, cur: &Cursor, path: &Path, old: usize) {
        if let Some(k) = self.height.checked_sub(1)
            && old >= self.inners[path[k]].maxes[usize::from(cur.slot[k])]
        {
            let max = self.leaves[cur.leaf].max();
            self.refresh_above(cur, path, self.height, max);
        }
    }

    /// Changes the block at `cur`; its key must stay between its neighbours'.
    fn set(&mut self, cur: &Cursor, start: usize, size: usize) {
        self.finger = None;
        debug_assert!(
            self.key_fits(cur, cur.pos + 1, O::key(start, size)),
            "a changed block leaves its place in the order"
        );
        let path = self.path(cur);
        let leaf = &mut self.leaves[cur.leaf];
        let old = leaf.sizes[cur.pos];
        leaf.starts[cur.pos] = start;
        leaf.sizes[cur.pos] = size;
        if cur.pos == 0 {
            self.set_leaf_key(cur, &path, O::key(start, size));
        }
        if size >= old { self.raise(cur, &path, size) } else { self.lowered(cur, &path, old) }
    }

    /// Inserts the block `(start, size, id)` at `cur` (which `seek` returned for its key).
    /// Splits full nodes on the way up.
    fn insert_at(&mut self, cur: &Cursor, start: usize, size: usize, id: u32) {
        self.finger = None;
        debug_assert!(self.key_fits(cur, cur.pos, O::key(start, size)), "a new block out of order");
        self.len += 1;
        let path = self.path(cur);
        if self.leaves[cur.leaf].len < L {
            self.leaves[cur.leaf].insert(cur.pos, start, size, id);
            if cur.pos == 0 {
                self.set_leaf_key(cur, &path, O::key(start, size));
            }
            self.raise(cur, &path, size);
            return;
        }
        if self.insert_by_shifting(cur, &path, start, size, id) {
            return;
        }
        // Split the full leaf: the lower half stays, the upper half moves to a new leaf.
        let right = self.leaves.add(Leaf::EMPTY);
        let (leaf, new) = self.leaves.pair_mut(cur.leaf, right);
        leaf.split_insert(new, cur.pos, (start, size, id));
        let (right_key, right_max) = (O::key(new.starts[0], new.sizes[0]), new.max());
        if cur.pos == 0 {
            self.set_leaf_key(cur, &path, O::key(start, size));
        }
        let mut left_max = self.leaves[cur.leaf].max();
        let mut pending = Some((right_key, right_max, right));
        // Walk up: put the new right sibling next to its left one, splitting full inner
        // nodes in turn; refresh the maxes of the slots passed.
        for k in (0..self.height).rev() {
            let id = path[k];
            let c = usize::from(cur.slot[k]);
            self.inners[id].maxes[c] = left_max;
            if let Some(slot) = pending.take() {
                let inner = &mut self.inners[id];
                if inner.len < F {
                    let n = inner.len;
                    inner.keys.copy_within(c + 1..n, c + 2);
                    inner.maxes.copy_within(c + 1..n, c + 2);
                    inner.children.copy_within(c + 1..n, c + 2);
                    (inner.keys[c + 1], inner.maxes[c + 1], inner.children[c + 1]) = slot;
                    inner.len += 1;
                } else {
                    let mut right = Inner::EMPTY;
                    let up_key = inner.split_insert(&mut right, c + 1, slot);
                    let up_max = right.max();
                    pending = Some((up_key, up_max, self.inners.add(right)));
                }
            }
            left_max = self.inners[id].max();
        }
        if let Some((key, max, child)) = pending {
            // The root split: a new root above the two halves.
            let mut root = Inner::EMPTY;
            root.len = 2;
            root.keys[1] = key;
            root.children[0] = self.root;
            root.children[1] = child;
            root.maxes[0] = left_max;
            root.maxes[1] = max;
            self.root = self.inners.add(root);
            self.height += 1;
            assert!(self.height < MAX_HEIGHT, "B+ tree deeper than {MAX_HEIGHT} levels");
        }
    }

    /// Inserts `(start, size, id)` at `cur` in its full leaf without a split, when a
    /// sibling under the same parent has room: the leaf's block at the end nearer that
    /// sibling moves over (or the new block itself goes there, when that is its place).
    /// Leaves stay fuller than with splits alone (fewer nodes, fewer cache lines per
    /// block). Returns whether it did.
    fn insert_by_shifting(&mut self, cur: &Cursor, path: &Path, start: usize, size: usize, id: u32) -> bool {
        let Some(level) = self.height.checked_sub(1) else { return false };
        let (parent, c) = (path[level], usize::from(cur.slot[level]));
        let children = self.inners[parent].children;
        let sibling = if c > 0 && self.leaves[children[c - 1]].len < L {
            c - 1
        } else if c + 1 < self.inners[parent].len && self.leaves[children[c + 1]].len < L {
            c + 1
        } else {
            return false;
        };
        let (other, leaf) = self.leaves.pair_mut(children[sibling], cur.leaf);
        if sibling < c {
            if cur.pos == 0 {
                // Below every block of the leaf: the new block ends the left sibling.
                other.insert(other.len, start, size, id);
            } else {
                other.insert(other.len, leaf.starts[0], leaf.sizes[0], leaf.ids[0]);
                leaf.remove(0);
                leaf.insert(cur.pos - 1, start, size, id);
            }
        } else if cur.pos == L {
            // Above every block of the leaf: the new block starts the right sibling.
            other.insert(0, start, size, id);
        } else {
            let last = L - 1;
            other.insert(0, leaf.starts[last], leaf.sizes[last], leaf.ids[last]);
            leaf.remove(last);
            leaf.insert(cur.pos, start, size, id);
        }
        let (right_first, leaf_first) =
            (O::key(other.starts[0], other.sizes[0]), O::key(leaf.starts[0], leaf.sizes[0]));
        let (other_max, leaf_max) = (other.max(), leaf.max());
        let node = &mut self.inners[parent];
        (node.maxes[sibling], node.maxes[c]) = (other_max, leaf_max);
        if sibling < c {
            node.keys[c] = leaf_first;
        } else {
            node.keys[sibling] = right_first;
            if cur.pos == 0 {
                self.set_leaf_key(cur, path, leaf_first);
            }
        }
        let max = self.inners[parent].max();
        self.refresh_above(cur, path, level, max);
        true
    }

    /// Removes the block at `cur`. Merges or rebalances nodes that fall below a quarter
    /// full on the way up.
    fn remove_at(&mut self, cur: &Cursor) {
        self.finger = None;
        self.len -= 1;
        let path = self.path(cur);
        let leaf = &mut self.leaves[cur.leaf];
        let old = leaf.sizes[cur.pos];
        leaf.remove(cur.pos);
        if cur.pos == 0 && leaf.len > 0 {
            let first = O::key(leaf.starts[0], leaf.sizes[0]);
            self.set_leaf_key(cur, &path, first);
        }
        // `level` is the level of the node that may be too empty now: the leaf first.
        let mut level = self.height;
        while level > 0 {
            let (parent, c) = (path[level - 1], usize::from(cur.slot[level - 1]));
            let id = if level == self.height { cur.leaf } else { path[level] };
            let (len, min) = if level == self.height {
                (self.leaves[id].len, Self::LEAF_MIN)
            } else {
                (self.inners[id].len, Self::INNER_MIN)
            };
            if len >= min {
                // No more structural change: the maxes above need at most a refresh.
                if level == self.height {
                    self.lowered(cur, &path, old);
                    return;
                }
                self.refresh_above(cur, &path, level, self.node_max(level, id));
                return;
            }
            // Too empty: join with a sibling (the left one when there is one).
            self.join(level, parent, c.saturating_sub(1));
            if c == 0 && len == 0 {
                // An emptied first child now holds what was its right sibling's: the key
                // of the subtree it begins (kept further up) changes with it. Only a leaf
                // can be emptied (leaves of fewer than 8 slots may hold a single block;
                // an inner node is joined while it still has a child).
                debug_assert_eq!(level, self.height);
                let first = &self.leaves[self.inners[parent].children[0]];
                let key = O::key(first.starts[0], first.sizes[0]);
                if let Some(k) = (0..level - 1).rev().find(|&k| cur.slot[k] > 0) {
                    self.inners[path[k]].keys[usize::from(cur.slot[k])] = key;
                }
            }
            level -= 1;
        }
        // The root: an inner root left with one child gives way to that child.
        if self.height > 0 && self.inners[self.root].len == 1 {
            let old = self.root;
            self.root = self.inners[old].children[0];
            self.inners.remove(old);
            self.height -= 1;
        }
    }

    /// Children `c` and `c + 1` of inner node `parent` (at `level - 1`; the children are at
    /// `level`): merges them into the left one when they fit in one node, else shares
    /// their contents evenly. Keys and maxes in `parent` follow.
    fn join(&mut self, level: usize, parent: u32, c: usize) {
        let (left, right) = (self.inners[parent].children[c], self.inners[parent].children[c + 1]);
        let (merged, right_key, left_max, right_max) = if level == self.height {
            let (l, r) = self.leaves.pair_mut(left, right);
            let total = l.len + r.len;
            let merged = total <= L;
            l.rebalance(r, if merged { total } else { total / 2 });
            let right_key = if merged { O::KEY_MAX } else { O::key(r.starts[0], r.sizes[0]) };
            let maxes = (l.max(), r.max());
            if merged {
                self.leaves.remove(right);
            }
            (merged, right_key, maxes.0, maxes.1)
        } else {
            let separator = self.inners[parent].keys[c + 1];
            let (l, r) = self.inners.pair_mut(left, right);
            let total = l.len + r.len;
            let merged = total <= F;
            let right_key = l.rebalance(r, separator, if merged { total } else { total / 2 });
            let maxes = (l.max(), r.max());
            if merged {
                self.inners.remove(right);
            }
            (merged, right_key, maxes.0, maxes.1)
        };
        let node = &mut self.inners[parent];
        node.maxes[c] = left_max;
        if merged {
            let n = node.len;
            node.keys.copy_within(c + 2..n, c + 1);
            node.maxes.copy_within(c + 2..n, c + 1);
            node.children.copy_within(c + 2..n, c + 1);
            node.truncate(n - 1);
        } else {
            node.keys[c + 1] = right_key;
            node.maxes[c + 1] = right_max;
        }
    }

    /// Every block in key order, with its block slot.
    pub(crate) fn entries(&self) -> Vec<(Extent, u32)> {
        let mut out = Vec::with_capacity(self.len);
        self.collect(0, self.root, &mut out);
        out
    }

    fn collect(&self, level: usize, id: u32, out: &mut Vec<(Extent, u32)>) {
        if level == self.height {
            out.extend(self.leaves[id].entries().map(|(start, size, id)| (Extent::new(start, size), id)));
        } else {
            let inner = &self.inners[id];
            for &child in &inner.children[..inner.len] {
                self.collect(level + 1, child, out);
            }
        }
    }

    /// Checks the tree's shape, order, keys, maxes, fill values and count (see
    /// [`BlockTree`]). The entries themselves are the caller's to compare with the block
    /// table.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut count = 0;
        self.check_node(0, self.root, None, None, &mut count)?;
        if count != self.len {
            return Err(format!("free block count {} but {count} blocks in the tree", self.len));
        }
        let keys: Vec<O::Key> = self.entries().iter().map(|&(block, _)| O::key(block.start, block.size)).collect();
        if keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the tree's blocks are not in ascending key order".into());
        }
        let slots = self.leaves.len() + self.inners.len();
        let reachable = self.nodes_below(0, self.root);
        if slots != reachable {
            return Err(format!("{slots} tree nodes in use but {reachable} reachable from the root"));
        }
        Ok(())
    }

    /// The number of nodes in the subtree of `id` at `level`.
    fn nodes_below(&self, level: usize, id: u32) -> usize {
        if level == self.height {
            return 1;
        }
        let inner = &self.inners[id];
        1 + inner.children[..inner.len].iter().map(|&child| self.nodes_below(level + 1, child)).sum::<usize>()
    }

    /// Checks the subtree of node `id` at `level`, whose keys must lie in `[lo, hi)`;
    /// returns its largest block and lowest key.
    fn check_node(
        &self,
        level: usize,
        id: u32,
        lo: Option<O::Key>,
        hi: Option<O::Key>,
        count: &mut usize,
    ) -> Result<(usize, O::Key), String> {
        let is_root = level == 0;
        let in_range = |key: O::Key| lo.is_none_or(|lo| key >= lo) && hi.is_none_or(|hi| key < hi);
        if level == self.height {
            let leaf = self.leaves.get_checked(id).ok_or_else(|| format!("leaf {id} is not a slot"))?;
            *count += leaf.len;
            if leaf.len > L || (!is_root && leaf.len < Self::LEAF_MIN) {
                return Err(format!("leaf {id} holds {} blocks", leaf.len));
            }
            if leaf.starts[leaf.len..].iter().any(|&s| s != usize::MAX)
                || leaf.sizes[leaf.len..].iter().any(|&s| s != 0)
                || leaf.ids[leaf.len..].iter().any(|&s| s != NIL)
            {
                return Err(format!("leaf {id} has a used slot past its length"));
            }
            if let Some((start, _, _)) = leaf.entries().find(|&(start, size, _)| !in_range(O::key(start, size))) {
                return Err(format!("free block at {start} is outside its leaf's key range"));
            }
            let first = if leaf.len > 0 { O::key(leaf.starts[0], leaf.sizes[0]) } else { O::KEY_MAX };
            return Ok((leaf.max(), first));
        }
        let inner = self.inners.get_checked(id).ok_or_else(|| format!("inner node {id} is not a slot"))?;
        if inner.len > F || inner.len < if is_root { 2 } else { Self::INNER_MIN } {
            return Err(format!("inner node {id} has {} children", inner.len));
        }
        if inner.keys[0] != O::KEY_MAX
            || inner.keys[inner.len..].iter().any(|&k| k != O::KEY_MAX)
            || inner.maxes[inner.len..].iter().any(|&m| m != 0)
            || inner.children[inner.len..].iter().any(|&c| c != NIL)
        {
            return Err(format!("inner node {id} has a used slot past its length"));
        }
        let (mut max, mut min) = (0, O::KEY_MAX);
        for c in 0..inner.len {
            let child_lo = if c == 0 { lo } else { Some(inner.keys[c]) };
            let child_hi = if c + 1 < inner.len { Some(inner.keys[c + 1]) } else { hi };
            let (child_max, child_min) = self.check_node(level + 1, inner.children[c], child_lo, child_hi, count)?;
            if c > 0 && child_min != inner.keys[c] {
                return Err(format!(
                    "key {:?} of inner node {id} is not its child's lowest key {child_min:?}",
                    inner.keys[c]
                ));
            }
            if inner.maxes[c] != child_max {
                return Err(format!("stale max in inner node {id}: {} instead of {child_max}", inner.maxes[c]));
            }
            max = max.max(child_max);
            min = min.min(child_min);
        }
        Ok((max, min))
    }

    /// Test access: the inner levels above the leaves.
    #[cfg(test)]
    pub(crate) fn height(&self) -> usize {
        self.height
    }

    /// Test access: corrupts the tree's root, for tests of `check`.
    #[cfg(test)]
    pub(crate) fn corrupt_root(&mut self, stale_max: bool) {
        let root = self.root;
        if stale_max {
            self.inners[root].maxes[0] += 1;
        } else {
            let key = self.inners[root].keys[0];
            self.inners[root].keys[1] = key;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::super::best_fit::SizeOrder;
    use super::super::first_fit::AddressOrder;
    use super::*;

    /// Random free-space changes of the kind the core makes (carving from a block, merging
    /// blocks, adding and removing blocks), checked step by step against the same blocks
    /// in a `Vec` sorted by the order's key: the same `find` answers, the same entries,
    /// a valid tree.
    fn random_steps_match_a_sorted_list<O: Order, const L: usize, const F: usize>(min_height: usize) {
        let mut rng = SmallRng::seed_from_u64(0x9e37_79b9_7f4a_7c15_u64);
        let mut tree = BlockTree::<O, L, F>::new();
        // The free blocks as (start, size, id): disjoint, never touching (gaps of 1).
        let mut model: Vec<(usize, usize, u32)> = Vec::new();
        let mut next_id = 0u32;
        let mut deepest = 0;
        let sorted = |model: &mut Vec<(usize, usize, u32)>| model.sort_by_key(|&(s, n, _)| O::key(s, n));
        for step in 0..if cfg!(miri) { 300 } else { 20_000 } {
            // Phases of mostly adding and mostly removing, so the tree grows and shrinks.
            let adding = (step / 2000) % 2 == 0;
            match rng.random_range(0..8) {
                0..=3 if adding || model.is_empty() => {
                    // A new block in a slot of 1024 units of its own.
                    let slot = rng.random_range(0..1 << 20);
                    if model.iter().all(|&(s, _, _)| s / 1024 != slot) {
                        let size = 1 + rng.random_range(0..1000);
                        tree.insert(slot * 1024, size, next_id);
                        model.push((slot * 1024, size, next_id));
                        next_id += 1;
                    }
                }
                4 | 5 => {
                    // Find and carve: the found block shrinks from its start, or goes.
                    let size = 1 + rng.random_range(0..1000);
                    let align = if rng.random_range(0..4) == 0 { 1 << rng.random_range(0..6) } else { 1 };
                    sorted(&mut model);
                    let want = model.iter().find_map(|&(s, n, id)| fit_in_block(s, n, size, align).map(|at| (id, at)));
                    let got = tree.find(size, align);
                    assert_eq!(got, want, "step {step}: find({size}, {align})");
                    if let Some((id, at)) = got {
                        let k = model.iter().position(|e| e.2 == id).unwrap();
                        let (s, n, _) = model[k];
                        if at == s && n == size {
                            tree.remove(s, n, id);
                            model.remove(k);
                        } else if at == s {
                            tree.update(id, Extent::new(s, n), Extent::new(s + size, n - size));
                            model[k] = (s + size, n - size, id);
                        } else {
                            tree.update(id, Extent::new(s, n), Extent::new(s, at - s));
                            model[k] = (s, at - s, id);
                        }
                    }
                }
                6 => {
                    // Grow a block at its end, or at its start (as merging does).
                    if !model.is_empty() {
                        let k = rng.random_range(0..model.len());
                        let (s, n, id) = model[k];
                        let room = 1024 - (s % 1024) - n - 1;
                        if room > 0 {
                            let grow = 1 + rng.random_range(0..room);
                            if s % 1024 >= grow && rng.random_range(0..2) == 0 {
                                tree.update(id, Extent::new(s, n), Extent::new(s - grow, n + grow));
                                model[k] = (s - grow, n + grow, id);
                            } else {
                                tree.update(id, Extent::new(s, n), Extent::new(s, n + grow));
                                model[k] = (s, n + grow, id);
                            }
                        }
                    }
                }
                _ => {
                    if !model.is_empty() {
                        let (s, n, id) = model.swap_remove(rng.random_range(0..model.len()));
                        tree.remove(s, n, id);
                    }
                }
            }
            tree.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
            sorted(&mut model);
            let expected: Vec<(Extent, u32)> = model.iter().map(|&(s, n, id)| (Extent::new(s, n), id)).collect();
            assert_eq!(tree.entries(), expected, "step {step}: entries differ");
            assert_eq!(tree.largest(), model.iter().map(|e| e.1).max().unwrap_or(0));
            deepest = deepest.max(tree.height());
        }
        assert!(
            cfg!(miri) || deepest >= min_height,
            "the tree should have grown to {min_height} levels, got {deepest}"
        );
    }

    #[test]
    fn random_steps_in_address_order_with_the_core_node_sizes() {
        random_steps_match_a_sorted_list::<AddressOrder, 32, 16>(1);
    }

    #[test]
    fn random_steps_in_address_order_with_tiny_nodes() {
        // Splits, merges and rebalancing on every level, many times over.
        random_steps_match_a_sorted_list::<AddressOrder, 2, 4>(3);
        random_steps_match_a_sorted_list::<AddressOrder, 4, 5>(3);
    }

    #[test]
    fn random_steps_in_size_order_with_the_core_node_sizes() {
        random_steps_match_a_sorted_list::<SizeOrder, 32, 16>(1);
    }

    #[test]
    fn random_steps_in_size_order_with_tiny_nodes() {
        random_steps_match_a_sorted_list::<SizeOrder, 2, 4>(3);
        random_steps_match_a_sorted_list::<SizeOrder, 4, 5>(3);
    }

    #[test]
    fn a_key_at_the_top_of_the_address_space_routes_inside_the_tree() {
        // Found in review of the first B+ tree: routing counted the unused keys' usize::MAX
        // and walked off the children when asked about address usize::MAX itself.
        let mut tree = BlockTree::<AddressOrder, 2, 4>::new();
        for k in 0..50 {
            tree.insert(usize::MAX - 200 + 2 * k, 1, k as u32);
        }
        assert!(tree.height() >= 2);
        let cur = tree.seek(usize::MAX);
        assert_eq!(cur.pos, tree.leaves[cur.leaf].len, "past the last block, in the last leaf");
        tree.check().unwrap();
    }

    /// A tree of tiny nodes holding blocks `[32k, 32k + 16)` (slot `k`) for `k < 40`,
    /// inserted in ascending order; checked.
    fn forty_blocks() -> BlockTree<AddressOrder, 2, 4> {
        let mut tree = BlockTree::<AddressOrder, 2, 4>::new();
        for k in 0..40 {
            tree.insert(k * 32, 16, k as u32);
        }
        tree.check().unwrap();
        tree
    }

    #[test]
    fn the_check_catches_a_stale_max_and_a_wrong_key() {
        let tree = forty_blocks();
        assert!(tree.height() >= 2);
        let mut stale = tree.clone();
        stale.corrupt_root(true);
        assert!(stale.check().unwrap_err().contains("stale max"));
        let mut wrong = tree.clone();
        wrong.corrupt_root(false);
        assert!(wrong.check().is_err());
    }

    #[test]
    fn the_check_catches_a_leftover_slot_and_a_key_above_its_leaf() {
        let mut tree = forty_blocks();
        // Ascending inserts fill every leaf; a removal leaves one with a spare slot.
        tree.remove(20 * 32, 16, 20);
        tree.check().unwrap();
        let first = tree.seek(0).leaf;
        let spare = (0..40).map(|k| tree.seek(k * 32).leaf).find(|&leaf| tree.leaves[leaf].len < 2);
        let spare = spare.expect("a leaf with a slot past its length");

        // One field of a slot past the length left behind (each field alone counts).
        let mut leftover = tree.clone();
        let len = leftover.leaves[spare].len;
        leftover.leaves[spare].sizes[len] = 16;
        assert!(leftover.check().unwrap_err().contains("past its length"));

        // The first leaf's last block moved above the next leaf's lowest key: still in order
        // inside its leaf, but outside the range its parent routes to it.
        let mut misplaced = tree.clone();
        let last = misplaced.leaves[first].len - 1;
        misplaced.leaves[first].starts[last] = 40 * 32;
        assert!(misplaced.check().unwrap_err().contains("outside its leaf's key range"));
    }
}
