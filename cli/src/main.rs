//! The `memalloc` command: a demo of the allocator on the reference's worked example, a
//! benchmark comparing the placement policies, and the replay of heap traces.
//!
//! - `memalloc demo` replays the worked example of docs/REFERENCE-ALGORITHM.md and prints each call, its
//!   result and the memory map after it.
//! - `memalloc bench` times every policy on a seeded churn and measures its fragmentation
//!   (`bench.rs`, workloads in `workload.rs`, charts in `plot.rs`).
//! - `memalloc replay TRACE` replays a trace recorded by the preload library under every
//!   policy (`replay.rs`; the format is read by `memalloc::trace`); `--html FILE` writes
//!   a page with the chart and the memory maps over time (`html.rs`).
//! - `memalloc map` draws an allocator's memory map as an SVG file, from a trace replayed
//!   to a call or to its peak, or from a snapshot (`map.rs`).

mod bench;
mod html;
mod map;
mod plot;
mod replay;
mod workload;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memalloc::{MemoryAllocator, Options, Policy};

/// memalloc: a manager for one contiguous range [0, capacity).
#[derive(Parser)]
#[command(name = "memalloc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay the reference's worked example, printing each call, its result and the map.
    Demo {
        /// Placement policy: first-fit, best-fit (and any other the library offers).
        #[arg(long, default_value = "first-fit", value_parser = parse_policy)]
        policy: Policy,
    },
    /// Compare the policies: time per operation at several numbers of live blocks, and the
    /// fill at the first failed allocation. Prints a table of medians and writes SVG charts.
    Bench {
        /// Live-block counts for the timing, comma-separated; k and M stand for 1000 and
        /// 1000000 [default: 1k,10k,100k, or the decades up to --max-live]
        #[arg(long, visible_alias = "sizes", value_delimiter = ',', value_parser = parse_live, conflicts_with = "max_live")]
        live: Option<Vec<usize>>,
        /// Time the decades 1k, 10k, ... up to this count: `--max-live 1M` adds 1M live blocks.
        #[arg(long, value_parser = parse_live)]
        max_live: Option<usize>,
        /// Timed operations per repetition.
        #[arg(long, default_value = "100k", value_parser = parse_count)]
        ops: usize,
        /// Repetitions of each measurement; the median is reported.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        reps: u32,
        /// The seed of every workload.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The capacity of the fragmentation workload (2^k accepted).
        #[arg(long, default_value = "2^26", value_parser = parse_capacity)]
        frag_capacity: usize,
        /// Only these policies, comma-separated [default: all].
        #[arg(long, value_delimiter = ',', value_parser = parse_policy)]
        policy: Vec<Policy>,
        /// Directory for the SVG charts.
        #[arg(long, default_value = "target/memalloc-bench")]
        out: PathBuf,
        /// Print the results as JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Replay a heap trace recorded by the preload library (MEMALLOC_TRACE=FILE) under each
    /// policy: replay time, peak footprint, fragmentation over time, first failure.
    ///
    /// Exit status: 0 when the replay ran; 1 when it could not (a bad trace line is named by
    /// its number); 2 for a bad command line; 3 when it ran but the trace is inconsistent
    /// (e.g. a free of an address that is not live), after the report.
    Replay {
        /// The trace file; `-` reads standard input.
        trace: PathBuf,
        /// Only this policy [default: every policy].
        #[arg(long, value_parser = parse_policy)]
        policy: Option<Policy>,
        /// The replay's capacity (2^k, k/M/G/T and Ki/Mi/Gi/Ti accepted).
        #[arg(long, default_value = "2^40", value_parser = parse_capacity)]
        capacity: usize,
        /// The replay's minimum alignment (the preload heap's is 16).
        #[arg(long, default_value_t = 16)]
        min_alignment: usize,
        /// The process to replay, when the trace holds several [default: the one with the
        /// most heap calls]; of a process that called exec, its image with the most calls.
        #[arg(long)]
        pid: Option<u64>,
        /// About how many fragmentation samples to take.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Directory for the SVG chart.
        #[arg(long, default_value = "target/memalloc-replay")]
        out: PathBuf,
        /// Also write one self-contained HTML page: the chart, and each policy's memory map
        /// at any sampled call, chosen with a slider.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw an allocator's memory map as an SVG file: extents by kind (allocated, shaded
    /// by tag; free; padding), an address axis, the largest free block marked and the
    /// fragmentation in the caption. The heap is a trace replayed under one policy up to a
    /// call or its peak of live bytes, or a snapshot written by `MemoryAllocator::save`.
    Map {
        /// The trace file (`-` reads standard input); not with --snapshot.
        #[arg(required_unless_present = "snapshot", conflicts_with = "snapshot")]
        trace: Option<PathBuf>,
        /// A snapshot file to draw instead of a trace.
        #[arg(long, conflicts_with_all = ["policy", "step", "at", "pid", "capacity", "min_alignment"])]
        snapshot: Option<PathBuf>,
        /// The replay's policy.
        #[arg(long, value_parser = parse_policy)]
        policy: Option<Policy>,
        /// Stop the replay after this many heap calls (0: the empty heap).
        #[arg(long, conflicts_with = "at")]
        step: Option<usize>,
        /// Stop the replay at `peak` (the peak of live bytes) [default: peak].
        #[arg(long, value_parser = ["peak"])]
        at: Option<String>,
        /// The replay's capacity (as replay's).
        #[arg(long, value_parser = parse_capacity)]
        capacity: Option<usize>,
        /// The replay's minimum alignment [default: 16].
        #[arg(long)]
        min_alignment: Option<usize>,
        /// The process to replay (as replay's).
        #[arg(long)]
        pid: Option<u64>,
        /// The SVG file to write.
        #[arg(long, short, default_value = "target/memalloc-map.svg")]
        out: PathBuf,
    },
}

fn parse_policy(name: &str) -> Result<Policy, String> {
    name.parse().map_err(|_| {
        let known: Vec<_> = Policy::ALL.iter().map(|p| p.name()).collect();
        format!("unknown policy '{name}' (known: {})", known.join(", "))
    })
}

/// One call of the worked example. A free names the step whose allocation it frees, so
/// that the example replays on the addresses the policy returned, whatever they are.
#[derive(Clone, Copy)]
enum Call {
    Allocate(usize),
    /// Frees the allocation of this step (1-based), with its size.
    Free(usize),
}

/// The worked example of docs/REFERENCE-ALGORITHM.md, on a capacity of 100: under first
/// fit, the frees are the reference's free(20, 30), free(0, 20) and free(20, 25).
const WORKED_EXAMPLE: [Call; 7] = [
    Call::Allocate(20),
    Call::Allocate(30),
    Call::Allocate(40),
    Call::Free(2),
    Call::Allocate(25),
    Call::Free(1),
    Call::Free(5),
];

/// The step whose allocation the closing illegal call frees with a wrong size.
const MISMATCH_STEP: usize = 3;

/// The worked example under `policy`, as `memalloc demo` prints it. A policy that cannot
/// place an allocation shows the error; a free of that allocation is skipped.
fn demo(policy: Policy) -> Result<String, memalloc::Error> {
    use std::fmt::Write as _;
    let mut heap = MemoryAllocator::with_options(Options::new(100).policy(policy))?;
    let mut out = format!("memalloc {} demo: the worked example, capacity 100, policy {policy}\n\n", memalloc::VERSION);
    // The (address, size) each allocation step got, when it succeeded.
    let mut placed: [Option<(usize, usize)>; WORKED_EXAMPLE.len()] = [None; WORKED_EXAMPLE.len()];
    let _ = writeln!(out, "start              {heap}");
    for (step, call) in WORKED_EXAMPLE.into_iter().enumerate() {
        let (text, result) = match call {
            Call::Allocate(size) => {
                let result = heap.allocate(size);
                placed[step] = result.ok().map(|addr| (addr, size));
                (format!("allocate({size})"), result.map(|addr| addr.to_string()))
            }
            Call::Free(of) => match placed[of - 1] {
                Some((addr, size)) => (format!("free({addr}, {size})"), heap.free(addr, size).map(|()| "ok".into())),
                None => (format!("free(step {of})"), Ok(format!("skipped: step {of} allocated nothing"))),
            },
        };
        let result = result.unwrap_or_else(|error| format!("error: {error}"));
        let _ = writeln!(out, "{}. {text:<14} -> {result:<5}  {heap}", step + 1);
    }
    // One illegal call, to show that errors are values and change nothing: the block of
    // step 3 (under first fit, the reference's free(50, 10)) freed with a wrong size.
    let (addr, size) = placed[MISMATCH_STEP - 1].map_or((50, 10), |(addr, _)| (addr, 10));
    let before = heap.to_string();
    if let Err(error) = heap.free(addr, size) {
        let unchanged = heap.to_string() == before;
        let _ = writeln!(out, "\nfree({addr}, {size}) is rejected: {error}; the map is unchanged: {unchanged}");
    }
    let stats = heap.stats();
    let _ = writeln!(
        out,
        "stats: allocated {}, free {} in {} blocks, largest free block {}",
        stats.allocated, stats.free, stats.free_blocks, stats.largest_free
    );
    Ok(out)
}

/// Parses a count or capacity: decimal digits (`_` allowed), `2^k`, or a number with a
/// suffix: k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024).
fn parse_count(text: &str) -> Result<usize, String> {
    let bad = || format!("'{text}' is not a count (examples: 1000, 10k, 1M, 2^26, 64Mi)");
    if let Some(exponent) = text.strip_prefix("2^") {
        let k: u32 = exponent.parse().map_err(|_| bad())?;
        return 1usize.checked_shl(k).filter(|_| k < usize::BITS).ok_or_else(|| format!("2^{k} is too large"));
    }
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (digits, scale) =
        units.iter().find_map(|&(unit, scale)| text.strip_suffix(unit).map(|d| (d, scale))).unwrap_or((text, 1));
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(scale).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses a number of live blocks: as [`parse_count`], and positive (a churn at 0 live
/// blocks frees nothing: there is nothing to time).
fn parse_live(text: &str) -> Result<usize, String> {
    match parse_count(text)? {
        0 => Err("a live-block count must be positive (a churn needs live blocks to free)".to_string()),
        n => Ok(n),
    }
}

/// Parses a capacity: as [`parse_count`], and positive.
fn parse_capacity(text: &str) -> Result<usize, String> {
    match parse_count(text)? {
        0 => Err("the capacity must be positive".to_string()),
        n => Ok(n),
    }
}

/// Rows of cells as a text table: the first row is the header, columns are padded, the
/// first left-aligned and the others right-aligned.
fn format_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c == 0 { format!("{cell:<w$}", w = widths[c]) } else { format!("{cell:>w$}", w = widths[c]) }
                },
            )
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1)));
            out.push('\n');
        }
    }
    out
}

