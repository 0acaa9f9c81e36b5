//! The `c_api` target: the `extern "C"` functions of `memalloc::ffi`, driven the way a C
//! caller would, NULL handles and NULL out-parameters included, against a shadow
//! [`MemoryAllocator`] built with the same options (the core itself is held to its models
//! by the `ops` target; here the C layer must map it exactly).
//!
//! After every call: the status is the shadow's (NULL checks first), an out-parameter is
//! written exactly on success, `ma_get_stats` and `ma_walk` agree with the shadow and with
//! each other, and a failed call changed nothing.

use std::ffi::{CStr, c_int, c_void};
use std::ptr;

use arbitrary::{Arbitrary, Unstructured};
use memalloc::ffi::*;
use memalloc::{Block, BlockKind, Error, MemoryAllocator, Options, Policy, Request};

use crate::Recorder;
use crate::input::{
    Addr, Alignment, Capacity, FreeSize, MinAlignment, NewCapacity, Place, RequestArgs, Size, Targets, calls, live_end,
    reservation_unit,
};

/// One fuzz input: how the handle is created, then the calls.
#[derive(Debug)]
pub struct Input {
    /// The creation call.
    pub create: Create,
    /// The calls, in order (as many as the input holds, at most 256); on a NULL handle
    /// when creation failed.
    pub calls: Vec<Call>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Input { create: u.arbitrary()?, calls: calls(u, 256)? })
    }
}

/// How the handle is created.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Create {
    /// `ma_create(capacity)`.
    Plain(Capacity),
    /// `ma_create_with` with these fields (after `ma_options_init`).
    With { struct_size: StructSize, capacity: Capacity, policy: PolicyCode, min_alignment: MinAlignment },
    /// `ma_create_with(NULL, out)`, or `(NULL, NULL)`.
    NullOptions { null_out: bool },
    /// `ma_create_with(opts, NULL)`.
    NullOut { capacity: Capacity, policy: PolicyCode },
}

/// `struct_size` of `ma_options` or `ma_request`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum StructSize {
    /// `sizeof` the struct.
    Exact,
    /// 0.
    Zero,
    /// Smaller than `sizeof` the struct: an older caller.
    Smaller(u8),
    /// Up to 64 bytes larger: a newer caller (the buffer really is that large).
    Larger(u8),
}

impl StructSize {
    /// The value for a struct of `base` bytes.
    fn resolve(self, base: usize) -> usize {
        match self {
            StructSize::Exact => base,
            StructSize::Zero => 0,
            StructSize::Smaller(n) => base - 1 - usize::from(n) % base,
            StructSize::Larger(n) => base + usize::from(n) % 65,
        }
    }
}

/// A struct with room behind it, for a `struct_size` larger than this version's.
#[repr(C)]
struct Padded<T> {
    inner: T,
    extra: [u8; 64],
}

impl<T> Padded<T> {
    fn new(inner: T) -> Self {
        Padded { inner, extra: [0xA5; 64] }
    }
}

/// `ma_request.flags`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Flags {
    /// The defined bits, from the request's `top_down` and `pinned` (three variants, so
    /// that most requests are valid).
    Defined,
    /// As `Defined`.
    Defined2,
    /// As `Defined`.
    Defined3,
    /// The defined bits and bit `2 + n % 30`, which is not defined.
    Undefined(u8),
    /// Any bits.
    Raw(u32),
}

/// The request pointer of `ma_alloc_ex`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPtr {
    /// A valid request (three variants, so that most are).
    Valid,
    /// As `Valid`.
    Valid2,
    /// As `Valid`.
    Valid3,
    /// NULL.
    Null,
}

/// The arguments of `ma_alloc_ex`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct ExArgs {
    /// The request's fields.
    pub request: RequestArgs,
    /// Its `struct_size`.
    pub struct_size: StructSize,
    /// Its `flags`.
    pub flags: Flags,
    /// Whether the pointer to it is NULL.
    pub pointer: RequestPtr,
}

/// `ma_options.policy`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum PolicyCode {
    /// `n % 4`: a known policy.
    Known(u8),
    /// Anything: unknown values are rejected.
    Raw(u32),
}

impl PolicyCode {
    fn resolve(self) -> u32 {
        match self {
            PolicyCode::Known(n) => u32::from(n % 4),
            PolicyCode::Raw(n) => n,
        }
    }
}

