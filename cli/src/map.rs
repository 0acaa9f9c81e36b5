//! `memalloc map`: an allocator's memory map as a self-contained SVG file.
//!
//! The heap comes from a trace replayed under one policy (as `memalloc replay` replays it)
//! up to a call or to the peak of live bytes, or from a snapshot written by
//! `MemoryAllocator::save`. The drawn range is `[0, end)`: the whole capacity when it is
//! small next to the heap top, else up to the top (the free space above it is one block,
//! named in the caption). The range is laid out in rows, like a hex dump, each row with its
//! first address on the left and offset ticks above; extents narrower than [`MERGE_PX`]
//! pixels are merged into runs drawn in the colour of the kind that covers most of the run,
//! so that the file holds at most about `ROW_PX / MERGE_PX` rectangles per row whatever the
//! number of extents.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use memalloc::{BlockKind, MemoryAllocator, Options};

use crate::plot;
use crate::replay;

/// Width of one row of the map, in pixels.
const ROW_PX: usize = 960;
/// Height of one row's bar, and the gap between rows (the offset ticks go there).
const ROW_HEIGHT: usize = 28;
const ROW_GAP: usize = 22;
/// At most this many rows.
const MAX_ROWS: usize = 16;
/// Extents per row that a row is meant to hold before another row is added.
const EXTENTS_PER_ROW: usize = 64;
/// Extents narrower than this many pixels are merged into runs.
const MERGE_PX: f64 = 2.0;
/// Left margin (the row addresses) and top margin (the title), in pixels.
const LEFT: usize = 96;
const TOP: usize = 56;

/// Where the heap of the map comes from.
pub enum Source {
    /// A trace replayed under one policy.
    Trace {
        /// The trace file (`-` for standard input).
        trace: PathBuf,
        /// The replay's options.
        options: Options,
        /// The process to replay (as `replay --pid`).
        pid: Option<u64>,
        /// Where the replay stops.
        at: replay::Stop,
    },
    /// A snapshot file.
    Snapshot(PathBuf),
}

/// What to draw and where.
pub struct Config {
    /// The heap's source.
    pub source: Source,
    /// The SVG file to write.
    pub out: PathBuf,
}

/// What `memalloc map` reports after writing the file.
pub struct Summary {
    /// The file written.
    pub out: PathBuf,
    /// What was drawn, in words.
    pub what: String,
    /// Extents of the map, and rectangles drawn for them.
    pub extents: usize,
    /// See `extents`.
    pub drawn: usize,
}

/// One run of the drawn map: `[start, start + size)`, its kind's code ([`code`]) and the
/// number of extents it stands for (more than 1 when narrow extents were merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First unit.
    pub start: usize,
    /// Units.
    pub size: usize,
    /// 0 free, 1 allocated without a tag, 2 padding, 3 + k a tagged allocation of shade k.
    pub code: u32,
    /// Extents merged into this run.
    pub extents: usize,
}

/// Tag shades: tagged allocations take the colours of `plot`'s series after the first.
pub const TAG_SHADES: usize = 7;

/// The code of an extent (see [`Run::code`]).
fn code(kind: BlockKind, tag: u64) -> u32 {
    match kind {
        BlockKind::Free => 0,
        BlockKind::Padding => 2,
        BlockKind::Allocated if tag == 0 => 1,
        BlockKind::Allocated => 3 + (tag % TAG_SHADES as u64) as u32,
    }
}

/// The fill colour of a code, as CSS.
pub fn fill(code: u32) -> String {
    match code {
        0 => "#e4e4e4".into(),
        1 => "#4a7ab5".into(),
        2 => "#f2b134".into(),
        c => {
            let (r, g, b) = plot::rgb(1 + (c as usize - 3) % TAG_SHADES);
            format!("#{r:02x}{g:02x}{b:02x}")
        }
    }
}

