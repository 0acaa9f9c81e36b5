//! What the tests that build programs against the library share: where the built
//! libraries are, the workspace root, and temporary directories.

#![allow(dead_code)]

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The SONAME the top-level build.rs gives the shared library (`0.MINOR` below 1.0).
pub const SONAME: &str = "libmemalloc.so.0.2";

/// The workspace root: the parent of this crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("c_tests has a parent").to_path_buf()
}

/// The directory that holds the `libmemalloc.a` and `libmemalloc.so` of this build: the
/// test executable's own directory (`target/<profile>/deps`), else the one above it.
/// Found from the executable, so it follows `CARGO_TARGET_DIR` and `--target`.
pub fn library_dir() -> PathBuf {
    let exe = env::current_exe().expect("the test knows its executable");
    exe.ancestors()
        .skip(1)
        .take(2)
        .find(|dir| dir.join("libmemalloc.a").is_file() && dir.join("libmemalloc.so").is_file())
        .unwrap_or_else(|| panic!("no libmemalloc.a and libmemalloc.so beside {}", exe.display()))
        .to_path_buf()
}

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = env::temp_dir().join(format!("memalloc-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("the temporary directory is writable");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Compiles the example `source` (relative to the workspace root) with `compiler` in
/// language standard `std`, strict warnings as errors, against the static library, into
/// `exe`; panics with the compiler's output when that fails.
pub fn build_example(compiler: &str, std: &str, source: &str, exe: &Path) {
    let root = workspace_root();
    let build = std::process::Command::new(compiler)
        .args([&format!("-std={std}"), "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("include"))
        .arg(root.join(source))
        .arg(library_dir().join("libmemalloc.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(exe)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} runs: {e}"));
    assert!(build.status.success(), "{compiler} failed on {source}:\n{}", String::from_utf8_lossy(&build.stderr));
}

/// A document's copy of an example's output: the first ```text block after `marker` in
/// `file` (relative to the workspace root, e.g. `docs/GUIDE.md`).
pub fn doc_block_after(file: &str, marker: &str) -> String {
    let text = fs::read_to_string(workspace_root().join(file)).unwrap_or_else(|e| panic!("{file} is readable: {e}"));
    let after = &text[text.find(marker).unwrap_or_else(|| panic!("{file} lacks {marker:?}"))..];
    after.split("```text\n").nth(1).and_then(|b| b.split("```").next()).expect("a text block follows").to_string()
}
