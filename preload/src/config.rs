//! The environment variables, read once when the heap starts: `MEMALLOC_POLICY`,
//! `MEMALLOC_FRONT`, `MEMALLOC_ARENAS`, `MEMALLOC_STATS` and `MEMALLOC_TRACE`. A bad value prints one warning line on stderr and
//! the default applies.
//!
//! `std::env` allocates, so the variables are read with `getenv` (`prim::env`), which does
//! not.

use core::ffi::CStr;
use core::fmt::Write;

use memalloc_core::Policy;

use crate::diag::{self, StackText};
use crate::region::MAX_ARENAS;

/// What the environment asks for.
pub(crate) struct Config {
    /// `MEMALLOC_POLICY`; [`Policy::default`] when unset or unknown.
    pub(crate) policy: Policy,
    /// `MEMALLOC_STATS=1`: print a summary at exit.
    pub(crate) stats: bool,
    /// `MEMALLOC_TRACE`: the file to record calls in.
    pub(crate) trace: Option<&'static CStr>,
    /// `MEMALLOC_FRONT`: whether small requests go through slabs and thread caches
    /// (`on`, the default, or `off`).
    pub(crate) front: bool,
    /// `MEMALLOC_ARENAS`: the number of arenas (1 to 16); `None`: one per processor.
    pub(crate) arenas: Option<usize>,
}

use crate::prim::env as var;

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
        let front = match var(c"MEMALLOC_FRONT").map(CStr::to_bytes) {
            None | Some(b"on") | Some(b"1") => true,
            Some(b"off") | Some(b"0") => false,
            Some(other) => {
                diag::line(format_args!(
                    "MEMALLOC_FRONT={:?} is neither on nor off; using on",
                    core::str::from_utf8(other).unwrap_or("?")
                ));
                true
            }
        };
        let arenas = match var(c"MEMALLOC_ARENAS").map(CStr::to_bytes) {
            None => None,
            Some(value) => match core::str::from_utf8(value).ok().and_then(|s| s.parse::<usize>().ok()) {
                Some(n) if (1..=MAX_ARENAS).contains(&n) => Some(n),
                _ => {
                    diag::line(format_args!(
                        "MEMALLOC_ARENAS={:?} is not a number from 1 to {MAX_ARENAS}; using one per processor",
                        core::str::from_utf8(value).unwrap_or("?")
                    ));
                    None
                }
            },
        };
        Config { policy, stats, trace, front, arenas }
    }
}
