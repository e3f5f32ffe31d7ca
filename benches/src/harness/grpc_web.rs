//! One gRPC-Web call over HTTP/1.1 by hand, checked down to the trailers
//! frame: h2load only sees the HTTP status, and a gRPC-Web failure is a 200
//! with `grpc-status` other than 0 in the body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Calls `helloworld.Greeter/SayHello` with `body` (a binary gRPC-Web
/// request) on `addr` over HTTP/1.1 and checks the answer: status 200, a
/// message frame holding `HelloReply { message: "Hello world" }`, then a
/// trailers frame with `grpc-status: 0`.
pub fn check_say_hello(addr: &str, body: &[u8]) -> Result<(), String> {
    let mut conn = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let head = format!(
        "POST /helloworld.Greeter/SayHello HTTP/1.1\r\nhost: {addr}\r\n\
         content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(body)).map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).map_err(|e| format!("{addr}: reading the response: {e}"))?;
    check_response(&response)
}

/// Checks one whole HTTP/1.1 response to `SayHello { name: "world" }`.
pub fn check_response(response: &[u8]) -> Result<(), String> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of head")?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let rest = &response[split + 4..];
    let status = head.lines().next().unwrap_or("");
    if !status.starts_with("http/1.1 200") {
        return Err(format!("status line {status:?}"));
    }
    if !head.lines().any(|l| l.starts_with("content-type: application/grpc-web")) {
        return Err(format!("no gRPC-Web content type in {head:?}"));
    }
    let body = if head.lines().any(|l| l.replace(' ', "") == "transfer-encoding:chunked") {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    let frames = frames(&body)?;
    let message = frames.iter().find(|(flag, _)| flag & 0x80 == 0).ok_or("no message frame")?;
    // HelloReply field 1 (message), 11 bytes: "Hello world".
    if message.1 != b"\x0a\x0bHello world" {
        return Err(format!("unexpected message {:?}", message.1));
    }
    let trailers = frames.iter().find(|(flag, _)| flag & 0x80 != 0).ok_or("no trailers frame")?;
    let trailers = String::from_utf8_lossy(&trailers.1).to_ascii_lowercase();
    let grpc_status = trailers
        .split("\r\n")
        .find_map(|l| l.strip_prefix("grpc-status:"))
        .map(str::trim)
        .ok_or_else(|| format!("no grpc-status in trailers {trailers:?}"))?;
    if grpc_status != "0" {
        return Err(format!("grpc-status {grpc_status} ({trailers:?})"));
    }
    Ok(())
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size {size:?}: {e}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// gRPC-Web frames: (flags, payload).
fn frames(mut body: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        if body.len() < 5 {
            return Err("truncated frame prefix".into());
        }
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = body.get(5..5 + len).ok_or("truncated frame")?;
        out.push((body[0], payload.to_vec()));
        body = &body[5 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Weir's and tonic-web's answers as `curl --raw` showed them.
    const WEIR: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\nvary: origin\r\n\
transfer-encoding: chunked\r\n\r\n12\r\n\x00\x00\x00\x00\x0d\x0a\x0bHello world\r\n\
15\r\n\x80\x00\x00\x00\x10grpc-status: 0\r\n\r\n0\r\n\r\n";
    const TONIC: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\n\
transfer-encoding: chunked\r\ndate: Fri, 04 Dec 2026 19:37:19 GMT\r\n\r\n12\r\n\x00\x00\x00\x00\x0d\x0a\x0bHello world\r\n\
14\r\n\x80\x00\x00\x00\x0fgrpc-status:0\r\n\r\n0\r\n\r\n";

    #[test]
    fn both_answers_pass() {
        check_response(WEIR).unwrap();
        check_response(TONIC).unwrap();
    }

    /// `bytes` with the first `from` (same length) replaced by `to`.
    fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        [&bytes[..at], to, &bytes[at + from.len()..]].concat()
    }

    #[test]
    fn failures_are_caught() {
        let failed = replaced(WEIR, b"grpc-status: 0", b"grpc-status: 2");
        assert!(check_response(&failed).unwrap_err().contains("grpc-status 2"));
        let not_found = replaced(TONIC, b"200 OK", b"404 Not Found");
        assert!(check_response(&not_found).is_err());
        let other = replaced(WEIR, b"Hello world", b"Hello there");
        assert!(check_response(&other).unwrap_err().contains("unexpected message"));
        assert!(check_response(b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web\r\n\r\n").is_err());
    }
}
