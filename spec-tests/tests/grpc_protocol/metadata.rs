//! PROTOCOL-HTTP2 "Custom-Metadata": ASCII and binary headers, reserved names.

use super::common::*;
use weir_core::grpc::metadata::MetadataError;
use weir_core::grpc::{Code, Metadata, Status};

/// "Custom-Metadata is an arbitrary set of key-value pairs defined by the
/// application layer." ASCII headers reach the call in order.
#[test]
fn ascii_metadata_reaches_the_call() {
    let mut c = server();
    let start = start_call(&mut c, 1, &[("x-user", "alice"), ("x-user", "bob"), ("x.trace_id", "7")], false)
        .expect("a call");
    let users: Vec<&[u8]> = start.metadata.get_all("x-user").map(|v| &v[..]).collect();
    assert_eq!(users, [&b"alice"[..], b"bob"]);
    assert_eq!(start.metadata.get_str("x.trace_id"), Some("7"));
}

/// "Header names starting with "grpc-" but not listed here are reserved for
/// future GRPC use and should not be used by applications as
/// Custom-Metadata"; the Call-Definition headers are not metadata either.
#[test]
fn reserved_headers_are_not_metadata() {
    let mut c = server();
    let start = start_call(
        &mut c,
        1,
        &[
            ("grpc-timeout", "10S"),
            ("grpc-encoding", "identity"),
            ("grpc-accept-encoding", "gzip"),
            ("grpc-message-type", "pkg.Req"),
            ("x-custom", "kept"),
        ],
        false,
    )
    .expect("a call");
    let keys: Vec<String> =
        start.metadata.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect();
    assert_eq!(keys, ["x-custom"], "only custom metadata");
    // The application cannot send reserved names as metadata either.
    let mut md = Metadata::new();
    for reserved in ["grpc-status", "grpc-message", "grpc-timeout", "content-type", "te"] {
        assert_eq!(md.append(reserved, "x"), Err(MetadataError::Reserved), "{reserved}");
    }
}

/// "Implementations MUST accept padded and un-padded values and should emit
/// un-padded values." Both forms decode to the same octets.
#[test]
fn binary_metadata_padded_and_unpadded() {
    for value in ["AAH/", "AAE=", "AAE", "AA==", "AA"] {
        let mut c = server();
        let start = start_call(&mut c, 1, &[("x-bin", value)], false).expect("a call");
        let want: &[u8] = match value {
            "AAH/" => &[0, 1, 255],
            "AAE=" | "AAE" => &[0, 1],
            _ => &[0],
        };
        assert_eq!(start.metadata.get("x-bin").map(|v| &v[..]), Some(want), "{value}");
    }
}

/// "Duplicate header names may have their values joined with "," as the
/// delimiter and be considered semantically equivalent. Implementations must
/// split Binary-Headers on "," before decoding the Base64-encoded values."
#[test]
fn joined_binary_values_are_split_before_decoding() {
    let mut c = server();
    let start =
        start_call(&mut c, 1, &[("trace-bin", "AAE=,AgM"), ("trace-bin", "BA")], false).expect("a call");
    let values: Vec<&[u8]> = start.metadata.get_all("trace-bin").map(|v| &v[..]).collect();
    assert_eq!(values, [&[0u8, 1][..], &[2, 3], &[4]]);
}

/// "Implementations ... should emit un-padded values": binary trailing
/// metadata from the server goes out without '='.
#[test]
fn binary_metadata_is_sent_unpadded() {
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    let mut md = Metadata::new();
    md.append_bin("blob-bin", vec![0u8, 1]).unwrap();
    c.target.server.finish(call(1), &Status::new(Code::Ok, ""), &md).unwrap();
    let o = output(&mut c);
    let trailers = &o.blocks.last().expect("trailers").1;
    assert_eq!(get(trailers, "blob-bin"), Some("AAE"));
}

/// "Implementations must not error due to receiving an invalid ASCII-Value
/// that's a valid field-value in HTTP, but the precise behavior is not
/// strictly defined: they may throw the value away or accept the value." A
/// value with octets above 0x7E still starts the call.
#[test]
fn invalid_ascii_value_does_not_fail_the_call() {
    let mut c = server();
    let mut f = request_fields(&[]);
    f.push(("x-name".into(), "caf\u{e9}".into()));
    c.write_request(1, &f, false);
    assert!(c.target.events.iter().any(|e| matches!(e, weir_core::grpc::ServerEvent::Call { .. })));
    let o = output(&mut c);
    assert!(o.blocks.is_empty() && o.resets.is_empty(), "no error answered");
}

/// "Response-Headers → HTTP-Status [Message-Encoding]
/// [Message-Accept-Encoding] Content-Type *Custom-Metadata": the client hands
/// the custom metadata of the response headers to the application.
#[test]
fn client_receives_response_metadata() {
    let mut c = client();
    let now = c.target.now;
    let id = c.target.client.start_call(now, weir_core::grpc::CallRequest::new(PATH, "x")).unwrap();
    output(&mut c);
    c.write_request(
        id.0.0,
        &[(":status", "200"), ("content-type", "application/grpc"), ("x-server", "s1"), ("id-bin", "AQI")],
        false,
    );
    let md = c
        .target
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            weir_core::grpc::ClientEvent::Headers { metadata, .. } => Some(metadata),
            _ => None,
        })
        .expect("response headers");
    assert_eq!(md.get_str("x-server"), Some("s1"));
    assert_eq!(md.get("id-bin").map(|v| &v[..]), Some(&[1u8, 2][..]));
    assert!(md.get("content-type").is_none());
}

/// "HTTP2 requires that reserved headers, ones starting with ":" appear
/// before all other headers. Additionally implementations should send
/// Timeout immediately after the reserved headers and they should send the
/// Call-Definition headers before sending Custom-Metadata."
#[test]
fn client_orders_timeout_call_definition_then_metadata() {
    let mut c = client();
    let mut req = weir_core::grpc::CallRequest::new(PATH, "x");
    req.timeout = Some(std::time::Duration::from_secs(1));
    req.metadata.append("x-app", "1").unwrap();
    let now = c.target.now;
    c.target.client.start_call(now, req).unwrap();
    let o = output(&mut c);
    let names: Vec<&str> = o.blocks[0].1.iter().map(|(n, _)| n.as_str()).collect();
    let first_regular = names.iter().position(|n| !n.starts_with(':')).unwrap();
    assert!(names[first_regular..].iter().all(|n| !n.starts_with(':')), "{names:?}");
    assert_eq!(names[first_regular], "grpc-timeout", "{names:?}");
    let app = names.iter().position(|n| *n == "x-app").unwrap();
    for def in ["content-type", "te", "user-agent"] {
        assert!(names.iter().position(|n| *n == def).unwrap() < app, "{def} before metadata: {names:?}");
    }
}

weir_spec_tests::cases! {
    server: [],
    client: [
        ascii_metadata_reaches_the_call,
        reserved_headers_are_not_metadata,
        binary_metadata_padded_and_unpadded,
        joined_binary_values_are_split_before_decoding,
        binary_metadata_is_sent_unpadded,
        invalid_ascii_value_does_not_fail_the_call,
        client_receives_response_metadata,
        client_orders_timeout_call_definition_then_metadata,
    ],
}
