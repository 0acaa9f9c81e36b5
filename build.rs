//! Gives the shared library its SONAME and, with the `generate-header` feature, generates
//! the C header from src/ffi with cbindgen.
//!
//! The feature is off for a crate that depends on `memalloc` (which then compiles no
//! cbindgen) and on for this workspace's own builds: `memalloc-c-tests` enables it, and
//! so does the crate's dev-dependency on itself, for `cargo test -p memalloc`. The header is
//! written to `$OUT_DIR/memalloc.h`; the test `header_is_fresh` fails when the committed
//! `include/memalloc.h` differs from it. `MEMALLOC_UPDATE_HEADER=1 cargo build` writes it
//! to `include/` as well.

use std::env;

/// Every file cbindgen reads, relative to this crate: the crate root and the modules it
/// parses (`parse_deps = false`: nothing from the core), its configuration, and the
/// manifest it reads through `cargo metadata`. Each one must exist: cargo treats a missing
/// path as always changed and would rerun this script, and rebuild the crate, on every
/// build. The test `build_script_inputs` in `c_tests/tests/build.rs` checks them.
pub const HEADER_INPUTS: &[&str] = &["src/lib.rs", "src/ffi", "cbindgen.toml", "Cargo.toml"];

fn main() {
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("cargo sets the version");
    let (major, minor, patch) = (version("MAJOR"), version("MINOR"), version("PATCH"));

    // Semver: below 1.0 a minor release may break the ABI, so the SONAME carries it. ELF
    // platforms only: Apple's linker and Windows' have no -soname.
    let target = |key: &str| env::var(format!("CARGO_CFG_TARGET_{key}")).unwrap_or_default();
    if target("FAMILY").split(',').any(|family| family == "unix") && target("VENDOR") != "apple" {
        let soname_version = if major == "0" { format!("0.{minor}") } else { major.clone() };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmemalloc.so.{soname_version}");
    }

    #[cfg(feature = "generate-header")]
    header::generate(&major, &minor, &patch);
    #[cfg(not(feature = "generate-header"))]
    {
        let _ = patch;
        // Nothing but the version (part of the package's identity) is read: never rerun.
        println!("cargo:rerun-if-changed=build.rs");
        if env::var_os("MEMALLOC_UPDATE_HEADER").is_some() {
            println!(
                "cargo:warning=MEMALLOC_UPDATE_HEADER is set but the generate-header feature is off: \
                 include/memalloc.h is not regenerated (run `MEMALLOC_UPDATE_HEADER=1 cargo build` at the \
                 workspace root, or add `--features generate-header`)"
            );
        }
    }
}

#[cfg(feature = "generate-header")]
mod header {
    use std::env;
    use std::path::PathBuf;

    /// Writes `$OUT_DIR/memalloc.h`, and `include/memalloc.h` when `MEMALLOC_UPDATE_HEADER`
    /// is set.
    pub fn generate(major: &str, minor: &str, patch: &str) {
        let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
        let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        for input in super::HEADER_INPUTS {
            println!("cargo:rerun-if-changed={input}");
        }
        println!("cargo:rerun-if-env-changed=MEMALLOC_UPDATE_HEADER");

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
}
