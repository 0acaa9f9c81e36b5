//! `memalloc demo` prints the worked example exactly as docs/REFERENCE-ALGORITHM.md gives it,
//! and replays it sensibly under every other policy.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_memalloc")).args(args).output().expect("memalloc runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn demo_prints_every_step_of_the_worked_example() {
    let (ok, stdout, _) = run(&["demo"]);
    assert!(ok);
    let expected = [
        "1. allocate(20)   -> 0      [Allocated(0-19)] [Free(20-99)]",
        "4. free(20, 30)   -> ok     [Allocated(0-19)] [Free(20-49)] [Allocated(50-89)] [Free(90-99)]",
        "5. allocate(25)   -> 20     [Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]",
        "7. free(20, 25)   -> ok     [Free(0-49)] [Allocated(50-89)] [Free(90-99)]",
        "free(50, 10) is rejected: the live allocation at this address has another size; the map is unchanged: true",
    ];
    for line in expected {
        assert!(stdout.lines().any(|l| l == line), "missing line {line:?} in:\n{stdout}");
    }
}

/// Under every policy the frees act on the addresses that policy returned: no free fails,
/// an allocation fails only when no free block can hold it, and the closing illegal call is
/// rejected without changing the map.
#[test]
fn demo_replays_the_example_on_each_policys_addresses() {
    for policy in memalloc::Policy::ALL {
        let (ok, stdout, stderr) = run(&["demo", "--policy", policy.name()]);
        assert!(ok, "{policy}: {stderr}");
        let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).collect();
        assert_eq!(steps.len(), 7, "{policy}:\n{stdout}");
        for line in steps {
            let (call, result) = line.split_once(" -> ").expect("a step line has a result");
            if call.contains("free(") {
                assert!(result.starts_with("ok ") || result.starts_with("skipped"), "{policy}: {line}");
            } else {
                assert!(!result.starts_with("error") || result.contains("no free block can hold"), "{policy}: {line}");
            }
        }
        assert!(
            stdout.contains(" is rejected: ") && stdout.contains("the map is unchanged: true"),
            "{policy}:\n{stdout}"
        );
    }
    // Buddy places the example elsewhere: its frees name its own addresses.
    let (_, stdout, _) = run(&["demo", "--policy", "buddy"]);
    assert!(stdout.lines().any(|l| l.starts_with("6. free(64, 20)   -> ok")), "{stdout}");
}

#[test]
fn demo_rejects_an_unknown_policy_with_the_known_ones() {
    let (ok, _, stderr) = run(&["demo", "--policy", "worst-fit"]);
    assert!(!ok);
    assert!(stderr.contains("unknown policy 'worst-fit'") && stderr.contains("first-fit"), "{stderr}");
}

#[test]
fn readme_shows_the_demo_output_verbatim() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = &readme[readme.find("`cargo run --release -- demo` prints:").expect("README shows the demo")..];
    let body = &after[after.find("```text\n").expect("a text block follows") + "```text\n".len()..];
    let shown = &body[..body.find("```").expect("the block is closed")];
    let (ok, stdout, _) = run(&["demo"]);
    assert!(ok);
    assert_eq!(shown, stdout, "README.md's demo output is stale");
}

#[test]
fn version_names_the_command() {
    let (ok, stdout, _) = run(&["--version"]);
    assert!(ok);
    assert_eq!(stdout, format!("memalloc {}\n", env!("CARGO_PKG_VERSION")));
}
