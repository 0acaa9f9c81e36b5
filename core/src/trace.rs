//! The heap-trace format, defined here once: written by the preload library
//! (`MEMALLOC_TRACE=FILE`, with [`write_event`] and [`write_comment`]), read by
//! `memalloc replay` (with [`Reader`]). `docs/PRELOAD.md` says when the preload writes
//! what; the lines themselves are the table below.
//!
//! A trace is text, one heap call per line: an operation letter, then decimal fields
//! separated by one space. A size is in bytes; an address is the block's offset into the
//! traced process's heap (offsets identify blocks; a replayer maps them to its own); a
//! failed call (it returned NULL or an error) has `-` in place of its result address.
//!
//! | line | call |
//! |---|---|
//! | `P <pid> <ppid>` | starts a block written by process `pid` (child of `ppid`): the lines that follow, up to the next `P` line, are that process's |
//! | `S` | this process image's heap starts empty here: the program started, or the process called `exec` (which keeps its pid); the first line after the image's first `P` line |
//! | `m <size> <addr>` | `malloc(size)`, also `realloc(NULL, size)` and `reallocarray(NULL, n, s)` (size = n·s) |
//! | `c <count> <size> <addr>` | `calloc(count, size)` (an overflowing `count · size` fails: `-`) |
//! | `r <old> <size> <addr>` | `realloc(old, size)` or `reallocarray` with `size > 0`: the block at `old` now is `size` bytes at `addr` (the same offset when resized in place); `-`: it failed and `old` is unchanged |
//! | `a <align> <size> <addr>` | `posix_memalign`, `aligned_alloc`, `memalign`, `valloc`, `pvalloc`; `align` is the effective alignment, a power of two (at least the heap's own, 16; the page size for `valloc` and `pvalloc`, whose size is already rounded to pages) |
//! | `f <addr>` | `free(addr)`, also `realloc(addr, 0)` |
//! | `F` | the process is about to `fork` |
//! | `# <text>` | a comment, skipped by the reader; the writer may emit them, e.g. a line naming the preload's mode (`# memalloc mode fast ...`) |
//!
//! Several processes may append blocks to one file; every block starts with its `P` line,
//! so a trace's first event is a `P` line. A `free` does not repeat the size, nor a
//! `realloc` the old size: a reader knows them from the call that returned the address. A
//! process image that begins with `S` starts from an empty heap; a forked child (no `S`;
//! its `P` lines name as `ppid` a process of the same trace that has `F` lines) starts
//! from a copy of its parent's heap at one of those `F` lines.
//!
//! The writer's lines are at most [`MAX_EVENT_LINE`] bytes (a comment at most
//! [`MAX_LINE`] and its newline) and pure ASCII. Besides what the writer produces, the
//! reader accepts blank lines, and leading and trailing blanks (a `\r` too) and runs of
//! blanks between fields, for hand-written traces.
//!
//! ```
//! use memalloc_core::trace::{Event, MAX_EVENT_LINE, Reader, write_event};
//!
//! let text = "P 7 1\nm 24 0\nr 0 100 32\nf 32\nm 99999999 -\n";
//! let events: Vec<Event> = Reader::new(text.as_bytes()).map(|r| r.unwrap().event).collect();
//! assert_eq!(events[2], Event::Realloc { old: 0, size: 100, addr: Some(32) });
//! assert_eq!(events[4], Event::Malloc { size: 99999999, addr: None });
//!
//! let error = Reader::new("P 7 1\nm 24\n".as_bytes()).find_map(Result::err).unwrap();
//! assert_eq!(error.to_string(), "line 2: `m` (malloc) takes 2 fields (size, address), found 1");
//!
//! // Writing allocates nothing: a line goes into a buffer the caller owns.
//! let mut line = [0u8; MAX_EVENT_LINE];
//! let len = write_event(&Event::Calloc { count: 4, size: 8, addr: None }, &mut line);
//! assert_eq!(&line[..len], b"c 4 8 -\n");
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{BufRead, Read};