/// Which pointers of a call are NULL.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// None (three variants, so that most calls are valid).
    None,
    /// None.
    None2,
    /// None.
    None3,
    /// The handle.
    Handle,
    /// The out-parameter (for `ma_walk`: the callback).
    Out,
}

/// One C call.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Call {
    /// The function and its arguments.
    pub op: CallOp,
    /// Which pointers are NULL.
    pub nulls: Nulls,
}

/// A C function and its arguments.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum CallOp {
    /// `ma_alloc`.
    Alloc(Size),
    /// `ma_alloc_aligned`.
    AllocAligned(Size, Alignment),
    /// `ma_free`.
    Free(Addr, FreeSize),
    /// `ma_free_at`.
    FreeAt(Addr),
    /// `ma_realloc`.
    Realloc(Addr, FreeSize, Size),
    /// `ma_size_of`.
    SizeOf(Addr),
    /// `ma_reset`.
    Reset,
    /// `ma_get_stats`.
    Stats,
    /// `ma_walk` with a callback that stops after `n` extents (0: never).
    Walk(u8),
    /// `ma_walk` with a callback that calls `ma_get_stats` and `ma_size_of` on the same
    /// handle.
    WalkReenter,
    /// `ma_alloc_ex`, after `ma_request_init`.
    AllocEx(ExArgs),
    /// `ma_alloc_at`.
    AllocAt(Place, Size),
    /// `ma_set_capacity`.
    SetCapacity(NewCapacity),
    /// `ma_status_str(s)`.
    StatusStr(i32),
    /// `ma_version()`.
    Version,
    /// `ma_destroy(NULL)`, `ma_options_init(NULL)` and `ma_request_init(NULL)`: no-ops.
    NullNoOps,
}

/// What an out-parameter holds before a call: a failed call must leave it so.
const SENTINEL: usize = 0xDEAD_BEEF;

/// What a walk collects, and what a re-entering callback found wrong.
struct WalkState {
    extents: Vec<Block>,
    stop_after: usize,
    reenter: *const ma_allocator,
    stats: ma_stats,
    problems: Vec<String>,
}

unsafe extern "C" fn collect(ctx: *mut c_void, start: usize, size: usize, kind: ma_block_kind) -> c_int {
    // SAFETY: every walk in this file passes a `&mut WalkState` as `ctx`, unaliased for
    // the duration of the walk.
    let state = unsafe { &mut *ctx.cast::<WalkState>() };
    let kind = match kind {
        ma_block_kind::MA_BLOCK_FREE => BlockKind::Free,
        ma_block_kind::MA_BLOCK_ALLOCATED => BlockKind::Allocated,
        ma_block_kind::MA_BLOCK_PADDING => BlockKind::Padding,
    };
    state.extents.push(Block { start, size, kind, tag: 0 });
    if !state.reenter.is_null() {
        let mut stats = ma_stats::default();
        let mut size_of = SENTINEL;
        // SAFETY: `reenter` is the live handle being walked; the walk holds no lock while
        // the callback runs, and the out-pointers are valid locals.
        let (s1, s2) =
            unsafe { (ma_get_stats(state.reenter, &mut stats), ma_size_of(state.reenter, start, &mut size_of)) };
        if s1 != MA_OK || stats != state.stats {
            state.problems.push(format!("re-entrant ma_get_stats: status {s1}, {stats:?} != {:?}", state.stats));
        }
        let want = if kind == BlockKind::Allocated { (MA_OK, size) } else { (MA_ERR_NOT_ALLOCATED, SENTINEL) };
        if (s2, size_of) != want {
            state.problems.push(format!("re-entrant ma_size_of({start}): {:?}, want {want:?}", (s2, size_of)));
        }
    }
    c_int::from(state.extents.len() == state.stop_after)
}

/// The extents `ma_walk` reports, or its error status.
fn walk(a: *const ma_allocator, stop_after: usize, reenter: bool, stats: ma_stats) -> Result<Vec<Block>, ma_status> {
    let mut state = WalkState {
        extents: Vec::new(),
        stop_after,
        reenter: if reenter { a } else { ptr::null() },
        stats,
        problems: Vec::new(),
    };
    // SAFETY: `a` is NULL or live; `collect` treats `ctx` as the `WalkState` passed here.
    let status = unsafe { ma_walk(a, Some(collect), (&raw mut state).cast()) };
    assert!(state.problems.is_empty(), "{:?}", state.problems);
    if status == MA_OK { Ok(state.extents) } else { Err(status) }
}

