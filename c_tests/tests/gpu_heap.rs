//! `examples/gpu_heap.c`, the README's example of placement control (ranges, top-down, a
//! fixed reservation, growing the heap): built with strict flags against the static
//! library, run, and its output compared with the README's copy of it.

mod support;

use std::process::Command;

use support::{TempDir, library_dir, workspace_root};

#[test]
fn the_gpu_heap_example_prints_what_the_readme_shows() {
    let tmp = TempDir::new("gpu-heap");
    let exe = tmp.0.join("gpu_heap");
    let root = workspace_root();
    let build = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("include"))
        .arg(root.join("examples/gpu_heap.c"))
        .arg(library_dir().join("libmemalloc.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("cc runs");
    assert!(build.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let run = Command::new(&exe).output().expect("the example runs");
    assert!(run.status.success(), "the example failed:\n{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8(run.stdout).expect("the output is text");

    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let marker = "`examples/gpu_heap.c` prints:";
    let after = &readme[readme.find(marker).unwrap_or_else(|| panic!("README.md lacks {marker:?}"))..];
    let block = after.split("```text\n").nth(1).and_then(|b| b.split("```").next()).expect("a text block follows");
    assert_eq!(block, stdout, "README.md's copy of the example's output is stale");
}
