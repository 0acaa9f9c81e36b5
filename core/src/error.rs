//! The error type: one variant per C status code (see `ma_status`).

use std::ffi::CStr;
use std::fmt;

/// Why an operation was rejected. A rejected operation changes nothing.
///
/// Each variant corresponds to one `MA_ERR_*` status code of the C API; [`Error::code`]
/// gives that number.
///
/// ```
/// use memalloc_core::{Error, MemoryAllocator};
///
/// let mut heap = MemoryAllocator::new(100).unwrap();
/// assert_eq!(heap.allocate(0), Err(Error::InvalidSize));
/// assert_eq!(heap.allocate(101), Err(Error::OutOfMemory));
/// assert_eq!(heap.free(0, 10).unwrap_err().to_string(), "no live allocation starts at this address");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum Error {
    /// A required pointer was NULL (only the C layer can produce this).
    NullPointer = 1,
    /// The size is 0, or a freed range runs past the capacity.
    InvalidSize = 2,
    /// No free contiguous block can hold the request.
    OutOfMemory = 3,
    /// The address is not below the capacity.
    InvalidAddress = 4,
    /// No live allocation starts at this address (never allocated, double free, interior).
    NotAllocated = 5,
    /// A live allocation starts at this address, but with another size.
    SizeMismatch = 6,
    /// The alignment is 0 or not a power of two.
    InvalidAlignment = 7,
    /// Any other bad argument (capacity 0, unknown policy, bad options).
    InvalidArgument = 8,
    /// An internal invariant failed or a panic was caught; never expected.
    Internal = 9,
    /// A range that must be free is not: a unit of a fixed reservation is taken, or a
    /// live allocation lies beyond a new capacity.
    Occupied = 10,
    /// A snapshot does not fit the buffer given for it.
    BufferTooSmall = 11,
    /// Bytes that are not a valid snapshot.
    BadSnapshot = 12,
}

impl Error {
    /// Every variant, in status-code order (`MA_ERR_NULL_POINTER` = 1 first).
    pub const ALL: [Error; 12] = [
        Error::NullPointer,
        Error::InvalidSize,
        Error::OutOfMemory,
        Error::InvalidAddress,
        Error::NotAllocated,
        Error::SizeMismatch,
        Error::InvalidAlignment,
        Error::InvalidArgument,
        Error::Internal,
        Error::Occupied,
        Error::BufferTooSmall,
        Error::BadSnapshot,
    ];

    /// The C status code of this error (`MA_ERR_*`, never 0).
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The error with the given C status code, if there is one.
    pub fn from_code(code: i32) -> Option<Error> {
        Error::ALL.into_iter().find(|e| e.code() == code)
    }

    /// A short, static description; also what `ma_status_str` returns.
    pub fn message(self) -> &'static str {
        self.c_message().to_str().expect("messages are ASCII")
    }

    /// [`Error::message`] as a NUL-terminated string, for the C layer.
    pub const fn c_message(self) -> &'static CStr {
        match self {
            Error::NullPointer => c"a required pointer is NULL",
            Error::InvalidSize => c"invalid size: zero, or the range runs past the capacity",
            Error::OutOfMemory => c"no free block can hold the request",
            Error::InvalidAddress => c"address is out of range",
            Error::NotAllocated => c"no live allocation starts at this address",
            Error::SizeMismatch => c"the live allocation at this address has another size",
            Error::InvalidAlignment => c"alignment is zero or not a power of two",
            Error::InvalidArgument => c"invalid argument",
            Error::Internal => c"internal error",
            Error::Occupied => c"the range is not free",
            Error::BufferTooSmall => c"the buffer is too small for the snapshot",
            Error::BadSnapshot => c"not a valid snapshot",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}
