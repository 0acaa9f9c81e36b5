//! Allocator benchmarks (issue 12): the multi-threaded C programs of `benches/c/` and the
//! real programs of `tests/support/workloads.rs`, each run under glibc's malloc, under
//! `libmemalloc_preload.so` in its fast mode and in its exact mode, and under jemalloc and
//! mimalloc where the system has them; wall time, CPU time and peak RSS, medians of
//! alternating runs, printed as markdown tables of ratios to glibc.
//!
//! ```sh
//! cargo bench -p memalloc-preload --bench allocators                          # everything
//! cargo bench -p memalloc-preload --bench allocators -- --threads 1,2 --runs 5 larson python3
//! cargo bench -p memalloc-preload --bench allocators -- --json /tmp/allocators.json
//! ```
//!
//! Options: `--threads LIST` (thread counts for the multi-threaded C programs; `1,2` by
//! default), `--runs N` (timed runs per variant, at least 3 by default), `--timeout SECS`
//! (per run; 60 by default; a run past it is killed and reported as `timeout`), `--scale
//! PCT` (the C programs' work, percent of their default), `--variants LIST` (a subset of
//! `fast,exact,jemalloc,mimalloc`; glibc always runs), `--policy NAME` (`MEMALLOC_POLICY`
//! for fast and exact), `--preload PATH` (another build of the library), `--json FILE`
//! (the medians and every sample), and workload names to run only those.
//!
//! The variants:
//! - `glibc`: no preload;
//! - `fast`: `LD_PRELOAD` of the library cargo built with this benchmark (the release
//!   profile), its default configuration;
//! - `exact`: the same library with `MEMALLOC_FRONT=off MEMALLOC_ARENAS=1` (every call through
//!   one arena and the policy, as the traces and policy experiments need);
//! - `jemalloc`, `mimalloc`: `LD_PRELOAD` of the Debian packages' libraries (`libjemalloc2`,
//!   `libmimalloc2.0`); skipped, with a note, when not installed.
//!
//! Each workload runs once under glibc untimed (warming the caches and giving the
//! reference output), then `runs` rounds, each running every variant once, the order
//! rotating from round to round. Every run must exit successfully with the glibc run's
//! stdout (the C programs print a checksum there; their timing goes to stderr), and one
//! untimed run of each preload variant, before the rounds, must show its `MEMALLOC_STATS`
//! summary (the timed runs go without it, as a program run for speed would: its counters
//! cost time); otherwise the variant is reported `failed` for that workload (and the
//! benchmark exits with status 1).
//!
//! Wall time is from spawning the program to its exit. CPU time is user + system time from
//! `wait4`, which counts the descendants the program waited for (`gcc`'s `cc1`, `sh`'s
//! commands). Peak RSS is `ru_maxrss` from `wait4`: the largest peak of the program and its
//! waited-for descendants, not a sum.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::workloads::{self, Workload};
use support::{installed, library, scratch};

/// One of the C programs of `benches/c/`.
struct Program {
    /// The source's name without `.c`, and the workload's name.
    name: &'static str,
    /// Whether its threads interact (run at every `--threads` count) or each thread would
    /// only repeat the same work alone (run with 1 thread).
    threaded: bool,
}

/// The C programs, in the order of the reports (what each models: `benches/README.md`).
const PROGRAMS: [Program; 8] = [
    Program { name: "larson", threaded: true },
    Program { name: "xmalloc-test", threaded: true },
    Program { name: "mstress", threaded: true },
    Program { name: "glibc-thread", threaded: true },
    Program { name: "large-cycle", threaded: true },
    Program { name: "cfrac", threaded: false },
    Program { name: "espresso", threaded: false },
    Program { name: "realloc-growth", threaded: false },
];

/// How a run is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Glibc,
    Fast,
    Exact,
    Jemalloc,
    Mimalloc,
}

const VARIANTS: [Variant; 5] = [Variant::Glibc, Variant::Fast, Variant::Exact, Variant::Jemalloc, Variant::Mimalloc];

const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
const MIMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2";

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Glibc => "glibc",
            Variant::Fast => "fast",
            Variant::Exact => "exact",
            Variant::Jemalloc => "jemalloc",
            Variant::Mimalloc => "mimalloc",
        }
    }

    fn is_preload(self) -> bool {
        matches!(self, Variant::Fast | Variant::Exact)
    }
}

