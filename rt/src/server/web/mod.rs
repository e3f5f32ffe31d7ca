//! gRPC-Web (grpc/doc/PROTOCOL-WEB.md) over HTTP/1.1 and HTTP/2 on the
//! server's own port: browsers (and `curl`) call any service the router
//! serves.
//!
//! With [`Server::grpc_web`](crate::Server::grpc_web) on, each accepted
//! connection is classified before a driver runs: on TLS by ALPN (`h2`,
//! offered first, or `http/1.1`), otherwise by its first octets (`sniff`:
//! the HTTP/2 client preface or an HTTP/1.1 request line).
//!
//! HTTP/2 connections get the usual driver, with the octets looked at
//! replayed first and the core's `ServerConfig::grpc_web` on: the core takes
//! gRPC-Web content types as calls (web framing, base64 text mode, the
//! status as the body's trailers frame) and reports `OPTIONS` requests,
//! which the driver answers with this module's CORS policy, as it adds the
//! CORS response headers to calls from allowed origins.
//!
//! HTTP/1.1 ones get `WebDriver`, which drives a Sans-IO
//! `weir_core::http1::ServerConnection` and bridges each
//! `POST /package.Service/Method` with a gRPC-Web content type to the same
//! router, interceptors and stats hook. CORS answers are the same on both
//! (`cors`).

mod cors;
mod driver;
mod sniff;

use std::time::Duration;

use weir_core::http1;

pub(crate) use cors::{preflight_answer, response_fields};
#[cfg(feature = "tower")]
pub(crate) use driver::response_compression;
pub(crate) use driver::{WebDriver, decompress_request, encode_messages};
pub(crate) use sniff::{Protocol, Replay, sniff};

/// The ALPN protocol name of HTTP/1.1, offered after `h2` when gRPC-Web
/// is on.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Which origins may call from a browser (CORS).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origins {
    /// Any origin (`access-control-allow-origin` echoes the request's).
    Any,
    /// Exactly these (compared as sent: scheme, host and port).
    List(Vec<String>),
}

/// gRPC-Web settings: which browser origins may call (CORS), what the
/// preflight answers (the same over HTTP/1.1 and HTTP/2), and the HTTP/1.1
/// connection limits.
///
/// ```
/// # use std::time::Duration;
/// let web = weir_rt::GrpcWeb::new()
///     .allow_origin("https://app.example")
///     .expose_header("x-request-id")
///     .max_age(Duration::from_secs(600));
/// # let _ = web;
/// ```
///
/// By default no origin is allowed: requests without `Origin` (curl,
/// servers, same-origin pages that send none) are served, a preflight from
/// any origin is refused with 403, and responses to browsers from other
/// origins carry no CORS headers (so their scripts cannot read them).
#[derive(Clone, Debug)]
pub struct GrpcWeb {
    origins: Origins,
    allow_credentials: bool,
    max_age: Duration,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    http1: http1::Config,
}

impl Default for GrpcWeb {
    fn default() -> Self {
        GrpcWeb::new()
    }
}

/// Request headers a gRPC-Web client sends besides its metadata, always
/// allowed in a preflight answer.
const ALLOW_HEADERS: &[&str] = &["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"];
/// Response headers scripts may read: the status when it comes in headers.
const EXPOSE_HEADERS: &[&str] = &["grpc-status", "grpc-message", "grpc-status-details-bin"];

impl GrpcWeb {
    /// gRPC-Web with no browser origin allowed, preflights cached for a day,
    /// and `weir_core::http1::Config`'s default limits.
    pub fn new() -> Self {
        GrpcWeb {
            origins: Origins::List(Vec::new()),
            allow_credentials: false,
            max_age: Duration::from_secs(24 * 3600),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            http1: http1::Config::default(),
        }
    }

    /// Allows calls from pages of `origin` (`https://app.example`,
    /// `http://localhost:8080`: scheme, host and port, compared
    /// case-insensitively). May be given several times.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        if let Origins::List(list) = &mut self.origins {
            list.push(origin.into());
        }
        self
    }

    /// Allows calls from pages of any origin.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        self
    }

    /// Lets browsers send cookies and HTTP authentication with calls
    /// (`access-control-allow-credentials: true`; default false).
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.allow_credentials = allow;
        self
    }

    /// How long browsers may cache a preflight's answer (default 24 hours).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// A request header (custom metadata) preflights always allow, besides
    /// the ones every gRPC-Web client sends and those the preflight asks for.
    pub fn allow_header(mut self, name: impl Into<String>) -> Self {
        self.allow_headers.push(name.into().to_ascii_lowercase());
        self
    }

    /// A response header (custom metadata) scripts may read, besides
    /// `grpc-status`, `grpc-message` and `grpc-status-details-bin`.
    pub fn expose_header(mut self, name: impl Into<String>) -> Self {
        self.expose_headers.push(name.into().to_ascii_lowercase());
        self
    }

    /// Limits and timeouts of the HTTP/1.1 connections (head size, header
    /// count, body buffering, slowloris and idle timeouts).
    pub fn http1_config(mut self, config: http1::Config) -> Self {
        self.http1 = config;
        self
    }

    /// True when `origin` may call.
    fn allows(&self, origin: &[u8]) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(origin)),
        }
    }
}
