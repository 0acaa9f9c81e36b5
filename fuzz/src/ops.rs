//! The `ops` target: the Rust core against [`Model`], call by call, with
//! `check_invariants()` and the counters checked after every call.

use arbitrary::{Arbitrary, Unstructured};
use memalloc::{Block, BlockKind, Error, MemoryAllocator, Options, Policy};

use crate::Recorder;
use crate::input::{
    Addr, Alignment, Capacity, FreeSize, MinAlignment, NewCapacity, Place, RequestArgs, Size, Targets, calls, live_end,
    reservation_unit,
};
use crate::model::Model;

/// One fuzz input: a creation and the calls that follow it.
#[derive(Debug)]
pub struct Input {
    /// The capacity (0 included: creation must fail).
    pub capacity: Capacity,
    /// `Policy::ALL[policy % 4]`.
    pub policy: u8,
    /// The minimum alignment (invalid values included: creation must fail).
    pub min_alignment: MinAlignment,
    /// The calls, in order: as many as the input holds, at most [`MAX_OPS`].
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Input {
            capacity: u.arbitrary()?,
            policy: u.arbitrary()?,
            min_alignment: u.arbitrary()?,
            ops: calls(u, MAX_OPS)?,
        })
    }
}

/// One call on the allocator.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    /// `allocate(size)`.
    Alloc(Size),
    /// `allocate_aligned(size, alignment)`.
    AllocAligned(Size, Alignment),
    /// `free(addr, size)`.
    Free(Addr, FreeSize),
    /// `free_at(addr)`.
    FreeAt(Addr),
    /// `reallocate(addr, old_size, new_size)`.
    Realloc(Addr, FreeSize, Size),
    /// `size_of(addr)`.
    SizeOf(Addr),
    /// `reset()`.
    Reset,
    /// `allocate(size)` until it fails, at most [`FILL`] times: a full memory.
    Fill(Size),
    /// `free` of every `(every % 4 + 2)`-th live allocation from the `first`-th on:
    /// fragmentation, many free blocks of similar sizes.
    FreeEvery(u8, u8),
    /// `allocate_with(request)`: a range (around a free block, a live one, a share of the
    /// capacity, past it, any), either direction, any alignment, a tag, a pin.
    AllocWith(RequestArgs),
    /// `allocate_at(addr, size)`: mostly in free space on the unit the policy needs.
    AllocAt(Place, Size),
    /// `set_capacity(n)`: at, above or below the end of the last live footprint, a share
    /// of the capacity, or any capacity.
    SetCapacity(NewCapacity),
}

/// The most allocations one [`Op::Fill`] makes.
const FILL: usize = 32;

/// The most calls one input runs (the model is O(n) per call).
const MAX_OPS: usize = 512;

/// The outcome class of a call, for [`Recorder`].
#[derive(Debug, Clone, Copy)]
enum Class {
    Ok,
    /// A reallocation that kept its address and grew or kept its size.
    InPlace,
    /// A reallocation that kept its address and shrank, or a capacity change that shrank
    /// the range.
    Shrunk,
    /// A reallocation that moved.
    Moved,
    /// A top-down placement.
    TopDown,
    /// A capacity change that grew the range.
    Grown,
    /// A capacity change refused although the capacity holds the last allocation's size:
    /// its padding is in the way.
    OccupiedByPadding,
    Err(Error),
}

impl Class {
    fn of<T>(result: &Result<T, Error>) -> Class {
        match result {
            Ok(_) => Class::Ok,
            Err(e) => Class::Err(*e),
        }
    }

    fn name(self) -> String {
        match self {
            Class::Ok => "Ok".into(),
            Class::InPlace => "Ok (in place)".into(),
            Class::Shrunk => "Ok (shrunk)".into(),
            Class::Moved => "Ok (moved)".into(),
            Class::TopDown => "Ok (top-down)".into(),
            Class::Grown => "Ok (grown)".into(),
            Class::OccupiedByPadding => "Occupied (padding)".into(),
            Class::Err(e) => format!("{e:?}"),
        }
    }
}

