//! Compiles the C suites with the `cc` crate into one static library that
//! `memalloc-c-tests` links; their `ma_*` calls resolve to the `memalloc` rlib.
//!
//! Flags: `-std=c11 -Wall -Wextra -Werror -pedantic`, include path `../include` (the
//! committed header, exactly what users compile against).

use std::path::Path;

/// The C sources, relative to this crate. A new suite is added here and in `src/lib.rs`.
const SOURCES: &[&str] = &[
    "ctest.c",
    "support.c",
    "test_core.c",
    "test_errors.c",
    "test_realloc.c",
    "test_align.c",
    "test_walk.c",
    "test_threads.c",
    "test_model.c",
    "test_conformance.c",
    "test_stress.c",
    "test_snapshots.c",
    "test_placement.c",
];

/// Headers the sources include; a change to one recompiles them.
const HEADERS: &[&str] = &["ctest.h", "support.h", "../include/memalloc.h"];

fn main() {
    for path in SOURCES.iter().chain(HEADERS) {
        println!("cargo:rerun-if-changed={path}");
    }
    cc::Build::new()
        .std("c11")
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .flag("-pedantic")
        .include(Path::new("..").join("include"))
        .files(SOURCES)
        .compile("memalloc_ctests");
    // The thread suite uses pthreads.
    println!("cargo:rustc-link-lib=pthread");
}
