//! First fit in O(log n): free blocks in an AVL tree ordered by address, where every
//! node also knows the largest free block in its subtree.
//!
//! The lowest-addressed block that can hold `size` is found by one descent from the root:
//! go left while the left subtree holds a large-enough block, else take this node if it
//! is large enough, else go right. The tree is balanced (AVL), so every operation costs
//! O(log n) in the number of free blocks, in the worst case. This is the reference's
//! address-ordered first fit, with the same addresses, without its linear scan (Linux's
//! `drm_mm` uses the same augmentation on a red-black tree).
//!
//! Nodes live in one `Vec` and refer to each other by `u32` index: no `unsafe`, no
//! per-node allocation, 32 bytes per node plus one byte of height.

use super::{FreeIndex, check_block_list, fit_in_block};

/// "No node": the child link of a leaf, the head of an empty vacancy list.
const NIL: u32 = u32::MAX;

/// The most nodes on a root-to-leaf path. An AVL tree of height h has at least
/// F(h + 2) - 1 nodes (F the Fibonacci numbers), so fewer than 2^32 nodes keep the
/// height at most 45.
const MAX_DEPTH: usize = 48;

/// The nodes a descent passed, from the root down: operations record their descent once
/// and then restore the augmentation bottom-up along it, without walking down again.
struct Path {
    nodes: [u32; MAX_DEPTH],
    len: usize,
}

impl Path {
    fn new() -> Self {
        Path { nodes: [NIL; MAX_DEPTH], len: 0 }
    }

    fn push(&mut self, i: u32) {
        self.nodes[self.len] = i;
        self.len += 1;
    }
}

/// One free block `[start, start + size)` and its place in the tree.
#[derive(Clone, Copy, Debug)]
struct Node {
    start: usize,
    size: usize,
    /// The largest `size` in this node's subtree (this node included).
    max: usize,
    left: u32,
    /// For a vacant slot: the next vacant slot.
    right: u32,
}

/// Address-ordered free blocks with a largest-block augmentation.
///
/// Invariants (checked by [`FreeIndex::check`]):
/// - in-order traversal gives blocks sorted by `start`, never overlapping and never
///   adjacent (the end of one is never the start of the next);
/// - every node's `max` is the largest `size` in its subtree, and its height is one more
///   than its taller child's; the two children's heights differ by at most one;
/// - `len` is the number of nodes in the tree, `free_units` the sum of their sizes.
#[derive(Debug, Default)]
pub(crate) struct FirstFitIndex {
    nodes: Vec<Node>,
    /// Heights, parallel to `nodes` (kept apart so that a `Node` is 32 bytes).
    heights: Vec<u8>,
    root: u32,
    /// The first slot of `nodes` not in the tree; vacant slots are chained by `right`.
    vacant: u32,
    len: usize,
    free_units: usize,
}

impl FirstFitIndex {
    /// An index whose free space is the one block `[0, capacity)`.
    pub(crate) fn new(capacity: usize) -> Self {
        let mut index = FirstFitIndex { root: NIL, vacant: NIL, ..Default::default() };
        if capacity > 0 {
            index.insert(0, capacity);
        }
        index
    }

    fn height(&self, i: u32) -> u8 {
        if i == NIL { 0 } else { self.heights[i as usize] }
    }

    fn max(&self, i: u32) -> usize {
        if i == NIL { 0 } else { self.nodes[i as usize].max }
    }

    /// Recomputes `i`'s height and `max` from its children.
    fn update(&mut self, i: u32) {
        let Node { left, right, size, .. } = self.nodes[i as usize];
        self.heights[i as usize] = 1 + self.height(left).max(self.height(right));
        self.nodes[i as usize].max = size.max(self.max(left)).max(self.max(right));
    }

    fn rotate_right(&mut self, y: u32) -> u32 {
        let x = self.nodes[y as usize].left;
        self.nodes[y as usize].left = self.nodes[x as usize].right;
        self.nodes[x as usize].right = y;
        self.update(y);
        self.update(x);
        x
    }

    fn rotate_left(&mut self, x: u32) -> u32 {
        let y = self.nodes[x as usize].right;
        self.nodes[x as usize].right = self.nodes[y as usize].left;
        self.nodes[y as usize].left = x;
        self.update(x);
        self.update(y);
        y
    }

