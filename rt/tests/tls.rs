//! TLS beyond the basics (issue 19), on tokio and smol: default roots and
//! what an untrusted certificate says, rustls configurations of the
//! application's own (custom verifiers, resolvers), certificates rotated
//! under live connections, and plaintext/TLS mismatches told in words.

mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use futures::channel::{mpsc, oneshot};
use suite::certs::{self, TestPki};
use suite::{Running, start, test_server, tls_server, wait_until};
use weir_rt::runtime::Net;
use weir_rt::tls::rustls::{self, client::danger, crypto::CryptoProvider, pki_types};
use weir_rt::tls::{
    ALPN_H2, ClientTlsConfig, Identity, IdentityHandle, ServerTlsConfig, certificates_from_pem,
    default_root_store,
};
use weir_rt::{CallCounters, Channel, Code, Endpoint, Request, Status, Streaming, TcpOptions};

/// What a client sees from a server whose certificate no root it trusts
/// signed, and what it is told to do about it.
const UNTRUSTED: &str = "the server's certificate is not signed by a trusted root";
const PASS_CA: &str = "pass its CA with ClientTlsConfig::ca_pem";
const NOT_TLS: &str = "the server does not speak TLS on this port: use http://";
const CLOSED_IN_HANDSHAKE: &str = "the server closed the connection during the TLS handshake; if it does \
                                   not speak TLS on this port, use http://";
const ANSWERED_WITH_TLS: &str = "the server answered with TLS: use https:// (or ClientTlsConfig)";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn der(pem: &str) -> pki_types::CertificateDer<'static> {
    certificates_from_pem(pem.as_bytes()).unwrap().remove(0)
}

fn key(pem: &str) -> pki_types::PrivateKeyDer<'static> {
    use pki_types::pem::PemObject;
    pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn trusting(pki: &TestPki) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_pem(&pki.ca).unwrap()
}

fn endpoint<R: Net + Default>(server: &Running, tls: ClientTlsConfig) -> Endpoint<R> {
    Endpoint::<R>::new(server.tls_url()).unwrap().tls_config(tls)
}

async fn echo(ch: &Channel, text: &str) -> Result<(), Status> {
    let reply = ch.unary("/test.Test/Unary", Request::new(Bytes::copy_from_slice(text.as_bytes()))).await?;
    assert_eq!(reply.into_inner(), text.as_bytes());
    Ok(())
}

// ----- configurations (no connection) --------------------------------------------

#[cfg(feature = "tls-webpki-roots")]
#[test]
fn a_client_without_a_ca_trusts_the_default_roots() {
    let defaults = default_root_store().unwrap().len();
    // Mozilla's list has well over a hundred roots.
    assert!(defaults > 100, "{defaults} default roots");
    assert_eq!(ClientTlsConfig::new().root_store().unwrap().len(), defaults);
    ClientTlsConfig::new().build().expect("a config from the default roots");
    let pki = certs::generate();
    // A CA given replaces the defaults, unless they are asked for too.
    assert_eq!(trusting(&pki).root_store().unwrap().len(), 1);
    assert_eq!(trusting(&pki).trust_default_roots(true).root_store().unwrap().len(), defaults + 1);
    // Trusting nothing at all is refused before any handshake.
    let e = ClientTlsConfig::new().trust_default_roots(false).build().unwrap_err().to_string();
    assert!(
        e.contains("no trusted root certificate: pass the server's CA with ClientTlsConfig::ca_pem"),
        "{e}"
    );
}

fn client_config(alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

fn server_config(pki: &TestPki, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der(&pki.server_cert)], key(&pki.server_key))
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

