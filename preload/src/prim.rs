//! The operating system on one page: every system call and C library service that the
//! preload uses, each behind a small safe function (mimalloc's `prim` layer is the model).
//! The rest of the library states what it wants (map these bytes here, drop these pages,
//! sleep on this word); the contracts with the kernel, and most of the `unsafe`, are here.
//!
//! None of these functions allocates or calls `malloc`.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::AtomicU32;

/// The calling thread's `errno`.
pub(crate) fn errno() -> libc::c_int {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(value: libc::c_int) {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = value };
}

/// The value of the environment variable `name`, if set.
pub(crate) fn env(name: &core::ffi::CStr) -> Option<&'static core::ffi::CStr> {
    // SAFETY: `name` is NUL-terminated. The returned string lives in the environment,
    // which this library never changes; programs that change a variable while the heap
    // starts race with themselves, as with any getenv.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: getenv returned a NUL-terminated string (see above for its lifetime).
    (!value.is_null()).then(|| unsafe { core::ffi::CStr::from_ptr(value) })
}

/// The system's page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE always succeeds on Linux.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 { page as usize } else { 4096 }
}

/// 64 random bits from the kernel (`getrandom`, without blocking); if it gives none, the
/// address-space layout's randomness, mixed.
pub(crate) fn random_word() -> usize {
    let mut word = 0usize;
    // SAFETY: the buffer is `word`, writable and as long as the length given.
    let got = unsafe { libc::getrandom((&raw mut word).cast(), size_of::<usize>(), libc::GRND_NONBLOCK) };
    if got == size_of::<usize>() as isize {
        return word;
    }
    let local = 0u8;
    let seed = (&raw const local as usize) ^ (page_size as *const () as usize).rotate_left(32);
    // A multiply-xorshift mix (splitmix64's finaliser), so that the mark shows no address.
    let mut z = (seed as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as usize
}

/// The number of online processors (at least 1).
pub(crate) fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 { n as usize } else { 1 }
}

/// Total RAM plus swap, in bytes (`usize::MAX` if the kernel does not say).
pub(crate) fn ram_and_swap() -> usize {
    // SAFETY: sysinfo is plain data, valid when zeroed; the call fills it.
    let mut info: libc::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `info` is a valid out-pointer.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return usize::MAX;
    }
    let unit = (info.mem_unit as usize).max(1);
    (info.totalram as usize).saturating_add(info.totalswap as usize).saturating_mul(unit)
}

/// The process's peak resident set, in KiB.
pub(crate) fn peak_rss_kib() -> i64 {
    // SAFETY: rusage is plain data, valid when zeroed; getrusage fills it.
    let mut usage: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: `usage` is a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss
}

/// The calling process's id and its parent's.
pub(crate) fn pid_and_ppid() -> (u32, u32) {
    // SAFETY: getpid and getppid have no preconditions.
    unsafe { (libc::getpid() as u32, libc::getppid() as u32) }
}

/// Aborts the process (SIGABRT).
pub(crate) fn abort() -> ! {
    // SAFETY: abort has no preconditions; it does not return.
    unsafe { libc::abort() }
}

