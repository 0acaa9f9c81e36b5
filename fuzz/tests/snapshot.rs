//! The `snapshot` harness on stable, without libFuzzer: deterministic pseudo-random inputs
//! (raw bytes, round trips, damaged and resealed snapshots), then the committed seeds in
//! `fuzz/corpus/snapshot/` when there are any. Every outcome class must be reached.

use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use memalloc_fuzz::Recorder;
use memalloc_fuzz::snapshot::{Input, run};

/// splitmix64, for reproducible bytes.
fn bytes(state: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

#[test]
fn pseudo_random_inputs_reach_every_outcome() {
    let mut recorder = Recorder::on();
    let mut state = 7;
    let count = if cfg!(miri) { 20 } else { 3000 };
    for k in 0..count {
        let input = bytes(&mut state, 16 + k % 600);
        if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(&input)) {
            run(&input, &mut recorder);
        }
    }
    let coverage = recorder.into_coverage();
    if !cfg!(miri) {
        for (part, outcome) in [
            ("raw", "BadSnapshot"),
            ("damage", "BadSnapshot"),
            ("resealed damage", "BadSnapshot"),
            ("round trip", "first-fit"),
            ("round trip", "best-fit"),
            ("round trip", "tlsf"),
            ("round trip", "buddy"),
        ] {
            assert!(
                coverage.contains(&(part.to_string(), "load", outcome.to_string())),
                "no input reached {part} / {outcome}: {coverage:?}"
            );
        }
    }
}

#[test]
fn committed_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join("snapshot");
    let Ok(entries) = fs::read_dir(&dir) else { return };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("seed-")) {
            continue; // what libFuzzer added locally, not committed
        }
        let bytes = fs::read(path).expect("a seed is readable");
        if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(&bytes)) {
            run(&input, &mut Recorder::off());
        }
    }
}
