//! Transparent retry: a hand-written HTTP/2 server that refuses streams
//! (RST_STREAM REFUSED_STREAM) or announces GOAWAY below them, then answers
//! later streams with a fixed OK response. Only frame headers are parsed;
//! the response header blocks are fixed HPACK bytes.

use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Buf, BytesMut};
use weir_rt::runtime::{Io, Net};
use weir_rt::{Code, Endpoint, Request};

use super::channel;

const PREFACE: usize = 24;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const DATA: u8 = 0;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 7;

/// How the fake server treats the streams it does not answer.
#[derive(Clone, Copy)]
enum Refusal {
    Reset,
    GoAway,
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// `:status: 200`, `content-type: application/grpc`; one message "ok";
/// trailers `grpc-status: 0`.
fn ok_response(stream: u32) -> Vec<u8> {
    let mut headers = vec![0x88, 0x0f, 0x10, 16];
    headers.extend_from_slice(b"application/grpc");
    let mut trailers = vec![0x00, 11];
    trailers.extend_from_slice(b"grpc-status");
    trailers.extend_from_slice(&[1, b'0']);
    let mut out = frame(HEADERS, END_HEADERS, stream, &headers);
    out.extend(frame(DATA, 0, stream, &[0, 0, 0, 0, 2, b'o', b'k']));
    out.extend(frame(HEADERS, END_HEADERS | END_STREAM, stream, &trailers));
    out
}

async fn write_all(io: &mut Box<dyn Io>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let n = std::future::poll_fn(|cx| io.poll_write_vectored(cx, &[IoSlice::new(data)])).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    std::future::poll_fn(|cx| io.poll_flush(cx)).await
}

/// Serves one connection: refuses streams while `refuse` allows, answers
/// the others. Counts every request stream in `streams`.
async fn serve_conn(mut io: Box<dyn Io>, mode: Refusal, refuse: Arc<AtomicUsize>, streams: Arc<AtomicUsize>) {
    if write_all(&mut io, &frame(SETTINGS, 0, 0, &[])).await.is_err() {
        return;
    }
    let mut buf = BytesMut::with_capacity(16 << 10);
    let mut preface_left = PREFACE;
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 << 10);
        }
        match std::future::poll_fn(|cx| io.poll_read_buf(cx, &mut buf)).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let skip = preface_left.min(buf.len());
        buf.advance(skip);
        preface_left -= skip;
        while buf.len() >= 9 {
            let len = (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            buf.advance(9 + len);
            let reply = match kind {
                SETTINGS if flags & 1 == 0 => frame(SETTINGS, 1, 0, &[]),
                HEADERS => {
                    streams.fetch_add(1, Ordering::SeqCst);
                    let refused =
                        refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                    match (refused, mode) {
                        (false, _) => ok_response(stream),
                        (true, Refusal::Reset) => frame(RST_STREAM, 0, stream, &REFUSED_STREAM.to_be_bytes()),
                        (true, Refusal::GoAway) => {
                            // Last processed stream: the one before this one.
                            let mut p = stream.saturating_sub(2).to_be_bytes().to_vec();
                            p.extend_from_slice(&0u32.to_be_bytes());
                            frame(GOAWAY, 0, 0, &p)
                        }
                    }
                }
                _ => continue,
            };
            if write_all(&mut io, &reply).await.is_err() {
                return;
            }
        }
    }
}

/// Starts the fake server; returns its URL and the request-stream counter.
async fn refusing_server<R: Net>(rt: &R, mode: Refusal, refuse: usize) -> (String, Arc<AtomicUsize>) {
    let mut listener =
        rt.bind_tcp("127.0.0.1:0".parse().unwrap(), weir_rt::TcpOptions::default()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let streams = Arc::new(AtomicUsize::new(0));
    let refuse = Arc::new(AtomicUsize::new(refuse));
    let (rt2, counted) = (rt.clone(), streams.clone());
    rt.spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            rt2.spawn(serve_conn(io, mode, refuse.clone(), counted.clone()));
        }
    });
    (url, streams)
}

pub async fn refused_stream_is_retried_transparently<R: Net + Default>(rt: R) {
    let (url, streams) = refusing_server(&rt, Refusal::Reset, 1).await;
    // No retry policy: the transparent retry is unconditional.
    let ch = channel::<R>(&url).await;
    let r = ch.unary("/any.Svc/Call", Request::new(bytes::Bytes::from_static(b"x"))).await.unwrap();
    assert_eq!(&r.into_inner()[..], b"ok");
    assert_eq!(streams.load(Ordering::SeqCst), 2, "refused once, then answered");
}

pub async fn stream_above_goaway_is_retried_transparently<R: Net + Default>(rt: R) {
    let (url, streams) = refusing_server(&rt, Refusal::GoAway, 1).await;
    let ch = Endpoint::<R>::new(&url).unwrap().connect().await.unwrap();
    let r = ch.unary("/any.Svc/Call", Request::new(bytes::Bytes::from_static(b"x"))).await.unwrap();
    assert_eq!(&r.into_inner()[..], b"ok");
    assert_eq!(streams.load(Ordering::SeqCst), 2, "left unprocessed once, then answered on a new connection");
}

pub async fn transparent_retry_happens_once<R: Net + Default>(rt: R) {
    let (url, streams) = refusing_server(&rt, Refusal::Reset, usize::MAX).await;
    let ch = channel::<R>(&url).await;
    let err = ch.unary("/any.Svc/Call", Request::new(bytes::Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    assert_eq!(streams.load(Ordering::SeqCst), 2, "one transparent retry, no more");
}
