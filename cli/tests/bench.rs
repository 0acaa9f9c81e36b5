//! `memalloc bench`: a tiny run lists every policy, in JSON and as a table, and writes
//! non-empty SVG charts.

use std::path::{Path, PathBuf};
use std::process::Command;

use memalloc::Policy;
use serde_json::Value;

/// Runs `memalloc` with `args`: (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_memalloc")).args(args).output().expect("memalloc runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

/// A fresh directory for one test's charts.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The arguments of a run small enough for a debug build.
const TINY: [&str; 8] = ["--live", "100,1k", "--ops", "300", "--reps", "2", "--frag-capacity", "2^20"];

fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.len() > 1000 && text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", path.display());
}

#[test]
fn json_lists_every_policy_with_every_measurement() {
    let out = out_dir("json");
    let (ok, stdout, stderr) = run(&[&["bench", "--json", "--out", out.to_str().unwrap()][..], &TINY].concat());
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    assert_eq!(report["repetitions"], 2);
    assert_eq!(report["ops_per_repetition"], 300);
    assert_eq!(report["fragmentation_capacity"], 1 << 20);
    let policies = report["policies"].as_array().unwrap();
    let names: Vec<&str> = policies.iter().map(|p| p["policy"].as_str().unwrap()).collect();
    assert_eq!(names, Policy::ALL.map(Policy::name));
    for policy in policies {
        let churn = policy["churn"].as_array().unwrap();
        assert_eq!(churn.iter().map(|c| c["live"].as_u64().unwrap()).collect::<Vec<_>>(), [100, 1000]);
        for c in churn {
            assert!(c["ns_per_op"].as_f64().unwrap() > 0.0);
            assert_eq!(c["ns_per_op_repetitions"].as_array().unwrap().len(), 2);
        }
        let fill = policy["fill_at_first_failure"].as_f64().unwrap();
        assert!(fill > 0.3 && fill <= 1.0, "{policy}");
        assert_eq!(policy["fill_repetitions"].as_array().unwrap().len(), 2);
    }
    let plots: Vec<PathBuf> =
        report["plots"].as_array().unwrap().iter().map(|p| PathBuf::from(p.as_str().unwrap())).collect();
    assert_eq!(plots, [out.join("churn_ns_per_op.svg"), out.join("fill_at_first_failure.svg")]);
    for plot in &plots {
        assert_svg(plot);
    }
}

#[test]
fn the_table_says_median_and_has_a_row_per_policy() {
    let out = out_dir("table");
    let (ok, stdout, stderr) = run(&[&["bench", "--out", out.to_str().unwrap()][..], &TINY].concat());
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("memalloc bench: median of 2 repetitions"), "{stdout}");
    let header = stdout.lines().find(|l| l.starts_with("policy")).expect("a header row");
    assert!(
        header.contains("100 live") && header.contains("1k live") && header.contains("fill at 1st failure"),
        "{header}"
    );
    for policy in Policy::ALL {
        assert!(stdout.lines().any(|l| l.starts_with(policy.name())), "no row for {policy} in:\n{stdout}");
    }
    assert_svg(&out.join("churn_ns_per_op.svg"));
    assert_svg(&out.join("fill_at_first_failure.svg"));
}

#[test]
fn one_policy_can_be_chosen() {
    let out = out_dir("one");
    let (ok, stdout, stderr) =
        run(&[&["bench", "--json", "--policy", "best-fit", "--out", out.to_str().unwrap()][..], &TINY].concat());
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["policies"].as_array().unwrap().len(), 1);
    assert_eq!(report["policies"][0]["policy"], "best-fit");
    assert_svg(&out.join("fill_at_first_failure.svg"));
}

#[test]
fn bad_arguments_are_rejected() {
    let (ok, _, stderr) = run(&["bench", "--live", "1k", "--max-live", "1M"]);
    assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
    let (ok, _, stderr) = run(&["bench", "--live", "ten"]);
    assert!(!ok && stderr.contains("'ten' is not a count"), "{stderr}");
    let (ok, _, stderr) = run(&["bench", "--policy", "worst-fit"]);
    assert!(!ok && stderr.contains("unknown policy 'worst-fit'"), "{stderr}");
    let (ok, _, stderr) = run(&["bench", "--frag-capacity", "0"]);
    assert!(!ok && stderr.contains("the capacity must be positive"), "{stderr}");
    let (ok, _, stderr) = run(&["bench", "--reps", "0"]);
    assert!(!ok && stderr.contains("--reps"), "{stderr}");
}

#[test]
fn help_describes_every_command_and_option() {
    let (ok, stdout, _) = run(&["--help"]);
    assert!(ok);
    for command in ["demo", "bench", "replay"] {
        assert!(stdout.contains(command), "{stdout}");
    }
    let (ok, stdout, _) = run(&["bench", "--help"]);
    assert!(ok);
    for option in
        ["--live", "--max-live", "--ops", "--reps", "--seed", "--frag-capacity", "--policy", "--out", "--json"]
    {
        assert!(stdout.contains(option), "{option} missing in:\n{stdout}");
    }
}

#[test]
fn a_live_count_of_zero_is_rejected() {
    for args in [&["bench", "--live", "0"][..], &["bench", "--live", "1k,0"], &["bench", "--max-live", "0"]] {
        let (ok, stdout, stderr) = run(args);
        assert!(!ok && stdout.is_empty(), "{args:?} was accepted");
        assert!(stderr.contains("a live-block count must be positive"), "{args:?}: {stderr}");
    }
}