    /// Updates `i` and restores the AVL balance at it; returns the subtree's new root.
    fn rebalance(&mut self, i: u32) -> u32 {
        self.update(i);
        let Node { left, right, .. } = self.nodes[i as usize];
        let (hl, hr) = (self.height(left), self.height(right));
        if hl > hr + 1 {
            let l = &self.nodes[left as usize];
            if self.height(l.left) < self.height(l.right) {
                self.nodes[i as usize].left = self.rotate_left(left);
            }
            self.rotate_right(i)
        } else if hr > hl + 1 {
            let r = &self.nodes[right as usize];
            if self.height(r.right) < self.height(r.left) {
                self.nodes[i as usize].right = self.rotate_right(right);
            }
            self.rotate_left(i)
        } else {
            i
        }
    }

    /// A slot for a new leaf, reusing a vacant one when there is one.
    fn new_node(&mut self, start: usize, size: usize) -> u32 {
        let node = Node { start, size, max: size, left: NIL, right: NIL };
        if self.vacant != NIL {
            let i = self.vacant;
            self.vacant = self.nodes[i as usize].right;
            self.nodes[i as usize] = node;
            self.heights[i as usize] = 1;
            i
        } else {
            let i = u32::try_from(self.nodes.len()).expect("more than 2^32 free blocks");
            assert!(i != NIL, "more than 2^32 - 1 free blocks");
            self.nodes.push(node);
            self.heights.push(1);
            i
        }
    }

    fn release_node(&mut self, i: u32) {
        self.nodes[i as usize].right = self.vacant;
        self.vacant = i;
    }

    /// Points the link that leads to `old` (the node at `path[k]`) at `new` instead.
    fn relink(&mut self, path: &Path, k: usize, old: u32, new: u32) {
        if k == 0 {
            self.root = new;
        } else {
            let parent = &mut self.nodes[path.nodes[k - 1] as usize];
            if parent.left == old {
                parent.left = new;
            } else {
                parent.right = new;
            }
        }
    }

    /// Restores heights, `max` and balance on `path[..top]`, bottom-up, after the subtree
    /// below changed shape. Stops as soon as a subtree's height and `max` come out as they
    /// were (nothing above can change then), but not below depth `settle`, where a node's
    /// own block was changed.
    fn fixup(&mut self, path: &Path, top: usize, settle: usize) {
        for k in (0..top).rev() {
            let i = path.nodes[k];
            let (old_height, old_max) = (self.heights[i as usize], self.nodes[i as usize].max);
            let root = self.rebalance(i);
            if root != i {
                self.relink(path, k, i, root);
            }
            if k <= settle && self.heights[root as usize] == old_height && self.nodes[root as usize].max == old_max {
                return;
            }
        }
    }

    /// Restores `max` on `path[..=k]` after the block at `path[k]` changed size (the
    /// shape did not change, so neither did any height). Stops at the first unchanged `max`.
    fn fixup_max(&mut self, path: &Path, k: usize) {
        for k in (0..=k).rev() {
            let i = path.nodes[k];
            let Node { size, left, right, max, .. } = self.nodes[i as usize];
            let new_max = size.max(self.max(left)).max(self.max(right));
            if new_max == max {
                return;
            }
            self.nodes[i as usize].max = new_max;
        }
    }

    /// Adds the block `[start, start + size)` as a leaf below the last node of `path`,
    /// the descent that searched for `start`.
    fn attach(&mut self, path: &Path, start: usize, size: usize) {
        let leaf = self.new_node(start, size);
        match path.len.checked_sub(1).map(|k| path.nodes[k]) {
            None => self.root = leaf,
            Some(parent) if start < self.nodes[parent as usize].start => self.nodes[parent as usize].left = leaf,
            Some(parent) => self.nodes[parent as usize].right = leaf,
        }
        self.len += 1;
        self.free_units += size;
        self.fixup(path, path.len, usize::MAX);
    }

    fn insert(&mut self, start: usize, size: usize) {
        let mut path = Path::new();
        let mut i = self.root;
        while i != NIL {
            path.push(i);
            let node = &self.nodes[i as usize];
            i = if start < node.start { node.left } else { node.right };
        }
        self.attach(&path, start, size);
    }