/// The handle's stats and map, checked for consistency with each other.
fn snapshot(a: *const ma_allocator) -> (ma_stats, Vec<Block>) {
    let mut stats = ma_stats { capacity: SENTINEL, ..ma_stats::default() };
    // SAFETY: `a` is a live handle, `stats` a valid local.
    assert_eq!(unsafe { ma_get_stats(a, &mut stats) }, MA_OK);
    let blocks = walk(a, 0, false, stats).expect("ma_walk on a live handle");
    let sum = |kind: BlockKind| blocks.iter().filter(|b| b.kind == kind).map(|b| b.size).sum::<usize>();
    let count = |kind: BlockKind| blocks.iter().filter(|b| b.kind == kind).count();
    let largest = blocks.iter().filter(|b| b.kind == BlockKind::Free).map(|b| b.size).max().unwrap_or(0);
    assert_eq!(stats.capacity, stats.allocated + stats.free + stats.padding, "{stats:?}");
    assert_eq!(
        (stats.allocated, stats.free, stats.padding, stats.allocations, stats.free_blocks, stats.largest_free),
        (
            sum(BlockKind::Allocated),
            sum(BlockKind::Free),
            sum(BlockKind::Padding),
            count(BlockKind::Allocated),
            count(BlockKind::Free),
            largest
        ),
        "stats {stats:?} disagree with the walk {blocks:?}"
    );
    let mut at = 0;
    for b in &blocks {
        assert!(b.start == at && b.size > 0, "the walk does not tile the range: {blocks:?}");
        at += b.size;
    }
    assert_eq!(at, stats.capacity, "the walk does not end at the capacity");
    (stats, blocks)
}

/// Every handle has a shadow.
const SHADOW: &str = "a live handle has a shadow";

/// The result a call must give: `NullPointer` when a pointer is NULL, else the shadow's.
fn expect<T>(null: Option<ma_status>, shadow_call: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    match null {
        Some(_) => Err(Error::NullPointer),
        None => shadow_call(),
    }
}

/// The status of a core result.
fn status<T>(result: &Result<T, Error>) -> ma_status {
    match result {
        Ok(_) => MA_OK,
        Err(e) => e.code(),
    }
}

/// The status name for coverage classes.
fn status_name(s: ma_status) -> String {
    if s == MA_OK {
        "Ok".into()
    } else {
        Error::from_code(s).map_or_else(|| format!("status {s}"), |e| format!("{e:?}"))
    }
}

/// The text `ma_status_str(s)` must return.
fn status_text(s: ma_status) -> &'static str {
    match s {
        MA_OK => "success",
        _ => Error::from_code(s).map_or("unknown status code", Error::message),
    }
}

