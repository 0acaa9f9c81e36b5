//! The state of each 64 KiB chunk of an arena: which parts may be resident, when they are
//! given back with `madvise(MADV_DONTNEED)`, and which chunks are slabs of the small-object
//! front end.
//!
//! An arena is cut into chunks of [`CHUNK`] bytes (or one page, if pages are larger).
//! Each chunk has a counter of the live bytes in it: every allocation adds its usable range
//! `[start, start + usable)` and removes it when freed. A chunk whose counter falls to 0
//! holds nothing anyone may read, so its pages may be dropped; the kernel gives zero pages
//! back on the next touch.
//!
//! Dropping at once would make a loop of `malloc` and `free` on an otherwise empty chunk
//! pay a system call and a page fault per iteration, so emptied chunks wait in a pending
//! list and the longest-waiting half is dropped, at the end of a call, while more free
//! chunks are resident than [`FLUSH_MIN`] and than twice the chunks the arena's live bytes
//! fill (or when the list is full). The arena thus keeps at most twice as much free memory
//! resident as it holds live (and at least 1 MiB), like glibc's heap, which keeps what lies
//! below its top: a program that frees and allocates large blocks in turn reuses them
//! while resident instead of paying page faults each time (with the live size as the
//! limit, a 1-8 MiB malloc/free cycle took 2.5 times glibc's time, all in page faults),
//! and a program whose heap shrinks gives the memory back. A chunk that was reused
//! meanwhile (counter above 0 again) is skipped. Runs of adjacent chunks go out in one
//! `madvise`.
//!
//! The same counters give the summary's "mapped" figures (chunks that were touched and
//! not dropped since) and let `calloc` skip zeroing chunks that are known to be zero.
//!
//! The counters are written only under the arena's lock, but the [`SLAB`] bit is read
//! without it, by `free` on any thread, to tell a small block from a large one: so they are
//! atomics, read and written with relaxed loads and stores (plain moves on x86-64). A
//! thread that frees a small block got its pointer, through the program's own
//! synchronisation, from a `malloc` that came after the slab was made; so it sees the bit.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::prim;

/// The granule of release and the size of a slab, in bytes, when pages are no larger.
pub(crate) const CHUNK: usize = 64 << 10;
/// The fewest pending chunks that trigger a release (1 MiB).
const FLUSH_MIN: usize = 16;
/// Capacity of the pending list.
const PENDING_MAX: usize = 4096;

/// Chunk state bits; the low bits count live bytes.
const PENDING: u32 = 1 << 31;
const DIRTY: u32 = 1 << 30;
/// The chunk is a slab of small blocks (the whole chunk is one live allocation).
const SLAB: u32 = 1 << 29;
const COUNT: u32 = SLAB - 1;

/// Per-chunk live-byte counters over an arena and the pending list.
///
/// Invariants:
/// - `counts[c] & COUNT` is the number of bytes of chunk `c` inside live usable ranges;
/// - a chunk without `DIRTY` has had no live bytes since it was mapped or last dropped,
///   so all its bytes are zero; `mapped` is the number of `DIRTY` chunks;
/// - a chunk has `PENDING` exactly when its index is in `pending[..pending_len]`, once.
pub(crate) struct Chunks {
    base: usize,
    shift: u32,
    counts: &'static [AtomicU32],
    pending: Box<[u32]>,
    pending_len: usize,
    mapped: usize,
    peak_mapped: usize,
    /// Live bytes in all chunks (the sum of the counters), and the chunks with live bytes.
    live: usize,
    occupied: usize,
    released: u64,
}

impl Chunks {
    /// Counters for the arena `[base, base + len)`, `base` aligned to the chunk size. The
    /// counter array is its own lazily touched mapping; `None` when it cannot be mapped.
    pub(crate) fn new(base: usize, len: usize, page: usize) -> Option<Chunks> {
        let chunk = CHUNK.max(page);
        let shift = chunk.trailing_zeros();
        let n = len.div_ceil(chunk);
        let p = prim::map_anywhere(n * size_of::<u32>(), true)?;
        // SAFETY: the mapping is `n` zeroed (a valid `AtomicU32` is any bit pattern),
        // aligned u32s, never unmapped, and only ever accessed through this slice.
        let counts = unsafe { core::slice::from_raw_parts(p as *const AtomicU32, n) };
        Some(Chunks {
            base,
            shift,
            counts,
            pending: vec![0; PENDING_MAX].into_boxed_slice(),
            pending_len: 0,
            mapped: 0,
            peak_mapped: 0,
            live: 0,
            occupied: 0,
            released: 0,
        })
    }

