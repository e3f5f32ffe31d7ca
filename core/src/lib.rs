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
//!
//! ## The loop contract
//!
//! What an embedder calls, when, and what each output means. It holds for
//! every [`Endpoint`]: [`conn::Connection`], [`grpc::Client`],
//! [`grpc::Server`] (the HTTP/1.1 connections in [`http1`] have the same
//! input, output and timer calls, gated by `wants_input`).
//!
//! **Time.** Every call that can change state takes `now`, a monotonic
//! [`std::time::Instant`] the embedder reads (or simulates). The core never
//! reads a clock; it compares the instants it is given, so they must not go
//! backwards. Virtual time works: a simulator may jump ahead.
//!
//! **Input.** Bytes from the transport go in with `handle_input(now, &bytes)`
//! (a copy), or, without the copy, read straight into `input_buffer()` and
//! then `process_input(now)`. `process_input_up_to(now, max)` processes whole
//! frames until about `max` octets were taken and returns true when input is
//! left: call it again after writing the output, so that one fast peer
//! cannot make a loop iteration unbounded. Input that is not a whole frame
//! yet waits in the buffer, which is bounded (frame size and header list
//! limits). Protocol errors in the input never panic and never grow memory
//! without bound: they become a stream reset or a connection error (GOAWAY
//! queued for output, then `Closed`).
//!
//! **Events.** `poll_event()` until it returns `None`, after every input,
//! timeout and output call (sending frees room, and the resulting `Writable`
//! events appear after `poll_transmit`). Events are never dropped, and the
//! core keeps going whether or not the embedder acts on one at once: a
//! `Message` stays readable until read, a `Call` waits for its answer (or
//! its deadline). What each means: [`grpc::ServerEvent`] and
//! [`grpc::ClientEvent`], one line each.
//!
//! **Reading messages.** A message is pulled with `recv_message(call)` (or
//! a batch with `recv_messages(call, room, &mut out)`). Until it is pulled
//! its DATA stays in the stream, and the stream's flow-control credit goes
//! back to the peer only as data is pulled: an embedder that stops reading
//! a call stops its peer (the window is the backpressure). `Message` is
//! reported once, and again only after the next read.
//!
//! **Sending.** `send_message` (and friends) queue; nothing is written until
//! `poll_transmit`. A call's send buffer is bounded: `is_writable(call)` says
//! whether it has room, `poll_writable(call)` also asks for a `Writable`
//! event once it has. Queuing on a full buffer is an error, never a silent
//! growth.
//!
//! **Output.** `poll_transmit(now, &mut buf)` appends what is ready to send
//! (frames in order, at most `max_transmit_size` of stream data per call)
//! and returns how many octets; 0 means nothing to send now (possibly
//! because the peer's windows are closed: the data waits in the core, which
//! counts it against its send-buffer limits). Call it until it returns 0
//! after every input, timeout or API call, and write what it produced, in
//! order and in full, before anything produced later. A transport that
//! cannot take more for now simply stops calling `poll_transmit`: the core
//! keeps the rest.
//!
//! **Timer.** `poll_timeout()` is the instant at which `handle_timeout(now)`
//! must be called (keepalive PINGs and their timeouts, call deadlines,
//! SETTINGS acknowledgement, idle and age limits, the end of a graceful
//! shutdown); `None` means no timer. Ask again after every step: any call
//! may move it. Calling `handle_timeout` early is harmless (nothing is due);
//! calling it late delays the timers by as much.
//!
//! **End.** `handle_eof(now)` when the transport reached end of file,
//! `handle_reset(now)` when it failed: calls in flight end (their events
//! follow) and the endpoint closes. `shutdown(now)` starts a graceful close
//! (GOAWAY, calls in flight finish). Once `is_closed()` is true and
//! `poll_transmit` returns 0, close the transport; while closing,
//! `close_flush_timeout()` bounds how long to keep trying to write the last
//! output to a peer that does not read.
//!
//! **What the core never does:** block, spawn, lock, allocate without a
//! bound set by its configuration, or call back into the embedder. Every
//! effect is a return value or an event.

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
