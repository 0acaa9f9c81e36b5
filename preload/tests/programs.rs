//! Real programs under `libmemalloc_preload.so`: each runs once without it and once under
//! every policy, and must print the same stdout and exit the same way (and, preloaded,
//! print the `MEMALLOC_STATS` summary: the preload was active). A program that is not
//! installed is skipped with a notice; CI installs them all. The workloads themselves are
//! in `support/workloads.rs`, shared with `benches/programs.rs`.

mod support;

use support::workloads::{self, Workload};
use support::{installed, same_with_and_without};

/// Runs `workload` without the preload and under every policy, if its program is installed.
fn runs_the_same(workload: Workload) {
    if installed(workload.program).is_none() {
        return;
    }
    same_with_and_without(workload.name, workload.command);
}

/// Dict, list and string churn, 8 threads, and a multiprocessing pool that forks.
#[test]
fn python3_runs_the_same() {
    runs_the_same(workloads::PYTHON3);
}

/// Inserts, an index, joins, updates and deletes.
#[test]
fn sqlite3_runs_the_same() {
    runs_the_same(workloads::SQLITE3);
}

/// A small C program compiled, linked and run.
#[test]
fn gcc_compiles_and_runs_the_same() {
    runs_the_same(workloads::GCC);
}

/// Commits with fixed names and dates (so that hashes repeat), `git log -p`, `git gc`.
#[test]
fn git_runs_the_same() {
    runs_the_same(workloads::GIT);
}

/// Hash, array and string churn, and a sort.
#[test]
fn perl_runs_the_same() {
    runs_the_same(workloads::PERL);
}

/// Associative arrays and string building in awk.
#[test]
fn gawk_runs_the_same() {
    runs_the_same(workloads::GAWK);
}

/// About 4 MB of pseudo-random lines, sorted with two threads and temporary files.
#[test]
fn sort_runs_the_same() {
    runs_the_same(workloads::SORT);
}