/// The longest line the reader accepts, in bytes, its newline not counted.
pub const MAX_LINE: usize = 4096;

/// The longest line [`write_event`] writes, its newline included: an operation letter and
/// at most three fields of at most 20 digits (`u64::MAX`), each after a space.
pub const MAX_EVENT_LINE: usize = 1 + 3 * (1 + 20) + 1;

/// One line of a trace: a heap call or a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// `P <pid> <ppid>`: the start of a block written by process `pid`.
    Process {
        /// The writing process.
        pid: u64,
        /// Its parent.
        ppid: u64,
    },
    /// `m <size> <addr>`: `malloc(size)` (and `realloc(NULL, size)`).
    Malloc {
        /// Bytes asked for (0 is allowed: `malloc(0)` returns a unique block).
        size: usize,
        /// The block's address; `None` when the call failed.
        addr: Option<usize>,
    },
    /// `c <count> <size> <addr>`: `calloc(count, size)`.
    Calloc {
        /// The number of elements.
        count: usize,
        /// The size of one element.
        size: usize,
        /// The block's address; `None` when the call failed.
        addr: Option<usize>,
    },
    /// `r <old> <size> <addr>`: `realloc(old, size)` with `size > 0` (and `reallocarray`).
    Realloc {
        /// The address of the block being resized.
        old: usize,
        /// The new size in bytes.
        size: usize,
        /// Where the block lives now (`old` when it stayed); `None` when the call failed
        /// and the block stayed at `old` as it was.
        addr: Option<usize>,
    },
    /// `a <align> <size> <addr>`: an aligned allocation (`posix_memalign`,
    /// `aligned_alloc`, `memalign`, `valloc`, `pvalloc`).
    Aligned {
        /// The alignment the block was placed at (at least the heap's own, 16).
        align: usize,
        /// Bytes asked for.
        size: usize,
        /// The block's address; `None` when the call failed.
        addr: Option<usize>,
    },
    /// `f <addr>`: `free(addr)` (and `realloc(addr, 0)`).
    Free {
        /// The address of the block freed.
        addr: usize,
    },
    /// `F`: the process is about to fork.
    Fork,
    /// `S`: a process image starts here, with an empty heap: the program started, or the
    /// process called `exec` (which keeps its pid).
    Start,
}

impl Event {
    /// Whether the event is a heap call (not a `P`, `F` or `S` marker).
    pub fn is_call(&self) -> bool {
        !matches!(self, Event::Process { .. } | Event::Fork | Event::Start)
    }

    /// The address a successful allocating call returned (`m`, `c`, `r`, `a`).
    pub fn result(&self) -> Option<usize> {
        match *self {
            Event::Malloc { addr, .. }
            | Event::Calloc { addr, .. }
            | Event::Realloc { addr, .. }
            | Event::Aligned { addr, .. } => addr,
            Event::Process { .. } | Event::Free { .. } | Event::Fork | Event::Start => None,
        }
    }

    /// Whether the call failed in the traced process (its address is `-`).
    pub fn failed(&self) -> bool {
        match self {
            Event::Malloc { addr, .. }
            | Event::Calloc { addr, .. }
            | Event::Realloc { addr, .. }
            | Event::Aligned { addr, .. } => addr.is_none(),
            Event::Process { .. } | Event::Free { .. } | Event::Fork | Event::Start => false,
        }
    }
}

impl fmt::Display for Event {
    /// The line as [`write_event`] writes it, without the newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = [0u8; MAX_EVENT_LINE];
        let len = write_event(self, &mut line);
        f.write_str(std::str::from_utf8(&line[..len - 1]).expect("a written line is ASCII"))
    }
}

