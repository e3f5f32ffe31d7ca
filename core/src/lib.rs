//! # weir-core
//!
//! The Sans-IO heart of Weir: HTTP/2 framing, HPACK, streams, flow control and
//! gRPC message framing as pure state machines. Nothing here opens a socket,
//! spawns a task, reads a clock or takes a lock: bytes go in, bytes and events
//! come out, and time is an argument. That lets the same core run under tokio,
//! smol, a hand-written event loop, a simulator or a fuzzer.
//!
//! Layers, lowest first:
//! * [`frame`]: RFC 9113 frames, zero-copy decode from `Bytes`, encode into a
//!   caller-owned buffer;
//! * [`hpack`]: RFC 7541 header compression with limits enforced while decoding;
//! * [`flow`], [`stream`], [`headers`]: windows, the §5.1 stream lifecycle, and
//!   HTTP message rules;
//! * [`conn`]: the HTTP/2 connection for both roles;
//! * [`grpc`]: gRPC calls over a connection (message framing, status,
//!   metadata, deadlines, compression), and gRPC-Web framing ([`grpc::web`]);
//! * [`http1`]: HTTP/1.1 server and client connections, and protocol
//!   detection for a port shared with HTTP/2;
//! * [`sim`]: an in-memory harness that wires two endpoints together;
//! * [`Endpoint`]: the input/output/event/timer shape all of them share.
//!
//! ## The loop an embedder writes
//!
//! Every endpoint has the same shape: feed what the transport read with
//! `handle_input`, drain `poll_event`, act on the events (start replies, read
//! messages), then call `poll_transmit` until it returns 0 and write what it
//! produced, and arm one timer for `poll_timeout`. Here a client and a server
//! core talk through two byte buffers; in real life each side does the same
//! against its socket (see
//! [`examples/custom_event_loop.rs`](https://github.com/weir-rs/weir/blob/main/examples/src/bin/custom_event_loop.rs)
//! for a blocking `std::net` server, about a hundred lines).
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use weir_core::grpc::{
//!     CallRequest, Client, ClientConfig, ClientEvent, Code, Metadata, RecvMessage, Server,
//!     ServerConfig, ServerEvent, Status,
//! };
//!
//! let now = Instant::now();
//! let mut client = Client::new(ClientConfig::default(), now);
//! let mut server = Server::new(ServerConfig::default(), now);
//!
//! // Client: start a call and send its one request message.
//! let call = client.start_call(now, CallRequest::new("/helloworld.Greeter/SayHello", "localhost")).unwrap();
//! client.send_last_message(call, Bytes::from_static(b"\n\x05world")).unwrap();
//!
//! let mut reply = None;
//! let mut status = None;
//! for _round in 0..10 {
//!     // Each side writes everything it has (one call writes at most
//!     // `max_transmit_size`, so loop until it returns 0)...
//!     let mut to_server = Vec::new();
//!     while client.poll_transmit(now, &mut to_server) > 0 {}
//!     // ...and the other side reads it.
//!     server.handle_input(now, &to_server);
//!     while let Some(event) = server.poll_event() {
//!         match event {
//!             ServerEvent::Call { start, .. } => assert_eq!(&start.path[..], b"/helloworld.Greeter/SayHello"),
//!             ServerEvent::Message { call } | ServerEvent::HalfClosed { call } => {
//!                 if let Ok(RecvMessage::Message(request)) = server.recv_message(call) {
//!                     assert_eq!(&request[..], b"\n\x05world");
//!                     server.send_message(call, Bytes::from_static(b"\n\x0bHello world")).unwrap();
//!                     server.finish(call, &Status::ok(), &Metadata::new()).unwrap();
//!                 }
//!             }
//!             _ => {}
//!         }
//!     }
//!     let mut to_client = Vec::new();
//!     while server.poll_transmit(now, &mut to_client) > 0 {}
//!     client.handle_input(now, &to_client);
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             ClientEvent::Message { call } => {
//!                 if let Ok(RecvMessage::Message(m)) = client.recv_message(call) {
//!                     reply = Some(m);
//!                 }
//!             }
//!             ClientEvent::Finished { status: s, .. } => status = Some(s),
//!             _ => {}
//!         }
//!     }
//!     if status.is_some() {
//!         break;
//!     }
//!     // A real loop also sleeps until `poll_timeout()` and then calls
//!     // `handle_timeout(now)` (keepalive, deadlines, settings timeouts).
//! }
//! assert_eq!(reply.as_deref(), Some(&b"\n\x0bHello world"[..]));
//! assert_eq!(status.map(|s| s.code), Some(Code::Ok));
//! ```

pub mod error_code;
pub mod frame;
pub mod hpack;

pub mod conn;
pub mod endpoint;
pub mod flow;
pub mod grpc;
pub mod hash;
pub mod headers;
pub mod http1;
pub mod sim;
pub mod stream;

pub use endpoint::Endpoint;

pub use error_code::ErrorCode;
