//! The preload commands that README.md and docs/PRELOAD.md give run as written: each shell
//! block is run by bash (its `cargo build --release` line left out, the library path
//! pointed at the one cargo built for these tests) and must succeed and print the summary.

mod support;

use std::path::Path;

use support::{clean_command, installed, library};

/// The shell block of `file` (relative to the workspace) that follows the first line
/// containing `marker`.
fn sh_block_after(file: &str, marker: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let after = &text[text.find(marker).unwrap_or_else(|| panic!("{file} lacks {marker:?}"))..];
    let body = &after[after.find("```sh\n").unwrap_or_else(|| panic!("no sh block after {marker:?}")) + 6..];
    body[..body.find("```").expect("the block is closed")].to_string()
}

/// Runs the block as the reader would, after `cargo build --release`.
fn runs_as_written(file: &str, marker: &str, programs: &[&str]) {
    if programs.iter().any(|program| installed(program).is_none()) {
        return;
    }
    let block = sh_block_after(file, marker);
    assert!(block.contains("$PWD/target/release/libmemalloc_preload.so"), "{file}: {block}");
    let script: String = block
        .lines()
        .filter(|line| !line.starts_with("cargo build"))
        .map(|line| line.replace("$PWD/target/release/libmemalloc_preload.so", &library().to_string_lossy()) + "\n")
        .collect();
    let output = clean_command("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(support::scratch(&format!("docs-{}", file.replace('/', "-"))))
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{file}'s block failed ({}):\n{script}\n{stderr}", output.status);
    assert!(stderr.contains("]: policy "), "{file}'s block printed no summary:\n{stderr}");
}

#[test]
fn readme_preload_command_runs_as_written() {
    runs_as_written("README.md", "## The preload library", &["python3"]);
}

#[test]
fn preload_doc_experiment_runs_as_written() {
    runs_as_written("docs/PRELOAD.md", "## Running an experiment", &["python3", "sqlite3"]);
}