/// Maps `len` bytes of fresh zero memory at an address of the kernel's choice, without
/// reserving swap for it when `noreserve`; `None` when the kernel refuses.
pub(crate) fn map_anywhere(len: usize, noreserve: bool) -> Option<usize> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | if noreserve { libc::MAP_NORESERVE } else { 0 };
    // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
    // existing memory.
    let p = unsafe { libc::mmap(ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    (p != libc::MAP_FAILED).then_some(p as usize)
}

/// Maps `len` bytes of fresh zero memory (no swap reserved) exactly at `addr`, only if
/// nothing is mapped there yet; whether it worked.
pub(crate) fn map_at(addr: usize, len: usize) -> bool {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE;
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping: the kernel fails
    // (EEXIST) if any page of the range is in use, so no memory of anyone is touched.
    let p = unsafe { libc::mmap(addr as *mut c_void, len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return false;
    }
    if p as usize != addr {
        // A kernel older than 4.17 takes the flag for a hint and maps elsewhere.
        unmap(p as usize, len);
        return false;
    }
    true
}

/// Replaces `[addr, addr + len)`, a range of the caller's own mapping, with fresh zero
/// pages; whether it worked.
///
/// # Safety
/// The range belongs to a mapping the caller owns, and nothing in it is used any more.
pub(crate) unsafe fn map_over(addr: usize, len: usize) -> bool {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED;
    // SAFETY: the caller owns the range and no longer uses what it holds (forwarded).
    let p = unsafe { libc::mmap(addr as *mut c_void, len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    p != libc::MAP_FAILED
}

/// Unmaps `[addr, addr + len)`.
pub(crate) fn unmap(addr: usize, len: usize) {
    if len > 0 {
        // SAFETY: callers pass only ranges of mappings they made and no longer use.
        unsafe { libc::munmap(addr as *mut c_void, len) };
    }
}

/// Grows or shrinks the mapping `[addr, addr + old_len)` to `new_len` bytes, moving it if
/// needed (its contents go with it); the new address, or `None` when the kernel refuses.
///
/// # Safety
/// The range is one whole mapping made by [`map_anywhere`] and owned by the caller.
pub(crate) unsafe fn remap(addr: usize, old_len: usize, new_len: usize) -> Option<usize> {
    // SAFETY: the caller owns the mapping (forwarded); MREMAP_MAYMOVE keeps its contents.
    let p = unsafe { libc::mremap(addr as *mut c_void, old_len, new_len, libc::MREMAP_MAYMOVE) };
    (p != libc::MAP_FAILED).then_some(p as usize)
}

/// Moves the pages of `[from, from + len)` to `[to, to + len)` without copying them;
/// `[from, from + len)` is left unmapped. Whether it worked (on failure nothing changed).
///
/// # Safety
/// Both ranges are page-aligned, do not overlap, and belong to the caller's mappings;
/// nothing at `to` is used any more.
pub(crate) unsafe fn move_pages(from: usize, len: usize, to: usize) -> bool {
    let flags = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED;
    // SAFETY: the caller owns both ranges (forwarded); MREMAP_FIXED replaces what was at
    // `to`, which nobody uses.
    let p = unsafe { libc::mremap(from as *mut c_void, len, len, flags, to as *mut c_void) };
    p != libc::MAP_FAILED
}

/// Gives the pages of `[addr, addr + len)` back to the kernel (`MADV_DONTNEED`): they read
/// as zero afterwards. Whether it worked (`madvise` refuses locked pages).
///
/// # Safety
/// The range is part of a private anonymous mapping of the caller's and holds nothing
/// anyone will read.
pub(crate) unsafe fn drop_pages(addr: usize, len: usize) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { libc::madvise(addr as *mut c_void, len, libc::MADV_DONTNEED) == 0 }
}

/// Sleeps while `word` holds `expected` (or until a wake-up or a signal: the caller checks
/// the word again either way).
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT reads the aligned u32 at `word`, which the reference keeps alive;
    // a private futex (never shared between processes); no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes one thread sleeping on `word`, if any.
pub(crate) fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
    }
}

/// Writes all of `bytes` to `fd`, retrying after a partial write or EINTR; gives up
/// silently on any other error (there is nowhere left to report it).
pub(crate) fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe the live slice `bytes`.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && errno() == libc::EINTR {
            continue;
        } else {
            return;
        }
    }
}

/// Opens (creating it, mode 0644) the file named by the NUL-terminated `path` for
/// appending, close-on-exec; the descriptor, or `None` (`errno` says why).
pub(crate) fn open_append(path: &[u8]) -> Option<libc::c_int> {
    if path.last() != Some(&0) {
        return None;
    }
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated (checked above) and lives through the call.
    let fd = unsafe { libc::open(path.as_ptr().cast(), flags, 0o644) };
    (fd >= 0).then_some(fd)
}

