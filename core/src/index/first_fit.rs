//! First fit in O(log n): free blocks in a B+ tree ordered by address, where every inner
//! node also knows, for each child, the largest free block beneath it.
//!
//! The lowest-addressed block that can hold `size` is found by one descent from the root:
//! in each inner node take the first child whose largest block is big enough, in the leaf
//! the first block that is. Every node on the way has between a quarter and all of its
//! slots in use and every leaf is at the same depth, so each operation is O(log n) in the
//! number of free blocks, in the worst case: the reference's address-ordered first fit,
//! with the same addresses, without its linear scan. (Linux's `drm_mm` keeps the same
//! augmentation on a red-black tree; a B+ tree keeps dozens of blocks per node, so a
//! descent touches a few cache lines per level instead of one node per level.)
//!
//! Nodes live in two `Vec`s (leaves, inner nodes) and refer to each other by `u32` index:
//! no `unsafe`, no per-node allocation. A leaf holds up to `LEAF` blocks as two arrays
//! (starts, sizes); unused slots hold `usize::MAX` and 0, so searches run over whole
//! arrays without looking at the length.

use super::{FreeIndex, check_block_list, fit_in_block};

/// First fit as the core uses it: leaves of 32 blocks (two 256-byte arrays), inner nodes
/// of 16 children.
pub(crate) type FirstFitIndex = BlockTree<32, 16>;

/// "No node".
const NIL: u32 = u32::MAX;

/// The most inner levels above the leaves. Every leaf but the root holds at least
/// `max(1, L / 4)` blocks and every inner node but the root at least `max(2, F / 4)`
/// children: with the core's sizes (8 and 4) 2^32 blocks need at most 16 inner levels,
/// and the tests' tiny nodes stay far below 2^24 blocks.
const MAX_HEIGHT: usize = 24;

/// Up to `L` free blocks in address order; slots from `len` on hold `usize::MAX` (start)
/// and 0 (size).
#[derive(Clone, Debug)]
struct Leaf<const L: usize> {
    starts: [usize; L],
    sizes: [usize; L],
    len: usize,
}

impl<const L: usize> Leaf<L> {
    const EMPTY: Self = Leaf { starts: [usize::MAX; L], sizes: [0; L], len: 0 };

    /// The position of the first block that starts at or after `addr`.
    fn rank(&self, addr: usize) -> usize {
        self.starts.iter().filter(|&&s| s < addr).count()
    }

    /// The largest block (0 when empty).
    fn max(&self) -> usize {
        self.sizes.iter().copied().max().unwrap_or(0)
    }

    fn insert(&mut self, i: usize, start: usize, size: usize) {
        debug_assert!(self.len < L && i <= self.len);
        self.starts.copy_within(i..self.len, i + 1);
        self.sizes.copy_within(i..self.len, i + 1);
        self.starts[i] = start;
        self.sizes[i] = size;
        self.len += 1;
    }

    fn remove(&mut self, i: usize) {
        debug_assert!(i < self.len);
        self.starts.copy_within(i + 1..self.len, i);
        self.sizes.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.starts[self.len] = usize::MAX;
        self.sizes[self.len] = 0;
    }

    /// The blocks as `(start, size)` pairs.
    fn entries(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.starts[..self.len].iter().copied().zip(self.sizes[..self.len].iter().copied())
    }

    /// A leaf holding `entries` (at most `L`).
    fn from_entries(entries: &[(usize, usize)]) -> Self {
        let mut leaf = Self::EMPTY;
        for (i, &(start, size)) in entries.iter().enumerate() {
            leaf.starts[i] = start;
            leaf.sizes[i] = size;
        }
        leaf.len = entries.len();
        leaf
    }
}

/// Up to `F` children. `keys[c]` (for `c >= 1`) is the lowest start in child `c`'s
/// subtree, so child `c` holds exactly the blocks starting in `[keys[c], keys[c + 1])`;
/// `keys[0]` is unused. `maxes[c]` is the largest block in child `c`'s subtree. Unused
/// slots hold `usize::MAX` (key), 0 (max) and `NIL` (child).
#[derive(Clone, Debug)]
struct Inner<const F: usize> {
    keys: [usize; F],
    maxes: [usize; F],
    children: [u32; F],
    len: usize,
}

