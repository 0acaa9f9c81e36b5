//! The fuzz harnesses of memalloc, shared by the cargo-fuzz targets in `fuzz_targets/`
//! and by the seed generator in `examples/gen_corpus.rs`.
//!
//! - [`ops`]: the Rust core. Bytes decode (with `arbitrary`) into a creation (any
//!   capacity, policy and `min_alignment`, valid or not) and a sequence of calls with
//!   valid, stale, shifted, wrong-size and out-of-range arguments. Every result is checked
//!   against [`model::Model`], the naive model of its policy from `memalloc_models`: first
//!   fit and best fit exactly, TLSF and buddy by their rules (the address lies, aligned,
//!   in a free block that holds the request, under buddy one of the smallest fitting size;
//!   out of memory exactly when no free block can hold it), then the whole map and every
//!   counter. `check_invariants()` runs after every call.
//! - [`snapshot`]: `MemoryAllocator::load` on raw, damaged and resealed bytes (rejected
//!   with `BadSnapshot`, or accepted only as bytes the library writes itself), and
//!   save/load round trips of random histories followed by the same calls on both copies.
//! - [`c_api`]: the `extern "C"` functions, NULL pointers included, against a shadow
//!   [`memalloc::MemoryAllocator`]: statuses, out-parameters untouched on error, stats and
//!   walks consistent, nothing changed by a failed call.
//!
//! Both can record the outcome classes they reach ([`Recorder`]); the seed generator keeps
//! an input when it reaches a class no earlier seed reached.
//!
//! Commands (from the repository root):
//! - `cargo +nightly fuzz run ops -- -max_total_time=60` (and `c_api`): a short run;
//! - `cargo +nightly fuzz run ops --jobs 2 -- -max_total_time=3600`: a long run;
//! - `cargo run --release --manifest-path fuzz/Cargo.toml --no-default-features --example
//!   gen_corpus`: rewrites the seeds in `fuzz/corpus/` and fails when some outcome class
//!   is not reached;
//! - `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`: replays the seeds.

pub mod c_api;
pub mod input;
pub mod model;
pub mod ops;
pub mod snapshot;

// The conversions between memalloc's types and the models', shared with the tests.
#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;

/// The outcome classes an input reached: `(policy or target part, call, outcome)`.
pub type Coverage = BTreeSet<(String, &'static str, String)>;

/// Collects outcome classes when asked to (the seed generator); does nothing, and builds
/// no strings, when fuzzing.
#[derive(Debug, Default)]
pub struct Recorder(Option<Coverage>);

impl Recorder {
    /// Records nothing.
    pub fn off() -> Self {
        Recorder(None)
    }

    /// Records every class.
    pub fn on() -> Self {
        Recorder(Some(Coverage::new()))
    }

    /// Records `(part, call, outcome())`.
    pub fn record(&mut self, part: &str, call: &'static str, outcome: impl FnOnce() -> String) {
        if let Some(coverage) = &mut self.0 {
            coverage.insert((part.to_string(), call, outcome()));
        }
    }

    /// The classes recorded.
    pub fn into_coverage(self) -> Coverage {
        self.0.unwrap_or_default()
    }
}
