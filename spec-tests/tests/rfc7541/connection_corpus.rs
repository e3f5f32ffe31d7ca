//! RFC 7541 through the connection: the Appendix C examples and every block
//! of the hpack-test-case corpus sent as HEADERS frames to a server
//! `Connection` (requests) or a client `Connection` (responses), checking the
//! header lists the connection delivers. The core's own HPACK tests decode
//! the same data with a bare `Decoder`; here the blocks go through framing,
//! CONTINUATION splitting, SETTINGS_HEADER_TABLE_SIZE and §8 validation, and
//! a block the connection rejects as malformed must still update the dynamic
//! table (RFC 9113 §4.3) or every later block of the story would decode wrong.

use crate::hpack_support::{load_appendix_c, load_stories};
use weir_spec_tests::prelude::*;

/// A header list as raw `(name, value)` pairs.
type List = Vec<(Vec<u8>, Vec<u8>)>;

/// What the connection did with one block.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Delivered, with these pseudo-header values and regular fields.
    Delivered(Headers),
    /// Reset as malformed (§8.1.1).
    Malformed,
}

/// An oracle for RFC 9113 §8.1.1, §8.2 and §8.3, written from the RFC: is
/// `list` a malformed request (or response)?
fn malformed(list: &List, request: bool) -> bool {
    let is_pseudo = |n: &[u8]| n.first() == Some(&b':');
    let first_regular = list.iter().position(|(n, _)| !is_pseudo(n)).unwrap_or(list.len());
    // §8.3: pseudo-header fields come before every regular field line.
    if list[first_regular..].iter().any(|(n, _)| is_pseudo(n)) {
        return true;
    }
    let bad_name_octet = |b: &u8| *b <= 0x20 || (0x41..=0x5a).contains(b) || *b >= 0x7f || *b == b':';
    let ws = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    let mut content_length: Option<&[u8]> = None;
    for (n, v) in list {
        // §8.2.1 field validity.
        let name_ok = !n.is_empty() && (is_pseudo(n) || !n.iter().any(bad_name_octet));
        let value_ok = !v.iter().any(|b| [0, b'\r', b'\n'].contains(b)) && !ws(v.first()) && !ws(v.last());
        // §8.2.2 connection-specific fields; TE only with "trailers".
        let conn_specific =
            [&b"connection"[..], b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"]
                .contains(&n.as_slice())
                || (n == b"te" && v != b"trailers");
        // §8.1.1: content-length must be a number, and agree with itself.
        let bad_length = n == b"content-length"
            && (v.is_empty() || !v.iter().all(u8::is_ascii_digit) || content_length.is_some_and(|p| p != v));
        if n == b"content-length" {
            content_length = Some(v);
        }
        if !name_ok || !value_ok || conn_specific || bad_length {
            return true;
        }
    }
    let pseudo = &list[..first_regular];
    let count = |name: &[u8]| pseudo.iter().filter(|(n, _)| n == name).count();
    if request {
        // §8.3.1: exactly one :method, :scheme and :path (non-empty); no other.
        let known = [&b":method"[..], b":scheme", b":path", b":authority"];
        pseudo.iter().any(|(n, _)| !known.contains(&n.as_slice()))
            || known.iter().any(|k| count(k) > 1)
            || known[..3].iter().any(|k| count(k) != 1)
            || pseudo.iter().any(|(n, v)| n == b":path" && v.is_empty())
    } else {
        // §8.3.2: exactly one :status, a three-digit code; §8.6: not 101.
        let status = pseudo.iter().find(|(n, _)| n == b":status").map(|(_, v)| v.as_slice());
        pseudo.len() != 1
            || !status.is_some_and(|s| s.len() == 3 && s.iter().all(u8::is_ascii_digit) && s[0] != b'0')
            || status == Some(b"101")
    }
}

/// Checks a delivered section against the list it was encoded from.
#[track_caller]
fn assert_same(list: &List, h: &Headers, what: &str) {
    let text = |v: &Option<bytes::Bytes>| v.as_deref().map(<[u8]>::to_vec);
    for (n, v) in list.iter().filter(|(n, _)| n.first() == Some(&b':')) {
        let got = match n.as_slice() {
            b":method" => text(&h.pseudo.method),
            b":scheme" => text(&h.pseudo.scheme),
            b":authority" => text(&h.pseudo.authority),
            b":path" => text(&h.pseudo.path),
            b":status" => h.pseudo.status.map(|s| s.to_string().into_bytes()),
            other => panic!("{what}: unexpected pseudo-header {other:?}"),
        };
        assert_eq!(got.as_ref(), Some(v), "{what}: {}", String::from_utf8_lossy(n));
    }
    let regular: Vec<(&[u8], &[u8])> =
        list.iter().filter(|(n, _)| n.first() != Some(&b':')).map(|(n, v)| (&n[..], &v[..])).collect();
    let got: Vec<(&[u8], &[u8])> = h.fields.iter().map(|f| (&f.name[..], &f.value[..])).collect();
    assert!(got == regular, "{what}: regular fields differ");
}

/// Sends `block` on `stream` as HEADERS (+ CONTINUATION past 2^14 octets),
/// without END_STREAM.
fn send_block(c: &mut H2Conn<InMemoryConnection>, stream: u32, block: &[u8]) {
    let mut chunks = block.chunks(1 << 14);
    let first = chunks.next().unwrap_or_default();
    let more = block.len() > 1 << 14;
    c.write_headers(HeadersParam { stream, block: first.to_vec(), end_headers: !more, ..Default::default() });
    let rest: Vec<&[u8]> = chunks.collect();
    for (i, chunk) in rest.iter().enumerate() {
        c.write_continuation(stream, i + 1 == rest.len(), chunk);
    }
}

/// The one thing the connection reported about `stream`.
#[track_caller]
fn outcome(c: &mut H2Conn<InMemoryConnection>, stream: u32) -> Outcome {
    c.drain();
    let mut found = None;
    for e in c.target.take_events() {
        let this = match e {
            Event::Headers { stream: s, headers, .. } if s.0 == stream => {
                Outcome::Delivered(Headers::clone(&headers))
            }
            Event::Reset { stream: s, cause: Some(LocalResetCause::Malformed(_)), .. } if s.0 == stream => {
                Outcome::Malformed
            }
            Event::StreamClosed { .. } => continue,
            other => panic!("stream {stream}: unexpected {other:?}"),
        };
        assert!(found.is_none(), "stream {stream}: two outcomes");
        found = Some(this);
    }
    assert!(!c.target.is_closed(), "the connection closed on stream {stream}:\n{}", c.history());
    found.unwrap_or_else(|| panic!("stream {stream}: nothing reported"))
}

/// A server connection for `table_size` that accepts everything the corpus
/// throws at it except malformed messages.
fn server(table_size: u32) -> H2Conn<InMemoryConnection> {
    let config = Config {
        header_table_size: table_size,
        max_header_list_size: 1 << 24,
        max_concurrent_streams: 1 << 20,
        max_resets_per_window: u32::MAX,
        ..Config::default()
    };
    let mut c = H2Conn::new(InMemoryConnection::server(config));
    c.handshake();
    c.target.take_events();
    c
}

/// A client connection advertising `table_size`.
fn client(table_size: u32) -> H2Conn<InMemoryConnection> {
    let config = Config {
        header_table_size: table_size,
        max_header_list_size: 1 << 24,
        max_resets_per_window: u32::MAX,
        bdp_window_growth: false,
        ..Config::default()
    };
    H2Conn::client_with(config, &[])
}

/// Runs one story's blocks through one connection; returns (delivered, malformed).
fn run_story(name: &str, blocks: &[(Vec<u8>, List)], table_size: u32) -> (usize, usize) {
    let request = blocks[0].1.iter().any(|(n, _)| n == b":method");
    let mut c = if request { server(table_size) } else { client(table_size) };
    let (mut ok, mut bad) = (0, 0);
    for (i, (wire, list)) in blocks.iter().enumerate() {
        let stream = if request {
            2 * i as u32 + 1
        } else {
            c.open(Headers::request("GET", "http", "corpus", "/"), true)
        };
        send_block(&mut c, stream, wire);
        let what = format!("{name} block {i}");
        match (outcome(&mut c, stream), malformed(list, request)) {
            (Outcome::Delivered(h), false) => {
                assert_same(list, &h, &what);
                ok += 1;
            }
            (Outcome::Malformed, true) => bad += 1,
            (got, want_malformed) => panic!("{what}: got {got:?}, malformed per RFC 9113: {want_malformed}"),
        }
    }
    (ok, bad)
}

/// RFC 7541 Appendix C.3 and C.4: "a series of requests on the same
/// connection", decoded through a server connection, dynamic table and all.
#[test]
fn appendix_c_requests_through_a_server_connection() {
    let examples = load_appendix_c();
    let requests: Vec<_> =
        examples.iter().filter(|e| e.name.starts_with("C.3") || e.name.starts_with("C.4")).collect();
    assert_eq!(requests.len(), 2);
    for e in requests {
        let blocks: Vec<(Vec<u8>, List)> = e
            .blocks
            .iter()
            .map(|(w, h)| {
                (w.clone(), h.iter().map(|(n, v)| (n.clone().into_bytes(), v.clone().into_bytes())).collect())
            })
            .collect();
        assert_eq!(run_story(&e.name, &blocks, e.table_size as u32), (3, 0), "{}", e.name);
    }
}

/// RFC 7541 Appendix C.5 and C.6: "a series of responses on the same
/// connection" with "a maximum table size of 256 octets", decoded through a
/// client connection that advertised SETTINGS_HEADER_TABLE_SIZE 256 (so the
/// evictions of the examples happen at the same points).
#[test]
fn appendix_c_responses_through_a_client_connection() {
    let examples = load_appendix_c();
    let responses: Vec<_> =
        examples.iter().filter(|e| e.name.starts_with("C.5") || e.name.starts_with("C.6")).collect();
    assert_eq!(responses.len(), 2);
    for e in responses {
        assert_eq!(e.table_size, 256);
        let blocks: Vec<(Vec<u8>, List)> = e
            .blocks
            .iter()
            .map(|(w, h)| {
                (w.clone(), h.iter().map(|(n, v)| (n.clone().into_bytes(), v.clone().into_bytes())).collect())
            })
            .collect();
        assert_eq!(run_story(&e.name, &blocks, 256), (3, 0), "{}", e.name);
    }
}

/// Every block of the hpack-test-case corpus through a connection, one
/// connection per story (requests to a server, responses to a client), with
/// SETTINGS_HEADER_TABLE_SIZE at the largest size the story's encoder used.
/// Blocks that are valid HTTP/2 messages are delivered intact; the others
/// (mostly HTTP/1.1 `connection` fields) are reset as malformed, yet decoded.
#[test]
fn corpus_through_connections() {
    let stories = load_stories();
    let (mut ok, mut bad) = (0, 0);
    for story in &stories {
        let table = story.cases.iter().filter_map(|c| c.header_table_size).max().unwrap_or(4096).max(4096);
        let blocks: Vec<(Vec<u8>, List)> =
            story.cases.iter().map(|c| (c.wire.clone(), c.headers.clone())).collect();
        let (o, b) = run_story(&story.path, &blocks, table as u32);
        ok += o;
        bad += b;
    }
    println!("corpus through connections: {ok} delivered, {bad} reset as malformed");
    assert_eq!(ok + bad, 47_142, "every block of the corpus");
    // What the oracle above decides for this corpus (checked block by block).
    assert_eq!((ok, bad), (6_244, 40_898));
}

weir_spec_tests::cases! {
    server: [],
    client: [
        appendix_c_requests_through_a_server_connection,
        appendix_c_responses_through_a_client_connection,
        corpus_through_connections,
    ],
}