/// One child slot of an inner node, as it moves between nodes on a split or a merge.
#[derive(Clone, Copy, Debug)]
struct Slot {
    key: usize,
    max: usize,
    child: u32,
}

impl<const F: usize> Inner<F> {
    const EMPTY: Self = Inner { keys: [usize::MAX; F], maxes: [0; F], children: [NIL; F], len: 0 };

    /// The child whose subtree holds the blocks around `addr`. Only the keys in use
    /// count: an unused slot's `usize::MAX` is not below every address (`take_at` may ask
    /// about the address `usize::MAX` itself, the end of an allocation at the capacity).
    fn route(&self, addr: usize) -> usize {
        self.keys[1..self.len].iter().filter(|&&k| k <= addr).count()
    }

    /// The largest block beneath this node.
    fn max(&self) -> usize {
        self.maxes.iter().copied().max().unwrap_or(0)
    }

    fn slot(&self, c: usize) -> Slot {
        Slot { key: self.keys[c], max: self.maxes[c], child: self.children[c] }
    }

    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        (0..self.len).map(|c| self.slot(c))
    }

    fn from_slots(slots: &[Slot]) -> Self {
        let mut node = Self::EMPTY;
        for (c, slot) in slots.iter().enumerate() {
            node.keys[c] = slot.key;
            node.maxes[c] = slot.max;
            node.children[c] = slot.child;
        }
        // The first child's key is implied by the parent.
        node.keys[0] = usize::MAX;
        node.len = slots.len();
        node
    }
}

/// Where one block is (or would be inserted): the inner nodes passed from the root and
/// the child taken in each, the leaf, and the position in the leaf.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    inner: [u32; MAX_HEIGHT],
    slot: [u8; MAX_HEIGHT],
    leaf: u32,
    pos: usize,
}

impl Cursor {
    /// The same leaf, another position.
    fn at(&self, pos: usize) -> Cursor {
        let mut cur = *self;
        cur.pos = pos;
        cur
    }
}

/// Address-ordered free blocks in a B+ tree of leaves of up to `L` blocks and inner nodes
/// of up to `F` children, every child slot annotated with the largest block beneath it.
///
/// Invariants (checked by [`FreeIndex::check`]): every leaf is at depth `height`; blocks
/// are sorted by start, never overlapping and never adjacent; every node but the root is
/// at least a quarter full (at least 2 children for an inner node), an inner root has at
/// least 2 children; keys and maxes are exact; unused slots hold their fill values;
/// `len` and `free_units` count the blocks and their sizes.
#[derive(Debug, Clone)]
pub(crate) struct BlockTree<const L: usize, const F: usize> {
    leaves: Vec<Leaf<L>>,
    inners: Vec<Inner<F>>,
    /// Slots of `leaves` and `inners` not in the tree, for reuse.
    vacant_leaves: Vec<u32>,
    vacant_inners: Vec<u32>,
    /// A leaf when `height` is 0, else an inner node.
    root: u32,
    /// Inner levels above the leaves.
    height: usize,
    len: usize,
    free_units: usize,
}

impl<const L: usize, const F: usize> BlockTree<L, F> {
    /// The fewest blocks in a leaf other than the root.
    const LEAF_MIN: usize = if L / 4 > 1 { L / 4 } else { 1 };
    /// The fewest children of an inner node other than the root.
    const INNER_MIN: usize = if F / 4 > 2 { F / 4 } else { 2 };

    /// An index whose free space is the one block `[0, capacity)`.
    pub(crate) fn new(capacity: usize) -> Self {
        const { assert!(L >= 2 && F >= 4 && F <= 256, "node sizes out of range") };
        let mut tree = BlockTree {
            leaves: vec![Leaf::EMPTY],
            inners: Vec::new(),
            vacant_leaves: Vec::new(),
            vacant_inners: Vec::new(),
            root: 0,
            height: 0,
            len: 0,
            free_units: 0,
        };
        if capacity > 0 {
            tree.leaves[0].insert(0, 0, capacity);
            tree.len = 1;
            tree.free_units = capacity;
        }
        tree
    }

    fn new_leaf(&mut self, leaf: Leaf<L>) -> u32 {
        if let Some(id) = self.vacant_leaves.pop() {
            self.leaves[id as usize] = leaf;
            id
        } else {
            self.leaves.push(leaf);
            u32::try_from(self.leaves.len() - 1).ok().filter(|&id| id != NIL).expect("fewer than 2^32 - 1 leaves")
        }
    }

