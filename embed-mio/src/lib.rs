//! weir-core embedded in a `mio` event loop: what a systems programmer
//! writes to serve gRPC without async. One thread runs every connection;
//! TLS goes through rustls's own Sans-IO `ServerConnection`; one timer wheel
//! holds every connection's next deadline. The loop serves
//! grpc.testing.TestService, so gRPC's interop clients can test it.
//!
//! * [`event_loop`]: `mio::Poll`, accepting, readiness, timers, stopping.
//! * [`connection`]: socket ↔ rustls ↔ `weir_core::grpc::Server`, the only
//!   code that touches a socket.
//! * [`timer_wheel`]: a hashed timing wheel.
//! * [`test_service`]: the service, as plain state per call.
//! * [`client`]: the calling side, the same way: `UnaryCall`s over many
//!   connections from one thread.
//!
//! ```no_run
//! use weir_embed_mio::{EventLoop, Options};
//! let server = EventLoop::bind("127.0.0.1:50051".parse().unwrap(), Options::default()).unwrap();
//! server.run().unwrap();
//! ```

pub mod client;
pub mod connection;
pub mod event_loop;
pub mod test_service;
pub mod timer_wheel;

pub use event_loop::{EventLoop, Options, StopHandle};

/// The grpc.testing messages (from `interop/proto`).
#[allow(missing_docs, clippy::all)]
pub mod testing {
    include!(concat!(env!("OUT_DIR"), "/grpc.testing.rs"));
}

/// The interop test certificate for `*.test.google.fr` (`interop/certs`).
pub const TEST_CERT: &[u8] = include_bytes!("../../interop/certs/server1.pem");
/// Its private key.
pub const TEST_KEY: &[u8] = include_bytes!("../../interop/certs/server1.key");

/// A rustls server configuration for `cert_pem` and `key_pem`, offering
/// ALPN `h2` (gRPC requires it), with the ring provider.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<rustls::ServerConfig, rustls::Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: rustls_pki_types::pem::Error| rustls::Error::General(e.to_string());
    let certs = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<Vec<_>, _>>().map_err(bad)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(bad)?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