/// Writes `event` at the start of `out` as its line of the format (see the [module
/// documentation](self)), newline included, and returns the line's length: at most
/// [`MAX_EVENT_LINE`]. Allocates nothing, so that the preload library can call it inside
/// `malloc`.
///
/// # Panics
/// If `out` is shorter than the line; never when it holds [`MAX_EVENT_LINE`] bytes.
pub fn write_event(event: &Event, out: &mut [u8]) -> usize {
    let mut line = LineWriter { out, len: 0 };
    match *event {
        Event::Process { pid, ppid } => line.op(b'P').number(pid).number(ppid),
        Event::Start => line.op(b'S'),
        Event::Malloc { size, addr } => line.op(b'm').number(size as u64).result(addr),
        Event::Calloc { count, size, addr } => line.op(b'c').number(count as u64).number(size as u64).result(addr),
        Event::Realloc { old, size, addr } => line.op(b'r').number(old as u64).number(size as u64).result(addr),
        Event::Aligned { align, size, addr } => line.op(b'a').number(align as u64).number(size as u64).result(addr),
        Event::Free { addr } => line.op(b'f').number(addr as u64),
        Event::Fork => line.op(b'F'),
    };
    line.bytes(b"\n").len
}

/// Writes the comment line `# <text>` at the start of `out`, newline included, and returns
/// its length. Every byte of `text` that is not printable ASCII (a line break, a control
/// character, a byte of a multi-byte character) is written as `?`, so the comment stays
/// one line that the reader accepts; `text` is cut to fit in `out` and in [`MAX_LINE`].
/// Allocates nothing, as [`write_event`].
///
/// # Panics
/// If `out` is shorter than 3 bytes (`#`, a space and the newline).
pub fn write_comment(text: &[u8], out: &mut [u8]) -> usize {
    let room = out.len().checked_sub(3).expect("room for a comment line").min(MAX_LINE - 2);
    let mut line = LineWriter { out, len: 0 };
    line.bytes(b"# ");
    for &byte in &text[..text.len().min(room)] {
        line.bytes(&[if byte == b' ' || byte.is_ascii_graphic() { byte } else { b'?' }]);
    }
    line.bytes(b"\n").len
}

/// Writes `n` in decimal at the end of `digits` and returns the digits: the form of every
/// number in a trace, without allocating (the preload library also names its trace file
/// with it).
pub fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

/// A line being written into a caller's buffer.
struct LineWriter<'a> {
    out: &'a mut [u8],
    /// Bytes of `out` written.
    len: usize,
}

impl LineWriter<'_> {
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.out[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self
    }

    fn op(&mut self, letter: u8) -> &mut Self {
        self.bytes(&[letter])
    }

    /// A field: a space, then `n` in decimal.
    fn number(&mut self, n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        self.bytes(b" ").bytes(decimal(n, &mut digits))
    }

    /// A call's result: its address, or `-` when it failed.
    fn result(&mut self, addr: Option<usize>) -> &mut Self {
        match addr {
            Some(addr) => self.number(addr as u64),
            None => self.bytes(b" -"),
        }
    }
}

/// An event and the number of the line it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Record {
    /// The line number, from 1.
    pub line: usize,
    /// What the line says.
    pub event: Event,
}

/// Why a trace could not be read: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong, e.g. ``bad size '12x': not a decimal number``.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TraceError {}

/// The operation letters, with the name and fields of each, for messages.
const OPS: [(u8, &str, &[&str]); 8] = [
    (b'P', "process", &["pid", "ppid"]),
    (b'm', "malloc", &["size", "address"]),
    (b'c', "calloc", &["count", "size", "address"]),
    (b'r', "realloc", &["old address", "size", "address"]),
    (b'a', "aligned allocation", &["alignment", "size", "address"]),
    (b'f', "free", &["address"]),
    (b'F', "fork", &[]),
    (b'S', "start", &[]),
];

