//! encode_header_block: splitting a field block into HEADERS/PUSH_PROMISE and
//! CONTINUATION frames.

use super::*;

const HEADERS_END_STREAM: HeaderBlockKind = HeaderBlockKind::Headers { end_stream: true, priority: None };

fn block_frames(kind: HeaderBlockKind, block: &[u8], max: u32) -> Vec<u8> {
    let mut out = Vec::new();
    encode_header_block(kind, StreamId(1), block, max, &mut out);
    assert_eq!(out.capacity(), out.len(), "encode_header_block must reserve exactly once");
    out
}

#[test]
fn header_block_fits_one_frame() {
    let out = block_frames(HEADERS_END_STREAM, b"\x82\x86\x84", DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(out, raw(0x1, 0x5, 1, b"\x82\x86\x84"));
}

#[test]
fn header_block_empty_is_one_frame() {
    let kind = HeaderBlockKind::Headers { end_stream: false, priority: None };
    assert_eq!(block_frames(kind, b"", DEFAULT_MAX_FRAME_SIZE), raw(0x1, 0x4, 1, b""));
}

#[test]
fn header_block_split_into_continuations() {
    let out = block_frames(HEADERS_END_STREAM, b"0123456789", 4);
    // END_STREAM on the first frame only, END_HEADERS on the last only.
    let mut expected = raw(0x1, 0x1, 1, b"0123");
    expected.extend(raw(0x9, 0, 1, b"4567"));
    expected.extend(raw(0x9, 0x4, 1, b"89"));
    assert_eq!(out, expected);
}

#[test]
fn header_block_exact_multiple_has_no_empty_continuation() {
    let out = block_frames(HEADERS_END_STREAM, b"01234567", 4);
    let mut expected = raw(0x1, 0x1, 1, b"0123");
    expected.extend(raw(0x9, 0x4, 1, b"4567"));
    assert_eq!(out, expected);
}

#[test]
fn header_block_priority_counts_against_first_frame() {
    let priority = Priority { exclusive: true, dependency: StreamId(3), weight: 42 };
    let kind = HeaderBlockKind::Headers { end_stream: false, priority: Some(priority) };
    let out = block_frames(kind, b"abcdefghij", 8);
    // 5 priority octets + 3 octets of block, then the other 7 in one CONTINUATION.
    let mut expected = raw(0x1, 0x20, 1, &[0x80, 0, 0, 3, 42, b'a', b'b', b'c']);
    expected.extend(raw(0x9, 0x4, 1, b"defghij"));
    assert_eq!(out, expected);
}

#[test]
fn header_block_push_promise_split() {
    let kind = HeaderBlockKind::PushPromise { promised_id: StreamId(2) };
    let out = block_frames(kind, b"abcdef", 6);
    let mut expected = raw(0x5, 0, 1, &[0, 0, 0, 2, b'a', b'b']);
    expected.extend(raw(0x9, 0x4, 1, b"cdef"));
    assert_eq!(out, expected);
}

#[test]
fn header_block_tiny_max_is_raised() {
    let priority = Priority { exclusive: false, dependency: StreamId(3), weight: 0 };
    let kind = HeaderBlockKind::Headers { end_stream: false, priority: Some(priority) };
    // A limit of 0 is raised to 5 fixed octets + 1 octet of block.
    let out = block_frames(kind, b"abcdefgh", 0);
    let mut expected = raw(0x1, 0x20, 1, &[0, 0, 0, 3, 0, b'a']);
    expected.extend(raw(0x9, 0, 1, b"bcdefg"));
    expected.extend(raw(0x9, 0x4, 1, b"h"));
    assert_eq!(out, expected);
}

#[test]
fn header_block_appends_to_dst() {
    let mut out = b"prefix".to_vec();
    encode_header_block(HEADERS_END_STREAM, StreamId(1), b"x", DEFAULT_MAX_FRAME_SIZE, &mut out);
    let mut expected = b"prefix".to_vec();
    expected.extend(raw(0x1, 0x5, 1, b"x"));
    assert_eq!(out, expected);
}
