//! Gives the preload library its SONAME, `libmemalloc_preload.so` (a Rust cdylib has none
//! unless the build gives it one). It depends on the pure core, `memalloc-core`, not on
//! the `memalloc` package, whose build script sets the C library's own SONAME and whose
//! `ma_*` functions the preload must not export.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmemalloc_preload.so");
}
