//! The calling side in the same shape: connections from one mio thread,
//! each a Weir Sans-IO `Client` behind rustls's `ClientConnection` (or
//! none), each keeping a number of `UnaryCall`s in flight until its share is
//! done, then closing gracefully. Every response is decoded and checked.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll};
use prost::Message;
use weir_core::grpc::{CallId, CallRequest, Client, ClientConfig, ClientEvent, Code, RecvMessage, Status};

use crate::connection::{App, Connection};
use crate::event_loop::Reactor;
use crate::testing::{Payload, SimpleRequest, SimpleResponse};

const UNARY_CALL: &str = "/grpc.testing.TestService/UnaryCall";

/// What to call, and how hard.
#[derive(Clone)]
pub struct LoadOptions {
    /// The server.
    pub addr: SocketAddr,
    /// TLS: the client configuration (ALPN `h2`) and the name to verify.
    pub tls: Option<(Arc<rustls::ClientConfig>, rustls_pki_types::ServerName<'static>)>,
    /// Connections, all driven by the one loop.
    pub connections: usize,
    /// Calls per connection.
    pub calls: usize,
    /// Calls in flight per connection.
    pub concurrency: usize,
    /// Payload octets of each request and of each response.
    pub request_size: usize,
    /// See `request_size`.
    pub response_size: usize,
    /// The whole run fails with `TimedOut` past this.
    pub deadline: Duration,
}

impl LoadOptions {
    /// 1 connection, 100 calls, 10 at a time, 100-octet payloads, 60 s.
    pub fn new(addr: SocketAddr) -> Self {
        LoadOptions {
            addr,
            tls: None,
            connections: 1,
            calls: 100,
            concurrency: 10,
            request_size: 100,
            response_size: 100,
            deadline: Duration::from_secs(60),
        }
    }
}

/// What a run achieved.
#[derive(Debug, Default)]
pub struct Report {
    /// Calls that ended OK with the response asked for.
    pub ok: usize,
    /// Calls that did not, with why (at most the first 16 are kept).
    pub failed: usize,
    /// The first failures.
    pub errors: Vec<Status>,
    /// From the first connect to the last connection's end.
    pub elapsed: Duration,
}

impl Report {
    fn fail(&mut self, status: Status) {
        self.failed += 1;
        if self.errors.len() < 16 {
            self.errors.push(status);
        }
    }
}

/// One connection's share of the calls.
pub struct UnaryLoad {
    authority: String,
    request: bytes::Bytes,
    response_size: usize,
    concurrency: usize,
    to_start: usize,
    /// Calls in flight, and whether each has its response.
    in_flight: Vec<(CallId, bool)>,
    report: Report,
    closing: bool,
}

impl UnaryLoad {
    fn new(options: &LoadOptions) -> Self {
        let payload = Payload { r#type: 0, body: vec![0; options.request_size] };
        let response_size = i32::try_from(options.response_size).unwrap_or(i32::MAX);
        let request = SimpleRequest { response_size, payload: Some(payload), ..Default::default() };
        UnaryLoad {
            authority: match &options.tls {
                Some((_, name)) => name.to_str().into_owned(),
                None => options.addr.to_string(),
            },
            request: request.encode_to_vec().into(),
            response_size: options.response_size,
            concurrency: options.concurrency.max(1),
            to_start: options.calls,
            in_flight: Vec::new(),
            report: Report::default(),
            closing: false,
        }
    }

    fn read(&mut self, core: &mut Client, call: CallId) -> Result<(), Status> {
        loop {
            match core.recv_message(call)? {
                RecvMessage::Message(msg) => {
                    let r = SimpleResponse::decode(msg)
                        .map_err(|e| Status::new(Code::Internal, e.to_string()))?;
                    let got = r.payload.map_or(0, |p| p.body.len());
                    if got != self.response_size {
                        return Err(Status::new(
                            Code::Internal,
                            format!("{got} octets, want {}", self.response_size),
                        ));
                    }
                    if let Some(c) = self.in_flight.iter_mut().find(|c| c.0 == call) {
                        c.1 = true;
                    }
                }
                RecvMessage::Pending | RecvMessage::End => return Ok(()),
            }
        }
    }
}

impl App for UnaryLoad {
    type Core = Client;