/// One thing to run under every variant: a C program at a thread count, or a real program.
struct Case {
    /// The workload's name.
    name: String,
    /// The thread count given to a C program; `None` for a real program.
    threads: Option<usize>,
    /// Whether the row counts for every thread count (a single-threaded C program or a real
    /// program) or only for its own (a multi-threaded C program).
    per_thread_count: bool,
    /// Builds the command in a given empty directory.
    command: Box<dyn Fn(&Path) -> Command>,
}

/// Where the libraries are and how each variant is set up.
struct Setup {
    preload: PathBuf,
    policy: Option<String>,
    jemalloc: Option<PathBuf>,
    mimalloc: Option<PathBuf>,
}

impl Setup {
    fn library(&self, variant: Variant) -> Option<&Path> {
        match variant {
            Variant::Glibc => None,
            Variant::Fast | Variant::Exact => Some(&self.preload),
            Variant::Jemalloc => self.jemalloc.as_deref(),
            Variant::Mimalloc => self.mimalloc.as_deref(),
        }
    }

    /// Sets `cmd`'s environment for `variant`, starting from one without any preload or
    /// `MEMALLOC_*` variable.
    fn apply(&self, cmd: &mut Command, variant: Variant, stats: bool) {
        cmd.env_remove("LD_PRELOAD");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MEMALLOC_") {
                cmd.env_remove(&name);
            }
        }
        if let Some(lib) = self.library(variant) {
            cmd.env("LD_PRELOAD", lib);
        }
        if variant.is_preload() {
            if stats {
                cmd.env("MEMALLOC_STATS", "1");
            }
            if let Some(policy) = &self.policy {
                cmd.env("MEMALLOC_POLICY", policy);
            }
        }
        if variant == Variant::Exact {
            cmd.env("MEMALLOC_FRONT", "off").env("MEMALLOC_ARENAS", "1");
        }
    }
}

