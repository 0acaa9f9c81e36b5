//! Fuzz target `snapshot`: `load` on hostile bytes and save/load round trips (see
//! `memalloc_fuzz::snapshot`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use memalloc_fuzz::Recorder;
use memalloc_fuzz::snapshot::{Input, run};

fuzz_target!(|input: Input| {
    run(&input, &mut Recorder::off());
});
