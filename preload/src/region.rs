//! The heap's address space: a window of `arenas x ARENA_SPAN` bytes, one span per arena,
//! whose offsets the arenas' core allocators manage.
//!
//! The window is not mapped at once. A program may cap its address space (`RLIMIT_AS`) at
//! any time, and a 64 GiB mapping made at start would leave it none (glibc's
//! `tst-malloc-thread-fail`: `pthread_create` failed with EAGAIN). So the window is an
//! address range chosen far from where the kernel places mappings (a hint such as 32 TiB,
//! as mimalloc places its aligned segments), and each arena maps its span in steps, from
//! the bottom, as its highest block grows ([`Stepper::cover`]): every policy places from
//! the low end of a free heap, so the mapped part stays close to the heap top. A step that
//! the kernel refuses (the limit, or someone else's mapping) is an allocation failure,
//! `ENOMEM`.
//!
//! Where no hint is free (a small address space), the window is one mapping of the
//! kernel's choice, made at start and mapped whole, as big as the kernel allows.
//!
//! An offset aligned to `a` is an address aligned to `a` for every `a` up to
//! [`Window::align`], so aligned allocations are aligned offsets.

use crate::prim;

/// The span of one arena: 64 GiB of offsets.
pub(crate) const ARENA_SPAN: usize = 1 << 36;
/// The most arenas.
pub(crate) const MAX_ARENAS: usize = 16;
/// Addresses tried for the window, in turn: 32 TiB up to 48 TiB, then 16 TiB and 8 TiB.
const HINTS: [usize; 6] = [32 << 40, 40 << 40, 48 << 40, 36 << 40, 16 << 40, 8 << 40];
/// Sizes tried for a window of the kernel's choice, as powers of two: 64 GiB down to
/// 64 MiB (the whole window, shared by the arenas).
const WHOLE_SHIFTS: [u32; 6] = [36, 34, 32, 30, 28, 26];
/// The largest alignment a window of the kernel's choice is given (1 GiB).
const WHOLE_ALIGN: usize = 1 << 30;
/// The first step an arena maps, and the granule of later steps (they double).
const STEP: usize = 4 << 20;

/// Where the heap lives.
#[derive(Clone, Copy)]
pub(crate) struct Window {
    /// The address of offset 0.
    pub(crate) base: usize,
    /// Each arena's span of offsets, a power of two: arena `i` owns
    /// `[i * span, (i + 1) * span)`.
    pub(crate) span: usize,
    /// The number of arenas.
    pub(crate) arenas: usize,
    /// `base` is a multiple of this power of two.
    pub(crate) align: usize,
    /// Whether arenas map their spans in steps (else the window is mapped whole).
    pub(crate) stepped: bool,
}

impl Window {
    /// Chooses the window for `arenas` arenas (at most [`MAX_ARENAS`]); `None` when not
    /// even 64 MiB can be had.
    pub(crate) fn choose(arenas: usize) -> Option<Window> {
        let page = prim::page_size();
        let len = arenas * ARENA_SPAN;
        // ThreadSanitizer's shadow memory lies where the hints point, and its `mmap`
        // interceptor kills a process that maps there.
        let hints: &[usize] = if cfg!(feature = "tsan") { &[] } else { &HINTS };
        for &hint in hints {
            // A page at each end of the window: free now, so the window most likely is.
            if prim::map_at(hint, page) {
                prim::unmap(hint, page);
                if prim::map_at(hint + len - page, page) {
                    prim::unmap(hint + len - page, page);
                    return Some(Window { base: hint, span: ARENA_SPAN, arenas, align: ARENA_SPAN, stepped: true });
                }
            }
        }
        for shift in WHOLE_SHIFTS {
            let Some(total) = 1usize.checked_shl(shift) else { continue };
            let align = total.min(WHOLE_ALIGN);
            let Some(over) = total.checked_add(align) else { continue };
            let Some(p) = prim::map_anywhere(over, true) else { continue };
            let start = p.next_multiple_of(align);
            prim::unmap(p, start - p);
            prim::unmap(start + total, over - (start - p) - total);
            // A power of two, so that finding an arena is a shift.
            let span = 1 << (total / arenas).ilog2();
            return Some(Window { base: start, span, arenas, align, stepped: false });
        }
        None
    }

    /// The address of offset `off`.
    pub(crate) fn addr(&self, off: usize) -> usize {
        self.base + off
    }

    /// The offset of `addr` and the arena that owns it, if it is inside the window.
    pub(crate) fn locate(&self, addr: usize) -> Option<(usize, usize)> {
        let off = addr.checked_sub(self.base)?;
        let arena = off >> self.span.trailing_zeros();
        (arena < self.arenas).then_some((off, arena))
    }
}

/// How much of one arena's span is mapped.
pub(crate) struct Stepper {
    /// The address of the span's start.
    start: usize,
    span: usize,
    /// `[start, start + mapped)` is mapped.
    mapped: usize,
    /// Whether the span is mapped in steps (else whole, at start).
    stepped: bool,
}

impl Stepper {
    /// The span `[start, start + span)`; mapped whole already when the window was not
    /// stepped.
    pub(crate) fn new(start: usize, span: usize, stepped: bool) -> Stepper {
        Stepper { start, span, mapped: if stepped { 0 } else { span }, stepped }
    }

    /// Makes sure `[0, end)` of the span is mapped, growing the mapped part by at least
    /// doubling; whether it is.
    pub(crate) fn cover(&mut self, end: usize) -> bool {
        if end <= self.mapped {
            return true;
        }
        if end > self.span {
            return false;
        }
        let needed = end.next_multiple_of(STEP).min(self.span);
        let wanted = needed.max(self.mapped * 2).min(self.span);
        for target in [wanted, needed] {
            if prim::map_at(self.start + self.mapped, target - self.mapped) {
                self.mapped = target;
                return true;
            }
        }
        false
    }

    /// Unmaps the mapped part of the span from `end` (rounded up to a step) on, giving its
    /// address space back; the range unmapped, `(start, len)` in span offsets, if any. A
    /// span mapped whole at start (not stepped) keeps its mapping.
    pub(crate) fn trim(&mut self, end: usize) -> Option<(usize, usize)> {
        let keep = end.next_multiple_of(STEP);
        if !self.stepped || keep >= self.mapped {
            return None;
        }
        let len = self.mapped - keep;
        prim::unmap(self.start + keep, len);
        self.mapped = keep;
        Some((keep, len))
    }

    /// Bytes of the span mapped.
    pub(crate) fn mapped(&self) -> usize {
        self.mapped
    }
}