/// The policies to run: `chosen`, or every one when it is empty.
fn policies_or_all(chosen: Vec<Policy>) -> Vec<Policy> {
    if chosen.is_empty() { Policy::ALL.to_vec() } else { chosen }
}

/// The decades 1000, 10000, ... up to `max` (at least 1000).
fn decades_up_to(max: usize) -> Vec<usize> {
    let mut live: Vec<usize> = vec![1000];
    while let Some(next) = live.last().and_then(|n| n.checked_mul(10)).filter(|&n| n <= max) {
        live.push(next);
    }
    live
}

/// `n` and `noun`, with an `s` unless `n` is 1.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Prints `value` as pretty JSON.
fn print_json(value: &impl serde::Serialize) -> Result<(), Box<dyn std::error::Error>> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    emit(&text)
}

/// Writes `text` to standard output. A closed pipe (`memalloc bench | head`) is no error:
/// the reader has what it wanted.
fn emit(text: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write the output: {e}").into()),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<ExitCode, Box<dyn std::error::Error>> = match cli.command {
        Command::Demo { policy } => {
            demo(policy).map_err(Into::into).and_then(|text| emit(&text)).map(|()| ExitCode::SUCCESS)
        }
        Command::Bench { live, max_live, ops, reps, seed, frag_capacity, policy, out, json, quiet } => {
            let live = live.unwrap_or_else(|| decades_up_to(max_live.unwrap_or(100_000)));
            let config = bench::Config {
                policies: policies_or_all(policy),
                live,
                ops,
                reps: reps as usize,
                seed,
                frag_capacity,
                out,
                progress: !quiet,
            };
            bench::run(&config).and_then(|report| {
                if json {
                    print_json(&report)?;
                } else {
                    emit(&bench::table(&report))?;
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Replay { trace, policy, capacity, min_alignment, pid, samples, out, html, json } => {
            let config = replay::Config {
                trace,
                policies: policies_or_all(policy.into_iter().collect()),
                capacity,
                min_alignment,
                pid,
                samples,
                out,
                html,
            };
            replay::run(&config).and_then(|report| {
                if json {
                    print_json(&report)?;
                } else {
                    emit(&replay::text(&report))?;
                }
                Ok(match replay::first_trace_error(&report) {
                    None => ExitCode::SUCCESS,
                    Some((count, first)) => {
                        eprintln!(
                            "memalloc: {}: the trace is inconsistent ({}); first: line {}: {}",
                            report.trace.display(),
                            plural(count, "error"),
                            first.line,
                            first.message
                        );
                        ExitCode::from(3)
                    }
                })
            })
        }
        Command::Map { trace, snapshot, policy, step, at: _, capacity, min_alignment, pid, out } => {
            let source = match (snapshot, trace) {
                (Some(path), _) => map::Source::Snapshot(path),
                (None, trace) => map::Source::Trace {
                    trace: trace.unwrap_or_else(|| PathBuf::from("-")),
                    options: Options::new(capacity.unwrap_or(1 << 40))
                        .policy(policy.unwrap_or(Policy::FirstFit))
                        .min_alignment(min_alignment.unwrap_or(16)),
                    pid,
                    at: step.map_or(replay::Stop::Peak, replay::Stop::Call),
                },
            };
            map::run(&map::Config { source, out }).and_then(|summary| {
                emit(&format!(
                    "wrote {}: {}; {}, {} drawn\n",
                    summary.out.display(),
                    summary.what,
                    plural(summary.extents, "extent"),
                    plural(summary.drawn, "rectangle")
                ))?;
                Ok(ExitCode::SUCCESS)
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("memalloc: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_in_every_notation() {
        assert_eq!(parse_count("1000"), Ok(1000));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("2^26"), Ok(1 << 26));
        assert_eq!(parse_count("64Mi"), Ok(64 << 20));
        assert_eq!(parse_count("1Ti"), Ok(1 << 40));
        assert!(parse_count("2^64").is_err());
        assert!(parse_count("").is_err());
        assert!(parse_count("k").is_err());
        assert!(parse_count("-5").is_err());
        assert!(parse_count("12x").is_err());
        assert!(parse_count("99999999999T").is_err());
        assert_eq!(parse_capacity("0"), Err("the capacity must be positive".into()));
        assert_eq!(parse_capacity("1"), Ok(1));
        assert!(parse_live("0").is_err());
        assert_eq!(parse_live("1k"), Ok(1000));
    }

    #[test]
    fn decades() {
        assert_eq!(decades_up_to(100_000), [1000, 10_000, 100_000]);
        assert_eq!(decades_up_to(1_000_000), [1000, 10_000, 100_000, 1_000_000]);
        assert_eq!(decades_up_to(5), [1000]);
    }

    #[test]
    fn tables_align() {
        let rows = vec![vec!["a".to_string(), "bb".to_string()], vec!["ccc".to_string(), "d".to_string()]];
        assert_eq!(format_table(&rows), "a    bb\n-------\nccc   d\n");
    }
}
