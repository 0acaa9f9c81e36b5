//! Generates the C header from src/ffi with cbindgen, and gives the shared library its
//! SONAME.
//!
//! The header is written to `$OUT_DIR/memalloc.h`; the test `header_is_fresh` fails when
//! the committed `include/memalloc.h` differs from it. `MEMALLOC_UPDATE_HEADER=1 cargo
//! build` writes it to `include/` as well.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/error.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=MEMALLOC_UPDATE_HEADER");

    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("cargo sets the version");
    let (major, minor, patch) = (version("MAJOR"), version("MINOR"), version("PATCH"));

    // Semver: below 1.0 a minor release may break the ABI, so the SONAME carries it.
    let soname_version = if major == "0" { format!("0.{minor}") } else { major.clone() };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmemalloc.so.{soname_version}");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    config.after_includes = Some(format!(
        "\n/* The version of this header; ma_version() returns the library's as \"MAJOR.MINOR.PATCH\". */\n\
         #define MA_VERSION_MAJOR {major}\n#define MA_VERSION_MINOR {minor}\n#define MA_VERSION_PATCH {patch}\n\
         #define MA_VERSION_STRING \"{major}.{minor}.{patch}\""
    ));
    let header = out_dir.join("memalloc.h");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read src/ffi")
        .write_to_file(&header);
    if env::var_os("MEMALLOC_UPDATE_HEADER").is_some() {
        std::fs::copy(&header, crate_dir.join("include/memalloc.h")).expect("include/ is writable");
    }
}
