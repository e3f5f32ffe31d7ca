//! TLS configuration (rustls, ring provider): server identity (fixed, replaced
//! at run time through an [`IdentityHandle`], or the application's own
//! `rustls::ServerConfig`), optional client authentication (mTLS), trusted
//! roots (the CAs given, otherwise the default roots of the enabled
//! features, or the application's own `rustls::ClientConfig` and its
//! verifier), and ALPN `h2`. The adapters run the handshake with these
//! configurations.
//!
//! Default roots, for a client given no CA: Mozilla's (feature
//! `tls-webpki-roots`, on by default) and the platform's store (feature
//! `tls-native-roots`).

use std::fmt;
use std::io;
use std::sync::{Arc, PoisonError, RwLock};

/// The rustls crate these configurations are made of: build a
/// `ClientConfig` or `ServerConfig` of your own with it for
/// [`ClientTlsConfig::from_rustls`] and [`ServerTlsConfig::from_rustls`].
pub use rustls;
use rustls::RootCertStore;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The ALPN protocol gRPC requires.
pub const ALPN_H2: &[u8] = b"h2";

/// A TLS configuration problem.
#[derive(Debug)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS configuration: {}", self.0)
    }
}

impl std::error::Error for TlsError {}

fn err(e: impl fmt::Display) -> TlsError {
    TlsError(e.to_string())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file's contents.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem).collect::<Result<_, _>>().map_err(err)?;
    if certs.is_empty() {
        return Err(TlsError("no certificate in PEM input".into()));
    }
    Ok(certs)
}

/// `protocols` with `h2` in front when it lacks it (gRPC needs HTTP/2), or
/// `None` when it has it.
fn with_h2(protocols: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if protocols.iter().any(|p| p == ALPN_H2) {
        return None;
    }
    Some(std::iter::once(ALPN_H2.to_vec()).chain(protocols.iter().cloned()).collect())
}

// ----- default roots -----------------------------------------------------------

/// What besides `ClientTlsConfig::ca_pem` gets a server's certificate
/// trusted, given the features built in.
const ROOTS_HINT: &str = match (cfg!(feature = "tls-webpki-roots"), cfg!(feature = "tls-native-roots")) {
    (true, true) => "",
    (true, false) => ", or enable the `tls-native-roots` feature to trust the platform's root store",
    (false, true) => ", or enable the `tls-webpki-roots` feature to trust Mozilla's root certificates",
    (false, false) => {
        ", or enable the `tls-webpki-roots` (Mozilla's root certificates) or `tls-native-roots` \
         (the platform's root store) feature"
    }
};

/// The roots a client trusts when it was given no CA: Mozilla's root
/// certificates (feature `tls-webpki-roots`, compiled in) and the
/// platform's root store (feature `tls-native-roots`, read at every call);
/// empty without either feature. Fails when the platform's store was to be
/// read and no certificate of it could be.
pub fn default_root_store() -> Result<RootCertStore, TlsError> {
    #[cfg_attr(not(any(feature = "tls-webpki-roots", feature = "tls-native-roots")), allow(unused_mut))]
    let mut roots = RootCertStore::empty();
    #[cfg(feature = "tls-webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "tls-native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
        if added == 0 && !found.errors.is_empty() {
            let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
            return Err(TlsError(format!(
                "the platform's root certificates could not be read: {}",
                errors.join("; ")
            )));
        }
    }
    Ok(roots)
}

// ----- identities ----------------------------------------------------------------

/// A certificate chain and its private key.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// From PEM-encoded certificate chain and private key.
    pub fn from_pem(cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        let chain = certificates_from_pem(cert_pem.as_ref())?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_ref()).map_err(err)?;
        Ok(Identity { chain, key })
    }

    /// From DER-encoded certificate chain and PKCS#8 private key.
    pub fn from_der(chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Self {
        Identity {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(pkcs8_key.into()),
        }
    }

    /// The chain with its key loaded for signing; fails when the key is
    /// unusable or does not match the first certificate.
    fn certified(self) -> Result<CertifiedKey, TlsError> {
        CertifiedKey::from_der(self.chain, self.key, &provider()).map_err(err)
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("certificates", &self.chain.len()).finish_non_exhaustive()
    }
}

