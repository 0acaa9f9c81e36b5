//! The small-object front end's storage: size classes and slabs.
//!
//! A request of at most [`SMALL_MAX`] bytes is rounded up to one of [`CLASSES`] size
//! classes (16-byte steps up to 128, then four per doubling: 160, 192, 224, 256, 320, ...,
//! 4096) and served from a **slab**: a 64 KiB chunk, aligned to its size and taken from the
//! arena's core allocator, cut into blocks of one class. Slabs are the reference's
//! "segregated free lists" (one class per slab) with a "bitmap for fixed-size blocks":
//!
//! - The slab's header sits in its first blocks: class, owning arena, the free list of
//!   blocks given back to the slab, how many blocks are out (live or in a thread cache),
//!   how far the slab was carved (blocks above were never used, so a new slab touches only
//!   what it hands out), links in its arena's list of slabs with room, and the **live
//!   map**: one byte per block, 1 while the program holds the block.
//! - The live map makes a bad `free` of a small block detectable without a lock: `free`
//!   finds the block's byte 0 when the block was not live (a double free, even of a block
//!   sitting in a thread cache, or a pointer into a slab that no `malloc` returned). A
//!   byte, not a bit: threads freeing neighbouring blocks write different bytes, so plain
//!   (relaxed) loads and stores do, where bits would need a locked read-modify-write on
//!   every call. Only two threads freeing one block at the same moment, a race in the
//!   program, can both pass.
//! - The arena's lock guards everything else in the header: thread caches (`cache.rs`) take
//!   blocks from slabs and give them back in batches under it.
//! - A slab whose blocks are all back is given back to the core, unless it is the only
//!   slab of its class with room in that arena (kept, so that a loop allocating and
//!   freeing one block does not make and destroy a slab each time).
//!
//! `free` knows a small block from a large one by the chunk's slab bit (`chunks.rs`), and
//! finds the header by rounding the address down to 64 KiB.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::arena::Arena;
use crate::chunks::CHUNK;

/// The largest request served from slabs.
pub(crate) const SMALL_MAX: usize = 4096;
/// The number of size classes.
pub(crate) const CLASSES: usize = 28;

/// The size of class `c`'s blocks (a table lookup).
#[inline]
pub(crate) fn class_size(c: usize) -> usize {
    SIZES[c]
}

/// Every class's size.
static SIZES: [usize; CLASSES] = {
    let mut table = [0; CLASSES];
    let mut c = 0;
    while c < CLASSES {
        table[c] = size_of_class(c);
        c += 1;
    }
    table
};

/// The size of class `c`'s blocks, computed.
pub(crate) const fn size_of_class(c: usize) -> usize {
    if c < 8 {
        16 * (c + 1)
    } else {
        let e = 7 + (c - 8) / 4;
        (1 << e) + ((c - 8) % 4 + 1) * (1 << (e - 2))
    }
}

/// The class of a request of `size` bytes (at most [`SMALL_MAX`]; 0 counts as 1): the
/// smallest class that holds it.
pub(crate) const fn class_of(size: usize) -> usize {
    if size <= 128 {
        return if size == 0 { 0 } else { size.div_ceil(16) - 1 };
    }
    let e = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
    8 + (e - 7) * 4 + (((size - 1) >> (e - 2)) & 3)
}

/// `ceil(2^32 / size)` per class: `(off * RECIPROCAL[c]) >> 32` is `off / size` exactly
/// for every offset in a slab (the error stays below `2^16 / 2^32`, less than the
/// distance `1 / size` from a fraction to the next integer).
static RECIPROCAL: [u64; CLASSES] = {
    let mut table = [0; CLASSES];
    let mut c = 0;
    while c < CLASSES {
        table[c] = (1u64 << 32).div_ceil(size_of_class(c) as u64);
        c += 1;
    }
    table
};

/// A slab's header, at the slab's start.
#[repr(C)]
struct Header {
    class: u32,
    /// Blocks `first..count` are the slab's (those below hold this header).
    first: u32,
    count: u32,
    /// Blocks `first..carved` were handed out at least once; the others never were.
    carved: u32,
    /// Blocks neither on `free` nor above `carved`: live or in a thread cache.
    out: u32,
    /// The first block on the slab's free list (0: empty); each block's first word links
    /// to the next.
    free: usize,
    /// The neighbours in the arena's list of slabs of this class with room (0: none), and
    /// whether the slab is on it.
    next: usize,
    prev: usize,
    listed: bool,
    // The live map follows: one byte per block of the slab (`CHUNK / size` of them, the
    // header's blocks included), 1 while the program holds the block.
}