    /// The counter array (for the lock-free slab test, [`is_slab`]).
    pub(crate) fn table(&self) -> *const AtomicU32 {
        self.counts.as_ptr()
    }

    fn get(&self, c: usize) -> u32 {
        self.counts[c].load(Relaxed)
    }

    fn set(&self, c: usize, value: u32) {
        self.counts[c].store(value, Relaxed)
    }

    /// Marks the chunk at offset `start` a slab (made) or not (destroyed); its bytes are
    /// counted live by [`Chunks::add`] as those of any allocation.
    pub(crate) fn set_slab(&self, start: usize, slab: bool) {
        let c = start >> self.shift;
        let old = self.get(c);
        self.set(c, if slab { old | SLAB } else { old & !SLAB });
    }

    /// Calls `f(chunk, start, len)` for each chunk meeting the non-empty range
    /// `[start, start + len)` of offsets, with the part of the range inside it.
    fn for_each_chunk(&mut self, start: usize, len: usize, mut f: impl FnMut(&mut Self, usize, usize, usize)) {
        let end = start + len;
        let mut at = start;
        while at < end {
            let chunk = at >> self.shift;
            let chunk_end = (chunk + 1) << self.shift;
            let part = chunk_end.min(end) - at;
            f(self, chunk, at, part);
            at += part;
        }
    }

    /// Records `[start, start + len)` (offsets) as live.
    pub(crate) fn add(&mut self, start: usize, len: usize) {
        self.live += len;
        self.for_each_chunk(start, len, |r, c, _, part| {
            let mut count = r.get(c);
            if count & COUNT == 0 {
                r.occupied += 1;
            }
            if count & DIRTY == 0 {
                count |= DIRTY;
                r.mapped += 1;
                r.peak_mapped = r.peak_mapped.max(r.mapped);
            }
            r.set(c, count + part as u32);
        });
    }

    /// Zeroes the bytes of `[start, start + len)` that lie in chunks that may hold old
    /// data; call it before [`Chunks::add`] for the same range. Chunks that were never
    /// touched or were dropped are zero already.
    pub(crate) fn zero(&mut self, start: usize, len: usize) {
        let base = self.base;
        self.for_each_chunk(start, len, |r, c, at, part| {
            if r.get(c) & DIRTY != 0 {
                // SAFETY: `[base + at, base + at + part)` lies inside a live allocation
                // that the caller owns and that is inside the mapped region.
                unsafe { core::ptr::write_bytes((base + at) as *mut u8, 0, part) };
            }
        });
    }

    /// Records `[start, start + len)` (offsets) as no longer live; chunks left empty join
    /// the pending list.
    pub(crate) fn remove(&mut self, start: usize, len: usize) {
        self.live -= len;
        self.for_each_chunk(start, len, |r, c, _, part| {
            let count = r.get(c) - part as u32;
            r.set(c, count);
            if count & COUNT == 0 {
                r.occupied -= 1;
            }
            if count & COUNT == 0 && count & PENDING == 0 {
                if r.pending_len == PENDING_MAX {
                    r.flush_oldest();
                }
                r.set(c, r.get(c) | PENDING);
                r.pending[r.pending_len] = c as u32;
                r.pending_len += 1;
            }
        });
    }

    /// Drops the longest-pending chunks while more free chunks are resident than
    /// [`FLUSH_MIN`] and than twice the chunks the arena's live bytes fill; called at the end of every call
    /// that freed something.
    pub(crate) fn maybe_flush(&mut self) {
        let limit = FLUSH_MIN.max(2 * (self.live >> self.shift));
        while self.mapped - self.occupied > limit && self.pending_len > 0 {
            self.flush_oldest();
        }
    }

