//! What the drivers record about their connection and calls: `tracing` spans
//! (feature `tracing`) and the [`StatsHandler`] callbacks.
//!
//! Spans: `grpc.conn` (INFO; fields `side`, `peer`) per connection, and
//! `grpc.call` (DEBUG; child of its connection's span; fields `side`,
//! `method`, `peer`, then `code` and `status` recorded when the call ends)
//! per call. Nothing is measured for a call unless a handler is registered or
//! its span is enabled: then the driver holds no per-call state at all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use weir_core::conn::{ConnectionError, Stats};
use weir_core::grpc::{Code, WireBytes};

use crate::runtime::BoxFuture;
use crate::stats::{CallEnd, CallMeta, ConnEnd, ConnInfo, Side, StatsHandler};

/// The method reported for a path that is not UTF-8.
const INVALID_METHOD: &str = "<invalid UTF-8>";

/// The next connection id ([`ConnInfo::id`]).
static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// One connection's observer.
pub(crate) struct ConnObserver {
    stats: Option<Arc<dyn StatsHandler>>,
    info: ConnInfo,
    /// Client: the channel's target.
    target: Option<Arc<str>>,
    opened_at: Instant,
    calls: u64,
    closed: bool,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl ConnObserver {
    /// Reports the connection open.
    pub fn open(
        side: Side,
        (peer, local): (Option<SocketAddr>, Option<SocketAddr>),
        target: Option<Arc<str>>,
        stats: Option<Arc<dyn StatsHandler>>,
        now: Instant,
    ) -> Self {
        let id = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
        let info = ConnInfo { side, peer, local, id };
        if let Some(s) = &stats {
            s.conn_open(&info);
        }
        ConnObserver {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!("grpc.conn", side = side.as_str(), peer = ?peer),
            stats,
            info,
            target,
            opened_at: now,
            calls: 0,
            closed: false,
        }
    }

    /// Starts observing a call; `None` when nobody listens. The span names
    /// `path`; stats name `reported` (a server passes
    /// [`crate::stats::UNREGISTERED_METHOD`] for methods it does not serve).
    pub fn call(&mut self, path: &Bytes, reported: &Bytes, now: Instant) -> Option<Box<CallObserver>> {
        self.calls += 1;
        #[cfg(feature = "tracing")]
        let method = std::str::from_utf8(path).unwrap_or(INVALID_METHOD);
        #[cfg(not(feature = "tracing"))]
        let _ = path;
        #[cfg(feature = "tracing")]
        let span = tracing::debug_span!(
            parent: &self.span,
            "grpc.call",
            side = self.info.side.as_str(),
            method,
            peer = ?self.info.peer,
            code = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        #[cfg(feature = "tracing")]
        let traced = !span.is_disabled();
        #[cfg(not(feature = "tracing"))]
        let traced = false;
        if self.stats.is_none() && !traced {
            return None;
        }
        let stats = self.stats.clone();
        if let Some(s) = &stats {
            let method = std::str::from_utf8(reported).unwrap_or(INVALID_METHOD);
            s.call_start(&CallMeta {
                side: self.info.side,
                method,
                peer: self.info.peer,
                conn: self.info.id,
                target: self.target.as_deref(),
            });
        }
        Some(Box::new(CallObserver {
            stats,
            side: self.info.side,
            peer: self.info.peer,
            conn: self.info.id,
            target: self.target.clone(),
            path: reported.clone(),
            started: now,
            sent: (0, 0),
            received: (0, 0),
            #[cfg(feature = "tracing")]
            span,
        }))
    }

    /// Reports the connection closed (once).
    pub fn close(&mut self, stats: Stats, error: Option<ConnectionError>, now: Instant) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        #[cfg(feature = "tracing")]
        if let Some(e) = &error {
            tracing::debug!(parent: &self.span, error = %e, "connection closed with an error");
        }
        if let Some(s) = &self.stats {
            let end = ConnEnd {
                duration: now.saturating_duration_since(self.opened_at),
                calls: self.calls,
                data_sent: stats.data_sent,
                data_received: stats.data_received,
                error,
            };
            s.conn_close(&self.info, &end);
        }
    }
}

/// One call's observer (exists only when someone listens).
pub(crate) struct CallObserver {
    stats: Option<Arc<dyn StatsHandler>>,
    side: Side,
    peer: Option<SocketAddr>,
    conn: u64,
    target: Option<Arc<str>>,
    /// The method stats report (UTF-8 checked when the call started).
    path: Bytes,
    started: Instant,
    /// Messages and bytes sent.
    sent: (u64, u64),
    /// Messages and bytes received.
    received: (u64, u64),
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl CallObserver {
    /// A message of `len` bytes was sent.
    pub fn sent(&mut self, len: usize) {
        self.sent.0 += 1;
        self.sent.1 += len as u64;
    }

    /// `count` messages of `bytes` bytes in all were sent.
    pub fn sent_many(&mut self, count: usize, bytes: usize) {
        self.sent.0 += count as u64;
        self.sent.1 += bytes as u64;
    }

    /// A message of `len` bytes was received.
    pub fn received(&mut self, len: usize) {
        self.received_many(1, len as u64);
    }

    /// `messages` messages of `bytes` bytes in all were received.
    pub fn received_many(&mut self, messages: u64, bytes: u64) {
        self.received.0 += messages;
        self.received.1 += bytes;
    }

    /// The call ended with `code` (`message` is the status message);
    /// `wire`: what its messages took on the wire.
    pub fn end(self, code: Code, message: &str, wire: WireBytes, now: Instant) {
        #[cfg(feature = "tracing")]
        {
            self.span.record("code", code as i32);
            self.span.record("status", code.name());
            if code != Code::Ok {
                tracing::debug!(parent: &self.span, grpc.message = message, "call failed");
            }
        }
        let _ = message;
        let Some(stats) = &self.stats else { return };
        let (request, response, request_wire, response_wire) = match self.side {
            Side::Client => (self.sent, self.received, wire.sent, wire.received),
            Side::Server => (self.received, self.sent, wire.received, wire.sent),
        };
        let end = CallEnd {
            code,
            request_messages: request.0,
            request_bytes: request.1,
            response_messages: response.0,
            response_bytes: response.1,
            request_wire_bytes: request_wire,
            response_wire_bytes: response_wire,
            latency: now.saturating_duration_since(self.started),
        };
        let method = std::str::from_utf8(&self.path).unwrap_or(INVALID_METHOD);
        let meta = CallMeta {
            side: self.side,
            method,
            peer: self.peer,
            conn: self.conn,
            target: self.target.as_deref(),
        };
        stats.call_end(&meta, &end);
    }
}

/// The span a call's handler runs in (when enabled): the handler's own
/// events then carry the call's method and peer.
pub(crate) struct HandlerSpan {
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

impl HandlerSpan {
    /// The span of `obs`, if it is enabled.
    pub fn of(obs: Option<&CallObserver>) -> Self {
        #[cfg(not(feature = "tracing"))]
        let _ = obs;
        HandlerSpan {
            #[cfg(feature = "tracing")]
            span: obs.map(|o| o.span.clone()).filter(|s| !s.is_disabled()),
        }
    }

    /// Runs `fut` in the span.
    pub fn wrap<T: 'static>(self, fut: BoxFuture<'static, T>) -> BoxFuture<'static, T> {
        #[cfg(feature = "tracing")]
        if let Some(span) = self.span {
            return Box::pin(tracing::Instrument::instrument(fut, span));
        }
        fut
    }
}