#[test]
fn own_rustls_configs_get_alpn_h2() {
    let h2 = ALPN_H2.to_vec();
    // Missing: added in front, on a copy.
    let built = ClientTlsConfig::from_rustls(client_config(&[])).build().unwrap();
    assert_eq!(built.alpn_protocols, vec![h2.clone()]);
    let built = ClientTlsConfig::from_rustls(client_config(&[b"http/1.1"])).build().unwrap();
    assert_eq!(built.alpn_protocols, vec![h2.clone(), b"http/1.1".to_vec()]);
    // Present: the very configuration is used.
    let own = client_config(&[b"http/1.1", b"h2"]);
    assert!(Arc::ptr_eq(&ClientTlsConfig::from_rustls(own.clone()).build().unwrap(), &own));
    // Settings that belong on the rustls configuration are refused.
    let pki = certs::generate();
    let e = ClientTlsConfig::from_rustls(client_config(&[])).ca_pem(&pki.ca).unwrap().build().unwrap_err();
    assert!(e.to_string().contains("do not apply to a configuration from_rustls"), "{e}");

    let built = ServerTlsConfig::from_rustls(server_config(&pki, &[])).build().unwrap();
    assert_eq!(built.alpn_protocols, vec![h2.clone()]);
    let own = server_config(&pki, &[b"h2"]);
    assert!(Arc::ptr_eq(&ServerTlsConfig::from_rustls(own.clone()).build().unwrap(), &own));
    let e = ServerTlsConfig::from_rustls(own).client_ca_pem(&pki.ca).unwrap().build().unwrap_err();
    assert!(e.to_string().contains("do not apply to a configuration from_rustls"), "{e}");
}

#[test]
fn an_identity_whose_key_does_not_match_is_not_swapped_in() {
    let (a, b) = (certs::generate(), certs::generate());
    let handle = IdentityHandle::new(Identity::from_pem(&a.server_cert, &a.server_key).unwrap()).unwrap();
    let mismatched = Identity::from_pem(&b.server_cert, &a.server_key).unwrap();
    assert!(IdentityHandle::new(mismatched.clone()).is_err());
    let e = handle.set(mismatched).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("key"), "{e}");
    assert_eq!(handle.certificates(), vec![der(&a.server_cert).to_vec()], "A still in use");
    handle.set(Identity::from_pem(&b.server_cert, &b.server_key).unwrap()).unwrap();
    assert_eq!(handle.certificates(), vec![der(&b.server_cert).to_vec()]);
}

// ----- over connections, on each runtime ----------------------------------------------

/// An `https://` endpoint given no CA trusts the default roots, which did not
/// sign the test PKI: the error says what to do.
async fn untrusted_certificate_says_what_to_do<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let server = start(&rt, tls_server(rt.clone(), Default::default(), &pki)).await;
    let err = Endpoint::<R>::new(server.tls_url()).unwrap().connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains(&format!("{UNTRUSTED}; {PASS_CA}")), "{err}");
    // rustls's own error stays reachable as the source.
    let source = format!("{:?}", err.source);
    assert!(source.contains("UnknownIssuer"), "{source}");
    // With its CA, the same server is fine.
    let ch = endpoint::<R>(&server, trusting(&pki)).connect().await.unwrap();
    echo(&ch, "trusted").await.unwrap();
    server.stop().await;
}

/// A certificate verifier of the application's own: pins the server's
/// certificate (no CA involved) and counts its calls.
#[derive(Debug)]
struct Pinned {
    certificate: pki_types::CertificateDer<'static>,
    calls: AtomicUsize,
    provider: Arc<CryptoProvider>,
}

impl danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &pki_types::CertificateDer<'_>,
        _intermediates: &[pki_types::CertificateDer<'_>],
        _server_name: &pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: pki_types::UnixTime,
    ) -> Result<danger::ServerCertVerified, rustls::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the pinned certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn pinning(certificate_pem: &str) -> (Arc<Pinned>, ClientTlsConfig) {
    let pinned = Arc::new(Pinned {
        certificate: der(certificate_pem),
        calls: AtomicUsize::new(0),
        provider: provider(),
    });
    // No ALPN set: Weir adds h2 (else the connection would fail for ALPN).
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(pinned.clone())
        .with_no_client_auth();
    (pinned, ClientTlsConfig::from_rustls(Arc::new(config)))
}