/// One finished run.
struct Run {
    wall: Duration,
    cpu: Duration,
    /// `ru_maxrss`, KiB.
    max_rss_kib: u64,
    status: ExitStatus,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: String,
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// Runs `cmd` (stdin empty, stdout and stderr captured) in a process group of its own,
/// reaping it with `wait4` for its resource usage; kills the group once `timeout` passes.
fn measure(cmd: &mut Command, timeout: Duration) -> Run {
    let description = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
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
    // The watchdog kills the group unless the program has exited (not yet reaped, so that
    // its pid, which is also the group's id, cannot have been reused) before the deadline.
    let exited = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let watchdog = {
        let exited = Arc::clone(&exited);
        thread::spawn(move || {
            let (lock, cvar) = &*exited;
            let state = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (mut state, _) =
                cvar.wait_timeout_while(state, timeout, |(done, _)| !*done).unwrap_or_else(|e| e.into_inner());
            if !state.0 {
                // SAFETY: kill has no memory-safety preconditions; the group exists (its
                // leader is not reaped yet).
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                state.1 = true;
            }
        })
    };
    loop {
        // SAFETY: `siginfo_t` is plain data, valid when zeroed.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid for writes; WNOWAIT leaves the child to be reaped below.
        let waited = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if waited == 0 {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert!(error.kind() == std::io::ErrorKind::Interrupted, "waitid on {description}: {error}");
    }
    let wall = started.elapsed();
    let timed_out = {
        let (lock, cvar) = &*exited;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = true;
        cvar.notify_all();
        state.1
    };
    watchdog.join().expect("watchdog");
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, exited and not yet reaped (`child` is never waited for:
        // dropping a `Child` does not wait); `status` and `usage` are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert!(error.kind() == std::io::ErrorKind::Interrupted, "wait4 on {description}: {error}");
    }
    drop(child);
    // After a timeout, the group's other members (if any) got the same SIGKILL, so the pipes
    // close and the readers end.
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Run {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        status: ExitStatus::from_raw(status),
        timed_out,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Why a variant has no figures for a case.
#[derive(Debug, Clone)]
enum Problem {
    Timeout,
    Failed(String),
}

/// Runs `case` once as `variant` in a fresh directory under `root` (removed afterwards) and
/// checks it: success in time, the expected stdout (when given), the preload's summary.
fn run_once(
    case: &Case,
    variant: Variant,
    setup: &Setup,
    options: &Options,
    root: &Path,
    expected: Option<&[u8]>,
    stats: bool,
) -> Result<Run, Problem> {
    let dir = root.join(variant.name());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a run directory");
    let mut cmd = (case.command)(&dir);
    cmd.current_dir(&dir);
    setup.apply(&mut cmd, variant, stats);
    let run = measure(&mut cmd, options.timeout);
    let _ = fs::remove_dir_all(&dir);
    let what = format!("{} under {}", case_label(case), variant.name());
    let tail = || {
        let lines: Vec<&str> = run.stderr.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    if run.timed_out {
        return Err(Problem::Timeout);
    }
    if !run.status.success() {
        return Err(Problem::Failed(format!("{what}: {}\n{}", run.status, tail())));
    }
    if expected.is_some_and(|expected| expected != run.stdout.as_slice()) {
        let (want, got) = (String::from_utf8_lossy(expected.unwrap_or_default()), String::from_utf8_lossy(&run.stdout));
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        return Err(Problem::Failed(format!(
            "{what}: stdout differs from the glibc run at line {}\nglibc: {:?}\nthis:  {:?}\n{}",
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line),
            tail()
        )));
    }
    if run.stderr.contains("cannot be preloaded") {
        return Err(Problem::Failed(format!("{what}: the library was not loaded\n{}", tail())));
    }
    if variant.is_preload() {
        if stats && !run.stderr.contains("memalloc[") {
            return Err(Problem::Failed(format!(
                "{what}: no MEMALLOC_STATS summary, so the preload was not active\n{}",
                tail()
            )));
        }
        if let Some(bad) =
            ["aborting", "internal error", "unknown MEMALLOC"].iter().find(|bad| run.stderr.contains(*bad))
        {
            return Err(Problem::Failed(format!("{what}: stderr says {bad:?}\n{}", tail())));
        }
    }
    Ok(run)
}

/// The `throughput: R ops/s` line that the C programs print on stderr.
fn throughput(stderr: &str) -> Option<f64> {
    stderr.lines().find_map(|line| line.strip_prefix("throughput: ")?.split_whitespace().next()?.parse().ok())
}

/// What the preload's summary says about its mode (`mode fast, 2 arena(s)`), if it says.
fn reported_mode(stderr: &str) -> Option<String> {
    let line = stderr.lines().find(|line| line.starts_with("memalloc["))?;
    let start = line.find("; mode ")? + 2;
    let end = line[start..].find("; ").map_or(line.len(), |i| start + i);
    Some(line[start..end].to_owned())
}

/// The medians of one variant's runs of one case, and every sample.
#[derive(Debug, Clone)]
struct Summary {
    wall: f64,
    cpu: f64,
    max_rss_kib: f64,
    throughput: Option<f64>,
    samples: Vec<(f64, f64, u64, Option<f64>)>,
    mode: Option<String>,
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.is_empty() {
        f64::NAN
    } else if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn summarize(runs: &[Run]) -> Summary {
    let samples: Vec<_> = runs
        .iter()
        .map(|r| (r.wall.as_secs_f64(), r.cpu.as_secs_f64(), r.max_rss_kib, throughput(&r.stderr)))
        .collect();
    let rates: Vec<f64> = samples.iter().filter_map(|s| s.3).collect();
    Summary {
        wall: median(samples.iter().map(|s| s.0).collect()),
        cpu: median(samples.iter().map(|s| s.1).collect()),
        max_rss_kib: median(samples.iter().map(|s| s.2 as f64).collect()),
        throughput: (rates.len() == samples.len() && !rates.is_empty()).then(|| median(rates)),
        samples,
        mode: runs.first().and_then(|r| reported_mode(&r.stderr)),
    }
}

/// One case's outcome per variant (in the order of `Options::variants`).
type Outcome = Vec<Result<Summary, Problem>>;

/// Runs `case` as every variant: one untimed glibc run, then `runs` timed rounds in
/// rotating order. A variant that fails or times out is not run again for this case.
fn bench(case: &Case, setup: &Setup, options: &Options) -> Outcome {
    let variants = &options.variants;
    let root = scratch(&format!("allocators-{}", case_label(case).replace(' ', "-")));
    let reference = match run_once(case, Variant::Glibc, setup, options, &root, None, false) {
        Ok(run) => run.stdout,
        Err(problem) => return variants.iter().map(|_| Err(problem.clone())).collect(),
    };
    let mut samples: Vec<Result<Vec<Run>, Problem>> = variants.iter().map(|_| Ok(Vec::new())).collect();
    // One untimed run of each preload variant with the exit summary: the library was
    // active, reported no error, and names its mode. The timed runs go without it, as a
    // program run for speed would (the counters cost time).
    let mut modes: Vec<Option<String>> = variants.iter().map(|_| None).collect();
    for (i, &variant) in variants.iter().enumerate().filter(|(_, v)| v.is_preload()) {
        match run_once(case, variant, setup, options, &root, Some(&reference), true) {
            Ok(run) => modes[i] = reported_mode(&run.stderr),
            Err(problem) => samples[i] = Err(problem),
        }
    }
    for round in 0..options.runs {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            if let Ok(runs) = &mut samples[i] {
                match run_once(case, variants[i], setup, options, &root, Some(&reference), false) {
                    Ok(run) => runs.push(run),
                    Err(problem) => samples[i] = Err(problem),
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&root);
    samples.into_iter().zip(modes).map(|(s, mode)| s.map(|runs| Summary { mode, ..summarize(&runs) })).collect()
}

fn case_label(case: &Case) -> String {
    match case.threads {
        Some(n) => format!("{} t{n}", case.name),
        None => case.name.clone(),
    }
}

/// What the command line asked for.
struct Options {
    threads: Vec<usize>,
    runs: usize,
    timeout: Duration,
    scale: Option<u32>,
    variants: Vec<Variant>,
    policy: Option<String>,
    preload: Option<PathBuf>,
    json: Option<PathBuf>,
    only: Vec<String>,
}

const USAGE: &str = "usage: cargo bench -p memalloc-preload --bench allocators -- [--threads 1,2] [--runs N] \
                     [--timeout SECS] [--scale PCT] [--variants fast,exact,jemalloc,mimalloc] [--policy NAME] \
                     [--preload PATH] [--json FILE] [WORKLOAD...]";

fn workload_names() -> Vec<&'static str> {
    PROGRAMS.iter().map(|p| p.name).chain(workloads::ALL.iter().map(|w| w.name)).collect()
}

fn parse_args() -> Result<Options, String> {
    let number = |text: &str, what: &str| match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("bad {what} {text:?}")),
    };
    let mut options = Options {
        threads: vec![1, 2],
        runs: 3,
        timeout: Duration::from_secs(60),
        scale: None,
        variants: VARIANTS.to_vec(),
        policy: None,
        preload: None,
        json: None,
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
            "--threads" => {
                options.threads =
                    value()?.split(',').map(|t| number(t.trim(), "thread count")).collect::<Result<_, _>>()?;
            }
            "--runs" => options.runs = number(&value()?, "number of runs")?,
            "--timeout" => options.timeout = Duration::from_secs(number(&value()?, "timeout")? as u64),
            "--scale" => options.scale = Some(number(&value()?, "scale")? as u32),
            "--variants" => {
                let mut variants = vec![Variant::Glibc];
                for name in value()?.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "glibc") {
                    let variant = VARIANTS.into_iter().find(|v| v.name() == name);
                    variants.push(variant.ok_or(format!("unknown variant {name:?}"))?);
                }
                options.variants = variants;
            }
            "--policy" => options.policy = Some(value()?),
            "--preload" => options.preload = Some(PathBuf::from(value()?)),
            "--json" => options.json = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ if workload_names().contains(&arg.as_str()) => options.only.push(arg),
            _ => return Err(format!("unknown workload {arg:?} (known: {})", workload_names().join(", "))),
        }
    }
    Ok(options)
}

/// Compiles `benches/c/<name>.c` into the target directory; the executable.
fn compile(name: &str) -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches").join("c");
    let source = dir.join(format!("{name}.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("allocator-bench");
    fs::create_dir_all(&out_dir).map_err(|e| format!("create {}: {e}", out_dir.display()))?;
    let exe = out_dir.join(name);
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-O2", "-pthread", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(&dir)
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .env_remove("LD_PRELOAD")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cc.to_string_lossy()))?;
    if !out.status.success() {
        return Err(format!("compiling {}:\n{}", source.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(exe)
}

/// The cases to run, in the order of the reports.
fn cases(options: &Options) -> Result<Vec<Case>, String> {
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|n| n == name);
    let mut cases = Vec::new();
    for program in PROGRAMS.iter().filter(|p| wanted(p.name)) {
        let exe = compile(program.name)?;
        let counts = if program.threaded { options.threads.clone() } else { vec![1] };
        for threads in counts {
            let (exe, scale) = (exe.clone(), options.scale);
            cases.push(Case {
                name: program.name.to_owned(),
                threads: Some(threads),
                per_thread_count: !program.threaded,
                command: Box::new(move |_| {
                    let mut cmd = Command::new(&exe);
                    cmd.arg(threads.to_string());
                    if let Some(scale) = scale {
                        cmd.arg(scale.to_string());
                    }
                    cmd
                }),
            });
        }
    }
    for workload in workloads::ALL.into_iter().filter(|w| wanted(w.name)) {
        if installed(workload.program).is_none() {
            continue;
        }
        let Workload { name, command, .. } = workload;
        cases.push(Case { name: name.to_owned(), threads: None, per_thread_count: true, command: Box::new(command) });
    }
    Ok(cases)
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn seconds(s: f64) -> String {
    if s >= 10.0 { format!("{s:.1} s") } else { format!("{:.0} ms", s * 1e3) }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

fn rate(r: f64) -> String {
    if r >= 1e6 { format!("{:.2} M/s", r / 1e6) } else { format!("{r:.0}/s") }
}

/// One of the reported quantities.
struct Metric {
    title: &'static str,
    note: &'static str,
    /// The median as a number (`None`: not measured).
    value: fn(&Summary) -> Option<f64>,
    absolute: fn(f64) -> String,
    /// Whether a higher figure is better (throughput); such a table leaves out the rows
    /// without figures (the real programs) and those where glibc failed.
    higher_is_better: bool,
}

const METRICS: [Metric; 4] = [
    Metric {
        title: "Wall time",
        note: "glibc's median, and each variant's as a ratio to it (lower is better)",
        value: |s| Some(s.wall),
        absolute: seconds,
        higher_is_better: false,
    },
    Metric {
        title: "CPU time (user + system)",
        note: "glibc's median, and each variant's as a ratio to it (lower is better)",
        value: |s| Some(s.cpu),
        absolute: seconds,
        higher_is_better: false,
    },
    Metric {
        title: "Peak RSS",
        note: "glibc's median `ru_maxrss`, and each variant's as a ratio to it (lower is better)",
        value: |s| Some(s.max_rss_kib),
        absolute: mib,
        higher_is_better: false,
    },
    Metric {
        title: "Throughput (the C programs' own count of operations per second)",
        note: "glibc's median, and each variant's as a ratio to it (higher is better); the \
               programs time their allocating phase only, without start-up and set-up",
        value: |s| s.throughput,
        absolute: rate,
        higher_is_better: true,
    },
];

/// A cell's ratio to glibc, if both have figures.
fn ratio(metric: &Metric, glibc: &Result<Summary, Problem>, other: &Result<Summary, Problem>) -> Option<f64> {
    let (g, o) = ((metric.value)(glibc.as_ref().ok()?)?, (metric.value)(other.as_ref().ok()?)?);
    let r = o / g;
    (r.is_finite() && r > 0.0).then_some(r)
}

fn print_table(metric: &Metric, options: &Options, results: &[(Case, Outcome)]) -> String {
    let mut out = String::new();
    // Rows with glibc figures, and (except for throughput) those where glibc itself failed.
    let rows: Vec<&(Case, Outcome)> = results
        .iter()
        .filter(|(_, outcome)| match &outcome[0] {
            Ok(s) => (metric.value)(s).is_some(),
            Err(_) => !metric.higher_is_better,
        })
        .collect();
    if !rows.iter().any(|(_, outcome)| outcome[0].is_ok()) {
        return out;
    }
    let others = &options.variants[1..];
    let _ = writeln!(out, "\n### {}\n\n{}.\n", metric.title, metric.note);
    let _ = writeln!(
        out,
        "| workload | threads | glibc | {} |\n|---|---:|---:|{}",
        others.iter().map(|v| v.name()).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(others.len())
    );
    for (case, outcome) in &rows {
        let threads = case.threads.map_or("-".into(), |n| n.to_string());
        let glibc = match &outcome[0] {
            Ok(s) => (metric.absolute)((metric.value)(s).unwrap_or(f64::NAN)),
            Err(Problem::Timeout) => "timeout".into(),
            Err(Problem::Failed(_)) => "failed".into(),
        };
        let cells: Vec<String> = outcome[1..]
            .iter()
            .map(|cell| match cell {
                Err(Problem::Timeout) => "timeout".into(),
                Err(Problem::Failed(_)) => "failed".into(),
                Ok(_) => ratio(metric, &outcome[0], cell).map_or("-".into(), |r| format!("{r:.2}x")),
            })
            .collect();
        let _ = writeln!(out, "| {} | {threads} | {glibc} | {} |", case.name, cells.join(" | "));
    }
    // The geometric means: for each thread count, over the rows that count for it.
    for &n in &options.threads {
        let in_view: Vec<&&(Case, Outcome)> =
            rows.iter().filter(|(case, _)| case.per_thread_count || case.threads == Some(n)).collect();
        let cells: Vec<String> = (1..options.variants.len())
            .map(|i| {
                let ratios: Vec<f64> = in_view.iter().filter_map(|(_, o)| ratio(metric, &o[0], &o[i])).collect();
                if ratios.is_empty() {
                    return "-".into();
                }
                let mean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
                if ratios.len() == in_view.len() {
                    format!("**{mean:.2}x**")
                } else {
                    format!("**{mean:.2}x** ({} of {})", ratios.len(), in_view.len())
                }
            })
            .collect();
        let _ = writeln!(out, "| **geometric mean** | {n} | | {} |", cells.join(" | "));
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => "null".into(),
    }
}

fn to_json(options: &Options, setup: &Setup, results: &[(Case, Outcome)]) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"runs\": {},", options.runs);
    let _ = writeln!(out, "  \"timeout_s\": {},", options.timeout.as_secs());
    let _ = writeln!(out, "  \"cpus\": {},", thread::available_parallelism().map_or(0, |n| n.get()));
    let libraries: Vec<String> = options
        .variants
        .iter()
        .map(|&v| {
            let lib = setup.library(v).map_or("null".into(), |p| json_string(&p.to_string_lossy()));
            format!("{}: {lib}", json_string(v.name()))
        })
        .collect();
    let _ = writeln!(out, "  \"libraries\": {{{}}},", libraries.join(", "));
    out.push_str("  \"results\": [\n");
    let mut entries = Vec::new();
    for (case, outcome) in results {
        for (variant, cell) in options.variants.iter().zip(outcome) {
            let mut e = format!(
                "    {{\"workload\": {}, \"threads\": {}, \"variant\": {}, ",
                json_string(&case.name),
                case.threads.map_or("null".into(), |n| n.to_string()),
                json_string(variant.name())
            );
            match cell {
                Ok(s) => {
                    let samples: Vec<String> = s
                        .samples
                        .iter()
                        .map(|(w, c, r, t)| {
                            format!(
                                "{{\"wall_s\": {w}, \"cpu_s\": {c}, \"max_rss_kib\": {r}, \"ops_per_s\": {}}}",
                                json_number(*t)
                            )
                        })
                        .collect();
                    let _ = write!(
                        e,
                        "\"status\": \"ok\", \"wall_s\": {}, \"cpu_s\": {}, \"max_rss_kib\": {}, \"ops_per_s\": {}, \
                         \"mode\": {}, \"samples\": [{}]}}",
                        s.wall,
                        s.cpu,
                        s.max_rss_kib,
                        json_number(s.throughput),
                        s.mode.as_deref().map_or("null".into(), json_string),
                        samples.join(", ")
                    );
                }
                Err(Problem::Timeout) => e.push_str("\"status\": \"timeout\"}"),
                Err(Problem::Failed(message)) => {
                    let _ = write!(e, "\"status\": \"failed\", \"message\": {}}}", json_string(message));
                }
            }
            entries.push(e);
        }
    }
    out.push_str(&entries.join(",\n"));
    out.push_str("\n  ]\n}\n");
    out
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
    let found = |path: &str| Some(PathBuf::from(path)).filter(|p| p.is_file());
    let setup = Setup {
        preload: options.preload.clone().unwrap_or_else(library),
        policy: options.policy.clone(),
        jemalloc: found(JEMALLOC),
        mimalloc: found(MIMALLOC),
    };
    if !setup.preload.is_file() {
        eprintln!("no preload library at {}", setup.preload.display());
        return ExitCode::FAILURE;
    }
    // Measure a private copy: a cargo build running beside the benchmark rewrites the
    // library in target/ and would make the runs in between fail to load it.
    let copy = scratch("allocators-library").join("libmemalloc_preload.so");
    if let Err(e) = fs::copy(&setup.preload, &copy) {
        eprintln!("cannot copy {} to {}: {e}", setup.preload.display(), copy.display());
        return ExitCode::FAILURE;
    }
    let mut setup = setup;
    setup.preload = copy;
    let mut options = options;
    let mut notes = Vec::new();
    options.variants.retain(|&v| {
        let missing = matches!(v, Variant::Jemalloc | Variant::Mimalloc) && setup.library(v).is_none();
        if missing {
            let (lib, package) =
                if v == Variant::Jemalloc { (JEMALLOC, "libjemalloc2") } else { (MIMALLOC, "libmimalloc2.0") };
            notes.push(format!("{}: skipped, {lib} is not installed (Debian package {package})", v.name()));
        }
        !missing
    });
    let cases = match cases(&options) {
        Ok(cases) => cases,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };

    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let load_at_start = load_average();
    let started = Instant::now();
    let mut results: Vec<(Case, Outcome)> = Vec::new();
    for case in cases {
        let t = Instant::now();
        let outcome = bench(&case, &setup, &options);
        let problems: Vec<String> = options
            .variants
            .iter()
            .zip(&outcome)
            .filter_map(|(v, cell)| match cell {
                Ok(_) => None,
                Err(Problem::Timeout) => Some(format!("{} timeout", v.name())),
                Err(Problem::Failed(_)) => Some(format!("{} FAILED", v.name())),
            })
            .collect();
        eprintln!(
            "{}: {:.1?}{}",
            case_label(&case),
            t.elapsed(),
            if problems.is_empty() { String::new() } else { format!(" ({})", problems.join(", ")) }
        );
        results.push((case, outcome));
    }

    println!("## Allocator benchmarks\n");
    println!("- fast: `LD_PRELOAD={}`", setup.preload.display());
    println!("- exact: the same, with `MEMALLOC_FRONT=off MEMALLOC_ARENAS=1`");
    if let Some(policy) = &options.policy {
        println!("- fast and exact: `MEMALLOC_POLICY={policy}`");
    }
    for v in [Variant::Jemalloc, Variant::Mimalloc] {
        if let Some(lib) = options.variants.contains(&v).then(|| setup.library(v)).flatten() {
            println!("- {}: `LD_PRELOAD={}`", v.name(), lib.display());
        }
    }
    for note in &notes {
        println!("- {note}");
    }
    for (i, &v) in options.variants.iter().enumerate().filter(|(_, v)| v.is_preload()) {
        let modes: Vec<&str> = results.iter().filter_map(|(_, o)| o[i].as_ref().ok()?.mode.as_deref()).collect();
        match modes.first() {
            Some(mode) => println!("- {}: the library's summary says `{mode}`", v.name()),
            None => println!("- {}: the library's summary names no mode", v.name()),
        }
    }
    println!(
        "- {} timed runs per variant (medians), in alternating order, after one untimed glibc run; \
         timeout {} s per run; {cores} CPUs; load average {load_at_start} at the start, {} at the end; \
         {:.0} s in all",
        options.runs,
        options.timeout.as_secs(),
        load_average(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "- threads: what the C programs are given (`-` for the real programs); the geometric mean \
         for a thread count is over the rows at that count and the rows that have none or run 1 \
         thread whatever the count"
    );
    for metric in &METRICS {
        print!("{}", print_table(metric, &options, &results));
    }
    let mut bad = false;
    let mut failures = String::new();
    for (case, outcome) in &results {
        for (v, cell) in options.variants.iter().zip(outcome) {
            match cell {
                Ok(_) => {}
                Err(Problem::Timeout) => {
                    bad = true;
                    let _ = writeln!(
                        failures,
                        "- {} under {}: ran longer than {} s, killed\n",
                        case_label(case),
                        v.name(),
                        options.timeout.as_secs()
                    );
                }
                Err(Problem::Failed(message)) => {
                    bad = true;
                    let _ = writeln!(failures, "- {}\n", message.replace('\n', "\n    "));
                }
            }
        }
    }
    if !failures.is_empty() {
        println!("\n### Failures and timeouts\n\n{failures}");
    }
    if let Some(path) = &options.json
        && let Err(e) = fs::write(path, to_json(&options, &setup, &results))
    {
        eprintln!("cannot write {}: {e}", path.display());
        bad = true;
    }
    if bad { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