    /// Unlinks the node at the end of `path` and frees its slot; the counters are the
    /// caller's. Heights and `max` are restored up the path (see [`Self::fixup`] for
    /// `settle`).
    fn unlink(&mut self, path: &mut Path, mut settle: usize) {
        let k = path.len - 1;
        let i = path.nodes[k];
        let Node { left, right, .. } = self.nodes[i as usize];
        if left == NIL || right == NIL {
            self.relink(path, k, i, if left == NIL { right } else { left });
            path.len = k;
        } else {
            // Two children: the successor (leftmost of the right subtree) takes i's place,
            // with i's height and max, so that the fixup compares against i's old values.
            let mut s = right;
            loop {
                path.push(s);
                let l = self.nodes[s as usize].left;
                if l == NIL {
                    break;
                }
                s = l;
            }
            let s_right = self.nodes[s as usize].right;
            self.relink(path, path.len - 1, s, s_right);
            path.len -= 1;
            let Node { left, right, max, .. } = self.nodes[i as usize];
            let successor = &mut self.nodes[s as usize];
            successor.left = left;
            successor.right = right;
            successor.max = max;
            self.heights[s as usize] = self.heights[i as usize];
            self.relink(path, k, i, s);
            path.nodes[k] = s;
            // The successor's own block differs from i's: its max must be recomputed.
            settle = settle.min(k);
        }
        self.release_node(i);
        self.fixup(path, path.len, settle);
    }

    /// Records the descent to the block that starts exactly at `start`; whether it exists
    /// (then it ends `path`).
    fn locate(&self, start: usize, path: &mut Path) -> bool {
        let mut i = self.root;
        while i != NIL {
            path.push(i);
            let node = &self.nodes[i as usize];
            if start == node.start {
                return true;
            }
            i = if start < node.start { node.left } else { node.right };
        }
        false
    }

    /// The lowest-addressed block of at least `size` units: one descent, O(log n),
    /// recorded in `path` (the block ends it).
    fn first_fit(&self, size: usize, path: &mut Path) -> bool {
        if self.max(self.root) < size {
            return false;
        }
        let mut i = self.root;
        loop {
            path.push(i);
            let node = &self.nodes[i as usize];
            if self.max(node.left) >= size {
                i = node.left;
            } else if node.size >= size {
                return true;
            } else {
                // The subtree holds a fit, and it is neither left nor here.
                i = node.right;
            }
        }
    }

    /// The lowest address, aligned to `align`, where `size` units fit; with the block
    /// that holds it. Subtrees without a block of `size` units are skipped; blocks that
    /// are large enough but too misaligned are stepped over in address order.
    fn first_fit_aligned(&self, i: u32, size: usize, align: usize) -> Option<(Node, usize)> {
        if i == NIL || self.max(i) < size {
            return None;
        }
        let node = self.nodes[i as usize];
        self.first_fit_aligned(node.left, size, align)
            .or_else(|| fit_in_block(node.start, node.size, size, align).map(|at| (node, at)))
            .or_else(|| self.first_fit_aligned(node.right, size, align))
    }

    /// Takes `[at, at + size)` out of the free block that ends `path`, which holds it.
    fn carve(&mut self, path: &mut Path, at: usize, size: usize) {
        let k = path.len - 1;
        let i = path.nodes[k] as usize;
        let Node { start, size: block_size, .. } = self.nodes[i];
        let head = at - start;
        let tail = block_size - head - size;
        self.free_units -= size;
        match (head, tail) {
            (0, 0) => {
                self.len -= 1;
                self.unlink(path, usize::MAX);
            }
            (0, _) => {
                self.nodes[i].start = at + size;
                self.nodes[i].size = tail;
                self.fixup_max(path, k);
            }
            (_, _) => {
                self.nodes[i].size = head;
                self.fixup_max(path, k);
                if tail > 0 {
                    self.free_units -= tail;
                    self.insert(at + size, tail);
                }
            }
        }
    }

    fn check_subtree(&self, i: u32, lo: usize, hi: usize, count: &mut usize) -> Result<(u8, usize), String> {
        if i == NIL {
            return Ok((0, 0));
        }
        let node = self.nodes[i as usize];
        *count += 1;
        if node.size == 0 {
            return Err(format!("free block at {} has size 0", node.start));
        }
        if node.start < lo || node.start > hi {
            return Err(format!("free block at {} is out of address order", node.start));
        }
        let (hl, ml) = self.check_subtree(node.left, lo, node.start, count)?;
        let (hr, mr) = self.check_subtree(node.right, node.start, hi, count)?;
        if hl.abs_diff(hr) > 1 {
            return Err(format!("AVL balance broken at {}: heights {hl} and {hr}", node.start));
        }
        let height = 1 + hl.max(hr);
        if self.heights[i as usize] != height {
            return Err(format!("stale height at {}", node.start));
        }
        let max = node.size.max(ml).max(mr);
        if node.max != max {
            return Err(format!("stale max at {}: {} instead of {max}", node.start, node.max));
        }
        Ok((height, max))
    }
}

