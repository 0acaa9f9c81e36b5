//! `MEMALLOC_TRACE=FILE`: every heap call, one text line each, for replay. The lines are
//! defined, written and read in one place, `memalloc_core::trace` (`core/src/trace.rs`);
//! `docs/PRELOAD.md` says when they are written.
//!
//! Lines are formatted into a buffer (owned by the heap, so written under the heap lock and
//! in call order) and appended to the file with `write(2)` when the buffer fills and at
//! exit. Each write is one block that starts with a `P <pid> <ppid>` line, so that the
//! blocks of several processes appending to one file can be told apart (the file is opened
//! with `O_APPEND`: one `write` lands in one piece). After the exit summary ran, every
//! line is written at once.

use core::ffi::CStr;

use memalloc_core::trace::{self as format, Event, MAX_EVENT_LINE, MAX_LINE};

use crate::diag;
use crate::prim;

/// Bytes buffered before a write.
const BUF_SIZE: usize = 64 << 10;

/// An open trace file and its buffer.
pub(crate) struct Trace {
    /// The file; -1 once tracing stopped.
    fd: libc::c_int,
    /// The device and inode of the file: a program that closes every descriptor and opens
    /// others may reuse `fd` for a file of its own, which must never receive the trace.
    file: (libc::dev_t, libc::ino_t),
    buf: Box<[u8]>,
    /// Bytes of `buf` in use; `buf[..header]` is the block's `P` line.
    len: usize,
    header: usize,
    /// Write every line at once (after exit began).
    unbuffered: bool,
}

/// What a number in a trace line stands for: a value, or a failed call's missing address.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    /// A size, an alignment or a count, in decimal.
    Num(usize),
    /// An address: `Some(offset)` in the heap, in decimal; `None` (a failed call) as `-`.
    Addr(Option<usize>),
}

impl Trace {
    /// Opens (creating, appending) the file at `path`; `%p` in it stands for the process
    /// id. `None`, after one warning line, when that fails.
    pub(crate) fn open(path: &CStr) -> Option<Trace> {
        let (fd, file) = open_file(path)?;
        let mut trace =
            Trace { fd, file, buf: vec![0; BUF_SIZE].into_boxed_slice(), len: 0, header: 0, unbuffered: false };
        trace.start_block();
        // This process image's heap starts empty here (the program started or called
        // `exec`); a forked child inherits the trace instead of opening it.
        trace.line(&Event::Start);
        Some(trace)
    }

    /// Starts a block: the buffer holds only the `P <pid> <ppid>` line.
    fn start_block(&mut self) {
        self.len = 0;
        let (pid, ppid) = prim::pid_and_ppid();
        self.line(&Event::Process { pid: pid.into(), ppid: ppid.into() });
        self.header = self.len;
    }

    /// Appends the line of `event`.
    fn line(&mut self, event: &Event) {
        self.len += format::write_event(event, &mut self.buf[self.len..]);
    }

    /// Records one call: `op` is its letter in the trace format, `fields` its fields in
    /// the format's order. A combination the format does not have records nothing.
    pub(crate) fn record(&mut self, op: u8, fields: &[Field]) {
        if self.fd < 0 {
            return;
        }
        if let Some(event) = event(op, fields) {
            self.line(&event);
        }
        self.written();
    }

    /// Records a comment line, `# <text>` (the reader skips it): e.g. the preload's mode.
    /// A byte of `text` that is not printable ASCII is written as `?`.
    pub(crate) fn comment(&mut self, text: &[u8]) {
        if self.fd < 0 {
            return;
        }
        // A comment may be longer than the room kept for one event line.
        if self.len + MAX_LINE + 1 > self.buf.len() {
            self.flush();
        }
        self.len += format::write_comment(text, &mut self.buf[self.len..]);
        self.written();
    }

    /// After a line: writes the block when every line is to be written at once, or when
    /// the buffer has no room left for one more event line.
    fn written(&mut self) {
        if self.unbuffered || self.len + MAX_EVENT_LINE > self.buf.len() {
            self.flush();
        }
    }

