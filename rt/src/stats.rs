//! The stats hook: a [`StatsHandler`] registered on a server
//! ([`crate::Server::stats_handler`]) or a channel
//! ([`crate::Endpoint::stats_handler`]) hears about every connection and
//! call: start, end, status, message and byte counts (as the application
//! sees them and as they crossed the wire, compressed), latency. On a
//! client it hears twice: once per *attempt* (each stream the call opened
//! on a connection: retries, hedges and transparent retries are attempts of
//! their own), through [`StatsHandler::call_start`] and
//! [`StatsHandler::call_end`], and once per *call* as the application sees
//! it (all its attempts, from the call's start to the moment the caller
//! learns its status), through [`StatsHandler::client_call_start`] and
//! [`StatsHandler::client_call_end`]. gRFC A66's instruments need exactly
//! this split; `weir-otel` records them. [`CallCounters`] is a small
//! built-in handler. With no handler registered nothing is measured.
//!
//! Callbacks run on the connection's driver task: they must be quick and must
//! not block (update counters, send to a channel).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weir_core::grpc::Code;

/// Which end of the call or connection is reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// A client channel.
    Client,
    /// A server.
    Server,
}

impl Side {
    /// `"client"` or `"server"`, for labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// A connection, as reported to [`StatsHandler`].
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    /// Who reports.
    pub side: Side,
    /// The remote address (TCP), when known.
    pub peer: Option<SocketAddr>,
    /// The local address (TCP), when known: on a server, the address its
    /// listener is bound to.
    pub local: Option<SocketAddr>,
    /// Identifies the connection within the process (never reused): the
    /// calls it carries name it in [`CallMeta::conn`].
    pub id: u64,
}

/// How a connection ended.
#[derive(Clone, Debug)]
pub struct ConnEnd {
    /// How long it lived.
    pub duration: Duration,
    /// Calls it carried.
    pub calls: u64,
    /// HTTP/2 DATA octets sent and received (gRPC framing included).
    pub data_sent: u64,
    /// See `data_sent`.
    pub data_received: u64,
    /// The HTTP/2 connection error that ended it, if any.
    pub error: Option<weir_core::conn::ConnectionError>,
}

/// The method a server reports for calls to methods it does not serve
/// (gRFC A66 collapses unregistered methods into `other`), so clients cannot
/// grow the set of method names a stats handler keeps.
pub const UNREGISTERED_METHOD: &str = "other";

/// A call, as reported to [`StatsHandler`].
#[derive(Clone, Copy, Debug)]
pub struct CallMeta<'a> {
    /// Who reports.
    pub side: Side,
    /// `/package.Service/Method`; on a server, [`UNREGISTERED_METHOD`] for a
    /// method it does not serve.
    pub method: &'a str,
    /// The remote address (TCP), when known.
    pub peer: Option<SocketAddr>,
    /// The connection carrying it ([`ConnInfo::id`]).
    pub conn: u64,
    /// Client: the channel's target, as given to the endpoint.
    pub target: Option<&'a str>,
}

/// How a call ended (on a client: one attempt). `*_bytes` count message
/// payloads as the application sees them (uncompressed, without the 5-byte
/// gRPC prefix); `*_wire_bytes` count them as they crossed the wire
/// (compressed when they were, still without prefixes, HTTP/2 framing or
/// metadata: gRFC A66's "total compressed message size").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEnd {
    /// The final status code.
    pub code: Code,
    /// Request messages sent (client) or received (server).
    pub request_messages: u64,
    /// Bytes of those request messages.
    pub request_bytes: u64,
    /// Response messages received (client) or sent (server).
    pub response_messages: u64,
    /// Bytes of those response messages.
    pub response_bytes: u64,
    /// Payload bytes of the request messages on the wire.
    pub request_wire_bytes: u64,
    /// Payload bytes of the response messages on the wire.
    pub response_wire_bytes: u64,
    /// From the call's start on its connection to its end.
    pub latency: Duration,
}

/// A client call as the application made it (all of its attempts).
#[derive(Clone, Copy, Debug)]
pub struct ClientCall<'a> {
    /// `/package.Service/Method`.
    pub method: &'a str,
    /// The channel's target, as given to the endpoint.
    pub target: &'a str,
}

/// How a client call ended, as its caller learnt it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCallEnd {
    /// The status the caller got (after the interceptors' `after` hooks).
    pub code: Code,
    /// From the call's start (before its interceptors, name resolution and
    /// the first attempt) until the caller got its status: every attempt
    /// and every backoff in between.
    pub duration: Duration,
}

/// Receives connection and call events. Every method has an empty default:
/// implement only what you export.
pub trait StatsHandler: Send + Sync + 'static {
    /// A connection was established.
    fn conn_open(&self, conn: &ConnInfo) {
        let _ = conn;
    }
    /// A connection ended.
    fn conn_close(&self, conn: &ConnInfo, end: &ConnEnd) {
        let _ = (conn, end);
    }
    /// A call started on a connection.
    fn call_start(&self, call: &CallMeta<'_>) {
        let _ = call;
    }
    /// A call ended (every started call ends exactly once).
    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        let _ = (call, end);
    }
    /// Client: the application started a call (its attempts are reported
    /// with [`Self::call_start`] as they reach a connection).
    fn client_call_start(&self, call: &ClientCall<'_>) {
        let _ = call;
    }
    /// Client: the caller learnt how its call ended (exactly once per
    /// started call; CANCELLED when the caller dropped it).
    fn client_call_end(&self, call: &ClientCall<'_>, end: &ClientCallEnd) {
        let _ = (call, end);
    }
}