/// The first block of a slab of blocks of `size` bytes: after the header and live map.
const fn first_block(size: usize) -> usize {
    (size_of::<Header>() + CHUNK / size).div_ceil(size)
}

/// Block `index`'s byte of the live map of the slab whose header is `h`.
///
/// # Safety
/// `h` is a live slab's header and `index` one of its blocks.
unsafe fn live_byte<'a>(h: *mut Header, index: usize) -> &'a AtomicU8 {
    // SAFETY: the live map follows the header inside the slab's first blocks (see
    // `first_block`); a byte of it is only accessed atomically.
    unsafe { &*(h as *const u8).add(size_of::<Header>() + index).cast::<AtomicU8>() }
}

/// The header of the slab holding `addr`.
fn header(addr: usize) -> *mut Header {
    (addr & !(CHUNK - 1)) as *mut Header
}

/// Per arena, per class, the first slab with room (0: none): a doubly linked list through
/// the headers.
pub(crate) struct SlabLists {
    with_room: [usize; CLASSES],
}

impl SlabLists {
    pub(crate) const fn new() -> SlabLists {
        SlabLists { with_room: [0; CLASSES] }
    }
}

/// Why a pointer into a slab is not a live block.
pub(crate) enum NotLive {
    /// Not at the start of a block.
    Misplaced,
    /// A block, but not live: freed already, or never handed out.
    Free,
}

/// Clears the live byte of the block at `addr` (in a slab) for `free`: its class, or why
/// it is not a live block (then nothing changed). Lock-free.
pub(crate) fn take_live(addr: usize) -> Result<usize, NotLive> {
    let (h, class, index) = locate(addr)?;
    // SAFETY: `locate` found a block of a live slab.
    let live = unsafe { live_byte(h, index) };
    if live.load(Ordering::Relaxed) == 0 {
        return Err(NotLive::Free);
    }
    live.store(0, Ordering::Relaxed);
    Ok(class)
}

/// The class of the live small block at `addr` (in a slab), or `None` when no live block
/// starts there. Lock-free; changes nothing.
pub(crate) fn live_class(addr: usize) -> Option<usize> {
    let (h, class, index) = locate(addr).ok()?;
    // SAFETY: `locate` found a block of a live slab.
    (unsafe { live_byte(h, index) }.load(Ordering::Relaxed) != 0).then_some(class)
}

/// The header, class and block index of the block at `addr` in a slab, if a block starts
/// there.
fn locate(addr: usize) -> Result<(*mut Header, usize, usize), NotLive> {
    let h = header(addr);
    // SAFETY: `addr` lies in a slab (its chunk's slab bit is set), whose header was written
    // when the slab was made; these fields do not change while the slab exists.
    let (class, first, count) = unsafe { ((*h).class as usize, (*h).first as usize, (*h).count as usize) };
    let off = addr - h as usize;
    let index = ((off as u64 * RECIPROCAL[class]) >> 32) as usize;
    if index * class_size(class) != off || index < first || index >= count {
        return Err(NotLive::Misplaced);
    }
    Ok((h, class, index))
}

/// Sets the live byte of the block at `addr`, which `malloc` is about to return.
pub(crate) fn make_live(addr: usize, class: usize) {
    let h = header(addr);
    let off = addr - h as usize;
    let index = ((off as u64 * RECIPROCAL[class]) >> 32) as usize;
    // SAFETY: the block came from a slab's free list or carve, so its slab exists.
    unsafe { live_byte(h, index) }.store(1, Ordering::Relaxed);
}

