//! `examples/compact.c` and `examples/persist.c`, built with strict flags against the
//! static library and run: a compaction plan executed with `memmove` keeps every record's
//! bytes, and a heap inside a file is saved, closed and reopened by the next run with every
//! allocation where it was.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{TempDir, build_example, doc_block_after};

/// Builds `examples/NAME.c` into `dir` and returns the executable.
fn build(name: &str, dir: &Path) -> PathBuf {
    let exe = dir.join(name);
    build_example("cc", "c11", &format!("examples/{name}.c"), &exe);
    exe
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn compaction_keeps_every_record_and_makes_room() {
    let tmp = TempDir::new("compact-example");
    let run = Command::new(build("compact", &tmp.0)).output().expect("the example runs");
    let out = text(&run);
    assert!(run.status.success(), "the example failed:\n{out}");
    assert!(out.contains("ma_alloc(800): no free block can hold the request"), "fragmented first:\n{out}");
    assert!(out.contains("25 of 25 records intact"), "{out}");
    assert!(out.contains("record 20 (pinned) still at 1254"), "{out}");
    assert!(out.contains("ma_alloc(800): success"), "room after compaction:\n{out}");
    let marker = "compacts in rounds of at most 8 moves (record 20 is pinned); it prints:";
    let block = doc_block_after("docs/GUIDE.md", marker);
    assert_eq!(block, String::from_utf8_lossy(&run.stdout), "docs/GUIDE.md's copy of the example's output is stale");
}

#[test]
fn a_heap_in_a_file_reopens_with_every_allocation_where_it_was() {
    let tmp = TempDir::new("persist-example");
    let exe = build("persist", &tmp.0);
    let heap = tmp.0.join("notes.heap");
    let mut outputs = Vec::new();
    for _ in 0..5 {
        let run = Command::new(&exe).arg(&heap).output().expect("the example runs");
        assert!(run.status.success(), "a run failed:\n{}", text(&run));
        outputs.push(text(&run));
    }
    assert!(outputs[0].contains("created") && outputs[0].contains("wrote a note at 0"), "{}", outputs[0]);
    // Run 2 finds run 1's note where run 1 wrote it; run 4 frees it (three runs back) and
    // reuses its place; run 5 sees run 4's note there.
    assert!(outputs[1].contains("note of run 1 at 0           intact"), "{}", outputs[1]);
    assert!(outputs[2].contains("2 notes, 2 intact; this is run 3"), "{}", outputs[2]);
    assert!(outputs[3].contains("freed 1 notes of run 1; wrote a note at 0"), "{}", outputs[3]);
    assert!(outputs[4].contains("note of run 4 at 0           intact"), "{}", outputs[4]);
    assert!(outputs.iter().all(|o| !o.contains("CORRUPT")));

    // A damaged snapshot is refused, not trusted.
    let mut bytes = std::fs::read(&heap).expect("the heap file is readable");
    bytes[8 + 20] ^= 1;
    std::fs::write(&heap, bytes).expect("the heap file is writable");
    let run = Command::new(&exe).arg(&heap).output().expect("the example runs");
    assert!(!run.status.success());
    assert!(text(&run).contains("opening the heap: not a valid snapshot"), "{}", text(&run));
}

#[test]
fn the_cpp_wrapper_tags_compacts_saves_and_loads() {
    let tmp = TempDir::new("cpp-snapshot");
    let exe = tmp.0.join("snapshot");
    build_example("c++", "c++17", "examples/cpp/snapshot.cpp", &exe);
    let run = Command::new(&exe).output().expect("the example runs");
    let out = text(&run);
    assert!(run.status.success(), "the example failed:\n{out}");
    assert!(out.contains("level 1 freed: 4 allocations"), "{out}");
    assert!(out.contains("compacted: 400 units moved, level 2 intact, largest free block 624"), "{out}");
    assert!(out.contains("400 in the original, 400 in the copy"), "{out}");
    assert!(out.contains("a damaged snapshot: not a valid snapshot"), "{out}");
}
