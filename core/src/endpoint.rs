//! The shape every core shares. An HTTP/2 [`Connection`], a gRPC
//! [`Client`](crate::grpc::Client) and a gRPC [`Server`](crate::grpc::Server)
//! are all driven the same way: bytes in, events out, bytes out, one timer.
//! Whatever drives one can drive any of them through this trait: weir-rt's
//! connection driver (both roles), the in-memory [`Pair`](crate::sim::Pair),
//! the fuzz drivers, a hand-written event loop.
//!
//! The methods are also inherent on each type, so code that knows its type
//! needs no import; generic code bounds on `Endpoint`.

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::conn::{Connection, TransmitBuf};

/// A Sans-IO endpoint: input, output, events and a timer.
pub trait Endpoint {
    /// What [`Endpoint::poll_event`] reports.
    type Event;

    /// Feeds received bytes (a copy into [`Endpoint::input_buffer`], then
    /// [`Endpoint::process_input`]).
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    /// The input buffer, for reading from the transport straight into it.
    fn input_buffer(&mut self) -> &mut BytesMut;
    /// Processes what was read into [`Endpoint::input_buffer`].
    fn process_input(&mut self, now: Instant);
    /// Processes about `max_bytes` of the input buffer (whole frames); true
    /// when input is left for another call. See
    /// [`Connection::process_input_up_to`].
    fn process_input_up_to(&mut self, now: Instant, max_bytes: usize) -> bool;
    /// The transport reached end of file.
    fn handle_eof(&mut self, now: Instant);
    /// The transport failed (reset by the peer).
    fn handle_reset(&mut self, now: Instant);
    /// Runs the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// Appends bytes to send to `buf`; returns how many (0: nothing to send).
    fn poll_transmit<B: TransmitBuf>(&mut self, now: Instant, buf: &mut B) -> usize;
    /// When [`Endpoint::handle_timeout`] is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// True once finished: nothing more to read, write or wait for.
    fn is_closed(&self) -> bool;
    /// The HTTP/2 connection underneath (the endpoint itself for a
    /// [`Connection`]).
    fn h2(&self) -> &Connection;
    /// Calls (or, for a bare connection, streams) in progress.
    fn active_streams(&self) -> usize;
    /// How long output may take to drain once the endpoint is closing (its
    /// final GOAWAY queued) or closed; `None` while it is open.
    fn close_flush_timeout(&self) -> Option<Duration> {
        let h2 = self.h2();
        (!h2.is_open()).then(|| h2.config().close_flush_timeout)
    }
}

