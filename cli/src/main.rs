//! The `memalloc` command: a demo of the allocator on the reference's worked example.
//!
//! `cargo run --release -- demo` replays the worked example of REFERENCE.md and prints
//! each call, its result and the memory map after it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memalloc::{MemoryAllocator, Options, Policy};

/// memalloc: a manager for one contiguous range [0, capacity).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay the reference's worked example, printing each call, its result and the map.
    Demo {
        /// Placement policy: first-fit, best-fit (and any other the library offers).
        #[arg(long, default_value = "first-fit", value_parser = parse_policy)]
        policy: Policy,
    },
}

fn parse_policy(name: &str) -> Result<Policy, String> {
    name.parse().map_err(|_| {
        let known: Vec<_> = Policy::ALL.iter().map(|p| p.name()).collect();
        format!("unknown policy '{name}' (known: {})", known.join(", "))
    })
}

/// One call of the worked example.
#[derive(Clone, Copy)]
enum Call {
    Allocate(usize),
    Free(usize, usize),
}

/// The worked example of REFERENCE.md, on a capacity of 100.
const WORKED_EXAMPLE: [Call; 7] = [
    Call::Allocate(20),
    Call::Allocate(30),
    Call::Allocate(40),
    Call::Free(20, 30),
    Call::Allocate(25),
    Call::Free(0, 20),
    Call::Free(20, 25),
];

fn demo(policy: Policy) -> Result<(), memalloc::Error> {
    let mut heap = MemoryAllocator::with_options(Options::new(100).policy(policy))?;
    println!("memalloc {} demo: the worked example, capacity 100, policy {policy}\n", env!("CARGO_PKG_VERSION"));
    println!("start              {heap}");
    for (step, call) in WORKED_EXAMPLE.into_iter().enumerate() {
        let (text, result) = match call {
            Call::Allocate(size) => (format!("allocate({size})"), heap.allocate(size).map(|addr| addr.to_string())),
            Call::Free(addr, size) => (format!("free({addr}, {size})"), heap.free(addr, size).map(|()| "ok".into())),
        };
        let result = result.unwrap_or_else(|error| format!("error: {error}"));
        println!("{}. {text:<14} -> {result:<5}  {heap}", step + 1);
    }
    // One illegal call, to show that errors are values and change nothing.
    let before = heap.to_string();
    let error = heap.free(50, 10).expect_err("the live block at 50 has size 40");
    println!("\nfree(50, 10) is rejected: {error}; the map is unchanged: {}", heap.to_string() == before);
    let stats = heap.stats();
    println!(
        "stats: allocated {}, free {} in {} blocks, largest free block {}",
        stats.allocated, stats.free, stats.free_blocks, stats.largest_free
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { policy } => demo(policy),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("memalloc: {error}");
            ExitCode::FAILURE
        }
    }
}
