//! The C test suites of memalloc, compiled by `build.rs` and linked against the library.
//!
//! Each suite is one C file with an entry point `int ma_ctest_NAME(void)` that prints a
//! line per failed check and a closing `N passed, N failed`, and returns the number of
//! failed checks. [`Suite::run`] calls it; the tests in `tests/` assert that it returns 0.

use std::ffi::c_int;
use std::sync::Mutex;

// The C objects call the `ma_*` functions that this rlib exports; naming the crate makes
// rustc link it, after the C library that needs it.
use memalloc as _;

unsafe extern "C" {
    fn ma_ctest_core() -> c_int;
    fn ma_ctest_errors() -> c_int;
    fn ma_ctest_realloc() -> c_int;
    fn ma_ctest_align() -> c_int;
    fn ma_ctest_walk() -> c_int;
    fn ma_ctest_threads() -> c_int;
    fn ma_ctest_model() -> c_int;
    fn ma_ctest_stress() -> c_int;
    fn ma_ctest_conformance() -> c_int;
    fn ma_ctest_snapshots() -> c_int;
    fn ma_ctest_placement() -> c_int;
}

/// One C suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// `test_core.c`: the worked example, merging, boundaries, exhaustion, fragmentation,
    /// stats, reset, `ma_size_of`, `ma_free_at`, best-fit placement, huge capacity.
    Core,
    /// `test_errors.c`: every status code and the check order of every function (the
    /// placement calls included); state and out-parameters unchanged after every error;
    /// status texts and version.
    Errors,
    /// `test_realloc.c`: shrink and grow in place, move, out of memory, per policy.
    Realloc,
    /// `test_align.c`: `ma_alloc_aligned` and `min_alignment`.
    Align,
    /// `test_walk.c`: `ma_walk` order, stopping, and callbacks that call back in.
    Walk,
    /// `test_threads.c`: 8 threads hammering one handle.
    Threads,
    /// `test_model.c`: random operations compared with a reference model, call by call.
    Model,
    /// `test_stress.c`: 8 threads hand blocks to each other through a queue, every policy;
    /// ownership of every unit checked atomically.
    Stress,
    /// `test_conformance.c`: what every policy shares: merging back to the initial map,
    /// `largest_free`, alignment, reset; each call checked against the policy's model.
    Conformance,
    /// `test_snapshots.c`: tags, compaction plans executed with `memmove` on real bytes,
    /// `ma_save`/`ma_load` check orders and round trips followed by the same random calls.
    Snapshots,
    /// `test_placement.c`: `ma_alloc_ex` (the defaults are `ma_alloc`; ranges and top-down
    /// per policy), `ma_alloc_at`, `ma_set_capacity` (grow, shrink, the same as a fresh
    /// allocator given the same allocations), tags and alignments kept across moves.
    Placement,
}

/// Serialises the suites: their output goes straight to stdout and must not interleave.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

impl Suite {
    /// Every suite.
    pub const ALL: [Suite; 11] = [
        Suite::Core,
        Suite::Errors,
        Suite::Realloc,
        Suite::Align,
        Suite::Walk,
        Suite::Threads,
        Suite::Model,
        Suite::Conformance,
        Suite::Stress,
        Suite::Snapshots,
        Suite::Placement,
    ];

    /// Runs the suite and returns the number of failed checks.
    pub fn run(self) -> usize {
        let entry: unsafe extern "C" fn() -> c_int = match self {
            Suite::Core => ma_ctest_core,
            Suite::Errors => ma_ctest_errors,
            Suite::Realloc => ma_ctest_realloc,
            Suite::Align => ma_ctest_align,
            Suite::Walk => ma_ctest_walk,
            Suite::Threads => ma_ctest_threads,
            Suite::Model => ma_ctest_model,
            Suite::Stress => ma_ctest_stress,
            Suite::Conformance => ma_ctest_conformance,
            Suite::Snapshots => ma_ctest_snapshots,
            Suite::Placement => ma_ctest_placement,
        };
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: the entry points take no arguments, touch only their own state and the
        // allocators they create, and are run one at a time.
        let failed = unsafe { entry() };
        usize::try_from(failed).unwrap_or(usize::MAX)
    }
}
