//! gRPC-Web (grpc/doc/PROTOCOL-WEB.md) on HTTP/2 streams, with
//! `ServerConfig::grpc_web` on: hand-built frames into one server core,
//! its frames out. Request bodies in text mode are base64 split across DATA
//! frames anywhere; responses carry the request's variant, gRPC-Web message
//! frames and the trailers frame (flag 0x80) as the last DATA with
//! END_STREAM, never HTTP/2 trailers. With the setting off, gRPC-Web
//! requests and preflights get 415 as before.

mod grpc_raw;

use bytes::Bytes;
use grpc_raw::*;
use weir_core::frame::Frame;
use weir_core::grpc::web::{TextDecoder, WebEncoding};
use weir_core::grpc::{Code, Metadata, RecvMessage, ServerConfig, ServerEvent, Status};
use weir_core::hpack::HeaderField;

fn web_server() -> Raw<weir_core::grpc::Server> {
    server_with(ServerConfig { grpc_web: true, ..ServerConfig::default() })
}

/// A gRPC-Web request's headers (as connect-web and grpc-web send them: no
/// `te`), with this content type and extra fields.
fn web_request<'a>(content_type: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/pkg.Svc/Do"),
        (":authority", "x"),
        ("content-type", content_type),
        ("x-grpc-web", "1"),
    ];
    h.extend_from_slice(extra);
    h
}

fn events(r: &mut Raw<weir_core::grpc::Server>) -> Vec<ServerEvent> {
    std::iter::from_fn(|| r.core.poll_event()).collect()
}