    fn new_inner(&mut self, inner: Inner<F>) -> u32 {
        if let Some(id) = self.vacant_inners.pop() {
            self.inners[id as usize] = inner;
            id
        } else {
            self.inners.push(inner);
            u32::try_from(self.inners.len() - 1).ok().filter(|&id| id != NIL).expect("fewer than 2^32 - 1 inner nodes")
        }
    }

    /// The largest block beneath node `id` at `level` (0 is the root's level).
    fn node_max(&self, level: usize, id: u32) -> usize {
        if level == self.height { self.leaves[id as usize].max() } else { self.inners[id as usize].max() }
    }

    fn start(&self, cur: &Cursor) -> usize {
        self.leaves[cur.leaf as usize].starts[cur.pos]
    }

    fn size(&self, cur: &Cursor) -> usize {
        self.leaves[cur.leaf as usize].sizes[cur.pos]
    }

    /// The cursor at the first block that starts at or after `addr` within the leaf
    /// whose range holds `addr` (its position may be one past the leaf's last block).
    fn seek(&self, addr: usize) -> Cursor {
        let mut cur = Cursor { inner: [NIL; MAX_HEIGHT], slot: [0; MAX_HEIGHT], leaf: NIL, pos: 0 };
        let mut id = self.root;
        for level in 0..self.height {
            let inner = &self.inners[id as usize];
            let c = inner.route(addr);
            cur.inner[level] = id;
            cur.slot[level] = c as u8;
            id = inner.children[c];
        }
        cur.leaf = id;
        cur.pos = self.leaves[id as usize].rank(addr);
        cur
    }

    /// The cursor at the lowest-addressed block of at least `size` units.
    fn seek_fit(&self, size: usize) -> Option<Cursor> {
        if self.largest() < size {
            return None;
        }
        let mut cur = Cursor { inner: [NIL; MAX_HEIGHT], slot: [0; MAX_HEIGHT], leaf: NIL, pos: 0 };
        let mut id = self.root;
        for level in 0..self.height {
            let inner = &self.inners[id as usize];
            let c = inner.maxes.iter().position(|&m| m >= size).expect("the max above says a child fits");
            cur.inner[level] = id;
            cur.slot[level] = c as u8;
            id = inner.children[c];
        }
        cur.leaf = id;
        cur.pos =
            self.leaves[id as usize].sizes.iter().position(|&s| s >= size).expect("the max above says a block fits");
        Some(cur)
    }

    /// The cursor at the first block of the leaf after `cur`'s, if there is one.
    fn next_leaf(&self, cur: &Cursor) -> Option<Cursor> {
        let level =
            (0..self.height).rev().find(|&k| usize::from(cur.slot[k]) + 1 < self.inners[cur.inner[k] as usize].len)?;
        let mut next = *cur;
        next.slot[level] += 1;
        let mut id = self.inners[cur.inner[level] as usize].children[usize::from(next.slot[level])];
        for k in level + 1..self.height {
            next.inner[k] = id;
            next.slot[k] = 0;
            id = self.inners[id as usize].children[0];
        }
        next.leaf = id;
        next.pos = 0;
        Some(next)
    }

    /// After the lowest start of `cur`'s leaf changed to `start`: the key that holds it
    /// (in the deepest inner node where the path does not take the first child).
    fn set_leaf_key(&mut self, cur: &Cursor, start: usize) {
        if let Some(k) = (0..self.height).rev().find(|&k| cur.slot[k] > 0) {
            self.inners[cur.inner[k] as usize].keys[usize::from(cur.slot[k])] = start;
        }
    }

    /// Restores the maxes on `cur`'s path after a block in its leaf changed (no node was
    /// added or removed); stops at the first slot whose max comes out unchanged.
    fn refresh(&mut self, cur: &Cursor) {
        let max = self.leaves[cur.leaf as usize].max();
        self.refresh_above(cur, self.height, max);
    }

    /// Restores the maxes on `cur`'s path above `level`, where the node on the path now
    /// has `max` as its largest block; stops at the first slot whose max comes out
    /// unchanged.
    fn refresh_above(&mut self, cur: &Cursor, level: usize, mut max: usize) {
        for k in (0..level).rev() {
            let inner = &mut self.inners[cur.inner[k] as usize];
            if inner.maxes[usize::from(cur.slot[k])] == max {
                return;
            }
            inner.maxes[usize::from(cur.slot[k])] = max;
            max = inner.max();
        }
    }