/// Parses one line (without its newline). `Ok(None)` for a blank or comment line.
///
/// # Errors
/// A message naming what is wrong: an unknown operation, a missing or extra field, a
/// field that is not a decimal number (or `-` where a result address may be), a number
/// too large for 64 bits, or an alignment that is not a power of two.
pub fn parse_line(text: &str) -> Result<Option<Event>, String> {
    let mut fields = text.split_ascii_whitespace();
    let Some(op) = fields.next() else { return Ok(None) };
    if op.starts_with('#') {
        return Ok(None);
    }
    let Some(&(letter, name, names)) = OPS.iter().find(|(letter, ..)| op.as_bytes() == [*letter]) else {
        let known: Vec<String> = OPS.iter().map(|(letter, ..)| char::from(*letter).to_string()).collect();
        return Err(format!("unknown operation '{}' (known: {})", shorten(op), known.join(" ")));
    };
    let values: Vec<&str> = fields.collect();
    if values.len() != names.len() {
        let expected = match names.len() {
            0 => "no fields".to_string(),
            1 => format!("1 field ({})", names[0]),
            n => format!("{n} fields ({})", names.join(", ")),
        };
        return Err(format!("`{}` ({name}) takes {expected}, found {}", char::from(letter), values.len()));
    }
    let num = |i: usize| number(values[i], names[i]);
    // The last field of an allocating call is its result: an address, or `-`.
    let result = |i: usize| if values[i] == "-" { Ok(None) } else { number(values[i], names[i]).map(Some) };
    let event = match letter {
        b'P' => Event::Process { pid: num(0)? as u64, ppid: num(1)? as u64 },
        b'm' => Event::Malloc { size: num(0)?, addr: result(1)? },
        b'c' => Event::Calloc { count: num(0)?, size: num(1)?, addr: result(2)? },
        b'r' => Event::Realloc { old: num(0)?, size: num(1)?, addr: result(2)? },
        b'a' => {
            let align = num(0)?;
            if !align.is_power_of_two() {
                return Err(format!("bad alignment {align}: not a power of two"));
            }
            Event::Aligned { align, size: num(1)?, addr: result(2)? }
        }
        b'f' => Event::Free { addr: num(0)? },
        b'F' => Event::Fork,
        _ => Event::Start,
    };
    Ok(Some(event))
}

/// A decimal field: digits only (no sign), at most `usize::MAX`.
fn number(text: &str, what: &str) -> Result<usize, String> {
    if text == "-" {
        return Err(format!("bad {what} '-': only a result address may be '-'"));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} '{}': not a decimal number", shorten(text)));
    }
    text.parse().map_err(|_| format!("bad {what} '{}': too large", shorten(text)))
}

/// `text`, cut to 40 characters for a message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// Reads a trace line by line: an iterator of [`Record`]s, or of one [`TraceError`].
///
/// After the first error the iterator ends. Besides the errors of [`parse_line`], a line
/// is rejected when it is longer than [`MAX_LINE`] bytes or not UTF-8, when the input
/// cannot be read, and when the first event is not a `P` line.
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    /// The number of the last line read.
    line: usize,
    buf: Vec<u8>,
    /// Whether a `P` line was seen.
    in_block: bool,
    /// Set after the end of input or an error.
    done: bool,
}

impl<R: BufRead> Reader<R> {
    /// A reader of the trace in `input`.
    pub fn new(input: R) -> Self {
        Reader { input, line: 0, buf: Vec::new(), in_block: false, done: false }
    }

    /// The next line's text, or `None` at the end of input.
    fn next_line(&mut self) -> Result<Option<&str>, String> {
        self.buf.clear();
        self.line += 1;
        let limit = MAX_LINE as u64 + 1;
        let n =
            (&mut self.input).take(limit).read_until(b'\n', &mut self.buf).map_err(|e| format!("cannot read: {e}"))?;
        if n == 0 {
            self.line -= 1;
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE {
            return Err(format!("line longer than {MAX_LINE} bytes"));
        }
        std::str::from_utf8(&self.buf).map(Some).map_err(|_| "not UTF-8 text".to_string())
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let parsed = match self.next_line() {
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Ok(Some(text)) => parse_line(text),
                Err(message) => Err(message),
            };
            let error = match parsed {
                Ok(None) => continue,
                Ok(Some(event)) if !self.in_block && !matches!(event, Event::Process { .. }) => {
                    format!("the trace must start with a `P <pid> <ppid>` line, found `{event}`")
                }
                Ok(Some(event)) => {
                    self.in_block = true;
                    return Some(Ok(Record { line: self.line, event }));
                }
                Err(message) => message,
            };
            self.done = true;
            return Some(Err(TraceError { line: self.line, message: error }));
        }
        None
    }
}

