//! The real programs of `tests/programs.rs` timed under glibc's malloc and under
//! `libmemalloc_preload.so`: wall time and peak RSS, the median of several runs, printed as
//! a markdown table (one per policy).
//!
//! ```sh
//! cargo bench -p memalloc-preload --bench programs                      # first fit, 5 runs
//! cargo bench -p memalloc-preload --bench programs -- --policy tlsf 9   # tlsf, 9 runs
//! cargo bench -p memalloc-preload --bench programs -- --policy all      # every policy
//! cargo bench -p memalloc-preload --bench programs -- sqlite3 gcc       # only these workloads
//! ```
//!
//! The number of runs is the bare number among the arguments, `--runs N`, or
//! `MEMALLOC_BENCH_RUNS`; 5 by default. Each workload first runs once untimed in every
//! variant (warming caches and checking the output), then `runs` rounds, each running
//! every variant once, the order rotating from round to round (glibc first, then memalloc
//! first, ...). Every run must exit successfully with the stdout of the glibc run, and a
//! preloaded run must show the preload's exit summary (`MEMALLOC_STATS=1`, as in the
//! tests): a benchmark of a broken run means nothing, so such a workload is reported as
//! failed (and the benchmark exits with status 1).
//!
//! Wall time is from spawning the program to reaping it. Peak RSS is `ru_maxrss` from
//! `wait4` on the program's process: the largest peak RSS of that process and of the
//! descendants it waited for (`sh` and `gcc`'s `cc1`, python's pool workers), not a sum.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use memalloc_core::Policy;
use support::workloads::{self, Workload};
use support::{installed, library, preload, scratch};

/// How each run of a workload is made: plain (glibc's malloc) or under the preload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Glibc,
    Memalloc(Policy),
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Glibc => "glibc",
            Variant::Memalloc(policy) => policy.name(),
        }
    }
}

