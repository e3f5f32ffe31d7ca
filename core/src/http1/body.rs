//! Reading a message body (RFC 9112 §6.3, §7.1): `Content-Length` octets,
//! or chunks and a trailer section, or (responses) everything until the
//! connection closes. One reader for both roles: the server reads request
//! bodies with it, the client response bodies; each role delivers the
//! octets as its own events and maps [`BodyError`] to its own error type.

use bytes::{Buf, BytesMut};

use super::chunked::{ChunkError, parse_chunk_line};
use super::error::{RequestError, ResponseError};
use super::head::{ScanError, SectionScanner, TrailersError, parse_trailers};
use super::{ClientConfig, Config, Field};

/// Where a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// `Content-Length` octets left.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkLine,
    /// Chunk octets left.
    ChunkData(u64),
    /// Expecting the CRLF after a chunk's data.
    ChunkEnd,
    /// Expecting the trailer section.
    Trailers,
    /// Until the end of input (responses only).
    UntilClose,
}

/// Why parsing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Something was parsed; go on.
    Advanced,
    /// More input is needed.
    NeedInput,
    /// Waiting for the application (events to poll, a response to end),
    /// or reading nothing more.
    Blocked,
}

/// What is wrong with a body, before it is told in the role's error type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    Chunk(ChunkError),
    TooLarge {
        max: u64,
    },
    MissingChunkCrlf,
    /// The trailer section's lines, with the section limit.
    TrailerLines(ScanError, usize),
    TrailerFields(TrailersError),
}

impl From<BodyError> for RequestError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Chunk(e) => e.into(),
            BodyError::TooLarge { max } => RequestError::BodyTooLarge { max },
            BodyError::MissingChunkCrlf => RequestError::MissingChunkCrlf,
            BodyError::TrailerLines(e, max) => e.in_trailers(max),
            BodyError::TrailerFields(e) => e.in_request(),
        }
    }
}

impl From<BodyError> for ResponseError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Chunk(e) => e.into(),
            BodyError::TooLarge { max } => ResponseError::BodyTooLarge { max },
            BodyError::MissingChunkCrlf => ResponseError::MissingChunkCrlf,
            BodyError::TrailerLines(e, max) => e.in_response_trailers(max),
            BodyError::TrailerFields(e) => e.in_response(),
        }
    }
}

/// The limits a body is read within (the role's configuration).
#[derive(Clone, Copy, Debug)]
pub(super) struct BodyLimits {
    pub max_chunk_line: usize,
    pub max_body_size: Option<u64>,
    pub max_body_buffer: usize,
    pub max_head_size: usize,
    pub max_headers: usize,
}

macro_rules! body_limits_of {
    ($t:ty) => {
        impl From<&$t> for BodyLimits {
            fn from(c: &$t) -> Self {
                BodyLimits {
                    max_chunk_line: c.max_chunk_line,
                    max_body_size: c.max_body_size,
                    max_body_buffer: c.max_body_buffer,
                    max_head_size: c.max_head_size,
                    max_headers: c.max_headers,
                }
            }
        }
    };
}

body_limits_of!(Config);
body_limits_of!(ClientConfig);

/// What reading a body needs of its connection.
pub(super) trait BodySink {
    /// The unparsed input, the trailer scanner and the body octets counted
    /// against `max_body_size` so far.
    fn body_input(&mut self) -> (&mut BytesMut, &mut SectionScanner, &mut u64);
    fn body_limits(&self) -> BodyLimits;
    /// Body octets delivered and not yet taken by the application.
    fn body_buffered(&self) -> usize;
    fn set_body(&mut self, body: Body);
    /// Moves up to `left` body octets from the input to an event, within
    /// the body buffer; returns how many.
    fn deliver(&mut self, left: u64) -> u64;
    fn body_failed(&mut self, e: BodyError);
    /// The body ended, with these trailers.
    fn body_ended(&mut self, trailers: Vec<Field>);
}