async fn custom_verifier_decides<R: Net + Default>(rt: R) {
    let (pki, other) = (certs::generate(), certs::generate());
    let server = start(&rt, tls_server(rt.clone(), Default::default(), &pki)).await;
    // Pinned to the server's own certificate: trusted, though no root signed it.
    let (verifier, tls) = pinning(&pki.server_cert);
    let ch = endpoint::<R>(&server, tls).connect().await.unwrap();
    echo(&ch, "pinned").await.unwrap();
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 1);
    // Pinned to another certificate: refused by the verifier.
    let (verifier, tls) = pinning(&other.server_cert);
    let err = endpoint::<R>(&server, tls).connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains("not the pinned certificate"), "{err}");
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 1);
    server.stop().await;
}

/// A server certificate resolver of the application's own, counting handshakes.
#[derive(Debug)]
struct CountingResolver {
    key: Arc<rustls::sign::CertifiedKey>,
    calls: AtomicUsize,
}

impl rustls::server::ResolvesServerCert for CountingResolver {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Some(self.key.clone())
    }
}

async fn own_server_config_is_served<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let chain = vec![der(&pki.server_cert)];
    let certified = rustls::sign::CertifiedKey::from_der(chain, key(&pki.server_key), &provider()).unwrap();
    let resolver = Arc::new(CountingResolver { key: Arc::new(certified), calls: AtomicUsize::new(0) });
    // No ALPN: Weir adds h2 (the client insists on it).
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    let tls = ServerTlsConfig::from_rustls(Arc::new(config));
    let server = start(&rt, test_server(rt.clone(), Default::default()).tls_config(tls).unwrap()).await;
    let ch = endpoint::<R>(&server, trusting(&pki)).connect().await.unwrap();
    suite::four_call_kinds(&ch).await;
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1);
    server.stop().await;
}

/// One bidi echo round on an open stream.
async fn ping(tx: &mpsc::UnboundedSender<Bytes>, replies: &mut Streaming<Bytes>, i: u8) {
    tx.unbounded_send(Bytes::from(vec![i; 16])).unwrap();
    let m = replies.message().await.unwrap().expect("echo");
    assert_eq!(m, Bytes::from(vec![i; 16]), "round {i}");
}

/// Identity A, then B (another CA) swapped in while a connection makes
/// calls: the old connection (and the stream it has open) goes on, new
/// handshakes present B.
async fn certificates_rotate_under_live_connections<R: Net + Default>(rt: R) {
    let (a, b) = (certs::generate(), certs::generate());
    let handle = IdentityHandle::new(Identity::from_pem(&a.server_cert, &a.server_key).unwrap()).unwrap();
    let tls = ServerTlsConfig::rotating(handle.clone());
    let server = start(&rt, test_server(rt.clone(), Default::default()).tls_config(tls).unwrap()).await;

    let counters = Arc::new(CallCounters::new());
    let old = endpoint::<R>(&server, trusting(&a)).stats_handler(counters.clone()).connect().await.unwrap();
    echo(&old, "before").await.unwrap();
    let (tx, rx) = mpsc::unbounded::<Bytes>();
    let mut replies = old.streaming("/test.Test/Bidi", Request::new(rx)).await.unwrap().into_inner();
    ping(&tx, &mut replies, 1).await;

    // Calls keep going on the old connection (in a task of their own) while
    // the identity changes and new clients connect.
    let calls = Arc::new(AtomicUsize::new(0));
    let (stop, ended) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (done, busy) = oneshot::channel::<Result<(), Status>>();
    rt.spawn({
        let (old, calls, stop, ended) = (old.clone(), calls.clone(), stop.clone(), ended.clone());
        async move {
            let mut result = Ok(());
            while result.is_ok() && !stop.load(Ordering::SeqCst) {
                result = echo(&old, "during").await;
                calls.fetch_add(1, Ordering::SeqCst);
            }
            ended.store(true, Ordering::SeqCst);
            let _ = done.send(result);
        }
    });
    // At least `n` calls made, or the calls stopped (a failure, reported below).
    let made = |n: usize| {
        let (calls, ended) = (calls.clone(), ended.clone());
        move || calls.load(Ordering::SeqCst) >= n || ended.load(Ordering::SeqCst)
    };
    wait_until(&rt, made(10)).await;

    handle.set(Identity::from_pem(&b.server_cert, &b.server_key).unwrap()).unwrap();
    assert_eq!(handle.certificates(), vec![der(&b.server_cert).to_vec()]);
    // A new client trusting only B's CA connects...
    let new_b = endpoint::<R>(&server, trusting(&b)).connect().await.expect("B trusted after the swap");
    echo(&new_b, "b").await.unwrap();
    // ...and one trusting only A's no longer does.
    let err = endpoint::<R>(&server, trusting(&a)).connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    // The test CAs share their name: A's root matches B's issuer by name.
    assert!(err.message.contains(UNTRUSTED) && err.message.contains(PASS_CA), "{err}");
    assert!(err.message.contains("was the CA replaced?"), "{err}");

    let after_swap = calls.load(Ordering::SeqCst) + 10;
    wait_until(&rt, made(after_swap)).await;
    stop.store(true, Ordering::SeqCst);
    busy.await.expect("the calling task ended").expect("calls on the old connection");

    // The old connection is still the one in use: the stream it had open
    // goes on, and it never reconnected.
    ping(&tx, &mut replies, 2).await;
    drop(tx);
    assert!(replies.message().await.unwrap().is_none());
    echo(&old, "after").await.unwrap();
    assert_eq!(counters.connections_opened(), 1);
    server.stop().await;
}

