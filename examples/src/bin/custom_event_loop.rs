//! `custom_event_loop [ADDR]`: helloworld.Greeter served by the Sans-IO core
//! alone, driven by a blocking `std::net` loop written right here: no async
//! runtime, no Weir runtime crate. One thread per connection; the socket's
//! read timeout doubles as the core's timer.
//!
//! This is the whole integration contract: feed bytes in, drain events, write
//! what `poll_transmit` produced, wake up at `poll_timeout`. On SIGTERM or
//! SIGINT every connection starts the core's graceful shutdown (GOAWAY,
//! calls in flight finish) and the process exits once they are closed.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use weir_core::grpc::{CallId, Code, Metadata, RecvMessage, Server, ServerConfig, ServerEvent, Status};
use weir_examples::helloworld::{HelloReply, HelloRequest};

const GREETINGS: [&str; 4] = ["Hello", "Bonjour", "Hola", "Hallo"];

/// The Greeter's three methods, answered synchronously.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Unary,
    ServerStream,
    BidiStream,
}

fn method(path: &[u8]) -> Option<Method> {
    Some(match path {
        b"/helloworld.Greeter/SayHello" => Method::Unary,
        b"/helloworld.Greeter/SayHelloStreamReply" => Method::ServerStream,
        b"/helloworld.Greeter/SayHelloBidiStream" => Method::BidiStream,
        _ => return None,
    })
}

fn reply(message: String) -> Bytes {
    HelloReply { message }.encode_to_vec().into()
}

/// Reads every available request message of a call and answers it.
fn on_messages(core: &mut Server, call: CallId, m: Method) -> Result<(), Status> {
    loop {
        match core.recv_message(call)? {
            RecvMessage::Message(bytes) => {
                let name = HelloRequest::decode(bytes)
                    .map_err(|e| Status::new(Code::InvalidArgument, format!("bad request: {e}")))?
                    .name;
                match m {
                    Method::Unary => core.send_message(call, reply(format!("Hello {name}")))?,
                    Method::ServerStream => {
                        for g in GREETINGS {
                            core.send_message(call, reply(format!("{g} {name}")))?;
                        }
                    }
                    Method::BidiStream => core.send_message(call, reply(format!("Hello {name}")))?,
                }
            }
            RecvMessage::Pending => return Ok(()),
            RecvMessage::End => return core.finish(call, &Status::ok(), &Metadata::new()),
        }
    }
}

/// How often a blocked loop looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

fn serve(mut stream: TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut core = Server::new(ServerConfig::default(), Instant::now());
    let mut calls: HashMap<CallId, Method> = HashMap::new();
    let mut input = vec![0u8; 64 << 10];
    let mut output = Vec::with_capacity(64 << 10);
    let mut stopping = false;
    loop {
        // 1. Events: start calls, answer messages.
        while let Some(event) = core.poll_event() {
            match event {
                ServerEvent::Call { call, start } => match method(&start.path) {
                    Some(m) => {
                        calls.insert(call, m);
                    }
                    None => {
                        let st = Status::new(Code::Unimplemented, "unknown method");
                        let _ = core.finish(call, &st, &Metadata::new());
                    }
                },
                ServerEvent::Message { call } | ServerEvent::HalfClosed { call } => {
                    if let Some(&m) = calls.get(&call)
                        && let Err(st) = on_messages(&mut core, call, m)
                    {
                        let _ = core.finish(call, &st, &Metadata::new());
                    }
                }
                ServerEvent::Cancelled { call, .. } => {
                    calls.remove(&call);
                }
                ServerEvent::Writable { .. }
                | ServerEvent::Preflight { .. }
                | ServerEvent::Request { .. }
                | ServerEvent::RequestData { .. }
                | ServerEvent::GoAway { .. }
                | ServerEvent::Closed { .. } => {}
            }
        }
        // 2. Output: everything ready, in as few writes as possible.
        output.clear();
        while core.poll_transmit(Instant::now(), &mut output) > 0 {}
        stream.write_all(&output)?;
        if core.is_closed() {
            return Ok(());
        }
        // 3. Asked to stop: GOAWAY, let the calls in flight finish (the core
        // closes the connection once they have, or after its grace period).
        if stop.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            core.shutdown(Instant::now());
            continue;
        }
        // 4. Input, waiting at most until the core's next deadline (and
        // looking at the stop flag now and then).
        let timeout = core.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
        let timeout = timeout.map_or(STOP_CHECK, |t| t.min(STOP_CHECK));
        stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match stream.read(&mut input) {
            Ok(0) => core.handle_eof(Instant::now()),
            Ok(n) => core.handle_input(Instant::now(), &input[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                core.handle_timeout(Instant::now())
            }
            Err(e) => {
                core.handle_eof(Instant::now());
                return Err(e);
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:50053".into());
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    println!("LISTENING {}", listener.local_addr()?);
    let mut connections = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                let stop = stop.clone();
                connections.push(std::thread::spawn(move || {
                    let _ = serve(s, &stop);
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(STOP_CHECK),
            Err(e) => eprintln!("accept failed: {e}"),
        }
        connections.retain(|c| !c.is_finished());
    }
    drop(listener);
    for c in connections {
        let _ = c.join();
    }
    println!("stopped");
    Ok(())
}