impl FreeIndex for FirstFitIndex {
    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        let mut path = Path::new();
        let at = if align == 1 {
            if !self.first_fit(size, &mut path) {
                return None;
            }
            self.nodes[path.nodes[path.len - 1] as usize].start
        } else {
            let (block, at) = self.first_fit_aligned(self.root, size, align)?;
            self.locate(block.start, &mut path);
            at
        };
        self.carve(&mut path, at, size);
        Some(at)
    }

    fn take_at(&mut self, start: usize, size: usize) -> bool {
        let mut path = Path::new();
        if self.locate(start, &mut path) && self.nodes[path.nodes[path.len - 1] as usize].size >= size {
            self.carve(&mut path, start, size);
            true
        } else {
            false
        }
    }

    fn give(&mut self, start: usize, size: usize) {
        let end = start + size;
        // One descent towards `start` passes both of its neighbours in address order: the
        // last node where it turns right is the block before, the last where it turns
        // left the block after.
        let mut path = Path::new();
        let (mut before, mut after) = (None, None);
        let mut i = self.root;
        while i != NIL {
            let node = &self.nodes[i as usize];
            if node.start < start {
                before = Some(path.len);
                path.push(i);
                i = node.right;
            } else {
                after = Some(path.len);
                path.push(i);
                i = node.left;
            }
        }
        let node_at = |k: usize| path.nodes[k] as usize;
        let prev = before.filter(|&k| {
            let p = &self.nodes[node_at(k)];
            p.start + p.size == start
        });
        let next = after.filter(|&k| self.nodes[node_at(k)].start == end);
        match (prev, next) {
            (Some(kp), Some(kn)) => {
                // The two neighbours become one block, kept in the shallower node; the
                // deeper one has no child towards the other (nothing lies between them),
                // so it unlinks without a successor search.
                let (p, n) = (self.nodes[node_at(kp)], self.nodes[node_at(kn)]);
                let (keep, drop) = if kp < kn { (kp, kn) } else { (kn, kp) };
                let kept = &mut self.nodes[node_at(keep)];
                kept.start = p.start;
                kept.size = p.size + size + n.size;
                path.len = drop + 1;
                self.len -= 1;
                self.free_units += size;
                self.unlink(&mut path, keep);
            }
            (Some(kp), None) => {
                self.nodes[node_at(kp)].size += size;
                self.free_units += size;
                self.fixup_max(&path, kp);
            }
            (None, Some(kn)) => {
                let n = &mut self.nodes[node_at(kn)];
                n.start = start;
                n.size += size;
                self.free_units += size;
                self.fixup_max(&path, kn);
            }
            (None, None) => self.attach(&path, start, size),
        }
    }

    fn largest(&self) -> usize {
        self.max(self.root)
    }

    fn free_units(&self) -> usize {
        self.free_units
    }

    fn free_blocks(&self) -> usize {
        self.len
    }

    fn blocks(&self) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
        let mut stack = Vec::new();
        let mut i = self.root;
        Box::new(std::iter::from_fn(move || {
            while i != NIL {
                stack.push(i);
                i = self.nodes[i as usize].left;
            }
            let top = stack.pop()?;
            let node = self.nodes[top as usize];
            i = node.right;
            Some((node.start, node.size))
        }))
    }

    fn check(&self) -> Result<(), String> {
        let mut count = 0;
        self.check_subtree(self.root, 0, usize::MAX, &mut count)?;
        if count != self.len {
            return Err(format!("free block count {} but {count} nodes in the tree", self.len));
        }
        check_block_list(self.blocks(), true, self.free_units)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn random_steps_match_a_linear_first_fit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        // Miri interprets every step: one round of a few hundred steps.
        for round in 0..if cfg!(miri) { 1 } else { 4 } {
            let capacity = 1 << (12 + 2 * round);
            let (mut index, mut model) = (FirstFitIndex::new(capacity), Model(vec![(0, capacity)]));
            let mut live: Vec<(usize, usize)> = Vec::new();
            for _ in 0..if cfg!(miri) { 300 } else { 20_000 } {
                match next(8) {
                    0..=3 => {
                        let bits = next(10);
                        let size = 1 + next(1 << bits);
                        let align = if next(4) == 0 { 1 << next(6) } else { 1 };
                        let at = index.take(size, align);
                        assert_eq!(at, model.take(size, align));
                        live.extend(at.map(|at| (at, size)));
                    }
                    4 => {
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
                index.check().unwrap();
                assert!(index.blocks().eq(model.0.iter().copied()));
                assert_eq!(index.largest(), model.0.iter().map(|b| b.1).max().unwrap_or(0));
            }
        }
    }
}
