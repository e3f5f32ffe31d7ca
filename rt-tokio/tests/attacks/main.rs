//! Attack tests (issues 10, 18): every known HTTP/2 and gRPC attack class thrown at
//! the real tokio server over loopback.
//!
//! Each test is bounded in count and time and asserts three things: the
//! server's reaction (a GOAWAY with the right code, resets, or a gRPC status),
//! that the process's live heap grew by less than a bound computed from the
//! configured limits while the attack ran (measured by the counting allocator
//! below), and that a fresh connection is still served (a real gRPC call).
//!
//! `long_runs` holds the heap tests of long runs (20,000 connections, a
//! million messages on one stream), which need the same counter.
//!
//! The tests share one process-wide allocation counter, so they run one at a
//! time ([`harness::serial`]).

mod alloc;
mod harness;

mod connection_flood;
mod continuation;
mod control_floods;
mod grpc_messages;
mod header_blocks;
mod long_runs;
mod memory_budget;
mod rapid_reset;
mod slow_reader;
mod streams;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;
