//! The snapshot harness: `MemoryAllocator::load` on hostile bytes, and save/load round
//! trips of random histories.
//!
//! Three kinds of input:
//! - **raw bytes**: `load` must return an allocator or `BadSnapshot`, never panic; an
//!   accepted snapshot is one the library writes itself (saving the loaded allocator gives
//!   the same bytes) and its allocator passes `check_invariants`;
//! - **a history**: random calls (tagged, pinned, aligned and ranged allocations, frees,
//!   reallocations, tag frees, compactions) on a fresh allocator, then `save` and `load`:
//!   the copy saves to the same bytes and answers the same follow-up calls identically,
//!   map for map;
//! - **a damaged history**: the same snapshot with bytes changed (and, half of the time,
//!   the checksum recomputed, so that the content checks are what stands in the way):
//!   rejected, or accepted only as a snapshot the library writes, as above.

use arbitrary::{Arbitrary, Unstructured};
use memalloc::{Error, MemoryAllocator, Options, Policy, Request};

use crate::Recorder;
use crate::input::calls;

/// Calls in a history and in the follow-up, at most.
const MAX_CALLS: usize = 64;

/// One fuzz input.
#[derive(Debug)]
pub enum Input {
    /// Bytes to load as they are.
    Raw(Vec<u8>),
    /// A history to save and load, its follow-up, and damage to do to the snapshot.
    History {
        /// `Policy::ALL[policy % 4]`.
        policy: u8,
        /// `1 + capacity % 4096` units.
        capacity: u16,
        /// `2^(min_alignment % 4)`.
        min_alignment: u8,
        /// The calls before saving.
        before: Vec<Call>,
        /// The calls on both allocators after loading.
        after: Vec<Call>,
        /// Byte changes to the snapshot (none: a clean round trip).
        damage: Vec<Damage>,
        /// Recompute the checksum after the damage.
        reseal: bool,
    },
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        if u.arbitrary::<u8>()? % 4 == 0 {
            let rest = u.len();
            return Ok(Input::Raw(u.bytes(rest)?.to_vec()));
        }
        let (policy, capacity, min_alignment) = (u.arbitrary()?, u.arbitrary()?, u.arbitrary()?);
        let damage_count = usize::from(u.arbitrary::<u8>()? % 4);
        let damage = (0..damage_count).map(|_| u.arbitrary()).collect::<arbitrary::Result<_>>()?;
        let reseal = u.arbitrary()?;
        let before = calls(u, MAX_CALLS)?;
        let split = before.len() / 2;
        let mut before: Vec<Call> = before;
        let after = before.split_off(split);
        Ok(Input::History { policy, capacity, min_alignment, before, after, damage, reseal })
    }
}

/// A call in a history.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Call {
    /// `allocate_with`: size `1 + size % 256`, alignment `2^(align % 6)`, tag `tag % 4`,
    /// pinned, top-down, and within the lower half when `lower_half`.
    Allocate { size: u8, align: u8, tag: u8, pinned: bool, top_down: bool, lower_half: bool },
    /// Frees the live allocation `pick % live`.
    Free { pick: u8 },
    /// Reallocates the live allocation `pick % live` to `1 + size % 256`.
    Reallocate { pick: u8, size: u8 },
    /// Retags the live allocation `pick % live`.
    SetTag { pick: u8, tag: u8 },
    /// Frees tag `tag % 4`.
    FreeTagged { tag: u8 },
    /// Compacts with `max_units` and `1 + max_moves % 8` moves.
    Compact { max_units: u8, max_moves: u8 },
    /// `allocate_at` an address within the capacity.
    AllocateAt { at: u16, size: u8 },
}

/// A change to a snapshot's bytes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Damage {
    /// XOR the byte at `offset % len` with `mask` (0 becomes 1).
    Flip { offset: u16, mask: u8 },
    /// Keep `offset % len` bytes.
    Truncate { offset: u16 },
    /// Append `byte`.
    Append { byte: u8 },
    /// Overwrite 8 bytes at `offset % len` with `value`.
    Word { offset: u16, value: u64 },
}

/// The live allocations, in the order they were made, as `(address, size)`.
type Live = Vec<(usize, usize)>;