/// Closes `fd`, a descriptor the caller opened and uses no more.
pub(crate) fn close(fd: libc::c_int) {
    // SAFETY: closing a descriptor has no memory-safety preconditions.
    unsafe { libc::close(fd) };
}

/// The device and inode that `fd` refers to, if it is open.
pub(crate) fn identity(fd: libc::c_int) -> Option<(libc::dev_t, libc::ino_t)> {
    // SAFETY: stat is plain data; fstat fills it or fails.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// A close-on-exec duplicate of `fd` (numbered 3 or above), if it is open.
pub(crate) fn duplicate(fd: libc::c_int) -> Option<libc::c_int> {
    // SAFETY: fcntl with F_DUPFD_CLOEXEC has no memory-safety preconditions.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    (dup >= 0).then_some(dup)
}

/// Registers the fork handlers (`pthread_atfork`); whether it worked. It may call
/// `malloc`.
pub(crate) fn at_fork(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) -> bool {
    // SAFETY: the handlers are plain functions that live as long as the process (an
    // LD_PRELOAD object is never unloaded).
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
}

/// A thread-specific key whose `destructor` runs when a thread that set a value for it
/// exits; `None` when none is left.
pub(crate) fn thread_exit_key(destructor: unsafe extern "C" fn(*mut c_void)) -> Option<libc::pthread_key_t> {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: `key` is a valid out-pointer; the destructor is a function that lives as
    // long as the process.
    (unsafe { libc::pthread_key_create(&mut key, Some(destructor)) } == 0).then_some(key)
}

/// Sets the calling thread's value for `key` (non-null: its destructor will run at thread
/// exit); whether it worked. glibc may call `calloc` here (for keys above 31).
pub(crate) fn set_thread_value(key: libc::pthread_key_t, value: *mut c_void) -> bool {
    // SAFETY: `key` was created by `thread_exit_key`; the value is only passed back to the
    // destructor.
    unsafe { libc::pthread_setspecific(key, value) == 0 }
}

unsafe extern "C" {
    /// glibc's "no thread was ever created" flag (`<sys/single_threaded.h>`, since 2.32):
    /// cleared by `pthread_create` before the new thread starts.
    static __libc_single_threaded: libc::c_char;
    /// glibc's lock over the list of open `FILE`s, which `fork` takes after running the
    /// prepare handlers (exported by glibc since 2.2.5).
    fn _IO_list_lock();
    fn _IO_list_unlock();
    fn _IO_list_resetlock();
}

/// Whether the calling thread is the process's only thread (glibc's
/// `__libc_single_threaded`). While it is, it stays so until this thread itself calls
/// `pthread_create`, whose new thread sees everything written before; so a lock may be
/// taken without an atomic read-modify-write, as glibc's `malloc` does (`SINGLE_THREAD_P`).
#[inline(always)]
pub(crate) fn single_threaded() -> bool {
    // SAFETY: a byte that glibc exports for reading, valid for the process's life; read
    // volatile because pthread_create may clear it between two calls.
    unsafe { ptr::read_volatile(&raw const __libc_single_threaded) != 0 }
}

/// Takes stdio's list lock (recursive: `fork` takes it again after the prepare handlers).
pub(crate) fn stdio_lock() {
    // SAFETY: a recursive lock of glibc's, released by `stdio_unlock` or reset in a child.
    unsafe { _IO_list_lock() }
}

/// Releases the lock taken by [`stdio_lock`] (in the parent: in a forked child, `fork`
/// itself resets it).
pub(crate) fn stdio_unlock() {
    // SAFETY: this thread took the lock with `stdio_lock`.
    unsafe { _IO_list_unlock() }
}

/// In a forked child: makes stdio's list lock free (the child has one thread).
pub(crate) fn stdio_reset() {
    // SAFETY: called in the child of a fork, whose only thread is the one that forked.
    unsafe { _IO_list_resetlock() }
}
