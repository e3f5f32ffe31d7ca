//! Opening one connection's byte stream: TCP or Unix socket (or the
//! application's dialer), then TLS when configured.

use std::io;
use std::sync::Arc;

use super::address::Address;
use crate::runtime::{BoxFuture, Io, Net};
use crate::tcp::TcpOptions;

/// Opens the byte stream of a new connection instead of dialing the address
/// (`Endpoint::connector`).
pub(crate) type Dial = Arc<dyn Fn() -> BoxFuture<'static, io::Result<Box<dyn Io>>> + Send + Sync>;

/// How to open a connection to an address.
pub(crate) struct Connector<R: Net> {
    pub rt: R,
    pub dial: Option<Dial>,
    pub tcp: TcpOptions,
    #[cfg(feature = "tls")]
    pub tls: Option<(Arc<rustls::ClientConfig>, rustls_pki_types::ServerName<'static>)>,
    /// Connections speak gRPC-Web over HTTP/1.1 (`Endpoint::grpc_web`).
    pub grpc_web: bool,
}

impl<R: Net> Connector<R> {
    pub fn connect(&self, address: &Address) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        let rt = self.rt.clone();
        let address = address.clone();
        let dial = self.dial.clone();
        let tcp = self.tcp;
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        #[cfg(feature = "tls")]
        let web = self.grpc_web;
        Box::pin(async move {
            let io = match (dial, address) {
                (Some(dial), _) => dial().await?,
                (None, Address::Tcp(a)) => rt.connect_tcp(a, tcp).await?,
                #[cfg(unix)]
                (None, Address::Unix(path)) => rt.connect_unix(&path).await?,
            };
            #[cfg(feature = "tls")]
            if let Some((config, name)) = tls {
                // Untrusted certificates and servers that do not speak TLS
                // are told in words, with what to do.
                let (io, info) =
                    rt.tls_connect(io, config, name).await.map_err(crate::tls::explain_handshake_error)?;
                // gRPC-Web goes over HTTP/1.1 (a server without ALPN is taken
                // at its word).
                if web {
                    if info.alpn.as_deref().is_some_and(|a| a != crate::server::web::ALPN_HTTP11) {
                        let got = info.alpn.map(|a| String::from_utf8_lossy(&a).into_owned());
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "ALPN mismatch: server negotiated {got:?}, gRPC-Web here needs \"http/1.1\""
                            ),
                        ));
                    }
                    return Ok(io);
                }
                // gRPC requires HTTP/2: a server that did not agree on h2 speaks
                // something else.
                if info.alpn.as_deref() != Some(crate::tls::ALPN_H2) {
                    let got = info.alpn.map(|a| String::from_utf8_lossy(&a).into_owned());
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("ALPN mismatch: server negotiated {got:?}, gRPC requires \"h2\""),
                    ));
                }
                return Ok(io);
            }
            Ok(io)
        })
    }
}
