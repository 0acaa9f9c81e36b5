//! The malloc contract of `libmemalloc_preload.so` (docs/CONTRACT.md, "The preload library"): the C
//! cases of `contract.c` under every policy, bad pointers, fork while allocating, the
//! environment variables and the trace format (`docs/PRELOAD.md`).

mod support;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::process::ExitStatusExt;

use memalloc_core::Policy;
use support::{
    Mode, Outcome, TIMEOUT, assert_mode, assert_preload_was_active, clean_command, compile_c, library, preload,
    preload_in, run, scratch,
};

#[test]
fn contract_holds_under_every_policy_in_both_modes() {
    let exe = compile_c("contract");
    for mode in Mode::ALL {
        for policy in Policy::ALL {
            let outcome = run(preload_in(&mut clean_command(&exe), policy, mode), TIMEOUT);
            let stdout = outcome.stdout_text();
            assert!(outcome.status.success(), "contract.c under {policy} ({mode:?}):\n{stdout}\n{}", outcome.stderr);
            assert!(
                stdout.trim_end().ends_with(" passed, 0 failed"),
                "contract.c under {policy} ({mode:?}):\n{stdout}"
            );
            assert_preload_was_active("contract.c", policy, &outcome);
            assert_mode("contract.c", mode, &outcome);
        }
    }
}

/// Runs `bad_free CASE` and checks that it died of SIGABRT with one line on stderr naming
/// the pointer the program printed.
fn assert_aborts_naming_the_pointer(case: &str, policy: Policy, mode: Mode, expected: &str) {
    let outcome = run(
        mode.apply(
            clean_command(compile_c("bad_free"))
                .arg(case)
                .env("LD_PRELOAD", library())
                .env("MEMALLOC_POLICY", policy.name()),
        ),
        TIMEOUT,
    );
    assert_eq!(
        outcome.status.signal(),
        Some(libc::SIGABRT),
        "{case} under {policy}: {:?}\n{}",
        outcome.status,
        outcome.stderr
    );
    let pointer = outcome.stdout_text().trim().to_owned();
    assert!(pointer.starts_with("0x"), "{case}: the program printed no pointer: {pointer:?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{case} under {policy}: expected one line on stderr, got:\n{}", outcome.stderr);
    assert!(lines[0].starts_with("memalloc: "), "{case}: {}", lines[0]);
    assert!(lines[0].contains(&pointer), "{case}: the line does not name {pointer}: {}", lines[0]);
    assert!(lines[0].contains(expected), "{case}: the line does not say {expected:?}: {}", lines[0]);
}

#[test]
fn bad_pointers_abort_with_one_line_naming_them() {
    for mode in Mode::ALL {
        for policy in Policy::ALL {
            let check = |case, expected| assert_aborts_naming_the_pointer(case, policy, mode, expected);
            check("double-free", "free(): invalid or double free");
            check("interior-free", "free(): invalid or double free");
            check("foreign-free", "not from this heap");
            check("foreign-realloc", "realloc(): invalid pointer");
            check("freed-realloc", "realloc(): invalid pointer");
            check("freed-usable-size", "malloc_usable_size(): invalid pointer");
            // A small block (in the fast mode a slab's, waiting in a thread cache after its
            // first free: this thread's, or another live thread's) and a large one.
            check("small-double-free", "double free");
            check("small-double-free-other-thread", "double free");
            check("small-interior-free", "free(): invalid");
            check("small-never-allocated", "free(): invalid");
            check("small-interior-realloc", "realloc(): invalid pointer");
            check("small-interior-usable-size", "malloc_usable_size(): invalid pointer");
            check("large-double-free", "double free");
            check("large-interior-free", "free(): invalid");
        }
    }
}

#[test]
fn fork_while_other_threads_allocate() {
    let exe = compile_c("fork_stress");
    for mode in Mode::ALL {
        for policy in Policy::ALL {
            // A hang here (TIMEOUT) is a deadlock around fork.
            let outcome = run(preload_in(&mut clean_command(&exe), policy, mode), TIMEOUT);
            assert!(
                outcome.status.success(),
                "fork_stress under {policy} ({mode:?}): {:?}\n{}",
                outcome.status,
                outcome.stderr
            );
            assert_eq!(outcome.stdout_text(), "ok\n", "fork_stress under {policy} ({mode:?})");
            assert_preload_was_active("fork_stress", policy, &outcome);
        }
    }
}