/// The started call and its `CallStart::web`.
fn started(ev: &[ServerEvent]) -> (weir_core::grpc::CallId, Option<WebEncoding>) {
    ev.iter()
        .find_map(|e| match e {
            ServerEvent::Call { call, start } => Some((*call, start.web)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no call in {ev:?}"))
}

/// Every message of a call, until its end.
fn messages(r: &mut Raw<weir_core::grpc::Server>, call: weir_core::grpc::CallId) -> Vec<Bytes> {
    let mut out = Vec::new();
    loop {
        match r.core.recv_message(call) {
            Ok(RecvMessage::Message(m)) => out.push(m),
            Ok(RecvMessage::End) => return out,
            Ok(RecvMessage::Pending) => panic!("pending after the whole body"),
            Err(status) => panic!("{status:?}"),
        }
    }
}

/// The response on stream 1: header blocks (fields, END_STREAM), the DATA
/// payload joined, and whether the last DATA had END_STREAM.
fn response(r: &mut Raw<weir_core::grpc::Server>) -> (Vec<(Fields, bool)>, Vec<u8>, bool) {
    let (frames, blocks) = r.take();
    let blocks = blocks.into_iter().filter(|(id, ..)| *id == 1).map(|(_, f, e)| (f, e)).collect();
    let mut body = Vec::new();
    let mut end = false;
    for f in frames {
        if let Frame::Data(d) = f
            && d.stream_id.0 == 1
        {
            body.extend_from_slice(&d.data);
            end = d.end_stream;
        }
    }
    (blocks, body, end)
}

/// One trailers frame: flag 0x80, length, `name: value\r\n` lines.
fn trailers_frame(block: &str) -> Vec<u8> {
    let mut f = vec![0x80];
    f.extend_from_slice(&(block.len() as u32).to_be_bytes());
    f.extend_from_slice(block.as_bytes());
    f
}

/// Standard base64 with padding (written here, independently of Weir's).
fn b64(data: &[u8]) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
    out
}

fn unbase64(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut d = TextDecoder::new();
    d.push(text, &mut out).unwrap();
    d.finish(&mut out).unwrap();
    out
}

/// PROTOCOL-WEB: text-mode bodies are base64, and "the client library
/// should not assume base64 padding always happens at the boundary of
/// message frames". Two messages, each padded on its own (padding mid-body),
/// split into three DATA frames at every pair of offsets: the same two
/// messages every time.
#[test]
fn text_request_split_at_every_offset() {
    let (a, b) = (b"first!".to_vec(), b"second message".to_vec());
    let mut text = b64(&framed(&a)).to_vec();
    text.extend_from_slice(&b64(&framed(&b)));
    assert!(text[..text.len() - 4].contains(&b'='), "padding inside the body");
    for i in 0..=text.len() {
        for j in i..=text.len() {
            let mut r = web_server();
            r.headers(1, &web_request("application/grpc-web-text", &[]), false);
            r.data(1, &text[..i], false);
            r.data(1, &text[i..j], false);
            r.data(1, &text[j..], true);
            let (call, web) = started(&events(&mut r));
            assert_eq!(web, Some(WebEncoding::Text));
            assert_eq!(
                messages(&mut r, call),
                vec![Bytes::from(a.clone()), Bytes::from(b.clone())],
                "{i} {j}"
            );
        }
    }
}

/// PROTOCOL-WEB: the response's content type is the request's variant,
/// messages are length-prefixed frames, and the trailers go in the body as
/// the last frame ("8th (MSB) bit of the 1st gRPC frame byte ... 1:
/// trailers"), lower-case `name: value` lines, then END_STREAM: no HTTP/2
/// trailers.
#[test]
fn binary_response_ends_with_the_trailers_frame() {
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web", &[]), false);
    r.data(1, &framed(b"ping"), true);
    let (call, web) = started(&events(&mut r));
    assert_eq!(web, Some(WebEncoding::Binary));
    assert_eq!(messages(&mut r, call), vec![Bytes::from_static(b"ping")]);
    let mut md = Metadata::new();
    md.append("x-echo", "ok").unwrap();
    r.core.send_headers(call, &md).unwrap();
    r.core.send_message(call, Bytes::from_static(b"pong")).unwrap();
    let mut trailers = Metadata::new();
    trailers.append("x-trailer", "t").unwrap();
    r.core.finish(call, &Status::ok(), &trailers).unwrap();
    let (blocks, body, end) = response(&mut r);
    assert_eq!(blocks.len(), 1, "headers only, no trailers block: {blocks:?}");
    let (fields, ended) = &blocks[0];
    assert!(!ended);
    assert_eq!(get(fields, ":status"), Some("200"));
    assert_eq!(get(fields, "content-type"), Some("application/grpc-web+proto"));
    assert_eq!(get(fields, "x-echo"), Some("ok"));
    let mut want = framed(b"pong");
    want.extend(trailers_frame("grpc-status: 0\r\nx-trailer: t\r\n"));
    assert_eq!(body, want);
    assert!(end, "END_STREAM on the trailers frame's DATA");
}

/// PROTOCOL-WEB text mode: the response is base64, each message flushed
/// (padded) on its own, the trailers frame too; an error status carries
/// its message in the trailers frame.
#[test]
fn text_response_is_base64_per_frame() {
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web-text+proto", &[]), false);
    r.data(1, &b64(&framed(b"q")), true);
    let (call, _) = started(&events(&mut r));
    assert_eq!(messages(&mut r, call), vec![Bytes::from_static(b"q")]);
    r.core.send_message(call, Bytes::from_static(b"a")).unwrap();
    r.core.send_message(call, Bytes::from_static(b"bc")).unwrap();
    r.core.finish(call, &Status::new(Code::NotFound, "gone"), &Metadata::new()).unwrap();
    let (blocks, body, end) = response(&mut r);
    assert_eq!(blocks.len(), 1);
    assert_eq!(get(&blocks[0].0, "content-type"), Some("application/grpc-web-text+proto"));
    let mut want = b64(&framed(b"a")).to_vec();
    want.extend_from_slice(&b64(&framed(b"bc")));
    want.extend_from_slice(&b64(&trailers_frame("grpc-status: 5\r\ngrpc-message: gone\r\n")));
    assert_eq!(String::from_utf8_lossy(&body), String::from_utf8_lossy(&want));
    assert!(end);
    // Batches of framed messages go as one padded run.
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web-text", &[]), true);
    let (call, _) = started(&events(&mut r));
    let mut batch = framed(b"one");
    batch.extend(framed(b"two"));
    r.core.send_framed(call, Bytes::from(batch.clone())).unwrap();
    let (_, body, end) = response(&mut r);
    assert!(!end);
    assert_eq!(unbase64(&body), batch);
}

/// A call answered before any response headers (an unknown method, in the
/// runtime): headers, then the trailers frame with the status, with the
/// fields the owner added (CORS) in the headers.
#[test]
fn status_without_messages_is_headers_then_trailers_frame() {
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web+proto", &[("origin", "https://app.example")]), true);
    let ev = events(&mut r);
    let (call, _) = started(&ev);
    let origin = ev.iter().find_map(|e| match e {
        ServerEvent::Call { start, .. } => start.metadata.get("origin").cloned(),
        _ => None,
    });
    assert_eq!(origin.as_deref(), Some(&b"https://app.example"[..]), "the origin reaches the owner");
    let cors = vec![HeaderField::new(
        Bytes::from_static(b"access-control-allow-origin"),
        Bytes::from_static(b"https://app.example"),
    )];
    r.core.add_response_headers(call, cors).unwrap();
    r.core.finish(call, &Status::new(Code::Unimplemented, "no such method"), &Metadata::new()).unwrap();
    let (blocks, body, end) = response(&mut r);
    assert_eq!(blocks.len(), 1);
    assert!(!blocks[0].1);
    assert_eq!(get(&blocks[0].0, "content-type"), Some("application/grpc-web+proto"));
    assert_eq!(get(&blocks[0].0, "access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(get(&blocks[0].0, "grpc-status"), None, "the status is in the body");
    assert_eq!(body, trailers_frame("grpc-status: 12\r\ngrpc-message: no such method\r\n"));
    assert!(end);
}

/// A request refused before a call starts (malformed `grpc-timeout`):
/// trailers-only with the gRPC-Web content type, which connect-web and
/// grpc-web read as the call's status.
#[test]
fn refusals_before_the_call_are_trailers_only() {
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web-text", &[("grpc-timeout", "soon")]), true);
    assert!(events(&mut r).is_empty());
    let (blocks, body, _) = response(&mut r);
    let (fields, end) = &blocks[0];
    assert!(*end, "trailers-only");
    assert_eq!(get(fields, "content-type"), Some("application/grpc-web-text+proto"));
    assert_eq!(get(fields, "grpc-status"), Some("13"));
    assert!(body.is_empty());
}

/// The limits are gRPC's: a message over `max_recv_message_size` is refused
/// from its prefix (RESOURCE_EXHAUSTED), and a text body that is not base64
/// fails the call with INTERNAL, both in the trailers frame.
#[test]
fn limits_and_malformed_bodies_answer_in_the_trailers_frame() {
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web", &[]), false);
    r.data(1, &[0, 0x7f, 0, 0, 0], false);
    let _ = events(&mut r);
    let (_, body, end) = response(&mut r);
    assert!(body.starts_with(&trailers_frame("grpc-status: 8\r\n")[..1]));
    assert!(String::from_utf8_lossy(&body).contains("grpc-status: 8\r\n"), "{body:?}");
    assert!(end);
    let mut r = web_server();
    r.headers(1, &web_request("application/grpc-web-text", &[]), false);
    r.data(1, b"AAAA!!!=", true);
    let ev = events(&mut r);
    let reason = ev.iter().find_map(|e| match e {
        ServerEvent::Cancelled { reason, .. } => Some(reason.code),
        _ => None,
    });
    assert_eq!(reason, Some(Code::Internal), "{ev:?}");
    let (_, body, end) = response(&mut r);
    let text = String::from_utf8_lossy(&unbase64(&body)).into_owned();
    assert!(text.contains("grpc-status: 13\r\n") && text.contains("InvalidBase64"), "{text:?}");
    assert!(end);
}

/// A CORS preflight (`OPTIONS`) is no call: the owner gets its headers and
/// answers; the answer ends the stream.
#[test]
fn preflights_are_reported_and_answered() {
    let mut r = web_server();
    let options = [
        (":method", "OPTIONS"),
        (":scheme", "https"),
        (":path", "/pkg.Svc/Do"),
        (":authority", "x"),
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
    ];
    r.headers(1, &options, true);
    let ev = events(&mut r);
    let [ServerEvent::Preflight { call, headers }] = &ev[..] else { panic!("{ev:?}") };
    assert_eq!(headers.get(b"origin").map(|v| &v[..]), Some(&b"https://app.example"[..]));
    let fields = vec![HeaderField::new(
        Bytes::from_static(b"access-control-allow-methods"),
        Bytes::from_static(b"POST"),
    )];
    r.core.respond(*call, 204, fields).unwrap();
    let (blocks, body, _) = response(&mut r);
    assert_eq!(blocks.len(), 1);
    assert!(blocks[0].1, "END_STREAM on the headers");
    assert_eq!(get(&blocks[0].0, ":status"), Some("204"));
    assert_eq!(get(&blocks[0].0, "access-control-allow-methods"), Some("POST"));
    assert!(body.is_empty());
}

/// With the setting off (the default), nothing changes: gRPC-Web content
/// types and preflights get 415, as PROTOCOL-HTTP2 asks for any content type
/// that is not application/grpc.
#[test]
fn off_by_default_answers_415() {
    for ct in ["application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text"] {
        let mut r = server();
        r.headers(1, &web_request(ct, &[]), true);
        assert!(events(&mut r).is_empty());
        let (blocks, ..) = response(&mut r);
        assert_eq!(get(&blocks[0].0, ":status"), Some("415"), "{ct}");
    }
    let mut r = server();
    r.headers(
        1,
        &[(":method", "OPTIONS"), (":scheme", "http"), (":path", "/pkg.Svc/Do"), (":authority", "x")],
        true,
    );
    assert!(events(&mut r).is_empty());
    let (blocks, ..) = response(&mut r);
    assert_eq!(get(&blocks[0].0, ":status"), Some("415"));
    // gRPC requests are served the same with the setting on.
    let mut r = web_server();
    r.headers(1, GRPC_REQUEST, false);
    r.data(1, &framed(b"x"), true);
    let (call, web) = started(&events(&mut r));
    assert_eq!(web, None);
    assert_eq!(messages(&mut r, call), vec![Bytes::from_static(b"x")]);
    r.core.send_message(call, Bytes::from_static(b"y")).unwrap();
    r.core.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    let (blocks, ..) = response(&mut r);
    assert_eq!(get(&blocks[0].0, "content-type"), Some("application/grpc"));
    assert_eq!(blocks.len(), 2, "HTTP/2 trailers for gRPC");
}

/// The trailers frame is not lost when the stream's send buffer is full
/// (the client's windows hold the messages back): it waits for room and
/// goes out last, with END_STREAM, once the client opens its windows —
/// as HTTP/2 trailers, which are never refused for room, would.
#[test]
fn the_trailers_frame_waits_for_a_full_send_buffer() {
    use weir_core::frame::{StreamId, WindowUpdate};
    let mut config = ServerConfig { grpc_web: true, ..ServerConfig::default() };
    config.h2.max_send_buffer_per_stream = 64 << 10;
    let mut r = server_with(config);
    r.headers(1, &web_request("application/grpc-web", &[]), true);
    let (call, _) = started(&events(&mut r));
    // More than the client's 65,535-octet window and the stream's buffer.
    let msg = Bytes::from(vec![9u8; 100 << 10]);
    r.core.send_message(call, msg.clone()).unwrap();
    r.core.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    let (_, mut body, mut end) = response(&mut r);
    assert!(!end, "held back by the window");
    for _ in 0..8 {
        if end {
            break;
        }
        for id in [0, 1] {
            r.send(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId(id), increment: 64 << 10 }));
        }
        let _ = events(&mut r);
        let (_, more, e) = response(&mut r);
        body.extend(more);
        end = e;
    }
    assert!(end, "END_STREAM after the window opened");
    let mut want = framed(&msg);
    want.extend(trailers_frame("grpc-status: 0\r\n"));
    assert_eq!(body.len(), want.len());
    assert!(body == want, "the messages, then the trailers frame");
}
