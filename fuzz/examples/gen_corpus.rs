//! Writes the seed corpus of both fuzz targets: `fuzz/corpus/ops/` and
//! `fuzz/corpus/c_api/`.
//!
//! Deterministic: pseudo-random byte strings (a fixed-seed generator) are decoded the
//! way libFuzzer's inputs are and run through the harness; a string is kept as a seed when
//! it reaches an outcome class (policy or pointer case, call, status) that no earlier
//! seed reached. Stops when every class in the lists below is reached, and fails (exit 1)
//! naming the ones it could not reach. Seeds are at most 512 bytes, most at most 256.
//!
//!     cargo run --release --manifest-path fuzz/Cargo.toml --no-default-features --example gen_corpus

use std::collections::BTreeSet;
use std::fs;
use std::panic;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use memalloc_fuzz::{Coverage, Recorder, c_api, ops};

/// splitmix64: small, deterministic, good enough to make bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 8 to `max` bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = 8 + (self.next() % (max as u64 - 7)) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// The classes `ops` must reach, for each policy: every outcome of every call in docs/CONTRACT.md.
fn ops_classes() -> BTreeSet<(String, &'static str, String)> {
    let calls: &[(&'static str, &[&str])] = &[
        ("create", &["Ok", "InvalidArgument", "InvalidAlignment"]),
        ("allocate", &["Ok", "InvalidSize", "OutOfMemory"]),
        ("allocate_aligned", &["Ok", "InvalidAlignment", "InvalidSize", "OutOfMemory"]),
        ("free", &["Ok", "InvalidAddress", "InvalidSize", "NotAllocated", "SizeMismatch"]),
        ("free_at", &["Ok", "InvalidAddress", "NotAllocated"]),
        (
            "reallocate",
            &[
                "Ok (in place)",
                "Ok (shrunk)",
                "Ok (moved)",
                "InvalidAddress",
                "InvalidSize",
                "NotAllocated",
                "SizeMismatch",
                "OutOfMemory",
            ],
        ),
        ("size_of", &["Ok", "InvalidAddress", "NotAllocated"]),
        ("reset", &["Ok"]),
        (
            "allocate_with",
            &["Ok", "Ok (top-down)", "InvalidAlignment", "InvalidSize", "InvalidArgument", "OutOfMemory"],
        ),
        ("allocate_at", &["Ok", "InvalidAddress", "InvalidSize", "InvalidAlignment", "Occupied"]),
        ("set_capacity", &["Ok (grown)", "Ok (shrunk)", "InvalidArgument", "Occupied", "Occupied (padding)"]),
    ];
    let mut classes = BTreeSet::new();
    for policy in ["first-fit", "best-fit", "tlsf", "buddy"] {
        for &(call, outcomes) in calls {
            for &outcome in outcomes {
                classes.insert((policy.to_string(), call, outcome.to_string()));
            }
        }
    }
    classes
}

/// The classes `c_api` must reach.
fn c_api_classes() -> BTreeSet<(String, &'static str, String)> {
    let mut classes = BTreeSet::new();
    let mut add = |part: &str, call: &'static str, outcomes: &[&str]| {
        for &outcome in outcomes {
            classes.insert((part.to_string(), call, outcome.to_string()));
        }
    };
    add("create", "ma_create", &["Ok", "NULL"]);
    add("create", "ma_create_with", &["Ok", "InvalidArgument", "InvalidAlignment"]);
    add("create", "ma_create_with(NULL opts)", &["NullPointer"]);
    add("create", "ma_create_with(NULL out)", &["NullPointer"]);
    let handle_calls = [
        "ma_alloc",
        "ma_alloc_aligned",
        "ma_free",
        "ma_free_at",
        "ma_realloc",
        "ma_size_of",
        "ma_reset",
        "ma_get_stats",
        "ma_walk",
        "ma_walk(re-entrant)",
        "ma_alloc_ex",
        "ma_alloc_at",
        "ma_set_capacity",
    ];
    for call in handle_calls {
        add("NULL handle", call, &["NullPointer"]);
    }
    let out_calls =
        ["ma_alloc", "ma_alloc_aligned", "ma_realloc", "ma_size_of", "ma_get_stats", "ma_walk(NULL fn)", "ma_alloc_ex"];
    for call in out_calls {
        add("NULL out", call, &["NullPointer"]);
    }
    add("NULL request", "ma_alloc_ex", &["NullPointer"]);
    add("pointers valid", "ma_alloc", &["Ok", "InvalidSize", "OutOfMemory"]);
    add("pointers valid", "ma_alloc_aligned", &["Ok", "InvalidAlignment", "InvalidSize", "OutOfMemory"]);
    add("pointers valid", "ma_free", &["Ok", "InvalidAddress", "InvalidSize", "NotAllocated", "SizeMismatch"]);
    add("pointers valid", "ma_free_at", &["Ok", "InvalidAddress", "NotAllocated"]);
    add(
        "pointers valid",
        "ma_realloc",
        &["Ok", "InvalidAddress", "InvalidSize", "NotAllocated", "SizeMismatch", "OutOfMemory"],
    );
    add("pointers valid", "ma_size_of", &["Ok", "InvalidAddress", "NotAllocated"]);
    add("pointers valid", "ma_alloc_ex", &["Ok", "InvalidAlignment", "InvalidSize", "InvalidArgument", "OutOfMemory"]);
    add("pointers valid", "ma_alloc_ex(old struct)", &["InvalidArgument"]);
    add("pointers valid", "ma_alloc_ex(undefined flags)", &["InvalidArgument"]);
    add("pointers valid", "ma_alloc_ex(newer struct)", &["Ok"]);
    add("pointers valid", "ma_alloc_at", &["Ok", "InvalidAddress", "InvalidSize", "InvalidAlignment", "Occupied"]);
    add("pointers valid", "ma_set_capacity", &["Ok", "InvalidArgument", "Occupied"]);
    for call in ["ma_reset", "ma_get_stats", "ma_walk", "ma_walk(re-entrant)"] {
        add("pointers valid", call, &["Ok"]);
    }
    add("static", "ma_status_str", &["known", "unknown"]);
    add("static", "ma_version", &["Ok"]);
    add("static", "NULL no-ops", &["Ok"]);
    classes
}