/// Creates the handle as `create` says; returns it (NULL on failure) and its shadow.
fn create(create: Create, recorder: &mut Recorder) -> (*mut ma_allocator, Option<MemoryAllocator>) {
    // Options with room behind them, for a `struct_size` larger than this version's.
    let mut padded = Padded::new(ma_options { struct_size: 0, ..ma_options::default() });
    // SAFETY: `padded.inner` is a valid, writable `ma_options`.
    unsafe { ma_options_init(&mut padded.inner) };
    assert_eq!(padded.inner, ma_options::default(), "ma_options_init sets the defaults");
    let base = size_of::<ma_options>();
    let sentinel: *mut ma_allocator = ptr::without_provenance_mut(SENTINEL);
    let mut out = sentinel;
    let (name, got, want, shadow) = match create {
        Create::Plain(capacity) => {
            let capacity = capacity.resolve();
            let handle = ma_create(capacity);
            let shadow = MemoryAllocator::new(capacity).ok();
            assert_eq!(handle.is_null(), shadow.is_none(), "ma_create({capacity})");
            recorder.record("create", "ma_create", || if handle.is_null() { "NULL" } else { "Ok" }.into());
            return (handle, shadow);
        }
        Create::With { struct_size, capacity, policy, min_alignment } => {
            padded.inner.struct_size = struct_size.resolve(base);
            padded.inner.capacity = capacity.resolve();
            padded.inner.policy = policy.resolve();
            padded.inner.min_alignment = min_alignment.resolve();
            // SAFETY: `padded` holds `struct_size` bytes (at most 64 beyond the options).
            let got = unsafe { ma_create_with(&padded.inner, &mut out) };
            let o = padded.inner;
            let shadow = if o.struct_size < base || o.capacity == 0 {
                Err(Error::InvalidArgument)
            } else {
                Policy::from_code(o.policy).ok_or(Error::InvalidArgument).and_then(|p| {
                    MemoryAllocator::with_options(Options::new(o.capacity).policy(p).min_alignment(o.min_alignment))
                })
            };
            ("ma_create_with", got, status(&shadow), shadow.ok())
        }
        Create::NullOptions { null_out } => {
            let out_ptr = if null_out { ptr::null_mut() } else { &raw mut out };
            // SAFETY: NULL options; `out_ptr` is NULL or a valid local.
            let got = unsafe { ma_create_with(ptr::null(), out_ptr) };
            ("ma_create_with(NULL opts)", got, MA_ERR_NULL_POINTER, None)
        }
        Create::NullOut { capacity, policy } => {
            padded.inner.capacity = capacity.resolve();
            padded.inner.policy = policy.resolve();
            // SAFETY: valid options, NULL out.
            let got = unsafe { ma_create_with(&padded.inner, ptr::null_mut()) };
            ("ma_create_with(NULL out)", got, MA_ERR_NULL_POINTER, None)
        }
    };
    assert_eq!(got, want, "{name}: {create:?}");
    recorder.record("create", name, || status_name(got));
    if got == MA_OK {
        assert!(!out.is_null() && out != sentinel, "{name} succeeded without writing its handle");
        (out, shadow)
    } else {
        assert_eq!(out, sentinel, "{name} failed but wrote its out-parameter");
        (ptr::null_mut(), None)
    }
}

