//! `memalloc replay TRACE`: replays a heap trace recorded by the preload library
//! (`MEMALLOC_TRACE=FILE`, format defined and parsed in `memalloc::trace`)
//! under each policy, and reports replay time, peak footprint, fragmentation over time and
//! the first failure at the given capacity.
//!
//! One process image is replayed: the one with the most heap calls (the first of them on
//! a tie), or the one of `--pid` with the most calls (a process that called `exec` has one
//! image per `S` line). Its calls are replayed in
//! order on a fresh allocator (`min_alignment` 16 by default, as the preload heap uses).
//! Trace addresses are mapped to the replay's own (`HashMap` trace address -> replay
//! block): `free` and `realloc` carry no sizes, the map knows them. A size of 0 asks for
//! 1 unit, as the preload heap does.
//!
//! - A call that failed in the trace (`-`) changed nothing there: it is skipped (counted).
//! - A call that succeeded in the trace but fails in the replay (out of memory) is a
//!   *failure*: counted, the first one reported by call index and line; the trace address
//!   is remembered as lost, so its later `free` is no error and its `realloc` becomes an
//!   allocation. A failed `realloc` keeps the old block under the new trace address.
//! - A call the trace itself makes inconsistent (a `free` or `realloc` of an address that
//!   is not live, an allocation returning an address that is still live, a `calloc` whose
//!   product overflows) is a *trace error*: counted, its line kept, and the replay goes
//!   on. Parse errors (a bad line) stop the command before any replay.
//! - A forked child (its parent is in the trace and has `F` lines) starts from a copy of
//!   its parent's heap at a fork that the trace does not identify, so the replay starts it
//!   empty: its `free` or `realloc` of an address it never got is counted as *inherited*,
//!   not as an error (a `realloc` of one becomes an allocation).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memalloc::trace::{Event, Reader, Record};
use memalloc::{Error, MemoryAllocator, Options, Policy};
use serde::Serialize;

use crate::plot;

/// At most this many trace errors are kept with their lines (all are counted).
const ERRORS_KEPT: usize = 10;

/// What to replay, and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// The trace file; `-` for standard input.
    pub trace: PathBuf,
    /// The policies to replay under.
    pub policies: Vec<Policy>,
    /// The capacity of the replay's allocator.
    pub capacity: usize,
    /// The replay's minimum alignment.
    pub min_alignment: usize,
    /// The process to replay; the one with the most calls when `None`.
    pub pid: Option<u64>,
    /// About how many fragmentation samples to take.
    pub samples: usize,
    /// Where the chart goes.
    pub out: PathBuf,
    /// Where to write the HTML page (chart and memory maps), if anywhere.
    pub html: Option<PathBuf>,
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The trace file.
    pub trace: PathBuf,
    /// The process replayed.
    pub pid: u64,
    /// Its parent.
    pub ppid: u64,
    /// Every process in the trace, in order of first appearance.
    pub processes: Vec<Process>,
    /// Heap calls of the replayed process.
    pub calls: usize,
    /// Of those, calls that failed in the trace (skipped).
    pub failed_in_trace: usize,
    /// `F` (fork) marks of the replayed process.
    pub forks: usize,
    /// Whether the process is a forked child of a traced process (see `inherited`).
    pub forked_child: bool,
    /// The replay's capacity.
    pub capacity: usize,
    /// The replay's minimum alignment.
    pub min_alignment: usize,
    /// One entry per policy.
    pub policies: Vec<PolicyReport>,
    /// The fragmentation chart.
    pub plot: PathBuf,
    /// The HTML page, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<PathBuf>,
}

/// A process image seen in the trace (a process that called `exec` has several, with the
/// same pid).
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    /// Its id.
    pub pid: u64,
    /// Its parent's id.
    pub ppid: u64,
    /// Its heap calls.
    pub calls: usize,
}

