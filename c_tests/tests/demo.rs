//! `examples/demo.c`, built the way a user builds it: with the system C compiler (`cc`,
//! or `$CC`), `-std=c11 -Wall -Wextra -Werror -pedantic`, against the static library
//! `libmemalloc.a` and, separately, against the shared library installed as
//! `libmemalloc.so.0.2` plus a `libmemalloc.so` link; both programs must run and print
//! the worked example's final map.
//!
//! The libraries are the ones cargo built for this test run: `memalloc` is a dependency
//! of this crate, and cargo builds every crate type of a dependency's library (rlib,
//! cdylib, staticlib) into the `deps` directory beside this test's executable.

#![cfg(target_os = "linux")]

mod support;

use std::env;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use support::{SONAME, TempDir, library_dir, workspace_root};

/// The map after the last step of the worked example, as demo.c prints it.
const FINAL_MAP: &str = "    [Free(0-49)] [Allocated(50-89)] [Free(90-99)]";

/// `cc -std=c11 -Wall -Wextra -Werror -pedantic -I include examples/demo.c ARGS -o OUT`.
fn compile(out: &Path, link_args: &[&str]) {
    let root = workspace_root();
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let output = Command::new(&compiler)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("include"))
        .arg(root.join("examples/demo.c"))
        .args(link_args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{compiler}`: {e}"));
    assert!(
        output.status.success(),
        "`{compiler}` failed to build examples/demo.c with {link_args:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks that the demo ran and printed the whole worked example; returns its stdout.
fn check_run(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demo ({what}) failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "ma_alloc(a, 20) -> 0",
        "ma_alloc(a, 30) -> 20",
        "ma_alloc(a, 40) -> 50",
        "ma_alloc(a, 25) -> 20",
        "    [Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]",
        "ma_free(a, 20, 25) -> error 5: no live allocation starts at this address",
    ] {
        assert!(stdout.lines().any(|line| line == expected), "demo ({what}) did not print {expected:?}:\n{stdout}");
    }
    let last_map = stdout.lines().rfind(|line| line.starts_with("    ["));
    assert_eq!(last_map, Some(FINAL_MAP), "demo ({what}): the final map is wrong:\n{stdout}");
    stdout
}

#[test]
fn demo_links_statically() {
    let tmp = TempDir::new("demo-static");
    let exe = tmp.0.join("demo");
    let archive = library_dir().join("libmemalloc.a");
    compile(&exe, &[archive.to_str().expect("a UTF-8 path"), "-lpthread", "-ldl", "-lm"]);
    let output = Command::new(&exe).output().expect("the demo runs");
    check_run("static", &output);
}

#[test]
fn demo_links_dynamically() {
    let tmp = TempDir::new("demo-shared");
    let lib = tmp.0.join("lib");
    fs::create_dir_all(&lib).expect("the temporary directory is writable");
    // As an install lays it out: the real file under its SONAME, the link name beside it.
    fs::copy(library_dir().join("libmemalloc.so"), lib.join(SONAME)).expect("the shared library can be copied");
    std::os::unix::fs::symlink(SONAME, lib.join("libmemalloc.so")).expect("a symlink can be made");

    let exe = tmp.0.join("demo");
    let search = format!("-L{}", lib.to_str().expect("a UTF-8 path"));
    compile(&exe, &[&search, "-lmemalloc"]);
    let run = || Command::new(&exe).env("LD_LIBRARY_PATH", &lib).output().expect("the demo runs");
    let first = check_run("shared", &run());

    // The program records the SONAME, not the link name: it still runs without the link.
    fs::remove_file(lib.join("libmemalloc.so")).expect("the link can be removed");
    let second = check_run("shared, through the SONAME only", &run());
    assert_eq!(first, second);
}