/// Implements [`BodySink`] for a connection type with the fields both
/// roles name alike (`recv`, `scanner`, `body_received`, `events_body`,
/// `config`, `state`, `current`, `events`), its `Data` event, its error type
/// and the method that ends the message.
macro_rules! body_sink {
    ($t:ty, $event:ident, $error:ty, $end:ident) => {
        impl super::body::BodySink for $t {
            fn body_input(&mut self) -> (&mut BytesMut, &mut SectionScanner, &mut u64) {
                (&mut self.recv, &mut self.scanner, &mut self.body_received)
            }

            fn body_limits(&self) -> super::body::BodyLimits {
                super::body::BodyLimits::from(&self.config)
            }

            fn body_buffered(&self) -> usize {
                self.events_body
            }

            fn set_body(&mut self, body: Body) {
                self.state = Recv::Body(body);
            }

            fn deliver(&mut self, left: u64) -> u64 {
                let room = self.config.max_body_buffer.saturating_sub(self.events_body);
                let n = (self.recv.len() as u64).min(left).min(room as u64) as usize;
                if n == 0 {
                    return 0;
                }
                let data = self.recv.split_to(n).freeze();
                self.events_body += n;
                let id = self.current.as_ref().map_or(RequestId(0), |e| e.id);
                self.events.push_back($event::Data { id, data });
                n as u64
            }

            fn body_failed(&mut self, e: super::body::BodyError) {
                self.fail(<$error>::from(e));
            }

            fn body_ended(&mut self, trailers: Vec<Field>) {
                self.$end(trailers);
            }
        }
    };
}
pub(super) use body_sink;

/// One step of reading a body.
pub(super) fn read_body(c: &mut impl BodySink, body: Body) -> Step {
    let limits = c.body_limits();
    match body {
        Body::UntilClose => {
            let n = c.deliver(u64::MAX);
            if let Err(e) = count(c, limits, n) {
                return fail(c, e);
            }
            full(c, limits)
        }
        Body::Length(left) | Body::ChunkData(left) => {
            let rest = left - c.deliver(left);
            match body {
                Body::Length(_) if rest == 0 => {
                    c.body_ended(Vec::new());
                    return Step::Advanced;
                }
                Body::Length(_) => c.set_body(Body::Length(rest)),
                _ if rest == 0 => {
                    c.set_body(Body::ChunkEnd);
                    return Step::Advanced;
                }
                _ => c.set_body(Body::ChunkData(rest)),
            }
            full(c, limits)
        }
        Body::ChunkLine => {
            let (recv, scanner, _) = c.body_input();
            let line = match parse_chunk_line(recv, limits.max_chunk_line) {
                Err(e) => return fail(c, BodyError::Chunk(e)),
                Ok(None) => return Step::NeedInput,
                Ok(Some(line)) => line,
            };
            recv.advance(line.len);
            if line.size == 0 {
                scanner.reset();
                c.set_body(Body::Trailers);
                return Step::Advanced;
            }
            if let Err(e) = count(c, limits, line.size) {
                return fail(c, e);
            }
            c.set_body(Body::ChunkData(line.size));
            Step::Advanced
        }
        Body::ChunkEnd => {
            let (recv, _, _) = c.body_input();
            match recv.first_chunk::<2>() {
                Some(b"\r\n") => {
                    recv.advance(2);
                    c.set_body(Body::ChunkLine);
                    Step::Advanced
                }
                None if recv.is_empty() || &recv[..] == b"\r" => Step::NeedInput,
                _ => fail(c, BodyError::MissingChunkCrlf),
            }
        }
        Body::Trailers => {
            let max = limits.max_head_size;
            let (recv, scanner, _) = c.body_input();
            let end = match scanner.scan(recv, max, true) {
                Err(e) => return fail(c, BodyError::TrailerLines(e, max)),
                Ok(None) => return Step::NeedInput,
                Ok(Some(end)) => end,
            };
            let section = recv.split_to(end).freeze();
            match parse_trailers(section, limits.max_headers) {
                Err(e) => fail(c, BodyError::TrailerFields(e)),
                Ok(trailers) => {
                    c.body_ended(trailers);
                    Step::Advanced
                }
            }
        }
    }
}

/// After a delivery: blocked while the application holds a full body
/// buffer, otherwise waiting for input.
fn full(c: &impl BodySink, limits: BodyLimits) -> Step {
    if c.body_buffered() >= limits.max_body_buffer { Step::Blocked } else { Step::NeedInput }
}

/// Counts `n` more body octets against `max_body_size`.
fn count(c: &mut impl BodySink, limits: BodyLimits, n: u64) -> Result<(), BodyError> {
    let (_, _, received) = c.body_input();
    *received = received.saturating_add(n);
    match limits.max_body_size {
        Some(max) if *received > max => Err(BodyError::TooLarge { max }),
        _ => Ok(()),
    }
}

fn fail(c: &mut impl BodySink, e: BodyError) -> Step {
    c.body_failed(e);
    Step::Blocked
}