impl<R: BufRead> std::iter::FusedIterator for Reader<R> {}

/// Reads a whole trace held in memory.
///
/// # Errors
/// The first [`TraceError`], as [`Reader`] reports it.
pub fn parse_str(text: &str) -> Result<Vec<Record>, TraceError> {
    Reader::new(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Option<Event>, String> {
        parse_line(text)
    }

    fn error_of(text: &str) -> TraceError {
        parse_str(text).expect_err("the trace is rejected")
    }

    #[test]
    fn parses_a_process_line() {
        assert_eq!(one("P 1234 1"), Ok(Some(Event::Process { pid: 1234, ppid: 1 })));
    }

    #[test]
    fn parses_malloc_with_an_address_and_failed() {
        assert_eq!(one("m 24 4096"), Ok(Some(Event::Malloc { size: 24, addr: Some(4096) })));
        assert_eq!(one("m 0 16"), Ok(Some(Event::Malloc { size: 0, addr: Some(16) })));
        assert_eq!(one("m 18446744073709551615 -"), Ok(Some(Event::Malloc { size: usize::MAX, addr: None })));
    }

    #[test]
    fn parses_calloc() {
        assert_eq!(one("c 4 8 32"), Ok(Some(Event::Calloc { count: 4, size: 8, addr: Some(32) })));
        assert_eq!(one("c 4 8 -"), Ok(Some(Event::Calloc { count: 4, size: 8, addr: None })));
    }

    #[test]
    fn parses_realloc() {
        assert_eq!(one("r 32 200 256"), Ok(Some(Event::Realloc { old: 32, size: 200, addr: Some(256) })));
        assert_eq!(one("r 32 200 -"), Ok(Some(Event::Realloc { old: 32, size: 200, addr: None })));
    }

    #[test]
    fn parses_aligned_allocation() {
        assert_eq!(one("a 4096 10 8192"), Ok(Some(Event::Aligned { align: 4096, size: 10, addr: Some(8192) })));
        assert_eq!(one("a 64 10 -"), Ok(Some(Event::Aligned { align: 64, size: 10, addr: None })));
    }

    #[test]
    fn parses_free_fork_and_start() {
        assert_eq!(one("f 4096"), Ok(Some(Event::Free { addr: 4096 })));
        assert_eq!(one("F"), Ok(Some(Event::Fork)));
        assert_eq!(one("S"), Ok(Some(Event::Start)));
    }

    #[test]
    fn blank_and_comment_lines_are_skipped_and_blanks_tolerated() {
        assert_eq!(one(""), Ok(None));
        assert_eq!(one("   \t"), Ok(None));
        assert_eq!(one("# hand-written"), Ok(None));
        assert_eq!(one("  m\t24   0 \r"), Ok(Some(Event::Malloc { size: 24, addr: Some(0) })));
    }

    #[test]
    fn display_gives_back_the_line() {
        for line in ["P 7 1", "m 24 0", "m 5 -", "c 4 8 32", "r 32 200 -", "a 64 10 192", "f 0", "F", "S"] {
            assert_eq!(one(line).unwrap().unwrap().to_string(), line);
        }
    }

    /// Every event, as proptest draws it: any numbers, any alignment that is a power of two,
    /// results present or `-`.
    fn any_event() -> impl proptest::strategy::Strategy<Value = Event> {
        use proptest::prelude::*;
        let result = || proptest::option::of(any::<usize>());
        prop_oneof![
            any::<(u64, u64)>().prop_map(|(pid, ppid)| Event::Process { pid, ppid }),
            Just(Event::Start),
            (any::<usize>(), result()).prop_map(|(size, addr)| Event::Malloc { size, addr }),
            (any::<(usize, usize)>(), result()).prop_map(|((count, size), addr)| Event::Calloc { count, size, addr }),
            (any::<(usize, usize)>(), result()).prop_map(|((old, size), addr)| Event::Realloc { old, size, addr }),
            (0..usize::BITS, any::<usize>(), result()).prop_map(|(shift, size, addr)| Event::Aligned {
                align: 1 << shift,
                size,
                addr
            }),
            any::<usize>().prop_map(|addr| Event::Free { addr }),
            Just(Event::Fork),
        ]
    }

    /// Fewer cases under Miri, and no file of failures there (Miri isolates the file system).
    fn config() -> proptest::prelude::ProptestConfig {
        let default = proptest::prelude::ProptestConfig::default();
        let failure_persistence = if cfg!(miri) { None } else { default.failure_persistence.clone() };
        proptest::prelude::ProptestConfig { cases: if cfg!(miri) { 8 } else { 2000 }, failure_persistence, ..default }
    }

    proptest::proptest! {
        #![proptest_config(config())]

        /// Every event written is read back as itself, on a line of at most
        /// `MAX_EVENT_LINE` bytes that ends with its one newline.
        #[test]
        fn every_event_written_reads_back_as_itself(event in any_event()) {
            let mut line = [0u8; MAX_EVENT_LINE];
            let len = write_event(&event, &mut line);
            proptest::prop_assert!(line[..len].ends_with(b"\n") && !line[..len - 1].contains(&b'\n'));
            let text = std::str::from_utf8(&line[..len - 1]).unwrap();
            proptest::prop_assert_eq!(parse_line(text), Ok(Some(event)));
            proptest::prop_assert_eq!(event.to_string(), text);
        }

        /// A whole trace written line after line, comments between the events, reads back
        /// as the events written, each numbered with its line.
        #[test]
        fn a_written_trace_reads_back_as_its_events(
            events in proptest::collection::vec(any_event(), 0..40),
            comments in proptest::collection::vec(proptest::prelude::any::<Vec<u8>>(), 0..5),
        ) {
            let mut events = events;
            events.insert(0, Event::Process { pid: 7, ppid: 1 });
            let (mut text, mut lines, mut buf) = (Vec::new(), Vec::new(), [0u8; 300]);
            for (i, event) in events.iter().enumerate() {
                if let Some(comment) = comments.get(i) {
                    let len = write_comment(comment, &mut buf);
                    text.extend_from_slice(&buf[..len]);
                }
                let len = write_event(event, &mut buf);
                text.extend_from_slice(&buf[..len]);
                lines.push(text.iter().filter(|&&b| b == b'\n').count());
            }
            let read: Vec<Record> = Reader::new(text.as_slice()).collect::<Result<_, _>>().unwrap();
            let written: Vec<Record> = events.iter().zip(lines).map(|(&event, line)| Record { line, event }).collect();
            proptest::prop_assert_eq!(read, written);
        }
    }

    #[test]
    fn the_longest_event_line_is_max_event_line() {
        let mut line = [0u8; MAX_EVENT_LINE];
        let max = usize::MAX;
        for event in [
            Event::Calloc { count: max, size: max, addr: Some(max) },
            Event::Realloc { old: max, size: max, addr: Some(max) },
        ] {
            assert_eq!(write_event(&event, &mut line), MAX_EVENT_LINE, "{event}");
        }
        assert!(write_event(&Event::Process { pid: u64::MAX, ppid: u64::MAX }, &mut line) < MAX_EVENT_LINE);
    }

    #[test]
    fn comments_stay_one_ascii_line_the_reader_skips() {
        let mut buf = vec![0u8; MAX_LINE + 100];
        let len = write_comment(b"memalloc mode fast", &mut buf);
        assert_eq!(&buf[..len], b"# memalloc mode fast\n");
        let len = write_comment("two\nlines\r\tand \u{e9}".as_bytes(), &mut buf);
        assert_eq!(&buf[..len], b"# two?lines??and ??\n");
        assert_eq!(parse_line(std::str::from_utf8(&buf[..len - 1]).unwrap()), Ok(None));
        // Cut to the reader's limit, and to the room given.
        let len = write_comment(&[b'x'; MAX_LINE * 2], &mut buf);
        assert_eq!(len, MAX_LINE + 1);
        assert_eq!(parse_str(&format!("P 1 0\n{}", std::str::from_utf8(&buf[..len]).unwrap())).unwrap().len(), 1);
        assert_eq!(write_comment(b"abc", &mut buf[..5]), 5);
        assert_eq!(&buf[..5], b"# ab\n");
        assert_eq!(write_comment(b"abc", &mut buf[..3]), 3);
    }

    #[test]
    fn decimal_writes_every_digit() {
        let mut digits = [0u8; 20];
        assert_eq!(decimal(0, &mut digits), b"0");
        assert_eq!(decimal(1_000_007, &mut digits), b"1000007");
        assert_eq!(decimal(u64::MAX, &mut digits), b"18446744073709551615");
    }

    #[test]
    fn the_table_of_the_documentation_is_the_format() {
        // The module documentation's table and `OPS` name the same lines, with the same
        // number of fields: the format has one definition, and its prose cannot drift.
        let rows: Vec<&str> = include_str!("trace.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! | `"))
            .map(|row| &row[..row.find('`').expect("a closing backquote")])
            .collect();
        let mut letters = Vec::new();
        for row in rows {
            let mut words = row.split(' ');
            let op = words.next().unwrap();
            if op == "#" {
                continue;
            }
            let &(letter, name, names) =
                OPS.iter().find(|(letter, ..)| op.as_bytes() == [*letter]).unwrap_or_else(|| panic!("`{op}`"));
            assert_eq!(words.count(), names.len(), "the table's `{row}` against `{name}`");
            letters.push(letter);
        }
        letters.sort_unstable();
        let mut known: Vec<u8> = OPS.iter().map(|(letter, ..)| *letter).collect();
        known.sort_unstable();
        assert_eq!(letters, known, "every operation has one row");
    }

    #[test]
    fn event_helpers() {
        let malloc = Event::Malloc { size: 1, addr: Some(16) };
        assert!(malloc.is_call() && !malloc.failed() && malloc.result() == Some(16));
        assert!(Event::Aligned { align: 16, size: 1, addr: None }.failed());
        assert!(!Event::Fork.is_call() && !Event::Start.is_call() && !Event::Process { pid: 1, ppid: 0 }.is_call());
        assert_eq!(Event::Free { addr: 3 }.result(), None);
    }

    #[test]
    fn unknown_operation_is_an_error() {
        assert_eq!(one("x 1 2"), Err("unknown operation 'x' (known: P m c r a f F S)".into()));
        assert!(one("malloc 1 2").unwrap_err().starts_with("unknown operation 'malloc'"));
        assert!(one("M 1 2").unwrap_err().starts_with("unknown operation"));
    }

    #[test]
    fn missing_and_extra_fields_are_errors() {
        assert_eq!(one("r 32 200"), Err("`r` (realloc) takes 3 fields (old address, size, address), found 2".into()));
        assert_eq!(one("f"), Err("`f` (free) takes 1 field (address), found 0".into()));
        assert_eq!(one("F 1"), Err("`F` (fork) takes no fields, found 1".into()));
        assert_eq!(one("P 1"), Err("`P` (process) takes 2 fields (pid, ppid), found 1".into()));
        assert_eq!(one("m 1 2 3"), Err("`m` (malloc) takes 2 fields (size, address), found 3".into()));
    }

    #[test]
    fn bad_numbers_are_errors() {
        assert_eq!(one("m 12x 0"), Err("bad size '12x': not a decimal number".into()));
        assert_eq!(one("m +12 0"), Err("bad size '+12': not a decimal number".into()));
        assert_eq!(one("m -1 0"), Err("bad size '-1': not a decimal number".into()));
        assert_eq!(one("c 2 8 0x10"), Err("bad address '0x10': not a decimal number".into()));
        assert_eq!(one("m 99999999999999999999999 0"), Err("bad size '99999999999999999999999': too large".into()));
        assert_eq!(one("f -"), Err("bad address '-': only a result address may be '-'".into()));
        assert_eq!(one("r - 8 16"), Err("bad old address '-': only a result address may be '-'".into()));
        assert_eq!(one("a 24 8 16"), Err("bad alignment 24: not a power of two".into()));
        assert_eq!(one("a 0 8 16"), Err("bad alignment 0: not a power of two".into()));
        let long = format!("m {} 0", "7".repeat(100));
        assert!(one(&long).unwrap_err().ends_with("...': too large"));
    }

    #[test]
    fn reader_numbers_lines_and_skips_comments() {
        let records = parse_str("# comment\nP 1 0\n\nm 8 0\nf 0").unwrap();
        assert_eq!(
            records,
            [
                Record { line: 2, event: Event::Process { pid: 1, ppid: 0 } },
                Record { line: 4, event: Event::Malloc { size: 8, addr: Some(0) } },
                Record { line: 5, event: Event::Free { addr: 0 } },
            ]
        );
    }

    #[test]
    fn reader_names_the_line_of_an_error_and_stops() {
        let mut reader = Reader::new("P 1 0\nm 8 0\nm 8 zz\nf 0\n".as_bytes());
        assert!(reader.next().unwrap().is_ok());
        assert!(reader.next().unwrap().is_ok());
        let error = reader.next().unwrap().unwrap_err();
        assert_eq!(error, TraceError { line: 3, message: "bad address 'zz': not a decimal number".into() });
        assert_eq!(error.to_string(), "line 3: bad address 'zz': not a decimal number");
        assert!(reader.next().is_none());
    }

    #[test]
    fn a_truncated_last_line_is_an_error() {
        assert_eq!(
            error_of("P 1 0\nm 8 0\nr 0 64").to_string(),
            "line 3: `r` (realloc) takes 3 fields (old address, size, address), found 2"
        );
    }

    #[test]
    fn a_trace_must_start_with_a_process_line() {
        assert_eq!(
            error_of("m 8 0\n").to_string(),
            "line 1: the trace must start with a `P <pid> <ppid>` line, found `m 8 0`"
        );
    }

    #[test]
    fn an_empty_trace_has_no_records() {
        assert_eq!(parse_str(""), Ok(vec![]));
        assert_eq!(parse_str("# nothing\n\n"), Ok(vec![]));
    }

    #[test]
    fn non_utf8_and_overlong_lines_are_errors() {
        let bytes: &[u8] = b"P 1 0\nm \xff 0\n";
        let error = Reader::new(bytes).find_map(Result::err).unwrap();
        assert_eq!(error.to_string(), "line 2: not UTF-8 text");
        let long = format!("P 1 0\n{}\nm 8 0\n", "9".repeat(MAX_LINE + 10));
        assert_eq!(error_of(&long).to_string(), format!("line 2: line longer than {MAX_LINE} bytes"));
        // A line of exactly MAX_LINE bytes is accepted (here a comment).
        let edge = format!("P 1 0\n{}\n", "#".repeat(MAX_LINE));
        assert_eq!(parse_str(&edge).unwrap().len(), 1);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads docs/PRELOAD.md: Miri isolates the file system")]
    fn the_example_of_the_specification_parses() {
        // docs/PRELOAD.md is the specification; its example must read back.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PRELOAD.md");
        let spec = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let example = spec.split("### Example").nth(1).and_then(|rest| rest.split("```").nth(1)).expect("an example");
        let records = parse_str(example).unwrap_or_else(|e| panic!("PRELOAD.md's example: {e}"));
        assert!(records.len() >= 7, "{records:?}");
        let ops: Vec<char> = records.iter().map(|r| r.event.to_string().chars().next().unwrap()).collect();
        for op in ['P', 'm', 'c', 'r', 'a', 'f', 'F', 'S'] {
            assert!(ops.contains(&op), "the example has no `{op}` line");
        }
    }

    #[test]
    fn a_read_error_names_the_line() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let error = Reader::new(std::io::BufReader::new(Broken)).next().unwrap().unwrap_err();
        assert_eq!(error.to_string(), "line 1: cannot read: disk on fire");
    }
}