/// The replay under one policy.
#[derive(Debug, Serialize)]
pub struct PolicyReport {
    /// The policy's name.
    pub policy: String,
    /// Wall time of the replay in nanoseconds (fragmentation sampling excluded).
    pub replay_ns: u64,
    /// The highest address end (`address + size`) of any block during the replay.
    pub peak_end: usize,
    /// The highest sum of live sizes during the replay.
    pub peak_allocated: usize,
    /// Calls that succeeded in the trace but failed in the replay (out of memory).
    pub failed: usize,
    /// The first of them, if any.
    pub first_failure: Option<Failure>,
    /// Calls that the trace makes inconsistent (see the module documentation).
    pub trace_errors: usize,
    /// The first few of them.
    pub errors: Vec<LineError>,
    /// In a forked child: `free` or `realloc` of blocks it inherited from its parent.
    pub inherited: usize,
    /// The largest fragmentation sampled.
    pub max_fragmentation: f64,
    /// The fragmentation after the last call.
    pub final_fragmentation: f64,
    /// Fragmentation over time (`Fragmentation::ratio`: `1 - largest / free` over the
    /// free blocks below the heap top), sampled after every few calls.
    pub fragmentation: Vec<Sample>,
    /// The heap at the peak of the live sizes, and after a full compaction there.
    pub at_peak: AtPeak,
    /// The memory maps at every few samples, for the HTML page (empty without one).
    #[serde(skip)]
    pub maps: Vec<MapSample>,
}

/// The memory map after a call, as `map::encode` encodes it up to the heap top.
#[derive(Debug, Clone, Serialize)]
pub struct MapSample {
    /// Heap calls done so far.
    pub call: usize,
    /// The heap top (the end of the encoded range).
    pub top: usize,
    /// The fragmentation there.
    pub fragmentation: f64,
    /// `size, code` pairs tiling `[0, top)`.
    pub runs: Vec<usize>,
}

/// At most this many maps per policy in the HTML page.
const MAX_MAPS: usize = 100;
/// Each map of the HTML page merges its extents into about this many runs at most.
pub const MAP_RUNS: usize = 300;

/// The first call that failed in the replay.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Its index among the process's heap calls, from 1.
    pub call: usize,
    /// Its line in the trace file.
    pub line: usize,
    /// The call as the trace has it.
    pub event: String,
}

/// An inconsistency of the trace.
#[derive(Debug, Clone, Serialize)]
pub struct LineError {
    /// The line in the trace file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One fragmentation sample.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Heap calls done so far.
    pub call: usize,
    /// `1 - largest_free / free` below the heap top, 0 when nothing is free there.
    pub fragmentation: f64,
}

/// The calls of the process to replay.
struct Loaded {
    pid: u64,
    ppid: u64,
    processes: Vec<Process>,
    calls: Vec<Record>,
    forks: usize,
    forked_child: bool,
}

/// What `load` keeps of one process image besides its [`Process`] entry.
#[derive(Default)]
struct Image {
    /// Its heap calls, in order.
    calls: Vec<Record>,
    /// Its `F` lines.
    forks: usize,
    /// Whether it began with `S` (an empty heap, not a forked child's copy).
    started: bool,
}

