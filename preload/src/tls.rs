//! Thread-local variables that start as zero bytes, in the initial-exec TLS model.
//!
//! A Rust `thread_local!` in a shared library uses the general-dynamic model: every
//! access calls `__tls_get_addr`, 6-8% of the time of a program that allocates small
//! blocks in a loop. Stable Rust cannot ask for another model, so on x86-64 Linux each
//! variable here is a symbol in `.tbss` (zero-filled) declared in assembly, and its
//! address is the thread pointer (`%fs:0`) plus the offset the dynamic linker wrote in the
//! GOT: two loads, no call. Initial-exec takes static TLS space, which a library loaded at
//! start (`LD_PRELOAD`) always gets. The accessors are also async-signal-safe (the lock's
//! marker is read from signal handlers). Elsewhere they fall back to `thread_local!`.

/// Declares `fn $name() -> *mut $ty`: the address of the calling thread's `$ty`, all zero
/// bytes when the thread starts (all-zero must be a valid `$ty`), living as long as the
/// thread. `$symbol` names it in the object file (hidden: not exported).
macro_rules! zeroed_thread_local {
    ($(#[$doc:meta])* fn $name:ident() -> *mut $ty:ty = $symbol:literal;) => {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        core::arch::global_asm!(
            ".pushsection .tbss,\"awT\",@nobits",
            ".p2align 3",
            concat!(".globl ", $symbol),
            concat!(".hidden ", $symbol),
            concat!(".type ", $symbol, ",@object"),
            concat!(".size ", $symbol, ",{size}"),
            concat!($symbol, ":"),
            ".zero {size}",
            ".popsection",
            size = const core::mem::size_of::<$ty>(),
        );

        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        const _: () = assert!(core::mem::align_of::<$ty>() <= 8, "the TLS symbol is aligned to 8");

        $(#[$doc])*
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        #[inline(always)]
        fn $name() -> *mut $ty {
            let thread_pointer: usize;
            let offset: usize;
            // SAFETY: reads the thread pointer (`%fs:0` holds its own address on x86-64
            // Linux) and the variable's offset from it, which the dynamic linker wrote in
            // the GOT; writes nothing.
            unsafe {
                core::arch::asm!(
                    "mov {tp}, qword ptr fs:[0]",
                    concat!("mov {off}, qword ptr [rip + ", $symbol, "@GOTTPOFF]"),
                    tp = out(reg) thread_pointer,
                    off = out(reg) offset,
                    options(nostack, readonly, preserves_flags, pure),
                );
            }
            thread_pointer.wrapping_add(offset) as *mut $ty
        }

        $(#[$doc])*
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        #[inline(always)]
        fn $name() -> *mut $ty {
            thread_local! {
                // SAFETY: the caller of the macro promises that all-zero is a valid value.
                static VALUE: core::cell::UnsafeCell<$ty> =
                    const { core::cell::UnsafeCell::new(unsafe { core::mem::zeroed() }) };
            }
            VALUE.with(core::cell::UnsafeCell::get)
        }
    };
}

pub(crate) use zeroed_thread_local;