/// One finished run.
struct Run {
    wall: Duration,
    /// `ru_maxrss`, KiB.
    max_rss_kib: u64,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd` (stdin empty, stdout and stderr captured), reaping it with `wait4` for its
/// resource usage.
fn measure(cmd: &mut Command) -> Run {
    let description = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, not yet reaped (`child` is never waited for: dropping a
        // `Child` does not wait); `status` and `usage` are valid for writes for the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert!(error.kind() == std::io::ErrorKind::Interrupted, "wait4 on {description}: {error}");
    }
    let wall = started.elapsed();
    drop(child);
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    let max_rss_kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    Run { wall, max_rss_kib, status: ExitStatus::from_raw(status), stdout, stderr }
}

/// Runs `workload` once as `variant` in a fresh directory under `root` (removed afterwards)
/// and checks it: success, the expected stdout (when given), the preload's summary.
fn run_once(workload: Workload, variant: Variant, root: &Path, expected: Option<&[u8]>) -> Result<Run, String> {
    let dir = root.join(variant.name());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a run directory");
    let mut cmd = (workload.command)(&dir);
    cmd.current_dir(&dir);
    if let Variant::Memalloc(policy) = variant {
        preload(&mut cmd, policy);
    }
    let run = measure(&mut cmd);
    let _ = fs::remove_dir_all(&dir);
    let what = format!("{} under {}", workload.name, variant.name());
    if !run.status.success() {
        return Err(format!("{what}: {}\n{}", run.status, run.stderr));
    }
    if expected.is_some_and(|expected| expected != run.stdout.as_slice()) {
        return Err(format!("{what}: stdout differs from the glibc run\n{}", run.stderr));
    }
    if let Variant::Memalloc(policy) = variant {
        // As `support::assert_preload_was_active`, without panicking.
        if !run.stderr.contains(&format!("policy {policy};")) {
            return Err(format!("{what}: no MEMALLOC_STATS summary, so the preload was not active\n{}", run.stderr));
        }
        if let Some(bad) =
            ["aborting", "internal error", "unknown MEMALLOC"].iter().find(|bad| run.stderr.contains(*bad))
        {
            return Err(format!("{what}: stderr says {bad:?}\n{}", run.stderr));
        }
    }
    Ok(run)
}

/// Medians of one variant's runs of one workload.
#[derive(Debug, Clone, Copy)]
struct Summary {
    wall: Duration,
    max_rss_kib: u64,
}

/// The median of `values` (the mean of the middle two for an even count).
fn median<T: Copy + Ord>(values: &mut [T], mean: impl Fn(T, T) -> T) -> T {
    values.sort_unstable();
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { mean(values[mid - 1], values[mid]) }
}

/// Runs `workload` as every variant: one untimed round, then `runs` timed rounds; the
/// medians, one per variant (in the order of `variants`).
fn bench(workload: Workload, variants: &[Variant], runs: usize) -> Result<Vec<Summary>, String> {
    let root = scratch(&format!("bench-{}", workload.name));
    let reference = run_once(workload, Variant::Glibc, &root, None)?.stdout;
    for &variant in &variants[1..] {
        run_once(workload, variant, &root, Some(&reference))?;
    }
    let mut samples: Vec<Vec<Run>> = variants.iter().map(|_| Vec::with_capacity(runs)).collect();
    for round in 0..runs {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            samples[i].push(run_once(workload, variants[i], &root, Some(&reference))?);
        }
    }
    let _ = fs::remove_dir_all(&root);
    Ok(samples
        .iter()
        .map(|runs| Summary {
            wall: median(&mut runs.iter().map(|r| r.wall).collect::<Vec<_>>(), |a, b| (a + b) / 2),
            max_rss_kib: median(&mut runs.iter().map(|r| r.max_rss_kib).collect::<Vec<_>>(), |a, b| (a + b) / 2),
        })
        .collect())
}

/// What the command line asked for.
struct Options {
    policies: Vec<Policy>,
    runs: usize,
    only: Vec<String>,
}

const USAGE: &str = "usage: cargo bench -p memalloc-preload --bench programs -- \
                     [--policy NAME|all] [--runs N | N] [WORKLOAD...]";

fn parse_args() -> Result<Options, String> {
    let parse_runs = |text: &str| match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("bad number of runs {text:?}")),
    };
    let mut options = Options {
        policies: vec![Policy::default()],
        runs: match std::env::var("MEMALLOC_BENCH_RUNS") {
            Ok(text) => parse_runs(&text)?,
            Err(_) => 5,
        },
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--bench" => {} // what `cargo bench` passes to every benchmark
            "--policy" => {
                let name = value()?;
                options.policies = if name == "all" {
                    Policy::ALL.to_vec()
                } else {
                    vec![name.parse().map_err(|_| format!("unknown policy {name:?}"))?]
                };
            }
            "--runs" => options.runs = parse_runs(&value()?)?,
            "-h" | "--help" => return Err(String::new()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ if arg.bytes().all(|b| b.is_ascii_digit()) => options.runs = parse_runs(&arg)?,
            _ if workloads::ALL.iter().any(|w| w.name == arg) => options.only.push(arg),
            _ => return Err(format!("unknown workload {arg:?}")),
        }
    }
    Ok(options)
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 { format!("{:.2}x", b / a) } else { "-".into() }
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let lib = library();
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!("preload: {}", lib.display());
    println!(
        "{} runs per variant (median), alternating; {cores} CPUs; load average at start: {}",
        options.runs,
        load_average()
    );
    let mut variants = vec![Variant::Glibc];
    variants.extend(options.policies.iter().map(|&p| Variant::Memalloc(p)));

    let started = Instant::now();
    let mut results: Vec<(Workload, Result<Vec<Summary>, String>)> = Vec::new();
    for workload in workloads::ALL {
        if !options.only.is_empty() && !options.only.iter().any(|name| name == workload.name) {
            continue;
        }
        if installed(workload.program).is_none() {
            continue;
        }
        let t = Instant::now();
        let result = bench(workload, &variants, options.runs);
        match &result {
            Ok(_) => eprintln!("{}: done in {:.1?}", workload.name, t.elapsed()),
            Err(message) => eprintln!("{}: FAILED: {message}", workload.name),
        }
        results.push((workload, result));
    }
    println!("total {:.1?}; load average at end: {}", started.elapsed(), load_average());

    for (p, policy) in options.policies.iter().enumerate() {
        println!();
        println!("memalloc policy: {policy}");
        println!();
        println!("| workload | glibc time | memalloc time | ratio | glibc peak RSS | memalloc peak RSS | ratio |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (workload, result) in &results {
            match result {
                Ok(summaries) => {
                    let (glibc, ours) = (summaries[0], summaries[p + 1]);
                    println!(
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        workload.name,
                        millis(glibc.wall),
                        millis(ours.wall),
                        ratio(glibc.wall.as_secs_f64(), ours.wall.as_secs_f64()),
                        mib(glibc.max_rss_kib),
                        mib(ours.max_rss_kib),
                        ratio(glibc.max_rss_kib as f64, ours.max_rss_kib as f64),
                    );
                }
                Err(_) => println!("| {} | failed | | | | | |", workload.name),
            }
        }
    }
    if results.iter().any(|(_, result)| result.is_err()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