/// A server identity that can be replaced while the server runs
/// (certificate rotation without restart): serve it with
/// [`ServerTlsConfig::rotating`], then [`IdentityHandle::set`] a new one.
/// Handshakes after `set` present the new certificate; connections already
/// established keep theirs and go on working (as do TLS sessions they
/// resume). Clones share the identity.
#[derive(Clone)]
pub struct IdentityHandle {
    resolver: Arc<RotatingCert>,
}

/// The resolver behind an [`IdentityHandle`]: whatever identity was set last.
struct RotatingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl IdentityHandle {
    /// A handle serving `identity` until replaced. Fails when the key is
    /// unusable or does not match the certificate.
    pub fn new(identity: Identity) -> Result<Self, TlsError> {
        let current = RwLock::new(Arc::new(identity.certified()?));
        Ok(IdentityHandle { resolver: Arc::new(RotatingCert { current }) })
    }

    /// Replaces the identity for every handshake from now on. Fails, keeping
    /// the identity in use, when the key is unusable or does not match the
    /// certificate.
    pub fn set(&self, identity: Identity) -> Result<(), TlsError> {
        let next = Arc::new(identity.certified()?);
        *self.resolver.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }

    /// The identity in use, as the DER certificates of its chain.
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        self.resolver.current().cert.iter().map(|c| c.to_vec()).collect()
    }

    /// The rustls certificate resolver that follows this handle, for a
    /// `rustls::ServerConfig` of your own (`with_cert_resolver`).
    pub fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        self.resolver.clone()
    }
}

impl RotatingCert {
    fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ResolvesServerCert for RotatingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl fmt::Debug for RotatingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingCert").field("certificates", &self.current().cert.len()).finish()
    }
}

impl fmt::Debug for IdentityHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityHandle").field("certificates", &self.resolver.current().cert.len()).finish()
    }
}

// ----- server ----------------------------------------------------------------------

/// Where a server's certificate comes from.
#[derive(Clone, Debug)]
enum ServerSource {
    Identity(Identity),
    Rotating(IdentityHandle),
    Rustls(Arc<rustls::ServerConfig>),
}

/// Server-side TLS: identity, and optionally client certificates (mTLS).
#[derive(Clone, Debug)]
pub struct ServerTlsConfig {
    source: ServerSource,
    client_ca: Option<Vec<CertificateDer<'static>>>,
    client_auth_optional: bool,
}

impl ServerTlsConfig {
    /// Serve with this certificate and key.
    pub fn new(identity: Identity) -> Self {
        ServerTlsConfig::with_source(ServerSource::Identity(identity))
    }

    /// Serve whatever identity `handle` holds at each handshake, so that
    /// certificates can be replaced without a restart ([`IdentityHandle::set`]).
    pub fn rotating(handle: IdentityHandle) -> Self {
        ServerTlsConfig::with_source(ServerSource::Rotating(handle))
    }

    /// Serve with this rustls configuration as it is (a certificate resolver,
    /// client verifier, session storage... of your own), except that `h2` is
    /// added in front of its ALPN protocols, on a copy, when it lacks it.
    /// [`ServerTlsConfig::client_ca_pem`] and
    /// [`ServerTlsConfig::client_auth_optional`] do not apply to it (`build`
    /// fails): set its client verifier instead.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTlsConfig::with_source(ServerSource::Rustls(config))
    }

    fn with_source(source: ServerSource) -> Self {
        ServerTlsConfig { source, client_ca: None, client_auth_optional: false }
    }

    /// Require client certificates signed by these roots (PEM).
    pub fn client_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        self.client_ca = Some(certificates_from_pem(pem.as_ref())?);
        Ok(self)
    }

    /// Accept clients without a certificate too (verified when presented).
    pub fn client_auth_optional(mut self, optional: bool) -> Self {
        self.client_auth_optional = optional;
        self
    }

    /// The rustls configuration: ALPN `h2` only (or, from a configuration of
    /// your own, its protocols with `h2` among them).
    pub fn build(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = match &self.source {
            ServerSource::Rustls(config) => return self.own_rustls(config),
            ServerSource::Identity(id) => {
                let id = id.clone();
                self.builder()?.with_single_cert(id.chain, id.key).map_err(err)?
            }
            ServerSource::Rotating(handle) => self.builder()?.with_cert_resolver(handle.resolver()),
        };
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Arc::new(config))
    }

    /// A rustls builder with the client verification this configuration asks for.
    fn builder(
        &self,
    ) -> Result<rustls::ConfigBuilder<rustls::ServerConfig, rustls::server::WantsServerCert>, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(err)?;
        let Some(cas) = &self.client_ca else {
            return Ok(builder.with_no_client_auth());
        };
        let mut roots = RootCertStore::empty();
        for c in cas {
            roots.add(c.clone()).map_err(err)?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
        let verifier = if self.client_auth_optional { verifier.allow_unauthenticated() } else { verifier };
        Ok(builder.with_client_cert_verifier(verifier.build().map_err(err)?))
    }

    /// The application's configuration, with `h2` among its protocols.
    fn own_rustls(&self, config: &Arc<rustls::ServerConfig>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        if self.client_ca.is_some() || self.client_auth_optional {
            return Err(TlsError(
                "client_ca_pem and client_auth_optional do not apply to a configuration from_rustls: \
                 set its client certificate verifier"
                    .into(),
            ));
        }
        Ok(match with_h2(&config.alpn_protocols) {
            None => config.clone(),
            Some(protocols) => {
                let mut config = (**config).clone();
                config.alpn_protocols = protocols;
                Arc::new(config)
            }
        })
    }
}

