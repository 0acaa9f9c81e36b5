//! Fuzz target `ops`: the Rust core against its models (see `memalloc_fuzz::ops`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use memalloc_fuzz::Recorder;
use memalloc_fuzz::ops::{Input, run};

fuzz_target!(|input: Input| {
    run(&input, &mut Recorder::off());
});
