//! `MEMALLOC_TRACE=FILE`: every heap call, one text line each, for replay. The format is
//! specified in `docs/PRELOAD.md`.
//!
//! Lines are formatted into a buffer (owned by the heap, so written under the heap lock and
//! in call order) and appended to the file with `write(2)` when the buffer fills and at
//! exit. Each write is one block that starts with a `P <pid> <ppid>` line, so that the
//! blocks of several processes appending to one file can be told apart (the file is opened
//! with `O_APPEND`: one `write` lands in one piece). After the exit summary ran, every
//! line is written at once.

use core::ffi::CStr;

use crate::diag;

/// Bytes buffered before a write.
const BUF_SIZE: usize = 64 << 10;
/// Room kept free in the buffer for one more line (5 numbers of at most 20 digits).
const LINE_MAX: usize = 128;

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
        trace.line(b'S', &[]);
        Some(trace)
    }

    /// Starts a block: the buffer holds only the `P <pid> <ppid>` line.
    fn start_block(&mut self) {
        self.len = 0;
        // SAFETY: getpid and getppid have no preconditions.
        let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
        self.line(b'P', &[Field::Num(pid as usize), Field::Num(ppid as usize)]);
        self.header = self.len;
    }

    /// Appends one line: `op`, then the fields, separated by spaces.
    fn line(&mut self, op: u8, fields: &[Field]) {
        let put = |bytes: &[u8], trace: &mut Trace| {
            trace.buf[trace.len..trace.len + bytes.len()].copy_from_slice(bytes);
            trace.len += bytes.len();
        };
        put(&[op], self);
        for field in fields {
            put(b" ", self);
            let mut digits = [0u8; 20];
            match *field {
                Field::Num(n) | Field::Addr(Some(n)) => put(format_decimal(n, &mut digits), self),
                Field::Addr(None) => put(b"-", self),
            }
        }
        put(b"\n", self);
    }

    /// Records one call.
    pub(crate) fn record(&mut self, op: u8, fields: &[Field]) {
        if self.fd < 0 {
            return;
        }
        self.line(op, fields);
        if self.unbuffered || self.len + LINE_MAX > self.buf.len() {
            self.flush();
        }
    }

    /// Writes the buffered block, if it holds any line beyond its header, and starts the
    /// next one.
    pub(crate) fn flush(&mut self) {
        if self.len > self.header && self.fd >= 0 {
            if diag::identity(self.fd) == Some(self.file) {
                diag::write_all(self.fd, &self.buf[..self.len]);
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
            // SAFETY: getpid has no preconditions.
            format_decimal(unsafe { libc::getpid() } as usize, &mut digits)
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
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated (zero-initialised, `len < name.len()`).
    let fd = unsafe { libc::open(name.as_ptr().cast(), flags, 0o644) };
    if fd < 0 {
        let shown = core::str::from_utf8(&name[..len]).unwrap_or("(not UTF-8)");
        diag::line(format_args!("MEMALLOC_TRACE: cannot open {shown} (errno {}); not tracing", diag::errno()));
        return None;
    }
    let Some(file) = diag::identity(fd) else {
        diag::line(format_args!("MEMALLOC_TRACE: cannot stat the trace file; not tracing"));
        // SAFETY: `fd` was just opened by this function and is not used again.
        unsafe { libc::close(fd) };
        return None;
    };
    Some((fd, file))
}

/// Writes `n` in decimal into `digits` and returns the digits.
fn format_decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
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