/// Reads the trace and keeps the calls of one process.
fn load(path: &Path, pid: Option<u64>) -> Result<Loaded, Box<dyn StdError>> {
    let input: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    // One entry per process image: a pid's `P` blocks go to its latest image, and an `S`
    // line after the image has done anything starts a new one (the pid called `exec`).
    let mut processes: Vec<Process> = Vec::new();
    let mut images: Vec<Image> = Vec::new();
    let mut current: Option<usize> = None;
    let new_image = |processes: &mut Vec<Process>, images: &mut Vec<Image>, pid, ppid| {
        processes.push(Process { pid, ppid, calls: 0 });
        images.push(Image::default());
        processes.len() - 1
    };
    for record in Reader::new(input) {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        match record.event {
            Event::Process { pid, ppid } => {
                let at = processes.iter().rposition(|p| p.pid == pid);
                current = Some(at.unwrap_or_else(|| new_image(&mut processes, &mut images, pid, ppid)));
            }
            event => {
                // The reader guarantees a `P` line first.
                let mut at = current.ok_or("a call before any process line")?;
                match event {
                    Event::Start => {
                        if processes[at].calls > 0 || images[at].forks > 0 {
                            let Process { pid, ppid, .. } = processes[at];
                            at = new_image(&mut processes, &mut images, pid, ppid);
                            current = Some(at);
                        }
                        images[at].started = true;
                    }
                    Event::Fork => images[at].forks += 1,
                    _ => {
                        processes[at].calls += 1;
                        images[at].calls.push(record);
                    }
                }
            }
        }
    }
    // The image with the most calls (of `pid`'s, if given; a pid that called `exec` has
    // several): blocks are written when a buffer fills and at exit, so short-lived
    // children often come first in the file.
    let index = (0..processes.len())
        .rev()
        .filter(|&i| pid.is_none_or(|pid| processes[i].pid == pid))
        .max_by_key(|&i| processes[i].calls)
        .ok_or_else(|| match pid {
            None => format!("{}: the trace holds no process", path.display()),
            Some(pid) => {
                let known: Vec<String> = processes.iter().map(|p| p.pid.to_string()).collect();
                format!("{}: no process {pid} in the trace (processes: {})", path.display(), known.join(", "))
            }
        })?;
    let (pid, ppid) = (processes[index].pid, processes[index].ppid);
    // A forked child's stream may free its parent's blocks; an image that began with `S`
    // starts from an empty heap.
    let forked_child =
        !images[index].started && processes.iter().zip(&images).any(|(p, image)| p.pid == ppid && image.forks > 0);
    let Image { calls, forks, .. } = images.swap_remove(index);
    Ok(Loaded { pid, ppid, processes, calls, forks, forked_child })
}

/// Replays the trace under every configured policy and writes the chart.
pub fn run(config: &Config) -> Result<Report, Box<dyn StdError>> {
    let loaded = load(&config.trace, config.pid)?;
    let failed_in_trace = loaded.calls.iter().filter(|r| r.event.failed()).count();
    let mut policies = Vec::new();
    for &policy in &config.policies {
        let options = Options::new(config.capacity).policy(policy).min_alignment(config.min_alignment);
        let heap = MemoryAllocator::with_options(options).map_err(|e| format!("cannot create the allocator: {e}"))?;
        policies.push(replay(heap, &loaded.calls, config.samples, loaded.forked_child, config.html.is_some()));
    }
    std::fs::create_dir_all(&config.out).map_err(|e| format!("cannot create {}: {e}", config.out.display()))?;
    let plot_path = config.out.join("fragmentation.svg");
    let lines: Vec<plot::Line> = policies
        .iter()
        .map(|p| plot::Line {
            name: p.policy.clone(),
            points: p.fragmentation.iter().map(|s| (s.call as f64, s.fragmentation)).collect(),
        })
        .collect();
    let name = config.trace.file_name().map_or_else(|| "stdin".into(), |n| n.to_string_lossy().into_owned());
    plot::fraction_lines(
        &plot_path,
        &format!("Fragmentation over time: {name}, pid {}", loaded.pid),
        ("heap calls", "1 - largest free / free (below the heap top)"),
        &lines,
    )
    .map_err(|e| format!("cannot write {}: {e}", plot_path.display()))?;
    if let Some(html) = &config.html {
        let chart =
            std::fs::read_to_string(&plot_path).map_err(|e| format!("cannot read {}: {e}", plot_path.display()))?;
        let title = format!("memalloc replay: {name}, pid {}", loaded.pid);
        crate::html::write(html, &title, &chart, &policies)?;
    }
    Ok(Report {
        trace: config.trace.clone(),
        pid: loaded.pid,
        ppid: loaded.ppid,
        processes: loaded.processes,
        calls: loaded.calls.len(),
        failed_in_trace,
        forks: loaded.forks,
        forked_child: loaded.forked_child,
        capacity: config.capacity,
        min_alignment: config.min_alignment,
        policies,
        html: config.html.clone(),
        plot: plot_path,
    })
}

/// Where `memalloc map` stops its replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many heap calls (0: before the first).
    Call(usize),
    /// After the call at which the live sizes peaked (the first such call).
    Peak,
}

