//! Returning memory to the system: which parts of the heap region may be resident, and when
//! they are given back with `madvise(MADV_DONTNEED)`.
//!
//! The region is cut into chunks of [`CHUNK`] bytes (or one page, if pages are larger).
//! Each chunk has a counter of the live bytes in it: every allocation adds its usable range
//! `[start, start + usable)` and removes it when freed. A chunk whose counter falls to 0
//! holds nothing anyone may read, so its pages may be dropped; the kernel gives zero pages
//! back on the next touch.
//!
//! Dropping at once would make a loop of `malloc` and `free` on an otherwise empty chunk
//! pay a system call and a page fault per iteration, so emptied chunks wait in a pending
//! list and are dropped in batches: when [`FLUSH_AT`] are pending at the end of a call (one
//! free of 1 MiB or more is such a batch by itself), or when the list is full. A chunk that
//! was reused meanwhile (counter above 0 again) is skipped. Runs of adjacent chunks go out
//! in one `madvise`.
//!
//! The same counters give the summary's "mapped" figures (chunks that were touched and
//! not dropped since) and let `calloc` skip zeroing chunks that are known to be zero.

use crate::diag;

/// The granule of release, in bytes, when pages are no larger.
const CHUNK: usize = 64 << 10;
/// Pending chunks that trigger a release at the end of a call.
const FLUSH_AT: usize = 16;
/// Capacity of the pending list.
const PENDING_MAX: usize = 4096;

/// Chunk state bits; the low bits count live bytes.
const PENDING: u32 = 1 << 31;
const DIRTY: u32 = 1 << 30;
const COUNT: u32 = DIRTY - 1;

/// Per-chunk live-byte counters over the heap region and the pending list.
///
/// Invariants:
/// - `counts[c] & COUNT` is the number of bytes of chunk `c` inside live usable ranges;
/// - a chunk without `DIRTY` has had no live bytes since it was mapped or last dropped,
///   so all its bytes are zero; `mapped` is the number of `DIRTY` chunks;
/// - a chunk has `PENDING` exactly when its index is in `pending[..pending_len]`, once.
pub(crate) struct Release {
    base: usize,
    shift: u32,
    counts: &'static mut [u32],
    pending: Box<[u32]>,
    pending_len: usize,
    mapped: usize,
    peak_mapped: usize,
    released: u64,
}

impl Release {
    /// Counters for the region `[base, base + len)`, `base` page-aligned. The counter array
    /// is its own lazily touched mapping.
    pub(crate) fn new(base: usize, len: usize, page: usize) -> Release {
        let chunk = CHUNK.max(page);
        let shift = chunk.trailing_zeros();
        let n = len.div_ceil(chunk);
        let bytes = n * size_of::<u32>();
        // SAFETY: an anonymous private mapping at an address of the kernel's choice.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            diag::fatal(format_args!("cannot map the chunk counters ({bytes} bytes)"));
        }
        // SAFETY: the mapping is `n` zeroed, aligned u32s, owned by this value forever.
        let counts = unsafe { core::slice::from_raw_parts_mut(p.cast::<u32>(), n) };
        Release {
            base,
            shift,
            counts,
            pending: vec![0; PENDING_MAX].into_boxed_slice(),
            pending_len: 0,
            mapped: 0,
            peak_mapped: 0,
            released: 0,
        }
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
        self.for_each_chunk(start, len, |r, c, _, part| {
            if r.counts[c] & DIRTY == 0 {
                r.counts[c] |= DIRTY;
                r.mapped += 1;
                r.peak_mapped = r.peak_mapped.max(r.mapped);
            }
            r.counts[c] += part as u32;
        });
    }

    /// Zeroes the bytes of `[start, start + len)` that lie in chunks that may hold old
    /// data; call it before [`Release::add`] for the same range. Chunks that were never
    /// touched or were dropped are zero already.
    pub(crate) fn zero(&mut self, start: usize, len: usize) {
        let base = self.base;
        self.for_each_chunk(start, len, |r, c, at, part| {
            if r.counts[c] & DIRTY != 0 {
                // SAFETY: `[base + at, base + at + part)` lies inside a live allocation
                // that the caller owns and that is inside the mapped region.
                unsafe { core::ptr::write_bytes((base + at) as *mut u8, 0, part) };
            }
        });
    }

    /// Records `[start, start + len)` (offsets) as no longer live; chunks left empty join
    /// the pending list.
    pub(crate) fn remove(&mut self, start: usize, len: usize) {
        self.for_each_chunk(start, len, |r, c, _, part| {
            r.counts[c] -= part as u32;
            if r.counts[c] & COUNT == 0 && r.counts[c] & PENDING == 0 {
                if r.pending_len == PENDING_MAX {
                    r.flush();
                }
                r.counts[c] |= PENDING;
                r.pending[r.pending_len] = c as u32;
                r.pending_len += 1;
            }
        });
    }

    /// Releases the pending chunks if there are enough of them; called at the end of every
    /// call that freed something.
    pub(crate) fn maybe_flush(&mut self) {
        if self.pending_len >= FLUSH_AT {
            self.flush();
        }
    }

    /// Drops every pending chunk that is still empty, one `madvise` per run of adjacent
    /// chunks, and empties the pending list.
    pub(crate) fn flush(&mut self) {
        let mut list = core::mem::take(&mut self.pending);
        let pending = &mut list[..self.pending_len];
        pending.sort_unstable();
        let mut run: Option<(usize, usize)> = None;
        for &c in pending.iter() {
            let c = c as usize;
            self.counts[c] &= !PENDING;
            if self.counts[c] & COUNT != 0 || self.counts[c] & DIRTY == 0 {
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
        self.pending = list;
        self.pending_len = 0;
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
        self.counts[c] &= !DIRTY;
        self.mapped -= 1;
        self.released += 1u64 << self.shift;
    }

    /// `madvise(MADV_DONTNEED)` on `count` chunks from `first`; whether it succeeded. (A
    /// failure sets `errno`; the heap guard puts the program's back when it unlocks.)
    fn drop_pages(&mut self, first: usize, count: usize) -> bool {
        let len = count << self.shift;
        let addr = self.base + (first << self.shift);
        // SAFETY: the chunks lie inside the heap region (a private anonymous mapping) and
        // hold no live byte, so nobody reads what the kernel discards.
        unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) == 0 }
    }

    /// Bytes in chunks that were touched and not dropped since.
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.mapped << self.shift
    }

    /// The largest [`Release::mapped_bytes`] so far.
    pub(crate) fn peak_mapped_bytes(&self) -> usize {
        self.peak_mapped << self.shift
    }

    /// Bytes given back with `madvise` so far (a chunk counts each time it is dropped).
    pub(crate) fn released_bytes(&self) -> u64 {
        self.released
    }
}