    /// Raises the maxes on `cur`'s path to at least `size` (a block of `size` units
    /// appeared or grew in its leaf); stops at the first slot already that high.
    fn raise(&mut self, cur: &Cursor, size: usize) {
        for k in (0..self.height).rev() {
            let max = &mut self.inners[cur.inner[k] as usize].maxes[usize::from(cur.slot[k])];
            if *max >= size {
                return;
            }
            *max = size;
        }
    }

    /// After a block of `old` units in `cur`'s leaf shrank or left: only when it was the
    /// largest beneath its slot can a max on the path go down.
    fn lowered(&mut self, cur: &Cursor, old: usize) {
        if let Some(k) = self.height.checked_sub(1)
            && old >= self.inners[cur.inner[k] as usize].maxes[usize::from(cur.slot[k])]
        {
            self.refresh(cur);
        }
    }

    /// Changes the block at `cur`; its start must stay between its neighbours'.
    fn set(&mut self, cur: &Cursor, start: usize, size: usize) {
        let leaf = &mut self.leaves[cur.leaf as usize];
        let old = leaf.sizes[cur.pos];
        leaf.starts[cur.pos] = start;
        leaf.sizes[cur.pos] = size;
        if cur.pos == 0 {
            self.set_leaf_key(cur, start);
        }
        if size >= old { self.raise(cur, size) } else { self.lowered(cur, old) }
    }

    /// Inserts the block `(start, size)` at `cur` (which `seek(start)` returned, or the
    /// position right after a block that ends before `start`). Splits full nodes on the
    /// way up.
    fn insert(&mut self, cur: &Cursor, start: usize, size: usize) {
        self.len += 1;
        let leaf = &mut self.leaves[cur.leaf as usize];
        if leaf.len < L {
            leaf.insert(cur.pos, start, size);
            if cur.pos == 0 {
                self.set_leaf_key(cur, start);
            }
            self.raise(cur, size);
            return;
        }
        // Split the full leaf: the lower half stays, the upper half moves to a new leaf.
        let mut entries: Vec<(usize, usize)> = leaf.entries().collect();
        entries.insert(cur.pos, (start, size));
        let half = entries.len() / 2;
        *leaf = Leaf::from_entries(&entries[..half]);
        let right = self.new_leaf(Leaf::from_entries(&entries[half..]));
        if cur.pos == 0 {
            self.set_leaf_key(cur, start);
        }
        let mut left_max = self.leaves[cur.leaf as usize].max();
        let mut pending = Some(Slot { key: entries[half].0, max: self.leaves[right as usize].max(), child: right });
        // Walk up: put the new right sibling next to its left one, splitting full inner
        // nodes in turn; refresh the maxes of the slots passed.
        for k in (0..self.height).rev() {
            let id = cur.inner[k] as usize;
            let c = usize::from(cur.slot[k]);
            self.inners[id].maxes[c] = left_max;
            if let Some(slot) = pending.take() {
                let inner = &mut self.inners[id];
                if inner.len < F {
                    let n = inner.len;
                    inner.keys.copy_within(c + 1..n, c + 2);
                    inner.maxes.copy_within(c + 1..n, c + 2);
                    inner.children.copy_within(c + 1..n, c + 2);
                    inner.keys[c + 1] = slot.key;
                    inner.maxes[c + 1] = slot.max;
                    inner.children[c + 1] = slot.child;
                    inner.len += 1;
                } else {
                    let mut slots: Vec<Slot> = inner.slots().collect();
                    slots.insert(c + 1, slot);
                    let half = slots.len() / 2;
                    *inner = Inner::from_slots(&slots[..half]);
                    let right = Inner::from_slots(&slots[half..]);
                    let up = Slot { key: slots[half].key, max: right.max(), child: 0 };
                    let right = self.new_inner(right);
                    pending = Some(Slot { child: right, ..up });
                }
            }
            left_max = self.inners[id].max();
        }
        if let Some(slot) = pending {
            // The root split: a new root above the two halves.
            let mut root = Inner::EMPTY;
            root.len = 2;
            root.keys[1] = slot.key;
            root.children[0] = self.root;
            root.children[1] = slot.child;
            root.maxes[0] = left_max;
            root.maxes[1] = slot.max;
            self.root = self.new_inner(root);
            self.height += 1;
            assert!(self.height < MAX_HEIGHT, "B+ tree deeper than {MAX_HEIGHT} levels");
        }
    }