/// Where a replay stopped: the process and the call.
pub struct Stopped {
    /// The process replayed.
    pub pid: u64,
    /// Calls replayed.
    pub call: usize,
    /// Of the process's calls.
    pub calls: usize,
    /// Whether `call` is the peak of live sizes.
    pub peak: bool,
}

impl Stopped {
    /// E.g. "after call 5 of 12 (the peak of live bytes)".
    pub fn describe(&self) -> String {
        let peak = if self.peak { " (the peak of live bytes)" } else { "" };
        format!("after call {} of {}{peak}", self.call, self.calls)
    }
}

/// The heap of a replay of `trace` (as `memalloc replay` replays it, process `pid` or the
/// one with the most calls) stopped at `stop`.
pub fn heap_at(
    trace: &Path,
    pid: Option<u64>,
    options: Options,
    stop: Stop,
) -> Result<(MemoryAllocator, Stopped), Box<dyn StdError>> {
    let loaded = load(trace, pid)?;
    let heap = MemoryAllocator::with_options(options).map_err(|e| format!("cannot create the allocator: {e}"))?;
    let calls = loaded.calls.len();
    let call = match stop {
        Stop::Call(n) if n > calls => {
            return Err(format!(
                "{}: --step {n} is past the end: process {} has {}",
                trace.display(),
                loaded.pid,
                crate::plural(calls, "heap call")
            )
            .into());
        }
        Stop::Call(n) => n,
        Stop::Peak => {
            let mut replay = Replay::new(heap.clone(), loaded.forked_child);
            let mut peak_call = 0;
            for (i, record) in loaded.calls.iter().enumerate() {
                let before = replay.peak_allocated;
                replay.step(i + 1, record);
                if replay.peak_allocated > before {
                    peak_call = i + 1;
                }
            }
            peak_call
        }
    };
    let mut replay = Replay::new(heap, loaded.forked_child);
    for (i, record) in loaded.calls.iter().take(call).enumerate() {
        replay.step(i + 1, record);
    }
    Ok((replay.heap, Stopped { pid: loaded.pid, call, calls, peak: stop == Stop::Peak }))
}

/// What the replay holds for a trace address.
#[derive(Debug, Clone, Copy)]
enum Held {
    /// A block of the replay: its address and size in units.
    Live { addr: usize, size: usize },
    /// The call that returned the trace address failed in the replay.
    Lost,
}

/// The replay's state under one policy.
struct Replay {
    heap: MemoryAllocator,
    map: HashMap<usize, Held>,
    peak_end: usize,
    peak_allocated: usize,
    /// The sum of the sizes the replay holds now (kept here: `stats()` may scan).
    allocated: usize,
    failed: usize,
    first_failure: Option<Failure>,
    trace_errors: usize,
    errors: Vec<LineError>,
    /// Whether unknown addresses may be blocks inherited through a fork.
    forked_child: bool,
    inherited: usize,
}

impl Replay {
    fn new(heap: MemoryAllocator, forked_child: bool) -> Self {
        Replay {
            heap,
            map: HashMap::new(),
            peak_end: 0,
            peak_allocated: 0,
            allocated: 0,
            failed: 0,
            first_failure: None,
            trace_errors: 0,
            errors: Vec::new(),
            forked_child,
            inherited: 0,
        }
    }

    fn error(&mut self, line: usize, message: String) {
        self.trace_errors += 1;
        if self.errors.len() < ERRORS_KEPT {
            self.errors.push(LineError { line, message });
        }
    }

