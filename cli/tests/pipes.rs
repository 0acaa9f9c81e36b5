//! Every subcommand exits quietly when its reader goes away (`memalloc demo | head -1`),
//! like any Unix tool: no panic, no message, exit status 0.

use std::process::Command;

/// Runs `memalloc` with `args` and a standard output whose reading end is already closed,
/// so that its first write fails with a broken pipe: (success, stderr).
fn run_into_closed_pipe(args: &[&str]) -> (bool, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output =
        Command::new(env!("CARGO_BIN_EXE_memalloc")).args(args).stdout(writer).output().expect("memalloc runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into())
}

#[test]
fn every_subcommand_exits_quietly_on_a_closed_pipe() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pipe-tests");
    let out = out.to_str().expect("a UTF-8 path");
    let trace = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample.trace");
    let html = format!("{out}/replay.html");
    let map = format!("{out}/map.svg");
    let bench = ["bench", "-q", "--live", "100", "--ops", "100", "--reps", "1", "--frag-capacity", "2^16"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["demo"],
        vec!["demo", "--policy", "buddy"],
        [&bench[..], &["--out", out]].concat(),
        [&bench[..], &["--out", out, "--json"]].concat(),
        vec!["replay", trace, "--out", out],
        vec!["replay", trace, "--out", out, "--json"],
        vec!["replay", trace, "--out", out, "--html", &html],
        vec!["map", trace, "--out", &map],
        vec!["--help"],
        vec!["--version"],
    ];
    for args in cases {
        let (ok, stderr) = run_into_closed_pipe(&args);
        assert!(ok && stderr.is_empty(), "memalloc {args:?} on a closed pipe: success {ok}, stderr:\n{stderr}");
    }
}
