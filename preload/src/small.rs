//! The small-object front end's storage: size classes and slabs.
//!
//! A request of at most [`SMALL_MAX`] bytes is rounded up to one of [`CLASSES`] size
//! classes (16-byte steps up to 128, then four per doubling: 160, 192, 224, 256, 320, ...,
//! 4096) and served from a **slab**: a 64 KiB chunk, aligned to its size and taken from the
//! arena's core allocator, cut into blocks of one class. Slabs are the reference's
//! "segregated free lists" (one class per slab) with a "bitmap for fixed-size blocks":
//!
//! - The slab's header sits in its first blocks: class, the free list of blocks given
//!   back to the slab, how many blocks are out (live or in a thread cache), how far the
//!   slab was carved (blocks above were never used, so a new slab touches only what it
//!   hands out), and links in its arena's list of slabs with room.
//! - Every free block carries the **free mark** in its second word: a random word chosen
//!   at start, written when the block is carved or freed and cleared by `malloc`. So a
//!   bad `free` of a small block is detectable without a lock and without touching any
//!   line but the block's own (a per-slab map of live blocks, shared by threads freeing
//!   neighbouring blocks, cost a cache miss per cross-thread free): a block that carries
//!   the mark was freed already (a double free, even of a block sitting in a thread
//!   cache), a pointer that is not at a block's start or lies above the carved blocks
//!   was never returned by `malloc`. As with glibc's tcache key, a live block whose
//!   second word the program set to the mark itself would be taken for a free one: the
//!   mark is 64 random bits from the kernel (`getrandom`), which no program can know.
//!   Only two threads freeing one block at the same moment, a race in the program, can
//!   both pass.
//! - The arena's lock guards everything else in the header: thread caches (`cache.rs`) take
//!   blocks from slabs and give them back in batches under it.
//! - A slab whose blocks are all back is given back to the core, unless it is the only
//!   slab of its class with room in that arena (kept, so that a loop allocating and
//!   freeing one block does not make and destroy a slab each time).
//!
//! `free` knows a small block from a large one by the chunk's slab bit (`chunks.rs`), and
//! finds the header by rounding the address down to 64 KiB.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::arena::Arena;
use crate::chunks::CHUNK;
use crate::prim;

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

/// The free mark (see the module comment); set once at start, before any block exists.
static FREE_MARK: AtomicUsize = AtomicUsize::new(0);

/// Chooses the free mark, from the kernel's random bytes (never 0, the word of fresh
/// memory).
pub(crate) fn choose_free_mark() {
    FREE_MARK.store(prim::random_word() | 1, Ordering::Relaxed);
}

/// The second word of the block at `block`, read and written atomically (a racing
/// double free in the program must not be undefined behaviour here).
///
/// # Safety
/// `block` is a block of a live slab (at least 16 bytes, aligned to 16).
unsafe fn mark_word<'a>(block: usize) -> &'a AtomicUsize {
    // SAFETY: forwarded; the word lies inside the block.
    unsafe { &*(block as *const AtomicUsize).add(1) }
}

/// A slab's header, at the slab's start.
#[repr(C)]
struct Header {
    class: u32,
    /// Blocks `first..count` are the slab's (those below hold this header).
    first: u32,
    count: u32,
    /// Blocks `first..carved` were handed out at least once; the others never were.
    /// Written under the arena's lock, read by `free` without it.
    carved: AtomicU32,
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
}

/// The first block of a slab of blocks of `size` bytes: after the header.
const fn first_block(size: usize) -> usize {
    size_of::<Header>().div_ceil(size)
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

/// Marks the block at `addr` (in a slab) free for `free`: its class, or why it is not a
/// live block (then nothing changed). Lock-free.
#[inline]
pub(crate) fn take_live(addr: usize) -> Result<usize, NotLive> {
    let class = locate(addr)?;
    // SAFETY: `locate` found a block of a live slab.
    let word = unsafe { mark_word(addr) };
    let mark = FREE_MARK.load(Ordering::Relaxed);
    if word.load(Ordering::Relaxed) == mark {
        return Err(NotLive::Free);
    }
    word.store(mark, Ordering::Relaxed);
    Ok(class)
}

/// The class of the live small block at `addr` (in a slab), or `None` when no live block
/// starts there. Lock-free; changes nothing.
pub(crate) fn live_class(addr: usize) -> Option<usize> {
    let class = locate(addr).ok()?;
    // SAFETY: `locate` found a block of a live slab.
    (unsafe { mark_word(addr) }.load(Ordering::Relaxed) != FREE_MARK.load(Ordering::Relaxed)).then_some(class)
}

/// The class of the block at `addr` in a slab, if a block that was ever handed out
/// starts there.
#[inline]
fn locate(addr: usize) -> Result<usize, NotLive> {
    let h = header(addr);
    // SAFETY: `addr` lies in a slab (its chunk's slab bit is set), whose header was written
    // when the slab was made; `class`, `first` and `count` do not change while the slab
    // exists, and `carved` is atomic.
    let (class, first, count, carved) =
        unsafe { ((*h).class as usize, (*h).first as usize, (*h).count as usize, &(*h).carved) };
    let off = addr - h as usize;
    let index = ((off as u64 * RECIPROCAL[class]) >> 32) as usize;
    if index * class_size(class) != off || index < first || index >= count {
        return Err(NotLive::Misplaced);
    }
    if index >= carved.load(Ordering::Relaxed) as usize {
        return Err(NotLive::Free);
    }
    Ok(class)
}

/// Clears the free mark of the block at `addr`, which `malloc` is about to return.
#[inline]
pub(crate) fn make_live(addr: usize) {
    // SAFETY: the block came from a slab's free list or carve, so its slab exists.
    unsafe { mark_word(addr) }.store(0, Ordering::Relaxed);
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
                    let carved = (*h).carved.load(Ordering::Relaxed);
                    let block = if (*h).free != 0 {
                        let block = (*h).free;
                        (*h).free = *(block as *const usize);
                        block
                    } else if carved < (*h).count {
                        (*h).carved.store(carved + 1, Ordering::Relaxed);
                        // Free from now on: it carries the mark.
                        let block = slab + carved as usize * size;
                        mark_word(block).store(FREE_MARK.load(Ordering::Relaxed), Ordering::Relaxed);
                        block
                    } else {
                        break;
                    };
                    (*h).out += 1;
                    *(block as *mut usize) = list.0;
                    *list = (block, list.1 + 1);
                    got += 1;
                }
                if (*h).free == 0 && (*h).carved.load(Ordering::Relaxed) == (*h).count {
                    self.unlink(class, slab);
                }
            }
        }
    }

    /// Gives the free block `block` (marked free, in nobody's cache) back to its
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
            carved: AtomicU32::new(first as u32),
            out: 0,
            free: 0,
            next: 0,
            prev: 0,
            listed: false,
        });
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