    fn failure(&mut self, call: usize, record: &Record) {
        self.failed += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(Failure { call, line: record.line, event: record.event.to_string() });
        }
    }

    /// Notes a block of the replay now live at `addr`.
    fn placed(&mut self, addr: usize, size: usize) {
        self.peak_end = self.peak_end.max(addr + size);
        self.allocated += size;
        self.peak_allocated = self.peak_allocated.max(self.allocated);
    }

    /// Frees the replay's block behind `held`, if it has one (a lost block has none).
    fn free_held(&mut self, held: Held, line: usize) {
        if let Held::Live { addr, size } = held {
            match self.heap.free(addr, size) {
                Ok(()) => self.allocated -= size,
                Err(e) => self.error(line, format!("internal: freeing the replay's block at {addr} failed: {e}")),
            }
        }
    }

    /// Takes the trace address `addr` for a new block; a live entry there is an error.
    fn claim(&mut self, addr: usize, line: usize) {
        if let Some(held) = self.map.remove(&addr) {
            self.error(line, format!("address {addr} returned while still live"));
            self.free_held(held, line);
        }
    }

    /// An allocation of `units` (aligned to `align`) for trace address `result`.
    fn allocate(&mut self, call: usize, record: &Record, units: usize, align: usize, result: usize) {
        self.claim(result, record.line);
        let placed = if align <= 1 { self.heap.allocate(units) } else { self.heap.allocate_aligned(units, align) };
        let held = match placed {
            Ok(addr) => {
                self.placed(addr, units);
                Held::Live { addr, size: units }
            }
            Err(Error::OutOfMemory) => {
                self.failure(call, record);
                Held::Lost
            }
            Err(e) => {
                self.error(record.line, format!("the replay rejected `{}`: {e}", record.event));
                Held::Lost
            }
        };
        self.map.insert(result, held);
    }

    /// One heap call (`call` is its index, from 1).
    fn step(&mut self, call: usize, record: &Record) {
        let line = record.line;
        match record.event {
            Event::Malloc { size, addr: Some(result) } => self.allocate(call, record, size.max(1), 1, result),
            Event::Aligned { align, size, addr: Some(result) } => {
                self.allocate(call, record, size.max(1), align, result)
            }
            Event::Calloc { count, size, addr: Some(result) } => match count.checked_mul(size) {
                Some(total) => self.allocate(call, record, total.max(1), 1, result),
                None => {
                    self.error(line, format!("calloc({count}, {size}) overflows but succeeded in the trace"));
                    self.claim(result, line);
                    self.map.insert(result, Held::Lost);
                }
            },
            Event::Free { addr } => match self.map.remove(&addr) {
                Some(held) => self.free_held(held, line),
                None if self.forked_child => self.inherited += 1,
                None => self.error(line, format!("free of address {addr}, which is not live")),
            },
            Event::Realloc { old, size, addr: Some(result) } => {
                let units = size.max(1);
                match self.map.remove(&old) {
                    Some(Held::Live { addr, size: old_units }) => {
                        if result != old {
                            self.claim(result, line);
                        }
                        let held = match self.heap.reallocate(addr, old_units, units) {
                            Ok(new_addr) => {
                                self.allocated -= old_units;
                                self.placed(new_addr, units);
                                Held::Live { addr: new_addr, size: units }
                            }
                            Err(e) => {
                                if e == Error::OutOfMemory {
                                    self.failure(call, record);
                                } else {
                                    self.error(line, format!("the replay rejected `{}`: {e}", record.event));
                                }
                                // The block stays as it was; the program now knows it by `result`.
                                Held::Live { addr, size: old_units }
                            }
                        };
                        self.map.insert(result, held);
                    }
                    Some(Held::Lost) => self.allocate(call, record, units, 1, result),
                    None => {
                        if self.forked_child {
                            self.inherited += 1;
                        } else {
                            self.error(line, format!("realloc of address {old}, which is not live"));
                        }
                        self.allocate(call, record, units, 1, result);
                    }
                }
            }
            // Failed in the trace: nothing changed there.
            Event::Malloc { addr: None, .. }
            | Event::Calloc { addr: None, .. }
            | Event::Realloc { addr: None, .. }
            | Event::Aligned { addr: None, .. } => {}
            // Markers are not calls (`load` keeps only calls).
            Event::Process { .. } | Event::Fork | Event::Start => {}
        }
    }

    /// The fragmentation now (`Fragmentation::ratio`: free space below the heap top).
    fn fragmentation(&self) -> f64 {
        self.heap.fragmentation().ratio()
    }
}