/// Several handlers heard as one, in the order they were added: what a
/// server or channel with more than one [`StatsHandler`] registered calls.
pub(crate) struct Fanout(Vec<Arc<dyn StatsHandler>>);

impl Fanout {
    /// The handler a server or channel calls: none, the one, or all of them.
    pub fn of(mut handlers: Vec<Arc<dyn StatsHandler>>) -> Option<Arc<dyn StatsHandler>> {
        match handlers.len() {
            0 => None,
            1 => handlers.pop(),
            _ => Some(Arc::new(Fanout(handlers))),
        }
    }
}

impl StatsHandler for Fanout {
    fn conn_open(&self, conn: &ConnInfo) {
        self.0.iter().for_each(|h| h.conn_open(conn));
    }
    fn conn_close(&self, conn: &ConnInfo, end: &ConnEnd) {
        self.0.iter().for_each(|h| h.conn_close(conn, end));
    }
    fn call_start(&self, call: &CallMeta<'_>) {
        self.0.iter().for_each(|h| h.call_start(call));
    }
    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        self.0.iter().for_each(|h| h.call_end(call, end));
    }
    fn client_call_start(&self, call: &ClientCall<'_>) {
        self.0.iter().for_each(|h| h.client_call_start(call));
    }
    fn client_call_end(&self, call: &ClientCall<'_>, end: &ClientCallEnd) {
        self.0.iter().for_each(|h| h.client_call_end(call, end));
    }
}

/// Totals of one method, kept by [`CallCounters`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodTotals {
    /// Calls started.
    pub started: u64,
    /// Calls ended, by status code.
    pub ended: Vec<(Code, u64)>,
    /// Request messages over all ended calls.
    pub request_messages: u64,
    /// Request bytes over all ended calls.
    pub request_bytes: u64,
    /// Response messages over all ended calls.
    pub response_messages: u64,
    /// Response bytes over all ended calls.
    pub response_bytes: u64,
    /// Sum of the latencies of ended calls.
    pub total_latency: Duration,
}

impl MethodTotals {
    /// Calls that ended with `code`.
    pub fn ended_with(&self, code: Code) -> u64 {
        self.ended.iter().find(|(c, _)| *c == code).map_or(0, |(_, n)| *n)
    }
}

/// A built-in [`StatsHandler`]: connection counts and per-method totals.
#[derive(Debug, Default)]
pub struct CallCounters {
    conns_opened: AtomicU64,
    conns_closed: AtomicU64,
    methods: Mutex<Vec<(String, MethodTotals)>>,
}

impl CallCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.conns_opened.load(Ordering::Relaxed)
    }

    /// Connections closed so far.
    pub fn connections_closed(&self) -> u64 {
        self.conns_closed.load(Ordering::Relaxed)
    }

    /// The totals of one method (zero when never called).
    pub fn method(&self, method: &str) -> MethodTotals {
        let methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        methods.iter().find(|(m, _)| m == method).map(|(_, t)| t.clone()).unwrap_or_default()
    }

    fn with_method(&self, method: &str, f: impl FnOnce(&mut MethodTotals)) {
        let mut methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        match methods.iter_mut().find(|(m, _)| m == method) {
            Some((_, t)) => f(t),
            None => {
                let mut t = MethodTotals::default();
                f(&mut t);
                methods.push((method.to_owned(), t));
            }
        }
    }
}

impl StatsHandler for CallCounters {
    fn conn_open(&self, _: &ConnInfo) {
        self.conns_opened.fetch_add(1, Ordering::Relaxed);
    }

    fn conn_close(&self, _: &ConnInfo, _: &ConnEnd) {
        self.conns_closed.fetch_add(1, Ordering::Relaxed);
    }

    fn call_start(&self, call: &CallMeta<'_>) {
        self.with_method(call.method, |t| t.started += 1);
    }

    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        self.with_method(call.method, |t| {
            match t.ended.iter_mut().find(|(c, _)| *c == end.code) {
                Some((_, n)) => *n += 1,
                None => t.ended.push((end.code, 1)),
            }
            t.request_messages += end.request_messages;
            t.request_bytes += end.request_bytes;
            t.response_messages += end.response_messages;
            t.response_bytes += end.response_bytes;
            t.total_latency += end.latency;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_per_method_and_code() {
        let c = CallCounters::new();
        let call = CallMeta { side: Side::Server, method: "/a.B/C", peer: None, conn: 1, target: None };
        let end = |code, n| CallEnd {
            code,
            request_messages: n,
            request_bytes: 10 * n,
            response_messages: 1,
            response_bytes: 5,
            request_wire_bytes: 10 * n,
            response_wire_bytes: 5,
            latency: Duration::from_millis(2),
        };
        c.call_start(&call);
        c.call_start(&call);
        c.call_end(&call, &end(Code::Ok, 2));
        c.call_end(&call, &end(Code::NotFound, 1));
        let t = c.method("/a.B/C");
        assert_eq!((t.started, t.ended_with(Code::Ok), t.ended_with(Code::NotFound)), (2, 1, 1));
        assert_eq!((t.request_messages, t.request_bytes, t.response_bytes), (3, 30, 10));
        assert_eq!(t.total_latency, Duration::from_millis(4));
        assert_eq!(c.method("/other"), MethodTotals::default());
    }
}
