//! Fuzz target `c_api`: the `extern "C"` functions, NULL pointers included (see
//! `memalloc_fuzz::c_api`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use memalloc_fuzz::Recorder;
use memalloc_fuzz::c_api::{Input, run};

fuzz_target!(|input: Input| {
    run(&input, &mut Recorder::off());
});