/// TLS to a plaintext port: the server's SETTINGS arrive where its
/// ServerHello should.
async fn tls_client_to_plaintext_server_says_so<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let err = endpoint::<R>(&server, trusting(&pki)).connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains(NOT_TLS), "{err}");
    server.stop().await;
}

/// TLS to a server that reads the ClientHello and hangs up without a word.
async fn server_closing_during_the_handshake_says_so<R: Net + Default>(rt: R) {
    let mut listener = rt.bind_tcp("127.0.0.1:0".parse().unwrap(), TcpOptions::default()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((mut io, _)) = listener.accept().await {
            let mut hello = BytesMut::with_capacity(64 << 10);
            let _ = std::future::poll_fn(|cx| io.poll_read_buf(cx, &mut hello)).await;
        }
    });
    let pki = certs::generate();
    let url = format!("https://localhost:{port}");
    let err = Endpoint::<R>::new(url).unwrap().tls_config(trusting(&pki)).connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains(CLOSED_IN_HANDSHAKE), "{err}");
}

/// Plaintext to a TLS port: the server's TLS alert arrives where its
/// SETTINGS should.
async fn plaintext_client_to_tls_server_says_so<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let server = start(&rt, tls_server(rt.clone(), Default::default(), &pki)).await;
    let ch = suite::channel::<R>(&server.url()).await;
    let err = ch.unary("/test.Test/Unary", Request::new(Bytes::from_static(b"x"))).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert!(err.message.contains(ANSWERED_WITH_TLS), "{err}");
    server.stop().await;
}

macro_rules! on_each_runtime {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod on_tokio {
            $(
                #[test]
                $(#[$attr])*
                fn $name() {
                    crate::suite::runners::run_on_tokio(super::$name);
                }
            )*
        }
        mod on_smol {
            $(
                #[test]
                $(#[$attr])*
                fn $name() {
                    crate::suite::runners::run_on_smol(super::$name);
                }
            )*
        }
    };
}

on_each_runtime!(
    untrusted_certificate_says_what_to_do,
    custom_verifier_decides,
    own_server_config_is_served,
    certificates_rotate_under_live_connections,
    tls_client_to_plaintext_server_says_so,
    server_closing_during_the_handshake_says_so,
    plaintext_client_to_tls_server_says_so,
);
