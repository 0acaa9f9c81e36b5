//! Asks for the SONAME `libmemalloc_preload.so` (a Rust cdylib has none unless the build
//! gives it one).
//!
//! Caveat: cargo also passes this cdylib the `rustc-cdylib-link-arg` lines of the build
//! scripts of its dependencies, after this one, and the root package's build script sets
//! its own SONAME that way; the linker keeps the last `-soname`. Until the root stops
//! doing that for its dependents, the library's SONAME is the root library's.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmemalloc_preload.so");
}
