//! `interop-server --grpc_web` also serves gRPC-Web over HTTP/1.1 on its
//! port (what interop/node/web_client.js calls); without the flag an
//! HTTP/1.1 request gets no HTTP/1.1 answer. Both runtimes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server process, killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(runtime: &str, web: bool) -> (Server, u16) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    cmd.args(["--port", "0", "--runtime", runtime]).stderr(Stdio::piped());
    if web {
        cmd.arg("--grpc_web");
    }
    let mut child = cmd.spawn().expect("spawn interop-server");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut line).expect("read");
    let server = Server(child);
    let port = line.trim().rsplit(':').next().and_then(|p| p.parse().ok());
    (server, port.unwrap_or_else(|| panic!("no port in {line:?}")))
}

/// One gRPC-Web EmptyCall over HTTP/1.1 (`Connection: close`); everything
/// the server sent until it closed (or 10 s passed).
fn empty_call(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = "POST /grpc.testing.TestService/EmptyCall HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n\
                content-length: 5\r\nconnection: close\r\n\r\n";
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(&[0, 0, 0, 0, 0]).expect("write"); // an uncompressed, empty Empty
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out); // a reset after the server's answer is fine
    out
}

/// The body of an HTTP/1.1 response, chunked or not.
fn body(resp: &[u8]) -> Result<Vec<u8>, String> {
    let end = resp.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of the head")?;
    let (head, mut rest) = (String::from_utf8_lossy(&resp[..end]).to_ascii_lowercase(), &resp[end + 4..]);
    if !head.contains("transfer-encoding: chunked") {
        return Ok(rest.to_vec());
    }
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or("a cut chunk size line")?;
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size {line:?}: {e}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a cut chunk")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a cut chunk end")?;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn serves_grpc_web_only_with_the_flag(runtime: &str) {
    let (_server, port) = start(runtime, true);
    let out = empty_call(port);
    let text = String::from_utf8_lossy(&out);
    assert!(out.starts_with(b"HTTP/1.1 200"), "{runtime}, --grpc_web: answer {text:?}");
    assert!(
        contains(&out.to_ascii_lowercase(), b"application/grpc-web"),
        "{runtime}, --grpc_web: no grpc-web content type in {text:?}"
    );
    let body = body(&out).unwrap_or_else(|e| panic!("{runtime}, --grpc_web: {e} in {text:?}"));
    // The response message (an empty Empty), then the trailers frame (0x80).
    assert_eq!(body.get(..5), Some(&[0u8, 0, 0, 0, 0][..]), "{runtime}, --grpc_web: body {body:?}");
    let trailers = &body[5..];
    assert!(
        trailers.len() >= 5
            && trailers[0] == 0x80
            && u32::from_be_bytes([trailers[1], trailers[2], trailers[3], trailers[4]]) as usize
                == trailers.len() - 5,
        "{runtime}, --grpc_web: no trailers frame ending the body {body:?}"
    );
    let fields = String::from_utf8_lossy(&trailers[5..]).to_ascii_lowercase();
    assert!(
        fields.split("\r\n").any(|f| f.replace(' ', "") == "grpc-status:0"),
        "{runtime}, --grpc_web: trailers {fields:?}"
    );

    let (_server, port) = start(runtime, false);
    let out = empty_call(port);
    assert!(
        !out.starts_with(b"HTTP/1.1"),
        "{runtime}, no --grpc_web: an HTTP/1.1 answer {:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn grpc_web_flag_tokio() {
    serves_grpc_web_only_with_the_flag("tokio");
}

#[test]
fn grpc_web_flag_smol() {
    serves_grpc_web_only_with_the_flag("smol");
}