/// Runs `input` and panics at the first disagreement, recording the classes reached.
pub fn run(input: &Input, recorder: &mut Recorder) {
    let (handle, mut shadow) = create(input.create, recorder);
    let mut stale: Vec<usize> = Vec::new();
    let mut before = (!handle.is_null()).then(|| snapshot(handle));
    if let (Some(shadow), Some((stats, blocks))) = (&shadow, &before) {
        assert_eq!(*stats, ma_stats::from(shadow.stats()));
        assert_eq!(*blocks, shadow.blocks());
    }
    for (step, call) in input.calls.iter().enumerate() {
        // ma_set_capacity changes it.
        let capacity = shadow.as_ref().map_or(0, MemoryAllocator::capacity);
        let live: Vec<(usize, usize)> = shadow.as_ref().map_or_else(Vec::new, |s| {
            s.blocks().into_iter().filter(|b| b.kind == BlockKind::Allocated).map(|b| (b.start, b.size)).collect()
        });
        let free: Vec<(usize, usize)> = shadow.as_ref().map_or_else(Vec::new, |s| {
            s.blocks().into_iter().filter(|b| b.kind == BlockKind::Free).map(|b| (b.start, b.size)).collect()
        });
        let targets = Targets { capacity, live: &live, stale: &stale };
        let a = if call.nulls == Nulls::Handle { ptr::null_mut() } else { handle };
        let null_out = call.nulls == Nulls::Out;
        let mut out = SENTINEL;
        let out_ptr: *mut usize = if null_out { ptr::null_mut() } else { &raw mut out };
        // The expected status when a pointer is NULL; else the shadow decides.
        let null_status = |has_out: bool| (a.is_null() || (has_out && null_out)).then_some(MA_ERR_NULL_POINTER);
        // (function, status, expected status, value written, expected value)
        let (name, got, want, value, want_value): (&'static str, ma_status, ma_status, usize, usize) = match call.op {
            CallOp::Alloc(size) => {
                let size = size.resolve(capacity, &free);
                // SAFETY: `a` is NULL or live; `out_ptr` NULL or a valid local.
                let got = unsafe { ma_alloc(a, size, out_ptr) };
                let want = expect(null_status(true), || shadow.as_mut().expect(SHADOW).allocate(size));
                ("ma_alloc", got, status(&want), out, *want.as_ref().unwrap_or(&SENTINEL))
            }
            CallOp::AllocAligned(size, align) => {
                let (size, align) = (size.resolve(capacity, &free), align.resolve());
                // SAFETY: as above.
                let got = unsafe { ma_alloc_aligned(a, size, align, out_ptr) };
                let want = expect(null_status(true), || shadow.as_mut().expect(SHADOW).allocate_aligned(size, align));
                ("ma_alloc_aligned", got, status(&want), out, *want.as_ref().unwrap_or(&SENTINEL))
            }
            CallOp::Free(addr, size) => {
                let addr = targets.addr(addr);
                let size = targets.free_size(addr, size);
                // SAFETY: `a` is NULL or live.
                let got = unsafe { ma_free(a, addr, size) };
                let want = expect(null_status(false), || shadow.as_mut().expect(SHADOW).free(addr, size));
                if want.is_ok() {
                    stale.push(addr);
                }
                ("ma_free", got, status(&want), SENTINEL, SENTINEL)
            }
            CallOp::FreeAt(addr) => {
                let addr = targets.addr(addr);
                // SAFETY: `a` is NULL or live.
                let got = unsafe { ma_free_at(a, addr) };
                let want = expect(null_status(false), || shadow.as_mut().expect(SHADOW).free_at(addr));
                if want.is_ok() {
                    stale.push(addr);
                }
                ("ma_free_at", got, status(&want), SENTINEL, SENTINEL)
            }
            CallOp::Realloc(addr, old, new) => {
                let addr = targets.addr(addr);
                let old = targets.free_size(addr, old);
                let new = new.resolve(capacity, &free);
                // SAFETY: `a` is NULL or live; `out_ptr` NULL or a valid local.
                let got = unsafe { ma_realloc(a, addr, old, new, out_ptr) };
                let want = expect(null_status(true), || shadow.as_mut().expect(SHADOW).reallocate(addr, old, new));
                if want.as_ref().is_ok_and(|&moved| moved != addr) {
                    stale.push(addr);
                }
                ("ma_realloc", got, status(&want), out, *want.as_ref().unwrap_or(&SENTINEL))
            }
            CallOp::SizeOf(addr) => {
                let addr = targets.addr(addr);
                // SAFETY: `a` is NULL or live; `out_ptr` NULL or a valid local.
                let got = unsafe { ma_size_of(a, addr, out_ptr) };
                let want = expect(null_status(true), || shadow.as_ref().expect(SHADOW).size_of(addr));
                ("ma_size_of", got, status(&want), out, *want.as_ref().unwrap_or(&SENTINEL))
            }
            CallOp::Reset => {
                // SAFETY: `a` is NULL or live.
                let got = unsafe { ma_reset(a) };
                let want = match null_status(false) {
                    Some(s) => s,
                    None => {
                        let s = shadow.as_mut().expect("a handle has a shadow");
                        stale.extend(s.blocks().iter().filter(|b| b.kind == BlockKind::Allocated).map(|b| b.start));
                        s.reset();
                        MA_OK
                    }
                };
                ("ma_reset", got, want, SENTINEL, SENTINEL)
            }
            CallOp::Stats => {
                let untouched = ma_stats { capacity: SENTINEL, allocated: SENTINEL, ..ma_stats::default() };
                let mut stats = untouched;
                let stats_ptr: *mut ma_stats = if null_out { ptr::null_mut() } else { &raw mut stats };
                // SAFETY: `a` is NULL or live; `stats_ptr` NULL or a valid local.
                let got = unsafe { ma_get_stats(a, stats_ptr) };
                let want = null_status(true).unwrap_or(MA_OK);
                if got == MA_OK {
                    let s = shadow.as_ref().expect("a handle has a shadow");
                    assert_eq!(stats, ma_stats::from(s.stats()), "ma_get_stats");
                } else {
                    assert_eq!(stats, untouched, "ma_get_stats failed but wrote");
                }
                ("ma_get_stats", got, want, SENTINEL, SENTINEL)
            }
            CallOp::Walk(_) | CallOp::WalkReenter if null_out => {
                // SAFETY: `a` is NULL or live; a NULL callback is rejected before any call.
                let got = unsafe { ma_walk(a, None, ptr::null_mut()) };
                ("ma_walk(NULL fn)", got, MA_ERR_NULL_POINTER, SENTINEL, SENTINEL)
            }
            CallOp::Walk(n) => {
                let stats = shadow.as_ref().map(|s| s.stats().into()).unwrap_or_default();
                let got = walk(a, usize::from(n), false, stats);
                if let (Ok(extents), Some(s)) = (&got, &shadow) {
                    // ma_walk reports no tags.
                    let all: Vec<Block> = s.blocks().into_iter().map(|b| Block { tag: 0, ..b }).collect();
                    let shown = if n == 0 { all.len() } else { all.len().min(usize::from(n)) };
                    assert_eq!(extents[..], all[..shown], "ma_walk stopping after {n}");
                }
                let got = got.err().unwrap_or(MA_OK);
                ("ma_walk", got, null_status(false).unwrap_or(MA_OK), SENTINEL, SENTINEL)
            }
            CallOp::WalkReenter => {
                let stats = shadow.as_ref().map(|s| s.stats().into()).unwrap_or_default();
                let got = walk(a, 0, true, stats);
                if let (Ok(extents), Some(s)) = (&got, &shadow) {
                    let all: Vec<Block> = s.blocks().into_iter().map(|b| Block { tag: 0, ..b }).collect();
                    assert_eq!(*extents, all, "a re-entrant walk");
                }
                let got = got.err().unwrap_or(MA_OK);
                ("ma_walk(re-entrant)", got, null_status(false).unwrap_or(MA_OK), SENTINEL, SENTINEL)
            }
            CallOp::AllocEx(args) => {
                let request = args.request.resolve(capacity, &free, &live);
                let base = size_of::<ma_request>();
                let defaults = ma_request {
                    struct_size: base,
                    size: request.size,
                    alignment: 1,
                    lo: 0,
                    hi: usize::MAX,
                    flags: 0,
                    tag: 0,
                };
                let mut padded = Padded::new(ma_request { struct_size: 0, size: 0, hi: 0, ..defaults });
                // SAFETY: `padded.inner` is a valid, writable `ma_request`.
                unsafe { ma_request_init(&mut padded.inner, request.size) };
                assert_eq!(padded.inner, defaults, "ma_request_init sets the defaults");
                let r = &mut padded.inner;
                r.struct_size = args.struct_size.resolve(base);
                (r.alignment, r.lo, r.hi, r.tag) =
                    (request.alignment, request.range.start, request.range.end, request.tag);
                let defined = u32::from(request.top_down) * MA_REQ_TOP_DOWN + u32::from(request.pinned) * MA_REQ_PINNED;
                r.flags = match args.flags {
                    Flags::Defined | Flags::Defined2 | Flags::Defined3 => defined,
                    Flags::Undefined(n) => defined | 1 << (2 + n % 30),
                    Flags::Raw(bits) => bits,
                };
                let sent = padded.inner;
                let r_ptr: *const ma_request =
                    if args.pointer == RequestPtr::Null { ptr::null() } else { &padded.inner };
                // SAFETY: `a` is NULL or live; `r_ptr` is NULL or points to `padded`, which
                // holds `struct_size` bytes (at most 64 beyond the request); `out_ptr` is
                // NULL or a valid local.
                let got = unsafe { ma_alloc_ex(a, r_ptr, out_ptr) };
                assert_eq!(padded.inner, sent, "ma_alloc_ex changed its request");
                let null = null_status(true).or((args.pointer == RequestPtr::Null).then_some(MA_ERR_NULL_POINTER));
                let (old_struct, undefined) =
                    (sent.struct_size < base, sent.flags & !(MA_REQ_TOP_DOWN | MA_REQ_PINNED) != 0);
                let want = expect(null, || {
                    if old_struct || undefined {
                        return Err(Error::InvalidArgument);
                    }
                    let request = Request {
                        top_down: sent.flags & MA_REQ_TOP_DOWN != 0,
                        pinned: sent.flags & MA_REQ_PINNED != 0,
                        ..request
                    };
                    shadow.as_mut().expect(SHADOW).allocate_with(&request)
                });
                let name = if old_struct {
                    "ma_alloc_ex(old struct)"
                } else if undefined {
                    "ma_alloc_ex(undefined flags)"
                } else if sent.struct_size > base {
                    "ma_alloc_ex(newer struct)"
                } else {
                    "ma_alloc_ex"
                };
                (name, got, status(&want), out, *want.as_ref().unwrap_or(&SENTINEL))
            }
            CallOp::AllocAt(place, size) => {
                let size = size.resolve(capacity, &free);
                let unit = shadow.as_ref().map_or(1, |s| reservation_unit(s.policy(), s.min_alignment(), size));
                let addr = place.resolve(&targets, &free, unit);
                // SAFETY: `a` is NULL or live.
                let got = unsafe { ma_alloc_at(a, addr, size) };
                let want = expect(null_status(false), || shadow.as_mut().expect(SHADOW).allocate_at(addr, size));
                ("ma_alloc_at", got, status(&want), SENTINEL, SENTINEL)
            }
            CallOp::SetCapacity(new) => {
                let end = shadow.as_ref().map_or(0, |s| live_end(&live, s.policy(), s.min_alignment()));
                let new = new.resolve(capacity, end);
                // SAFETY: `a` is NULL or live.
                let got = unsafe { ma_set_capacity(a, new) };
                let want = expect(null_status(false), || shadow.as_mut().expect(SHADOW).set_capacity(new));
                ("ma_set_capacity", got, status(&want), SENTINEL, SENTINEL)
            }
            CallOp::StatusStr(s) => {
                let text = ma_status_str(s);
                assert!(!text.is_null(), "ma_status_str({s}) is NULL");
                // SAFETY: `ma_status_str` returns static NUL-terminated text.
                let text = unsafe { CStr::from_ptr(text) }.to_str().expect("ASCII");
                assert_eq!(text, status_text(s), "ma_status_str({s})");
                let known = s == MA_OK || Error::from_code(s).is_some();
                recorder.record("static", "ma_status_str", || if known { "known" } else { "unknown" }.into());
                continue;
            }
            CallOp::Version => {
                // SAFETY: `ma_version` returns static NUL-terminated text.
                let version = unsafe { CStr::from_ptr(ma_version()) }.to_str().expect("ASCII");
                let parts: Vec<&str> = version.split('.').collect();
                assert!(parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()), "ma_version {version:?}");
                recorder.record("static", "ma_version", || "Ok".into());
                continue;
            }
            CallOp::NullNoOps => {
                // SAFETY: NULL is a documented no-op for both.
                unsafe {
                    ma_destroy(ptr::null_mut());
                    ma_options_init(ptr::null_mut());
                    ma_request_init(ptr::null_mut(), 1);
                }
                recorder.record("static", "NULL no-ops", || "Ok".into());
                continue;
            }
        };
        assert_eq!(got, want, "step {step}: {name} {call:?}: status {got}, want {want}");
        if got == MA_OK {
            assert_eq!(value, want_value, "step {step}: {name} {call:?}: out-parameter");
        } else {
            assert_eq!(out, SENTINEL, "step {step}: {name} {call:?} failed but wrote its out-parameter");
        }
        let has_out = !matches!(
            call.op,
            CallOp::Free(..) | CallOp::FreeAt(_) | CallOp::Reset | CallOp::AllocAt(..) | CallOp::SetCapacity(_)
        );
        let null_request = matches!(call.op, CallOp::AllocEx(args) if args.pointer == RequestPtr::Null);
        let nulls = if a.is_null() {
            "NULL handle"
        } else if null_request {
            "NULL request"
        } else if null_out && has_out {
            "NULL out"
        } else {
            "pointers valid"
        };
        recorder.record(nulls, name, || status_name(got));
        if !handle.is_null() {
            let after = snapshot(handle);
            let shadow = shadow.as_ref().expect("a handle has a shadow");
            assert_eq!(after.0, ma_stats::from(shadow.stats()), "step {step}: {name}: stats");
            let untagged: Vec<Block> = shadow.blocks().into_iter().map(|b| Block { tag: 0, ..b }).collect();
            assert_eq!(after.1, untagged, "step {step}: {name}: map (ma_walk reports no tags)");
            if got != MA_OK {
                assert_eq!(Some(&after), before.as_ref(), "step {step}: {name} failed but changed the allocator");
            }
            before = Some(after);
        }
        if stale.len() > 64 {
            stale.drain(..stale.len() - 64);
        }
    }
    // SAFETY: `handle` is NULL or live, and not used again.
    unsafe { ma_destroy(handle) };
}