    /// Writes the buffered block, if it holds any line beyond its header, and starts the
    /// next one.
    pub(crate) fn flush(&mut self) {
        if self.len > self.header && self.fd >= 0 {
            if prim::identity(self.fd) == Some(self.file) {
                prim::write_all(self.fd, &self.buf[..self.len]);
            } else {
                diag::line(format_args!("MEMALLOC_TRACE: the program closed the trace file; tracing stopped"));
                self.fd = -1;
            }
        }
        self.start_block();
    }

    /// Flushes, then writes every later line at once (the process is exiting).
    pub(crate) fn finish(&mut self) {
        self.flush();
        self.unbuffered = true;
    }

    /// In a forked child: the buffer held at most the parent's header (the parent wrote
    /// its lines at the fork); the child starts its own block, in the parent's file, where
    /// the parent's `F` lines tell a replayer that this stream starts from a copy of the
    /// parent's heap.
    pub(crate) fn after_fork_in_child(&mut self) {
        self.start_block();
    }
}

/// Opens (creating, appending) the file at `path`, `%p` replaced by the process id: the
/// descriptor and the file's identity. `None`, after one warning line, when that fails.
fn open_file(path: &CStr) -> Option<(libc::c_int, (libc::dev_t, libc::ino_t))> {
    let mut name = [0u8; 4096];
    let mut len = 0;
    let bytes = path.to_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let mut digits = [0u8; 20];
        let piece: &[u8] = if bytes[i] == b'%' && bytes.get(i + 1) == Some(&b'p') {
            i += 2;
            format::decimal(prim::pid_and_ppid().0.into(), &mut digits)
        } else {
            i += 1;
            &bytes[i - 1..i]
        };
        if len + piece.len() >= name.len() {
            diag::line(format_args!("MEMALLOC_TRACE: the file name is too long; not tracing"));
            return None;
        }
        name[len..len + piece.len()].copy_from_slice(piece);
        len += piece.len();
    }
    // `name` is NUL-terminated: zero-initialised, and `len < name.len()`.
    let Some(fd) = prim::open_append(&name[..=len]) else {
        let shown = core::str::from_utf8(&name[..len]).unwrap_or("(not UTF-8)");
        diag::line(format_args!("MEMALLOC_TRACE: cannot open {shown} (errno {}); not tracing", prim::errno()));
        return None;
    };
    let Some(file) = prim::identity(fd) else {
        diag::line(format_args!("MEMALLOC_TRACE: cannot stat the trace file; not tracing"));
        prim::close(fd);
        return None;
    };
    Some((fd, file))
}

/// The event of the call `op` with `fields` (see [`Trace::record`]); `None` when the
/// format has no such line.
fn event(op: u8, fields: &[Field]) -> Option<Event> {
    use Field::{Addr, Num};
    // A value where an address is expected, and a present address where a value is, are
    // written alike: both are decimal numbers.
    let num = |field: &Field| match *field {
        Num(n) | Addr(Some(n)) => Some(n),
        Addr(None) => None,
    };
    let result = |field: &Field| match *field {
        Num(n) => Some(n),
        Addr(addr) => addr,
    };
    Some(match (op, fields) {
        (b'm', [size, addr]) => Event::Malloc { size: num(size)?, addr: result(addr) },
        (b'c', [count, size, addr]) => Event::Calloc { count: num(count)?, size: num(size)?, addr: result(addr) },
        (b'r', [old, size, addr]) => Event::Realloc { old: num(old)?, size: num(size)?, addr: result(addr) },
        (b'a', [align, size, addr]) => Event::Aligned { align: num(align)?, size: num(size)?, addr: result(addr) },
        (b'f', [addr]) => Event::Free { addr: num(addr)? },
        (b'F', []) => Event::Fork,
        (b'S', []) => Event::Start,
        _ => return None,
    })
}
