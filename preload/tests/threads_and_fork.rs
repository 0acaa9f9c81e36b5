//! Threads, `fork` and address-space limits under `libmemalloc_preload.so` (issue 12): the
//! shapes of the glibc malloc tests that found bugs in the preload (`tst-mallocfork2`,
//! `tst-malloc-fork-deadlock`, `tst-malloc-thread-fail`), threads that come and go, and a
//! thread stress test. Each runs in both modes (fast and exact); where a run is cheap, under
//! every policy, otherwise with the policies taking turns. The C programs are beside this
//! file; each prints "ok" when all is well. A run that hangs (a deadlock) fails the test
//! when its timeout runs out.
//!
//! Bad pointers (a double free of a block in a thread cache, interior pointers) are cases
//! of `bad_free.c`, checked by `contract.rs`.

mod support;

use std::time::{Duration, Instant};

use memalloc_core::Policy;
use support::{Mode, Outcome, assert_mode, assert_preload_was_active, clean_command, compile_c, preload_in, run};

/// The longest a run of these programs may take: each needs a few seconds at most, so
/// more is a hang.
const HANG: Duration = Duration::from_secs(60);

/// Runs `program args` under the preload with `policy` in `mode` and asserts that it exited
/// 0 with "ok" as its first line, the preload active in that mode; prints how long it took.
fn run_ok(program: &str, args: &[&str], policy: Policy, mode: Mode) -> Outcome {
    let what = format!("{program} {} under {policy} in the {} mode", args.join(" "), mode.name());
    let mut cmd = clean_command(compile_c(program));
    cmd.args(args);
    let started = Instant::now();
    let outcome = run(preload_in(&mut cmd, policy, mode), HANG);
    let stdout = outcome.stdout_text();
    assert!(
        outcome.status.success() && stdout.starts_with("ok\n"),
        "{what}: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        outcome.status,
        outcome.stderr
    );
    assert_preload_was_active(&what, policy, &outcome);
    assert_mode(&what, mode, &outcome);
    println!("{what}: {:.1?}", started.elapsed());
    outcome
}

/// The number before `unit` after `label` in the text, e.g. `number(s, "in use now ", " B")`.
fn number(text: &str, label: &str, unit: &str) -> u64 {
    let rest = text.split(label).nth(1).unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    let digits = rest.split(unit).next().unwrap_or("");
    digits.trim().parse().unwrap_or_else(|_| panic!("no number after {label:?} in:\n{text}"))
}

/// `fork` in a SIGUSR1 handler that interrupted `malloc`, `realloc` or `free` (glibc's
/// `tst-mallocfork2`), 1000 times: signals sent by another process (the program stays
/// single-threaded, as in glibc's test), by another thread, and, with "nested", while the
/// main thread's own `fork` runs the fork handlers. A hang is the fork handler waiting for
/// a lock that the interrupted thread holds, or a lock left taken.
#[test]
fn fork_in_a_signal_handler_that_interrupted_malloc() {
    let mut turn = 0;
    for mode in Mode::ALL {
        for senders in ["process", "thread", "nested"] {
            let policy = Policy::ALL[turn % Policy::ALL.len()];
            turn += 1;
            run_ok("fork_in_signal", &[senders, "1000"], policy, mode);
        }
    }
}

/// `fork` while threads hold stdio locks and allocate (`getline`, `fprintf` to memory
/// streams) and another calls `fflush(NULL)` (glibc's `tst-malloc-fork-deadlock`, glibc bug
/// 19431): 1.5 s of forking per run, enough for the deadlock of fork handlers that take the
/// heap's locks before stdio's list lock to show at once.
#[test]
fn fork_does_not_deadlock_against_stdio() {
    for mode in Mode::ALL {
        for policy in Policy::ALL {
            run_ok("fork_stdio", &["1.5"], policy, mode);
        }
    }
}

/// A program that caps its address space after it started (glibc's
/// `tst-malloc-thread-fail`): threads can still be made, allocations fail with ENOMEM
/// rather than abort (1 MiB blocks, then the holes filled with 16-byte blocks, then
/// threads with each allocation function at once), and malloc works again once everything
/// is freed. Then, with a tighter limit, nothing but 16-byte blocks until malloc fails: in
/// the exact mode the policy's tables grow with every block.
#[test]
fn address_space_limit_fails_with_enomem_and_recovers() {
    for mode in Mode::ALL {
        for policy in Policy::ALL {
            run_ok("rlimit_as", &[], policy, mode);
        }
        run_ok("rlimit_as", &["tiny"], Policy::default(), mode);
    }
}

/// 10,000 short-lived threads, 8 at a time, each allocating and freeing a few hundred small
/// blocks and handing some to the next batch: each thread's cache must go back when it
/// exits. glibc ends this at about 2.5 MiB of RSS and the preload at about 4 MiB; caches
/// that stayed behind would hold about 100 KiB per thread (1 GiB in all). The exact mode
/// has no thread caches and is slow here (one lock for 8 threads), so it runs 1,000
/// threads; its policies take turns with the fast mode's.
#[test]
fn threads_that_come_and_go_leave_rss_bounded() {
    for (mode, threads, policy) in
        [(Mode::Fast, "10000", Policy::default()), (Mode::Exact, "1000", Policy::ALL[1 % Policy::ALL.len()])]
    {
        let outcome = run_ok("thread_churn", &[threads, "8"], policy, mode);
        let stdout = outcome.stdout_text();
        let rss_kib = number(&stdout, "rss ", "\n");
        assert!(rss_kib < 32 << 10, "{threads} threads in the {} mode: VmRSS {rss_kib} KiB at the end", mode.name());
        let in_use = number(&outcome.stderr, "in use now ", " B");
        assert!(in_use < 64 << 10, "{threads} threads in the {} mode: {in_use} B in use at the end", mode.name());
        let mapped = number(&outcome.stderr, "mapped now ", " B");
        assert!(mapped < 16 << 20, "{threads} threads in the {} mode: {mapped} B mapped at the end", mode.name());
    }
}

/// 8 threads that allocate, reallocate (across 4096 bytes and 1 MiB) and free blocks that
/// other threads allocated, with calloc zero checks and every block's pattern checked:
/// 10 seconds in the fast mode; 2 seconds under each policy in the exact mode (where every
/// call goes through the policy), to keep the suite's time down.
#[test]
fn eight_threads_of_cross_thread_frees_and_reallocs_stay_consistent() {
    let mut runs = vec![(Mode::Fast, "10", Policy::default())];
    runs.extend(Policy::ALL.map(|policy| (Mode::Exact, "2", policy)));
    for (mode, seconds, policy) in runs {
        let outcome = run_ok("thread_stress", &[seconds, "8"], policy, mode);
        let in_use = number(&outcome.stderr, "in use now ", " B");
        assert!(in_use < 64 << 10, "thread_stress in the {} mode: {in_use} B in use at the end", mode.name());
    }
}