/// Runs `call` on `heap`; returns a description of the outcome, compared between the
/// original and its loaded copy.
fn apply(heap: &mut MemoryAllocator, live: &mut Live, call: Call) -> String {
    let pick = |pick: u8, live: &Live| (!live.is_empty()).then(|| usize::from(pick) % live.len());
    match call {
        Call::Allocate { size, align, tag, pinned, top_down, lower_half } => {
            let size = 1 + usize::from(size);
            let mut request = Request::new(size).align(1 << (align % 6)).tag(u64::from(tag % 4));
            if pinned {
                request = request.pinned();
            }
            if top_down {
                request = request.top_down();
            }
            if lower_half {
                request = request.within(0..heap.capacity() / 2);
            }
            let result = heap.allocate_with(&request);
            if let Ok(addr) = result {
                live.push((addr, size));
            }
            format!("{result:?}")
        }
        Call::Free { pick: p } => match pick(p, live) {
            Some(k) => {
                let (addr, size) = live.swap_remove(k);
                format!("{:?}", heap.free(addr, size))
            }
            None => String::new(),
        },
        Call::Reallocate { pick: p, size } => match pick(p, live) {
            Some(k) => {
                let new_size = 1 + usize::from(size);
                let result = heap.reallocate(live[k].0, live[k].1, new_size);
                if let Ok(addr) = result {
                    live[k] = (addr, new_size);
                }
                format!("{result:?}")
            }
            None => String::new(),
        },
        Call::SetTag { pick: p, tag } => match pick(p, live) {
            Some(k) => format!("{:?}", heap.set_tag(live[k].0, u64::from(tag % 4))),
            None => String::new(),
        },
        Call::FreeTagged { tag } => {
            let tag = u64::from(tag % 4);
            let freed = heap.free_tagged(tag);
            live.retain(|&(addr, _)| heap.size_of(addr).is_ok());
            format!("{freed}")
        }
        Call::Compact { max_units, max_moves } => {
            let moves = heap.compact(usize::from(max_units), 1 + usize::from(max_moves % 8));
            for m in &moves {
                assert!(m.to < m.from, "a move goes down: {m:?}");
                let one = live.iter_mut().find(|(addr, _)| *addr == m.from).expect("a live allocation moved");
                assert_eq!(one.1, m.size, "a move carries the allocation's size");
                one.0 = m.to;
            }
            format!("{moves:?}")
        }
        Call::AllocateAt { at, size } => {
            let (at, size) = (usize::from(at) % heap.capacity(), 1 + usize::from(size));
            let result = heap.allocate_at(at, size);
            if result.is_ok() {
                live.push((at, size));
            }
            format!("{result:?}")
        }
    }
}

/// `bytes` loaded: rejected with `BadSnapshot`, or an allocator that saves to exactly
/// `bytes` and keeps its invariants.
fn load_checked(bytes: &[u8], recorder: &mut Recorder, part: &str) -> Option<MemoryAllocator> {
    match MemoryAllocator::load(bytes) {
        Ok(heap) => {
            heap.check_invariants().expect("a loaded allocator keeps its invariants");
            assert_eq!(heap.save(), bytes, "an accepted snapshot is one the library writes");
            recorder.record(part, "load", || heap.policy().name().to_string());
            Some(heap)
        }
        Err(error) => {
            assert_eq!(error, Error::BadSnapshot, "load fails only with BadSnapshot");
            recorder.record(part, "load", || "BadSnapshot".to_string());
            None
        }
    }
}

/// Runs one input.
pub fn run(input: &Input, recorder: &mut Recorder) {
    let Input::History { policy, capacity, min_alignment, before, after, damage, reseal } = input else {
        let Input::Raw(bytes) = input else { unreachable!() };
        load_checked(bytes, recorder, "raw");
        return;
    };
    let options = Options::new(1 + usize::from(*capacity) % 4096)
        .policy(Policy::ALL[usize::from(*policy) % 4])
        .min_alignment(1 << (min_alignment % 4));
    let mut heap = MemoryAllocator::with_options(options).expect("valid options");
    let mut live = Live::new();
    for &call in before {
        apply(&mut heap, &mut live, call);
    }
    let bytes = heap.save();
    assert_eq!(bytes.len(), heap.snapshot_len(), "snapshot_len is the saved length");
    if damage.is_empty() {
        let mut copy = load_checked(&bytes, recorder, "round trip").expect("a saved snapshot loads");
        let mut copy_live = live.clone();
        for &call in after {
            let (a, b) = (apply(&mut heap, &mut live, call), apply(&mut copy, &mut copy_live, call));
            assert_eq!(a, b, "the loaded copy answers {call:?} as the original");
            assert_eq!(heap.blocks(), copy.blocks(), "the same map after {call:?}");
        }
        assert_eq!(heap.save(), copy.save(), "the same history since the snapshot, the same bytes");
        return;
    }
    let mut bad = bytes.clone();
    for change in damage {
        let len = bad.len().max(1);
        match *change {
            Damage::Flip { offset, mask } => {
                if let Some(byte) = bad.get_mut(usize::from(offset) % len) {
                    *byte ^= mask.max(1);
                }
            }
            Damage::Truncate { offset } => bad.truncate(usize::from(offset) % len),
            Damage::Append { byte } => bad.push(byte),
            Damage::Word { offset, value } => {
                let at = usize::from(offset) % len;
                let end = (at + 8).min(bad.len());
                bad[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            }
        }
    }
    if *reseal && bad.len() >= 8 {
        let body = bad.len() - 8;
        let hash =
            bad[..body].iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        bad[body..].copy_from_slice(&hash.to_le_bytes());
    }
    load_checked(&bad, recorder, if *reseal { "resealed damage" } else { "damage" });
}
