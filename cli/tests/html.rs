//! `memalloc replay --html`: the page is self-contained and bounded for long traces, and
//! in a real headless Chromium it runs without console errors and the slider (set through
//! `#step=K`) changes the maps. Without a `chromium` on the `PATH` the browser test says it
//! was skipped, unless `CI` is set: then it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `memalloc` with `args`: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_memalloc")).args(args).output().expect("memalloc runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `replay TRACE --html` into `dir`: the page's path and text.
fn page(trace: &str, dir: &Path, extra: &[&str]) -> (PathBuf, String) {
    let html = dir.join("replay.html");
    let out = dir.join("out");
    let args =
        [&["replay", trace, "--out", out.to_str().unwrap(), "--html", html.to_str().unwrap()][..], extra].concat();
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("wrote {}", html.display())), "{stdout}");
    let text = std::fs::read_to_string(&html).unwrap();
    (html, text)
}

/// The page loads nothing from elsewhere.
fn assert_self_contained(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    for outside in ["http://", "https://", " src=", "<link", "@import", "url("] {
        // The SVG namespace is a name, not a request.
        let stripped = page.replace("http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "");
        assert!(!stripped.contains(outside), "the page refers to something outside it: {outside}");
    }
}

#[test]
fn the_page_holds_the_chart_and_the_maps() {
    let dir = out_dir("sample");
    let trace = format!("{}/tests/data/sample.trace", env!("CARGO_MANIFEST_DIR"));
    let (_, page) = page(&trace, &dir, &[]);
    assert_self_contained(&page);
    assert!(page.contains("Fragmentation over time: sample.trace, pid 4242"), "the chart is inline");
    for (i, policy) in ["first-fit", "best-fit", "tlsf", "buddy"].iter().enumerate() {
        assert!(page.contains(&format!("<h2>{policy}</h2>")), "{policy}");
        assert!(page.contains(&format!("id=\"map-{i}\"")), "{policy}");
    }
    // First fit after call 5: the extents worked by hand in tests/replay.rs, up to the top.
    assert!(
        page.contains(
            r#"{"call":5,"fragmentation":0.125,"runs":[24,1,8,2,112,0,32,1,16,0,10,1,6,2,200,1,8,2],"top":416}"#
        ),
        "{page}"
    );
}

#[test]
fn a_long_trace_gives_a_bounded_page() {
    // 60000 calls: blocks of varied sizes, every third one freed, so the maps have many
    // extents.
    let dir = out_dir("long");
    let mut trace = String::from("P 1 0\n");
    let mut live = Vec::new();
    for i in 0..40_000usize {
        let addr = 0x10000 + i * 4096;
        trace.push_str(&format!("m {} {addr}\n", 16 + (i * 37) % 2000));
        live.push(addr);
        if i % 3 == 2 {
            let victim = live.remove((i * 7) % live.len());
            trace.push_str(&format!("f {victim}\n"));
        }
    }
    let path = dir.join("long.trace");
    std::fs::write(&path, trace).unwrap();
    let (_, page) = page(path.to_str().unwrap(), &dir, &["--samples", "1000"]);
    assert_self_contained(&page);
    assert!(page.len() < 4 << 20, "{} bytes", page.len());
    // At most 100 maps per policy (and the one before the first call).
    let maps = page.matches("\"call\":").count();
    assert!(maps <= 4 * 102, "{maps} maps");
    assert!(maps >= 4 * 50, "{maps} maps");
}

/// The `chromium` on the `PATH`, if any.
fn chromium() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

/// The page at `url` as headless Chromium leaves its DOM: (the DOM, Chromium's log).
fn dump_dom(chromium: &Path, profile: &Path, url: &str) -> (String, String) {
    let output = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "chromium failed: {stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// The text of the element with `id` in a dumped DOM.
fn text_of(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let from = start + dom[start..].find('>').unwrap() + 1;
    dom[from..from + dom[from..].find('<').unwrap()].to_string()
}

#[test]
fn in_chromium_the_slider_changes_the_maps_without_console_errors() {
    let Some(chromium) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but chromium is not installed");
        println!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = out_dir("chromium");
    let trace = format!("{}/tests/data/sample.trace", env!("CARGO_MANIFEST_DIR"));
    let (html, _) = page(&trace, &dir, &[]);
    let url = format!("file://{}", html.display());
    let profile = dir.join("profile");
    let mut seen = Vec::new();
    for step in [0, 2, 5] {
        let (dom, log) = dump_dom(&chromium, &profile, &format!("{url}#step={step}"));
        for line in log.lines() {
            assert!(
                !(line.contains("CONSOLE") || line.contains("Uncaught")),
                "console output at step {step}: {line}\n{log}"
            );
        }
        assert!(dom.contains("data-ready=\"1\""), "the script ran to its end at step {step}: {log}");
        assert!(dom.contains(&format!("data-step=\"{step}\"")), "the fragment chose step {step}");
        assert_eq!(text_of(&dom, "call"), step.to_string());
        let extents: Vec<String> = (0..4).map(|i| text_of(&dom, &format!("extents-{i}"))).collect();
        let rects = dom.matches("<rect").count();
        seen.push((extents, rects, text_of(&dom, "frag-0")));
    }
    // The empty heap draws no runs; after call 2 first fit has 4 (two blocks and their
    // padding), after call 5 the 9 of the map at the peak, fragmentation 0.125.
    assert_eq!(seen[0].0, ["0", "0", "0", "0"]);
    assert_eq!(seen[1].0[0], "4");
    assert_eq!(seen[2].0[0], "9");
    assert_eq!(seen[2].2, "0.125");
    assert!(seen[0].1 < seen[1].1 && seen[1].1 < seen[2].1, "more rectangles as the heap fills: {seen:?}");
}