/// The heap at the trace's peak, and what one full compaction there would do.
#[derive(Debug, Clone, Serialize)]
pub struct AtPeak {
    /// The call after which the live sizes peaked (the first such call).
    pub call: usize,
    /// The fragmentation there.
    pub fragmentation: f64,
    /// The fragmentation after `compact` without limits.
    pub compacted_fragmentation: f64,
    /// The heap top there, and after the compaction.
    pub top: usize,
    /// See `top`.
    pub compacted_top: usize,
    /// Units the compaction moves (the sum of the moved allocations' sizes).
    pub units_moved: usize,
    /// Allocations it moves.
    pub moves: usize,
}

/// Replays `calls` on `heap` up to the end of call `peak` (untimed), then compacts a copy.
fn at_peak(heap: MemoryAllocator, calls: &[Record], peak: usize, forked_child: bool) -> AtPeak {
    let mut replay = Replay::new(heap, forked_child);
    for (i, record) in calls.iter().take(peak).enumerate() {
        replay.step(i + 1, record);
    }
    let before = replay.heap.fragmentation();
    let moves = replay.heap.compact(usize::MAX, usize::MAX);
    let after = replay.heap.fragmentation();
    AtPeak {
        call: peak,
        fragmentation: before.ratio(),
        compacted_fragmentation: after.ratio(),
        top: before.top,
        compacted_top: after.top,
        units_moved: moves.iter().map(|m| m.size).sum(),
        moves: moves.len(),
    }
}

/// Replays `calls` on `heap`, sampling the fragmentation about `samples` times;
/// `forked_child` as [`Report::forked_child`].
/// With `maps`, the memory map is encoded at every few samples (at most [`MAX_MAPS`]).
fn replay(heap: MemoryAllocator, calls: &[Record], samples: usize, forked_child: bool, maps: bool) -> PolicyReport {
    let policy = heap.policy();
    let fresh = heap.clone();
    let mut replay = Replay::new(heap, forked_child);
    let every = calls.len().div_ceil(samples.max(1)).max(1);
    let mut points = vec![Sample { call: 0, fragmentation: 0.0 }];
    // Samples are taken after call 0 and every `every` calls (and after the last one).
    let map_every = (calls.len() / every + 2).div_ceil(MAX_MAPS).max(1);
    let mut map_samples = Vec::new();
    if maps {
        map_samples.push(MapSample { call: 0, top: 0, fragmentation: 0.0, runs: Vec::new() });
    }
    let mut elapsed = Duration::ZERO;
    let mut chunk_start = Instant::now();
    let mut peak_call = 0;
    for (i, record) in calls.iter().enumerate() {
        let call = i + 1;
        let peak_before = replay.peak_allocated;
        replay.step(call, record);
        if replay.peak_allocated > peak_before {
            peak_call = call;
        }
        if call % every == 0 || call == calls.len() {
            elapsed += chunk_start.elapsed();
            points.push(Sample { call, fragmentation: replay.fragmentation() });
            if maps && ((points.len() - 1) % map_every == 0 || call == calls.len()) {
                let f = replay.heap.fragmentation();
                let runs = crate::map::encode(&replay.heap, f.top, MAP_RUNS);
                map_samples.push(MapSample { call, top: f.top, fragmentation: f.ratio(), runs });
            }
            chunk_start = Instant::now();
        }
    }
    elapsed += chunk_start.elapsed();
    let max_fragmentation = points.iter().map(|s| s.fragmentation).fold(0.0, f64::max);
    let final_fragmentation = points.last().map_or(0.0, |s| s.fragmentation);
    let at_peak = at_peak(fresh, calls, peak_call, forked_child);
    PolicyReport {
        policy: policy.name().to_string(),
        replay_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        peak_end: replay.peak_end,
        peak_allocated: replay.peak_allocated,
        failed: replay.failed,
        first_failure: replay.first_failure,
        trace_errors: replay.trace_errors,
        errors: replay.errors,
        inherited: replay.inherited,
        max_fragmentation,
        final_fragmentation,
        fragmentation: points,
        at_peak,
        maps: map_samples,
    }
}

