//! `memalloc map`: the sample trace's map at its peak has known extents; a snapshot made
//! here draws its tags and stays small when it has many extents; bad inputs are errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use memalloc::{MemoryAllocator, Options, Policy};

/// Runs `memalloc` with `args`: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_memalloc")).args(args).output().expect("memalloc runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("map-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `memalloc map` with `args` writing `name` in the test's directory: the SVG.
fn map(test: &str, args: &[&str]) -> String {
    let out = out_dir(test).join("map.svg");
    let (code, stdout, stderr) = run(&[&["map", "--out", out.to_str().unwrap()][..], args].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&format!("wrote {}", out.display())), "{stdout}");
    std::fs::read_to_string(&out).unwrap()
}

/// The `(class, start, size)` of every extent rectangle.
fn rects(svg: &str) -> Vec<(String, usize, usize)> {
    let attr = |line: &str, name: &str| -> Option<String> {
        let at = line.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(line[at..].split('"').next()?.to_string())
    };
    svg.lines()
        .filter(|l| l.starts_with("<rect") && l.contains("data-start"))
        .map(|l| {
            (
                attr(l, "class").unwrap(),
                attr(l, "data-start").unwrap().parse().unwrap(),
                attr(l, "data-size").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_sample_at_its_peak_has_the_extents_worked_by_hand() {
    // First fit after call 5 (the peak; see tests/replay.rs): 24 at 0, the calloc block at
    // 144, the 64-aligned block at 192, the realloc'd block at 208, 16-unit footprints.
    let svg = map("peak", &[&data("sample.trace")]);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    let expected = [
        ("allocated", 0, 24),
        ("padding", 24, 8),
        ("free", 32, 112),
        ("allocated", 144, 32),
        ("free", 176, 16),
        ("allocated", 192, 10),
        ("padding", 202, 6),
        ("allocated", 208, 200),
        ("padding", 408, 8),
    ];
    let expected: Vec<(String, usize, usize)> = expected.iter().map(|&(k, s, n)| (k.to_string(), s, n)).collect();
    assert_eq!(rects(&svg), expected);
    assert!(svg.contains("after call 5 of 12 (the peak of live bytes), policy first-fit"), "{svg}");
    assert!(svg.contains("largest free: 32+112"), "{svg}");
    assert!(
        svg.contains(
            "fragmentation 0.125 = 1 - largest 112 / free 128 below the top 416 (2 holes); \
             above it, 1099511627360 units free in one block (not drawn)"
        ),
        "{svg}"
    );
    // The row's first address and the offset ticks.
    assert!(svg.contains(r#"text-anchor="end">0</text>"#), "{svg}");
    assert!(svg.contains(">+208</text>"), "{svg}");
}

#[test]
fn a_step_and_a_policy_choose_the_heap() {
    // After call 2 under best fit: 24 at 0 and 100 at 32, nothing free below the top.
    let svg = map("step", &[&data("sample.trace"), "--step", "2", "--policy", "best-fit"]);
    let kinds: Vec<(String, usize, usize)> = rects(&svg);
    assert_eq!(
        kinds,
        [("allocated", 0, 24), ("padding", 24, 8), ("allocated", 32, 100), ("padding", 132, 12)].map(|(k, s, n)| (
            k.to_string(),
            s,
            n
        ))
    );
    assert!(svg.contains("after call 2 of 12, policy best-fit"), "{svg}");
    assert!(svg.contains("fragmentation 0.000"), "{svg}");
    assert!(!svg.contains("largest free:"), "{svg}");
}

#[test]
fn the_empty_heap_shows_its_first_units() {
    let svg = map("empty", &[&data("sample.trace"), "--step", "0"]);
    assert_eq!(rects(&svg), [("free".to_string(), 0, 1 << 16)]);
    assert!(svg.contains("units [0, 65536) of capacity 1099511627776, 65536 units per row, 1 extent<"), "{svg}");
    assert!(svg.contains("fragmentation 0.000 = 1 - largest 0 / free 0 below the top 0 (0 holes)"), "{svg}");
}

#[test]
fn a_snapshot_draws_its_tags() {
    let dir = out_dir("snapshot");
    let mut heap = MemoryAllocator::with_options(Options::new(1000).policy(Policy::BestFit)).unwrap();
    let a = heap.allocate(100).unwrap();
    let b = heap.allocate(200).unwrap();
    let c = heap.allocate(50).unwrap();
    heap.set_tag(b, 7).unwrap();
    heap.free(a, 100).unwrap();
    let _ = c;
    let snapshot = dir.join("heap.snap");
    std::fs::write(&snapshot, heap.save()).unwrap();
    let svg = map("snapshot-map", &["--snapshot", snapshot.to_str().unwrap()]);
    assert_eq!(
        rects(&svg),
        [("free", 0, 100), ("allocated tagged", 100, 200), ("allocated", 300, 50), ("free", 350, 650)]
            .map(|(k, s, n)| (k.to_string(), s, n))
    );
    // The tagged block takes a shade of its own, not the untagged colour.
    let fill = |class: &str| {
        let line = svg.lines().find(|l| l.contains(&format!("class=\"{class}\""))).unwrap();
        line.split("fill=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
    };
    assert_ne!(fill("allocated tagged"), fill("allocated"));
    assert!(svg.contains("snapshot heap.snap, policy best-fit"), "{svg}");
    // The whole capacity is drawn (small): free 100 below the top 350, one hole.
    assert!(svg.contains("units [0, 1000) of capacity 1000"), "{svg}");
    assert!(svg.contains("fragmentation 0.000 = 1 - largest 100 / free 100 below the top 350 (1 hole)"), "{svg}");
    assert!(svg.contains("largest free: 0+100"), "{svg}");
}

#[test]
fn many_extents_are_laid_out_in_rows_and_merged() {
    // 100000 allocations of 1 to 3 units with every other one freed: 100000 extents.
    let dir = out_dir("many");
    let mut heap = MemoryAllocator::with_options(Options::new(1 << 20)).unwrap();
    let blocks: Vec<(usize, usize)> = (0..100_000).map(|i| (heap.allocate(1 + i % 3).unwrap(), 1 + i % 3)).collect();
    for &(addr, size) in blocks.iter().step_by(2) {
        heap.free(addr, size).unwrap();
    }
    heap.set_tag(blocks[1].0, 3).unwrap();
    let snapshot = dir.join("many.snap");
    std::fs::write(&snapshot, heap.save()).unwrap();
    let svg = map("many-map", &["--snapshot", snapshot.to_str().unwrap()]);
    assert!(svg.len() < 3 << 20, "{} bytes", svg.len());
    let rects = rects(&svg);
    assert!(rects.len() < 20_000, "{} rectangles", rects.len());
    assert!(svg.contains("data-merged="), "narrow extents are merged");
    assert!(svg.contains("extents narrower than"), "the caption says so");
    // Several rows, each labelled with its first address.
    assert!(svg.matches("class=\"row\"").count() > 1);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = out_dir("bad");
    let out = dir.join("x.svg");
    let out = out.to_str().unwrap();
    let (code, _, stderr) = run(&["map", "--out", out, &data("no-such.trace")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot open") && stderr.contains("no-such.trace"), "{stderr}");
    let (code, _, stderr) = run(&["map", "--out", out, &data("sample.trace"), "--step", "13"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--step 13 is past the end: process 4242 has 12 heap calls"), "{stderr}");
    let (code, _, stderr) = run(&["map", "--out", out, &data("sample.trace"), "--step", "x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--step"), "{stderr}");
    let (code, _, stderr) = run(&["map", "--out", out, &data("bad_number.trace")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bad_number.trace"), "{stderr}");
    let bad = dir.join("bad.snap");
    std::fs::write(&bad, b"not a snapshot").unwrap();
    let (code, _, stderr) = run(&["map", "--out", out, "--snapshot", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bad.snap: not a snapshot memalloc can load"), "{stderr}");
    let (code, _, stderr) = run(&["map", "--out", out, "--snapshot", dir.join("none.snap").to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
    // A snapshot with replay options, or neither source: a bad command line.
    let (code, _, _) = run(&["map", "--snapshot", bad.to_str().unwrap(), "--step", "1"]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["map"]);
    assert_eq!(code, 2);
    assert!(!Path::new(out).exists(), "nothing written on errors");
}
