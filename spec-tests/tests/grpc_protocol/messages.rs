//! PROTOCOL-HTTP2 "Length-Prefixed-Message" and "Data Frames".

use super::common::*;
use weir_core::grpc::{CallRequest, ClientEvent, Code, RecvMessage};
use weir_spec_tests::prelude::*;

fn recv(c: &mut H2Conn<InMemoryServer>) -> RecvMessage {
    c.target.server.recv_message(call(1)).expect("no stream error")
}

fn message(m: &'static [u8]) -> RecvMessage {
    RecvMessage::Message(bytes::Bytes::from_static(m))
}

/// "DATA frame boundaries have no relation to Length-Prefixed-Message
/// boundaries and implementations should make no assumptions about their
/// alignment." One message in 1-octet DATA frames.
#[test]
fn a_message_split_over_many_data_frames() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    let framed = lpm(false, b"hello, split world");
    for (i, octet) in framed.iter().enumerate() {
        c.write_data(1, i + 1 == framed.len(), &[*octet]);
    }
    assert_eq!(recv(&mut c), message(b"hello, split world"));
    assert_eq!(recv(&mut c), RecvMessage::End);
}

/// "DATA frame boundaries have no relation to Length-Prefixed-Message
/// boundaries": several messages in one DATA frame, the last one's prefix
/// cut across the next frame.
#[test]
fn several_messages_in_one_data_frame() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    let mut octets = [lpm(false, b"one"), lpm(false, b""), lpm(false, b"three")].concat();
    let tail = octets.split_off(octets.len() - 6);
    c.write_data(1, false, &octets);
    c.write_data(1, true, &tail);
    assert_eq!(recv(&mut c), message(b"one"));
    assert_eq!(recv(&mut c), message(b""));
    assert_eq!(recv(&mut c), message(b"three"));
    assert_eq!(recv(&mut c), RecvMessage::End);
}

/// "Length-Prefixed-Message → Compressed-Flag Message-Length Message",
/// "Compressed-Flag → 0 / 1 # encoded as 1 byte unsigned integer",
/// "Message-Length → {length of Message} # encoded as 4 byte unsigned integer
/// (big endian)". What the server writes, for a small and a large message.
#[test]
fn server_frames_messages_with_the_length_prefix() {
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    let big = vec![0x5a; 70_000];
    c.target.server.send_message(call(1), bytes::Bytes::from_static(b"abc")).unwrap();
    c.target.server.send_message(call(1), bytes::Bytes::from(big.clone())).unwrap();
    c.write_window_update(0, 1 << 20);
    c.write_window_update(1, 1 << 20);
    let o = output(&mut c);
    let octets: Vec<u8> = o.data.iter().filter(|(s, _, _)| *s == 1).flat_map(|(_, d, _)| d.clone()).collect();
    assert_eq!(parse_messages(&octets), vec![(0, b"abc".to_vec()), (0, big)]);
    assert_eq!(&octets[..8], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
}

/// "If the Message-Encoding header is omitted then the Compressed-Flag must
/// be 0." Client role: a response message flagged compressed without
/// grpc-encoding fails the call (INTERNAL) instead of being misread.
#[test]
fn client_rejects_compressed_flag_without_message_encoding() {
    let mut c = client();
    let now = c.target.now;
    let id = c.target.client.start_call(now, CallRequest::new(PATH, "x")).unwrap().0.0;
    output(&mut c);
    c.write_request(id, &[(":status", "200"), ("content-type", "application/grpc")], false);
    c.write_data(id, false, &lpm(true, b"not really compressed"));
    let _ = c.target.client.recv_message(weir_core::grpc::CallId(StreamId(id)));
    let finished = c.target.take_events().into_iter().find_map(|e| match e {
        ClientEvent::Finished { status, .. } => Some(status.code),
        _ => None,
    });
    assert_eq!(finished, Some(Code::Internal));
}

/// "A Compressed-Flag value of 1 indicates that the binary octet sequence of
/// Message is compressed using the mechanism declared by the
/// Message-Encoding header." A gzip request message is delivered inflated.
#[test]
fn compressed_message_uses_the_message_encoding() {
    let gzip = weir_core::grpc::Compressors::builtin().get(b"gzip").cloned().expect("gzip built in");
    let mut deflated = Vec::new();
    gzip.compress(b"squeeze me, squeeze me, squeeze me", &mut deflated).unwrap();
    let mut c = server();
    start_call(&mut c, 1, &[("grpc-encoding", "gzip")], false).expect("a call");
    c.write_data(1, true, &lpm(true, &deflated));
    assert_eq!(recv(&mut c), message(b"squeeze me, squeeze me, squeeze me"));
}

/// "Compression contexts are NOT maintained over message boundaries,
/// implementations must create a new context for each message in the
/// stream": two messages compressed independently both decode.
#[test]
fn each_compressed_message_is_independent() {
    let gzip = weir_core::grpc::Compressors::builtin().get(b"gzip").cloned().expect("gzip built in");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    gzip.compress(b"first", &mut a).unwrap();
    gzip.compress(b"second", &mut b).unwrap();
    let mut c = server();
    start_call(&mut c, 1, &[("grpc-encoding", "gzip")], false).expect("a call");
    c.write_data(1, true, &[lpm(true, &a), lpm(false, b"plain"), lpm(true, &b)].concat());
    assert_eq!(recv(&mut c), message(b"first"));
    assert_eq!(recv(&mut c), message(b"plain"));
    assert_eq!(recv(&mut c), message(b"second"));
}

weir_spec_tests::cases! {
    server: [],
    client: [
        a_message_split_over_many_data_frames,
        several_messages_in_one_data_frame,
        server_frames_messages_with_the_length_prefix,
        client_rejects_compressed_flag_without_message_encoding,
        compressed_message_uses_the_message_encoding,
        each_compressed_message_is_independent,
    ],
}
