//! TLS configuration (rustls, ring provider): server identity, optional client
//! authentication (mTLS), trusted roots, and ALPN `h2`. The adapters run the
//! handshake with these configurations.

use std::fmt;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
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

/// Server-side TLS: identity, and optionally client certificates (mTLS).
#[derive(Clone, Debug)]
pub struct ServerTlsConfig {
    identity: Identity,
    client_ca: Option<Vec<CertificateDer<'static>>>,
    client_auth_optional: bool,
}

impl ServerTlsConfig {
    /// Serve with this certificate and key.
    pub fn new(identity: Identity) -> Self {
        ServerTlsConfig { identity, client_ca: None, client_auth_optional: false }
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

    /// The rustls configuration, ALPN `h2` only.
    pub fn build(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(err)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(cas) => {
                let mut roots = RootCertStore::empty();
                for c in cas {
                    roots.add(c.clone()).map_err(err)?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
                let verifier =
                    if self.client_auth_optional { verifier.allow_unauthenticated() } else { verifier };
                builder.with_client_cert_verifier(verifier.build().map_err(err)?)
            }
        };
        let id = self.identity.clone();
        let mut config = builder.with_single_cert(id.chain, id.key).map_err(err)?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Arc::new(config))
    }
}

/// Client-side TLS: trusted roots, the server name to verify, an optional
/// client identity (mTLS).
#[derive(Clone, Debug, Default)]
pub struct ClientTlsConfig {
    roots: Vec<CertificateDer<'static>>,
    domain: Option<String>,
    identity: Option<Identity>,
    alpn: Option<Vec<Vec<u8>>>,
}

impl ClientTlsConfig {
    /// No roots yet: add them with [`ClientTlsConfig::ca_pem`].
    pub fn new() -> Self {
        ClientTlsConfig::default()
    }

    /// Trust these CA certificates (PEM).
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        self.roots.extend(certificates_from_pem(pem.as_ref())?);
        Ok(self)
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

    /// The rustls configuration.
    pub fn build(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in &self.roots {
            roots.add(c.clone()).map_err(err)?;
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
