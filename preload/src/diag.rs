//! Messages on stderr without allocating: text is formatted into a buffer on the stack and
//! written with one `write(2)`, so a warning or the exit summary can be printed from inside
//! `malloc`, and a bad `free` can be reported although the heap may be in any state.

use core::fmt::{self, Write};

use crate::prim;
use crate::prim::identity;

/// Text formatted into a fixed buffer; what does not fit is cut off.
pub(crate) struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    /// An empty text.
    pub(crate) const fn new() -> Self {
        StackText { buf: [0; N], len: 0 }
    }

    /// The bytes written so far.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let take = s.len().min(N - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Prints one line on stderr, `memalloc: ` followed by `args`, with one write.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    line_to(libc::STDERR_FILENO, args);
}

/// Prints one line on `fd`, `memalloc: ` followed by `args`, with one write.
pub(crate) fn line_to(fd: libc::c_int, args: fmt::Arguments<'_>) {
    let mut text = StackText::<512>::new();
    let _ = text.write_str("memalloc: ");
    let _ = text.write_fmt(args);
    if text.len == text.buf.len() {
        text.len -= 1;
    }
    let _ = text.write_str("\n");
    prim::write_all(fd, text.as_bytes());
}

/// Prints one line on stderr and aborts the process (SIGABRT).
pub(crate) fn fatal(args: fmt::Arguments<'_>) -> ! {
    line(args);
    prim::abort()
}

/// Makes a panic inside this library print one line and abort: a panic may never unwind
/// into C, and the default hook may allocate with `malloc`-reaching machinery (thread
/// handles, thread-local destructors) while the heap lock is held.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload_as_str().unwrap_or("");
        match info.location() {
            Some(at) => fatal(format_args!("internal error at {}:{}: {message}", at.file(), at.line())),
            None => fatal(format_args!("internal error: {message}")),
        }
    }));
}

/// Where the exit summary goes: stderr, or, when the program closed it before exiting (as
/// coreutils do), a duplicate of the stderr it started with.
pub(crate) struct SummaryOut {
    /// The duplicate (close-on-exec), with the device and inode it refers to; `None` when
    /// stderr was closed at start.
    saved: Option<(libc::c_int, libc::dev_t, libc::ino_t)>,
}

impl SummaryOut {
    /// Duplicates stderr, for a summary at exit.
    pub(crate) fn save() -> SummaryOut {
        let saved = prim::duplicate(libc::STDERR_FILENO).and_then(|fd| identity(fd).map(|(dev, ino)| (fd, dev, ino)));
        SummaryOut { saved }
    }

    /// The descriptor to write the summary to: stderr if open; else the duplicate if it
    /// still refers to the same file (the program may have closed and reused it).
    pub(crate) fn fd(&self) -> libc::c_int {
        if identity(libc::STDERR_FILENO).is_some() {
            return libc::STDERR_FILENO;
        }
        match self.saved {
            Some((fd, dev, ino)) if identity(fd) == Some((dev, ino)) => fd,
            _ => libc::STDERR_FILENO,
        }
    }
}
