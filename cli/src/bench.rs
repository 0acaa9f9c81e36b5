//! `memalloc bench`: every policy side by side on two seeded workloads (`workload.rs`):
//!
//! - **Churn**: time per operation (free a random live block, allocate a new one) at
//!   several numbers of live blocks; the heap is [`CHURN_FILL`] full after the pre-fill.
//! - **Fragmentation**: the fill (allocated / capacity) at the first failed allocation of
//!   the rising-fill workload.
//!
//! Each figure is the median of several repetitions (churn: consecutive timed runs of
//! `ops` steps on the same heap; fragmentation: runs from seeds `seed, seed+1, ...`).
//! The results are a table, or JSON with `--json`, and two SVG charts.

use std::error::Error;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memalloc::Policy;
use serde::Serialize;

use crate::plot;
use crate::workload::{CHURN_FILL, Churn, MAX_SIZE, fill_at_first_failure, median, run_churn};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The policies to compare.
    pub policies: Vec<Policy>,
    /// Live-block counts of the churn.
    pub live: Vec<usize>,
    /// Timed churn steps per repetition.
    pub ops: usize,
    /// Repetitions of each measurement; the median is reported.
    pub reps: usize,
    /// The seed of every workload.
    pub seed: u64,
    /// The capacity of the fragmentation workload.
    pub frag_capacity: usize,
    /// Where the charts go.
    pub out: PathBuf,
    /// Whether to show a progress bar (on standard error, when it is a terminal).
    pub progress: bool,
}

/// Churn steps run untimed before the first repetition, to reach the steady state.
fn warmup(ops: usize) -> usize {
    ops / 10
}

/// All results, as `--json` prints them.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The seed of every workload.
    pub seed: u64,
    /// Repetitions behind each median.
    pub repetitions: usize,
    /// Timed churn steps per repetition.
    pub ops_per_repetition: usize,
    /// Sizes are log-uniform in `[1, max_size]`.
    pub max_size: usize,
    /// The fraction of the churn's capacity that its live blocks fill after the pre-fill.
    pub churn_fill: f64,
    /// The capacity of the fragmentation workload.
    pub fragmentation_capacity: usize,
    /// One entry per policy, in `Policy::ALL` order.
    pub policies: Vec<PolicyResult>,
    /// The SVG charts written.
    pub plots: Vec<PathBuf>,
}

/// One policy's results.
#[derive(Debug, Serialize)]
pub struct PolicyResult {
    /// The policy's name.
    pub policy: String,
    /// One entry per live-block count, ascending.
    pub churn: Vec<ChurnResult>,
    /// The median fill at the first failure.
    pub fill_at_first_failure: f64,
    /// The fill of each repetition.
    pub fill_repetitions: Vec<f64>,
}

/// The churn at one live-block count.
#[derive(Debug, Serialize)]
pub struct ChurnResult {
    /// Live blocks.
    pub live: usize,
    /// The capacity of the heap.
    pub capacity: usize,
    /// Median nanoseconds per operation (one free and one allocation).
    pub ns_per_op: f64,
    /// Nanoseconds per operation of each repetition.
    pub ns_per_op_repetitions: Vec<f64>,
    /// Timed allocations that failed (out of memory); 0 expected.
    pub failed_allocations: usize,
}

/// Runs every measurement and writes the charts.
pub fn run(config: &Config) -> Result<Report, Box<dyn Error>> {
    let mut live = config.live.clone();
    live.sort_unstable();
    live.dedup();
    let reps = config.reps.max(1);
    let ops = config.ops.max(1);
    let steps = warmup(ops) + reps * ops;
    let total = (config.policies.len() * (live.len() * (reps + 1) + reps)) as u64;
    let bar = progress_bar(total, config.progress);

    let mut results: Vec<PolicyResult> = config
        .policies
        .iter()
        .map(|p| PolicyResult {
            policy: p.name().to_string(),
            churn: Vec::new(),
            fill_at_first_failure: 0.0,
            fill_repetitions: Vec::new(),
        })
        .collect();
    // One workload per live count, shared by every policy.
    for &n in &live {
        bar.set_message(format!("generating the churn at {} live blocks", count(n)));
        let churn = Churn::generate(n, steps, config.seed);
        for (policy, result) in config.policies.iter().zip(&mut results) {
            bar.set_message(format!("{policy}: churn at {} live blocks", count(n)));
            bar.inc(1);
            let run = run_churn(*policy, &churn, warmup(ops), reps, ops, || bar.inc(1));
            result.churn.push(ChurnResult {
                live: n,
                capacity: churn.capacity,
                ns_per_op: median(&run.ns_per_op),
                ns_per_op_repetitions: run.ns_per_op,
                failed_allocations: run.failed,
            });
        }
    }
    for (policy, result) in config.policies.iter().zip(&mut results) {
        bar.set_message(format!("{policy}: fill at the first failure"));
        for rep in 0..reps {
            result.fill_repetitions.push(fill_at_first_failure(
                *policy,
                config.frag_capacity,
                config.seed + rep as u64,
            ));
            bar.inc(1);
        }
        result.fill_at_first_failure = median(&result.fill_repetitions);
    }
    bar.finish_and_clear();

    let plots = write_plots(&config.out, &results, reps)?;
    Ok(Report {
        seed: config.seed,
        repetitions: reps,
        ops_per_repetition: ops,
        max_size: MAX_SIZE,
        churn_fill: CHURN_FILL,
        fragmentation_capacity: config.frag_capacity,
        policies: results,
        plots,
    })
}

