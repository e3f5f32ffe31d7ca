//! Helpers shared by the gRPC sections.

use weir_core::grpc::{CallId, CallStart, ClientConfig, ServerEvent};
use weir_spec_tests::prelude::*;

/// The method every request calls.
pub const PATH: &str = "/pkg.Svc/Method";

/// A gRPC request's Call-Definition (PROTOCOL-HTTP2 "Requests"), then `extra`.
pub fn request_fields(extra: &[(&str, &str)]) -> Fields {
    let mut f = fields(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", PATH),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]);
    f.extend(fields(extra));
    f
}

/// A gRPC server core past the HTTP/2 handshake (the suite is the client).
pub fn server() -> H2Conn<InMemoryServer> {
    let mut c = H2Conn::new(InMemoryServer::new());
    c.handshake();
    c.target.events.clear();
    c
}

/// A gRPC client core past the HTTP/2 handshake (the suite is the server).
pub fn client() -> H2Conn<InMemoryGrpcClient> {
    let mut c = H2Conn::new(InMemoryGrpcClient::new(ClientConfig::default()));
    c.accept(&[]);
    c.target.take_events();
    c
}

/// Sends a request on `stream`; returns the call the server started, if any.
pub fn start_call(
    c: &mut H2Conn<InMemoryServer>,
    stream: u32,
    extra: &[(&str, &str)],
    end: bool,
) -> Option<CallStart> {
    c.write_request(stream, &request_fields(extra), end);
    c.target.events.iter().find_map(|e| match e {
        ServerEvent::Call { call, start } if call.0.0 == stream => Some(start.clone()),
        _ => None,
    })
}

/// The call on `stream`.
pub fn call(stream: u32) -> CallId {
    CallId(StreamId(stream))
}

/// One Length-Prefixed-Message: Compressed-Flag, Message-Length (4 octets,
/// big endian), Message.
pub fn lpm(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(compressed)];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Splits DATA payload octets into Length-Prefixed-Messages.
#[track_caller]
pub fn parse_messages(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 5, "a partial prefix: {data:?}");
        let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        assert!(data.len() >= 5 + len, "a partial message");
        out.push((data[0], data[5..5 + len].to_vec()));
        data = &data[5 + len..];
    }
    out
}

/// Everything the endpoint sends now, split into the header blocks (stream,
/// fields, END_STREAM), the DATA octets of `stream`, and the RST_STREAMs.
pub struct Output {
    /// Header blocks: (stream, fields, END_STREAM).
    pub blocks: Vec<(u32, Fields, bool)>,
    /// DATA payload octets per frame: (stream, octets, END_STREAM).
    pub data: Vec<(u32, Vec<u8>, bool)>,
    /// RST_STREAM: (stream, code).
    pub resets: Vec<(u32, ErrorCode)>,
    /// Frame kinds in order, for sequence checks.
    pub order: Vec<String>,
}

/// Drains the endpoint's output.
pub fn output<T: Target>(c: &mut H2Conn<T>) -> Output {
    let mut o = Output { blocks: Vec::new(), data: Vec::new(), resets: Vec::new(), order: Vec::new() };
    for r in c.drain() {
        match r.frame {
            Frame::Headers(h) => {
                o.order.push(format!("HEADERS({})", h.stream_id));
                o.blocks.push((h.stream_id.0, r.fields.unwrap_or_default(), h.end_stream));
            }
            Frame::Data(d) => {
                o.order.push(format!("DATA({})", d.stream_id));
                o.data.push((d.stream_id.0, d.data.to_vec(), d.end_stream));
            }
            Frame::RstStream(x) => {
                o.order.push(format!("RST_STREAM({})", x.stream_id));
                o.resets.push((x.stream_id.0, x.error_code));
            }
            _ => {}
        }
    }
    o
}

/// The value of `name` in `fields`.
pub fn get<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}