impl Arena {
    /// Takes up to `want` free blocks of `class` from this arena's slabs (making a slab
    /// when none has room), pushing each on the list `(head, count)` through the blocks'
    /// first words (`base`: the window's address). Fewer (maybe none) when there is no
    /// room.
    pub(crate) fn take_blocks(&mut self, base: usize, class: usize, want: usize, list: &mut (usize, u32)) {
        let size = class_size(class);
        let mut got = 0;
        while got < want {
            let mut slab = self.slabs.with_room[class];
            if slab == 0 {
                let Some(off) = self.take_chunk() else { return };
                slab = base + off;
                init(slab, class);
                self.link(class, slab);
            }
            let h = slab as *mut Header;
            // SAFETY: `slab` is a slab of this arena (on its list with room); the arena's
            // lock, held through `&mut self`, guards its header and free list.
            unsafe {
                while got < want {
                    let block = if (*h).free != 0 {
                        let block = (*h).free;
                        (*h).free = *(block as *const usize);
                        block
                    } else if (*h).carved < (*h).count {
                        (*h).carved += 1;
                        slab + ((*h).carved as usize - 1) * size
                    } else {
                        break;
                    };
                    (*h).out += 1;
                    *(block as *mut usize) = list.0;
                    *list = (block, list.1 + 1);
                    got += 1;
                }
                if (*h).free == 0 && (*h).carved == (*h).count {
                    self.unlink(class, slab);
                }
            }
        }
    }

    /// Gives the free block `block` (its live bit clear, in nobody's cache) back to its
    /// slab, which belongs to this arena (`base`: the window's address); gives the slab back to the core when that leaves
    /// it unused and another slab of its class has room.
    pub(crate) fn give_block(&mut self, base: usize, block: usize) {
        let h = header(block);
        let slab = h as usize;
        // SAFETY: the block belongs to a live slab of this arena, whose header and free
        // list the arena's lock (held through `&mut self`) guards; the block is free, so
        // its first word may hold the link.
        unsafe {
            let class = (*h).class as usize;
            *(block as *mut usize) = (*h).free;
            (*h).free = block;
            (*h).out -= 1;
            if !(*h).listed {
                self.link(class, slab);
            }
            if (*h).out == 0 && ((*h).prev != 0 || (*h).next != 0) {
                self.unlink(class, slab);
                self.give_chunk(slab - base);
            }
        }
    }

    /// Puts `slab` first on its class's list of slabs with room.
    fn link(&mut self, class: usize, slab: usize) {
        let head = self.slabs.with_room[class];
        let h = slab as *mut Header;
        // SAFETY: `slab` and `head` (if any) are slabs of this arena, guarded by its lock.
        unsafe {
            (*h).prev = 0;
            (*h).next = head;
            (*h).listed = true;
            if head != 0 {
                (*(head as *mut Header)).prev = slab;
            }
        }
        self.slabs.with_room[class] = slab;
    }

    /// Takes `slab` off its class's list of slabs with room.
    fn unlink(&mut self, class: usize, slab: usize) {
        let h = slab as *mut Header;
        // SAFETY: `slab` and its neighbours are slabs of this arena, guarded by its lock.
        unsafe {
            let (prev, next) = ((*h).prev, (*h).next);
            if prev != 0 {
                (*(prev as *mut Header)).next = next;
            } else {
                self.slabs.with_room[class] = next;
            }
            if next != 0 {
                (*(next as *mut Header)).prev = prev;
            }
            (*h).prev = 0;
            (*h).next = 0;
            (*h).listed = false;
        }
    }
}

/// Writes the header of a new slab at `slab` for `class`.
fn init(slab: usize, class: usize) {
    let size = class_size(class);
    let first = first_block(size);
    let h = slab as *mut Header;
    // SAFETY: `slab` is a fresh 64 KiB chunk of this arena, mapped and owned by the caller
    // (under the arena's lock); nobody else can see it until a block of it is handed out.
    unsafe {
        h.write(Header {
            class: class as u32,
            first: first as u32,
            count: (CHUNK / size) as u32,
            carved: first as u32,
            out: 0,
            free: 0,
            next: 0,
            prev: 0,
            listed: false,
        });
        // The chunk may hold an old slab's bytes.
        core::ptr::write_bytes((h as *mut u8).add(size_of::<Header>()), 0, CHUNK / size);
    }
}

// Every request up to SMALL_MAX gets the smallest class that holds it (checked when
// compiling: the crate has no unit tests, see Cargo.toml).
const _: () = {
    assert!(size_of_class(CLASSES - 1) == SMALL_MAX);
    let mut size = 0;
    while size <= SMALL_MAX {
        let c = class_of(size);
        let need = if size == 0 { 1 } else { size };
        assert!(c < CLASSES && size_of_class(c) >= need && (c == 0 || size_of_class(c - 1) < need));
        assert!(size_of_class(c).is_multiple_of(16));
        size += 1;
    }
};