/// A progress bar on standard error; hidden when `show` is false or stderr is no terminal.
fn progress_bar(total: u64, show: bool) -> ProgressBar {
    let target = if show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Writes the two charts into `out` (created if needed) and returns their paths.
fn write_plots(out: &Path, results: &[PolicyResult], reps: usize) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let churn_path = out.join("churn_ns_per_op.svg");
    let lines: Vec<plot::Line> = results
        .iter()
        .map(|r| plot::Line {
            name: r.policy.clone(),
            points: r.churn.iter().map(|c| (c.live as f64, c.ns_per_op)).collect(),
        })
        .collect();
    plot::log_x_lines(
        &churn_path,
        &format!("Churn: time per free + allocate (median of {reps})"),
        ("live blocks", "ns per operation"),
        &lines,
    )
    .map_err(|e| format!("cannot write {}: {e}", churn_path.display()))?;
    let fill_path = out.join("fill_at_first_failure.svg");
    let bars: Vec<(String, f64)> = results.iter().map(|r| (r.policy.clone(), r.fill_at_first_failure)).collect();
    plot::fraction_bars(
        &fill_path,
        &format!("Fill (allocated / capacity) at the first failed allocation (median of {reps})"),
        "fill at first failure",
        &bars,
    )
    .map_err(|e| format!("cannot write {}: {e}", fill_path.display()))?;
    Ok(vec![churn_path, fill_path])
}

/// `n` as a short count: 1000 -> "1k", 1000000 -> "1M".
pub fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The results as a text table.
pub fn table(report: &Report) -> String {
    let mut live: Vec<usize> = report.policies.iter().flat_map(|p| p.churn.iter().map(|c| c.live)).collect();
    live.sort_unstable();
    live.dedup();
    let mut header = vec!["policy".to_string()];
    header.extend(live.iter().map(|&n| format!("{} live", count(n))));
    header.push("fill at 1st failure".to_string());
    let mut rows = vec![header];
    for p in &report.policies {
        let mut row = vec![p.policy.clone()];
        for &n in &live {
            let cell = p.churn.iter().find(|c| c.live == n).map_or("-".to_string(), |c| {
                let failed = if c.failed_allocations > 0 {
                    format!(" ({} failed)", c.failed_allocations)
                } else {
                    String::new()
                };
                format!("{:.0} ns{failed}", c.ns_per_op)
            });
            row.push(cell);
        }
        row.push(format!("{:.3}", p.fill_at_first_failure));
        rows.push(row);
    }
    let mut text = format!(
        "memalloc bench: median of {} repetitions (seed {}); sizes log-uniform in [1, {}]\n\
         churn: ns per operation (free a random live block + allocate a new one), {} operations per repetition, \
         heap {:.0}% full\n\
         fragmentation: fill = allocated / capacity at the first failed allocation, capacity {}, rising fill\n\n",
        report.repetitions,
        report.seed,
        report.max_size,
        report.ops_per_repetition,
        report.churn_fill * 100.0,
        capacity_text(report.fragmentation_capacity),
    );
    text.push_str(&crate::format_table(&rows));
    text.push('\n');
    for path in &report.plots {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    text
}

/// A capacity as `2^k` when it is a power of two, else in decimal.
pub fn capacity_text(capacity: usize) -> String {
    if capacity.is_power_of_two() { format!("2^{}", capacity.trailing_zeros()) } else { capacity.to_string() }
}
