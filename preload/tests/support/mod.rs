//! Helpers for the preload tests (and `benches/programs.rs`): where the library is, scratch
//! directories, compiling the C programs beside the tests, running a command (with or
//! without the preload) under a timeout that doubles as a deadlock detector, and (in
//! [`workloads`]) the real programs that are run with and without it.

#![allow(dead_code)] // each test crate uses a different part

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use memalloc_core::Policy;

pub mod workloads;

#[allow(unused_imports)] // each test crate uses a different part
pub use workloads::{clean_command, installed};

/// The longest a single program run may take before it counts as hung.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The `libmemalloc_preload.so` that cargo built with these tests: in
/// `target/<profile>/deps/`, beside the test binary (cargo copies it up to
/// `target/<profile>/` only when the library itself is what was asked for).
pub fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("target/<profile>/deps");
    let lib = [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|dir| dir.join("libmemalloc_preload.so"))
        .find(|lib| lib.is_file());
    lib.unwrap_or_else(|| panic!("no libmemalloc_preload.so in {}: cargo builds it with these tests", deps.display()))
}

/// A fresh, empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("preload").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Compiles `preload/tests/<name>.c` (once per test binary) and returns the executable.
pub fn compile_c(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(exe) = built.get(name) {
        return exe.clone();
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(format!("{name}.c"));
    let exe = scratch(&format!("bin-{name}")).join(name);
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-fno-builtin", "-pthread"])
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-ldl")
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cc.to_string_lossy()));
    assert!(out.status.success(), "compiling {}:\n{}", source.display(), String::from_utf8_lossy(&out.stderr));
    built.insert(name.to_owned(), exe.clone());
    exe
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub status: ExitStatus,
}

impl Outcome {
    /// The stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// The preload's modes: the fast default (thread caches, slabs, arenas) and the exact
/// one (`MEMALLOC_FRONT=off MEMALLOC_ARENAS=1`: every call through one arena's policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Fast,
    Exact,
}

impl Mode {
    /// Both modes.
    pub const ALL: [Mode; 2] = [Mode::Fast, Mode::Exact];

    /// The name the exit summary gives it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Fast => "fast",
            Mode::Exact => "exact",
        }
    }

    /// Sets the environment variables that choose this mode.
    pub fn apply(self, cmd: &mut Command) -> &mut Command {
        match self {
            Mode::Fast => cmd.env_remove("MEMALLOC_FRONT").env_remove("MEMALLOC_ARENAS"),
            Mode::Exact => cmd.env("MEMALLOC_FRONT", "off").env("MEMALLOC_ARENAS", "1"),
        }
    }
}

/// Adds the preload with `policy` (in the fast mode) and the exit summary to `cmd`.
pub fn preload(cmd: &mut Command, policy: Policy) -> &mut Command {
    preload_in(cmd, policy, Mode::Fast)
}

/// Adds the preload with `policy` in `mode`, and the exit summary, to `cmd`.
pub fn preload_in(cmd: &mut Command, policy: Policy, mode: Mode) -> &mut Command {
    mode.apply(cmd.env("LD_PRELOAD", library()).env("MEMALLOC_POLICY", policy.name()).env("MEMALLOC_STATS", "1"))
}

/// Runs `cmd` with its output captured; panics if it runs longer than `timeout` (a hang:
/// most likely a deadlock), after killing it.
pub fn run(cmd: &mut Command, timeout: Duration) -> Outcome {
    let description = format!("{cmd:?}");
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
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} ran longer than {timeout:?}: hung (deadlock?)");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    Outcome { stdout, stderr, status }
}

/// Asserts that a preloaded run printed the exit summary for `policy`: the preload was
/// really active, and it reported no error.
pub fn assert_preload_was_active(what: &str, policy: Policy, outcome: &Outcome) {
    assert!(
        outcome.stderr.contains(&format!("policy {policy};")),
        "{what} under {policy}: no MEMALLOC_STATS summary on stderr, so the preload was not active:\n{}",
        outcome.stderr
    );
    for bad in ["aborting", "internal error", "unknown MEMALLOC"] {
        assert!(!outcome.stderr.contains(bad), "{what} under {policy}: stderr says {bad:?}:\n{}", outcome.stderr);
    }
}

/// Asserts that every exit summary of a preloaded run names `mode`.
pub fn assert_mode(what: &str, mode: Mode, outcome: &Outcome) {
    for line in outcome.stderr.lines().filter(|line| line.contains("; calls: ")) {
        assert!(line.contains(&format!("; mode {},", mode.name())), "{what} in the {mode:?} mode: {line}");
    }
}

/// Runs `make(dir)` once without the preload and once under every policy in each mode,
/// each in a fresh directory, and asserts that stdout and the exit status are the same
/// every time (and that the plain run succeeded).
pub fn same_with_and_without(name: &str, make: impl Fn(&Path) -> Command) {
    let root = scratch(name);
    let plain_dir = root.join("plain");
    fs::create_dir_all(&plain_dir).expect("create a run directory");
    let started = Instant::now();
    let plain = run(make(&plain_dir).current_dir(&plain_dir), TIMEOUT);
    assert!(plain.status.success(), "{name} fails without the preload ({}):\n{}", plain.status, plain.stderr);
    let mut timings = vec![format!("plain {:.1?}", started.elapsed())];
    for (mode, policy) in Mode::ALL.into_iter().flat_map(|mode| Policy::ALL.map(|policy| (mode, policy))) {
        let dir = root.join(format!("{}-{}", mode.name(), policy.name()));
        fs::create_dir_all(&dir).expect("create a run directory");
        let started = Instant::now();
        let preloaded = run(preload_in(&mut make(&dir), policy, mode).current_dir(&dir), TIMEOUT);
        timings.push(format!("{policy} ({}) {:.1?}", mode.name(), started.elapsed()));
        assert_eq!(preloaded.status.code(), plain.status.code(), "{name} under {policy}: exit status differs");
        assert_eq!(preloaded.status.success(), plain.status.success(), "{name} under {policy}: {}", preloaded.stderr);
        if preloaded.stdout != plain.stdout {
            let (a, b) = (plain.stdout_text(), preloaded.stdout_text());
            let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(a.lines().count());
            panic!(
                "{name} under {policy}: stdout differs from the plain run at line {}\nplain:     {:?}\npreloaded: {:?}\nstderr:\n{}",
                line + 1,
                a.lines().nth(line),
                b.lines().nth(line),
                preloaded.stderr
            );
        }
        assert_preload_was_active(name, policy, &preloaded);
        assert_mode(name, mode, &preloaded);
    }
    println!("{name}: {}", timings.join(", "));
}