/// The free blocks of `heap` as `(start, size)`.
fn free_blocks(heap: &MemoryAllocator) -> Vec<(usize, usize)> {
    heap.blocks().into_iter().filter(|b| b.kind == BlockKind::Free).map(|b| (b.start, b.size)).collect()
}

/// Everything the model knows must hold of `heap` after a call.
fn check_state(heap: &MemoryAllocator, model: &Model) -> Result<(), String> {
    heap.check_invariants()?;
    let blocks = heap.blocks();
    let want = model.blocks();
    if blocks != want {
        let show = |blocks: &[Block]| blocks.iter().map(Block::to_string).collect::<Vec<_>>().join(" ");
        return Err(format!("the map differs from the model\n got: {}\nwant: {}", show(&blocks), show(&want)));
    }
    let stats = heap.stats();
    if stats != model.stats() {
        return Err(format!("stats {stats:?}, model {:?}", model.stats()));
    }
    if stats.capacity != stats.allocated + stats.free + stats.padding {
        return Err(format!("capacity != allocated + free + padding: {stats:?}"));
    }
    if (heap.free_memory(), heap.largest_free_block()) != (stats.free, stats.largest_free) {
        return Err("free_memory / largest_free_block disagree with stats".into());
    }
    for b in blocks.iter().filter(|b| b.kind == BlockKind::Allocated) {
        if heap.size_of(b.start) != Ok(b.size) {
            return Err(format!("size_of({}) is not {}", b.start, b.size));
        }
    }
    Ok(())
}

/// Runs `input` and panics at the first disagreement, recording the classes reached.
pub fn run(input: &Input, recorder: &mut Recorder) {
    let policy = Policy::ALL[usize::from(input.policy) % Policy::ALL.len()];
    let options = Options::new(input.capacity.resolve()).policy(policy).min_alignment(input.min_alignment.resolve());
    let created = MemoryAllocator::with_options(options);
    let model = Model::new(options);
    recorder.record(policy.name(), "create", || Class::of(&created).name());
    let (heap, model) = match (created, model) {
        (Ok(heap), Ok(model)) => (heap, model),
        (Err(got), Err(want)) if got == want => return,
        (got, want) => panic!("create({options:?}): got {:?}, model {:?}", got.map(|_| ()), want.map(|_| ())),
    };
    if let Err(problem) = check_state(&heap, &model) {
        panic!("after create({options:?}): {problem}");
    }
    let mut runner = Runner { heap, model, options, recorder, steps: 0 };
    for &op in &input.ops {
        if runner.steps >= MAX_STEPS {
            break;
        }
        match op {
            Op::Fill(size) => {
                for _ in 0..FILL {
                    if let Class::Err(_) = runner.call(Op::Alloc(size)) {
                        break;
                    }
                }
            }
            Op::FreeEvery(every, first) => {
                let every = usize::from(every % 4) + 2;
                let live = runner.model.live();
                for &(addr, _) in live.iter().skip(usize::from(first) % every).step_by(every) {
                    runner.call(Op::Free(Addr::Raw(addr), FreeSize::Exact));
                }
            }
            op => {
                runner.call(op);
            }
        }
    }
}

/// The most primitive calls one input makes (composite calls expand to many).
const MAX_STEPS: usize = 1024;

/// An allocator, its model, and the calls made so far.
struct Runner<'r> {
    heap: MemoryAllocator,
    model: Model,
    options: Options,
    recorder: &'r mut Recorder,
    steps: usize,
}

impl Runner<'_> {
    /// Makes one primitive call, checks the result and the whole state, records the
    /// call's class; panics at the first disagreement.
    fn call(&mut self, op: Op) -> Class {
        let (name, result) = apply(&mut self.heap, &mut self.model, self.options, op);
        let class = match result.and_then(|class| check_state(&self.heap, &self.model).map(|()| class)) {
            Ok(class) => class,
            Err(problem) => panic!("{:?}, step {}, {op:?}: {problem}\nmap: {}", self.options, self.steps, self.heap),
        };
        self.recorder.record(self.options.policy.name(), name, || class.name());
        self.steps += 1;
        class
    }
}