/// `echo out` (coreutils: it exits with `exit`, after closing stderr) with the preload and
/// `vars`.
fn echo_with(vars: &[(&str, &str)]) -> Outcome {
    let mut cmd = clean_command("echo");
    cmd.arg("out").env("LD_PRELOAD", library());
    for (key, value) in vars {
        cmd.env(key, value);
    }
    run(&mut cmd, TIMEOUT)
}

#[test]
fn unknown_policy_warns_once_and_uses_the_default() {
    let outcome = echo_with(&[("MEMALLOC_POLICY", "no-such-policy"), ("MEMALLOC_STATS", "1")]);
    assert!(outcome.status.success());
    assert_eq!(outcome.stdout_text(), "out\n", "stdout is the program's alone");
    let warnings: Vec<&str> = outcome.stderr.lines().filter(|l| l.starts_with("memalloc: ")).collect();
    assert_eq!(warnings.len(), 1, "{}", outcome.stderr);
    assert!(warnings[0].contains("no-such-policy"), "{}", warnings[0]);
    for policy in Policy::ALL {
        assert!(warnings[0].contains(policy.name()), "the warning lists {policy}: {}", warnings[0]);
    }
    assert!(outcome.stderr.contains(&format!("policy {};", Policy::default())), "{}", outcome.stderr);
}

#[test]
fn bad_stats_and_trace_values_warn_once() {
    let outcome = echo_with(&[("MEMALLOC_STATS", "yes")]);
    assert!(outcome.status.success());
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("MEMALLOC_STATS"), "{}", outcome.stderr);

    let outcome = echo_with(&[("MEMALLOC_TRACE", "/nonexistent-dir/trace")]);
    assert!(outcome.status.success());
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("MEMALLOC_TRACE"), "{}", outcome.stderr);

    for (name, value) in [("MEMALLOC_FRONT", "maybe"), ("MEMALLOC_ARENAS", "0"), ("MEMALLOC_ARENAS", "17")] {
        let outcome = echo_with(&[(name, value)]);
        assert!(outcome.status.success());
        assert_eq!(outcome.stderr.lines().count(), 1, "{name}={value}: {}", outcome.stderr);
        assert!(outcome.stderr.contains(name), "{}", outcome.stderr);
    }
}

#[test]
fn stats_summary_goes_to_stderr_only() {
    let outcome = echo_with(&[("MEMALLOC_STATS", "1")]);
    assert_eq!(outcome.stdout_text(), "out\n");
    let summary: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(summary.len(), 4, "{}", outcome.stderr);
    for (line, words) in summary.iter().zip([
        &["policy first-fit;", "calls: malloc ", "free ", "posix_memalign ", "malloc_usable_size ", "failed"][..],
        &["in use now ", "peak in use "],
        &["mapped now ", "peak mapped ", "returned to the system ", "metadata ", "peak RSS "],
        &["heap top ", "free below it ", "largest ", "fragmentation "],
    ]) {
        assert!(line.starts_with("memalloc["), "{line}");
        for word in words {
            assert!(line.contains(word), "{line:?} lacks {word:?}");
        }
    }
}

