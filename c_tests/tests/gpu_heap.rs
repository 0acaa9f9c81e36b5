//! `examples/gpu_heap.c`, docs/GUIDE.md's example of placement control (ranges, top-down,
//! a fixed reservation, growing the heap): built with strict flags against the static
//! library, run, and its output compared with the guide's copy of it.

mod support;

use std::process::Command;

use support::{TempDir, build_example, doc_block_after};

#[test]
fn the_gpu_heap_example_prints_what_the_guide_shows() {
    let tmp = TempDir::new("gpu-heap");
    let exe = tmp.0.join("gpu_heap");
    build_example("cc", "c11", "examples/gpu_heap.c", &exe);
    let run = Command::new(&exe).output().expect("the example runs");
    assert!(run.status.success(), "the example failed:\n{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8(run.stdout).expect("the output is text");

    let block = doc_block_after("docs/GUIDE.md", "`examples/gpu_heap.c` prints:");
    assert_eq!(block, stdout, "docs/GUIDE.md's copy of the example's output is stale");
}