/// Makes one primitive call on `heap` and checks its result against `model`.
fn apply(
    heap: &mut MemoryAllocator,
    model: &mut Model,
    options: Options,
    op: Op,
) -> (&'static str, Result<Class, String>) {
    let capacity = model.capacity();
    let live = model.live();
    let targets = Targets { capacity, live: &live, stale: model.stale() };
    // Sizes may be chosen near a free block's.
    let free_before = free_blocks(heap);
    match op {
        Op::Alloc(size) => {
            let size = size.resolve(capacity, &free_before);
            let got = heap.allocate(size);
            ("allocate", model.allocate(size, 1, got).map(|()| Class::of(&got)))
        }
        Op::AllocAligned(size, align) => {
            let (size, align) = (size.resolve(capacity, &free_before), align.resolve());
            let got = heap.allocate_aligned(size, align);
            ("allocate_aligned", model.allocate(size, align, got).map(|()| Class::of(&got)))
        }
        Op::Free(addr, size) => {
            let addr = targets.addr(addr);
            let size = targets.free_size(addr, size);
            let got = heap.free(addr, size);
            ("free", model.free(addr, size, got).map(|()| Class::of(&got)))
        }
        Op::FreeAt(addr) => {
            let addr = targets.addr(addr);
            let got = heap.free_at(addr);
            ("free_at", model.free_at(addr, got).map(|()| Class::of(&got)))
        }
        Op::Realloc(addr, old, new) => {
            let addr = targets.addr(addr);
            let old = targets.free_size(addr, old);
            let new = new.resolve(capacity, &free_before);
            let got = heap.reallocate(addr, old, new);
            let class = match got {
                Ok(moved) if moved != addr => Class::Moved,
                Ok(_) if new < old => Class::Shrunk,
                Ok(_) => Class::InPlace,
                Err(e) => Class::Err(e),
            };
            ("reallocate", model.reallocate(addr, old, new, got).map(|()| class))
        }
        Op::SizeOf(addr) => {
            let addr = targets.addr(addr);
            let got = heap.size_of(addr);
            let want = model.size_of(addr);
            let result = if got == want { Ok(Class::of(&got)) } else { Err(format!("got {got:?}, want {want:?}")) };
            ("size_of", result)
        }
        Op::Reset => {
            heap.reset();
            model.reset();
            ("reset", Ok(Class::Ok))
        }
        Op::AllocWith(args) => {
            let request = args.resolve(capacity, &free_before, &live);
            let got = heap.allocate_with(&request);
            let class = if got.is_ok() && request.top_down { Class::TopDown } else { Class::of(&got) };
            ("allocate_with", model.allocate_with(&request, got).map(|()| class))
        }
        Op::AllocAt(place, size) => {
            let size = size.resolve(capacity, &free_before);
            let unit = reservation_unit(options.policy, options.min_alignment, size);
            let addr = place.resolve(&targets, &free_before, unit);
            let got = heap.allocate_at(addr, size);
            ("allocate_at", model.allocate_at(addr, size, got).map(|()| Class::of(&got)))
        }
        Op::SetCapacity(new) => {
            let new = new.resolve(capacity, live_end(&live, options.policy, options.min_alignment));
            let got = heap.set_capacity(new);
            let sizes_end = live.last().map_or(0, |&(start, size)| start + size);
            let class = match got {
                Ok(()) if new > capacity => Class::Grown,
                Ok(()) if new < capacity => Class::Shrunk,
                Err(Error::Occupied) if new >= sizes_end => Class::OccupiedByPadding,
                _ => Class::of(&got),
            };
            ("set_capacity", model.set_capacity(new, got).map(|()| class))
        }
        Op::Fill(_) | Op::FreeEvery(..) => unreachable!("composite calls are expanded by run"),
    }
}