/// Checks a trace (docs/PRELOAD.md) line by line and replays each process's stream against a set
/// of live blocks: every freed or resized block is live, no live block is handed out twice.
/// A forked child (its parent's stream is in the trace) may also free or resize blocks it
/// inherited, until an `S` line (it called `exec`) empties its heap. Returns the number of
/// lines per operation.
fn check_trace(text: &str) -> HashMap<char, usize> {
    let mut counts = HashMap::new();
    let mut ppids: HashMap<u64, u64> = HashMap::new();
    let mut streams: HashMap<u64, Vec<(usize, Vec<&str>)>> = HashMap::new();
    let mut pid = None;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            // A comment: the preload names its mode at the start of a process image.
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let op = fields[0].chars().next().unwrap_or('?');
        let arity = match op {
            'F' | 'S' => 0,
            'f' => 1,
            'P' | 'm' => 2,
            'c' | 'a' | 'r' => 3,
            _ => panic!("line {}: unknown operation in {line:?}", n + 1),
        };
        assert_eq!(fields.len(), arity + 1, "line {}: {line:?}", n + 1);
        for field in &fields[1..] {
            assert!(*field == "-" || field.parse::<u64>().is_ok(), "line {}: {line:?}", n + 1);
        }
        *counts.entry(op).or_insert(0) += 1;
        if op == 'P' {
            let (p, ppid) = (fields[1].parse().unwrap_or(0), fields[2].parse().unwrap_or(0));
            assert_eq!(*ppids.entry(p).or_insert(ppid), ppid, "line {}: process {p} changed parent", n + 1);
            pid = Some(p);
        } else {
            let p = pid.unwrap_or_else(|| panic!("line {}: a record before the first P line", n + 1));
            streams.entry(p).or_default().push((n + 1, fields));
        }
    }
    for (pid, records) in &streams {
        let mut forked = streams.contains_key(&ppids[pid]);
        let mut live: HashSet<u64> = HashSet::new();
        for (line, fields) in records {
            if fields[0] == "S" {
                // A new process image (the program started, or called exec): empty heap.
                live.clear();
                forked = false;
                continue;
            }
            let num = |k: usize| -> u64 { fields[k].parse().unwrap_or_else(|_| panic!("line {line}: {fields:?}")) };
            let addr = |k: usize| -> Option<u64> { (fields[k] != "-").then(|| num(k)) };
            let mut lose = |a: u64| {
                assert!(live.remove(&a) || forked, "line {line}: {a} is not live: {fields:?}");
            };
            match fields[0] {
                "m" | "c" | "a" => {
                    if let Some(a) = addr(fields.len() - 1) {
                        assert!(live.insert(a), "line {line}: {a} handed out while live: {fields:?}");
                    }
                }
                "f" => lose(num(1)),
                "r" => {
                    if let Some(new) = addr(3) {
                        lose(num(1));
                        assert!(live.insert(new), "line {line}: {new} handed out while live: {fields:?}");
                    }
                }
                _ => {}
            }
        }
    }
    counts
}

/// The core's trace reader (what `memalloc replay` uses) reads the whole trace.
fn assert_reader_accepts(text: &str) {
    let records = memalloc_core::trace::Reader::new(text.as_bytes()).collect::<Result<Vec<_>, _>>();
    let records = records.unwrap_or_else(|e| panic!("memalloc_core::trace::Reader rejects the trace: {e}"));
    let lines = text.lines().filter(|line| !line.starts_with('#')).count();
    assert_eq!(records.len(), lines, "one record per line but comments");
}

#[test]
fn trace_records_every_call_in_the_documented_format() {
    let dir = scratch("trace");
    let file = dir.join("calls-%p.trace");
    let exe = compile_c("contract");
    for mode in Mode::ALL {
        for policy in Policy::ALL {
            let mut cmd = clean_command(&exe);
            preload_in(&mut cmd, policy, mode).env("MEMALLOC_TRACE", &file);
            let outcome = run(&mut cmd, TIMEOUT);
            assert!(outcome.status.success(), "{}", outcome.stderr);
        }
    }
    let traces: Vec<_> = fs::read_dir(&dir).expect("the trace directory").map(|e| e.expect("entry").path()).collect();
    assert_eq!(traces.len(), 2 * Policy::ALL.len(), "one file per process (%p): {traces:?}");
    let mut modes = Vec::new();
    for path in traces {
        let text = fs::read_to_string(&path).expect("read the trace");
        let mode =
            text.lines().find_map(|line| line.strip_prefix("# memalloc mode ")).map(|rest| rest.split(',').next());
        modes.push(mode.flatten().unwrap_or_else(|| panic!("{}: no line naming the mode", path.display())).to_owned());
        let counts = check_trace(&text);
        assert_reader_accepts(&text);
        for op in ['P', 'm', 'f', 'c', 'r', 'a'] {
            assert!(counts.get(&op).copied().unwrap_or(0) > 0, "{}: no {op:?} line: {counts:?}", path.display());
        }
    }
    modes.sort();
    assert_eq!(
        modes,
        [["exact"; Policy::ALL.len()], ["fast"; Policy::ALL.len()]].concat(),
        "each trace names its mode"
    );
}

