//! The environment variables, read once when the heap starts: `MEMALLOC_POLICY`,
//! `MEMALLOC_STATS` and `MEMALLOC_TRACE`. A bad value prints one warning line on stderr and
//! the default applies.
//!
//! `std::env` allocates, so the variables are read with `libc::getenv`, which does not.

use core::ffi::CStr;
use core::fmt::Write;

use memalloc_core::Policy;

use crate::diag::{self, StackText};

/// What the environment asks for.
pub(crate) struct Config {
    /// `MEMALLOC_POLICY`; [`Policy::default`] when unset or unknown.
    pub(crate) policy: Policy,
    /// `MEMALLOC_STATS=1`: print a summary at exit.
    pub(crate) stats: bool,
    /// `MEMALLOC_TRACE`: the file to record calls in.
    pub(crate) trace: Option<&'static CStr>,
}

/// The value of the environment variable `name`, if set.
fn var(name: &CStr) -> Option<&'static CStr> {
    // SAFETY: `name` is NUL-terminated. The returned string lives in the environment,
    // which this library never changes; programs that change a variable while the heap
    // starts race with themselves, as with any getenv.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        None
    } else {
        // SAFETY: getenv returned a NUL-terminated string (see above for its lifetime).
        Some(unsafe { CStr::from_ptr(value) })
    }
}

impl Config {
    /// Reads the environment, warning about bad values.
    pub(crate) fn from_env() -> Config {
        let policy = match var(c"MEMALLOC_POLICY") {
            None => Policy::default(),
            Some(value) => match value.to_str().ok().and_then(|s| s.parse::<Policy>().ok()) {
                Some(policy) => policy,
                None => {
                    let mut names = StackText::<128>::new();
                    for (i, p) in Policy::ALL.iter().enumerate() {
                        let _ = write!(names, "{}{}", if i == 0 { "" } else { ", " }, p.name());
                    }
                    let names = core::str::from_utf8(names.as_bytes()).unwrap_or("");
                    diag::line(format_args!(
                        "unknown MEMALLOC_POLICY {:?} (known: {names}); using {}",
                        value,
                        Policy::default().name()
                    ));
                    Policy::default()
                }
            },
        };
        let stats = match var(c"MEMALLOC_STATS").map(CStr::to_bytes) {
            None | Some(b"0") | Some(b"") => false,
            Some(b"1") => true,
            Some(other) => {
                diag::line(format_args!(
                    "MEMALLOC_STATS={:?} is neither 0 nor 1; no summary",
                    core::str::from_utf8(other).unwrap_or("?")
                ));
                false
            }
        };
        let trace = match var(c"MEMALLOC_TRACE") {
            Some(path) if path.is_empty() => {
                diag::line(format_args!("MEMALLOC_TRACE is empty; not tracing"));
                None
            }
            other => other,
        };
        Config { policy, stats, trace }
    }
}