/// The extents of `heap` in `[0, end)` as runs, extents narrower than `min_units` merged
/// (a merged run takes the code that covers most of its units). Blocks tile the range, so
/// the runs do too.
pub fn runs(heap: &MemoryAllocator, end: usize, min_units: f64) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    // The run being merged: its start, size, extents and units per code.
    let mut pending: Option<(usize, usize, usize, [usize; 3 + TAG_SHADES])> = None;
    let flush = |pending: &mut Option<(usize, usize, usize, [usize; 3 + TAG_SHADES])>, out: &mut Vec<Run>| {
        if let Some((start, size, extents, units)) = pending.take() {
            let code = (0..units.len()).max_by_key(|&c| (units[c], std::cmp::Reverse(c))).unwrap_or(0) as u32;
            out.push(Run { start, size, code, extents });
        }
    };
    for block in heap.blocks() {
        if block.start >= end {
            break;
        }
        let size = block.size.min(end - block.start);
        let tag = if block.kind == BlockKind::Allocated { heap.tag_of(block.start).unwrap_or(0) } else { 0 };
        let c = code(block.kind, tag);
        if (size as f64) >= min_units {
            flush(&mut pending, &mut out);
            out.push(Run { start: block.start, size, code: c, extents: 1 });
            continue;
        }
        let run = pending.get_or_insert((block.start, 0, 0, [0; 3 + TAG_SHADES]));
        run.1 += size;
        run.2 += 1;
        run.3[c as usize] += size;
        if run.1 as f64 >= min_units {
            flush(&mut pending, &mut out);
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// The end of the drawn range: the capacity when it is small next to the heap top (or
/// small at all), else the top (the first 2^16 units of an empty heap).
pub fn drawn_end(capacity: usize, top: usize) -> usize {
    if capacity <= top.saturating_mul(2).max(1 << 16) {
        capacity
    } else if top == 0 {
        1 << 16
    } else {
        top
    }
}

/// Loads or replays the heap; returns it with a description.
fn heap(source: &Source) -> Result<(MemoryAllocator, String), Box<dyn StdError>> {
    match source {
        Source::Snapshot(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let heap = MemoryAllocator::load(&bytes)
                .map_err(|e| format!("{}: not a snapshot memalloc can load: {e}", path.display()))?;
            let name = file_name(path);
            Ok((heap, format!("snapshot {name}")))
        }
        Source::Trace { trace, options, pid, at } => {
            let (heap, at) = replay::heap_at(trace, *pid, *options, *at)?;
            Ok((heap, format!("{}, pid {}, {}", file_name(trace), at.pid, at.describe())))
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| "stdin".into(), |n| n.to_string_lossy().into_owned())
}

/// Draws the map and writes the file.
pub fn run(config: &Config) -> Result<Summary, Box<dyn StdError>> {
    let (heap, what) = heap(&config.source)?;
    let what = format!("{what}, policy {}", heap.policy());
    let (svg, extents, drawn) = svg(&heap, &what);
    if let Some(dir) = config.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&config.out, svg).map_err(|e| format!("cannot write {}: {e}", config.out.display()))?;
    Ok(Summary { out: config.out.clone(), what, extents, drawn })
}

/// The SVG of `heap`'s map titled `what`: (the text, extents of the map in the drawn range,
/// rectangles drawn).
pub fn svg(heap: &MemoryAllocator, what: &str) -> (String, usize, usize) {
    let capacity = heap.capacity();
    let frag = heap.fragmentation();
    let end = drawn_end(capacity, frag.top);
    let blocks = heap.blocks();
    let extents = blocks.iter().take_while(|b| b.start < end).count();
    let rows = extents.div_ceil(EXTENTS_PER_ROW).clamp(1, MAX_ROWS).min(end);
    let per_row = end.div_ceil(rows);
    let rows = end.div_ceil(per_row);
    let px_per_unit = ROW_PX as f64 / per_row as f64;
    let runs = runs(heap, end, MERGE_PX / px_per_unit);
    // The largest free block below the top: the first of the largest size.
    let largest = blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Free && b.start + b.size <= frag.top && b.size == frag.largest)
        .map(|b| b.start)
        .next();

    let width = LEFT + ROW_PX + 24;
    let rows_bottom = TOP + rows * (ROW_HEIGHT + ROW_GAP);
    let height = rows_bottom + 96;
    let mut s = String::with_capacity(4096 + runs.len() * 96);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{width}" height="{height}" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{LEFT}" y="24" font-size="18">Memory map: {}</text>"#, plot::escape(what));
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="42" fill="#555">units [0, {end}) of capacity {capacity}, {per_row} units per row, {}</text>"##,
        crate::plural(extents, "extent")
    );
    // Rows: the address of each row's first unit, ticks above the bar.
    let ticks = 8;
    for r in 0..rows {
        let y = TOP + r * (ROW_HEIGHT + ROW_GAP) + ROW_GAP - 6;
        let row_start = r * per_row;
        let _ = writeln!(
            s,
            r#"<text class="row" x="{}" y="{}" text-anchor="end">{row_start}</text>"#,
            LEFT - 8,
            y + 6 + ROW_HEIGHT / 2 + 4
        );
        let row_units = per_row.min(end - row_start);
        for t in 0..=ticks {
            let offset = per_row * t / ticks;
            if offset > row_units {
                break;
            }
            let x = LEFT as f64 + offset as f64 * px_per_unit;
            let _ = writeln!(s, r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#888"/>"##, y - 4, y + 2);
            if r == 0 {
                let _ = writeln!(
                    s,
                    r#"<text class="tick" x="{x:.1}" y="{}" text-anchor="middle" font-size="10">+{}</text>"#,
                    y - 6,
                    plot::count_label(offset as f64)
                );
            }
        }
    }
    // The runs, split at row ends.
    let mut drawn = 0;
    for run in &runs {
        let (mut at, run_end) = (run.start, run.start + run.size);
        while at < run_end {
            let row = at / per_row;
            let piece_end = run_end.min((row + 1) * per_row);
            let x = LEFT as f64 + (at - row * per_row) as f64 * px_per_unit;
            let w = (piece_end - at) as f64 * px_per_unit;
            let y = TOP + row * (ROW_HEIGHT + ROW_GAP) + ROW_GAP;
            let class = match run.code {
                0 => "free",
                1 => "allocated",
                2 => "padding",
                _ => "allocated tagged",
            };
            let merged = if run.extents > 1 { format!(r#" data-merged="{}""#, run.extents) } else { String::new() };
            let _ = writeln!(
                s,
                r#"<rect class="{class}" data-start="{}" data-size="{}"{merged} x="{x:.2}" y="{y}" width="{w:.2}" height="{ROW_HEIGHT}" fill="{}"/>"#,
                run.start,
                run.size,
                fill(run.code)
            );
            drawn += 1;
            at = piece_end;
        }
    }
    // The largest free block: outlined, with a label.
    if let Some(start) = largest {
        let size = frag.largest;
        let mut at = start;
        while at < start + size {
            let row = at / per_row;
            let piece_end = (start + size).min((row + 1) * per_row);
            let x = LEFT as f64 + (at - row * per_row) as f64 * px_per_unit;
            let w = (piece_end - at) as f64 * px_per_unit;
            let y = TOP + row * (ROW_HEIGHT + ROW_GAP) + ROW_GAP;
            let _ = writeln!(
                s,
                r##"<rect class="largest-free" x="{x:.2}" y="{y}" width="{w:.2}" height="{ROW_HEIGHT}" fill="none" stroke="#d62728" stroke-width="2"/>"##
            );
            if at == start {
                let _ = writeln!(
                    s,
                    r##"<text class="largest-free" x="{:.1}" y="{}" fill="#d62728" font-size="10">largest free: {start}+{size}</text>"##,
                    x + 2.0,
                    y + ROW_HEIGHT + 11
                );
            }
            at = piece_end;
        }
    }
    // Legend and caption.
    let legend_y = rows_bottom + 30;
    let items = [
        (fill(0), "free"),
        (fill(1), "allocated"),
        (fill(3), "allocated, tagged (shade by tag)"),
        (fill(2), "padding"),
    ];
    let mut x = LEFT;
    for (colour, label) in items {
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{}" width="14" height="14" fill="{colour}"/><text x="{}" y="{}">{label}</text>"#,
            legend_y - 11,
            x + 18,
            legend_y
        );
        x += 36 + label.len() * 6;
    }
    let above = if end < capacity {
        format!("; above it, {} units free in one block (not drawn)", capacity - end)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        r#"<text class="caption" x="{LEFT}" y="{}">fragmentation {:.3} = 1 - largest {} / free {} below the top {} ({}){above}</text>"#,
        legend_y + 24,
        frag.ratio(),
        frag.largest,
        frag.free,
        frag.top,
        crate::plural(frag.holes, "hole")
    );
    if runs.iter().any(|r| r.extents > 1) {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{}" fill="#555">extents narrower than {MERGE_PX} pixels are merged, drawn in the kind that covers most of them</text>"##,
            legend_y + 44
        );
    }
    s.push_str("</svg>\n");
    (s, extents, drawn)
}

/// `replay --html`'s map encoding: the runs of `[0, end)`, extents narrower than
/// `end / max_runs` merged (so at most about `2 * max_runs` runs), as a flat list of
/// `size, code` pairs (the runs tile the range from 0, so starts are implied).
pub fn encode(heap: &MemoryAllocator, end: usize, max_runs: usize) -> Vec<usize> {
    let runs = runs(heap, end, end as f64 / max_runs.max(1) as f64);
    runs.iter().flat_map(|r| [r.size, r.code as usize]).collect()
}