/// The server configuration with `http/1.1` offered too (gRPC-Web or a
/// fallback service on): after `h2` (rustls picks the first of the server's
/// protocols the client offers), so browsers, which offer both, get
/// HTTP/2, whose driver speaks gRPC-Web and serves the fallback too, and
/// clients offering only `http/1.1` get the HTTP/1.1 driver. A copy;
/// unchanged when it already has `http/1.1`.
pub(crate) fn with_http11(config: &Arc<rustls::ServerConfig>) -> Arc<rustls::ServerConfig> {
    let http11 = crate::server::web::ALPN_HTTP11;
    if config.alpn_protocols.iter().any(|p| p == http11) {
        return config.clone();
    }
    let mut config = (**config).clone();
    config.alpn_protocols.push(http11.to_vec());
    Arc::new(config)
}

// ----- client ----------------------------------------------------------------------

/// Client-side TLS: trusted roots, the server name to verify, an optional
/// client identity (mTLS).
///
/// Roots: the CAs given with [`ClientTlsConfig::ca_pem`]; without any, the
/// default roots ([`default_root_store`]: Mozilla's with the
/// `tls-webpki-roots` feature, on by default, the platform's with
/// `tls-native-roots`). [`ClientTlsConfig::trust_default_roots`] changes
/// that; [`ClientTlsConfig::from_rustls`] brings a verifier of your own.
#[derive(Clone, Debug, Default)]
pub struct ClientTlsConfig {
    roots: Vec<CertificateDer<'static>>,
    default_roots: Option<bool>,
    domain: Option<String>,
    identity: Option<Identity>,
    alpn: Option<Vec<Vec<u8>>>,
    rustls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientTlsConfig {
    /// Trusts the default roots until CAs are given with
    /// [`ClientTlsConfig::ca_pem`].
    pub fn new() -> Self {
        ClientTlsConfig::default()
    }

    /// Uses this rustls configuration as it is (a certificate verifier of
    /// your own, pinning, key logging...), except that `h2` is added in front
    /// of its ALPN protocols, on a copy, when it lacks it
    /// ([`ClientTlsConfig::alpn_protocols`] still replaces them). The server
    /// name still comes from the endpoint or [`ClientTlsConfig::domain_name`];
    /// [`ClientTlsConfig::ca_pem`], [`ClientTlsConfig::identity`] and
    /// [`ClientTlsConfig::trust_default_roots`] do not apply to it (`build`
    /// fails): set them on the rustls configuration.
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        ClientTlsConfig { rustls: Some(config), ..ClientTlsConfig::default() }
    }