/// Generates seeds for one target into `dir`; returns the classes left unreached.
fn generate<T: for<'a> Arbitrary<'a>>(
    dir: &Path,
    seed: u64,
    wanted: &BTreeSet<(String, &'static str, String)>,
    run: fn(&T, &mut Recorder),
) -> Vec<(String, &'static str, String)> {
    fs::create_dir_all(dir).expect("the corpus directory can be created");
    for entry in fs::read_dir(dir).expect("the corpus directory is readable") {
        fs::remove_file(entry.expect("a directory entry").path()).expect("an old seed can be removed");
    }
    let mut rng = Rng(seed);
    let mut reached = Coverage::new();
    let mut seeds = 0;
    for attempt in 0..4_000_000 {
        if wanted.is_subset(&reached) {
            break;
        }
        // Longer inputs (more calls) once the short ones stop finding new classes.
        let bytes = rng.bytes(if attempt < 1_000_000 { 256 } else { 512 });
        // libFuzzer's decoding: `arbitrary_take_rest` over the whole input.
        let Ok(input) = T::arbitrary_take_rest(Unstructured::new(&bytes)) else { continue };
        let mut recorder = Recorder::on();
        run(&input, &mut recorder);
        let coverage = recorder.into_coverage();
        if coverage.iter().any(|class| wanted.contains(class) && !reached.contains(class)) {
            reached.extend(coverage);
            seeds += 1;
            fs::write(dir.join(format!("seed-{seeds:03}")), &bytes).expect("a seed can be written");
        }
    }
    println!("{}: {seeds} seeds", dir.display());
    wanted.difference(&reached).cloned().collect()
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    // A disagreement found here is a bug: let it panic with its message.
    panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let mut missing = generate::<ops::Input>(&corpus.join("ops"), 1, &ops_classes(), ops::run);
    missing.extend(generate::<c_api::Input>(&corpus.join("c_api"), 2, &c_api_classes(), c_api::run));
    if !missing.is_empty() {
        eprintln!("classes no seed reached: {missing:#?}");
        std::process::exit(1);
    }
}