    /// Removes the block at `cur`. Merges or rebalances nodes that fall below a quarter
    /// full on the way up.
    fn remove(&mut self, cur: &Cursor) {
        self.len -= 1;
        let leaf = &mut self.leaves[cur.leaf as usize];
        let old = leaf.sizes[cur.pos];
        leaf.remove(cur.pos);
        if cur.pos == 0 && leaf.len > 0 {
            let first = leaf.starts[0];
            self.set_leaf_key(cur, first);
        }
        // `level` is the level of the node that may be too empty now: the leaf first.
        let mut level = self.height;
        while level > 0 {
            let (parent, c) = (cur.inner[level - 1] as usize, usize::from(cur.slot[level - 1]));
            let id = if level == self.height { cur.leaf } else { cur.inner[level] };
            let (len, min) = if level == self.height {
                (self.leaves[id as usize].len, Self::LEAF_MIN)
            } else {
                (self.inners[id as usize].len, Self::INNER_MIN)
            };
            if len >= min {
                // No more structural change: the maxes above need at most a refresh.
                if level == self.height {
                    self.lowered(cur, old);
                    return;
                }
                self.refresh_above(cur, level, self.node_max(level, id));
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
                let min = self.leaves[self.inners[parent].children[0] as usize].starts[0];
                if let Some(k) = (0..level - 1).rev().find(|&k| cur.slot[k] > 0) {
                    self.inners[cur.inner[k] as usize].keys[usize::from(cur.slot[k])] = min;
                }
            }
            level -= 1;
        }
        // The root: an inner root left with one child gives way to that child.
        if self.height > 0 && self.inners[self.root as usize].len == 1 {
            let old = self.root;
            self.root = self.inners[old as usize].children[0];
            self.inners[old as usize] = Inner::EMPTY;
            self.vacant_inners.push(old);
            self.height -= 1;
        }
    }

    /// Children `c` and `c + 1` of inner node `parent` (at `level - 1`; the children are at
    /// `level`): merges them into the left one when they fit in one node, else shares
    /// their contents evenly. Keys and maxes in `parent` follow.
    fn join(&mut self, level: usize, parent: usize, c: usize) {
        let (left, right) = (self.inners[parent].children[c], self.inners[parent].children[c + 1]);
        let (merged, right_key) = if level == self.height {
            let mut entries: Vec<(usize, usize)> = self.leaves[left as usize].entries().collect();
            entries.extend(self.leaves[right as usize].entries());
            if entries.len() <= L {
                self.leaves[left as usize] = Leaf::from_entries(&entries);
                self.leaves[right as usize] = Leaf::EMPTY;
                self.vacant_leaves.push(right);
                (true, 0)
            } else {
                let half = entries.len() / 2;
                self.leaves[left as usize] = Leaf::from_entries(&entries[..half]);
                self.leaves[right as usize] = Leaf::from_entries(&entries[half..]);
                (false, entries[half].0)
            }
        } else {
            let separator = self.inners[parent].keys[c + 1];
            let mut slots: Vec<Slot> = self.inners[left as usize].slots().collect();
            let first_right = slots.len();
            slots.extend(self.inners[right as usize].slots());
            // The right node's first child had no key of its own: it is the separator.
            slots[first_right].key = separator;
            if slots.len() <= F {
                self.inners[left as usize] = Inner::from_slots(&slots);
                self.inners[right as usize] = Inner::EMPTY;
                self.vacant_inners.push(right);
                (true, 0)
            } else {
                let half = slots.len() / 2;
                self.inners[left as usize] = Inner::from_slots(&slots[..half]);
                self.inners[right as usize] = Inner::from_slots(&slots[half..]);
                (false, slots[half].key)
            }
        };
        let left_max = self.node_max(level, left);
        let node = &mut self.inners[parent];
        node.maxes[c] = left_max;
        if merged {
            let n = node.len;
            node.keys.copy_within(c + 2..n, c + 1);
            node.maxes.copy_within(c + 2..n, c + 1);
            node.children.copy_within(c + 2..n, c + 1);
            node.len -= 1;
            node.keys[n - 1] = usize::MAX;
            node.maxes[n - 1] = 0;
            node.children[n - 1] = NIL;
        } else {
            node.keys[c + 1] = right_key;
            let right_max = self.node_max(level, right);
            self.inners[parent].maxes[c + 1] = right_max;
        }
    }

