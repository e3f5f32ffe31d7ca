//! The gRPC interop test server and client (grpc.testing.TestService),
//! following grpc/doc/interop-test-descriptions.md.

/// `grpc.testing` messages and stubs.
pub mod testing {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/grpc.testing.rs"));
}

/// The encoded `google.protobuf.FileDescriptorSet` of interop/proto
/// (test.proto and its imports, with source info), as `weir-build` wrote it.
/// interop/node/grpc_testing.binpb is a copy for the Node gRPC-Web client
/// (`tests/descriptor_set.rs` checks it is current).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/grpc_testing.binpb"));

pub mod args;
pub mod client;
pub mod server;

/// The interop test PKI (interop/certs): CA, and the server certificate for
/// `*.test.google.fr`, `localhost` and `127.0.0.1`.
pub mod certs {
    /// The test CA certificate.
    pub const CA: &str = include_str!("../certs/ca.pem");
    /// The server certificate.
    pub const SERVER_CERT: &str = include_str!("../certs/server1.pem");
    /// The server's private key.
    pub const SERVER_KEY: &str = include_str!("../certs/server1.key");
}