    /// Drops the older half of the pending chunks (those still empty), one `madvise` per run
    /// of adjacent chunks, and takes them off the list.
    fn flush_oldest(&mut self) {
        let mut list = core::mem::take(&mut self.pending);
        let half = self.pending_len.div_ceil(2);
        let pending = &mut list[..half];
        pending.sort_unstable();
        let mut run: Option<(usize, usize)> = None;
        for &c in pending.iter() {
            let c = c as usize;
            let count = self.get(c) & !PENDING;
            self.set(c, count);
            if count & COUNT != 0 || count & DIRTY == 0 {
                continue;
            }
            run = match run {
                Some((first, last)) if last + 1 == c => Some((first, c)),
                Some((first, last)) => {
                    self.drop_run(first, last);
                    Some((c, c))
                }
                None => Some((c, c)),
            };
        }
        if let Some((first, last)) = run {
            self.drop_run(first, last);
        }
        list.copy_within(half..self.pending_len, 0);
        self.pending = list;
        self.pending_len -= half;
    }

    /// Drops chunks `first..=last` (empty and dirty), all at once or, if the kernel refuses
    /// that (`madvise` fails on a locked page: the program may free a block it `mlock`ed),
    /// one by one. A chunk counts as zero again only when its own `madvise` succeeded;
    /// the others stay dirty, so `calloc` zeroes them by hand.
    fn drop_run(&mut self, first: usize, last: usize) {
        if self.drop_pages(first, last - first + 1) {
            (first..=last).for_each(|c| self.mark_dropped(c));
            return;
        }
        for c in first..=last {
            if self.drop_pages(c, 1) {
                self.mark_dropped(c);
            }
        }
    }

    /// Chunk `c`'s pages went back to the kernel: it is zero and no longer mapped.
    fn mark_dropped(&mut self, c: usize) {
        self.set(c, self.get(c) & !DIRTY);
        self.mapped -= 1;
        self.released += 1u64 << self.shift;
    }

    /// `madvise(MADV_DONTNEED)` on `count` chunks from `first`; whether it succeeded. (A
    /// failure sets `errno`; the arena guard puts the program's back when it unlocks.)
    fn drop_pages(&mut self, first: usize, count: usize) -> bool {
        let len = count << self.shift;
        let addr = self.base + (first << self.shift);
        // SAFETY: the chunks lie inside the arena (a private anonymous mapping) and hold no
        // live byte, so nobody reads what the kernel discards.
        unsafe { prim::drop_pages(addr, len) }
    }

    /// The pages of `[start, start + len)` (offsets) were replaced by fresh zero pages
    /// (moved away by `mremap`); the range holds no live byte. Chunks wholly inside it are
    /// zero again.
    pub(crate) fn mark_zeroed(&mut self, start: usize, len: usize) {
        let chunk = 1usize << self.shift;
        let first = start.div_ceil(chunk);
        let end = (start + len) / chunk;
        for c in first..end {
            if self.get(c) & DIRTY != 0 && self.get(c) & COUNT == 0 {
                self.mark_dropped(c);
            }
        }
    }

    /// Bytes in chunks that were touched and not dropped since.
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.mapped << self.shift
    }

    /// The largest [`Chunks::mapped_bytes`] so far.
    pub(crate) fn peak_mapped_bytes(&self) -> usize {
        self.peak_mapped << self.shift
    }

    /// Bytes given back with `madvise` so far (a chunk counts each time it is dropped).
    pub(crate) fn released_bytes(&self) -> u64 {
        self.released
    }
}

/// Whether the chunk at offset `off` of the arena whose counter array is `table` is a slab;
/// callable without the arena's lock (see the module comment).
///
/// # Safety
/// `table` is an arena's [`Chunks::table`] and `off` is inside that arena.
pub(crate) unsafe fn is_slab(table: *const AtomicU32, off: usize) -> bool {
    // SAFETY: the table has one counter per chunk of the arena, lives forever, and `off` is
    // inside the arena (forwarded).
    unsafe { (*table.add(off / CHUNK)).load(Relaxed) & SLAB != 0 }
}