    /// Takes `[at, at + size)` out of the block at `cur`, which holds it.
    fn carve(&mut self, cur: &Cursor, at: usize, size: usize) {
        let (start, block) = (self.start(cur), self.size(cur));
        let head = at - start;
        let tail = block - head - size;
        self.free_units -= size;
        match (head, tail) {
            (0, 0) => self.remove(cur),
            (0, _) => self.set(cur, at + size, tail),
            (_, 0) => self.set(cur, start, head),
            (_, _) => {
                self.set(cur, start, head);
                self.insert(&cur.at(cur.pos + 1), at + size, tail);
            }
        }
    }

    /// The lowest address, aligned to `align`, where `size` units fit: subtrees without a
    /// block of `size` units are skipped; blocks that are large enough but too misaligned
    /// are stepped over in address order. Returns the block's start and the address.
    fn first_fit_aligned(&self, level: usize, id: u32, size: usize, align: usize) -> Option<(usize, usize)> {
        if level == self.height {
            let leaf = &self.leaves[id as usize];
            return leaf
                .entries()
                .find_map(|(start, block)| fit_in_block(start, block, size, align).map(|at| (start, at)));
        }
        let inner = &self.inners[id as usize];
        (0..inner.len)
            .filter(|&c| inner.maxes[c] >= size)
            .find_map(|c| self.first_fit_aligned(level + 1, inner.children[c], size, align))
    }

