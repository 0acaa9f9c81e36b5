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

use super::{FreeIndex, fit_in_block};

/// "No node": the child link of a leaf, the head of an empty vacancy list.
const NIL: u32 = u32::MAX;

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

    fn insert(&mut self, start: usize, size: usize) {
        let leaf = self.new_node(start, size);
        self.root = self.insert_at(self.root, leaf);
        self.len += 1;
        self.free_units += size;
    }

    fn insert_at(&mut self, i: u32, leaf: u32) -> u32 {
        if i == NIL {
            return leaf;
        }
        if self.nodes[leaf as usize].start < self.nodes[i as usize].start {
            self.nodes[i as usize].left = self.insert_at(self.nodes[i as usize].left, leaf);
        } else {
            self.nodes[i as usize].right = self.insert_at(self.nodes[i as usize].right, leaf);
        }
        self.rebalance(i)
    }

    /// Removes the block that starts at `start` (it must exist).
    fn remove(&mut self, start: usize) {
        let size = self.nodes[self.find(start).expect("removing a block that is not free") as usize].size;
        self.root = self.remove_at(self.root, start);
        self.len -= 1;
        self.free_units -= size;
    }

    fn remove_at(&mut self, i: u32, start: usize) -> u32 {
        let Node { start: here, left, right, .. } = self.nodes[i as usize];
        if start < here {
            self.nodes[i as usize].left = self.remove_at(left, start);
        } else if start > here {
            self.nodes[i as usize].right = self.remove_at(right, start);
        } else {
            self.release_node(i);
            if left == NIL {
                return right;
            }
            if right == NIL {
                return left;
            }
            // Two children: the successor (leftmost of the right subtree) takes i's place.
            let (rest, successor) = self.detach_min(right);
            self.nodes[successor as usize].left = left;
            self.nodes[successor as usize].right = rest;
            return self.rebalance(successor);
        }
        self.rebalance(i)
    }

    /// Detaches the leftmost node of subtree `i`; returns (the rest of the subtree, it).
    fn detach_min(&mut self, i: u32) -> (u32, u32) {
        let left = self.nodes[i as usize].left;
        if left == NIL {
            return (self.nodes[i as usize].right, i);
        }
        let (rest, min) = self.detach_min(left);
        self.nodes[i as usize].left = rest;
        (self.rebalance(i), min)
    }

    /// Moves the block that starts at `start` to `[new_start, new_start + new_size)`.
    /// The caller keeps address order: the block must stay between its neighbours.
    fn reshape(&mut self, start: usize, new_start: usize, new_size: usize) {
        let old_size = self.reshape_at(self.root, start, new_start, new_size);
        self.free_units = self.free_units - old_size + new_size;
    }

    fn reshape_at(&mut self, i: u32, start: usize, new_start: usize, new_size: usize) -> usize {
        let node = self.nodes[i as usize];
        let old_size = if start < node.start {
            self.reshape_at(node.left, start, new_start, new_size)
        } else if start > node.start {
            self.reshape_at(node.right, start, new_start, new_size)
        } else {
            self.nodes[i as usize].start = new_start;
            self.nodes[i as usize].size = new_size;
            node.size
        };
        self.update(i);
        old_size
    }

    /// The node of the block that starts exactly at `start`.
    fn find(&self, start: usize) -> Option<u32> {
        let mut i = self.root;
        while i != NIL {
            let node = &self.nodes[i as usize];
            if start == node.start {
                return Some(i);
            }
            i = if start < node.start { node.left } else { node.right };
        }
        None
    }

    /// The block with the highest start below `addr`.
    fn last_before(&self, addr: usize) -> Option<Node> {
        let (mut i, mut best) = (self.root, None);
        while i != NIL {
            let node = self.nodes[i as usize];
            if node.start < addr {
                best = Some(node);
                i = node.right;
            } else {
                i = node.left;
            }
        }
        best
    }

    /// The lowest-addressed block of at least `size` units: one descent, O(log n).
    fn first_fit(&self, size: usize) -> Option<Node> {
        if self.max(self.root) < size {
            return None;
        }
        let mut i = self.root;
        loop {
            let node = self.nodes[i as usize];
            if self.max(node.left) >= size {
                i = node.left;
            } else if node.size >= size {
                return Some(node);
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

    /// Takes `[at, at + size)` out of the free block `block`, which holds it.
    fn carve(&mut self, block: Node, at: usize, size: usize) {
        let head = at - block.start;
        let tail = block.size - head - size;
        match (head, tail) {
            (0, 0) => self.remove(block.start),
            (0, _) => self.reshape(block.start, at + size, tail),
            (_, _) => {
                self.reshape(block.start, block.start, head);
                if tail > 0 {
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
        if align == 1 {
            let block = self.first_fit(size)?;
            self.carve(block, block.start, size);
            return Some(block.start);
        }
        let (block, at) = self.first_fit_aligned(self.root, size, align)?;
        self.carve(block, at, size);
        Some(at)
    }

    fn take_at(&mut self, start: usize, size: usize) -> bool {
        match self.find(start).map(|i| self.nodes[i as usize]) {
            Some(block) if block.size >= size => {
                self.carve(block, start, size);
                true
            }
            _ => false,
        }
    }

    fn give(&mut self, start: usize, size: usize) {
        let end = start + size;
        let prev = self.last_before(start).filter(|p| p.start + p.size == start);
        let next = self.find(end).map(|i| self.nodes[i as usize]);
        match (prev, next) {
            (Some(p), Some(n)) => {
                self.remove(n.start);
                self.reshape(p.start, p.start, p.size + size + n.size);
            }
            (Some(p), None) => self.reshape(p.start, p.start, p.size + size),
            (None, Some(n)) => self.reshape(n.start, start, size + n.size),
            (None, None) => self.insert(start, size),
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
        let mut units = 0usize;
        let mut prev_end: Option<usize> = None;
        for (start, size) in self.blocks() {
            if let Some(end) = prev_end {
                if start < end {
                    return Err(format!("free blocks overlap at {start}"));
                }
                if start == end {
                    return Err(format!("free blocks adjacent at {start}: not merged"));
                }
            }
            prev_end = Some(start.checked_add(size).ok_or("free block passes usize::MAX")?);
            units += size;
        }
        if units != self.free_units {
            return Err(format!("free units counter {} but blocks sum to {units}", self.free_units));
        }
        Ok(())
    }
}