    fn on_event(&mut self, core: &mut Client, event: ClientEvent, _now: Instant) {
        match event {
            ClientEvent::Message { call } => {
                if let Err(status) = self.read(core, call) {
                    core.cancel(call);
                    self.in_flight.retain(|c| c.0 != call);
                    self.report.fail(status);
                }
            }
            ClientEvent::Finished { call, status, .. } => {
                // Messages received before the end can still be read.
                let read = self.read(core, call);
                let Some(at) = self.in_flight.iter().position(|c| c.0 == call) else { return };
                let (_, answered) = self.in_flight.swap_remove(at);
                match (status.code, read, answered) {
                    (Code::Ok, Ok(()), true) => self.report.ok += 1,
                    (Code::Ok, Ok(()), false) => self.report.fail(Status::new(Code::Internal, "no response")),
                    (Code::Ok, Err(e), _) => self.report.fail(e),
                    _ => self.report.fail(status),
                }
            }
            ClientEvent::Closed { error } => {
                // Calls not yet started never will be (on this connection).
                let why = error.map_or_else(|| "connection closed".to_string(), |e| e.to_string());
                for _ in 0..self.to_start {
                    self.report.fail(Status::new(Code::Unavailable, why.clone()));
                }
                self.to_start = 0;
            }
            _ => {}
        }
    }

    fn poll(&mut self, core: &mut Client, now: Instant) {
        while self.to_start > 0 && self.in_flight.len() < self.concurrency && core.can_start_call() {
            self.to_start -= 1;
            let req = CallRequest::new(UNARY_CALL, self.authority.clone());
            match core.start_call(now, req) {
                Ok(call) => match core.send_last_message(call, self.request.clone()) {
                    // Counted when it finishes.
                    Ok(()) => self.in_flight.push((call, false)),
                    Err(status) => {
                        core.cancel(call);
                        self.report.fail(status);
                    }
                },
                Err(status) => self.report.fail(status),
            }
        }
        if self.to_start == 0 && self.in_flight.is_empty() && !self.closing {
            self.closing = true;
            core.shutdown(now);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        None
    }

    fn shutdown(&mut self, core: &mut Client, now: Instant) {
        core.shutdown(now);
    }
}

/// Opens `options.connections` connections from one loop and runs every
/// call; returns once all connections have closed.
pub fn run_unary_load(options: &LoadOptions) -> io::Result<Report> {
    let start = Instant::now();
    let mut poll = Poll::new()?;
    let mut reactor = Reactor::new(start);
    for _ in 0..options.connections {
        let socket = TcpStream::connect(options.addr)?;
        let tls = match &options.tls {
            Some((config, name)) => Some(
                rustls::ClientConnection::new(config.clone(), name.clone()).map_err(io::Error::other)?.into(),
            ),
            None => None,
        };
        let core = Client::new(ClientConfig::default(), Instant::now());
        reactor.add(&poll, Connection::new(socket, tls, core, UnaryLoad::new(options))?, Instant::now())?;
    }
    let mut report = Report::default();
    let mut events = Events::with_capacity(256);
    while !reactor.is_empty() {
        if start.elapsed() > options.deadline {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("calls unfinished after {:?}", options.deadline),
            ));
        }
        reactor.wait(&mut poll, &mut events, Duration::from_millis(100))?;
        let now = Instant::now();
        for event in events.iter() {
            reactor.dispatch(event, now);
        }
        reactor.fire_timers(now);
        reactor.settle(&poll, now, |done| {
            report.ok += done.report.ok;
            report.failed += done.report.failed - done.report.errors.len();
            done.report.errors.into_iter().for_each(|e| report.fail(e));
        });
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// A rustls client configuration trusting `ca_pem`, offering ALPN `h2`.
pub fn tls_client_config(ca_pem: &[u8]) -> Result<rustls::ClientConfig, rustls::Error> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.map_err(|e| rustls::Error::General(e.to_string()))?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