    /// Checks the subtree of node `id` at `level`, whose starts must lie in `[lo, hi)`;
    /// returns its largest block and lowest start.
    fn check_node(
        &self,
        level: usize,
        id: u32,
        lo: usize,
        hi: usize,
        count: &mut usize,
    ) -> Result<(usize, usize), String> {
        let is_root = level == 0;
        if level == self.height {
            let leaf = &self.leaves[id as usize];
            *count += leaf.len;
            if leaf.len > L || (!is_root && leaf.len < Self::LEAF_MIN) {
                return Err(format!("leaf {id} holds {} blocks", leaf.len));
            }
            if leaf.starts[leaf.len..].iter().any(|&s| s != usize::MAX)
                || leaf.sizes[leaf.len..].iter().any(|&s| s != 0)
            {
                return Err(format!("leaf {id} has a used slot past its length"));
            }
            for (start, _) in leaf.entries() {
                if start < lo || start >= hi {
                    return Err(format!("free block at {start} is outside its leaf's range [{lo}, {hi})"));
                }
            }
            return Ok((leaf.max(), leaf.starts[0]));
        }
        let inner = &self.inners[id as usize];
        if inner.len > F || inner.len < if is_root { 2 } else { Self::INNER_MIN } {
            return Err(format!("inner node {id} has {} children", inner.len));
        }
        if inner.keys[0] != usize::MAX
            || inner.keys[inner.len..].iter().any(|&k| k != usize::MAX)
            || inner.maxes[inner.len..].iter().any(|&m| m != 0)
            || inner.children[inner.len..].iter().any(|&c| c != NIL)
        {
            return Err(format!("inner node {id} has a used slot past its length"));
        }
        let (mut max, mut min) = (0, usize::MAX);
        for c in 0..inner.len {
            let child_lo = if c == 0 { lo } else { inner.keys[c] };
            let child_hi = if c + 1 < inner.len { inner.keys[c + 1] } else { hi };
            let (child_max, child_min) = self.check_node(level + 1, inner.children[c], child_lo, child_hi, count)?;
            if c > 0 && child_min != inner.keys[c] {
                return Err(format!(
                    "key {} of inner node {id} is not its child's lowest start {child_min}",
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

    /// Every block in address order.
    fn collect(&self, level: usize, id: u32, out: &mut Vec<(usize, usize)>) {
        if level == self.height {
            out.extend(self.leaves[id as usize].entries());
        } else {
            let inner = &self.inners[id as usize];
            for &child in &inner.children[..inner.len] {
                self.collect(level + 1, child, out);
            }
        }
    }
}

impl<const L: usize, const F: usize> FreeIndex for BlockTree<L, F> {
    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        let (cur, at) = if align == 1 {
            let cur = self.seek_fit(size)?;
            let at = self.start(&cur);
            (cur, at)
        } else {
            if self.largest() < size {
                return None;
            }
            let (start, at) = self.first_fit_aligned(0, self.root, size, align)?;
            (self.seek(start), at)
        };
        self.carve(&cur, at, size);
        Some(at)
    }

    fn take_at(&mut self, start: usize, size: usize) -> bool {
        let cur = self.seek(start);
        let leaf = &self.leaves[cur.leaf as usize];
        if cur.pos < leaf.len && leaf.starts[cur.pos] == start && leaf.sizes[cur.pos] >= size {
            self.carve(&cur, start, size);
            true
        } else {
            false
        }
    }

    fn give(&mut self, start: usize, size: usize) {
        let end = start + size;
        self.free_units += size;
        let cur = self.seek(start);
        // The block before `start` is in the same leaf: the leaf's range holds `start`
        // and its lowest block starts at its key (or it is the first leaf). The block
        // after may be the first of the next leaf.
        let prev = (cur.pos > 0).then(|| cur.at(cur.pos - 1));
        let prev = prev.filter(|p| self.start(p) + self.size(p) == start);
        let next = if cur.pos < self.leaves[cur.leaf as usize].len { Some(cur) } else { self.next_leaf(&cur) };
        let next = next.filter(|n| self.start(n) == end);
        match (prev, next) {
            (Some(p), Some(n)) => {
                // Grow the block before over both (no node changes, so `n` stays valid),
                // then drop the block after.
                let merged = self.size(&p) + size + self.size(&n);
                self.set(&p, self.start(&p), merged);
                self.remove(&n);
            }
            (Some(p), None) => self.set(&p, self.start(&p), self.size(&p) + size),
            (None, Some(n)) => self.set(&n, start, size + self.size(&n)),
            (None, None) => self.insert(&cur, start, size),
        }
    }

    fn largest(&self) -> usize {
        self.node_max(0, self.root)
    }

    fn free_units(&self) -> usize {
        self.free_units
    }

    fn free_blocks(&self) -> usize {
        self.len
    }

    fn blocks(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        let mut all = Vec::with_capacity(self.len);
        self.collect(0, self.root, &mut all);
        Box::new(all.into_iter())
    }

    fn check(&self) -> Result<(), String> {
        let mut count = 0;
        self.check_node(0, self.root, 0, usize::MAX, &mut count)?;
        if count != self.len {
            return Err(format!("free block count {} but {count} blocks in the tree", self.len));
        }
        check_block_list(self.blocks(), true, self.free_units)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The same free space as a sorted list, searched linearly.
    #[derive(Default)]
    struct Model(Vec<(usize, usize)>);

    impl Model {
        fn take(&mut self, size: usize, align: usize) -> Option<usize> {
            let (k, at) =
                self.0.iter().enumerate().find_map(|(k, &(s, n))| fit_in_block(s, n, size, align).map(|at| (k, at)))?;
            self.carve(k, at, size);
            Some(at)
        }

        fn carve(&mut self, k: usize, at: usize, size: usize) {
            let (s, n) = self.0.remove(k);
            if s + n > at + size {
                self.0.insert(k, (at + size, s + n - at - size));
            }
            if at > s {
                self.0.insert(k, (s, at - s));
            }
        }

        fn give(&mut self, start: usize, size: usize) {
            let k = self.0.partition_point(|&(s, _)| s < start);
            self.0.insert(k, (start, size));
            if k + 1 < self.0.len() && start + size == self.0[k + 1].0 {
                self.0[k].1 += self.0.remove(k + 1).1;
            }
            if k > 0 && self.0[k - 1].0 + self.0[k - 1].1 == start {
                self.0[k - 1].1 += self.0.remove(k).1;
            }
        }
    }

    /// Random takes (aligned or not), grows in place and gives, checked step by step
    /// against the model: the same addresses, the same blocks, valid tree.
    fn random_steps_match_a_linear_first_fit<const L: usize, const F: usize>() {
        let mut rng = SmallRng::seed_from_u64(0x9e37_79b9_7f4a_7c15_u64);
        let mut next = move |bound: usize| rng.random_range(0..bound);
        // Miri interprets every step: one round of a few hundred steps.
        for round in 0..if cfg!(miri) { 1 } else { 4 } {
            let capacity = 1 << (12 + 2 * round);
            let (mut index, mut model) = (BlockTree::<L, F>::new(capacity), Model(vec![(0, capacity)]));
            let mut live: Vec<(usize, usize)> = Vec::new();
            let mut deepest = 0;
            for step in 0..if cfg!(miri) { 300 } else { 20_000 } {
                // Phases of mostly taking and mostly giving, so the tree grows and shrinks.
                let taking = (step / 2000) % 2 == 0;
                match next(8) {
                    0..=4 if taking || next(2) == 0 => {
                        let bits = next(8);
                        let size = 1 + next(1 << bits);
                        let align = if next(4) == 0 { 1 << next(6) } else { 1 };
                        let at = index.take(size, align);
                        assert_eq!(at, model.take(size, align));
                        live.extend(at.map(|at| (at, size)));
                    }
                    5 => {
                        let pick = next(live.len().max(1));
                        if let Some(&(at, size)) = live.get(pick) {
                            let grow = 1 + next(64);
                            let k = model.0.iter().position(|&(s, n)| s == at + size && n >= grow);
                            assert_eq!(index.take_at(at + size, grow), k.is_some());
                            if let Some(k) = k {
                                model.carve(k, at + size, grow);
                                live.push((at + size, grow));
                            }
                        }
                    }
                    _ => {
                        if !live.is_empty() {
                            let (at, size) = live.swap_remove(next(live.len()));
                            index.give(at, size);
                            model.give(at, size);
                        }
                    }
                }
                index.check().unwrap_or_else(|e| panic!("step {step}: {e}"));
                assert!(index.blocks().eq(model.0.iter().copied()), "step {step}: blocks differ");
                assert_eq!(index.largest(), model.0.iter().map(|b| b.1).max().unwrap_or(0));
                assert_eq!(index.free_blocks(), model.0.len());
                deepest = deepest.max(index.height);
            }
            for (at, size) in live.drain(..) {
                index.give(at, size);
            }
            index.check().unwrap();
            assert_eq!((index.free_blocks(), index.height), (1, 0), "everything given back is one block");
            if !cfg!(miri) && L <= 4 {
                assert!(deepest >= 3, "small nodes should have grown the tree to 3 levels, got {deepest}");
            }
        }
    }

    #[test]
    fn random_steps_match_a_linear_first_fit_with_the_core_node_sizes() {
        random_steps_match_a_linear_first_fit::<32, 16>();
    }

    #[test]
    fn random_steps_match_a_linear_first_fit_with_tiny_nodes() {
        // Splits, merges and rebalancing on every level, many times over.
        random_steps_match_a_linear_first_fit::<2, 4>();
        random_steps_match_a_linear_first_fit::<4, 5>();
    }

    #[test]
    fn take_at_the_last_address_of_the_range_finds_nothing() {
        // Found in review: an allocation ending at capacity usize::MAX grows in place by
        // asking for the address usize::MAX; with inner nodes, routing counted the unused
        // keys' usize::MAX and walked off the children.
        let mut index = FirstFitIndex::new(usize::MAX);
        assert_eq!(index.take(usize::MAX - 100, 1), Some(0));
        for k in 0..100 {
            assert_eq!(index.take(1, 1), Some(usize::MAX - 100 + k));
        }
        for k in (0..98).step_by(2) {
            index.give(usize::MAX - 100 + k, 1);
        }
        assert!(index.height >= 1);
        assert!(!index.take_at(usize::MAX, 1));
        assert!(index.take_at(usize::MAX - 100, 1));
        index.check().unwrap();
    }

    #[test]
    fn the_check_catches_a_stale_max_and_a_wrong_key() {
        let mut index = BlockTree::<2, 4>::new(1 << 12);
        for _ in 0..40 {
            index.take(16, 1).unwrap();
            index.take(16, 1).unwrap();
        }
        for k in 0..40 {
            index.give(k * 32, 16);
        }
        index.check().unwrap();
        assert!(index.height >= 2);
        let root = index.root as usize;
        let mut stale = index.clone();
        stale.inners[root].maxes[0] += 1;
        assert!(stale.check().unwrap_err().contains("stale max"));
        let mut wrong = index.clone();
        wrong.inners[root].keys[1] -= 1;
        assert!(wrong.check().is_err());
    }
}