    /// Trust these CA certificates (PEM), instead of the default roots
    /// unless [`ClientTlsConfig::trust_default_roots`] says otherwise.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        self.roots.extend(certificates_from_pem(pem.as_ref())?);
        Ok(self)
    }

    /// Whether the default roots ([`default_root_store`]) are trusted:
    /// `true` adds them to the CAs given, `false` trusts only those. Unset,
    /// they are trusted when no CA was given.
    pub fn trust_default_roots(mut self, trust: bool) -> Self {
        self.default_roots = Some(trust);
        self
    }

    /// The name to verify the server certificate against (default: the host
    /// of the endpoint).
    pub fn domain_name(mut self, name: impl Into<String>) -> Self {
        self.domain = Some(name.into());
        self
    }

    /// Present this client certificate.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Offer these ALPN protocols instead of `h2` (tests of ALPN failures).
    pub fn alpn_protocols(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = Some(protocols);
        self
    }

    /// The configured server name, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The roots this configuration trusts: the CAs given and, as
    /// [`ClientTlsConfig::trust_default_roots`] says, the default roots.
    /// Fails for a configuration [`from_rustls`](ClientTlsConfig::from_rustls),
    /// whose verifier decides what it trusts.
    pub fn root_store(&self) -> Result<RootCertStore, TlsError> {
        if self.rustls.is_some() {
            return Err(TlsError("a configuration from_rustls trusts what its verifier decides".into()));
        }
        let mut roots = match self.default_roots.unwrap_or(self.roots.is_empty()) {
            true => default_root_store()?,
            false => RootCertStore::empty(),
        };
        for c in &self.roots {
            roots.add(c.clone()).map_err(err)?;
        }
        Ok(roots)
    }

    /// The rustls configuration. Fails when it would trust no root at all.
    pub fn build(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        if let Some(config) = &self.rustls {
            if !self.roots.is_empty() || self.identity.is_some() || self.default_roots.is_some() {
                return Err(TlsError(
                    "ca_pem, identity and trust_default_roots do not apply to a configuration \
                     from_rustls: set them on the rustls::ClientConfig"
                        .into(),
                ));
            }
            let protocols = match &self.alpn {
                Some(alpn) => Some(alpn.clone()),
                None => with_h2(&config.alpn_protocols),
            };
            return Ok(match protocols {
                None => config.clone(),
                Some(protocols) => {
                    let mut config = (**config).clone();
                    config.alpn_protocols = protocols;
                    Arc::new(config)
                }
            });
        }
        let roots = self.root_store()?;
        if roots.is_empty() {
            return Err(TlsError(format!(
                "no trusted root certificate: pass the server's CA with ClientTlsConfig::ca_pem{ROOTS_HINT}"
            )));
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(err)?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key()).map_err(err)?,
        };
        config.alpn_protocols = self.alpn.clone().unwrap_or_else(|| vec![ALPN_H2.to_vec()]);
        Ok(Arc::new(config))
    }
}

// ----- handshake errors in words -------------------------------------------------

/// A client handshake error with what to do about it; its source is the
/// adapter's error (which holds rustls's).
#[derive(Debug)]
struct Explained {
    message: String,
    source: io::Error,
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Says what to do about the common client handshake failures: a server
/// certificate from an untrusted CA or for another name, and a server that
/// does not speak TLS. Other errors are returned as they are.
pub(crate) fn explain_handshake_error(e: io::Error) -> io::Error {
    use rustls::{CertificateError, InvalidMessage};
    let tls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let advice = match tls {
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => format!(
            "the server's certificate is not signed by a trusted root; pass its CA with \
             ClientTlsConfig::ca_pem{ROOTS_HINT}"
        ),
        // A trusted root has the name of the certificate's issuer but not the
        // key that signed it: another CA of the same name (a CA replaced).
        Some(rustls::Error::InvalidCertificate(CertificateError::BadSignature)) => format!(
            "the server's certificate is not signed by a trusted root (its issuer has the name of a \
             trusted root, not its key: was the CA replaced?); pass its CA with \
             ClientTlsConfig::ca_pem{ROOTS_HINT}"
        ),
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => "the server's certificate is not valid for the name the client verifies (the host of \
               the URI, or ClientTlsConfig::domain_name)"
            .into(),
        // The first bytes were not a TLS record: an HTTP/2 server's SETTINGS,
        // an HTTP/1 answer...
        Some(rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
        )) => "the server does not speak TLS on this port: use http://".into(),
        // Closed without an alert (a TLS server says why it refuses).
        None if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {
            "the server closed the connection during the TLS handshake; if it does not speak TLS on \
             this port, use http://"
                .into()
        }
        _ => return e,
    };
    let message = format!("{advice} ({e})");
    io::Error::new(e.kind(), Explained { message, source: e })
}
