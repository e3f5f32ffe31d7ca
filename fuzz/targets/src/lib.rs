//! # weir-fuzz-targets
//!
//! The logic of every Weir fuzz target as a plain `fn run(data: &[u8])`, so
//! that the same code runs under libFuzzer (the thin wrappers in
//! `fuzz/fuzz_targets/`, built with `cargo fuzz`) and as ordinary tests on
//! the stable toolchain (`tests/corpus_replay.rs` feeds every committed
//! corpus file through the matching function).
//!
//! A target never returns an error: it either finishes or panics. Every
//! invariant is an `assert!`, so a violation is a crash that libFuzzer saves
//! and minimises like any other. With `WEIR_FUZZ_DEBUG=1`, the connection
//! targets print the frames they see (handy when reading a reproducer:
//! `cargo test -p weir-fuzz-targets --test corpus_replay -- --nocapture`).

pub mod client_connection;
pub mod frame_decoder;
pub mod grpc_message_decoder;
pub mod grpc_web_decoder;
pub mod hpack_decoder;
pub mod hpack_roundtrip;
pub mod http1_client;
pub mod http1_server;
pub mod pair_operations;
pub mod seeds;
pub mod server_connection;

mod drive;
mod observer;

/// A fuzz target: its name (as in `fuzz/fuzz_targets/<name>.rs` and
/// `fuzz/corpus/<name>/`) and its entry point.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The cargo-fuzz target name.
    pub name: &'static str,
    /// Runs one input; panics when an invariant breaks.
    pub run: fn(&[u8]),
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target { name: "frame_decoder", run: frame_decoder::run },
    Target { name: "hpack_decoder", run: hpack_decoder::run },
    Target { name: "hpack_roundtrip", run: hpack_roundtrip::run },
    Target { name: "server_connection", run: server_connection::run },
    Target { name: "client_connection", run: client_connection::run },
    Target { name: "grpc_message_decoder", run: grpc_message_decoder::run },
    Target { name: "pair_operations", run: pair_operations::run },
    Target { name: "http1_server", run: http1_server::run },
    Target { name: "http1_client", run: http1_client::run },
    Target { name: "grpc_web_decoder", run: grpc_web_decoder::run },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The octet at `offset` of the data a test sends on `stream` in direction
/// `dir`: a position-dependent pattern, so lost, duplicated or reordered
/// octets show up when the receiver checks what it read.
pub fn pattern_byte(stream: u32, dir: u8, offset: u64) -> u8 {
    let mut z = offset
        .wrapping_add(u64::from(stream) << 33)
        .wrapping_add(u64::from(dir) << 61)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (z >> 56) as u8
}

/// `len` octets of [`pattern_byte`] starting at `offset`.
pub fn pattern(stream: u32, dir: u8, offset: u64, len: usize) -> bytes::Bytes {
    (0..len as u64).map(|i| pattern_byte(stream, dir, offset + i)).collect::<Vec<u8>>().into()
}
