//! The gRPC interop test server and client (grpc.testing.TestService),
//! following grpc/doc/interop-test-descriptions.md.

/// `grpc.testing` messages and stubs.
pub mod testing {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/grpc.testing.rs"));
}

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
