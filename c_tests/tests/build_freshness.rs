//! Building `memalloc` twice compiles nothing the second time, and a crate that depends
//! on it compiles no cbindgen.
//!
//! Cargo reruns a build script whenever a path it named in `rerun-if-changed` is missing,
//! and then rebuilds the crate and everything above it: a build script that names a file
//! that moved made every `cargo build` recompile three crates. These tests build the
//! crate in a target directory of their own (under cargo's `CARGO_TARGET_TMPDIR`, kept
//! between runs: the first run compiles memalloc and cbindgen's dependencies once, about
//! half a minute on 2 cores; later runs take about a second).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::workspace_root;

/// One JSON message of `cargo build --message-format=json`, the fields these tests read.
struct Message {
    reason: String,
    line: String,
}

/// The string value of `"key":"..."` in one JSON line (no escapes in the values read here).
fn json_str<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    Some(&line[start..start + line[start..].find('"')?])
}

/// `cargo build -p memalloc` with `features`, in this test's own target directory.
fn build(features: &[&str]) -> Vec<Message> {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("build-freshness");
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(workspace_root())
        .args(["build", "-p", "memalloc", "--offline", "--message-format=json", "--target-dir"])
        .arg(&target)
        // Never write include/ from a test.
        .env_remove("MEMALLOC_UPDATE_HEADER");
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command.output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo build -p memalloc {features:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| Message {
            reason: json_str(line, "reason").unwrap_or_default().to_string(),
            line: line.to_string(),
        })
        .collect()
}

/// The artifacts a build compiled (not fresh), by package id.
fn compiled(messages: &[Message]) -> Vec<&str> {
    messages
        .iter()
        .filter(|m| m.reason == "compiler-artifact" && m.line.contains("\"fresh\":false"))
        .map(|m| json_str(&m.line, "package_id").unwrap_or("?"))
        .collect()
}

/// The `rerun-if-changed` paths memalloc's build script printed in that build.
fn rerun_if_changed(messages: &[Message]) -> Vec<PathBuf> {
    let script = messages
        .iter()
        .find(|m| {
            m.reason == "build-script-executed"
                && json_str(&m.line, "package_id").is_some_and(|id| id.contains("#memalloc@"))
        })
        .expect("memalloc's build script ran or is fresh");
    let out_dir = PathBuf::from(json_str(&script.line, "out_dir").expect("the message names OUT_DIR"));
    let output = std::fs::read_to_string(out_dir.with_file_name("output")).expect("the build script's output is kept");
    output
        .lines()
        .filter_map(|line| {
            line.strip_prefix("cargo:rerun-if-changed=").or_else(|| line.strip_prefix("cargo::rerun-if-changed="))
        })
        .map(PathBuf::from)
        .collect()
}

fn check_second_build_is_fresh(features: &[&str]) {
    let first = build(features);
    let inputs = rerun_if_changed(&first);
    assert!(!inputs.is_empty(), "the build script names its inputs (else cargo reruns it on any change)");
    for input in &inputs {
        assert!(
            workspace_root().join(input).exists(),
            "build.rs has rerun-if-changed={} (features {features:?}), which does not exist: \
             cargo reruns the script and rebuilds memalloc on every build",
            input.display()
        );
    }
    let second = build(features);
    assert_eq!(compiled(&second), Vec::<&str>::new(), "a second build with nothing changed compiled these");
}

/// Without the header (as a dependent crate builds it) and with it (as this workspace does),
/// one after the other: both share the target directory.
#[test]
fn a_second_build_compiles_nothing() {
    check_second_build_is_fresh(&[]);
    check_second_build_is_fresh(&["generate-header"]);
}

#[test]
fn a_dependent_crate_compiles_no_cbindgen() {
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["tree", "-p", "memalloc", "--edges", "normal,build", "--prefix", "none", "--offline"])
        .output()
        .expect("cargo runs");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(tree.lines().next().is_some_and(|line| line.starts_with("memalloc v")), "{tree}");
    assert!(!tree.contains("cbindgen"), "memalloc's default build depends on cbindgen:\n{tree}");
}