#[test]
fn trace_of_forking_processes_separates_them() {
    let dir = scratch("trace-fork");
    let file = dir.join("calls.trace");
    let mut cmd = clean_command(compile_c("fork_stress"));
    preload(&mut cmd, Policy::default()).env("MEMALLOC_TRACE", &file);
    let outcome = run(&mut cmd, TIMEOUT);
    assert!(outcome.status.success(), "{}", outcome.stderr);
    let text = fs::read_to_string(&file).expect("read the trace");
    let counts = check_trace(&text);
    assert_reader_accepts(&text);
    assert!(counts[&'F'] >= 60, "a fork mark per fork: {counts:?}");
    let pids = block_pids(&text);
    assert!(pids.len() > 30, "blocks from the children that exit(): {}", pids.len());
}

/// The pids of a trace's blocks (its `P` lines).
fn block_pids(text: &str) -> HashSet<&str> {
    text.lines().filter(|l| l.starts_with("P ")).map(|l| l.split(' ').nth(1).unwrap_or("")).collect()
}

/// Runs `trace_cases CASE` under the preload with `MEMALLOC_TRACE=trace` and returns the
/// outcome.
fn run_trace_case(case: &str, trace: &std::path::Path) -> Outcome {
    let mut cmd = clean_command(compile_c("trace_cases"));
    cmd.arg(case);
    preload(&mut cmd, Policy::default()).env("MEMALLOC_TRACE", trace);
    run(&mut cmd, TIMEOUT)
}

/// Runs `trace_cases CASE` with the trace going to `trace` (`%p` allowed), which must leave
/// exactly one file in its (fresh) directory; checks that file with [`check_trace`] and the
/// core's reader, and returns its text and its line counts.
fn traced_case(case: &str, trace: &std::path::Path) -> (String, HashMap<char, usize>) {
    let outcome = run_trace_case(case, trace);
    assert!(outcome.status.success(), "{case}: {:?}\n{}", outcome.status, outcome.stderr);
    let dir = trace.parent().expect("the trace's directory");
    let files: Vec<_> = fs::read_dir(dir).expect("the trace directory").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1, "{case}: one trace file: {files:?}");
    let text = fs::read_to_string(&files[0]).expect("read the trace");
    let counts = check_trace(&text);
    assert_reader_accepts(&text);
    (text, counts)
}

#[test]
fn a_parent_that_forks_then_execs_loses_nothing_of_its_trace() {
    let (text, counts) = traced_case("fork-exec", &scratch("trace-fork-exec").join("calls.trace"));
    // The parent's malloc(100) and fork mark were buffered when it called exec.
    assert!(text.lines().any(|l| l.starts_with("m 100 ")), "the parent's malloc is missing:\n{text}");
    assert_eq!(counts.get(&'F'), Some(&1), "{text}");
    assert!(text.lines().any(|l| l.starts_with("f ")), "the child's free is missing:\n{text}");
}

#[test]
fn an_exec_starts_a_new_process_image_in_the_trace() {
    // check_trace replays each image from an empty heap: without the second `S` line the
    // new image's first block would be "handed out while live".
    let (text, counts) = traced_case("exec-self", &scratch("trace-exec-self").join("calls.trace"));
    assert_eq!(counts.get(&'S'), Some(&2), "one S per process image:\n{}", &text[..text.len().min(2000)]);
    let pids = block_pids(&text);
    assert_eq!(pids.len(), 1, "exec keeps the pid: {pids:?}");
}

#[test]
fn with_percent_p_a_forked_child_writes_into_its_parents_file() {
    // The child's stream frees a block it inherited: only next to the parent's `F` line
    // can a replayer tell that this is no error, so the child keeps the parent's file
    // (`traced_case` checks that there is only the one file).
    let (text, counts) = traced_case("fork-child", &scratch("trace-fork-child").join("calls.%p.trace"));
    assert_eq!(counts.get(&'F'), Some(&1), "{text}");
    assert_eq!(block_pids(&text).len(), 2, "the parent's and the child's blocks: {text}");
}

#[test]
fn successful_calls_keep_errno_after_the_program_closed_the_trace_file() {
    let file = scratch("trace-closed").join("calls.trace");
    let outcome = run_trace_case("closed-fds", &file);
    assert!(outcome.status.success(), "{:?}\n{}\n{}", outcome.status, outcome.stdout_text(), outcome.stderr);
    assert_eq!(outcome.stdout_text(), "ok\n");
    assert!(outcome.stderr.contains("tracing stopped"), "one warning line: {}", outcome.stderr);
}
