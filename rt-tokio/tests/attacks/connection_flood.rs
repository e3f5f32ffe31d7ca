//! Connection floods: many connections that never complete a handshake.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use weir_core::ErrorCode;
use weir_tokio::tls::{ClientTlsConfig, Identity, ServerTlsConfig};
use weir_tokio::{Endpoint, Request};

use crate::harness::*;

/// Connections allowed at once in these tests (`Server::max_connections`).
const MAX_CONNECTIONS: usize = 16;
/// Connections the attacker opens.
const ATTACKERS: usize = 64;

/// Connection flood, plaintext (Slowloris family): 64 connections that send
/// nothing. Limits: `Server::max_connections` (here 16; more are accepted
/// and closed at once) and, for h2c, `Config::settings_ack_timeout` as the
/// HTTP/2 handshake timeout (here 1 s): the held connections get GOAWAY
/// SETTINGS_TIMEOUT and are closed. Memory: 16 connections' bound.
#[test]
fn idle_connection_flood_is_bounded_and_timed_out() {
    let _serial = serial();
    let server = TestServer::start(|mut s| {
        s.config_mut().h2.settings_ack_timeout = Duration::from_secs(1);
        s.max_connections(MAX_CONNECTIONS)
    });
    let meter = Meter::start();
    let started = Instant::now();
    let mut conns: Vec<Raw> = (0..ATTACKERS).map(|_| Raw::connect(server.addr)).collect();
    // Every connection ends: the extra ones at once, the others at the timeout.
    let mut timed_out = 0;
    for raw in &mut conns {
        let left = Duration::from_secs(5).saturating_sub(started.elapsed());
        assert!(raw.wait_closed(left), "a flooding connection is still open after 5 s");
        if raw.goaway.as_ref().is_some_and(|g| g.error_code == ErrorCode::SETTINGS_TIMEOUT) {
            timed_out += 1;
        }
    }
    assert!(timed_out <= MAX_CONNECTIONS, "at most the limit is held ({timed_out})");
    assert!(timed_out > 0, "the held connections end with GOAWAY SETTINGS_TIMEOUT");
    drop(conns);
    meter.assert_below(
        MAX_CONNECTIONS * per_connection(&server.config) + ATTACKERS * RAW_READ_BUFFER + SLACK,
        "idle connection flood",
    );
    server.assert_still_serving();
}

/// Connection flood, TLS (Slowloris on the handshake): 64 connections that
/// never send a ClientHello. Limits: `Server::max_connections` (16) and
/// `Server::handshake_timeout` (here 500 ms); every connection is closed
/// within the timeout, and a real TLS call succeeds afterwards.
#[test]
fn tls_handshake_flood_is_timed_out() {
    let _serial = serial();
    let (ca, cert, key) = test_pki();
    let server = TestServer::start_with(move || {
        let tls = ServerTlsConfig::new(Identity::from_pem(&cert, &key).map_err(|e| e.to_string())?);
        Ok(service()
            .tls_config(tls)
            .map_err(|e| e.to_string())?
            .max_connections(MAX_CONNECTIONS)
            .handshake_timeout(Duration::from_millis(500)))
    });
    let meter = Meter::start();
    let started = Instant::now();
    let mut conns: Vec<Raw> = (0..ATTACKERS).map(|_| Raw::connect(server.addr)).collect();
    for raw in &mut conns {
        let left = Duration::from_secs(3).saturating_sub(started.elapsed());
        assert!(raw.wait_closed(left), "a connection without a TLS handshake is still open after 3 s");
    }
    drop(conns);
    meter.assert_below(
        MAX_CONNECTIONS * per_connection(&server.config) + ATTACKERS * RAW_READ_BUFFER + SLACK,
        "TLS handshake flood",
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let url = format!("https://localhost:{}", server.addr.port());
    rt.block_on(async move {
        let tls = ClientTlsConfig::new().ca_pem(&ca).expect("CA");
        let ch = Endpoint::new(url)
            .expect("endpoint")
            .tls_config(tls)
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("a TLS connection after the flood");
        let reply =
            ch.unary(path::UNARY, Request::new(Bytes::from_static(b"tls"))).await.expect("a TLS call");
        assert_eq!(reply.into_inner(), Bytes::from_static(b"tls"));
    });
}

/// A CA and a `localhost` certificate it signed: (CA PEM, cert PEM, key PEM).
fn test_pki() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}
