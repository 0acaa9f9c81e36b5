//! Replays the committed seeds (`fuzz/corpus/<target>/seed-*`) through the harnesses
//! without libFuzzer: a regression test on stable, and, under Miri, a run of every C entry
//! point through the `c_api` harness (NULL pointers, re-entrant walks, larger option
//! structs) with every access checked:
//!
//!     cargo test --manifest-path fuzz/Cargo.toml --no-default-features
//!     MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-permissive-provenance" \
//!         cargo +nightly miri test --manifest-path fuzz/Cargo.toml --no-default-features \
//!         --test replay c_api

use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use memalloc_fuzz::Recorder;

/// Decodes each seed the way libFuzzer's `fuzz_target!` does and runs it.
fn replay<T: for<'a> Arbitrary<'a>>(target: &str, run: fn(&T, &mut Recorder)) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut seeds: Vec<_> = fs::read_dir(&dir)
        .expect("the corpus directory exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("seed-")))
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    // Miri interprets every step: a sample of the seeds.
    let step = if cfg!(miri) { 3 } else { 1 };
    for path in seeds.iter().step_by(step) {
        let bytes = fs::read(path).expect("a seed is readable");
        if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(&bytes)) {
            run(&input, &mut Recorder::off());
        }
    }
}

#[test]
fn ops() {
    replay::<memalloc_fuzz::ops::Input>("ops", memalloc_fuzz::ops::run);
}

#[test]
fn c_api() {
    replay::<memalloc_fuzz::c_api::Input>("c_api", memalloc_fuzz::c_api::run);
}
