//! # weir-core
//!
//! The Sans-IO heart of Weir: HTTP/2 framing, HPACK, streams, flow control and
//! gRPC message framing as pure state machines. Nothing here opens a socket,
//! spawns a task, reads a clock or takes a lock: bytes go in, bytes and events
//! come out, and time is an argument. That lets the same core run under tokio,
//! smol, a hand-written event loop, a simulator or a fuzzer.
//!
//! Layers, lowest first:
//! * [`frame`]: RFC 9113 frames, zero-copy decode from `Bytes`, encode into a
//!   caller-owned buffer;
//! * [`hpack`]: RFC 7541 header compression with limits enforced while decoding;
//! * [`flow`], [`stream`], [`headers`]: windows, the §5.1 stream lifecycle, and
//!   HTTP message rules;
//! * [`conn`]: the HTTP/2 connection for both roles;
//! * [`grpc`]: gRPC calls over a connection (message framing, status,
//!   metadata, deadlines, compression);
//! * [`sim`]: an in-memory harness that wires two endpoints together.

pub mod error_code;
pub mod frame;
pub mod hpack;

pub mod conn;
pub mod flow;
pub mod grpc;
pub mod hash;
pub mod headers;
pub mod sim;
pub mod stream;

pub use error_code::ErrorCode;
