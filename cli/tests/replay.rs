//! `memalloc replay`: the sample trace gives known counts under every policy; each broken
//! trace gives a non-zero exit and a message naming its line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use memalloc::Policy;
use serde_json::Value;

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
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `replay --json` of `trace` with `extra` arguments: the exit code and the report.
fn replay_json(trace: &str, test: &str, extra: &[&str]) -> (i32, Value) {
    let out = out_dir(test);
    let trace = data(trace);
    let (code, stdout, stderr) =
        run(&[&["replay", &trace, "--json", "--out", out.to_str().unwrap()][..], extra].concat());
    assert!(code == 0 || code == 3, "exit {code}: {stderr}");
    (code, serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")))
}

#[test]
fn the_sample_replays_under_every_policy_without_failure() {
    let (code, report) = replay_json("sample.trace", "sample", &[]);
    assert_eq!(code, 0);
    assert_eq!((report["pid"].as_u64(), report["ppid"].as_u64()), (Some(4242), Some(1)));
    assert_eq!(report["calls"], 12);
    assert_eq!(report["failed_in_trace"], 1);
    assert_eq!(report["forks"], 1);
    assert_eq!(report["capacity"], 1u64 << 40);
    assert_eq!(report["min_alignment"], 16);
    let policies = report["policies"].as_array().unwrap();
    assert_eq!(
        policies.iter().map(|p| p["policy"].as_str().unwrap()).collect::<Vec<_>>(),
        Policy::ALL.map(Policy::name)
    );
    for p in policies {
        assert_eq!(p["failed"], 0, "{p}");
        assert_eq!(p["first_failure"], Value::Null, "{p}");
        assert_eq!(p["trace_errors"], 0, "{p}");
        // 24 + 200 (the realloc'd block) + 32 + 10 live after call 5.
        assert_eq!(p["peak_allocated"], 266, "{p}");
        assert!(p["peak_end"].as_u64().unwrap() >= 266, "{p}");
        // A sample before the first call and after each of the 12.
        assert_eq!(p["fragmentation"].as_array().unwrap().len(), 13, "{p}");
        assert!(p["replay_ns"].as_u64().unwrap() > 0);
    }
    // First fit, worked by hand: the realloc of call 5 moves the block to 208, ending at 408;
    // then the free space below the top is [32, 144) and [176, 192): 1 - 112/128.
    let first_fit = &policies[0];
    assert_eq!(first_fit["peak_end"], 408);
    assert_eq!(first_fit["max_fragmentation"], 0.125);
    assert_eq!(first_fit["final_fragmentation"], 0.0);
    // At the peak (after call 5) a full compaction slides the calloc block from 144 to 32,
    // the 64-aligned block from 192 to 64 and the realloc'd one from 208 to 80 (16-aligned):
    // 32 + 10 + 200 units in 3 moves; the top falls from 416 to 80 + 208.
    let peak = &first_fit["at_peak"];
    assert_eq!((peak["call"].as_u64(), peak["fragmentation"].as_f64()), (Some(5), Some(0.125)), "{peak}");
    assert_eq!((peak["top"].as_u64(), peak["compacted_top"].as_u64()), (Some(416), Some(288)), "{peak}");
    assert_eq!((peak["units_moved"].as_u64(), peak["moves"].as_u64()), (Some(242), Some(3)), "{peak}");
    assert_eq!(peak["compacted_fragmentation"], 0.0, "{peak}");
    let plot = PathBuf::from(report["plot"].as_str().unwrap());
    assert!(std::fs::read_to_string(plot).unwrap().starts_with("<svg"));
}

#[test]
fn a_small_capacity_fails_first_at_the_realloc() {
    let (code, report) = replay_json("sample.trace", "small", &["--capacity", "256"]);
    assert_eq!(code, 0, "failures in the replay are results, not errors");
    for p in report["policies"].as_array().unwrap() {
        // Calls 1-4 take 192 units; call 5 asks for 208 more while 64 are free.
        assert_eq!(p["failed"], 1, "{p}");
        assert_eq!(p["first_failure"]["call"], 5, "{p}");
        assert_eq!(p["first_failure"]["line"], 8, "{p}");
        assert_eq!(p["first_failure"]["event"], "r 32 200 208", "{p}");
        // The failed realloc keeps its old block, which call 11 frees: no trace error.
        assert_eq!(p["trace_errors"], 0, "{p}");
        assert_eq!(p["peak_allocated"], 166, "{p}");
    }
}

#[test]
fn the_text_report_has_a_row_per_policy() {
    let out = out_dir("text");
    let (code, stdout, stderr) =
        run(&["replay", &data("sample.trace"), "--capacity", "256", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("process 4242 (parent 1), 12 heap calls (1 failed in the trace, skipped), 1 fork mark"),
        "{stdout}"
    );
    for policy in Policy::ALL {
        let row =
            stdout.lines().find(|l| l.starts_with(policy.name())).unwrap_or_else(|| panic!("{policy}:\n{stdout}"));
        assert!(row.contains("call 5 (line 8)"), "{row}");
        // And a row in the table of the peak and its compaction.
        assert_eq!(stdout.lines().filter(|l| l.starts_with(policy.name())).count(), 2, "{stdout}");
    }
    assert!(stdout.contains("at the peak of live bytes, and after a full compaction there"), "{stdout}");
    assert!(out.join("fragmentation.svg").exists());
}

#[test]
fn one_policy_can_be_chosen_and_stdin_read() {
    let out = out_dir("stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_memalloc"))
        .args(["replay", "-", "--policy", "buddy", "--json", "--out", out.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(data("sample.trace")).unwrap()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["policies"].as_array().unwrap().len(), 1);
    assert_eq!(report["policies"][0]["policy"], "buddy");
    assert_eq!(report["calls"], 12);
}

#[test]
fn broken_traces_name_their_line() {
    let cases = [
        ("bad_number.trace", "line 3: bad size '12x': not a decimal number"),
        ("unknown_op.trace", "line 4: unknown operation 'x'"),
        ("truncated.trace", "line 4: `r` (realloc) takes 3 fields (old address, size, address), found 2"),
    ];
    for (file, message) in cases {
        let (code, stdout, stderr) = run(&["replay", &data(file), "--out", out_dir(file).to_str().unwrap()]);
        assert_eq!(code, 1, "{file}: {stderr}");
        assert!(stdout.is_empty(), "{file}: no report: {stdout}");
        assert!(stderr.contains(file) && stderr.contains(message), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_free_of_an_unknown_address_is_counted_and_exits_3() {
    let (code, report) = replay_json("unknown_free.trace", "unknown-free", &[]);
    assert_eq!(code, 3);
    for p in report["policies"].as_array().unwrap() {
        assert_eq!(p["trace_errors"], 1, "{p}");
        assert_eq!(p["errors"][0]["line"], 4, "{p}");
        assert_eq!(p["errors"][0]["message"], "free of address 4096, which is not live");
        // The replay went on after the error: the last malloc and free ran.
        assert_eq!(p["failed"], 0);
    }
    let (code, stdout, stderr) =
        run(&["replay", &data("unknown_free.trace"), "--out", out_dir("unknown-free-text").to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stdout.contains("line 4: free of address 4096, which is not live"), "{stdout}");
    assert!(stderr.contains("the trace is inconsistent (1 error); first: line 4"), "{stderr}");
}

#[test]
fn the_process_is_chosen_with_pid() {
    let (code, report) = replay_json("two_processes.trace", "pid-default", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["pid"], 100);
    assert_eq!(report["calls"], 4);
    assert_eq!(report["processes"].as_array().unwrap().len(), 2);
    assert_eq!(report["forked_child"], false);
    // The child frees a block it inherited through the fork: counted, not an error.
    let (code, report) = replay_json("two_processes.trace", "pid-child", &["--pid", "101", "--policy", "first-fit"]);
    assert_eq!(code, 0);
    assert_eq!(
        (report["pid"].as_u64(), report["ppid"].as_u64(), report["calls"].as_u64()),
        (Some(101), Some(100), Some(2))
    );
    assert_eq!(report["forked_child"], true);
    let child = &report["policies"][0];
    assert_eq!((child["inherited"].as_u64(), child["trace_errors"].as_u64()), (Some(1), Some(0)));
    let (code, _, stderr) = run(&["replay", &data("two_processes.trace"), "--pid", "7"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no process 7 in the trace (processes: 100, 101)"), "{stderr}");
}

/// `exec` keeps the pid: each `S` line starts a new process image with an empty heap, so
/// the second image may hand out offset 0 again while the first image's block there was
/// never freed.
#[test]
fn an_exec_starts_a_new_image_of_the_same_process() {
    let (code, report) = replay_json("exec_image.trace", "exec", &["--policy", "first-fit"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!((report["pid"].as_u64(), report["calls"].as_u64()), (Some(300), Some(3)));
    assert_eq!(report["processes"].as_array().unwrap().len(), 2, "two images of pid 300");
    assert_eq!(report["forked_child"], false);
    assert_eq!(report["policies"][0]["trace_errors"].as_u64(), Some(0));
}

#[test]
fn a_missing_file_is_an_error() {
    let (code, _, stderr) = run(&["replay", &data("no-such.trace")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot open") && stderr.contains("no-such.trace"), "{stderr}");
}

#[test]
fn bad_options_are_errors() {
    let (code, _, stderr) = run(&["replay", &data("sample.trace"), "--min-alignment", "3"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot create the allocator"), "{stderr}");
    let (code, _, stderr) = run(&["replay", &data("sample.trace"), "--capacity", "0"]);
    assert_eq!(code, 2, "a usage error, from clap");
    assert!(stderr.contains("the capacity must be positive"), "{stderr}");
    let (code, _, stderr) = run(&["replay", &data("sample.trace"), "--policy", "worst-fit"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown policy 'worst-fit'"), "{stderr}");
}

#[test]
fn help_describes_the_options() {
    let (code, stdout, _) = run(&["replay", "--help"]);
    assert_eq!(code, 0);
    for option in
        ["TRACE", "--policy", "--capacity", "--min-alignment", "--pid", "--samples", "--out", "--json", "Exit status"]
    {
        assert!(stdout.contains(option), "{option} missing in:\n{stdout}");
    }
}
