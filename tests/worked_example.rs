//! The worked example of docs/REFERENCE-ALGORITHM.md, step by step: addresses and the whole map.

use memalloc::{Error, MemoryAllocator, Policy};

#[derive(Clone, Copy)]
enum Call {
    Allocate(usize),
    Free(usize, usize),
}

/// (call, the address it returns for an allocation, the map after it).
const STEPS: [(Call, usize, &str); 7] = [
    (Call::Allocate(20), 0, "[Allocated(0-19)] [Free(20-99)]"),
    (Call::Allocate(30), 20, "[Allocated(0-19)] [Allocated(20-49)] [Free(50-99)]"),
    (Call::Allocate(40), 50, "[Allocated(0-19)] [Allocated(20-49)] [Allocated(50-89)] [Free(90-99)]"),
    (Call::Free(20, 30), 0, "[Allocated(0-19)] [Free(20-49)] [Allocated(50-89)] [Free(90-99)]"),
    (Call::Allocate(25), 20, "[Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]"),
    (Call::Free(0, 20), 0, "[Free(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]"),
    (Call::Free(20, 25), 0, "[Free(0-49)] [Allocated(50-89)] [Free(90-99)]"),
];

#[test]
fn worked_example_step_by_step() {
    let mut heap = MemoryAllocator::new(100).unwrap();
    assert_eq!(heap.to_string(), "[Free(0-99)]");
    for (step, &(call, expected_addr, expected_map)) in STEPS.iter().enumerate() {
        match call {
            Call::Allocate(size) => assert_eq!(heap.allocate(size), Ok(expected_addr), "step {}", step + 1),
            Call::Free(addr, size) => assert_eq!(heap.free(addr, size), Ok(()), "step {}", step + 1),
        }
        assert_eq!(heap.to_string(), expected_map, "map after step {}", step + 1);
        heap.check_invariants().unwrap();
    }
}

#[test]
fn worked_example_under_best_fit_places_in_the_smallest_hole() {
    let mut heap = MemoryAllocator::with_options(memalloc::Options::new(100).policy(Policy::BestFit)).unwrap();
    for &(call, _, _) in &STEPS[..4] {
        match call {
            Call::Allocate(size) => drop(heap.allocate(size).unwrap()),
            Call::Free(addr, size) => heap.free(addr, size).unwrap(),
        }
    }
    // Free holes: (20, 30) and (90, 10). Best fit puts 8 units in the 10-unit hole.
    assert_eq!(heap.allocate(8), Ok(90));
    assert_eq!(heap.allocate(25), Ok(20));
    heap.check_invariants().unwrap();
    assert_eq!(heap.free(90, 9), Err(Error::SizeMismatch));
}