/// Implements [`Endpoint`] by the type's inherent methods of the same names.
macro_rules! endpoint_by_inherent_methods {
    ($t:ty, $event:ty, |$s:ident| $h2:expr, $active:ident) => {
        impl $crate::endpoint::Endpoint for $t {
            type Event = $event;
            fn handle_input(&mut self, now: Instant, data: &[u8]) {
                <$t>::handle_input(self, now, data)
            }
            fn input_buffer(&mut self) -> &mut bytes::BytesMut {
                <$t>::input_buffer(self)
            }
            fn process_input(&mut self, now: Instant) {
                <$t>::process_input(self, now)
            }
            fn process_input_up_to(&mut self, now: Instant, max_bytes: usize) -> bool {
                <$t>::process_input_up_to(self, now, max_bytes)
            }
            fn handle_eof(&mut self, now: Instant) {
                <$t>::handle_eof(self, now)
            }
            fn handle_reset(&mut self, now: Instant) {
                <$t>::handle_reset(self, now)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_transmit<B: $crate::conn::TransmitBuf>(&mut self, now: Instant, buf: &mut B) -> usize {
                <$t>::poll_transmit(self, now, buf)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$t>::poll_event(self)
            }
            fn is_closed(&self) -> bool {
                <$t>::is_closed(self)
            }
            fn h2(&self) -> &$crate::conn::Connection {
                let $s = self;
                $h2
            }
            fn active_streams(&self) -> usize {
                <$t>::$active(self)
            }
        }
    };
}

endpoint_by_inherent_methods!(Connection, crate::conn::Event, |c| c, live_streams);
endpoint_by_inherent_methods!(crate::grpc::Client, crate::grpc::ClientEvent, |c| c.h2(), active_calls);
endpoint_by_inherent_methods!(crate::grpc::Server, crate::grpc::ServerEvent, |s| s.h2(), active_calls);

/// What both gRPC roles have alike: access to their HTTP/2 connection
/// (`self.calls.h2`), their call count, their event queue, and the input/output methods they forward
/// to the connection, processing its events after each. One definition for
/// both roles, expanded in each `impl` block.
macro_rules! forward_io_to_h2 {
    ($event:ty) => {
        /// The HTTP/2 connection underneath (stats, settings).
        pub fn h2(&self) -> &Connection {
            &self.calls.h2
        }

        /// Mutable access to the HTTP/2 connection (pings, settings changes).
        pub fn h2_mut(&mut self) -> &mut Connection {
            &mut self.calls.h2
        }

        /// Calls in progress (on a client: not yet finished, or with unread
        /// messages).
        pub fn active_calls(&self) -> usize {
            self.calls.map.len()
        }

        /// Received bytes the calls hold in the core (partial messages and
        /// whole ones not yet taken), as counted against
        /// [`crate::grpc::MessageConfig::max_recv_buffer_per_connection`].
        pub fn recv_held(&self) -> usize {
            self.calls.hold.held()
        }

        /// True when a message can be queued on `call` without waiting for
        /// `Writable`.
        pub fn is_writable(&self, call: CallId) -> bool {
            self.calls.h2.is_writable(call.0)
        }

        /// Like `is_writable`, and when false a `Writable` event follows
        /// once the call can take more.
        pub fn poll_writable(&mut self, call: CallId) -> bool {
            self.calls.h2.poll_writable(call.0)
        }

        // ----- input / output ---------------------------------------------------

        /// Feeds received bytes.
        pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
            self.calls.h2.handle_input(now, data);
            self.process_events(now);
        }

        /// The HTTP/2 input buffer for zero-copy reads; then call `process_input`.
        pub fn input_buffer(&mut self) -> &mut bytes::BytesMut {
            self.calls.h2.input_buffer()
        }

        /// Processes what was read into `input_buffer`.
        pub fn process_input(&mut self, now: Instant) {
            self.calls.h2.process_input(now);
            self.process_events(now);
        }

        /// Processes about `max_bytes` of the input buffer; true when input
        /// is left for another call (see `Connection::process_input_up_to`).
        pub fn process_input_up_to(&mut self, now: Instant, max_bytes: usize) -> bool {
            let more = self.calls.h2.process_input_up_to(now, max_bytes);
            self.process_events(now);
            more
        }

        /// The transport closed.
        pub fn handle_eof(&mut self, now: Instant) {
            self.calls.h2.handle_eof(now);
            self.process_events(now);
        }

        /// The transport failed (reset by the peer).
        pub fn handle_reset(&mut self, now: Instant) {
            self.calls.h2.handle_reset(now);
            self.process_events(now);
        }

        /// Appends bytes to send.
        pub fn poll_transmit<B: TransmitBuf>(&mut self, now: Instant, buf: &mut B) -> usize {
            let n = self.calls.h2.poll_transmit(now, buf);
            self.process_events(now);
            n
        }

        /// The earliest deadline of the connection or any call.
        pub fn poll_timeout(&self) -> Option<Instant> {
            self.calls.poll_timeout()
        }

        /// The next event.
        pub fn poll_event(&mut self) -> Option<$event> {
            self.calls.events.pop_front()
        }

        /// True once the connection is finished.
        pub fn is_closed(&self) -> bool {
            self.calls.h2.is_closed()
        }
    };
}
pub(crate) use forward_io_to_h2;