/// A duration in nanoseconds, in a readable unit.
fn duration_text(ns: u64) -> String {
    match ns {
        ns if ns >= 1_000_000_000 => format!("{:.2} s", ns as f64 / 1e9),
        ns if ns >= 1_000_000 => format!("{:.2} ms", ns as f64 / 1e6),
        ns if ns >= 1_000 => format!("{:.1} µs", ns as f64 / 1e3),
        ns => format!("{ns} ns"),
    }
}

/// The report as text.
pub fn text(report: &Report) -> String {
    let mut out = format!(
        "memalloc replay {}: process {} (parent {}), {} heap calls ({} failed in the trace, skipped), {}\n\
         replayed at capacity {} with minimum alignment {}\n",
        report.trace.display(),
        report.pid,
        report.ppid,
        report.calls,
        report.failed_in_trace,
        crate::plural(report.forks, "fork mark"),
        crate::bench::capacity_text(report.capacity),
        report.min_alignment,
    );
    if report.processes.len() > 1 {
        let mut others: Vec<&Process> = report.processes.iter().filter(|p| p.pid != report.pid).collect();
        others.sort_by_key(|p| std::cmp::Reverse(p.calls));
        let mut shown: Vec<String> = others.iter().take(6).map(|p| format!("{} ({} calls)", p.pid, p.calls)).collect();
        if others.len() > shown.len() {
            shown.push(format!("and {} more", others.len() - shown.len()));
        }
        out.push_str(&format!("other processes in the trace, not replayed (use --pid): {}\n", shown.join(", ")));
    }
    if report.forked_child {
        let inherited = report.policies.first().map_or(0, |p| p.inherited);
        out.push_str(&format!(
            "a forked child: the replay starts it from an empty heap; calls on blocks inherited from its parent: \
             {inherited} (not replayed)\n"
        ));
    }
    out.push('\n');
    let mut rows = vec![
        [
            "policy",
            "replay time",
            "peak end",
            "peak allocated",
            "failed",
            "first failure",
            "max frag",
            "final frag",
            "trace errors",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in &report.policies {
        rows.push(vec![
            p.policy.clone(),
            duration_text(p.replay_ns),
            p.peak_end.to_string(),
            p.peak_allocated.to_string(),
            p.failed.to_string(),
            p.first_failure.as_ref().map_or("-".into(), |f| format!("call {} (line {})", f.call, f.line)),
            format!("{:.3}", p.max_fragmentation),
            format!("{:.3}", p.final_fragmentation),
            p.trace_errors.to_string(),
        ]);
    }
    out.push_str(&crate::format_table(&rows));
    if !report.policies.is_empty() {
        out.push_str("\nat the peak of live bytes, and after a full compaction there (compact without limits):\n");
        let mut rows = vec![
            [
                "policy",
                "peak at call",
                "frag at peak",
                "top",
                "frag compacted",
                "top compacted",
                "units moved",
                "moves",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for p in &report.policies {
            let a = &p.at_peak;
            rows.push(vec![
                p.policy.clone(),
                a.call.to_string(),
                format!("{:.3}", a.fragmentation),
                a.top.to_string(),
                format!("{:.3}", a.compacted_fragmentation),
                a.compacted_top.to_string(),
                a.units_moved.to_string(),
                a.moves.to_string(),
            ]);
        }
        out.push_str(&crate::format_table(&rows));
    }
    if let Some(p) = report.policies.iter().find(|p| p.trace_errors > 0) {
        out.push_str(&format!("\ntrace errors ({}):\n", p.trace_errors));
        for e in &p.errors {
            out.push_str(&format!("  line {}: {}\n", e.line, e.message));
        }
    }
    out.push_str(&format!("\nwrote {}\n", report.plot.display()));
    if let Some(html) = &report.html {
        out.push_str(&format!("wrote {}\n", html.display()));
    }
    out
}

/// The first trace error, if the trace has any (they are the same under every policy).
pub fn first_trace_error(report: &Report) -> Option<(usize, &LineError)> {
    report.policies.iter().find(|p| p.trace_errors > 0).and_then(|p| p.errors.first().map(|e| (p.trace_errors, e)))
}
