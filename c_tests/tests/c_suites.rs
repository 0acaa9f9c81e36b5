//! Runs every C suite (`c_tests/*.c`, compiled by `build.rs`) and asserts that none of
//! its checks failed. Each suite prints a line per failed check (file:line and the
//! expression) and a closing `N passed, N failed`; run with `--nocapture` to see them
//! next to the test names.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use memalloc_c_tests::Suite;

/// How long a suite may run before it is taken for a deadlock (a walk callback calling
/// back into the allocator, threads contending for its lock).
const WATCHDOG: Duration = Duration::from_secs(300);

fn run(suite: Suite) {
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if finished.recv_timeout(WATCHDOG) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("C suite {suite:?} did not finish within {WATCHDOG:?}: deadlock?");
            std::process::exit(101);
        }
    });
    let failed = suite.run();
    let _ = done.send(());
    watchdog.join().expect("the watchdog does not panic");
    assert_eq!(failed, 0, "C suite {suite:?}: {failed} checks failed (see the lines above)");
}

#[test]
fn core() {
    run(Suite::Core);
}

#[test]
fn errors() {
    run(Suite::Errors);
}

#[test]
fn realloc() {
    run(Suite::Realloc);
}

#[test]
fn align() {
    run(Suite::Align);
}

#[test]
fn walk() {
    run(Suite::Walk);
}

#[test]
fn threads() {
    run(Suite::Threads);
}

#[test]
fn model() {
    run(Suite::Model);
}

#[test]
fn conformance() {
    run(Suite::Conformance);
}

#[test]
fn stress() {
    run(Suite::Stress);
}

#[test]
fn snapshots() {
    run(Suite::Snapshots);
}

#[test]
fn placement() {
    run(Suite::Placement);
}
