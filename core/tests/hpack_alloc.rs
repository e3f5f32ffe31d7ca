//! Allocation counts on the hot paths, measured with a counting global
//! allocator (the one place that needs `unsafe`: implementing `GlobalAlloc`).
//!
//! * Encoding a header list that fully hits the tables allocates nothing.
//! * Decoding an all-indexed block allocates nothing (fields are refcounts).
//! * Past the header list limit, non-indexed literals are not allocated.

#![allow(unsafe_code)]

use bytes::Bytes;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use weir_core::hpack::{Decoder, Encoder, HeaderField};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made by `f` on this thread.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = f();
    (ALLOCATIONS.with(Cell::get) - before, result)
}

fn grpc_request() -> Vec<HeaderField> {
    vec![
        HeaderField::new(":method", "POST"),
        HeaderField::new(":scheme", "http"),
        HeaderField::new(":path", "/helloworld.Greeter/SayHello"),
        HeaderField::new(":authority", "localhost:50051"),
        HeaderField::new("content-type", "application/grpc"),
        HeaderField::new("te", "trailers"),
        HeaderField::new("grpc-accept-encoding", "gzip"),
        HeaderField::new("user-agent", "grpc-rust-weir/0.1"),
        HeaderField::new("grpc-timeout", "1S"),
        HeaderField::sensitive("authorization", "Bearer token"),
    ]
}

#[test]
fn hot_paths_do_not_allocate() {
    // One test: the counter is per thread, but keep the file's story linear.
    let fields = grpc_request();
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new(4096);
    let mut wire = Vec::with_capacity(1024);
    encoder.encode(&fields, &mut wire);
    decoder.decode(&Bytes::from(wire.clone()), usize::MAX, |_| {}).unwrap();

    // Warm encoder: indexed fields, plus literals for grpc-timeout (not
    // indexed by policy) and authorization (sensitive).
    wire.clear();
    let (count, ()) = allocations(|| encoder.encode(&fields, &mut wire));
    assert_eq!(count, 0, "warm encode allocated");
    assert_eq!(wire[..7], [0x83, 0x86, 0xc3, 0xc2, 0xc1, 0xc0, 0xbf]);

    // Warm decoder on an all-indexed block: refcount clones only.
    let indexed = Bytes::from_static(&[0x83, 0x86, 0xc3, 0xc2, 0xc1, 0xc0, 0xbf, 0xbe]);
    let mut decoded = Vec::with_capacity(16);
    let (count, result) = allocations(|| decoder.decode(&indexed, usize::MAX, |field| decoded.push(field)));
    assert_eq!(count, 0, "indexed decode allocated");
    assert_eq!(result.unwrap().fields, 8);
    assert_eq!(decoded, fields[..8]);

    // Over the limit from the first field: the literals (raw and Huffman,
    // never indexed and without indexing) are validated but not allocated.
    let mut literals = Vec::new();
    let mut cold = Encoder::new();
    cold.set_index_policy(weir_core::hpack::IndexPolicy::Never);
    cold.encode(&fields, &mut literals);
    let literals = Bytes::from(literals);
    let mut fresh = Decoder::new(4096);
    let (count, result) = allocations(|| fresh.decode(&literals, 0, |_| panic!("over the limit")));
    assert_eq!(count, 0, "over-limit literals allocated");
    assert!(result.unwrap().over_limit);
    // Within the limit, the Huffman strings are allocated (once each).
    let (count, _) = allocations(|| fresh.decode(&literals, usize::MAX, |_| {}));
    assert!(count > 0);
}
